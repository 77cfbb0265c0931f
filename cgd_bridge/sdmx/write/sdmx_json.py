"""SDMX-JSON 2.0 and 1.0 data messages, written column-wise (series by any dimension, or flat).

Each component's values are listed once in ``structures`` and observations refer to them by
position, so the structure part is computed over the whole table first (distinct codes per
column), then the series are streamed in key order exactly like the SDMX-ML writers: every row's
JSON fragment is assembled with Arrow string kernels and the batch's buffer is written as is.

SDMX-JSON 1.0 (:func:`write_json10`, the SDMX 2.1 data message of the ``sdmx-json`` 1.0 schema)
has the same data sets; it differs in its wrapper: one ``data.structure`` (not a list of
``structures`` that data sets point into), no ``measures`` (the first value of an observation
is the primary measure, ``null`` when ``measures=none``), component values always with an
``id`` and a ``name`` (free-text attribute values with a ``name`` only), and attributes related
to the primary measure or to the series-key dimensions.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write._text import (
    TIME,
    as_text,
    between,
    join,
    series_boundaries,
    shape,
    sorted_batches,
    write_strings,
)

SCHEMA = (
    "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/data-message/tools/schemas/2.0.0/"
    "sdmx-json-data-schema.json"
)
SCHEMA_10 = (
    "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/data-message/tools/schemas/1.0/"
    "sdmx-json-data-schema.json"
)


def _distinct(column: pa.ChunkedArray) -> list[str]:
    values = pc.unique(pc.drop_null(as_text(column))).to_pylist()
    return sorted(str(v) for v in values)


def _positions(values: pa.Array, distinct: list[str]) -> pa.Array:
    """Each value's position in ``distinct``, as text ('null' where missing)."""
    idx = pc.index_in(as_text(values), value_set=pa.array(distinct, pa.string()))
    return pc.fill_null(pc.cast(idx, pa.string()), "null")


_ID = re.compile(r"^[A-Za-z0-9_@$-]+$")


def _code(target: Target, component: str, code: str, version: str = "2.0") -> dict[str, str]:
    """A code as ``{id, name}``; free text (which no codelist enumerates) as ``{value}`` (2.0)
    or ``{name}`` (1.0, which has no ``value``)."""
    if _ID.match(code):
        return {"id": code, "name": target.name_of(component, code)}
    return {"value": code} if version == "2.0" else {"name": code}


def _values(table: pa.Table, column: str) -> list[str]:
    return _distinct(table[column]) if column in table.column_names else []


def _key(batch: pa.RecordBatch, dims: tuple[str, ...], values: dict[str, list[str]]) -> pa.Array:
    """Each row's key as positions joined by ``:`` (e.g. ``0:3:1``)."""
    return pc.binary_join_element_wise(*[_positions(batch.column(d), values[d]) for d in dims], ":")


def _indices(batch: pa.RecordBatch, columns: list[str], values: dict[str, list[str]]) -> list[pa.Array]:
    return [_positions(batch.column(c), values[c]) for c in columns]


def write_json10(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    detail: str = "full",
    dimension_at_observation: str = TIME,
) -> int:
    """SDMX-JSON 1.0 data message (options as :func:`write_json20`)."""
    return _write_json(table, target, out, detail, dimension_at_observation, "1.0")


def write_json20(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    detail: str = "full",
    dimension_at_observation: str = TIME,
) -> int:
    """SDMX-JSON 2.0 data message.

    Args:
        detail: as for SDMX-ML (:func:`cgd_bridge.sdmx.write.sdmx_ml.write_ss30`):
            ``serieskeysonly`` and ``nodata`` write series without ``observations``.
        dimension_at_observation: ``TIME_PERIOD``, another dimension (``dimensions.series``
            are then the others and TIME_PERIOD), or ``AllDimensions`` (``observations`` in the
            data set, keyed by every dimension).

    Series attributes (:attr:`Target.series_attributes`) are listed under ``attributes.series``
    and given per series when TIME_PERIOD is at the observation, else per observation.
    """
    return _write_json(table, target, out, detail, dimension_at_observation, "2.0")


