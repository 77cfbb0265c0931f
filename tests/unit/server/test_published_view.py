"""What readers can learn about a suppressed cell: only what the published SDMX answer shows (#12).

Every test here is an attack that worked before the published view: a reader who is not the
producing CSO (anonymous, an NSO with an MoU, an NSO without one, another CSO) tries to recover
the hidden values of suppressed cells through a route of the server. The data are the Nepal
youth survey published with a disclosure threshold of 40, so that 24 cells are suppressed
(their stored ``OBS_COUNT`` runs from 12 to 40). One test per route, so that it fails if that
route leaks again; the owner (the producing CSO) still sees lineage and report in full. A second
dataset, the Kenya scorecard (aggregate data with its own totals, threshold 30), is attacked
through the same routes at the end, and an NSO's pull in every format passes the audit.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pyarrow.compute as pc
import pytest
from fastapi.testclient import TestClient

from cgd_bridge import pipeline
from cgd_bridge.sdmx.formats import formats
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.store import mous, orgs, submissions
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.submissions import RawFile
from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema
from tests.unit.server.test_web import sign_in

NEPAL = ROOT / "examples" / "nepal-youth-survey"
KENYA = ROOT / "examples" / "kenya-health-scorecard"
KENYA_MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
MAPPING = ROOT / "mappings" / "nepal-youth-survey.yaml"
FLOW = "IAEG-SDGs/DF_SDG_GLH/1.5"
DATA_V2 = f"/sdmx/v2/data/dataflow/{FLOW}/*"
DATA_V1 = "/sdmx/rest/data/IAEG-SDGs,DF_SDG_GLH,1.5/all"
AVAILABILITY_V2 = f"/sdmx/v2/availability/dataflow/{FLOW}/*"
CSV = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}
#: the columns the store keeps for lineage and privacy, never published
INTERNAL = (
    "OBS_COUNT", "OBS_NUMERATOR", "OBS_DENOMINATOR", "OBS_NUMERATOR_COUNT", "SOURCE_ROW", "SOURCE_ROWS",
    "SUPPRESSED",
)  # fmt: skip
READERS = ("anonymous", "mou_nso", "other_nso", "other_cso")
USERS = {"owner": "amina", "mou_nso": "kamau", "other_nso": "bikash", "other_cso": "outsider"}
#: a count of respondents quoted in a finding ("rests on 30 respondent(s)", "respondents 5")
QUOTED_COUNT = re.compile(r"\d+\s+respondent|respondents\s+\d")


@dataclass
class World:
    app: object
    client: TestClient
    keys: dict[str, str]
    version_id: int
    suppressed: list[dict[str, object]]  # the stored rows of the suppressed cells
    browsers: dict[str, TestClient] = field(default_factory=dict)  # signed-in web clients by reader

    def headers(self, who: str) -> dict[str, str]:
        user = USERS.get(who)
        return {**CSV, **({"Authorization": f"Bearer {self.keys[user]}"} if user else {})}

    def get(self, path: str, who: str, **params: str):
        return self.client.get(path, params=params, headers=self.headers(who))


@pytest.fixture(scope="module")
def nepal(tmp_path_factory: pytest.TempPathFactory):
    """The Nepal survey with a threshold of 40: a few dozen cells suppressed."""
    folder = tmp_path_factory.mktemp("nepal-k40")
    text = (NEPAL / "quality.yaml").read_text()
    assert "threshold: 5" in text
    (folder / "quality.yaml").write_text(text.replace("threshold: 5", "threshold: 40"))
    result = pipeline.harmonise(
        NEPAL / "data.xlsx", metadata=folder / "quality.yaml", mapping=MAPPING, form=NEPAL / "form.xlsx"
    )
    assert result.harmonised is not None
    assert result.report.valid
    t = result.harmonised.table
    assert pc.sum(t["SUPPRESSED"]).as_py() >= 10
    return result


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, nepal) -> Iterator[World]:
    data = RawFile("data", "data.xlsx", (NEPAL / "data.xlsx").read_bytes(), "application/xlsx")
    yield from _serve(request.param, tmp_path_factory, nepal, data)


def _serve(
    backend: str, tmp_path_factory: pytest.TempPathFactory, harmonised, data: RawFile
) -> Iterator[World]:
    """A server with the four readers and the owner, the dataset published by the owner."""
    data_dir: Path = tmp_path_factory.mktemp(f"published-{backend}")
    with fresh_schema("cgdb_published") if backend == "postgresql" else contextlib.nullcontext() as pg:
        url = pg or f"sqlite:///{data_dir / 'published.sqlite'}"
        app = create_app(Settings(data_dir=data_dir, rate_limit_per_minute=0), database_url=url)
        with TestClient(app) as client:
            keys = {}
            with app.state.bridge.sessions() as session:
                for slug, kind in (
                    ("sauti", "cso"),
                    ("outsider-cso", "cso"),
                    ("knbs", "nso"),
                    ("cbs", "nso"),
                ):
                    orgs.create_organisation(session, slug=slug, name=slug, kind=kind)
                for user, org, role in (
                    ("amina", "sauti", "submitter"),
                    ("outsider", "outsider-cso", "submitter"),
                    ("kamau", "knbs", "reviewer"),
                    ("bikash", "cbs", "reviewer"),
                ):
                    orgs.create_user(session, username=user, organisation=org, role=role)
                    keys[user] = orgs.create_key(session, username=user).key
                until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
                mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=until)
                producer = Principal.of(orgs.get_user(session, username="amina"))
                reviewer = Principal.of(orgs.get_user(session, username="kamau"))
                v = submissions.create_version(
                    session, harmonised, principal=producer, files=[data], submit=True, is_open=True
                )
                submissions.accept(session, principal=reviewer, version_id=v.id)
                submissions.publish(session, principal=reviewer, version_id=v.id)
                version_id = v.id
            t = harmonised.harmonised.table
            suppressed = t.filter(pc.fill_null(t["SUPPRESSED"], False)).to_pylist()
            yield World(app, client, keys, version_id, suppressed)


def _lineage_key(row: dict[str, object]) -> dict[str, str]:
    return {d: str(row[d]) for d in ("SEX", "AGE", "DISABILITY_STATUS", "REF_AREA", "TIME_PERIOD")}


# ---------------------------------------------------------------- SDMX data and availability


@pytest.mark.parametrize("who", READERS)
def test_a_count_filter_answers_every_n_alike(world: World, who: str) -> None:
    """c[OBS_COUNT]=eq:N for N in 0..50 recovered every suppressed cell's count (#12)."""
    answers = set()
    for n in range(51):
        r = world.get(DATA_V2, who, **{"c[OBS_COUNT]": f"eq:{n}"})
        assert r.status_code == 400, (n, r.status_code)
        assert "X-Observations" not in r.headers
        assert "ETag" not in r.headers
        answers.add(r.content)
    assert len(answers) == 1


