"""detail= and attributes= shape data responses: dataonly, serieskeysonly, nodata (in-process, demo data)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.demo import seeded_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with seeded_app(tmp_path_factory.mktemp("detail")) as (c, _, _):
        yield c


def rows(client: TestClient, query: str) -> list[dict[str, str]]:
    r = client.get(f"/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?{query}")
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def test_full_and_dataonly(client: TestClient) -> None:
    full = rows(client, "format=sdmx-csv-2.0")
    assert {"TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "UNIT_MEASURE"} <= set(full[0])
    bare = rows(client, "format=sdmx-csv-2.0&detail=dataonly")
    assert len(bare) == len(full)
    assert "OBS_STATUS" not in bare[0]
    assert "UNIT_MEASURE" not in bare[0]
    assert [r["OBS_VALUE"] for r in bare] == [r["OBS_VALUE"] for r in full]


def test_series_keys_only(client: TestClient) -> None:
    full = rows(client, "format=sdmx-csv-2.0")
    keys = rows(client, "format=sdmx-csv-2.0&detail=serieskeysonly")
    assert "TIME_PERIOD" not in keys[0]
    assert "OBS_VALUE" not in keys[0]
    dims = [c for c in keys[0] if c not in ("STRUCTURE", "STRUCTURE_ID", "ACTION")]
    assert len(keys) == len({tuple(r[d] for d in dims) for r in full})


def test_nodata_keeps_series_attributes(client: TestClient) -> None:
    series = rows(client, "format=sdmx-csv-2.0&detail=nodata")
    assert "UNIT_MEASURE" in series[0]  # attached to the series in the SDG DSD
    assert "OBS_STATUS" not in series[0]  # an observation attribute
    assert "OBS_VALUE" not in series[0]


def series_keys(client: TestClient) -> set[tuple[str, ...]]:
    full = rows(client, "format=sdmx-csv-2.0")
    dims = [c for c in full[0] if c not in ("STRUCTURE", "STRUCTURE_ID", "ACTION")]
    dims = dims[: dims.index("TIME_PERIOD")]
    return {tuple(r[d] for d in dims) for r in full}


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-generic", "sdmx-ml-2.1-ss", "sdmx-ml-3.0-ss"])
@pytest.mark.parametrize("detail", ["serieskeysonly", "nodata"])
def test_series_only_details_in_sdmx_ml(client: TestClient, fmt: str, detail: str) -> None:
    """Issue #4: series without observations (keys only, or with their series attributes), read by sdmx1."""
    import sdmx
    import sdmx.reader.xml.v30  # sdmx1 process-wide reader state: as the server does

    from cgd_bridge.structures import Structures

    r = client.get(f"/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?format={fmt}&detail={detail}")
    assert r.status_code == 200, r.text
    assert b"Obs" not in r.content.split(b"</message:Header>")[1]
    dsd = Structures().dataflow("CGD_BRIDGE:DF_CGD_KE(1.0)").structure
    msg = sdmx.read_sdmx(io.BytesIO(r.content), **({} if "generic" in fmt else {"structure": dsd}))
    series = msg.data[0].series
    assert {tuple(str(v.value) for v in k.values.values()) for k in series} == series_keys(client)
    assert all(len(obs) == 0 for obs in series.values())
    assert all(("UNIT_MEASURE" in k.attrib) == (detail == "nodata") for k in series)
    assert all("OBS_STATUS" not in k.attrib for k in series)


@pytest.mark.parametrize("detail", ["serieskeysonly", "nodata"])
def test_series_only_details_in_sdmx_json(client: TestClient, detail: str) -> None:
    r = client.get(
        "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*",
        params={"detail": detail},
        headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    series = data["dataSets"][0]["series"]
    assert len(series) == len(series_keys(client))
    assert all("observations" not in s for s in series.values())
    listed = [a["id"] for a in data["structures"][0]["attributes"]["series"]]
    assert ("UNIT_MEASURE" in listed) == (detail == "nodata")
