"""The SDMX-ML 2.1 time-series formats and SDMX-JSON 1.0 data over SDMX REST (#15): chosen by
``Accept`` or ``format=``, the same observations as the default format, valid against their
official schemas; a time-series format with another observation dimension is a 400."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import sdmx
from fastapi.testclient import TestClient

from tests.support.demo import seeded_app
from tests.support.schemas import official
from tests.unit.sdmx.test_sdmx_json10 import as_sdmx1_reads, validate
from tests.unit.server.test_sdmx_dimension_at_observation import FLOW, V2, observations

V1 = f"/sdmx/rest/data/{FLOW}/all"
GENERIC_TS = "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1"
SS_TS = "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1"
JSON10 = "application/vnd.sdmx.data+json;version=1.0.0"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with seeded_app(tmp_path_factory.mktemp("data_formats")) as (c, _, _):
        yield c


@pytest.fixture(scope="module")
def by_default(client: TestClient) -> dict[tuple[str, ...], str | None]:
    r = client.get(V1)
    assert r.status_code == 200, r.text
    return observations(r.content, structure=False)


@pytest.mark.parametrize(("accept", "root"), [(GENERIC_TS, "GenericTimeSeriesData"),
                                              (SS_TS, "StructureSpecificTimeSeriesData")])  # fmt: skip
@pytest.mark.parametrize("path", [V1, V2])
def test_time_series_by_accept_has_the_default_observations(client, by_default, accept, root, path, tmp_path):
    r = client.get(path, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == accept
    assert f"<message:{root} " in r.text[:1000]
    assert observations(r.content, structure="structurespecific" in accept) == by_default
    if accept == GENERIC_TS:
        (tmp_path / "ts.xml").write_bytes(r.content)
        assert sdmx.validate_xml(tmp_path / "ts.xml", schema_dir=official("2.1"), version="2.1")


@pytest.mark.parametrize(("alias", "media"), [("generictimeseriesdata", GENERIC_TS),
                                              ("structurespecifictimeseriesdata", SS_TS),
                                              ("sdmx-json-1.0", JSON10)])  # fmt: skip
def test_format_aliases(client, alias, media):
    r = client.get(V1, params={"format": alias})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media


@pytest.mark.parametrize("accept", [GENERIC_TS, SS_TS])
@pytest.mark.parametrize("at", ["SEX", "AllDimensions"])
def test_time_series_with_another_observation_dimension_is_a_400(client, accept, at):
    r = client.get(V1, params={"dimensionAtObservation": at}, headers={"Accept": accept})
    assert r.status_code == 400, r.text
    assert "TIME_PERIOD at the observation" in r.text
    assert "genericdata" in r.text  # the fix names the formats that take it


@pytest.mark.parametrize("path", [V1, V2])
def test_json10_by_accept_is_valid_with_the_default_observations(client, by_default, path):
    r = client.get(path, headers={"Accept": JSON10})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == JSON10
    validate(r.json())
    assert observations(as_sdmx1_reads(r.content), structure=False) == by_default


def test_json_without_a_version_is_still_2_0(client):
    r = client.get(V2, headers={"Accept": "application/vnd.sdmx.data+json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.sdmx.data+json;version=2.0.0"
    assert "structures" in r.json()["data"]


@pytest.mark.parametrize("accept", [GENERIC_TS, SS_TS, JSON10])
def test_new_formats_take_detail_and_measures(client, accept):
    r = client.get(V1, params={"detail": "serieskeysonly"}, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    if accept == JSON10:
        validate(r.json())
        assert all("observations" not in s for s in r.json()["data"]["dataSets"][0]["series"].values())
        r = client.get(V2, params={"measures": "none"}, headers={"Accept": accept})
        validate(r.json())
        values = [
            o[0]
            for s in r.json()["data"]["dataSets"][0]["series"].values()
            for o in s["observations"].values()
        ]
        assert values
        assert set(values) == {None}
    else:
        assert b"<Obs" not in r.content
        assert b"generic:Obs>" not in r.content
        r = client.get(V2, params={"measures": "none"}, headers={"Accept": accept})
        assert r.status_code == 200, r.text
        assert b"OBS_VALUE" not in r.content
        assert b"ObsValue" not in r.content
        msg = sdmx.read_sdmx(io.BytesIO(r.content))
        assert msg.data[0].obs
        assert all(o.value is None for o in msg.data[0].obs)


# -- measures= x attributes= in every combination (v2) ------------------------------------------------

MEASURES = {"all": True, "none": False, "none,OBS_VALUE": True}
#: ``all`` is ``dsd``, ``msd`` and ``dataset`` are ``none`` here (test_sdmx_http has each alone)
ATTRIBUTES = ["dsd", "none", "series", "obs", "OBS_STATUS", "none,OBS_STATUS"]


@pytest.fixture(scope="module")
def components(client: TestClient) -> dict[str, set[str]]:
    """The attributes of the served data by level, from the default SDMX-CSV 2.0 answer."""
    from cgd_bridge.sdmx.write.xsd import series_attributes
    from cgd_bridge.structures import Structures

    dsd = Structures().dataflow("CGD_BRIDGE:DF_CGD_KE(1.0)").structure
    answer = client.get(V2, headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"})
    served = set(next(csv.reader(io.StringIO(answer.text))))
    attributes = {str(a.id) for a in dsd.attributes.components} & served
    on_series = set(series_attributes(dsd)) & served
    return {"all": attributes, "series": on_series, "obs": attributes - on_series}


def wanted(attributes: str, levels: dict[str, set[str]]) -> set[str]:
    out: set[str] = set()
    for part in attributes.split(","):
        out |= {"dsd": levels["all"], "all": levels["all"], "none": set(), "msd": set(), "dataset": set(),
                "series": levels["series"], "obs": levels["obs"]}.get(part, {part})  # fmt: skip
    return out


@pytest.mark.parametrize("measures", MEASURES)
@pytest.mark.parametrize("attributes", ATTRIBUTES)
def test_measures_and_attributes_in_every_combination(client, components, measures, attributes):
    """SDMX-CSV's columns are exactly the components asked for; SDMX-ML (read by sdmx1) and
    SDMX-JSON carry the same attributes and values on the same observations."""
    params = {"measures": measures, "attributes": attributes}
    r = client.get(V2, params=params, headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    expected_attrs = wanted(attributes, components)
    assert set(rows[0]) & components["all"] == expected_attrs
    assert ("OBS_VALUE" in rows[0]) == MEASURES[measures]
    n = len(rows)
    for accept in (SS_TS,):  # one SDMX-ML format read by sdmx1 (the writers share the shaping)
        x = client.get(V2, params=params, headers={"Accept": accept})
        assert x.status_code == 200, (accept, x.text[:300])
        ds = sdmx.read_sdmx(io.BytesIO(x.content)).data[0]
        assert len(ds.obs) == n
        seen = set()
        for o in ds.obs:
            seen |= set(o.attached_attribute) | set(o.series_key.attrib if o.series_key else {})
        assert seen <= expected_attrs, accept
        if not MEASURES[measures]:
            assert all(o.value is None for o in ds.obs), accept
    for accept in (JSON10,):
        j = client.get(V2, params=params, headers={"Accept": accept})
        assert j.status_code == 200, (accept, j.text[:300])
        msg = j.json()
        validate(msg)
        st = msg["data"]["structure"]
        listed = {a["id"] for level in st["attributes"].values() for a in level}
        assert listed == expected_attrs, accept
