"""The server's clock: where "now" comes from for every decision made while serving a request.

A :data:`Clock` is a function of no arguments giving an aware UTC datetime. The server takes
one in :func:`cgd_bridge.server.app.create_app` (the system clock unless told otherwise) and
keeps it on its ``Bridge``; embargoes, MoUs, key expiry, the access snapshot's next change,
web session expiry and the rate limit's windows all read it. Tests pass a clock they move,
so a test of "after the embargo ends" moves time instead of sleeping until it.

>>> now = system_clock()
>>> now.tzinfo is dt.UTC
True
>>> seconds(lambda: dt.datetime(1970, 1, 1, 0, 1, tzinfo=dt.UTC))()
60.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: Now, as an aware UTC datetime.
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The system's wall clock, in UTC (the default everywhere)."""
    return dt.datetime.now(dt.UTC)


def seconds(clock: Clock) -> Callable[[], float]:
    """``clock`` as seconds since the epoch (what :mod:`cgd_bridge.server.ratelimit` counts in)."""
    return lambda: clock().timestamp()
