"""SDMX data as a reader has it, for the disclosure audit (``cgd-bridge audit``).

Every SDMX data format the bridge writes (:mod:`cgd_bridge.sdmx.formats`) and an NSO may hold:

- SDMX-CSV 1.0 and 2.0 (labels ``id``, or ``both`` whose ``CODE: Name`` cells are cut back to
  the code), read by pyarrow; the dimensions are the target DSD's when the structures know the
  dataflow, else every column before ``TIME_PERIOD`` (SDMX-CSV writes the dimensions first);
- SDMX-ML 2.1 structure-specific and generic data, SDMX-ML 3.0 structure-specific data
  (:mod:`cgd_bridge.sdmx.read.published_xml`: hardened, streaming ``iterparse``; structure-
  specific data needs its DSD from the structures);
- SDMX-JSON 1.0 and 2.0 data (:mod:`cgd_bridge.sdmx.read.published_json`: streaming ijson,
  self-describing).

The result is an Arrow table of text columns with ``OBS_VALUE`` as float64. The XML and JSON
readers hand over rows a series at a time; they are gathered into Arrow a batch at a time, so
memory holds the table, not the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cgd_bridge.errors import FormatError, InputError
from cgd_bridge.i18n import N_, num

STRUCTURE_COLUMNS = ("DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "ACTION")
BATCH_ROWS = 20_000


@dataclass
class PublishedData:
    """Observations as published: ``table`` (text columns, ``OBS_VALUE`` float64), the
    dimension columns, and the dataflow they belong to (``AGENCY:ID(VERSION)``, if given)."""

    table: pa.Table
    dimensions: list[str]
    dataflow: str | None
    format: str = "sdmx-csv"


def read_published(path: str | Path, *, structures: Any = None) -> PublishedData:
    """Read an SDMX data file the bridge (or anyone) wrote: SDMX-CSV 1.0/2.0, SDMX-ML 2.1
    (structure-specific or generic), SDMX-ML 3.0 structure-specific, SDMX-JSON 1.0/2.0.

    Raises:
        InputError: the file cannot be read, or is cut off / not well-formed.
        FormatError: it is not an SDMX data message (a structure, metadata or error message, a
            message that deletes data), it does not fit its own structure, or it is
            structure-specific SDMX-ML whose DSD the structures do not know.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise InputError(
            N_("the file cannot be read ({reason})"),
            fix=N_("Check the path and the file name."),
            file=path.name,
            params={"reason": exc.strerror or type(exc).__name__},
        ) from exc
    if not head:
        raise InputError(
            N_("the file is empty"),
            fix=N_("Give an SDMX data file (SDMX-CSV, SDMX-ML or SDMX-JSON) with observations."),
            file=path.name,
        )
    if head.startswith((b"{", b"[")):
        from cgd_bridge.sdmx.read.published_json import read_json

        rows, dims, dataflow, fmt = read_json(path)
        return _gathered(rows, dims, dataflow, fmt, path.name)
    if head.startswith(b"<"):
        from cgd_bridge.sdmx.read.published_xml import read_xml

        rows, dims, dataflow, fmt = read_xml(path, structures)
        return _gathered(rows, dims, dataflow, fmt, path.name)
    return _read_csv(path, structures)


def _gathered(rows: Iterable[dict[str, str | None]], dims: list[str], dataflow: str | None, fmt: str,
              name: str) -> PublishedData:  # fmt: skip
    """Rows of text into one Arrow table, :data:`BATCH_ROWS` at a time."""
    tables: list[pa.Table] = []
    columns: dict[str, list[str | None]] = {}
    n = 0

    def flush() -> None:
        nonlocal columns, n
        if n:
            tables.append(
                pa.table({c: pa.array(v + [None] * (n - len(v)), pa.string()) for c, v in columns.items()})
            )
        columns, n = {}, 0

    for row in rows:
        for c, v in row.items():
            column = columns.get(c)
            if column is None:
                column = columns[c] = [None] * n
            elif len(column) < n:
                column.extend([None] * (n - len(column)))
            column.append(v)
        n += 1
        if n >= BATCH_ROWS:
            flush()
    flush()
    if not tables:
        raise FormatError(
            N_("the file holds no observations"),
            fix=N_("Give an SDMX data message with observations (not only series keys)."),
            file=name,
        )
    table = pa.concat_tables(tables, promote_options="default")
    missing = [d for d in dims if d not in table.column_names]
    if missing:
        raise FormatError(
            N_("no observation gives the dimension(s) {dims} of its DSD"),
            fix=N_(
                "Give the data message as it was written for its dataflow (every dimension on every series)."
            ),
            file=name,
            params={"dims": ", ".join(missing)},
        )
    if "OBS_VALUE" not in table.column_names:  # every cell suppressed
        table = table.append_column("OBS_VALUE", pa.nulls(table.num_rows, pa.string()))
    return PublishedData(table=_numbers(table, name), dimensions=dims, dataflow=dataflow, format=fmt)


