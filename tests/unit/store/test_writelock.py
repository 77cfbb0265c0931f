"""Writers on one SQLite file queue, across threads and server processes (#14).

Was: with ``serve --workers 2`` some uploads were a 503 although a short wait was enough: SQLite's
busy handler polls with growing sleeps, so a writer that had waited long lost the lock to
newcomers until its wait ran out. Writers now queue on the bridge's own lock
(``store/writelock.py``); its wait still ends in SQLite's "database is locked", a 503.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from cgd_bridge.errors import StoreError
from cgd_bridge.store import db, writelock

OTHER_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sqlalchemy import text
    from cgd_bridge.store.db import make_engine

    engine = make_engine(f"sqlite:///{sys.argv[1]}", wait=60)
    Path(sys.argv[2]).touch()
    with engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('other process')"))
    """
)


def _engine(path: Path, wait: float) -> Engine:
    engine = db.make_engine(f"sqlite:///{path}", wait=wait)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS t (who TEXT)"))
    return engine


def test_a_writer_waiting_in_another_process_goes_before_this_ones_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: the other process slept in SQLite's busy handler while this one wrote again."""
    monkeypatch.setattr(writelock, "HAND_OVER", 5.0)  # room for a loaded machine to schedule it
    path = tmp_path / "queue.sqlite"
    engine = _engine(path, wait=60)
    ready = tmp_path / "ready"
    with engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('first')"))
        other = subprocess.Popen([sys.executable, "-c", OTHER_WRITER, str(path), str(ready)])
        while not ready.exists() and other.poll() is None:
            time.sleep(0.01)
        time.sleep(0.5)  # the other process is now waiting for the write lock
    with engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('next')"))
    assert other.wait(timeout=60) == 0
    with engine.connect() as c:
        order = [r[0] for r in c.execute(text("SELECT who FROM t ORDER BY rowid"))]
    engine.dispose()
    assert order == ["first", "other process", "next"]


def test_the_wait_for_the_queue_ends_in_a_503_busy(tmp_path: Path) -> None:
    path = tmp_path / "held.sqlite"
    holder = _engine(path, wait=5)
    waiter = _engine(path, wait=0.2)
    try:
        with holder.begin() as held:
            held.execute(text("INSERT INTO t VALUES ('holder')"))
            with pytest.raises(OperationalError) as caught, waiter.begin() as c:
                c.execute(text("INSERT INTO t VALUES ('waiter')"))
    finally:
        holder.dispose()
    found = db.unavailable(caught.value)
    assert isinstance(found, StoreError)
    assert found.problem == "the database is busy: another process holds its lock"
    assert found.headers == {"Retry-After": str(db.RETRY_BUSY)}
    with waiter.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('waiter')"))  # the holder is done: the queue moves
    waiter.dispose()


def test_the_lock_is_given_back_after_a_failed_write_and_a_rollback(tmp_path: Path) -> None:
    path = tmp_path / "back.sqlite"
    engine = _engine(path, wait=0.2)
    other = _engine(path, wait=0.2)
    with engine.connect() as c:
        with pytest.raises(OperationalError):
            c.execute(text("INSERT INTO missing VALUES (1)"))  # fails before any transaction
        c.rollback()
    with pytest.raises(RuntimeError):
        _write_then_fail(engine)
    with other.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('other')"))  # not locked out by either
        assert [r[0] for r in c.execute(text("SELECT who FROM t"))] == ["other"]
    engine.dispose()
    other.dispose()


def _write_then_fail(engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('rolled back')"))
        raise RuntimeError("the request failed half-way")


def test_threads_of_one_process_are_served_in_the_order_they_asked(tmp_path: Path) -> None:
    lock = writelock.WriteLock(tmp_path / "fifo.sqlite")
    assert lock.acquire(5)
    served: list[int] = []

    def writer(n: int) -> None:
        assert lock.acquire(30)
        served.append(n)
        lock.release()

    threads = []
    for n in range(5):
        threads.append(threading.Thread(target=writer, args=(n,)))
        threads[-1].start()
        while len(lock._threads._queue) < n + 1:  # the thread is queued before the next one starts
            time.sleep(0.001)
    lock.release()
    for t in threads:
        t.join(timeout=30)
    assert served == [0, 1, 2, 3, 4]
