"""A column that holds one value on every row is held once, not once per row (#16).

The harmonised table of a 10,000,000-row file held FREQ, SERIES, the ``_T`` breakdowns and a
150-character COMMENT_OBS in full on every row. These tests look at the Arrow buffers: every
chunk of a constant column points into the same data buffer (a slice of one array), where a
copy per batch would give one buffer per batch. No timing, no process memory.
"""

from __future__ import annotations

import pyarrow as pa

from cgd_bridge.ingest import open_table
from cgd_bridge.mapping.apply import CONSTANT_CHUNK, apply_mapping, constant_column
from cgd_bridge.mapping.model import Mapping

COMMENT = "Community scorecard; satisfied = rating 4 or 5 of 5 on the last visit. " * 2


def _data_buffers(column: pa.ChunkedArray) -> set[int]:
    """The addresses of the text buffers behind the column's chunks."""
    return {chunk.buffers()[2].address for chunk in column.chunks if len(chunk)}


def _mapping() -> Mapping:
    return Mapping.model_validate(
        {
            "profile": "cgd-mapping/1.0",
            "dimensions": {"FREQ": {"value": "A"}, "SEX": {"column": "sex", "map": {"F": "f", "M": "m"}}},
            "time": {"column": "year", "format": "year"},
            "value": {"column": "n"},
            "attributes": {"COMMENT_OBS": {"value": COMMENT}, "UNIT_MEASURE": {"value": "NUMBER"}},
        }
    )


def test_constant_columns_share_one_buffer_across_batches(tmp_path) -> None:
    rows = ["sex,year,n"] + [f"{'f' if i % 2 else 'm'},{2000 + i % 20},{i}" for i in range(1_000)]
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    h = apply_mapping(open_table(data), _mapping(), batch_rows=100)
    table = h.table
    assert table.num_rows == 1_000
    assert table["COMMENT_OBS"].num_chunks == 10
    assert table["COMMENT_OBS"].unique().to_pylist() == [COMMENT]
    assert table["FREQ"].unique().to_pylist() == ["A"]
    for name in ("COMMENT_OBS", "UNIT_MEASURE", "FREQ"):
        assert len(_data_buffers(table[name])) == 1, f"{name} is copied per batch"
    assert len(_data_buffers(table["SEX"])) == 10  # a mapped column is data: one buffer per batch


def test_constant_column_holds_the_text_once() -> None:
    n = 3 * CONSTANT_CHUNK + 5
    column = constant_column(COMMENT, n)
    assert len(column) == n
    assert column.type == pa.string()
    assert column.unique().to_pylist() == [COMMENT]
    assert column.null_count == 0
    assert len(_data_buffers(column)) == 1
    assert [len(c) for c in column.chunks] == [CONSTANT_CHUNK] * 3 + [5]
    assert len(constant_column("x", 0)) == 0
    assert constant_column("1", 3, pa.string()).to_pylist() == ["1", "1", "1"]
