"""formats/_text.py: the helpers every streaming writer shares."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import _text
from cgd_bridge.sdmx.write._text import constant_columns, constant_text, join, sorted_batches


@pytest.fixture
def table() -> pa.Table:
    rng = np.random.default_rng(7)
    n = 5_000
    area = rng.choice(["404", "524", "KE_001", "_T"], n).astype(object)
    area[rng.random(n) < 0.05] = None  # nulls sort last
    return pa.table(
        {
            "FREQ": ["A"] * n,
            "REF_AREA": pa.array(area, pa.string()),
            "SEX": rng.choice(["F", "M", "_T"], n),
            "TIME_PERIOD": rng.choice([str(y) for y in range(2000, 2030)], n),
            "ROW": np.arange(n),  # to see that ties keep their order (a stable sort)
        }
    )


def test_sort_order_is_arrows_stable_multi_key_sort(table):
    keys = ["REF_AREA", "SEX", "TIME_PERIOD"]
    expected = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys])
    assert _text._sort_order(table, keys).to_pylist() == expected.to_pylist()


def test_sort_order_falls_back_when_the_ranks_do_not_fit(table, monkeypatch):
    calls = []
    original = pc.sort_indices
    monkeypatch.setattr(_text.pc, "sort_indices", lambda *a, **k: calls.append(k) or original(*a, **k))
    wide = pa.table({f"K{i}": pa.array([str(v) for v in range(table.num_rows)]) for i in range(6)})
    order = _text._sort_order(wide, list(wide.column_names))
    assert (
        order.to_pylist()
        == original(wide, sort_keys=[(k, "ascending") for k in wide.column_names]).to_pylist()
    )
    assert any("sort_keys" in k for k in calls)  # 5,001^6 ranks do not fit in 63 bits


def test_sorted_batches_slice_constant_columns_and_keep_every_row(table, monkeypatch):
    monkeypatch.setattr(_text, "BATCH", 700)
    target = Target("A", "DF", "1.0", ("FREQ", "REF_AREA", "SEX"))
    batches = list(sorted_batches(table, target))
    assert all(b.num_rows <= 700 for b in batches)
    got = pa.Table.from_batches(batches)
    assert got.column_names == table.column_names
    assert sorted(got["ROW"].to_pylist()) == list(range(table.num_rows))
    expected = table.take(
        pc.sort_indices(table, sort_keys=[(k, "ascending") for k in ("REF_AREA", "SEX", "TIME_PERIOD")])
    )
    assert got["ROW"].to_pylist() == expected["ROW"].to_pylist()
    assert set(got["FREQ"].to_pylist()) == {"A"}


def test_constant_text_and_columns():
    assert constant_text(pa.chunked_array([["_T", "_T"], ["_T"]])) == "_T"
    assert constant_text(pa.array(["_T", None])) is None  # a null is another value
    assert constant_text(pa.array([1, 1])) == "1"
    assert constant_text(pa.array([1.5, 1.5])) is None  # measures are never literals
    assert constant_text(pa.array([], pa.string())) is None
    t = pa.table({"FREQ": ["A", "A"], "SEX": ["F", "M"], "UNIT_MULT": [0, 0]})
    assert constant_columns(t) == {"FREQ": "A", "UNIT_MULT": "0"}
    assert constant_columns(t, ["SEX", "NOT_THERE"]) == {}


def test_join_literals_need_rows():
    assert join(["a", "b"], rows=3).to_pylist() == ["ab"] * 3
    with pytest.raises(ValueError, match="rows"):
        join(["a", "b"])
