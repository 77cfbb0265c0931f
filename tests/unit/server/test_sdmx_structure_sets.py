"""SDMX 2.1 StructureSet queries (#4): the maps served as structuremap (bundled mappings and the
published open submissions' mappings), as SDMX-ML 2.1 StructureSets with CodelistMaps and a
StructureMap, valid against the official 2.1 XSD; references, stubs, matching, 404 and 406."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx
from fastapi.testclient import TestClient
from lxml import etree

from cgd_bridge.mapping import load_mapping
from cgd_bridge.sdmx.write.maps21 import export_structure_set
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.structures import Structures
from tests.support.demo import seeded_app
from tests.support.schemas import official

ROOT = Path(__file__).resolve().parents[3]
XML21 = "application/vnd.sdmx.structure+xml;version=2.1"
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
STR = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
KENYA_SET = "SS_KENYA-HEALTH-SCORECARD"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("structure_sets"), rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as c:
        yield c


def valid_21(content: bytes, tmp_path: Path) -> bool:
    path = tmp_path / "structure.xml"
    path.write_bytes(content)
    return bool(sdmx.validate_xml(path, schema_dir=official("2.1"), version="2.1"))


def sets_in(content: bytes) -> set[tuple[str, str]]:
    """(agency, id) of every StructureSet of a message."""
    root = etree.fromstring(content)
    return {(s.get("agencyID"), s.get("id")) for s in root.iter(f"{STR}StructureSet")}


def code_maps(content: bytes) -> dict[str, list[tuple[str, str]]]:
    root = etree.fromstring(content)
    return {
        cm.get("id"): [
            (m.find(f"{STR}Source/Ref").get("id"), m.find(f"{STR}Target/Ref").get("id"))
            for m in cm.iter(f"{STR}CodeMap")
        ]
        for cm in root.iterfind(f".//{STR}StructureSet/{STR}CodelistMap")
    }


def test_v1_structure_sets_of_the_bundled_mappings(client, tmp_path):
    r = client.get("/sdmx/rest/structureset/all/all/latest")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(XML21)  # the v1 default; SDMX 2.1's own artefact
    assert valid_21(r.content, tmp_path)
    assert sets_in(r.content) == {("CGD_BRIDGE", KENYA_SET), ("CGD_BRIDGE", "SS_NEPAL-YOUTH-SURVEY")}
    assert b"<str:Codelists>" not in r.content  # references=none: the sets alone


def test_the_same_maps_as_mapping_export(client):
    r = client.get(f"/sdmx/rest/structureset/CGD_BRIDGE/{KENYA_SET}/1.0.0", headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    assert sets_in(r.content) == {("CGD_BRIDGE", KENYA_SET)}
    mapping, _ = load_mapping(ROOT / "mappings" / "kenya-health-scorecard.yaml")
    exported = export_structure_set(mapping, structures=Structures())
    assert code_maps(r.content) == code_maps(exported.text.encode())
    assert set(code_maps(r.content)) == {"CLM_REF_AREA", "CLM_SEX", "CLM_AGE", "CLM_DISABILITY_STATUS"}
    root = etree.fromstring(r.content)
    (sm,) = root.iter(f"{STR}StructureMap")
    targets = {c.find(f"{STR}Target/Ref").get("id") for c in sm.iter(f"{STR}ComponentMap")}
    assert targets == {"TIME_PERIOD", "REF_AREA", "SEX", "AGE", "DISABILITY_STATUS"}


def test_children_bring_the_label_codelists_and_the_targets(client, tmp_path):
    r = client.get(f"/sdmx/rest/structureset/CGD_BRIDGE/{KENYA_SET}", params={"references": "children"})
    assert r.status_code == 200, r.text
    assert valid_21(r.content, tmp_path)
    root = etree.fromstring(r.content)
    codelists = {c.get("id") for c in root.iter(f"{STR}Codelist")}
    assert "CL_KENYA-HEALTH-SCORECARD_SEX" in codelists  # the CSO's labels
    assert {"CL_SEX", "CL_AGE", "CL_DISABILITY", "CL_AREA_KE"} <= codelists  # the targets' codelists
    # the target dataflow and the source: the CSO table's dataflow (#15: every reference resolves)
    flows = {"DF_CGD_KE", "DF_KENYA-HEALTH-SCORECARD"}
    assert {f.get("id") for f in root.iter(f"{STR}Dataflow")} == flows
    assert not list(root.iter(f"{STR}DataStructure"))  # a child of the dataflow: descendants only
    deep = client.get(f"/sdmx/rest/structureset/CGD_BRIDGE/{KENYA_SET}", params={"references": "descendants"})
    assert deep.status_code == 200, deep.text
    assert valid_21(deep.content, tmp_path)
    dsds = {d.get("id") for d in etree.fromstring(deep.content).iter(f"{STR}DataStructure")}
    assert dsds == {"CGD_KE", "DSD_KENYA-HEALTH-SCORECARD"}
    only = client.get(f"/sdmx/rest/structureset/CGD_BRIDGE/{KENYA_SET}", params={"references": "dataflow"})
    root = etree.fromstring(only.content)
    assert {f.get("id") for f in root.iter(f"{STR}Dataflow")} == flows
    assert not list(root.iter(f"{STR}Codelist"))


def test_allstubs_leave_out_the_maps(client, tmp_path):
    r = client.get(f"/sdmx/rest/structureset/CGD_BRIDGE/{KENYA_SET}", params={"detail": "allstubs"})
    assert r.status_code == 200, r.text
    assert valid_21(r.content, tmp_path)
    assert b"CodelistMap" not in r.content
    assert b'isExternalReference="true"' in r.content
    assert sets_in(r.content) == {("CGD_BRIDGE", KENYA_SET)}


@pytest.mark.parametrize(
    "path",
    [
        "/sdmx/rest/structureset/NOBODY/all/latest",
        f"/sdmx/rest/structureset/CGD_BRIDGE/{KENYA_SET}/9.9",
        "/sdmx/rest/structureset/CGD_BRIDGE/SS_NOPE",
    ],
)
def test_nothing_matches_is_a_404_sdmx_error(client, path):
    r = client.get(path)
    assert r.status_code == 404, r.text
    assert 'code="100"' in r.text


def test_an_sdmx_30_format_is_a_406_naming_the_way_out(client):
    r = client.get("/sdmx/rest/structureset/all/all/latest", headers={"Accept": XML30})
    assert r.status_code == 406, r.text
    assert "structuremap" in r.text
    assert "version=2.1" in r.text


def test_v2_wildcard_answers_sdmx_ml_21(client, tmp_path):
    r = client.get(f"/sdmx/v2/structure/structureset/CGD_BRIDGE/{KENYA_SET}/~")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(XML21)
    assert valid_21(r.content, tmp_path)


def test_structure_maps_are_still_sdmx_30(client):
    r = client.get("/sdmx/rest/structuremap/CGD_BRIDGE/all/latest")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(XML30)


# -- the maps of published submissions ------------------------------------------------------------


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[TestClient, object, dict[str, str], dict[str, int]]]:
    with seeded_app(tmp_path) as (c, bridge, done):
        assert done.published, done.skipped
        yield c, bridge, done.keys, done.published


def test_published_mappings_are_served_by_their_producers(seeded, tmp_path):
    """Exactly the set structuremap serves: bundled (CGD_BRIDGE) and published (the CSO's agency)."""
    from cgd_bridge.store import orgs, submissions

    c, bridge, keys, published = seeded
    r = c.get("/sdmx/rest/structureset/all/all/latest")
    assert r.status_code == 200, r.text
    assert valid_21(r.content, tmp_path)
    assert {("CGD_BRIDGE", KENYA_SET), ("SAUTI", KENYA_SET), ("YUWA", "SS_NEPAL-YOUTH-SURVEY")} <= sets_in(
        r.content
    )
    maps = c.get("/sdmx/rest/structuremap/all/all/latest", headers={"Accept": XML30})
    root = etree.fromstring(maps.content)
    served_maps = {
        (m.get("agencyID"), m.get("id").replace("SM_", "SS_", 1))
        for m in root.iter("{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure}StructureMap")
    }
    assert served_maps == sets_in(r.content)
    # a withdrawn version is nobody's to see: its StructureSet goes, the bundled one stays
    with bridge.sessions() as session:
        admin = orgs.authenticate_key(session, keys["admin"])
        submissions.withdraw(
            session, principal=admin, version_id=published["kenya-health-scorecard"], reason="test"
        )
    assert c.get(f"/sdmx/rest/structureset/SAUTI/{KENYA_SET}").status_code == 404
    assert c.get(f"/sdmx/rest/structureset/CGD_BRIDGE/{KENYA_SET}").status_code == 200
