"""Per-key rate limiting, shared by every worker and host through the database.

Two rules, both must allow a request (:class:`SharedRateLimiter`):

- **Fixed one-minute windows, shared.** Each identity (an API key's public prefix, or the client
  address without a key) may make ``per_minute`` requests per UTC minute (``12:00:00`` to
  ``12:00:59.999``), counted over all workers and hosts on one database (table ``rate_usage``,
  migration 0005). A worker counts the requests it allows in memory; a background thread upserts
  those counts every ``interval`` (0.25 s) and reads back the current window's total of every
  identity (one row per identity active in the minute, whichever worker served it). A request
  is allowed while *last known total + this worker's not yet reported requests < per_minute*.
  A refusal for this reason says to retry at the end of the window (``Retry-After``).
- **A worker's share** (:meth:`SharedRateLimiter.share`, on the request path
  :meth:`SharedRateLimiter.aallow`): a worker allows at most a tenth of what is left of the identity's
  window (at least 1) before it reports them. One request past it exchanges the counts first, in the thread
  pool (all pending counts sent, that identity's total read back; requests waiting at once share one
  exchange), then is decided on the fresh total. So however requests are spread over workers and hosts, and
  however fast (a burst at every worker at once), the total allowed in a window exceeds ``per_minute`` by at
  most one share per other worker (while exchanges succeed: a request waits at most ``_EXCHANGE_WAIT``, 1 s,
  for one in progress, and is decided without its share when none can be made); without it, each of N
  workers would allow the whole limit before hearing of the others (N times the limit). A key that stays
  below its share between two syncs (the normal case: 600 a minute is 2.5 requests per 0.25 s) costs no
  query; one spending its whole minute on one worker faster than the thread syncs costs about one exchange
  per ten requests at first, one per request at the end of its budget (53 exchanges for 600 requests).
- **A token bucket per worker** (:class:`RateLimiter`: ``per_minute`` a minute, bursts up to
  ``per_minute``), so no worker lets a key spend one window's limit at its end and the next
  window's at the start of the following one; a refusal for this reason says how long until the
  next token.

What the limit guarantees, honestly:

- Fixed windows, per worker buckets: at a window boundary, a key that used its limit on one
  worker at the end of a minute may use the next minute's at once on another.
- Windows follow each host's clock: keep the hosts' clocks in sync (NTP).
- While the database cannot be reached, requests are never blocked or failed by it: each worker
  limits with what it knows (its bucket, its own counts and the last known totals; no shares
  until an exchange succeeds again), so with N workers a key may then make up to N times the
  limit. The counts are kept and sent when the database is back (errors are logged, and retried
  with a growing pause of up to 5 s). A worker reads the totals once when it starts; one killed
  hard (SIGKILL) loses the counts of its last interval (at most its shares); a normal stop sends
  them (:meth:`SharedRateLimiter.close`, called in the app's shutdown).

``per_minute`` 0 turns the limit off: no counting, no thread, no database work.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from cgd_bridge.store.models import RateUsage

log = logging.getLogger(__name__)
T = TypeVar("T")

WINDOW = 60  # seconds
DEFAULT_INTERVAL = 0.25
KEEP_WINDOWS = 120  # seconds: older windows are deleted
_CLEAN_EVERY = 30.0  # seconds between deletions of old windows
_RETRY_MAX = 5.0
_CHUNK = 500  # rows per statement
_IDENTITY_MAX = 100  # the column's length
SHARE_DIVISOR = 10  # a worker's share: a tenth of what is left of the window
_ROUNDS_MAX = 20  # exchanges one request may wait for before it is decided without its share
_EXCHANGE_WAIT = 1.0  # seconds a request waits for another exchange in progress before it gives up


class RateLimiter:
    """``per_minute`` requests a minute per identity, with bursts up to ``per_minute`` (one process).

    >>> r = RateLimiter(2)
    >>> [r.allow("k", now=0.0)[0] for _ in range(3)]
    [True, True, False]
    >>> r.allow("k", now=30.0)[0]
    True
    """

    def __init__(self, per_minute: int, *, max_identities: int = 100_000) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_identities

    def allow(self, identity: str, *, now: float | None = None) -> tuple[bool, float]:
        """(allowed, seconds to wait before the next request would be allowed); takes a token."""
        if self.per_minute <= 0:
            return True, 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._take(identity, now, take=True)

    def _take(self, identity: str, now: float, *, take: bool) -> tuple[bool, float]:
        """The bucket's answer; a token is taken only when allowed and ``take``. Caller holds the lock."""
        tokens, last = self._buckets.pop(identity, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + max(0.0, now - last) * self._rate)
        allowed = tokens >= 1.0
        if allowed and take:
            tokens -= 1.0
        self._buckets[identity] = (tokens, now)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed, 0.0 if allowed else (1.0 - tokens) / self._rate


