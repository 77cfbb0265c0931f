"""Per-key rate limiting: a token bucket per API key (or client address without a key).

The buckets live in the worker process. With several workers behind a load balancer, each
enforces the limit on the requests it sees, so one key may make up to (workers x limit)
requests a minute; put an exact limit at the load balancer when that matters. Nothing else
depends on this state, so workers stay interchangeable (docs/architecture.md, "Server").
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class RateLimiter:
    """``per_minute`` requests a minute per identity, with bursts up to ``per_minute``.

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
        """(allowed, seconds to wait before the next request would be allowed)."""
        if self.per_minute <= 0:
            return True, 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(identity, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[identity] = (tokens, now)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return allowed, 0.0 if allowed else (1.0 - tokens) / self._rate
