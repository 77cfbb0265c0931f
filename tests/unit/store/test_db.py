"""Engines, URLs and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from cgd_bridge.errors import StoreError, UsageError
from cgd_bridge.settings import Settings
from cgd_bridge.store.db import (
    check_current,
    current,
    database_url,
    head,
    make_engine,
    normalise_url,
    redact,
    upgrade,
)
from cgd_bridge.store.models import Base, Organisation

TABLES = {
    "organisations",
    "users",
    "api_keys",
    "mous",
    "submissions",
    "versions",
    "files",
    "version_data",
    "audit",
    "official_series",
    "metadata_drafts",
    "rate_usage",
    "ended_sessions",
    "user_identities",
    "password_resets",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'empty.sqlite'}"
        return
    pg_url = request.getfixturevalue("pg_server")  # starts PostgreSQL or fails with the fix
    schema = f"cgdb_empty_{secrets.token_hex(4)}"
    admin = create_engine(pg_url)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_migrations_run_from_empty_and_match_the_models(empty_url):
    assert current(empty_url) is None
    assert upgrade(empty_url) == head()
    assert upgrade(empty_url) == head()  # a second run changes nothing
    engine = make_engine(empty_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as c:
            diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        check_current(engine)
    finally:
        engine.dispose()


def test_check_current_names_the_fix_on_an_empty_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(StoreError, match=r"cgd-bridge db upgrade"):
        check_current(engine)
    engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'db.sqlite'}")
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("CGD_BRIDGE_DATABASE_URL", raising=False)
    assert database_url(Settings(data_dir=tmp_path)) == f"sqlite:///{tmp_path / 'cgd-bridge.sqlite'}"
    monkeypatch.setenv("CGD_BRIDGE_DATABASE_URL", "postgresql://u:secret@db/cgd")
    assert database_url(Settings(data_dir=tmp_path)) == "postgresql+psycopg://u:secret@db/cgd"


def test_urls_are_normalised_and_redacted():
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert "secret" not in redact("postgresql+psycopg://u:secret@h/d")
    with pytest.raises(UsageError, match=r"(?i)not supported"):
        normalise_url("mysql://u@h/d")
    with pytest.raises(UsageError, match=r"(?i)not a database URL"):
        normalise_url("no url at all")


def test_an_unreachable_database_is_a_store_error_with_a_fix():
    with pytest.raises(StoreError, match=r"(?i)could not migrate.*Check that the database server is running"):
        upgrade("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_times_come_back_aware_utc(session):
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    session.add(Organisation(slug="x", name="X", kind="cso", created_at=when))
    session.commit()
    session.expunge_all()
    got = session.query(Organisation).one().created_at
    assert got == when
    assert got.utcoffset() == dt.timedelta(0)


def test_naive_times_are_refused(session):
    session.add(Organisation(slug="x", name="X", kind="cso", created_at=dt.datetime(2026, 1, 1)))
    with pytest.raises(Exception, match=r"(?i)naive datetime"):
        session.commit()


def test_workers_starting_at_once_migrate_once(empty_url):
    """Several server workers run `upgrade` on start; on an empty database only one may migrate."""
    code = "import sys; from cgd_bridge.store.db import upgrade; print(upgrade(sys.argv[1]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in results]
    assert [out.strip() for out, _ in results] == [head()] * 3


def test_0006_gives_existing_mous_no_raw_files_and_keeps_the_change_counter(empty_url):
    """MoUs made before the raw-files term grant no raw files (#12); on SQLite the column is added
    without rebuilding ``mous``, so its change-counter trigger (0002) still fires."""
    assert upgrade(empty_url, "0005") == "0005"
    engine = make_engine(empty_url)
    try:
        at = dt.datetime(2026, 1, 1)
        with engine.begin() as c:
            for i, (slug, kind) in enumerate((("sauti", "cso"), ("knbs", "nso")), start=1):
                c.execute(
                    text(
                        "INSERT INTO organisations (id, slug, name, kind, created_at) "
                        "VALUES (:i, :s, :s, :k, :t)"
                    ),
                    {"i": i, "s": slug, "k": kind, "t": at},
                )
            c.execute(
                text(
                    "INSERT INTO mous (cso_id, nso_id, dataflows, use_conditions, valid_from, valid_until, "
                    "created_at) VALUES (1, 2, '[\"*\"]', '[]', :t, :u, :t)"
                ),
                {"t": at, "u": dt.datetime(2030, 1, 1)},
            )
        assert upgrade(empty_url) == head()
        with engine.begin() as c:
            assert c.execute(text("SELECT raw_files FROM mous")).scalar_one() in (False, 0)
            before = c.execute(text("SELECT value FROM bridge_generation")).scalar_one()
            c.execute(text("UPDATE mous SET raw_files = :yes"), {"yes": True})
            assert c.execute(text("SELECT value FROM bridge_generation")).scalar_one() > before
    finally:
        engine.dispose()


def test_0010_adds_notifications_keeps_the_change_counter_and_goes_back(empty_url):
    """Notifications (#19): existing organisations get no pull digest and users no e-mail; the
    columns are added without rebuilding the tables (their change-counter triggers still fire);
    the migration goes down and up again."""
    from sqlalchemy import inspect

    assert upgrade(empty_url, "0009") == "0009"
    engine = make_engine(empty_url)
    try:
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO organisations (id, slug, name, kind, created_at) "
                    "VALUES (1, 'a', 'A', 'cso', :t)"
                ),
                {"t": dt.datetime(2026, 1, 1)},
            )
        assert upgrade(empty_url) == head()
        assert {"webhooks", "outbox", "digest_marks"} <= set(inspect(engine).get_table_names())
        with engine.begin() as c:
            assert c.execute(text("SELECT pull_digest FROM organisations")).scalar_one() in (False, 0)
            before = c.execute(text("SELECT value FROM bridge_generation")).scalar_one()
            c.execute(text("UPDATE organisations SET pull_digest = :yes"), {"yes": True})
            assert c.execute(text("SELECT value FROM bridge_generation")).scalar_one() > before
        from alembic import command

        from cgd_bridge.store.db import alembic_config

        cfg = alembic_config(empty_url)
        with engine.connect() as connection:  # downgrade on our connection (nothing left open)
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0009")
            connection.commit()
        assert current(engine) == "0009"
        assert "outbox" not in set(inspect(engine).get_table_names())
        assert upgrade(empty_url) == head()
    finally:
        engine.dispose()
