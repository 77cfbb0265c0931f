"""The target DSD is the contract (#13): every dimension in DSD order, only declared attributes.

A mapping that leaves out a dimension fails validation naming it and the fix, for the SDG DSD
(which used to fill ``_T`` in silence) and for any other DSD (whose missing dimensions used to
be left out of the key); attributes the DSD does not declare are never written (CONF_STATUS on
the SDG DSD 1.5), and the suppression shows through what the DSD has (OBS_STATUS Q).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from cgd_bridge.errors import MappingError, StructureError
from cgd_bridge.i18n import ENGLISH
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.mapping.conform import contract_problems, dimension_fix
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.pipeline import convert, harmonise, validate
from cgd_bridge.sdmx.contract import Component, Contract, contract_for
from cgd_bridge.structures import Structures
from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard"
KENYA_MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
NEPAL = ROOT / "examples" / "nepal-youth-survey"
NEPAL_MAPPING = ROOT / "mappings" / "nepal-youth-survey.yaml"
KE_FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
SDG_FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"
STRUCTURES = Structures()


def edited(source: Path, tmp_path: Path, change: Any) -> Path:
    """A copy of a bundled mapping with ``change(spec)`` applied."""
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    change(spec)
    out = tmp_path / source.name
    out.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def without(*dims: str) -> Any:
    def change(spec: dict[str, Any]) -> None:
        for d in dims:
            del spec["dimensions"][d]

    return change


def findings(report, code: str) -> list:
    return [f for f in report.findings if f.code == code]


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


# -- every dimension, in DSD order ----------------------------------------------------------------


def test_a_kenya_mapping_that_leaves_out_dimensions_fails_validation_naming_them(tmp_path):
    """Outside the IAEG-SDGs agency the missing dimensions used to vanish from the key: VALID."""
    mapping = edited(KENYA_MAPPING, tmp_path, without("URBANISATION", "EDUCATION_LEV"))
    report = validate(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=mapping)
    assert not report.valid
    found = {f.details["component"]: f for f in findings(report, "dimension-not-mapped")}
    assert set(found) == {"URBANISATION", "EDUCATION_LEV"}
    f = found["URBANISATION"]
    assert f.severity.value == "error"
    assert f.field == "dimensions.URBANISATION"  # where in the mapping file
    assert f.target == "mapping"
    assert f.file == "kenya-health-scorecard.yaml"
    assert "URBANISATION" in f.problem
    assert "CGD_BRIDGE:CGD_KE(1.0)" in f.problem
    # the fix names the three ways, with the exact total code of the dimension's codelist
    assert "dimensions.URBANISATION" in f.fix
    assert "column" in f.fix
    assert "URBANISATION: {value: _T}" in f.fix
    assert "CL_URBANISATION" in f.fix


def test_an_sdg_mapping_no_longer_gets_silent_totals(tmp_path):
    """The SDG DSD's unnamed dimensions used to become _T without a word."""
    mapping = edited(NEPAL_MAPPING, tmp_path, without("PRODUCT"))
    report = validate(NEPAL / "data.xlsx", form=NEPAL / "form.xlsx", metadata=NEPAL / "quality.yaml",
                      mapping=mapping)  # fmt: skip
    assert [f.field for f in findings(report, "dimension-not-mapped")] == ["dimensions.PRODUCT"]
    assert "PRODUCT: {value: _T}" in findings(report, "dimension-not-mapped")[0].fix


def test_the_harmonised_table_has_every_dsd_dimension_in_dsd_order(tmp_path):
    def shuffle(spec: dict[str, Any]) -> None:
        spec["dimensions"] = dict(reversed(list(spec["dimensions"].items())))

    mapping = edited(KENYA_MAPPING, tmp_path, shuffle)
    contract = contract_for(KE_FLOW, STRUCTURES)
    spec = Mapping.model_validate(yaml.safe_load(mapping.read_text(encoding="utf-8")))
    h = apply_mapping(open_table(KENYA / "data.csv"), spec, contract=contract)
    assert h.dimensions == list(contract.dimension_ids)
    assert h.table.column_names[: len(contract.dimensions)] == list(contract.dimension_ids)
    assert h.unfilled == []


