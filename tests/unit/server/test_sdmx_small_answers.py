"""Small SDMX-CSV answers written from the key index are the writer's bytes, and refuse alike (#16).

A one-series query in SDMX-CSV (the default options) is answered from the rows the key index
finds, with each column's text looked up in the index (``service._indexed_answer``), not by
taking the rows from the table and running the writer. These tests check that the bytes are
the writer's for awkward data (quotes, commas, other scripts, nulls, numbers), options and
keys; that the server answers the same with and without it; and that it never runs for a
request the access policy refuses (no key, a revoked MoU, an embargo, another organisation).
"""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from cgd_bridge.server.sdmx import service
from cgd_bridge.server.sdmx.data import KeyIndex, indexed_rows, select
from cgd_bridge.server.sdmx.negotiate import Choice
from cgd_bridge.server.sdmx.query import Params
from cgd_bridge.store import mous, orgs, submissions
from tests.unit.server.conftest import CSV, World, publish

DIMS = ["SERIES", "REF_AREA", "SEX", "AGE"]
ATTRS = ["UNIT_MEASURE", "UNIT_MULT", "COMMENT_OBS", "OBS_STATUS"]
FLOW = service.Flow(
    SimpleNamespace(agency="CGD_BRIDGE", id="DF_TEST", version="1.0", ref="CGD_BRIDGE:DF_TEST(1.0)"),  # type: ignore[arg-type]
    DIMS,
    ATTRS,
    ("UNIT_MEASURE", "UNIT_MULT"),
)
COMMENTS = [
    'Kaunti ya "Mombasa", kipimo cha robo',  # quotes and a comma
    "উপজেলা পর্যায়ের তথ্য",  # Bangla
    "जिल्ला स्तरको तथ्याङ्क, २०८०",  # Nepali, with a comma
    None,
    "line one\nline two",  # a newline inside a cell
    "",  # empty, not null
]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(16)
    n = 3_000

    def col(codes: list[str | None], null: float = 0.0) -> pa.Array:
        values = np.array(codes, dtype=object)[rng.integers(0, len(codes), n)]
        return pa.array(values, pa.string(), mask=rng.random(n) < null if null else None)

    value = np.round(rng.uniform(0, 1000, n), 3)
    value[:7] = [0.0, 100.0, 1e-7, 12345678901.5, -2.5, 1 / 3, 5e22]
    return pa.table(
        {
            "SERIES": col(["SH_STA_SCORE", "SP_ACS_BSRVH2O"]),
            "REF_AREA": col([f"KE_{i:03d}" for i in range(1, 48)], null=0.01),
            "SEX": col(["F", "M", "_T"]),
            "AGE": col(["Y18T24", "_T"]),
            "TIME_PERIOD": col([str(y) for y in range(2015, 2025)] + ["2024-Q2", "2024-06"]),
            "OBS_VALUE": pa.array(value, pa.float64(), mask=rng.random(n) < 0.05),
            "UNIT_MEASURE": col(["PT"]),
            "UNIT_MULT": pa.array(rng.integers(0, 3, n), pa.int64()),
            "COMMENT_OBS": col(COMMENTS),
            "OBS_STATUS": col(["A", "E", None]),
            service.VERSION_COLUMN: pa.array(rng.integers(0, 2, n), pa.int32()),
        }
    )


def _key(*codes: str | None) -> list:
    return [[None if c is None else frozenset(c.split("+")) for c in codes]]


KEYS = [
    _key("SH_STA_SCORE", "KE_001", "F", "_T"),  # one series
    _key("SP_ACS_BSRVH2O", "KE_047", "_T", None),  # a wildcard
    _key("SH_STA_SCORE+SP_ACS_BSRVH2O", "KE_010+KE_011", "M", "Y18T24"),  # several codes
    _key("SH_STA_SCORE", "KE_002", "F", "_T") + _key("SP_ACS_BSRVH2O", "KE_003", "M", "_T"),  # OR
]
PARAMS = [
    Params(),
    Params(detail="dataonly"),
    Params(measures="none"),
    Params(attributes="series"),
    Params(attributes="COMMENT_OBS"),
]


