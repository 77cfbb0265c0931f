"""Disclosure control: which cells and observations are suppressed, and the findings that say so.

Primary suppression (:mod:`cgd_bridge.checks.primary`, one function for both tables): a cell
resting on 1 to k-1 respondents, a proportion whose numerator or complement is 1 to k-1, and
0 % or 100 % of a group smaller than the group size are suppressed (k is the threshold: the
metadata's ``privacy.disclosure_control.threshold``, else the run's, default 5, never below 3).

Secondary suppression: along every disaggregation, a family is the rows that differ only in that
column (e.g. Female, Male and Total for one county, age group and year). If exactly one part of a
family is suppressed while its total is published, the total minus the other parts reveals it,
so the smallest other part is suppressed too; if the total is suppressed but no part, the
smallest part is. This repeats over all disaggregations until nothing changes.

Two tables are protected, with the same rules:

- the cells of the source table, which :class:`~cgd_bridge.checks.cells.CellCheck` builds as a
  compact :class:`Cells` table: :func:`suppress_cells` decides and reports, and for aggregate
  data returns the source rows to suppress as a :class:`Suppression`;
- the observations the mapping engine aggregates from microdata or whose totals it computes:
  :func:`suppress_observations` decides and reports, and adds a ``SUPPRESSED`` column.

:func:`suppressed_mask` gives the observations to publish without a value from either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.checks.base import Context, Suppression, plain_number, provisional_row, show_number
from cgd_bridge.checks.primary import CODES, Limits, Rule, explain, primary_rules
from cgd_bridge.findings import CHECKS, Finding, Report, Severity, register

if TYPE_CHECKING:
    from cgd_bridge.mapping.apply import Harmonised

SECONDARY = register(
    "secondary-suppression", Severity.WARNING, "privacy", "Cell to suppress to protect another",
    """This cell is not small, but publishing it would reveal a suppressed small cell (the
    total minus the other parts gives it away), so it must be suppressed too.""",
)  # fmt: skip

EXAMPLES = 200  # findings materialised per code


# -- the cell table and its families -------------------------------------------------------------


NULL_CODE = -1  # the code of an empty key cell


@dataclass
class KeyColumn:
    """One key column of the cell table: its codes as int32, its total labels."""

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


class Cells(dict[str, np.ndarray]):
    """The cell table: one numpy array per key code column and measure, in file order."""

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(next(iter(self.values()))) if self else 0

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Cells:
        """From a (small) pandas frame."""
        return cls({c: frame[c].to_numpy() for c in frame.columns})


@dataclass
class Families:
    """Rows grouped into families along one disaggregation (rows equal on every other key)."""

    group: np.ndarray  # family id of each row (int32)
    is_total: np.ndarray  # the row is the family's total
    n: int  # number of families

    @classmethod
    def build(cls, cells: Cells, other: list[str], is_total: np.ndarray) -> Families | None:
        """The families of ``cells`` along the columns not in ``other``; None without any."""
        if not is_total.any() or is_total.all():
            return None
        group, n = _group_ids(cells, other)
        return cls(group=group, is_total=is_total, n=n)

    def members(self, g: int) -> np.ndarray:
        """Row indices of family ``g`` (a scan: used only for the few findings shown)."""
        return np.flatnonzero(self.group == g)


def _group_ids(cells: Cells, columns: list[str]) -> tuple[np.ndarray, int]:
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
    dtype: type[np.signedinteger[Any]] = np.int32 if span < 2**31 else np.int64
    if span >= 2**62:
        frame = pd.DataFrame({c: cells[c] for c in columns})
        ids = frame.groupby(columns, sort=False).ngroup().to_numpy().astype(np.int32)
        return ids, int(ids.max()) + 1
    key: np.ndarray[Any, Any] = np.zeros(cells.n, dtype=dtype)
    mult = 1
    for name, low, width in zip(columns, lows, widths, strict=True):
        key += (cells[name].astype(dtype) - low) * mult
        mult *= width
    if dtype is np.int32 and span <= max(4 * cells.n, 1 << 22):
        return key, span
    factor, uniques = pd.factorize(key)
    return factor.astype(np.int32), len(uniques)


# -- secondary suppression -----------------------------------------------------------------------


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
    cells = Cells(keys)
    families = {}
    for d, is_total in totals.items():
        fam = Families.build(cells, [k for k in keys if k != d], is_total)
        if fam is not None:
            families[d] = fam
    return _protect_all(families, suppressed, size)


def _protect_all(
    families: dict[str, Families], suppressed: np.ndarray, size: np.ndarray
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
    fam: Families,
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


# -- the source table's cells ----------------------------------------------------------------------


def suppress_cells(
    ctx: Context,
    cells: Cells,
    keys: Sequence[KeyColumn],
    measures: list[str],
    families: dict[str, Families],
    *,
    microdata: bool,
    pairs: Sequence[tuple[str, str]] = (),
) -> Suppression | None:
    """Primary and secondary suppression of the cell table, with their findings.

    ``pairs`` are the (count, denominator) measures of proportions, for the rules on
    numerators, complements and whole groups (:func:`~cgd_bridge.checks.primary.primary_rules`).
    For aggregate data (one row per cell) the suppressed rows are returned with provisional row
    numbers; for microdata the cells are combinations of respondents, not rows, and nothing is.
    """
    k = ctx.threshold
    if not measures or cells.n == 0:
        return None
    values = np.column_stack([cells[m].astype(np.float32, copy=False) for m in measures])
    limits = Limits(k, ctx.group_size)
    numerators = {c for c, _ in pairs}
    rule = primary_rules(
        limits, [cells[m] for m in measures if m not in numerators], [(cells[c], cells[d]) for c, d in pairs]
    )
    primary = rule > 0
    suppressed = primary.copy()
    size = values[:, -1] if not microdata else values[:, 0]
    size = np.where(np.isnan(size), np.inf, size)
    reasons = _protect_all(families, suppressed, size)
    secondary = suppressed & ~primary
    result = None if microdata else Suppression(np.flatnonzero(suppressed) + 2)  # provisional rows
    _report_cells(ctx, cells, keys, measures, rule, secondary, reasons, limits, microdata, pairs)
    return result


def _report_cells(
    ctx: Context,
    cells: Cells,
    keys: Sequence[KeyColumn],
    measures: list[str],
    rule: np.ndarray,
    secondary: np.ndarray,
    reasons: dict[int, tuple[int, str]],
    limits: Limits,
    microdata: bool,
    pairs: Sequence[tuple[str, str]],
) -> None:
    k = limits.threshold

    def describe(i: int) -> str:
        return ", ".join(f"{kk.name}={kk.label(int(cells[kk.name][i]))}" for kk in keys)

    def pair_of(i: int) -> tuple[str, str]:
        """The (count, denominator) whose proportion the rule of row ``i`` is about."""
        for c, d in pairs:
            if primary_rules(limits, (), [(cells[c][i : i + 1], cells[d][i : i + 1])])[0] == rule[i]:
                return c, d
        return pairs[0]

    by_code: list[tuple[np.ndarray, str]] = [
        (np.isin(rule, [r for r, c in CODES.items() if c == code]), code)
        for code in dict.fromkeys(CODES.values())
    ]
    for mask, code in [*by_code, (secondary, SECONDARY)]:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        examples = []
        for i in idx[:EXAMPLES]:
            vals = {m: cells[m][i] for m in measures}
            shown = ", ".join(
                f"{'respondents' if m == '__n__' else m} {show_number(v)}" for m, v in vals.items()
            )
            row = None if microdata else provisional_row(int(i))
            where = f"the cell {describe(i)}" if microdata else "this row"
            if rule[i] == Rule.SMALL_COUNT:
                problem = f"{where} has {shown}: below the threshold of {k}"
                fix = ("It must not be published as is: it will be suppressed (OBS_STATUS Q, "
                       "CONF_STATUS C). Merge categories or areas if the figure is needed.")  # fmt: skip
            elif rule[i]:
                c, d = pair_of(int(i))
                problem, fix = explain(
                    int(rule[i]), limits, where, count=None, numerator=cells[c][i], denominator=cells[d][i]
                )
                value = c.removesuffix(f" % of {d}")
                if value != c and value in cells:  # a percentage published beside its denominator
                    problem = f"{problem} ({value} {show_number(cells[value][i])} % of {d})"
                else:
                    problem = f"{problem} ({c} of {d})"
            else:
                other, dim = reasons.get(int(i), (-1, "?"))
                other_txt = (
                    f"row {provisional_row(other)}"
                    if not microdata and other >= 0
                    else (f"the cell {describe(other)}" if other >= 0 else "a suppressed cell")
                )
                problem = (f"{where} ({shown}) must also be suppressed: with the {dim} total it "
                           f"would reveal the suppressed {other_txt}")  # fmt: skip
                fix = "Nothing to change in the data: the bridge suppresses it on conversion."
            examples.append(
                ctx.finding(
                    code, problem, fix, row=row,
                    details={"cell": {kk.name: kk.label(int(cells[kk.name][i])) for kk in keys},
                             **{_measure_name(m): plain_number(v) for m, v in vals.items()}},
                )
            )  # fmt: skip
        ctx.report.add_counted(int(idx.size), examples)


def _measure_name(m: str) -> str:
    return "respondents" if m == "__n__" else m


# -- the mapped observations -----------------------------------------------------------------------


def suppress_observations(
    h: Harmonised,
    report: Report,
    *,
    threshold: int,
    suppression: Suppression | None,
    file: str,
    group_size: int | None = None,
) -> None:
    """Small cells among aggregated observations, and the cells that would reveal them.

    The primary rules (:func:`~cgd_bridge.checks.primary.primary_rules`) are applied to the
    respondents each observation rests on (``OBS_COUNT``) and, for a proportion, to its
    numerator and denominator: the unweighted respondents of microdata (``OBS_NUMERATOR_COUNT``
    of ``OBS_COUNT``), the numerator and denominator of aggregate data with computed totals (a
    count's numerator and denominator get rule 1); a row the cell checks suppressed
    (``suppression``) is suppressed too. Secondary suppression (:func:`protect`) then
    suppresses, along every dimension with a total, the smallest other part of any family
    whose total would give it away. The mask becomes the table's ``SUPPRESSED`` column, which
    :func:`suppressed_mask` reads.
    """
    k = threshold
    limits = Limits.of(k, group_size)
    t = h.table

    def number(name: str) -> np.ndarray:
        return np.asarray(pc.fill_null(pc.cast(t[name], pa.float64()), np.nan), dtype=np.float64)

    counts, pairs = [number("OBS_COUNT")], []
    if h.aggregated and h.proportion and "OBS_NUMERATOR_COUNT" in t.column_names:
        pairs.append((number("OBS_NUMERATOR_COUNT"), number("OBS_COUNT")))
    elif not h.aggregated and h.proportion:
        pairs.append((number("OBS_NUMERATOR"), number("OBS_DENOMINATOR")))
    elif not h.aggregated:
        counts += [number("OBS_NUMERATOR"), number("OBS_DENOMINATOR")]
    rule = primary_rules(limits, counts, pairs)
    primary = rule > 0
    if not h.aggregated:
        if suppression is not None and len(suppression.rows):
            single = np.asarray(pc.list_value_length(t["SOURCE_ROWS"])) == 1
            primary |= single & np.isin(t["SOURCE_ROW"].to_numpy(), np.asarray(suppression.rows))
    keys = [*h.dimensions, "TIME_PERIOD"]
    codes = {
        c: np.asarray(
            pc.dictionary_encode(t[c].combine_chunks(), null_encoding="encode").indices, dtype=np.int32
        )
        for c in keys
    }
    totals = {
        d: np.asarray(pc.fill_null(pc.equal(t[d], h.totals.get(d, "_T")), False), dtype=bool)
        for d in h.dimensions
    }
    suppressed = primary.copy()
    size = np.asarray(pc.fill_null(pc.cast(t["OBS_COUNT"], pa.float64()), np.inf), dtype=np.float64)
    reasons = protect(codes, totals, suppressed, size)
    h.table = t.append_column("SUPPRESSED", pa.array(suppressed))
    varying = [d for d in keys if pc.count_distinct(t[d]).as_py() > 1] or keys

    def where(i: int) -> str:
        return ", ".join(f"{d}={t[d][i].as_py()}" for d in varying)

    by_code = [
        (np.isin(rule, [r for r, c in CODES.items() if c == code]), code)
        for code in dict.fromkeys(CODES.values())
    ]
    for mask, code in [*by_code, (suppressed & ~primary, SECONDARY)]:
        idx = np.flatnonzero(mask)
        examples = []
        for i in idx[:20].tolist():
            n = t["OBS_COUNT"][i].as_py()
            if code != SECONDARY:
                num, den = (pairs[0][0][i], pairs[0][1][i]) if pairs else (None, None)
                few = [x[i] for x in [*counts, *(d for _, d in pairs)] if 0 < x[i] < k]
                problem, fix = explain(
                    int(rule[i]), limits, f"the observation {where(i)}", count=min(few) if few else n,
                    numerator=num, denominator=den,
                )  # fmt: skip
                fix = fix.replace("Merge categories or areas", "Merge categories in the mapping")
            else:
                other, dim = reasons.get(i, (-1, "?"))
                shown = where(other) if other >= 0 else "a suppressed observation"
                problem = (f"the observation {where(i)} ({n} respondents) must also be suppressed: with the "
                           f"{dim} total it would reveal {shown}")  # fmt: skip
                fix = "Nothing to change: the bridge suppresses it on conversion."
            examples.append(
                Finding(code=code, severity=CHECKS[code].severity, problem=problem, fix=fix, file=file,
                        details={"resolved": True, "observation": {d: t[d][i].as_py() for d in keys},
                                 "respondents": n, **({"rule": Rule(int(rule[i])).name.lower()}
                                                      if code != SECONDARY else {})})
            )  # fmt: skip
        report.add_counted(int(idx.size), examples)


def suppressed_mask(table: pa.Table, suppression: Suppression | None) -> np.ndarray:
    """Where the observations of ``table`` are suppressed: its ``SUPPRESSED`` column (decided per
    observation, for aggregated cells and computed totals), else the rows of ``suppression``."""
    if "SUPPRESSED" in table.column_names:
        return np.asarray(pc.fill_null(table["SUPPRESSED"], False), dtype=bool)
    if suppression is not None and len(suppression.rows):
        return np.isin(table["SOURCE_ROW"].to_numpy(), np.asarray(suppression.rows))
    return np.zeros(table.num_rows, dtype=bool)


def withhold_counts(table: pa.Table, mask: pa.Array, attributes: Sequence[str]) -> pa.Table:
    """``table`` with ``attributes`` (those that repeat a count, numerator or denominator, e.g. a
    mapping's ``aggregate.count_attribute``) empty where ``mask`` (the suppressed observations):
    a suppressed cell's count must not travel in an attribute, in any output or in the store.

    >>> t = pa.table({"OBS_VALUE": [None, 40.0], "COMMENT_OBS": ["3", "50"]})
    >>> withhold_counts(t, pa.array([True, False]), ["COMMENT_OBS"])["COMMENT_OBS"].to_pylist()
    [None, '50']
    """
    for name in attributes:
        if name in table.column_names:
            column = table[name].combine_chunks()
            empty = pc.if_else(mask, pa.scalar(None, column.type), column)
            table = table.set_column(table.schema.get_field_index(name), name, empty)
    return table
