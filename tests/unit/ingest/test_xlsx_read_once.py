"""An XLSX sheet is parsed once, into Arrow text columns, however many passes read it (#16).

A Kobo export was parsed three times (the header, the checks, the mapping), each cell through a
Python call. These tests count the workbook parses through a whole validate (a Kobo export is
read columnar, by fastexcel, and only so) and compare the columnar cell text with
:func:`cell_text`, the one definition of a cell's text.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cgd_bridge.ingest import open_table, xlsx_guard
from cgd_bridge.ingest import xlsx as xlsx_mod
from cgd_bridge.ingest.xlsx import cell_text, column_text

NEPAL = Path(__file__).resolve().parents[3] / "examples" / "nepal-youth-survey"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a data sheet is parsed from its workbook, by either reader: ``name`` for the
    columnar reading (fastexcel), ``name (rows)`` for the reading by rows (python-calamine)."""
    seen: list[str] = []
    columnar, rows = xlsx_mod._columnar, xlsx_mod._calamine_rows

    def counting_columnar(path: Path, sheet: str | None, facts):  # type: ignore[no-untyped-def]
        read = columnar(path, sheet, facts)
        if facts.member is not None:
            seen.append(path.name if read is not None else f"{path.name} (columnar, given up)")
        return read

    def counting_rows(path: Path, sheet: str | None):  # type: ignore[no-untyped-def]
        seen.append(f"{path.name} (rows)")
        return rows(path, sheet)

    monkeypatch.setattr(xlsx_mod, "_columnar", counting_columnar)
    monkeypatch.setattr(xlsx_mod, "_calamine_rows", counting_rows)
    return seen


def test_every_pass_reads_the_sheet_parsed_once(xlsx, parses: list[str]) -> None:
    path = xlsx("d.xlsx", {"S": [["a", "b"], [1, "x"], [2.5, " y "], [None, None]]})
    table = open_table(path)
    first = [b.to_pydict() for b in table.batches(1)]
    again = [b.to_pydict() for b in table.batches(10)]
    assert parses == ["d.xlsx"]
    assert first == [{"c0": ["1"], "c1": ["x"]}, {"c0": ["2.5"], "c1": ["y"]}]
    assert again == [{"c0": ["1", "2.5"], "c1": ["x", "y"]}]


def test_a_kobo_export_is_parsed_once_by_validate_and_convert(parses: list[str], tmp_path: Path) -> None:
    """The Nepal example (a KoboToolbox XLSX export + XLSForm, microdata aggregated by the
    mapping): the data sheet is read once although the checks and the mapping each read it."""
    from cgd_bridge.pipeline import convert

    data = NEPAL / "data.xlsx"
    out = tmp_path / "out.csv"
    result = convert(
        data,
        metadata=NEPAL / "quality.yaml",
        mapping=NEPAL.parents[1] / "mappings" / "nepal-youth-survey.yaml",
        form=NEPAL / "form.xlsx",
        to="sdmx-csv-2.0",
        output=out,
    )
    assert result.refused is None, result.refused
    assert result.written > 0
    assert [p for p in parses if p.startswith("data.xlsx")] == ["data.xlsx"], parses


CELLS: list[object] = [
    "", "text", " padded ", "0", "007", 0.0, -0.0, 1.0, -3.0, 2.5, -0.125, 1e14, 999999999999999.0,
    1e15, 1e16, 1.5e-7, float("inf"), float("-inf"), float("nan"), 318204521.0,
    True, False, dt.date(2024, 1, 2), dt.datetime(2024, 9, 2, 6, 29, 4), dt.datetime(2024, 1, 2),
    dt.time(6, 30), None,
]  # fmt: skip


@pytest.mark.parametrize(
    "values",
    [
        CELLS,
        [c for c in CELLS if isinstance(c, float | str)],  # a number column with empty cells
        [c for c in CELLS if isinstance(c, str)],  # a text column
        [c for c in CELLS if isinstance(c, float)],
        [],
    ],
    ids=["mixed", "numbers-and-text", "text", "numbers", "empty"],
)
def test_column_text_is_cell_text(values: list[object]) -> None:
    got = column_text(values).to_pylist()
    want = [cell_text(v) for v in values]
    assert got == want


