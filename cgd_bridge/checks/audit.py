"""The disclosure audit, and the secondary suppression it drives.

**The audit** plays the attacker. It takes a table as a reader has it: the published values are
known, the suppressed cells are unknowns, every cell is a count (never negative), and every
additive relation (:mod:`cgd_bridge.checks.relations`) holds. For each suppressed cell it
solves two linear programmes (HiGHS through ``scipy.optimize.linprog``): the smallest and the
largest value the cell can take. That *feasible interval* is everything the published table
gives away about the cell. The protection rule: the interval must be at least ``protection``
wide (the disclosure threshold k by default), so a reader can never tell a cell of 1 from a cell
of 0 or of k, and can never pin a cell to one value. A cell whose interval is narrower is
*exposed*; the audit names it, its interval and the relations that bound it (those whose dual
value in the LP is not zero).

To stay fast it solves per connected component of unknowns (unknowns linked by a relation), and
first finds two or three feasible tables per component (the true one when known, and the
tables that make the component's cells as large and as small as possible): a cell whose values
in those already differ by the protection range needs no LP of its own.

**Secondary suppression that holds** (:func:`complete`), in the style of the optimal methods of
tau-Argus and sdcTable (Fischetti and Salazar's attacker sub-problem): for each exposed cell p,
one LP finds a *deviation* of the table: changes y to the cells that keep every relation true,
keep every cell non-negative, leave every published cell as it is except those it suppresses,
and move p by the protection range. Its cost is the information lost: zero for cells already
suppressed, the cell's size (its count) for the others, so the cheapest complement is the
smallest cell that really protects. Cells whose value is zero (or unknown) are never used: a
zero gives no cover (a reader may know it is empty) and cannot go down. A cell the LP uses is
suppressed, and since the deviation is a feasible table, p's interval then spans at least the
protection range: the complement is never one whose value is implied elsewhere. Then the audit
runs again, until it passes or nothing can be added.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from cgd_bridge.checks.relations import Relations

log = logging.getLogger(__name__)

EPS = 1e-6
MAX_LPS = 20_000  # LPs one audit solves at most; beyond, the rest is reported as not audited
MAX_NEIGHBOURHOOD = 4_000  # cells in one protection LP


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
class AuditResult:
    """What one audit found.

    Attributes:
        exposed: the cells narrower than the protection range.
        audited: suppressed cells audited.
        not_audited: suppressed cells left out (the LP budget ran out).
        inconsistent: suppressed cells whose component's published values contradict the
            relations (the equalities were relaxed to inequalities for them).
        lps: linear programmes solved.
    """

    exposed: list[Exposure] = field(default_factory=list)
    audited: int = 0
    not_audited: int = 0
    inconsistent: int = 0
    lps: int = 0

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
    """
    values = np.asarray(values, dtype=np.float64)
    unknown = suppressed | np.isnan(values)
    result = AuditResult()
    targets = np.flatnonzero(suppressed)
    if targets.size == 0 or rel.n == 0:
        result.audited = int(targets.size)
        return result
    budget = _Budget(max_lps)
    for comp in _components(rel, values, unknown):
        todo = np.flatnonzero(suppressed[comp.cells])
        if todo.size == 0:
            continue
        true = values[comp.cells] if truth else None
        if true is not None and np.isnan(true).any():
            true = None
        exposures, inconsistent, left = _audit_component(comp, todo, true, protection, budget)
        for e in exposures:
            e.measure = measure
        result.exposed.extend(exposures)
        result.inconsistent += inconsistent
        result.not_audited += left
        result.audited += int(todo.size) - left
    # suppressed cells in no relation with another unknown are handled by _components
    result.lps = budget.used
    result.exposed.sort(key=lambda e: e.row)
    return result


