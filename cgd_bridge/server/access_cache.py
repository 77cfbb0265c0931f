"""Who is asking and what they may read, decided once per state of the store.

Authenticating a key and applying the access policy to a dataflow take five or six queries
(key, user, versions, submissions, the NSO's MoUs, content hashes). They give the same answer
until a tracked row changes or a stored time is passed, and the store says when either
happens (:mod:`cgd_bridge.store.generation`): the change counter, read with **one query per
request** on a connection kept for it, and the next instant at which an embargo ends, an MoU
starts or ends or a key expires. A :class:`Snapshot` holds the decisions made while both stay
put; a new counter value or a passed instant (by the app's clock) starts a fresh one. So a revoked key, a
withdrawal, a new MoU or a lifted embargo count from the very next request, on every worker
process alike (each keeps its own snapshot and reads the same counter): no state that breaks
with several workers.

What is kept per snapshot (bounded by ``max_entries`` each; overflowing clears it):

- ``principals``: SHA-256 of the presented key -> its :class:`Principal`, or None for a key
  that is unknown, wrong, revoked or expired (so a flood of one bad key costs no queries);
- ``readable``: (principal's organisation, dataflow, providers, ``updatedAfter``) -> the
  :class:`Readable` versions with their gathered table and :class:`KeyIndex`, or the 401/403
  the policy answers.

Misses are computed by the store's own functions (:func:`cgd_bridge.store.orgs.authenticate_key`,
:func:`cgd_bridge.store.access.readable_versions`) in the thread pool; hits cost a dictionary
lookup. The rules themselves live in ``store/access.py`` only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cgd_bridge.clock import Clock, system_clock
from cgd_bridge.errors import CgdBridgeError, StoreError
from cgd_bridge.i18n import N_
from cgd_bridge.server.audit_writer import PulledVersion
from cgd_bridge.server.sdmx.data import KeyIndex
from cgd_bridge.store import generation
from cgd_bridge.store.db import redact
from cgd_bridge.store.orgs import LAST_USED_EVERY, Principal, authenticate_key, key_prefix

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class ServedVersion(PulledVersion):
    """A published version a pull may read, without its database session."""

    producer_slug: str = ""
    published_at: dt.datetime | None = None


@dataclass(frozen=True)
class Readable:
    """What a data query of one dataflow may read: versions, their gathered table, or the refusal."""

    versions: tuple[ServedVersion, ...]
    gathered: tuple[pa.Table, KeyIndex] | None
    denied: CgdBridgeError | None = None


@dataclass
class _KeyEntry:
    principal: Principal | None
    prefix: str | None
    touched: dt.datetime


@dataclass
class Snapshot:
    """The decisions made while the change counter is ``generation`` and before ``horizon``."""

    generation: int
    horizon: dt.datetime | None
    max_entries: int = DEFAULT_MAX_ENTRIES
    principals: dict[str, _KeyEntry] = field(default_factory=dict)
    readable: dict[tuple[Any, ...], Readable] = field(default_factory=dict)

    def valid(self, value: int, now: dt.datetime) -> bool:
        return value == self.generation and (self.horizon is None or now < self.horizon)

    def remember(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if len(table) >= self.max_entries:
            table.clear()
        table[key] = value


def key_digest(plain: str) -> str:
    """The cache key of a presented API key (never the key itself)."""
    return hashlib.sha256(plain.strip().encode()).hexdigest()


def scope_of(principal: Principal | None) -> tuple[Any, ...] | None:
    """What the access policy looks at in a principal (two users of one NSO read the same)."""
    if principal is None:
        return None
    return (principal.org_id, principal.org_kind, principal.is_admin)


def _unreadable(url: Any, exc: BaseException) -> StoreError:
    """The 503 of a counter read that failed, naming the database and the driver's first line."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    return StoreError(
        N_("the bridge could not read its database"),
        fix=N_("Try again in a moment; if it keeps failing, tell the platform administrator."),
        internal=f"{redact(str(url))}: {reason}",
    )


class _CoalescedReader:
    """Reads of the change counter on one psycopg asyncio connection, shared by waiting requests."""

    def __init__(self, engine: Engine) -> None:
        self.url = engine.url
        self._conn: Any = None
        self._pending: asyncio.Future[int] | None = None
        self._lock: asyncio.Lock | None = None

    async def read(self) -> int:
        pending = self._pending
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._pending = pending
            task = asyncio.create_task(self._run(pending))
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)
        return await asyncio.shield(pending)

    async def _run(self, pending: asyncio.Future[int]) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # the read in flight (if any) ends first
            if self._pending is pending:
                self._pending = None  # whoever comes from now on waits for the next read
            try:
                value = await self._query()
            except StoreError as exc:  # reached, but not migrated: say so as it is
                pending.set_exception(exc)
                return
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the same StoreError
                await self.close()
                pending.set_exception(_unreadable(self.url, exc))
                return
            pending.set_result(value)

    async def _query(self) -> int:
        import psycopg

        if self._conn is None:
            conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        cursor = await self._conn.execute(generation.READ_SQL)
        return generation.value_of(await cursor.fetchone())

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # a broken connection may fail to close; it is gone anyway
                log.debug("closing the counter connection failed", exc_info=True)


#: Reads in flight (asyncio keeps only weak references to tasks).
_TASKS: set[asyncio.Task[None]] = set()


