"""Microdata into cells, and ``_T`` totals: the aggregating half of the mapping engine.

Microdata (one row per respondent, a mapping with ``aggregate:``) is mapped batch by batch
like any table (labels to codes, drop rules, coverage), then each batch keeps only what the
cells need, as numpy columns: an int32 code per varying dimension and period, the row number,
whether the respondent meets ``where``, the rating (median/mean) and the survey weight. At the
end the rows are grouped once into the finest cells; the totals of every combination of the
``totals`` dimensions are computed by regrouping those cells (no second pass over the rows);
counts, proportions and means are ``bincount`` sums over the rows' group ids and medians come
from one sort by (cell, rating). Nothing makes a Python object per row.

Every observation carries:

- ``OBS_COUNT``: the unweighted number of respondents the figure rests on (the denominator's
  respondents for a proportion, median or mean; the respondents counted for a count), which
  privacy (small cells) and lineage use; it is not written to SDMX unless the mapping names an
  attribute for it (``aggregate.count_attribute``);
- ``OBS_NUMERATOR`` / ``OBS_DENOMINATOR`` (counts and proportions): the weighted sums the
  value was computed from, so totals are always recomputed from them, never averaged;
- ``OBS_NUMERATOR_COUNT`` (microdata counts and proportions): the unweighted number of
  respondents meeting ``where``, so disclosure control tests the people behind a proportion's
  numerator and complement (2 of 30, 38 of 40) as it does for aggregate data, whatever the weights;
- ``SOURCE_ROW`` (the first source row) and ``SOURCE_ROWS`` (``list<int64>``: every source
  row of the observation).

For aggregate data (one row per cell) without total rows, :func:`add_totals` computes the
missing ``_T`` rows by summing numerators and denominators of the parts; rows that already
carry the total code are kept and never summed again.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_, nmsg
from cgd_bridge.mapping.model import Condition, Mapping, normalise_label

_NUM = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
EXTRA_COLUMNS = ("OBS_COUNT", "OBS_NUMERATOR", "OBS_DENOMINATOR", "OBS_NUMERATOR_COUNT", "SOURCE_ROWS")


# -- conditions ---------------------------------------------------------------------------------
def _norm(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"\s+", " "))


def numbers(values: pa.Array) -> np.ndarray:
    """The numeric values of a text column as float64 (NaN where empty or not a number)."""
    text = pc.utf8_trim_whitespace(values)
    ok = pc.match_substring_regex(text, _NUM)
    num = pc.cast(pc.if_else(ok, text, arrow.scalar(None, pa.string())), pa.float64())
    return arrow.to_numpy(arrow.fill_null(num, np.nan), np.float64)


def _bool(mask: pa.Array) -> np.ndarray:
    return arrow.to_numpy(arrow.fill_null(mask, False), bool)


def by_dictionary(values: pa.Array | pa.ChunkedArray, fn: Any) -> pa.Array:
    """``fn`` applied to each distinct value once, then spread over the rows (nulls included).

    Survey columns hold few distinct answers, so normalising or testing the distinct values
    and taking the results by the dictionary indices is much cheaper than working on every row.
    """
    enc = pc.dictionary_encode(values)
    if isinstance(enc, pa.ChunkedArray):
        enc = (
            enc.combine_chunks()
            if enc.num_chunks
            else arrow.array([], pa.dictionary(pa.int32(), pa.string()))
        )
    distinct = pa.concat_arrays([enc.dictionary.cast(pa.string()), arrow.array([None], pa.string())])
    result = fn(distinct)
    if isinstance(result, np.ndarray):
        result = arrow.array(result)
    indices = arrow.fill_null(enc.indices, len(distinct) - 1)
    return pc.take(result, indices)


def condition_mask(condition: Condition, values: pa.Array) -> np.ndarray:
    """True for each row whose value meets ``condition`` (an empty value meets only answered: false).

    >>> condition_mask(Condition.model_validate({"contains": "health"}),
    ...                arrow.array(["water health", "healthy", None])).tolist()
    [True, False, False]
    """
    return arrow.to_numpy(by_dictionary(values, lambda v: _condition_mask(condition, v)), bool)


def _condition_mask(condition: Condition, values: pa.Array) -> np.ndarray:
    n = len(values)
    norm = _norm(values)
    answered = _bool(pc.greater(pc.utf8_length(norm), arrow.scalar(0)))
    mask = np.ones(n, dtype=bool)
    if condition.answered is not None:
        mask &= answered if condition.answered else ~answered
    if condition.in_ is not None:
        labels = arrow.array([normalise_label(v).lower() for v in condition.in_], pa.string())
        mask &= _bool(pc.is_in(norm, value_set=labels))
    if condition.not_in is not None:
        labels = arrow.array([normalise_label(v).lower() for v in condition.not_in], pa.string())
        mask &= answered & ~_bool(pc.is_in(norm, value_set=labels))
    if condition.contains is not None:
        choices = "|".join(re.escape(normalise_label(c).lower()) for c in condition.contains)
        mask &= _bool(pc.match_substring_regex(norm, f"(^| )({choices})( |$)"))
    if condition.minimum is not None or condition.maximum is not None:
        x = numbers(values)
        with np.errstate(invalid="ignore"):
            if condition.minimum is not None:
                mask &= x >= condition.minimum
            if condition.maximum is not None:
                mask &= x <= condition.maximum
    return mask


def conditions_mask(conditions: dict[str, Condition], text: dict[str, pa.Array], n: int) -> np.ndarray:
    """Rows meeting every condition (all rows when there is none)."""
    mask = np.ones(n, dtype=bool)
    for column, condition in conditions.items():
        mask &= condition_mask(condition, text[column])
    return mask


# -- codes as integers --------------------------------------------------------------------------
class _Encoder:
    """One global int32 code per distinct text value (null included) of a column."""

    def __init__(self) -> None:
        self.ids: dict[str | None, int] = {}
        self.labels: list[str | None] = []

    def id_of(self, label: str | None) -> int:
        code = self.ids.get(label)
        if code is None:
            code = self.ids[label] = len(self.labels)
            self.labels.append(label)
        return code

    def encode(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        enc = pc.dictionary_encode(values, null_encoding="encode")
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        lookup = np.array([self.id_of(v) for v in enc.dictionary.to_pylist()], dtype=np.int32)
        return lookup[arrow.to_numpy(enc.indices).astype(np.int64)]

    def dictionary(self) -> pa.Array:
        return arrow.array(self.labels, pa.string())


def _factorise(columns: list[np.ndarray], widths: list[int], n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group ids (0..g-1, in key order) of the combinations of code columns, and each group's codes."""
    if not columns:
        return np.zeros(n, dtype=np.int64), []
    span = 1
    for w in widths:
        span *= max(w, 1)
    if span < 2**62:
        key = np.zeros(n, dtype=np.int64)
        mults = []
        mult = 1
        for codes, width in zip(columns, widths, strict=True):
            key += codes.astype(np.int64) * mult
            mults.append(mult)
            mult *= max(width, 1)
        uniq, inv = np.unique(key, return_inverse=True)
        return inv.ravel(), [
            ((uniq // m) % max(w, 1)).astype(np.int32) for m, w in zip(mults, widths, strict=True)
        ]
    stacked = np.column_stack(columns)
    uniq2, inv = np.unique(stacked, axis=0, return_inverse=True)
    return inv.ravel(), [uniq2[:, i].astype(np.int32) for i in range(len(columns))]


def _subsets(names: list[str]) -> list[tuple[str, ...]]:
    """Every combination of ``names``, the smallest first (the finest cells come first)."""
    return [s for r in range(len(names) + 1) for s in itertools.combinations(names, r)]


def _lineage(inv: np.ndarray, groups: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each group's source rows, in file order: (lengths, rows grouped)."""
    order = np.argsort(inv, kind="stable")
    return np.bincount(inv, minlength=groups), rows[order]


def _list_array(lengths: list[np.ndarray], values: list[np.ndarray]) -> pa.Array:
    flat = np.concatenate(values) if values else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(lengths) if lengths else [])]).astype(np.int64)
    if offsets[-1] < 2**31:
        return pa.ListArray.from_arrays(arrow.array(offsets.astype(np.int32)), arrow.array(flat, pa.int64()))
    return pa.LargeListArray.from_arrays(arrow.array(offsets), arrow.array(flat, pa.int64()))


