"""Disclosure control: which cells and observations are suppressed, and the findings that say so.

Primary suppression (:mod:`cgd_bridge.checks.primary`, one function for both tables): a cell
resting on 1 to k-1 respondents, a proportion whose numerator or complement is 1 to k-1, and
0 % or 100 % of a group smaller than the group size are suppressed (k is the threshold: the
metadata's ``privacy.disclosure_control.threshold``, else the run's, default 5, never below 3).

Secondary suppression: :func:`secure` audits the suppression over every additive relation of
the table (:mod:`cgd_bridge.checks.audit`) and adds the complements the LPs choose until the
audit passes. The older family heuristic (:func:`protect`: along every disaggregation, if
exactly one part of a family is suppressed while its total is published, suppress the smallest
other part) only names cells in the report of a microdata cell table; it suppresses more than
the LPs (benchmarks/suppression.py).

Two tables are protected, with the same rules:

- the cells of the source table, which :class:`~cgd_bridge.checks.cells.CellCheck` builds as a
  compact :class:`Cells` table: :func:`suppress_cells` decides and reports, and for aggregate
  data returns the source rows to suppress as a :class:`Suppression`;
- the observations the mapping engine aggregates from microdata or whose totals it computes:
  :func:`suppress_observations` decides and reports, and adds a ``SUPPRESSED`` column.

:func:`suppressed_mask` gives the observations to publish without a value from either.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.checks.audit import (
    AuditResult,
    Completion,
    Deviation,
    Exposure,
    audit,
    complete,
    describe_exposure,
    ineligible_zero,
)
from cgd_bridge.checks.base import Context, Suppression, plain_number, provisional_row
from cgd_bridge.checks.cubes import Grid
from cgd_bridge.checks.primary import CODES, Limits, Rule, explain, primary_rules
from cgd_bridge.checks.relations import (
    Relations,
    build_relations,
    children_present,
    group_ids,
    hierarchy_parents,
    iso_parents,
    period_parents,
    range_parents,
    total_parents,
)
from cgd_bridge.findings import AUDIT_STAGE, CHECKS, Finding, Report, Severity, register
from cgd_bridge.i18n import ENGLISH, N_, msg, nmsg, num

if TYPE_CHECKING:
    from cgd_bridge.mapping.apply import Harmonised

SECONDARY = register(
    "secondary-suppression", Severity.WARNING, "privacy", "Cell to suppress to protect another",
    """This cell is not small, but publishing it would reveal a suppressed small cell (the
    total minus the other parts gives it away), so it must be suppressed too.""",
)  # fmt: skip

EXPOSED = register(
    "suppression-exposed", Severity.ERROR, "privacy", "A suppressed cell can be worked out",
    """The disclosure audit treated the published values as known and the suppressed cells as
    unknowns, and solved, over every additive relation of the table (totals along each
    dimension, area hierarchies, linked breakdowns), the smallest and largest value each
    suppressed cell can take: this one's interval is narrower than the protection range (the
    threshold), so a reader could work it out or nearly. Nothing is published while a cell is
    exposed; docs/disclosure.md explains the method.""",
)  # fmt: skip

EXAMPLES = 200  # findings materialised per code
OBSERVATION_EXAMPLES = 20  # secondary suppressions of the mapped observations explained


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
        mask = arrow.to_numpy(pc.is_null(enc.indices))
        idx = arrow.to_numpy(arrow.fill_null(enc.indices, 0))
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
        ids, first = arrow.factorize_rows([cells[c] for c in columns])
        return ids.astype(np.int32), len(first)
    key: np.ndarray[Any, Any] = np.zeros(cells.n, dtype=dtype)
    mult = 1
    for name, low, width in zip(columns, lows, widths, strict=True):
        key += (cells[name].astype(dtype) - low) * mult
        mult *= width
    if dtype is np.int32 and span <= max(4 * cells.n, 1 << 22):
        return key, span
    factor, uniques = arrow.factorize(key)
    return factor.astype(np.int32), len(uniques)


# -- secondary suppression -----------------------------------------------------------------------


def protect(
    keys: dict[str, np.ndarray],
    totals: dict[str, np.ndarray],
    suppressed: np.ndarray,
    size: np.ndarray,
    eligible: np.ndarray | None = None,
) -> dict[int, tuple[int, str]]:
    """Secondary suppression of any cell table, in place on ``suppressed`` (also used for the
    observations the mapping engine aggregates).

    Args:
        keys: every key column of the table as integer codes (e.g. dictionary indices).
        totals: per disaggregation, True where the row is that disaggregation's total.
        suppressed: the primary suppression; the cells that would reveal it are added.
        size: the cells' sizes (the smallest other part of a family is chosen).
        eligible: the cells that may be complements (never a zero cell); all by default.

    A heuristic: it does not see hierarchies or linked breakdowns and may choose complements
    that protect nothing; :func:`secure` is what protects what is published.

    Returns:
        For each secondarily suppressed row, (the suppressed row it protects, the disaggregation).
    """
    cells = Cells(keys)
    families = {}
    for d, is_total in totals.items():
        fam = Families.build(cells, [k for k in keys if k != d], is_total)
        if fam is not None:
            families[d] = fam
    return _protect_all(families, suppressed, size, eligible)


def _protect_all(
    families: dict[str, Families],
    suppressed: np.ndarray,
    size: np.ndarray,
    eligible: np.ndarray | None = None,
) -> dict[int, tuple[int, str]]:
    """Secondary suppression along every family until nothing changes (at most 20 rounds)."""
    reasons: dict[int, tuple[int, str]] = {}
    if eligible is None:
        eligible = np.ones(len(suppressed), dtype=bool)
    for _ in range(20):
        changed = False
        for d, fam in families.items():
            changed |= _protect(fam, d, suppressed, size, reasons, eligible)
        if not changed:
            break
    return reasons


def _protect(
    fam: Families,
    d: str,
    suppressed: np.ndarray,
    size: np.ndarray,
    reasons: dict[int, tuple[int, str]],
    eligible: np.ndarray,
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
    candidates = np.flatnonzero(part & ~suppressed & eligible & need[group])
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
    rows: np.ndarray | None = None,
) -> Suppression | None:
    """Primary and secondary suppression of the cell table, with their findings.

    ``rows`` are the provisional row numbers of aggregate data's cells when they are not the
    file's rows in order (the rows a mapping keeps); by default cell ``i`` is row ``i + 2``.

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
    eligible = ~ineligible_zero([values[:, j] for j in range(values.shape[1])])
    # microdata: the observations the mapping aggregates decide (audit_observations); the family
    # heuristic only names the cells for the report. Aggregate data: the LP completion alone,
    # which suppresses fewer cells than the heuristic followed by it (benchmarks/suppression.py)
    reasons = _protect_all(families, suppressed, size, eligible) if microdata else {}
    secured = None
    if not microdata:
        secured = secure(
            _cell_keys(cells, keys), _cell_parents(cells, keys),
            {m: cells[m].astype(np.float64) for m in measures}, suppressed, size, k,
            reasons_kept=EXAMPLES,  # _report_cells explains the first EXAMPLES secondary cells
        )  # fmt: skip
        reasons.update(secured.reasons)
        _report_exposed(ctx.report, secured, lambda i: _describe_cell(cells, keys, i), file=ctx.table.file)
    secondary = suppressed & ~primary
    idx = np.flatnonzero(suppressed)
    row_of = rows if rows is not None else np.arange(cells.n, dtype=np.int64) + 2  # provisional
    result = (
        None
        if secured is None
        else Suppression(
            row_of[idx], tuple((row_of[d.rows], d.change) for d in secured.completion.deviations)
        )
    )
    _report_cells(ctx, cells, keys, measures, rule, secondary, reasons, limits, microdata, pairs, rows)
    return result