def _components(rel: Relations, values: np.ndarray, unknown: np.ndarray) -> list[_Component]:
    """The relations restricted to the unknowns, split into connected components.

    Each relation becomes ``sum(parts) - total (= or <=) 0``; the known cells move to the right
    hand side. A suppressed cell in no relation is its own component, with no constraint.
    """
    n = len(values)
    rows_r = rel.part_relation()
    ent_rel = np.concatenate([rows_r, np.arange(rel.n, dtype=np.int64)])
    ent_cell = np.concatenate([rel.parts, rel.total])
    ent_coef = np.concatenate([np.ones(len(rel.parts)), -np.ones(rel.n)])
    is_unknown = unknown[ent_cell]
    known_val = np.where(is_unknown, 0.0, np.nan_to_num(values[ent_cell]))
    rhs = -np.bincount(ent_rel, weights=ent_coef * known_val, minlength=rel.n)
    u_rel, u_cell, u_coef = ent_rel[is_unknown], ent_cell[is_unknown], ent_coef[is_unknown]
    unknown_rows = np.flatnonzero(unknown)
    col_of = np.full(n, -1, dtype=np.int64)
    col_of[unknown_rows] = np.arange(unknown_rows.size)
    k = unknown_rows.size
    # bipartite graph: unknown cells (0..k-1) and relations with an unknown (k..)
    active = np.unique(u_rel)
    rel_node = np.full(rel.n, -1, dtype=np.int64)
    rel_node[active] = k + np.arange(active.size)
    size = k + active.size
    graph = sp.coo_matrix(
        (np.ones(u_rel.size), (col_of[u_cell], rel_node[u_rel])), shape=(size, size)
    ).tocsr()
    _, label = connected_components(graph, directed=False)
    cell_label = label[:k]
    rel_label = label[k:]
    order_cells = np.argsort(cell_label, kind="stable")
    order_rels = np.argsort(rel_label, kind="stable")
    cell_bounds = np.searchsorted(cell_label[order_cells], np.arange(label.max() + 2))
    rel_bounds = np.searchsorted(rel_label[order_rels], np.arange(label.max() + 2))
    # entries grouped by relation for quick slicing
    ent_order = np.argsort(u_rel, kind="stable")
    u_rel_s, u_cell_s, u_coef_s = u_rel[ent_order], u_cell[ent_order], u_coef[ent_order]
    rel_start = np.searchsorted(u_rel_s, np.arange(rel.n + 1))
    out = []
    for c in range(label.max() + 1):
        cells_idx = order_cells[cell_bounds[c] : cell_bounds[c + 1]]
        if cells_idx.size == 0:
            continue
        cells = unknown_rows[cells_idx]
        rels = active[order_rels[rel_bounds[c] : rel_bounds[c + 1]]]
        local = {int(r): i for i, r in enumerate(cells)}
        eq_rows: list[int] = []
        ub_rows: list[int] = []
        for r in rels.tolist():
            (eq_rows if rel.equal[r] else ub_rows).append(r)
        entries = (rel_start, u_cell_s, u_coef_s, rhs, local, cells.size)
        a_eq, b_eq = _matrix(eq_rows, *entries)
        a_ub, b_ub = _matrix(ub_rows, *entries)
        out.append(
            _Component(
                cells, a_eq, b_eq, a_ub, b_ub, np.asarray(eq_rows, np.int64), np.asarray(ub_rows, np.int64)
            )
        )
    return out


