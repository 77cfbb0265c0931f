"""Mappings as SDMX 2.1 StructureSets (#4): valid against the official 2.1 XSD, the same maps as
the SDMX 3.0 export, and `mapping import` gives the mapping back (code maps from the
CodelistMaps and label codelists alone, the rest from the CGD_MAPPING annotation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sdmx
from lxml import etree

from cgd_bridge.errors import MappingError
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.sdmx.maps import ANN_LABELS, ANN_MAPPING
from cgd_bridge.sdmx.read import import_mapping
from cgd_bridge.sdmx.write import export_structure_map
from cgd_bridge.sdmx.write.maps21 import code_id, export_structure_set
from cgd_bridge.structures import Structures
from tests.unit.sdmx.test_sdmx_maps import (
    KE_FLOW,
    KENYA_DATA,
    SDG_FLOW,
    as_file,
    assert_same_maps,
    schemas,
)

ROOT = Path(__file__).resolve().parents[3]
STR = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
MES = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}"


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures()


@pytest.fixture(scope="module")
def kenya() -> Mapping:
    return load_mapping(ROOT / "mappings" / "kenya-health-scorecard.yaml")[0]


def valid_21(path: Path) -> bool:
    return bool(sdmx.validate_xml(path, schema_dir=schemas() / "xml" / "sdmx21", version="2.1"))


def code_maps(text: str) -> dict[str, list[tuple[str, str]]]:
    """CodelistMap id -> (source code name, target code), resolving the source codes' names."""
    root = etree.fromstring(text.encode())
    names = {
        (cl.get("id"), code.get("id")): code.findtext("{*}Name")
        for cl in root.iter(f"{STR}Codelist")
        for code in cl.iter(f"{STR}Code")
    }
    out = {}
    for cm in root.iterfind(f".//{STR}StructureSet/{STR}CodelistMap"):
        source_cl = cm.find(f"{STR}Source/Ref").get("id")
        out[cm.get("id")] = [
            (names[(source_cl, m.find(f"{STR}Source/Ref").get("id"))], m.find(f"{STR}Target/Ref").get("id"))
            for m in cm.iter(f"{STR}CodeMap")
        ]
    return out


def test_kenya_structure_set_is_valid_against_the_sdmx_21_xsd(kenya, structures, tmp_path):
    exported = export_structure_map(kenya, structures=structures, fmt="sdmx-ml-2.1", name="kenya.yaml")
    assert exported.format == "sdmx-ml-2.1"
    assert valid_21(as_file(tmp_path, "ss.xml", exported.text))
    root = etree.fromstring(exported.text.encode())
    (ss,) = root.iter(f"{STR}StructureSet")
    assert (ss.get("agencyID"), ss.get("id")) == ("CGD_BRIDGE", "SS_KENYA-HEALTH-SCORECARD")
    (sm,) = ss.iter(f"{STR}StructureMap")
    assert sm.find(f"{STR}Target/Ref").attrib["id"] == "DF_CGD_KE"
    links = {}
    for c in sm.iter(f"{STR}ComponentMap"):
        used = c.find(f"{STR}RepresentationMapping/{STR}CodelistMap/Ref")
        links[c.find(f"{STR}Source/Ref").get("id")] = (
            c.find(f"{STR}Target/Ref").get("id"),
            None if used is None else used.get("id"),
        )
    assert links["sex"] == ("SEX", "CLM_SEX")
    assert links["year"] == ("TIME_PERIOD", None)
    # CodelistMaps go from the label codelist to the target DSD's codelist
    cm = next(c for c in ss.iter(f"{STR}CodelistMap") if c.get("id") == "CLM_DISABILITY_STATUS")
    assert cm.find(f"{STR}Target/Ref").attrib == {
        "package": "codelist", "class": "Codelist", "agencyID": "IAEG-SDGs", "id": "CL_DISABILITY",
        "version": "1.0",
    }  # fmt: skip
    pairs = code_maps(exported.text)["CLM_DISABILITY_STATUS"]
    assert ("With disability", "PD") in pairs
    assert ("Without disability", "PWD") in pairs  # never PD and PWD confused


