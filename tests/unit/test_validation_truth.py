"""Validation is the truth conversion acts on (#13, part 4).

- The cell checks speak of the cells the mapping produces (after its drops and aggregation):
  every cell a disclosure finding names is an observation of the harmonised data, and each is
  named once, at every threshold from 3 to 10.
- The suppression the report announces is exactly the one ``convert`` writes and the server
  publishes, for every bundled example and every data format (tests/unit/server/
  test_suppression_truth.py, which needs the server).
- Without ``--mapping``, only declared breakdowns are dimensions: an integer column of a Kobo
  export (single-year age) is no breakdown.
- Without metadata, the report says the data cannot be submitted yet, and why, in text, JSON
  and HTML.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cgd_bridge.checks import Options
from cgd_bridge.findings import Report
from cgd_bridge.pipeline import Validation, examine
from cgd_bridge.render import render_html, render_json, render_text
from cgd_bridge.structures import Structures
from tests.support.paths import ROOT

EXAMPLES: dict[str, dict[str, Path | None]] = {
    "kenya": {
        "data": ROOT / "examples" / "kenya-health-scorecard" / "data.csv",
        "form": None,
        "metadata": ROOT / "examples" / "kenya-health-scorecard" / "quality.yaml",
        "mapping": ROOT / "mappings" / "kenya-health-scorecard.yaml",
    },
    "nepal": {
        "data": ROOT / "examples" / "nepal-youth-survey" / "data.xlsx",
        "form": ROOT / "examples" / "nepal-youth-survey" / "form.xlsx",
        "metadata": ROOT / "examples" / "nepal-youth-survey" / "quality.yaml",
        "mapping": ROOT / "mappings" / "nepal-youth-survey.yaml",
    },
}
#: the bundled structures, read once for every run here
STRUCTURES = Structures()
#: the findings that announce a suppressed cell
CELL_CODES = ("small-cell", "small-complement", "group-disclosure", "secondary-suppression")
TIME = "TIME_PERIOD"


def observation_keys(v: Validation) -> tuple[list[str], dict[int, tuple[str, ...]], set[tuple[str, ...]]]:
    """The harmonised data's key columns, each source row's observation key (aggregate data:
    one row, one observation) and every observation key."""
    assert v.harmonised is not None
    t: pa.Table = v.harmonised.table
    columns = [*v.harmonised.dimensions, TIME]
    keys = [tuple(str(r[c]) for c in columns) for r in t.select(columns).to_pylist()]
    by_row: dict[int, tuple[str, ...]] = {}
    if not v.harmonised.aggregated:
        by_row = {int(r): k for r, k in zip(t["SOURCE_ROW"].to_pylist(), keys, strict=True) if r is not None}
    return columns, by_row, set(keys)


def announced(v: Validation) -> Counter[tuple[str, ...]]:
    """How often the report names each observation as one it will suppress.

    A finding names an observation by its key (``details.observation``) or, for aggregate
    data, by its source row; a cell that is neither (a combination of source columns the
    mapping does not publish) fails the test: the report would announce what nobody writes.
    """
    columns, by_row, _ = observation_keys(v)
    found: Counter[tuple[str, ...]] = Counter()
    for f in v.report.findings:
        if f.code not in CELL_CODES:
            continue
        obs = (f.details or {}).get("observation")
        if isinstance(obs, dict):
            found[tuple(str(obs[c]) for c in columns)] += 1
        elif f.row is not None and f.row in by_row:
            found[by_row[f.row]] += 1
        else:
            raise AssertionError(f"{f.code} names a cell the mapping does not produce: {f.problem}")
    return found


def announced_count(report: Report) -> int:
    """How many cells the report says it will suppress (counted exactly; only the first few of
    each code are kept as findings)."""
    return sum(n for (code, _, _), n in report.counts.items() if code in CELL_CODES)


def marked(v: Validation) -> set[tuple[str, ...]]:
    """The observations conversion will suppress: the harmonised data's ``SUPPRESSED`` column,
    else the source rows of the cell checks' suppression (what ``conform`` reads)."""
    assert v.harmonised is not None
    columns, by_row, _ = observation_keys(v)
    t = v.harmonised.table
    out: set[tuple[str, ...]] = set()
    if "SUPPRESSED" in t.column_names:
        rows = t.select(columns).to_pylist()
        out = {
            tuple(str(r[c]) for c in columns)
            for r, s in zip(rows, t["SUPPRESSED"].to_pylist(), strict=True)
            if s
        }
    elif v.suppression is not None:
        out = {by_row[int(r)] for r in v.suppression.rows if int(r) in by_row}
    return out