def _matrix(
    rs: list[int],
    rel_start: np.ndarray,
    cell_of: np.ndarray,
    coef_of: np.ndarray,
    rhs: np.ndarray,
    local: dict[int, int],
    width: int,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The rows ``rs`` of the relations over a component's unknowns, and their right-hand sides."""
    ri: list[int] = []
    ci: list[int] = []
    vi: list[float] = []
    for i, r in enumerate(rs):
        s, e = rel_start[r], rel_start[r + 1]
        ri.extend([i] * int(e - s))
        ci.extend(local[int(x)] for x in cell_of[s:e])
        vi.extend(coef_of[s:e].tolist())
    m = sp.csr_matrix((vi, (ri, ci)), shape=(len(rs), width))
    return m, rhs[np.asarray(rs, dtype=np.int64)] if rs else np.zeros(0)


def _solve(
    comp: _Component, c: np.ndarray, upper: float | np.ndarray | None, *, relax: bool = False
) -> tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One LP over a component: status ('ok', 'unbounded', 'infeasible'), x, and the duals."""
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


def _audit_component(
    comp: _Component,
    todo: np.ndarray,
    true: np.ndarray | None,
    protection: float,
    budget: _Budget,
) -> tuple[list[Exposure], int, int]:
    """The exposures among ``todo`` (local indices); the cells made inconsistent; those left."""
    if comp.a_eq.shape[0] == 0 and comp.a_ub.shape[0] == 0:
        return [], 0, 0  # no relation reaches the cell: nothing bounds it
    found = _certificates(comp, true, protection, budget)
    if found is None:
        return [], int(todo.size), 0
    lo, hi, relax = found
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
    comp: _Component, true: np.ndarray | None, protection: float, budget: _Budget
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
        if status == "infeasible" and not relax and true is None:
            relax = True
            status, x, _, _ = _solve(comp, np.full(n, sign), cap, relax=True)
        if status == "infeasible":
            return None
        if x is not None:
            lo, hi = np.minimum(lo, x), np.maximum(hi, x)
    return lo, hi, relax


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
    """

    added: dict[int, tuple[int, int]] = field(default_factory=dict)
    result: dict[str, AuditResult] = field(default_factory=dict)
    unprotectable: list[Exposure] = field(default_factory=list)
    seconds: float = 0.0
    protection: float = 0.0

    @property
    def exposed(self) -> list[Exposure]:
        """The exposures left after completion, every measure."""
        return [e for r in self.result.values() for e in r.exposed]


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
) -> Completion:
    """Add complements until every suppressed cell is protected in every measure (in place on
    ``suppressed``).

    Args:
        rel: the relations (equalities decided from the true values).
        measures: the true values of each additive measure (all share the suppression).
        suppressed: primary (and any secondary) suppression; complements are added.
        protection: the interval width every suppressed cell must reach.
        cost: the information lost by suppressing each cell (its size).
        eligible: the cells that may be suppressed as complements (not zero, not unknown).
        rounds: audit-and-protect rounds at most.
    """
    started = time.perf_counter()
    out = Completion(protection=protection)
    adjacency = _adjacency(rel, len(suppressed))
    given_up: set[tuple[str, int]] = set()
    for _ in range(rounds):
        changed = False
        for name, values in measures.items():
            result = audit(rel, values, suppressed, protection, truth=True, measure=name, max_lps=max_lps)
            out.result[name] = result
            for e in result.exposed:
                if (name, e.row) in given_up:
                    continue
                if _width_ok(rel, values, suppressed, e.row, protection, adjacency):
                    continue  # already covered by a complement added this round
                picked = _protect_cell(rel, values, suppressed, e.row, protection, cost, eligible, adjacency)
                if picked is None:
                    given_up.add((name, e.row))
                    out.unprotectable.append(e)
                    continue
                link = e.relations[0] if e.relations else -1
                for i in picked:
                    suppressed[i] = True
                    out.added.setdefault(int(i), (e.row, link))
                changed |= bool(picked)
        if not changed:
            break
    for name, values in measures.items():  # the final word
        out.result[name] = audit(
            rel, values, suppressed, protection, truth=True, measure=name, max_lps=max_lps
        )
    out.unprotectable = [e for e in out.unprotectable if any(x.row == e.row for x in out.exposed)]
    out.seconds = time.perf_counter() - started
    return out


def _width_ok(
    rel: Relations,
    values: np.ndarray,
    suppressed: np.ndarray,
    row: int,
    protection: float,
    adjacency: sp.csr_matrix,
) -> bool:
    """Whether ``row`` can already move by the protection range (an LP on suppressed cells only)."""
    cells = _neighbourhood(row, adjacency, suppressed, depth=2)
    y = _cover(rel, values, suppressed, row, protection, cells, np.zeros(len(values)), suppressed)
    return y is not None


