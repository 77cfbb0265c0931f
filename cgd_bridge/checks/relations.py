"""The additive relations a published table implies: "this total is the sum of those parts".

A reader who has the published cells of a table and knows how they add up can solve for the
cells that were suppressed. Disclosure control (:mod:`cgd_bridge.checks.audit`) therefore needs
every such relation, and this module finds them from the table's keys alone:

- **totals along each dimension**: for a dimension with a total code (``_T``, the mapping's
  ``totals:`` code such as ``Y15T29``, or the labels that mean total in a source table), the rows
  that are equal on every other key form a *family*: the total row is the sum of its parts. In
  a table with several dimensions with totals this gives every marginal of the 2-way, 3-way, ...
  table (the families along SEX for each AGE, AGE=_T included, and along AGE for each SEX), so
  multi-way tables with all their totals are covered, and so are sparse ones (SEX x AGE=_T and
  SEX=_T x AGE only), whose shared total links them;
- **hierarchies**: a dimension whose codes have parents (sub-national areas in the codelist of
  REF_AREA, e.g. ``KE_001`` .. ``KE_047`` under ``404`` in ``CL_AREA_KE``; ISO 3166-2 style codes
  such as ``NP-P1`` under ``NP``) gives "parent = sum of its children" for each family;
- **time aggregates**: a reporting period under the smallest period present that holds it (a
  month under its quarter or year, :func:`period_parents`);
- **linked tables**: several series in one dataflow are one table whose key includes the
  series dimension (or whose rows differ in a non-total key), so each series has its own
  relations, and cells shared by several relations (a total of one breakdown that is also a part
  of another) link them; series are never added to each other.

A relation is an *equality* when the parts are all there (every child code of the parent that
the table or codelist knows is present; or, when the true values are at hand, when they add up);
otherwise it is an *inequality*, total >= sum of the parts present, which still holds for counts
(they are never negative) and still bounds the suppressed cells.

Only counts add up: the caller passes the additive measures (counts, numerators, denominators),
never ratios or percentages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgd_bridge import arrow


@dataclass
class Relations:
    """Additive relations over the rows of one table, in compressed form.

    Relation ``r`` says ``value[total[r]] (= or >=) sum(value[parts[ptr[r]:ptr[r+1]]])``.

    Attributes:
        total: the total row of each relation (int64).
        ptr: offsets of each relation's parts in ``parts`` (length ``n + 1``).
        parts: the part rows, relation after relation (int64).
        dim: the index into ``dims`` of the dimension each relation runs along (int32).
        equal: True where the relation is an equality, False for total >= sum of parts.
        dims: the dimension names.
    """

    total: np.ndarray
    ptr: np.ndarray
    parts: np.ndarray
    dim: np.ndarray
    equal: np.ndarray
    dims: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of relations."""
        return len(self.total)

    def members(self, r: int) -> tuple[int, np.ndarray]:
        """The total row and the part rows of relation ``r``."""
        return int(self.total[r]), self.parts[self.ptr[r] : self.ptr[r + 1]]

    def part_relation(self) -> np.ndarray:
        """The relation of each entry of ``parts``."""
        return np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.ptr))

    def mark_equalities(self, values: np.ndarray, *, tolerance: float = 1e-6) -> None:
        """Decide equality from the true values (rows x measures, or one measure): a relation is
        an equality where every measure's parts add up to its total, an inequality where they
        stay below it, and is dropped where the parts exceed the total (the data contradict it;
        the total-mismatch check reports that)."""
        vals = values.reshape(len(values), -1).astype(np.float64, copy=False)
        keep = np.ones(self.n, dtype=bool)
        equal = np.ones(self.n, dtype=bool)
        rel = self.part_relation()
        for m in range(vals.shape[1]):
            v = vals[:, m]
            sums = np.bincount(rel, weights=np.nan_to_num(v[self.parts]), minlength=self.n)
            has_nan = np.bincount(rel, weights=np.isnan(v[self.parts]), minlength=self.n) > 0
            tot = v[self.total]
            slack = np.abs(tot) * tolerance + 1e-9
            equal &= ~has_nan & ~np.isnan(tot) & (np.abs(sums - tot) <= slack)
            keep &= np.isnan(tot) | (sums <= tot + slack)
        self.equal = equal
        self.select(keep)

    def select(self, keep: np.ndarray) -> None:
        """Keep only the relations where ``keep`` is True."""
        if keep.all():
            return
        rel = self.part_relation()
        counts = np.diff(self.ptr)[keep]
        self.parts = self.parts[keep[rel]]
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.total, self.dim, self.equal = self.total[keep], self.dim[keep], self.equal[keep]

    def describe(self, r: int, describe_row: object) -> str:
        """Plain words for relation ``r``, e.g. ``along SEX: [_T] = F + M`` with row descriptions."""
        from cgd_bridge.i18n import ENGLISH

        return str(ENGLISH.value(self.sentence(r, describe_row)))

    def sentence(self, r: int, describe_row: object) -> dict[str, object]:
        """Relation ``r`` as a composed message (:func:`cgd_bridge.i18n.msg`): the words are
        translated, the dimension and the formula of cells are data."""
        from cgd_bridge.i18n import N_, msg

        t, parts = self.members(r)
        name = self.dims[int(self.dim[r])]
        show = describe_row if callable(describe_row) else str
        sign = "=" if self.equal[r] else ">="
        listed = " + ".join(str(show(int(p))) for p in parts[:6]) + (" + ..." if len(parts) > 6 else "")
        return msg(N_("along {dimension}: {formula}"), dimension=name, formula=f"[{show(t)}] {sign} {listed}")


