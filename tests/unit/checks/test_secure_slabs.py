"""Secondary suppression in slabs gives what the whole table gives (#16).

:func:`~cgd_bridge.checks.disclosure.secure` secures a large table slab by slab, each slab whole
groups of the dimensions no relation crosses (those without a total or a hierarchy), so its
memory is one slab's. The adversary's tables: a county missing in one month only (so counting a
parent's children per slab would turn that month's inequality into an equality), a dimension that
looks like a slab key but has a total (it must not be cut), deviations from an earlier completion
that reach every slab, and an exposed cell no complement can protect in a late slab (it must
still be reported, named by its row in the whole table).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cgd_bridge.checks.audit import Deviation
from cgd_bridge.checks.disclosure import Secured, _slabs, secure
from cgd_bridge.checks.relations import build_relations, total_parents
from cgd_bridge.findings import Report

K = 5
AREAS = 6  # code 0 is the nation, 1..5 its counties
SEX = 3  # F, M, _T (code 2)


def months_table(months: int, seed: int = 16, missing: tuple[int, int] = (3, 5)) -> dict[str, np.ndarray]:
    """Months x area (nation and its counties) x sex with every total; county ``missing[1]`` is
    absent in month ``missing[0]`` (the nation still counts it); a few small cells."""
    rng = np.random.default_rng(seed)
    rows, values = [], []
    for m in range(months):
        finest = {(a, s): float(rng.integers(15, 60)) for a in range(1, AREAS) for s in range(2)}
        for _ in range(2):
            finest[(int(rng.integers(1, AREAS)), int(rng.integers(0, 2)))] = float(rng.integers(1, K))
        for a, s in itertools.product(range(AREAS), range(SEX)):
            if (m, a) == missing:
                continue
            total = sum(v for (fa, fs), v in finest.items() if a in (0, fa) and s in (2, fs))
            rows.append((m, a, s))
            values.append(total)
    arr = np.asarray(rows, dtype=np.int64)
    return {"MONTH": arr[:, 0], "AREA": arr[:, 1], "SEX": arr[:, 2], "value": np.asarray(values)}


def parents() -> dict[str, np.ndarray]:
    area = np.full(AREAS, -1, dtype=np.int64)
    area[1:] = 0
    return {"AREA": area, "SEX": total_parents(SEX, {2})}


def run(t: dict[str, np.ndarray], slab_cells: int, **kw) -> tuple[np.ndarray, Secured]:
    keys = {d: t[d] for d in ("MONTH", "AREA", "SEX")}
    v = t["value"]
    sup = (v > 0) & (v < K)
    secured = secure(keys, parents(), {"OBS_COUNT": v}, sup, v, K, slab_cells=slab_cells, **kw)
    return sup, secured


def exposed_rows(s: Secured) -> list[tuple[str, int]]:
    return sorted((e.measure, e.row) for e in s.completion.exposed)


def same_reasons(mask: np.ndarray, slabbed: Secured, whole: Secured) -> bool:
    """The same cells added for the same reasons. A complement that shares no relation with the
    cell it protects (a deviation reached it through other complements: dimension "?") names
    "a target" in both runs: the whole table's first target of that round (often another month),
    a slab's first target of its own round (a cell of its own slab); only that cell may differ."""
    assert slabbed.reasons.keys() == whole.reasons.keys()
    for i, (row, dim) in whole.reasons.items():
        got = slabbed.reasons[i]
        if dim == "?":
            assert got[1] == "?"
            assert mask[got[0]], "a suppressed cell"
            assert mask[row], "a suppressed cell"
        else:
            assert got == (row, dim)
    return True


@pytest.mark.parametrize("slab_cells", [1, 40, 100])
def test_slabs_suppress_exactly_what_the_whole_table_does(slab_cells: int) -> None:
    t = months_table(12)
    whole_mask, whole = run(t, slab_cells=10**9)
    mask, slabbed = run(t, slab_cells=slab_cells)
    assert slabbed.pieces is not None
    assert whole.pieces == []
    assert whole_mask.sum() > ((t["value"] > 0) & (t["value"] < K)).sum(), "complements were needed"
    assert np.array_equal(mask, whole_mask)
    assert same_reasons(mask, slabbed, whole)
    assert exposed_rows(slabbed) == exposed_rows(whole)
    assert slabbed.completion.result["OBS_COUNT"].passed == whole.completion.result["OBS_COUNT"].passed
    assert sorted(slabbed.completion.added) == sorted(whole.completion.added)


