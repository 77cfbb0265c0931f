"""Secondary suppression by hypercubes, without an LP for the common table (#16).

A primary cell of a table cross-classified with every total is hidden by the cheapest 2^k cube
around it (one other level per dimension); the cube is handed to the audit as a deviation and
checked like any other. These tests count LPs (never time), compare the cube chosen with one
found by brute force here, attack the fallback (a cell no cube protects takes the LP), and
check every result with an interval LP written here with scipy, not the product's code.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from cgd_bridge.checks.disclosure import secure
from cgd_bridge.checks.relations import total_parents

K = 5


# -- the tables, and an attacker written here ------------------------------------------------------


def full_table(finest: np.ndarray) -> tuple[np.ndarray, list[tuple[int, list[int]]], dict[str, np.ndarray]]:
    """``finest`` with a total appended along every axis: the values (flattened, C order), every
    relation "total = sum of parts" as (total row, part rows), and the keys (the total is the
    last code of each dimension)."""
    full = finest.astype(np.float64)
    for axis in range(full.ndim):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    shape = full.shape
    index = np.arange(full.size).reshape(shape)
    relations = []
    for axis in range(full.ndim):
        moved = np.moveaxis(index, axis, -1)
        for line in moved.reshape(-1, shape[axis]):
            relations.append((int(line[-1]), [int(x) for x in line[:-1]]))
    grid = np.indices(shape).reshape(full.ndim, -1)
    keys = {f"D{a}": grid[a].astype(np.int64) for a in range(full.ndim)}
    return full.reshape(-1), relations, keys


def parents_of(keys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {d: total_parents(int(k.max()) + 1, {int(k.max())}) for d, k in keys.items()}


def intervals(
    values: np.ndarray, relations: list[tuple[int, list[int]]], suppressed: np.ndarray
) -> dict[int, tuple[float, float]]:
    """Each suppressed cell's smallest and largest value over every table of non-negative
    counts that keeps every relation and shows the published cells as published."""
    n = len(values)
    a_eq = np.zeros((len(relations), n))
    for r, (total, parts) in enumerate(relations):
        a_eq[r, total] = -1.0
        a_eq[r, parts] = 1.0
    bounds = [(0.0, None) if suppressed[i] else (float(values[i]), float(values[i])) for i in range(n)]
    out = {}
    for i in np.flatnonzero(suppressed).tolist():
        c = np.zeros(n)
        c[i] = 1.0
        low = linprog(c, A_eq=a_eq, b_eq=np.zeros(len(relations)), bounds=bounds, method="highs")
        high = linprog(-c, A_eq=a_eq, b_eq=np.zeros(len(relations)), bounds=bounds, method="highs")
        assert low.status == 0, low.message
        top = np.inf if high.status == 3 else -high.fun
        assert high.status in (0, 3), high.message
        out[i] = (float(low.fun), float(top))
    return out


def assert_protected(values, relations, suppressed) -> None:  # type: ignore[no-untyped-def]
    for row, (low, high) in intervals(values, relations, suppressed).items():
        assert high - low >= K - 1e-6, f"cell {row} (value {values[row]}) narrowed to {low} .. {high}"


def lps(done) -> int:  # type: ignore[no-untyped-def]
    """Every LP the completion solved: its deviation LPs and its audits'."""
    return int(done.lps) + sum(r.lps for r in done.result.values())


def cheapest_cube(values: np.ndarray, keys: dict[str, np.ndarray], target: int) -> tuple[set[int], float]:
    """The cheapest protecting cube by brute force: every choice of one other level per
    dimension (a sibling, or the total), priced as the completion prices cells."""
    codes = {d: int(k[target]) for d, k in keys.items()}
    top = {d: int(k.max()) for d, k in keys.items()}
    where = {tuple(int(keys[d][i]) for d in keys): i for i in range(len(values))}
    best: tuple[float, set[int]] = (np.inf, set())
    others = [[c for c in range(top[d] + 1) if c != codes[d]] for d in keys]
    for choice in itertools.product(*others):
        corners, up, down = set(), np.inf, np.inf
        for bits in itertools.product((0, 1), repeat=len(keys)):
            at = tuple(choice[j] if b else codes[d] for j, (d, b) in enumerate(zip(keys, bits, strict=True)))
            sign = 1
            for j, b in enumerate(bits):
                if b and choice[j] != top[list(keys)[j]]:
                    sign = -sign
            row = where[at]
            corners.add(row)
            if values[row] <= 0:
                up = down = -np.inf
            elif sign > 0:
                down = min(down, values[row])
            else:
                up = min(up, values[row])
        if up + down < K:
            continue
        best = min(best, (price(values, corners, target), corners), key=lambda x: x[0])
    return best[1], best[0]


