"""XLSX reading: the first sheet or a named one, parsed once into Arrow text columns.

Cells become text the way a person reads them in the sheet (:func:`cell_text`, the one
definition): whole numbers without ``.0``, other numbers as Python writes them, dates as ISO
``YYYY-MM-DD`` (and ``YYYY-MM-DDTHH:MM:SS`` with a time), booleans as ``true``/``false``,
errors and empty cells as empty. The first row (the first with anything in it) holds the column
names; blank rows after the last row with data are not data.

Two readers, one result. The sheet is parsed once, when the table is opened, into Arrow text
columns that every later pass (checks, mapping) reads:

- **columnar** (:func:`_columnar`): fastexcel (calamine in Rust) gives the sheet as typed Arrow
  columns without a Python object per cell, each column's type taken from every one of its
  cells; numbers, dates and booleans are then written as text by Arrow kernels. It is used
  when that gives exactly the text of :func:`cell_text`: every column holds one kind of cell
  (text, numbers, booleans or dates), every column has a written name, and no value is one
  the typed reading would change. A KoboToolbox export is such a sheet.
- **by rows** (:func:`_rows_table`): python-calamine gives rows of Python values, turned into
  columns a block at a time (:func:`column_text`). It reads everything else exactly as
  before: columns mixing text and numbers, blank or repeated column names, error cells, times,
  durations, ISO dates, and the .xls and .ods formats.

Before either sees a workbook, :func:`~cgd_bridge.ingest.xlsx_guard.inspect` measures what it
really holds and refuses a workbook bomb with the limit and the fix (see that module).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineError, CalamineWorkbook

from cgd_bridge import arrow
from cgd_bridge.errors import InputError
from cgd_bridge.findings import InputInfo
from cgd_bridge.i18n import N_
from cgd_bridge.ingest.csv import clean_batch
from cgd_bridge.ingest.table import SourceColumn, SourceTable
from cgd_bridge.ingest.xlsx_guard import LIMITS, SheetFacts, XlsxLimits, inspect, iso_dates

__all__ = [
    "LIMITS",
    "XlsxLimits",
    "cell_text",
    "column_text",
    "inspect",
    "open_xlsx",
    "read_sheet",
    "sheet_headers",
    "sheet_rows",
]


def cell_text(value: Any) -> str:
    """The text of one spreadsheet cell, as a person reads it."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def sheet_rows(path: Path, sheet: str | None) -> tuple[str, Iterator[list[Any]]]:
    """Open ``sheet`` (or the first sheet) and return its name and an iterator of its rows
    (python-calamine's Python values; the XLSForm is read this way)."""
    inspect(path, sheet)
    return _calamine_rows(path, sheet)


def _calamine_rows(path: Path, sheet: str | None) -> tuple[str, Iterator[list[Any]]]:
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise InputError(
            N_("the file cannot be opened as an Excel workbook ({reason})"),
            fix=N_("Save it again from Excel or LibreOffice as .xlsx, or export it as CSV."),
            file=path.name,
            params={"reason": str(exc)},
        ) from exc
    names = list(wb.sheet_names)
    name = sheet or (names[0] if names else "")
    if name not in names:
        wb.close()
        if not names:
            raise InputError(N_("the workbook has no sheets"), fix=N_("Add the data sheet."), file=path.name)
        raise InputError(
            N_("there is no sheet called '{sheet}'"),
            fix=N_("Use one of: {sheets}."),
            file=path.name,
            params={"sheet": name, "sheets": ", ".join(names)},
        )
    return name, _rows(wb, name, path.name)


def _rows(wb: CalamineWorkbook, name: str, file: str) -> Iterator[list[Any]]:
    """The sheet's rows; the workbook's file is closed when they run out or are abandoned.

    A workbook whose index names a sheet it does not hold, or whose sheet XML is broken, fails
    here, while the rows are read: that is an InputError naming the sheet, not calamine's.
    """
    try:
        yield from wb.get_sheet_by_name(name).iter_rows()
    except (CalamineError, ValueError) as exc:
        raise InputError(
            N_("the sheet '{sheet}' cannot be read: the workbook is damaged ({reason})"),
            fix=N_("Open it in Excel or LibreOffice and save it again as .xlsx, or export the sheet as CSV."),
            file=file,
            params={"sheet": name, "reason": str(exc)},
        ) from exc
    finally:
        wb.close()


