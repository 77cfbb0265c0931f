"""Differencing two releases: a corrected version can give its suppressed cell away (#16, #17).

The attack (attack 3): a CSO publishes its monthly table (v1), then a corrected v2 in which one
month, Kisumu, female, March 2024, falls from 6 to 3 clients (duplicate interviews removed),
so v2 suppresses it with its complements. The public pulled v1 while it was the release (SDMX
REST, no key), and pulls v2. Every cell the revision note does not name as corrected is the
same in both releases, so the reader takes v1's published value for each v2 complement that
v1 published, and solves v2's relations (an interval LP written in
``tests/unit/checks/test_relations_a_reader_knows.py``, not the product's audit).

What the code promises (docs/disclosure.md, "Two releases of one dataset"): superseded versions
stay public and citable, so the completion of a new version takes the published one as known:
cells unchanged since that release keep its status (published: known, published again, never a
complement; suppressed: suppressed again), and publishing a version checked against another
release than the one published now is refused. The releases go through the server's intake
(``POST /api/submissions``: the upload's worker process gets the published version as data).
This was an expected failure (strict) until that mechanism existed; the tests below also show
the other direction and the refusal.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cgd_bridge.errors import Conflict
from cgd_bridge.store import submissions
from tests.unit.checks.test_relations_a_reader_knows import (
    COUNTIES,
    Cell,
    K,
    intervals,
    time_relations,
    write_inputs,
)
from tests.unit.server.conftest import CSV, World

CORRECTED = ("Kisumu", "Female", 3)  # the month the revision corrects
BEFORE, AFTER = 6, 3
#: the cells a correction of one month changes: the month, its quarter and year, and their sex totals
NAMED = {("KE_042", s, "_T", p) for s in ("F", "_T") for p in ("2024-03", "2024-Q1", "2024")}


def harmonised(folder: Path, value: int) -> Path:
    """The month's files with Kisumu, female, March 2024 at ``value`` (the folder)."""
    folder.mkdir()
    write_inputs(folder, small={("Nakuru", "Male", 7): 1, CORRECTED: value})
    return folder


