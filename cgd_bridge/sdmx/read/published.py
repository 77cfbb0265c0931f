"""SDMX data as a reader has it, for the disclosure audit (``cgd-bridge audit``).

Reads SDMX-CSV 1.0 and 2.0 (what ``convert`` and the server write; labels ``id``, or ``both``
whose ``CODE: Name`` cells are cut back to the code) into an Arrow table of text columns and
``OBS_VALUE`` as float64, and says which columns are the dimensions: the target DSD's when the
structures know the dataflow, else every column before ``TIME_PERIOD`` (SDMX-CSV writes the
dimensions first, in DSD order).

SDMX-ML 2.1 (structure-specific or generic data) is read as the NSO's official data is
(:func:`cgd_bridge.sdmx.read.data.read_official`, sdmx1 with the DSD), for the dataflow its
header names (``StructureUsage``), which the structures must know. SDMX-ML 3.0 and SDMX-JSON are
refused with a message that says what to audit instead.
"""

from __future__ import annotations

import io
import re
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
    format: str = "sdmx-csv"


def read_published(path: str | Path, *, structures: Any = None) -> PublishedData:
    """Read an SDMX-CSV or SDMX-ML 2.1 data file the bridge (or anyone) wrote.

    Raises:
        InputError: the file cannot be read.
        FormatError: it is not SDMX-CSV or SDMX-ML 2.1 (SDMX-ML 3.0, SDMX-JSON), or an SDMX-ML
            file names no dataflow.
        OfficialDataError: an SDMX-ML file does not fit its dataflow's DSD.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read {path.name}: {exc.strerror}", fix="Check the path.", file=path.name
        ) from exc
    head = content[:200].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        raise FormatError(
            f"{path.name} is SDMX-JSON; the audit reads SDMX-CSV and SDMX-ML 2.1",
            fix="Write the data as SDMX-CSV (cgd-bridge convert --to sdmx-csv-2.0), or ask the server for "
            "format=csvfile, and audit that.",
        )
    if head.startswith(b"<"):
        return _read_xml(content, path.name, structures)
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


_USAGE_REF = re.compile(
    rb'StructureUsage>\s*<Ref\b(?=[^>]*\bagencyID="([^"]+)")(?=[^>]*\bid="([^"]+)")(?=[^>]*\bversion="([^"]+)")'
)
_SDMX_ML_30 = b"http://www.sdmx.org/resources/sdmxml/schemas/v3_0/"


def _read_xml(content: bytes, name: str, structures: Any) -> PublishedData:
    """An SDMX-ML 2.1 data message, for the dataflow its header names."""
    from cgd_bridge.sdmx.read.data import read_official

    header = content[:8192]
    fix = "Write the data as SDMX-CSV or SDMX-ML 2.1 (cgd-bridge convert --to sdmx-csv-2.0) and audit that."
    if _SDMX_ML_30 in header:
        raise FormatError(f"{name} is SDMX-ML 3.0; the audit reads SDMX-CSV and SDMX-ML 2.1", fix=fix)
    found = _USAGE_REF.search(header)
    if found is None:
        raise FormatError(
            f"{name} is XML but its header names no dataflow (message:Structure/common:StructureUsage/Ref), "
            "so its DSD is not known",
            fix=fix,
        )
    agency, ident, version = (g.decode("utf-8", errors="replace") for g in found.groups())
    dataflow = f"{agency}:{ident}({version})"
    if structures is None:
        raise FormatError(f"{name}: reading SDMX-ML needs the structures of {dataflow}", fix=fix)
    data = read_official(content, name, dataflow=dataflow, structures=structures)
    table = data.table
    for i, col in enumerate(table.column_names):  # sdmx1 gives absent attributes as ""
        if col != "OBS_VALUE" and pa.types.is_string(table.schema.field(i).type):
            table = table.set_column(i, col, pc.if_else(pc.equal(table[col], ""), None, table[col]))
    return PublishedData(
        table=table, dimensions=list(data.dsd.dimensions), dataflow=data.dsd.ref, format=data.format
    )


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
