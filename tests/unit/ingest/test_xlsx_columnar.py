"""The columnar reading of a sheet gives exactly the text of the reading by rows (#16).

The columnar reader (fastexcel: typed Arrow columns, no Python object per cell) is taken only
when it gives what :func:`~cgd_bridge.ingest.xlsx.cell_text` writes of every cell; otherwise
the sheet is read by rows (python-calamine). Each workbook below is read both ways: where the
columnar reader answers, its column names and every cell's text are those of the rows; the
sheets a Kobo export is made of must take the columnar way, and the sheets it cannot read
exactly must not.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cgd_bridge.errors import InputError
from cgd_bridge.ingest import open_table
from cgd_bridge.ingest import xlsx as xlsx_mod
from cgd_bridge.ingest.xlsx_guard import inspect

NEPAL = Path(__file__).resolve().parents[3] / "examples" / "nepal-youth-survey"


def both(path: Path, sheet: str | None = None) -> tuple[object, tuple[str, list[str], pa.Table]]:
    """The columnar reading (None when it declines) and the reading by rows."""
    columnar = xlsx_mod._columnar(path, sheet, inspect(path, sheet))
    return columnar, xlsx_mod._by_rows(path, sheet)


def assert_same(path: Path, *, columnar: bool) -> None:
    fast, rows = both(path)
    assert (fast is not None) == columnar, fast
    if fast is not None:
        assert isinstance(fast, tuple)
        assert fast[0] == rows[0]
        assert fast[1] == rows[1]
        assert fast[2].to_pydict() == rows[2].to_pydict()


NUMBERS = [
    0.0, -0.0, 1.0, -3.0, 2.5, -0.125, 0.1, 0.30000000000000004, 1 / 3, 27.7172453, 85.32396011,
    1e-4, 1.5e-7, 1e-10, 123456789.123, 999999999.5, 2267869308013.946, 1e14, 999999999999999.0,
    1e15, 1e16, 1e22, 318204521.0, 5e-324, 1.7976931348623157e308,
]  # fmt: skip


def test_a_kobo_like_sheet_is_read_columnar_and_reads_the_same(xlsx: Callable[..., Path]) -> None:
    rows: list[list[object]] = [["district", "age", "score", "when", "consent", "note", "empty"]]
    start = dt.datetime(2024, 9, 2, 6, 29, 4)
    for i, n in enumerate(NUMBERS):
        when = start + dt.timedelta(days=i, milliseconds=i)
        rows.append([f"District {i % 3}", float(i), n, when, i % 2 == 0, None if i % 4 else " padded ", None])
    rows.append([None] * 7)  # blank rows after the data are not data
    assert_same(xlsx("kobo.xlsx", {"data": rows}), columnar=True)


def test_dates_at_midnight_and_whole_days(xlsx: Callable[..., Path]) -> None:
    days = [dt.datetime(2024, 1, 2), dt.date(2024, 2, 29), dt.datetime(9999, 12, 31, 23, 59, 59)]
    assert_same(xlsx("d.xlsx", {"s": [["day"], *([d] for d in days)]}), columnar=True)


def test_random_numbers_read_the_same(xlsx: Callable[..., Path]) -> None:
    rng = np.random.default_rng(16)
    values = (rng.uniform(-1, 1, 3000) * 10.0 ** rng.integers(-12, 20, 3000)).tolist()
    values += np.round(rng.uniform(0, 1000, 1000), 2).tolist()
    assert_same(xlsx("n.xlsx", {"s": [["x"], *([v] for v in values)]}), columnar=True)


def test_the_nepal_export_is_read_columnar() -> None:
    assert_same(NEPAL / "data.xlsx", columnar=True)


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("mixed text and numbers", [["value"], [1.0], ["n/a"], [2.5]]),
        ("a null word in a number column", [["value"], [1.0], ["NA"], [2.5]]),
        ("NaN as text in a number column", [["value"], [1.0], ["NaN"]]),
        ("an error cell", [["value"], [1.0], ["#N/A"]]),
        ("repeated names", [["a", "a"], [1, 2]]),
        ("a name that may be a renamed repeat", [["a", "a_1"], [1, 2]]),
        ("a blank name among the names", [["a", None, "c"], [1, 2, 3]]),
        ("data wider than the names", [["a"], [1, 2]]),
        ("a number name written otherwise", [[1e16, "b"], [1, 2]]),
        ("a date as a name", [[dt.date(2024, 1, 1), "b"], [1, 2]]),
        ("times of day", [["t"], [dt.time(6, 30)], [dt.time(18, 0, 1)]]),
        ("durations", [["d"], [dt.timedelta(hours=5)]]),
        ("dates before 1904", [["d"], [dt.datetime(1900, 3, 1, 12, 0)]]),
        ("an empty sheet", []),
        ("a blank first row only", [[None, None]]),
    ],
)
def test_sheets_read_by_rows_read_as_before(
    xlsx: Callable[..., Path], name: str, rows: list[list[object]]
) -> None:
    """The columnar reader declines; the reading by rows gives the text of before (or, for an
    empty sheet, its message)."""
    path = xlsx("odd.xlsx", {"s": rows})
    assert xlsx_mod._columnar(path, None, inspect(path, None)) is None, name
    if any(any(v is not None for v in r) for r in rows[:1]):
        xlsx_mod._by_rows(path, None)
    else:
        with pytest.raises(InputError, match="empty or its first row"):
            xlsx_mod._by_rows(path, None)


def test_a_number_header_written_alike_is_read_columnar(xlsx: Callable[..., Path]) -> None:
    """Wide tables have years as column names: 2019.0 reads "2019" both ways."""
    assert_same(xlsx("wide.xlsx", {"s": [["area", 2019, 2020, 2.5], ["a", 1, 2, 3]]}), columnar=True)


def test_an_iso_date_cell_sends_the_sheet_by_rows(tmp_path: Path, xlsx: Callable[..., Path]) -> None:
    """A cell of type ``d`` (ISO 8601 text) keeps its microseconds by rows, not columnar."""
    import zipfile

    good = xlsx("g.xlsx", {"s": [["when"], [dt.datetime(2024, 1, 2, 3, 4, 5)]]})
    path = tmp_path / "iso.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                start = data.index(b'<c r="A2"')
                end = data.index(b"</c>", start) + 4
                data = data[:start] + b'<c r="A2" t="d"><v>2024-01-02T03:04:05.123456</v></c>' + data[end:]
            dst.writestr(item, data)
    fast, rows = both(path)
    assert fast is None
    assert rows[2].column(0).to_pylist() == ["2024-01-02T03:04:05.123456"]


def test_open_table_gives_the_same_batches_either_way(xlsx: Callable[..., Path], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = xlsx("t.xlsx", {"s": [["a", "b"], [1, " x "], [2.5, None], [None, None], [3, "y"], [None, None]]})
    columnar = [b.to_pydict() for b in open_table(path).batches(2)]
    monkeypatch.setattr(xlsx_mod, "_columnar", lambda *_: None)
    by_rows = [b.to_pydict() for b in open_table(path).batches(2)]
    assert columnar == by_rows
    assert columnar == [{"c0": ["1", "2.5"], "c1": ["x", None]}, {"c0": [None, "3"], "c1": [None, "y"]}]


def test_float_text_matches_repr_and_whole_numbers() -> None:
    values = [*NUMBERS, math.inf, -math.inf, None]
    got = xlsx_mod._float_text(pa.array(values, pa.float64()))
    assert got is not None
    assert got.to_pylist() == [xlsx_mod.cell_text(v) for v in values]
    assert xlsx_mod._float_text(pa.array([1.0, math.nan])) is None


def test_a_column_of_empty_cells_reads_quietly(xlsx: Callable[..., Path], caplog, capfd) -> None:  # type: ignore[no-untyped-def]
    """fastexcel warns of each column it finds no type in; the person running the command is not
    told (the column is read as text, as it should be)."""
    path = xlsx("e.xlsx", {"s": [["a", "b", "c"], ["NA", None, ""], ["n/a", None, ""]]})
    with caplog.at_level("WARNING"):
        assert_same(path, columnar=True)
    assert not [r for r in caplog.records if r.name.startswith("fastexcel")]
    assert "falling back" not in capfd.readouterr().err
