"""The disclosure audit, and the secondary suppression it drives.

**The audit** plays the attacker. It takes a table as a reader has it: the published values are
known, the suppressed cells are unknowns, every cell is a count (never negative), and every
additive relation (:mod:`cgd_bridge.checks.relations`) holds. For each suppressed cell it
solves two linear programmes (HiGHS, through its ``highspy`` bindings): the smallest and the
largest value the cell can take. That *feasible interval* is everything the published table
gives away about the cell. The protection rule: the interval must be at least ``protection``
wide (the disclosure threshold k by default), so a reader can never tell a cell of 1 from a cell
of 0 or of k, and can never pin a cell to one value. A cell whose interval is narrower is
*exposed*; the audit names it, its interval and the relations that bound it (those whose dual
value in the LP is not zero).

To stay fast it works on the connected components of unknowns (unknowns linked by a relation),
all of them in one LP: the joint LP is block-diagonal and every objective here is a sum over
cells, so one solve gives each component its own optimum (:func:`_batched`). It first finds two
or three feasible tables (the true one when known, and the tables that make the cells as large
and as small as possible): a cell whose values in those already differ by the protection range
needs no LP of its own; the per-cell LPs then take one open cell of every component at a time.

**Secondary suppression that holds** (:func:`complete`), in the style of the optimal methods of
tau-Argus and sdcTable (Fischetti and Salazar's attacker sub-problem): for the exposed cells of
each connected part of the table, one LP finds a *deviation* of the table: changes y to the
cells that keep every relation true, keep every cell non-negative, leave every published cell
as it is except those it suppresses, and move every exposed cell up by the protection range.
Its cost is the information lost: (almost) nothing for cells already suppressed, the cell's size
for the others, so the cheapest complements are small cells that really protect. Cells whose
value is zero (or unknown) are never used: a zero gives no cover (a reader may know it is empty)
and cannot go down. A cell the LP uses is suppressed, and since the deviation is a feasible
table, every cell it moves by the protection range is proven protected: the complement is never
one whose value is implied elsewhere. Complements moved by less are the next round's targets.
Then the audit runs again as the final word.

**Certificates** (:class:`Deviation`, :func:`certified_spans`): each deviation found is kept and
handed to every later audit of the table (the next round's, the other measures', the audit of
the mapped observations through :class:`~cgd_bridge.checks.base.Suppression`). The audit checks
each against its own relations and values before it trusts it, part by part; the cells the
valid ones move by the protection range need no LP, so a re-audit solves LPs only where a cell
is still open. A cell that is the one unknown of an equality is pinned by it and named without
an LP (:func:`_pinned`).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cgd_bridge.checks import cubes as hypercube
from cgd_bridge.checks.relations import Relations
from cgd_bridge.lazy import lazy_module

if TYPE_CHECKING:
    import scipy.sparse as sp
    from scipy.optimize import linprog
    from scipy.sparse.csgraph import connected_components
else:  # scipy costs ~0.3 s to import: only when a table has cells to audit (cgd_bridge/lazy.py)
    sp = lazy_module("scipy.sparse")

    def linprog(*args: Any, **kwargs: Any) -> Any:
        from scipy.optimize import linprog as solve

        return solve(*args, **kwargs)

    def connected_components(*args: Any, **kwargs: Any) -> Any:
        from scipy.sparse.csgraph import connected_components as components

        return components(*args, **kwargs)


_NOT_LOADED: Any = object()
#: HiGHS's own Python bindings (the ``highspy`` wheel, a core dependency: the same bindings
#: scipy vendors as ``scipy.optimize._highspy``, without importing ``scipy.optimize``, whose
#: package imports every solver it has: about 0.5 s of CPU against 0.03 s), a model kept
#: between solves (see _Warm); scipy's copy if highspy is missing, and None with neither (every
#: LP through linprog). Loaded at the first solve (_highs_core).
_highs: Any = _NOT_LOADED


def _highs_core() -> Any:
    """HiGHS's bindings (highspy, else scipy's copy), or None; imported at the first call."""
    global _highs
    if _highs is _NOT_LOADED:
        import importlib

        _highs = None
        for name in ("highspy._core", "scipy.optimize._highspy._core"):  # highspy is a dependency
            try:
                _highs = importlib.import_module(name)
                break
            except ImportError:  # pragma: no cover - an install without it; an older scipy
                continue
    return _highs


log = logging.getLogger(__name__)

EPS = 1e-6
MAX_LPS = 20_000  # LPs one audit solves at most; beyond, the rest is reported as not audited


@dataclass
class Exposure:
    """A suppressed cell a reader can narrow down below the protection range.

    Attributes:
        row: the cell's row in the table.
        low, high: its feasible interval (``high`` may be ``inf``).
        relations: the relations that bound it (indices into the :class:`Relations`).
        measure: the additive measure audited (e.g. ``OBS_COUNT``).
    """

    row: int
    low: float
    high: float
    relations: list[int] = field(default_factory=list)
    measure: str = ""

    @property
    def width(self) -> float:
        """The interval's width."""
        return self.high - self.low


@dataclass
class Deviation:
    """A change of suppressed cells that keeps every relation true (a deviation the completion's
    LPs found): the true table plus it is another table a reader cannot tell from the true one,
    so it certifies each cell it moves without an LP of its own (:func:`certified_spans`, which
    checks it against the relations and values at hand before it trusts it).

    Attributes:
        rows: the cells it changes (int64).
        change: the signed change of each (float64).
    """

    rows: np.ndarray
    change: np.ndarray


@dataclass
class AuditResult:
    """What one audit found.

    Attributes:
        exposed: the cells narrower than the protection range.
        audited: suppressed cells audited.
        not_audited: suppressed cells left out (the LP budget ran out).
        inconsistent: suppressed cells whose component's published values contradict the
            relations (the equalities were relaxed to inequalities for them).
        lps: linear programmes solved.
        certified: suppressed cells proven by the deviations given (no LP of their own).
    """

    exposed: list[Exposure] = field(default_factory=list)
    audited: int = 0
    not_audited: int = 0
    inconsistent: int = 0
    lps: int = 0
    certified: int = 0

    @property
    def passed(self) -> bool:
        """True when every suppressed cell audited is protected."""
        return not self.exposed


@dataclass
class _Component:
    cells: np.ndarray  # rows of the unknowns
    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    a_ub: sp.csr_matrix
    b_ub: np.ndarray
    eq_rel: np.ndarray  # relation index of each equality row
    ub_rel: np.ndarray
    warm: _Warm | None = None  # the component's LP kept in HiGHS (see _solve)


class _Budget:
    def __init__(self, lps: int) -> None:
        self.left = lps
        self.used = 0

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        self.used += 1
        return True


