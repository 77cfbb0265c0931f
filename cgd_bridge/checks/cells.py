"""Checks on the table's *cells* as a whole: small cells and secondary suppression, parts that
do not add up to their total, counts above their denominator, and the achieved sample size.

Aggregate data (one row per cell, with count/denominator columns) is kept as a compact table:
one int32 code per key column (area, period, disaggregations and other text columns) and one
float64 per measure, about 40 bytes a row, so 10 million rows stay well under a gigabyte.
Microdata (one row per respondent) is counted per combination of area, period and
disaggregations batch by batch, then the margins (totals over each disaggregation) are added,
because those are the cells that will be published.

Secondary suppression: along every disaggregation, a family is the rows that differ only in that
column (e.g. Female, Male and Total for one county, age group and year). If exactly one part of a
family is suppressed while its total is published, the total minus the other parts reveals it,
so the smallest other part is suppressed too; if the total is suppressed but no part, the
smallest part is. This repeats over all disaggregations until nothing changes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.checks.base import BaseCheck, Context, TypedBatch, add_examples
from cgd_bridge.findings import Finding, Severity, register

SMALL_CELL = register(
    "small-cell", Severity.WARNING, "privacy", "Small cell",
    """A count or a denominator is below the disclosure threshold (default 5; set
    privacy.disclosure_control.threshold). So few people can be recognised; the cell must be
    suppressed: it will be published without a value, as OBS_STATUS Q and CONF_STATUS C.""",
)  # fmt: skip
SECONDARY = register(
    "secondary-suppression", Severity.WARNING, "privacy", "Cell to suppress to protect another",
    """This cell is not small, but publishing it would reveal a suppressed small cell (the
    total minus the other parts gives it away), so it must be suppressed too.""",
)  # fmt: skip
TOTAL_MISMATCH = register(
    "total-mismatch", Severity.ERROR, "consistency", "Parts do not add up to the total",
    """The parts of a breakdown (e.g. female + male, or with + without disability) do not add
    up to their total row, beyond the declared tolerance.""",
)  # fmt: skip
COUNT_ABOVE_DENOMINATOR = register(
    "count-above-denominator", Severity.ERROR, "consistency", "Count larger than its denominator",
    """A count (e.g. satisfied respondents) is larger than the number it is a part of (e.g.
    all respondents in the same row).""",
)  # fmt: skip
SAMPLE_SIZE = register(
    "sample-size-mismatch", Severity.ERROR, "coherence", "Sample size differs from the data",
    """sampling.n_achieved in the metadata is not the number of respondents in the data (rows
    of microdata, or the denominators of the all-total rows of aggregate data).""",
)  # fmt: skip

NULL_CODE = -1
EXAMPLES = 200


@dataclass
class _KeyColumn:
    name: str
    disaggregation: bool
    totals: set[str]
    ids: dict[str, int] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)

    def encode(self, text: pa.Array) -> np.ndarray:
        """Global int32 codes for a batch's text values (null -> -1)."""
        enc = pc.dictionary_encode(text)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        lookup = np.empty(len(enc.dictionary), dtype=np.int32)
        for i, value in enumerate(enc.dictionary.to_pylist()):
            code = self.ids.get(value)
            if code is None:
                code = self.ids[value] = len(self.labels)
                self.labels.append(value)
            lookup[i] = code
        mask = pc.is_null(enc.indices).to_numpy(zero_copy_only=False)
        idx = pc.fill_null(enc.indices, 0).to_numpy(zero_copy_only=False)
        out = lookup[idx] if len(lookup) else np.full(len(idx), NULL_CODE, np.int32)
        out[mask] = NULL_CODE
        return out.astype(np.int32, copy=False)

    def total_ids(self) -> set[int]:
        """Codes of the labels that mean 'total'."""
        low = {t.casefold() for t in self.totals}
        return {i for i, label in enumerate(self.labels) if label.casefold() in low}

    def label(self, code: int) -> str:
        """The label of a code ('(empty)' for null, '_T' for a computed margin)."""
        if code == NULL_CODE:
            return "(empty)"
        if code == TOTAL_MARGIN:
            return "_T"
        return self.labels[code]


TOTAL_MARGIN = -2  # the code of a margin computed from microdata


