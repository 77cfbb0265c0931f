"""Pull records written in batches by one background thread (group commit).

Every data pull is audited (who, when, what query, how many observations from which version),
but one INSERT and COMMIT per request would cost a one-series query more than the rest of its
work. The server hands its pull records to an :class:`AuditWriter` instead: a request only
puts a tuple on a queue (its time stamped then), and a thread commits whatever has gathered,
every ``interval`` seconds, in one transaction. The same thread also sets API keys'
``last_used_at`` (once a minute per key, as :func:`cgd_bridge.store.orgs.touch_key` does).

Trade-off, documented in docs/server.md: a server process killed hard (SIGKILL, power loss)
loses the pulls of at most its last ``interval`` (default 0.05 s); a normal stop (SIGTERM,
Ctrl-C) writes them all (:meth:`close` runs in the app's lifespan). State changes
(submit, accept, publish, MoUs, keys, ...) are not affected: they and their audit rows still
commit together. Readers of the pull log in the same process call :meth:`flush` first, so an
API answer never misses a pull that was served before it was asked.

If the database refuses a batch, the batch is kept and retried (with a growing pause), never
dropped; the error is logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cgd_bridge.store.models import AuditEntry, utcnow
from cgd_bridge.store.orgs import Principal, touch_key

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.05
_RETRY_MAX = 5.0


@dataclass(frozen=True)
class PulledVersion:
    """A version a pull read from, as the audit row names it."""

    id: int
    submission_id: int
    dataflow_ref: str


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class AuditWriter:
    """Queue pull records and key touches; a daemon thread commits them in batches.

    Example:
        >>> writer = AuditWriter(engine)  # doctest: +SKIP
        >>> served = [(PulledVersion(3, 1, "A:DF(1.0)"), 12)]
        >>> writer.pull(principal, served, "/sdmx/rest/data/DF")  # doctest: +SKIP
        >>> writer.flush()  # doctest: +SKIP
        >>> writer.close()  # doctest: +SKIP
    """

    def __init__(self, engine: Engine, *, interval: float = DEFAULT_INTERVAL) -> None:
        self.engine = engine
        self.interval = interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="cgd-bridge-audit", daemon=True)
        self._thread.start()

    # -- producers (any thread; cheap) ------------------------------------------------------------

    def pull(
        self,
        principal: Principal | None,
        served: Sequence[tuple[PulledVersion, int]],
        query: str,
        *,
        client: str | None = None,
        action: str = "data.pulled",
        at: dt.datetime | None = None,
    ) -> None:
        """Record a pull: one row per version served; one row with 0 observations when none was."""
        at = at or utcnow()
        who = (principal.user_id, principal.org_id) if principal else (None, None)
        client = (client or None) and client[:100]
        if not served:
            self._queue.put(("row", at, who, action, None, None, None, query, 0, client))
            return
        for v, n in served:
            self._queue.put(("row", at, who, action, v.submission_id, v.id, v.dataflow_ref, query, n, client))

    def touch_key(self, prefix: str, at: dt.datetime | None = None) -> None:
        """Set a key's ``last_used_at`` (at most once a minute, as :func:`touch_key` decides)."""
        self._queue.put(("touch", prefix, at or utcnow()))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is committed; False on time-out."""
        if self._closed or not self._thread.is_alive():
            return False
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the thread (the app's shutdown)."""
        if self._closed:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._closed = True

    # -- the thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            if items[0] is not None and not isinstance(items[0], _Flush):
                # let a batch gather for up to ``interval`` (a flush or stop cuts it short)
                deadline = threading.Event()
                deadline.wait(self.interval)
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self._queue.get_nowait())
            stop = any(i is None for i in items)
            self._commit([i for i in items if isinstance(i, tuple)])
            for i in items:
                if isinstance(i, _Flush):
                    i.done.set()

    def _commit(self, items: list[tuple[Any, ...]]) -> None:
        if not items:
            return
        rows = [
            {
                "at": at,
                "user_id": who[0],
                "organisation_id": who[1],
                "action": action,
                "submission_id": sub,
                "version_id": ver,
                "dataflow": flow,
                "query": query,
                "observations": n,
                "client": client,
                "details": None,
            }
            for _, at, who, action, sub, ver, flow, query, n, client in (i for i in items if i[0] == "row")
        ]
        touches = {i[1]: i[2] for i in items if i[0] == "touch"}
        pause = 0.1
        while True:
            try:
                self._insert(rows, touches)
                return
            except IntegrityError:
                # a row names a version, submission or user that is not there (never in normal
                # operation: nothing is deleted); write the rest, and those with the ids moved
                # into details, rather than block the log on one row
                self._insert_one_by_one(rows, touches)
                return
            except Exception:  # the database refused (down, locked, not migrated): keep the batch, retry
                log.exception("could not write %d audit rows; retrying in %.1f s", len(rows), pause)
                threading.Event().wait(pause)
                pause = min(pause * 2, _RETRY_MAX)

    def _insert(self, rows: list[dict[str, Any]], touches: dict[str, dt.datetime]) -> None:
        with Session(self.engine) as session, session.begin():
            if rows:
                session.execute(insert(AuditEntry), rows)
            for prefix, at in touches.items():
                touch_key(session, prefix, at)

    def _insert_one_by_one(self, rows: list[dict[str, Any]], touches: dict[str, dt.datetime]) -> None:
        self._insert([], touches)
        for row in rows:
            try:
                self._insert([row], {})
            except IntegrityError:
                refs = ("user_id", "organisation_id", "submission_id", "version_id")
                log.warning("audit row names missing rows %s; kept with them in details", row)
                details = {k: row[k] for k in refs if row[k] is not None}
                self._insert([{**row, **dict.fromkeys(refs), "details": {"missing": details}}], {})
