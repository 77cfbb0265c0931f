"""Files sent with the submit page are kept for their sender after a try that stored nothing (#17).

On a slow link, sending a dataset again after a failed or check-only try costs minutes. These
tests drive the real web app (SQLite and PostgreSQL) as a CSO on a slow link would, and as an
adversary would: another person's token, a token of someone in the same organisation, an expired
one, a used one, a made-up one; and they check that what the server keeps stays bounded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from sqlalchemy import func, select

from cgd_bridge.store import orgs
from cgd_bridge.store.models import KeptUpload, StoredFile, Version
from tests.unit.server.test_web import KENYA, Demo, csrf, sign_in

MAPPING = "kenya-health-scorecard.yaml"
DATA = (KENYA / "data.csv").read_bytes()
METADATA = (KENYA / "quality.yaml").read_bytes()


def _tokens(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="kept_(\w+)" value="([^"]+)"', html))


def _post(demo: Demo, *, action: str, files: dict | None = None, **fields: str):
    c = demo.client
    form = {"csrf_token": csrf(c, "/submit"), "mapping_choice": MAPPING, "action": action,
            "revision_note": "Corrected counts.", **fields}  # fmt: skip
    return c.post("/submit", data=form, files=files or {}, follow_redirects=False)


def _kept_rows(demo: Demo) -> int:
    with demo.session() as s:
        return int(s.scalar(select(func.count()).select_from(KeptUpload)) or 0)


def test_after_a_check_the_files_are_kept_and_the_next_try_sends_none(demo_db: Demo) -> None:
    demo = demo_db
    sign_in(demo.client, demo.keys["amina"])
    checked = _post(
        demo,
        action="check",
        files={
            "data": ("scorecard.csv", DATA, "text/csv"),
            "metadata": ("quality.yaml", METADATA, "application/yaml"),
        },
    )
    assert checked.status_code == 200, checked.text
    assert "Received and kept on the server: scorecard.csv" in checked.text
    tokens = _tokens(checked.text)
    assert set(tokens) == {"data", "metadata"}  # the bundled mapping is not a file the person sent
    # the next try sends no file at all: only the tokens
    stored = _post(demo, action="submit", kept_data=tokens["data"], kept_metadata=tokens["metadata"])
    assert stored.status_code == 303, stored.text
    version_id = int(stored.headers["location"].rsplit("/", 1)[1])
    with demo.session() as s:
        raw = {f.role: f for f in s.scalars(select(StoredFile).where(StoredFile.version_id == version_id))}
        assert raw["data"].filename == "scorecard.csv"
        assert raw["data"].sha256 == hashlib.sha256(DATA).hexdigest()  # byte for byte what was sent
        assert raw["metadata"].sha256 == hashlib.sha256(METADATA).hexdigest()
    assert _kept_rows(demo) == 0  # a version was stored from them: nothing is kept any more
    again = _post(demo, action="check", kept_data=tokens["data"], kept_metadata=tokens["metadata"])
    assert again.status_code == 400
    assert "no longer kept on the server" in again.text


def test_a_failed_check_keeps_what_was_sent_and_a_new_file_replaces_its_kept_one(demo: Demo) -> None:
    sign_in(demo.client, demo.keys["amina"])
    broken = (KENYA.parent / "broken" / "total-mismatch" / "data.csv").read_bytes()
    failed = _post(
        demo,
        action="submit",
        files={
            "data": ("data.csv", broken, "text/csv"),
            "metadata": ("quality.yaml", METADATA, "application/yaml"),
        },
    )
    assert failed.status_code == 422, failed.text
    first = _tokens(failed.text)
    assert set(first) == {"data", "metadata"}
    # only the data is sent again (fixed); the metadata comes from the server
    fixed = _post(
        demo, action="check", kept_metadata=first["metadata"], files={"data": ("data.csv", DATA, "text/csv")}
    )
    assert fixed.status_code == 200, fixed.text
    second = _tokens(fixed.text)
    assert second["metadata"] == first["metadata"]  # the same file, kept another day
    assert second["data"] != first["data"]  # the new data file replaced the broken one
    assert _kept_rows(demo) == 2  # at most one per role and person, whatever the number of tries
    with demo.session() as s:
        row = s.scalar(select(KeptUpload).where(KeptUpload.role == "data"))
        assert row is not None
        assert row.sha256 == hashlib.sha256(DATA).hexdigest()
    # the old token is gone with its file
    old = _post(demo, action="check", kept_data=first["data"], kept_metadata=first["metadata"])
    assert old.status_code == 400
    assert "no longer kept" in old.text


def test_nobody_else_can_use_a_kept_file(demo: Demo) -> None:
    sign_in(demo.client, demo.keys["amina"])
    sent = _post(
        demo,
        action="check",
        files={
            "data": ("private.csv", DATA, "text/csv"),
            "metadata": ("quality.yaml", METADATA, "application/yaml"),
        },
    )
    tokens = _tokens(sent.text)
    with demo.session() as s:  # a colleague in Amina's own organisation
        orgs.create_user(s, username="baraka", organisation="sauti", role="submitter", display_name="Baraka")
        colleague = orgs.create_key(s, username="baraka", label="t").key
    for key in (demo.keys["sita"], colleague):
        demo.client.cookies.clear()
        sign_in(demo.client, key)
        r = _post(demo, action="submit", kept_data=tokens["data"], kept_metadata=tokens["metadata"])
        assert r.status_code == 400, r.text
        assert "no longer kept on the server" in r.text
        assert "private.csv" not in r.text  # not even its name is shown to them
    for made_up in ("", "x" * 64, tokens["data"][:-1] + ("A" if tokens["data"][-1] != "A" else "B")):
        r = _post(demo, action="check", kept_data=made_up, kept_metadata=tokens["metadata"])
        assert r.status_code == 400
    with demo.session() as s:  # nothing of Amina's was stored by anyone
        assert s.scalar(select(func.count()).select_from(Version).where(Version.id > 1000)) == 0


def test_a_kept_file_expires_after_a_day(demo: Demo) -> None:
    sign_in(demo.client, demo.keys["amina"])
    sent = _post(
        demo,
        action="check",
        files={
            "data": ("scorecard.csv", DATA, "text/csv"),
            "metadata": ("quality.yaml", METADATA, "application/yaml"),
        },
    )
    tokens = _tokens(sent.text)
    demo.clock.advance(dt.timedelta(hours=25))
    demo.client.cookies.clear()
    sign_in(demo.client, demo.keys["amina"])
    r = _post(demo, action="submit", kept_data=tokens["data"], kept_metadata=tokens["metadata"])
    assert r.status_code == 400
    assert "no longer kept on the server" in r.text
    assert "Choose the data file again" in r.text


def test_the_page_script_sends_the_files_first_and_posts_the_form_with_their_tokens(demo: Demo) -> None:
    """What web.js does: /submit/files answers a token per file, then /submit uses the tokens."""
    c = demo.client
    sign_in(c, demo.keys["amina"])
    token = csrf(c, "/submit")
    r = c.post(
        "/submit/files",
        data={"csrf_token": token},
        files={
            "data": ("scorecard.csv", DATA, "text/csv"),
            "metadata": ("quality.yaml", METADATA, "application/yaml"),
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    got = r.json()["kept"]
    assert got["data"]["filename"] == "scorecard.csv"
    assert got["data"]["size"] == len(DATA)
    stored = _post(
        demo, action="draft", kept_data=got["data"]["token"], kept_metadata=got["metadata"]["token"]
    )
    assert stored.status_code == 303, stored.text
    # no CSRF token, another kind of organisation, nobody signed in: nothing is kept
    no_csrf = c.post("/submit/files", data={"csrf_token": "x"}, files={"data": ("a.csv", DATA)})
    assert no_csrf.status_code == 403
    c.cookies.clear()
    sign_in(c, demo.keys["kamau"])  # an NSO reviewer does not submit data
    nso = c.post("/submit/files", data={"csrf_token": csrf(c, "/inbox")}, files={"data": ("a.csv", DATA)})
    assert nso.status_code == 403
    c.cookies.clear()
    anonymous = c.post("/submit/files", data={"csrf_token": "x"}, files={"data": ("a.csv", DATA)})
    assert anonymous.status_code in (401, 403)
    assert _kept_rows(demo) == 0
