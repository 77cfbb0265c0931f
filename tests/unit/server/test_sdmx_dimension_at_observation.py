"""dimensionAtObservation over the SDMX REST API (issue #4): any dimension or AllDimensions in
SDMX-ML and SDMX-JSON, the same observations as by TIME_PERIOD; unknown values are a 400."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import sdmx
import sdmx.reader.xml.v30
from fastapi.testclient import TestClient

from cgd_bridge.structures import Structures
from tests.support.demo import seeded_app

FLOW = "CGD_BRIDGE,DF_CGD_KE,1.0"
V2 = "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*"
DSD = Structures().dataflow("CGD_BRIDGE:DF_CGD_KE(1.0)").structure


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with seeded_app(tmp_path_factory.mktemp("dimension_at_observation")) as (c, _, _):
        yield c


def observations(content: bytes, *, structure: bool) -> dict[tuple[str, ...], str | None]:
    """Every observation by its whole key (dimension id = code, sorted), as sdmx1 reads it."""
    msg = sdmx.read_sdmx(io.BytesIO(content), **({"structure": DSD} if structure else {}))
    out = {}
    for obs in msg.data[0].obs:
        key = (
            {**obs.series_key.values, **obs.dimension.values}
            if obs.series_key
            else dict(obs.dimension.values)
        )
        ids = [d.id for d in DSD.dimensions.components]
        out[tuple(f"{d}={key[d].value}" for d in ids)] = None if obs.value is None else str(obs.value)
    return out


@pytest.fixture(scope="module")
def by_time(client: TestClient) -> dict[tuple[str, ...], str | None]:
    r = client.get(f"/sdmx/rest/data/{FLOW}/all")
    assert r.status_code == 200, r.text
    found = observations(r.content, structure=False)
    assert len(found) == int(r.headers["X-Observations"]) > 0
    return found


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-generic", "sdmx-ml-2.1-ss", "sdmx-ml-3.0-ss"])
@pytest.mark.parametrize("at", ["SEX", "REF_AREA", "AllDimensions"])
def test_sdmx_ml_by_any_dimension_has_the_same_observations(client, by_time, fmt, at):
    r = client.get(f"/sdmx/rest/data/{FLOW}/all", params={"format": fmt, "dimensionAtObservation": at})
    assert r.status_code == 200, r.text
    head = r.content[:3000].decode()
    assert f'dimensionAtObservation="{at}"' in head
    if "generic" not in fmt:
        assert f"ObsLevelDim:{at}" in head
    assert observations(r.content, structure="generic" not in fmt) == by_time
    body = r.content.split(b"</message:Header>")[1]
    assert (b"Series" in body) == (at != "AllDimensions")


def test_sdmx1_client_style_query_all_dimensions(client, by_time):
    """sdmx1's Client sends dimensionAtObservation=AllDimensions with the default (generic) format."""
    r = client.get(f"/sdmx/rest/data/{FLOW}/all?dimensionAtObservation=AllDimensions&detail=full")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.sdmx.genericdata+xml")
    assert observations(r.content, structure=False) == by_time


@pytest.mark.parametrize("at", ["REF_AREA", "AllDimensions"])
def test_sdmx_json_on_v2_by_another_dimension(client, by_time, at):
    r = client.get(
        V2,
        params={"dimensionAtObservation": at},
        headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"},
    )
    assert r.status_code == 200, r.text
    data = json.loads(r.content)["data"]
    st = data["structures"][0]
    dims = st["dimensions"]
    assert [d["id"] for d in dims["observation"]] == (
        [d.id for d in DSD.dimensions.components] if at == "AllDimensions" else [at]
    )
    ds = data["dataSets"][0]
    if at == "AllDimensions":
        assert "series" not in ds
        count = len(ds["observations"])
    else:
        count = sum(len(s["observations"]) for s in ds["series"].values())
    assert count == len(by_time)


def test_pysdmx_reads_a_flat_v2_answer(client, by_time):
    from pysdmx.io import read_sdmx

    r = client.get(
        V2,
        params={"dimensionAtObservation": "AllDimensions"},
        headers={"Accept": "application/vnd.sdmx.data+xml;version=3.0.0"},
    )
    assert r.status_code == 200, r.text
    frame = read_sdmx(r.text, validate=True).data[0].data
    assert len(frame) == len(by_time)


@pytest.mark.parametrize(
    "query",
    [
        "dimensionAtObservation=NOPE",
        "dimensionAtObservation=NOPE&format=sdmx-csv-2.0",
        "dimensionAtObservation=AllDimensions&detail=serieskeysonly",
    ],
)
def test_what_cannot_be_written_is_a_400(client, query):
    r = client.get(f"/sdmx/rest/data/{FLOW}/all?{query}")
    assert r.status_code == 400, r.text
    assert "dimensionAtObservation" in r.text or "AllDimensions" in r.text


def test_series_only_by_another_dimension(client, by_time):
    """detail=serieskeysonly with REF_AREA at the observation: one series per other key + period."""
    r = client.get(
        f"/sdmx/rest/data/{FLOW}/all",
        params={
            "format": "sdmx-ml-2.1-generic",
            "dimensionAtObservation": "REF_AREA",
            "detail": "serieskeysonly",
        },
    )
    assert r.status_code == 200, r.text
    series = sdmx.read_sdmx(io.BytesIO(r.content)).data[0].series
    expected = {tuple(p for p in key if not p.startswith("REF_AREA=")) for key in by_time}
    got = {tuple(f"{k}={v.value}" for k, v in s.values.items()) for s in series}
    assert {tuple(sorted(k)) for k in got} == {tuple(sorted(k)) for k in expected}