def _cover(
    rel: Relations,
    values: np.ndarray,
    suppressed: np.ndarray,
    row: int,
    protection: float,
    cells: np.ndarray,
    cost: np.ndarray,
    usable: np.ndarray,
) -> np.ndarray | None:
    """The cheapest deviations that widen ``row``'s interval to the protection range: up by it,
    down by it, or (when neither alone can) down by what the cell has and up by the rest; the
    cells each changes (their absolute change), or None."""
    best: tuple[float, np.ndarray] | None = None
    v = float(values[row])
    for move in (protection, -protection):
        if move < 0 and v < protection - EPS:
            continue
        found = _deviation(rel, values, suppressed, row, move, cells, cost, usable)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    if best is None and v > EPS:
        down = _deviation(rel, values, suppressed, row, -min(v, protection), cells, cost, usable)
        up = (
            _deviation(rel, values, suppressed, row, protection - v, cells, cost, usable)
            if protection - v > EPS
            else (0.0, np.zeros(cells.size))
        )
        if down is not None and up is not None:
            best = (down[0] + up[0], np.abs(down[1]) + np.abs(up[1]))
    return None if best is None else np.abs(best[1])


def _adjacency(rel: Relations, n: int) -> sp.csr_matrix:
    """Cell -> relation incidence (cells x relations)."""
    rows = np.concatenate([rel.parts, rel.total])
    cols = np.concatenate([rel.part_relation(), np.arange(rel.n, dtype=np.int64)])
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, max(rel.n, 1)))


def _neighbourhood(row: int, adjacency: sp.csr_matrix, suppressed: np.ndarray, depth: int) -> np.ndarray:
    """The cells within ``depth`` relations of ``row``, and the suppressed cells linked to them."""
    inc_t = adjacency.T.tocsr()
    frontier = np.array([row])
    seen = {row}
    for _ in range(depth):
        rels = np.unique(adjacency[frontier].indices)
        cells = np.unique(inc_t[rels].indices)
        new = [c for c in cells.tolist() if c not in seen]
        if not new:
            break
        seen.update(new)
        if len(seen) > MAX_NEIGHBOURHOOD:
            break
        frontier = np.asarray(new)
    return np.asarray(sorted(seen), dtype=np.int64)


def _protect_cell(
    rel: Relations,
    values: np.ndarray,
    suppressed: np.ndarray,
    row: int,
    protection: float,
    cost: np.ndarray,
    eligible: np.ndarray,
    adjacency: sp.csr_matrix,
) -> list[int] | None:
    """The cheapest cells to suppress so that ``row`` can move by the protection range."""
    usable = suppressed | eligible
    for depth in (2, 3, 4, 6):
        cells = _neighbourhood(row, adjacency, suppressed, depth)
        y = _cover(rel, values, suppressed, row, protection, cells, cost, usable)
        if y is not None:
            return [
                int(c)
                for c, d in zip(cells.tolist(), y.tolist(), strict=True)
                if d > EPS and not suppressed[c]
            ]
        if cells.size >= len(values) or cells.size > MAX_NEIGHBOURHOOD:
            break
    return None