# -- the measures of a cell ---------------------------------------------------------------------
def _median(inv: np.ndarray, groups: int, x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """The (weighted) median of ``x`` per group; with equal weights, the usual median."""
    order = np.lexsort((x, inv))
    xs = x[order]
    counts = np.bincount(inv, minlength=groups)
    ends = np.cumsum(counts)
    starts = ends - counts
    last = ends - 1
    if w is None:
        return (xs[starts + (counts - 1) // 2] + xs[starts + counts // 2]) / 2
    ws = w[order]
    cum = np.cumsum(ws)
    before = cum[starts] - ws[starts]
    total = cum[last] - before
    half = before + total / 2
    eps = 1e-9 * total
    idx = np.minimum(np.searchsorted(cum, half - eps, side="left"), last)
    exact = np.abs(cum[idx] - half) <= eps
    nxt = np.minimum(idx + 1, last)
    return np.where(exact, (xs[idx] + xs[nxt]) / 2, xs[idx])


def _measures(
    kind: str, inv: np.ndarray, groups: int, hit: np.ndarray, w: np.ndarray | None, x: np.ndarray | None
) -> dict[str, np.ndarray]:
    base = np.bincount(inv, minlength=groups)
    weights = w
    wsum = np.bincount(inv, weights=weights, minlength=groups) if weights is not None else base.astype(float)
    out: dict[str, np.ndarray] = {"OBS_COUNT": base.astype(np.int64)}
    if kind in ("count", "proportion"):
        hw = hit * weights if weights is not None else hit.astype(np.float64)
        num = np.bincount(inv, weights=hw, minlength=groups)
        out["OBS_NUMERATOR"], out["OBS_DENOMINATOR"] = num, wsum
        out["OBS_NUMERATOR_COUNT"] = np.bincount(inv, weights=hit, minlength=groups).astype(np.int64)
        if kind == "count":
            out["OBS_VALUE"] = num
            out["OBS_COUNT"] = out["OBS_NUMERATOR_COUNT"]
        else:
            out["OBS_VALUE"] = np.divide(num, wsum, out=np.full(groups, np.nan), where=wsum > 0)
    elif kind == "mean":
        assert x is not None
        wx = x * weights if weights is not None else x
        s = np.bincount(inv, weights=wx, minlength=groups)
        out["OBS_VALUE"] = np.divide(s, wsum, out=np.full(groups, np.nan), where=wsum > 0)
    else:
        assert x is not None
        out["OBS_VALUE"] = _median(inv, groups, x, weights)
    return out


# -- microdata ----------------------------------------------------------------------------------
class MicrodataAggregator:
    """Collects the mapped rows of microdata batch by batch, then builds the cells and totals.

    :func:`cgd_bridge.mapping.apply.apply_mapping` drives it: :meth:`add` for every mapped
    batch, :meth:`finish` once. Per kept respondent it holds an int32 code per varying key, the
    row number, the ``where`` flag and, when used, the rating and the weight (about 30 bytes).
    """

    def __init__(self, mapping: Mapping, dims: list[str]) -> None:
        assert mapping.value is not None
        assert mapping.time is not None
        self.mapping = mapping
        self.dims = dims
        self.varying = [d for d in dims if d in mapping.dimensions and mapping.dimensions[d].column]
        self.keys = [*self.varying, *(["TIME_PERIOD"] if mapping.time.column else [])]
        self.encoders = {k: _Encoder() for k in self.keys}
        self.chunks: list[dict[str, np.ndarray]] = []
        self.no_weight = 0
        self.no_weight_rows: list[int] = []

    def add(
        self, codes: dict[str, pa.Array], keep: np.ndarray, text: dict[str, pa.Array], first_row: int
    ) -> None:
        """Keep what the cells need of one mapped batch (``codes`` per varying key)."""
        v = self.mapping.value
        agg = self.mapping.aggregate
        assert v is not None
        assert agg is not None
        n = len(keep)
        pop = keep & conditions_mask(v.of, text, n)
        x = numbers(text[v.column]) if v.kind in ("median", "mean") and v.column else None
        if x is not None:
            pop &= ~np.isnan(x)
        w = None
        if agg.weight:
            w = numbers(text[agg.weight])
            with np.errstate(invalid="ignore"):
                bad = pop & ~(w > 0)
            if bad.any():
                self.no_weight += int(bad.sum())
                room = 10 - len(self.no_weight_rows)
                self.no_weight_rows += (first_row + np.flatnonzero(bad)[: max(room, 0)]).tolist()
            pop &= ~bad
        sel = np.flatnonzero(pop)
        take = arrow.array(sel)
        chunk = {k: self.encoders[k].encode(pc.take(codes[k], take)) for k in self.keys}
        chunk["__row__"] = (first_row + sel).astype(np.int64)
        chunk["__hit__"] = conditions_mask(v.where, text, n)[sel]
        if x is not None:
            chunk["__x__"] = x[sel]
        if w is not None:
            chunk["__w__"] = w[sel]
        self.chunks.append(chunk)

    def _columns(self) -> dict[str, np.ndarray]:
        names = list(self.chunks[0]) if self.chunks else []
        cols = {name: np.concatenate([c.pop(name) for c in self.chunks]) for name in names}
        self.chunks = []
        return cols

    def _total_ids(self, cols: dict[str, np.ndarray]) -> dict[str, int]:
        out = {}
        for dim, code in self.mapping.totals.items():
            tid = self.encoders[dim].id_of(code)
            hit = np.flatnonzero(cols[dim] == tid) if dim in cols else np.zeros(0, dtype=np.int64)
            if hit.size:
                rows = ", ".join(str(r) for r in cols["__row__"][hit[:5]])
                raise MappingError(
                    N_(
                        "{respondents} (e.g. rows {rows}) get the total code {code} for "
                        "{dim}, which is computed from all respondents"
                    ),
                    fix=N_(
                        "Give each respondent their own {dim} code (e.g. _U for not "
                        "stated) in the mapping; totals are added by 'totals:'."
                    ),
                    field=self.mapping.dimensions[dim].column,
                    params={
                        "respondents": nmsg("{n} respondent row", "{n} respondent rows", int(hit.size)),
                        "rows": rows,
                        "code": code,
                        "dim": dim,
                    },
                )
            out[dim] = tid
        return out

    def finish(self, rows_of: Any = None) -> pa.Table:
        """The observations: the finest cells, then each combination of totals (smallest first).

        Args:
            rows_of: maps the provisional row numbers to the file's (when rows were skipped).
        """
        v = self.mapping.value
        assert v is not None
        cols = self._columns()
        n = len(cols["__row__"]) if cols else 0
        if cols and rows_of is not None:
            cols["__row__"] = np.array([rows_of(int(r)) for r in cols["__row__"]], dtype=np.int64)
        totals = self._total_ids(cols) if cols else {}
        widths = [len(self.encoders[k].labels) for k in self.keys]
        if n == 0:
            return self._table({k: [] for k in self.keys}, {}, [], [], 0)
        inv0, cells0 = _factorise([cols[k] for k in self.keys], widths, n)
        n0 = len(cells0[0]) if cells0 else 1
        hit = cols["__hit__"]
        w, x = cols.get("__w__"), cols.get("__x__")
        codes: dict[str, list[np.ndarray]] = {k: [] for k in self.keys}
        measures: dict[str, list[np.ndarray]] = {}
        lengths, rows = [], []
        for subset in _subsets([d for d in self.mapping.totals if d in self.keys]):
            cell_cols = [
                np.full(n0, totals[k], np.int32) if k in subset else cells0[i]
                for i, k in enumerate(self.keys)
            ]
            cinv, group_codes = _factorise(cell_cols, widths, n0)
            groups = len(group_codes[0]) if group_codes else 1
            inv = cinv[inv0]
            for k, c in zip(self.keys, group_codes, strict=True):
                codes[k].append(c)
            for name, values in _measures(v.kind, inv, groups, hit, w, x).items():
                measures.setdefault(name, []).append(values)
            length, grouped = _lineage(inv, groups, cols["__row__"])
            lengths.append(length)
            rows.append(grouped)
        total = sum(len(m) for m in measures["OBS_VALUE"])
        return self._table(codes, measures, lengths, rows, total)

    def _table(
        self,
        codes: dict[str, list[np.ndarray]],
        measures: dict[str, list[np.ndarray]],
        lengths: list[np.ndarray],
        rows: list[np.ndarray],
        n: int,
    ) -> pa.Table:
        m, v = self.mapping, self.mapping.value
        assert v is not None
        assert m.time is not None
        out: dict[str, pa.Array] = {}
        for comp in [*self.dims, *m.attributes]:
            if comp in codes:
                idx = np.concatenate(codes[comp]) if codes[comp] else np.zeros(0, np.int32)
                out[comp] = pc.take(self.encoders[comp].dictionary(), arrow.array(idx))
            else:
                spec = m.dimensions.get(comp) or m.attributes.get(comp)
                # a DSD dimension the mapping does not fill stays empty (validation reports it)
                out[comp] = pa.repeat(arrow.scalar(spec.value if spec else None, pa.string()), n)
        if "TIME_PERIOD" in codes:
            idx = np.concatenate(codes["TIME_PERIOD"]) if codes["TIME_PERIOD"] else np.zeros(0, np.int32)
            out["TIME_PERIOD"] = pc.take(self.encoders["TIME_PERIOD"].dictionary(), arrow.array(idx))
        else:
            out["TIME_PERIOD"] = pa.repeat(arrow.scalar(m.time.value, pa.string()), n)
        joined = {k: np.concatenate(a) if a else np.zeros(0) for k, a in measures.items()}
        value = joined.get("OBS_VALUE", np.zeros(0))
        if v.kind == "proportion":
            value = value * v.scale
        value = np.round(value, v.decimals)
        out["OBS_VALUE"] = arrow.array(value, pa.float64(), nan_is_null=True)
        source_rows = _list_array(lengths, rows)
        out["SOURCE_ROW"] = (
            pc.list_element(source_rows, arrow.scalar(0)) if n else arrow.array([], pa.int64())
        )
        out["OBS_COUNT"] = arrow.array(joined.get("OBS_COUNT", np.zeros(0, np.int64)), pa.int64())
        for name in ("OBS_NUMERATOR", "OBS_DENOMINATOR"):
            if name in joined:
                out[name] = arrow.array(joined[name], pa.float64())
        if "OBS_NUMERATOR_COUNT" in joined:
            out["OBS_NUMERATOR_COUNT"] = arrow.array(joined["OBS_NUMERATOR_COUNT"], pa.int64())
        out["SOURCE_ROWS"] = source_rows
        agg = m.aggregate
        if agg is not None and agg.count_attribute:
            out[agg.count_attribute] = pc.cast(out["OBS_COUNT"], pa.string())
        return pa.table(out)


# -- totals of aggregate data ---------------------------------------------------------------------
def add_totals(table: pa.Table, mapping: Mapping, dims: list[str]) -> pa.Table:
    """Add the ``_T`` rows aggregate data lacks, summing the parts' numerators and denominators.

    For every combination of the ``totals`` dimensions, the rows whose codes in those dimensions
    are not the total code are summed per remaining key; a computed row is added only when the
    data has no row with that key already (existing total rows win and are never summed again).
    The value is recomputed from the sums (numerator / denominator x scale for a proportion).
    """
    v = mapping.value
    assert v is not None
    if v.kind not in ("count", "proportion"):
        raise MappingError(
            N_("totals cannot be computed for value kind '{kind}': only counts add up"),
            fix=N_("Use kind count or proportion with numerator/denominator columns, or leave out 'totals'."),
            params={"kind": v.kind},
        )
    names = [*dims, "TIME_PERIOD"]
    encoders = {k: _Encoder() for k in names}
    codes = {k: encoders[k].encode(table[k]) for k in names}
    tot = {d: encoders[d].id_of(c) for d, c in mapping.totals.items() if d in codes}
    widths = [len(encoders[k].labels) for k in names]
    span = 1
    mults = {}
    for k, wd in zip(names, widths, strict=True):
        mults[k] = span
        span *= max(wd, 1)
    if span >= 2**62:
        raise MappingError(
            N_("too many code combinations to compute totals"),
            fix=N_("Compute the totals in the data, or leave out 'totals' in the mapping."),
        )
    key = np.zeros(table.num_rows, dtype=np.int64)
    for k in names:
        key += codes[k].astype(np.int64) * mults[k]
    num = arrow.to_numpy(arrow.fill_null(table["OBS_NUMERATOR"], np.nan), np.float64)
    den = arrow.to_numpy(arrow.fill_null(table["OBS_DENOMINATOR"], np.nan), np.float64)
    rows = arrow.to_numpy(table["SOURCE_ROW"], np.int64)
    seen = np.unique(key)
    pieces = [_with_lineage(table, v.kind)]
    for subset in _subsets(list(tot))[1:]:
        part = np.ones(table.num_rows, dtype=bool)
        key_s = key.copy()
        for d in subset:
            part &= codes[d] != tot[d]
            key_s += (tot[d] - codes[d].astype(np.int64)) * mults[d]
        sel = np.flatnonzero(part)
        if sel.size == 0:
            continue
        uniq, inv = np.unique(key_s[sel], return_inverse=True)
        new = ~np.isin(uniq, seen)
        if not new.any():
            continue
        seen = np.union1d(seen, uniq[new])
        groups = len(uniq)
        s_num = _sum(inv, groups, num[sel])
        s_den = _sum(inv, groups, den[sel])
        lengths, grouped = _lineage(inv, groups, rows[sel])
        keep_groups = np.flatnonzero(new)
        starts = np.cumsum(lengths) - lengths
        take_rows = np.concatenate([grouped[starts[g] : starts[g] + lengths[g]] for g in keep_groups])
        piece: dict[str, Any] = {}
        for k in names:
            idx = ((uniq[keep_groups] // mults[k]) % max(widths[names.index(k)], 1)).astype(np.int32)
            piece[k] = pc.take(encoders[k].dictionary(), arrow.array(idx))
        for a, spec in mapping.attributes.items():
            piece[a] = _group_attribute(table[a], spec.value, sel, inv, groups, keep_groups)
        s_num, s_den = s_num[keep_groups], s_den[keep_groups]
        value = s_num if v.kind == "count" else np.divide(
            s_num * v.scale, s_den, out=np.full(len(s_num), np.nan), where=s_den > 0
        )  # fmt: skip
        piece["OBS_VALUE"] = arrow.array(np.round(value, v.decimals), pa.float64(), nan_is_null=True)
        lineage = _list_array([lengths[keep_groups]], [take_rows])
        piece["SOURCE_ROW"] = pc.list_element(lineage, arrow.scalar(0))
        piece["OBS_NUMERATOR"] = arrow.array(s_num, pa.float64(), nan_is_null=True)
        piece["OBS_DENOMINATOR"] = arrow.array(s_den, pa.float64(), nan_is_null=True)
        piece["OBS_COUNT"] = _counts(piece["OBS_NUMERATOR" if v.kind == "count" else "OBS_DENOMINATOR"])
        piece["SOURCE_ROWS"] = lineage
        pieces.append(pa.table({c: piece[c] for c in pieces[0].column_names}, schema=pieces[0].schema))
    return pa.concat_tables(pieces)


def _sum(inv: np.ndarray, groups: int, values: np.ndarray) -> np.ndarray:
    """Per-group sums; NaN where a part is missing (the total is then unknown, not too small)."""
    missing = np.bincount(inv, weights=np.isnan(values), minlength=groups) > 0
    sums = np.bincount(inv, weights=np.nan_to_num(values), minlength=groups)
    return np.where(missing, np.nan, sums)


def _counts(values: pa.Array) -> pa.Array:
    return pc.cast(pc.round(values), pa.int64())


def _with_lineage(table: pa.Table, kind: str) -> pa.Table:
    """The source rows of row-by-row observations as ``SOURCE_ROWS`` (one row each) and ``OBS_COUNT``."""
    n = table.num_rows
    offsets = arrow.array(np.arange(n + 1, dtype=np.int32))
    lineage = pa.ListArray.from_arrays(offsets, table["SOURCE_ROW"].combine_chunks())
    counts = _counts(table["OBS_NUMERATOR" if kind == "count" else "OBS_DENOMINATOR"].combine_chunks())
    return table.append_column("OBS_COUNT", counts).append_column("SOURCE_ROWS", lineage)


def _group_attribute(
    values: pa.ChunkedArray,
    fixed: str | None,
    sel: np.ndarray,
    inv: np.ndarray,
    groups: int,
    keep: np.ndarray,
) -> pa.Array:
    """An attribute of computed totals: the parts' value when they all agree, else empty."""
    if fixed is not None:
        return pa.repeat(arrow.scalar(fixed, pa.string()), len(keep))
    enc = _Encoder()
    ids = enc.encode(values)[sel]
    low = np.full(groups, np.iinfo(np.int32).max, dtype=np.int64)
    high = np.full(groups, -1, dtype=np.int64)
    np.minimum.at(low, inv, ids)
    np.maximum.at(high, inv, ids)
    same = (low == high)[keep]
    picked = pc.take(enc.dictionary(), arrow.array(low[keep].astype(np.int32)))
    return pc.if_else(arrow.array(same), picked, arrow.scalar(None, pa.string()))