@pytest.mark.parametrize("name", ["sdmx-csv-1.0", "sdmx-csv-2.0"])
@pytest.mark.parametrize("keys", KEYS)
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: f"{p.detail}-{p.measures}-{p.attributes}")
def test_the_indexed_answer_is_the_writers_bytes(
    table: pa.Table, name: str, keys: list, params: Params
) -> None:
    index = KeyIndex(table)
    choice = Choice(name, "text/csv")
    rows = indexed_rows(index, DIMS, keys)
    assert rows is not None
    assert len(rows) > 0
    fast = service._indexed_answer(index, rows, FLOW, params, choice)
    body, target = service._shape(select(table, DIMS, keys, params, index=index), FLOW, params, choice)
    assert fast == service._written(choice, body, target, params)


@pytest.mark.parametrize(
    "choice",
    [
        Choice("sdmx-csv-2.0", "text/csv", labels="both"),
        Choice("sdmx-csv-2.0", "text/csv", time_format="normalized"),
        Choice("sdmx-csv-1.0", "text/csv", keys="series"),
        Choice("sdmx-json-2.0", "application/json"),
        Choice("sdmx-ml-2.1-ss", "application/xml"),
    ],
)
def test_other_formats_and_options_are_left_to_the_writer(table: pa.Table, choice: Choice) -> None:
    index = KeyIndex(table)
    rows = indexed_rows(index, DIMS, KEYS[0])
    assert rows is not None
    assert service._indexed_answer(index, rows, FLOW, Params(), choice) is None


def test_series_without_observations_are_left_to_the_writer(table: pa.Table) -> None:
    index = KeyIndex(table)
    rows = indexed_rows(index, DIMS, KEYS[0])
    assert rows is not None
    choice = Choice("sdmx-csv-2.0", "text/csv")
    for detail in ("serieskeysonly", "nodata"):
        assert service._indexed_answer(index, rows, FLOW, Params(detail=detail), choice) is None


# ------------------------------------------------------------------------------------ the server


