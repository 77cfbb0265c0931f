"""One writer at a time on a SQLite database, queued across threads and processes (#14).

SQLite lets one connection write at a time; the others wait in its busy handler, which polls
with sleeps that grow to 100 ms the longer a writer has waited. Under load from several server
processes (``cgd-bridge serve --workers N``) a writer that has waited long polls least often, so
newcomers keep taking the lock before it and it runs out of its wait (measured with
``benchmarks/load.py``, 2 workers: 24 of 196 uploads were a 503). Here every write transaction of
the bridge's own connections first takes a lock of its own, held from the transaction's first
write statement to its commit or rollback (the span SQLite holds its write lock anyway):

- in the process, a queue (first asked, first served) of the threads: the one at its head goes on to
- across processes, a POSIX record lock on a file beside the database
  (``cgd-bridge.sqlite.write-lock``), tried every millisecond; a process giving it back while
  another process waits holds its own next writer back until that one has it (at most
  :data:`HAND_OVER`), so two busy processes take turns.

Both waits together are bounded by the engine's wait (``CGD_BRIDGE_DB_WAIT_SECONDS`` on the
server); a wait that runs out raises SQLite's own "database is locked" error, which
:func:`cgd_bridge.store.db.unavailable` turns into a 503 with ``Retry-After``. SQLite's
``busy_timeout`` still covers writers outside the bridge (another program holding the lock).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

#: seconds between two tries of the file lock by a waiting process
POLL = 0.001
#: seconds a process that gives the lock back, while another process waits, leaves it to that one
HAND_OVER = 0.005
#: statements that start (or are) a write transaction
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN")


class _Fifo:
    """A thread lock handed over in the order it was asked for."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        me = object()
        with self._cond:
            self._queue.append(me)
            if self._cond.wait_for(lambda: not self._held and self._queue[0] is me, max(0.0, timeout)):
                self._queue.popleft()
                self._held = True
                return True
            self._queue.remove(me)
            self._cond.notify_all()
            return False

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


class WriteLock:
    """The lock of one database file, shared by the connections of this process.

    Across processes it is a POSIX record lock on the lock file's byte 0, taken by the one
    thread of each process at the head of its queue; that thread holds a shared lock on byte 1
    while it waits, so a process giving the lock back can see that another one is waiting and
    lets it go first (its own next writer holds back for :data:`HAND_OVER` seconds).
    """

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.write-lock")
        self._threads = _Fifo()
        self._fd: int | None = None
        self._pid = 0
        self._defer_until = 0.0

    def acquire(self, wait: float) -> bool:
        """Take the lock within ``wait`` seconds; False when the wait ran out."""
        deadline = time.monotonic() + wait
        if not self._threads.acquire(wait):
            return False
        try:
            if self._take(self._file(), deadline):
                return True
        except BaseException:
            self._threads.release()
            raise
        self._threads.release()
        return False

    def _take(self, fd: int, deadline: float) -> bool:
        fcntl.lockf(fd, fcntl.LOCK_SH, 1, 1)  # "a writer of this process is waiting"
        try:
            while True:
                now = time.monotonic()
                if now >= self._defer_until or not self._still_others_wait(fd):
                    try:
                        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
                        return True
                    except OSError:
                        pass
                if now >= deadline:
                    return False
                time.sleep(min(POLL, deadline - now))
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, 1)

    def release(self) -> None:
        try:
            if self._fd is not None and self._pid == os.getpid():
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, 0)
                if self._others_wait(self._fd):
                    self._defer_until = time.monotonic() + HAND_OVER
        finally:
            self._threads.release()

    def _still_others_wait(self, fd: int) -> bool:
        """While this process waits (its mark on byte 1 held): does another process wait too?"""
        if self._others_wait(fd):
            return True
        fcntl.lockf(fd, fcntl.LOCK_SH, 1, 1)  # the probe took this process's own mark away
        return False

    @staticmethod
    def _others_wait(fd: int) -> bool:
        # a process's own record locks never conflict with each other: only another's can (and a
        # probe that succeeds replaces, then drops, this process's own lock on the byte)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 1)
        return False

    def _file(self) -> int:
        # one descriptor per process, never closed (closing any descriptor of the file would drop
        # the process's record locks on it); a copy inherited through fork is not used
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
            self._defer_until = 0.0
        return self._fd


_LOCKS: dict[Path, WriteLock] = {}
_LOCKS_GUARD = threading.Lock()


def write_lock(database: Path) -> WriteLock:
    """The process's lock of ``database`` (one per file, whatever the engines)."""
    key = database.expanduser().resolve()
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = WriteLock(key)
        return lock


def connection_factory(lock: WriteLock, wait: float) -> type[sqlite3.Connection]:
    """A :class:`sqlite3.Connection` class whose write transactions hold ``lock`` (``factory=``
    of :func:`sqlite3.connect`); ``wait`` bounds the wait for it."""
    return type("LockingConnection", (LockingConnection,), {"lock": lock, "wait": wait})


class LockingCursor(sqlite3.Cursor):
    """A cursor whose write statements take the connection's write lock first."""

    def execute(self, sql: str, parameters: Any = (), /) -> LockingCursor:
        owner: LockingConnection = self.connection  # type: ignore[assignment]
        took = owner.before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            owner.after(took)

    def executemany(self, sql: str, parameters: Any, /) -> LockingCursor:
        owner: LockingConnection = self.connection  # type: ignore[assignment]
        took = owner.before(sql)
        try:
            return super().executemany(sql, parameters)
        finally:
            owner.after(took)


class LockingConnection(sqlite3.Connection):
    """Holds :attr:`lock` from a transaction's first write statement to its commit or rollback."""

    lock: WriteLock
    wait: float
    _holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or LockingCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()

    def before(self, sql: str) -> bool:
        """Take the lock before a write statement that starts a transaction; True if taken."""
        if self._holding or not sql.lstrip()[:7].upper().startswith(_WRITES):
            return False
        if not self.lock.acquire(self.wait):
            raise sqlite3.OperationalError(f"database is locked (another writer held it for {self.wait:g} s)")
        self._holding = True
        return True

    def after(self, took: bool) -> None:
        """Give the lock back when the statement that took it left no transaction open."""
        if took and not self.in_transaction:
            self._release()  # it failed, or ran without a transaction

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self.lock.release()
