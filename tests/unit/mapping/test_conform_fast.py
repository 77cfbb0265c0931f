"""The column-wise fast paths of harmonise agree with the plain ones on awkward data (#16).

Each fast path (formula-like values tried on the distinct values only, a one-value test by
comparison with the first value, the lookups built once per run, a count column typed without
the regex replacement when no value has a ``+``) must give exactly what the plain computation
gives: on nulls, non-ASCII codes, empty strings, all-null columns, one row and chunked arrays
of several chunks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cgd_bridge.arrow import one_value, row_mask
from cgd_bridge.checks import base
from cgd_bridge.checks.base import cast_column
from cgd_bridge.ingest.schema import SchemaField
from cgd_bridge.mapping.conform import formula_mask, formula_values


def _columns() -> dict[str, pa.Array | pa.ChunkedArray]:
    rng = np.random.default_rng(11)
    pool = ["=1+1", "@SUM(A1)", "-2+3+cmd", "-1", "+5", "+", "\tx", "Kisumu", "", "नेपाल", "Élodie", None]
    many = pa.array([pool[i] for i in rng.integers(0, len(pool), 4_000)], pa.string())
    clean = pa.array([["KE_001", "Ngʼambo", "", None][i % 4] for i in range(1_000)], pa.string())
    return {
        "formulas, nulls and non-ASCII": many,
        "no formula": clean,
        "one row formula": pa.array(["=cmd"], pa.string()),
        "one row text": pa.array(["বাংলা"], pa.string()),
        "all null": pa.array([None] * 50, pa.string()),
        "all empty": pa.array([""] * 50, pa.string()),
        "chunked": pa.chunked_array([many.slice(0, 1_500), many.slice(1_500, 0), many.slice(1_500)]),
        "chunked constant": pa.chunked_array([pa.array(["=A1"] * 300).slice(i, 100) for i in range(3)]),
        "no chunks": pa.chunked_array([], pa.string()),
    }


@pytest.mark.parametrize("name", list(_columns()))
def test_formula_mask_is_formula_values(name: str) -> None:
    values = _columns()[name]
    slow = formula_values(values)
    fast = formula_mask(values)
    expected = [bool(v) for v in slow.to_pylist()]
    got = [False] * len(values) if fast is None else fast.to_pylist()
    assert got == expected
    assert fast is None or fast.null_count == 0
    assert (fast is None) == (not any(expected))


@pytest.mark.parametrize("name", list(_columns()))
def test_one_value_is_at_most_one_distinct_value(name: str) -> None:
    values = _columns()[name]
    assert one_value(values) == (pc.count_distinct(values, mode="all").as_py() <= 1)


@pytest.mark.parametrize(
    "values",
    [
        pa.array(["KE_001"] * 10),
        pa.array(["KE_001"] * 9 + [None]),
        pa.array([None] + ["KE_001"] * 9),
        pa.array([None, None], pa.string()),
        pa.array([], pa.string()),
        pa.chunked_array([pa.array([], pa.string()), pa.array(["नेपाल"] * 3), pa.array(["नेपाल"])]),
        pa.chunked_array([pa.array(["a"] * 3), pa.array(["a", "b"])]),
        pa.array(["", ""]),
        pa.array(["", None]),
        pa.array([1, 1, 1]),
        pa.array([1.0, None]),
        pa.array(["x"], pa.large_string()),
    ],
)
def test_one_value_on_edges(values: pa.Array | pa.ChunkedArray) -> None:
    assert one_value(values) == (pc.count_distinct(values, mode="all").as_py() <= 1)


@pytest.mark.parametrize("kind", ["integer", "number", "year"])
@pytest.mark.parametrize(
    "texts",
    [
        ["1", "+2", "-3", "", None, "x", "+", "1.5", "2024", "+2024", "++4"],
        ["1", "2", None, "", "٣", "12345678901234567890"],
        [None, None],
        ["+7"],
        [],
    ],
)
def test_count_columns_type_the_same_with_or_without_a_plus(kind: str, texts: list[str | None]) -> None:
    """The regex replacement of a leading ``+`` is skipped when no value has one: the typed
    values and the invalid mask are what the replacement on every row gives."""
    text = pa.array(texts, pa.string())
    pattern = {"integer": base._INT, "year": base._YEAR, "number": base._NUM}[kind]
    ok = pc.match_substring_regex(text, pattern)
    digits = pc.replace_substring_regex(text, r"^\+", "")
    expected = pc.cast(
        pc.if_else(ok, digits, pa.scalar(None, pa.string())), pa.float64() if kind == "number" else pa.int64()
    )
    values, invalid = cast_column(text, SchemaField(name="n", type=kind))
    assert values.equals(expected)
    assert invalid.to_pylist() == pc.and_(pc.is_valid(text), pc.invert(pc.fill_null(ok, False))).to_pylist()


def _is_in_test(codes: list[str]) -> Callable[[pa.Array | pa.ChunkedArray], np.ndarray]:
    value_set = pa.array(codes, pa.string())

    def test(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return np.asarray(pc.fill_null(pc.is_in(values, value_set=value_set), True).to_pylist(), dtype=bool)

    return test


@pytest.mark.parametrize("name", list(_columns()))
@pytest.mark.parametrize("codes", [["=A1", "Kisumu", "नेपाल"], [""], []])
def test_row_mask_is_the_test_on_every_row(name: str, codes: list[str]) -> None:
    """A code checked once for a column holding it on every row gives the mask of the check
    on every row (the codes against the codelists, the constraints)."""
    values = _columns()[name]
    test = _is_in_test(codes)
    got = row_mask(values, test)
    assert got.dtype == bool
    assert got.tolist() == test(values).tolist()


def test_unknown_codes_of_a_constant_column_are_those_of_each_row() -> None:
    from cgd_bridge.mapping.conform import _unknown_codes
    from cgd_bridge.structures import Structures

    structures = Structures.load(None)
    SEX = "IAEG-SDGs:CL_SEX(1.1)"
    for values in (
        pa.chunked_array([pa.array(["F"] * 3), pa.array(["F"] * 2)]),
        pa.chunked_array([pa.array(["Q"] * 3), pa.array(["Q"] * 2)]),
        pa.array(["F", "M", "Q", None, ""]),
        pa.array([None, None], pa.string()),
    ):
        ok = pc.fill_null(structures.valid_codes_mask(SEX, values), False)
        slow = pc.and_(pc.invert(ok), pc.is_valid(values))
        got = _unknown_codes(structures, SEX, values)
        assert got.tolist() == slow.to_pylist()