@pytest.mark.parametrize("who", READERS)
@pytest.mark.parametrize("column", INTERNAL)
def test_a_filter_on_a_stored_column_is_a_400_naming_the_components(
    world: World, who: str, column: str
) -> None:
    """No stored, unpublished column can be filtered on; c[SUPPRESSED]=eq:true was a 500 (#12)."""
    value = "true" if column == "SUPPRESSED" else "1"
    r = world.get(DATA_V2, who, **{f"c[{column}]": f"eq:{value}"})
    assert r.status_code == 400, r.text
    assert column in r.text
    for component in ("SEX", "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS"):
        assert component in r.text  # the fix names what can be filtered
    for other in INTERNAL:
        if other != column:
            assert not re.search(rf"\b{other}\b", r.text)


@pytest.mark.parametrize("who", READERS)
def test_availability_answers_every_count_alike(world: World, who: str) -> None:
    """The availability answer told the same as the data without it (#12)."""
    answers = set()
    for n in range(0, 51, 5):
        r = world.get(AVAILABILITY_V2, who, **{"c[OBS_COUNT]": f"eq:{n}"})
        assert r.status_code == 400, (n, r.status_code)
        answers.add(r.content)
    r = world.get(AVAILABILITY_V2, who, **{"c[SUPPRESSED]": "eq:true"})
    assert r.status_code == 400
    assert len(answers) == 1


