"""Deviations as certificates, and pinned cells: the audit's shortcuts never weaken it (#16).

The completion's deviation LPs each find a change of the suppressed cells that keeps every
relation true: the true table moved along it is another table a reader cannot tell apart, so the
audit that follows takes no LP for a cell such a deviation moves by the protection range. These
tests attack that shortcut: a deviation that breaks a relation, moves a published cell, is stale
(a complement taken back since) or belongs to another measure must prove nothing, so the audit
finds exactly what it finds without deviations. Work is counted in LPs, never timed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from cgd_bridge.checks.audit import Deviation, audit, complete, ineligible_zero
from cgd_bridge.checks.base import Suppression
from cgd_bridge.checks.disclosure import _observation_deviations, secure
from cgd_bridge.checks.relations import build_relations, total_parents

from .test_audit_scaling import K, months_table, primary


def completed(months: int = 40, seed: int = 16):  # type: ignore[no-untyped-def]
    rel, v, small = months_table(months, seed)
    sup = primary(v)
    done = complete(rel, {"OBS_VALUE": v}, sup, float(K), cost=v, eligible=~ineligible_zero([v]))
    assert done.exposed == []
    assert done.deviations
    return rel, v, small, sup, done


def exposures(result) -> list[tuple[int, float, float]]:  # type: ignore[no-untyped-def]
    return [(e.row, round(e.low, 6), round(e.high, 6)) for e in result.exposed]


def test_a_completed_table_is_audited_again_without_an_lp_for_what_its_deviations_prove():
    rel, v, _small, sup, done = completed()
    plain = audit(rel, v, sup, float(K), truth=True)
    certified = audit(rel, v, sup, float(K), truth=True, deviations=done.deviations)
    assert plain.passed
    assert certified.passed
    assert plain.lps > 0, "without certificates the audit must solve LPs (else this test proves nothing)"
    assert certified.lps == 0, f"{certified.lps} LPs for cells the deviations already prove"
    assert certified.certified == int(sup.sum()) == certified.audited


def test_the_completion_audits_each_measure_again_only_when_the_suppression_changed():
    *_, done = completed(months=12)
    final = done.result["OBS_VALUE"]
    assert final.passed
    # the last audit (after the complements) is certified by the deviations: no LP of its own
    assert final.lps == 0, final.lps


def test_a_deviation_that_breaks_a_relation_proves_nothing():
    (
        rel,
        v,
        small,
    ) = months_table(6)
    sup = primary(v)
    forged = [Deviation(np.asarray([row]), np.asarray([float(10 * K)])) for row in small.values()]
    got = audit(rel, v, sup, float(K), truth=True, deviations=forged)
    assert exposures(got) == exposures(audit(rel, v, sup, float(K), truth=True))
    assert sorted(e.row for e in got.exposed) == sorted(small.values())
    assert got.certified == 0


def test_a_deviation_that_moves_published_cells_proves_nothing():
    """A 2 x 2 cycle around the small cell keeps every relation true, but its other three cells
    are published: a reader sees them, so it is no table a reader could believe."""
    rel, v, small = months_table(3)
    sup = primary(v)
    forged = []
    for row in small.values():
        s, a = divmod(row % 12, 4)
        month = row - row % 12
        s2, a2 = (s + 1) % 2, (a + 1) % 3
        cycle = [month + s * 4 + a, month + s2 * 4 + a, month + s * 4 + a2, month + s2 * 4 + a2]
        forged.append(Deviation(np.asarray(cycle), np.asarray([5.0, -5.0, -5.0, 5.0])))
    got = audit(rel, v, sup, float(K), truth=True, deviations=forged)
    assert sorted(e.row for e in got.exposed) == sorted(small.values())
    assert got.certified == 0


def test_stale_deviations_do_not_hide_a_complement_taken_back():
    rel, v, _small, sup, done = completed(months=40)
    taken = next(row for row in sorted(done.added) if row // 12 == 17)
    weak = sup.copy()
    weak[taken] = False  # published again: the deviations that moved it no longer hold
    with_old = audit(rel, v, weak, float(K), truth=True, deviations=done.deviations)
    without = audit(rel, v, weak, float(K), truth=True)
    assert with_old.exposed, "a weakened month must fail the audit, certificates or not"
    assert {e.row // 12 for e in with_old.exposed} == {17}
    assert exposures(with_old) == exposures(without)
    # and the other 39 months are still certified without an LP
    assert with_old.lps <= without.lps


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_another_measures_deviations_prove_only_what_holds_for_this_one(seed: int):
    """Deviations found on the counts, used for the numerators (smaller values: the step that
    keeps them non-negative is shorter): with one complement taken back at random, the audit
    finds the same exposures with and without them."""
    rng = np.random.default_rng(seed)
    rel, count, _small = months_table(10, seed)
    numerator = np.floor(count * rng.uniform(0.2, 0.9))
    # numerators that add up: rebuild the totals from the finest cells
    cube = numerator.reshape(10, 3, 4)
    cube[:, :2, 3] = cube[:, :2, :3].sum(axis=2)
    cube[:, 2, :] = cube[:, :2, :].sum(axis=1)
    numerator = cube.reshape(-1)
    sup = primary(count)
    done = complete(rel, {"OBS_COUNT": count}, sup, float(K), cost=count, eligible=~ineligible_zero([count]))
    weak = sup.copy()
    weak[int(rng.choice(sorted(done.added)))] = False
    for values in (count, numerator):
        with_dev = audit(rel, values, weak, float(K), truth=True, deviations=done.deviations)
        without = audit(rel, values, weak, float(K), truth=True)
        assert [e.row for e in with_dev.exposed] == [e.row for e in without.exposed]
        assert with_dev.audited == without.audited == int(weak.sum())


def test_pinned_cells_are_named_with_the_interval_the_lps_give():
    rel, v, small = months_table(20)
    sup = primary(v)
    pinned = audit(rel, v, sup, float(K), truth=True)  # each small cell alone in its lines
    lp = audit(rel, np.where(sup, np.nan, v), sup, float(K))  # the published file: LPs only
    assert exposures(pinned) == exposures(lp)
    assert sorted(e.row for e in pinned.exposed) == sorted(small.values())
    assert all(e.relations for e in pinned.exposed)
    assert pinned.lps == 0, "a cell alone in an equality needs no LP"
    assert lp.lps > 0


def test_secure_reuses_an_earlier_completions_deviations_and_suppresses_the_same():
    rel_rows = 60
    rng = np.random.default_rng(7)
    s, a = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    keys = {
        "MONTH": np.repeat(np.arange(rel_rows // 12 * 5), 12),
        "SEX": np.tile(s.reshape(-1), rel_rows // 12 * 5),
        "AGE": np.tile(a.reshape(-1), rel_rows // 12 * 5),
    }
    n = keys["MONTH"].size
    finest = rng.integers(1, 40, size=(n // 12, 2, 3)).astype(float)
    cube = np.zeros((n // 12, 3, 4))
    cube[:, :2, :3] = finest
    cube[:, :2, 3] = finest.sum(axis=2)
    cube[:, 2, :] = cube[:, :2, :].sum(axis=1)
    v = cube.reshape(-1)
    parents = {"SEX": total_parents(3, {2}), "AGE": total_parents(4, {3})}
    first = primary(v)
    once = secure(keys, parents, {"OBS_COUNT": v}, first, v, K)
    assert first.sum() > primary(v).sum()
    again_mask = first.copy()
    again = secure(keys, parents, {"OBS_COUNT": v}, again_mask, v, K, deviations=once.completion.deviations)
    assert np.array_equal(again_mask, first), "nothing more to add"
    result = again.completion.result["OBS_COUNT"]
    assert result.passed
    assert result.lps == 0
    assert build_relations(keys, parents).n == once.relations.n


def test_the_cells_deviations_reach_the_observations_by_source_row():
    # observations 0..3 come from source rows 10, 11, 12, 12 (row 12 gives two: left out)
    table = pa.table({"SOURCE_ROW": pa.array([10, 11, 12, 12], pa.int64())})
    sup = Suppression(
        np.asarray([10, 11]), ((np.asarray([10, 11, 12, 99]), np.asarray([1.0, -1.0, 2.0, 3.0])),)
    )
    (dev,) = _observation_deviations(table, sup)
    assert dev.rows.tolist() == [0, 1]
    assert dev.change.tolist() == [1.0, -1.0]
    assert _observation_deviations(table, None) == []
    assert _observation_deviations(table, Suppression(np.asarray([10]))) == []


def test_a_deviation_is_followed_only_as_far_as_the_cells_stay_counts():
    """Four suppressed cells on a 2 x 2 cycle, two of them 1: the cycle moves the small cell by
    1 at most each way (interval 2 wide, exposed at k = 5). A deviation along the cycle by 10 is
    a valid direction, but taken whole it would make counts negative: it must certify nothing."""
    sex, age = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    keys = {"SEX": sex.reshape(-1), "AGE": age.reshape(-1)}
    rel = build_relations(keys, {"SEX": total_parents(3, {2}), "AGE": total_parents(4, {3})})
    finest = np.asarray([[1.0, 1.0, 30.0], [1.0, 40.0, 25.0]])
    cube = np.zeros((3, 4))
    cube[:2, :3] = finest
    cube[:2, 3] = finest.sum(axis=1)
    cube[2, :] = cube[:2, :].sum(axis=0)
    v = cube.reshape(-1)
    rel.mark_equalities(v)
    sup = np.zeros(12, dtype=bool)
    cycle = np.asarray([0, 1, 4, 5])  # (F, A) (F, B) (M, A) (M, B)
    sup[cycle] = True
    along = [Deviation(cycle, np.asarray([10.0, -10.0, -10.0, 10.0]))]
    got = audit(rel, v, sup, float(K), truth=True, deviations=along)
    assert got.certified == 0
    assert [(e.row, e.low, e.high) for e in got.exposed if e.row == 0] == [(0, 0.0, 2.0)]
    assert exposures(got) == exposures(audit(rel, v, sup, float(K), truth=True))


def test_pinned_cells_are_named_each_with_every_relation_that_pins_it() -> None:
    """A 2 x 2 table with margins (cells 0-3; row totals 4, 5; column totals 6, 7; grand total
    8): with cells 0 and 3 suppressed, cell 0 is the one unknown of its row (0 + 1 = 4) and of
    its column (0 + 2 = 6), cell 3 of its row and its column: each is worked out exactly, and
    each is named with its own two relations, not the other's (#16: the pinned cells are
    listed from one array, not one per cell)."""
    from cgd_bridge.checks.audit import _pinned
    from cgd_bridge.checks.relations import Relations

    values = np.array([3.0, 9.0, 11.0, 2.0, 12.0, 13.0, 14.0, 11.0, 25.0])
    rel = Relations(
        total=np.array([4, 5, 6, 7, 8, 8], dtype=np.int64),
        ptr=np.array([0, 2, 4, 6, 8, 10, 12], dtype=np.int64),
        parts=np.array([0, 1, 2, 3, 0, 2, 1, 3, 4, 5, 6, 7], dtype=np.int64),
        dim=np.array([0, 0, 1, 1, 0, 1], dtype=np.int32),
        equal=np.ones(6, dtype=bool),
        dims=["SEX", "AGE"],
    )
    suppressed = np.zeros(9, dtype=bool)
    suppressed[[0, 3]] = True
    got = _pinned(rel, values, suppressed, suppressed, "OBS_COUNT")
    assert [(e.row, e.low, e.high, e.relations, e.measure) for e in got] == [
        (0, 3.0, 3.0, [0, 2], "OBS_COUNT"),
        (3, 2.0, 2.0, [1, 3], "OBS_COUNT"),
    ]