class CellCheck(BaseCheck):
    """Small cells, secondary suppression, totals, count <= denominator, sample size."""

    def __init__(self) -> None:
        self.keys: list[_KeyColumn] = []
        self.measures: list[str] = []
        self.pairs: list[tuple[str, str]] = []  # (count, denominator)
        self.chunks: list[dict[str, np.ndarray]] = []

    def start(self, ctx: Context) -> None:
        """Decide the key columns and measures from the schema's roles."""
        s = ctx.schema
        measure_roles = ("count", "denominator")
        self.measures = [f.name for f in s.by_role(*measure_roles) if f.name in ctx.bound]
        self.pairs = [
            (f.name, f.denominator)
            for f in s.by_role("count")
            if f.denominator and f.name in ctx.bound and f.denominator in ctx.bound
        ]
        key_fields = [
            f
            for f in s.fields
            if f.name in ctx.bound
            and (
                f.role in ("area", "period", "disaggregation", "disability_status")
                or (s.data_kind == "aggregate" and f.name in s.primary_key)
            )
        ]
        self.keys = [
            _KeyColumn(f.name, f.role in ("disaggregation", "disability_status"), set(f.total_values))
            for f in key_fields
        ]
        self.chunks = []

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Encode the batch's keys and keep its measures (aggregate) or counts (microdata)."""
        if not self.keys and not self.measures:
            return
        cols: dict[str, np.ndarray] = {k.name: k.encode(tb.text[k.name]) for k in self.keys}
        if ctx.schema.data_kind == "aggregate":
            for m in self.measures:
                # float32 holds every whole count below 16.7 million exactly, at half the memory
                cols[m] = _to_float(tb.values[m], tb.invalid[m]).astype(np.float32)
            self._count_above_denominator(ctx, tb)
            self.chunks.append(cols)
        else:
            frame = pd.DataFrame(cols)
            counted = frame.groupby(list(cols), sort=False).size().rename("__n__").reset_index()
            self.chunks.append({c: counted[c].to_numpy() for c in counted.columns})

    def _count_above_denominator(self, ctx: Context, tb: TypedBatch) -> None:
        for count, den in self.pairs:
            c, d = tb.values[count], tb.values[den]
            mask = pc.fill_null(pc.greater(pc.cast(c, pa.float64()), pc.cast(d, pa.float64())), False)
            add_examples(
                ctx, tb, mask,
                lambda row, _v, c_=c, d_=d, cn=count, dn=den, tb_=tb: ctx.finding(
                    COUNT_ABOVE_DENOMINATOR,
                    f"{cn} ({_num(c_[row - tb_.first_row].as_py())}) is larger than {dn} "
                    f"({_num(d_[row - tb_.first_row].as_py())})",
                    f"Check both numbers: {cn} counts some of the {dn}, so it cannot be larger.",
                    row=row, field=cn,
                ),
            )  # fmt: skip

    def finish(self, ctx: Context) -> None:
        """Build the cell table, then run the whole-table checks on it."""
        if not self.chunks:
            self._sample_size(ctx, None)
            return
        # concatenate column by column, releasing each batch's piece as it goes (bounded peak)
        columns: dict[str, np.ndarray] = {}
        for name in list(self.chunks[0]):
            columns[name] = np.concatenate([c.pop(name) for c in self.chunks])
        self.chunks = []
        if ctx.schema.data_kind == "microdata":
            counts = pd.DataFrame(columns).groupby([k.name for k in self.keys], sort=False)["__n__"]
            frame = counts.sum().reset_index()
            self._sample_size(ctx, _Cells.of(frame))
            cube = _Cells.of(self._cube(frame))
            self._suppression(ctx, cube, ["__n__"], self._families(cube), microdata=True)
        else:
            cells = _Cells(columns)
            self._sample_size(ctx, cells)
            families = self._families(cells)
            self._totals(ctx, cells, families)
            self._suppression(ctx, cells, self.measures, families, microdata=False)

    # -- cube and families -------------------------------------------------------------------
    def _cube(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Counts for every combination, plus the margins over each set of disaggregations."""
        dis = [k.name for k in self.keys if k.disaggregation]
        fixed = [k.name for k in self.keys if not k.disaggregation]
        parts = [frame]
        for r in range(1, len(dis) + 1):
            for margin in itertools.combinations(dis, r):
                keep = fixed + [d for d in dis if d not in margin]
                if keep:
                    g = frame.groupby(keep, sort=False)["__n__"].sum().reset_index()
                else:
                    g = pd.DataFrame({"__n__": [frame["__n__"].sum()]})
                for d in margin:
                    g[d] = TOTAL_MARGIN
                parts.append(g)
        return pd.concat(parts, ignore_index=True)

    def _total_ids(self, name: str) -> set[int]:
        key = next(k for k in self.keys if k.name == name)
        return key.total_ids() | {TOTAL_MARGIN}

    def _disaggregations(self) -> list[str]:
        return [k.name for k in self.keys if k.disaggregation]

    def _families(self, cells: _Cells) -> dict[str, _Families]:
        """The families along each disaggregation (computed once, used by totals and suppression)."""
        names = [k.name for k in self.keys]
        out = {}
        for d in self._disaggregations():
            fam = _Families.build(
                cells, [n for n in names if n != d], np.isin(cells[d], list(self._total_ids(d)))
            )
            if fam is not None:
                out[d] = fam
        return out

    def _totals(self, ctx: Context, cells: _Cells, families: dict[str, _Families]) -> None:
        tol = ctx.options.tolerance
        if tol is None:
            tol = float(getattr(ctx.schema, "total_tolerance", 0.0) or 0.0)
        examples: list[Finding] = []
        total_bad = 0
        for d, fam in families.items():
            part = ~fam.is_total
            # the first total row of each family (duplicates are reported as duplicate keys)
            total_row = np.full(fam.n, -1, dtype=np.int64)
            t_idx = np.flatnonzero(fam.is_total)[::-1]
            total_row[fam.group[t_idx]] = t_idx
            n_parts = np.bincount(fam.group, weights=part, minlength=fam.n)
            for m in self.measures:
                values = cells[m]
                weights = np.where(part & ~np.isnan(values), values, 0)
                part_sum = np.bincount(fam.group, weights=weights, minlength=fam.n)
                del weights
                has = (total_row >= 0) & (n_parts > 0)
                total = np.where(has, values[np.maximum(total_row, 0)], np.nan)
                bad = has & ~np.isnan(total) & (np.abs(part_sum - total) > tol * np.abs(total) + 1e-9)
                bad_groups = np.flatnonzero(bad)
                total_bad += bad_groups.size
                for g in bad_groups[: max(0, EXAMPLES - len(examples))]:
                    members = fam.members(int(g))
                    part_rows = sorted(_row(int(i)) for i in members if not fam.is_total[i])
                    t_row = _row(int(total_row[g]))
                    examples.append(
                        ctx.finding(
                            TOTAL_MISMATCH,
                            f"the {d} parts of {m} add up to {_num(part_sum[g])}, but the total row "
                            f"says {_num(total[g])} (difference {_num(part_sum[g] - total[g])})",
                            f"Correct the total or the parts (rows {', '.join(map(str, part_rows[:8]))}"
                            f"{' …' if len(part_rows) > 8 else ''}); if a category is missing, add its row.",
                            row=t_row,
                            rows=(t_row, *part_rows),
                            field=m,
                            details={
                                "dimension": d,
                                "total": _plain(total[g]),
                                "sum_of_parts": _plain(part_sum[g]),
                            },
                        )
                    )  # fmt: skip
        if total_bad:
            ctx.report.add_counted(total_bad, examples)

    def _suppression(
        self,
        ctx: Context,
        cells: _Cells,
        measures: list[str],
        families: dict[str, _Families],
        *,
        microdata: bool,
    ) -> None:
        k = ctx.threshold
        if not measures or cells.n == 0:
            return
        values = np.column_stack([cells[m].astype(np.float32, copy=False) for m in measures])
        small = ((values > 0) & (values < k)).any(axis=1)
        primary = small.copy()
        suppressed = small.copy()
        size = values[:, -1] if not microdata else values[:, 0]
        size = np.where(np.isnan(size), np.inf, size)
        reasons = _protect_all(families, suppressed, size)
        secondary = suppressed & ~primary
        if not microdata:
            ctx.report.suppressed_rows = np.flatnonzero(suppressed) + 2  # provisional row numbers
        self._report_cells(ctx, cells, measures, primary, secondary, reasons, k, microdata)

    def _report_cells(
        self,
        ctx: Context,
        cells: _Cells,
        measures: list[str],
        primary: np.ndarray,
        secondary: np.ndarray,
        reasons: dict[int, tuple[int, str]],
        k: int,
        microdata: bool,
    ) -> None:
        def describe(i: int) -> str:
            return ", ".join(f"{kk.name}={kk.label(int(cells[kk.name][i]))}" for kk in self.keys)

        for mask, code in ((primary, SMALL_CELL), (secondary, SECONDARY)):
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue
            examples = []
            for i in idx[:EXAMPLES]:
                vals = {m: cells[m][i] for m in measures}
                shown = ", ".join(
                    f"{'respondents' if m == '__n__' else m} {_num(v)}" for m, v in vals.items()
                )
                row = None if microdata else _row(int(i))
                where = f"the cell {describe(i)}" if microdata else "this row"
                if code == SMALL_CELL:
                    problem = f"{where} has {shown}: below the threshold of {k}"
                    fix = ("It must not be published as is: it will be suppressed (OBS_STATUS Q, "
                           "CONF_STATUS C). Merge categories or areas if the figure is needed.")  # fmt: skip
                else:
                    other, dim = reasons.get(int(i), (-1, "?"))
                    other_txt = (
                        f"row {_row(other)}"
                        if not microdata and other >= 0
                        else (f"the cell {describe(other)}" if other >= 0 else "a suppressed cell")
                    )
                    problem = (f"{where} ({shown}) must also be suppressed: with the {dim} total it "
                               f"would reveal the suppressed {other_txt}")  # fmt: skip
                    fix = "Nothing to change in the data: the bridge suppresses it on conversion."
                examples.append(
                    ctx.finding(
                        code, problem, fix, row=row,
                        details={"cell": {kk.name: kk.label(int(cells[kk.name][i])) for kk in self.keys},
                                 **{_measure_name(m): _plain(v) for m, v in vals.items()}},
                    )
                )  # fmt: skip
            ctx.report.add_counted(int(idx.size), examples)

    # -- sample size -------------------------------------------------------------------------
    def _sample_size(self, ctx: Context, cells: _Cells | None) -> None:
        if ctx.metadata is None:
            return
        md = ctx.metadata.model
        declared = md.sampling.n_achieved if md.sampling else None
        if declared is None:
            return
        if ctx.schema.data_kind == "microdata":
            actual = int(cells["__n__"].sum()) if cells is not None else 0
            how = "rows (respondents) in the data"
        else:
            dens = [f.name for f in ctx.schema.by_role("denominator") if f.name in self.measures]
            if cells is None or not dens:
                return
            sel = np.ones(cells.n, dtype=bool)
            for d in self._disaggregations():
                is_total = np.isin(cells[d], list(self._total_ids(d)))
                if is_total.any():
                    sel &= is_total
            for kk in self.keys:
                if (
                    not kk.disaggregation
                    and kk.totals
                    and kk.name in [f.name for f in ctx.schema.by_role("area")]
                ):
                    sel &= ~np.isin(cells[kk.name], list(kk.total_ids()))
            actual = int(np.nansum(cells[dens[0]][sel].astype(np.float64)))
            how = (
                f"respondents in the data (sum of '{dens[0]}' over the rows where every "
                "breakdown is the total)"
            )
        if actual != declared:
            ctx.report.add(
                ctx.metadata.finding(
                    SAMPLE_SIZE,
                    "sampling.n_achieved",
                    f"sampling.n_achieved is {declared}, but there are {actual} {how}",
                    "Correct sampling.n_achieved in the metadata, or check that no rows are "
                    "missing from the data.",
                    details={"declared": declared, "in_data": actual},
                )
            )


@dataclass
class _Families:
    """Rows grouped into families along one disaggregation (rows equal on every other key)."""

    group: np.ndarray  # family id of each row (int32)
    is_total: np.ndarray  # the row is the family's total
    n: int  # number of families

    @classmethod
    def build(cls, cells: _Cells, other: list[str], is_total: np.ndarray) -> _Families | None:
        if not is_total.any() or is_total.all():
            return None
        group, n = _group_ids(cells, other)
        return cls(group=group, is_total=is_total, n=n)

    def members(self, g: int) -> np.ndarray:
        """Row indices of family ``g`` (a scan: used only for the few findings shown)."""
        return np.flatnonzero(self.group == g)


def _group_ids(cells: _Cells, columns: list[str]) -> tuple[np.ndarray, int]:
    """An int32 id per combination of the code columns, and the number of ids.

    The mixed-radix combination of the codes is used as the id directly when it is small enough
    for bincount (no hashing, no sorting); otherwise it is factorised into dense ids.
    """
    if not columns:
        return np.zeros(cells.n, np.int32), 1
    lows, widths = [], []
    for name in columns:
        codes = cells[name]
        lows.append(int(codes.min()))
        widths.append(int(codes.max()) - lows[-1] + 1)
    span = 1
    for w in widths:
        span *= w
    dtype = np.int32 if span < 2**31 else np.int64
    if span >= 2**62:
        frame = pd.DataFrame({c: cells[c] for c in columns})
        ids = frame.groupby(columns, sort=False).ngroup().to_numpy().astype(np.int32)
        return ids, int(ids.max()) + 1
    key = np.zeros(cells.n, dtype=dtype)
    mult = 1
    for name, low, width in zip(columns, lows, widths, strict=True):
        key += (cells[name].astype(dtype) - low) * dtype(mult)
        mult *= width
    if dtype is np.int32 and span <= max(4 * cells.n, 1 << 22):
        return key, span
    ids, uniques = pd.factorize(key)
    return ids.astype(np.int32), len(uniques)


class _Cells(dict[str, np.ndarray]):
    """The cell table: one numpy array per key code column and measure, in file order."""

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(next(iter(self.values()))) if self else 0

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Cells:
        """From a (small) pandas frame."""
        return cls({c: frame[c].to_numpy() for c in frame.columns})


def protect(
    keys: dict[str, np.ndarray], totals: dict[str, np.ndarray], suppressed: np.ndarray, size: np.ndarray
) -> dict[int, tuple[int, str]]:
    """Secondary suppression of any cell table, in place on ``suppressed`` (also used for the
    observations the mapping engine aggregates).

    Args:
        keys: every key column of the table as integer codes (e.g. dictionary indices).
        totals: per disaggregation, True where the row is that disaggregation's total.
        suppressed: the primary suppression; the cells that would reveal it are added.
        size: the cells' sizes (the smallest other part of a family is chosen).

    Returns:
        For each secondarily suppressed row, (the suppressed row it protects, the disaggregation).
    """
    cells = _Cells(keys)
    families = {}
    for d, is_total in totals.items():
        fam = _Families.build(cells, [k for k in keys if k != d], is_total)
        if fam is not None:
            families[d] = fam
    return _protect_all(families, suppressed, size)


def _protect_all(
    families: dict[str, _Families], suppressed: np.ndarray, size: np.ndarray
) -> dict[int, tuple[int, str]]:
    """Secondary suppression along every family until nothing changes (at most 20 rounds)."""
    reasons: dict[int, tuple[int, str]] = {}
    for _ in range(20):
        changed = False
        for d, fam in families.items():
            changed |= _protect(fam, d, suppressed, size, reasons)
        if not changed:
            break
    return reasons


def _protect(
    fam: _Families,
    d: str,
    suppressed: np.ndarray,
    size: np.ndarray,
    reasons: dict[int, tuple[int, str]],
) -> bool:
    """One round of secondary suppression along ``d``; True if anything changed."""
    group, is_total, n = fam.group, fam.is_total, fam.n
    part = ~is_total
    sup_parts = np.bincount(group, weights=(part & suppressed), minlength=n)
    n_parts = np.bincount(group, weights=part, minlength=n)
    has_total = np.bincount(group, weights=is_total, minlength=n) > 0
    total_sup = np.bincount(group, weights=(is_total & suppressed), minlength=n) > 0
    need = has_total & (
        ((sup_parts == 1) & ~total_sup & (n_parts >= 2)) | (total_sup & (sup_parts == 0) & (n_parts >= 1))
    )
    if not need.any():
        return False
    candidates = np.flatnonzero(part & ~suppressed & need[group])
    if candidates.size == 0:
        return False
    # the smallest unsuppressed part of each family that needs protection
    order = np.lexsort((size[candidates], group[candidates]))
    cand = candidates[order]
    chosen = cand[np.r_[True, group[cand][1:] != group[cand][:-1]]]
    # the suppressed cell each choice protects: the family's first suppressed row
    first_sup = np.full(n, -1, dtype=np.int64)
    sup_idx = np.flatnonzero(suppressed)[::-1]
    first_sup[group[sup_idx]] = sup_idx
    suppressed[chosen] = True
    for i in chosen.tolist():
        reasons[i] = (int(first_sup[group[i]]), d)
    return True


def _to_float(values: pa.Array, invalid: pa.Array) -> np.ndarray:
    arr = pc.if_else(invalid, pa.scalar(None, values.type), values)
    return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() else f"{f:g}"


def _row(i: int) -> int:
    """The provisional row number of position ``i`` of the (file-ordered) cell table."""
    return i + 2


def _measure_name(m: str) -> str:
    return "respondents" if m == "__n__" else m


def _plain(v: Any) -> Any:
    f = float(v)
    return int(f) if f.is_integer() else f
