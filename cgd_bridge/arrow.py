"""Arrow arrays and scalars built from Python and numpy values without importing pandas (#16).

pyarrow (26) asks its pandas shim whether a value is a pandas object before it converts it, and
the shim answers by importing pandas: ``pa.array``/``pa.scalar`` of Python or numpy values, a
compute function given a Python value (``pc.equal(col, "1")``, ``pc.fill_null(col, False)``)
or a numpy array (``pc.if_else(mask, ...)``) each cost the first call about 0.3 s of CPU, on
every run, for objects that cannot be pandas ones. The functions here build the same arrays
from their buffers (``pa.Array.from_buffers``), which pyarrow takes as they are; every module
on the validate and convert path builds its arrays and scalars with them
(``tests/unit/test_startup.py`` fails when a validate imports pandas).

Only the types the pipeline builds are supported (text, booleans, integers, floats, dates and
nulls); anything else is a ``TypeError`` for the programmer, never a silent conversion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "array", "bools", "factorize", "factorize_rows", "fill_null", "group_ids", "group_sum", "one_value",
    "row_hashes", "row_mask", "scalar", "strings", "to_numpy",
]  # fmt: skip

_EPOCH = dt.date(1970, 1, 1)
_NUMPY = {
    pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
    pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
    pa.float16(): np.float16, pa.float32(): np.float32, pa.float64(): np.float64,
}  # fmt: skip
_OFFSETS_32 = 2**31 - 1


def _validity(valid: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    """The validity bitmap of a boolean mask (None when every value is present) and the nulls."""
    if valid is None:
        return None, 0
    nulls = int(valid.size - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def strings(values: Iterable[str | None], type: pa.DataType | None = None) -> pa.Array:
    """A string array of ``values`` (None is null): what ``pa.array(values, pa.string())`` gives."""
    items = values if isinstance(values, Sequence) else list(values)
    n = len(items)
    encoded = [b"" if v is None else v.encode("utf-8") for v in items]
    valid = np.fromiter((v is not None for v in items), dtype=bool, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
    large = type is not None and pa.types.is_large_string(type)
    if not large and offsets[-1] > _OFFSETS_32:
        raise OverflowError("more than 2 GiB of text in one string array: use large_string")
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        n,
        [
            bitmap,
            pa.py_buffer(offsets if large else offsets.astype(np.int32)),
            pa.py_buffer(b"".join(encoded)),
        ],
        null_count=nulls,
    )


def bools(values: np.ndarray | Sequence[bool]) -> pa.BooleanArray:
    """A boolean array of a numpy mask (or a sequence of booleans), with no nulls."""
    mask = np.asarray(values, dtype=bool)
    return pa.Array.from_buffers(
        pa.bool_(), mask.size, [None, pa.py_buffer(np.packbits(mask, bitorder="little"))]
    )


def _numbers(values: np.ndarray, type: pa.DataType, valid: np.ndarray | None) -> pa.Array:
    data = np.ascontiguousarray(values, dtype=_NUMPY[type])
    if valid is not None:
        data = np.where(valid, data, 0).astype(_NUMPY[type], copy=False)
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(type, data.size, [bitmap, pa.py_buffer(data)], null_count=nulls)


def _infer(items: Sequence[Any]) -> pa.DataType:
    """pyarrow's inference for the Python types supported here."""
    kinds = {type(v) for v in items if v is not None}
    if not kinds:
        return pa.null()
    if kinds <= {str}:
        return pa.string()
    if kinds <= {bool, np.bool_}:
        return pa.bool_()
    if kinds <= {int, np.int64, np.int32}:
        return pa.int64()
    if kinds <= {int, float, np.float64, np.int64}:
        return pa.float64()
    if kinds <= {dt.date}:
        return pa.date32()
    raise TypeError(f"cgd_bridge.arrow.array: no conversion for {sorted(k.__name__ for k in kinds)}")


