"""XLSX reading with calamine (Rust, streaming rows): the first sheet or a named one.

Cells become text the way a person reads them in the sheet: whole numbers without ``.0``,
dates as ISO ``YYYY-MM-DD``, booleans as ``true``/``false``. Rows are turned into Arrow
batches of at most ``batch_rows`` rows, so memory stays bounded by the batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from python_calamine import CalamineError, CalamineWorkbook

from cgd_bridge.errors import InputError
from cgd_bridge.findings import InputInfo
from cgd_bridge.ingest.csv import clean_batch
from cgd_bridge.ingest.table import SourceColumn, SourceTable


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
    """Open ``sheet`` (or the first sheet) and return its name and an iterator of its rows."""
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise InputError(
            f"the file cannot be opened as an Excel workbook ({exc})",
            fix="Save it again from Excel or LibreOffice as .xlsx, or export it as CSV.",
            file=path.name,
        ) from exc
    names = list(wb.sheet_names)
    name = sheet or (names[0] if names else "")
    if name not in names:
        wb.close()
        if not names:
            raise InputError("the workbook has no sheets", fix="Add the data sheet.", file=path.name)
        raise InputError(
            f"there is no sheet called '{name}'",
            fix=f"Use one of: {', '.join(names)}.",
            file=path.name,
        )
    return name, _rows(wb, name)


def _rows(wb: CalamineWorkbook, name: str) -> Iterator[list[Any]]:
    """The sheet's rows; the workbook's file is closed when they run out or are abandoned."""
    try:
        yield from wb.get_sheet_by_name(name).iter_rows()
    finally:
        wb.close()


def open_xlsx(path: Path, info: InputInfo, *, sheet: str | None = None) -> SourceTable:
    """Open a sheet of an XLSX workbook; the first row holds the column names."""
    name, rows = sheet_rows(path, sheet)
    header = next(rows, None)
    if header is None or not any(cell_text(v).strip() for v in header):
        raise InputError(
            f"the sheet '{name}' is empty or its first row (the column names) is blank",
            fix="Put the column names in row 1, with the data below them.",
            file=path.name,
            row=1,
        )
    headers = [cell_text(v).strip() for v in header]
    while headers and not headers[-1]:  # trailing blank header cells of a formatted sheet
        headers.pop()
    info.sheet = name
    columns = [SourceColumn(i, h, h) for i, h in enumerate(headers)]
    table = SourceTable(path=path, info=info, columns=columns, _batches=lambda *_: iter(()))
    table._batches = lambda batch_rows, missing: _stream(path, name, len(headers), batch_rows, missing)
    return table


def _stream(
    path: Path, sheet: str, width: int, batch_rows: int, missing: tuple[str, ...]
) -> Iterator[pa.RecordBatch]:
    _, rows = sheet_rows(path, sheet)
    next(rows, None)  # header
    names = [f"c{i}" for i in range(width)]
    missing_set = pa.array(sorted(set(missing) | {""}), pa.string())
    buffer: list[list[str]] = [[] for _ in range(width)]
    count = 0
    pending_blank = 0
    for row in rows:
        cells = [cell_text(v) for v in row[:width]]
        if not any(cells):
            # trailing blank rows of a sheet are not data; blank rows *between* data are kept
            pending_blank += 1
            continue
        for _ in range(pending_blank):
            for col in buffer:
                col.append("")
            count += 1
        pending_blank = 0
        cells.extend([""] * (width - len(cells)))
        for col, value in zip(buffer, cells, strict=True):
            col.append(value)
        count += 1
        if count >= batch_rows:
            yield _batch(buffer, names, missing_set, width)
            buffer = [[] for _ in range(width)]
            count = 0
    if count:
        yield _batch(buffer, names, missing_set, width)


def _batch(buffer: list[list[str]], names: list[str], missing: pa.Array, width: int) -> pa.RecordBatch:
    arrays = [pa.array(col, pa.string()) for col in buffer]
    return clean_batch(pa.RecordBatch.from_arrays(arrays, names=names), missing, width)
