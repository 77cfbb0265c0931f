"""Access decisions kept per state of the store: still right on the very next request (SQLite, PostgreSQL).

The server authenticates keys and applies the access policy once per value of the store's
change counter (server/access_cache.py) and writes pull records in batches
(server/audit_writer.py). These tests change the store behind a warm server, through the
store's functions and by hand-written SQL, and check that the next request sees it; that an
embargo ends by the clock alone; that a cached pull runs no SQL statement but the counter's;
and that no pull record is lost.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text

from cgd_bridge.server.access_cache import _CoalescedReader
from cgd_bridge.server.app import create_app
from cgd_bridge.server.audit_writer import AuditWriter, PulledVersion
from cgd_bridge.settings import Settings
from cgd_bridge.store import db, generation, mous, orgs, submissions
from cgd_bridge.store.models import AuditEntry
from cgd_bridge.store.orgs import Principal
from tests.unit.server.conftest import CSV, World, one_series
from tests.unit.server.conftest import publish as _publish


def test_a_revoked_key_is_refused_on_the_next_request(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        _publish(session, kenya, world.producer, world.reviewer, "open")
    assert world.get(world.series, "kamau") == 200
    assert world.get(world.series, "kamau") == 200  # now answered from the snapshot
    with world.bridge.sessions() as session:
        orgs.revoke_key(session, prefix=orgs.key_prefix(world.keys["kamau"]))
    assert world.get(world.series, "kamau") == 401
    assert world.get(world.series) == 200  # the data itself is open


def test_a_deactivated_user_by_hand_written_sql_is_refused(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        _publish(session, kenya, world.producer, world.reviewer, "open")
    assert world.get(world.series, "kamau") == 200
    with world.bridge.engine.begin() as c:  # an operator's SQL, not a store function
        c.execute(text("UPDATE users SET active = :no WHERE username = 'kamau'"), {"no": False})
    assert world.get(world.series, "kamau") == 401


def test_a_withdrawal_hides_the_data_on_the_next_request(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        v = _publish(session, kenya, world.producer, world.reviewer, "open")
    assert world.get(world.series) == 200
    assert world.get(world.series) == 200
    with world.bridge.sessions() as session:
        submissions.withdraw(session, principal=world.producer, version_id=v, reason="a mistake")
    assert world.get(world.series) == 404
    assert world.get(world.series, "kamau") == 404


def test_an_mou_revocation_counts_from_the_next_request(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        _publish(session, kenya, world.producer, world.reviewer, "restricted", is_open=False)
    assert world.get(world.series) == 401
    assert world.get(world.series, "kamau") == 200
    with world.bridge.sessions() as session:
        mous.revoke_mou(session, mou_id=world.mou_id)
    assert world.get(world.series, "kamau") == 403
    assert world.get(world.series, "amina") == 200  # the producer always reads its own


def test_an_embargo_ends_by_the_clock_with_no_write(world: World, kenya) -> None:
    ends = world.clock() + dt.timedelta(hours=1)
    with world.bridge.sessions() as session:
        _publish(session, kenya, world.producer, world.reviewer, "embargoed", embargo_until=ends)
        counter = generation.read(session)
    assert world.get(world.series) == 404  # embargoed data is invisible, not forbidden
    assert world.get(world.series, "kamau") == 200  # MoU reviewers see it before
    assert world.get(world.series) == 404  # still, from the snapshot
    world.clock.advance(ends - world.clock() + dt.timedelta(seconds=1))  # the server's clock passes it
    assert world.get(world.series) == 200
    with world.bridge.sessions() as session:
        assert generation.read(session) == counter  # nothing was written: the clock alone


def test_a_cached_pull_runs_only_the_counter_query(world: World, kenya, monkeypatch) -> None:
    with world.bridge.sessions() as session:
        _publish(session, kenya, world.producer, world.reviewer, "open")
    statements: list[str] = []
    reads: list[str] = []
    read_raw = generation.read_raw
    query = _CoalescedReader._query

    def counted_raw(connection):
        reads.append("sqlite")
        return read_raw(connection)

    async def counted_async(self):
        reads.append("postgresql")
        return await query(self)

    monkeypatch.setattr(generation, "read_raw", counted_raw)
    monkeypatch.setattr(_CoalescedReader, "_query", counted_async)
    event.listen(world.bridge.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert world.get(world.series, "kamau") == 200  # warms the snapshot
    statements.clear()
    reads.clear()
    for _ in range(3):
        assert world.get(world.series, "kamau") == 200
    assert reads == [world.bridge.engine.dialect.name] * 3  # the PostgreSQL reader is asyncio's
    assert [s for s in statements if "audit" not in s] == []  # pull records come from the writer thread


def test_concurrent_requests_share_counter_reads(monkeypatch) -> None:
    """PostgreSQL's reader: requests arriving while a read is in flight share the next one,
    which starts after they came (so each sees what was committed before it)."""
    import asyncio

    from sqlalchemy import create_engine

    reader = _CoalescedReader(create_engine("postgresql+psycopg://nobody@127.0.0.1/none"))
    started: list[int] = []  # the reads that began, in order
    release: list[asyncio.Event] = []  # each read answers once the test sets its event

    async def held_query(self):
        n = len(started)
        started.append(n)
        await release[n].wait()
        return n

    monkeypatch.setattr(_CoalescedReader, "_query", held_query)

    async def main() -> list[int]:
        release.extend(asyncio.Event() for _ in range(2))
        arrived = 0

        async def latecomer() -> int:
            nonlocal arrived
            arrived += 1  # read() asks for its read in this same step, before its first await
            return await reader.read()

        first = asyncio.create_task(reader.read())
        while not started:  # the first read is in flight
            await asyncio.sleep(0)
        rest = [asyncio.create_task(latecomer()) for _ in range(20)]
        while arrived < 20:
            await asyncio.sleep(0)
        assert started == [0]  # the next read waits for the one in flight to end
        release[0].set()
        assert await first == 0
        while len(started) < 2:
            await asyncio.sleep(0)
        release[1].set()
        return [await t for t in rest]

    got = asyncio.run(asyncio.wait_for(main(), 60))  # the waits above are bounded by this
    assert got == [1] * 20  # the 20 latecomers share one read that began after they came
    assert started == [0, 1]


def test_every_pull_is_in_the_log_at_once_and_after_shutdown(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        _publish(session, kenya, world.producer, world.reviewer, "open")
    for _ in range(5):
        assert world.get(world.series, "kamau") == 200
    assert world.get(world.series.replace("KE_042", "KE_999"), "kamau") == 404
    pulls = world.client.get(
        "/api/organisations/sauti/pulls", headers={"Authorization": f"Bearer {world.keys['amina']}"}
    ).json()
    assert [p["organisation"] for p in pulls].count("knbs") == 5  # no wait: the endpoint flushes


def test_queued_pull_records_are_written_on_shutdown(tmp_path: Path, kenya) -> None:
    url = f"sqlite:///{tmp_path / 'shutdown.sqlite'}"
    settings = Settings(data_dir=tmp_path, rate_limit_per_minute=0, audit_interval_seconds=5.0)
    app = create_app(settings, database_url=url)
    with TestClient(app) as client:
        bridge = app.state.bridge
        with bridge.sessions() as session:
            orgs.create_organisation(session, slug="sauti", name="Sauti", kind="cso")
            orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
            orgs.create_user(session, username="amina", organisation="sauti", role="submitter")
            orgs.create_user(session, username="kamau", organisation="knbs", role="reviewer")
            producer = Principal.of(orgs.get_user(session, username="amina"))
            reviewer = Principal.of(orgs.get_user(session, username="kamau"))
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
            mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=until)
            _publish(session, kenya, producer, reviewer, "open")
        for _ in range(7):
            assert client.get(one_series(kenya), headers=CSV).status_code == 200
    engine = db.make_engine(url)
    with engine.connect() as c:
        n = c.execute(select(func.count()).where(AuditEntry.action == "data.pulled")).scalar()
    engine.dispose()
    assert n == 7


def test_the_writer_keeps_a_refused_batch_and_retries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'late.sqlite'}"
    engine = db.make_engine(url)  # no tables yet: the first commits fail
    writer = AuditWriter(engine, interval=0.01)
    refused = threading.Semaphore(0)
    insert = writer._insert

    def counted(*args):
        try:
            return insert(*args)
        except Exception:
            refused.release()
            raise

    writer._insert = counted  # type: ignore[method-assign]
    try:
        writer.pull(None, [], "/sdmx/rest/data/DF_A", client="10.0.0.1")
        writer.pull(None, [], "/sdmx/rest/data/DF_B")
        for _ in range(3):  # a few refused attempts
            assert refused.acquire(timeout=60), "the writer stopped trying"
        db.upgrade(engine)
        assert writer.flush(timeout=60)
        with engine.connect() as c:
            rows = c.execute(select(AuditEntry.query, AuditEntry.client).order_by(AuditEntry.id)).all()
        assert [tuple(r) for r in rows] == [
            ("/sdmx/rest/data/DF_A", "10.0.0.1"),
            ("/sdmx/rest/data/DF_B", None),
        ]
    finally:
        writer.close()
        engine.dispose()


def test_a_row_naming_a_missing_version_does_not_block_the_log(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'fk.sqlite'}")
    db.upgrade(engine)
    writer = AuditWriter(engine, interval=0.01)
    try:
        writer.pull(None, [(PulledVersion(99, 98, "A:DF(1.0)"), 3)], "/sdmx/rest/data/DF")  # no version 99
        writer.pull(None, [], "/sdmx/rest/data/OTHER")
        assert writer.flush(timeout=15)
        with engine.connect() as c:
            rows = c.execute(
                select(AuditEntry.query, AuditEntry.version_id, AuditEntry.details).order_by(AuditEntry.id)
            ).all()
        assert [tuple(r) for r in rows] == [
            ("/sdmx/rest/data/DF", None, {"missing": {"submission_id": 98, "version_id": 99}}),
            ("/sdmx/rest/data/OTHER", None, None),
        ]
    finally:
        writer.close()
        engine.dispose()


def test_a_cached_key_still_records_its_last_use(world: World, kenya) -> None:
    """Keys' last_used_at is set at most once a minute, also when the key comes from the snapshot."""
    from cgd_bridge.server.access_cache import key_digest
    from cgd_bridge.store.models import ApiKey

    with world.bridge.sessions() as session:
        _publish(session, kenya, world.producer, world.reviewer, "open")
    prefix = orgs.key_prefix(world.keys["kamau"])

    def last_used() -> dt.datetime | None:
        with world.bridge.sessions() as session:
            return session.scalar(select(ApiKey.last_used_at).where(ApiKey.prefix == prefix))

    assert world.get(world.series, "kamau") == 200  # authenticated by the store: sets it
    first = last_used()
    assert first is not None
    assert world.get(world.series, "kamau") == 200  # from the snapshot, within the minute: not again
    assert world.bridge.audit.flush()
    assert last_used() == first
    # a minute later (moved back by hand rather than waited for)
    snap = world.bridge.access._snapshot
    entry = snap.principals[key_digest(world.keys["kamau"])]
    entry.touched -= dt.timedelta(minutes=2)
    with world.bridge.engine.begin() as c:
        c.execute(text("UPDATE api_keys SET last_used_at = :t"), {"t": first - dt.timedelta(minutes=2)})
    assert world.get(world.series, "kamau") == 200
    assert world.bridge.audit.flush()
    assert last_used() > first