def test_a_parent_whose_child_is_missing_in_one_slab_has_the_relations_of_the_whole_table() -> None:
    # month 3 has no county 5: over the whole table the nation = sum of 5 counties, so in month 3
    # "nation >= counties 1..4" is an inequality (the values say so too; a slab counting its own
    # children would call it complete). Each slab's relations must be the whole table's.
    t = months_table(8, seed=3)
    keys = {d: t[d] for d in ("MONTH", "AREA", "SEX")}
    whole = build_relations(keys, parents())
    month3 = np.flatnonzero(keys["MONTH"][whole.total] == 3)
    along_area = month3[whole.dim[month3] == list(keys).index("AREA")]
    assert along_area.size
    assert not whole.equal[along_area].any()
    # an empty cell in month 3 keeps its slab's relations for the report: they must be the whole's
    t["value"][np.flatnonzero((t["MONTH"] == 3) & (t["AREA"] == 2) & (t["SEX"] == 0))] = np.nan
    for slab_cells in (1, 30):
        mask, slabbed = run(t, slab_cells=slab_cells)
        whole_mask, reference = run(t, slab_cells=10**9)
        assert np.array_equal(mask, whole_mask)
        assert exposed_rows(slabbed) == exposed_rows(reference)
        (piece,) = [p for p in slabbed.pieces if (t["MONTH"][p.rows] == 3).any()]
        rel = piece.relations
        in3 = np.flatnonzero((t["MONTH"][piece.rows][rel.total] == 3) & (rel.dim == list(keys).index("AREA")))
        assert in3.size
        assert not rel.equal[in3].any(), "the nation counts county 5 in every month"
        # the slab's relations are the whole table's over its cells, equalities included
        full = build_relations(keys, parents())
        full.mark_equalities(t["value"])
        inside = np.zeros(len(t["value"]), dtype=bool)
        inside[piece.rows] = True
        mine = {
            (int(piece.rows[a]), tuple(piece.rows[b].tolist()), bool(e))
            for a, b, e in ((*rel.members(r), rel.equal[r]) for r in range(rel.n))
        }
        theirs = {
            (int(a), tuple(b.tolist()), bool(e))
            for a, b, e in ((*full.members(r), full.equal[r]) for r in range(full.n))
            if inside[a]
        }
        assert mine == theirs


def test_no_relation_crosses_a_slab_and_a_dimension_with_a_total_is_never_cut() -> None:
    t = months_table(10)
    keys = {d: t[d] for d in ("MONTH", "AREA", "SEX")}
    n = len(t["value"])
    slabs = _slabs(keys, parents(), n, 30)
    assert slabs is not None
    assert len(slabs) > 1
    assert np.array_equal(np.sort(np.concatenate(slabs)), np.arange(n)), "every cell in one slab"
    slab_of = np.empty(n, dtype=np.int64)
    for s, rows in enumerate(slabs):
        slab_of[rows] = s
        assert np.all(np.diff(rows) > 0)
    rel = build_relations(keys, parents())
    for r in range(rel.n):
        total, parts = rel.members(r)
        assert set(slab_of[parts].tolist()) == {slab_of[total]}
    # MONTH with a total (a year of months): every dimension has relations, nothing to cut on
    month = np.full(int(keys["MONTH"].max()) + 1, 0, dtype=np.int64)
    month[0] = -1
    assert _slabs(keys, {**parents(), "MONTH": month}, n, 30) is None
    # and a small table is one slab
    assert _slabs(keys, parents(), n, n) is None


def test_deviations_given_reach_the_slab_they_belong_to() -> None:
    t = months_table(12)
    once_mask, once = run(t, slab_cells=40)
    again_mask = once_mask.copy()
    keys = {d: t[d] for d in ("MONTH", "AREA", "SEX")}
    v = t["value"]
    # one deviation that spans every month (split per slab; each part is checked by the audit)
    joined = Deviation(
        np.concatenate([d.rows for d in once.completion.deviations]),
        np.concatenate([d.change for d in once.completion.deviations]),
    )
    again = secure(keys, parents(), {"OBS_COUNT": v}, again_mask, v, K, slab_cells=40, deviations=[joined])
    assert np.array_equal(again_mask, once_mask), "nothing more to add"
    assert again.completion.result["OBS_COUNT"].passed
    assert again.completion.result["OBS_COUNT"].lps == 0, "every cell certified by the deviations"


def test_an_empty_cell_the_totals_give_away_in_a_late_slab_is_reported_by_its_whole_table_row() -> None:
    from cgd_bridge.checks.disclosure import _audit_blanks

    t = months_table(9)
    v = t["value"].copy()
    blank = np.flatnonzero((t["MONTH"] == 8) & (t["AREA"] == 2) & (t["SEX"] == 0))
    v[blank] = np.nan  # left empty by the producer; its county total and the male cell are published
    t["value"] = v
    mask, slabbed = run(t, slab_cells=30)
    whole_mask, whole = run(t, slab_cells=10**9)
    assert np.array_equal(mask, whole_mask)
    assert slabbed.pieces, "the slab with the empty cell is kept for the report"

    def describe(i: int) -> str:
        return f"month {t['MONTH'][i]} area {t['AREA'][i]} sex {t['SEX'][i]}"

    texts = []
    for s in (whole, slabbed):
        report = Report()
        _audit_blanks(report, s, {"OBS_COUNT": v}, mask.copy(), K, describe, file="t.csv")
        texts.append([(f.code, str(f.problem), f.details) for f in report.findings])
    assert texts[0] == texts[1]
    assert texts[0]
    assert texts[0][0][2]["cell"] == "month 8 area 2 sex 0"


@pytest.mark.parametrize("slab_cells", [40, 10**9])
def test_reasons_kept_are_the_first_cells_reasons_and_no_more(slab_cells: int) -> None:
    # the report explains the first EXAMPLES secondary cells only; across slabs the reasons of
    # every complement would grow with the table, so secure keeps the first ones when asked
    t = months_table(12)
    full_mask, full = run(t, slab_cells=slab_cells)
    kept_mask, kept = run(t, slab_cells=slab_cells, reasons_kept=3)
    assert len(full.reasons) > 3, "the table needs more complements than are kept"
    assert np.array_equal(kept_mask, full_mask)
    first = sorted(full.reasons)[:3]
    assert sorted(kept.reasons) == first
    assert {i: kept.reasons[i] for i in first} == {i: full.reasons[i] for i in first}
    assert sorted(kept.completion.added) == sorted(full.completion.added)
