"""The disclosure audit scales with the size of its components, not with how many there are (#16).

A table of many months, each its own sex x age cube with totals, is many independent connected
components. The audit and the completion solve their LPs over all components at once (the LP is
block-diagonal and the objectives separable), so the number of LPs they report must not grow
with the number of months; one LP pair per component (the per-component loop this replaced)
would make it grow linearly. Protection is not weakened: every month's exposed cell is still
named, and a complement taken back in one month among many is caught.
"""

from __future__ import annotations

import itertools

import numpy as np

from cgd_bridge.checks.audit import audit, complete, ineligible_zero
from cgd_bridge.checks.relations import Relations, build_relations, total_parents

K = 5
SEX = ["F", "M", "_T"]
AGE = ["A", "B", "C", "_T"]


def months_table(months: int, seed: int = 16) -> tuple[Relations, np.ndarray, dict[int, int]]:
    """``months`` sex x age cubes with every total; one small finest cell (2) per month.

    Returns the relations, the values, and each month's small cell's row."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, int]] = []
    values: list[float] = []
    small: dict[int, int] = {}
    for m in range(months):
        finest = {(s, a): int(rng.integers(20, 90)) for s in range(2) for a in range(3)}
        hit = (int(rng.integers(0, 2)), int(rng.integers(0, 3)))
        finest[hit] = 2
        for s, a in itertools.product(range(3), range(4)):
            if (s, a) == hit:
                small[m] = len(rows)
            rows.append((m, s, a))
            values.append(float(sum(v for (fs, fa), v in finest.items() if s in (2, fs) and a in (3, fa))))
    arr = np.asarray(rows, dtype=np.int64)
    keys = {"MONTH": arr[:, 0], "SEX": arr[:, 1], "AGE": arr[:, 2]}
    parents = {"SEX": total_parents(len(SEX), {2}), "AGE": total_parents(len(AGE), {3})}
    rel = build_relations(keys, parents)
    v = np.asarray(values)
    rel.mark_equalities(v)
    return rel, v, small


def primary(v: np.ndarray) -> np.ndarray:
    return (v > 0) & (v < K)


def test_the_audit_names_every_exposed_month_with_as_many_lps_for_60_months_as_for_6():
    lps = {}
    for months in (6, 60):
        rel, v, small = months_table(months)
        sup = primary(v)
        shown = np.where(sup, np.nan, v)
        for truth, values in ((True, v), (False, shown)):
            result = audit(rel, values, sup, float(K), truth=truth)
            # primary suppression alone: each month's small cell comes back from the totals
            assert sorted(e.row for e in result.exposed) == sorted(small.values())
            assert all(e.width < K for e in result.exposed)
            assert all(e.relations for e in result.exposed), "each exposure names its relation"
            assert result.audited == int(sup.sum())
            assert result.not_audited == 0
            lps[months, truth] = result.lps
    for truth in (True, False):
        # one LP pair per month would give >= 120 LPs at 60 months
        assert lps[60, truth] <= lps[6, truth] + 2, lps
        assert lps[60, truth] < 60, lps


def test_completion_protects_every_month_in_a_few_lps_and_a_weakened_month_is_caught():
    months = 40
    rel, v, _small = months_table(months)
    sup = primary(v)
    eligible = ~ineligible_zero([v])
    done = complete(rel, {"OBS_VALUE": v}, sup, float(K), cost=v, eligible=eligible)
    assert done.exposed == []
    assert done.lps <= 4, f"{done.lps} protection LPs for {months} independent months"
    final = done.result["OBS_VALUE"]
    assert final.passed
    assert final.audited == int(sup.sum())
    # every month needed complements of its own: the small cell alone is exposed
    added_months = {row // 12 for row in done.added}
    assert added_months == set(range(months))
    # take back one complement in month 17: the audit names that month's cells, and only those
    taken = next(row for row in sorted(done.added) if row // 12 == 17)
    weak = sup.copy()
    weak[taken] = False
    again = audit(rel, np.where(weak, np.nan, v), weak, float(K))
    assert again.exposed, "a weakened month must fail the audit"
    assert {e.row // 12 for e in again.exposed} == {17}


def test_a_published_month_that_contradicts_its_totals_does_not_hide_the_others():
    """One month's published total is below its parts: the joint LP has no solution, so each
    month is audited on its own (that one with its equalities relaxed) and every other month's
    exposed cell is still named."""
    months = 12
    rel, v, small = months_table(months)
    sup = primary(v)
    shown = np.where(sup, np.nan, v)
    sex_total = small[3] - small[3] % 4 + 3  # AGE=_T beside month 3's small cell
    shown[sex_total] -= 50
    result = audit(rel, shown, sup, float(K))
    assert result.lps > months, "each month audited on its own"
    rows = {e.row for e in result.exposed}
    assert {small[m] for m in range(months) if m != 3} <= rows
    assert result.audited + result.not_audited == int(sup.sum())
