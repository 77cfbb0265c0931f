"""A clock tests move by hand, for ``create_app(clock=...)`` (see :mod:`cgd_bridge.clock`).

It starts as the system clock, so what a test stores with the store's own "now" (MoUs that start
now, published versions) is in force on it as it is on a real server; ``advance`` moves it ahead
(an embargo ends without waiting for it) and ``freeze`` stops it (a rate-limit window or a token
bucket that no slow machine can move).

>>> clock = ManualClock(at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
>>> clock.advance(dt.timedelta(hours=1))
>>> clock()
datetime.datetime(2025, 1, 1, 1, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import datetime as dt

from cgd_bridge.clock import system_clock


class ManualClock:
    """The system clock shifted by what the test advanced it, or a fixed instant once frozen."""

    def __init__(self, at: dt.datetime | None = None) -> None:
        self._at = at
        self._shift = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return (self._at or system_clock()) + self._shift

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock ahead by ``delta``."""
        self._shift += delta

    def freeze(self) -> dt.datetime:
        """Stop the clock where it is now (``advance`` still moves it); the instant it stands at."""
        self._at, self._shift = self(), dt.timedelta(0)
        return self._at
