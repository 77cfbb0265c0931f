"""Selecting observations: keys, c[...] filters, periods, first/last N per series."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cgd_bridge.server.sdmx.data import combine, limit_per_series, select
from cgd_bridge.server.sdmx.query import Params, QueryError, parse_params, parse_v1_key


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {
            "AREA": ["KE_001", "KE_001", "KE_001", "KE_002", "KE_002", "KE_003"],
            "SEX": ["F", "F", "F", "M", "M", "F"],
            "TIME_PERIOD": ["2021", "2022", "2023", "2022", "2023-Q2", "2020"],
            "OBS_VALUE": [1.0, 2.0, 3.0, 4.0, 5.0, None],
            "OBS_STATUS": ["G", "G", "U", "G", "G", "Q"],
        }
    )


DIMS = ["AREA", "SEX"]


def values(t: pa.Table) -> list:
    return t["OBS_VALUE"].to_pylist()


def test_key_or(table: pa.Table) -> None:
    out = select(table, DIMS, [parse_v1_key("KE_001+KE_003.F", 2)], Params())
    assert values(out) == [1.0, 2.0, 3.0, None]


def test_several_keys_are_alternatives(table: pa.Table) -> None:
    keys = [parse_v1_key("KE_001.", 2), parse_v1_key(".M", 2)]
    assert values(select(table, DIMS, keys, Params())) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_periods_overlap_inclusive(table: pa.Table) -> None:
    out = select(table, DIMS, [[None, None]], Params(start_period="2022", end_period="2023-03"))
    assert values(out) == [2.0, 3.0, 4.0]  # 2023-Q2 starts after March
    out = select(table, DIMS, [[None, None]], Params(start_period="2023-05"))
    assert values(out) == [3.0, 5.0]


def test_component_filters(table: pa.Table) -> None:
    p = parse_params("c[TIME_PERIOD]=ge:2022+le:2022&c[SEX]=F")
    assert values(select(table, DIMS, [[None, None]], p)) == [2.0]
    p = parse_params("c[OBS_VALUE]=gt:2,lt:1.5&c[OBS_STATUS]=ne:U")
    assert values(select(table, DIMS, [[None, None]], p)) == [1.0, 4.0, 5.0]
    p = parse_params("c[AREA]=sw:KE_00+ew:2")
    assert values(select(table, DIMS, [[None, None]], p)) == [4.0, 5.0]
    with pytest.raises(QueryError, match="not a component of the published data"):
        select(table, DIMS, [[None, None]], parse_params("c[NOPE]=1"))


def test_first_and_last_n_per_series(table: pa.Table) -> None:
    assert values(limit_per_series(table, DIMS, None, 1)) == [3.0, 5.0, None]
    assert values(limit_per_series(table, DIMS, 1, None)) == [1.0, 4.0, None]
    assert values(limit_per_series(table, DIMS, 1, 1)) == [1.0, 3.0, 4.0, 5.0, None]


def test_combine_fills_missing_columns() -> None:
    a = pa.table({"SEX": ["F"], "OBS_VALUE": [1.0]})
    b = pa.table({"SEX": ["M"], "OBS_VALUE": [2.0], "COMMENT_OBS": ["x"]})
    out = combine([a, b])
    assert out["COMMENT_OBS"].to_pylist() == [None, "x"]
