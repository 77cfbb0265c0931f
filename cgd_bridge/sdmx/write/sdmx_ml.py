"""SDMX-ML data messages (2.1 StructureSpecific and Generic, their time-series variants, 3.0
StructureSpecific), column-wise.

The observations are sorted by series key and period, then each batch's XML is assembled with
Arrow string kernels: every row becomes one string (closing the previous series and opening a
new one where the key changes, then the observation), and the batch's string buffer is written
as it is. No Python object is made per observation.

Every writer takes ``detail`` (``full``, ``dataonly``, ``serieskeysonly``, ``nodata``: series
without observations) and ``dimensionAtObservation`` (``TIME_PERIOD``, any other dimension, or
``AllDimensions`` for observations without series), as SDMX REST data queries do; see
:func:`write_ss30`.

The 2.1 time-series messages (``GenericTimeSeriesData``, ``StructureSpecificTimeSeriesData``:
:func:`write_generic_ts21`, :func:`write_ss_ts21`) are the same data under another root element,
for TIME_PERIOD at the observation only (SDMX 2.1 Section 3A, "time series only" messages): they
refuse any other ``dimensionAtObservation``.

Structure-specific messages carry ``namespace``, ``dimensionAtObservation`` and ``xsi:type``
so that readers (sdmx1, pysdmx) need no DSD beside them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import BinaryIO
from xml.sax.saxutils import escape as xml_escape

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write._text import (
    TIME,
    Layout,
    as_text,
    between,
    constant_columns,
    join,
    series_boundaries,
    shape,
    sorted_batches,
    time_series_only,
    write_strings,
)

NS_MESSAGE = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
NS_GENERIC = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic"
NS_SS = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _escape(values: pa.Array) -> pa.Array:
    """XML-escape text for an attribute value (only when something needs it)."""
    if not pc.any(pc.match_substring_regex(values, r"[&<>\"]")).as_py():
        return values
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        values = pc.replace_substring(values, old, new)
    return values


def _xml_attr(name: str, values: pa.Array, *, optional: bool) -> pa.Array:
    """`` NAME="value"`` per row; empty where the value is null (when optional)."""
    text = join([f' {name}="', _escape(pc.fill_null(values, "")), '"'])
    return pc.if_else(pc.is_valid(values), text, "") if optional else text


def _escape_text(value: str) -> str:
    """XML-escape one attribute value (the Python twin of :func:`_escape`)."""
    return xml_escape(value, {'"': "&quot;"})


class _Attributes:
    """`` NAME="value"`` text per row for a table's columns; a column with one value in every row
    is made once, as a literal, instead of once per row."""

    def __init__(self, table: pa.Table, columns: list[str]) -> None:
        self.fixed = constant_columns(table, columns)

    def __call__(self, name: str, batch: pa.RecordBatch, *, optional: bool) -> pa.Array | str:
        value = self.fixed.get(name)
        if value is not None:
            return f' {name}="{_escape_text(value)}"'
        return _xml_attr(name, as_text(batch.column(name)), optional=optional)


def _write_series(
    out: BinaryIO,
    table: pa.Table,
    target: Target,
    series: Callable[[pa.RecordBatch], pa.Array],
    obs: Callable[[pa.RecordBatch], pa.Array],
    close: str,
    lay: Layout,
    constant: dict[str, str] | None = None,
) -> None:
    """Write the observations sorted by series, opening and closing a series where the key changes.

    The series text is built only for the rows that start a series, then interleaved with the
    observations by one ``take``. ``lay`` says which dimensions key the series.
    """
    previous: str | None = None
    constant = constant_columns(table) if constant is None else constant
    for batch in sorted_batches(table, target, constant, lay.order):
        new, last = series_boundaries(batch, target, previous, constant, lay.series)
        starts = np.flatnonzero(arrow.to_numpy(new))
        obs_text = obs(batch)
        if starts.size:
            closing = between(len(starts), previous is None, close)
            heads = join([closing, series(batch.take(pa.array(starts)))])
            # row i's observation comes after the heads of the series that start at or before i
            n = batch.num_rows
            is_head = np.zeros(n + len(starts), dtype=bool)
            is_head[starts + np.arange(len(starts))] = True
            index = np.empty(n + len(starts), dtype=np.int64)
            index[~is_head] = np.arange(n)
            index[is_head] = n + np.arange(len(starts))
            lines = pc.take(pa.concat_arrays([obs_text, heads]), pa.array(index))
        else:
            lines = obs_text
        write_strings(out, lines)
        previous = last
    if previous is not None:
        out.write(close.encode())


def _write_rows(
    out: BinaryIO, table: pa.Table, target: Target, row: Callable[[pa.RecordBatch], pa.Array], lay: Layout
) -> None:
    """Write one element per row, sorted: the observations of a flat message, or the series
    (without observations) of ``detail=serieskeysonly|nodata``."""
    for batch in sorted_batches(table, target, order=lay.order):
        write_strings(out, row(batch))


def _header(root: str, namespaces: str, target: Target, structure: str) -> str:
    prepared = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<message:{root} xmlns:message="{NS_MESSAGE}" xmlns:common="{NS_COMMON}" '
        f'xmlns:xsi="{NS_XSI}"{namespaces}>\n'
        "<message:Header>\n"
        f"<message:ID>CGD{uuid.uuid4().hex[:16].upper()}</message:ID>\n"
        "<message:Test>false</message:Test>\n"
        f"<message:Prepared>{prepared}</message:Prepared>\n"
        f'<message:Sender id="{target.sender}"/>\n'
        f"{structure}\n"
        "</message:Header>\n"
    )


def _structure_id(target: Target) -> str:
    return f"{target.agency}_{target.id}_{target.version}".replace(".", "_").replace("-", "_")


def _ref(target: Target) -> str:
    return f'<Ref agencyID="{target.agency}" id="{target.id}" version="{target.version}"/>'


def namespace(target: Target, dimension_at_observation: str = TIME) -> str:
    """The structure-specific namespace of the dataflow, for its observation dimension."""
    return (
        "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow="
        f"{target.agency}:{target.id}({target.version}):ObsLevelDim:{dimension_at_observation}"
    )


def write_ss21(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    detail: str = "full",
    dimension_at_observation: str = TIME,
) -> int:
    """SDMX-ML 2.1 StructureSpecificData (see :func:`write_ss30` for the options)."""
    return _write_structure_specific(table, target, out, "2.1", detail, dimension_at_observation)


def write_ss_ts21(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    detail: str = "full",
    dimension_at_observation: str = TIME,
) -> int:
    """SDMX-ML 2.1 StructureSpecificTimeSeriesData: :func:`write_ss21` by TIME_PERIOD only.

    Raises:
        FormatError: ``dimension_at_observation`` is not TIME_PERIOD.
    """
    time_series_only("SDMX-ML 2.1 StructureSpecific time-series data", dimension_at_observation)
    return _write_structure_specific(
        table, target, out, "2.1", detail, dimension_at_observation, root="StructureSpecificTimeSeriesData"
    )


def write_ss30(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    detail: str = "full",
    dimension_at_observation: str = TIME,
) -> int:
    """SDMX-ML 3.0 StructureSpecificData.

    Args:
        detail: ``full``; ``dataonly`` (no attributes); ``serieskeysonly`` (one ``Series`` per
            series key, no observations); ``nodata`` (the same with the series attributes).
        dimension_at_observation: ``TIME_PERIOD`` (series by period); another dimension (series
            keyed by the others and TIME_PERIOD, observations by that dimension); or
            ``AllDimensions`` (no series: every ``Obs`` in the data set with its whole key).

    Returns:
        The number of observations written (of series, with ``serieskeysonly``/``nodata``).
    """
    return _write_structure_specific(table, target, out, "3.0", detail, dimension_at_observation)


def _measure(batch: pa.RecordBatch) -> list[pa.Array]:
    """`` OBS_VALUE="..."`` per row (none when the table has no measure: ``measures=none``)."""
    if "OBS_VALUE" not in batch.schema.names:
        return []
    return [_xml_attr("OBS_VALUE", as_text(batch.column("OBS_VALUE")), optional=True)]


def _write_structure_specific(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    version: str,
    detail: str,
    dimension_at_observation: str,
    root: str = "StructureSpecificData",
) -> int:
    table, lay, has_obs, on_series, attrs = shape(table, target, detail, dimension_at_observation)
    sid, ns = _structure_id(target), namespace(target, lay.at)
    typed = f'xsi:type="ns1:DataSetType" ss:structureRef="{sid}"'
    if version == "2.1":
        usage = f"<common:StructureUsage>{_ref(target)}</common:StructureUsage>"
        dataset = f'<message:DataSet ss:dataScope="DataStructure" {typed}>\n'
    else:  # 3.0: references are URNs, and the data set names no scope
        urn = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=" + target.ref
        usage = f"<common:StructureUsage>{urn}</common:StructureUsage>"
        dataset = f"<message:DataSet {typed}>\n"
    structure = (
        f'<message:Structure structureID="{sid}" namespace="{ns}" dimensionAtObservation="{lay.at}">'
        f"{usage}</message:Structure>"
    )
    ss_ns = NS_SS if version == "2.1" else NS_SS.replace("v2_1", "v3_0")
    header = _header(root, f' xmlns:ss="{ss_ns}" xmlns:ns1="{ns}"', target, structure)
    if version != "2.1":
        header = header.replace("/schemas/v2_1/", "/schemas/v3_0/")
    out.write(header.encode())
    out.write(dataset.encode())
    attribute = _Attributes(table, [*lay.order, *on_series, *attrs])

    def key(batch: pa.RecordBatch, dims: tuple[str, ...]) -> list[pa.Array | str]:
        return [attribute(d, batch, optional=d == TIME) for d in dims]

    def series(batch: pa.RecordBatch, end: str = ">\n") -> pa.Array:
        values = [attribute(a, batch, optional=True) for a in on_series]
        return join(["<Series", *key(batch, lay.series), *values, end], rows=batch.num_rows)

    def obs(batch: pa.RecordBatch) -> pa.Array:
        return join(
            [
                "<Obs",
                *key(batch, lay.obs),
                *_measure(batch),
                *[attribute(a, batch, optional=True) for a in attrs],
                "/>\n",
            ],
            rows=batch.num_rows,  # all literals when every column is constant (measures=none)
        )

    if not has_obs:
        _write_rows(out, table, target, lambda b: series(b, "/>\n"), lay)
    elif lay.flat:
        _write_rows(out, table, target, obs, lay)
    else:
        constant = constant_columns(table, [c for c in table.column_names if c not in attribute.fixed])
        _write_series(out, table, target, series, obs, "</Series>\n", lay, constant | attribute.fixed)
    out.write(f"</message:DataSet>\n</message:{root}>\n".encode())
    return table.num_rows


def write_generic_ts21(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    detail: str = "full",
    dimension_at_observation: str = TIME,
) -> int:
    """SDMX-ML 2.1 GenericTimeSeriesData: :func:`write_generic21` by TIME_PERIOD only.

    Raises:
        FormatError: ``dimension_at_observation`` is not TIME_PERIOD.
    """
    time_series_only("SDMX-ML 2.1 Generic time-series data", dimension_at_observation)
    return write_generic21(
        table, target, out, detail=detail, dimension_at_observation=TIME, root="GenericTimeSeriesData"
    )


def write_generic21(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    detail: str = "full",
    dimension_at_observation: str = TIME,
    root: str = "GenericData",
) -> int:
    """SDMX-ML 2.1 GenericData (valid against the base XSD); options as :func:`write_ss30`.

    Observations of a series carry their ``ObsDimension``; with ``AllDimensions`` each ``Obs``
    sits in the data set with its ``ObsKey``. ``root`` is the message element
    (``GenericTimeSeriesData`` for :func:`write_generic_ts21`).
    """
    table, lay, has_obs, on_series, attrs = shape(table, target, detail, dimension_at_observation)
    sid = _structure_id(target)
    structure = (
        f'<message:Structure structureID="{sid}" dimensionAtObservation="{lay.at}">'
        f"<common:StructureUsage>{_ref(target)}</common:StructureUsage></message:Structure>"
    )
    out.write(_header(root, f' xmlns:generic="{NS_GENERIC}"', target, structure).encode())
    out.write(f'<message:DataSet structureRef="{sid}">\n'.encode())

    def value_elements(batch: pa.RecordBatch, ids: Sequence[str], *, optional: bool) -> list[pa.Array]:
        out = []
        for c in ids:
            text = _escape(pc.fill_null(as_text(batch.column(c)), ""))
            element = join(['<generic:Value id="', c, '" value="', text, '"/>'])
            out.append(pc.if_else(pc.is_valid(batch.column(c)), element, "") if optional else element)
        return out

    def attributes(batch: pa.RecordBatch, ids: Sequence[str]) -> pa.Array:
        values = value_elements(batch, ids, optional=True)
        block = join(values) if values else pa.repeat(pa.scalar("", pa.string()), batch.num_rows)
        return pc.if_else(
            pc.equal(block, ""), "", join(["<generic:Attributes>", block, "</generic:Attributes>"])
        )

    def series_key(batch: pa.RecordBatch) -> pa.Array:
        keys = value_elements(batch, lay.series, optional=False)
        return join(["<generic:Series>\n<generic:SeriesKey>", *keys, "</generic:SeriesKey>"])

    def series(batch: pa.RecordBatch) -> pa.Array:
        return join([series_key(batch), attributes(batch, on_series), "\n"])

    def measure(batch: pa.RecordBatch) -> pa.Array | str:
        if "OBS_VALUE" not in batch.schema.names:
            return ""
        value = as_text(batch.column("OBS_VALUE"))
        return pc.if_else(
            pc.is_valid(value), join(['<generic:ObsValue value="', pc.fill_null(value, ""), '"/>']), ""
        )

    def obs(batch: pa.RecordBatch) -> pa.Array:
        (at,) = lay.obs
        named = "" if at == TIME else f' id="{at}"'
        value = _escape(pc.fill_null(as_text(batch.column(at)), ""))
        opening = f'<generic:Obs><generic:ObsDimension{named} value="'
        return join([opening, value, '"/>', measure(batch), attributes(batch, attrs), "</generic:Obs>\n"])

    def flat_obs(batch: pa.RecordBatch) -> pa.Array:
        keys = value_elements(batch, lay.obs, optional=False)
        return join(
            ["<generic:Obs><generic:ObsKey>", *keys, "</generic:ObsKey>", measure(batch),
             attributes(batch, attrs), "</generic:Obs>\n"]
        )  # fmt: skip

    if not has_obs:
        _write_rows(out, table, target, lambda b: join([series(b), "</generic:Series>\n"]), lay)
    elif lay.flat:
        _write_rows(out, table, target, flat_obs, lay)
    else:
        _write_series(out, table, target, series, obs, "</generic:Series>\n", lay)
    out.write(f"</message:DataSet>\n</message:{root}>\n".encode())
    return table.num_rows
