"""One owner per observation, through the server (#13): overlaps are caught on the review page and
in the JSON API, and no SDMX answer (v1 and v2, every format, availability) ever holds two
observations of one series key and period.

Three CSOs report to the Kenya dataflow: 'sauti' publishes the health scorecard (180
observations); 'haki' re-measured county KE_042 (the same keys with other values) and adds 2025;
'jamii' sent, before ownership existed, a copy of sauti's KE_003 rows that was published
without any check (simulated by setting its state in the database, as a legacy store holds it).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import update

from cgd_bridge import pipeline
from cgd_bridge.sdmx.formats import formats
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.store import mous, orgs, submissions
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import State, Version, utcnow
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.submissions import RawFile, VersionContent
from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema
from tests.unit.server.test_web import csrf, sign_in

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
FLOW_V1 = "CGD_BRIDGE,DF_CGD_KE,1.0"
FLOW_V2 = "CGD_BRIDGE/DF_CGD_KE/1.0"
COUNTY, LEGACY = "KE_042", "KE_003"
DATA_FORMATS = [f.name for f in formats("data")]


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    ids: dict[str, int]
    dims: list[str]
    expected: int  # distinct series keys and periods published
    refused: Any  # the JSON API's answer to accepting haki's version without replace
    overlap: dict[str, Any]  # GET /api/versions/{haki}/overlap before the decision
    page: str  # the review page of haki's version, for the NSO reviewer
    page_refusal: Any  # the review page's answer to accepting without ticking replace
    before: Any = None  # sauti's data as a provider query answered before haki's version replaced some
    page_in: dict[str, str] = dataclasses.field(default_factory=dict)  # the review page per language
    refused_in: dict[str, Any] = dataclasses.field(default_factory=dict)  # the 409 per language

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture(scope="module")
def kenya():
    result = pipeline.harmonise(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=MAPPING)
    assert result.harmonised is not None
    assert result.report.valid
    return result


def _rows(table: pa.Table, area: str) -> pa.Table:
    return table.filter(pc.equal(table["REF_AREA"], area))


def _key(row: dict[str, Any], dims: list[str]) -> tuple[str, ...]:
    return (*(str(row[d]) for d in dims), str(row["TIME_PERIOD"]))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kenya) -> Iterator[World]:
    data_dir: Path = tmp_path_factory.mktemp(f"ownership-{request.param}")
    with fresh_schema("cgdb_owner") if request.param == "postgresql" else contextlib.nullcontext() as pg:
        url = pg or f"sqlite:///{data_dir / 'owner.sqlite'}"
        app = create_app(Settings(data_dir=data_dir, rate_limit_per_minute=0), database_url=url)
        with TestClient(app) as client:
            keys, ids = {}, {}
            base = VersionContent.of(kenya)
            table = base.table
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
            files = [RawFile("data", "data.csv", (KENYA / "data.csv").read_bytes(), "text/csv")]
            with app.state.bridge.sessions() as session:
                for slug, kind in (("sauti", "cso"), ("haki", "cso"), ("jamii", "cso"), ("knbs", "nso")):
                    orgs.create_organisation(session, slug=slug, name=slug.title(), kind=kind)
                for user, org, role in (
                    ("amina", "sauti", "submitter"),
                    ("baraka", "haki", "submitter"),
                    ("chebet", "jamii", "submitter"),
                    ("kamau", "knbs", "reviewer"),
                ):
                    orgs.create_user(session, username=user, organisation=org, role=role)
                    keys[user] = orgs.create_key(session, username=user).key
                for cso in ("sauti", "haki", "jamii"):
                    mous.create_mou(session, cso=cso, nso="knbs", dataflows=["*"], valid_until=until)
                reviewer = Principal.of(orgs.get_user(session, username="kamau"))

                def store(user: str, t: pa.Table, dataset: str) -> int:
                    p = Principal.of(orgs.get_user(session, username=user))
                    content = dataclasses.replace(base, table=t)
                    v = submissions.create_version(
                        session, content, principal=p, files=files, dataset=dataset, submit=True
                    )
                    return v.id

                ids["sauti"] = store("amina", table, "ke-health-scorecard-2024")
                submissions.accept(session, principal=reviewer, version_id=ids["sauti"])
                submissions.publish(session, principal=reviewer, version_id=ids["sauti"])
                county = _rows(table, COUNTY)
                county = county.set_column(
                    county.column_names.index("OBS_VALUE"), "OBS_VALUE", pc.add(county["OBS_VALUE"], 2.0)
                )
                later = county.set_column(
                    county.column_names.index("TIME_PERIOD"),
                    "TIME_PERIOD",
                    pa.array(["2025"] * county.num_rows),
                )
                ids["haki"] = store("baraka", pa.concat_tables([county, later]), "ke-county-watch")
                ids["jamii"] = store("chebet", _rows(table, LEGACY), "ke-legacy-copy")
                with transaction(session):  # published before ownership existed: no check ran
                    session.execute(
                        update(Version)
                        .where(Version.id == ids["jamii"])
                        .values(state=State.PUBLISHED.value, published_at=utcnow())
                    )
            dims = list(base.dimensions)
            expected = table.num_rows + later.num_rows
            w = World(client, keys, ids, dims, expected, None, {}, "", None)
            hv = ids["haki"]
            w.before = client.get(f"/sdmx/rest/data/{FLOW_V1}/all/sauti", params={"format": "sdmx-csv-1.0"})
            assert w.before.status_code == 200
            w.overlap = client.get(f"/api/versions/{hv}/overlap", headers=w.auth("kamau")).json()
            w.refused = client.post(f"/api/versions/{hv}/accept", json={}, headers=w.auth("kamau"))
            sign_in(client, keys["kamau"])
            w.page = client.get(f"/versions/{hv}").text
            for lang in ("sw", "ne"):
                w.page_in[lang] = client.get(f"/versions/{hv}", params={"lang": lang}).text
                asked = {**w.auth("kamau"), "Accept-Language": lang}
                w.refused_in[lang] = client.post(f"/api/versions/{hv}/accept", json={}, headers=asked)
            client.get(f"/versions/{hv}", params={"lang": "en"})  # the session's language back to English
            token = csrf(client, f"/versions/{hv}")
            w.page_refusal = client.post(
                f"/versions/{hv}/accept", data={"csrf_token": token, "comment": ""}, follow_redirects=False
            )
            client.cookies.clear()
            r = client.post(
                f"/api/versions/{hv}/accept",
                json={"comment": "KE_042 re-measured by Haki", "replace": True},
                headers=w.auth("kamau"),
            )
            assert r.status_code == 200, r.text
            r = client.post(f"/api/versions/{hv}/publish", headers=w.auth("kamau"))
            assert r.status_code == 200, r.text
            yield w


# ---------------------------------------------------------------- review: JSON API and web page


def test_the_api_shows_the_overlap_before_the_decision(world: World) -> None:
    o = world.overlap
    assert o["version"] == world.ids["haki"]
    assert o["key"] == world.dims
    [shared] = o["shared"]
    assert shared["version"] == world.ids["sauti"]
    assert shared["producer"] == "sauti"
    assert shared["observations"] == o["observations"] > 0
    assert all(COUNTY in e["key"] and e["period"] == "2024" for e in shared["examples"])


def test_the_api_refuses_an_overlapping_acceptance_with_the_overlap(world: World) -> None:
    r = world.refused
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["type"] == "Overlapping"
    assert "sauti" in err["message"]
    assert "replace" in err["fix"]
    assert err["overlap"]["shared"][0]["version"] == world.ids["sauti"]
    assert err["overlap"]["observations"] == world.overlap["observations"]


def test_the_review_page_shows_the_overlapping_keys_and_the_choice(world: World) -> None:
    page = world.page
    assert "This version overlaps published data" in page
    assert "sauti" in page
    example = world.overlap["shared"][0]["examples"][0]["key"]
    assert example in page
    assert 'name="replace"' in page
    r = world.page_refusal
    assert r.status_code == 409
    assert "two owners" in r.text
    assert "replace-accept" in r.text


def _overlap_texts(world: World, lang: str) -> tuple[str, set[str]]:
    """The review page's overlap section and replace choices as text, and the data they quote."""
    page = world.page_in[lang]
    section = re.search(r'<section class="panel overlap".*?</section>', page, re.S)
    assert section is not None, page[:500]
    labels = re.findall(r'<input type="checkbox" id="replace-[a-z]+"[^>]*>(.*?)</label>', page, re.S)
    text = re.sub(r"<[^>]+>", "\n", section.group(0) + "\n" + "\n".join(labels))
    shared = world.overlap["shared"]
    data = {FLOW_V1.replace(",", ":", 1).replace(",", "(", 1) + ")"}
    data |= {e["key"] for sh in shared for e in sh["examples"]}
    data |= {sh["producer"] for sh in shared} | {sh["dataset"] for sh in shared}
    return text, data


