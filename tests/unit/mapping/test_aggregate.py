"""Microdata aggregation, totals, lineage and small-cell suppression of aggregated observations (#3).

The expected values are worked out by hand from the nine respondents of ``SURVEY`` below.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
import yaml

from cgd_bridge.checks import Options
from cgd_bridge.errors import MappingError
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.aggregate import condition_mask
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.mapping.model import Condition, Mapping
from cgd_bridge.pipeline import conform, examine
from cgd_bridge.sdmx.contract import contract_for
from cgd_bridge.structures import Structures

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard" / "data.csv"
KENYA_MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"

# row 2 is the first respondent (the header is row 1)
SURVEY = """sex,disability,services_used,satisfied,rating,weight
female,no,health water,yes,5,1
female,no,health,no,2,2
female,no,water,,4,1
female,yes,health,yes,4,1
female,yes,health justice,yes,3,3
male,no,health,no,1,1
male,no,health,yes,5,1
male,no,education,,3,2
male,yes,health,no,2,1
"""

BASE = {
    "profile": "cgd-mapping/1.0",
    "dataflow": "IAEG-SDGs:DF_SDG_GLH(1.5)",
    "dimensions": {
        "FREQ": {"value": "A"},
        "REPORTING_TYPE": {"value": "N"},
        "SERIES": {"value": "SP_PSR_SATIS"},
        "REF_AREA": {"value": "524"},
        "SEX": {"column": "sex", "map": {"F": ["female"], "M": ["male"]}},
        "DISABILITY_STATUS": {"column": "disability", "map": {"PD": ["yes"], "PWD": ["no"]}},
    },
    "time": {"value": "2024"},
    "aggregate": {},
    "totals": ["SEX", "DISABILITY_STATUS"],
    "value": {
        "kind": "proportion",
        "where": {"satisfied": ["yes"]},
        "of": {"services_used": {"contains": "health"}},
        "decimals": 2,
    },
    "attributes": {"UNIT_MEASURE": {"value": "PT"}},
}


def spec(**changes) -> Mapping:
    return Mapping.model_validate({**BASE, **changes})


@pytest.fixture
def survey(write) -> Path:
    return write("survey.csv", SURVEY)


def cells(h) -> dict[tuple[str, str], dict]:
    return {(r["SEX"], r["DISABILITY_STATUS"]): r for r in h.table.to_pylist()}


def test_proportion_among_a_subpopulation_with_every_total(survey):
    h = apply_mapping(open_table(survey), spec(), contract=contract_for(BASE["dataflow"], Structures()))
    got = cells(h)
    assert h.aggregated
    assert len(got) == 9  # (F, M, _T) x (PD, PWD, _T)
    expected = {  # satisfied / used health services
        ("F", "PWD"): (1, 2), ("F", "PD"): (2, 2), ("M", "PWD"): (1, 2), ("M", "PD"): (0, 1),
        ("_T", "PWD"): (2, 4), ("_T", "PD"): (2, 3), ("F", "_T"): (3, 4), ("M", "_T"): (1, 3),
        ("_T", "_T"): (4, 7),
    }  # fmt: skip
    for key, (num, den) in expected.items():
        assert got[key]["OBS_VALUE"] == round(100 * num / den, 2), key
        assert got[key]["OBS_COUNT"] == den, key
        assert got[key]["OBS_NUMERATOR"] == num
    # every row gets the fixed codes; the SDG dimensions not mapped are empty, never a made-up
    # code, and listed for validation to report (dimension-not-mapped)
    assert {r["REF_AREA"] for r in got.values()} == {"524"}
    assert {r["AGE"] for r in got.values()} == {None}
    assert "AGE" in h.unfilled
    assert {r["TIME_PERIOD"] for r in got.values()} == {"2024"}
    assert not h.duplicate_keys()


def test_a_total_equals_the_sum_of_its_parts(survey):
    h = apply_mapping(open_table(survey), spec())
    got = cells(h)
    for dis in ("PD", "PWD", "_T"):
        parts = [got[(s, dis)] for s in ("F", "M")]
        total = got[("_T", dis)]
        assert total["OBS_NUMERATOR"] == sum(p["OBS_NUMERATOR"] for p in parts)
        assert total["OBS_DENOMINATOR"] == sum(p["OBS_DENOMINATOR"] for p in parts)
        assert total["OBS_COUNT"] == sum(p["OBS_COUNT"] for p in parts)


def test_lineage_lists_every_source_row(survey):
    h = apply_mapping(open_table(survey), spec())
    got = cells(h)
    assert got[("F", "PWD")]["SOURCE_ROWS"] == [2, 3]  # row 4 did not use health services
    assert got[("M", "PD")]["SOURCE_ROWS"] == [10]
    assert got[("_T", "_T")]["SOURCE_ROWS"] == [2, 3, 5, 6, 7, 8, 10]
    assert got[("_T", "_T")]["SOURCE_ROW"] == 2  # the first source row
    assert h.lineage().to_pylist() == h.table["SOURCE_ROWS"].to_pylist()


def test_weighted_proportion_keeps_the_unweighted_base(write):
    data = write("w.csv", SURVEY)
    h = apply_mapping(open_table(data), spec(aggregate={"weight": "weight"}))
    got = cells(h)
    assert got[("F", "PWD")]["OBS_VALUE"] == round(100 * 1 / 3, 2)  # weights 1 (yes) and 2 (no)
    assert got[("F", "PD")]["OBS_VALUE"] == 100.0
    assert got[("F", "_T")]["OBS_VALUE"] == round(100 * 5 / 7, 2)
    assert got[("_T", "_T")]["OBS_VALUE"] == 60.0  # 6 of a weighted 10
    assert got[("_T", "_T")]["OBS_COUNT"] == 7  # unweighted respondents
    assert got[("_T", "_T")]["OBS_DENOMINATOR"] == 10.0


def test_rows_without_a_weight_are_counted_as_dropped(write):
    data = write("w.csv", SURVEY.replace("health,no,2,2", "health,no,2,"))
    h = apply_mapping(open_table(data), spec(aggregate={"weight": "weight"}))
    assert [(d.reason, d.count, d.rows) for d in h.dropped] == [
        ("no positive survey weight in 'weight'", 1, [3])
    ]
    assert cells(h)[("F", "PWD")]["SOURCE_ROWS"] == [2]


def test_count_of_respondents_with_and_without_a_condition(survey):
    everyone = cells(apply_mapping(open_table(survey), spec(value={"kind": "count"})))
    assert {k: r["OBS_VALUE"] for k, r in everyone.items() if "_T" not in k} == {
        ("F", "PWD"): 3, ("F", "PD"): 2, ("M", "PWD"): 3, ("M", "PD"): 1,
    }  # fmt: skip
    assert everyone[("_T", "_T")]["OBS_VALUE"] == 9
    satisfied = cells(
        apply_mapping(open_table(survey), spec(value={"kind": "count", "where": {"satisfied": "yes"}}))
    )
    assert satisfied[("F", "PD")]["OBS_VALUE"] == 2
    assert satisfied[("M", "PD")]["OBS_VALUE"] == 0
    assert satisfied[("M", "PD")]["OBS_COUNT"] == 0  # the respondents counted
    assert satisfied[("_T", "_T")]["OBS_VALUE"] == 4


def test_median_and_mean_of_a_rating(survey):
    median = cells(apply_mapping(open_table(survey), spec(value={"kind": "median", "column": "rating"})))
    assert median[("F", "PWD")]["OBS_VALUE"] == 4  # 2 4 5
    assert median[("F", "PD")]["OBS_VALUE"] == 3.5  # 3 4
    assert median[("M", "_T")]["OBS_VALUE"] == 2.5  # 1 2 3 5
    assert median[("_T", "_T")]["OBS_VALUE"] == 3  # 1 2 2 3 3 4 4 5 5
    weighted = cells(
        apply_mapping(
            open_table(survey),
            spec(value={"kind": "median", "column": "rating"}, aggregate={"weight": "weight"}),
        )
    )
    assert weighted[("F", "PWD")]["OBS_VALUE"] == 3  # 2 (weight 2), 4, 5: half the weight at 2
    assert weighted[("F", "PWD")]["OBS_COUNT"] == 3
    mean = cells(
        apply_mapping(
            open_table(survey),
            spec(value={"kind": "mean", "column": "rating"}, aggregate={"weight": "weight"}),
        )
    )
    assert mean[("F", "PWD")]["OBS_VALUE"] == 3.25  # (5 + 2x2 + 4) / 4
    plain = cells(apply_mapping(open_table(survey), spec(value={"kind": "mean", "column": "rating"})))
    assert plain[("_T", "_T")]["OBS_VALUE"] == round(29 / 9, 2)


def test_proportion_at_or_above_a_rating_threshold(survey):
    got = cells(
        apply_mapping(open_table(survey), spec(value={"kind": "proportion", "where": {"rating": {"min": 4}}}))
    )
    assert got[("F", "PWD")]["OBS_VALUE"] == round(100 * 2 / 3, 2)
    assert got[("_T", "_T")]["OBS_VALUE"] == round(100 * 4 / 9, 2)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (["yes"], [True, False, False, False]),
        ({"in": ["YES ", "no"]}, [True, True, False, False]),
        ({"not_in": ["yes"]}, [False, True, False, True]),
        ({"answered": True}, [True, True, False, True]),
        ({"answered": False}, [False, False, True, False]),
        ({"contains": ["maybe"]}, [False, False, False, True]),
        ({"min": 1}, [False, False, False, False]),
    ],
)
def test_conditions(condition, expected):
    import pyarrow as pa

    values = pa.array(["Yes", " no", None, "perhaps maybe"])
    assert condition_mask(Condition.model_validate(condition), values).tolist() == expected


def test_unquoted_yaml_yes_still_matches_yes(tmp_path, survey):
    path = tmp_path / "m.yaml"
    text = yaml.safe_dump({**BASE, "schema": {"fields": []}}).replace("- 'yes'", "- yes")
    path.write_text(text)
    m, _ = load_mapping(path)
    assert m.value is not None
    assert "yes" in (m.value.where["satisfied"].in_ or [])
    assert cells(apply_mapping(open_table(survey), m))[("_T", "_T")]["OBS_VALUE"] == round(400 / 7, 2)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"value": {"kind": "proportion", "numerator": "a", "denominator": "b"}}, "numerator/denominator"),
        ({"value": {"kind": "column", "column": "rating"}}, "count, proportion, median or mean"),
        ({"aggregate": None}, "add 'aggregate"),
        ({"totals": ["REF_AREA"]}, "REF_AREA is not a dimension mapped from a column"),
        ({"attributes": {"COMMENT_OBS": {"column": "sex"}}}, "fixed attribute values"),
        ({"value": {"kind": "median"}}, "needs 'column'"),
    ],
)
def test_mappings_that_cannot_aggregate_are_refused(changes, needle):
    with pytest.raises(ValueError, match=needle):
        spec(**changes)


def test_a_respondent_coded_as_the_total_is_refused(write):
    data = write("t.csv", SURVEY.replace("male,yes,health,no", "all,yes,health,no"))
    m = spec(
        dimensions={
            **BASE["dimensions"],
            "SEX": {"column": "sex", "map": {"F": "female", "M": "male", "_T": "all"}},
        }
    )
    with pytest.raises(MappingError, match=r"total code _T for SEX"):
        apply_mapping(open_table(data), m)


def test_cgd_mapping_files_that_worked_keep_working():
    m, _ = load_mapping(KENYA_MAPPING)
    assert m.aggregate is None
    assert not m.totals
    h = apply_mapping(open_table(KENYA), m)
    assert h.table.num_rows == 180
    assert "SOURCE_ROWS" not in h.table.column_names
    assert h.lineage()[0].as_py() == [h.table["SOURCE_ROW"][0].as_py()]


# -- totals of aggregate data -------------------------------------------------------------------
def kenya_rows(keep_totals: bool) -> str:
    rows = list(csv.reader(io.StringIO(KENYA.read_text(encoding="utf-8"))))
    body = [r for r in rows[1:] if keep_totals or "Total" not in r[1:4]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([rows[0], *body])
    return buf.getvalue()


def test_totals_of_aggregate_data_are_summed_from_counts_not_averaged(write):
    m, _ = load_mapping(KENYA_MAPPING)
    full = apply_mapping(open_table(KENYA), m).table
    m = m.model_copy(update={"totals": {"SEX": "_T", "AGE": "_T", "DISABILITY_STATUS": "_T"}})
    finest = write("finest.csv", kenya_rows(keep_totals=False))
    h = apply_mapping(open_table(finest), m)
    assert h.table.num_rows == 180 == full.num_rows  # 64 finest rows + the 116 computed totals
    keys = ["REF_AREA", "SEX", "AGE", "DISABILITY_STATUS"]
    shipped = {tuple(r[k] for k in keys): r["OBS_VALUE"] for r in full.to_pylist()}
    computed = {tuple(r[k] for k in keys): r for r in h.table.to_pylist()}
    assert set(shipped) == set(computed)
    for key, value in shipped.items():  # the data's own total rows, recomputed from the parts
        assert computed[key]["OBS_VALUE"] == value, key
    t = computed[("KE_042", "_T", "_T", "_T")]
    parts = [r for k, r in computed.items() if k[0] == "KE_042" and "_T" not in k]
    assert t["OBS_DENOMINATOR"] == sum(p["OBS_DENOMINATOR"] for p in parts)
    assert t["OBS_NUMERATOR"] == sum(p["OBS_NUMERATOR"] for p in parts)
    mean_of_parts = sum(p["OBS_VALUE"] for p in parts) / len(parts)
    assert not math.isclose(t["OBS_VALUE"], mean_of_parts, abs_tol=0.05)  # not an average
    assert len(t["SOURCE_ROWS"]) == 16


def test_existing_total_rows_are_not_counted_twice():
    m, _ = load_mapping(KENYA_MAPPING)
    plain = apply_mapping(open_table(KENYA), m).table
    m = m.model_copy(update={"totals": {"SEX": "_T", "AGE": "_T", "DISABILITY_STATUS": "_T"}})
    h = apply_mapping(open_table(KENYA), m)
    assert h.table.num_rows == plain.num_rows == 180
    assert not h.duplicate_keys()
    assert h.table["OBS_VALUE"].to_pylist() == plain["OBS_VALUE"].to_pylist()


# -- small cells among aggregated observations --------------------------------------------------
SCHEMA = {
    "dataKind": "microdata",
    "fields": [
        {"name": "sex", "type": "string", "role": "disaggregation", "dimension": "SEX"},
        {"name": "disability", "type": "string", "role": "disaggregation", "dimension": "DISABILITY_STATUS"},
    ],
}


def test_a_cell_of_three_respondents_is_suppressed_with_its_complements(tmp_path):
    sizes = {("female", "no"): 10, ("female", "yes"): 3, ("male", "no"): 12, ("male", "yes"): 9}
    lines = ["sex,disability"] + [f"{s},{d}" for (s, d), n in sizes.items() for _ in range(n)]
    data = tmp_path / "cells.csv"
    data.write_text("\n".join(lines) + "\n")
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({**BASE, "schema": SCHEMA, "value": {"kind": "count"}}))
    validation = examine(data, mapping=path, options=Options(threshold=5))
    report, h = validation.report, validation.harmonised
    got = {(r["SEX"], r["DISABILITY_STATUS"]): r for r in h.table.to_pylist()}
    suppressed = {k for k, r in got.items() if r["SUPPRESSED"]}
    # F/PD (3) is small; M/PD reveals it through the PD total, F/PWD through the F total, and then
    # M/PWD reveals F/PWD through the PWD total: all four parts, while every total stays published
    assert suppressed == {("F", "PD"), ("M", "PD"), ("F", "PWD"), ("M", "PWD")}
    small = [f for f in report if f.code == "small-cell" and "observation" in f.details]
    assert [f.details["observation"]["SEX"] for f in small] == ["F"]
    assert small[0].details["respondents"] == 3
    assert {f.code for f in report if "observation" in f.details} == {"small-cell", "secondary-suppression"}
    from cgd_bridge.metadata import QualityMetadata

    out = conform(h, validation.suppression, QualityMetadata(), forced=False).to_pylist()
    hidden = [r for r in out if (r["SEX"], r["DISABILITY_STATUS"]) in suppressed]
    # the SDG DSD 1.5 has no CONF_STATUS: a suppressed cell is OBS_STATUS Q with no value
    assert all(r["OBS_VALUE"] is None and r["OBS_STATUS"] == "Q" and "CONF_STATUS" not in r for r in hidden)
    shown = [r for r in out if (r["SEX"], r["DISABILITY_STATUS"]) not in suppressed]
    assert len(shown) == 5
    assert all(r["OBS_VALUE"] is not None and r["OBS_STATUS"] == "G" for r in shown)
    assert next(r for r in shown if r["SEX"] == "_T" and r["DISABILITY_STATUS"] == "_T")["OBS_VALUE"] == 34


def test_no_suppression_when_every_cell_is_large_enough(tmp_path):
    lines = ["sex,disability"] + [
        f"{s},{d}" for s in ("female", "male") for d in ("yes", "no") for _ in range(6)
    ]
    data = tmp_path / "cells.csv"
    data.write_text("\n".join(lines) + "\n")
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({**BASE, "schema": SCHEMA, "value": {"kind": "count"}}))
    validation = examine(data, mapping=path, options=Options(threshold=5))
    report = validation.report
    assert not any(validation.harmonised.table["SUPPRESSED"].to_pylist())
    assert "small-cell" not in report.codes()


def test_a_microdata_value_without_aggregate_names_the_fix(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({**{k: v for k, v in BASE.items() if k != "aggregate"}, "totals": []}))
    with pytest.raises(MappingError, match=r"the mapping is not valid: value: .*add 'aggregate: \{\}'"):
        load_mapping(path)


def test_computed_totals_of_aggregate_data_protect_a_small_cell(tmp_path):
    """A cell of three respondents in aggregate data without total rows: the computed totals must
    not give it away."""
    small = ROOT / "examples" / "broken" / "small-cell" / "data.csv"
    rows = list(csv.reader(io.StringIO(small.read_text(encoding="utf-8"))))
    data = tmp_path / "finest.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(
            [rows[0], *(r for r in rows[1:] if "Total" not in r[1:4])]
        )
    doc = yaml.safe_load(KENYA_MAPPING.read_text(encoding="utf-8"))
    doc["totals"] = ["SEX", "AGE", "DISABILITY_STATUS"]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    t = examine(data, mapping=path, options=Options(threshold=5)).harmonised.table
    assert t.num_rows == 180
    got = {(r["REF_AREA"], r["SEX"], r["AGE"], r["DISABILITY_STATUS"]): r for r in t.to_pylist()}
    cell = got[("KE_042", "F", "Y18T24", "PD")]
    assert (cell["OBS_DENOMINATOR"], cell["SUPPRESSED"]) == (3, True)
    suppressed = {k for k, r in got.items() if r["SUPPRESSED"]}
    key = ("KE_042", "F", "Y18T24", "PD")
    for dim in (1, 2, 3):  # along each of SEX, AGE, DISABILITY_STATUS its family hides another part
        family = [
            k for k in suppressed if k[dim] != "_T" and all(k[i] == key[i] for i in range(4) if i != dim)
        ]
        assert len(family) >= 2, (dim, family)


@pytest.mark.parametrize(
    "to",
    [
        "sdmx-csv-1.0",
        "sdmx-csv-2.0",
        "sdmx-ml-2.1-ss",
        "sdmx-ml-2.1-generic",
        "sdmx-ml-3.0-ss",
        "sdmx-json-2.0",
    ],
)
def test_every_writer_takes_aggregated_observations(tmp_path, to):
    from cgd_bridge.pipeline import convert

    nepal = ROOT / "examples" / "nepal-youth-survey"
    out = tmp_path / "out"
    result = convert(
        nepal / "data.xlsx", form=nepal / "form.xlsx", metadata=nepal / "quality.yaml",
        mapping=ROOT / "mappings" / "nepal-youth-survey.yaml", to=to, output=out,
    )  # fmt: skip
    assert result.refused is None
    assert result.written == 36
    text = out.read_text(encoding="utf-8")
    assert "SOURCE_ROWS" not in text
    assert "OBS_COUNT" not in text
    assert "Y15T29" in text


def test_periods_drops_and_unmapped_values_in_microdata(write):
    data = write(
        "p.csv",
        "year,sex,disability,services_used,satisfied,rating,weight\n"
        "2023,female,no,health,yes,5,1\n"
        "2024,female,no,health,no,2,1\n"
        "2024,Femme,no,health,yes,2,1\n"
        "2024,male,unknown,health,yes,2,1\n"
        "2024,male,no,health,yes,2,1\n",
    )
    m = spec(
        time={"column": "year", "format": "year"},
        drop=[{"column": "disability", "values": ["unknown"], "reason": "disability not asked"}],
        aggregate=True,
        totals=["SEX"],
    )
    h = apply_mapping(open_table(data), m)
    got = {(r["TIME_PERIOD"], r["SEX"]): (r["OBS_VALUE"], r["SOURCE_ROWS"]) for r in h.table.to_pylist()}
    assert got == {
        ("2023", "F"): (100.0, [2]),
        ("2023", "_T"): (100.0, [2]),  # totals never add up periods
        ("2024", "F"): (0.0, [3]),
        ("2024", "M"): (100.0, [6]),
        ("2024", "_T"): (50.0, [3, 6]),
    }
    assert [(u.value, u.rows) for u in h.unmapped] == [("Femme", [4])]
    assert [(d.reason, d.rows) for d in h.dropped] == [("disability not asked", [5])]


def test_the_count_goes_into_an_attribute_only_when_asked(survey):
    h = apply_mapping(open_table(survey), spec(aggregate={"count_attribute": "COMMENT_OBS"}))
    assert "COMMENT_OBS" in h.attributes
    assert cells(h)[("_T", "_T")]["COMMENT_OBS"] == "7"
    plain = apply_mapping(open_table(survey), spec())
    assert "COMMENT_OBS" not in plain.table.column_names


def test_no_respondent_left_gives_no_observation(write, tmp_path):
    data = write("e.csv", "sex,disability,services_used,satisfied\nfemale,no,water,\n")
    h = apply_mapping(open_table(data), spec())
    assert h.table.num_rows == 0
    assert {"OBS_VALUE", "OBS_COUNT", "SOURCE_ROWS"} <= set(h.table.column_names)
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({**BASE, "schema": SCHEMA}))
    assert examine(data, mapping=path).harmonised.table.num_rows == 0


def test_totals_of_a_plain_value_column_are_refused():
    with pytest.raises(ValueError, match="kind count or proportion"):
        Mapping.model_validate(
            {
                **{k: v for k, v in BASE.items() if k != "aggregate"},
                "value": {"kind": "column", "column": "x"},
            }
        )
