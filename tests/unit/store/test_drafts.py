"""Metadata drafts kept on the server (#5): saved per CSO, listed with who and when, resumed,
updated, deleted; other organisations never see them. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cgd_bridge.errors import Forbidden, NotFound
from cgd_bridge.store import drafts
from cgd_bridge.store.models import AuditEntry
from tests.unit.store.conftest import Cast

RECORD = {
    "profile": "cgd-quality/1.0",
    "dataset": {"id": "ke-health-scorecard-2024", "title": {"en": "Scorecard"}},
}


def test_a_cso_saves_lists_resumes_updates_and_deletes_a_draft(session: Session, cast: Cast) -> None:
    d = drafts.save_draft(session, principal=cast.cso, record=RECORD)
    assert d.name == "ke-health-scorecard-2024"
    assert d.created_by is not None
    assert d.created_by.username == "amina"
    listed = drafts.list_drafts(session, principal=cast.cso)
    assert [x.id for x in listed] == [d.id]
    assert drafts.get_draft(session, principal=cast.cso, draft_id=d.id).record == RECORD
    changed = {**RECORD, "dataset": {"id": "ke-2025"}}
    again = drafts.save_draft(session, principal=cast.cso, record=changed, draft_id=d.id)
    assert again.id == d.id
    assert again.name == "ke-2025"
    assert again.updated_at >= again.created_at
    assert len(drafts.list_drafts(session, principal=cast.cso)) == 1
    drafts.delete_draft(session, principal=cast.cso, draft_id=d.id)
    assert drafts.list_drafts(session, principal=cast.cso) == []
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["metadata_draft.saved", "metadata_draft.saved", "metadata_draft.deleted"]


def test_other_organisations_never_see_a_draft(session: Session, cast: Cast) -> None:
    d = drafts.save_draft(session, principal=cast.cso, record=RECORD)
    for who in (cast.other_cso, cast.nso, None):
        assert drafts.list_drafts(session, principal=who) == []
        with pytest.raises(NotFound):
            drafts.get_draft(session, principal=who, draft_id=d.id)
        with pytest.raises((NotFound, Forbidden)):
            drafts.delete_draft(session, principal=who, draft_id=d.id)
    with pytest.raises(NotFound):
        drafts.save_draft(session, principal=cast.other_cso, record={}, draft_id=d.id)
    assert drafts.get_draft(session, principal=cast.cso, draft_id=d.id).record == RECORD
    assert [x.id for x in drafts.list_drafts(session, principal=cast.admin)] == [d.id]


def test_only_csos_save_drafts(session: Session, cast: Cast) -> None:
    for who in (cast.nso, cast.admin, None):
        with pytest.raises(Forbidden, match="people of a CSO keep metadata drafts"):
            drafts.save_draft(session, principal=who, record=RECORD)


def test_a_draft_without_a_dataset_id_is_named_by_its_title_or_untitled() -> None:
    assert drafts.name_of({"dataset": {"title": {"en": "Youth survey"}}}) == "Youth survey"
    assert drafts.name_of({}) == "untitled"


def test_dates_of_a_yaml_record_are_kept_as_iso_text(session: Session, cast: Cast) -> None:
    import datetime as dt

    record = {"dataset": {"id": "x"}, "collection": {"start": dt.date(2024, 11, 14)}}
    d = drafts.save_draft(session, principal=cast.cso, record=record)
    session.expire_all()
    assert drafts.get_draft(session, principal=cast.cso, draft_id=d.id).record["collection"] == {
        "start": "2024-11-14"
    }