@pytest.mark.parametrize("who", READERS)
def test_observations_header_counts_published_rows_only(world: World, who: str) -> None:
    """X-Observations and the ETag depend on the published view: a query on published components
    that singles out suppressed cells gets the same count as the published answer shows."""
    r = world.get(DATA_V2, who, **{"c[OBS_STATUS]": "eq:Q"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert int(r.headers["X-Observations"]) == len(rows) == len(world.suppressed)
    assert not set(INTERNAL) & set(rows[0])
    assert {row["OBS_VALUE"] for row in rows} == {""}
    again = world.get(DATA_V2, who, **{"c[OBS_STATUS]": "eq:Q"})
    assert again.headers["ETag"] == r.headers["ETag"]


#: the formats #15 added: suppressed cells go through the same published view in each
NEW_FORMATS = {
    "generic-ts": "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1",
    "ss-ts": "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1",
    "json-1.0": "application/vnd.sdmx.data+json;version=1.0.0",
}


@pytest.mark.parametrize("fmt", NEW_FORMATS)
def test_suppressed_cells_stay_suppressed_in_the_new_formats(world: World, fmt: str) -> None:
    r = world.client.get(DATA_V2, params={"c[OBS_STATUS]": "eq:Q"}, headers={"Accept": NEW_FORMATS[fmt]})
    assert r.status_code == 200, r.text
    assert int(r.headers["X-Observations"]) == len(world.suppressed)
    for column in INTERNAL:
        assert column not in r.text
    if fmt == "json-1.0":
        series = r.json()["data"]["dataSets"][0]["series"].values()
        values = [o[0] for s in series for o in s["observations"].values()]
    else:
        import sdmx

        values = [o.value for o in sdmx.read_sdmx(io.BytesIO(r.content)).data[0].obs]
    assert len(values) == len(world.suppressed)
    assert set(values) == {None}


# ---------------------------------------------------------------- lineage and reports


@pytest.mark.parametrize("who", READERS)
def test_lineage_hides_counts_and_source_rows_from_non_owners(world: World, who: str) -> None:
    """The lineage endpoint gave each suppressed cell's count, numerator and denominator (#12)."""
    for row in world.suppressed[:5]:
        r = world.get(f"/api/versions/{world.version_id}/lineage", who, **_lineage_key(row))
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["source_rows"] == []
        assert got["redacted"]
        for obs in got["observations"]:
            assert not set(INTERNAL) & set(obs)
            assert obs["OBS_VALUE"] is None
            assert str(row["OBS_COUNT"]) not in {str(v) for v in obs.values()}


def test_the_owner_still_sees_the_whole_lineage(world: World) -> None:
    row = world.suppressed[0]
    r = world.get(f"/api/versions/{world.version_id}/lineage", "owner", **_lineage_key(row))
    assert r.status_code == 200, r.text
    got = r.json()
    assert not got.get("redacted")
    assert got["source_rows"]
    assert [o["OBS_COUNT"] for o in got["observations"]] == [row["OBS_COUNT"]]


def _privacy_findings(report: dict) -> list[dict]:
    return [
        f
        for task in report.get("tasks", [])
        for f in [*task.get("errors", []), *task.get("warnings", [])]
        if "#privacy" in f.get("tags", [])
    ]


@pytest.mark.parametrize("who", READERS)
def test_the_version_report_quotes_no_small_cell_to_non_owners(world: World, who: str) -> None:
    """The validation report on a published version quoted every small cell's count (#12)."""
    r = world.get(f"/api/versions/{world.version_id}", who)
    assert r.status_code == 200, r.text
    findings = _privacy_findings(r.json()["report"])
    assert findings
    for f in findings:
        assert not QUOTED_COUNT.search(f["message"]), f
        assert not QUOTED_COUNT.search(f["note"]), f
        assert "cell" not in f
        assert "respondents" not in f.get("details", {})


def test_the_owner_still_sees_the_whole_report(world: World) -> None:
    r = world.get(f"/api/versions/{world.version_id}", "owner")
    findings = _privacy_findings(r.json()["report"])
    assert any(QUOTED_COUNT.search(f["message"]) for f in findings)
    assert any("respondents" in f.get("details", {}) for f in findings)


def _web(world: World, who: str) -> TestClient:
    """A browser of ``who``, signed in once per world (sign-ins are throttled per address)."""
    client = world.browsers.get(who)
    if client is None:
        client = world.browsers[who] = TestClient(world.app)  # type: ignore[arg-type]
        if who in USERS:
            sign_in(client, world.keys[USERS[who]])
    return client


def _owners_notes(world: World) -> list[str]:
    """What the privacy findings say to the owner, as a web page prints it."""
    r = world.get(f"/api/versions/{world.version_id}", "owner")
    notes = [html.escape(f["note"]) for f in _privacy_findings(r.json()["report"])]
    assert any(QUOTED_COUNT.search(n) for n in notes)
    return notes


@pytest.mark.parametrize("who", READERS)
def test_the_version_page_quotes_no_small_cell_to_non_owners(world: World, who: str) -> None:
    """The web version page showed the report's small-cell counts to every reader (#12)."""
    page = _web(world, who).get(f"/versions/{world.version_id}")
    assert page.status_code == 200, page.text
    assert "Small cell" in page.text
    for note in _owners_notes(world):
        assert note not in page.text


def test_the_version_page_shows_the_owner_everything(world: World) -> None:
    page = _web(world, "owner").get(f"/versions/{world.version_id}")
    assert page.status_code == 200, page.text
    assert any(note in page.text for note in _owners_notes(world))


@pytest.mark.parametrize("who", READERS)
def test_the_dataflow_page_and_chart_show_the_published_view(world: World, who: str) -> None:
    """The dataflow page, its table and its chart read the published view like the SDMX answer."""
    page = _web(world, who).get(f"/dataflows/{quote('IAEG-SDGs')}/DF_SDG_GLH/1.5")
    assert page.status_code == 200, page.text
    assert "<svg" in page.text
    for column in INTERNAL:
        assert column not in page.text
    suppressed_counts = {str(row["OBS_COUNT"]) for row in world.suppressed}
    cells = set(re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", page.text))
    assert not cells & {f"{c}.0" for c in suppressed_counts}


@pytest.mark.parametrize("who", READERS)
def test_the_chart_files_show_only_published_values(world: World, who: str) -> None:
    """A chart's SVG and CSV (#17), under the dataflow page's and the version page's charts, read
    the published view: every number in them is a number the SDMX answer publishes, and no
    stored column is named."""
    client = _web(world, who)
    flow = f"/dataflows/{quote('IAEG-SDGs')}/DF_SDG_GLH/1.5"
    answer = _published_rows(client.get(f"{flow}/download?format=sdmx-csv-2.0").text)
    published = {float(r["OBS_VALUE"]) for r in answer if r["OBS_VALUE"]}
    for base in (f"{flow}/chart", f"/versions/{world.version_id}/chart"):
        got = client.get(f"{base}/1.csv")
        assert got.status_code == 200, got.text[:300]
        rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
        assert rows
        assert {float(r["Value"]) for r in rows if r["Value"]} <= published
        svg = client.get(f"{base}/1.svg")
        assert svg.status_code == 200, svg.text[:300]
        for column in INTERNAL:
            assert column not in got.text
            assert column not in svg.text


# ---------------------------------------------------------------- kept answers, downloads, values


def _published_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("who", READERS)
def test_a_kept_answer_of_the_owner_is_the_published_view(world: World, who: str) -> None:
    """The owner asks first, so the answer is kept; a reader asking the same gets the same bytes
    and ETag: kept answers are of the published view, never of what the owner may see."""
    params = {"c[OBS_STATUS]": "eq:Q", "dimensionAtObservation": "AllDimensions"}
    first = world.get(DATA_V2, "owner", **params)
    assert first.status_code == 200, first.text
    kept = world.get(DATA_V2, who, **params)
    assert kept.status_code == 200, kept.text
    assert kept.content == first.content
    assert kept.headers["ETag"] == first.headers["ETag"]
    rows = _published_rows(kept.text)
    assert len(rows) == len(world.suppressed)
    assert {r["OBS_VALUE"] for r in rows} == {""}
    assert not set(INTERNAL) & set(rows[0])
    assert world.get(DATA_V2, who, **params).headers["X-Observations"] == str(len(rows))


@pytest.mark.parametrize("who", READERS)
def test_the_web_download_is_the_published_view(world: World, who: str) -> None:
    """The dataflow page's download (an SDMX answer in any format) withholds the same cells."""
    client = _web(world, who)
    r = client.get(f"/dataflows/{quote('IAEG-SDGs')}/DF_SDG_GLH/1.5/download?format=sdmx-csv-2.0")
    assert r.status_code == 200, r.text[:300]
    rows = _published_rows(r.text)
    hidden = [row for row in rows if row["OBS_STATUS"] == "Q"]
    assert len(hidden) == len(world.suppressed)
    assert {row["OBS_VALUE"] for row in hidden} == {""}
    assert not set(INTERNAL) & set(rows[0])


def _sheet_rows(content: bytes) -> list[dict[str, object]]:
    """The data sheet of a downloaded spreadsheet as dicts (header -> cell), read by openpyxl."""
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["Data"]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _assert_published_sheet(content: bytes, world: World) -> None:
    rows = _sheet_rows(content)
    status = next(h for h in rows[0] if str(h).lower().startswith("observation status (code"))
    hidden = [r for r in rows if r[status] == "Q"]
    assert len(hidden) == len(world.suppressed)
    assert {r["Value"] for r in hidden} == {None}
    assert not {h for h in rows[0] if any(c in str(h) for c in INTERNAL)}


@pytest.mark.parametrize("who", READERS)
def test_the_spreadsheet_and_labelled_csv_are_the_published_view(world: World, who: str) -> None:
    """The spreadsheet and labelled SDMX-CSV downloads (#17), from the page and the JSON API,
    withhold the same cells as the SDMX answer, and carry no stored column."""
    client = _web(world, who)
    page = f"/dataflows/{quote('IAEG-SDGs')}/DF_SDG_GLH/1.5/download"
    api = "/api/dataflows/IAEG-SDGs/DF_SDG_GLH/1.5/download"
    sheets = [
        client.get(page, params={"format": "xlsx"}),
        world.get(api, who, format="xlsx"),
    ]
    for r in sheets:
        assert r.status_code == 200, r.text[:300]
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert int(r.headers["X-Observations"]) == len(_sheet_rows(r.content))
        _assert_published_sheet(r.content, world)
    wrong = world.get(api, who, format="xls")
    assert wrong.status_code in (400, 422), wrong.text
    assert "xlsx" in wrong.text  # the answer names the formats there are
    labelled = "sdmx-csv-labels"
    for r in (client.get(page, params={"format": labelled}), world.get(api, who, format=labelled)):
        assert r.status_code == 200, r.text[:300]
        rows = _published_rows(r.text)
        status = next(h for h in rows[0] if h.startswith("OBS_STATUS"))
        value = next(h for h in rows[0] if h.startswith("OBS_VALUE"))
        hidden = [row for row in rows if row[status].startswith("Q:")]
        assert len(hidden) == len(world.suppressed)
        assert {row[value] for row in hidden} == {""}
        assert not {h.split(":")[0] for h in rows[0]} & set(INTERNAL)


@pytest.mark.parametrize("who", READERS)
def test_the_bundle_is_the_published_view(world: World, who: str) -> None:
    """The whole dataflow as one ZIP (#17): every data file in it withholds the suppressed cells."""
    import zipfile

    client = _web(world, who)
    for r in (
        client.get(f"/dataflows/{quote('IAEG-SDGs')}/DF_SDG_GLH/1.5/bundle"),
        world.get("/api/dataflows/IAEG-SDGs/DF_SDG_GLH/1.5/download", who, format="bundle"),
    ):
        assert r.status_code == 200, r.text[:300]
        z = zipfile.ZipFile(io.BytesIO(r.content))
        names = z.namelist()
        assert "README.txt" in names
        rows = _published_rows(z.read("data/DF_SDG_GLH-sdmx-csv-1.0.csv").decode())
        hidden = [row for row in rows if row["OBS_STATUS"] == "Q"]
        assert len(hidden) == len(world.suppressed)
        assert {row["OBS_VALUE"] for row in hidden} == {""}
        assert not set(INTERNAL) & set(rows[0])
        for name in names:
            if name.startswith("data/") and not name.endswith(".csv"):
                text = z.read(name).decode()
                assert not any(re.search(rf"\b{c}\b", text) for c in INTERNAL), name
        _assert_published_sheet(z.read("DF_SDG_GLH.xlsx"), world)


@pytest.mark.parametrize("who", READERS)
def test_a_filter_on_a_hidden_value_finds_only_published_cells(world: World, who: str) -> None:
    """c[OBS_VALUE] compared against each suppressed cell's true value (numerator over
    denominator) selects published cells only: the filter reads the published value, which a
    suppressed cell does not have, so its answer and count say nothing about the hidden one."""
    for row in world.suppressed[:8]:
        value = round(100 * float(row["OBS_NUMERATOR"]) / float(row["OBS_DENOMINATOR"]), 1)
        r = world.get(DATA_V2, who, **{"c[OBS_VALUE]": f"eq:{value}"})
        assert r.status_code in (200, 404), r.text
        rows = _published_rows(r.text) if r.status_code == 200 else []
        assert all(x["OBS_STATUS"] != "Q" and x["OBS_VALUE"] != "" for x in rows), value
        if r.status_code == 200:
            assert int(r.headers["X-Observations"]) == len(rows)


# ---------------------------------------------------------------- what an NSO pulls, audited

DATA_FORMATS = [f for f in formats("data") if f.writer]


def test_a_pull_in_every_format_passes_the_audit(world: World, tmp_path: Path) -> None:
    """An NSO pulls the published data in each format the server writes and runs
    ``cgd-bridge audit`` on the file: every suppressed cell is in it, marked, without a value,
    and the audit passes (the survey publishes percentages, so the file leaves their counts to
    the intake's audit, and says so)."""
    from cgd_bridge.pipeline import audit_file
    from cgd_bridge.structures import Structures

    structures = Structures.load(None)
    assert {"sdmx-ml-2.1-generic-ts", "sdmx-ml-2.1-ss-ts", "sdmx-json-1.0"} <= {f.name for f in DATA_FORMATS}
    for fmt in DATA_FORMATS:
        accept = {"Accept": f"{fmt.base};version={fmt.version}"}
        r = world.client.get(
            DATA_V1 if fmt.version in ("2.1", "1.0.0") else DATA_V2,
            headers={**accept, "Authorization": f"Bearer {world.keys['kamau']}"},
        )
        assert r.status_code == 200, (fmt.name, r.text[:300])
        path = tmp_path / f"pulled{fmt.suffix}"
        path.write_bytes(r.content)
        report = audit_file(path, threshold=40, structures=structures)
        stats = report.stats["audit"]
        assert report.valid, (fmt.name, [f.problem for f in report])
        assert stats["observations"] == int(r.headers["X-Observations"]), fmt.name
        assert stats["suppressed"] == len(world.suppressed), fmt.name
        assert stats["not_additive"] == len(world.suppressed), fmt.name


# ---------------------------------------------------------------- a second dataset: aggregate data


@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory):
    """The Kenya scorecard (aggregate: one row per cell, with its own totals) at threshold 30."""
    folder = tmp_path_factory.mktemp("kenya-k30")
    text = (KENYA / "quality.yaml").read_text()
    (folder / "quality.yaml").write_text(text.replace("threshold: 5", "threshold: 30"))
    result = pipeline.harmonise(KENYA / "data.csv", metadata=folder / "quality.yaml", mapping=KENYA_MAPPING)
    assert result.harmonised is not None
    assert result.report.valid
    assert pc.sum(result.harmonised.table["SUPPRESSED"]).as_py() >= 10
    return result


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def kenya_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kenya
) -> Iterator[World]:
    data = RawFile("data", "data.csv", (KENYA / "data.csv").read_bytes(), "text/csv")
    yield from _serve(request.param, tmp_path_factory, kenya, data)


def test_the_aggregate_table_leaks_through_no_route(kenya_world: World) -> None:
    """The routes above, attacked again on a second published dataset: aggregate data whose
    stored rows keep each cell's numerator and denominator. Every reader, every route."""
    world = kenya_world
    data = "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*"
    availability = "/sdmx/v2/availability/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*"
    hidden = {str(int(r[c])) for r in world.suppressed for c in ("OBS_NUMERATOR", "OBS_DENOMINATOR")}
    owners_notes = _owners_notes(world)  # what the report tells the owner, counts included
    for who in READERS:
        for column in INTERNAL:
            for n in sorted(hidden)[:1]:
                for path in (data, availability):
                    r = world.get(path, who, **{f"c[{column}]": f"eq:{n}"})
                    assert r.status_code == 400, (who, column, path, r.status_code)
                    assert "X-Observations" not in r.headers
        shown = world.get(data, who, **{"c[OBS_STATUS]": "eq:Q"})
        assert shown.status_code == 200, shown.text
        rows = _published_rows(shown.text)
        assert int(shown.headers["X-Observations"]) == len(rows) == len(world.suppressed)
        assert {r["OBS_VALUE"] for r in rows} == {""}
        assert not set(INTERNAL) & set(rows[0])
        for row in world.suppressed[:3]:
            r = world.get(f"/api/versions/{world.version_id}/lineage", who, **_lineage_key(row))
            assert r.status_code == 200, r.text
            got = r.json()
            assert got["source_rows"] == []
            for obs in got["observations"]:
                assert not set(INTERNAL) & set(obs)
                assert obs["OBS_VALUE"] is None
        report = world.get(f"/api/versions/{world.version_id}", who).json()["report"]
        for f in _privacy_findings(report):
            assert not QUOTED_COUNT.search(f["message"]), f
            assert "respondents" not in f.get("details", {})
        page = _web(world, who).get(f"/versions/{world.version_id}")
        assert page.status_code == 200
        for note in owners_notes:
            assert note not in page.text
    # the owner still sees what it submitted
    owner = world.get(
        f"/api/versions/{world.version_id}/lineage", "owner", **_lineage_key(world.suppressed[0])
    )
    assert owner.json()["source_rows"]
