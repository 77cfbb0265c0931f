"""Quality-metadata drafts a CSO keeps on the server: save, list (who, when), resume, delete.

A draft is a record from the web metadata form (``/metadata``), possibly incomplete, owned by
the CSO organisation of whoever saved it. Its people see, change and delete the CSO's drafts;
admins see and delete them all. Anyone else is told there is no such draft (drafts may hold
unpublished details of a survey). Saving and deleting are audited (``metadata_draft.saved``,
``metadata_draft.deleted``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cgd_bridge.errors import Forbidden, NotFound, UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.store import audit
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import MetadataDraft, OrgKind, utcnow
from cgd_bridge.store.orgs import Principal

MAX_NAME = 200
MAX_DRAFTS = 200


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """The record as JSON can store it: dates and times (from a YAML file) as ISO text."""

    def default(value: Any) -> str:
        if isinstance(value, dt.date | dt.datetime | dt.time):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} in a metadata record")

    try:
        return dict(json.loads(json.dumps(record, default=default)))
    except TypeError as exc:
        raise UsageError(
            N_("the metadata record cannot be kept as a draft ({exc})"),
            fix=N_("Save it as a YAML file instead, and tell the platform administrator."),
            params={"exc": exc},
        ) from None


def name_of(record: dict[str, Any]) -> str:
    """The name a draft is listed by: the record's ``dataset.id``, else its title, else ``untitled``."""
    found = record.get("dataset")
    dataset: dict[str, Any] = found if isinstance(found, dict) else {}
    title = dataset.get("title")
    if isinstance(title, dict):
        title = next((str(t) for t in title.values() if t), None)
    name = str(dataset.get("id") or title or "untitled")
    return " ".join(name.split())[:MAX_NAME] or "untitled"


def _can_see(principal: Principal | None, draft: MetadataDraft) -> bool:
    return principal is not None and (principal.is_admin or principal.org_id == draft.organisation_id)


def get_draft(session: Session, *, principal: Principal | None, draft_id: int) -> MetadataDraft:
    """A draft of the principal's CSO (any draft for admins).

    Raises:
        NotFound: there is none with this id that the principal may see.
    """
    draft = session.get(MetadataDraft, draft_id)
    if draft is None or not _can_see(principal, draft):
        raise NotFound(
            N_("there is no metadata draft {draft_id} of your organisation"),
            fix=N_("Pick one from the list of saved drafts on the metadata form."),
            params={"draft_id": draft_id},
        )
    return draft


def _listed(stmt: Select[Any], principal: Principal) -> Select[Any]:
    """``stmt`` limited to the drafts :func:`list_drafts` gives the principal."""
    return stmt if principal.is_admin else stmt.where(MetadataDraft.organisation_id == principal.org_id)


def list_drafts(session: Session, *, principal: Principal | None) -> list[MetadataDraft]:
    """The drafts of the principal's CSO (all drafts for admins), the last saved first."""
    if principal is None:
        return []
    stmt = select(MetadataDraft).order_by(MetadataDraft.updated_at.desc(), MetadataDraft.id.desc())
    return list(session.scalars(_listed(stmt, principal)).unique())


def save_draft(
    session: Session, *, principal: Principal | None, record: dict[str, Any], draft_id: int | None = None
) -> MetadataDraft:
    """Save ``record`` as a new draft of the principal's CSO, or over the draft ``draft_id``.

    Raises:
        Forbidden: the principal is not of a CSO (only CSOs submit metadata).
        NotFound: ``draft_id`` is not one of the CSO's drafts.
        UsageError: the CSO already keeps :data:`MAX_DRAFTS` drafts.
    """
    if principal is None or principal.org_kind != OrgKind.CSO:
        raise Forbidden(
            N_("only the people of a CSO keep metadata drafts on the server"),
            fix=N_("Sign in with your CSO account, or save the record as a YAML file."),
        )
    now = utcnow()
    record = _plain(record)
    with transaction(session):
        if draft_id is not None:
            draft = get_draft(session, principal=principal, draft_id=draft_id)
            if draft.organisation_id != principal.org_id:
                raise NotFound(
                    N_("there is no metadata draft {draft_id} of your organisation"),
                    fix=N_("Save a new one."),
                    params={"draft_id": draft_id},
                )
            draft.record = record
            draft.name = name_of(record)
            draft.updated_by_id = principal.user_id
            draft.updated_at = now
        else:
            count = session.scalar(_listed(select(func.count()).select_from(MetadataDraft), principal)) or 0
            if count >= MAX_DRAFTS:
                raise UsageError(
                    N_("your organisation keeps {count} metadata drafts, the most the server keeps"),
                    fix=N_("Delete the drafts you no longer need, then save again."),
                    params={"count": count},
                )
            draft = MetadataDraft(
                organisation_id=principal.org_id,
                name=name_of(record),
                record=record,
                created_by_id=principal.user_id,
                created_at=now,
                updated_by_id=principal.user_id,
                updated_at=now,
            )
            session.add(draft)
        session.flush()
        audit.add(
            session,
            action="metadata_draft.saved",
            principal=principal,
            details={"draft": draft.id, "name": draft.name},
        )
    return draft


def delete_draft(session: Session, *, principal: Principal | None, draft_id: int) -> MetadataDraft:
    """Delete a draft of the principal's CSO (admins: any draft)."""
    with transaction(session):
        draft = get_draft(session, principal=principal, draft_id=draft_id)
        audit.add(
            session,
            action="metadata_draft.deleted",
            principal=principal,
            details={"draft": draft.id, "name": draft.name, "organisation": draft.organisation.slug},
        )
        session.delete(draft)
    return draft
