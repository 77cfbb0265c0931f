"""The hypercube method: secondary suppression without an LP for a cross-classified table.

In a table cross-classified by dimensions with totals (SEX x AGE x DISABILITY_STATUS with every
total, per county and month), hiding one cell needs another hidden cell on every line through
it; the cheapest such patterns are *hypercubes*: one other level per dimension, 2^k corners
(tau-Argus's GHMITER, sdcTable's ``protectTable(method = "HYPERCUBE")``; Giessing and
Repsilber, "Tools and strategies to protect multiple tables with the GHQUAR cell suppression
engine", 2002). A cube gives a deviation of the table directly: per dimension a vector ``z`` on
its two levels that keeps every relation along that dimension (two sibling parts: ``+1, -1``;
a part and a top-level total: ``+1, +1``), and the cube's change is their product at each
corner. Every line of the table along a dimension is then changed by that dimension's ``z``
times a constant, so every relation holds; moved by ``a`` along it, the table stays a table of
counts while no corner it lowers goes below zero, so the protected cell (and every other
corner) can take any value in ``[v - min(lowered going down), v + min(lowered going up)]``.

:func:`choose` picks, for each exposed cell, the cheapest cube (the completion's own price:
almost nothing for a corner already suppressed, else its size over the protection range plus
one) whose interval is at least the protection range, as :class:`Deviation`-shaped changes.
Nothing here is trusted: :func:`cgd_bridge.checks.audit._protect` hands the cubes to the audit's
own check of deviations (:func:`~cgd_bridge.checks.audit.certified_spans`) before it suppresses
a corner, and a cell no cube protects (a corner missing, zero or too small; a dimension whose
hierarchy leaves no valid pair of levels) goes to the deviation LP as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

EPS = 1e-6
#: candidate cubes per exposed cell at most (the moves along the widest dimensions are cut to
#: the cheapest first): a 47-county hierarchy crossed with three breakdowns would give 700
MAX_CUBES = 512
#: exposed cells in one connected part of the table above which the part is left to the LP: its
#: joint deviation shares complements among many cells, where a greedy cube per cell suppresses
#: more (benchmarks/suppression.py, one 4-way table with every total, all cubes: 21 small cells
#: in 360 cells, 86 complements against the LP's 76; 87 in 1,980, 347 against 323; 402 in 9,990,
#: 38.5 % of the value lost against 34.3 %, at six times the CPU); a county-month of the Kenya
#: file (45 cells) has at most 16, and there cubes suppress a quarter fewer cells than the LP
MAX_TARGETS_PER_PART = 16


@dataclass
class Cube:
    """One cube chosen: the exposed cell it protects, its corners and their signs (+1/-1), and
    the width of the interval it gives every corner in the measure it was chosen for."""

    target: int
    rows: np.ndarray
    signs: np.ndarray
    width: float


class Grid:
    """A table's cells by their codes, and the pairs of levels each dimension allows.

    Args:
        keys: every key column as non-negative integer codes (as
            :func:`~cgd_bridge.checks.relations.build_relations` takes them).
        parents: per dimension with relations, each code's parent code (-1: none).
    """

    def __init__(self, keys: Mapping[str, np.ndarray], parents: Mapping[str, np.ndarray]) -> None:
        names = list(keys)
        self.n = len(next(iter(keys.values()))) if keys else 0
        self.dims = [d for d in names if d in parents and bool((parents[d] >= 0).any())]
        self.codes = {d: np.asarray(keys[d], dtype=np.int64) for d in names}
        self.radix: dict[str, int] = {}
        span = 1
        self.usable = self.n > 0
        key = np.zeros(self.n, dtype=np.int64)
        for d in names:
            width = int(max(int(self.codes[d].max(initial=0)) + 1, len(parents.get(d, ()))))
            if span * width >= 2**62:
                self.usable = False
                break
            self.radix[d] = span
            key += self.codes[d] * span
            span *= width
        self.key = key
        self.span = span if self.usable else 0
        # the row of each key: a dense table when the key space is small (a look-up per corner
        # instead of a binary search), else the keys sorted
        self.dense: np.ndarray | None = None
        if self.usable and span <= max(4 * self.n, 1 << 22):
            self.dense = np.full(span, -1, dtype=np.int64)
            self.dense[key[::-1]] = np.arange(self.n - 1, -1, -1, dtype=np.int64)  # the first row wins
        self.order = np.argsort(key, kind="stable") if self.dense is None else np.zeros(0, np.int64)
        self.sorted = key[self.order]
        self._templates: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # per dimension: each code's parent and whether it has children; the other levels a
        # cube may take from a code (each with its sign) are worked out when first asked for
        self.parent: dict[str, np.ndarray] = {}
        self.has_kids: dict[str, np.ndarray] = {}
        self.related: dict[str, np.ndarray] = {}  # codes in some relation along the dimension
        self._moves: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for d in self.dims:
            parent = np.asarray(parents[d], dtype=np.int64)
            width = max(len(parent), int(self.codes[d].max(initial=0)) + 1)
            par = np.full(width, -1, dtype=np.int64)
            par[: len(parent)] = parent
            has_kids = np.zeros(width, dtype=bool)
            has_kids[par[par >= 0]] = True
            self.parent[d], self.has_kids[d] = par, has_kids
            self.related[d] = (par >= 0) | has_kids

    def moves(self, d: str, c: int) -> list[tuple[int, int]]:
        """The other levels a cube may take along ``d`` from code ``c``, each with its sign."""
        if (d, c) not in self._moves:
            self._moves[d, c] = _moves(c, self.parent[d], self.has_kids[d])
        return self._moves[d, c]

    def template(
        self, row: int, moving: list[tuple[str, list[tuple[int, int]]]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate cubes around cells with ``row``'s codes, moving along ``moving``: the
        key offset of each cell of the box of levels they use (the cell's own and every
        partner, per dimension), and per cube the box index and sign of each of its 2^k
        corners (corner 0 the cell itself). Kept per codes and moves: many cells share them."""
        at = tuple((d, int(self.codes[d][row]), tuple(m)) for d, m in moving)
        if at in self._templates:
            return self._templates[at]
        sizes = [len(m) + 1 for _, m in moving]
        offsets = np.zeros(1, dtype=np.int64)
        for d, moves in moving:  # C order: the last dimension varies fastest
            c = int(self.codes[d][row])
            steps = np.asarray([0] + [(b - c) * self.radix[d] for b, _ in moves], dtype=np.int64)
            offsets = (offsets[:, None] + steps[None, :]).reshape(-1)
        k = len(moving)
        choice = np.asarray(list(itertools.product(*[range(len(m)) for _, m in moving])), dtype=np.int64)
        bits = np.asarray(list(itertools.product((0, 1), repeat=k)), dtype=np.int64)  # corners x k
        levels = np.where(bits[None, :, :] == 1, choice[:, None, :] + 1, 0)  # cubes x corners x k
        index = np.ravel_multi_index(tuple(levels[..., j] for j in range(k)), sizes)
        sign_of = [np.asarray([s for _, s in m], dtype=np.int64) for _, m in moving]
        signs = np.ones(index.shape, dtype=np.int64)
        for j in range(k):
            signs *= np.where(bits[None, :, j] == 1, sign_of[j][choice[:, j]][:, None], 1)
        self._templates[at] = (offsets, np.asarray(index, dtype=np.int64), signs)
        return self._templates[at]

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """The row of each combined key, -1 where the table has none."""
        if self.dense is not None:
            inside = (keys >= 0) & (keys < self.span)
            return np.where(inside, self.dense[np.clip(keys, 0, max(self.span - 1, 0))], -1)
        at = np.minimum(np.searchsorted(self.sorted, keys), max(self.n - 1, 0))
        found = self.sorted[at] == keys if self.n else np.zeros(keys.shape, dtype=bool)
        return np.where(found, self.order[at], -1)