@pytest.mark.parametrize("k", range(3, 11))
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_small_cell_is_reported_once_and_is_a_published_cell(name: str, k: int) -> None:
    """Each cell the report names is an observation conversion produces, named by one finding;
    the report counts exactly as many cells as conversion will suppress."""
    ex = EXAMPLES[name]
    assert ex["data"] is not None
    opts = Options(threshold=k)
    v = examine(ex["data"], mapping=ex["mapping"], form=ex["form"], options=opts, structures=STRUCTURES)
    found = announced(v)
    twice = {key: n for key, n in found.items() if n > 1}
    assert not twice, f"threshold {k}: cells reported more than once: {twice}"
    suppressed = marked(v)
    assert set(found) <= suppressed, sorted(set(found) - suppressed)[:3]
    assert announced_count(v.report) == len(suppressed), v.report.flatten("code", "row")[:20]
    for f in v.report.findings:  # each names what reveals what, in plain words
        if f.code in CELL_CODES:
            assert "?" not in f.problem, f.problem
            assert "the suppressed the" not in f.problem, f.problem


@pytest.mark.parametrize("k", [8])
def test_rows_the_mapping_drops_are_not_cells(tmp_path: Path, k: int) -> None:
    """Aggregate data whose mapping drops a county (a ``drop`` rule): the rows it drops are not
    published, so the report names none of them and counts exactly the cells conversion
    suppresses among those it publishes."""
    ex = EXAMPLES["kenya"]
    assert ex["data"] is not None
    assert ex["mapping"] is not None
    text = ex["mapping"].read_text(encoding="utf-8")
    text += '\ndrop:\n  - {column: county, values: [Kisumu], reason: "published by the county itself"}\n'
    mapping = tmp_path / "kenya-without-kisumu.yaml"
    mapping.write_text(text, encoding="utf-8")
    v = examine(ex["data"], mapping=mapping, options=Options(threshold=k), structures=STRUCTURES)
    assert v.harmonised is not None
    assert [d.count for d in v.harmonised.dropped] == [45]
    found = announced(v)  # fails on a finding about a dropped row
    assert not {key: n for key, n in found.items() if n > 1}
    suppressed = marked(v)
    assert set(found) <= suppressed
    assert announced_count(v.report) == len(suppressed)


# -- without metadata -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_metadata() -> Report:
    ex = EXAMPLES["kenya"]
    assert ex["data"] is not None
    return examine(ex["data"], mapping=ex["mapping"], structures=STRUCTURES).report


def test_without_metadata_the_text_report_says_it_cannot_be_submitted(no_metadata: Report) -> None:
    text = render_text(no_metadata)
    assert "can be submitted" not in text.replace("cannot be submitted", "")
    assert "cannot be submitted yet" in text
    assert "no quality metadata" in text
    assert "--metadata" in text


def test_without_metadata_the_json_report_says_it_cannot_be_submitted(no_metadata: Report) -> None:
    doc: dict[str, Any] = json.loads(render_json(no_metadata))
    assert doc["valid"] is True  # no error: only the metadata is missing
    assert doc["cgd:submittable"] is False
    [why] = doc["cgd:not_submittable_because"]
    assert "no quality metadata" in why
    assert "--metadata" in why


def test_without_metadata_the_html_report_says_it_cannot_be_submitted(no_metadata: Report) -> None:
    html = render_html(no_metadata)
    assert "cannot be submitted yet" in html
    assert "no quality metadata" in html


# -- without a mapping: only declared breakdowns -------------------------------------------------


def test_with_only_the_form_an_integer_age_is_no_breakdown() -> None:
    """The Nepal example is a KoboToolbox export whose form asks the age in completed years (an
    integer question, 15 values) beside the age group (select_one). Validated with its form and
    no mapping, the breakdowns are the form's select_one questions: the single-year age would
    split every cell fifteen ways and flood the report with hundreds of small cells."""
    ex = EXAMPLES["nepal"]
    assert ex["data"] is not None
    v = examine(ex["data"], form=ex["form"], options=Options(threshold=5))
    schema = v.report.stats["table_schema"]
    roles = {f["name"]: f.get("cgd:role", f.get("role")) for f in schema["fields"]}
    assert roles.get("age") in (None, "other"), roles
    assert roles.get("age_group") == "disaggregation", roles
    cells = [f for f in v.report.findings if f.code in CELL_CODES]
    assert all("age" not in (f.details or {}).get("cell", {}) for f in cells), cells[0].problem
    assert v.report.warning_count < 100, sorted((c, n) for (c, _, _), n in v.report.counts.items())
