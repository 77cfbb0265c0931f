"""CSV reading: encoding and delimiter detection, then a streaming Arrow reader.

Encodings: UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), and, when
the bytes are not valid UTF-8, Windows-1252 (or Latin-1 where a byte is undefined in
Windows-1252). The whole file is checked for UTF-8 validity in 8 MiB blocks before reading,
so a stray byte at row 900,000 is detected too; the report says which encoding was used.

Delimiters: comma, semicolon, tab and pipe, sniffed from the first rows. Quoted fields may
contain delimiters and newlines.

Limits (:class:`CsvLimits`, docs/limits.md), each refused as :class:`~cgd_bridge.errors.TooLarge`
naming the file, the limit and the fix: columns (counted on the whole header row, however long:
it is read to its end, not cut at the sniffing sample), one line, one cell, rows (counted while
streaming). A file that is not text (NUL bytes, control characters, UTF-16 without its
byte-order mark) is refused as an :class:`~cgd_bridge.errors.InputError` before it is read.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from cgd_bridge import arrow
from cgd_bridge.errors import CgdBridgeError, InputError, TooLarge
from cgd_bridge.findings import InputInfo
from cgd_bridge.i18n import N_, msg, num
from cgd_bridge.ingest.table import SkippedRow, SourceColumn, SourceTable

SAMPLE_BYTES = 256 * 1024


@dataclass(frozen=True)
class CsvLimits:
    """What one CSV file may hold (a 1,000,000-row export of 50 columns is well inside)."""

    columns: int = 5_000
    line_bytes: int = 16 << 20  # one row, quoted newlines included
    cell_chars: int = 1_000_000
    rows: int = 50_000_000
    # not a limit: the reader's block, which bounds its memory; a longer line (up to line_bytes)
    # makes the reader read the file again with a block of line_bytes (see ``_stream``)
    block_bytes: int = 1 << 20


LIMITS = CsvLimits()
_SAVE_AS = N_("Open it in the spreadsheet program it came from and save it as 'CSV UTF-8' (or XLSX).")
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13))
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab"), "|": N_("pipe")}


def detect_encoding(path: Path) -> tuple[str, dict[str, Any] | None]:
    """Return ``(encoding, note)`` for a text file; ``note`` explains a non-UTF-8 choice."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", None
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", msg(N_("The file is UTF-16 (Excel 'Unicode text'); it was read as such."))
        fh.seek(0)
        _check_text(path, fh.read(64 << 10))
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        while block := fh.read(8 << 20):
            if b"\x00" in block:
                first = offset + block.index(b"\x00")
                raise _not_text(path, msg(N_("it has NUL bytes (at byte {byte})"), byte=num(first)))
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                return _fallback_encoding(path, bad)
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return _fallback_encoding(path, offset)
    return "utf-8", None


def _not_text(path: Path, why: dict[str, Any]) -> InputError:
    return InputError(
        N_("the file is not a text (CSV) file: {why}"), fix=_SAVE_AS, file=path.name, params={"why": why}
    )


