"""XLSX reading with calamine (Rust, streaming rows): the first sheet or a named one.

Cells become text the way a person reads them in the sheet: whole numbers without ``.0``,
dates as ISO ``YYYY-MM-DD``, booleans as ``true``/``false``. The sheet is parsed once, at
the first pass over its rows, into Arrow text columns (a column at a time, without a Python
call per text cell), and every later pass (checks, mapping) reads those: the sheet's text is
held in memory, about the size of the same data as CSV (calamine itself holds the whole sheet
while it reads it, whatever is done with the rows).

calamine holds a whole sheet as a dense grid, from A1 to the last cell that has anything in it.
A 10 KB file with one cell at XFD1048576 is a grid of 17 billion cells (512 GiB), and a 1 MB
file of shared strings can stand for gigabytes of text. So before calamine sees a workbook,
:func:`inspect` measures what it really holds, reading the parts of the zip as streams in
bounded memory and trusting none of its own claims (not the sheet's ``dimension``, not the
sizes in the zip's directory): the grid the cells span, the columns, the uncompressed size of
the sheet and of the shared strings. Past :data:`LIMITS`, the file is refused with the limit
and the fix, before anything is allocated.
"""

from __future__ import annotations

import datetime as dt
import itertools
import posixpath
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineError, CalamineWorkbook

from cgd_bridge.errors import InputError, TooLarge
from cgd_bridge.findings import InputInfo
from cgd_bridge.i18n import N_, msg, nmsg, num
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


@dataclass(frozen=True)
class XlsxLimits:
    """What one sheet may hold (a 1,000,000-row export of 50 columns is well inside)."""

    cells: int = 60_000_000  # the grid from A1 to the last used cell, rows x columns
    columns: int = 5_000
    sheet_bytes: int = 4 << 30  # the sheet's XML, uncompressed
    shared_strings_bytes: int = 512 << 20  # all the workbook's text, uncompressed


LIMITS = XlsxLimits()
_TAG = re.compile(rb"<(?:\w+:)?(row|c)\b([^>]*)>")
_REF = re.compile(rb"\br=\"([A-Z]*)(\d*)\"")
_CHUNK = 1 << 20


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b")
_ROW_REF = re.compile(rb"<(?:\w+:)?row\b[^>]*?\sr=\"(\d+)\"")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c\b")
_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\sr=\"([A-Z]+)(\d+)\"")
_PLAIN_ROW_REF = re.compile(rb"<row r=\"(\d+)\"")
_PLAIN_CELL_REF = re.compile(rb"<c r=\"([A-Z]+)(\d+)\"")


def _span_with_refs(
    data: bytes,
) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
    """The rows and columns the cells of ``data`` reach, when every row and cell tag in it has
    its reference (``r="C12"``, as Excel, LibreOffice and Kobo write them), without a Python
    step per cell; and the row and column after its last tag (None: no tag in ``data``).
    None when a tag has no reference: then they are counted tag by tag, from the previous one.
    """
    if b":c" in data or b":row" in data:  # namespace prefixes (<x:c ...>): the general patterns
        cell_ref, row_ref = _CELL_REF, _ROW_REF
        cell_tags, row_tags = len(_CELL_TAG.findall(data)), len(_ROW_TAG.findall(data))
    else:  # the usual form, reference first (<c r="B7" t="s">), counted by bytes.count
        cell_ref, row_ref = _PLAIN_CELL_REF, _PLAIN_ROW_REF
        cell_tags = data.count(b"<c ") + data.count(b"<c>") + data.count(b"<c/>")
        row_tags = data.count(b"<row ") + data.count(b"<row>") + data.count(b"<row/>")
    cells = cell_ref.findall(data)
    if len(cells) != cell_tags:
        if cell_ref is _CELL_REF:
            return None
        cells = _CELL_REF.findall(data)  # the reference after another attribute
        if len(cells) != len(_CELL_TAG.findall(data)):
            return None
        cell_ref = _CELL_REF
    row_refs = list(row_ref.finditer(data))
    if len(row_refs) != row_tags:
        row_refs = list(_ROW_REF.finditer(data))
        if len(row_refs) != len(_ROW_TAG.findall(data)):
            return None
    if cells:
        letters = {c[0] for c in cells}
        span = (
            int(np.array([c[1] for c in cells]).astype(np.int64).max()),
            max(_column_number(x) for x in letters),
        )
    else:
        span = (0, 0)
    after = cell_ref.findall(data, row_refs[-1].end()) if row_refs else cells[-1:]
    if after:
        last = (int(after[-1][1]), _column_number(after[-1][0]))
    elif row_refs:
        last = (int(row_refs[-1].group(1)), 0)
    else:
        return span, None
    return span, last