def _deviation(
    rel: Relations,
    values: np.ndarray,
    suppressed: np.ndarray,
    row: int,
    move: float,
    cells: np.ndarray,
    cost: np.ndarray,
    usable: np.ndarray,
) -> tuple[float, np.ndarray] | None:
    """A cheapest change y of the cells (y = y_plus - y_minus) that keeps every relation touching
    them true and every cell non-negative, changes no cell outside ``cells`` or not ``usable``,
    and moves ``row`` by ``move``; None when there is none."""
    m = cells.size
    local = np.full(len(values), -1, dtype=np.int64)
    local[cells] = np.arange(m)
    rels = np.unique(_adjacency_rows(rel, cells))
    ub_slack: list[float] = []
    n_eq = n_ub = 0
    eq_r: list[int] = []
    ub_r: list[int] = []
    eq_c: list[int] = []
    ub_c: list[int] = []
    eq_v: list[float] = []
    ub_v: list[float] = []
    for r in rels.tolist():
        t, parts = rel.members(r)
        members = [(int(p), 1.0) for p in parts.tolist()] + [(t, -1.0)]
        inside = [(local[p], s) for p, s in members if local[p] >= 0]
        if not inside:
            continue
        if rel.equal[r]:
            for j, s in inside:
                eq_r.append(n_eq)
                eq_c.append(j)
                eq_v.append(s)
            n_eq += 1
        else:
            slack = float(np.nan_to_num(values[t]) - np.nansum(values[parts]))
            for j, s in inside:
                ub_r.append(n_ub)
                ub_c.append(j)
                ub_v.append(s)
            ub_slack.append(max(slack, 0.0))
            n_ub += 1
    # variables: y_plus (m), y_minus (m)
    a_eq = sp.csr_matrix((eq_v, (eq_r, eq_c)), shape=(n_eq, m))
    a_ub = sp.csr_matrix((ub_v, (ub_r, ub_c)), shape=(n_ub, m))
    a_eq2 = sp.hstack([a_eq, -a_eq]).tocsr()
    a_ub2 = sp.hstack([a_ub, -a_ub]).tocsr()
    # the moved cell: y_plus - y_minus = move
    target = sp.csr_matrix(([1.0, -1.0], ([0, 0], [local[row], m + local[row]])), shape=(1, 2 * m))
    a_eq2 = sp.vstack([a_eq2, target]).tocsr()
    b_eq = np.r_[np.zeros(n_eq), move]
    v = np.nan_to_num(values[cells])
    can = usable[cells] & ~np.isnan(values[cells])
    can[local[row]] = True
    up_bound = np.where(can, np.inf, 0.0)
    down_bound = np.where(can, np.maximum(v, 0.0), 0.0)
    price = np.where(suppressed[cells], 0.0, cost[cells] / max(abs(move), 1.0) + 1.0)
    price[local[row]] = 0.0
    c = np.r_[price, price]
    bounds = [(0.0, None if np.isinf(u) else float(u)) for u in up_bound] + [
        (0.0, float(d)) for d in down_bound
    ]
    res = linprog(
        c, A_ub=a_ub2 if n_ub else None, b_ub=np.asarray(ub_slack) if n_ub else None,
        A_eq=a_eq2, b_eq=b_eq, bounds=bounds, method="highs",
    )  # fmt: skip
    if res.status != 0:
        return None
    return float(res.fun), np.asarray(res.x[:m] - res.x[m:])


def _adjacency_rows(rel: Relations, cells: np.ndarray) -> np.ndarray:
    rel_of_part = rel.part_relation()
    mask_parts = np.isin(rel.parts, cells)
    mask_total = np.isin(rel.total, cells)
    return np.concatenate([rel_of_part[mask_parts], np.flatnonzero(mask_total)])


def describe_exposure(
    e: Exposure, rel: Relations, describe_row: Callable[[int], str], protection: float
) -> tuple[str, list[str]]:
    """Plain words for an exposure, and its relations in plain words."""
    high = "no upper bound" if np.isinf(e.high) else f"{e.high:g}"
    how = (
        f"a reader can work it out exactly: {e.low:g}"
        if e.width < EPS
        else f"a reader can narrow it down to {e.low:g} .. {high}"
    )
    relations = [rel.describe(r, describe_row) for r in e.relations[:3]]
    text = f"{how} (narrower than the protection range of {protection:g})"
    return text, relations


def ineligible_zero(measures: Sequence[np.ndarray]) -> np.ndarray:
    """The cells that may never be a complement: zero in every measure, or unknown."""
    stacked = np.column_stack([np.asarray(m, dtype=np.float64) for m in measures])
    return np.asarray(np.isnan(stacked).any(axis=1) | (np.nan_to_num(stacked) <= 0).all(axis=1))