def array(values: Any, type: pa.DataType | None = None, *, nan_is_null: bool = False) -> pa.Array:
    """``pa.array(values, type)`` of a numpy array or a Python sequence, without pandas.

    ``nan_is_null``: NaN in a float array becomes null (``pa.array(..., from_pandas=True)``).
    """
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values if type is None or values.type == type else pc.cast(values, type)
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        target = type if type is not None else pa.from_numpy_dtype(values.dtype)
        if pa.types.is_boolean(target):
            return bools(values)
        valid = ~np.isnan(values) if nan_is_null and values.dtype.kind == "f" else None
        if target in _NUMPY:
            return _numbers(values, target, valid)
        return pc.cast(_numbers(values, pa.from_numpy_dtype(values.dtype), valid), target)
    items: Sequence[Any] = values.tolist() if isinstance(values, np.ndarray) else list(values)
    target = type if type is not None else _infer(items)
    n = len(items)
    if pa.types.is_null(target):
        return pa.nulls(n)
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return strings(items, target)
    valid = np.fromiter((v is not None for v in items), dtype=bool, count=n)
    if pa.types.is_boolean(target):
        arr = bools([bool(v) for v in items])
        return arr if valid.all() else pc.if_else(bools(valid), arr, pa.nulls(n, pa.bool_()))
    if pa.types.is_date32(target):
        days = [0 if v is None else (v - _EPOCH).days for v in items]
        return _numbers(np.asarray(days, np.int32), pa.int32(), None if valid.all() else valid).view(
            pa.date32()
        )
    if target in _NUMPY:
        kind = np.float64 if pa.types.is_floating(target) else np.int64
        raw = np.asarray([0 if v is None else v for v in items], dtype=kind)
        return _numbers(raw, target, valid if not valid.all() else None)
    raise TypeError(f"cgd_bridge.arrow.array: no conversion to {target}")


def scalar(value: Any, type: pa.DataType | None = None) -> pa.Scalar:
    """``pa.scalar(value, type)`` without pandas (None is the type's null)."""
    if isinstance(value, pa.Scalar):
        return value if type is None or value.type == type else value.cast(type)
    if value is None:
        return pa.nulls(1, type if type is not None else pa.null())[0]
    return array([value], type)[0]


def fill_null(values: Any, value: Any) -> Any:
    """``pc.fill_null(values, value)`` with the fill value built here, in the values' type."""
    return pc.fill_null(values, scalar(value, values.type))


def _bits(buffer: pa.Buffer, offset: int, n: int) -> np.ndarray:
    """A bitmap's ``n`` bits from ``offset`` as booleans."""
    return np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")[
        offset : offset + n
    ].astype(bool)


def _one_to_numpy(arr: pa.Array) -> np.ndarray:
    n, typ = len(arr), arr.type
    if pa.types.is_dictionary(typ):
        arr, typ = arr.dictionary_decode(), typ.value_type
    buffers = arr.buffers()
    valid = _bits(buffers[0], arr.offset, n) if arr.null_count and buffers[0] is not None else None
    if pa.types.is_boolean(typ):
        bits = _bits(buffers[1], arr.offset, n) if n else np.zeros(0, dtype=bool)
        if valid is None:
            return bits
        out = bits.astype(object)
        out[~valid] = None
        return out
    if typ in _NUMPY or pa.types.is_date32(typ) or pa.types.is_date64(typ) or pa.types.is_timestamp(typ):
        dtype: np.dtype[Any]
        storage: np.dtype[Any]
        if pa.types.is_date32(typ) or pa.types.is_date64(typ) or pa.types.is_timestamp(typ):
            unit = typ.unit if pa.types.is_timestamp(typ) else "D" if pa.types.is_date32(typ) else "ms"
            dtype = np.dtype(f"datetime64[{unit}]")
            storage = np.dtype(np.int32) if pa.types.is_date32(typ) else np.dtype(np.int64)
        else:
            dtype = storage = np.dtype(_NUMPY[typ])
        data = (
            np.frombuffer(buffers[1], dtype=storage)[arr.offset : arr.offset + n]
            if n
            else np.zeros(0, storage)
        )
        if dtype != storage:
            data = data.astype(dtype)
        if valid is None:
            return data
        if dtype.kind == "M":
            out = data.copy()
            out[~valid] = np.datetime64("NaT")
            return out
        out = data.astype(np.float64)  # pyarrow gives integers with nulls as floats with NaN
        out[~valid] = np.nan
        return out
    if pa.types.is_null(typ):
        return np.full(n, None, dtype=object)
    return np.array(arr.to_pylist(), dtype=object)  # text: Python strings, as pyarrow gives them


def to_numpy(values: pa.Array | pa.ChunkedArray, dtype: Any = None) -> np.ndarray:
    """``values.to_numpy(zero_copy_only=False)`` (then ``np.asarray(.., dtype)``), read from the
    Arrow buffers: pyarrow's own conversion imports pandas (#16). Nulls become NaN in numbers
    (integers so become floats), NaT in dates and None in booleans and text, as in pyarrow."""
    if isinstance(values, pa.ChunkedArray):
        chunks = [_one_to_numpy(c) for c in values.chunks]
        if not chunks:
            out = _one_to_numpy(pa.nulls(0, values.type))
        elif len(chunks) == 1:
            out = chunks[0]
        else:
            out = np.concatenate(chunks)
    else:
        out = _one_to_numpy(values)
    return out if dtype is None else np.asarray(out, dtype=dtype)


