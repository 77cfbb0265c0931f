"""cgd_bridge/arrow.py builds and reads what pyarrow (and pandas) give, without pandas (#16)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cgd_bridge import arrow


def _same_array(got: pa.Array, expected: pa.Array) -> None:
    got.validate(full=True)
    assert got.type == expected.type
    assert got.null_count == expected.null_count
    assert got.equals(expected) or str(got) == str(expected)  # NaN is not equal to itself


@pytest.mark.parametrize(
    ("values", "type_"),
    [
        (["a", None, "é", ""], pa.string()), (["a", "b"], None), ([], pa.string()),
        (["a"], pa.large_string()),
        ([True, False, None], pa.bool_()), ([1, None, 3], pa.int64()), ([1, 2], None), ([1, 2], pa.int32()),
        ([1.5, None], pa.float64()), ([1, 2.5], None), ([dt.date(2020, 1, 2), None], pa.date32()),
        ([None, None], None), (np.array([1, 2, 3]), None), (np.array([True, False]), None),
        (np.array([1.0, np.nan]), pa.float64()), (np.array([1, 2], np.int32), pa.int8()),
        (np.array(["x", "yy"]), pa.string()), (np.array([3, 4]), pa.float64()),
    ],
)  # fmt: skip
def test_array_is_pyarrows(values: Any, type_: pa.DataType | None) -> None:
    expected = pa.array(values, type_) if type_ is not None else pa.array(values)
    _same_array(arrow.array(values, type_), expected)


def test_nan_is_null_is_from_pandas() -> None:
    values = np.array([1.0, np.nan, 3.0])
    _same_array(arrow.array(values, pa.float64(), nan_is_null=True), pa.array(values, from_pandas=True))


@pytest.mark.parametrize(
    ("value", "type_"),
    [(None, pa.string()), ("x", None), (False, None), (0, None), (2.5, None), (1, pa.float64()),
     (dt.date(2021, 5, 6), None), (np.nan, pa.float64())],
)  # fmt: skip
def test_scalar_is_pyarrows(value: Any, type_: pa.DataType | None) -> None:
    got = arrow.scalar(value, type_)
    expected = pa.scalar(value, type_) if type_ is not None else pa.scalar(value)
    assert got.type == expected.type
    assert got.is_valid == expected.is_valid
    assert str(got) == str(expected)


def test_unsupported_values_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="no conversion"):
        arrow.array([object()])


@pytest.mark.parametrize(
    "values",
    [
        pa.array([1, None, 3]), pa.array([1, 2, 3], pa.int32()), pa.array([1.5, None]),
        pa.array([True, None, False]), pa.array([True, False] * 9), pa.array(["a", None]),
        pa.array([], pa.int64()), pa.array([dt.date(2020, 1, 1), None]),
        pa.array(["x", "y", "x"]).dictionary_encode(), pa.array([None, None]),
        pa.array(list(range(20))).slice(5, 7), pa.array([True, None, False] * 5).slice(3, 9),
        pa.array([1, None, 3, 4]).slice(1), pa.array([0, 1], pa.uint8()),
        pa.chunked_array([pa.array([1, 2]), pa.array([None, 4])]), pa.chunked_array([], pa.int64()),
        pa.chunked_array([pa.array([True]), pa.array([False, True])]),
    ],
)  # fmt: skip
def test_to_numpy_is_pyarrows(values: pa.Array | pa.ChunkedArray) -> None:
    got = arrow.to_numpy(values)
    expected = (
        values.to_numpy() if isinstance(values, pa.ChunkedArray) else values.to_numpy(zero_copy_only=False)
    )
    assert got.dtype == expected.dtype
    assert len(got) == len(expected)
    for a, b in zip(got.tolist(), expected.tolist(), strict=True):
        assert a == b or (a != a and b != b) or (a is None and b is None)


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_grouping_is_pandas(n: int) -> None:
    rng = np.random.default_rng(n)
    key = rng.integers(-3, 5, n)
    codes, uniques = arrow.factorize(key)
    expected_codes, expected_uniques = pd.factorize(key)
    assert codes.tolist() == expected_codes.tolist()
    assert uniques.tolist() == expected_uniques.tolist()
    cols: dict[str, np.ndarray] = {
        "a": rng.integers(0, 3, n).astype(np.int32),
        "b": rng.integers(-2, 4, n).astype(np.int32),
        "__n__": rng.integers(0, 9, n),
    }
    summed = arrow.group_sum(cols, ["a", "b"], "__n__")
    frame = pd.DataFrame(cols).groupby(["a", "b"], sort=False)["__n__"].sum().reset_index()
    assert {c: v.tolist() for c, v in summed.items()} == {c: frame[c].tolist() for c in frame.columns}
    keys = {"a": cols["a"], "b": cols["b"]}
    counted = arrow.group_sum(keys, ["a", "b"])
    sizes = pd.DataFrame(keys).groupby(["a", "b"], sort=False).size().rename("__n__").reset_index()
    assert {c: v.tolist() for c, v in counted.items()} == {c: sizes[c].tolist() for c in sizes.columns}
    ids, _ = arrow.factorize_rows([cols["a"], cols["b"]])
    assert ids.tolist() == pd.DataFrame(keys).groupby(["a", "b"], sort=False).ngroup().tolist()


def test_factorize_rows_beyond_one_int64() -> None:
    """Columns whose combinations do not fit one int64 are compared row by row."""
    wide = [np.array([0, 2**40, 0, 5], dtype=np.int64), np.array([0, 2**40, 0, 1], dtype=np.int64)]
    ids, first = arrow.factorize_rows(wide)
    assert ids.tolist() == [0, 1, 0, 2]
    assert first.tolist() == [0, 1, 3]


def _by_sorting(key: np.ndarray) -> tuple[list[int], list[int]]:
    """First-appearance codes and first rows the slow, obvious way (np.unique sorts)."""
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank[inverse].tolist(), first[order].tolist()


RANGES = [(0, 3, 1), (0, 47, 5_000), (-7, 7, 3_000), (0, 2**40, 2_000), (10**6, 10**6 + 5, 400)]


@pytest.mark.parametrize(("low", "high", "n"), [*RANGES, (-(2**62), 2**62, 50)])
def test_factorize_by_counting_is_factorize_by_sorting(low: int, high: int, n: int) -> None:
    """Integer keys of a narrow range are numbered through a table as long as the range (no
    sort); wide ones by sorting. Both give the same codes and first rows, whatever the range,
    the sign and the order of first appearance (#16)."""
    rng = np.random.default_rng(high % 1000 + n)
    key = rng.integers(low, high, n, dtype=np.int64, endpoint=True)
    codes, first = arrow._first_appearance(key)
    assert (codes.tolist(), first.tolist()) == _by_sorting(key)
    for narrow in (key.astype(np.int32) if high - low < 2**31 and low > -(2**31) else key, key[::-1].copy()):
        codes, first = arrow._first_appearance(narrow)
        assert (codes.tolist(), first.tolist()) == _by_sorting(narrow)
        assert codes.dtype == np.int64
        assert first.dtype == np.int64


def test_group_ids_take_null_as_a_value() -> None:
    ids, first = arrow.group_ids([pa.array(["x", None, "x", "y", None]), pa.array([1, 1, 1, 2, 1])])
    assert ids.tolist() == [0, 1, 0, 2, 1]
    assert first.tolist() == [0, 1, 3]


def test_row_hashes_are_the_same_in_any_batch() -> None:
    values = pa.array(["a", "", None, "ab", "ba", "é", "a", None, "", "x" * 50])
    other = pa.array(["1"] * 10)
    h = arrow.row_hashes([values, other])
    assert (arrow.row_hashes([values.slice(5), other.slice(5)]) == h[5:]).all()
    assert (arrow.row_hashes([pa.chunked_array([values.slice(0, 3), values.slice(3)]), other]) == h).all()
    assert h[0] == h[6]
    assert h[2] == h[7]  # null and null
    assert h[1] == h[8]  # "" and ""
    assert len({h[i] for i in (0, 1, 2, 3, 4, 5, 9)}) == 7  # null, "" and the texts all differ
    split = arrow.row_hashes([pa.array(["ab"]), pa.array(["c"])])
    assert split[0] != arrow.row_hashes([pa.array(["a"]), pa.array(["bc"])])[0]
    many = arrow.row_hashes([pa.array([str(i) for i in range(200_000)])])
    assert len(np.unique(many)) == 200_000


def _awkward_text_columns() -> dict[str, pa.Array | pa.ChunkedArray]:
    """Text columns the fast paths must agree with the slow ones on: nulls, non-ASCII codes,
    empty strings, all-null, one row, several chunks (with sliced and empty chunks)."""
    rng = np.random.default_rng(7)
    pool = ["KE_001", "", "Nairobi", "Murang'a", "Ngʼambo", "नेपाल", "বাংলা", "Élodie", "x" * 300, None]
    many = [pool[i] for i in rng.integers(0, len(pool), 5_000)]
    base = pa.array(many, pa.string())
    return {
        "few distinct with nulls": base,
        "one row": pa.array(["नेपाल"], pa.string()),
        "one null row": pa.array([None], pa.string()),
        "all null": pa.array([None] * 300, pa.string()),
        "all empty": pa.array([""] * 300, pa.string()),
        "mostly distinct": pa.array([f"{i}é" if i % 7 else None for i in range(3_000)], pa.string()),
        "chunked": pa.chunked_array([base.slice(0, 1_000), base.slice(1_000, 0), base.slice(1_000)]),
        "chunked sliced constant": pa.chunked_array(
            [pa.array(["Ngʼambo"] * 500).slice(i, 100) for i in range(4)]
        ),
        "large_string": pa.array(many, pa.large_string()),
        "no chunks": pa.chunked_array([], pa.string()),
    }


@pytest.mark.parametrize("name", list(_awkward_text_columns()))
def test_text_hash_by_dictionary_is_the_value_by_value_hash(name: str) -> None:
    """The hash of each distinct value taken by the dictionary indices is bit for bit the hash
    computed on every value (the duplicate-key check compares them across batches)."""
    values = _awkward_text_columns()[name]
    fast, slow = arrow._text_hash(values), arrow._text_hash_each(values)
    assert fast.dtype == slow.dtype == np.uint64
    assert fast.tolist() == slow.tolist()


def _thue_morse(n: int) -> list[int]:
    s = [0]
    while len(s) < n:
        s = s + [1 - x for x in s]
    return s[:n]


def test_row_hashes_tell_adversarial_pairs_apart() -> None:
    """Pairs built to collide under polynomial hashes mod 2**64 (Thue-Morse, every odd base),
    or under a sum of bytes, or by moving text between columns, hash apart."""
    pairs = []
    for n in (64, 1024, 2048, 4096):
        t = _thue_morse(n)
        pairs.append(("".join("ab"[x] for x in t), "".join("ba"[x] for x in t)))
        pairs.append(("".join("\x00\xff"[x] for x in t), "".join("\xff\x00"[x] for x in t)))
    pairs += [("ab", "ba"), ("", "\x00"), ("\x00", "\x00\x00"), ("a", "a\x00"), ("é", "e\u0301")]
    for a, b in pairs:
        assert a != b
        h = arrow.row_hashes([pa.array([a, b])])
        assert h[0] != h[1], (len(a), a[:8])
        # the same pair among many other values (the dictionary path) and as large_string
        many = pa.array([a, b] + ["filler"] * 200, pa.large_string())
        hm = arrow.row_hashes([many])
        assert hm[0] != hm[1]
        assert (hm[0], hm[1]) == (h[0], h[1])
    null_vs_text = arrow.row_hashes([pa.array([None, "", "\x00"]), pa.array(["", None, None])])
    assert len(set(null_vs_text.tolist())) == 3


def test_text_hash_is_the_polynomial_mod_the_mersenne_prime() -> None:
    """The vectorised hash (32-bit halves, folded sums) is exactly the polynomial it promises,
    computed with Python integers: the collision bound holds only for that polynomial."""
    p = (1 << 61) - 1
    rng = np.random.default_rng(3)
    a = rng.integers(0, p, 20_000, dtype=np.uint64)
    b = rng.integers(0, p, 20_000, dtype=np.uint64)
    edge = np.array([0, 1, p - 1, p - 2, 2**32, 2**32 - 1, 2**60, 2**61 - 2], dtype=np.uint64)
    a, b = np.r_[a, np.repeat(edge, 8)], np.r_[b, np.tile(edge, 8)]
    got_products = [int(x) for x in arrow._reduce(arrow._mulmod(a, b))]
    assert got_products == [int(x) * int(y) % p for x, y in zip(a, b, strict=True)]
    base = arrow._TEXT_BASE

    def reference(text: str) -> int:
        data = text.encode()
        return sum(c * pow(base, len(data) - 1 - i, p) for i, c in enumerate(data)) + pow(base, len(data), p)

    values = ["", "a", "héllo", "\xff" * 3000, None, "नेपाल", "\x00"]
    got = [int(x) for x in arrow._text_hash_each(pa.array(values))]
    assert got == [reference(v) % p if v is not None else p - 1 for v in values]


def test_long_values_are_hashed_in_smaller_pieces_to_the_same_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values too long for 32-bit pieces of the weights (the sums would overflow 2**64) are
    summed in 21-bit pieces: the same hash, shown by forcing the long path on short values."""
    values = pa.array(["", "a", "héllo", "\xff" * 3000, None, "नेपाल", "ab" * 700])
    usual = arrow._text_hash_each(values)
    monkeypatch.setattr(arrow, "_LONG_VALUE", 1)
    assert arrow._text_hash_each(values).tolist() == usual.tolist()