def _write_json(  # noqa: C901 - one message, two versions of its wrapper
    table: pa.Table, target: Target, out: BinaryIO, detail: str, dimension_at_observation: str, version: str
) -> int:
    v1 = version == "1.0"
    table, lay, has_obs, on_series, attrs = shape(table, target, detail, dimension_at_observation)
    position = {d: i for i, d in enumerate((*target.dimensions, TIME))}
    measures = ["OBS_VALUE"] if "OBS_VALUE" in table.column_names else []
    values = {c: _values(table, c) for c in (*lay.order, *on_series, *attrs)}

    def dimension(d: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": d, "name": target.concepts.get(d) or d, "keyPosition": position[d]}
        if d == TIME:
            out["name"] = target.concepts.get(TIME) or "Time period"
            out["roles"] = [TIME]
            out["values"] = [{"id": v, "name": v} if v1 else {"value": v} for v in values[d]]
        else:
            out["values"] = [_code(target, d, v, version) for v in values[d]]
        return out

    def attribute(a: str, relationship: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": a,
            "name": target.concepts.get(a) or a,
            "relationship": relationship,
            "values": [_code(target, a, v, version) for v in values[a]],
        }

    # 1.0 relates observation attributes to the primary measure (2.0: to the observation)
    on_observation: dict[str, Any] = {"primaryMeasure": "OBS_VALUE"} if v1 else {"observation": {}}

    urn = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=" + target.ref
    structure: dict[str, Any] = {
        "name": target.name or f"{target.id} ({target.agency})",
        "links": [{"urn": urn, "rel": "dataflow"}],
        "dimensions": {
            "dataSet": [],
            "series": [dimension(d) for d in lay.series],
            # series without observations list no observation dimension (values need >= 1 item)
            "observation": [dimension(d) for d in lay.obs] if has_obs else [],
        },
        "attributes": {
            "dataSet": [],
            "series": [attribute(a, {"dimensions": list(lay.series)}) for a in on_series],
            "observation": [attribute(a, on_observation) for a in attrs],
        },
        "measures": {
            "observation": [
                {"id": m, "name": target.concepts.get(m) or "Observation value"} for m in measures
            ]
        },
        "dataSets": [0],
    }
    if v1:  # one structure, no measures (the observation's first value is the primary measure)
        del structure["measures"], structure["dataSets"]
    prepared = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    meta = {
        "schema": SCHEMA_10 if v1 else SCHEMA,
        "id": f"CGD{uuid.uuid4().hex[:16].upper()}",
        "test": False,
        "prepared": prepared,
        "contentLanguages": ["en"],
        "sender": {"id": target.sender},
    }
    head = json.dumps({"meta": meta}, ensure_ascii=False)[:-1]  # keep the object open
    out.write(head.encode())
    out.write(b', "data": {"structure": ' if v1 else b', "data": {"structures": [')
    out.write(json.dumps(structure, ensure_ascii=False).encode())
    link = {"urn": urn, "rel": "dataflow"}
    dataset = json.dumps({"action": "Information", "links": [link]} if v1 else
                         {"structure": 0, "action": "Information", "links": [link]})  # fmt: skip
    opened = ', "dataSets": [' if v1 else '], "dataSets": ['
    out.write(f'{opened}{dataset[:-1]}, "{"observations" if lay.flat else "series"}": {{\n'.encode())

    def observation(batch: pa.RecordBatch) -> pa.Array:
        parts = [pc.fill_null(as_text(batch.column(m)), "null") for m in measures]
        if v1 and not measures:  # the first value is the primary measure's, even when left out
            parts = [pa.repeat(pa.scalar("null", pa.string()), batch.num_rows)]
        parts += _indices(batch, attrs, values)
        if not parts:
            array: pa.Array | str = ""
        else:
            array = pc.binary_join_element_wise(*parts, ", ") if len(parts) > 1 else parts[0]
        return join(['"', _key(batch, lay.obs, values), '": [', array, "]"])

    def series_head(batch: pa.RecordBatch) -> pa.Array:
        head = join(['"', _key(batch, lay.series, values), '": {'])
        if on_series:
            listed = pc.binary_join_element_wise(*_indices(batch, on_series, values), ", ")
            head = join([head, '"attributes": [', listed, "]"])
        return head

    first = True
    if not has_obs or lay.flat:
        # one member per row: a series without observations, or an observation of a flat message
        row = observation if has_obs else (lambda b: join([series_head(b), "}"]))
        for batch in sorted_batches(table, target, order=lay.order):
            write_strings(out, join([between(batch.num_rows, first, ",\n"), row(batch)]))
            first = False
        out.write(b"\n}}]}}\n")
        return table.num_rows
    previous: str | None = None
    opens = '"observations": {' if not on_series else ', "observations": {'
    for batch in sorted_batches(table, target, order=lay.order):
        new, last = series_boundaries(batch, target, previous, key=lay.series)
        obs = observation(batch)
        close = between(batch.num_rows, previous is None, "}},\n")
        opening = join([close, series_head(batch), opens, obs])
        write_strings(out, pc.if_else(new, opening, join([", ", obs])))
        previous = last
    if previous is not None:
        out.write(b"}}\n")
    out.write(b"}}]}}\n")
    return table.num_rows