def _check_text(path: Path, sample: bytes) -> None:
    """Refuse a file whose first bytes are not text: UTF-16 without its BOM, or binary."""
    if not sample:
        return
    nul = sample.count(b"\x00")
    if nul:
        even = sample[0::2].count(b"\x00")
        odd = nul - even
        if nul >= len(sample) // 4 and max(even, odd) >= 0.9 * nul:
            order = "big-endian" if even > odd else "little-endian"
            raise InputError(
                N_(
                    "the file is UTF-16 ({order}) without a byte-order mark, which cannot be told apart "
                    "from binary data"
                ),
                fix=_SAVE_AS,
                file=path.name,
                params={"order": order},
            )
        first = sample.index(b"\x00")
        raise _not_text(path, msg(N_("it has NUL bytes (at byte {byte})"), byte=num(first)))
    control = sum(sample.count(bytes([c])) for c in _CONTROL)
    if control > max(8, len(sample) // 100):
        raise _not_text(
            path,
            msg(
                N_("{control} of its first {size} bytes are control characters"),
                control=num(control),
                size=num(len(sample)),
            ),
        )


def _fallback_encoding(path: Path, bad_offset: int) -> tuple[str, dict[str, Any]]:
    with path.open("rb") as fh:
        before = fh.read(bad_offset)
        raw = before + fh.read(64)
    line = before.count(b"\n") + 1
    try:
        raw.decode("cp1252")
        enc, label = "cp1252", "Windows-1252 (cp1252)"
    except UnicodeDecodeError:
        enc, label = "latin-1", "Latin-1 (ISO-8859-1)"
    return enc, msg(
        N_(
            "The file is not UTF-8 (first non-UTF-8 byte on line {line}); it was read as {label}. Check "
            "that accented letters look right in the report, and save the file as 'CSV UTF-8' to be sure."
        ),
        line=line,
        label=label,
    )


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first rows into the most, and most regular, cells."""
    best, best_score = ",", (-1, -1)
    for delim in CANDIDATE_DELIMITERS:
        try:
            rows = list(_first_rows(text, delim, 50))
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        regular = sum(1 for r in rows if len(r) == width)
        score = (regular, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _first_rows(text: str, delimiter: str, n: int) -> Iterator[list[str]]:
    # the sample may end inside a row: drop the last (possibly partial) line
    cut = text.rfind("\n")
    sample = text[:cut] if cut > 0 else text
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    for i, row in enumerate(reader):
        if i >= n:
            break
        yield row


def _header_text(path: Path, encoding: str, limits: CsvLimits) -> str:
    """The text of the first row, to its end (a newline outside quotes), however long; refused
    past ``limits.line_bytes``."""
    text = ""
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        while chunk := fh.read(256 << 10):
            start, quotes = len(text), text.count('"')
            text += chunk
            pos = text.find("\n", start)
            while pos >= 0:
                quotes += text.count('"', start, pos)
                if quotes % 2 == 0:
                    return text[: pos + 1]
                start = pos
                pos = text.find("\n", pos + 1)
            if len(text) > limits.line_bytes:
                break
    if len(text) > limits.line_bytes:
        raise TooLarge(
            N_("the first row (the column names) is longer than the limit of {size}"),
            fix=N_(
                "Check that the file is a table with its column names in row 1; a real header is far shorter."
            ),
            file=path.name,
            row=1,
            params={"size": _size(limits.line_bytes)},
        )
    return text


def _size(n: int) -> dict[str, Any]:
    """A size for a message (``8 MiB``), its number in the locale's digits."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return msg(N_("{n} MiB"), n=num(n >> 20))
    return msg(N_("{n} KiB"), n=num(n >> 10))


def open_csv(
    path: Path, info: InputInfo, *, delimiter: str | None = None, limits: CsvLimits = LIMITS
) -> SourceTable:
    """Open a CSV file: detect encoding and delimiter, read the header, prepare streaming.

    Raises:
        InputError: empty, not text, or no column names. TooLarge: past one of ``limits``.
    """
    encoding, note = detect_encoding(path)
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    text = sample.decode(encoding, errors="replace")
    if encoding == "utf-16":
        text = sample.decode("utf-16", errors="ignore")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise InputError(
            N_("the file is empty"),
            fix=N_("Export the dataset again: the first row must hold the column names."),
            file=path.name,
        )
    delim = delimiter or sniff_delimiter(text)
    line = _header_text(path, "utf-16" if encoding == "utf-16" else encoding, limits).lstrip("\ufeff")
    try:
        header = next(csv.reader(io.StringIO(line), delimiter=delim), [])
    except csv.Error as exc:
        raise TooLarge(
            N_("a column name in the first row cannot be read ({reason})"),
            fix=N_("Check that row 1 holds the column names, each a short text."),
            file=path.name,
            row=1,
            params={"reason": str(exc)},
        ) from exc
    if len(header) > limits.columns:
        raise TooLarge(
            N_("the file has {columns} columns, more than the limit of {limit}"),
            fix=N_(
                "Keep the columns the mapping uses (delete the others) and save again, or split the table."
            ),
            file=path.name,
            row=1,
            params={"columns": num(len(header)), "limit": num(limits.columns)},
        )
    if not header:
        raise InputError(
            N_("the first row (the column names) is empty"),
            fix=N_("Put the column names in row 1, with the data below them."),
            file=path.name,
            row=1,
        )
    info.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
    info.delimiter = delim
    notes: list[Any] = [note] if note else []
    if encoding == "utf-8-sig":
        notes.append(msg(N_("The file starts with a UTF-8 byte-order mark (BOM); it was read as UTF-8.")))
    if delim != ",":
        notes.append(msg(N_("Cells are separated by {delimiter}s."), delimiter=msg(_DELIMITER_NAMES[delim])))
    columns = [SourceColumn(i, h.strip(), h.strip()) for i, h in enumerate(header)]
    table = SourceTable(path=path, info=info, columns=columns, _batches=lambda *_: iter(()))
    table.notes.extend(notes)
    table._batches = lambda rows, missing: _stream(table, encoding, delim, rows, missing, limits)
    return table


def _stream(
    table: SourceTable,
    encoding: str,
    delimiter: str,
    batch_rows: int,
    missing: tuple[str, ...],
    limits: CsvLimits = LIMITS,
) -> Iterator[pa.RecordBatch]:
    names = [c.key for c in table.columns]
    width = len(names)

    ignore = [0]  # invalid rows already reported by an earlier pass over the file

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        if ignore[0] > 0:
            ignore[0] -= 1
            return "skip"
        table.skipped.append(
            SkippedRow(
                row=row.number if row.number is not None else -1,
                expected=row.expected_columns,
                actual=row.actual_columns,
                text=row.text[:200],
            )
        )
        return "skip"

    # pyarrow reads no row across two blocks, and its memory follows the block (measured in #14:
    # with 16 MiB blocks it peaks at about the file's size, with 1 MiB blocks at ~40 MB whatever
    # the file's size). So the file is read with a small block; where a row (or the header) does
    # not fit in it, the file is read again from the start with a block of the line limit, the
    # rows and invalid rows already handed out passed over, and only a line longer than that is
    # refused (below). A block's rows are handed out batch_rows at a time.
    missing_set = arrow.array(sorted(set(missing) | {""}), pa.string())
    reported = len(table.skipped)
    block = min(limits.block_bytes, limits.line_bytes)
    seen = 0
    while True:
        done, read = seen, 0
        ignore[0] = len(table.skipped) - reported
        try:
            # opening reads the first block: a header row that never ends (an unclosed quote) fails here
            reader = _open_reader(table, encoding, delimiter, names, on_invalid, block)
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                read += batch.num_rows
                if read <= done:
                    continue  # handed out by the pass with the smaller block
                if read - batch.num_rows < done:
                    batch = batch.slice(batch.num_rows - (read - done))
                seen = read
                _check_rows(table, seen, limits)
                _check_cells(table, batch, seen - batch.num_rows, limits)
                for start in range(0, batch.num_rows, batch_rows):
                    yield clean_batch(batch.slice(start, batch_rows), missing_set, width)
            return
        except pa.ArrowInvalid as exc:
            if block < limits.line_bytes and ("straddl" in str(exc) or "skip initial" in str(exc)):
                block = limits.line_bytes  # a row, or the header, longer than the block
                continue
            refusal = _refusal(table, exc, limits)
            if refusal is None:
                return  # the column names and nothing else, with no line break after them
            raise refusal from exc


def _refusal(table: SourceTable, exc: pa.ArrowInvalid, limits: CsvLimits) -> CgdBridgeError | None:
    """The error for pyarrow's refusal to read the file; None for a header without a line break."""
    if "straddl" in str(exc):
        return _long_line(table, limits)
    if "skip initial" in str(exc):  # the header row never ended within a block
        if not _has_line_break(table.path, limits.line_bytes):
            return None
        return InputError(
            N_(
                'the row of column names does not end: a quote (") in it is opened but never closed, or it '
                "is longer than {size}"
            ),
            fix=N_("Check the first line of the file (the column names) and export the file again."),
            file=table.file,
            row=1,
            params={"size": _size(limits.line_bytes)},
        )
    return InputError(
        N_("the CSV file cannot be split into cells ({reason})"),
        fix=N_('Look for a quote (") that is opened but never closed, then export the file again.'),
        file=table.file,
        params={"reason": _plain_arrow_error(exc)},
    )


def _check_rows(table: SourceTable, seen: int, limits: CsvLimits) -> None:
    if seen > limits.rows:
        raise TooLarge(
            N_("the file has more than {limit} rows, the limit"),
            fix=N_("Split the dataset (by year or region) into several files."),
            file=table.file,
            params={"limit": num(limits.rows)},
        )


def _open_reader(
    table: SourceTable,
    encoding: str,
    delimiter: str,
    names: list[str],
    on_invalid: Any,
    block: int,
) -> pa_csv.CSVStreamingReader:
    """pyarrow's streaming reader of the file's rows after the header, ``block`` bytes at a time."""
    return pa_csv.open_csv(
        str(table.path),
        read_options=pa_csv.ReadOptions(
            column_names=names,
            skip_rows=1,
            use_threads=False,
            block_size=block,
            encoding="utf-8" if encoding == "utf-8-sig" else encoding,
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _has_line_break(path: Path, within: int) -> bool:
    """True when the file's first ``within`` bytes hold a line break."""
    with path.open("rb") as fh:
        head = fh.read(within)
    return b"\n" in head or b"\r" in head


def _check_cells(table: SourceTable, batch: pa.RecordBatch, before: int, limits: CsvLimits) -> None:
    """Refuse a cell longer than ``limits.cell_chars`` characters or a row longer than
    ``limits.line_bytes`` bytes, naming its row (and column)."""
    line: pa.Array | None = None
    for i in range(batch.num_columns):
        column = batch.column(i)
        size = pc.binary_length(column)
        line = size if line is None else pc.add(line, size)
        if (pc.max(size).as_py() or 0) <= limits.cell_chars:
            continue  # no cell has more characters than bytes
        chars = pc.utf8_length(column)
        longest = pc.max(chars).as_py() or 0
        if longest > limits.cell_chars:
            at = pc.index(pc.greater(chars, limits.cell_chars), True).as_py()
            raise TooLarge(
                N_("a cell of {length} characters, more than the limit of {limit} characters"),
                fix=N_(
                    "Shorten the cell (a cell holds one value, not a document) and export the file again."
                ),
                params={"length": num(longest), "limit": num(limits.cell_chars)},
                file=table.file,
                row=table.row_mapper()(before + at + 2),
                field=table.columns[i].header if i < len(table.columns) else None,
            )
    if line is not None and (pc.max(line).as_py() or 0) > limits.line_bytes:
        at = pc.index(pc.greater(line, limits.line_bytes), True).as_py()
        raise _long_line(table, limits, row=table.row_mapper()(before + at + 2))


def _long_line(table: SourceTable, limits: CsvLimits, row: int | None = None) -> TooLarge:
    return TooLarge(
        N_("a line (one row, with any newlines inside its quotes) is longer than the limit of {size}"),
        fix=N_(
            'Look for a quote (") that is opened but never closed, or a cell holding a whole document; '
            "shorten it and export the file again."
        ),
        file=table.file,
        row=row,
        params={"size": _size(limits.line_bytes)},
    )


def clean_batch(batch: pa.RecordBatch, missing: pa.Array, width: int) -> pa.RecordBatch:
    """Trim white space around cells and turn missing values into nulls."""
    arrays = []
    for i in range(width):
        col = pc.utf8_trim_whitespace(batch.column(i))
        arrays.append(pc.if_else(pc.is_in(col, value_set=missing), arrow.scalar(None, pa.string()), col))
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _plain_arrow_error(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return text.replace("CSV parse error: ", "").strip()