def open_xlsx(path: Path, info: InputInfo, *, sheet: str | None = None) -> SourceTable:
    """Open a sheet of an XLSX workbook; the first row holds the column names.

    The sheet is parsed here, once (:func:`read_sheet`); every :meth:`SourceTable.batches` call
    (the checks, the mapping) reads its Arrow text columns again without going back to the
    workbook.
    """
    name, headers, table = read_sheet(path, sheet)
    info.sheet = name
    columns = [SourceColumn(i, h, h) for i, h in enumerate(headers)]
    text = _SheetText(table)
    return SourceTable(path=path, info=info, columns=columns, _batches=text.batches)


def read_sheet(path: Path, sheet: str | None) -> tuple[str, list[str], pa.Table]:
    """The sheet's name, its column names and its data as Arrow text columns ``c0 … cN``.

    The workbook is measured first (:func:`inspect`), then read columnar when that reads it
    exactly, else by rows (see the module's docstring).
    """
    facts = inspect(path, sheet)
    return _columnar(path, sheet, facts) or _by_rows(path, sheet)


def _by_rows(path: Path, sheet: str | None) -> tuple[str, list[str], pa.Table]:
    """The sheet read by rows (python-calamine), for the sheets :func:`_columnar` leaves."""
    name, rows = _calamine_rows(path, sheet)
    header = next(rows, None)
    if header is None or not any(cell_text(v).strip() for v in header):
        raise InputError(
            N_("the sheet '{sheet}' is empty or its first row (the column names) is blank"),
            fix=N_("Put the column names in row 1, with the data below them."),
            file=path.name,
            row=1,
            params={"sheet": name},
        )
    headers = _names([cell_text(v) for v in header])
    return name, headers, _rows_table(rows, len(headers))


def _names(header: list[str]) -> list[str]:
    """Column names: each cell stripped, the blank cells after the last name dropped (a
    formatted sheet has them)."""
    names = [h.strip() for h in header]
    while names and not names[-1]:
        names.pop()
    return names


