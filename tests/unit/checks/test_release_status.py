"""Which observations an earlier release gives away (:func:`release_status`, docs/disclosure.md
"Two releases"): the unchanged ones keep its status, everything else is this version's own."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cgd_bridge.checks.disclosure import Release, release_status


def table(areas: list[str], counts: list[float | None], suppressed: list[bool] | None = None) -> pa.Table:
    hid = suppressed or [False] * len(areas)
    columns: dict[str, list] = {
        "REF_AREA": areas,
        "SEX": ["F"] * len(areas),
        "TIME_PERIOD": ["2024"] * len(areas),
        "OBS_VALUE": [None if s else c for c, s in zip(counts, hid, strict=True)],
        "OBS_COUNT": counts,
    }
    if suppressed is not None:
        columns["SUPPRESSED"] = suppressed
    return pa.table(columns)


def test_unchanged_cells_keep_the_release_status_and_changed_or_new_ones_do_not() -> None:
    old = table(["A", "B", "C", "D"], [10, 3, 20, 30], [False, True, False, True])
    new = table(["A", "B", "C", "D", "E"], [10, 3, 21, 31, 2])
    known, hidden = release_status(new, ["REF_AREA", "SEX"], Release(old, version_id=7, number=1))
    assert known.tolist() == [True, False, False, False, False]  # A: published, same count
    assert hidden.tolist() == [False, True, False, False, False]  # B: hidden, same count


def test_the_key_is_every_dimension_and_the_period() -> None:
    old = table(["A"], [10], [False])
    other_period = old.set_column(2, "TIME_PERIOD", pa.array(["2023"]))
    new = table(["A"], [10])
    for release in (other_period, old.set_column(1, "SEX", pa.array(["M"]))):
        known, hidden = release_status(new, ["REF_AREA", "SEX"], Release(release, version_id=7, number=1))
        assert not known.any()
        assert not hidden.any()


def test_without_counts_a_withheld_value_is_taken_as_unchanged() -> None:
    """A value column: the release kept no value for a suppressed cell, so it cannot be told
    changed: it stays suppressed (the safe side)."""
    old = table(["A", "B"], [10, 4], [False, True]).drop_columns(["OBS_COUNT", "SUPPRESSED"])
    new = table(["A", "B"], [11, 9]).drop_columns(["OBS_COUNT"])
    known, hidden = release_status(new, ["REF_AREA", "SEX"], Release(old, version_id=7, number=1))
    assert known.tolist() == [False, False]
    assert hidden.tolist() == [False, True]


def test_a_release_without_the_keys_gives_nothing_away() -> None:
    old = table(["A"], [10], [False]).drop_columns(["SEX"])
    known, hidden = release_status(table(["A"], [10]), ["REF_AREA", "SEX"], Release(old, 7, 1))
    assert not np.any(known | hidden)
