"""Every reference in a structure answer resolves on the same server (#15): each maintainable
artefact an SDMX-ML 2.1 structure message refers to (``Ref`` with an agency, or a URN) is
answered by a structure query of its resource, as a registry loading the message would check."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from tests.support.demo import seeded_app
from tests.support.schemas import OfficialSchemas

XML21 = {"Accept": "application/vnd.sdmx.structure+xml;version=2.1"}
STR = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
#: SDMX-ML 2.1 class names -> the structure resource answering them (items: their scheme's).
RESOURCE = {
    "Dataflow": "dataflow",
    "DataStructure": "datastructure",
    "Codelist": "codelist",
    "Code": "codelist",
    "ConceptScheme": "conceptscheme",
    "Concept": "conceptscheme",
    "ContentConstraint": "contentconstraint",
    "AgencyScheme": "agencyscheme",
    "Agency": "agencyscheme",
    "DataProviderScheme": "dataproviderscheme",
    "DataProvider": "dataproviderscheme",
    "ProvisionAgreement": "provisionagreement",
    "StructureSet": "structureset",
    "MetadataStructure": "metadatastructure",
    "Metadataflow": "metadataflow",
}
#: components are referred to inside their own DSD
COMPONENTS = {"Dimension", "TimeDimension", "MeasureDimension", "Attribute", "PrimaryMeasure"}
URN = re.compile(r"urn:sdmx:org\.sdmx\.infomodel\.\w+\.(\w+)=([^:]+):([^(]+)\(([^)]+)\)")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with seeded_app(tmp_path_factory.mktemp("references_resolve")) as (c, _, _):
        yield c


def references(content: bytes) -> set[tuple[str, str, str, str]]:
    """(class, agency, maintainable id, version) of every artefact a message refers to."""
    root = etree.fromstring(content)
    out = set()
    for ref in root.iter("Ref"):
        cls, agency = ref.get("class"), ref.get("agencyID")
        if cls in COMPONENTS or agency is None:  # local references (a code's parent) need no query
            continue
        out.add(
            (
                str(cls),
                agency,
                ref.get("maintainableParentID") or str(ref.get("id")),
                ref.get("maintainableParentVersion") or str(ref.get("version")),
            )
        )
    for urn in root.iter("{*}URN"):
        m = URN.match(urn.text or "")
        if m:
            out.add((m.group(1), m.group(2), m.group(3), m.group(4)))
    return out


def unresolved(client: TestClient, path: str) -> list[str]:
    r = client.get(path, headers=XML21)
    assert r.status_code == 200, r.text
    found = references(r.content)
    assert found
    missing = []
    for cls, agency, id_, version in sorted(found):
        resource = RESOURCE.get(cls)
        assert resource, f"a reference of an unexpected class {cls}"
        answer = client.get(f"/sdmx/rest/{resource}/{agency}/{id_}/{version}", headers=XML21)
        if answer.status_code != 200:
            missing.append(f"{cls}={agency}:{id_}({version}): {answer.status_code}")
    return missing


@pytest.mark.parametrize(
    "path",
    [
        "/sdmx/rest/structure/all/all/latest?references=all",
        "/sdmx/rest/dataflow/all/all/latest?references=all",
        "/sdmx/rest/provisionagreement/all/all/latest?references=all",
    ],
)
def test_every_reference_of_the_structures_resolves(client, path):
    assert unresolved(client, path) == []


def test_every_reference_of_the_structure_sets_resolves(client):
    assert unresolved(client, "/sdmx/rest/structureset/all/all/latest?references=all") == []


#: a published submission's StructureSet (agency: the CSO) and a bundled mapping's
PUBLISHED_SET = "/sdmx/rest/structureset/SAUTI/SS_KENYA-HEALTH-SCORECARD/1.0.0"


@pytest.mark.parametrize("api", ["/sdmx/rest", "/sdmx/v2/structure"])
def test_everything_a_structure_set_leads_to_resolves(client, api):
    """Follow every reference from the StructureSets, then every reference of each answer, to the
    end (the CSO table's dataflow -> its DSD -> its concept scheme...), on the v1 and v2 paths."""
    root = client.get("/sdmx/rest/structureset/all/all/latest?references=none", headers=XML21)
    assert root.status_code == 200, root.text
    todo, seen, missing = sorted(references(root.content)), set(), []
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        cls, agency, id_, version = ref
        answer = client.get(f"{api}/{RESOURCE[cls]}/{agency}/{id_}/{version}", headers=XML21)
        if answer.status_code != 200:
            missing.append(f"{cls}={agency}:{id_}({version}): {answer.status_code}")
            continue
        todo.extend(sorted(references(answer.content) - seen))
    assert missing == []
    # the CSO tables' structures and label codelists of bundled and published mappings were met
    assert {("Dataflow", "SAUTI", "DF_KENYA-HEALTH-SCORECARD", "1.0.0"),
            ("DataStructure", "CGD_BRIDGE", "DSD_NEPAL-YOUTH-SURVEY", "1.0.0"),
            ("Concept", "YUWA", "CS_NEPAL-YOUTH-SURVEY", "1.0.0"),
            ("Codelist", "SAUTI", "CL_KENYA-HEALTH-SCORECARD_SEX", "1.0.0")} <= seen  # fmt: skip


STRUCTURE_MEDIA = {
    "2.1": "application/vnd.sdmx.structure+xml;version=2.1",
    "3.0": "application/vnd.sdmx.structure+xml;version=3.0.0",
    "json": "application/vnd.sdmx.structure+json;version=2.0.0",
}


@pytest.fixture(scope="module")
def schemas() -> OfficialSchemas:
    def no_dsd_schema(*_: object) -> bytes:
        raise AssertionError("structure messages need no DSD-specific schema")

    return OfficialSchemas(no_dsd_schema)


@pytest.mark.parametrize("fmt", sorted(STRUCTURE_MEDIA))
@pytest.mark.parametrize(
    "path",
    [
        "dataflow/SAUTI/DF_KENYA-HEALTH-SCORECARD/1.0.0?references=all",
        "datastructure/CGD_BRIDGE/DSD_NEPAL-YOUTH-SURVEY/1.0.0?references=descendants",
        "codelist/CGD_BRIDGE/CL_KENYA-HEALTH-SCORECARD_AGE/1.0.0",
        "dataflow/CGD_BRIDGE/DF_KENYA-HEALTH-SCORECARD/1.0.0?detail=referencestubs&references=all",
    ],
)
def test_the_structure_sets_sources_are_valid_in_every_format(client, schemas, path, fmt):
    r = client.get(f"/sdmx/rest/{path}", headers={"Accept": STRUCTURE_MEDIA[fmt]})
    assert r.status_code == 200, r.text
    assert schemas.errors(r.headers["content-type"], r.content) == []
    what = path.split("/")[2]
    assert what.encode() in r.content


def test_the_sdmx_21_source_dataflow_has_one_measure_and_a_measure_dimension(client):
    """The CSO table has two value columns (satisfied, respondents: a proportion); SDMX 2.1 has
    one primary measure, so its 2.1 form has a measure dimension over the columns' concepts, and
    the StructureMap's source components are those of that DSD."""
    r = client.get(
        "/sdmx/rest/datastructure/CGD_BRIDGE/DSD_KENYA-HEALTH-SCORECARD/1.0.0?references=children",
        headers=XML21,
    )
    assert r.status_code == 200, r.text
    root = etree.fromstring(r.content)
    (dsd,) = root.iter(f"{STR}DataStructure")
    (measure,) = dsd.iter(f"{STR}MeasureDimension")
    assert (
        measure.find(f"{STR}LocalRepresentation/{STR}Enumeration/Ref").get("id")
        == "CS_KENYA-HEALTH-SCORECARD"
    )
    assert [m.get("id") for m in dsd.iter(f"{STR}PrimaryMeasure")] == ["OBS_VALUE"]
    dims = [d.get("id") for d in dsd.iter(f"{STR}Dimension")]
    assert dims == ["year", "county", "sex", "age_group", "disability_status"]
    concepts = {c.get("id") for c in root.iter(f"{STR}Concept")}
    assert {"satisfied", "respondents", "OBS_VALUE", "MEASURE", *dims} <= concepts
    sets = client.get("/sdmx/rest/structureset/CGD_BRIDGE/SS_KENYA-HEALTH-SCORECARD/1.0.0", headers=XML21)
    sources = {
        ref.get("id")
        for ref in etree.fromstring(sets.content).iterfind(f".//{STR}ComponentMap/{STR}Source/Ref")
    }
    assert sources <= {*dims, "OBS_VALUE"}


def test_the_cso_tables_are_not_listed_as_dataflows(client):
    """Found by a query naming them (following a reference), never listed: a client picking a
    dataflow to ask data of sees only those with data."""
    r = client.get("/sdmx/rest/dataflow/all/all/latest", headers=XML21)
    flows = {f.get("id") for f in etree.fromstring(r.content).iter(f"{STR}Dataflow")}
    assert flows == {"DF_CGD_KE", "DF_SDG_GLH"}
    codelists = client.get("/sdmx/rest/codelist/all/all/latest", headers=XML21)
    assert b"CL_KENYA-HEALTH-SCORECARD_SEX" not in codelists.content
    named = client.get("/sdmx/rest/codelist/all/CL_KENYA-HEALTH-SCORECARD_SEX/latest", headers=XML21)
    assert named.status_code == 200
    ids = {c.get("agencyID") for c in etree.fromstring(named.content).iter(f"{STR}Codelist")}
    assert ids == {"CGD_BRIDGE", "SAUTI"}


def test_a_structure_sets_children_include_its_source_dataflow(client):
    r = client.get(f"{PUBLISHED_SET}?references=children", headers=XML21)
    assert r.status_code == 200, r.text
    flows = {(f.get("agencyID"), f.get("id")) for f in etree.fromstring(r.content).iter(f"{STR}Dataflow")}
    assert ("SAUTI", "DF_KENYA-HEALTH-SCORECARD") in flows
    assert ("CGD_BRIDGE", "DF_CGD_KE") in flows


@pytest.mark.parametrize("fmt", sorted(STRUCTURE_MEDIA))
@pytest.mark.parametrize(
    "path",
    [
        "structure/all/all/latest?detail=allstubs",
        "dataflow/CGD_BRIDGE/DF_CGD_KE/1.0?detail=referencestubs&references=all",
        "dataflow/all/all/latest?detail=allcompletestubs&references=all",
        "provisionagreement/all/all/latest?detail=allstubs",
        "structuremap/CGD_BRIDGE/all/latest?detail=referencestubs&references=all",
    ],
)
def test_stubs_are_valid_in_every_format(client, schemas, path, fmt):
    """Stubs keep the references their schema requires (a provision agreement's dataflow and
    provider in SDMX-ML 2.1; a dataflow's DSD and a constraint's attachment in SDMX-JSON 2.0)."""
    r = client.get(f"/sdmx/rest/{path}", headers={"Accept": STRUCTURE_MEDIA[fmt]})
    if path.startswith("structuremap") and fmt == "2.1":
        assert r.status_code == 406  # SDMX 3.0 artefacts: no 2.1 form
        return
    assert r.status_code == 200, r.text
    assert schemas.errors(r.headers["content-type"], r.content) == []


def test_published_cso_tables_carry_no_last_modified(client):
    """A published submission's CSO table changes with publications while the server runs: its
    answers have an ETag and no Last-Modified (a client's If-Modified-Since must not keep an old
    copy); a bundled mapping's, like every bundled structure, has both."""
    published = client.get("/sdmx/rest/dataflow/SAUTI/DF_KENYA-HEALTH-SCORECARD/1.0.0", headers=XML21)
    assert published.status_code == 200
    assert published.headers["etag"]
    assert "last-modified" not in published.headers
    bundled = client.get("/sdmx/rest/dataflow/CGD_BRIDGE/DF_KENYA-HEALTH-SCORECARD/1.0.0", headers=XML21)
    assert bundled.status_code == 200
    assert bundled.headers["last-modified"]
    codelist = client.get("/sdmx/rest/codelist/IAEG-SDGs/CL_SEX/latest", headers=XML21)
    assert codelist.headers["last-modified"]