def _span_tag_by_tag(data: bytes, row: int, column: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """:func:`_span_with_refs` for any tags: a row or cell without a reference is the one after
    the previous (``row``, ``column``: where the previous chunk ended)."""
    rows = columns = 0
    for tag, attrs in _TAG.findall(data):
        ref = _REF.search(attrs)
        if tag == b"row":
            row = int(ref.group(2)) if ref and ref.group(2) else row + 1
            column = 0
        else:
            column = _column_number(ref.group(1)) if ref and ref.group(1) else column + 1
            if ref and ref.group(2):
                row = int(ref.group(2))
            rows, columns = max(rows, row), max(columns, column)
    return (rows, columns), (row, column)


def _too_big(what: dict[str, Any], limit: dict[str, Any], file: str) -> TooLarge:
    return TooLarge(
        N_("the workbook is refused: {what}, more than the limit of {limit}"),
        fix=N_(
            "Delete the empty rows and columns after the data (select them, right-click, Delete) and save "
            "again, or export the sheet as CSV."
        ),
        file=file,
        params={"what": what, "limit": limit},
    )


def _read_limited(
    zf: zipfile.ZipFile, member: str, limit: int, what: dict[str, Any], file: str
) -> Iterator[bytes]:
    """The member's bytes, a chunk at a time, refused once more than ``limit`` came out."""
    seen = 0
    with zf.open(member) as fh:
        while chunk := fh.read(_CHUNK):
            seen += len(chunk)
            if seen > limit:
                size = msg(N_("{n} MB"), n=num(limit >> 20))
                raise _too_big(
                    msg(N_("{what} unpacks to more than {size}"), what=what, size=size), size, file
                )
            yield chunk


def _sheet_member(zf: zipfile.ZipFile, sheet: str | None) -> str | None:
    """The zip member of ``sheet`` (or of the first sheet), from the workbook and its relations."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        book = etree.fromstring(zf.read("xl/workbook.xml"), parser)
        rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"), parser)
    except (KeyError, etree.XMLSyntaxError):
        return None  # not a workbook calamine can open either: it says so
    targets = {r.get("Id"): r.get("Target") or "" for r in rels}
    for s in book.iter("{*}sheet"):
        if sheet is None or s.get("name") == sheet:
            rid = next((v for k, v in s.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    return None


def inspect(path: Path, sheet: str | None, limits: XlsxLimits = LIMITS) -> None:
    """Refuse a workbook whose ``sheet`` (default: the first) passes ``limits``; bounded memory."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return  # calamine gives the plain "cannot be opened" error
    with zf:
        names = set(zf.namelist())
        if "xl/sharedStrings.xml" in names:
            for _ in _read_limited(
                zf, "xl/sharedStrings.xml", limits.shared_strings_bytes, msg(N_("its text")), path.name
            ):
                pass
        member = _sheet_member(zf, sheet)
        if member is None or member not in names:
            return
        rows = columns = row = column = 0
        tail = b""
        for chunk in _read_limited(zf, member, limits.sheet_bytes, msg(N_("the sheet")), path.name):
            data = tail + chunk
            cut = data.rfind(b"<")  # a tag cut by the chunk's end waits for the next chunk
            data, tail = (data[:cut], data[cut:]) if cut >= 0 and b">" not in data[cut:] else (data, b"")
            fast = _span_with_refs(data)
            if fast is None:
                span, (row, column) = _span_tag_by_tag(data, row, column)
            else:
                span, last = fast
                row, column = last or (row, column)
            rows, columns = max(rows, span[0]), max(columns, span[1])
            if columns > limits.columns:
                raise _too_big(
                    msg(N_("its cells reach column {column}"), column=num(columns)),
                    nmsg("{n} column", "{n} columns", limits.columns),
                    path.name,
                )
            if rows * columns > limits.cells:
                raise _too_big(
                    msg(
                        N_("its cells span {rows} rows by {columns} columns ({cells} cells)"),
                        rows=num(rows),
                        columns=num(columns),
                        cells=num(rows * columns),
                    ),
                    nmsg("{n} cell", "{n} cells", limits.cells),
                    path.name,
                )


def sheet_rows(path: Path, sheet: str | None) -> tuple[str, Iterator[list[Any]]]:
    """Open ``sheet`` (or the first sheet) and return its name and an iterator of its rows."""
    inspect(path, sheet)
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

    The sheet is parsed once: at the first :meth:`SourceTable.batches` call its rows become
    Arrow text columns (:class:`_SheetText`), which every later pass (the checks, the mapping)
    reads again without going back to the workbook.
    """
    name, rows = sheet_rows(path, sheet)
    header = next(rows, None)
    if header is None or not any(cell_text(v).strip() for v in header):
        raise InputError(
            N_("the sheet '{sheet}' is empty or its first row (the column names) is blank"),
            fix=N_("Put the column names in row 1, with the data below them."),
            file=path.name,
            row=1,
            params={"sheet": name},
        )
    headers = [cell_text(v).strip() for v in header]
    while headers and not headers[-1]:  # trailing blank header cells of a formatted sheet
        headers.pop()
    info.sheet = name
    columns = [SourceColumn(i, h, h) for i, h in enumerate(headers)]
    text = _SheetText(rows, len(headers))
    return SourceTable(path=path, info=info, columns=columns, _batches=text.batches)


#: rows turned into columns at a time while the sheet is read (bounds the Python rows held)
READ_ROWS = 65_536


class _SheetText:
    """A sheet's data rows as Arrow text columns ``c0 … cN``, read from the workbook once.

    Cells become text as :func:`cell_text` writes them, a column at a time: a column of text
    (most of a Kobo export) goes to Arrow without a Python call per cell, and whole numbers are
    formatted by Arrow. Blank rows after the last row with data are not data; blank rows
    between data rows are kept.
    """

    def __init__(self, rows: Iterator[list[Any]], width: int) -> None:
        self._rows: Iterator[list[Any]] | None = rows
        self._width = width
        self._table: pa.Table | None = None

    def table(self) -> pa.Table:
        if self._table is None:
            assert self._rows is not None
            rows, self._rows = self._rows, None
            self._table = _read_columns(rows, self._width)
        return self._table

    def batches(self, batch_rows: int, missing: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
        table = self.table()
        missing_set = pa.array(sorted(set(missing) | {""}), pa.string())
        for batch in table.to_batches(max_chunksize=max(1, batch_rows)):
            if batch.num_rows:
                yield clean_batch(batch, missing_set, self._width)


def _read_columns(rows: Iterator[list[Any]], width: int) -> pa.Table:
    names = [f"c{i}" for i in range(width)]
    chunks: list[pa.RecordBatch] = []
    kept = 0  # rows up to the last one with data
    total = 0
    while chunk := list(itertools.islice(rows, READ_ROWS)):
        cols = list(itertools.zip_longest(*chunk, fillvalue=""))[:width]
        arrays = [column_text(c) for c in cols]
        arrays += [pa.array([""] * len(chunk), pa.string())] * (width - len(arrays))
        batch = pa.RecordBatch.from_arrays(arrays, names=names)
        filled = np.zeros(len(chunk), dtype=bool)
        for a in arrays:
            filled |= pc.fill_null(pc.greater(pc.binary_length(a), 0), False).to_numpy(zero_copy_only=False)
        if filled.any():
            kept = total + int(np.flatnonzero(filled)[-1]) + 1
        total += len(chunk)
        chunks.append(batch)
    if not chunks:
        return pa.table({n: pa.array([], pa.string()) for n in names})
    return pa.Table.from_batches(chunks).slice(0, kept)


def column_text(values: Sequence[Any]) -> pa.Array:
    """One column of cells as text, each as :func:`cell_text` writes it."""
    try:
        text = pa.array(values, pa.string())  # only text (and empty cells): no Python per cell
        return pc.fill_null(text, "") if text.null_count else text
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    kinds = {type(v) for v in values}
    if kinds <= {float, str, type(None)}:  # numbers: whole ones formatted by Arrow
        is_number = np.fromiter((type(v) is float for v in values), dtype=bool, count=len(values))
        number = np.array([v if type(v) is float else 0.0 for v in values], dtype=np.float64)
        whole = is_number & np.isfinite(number) & (number == np.round(number)) & (np.abs(number) < 1e15)
        out = np.array([v if type(v) is str else "" for v in values], dtype=object)  # None: empty
        if whole.any():
            digits = pa.array(number[whole].astype(np.int64)).cast(pa.string())
            out[whole] = digits.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(is_number & ~whole).tolist():
            out[i] = repr(values[i])
        return pa.array(out, pa.string())
    return pa.array([v if type(v) is str else cell_text(v) for v in values], pa.string())


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
