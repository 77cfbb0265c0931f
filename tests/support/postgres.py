"""The test PostgreSQL server: make sure it is up, and hand out fresh schemas.

PostgreSQL runs on 127.0.0.1 with trust authentication (database ``test``; override with
``CGD_BRIDGE_TEST_POSTGRES_URL``). If it is down, it is started with ``pg_ctlcluster``; when that
is impossible the tests fail with the reason (they never skip silently), unless
``CGD_BRIDGE_TEST_POSTGRES=0`` switches PostgreSQL tests off on purpose.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("CGD_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/test")


def reachable(url: str = PG_URL) -> str | None:
    """None when the server answers, else why not."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            c.execute(text("select 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"; the message says why
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


def start() -> str:
    """Try to start every installed cluster; returns what pg_ctlcluster said."""
    try:
        versions = sorted(os.listdir("/etc/postgresql"))
    except OSError as exc:
        return f"no PostgreSQL installed ({exc})"
    out = ""
    for version in versions:
        proc = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            text=True,
            check=False,
        )
        out += proc.stdout + proc.stderr
    return out.strip()


def ensure_server() -> str:
    """The server's URL once it answers (started if need be); pytest.fail/skip otherwise."""
    if os.environ.get("CGD_BRIDGE_TEST_POSTGRES") == "0":
        pytest.skip("PostgreSQL tests switched off by CGD_BRIDGE_TEST_POSTGRES=0")
    problem = reachable()
    if problem:
        started = start()
        for _ in range(30):
            problem = reachable()
            if not problem:
                break
            time.sleep(0.5)
        if problem:
            pytest.fail(
                f"PostgreSQL at {PG_URL} is not reachable ({problem}) and could not be started "
                f"({started}). Start it (pg_ctlcluster --skip-systemctl-redirect VERSION main start), "
                "set CGD_BRIDGE_TEST_POSTGRES_URL, or set CGD_BRIDGE_TEST_POSTGRES=0 to skip these tests."
            )
    return PG_URL


@contextlib.contextmanager
def fresh_schema(prefix: str = "cgdb_test") -> Iterator[str]:
    """A URL whose ``search_path`` is a new, empty schema; the schema is dropped afterwards."""
    ensure_server()
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def fresh_database(prefix: str = "cgdb_test") -> Iterator[str]:
    """A URL of a new, empty database on the test server (for what works on whole databases,
    such as pg_dump and pg_restore); dropped afterwards."""
    ensure_server()
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
