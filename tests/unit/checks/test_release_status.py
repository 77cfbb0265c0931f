"""Which observations an earlier release gives away (:func:`release_status`, docs/disclosure.md
"Two releases"): the unchanged ones keep its status, everything else is this version's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cgd_bridge import pipeline
from cgd_bridge.checks import disclosure
from cgd_bridge.checks.disclosure import Release, release_status
from tests.unit.checks.test_relations_a_reader_knows import K, intervals, time_relations, write_inputs


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


# -- the pipeline: a corrected month, whole and in slabs ------------------------------------------


def _published(table: pa.Table) -> dict[tuple[str, str, str, str], float | None]:
    return {
        (r["REF_AREA"], r["SEX"], r["AGE"], r["TIME_PERIOD"]): r["OBS_VALUE"]
        for r in table.select(["REF_AREA", "SEX", "AGE", "TIME_PERIOD", "OBS_VALUE"]).to_pylist()
    }


@pytest.mark.parametrize("slab_cells", [None, 60], ids=["whole", "slabs"])
def test_the_pipeline_takes_the_release_as_known_whole_and_in_slabs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slab_spy: list[int], slab_cells: int | None
) -> None:
    """``pipeline.harmonise(previous=...)``, the call the server's worker makes: v2 corrects
    Kisumu, female, March from 6 to 3. No v2 complement is a cell v1 published unchanged, and
    v1's values for the cells v2 hides narrow nothing, whether the table is secured whole or
    county by county (the known cells cut with the slabs)."""
    if slab_cells is not None:
        monkeypatch.setattr(disclosure, "SLAB_CELLS", slab_cells)
    runs = []
    for name, value in (("v1", 6), ("v2", 3)):
        folder = tmp_path / name
        folder.mkdir()
        write_inputs(folder, small={("Nakuru", "Male", 7): 1, ("Kisumu", "Female", 3): value})
        previous = None if not runs else Release(runs[-1].harmonised.table, version_id=1, number=1)
        runs.append(
            pipeline.harmonise(
                folder / "data.csv",
                metadata=folder / "quality.yaml",
                mapping=folder / "mapping.yaml",
                previous=previous,
            )
        )
        assert runs[-1].harmonised is not None
    assert max(slab_spy) == (1 if slab_cells is None else 4)
    first, second = (_published(r.harmonised.table) for r in runs)
    assert runs[1].report.stats["previous_release"]["version_id"] == 1
    month = ("KE_042", "F", "_T", "2024-03")
    assert first[month] == 6
    assert second[month] is None
    changed = {("KE_042", s, "_T", p) for s in ("F", "_T") for p in ("2024-03", "2024-Q1", "2024")}
    reused = {c for c, v in second.items() if v is None and c not in changed and first[c] is not None}
    assert not reused  # no complement v1 published
    combined = {c: first[c] if v is None and c not in changed else v for c, v in second.items()}
    found = intervals(combined, time_relations)
    assert month in found
    assert not {c: w for c, w in found.items() if w[1] - w[0] < K - 1e-6}