def _describe_cell(cells: Cells, keys: Sequence[KeyColumn], i: int) -> str:
    return ", ".join(f"{kk.name}={kk.label(int(cells[kk.name][i]))}" for kk in keys)


def _cell_keys(cells: Cells, keys: Sequence[KeyColumn]) -> dict[str, np.ndarray]:
    """The key codes of the cell table, shifted to be non-negative (null -1 and margin -2 -> 1, 0)."""
    # int32 as the cell table has them (the relations widen what they group): a whole-table
    # copy of each key is held while the table is secured, 4 bytes a cell rather than 8
    return {kk.name: cells[kk.name].astype(np.int32) - np.int32(TOTAL_MARGIN) for kk in keys}


def _cell_parents(cells: Cells, keys: Sequence[KeyColumn]) -> dict[str, np.ndarray]:
    """Per key column whose labels include a total (a disaggregation, or an area with its
    national row declared in ``totalValues``): every other label's parent is the total."""
    out = {}
    for kk in keys:
        total = {c - TOTAL_MARGIN for c in kk.total_ids()}
        if (cells[kk.name] == TOTAL_MARGIN).any():
            total.add(0)
        if total:
            out[kk.name] = total_parents(len(kk.labels) - TOTAL_MARGIN, total)
            out[kk.name][1] = -1  # an empty key is no part of anything
    return out


# -- secondary suppression that holds: the audit ---------------------------------------------------


#: cells per slab of :func:`secure`: a table larger than this whose relations never cross some
#: dimension (one without a total or a hierarchy, e.g. TIME_PERIOD) is secured slab by slab,
#: each slab a set of whole groups of that dimension, so the relations, sparse matrices and
#: LP models are held for one slab at a time, not the whole table (#16)
SLAB_CELLS = 200_000


@dataclass
class Piece:
    """One slab :func:`secure` secured on its own: its cells (rows of the whole table, sorted),
    its relations and completion over those cells (local row numbers ``0 .. len(rows) - 1``)."""

    rows: np.ndarray
    relations: Relations
    completion: Completion


@dataclass
class Secured:
    """What :func:`secure` did: the relations, the completion, and why each cell was added.

    When the table was secured in slabs (``pieces`` not empty), ``relations`` is empty and
    ``completion`` is the slabs' completions merged (rows of the whole table; an exposure's
    ``relations`` are numbered across the slabs in order); ``pieces`` keeps, for the report, the
    slabs with an exposed cell or an empty one (:func:`_report_exposed`, :func:`_audit_blanks`).
    """

    relations: Relations
    completion: Completion
    reasons: dict[int, tuple[int, str]]
    pieces: list[Piece] = field(default_factory=list)

    def parts(self) -> list[tuple[np.ndarray | None, Relations, Completion]]:
        """(rows or None for the whole table, relations, completion) of each part secured."""
        if self.pieces:
            return [(p.rows, p.relations, p.completion) for p in self.pieces]
        return [(None, self.relations, self.completion)]


def secure(
    keys: dict[str, np.ndarray],
    parents: dict[str, np.ndarray],
    measures: dict[str, np.ndarray],
    suppressed: np.ndarray,
    size: np.ndarray,
    threshold: int,
    *,
    known_children: dict[str, np.ndarray] | None = None,
    additive: bool = True,
    deviations: Sequence[Deviation] = (),
    slab_cells: int | None = None,
    cubes: bool = True,
    known_cells: np.ndarray | None = None,
    reasons_kept: int | None = None,
) -> Secured:
    """Prove the suppression with the audit and add the complements it lacks (in place).

    The relations come from the keys and ``parents`` (:mod:`cgd_bridge.checks.relations`); which
    of them are equalities is decided from the true values. For measures that are not known to
    be counts (``additive`` False: a value column), only the relations that hold exactly are
    kept. The protection range is the threshold. ``deviations`` (found by an earlier completion
    of the same table) are checked by the audits and spare them the LPs for the cells they prove.

    A table of more than ``slab_cells`` cells (default :data:`SLAB_CELLS`) is secured in slabs
    when the relations allow it: the dimensions without parents (no total, no hierarchy) are
    never crossed by a relation (every relation's cells agree on them), so each combination of
    their codes is an independent table; slabs of whole combinations are secured one after the other, with the
    children each parent has counted over the whole table and the cost of an unknown size taken
    from the whole table, so every relation, equality and cost is the one the whole table has.

    ``cubes``: an exposed cell is first protected by the cheapest hypercube around it
    (:mod:`cgd_bridge.checks.cubes`, checked by the audit as any deviation), the deviation LPs
    taking only the cells no cube protects; False: the LPs alone (for comparison).

    ``known_cells`` marks the cells a reader knows whatever this table does (an earlier release
    published them with the same values, :func:`release_status`): they are published here too
    (suppressing them hides nothing, and a suppressed cell that its own table pins down would
    look exposed to ``cgd-bridge audit``), the audits take them as published values, and the
    completion (cubes and deviation LPs alike) never chooses one as a complement, nor moves one
    in a deviation.

    ``reasons_kept``: keep the reasons of the first ``reasons_kept`` cells added (by row) only,
    e.g. the examples a report shows; by default every one. Across slabs the reasons would
    otherwise grow with the complements (tens of thousands per slab, a Python tuple each).
    """
    if known_cells is not None and known_cells.any():
        suppressed &= ~known_cells
    return _secure_slabs(
        keys, parents, measures, suppressed, size, threshold, known_children, additive, deviations,
        slab_cells, cubes, fixed=known_cells, reasons_kept=reasons_kept,
    )  # fmt: skip


