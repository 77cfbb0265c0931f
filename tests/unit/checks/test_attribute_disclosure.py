"""Attribute disclosure: small numerators, small complements, whole small groups (#12).

The same survey, a Malawi service-satisfaction survey by urban/rural and sex, is given twice:
as microdata (one row per respondent, aggregated by the mapping) and as the aggregate table a
CSO would compute from it (one row per cell, with the totals). The primary rules must suppress
the same cells in both forms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cgd_bridge.checks import Options
from cgd_bridge.metadata import QualityMetadata
from cgd_bridge.pipeline import conform, examine

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
        "attributes": {"UNIT_MEASURE": {"value": "PT"}},
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
        "attributes": {"UNIT_MEASURE": {"value": "PT"}},
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


def test_the_same_table_as_microdata_and_as_aggregate_is_suppressed_alike(tmp_path):
    micro, _ = suppressed(*microdata(tmp_path, MALAWI))
    agg, _ = suppressed(*aggregate(tmp_path, MALAWI))
    assert {("U", "F"), ("U", "M"), ("R", "F")} <= agg
    assert micro == agg


@pytest.mark.parametrize("form", [microdata, aggregate])
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
