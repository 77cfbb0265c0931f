"""Reading SDMX data files an NSO loads as its official series: SDMX-CSV 1.0/2.0, SDMX-ML 2.1.

:func:`read_official` takes the bytes of one file and the dataflow they are for, and returns
the observations as an Arrow table of strings and numbers (the DSD's dimensions in key order,
``TIME_PERIOD``, ``OBS_VALUE`` as float64, and any attributes), after checking them against
the dataflow's DSD: every dimension present and no column the DSD does not know, every
dimension code (and every coded attribute value) in its codelist, a number or nothing in
``OBS_VALUE``, a period in ``TIME_PERIOD``, one observation per key. Any problem raises one
:class:`OfficialDataError` that lists the first problems, each with its row (SDMX-CSV, header =
row 1) or observation number (SDMX-ML) and its column, so nothing is half-read.

- SDMX-CSV is read with pyarrow (every column as text); 1.0 has a ``DATAFLOW`` column,
  2.0 ``STRUCTURE``, ``STRUCTURE_ID`` (and maybe ``ACTION``); the reference given must be the
  dataflow loaded for (agency, id, version).
- SDMX-ML 2.1 (generic or structure-specific data) is read with sdmx1 ``read_sdmx`` given the
  DSD, which both kinds need.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cgd_bridge.errors import InputError, StructureError
from cgd_bridge.i18n import ENGLISH, N_, msg, num
from cgd_bridge.sdmx.names import _codelist

MAX_LISTED = 12
CSV_REFERENCE_COLUMNS = {"DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "ACTION"}


#: a problem in words: a composed message (:func:`cgd_bridge.i18n.msg`), translated where shown
Problem = dict[str, Any]


class OfficialDataError(InputError):
    """An official data file that does not fit its dataflow; ``problems`` lists each one.

    Attributes:
        problems: ``[(row or None, column or None, text)]``, the first :data:`MAX_LISTED`.
        total: how many problems were found in all.
    """

    title = N_("Cannot load the official data")

    def __init__(
        self,
        file: str,
        problems: list[tuple[int | None, str | None, Problem]],
        total: int,
        *,
        fix: Problem,
        unit: str,
    ) -> None:
        self.problems = [(r, c, ENGLISH.text(t)) for r, c, t in problems]
        self.total = total
        items = [_listed(r, c, t, unit) for r, c, t in problems]
        # the fix is a composed message: its template is the error's fix, its values join the params
        fix_template, fix_params = str(fix["msg"]), dict(fix.get("params") or {})
        if total == 1 and problems:
            row, column, text = problems[0]
            super().__init__(
                N_("{problem}; nothing was stored"),
                fix=fix_template,
                file=file,
                row=row,
                field=column,
                params={**fix_params, "problem": text},
            )
            return
        # the list joined by "; ": punctuation, the same in every language, so no catalogue entry
        listed = {
            "msg": "; ".join(f"{{p{i}}}" for i in range(len(items))),
            "params": {f"p{i}": x for i, x in enumerate(items)},
        }
        more = msg(N_(" (and {n} more)"), n=total - len(problems)) if total > len(problems) else ""
        super().__init__(
            N_("{n} problems, nothing was stored: {listed}{more}"),
            fix=fix_template,
            file=file,
            params={**fix_params, "n": num(total), "listed": listed, "more": more},
        )


def _listed(row: int | None, column: str | None, text: Problem, unit: str) -> Problem:
    """One problem with where it is: "row 2, column 'SEX': ..." (``unit``: row or observation)."""
    place = None
    if row is not None:
        place = msg(N_("observation {n}"), n=row) if unit == "observation" else msg(N_("row {n}"), n=row)
    where = msg(N_("column '{column}'"), column=column) if column else None
    if place and where:
        return msg(N_("{place}, {column}: {problem}"), place=place, column=where, problem=text)
    if place or where:
        return msg(N_("{place}: {problem}"), place=place or where, problem=text)
    return text


@dataclass
class DsdInfo:
    """What the checks need of a dataflow's DSD.

    Attributes:
        ref: ``AGENCY:ID(VERSION)`` of the dataflow, e.g. ``CGD_BRIDGE:DF_CGD_KE(1.0)``.
        dimensions: the dimension ids in key order, without ``TIME_PERIOD``.
        attributes: the attribute ids.
        codelists: component id -> codelist reference (``AGENCY:ID(VERSION)``), for coded ones.
        dsd: the sdmx1 DataStructureDefinition.
    """

    ref: str
    agency: str
    id: str
    version: str
    dimensions: list[str]
    attributes: list[str]
    codelists: dict[str, str] = field(default_factory=dict)
    dsd: Any = None


@dataclass
class OfficialData:
    """The observations of an official file, checked.

    Attributes:
        table: dimensions, ``TIME_PERIOD``, ``OBS_VALUE`` (float64) and attributes.
        format: ``sdmx-csv-1.0``, ``sdmx-csv-2.0`` or ``sdmx-ml-2.1``.
    """

    table: pa.Table
    format: str
    dsd: DsdInfo


def dsd_info(structures: Any, dataflow: str) -> DsdInfo:
    """The DSD of ``dataflow`` (``AGENCY:ID(VERSION)``) from the structures.

    Raises:
        StructureError: the dataflow or its DSD is not known.
    """
    from cgd_bridge.sdmx.refs import parse_ref
    from cgd_bridge.structures import ref_of

    agency, ident, version = parse_ref(dataflow)
    info = structures.find("dataflow", ident, agency, version)
    flow = structures.dataflow(info.id, info.agency, info.version)
    ref = flow.structure
    dsd = structures.dsd(
        ref.id, ref.maintainer.id if ref.maintainer else None, ref.version and str(ref.version)
    )
    dims = [
        d.id
        for d in dsd.dimensions.components
        if d.id != "TIME_PERIOD" and type(d).__name__ != "TimeDimension"
    ]
    attrs = [a.id for a in dsd.attributes.components]
    codelists = {}
    for comp in [*dsd.dimensions.components, *dsd.attributes.components]:
        cl = _codelist(comp)
        if cl is not None:
            codelists[comp.id] = ref_of(cl)
    return DsdInfo(
        ref=f"{info.agency}:{info.id}({info.version})",
        agency=info.agency,
        id=info.id,
        version=info.version,
        dimensions=dims,
        attributes=attrs,
        codelists=codelists,
        dsd=dsd,
    )


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[int | None, str | None, Problem]] = []
        self.total = 0

    def add(self, row: int | None, column: str | None, text: Problem) -> None:
        self.total += 1
        if len(self.items) < MAX_LISTED:
            self.items.append((row, column, text))

    def extend(self, found: Iterable[tuple[int | None, str | None, Problem]]) -> None:
        for r, c, t in found:
            self.add(r, c, t)


def _is_xml(content: bytes) -> bool:
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def read_official(content: bytes, filename: str, *, dataflow: str, structures: Any) -> OfficialData:
    """The checked observations of one SDMX data file for ``dataflow`` (see the module docstring).

    Raises:
        OfficialDataError: the file does not fit the dataflow (each problem listed).
        InputError: the file is empty or not SDMX-CSV/SDMX-ML at all.
        StructureError: the dataflow is not known.
    """
    info = dsd_info(structures, dataflow)
    if not content.strip():
        raise InputError(
            N_("the file is empty"),
            fix=N_("Choose the SDMX-CSV or SDMX-ML data file."),
            file=filename,
            params={},
        )
    if _is_xml(content):
        table, fmt, first_row, unit = _read_xml(content, filename, info), "sdmx-ml-2.1", 1, "observation"
    else:
        table, fmt = _read_csv(content, filename, info)
        first_row, unit = 2, "row"
    table = _check(table, filename, info, structures, first_row=first_row, unit=unit)
    return OfficialData(table=table, format=fmt, dsd=info)


_FIX = N_(
    "Write the file for the dataflow {ref} with its DSD's dimension ids as column names "
    "(cgd-bridge convert writes such files), and the codes of its codelists."
)


def _read_csv(content: bytes, filename: str, info: DsdInfo) -> tuple[pa.Table, str]:
    text = content.removeprefix(b"\xef\xbb\xbf")
    try:
        text.decode("utf-8")  # Arrow checks the values, not the column names
    except UnicodeDecodeError as exc:
        line = text.count(b"\n", 0, exc.start) + 1
        raise InputError(
            N_("the file is not UTF-8 text: line {line} holds a byte that is not"),
            fix=N_("Save the file as CSV UTF-8 (in a spreadsheet: Save as, CSV UTF-8) and upload it again."),
            file=filename,
            row=line,
            params={"line": line},
        ) from None
    first = text.split(b"\n", 1)[0].decode("utf-8").strip("\r")
    header = [h.strip() for h in next(csv.reader([first]), [])]
    if len(header) < 3 or len(set(header)) != len(header):
        raise InputError(
            N_(
                "this is neither SDMX-ML (XML) nor an SDMX-CSV file (its first line is not a header of "
                "distinct component ids)"
            ),
            fix=N_("Upload SDMX-CSV 1.0 or 2.0 (a header row of component ids) or SDMX-ML 2.1 data."),
            file=filename,
            row=1,
            params={},
        )
    try:
        table = pacsv.read_csv(
            io.BytesIO(text),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(
            N_("the CSV cannot be read: {reason}"),
            fix=N_("Check that every row has as many fields as the header and that the file is UTF-8."),
            file=filename,
            params={"reason": str(exc).splitlines()[0]},
        ) from None
    if "DATAFLOW" in header:
        fmt, ref_col = "sdmx-csv-1.0", "DATAFLOW"
    elif "STRUCTURE" in header and "STRUCTURE_ID" in header:
        fmt, ref_col = "sdmx-csv-2.0", "STRUCTURE_ID"
    else:
        raise InputError(
            N_(
                "the first columns are {columns}, not DATAFLOW (SDMX-CSV 1.0) or STRUCTURE, "
                "STRUCTURE_ID (SDMX-CSV 2.0)"
            ),
            fix=N_(
                "Upload an SDMX-CSV file (cgd-bridge convert --to sdmx-csv-1.0 writes one) or SDMX-ML 2.1."
            ),
            file=filename,
            field=header[0] if header else None,
            params={"columns": ", ".join(header[:3])},
        )
    _check_references(table, fmt, ref_col, filename, info)
    keep = [c for c in header if c not in CSV_REFERENCE_COLUMNS]
    return table.select(keep), fmt


def _check_references(table: pa.Table, fmt: str, ref_col: str, filename: str, info: DsdInfo) -> None:
    """Every row names the dataflow loaded for (and, in SDMX-CSV 2.0, adds data)."""
    problems = _Problems()
    wanted = {info.ref, f"{info.agency}:{info.id}"}
    for i, r in enumerate(table[ref_col].to_pylist()):
        if r.strip() not in wanted:
            problems.add(
                i + 2,
                ref_col,
                msg(N_("'{value}' is not the dataflow {ref} this file is loaded for"), value=r, ref=info.ref),
            )
    if fmt == "sdmx-csv-2.0":
        for i, k in enumerate(table["STRUCTURE"].to_pylist()):
            if k.strip().lower() not in ("dataflow", ""):
                problems.add(i + 2, "STRUCTURE", msg(N_("'{value}' is not 'dataflow'"), value=k))
        for i, a in enumerate(table["ACTION"].to_pylist() if "ACTION" in table.column_names else []):
            if a.strip().upper() not in ("", "I", "A", "R"):
                problems.add(
                    i + 2, "ACTION", msg(N_("'{value}' is not an action that adds data (I, A or R)"), value=a)
                )
    _raise(problems, filename, info, "row")


def _read_xml(content: bytes, filename: str, info: DsdInfo) -> pa.Table:
    import sdmx

    try:
        message = sdmx.read_sdmx(io.BytesIO(content), structure=info.dsd)
    except Exception as exc:  # noqa: BLE001 - sdmx1 raises many unrelated types (style.md section 1)
        raise InputError(
            N_("this is not SDMX-ML 2.1 data that sdmx1 can read with the DSD of {ref} ({reason})"),
            fix=N_("Upload SDMX-ML 2.1 generic or structure-specific data, or SDMX-CSV."),
            file=filename,
            params={
                "ref": info.ref,
                "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            },
        ) from None
    datasets = list(getattr(message, "data", None) or [])
    if not datasets:
        raise InputError(
            N_("the SDMX-ML message holds no data set"),
            fix=N_("Upload an SDMX-ML 2.1 data message (GenericData or StructureSpecificData)."),
            file=filename,
            params={},
        )
    rows: list[dict[str, str | None]] = []
    for ds in datasets:
        for obs in ds.obs:
            key = {**(obs.series_key.values if obs.series_key else {}), **obs.dimension.values}
            row: dict[str, str | None] = {str(k): str(v.value) for k, v in key.items()}
            attrs = {**(obs.series_key.attrib if obs.series_key else {}), **obs.attached_attribute}
            for k, v in attrs.items():
                row[str(k)] = None if v is None or v.value is None else str(v.value)
            row["OBS_VALUE"] = None if obs.value is None else str(obs.value)
            rows.append(row)
    columns: list[str] = []
    for r in rows:
        columns.extend(c for c in r if c not in columns)
    return pa.table({c: pa.array([r.get(c) or "" for r in rows], type=pa.string()) for c in columns})


def _raise(problems: _Problems, filename: str, info: DsdInfo, unit: str) -> None:
    if problems.total:
        raise OfficialDataError(
            filename, problems.items, problems.total, fix=msg(_FIX, ref=info.ref), unit=unit
        )


def _check_columns(table: pa.Table, info: DsdInfo, problems: _Problems) -> None:
    cols = table.column_names
    known = {*info.dimensions, "TIME_PERIOD", "OBS_VALUE", *info.attributes}
    for c in [*info.dimensions, "TIME_PERIOD", "OBS_VALUE"]:
        if c not in cols:
            problems.add(
                None, c, msg(N_("the dimension or measure {id} of {ref} is missing"), id=c, ref=info.ref)
            )
    for c in cols:
        if c not in known:
            problems.add(None, c, msg(N_("{id} is not a component of {ref}"), id=c, ref=info.ref))
    if table.num_rows == 0:
        problems.add(None, None, msg(N_("the file has no observations")))


def _check_codes(
    table: pa.Table, info: DsdInfo, structures: Any, rows: np.ndarray, problems: _Problems
) -> None:
    first_row = int(rows[0]) if len(rows) else 0
    for c in [*info.dimensions, *[a for a in info.attributes if a in table.column_names]]:
        values = pc.utf8_trim_whitespace(table[c])
        filled = np.asarray(pc.not_equal(values, ""))
        if c in info.dimensions:
            for r in rows[~filled]:
                problems.add(int(r), c, msg(N_("no code given")))
        cl = info.codelists.get(c)
        if cl is None:
            continue
        try:
            ok = np.asarray(pc.fill_null(structures.valid_codes_mask(cl, values), False))
        except StructureError:
            continue
        texts = values.to_pylist()
        for r in rows[~ok & filled]:
            problems.add(
                int(r),
                c,
                msg(
                    N_("'{value}' is not a code of {codelist}"), value=texts[int(r) - first_row], codelist=cl
                ),
            )
    periods = pc.utf8_trim_whitespace(table["TIME_PERIOD"])
    for r in rows[~np.asarray(pc.not_equal(periods, ""))]:
        problems.add(int(r), "TIME_PERIOD", msg(N_("no period given")))


def _numbers(table: pa.Table, rows: np.ndarray, problems: _Problems) -> pa.Array:
    numbers: list[float | None] = []
    for i, t in enumerate(pc.utf8_trim_whitespace(table["OBS_VALUE"]).to_pylist()):
        if t in ("", "NaN", "NA"):
            numbers.append(None)
            continue
        try:
            numbers.append(float(t))
        except ValueError:
            numbers.append(None)
            problems.add(
                int(rows[i]),
                "OBS_VALUE",
                msg(N_("'{value}' is not a number (leave it empty for no value)"), value=t),
            )
    return pa.array(numbers, type=pa.float64())


def _check_duplicates(
    table: pa.Table, key_cols: list[str], rows: np.ndarray, unit: str, problems: _Problems
) -> None:
    seen: dict[tuple[str, ...], int] = {}
    keys = zip(*(pc.utf8_trim_whitespace(table[c]).to_pylist() for c in key_cols), strict=True)
    for i, key in enumerate(keys):
        if key in seen:
            first = (
                msg(N_("observation {n}"), n=seen[key])
                if unit == "observation"
                else msg(N_("row {n}"), n=seen[key])
            )
            problems.add(
                int(rows[i]),
                None,
                msg(
                    N_("the observation {key} for {period} is also in {place}"),
                    key=".".join(key[:-1]),
                    period=key[-1],
                    place=first,
                ),
            )
        else:
            seen[key] = int(rows[i])


def _check(
    table: pa.Table, filename: str, info: DsdInfo, structures: Any, *, first_row: int, unit: str
) -> pa.Table:
    problems = _Problems()
    _check_columns(table, info, problems)
    _raise(problems, filename, info, unit)
    rows = np.arange(first_row, first_row + table.num_rows)
    _check_codes(table, info, structures, rows, problems)
    numbers = _numbers(table, rows, problems)
    key_cols = [*info.dimensions, "TIME_PERIOD"]
    if not problems.total:
        _check_duplicates(table, key_cols, rows, unit, problems)
    _raise(problems, filename, info, unit)
    out: dict[str, pa.Array | pa.ChunkedArray] = {c: pc.utf8_trim_whitespace(table[c]) for c in key_cols}
    out["OBS_VALUE"] = numbers
    for a in info.attributes:
        if a in table.column_names:
            out[a] = table[a]
    return pa.table(out)
