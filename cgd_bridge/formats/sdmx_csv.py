"""SDMX-CSV 1.0 and 2.0 data, written by pyarrow's CSV writer a batch at a time.

1.0: ``DATAFLOW,<dimensions>,TIME_PERIOD,OBS_VALUE,<attributes>`` with ``AGENCY:ID(VERSION)``.
2.0: ``STRUCTURE,STRUCTURE_ID,ACTION,<dimensions>,TIME_PERIOD,OBS_VALUE,<attributes>`` with
``dataflow``, ``AGENCY:ID(VERSION)`` and ``I`` (information).
"""

from __future__ import annotations

from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv

from cgd_bridge.formats.registry import Target

BATCH = 100_000


def observation_columns(target: Target, table: pa.Table) -> list[str]:
    """The component columns in SDMX order that the table has."""
    wanted = [*target.dimensions, "TIME_PERIOD", "OBS_VALUE", *target.attributes]
    return [c for c in wanted if c in table.column_names]


def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A column as SDMX text: numbers in their shortest form, nulls stay null."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return column.cast(pa.string())


def _write(table: pa.Table, target: Target, out: BinaryIO, lead: list[tuple[str, str]]) -> int:
    names = observation_columns(target, table)
    schema = pa.schema([(k, pa.string()) for k, _ in lead] + [(c, pa.string()) for c in names])
    options = pa_csv.WriteOptions(include_header=True, quoting_style="needed", batch_size=BATCH)
    with pa_csv.CSVWriter(out, schema, write_options=options) as writer:
        for batch in table.select(names).to_batches(max_chunksize=BATCH):
            # the constant lead columns are made per batch, never for the whole table
            arrays = [pa.repeat(pa.scalar(v, pa.string()), batch.num_rows) for _, v in lead]
            arrays += [as_text(batch.column(c)) for c in names]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return table.num_rows


def write_csv10(table: pa.Table, target: Target, out: BinaryIO) -> int:
    """SDMX-CSV 1.0."""
    return _write(table, target, out, [("DATAFLOW", target.ref)])


def write_csv20(table: pa.Table, target: Target, out: BinaryIO) -> int:
    """SDMX-CSV 2.0."""
    return _write(
        table, target, out, [("STRUCTURE", "dataflow"), ("STRUCTURE_ID", target.ref), ("ACTION", "I")]
    )