class SharedRateLimiter:
    """The rate limit of the module docstring: shared windows in ``engine`` plus a local bucket.

    :meth:`allow` never touches the database; a daemon thread (started unless ``start=False``)
    calls :meth:`sync_now` every ``interval`` seconds. ``clock`` gives the wall-clock time in
    seconds since the epoch (tests inject theirs).

    Example:
        >>> limiter = SharedRateLimiter(600, engine)  # doctest: +SKIP
        >>> allowed, wait = limiter.allow("cgdb_ab12cd34")  # doctest: +SKIP
        >>> limiter.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        per_minute: int,
        engine: Engine | None,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
        start: bool = True,
        max_identities: int = 100_000,
    ) -> None:
        self.per_minute = per_minute
        self.engine = engine
        self.interval = interval
        self.clock = clock
        self._bucket = RateLimiter(per_minute, max_identities=max_identities)
        self._lock = self._bucket._lock  # one lock for the bucket and the counts
        # (identity, window) -> requests allowed here, not yet sent / being sent
        self._pending: dict[tuple[str, int], int] = {}
        self._sending: dict[tuple[str, int], int] = {}
        # identity -> (window, the total of all workers in it when last read)
        self._known: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._max = max_identities
        self._sync_lock = threading.Lock()
        self._syncs_started = 0
        self._shared = engine is not None  # the share applies while exchanges succeed
        self._last_clean = -math.inf
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if per_minute > 0 and engine is not None and start:
            self.sync_now()  # the totals the other workers counted before this one started
            self._thread = threading.Thread(target=self._run, name="cgd-bridge-rate-limit", daemon=True)
            self._thread.start()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    # -- the request path (no database while under the share) ----------------------------------------

    def allow(self, identity: str, *, now: float | None = None, take: bool = True) -> tuple[bool, float]:
        """(allowed, seconds to wait before retrying): the window's wait when the shared count is
        the reason, the bucket's otherwise (the longer when both are). ``take=False`` only asks:
        nothing is counted. Never touches the database (no share: :meth:`aallow` adds it)."""
        allowed, wait, _ = self._decide(identity, now, take, share=False)
        return allowed, wait

    async def aallow(self, identity: str) -> tuple[bool, float]:
        """:meth:`allow` for a request, with the worker's share: when this worker already holds
        its share of unreported requests of ``identity``, the counts are exchanged first (in the
        thread pool; requests that wait at once share one exchange)."""
        from starlette.concurrency import run_in_threadpool

        # each exchange lets this worker allow another share, or shows the window spent, so the
        # rounds end; the cap only bounds one request's wait in a storm of one key on one worker
        for _ in range(_ROUNDS_MAX):
            allowed, wait, ticket = self._decide(identity, None, True, share=True)
            if ticket is None:
                return allowed, wait
            if not await run_in_threadpool(self._sync_after, ticket, identity[:_IDENTITY_MAX]):
                break  # no exchange now (the database is slow or away): decided as before shares
        allowed, wait, _ = self._decide(identity, None, True, share=False)
        return allowed, wait

    def share(self, known: int) -> int:
        """How many requests of one identity a worker may allow before it reports them, when the
        window's total it last read is ``known``: a tenth of what is left (at least 1), so all
        workers together overshoot the limit by at most one share each, however they are hit."""
        return max(1, (self.per_minute - known) // SHARE_DIVISOR)

    def _decide(
        self, identity: str, now: float | None, take: bool, *, share: bool
    ) -> tuple[bool, float, int | None]:
        """(allowed, wait, None), or (False, 0, ticket) when the counts must be exchanged first
        (the ticket: the number of exchanges started so far)."""
        if self.per_minute <= 0:
            return True, 0.0, None
        identity = identity[:_IDENTITY_MAX]
        now = self.clock() if now is None else now
        window = int(now // WINDOW)
        with self._lock:
            known_window, known = self._known.pop(identity, (window, 0))
            if known_window != window:
                known = 0
            self._known[identity] = (window, known)
            if len(self._known) > self._max:
                self._known.popitem(last=False)
            key = (identity, window)
            local = self._pending.get(key, 0) + self._sending.get(key, 0)
            shared_ok = known + local < self.per_minute
            if shared_ok and take and share and self._shared and local >= self.share(known):
                return False, 0.0, self._syncs_started
            bucket_ok, bucket_wait = self._bucket._take(identity, now, take=shared_ok and take)
            if shared_ok and bucket_ok and not take:
                return True, 0.0, None
            if shared_ok and bucket_ok:
                self._pending[key] = self._pending.get(key, 0) + 1
                return True, 0.0, None
        wait = bucket_wait if not bucket_ok else 0.0
        if not shared_ok:
            wait = max(wait, (window + 1) * WINDOW - now)
        return False, wait, None

    # -- the thread -------------------------------------------------------------------------------

    def sync_now(self) -> bool:
        """Send the counts not yet reported, read the current window's totals (of every identity
        in it), and now and then delete old windows. False (logged) when the database failed;
        the counts are then kept for the next sync."""
        if self.per_minute <= 0 or self.engine is None:
            return True
        with self._sync_lock:
            return self._sync_locked()

    def _sync_after(self, ticket: int, identity: str) -> bool:
        """Send every count, and read ``identity``'s total back, unless an exchange started since
        ``ticket`` (it carried the counts this worker had then). False when no exchange could be
        made: it failed, or another one held the lock for more than ``_EXCHANGE_WAIT`` (a request
        never waits longer for the rate limit's database work)."""
        if self.engine is None or not self._sync_lock.acquire(timeout=_EXCHANGE_WAIT):
            return False
        try:
            if self._syncs_started > ticket:
                return True
            return self._sync_locked(only=identity)
        finally:
            self._sync_lock.release()

    def _sync_locked(self, only: str | None = None) -> bool:
        """:meth:`sync_now`'s work (the totals of ``only``, when given); the caller holds ``_sync_lock``."""
        with self._lock:
            batch, self._pending = self._pending, {}
            self._sending = batch
            self._syncs_started += 1
        now = self.clock()
        window = int(now // WINDOW)
        try:
            totals = self._exchange(batch, window, now, only)
        except Exception:
            log.exception("could not share the rate-limit counts of %d identities", len(batch))
            with self._lock:
                oldest = window - KEEP_WINDOWS // WINDOW
                for key, n in batch.items():
                    if key[1] >= oldest:  # older windows no longer matter
                        self._pending[key] = self._pending.get(key, 0) + n
                self._sending = {}
                self._shared = False  # decide locally (no share) until the database is back
            return False
        with self._lock:
            self._shared = True
            self._sending = {}
            for identity in [i for i, (w, _) in self._known.items() if w < window]:
                del self._known[identity]
            for identity, total in totals.items():
                known_window, known = self._known.get(identity, (window, 0))
                # totals only grow within a window; a newer window (the request path's clock
                # passed the minute during this sync) starts again from zero
                if known_window == window and total > known:
                    self._known[identity] = (window, total)
            while len(self._known) > self._max:
                self._known.popitem(last=False)
        return True

    def _exchange(
        self, batch: dict[tuple[str, int], int], window: int, now: float, only: str | None = None
    ) -> dict[str, int]:
        """The database work of one sync (one transaction): the current window's totals of every
        identity (also those this worker has not seen yet: a key that used its minute on other
        workers is refused here from its first request), or of ``only`` (a request's exchange)."""
        assert self.engine is not None
        start = _start_of(window)
        rows = [
            {"identity": identity, "window_start": _start_of(w), "count": n}
            for (identity, w), n in batch.items()
        ]
        with Session(self.engine) as session, session.begin():
            for chunk in _chunks(rows):
                session.execute(_upsert(self.engine, chunk))
            # after the upserts, in the same transaction: this worker's counts are in the totals
            query = select(RateUsage.identity, RateUsage.count).where(RateUsage.window_start == start)
            if only is not None:
                query = query.where(RateUsage.identity == only)
            totals: dict[str, int] = dict(session.execute(query).all())
            if only is None and now - self._last_clean >= _CLEAN_EVERY:
                old = _start_of(int((now - KEEP_WINDOWS) // WINDOW))
                session.execute(delete(RateUsage).where(RateUsage.window_start < old))
        if only is None and now - self._last_clean >= _CLEAN_EVERY:
            self._last_clean = now
        return totals

    def _run(self) -> None:
        pause = self.interval
        while not self._stop.wait(pause):
            pause = self.interval if self.sync_now() else min(max(pause * 2, 0.1), _RETRY_MAX)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread and send what is left (the app's shutdown)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.sync_now()


def _start_of(window: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(window * WINDOW, dt.UTC)


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _upsert(engine: Engine, rows: list[dict[str, Any]]) -> Insert:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    table = RateUsage.__table__
    stmt = dialect.insert(table).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.identity, table.c.window_start],
        set_={"count": table.c.count + stmt.excluded["count"]},
    )
    return stmt
