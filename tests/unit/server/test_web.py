"""The web pages (issue #5) through Starlette's TestClient: sign-in and the session cookie,
CSRF, role checks, what the public sees (never embargoed or withdrawn data), the CSO's upload
with its report, the NSO's decision, dataflow filters and downloads, translations, charts."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from cgd_bridge.server.app import create_app
from cgd_bridge.server.demo import seed
from cgd_bridge.server.web import chart, i18n, pages
from cgd_bridge.server.web import session as websession
from cgd_bridge.settings import Settings
from cgd_bridge.store import orgs, submissions
from cgd_bridge.store.orgs import Principal
from tests.support.clock import ManualClock
from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema

KENYA = ROOT / "examples" / "kenya-health-scorecard"
FLOW = "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0"


@dataclass
class Demo:
    client: TestClient
    keys: dict[str, str]
    published: dict[str, int]
    app: object
    clock: ManualClock  # the server's clock

    def session(self):  # a store session of the app
        return self.app.state.bridge.sessions()  # type: ignore[attr-defined]


@contextlib.contextmanager
def _demo(tmp_path: Path, database_url: str | None = None, **options: Any) -> Iterator[Demo]:
    """The demo served by a TestClient (``options``: settings beyond the data folder's)."""
    clock = ManualClock()
    settings = Settings(data_dir=tmp_path, **{"rate_limit_per_minute": 0, **options})
    app = create_app(settings, database_url=database_url, clock=clock)
    with TestClient(app) as client:
        bridge = app.state.bridge
        with bridge.sessions() as session:
            seeded = seed(session, bridge.structures)
        yield Demo(client, seeded.keys, seeded.published, app, clock)


@contextlib.contextmanager
def demo_on(database: str, tmp_path: Path, **options: Any) -> Iterator[Demo]:
    """:func:`_demo` on ``sqlite`` (a file in ``tmp_path``) or ``postgresql`` (a fresh schema)."""
    if database == "sqlite":
        with _demo(tmp_path, **options) as d:
            yield d
        return
    with fresh_schema("cgdb_web") as url, _demo(tmp_path, url, **options) as d:
        yield d


def csrf(client: TestClient, path: str = "/sign-in") -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m, "the page has no CSRF token"
    return m.group(1)


def sign_in(client: TestClient, key: str) -> None:
    r = client.post(
        "/sign-in",
        data={"csrf_token": csrf(client), "method": "key", "api_key": key},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def files(data: Path = KENYA / "data.csv") -> dict[str, tuple[str, bytes, str]]:
    return {
        "data": (data.name, data.read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
    }


def upload_kenya(
    client: TestClient,
    *,
    revision_note: str | None = None,
    action: str = "submit",
    data: Path = KENYA / "data.csv",
    follow_redirects: bool = True,
):
    """POST the Kenya example (``data`` instead of its data.csv) to /submit with the bundled mapping."""
    form = {"csrf_token": csrf(client, "/submit"), "mapping_choice": "kenya-health-scorecard.yaml"}
    if revision_note is not None:
        form["revision_note"] = revision_note
    form["action"] = action
    return client.post("/submit", data=form, files=files(data), follow_redirects=follow_redirects)


# ---------------------------------------------------------------- sign in, session, CSRF


def test_signing_in_with_a_key_sets_a_safe_session_cookie(demo: Demo) -> None:
    c = demo.client
    token = csrf(c)
    r = c.post(
        "/sign-in",
        data={"csrf_token": token, "method": "key", "api_key": demo.keys["amina"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/submissions"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{websession.COOKIE}=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert demo.keys["amina"] not in cookie  # the key itself never goes into the cookie
    page = c.get("/submissions")
    assert page.status_code == 200
    assert "Signed in as" in page.text
    assert "amina" in page.text
    assert "ke-health-scorecard-2024" in page.text
    # the CSRF token was renewed at sign-in (no fixation): the session's token, under the mask
    assert websession.unmasked_csrf(csrf(c, "/submissions")) != websession.unmasked_csrf(token)


def test_pages_and_their_assets_are_light_on_a_slow_link(demo: Demo) -> None:
    """Pages, CSS, JavaScript and the JSON API are compressed (#17), with brotli when the client
    takes it, else gzip; what is compressed already is not; the CSS and JavaScript, linked by
    their digest, are kept a year, and only then."""
    c = demo.client
    gz = {"Accept-Encoding": "gzip, br"}
    page = c.get(FLOW, headers=gz)
    assert page.headers["content-encoding"] == "br"
    assert "Accept-Encoding" in page.headers["vary"]
    assert page.num_bytes_downloaded * 4 < len(page.content)  # the dataflow page: tables and SVG
    gzipped = c.get(FLOW, headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert page.num_bytes_downloaded < gzipped.num_bytes_downloaded
    plain = c.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    links = re.findall(r'(?:href|src)="(/static/web\.(?:css|js)\?v=([0-9a-f]+))"', plain.text)
    assert len(links) == 2, links
    for url, digest in links:
        asset = c.get(url, headers=gz)
        assert asset.status_code == 200
        assert asset.headers["content-encoding"] == "br"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert digest == pages.asset_version(url.split("?")[0].rsplit("/", 1)[1])
        for other in (url.split("?")[0], url.replace(digest, "0" * len(digest))):
            # without the digest, or with an old one, the browser must ask again
            assert c.get(other, headers=gz).headers["cache-control"] == "no-cache"
    assert c.get("/api/submissions", headers={**gz, **demo_key(demo, "amina")}).status_code == 200
    sheet = c.get(f"{FLOW}/download?format=xlsx", headers=gz)
    assert sheet.status_code == 200
    assert "content-encoding" not in sheet.headers  # a workbook is a ZIP already
    bundle = c.get(f"{FLOW}/bundle", headers=gz)
    assert bundle.status_code == 200
    assert "content-encoding" not in bundle.headers


def demo_key(demo: Demo, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {demo.keys[user]}"}


def test_the_csrf_token_is_masked_anew_on_every_page(demo: Demo) -> None:
    """Gzipped pages that echo a request could reveal a secret repeated in every page (BREACH):
    each page carries the session's token under a fresh mask, and each masked form is accepted."""
    c = demo.client
    sign_in(c, demo.keys["amina"])
    first, second = csrf(c, "/submissions"), csrf(c, "/submissions")
    assert first != second
    assert websession.unmasked_csrf(first) == websession.unmasked_csrf(second)
    withdraw = f"/versions/{demo.published['kenya-health-scorecard']}/withdraw"
    for token in (first, second):
        r = c.post(withdraw, data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code != 403, r.text
    # the session's token itself, unmasked, is not what a form sends
    raw = websession.unmasked_csrf(first)
    assert raw is not None
    r = c.post("/sign-out", data={"csrf_token": raw}, follow_redirects=False)
    assert r.status_code == 403


def test_secure_cookie_over_https(demo: Demo) -> None:
    c = TestClient(demo.app, base_url="https://testserver")
    r = c.get("/sign-in")
    assert "secure" in r.headers["set-cookie"].lower()


def test_password_sign_in(demo: Demo) -> None:
    from cgd_bridge.server.demo import DEMO_PASSWORD

    c = demo.client
    r = c.post(
        "/sign-in",
        data={"csrf_token": csrf(c), "method": "password", "username": "kamau", "password": "wrong-password"},
    )
    assert r.status_code == 400
    assert "username or password is wrong" in r.text
    assert 'href="#password"' in r.text  # the error summary links to the field
    assert 'aria-invalid="true"' in r.text
    r = c.post(
        "/sign-in",
        data={"csrf_token": csrf(c), "method": "password", "username": "kamau", "password": DEMO_PASSWORD},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/inbox"
    assert c.get("/inbox").status_code == 200


def test_wrong_keys_are_refused_with_plain_words(demo: Demo) -> None:
    c = demo.client
    r = c.post("/sign-in", data={"csrf_token": csrf(c), "method": "key", "api_key": "hello"})
    assert r.status_code == 400
    assert "This is not an API key" in r.text
    r = c.post(
        "/sign-in", data={"csrf_token": csrf(c), "method": "key", "api_key": "cgdb_000000000000_" + "x" * 40}
    )
    assert r.status_code == 400
    assert "not valid (unknown, revoked or expired)" in r.text
    assert c.get("/submissions", follow_redirects=False).status_code == 303


def test_post_without_the_right_csrf_token_is_refused(demo: Demo) -> None:
    c = demo.client
    csrf(c)  # a session exists
    for token in ("", "forged-token-forged-token-forged"):
        r = c.post("/sign-in", data={"csrf_token": token, "method": "key", "api_key": demo.keys["amina"]})
        assert r.status_code == 403
        assert "security token" in r.text
        assert "Traceback" not in r.text
    sign_in(c, demo.keys["kamau"])
    v = demo.published["kenya-health-scorecard"]
    r = c.post(f"/versions/{v}/withdraw", data={"csrf_token": "nope"})
    assert r.status_code == 403
    # a forged session cookie is ignored (signed with another secret): no one is signed in
    forged = websession.SessionData(
        username="admin", key_prefix="x", issued_at=int(dt.datetime.now().timestamp())
    )
    c.cookies.clear()
    c.cookies.set(websession.COOKIE, websession.sign(forged, b"other-secret"))
    assert c.get("/inbox", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_the_session_at_once(demo_db: Demo) -> None:
    demo = demo_db
    c = demo.client
    sign_in(c, demo.keys["amina"])
    assert c.get("/submissions").status_code == 200
    with demo.session() as s:
        orgs.revoke_key(s, prefix=demo.keys["amina"].split("_")[1])
    r = c.get("/submissions", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/sign-in")
    page = c.get("/sign-in")
    assert "Your session ended" in page.text or "Please sign in" in page.text


def test_sign_out(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    token = csrf(c, "/submissions")
    r = c.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/submissions", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_on_the_server(demo_db: Demo) -> None:
    """#14: a copy of the cookie taken before sign-out (another tab, a shared computer, a thief)
    stayed valid for the rest of its 12 hours. Sign-out ends that session in the store; the
    user's other sessions (another browser) go on."""
    demo = demo_db
    c = demo.client
    sign_in(c, demo.keys["amina"])
    copied = c.cookies.get(websession.COOKIE)
    other = TestClient(demo.app)
    sign_in(other, demo.keys["amina"])
    token = csrf(c, "/submissions")
    assert c.post("/sign-out", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    thief = TestClient(demo.app)
    thief.cookies.set(websession.COOKIE, copied)
    r = thief.get("/submissions", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/sign-in")
    assert other.get("/submissions").status_code == 200


def test_a_session_cookie_without_a_session_id_is_not_signed_in(demo: Demo) -> None:
    """Cookies from before sessions had ids cannot be ended on the server: they sign nobody in."""
    c = demo.client
    sign_in(c, demo.keys["amina"])
    data = websession.unsign(c.cookies.get(websession.COOKIE), demo.app.state.bridge.extra["web_secret"])
    assert data is not None
    assert data.session_id
    data.session_id = None
    c.cookies.clear()
    c.cookies.set(websession.COOKIE, websession.sign(data, demo.app.state.bridge.extra["web_secret"]))
    assert c.get("/submissions", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------- roles and what the public sees


def test_a_cso_cannot_see_the_nso_inbox_and_an_nso_cannot_submit(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = c.get("/inbox")
    assert r.status_code == 403
    assert "only for NSO reviewers" in r.text
    sign_in(c, demo.keys["kamau"])
    r = c.get("/submit")
    assert r.status_code == 403
    assert "only for CSO submitters" in r.text
    assert c.get("/pulls").status_code == 403  # KNBS is not a CSO


def test_the_demo_mous_grant_raw_files_to_knbs_for_the_aggregate_scorecard_only(demo: Demo) -> None:
    """Sauti's MoU grants KNBS its uploads (aggregate data); Youth Voices' does not grant CBS Nepal
    the survey (microdata, which no NSO gets anyway); each side reads the term on /mous (#12)."""
    knbs, cbs = TestClient(demo.app), TestClient(demo.app)  # type: ignore[arg-type]
    sign_in(knbs, demo.keys["kamau"])
    sign_in(cbs, demo.keys["bikash"])
    kenya, nepal = demo.published["kenya-health-scorecard"], demo.published["nepal-youth-survey"]
    page = knbs.get(f"/versions/{kenya}")
    assert "Files as uploaded" in page.text
    (link,) = re.findall(rf'href="(/versions/{kenya}/files/\d+)">data.csv<', page.text)
    got = knbs.get(link)
    assert got.status_code == 200
    assert got.content == (KENYA / "data.csv").read_bytes()
    assert "Your office may download this CSO&#39;s uploaded files: yes" in knbs.get("/mous").text
    assert "Files as uploaded" not in cbs.get(f"/versions/{nepal}").text
    assert "Your office may download this CSO&#39;s uploaded files: no" in cbs.get("/mous").text
    amina = TestClient(demo.app)  # type: ignore[arg-type]
    sign_in(amina, demo.keys["amina"])
    assert "This NSO may download your uploaded files: yes" in amina.get("/mous").text


def test_anonymous_sees_public_data_only(demo: Demo) -> None:
    c = demo.client
    r = c.get("/dataflows")
    assert r.status_code == 200
    assert "Citizen-generated data, Kenya" in r.text
    assert FLOW in r.text
    for path in ("/submissions", "/submit", "/inbox", "/pulls"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"] == f"/sign-in?next={path}"
    # a published open version is public; its raw files are not
    v = demo.published["kenya-health-scorecard"]
    page = c.get(f"/versions/{v}")
    assert page.status_code == 200
    assert "Files as uploaded" not in page.text
    assert c.get(f"/versions/{v}/files/1").status_code == 404


def test_embargoed_and_withdrawn_data_is_never_shown(demo_db: Demo) -> None:
    demo = demo_db
    c = demo.client
    # a new version, published but under embargo: the public does not see it, the producer does
    sign_in(c, demo.keys["amina"])
    r = upload_kenya(c, revision_note="Embargoed re-release.", follow_redirects=False)
    assert r.status_code == 303, r.text
    v2 = int(r.headers["location"].rsplit("/", 1)[1])
    with demo.session() as s:
        amina = Principal.of(orgs.get_user(s, username="amina"))
        kamau = Principal.of(orgs.get_user(s, username="kamau"))
        submissions.set_embargo(
            s, principal=amina, version_id=v2, until=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        )
        submissions.accept(s, principal=kamau, version_id=v2)
        submissions.publish(s, principal=kamau, version_id=v2)
    assert c.get(f"/versions/{v2}").status_code == 200  # the producer
    public = TestClient(demo.app)
    assert public.get(f"/versions/{v2}").status_code == 404
    r = public.get("/dataflows")
    assert "Citizen-generated data, Kenya" not in r.text  # v1 is superseded, v2 embargoed: nothing to pull
    assert public.get(FLOW).status_code == 404
    # nor through the spreadsheet, the labelled CSV and the bundle (#17), page or JSON API
    api = "/api/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/download"
    for fmt in ("xlsx", "sdmx-csv-labels"):
        assert public.get(f"{FLOW}/download", params={"format": fmt}).status_code == 404, fmt
    assert public.get(f"{FLOW}/bundle").status_code == 404
    for fmt in ("xlsx", "sdmx-csv-labels", "bundle"):
        r = public.get(api, params={"format": fmt})
        assert r.status_code == 404, (fmt, r.status_code, r.text[:200])
        assert r.json()["error"]["status"] == 404
    # withdrawn: hidden from the MoU's NSO too
    token = csrf(c, f"/versions/{v2}")
    r = c.post(
        f"/versions/{v2}/withdraw", data={"csrf_token": token, "comment": "wrong"}, follow_redirects=False
    )
    assert r.status_code == 303
    nso = TestClient(demo.app)
    sign_in(nso, demo.keys["kamau"])
    assert nso.get(f"/versions/{v2}").status_code == 404
    assert "Citizen-generated data, Kenya" not in nso.get("/dataflows").text


# ---------------------------------------------------------------- upload, report, review


def test_a_broken_upload_shows_the_report_and_stores_nothing(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    before = c.get("/submissions").text.count("/versions/")
    r = upload_kenya(
        c, revision_note="retry", data=ROOT / "examples" / "broken" / "total-mismatch" / "data.csv"
    )
    assert r.status_code == 422
    assert "nothing was stored" in r.text
    assert "total-mismatch" in r.text
    assert "Parts do not add up to the total" in r.text
    assert "Correct the total or the parts" in r.text  # each finding's fix
    assert 'data-code="total-mismatch"' in r.text  # the group the filter shows or hides
    assert c.get("/submissions").text.count("/versions/") == before


def test_missing_files_and_revision_note_are_named_in_the_error_summary(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = c.post(
        "/submit",
        data={"csrf_token": csrf(c, "/submit"), "mapping_choice": ""},
        files={"x": ("", b"", "text/plain")},
    )
    assert r.status_code == 400
    for field in ("data", "metadata", "mapping_choice"):
        assert f'href="#{field}"' in r.text
        assert f'id="{field}-error"' in r.text
    # a second version without a revision note: the store's rule, shown on the field
    r = upload_kenya(c)
    assert r.status_code == 400
    assert 'href="#revision_note"' in r.text
    assert "revision note" in r.text


def test_submit_review_accept_publish_download(demo_db: Demo) -> None:
    demo = demo_db
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = upload_kenya(c, revision_note="Kilifi tallies reconciled.")
    assert r.status_code == 200
    assert "was stored and sent for review" in r.text
    assert "submitted" in r.text
    vid = int(re.search(r"/versions/(\d+)/withdraw", r.text).group(1))
    assert f'action="/versions/{vid}/accept"' not in r.text  # the CSO cannot accept its own data

    # an NSO without an MoU sees nothing of it, nor does the public, before publication
    other = TestClient(demo.app)
    sign_in(other, demo.keys["bikash"])
    assert other.get(f"/versions/{vid}").status_code == 404
    assert f"/versions/{vid}" not in other.get("/inbox").text
    assert TestClient(demo.app).get(f"/versions/{vid}").status_code == 404

    nso = TestClient(demo.app)
    sign_in(nso, demo.keys["kamau"])
    inbox = nso.get("/inbox")
    assert f"/versions/{vid}" in inbox.text
    review = nso.get(f"/versions/{vid}")
    for words in ("DSAT score", "10/15", "Mapping coverage", "Quality metadata", "<svg", "Validation report"):
        assert words in review.text, words
    token = csrf(nso, f"/versions/{vid}")
    r = nso.post(f"/versions/{vid}/reject", data={"csrf_token": token, "comment": "  "})
    assert r.status_code == 400
    assert 'href="#comment-reject"' in r.text
    r = nso.post(f"/versions/{vid}/accept", data={"csrf_token": token, "comment": "Consistent with v1."})
    assert "was accepted" in r.text
    r = nso.post(f"/versions/{vid}/publish", data={"csrf_token": token})
    assert "was published" in r.text
    # the CSO sees the comment and the new state
    mine = c.get("/submissions").text
    assert "Consistent with v1." in mine
    assert "published" in mine
    # download: an SDMX answer, logged as a pull the CSO sees
    r = TestClient(demo.app).get(f"{FLOW}/download?REF_AREA=KE_042&SEX=F&format=sdmx-csv-2.0")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.sdmx.data+csv")
    assert "Accept" in r.headers["vary"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows
    assert {(row["REF_AREA"], row["SEX"]) for row in rows} == {("KE_042", "F")}
    # the version page links the dataflow's spreadsheet and bundle (#17); the spreadsheet holds
    # the observations of the SDMX-CSV of the same published view, with names beside the codes
    review = nso.get(f"/versions/{vid}").text
    assert f"{FLOW}/download?format=xlsx" in review
    assert f"{FLOW}/bundle" in review
    sheet = TestClient(demo.app).get(f"{FLOW}/download?format=xlsx")
    assert sheet.status_code == 200, sheet.text[:300]
    data = list(openpyxl.load_workbook(io.BytesIO(sheet.content))["Data"].iter_rows(values_only=True))
    plain = list(csv.DictReader(io.StringIO(TestClient(demo.app).get(f"{FLOW}/download").text)))
    header = list(data[0])
    assert len(data) - 1 == len(plain)
    area = header.index("Reference area (code)")
    assert header[area - 1] == "Reference area"
    got = sorted(
        (r[area], r[area - 1], r[header.index("Period")], r[header.index("Value")]) for r in data[1:]
    )
    kisumu = {r[1] for r in got if r[0] == "KE_042"}
    assert kisumu == {"Kisumu"}
    want = [
        (r["REF_AREA"], r["TIME_PERIOD"], float(r["OBS_VALUE"]) if r["OBS_VALUE"] else None) for r in plain
    ]
    assert sorted((a, p, v) for a, _name, p, v in got) == sorted(want)
    assert demo.app.state.bridge.audit.flush()  # pulls are written in the background
    pulls = html.unescape(c.get("/pulls").text)
    # in words, not a query string; the public apart from organisations (#17)
    assert "The public (no sign-in), by month" in pulls
    said = re.search(r"Someone without an account downloaded ([^<]*), as SDMX-CSV 2\.0", pulls)
    assert said is not None, pulls
    assert "Kisumu" in said.group(1)
    assert "Female" in said.group(1)
    assert "format=sdmx-csv-2.0" not in pulls
    # the version's history shows the pulls to the producer only
    assert "data.pulled" in c.get(f"/versions/{vid}").text
    assert "data.pulled" not in nso.get(f"/versions/{vid}").text
    assert "data.pulled" not in TestClient(demo.app).get(f"/versions/{vid}").text


def test_dataflow_page_filters_and_shows_the_sdmx_urls(demo: Demo) -> None:
    r = demo.client.get(f"{FLOW}?REF_AREA=KE_042&SEX=F&startPeriod=2024")
    assert r.status_code == 200
    text = r.text
    assert "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/..." in text
    assert "KE_042" in text
    assert "startPeriod=2024" in text
    assert "c[REF_AREA]=KE_042" in text
    for fmt in (
        "sdmx-csv-1.0",
        "sdmx-csv-2.0",
        "sdmx-ml-2.1-ss",
        "sdmx-ml-3.0-ss",
        "sdmx-json-2.0",
        "sdmx-ml-2.1-generic",
        "sdmx-ml-2.1-generic-ts",
        "sdmx-ml-2.1-ss-ts",
        "sdmx-json-1.0",
    ):
        assert f"format={fmt}" in text
    for fmt, media in (
        ("sdmx-ml-2.1-ss-ts", "structurespecifictimeseriesdata"),
        ("sdmx-json-1.0", "version=1.0.0"),
    ):
        got = demo.client.get(f"{FLOW}/download?REF_AREA=KE_042&SEX=F&format={fmt}")
        assert got.status_code == 200, got.text[:300]
        assert media in got.headers["content-type"]
    assert "<svg" in text
    assert 'role="img"' in text
    assert "Kisumu" in text  # codes shown with their names
    assert "DSAT score" in text  # the quality of each source, for the public too
    assert "purposive" in text
    # the v1 URL shown really answers with the same observations
    url = re.search(r'id="sdmx-v1" value="([^"]+)"', text).group(1).replace("&amp;", "&")
    sdmx = demo.client.get(url.replace("http://testserver", ""))
    assert sdmx.status_code == 200
    shown = int(re.search(r"(\d+) observations match", text).group(1))
    assert len(sdmx.text.strip().splitlines()) - 1 == shown
    bad = demo.client.get(f"{FLOW}?SEX=not%20a%20code!")
    assert bad.status_code == 400
    assert "is not a code" in bad.text


def test_each_chart_downloads_as_svg_and_csv_with_the_page_filters(demo: Demo) -> None:
    """#17: under each chart, the chart as an SVG file and the numbers behind it as CSV, of the
    slice the page's filters chose, on the dataflow page and on a version's page."""
    import xml.etree.ElementTree as ET

    page = demo.client.get(f"{FLOW}?REF_AREA=KE_042")
    assert f'href="{FLOW}/chart/1.svg?REF_AREA=KE_042"' in page.text
    assert f'href="{FLOW}/chart/1.csv?REF_AREA=KE_042"' in page.text
    kisumu = demo.client.get(f"{FLOW}/chart/1.csv?REF_AREA=KE_042")
    assert kisumu.status_code == 200
    assert kisumu.headers["content-type"].startswith("text/csv")
    assert "attachment" in kisumu.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(kisumu.content.decode("utf-8-sig"))))
    assert rows
    assert {r["Source"] for r in rows} == {"CGD"}
    assert {r["Unit"] for r in rows} == {"Percent (PT)"}  # the unit of UNIT_MEASURE, named
    assert "Persons with disability" in {r.get("Disability status") for r in rows}
    other = demo.client.get(f"{FLOW}/chart/1.csv?REF_AREA=KE_003")
    assert other.status_code == 200
    assert other.content != kisumu.content  # another slice, other numbers
    svg = demo.client.get(f"{FLOW}/chart/1.svg?REF_AREA=KE_042")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content.split(b"?>", 1)[1])
    assert root.get("width") == "720"
    missing = demo.client.get(f"{FLOW}/chart/9.svg")
    assert missing.status_code == 404
    assert "there is no chart 9" in missing.text
    assert demo.client.get(f"{FLOW}/chart/1.gif").status_code == 404
    # a version's page: the same filter form (check boxes, the choice kept) and files
    v = demo.published["kenya-health-scorecard"]
    version = demo.client.get(f"/versions/{v}?SEX=F")
    assert version.status_code == 200
    assert 'type="checkbox" name="SEX" value="F" checked' in version.text
    assert "<select" not in version.text.split('id="charts-title"', 1)[1].split("</form>", 1)[0]
    got = demo.client.get(f"/versions/{v}/chart/1.csv?SEX=F&SEX=M")
    assert got.status_code == 200
    sexes = {r["Sex code"] for r in csv.DictReader(io.StringIO(got.content.decode("utf-8-sig")))}
    assert sexes == {"F", "M"}
    whole = demo.client.get(f"/versions/{v}/chart/1.csv")
    assert whole.content != got.content
    assert demo.client.get("/versions/999999/chart/1.svg").status_code == 404


def test_pages_have_no_outside_assets_and_a_strict_csp(demo: Demo) -> None:
    r = demo.client.get(FLOW)
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', r.text)
    assert '<html lang="en" dir="ltr">' in r.text
    assert 'href="#main"' in r.text
    assert demo.client.get("/static/web.css").status_code == 200
    assert demo.client.get("/static/web.js").status_code == 200


# ---------------------------------------------------------------- language, charts, session units


def test_language_from_query_setting_and_accept_language() -> None:
    assert i18n.choose(None, None) == "en"
    assert i18n.choose(None, "sw-KE,sw;q=0.9,en;q=0.5") == "sw"
    assert i18n.choose(None, "fr-FR,ne;q=0.7,en;q=0.5") == "ne"
    assert i18n.choose("en", "sw") == "en"
    assert i18n.choose("xx", "fr;q=0.8,sw;q=0") == "en"
    assert i18n.choose(None, "sw", setting="bn") == "bn"  # the person's setting before the browser's
    assert i18n.choose("ne", "sw", setting="bn") == "ne"
    assert i18n.translator("sw")("Sign in") == "Ingia"
    assert i18n.translator("sw")("no such message {n}", n=2) == "no such message 2"  # English fallback


def test_pages_are_rendered_in_the_chosen_language(demo: Demo) -> None:
    sw = i18n.translator("sw")
    assert sw("Published data") != "Published data"
    r = demo.client.get("/dataflows", headers={"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"})
    assert '<html lang="sw" dir="ltr">' in r.text
    assert sw("Published data") in r.text
    assert r.headers["content-language"] == "sw"
    # ?lang= is kept in the session as the person's setting, over the browser's language
    r = demo.client.get("/dataflows?lang=ne")
    assert '<html lang="ne" dir="ltr">' in r.text
    r = demo.client.get("/dataflows", headers={"Accept-Language": "sw"})
    assert '<html lang="ne" dir="ltr">' in r.text
    assert i18n.translator("ne")("Published data") in r.text
    r = demo.client.get("/dataflows?lang=en")
    assert '<html lang="en" dir="ltr">' in r.text


def test_dates_and_numbers_follow_the_page_language(demo: Demo) -> None:
    iso = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
    english = demo.client.get(f"{FLOW}?lang=en").text
    published = dt.datetime.strptime(iso.search(english).group(), "%Y-%m-%d %H:%M UTC")
    for lang in ("sw", "bn"):
        page = demo.client.get(f"{FLOW}?lang={lang}").text
        assert not iso.search(page)
        assert str(escape(i18n.translator(lang).date(published))) in page
    bn = demo.client.get(f"{FLOW}?lang=bn").text
    total = int(re.search(r"(\d+) observations match", english).group(1))
    assert i18n.translator("bn")("{n} observations match", n=i18n.translator("bn").number(total)) in bn


def test_the_metadata_form_is_translated(demo: Demo) -> None:
    from cgd_bridge.server.web.metadata_form import texts

    sw = i18n.translator("sw")
    some_help = sorted(t for t in texts() if len(t) > 40)[0]
    assert sw(some_help) != some_help
    sign_in(demo.client, demo.keys["amina"])
    r = demo.client.get("/metadata?lang=sw")
    assert r.status_code == 200, r.text[:300]
    assert str(escape(sw("The dataset"))) in r.text
    assert str(escape(sw(some_help))) in r.text
    assert str(escape(sw("Needed to submit"))) in r.text
    # the errors marked at the fields are in Swahili too, with the person's data as typed
    r = demo.client.post(
        "/metadata?lang=sw",
        data={"csrf_token": csrf(demo.client, "/metadata"), "action": "check", "dataset.id": "Bad Id!"},
    )
    assert r.status_code == 422
    # in plain words, by the field's label: never its YAML path
    missing = sw("This is needed to submit: fill it in.")
    assert missing != "This is needed to submit: fill it in."
    assert str(escape(missing)) in r.text
    assert str(escape(sw("Version number"))) in r.text
    assert "dataset.version" not in re.sub(r'(data-path|name)="[^"]*"', "", r.text).split("md-report")[0]


def test_json_answers_and_stored_reports_in_the_chosen_language(demo: Demo) -> None:
    """Accept-Language: sw gives Swahili messages in the JSON API with the codes unchanged; a
    report stored in English is shown in Swahili from its templates."""
    from cgd_bridge.server.web.views import group_report

    sw = i18n.translator("sw")
    broken = ROOT / "examples" / "broken" / "missing-value" / "data.csv"
    kenya = ROOT / "examples" / "kenya-health-scorecard"
    files = {
        "data": ("data.csv", broken.read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", (kenya / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": (
            "mapping.yaml",
            (ROOT / "mappings/kenya-health-scorecard.yaml").read_bytes(),
            "text/yaml",
        ),
    }
    headers = {"Authorization": f"Bearer {demo.keys['amina']}", "Accept-Language": "sw-KE,sw;q=0.9"}
    r = demo.client.post("/api/validate", files=files, headers=headers)
    assert r.status_code == 200, r.text[:300]
    report = r.json()["report"]
    assert report["cgd:lang"] == "sw"
    found = [e for t in report["tasks"] for e in t["errors"] if e["type"] == "missing-value"]
    assert found
    english_fix = (
        "Fill in the value; if it is unknown, ask the NSO which code to use (often _U for 'unknown')."
    )
    assert found[0]["fix"] == sw(english_fix) != english_fix
    assert found[0]["title"] == sw("Missing required value")
    assert found[0]["cgd:english"]["fix"] == english_fix
    # stored in English (as the store keeps it), shown in Swahili
    stored = demo.client.post(
        "/api/validate", files=files, headers={"Authorization": headers["Authorization"]}
    )
    view = group_report(stored.json()["report"], sw)
    group = next(g for g in view.groups if g.code == "missing-value")
    assert group.title == sw("Missing required value")
    assert group.findings[0].fix == sw(english_fix)


def test_session_cookie_signature() -> None:
    data = websession.SessionData(username="amina", key_prefix="abc", issued_at=1)
    value = websession.sign(data, b"s3cret")
    assert websession.unsign(value, b"s3cret") == data
    assert websession.unsign(value, b"other") is None
    payload, mac = value.split(".")
    assert websession.unsign(payload[:-2] + "AA." + mac, b"s3cret") is None
    assert websession.unsign("garbage", b"s3cret") is None


def test_the_secret_is_created_once_and_shared(tmp_path: Path) -> None:
    first = websession.load_secret(None, tmp_path)
    assert websession.load_secret(None, tmp_path) == first
    assert (tmp_path / websession.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert websession.load_secret("configured", tmp_path) == b"configured"


def _obs(periods: list[str]) -> pa.Table:
    rows = [
        {
            "SERIES": "S1",
            "REF_AREA": area,
            "SEX": sex,
            "DISABILITY_STATUS": dis,
            "TIME_PERIOD": p,
            "OBS_VALUE": v,
        }
        for p in periods
        for area in ("A1", "A2")
        for sex, dis, v in (("F", "PD", 10.0), ("F", "PWD", 20.0), ("_T", "_T", 15.0))
    ]
    return pa.Table.from_pylist(rows)


def test_chart_is_a_line_chart_over_time_with_fixed_dimensions_named() -> None:
    charts = chart.series_charts(
        _obs(["2022", "2023", "2024"]),
        ["SERIES", "REF_AREA", "SEX", "DISABILITY_STATUS"],
        names={"DISABILITY_STATUS": {"PD": "Persons with disability"}},
        concepts={"REF_AREA": "Reference area"},
    )
    assert len(charts) == 1
    c = charts[0]
    assert c.kind == "line"
    assert c.fixed == [("Reference area", "A1")]  # no total in the data: its first code
    assert c.svg.count("<polyline") == 3  # one line per combination of sex and disability status
    assert ">Persons with disability, F</text>" in c.svg  # the legend names the line, codes in its tooltip
    assert "<title>Persons with disability, F [PD, F]</title>" in c.svg
    assert 'role="img"' in c.svg
    assert "<title" in c.svg
    assert len(c.rows) == 9


def test_chart_of_one_period_is_a_bar_chart() -> None:
    c = chart.series_charts(_obs(["2024"]), ["SERIES", "REF_AREA", "SEX", "DISABILITY_STATUS"])[0]
    assert c.kind == "bar"
    assert c.svg.count("<rect") == 3
    assert chart.series_charts(_obs([]), ["SERIES"]) == []


def test_a_kobo_export_with_its_xlsform_can_be_checked(demo: Demo) -> None:
    nepal = ROOT / "examples" / "nepal-youth-survey"
    c = demo.client
    sign_in(c, demo.keys["sita"])
    r = c.post(
        "/submit",
        data={
            "csrf_token": csrf(c, "/submit"),
            "mapping_choice": "nepal-youth-survey.yaml",
            "action": "check",
        },
        files={
            "data": ("data.xlsx", (nepal / "data.xlsx").read_bytes(), "application/octet-stream"),
            "form": ("form.xlsx", (nepal / "form.xlsx").read_bytes(), "application/octet-stream"),
            "metadata": ("quality.yaml", (nepal / "quality.yaml").read_bytes(), "application/yaml"),
        },
    )
    assert r.status_code == 200, r.text
    assert "The dataset is valid" in r.text
    assert "data.xlsx" in r.text
    assert 'data-code="system-column"' in r.text  # Kobo system columns, known from the export


def test_an_unexpected_failure_is_a_plain_500_page(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    from cgd_bridge.server.web import routes

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(routes.access, "readable_versions", broken)
    r = TestClient(demo.app, raise_server_exceptions=False).get("/dataflows")
    assert r.status_code == 500
    assert "the error has been logged" in r.text
    assert "boom" not in r.text
    assert "Traceback" not in r.text


# ---------------------------------------------------------------- the metadata form


def test_the_metadata_form_loads_checks_and_saves(demo: Demo, tmp_path: Path) -> None:
    import yaml

    from cgd_bridge.metadata.load import load_metadata

    c = demo.client
    page = c.get("/metadata")
    assert page.status_code == 200
    assert 'name="dataset.id"' in page.text
    assert "A short identifier for the dataset" in page.text  # the template's help texts
    assert "Needed to submit" in page.text
    token = csrf(c, "/metadata")
    assert c.post("/metadata", data={"csrf_token": "x", "action": "check"}).status_code == 403
    # an existing file goes into the form, and is checked
    r = c.post(
        "/metadata",
        data={"csrf_token": token, "action": "load"},
        files={"existing": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml")},
    )
    assert r.status_code == 200
    assert "complete for submission" in r.text
    assert 'value="ke-health-scorecard-2024"' in r.text
    # a wrong value is marked at its field and linked from the summary
    r = c.post(
        "/metadata",
        data={"csrf_token": token, "action": "check", "dataset.id": "Bad Id!", "producer.type": "CSO"},
    )
    assert r.status_code == 422
    assert 'href="#md-dataset-id"' in r.text
    assert 'id="md-dataset-id-error"' in r.text
    assert re.search(r'id="md-dataset-id"[^>]*aria-invalid="true"', r.text)
    # saving gives the YAML file the checks read, with what the form had
    form = {
        "csrf_token": token,
        "action": "save",
        "dataset.id": "my-survey-2025",
        "dataset.title.en": "My survey",
        "dataset.title.sw": "Utafiti wangu",
        "participation.stages": ["design", "collection"],
        "population.groups.0.code": "PD",
        "population.groups.1.code": "",
        "consent.obtained": "yes",
    }
    r = c.post("/metadata", data=form)
    assert r.status_code == 200
    assert 'filename="my-survey-2025.quality.yaml"' in r.headers["content-disposition"]
    saved = yaml.safe_load(r.text)
    assert saved["dataset"] == {"id": "my-survey-2025", "title": {"en": "My survey", "sw": "Utafiti wangu"}}
    assert saved["participation"]["stages"] == ["design", "collection"]
    assert saved["population"]["groups"] == [{"code": "PD"}]
    assert saved["consent"]["obtained"] is True
    path = tmp_path / "saved.yaml"
    path.write_text(r.text, encoding="utf-8")
    loaded = load_metadata(path)
    assert not [f for f in loaded.findings if f.code == "metadata-invalid-value"]


def test_a_file_that_is_not_metadata_is_named_with_the_fix(demo: Demo) -> None:
    c = demo.client
    r = c.post(
        "/metadata",
        data={"csrf_token": csrf(c, "/metadata"), "action": "load"},
        files={"existing": ("notes.yaml", b"- just\n- a list\n", "application/yaml")},
    )
    assert r.status_code == 400
    assert "notes.yaml" in r.text
    assert 'href="#existing"' in r.text
    assert "Traceback" not in r.text


def test_an_alias_bomb_sent_anonymously_is_refused_at_once(demo: Demo) -> None:
    """342 bytes of nested YAML aliases took a worker to gigabytes and a 500 after 34 s (#14)."""
    from tests.unit.test_safeyaml import BILLION_LAUGHS

    c = demo.client
    r = c.post(
        "/metadata",
        data={"csrf_token": csrf(c, "/metadata"), "action": "load"},
        files={"existing": ("bomb.yaml", BILLION_LAUGHS.encode(), "application/yaml")},
    )
    assert r.status_code == 400
    assert "bomb.yaml" in r.text
    assert "aliases" in r.text


def test_an_alias_bomb_uploaded_to_submit_is_named_on_its_field(demo: Demo) -> None:
    """The same bomb as a dataset's metadata file on /submit (#14): read in a worker process,
    refused at once, named on the form; nothing stored."""
    from tests.unit.test_safeyaml import BILLION_LAUGHS

    c = demo.client
    sign_in(c, demo.keys["amina"])
    before = c.get("/submissions").text.count("/versions/")
    upload = {**files(), "metadata": ("bomb.yaml", BILLION_LAUGHS.encode(), "application/yaml")}
    form = {"csrf_token": csrf(c, "/submit"), "mapping_choice": "kenya-health-scorecard.yaml"}
    r = c.post("/submit", data=form, files=upload)
    assert r.status_code == 400, r.text[:2000]
    assert "bomb.yaml" in r.text
    assert "aliases" in r.text
    assert 'href="#metadata"' in r.text
    assert "Traceback" not in r.text
    assert c.get("/submissions").text.count("/versions/") == before


def test_the_metadata_form_round_trips_the_kenya_record() -> None:
    import yaml

    from cgd_bridge.server.web import metadata_form

    record = yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8"))
    posted: dict[str, list[str]] = {}

    def post(widgets: list[metadata_form.Widget]) -> None:
        for w in widgets:
            if w.kind in ("section", "entries"):
                post(w.children)
            elif w.kind == "languages":
                posted.update({f"{w.path}.{k}": [v] for k, v in w.value.items()})
            elif w.kind == "checkboxes":
                posted[w.path] = list(w.value)
            else:
                posted[w.path] = [w.value]

    post(metadata_form.form_fields(record))
    back = metadata_form.record_from_form(posted)
    # YAML 1.1 reads the DSAT answers yes/no as booleans; the form writes the words
    ethics = record["quality"]["self_assessment"]["ethics"]
    record["quality"]["self_assessment"]["ethics"] = {k: "yes" if v is True else v for k, v in ethics.items()}

    # and dates come back as their ISO text
    def plain(value: object) -> object:
        return json.loads(json.dumps(value, default=str))

    assert plain(yaml.safe_load(metadata_form.to_yaml(back))) == plain(record)


def test_sign_in_attempts_are_throttled_per_address(demo: Demo) -> None:
    from cgd_bridge.server.web.routes import SIGN_IN_PER_MINUTE

    c = demo.client
    token = csrf(c)
    demo.clock.freeze()  # however slow the password checks, no attempt comes back within the minute
    wrong = {"csrf_token": token, "method": "password", "username": "kamau", "password": "guess-guess"}
    assert all(c.post("/sign-in", data=wrong).status_code == 400 for _ in range(SIGN_IN_PER_MINUTE))
    r = c.post("/sign-in", data=wrong)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == str(60 // SIGN_IN_PER_MINUTE)  # until the next attempt is back
    assert "too many sign-in attempts" in r.text
    demo.clock.advance(dt.timedelta(seconds=60 // SIGN_IN_PER_MINUTE))
    assert c.post("/sign-in", data=wrong).status_code == 400  # one more attempt, a token later


def form_of_record(record: dict[str, Any]) -> dict[str, Any]:
    """What a browser posts for the metadata form filled with ``record``: every input."""
    from cgd_bridge.server.web import metadata_form

    posted: dict[str, Any] = {}

    def post(widgets: list[metadata_form.Widget]) -> None:
        for w in widgets:
            if w.kind in ("section", "entries"):
                post(w.children)
            elif w.kind == "languages":
                posted.update({f"{w.path}.{k}": v for k, v in w.value.items()})
            elif w.kind == "checkboxes":
                posted[w.path] = list(w.value)
            else:
                posted[w.path] = w.value

    post(metadata_form.build(record).widgets)
    return posted


def test_the_metadata_form_feeds_the_submit_page(demo: Demo) -> None:
    import html

    import yaml

    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = c.post(
        "/metadata",
        data={"csrf_token": csrf(c, "/metadata"), "action": "load"},
        files={"existing": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml")},
    )
    assert "Submit data with this metadata" in r.text
    # the button carries the record as the form has it now (every field posted) to the submit page
    form = form_of_record(yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8")))
    r = c.post("/metadata", data={**form, "csrf_token": csrf(c, "/metadata"), "action": "submit"})
    assert r.status_code == 200, r.text[:3000]
    assert "filled in on the form is used" in r.text
    text = html.unescape(
        re.search(r'<textarea[^>]*name="metadata_text"[^>]*>(.*?)</textarea>', r.text, re.S).group(1)
    )
    assert "ke-health-scorecard-2024" in text
    token = csrf(c, "/submit")
    r = c.post("/submit", data={"csrf_token": token, "action": "prepare", "metadata_text": text})
    assert r.status_code == 200
    assert "filled in on the form is used" in r.text
    assert "ke-health-scorecard-2024" in r.text
    data = KENYA / "data.csv"
    r = c.post(
        "/submit",
        data={
            "csrf_token": token,
            "action": "submit",
            "metadata_text": text,
            "mapping_choice": "kenya-health-scorecard.yaml",
            "revision_note": "Metadata from the web form.",
        },
        files={"data": (data.name, data.read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"]).text
    assert "was stored and sent for review" in page
    assert ">quality.yaml</a>" in page  # the record is stored as the version's metadata file


def test_the_producer_sets_and_lifts_the_embargo(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = upload_kenya(c, revision_note="With an embargo.", action="draft", follow_redirects=False)
    vid = int(r.headers["location"].rsplit("/", 1)[1])
    token = csrf(c, f"/versions/{vid}")
    r = c.post(f"/versions/{vid}/embargo", data={"csrf_token": token, "until": "next tuesday"})
    assert r.status_code == 400
    assert 'href="#until"' in r.text
    r = c.post(f"/versions/{vid}/embargo", data={"csrf_token": token, "until": "2031-03-01T06:00"})
    assert "embargo of version 2 was changed" in r.text
    assert "2031-03-01 06:00 UTC" in r.text
    with demo.session() as s:
        assert submissions.get_version(s, principal=None, version_id=demo.published["kenya-health-scorecard"])
        v = s.get(submissions.Version, vid)
        assert v.embargo_until == dt.datetime(2031, 3, 1, 6, 0, tzinfo=dt.UTC)
    r = c.post(f"/versions/{vid}/embargo", data={"csrf_token": token, "until": ""})
    assert "Embargo until</dt>" not in r.text
    # the NSO gets no embargo form, and the store refuses it anyway
    nso = TestClient(demo.app)
    sign_in(nso, demo.keys["kamau"])
    r = nso.post(
        f"/versions/{vid}/embargo", data={"csrf_token": csrf(nso, "/inbox"), "until": "2031-01-01T00:00"}
    )
    assert r.status_code == 404  # a draft: the NSO does not even see it


def test_an_unwritable_data_folder_names_the_secret_setting(tmp_path: Path) -> None:
    from cgd_bridge.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="CGD_BRIDGE_SECRET_KEY"):
        websession.load_secret(None, blocker / "data")


def test_the_review_page_shows_what_changed_since_the_previous_version(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    r = upload_kenya(c, revision_note="Sent again.")
    assert r.status_code == 200, r.text
    assert "Changes since version 1" in r.text
    assert "0 observation(s) added, 0 removed, 0 with a new value, 180 the same." in r.text


def test_compare_counts_added_removed_and_changed_observations() -> None:
    from cgd_bridge.server.web.views import compare

    before = pa.table({"SEX": ["F", "M", "_T"], "TIME_PERIOD": ["2024"] * 3, "OBS_VALUE": [1.0, 2.0, None]})
    after = pa.table({"SEX": ["F", "M", "X"], "TIME_PERIOD": ["2024"] * 3, "OBS_VALUE": [1.0, 2.5, 3.0]})
    changes = compare(before, after, ["SEX"], 1)
    assert changes is not None
    assert (changes.added, changes.removed, changes.changed, changes.same) == (1, 1, 1, 1)
    assert changes.examples == [("M", "2024", 2.0, 2.5)]
    suppressed = pa.table(
        {"SEX": ["_T"], "TIME_PERIOD": ["2024"], "OBS_VALUE": pa.array([None], pa.float64())}
    )
    assert compare(suppressed, suppressed, ["SEX"], 1).same == 1  # two suppressed cells are the same
    assert compare(before, after, ["AGE"], 1) is None
    empty = before.slice(0, 0)  # a version with no observations (all dropped or suppressed away)
    gone = compare(before, empty, ["SEX"], 1)
    assert (gone.added, gone.removed, gone.changed, gone.same) == (0, 3, 0, 0)
    new = compare(empty, after, ["SEX"], 1)
    assert (new.added, new.removed, new.changed, new.same) == (3, 0, 0, 0)


# ---------------------------------------------------------------- official series (#5)


def _official_form(c: TestClient, version_id: int, content: bytes, **extra: str):
    token = csrf(c, f"/versions/{version_id}")
    return c.post(
        "/official",
        data={"csrf_token": token, "version_id": str(version_id), "label": "KNBS KDHS 2022", **extra},
        files={"file": ("kdhs.csv", content, "text/csv")},
        follow_redirects=True,
    )


def test_an_nso_loads_an_official_series_and_the_review_chart_shows_it(demo_db: Demo) -> None:
    from tests.support.official import official_csv

    c = demo_db.client
    v = demo_db.published["kenya-health-scorecard"]
    sign_in(c, demo_db.keys["kamau"])
    page = c.get(f"/versions/{v}")
    assert 'action="/official"' in page.text
    r = _official_form(c, v, official_csv())
    assert r.status_code == 200, r.text
    assert "The official series &#39;KNBS KDHS 2022&#39; (60 observations) was loaded." in r.text
    # in the chart, in its legend/labels, in the caption and in the table, named, not colour alone
    assert 'class="official"' in r.text
    assert ">Official: No breakdown, Female</text>" in r.text  # bar label: names, not codes
    assert "Official: No breakdown, Female [_T, F] (KNBS KDHS 2022): 31.6%" in r.text  # its tooltip
    assert "hatched bars, each below the bar it matches" in r.text
    assert "matched at" in r.text
    assert '<tr class="official"><td>Official: KNBS KDHS 2022</td>' in r.text
    # private: the CSO and the public do not see it, here or on the dataflow page
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    assert "KNBS KDHS 2022" not in c.get(FLOW).text
    sign_in(c, demo_db.keys["amina"])
    assert "KNBS KDHS 2022" not in c.get(f"/versions/{v}").text
    assert 'action="/official"' not in c.get(f"/versions/{v}").text  # a CSO may not load
    with demo_db.session() as s:
        from cgd_bridge.store.models import OfficialSeries

        series_id = s.query(OfficialSeries).one().id
    assert c.get(f"/official/{series_id}/file").status_code == 404
    # the NSO makes it public: now everyone sees it beside the published data
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    sign_in(c, demo_db.keys["kamau"])
    r = c.post(
        f"/official/{series_id}/public",
        data={"csrf_token": csrf(c, f"/versions/{v}"), "public": "1", "next": f"/versions/{v}"},
        follow_redirects=True,
    )
    assert "is now public" in r.text
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    public = c.get(FLOW)
    assert "Official: No breakdown, Female" in public.text
    assert c.get(f"/official/{series_id}/file").content == official_csv()


def test_a_bad_official_file_is_named_at_the_field_and_nothing_is_stored(demo: Demo) -> None:
    from tests.support.official import broken_csv

    c = demo.client
    v = demo.published["kenya-health-scorecard"]
    sign_in(c, demo.keys["kamau"])
    r = _official_form(c, v, broken_csv())
    assert r.status_code == 400
    assert "There is a problem" in r.text
    assert 'href="#official-file"' in r.text
    assert "row 2, column &#39;SEX&#39;: &#39;Femme&#39; is not a code of IAEG-SDGs:CL_SEX(1.1)" in r.text
    assert "row 4, column &#39;OBS_VALUE&#39;" in r.text
    r = _official_form(c, v, b"", label="")
    assert r.status_code == 400
    assert 'href="#official-label"' in r.text
    assert 'href="#official-file"' in r.text
    with demo.session() as s:
        from cgd_bridge.store.models import OfficialSeries

        assert s.query(OfficialSeries).count() == 0


def test_loading_official_series_needs_the_csrf_token_and_an_nso(demo: Demo) -> None:
    from tests.support.official import official_csv

    c = demo.client
    v = demo.published["kenya-health-scorecard"]
    sign_in(c, demo.keys["kamau"])
    r = c.post(
        "/official",
        data={"csrf_token": "forged", "version_id": str(v), "label": "X"},
        files={"file": ("kdhs.csv", official_csv(), "text/csv")},
    )
    assert r.status_code == 403
    assert "security token" in r.text
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    sign_in(c, demo.keys["amina"])
    r = _official_form(c, v, official_csv())
    assert r.status_code == 403
    assert "only for NSO reviewers" in r.text
    with demo.session() as s:
        from cgd_bridge.store.models import OfficialSeries

        assert s.query(OfficialSeries).count() == 0


def test_chart_draws_the_official_series_beside_with_its_own_style() -> None:
    cgd = _obs(["2022", "2023", "2024"])
    off = pa.Table.from_pylist(
        [
            {
                "SERIES": "S1",
                "REF_AREA": "A1",
                "SEX": sex,
                "DISABILITY_STATUS": "_T",
                "TIME_PERIOD": p,
                "OBS_VALUE": v,
            }
            for p in ("2022", "2024")
            for sex, v in (("F", 12.0), ("_T", 14.0))
        ]
    )
    c = chart.series_charts(
        cgd, ["SERIES", "REF_AREA", "SEX", "DISABILITY_STATUS"], official=[chart.Official("NSO survey", off)]
    )[0]
    assert c.svg.count("<polyline") == 5  # three CGD lines, two official ones (F and _T, disability total)
    assert c.svg.count('class="official"') == 4  # each official line and its markers
    assert f'stroke-dasharray="{chart.OFFICIAL_DASH}"' in c.svg
    assert "Official: _T, F" in c.svg  # disability status first, as the CGD lines
    found = [r[:5] for r in c.official_rows]
    assert ("_T, F", "2022", 12.0, (("DISABILITY_STATUS", "_T"), ("SEX", "F")), "NSO survey") in found
    assert len(c.official_rows) == 4
    # an official series of another SERIES, or disaggregated where the CGD is not, is not drawn
    other = off.set_column(0, "SERIES", pa.array(["S2"] * off.num_rows))
    assert chart.series_charts(cgd, ["SERIES", "REF_AREA", "SEX", "DISABILITY_STATUS"],
                               official=[chart.Official("x", other)])[0].official_rows == []  # fmt: skip


# ---------------------------------------------------------------- metadata drafts on the server (#5)


def _fields_of(page_html: str) -> dict[str, str]:
    """The text inputs of the metadata form with their values (enough to post it back)."""
    import html

    return {
        html.unescape(n): html.unescape(v)
        for n, v in re.findall(r'<input type="text" id="md-[^"]*" name="([^"]+)" value="([^"]*)"', page_html)
        if v
    }


def test_a_cso_saves_resumes_and_deletes_a_metadata_draft(demo_db: Demo) -> None:
    c = demo_db.client
    assert "Save as a draft on the server" not in c.get("/metadata").text  # the public: YAML only
    sign_in(c, demo_db.keys["amina"])
    page = c.get("/metadata")
    assert "No saved drafts yet" in page.text
    token = csrf(c, "/metadata")
    form = {
        "csrf_token": token,
        "action": "store",
        "dataset.id": "my-survey-2025",
        "dataset.title.en": "My survey",
    }
    assert c.post("/metadata", data={**form, "csrf_token": "forged"}).status_code == 403
    r = c.post("/metadata", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/metadata?draft=")
    draft_id = int(r.headers["location"].rsplit("=", 1)[1])
    page = c.get(r.headers["location"])
    assert "The draft &#39;my-survey-2025&#39; was saved on the server." in page.text
    assert "You are editing the saved draft" in page.text
    assert f'name="draft_id" value="{draft_id}"' in page.text
    assert 'value="My survey"' in page.text  # resumed into the form
    # unfinished: no next step yet (the page says how many fields it waits for), and no field
    # marked before the CSO asks for the check
    assert 'value="submit"' not in page.text
    assert "You can submit data with this metadata once" in page.text
    assert 'aria-invalid="true"' not in page.text
    assert "amina" in page.text  # who saved it, and when
    # saving again (with the draft's id) updates the same draft
    r = c.post("/metadata", data={**form, "draft_id": str(draft_id), "dataset.title.en": "My survey, v2"})
    assert r.status_code == 200
    assert 'value="My survey, v2"' in r.text
    with demo_db.session() as s:
        from cgd_bridge.store.models import MetadataDraft

        assert [d.record["dataset"]["title"]["en"] for d in s.query(MetadataDraft)] == ["My survey, v2"]
    # another CSO and an NSO neither see nor resume it
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    sign_in(c, demo_db.keys["sita"])
    assert "my-survey-2025" not in c.get("/metadata").text
    assert c.get(f"/metadata?draft={draft_id}").status_code == 404
    r = c.post(f"/metadata/drafts/{draft_id}/delete", data={"csrf_token": csrf(c, "/metadata")})
    assert r.status_code == 404
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    sign_in(c, demo_db.keys["kamau"])
    assert c.get(f"/metadata?draft={draft_id}").status_code == 403
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    # the CSO deletes it
    sign_in(c, demo_db.keys["amina"])
    r = c.post(f"/metadata/drafts/{draft_id}/delete", data={"csrf_token": csrf(c, "/metadata")})
    assert r.status_code == 200
    assert "The draft &#39;my-survey-2025&#39; was deleted." in r.text
    assert "No saved drafts yet" in r.text


def test_the_submit_page_uses_a_saved_draft_as_the_metadata(demo: Demo) -> None:
    import yaml

    c = demo.client
    sign_in(c, demo.keys["amina"])
    record = yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8"))
    with demo.session() as s:
        from cgd_bridge.store import drafts

        amina = Principal.of(orgs.get_user(s, username="amina"))
        draft_id = drafts.save_draft(s, principal=amina, record=record).id
    # a saved draft complete for submission keeps its next step when resumed (#17)
    resumed = c.get(f"/metadata?draft={draft_id}")
    assert "You are editing the saved draft" in resumed.text
    assert "Submit data with this metadata" in resumed.text
    page = c.get("/submit")
    assert f'<option value="{draft_id}">ke-health-scorecard-2024' in page.text
    data = KENYA / "data.csv"
    r = c.post(
        "/submit",
        data={
            "csrf_token": csrf(c, "/submit"),
            "action": "submit",
            "metadata_draft": str(draft_id),
            "mapping_choice": "kenya-health-scorecard.yaml",
            "revision_note": "Metadata from a saved draft.",
        },
        files={"data": (data.name, data.read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"]).text
    assert "was stored and sent for review" in page
    assert ">quality.yaml</a>" in page
    # another CSO's draft id is not theirs to use
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    sign_in(c, demo.keys["sita"])
    r = c.post(
        "/submit",
        data={"csrf_token": csrf(c, "/submit"), "action": "check", "metadata_draft": str(draft_id),
              "mapping_choice": "kenya-health-scorecard.yaml"},
        files={"data": (data.name, data.read_bytes(), "text/csv")},
    )  # fmt: skip
    assert r.status_code == 404


# ---------------------------------------------------------------- HTML 404 and 405 pages


def test_unknown_web_paths_and_methods_get_html_pages_but_api_and_sdmx_keep_theirs(demo: Demo) -> None:
    c = demo.client
    r = c.get("/no-such-page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text
    assert "there is no page at /no-such-page" in r.text
    assert "Go to the home page" in r.text
    assert "Content-Security-Policy" in r.headers
    r = c.post("/dataflows")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("text/html")
    assert "this page does not take a POST request" in r.text
    assert "GET" in r.headers["allow"]
    # signed in: the page knows who you are
    sign_in(c, demo.keys["amina"])
    assert "amina" in c.get("/no-such-page").text
    # the JSON API and SDMX REST keep their own error formats
    r = c.get("/api/no-such-thing")
    assert r.status_code == 404
    assert r.json()["error"]["status"] == 404
    r = c.delete("/api/me")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/json")
    r = c.get("/sdmx/rest/data/DF_CGD_KE/all/all/all/too/deep")
    assert r.status_code == 404
    assert "xml" in r.headers["content-type"]
    assert c.get("/static/no-such-file.css").status_code == 404
