"""DSD-specific schemas (formats/xsd.py): our structure-specific output of the Kenya example
validates against the schema generated from its DSD, and the schema catches what the official
XSDs alone cannot: a code not in the codelist, a missing mandatory attribute, a value that is
not a number (issue #3)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sdmx
import sdmx.reader.xml.v30
from lxml import etree

from cgd_bridge.errors import FormatError
from cgd_bridge.pipeline import convert
from cgd_bridge.sdmx.write.xsd import attachment, dsd_schema, series_attributes, validate_structure_specific
from cgd_bridge.structures import Structures
from tests.support.schemas import official

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
FORMATS = {"2.1": "sdmx-ml-2.1-ss", "3.0": "sdmx-ml-3.0-ss"}
XS = "{http://www.w3.org/2001/XMLSchema}"
STRUCTURES = Structures()


def kenya_mapping() -> Path:
    """The Kenya example's mapping (mappings/, or beside the example in older layouts)."""
    for path in (ROOT / "mappings" / "kenya-health-scorecard.yaml", KENYA / "mapping.yaml"):
        if path.is_file():
            return path
    pytest.fail("the Kenya example's mapping is in neither mappings/ nor examples/kenya-health-scorecard/")


@pytest.fixture(scope="module")
def structures() -> Structures:
    return STRUCTURES


@pytest.fixture(scope="module")
def dsd(structures):
    return structures.dataflow(FLOW).structure


@pytest.fixture(scope="module")
def kenya(tmp_path_factory, structures) -> dict[str, bytes]:
    """The Kenya example converted to SDMX-ML 2.1 and 3.0 StructureSpecific data."""
    folder = tmp_path_factory.mktemp("kenya")
    out = {}
    for version, fmt in FORMATS.items():
        path = folder / f"ss{version}.xml"
        result = convert(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=kenya_mapping(), to=fmt,
                         output=path, structures=structures)  # fmt: skip
        assert result.refused is None
        assert result.written == 180
        out[version] = path.read_bytes()
    return out


def errors(data: bytes, dsd, version: str) -> list[str]:
    schema = dsd_schema(dsd, version, dataflow=FLOW, structures=STRUCTURES)
    return validate_structure_specific(data, schema, version, official(version))


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_kenya_output_is_valid_against_its_dsd_schema(kenya, dsd, version):
    assert errors(kenya[version], dsd, version) == []


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_a_code_not_in_the_codelist_fails(kenya, dsd, version):
    bad = kenya[version].replace(b'SEX="F"', b'SEX="X"', 1)
    assert bad != kenya[version]
    found = errors(bad, dsd, version)
    assert len(found) == 1
    assert "'SEX'" in found[0]
    assert "'X'" in found[0]
    assert "enumeration" in found[0]


@pytest.mark.parametrize("version", ["2.1", "3.0"])
@pytest.mark.parametrize("attribute", ["OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE"])
def test_a_missing_mandatory_attribute_fails(kenya, dsd, version, attribute):
    bad, n = re.subn(rf' {attribute}="[^"]*"'.encode(), b"", kenya[version], count=1)
    assert n == 1
    found = errors(bad, dsd, version)
    assert len(found) == 1
    assert f"The attribute '{attribute}' is required but missing" in found[0]


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_obs_value_must_be_a_number_and_time_period_a_period(kenya, dsd, version):
    bad = re.sub(rb'OBS_VALUE="[^"]*"', b'OBS_VALUE="n/a"', kenya[version], count=1)
    assert any("OBS_VALUE" in e and "xs:double" in e for e in errors(bad, dsd, version))
    bad = kenya[version].replace(b'TIME_PERIOD="2024"', b'TIME_PERIOD="last year"', 1)
    assert any("TIME_PERIOD" in e for e in errors(bad, dsd, version))


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_an_attribute_at_the_wrong_level_fails(kenya, dsd, version):
    """UNIT_MEASURE is attached to the series key in the SDG DSD: on Obs it is rejected (the
    writers had put every attribute on Obs; the generated schema found it)."""
    bad = (
        kenya[version]
        .replace(b' UNIT_MEASURE="PT">', b">", 1)
        .replace(b"<Obs ", b'<Obs UNIT_MEASURE="PT" ', 1)
    )
    found = errors(bad, dsd, version)
    assert any("UNIT_MEASURE" in e and "not allowed" in e for e in found)


