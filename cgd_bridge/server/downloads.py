"""Downloads: the ``Content-Disposition`` of any file, the spreadsheet and the dataflow bundle.

HTTP headers are Latin-1: a Nepali or Bengali file name written into ``filename="..."`` made the
answer a 500, and a quote in it broke the header. :func:`attachment` gives the RFC 6266 form
every browser and client reads: an ASCII ``filename`` (other characters replaced by ``_``) plus
``filename*`` with the real name, UTF-8 and percent-encoded (RFC 5987).

For people who do not read SDMX (#17), :func:`write_xlsx` writes a selection of the published
view as a spreadsheet: a data sheet with names beside codes and human column headers, a sheet of
each component's codes and names, and a sheet of the quality metadata in words. :func:`write_bundle`
writes the whole dataflow as one ZIP: the data in every data format the server writes, SDMX-CSV
with labels, the spreadsheet, the quality metadata in every metadata format and a README.txt.
Both take the :class:`cgd_bridge.server.sdmx.service.Selection` the server's one information-flow
rule gave (suppressed cells stay suppressed, embargo and access rules hold); nothing here reads
the store's tables.

Memory stays bounded: xlsxwriter's ``constant_memory`` mode writes each row to a temporary file
as it is given (openpyxl keeps every cell object until it saves; xlsxwriter is the writer pandas
uses, maintained and write-only), and the ZIP is written to an unseekable stream entry by entry
(:mod:`zipfile` writes data descriptors), so the server streams it while it is written.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast
from urllib.parse import quote

import pyarrow as pa
import xlsxwriter

from cgd_bridge.i18n import ENGLISH, N_, Translator
from cgd_bridge.mapping.model import formula_like
from cgd_bridge.sdmx.formats import FORMATS, METADATA_FORMATS
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import write as write_format

#: the download formats beside the SDMX ones: name -> (title, file suffix)
SPREADSHEET = "xlsx"
LABELLED_CSV = "sdmx-csv-labels"
EXTRA_FORMATS: dict[str, tuple[str, str]] = {
    SPREADSHEET: ("a spreadsheet (XLSX)", ".xlsx"),
    LABELLED_CSV: ("SDMX-CSV with names beside codes", ".csv"),
}
#: the SDMX format the labelled CSV is written in (``labels=both``: ``CODE: Name``)
LABELLED_CSV_FORMAT = "sdmx-csv-1.0"
#: rows written per batch (the batches are Arrow slices; the spreadsheet's rows go to disk)
_BATCH = 10_000
#: what the XLSX format allows on one sheet (the header row is one of them)
MAX_SHEET_ROWS = 1_048_576
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: what the writers below are given to write the texts a person reads (sheet names, headers, the
#: Quality sheet's titles): a :class:`~cgd_bridge.i18n.Translator`, so a number in such a text is
#: in the language's digits (``সংস্করণ ১২``); cell values stay machine values, written without it
Gettext = Translator


def attachment(filename: str) -> str:
    """``attachment; filename="..."; filename*=UTF-8''...`` for ``filename`` (any characters)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "download"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    encoded = quote(name, safe="")
    if encoded == ascii_name:
        return f'attachment; filename="{ascii_name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


@dataclass(frozen=True)
class QualitySheet:
    """The quality metadata of one published version, as the spreadsheet and README show it.

    Attributes:
        producer: the producing organisation's name.
        dataset: the dataset id; ``version`` its version number.
        record: the ``cgd-quality/1.0`` record as stored (a dict).
    """

    producer: str
    dataset: str
    version: int
    record: Mapping[str, Any]


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
    if isinstance(value, list):
        return "; ".join(str(v) for v in value if v not in (None, ""))
    return "" if value is None else str(value)


def _in_words(w: Any, _: Gettext) -> tuple[str, str]:
    """A field's value in words of the language of ``_``, and the code(s) it was stored as:
    one of a field's allowed values (a licence, a sampling design, a DSAT yes/no answer, the
    ticked conditions of use) is named as the metadata form names it, its code beside; other
    values (free text, numbers, dates) are their own words and have no code."""
    values = w.value if isinstance(w.value, list) else [w.value]
    known = set(w.choices) | set(w.suggested)
    coded = [str(v) for v in values if v not in (None, "")]
    if coded and all(v in known and w.choice_label(v) != v for v in coded):
        return "; ".join(_(w.choice_label(v)) for v in coded), ", ".join(coded)
    return _plain(w.value), ""


