"""The store's change counter, and when access changes by the clock alone.

Who may read what depends on rows (keys, users, organisations, MoUs, submissions, versions)
and on the time (embargoes end, MoUs start and end, keys expire). The rows: database triggers
(migration 0002) add one to ``bridge_generation.value`` in every transaction that inserts,
updates or deletes one of them, so an unchanged value means an unchanged policy. The time:
:func:`next_change` is the first future instant at which a stored time is passed. Together they
let the server keep its access decisions until either moves (``server/access_cache.py``), and
still see a revoked key, a withdrawal or an expired MoU on the very next request.

Example:
    >>> from cgd_bridge.store import db
    >>> engine = db.make_engine("sqlite:////tmp/cgd-bridge-doc.sqlite")  # doctest: +SKIP
    >>> with engine.connect() as c: read(c)  # doctest: +SKIP
    0
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, select, union_all
from sqlalchemy.orm import Session

from cgd_bridge.errors import StoreError
from cgd_bridge.i18n import N_
from cgd_bridge.store.models import ApiKey, Generation, Mou, Version

#: The statement behind :func:`read` (and the server's raw-connection reader).
READ_SQL = "SELECT value FROM bridge_generation WHERE id = 1"


def _missing() -> StoreError:
    return StoreError(
        N_("the database has no change counter (bridge_generation row 1)"),
        fix=N_("Run `cgd-bridge db upgrade` on it; never delete that row (it is the cache's signal)."),
    )


def read(connection: Connection | Session) -> int:
    """The counter's value now.

    Raises:
        StoreError: the database is not migrated (or its counter row was deleted).
    """
    found = connection.execute(select(Generation.value).where(Generation.id == 1)).scalar()
    if found is None:
        raise _missing()
    return int(found)


def read_raw(dbapi_connection: Any) -> int:
    """The counter through a DB-API connection (no SQLAlchemy on the way: the per-request read)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(READ_SQL)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return value_of(row)


def value_of(row: Any) -> int:
    """The counter from the row :data:`READ_SQL` fetched (any driver's cursor).

    Raises:
        StoreError: no row: the database is not migrated (or its counter row was deleted).
    """
    if row is None:
        raise _missing()
    return int(row[0])


def next_change(session: Session, now: dt.datetime) -> dt.datetime | None:
    """The first instant after ``now`` at which an embargo ends, an MoU starts or ends, or a key
    expires (None when no such time lies ahead)."""
    times = union_all(
        select(Version.embargo_until.label("t")).where(Version.embargo_until > now),
        select(Mou.valid_from.label("t")).where(Mou.valid_from > now),
        select(Mou.valid_until.label("t")).where(Mou.valid_until > now),
        select(ApiKey.expires_at.label("t")).where(ApiKey.expires_at > now),
    ).subquery()
    found = session.execute(select(func.min(times.c.t))).scalar()
    if found is None:
        return None
    if isinstance(found, str):  # SQLite through a subquery: the type decorator is lost
        found = dt.datetime.fromisoformat(found)
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)
