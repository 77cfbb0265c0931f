"""The files a CSO uploaded are the CSO's: nobody recovers a suppressed cell from them (#12).

The raw upload holds every value the published view withholds: the respondents and answers of
each small cell, and whatever identifiers the privacy checks missed. Every test here is an attack
by a reader who is not the producing CSO: the anonymous public, an NSO whose MoU lacks the
raw-files term, an NSO with no MoU, NSOs whose raw-files MoU was revoked or has expired, another
CSO, and an NSO whose MoU grants raw files asking for microdata (which no NSO gets). Each tries
every route that serves a raw file or says something about one (the JSON download, the web
download, the file lists of the version's JSON and page, lineage, the history, the report's file
fingerprints) on two published datasets: the Kenya scorecard (aggregate, disclosure threshold 30)
and the Nepal youth survey (microdata with its XLSForm, threshold 40). One test per route, on
SQLite and PostgreSQL, so that it fails if that route leaks again; the owner, admins and the
NSO with the term (aggregate data only) still download, and every download is audited.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pytest
from fastapi.testclient import TestClient

from cgd_bridge import pipeline
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.store import mous, orgs, submissions
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.submissions import RawFile
from tests.support.clock import ManualClock
from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema
from tests.unit.server.test_web import sign_in

KENYA = ROOT / "examples" / "kenya-health-scorecard"
NEPAL = ROOT / "examples" / "nepal-youth-survey"
MAPPINGS = ROOT / "mappings"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: reader -> user (None: anonymous); organisations below
USERS: dict[str, str | None] = {
    "anonymous": None,
    "owner": "amina",  # Sauti, the producing CSO
    "admin": "root",
    "mou_nso": "kamau",  # KNBS: MoU in force, without the raw-files term
    "term_nso": "bikash",  # CBS Nepal: MoU in force with the raw-files term
    "other_nso": "chikondi",  # NSO Malawi: no MoU
    "revoked_nso": "rahim",  # BBS Bangladesh: raw-files MoU revoked
    "expired_nso": "lan",  # GSO Vietnam: raw-files MoU expired
    "other_cso": "outsider",
}
DATASETS = ("kenya", "nepal")
#: who may download which dataset's raw files: owner and admin always; the NSO whose MoU grants
#: the term, aggregate data only (the Nepal survey is microdata)
ALLOWED = {("owner", d) for d in DATASETS} | {("admin", d) for d in DATASETS} | {("term_nso", "kenya")}
DENIED = sorted((who, d) for who in USERS for d in DATASETS if (who, d) not in ALLOWED)


@dataclass
class Dataset:
    version_id: int
    files: list[dict[str, object]]  # id, role, filename, sha256, content
    suppressed: list[dict[str, object]]  # the stored rows of its suppressed cells


@dataclass
class World:
    app: object
    client: TestClient
    keys: dict[str, str]
    clock: ManualClock
    data: dict[str, Dataset] = field(default_factory=dict)
    webs: dict[str, TestClient] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        user = USERS[who]
        return {"Authorization": f"Bearer {self.keys[user]}"} if user else {}

    def get(self, path: str, who: str, **params: str):
        return self.client.get(path, params=params, headers=self.headers(who))

    def web(self, who: str) -> TestClient:
        """A browser signed in as ``who`` (kept: signing in is rate-limited per worker)."""
        if who not in self.webs:
            client = TestClient(self.app)  # type: ignore[arg-type]
            if USERS[who]:
                sign_in(client, self.keys[USERS[who]])
                client.get("/")  # shows (and so clears) the "signed in" message
            self.webs[who] = client
        return self.webs[who]


def _harmonised(data: Path, quality: Path, mapping: Path, threshold: int, folder: Path, form=None):
    text = quality.read_text()
    assert "threshold: 5" in text
    (folder / "quality.yaml").write_text(text.replace("threshold: 5", f"threshold: {threshold}"))
    result = pipeline.harmonise(data, metadata=folder / "quality.yaml", mapping=mapping, form=form)
    assert result.harmonised is not None
    assert result.report.valid
    return result


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):
    """Both datasets harmonised with thresholds that suppress cells, and their files as uploaded."""
    kenya_dir, nepal_dir = tmp_path_factory.mktemp("kenya-k30"), tmp_path_factory.mktemp("nepal-k40")
    kenya_map, nepal_map = MAPPINGS / "kenya-health-scorecard.yaml", MAPPINGS / "nepal-youth-survey.yaml"
    kenya = _harmonised(KENYA / "data.csv", KENYA / "quality.yaml", kenya_map, 30, kenya_dir)
    nepal = _harmonised(
        NEPAL / "data.xlsx", NEPAL / "quality.yaml", nepal_map, 40, nepal_dir, form=NEPAL / "form.xlsx"
    )
    assert kenya.report.stats["data_kind"] == "aggregate"
    assert nepal.report.stats["data_kind"] == "microdata"
    files = {
        "kenya": [
            RawFile("data", "scorecard-2024.csv", (KENYA / "data.csv").read_bytes(), "text/csv"),
            RawFile(
                "metadata", "quality.yaml", (kenya_dir / "quality.yaml").read_bytes(), "application/yaml"
            ),
            RawFile("mapping", "mapping.yaml", kenya_map.read_bytes(), "application/yaml"),
        ],
        "nepal": [
            RawFile("data", "युवा-सर्वेक्षण.xlsx", (NEPAL / "data.xlsx").read_bytes(), XLSX),
            RawFile("form", "form.xlsx", (NEPAL / "form.xlsx").read_bytes(), XLSX),
            RawFile(
                "metadata", "quality.yaml", (nepal_dir / "quality.yaml").read_bytes(), "application/yaml"
            ),
            RawFile("mapping", "mapping.yaml", nepal_map.read_bytes(), "application/yaml"),
        ],
    }
    return {"kenya": kenya, "nepal": nepal}, files


def _suppressed(result) -> list[dict[str, object]]:
    t = result.harmonised.table
    rows = t.filter(pc.equal(t["OBS_STATUS"], "Q")).to_pylist()
    assert rows, "the threshold suppresses no cell"
    assert all(r["OBS_VALUE"] is None for r in rows)
    return rows


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, inputs
) -> Iterator[World]:
    results, files = inputs
    data_dir: Path = tmp_path_factory.mktemp(f"raw-{request.param}")
    with fresh_schema("cgdb_raw") if request.param == "postgresql" else contextlib.nullcontext() as pg:
        url = pg or f"sqlite:///{data_dir / 'raw.sqlite'}"
        clock = ManualClock()
        app = create_app(Settings(data_dir=data_dir, rate_limit_per_minute=0), database_url=url, clock=clock)
        with TestClient(app) as client:
            world = World(app, client, {}, clock)
            with app.state.bridge.sessions() as session:
                for slug, kind in (
                    ("sauti", "cso"),
                    ("outsider-cso", "cso"),
                    ("knbs", "nso"),
                    ("cbs-nepal", "nso"),
                    ("nso-malawi", "nso"),
                    ("bbs", "nso"),
                    ("gso-vietnam", "nso"),
                    ("platform", "admin"),
                ):
                    orgs.create_organisation(session, slug=slug, name=slug, kind=kind)
                for user, org, role in (
                    ("amina", "sauti", "submitter"),
                    ("outsider", "outsider-cso", "submitter"),
                    ("kamau", "knbs", "reviewer"),
                    ("bikash", "cbs-nepal", "reviewer"),
                    ("chikondi", "nso-malawi", "reviewer"),
                    ("rahim", "bbs", "reviewer"),
                    ("lan", "gso-vietnam", "reviewer"),
                    ("root", "platform", "admin"),
                ):
                    orgs.create_user(session, username=user, organisation=org, role=role)
                    world.keys[user] = orgs.create_key(session, username=user).key
                now = dt.datetime.now(dt.UTC)
                start, until = now - dt.timedelta(minutes=5), now + dt.timedelta(days=30)
                for nso, raw in (("knbs", False), ("cbs-nepal", True), ("bbs", True)):
                    m = mous.create_mou(session, cso="sauti", nso=nso, dataflows=["*"], valid_from=start,
                                        valid_until=until, raw_files=raw)  # fmt: skip
                    if nso == "bbs":
                        mous.revoke_mou(session, mou_id=m.id)
                ago = now - dt.timedelta(days=90), now - dt.timedelta(days=1)
                mous.create_mou(session, cso="sauti", nso="gso-vietnam", dataflows=["*"], raw_files=True,
                                valid_from=ago[0], valid_until=ago[1])  # fmt: skip
                producer = Principal.of(orgs.get_user(session, username="amina"))
                reviewer = Principal.of(orgs.get_user(session, username="kamau"))
                for name in DATASETS:
                    v = submissions.create_version(
                        session,
                        results[name],
                        principal=producer,
                        files=files[name],
                        submit=True,
                        is_open=True,
                    )
                    submissions.accept(session, principal=reviewer, version_id=v.id)
                    submissions.publish(session, principal=reviewer, version_id=v.id)
                    stored = [
                        {"id": f.id, "role": f.role, "filename": f.filename, "sha256": f.sha256}
                        for f in v.files
                    ]
                    content = {f.filename: f.content for f in files[name]}
                    for f in stored:
                        f["content"] = content[str(f["filename"])]
                    world.data[name] = Dataset(v.id, stored, _suppressed(results[name]))
            yield world


def _same_404(got, missing) -> None:
    """``got`` answers like a file that does not exist: same status, same words but the id (and
    the request's own id, which every answer quotes so a person can ask for help)."""
    assert got.status_code == missing.status_code, got.text

    def words(r) -> str:
        text = r.text.replace(r.headers.get("x-request-id", "\0"), "REQUEST-ID")
        # the form token is masked anew on every page (BREACH): its value says nothing
        text = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value="TOKEN"', text)
        return re.sub(r"\d+", "N", text)

    assert words(got) == words(missing)


def _fingerprints(d: Dataset) -> list[str]:
    return [str(f["sha256"]) for f in d.files]


# ---------------------------------------------------------------- what is at stake


def test_the_raw_upload_holds_what_the_published_view_withholds(world: World) -> None:
    """The owner's Kenya upload has the respondents and answers of every suppressed cell."""
    d = world.data["kenya"]
    (data,) = [f for f in d.files if f["role"] == "data"]
    r = world.get(f"/api/files/{data['id']}", "owner")
    assert r.status_code == 200
    assert r.content == data["content"]
    lines = r.text.splitlines()
    assert lines[0] == "county,sex,age_group,disability_status,year,respondents,satisfied"
    for row in d.suppressed:  # the line each suppressed cell came from, counts and all
        *_, year, respondents, satisfied = lines[int(row["SOURCE_ROW"]) - 1].split(",")
        assert year == row["TIME_PERIOD"]
        assert 0 <= int(satisfied) <= int(respondents)


# ---------------------------------------------------------------- every route, every reader


@pytest.mark.parametrize(("who", "dataset"), DENIED)
def test_the_json_download_is_a_404_like_a_missing_file(world: World, who: str, dataset: str) -> None:
    """/api/files/{id} gave any MoU reviewer (and the NSO for microdata) the file as uploaded."""
    missing = world.get("/api/files/2147483000", who)
    for f in world.data[dataset].files:
        r = world.get(f"/api/files/{f['id']}", who)
        _same_404(r, missing)
        assert r.content != f["content"]
        assert "X-SHA256" not in r.headers


@pytest.mark.parametrize(("who", "dataset"), DENIED)
def test_the_web_download_is_a_404_like_a_missing_file(world: World, who: str, dataset: str) -> None:
    d = world.data[dataset]
    web = world.web(who)
    missing = web.get(f"/versions/{d.version_id}/files/2147483000")
    assert missing.status_code == 404
    for f in d.files:
        r = web.get(f"/versions/{d.version_id}/files/{f['id']}")
        _same_404(r, missing)
        assert "X-SHA256" not in r.headers


@pytest.mark.parametrize(("who", "dataset"), DENIED)
def test_the_version_json_lists_no_file(world: World, who: str, dataset: str) -> None:
    """/api/versions/{id} listed every file's id, name and SHA-256 to whoever saw the version, and
    the report quoted the uploads' hashes."""
    d = world.data[dataset]
    r = world.get(f"/api/versions/{d.version_id}", who)
    assert r.status_code == 200, r.text
    assert r.json()["files"] == []
    for sha in _fingerprints(d):
        assert sha not in r.text


@pytest.mark.parametrize(("who", "dataset"), DENIED)
def test_the_version_page_shows_no_file_and_no_link(world: World, who: str, dataset: str) -> None:
    d = world.data[dataset]
    page = world.web(who).get(f"/versions/{d.version_id}")
    assert page.status_code == 200, page.text
    assert "Files as uploaded" not in page.text
    assert f"/versions/{d.version_id}/files/" not in page.text
    for sha in _fingerprints(d):
        assert sha not in page.text


@pytest.mark.parametrize(("who", "dataset"), DENIED)
def test_lineage_names_no_file(world: World, who: str, dataset: str) -> None:
    """Lineage listed every raw file's name, size and SHA-256 with each suppressed cell."""
    d = world.data[dataset]
    for row in d.suppressed[:3]:
        key = {k: str(row[k]) for k in ("REF_AREA", "SEX", "AGE", "DISABILITY_STATUS", "TIME_PERIOD")}
        r = world.get(f"/api/versions/{d.version_id}/lineage", who, **key)
        assert r.status_code == 200, r.text
        assert r.json()["files"] == []
        for sha in _fingerprints(d):
            assert sha not in r.text


@pytest.mark.parametrize(("who", "dataset"), DENIED)
def test_the_history_names_no_file(world: World, who: str, dataset: str) -> None:
    """The version.created entry of the history gave every raw file's name and SHA-256."""
    d = world.data[dataset]
    r = world.get(f"/api/versions/{d.version_id}/history", who)
    assert r.status_code == 200, r.text
    assert "version.created" in r.text
    for sha in _fingerprints(d):
        assert sha not in r.text
    assert "data_sha256" not in r.text  # the stored table's hash, internal columns included


# ---------------------------------------------------------------- who may, and the audit


@pytest.mark.parametrize(("who", "dataset"), sorted(ALLOWED))
def test_the_owner_admins_and_the_term_nso_download_and_are_audited(
    world: World, who: str, dataset: str
) -> None:
    d = world.data[dataset]
    listed = world.get(f"/api/versions/{d.version_id}", who).json()["files"]
    assert sorted(f["id"] for f in listed) == sorted(f["id"] for f in d.files)
    page = world.web(who).get(f"/versions/{d.version_id}")
    assert "Files as uploaded" in page.text
    for f in d.files:
        assert f"/versions/{d.version_id}/files/{f['id']}" in page.text
        r = world.get(f"/api/files/{f['id']}", who)
        assert r.status_code == 200
        assert r.content == f["content"]
        assert r.headers["X-SHA256"] == f["sha256"] == hashlib.sha256(r.content).hexdigest()
        web = world.web(who).get(f"/versions/{d.version_id}/files/{f['id']}")
        assert web.status_code == 200
        assert web.content == f["content"]
    pulls = world.get("/api/organisations/sauti/pulls", "owner").json()
    user = USERS[who]
    downloads = [p for p in pulls if p["action"] == "file.downloaded" and p["username"] == user]
    assert {p["file"] for p in downloads} >= {f["filename"] for f in d.files}
    assert all(p["dataset"] and p["version"] == 1 for p in downloads)


def test_the_term_nso_sees_who_else_downloaded_nothing(world: World) -> None:
    """Downloads are the CSO's to see: the NSO's view of the history has no download rows."""
    d = world.data["kenya"]
    world.get(f"/api/files/{d.files[0]['id']}", "owner")
    r = world.get(f"/api/versions/{d.version_id}/history", "term_nso")
    assert "file.downloaded" not in r.text
    assert world.get("/api/organisations/sauti/pulls", "term_nso").status_code == 403


def test_the_term_ends_with_the_mou(world: World) -> None:
    """The term counts while its MoU is in force by the server's clock: past valid_until, 404."""
    d = world.data["kenya"]
    f = d.files[0]
    assert world.get(f"/api/files/{f['id']}", "term_nso").status_code == 200
    world.clock.advance(dt.timedelta(days=31))
    try:
        assert world.get(f"/api/files/{f['id']}", "term_nso").status_code == 404
        assert world.get(f"/api/versions/{d.version_id}", "term_nso").json()["files"] == []
        assert world.get(f"/api/files/{f['id']}", "owner").status_code == 200
    finally:
        world.clock.advance(dt.timedelta(days=-31))


# ---------------------------------------------------------------- the term, shown on both sides


def test_the_cso_sees_the_term_of_each_of_its_mous(world: World) -> None:
    got = {m["nso"]: m for m in world.get("/api/mous", "owner").json()}
    assert set(got) == {"knbs", "cbs-nepal", "bbs", "gso-vietnam"}
    assert got["knbs"]["raw_files"] is False
    assert got["knbs"]["raw_files_terms"] == "knbs may download your uploaded files: no"
    assert got["cbs-nepal"]["raw_files_terms"] == (
        "cbs-nepal may download your uploaded files: yes (never those of microdata)"
    )
    assert got["cbs-nepal"]["in_force"] is True
    assert got["bbs"]["in_force"] is False  # revoked
    assert got["gso-vietnam"]["in_force"] is False  # expired
    page = world.web("owner").get("/mous")
    assert page.status_code == 200, page.text
    assert page.text.count("This NSO may download your uploaded files: no") == 1
    assert page.text.count("This NSO may download your uploaded files: yes (never those of microdata)") == 3


def test_each_nso_sees_the_term_of_its_own_mous_only(world: World) -> None:
    (term,) = world.get("/api/mous", "term_nso").json()
    assert (term["cso"], term["nso"], term["raw_files"]) == ("sauti", "cbs-nepal", True)
    yes = "yes (never those of microdata)"
    assert term["raw_files_terms"] == f"Your office may download sauti's uploaded files: {yes}"
    (plain,) = world.get("/api/mous", "mou_nso").json()
    assert plain["raw_files_terms"] == "Your office may download sauti's uploaded files: no"
    assert world.get("/api/mous", "other_nso").json() == []
    assert world.get("/api/mous", "other_cso").json() == []
    assert world.get("/api/mous", "anonymous").status_code == 401
    page = world.web("term_nso").get("/mous")
    assert f"Your office may download this CSO&#39;s uploaded files: {yes}" in page.text
    assert "knbs" not in page.text
    assert world.web("anonymous").get("/mous", follow_redirects=False).status_code == 303


def test_the_cso_sees_each_download_of_its_files_on_its_pulls_page(world: World) -> None:
    d = world.data["kenya"]
    (data,) = [f for f in d.files if f["role"] == "data"]
    assert world.get(f"/api/files/{data['id']}", "term_nso").status_code == 200
    page = world.web("owner").get("/pulls")
    assert page.status_code == 200, page.text
    assert "cbs-nepal downloaded the uploaded file scorecard-2024.csv" in page.text
    assert "By bikash." in page.text