SHEET_XML = [
    b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1"><v>1</v></c></row><row r="2"><c r="B2"/></row>',
    b'<x:row r="7" spans="1:3"><x:c t="s" r="AB7"><x:v>3</x:v></x:c></x:row><x:row r="9"></x:row>',
    b'<row r="3"><c r="XFD3"/></row><row r="1048576"><c r="A1048576"/></row>',
    b'<row r="4"><c r="D4"/><c r="E4"/></row>',  # ends on a cell
    b'<row r="12"/>',  # ends on a row without cells
    b'<row spans="1:2" r="5"><c t="s" r="B5"><v>1</v></c><c r="C5"/></row>',  # r after another attribute
    b"<sheetData></sheetData>",  # no row, no cell
    b'<row r="1"><c r="A1"/><c/><c/></row>',  # cells without a reference: after the previous one
    b'<row><c r="B1"/></row><row><c/></row>',  # rows without one
    b'<row r="2"><c r="A1" r="XFD1048576"><v>1</v></c></row>',  # calamine takes the last r
    b'<row r="2"><c r="A1" x=">" r="XFD9"><v>1</v></c></row>',  # ">" in a quoted value
    b"<row r='2'><c r='XFD9'><v>1</v></c></row>",  # single quotes
    b'<row r="2"><c\nr="XFD9"><v>1</v></c><c\tr = "B3"/></row>',  # white space, not a space
    b'<row r="2"><c r="xfd9"><v>1</v></c></row>',  # lower case, as calamine reads it
    b'<row r="2"><c r="B1000"><v>1</v></c><c r="A2"/></row>',  # a far cell among near ones
]  # fmt: skip


def _measure(data: bytes, fast: bool) -> tuple[int, int]:
    span = xlsx_guard._Span()
    if fast:
        span.block(data)
    else:
        span._tag_by_tag(data)
    return span.rows, span.columns


@pytest.mark.parametrize("data", [d for d in SHEET_XML if b"<c" in d or b":c" in d])
def test_the_fast_measure_is_never_below_the_tag_by_tag_one(data: bytes) -> None:
    """The fast measure (plain tags, bounds guessed from the block's ends; any other form tag by
    tag) gives at least the bounds of measuring every tag."""
    fast, slow = _measure(data, True), _measure(data, False)
    assert fast[0] >= slow[0], (fast, slow)
    assert fast[1] >= slow[1], (fast, slow)


@pytest.mark.parametrize(
    ("data", "rows", "columns"),
    [
        (b'<row r="2"><c r="A1" r="XFD1048576"><v>1</v></c></row>', 1_048_576, 16_384),
        (b'<row r="2"><c r="A1" x=">" r="XFD9"><v>1</v></c></row>', 9, 16_384),
        (b"<row r='2'><c r='XFD9'><v>1</v></c></row>", 9, 16_384),
        (b'<row r="2"><c\nr="XFD9"><v>1</v></c></row>', 9, 16_384),
        (b'<row r="2"><c r="xfd9"><v>1</v></c></row>', 9, 16_384),
        (b'<x-y:row r="2"><x-y:c r="XFD9"><v>1</v></x-y:c></x-y:row>', 9, 16_384),
        (b'<row r="2"><c r="B1000"><v>1</v></c><c r="A2"/></row>', 1000, 2),
        (b'<row r="1"><c r="A1"/></row><row r="2"><c r="B2"/><c/><c/></row>', 2, 4),
    ],
)
def test_cells_written_any_way_calamine_reads_are_measured(data: bytes, rows: int, columns: int) -> None:
    span = xlsx_guard._Span()
    span.block(data)
    assert span.rows >= rows
    assert span.columns >= columns


def test_bounds_patterns_take_exactly_the_smaller_references() -> None:
    """The pattern of references within the bounds: every shorter one, every one up to the bound."""
    import re

    for bound, first, rest, inside, outside in [
        ("200001", "1-9", "0-9", ["1", "99999", "199999", "200001"], ["200002", "300000", "1000000"]),
        ("U", "A-Z", "A-Z", ["A", "T", "U"], ["V", "Z", "AA"]),
        ("AB", "A-Z", "A-Z", ["A", "Z", "AA", "AB"], ["AC", "BA", "ZZ", "AAA"]),
        ("0", "0-9", "0-9", ["0"], ["1", "00"]),
    ]:
        pattern = re.compile(xlsx_guard._at_most(bound, first, rest))
        assert all(pattern.fullmatch(x) for x in inside), bound
        assert not any(pattern.fullmatch(x) for x in outside), bound