def _secure_slabs(
    keys: dict[str, np.ndarray],
    parents: dict[str, np.ndarray],
    measures: dict[str, np.ndarray],
    suppressed: np.ndarray,
    size: np.ndarray,
    threshold: int,
    known_children: dict[str, np.ndarray] | None,
    additive: bool,
    deviations: Sequence[Deviation],
    slab_cells: int | None,
    cubes: bool,
    fixed: np.ndarray | None = None,
    reasons_kept: int | None = None,
) -> Secured:
    """:func:`secure` whole or in slabs; ``fixed``: the cells never to choose as complements;
    ``reasons_kept``: as :func:`secure` says."""
    slabs = _slabs(keys, parents, len(suppressed), SLAB_CELLS if slab_cells is None else slab_cells)
    cost = np.where(np.isfinite(size), size, np.nanmax(np.r_[size[np.isfinite(size)], 1.0]))
    if slabs is None:
        whole = _secure(
            keys, parents, measures, suppressed, cost, threshold, known_children, additive, deviations,
            cubes, fixed,
        )  # fmt: skip
        whole.reasons = _first_reasons(whole.reasons, reasons_kept)
        return whole
    known = dict(known_children or {})
    for dim, parent in parents.items():
        if dim in keys and dim not in known and (parent >= 0).any():  # as build_relations counts them
            known[dim] = children_present(keys[dim].astype(np.int64), parent)
    slab_of = np.empty(len(suppressed), dtype=np.int64)
    for s, rows in enumerate(slabs):
        slab_of[rows] = s
    given: list[list[Deviation]] = [[] for _ in slabs]
    for d in deviations:  # each to the slabs it moves (a relation never links two slabs)
        where = slab_of[d.rows]
        for s in np.unique(where).tolist():
            inside = where == s
            given[s].append(Deviation(d.rows[inside], d.change[inside]))
    local = np.full(len(suppressed), -1, dtype=np.int64)
    merged = Completion()
    reasons: dict[int, tuple[int, str]] = {}
    pieces: list[Piece] = []
    offset = 0
    for s, rows in enumerate(slabs):
        local[rows] = np.arange(rows.size)
        part = suppressed[rows]
        sub = _secure(
            {k: v[rows] for k, v in keys.items()}, parents, {m: v[rows] for m, v in measures.items()},
            part, cost[rows], threshold, known, additive,
            [Deviation(local[d.rows], d.change) for d in given[s]], cubes,
            None if fixed is None else fixed[rows],
        )  # fmt: skip
        local[rows] = -1
        suppressed[rows] = part
        done = sub.completion
        for i, (row, dim) in sub.reasons.items():
            reasons[int(rows[i])] = (int(rows[row]) if row >= 0 else row, dim)
        reasons = _first_reasons(reasons, reasons_kept)
        for i, (row, link) in done.added.items():
            merged.added[int(rows[i])] = (
                int(rows[row]) if row >= 0 else row,
                link + offset if link >= 0 else link,
            )
        for name, result in done.result.items():
            into = merged.result.setdefault(name, AuditResult())
            into.exposed += [_moved_exposure(e, rows, offset) for e in result.exposed]
            into.audited += result.audited
            into.not_audited += result.not_audited
            into.inconsistent += result.inconsistent
            into.lps += result.lps
            into.certified += result.certified
        merged.unprotectable += [_moved_exposure(e, rows, offset) for e in done.unprotectable]
        merged.deviations += [Deviation(rows[d.rows], d.change) for d in done.deviations]
        merged.seconds += done.seconds
        merged.protection = done.protection
        merged.lps += done.lps
        merged.cubes += done.cubes
        blank = any(bool((np.isnan(v[rows]) & ~part).any()) for v in measures.values())
        if done.exposed or blank:  # what the report needs of this slab
            pieces.append(Piece(rows, sub.relations, done))
        offset += sub.relations.n
    empty = np.zeros(0, dtype=np.int64)
    nothing = Relations(
        empty, np.zeros(1, np.int64), empty, np.zeros(0, np.int32), np.zeros(0, bool), list(keys)
    )
    return Secured(nothing, merged, reasons, pieces)


def _secure(
    keys: dict[str, np.ndarray],
    parents: dict[str, np.ndarray],
    measures: dict[str, np.ndarray],
    suppressed: np.ndarray,
    cost: np.ndarray,
    threshold: int,
    known_children: dict[str, np.ndarray] | None,
    additive: bool,
    deviations: Sequence[Deviation],
    cubes: bool = True,
    fixed: np.ndarray | None = None,
) -> Secured:
    """:func:`secure` of one table (or slab), ``cost`` already decided; ``fixed``: the cells
    that may never be complements (known to the reader, see :func:`secure`)."""
    rel = build_relations(keys, parents, known_children=known_children)
    stacked = np.column_stack(list(measures.values())) if measures else np.zeros((len(suppressed), 0))
    if rel.n and stacked.shape[1]:
        rel.mark_equalities(stacked)
        if not additive:
            rel.select(rel.equal.copy())
    del stacked
    eligible = ~ineligible_zero(list(measures.values())) if measures else np.zeros(len(suppressed), bool)
    if fixed is not None:
        eligible &= ~fixed
    grid = Grid(keys, parents) if cubes and rel.n and suppressed.any() else None
    done = complete(
        rel, measures, suppressed, float(threshold), cost=cost, eligible=eligible, deviations=deviations,
        grid=grid,
    )  # fmt: skip
    reasons = {
        i: (row, rel.dims[int(rel.dim[link])] if link >= 0 else "?") for i, (row, link) in done.added.items()
    }
    return Secured(rel, done, reasons)


def _first_reasons(reasons: dict[int, tuple[int, str]], kept: int | None) -> dict[int, tuple[int, str]]:
    """The reasons of the ``kept`` lowest cells (all with None), in the same order."""
    if kept is None or len(reasons) <= kept:
        return reasons
    first = set(heapq.nsmallest(kept, reasons))
    return {i: why for i, why in reasons.items() if i in first}


