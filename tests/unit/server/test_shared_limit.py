"""The per-key rate limit holds across workers: shared one-minute windows in the database.

Unit tests drive :class:`SharedRateLimiter` with an injected clock and call ``sync_now()`` where a
worker's thread would; the app tests run two apps (two "workers") on one database, on SQLite and
PostgreSQL, with one stopped clock (``create_app(clock=...)``), so no window ends during a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from cgd_bridge.server.app import create_app
from cgd_bridge.server.ratelimit import SharedRateLimiter
from cgd_bridge.settings import Settings
from cgd_bridge.store import orgs
from cgd_bridge.store.db import make_engine, upgrade
from cgd_bridge.store.models import RateUsage
from tests.support.clock import ManualClock
from tests.support.postgres import fresh_schema

T0 = 60 * 29_000_000 + 10.0  # 10 s into a window (in 2025)


@dataclass
class Clock:
    t: float = T0

    def __call__(self) -> float:
        return self.t


def _database(kind: str, tmp_path: Path) -> contextlib.AbstractContextManager[str | None]:
    return fresh_schema("cgdb_rate") if kind == "postgresql" else contextlib.nullcontext()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with _database(request.param, tmp_path) as pg:
        url = pg or f"sqlite:///{tmp_path / 'rate.sqlite'}"
        upgrade(url)
        eng = make_engine(url)
        try:
            yield eng
        finally:
            eng.dispose()


def usage(engine: Engine) -> dict[str, int]:
    """identity -> the total of all its stored windows (read on an engine of its own)."""
    totals: dict[str, int] = {}
    reader = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with Session(reader) as session:
            for row in session.execute(select(RateUsage)).scalars():
                totals[row.identity] = totals.get(row.identity, 0) + row.count
    finally:
        reader.dispose()
    return totals


def workers(engine: Engine, clock: Clock, n: int = 2, limit: int = 10) -> list[SharedRateLimiter]:
    return [SharedRateLimiter(limit, engine, clock=clock, start=False) for _ in range(n)]


# -- the limiter, with an injected clock --------------------------------------------------------------


def test_two_workers_share_the_window(engine: Engine) -> None:
    clock = Clock()
    a, b = workers(engine, clock)
    # each alone is below the limit: 6 + 4 all pass before they hear of each other
    assert all(a.allow("key")[0] for _ in range(6))
    assert all(b.allow("key")[0] for _ in range(4))
    assert a.sync_now()
    assert b.sync_now()
    assert a.sync_now()
    assert usage(engine) == {"key": 10}
    for worker in (a, b):
        allowed, wait = worker.allow("key")
        assert not allowed
        assert wait == pytest.approx(50.0)  # the shared count is the reason: the end of the window
    assert a.allow("another")[0]
    assert b.allow("another")[0]
    clock.t = T0 + 50.0  # the next window
    assert a.allow("key") == (True, 0.0)
    assert b.allow("key") == (True, 0.0)


def test_a_worker_counts_its_unreported_requests(engine: Engine) -> None:
    clock = Clock()
    (a,) = workers(engine, clock, n=1)
    assert all(a.allow("key")[0] for _ in range(10))
    assert a.allow("key") == (False, pytest.approx(50.0))  # before any sync
    assert a.sync_now()
    assert a.allow("key")[0] is False
    assert usage(engine) == {"key": 10}  # refused requests are not counted


def test_other_workers_are_seen_after_one_sync(engine: Engine) -> None:
    """The documented lag: a worker decides on the total it read at its last sync, so the
    aggregate may exceed the limit by what the others allowed since they last reported."""
    clock = Clock()
    a, b = workers(engine, clock)
    assert all(a.allow("key")[0] for _ in range(8))
    assert a.sync_now()
    assert b.allow("key")[0]  # b has not synced since a's requests: it knows 0 (+ 1 of its own)
    assert b.sync_now()  # now it knows 9
    assert b.allow("key")[0]  # the 10th, not yet reported
    assert not b.allow("key")[0]
    assert a.sync_now()  # a knows 9: b's 10th is within b's next sync interval
    assert a.allow("key")[0]  # the overshoot: 11
    assert not a.allow("key")[0]
    assert b.sync_now()
    assert a.sync_now()
    assert usage(engine) == {"key": 11}
    assert not a.allow("key")[0]
    assert not b.allow("key")[0]


def test_a_worker_knows_every_total_from_its_start(engine: Engine) -> None:
    """A key that used its minute elsewhere is refused from its first request to a new worker."""
    clock = Clock()
    (a,) = workers(engine, clock, n=1)
    assert all(a.allow("key")[0] for _ in range(10))
    assert a.sync_now()
    late = SharedRateLimiter(10, engine, clock=clock, interval=3600)  # its thread will not sync
    try:
        assert late.allow("key") == (False, pytest.approx(50.0))
        assert late.allow("another")[0]
    finally:
        late.close()


def test_the_bucket_limits_bursts_across_a_window_boundary(engine: Engine) -> None:
    clock = Clock(T0 + 49.5)  # half a second before the window ends
    (a,) = workers(engine, clock, n=1, limit=60)
    assert all(a.allow("key")[0] for _ in range(60))
    assert a.sync_now()
    clock.t = T0 + 50.0  # a new window: the shared count allows, the bucket (half a token) does not
    allowed, wait = a.allow("key")
    assert not allowed
    assert wait == pytest.approx(0.5)  # the bucket's wait, not a whole window
    clock.t = T0 + 51.0
    assert a.allow("key")[0]


def test_a_database_failure_never_blocks_requests(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    a, b = workers(engine, clock)
    assert all(a.allow("key")[0] for _ in range(3))
    with engine.begin() as c:
        c.execute(text("ALTER TABLE rate_usage RENAME TO rate_usage_away"))
    try:
        with caplog.at_level(logging.ERROR, logger="cgd_bridge.server.ratelimit"):
            assert a.sync_now() is False
        assert "could not share the rate-limit counts" in caplog.text
        # requests are still decided, locally: the counts are kept, the limit still holds here
        assert all(a.allow("key")[0] for _ in range(7))
        assert a.allow("key") == (False, pytest.approx(50.0))
        assert a.sync_now() is False
    finally:
        with engine.begin() as c:
            c.execute(text("ALTER TABLE rate_usage_away RENAME TO rate_usage"))
    assert a.sync_now() is True
    assert usage(engine) == {"key": 10}  # nothing lost, nothing counted twice
    assert b.sync_now()
    assert not b.allow("key")[0]


def test_old_windows_are_deleted(engine: Engine) -> None:
    clock = Clock()
    (a,) = workers(engine, clock, n=1)
    assert a.allow("old")[0]
    assert a.sync_now()
    clock.t = T0 + 70.0  # the next window: the previous one is kept for two minutes
    assert a.allow("new")[0]
    assert a.sync_now()
    assert usage(engine) == {"old": 1, "new": 1}
    clock.t = T0 + 200.0  # the window 'new' ended 80 s ago: kept
    assert a.allow("newer")[0]
    assert a.sync_now()
    assert usage(engine) == {"new": 1, "newer": 1}
    clock.t = T0 + 250.0  # it started more than two minutes before the current one: deleted
    assert a.allow("newer")[0]
    assert a.sync_now()
    assert usage(engine) == {"newer": 2}


def test_close_sends_what_is_left(engine: Engine) -> None:
    a = SharedRateLimiter(10, engine)
    assert a._thread is not None
    assert a._thread.is_alive()
    assert all(a.allow("key")[0] for _ in range(2))
    a.close()
    assert not a._thread.is_alive()
    assert usage(engine) == {"key": 2}


def test_the_thread_shares_the_counts(engine: Engine) -> None:
    a = SharedRateLimiter(10, engine, interval=0.01)
    try:
        assert all(a.allow("key")[0] for _ in range(3))
        deadline = time.monotonic() + 60
        while usage(engine) != {"key": 3} and time.monotonic() < deadline:
            time.sleep(0.01)
        assert usage(engine) == {"key": 3}
    finally:
        a.close()


def test_a_burst_at_every_worker_overshoots_by_at_most_a_share_each(engine: Engine) -> None:
    """Six workers (three hosts of two) hit in turn, faster than any thread syncs (there is none):
    without shares each would allow the whole limit; with them, each reports its share before
    it allows more, so the total stays within the limit plus one share per other worker."""
    clock = Clock()
    limit, n = 40, 6
    unshared = workers(engine, clock, n=n, limit=limit)
    assert sum(w.allow("old")[0] for _ in range(limit) for w in unshared) == n * limit  # the old way

    shared = workers(engine, clock, n=n, limit=limit)

    async def burst() -> int:
        return sum([(await w.aallow("key"))[0] for _ in range(limit) for w in shared])

    allowed = asyncio.run(burst())
    assert limit <= allowed <= limit + (n - 1) * shared[0].share(0), allowed
    for w in shared:
        assert w.sync_now()
    assert usage(engine)["key"] == allowed  # every allowed request counted once
    assert not any(asyncio.run(w.aallow("key"))[0] for w in shared)


def test_concurrent_requests_share_exchanges_and_keep_the_bound(engine: Engine) -> None:
    """Requests that arrive at once (in one event loop, as in a worker) wait for exchanges
    together; three workers hit with 60 concurrent requests each stay within the bound."""
    clock = Clock()
    limit, n = 40, 3
    shared = workers(engine, clock, n=n, limit=limit)

    async def storm() -> list[tuple[bool, float]]:
        return await asyncio.gather(*(w.aallow("key") for _ in range(60) for w in shared))

    answers = asyncio.run(storm())
    allowed = sum(ok for ok, _ in answers)
    assert limit <= allowed <= limit + (n - 1) * shared[0].share(0), allowed
    assert all(wait > 0 for ok, wait in answers if not ok)  # every refusal says how long to wait
    for w in shared:
        assert w.sync_now()
    assert usage(engine)["key"] == allowed
    assert sum(w._syncs_started for w in shared) < len(answers)  # waiting requests shared exchanges


def test_a_worker_that_cannot_reach_the_database_decides_without_shares(engine: Engine) -> None:
    clock = Clock()
    (a,) = workers(engine, clock, n=1, limit=10)
    with engine.begin() as c:
        c.execute(text("ALTER TABLE rate_usage RENAME TO rate_usage_away"))
    try:
        # the first exchange fails (logged); from then on the worker decides alone, as before
        assert [asyncio.run(a.aallow("key"))[0] for _ in range(11)] == [True] * 10 + [False]
    finally:
        with engine.begin() as c:
            c.execute(text("ALTER TABLE rate_usage_away RENAME TO rate_usage"))
    assert a.sync_now()
    assert usage(engine) == {"key": 10}


def test_limit_zero_turns_everything_off(engine: Engine) -> None:
    off = SharedRateLimiter(0, engine)
    assert off._thread is None
    assert all(off.allow("key") == (True, 0.0) for _ in range(100))
    assert off.sync_now()
    off.close()
    assert usage(engine) == {}


# -- two apps on one database ------------------------------------------------------------------------


@dataclass
class Workers:
    a: TestClient
    b: TestClient
    apps: tuple[Any, Any]
    keys: dict[str, str]

    def limiters(self) -> list[SharedRateLimiter]:
        return [app.state.bridge.limiter for app in self.apps]

    def sync(self) -> None:
        """What the threads do within two intervals: every worker reports, then every one reads."""
        for limiter in self.limiters() * 2:
            assert limiter.sync_now()

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workers]:
    with _database(request.param, tmp_path) as pg:
        url = pg or f"sqlite:///{tmp_path / 'shared.sqlite'}"
        settings = Settings(data_dir=tmp_path, rate_limit_per_minute=10)
        clock = ManualClock(at=dt.datetime.fromtimestamp(T0, dt.UTC))  # stopped, 50 s before the window ends
        apps = (
            create_app(settings, database_url=url, clock=clock),
            create_app(settings, database_url=url, clock=clock),
        )
        with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
            keys = {}
            with apps[0].state.bridge.sessions() as session:
                orgs.create_organisation(session, slug="sauti", name="Sauti", kind="cso")
                orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
                for user, org, role in (("amina", "sauti", "submitter"), ("kamau", "knbs", "reviewer")):
                    orgs.create_user(session, username=user, organisation=org, role=role)
                    keys[user] = orgs.create_key(session, username=user).key
            yield Workers(a, b, apps, keys)


def test_two_workers_share_one_limit(two_workers: Workers) -> None:
    w = two_workers
    amina = w.headers("amina")
    for i in range(10):  # alternated: 5 on each worker, each far from the limit on its own
        assert (w.a, w.b)[i % 2].get("/api/me", headers=amina).status_code == 200
        w.sync()
    for client in (w.a, w.b):
        r = client.get("/api/me", headers=amina)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "50"  # the end of the window, by the app's clock
        assert "requests a minute" in r.json()["error"]["message"]
    kamau = w.headers("kamau")  # another key is unaffected
    assert [c.get("/api/me", headers=kamau).status_code for c in (w.a, w.b)] == [200, 200]
    # /healthz is never limited (nor counted)
    assert all(w.a.get("/healthz").status_code == 200 for _ in range(15))
    assert all(w.b.get("/healthz").status_code == 200 for _ in range(15))
    w.sync()
    totals = usage(w.apps[0].state.bridge.engine)
    assert totals == {w.keys["amina"][:18]: 10, w.keys["kamau"][:18]: 2}


def test_requests_within_the_share_make_no_rate_limit_query(two_workers: Workers) -> None:
    """Only the limiter's thread talks to ``rate_usage`` while a worker holds less than its share
    of unreported requests; one past it, the request exchanges the counts itself."""
    w = two_workers
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "rate_usage" in statement:
            seen.append(threading.current_thread().name)

    engines = [app.state.bridge.engine for app in w.apps]
    for limiter in w.limiters():
        limiter.close()  # no thread: what talks to rate_usage is the request path
    for eng in engines:
        event.listen(eng, "before_cursor_execute", record)
    try:
        assert w.limiters()[0].share(0) == 1  # a tenth of the limit of 10
        for client in (w.a, w.b):
            assert client.get("/api/me", headers=w.headers("amina")).status_code == 200
        assert seen == []
        assert usage(engines[0]) == {}
        assert w.a.get("/api/me", headers=w.headers("amina")).status_code == 200  # past a's share
        assert seen
        assert usage(engines[0]) == {w.keys["amina"][:18]: 1}  # a's first, reported before its second
    finally:
        for eng in engines:
            event.remove(eng, "before_cursor_execute", record)


def test_the_thread_shares_every_allowed_request(two_workers: Workers) -> None:
    w = two_workers
    engine = w.apps[0].state.bridge.engine
    for i in range(6):
        assert (w.a, w.b)[i % 2].get("/api/me", headers=w.headers("amina")).status_code == 200
    deadline = time.monotonic() + 60
    while usage(engine) != {w.keys["amina"][:18]: 6} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert usage(engine) == {w.keys["amina"][:18]: 6}


def test_a_database_failure_in_the_sync_does_not_fail_requests(
    two_workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    w = two_workers
    amina = w.headers("amina")
    engine = w.apps[0].state.bridge.engine
    with engine.begin() as c:
        c.execute(text("ALTER TABLE rate_usage RENAME TO rate_usage_away"))
    try:
        with caplog.at_level(logging.ERROR, logger="cgd_bridge.server.ratelimit"):
            for i in range(6):
                assert (w.a, w.b)[i % 2].get("/api/me", headers=amina).status_code == 200
                assert all(limiter.sync_now() is False for limiter in w.limiters())
        assert "could not share the rate-limit counts" in caplog.text
        # each worker still limits locally: 3 counted here, 7 more, then 429
        assert [w.a.get("/api/me", headers=amina).status_code for _ in range(8)] == [200] * 7 + [429]
    finally:
        with engine.begin() as c:
            c.execute(text("ALTER TABLE rate_usage_away RENAME TO rate_usage"))
    w.sync()
    w.sync()
    assert usage(engine) == {w.keys["amina"][:18]: 13}  # what was allowed, kept and sent
    assert w.b.get("/api/me", headers=amina).status_code == 429  # b now knows the total