def upload(world: World, folder: Path, note: str | None, *, submit: bool = True) -> int:
    """The files uploaded as a new version (``POST /api/submissions``): the server's intake
    reads them in a worker process, with the dataset's published version as data for the
    disclosure audit."""
    files = {
        "data": ("data.csv", (folder / "data.csv").read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", (folder / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": ("mapping.yaml", (folder / "mapping.yaml").read_bytes(), "application/yaml"),
    }
    form = {"submit": "true" if submit else "false", **({"revision_note": note} if note else {})}
    headers = {"Authorization": f"Bearer {world.keys['amina']}"}
    r = world.client.post("/api/submissions", headers=headers, files=files, data=form)
    assert r.status_code == 201, r.text[:800]
    return int(r.json()["id"])


def decide(world: World, version_id: int) -> None:
    with world.bridge.sessions() as session:
        submissions.accept(session, principal=world.reviewer, version_id=version_id, replace=True)
        submissions.publish(session, principal=world.reviewer, version_id=version_id)


def release(world: World, folder: Path, note: str | None) -> int:
    version_id = upload(world, folder, note)
    decide(world, version_id)
    return version_id


def public_pull(world: World) -> dict[Cell, float | None]:
    """The whole dataflow as the public reads it (no key), SDMX-CSV 2.0."""
    r = world.client.get("/sdmx/rest/data/DF_CGD_KE/all", headers=CSV)
    assert r.status_code == 200, r.text[:300]
    out: dict[Cell, float | None] = {}
    for row in csv.DictReader(io.StringIO(r.content.decode("utf-8"))):
        key = (row["REF_AREA"], row["SEX"], row["AGE"], row["TIME_PERIOD"])
        out[key] = float(row["OBS_VALUE"]) if row["OBS_VALUE"] else None
    return out


@pytest.mark.world_settings(answer_cache_mb=0)
def test_a_corrected_release_keeps_its_suppressed_month_protected_against_the_earlier_one(
    world: World, tmp_path: Path
) -> None:
    v1 = harmonised(tmp_path / "v1", BEFORE)
    v2 = harmonised(tmp_path / "v2", AFTER)
    release(world, v1, None)
    first = public_pull(world)
    release(world, v2, "Kisumu, female, March 2024: 3 duplicate interviews removed")
    second = public_pull(world)
    month = ("KE_042", "F", "_T", "2024-03")
    assert first[month] == BEFORE  # v1 published it (not small)
    assert second[month] is None  # v2 suppresses it
    # every v1-published cell the revision note does not touch is the same in v2: the reader
    # takes it as published in v2 too
    combined = {
        cell: (first[cell] if value is None and cell not in NAMED and first.get(cell) is not None else value)
        for cell, value in second.items()
    }
    found = intervals(combined, time_relations)
    assert month in found
    narrow = {cell: (lo, hi) for cell, (lo, hi) in found.items() if hi - lo < K - 1e-6}
    assert not narrow, f"v1 and v2 together narrow these suppressed cells below {K}: {narrow}"


@pytest.mark.world_settings(answer_cache_mb=0)
def test_each_release_alone_protects_its_cells(world: World, tmp_path: Path) -> None:
    """The breach above is the combination's: each release, as pulled, passes the reader's LP."""
    v1 = harmonised(tmp_path / "v1", BEFORE)
    v2 = harmonised(tmp_path / "v2", AFTER)
    release(world, v1, None)
    first = public_pull(world)
    release(world, v2, "Kisumu, female, March 2024: 3 duplicate interviews removed")
    second = public_pull(world)
    names = {v: k for k, v in COUNTIES.items()}
    assert second[(names[CORRECTED[0]], "F", "_T", "2024-03")] is None
    for published in (first, second):
        found = intervals(published, time_relations)
        assert found
        assert all(hi - lo >= K - 1e-6 for lo, hi in found.values())


def combined(later: dict[Cell, float | None], earlier: dict[Cell, float | None]) -> dict[Cell, float | None]:
    """``later`` as a reader who also pulled ``earlier`` has it: each cell ``later`` hides and
    the revision note does not name is taken at ``earlier``'s published value."""
    out = dict(later)
    for cell, value in later.items():
        if value is None and cell not in NAMED and earlier.get(cell) is not None:
            out[cell] = earlier[cell]
    return out


def narrow(published: dict[Cell, float | None]) -> dict[Cell, tuple[float, float]]:
    found = intervals(published, time_relations)
    return {cell: (lo, hi) for cell, (lo, hi) in found.items() if hi - lo < K - 1e-6}


@pytest.mark.world_settings(answer_cache_mb=0)
def test_a_corrected_release_keeps_the_cells_the_earlier_one_suppressed(world: World, tmp_path: Path) -> None:
    """The other direction: v1 suppresses the small month (2 clients) with its complements; v2
    corrects the month to 7 (interviews that were missing), so the month is no longer small.
    The complements v1 chose are unchanged in v2: had v2 published them, v1's published
    quarter minus them would give v1's hidden 2 back. Every cell v1 hid whose value v2 does not
    change stays hidden in v2 (the corrected month may then be hidden too, as their complement),
    and v1 read with v2's values is still protected."""
    release(world, harmonised(tmp_path / "v1", 2), None)
    first = public_pull(world)
    release(world, harmonised(tmp_path / "v2", 7), "Kisumu, female, March 2024: 5 missing interviews added")
    second = public_pull(world)
    month = ("KE_042", "F", "_T", "2024-03")
    assert first[month] is None
    hid = {cell for cell, value in first.items() if value is None and cell not in NAMED}
    assert any(cell[0] == "KE_042" for cell in hid)  # v1's complements of the month
    assert not {cell for cell in hid if second[cell] is not None}
    assert not narrow(combined(first, second))
    assert not narrow(second)


@pytest.mark.world_settings(answer_cache_mb=0)
def test_a_version_checked_before_the_release_it_follows_is_refused(world: World, tmp_path: Path) -> None:
    """v2 is uploaded (a draft) while v1 is still in review: its suppression is checked as the
    dataset's first release. v1 is then published: publishing v2 as it was checked would give
    its month away. Publishing it is refused with the fix; the same files uploaded again are
    checked against v1 and publish, protected."""
    v1 = upload(world, harmonised(tmp_path / "v1", BEFORE), None)
    with world.bridge.sessions() as session:
        submissions.accept(session, principal=world.reviewer, version_id=v1, replace=True)
    note = "Kisumu, female, March 2024: 3 duplicate interviews removed"
    v2 = upload(world, harmonised(tmp_path / "v2", AFTER), note, submit=False)
    with world.bridge.sessions() as session:
        submissions.publish(session, principal=world.reviewer, version_id=v1)
    first = public_pull(world)
    with world.bridge.sessions() as session:
        submissions.submit(session, principal=world.producer, version_id=v2)
        submissions.accept(session, principal=world.reviewer, version_id=v2, replace=True)
    with pytest.raises(Conflict) as refused, world.bridge.sessions() as session:
        submissions.publish(session, principal=world.reviewer, version_id=v2)
    assert "checked for disclosure as the dataset's first release" in refused.value.problem
    assert "version 1 is published now" in refused.value.problem
    assert "Upload the same files again" in (refused.value.fix or "")
    assert public_pull(world) == first  # nothing of v2 is public
    release(world, tmp_path / "v2", note)
    second = public_pull(world)
    assert second[("KE_042", "F", "_T", "2024-03")] is None
    assert not narrow(combined(second, first))