def audit(
    rel: Relations,
    values: np.ndarray,
    suppressed: np.ndarray,
    protection: float,
    *,
    truth: bool = False,
    measure: str = "",
    max_lps: int = MAX_LPS,
    deviations: Sequence[Deviation] = (),
    table: _Table | None = None,
) -> AuditResult:
    """Each suppressed cell's feasible interval over every relation; the exposed ones.

    Args:
        rel: the table's additive relations.
        values: the cells' values; at suppressed cells the true values when ``truth`` (the
            pipeline), else anything (the published file: NaN).
        suppressed: the cells a reader does not see (cells with NaN values are unknown too, but
            not audited: nothing was published for them).
        protection: the width every interval must reach.
        truth: ``values`` holds the true values of suppressed cells (they give a feasible table
            for free).
        measure: the measure's name, for the report.
        max_lps: the LP budget.
        deviations: changes of the table believed to keep every relation true (the completion's;
            only with ``truth``): each is checked against these relations and values, and the
            cells the valid ones move by the protection range need no LP
            (:func:`certified_spans`). A component whose every suppressed cell is so certified
            takes no LP at all.
        table: the relations as :class:`_Table` (built here when deviations are given).
    """
    values = np.asarray(values, dtype=np.float64)
    unknown = suppressed | np.isnan(values)
    result = AuditResult()
    targets = np.flatnonzero(suppressed)
    if targets.size == 0 or rel.n == 0:
        result.audited = int(targets.size)
        return result
    budget = _Budget(max_lps)
    open_, among = suppressed, unknown
    if truth and deviations:
        table = table or _Table(rel, len(values))
        low, high = certified_spans(table, values, unknown, deviations)
        certified = suppressed & (high - low >= protection - EPS)
        result.certified = int(certified.sum())
        result.audited += result.certified
        open_ = suppressed & ~certified
        # only the parts of the table with a cell left open need LPs: the unknowns of the other
        # parts share no relation with them, so they are left out of the system (as if known)
        among = unknown & np.isin(table.component, np.unique(table.component[open_]))
    if truth and protection > EPS:
        pinned = _pinned(rel, values, unknown, open_, measure)
        result.exposed.extend(pinned)
        result.audited += len(pinned)
        if pinned:
            open_ = open_.copy()
            open_[[e.row for e in pinned]] = False
    system = _System(rel, values, among, open_)
    true_all = values if truth else None
    for comp, todo, lo, hi in _batched(system, true_all, protection, budget):
        true = values[comp.cells] if truth else None
        if true is not None and np.isnan(true).any():
            true = None
        known = None if lo is None or hi is None else (lo, hi, False)
        exposures, inconsistent, left = _audit_component(comp, todo, true, protection, budget, known)
        for e in exposures:
            e.measure = measure
        result.exposed.extend(exposures)
        result.inconsistent += inconsistent
        result.not_audited += left
        result.audited += int(todo.size) - left
    result.audited += system.settled
    for e in system.exposed:
        e.measure = measure
    result.exposed.extend(system.exposed)
    # suppressed cells in no relation with another unknown are handled by _System
    result.lps = budget.used
    result.exposed.sort(key=lambda e: e.row)
    return result


def _pinned(
    rel: Relations, values: np.ndarray, unknown: np.ndarray, cells: np.ndarray, measure: str
) -> list[Exposure]:
    """The cells of ``cells`` that some equality pins down, each the one unknown of it: a reader
    works the cell out exactly from that relation alone (its interval is its true value), so it
    needs no LP. Each is named with every relation that pins it."""
    entry_rel = np.concatenate([rel.part_relation(), np.arange(rel.n, dtype=np.int64)])
    entry_cell = np.concatenate([rel.parts, rel.total])
    open_entry = unknown[entry_cell]
    count = np.bincount(entry_rel[open_entry], minlength=rel.n)
    alone = np.asarray(rel.equal, dtype=bool) & (count == 1)
    hit = np.flatnonzero(open_entry & alone[entry_rel] & cells[entry_cell] & ~np.isnan(values[entry_cell]))
    if hit.size == 0:
        return []
    order = np.lexsort((entry_rel[hit], entry_cell[hit]))
    by_cell, by_rel = entry_cell[hit][order], entry_rel[hit][order]
    start = np.flatnonzero(np.r_[True, by_cell[1:] != by_cell[:-1]])  # by_cell is sorted
    rows = by_cell[start]
    ends = np.r_[start[1:], by_cell.size].tolist()
    links = by_rel.tolist()  # one list, sliced per cell (not one array and .tolist() each)
    return [
        Exposure(row, v, v, links[a:b], measure)
        for row, v, a, b in zip(rows.tolist(), values[rows].tolist(), start.tolist(), ends, strict=True)
    ]


class _System:
    """The relations restricted to the unknowns, every connected component at once.

    Each relation becomes ``sum(parts) - total (= or <=) 0``; the known cells move to the right
    hand side. The unknowns are ordered by connected component (unknowns linked by a relation)
    and so are the relations, so one component is a contiguous block of one sparse matrix:
    built by numpy in one pass, never per cell or per relation in Python. Components with no
    suppressed cell, or no relation, need no LP: ``settled`` counts their suppressed cells.
    """

    def __init__(
        self, rel: Relations, values: np.ndarray, unknown: np.ndarray, suppressed: np.ndarray
    ) -> None:
        rows_r = rel.part_relation()
        ent_rel = np.concatenate([rows_r, np.arange(rel.n, dtype=np.int64)])
        ent_cell = np.concatenate([rel.parts, rel.total])
        ent_coef = np.concatenate([np.ones(len(rel.parts)), -np.ones(rel.n)])
        is_unknown = unknown[ent_cell]
        known_val = values[ent_cell]  # a copy; NaN and inf as np.nan_to_num has them, in place
        odd = ~np.isfinite(known_val)
        if odd.any():
            known_val[odd] = np.nan_to_num(known_val[odd])
        known_val[is_unknown] = 0.0
        rhs = -np.bincount(ent_rel, weights=ent_coef * known_val, minlength=rel.n)
        u_rel, u_cell, u_coef = ent_rel[is_unknown], ent_cell[is_unknown], ent_coef[is_unknown]
        unknown_rows = np.flatnonzero(unknown)
        k = unknown_rows.size
        col_of = np.full(len(values), -1, dtype=np.int64)
        col_of[unknown_rows] = np.arange(k)
        active = np.unique(u_rel)
        rel_node = np.full(rel.n, -1, dtype=np.int64)
        rel_node[active] = np.arange(active.size)
        # bipartite graph: unknown cells (0..k-1) and relations with an unknown (k..)
        size = k + active.size
        graph = sp.coo_matrix(
            (np.ones(u_rel.size), (col_of[u_cell], k + rel_node[u_rel])), shape=(size, size)
        ).tocsr()
        _, label = connected_components(graph, directed=False)
        cell_label, rel_label = label[:k], label[k:]
        n_comp = int(label.max()) + 1 if size else 0
        # keep the components with a suppressed cell and a relation
        todo_cells = np.bincount(cell_label[suppressed[unknown_rows]], minlength=n_comp)
        has_todo = todo_cells > 0
        has_rel = np.bincount(rel_label, minlength=n_comp) > 0
        keep = has_todo & has_rel
        self.settled = int(todo_cells[has_todo & ~has_rel].sum())
        # renumber kept components 0..m-1, in order
        new_id = np.full(n_comp, -1, dtype=np.int64)
        new_id[keep] = np.arange(int(keep.sum()))
        c_lab, r_lab = new_id[cell_label], new_id[rel_label]
        c_keep, r_keep = np.flatnonzero(c_lab >= 0), np.flatnonzero(r_lab >= 0)
        c_order = c_keep[np.argsort(c_lab[c_keep], kind="stable")]
        r_order = r_keep[np.argsort(r_lab[r_keep], kind="stable")]
        self.m = int(keep.sum())
        self.cells = unknown_rows[c_order]
        self.cell_bounds = np.searchsorted(c_lab[c_order], np.arange(self.m + 1))
        self.rels = active[r_order]
        self.rel_bounds = np.searchsorted(r_lab[r_order], np.arange(self.m + 1))
        col_new = np.full(k, -1, dtype=np.int64)
        col_new[c_order] = np.arange(c_order.size)
        row_new = np.full(active.size, -1, dtype=np.int64)
        row_new[r_order] = np.arange(r_order.size)
        rr, cc = row_new[rel_node[u_rel]], col_new[col_of[u_cell]]
        ok = rr >= 0
        self.a = sp.csr_matrix((u_coef[ok], (rr[ok], cc[ok])), shape=(self.rels.size, self.cells.size))
        self.b = rhs[self.rels]
        self.equal = np.asarray(rel.equal, dtype=bool)[self.rels]
        self.suppressed = suppressed[self.cells]
        self.exposed: list[Exposure] = []  # found by the joint LPs (see _batched)

    def part(self, lo: int, hi: int) -> _System:
        """Components ``lo .. hi - 1`` as a system of their own."""
        c0, c1 = int(self.cell_bounds[lo]), int(self.cell_bounds[hi])
        r0, r1 = int(self.rel_bounds[lo]), int(self.rel_bounds[hi])
        out = object.__new__(_System)
        out.m, out.settled, out.exposed = hi - lo, 0, []
        out.cells, out.suppressed = self.cells[c0:c1], self.suppressed[c0:c1]
        out.cell_bounds, out.rel_bounds = (
            self.cell_bounds[lo : hi + 1] - c0,
            self.rel_bounds[lo : hi + 1] - r0,
        )
        out.rels, out.b, out.equal = self.rels[r0:r1], self.b[r0:r1], self.equal[r0:r1]
        out.a = self.a[r0:r1][:, c0:c1]
        return out

    def chunks(self, cells: int) -> list[tuple[int, int]]:
        """Runs of consecutive components of about ``cells`` unknowns each (a component is
        never split)."""
        ends = np.searchsorted(self.cell_bounds, np.arange(cells, self.cell_bounds[-1], cells), side="right")
        cuts = np.unique(np.concatenate([[0], np.clip(ends - 1, 1, self.m), [self.m]]))
        return [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]

    def component(self, lo: int, hi: int) -> _Component:
        """Components ``lo .. hi - 1`` as one (block-diagonal) LP."""
        c0, c1 = int(self.cell_bounds[lo]), int(self.cell_bounds[hi])
        r0, r1 = int(self.rel_bounds[lo]), int(self.rel_bounds[hi])
        sub = self.a[r0:r1][:, c0:c1]
        eq = self.equal[r0:r1]
        rels, b = self.rels[r0:r1], self.b[r0:r1]
        return _Component(
            self.cells[c0:c1], sub[eq].tocsr(), b[eq], sub[~eq].tocsr(), b[~eq], rels[eq], rels[~eq]
        )


