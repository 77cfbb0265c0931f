"""Metadata structures on the SDMX 2.1 REST API in SDMX-ML 2.1 (#15): the extension MSD and an
imported SDG MSD answered in SDMX-ML 2.1 (valid against the official XSD, read by sdmx1), with
``references`` and ``detail``, and consistent with the 2.1 GenericMetadata the server writes
(report structure, metadata target and attributes the sets name are those of the MSD)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx
from fastapi.testclient import TestClient
from lxml import etree

from cgd_bridge.metadata import load_metadata
from cgd_bridge.sdmx.write.msd21 import add_to_message, metadata_structure
from cgd_bridge.sdmx.write.refmeta import render_metadata
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.structures import StructureStore
from tests.support.schemas import official
from tests.support.specimens import SPECIMENS, need

ROOT = Path(__file__).resolve().parents[3]
SDG_MSD = SPECIMENS / "sdg" / "IAEG-SDGs_SDG_MSD_v30.xml"
XML21 = "application/vnd.sdmx.structure+xml;version=2.1"
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
    "gen": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/metadata/generic",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    need(SDG_MSD)
    settings = Settings(data_dir=tmp_path_factory.mktemp("msd21"), rate_limit_per_minute=0)
    StructureStore(settings.structures_dir).import_file(SDG_MSD)
    with TestClient(create_app(settings)) as c:
        yield c


def valid_21(content: bytes, tmp_path: Path) -> bool:
    path = tmp_path / "structure.xml"
    path.write_bytes(content)
    return bool(sdmx.validate_xml(path, schema_dir=official("2.1"), version="2.1"))


def artefacts(content: bytes) -> set[tuple[str, str]]:
    """(element, id) of every artefact of an SDMX-ML 2.1 structure message."""
    root = etree.fromstring(content)
    return {
        (etree.QName(a).localname, str(a.get("id")))
        for a in root.find("mes:Structures", NS).iterchildren("*")
        for a in a
    }


def get21(client: TestClient, path: str, **params: str) -> bytes:
    r = client.get(path, params=params, headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(XML21)
    return r.content


def test_msds_answer_sdmx_ml_21_valid_and_read_by_sdmx1(client, tmp_path):
    content = get21(client, "/sdmx/rest/metadatastructure/all/all/latest", references="all")
    assert valid_21(content, tmp_path)
    assert artefacts(content) == {
        ("MetadataStructure", "CGD_QUALITY"),
        ("MetadataStructure", "SDG_MSD"),
        ("ConceptScheme", "CGD_QUALITY_CONCEPTS"),  # children (the SDG MSD file has no concepts)
        ("Metadataflow", "MDF_CGD_QUALITY"),  # parents
        ("Metadataflow", "MDF_CGD_SDG"),
    }
    msg = sdmx.read_sdmx(io.BytesIO(content))
    sdg = msg.metadatastructure["SDG_MSD"]
    report = sdg.report_structure["SDG_META_RPT"]
    assert [t.id for t in report.report_for] == ["KEY_TARGET"]
    assert "COLL_METHOD" in {a.id for a in report.components}
    assert str(sdg.target["KEY_TARGET"].components[0].id) == "Dataflow"
    flow = msg.metadataflow["MDF_CGD_SDG"]
    assert flow.structure.id == "SDG_MSD"


def test_the_v1_default_is_sdmx_ml_21_and_30_stays_on_request(client):
    default = client.get("/sdmx/rest/metadatastructure/CGD_BRIDGE/CGD_QUALITY/1.0")
    assert default.status_code == 200, default.text
    assert default.headers["content-type"].startswith(XML21)
    v30 = client.get("/sdmx/rest/metadatastructure/CGD_BRIDGE/CGD_QUALITY/1.0", headers={"Accept": XML30})
    assert v30.status_code == 200, v30.text
    assert v30.headers["content-type"].startswith(XML30)
    # the maps still have no 2.1 form
    maps = client.get("/sdmx/rest/structuremap/all/all/latest", headers={"Accept": XML21})
    assert maps.status_code == 406, maps.text


def test_representations_and_occurrences_are_the_msds(client):
    root = etree.fromstring(get21(client, "/sdmx/rest/metadatastructure/all/all/latest"))
    attribute = root.find(
        ".//str:MetadataStructure[@id='SDG_MSD']//str:MetadataAttribute[@id='META_LAST_UPDATE']", NS
    )
    assert attribute.find("str:LocalRepresentation/str:TextFormat", NS).get("textType") == "GregorianDay"
    assert (attribute.get("minOccurs"), attribute.get("maxOccurs")) == ("0", "1")
    consent = root.find(".//str:MetadataAttribute[@id='CONSENT_OBTAINED']", NS)
    assert consent.find("str:LocalRepresentation/str:TextFormat", NS).get("textType") == "Boolean"
    ref = consent.find("str:ConceptIdentity/Ref", NS)
    assert (ref.get("maintainableParentID"), ref.get("id")) == ("CGD_QUALITY_CONCEPTS", "CONSENT_OBTAINED")


@pytest.mark.parametrize(
    ("detail", "full"),
    [
        ("allstubs", set()),
        ("referencestubs", {"CGD_QUALITY"}),
        ("full", {"CGD_QUALITY", "CGD_QUALITY_CONCEPTS"}),
    ],
)
def test_detail_cuts_msds_and_their_references_to_stubs(client, tmp_path, detail, full):
    content = get21(
        client,
        "/sdmx/rest/metadatastructure/CGD_BRIDGE/CGD_QUALITY/1.0",
        references="children",
        detail=detail,
    )
    assert valid_21(content, tmp_path)
    root = etree.fromstring(content)
    complete = {
        str(a.get("id"))
        for a in root.find("mes:Structures", NS).iterchildren("*")
        for a in a
        if a.find("str:MetadataStructureComponents", NS) is not None or a.find("str:Concept", NS) is not None
    }
    assert complete == full


def test_the_21_metadata_sets_are_reported_against_the_served_msds(client):
    """Every MetadataSet of the 2.1 GenericMetadata names an MSD the server answers, a report
    structure of it, a metadata target of that report with the object target it fills in, and
    only metadata attributes of that report."""
    md = load_metadata(ROOT / "examples" / "kenya-health-scorecard" / "quality.yaml").model
    metadata = etree.fromstring(
        render_metadata(md, "CGD_BRIDGE:DF_CGD_KE(1.0)", "sdmx-ml-2.1-genericmetadata")
    )
    msds = etree.fromstring(get21(client, "/sdmx/rest/metadatastructure/all/all/latest"))
    structures = {
        s.get("structureID"): s.findtext("com:Structure/URN", namespaces=NS)
        for s in metadata.findall("mes:Header/mes:Structure", NS)
    }
    sets = metadata.findall("mes:MetadataSet", NS)
    assert len(sets) == 2
    for mset in sets:
        urn = structures[mset.get("structureRef")]
        msd = next(m for m in msds.iterfind(".//str:MetadataStructure", NS) if m.get("urn") == urn)
        report = mset.find("gen:Report", NS)
        structure = msd.find(
            f"str:MetadataStructureComponents/str:ReportStructure[@id='{report.get('id')}']", NS
        )
        assert structure is not None, (urn, report.get("id"))
        target = report.find("gen:Target", NS)
        assert target.get("id") in {r.get("id") for r in structure.findall("str:MetadataTarget/Ref", NS)}
        declared = msd.find(
            f"str:MetadataStructureComponents/str:MetadataTarget[@id='{target.get('id')}']", NS
        )
        object_target = declared.find("str:IdentifiableObjectTarget", NS)
        assert object_target.get("objectType") == "Dataflow"
        assert [v.get("id") for v in target.findall("gen:ReferenceValue", NS)] == [object_target.get("id")]
        allowed = {a.get("id") for a in structure.iter(f"{{{NS['str']}}}MetadataAttribute")}
        reported = {a.get("id") for a in report.iter(f"{{{NS['gen']}}}ReportedAttribute")}
        assert reported
        assert reported <= allowed


def test_a_30_only_type_nested_attributes_and_a_codelist_stay_valid(tmp_path):
    """What SDMX-ML 2.1 has no word for is written as the nearest it has (a 3.0-only text type
    as String); nested attributes stay nested; an enumerated one refers to its codelist."""
    from pysdmx.model import DataType, ItemReference
    from pysdmx.model.metadata import MetadataComponent, MetadataStructure

    def concept(ident: str) -> ItemReference:
        return ItemReference(sdmx_type="Concept", agency="A", id="CS", version="1.0", item_id=ident)

    msd = MetadataStructure(
        id="MSD", name="test", agency="A", version="1.0",
        components=[
            MetadataComponent("WHERE", concept=concept("WHERE"), local_dtype=DataType.GEO_INFO),
            MetadataComponent(
                "CONTACT", concept=concept("CONTACT"),
                components=[
                    MetadataComponent(
                        "KIND", concept=concept("KIND"),
                        local_enum_ref="urn:sdmx:org.sdmx.infomodel.codelist.Codelist=A:CL_KIND(1.0)",
                    )
                ],
            ),
        ],
    )  # fmt: skip
    header = (
        b'<mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message">'
        b"<mes:Header><mes:ID>T</mes:ID><mes:Test>false</mes:Test><mes:Prepared>2026-01-01T00:00:00Z"
        b'</mes:Prepared><mes:Sender id="A"/></mes:Header></mes:Structure>'
    )
    content = add_to_message(header, [msd])
    assert valid_21(content, tmp_path)
    el = metadata_structure(msd)
    assert (
        el.find(".//str:MetadataAttribute[@id='WHERE']/str:LocalRepresentation/str:TextFormat", NS).get(
            "textType"
        )
        == "String"
    )
    kind = el.find(".//str:MetadataAttribute[@id='CONTACT']/str:MetadataAttribute[@id='KIND']", NS)
    assert kind.find("str:LocalRepresentation/str:Enumeration/Ref", NS).get("id") == "CL_KIND"
    assert el.find(".//str:ReportStructure", NS).get("id") == "MSD_RPT"


def test_the_extension_concepts_answer_a_conceptscheme_query(client, tmp_path):
    path = "/sdmx/rest/conceptscheme/CGD_BRIDGE/CGD_QUALITY_CONCEPTS/1.0"
    whole = get21(client, path)
    assert valid_21(whole, tmp_path)
    assert artefacts(whole) == {("ConceptScheme", "CGD_QUALITY_CONCEPTS")}
    assert len(etree.fromstring(whole).findall(".//str:Concept", NS)) > 10
    some = etree.fromstring(get21(client, f"{path}/CONSENT_OBTAINED+LICENCE_ID"))
    assert {c.get("id") for c in some.iterfind(".//str:Concept", NS)} == {"CONSENT_OBTAINED", "LICENCE_ID"}
    assert client.get(f"{path}/NOPE", headers={"Accept": XML21}).status_code == 404
