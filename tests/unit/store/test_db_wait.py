"""The server's engine waits a bounded time for the database, and says "busy" when that runs out (#14)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cgd_bridge.errors import StoreError
from cgd_bridge.store import db


def _busy_ms(engine) -> int:
    with engine.connect() as c:
        return int(c.exec_driver_sql("PRAGMA busy_timeout").scalar_one())


def test_the_wait_bounds_the_lock_and_the_pool(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    server = db.make_engine(url, wait=0.25)
    cli = db.make_engine(url)
    try:
        assert _busy_ms(server) == 250
        assert _busy_ms(cli) == db.BUSY_TIMEOUT_MS  # the CLI and migrations keep the long wait
        assert server.pool.timeout() == 0.25  # type: ignore[attr-defined]
        assert server.pool.size() == db.SQLITE_POOL[0]  # type: ignore[attr-defined]
    finally:
        server.dispose()
        cli.dispose()


def test_a_lock_held_elsewhere_is_busy_with_retry_after(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    engine = db.make_engine(f"sqlite:///{path}", wait=0.1)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OperationalError) as caught, engine.begin() as c:
            c.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    found = db.unavailable(caught.value)
    assert isinstance(found, StoreError)
    assert found.problem == "the database is busy: another process holds its lock"
    assert found.headers == {"Retry-After": str(db.RETRY_BUSY)}
    assert str(path) not in str(found.to_dict())  # the file is for the log only
    assert "database is locked" in found.message


def test_what_unavailable_calls_busy_or_away() -> None:
    busy = db.unavailable(PoolTimeout("QueuePool limit of size 20 overflow 20 reached"))
    assert busy is not None
    assert busy.problem == "the database is busy: every connection is in use"
    away = db.unavailable(
        OperationalError("SELECT 1", {}, Exception("connection refused to db.internal:5432"))
    )
    assert away is not None
    assert away.headers == {"Retry-After": str(db.RETRY_AWAY)}
    assert "db.internal" not in str(away.to_dict())
    assert db.unavailable(ValueError("not a database failure")) is None