@pytest.fixture
def indexed(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each call of the indexed answer: True when it answered, False when it left it to the writer."""
    calls: list[bool] = []
    original = service._indexed_answer

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(service, "_indexed_answer", spy)
    return calls


def _pull(world: World, path: str, who: str | None = "kamau", headers: dict[str, str] | None = None):
    auth = {"Authorization": f"Bearer {world.keys[who]}"} if who else {}
    return world.client.get(path, headers={**CSV, **auth, **(headers or {})})


@pytest.mark.world_settings(answer_cache_mb=0)
def test_the_server_answers_the_same_with_and_without_it(
    world: World, kenya, indexed: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    row = kenya.harmonised.table.slice(5, 1).to_pylist()[0]
    two = "+".join(sorted({row["SEX"], "_T"}))
    queries = [
        world.series,
        world.series.replace("/DF_CGD_KE/", "/CGD_BRIDGE,DF_CGD_KE,1.0/"),
        world.series + "?detail=dataonly",
        world.series + "?attributes=none&measures=none",
        "/sdmx/rest/data/DF_CGD_KE/"
        + ".".join(row[d] if d != "SEX" else two for d in kenya.target.dimensions),
    ]
    v1 = {"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"}
    fast = [_pull(world, q, headers=h) for q in queries for h in ({}, v1)]
    assert indexed
    assert all(indexed)
    assert all(r.status_code == 200 for r in fast)
    monkeypatch.setattr(service, "_indexed_answer", lambda *a, **k: None)
    slow = [_pull(world, q, headers=h) for q in queries for h in ({}, v1)]
    for a, b in zip(fast, slow, strict=True):
        assert a.content == b.content
        for field in ("ETag", "X-Observations", "Content-Type", "Last-Modified"):
            assert a.headers.get(field) == b.headers.get(field)
    pulls = world.client.get(
        "/api/organisations/sauti/pulls", headers={"Authorization": f"Bearer {world.keys['amina']}"}
    ).json()
    assert len(pulls) == 2 * len(fast)  # every pull audited, fast or not
    assert sorted(p["observations"] for p in pulls[: len(fast)]) == sorted(
        p["observations"] for p in pulls[len(fast) :]
    )


@pytest.mark.world_settings(answer_cache_mb=0)
def test_it_never_runs_for_a_refused_request(world: World, kenya, indexed: list[bool]) -> None:
    ends = world.clock() + dt.timedelta(hours=1)
    with world.bridge.sessions() as session:
        publish(
            session, kenya, world.producer, world.reviewer, "restricted", is_open=False, embargo_until=ends
        )
        orgs.create_organisation(session, slug="other-nso", name="Other NSO", kind="nso")
        orgs.create_user(session, username="otieno", organisation="other-nso", role="reviewer")
        world.keys["otieno"] = orgs.create_key(session, username="otieno").key
        orgs.create_organisation(session, slug="other-cso", name="Other CSO", kind="cso")
        orgs.create_user(session, username="wanjiru", organisation="other-cso", role="submitter")
        world.keys["wanjiru"] = orgs.create_key(session, username="wanjiru").key
    assert _pull(world, world.series, who=None).status_code in (401, 404)  # anonymous: no key
    assert _pull(world, world.series, who="otieno").status_code in (403, 404)  # an NSO without MoU
    assert _pull(world, world.series, who="wanjiru").status_code in (403, 404)  # another CSO
    assert indexed == []
    assert _pull(world, world.series).status_code == 200  # the MoU reviewer reads it before the embargo ends
    assert indexed == [True]
    with world.bridge.sessions() as session:
        mous.revoke_mou(session, mou_id=world.mou_id)
    assert _pull(world, world.series).status_code in (403, 404)  # embargoed and no MoU: not served
    assert indexed == [True]
    bad = {"Authorization": "Bearer cgdb_0000_not-a-key"}
    assert world.client.get(world.series, headers={**CSV, **bad}).status_code == 401
    assert indexed == [True]


@pytest.mark.world_settings(answer_cache_mb=0)
def test_a_withdrawn_version_is_not_served_from_the_index(world: World, kenya, indexed: list[bool]) -> None:
    with world.bridge.sessions() as session:
        version_id = publish(session, kenya, world.producer, world.reviewer, "open")
    assert _pull(world, world.series).status_code == 200
    with world.bridge.sessions() as session:
        submissions.withdraw(session, principal=world.producer, version_id=version_id, reason="wrong counts")
    assert _pull(world, world.series).status_code == 404
    assert indexed == [True]


# ------------------------------------------------------- fast and slow paths, over keys and options

CODES = {
    "REF_AREA": ["KE_042", "KE_032", "KE_016", "KE_003", "KE_047"],  # KE_047: not in the data
    "SEX": ["F", "M", "_T"],
    "AGE": ["Y18T24", "Y25T44", "Y45T59", "Y_GE60", "_T"],
    "DISABILITY_STATUS": ["PD", "PWD", "_T"],
}
OPTIONS = {
    "detail": ["full", "dataonly", "serieskeysonly", "nodata"],
    "attributes": ["dsd", "none", "series", "obs", "CONF_STATUS", "OBS_STATUS,COMMENT_OBS"],
    "measures": ["all", "none", "OBS_VALUE"],
    "dimensionAtObservation": ["TIME_PERIOD", "AllDimensions", "SEX"],
    "updatedAfter": ["2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"],
    "startPeriod": ["2024", "2025"],
    "endPeriod": ["2023"],
    "lastNObservations": ["1"],
    "includeHistory": ["false"],
}
ACCEPTS = [
    CSV,
    {"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"},
    {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0;labels=both"},
    {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0;timeFormat=normalized;keys=both"},
    {"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"},
]


def _without_header(body: bytes) -> bytes:
    """An SDMX-ML message without its Header (its Prepared time and id differ per request)."""
    return re.sub(rb"<([A-Za-z]+):Header>.*?</\1:Header>", b"", body, count=1, flags=re.S)


def key_part(draw, dim: str, row: dict, codes: dict[str, list[str]] = CODES) -> str:
    """One key part for ``row``'s series: its code, two or three of ``codes``, a wildcard or a
    code not there (a dimension without listed codes: its code, empty, or with ``+ZZZ``)."""
    from hypothesis import strategies as st

    if dim not in codes:
        return draw(st.sampled_from([row[dim]] * 8 + ["", row[dim] + "+ZZZ"]))
    choice = draw(st.sampled_from(["one"] * 6 + ["two", "two", "any", "none"]))
    if choice == "one":
        return row[dim]
    if choice == "two":
        return "+".join(draw(st.lists(st.sampled_from(codes[dim]), min_size=2, max_size=3, unique=True)))
    return "" if choice == "any" else "ZZZ"


@pytest.mark.world_settings(answer_cache_mb=0)  # each request answered, none from the other's answer
def test_fast_and_slow_paths_answer_alike_for_any_key_and_option(
    world: World, kenya, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A property over keys (single codes, ``+``, wildcards, codes not there) and options
    (detail, attributes, measures, dimensionAtObservation, updatedAfter, periods, lastN) and
    formats: the key index's answer is the writer's answer, status, bytes and headers, on
    SQLite and PostgreSQL, before and after a newer version is published."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    dims = list(kenya.target.dimensions)
    rows = kenya.harmonised.table.select(dims).to_pylist()
    fast_on = {"on": True}
    original = service._indexed_answer
    used: list[bool] = []

    def switch(*args, **kwargs):
        out = original(*args, **kwargs) if fast_on["on"] else None
        used.append(out is not None)
        return out

    monkeypatch.setattr(service, "_indexed_answer", switch)

    @st.composite
    def queries(draw) -> tuple[str, dict[str, str]]:
        row = draw(st.sampled_from(rows))
        key = ".".join(key_part(draw, d, row) for d in dims)
        # one option (more often one the fast path takes), sometimes a second
        first = draw(st.sampled_from(["detail", "attributes", "measures"] * 2 + sorted(OPTIONS)))
        options = [first, *draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=1))]
        query = "&".join(f"{k}={draw(st.sampled_from(OPTIONS[k]))}" for k in dict.fromkeys(options))
        query = draw(st.sampled_from(["", query, query]))
        path = "/sdmx/rest/data/DF_CGD_KE/" + key + (f"?{query}" if query else "")
        return path, draw(st.sampled_from([ACCEPTS[0], *ACCEPTS]))

    def answer(path: str, accept: dict[str, str], fast: bool):
        fast_on["on"] = fast
        return _pull(world, path, headers=accept)

    @settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(queries())
    def alike(query: tuple[str, dict[str, str]]) -> None:
        path, accept = query
        a, b = answer(path, accept, True), answer(path, accept, False)
        assert a.status_code == b.status_code, path
        assert _without_header(a.content) == _without_header(b.content), path
        fields = ("X-Observations", "Content-Type", "Last-Modified")
        if "csv" in a.headers.get("Content-Type", ""):
            fields += ("ETag",)  # an SDMX-ML answer's ETag covers its Prepared time
            assert a.content == b.content, path
        for field in fields:
            assert a.headers.get(field) == b.headers.get(field), (path, field)

    alike()
    assert sum(used) >= 15, f"the property reached the fast path {sum(used)} times"
    with world.bridge.sessions() as session:  # a newer version after the index was built
        publish(session, kenya, world.producer, world.reviewer, "open-2")
    alike()
