"""TIME_PERIOD, the measure and the columns a draft used for nothing, chosen in a review or on
the web builder's page (#18): taken as given when the data can give them, named when it cannot
(:func:`time_problems`, :func:`measure_problems`), never a failed draft.

The export is a Bangladeshi youth group's survey of clinic visitors (made up, one row per
respondent, its own column names and a Bangla gender column the draft does not recognise).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.cli_review import parse, review, show
from cgd_bridge.mapping.draft import (
    CONFIDENT,
    MEASURE,
    TIME,
    Candidate,
    Decisions,
    Draft,
    Question,
    choice_of,
    draft_mapping,
    measure_problems,
    spec_of,
    time_problems,
)
from cgd_bridge.structures import Structures

FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load(None)


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "bangladesh-clinic-voices.csv"
    rows = ["upazila,lingo,satisfied,used_service,wait_minutes"]
    for i in range(48):
        gender = ("মহিলা", "পুরুষ")[i % 2]
        rows.append(
            f"Upazila {i % 3},{gender},{('yes', 'no')[i % 3 == 0]},{('yes', 'no')[i % 4 == 0]},{10 + i}"
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_microdata_measure_chosen_becomes_where_and_of(tmp_path: Path, structures: Structures) -> None:
    data = _export(tmp_path)
    alone = draft_mapping(data, dataflow=FLOW, structures=structures)
    assert alone.microdata
    assert alone.mapping["value"]["kind"] == "count"
    spec = {"kind": "proportion", "column": "satisfied", "answer": "yes", "denominator": "used_service"}
    d = draft_mapping(data, dataflow=FLOW, structures=structures, decisions=Decisions(value=spec))
    assert d.mapping["value"] == {
        "kind": "proportion",
        "where": {"satisfied": ["yes"]},
        "of": {"used_service": {"answered": True}},
        "scale": 100,
        "decimals": 1,
    }
    assert d.mapping["attributes"]["UNIT_MEASURE"] == {"value": "PT"}
    assert d.measure() == spec
    d.model()  # the mapping model reads it
    assert "chosen in the review" in d.to_yaml()
    chosen = Decisions(value={"kind": "median", "column": "wait_minutes"})
    median = draft_mapping(data, dataflow=FLOW, structures=structures, decisions=chosen)
    assert median.mapping["value"] == {"kind": "median", "column": "wait_minutes", "decimals": 1}
    median.model()


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"kind": "ratio"}, ("kind", "unknown-kind", "ratio")),
        ({"kind": "column", "column": "wait_minutes"}, ("kind", "unknown-kind", "column")),  # microdata
        ({"kind": "mean", "column": "lingo"}, ("column", "not-numeric", "lingo")),
        ({"kind": "median"}, ("column", "needs-column", "")),
        ({"kind": "proportion", "column": "satisfied"}, ("answer", "needs-answer", "satisfied")),
        (
            {"kind": "proportion", "column": "satisfied", "answer": "maybe"},
            ("answer", "unknown-answer", "maybe"),
        ),
        ({"kind": "count", "denominator": "nope"}, ("denominator", "no-column", "nope")),
        ({"kind": "mean", "column": "no such column"}, ("column", "no-column", "no such column")),
    ],
)
def test_a_measure_the_data_cannot_give_is_named_and_the_draft_keeps_its_own(
    tmp_path: Path, structures: Structures, spec: dict[str, str], problem: tuple[str, str, str]
) -> None:
    data = _export(tmp_path)
    alone = draft_mapping(data, dataflow=FLOW, structures=structures)
    got = measure_problems(spec, microdata=True, columns=alone.data_columns, numeric=alone.numeric_columns,
                           answers=alone.answers)  # fmt: skip
    assert got[0] == problem
    d = draft_mapping(data, dataflow=FLOW, structures=structures, decisions=Decisions(value=spec))
    assert d.mapping["value"] == alone.mapping["value"]


def test_aggregate_kinds_and_a_denominator_that_is_no_number() -> None:
    columns, numeric = ["district", "asked", "satisfied"], ["asked", "satisfied"]
    ok = {"kind": "proportion", "column": "satisfied", "denominator": "asked"}
    assert measure_problems(ok, microdata=False, columns=columns, numeric=numeric, answers={}) == []
    bad = {**ok, "denominator": "district"}
    assert measure_problems(bad, microdata=False, columns=columns, numeric=numeric, answers={}) == [
        ("denominator", "not-numeric", "district")
    ]
    assert measure_problems({"kind": "median", "column": "asked"}, microdata=False, columns=columns,
                            numeric=numeric, answers={})[0][1] == "unknown-kind"  # fmt: skip


def test_time_chosen_and_time_that_does_not_fit(tmp_path: Path, structures: Structures) -> None:
    data = _export(tmp_path)
    alone = draft_mapping(data, dataflow=FLOW, structures=structures)
    assert alone.mapping["time"] == {"value": "CONFIRM"}
    assert alone.other_choice(TIME).confidence == 0.0
    for value, freq in (("2025", "A"), ("2025-03", "M"), ("2025-Q2", "Q")):
        d = draft_mapping(
            data, dataflow=FLOW, structures=structures, decisions=Decisions(time={"value": value})
        )
        assert d.mapping["time"] == {"value": value}
        assert d.mapping["dimensions"]["FREQ"] == {"value": freq}
    assert time_problems({"value": "last year"}, alone.data_columns) == [
        ("value", "not-a-period", "last year")
    ]
    assert time_problems({"column": "x", "format": "weekly"}, ["y"]) == [
        ("column", "no-column", "x"), ("format", "unknown-format", "weekly")]  # fmt: skip
    d = draft_mapping(
        data, dataflow=FLOW, structures=structures, decisions=Decisions(time={"column": "nope"})
    )
    assert d.mapping["time"] == {"value": "CONFIRM"}


def test_every_column_read_for_nothing_is_offered_with_the_dimensions_left(
    tmp_path: Path, structures: Structures
) -> None:
    d = draft_mapping(_export(tmp_path), dataflow=FLOW, structures=structures)
    unused = {q.column: q for q in d.unused}
    assert {"lingo", "satisfied", "used_service", "wait_minutes"} <= set(unused)
    with_column = {k for k, v in d.mapping["dimensions"].items() if "column" in v}
    for q in unused.values():
        offered = {c.choice.split(":", 1)[1] for c in q.candidates}
        assert not offered & with_column
        assert offered <= set(d.mapping["dimensions"])
    # placing 'lingo' as SEX re-drafts SEX's labels from it
    placed = draft_mapping(_export(tmp_path), dataflow=FLOW, structures=structures,
                           decisions=Decisions(columns={"SEX": "column:lingo"}))  # fmt: skip
    assert placed.mapping["dimensions"]["SEX"]["column"] == "lingo"
    assert {q.label for q in placed.labels if q.dimension == "SEX"} == {"মহিলা", "পুরুষ"}
    assert "lingo" not in {q.column for q in placed.unused}


def test_the_terminal_review_asks_time_and_the_measure(tmp_path: Path, structures: Structures) -> None:
    data = _export(tmp_path)

    def redraft(decisions: Decisions) -> Draft:
        return draft_mapping(data, dataflow=FLOW, structures=structures, decisions=decisions)

    asked: list[str] = []
    screens: list[str] = []

    def ask(q: Question, candidates: list[Candidate], n: int, of: int) -> str:
        asked.append(q.dimension or f"column {q.column}")
        screens.append(show(q, candidates, n, of))
        if q.dimension == TIME:
            return "2024"  # one period for every row
        if q.dimension == MEASURE:
            names = [c.name for c in candidates]
            return str(names.index("share answering 'yes' to 'satisfied' among all respondents, %") + 1)
        return "s"

    final = review(redraft, ask, lambda line: None)
    assert TIME in asked
    assert MEASURE in asked
    assert any("OBS_VALUE: which measure?" in s and "the number of respondents" in s for s in screens)
    assert final.mapping["time"] == {"value": "2024"}
    assert final.mapping["value"]["where"] == {"satisfied": ["yes"]}


def test_a_typed_time_answer_is_a_period_or_a_column() -> None:
    q = Question(TIME, None, None, None, 0.0, "none", [], {})
    assert spec_of(str(parse(q, "2024-Q3", [], ["year"]))) == {"value": "2024-Q3"}
    assert parse(q, "year", [], ["year"]) == choice_of(TIME, {"column": "year", "format": "year"})


def test_a_total_for_every_row_is_in_doubt_when_a_column_is_named_like_the_dimension(
    tmp_path: Path, structures: Structures
) -> None:
    """The Malawian export's gender and disability columns hold Chichewa labels no codelist
    carries, so neither column is taken; the draft then gives SEX and DISABILITY_STATUS their
    total for every row, which would merge the groups. That guess must not look sure: it is
    listed to confirm, naming the column."""
    from tests.support import malawi

    drafted = draft_mapping(malawi.write_export(tmp_path), dataflow=malawi.FLOW, structures=structures)
    guesses = {g.what: g for g in drafted.guesses}
    for dim, column in (("SEX", "Gender (Mtundu)"), ("DISABILITY_STATUS", "Disability (Ulumali)")):
        assert guesses[dim].choice == "_T"
        assert guesses[dim].confidence < CONFIDENT, guesses[dim]
        assert column in guesses[dim].why
        assert guesses[dim] in drafted.uncertain()
    # a dimension no column is named like keeps its sure total
    assert guesses["URBANISATION"].confidence >= CONFIDENT
