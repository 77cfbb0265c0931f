"""Attribute disclosure: small numerators, small complements, whole small groups (#12).

The same survey, a Malawi service-satisfaction survey by urban/rural and sex, is given twice:
as microdata (one row per respondent, aggregated by the mapping) and as the aggregate table a
CSO would compute from it (one row per cell, with the totals). The primary rules must suppress
the same cells in both forms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from cgd_bridge.checks import Options
from cgd_bridge.checks.primary import Limits, Rule, primary_rules
from cgd_bridge.metadata import QualityMetadata
from cgd_bridge.pipeline import conform, examine
from tests.unit.checks.conftest import AGG_SCHEMA

# (urbanisation, sex) -> (respondents, satisfied)
MALAWI = {
    ("urban", "female"): (30, 2),  # 2 of 30 satisfied: the 2 are few (small numerator)
    ("urban", "male"): (40, 38),  # 38 of 40: the 2 who were not are few (small complement)
    ("rural", "female"): (8, 8),  # all 8 satisfied: a small group that all answered the same
    ("rural", "male"): (30, 15),
}

DIMENSIONS: dict[str, Any] = {
    "FREQ": {"value": "A"},
    "REPORTING_TYPE": {"value": "N"},
    "SERIES": {"value": "SP_PSR_SATIS"},
    "REF_AREA": {"value": "454"},
    "SEX": {"column": "sex", "map": {"F": ["female"], "M": ["male"], "_T": ["Total"]}},
    "URBANISATION": {"column": "urbanisation", "map": {"U": ["urban"], "R": ["rural"], "_T": ["Total"]}},
    # the SDG DSD's other dimensions: the survey is not broken down by them (the DSD contract, #13)
    **{
        d: {"value": "_T"}
        for d in (
            "AGE",
            "INCOME_WEALTH_QUANTILE",
            "EDUCATION_LEV",
            "OCCUPATION",
            "CUST_BREAKDOWN",
            "COMPOSITE_BREAKDOWN",
            "DISABILITY_STATUS",
            "ACTIVITY",
            "PRODUCT",
        )
    },
}
DISAGGREGATIONS = [
    {"name": "urbanisation", "type": "string", "role": "disaggregation", "dimension": "URBANISATION"},
    {"name": "sex", "type": "string", "role": "disaggregation", "dimension": "SEX"},
]


def microdata(tmp_path: Path, cells: dict[tuple[str, str], tuple[int, int]]) -> tuple[Path, Path]:
    """One row per respondent, and a mapping computing the share satisfied with every total."""
    lines = ["urbanisation,sex,satisfied"]
    for (urb, sex), (n, yes) in cells.items():
        lines += [f"{urb},{sex},yes"] * yes + [f"{urb},{sex},no"] * (n - yes)
    data = tmp_path / "malawi-microdata.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = {
        "profile": "cgd-mapping/1.0",
        "dataflow": "IAEG-SDGs:DF_SDG_GLH(1.5)",
        "schema": {"dataKind": "microdata", "fields": DISAGGREGATIONS},
        "dimensions": DIMENSIONS,
        "time": {"value": "2024"},
        "aggregate": {"count_attribute": "COMMENT_OBS"},
        "totals": ["SEX", "URBANISATION"],
        "value": {"kind": "proportion", "where": {"satisfied": ["yes"]}, "decimals": 1},
        "attributes": {"UNIT_MEASURE": {"value": "PT"}, "UNIT_MULT": {"value": "0"}},
    }
    path = tmp_path / "malawi-microdata.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return data, path


def aggregate(tmp_path: Path, cells: dict[tuple[str, str], tuple[int, int]]) -> tuple[Path, Path]:
    """The same survey as the table a CSO computes: one row per cell, totals included."""
    full: dict[tuple[str, str], tuple[int, int]] = {}
    for (urb, sex), (n, yes) in cells.items():
        for key in ((urb, sex), (urb, "Total"), ("Total", sex), ("Total", "Total")):
            had = full.get(key, (0, 0))
            full[key] = (had[0] + n, had[1] + yes)
    lines = ["urbanisation,sex,year,respondents,satisfied"]
    lines += [f"{u},{s},2024,{n},{y}" for (u, s), (n, y) in full.items()]
    data = tmp_path / "malawi-aggregate.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fields = [
        *DISAGGREGATIONS,
        {"name": "year", "type": "year", "role": "period"},
        {"name": "respondents", "type": "integer", "role": "denominator"},
        {"name": "satisfied", "type": "integer", "role": "count", "denominator": "respondents"},
    ]
    mapping = {
        "profile": "cgd-mapping/1.0",
        "dataflow": "IAEG-SDGs:DF_SDG_GLH(1.5)",
        "schema": {"dataKind": "aggregate", "fields": fields, "primaryKey": ["urbanisation", "sex", "year"]},
        "dimensions": DIMENSIONS,
        "time": {"column": "year", "format": "year"},
        "value": {
            "kind": "proportion",
            "numerator": "satisfied",
            "denominator": "respondents",
            "decimals": 1,
        },
        "attributes": {"UNIT_MEASURE": {"value": "PT"}, "UNIT_MULT": {"value": "0"}},
    }
    path = tmp_path / "malawi-aggregate.yaml"
    path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return data, path


def suppressed(data: Path, mapping: Path, threshold: int = 5) -> tuple[set[tuple[str, str]], Any]:
    """The (URBANISATION, SEX) keys published without a value, and the validation."""
    v = examine(data, mapping=mapping, options=Options(threshold=threshold))
    assert v.harmonised is not None
    table = conform(v.harmonised, v.suppression, QualityMetadata(), forced=False)
    hidden = {(r["URBANISATION"], r["SEX"]) for r in table.to_pylist() if r["OBS_STATUS"] == "Q"}
    assert all(r["OBS_VALUE"] is None for r in table.to_pylist() if r["OBS_STATUS"] == "Q")
    return hidden, v


def primary(v: Any) -> dict[tuple[str, str], str]:
    """The primary finding of each observation or cell, by (URBANISATION, SEX) code."""
    codes = {"urban": "U", "rural": "R", "Total": "_T"}
    sexes = {"female": "F", "male": "M", "Total": "_T"}
    out = {}
    for f in v.report:
        if f.code not in ("small-cell", "small-complement", "group-disclosure"):
            continue
        if "observation" in f.details:
            obs = f.details["observation"]
            out[(obs["URBANISATION"], obs["SEX"])] = f.code
        elif "cell" in f.details:
            cell = f.details["cell"]
            out[(codes[cell["urbanisation"]], sexes[cell["sex"]])] = f.code
    return out


def finest(tmp_path: Path, cells: dict[tuple[str, str], tuple[int, int]]) -> tuple[Path, Path]:
    """The aggregate table without its total rows, and a mapping that computes them."""
    data, mapping = aggregate(tmp_path, cells)
    lines = data.read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(line for line in lines if "Total" not in line) + "\n", encoding="utf-8")
    doc = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    doc["totals"] = ["SEX", "URBANISATION"]
    for dim in ("SEX", "URBANISATION"):
        del doc["dimensions"][dim]["map"]["_T"]
    mapping.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return data, mapping


def test_the_same_table_as_microdata_and_as_aggregate_is_suppressed_alike(tmp_path):
    micro, _ = suppressed(*microdata(tmp_path, MALAWI))
    agg, _ = suppressed(*aggregate(tmp_path, MALAWI))
    assert {("U", "F"), ("U", "M"), ("R", "F")} <= agg
    assert micro == agg
    (tmp_path / "finest").mkdir()
    computed, v = suppressed(*finest(tmp_path / "finest", MALAWI))
    assert computed == agg
    assert v.harmonised.table.num_rows == 9  # the totals were computed


@pytest.mark.parametrize("form", [microdata, aggregate, finest])
def test_each_rule_names_itself(tmp_path, form):
    _, v = suppressed(*form(tmp_path, MALAWI))
    found = primary(v)
    assert found[("U", "F")] == "small-cell"
    assert found[("U", "M")] == "small-complement"
    assert found[("R", "F")] == "group-disclosure"
    assert ("R", "M") not in found
    texts = {
        f.code: f.problem
        for f in v.report
        if f.code in ("small-cell", "small-complement", "group-disclosure")
    }
    assert "2 of 30" in texts["small-cell"]
    assert "2 of the 40" in texts["small-complement"]
    assert "all 8" in texts["group-disclosure"]


# -- the rules one by one ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "rule"),
    [
        (2, 30, Rule.SMALL_NUMERATOR),  # 2 of 30 satisfied
        (4, 30, Rule.SMALL_NUMERATOR),
        (5, 30, Rule.NONE),  # 5 people are not few at k=5
        (38, 40, Rule.SMALL_COMPLEMENT),  # the 2 who were not satisfied
        (35, 40, Rule.NONE),
        (8, 8, Rule.WHOLE_GROUP),  # everyone in a group of 8
        (0, 8, Rule.WHOLE_GROUP),  # no one in a group of 8
        (0, 9, Rule.WHOLE_GROUP),
        (10, 10, Rule.NONE),  # a group of 10 is not smaller than 2k
        (0, 10, Rule.NONE),
        (0, 400, Rule.NONE),
        (3, 3, Rule.SMALL_COUNT),  # a group of 3: the count rule comes first
        (0, 0, Rule.NONE),  # nobody: nothing to reveal
        (float("nan"), 30, Rule.NONE),  # a numerator not given: only the denominator is tested
    ],
)
def test_each_primary_rule_at_threshold_5(numerator, denominator, rule):
    got = primary_rules(Limits(5, 10), [], [(np.array([numerator], float), np.array([denominator], float))])
    assert got.tolist() == [rule]


def test_the_threshold_and_group_size_move_the_rules():
    num, den = np.array([2.0, 38.0, 8.0, 12.0]), np.array([30.0, 40.0, 8.0, 12.0])
    assert primary_rules(Limits(3, 6), [den], [(num, den)]).tolist() == [2, 3, 0, 0]
    assert primary_rules(Limits(5, 20), [den], [(num, den)]).tolist() == [2, 3, 4, 4]
    assert Limits.of(5).group_size == 10
    assert Limits.of(5, 3).group_size == 5  # a group size below the threshold is the threshold


# -- microdata with weights, and a group of 4 ------------------------------------------------------


def test_weights_do_not_hide_a_small_numerator(tmp_path):
    """A Bangladesh survey weighted to the population: 2 respondents weigh 3,000 people, but they
    are still 2 people who can be recognised."""
    lines = ["urbanisation,sex,satisfied,weight"]
    for (urb, sex), (n, yes) in MALAWI.items():
        lines += [f"{urb},{sex},yes,1500"] * yes + [f"{urb},{sex},no,1500"] * (n - yes)
    data = tmp_path / "bangladesh.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, mapping = microdata(tmp_path, MALAWI)
    doc = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    doc["aggregate"]["weight"] = "weight"
    doc["dimensions"]["REF_AREA"] = {"value": "050"}
    doc["schema"]["fields"].append({"name": "weight", "type": "number"})
    mapping.write_text(yaml.safe_dump(doc), encoding="utf-8")
    hidden, v = suppressed(data, mapping)
    assert {("U", "F"), ("U", "M"), ("R", "F")} <= hidden
    obs = {(r["URBANISATION"], r["SEX"]): r for r in v.harmonised.table.to_pylist()}
    assert obs[("U", "F")]["OBS_NUMERATOR"] == 3000  # weighted
    assert obs[("U", "F")]["OBS_NUMERATOR_COUNT"] == 2  # people
    assert primary(v)[("U", "F")] == "small-cell"


def test_a_group_of_four_who_all_said_yes(tmp_path):
    """Kenya, a county ward where 4 women with disabilities all said yes: at threshold 5 the 4
    are too few to publish; at 3 (allowed by the MoU) the 4 are enough, but 100 % of them is not."""
    cells = {("urban", "female"): (4, 4), ("urban", "male"): (30, 15),
             ("rural", "female"): (30, 16), ("rural", "male"): (30, 14)}  # fmt: skip
    for form in (microdata, aggregate):
        folder = tmp_path / form.__name__
        folder.mkdir()
        _, at5 = suppressed(*form(folder, cells), threshold=5)
        assert primary(at5)[("U", "F")] == "small-cell"
        _, at3 = suppressed(*form(folder, cells), threshold=3)
        assert primary(at3)[("U", "F")] == "group-disclosure"
        assert "all 4" in next(f.problem for f in at3.report if f.code == "group-disclosure")


# -- the threshold floor ---------------------------------------------------------------------------

THRESHOLD = "privacy.disclosure_control.threshold"
HEAD = "county,sex,year,respondents,satisfied\n"
KISUMU = "Kisumu,Female,2024,2,1\nKisumu,Male,2024,30,20\nKisumu,Total,2024,32,21\n"


@pytest.mark.parametrize("k", [1, 2])
def test_a_threshold_below_3_is_refused_and_3_applied(run, k):
    r = run(HEAD + KISUMU, schema=AGG_SCHEMA, meta={THRESHOLD: k})
    f = next(f for f in r if f.code == "threshold-too-low")
    assert f.severity.value == "error"
    assert not r.valid
    assert f.field == THRESHOLD
    assert f.target == "metadata"
    assert f.line is not None
    assert f"is {k}" in f.problem
    assert "applies 3" in f.problem
    assert "Set privacy.disclosure_control.threshold to 5" in f.fix
    assert r.stats["threshold"] == 3
    assert r.stats["threshold_source"] == THRESHOLD
    # the cell of 2 respondents is suppressed all the same
    assert [f.row for f in r if f.code == "small-cell"] == [2]


def test_a_run_option_below_3_is_refused_too(run):
    r = run(HEAD + KISUMU, schema=AGG_SCHEMA, metadata=False, threshold=1)
    f = next(f for f in r if f.code == "threshold-too-low")
    assert "--threshold" in f.fix
    assert r.stats["threshold"] == 3
    assert r.stats["threshold_source"] == "--threshold"


@pytest.mark.parametrize("k", [3, 4])
def test_a_threshold_of_3_or_4_is_a_warning(run, k):
    r = run(HEAD + KISUMU, schema=AGG_SCHEMA, meta={THRESHOLD: k})
    f = next(f for f in r if f.code == "threshold-low")
    assert f.severity.value == "warning"
    assert "at least 5" in f.problem
    assert "MoU" in f.fix
    assert "threshold-too-low" not in r.codes()
    assert r.stats["threshold"] == k
    assert r.stats["group_size"] == 2 * k


def test_a_threshold_of_5_says_nothing(run):
    r = run(HEAD + KISUMU, schema=AGG_SCHEMA, meta={THRESHOLD: 5})
    assert not {"threshold-low", "threshold-too-low"} & r.codes()
    r = run(HEAD + KISUMU, schema=AGG_SCHEMA, metadata=False)
    assert r.stats["threshold_source"] == "default"


def test_the_group_size_comes_from_the_metadata(run):
    body = "Kisumu,Female,2024,12,12\nKisumu,Male,2024,30,20\nKisumu,Total,2024,42,32\n"
    assert "group-disclosure" not in run(HEAD + body, schema=AGG_SCHEMA).codes()
    r = run(HEAD + body, schema=AGG_SCHEMA, meta={"privacy.disclosure_control.group_size": 20})
    assert [f.row for f in r if f.code == "group-disclosure"] == [2]
    assert r.stats["group_size"] == 20


def test_every_report_states_the_threshold(run):
    from cgd_bridge.render import render_html, render_json, render_text
    from cgd_bridge.server.web.views import group_report

    r = run(HEAD + KISUMU, schema=AGG_SCHEMA, meta={THRESHOLD: 4})
    sentence = f"Disclosure control: threshold 4 (from {THRESHOLD})"
    assert sentence in render_text(r)
    assert sentence in render_html(r)
    stats = json.loads(render_json(r))["cgd:stats"]
    assert (stats["threshold"], stats["threshold_source"], stats["group_size"]) == (4, THRESHOLD, 8)
    assert group_report(r.to_dict()).disclosure == {
        "threshold": 4, "threshold_source": THRESHOLD, "group_size": 8
    }  # fmt: skip


# -- a percentage published beside its denominator ---------------------------------------------------

PCT_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "district", "type": "string", "role": "area"},
        {"name": "sex", "type": "string", "role": "disaggregation", "dimension": "SEX",
         "constraints": {"enum": ["Female", "Male", "Total"]}},
        {"name": "year", "type": "year", "role": "period"},
        {"name": "respondents", "type": "integer", "role": "denominator"},
        {"name": "pct_satisfied", "type": "number", "role": "value", "denominator": "respondents"},
    ],
    "primaryKey": ["district", "sex", "year"],
}  # fmt: skip


def test_a_percentage_with_its_denominator_gets_every_rule(run):
    """A Vietnam CSO publishes only the share satisfied and the respondents: 6.7 % of 30 is 2
    people, 95 % of 40 leaves 2, 100 % of 8 is everyone."""
    body = (
        "district,sex,year,respondents,pct_satisfied\n"
        "Ha Giang,Female,2024,30,6.7\nHa Giang,Male,2024,40,95\nHa Giang,Total,2024,70,57.1\n"
        "Lao Cai,Female,2024,8,100\nLao Cai,Male,2024,30,50\nLao Cai,Total,2024,38,60.5\n"
        "Son La,Female,2024,30,40\nSon La,Male,2024,30,60\nSon La,Total,2024,60,50\n"
    )
    r = run(body, schema=PCT_SCHEMA, metadata=False)
    rows = {f.code: [g.row for g in r if g.code == f.code] for f in r}
    assert rows["small-cell"] == [2]
    assert rows["small-complement"] == [3]
    assert rows["group-disclosure"] == [5]
    f = next(f for f in r if f.code == "small-cell")
    assert "2 of 30" in f.problem
    assert "pct_satisfied" in f.problem
    # a percentage without a declared denominator cannot be read: only the counts are tested
    plain = {
        **PCT_SCHEMA,
        "fields": [{k: v for k, v in fd.items() if k != "denominator"} for fd in PCT_SCHEMA["fields"]],
    }
    r = run(body, schema=plain, metadata=False)
    assert not {"small-cell", "small-complement", "group-disclosure"} & r.codes()