def quality_rows(record: Mapping[str, Any], _: Gettext = ENGLISH) -> list[tuple[str, str, str, str, str]]:
    """``(section, field, value, code, what it means)`` for every filled field of a quality
    record, labelled as the metadata form labels them (nested sections joined with ``/``), a
    value from a list of codes in words with its code beside (:func:`_in_words`)."""
    from cgd_bridge.server.web.metadata_form import form_fields

    out: list[tuple[str, str, str, str, str]] = []

    def walk(widgets: Iterable[Any], section: str) -> None:
        for w in widgets:
            if w.children:
                walk(w.children, f"{section} / {_(w.label)}" if section else _(w.label))
                continue
            text, code = _in_words(w, _)
            if text:
                out.append((section, _(w.label), text, code, _(w.help) if w.help else ""))

    walk(form_fields(record), "")
    return out


def _header(target: Target, column: str, _: Gettext) -> str:
    fixed = {"TIME_PERIOD": _("Period"), "OBS_VALUE": _("Value")}
    return fixed.get(column) or target.concepts.get(column) or column


def data_headers(target: Target, columns: Sequence[str], _: Gettext = ENGLISH) -> list[str]:
    """The data sheet's headers: per coded column its name, then ``<name> (code)``."""
    out: list[str] = []
    for c in columns:
        out.append(_header(target, c, _))
        if c in target.names:
            out.append(_("{name} (code)", name=_header(target, c, _)))
    return out


def write_xlsx(
    path: Path,
    table: pa.Table,
    target: Target,
    quality: Sequence[QualitySheet],
    _: Gettext = ENGLISH,
) -> int:
    """Write the spreadsheet of ``table`` (the published view, named ``target``) to ``path``.

    Sheets: ``Data`` (one row per observation: per coded column its name and its code, the
    period, the value as a number, empty where a cell is suppressed), ``Codes`` (each
    component's codes present and their names) and ``Quality`` (the quality metadata of each
    version in words). Text that a spreadsheet would run as a formula (``formula-like-value``)
    is written as text with Excel's quote prefix, so it is shown and kept, never run.

    Returns the number of observations written.

    Raises:
        FormatError: more observations than a sheet holds (the fix: filter, or take SDMX-CSV).
    """
    from cgd_bridge.errors import FormatError

    if not fits_a_sheet(table.num_rows):
        raise FormatError(
            N_("{num_rows} observations do not fit on one spreadsheet sheet (at most {most})"),
            fix=N_("Filter the selection (areas, periods) or download SDMX-CSV, which has no limit."),
            params={"num_rows": table.num_rows, "most": MAX_SHEET_ROWS - 1},
        )
    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    sheets = _Sheets(book)
    sheets.data(table, target, _)
    sheets.codes(table.column_names, target, _)
    sheets.quality(quality, _)
    book.close()
    return table.num_rows


class _Sheets:
    """The three sheets of the spreadsheet, written row by row (constant-memory mode)."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.bold = book.add_format({"bold": True})
        self.quoted = book.add_format({"quote_prefix": True})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})

    def text(self, sheet: Any, row: int, col: int, value: str, fmt: Any = None) -> None:
        """A text cell; formula-like text gets the quote prefix (shown and kept, never run)."""
        if formula_like(value):
            sheet.write_string(row, col, value, self.quoted)
        elif fmt is not None:
            sheet.write_string(row, col, value, fmt)
        else:
            sheet.write_string(row, col, value)

    def data(self, table: pa.Table, target: Target, _: Gettext) -> None:
        sheet = self.book.add_worksheet(_("Data"))
        columns = table.column_names
        for j, h in enumerate(data_headers(target, columns, _)):
            self.text(sheet, 0, j, h, self.bold)
        sheet.freeze_panes(1, 0)
        row = 1
        for batch in table.to_batches(max_chunksize=_BATCH):
            values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for i in range(batch.num_rows):
                j = 0
                for c, col in zip(columns, values, strict=True):
                    j = self._cell(sheet, row, j, c, col[i], target)
                row += 1

    def _cell(self, sheet: Any, row: int, j: int, column: str, v: Any, target: Target) -> int:
        """Write one observation's value of ``column`` from cell ``j``; the next free column."""
        if column == "OBS_VALUE":
            number = _number(v)
            if number is not None:
                sheet.write_number(row, j, number)
            elif v not in (None, ""):
                self.text(sheet, row, j, str(v))
            return j + 1
        code = "" if v is None else str(v)
        if column in target.names:
            if code:
                self.text(sheet, row, j, target.name_of(column, code))
            j += 1
        if code:
            self.text(sheet, row, j, code)
        return j + 1

    def codes(self, columns: Sequence[str], target: Target, _: Gettext) -> None:
        sheet = self.book.add_worksheet(_("Codes"))
        for j, h in enumerate((_("Column"), _("Code"), _("Name"))):
            self.text(sheet, 0, j, h, self.bold)
        r = 1
        for c in columns:
            for code, name in sorted(target.names.get(c, {}).items()):
                for j, cell in enumerate((_header(target, c, _), code, name)):
                    self.text(sheet, r, j, cell)
                r += 1

    def quality(self, quality: Sequence[QualitySheet], _: Gettext) -> None:
        sheet = self.book.add_worksheet(_("Quality"))
        sheet.set_column(0, 1, 28)
        sheet.set_column(2, 2, 60)
        sheet.set_column(3, 3, 24)
        sheet.set_column(4, 4, 60)
        r = 0
        for q in quality:
            title = f"{q.producer}: {q.dataset}, " + _("version {n}", n=q.version)
            self.text(sheet, r, 0, title, self.bold)
            r += 1
            for j, h in enumerate((_("Section"), _("Field"), _("Value"), _("Code"), _("What it means"))):
                self.text(sheet, r, j, h, self.bold)
            r += 1
            for cells in quality_rows(q.record, _):
                for j, cell in enumerate(cells):
                    self.text(sheet, r, j, cell, self.wrap if j in (2, 4) else None)
                r += 1
            r += 1


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return None
    return None


