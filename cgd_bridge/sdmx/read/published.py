"""SDMX data as a reader has it, for the disclosure audit (``cgd-bridge audit``).

Reads SDMX-CSV 1.0 and 2.0 (what ``convert`` and the server write; labels ``id``, or ``both``
whose ``CODE: Name`` cells are cut back to the code) into an Arrow table of text columns and
``OBS_VALUE`` as float64, and says which columns are the dimensions: the target DSD's when the
structures know the dataflow, else every column before ``TIME_PERIOD`` (SDMX-CSV writes the
dimensions first, in DSD order).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cgd_bridge.errors import FormatError, InputError

STRUCTURE_COLUMNS = ("DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "ACTION")


@dataclass
class PublishedData:
    """Observations as published: ``table`` (text columns, ``OBS_VALUE`` float64), the
    dimension columns, and the dataflow they belong to (``AGENCY:ID(VERSION)``, if given)."""

    table: pa.Table
    dimensions: list[str]
    dataflow: str | None


def read_published(path: str | Path, *, structures: Any = None) -> PublishedData:
    """Read an SDMX-CSV file the bridge (or anyone) wrote.

    Raises:
        InputError: the file cannot be read.
        FormatError: it is not SDMX-CSV.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read {path.name}: {exc.strerror}", fix="Check the path.", file=path.name
        ) from exc
    head = content[:200].lstrip()
    if head.startswith(b"<") or head.startswith(b"{"):
        raise FormatError(
            f"{path.name} is SDMX-ML or SDMX-JSON; the audit reads SDMX-CSV",
            fix="Write the data as SDMX-CSV (cgd-bridge convert --to sdmx-csv-2.0), or ask the server for "
            "format=csvfile, and audit that.",
        )
    try:
        opts = pacsv.ConvertOptions(strings_can_be_null=True, column_types={})
        table = pacsv.read_csv(io.BytesIO(content), convert_options=opts)
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"{path.name} is not a CSV file ({exc})", fix="Audit an SDMX-CSV file.", file=path.name
        ) from exc
    table = table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))
    names = table.column_names
    if "OBS_VALUE" not in names or not ({"DATAFLOW", "STRUCTURE_ID"} & set(names)):
        raise FormatError(
            f"{path.name} is not SDMX-CSV: it has no DATAFLOW or STRUCTURE_ID column, or no OBS_VALUE",
            fix="Audit an SDMX-CSV 1.0 or 2.0 file as cgd-bridge convert writes it.",
        )
    dataflow = None
    ref_col = "DATAFLOW" if "DATAFLOW" in names else "STRUCTURE_ID"
    if table.num_rows:
        dataflow = table[ref_col][0].as_py()
    table = _codes_only(table)
    dims = _dimensions(names, dataflow, structures)
    value = pc.cast(pc.utf8_trim_whitespace(table["OBS_VALUE"]), pa.float64(), safe=False)
    table = table.set_column(names.index("OBS_VALUE"), "OBS_VALUE", value)
    return PublishedData(table=table, dimensions=dims, dataflow=dataflow)


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