def test_an_unreachable_database_is_a_store_error_and_the_reader_recovers() -> None:
    """The counter's reader answers 503 (StoreError) while PostgreSQL is unreachable, every time."""
    import asyncio

    import pytest
    from sqlalchemy import create_engine

    from cgd_bridge.errors import StoreError

    reader = _CoalescedReader(create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))

    async def main() -> None:
        for _ in range(2):  # the failed connection is dropped; the next read tries again
            with pytest.raises(StoreError, match=r"(?i)could not read its database"):
                await reader.read()
        assert reader._conn is None

    asyncio.run(main())


def test_a_flush_does_not_wait_for_the_batch_interval(tmp_path: Path) -> None:
    """The batch waits up to its interval for more rows, but a flush (before a pull-log read)
    or a stop commits at once: with an hour's interval the flush still returns."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'flush.sqlite'}")
    db.upgrade(engine)
    writer = AuditWriter(engine, interval=3600)
    try:
        writer.pull(None, [], "/sdmx/rest/data/DF")
        assert writer.flush(timeout=60)
        with engine.connect() as c:
            assert c.execute(select(func.count()).select_from(AuditEntry)).scalar() == 1
    finally:
        writer.close()
    assert not writer._thread.is_alive()


def test_concurrent_misses_of_one_key_are_computed_once(world: World) -> None:
    """A burst of queries on a cold server gathers the data once, not once per request: the
    first thread computes, the others take its answer (they held 1.9 GB at 32 connections)."""
    from cgd_bridge.server.access_cache import Readable

    access = world.bridge.access
    snap = access.snapshot()
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def compute(session: object) -> Readable:
        calls.append(1)
        started.set()
        release.wait(10)
        return Readable((), None, None)

    results: list[Readable] = []
    threads = [
        threading.Thread(target=lambda: results.append(access.resolve(snap, ("k",), compute)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    assert started.wait(10)
    release.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1
    assert len(results) == 8
    assert all(r is results[0] for r in results)
    # another key is computed on its own
    access.resolve(snap, ("other",), compute)
    assert len(calls) == 2