def _moved_exposure(e: Exposure, rows: np.ndarray, offset: int) -> Exposure:
    """An exposure of a slab as one of the whole table (its relations numbered across slabs)."""
    return dataclasses.replace(e, row=int(rows[e.row]), relations=[r + offset for r in e.relations])


def _slabs(
    keys: dict[str, np.ndarray], parents: dict[str, np.ndarray], n: int, cells: int
) -> list[np.ndarray] | None:
    """The rows of each slab of about ``cells`` cells (whole groups of the dimensions no relation
    crosses, in the order the groups first appear; rows sorted), or None for one slab."""
    if n <= cells:
        return None
    free = [d for d in keys if d not in parents or not (parents[d] >= 0).any()]
    if not free:
        return None
    group = group_ids([keys[d].astype(np.int64) for d in free], n)
    sizes = np.bincount(group)
    slab_of_group = (np.cumsum(sizes) - sizes) // cells
    if slab_of_group[-1] == 0:
        return None
    slab = slab_of_group[group]
    order = np.argsort(slab, kind="stable")
    return np.split(order, np.cumsum(np.bincount(slab))[:-1])


def _report_exposed(report: Report, secured: Secured, describe: Any, *, file: str | None) -> None:
    """An error for each suppressed cell the audit still finds exposed (no complement could
    protect it), naming the cell, its interval and the relations that expose it."""
    examples = []
    seen: set[int] = set()
    for measure in secured.completion.result:  # measure by measure, slab after slab
        for rows, rel, done in secured.parts():
            where = _in_slab(describe, rows)
            for e in done.result[measure].exposed if measure in done.result else []:
                row = e.row if rows is None else int(rows[e.row])
                if row in seen:
                    continue
                seen.add(row)
                examples.append(
                    exposed_finding(
                        e, rel, where, secured_protection(secured), file=file, measure=e.measure,
                        subject=msg(N_("the suppressed cell {cell} is exposed in {measure}"),
                                    cell=where(e.row), measure=e.measure),
                        fix=FIX_MERGE,
                    )
                )  # fmt: skip
    if examples:
        report.add_counted(len(examples), examples[:EXAMPLES])


def _in_slab(describe: Any, rows: np.ndarray | None) -> Any:
    """``describe`` of a slab's local row (the whole table's when ``rows`` is None)."""
    if rows is None:
        return describe
    return lambda i: describe(int(rows[i]))


#: the fixes of ``suppression-exposed``: for a cell the bridge suppressed and could not protect,
#: for a cell the data left empty, and for a published file the audit reads
FIX_MERGE = N_(
    "Merge categories or areas so that no cell rests on fewer respondents than the threshold, or "
    "leave out the total that gives it away; see docs/disclosure.md."
)
FIX_BLANK = N_(
    "The value was left empty (suppressed?) but the totals and the other parts give it away: fill "
    "in the value and let the bridge suppress it with its complements, or leave empty a part or "
    "total that covers it."
)
FIX_PUBLISHED = N_(
    "Suppress more cells (a part or total on each relation named), or publish the table through "
    "cgd-bridge convert, which chooses them; see docs/disclosure.md."
)


def exposed_finding(
    e: Any,
    rel: Any,
    where: Any,
    protection: float,
    *,
    subject: dict[str, Any],
    fix: str,
    file: str | None,
    measure: str | None = None,
    row: int | None = None,
) -> Finding:
    """The one ``suppression-exposed`` finding, wherever the audit finds an exposed cell:
    ``subject`` (which cell, e.g. "the suppressed observation X is exposed"), the interval a
    reader can narrow it to and the relations that bound it (``details``: ``cell``, ``measure``
    when given, ``low``, ``high``, ``relations``)."""
    text, sentences = describe_exposure(e, rel, where, protection)
    problem = msg(N_("{subject}: {how}"), subject=subject, how=text)
    for sentence in sentences:  # "; through" the first relation, "; " each next
        problem = msg(
            N_("{text}; through {relation}") if sentence is sentences[0] else N_("{text}; {relation}"),
            text=problem,
            relation=sentence,
        )
    relations = [str(ENGLISH.value(r)) for r in sentences]
    details: dict[str, Any] = {"cell": where(e.row)}
    if measure is not None:
        details["measure"] = measure
    details.update(
        low=plain_number(e.low), high=None if np.isinf(e.high) else plain_number(e.high), relations=relations
    )
    return Finding.of(
        EXPOSED, CHECKS[EXPOSED].severity, problem, fix, {}, file=file, row=row, details=details
    )


def secured_protection(secured: Secured) -> float:
    """The protection range the completion used (the threshold)."""
    return secured.completion.protection


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
    rows: np.ndarray | None = None,
) -> None:
    k = limits.threshold

    def row_of(i: int) -> int:
        return int(rows[i]) if rows is not None else provisional_row(i)

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
            shown = _shown(vals)
            row = None if microdata else row_of(int(i))
            where = msg(N_("the cell {cell}"), cell=describe(i)) if microdata else msg(N_("this row"))
            problem: dict[str, Any]
            fix: dict[str, Any] | str
            if rule[i] == Rule.SMALL_COUNT:
                problem = msg(
                    N_("{where} has {values}: below the threshold of {k}"),
                    where=where,
                    values=shown,
                    k=num(k),
                )
                fix = N_("It must not be published as is: it will be suppressed (OBS_STATUS Q, "
                         "CONF_STATUS C). Merge categories or areas if the figure is needed.")  # fmt: skip
            elif rule[i]:
                c, d = pair_of(int(i))
                problem, fix = explain(
                    int(rule[i]), limits, where, count=None, numerator=cells[c][i], denominator=cells[d][i]
                )
                value = c.removesuffix(f" % of {d}")
                if value != c and value in cells:  # a percentage published beside its denominator
                    problem = msg(
                        N_("{text} ({value} {percent} % of {denominator})"),
                        text=problem,
                        value=value,
                        percent=num(plain_number(cells[value][i])),
                        denominator=d,
                    )
                else:
                    problem = msg(
                        N_("{text} ({count} of {denominator})"), text=problem, count=c, denominator=d
                    )
            else:
                other, dim = reasons.get(int(i), (-1, "?"))
                other_txt = (
                    msg(N_("the suppressed row {row}"), row=row_of(other))
                    if not microdata and other >= 0
                    else (
                        msg(N_("the suppressed cell {cell}"), cell=describe(other))
                        if other >= 0
                        else msg(N_("a suppressed cell"))
                    )
                )
                along = (
                    msg(N_("the {dimension} total"), dimension=dim)
                    if dim != "?"
                    else msg(N_("the published totals"))
                )
                problem = msg(
                    N_("{where} ({values}) must also be suppressed: with {along} it would reveal {other}"),
                    where=where,
                    values=shown,
                    along=along,
                    other=other_txt,
                )
                fix = N_("Nothing to change in the data: the bridge suppresses it on conversion.")
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


