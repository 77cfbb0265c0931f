"""Certificates forged to look harmless: each passes a check on its own scale and would make an
exactly recoverable cell look protected. The verdict is held to an independent exact LP."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from cgd_bridge.checks.audit import Deviation, audit
from cgd_bridge.checks.relations import Relations

from .test_audit_scaling import K, months_table, primary


def exact_interval(rel: Relations, values: np.ndarray, unknown: np.ndarray, row: int) -> tuple[float, float]:
    """The smallest and largest value of ``row`` over every non-negative table that agrees with
    the published cells and keeps every relation: built here from the relations alone."""
    cells = np.flatnonzero(unknown)
    col = {int(c): i for i, c in enumerate(cells)}
    eq_rows: list[np.ndarray] = []
    ub_rows: list[np.ndarray] = []
    eq_b: list[float] = []
    ub_b: list[float] = []
    for r in range(rel.n):
        total, parts = rel.members(r)
        coef = np.zeros(cells.size)
        rhs = 0.0
        for cell, sign in [(int(p), 1.0) for p in parts] + [(total, -1.0)]:
            if cell in col:
                coef[col[cell]] += sign
            else:
                rhs -= sign * values[cell]
        if not coef.any():
            continue
        (eq_rows if rel.equal[r] else ub_rows).append(coef)
        (eq_b if rel.equal[r] else ub_b).append(rhs)
    bounds = []
    for sign in (1.0, -1.0):
        c = np.zeros(cells.size)
        c[col[row]] = sign
        res = linprog(
            c,
            A_eq=sp.csr_matrix(np.array(eq_rows)) if eq_rows else None,
            b_eq=eq_b or None,
            A_ub=sp.csr_matrix(np.array(ub_rows)) if ub_rows else None,
            b_ub=ub_b or None,
            bounds=(0, None),
            method="highs",
        )
        assert res.status in (0, 3)
        bounds.append(sign * res.fun if res.status == 0 else np.inf)
    return bounds[0], bounds[1]


def _exposed_rows(rel: Relations, v: np.ndarray, sup: np.ndarray, protection: float = K) -> list[int]:
    return [
        r
        for r in np.flatnonzero(sup).tolist()
        if np.subtract(*exact_interval(rel, v, sup, r)[::-1]) < K - 1e-6
    ]


def test_a_deviation_below_the_rounding_bound_certifies_nothing() -> None:
    """A change of 9e-6 breaks each relation by less than the 1e-5 the check forgives; taken
    as far as non-negativity allows, it would 'move' the cell across its whole range."""
    rel, v, small = months_table(4)
    sup = primary(v)
    exposed = _exposed_rows(rel, v, sup)
    assert sorted(exposed) == sorted(small.values()), "the premise: the small cells are exposed"
    forged = [Deviation(np.asarray([row]), np.asarray([9e-6])) for row in exposed]
    got = audit(rel, v, sup, float(K), truth=True, deviations=forged)
    assert got.certified == 0
    assert sorted(e.row for e in got.exposed) == sorted(exposed)


def test_a_large_change_elsewhere_does_not_widen_the_rounding_bound_of_a_part() -> None:
    """One deviation moving a cell of another month by 10^7 (that month's part is refused)
    must not make an error of 3K in this month's relations pass as rounding."""
    rel, v, small = months_table(4)
    sup = primary(v)
    exposed = _exposed_rows(rel, v, sup)
    far = max(small.values())
    forged = [
        Deviation(np.asarray([row, far]), np.asarray([3.0 * K, 1e7]))
        for row in exposed
        if row // 12 != far // 12
    ]
    assert forged
    got = audit(rel, v, sup, float(K), truth=True, deviations=forged)
    assert got.certified == 0
    assert sorted(e.row for e in got.exposed) == sorted(exposed)
    for e in got.exposed:  # the intervals named are the exact ones
        low, high = exact_interval(rel, v, sup, e.row)
        assert abs(e.low - low) < 1e-6
        assert abs(e.high - high) < 1e-6


def test_a_deviation_naming_a_cell_twice_moves_it_by_the_sum() -> None:
    """+10k and -10k on one cell is no change at all, not a change either way (the small cells
    hold 2: read entry by entry, each would span [0, 4], past a protection of 3)."""
    rel, v, _small = months_table(4)
    sup = primary(v)
    exposed = _exposed_rows(rel, v, sup, 3.0)
    assert exposed
    forged = [Deviation(np.asarray([row, row]), np.asarray([10.0 * K, -10.0 * K])) for row in exposed]
    got = audit(rel, v, sup, 3.0, truth=True, deviations=forged)
    assert got.certified == 0
    assert sorted(e.row for e in got.exposed) == sorted(exposed)


def test_a_deviation_naming_rows_outside_the_table_proves_nothing() -> None:
    """A stale certificate of a longer table (or a row of -1 read from Python's end): refused
    as a whole, never a crash, never a cell of this table moved in its place."""
    rel, v, _small = months_table(4)
    sup = primary(v)
    exposed = _exposed_rows(rel, v, sup)
    forged = [
        Deviation(np.asarray([row, len(v) + row]), np.asarray([10.0 * K, -10.0 * K])) for row in exposed
    ]
    forged += [Deviation(np.asarray([row, -1]), np.asarray([10.0 * K, np.inf])) for row in exposed]
    got = audit(rel, v, sup, float(K), truth=True, deviations=forged)
    assert got.certified == 0
    assert sorted(e.row for e in got.exposed) == sorted(exposed)