@pytest.mark.parametrize("lang", ["sw", "ne"])
def test_the_overlap_reads_in_the_reviewers_language(world: World, lang: str) -> None:
    """#17: the review page's overlap (its sentence with the count in the language's plural form,
    the table, the replace choices) and the 409's message; the JSON keeps its codes and fields."""
    from cgd_bridge.i18n import translator
    from tests.support.untranslated import EnglishFinder

    t = translator(lang)
    text, data = _overlap_texts(world, lang)
    n = world.overlap["observations"]
    assert t.number(n) in text
    finder = EnglishFinder(lang, data=data)
    assert not finder.english_in(text), finder.english_in(text)
    r = world.refused_in[lang]
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["type"] == "Overlapping"
    assert err["overlap"] == world.refused.json()["error"]["overlap"]  # machine fields as they are
    quoted = data | {err["overlap"]["dataflow"], "ke-health-scorecard-2024", "ke-county-watch", "replace"}
    left = EnglishFinder(lang, data=quoted).english_in(str(err["message"]))
    assert not left, (left, err["message"])


def test_history_says_who_replaced_what(world: World) -> None:
    r = world.client.get(f"/api/versions/{world.ids['sauti']}/history", headers=world.auth("amina"))
    [entry] = [e for e in r.json() if e["action"] == "version.replaced"]
    assert entry["details"]["by"] == world.ids["haki"]
    assert entry["details"]["by_producer"] == "haki"
    assert entry["details"]["observations"] == world.overlap["observations"]


