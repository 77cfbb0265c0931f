"""The key index behind small data queries selects exactly what the plain Arrow filter selects (#4)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from cgd_bridge.server.sdmx.data import KeyIndex, select
from cgd_bridge.server.sdmx.query import Params

DIMS = ["SERIES", "REF_AREA", "SEX", "AGE"]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(7)
    n = 5_000

    def col(codes: list[str], null: float = 0.0) -> pa.Array:
        values = np.array(codes, dtype=object)[rng.integers(0, len(codes), n)]
        return pa.array(values, pa.string(), mask=rng.random(n) < null if null else None)

    return pa.table(
        {
            "SERIES": col(["S1", "S2", "S3"]),
            "REF_AREA": col([f"KE_{i:03d}" for i in range(47)], null=0.01),
            "SEX": col(["F", "M", "_T"]),
            "AGE": col(["_T"]),
            "TIME_PERIOD": col([str(y) for y in range(2015, 2025)]),
            "OBS_VALUE": pa.array(rng.random(n)),
        }
    )


KEYS = [
    [[frozenset({"S2"}), frozenset({"KE_003"}), frozenset({"F"}), frozenset({"_T"})]],  # one series
    [[frozenset({"S1", "S3"}), None, frozenset({"M", "_T"}), None]],  # several codes
    [[None, None, None, frozenset({"_T"})]],  # every row matches: nothing filtered
    [[frozenset({"S9"}), None, None, None]],  # no row matches
    [[None, frozenset({"KE_001"}), None, None], [frozenset({"S3"}), None, frozenset({"F"}), None]],  # OR
    [[None, None, None, frozenset({"Y15T24"})]],  # a constant dimension that does not match
]


@pytest.mark.parametrize("keys", KEYS)
@pytest.mark.parametrize(
    "params", [Params(), Params(start_period="2018", end_period="2020"), Params(last_n=2)], ids=str
)
def test_indexed_selection_equals_arrow_selection(table: pa.Table, keys: list, params: Params) -> None:
    plain = select(table, DIMS, keys, params)
    indexed = select(table, DIMS, keys, params, index=KeyIndex(table))
    assert indexed.to_pylist() == plain.to_pylist()


def test_null_codes_never_match(table: pa.Table) -> None:
    rows = KeyIndex(table).rows(DIMS, [None, frozenset({f"KE_{i:03d}" for i in range(47)}), None, None])
    assert rows is not None
    assert len(rows) == table.num_rows - table["REF_AREA"].null_count
