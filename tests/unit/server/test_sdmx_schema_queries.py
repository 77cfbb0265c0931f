"""SDMX REST schema queries (#15): ``dimensionAtObservation`` gives the schema of that data
shape, the dataflow and provision-agreement schemas apply the dataflow's allowed constraint, a
query without a version answers the latest one, and the data the server writes validates
against the schema it serves (with the official SDMX-ML schemas)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from cgd_bridge.sdmx.write.xsd import validate_structure_specific
from tests.support.demo import seeded_app
from tests.support.schemas import official

XS = "{http://www.w3.org/2001/XMLSchema}"
STR = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
KE = "CGD_BRIDGE/DF_CGD_KE/1.0"
SDG = "IAEG-SDGs/DF_SDG_GLH/1.5"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with seeded_app(tmp_path_factory.mktemp("schema_queries")) as (c, _, _):
        yield c


def schema(client: TestClient, path: str, **params: str) -> bytes:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.sdmx.schema+xml")
    return r.content


def enumeration(xsd: bytes, prefix: str) -> dict[str, set[str]]:
    """The enumerated simple types of a schema whose name starts with ``prefix``: name -> codes."""
    root = etree.fromstring(xsd)
    return {
        t.get("name"): {e.get("value") for e in t.iter(f"{XS}enumeration")}
        for t in root.iterfind(f"{XS}simpleType")
        if t.get("name", "").startswith(prefix)
    }


@pytest.mark.parametrize("at", ["TIME_PERIOD", "SEX", "AllDimensions"])
@pytest.mark.parametrize(
    ("api", "fmt", "version"), [("rest", "sdmx-ml-2.1-ss", "2.1"), ("v2", "sdmx-ml-3.0-ss", "3.0")]
)
def test_the_served_data_validates_against_the_schema_of_its_dimension(client, at, api, fmt, version):
    path = f"/sdmx/rest/schema/dataflow/{KE}" if api == "rest" else f"/sdmx/v2/schema/dataflow/{KE}"
    xsd = schema(client, path, dimensionAtObservation=at)
    assert etree.fromstring(xsd).get("targetNamespace").endswith(f":ObsLevelDim:{at}")
    data = client.get(
        "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all", params={"format": fmt, "dimensionAtObservation": at}
    )
    assert data.status_code == 200, data.text
    assert validate_structure_specific(data.content, xsd, version, official(version)) == []


def test_a_schema_of_another_dimension_refuses_the_data(client):
    """The attacking case: the default (TIME_PERIOD) schema is not the one of SEX-keyed data."""
    by_time = schema(client, f"/sdmx/rest/schema/dataflow/{KE}")
    by_sex = schema(client, f"/sdmx/rest/schema/dataflow/{KE}", dimensionAtObservation="SEX")
    assert by_time != by_sex
    data = client.get(
        "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all",
        params={"format": "sdmx-ml-2.1-ss", "dimensionAtObservation": "SEX"},
    )
    assert validate_structure_specific(data.content, by_time, "2.1", official("2.1"))


def test_an_unknown_dimension_at_observation_is_a_400_naming_the_dimensions(client):
    r = client.get(f"/sdmx/rest/schema/dataflow/{KE}", params={"dimensionAtObservation": "COLOUR"})
    assert r.status_code == 400
    assert b"COLOUR" in r.content
    assert b"REF_AREA" in r.content


def allowed_series(client: TestClient) -> set[str]:
    """The SERIES codes the dataflow's allowed constraint lists, as the server publishes it."""
    r = client.get("/sdmx/rest/contentconstraint/all/all/latest")
    assert r.status_code == 200, r.text
    root = etree.fromstring(r.content)
    codes: set[str] = set()
    for c in root.iter(f"{STR}ContentConstraint"):
        if "DF_SDG_GLH" not in etree.tostring(c.find(f"{STR}ConstraintAttachment")).decode():
            continue
        for kv in c.iter("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common}KeyValue"):
            if kv.get("id") == "SERIES":
                codes |= {v.text for v in kv}
    return codes


@pytest.mark.parametrize("api", ["rest", "v2"])
def test_the_dataflow_schema_allows_only_the_constrained_codes(client, api):
    allowed = allowed_series(client)
    assert 0 < len(allowed) < 20
    flow = schema(client, f"/sdmx/{api}/schema/dataflow/{SDG}")
    (codes,) = enumeration(flow, "CL_SERIES").values()
    assert codes == allowed
    dsd = schema(client, f"/sdmx/{api}/schema/datastructure/IAEG-SDGs/SDG/1.5")
    (whole,) = enumeration(dsd, "CL_SERIES").values()  # the DSD has no constraint: all codes
    assert len(whole) > 600
    assert allowed < whole


def test_the_provision_agreement_schema_is_its_dataflows(client):
    r = client.get("/sdmx/rest/provisionagreement/all/all/latest")
    assert r.status_code == 200, r.text
    agreements = [
        (pa.get("agencyID"), pa.get("id"), pa.get("version"))
        for pa in etree.fromstring(r.content).iter(f"{STR}ProvisionAgreement")
    ]
    ke = [a for a in agreements if "DF_CGD_KE" in a[1]]
    assert ke, agreements
    agency, id_, version = ke[0]
    assert schema(client, f"/sdmx/rest/schema/provisionagreement/{agency}/{id_}/{version}") == schema(
        client, f"/sdmx/rest/schema/dataflow/{KE}"
    )
    missing = client.get(f"/sdmx/rest/schema/provisionagreement/{agency}/NO_SUCH/{version}")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/sdmx/rest/schema/dataflow/IAEG-SDGs/DF_SDG_GLH",
        "/sdmx/rest/schema/dataflow/IAEG-SDGs/DF_SDG_GLH/latest",
        "/sdmx/v2/schema/dataflow/IAEG-SDGs/DF_SDG_GLH/~",
    ],
)
def test_a_query_without_a_version_answers_the_latest(client, path):
    version = "2.1" if "/rest/" in path else "3.0"
    explicit = f"/sdmx/{'rest' if version == '2.1' else 'v2'}/schema/dataflow/{SDG}"
    assert schema(client, path) == schema(client, explicit)