# -- grouping: numpy in place of pandas' factorize and groupby --------------------------------


def _first_appearance(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes numbering ``key``'s distinct values (rows, for a 2-D key) by first appearance,
    and the row where each first appears."""
    n = key.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if key.ndim == 1 and key.dtype.kind in "iu":
        low, high = int(key.min()), int(key.max())
        if high - low <= 4 * n + 1024:  # a narrow range: a table as long as it, no sort
            return _first_appearance_counting(key, low, high - low + 1)
    _, first, inverse = np.unique(
        key, axis=0 if key.ndim == 2 else None, return_index=True, return_inverse=True
    )
    order = np.argsort(first, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size, dtype=np.int64)
    return rank[inverse.reshape(-1)], first[order].astype(np.int64)


def _first_appearance_counting(key: np.ndarray, low: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_first_appearance` of integer keys within ``low .. low + span - 1``: each value's
    first row by one pass over a table of ``span`` slots (what ``np.unique`` finds by sorting
    the whole key: 1.0 s against 0.15 s for the ten calls of a 1M-row validate)."""
    n = key.shape[0]
    slot = key.astype(np.int64) - low
    first = np.full(span, n, dtype=np.int64)
    np.minimum.at(first, slot, np.arange(n, dtype=np.int64))
    seen = np.flatnonzero(first < n)  # the distinct values (as slots), ascending
    order = np.argsort(first[seen], kind="stable")  # ... by first appearance
    code_of = np.empty(span, dtype=np.int64)
    code_of[seen[order]] = np.arange(order.size, dtype=np.int64)
    return code_of[slot], first[seen[order]]


def factorize(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pandas.factorize`` of a 1-D integer array: int64 codes numbering the distinct values by
    first appearance, and the distinct values in that order."""
    codes, first = _first_appearance(np.asarray(key))
    return codes, np.asarray(key)[first]


def factorize_rows(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Int64 codes numbering the distinct rows of integer ``columns`` by first appearance (what
    ``groupby(sort=False).ngroup()`` gives), and the first row of each group."""
    if not columns:
        raise ValueError("factorize_rows needs at least one column")
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for col in columns:
        low = int(col.min()) if n else 0
        width = int(col.max()) - low + 1 if n else 1
        if span * width >= 2**62:  # too many combinations for one int64: compare whole rows
            return _first_appearance(np.column_stack([np.asarray(c, dtype=np.int64) for c in columns]))
        key += (col.astype(np.int64) - low) * span
        span *= width
    return _first_appearance(key)


def group_sum(
    columns: Mapping[str, np.ndarray], keys: Sequence[str], value: str | None = None, *, name: str = "__n__"
) -> dict[str, np.ndarray]:
    """The distinct combinations of ``keys`` in order of first appearance, with the sum of
    ``value`` (or the number of rows, without one) in ``name``: what
    ``DataFrame.groupby(keys, sort=False)[value].sum().reset_index()`` gives."""
    ids, first = factorize_rows([columns[k] for k in keys])
    out = {k: columns[k][first] for k in keys}
    if value is None:
        out[name] = np.bincount(ids, minlength=first.size).astype(np.int64)
    else:
        weights = columns[value]
        total = np.bincount(ids, weights=weights, minlength=first.size)
        out[name] = total.astype(weights.dtype) if weights.dtype.kind in "iu" else total
    return out


def one_value(values: pa.Array | pa.ChunkedArray) -> bool:
    """True when every row holds the same value (all null counts as one value, as in
    ``pc.count_distinct(values, mode="all") <= 1``). Text is compared with its first value, a
    pass without hashing: a fifth of the CPU of counting the distinct values of a column that
    holds one code on every row (most of a DSD's key columns: duplicate keys, the observations'
    audit)."""
    n = len(values)
    if n == 0 or values.null_count == n:
        return True
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return bool(pc.count_distinct(values, mode="all").as_py() <= 1)
    if values.null_count:
        return False  # a null and a text
    first = values[0]
    if n > 1024 and not pc.all(pc.equal(values.slice(0, 1024), first)).as_py():
        return False  # a column that varies mostly shows it at once
    return bool(pc.all(pc.equal(values, first)).as_py())


def row_mask(values: pa.Array | pa.ChunkedArray, test: Callable[[Any], np.ndarray]) -> np.ndarray:
    """``test(values)`` (a boolean numpy array, one entry a row), computed on the first row only
    when every row holds the same value (:func:`one_value`) and spread over the rows: a code
    checked once for a column that holds it on every row, not once a row."""
    n = len(values)
    if n > 1 and one_value(values):
        return np.full(n, bool(test(values.slice(0, 1))[0]))
    return np.asarray(test(values), dtype=bool)


def group_ids(columns: Sequence[pa.Array | pa.ChunkedArray]) -> tuple[np.ndarray, np.ndarray]:
    """Int64 codes numbering the distinct rows of Arrow columns (a null is a value of its own)
    by first appearance, and the first row of each group."""
    codes = []
    for col in columns:
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        enc = pc.dictionary_encode(arr, null_encoding="encode")
        codes.append(to_numpy(enc.indices).astype(np.int64, copy=False))
    return factorize_rows(codes)


# -- hashing: text and rows to 61-bit values, collision-resistant against crafted input --------
#
# Each text is read as a polynomial in a base drawn at random once per process, evaluated modulo
# the Mersenne prime P = 2**61 - 1: for a text of L bytes, ``B**L + sum(byte_i * B**(L-1-i))``
# (the leading ``B**L`` tells texts of different lengths apart). Two different texts of at most
# L bytes give different polynomials of degree <= L, which agree on at most L of the (almost
# 2**61) possible bases; so, the base being unknown to whoever wrote the file, any given pair
# collides with probability at most about L / 2**61, whatever the texts (a fixed base, or
# arithmetic mod 2**64, is broken by crafted texts: Thue-Morse strings collide mod 2**64 for
# every odd base). A null hashes as P - 1, which a text matches with probability at most
# (L + 1) / 2**61. A row's columns are combined the same way with a second random base, each
# column's hash a coefficient: two different rows have a differing column, whose hashes collide
# with probability at most (L + 1) / 2**61, and different column hashes make a non-zero row
# polynomial of degree < columns; so two different rows collide with probability at most
# columns * (L + 2) / 2**61. The hashes agree across batches of one process, never across
# processes: nothing keeps them.

_P = np.uint64((1 << 61) - 1)
#: values of this many bytes or more are summed in 21-bit pieces of their weights (32-bit below:
#: 255 * 2**32 per byte, so a sum of fewer than 2**23 bytes stays below 2**64)
_LONG_VALUE = 1 << 23
_LOW32 = np.uint64(0xFFFFFFFF)
_seed = np.random.SeedSequence()  # fresh entropy from the operating system, once per process
_TEXT_BASE, _ROW_BASE = (
    int(b) for b in np.random.default_rng(_seed).integers(2**20, (1 << 61) - 2, size=2, dtype=np.uint64)
)


def _fold(x: np.ndarray) -> np.ndarray:
    """``x`` made smaller, equal mod P: below ``2**61 + 8`` for any uint64 ``x`` (no branch)."""
    return (x & _P) + (x >> np.uint64(61))


def _reduce(x: np.ndarray) -> np.ndarray:
    """``x mod P`` exactly, for any uint64 ``x`` (the fold leaves it below P + 8)."""
    x = _fold(x)
    return np.where(x >= _P, x - _P, x)


_LOW29 = np.uint64((1 << 29) - 1)


def _mulmod(a: np.ndarray, b: np.ndarray | np.uint64 | int) -> np.ndarray:
    """``a * b`` mod P, folded (below ``2**61 + 8``; :func:`_reduce` makes it exact), for uint64
    ``a`` below 2**62 and ``b`` below P, by 32-bit halves (numpy has no 128-bit product).

    With ``a = a1 * 2**32 + a0`` and ``b = b1 * 2**32 + b0`` (a1 < 2**30, b1 < 2**29):
    ``a * b = a1 b1 2**64 + (a1 b0 + a0 b1) 2**32 + a0 b0``, and 2**61 = 1 mod P, so
    ``2**64 = 8`` and ``m 2**32 = (m >> 29) + (m mod 2**29) 2**32``; every term stays below 2**63.
    """
    b = np.asarray(b, dtype=np.uint64)
    a1, a0 = a >> np.uint64(32), a & _LOW32
    b1, b0 = b >> np.uint64(32), b & _LOW32
    mid = a1 * b0
    mid += a0 * b1  # < 2**63
    out = a1 * b1
    out <<= np.uint64(3)  # < 2**62
    out += mid >> np.uint64(34 - 5)
    mid &= _LOW29
    mid <<= np.uint64(32)
    out += mid  # < 2**62 + 2**34 + 2**61
    a0 *= b0
    out += _fold(a0)  # < 2**64
    return _fold(out)


def _powers(base: int, n: int) -> np.ndarray:
    """``base ** k mod P`` for k in 0 .. n (by doubling: log2(n) vectorised steps)."""
    out = np.ones(n + 1, dtype=np.uint64)
    k, step = 1, np.uint64(base)  # out[:k] is filled; step is base ** k
    while k <= n:
        m = min(k, n + 1 - k)
        out[k : k + m] = _reduce(_mulmod(out[:m], step))
        step = _reduce(_mulmod(np.asarray([step], dtype=np.uint64), step))[0]
        k *= 2
    return out


# A null's hash: P - 1, a residue that a text of L bytes hashes to with probability at most
# L / 2**61 (its polynomial minus P - 1 is not zero: the empty text's is 2), so a null stays
# apart from every text with the same bound as two texts.
_NULL_HASH = np.uint64((1 << 61) - 2)


def _text_hash(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each text value (null apart from every text), from the Arrow buffers.

    A column of few distinct values (a survey's answers, codes, months) is hashed once per
    distinct value and the hashes taken by the dictionary indices: the same hashes as
    :func:`_text_hash_each` (``tests/unit/test_arrow.py`` compares them), about a quarter of
    its CPU on the Kenya benchmark's key columns. A column of mostly distinct values is hashed
    value by value, where the dictionary would only add its own pass.
    """
    n = len(values)
    if n < 64:
        return _text_hash_each(values)
    enc = pc.dictionary_encode(values)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries().combine_chunks() if enc.num_chunks > 1 else enc.chunk(0)
    if 2 * len(enc.dictionary) > n:
        return _text_hash_each(values)
    distinct = _text_hash_each(enc.dictionary)
    if enc.indices.null_count == 0:
        return distinct[to_numpy(enc.indices, np.int64)]
    table = np.append(distinct, _NULL_HASH)
    return table[to_numpy(fill_null(enc.indices, len(distinct)), np.int64)]


def _text_hash_each(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`_text_hash` computed value by value."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    start, end = offsets[:-1], offsets[1:]
    lengths = end - start
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    data = data[start[0] : end[-1]].astype(np.uint64)
    powers = _powers(_TEXT_BASE, int(lengths.max()))
    h = powers[lengths]  # the leading B ** L
    if data.size:
        # byte i of a value of length L weighs B ** (L - 1 - i); each weight is split in pieces
        # (32 bits, or 21 for a value of 2**23 bytes or more) so that the products and their
        # sums per value stay below 2**64, then folded mod P
        row = np.repeat(np.arange(n), lengths)
        position_from_end = (end[row] - 1) - (start[0] + np.arange(data.size))
        del row
        weight = powers[position_from_end]
        del position_from_end
        nonempty = lengths > 0
        at = (start - start[0])[nonempty]
        # pieces of the weights small enough that no value's sum of byte * piece overflows
        shift = 32 if int(lengths.max()) < _LONG_VALUE else 21
        h_nonempty = h[nonempty]
        done = 0
        while done < 61:
            piece = (weight >> np.uint64(done)) & np.uint64((1 << shift) - 1)
            total = _fold(np.add.reduceat(data * piece, at))
            h_nonempty += total if done == 0 else _mulmod(total, 1 << done)
            h_nonempty = _fold(h_nonempty)
            done += shift
        del weight
        h[nonempty] = _reduce(h_nonempty)
    valid = to_numpy(pc.is_valid(arr))
    return np.where(valid, h, _NULL_HASH)


def row_hashes(columns: Sequence[pa.Array | pa.ChunkedArray]) -> np.ndarray:
    """A 61-bit hash per row of text columns (a null is a value of its own), the same for equal
    rows in any batch of this process: what a whole-file key comparison keeps (8 bytes a row).
    Two different rows collide with probability at most columns * (L + 2) / 2**61 for values of
    at most L bytes, whatever the values (the bases are random; see :data:`_P`)."""
    if not columns:
        return np.zeros(0, dtype=np.uint64)
    h = _text_hash(columns[0])
    for col in columns[1:]:
        h = _mulmod(h, _ROW_BASE)  # below 2**61 + 8: folded, not reduced, until the end
        h += _text_hash(col)
    return _reduce(h)
