"""Long checks of the submit page run in the background, with a status page (#17).

The page waits ``web_check_wait_seconds`` for its check; past that the person is sent to
``/checks/{id}``, which refreshes itself while the check runs and then shows its outcome (the
report, or the version page once a version is stored). Driven through the real app with real
threads and the real job workers, on SQLite and PostgreSQL, with the adversary's tries: someone
else's check, nobody signed in, a check whose server died, a check that fails inside.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cgd_bridge.server.web import routes
from cgd_bridge.store.models import WebCheck
from tests.unit.server.test_web import KENYA, Demo, _demo, csrf, demo_on, sign_in

DATA = (KENYA / "data.csv").read_bytes()
METADATA = (KENYA / "quality.yaml").read_bytes()
FILES = {
    "data": ("scorecard.csv", DATA, "text/csv"),
    "metadata": ("quality.yaml", METADATA, "application/yaml"),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Demo]:
    with demo_on(request.param, tmp_path, web_check_wait_seconds=0) as d:
        yield d


@pytest.fixture
def sqlite_site(tmp_path: Path) -> Iterator[Demo]:
    with _demo(tmp_path, web_check_wait_seconds=0) as d:
        yield d


def _post(demo: Demo, action: str, **fields: str) -> Any:
    c = demo.client
    form = {"csrf_token": csrf(c, "/submit"), "mapping_choice": "kenya-health-scorecard.yaml"}
    form |= {"action": action, "revision_note": "Corrected counts.", **fields}
    return c.post("/submit", data=form, files=FILES, follow_redirects=False)


def _wait_until_done(demo: Demo, url: str) -> Any:
    for _ in range(600):
        r = demo.client.get(url, follow_redirects=False)
        if 'http-equiv="refresh"' not in r.text:
            return r
        time.sleep(0.1)
    raise AssertionError(f"the check at {url} did not end in 60 s")


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Checks wait for this event before they run (so the test sees one running)."""
    go = threading.Event()
    real = routes.harmonise_and_store

    def slow(*args: Any, **kwargs: Any) -> Any:
        assert go.wait(60), "the test never let the check go"
        return real(*args, **kwargs)

    monkeypatch.setattr(routes, "harmonise_and_store", slow)
    return go


def test_a_long_check_sends_the_person_to_its_status_page_and_ends_on_the_version(
    site: Demo, held: threading.Event
) -> None:
    sign_in(site.client, site.keys["amina"])
    r = _post(site, "submit")
    assert r.status_code == 303
    url = r.headers["location"]
    assert re.fullmatch(r"/checks/[\w-]{20,64}", url)
    running = site.client.get(url)
    assert running.status_code == 200
    assert 'http-equiv="refresh"' in running.text  # it updates itself, no script needed
    assert "scorecard.csv is being checked" in running.text
    assert "You can leave this page and come back" in running.text
    held.set()
    done = _wait_until_done(site, url)
    assert done.status_code == 303
    assert done.headers["location"].startswith("/versions/")
    page = site.client.get(done.headers["location"])
    assert "was stored and sent for review" in page.text
    with site.session() as s:
        row = s.get(WebCheck, url.rsplit("/", 1)[1])
        assert row is not None
        assert row.state == "done"
        assert row.version_id == int(done.headers["location"].rsplit("/", 1)[1])


def test_a_background_check_shows_its_report_with_the_files_kept(sqlite_site: Demo) -> None:
    site = sqlite_site
    sign_in(site.client, site.keys["amina"])
    r = _post(site, "check")
    assert r.status_code == 303
    done = _wait_until_done(site, r.headers["location"])
    assert done.status_code == 200
    assert "The dataset is valid" in done.text
    assert "Received and kept on the server: scorecard.csv" in done.text
    assert 'name="kept_data"' in done.text
    # the same status in the JSON API, for its owner only
    ident = r.headers["location"].rsplit("/", 1)[1]
    api = TestClient(site.app)
    mine = api.get(f"/api/checks/{ident}", headers={"Authorization": f"Bearer {site.keys['amina']}"})
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["state"] == "done"
    assert body["status"] == 200
    assert body["data_file"] == "scorecard.csv"
    assert body["report"]["valid"] is True
    theirs = api.get(f"/api/checks/{ident}", headers={"Authorization": f"Bearer {site.keys['sita']}"})
    assert theirs.status_code == 404
    assert api.get(f"/api/checks/{ident}").status_code == 401


def test_only_its_owner_sees_a_check(sqlite_site: Demo, held: threading.Event) -> None:
    site = sqlite_site
    sign_in(site.client, site.keys["amina"])
    url = _post(site, "check").headers["location"]
    try:
        site.client.cookies.clear()
        sign_in(site.client, site.keys["sita"])  # another CSO
        other = site.client.get(url)
        assert other.status_code == 404
        assert "scorecard.csv" not in other.text
        assert site.client.get("/checks/" + "A" * 32).status_code == 404  # made up
        assert site.client.get("/submit?check=" + url.rsplit("/", 1)[1]).status_code == 404
        site.client.cookies.clear()
        anonymous = site.client.get(url, follow_redirects=False)
        assert anonymous.status_code in (303, 401, 403)
        assert "scorecard.csv" not in anonymous.text
    finally:
        held.set()


def test_a_check_whose_server_died_says_so_and_offers_the_kept_files(
    sqlite_site: Demo, held: threading.Event
) -> None:
    site = sqlite_site
    sign_in(site.client, site.keys["amina"])
    url = _post(site, "check").headers["location"]
    ident = url.rsplit("/", 1)[1]
    try:
        with site.session() as s:  # as if its process died long ago: started, never finished
            row = s.get(WebCheck, ident)
            assert row is not None
            row.started_at = row.started_at - dt.timedelta(hours=2)
            s.commit()
        r = site.client.get(url)
        assert "The check did not finish" in r.text
        assert 'http-equiv="refresh"' not in r.text
        back = site.client.get(f"/submit?check={ident}")
        assert back.status_code == 200
        assert "Received and kept on the server: scorecard.csv" in back.text
        assert 'name="kept_metadata"' in back.text
        assert 'value="Corrected counts."' in back.text or "Corrected counts." in back.text
    finally:
        held.set()


def test_a_check_that_fails_inside_is_a_plain_page(
    sqlite_site: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = sqlite_site

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes, "harmonise_and_store", broken)
    sign_in(site.client, site.keys["amina"])
    url = _post(site, "check").headers["location"]
    done = _wait_until_done(site, url)
    assert done.status_code == 500
    assert "The check failed on the server" in done.text
    assert "secret internals" not in done.text
    assert "Traceback" not in done.text
