"""The change counter (migration 0002) and the next instant access changes by the clock (SQLite, PostgreSQL).

The server keeps its access decisions while the counter stays put (server/access_cache.py), so
a tracked change that did not move it would leave a revoked key or a withdrawn version
readable: these tests pin which writes move it and which do not.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from cgd_bridge.store import audit, generation, mous, orgs, submissions
from cgd_bridge.store.models import ApiKey, AuditEntry, Version

UTC = dt.UTC


def test_every_write_the_policy_reads_moves_the_counter(session: Session, cast, make_version) -> None:
    def moves(action) -> bool:
        before = generation.read(session)
        action()
        session.commit()
        return generation.read(session) > before

    assert moves(lambda: orgs.create_organisation(session, slug="new-cso", name="New", kind="cso"))
    assert moves(lambda: orgs.create_user(session, username="neo", organisation="new-cso", role="submitter"))
    created = orgs.create_key(session, username="neo")
    assert moves(lambda: orgs.revoke_key(session, prefix=orgs.key_prefix(created.key)))
    mou = mous.create_mou(
        session,
        cso="new-cso",
        nso="knbs",
        dataflows=["*"],
        valid_until=dt.datetime.now(UTC) + dt.timedelta(1),
    )
    assert moves(lambda: mous.revoke_mou(session, mou_id=mou.id))
    v = make_version(cast.cso, submit=True)  # submission + version rows
    assert moves(lambda: submissions.withdraw(session, principal=cast.cso, version_id=v.id, reason="test"))
    # a write by hand (an operator's SQL) counts too: the triggers are in the database
    assert moves(lambda: session.execute(update(Version).where(Version.id == v.id).values(licence="CC0-1.0")))
    assert moves(lambda: session.execute(text("DELETE FROM mous WHERE id = :id"), {"id": mou.id}))


def test_key_use_and_the_audit_log_do_not_move_it(session: Session, cast) -> None:
    orgs.create_user(session, username="user1", organisation="knbs", role="reviewer")
    plain = orgs.create_key(session, username="user1").key
    before = generation.read(session)
    now = dt.datetime.now(UTC)
    assert orgs.authenticate_key(session, plain, now=now) is not None  # sets last_used_at
    assert session.scalar(ApiKey.__table__.select().with_only_columns(ApiKey.last_used_at)) is not None
    session.execute(insert(AuditEntry).values(at=now, action="data.pulled", observations=3))
    audit.record(session, action="metadata.pulled", principal=None, query="/sdmx/rest/metadata/x")
    session.commit()
    assert generation.read(session) == before


def test_a_rolled_back_change_leaves_it(session: Session, cast) -> None:
    before = generation.read(session)
    orgs.create_organisation(session, slug="ghost", name="Ghost", kind="cso")
    session.rollback()  # create_organisation committed: undo by hand in a new transaction instead
    session.execute(text("DELETE FROM organisations WHERE slug = 'ghost'"))
    session.rollback()
    assert generation.read(session) == before + 1  # the insert committed, the delete did not


def test_the_counter_moves_only_at_commit(sessions: sessionmaker[Session], cast) -> None:
    with sessions() as writer, sessions() as reader:
        before = generation.read(reader)
        reader.rollback()
        writer.execute(update(Version).values(licence="x"))  # no versions: still a statement
        writer.execute(text("UPDATE organisations SET name = name || '!' WHERE slug = 'knbs'"))
        assert generation.read(reader) == before  # not committed yet: not visible
        reader.rollback()
        writer.commit()
        assert generation.read(reader) > before


def test_next_change_is_the_first_future_time(session: Session, cast, make_version) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    assert generation.next_change(session, now) is None or generation.next_change(session, now) > now
    mous.create_mou(
        session, cso="sauti", nso="nbs-x", dataflows=["*"],
        valid_from=now + dt.timedelta(hours=5), valid_until=now + dt.timedelta(days=9),
    )  # fmt: skip
    make_version(cast.cso, submit=True, embargo_until=now + dt.timedelta(hours=2))
    orgs.create_user(session, username="temp", organisation="knbs", role="reviewer")
    orgs.create_key(session, username="temp", expires_at=now + dt.timedelta(hours=1, minutes=30))
    found = generation.next_change(session, dt.datetime.now(UTC))  # MoUs made above start before now
    assert found == now + dt.timedelta(hours=1, minutes=30)
    assert generation.next_change(session, now + dt.timedelta(hours=1, minutes=31)) == now + dt.timedelta(
        hours=2
    )
    assert found.tzinfo is not None