#: unknowns per joint LP: the simplex's work grows faster than the LP, so blocks of components of
#: about this size beat both one LP per component (overhead) and one LP for all (measured on the
#: 200k-row Kenya file)
JOINT_CELLS = 4_000
#: cells per deviation LP of the completion (blocks of parts with exposed cells): on the 200,925-row
#: Kenya file blocks of 4,000 and 8,000 cells took 0.6 s of HiGHS in all, 16,000 1.0 s, 64,000 3 s
DEVIATION_CELLS = 8_000


def _batched(
    system: _System, true: np.ndarray | None, protection: float, budget: _Budget
) -> Iterator[tuple[_Component, np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """:func:`_joint_audit` over blocks of components of about :data:`JOINT_CELLS` unknowns."""
    for a, b in system.chunks(JOINT_CELLS) if system.m else []:
        part = system.part(a, b)
        yield from _joint_audit(part, true, protection, budget)
        system.settled += part.settled
        system.exposed.extend(part.exposed)


def _joint_audit(
    system: _System, true: np.ndarray | None, protection: float, budget: _Budget
) -> Iterator[tuple[_Component, np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """The components that still need LPs of their own, each with its suppressed cells (local
    indices) and the range the batched LPs already proved (None: none ran).

    The LP of all components together is block-diagonal, and the certificates' and sharpening
    LPs have separable objectives: one LP over every component finds, per component, the same
    optimum one LP each would. So a few LPs in all prove most cells, however many components
    the table has; only the components with a cell left open get LPs of their own. When the
    published values contradict the relations somewhere (the joint LP is infeasible), each
    component is audited on its own (its equalities relaxed where they must be)."""
    if system.m == 0:
        return
    whole = system.component(0, system.m)
    todo = np.flatnonzero(system.suppressed)
    sub_true = None if true is None else true[whole.cells]
    if sub_true is not None and np.isnan(sub_true).any():
        sub_true = None
    found = _certificates(whole, sub_true, protection, budget, relax_ok=False) if system.m > 1 else None
    if found is None:
        for c in range(system.m):
            c0, c1 = int(system.cell_bounds[c]), int(system.cell_bounds[c + 1])
            yield system.component(c, c + 1), np.flatnonzero(system.suppressed[c0:c1]), None, None
        return
    lo, hi, _ = found
    if budget.left > 0:
        _sharpen(whole, todo, lo, hi, _cap(whole, sub_true, protection), protection, budget, False)
    exposed, fallback = _intervals(system, whole, lo, hi, protection, budget)
    whole.warm = None  # free the joint model: the components left have their own, far smaller
    settled = np.ones(system.m, dtype=bool)
    settled[fallback] = False
    comp_of = np.repeat(np.arange(system.m), np.diff(system.cell_bounds))
    order = np.argsort(system.cells)
    rows = np.asarray([e.row for e in exposed], dtype=np.int64)
    local = order[np.searchsorted(system.cells[order], rows)]
    exposed = [e for e, i in zip(exposed, local.tolist(), strict=True) if settled[comp_of[i]]]
    for c in range(system.m):
        c0, c1 = int(system.cell_bounds[c]), int(system.cell_bounds[c + 1])
        if not settled[c]:
            yield system.component(c, c + 1), np.flatnonzero(system.suppressed[c0:c1]), lo[c0:c1], hi[c0:c1]
        else:
            system.settled += int(system.suppressed[c0:c1].sum())
    system.exposed = exposed


def _intervals(
    system: _System, whole: _Component, lo: np.ndarray, hi: np.ndarray, protection: float, budget: _Budget
) -> tuple[list[Exposure], np.ndarray]:
    """Each open suppressed cell's own min and max LP, one cell of every component per LP (the
    objective stays separable): as many LPs as the most open cells in one component, not one
    pair per cell. The max LP caps the chosen cells at ``lo + protection``: a cell that reaches
    its cap is protected, one that stays below it has its true maximum. Returns the exposed
    cells, and the components left to audit on their own (the budget ran out or HiGHS failed)."""
    comp_of = np.repeat(np.arange(system.m), np.diff(system.cell_bounds))
    row_comp = np.repeat(np.arange(system.m), np.diff(system.rel_bounds))
    eq_comp, ub_comp = row_comp[system.equal], row_comp[~system.equal]
    pending = np.flatnonzero(system.suppressed & (hi - lo < protection - EPS))
    exposed: list[Exposure] = []
    chosen_of = np.full(system.m, -1, dtype=np.int64)
    while pending.size:
        pc = comp_of[pending]
        first = pending[np.r_[True, pc[1:] != pc[:-1]]]
        binding: dict[int, set[int]] = {int(i): set() for i in first.tolist()}
        for sign in (1.0, -1.0):  # min, then max
            sel = first[hi[first] - lo[first] < protection - EPS]
            if sel.size == 0:
                break
            if not budget.take():
                return exposed, np.unique(comp_of[pending])
            c = np.zeros(whole.cells.size)
            c[sel] = sign
            upper = None
            if sign < 0:
                upper = np.full(whole.cells.size, np.inf)
                upper[sel] = lo[sel] + protection
            status, x, eq_d, ub_d = _solve(whole, c, upper)
            if status != "ok" or x is None or eq_d is None or ub_d is None:
                return exposed, np.unique(comp_of[pending])
            np.minimum(lo, x, out=lo)
            np.maximum(hi, x, out=hi)
            chosen_of[comp_of[sel]] = sel
            for rows, comps, rel in (
                (np.abs(eq_d) > EPS, eq_comp, whole.eq_rel),
                (np.abs(ub_d) > EPS, ub_comp, whole.ub_rel),
            ):
                hit = np.flatnonzero(rows)
                owner = chosen_of[comps[hit]]
                for cell, r in zip(owner.tolist(), rel[hit].tolist(), strict=True):
                    if cell in binding:
                        binding[cell].add(int(r))
            chosen_of[comp_of[sel]] = -1
        for i in first.tolist():
            if hi[i] - lo[i] < protection - EPS:
                exposed.append(Exposure(int(whole.cells[i]), float(lo[i]), float(hi[i]), sorted(binding[i])))
        done = np.zeros(whole.cells.size, dtype=bool)
        done[first] = True
        pending = pending[~done[pending] & (hi[pending] - lo[pending] < protection - EPS)]
    return exposed, np.zeros(0, dtype=np.int64)


def _solve(
    comp: _Component, c: np.ndarray, upper: float | np.ndarray | None, *, relax: bool = False
) -> tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One LP over a component: status ('ok', 'unbounded', 'infeasible'), x, and the duals.

    The component's LP stays in HiGHS between calls (:class:`_Warm`): only the objective and
    the bounds change, and each solve starts from the last one's basis. Without HiGHS's
    bindings, or when the kept model runs into numerical trouble, the LP is solved afresh by
    ``linprog`` (imported only then)."""
    if _highs_core() is not None:
        if comp.warm is None or comp.warm.relax != relax:
            comp.warm = _Warm(comp, relax)
        found = comp.warm.solve(c, upper)
        if found[0] != "retry":
            return found
    return _solve_cold(comp, c, upper, relax=relax)


def _solve_cold(
    comp: _Component, c: np.ndarray, upper: float | np.ndarray | None, *, relax: bool = False
) -> tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """:func:`_solve` by ``scipy.optimize.linprog``, one LP from scratch."""
    n = comp.cells.size
    if upper is None:
        bounds: list[tuple[float, float | None]] | tuple[float, None] = (0, None)
    else:
        ub = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,))
        bounds = [(0.0, float(u)) for u in ub]
    a_ub, b_ub = comp.a_ub, comp.b_ub
    a_eq: sp.csr_matrix | None = comp.a_eq if comp.a_eq.shape[0] else None
    b_eq: np.ndarray | None = comp.b_eq if comp.a_eq.shape[0] else None
    if relax and a_eq is not None and b_eq is not None:  # equalities as sum(parts) <= total
        a_ub, b_ub = sp.vstack([a_ub, a_eq]).tocsr(), np.concatenate([b_ub, b_eq])
        a_eq = b_eq = None
    res = linprog(
        c, A_ub=a_ub if a_ub.shape[0] else None, b_ub=b_ub if a_ub.shape[0] else None,
        A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs",
    )  # fmt: skip
    if res.status == 3:
        return "unbounded", None, None, None
    if res.status != 0:
        return "infeasible", None, None, None
    eq_d = res.eqlin.marginals if a_eq is not None else np.zeros(0)
    ub_d = res.ineqlin.marginals if a_ub.shape[0] else np.zeros(0)
    return "ok", res.x, eq_d, ub_d


class _Warm:
    """A component's LP held in HiGHS across solves (the audit solves many LPs that differ only
    in their objective: min and max of each cell). The first solve runs HiGHS as ``linprog``
    would (presolve, dual simplex); later ones change the objective and the column bounds and
    continue from the last basis with the primal simplex, which then needs a handful of
    iterations: about ten times faster than a fresh ``linprog`` on a component of a few
    thousand unknowns (measured: 4 ms against 38 ms per LP)."""

    def __init__(self, comp: _Component, relax: bool) -> None:
        highs = _highs_core()
        assert highs is not None
        self.relax = relax
        self.n_eq = comp.a_eq.shape[0]
        n = comp.cells.size
        a = sp.vstack([comp.a_eq, comp.a_ub]).tocsc()
        inf = highs.kHighsInf
        lp = highs.HighsLp()
        lp.num_col_, lp.num_row_ = n, a.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.full(n, inf)
        eq_low = np.full(self.n_eq, -inf) if relax else comp.b_eq
        lp.row_lower_ = np.concatenate([eq_low, np.full(comp.a_ub.shape[0], -inf)])
        lp.row_upper_ = np.concatenate([comp.b_eq, comp.b_ub])
        lp.a_matrix_.format_ = highs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(np.float64)
        self.h = highs._Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.passModel(lp)
        self.cost = np.zeros(n)
        self.upper = np.full(n, np.inf)
        self.all = np.arange(n, dtype=np.int32)
        self.solved = False

    def solve(
        self, c: np.ndarray, upper: float | np.ndarray | None
    ) -> tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        highs = _highs_core()
        n = self.cost.size
        c = np.asarray(c, dtype=np.float64)
        changed = np.flatnonzero(c != self.cost).astype(np.int32)
        if changed.size:
            self.h.changeColsCost(changed.size, changed, c[changed])
            self.cost = c.copy()
        up = np.full(n, np.inf) if upper is None else np.broadcast_to(np.asarray(upper, np.float64), (n,))
        moved = np.flatnonzero(up != self.upper).astype(np.int32)
        if moved.size:
            high = np.where(np.isinf(up[moved]), highs.kHighsInf, up[moved])
            self.h.changeColsBounds(moved.size, moved, np.zeros(moved.size), high)
            self.upper = up.copy()
        self.h.run()
        if not self.solved:  # from now on: from the last basis, by the primal simplex
            self.h.setOptionValue("presolve", "off")
            self.h.setOptionValue("simplex_strategy", 4)
            self.solved = True
        status = self.h.getModelStatus()
        if status == highs.HighsModelStatus.kOptimal:
            sol = self.h.getSolution()
            x = np.maximum(np.asarray(sol.col_value, dtype=np.float64), 0.0)
            duals = np.asarray(sol.row_dual, dtype=np.float64)
            if self.relax:
                return "ok", x, np.zeros(0), duals[self.n_eq :]
            return "ok", x, duals[: self.n_eq], duals[self.n_eq :]
        if status == highs.HighsModelStatus.kUnbounded:
            return "unbounded", None, None, None
        if status == highs.HighsModelStatus.kInfeasible:
            return "infeasible", None, None, None
        return "retry", None, None, None  # undecided or numerical trouble: linprog decides


def _audit_component(
    comp: _Component,
    todo: np.ndarray,
    true: np.ndarray | None,
    protection: float,
    budget: _Budget,
    known: tuple[np.ndarray, np.ndarray, bool] | None = None,
) -> tuple[list[Exposure], int, int]:
    """The exposures among ``todo`` (local indices); the cells made inconsistent; those left.
    ``known``: the range already proven for each unknown (by :func:`_batched`), and whether the
    equalities were relaxed; else the certificates are found here."""
    if comp.a_eq.shape[0] == 0 and comp.a_ub.shape[0] == 0:
        return [], 0, 0  # no relation reaches the cell: nothing bounds it
    found = known if known is not None else _certificates(comp, true, protection, budget)
    if found is None:
        return [], int(todo.size), 0
    lo, hi, relax = found
    _sharpen(comp, todo, lo, hi, _cap(comp, true, protection), protection, budget, relax)
    exposures: list[Exposure] = []
    left = 0
    for i in todo.tolist():
        if hi[i] - lo[i] >= protection - EPS:
            continue
        binding, complete_ = _interval(comp, i, lo, hi, protection, budget, relax)
        if hi[i] - lo[i] >= protection - EPS:
            continue
        if not complete_:
            left += 1
            continue
        exposures.append(Exposure(int(comp.cells[i]), float(lo[i]), float(hi[i]), sorted(binding)))
    return exposures, 0, left


def _certificates(
    comp: _Component,
    true: np.ndarray | None,
    protection: float,
    budget: _Budget,
    *,
    relax_ok: bool = True,
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The range each unknown spans over a few feasible tables (the true one when known, the one
    with every unknown as large as it can be, and as small), and whether the equalities had to be
    relaxed; None when the published values contradict the relations."""
    n = comp.cells.size
    lo = np.full(n, np.inf) if true is None else true.copy()
    hi = np.full(n, -np.inf) if true is None else true.copy()
    relax = False
    cap = _cap(comp, true, protection)
    for sign in (-1.0, 1.0):
        if not budget.take():
            break
        status, x, _, _ = _solve(comp, np.full(n, sign), cap, relax=relax)
        if status == "infeasible" and not relax and true is None and relax_ok:
            relax = True
            status, x, _, _ = _solve(comp, np.full(n, sign), cap, relax=True)
        if status == "infeasible":
            return None
        if x is not None:
            lo, hi = np.minimum(lo, x), np.maximum(hi, x)
    return lo, hi, relax


def _sharpen(
    comp: _Component,
    todo: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    cap: np.ndarray,
    protection: float,
    budget: _Budget,
    relax: bool,
    rounds: int = 6,
) -> None:
    """Widen ``lo``/``hi`` (in place) for many cells per LP: push every cell not yet proven up
    to ``lo + protection`` at once (then down), so that each LP proves all the cells it moves
    far enough; stop when a round proves few. Any solution is a feasible table, so this only
    ever proves; the cells left get LPs of their own."""
    for _ in range(rounds):
        open_ = todo[hi[todo] - lo[todo] < protection - EPS]
        if open_.size == 0:
            return
        before = open_.size
        for sign in (-1.0, 1.0):  # max the sum (up to lo + protection), then min it
            if not budget.take():
                return
            c = np.zeros(comp.cells.size)
            c[open_] = sign
            upper = cap.copy()
            if sign < 0:
                upper[open_] = np.minimum(upper[open_], lo[open_] + protection)
            status, x, _, _ = _solve(comp, c, upper, relax=relax)
            if status != "ok" or x is None:
                return
            np.minimum(lo, x, out=lo)
            np.maximum(hi, x, out=hi)
            open_ = open_[hi[open_] - lo[open_] < protection - EPS]
            if open_.size == 0:
                return
        if open_.size > 0.8 * before:
            return


def _interval(
    comp: _Component,
    i: int,
    lo: np.ndarray,
    hi: np.ndarray,
    protection: float,
    budget: _Budget,
    relax: bool,
) -> tuple[set[int], bool]:
    """Widen ``lo``/``hi`` (in place) by the LPs min and max of unknown ``i``: the relations that
    bind it, and whether both LPs were solved (False when the budget ran out)."""
    binding: set[int] = set()
    solved = 0
    for sign in (1.0, -1.0):  # min, then max
        if not budget.take():
            return binding, False
        c = np.zeros(comp.cells.size)
        c[i] = sign
        status, x, eq_d, ub_d = _solve(comp, c, None, relax=relax)
        if status == "unbounded":
            hi[i] = np.inf
            return binding, True
        if status != "ok" or x is None:
            return binding, False
        np.minimum(lo, x, out=lo)
        np.maximum(hi, x, out=hi)
        binding |= _binding(comp, eq_d, ub_d)
        solved += 1
        if hi[i] - lo[i] >= protection - EPS:
            break
    return binding, True


def _binding(comp: _Component, eq_d: np.ndarray | None, ub_d: np.ndarray | None) -> set[int]:
    out: set[int] = set()
    if eq_d is not None and eq_d.size:
        out |= set(comp.eq_rel[np.abs(eq_d) > EPS].tolist())
    if ub_d is not None and ub_d.size:
        out |= set(comp.ub_rel[: ub_d.size][np.abs(ub_d[: comp.ub_rel.size]) > EPS].tolist())
    return out


def _cap(comp: _Component, true: np.ndarray | None, protection: float) -> np.ndarray:
    """Upper bounds that keep the 'everything large' LP bounded (any point it finds is still a
    feasible table, so the bound only makes the certificate conservative)."""
    if true is not None:
        return true + protection
    scale = float(np.abs(np.concatenate([comp.b_eq, comp.b_ub, [0.0]])).max())
    return np.full(comp.cells.size, scale + protection)


def _net(d: Deviation, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells a deviation moves and by how much, each once (a cell named twice moves by the
    sum); nothing for a deviation naming a row outside the table or a change that is no number."""
    rows = np.asarray(d.rows, dtype=np.int64)
    change = np.asarray(d.change, dtype=np.float64)
    if rows.shape != change.shape or (rows.size and (rows.min() < 0 or rows.max() >= n)):
        return np.empty(0, np.int64), np.empty(0)
    if not np.isfinite(change).all():
        return np.empty(0, np.int64), np.empty(0)
    cells, at = np.unique(rows, return_inverse=True)
    net = np.zeros(cells.size)
    np.add.at(net, at, change)
    moved = np.abs(net) > EPS
    return cells[moved], net[moved]


def certified_spans(
    table: _Table, values: np.ndarray, unknown: np.ndarray, deviations: Sequence[Deviation]
) -> tuple[np.ndarray, np.ndarray]:
    """The range each cell spans over the tables that ``deviations`` prove feasible: for the
    true ``values`` v and a deviation y, ``v + a * y`` for every ``a`` in ``[-a_minus, a_plus]``,
    the largest steps that keep every cell non-negative and every inequality true, taken per
    connected part of the table (a part's relations hold its cells alone).

    Nothing is trusted: a part where a deviation breaks an equality (beyond rounding, judged on
    the part's own largest change), changes a published cell or meets an unknown value gets no
    step at all; and what rounding forgave limits the step, so that ``v + a * y`` keeps every
    relation within rounding too (else a change of 1e-6 taken a million times over would prove
    a pinned cell free). So a wrong or stale
    deviation (another measure's, the cells' instead of the observations') can only prove less,
    never more. Returns ``(lo, hi)`` over every row (``values`` where no deviation moves it)."""
    lo = np.array(values, dtype=np.float64)
    hi = lo.copy()
    kept = [k for k in (_net(d, len(values)) for d in deviations) if k[0].size]
    if not kept:
        return lo, hi
    # every deviation at once: a group is one deviation within one connected part
    dev = np.repeat(np.arange(len(kept)), [r.size for r, _ in kept])
    rows = np.concatenate([r for r, _ in kept])
    y = np.concatenate([c for _, c in kept])
    parts = int(table.component.max()) + 1
    keys, group = np.unique(dev * parts + table.component[rows], return_inverse=True)
    v = values[rows]
    bad = np.zeros(keys.size, dtype=bool)
    bad[group[~unknown[rows] | np.isnan(v)]] = True
    # each relation's change under each deviation
    moved = (table.a @ sp.csc_matrix((y, (rows, dev)), shape=(len(values), len(kept)))).tocoo()
    r_hit, d_hit, ay = moved.row.astype(np.int64), moved.col.astype(np.int64), moved.data
    at = np.searchsorted(keys, d_hit * parts + table.rel_component[r_hit])  # a relation moves with its cells
    # rounding is judged on each part's own scale (a large change in another part forgives
    # nothing here), and a step may not carry what rounding forgave past rounding: the
    # table v + a * y keeps every relation within ``tol`` of true, whatever ``a``
    tol = np.ones(keys.size)
    np.maximum.at(tol, group, np.abs(y))
    tol *= 1e-5
    up = np.full(keys.size, np.inf)  # the step along +y, then along -y
    down = np.full(keys.size, np.inf)
    small = (np.abs(ay) > 0) & (np.abs(ay) <= tol[at])
    np.minimum.at(up, at[small], tol[at[small]] / np.abs(ay[small]))
    np.minimum.at(down, at[small], tol[at[small]] / np.abs(ay[small]))
    hit = np.abs(ay) > tol[at]  # beyond rounding
    r_hit, ay, at = r_hit[hit], ay[hit], at[hit]
    bad[at[table.equal[r_hit]]] = True
    neg = y < 0
    np.minimum.at(up, group[neg], np.nan_to_num(v[neg]) / -y[neg])
    np.minimum.at(down, group[~neg], np.nan_to_num(v[~neg]) / y[~neg])
    ub = ~table.equal[r_hit]
    grow = ub & (ay > 0)
    shrink = ub & (ay < 0)
    slack = table.slack(values)
    np.minimum.at(up, at[grow], slack[r_hit[grow]] / ay[grow])
    np.minimum.at(down, at[shrink], slack[r_hit[shrink]] / -ay[shrink])
    ok = ~bad[group]
    a_up, a_down = np.maximum(up, 0.0)[group[ok]], np.maximum(down, 0.0)[group[ok]]
    v, y, neg = v[ok], y[ok], neg[ok]
    # v + a_up * y and v - a_down * y; a step is infinite only where nothing limits it (no cell
    # it lowers, no inequality it tightens), and then every cell it raises is unbounded
    np.maximum.at(hi, rows[ok], v + np.where(neg, a_down * -y, a_up * y))
    np.minimum.at(lo, rows[ok], v - np.where(neg, a_up * -y, a_down * y))
    return lo, hi


# -- secondary suppression that holds ------------------------------------------------------------


@dataclass
class Completion:
    """What :func:`complete` did.

    Attributes:
        added: the cells it suppressed, each with the exposed cell it protects and the
            relation that linked them (or -1).
        result: the last audit of each measure.
        unprotectable: exposed cells no complement can protect (the table is too small).
        seconds: time taken.
        lps: protection LPs solved (the audits count their own).
        deviations: the deviations found (each a feasible change of the suppressed cells), which
            certify cells to later audits of the same table (see :func:`audit`).
        cubes: exposed cells protected by a hypercube (:mod:`cgd_bridge.checks.cubes`), no LP.
    """

    added: dict[int, tuple[int, int]] = field(default_factory=dict)
    result: dict[str, AuditResult] = field(default_factory=dict)
    unprotectable: list[Exposure] = field(default_factory=list)
    seconds: float = 0.0
    protection: float = 0.0
    lps: int = 0
    deviations: list[Deviation] = field(default_factory=list)
    cubes: int = 0

    @property
    def exposed(self) -> list[Exposure]:
        """The exposures left after completion, every measure."""
        return [e for r in self.result.values() for e in r.exposed]


class _Table:
    """The relations of a whole table as one sparse matrix, built once per completion.

    Row ``r`` of ``a`` is relation ``r`` as ``sum(parts) - total``; the true values satisfy
    ``a @ v == 0`` on equalities and ``a @ v <= 0`` on inequalities. ``component`` labels the
    cells linked by relations (a deviation never leaves its component).
    """

    def __init__(self, rel: Relations, n: int) -> None:
        cells = np.concatenate([rel.parts, rel.total])
        rows = np.concatenate([rel.part_relation(), np.arange(rel.n, dtype=np.int64)])
        coef = np.concatenate([np.ones(rel.parts.size), -np.ones(rel.n)])
        self.a = sp.csr_matrix((coef, (rows, cells)), shape=(rel.n, n))
        self.a.sum_duplicates()
        self.a_csc = self.a.tocsc()
        self.equal = np.asarray(rel.equal, dtype=bool)
        # cells x relations bipartite graph: its components
        inc = sp.csr_matrix((np.ones(cells.size), (cells, n + rows)), shape=(n + rel.n, n + rel.n))
        _, label = connected_components(inc, directed=False)
        self.component = label[:n]
        self.rel_component = label[n:]

        self.size = np.bincount(self.component)

    def blocks(self, components: np.ndarray, cells: int) -> list[np.ndarray]:
        """``components`` (sorted) in runs of about ``cells`` cells in all."""
        total = np.cumsum(self.size[components])
        cut = np.flatnonzero(np.diff(total // cells)) + 1
        return np.split(components, cut)

    def reasons(self, cells: list[int], targets: np.ndarray) -> list[tuple[int, int]]:
        """For each cell, a target that shares a relation with it (the one it protects, for the
        report) and that relation; else the first target and -1."""
        if not cells:
            return []
        sub = self.a_csc[:, targets].tocsr()  # relations x targets
        nnz = np.diff(sub.indptr)
        first_target = np.full(sub.shape[0], -1, dtype=np.int64)
        has = nnz > 0
        first_target[has] = targets[sub.indices[sub.indptr[:-1][has]]]
        # each cell's relations (in order); the first one that holds a target
        of = self.a_csc[:, np.asarray(cells, dtype=np.int64)]
        rels = of.indices
        col = np.repeat(np.arange(len(cells)), np.diff(of.indptr))
        pos = np.flatnonzero(first_target[rels] >= 0)
        first = np.full(len(cells), -1, dtype=np.int64)
        taken = np.zeros(len(cells), dtype=bool)
        order = pos[np.unique(col[pos], return_index=True)[1]]  # the first hit of each cell
        first[col[order]] = rels[order]
        taken[col[order]] = True
        link = np.where(taken, first, -1)
        target = np.where(taken, first_target[np.maximum(first, 0)], targets[0])
        return list(zip(target.tolist(), link.tolist(), strict=True))

    def slack(self, values: np.ndarray) -> np.ndarray:
        """How far each relation is from binding: ``total - sum(parts)`` (>= 0)."""
        return np.maximum(-(self.a @ np.nan_to_num(values)), 0.0)

    def around(self, seeds: np.ndarray, depth: int) -> np.ndarray:
        """The cells within ``depth`` relations of ``seeds`` (sorted)."""
        mask = np.zeros(self.a.shape[1], dtype=bool)
        mask[seeds] = True
        frontier = seeds
        for _ in range(depth):
            rels = np.unique(self.a_csc[:, frontier].indices)
            reach = np.unique(self.a[rels].indices)
            frontier = reach[~mask[reach]]
            if frontier.size == 0:
                break
            mask[frontier] = True
        return np.flatnonzero(mask)


class _Later:
    """A :class:`_Table` built at the first call: the whole table's relations as sparse matrices
    (scipy), which a table with nothing suppressed, having nothing to audit or protect, never
    needs (the bundled examples: no scipy import, about 0.2 s of CPU)."""

    def __init__(self, rel: Relations, n: int) -> None:
        self.rel, self.n = rel, n
        self.built: _Table | None = None

    def __call__(self) -> _Table:
        if self.built is None:
            self.built = _Table(self.rel, self.n)
        return self.built


def complete(
    rel: Relations,
    measures: dict[str, np.ndarray],
    suppressed: np.ndarray,
    protection: float,
    *,
    cost: np.ndarray,
    eligible: np.ndarray,
    rounds: int = 8,
    max_lps: int = MAX_LPS,
    deviations: Sequence[Deviation] = (),
    grid: hypercube.Grid | None = None,
) -> Completion:
    """Add complements until every suppressed cell is protected in every measure (in place on
    ``suppressed``).

    The audit finds the exposed cells; for each connected part of the table, one LP then finds
    a single deviation that moves *all* of its exposed cells up by the protection range at once
    (the cheapest, cost = cell size), and every cell it changes is suppressed. That deviation is
    a feasible table, so every cell it moves by the protection range or more is proven protected
    without another audit; complements it moves by less are the next round's targets. Only a
    part whose joint LP has no solution falls back to one LP per cell (moving it up, or down, or
    both). The audit then runs again as the final word.

    Args:
        rel: the relations (equalities decided from the true values).
        measures: the true values of each additive measure (all share the suppression).
        suppressed: primary (and any secondary) suppression; complements are added.
        protection: the interval width every suppressed cell must reach.
        cost: the information lost by suppressing each cell (its size).
        eligible: the cells that may be suppressed as complements (not zero, not unknown).
        rounds: audit-and-protect rounds at most.
        deviations: deviations found earlier for this table (e.g. by the completion of the
            source table's cells), checked by each audit before they certify anything.
        grid: the table's cells by their codes (:class:`~cgd_bridge.checks.cubes.Grid`): an
            exposed cell is then first protected by the cheapest hypercube around it, checked
            as any deviation is (:func:`certified_spans`), and only the cells no cube protects
            take the deviation LPs. None: the LPs alone.

    Each audit gets the deviations found so far, so the cells they already move by the
    protection range take no LP (the audit checks them first), and a measure is audited again
    only when the suppression changed since its last audit.
    """
    started = time.perf_counter()
    out = Completion(protection=protection)
    if rel.n == 0:
        for name, values in measures.items():
            out.result[name] = audit(rel, values, suppressed, protection, truth=True, measure=name)
        out.seconds = time.perf_counter() - started
        return out
    table = _Later(rel, len(suppressed))
    given = list(deviations)
    given_up: set[tuple[str, int]] = set()
    audited_at: dict[str, int] = {}  # suppressed cells when each measure was last audited

    def audit_again(name: str, values: np.ndarray) -> AuditResult:
        count = int(suppressed.sum())  # the suppression only grows here
        if audited_at.get(name) == count:
            return out.result[name]  # nothing changed since: the same audit
        audited_at[name] = count
        return audit(
            rel, values, suppressed, protection, truth=True, measure=name, max_lps=max_lps,
            deviations=[*given, *out.deviations], table=table() if count else None,
        )  # fmt: skip

    final = False
    for _ in range(rounds):
        changed = False
        for name, values in measures.items():
            result = audit_again(name, values)
            out.result[name] = result
            todo = [e for e in result.exposed if (name, e.row) not in given_up]
            if todo:
                changed |= _protect(
                    table(), values, suppressed, todo, protection, cost, eligible, out, name, rounds, grid
                )
                given_up.update((name, e.row) for e in out.unprotectable)
        if not changed:
            final = True
            break
    if not final:
        for name, values in measures.items():  # the final word
            out.result[name] = audit_again(name, values)
    out.unprotectable = [e for e in out.unprotectable if any(x.row == e.row for x in out.exposed)]
    out.seconds = time.perf_counter() - started
    return out


def _protect(
    table: _Table,
    values: np.ndarray,
    suppressed: np.ndarray,
    exposed: list[Exposure],
    protection: float,
    cost: np.ndarray,
    eligible: np.ndarray,
    out: Completion,
    name: str,
    rounds: int,
    grid: hypercube.Grid | None = None,
) -> bool:
    """Suppress complements until every exposed cell, and every complement added for it, is
    moved by the protection range in some deviation (in place); True if anything was added.
    With a ``grid``, the hypercubes first (:func:`_cubes`), the deviation LPs for the rest."""
    slack = table.slack(values)
    usable = eligible & ~np.isnan(values)
    targets = np.asarray(sorted({e.row for e in exposed}), dtype=np.int64)
    proven = np.zeros(len(suppressed), dtype=bool)
    changed = False
    moved = np.zeros(len(suppressed))  # how far a deviation of this round moves each cell
    for _ in range(rounds):
        if targets.size == 0:
            break
        moved[:] = 0.0
        rest = targets
        if grid is not None:
            rest, added = _cubes(
                grid, table, values, suppressed, targets, protection, cost, usable, out, moved
            )
            changed |= added
        groups = np.unique(table.component[rest])
        # the deviation LP is block-diagonal and its cost separable: one LP over every part
        # finds each part's cheapest deviation at once; only when it has none (some part cannot
        # move its targets together) is each part solved on its own
        alone = (
            _blocks(table, values, slack, suppressed, rest, groups, protection, cost, usable, out, moved)
            if rest.size
            else []
        )
        for comp in alone:
            group = rest[table.component[rest] == comp]
            found = _joint(table, values, slack, suppressed, group, protection, cost, usable, out)
            if found is not None:
                np.maximum.at(moved, found.rows, np.abs(found.change))
            else:  # some cell cannot go up with the others: one at a time
                for t in group.tolist():
                    one = _cover(table, values, slack, suppressed, t, protection, cost, usable, out)
                    if one is None:
                        out.unprotectable.append(
                            next(
                                (e for e in exposed if e.row == t), Exposure(t, np.nan, np.nan, measure=name)
                            )
                        )
                        continue
                    for c, d in one.items():
                        moved[c] = max(moved[c], d)
        hit = np.flatnonzero(moved > 0)
        fresh = hit[~suppressed[hit]]
        for c, why in zip(fresh.tolist(), table.reasons(fresh.tolist(), targets), strict=True):
            out.added.setdefault(c, why)
        suppressed[fresh] = True
        changed |= bool(fresh.size)
        proven[hit] |= moved[hit] >= protection - EPS  # the deviation is a table: c can move by d
        proven[targets] = True
        targets = fresh[~proven[fresh]]
    return changed


def _cubes(
    grid: hypercube.Grid,
    table: _Table,
    values: np.ndarray,
    suppressed: np.ndarray,
    targets: np.ndarray,
    protection: float,
    cost: np.ndarray,
    usable: np.ndarray,
    out: Completion,
    moved: np.ndarray,
) -> tuple[np.ndarray, bool]:
    """Protect what hypercubes can (:func:`cgd_bridge.checks.cubes.choose`), without an LP.

    The cubes chosen are checked as the audit checks any deviation (:func:`certified_spans`,
    with their corners as unknowns): only a cube that proves its target's interval at least the
    protection range wide is kept, its corners suppressed (each is moved as far as the target)
    and its deviation kept for the audits. Returns the targets left for the LPs, and whether a
    cell was suppressed."""
    can = (usable | suppressed) & ~np.isnan(values)
    found = hypercube.choose(grid, values, suppressed, targets, protection, cost, can, table.component)
    if not found:
        return targets, False
    unknown = suppressed | np.isnan(values)
    unknown[np.concatenate([c.rows for c in found])] = True
    # each layer holds one cube per part, so a cube's own deviation alone moves its cells there:
    # a cube is kept only when it proves its own target (not when another cube happens to)
    kept: list[hypercube.Cube] = []
    span = np.zeros(len(values))
    for layer, members in _layers(found, table.component, protection):
        lo, hi = certified_spans(table, values, unknown, [layer])
        width = hi - lo
        good = width[np.asarray([c.target for c in members], dtype=np.int64)] >= protection - EPS
        these = [c for c, g in zip(members, good.tolist(), strict=True) if g]
        if these:
            rows = np.concatenate([c.rows for c in these])
            np.maximum.at(span, rows, width[rows])
            kept += these
    if not kept:
        return targets, False
    corners = np.unique(np.concatenate([c.rows for c in kept]))
    np.maximum.at(moved, corners, span[corners])
    fresh = corners[~suppressed[corners]]
    done = np.asarray([c.target for c in kept], dtype=np.int64)
    for c, why in zip(fresh.tolist(), table.reasons(fresh.tolist(), done), strict=True):
        out.added.setdefault(c, why)
    suppressed[fresh] = True
    out.deviations.extend(layer for layer, _ in _layers(kept, table.component, protection))
    out.cubes += len(kept)
    proven = np.zeros(len(suppressed), dtype=bool)
    proven[corners] = span[corners] >= protection - EPS
    return targets[~proven[targets]], bool(fresh.size)


def _layers(
    cubes: list[hypercube.Cube], component: np.ndarray, protection: float
) -> list[tuple[Deviation, list[hypercube.Cube]]]:
    """The cubes as few deviations, each with its cubes: cubes in different connected parts of
    the table share one (a part's relations hold its cells alone, and :func:`certified_spans`
    judges a deviation part by part, so their sum proves exactly what each proves), cubes in
    one part each their own; one deviation per cube would cost the audits a Python step each."""
    comp = component[np.asarray([c.target for c in cubes], dtype=np.int64)]
    order = np.argsort(comp, kind="stable")
    ranked = comp[order]
    start = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1]
    layer = np.empty(len(cubes), dtype=np.int64)
    layer[order] = np.arange(len(cubes)) - np.repeat(start, np.diff(np.r_[start, len(cubes)]))
    out = []
    for at in range(int(layer.max()) + 1):
        these = [c for c, lay in zip(cubes, layer.tolist(), strict=True) if lay == at]
        rows = np.concatenate([c.rows for c in these])
        change = np.concatenate([c.signs * protection for c in these]).astype(np.float64)
        out.append((Deviation(rows, change), these))
    return out


def _blocks(
    table: _Table,
    values: np.ndarray,
    slack: np.ndarray,
    suppressed: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    protection: float,
    cost: np.ndarray,
    usable: np.ndarray,
    out: Completion,
    moved: np.ndarray,
) -> list[int]:
    """One deviation per block of parts (see :meth:`_Table.blocks`), each cell's |change| kept
    in ``moved``; the parts whose block had none (each is then solved on its own)."""
    if groups.size <= 1:
        return groups.tolist()
    alone: list[int] = []
    for block in table.blocks(groups, DEVIATION_CELLS):
        these = targets[np.isin(table.component[targets], block)]
        found = _joint(table, values, slack, suppressed, these, protection, cost, usable, out, whole=False)
        if found is None:
            alone.extend(block.tolist())
        else:
            np.maximum.at(moved, found.rows, np.abs(found.change))
    return alone


def _joint(
    table: _Table,
    values: np.ndarray,
    slack: np.ndarray,
    suppressed: np.ndarray,
    targets: np.ndarray,
    protection: float,
    cost: np.ndarray,
    usable: np.ndarray,
    out: Completion,
    *,
    whole: bool = True,
) -> Deviation | None:
    """One deviation moving every target up by the protection range, among the cells within a
    few relations of them and else (``whole``; the targets of one component) the whole
    component (kept in ``out``)."""
    near = table.around(targets, 3)
    every = np.flatnonzero(table.component == table.component[targets[0]]) if whole else near
    up = np.full(targets.size, protection)
    none = np.zeros(0, np.int64)
    for cells in (near, every) if near.size < every.size else (every,):
        out.lps += 1
        found = _deviation(table, values, slack, suppressed, cells, targets, up, none, up[:0], cost, usable)
        if found is not None:
            out.deviations.append(found)
            return found
    return None


def _cover(
    table: _Table,
    values: np.ndarray,
    slack: np.ndarray,
    suppressed: np.ndarray,
    row: int,
    protection: float,
    cost: np.ndarray,
    usable: np.ndarray,
    out: Completion,
) -> dict[int, float] | None:
    """The cheapest deviations that widen ``row``'s interval to the protection range: up by it,
    down by it, or (when neither alone can) down by what the cell has and up by the rest;
    {cell: |change|}, or None."""
    v = float(values[row])
    cells = np.flatnonzero(table.component == table.component[row])
    none = np.zeros(0, np.int64)
    at = np.asarray([row], dtype=np.int64)

    def move(amount: float) -> dict[int, float] | None:
        out.lps += 1
        by, still = np.asarray([abs(amount)]), np.zeros(0)
        up, down = (at, none) if amount >= 0 else (none, at)
        return _moved(_deviation(
            table, values, slack, suppressed, cells,
            up_rows=up, up_by=by if amount >= 0 else still,
            down_rows=down, down_by=still if amount >= 0 else by,
            cost=cost, usable=usable,
        ), out)  # fmt: skip

    for amount in (protection, -protection):
        if amount < 0 and v < protection - EPS:
            continue
        found = move(amount)
        if found is not None:
            return found
    if v <= EPS:
        return None
    down = move(-min(v, protection))
    up = move(protection - v) if protection - v > EPS else {}
    if down is None or up is None:
        return None
    both = dict(down)  # c's interval holds v + its change in each: as wide as the larger
    for c, d in up.items():
        both[c] = max(both.get(c, 0.0), d)
    both[row] = protection  # the interval spans both moves
    return both


def _deviation(
    table: _Table,
    values: np.ndarray,
    slack: np.ndarray,
    suppressed: np.ndarray,
    cells: np.ndarray,
    up_rows: np.ndarray,
    up_by: np.ndarray,
    down_rows: np.ndarray,
    down_by: np.ndarray,
    cost: np.ndarray,
    usable: np.ndarray,
) -> Deviation | None:
    """A cheapest change y of the cells (y = y_plus - y_minus) that keeps every relation true
    and every cell non-negative, changes no cell outside ``cells`` or not ``usable`` (nor a
    published zero), and moves each of ``up_rows`` up and each of ``down_rows`` down by at least
    the amounts given: the cells it changes and their changes, or None when there is none.

    The cost of changing a published cell is its size per unit of the protection range, plus
    one (fewer cells), and almost nothing for a cell already suppressed."""
    m = cells.size
    sub = table.a_csc[:, cells]
    rows = np.unique(sub.indices)
    sub = sub.tocsr()[rows]
    eq = table.equal[rows]
    v = np.nan_to_num(values[cells])
    can = usable[cells] | suppressed[cells]
    can &= ~np.isnan(values[cells])
    hi = np.concatenate([np.where(can, np.inf, 0.0), np.where(can, np.maximum(v, 0.0), 0.0)])
    lo = np.zeros(2 * m)
    local_up = np.searchsorted(cells, up_rows)
    local_down = np.searchsorted(cells, down_rows)
    lo[local_up], hi[m + local_up], hi[local_up] = up_by, 0.0, np.inf
    lo[m + local_down], hi[local_down] = down_by, 0.0
    if (lo > hi).any():
        return None  # a target cannot go down that far
    scale = float(max(np.max(up_by, initial=0.0), np.max(down_by, initial=0.0), 1.0))
    # a token price for suppressed cells: the LP is then far less degenerate (10x faster on
    # 10,000 cells) and still prefers them to any published cell (price >= 1)
    price = np.where(suppressed[cells], 0.01, cost[cells] / scale + 1.0)
    price[local_up] = price[local_down] = 0.0
    side = sub.tocsc()
    x = _lp(
        np.concatenate([price, price]),
        sp.hstack([side, -side], format="csc"),
        np.where(eq, 0.0, -np.inf),
        np.where(eq, 0.0, slack[rows]),
        lo,
        hi,
    )
    if x is None:
        return None
    y = x[:m] - x[m:]
    hit = np.flatnonzero(np.abs(y) > EPS)
    return Deviation(cells[hit], y[hit])


def _lp(
    cost: np.ndarray,
    a: sp.csc_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
) -> np.ndarray | None:
    """``min cost @ x`` subject to ``row_lo <= a @ x <= row_hi`` and ``col_lo <= x <= col_hi``
    (every row an equality or a ``<=``): x, or None when there is no optimum.

    HiGHS through its bindings (highspy), handed the arrays as they are, with presolve off: the
    deviation LPs are many small independent parts, which presolve only slows (1.1 s instead of
    2.0 s for the 11 LPs of the 200,925-row Kenya file). Without the bindings, ``linprog``."""
    highs = _highs_core()
    if highs is None:  # pragma: no cover - older scipy
        eq = row_lo == row_hi
        rows = a.tocsr()
        res = linprog(
            cost,
            A_ub=rows[~eq] if (~eq).any() else None, b_ub=row_hi[~eq] if (~eq).any() else None,
            A_eq=rows[eq] if eq.any() else None, b_eq=row_hi[eq] if eq.any() else None,
            bounds=np.column_stack([col_lo, col_hi]), method="highs", options={"presolve": False},
        )  # fmt: skip
        return None if res.status != 0 else np.asarray(res.x)
    h = highs._Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    n_row, n_col = a.shape
    h.passModel(
        n_col, n_row, a.nnz, int(highs.MatrixFormat.kColwise), int(highs.ObjSense.kMinimize), 0.0,
        np.ascontiguousarray(cost, np.float64), np.ascontiguousarray(col_lo, np.float64),
        np.ascontiguousarray(col_hi, np.float64), np.ascontiguousarray(row_lo, np.float64),
        np.ascontiguousarray(row_hi, np.float64), a.indptr.astype(np.int32), a.indices.astype(np.int32),
        a.data.astype(np.float64), np.zeros(n_col, np.int32),  # every column continuous
    )  # fmt: skip
    h.run()
    if h.getModelStatus() != highs.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().col_value, dtype=np.float64)


def _moved(found: Deviation | None, out: Completion) -> dict[int, float] | None:
    """{cell: |change|} of a deviation found (kept in ``out`` for the audits), or None."""
    if found is None:
        return None
    out.deviations.append(found)
    return dict(zip(found.rows.tolist(), np.abs(found.change).tolist(), strict=True))


def describe_exposure(
    e: Exposure, rel: Relations, describe_row: Callable[[int], str], protection: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Plain words for an exposure, and its relations in plain words, as composed messages
    (:func:`cgd_bridge.i18n.msg`: translated where the report is shown)."""
    from cgd_bridge.i18n import N_, msg, num

    low = num(float(e.low))
    how = (
        msg(N_("a reader can work it out exactly: {low}"), low=low)
        if e.width < EPS
        else msg(N_("a reader can narrow it down to {low} .. {high}"), low=low, high=num(float(e.high)))
        if not np.isinf(e.high)
        else msg(N_("a reader can narrow it down to {low} .. no upper bound"), low=low)
    )
    relations = [rel.sentence(r, describe_row) for r in e.relations[:3]]
    text = msg(
        N_("{how} (narrower than the protection range of {protection})"), how=how, protection=num(protection)
    )
    return text, relations


def ineligible_zero(measures: Sequence[np.ndarray]) -> np.ndarray:
    """The cells that may never be a complement: zero in every measure, or unknown."""
    stacked = np.column_stack([np.asarray(m, dtype=np.float64) for m in measures])
    return np.asarray(np.isnan(stacked).any(axis=1) | (np.nan_to_num(stacked) <= 0).all(axis=1))
