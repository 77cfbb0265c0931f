"""Column-wise text assembly shared by the streaming writers (SDMX-CSV, SDMX-ML, SDMX-JSON).

The writers never build a Python object per observation: each batch's output text is made
with Arrow string kernels (one string per row) and the batch's string buffer is written as it
is. This module holds the pieces every writer needs, in the order a writer uses them:

- :func:`as_text`: a column as SDMX text;
- :func:`sorted_batches`: the table in series-key and period order, a batch at a time;
- :func:`series_boundaries`: where a new series starts in a sorted batch;
- :func:`join`: element-wise concatenation of columns and literals;
- :func:`write_strings`: a string array's characters straight to the output.

Example:
    >>> import io
    >>> import pyarrow as pa
    >>> out = io.BytesIO()
    >>> write_strings(out, join(["<Obs v=\\"", pa.array(["1", "2"]), "\\"/>\\n"]))
    >>> out.getvalue()
    b'<Obs v="1"/>\\n<Obs v="2"/>\\n'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from cgd_bridge.formats.registry import Target

BATCH = 100_000
"""Observations per written batch: bounds the memory a writer holds beyond its input table."""


def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A column as SDMX text: numbers in their shortest form, nulls stay null.

    >>> as_text(pa.array([57.5, None, 100.0])).to_pylist()
    ['57.5', None, '100']
    """
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return column.cast(pa.string())


def join(parts: Sequence[pa.Array | pa.ChunkedArray | str]) -> pa.Array:
    """Concatenate string columns and literals element-wise.

    A null in any column makes the row null, so callers fill or mask nulls first.

    >>> join(["<", pa.array(["a", "b"]), ">"]).to_pylist()
    ['<a>', '<b>']
    """
    return pc.binary_join_element_wise(*parts, "")


def write_strings(out: BinaryIO, lines: pa.Array) -> None:
    """Write the concatenation of a string array's values straight from its buffer.

    No Python string is made: the bytes between the first and the last offset of the
    (non-null) array are handed to ``out.write`` as a memoryview.
    """
    lines = pa.concat_arrays([lines]) if lines.offset else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1)
    data = lines.buffers()[2]
    if data is not None and offsets[-1] > offsets[0]:
        out.write(memoryview(data)[offsets[0] : offsets[-1]])


def sorted_batches(table: pa.Table, target: Target) -> Iterator[pa.RecordBatch]:
    """The table's rows in series-key and period order, :data:`BATCH` rows at a time.

    Only the sort order (8 bytes a row) is held; each batch is taken from the table as it is
    written, so memory does not grow with a second copy of the table.
    """
    keys = [(c, "ascending") for c in (*target.dimensions, "TIME_PERIOD") if c in table.column_names]
    if not keys:
        yield from table.to_batches(max_chunksize=BATCH)
        return
    order = pc.sort_indices(table, sort_keys=keys)
    for start in range(0, len(order), BATCH):
        chunk = table.take(order.slice(start, BATCH)).combine_chunks()
        yield from chunk.to_batches()


def series_boundaries(
    batch: pa.RecordBatch, target: Target, previous: str | None
) -> tuple[pa.Array, str | None]:
    """Per row of a sorted batch: does a new series start here?

    Args:
        batch: rows in series-key order (from :func:`sorted_batches`).
        target: names the dimensions that make the series key.
        previous: the last series key of the batch before (None for the first batch).

    Returns:
        A boolean array (True where the key differs from the row before) and this batch's
        last key, to pass as ``previous`` with the next batch.
    """
    if target.dimensions:
        # \x1f (unit separator) cannot occur in SDMX codes, so keys never run together
        key = pc.binary_join_element_wise(
            *[pc.fill_null(as_text(batch.column(d)), "") for d in target.dimensions], "\x1f"
        )
    else:
        key = pa.repeat(pa.scalar("", pa.string()), batch.num_rows)
    shifted = pa.concat_arrays([pa.array([previous], pa.string()), key.slice(0, len(key) - 1)])
    new = pc.fill_null(pc.not_equal(key, shifted), True)
    return new, (key[len(key) - 1].as_py() if len(key) else previous)
