"""The outbox (#19): notifications are written in the event's own transaction, to the right
people and endpoints; claiming hands each row to one worker; retries back off and end."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import select

from cgd_bridge.errors import Forbidden, UsageError
from cgd_bridge.store import outbox, submissions
from cgd_bridge.store.models import Delivery, OutboxItem, User

UTC = dt.UTC


def _rows(session) -> list[OutboxItem]:
    return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)).unique())


@pytest.fixture
def contacts(session, cast):
    people = (
        ("amina", "amina@sauti.example", "sw"),
        ("wanjiru", "wanjiru@knbs.example", None),
        ("juma", "juma@nbsx.example", None),
    )
    for name, email, lang in people:
        outbox.set_contact(session, username=name, email=email, language=lang)
    return cast


def test_each_transition_writes_its_notifications_in_its_own_transaction(session, contacts, make_version):
    cast = contacts
    knbs_hook = outbox.create_webhook(
        session, organisation="knbs", url="https://etl.knbs.example/hook", events=["*"], actor=cast.nso
    )
    assert knbs_hook.secret.startswith("whsec_")
    outbox.create_webhook(session, organisation="nbs-x", url="https://nbsx.example/h", events=["*"])
    sauti = outbox.create_webhook(
        session, organisation="sauti", url="https://sauti.example/h", events=["version.rejected"]
    )
    v = make_version(cast.cso, submit=True)
    rows = _rows(session)
    # the NSO without an MoU hears nothing; sauti subscribed to rejections only
    assert {(r.event, r.channel, r.recipient, r.webhook_id) for r in rows} == {
        ("version.submitted", "webhook", None, knbs_hook.webhook.id),
        ("version.submitted", "email", "wanjiru@knbs.example", None),
    }
    assert rows[0].payload["version"]["dataset"] == v.submission.dataset
    assert "OBS_VALUE" not in str(rows[0].payload)  # never data
    submissions.reject(session, principal=cast.nso, version_id=v.id, comment="Kilifi totals do not add up.")
    new = _rows(session)[len(rows) :]
    assert {(r.event, r.channel, r.recipient or r.webhook_id) for r in new} == {
        ("version.rejected", "webhook", knbs_hook.webhook.id),
        ("version.rejected", "webhook", sauti.webhook.id),
        ("version.rejected", "email", "amina@sauti.example"),
    }
    mail = next(r for r in new if r.channel == "email")
    assert mail.language == "sw"
    assert mail.payload["reason"] == "Kilifi totals do not add up."
    assert mail.payload["by"] == "Knbs"


def test_a_refused_transition_leaves_no_notification(session, contacts, make_version):
    cast = contacts
    v = make_version(cast.cso, submit=True)
    before = len(_rows(session))
    from cgd_bridge.errors import Conflict, NotFound

    with pytest.raises(NotFound):
        submissions.accept(session, principal=cast.nso_without, version_id=v.id)

    with pytest.raises(Conflict):
        submissions.publish(session, principal=cast.nso, version_id=v.id)  # not accepted yet
    assert len(_rows(session)) == before


def test_claim_gives_each_row_to_one_worker_and_a_lease_that_runs_out_frees_it(
    sessions, contacts, make_version
):
    make_version(contacts.cso, submit=True)  # one e-mail to wanjiru
    now = dt.datetime.now(UTC)
    lease = dt.timedelta(seconds=60)
    with sessions() as a, sessions() as b:
        first = outbox.claim(a, now=now, lease=lease)
        assert len(first) == 1
        assert outbox.claim(b, now=now, lease=lease) == []
        # the first worker died: once its lease runs out, the row is due again (at least once)
        again = outbox.claim(b, now=now + lease + dt.timedelta(seconds=1), lease=lease)
        assert [r.uid for r in again] == [first[0].uid]


def test_retries_back_off_with_jitter_and_end_as_failed(sessions, contacts, make_version):
    make_version(contacts.cso, submit=True)
    now = dt.datetime.now(UTC)
    with sessions() as s:
        for attempt in range(1, 4):
            (item,) = outbox.claim(s, now=now, lease=dt.timedelta(seconds=60))
            state = outbox.finish(s, item, ok=False, now=now, max_attempts=3, base_delay=10, error="HTTP 500")
            row = s.get(OutboxItem, item.id, populate_existing=True)
            assert row is not None
            assert row.attempts == attempt
            if attempt < 3:
                assert state == Delivery.PENDING
                wait = (row.next_attempt_at - now).total_seconds()
                assert 10 * 2 ** (attempt - 1) * 0.5 <= wait <= 10 * 2 ** (attempt - 1) + 1
                assert outbox.claim(s, now=now, lease=dt.timedelta(seconds=60)) == []  # not due yet
                now = row.next_attempt_at
            else:
                assert state == Delivery.FAILED
                assert row.last_error == "HTTP 500"
        assert outbox.claim(s, now=now + dt.timedelta(days=1), lease=dt.timedelta(seconds=60)) == []


def test_backoff_doubles_and_jitters():
    rng = random.Random(7)
    waits = [outbox.backoff(n, 1.0, rng=rng) for n in range(1, 6)]
    for n, w in enumerate(waits, start=1):
        assert 2 ** (n - 1) * 0.5 <= w <= 2 ** (n - 1)
    assert len({round(w / 2**n, 6) for n, w in enumerate(waits)}) > 1  # not all the same fraction
    assert outbox.backoff(40, 1.0, cap=100) <= 100


def test_webhook_events_and_urls_are_checked_and_other_orgs_are_refused(session, contacts):
    with pytest.raises(UsageError, match="not an event"):
        outbox.create_webhook(session, organisation="knbs", url="https://x.example", events=["data.pulled"])
    with pytest.raises(UsageError, match="http"):
        outbox.create_webhook(session, organisation="knbs", url="ftp://x.example", events=["*"])
    with pytest.raises(Forbidden):
        outbox.create_webhook(
            session, organisation="knbs", url="https://x.example", events=["*"], actor=contacts.cso
        )
    with pytest.raises(Forbidden):
        outbox.deliveries(session, organisation="knbs", actor=contacts.cso)


def test_contact_language_must_be_one_the_bridge_speaks(session, contacts):
    with pytest.raises(UsageError, match="language"):
        outbox.set_contact(session, username="amina", email=None, language="xx")
    user = outbox.set_contact(session, username="amina", email="", language="sw-KE")
    assert (user.email, user.language) == (None, "sw")
    assert session.scalar(select(User.email).where(User.username == "amina")) is None


def test_prune_keeps_pending_rows_and_recent_ones(sessions, contacts, make_version):
    make_version(contacts.cso, submit=True)
    make_version(contacts.cso, dataset="second", submit=True)
    now = dt.datetime.now(UTC)
    with sessions() as s:
        first, second = outbox.claim(s, now=now, lease=dt.timedelta(seconds=60))
        outbox.finish(s, first, ok=True, now=now, max_attempts=3, base_delay=1)
        assert outbox.prune(s, before=now - dt.timedelta(days=1)) == 0  # too recent
        assert outbox.prune(s, before=now + dt.timedelta(days=1)) == 1  # the delivered one
        (left,) = _rows(s)
        assert left.id == second.id  # pending: kept however old