def xlsx_bytes_to(
    out: IO[bytes], table: pa.Table, target: Target, quality: Sequence[QualitySheet], _: Gettext = ENGLISH
) -> int:
    """:func:`write_xlsx` into a temporary file, then copied to ``out`` (a stream or the ZIP)."""
    with tempfile.TemporaryDirectory(prefix="cgdb-xlsx-") as tmp:
        path = Path(tmp) / "data.xlsx"
        n = write_xlsx(path, table, target, quality, _)
        with path.open("rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
    return n


def readme(
    target: Target, quality: Sequence[QualitySheet], entries: Sequence[tuple[str, str]], when: dt.datetime
) -> str:
    """The bundle's README.txt: what the dataflow is, who produced it, and every file in it."""
    lines = [
        f"{target.name or target.id} ({target.ref})",
        "",
        f"Downloaded from cgd-bridge on {when:%Y-%m-%d %H:%M} UTC.",
        "This is citizen-generated data as published: cells withheld to protect people",
        "(OBS_STATUS Q, CONF_STATUS C) have no value in any file.",
        "",
        "Producers:",
        *[f"  - {q.producer}: {q.dataset}, version {q.version}" for q in quality],
        "",
        "Files:",
        *[f"  {name:<40} {about}" for name, about in entries],
        "",
    ]
    return "\n".join(lines)


def fits_a_sheet(rows: int) -> bool:
    """True when ``rows`` observations fit on one spreadsheet sheet (below the header row)."""
    return rows < MAX_SHEET_ROWS


def bundle_entries(
    ident: str, quality: Sequence[QualitySheet], rows: int = 0
) -> list[tuple[str, str, str, str]]:
    """``(file name, kind, format name, what it is)`` of every file of a bundle, README excepted;
    the spreadsheet only when ``rows`` fit on a sheet (the README says so otherwise)."""
    out: list[tuple[str, str, str, str]] = []
    if fits_a_sheet(rows):
        out.append(
            (f"{ident}.xlsx", "xlsx", SPREADSHEET, "spreadsheet: data with names, codes, quality metadata")
        )
    out.append((f"data/{ident}-labels.csv", "data", LABELLED_CSV, "SDMX-CSV 1.0 with names beside codes"))
    for f in FORMATS.values():
        if f.writer:
            out.append((f"data/{ident}-{f.name}{f.suffix}", "data", f.name, f.title))
    for i, q in enumerate(quality):
        for f in METADATA_FORMATS.values():
            if f.writer:
                slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in q.dataset) or f"dataset-{i}"
                out.append((f"metadata/{slug}-v{q.version}-{f.name}{f.suffix}", "metadata", f.name, f.title))
    return out


