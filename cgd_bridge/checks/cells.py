"""Checks on the table's *cells* as a whole: small cells and secondary suppression, parts that
do not add up to their total, counts above their denominator, and the achieved sample size.

Aggregate data (one row per cell, with count/denominator columns) is kept as a compact table:
one int32 code per key column (area, period, disaggregations and other text columns) and one
float64 per measure, about 40 bytes a row, so 10 million rows stay well under a gigabyte.
Microdata (one row per respondent) is counted per combination of area, period and
disaggregations batch by batch, then the margins (totals over each disaggregation) are added,
because those are the cells that will be published.

Small cells and secondary suppression are decided and reported by
:mod:`cgd_bridge.checks.disclosure` on the cell table built here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.checks.base import BaseCheck, Context, TypedBatch, add_examples
from cgd_bridge.checks.base import plain_number as _plain
from cgd_bridge.checks.base import provisional_row as _row
from cgd_bridge.checks.base import show_number as _num
from cgd_bridge.checks.disclosure import EXAMPLES, TOTAL_MARGIN, Cells, Families, KeyColumn, suppress_cells
from cgd_bridge.findings import Finding, Severity, register
from cgd_bridge.i18n import N_

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


_KEPT = "__kept__"  # the chunks' column: the mapping keeps the row (Context.kept)


class CellCheck(BaseCheck):
    """Small cells, secondary suppression, totals, count <= denominator, sample size."""

    def __init__(self) -> None:
        self.keys: list[KeyColumn] = []
        self.measures: list[str] = []
        self.pairs: list[tuple[str, str]] = []  # (count, denominator)
        self.shares: list[tuple[str, str]] = []  # (percentage, denominator): a value of a denominator
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
        self.shares = [
            (f.name, f.denominator)
            for f in s.by_role("value")
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
            KeyColumn(f.name, f.role in ("disaggregation", "disability_status"), set(f.total_values))
            for f in key_fields
        ]
        self.chunks = []

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Encode the batch's keys and keep its measures (aggregate) or counts (microdata)."""
        if not self.keys and not self.measures:
            return
        cols: dict[str, np.ndarray] = {k.name: k.encode(tb.text[k.name]) for k in self.keys}
        if ctx.schema.data_kind == "aggregate":
            for m in [*self.measures, *(v for v, _ in self.shares)]:
                # float32 holds every whole count below 16.7 million exactly, at half the memory
                cols[m] = _to_float(tb.values[m], tb.invalid[m]).astype(np.float32)
            self._count_above_denominator(ctx, tb)
            if ctx.kept is not None:  # the rows the mapping publishes (pipeline.examine)
                cols[_KEPT] = ctx.kept(tb.raw, tb.first_row)
            self.chunks.append(cols)
        else:
            self.chunks.append(arrow.group_sum(cols, list(cols)))

    def _count_above_denominator(self, ctx: Context, tb: TypedBatch) -> None:
        for count, den in self.pairs:
            c, d = tb.values[count], tb.values[den]
            mask = arrow.fill_null(pc.greater(pc.cast(c, pa.float64()), pc.cast(d, pa.float64())), False)
            add_examples(
                ctx, tb, mask,
                lambda row, _v, c_=c, d_=d, cn=count, dn=den, tb_=tb: ctx.finding(
                    COUNT_ABOVE_DENOMINATOR,
                    N_("{count} ({count_value}) is larger than {denominator} ({denominator_value})"),
                    N_("Check both numbers: {count} counts some of the {denominator}, so it cannot "
                       "be larger."),
                    {
                        "count": cn, "count_value": _num(c_[row - tb_.first_row].as_py()),
                        "denominator": dn, "denominator_value": _num(d_[row - tb_.first_row].as_py()),
                    },
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
            frame = Cells(arrow.group_sum(columns, [k.name for k in self.keys], "__n__"))
            self._sample_size(ctx, frame)
            if ctx.options.mapped:  # the mapping's observations are the cells (pipeline.examine)
                return
            cube = self._cube(frame)
            suppress_cells(ctx, cube, self.keys, ["__n__"], self._families(cube), microdata=True)
        else:
            kept = columns.pop(_KEPT, None)
            cells = Cells(columns)
            self._sample_size(ctx, cells)
            families = self._families(cells)
            self._totals(ctx, cells, families)  # the source's own arithmetic: every row
            rows = None
            if kept is not None and not kept.all():
                # disclosure control decides on the cells the mapping publishes (#13): rows a
                # drop rule removes are neither protected nor counted on as complements
                rows = np.flatnonzero(kept) + 2  # their provisional row numbers
                cells = Cells({name: values[kept] for name, values in cells.items()})
                families = self._families(cells)
            ctx.suppression = suppress_cells(
                ctx, cells, self.keys, self.measures, families, microdata=False,
                pairs=[*self.pairs, *self._share_numerators(cells)], rows=rows,
            )  # fmt: skip

    def _share_numerators(self, cells: Cells) -> list[tuple[str, str]]:
        """A percentage published beside its denominator (a ``value`` field with ``denominator``)
        gives away its numerator: ``round(percentage / 100 x denominator)`` people, added to the
        cell table so that the rules on numerators, complements and whole groups apply to it."""
        out = []
        for value, den in self.shares:
            name = f"{value} % of {den}"
            with np.errstate(invalid="ignore"):
                cells[name] = np.round(cells[value].astype(np.float64) * cells[den] / 100)
            out.append((name, den))
        return out

    # -- cube and families -------------------------------------------------------------------
    def _cube(self, frame: Cells) -> Cells:
        """Counts for every combination, plus the margins over each set of disaggregations."""
        dis = [k.name for k in self.keys if k.disaggregation]
        fixed = [k.name for k in self.keys if not k.disaggregation]
        parts: list[dict[str, np.ndarray]] = [frame]
        for r in range(1, len(dis) + 1):
            for margin in itertools.combinations(dis, r):
                keep = fixed + [d for d in dis if d not in margin]
                if keep:
                    g = arrow.group_sum(frame, keep, "__n__")
                else:
                    g = {"__n__": np.array([frame["__n__"].sum()], dtype=frame["__n__"].dtype)}
                rows = len(g["__n__"])
                for d in margin:
                    g[d] = np.full(rows, TOTAL_MARGIN, dtype=frame[d].dtype)
                parts.append(g)
        return Cells({c: np.concatenate([part[c] for part in parts]) for c in frame})

    def _total_ids(self, name: str) -> set[int]:
        key = next(k for k in self.keys if k.name == name)
        return key.total_ids() | {TOTAL_MARGIN}

    def _disaggregations(self) -> list[str]:
        return [k.name for k in self.keys if k.disaggregation]

    def _families(self, cells: Cells) -> dict[str, Families]:
        """The families along each disaggregation (computed once, used by totals and suppression)."""
        names = [k.name for k in self.keys]
        out = {}
        for d in self._disaggregations():
            fam = Families.build(
                cells, [n for n in names if n != d], np.isin(cells[d], list(self._total_ids(d)))
            )
            if fam is not None:
                out[d] = fam
        return out

    def _totals(self, ctx: Context, cells: Cells, families: dict[str, Families]) -> None:
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
                            N_(
                                "the {dimension} parts of {measure} add up to {sum}, but the total row "
                                "says {total} (difference {difference})"
                            ),
                            N_(
                                "Correct the total or the parts (rows {rows}); if a category is missing, "
                                "add its row."
                            ),
                            {
                                "dimension": d,
                                "measure": m,
                                "sum": _num(part_sum[g]),
                                "total": _num(total[g]),
                                "difference": _num(part_sum[g] - total[g]),
                                "rows": ", ".join(map(str, part_rows[:8]))
                                + (" …" if len(part_rows) > 8 else ""),
                            },
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

    # -- sample size -------------------------------------------------------------------------
    def _sample_size(self, ctx: Context, cells: Cells | None) -> None:
        if ctx.metadata is None:
            return
        md = ctx.metadata.model
        declared = md.sampling.n_achieved if md.sampling else None
        if declared is None:
            return
        if ctx.schema.data_kind == "microdata":
            actual = int(cells["__n__"].sum()) if cells is not None else 0
            problem = N_(
                "sampling.n_achieved is {declared}, but there are {actual} rows (respondents) in the data"
            )
            column = ""
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
            problem = N_(
                "sampling.n_achieved is {declared}, but there are {actual} respondents in the data (sum "
                "of '{column}' over the rows where every breakdown is the total)"
            )
            column = dens[0]
        if actual != declared:
            ctx.report.add(
                ctx.metadata.finding(
                    SAMPLE_SIZE,
                    "sampling.n_achieved",
                    problem,
                    N_(
                        "Correct sampling.n_achieved in the metadata, or check that no rows are "
                        "missing from the data."
                    ),
                    {"declared": declared, "actual": actual, "column": column},
                    details={"declared": declared, "in_data": actual},
                )
            )


def _to_float(values: pa.Array, invalid: pa.Array) -> np.ndarray:
    arr = pc.if_else(invalid, arrow.scalar(None, values.type), values)
    return arrow.to_numpy(pc.cast(arr, pa.float64()))