def _numbers(table: pa.Table, name: str) -> pa.Table:
    """``OBS_VALUE`` as float64 (empty, ``NaN`` and ``NA`` as no value)."""
    text = pc.utf8_trim_whitespace(table["OBS_VALUE"])
    text = pc.if_else(pc.is_in(text, pa.array(["", "NaN", "NA"])), None, text)
    try:
        value = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        bad = next(
            (i, t) for i, t in enumerate(text.to_pylist())
            if t is not None and not _is_number(t)
        )  # fmt: skip
        raise FormatError(
            N_("observation {n} has the value '{value}', which is not a number"),
            fix=N_("Give OBS_VALUE as a number, or leave it empty for a suppressed cell."),
            file=name,
            params={"n": num(bad[0] + 1), "value": bad[1]},
        ) from None
    return table.set_column(table.column_names.index("OBS_VALUE"), "OBS_VALUE", value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path, structures: Any) -> PublishedData:
    try:
        opts = pacsv.ConvertOptions(strings_can_be_null=True, column_types={})
        table = pacsv.read_csv(path, convert_options=opts)
        table = table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
        said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            N_("the file is not a UTF-8 CSV file ({reason})"),
            fix=N_(
                "Give an SDMX-CSV file as cgd-bridge convert writes it (UTF-8, a header of component ids)."
            ),
            file=path.name,
            params={"reason": said},
        ) from None
    names = table.column_names
    if "OBS_VALUE" not in names or not ({"DATAFLOW", "STRUCTURE_ID"} & set(names)):
        raise FormatError(
            N_("the file is not SDMX-CSV: it has no DATAFLOW or STRUCTURE_ID column, or no OBS_VALUE"),
            fix=N_("Give an SDMX-CSV 1.0 or 2.0 file as cgd-bridge convert writes it."),
            file=path.name,
        )
    dataflow = None
    ref_col = "DATAFLOW" if "DATAFLOW" in names else "STRUCTURE_ID"
    if table.num_rows:
        dataflow = table[ref_col][0].as_py()
    table = _codes_only(table)
    dims = _dimensions(names, dataflow, structures)
    fmt = "sdmx-csv-1.0" if ref_col == "DATAFLOW" else "sdmx-csv-2.0"
    return PublishedData(table=_numbers(table, path.name), dimensions=dims, dataflow=dataflow, format=fmt)


def _codes_only(table: pa.Table) -> pa.Table:
    """``CODE: Name`` cells (labels=both) back to ``CODE``."""
    out = table
    for i, name in enumerate(table.column_names):
        if name == "OBS_VALUE":
            continue
        col = table[name]
        if pc.any(pc.fill_null(pc.match_substring(col, ": "), False)).as_py():
            out = out.set_column(i, name, pc.replace_substring_regex(col, r": .*$", ""))
    return out


def _dimensions(names: list[str], dataflow: str | None, structures: Any) -> list[str]:
    if structures is not None and dataflow:
        from cgd_bridge.errors import CgdBridgeError
        from cgd_bridge.sdmx.refs import parse_ref

        try:
            agency, ident, version = parse_ref(dataflow)
            flow = structures.dataflow(ident, agency, version)
            ref = flow.structure
            dsd = structures.dsd(ref.id, ref.maintainer.id if ref.maintainer else None, ref.version)
            dims = [
                str(d.id)
                for d in dsd.dimensions.components
                if str(d.id) in names and str(d.id) != "TIME_PERIOD"
            ]
            if dims:
                return dims
        except (CgdBridgeError, AttributeError):
            pass
    stop = names.index("TIME_PERIOD") if "TIME_PERIOD" in names else names.index("OBS_VALUE")
    return [n for n in names[:stop] if n not in STRUCTURE_COLUMNS]