# ---------------------------------------------------------------- every answer: one owner per key


def _csv_keys(text: str, dims: list[str]) -> list[tuple[str, ...]]:
    return [_key(row, dims) for row in csv.DictReader(io.StringIO(text))]


def _no_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [k for k, _ in pairs]
    assert len(names) == len(set(names)), f"a JSON object repeats a member: {names}"
    return dict(pairs)


def _json_keys(text: str) -> list[tuple[str, ...]]:
    doc = json.loads(text, object_pairs_hook=_no_duplicate_members)
    out = []
    for series_key, series in doc["data"]["dataSets"][0]["series"].items():
        out += [(series_key, obs) for obs in series.get("observations", {})]
    return out


def _xml_keys(body: bytes) -> list[tuple[str, ...]]:
    root = etree.fromstring(body)
    out = []
    for series in root.iter("{*}Series"):
        skey = series.find("{*}SeriesKey")
        if skey is not None:  # generic: SeriesKey/Value, Obs/ObsDimension
            key = tuple(v.get("value") for v in skey.iter("{*}Value"))
            out += [(*key, o.find("{*}ObsDimension").get("value")) for o in series.iter("{*}Obs")]
        else:  # structure-specific: the key in attributes
            key = tuple(sorted(series.attrib.items()))
            out += [(*key, o.get("TIME_PERIOD")) for o in series.iter("{*}Obs")]
    return out


def _keys(fmt: str, r: Any, dims: list[str]) -> list[tuple[str, ...]]:
    if fmt.startswith("sdmx-csv"):
        return _csv_keys(r.text, dims)
    if fmt.startswith("sdmx-json"):
        return _json_keys(r.text)
    return _xml_keys(r.content)


def _assert_unique(keys: list[tuple[str, ...]], context: str) -> None:
    twice = [k for k, n in Counter(keys).items() if n > 1]
    assert not twice, f"{context}: {len(twice)} key(s) twice, e.g. {twice[0]}"


@pytest.mark.parametrize("fmt", DATA_FORMATS)
@pytest.mark.parametrize("who", ["anonymous", "kamau"])
def test_every_data_answer_has_one_observation_per_key(world: World, fmt: str, who: str) -> None:
    headers = world.auth(who) if who != "anonymous" else {}
    for path in (f"/sdmx/rest/data/{FLOW_V1}/all", f"/sdmx/v2/data/dataflow/{FLOW_V2}/*"):
        r = world.client.get(path, params={"format": fmt}, headers=headers)
        if r.status_code == 406:  # not a representation of this API version
            continue
        assert r.status_code == 200, (path, fmt, r.text[:300])
        keys = _keys(fmt, r, world.dims)
        _assert_unique(keys, f"{path} {fmt}")
        assert len(keys) == int(r.headers["X-Observations"]) == world.expected