class _SheetText:
    """A sheet's data rows as Arrow text columns ``c0 … cN``, read from the workbook once."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._width = table.num_columns

    def batches(self, batch_rows: int, missing: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
        missing_set = arrow.array(sorted(set(missing) | {""}), pa.string())
        for batch in self._table.to_batches(max_chunksize=max(1, batch_rows)):
            if batch.num_rows:
                yield clean_batch(batch, missing_set, self._width)


def _data_rows(arrays: list[pa.Array], length: int) -> int:
    """The rows up to the last one with a cell of text in ``arrays`` (blank rows after it are not
    data; blank rows between data rows are kept)."""
    filled = np.zeros(length, dtype=bool)
    for a in arrays:
        filled |= arrow.to_numpy(arrow.fill_null(pc.greater(pc.binary_length(a), arrow.scalar(0)), False))
    return int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0


#: rows turned into columns at a time while the sheet is read by rows (bounds the Python rows held)
READ_ROWS = 65_536


def _rows_table(rows: Iterator[list[Any]], width: int) -> pa.Table:
    """The rows of python-calamine as text columns, :data:`READ_ROWS` at a time."""
    names = [f"c{i}" for i in range(width)]
    chunks: list[pa.RecordBatch] = []
    kept = 0  # rows up to the last one with data
    total = 0
    while chunk := list(itertools.islice(rows, READ_ROWS)):
        cols = list(itertools.zip_longest(*chunk, fillvalue=""))[:width]
        arrays = [column_text(c) for c in cols]
        arrays += [arrow.strings([""] * len(chunk))] * (width - len(arrays))
        chunks.append(pa.RecordBatch.from_arrays(arrays, names=names))
        last = _data_rows(arrays, len(chunk))
        if last:
            kept = total + last
        total += len(chunk)
    if not chunks:
        return pa.table({n: arrow.strings([]) for n in names})
    return pa.Table.from_batches(chunks).slice(0, kept)


#: a column name the columnar reader may have written from a number (Rust's float format)
_NUMBER_NAME = re.compile(r"-?(?:\d+(?:\.\d+)?|inf|NaN)")
#: timestamps the columnar reader writes as python-calamine does: from 1904-01-02 (earlier ones
#: may be times of day, serial numbers below 1) to the end of year 9999
_FIRST_MS = int(dt.datetime(1904, 1, 2, tzinfo=dt.UTC).timestamp() * 1000)
_END_MS = int(dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC).timestamp() * 1000)


def _load_sheet(path: Path, sheet: str | None) -> tuple[str, Any, Any, list[Any]] | None:
    """fastexcel's typed reading of the sheet: its name, Arrow batch, cell errors and columns;
    None where fastexcel cannot (then the sheet is read by rows, which says why if it must)."""
    import fastexcel

    # fastexcel logs a warning for each column of empty cells ("falling back to string"): that
    # is the reading wanted, not news for the person running the command
    logging.getLogger("fastexcel").setLevel(logging.ERROR)

    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
        name = sheet or (names[0] if names else "")
        if name not in names:
            return None  # the reading by rows says which sheets there are
        loaded = reader.load_sheet(name, header_row=0, schema_sample_rows=None, dtype_coercion="strict")
        batch, errors = loaded.to_arrow_with_errors()
        return name, batch, errors, list(loaded.selected_columns)  # calamine's grid goes with `reader`
    except MemoryError:
        raise  # a sheet too big for memory is not read a second time by rows: the limit says so
    except Exception:  # noqa: BLE001 - fastexcel's errors (mixed types, cell errors, damage)
        return None
    except BaseException as exc:  # a panic in the Rust code arrives as pyo3's PanicException
        if type(exc).__name__ == "PanicException":
            return None
        raise


def _columnar(path: Path, sheet: str | None, facts: SheetFacts) -> tuple[str, list[str], pa.Table] | None:
    """The sheet read by fastexcel into typed Arrow columns, then written as text; None when that
    would not be exactly what :func:`cell_text` writes of each cell (then it is read by rows)."""
    if facts.member is None:
        return None  # not an OOXML workbook (.xls, .ods, damaged): read by rows
    loaded = _load_sheet(path, sheet)
    if loaded is None:
        return None
    name, batch, errors, columns = loaded
    if errors is not None or not columns:
        return None
    header = [c.name for c in columns]
    if any(c.column_name_from != "looked_up" for c in columns) or not _names_exact(header):
        return None
    names_ = _names(header)
    if not any(names_):
        return None
    dtypes = [c.dtype for c in columns[: len(names_)]]
    if "datetime" in dtypes and iso_dates(path, facts.member):
        return None  # ISO dates: python-calamine keeps their microseconds, fastexcel milliseconds
    arrays: list[pa.Array] = []
    for i, dtype in enumerate(dtypes):
        text = _typed_text(batch.column(i), dtype)
        if text is None:
            return None
        arrays.append(text)
    kept = _data_rows(arrays, batch.num_rows)
    table = pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))]).slice(0, kept)
    return name, names_, table


def _names_exact(names: list[str]) -> bool:
    """Whether fastexcel's column names are the header cells' own text: not renamed to tell
    repeated names apart (``a``, ``a_1``), not a number written otherwise than :func:`cell_text`
    writes it."""
    for i, n in enumerate(names):
        m = re.fullmatch(r"(.*)_\d+", n, re.DOTALL)
        if m and m.group(1) in names[:i]:
            return False
        if _NUMBER_NAME.fullmatch(n) and cell_text(float(n)) != n:
            return False
    return True


def _typed_text(a: pa.Array, dtype: str) -> pa.Array | None:
    """One typed column as :func:`cell_text` writes its cells (empty cells ``""``); None when a
    value cannot be told apart from another kind of cell."""
    if dtype == "string":
        return arrow.fill_null(a, "") if a.null_count else a
    if dtype == "null":
        return arrow.strings([""] * len(a))
    if dtype == "float":
        return _float_text(a)
    if dtype == "int":
        return arrow.fill_null(a.cast(pa.string()), "")
    if dtype == "boolean":
        return arrow.fill_null(pc.if_else(a, arrow.scalar("true"), arrow.scalar("false")), "")
    if dtype == "datetime":
        return _datetime_text(a)
    return None  # dates from ISO text, durations: read by rows


def _float_text(a: pa.Array) -> pa.Array | None:
    """Numbers as :func:`cell_text` writes them: whole ones below 1e15 without ``.0``, others as
    Python's ``repr`` (Arrow's shortest form is the same between 1e-4 and 1e9; outside, repr)."""
    valid = arrow.to_numpy(a.is_valid())
    x = arrow.to_numpy(arrow.fill_null(a, 0.0))
    if np.isnan(x).any():
        return None  # NaN comes from a text cell such as "NaN" that fastexcel read as a number
    size = np.abs(x)
    whole = np.isfinite(x) & (size < 1e15) & (x == np.round(x))
    middle = ~whole & (size >= 1e-4) & (size < 1e9)
    ints = arrow.array(np.where(whole, x, 0.0).astype(np.int64)).cast(pa.string())
    floats = arrow.array(np.where(middle, x, 0.0)).cast(pa.string())
    text = pc.if_else(arrow.bools(whole), ints, floats)
    odd = valid & ~whole & ~middle
    if odd.any():
        reprs = arrow.strings([repr(v) for v in x[odd].tolist()])
        text = pc.replace_with_mask(text, arrow.bools(odd), reprs)
    return pc.if_else(arrow.bools(valid), text, arrow.scalar(""))


def _datetime_text(a: pa.Array) -> pa.Array | None:
    """Dates and times of serial-number cells (to the millisecond, as calamine rounds them):
    ``YYYY-MM-DD`` at midnight, else ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` (``datetime.isoformat``)."""
    valid = arrow.to_numpy(a.is_valid())
    ms = arrow.to_numpy(arrow.fill_null(a.cast(pa.int64()), _FIRST_MS))
    if (ms < _FIRST_MS).any() or (ms > _END_MS).any():
        return None  # times of day, dates before 1904 or past 9999: read by rows
    day = a.cast(pa.timestamp("ms")).cast(pa.date32()).cast(pa.string())
    seconds = pc.strftime(arrow.array(ms // 1000, pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    fraction = ms % 1000
    micro = pc.utf8_lpad(arrow.array(fraction * 1000).cast(pa.string()), 6, "0")
    full = pc.if_else(
        arrow.bools(fraction != 0), pc.binary_join_element_wise(seconds, micro, arrow.scalar(".")), seconds
    )
    text = pc.if_else(arrow.bools(ms % 86_400_000 == 0), day, full)
    return pc.if_else(arrow.bools(valid), text, arrow.scalar(""))


def column_text(values: Sequence[Any]) -> pa.Array:
    """One column of cells as text, each as :func:`cell_text` writes it."""
    kinds = {type(v) for v in values}
    if kinds <= {str, type(None)}:  # only text (and empty cells)
        text = arrow.strings(values)
        return arrow.fill_null(text, "") if text.null_count else text
    if kinds <= {float, str, type(None)}:  # numbers: whole ones formatted by Arrow
        is_number = np.fromiter((type(v) is float for v in values), dtype=bool, count=len(values))
        number = np.array([v if type(v) is float else 0.0 for v in values], dtype=np.float64)
        whole = is_number & np.isfinite(number) & (number == np.round(number)) & (np.abs(number) < 1e15)
        out = np.array([v if type(v) is str else "" for v in values], dtype=object)  # None: empty
        if whole.any():
            digits = arrow.array(number[whole].astype(np.int64)).cast(pa.string())
            out[whole] = arrow.to_numpy(digits)
        for i in np.flatnonzero(is_number & ~whole).tolist():
            out[i] = repr(values[i])
        return arrow.array(out, pa.string())
    return arrow.strings([v if type(v) is str else cell_text(v) for v in values])


def sheet_headers(path: Path, *, columns: int = 200) -> dict[str, list[str]]:
    """The first row of every sheet of the workbook (at most ``columns`` names each), for the
    report's diagnosis of a wrong sheet; a sheet that cannot be read, or passes the limits, is
    left out (its own reading says why)."""
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError):
        return {}
    out: dict[str, list[str]] = {}
    try:
        for name in wb.sheet_names:
            try:
                inspect(path, name)
                first = next(iter(wb.get_sheet_by_name(name).iter_rows()), [])
            except (InputError, CalamineError, ValueError):
                continue
            out[name] = [h for h in (cell_text(v).strip() for v in first[:columns]) if h]
    finally:
        wb.close()
    return out