def _moves(c: int, parent: np.ndarray, has_kids: np.ndarray) -> list[tuple[int, int]]:
    """The levels ``b`` that, with code ``c``, carry a vector keeping every relation along the
    dimension ("parent = sum of its children"), with the sign of ``b`` (``c`` has +1): a sibling
    (-1) when neither has children; its parent (+1) when that is a top-level total and ``c`` has
    no children; one of its children (+1) when ``c`` is a top-level total and the child has none.
    A level with children moved alone would break its own relation, a total with a parent its
    parent's: nested totals give no pair through them."""
    out: list[tuple[int, int]] = []
    p = int(parent[c])
    if p >= 0 and not has_kids[c]:
        siblings = np.flatnonzero((parent == p) & ~has_kids)
        out += [(int(b), -1) for b in siblings.tolist() if b != c]
        if parent[p] < 0:
            out.append((p, 1))
    if p < 0 and has_kids[c]:
        out += [(int(q), 1) for q in np.flatnonzero((parent == c) & ~has_kids).tolist()]
    return out


def choose(
    grid: Grid,
    values: np.ndarray,
    suppressed: np.ndarray,
    targets: np.ndarray,
    protection: float,
    cost: np.ndarray,
    can: np.ndarray,
    component: np.ndarray,
) -> list[Cube]:
    """The cheapest protecting cube of each target, cheapest first in each part of the table:
    the corners of a cube chosen count as suppressed (almost free) for the next target, and a
    target that is a corner of a cube chosen already needs none of its own. Targets no cube
    protects are left out (the caller's LP takes them).

    Args:
        values: the measure's true values.
        suppressed: the cells suppressed now (not changed here).
        targets: the exposed cells (those of a part with more than
            :data:`MAX_TARGETS_PER_PART` are left to the LP).
        cost: each cell's size (the price of suppressing it, as the deviation LPs price it).
        can: the cells a cube may use (usable or suppressed, with a value).
        component: each cell's connected part of the table (targets are handled one per part
            at a time, so that each sees the cubes chosen before it).
    """
    if not grid.usable or targets.size == 0:
        return []
    targets = np.unique(targets)
    _, at, many = np.unique(component[targets], return_inverse=True, return_counts=True)
    targets = targets[many[at.reshape(-1)] <= MAX_TARGETS_PER_PART]
    if targets.size == 0:
        return []
    scale = max(protection, 1.0)
    taken = suppressed.copy()
    covered = np.zeros(len(values), dtype=bool)
    chosen: list[Cube] = []
    rdims = [d for d in grid.dims if grid.related[d][grid.codes[d][targets]].any()]
    if not rdims:
        return []
    sig = np.column_stack([grid.codes[d][targets] for d in rdims])
    _, group = np.unique(sig, axis=0, return_inverse=True)
    group = group.reshape(-1)
    pending = targets
    while pending.size:
        # one target per part of the table at a time: later ones see the cubes chosen before
        comp = component[pending]
        _, first = np.unique(comp, return_index=True)
        wave = np.zeros(pending.size, dtype=bool)
        wave[first] = True
        now, pending_group = pending[wave], group[np.searchsorted(targets, pending[wave])]
        pending = pending[~wave]
        for g in np.unique(pending_group).tolist():
            rows = now[pending_group == g]
            rows = rows[~covered[rows]]
            if rows.size == 0:
                continue
            for cube in _group(grid, rdims, rows, values, taken, protection, cost, can, scale):
                chosen.append(cube)
                taken[cube.rows] = True
                covered[cube.rows] = True
    return chosen