def test_schema_types_components_as_the_dsd_says(dsd):
    schema = etree.fromstring(dsd_schema(dsd, "2.1", dataflow=FLOW, structures=STRUCTURES))
    assert schema.get("targetNamespace") == (
        "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=CGD_BRIDGE:DF_CGD_KE(1.0):ObsLevelDim:TIME_PERIOD"
    )

    def attrs(type_name: str) -> dict[str, tuple[str, str]]:
        ctype = schema.find(f"{XS}complexType[@name='{type_name}']")
        return {a.get("name"): (a.get("type"), a.get("use")) for a in ctype.iter(f"{XS}attribute")}

    series, obs = attrs("SeriesType"), attrs("ObsType")
    dims = [str(d.id) for d in dsd.dimensions.components if d.id != "TIME_PERIOD"]
    assert [n for n in series if n in dims] == dims
    assert all(series[d][1] == "required" for d in dims)
    assert series["UNIT_MEASURE"][1] == "required"
    assert series["TIME_PERIOD"][1] == "prohibited"
    assert obs["TIME_PERIOD"] == ("common:ObservationalTimePeriodType", "required")
    assert obs["OBS_VALUE"] == ("xs:double", "optional")
    assert obs["OBS_STATUS"][1] == "required"
    assert obs["COMMENT_OBS"] == ("xs:string", "optional")
    assert obs["UPPER_BOUND"][0] == "xs:double"
    area = schema.find(f"{XS}simpleType[@name='{series['REF_AREA'][0]}']")
    codes = {e.get("value") for e in area.iter(f"{XS}enumeration")}
    assert len(codes) == 48
    assert "KE_003" in codes
    sex = schema.find(f"{XS}simpleType[@name='{series['SEX'][0]}']")
    assert {"F", "M", "_T"} <= {e.get("value") for e in sex.iter(f"{XS}enumeration")}


def test_the_30_schema_restricts_the_30_base_types(dsd):
    schema = dsd_schema(dsd, "3.0", structures=STRUCTURES)
    assert b'namespace="http://www.sdmx.org/resources/sdmxml/schemas/v3_0/data/structurespecific"' in schema
    assert b"DataStructure=CGD_BRIDGE:CGD_KE(1.0):ObsLevelDim:TIME_PERIOD" in schema
    assert b"v2_1" not in schema


def test_schema_imports_the_official_schemas_from_a_given_folder(dsd):
    schema = etree.fromstring(
        dsd_schema(dsd, "2.1", schema_location="https://example.org/sdmx/v2_1/", structures=STRUCTURES)
    )
    assert [i.get("schemaLocation") for i in schema.iter(f"{XS}import")] == [
        "https://example.org/sdmx/v2_1/SDMXCommon.xsd",
        "https://example.org/sdmx/v2_1/SDMXDataStructureSpecific.xsd",
    ]


def test_a_codelist_the_dsd_only_references_needs_the_structures(dsd):
    """The Kenya DSD references the SDG codelists in another file: without the structures that
    hold them, CL_SEX would be an empty enumeration that accepts anything."""
    with pytest.raises(FormatError, match=r"codelist \S+:CL_\w+\([\d.]+\) is only referenced by the DSD"):
        dsd_schema(dsd, "2.1")


def test_unknown_version_is_refused(dsd):
    with pytest.raises(FormatError, match=r"2\.1 or 3\.0"):
        dsd_schema(dsd, "2.0")


def test_attachment_levels_of_the_sdg_dsd(structures):
    sdg = structures.dsd("IAEG-SDGs:SDG(1.5)")
    levels = {str(a.id): attachment(a) for a in sdg.attributes.components}
    assert levels["UNIT_MEASURE"] == "series"
    assert levels["COMMENT_TS"] == "series"
    assert levels["OBS_STATUS"] == "obs"
    assert levels["NATURE"] == "obs"
    assert "UNIT_MEASURE" in series_attributes(sdg)
    assert "OBS_STATUS" not in series_attributes(sdg)


def test_series_attributes_read_back_at_series_level_with_sdmx1(kenya, dsd):
    """Read with the DSD: without it, no reader can tell a series attribute from a dimension in
    structure-specific data (sdmx1 then takes UNIT_MEASURE for a 16th dimension)."""
    msg = sdmx.read_sdmx(io.BytesIO(kenya["2.1"]), structure=dsd)
    ds = msg.data[0]
    assert len(ds.obs) == 180
    assert len(ds.series) == 180
    for key in ds.series:
        assert "UNIT_MEASURE" not in key.values
        assert str(key.attrib["UNIT_MEASURE"].value) == "PT"
    assert all("UNIT_MEASURE" not in obs.attached_attribute for obs in ds.obs)
    assert {str(obs.attached_attribute["OBS_STATUS"].value) for obs in ds.obs} <= {"G", "Q"}