def test_an_unfilled_dimension_is_an_empty_column_never_a_made_up_code(tmp_path):
    mapping = edited(KENYA_MAPPING, tmp_path, without("OCCUPATION"))
    spec = Mapping.model_validate(yaml.safe_load(mapping.read_text(encoding="utf-8")))
    h = apply_mapping(open_table(KENYA / "data.csv"), spec, contract=contract_for(KE_FLOW, STRUCTURES))
    assert h.unfilled == ["OCCUPATION"]
    assert h.dimensions.index("OCCUPATION") == 9
    assert h.table["OCCUPATION"].null_count == h.table.num_rows


def test_microdata_gets_every_dsd_dimension_too(tmp_path):
    mapping = edited(NEPAL_MAPPING, tmp_path, without("ACTIVITY", "URBANISATION"))
    spec = Mapping.model_validate(yaml.safe_load(mapping.read_text(encoding="utf-8")))
    table = open_table(NEPAL / "data.xlsx", form=NEPAL / "form.xlsx")
    h = apply_mapping(table, spec, contract=contract_for(SDG_FLOW, STRUCTURES))
    assert h.unfilled == ["URBANISATION", "ACTIVITY"]
    assert h.table.column_names[:15] == list(contract_for(SDG_FLOW, STRUCTURES).dimension_ids)
    assert h.table["ACTIVITY"].null_count == h.table.num_rows


def test_a_mapping_dimension_the_dsd_does_not_have_is_refused_with_the_dsd_dimensions(tmp_path):
    def add(spec: dict[str, Any]) -> None:
        spec["dimensions"]["COUNTY"] = {"value": "KE_042"}
        spec["dimensions"]["UNIT_MEASURE"] = {"value": "PT"}

    mapping = edited(KENYA_MAPPING, tmp_path, add)
    spec = Mapping.model_validate(yaml.safe_load(mapping.read_text(encoding="utf-8")))
    with pytest.raises(MappingError) as exc:
        apply_mapping(open_table(KENYA / "data.csv"), spec, contract=contract_for(KE_FLOW, STRUCTURES))
    assert "COUNTY" in exc.value.problem
    assert "CGD_BRIDGE:CGD_KE(1.0)" in exc.value.problem
    assert "UNIT_MEASURE" in exc.value.fix
    assert "attributes" in exc.value.fix


def test_an_unfilled_dimension_is_never_converted_even_forced(tmp_path):
    mapping = edited(KENYA_MAPPING, tmp_path, without("CUST_BREAKDOWN"))
    out = tmp_path / "out.csv"
    result = convert(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=mapping, to="sdmx-csv-2.0",
                     output=out, force=True)  # fmt: skip
    assert result.refused
    assert "CUST_BREAKDOWN" in result.refused
    assert not out.exists()


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ({"_T", "_Z", "F"}, "SEX: {value: _T}"),
        ({"_Z", "A", "B"}, "SEX: {value: _Z}"),
        ({"A", "B"}, None),
    ],
)
def test_the_fix_suggests_the_total_or_not_applicable_code_the_codelist_has(codes, expected):
    dim = Component("SEX", "MW_NSO:CL_SEX(1.0)")
    fix = ENGLISH.value(dimension_fix(dim, frozenset(codes), where="malawi.yaml"))
    assert "dimensions.SEX in malawi.yaml" in fix
    assert "column" in fix
    assert "fixed code" in fix
    if expected:
        assert expected in fix
    else:
        assert "_T" not in fix
        assert "_Z" not in fix


# -- only what the DSD declares --------------------------------------------------------------------


def test_an_attribute_the_dsd_does_not_declare_is_an_error(tmp_path):
    def add(spec: dict[str, Any]) -> None:
        spec["attributes"]["CONF_STATUS"] = {"value": "F"}  # the SDG DSD 1.5 has no CONF_STATUS

    mapping = edited(NEPAL_MAPPING, tmp_path, add)
    report = validate(NEPAL / "data.xlsx", form=NEPAL / "form.xlsx", metadata=NEPAL / "quality.yaml",
                      mapping=mapping)  # fmt: skip
    (f,) = findings(report, "component-not-in-dsd")
    assert f.field == "attributes.CONF_STATUS"
    assert "IAEG-SDGs:SDG(1.5)" in f.problem
    assert "attributes.CONF_STATUS" in f.fix