class AccessCache:
    """The per-process cache of access decisions, keyed by the store's change counter.

    Args:
        engine: the server's engine; one of its connections is kept for reading the counter.
        sessions: sessions for the misses.
        clock: the app's clock: a snapshot holds until it passes the snapshot's next change.
        max_entries: per table of a snapshot.
    """

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        *,
        clock: Clock = system_clock,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._resolving: dict[tuple[Any, ...], threading.Lock] = {}
        self._resolving_lock = threading.Lock()
        self._raw: Any = None
        self._snapshot: Snapshot | None = None
        self._coalesced = _CoalescedReader(engine) if engine.dialect.name == "postgresql" else None

    # -- the counter ------------------------------------------------------------------------------

    def _read_generation(self) -> int:
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._raw is None:
                        self._raw = self.engine.raw_connection()
                        driver = self._raw.driver_connection
                        if hasattr(driver, "autocommit") and self.engine.dialect.name != "sqlite":
                            driver.autocommit = True  # no transaction left open between reads
                    return generation.read_raw(self._raw)
                except (DBAPIError, self.engine.dialect.loaded_dbapi.Error) as exc:
                    self._drop_raw()
                    if attempt == 2:
                        raise _unreadable(self.engine.url, exc) from exc
        raise AssertionError("unreachable")

    def _drop_raw(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.invalidate()
            except Exception:
                log.debug("dropping the counter connection failed", exc_info=True)

    def close(self) -> None:
        """Give the counter's connection back (the app's shutdown)."""
        with self._lock:
            raw, self._raw = self._raw, None
        if raw is not None:
            raw.close()

    async def aclose(self) -> None:
        """:meth:`close`, and the asyncio connection of the PostgreSQL reader."""
        self.close()
        if self._coalesced is not None:
            await self._coalesced.close()

    async def asnapshot(self) -> Snapshot:
        """:meth:`snapshot` from the event loop.

        On PostgreSQL the counter is read on an asyncio connection, and reads are coalesced:
        requests that arrive while a read is in flight share the next one (which starts after
        they arrived, so each still sees every change committed before it came). On SQLite the
        read is a local file lookup of a few microseconds, made directly.
        """
        if self._coalesced is None:
            return self.snapshot()
        now = self.clock()
        value = await self._coalesced.read()
        snap = self._snapshot
        if snap is not None and snap.valid(value, now):
            return snap
        return await run_in_threadpool(self._new_snapshot, value, now)  # a query: not on the loop

    async def request_snapshot(self, request: Request) -> Snapshot:
        """The snapshot of this request: read once (:meth:`asnapshot`), then shared by what the
        request calls (its dependencies, the SDMX service)."""
        snap: Snapshot | None = getattr(request.state, "access_snapshot", None)
        if snap is None:
            snap = await self.asnapshot()
            request.state.access_snapshot = snap
        return snap

    def snapshot(self, now: dt.datetime | None = None) -> Snapshot:
        """The snapshot for the store as it is now (one query; two more when it changed)."""
        now = now or self.clock()
        value = self._read_generation()
        snap = self._snapshot
        if snap is not None and snap.valid(value, now):
            return snap
        return self._new_snapshot(value, now)

    def _new_snapshot(self, value: int, now: dt.datetime) -> Snapshot:
        with self.sessions() as session:
            horizon = generation.next_change(session, now)
        snap = Snapshot(value, horizon, self.max_entries)
        self._snapshot = snap
        return snap

    # -- principals -------------------------------------------------------------------------------

    def cached_key(self, snap: Snapshot, plain: str) -> _KeyEntry | None:
        """The snapshot's answer for a presented key (None: not decided yet in this snapshot)."""
        return snap.principals.get(key_digest(plain))

    def due_touch(self, entry: _KeyEntry, now: dt.datetime) -> str | None:
        """The key's prefix when its ``last_used_at`` should be set again (once a minute)."""
        if entry.principal is None or entry.prefix is None or now - entry.touched < LAST_USED_EVERY:
            return None
        entry.touched = now
        return entry.prefix

    def authenticate(self, snap: Snapshot, plain: str, now: dt.datetime) -> Principal | None:
        """Authenticate with the store (a miss; call from a worker thread) and remember the answer."""
        with self.sessions() as session:
            principal = authenticate_key(session, plain, now=now)  # sets last_used_at itself
        snap.remember(snap.principals, key_digest(plain), _KeyEntry(principal, key_prefix(plain), now))
        return principal

    # -- readable versions ------------------------------------------------------------------------

    def cached_readable(self, snap: Snapshot, key: tuple[Any, ...]) -> Readable | None:
        return snap.readable.get(key)

    def resolve(
        self, snap: Snapshot, key: tuple[Any, ...], compute: Callable[[Session], Readable]
    ) -> Readable:
        """Compute a miss with a session (call from a worker thread) and remember it.

        Concurrent misses of one key are computed once: the first thread computes, the others
        wait for it and take what it remembered. (A burst of queries on a cold server would
        otherwise decode and gather the same tables once per request at the same time: 32
        connections held 1.9 GB where one gathered table needs 0.2 GB.)
        """
        with self._resolving_lock:
            flight = self._resolving.setdefault(key, threading.Lock())
        try:
            with flight:
                found = snap.readable.get(key)
                if found is None:
                    with self.sessions() as session:
                        found = compute(session)
                    snap.remember(snap.readable, key, found)
        finally:
            with self._resolving_lock:
                if not flight.locked():
                    self._resolving.pop(key, None)
        return found