def test_the_export_holds_the_source_it_maps_from(kenya, structures):
    """Every artefact the file refers to is in it, except the target dataflow and the target
    codelists (the registry has those): the CSO table's dataflow, DSD and concept scheme in
    SDMX 2.1 form, whose one primary measure the StructureMap's source components name (#15)."""
    exported = export_structure_map(kenya, structures=structures, fmt="sdmx-ml-2.1", name="kenya.yaml")
    root = etree.fromstring(exported.text.encode())
    held = {(etree.QName(a).localname, a.get("agencyID"), a.get("id"), a.get("version"))
            for group in root.find(f"{MES}Structures") for a in group}  # fmt: skip
    refs = {
        (r.get("class"), r.get("agencyID"), r.get("maintainableParentID") or r.get("id"),
         r.get("maintainableParentVersion") or r.get("version"))
        for r in root.iter("Ref") if r.get("agencyID")
    }  # fmt: skip
    refs = {("ConceptScheme", *r[1:]) if r[0] == "Concept" else r for r in refs}
    outside = refs - held
    assert {r[1] for r in outside} <= {"IAEG-SDGs", "SDMX", "CGD_BRIDGE"}
    assert {r[2] for r in outside if r[1] == "CGD_BRIDGE"} <= {"DF_CGD_KE", "CL_AREA_KE"}
    assert ("Dataflow", "CGD_BRIDGE", "DF_KENYA-HEALTH-SCORECARD", "1.0.0") in held
    (dsd,) = root.iter(f"{STR}DataStructure")
    assert [m.get("id") for m in dsd.iter(f"{STR}PrimaryMeasure")] == ["OBS_VALUE"]
    (sm,) = root.iter(f"{STR}StructureMap")
    components = {c.get("id") for c in dsd.iter() if c.get("id") and c.tag != f"{STR}DataStructure"}
    sources = {c.find(f"{STR}Source/Ref").get("id") for c in sm.iter(f"{STR}ComponentMap")}
    assert sources <= components


def test_the_same_maps_as_the_sdmx_30_export(kenya, structures):
    """Every (label, code) of every 3.0 RepresentationMap is a CodeMap of the 2.1 CodelistMap."""
    from pysdmx.io import read_sdmx

    v30 = read_sdmx(export_structure_map(kenya, structures=structures).text, validate=False).structures
    want = {
        rm.id.removeprefix("RM_KENYA-HEALTH-SCORECARD_"): [(vm.source, vm.target) for vm in rm.maps]
        for rm in v30
        if type(rm).__name__ == "RepresentationMap"
    }
    got = code_maps(export_structure_set(kenya, structures=structures).text)
    assert {k.removeprefix("CLM_"): v for k, v in got.items()} == want
    assert len(want) == 4


@pytest.mark.parametrize("name", ["kenya-health-scorecard", "nepal-youth-survey"])
def test_export_then_import_gives_the_same_mapping(name, structures, tmp_path):
    mapping, _ = load_mapping(ROOT / "mappings" / f"{name}.yaml")
    path = as_file(tmp_path, "ss.xml", export_structure_set(mapping, structures=structures).text)
    assert valid_21(path)
    imported = import_mapping([path], dataflow=str(mapping.dataflow), structures=structures)
    assert imported.warnings == []
    assert_same_maps(imported.mapping, mapping)
    assert imported.mapping == mapping
    loaded, _ = load_mapping(as_file(tmp_path, "back.yaml", imported.to_yaml()))
    assert loaded == mapping


def test_code_maps_come_back_from_the_sdmx_content_alone(kenya, structures, tmp_path):
    """Without cgd-bridge's CGD_MAPPING annotation (as another tool would write the maps), the
    CodelistMaps, the label codelists' names and the ComponentMaps give the same code maps."""
    root = etree.fromstring(export_structure_set(kenya, structures=structures).text.encode())
    for ann in list(root.iter("{*}Annotation")):
        if ann.findtext("{*}AnnotationType") == ANN_MAPPING:
            ann.getparent().remove(ann)
    path = tmp_path / "plain.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    assert valid_21(path)
    back = import_mapping([path], dataflow=KE_FLOW, structures=structures).mapping
    assert_same_maps(back, kenya)  # fixed values from CGD_FIXED_VALUE annotations
    assert back.time is not None
    assert back.time.column == "year"
    want = apply_mapping(open_table(KENYA_DATA), kenya).table.select(list(kenya.dimensions))
    got = apply_mapping(open_table(KENYA_DATA), back.model_copy(update={"value": kenya.value})).table
    assert got.select(list(kenya.dimensions)).equals(want)


