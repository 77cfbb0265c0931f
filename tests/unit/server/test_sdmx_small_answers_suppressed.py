"""The key index's small answers, attacked with data that has suppressed cells (#16, #17).

``test_sdmx_small_answers.py`` proves the fast path gives the writer's bytes on the Kenya example,
which suppresses nothing. Here the data is a Kenyan monthly table with its quarters and year
(``tests/unit/checks/test_relations_a_reader_knows.py``: small months, their complements along
sex and time), published on SQLite and PostgreSQL. A property over keys (single codes, ``+``,
wildcards, codes not there), options (detail, attributes, measures, dimensionAtObservation,
updatedAfter, periods, first/lastNObservations, includeHistory), SDMX REST v1 and v2 and every
data format: the fast and slow paths answer alike (status, bytes, headers), and no SDMX-CSV answer
(read back row by row) gives a suppressed cell a value, drops its marks or carries
a count behind it: the store keeps them for the producer's checks).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from cgd_bridge import pipeline
from cgd_bridge.server.sdmx import service
from cgd_bridge.store import submissions
from cgd_bridge.store.submissions import RawFile
from tests.unit.checks.test_relations_a_reader_knows import write_inputs
from tests.unit.server.conftest import CSV, World
from tests.unit.server.test_sdmx_small_answers import key_part

CODES = {
    "FREQ": ["A", "Q", "M"],
    "REF_AREA": ["KE_042", "KE_032", "KE_016", "KE_003", "KE_047"],  # KE_047: not in the data
    "SEX": ["F", "M", "_T"],
}
OPTIONS = {
    "detail": ["full", "dataonly", "serieskeysonly", "nodata"],
    "attributes": ["dsd", "none", "series", "obs", "CONF_STATUS", "OBS_STATUS,COMMENT_OBS"],
    "measures": ["all", "none", "OBS_VALUE"],
    "dimensionAtObservation": ["TIME_PERIOD", "AllDimensions", "SEX"],
    "updatedAfter": ["2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"],
    "startPeriod": ["2024-02", "2024-Q3"],
    "endPeriod": ["2024-06"],
    "firstNObservations": ["1", "3"],
    "lastNObservations": ["1", "2"],
    "includeHistory": ["false", "true"],
}
ACCEPTS = [
    CSV,
    {"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"},
    {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0;labels=both"},
    {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0;timeFormat=normalized;keys=both"},
    {"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"},
    {"Accept": "application/vnd.sdmx.structurespecificdata+xml;version=2.1"},
    {"Accept": "application/vnd.sdmx.data+json;version=2.0.0"},
]


@pytest.fixture(scope="module")
def monthly(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("monthly")
    write_inputs(folder)
    result = pipeline.harmonise(
        folder / "data.csv", metadata=folder / "quality.yaml", mapping=folder / "mapping.yaml"
    )
    assert result.harmonised is not None
    return result, (folder / "data.csv").read_bytes()


def _hidden(monthly) -> dict[tuple[str, ...], None]:
    result, _ = monthly
    t = result.harmonised.table
    dims = list(result.target.dimensions)
    out = {}
    for row in t.to_pylist():
        if row["CONF_STATUS"] == "C":  # the cells the bridge suppressed, whatever their value
            out[(*tuple(row[d] for d in dims), row["TIME_PERIOD"])] = None
    return out


def _publish(world: World, monthly, dataset: str) -> int:
    result, raw = monthly
    with world.bridge.sessions() as session:
        v = submissions.create_version(
            session, result, principal=world.producer, dataset=dataset, submit=True,
            files=[RawFile("data", "data.csv", raw, "text/csv")],
        )  # fmt: skip
        submissions.accept(session, principal=world.reviewer, version_id=v.id, replace=True)
        submissions.publish(session, principal=world.reviewer, version_id=v.id)
        return v.id


def _without_header(body: bytes) -> bytes:
    """An SDMX message without its per-request Header (SDMX-ML) or meta (SDMX-JSON)."""
    body = re.sub(rb"<([A-Za-z]+):Header>.*?</\1:Header>", b"", body, count=1, flags=re.S)
    if body.startswith(b"{"):
        message = json.loads(body)
        message.pop("meta", None)
        return json.dumps(message, sort_keys=True).encode()
    return body


def _csv_leaks(body: bytes, dims: list[str], hidden: dict) -> list[str]:
    """The rows of an SDMX-CSV answer that give a suppressed cell a value (or drop its marks)."""
    leaks = []
    for row in csv.DictReader(io.StringIO(body.decode("utf-8"))):
        key = tuple(str(row.get(d, "")).split(":")[0] for d in [*dims, "TIME_PERIOD"])
        if key not in hidden:
            continue
        if row.get("OBS_VALUE"):
            leaks.append(f"{key}: OBS_VALUE {row['OBS_VALUE']}")
        for name in ("OBS_COUNT", "OBS_NUMERATOR", "OBS_DENOMINATOR"):
            if row.get(name):
                leaks.append(f"{key}: {name} {row[name]}")
        for name, mark in (("OBS_STATUS", "Q"), ("CONF_STATUS", "C")):
            if name in row and row[name] and row[name].split(":")[0] != mark:
                leaks.append(f"{key}: {name} {row[name]}")
    return leaks


@pytest.mark.world_settings(answer_cache_mb=0)  # each request answered, none from the other's answer
def test_fast_and_slow_paths_alike_and_no_suppressed_value_leaves(
    world: World, monthly, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    result, _ = monthly
    hidden = _hidden(monthly)
    assert len(hidden) >= 8  # the small months and their complements
    _publish(world, monthly, "monthly")
    dims = list(result.target.dimensions)
    rows = result.harmonised.table.select(dims).to_pylist()
    suppressed_rows = [r for r in result.harmonised.table.to_pylist() if r["CONF_STATUS"] == "C"]
    # the store keeps the counts behind each cell for the producer's own checks (OBS_NUMERATOR
    # of a suppressed month among them): no answer may carry them (_csv_leaks)
    assert any(r.get("OBS_NUMERATOR") is not None for r in suppressed_rows)
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
        # a suppressed cell's series half of the time
        row = draw(st.sampled_from(rows + [{d: r[d] for d in dims} for r in suppressed_rows] * 3))
        parts = [key_part(draw, d, row, CODES) for d in dims]
        first = draw(st.sampled_from(["detail", "attributes", "measures"] * 2 + sorted(OPTIONS)))
        options = [first, *draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=1))]
        query = "&".join(f"{k}={draw(st.sampled_from(OPTIONS[k]))}" for k in dict.fromkeys(options))
        query = draw(st.sampled_from(["", query, query]))
        if draw(st.booleans()):
            path = "/sdmx/rest/data/DF_CGD_KE/" + ".".join(parts)
        else:  # v2: '*' is the wildcard, ',' the alternatives
            v2 = [p.replace("+", ",") or "*" for p in parts]
            path = "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/" + ".".join(v2)
        return path + (f"?{query}" if query else ""), draw(st.sampled_from([ACCEPTS[0], *ACCEPTS]))

    def answer(path: str, accept: dict[str, str], fast: bool):
        fast_on["on"] = fast
        auth = {"Authorization": f"Bearer {world.keys['kamau']}"}
        return world.client.get(path, headers={**accept, **auth})

    @settings(max_examples=70, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(queries())
    def alike(query: tuple[str, dict[str, str]]) -> None:
        path, accept = query
        a, b = answer(path, accept, True), answer(path, accept, False)
        assert a.status_code == b.status_code, path
        assert _without_header(a.content) == _without_header(b.content), path
        kind = a.headers.get("Content-Type", "")
        if "csv" in kind:
            assert a.content == b.content, path
            assert a.headers.get("ETag") == b.headers.get("ETag"), path
            if a.status_code == 200:
                leaks = _csv_leaks(a.content, dims, hidden)
                assert not leaks, (path, leaks)
        for field in ("X-Observations", "Content-Type", "Last-Modified"):
            assert a.headers.get(field) == b.headers.get(field), (path, field)

    alike()
    assert sum(used) >= 10, f"the property reached the fast path {sum(used)} times"
    _publish(world, monthly, "monthly-2")  # a newer version after the index was built
    alike()


@pytest.mark.world_settings(answer_cache_mb=0)
def test_every_suppressed_series_pulled_by_its_key_carries_no_value(world: World, monthly) -> None:
    """Each series holding a suppressed cell, by its full key, fast path and v1/v2, SDMX-CSV 1.0
    and 2.0 with every label and time option: the cell is there, without a value, marked Q/C."""
    result, _ = monthly
    hidden = _hidden(monthly)
    _publish(world, monthly, "monthly")
    dims = list(result.target.dimensions)
    auth = {"Authorization": f"Bearer {world.keys['kamau']}"}
    seen = set()
    for key in hidden:
        series = ".".join(key[:-1])
        for path in (
            "/sdmx/rest/data/DF_CGD_KE/" + series,
            "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/" + series,
        ):
            for accept in ACCEPTS[:4]:
                r = world.client.get(path, headers={**accept, **auth})
                assert r.status_code == 200, path
                assert not _csv_leaks(r.content, dims, hidden), (path, accept)
                text = r.content.decode("utf-8")
                for row in csv.DictReader(io.StringIO(text)):
                    k = tuple(str(row.get(d, "")).split(":")[0] for d in [*dims, "TIME_PERIOD"])
                    seen.add(k)
    assert set(hidden) <= seen  # every suppressed cell was in an answer, and none had a value


def test_the_fixture_is_what_it_claims(monthly, tmp_path: Path) -> None:
    hidden = _hidden(monthly)
    periods = {k[-1] for k in hidden}
    assert any(len(p) == 7 and "-Q" not in p for p in periods)  # suppressed months
