"""A busy or unreachable database is a quick, clear 503 with Retry-After on every kind of route (#14).

Was: with every pooled connection in use a request waited 30 s for one and then failed with a
500 (SQLAlchemy's pool ``TimeoutError`` was no database error to the handlers); a web page whose
session could not be checked answered JSON; ``/healthz`` said 200 and nothing said the server
could not serve. The live versions (a second process holding SQLite's lock, a PostgreSQL
connection cut) are in tests/e2e/test_store_unavailable_live.py.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.server.conftest import World

WAIT = 0.3  # seconds: CGD_BRIDGE_DB_WAIT_SECONDS of these servers
pytestmark = pytest.mark.world_settings(db_wait_seconds=WAIT)


@contextlib.contextmanager
def every_connection_taken(world: World) -> Iterator[None]:
    """Check out every connection the server's pool may open, and give them back afterwards."""
    pool: Any = world.bridge.engine.pool
    held = []
    try:
        for _ in range(pool.size() + pool._max_overflow - pool.checkedout()):
            held.append(world.bridge.engine.raw_connection())
        yield
    finally:
        for connection in held:
            connection.close()


def _no_database_named(world: World, text: str) -> None:
    url = world.bridge.engine.url
    for secret in filter(None, (url.render_as_string(hide_password=True), url.host, url.database)):
        assert secret not in text, secret


def test_an_exhausted_pool_is_a_503_with_retry_after_everywhere(world: World) -> None:
    key = {"Authorization": f"Bearer {world.keys['amina']}"}
    world.bridge.access._drop_raw()  # the change counter's connection too: nothing is left to read with
    with every_connection_taken(world):
        api = world.client.get("/api/submissions", headers=key)
        assert api.status_code == 503, api.text[:300]
        assert api.headers["Retry-After"] == "1"
        assert api.json()["error"]["problem"] == "the database is busy: every connection is in use"
        _no_database_named(world, api.text)

        sdmx = world.client.get("/sdmx/rest/data/DF_CGD_KE/all", headers=key)
        assert sdmx.status_code == 503, sdmx.text[:300]
        assert sdmx.headers["Retry-After"] == "1"
        assert "mes:Error" in sdmx.text
        assert 'code="503"' in sdmx.text

        page = world.client.get("/dataflows")
        assert page.status_code == 503, page.text[:300]
        assert page.headers["Retry-After"] == "1"
        assert page.headers["content-type"].startswith("text/html")
        assert "the database is busy" in page.text

        ready = world.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["Retry-After"] == "1"
        assert world.client.get("/healthz").status_code == 200  # liveness: the process is up
    assert world.client.get("/api/submissions", headers=key).status_code == 200
    assert world.client.get("/dataflows").status_code == 200
    assert world.client.get("/readyz").json()["status"] == "ready"


def test_an_upload_whose_key_cannot_be_checked_is_a_503_not_a_400(world: World) -> None:
    """Was: the body guard's key check failed inside the body read, which FastAPI answered as
    "There was an error parsing the body" (400)."""
    key = {"Authorization": f"Bearer {world.keys['amina']}"}
    world.bridge.access._drop_raw()
    world.bridge.access._snapshot = None  # the key must be looked up in the database
    with every_connection_taken(world):
        r = world.client.post("/api/submissions", headers=key, files={"data": ("d.csv", b"a,b\n1,2\n")})
    assert r.status_code == 503, r.text[:300]
    assert r.headers["Retry-After"] == "1"
    assert "database is busy" in r.json()["error"]["message"]


def test_a_signed_in_page_is_a_503_page_and_keeps_the_session(world: World) -> None:
    """The session cookie cannot be re-checked: the page says the database is away; the person
    stays signed in (no new cookie) for when it is back."""
    from tests.unit.server.test_web import sign_in

    sign_in(world.client, world.keys["kamau"])
    assert world.client.get("/inbox").status_code == 200
    world.bridge.access._drop_raw()
    with every_connection_taken(world):
        page = world.client.get("/inbox")
        assert page.status_code == 503, page.text[:300]
        assert "set-cookie" not in page.headers
        assert "text/html" in page.headers["content-type"]
    assert world.client.get("/inbox").status_code == 200


def test_an_unreadable_sqlite_file_is_a_503_and_readyz_says_so(world: World, tmp_path: Path) -> None:
    """The SQLite file is gone (a folder in its place, so no new connection opens it): every
    kind of route answers 503, /readyz too, /healthz stays 200; all is well once it is back."""
    if world.bridge.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite file; PostgreSQL's outage is the live test's TCP proxy")
    database = Path(str(world.bridge.engine.url.database))
    world.bridge.access._drop_raw()
    world.bridge.engine.dispose()  # the pooled connections would still read the old file
    kept = tmp_path / "kept.sqlite"
    shutil.move(database, kept)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            shutil.move(f"{database}{suffix}", f"{kept}{suffix}")
    database.mkdir()
    try:
        for path, kind in (("/api/submissions", "json"), ("/dataflows", "html"), ("/readyz", "json")):
            r = world.client.get(path)
            assert r.status_code == 503, (path, r.status_code, r.text[:300])
            assert r.headers["Retry-After"] == "5"
            assert kind in r.headers["content-type"]
            assert str(database) not in r.text
            assert "database could not answer" in r.text
        assert world.client.get("/healthz").status_code == 200
    finally:
        world.bridge.engine.dispose()
        database.rmdir()
        shutil.move(kept, database)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                shutil.move(f"{kept}{suffix}", f"{database}{suffix}")
    assert world.client.get("/readyz").status_code == 200
    assert world.client.get("/api/submissions").status_code == 200