def test_the_county_values_served_are_the_replacing_versions(world: World) -> None:
    r = world.client.get(
        f"/sdmx/rest/data/{FLOW_V1}/all",
        params={"format": "sdmx-csv-1.0", "startPeriod": "2024", "endPeriod": "2024"},
    )
    rows = [row for row in csv.DictReader(io.StringIO(r.text)) if row["REF_AREA"] == COUNTY]
    assert rows
    county = world.overlap["shared"][0]["observations"]
    assert len(rows) == county
    r = world.client.get(
        f"/sdmx/rest/data/{FLOW_V1}/all/haki",
        params={"format": "sdmx-csv-1.0", "startPeriod": "2024", "endPeriod": "2024"},
    )
    haki = {_key(row, world.dims): row["OBS_VALUE"] for row in csv.DictReader(io.StringIO(r.text))}
    for row in rows:
        assert haki[_key(row, world.dims)] == row["OBS_VALUE"]


@pytest.mark.parametrize("provider", ["sauti", "haki", "jamii", "sauti+jamii", "sauti+haki+jamii"])
def test_selecting_providers_never_brings_replaced_observations_back(world: World, provider: str) -> None:
    r = world.client.get(f"/sdmx/rest/data/{FLOW_V1}/all/{provider}", params={"format": "sdmx-csv-1.0"})
    assert r.status_code in (200, 404), r.text
    keys = _csv_keys(r.text, world.dims) if r.status_code == 200 else []
    _assert_unique(keys, provider)
    areas = Counter(k[world.dims.index("REF_AREA")] for k in keys)
    if provider == "sauti":  # its KE_042 2024 went to haki, its KE_003 to the legacy copy published later
        assert COUNTY not in areas
        assert LEGACY not in areas
    if provider == "jamii":  # the legacy copy was published last: it owns KE_003
        assert set(areas) == {LEGACY}


@pytest.mark.parametrize(
    "path", [f"/sdmx/v2/availability/dataflow/{FLOW_V2}/*", f"/sdmx/rest/availableconstraint/{FLOW_V1}"]
)
def test_availability_counts_each_key_once(world: World, path: str) -> None:
    for accept in ("application/json", "application/xml"):
        r = world.client.get(path, headers={"Accept": accept})
        if r.status_code == 406:
            continue
        assert r.status_code == 200, r.text[:300]
        assert "obs_count" in r.text
        counts = re.findall(r'obs_count"?[^0-9]{1,60}?(\d+)', r.text)
        assert counts, r.text[:500]
        assert {int(c) for c in counts} == {world.expected}, (accept, counts)


def test_a_web_download_has_one_observation_per_key(world: World) -> None:
    r = world.client.get("/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/download", params={"format": "sdmx-csv-1.0"})
    assert r.status_code == 200, r.text[:300]
    keys = _csv_keys(r.text, world.dims)
    _assert_unique(keys, "download")
    assert len(keys) == world.expected


@pytest.mark.parametrize(
    ("provider", "areas"), [("haki", {COUNTY}), ("jamii", {LEGACY}), ("haki+jamii", {COUNTY, LEGACY})]
)
def test_availability_by_provider_counts_what_the_provider_owns(
    world: World, provider: str, areas: set
) -> None:
    """v1 ``availableconstraint/{flow}/{key}/{providerRef}`` answered for every provider alike."""
    for path in (
        f"/sdmx/rest/availableconstraint/{FLOW_V1}/all/{provider}",
        f"/sdmx/rest/availableconstraint/{FLOW_V1}/all/{provider}/REF_AREA",
    ):
        r = world.client.get(path)
        assert r.status_code == 200, r.text[:300]
        data = world.client.get(
            f"/sdmx/rest/data/{FLOW_V1}/all/{provider}", params={"format": "sdmx-csv-1.0"}
        )
        [count] = {int(c) for c in re.findall(r'obs_count"?[^0-9]{1,60}?(\d+)', r.text)}
        assert count == int(data.headers["X-Observations"]) < world.expected
        found = set(re.findall(r">(KE_\d{3})<", r.text))
        assert found == areas, r.text[:500]


def test_a_kept_answer_is_not_served_after_a_replace(world: World) -> None:
    """The same query of the same provider reads the same version before and after another
    version took some of its observations over: the kept answer (and its ETag) must not return."""
    after = world.client.get(f"/sdmx/rest/data/{FLOW_V1}/all/sauti", params={"format": "sdmx-csv-1.0"})
    county = world.overlap["observations"]
    assert int(after.headers["X-Observations"]) == int(world.before.headers["X-Observations"]) - county
    assert after.headers["ETag"] != world.before.headers["ETag"]
    areas = {k[world.dims.index("REF_AREA")] for k in _csv_keys(after.text, world.dims)}
    assert COUNTY not in areas
    assert COUNTY in {k[world.dims.index("REF_AREA")] for k in _csv_keys(world.before.text, world.dims)}
