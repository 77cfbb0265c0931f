"""CSO files -> a columnar :class:`SourceTable` (CSV, XLSX, Kobo/ODK exports with their XLSForm)."""

from __future__ import annotations

from pathlib import Path

from cgd_bridge.errors import InputError, what_is_not_a_file
from cgd_bridge.findings import InputInfo
from cgd_bridge.i18n import N_
from cgd_bridge.ingest.csv import CsvLimits, open_csv
from cgd_bridge.ingest.form import XLSForm
from cgd_bridge.ingest.kobo import read_xlsform, resolve_columns
from cgd_bridge.ingest.table import DEFAULT_BATCH_ROWS, SourceColumn, SourceTable, file_digest

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "SourceColumn",
    "SourceTable",
    "XLSForm",
    "open_table",
    "read_xlsform",
]

CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
XLSX_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}


def open_table(
    path: str | Path,
    *,
    sheet: str | None = None,
    form: str | Path | XLSForm | None = None,
    delimiter: str | None = None,
    csv_limits: CsvLimits | None = None,
) -> SourceTable:
    """Open a CSO data file (CSV or spreadsheet), resolving Kobo/ODK headers.

    Args:
        path: the data file.
        sheet: for spreadsheets, the sheet to read (default: the first).
        form: the XLSForm the data was collected with (path or parsed), if any.
        delimiter: force a CSV delimiter instead of sniffing it.
        csv_limits: the CSV reader's limits (default :data:`cgd_bridge.ingest.csv.LIMITS`).

    Raises:
        InputError: the file is missing, empty or not a table cgd-bridge can read.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(
            what_is_not_a_file(p),
            fix=N_("Check the path and the file name."),
            file=str(path),
        )
    digest, size = file_digest(p)
    suffix = p.suffix.lower()
    kind = "xlsx" if suffix in XLSX_SUFFIXES else "csv"
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        with p.open("rb") as fh:
            kind = "xlsx" if fh.read(4) == b"PK\x03\x04" else "csv"
    if kind == "xlsx" and suffix == ".xls":
        with p.open("rb") as fh:
            if fh.read(4) != b"\xd0\xcf\x11\xe0":
                kind = "csv"  # some tools write CSV with an .xls name
    info = InputInfo(file=p.name, kind="data", format=kind, sha256=digest, bytes=size)
    if kind == "xlsx":
        from cgd_bridge.ingest.xlsx import open_xlsx  # calamine only for spreadsheets

        table = open_xlsx(p, info, sheet=sheet)
    else:
        table = open_csv(p, info, delimiter=delimiter, limits=csv_limits or CsvLimits())
    parsed = read_xlsform(Path(form)) if isinstance(form, str | Path) else form
    table.form = parsed
    table.columns = resolve_columns(table.columns, parsed)
    info.columns = [c.header for c in table.columns]
    info.notes.extend(table.notes)
    if parsed is not None and parsed.has_repeats and kind == "csv":
        raise InputError(
            N_("the form {form} has repeat groups, which a CSV export cannot carry"),
            fix=N_("Download the Kobo/ODK export as XLSX (it keeps repeat groups as extra sheets)."),
            file=p.name,
            params={"form": parsed.file},
        )
    return table