def test_a_mandatory_attribute_the_mapping_does_not_give_is_an_error(tmp_path):
    def drop(spec: dict[str, Any]) -> None:
        del spec["attributes"]["UNIT_MEASURE"]

    mapping = edited(KENYA_MAPPING, tmp_path, drop)
    report = validate(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=mapping)
    (f,) = findings(report, "attribute-missing")
    assert f.field == "attributes.UNIT_MEASURE"
    assert "attributes.UNIT_MEASURE" in f.fix
    assert "CL_UNIT_MEASURE" in f.fix
    # OBS_STATUS is mandatory too, but the CGD provenance rules give it: not reported
    assert not [g for g in findings(report, "attribute-missing") if g.field == "attributes.OBS_STATUS"]


def test_nepal_on_the_sdg_dsd_has_no_conf_status_and_shows_suppression_by_obs_status(tmp_path):
    """CONF_STATUS is not in the SDG DSD 1.5: a suppressed cell is OBS_STATUS Q with no value."""
    out = tmp_path / "nepal.csv"
    result = convert(NEPAL / "data.xlsx", form=NEPAL / "form.xlsx", metadata=threshold_40(tmp_path),
                     mapping=NEPAL_MAPPING, to="sdmx-csv-2.0", output=out)  # fmt: skip
    assert result.refused is None
    got = rows(out)
    assert "CONF_STATUS" not in got[0]
    contract = contract_for(SDG_FLOW, STRUCTURES)
    lead = ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    columns = list(got[0])
    assert columns[: 3 + 15] == [*lead, *contract.dimension_ids]
    attrs = columns[3 + 15 + 2 :]
    assert attrs == list(contract.declared(attrs))  # the DSD's order
    suppressed = [r for r in got if r["OBS_STATUS"] == "Q"]
    assert suppressed
    assert all(r["OBS_VALUE"] == "" for r in suppressed)
    assert all(r["OBS_VALUE"] != "" for r in got if r["OBS_STATUS"] != "Q")


def test_kenya_keeps_conf_status_which_its_dsd_declares(tmp_path):
    result = harmonise(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING)
    assert result.target is not None
    assert result.harmonised is not None
    contract = contract_for(KE_FLOW, STRUCTURES)
    assert "CONF_STATUS" in result.target.attributes
    assert result.target.attributes == contract.declared(result.target.attributes)
    assert result.target.dimensions == contract.dimension_ids
    assert result.target.series_attributes == ("UNIT_MEASURE",)


def test_the_sdg_target_never_names_an_undeclared_attribute():
    result = harmonise(NEPAL / "data.xlsx", form=NEPAL / "form.xlsx", metadata=NEPAL / "quality.yaml",
                       mapping=NEPAL_MAPPING)  # fmt: skip
    assert result.target is not None
    assert result.harmonised is not None
    declared = set(contract_for(SDG_FLOW, STRUCTURES).attribute_ids)
    assert set(result.target.attributes) <= declared
    assert "CONF_STATUS" not in result.harmonised.table.column_names


def threshold_40(tmp_path: Path) -> Path:
    """The Nepal metadata with a small-cell threshold of 40: a few dozen cells suppressed."""
    text = (NEPAL / "quality.yaml").read_text(encoding="utf-8")
    assert "threshold: 5" in text
    out = tmp_path / "meta" / "quality.yaml"
    out.parent.mkdir()
    out.write_text(text.replace("threshold: 5", "threshold: 40"), encoding="utf-8")
    return out


def test_contract_reads_levels_and_mandatory_attributes():
    c = contract_for(KE_FLOW, STRUCTURES)
    assert isinstance(c, Contract)
    assert c.dsd == "CGD_BRIDGE:CGD_KE(1.0)"
    assert c.mandatory_attributes == ("OBS_STATUS", "UNIT_MULT", "UNIT_MEASURE")
    assert c.series_attributes[0] == "UNIT_MEASURE"
    assert c.attribute("CONF_STATUS") == Component("CONF_STATUS", "SDMX:CL_CONF_STATUS(1.0)", False, "obs")
    assert c.dimension("REF_AREA") == Component("REF_AREA", "CGD_BRIDGE:CL_AREA_KE(1.0)", False, "series")