def _group(
    grid: Grid,
    rdims: list[str],
    targets: np.ndarray,
    values: np.ndarray,
    taken: np.ndarray,
    protection: float,
    cost: np.ndarray,
    can: np.ndarray,
    scale: float,
) -> list[Cube]:
    """The cubes of targets that share their codes on every dimension with relations (so the
    same candidate cubes, each at its own place in the table)."""
    t0 = int(targets[0])
    moving: list[tuple[str, list[tuple[int, int]]]] = []
    for d in rdims:
        c = int(grid.codes[d][t0])
        if not grid.related[d][c]:
            continue  # no relation along d goes through these cells: the cube stays on c
        moves = grid.moves(d, c)
        if not moves:
            return []  # a line along d the cube cannot keep: the LP decides
        moving.append((d, moves))
    if not moving:
        return []
    moving = _cut(grid, moving, targets, cost)
    offsets, ci, cs = grid.template(targets[0], moving)
    box = grid.rows_of(grid.key[targets][:, None] + offsets[None, :])  # targets x box cells
    # what each cell of the box gives, read once from the table, then per corner of each cube
    safe = np.maximum(box, 0)
    usable = (box >= 0) & can[safe]
    value = np.maximum(np.nan_to_num(values[safe]), 0.0)  # NaN cells are not ``can``
    unit = np.where(taken[safe], 0.01, cost[safe] / scale + 1.0)
    unit[:, 0] = 0.0  # the target itself (box cell 0)
    rows = box[:, ci]  # targets x cubes x corners (corner 0 is the target)
    ok = usable[:, ci].all(axis=2)
    v = value[:, ci]
    up = np.where(cs[None, :, :] > 0, v, np.inf).min(axis=2)  # cells lowered when going down
    down = np.where(cs[None, :, :] < 0, v, np.inf).min(axis=2)  # ... when going up
    width = up + down
    ok &= width >= protection - EPS
    total = np.where(ok, unit[:, ci].sum(axis=2), np.inf)
    best = np.argmin(total, axis=1)
    out = []
    for t, b in enumerate(best.tolist()):
        if not np.isfinite(total[t, b]):
            continue
        out.append(Cube(int(targets[t]), rows[t, b].copy(), cs[b].copy(), float(width[t, b])))
    return out


def _cut(
    grid: Grid, moving: list[tuple[str, list[tuple[int, int]]]], targets: np.ndarray, cost: np.ndarray
) -> list[tuple[str, list[tuple[int, int]]]]:
    """At most :data:`MAX_CUBES` candidates: the widest dimension's moves cut to the cheapest
    (the partner on the targets' own line, its size summed over the targets) until they fit."""
    count = int(np.prod([len(m) for _, m in moving]))
    if count <= MAX_CUBES:
        return moving
    ranked = []
    key = grid.key[targets]
    for d, moves in moving:
        c = grid.codes[d][targets]
        partners = np.asarray([b for b, _ in moves], dtype=np.int64)
        at = grid.rows_of(key[:, None] + (partners[None, :] - c[:, None]) * grid.radix[d])
        price = np.where(at >= 0, cost[np.maximum(at, 0)], np.inf).sum(axis=0)
        ranked.append((d, [moves[i] for i in np.argsort(price, kind="stable").tolist()]))
    while int(np.prod([len(m) for _, m in ranked])) > MAX_CUBES:
        widest = max(range(len(ranked)), key=lambda i: len(ranked[i][1]))
        d, moves = ranked[widest]
        ranked[widest] = (d, moves[: max(1, len(moves) // 2)])
    return ranked