def _shown(vals: dict[str, Any]) -> dict[str, Any]:
    """A cell's measures for a message, e.g. ``respondents 3, women 2`` (a composed message:
    the word "respondents" translated, each number in the locale's digits)."""
    parts = [
        msg(N_("respondents {value}"), value=num(plain_number(v)))
        if m == "__n__"
        else msg(N_("{name} {value}"), name=m, value=num(plain_number(v)))
        for m, v in vals.items()
    ]
    if not parts:
        return msg(N_("no count"))
    shown = parts[0]
    for part in parts[1:]:
        shown = msg(N_("{first}, {next}"), first=shown, next=part)
    return shown


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
    (``suppression``) is suppressed too. The mask becomes the table's ``SUPPRESSED`` column,
    which :func:`suppressed_mask` reads; :func:`audit_observations`, which always follows, adds
    the complements.
    """
    k = threshold
    limits = Limits.of(k, group_size)
    t = h.table

    def number(name: str) -> np.ndarray:
        return arrow.to_numpy(arrow.fill_null(pc.cast(t[name], pa.float64()), np.nan), np.float64)

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
            single = arrow.to_numpy(pc.list_value_length(t["SOURCE_ROWS"])) == 1
            primary |= single & np.isin(arrow.to_numpy(t["SOURCE_ROW"]), np.asarray(suppression.rows))
    keys = [*h.dimensions, "TIME_PERIOD"]
    suppressed = primary.copy()
    # the complements: audit_observations, which always follows (its LP completion suppresses
    # fewer cells than the family heuristic would before it)
    reasons: dict[int, tuple[int, str]] = {}
    h.table = t.append_column("SUPPRESSED", arrow.array(suppressed))
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
                numerator, den = (pairs[0][0][i], pairs[0][1][i]) if pairs else (None, None)
                few = [x[i] for x in [*counts, *(d for _, d in pairs)] if 0 < x[i] < k]
                problem, fix = explain(
                    int(rule[i]), limits, msg(N_("the observation {key}"), key=where(i)),
                    count=min(few) if few else n, numerator=numerator, denominator=den,
                    merge=msg(N_("Merge categories in the mapping if the figure is needed.")),
                )  # fmt: skip
            else:
                other, dim = reasons.get(i, (-1, "?"))
                shown = where(other) if other >= 0 else msg(N_("a suppressed observation"))
                along = (
                    msg(N_("the {dimension} total"), dimension=dim)
                    if dim != "?"
                    else msg(N_("the published totals"))
                )
                problem = msg(
                    N_(
                        "the observation {key} ({respondents}) must also be suppressed: with {along} it "
                        "would reveal {other}"
                    ),
                    key=where(i),
                    along=along,
                    other=shown,
                    respondents=nmsg("{n} respondent", "{n} respondents", plain_number(n or 0)),
                )
                fix = msg(N_("Nothing to change: the bridge suppresses it on conversion."))
            examples.append(
                Finding.of(code, CHECKS[code].severity, problem, fix, {}, file=file,
                        details={"resolved": True, "observation": {d: t[d][i].as_py() for d in keys},
                                 "respondents": n, **({"rule": Rule(int(rule[i])).name.lower()}
                                                      if code != SECONDARY else {})})
            )  # fmt: skip
        report.add_counted(int(idx.size), examples)


def suppressed_mask(table: pa.Table, suppression: Suppression | None) -> np.ndarray:
    """Where the observations of ``table`` are suppressed: its ``SUPPRESSED`` column (decided per
    observation, for aggregated cells and computed totals), else the rows of ``suppression``."""
    if "SUPPRESSED" in table.column_names:
        return arrow.to_numpy(arrow.fill_null(table["SUPPRESSED"], False), bool)
    if suppression is not None and len(suppression.rows):
        return np.isin(arrow.to_numpy(table["SOURCE_ROW"]), np.asarray(suppression.rows))
    return np.zeros(table.num_rows, dtype=bool)


def withhold_counts(table: pa.Table, mask: pa.Array, attributes: Sequence[str]) -> pa.Table:
    """``table`` with ``attributes`` (those that repeat a count, numerator or denominator, e.g. a
    mapping's ``aggregate.count_attribute``) empty where ``mask`` (the suppressed observations):
    a suppressed cell's count must not travel in an attribute, in any output or in the store.

    >>> t = pa.table({"OBS_VALUE": [None, 40.0], "COMMENT_OBS": ["3", "50"]})
    >>> withhold_counts(t, arrow.array([True, False]), ["COMMENT_OBS"])["COMMENT_OBS"].to_pylist()
    [None, '50']
    """
    for name in attributes:
        if name in table.column_names:
            column = table[name].combine_chunks()
            empty = pc.if_else(mask, arrow.scalar(None, column.type), column)
            table = table.set_column(table.schema.get_field_index(name), name, empty)
    return table


# -- the published observations: the audit before anything is written or stored --------------------

#: the additive measures behind an observation (counts, numerators, denominators)
COUNT_COLUMNS = ("OBS_COUNT", "OBS_NUMERATOR", "OBS_DENOMINATOR")


@dataclass(frozen=True)
class Release:
    """The published version of the dataset that a new version corrects or extends, as the
    bridge stored it: what the public already knows (docs/disclosure.md, "Two releases").

    Attributes:
        table: its stored observations: the dimensions, ``TIME_PERIOD``, ``OBS_VALUE``, the
            counts behind them (:data:`COUNT_COLUMNS`) and ``SUPPRESSED`` (else a cell without
            a value is taken as suppressed).
        version_id: the stored version it is (recorded in the new version's report, so that
            publishing it can tell whether the release it was checked against is still the one).
        number: its version number, for messages.
    """

    table: pa.Table
    version_id: int
    number: int


def release_status(
    table: pa.Table, dimensions: Sequence[str], release: Release
) -> tuple[np.ndarray, np.ndarray]:
    """Which observations of ``table`` the earlier ``release`` gives away: ``(known, hidden)``.

    An observation is *unchanged* when the release has its key (``dimensions`` and
    ``TIME_PERIOD``) with the same counts (every :data:`COUNT_COLUMNS` both tables have; without
    any, the same ``OBS_VALUE``, and a cell the release suppressed, whose value it did not keep,
    counts as unchanged: the safe side). ``known``: unchanged and published by the release, so
    the reader has its value whatever this table does. ``hidden``: unchanged and suppressed by
    the release, so publishing it now would give the release's hidden cell away.
    """
    n = table.num_rows
    old = release.table
    keys = [*dimensions, "TIME_PERIOD"]
    if n == 0 or old.num_rows == 0 or any(k not in old.column_names for k in keys):
        return np.zeros(n, bool), np.zeros(n, bool)

    def key(t: pa.Table) -> pa.Array:
        parts = [pc.fill_null(pc.cast(t[k], pa.string()), "\x00") for k in keys]
        joined = pc.binary_join_element_wise(*parts, "\x1f")
        return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined

    at = pc.index_in(key(table), value_set=key(old))
    found = arrow.to_numpy(pc.is_valid(at), bool)
    where = arrow.to_numpy(arrow.fill_null(at, 0), np.int64)

    def numbers(t: pa.Table, name: str) -> np.ndarray:
        return arrow.to_numpy(arrow.fill_null(pc.cast(t[name], pa.float64()), np.nan), np.float64)

    if "SUPPRESSED" in old.column_names:
        was_hidden = arrow.to_numpy(arrow.fill_null(old["SUPPRESSED"], False), bool)[where]
    else:
        was_hidden = np.isnan(numbers(old, "OBS_VALUE"))[where]
    counts = [c for c in COUNT_COLUMNS if c in table.column_names and c in old.column_names]
    same = found.copy()
    for name in counts or ["OBS_VALUE"]:
        now, then = numbers(table, name), numbers(old, name)[where]
        equal = (now == then) | (np.isnan(now) & np.isnan(then))
        if not counts:  # a value the release withheld: not known to differ
            equal |= was_hidden
        same &= equal
    return same & ~was_hidden, same & was_hidden


def small_counts(table: pa.Table, threshold: int) -> np.ndarray:
    """Observations with a count behind them (:data:`COUNT_COLUMNS`) from 1 to ``threshold - 1``."""
    small = np.zeros(table.num_rows, dtype=bool)
    for name in COUNT_COLUMNS:
        if name in table.column_names:
            v = arrow.to_numpy(arrow.fill_null(pc.cast(table[name], pa.float64()), np.nan), np.float64)
            small |= (v > 0) & (v < threshold)
    return small


def _take_release(
    table: pa.Table,
    dimensions: Sequence[str],
    previous: Release | None,
    mask: np.ndarray,
    threshold: int,
    report: Report,
) -> np.ndarray | None:
    """What :func:`audit_observations` takes from the earlier release: its unchanged suppressed
    cells join ``mask`` (in place); returns the cells known to the reader (None without a
    release), recorded in ``report.stats['previous_release']``."""
    if previous is None:
        return None
    given, hidden = release_status(table, dimensions, previous)
    # a known cell small by this version's rules (a higher threshold) stays suppressed: the
    # release published it, but this version does not publish it again
    given &= ~small_counts(table, threshold)
    mask |= hidden
    report.stats["previous_release"] = {
        "version_id": previous.version_id, "number": previous.number,
        "known": int(given.sum()), "kept_suppressed": int(hidden.sum()),
    }  # fmt: skip
    return given


def audit_observations(
    h: Harmonised,
    report: Report,
    *,
    threshold: int,
    suppression: Suppression | None,
    file: str,
    hierarchies: dict[str, dict[str, str]] | None = None,
    previous: Release | None = None,
) -> Secured | None:
    """The last word on the observations to publish: secondary suppression proven by the audit.

    The observations' suppression (their ``SUPPRESSED`` column, else the source rows of
    ``suppression``) is audited over every additive relation of the published table: the
    totals of each dimension (``_T`` or the mapping's total code), the hierarchies of
    ``hierarchies`` (e.g. REF_AREA's codelist parents, and ISO 3166-2 codes under their
    country) and their combinations; complements are added where a suppressed cell is exposed
    (each a ``secondary-suppression`` finding), and a cell no complement can protect is a
    ``suppression-exposed`` error. The measures audited are the counts behind each value
    (``OBS_COUNT``, ``OBS_NUMERATOR``, ``OBS_DENOMINATOR``); without them, ``OBS_VALUE`` over
    the relations it satisfies exactly. The final mask becomes the ``SUPPRESSED`` column.

    ``previous``: the published version this one follows. Its unchanged cells keep its status
    (:func:`release_status`): those it suppressed are suppressed again; those it published are
    known to the reader, so they are published again (unless small by this version's rules),
    the audit takes them as published and the completion never uses them as complements.
    ``report.stats['previous_release']`` records which version it was.
    """
    t = h.table
    mask = suppressed_mask(t, suppression)
    if t.num_rows == 0:
        return None
    given = _take_release(t, h.dimensions, previous, mask, threshold, report)
    measures = {
        c: arrow.to_numpy(arrow.fill_null(pc.cast(t[c], pa.float64()), np.nan), np.float64)
        for c in COUNT_COLUMNS
        if c in t.column_names and t[c].null_count < t.num_rows
    }
    additive = bool(measures)
    if not measures:
        measures = {"OBS_VALUE": arrow.to_numpy(arrow.fill_null(t["OBS_VALUE"], np.nan), np.float64)}
    if not mask.any() and not any(np.isnan(v).any() for v in measures.values()):
        return None
    # the codes of the dimensions that vary (int32); a dimension with one code (most of a DSD's:
    # FREQ, the breakdowns the data does not have) adds nothing to any relation, so only its
    # label is kept, not a code per observation (#16)
    dims = [*h.dimensions, "TIME_PERIOD"]
    keys: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    for c in dims:
        column = pc.cast(t[c], pa.string())
        if c != dims[-1] and arrow.one_value(column):  # no pass over the rows to encode it
            labels[c] = [str(column[0].as_py())]
            continue
        enc = pc.dictionary_encode(column.combine_chunks(), null_encoding="encode")
        labels[c] = [str(x) for x in enc.dictionary.to_pylist()]
        if len(labels[c]) > 1 or c == dims[-1]:
            keys[c] = arrow.to_numpy(enc.indices, np.int32)
    parents, known = _observation_parents(h, labels, hierarchies or {})
    related = _time_relations(keys, labels, parents, known)
    before = mask.copy()
    size = next(iter(measures.values()))
    secured = secure(
        related, parents, measures, mask, size, threshold, known_children=known, additive=additive,
        deviations=_observation_deviations(t, suppression), known_cells=given,
        reasons_kept=OBSERVATION_EXAMPLES,
    )  # fmt: skip

    def label(d: str, i: int) -> str:
        return labels[d][keys[d][i]] if d in keys else labels[d][0]

    def where(i: int) -> str:
        return ", ".join(f"{d}={label(d, i)}" for d in dims if len(labels[d]) > 1) or "-"

    _report_exposed(report, secured, where, file=file)
    _audit_blanks(report, secured, measures, mask, threshold, where, file=file)
    added = np.flatnonzero(mask & ~before)
    examples = []
    for i in added[:OBSERVATION_EXAMPLES].tolist():
        other, dim = secured.reasons.get(i, (-1, "?"))
        shown = (
            msg(N_("the observation {key}"), key=where(other))
            if other >= 0
            else msg(N_("a suppressed observation"))
        )
        problem = (
            msg(
                N_(
                    "the observation {key} must also be suppressed: the audit found that, with the published "
                    "totals along {dimension}, {other} could be worked out"
                ),
                key=where(i),
                dimension=dim,
                other=shown,
            )
            if dim != "?"
            else msg(
                N_(
                    "the observation {key} must also be suppressed: the audit found that, with the published "
                    "totals, {other} could be worked out"
                ),
                key=where(i),
                other=shown,
            )
        )
        examples.append(
            Finding.of(
                SECONDARY, CHECKS[SECONDARY].severity, problem,
                N_("Nothing to change: the bridge suppresses it on conversion."), {}, file=file,
                details={"resolved": True, "observation": {d: label(d, i) for d in dims}},
            )
        )  # fmt: skip
    if added.size:
        report.add_counted(int(added.size), examples)
    column = arrow.array(mask)
    if "SUPPRESSED" in t.column_names:
        h.table = t.set_column(t.schema.get_field_index("SUPPRESSED"), "SUPPRESSED", column)
    else:
        h.table = t.append_column("SUPPRESSED", column)
    return secured


def _time_relations(
    keys: dict[str, np.ndarray],
    labels: dict[str, list[str]],
    parents: dict[str, np.ndarray],
    known: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Time aggregates as relations, in place on ``parents`` and ``known``: each TIME_PERIOD
    under the smallest period present that holds it (a year over its months or quarters,
    :func:`~cgd_bridge.checks.relations.period_parents`), so a year's count published beside
    its months cannot give a suppressed month away. An annual observation and its monthly ones
    differ in FREQ too, which the period's form already tells: FREQ is left out of the keys the
    relations are built from (returned) when each period has one FREQ."""
    if "TIME_PERIOD" not in keys:
        return keys
    names = labels["TIME_PERIOD"]
    tree, children = period_parents(names)
    if not tree:
        return keys
    parents["TIME_PERIOD"] = hierarchy_parents(names, tree)
    known["TIME_PERIOD"] = np.array([children.get(n, 0) for n in names], dtype=np.int64)
    if "FREQ" not in keys:
        return keys
    time = keys["TIME_PERIOD"].astype(np.int64)
    pair = group_ids([time, keys["FREQ"].astype(np.int64)], len(time))
    if np.unique(pair).size != np.unique(time).size:  # a period given with two FREQs
        return keys
    return {d: v for d, v in keys.items() if d != "FREQ"}


def _observation_deviations(table: pa.Table, suppression: Suppression | None) -> list[Deviation]:
    """The deviations the source cells' completion found (:class:`Suppression`), over the
    observations: each source row to the observation it alone gives. A row that gives no
    observation, or several, is left out, which can only make the deviation fail the audit's
    check where it mattered (the audit trusts nothing it has not checked)."""
    if suppression is None or not suppression.deviations or "SOURCE_ROW" not in table.column_names:
        return []
    source = arrow.to_numpy(arrow.fill_null(table["SOURCE_ROW"], -1), np.int64)
    order = np.argsort(source, kind="stable")
    ordered = source[order]
    out = []
    for rows, change in suppression.deviations:
        at = np.searchsorted(ordered, rows)
        end = np.searchsorted(ordered, rows, side="right")
        single = end - at == 1
        out.append(Deviation(order[at[single]], change[single]))
    return out


def _observation_parents(
    h: Harmonised, labels: dict[str, list[str]], hierarchies: dict[str, dict[str, str]]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per dimension, each code's parent: the dimension's total code (``_T`` or the mapping's),
    or its parent in the hierarchy; and, for hierarchies, how many children each code has."""
    parents: dict[str, np.ndarray] = {}
    known: dict[str, np.ndarray] = {}
    for d in h.dimensions:
        names = labels[d]
        total = h.totals.get(d, "_T")
        tree = {**iso_parents(names), **hierarchies.get(d, {})} if d == "REF_AREA" or d in hierarchies else {}
        covered: dict[str, bool] = {}
        if not tree:  # age bands inside wider bands (Y18T24 and Y25T44 inside Y18T44), as a reader sees
            tree, covered = range_parents(names)
        parent = hierarchy_parents(names, tree) if tree else np.full(len(names), -1, dtype=np.int64)
        if total in names:
            t_id = names.index(total)
            orphan = (parent < 0) & (np.arange(len(names)) != t_id)
            # a code with no parent in the hierarchy adds up to the total (the national row does)
            parent[
                orphan
                & ~np.isin(np.arange(len(names)), [i for i, n in enumerate(names) if n in tree.values()])
            ] = t_id
        if (parent >= 0).any():
            parents[d] = parent
        if tree:
            children: dict[str, int] = {}
            for par in tree.values():  # a band its parts do not cover: total >= their sum
                children[par] = children.get(par, 0) + 1 if covered.get(par, True) else 10**6
            known[d] = np.array([children.get(n, 0) for n in names], dtype=np.int64)
    return parents, known


def _audit_blanks(
    report: Report,
    secured: Secured,
    measures: dict[str, np.ndarray],
    mask: np.ndarray,
    threshold: int,
    where: Any,
    *,
    file: str,
) -> None:
    """Cells the data leaves empty are published without a value too (often a producer's own
    suppression): an error when the published totals give them away, since the bridge cannot
    choose complements for a value it does not know."""
    for name, whole in measures.items():
        examples = []
        for rows, rel, _ in secured.parts():  # slab by slab when secured so
            values = whole if rows is None else whole[rows]
            hidden = mask if rows is None else mask[rows]
            blank = np.isnan(values) & ~hidden
            if not blank.any() or rel.n == 0:
                continue
            shown = np.where(hidden, np.nan, values)
            result = audit(rel, shown, hidden | blank, float(threshold), measure=name)
            at = _in_slab(where, rows)
            for e in result.exposed:
                if not blank[e.row]:
                    continue
                examples.append(
                    exposed_finding(
                        e, rel, at, float(threshold), file=file, measure=name, fix=FIX_BLANK,
                        subject=msg(N_("the empty cell {cell} ({measure}) is not protected"), cell=at(e.row),
                                    measure=name),
                    )
                )  # fmt: skip
        if examples:
            report.add_counted(len(examples), examples[:EXAMPLES])
            return


#: units whose values do not add up (percentages, rates, ratios, indices, means)
NOT_ADDITIVE_UNITS = ("PT", "PC", "PERCENT", "RATIO", "IX", "RATE", "PER_", "MEAN", "MEDIAN", "AVG")


def audit_published(
    table: pa.Table,
    dimensions: list[str],
    *,
    threshold: int,
    file: str,
    hierarchies: dict[str, dict[str, str]] | None = None,
    first_line: int | None = 2,
) -> Report:
    """The audit of a published SDMX table, as a reader has it (``cgd-bridge audit``).

    ``first_line`` is the file's line of the table's first row (2 in SDMX-CSV, under its
    header), so a finding names the row; None where rows are not lines (SDMX-ML, SDMX-JSON),
    and the finding names the cell by its key only.

    An observation is suppressed when it has no value and is marked OBS_STATUS Q or CONF_STATUS
    C (or has no value and neither column exists). The relations come from the keys: ``_T``
    totals, age bands inside wider bands, REF_AREA hierarchies (``hierarchies``, and ISO
    3166-2 codes under their country); equalities where every part is present. Only series
    whose UNIT_MEASURE is a count are audited: percentages and rates do not add up, so their
    counts are not in the file and cannot be audited from it (``stats['audit']`` says how many
    suppressed cells that leaves out).
    """
    report = Report()
    n = table.num_rows
    names = table.column_names
    value = arrow.to_numpy(arrow.fill_null(table["OBS_VALUE"], np.nan), np.float64)
    blank = np.isnan(value)
    marked = np.zeros(n, dtype=bool)
    for col, code in (("OBS_STATUS", "Q"), ("CONF_STATUS", "C")):
        if col in names:
            marked |= arrow.to_numpy(arrow.fill_null(pc.equal(table[col], arrow.scalar(code)), False), bool)
    has_marks = "OBS_STATUS" in names or "CONF_STATUS" in names
    suppressed = blank & (marked if has_marks else True)
    additive = np.ones(n, dtype=bool)
    if "UNIT_MEASURE" in names:
        unit = pc.utf8_upper(arrow.fill_null(table["UNIT_MEASURE"], ""))
        for u in NOT_ADDITIVE_UNITS:
            hit = pc.starts_with(unit, u) if u.endswith("_") else pc.equal(unit, u)
            additive &= ~arrow.to_numpy(arrow.fill_null(hit, False), bool)
    keys: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    for c in [*dimensions, *(["TIME_PERIOD"] if "TIME_PERIOD" in names else [])]:
        enc = pc.dictionary_encode(pc.cast(table[c], pa.string()).combine_chunks(), null_encoding="encode")
        keys[c] = arrow.to_numpy(enc.indices, np.int64)
        labels[c] = [str(x) for x in enc.dictionary.to_pylist()]
    parents: dict[str, np.ndarray] = {}
    known: dict[str, np.ndarray] = {}
    for d in dimensions:
        parents[d], known[d] = _file_parents(d, labels[d], (hierarchies or {}).get(d, {}))
    related = _time_relations(keys, labels, parents, known)
    # the rows of non-additive series take no part: they are left out of the relations
    rows = np.flatnonzero(additive)
    sub_keys = {c: k[rows] for c, k in related.items()}
    rel = build_relations(sub_keys, parents, known_children=known)
    result = audit(rel, value[rows], suppressed[rows], float(threshold), measure="OBS_VALUE")

    def where(i: int) -> str:
        r = rows[i]
        alone = f"#{r + first_line}" if first_line is not None else f"#{r + 1}"
        return ", ".join(f"{d}={labels[d][keys[d][r]]}" for d in keys if len(labels[d]) > 1) or alone

    examples = []
    for e in result.exposed:
        examples.append(
            exposed_finding(
                e, rel, where, float(threshold), file=file, fix=FIX_PUBLISHED,
                row=None if first_line is None else int(rows[e.row]) + first_line,
                subject=msg(N_("the suppressed observation {key} is exposed"), key=where(e.row)),
            )
        )  # fmt: skip
    if examples:
        report.add_counted(len(examples), examples[:EXAMPLES])
    report.stats["audit"] = {
        "observations": n,
        "suppressed": int(suppressed.sum()),
        "audited": result.audited,
        "not_audited": result.not_audited,
        "not_additive": int((suppressed & ~additive).sum()),
        "relations": rel.n,
        "exposed": len(result.exposed),
        "threshold": threshold,
        "linear_programmes": result.lps,
    }
    report.stats["rows"] = n
    report.stage = AUDIT_STAGE
    report.finish()
    return report


def _file_parents(d: str, names: list[str], tree: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """A dimension's parents in a published file: its hierarchy (REF_AREA), age bands, or ``_T``."""
    children: dict[str, int] = {}
    if d == "REF_AREA" or tree:
        full = {**iso_parents(names), **tree}
        for par in full.values():
            children[par] = children.get(par, 0) + 1
    else:
        full, covered = range_parents(names)
        for _child, par in full.items():
            children[par] = children.get(par, 0) + (1 if covered.get(par) else 0)
        for par in full.values():  # a band not fully covered by its parts: an inequality
            if not covered.get(par):
                children[par] = 10**6
    parent = hierarchy_parents(names, full) if full else np.full(len(names), -1, dtype=np.int64)
    if "_T" in names:
        t_id = names.index("_T")
        tops = set(full.values())
        for i, name in enumerate(names):
            if parent[i] < 0 and i != t_id and name not in tops:
                parent[i] = t_id
        if not full:
            children["_T"] = len(names) - 1
    present_children = np.bincount(parent[parent >= 0], minlength=len(names))
    known = np.array([children.get(n, 0) for n in names], dtype=np.int64)
    known = np.where(known == 0, present_children, known)
    return parent, known