# -- the last check before anything is written or stored ---------------------------------------------


@pytest.fixture(scope="module")
def kenya_conformed():
    result = harmonise(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING)
    assert result.harmonised is not None
    assert result.target is not None
    return result.harmonised.table, result.target


def _year(t: pa.Table, year: str, **columns: str) -> pa.Table:
    """``t`` for another year, with some columns set to one value."""
    for name, value in {"TIME_PERIOD": year, **columns}.items():
        t = t.set_column(t.schema.get_field_index(name), name, pa.array([value] * t.num_rows))
    return t


def test_a_conformed_table_passes_the_last_check(kenya_conformed):
    table, target = kenya_conformed
    assert contract_problems(table, contract_for(KE_FLOW, STRUCTURES), target.attributes, STRUCTURES) == []


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda t: t.set_column(t.schema.get_field_index("AGE"), "AGE", pa.nulls(t.num_rows, pa.string())),
         "the dimension AGE is empty in 180 of 180 observation(s)"),
        (lambda t: t.drop_columns(["PRODUCT"]),
         "the dimension PRODUCT of CGD_BRIDGE:CGD_KE(1.0) is not in the data"),
        (lambda t: t.set_column(t.schema.get_field_index("UNIT_MULT"), "UNIT_MULT",
                                pa.array([None] + ["0"] * (t.num_rows - 1))),
         "the mandatory attribute UNIT_MULT is empty in 1 of 180 observation(s)"),
        (lambda t: pa.concat_tables([t, _year(t, "2023", UNIT_MEASURE="NUMBER")]),
         "the series attribute UNIT_MEASURE has more than one value within a series"),
        (lambda t: t.set_column(t.schema.get_field_index("SEX"), "SEX", pa.array(["FEM"] * t.num_rows)),
         "SEX has codes that are not in IAEG-SDGs:CL_SEX(1.1): FEM"),
        (lambda t: _year(t, "2024", OBS_STATUS="X"),
         "OBS_STATUS has codes that are not in SDMX:CL_OBS_STATUS(2.1): X"),
    ],
    ids=["empty-dimension", "missing-dimension", "empty-mandatory", "series-attribute-varies",
         "dimension-code", "attribute-code"],
)  # fmt: skip
def test_the_last_check_names_what_breaks_the_dsd(kenya_conformed, damage, expected):
    table, target = kenya_conformed
    problems = contract_problems(
        damage(table), contract_for(KE_FLOW, STRUCTURES), target.attributes, STRUCTURES
    )
    assert problems == [expected]


def test_the_last_check_refuses_an_attribute_the_dsd_does_not_declare(kenya_conformed):
    table, target = kenya_conformed
    sdg = contract_for(SDG_FLOW, STRUCTURES)
    kenya_rows = table.drop_columns(["REF_AREA"]).append_column(
        "REF_AREA", pa.array(["404"] * table.num_rows)
    )
    assert contract_problems(kenya_rows, sdg, target.attributes, STRUCTURES) == [
        "CONF_STATUS is not an attribute of IAEG-SDGs:SDG(1.5)"
    ]


def test_harmonise_stops_when_the_output_would_not_conform(monkeypatch):
    """Validation lets nothing through that breaks the DSD; if something did, nothing is stored."""
    import cgd_bridge.pipeline as pipeline

    original = pipeline.conform

    def broken(*args, **kw):
        t = original(*args, **kw)
        return t.set_column(
            t.schema.get_field_index("UNIT_MULT"), "UNIT_MULT", pa.nulls(t.num_rows, pa.string())
        )

    monkeypatch.setattr(pipeline, "conform", broken)
    with pytest.raises(StructureError) as exc:
        harmonise(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING)
    assert "UNIT_MULT is empty in 180 of 180" in exc.value.problem
    assert exc.value.file == "kenya-health-scorecard.yaml"