def total_parents(n_codes: int, total_codes: set[int]) -> np.ndarray:
    """The parent map of a dimension with total codes: every other code's parent is the (first)
    total code."""
    parent = np.full(n_codes, -1, dtype=np.int64)
    if not total_codes or n_codes == 0:
        return parent
    total = min(total_codes)
    mask = np.ones(n_codes, dtype=bool)
    mask[[c for c in total_codes if 0 <= c < n_codes]] = False
    parent[mask] = total
    return parent


def hierarchy_parents(labels: list[str], parent_of: Mapping[str, str]) -> np.ndarray:
    """The parent map of a dimension from a code -> parent code mapping (e.g. a codelist's
    ``Parent``), restricted to the codes present; -1 where a code has no parent present."""
    index = {label: i for i, label in enumerate(labels)}
    parent = np.full(len(labels), -1, dtype=np.int64)
    for i, label in enumerate(labels):
        p = parent_of.get(label)
        if p is not None and p in index:
            parent[i] = index[p]
    return parent


def iso_parents(labels: list[str]) -> dict[str, str]:
    """ISO 3166-2 style subdivisions (``NP-P1``, ``KE-30``) under their country code when the
    country code is present too."""
    present = set(labels)
    out = {}
    for label in labels:
        head, sep, _ = label.partition("-")
        if sep and head in present:
            out[label] = head
    return out


_PERIOD = re.compile(r"^(\d{4})(?:-(?:(S)([12])|(Q)([1-4])|M?(\d{2})(?:-(\d{2}))?))?$")


def _period(label: str) -> tuple[int, str, int, int] | None:
    """A reporting period as (year, level, first month, last month), the level one of ``A``,
    ``S``, ``Q``, ``M``, ``D`` (a day's months are its month; its day is told by the level)."""
    m = _PERIOD.match(label)
    if m is None:
        return None
    year, s, half, q, quarter, month, day = m.groups()
    y = int(year)
    if s:
        return y, "S", 6 * int(half) - 5, 6 * int(half)
    if q:
        return y, "Q", 3 * int(quarter) - 2, 3 * int(quarter)
    if month is not None:
        mm = int(month)
        if not 1 <= mm <= 12 or (day is not None and not 1 <= int(day) <= 31):
            return None
        return y, "D" if day is not None else "M", mm, mm
    return y, "A", 1, 12


#: the levels of reporting periods, coarsest first, and how many of each a coarser one holds
_LEVELS = "ASQMD"
_HOLDS = {("A", "S"): 2, ("A", "Q"): 4, ("A", "M"): 12, ("S", "Q"): 2, ("S", "M"): 6, ("Q", "M"): 3}


