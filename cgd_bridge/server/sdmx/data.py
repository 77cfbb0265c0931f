"""Selecting observations for a data query, column-wise on Arrow tables.

The harmonised observations of every readable version are Arrow tables (from the store); a
query becomes one boolean mask built with Arrow kernels (keys, ``c[...]`` filters, periods),
then ``firstNObservations``/``lastNObservations`` keep the first/last N per series with numpy
positions, and ``detail`` decides which columns are written. No Python object per observation.

Key filters are the hot path of small queries (one series out of a large dataflow): with a
:class:`KeyIndex` (kept with the gathered table, see ``service.gather``), each dimension is
dictionary-encoded once, and a key becomes a lookup table over the few distinct codes, indexed
by the rows' code positions; a dimension whose every row matches is skipped, and the selected
rows are taken by position.

>>> import pyarrow as pa
>>> t = pa.table({"SEX": ["F", "M", "F"], "TIME_PERIOD": ["2023", "2023", "2024"],
...                "OBS_VALUE": [1.0, 2.0, 3.0]})
>>> select(t, ["SEX"], [[frozenset({"F"})]], Params(last_n=1))["OBS_VALUE"].to_pylist()
[3.0]
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.write._text import as_text
from cgd_bridge.server.sdmx.query import (
    ComponentFilter,
    FilterCondition,
    KeyFilter,
    Params,
    QueryError,
    period_range,
)

_EPOCH = dt.date(1970, 1, 1)


def combine(tables: list[pa.Table]) -> pa.Table:
    """Several versions' observations as one table (columns missing in one are null there)."""
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


@dataclass(frozen=True)
class _Encoded:
    """One dimension column, dictionary-encoded, with the rows of each code."""

    codes: list[str | None]
    idx: np.ndarray  # each row's position in ``codes``; len(codes) for a null row
    order: np.ndarray  # the rows sorted by code position (stable: ascending rows within a code)
    starts: np.ndarray  # code position p's rows are order[starts[p]:starts[p + 1]]
    counts: np.ndarray  # rows per code position (the last: null rows)
    nulls: bool
    position: dict[str, int]  # code -> its position in ``codes``
    sizes: list[int]  # ``counts`` as Python ints (summed per query without numpy)

    def positions(self, wanted: frozenset[str]) -> list[int]:
        """The positions of the ``wanted`` codes that occur (a code not in the column has none)."""
        pos = self.position
        return sorted(pos[c] for c in wanted if c in pos)


@dataclass(frozen=True)
class Texts:
    """One column as SDMX text (:func:`~cgd_bridge.sdmx.write._text.as_text`), dictionary-encoded:
    row ``r`` reads ``values[idx[r]]`` (None for a null)."""

    values: list[str | None]
    idx: np.ndarray

    def of(self, rows: np.ndarray) -> list[str | None]:
        """The text of each of ``rows``, in their order."""
        values = self.values
        return [values[i] for i in self.idx[rows].tolist()]