def price(values: np.ndarray, cells: set[int], target: int) -> float:
    """The completion's price of suppressing ``cells`` around ``target``: size / k + 1 each."""
    return float(sum(values[r] / K + 1.0 for r in cells if r != target))


# -- (a) one primary cell of a 3-D table: a cube of 8 cells, no LP ---------------------------------


def test_one_small_cell_of_a_three_way_table_gets_the_cheapest_cube_and_no_lp():
    rng = np.random.default_rng(16)
    finest = rng.integers(8, 90, size=(2, 4, 2)).astype(float)  # SEX x AGE x DISABILITY
    finest[1, 2, 0] = 2
    values, relations, keys = full_table(finest)
    target = int(np.flatnonzero(values == 2)[0])
    suppressed = np.zeros(values.size, dtype=bool)
    suppressed[target] = True
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert lps(done) == 0, f"{lps(done)} LPs for a table a cube protects"
    assert done.cubes == 1
    assert int(suppressed.sum()) == 8
    hidden = set(np.flatnonzero(suppressed).tolist())
    for d, k in keys.items():  # two levels per dimension: a cube
        assert len(set(k[sorted(hidden)].tolist())) == 2, d
    assert price(values, hidden, target) == pytest.approx(cheapest_cube(values, keys, target)[1])
    assert done.exposed == []
    assert_protected(values, relations, suppressed)


def test_a_second_small_cell_on_the_cube_costs_nothing_more():
    """Two small cells that one cube holds: the second is a corner of the first's cube."""
    finest = np.full((2, 4, 2), 40.0)
    finest[0, 0, 0] = 2
    finest[1, 1, 1] = 3  # the opposite corner of the cube over levels {0, 1} x {0, 1} x {0, 1}
    finest[0, 1, :] = 9  # cheap partners: that cube is the cheapest for the first cell
    finest[1, 0, :] = 9
    values, relations, keys = full_table(finest)
    suppressed = (values > 0) & (values < K)
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert lps(done) == 0
    assert int(suppressed.sum()) == 8
    assert_protected(values, relations, suppressed)


# -- (b) no cube protects the cell: the LP does ----------------------------------------------------


def test_a_cell_no_cube_protects_falls_back_to_the_lp_and_ends_protected():
    """SEX x AGE with the margins but no grand total, and zeros where every cube needs a corner:
    each cube around (F, A) has a published zero or a missing cell among its corners, so none
    protects it; the LP finds the three cells that do ((F, A), (F, total), (total, A))."""
    finest = np.asarray([[2.0, 0.0, 0.0], [0.0, 30.0, 40.0]])
    full, relations, keys = full_table(finest)
    keep = np.ones(full.size, dtype=bool)
    keep[-1] = False  # no grand total
    values = full[keep]
    keys = {d: k[keep] for d, k in keys.items()}
    relations = [(t, p) for t, p in relations if keep[t] and all(keep[x] for x in p)]
    suppressed = np.zeros(values.size, dtype=bool)
    suppressed[0] = True  # (F, A) = 2
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert done.cubes == 0, "no cube can protect this cell"
    assert done.lps > 0, "the LP must take it"
    assert done.exposed == []
    assert sorted(np.flatnonzero(suppressed).tolist()) == [0, 3, 8]
    assert_protected(values, relations, suppressed)


def test_the_cheapest_cube_too_small_gives_way_to_a_dearer_one_that_protects():
    """Around (F, A) = 2, the cube through the other small cell (F, B) = 1 is the cheapest (that
    corner is suppressed already, nearly free) but gives an interval min(2, 60) + min(1, 60) = 3
    wide: it is passed over for a dearer cube that protects, and no LP is needed."""
    finest = np.full((2, 3), 60.0)
    finest[0, 0] = 2
    finest[0, 1] = 1
    values, relations, keys = full_table(finest)
    suppressed = (values > 0) & (values < K)
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert lps(done) == 0
    assert done.exposed == []
    assert_protected(values, relations, suppressed)


# -- (c) an attacker's check on random tables ------------------------------------------------------


