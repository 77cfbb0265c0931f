"""Engines, sessions and migrations of the bridge server's database.

Nothing here runs at import time: callers build an engine from a URL
(:func:`make_engine`), a session factory from the engine (:func:`make_sessionmaker`) and
migrate with :func:`upgrade`. The same code and the same Alembic migrations
(``cgd_bridge/store/migrations/``, shipped inside the package) serve both databases:

- **SQLite** (the embedded default, ``sqlite:///{data_dir}/cgd-bridge.sqlite``): every
  connection sets ``journal_mode=WAL`` (readers never wait for the writer),
  ``foreign_keys=ON``, ``busy_timeout`` (a writer waits for the write lock instead of failing at
  once) and ``synchronous=NORMAL`` (durable at each WAL checkpoint, safe against corruption).
  The pysqlite driver begins a transaction only at the first INSERT/UPDATE/DELETE, so a
  conditional ``UPDATE ... WHERE state = ...`` takes the write lock and sees the latest committed
  state: two reviewers accepting at once cannot both succeed.
- **PostgreSQL** (``postgresql+psycopg://user@host/db``; ``postgresql://`` and ``postgres://``
  are rewritten to the psycopg 3 driver): a pool with ``pool_pre_ping`` so that stateless
  workers behind a load balancer survive database restarts.

**A bounded wait** (the server, #14): ``make_engine(url, wait=seconds)`` bounds every wait of a
request on the database to ``wait`` (``CGD_BRIDGE_DB_WAIT_SECONDS``, 5 s): SQLite's
``busy_timeout`` (a write lock held by another process or worker) and the pool's timeout (every
connection in use). The pool is as large as the server's thread pool on SQLite (connections cost
a file handle) and 10 + 10 on PostgreSQL. A wait that runs out, and a database that cannot be
reached, become a :class:`~cgd_bridge.errors.StoreError` (:func:`unavailable`): a 503 with
``Retry-After`` that says the database is busy or unreachable, never the URL, never a 500 and
never a 30-second stall. Without ``wait`` (the CLI, migrations) a writer waits 10 s.

**Writers queue** on SQLite (``store/writelock.py``): every write transaction of the bridge's
connections to a database file first takes a lock of the bridge's own (a first-come queue of the
threads, then a record lock on ``cgd-bridge.sqlite.write-lock`` that server processes take in
turns), within the same bounded wait, instead of racing in SQLite's busy handler, which favours
newcomers over writers that have waited long.

Example:
    >>> from cgd_bridge.store.db import make_engine, make_sessionmaker, upgrade
    >>> url = "sqlite:////tmp/cgd-bridge-doc.sqlite"
    >>> upgrade(url)  # doctest: +SKIP
    >>> Session = make_sessionmaker(make_engine(url))
    >>> with Session() as session: ...  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from cgd_bridge.errors import StoreError, UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.store.writelock import connection_factory, write_lock

if TYPE_CHECKING:
    from alembic.config import Config

    from cgd_bridge.settings import Settings

log = logging.getLogger(__name__)

DATABASE_FILE = "cgd-bridge.sqlite"
BUSY_TIMEOUT_MS = 10_000
#: connections kept by a server's SQLite engine (Starlette's thread pool runs 40 requests at once)
SQLITE_POOL = (20, 20)
#: connections kept by a server's PostgreSQL engine, per worker (pool_size, max_overflow)
POSTGRES_POOL = (10, 10)
#: Retry-After of a busy database (seconds) and of one that cannot be reached
RETRY_BUSY = 1
RETRY_AWAY = 5
_BUSY_SQLITE = ("database is locked", "database table is locked", "database is busy")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x63676462  # "cgdb": the PostgreSQL advisory lock held while migrating


def database_url(settings: Settings) -> str:
    """The database URL from the settings: ``CGD_BRIDGE_DATABASE_URL``, else the SQLite file.

    Example:
        >>> from cgd_bridge.settings import Settings
        >>> database_url(Settings(data_dir="/srv/cgd"))
        'sqlite:////srv/cgd/cgd-bridge.sqlite'
        >>> database_url(Settings(database_url="postgres://db/cgd"))
        'postgresql+psycopg://db/cgd'
    """
    if settings.database_url:
        return normalise_url(settings.database_url)
    return f"sqlite:///{settings.data_dir.expanduser() / DATABASE_FILE}"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs; refuse what SQLAlchemy cannot parse.

    Example:
        >>> normalise_url("postgresql://u@localhost/cgd")
        'postgresql+psycopg://u@localhost/cgd'
    """
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(
            N_("'{url}' is not a database URL"),
            fix=N_("Give {sqlite} or {postgresql}."),
            params={"url": redact(url), **_URL_FORMS},
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(
            N_("the database '{kind}' is not supported"),
            fix=N_("Use SQLite ({sqlite}) or PostgreSQL ({postgresql})."),
            params={"kind": parsed.get_backend_name(), **_URL_FORMS},
        )
    return url


#: the two forms of a database URL, as the errors show them
_URL_FORMS = {
    "sqlite": "sqlite:///PATH/cgd-bridge.sqlite",
    "postgresql": "postgresql+psycopg://USER@HOST/DATABASE",
}


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def make_engine(url: str, *, wait: float | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the pragmas (SQLite) or pool settings (PostgreSQL) above.

    The SQLite file's folder is created when missing. ``wait`` (seconds) bounds the waits of a
    server's request: SQLite's ``busy_timeout`` and the pool's timeout, and sizes the pool for
    the server (module docstring); without it a writer waits :data:`BUSY_TIMEOUT_MS`. ``kwargs``
    go to :func:`sqlalchemy.create_engine` (e.g. ``pool_size``).
    """
    url = normalise_url(url)
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if wait is not None:
        size, overflow = SQLITE_POOL if sqlite else POSTGRES_POOL
        if not (sqlite and _in_memory(parsed.database)):  # an in-memory SQLite has a single-connection pool
            kwargs.setdefault("pool_timeout", wait)
            kwargs.setdefault("pool_size", size)
            kwargs.setdefault("max_overflow", overflow)
    if sqlite:
        busy_ms = BUSY_TIMEOUT_MS if wait is None else max(1, round(wait * 1000))
        if parsed.database and not _in_memory(parsed.database):
            database = Path(parsed.database).expanduser()
            database.parent.mkdir(parents=True, exist_ok=True)
            factory = connection_factory(write_lock(database), busy_ms / 1000)
            kwargs["connect_args"] = {"factory": factory, **kwargs.get("connect_args", {})}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", lambda conn, record: _sqlite_pragmas(conn, record, busy_ms))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _in_memory(database: str | None) -> bool:
    return not database or database == ":memory:" or database.startswith("file:")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_ms: int = BUSY_TIMEOUT_MS) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def unavailable(exc: BaseException) -> StoreError | None:
    """``exc`` as the 503 it means when the database is busy or cannot be reached, else None.

    A lock wait or a pool wait that ran out (:func:`make_engine`'s ``wait``) is "busy" (try again
    in a second); any other error of the database driver (refused connection, lost server,
    missing table) "could not answer" (try again in a few seconds). The driver's reason, which
    may name the host, goes to ``internal`` (the log), never to the answer.
    """
    if isinstance(exc, PoolTimeout):
        return StoreError(
            N_("the database is busy: every connection is in use"),
            fix=N_("Try again in a moment."),
            internal=f"connection pool exhausted ({exc})".splitlines()[0],
            retry_after=RETRY_BUSY,
        )
    if not isinstance(exc, DBAPIError):
        return None
    lines = str(exc.orig or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    if any(busy in reason for busy in _BUSY_SQLITE):
        return StoreError(
            N_("the database is busy: another process holds its lock"),
            fix=N_("Try again in a moment."),
            internal=reason,
            retry_after=RETRY_BUSY,
        )
    return StoreError(
        N_("the database could not answer this request"),
        fix=N_("Try again in a moment; if it keeps failing, tell the platform administrator."),
        internal=reason,
        retry_after=RETRY_AWAY,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine``; objects stay readable after commit (``expire_on_commit=False``)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` using the migrations shipped in the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str | Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); return the revision reached.

    Safe to run on every start, and by several workers starting at once: the migration holds
    a lock for its whole transaction (a PostgreSQL advisory lock; SQLite's write lock, taken by
    ``BEGIN IMMEDIATE``), so the others wait and then find the database up to date.

    Raises:
        StoreError: the database cannot be reached or the migration failed.
    """
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
            connection.commit()
        return current(engine)
    except DBAPIError as exc:
        raise _store_error(engine, N_("could not migrate the database"), exc) from exc
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def current(url: str | Engine) -> str | None:
    """The database's Alembic revision (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise _store_error(engine, N_("could not read the database"), exc) from exc
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def head() -> str:
    """The newest migration shipped with this version of cgd-bridge."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    found = script.get_current_head()
    assert found is not None
    return found


def check_current(engine: Engine) -> None:
    """Fail with the fix when the database is not migrated to the newest revision.

    Raises:
        StoreError: the database is empty, older or newer than this cgd-bridge.
    """
    found, wanted = current(engine), head()
    if found != wanted:
        problem = (
            N_("the database is at revision {found}, this cgd-bridge needs {wanted}")
            if found
            else N_("the database is empty (no migration has run), this cgd-bridge needs revision {wanted}")
        )
        raise StoreError(
            problem,
            fix=N_("Run `cgd-bridge db upgrade` (with the same --database-url), then try again."),
            internal=redact(str(engine.url)),
            params={"found": found, "wanted": wanted},
        )


def _store_error(engine: Engine, problem: str, exc: DBAPIError) -> StoreError:
    """``problem`` (a message id) with the fix; the URL and the driver's reason for the log."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return StoreError(
        problem,
        fix=N_(
            "Check that the database server is running and the URL (CGD_BRIDGE_DATABASE_URL or "
            "--database-url) names a database you may write to."
        ),
        internal=f"{redact(engine.url.render_as_string(hide_password=False))}: {reason}",
    )


@contextlib.contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit what the block did, or roll all of it back (any exception, including KeyboardInterrupt).

    Every store function that changes state runs inside one of these, together with its audit
    row, so that a failure or a killed process leaves nothing half-written.
    """
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def lock(session: Session, name: str) -> None:
    """Hold the lock called ``name`` until the session's transaction ends (commit or rollback).

    For a check followed by a write that must not interleave with the same check and write in
    another session (two reviewers publishing overlapping versions of one dataflow at once, #13):
    PostgreSQL takes a transaction-scoped advisory lock keyed by ``name``, and its later
    statements (READ COMMITTED) see whatever the previous holder committed. SQLite has one
    writer at a time: a write statement takes the database's write lock now (the pysqlite driver
    begins the transaction at it), instead of at the first real write, so the reads after it
    see the latest committed state and a second session waits (``busy_timeout``) until the first
    one commits.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
        key = int.from_bytes(digest, signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        session.execute(text("UPDATE bridge_generation SET value = value WHERE id = 1"))