def test_labels_that_are_not_code_ids_get_ids_and_keep_their_names(structures, tmp_path):
    mapping = Mapping.model_validate({
        "dataset": "labels", "dataflow": SDG_FLOW,
        "dimensions": {
            "AGE": {"column": "Age group", "map": {"Y_GE60": ["60+", "60 +"], "Y18T24": ["18-24"]}},
            "DISABILITY_STATUS": {"column": "disability", "map": {"PD": ["With disability"],
                                                                  "PWD": ["Without disability"]}},
        },
        "time": {"column": "year"}, "value": {"kind": "column", "column": "Value (%)"},
    })  # fmt: skip
    text = export_structure_set(mapping, structures=structures).text
    path = as_file(tmp_path, "labels.xml", text)
    assert valid_21(path)
    root = etree.fromstring(text.encode())
    age = next(cl for cl in root.iter(f"{STR}Codelist") if cl.get("id").endswith("_AGE"))
    assert ANN_LABELS in etree.tostring(age).decode()
    codes = {c.get("id"): c.findtext("{*}Name") for c in age.iter(f"{STR}Code")}
    assert codes["60_"] == "60+"
    assert codes["60__"] == "60 +"
    back = import_mapping([path], dataflow=SDG_FLOW, structures=structures).mapping
    assert back.dimensions["AGE"].map == mapping.dimensions["AGE"].map
    assert back.dimensions["AGE"].column == "Age group"
    assert back.dimensions["DISABILITY_STATUS"].map == {
        "PD": ["With disability"],
        "PWD": ["Without disability"],
    }
    assert back.value == mapping.value


def test_code_id_is_an_sdmx_21_id_and_unique():
    taken: set[str] = set()
    assert [code_id(x, taken) for x in ("60+", "60+", "a b", "", "ok")] == ["60_", "60__2", "a_b", "_", "ok"]


def test_a_target_without_codelists_maps_labels_by_value_map(kenya, tmp_path):
    other = kenya.model_copy(update={"dataflow": "NSO:DF_UNKNOWN(2.0)"})
    exported = export_structure_set(other, structures=Structures(folders=[]))
    assert any(w.element == "SEX" and "ValueMap" in w.problem for w in exported.warnings)
    path = as_file(tmp_path, "vm.xml", exported.text)
    assert valid_21(path)
    assert "<str:CodelistMap " not in exported.text
    assert '<str:ValueMapping source="Female" target="F"/>' in exported.text
    back = import_mapping([path], dataflow="NSO:DF_UNKNOWN(2.0)", structures=Structures(folders=[]))
    assert back.mapping.dimensions["SEX"].map == kenya.dimensions["SEX"].map


def test_export_needs_a_versioned_dataflow_and_an_agency_id(kenya):
    with pytest.raises(MappingError, match="AGENCY:ID"):
        export_structure_set(kenya.model_copy(update={"dataflow": "DF_CGD_KE"}))
    with pytest.raises(MappingError, match="not an SDMX agency ID"):
        export_structure_set(kenya, agency="not an id")


def test_sdmx1_cannot_read_structure_sets(kenya, structures, tmp_path):
    """sdmx1 (2.x) reads 2.1 CodelistMaps but raises NotImplementedError at a StructureSet's
    RelatedStructure/StructureMap, so the output is checked against the official XSD instead (and
    read back by our own lxml reader). If this starts to fail, sdmx1 learnt StructureSets: read
    the export with sdmx.read_sdmx here."""
    path = as_file(tmp_path, "ss.xml", export_structure_set(kenya, structures=structures).text)
    with pytest.raises(sdmx.exceptions.XMLParseError, match="NotImplementedError"), path.open("rb") as fh:
        sdmx.read_sdmx(fh, format="XML")