@st.composite
def tables(draw):  # type: ignore[no-untyped-def]
    dims = draw(st.integers(2, 3))
    shape = tuple(draw(st.integers(2, 3)) for _ in range(dims))
    size = int(np.prod(shape))
    cells = draw(
        st.lists(
            st.one_of(st.integers(0, 0), st.integers(1, 4), st.integers(5, 60)), min_size=size, max_size=size
        )
    )
    return np.asarray(cells, dtype=float).reshape(shape)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_every_suppressed_cell_of_a_random_table_is_protected_as_an_attacker_sees_it(finest: np.ndarray):
    values, relations, keys = full_table(finest)
    primary = (values > 0) & (values < K)
    suppressed = primary.copy()
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    if done.unprotectable:  # a table too small to protect: the report says so (an error)
        assert done.exposed
        return
    assert done.exposed == []
    assert (suppressed >= primary).all()
    assert_protected(values, relations, suppressed)


# -- (d) a 2-D table, and a hierarchy --------------------------------------------------------------


def test_a_two_way_table_gets_a_four_cell_cube():
    finest = np.asarray([[2.0, 30.0, 50.0], [20.0, 45.0, 61.0]])
    values, relations, keys = full_table(finest)
    suppressed = np.zeros(values.size, dtype=bool)
    suppressed[0] = True
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert lps(done) == 0
    assert int(suppressed.sum()) == 4
    hidden = set(np.flatnonzero(suppressed).tolist())
    assert hidden == cheapest_cube(values, keys, 0)[0]  # no tie in this table
    assert price(values, hidden, 0) == pytest.approx(cheapest_cube(values, keys, 0)[1])
    assert_protected(values, relations, suppressed)


