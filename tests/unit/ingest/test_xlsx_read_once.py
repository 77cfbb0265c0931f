"""An XLSX sheet is parsed once, into Arrow text columns, however many passes read it (#16).

A Kobo export was parsed three times (the header, the checks, the mapping), each cell through a
Python call. These tests count the workbook parses through a whole validate and compare the
columnar cell text with :func:`cell_text`, the one definition of a cell's text.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cgd_bridge.ingest import open_table
from cgd_bridge.ingest import xlsx as xlsx_mod
from cgd_bridge.ingest.xlsx import cell_text, column_text

NEPAL = Path(__file__).resolve().parents[3] / "examples" / "nepal-youth-survey"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a sheet is read from its workbook (``sheet_rows``)."""
    seen: list[str] = []
    real = xlsx_mod.sheet_rows

    def counting(path: Path, sheet: str | None):  # type: ignore[no-untyped-def]
        seen.append(path.name)
        return real(path, sheet)

    monkeypatch.setattr(xlsx_mod, "sheet_rows", counting)
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
    assert parses.count("data.xlsx") == 1, parses


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
]


@pytest.mark.parametrize("data", SHEET_XML)
def test_the_span_of_referenced_cells_is_the_tag_by_tag_span(data: bytes) -> None:
    """The fast count (every tag has its reference) agrees with counting tag by tag."""
    fast = xlsx_mod._span_with_refs(data)
    assert fast is not None
    span, last = fast
    slow_span, slow_last = xlsx_mod._span_tag_by_tag(data, 5, 5)
    assert span == slow_span
    assert (last or (5, 5)) == slow_last


@pytest.mark.parametrize(
    "data",
    [
        b'<row r="1"><c r="A1"/><c/><c/></row>',  # cells without a reference: after the previous one
        b'<row><c r="B1"/></row><row><c/></row>',  # rows without one
        b'<row r="2"><c t="s" r="A"/></row>',  # a reference without a row number
    ],
)
def test_tags_without_references_are_counted_tag_by_tag(data: bytes) -> None:
    assert xlsx_mod._span_with_refs(data) is None