def period_parents(labels: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """Reporting periods under the smallest period present that contains them (``2024-03`` under
    ``2024-Q1`` when the quarter is there, else ``2024-S1``, else ``2024``; a day under its
    month): a year's count of cases is the sum of its months' (time aggregates of counts add up,
    as the values decide: :meth:`Relations.mark_equalities`). Also, for each parent, how many
    children a complete set has (10**6, never complete, where its children are of several
    levels)."""
    periods = {label: p for label in labels if (p := _period(label)) is not None}
    by_span = {(p[0], p[1], p[2], p[3]): label for label, p in periods.items()}
    out: dict[str, str] = {}
    levels: dict[str, set[str]] = {}
    for label, (year, level, first, last) in periods.items():
        for coarser in reversed(_LEVELS[: _LEVELS.index(level)]):
            span = next(
                (
                    (year, coarser, lo, hi)
                    for lo, hi in _spans(coarser)
                    if lo <= first and last <= hi and (year, coarser, lo, hi) in by_span
                ),
                None,
            )
            if span is not None:
                out[label] = by_span[span]
                levels.setdefault(by_span[span], set()).add(level)
                break
    expected: dict[str, int] = {}
    for par, kinds in levels.items():
        level = next(iter(kinds))
        p_year, p_level, first, _ = periods[par]
        if len(kinds) > 1:
            expected[par] = 10**6
        elif level == "D":  # the days of a month (a day under a coarser period: never complete)
            expected[par] = _days(p_year, first) if p_level == "M" else 10**6
        else:
            expected[par] = _HOLDS[(p_level, level)]
    return out, expected


def _spans(level: str) -> list[tuple[int, int]]:
    """The (first month, last month) of each period of ``level`` in a year."""
    size = {"A": 12, "S": 6, "Q": 3, "M": 1}[level]
    return [(lo, lo + size - 1) for lo in range(1, 13, size)]


def _days(year: int, month: int) -> int:
    import calendar

    return calendar.monthrange(year, month)[1]


def build_relations(
    keys: Mapping[str, np.ndarray],
    parents: Mapping[str, np.ndarray],
    *,
    known_children: Mapping[str, np.ndarray] | None = None,
) -> Relations:
    """Every relation "parent row = sum of child rows" of a table.

    Args:
        keys: every key column of the table as non-negative integer codes (rows in any order).
            Two rows with the same key are a duplicate: the first is taken.
        parents: per dimension with relations, the parent code of each code (-1: none), as
            :func:`total_parents` or :func:`hierarchy_parents` give.
        known_children: per dimension, how many children each parent code has in the
            codelist (a relation is an equality only when all are present); by default the
            children present anywhere in the table.

    Returns:
        The relations, equal where complete; :meth:`Relations.mark_equalities` refines that
        with the true values.
    """
    names = list(keys)
    n = len(next(iter(keys.values()))) if keys else 0
    totals: list[np.ndarray] = []
    part_rows: list[np.ndarray] = []
    part_counts: list[np.ndarray] = []
    dim_of: list[np.ndarray] = []
    complete: list[np.ndarray] = []
    for di, d in enumerate(names):
        parent = parents.get(d)
        if parent is None or n == 0 or not (parent >= 0).any():
            continue
        codes = keys[d].astype(np.int64)
        group = group_ids([keys[o].astype(np.int64) for o in names if o != d], n)
        width = int(max(codes.max(), len(parent))) + 1
        combined = group * width + codes
        order = np.argsort(combined, kind="stable")
        sorted_keys = combined[order]
        has_parent = np.zeros(len(codes), dtype=bool)
        in_range = codes < len(parent)
        has_parent[in_range] = parent[codes[in_range]] >= 0
        child = np.flatnonzero(has_parent)
        if child.size == 0:
            continue
        wanted = group[child] * width + parent[codes[child]]
        pos = np.minimum(np.searchsorted(sorted_keys, wanted), n - 1)
        found = sorted_keys[pos] == wanted
        child, total_row = child[found], order[pos[found]]
        if child.size == 0:
            continue
        # one relation per total row: sort the (total, child) pairs by total, then child key
        o = np.lexsort((combined[child], total_row))
        child, total_row = child[o], total_row[o]
        # a key given twice: the first row wins (duplicate keys are reported elsewhere)
        dup = np.r_[False, (total_row[1:] == total_row[:-1]) & (combined[child[1:]] == combined[child[:-1]])]
        child, total_row = child[~dup], total_row[~dup]
        starts = np.flatnonzero(np.r_[True, total_row[1:] != total_row[:-1]])
        counts = np.diff(np.r_[starts, child.size])
        rel_total = total_row[starts]
        if known_children is not None and d in known_children:
            expected = known_children[d][codes[rel_total]]
        else:
            expected = children_present(codes, parent)[codes[rel_total]]
        totals.append(rel_total)
        part_rows.append(child)
        part_counts.append(counts)
        dim_of.append(np.full(len(starts), di, dtype=np.int32))
        complete.append(counts >= expected)
    if not totals:
        empty = np.zeros(0, dtype=np.int64)
        return Relations(empty, np.zeros(1, np.int64), empty, np.zeros(0, np.int32), np.zeros(0, bool), names)
    ptr = np.concatenate([[0], np.cumsum(np.concatenate(part_counts))]).astype(np.int64)
    return Relations(
        total=np.concatenate(totals).astype(np.int64),
        ptr=ptr,
        parts=np.concatenate(part_rows).astype(np.int64),
        dim=np.concatenate(dim_of),
        equal=np.concatenate(complete),
        dims=names,
    )


def children_present(codes: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """How many distinct child codes each parent code has among the codes present."""
    present = np.unique(codes[codes < len(parent)])
    par = parent[present]
    par = par[par >= 0]
    return np.bincount(par, minlength=len(parent))


def group_ids(columns: list[np.ndarray], n: int) -> np.ndarray:
    """A dense int64 id per combination of the columns (mixed radix, then factorised)."""
    if not columns:
        return np.zeros(n, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for col in columns:
        width = int(col.max()) + 1 if n else 1
        if span * width >= 2**62:
            _, inverse = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
            return inverse.reshape(-1).astype(np.int64)
        key += col * span
        span *= width
    return arrow.factorize(key)[0]


def dimension_parents(structures: Any, dataflow: str | None, dimension: str) -> dict[str, str]:
    """The code -> parent code hierarchy of a dimension's codelist in a dataflow's DSD (empty when
    the structures do not know the dataflow or the codelist has no hierarchy)."""
    if structures is None or not dataflow:
        return {}
    from cgd_bridge.errors import CgdBridgeError

    try:
        _, dsd = structures.flow_structure(dataflow)
        comp = next(
            (c for c in dsd.components if c.role in ("dimension", "time") and c.id == dimension), None
        )
        cl = comp.codelist if comp is not None else None
        if cl is None:
            return {}
        return dict(structures.parents(cl))
    except (CgdBridgeError, AttributeError, KeyError, StopIteration):
        return {}


_RANGE = re.compile(r"^Y(\d+)T(\d+)$")
_FROM = re.compile(r"^Y_GE(\d+)$")


def range_parents(labels: list[str]) -> tuple[dict[str, str], dict[str, bool]]:
    """Age bands under the smallest band that contains them (``Y15T19`` under ``Y15T29``,
    ``Y_GE60`` under ``_T``), and for each parent whether its children cover it exactly."""
    spans: dict[str, tuple[float, float]] = {}
    for label in labels:
        if m := _RANGE.match(label):
            spans[label] = (float(m.group(1)), float(m.group(2)) + 1)
        elif m := _FROM.match(label):
            spans[label] = (float(m.group(1)), float("inf"))
    if "_T" in labels:
        spans["_T"] = (0.0, float("inf"))
    parent: dict[str, str] = {}
    for label, (a, b) in spans.items():
        best = None
        for other, (c, d) in spans.items():
            if other != label and c <= a and b <= d and (c, d) != (a, b):
                if best is None or (d - c) < (spans[best][1] - spans[best][0]):
                    best = other
        if best is not None:
            parent[label] = best
    covered: dict[str, bool] = {}
    for par in set(parent.values()):
        kids = sorted(spans[c] for c, p in parent.items() if p == par)
        lo, hi = spans[par]
        at = lo if par != "_T" else (kids[0][0] if kids else 0.0)
        ok = True
        for a, b in kids:
            ok &= a == at
            at = b
        covered[par] = ok and at == hi
    return parent, covered