def hierarchy_table(
    seed: int, small: tuple[tuple[int, int], ...] = ((3, 0), (7, 1))
) -> tuple[np.ndarray, list[tuple[int, list[int]]], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """REF_AREA: a nation (code 0) over counties 1, 2, each over three sub-counties (3-5 under
    1, 6-8 under 2); crossed with SEX (F, M, total). Values add up at every level; the leaves
    of ``small`` are 1 to 4."""
    rng = np.random.default_rng(seed)
    children = {0: [1, 2], 1: [3, 4, 5], 2: [6, 7, 8]}
    leaves = [3, 4, 5, 6, 7, 8]
    val = {(a, s): float(rng.integers(6, 50)) for a in leaves for s in range(2)}
    for a, s in small:
        val[a, s] = float(rng.integers(1, 5))
    for parent in (1, 2, 0):
        for s in range(2):
            val[parent, s] = sum(val[c, s] for c in children[parent])
    for a in range(9):
        val[a, 2] = val[a, 0] + val[a, 1]
    rows = sorted(val)
    index = {r: i for i, r in enumerate(rows)}
    relations = [(index[a, 2], [index[a, 0], index[a, 1]]) for a in range(9)]
    for parent, kids in children.items():
        for s in range(3):
            relations.append((index[parent, s], [index[c, s] for c in kids]))
    keys = {
        "REF_AREA": np.asarray([a for a, _ in rows], dtype=np.int64),
        "SEX": np.asarray([s for _, s in rows], dtype=np.int64),
    }
    area_parent = np.asarray([-1, 0, 0, 1, 1, 1, 2, 2, 2], dtype=np.int64)
    parents = {"REF_AREA": area_parent, "SEX": total_parents(3, {2})}
    return np.asarray([val[r] for r in rows]), relations, keys, parents


@pytest.mark.parametrize("seed", range(8))
def test_a_hierarchy_uses_cubes_only_where_they_hold_and_protects_every_cell(seed: int):
    values, relations, keys, parents = hierarchy_table(seed)
    primary = (values > 0) & (values < K)
    suppressed = primary.copy()
    secured = secure(keys, parents, {"OBS_COUNT": values}, suppressed, values, K)
    done = secured.completion
    assert done.exposed == []
    assert_protected(values, relations, suppressed)
    # every deviation handed to the audits keeps every relation (checked here, not by the audit)
    for d in done.deviations:
        y = np.zeros(values.size)
        np.add.at(y, d.rows, d.change)
        for total, parts in relations:
            assert abs(y[parts].sum() - y[total]) < 1e-9


def test_a_county_level_cell_takes_the_lp_a_sub_county_cell_a_cube():
    """A sub-county's siblings carry a cube (leaves under one county); a county has both a
    parent and children, so no pair of levels keeps both its relations: the LP takes it."""
    values, relations, keys, parents = hierarchy_table(3)
    leaf = int(np.flatnonzero((keys["REF_AREA"] == 3) & (keys["SEX"] == 0))[0])
    suppressed = np.zeros(values.size, dtype=bool)
    suppressed[leaf] = True
    done = secure(keys, parents, {"OBS_COUNT": values}, suppressed.copy(), values, K).completion
    assert done.cubes == 1
    assert done.lps == 0
    # a county cell of 3 (its three sub-counties 1 each, published)
    values, relations, keys, parents = hierarchy_table(3, small=())
    for sub in (3, 4, 5):
        values[(keys["REF_AREA"] == sub) & (keys["SEX"] == 1)] = 1.0
    male = keys["SEX"] == 1
    for area, kids in ((1, (3, 4, 5)), (0, (1, 2))):
        values[(keys["REF_AREA"] == area) & male] = sum(
            values[(keys["REF_AREA"] == k) & male][0] for k in kids
        )
    for area in range(9):
        here = keys["REF_AREA"] == area
        values[here & (keys["SEX"] == 2)] = values[here & (keys["SEX"] == 0)] + values[here & male]
    county = int(np.flatnonzero((keys["REF_AREA"] == 1) & male)[0])
    assert values[county] == 3
    suppressed = np.zeros(values.size, dtype=bool)
    suppressed[county] = True
    done = secure(keys, parents, {"OBS_COUNT": values}, suppressed, values, K).completion
    assert done.cubes == 0
    assert done.lps > 0
    assert done.exposed == []
    assert_protected(values, relations, suppressed)


def test_a_wrong_cube_is_refused_by_the_audits_check_and_the_lp_protects_the_cell(
    monkeypatch: pytest.MonkeyPatch,
):
    """Correctness is the audit's, not the cube's: cubes with a sign flipped (they break the
    relations) or a corner left out are offered in place of the right ones; none is kept, no
    corner of theirs is suppressed for them, and the LP protects the cell."""
    from cgd_bridge.checks import cubes

    real = cubes.choose

    def forged(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = []
        for c in real(*args, **kwargs):
            flipped = c.signs.copy()
            flipped[-1] = -flipped[-1]
            out.append(cubes.Cube(c.target, c.rows, flipped, c.width))
            out.append(cubes.Cube(c.target, c.rows[:-1], c.signs[:-1], c.width))
        return out

    monkeypatch.setattr(cubes, "choose", forged)
    rng = np.random.default_rng(3)
    finest = rng.integers(8, 90, size=(2, 4, 2)).astype(float)
    finest[0, 1, 1] = 3
    values, relations, keys = full_table(finest)
    suppressed = (values > 0) & (values < K)
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert done.cubes == 0, "a cube that breaks a relation proves nothing"
    assert done.lps > 0
    assert done.exposed == []
    assert_protected(values, relations, suppressed)


def test_a_wide_dimension_is_cut_to_its_cheapest_levels_and_still_gives_a_cube():
    """33 areas x SEX x AGE x DISABILITY with every total: 33 x 2 x 4 x 2 = 528 candidate cubes
    around a finest cell, more than MAX_CUBES, so the areas are cut to the cheapest first; one
    small cell still gets a 16-cell cube and no LP."""
    from cgd_bridge.checks import cubes

    rng = np.random.default_rng(12)
    finest = rng.integers(20, 90, size=(33, 2, 4, 2)).astype(float)
    finest[5, 1, 2, 0] = 2
    values, relations, keys = full_table(finest)
    assert 33 * 2 * 4 * 2 > cubes.MAX_CUBES
    suppressed = (values > 0) & (values < K)
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert lps(done) == 0
    assert done.cubes == 1
    assert int(suppressed.sum()) == 16
    assert_protected(values, relations, suppressed)


def test_a_wrong_cube_is_not_kept_because_its_cell_is_proven_by_another(monkeypatch: pytest.MonkeyPatch):
    """A forged cube for a corner of a right one (that corner is proven by the right cube, not
    by the forged one): the forged cube is refused all the same, and the published cells it
    names stay published."""
    from cgd_bridge.checks import cubes

    real = cubes.choose
    bogus: list[int] = []

    def forged(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = list(real(*args, **kwargs))
        for c in list(out):
            others = np.setdiff1d(np.arange(len(args[1])), c.rows)[:3]
            bogus.extend(others.tolist())
            rows = np.r_[c.rows[-1], others]
            out.append(cubes.Cube(int(c.rows[-1]), rows, np.asarray([1, -1, 1, -1]), c.width))
        return out

    monkeypatch.setattr(cubes, "choose", forged)
    finest = np.full((2, 4, 2), 40.0)
    finest[1, 3, 1] = 2
    values, relations, keys = full_table(finest)
    suppressed = (values > 0) & (values < K)
    done = secure(keys, parents_of(keys), {"OBS_COUNT": values}, suppressed, values, K).completion
    assert bogus, "the forged cube was offered"
    assert done.cubes == 1
    assert not suppressed[bogus].any(), "a forged cube's cells were suppressed"
    assert int(suppressed.sum()) == 8
    assert_protected(values, relations, suppressed)
