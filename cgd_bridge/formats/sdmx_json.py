"""SDMX-JSON 2.0 data messages, series by TIME_PERIOD, written column-wise.

Each component's values are listed once in ``structures`` and observations refer to them by
position, so the structure part is computed over the whole table first (distinct codes per
column), then the series are streamed in key order exactly like the SDMX-ML writers: every row's
JSON fragment is assembled with Arrow string kernels and the batch's buffer is written as is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.formats._text import as_text, join, series_boundaries, sorted_batches, write_strings
from cgd_bridge.formats.registry import Target

SCHEMA = (
    "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/data-message/tools/schemas/2.0.0/"
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


def _code(target: Target, component: str, code: str) -> dict[str, str]:
    """A code as ``{id, name}``; free text (which no codelist enumerates) as ``{value}``."""
    if _ID.match(code):
        return {"id": code, "name": target.name_of(component, code)}
    return {"value": code}


def write_json20(table: pa.Table, target: Target, out: BinaryIO) -> int:
    """SDMX-JSON 2.0 data message."""
    dims = [d for d in target.dimensions if d in table.column_names]
    attrs = [a for a in target.attributes if a in table.column_names]
    values = {c: _distinct(table[c]) for c in (*dims, "TIME_PERIOD", *attrs)}
    urn = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=" + target.ref
    structure: dict[str, Any] = {
        "name": target.name or f"{target.id} ({target.agency})",
        "links": [{"urn": urn, "rel": "dataflow"}],
        "dimensions": {
            "dataSet": [],
            "series": [
                {
                    "id": d,
                    "name": target.concepts.get(d) or d,
                    "keyPosition": i,
                    "values": [_code(target, d, v) for v in values[d]],
                }
                for i, d in enumerate(dims)
            ],
            "observation": [
                {
                    "id": "TIME_PERIOD",
                    "name": target.concepts.get("TIME_PERIOD") or "Time period",
                    "keyPosition": len(dims),
                    "roles": ["TIME_PERIOD"],
                    "values": [{"value": v} for v in values["TIME_PERIOD"]],
                }
            ],
        },
        "attributes": {
            "dataSet": [],
            "series": [],
            "observation": [
                {
                    "id": a,
                    "name": target.concepts.get(a) or a,
                    "relationship": {"observation": {}},
                    "values": [_code(target, a, v) for v in values[a]],
                }
                for a in attrs
            ],
        },
        "measures": {
            "observation": [
                {"id": "OBS_VALUE", "name": target.concepts.get("OBS_VALUE") or "Observation value"}
            ]
        },
        "dataSets": [0],
    }
    prepared = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    meta = {
        "schema": SCHEMA,
        "id": f"CGD{uuid.uuid4().hex[:16].upper()}",
        "test": False,
        "prepared": prepared,
        "contentLanguages": ["en"],
        "sender": {"id": target.sender},
    }
    head = json.dumps({"meta": meta}, ensure_ascii=False)[:-1]  # keep the object open
    out.write(head.encode())
    out.write(b', "data": {"structures": [')
    out.write(json.dumps(structure, ensure_ascii=False).encode())
    dataset = json.dumps(
        {"structure": 0, "action": "Information", "links": [{"urn": urn, "rel": "dataflow"}]}
    )
    out.write(f'], "dataSets": [{dataset[:-1]}, "series": {{\n'.encode())
    previous: str | None = None
    for batch in sorted_batches(table, target):
        new, last = series_boundaries(batch, target, previous)
        key = join(
            [pc.binary_join_element_wise(*[_positions(batch.column(d), values[d]) for d in dims], ":")]
        )
        value = pc.fill_null(as_text(batch.column("OBS_VALUE")), "null")
        parts = [value, *[_positions(batch.column(a), values[a]) for a in attrs]]
        period = _positions(batch.column("TIME_PERIOD"), values["TIME_PERIOD"])
        array = pc.binary_join_element_wise(*parts, ", ") if len(parts) > 1 else parts[0]
        obs = join(['"', period, '": [', array, "]"])
        first = np.zeros(batch.num_rows, dtype=bool)
        first[:1] = previous is None
        close = pc.if_else(pa.array(first), "", "}},\n")
        opening = join([close, '"', key, '": {"observations": {', obs])
        write_strings(out, pc.if_else(new, opening, join([", ", obs])))
        previous = last
    if previous is not None:
        out.write(b"}}\n")
    out.write(b"}}]}}\n")
    return table.num_rows
