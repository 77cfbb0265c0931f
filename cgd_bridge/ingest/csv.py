"""CSV reading: encoding and delimiter detection, then a streaming Arrow reader.

Encodings: UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), and, when
the bytes are not valid UTF-8, Windows-1252 (or Latin-1 where a byte is undefined in
Windows-1252). The whole file is checked for UTF-8 validity in 8 MiB blocks before reading,
so a stray byte at row 900,000 is detected too; the report says which encoding was used.

Delimiters: comma, semicolon, tab and pipe, sniffed from the first rows. Quoted fields may
contain delimiters and newlines.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from cgd_bridge.errors import InputError
from cgd_bridge.findings import InputInfo
from cgd_bridge.ingest.table import SkippedRow, SourceColumn, SourceTable

SAMPLE_BYTES = 256 * 1024
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """Return ``(encoding, note)`` for a text file; ``note`` explains a non-UTF-8 choice."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", None
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", "The file is UTF-16 (Excel 'Unicode text'); it was read as such."
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        while block := fh.read(8 << 20):
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


def _fallback_encoding(path: Path, bad_offset: int) -> tuple[str, str]:
    with path.open("rb") as fh:
        before = fh.read(bad_offset)
        raw = before + fh.read(64)
    line = before.count(b"\n") + 1
    try:
        raw.decode("cp1252")
        enc, label = "cp1252", "Windows-1252 (cp1252)"
    except UnicodeDecodeError:
        enc, label = "latin-1", "Latin-1 (ISO-8859-1)"
    return enc, (
        f"The file is not UTF-8 (first non-UTF-8 byte on line {line}); it was read as {label}. "
        "Check that accented letters look right in the report, and save the file as "
        "'CSV UTF-8' to be sure."
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


def open_csv(path: Path, info: InputInfo, *, delimiter: str | None = None) -> SourceTable:
    """Open a CSV file: detect encoding and delimiter, read the header, prepare streaming."""
    encoding, note = detect_encoding(path)
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    text = sample.decode(encoding, errors="replace")
    if encoding == "utf-16":
        text = sample.decode("utf-16", errors="ignore")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise InputError(
            "the file is empty",
            fix="Export the dataset again: the first row must hold the column names.",
            file=path.name,
        )
    delim = delimiter or sniff_delimiter(text)
    header = next(_first_rows(text + "\n", delim, 1), [])
    if not header:
        raise InputError(
            "the first row (the column names) is empty",
            fix="Put the column names in row 1, with the data below them.",
            file=path.name,
            row=1,
        )
    info.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
    info.delimiter = delim
    notes = [note] if note else []
    if encoding == "utf-8-sig":
        notes.append("The file starts with a UTF-8 byte-order mark (BOM); it was read as UTF-8.")
    if delim != ",":
        notes.append(f"Cells are separated by {_DELIMITER_NAMES[delim]}s.")
    columns = [SourceColumn(i, h.strip(), h.strip()) for i, h in enumerate(header)]
    table = SourceTable(path=path, info=info, columns=columns, _batches=lambda *_: iter(()))
    table.notes.extend(notes)
    table._batches = lambda rows, missing: _stream(table, encoding, delim, rows, missing)
    return table


def _stream(
    table: SourceTable, encoding: str, delimiter: str, batch_rows: int, missing: tuple[str, ...]
) -> Iterator[pa.RecordBatch]:
    names = [c.key for c in table.columns]
    width = len(names)

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        table.skipped.append(
            SkippedRow(
                row=row.number if row.number is not None else -1,
                expected=row.expected_columns,
                actual=row.actual_columns,
                text=row.text[:200],
            )
        )
        return "skip"

    # ~100 bytes a row is typical for CSO tables; blocks of 4-16 MiB keep batches near batch_rows
    block = max(1 << 20, min(16 << 20, batch_rows * 80))
    reader = pa_csv.open_csv(
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
    missing_set = pa.array(sorted(set(missing) | {""}), pa.string())
    try:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            yield clean_batch(batch, missing_set, width)
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"the CSV file cannot be split into cells ({_plain_arrow_error(exc)})",
            fix='Look for a quote (") that is opened but never closed, then export the file again.',
            file=table.file,
        ) from exc


def clean_batch(batch: pa.RecordBatch, missing: pa.Array, width: int) -> pa.RecordBatch:
    """Trim white space around cells and turn missing values into nulls."""
    arrays = []
    for i in range(width):
        col = pc.utf8_trim_whitespace(batch.column(i))
        arrays.append(pc.if_else(pc.is_in(col, value_set=missing), pa.scalar(None, pa.string()), col))
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _plain_arrow_error(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return text.replace("CSV parse error: ", "").strip()