def write_bundle(
    out: BinaryIO,
    table: pa.Table,
    target: Target,
    quality: Sequence[QualitySheet],
    *,
    when: dt.datetime,
    _: Gettext = ENGLISH,
) -> int:
    """The whole selection as one ZIP written to ``out`` (which need not seek): README.txt, the
    spreadsheet, SDMX-CSV with labels, the data in every format, the quality metadata in every
    metadata format. Returns the number of observations."""
    from cgd_bridge.metadata import QualityMetadata
    from cgd_bridge.sdmx.write.refmeta import render_metadata

    entries = bundle_entries(target.id, quality, table.num_rows)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        text = readme(target, quality, [(n, a) for n, _k, _f, a in entries], when)
        if not fits_a_sheet(table.num_rows):
            text += (
                f"\nNo spreadsheet: {table.num_rows} observations are more than one sheet holds "
                f"({MAX_SHEET_ROWS - 1}); data/{target.id}-labels.csv has the names beside the codes.\n"
            )
        z.writestr("README.txt", text)
        for i, (name, kind, fmt, _about) in enumerate(entries):
            with z.open(name, "w", force_zip64=True) as f:
                if fmt == SPREADSHEET:
                    xlsx_bytes_to(f, table, target, quality, _)
                elif fmt == LABELLED_CSV:
                    write_format(LABELLED_CSV_FORMAT, table, target, cast(BinaryIO, f), labels="both")
                elif kind == "data":
                    write_format(fmt, table, target, cast(BinaryIO, f))
                else:
                    q = quality[_quality_index(entries, i)]
                    md = QualityMetadata.model_validate(dict(q.record))
                    f.write(render_metadata(md, target, fmt, prepared=when))
    return table.num_rows


def _quality_index(entries: Sequence[tuple[str, str, str, str]], i: int) -> int:
    """Which producer's metadata entry ``i`` is (the metadata entries come per producer, in order)."""
    first = next(k for k, e in enumerate(entries) if e[1] == "metadata")
    per = sum(1 for f in METADATA_FORMATS.values() if f.writer)
    return (i - first) // per


# ---------------------------------------------------------------- the routes' one entry


def quality_of(bridge: Any, version_ids: Sequence[int]) -> list[QualitySheet]:
    """The quality metadata of the versions a selection read (readable ones only: the caller
    passes :attr:`Selection.versions`, which the access rules gave)."""
    from cgd_bridge.store.models import Version

    out = []
    with bridge.sessions() as session:
        for vid in version_ids:
            v = session.get(Version, vid)
            if v is None:
                continue
            s = v.submission
            out.append(QualitySheet(s.producer.name, s.dataset, v.number, dict(v.metadata_json or {})))
    return out


async def download_response(
    request: Any,
    bridge: Any,
    principal: Any,
    *,
    flow_ref: Any,
    key_text: str,
    params: Any,
    fmt: str,
    now: dt.datetime,
    _: Gettext = ENGLISH,
) -> Any:
    """The answer of a spreadsheet (``xlsx``), labelled SDMX-CSV or ``bundle`` download of the
    published view (:func:`cgd_bridge.server.sdmx.service.published_selection`), streamed."""
    from fastapi.responses import StreamingResponse
    from starlette.concurrency import run_in_threadpool

    from cgd_bridge.server.sdmx.service import published_selection
    from cgd_bridge.server.streaming import astream

    selection = await published_selection(
        request, bridge, principal, flow_ref=flow_ref, key_text=key_text, params=params
    )
    table, target = selection.table, selection.target
    if fmt == SPREADSHEET and not fits_a_sheet(table.num_rows):
        from cgd_bridge.errors import FormatError

        # said before anything streams (a failure inside the stream would cut the file short)
        raise FormatError(
            N_("{num_rows} observations do not fit on one spreadsheet sheet (at most {most})"),
            fix=N_("Filter the selection (areas, periods) or download SDMX-CSV, which has no limit."),
            params={"num_rows": table.num_rows, "most": MAX_SHEET_ROWS - 1},
        )
    stamp = now.strftime("%Y%m%d")
    headers = {"X-Observations": str(table.num_rows)}
    if fmt == LABELLED_CSV:
        name, media = f"{target.id}-{stamp}-labels.csv", "text/csv; charset=utf-8"

        def write(out: BinaryIO) -> object:
            return write_format(LABELLED_CSV_FORMAT, table, target, out, labels="both")

    else:
        quality = await run_in_threadpool(quality_of, bridge, [v.id for v in selection.versions])
        if fmt == SPREADSHEET:
            name, media = f"{target.id}-{stamp}.xlsx", XLSX_MEDIA_TYPE

            def write(out: BinaryIO) -> object:
                return xlsx_bytes_to(out, table, target, quality, _)

        else:
            name, media = f"{target.id}-{stamp}.zip", "application/zip"

            def write(out: BinaryIO) -> object:
                return write_bundle(out, table, target, quality, when=now, _=_)

    headers["Content-Disposition"] = attachment(name)
    return StreamingResponse(astream(write), media_type=media, headers=headers)
