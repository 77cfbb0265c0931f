"""The mapping engine: labels to codes, time, derived values, drops and coverage."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cgd_bridge.errors import MappingError
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import SDG_DIMENSIONS, apply_mapping
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.sdmx.contract import contract_for
from cgd_bridge.structures import Structures

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard" / "data.csv"

SPEC = {
    "profile": "cgd-mapping/1.0",
    "dataflow": "IAEG-SDGs:DF_SDG_GLH",
    "dimensions": {
        "FREQ": {"value": "A"},
        "REPORTING_TYPE": {"value": "N"},
        "SERIES": {"value": "SP_PSR_SATIS"},
        "REF_AREA": {"value": 404},
        "SEX": {"column": "sex", "map": {"F": ["Female", "Mwanamke"], "M": "Male", "_T": ["Total"]}},
        "AGE": {"column": "age_group",
                "map": {"Y18T24": ["18-24"], "Y25T44": ["25-44"], "Y45T59": ["45-59"], "Y_GE60": ["60+"],
                        "_T": ["Total"]}},
        "URBANISATION": {"value": "_T"}, "INCOME_WEALTH_QUANTILE": {"value": "_T"},
        "EDUCATION_LEV": {"value": "_T"}, "OCCUPATION": {"value": "_T"}, "CUST_BREAKDOWN": {"value": "_T"},
        "COMPOSITE_BREAKDOWN": {"value": "_T"},
        "DISABILITY_STATUS": {
            "column": "disability_status",
            "map": {"PD": ["With disability"], "PWD": ["Without disability"], "_T": ["Total"]},
        },
        "ACTIVITY": {"value": "_T"}, "PRODUCT": {"value": "_T"},
    },
    "time": {"column": "year", "format": "year"},
    "value": {"kind": "proportion", "numerator": "satisfied", "denominator": "respondents", "scale": 100},
    "attributes": {"UNIT_MEASURE": {"value": "PT"}, "OBS_STATUS": {"value": "G"}},
    "drop": [
        {"column": "county", "values": ["Nakuru", "Machakos", "Kilifi"],
         "reason": "national series: Kisumu only"}
    ],
}  # fmt: skip


SDG = contract_for("IAEG-SDGs:DF_SDG_GLH", Structures())


def mapping(**changes):
    spec = {**SPEC, **changes}
    return Mapping.model_validate(spec)


def test_kenya_scorecard_maps_to_sdg_codes():
    h = apply_mapping(open_table(KENYA), mapping(), contract=SDG)
    assert h.dimensions == list(SDG_DIMENSIONS)
    assert h.table.num_rows == 45  # Kisumu: 3 sexes x 5 ages x 3 disability statuses
    assert h.complete
    assert not h.duplicate_keys()
    first = h.table.slice(0, 1).to_pylist()[0]
    assert first["SEX"] == "F"
    assert first["AGE"] == "Y18T24"
    assert first["DISABILITY_STATUS"] == "PD"
    assert first["URBANISATION"] == "_T"
    assert first["TIME_PERIOD"] == "2024"
    assert first["REF_AREA"] == "404"
    assert first["OBS_VALUE"] == round(11 / 19 * 100, 2)
    assert first["SOURCE_ROW"] == 2
    assert [(d.reason, d.count) for d in h.dropped] == [("national series: Kisumu only", 135)]


def test_never_confuses_pd_and_pwd():
    h = apply_mapping(open_table(KENYA), mapping())
    rows = h.table.to_pylist()
    with_dis = {r["DISABILITY_STATUS"] for r in rows if r["SOURCE_ROW"] == 2}
    without = {r["DISABILITY_STATUS"] for r in rows if r["SOURCE_ROW"] == 3}
    assert with_dis == {"PD"}
    assert without == {"PWD"}


def test_unmapped_values_are_listed_with_rows_and_suggestions(write):
    data = write("d.csv", "county,sex,age_group,disability_status,year,respondents,satisfied\n"
                          "Kisumu,Femal,18-24,With disability,2024,10,5\n"
                          "Kisumu, FEMALE ,18-24,With  Disability,2024,10,5\n"
                          "Kisumu,Other,18-24,With disability,2024,10,5\n")  # fmt: skip
    h = apply_mapping(open_table(data), mapping())
    assert h.table["SOURCE_ROW"].to_pylist() == [3]  # case and spaces do not matter
    femal = next(u for u in h.unmapped if u.value == "Femal")
    assert femal.component == "SEX"
    assert femal.rows == [2]
    assert femal.suggestions[0] == "F"
    assert {u.value for u in h.unmapped} == {"Femal", "Other"}


def test_duplicate_series_keys_name_the_rows(write):
    data = write("d.csv", "county,sex,age_group,disability_status,year,respondents,satisfied\n"
                          "Kisumu,Female,18-24,With disability,2024,10,5\n"
                          "Kisumu,Mwanamke,18-24,With disability,2024,12,5\n")  # fmt: skip
    h = apply_mapping(open_table(data), mapping())
    assert [rows for _, rows in h.duplicate_keys()] == [[2, 3]]


def test_mapping_file_errors_name_the_key(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text(yaml.safe_dump({**SPEC, "dimensions": {"SEX": {"column": "sex", "value": "F"}}}))
    with pytest.raises(MappingError, match=r"dimensions\.SEX") as exc:
        load_mapping(bad)
    assert "either 'value'" in exc.value.message
    bad.write_text(yaml.safe_dump({**SPEC, "dimension": {}}))
    with pytest.raises(MappingError, match="'dimension' is not a key"):
        load_mapping(bad)


def test_columns_the_data_lacks_are_refused(write):
    data = write("d.csv", "county,year,respondents,satisfied\nKisumu,2024,10,5\n")
    with pytest.raises(MappingError, match="'age_group'"):
        apply_mapping(open_table(data), mapping())


def test_unknown_sdg_dimension_is_refused(write):
    data = write("d.csv", "sex,year,value\nFemale,2024,5\n")
    m = mapping(
        dimensions={"GENDER": {"column": "sex"}}, value={"kind": "column", "column": "value"}, drop=[]
    )
    with pytest.raises(MappingError, match="GENDER"):
        apply_mapping(open_table(data), m, contract=SDG)