class KeyIndex:
    """The dimension columns of one (immutable) table, dictionary-encoded on first use.

    :meth:`rows` answers a key with the rows of its rarest code (a posting list), checked
    against the other dimensions' codes only on those rows, so a one-series query costs about
    the size of the answer rather than of the table. :meth:`texts` gives any column as text
    the same way, so a small answer is written from the rows' positions without taking them
    from the table (``service.data_response``).

    Example:
        >>> t = pa.table({"SEX": ["F", "M", None, "F"], "AGE": ["Y1", "Y1", "Y1", "Y2"]})
        >>> KeyIndex(t).rows(["SEX", "AGE"], [frozenset({"F"}), None]).tolist()
        [0, 3]
    """

    def __init__(self, table: pa.Table, content: tuple[str, ...] = ()) -> None:
        """``content`` names what the table holds (the content keys it was gathered from)."""
        self.table = table
        self.content = content
        self.columns = frozenset(table.column_names)
        self._rows = table.num_rows
        self._encoded: dict[str, _Encoded] = {}
        self._texts: dict[tuple[str, object], Texts] = {}
        self._numpy: dict[str, np.ndarray] = {}

    def _encode(self, dim: str) -> _Encoded:
        found = self._encoded.get(dim)
        if found is None:
            encoded = pc.dictionary_encode(self.table[dim]).combine_chunks()
            codes = encoded.dictionary.to_pylist()
            idx = pc.fill_null(encoded.indices, len(codes)).to_numpy(zero_copy_only=False).astype(np.int32)
            order = np.argsort(idx, kind="stable")
            counts = np.bincount(idx, minlength=len(codes) + 1)
            starts = np.zeros(len(codes) + 2, dtype=np.int64)
            np.cumsum(counts, out=starts[1:])
            position = {c: i for i, c in enumerate(codes) if c is not None}
            found = _Encoded(
                codes, idx, order, starts, counts, encoded.indices.null_count > 0, position, counts.tolist()
            )
            self._encoded.setdefault(dim, found)  # threads racing here compute the same value
        return found

    def texts(self, column: str, render: Callable[[str | None], str | None] | None = None) -> Texts:
        """``column`` as SDMX text, each distinct value passed once through ``render`` (e.g. a
        writer's quoting); built on first use and kept with the index.

        Example:
            >>> t = pa.table({"SEX": ["F", "M", "F"], "OBS_VALUE": [1.5, None, 100.0]})
            >>> index = KeyIndex(t)
            >>> index.texts("OBS_VALUE").of(np.array([2, 1]))
            ['100', None]
            >>> index.texts("SEX", lambda v: f"<{v}>").of(np.array([0, 1]))
            ['<F>', '<M>']
        """
        found = self._texts.get((column, render))
        if found is not None:
            return found
        raw = self.table[column]
        text = as_text(raw)
        if text is raw and (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
            enc = self._encode(column)  # a text dimension: its key encoding is its text
            codes: list[str | None] = [*enc.codes, None]
            idx = enc.idx
        else:
            encoded = pc.dictionary_encode(text).combine_chunks()
            codes = [*encoded.dictionary.to_pylist(), None]
            nulls_last = pc.fill_null(encoded.indices, len(codes) - 1)
            idx = nulls_last.to_numpy(zero_copy_only=False).astype(np.int32)
        values = codes if render is None else [render(v) for v in codes]
        found = Texts(values, idx)
        self._texts.setdefault((column, render), found)
        return found

    def numbers(self, column: str) -> np.ndarray:
        """A numeric column without nulls (e.g. the gathered table's version numbers) as numpy, kept."""
        found = self._numpy.get(column)
        if found is None:
            found = self._numpy.setdefault(column, self.table[column].to_numpy())
        return found

    def rows(self, dimensions: list[str], key: KeyFilter) -> np.ndarray | None:
        """The ascending row positions matching ``key``; None when every row does."""
        parts = []
        encoded, everything = self._encoded, self._rows
        for dim, codes in zip(dimensions, key, strict=False):
            if codes is None:
                continue
            enc = encoded.get(dim) or self._encode(dim)
            if len(codes) == 1:  # a full key: one code per dimension (the frequent case)
                (code,) = codes
                p = enc.position.get(code)
                positions = [] if p is None else [p]
                count = 0 if p is None else enc.sizes[p]
            else:
                positions = enc.positions(codes)
                count = sum(enc.sizes[p] for p in positions)
            if count == everything:
                continue  # every row has one of the codes
            if count == 0:
                return np.empty(0, dtype=np.int64)
            parts.append((count, enc, positions))
        if not parts:
            return None
        parts.sort(key=lambda p: p[0])
        _, rarest, positions = parts[0]
        starts, order = rarest.starts, rarest.order
        if len(positions) == 1:
            rows = order[starts[positions[0]] : starts[positions[0] + 1]]
        else:
            rows = np.concatenate([order[starts[p] : starts[p + 1]] for p in positions])
            rows.sort()
        for _, enc, positions in parts[1:]:
            codes_of_rows = enc.idx[rows]
            if len(positions) == 1:
                rows = rows[codes_of_rows == positions[0]]
            else:
                rows = rows[np.isin(codes_of_rows, positions)]
        return rows


def select(
    table: pa.Table,
    dimensions: list[str],
    keys: list[KeyFilter],
    params: Params,
    *,
    index: KeyIndex | None = None,
) -> pa.Table:
    """The observations matching the keys (any of them), filters and periods, N per series.

    ``index`` (a :class:`KeyIndex` of ``table``) makes key filters faster; the result is the same.
    """
    mask: pa.ChunkedArray | pa.Array | None
    rows = None
    if index is not None and index.table is table:
        rows = indexed_rows(index, dimensions, keys)
        mask = None
    else:
        mask = _keys_mask(table, dimensions, keys)
    if rows is not None and (params.filters or params.start_period or params.end_period):
        keep = np.zeros(table.num_rows, dtype=bool)
        keep[rows] = True
        mask, rows = pa.array(keep), None
    for f in params.filters:
        m = _filter_mask(table, f)
        mask = m if mask is None else pc.and_(mask, m)
    if params.start_period or params.end_period:
        m = _period_mask(table, params.start_period, params.end_period)
        mask = m if mask is None else pc.and_(mask, m)
    if rows is not None:
        table = table.take(pa.array(rows))
    elif mask is not None:
        table = table.filter(mask)
    if params.first_n or params.last_n:
        table = limit_per_series(table, dimensions, params.first_n, params.last_n)
    return table


def indexed_rows(index: KeyIndex, dimensions: list[str], keys: list[KeyFilter]) -> np.ndarray | None:
    """:func:`_keys_mask` through the index: the matching rows in ascending order (None: all)."""
    out: np.ndarray | None = None
    for key in keys:
        rows = index.rows(dimensions, key)
        if rows is None:
            return None  # one key matches everything
        out = rows if out is None else np.union1d(out, rows)
    return out


def _keys_mask(table: pa.Table, dimensions: list[str], keys: list[KeyFilter]) -> pa.ChunkedArray | None:
    out = None
    for key in keys:
        m = None
        for dim, codes in zip(dimensions, key, strict=False):
            if codes is None:
                continue
            hit = pc.is_in(table[dim], value_set=pa.array(sorted(codes), pa.string()))
            m = hit if m is None else pc.and_(m, hit)
        if m is None:
            return None  # one key matches everything
        out = m if out is None else pc.or_(out, m)
    return out


def _filter_mask(table: pa.Table, f: ComponentFilter) -> pa.ChunkedArray:
    # ``table`` is the published view (``service.gather_indexed``): its columns are the
    # components a reader may filter on, and nothing else (#12)
    filterable = [c for c in table.column_names if not c.startswith("__")]
    if f.component not in filterable:
        if f.component in ("OBS_VALUE", "TIME_PERIOD"):
            return pa.chunked_array([pa.array(np.zeros(table.num_rows, dtype=bool))])
        raise QueryError(
            N_("c[{component}] is not a component of the published data"),
            fix=N_("Filter on one of: {choices}."),
            params={"component": f.component, "choices": ", ".join(filterable)},
        )
    out = None
    for alternative in f.alternatives:
        m = None
        for cond in alternative:
            hit = _condition(table, f.component, cond)
            m = hit if m is None else pc.and_(m, hit)
        out = m if out is None else pc.or_(out, m)
    assert out is not None
    return pc.fill_null(out, False)


def _condition(table: pa.Table, component: str, cond: FilterCondition) -> pa.ChunkedArray:
    column = table[component]
    if component == "TIME_PERIOD" and cond.op in ("lt", "le", "gt", "ge"):
        return _time_condition(column, cond)
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        try:
            value: object = float(cond.value)
        except ValueError:
            raise QueryError(
                N_("c[{component}]={op}:{value}: '{value}' is not a number"),
                params={"component": component, "op": cond.op, "value": cond.value},
            ) from None
    else:
        value = cond.value
    ops = {
        "eq": pc.equal,
        "ne": pc.not_equal,
        "lt": pc.less,
        "le": pc.less_equal,
        "gt": pc.greater,
        "ge": pc.greater_equal,
    }
    if cond.op in ops:
        return ops[cond.op](column, pa.scalar(value, column.type))
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    pattern = re.escape(cond.value)
    if cond.op == "co":
        return pc.match_substring(text, cond.value)
    if cond.op == "nc":
        return pc.invert(pc.match_substring(text, cond.value))
    if cond.op == "sw":
        return pc.match_substring_regex(text, f"^{pattern}")
    return pc.match_substring_regex(text, f"{pattern}$")  # ew


def _period_days(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """First and last day (days since 1970) of every TIME_PERIOD, computed once per distinct value."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    starts = []
    ends = []
    for text in encoded.dictionary.to_pylist():
        r = period_range(text) if text else None
        starts.append((r[0] - _EPOCH).days if r else np.iinfo(np.int32).max)
        ends.append((r[1] - _EPOCH).days if r else np.iinfo(np.int32).min)
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    return np.asarray(starts, dtype=np.int64)[idx], np.asarray(ends, dtype=np.int64)[idx]


def _bound(value: str, *, end: bool) -> int:
    r = period_range(value)
    if r is None:
        raise QueryError(
            N_("'{value}' is not a time period"),
            fix=N_("Use e.g. 2020, 2020-06, 2020-06-30 or 2020-Q2."),
            params={"value": value},
        )
    return ((r[1] if end else r[0]) - _EPOCH).days


def _period_mask(table: pa.Table, start: str | None, end: str | None) -> pa.Array:
    """startPeriod/endPeriod: periods that overlap [start, end] (inclusive, SDMX REST semantics)."""
    if "TIME_PERIOD" not in table.column_names:
        return pa.array(np.ones(table.num_rows, dtype=bool))
    first, last = _period_days(table["TIME_PERIOD"])
    keep = np.ones(table.num_rows, dtype=bool)
    if start:
        keep &= last >= _bound(start, end=False)
    if end:
        keep &= first <= _bound(end, end=True)
    return pa.array(keep)


def _time_condition(column: pa.ChunkedArray, cond: FilterCondition) -> pa.Array:
    first, last = _period_days(column)
    if cond.op == "ge":
        return pa.array(last >= _bound(cond.value, end=False))
    if cond.op == "gt":
        return pa.array(first > _bound(cond.value, end=True))
    if cond.op == "le":
        return pa.array(first <= _bound(cond.value, end=True))
    return pa.array(last < _bound(cond.value, end=False))  # lt


def limit_per_series(
    table: pa.Table, dimensions: list[str], first_n: int | None, last_n: int | None
) -> pa.Table:
    """Keep the first N and/or last N observations (by period) of every series."""
    if table.num_rows == 0:
        return table
    dims = [d for d in dimensions if d in table.column_names]
    keys = [(d, "ascending") for d in dims]
    if "TIME_PERIOD" in table.column_names:
        keys.append(("TIME_PERIOD", "ascending"))
    order = pc.sort_indices(table, sort_keys=keys)
    table = table.take(order)
    n = table.num_rows
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for d in dims:
        col = pc.fill_null(table[d], "\x00").to_numpy(zero_copy_only=False)
        change[1:] |= col[1:] != col[:-1]
    starts = np.flatnonzero(change)
    series = np.cumsum(change) - 1
    ends = np.append(starts[1:], n)
    pos = np.arange(n) - starts[series]
    size = (ends - starts)[series]
    keep = np.zeros(n, dtype=bool)
    if first_n:
        keep |= pos < first_n
    if last_n:
        keep |= pos >= size - last_n
    return table.filter(pa.array(keep))
