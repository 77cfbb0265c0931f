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

**Durable mode** (``CGD_BRIDGE_AUDIT_DURABLE=true``): a pull's answer is sent only once its
records are committed. The thread then commits as soon as anything is queued (requests that
arrive during a commit form the next batch: group commit), each request awaits its batch, and a
database that refuses the batch (or takes longer than ``timeout`` seconds) makes the request a
503 instead of an unaudited answer; that batch is dropped, since its data was not sent. It costs
each pull the wait for one commit.
"""

from __future__ import annotations

import asyncio
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

from cgd_bridge.errors import StoreError
from cgd_bridge.i18n import N_, num
from cgd_bridge.server import metrics
from cgd_bridge.store import audit
from cgd_bridge.store.models import AuditEntry, utcnow
from cgd_bridge.store.orgs import Principal, touch_key

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.05
DEFAULT_TIMEOUT = 10.0
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


class Receipt:
    """Tells a request when its pull records are committed (or could not be).

    The writer thread calls :meth:`_finish`; a request waits with :meth:`wait` (a worker thread)
    or ``await`` :meth:`wait_async` (the event loop), whichever came first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._error: BaseException | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def _finish(self, error: BaseException | None = None) -> None:
        with self._lock:
            self._error = error
            self._event.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    def _raise(self) -> None:
        if self._error is not None:
            raise StoreError(
                N_("the download could not be recorded in the audit log"),
                fix=_RECORDED_FIRST,
                internal=str(self._error),
            )

    def wait(self, timeout: float) -> None:
        """Block until committed. Raises StoreError when the commit failed or took too long."""
        if not self._event.wait(timeout):
            raise _too_slow(timeout)
        self._raise()

    async def wait_async(self, timeout: float) -> None:
        """:meth:`wait` for the event loop (no thread is held while waiting)."""
        future: asyncio.Future[None] | None = None
        with self._lock:
            if not self._event.is_set():
                loop = asyncio.get_running_loop()
                future = loop.create_future()
                self._waiters.append((loop, future))
        if future is not None:
            try:
                await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise _too_slow(timeout) from None
        self._raise()


#: why a download waits for its audit record (the data owner's "who pulled my data" must be whole)
_RECORDED_FIRST = N_("Try again in a moment: the data is sent only once its download is recorded.")


def _too_slow(timeout: float) -> StoreError:
    return StoreError(
        N_("the audit log did not record the download within {seconds} seconds"),
        fix=_RECORDED_FIRST,
        params={"seconds": num(timeout)},
    )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AuditWriter:
    """Queue pull records and key touches; a daemon thread commits them in batches.

    Example:
        >>> writer = AuditWriter(engine)  # doctest: +SKIP
        >>> served = [(PulledVersion(3, 1, "A:DF(1.0)"), 12)]
        >>> writer.pull(principal, served, "/sdmx/rest/data/DF")  # doctest: +SKIP
        >>> writer.flush()  # doctest: +SKIP
        >>> writer.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = DEFAULT_INTERVAL,
        durable: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.engine = engine
        self.interval = 0.0 if durable else interval
        self.durable = durable
        self.timeout = timeout
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._wake = threading.Event()  # a flush or stop: commit now, not at the end of the interval
        self._thread = threading.Thread(target=self._run, name="cgd-bridge-audit", daemon=True)
        self._thread.start()

    # -- producers (any thread; cheap) ------------------------------------------------------------

    def pull(
        self,
        principal: Principal | None,
        served: Sequence[tuple[audit.Served, int]],
        query: str,
        *,
        client: str | None = None,
        action: str = "data.pulled",
        at: dt.datetime | None = None,
    ) -> Receipt:
        """Queue a pull: one row per version served; one row with 0 observations when none was.

        Returns the :class:`Receipt` of its commit (durable mode: wait for it before answering,
        or use :meth:`record` / :meth:`record_sync`, which do).
        """
        rows = audit.pull_values(
            principal=principal, served=served, query=query, client=client, action=action, at=at
        )
        receipt = Receipt()
        metrics.audit_queued(len(rows))
        self._queue.put(("rows", rows, receipt))
        return receipt

    async def record(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`pull` (same arguments), awaiting the commit in durable mode (from the event loop)."""
        receipt = self.pull(*args, **kwargs)
        if self.durable:
            await receipt.wait_async(self.timeout)

    def record_sync(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`pull` (same arguments), waiting for the commit in durable mode (a worker thread)."""
        receipt = self.pull(*args, **kwargs)
        if self.durable:
            receipt.wait(self.timeout)

    def touch_key(self, prefix: str, at: dt.datetime | None = None) -> None:
        """Set a key's ``last_used_at`` (at most once a minute, as :func:`touch_key` decides)."""
        self._queue.put(("touch", prefix, at or utcnow()))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is committed; False on time-out."""
        if self._closed or not self._thread.is_alive():
            return False
        marker = _Flush()
        self._queue.put(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the thread (the app's shutdown)."""
        if self._closed:
            return
        self._queue.put(None)
        self._wake.set()
        self._thread.join(timeout)
        self._closed = True

    # -- the thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            if self.interval and items[0] is not None and not isinstance(items[0], _Flush):
                # let a batch gather for up to ``interval`` (a flush or stop cuts it short)
                self._wake.wait(self.interval)
            self._wake.clear()
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
        rows = [row for item in items if item[0] == "rows" for row in item[1]]
        receipts = [item[2] for item in items if item[0] == "rows"]
        touches = {i[1]: i[2] for i in items if i[0] == "touch"}
        try:
            self._commit_rows(rows, receipts, touches)
        finally:
            metrics.audit_queued(-len(rows))  # written, or given up on (durable mode): off the queue

    def _commit_rows(
        self, rows: list[dict[str, Any]], receipts: list[Receipt], touches: dict[str, dt.datetime]
    ) -> None:
        pause = 0.1
        while True:
            try:
                try:
                    self._insert(rows, touches)
                except IntegrityError:
                    # a row names a version, submission or user that is not there (never in normal
                    # operation: nothing is deleted); write the rest, and those with the ids moved
                    # into details, rather than block the log on one row
                    self._insert_one_by_one(rows, touches)
            except Exception as exc:  # the database refused (down, locked, not migrated)
                if self.durable:
                    # the requests answer 503 without their data: nothing was pulled, nothing to keep
                    log.exception("could not write %d audit rows; their requests fail", len(rows))
                    for receipt in receipts:
                        receipt._finish(exc)
                    return
                log.exception("could not write %d audit rows; retrying in %.1f s", len(rows), pause)
                threading.Event().wait(pause)
                pause = min(pause * 2, _RETRY_MAX)
                continue
            for receipt in receipts:
                receipt._finish()
            return

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
