"""The server's intake runs the disclosure audit before a version is stored (#12).

A submission whose suppression a reader could undo is answered 422 with the report naming the
cell, and nothing is stored; the same data, with the completion choosing complements, is stored.
On SQLite and PostgreSQL (the ``world`` fixture).
"""

from __future__ import annotations

import json

import pytest

import cgd_bridge.checks.audit as audit_module
from cgd_bridge.server.jobs import InlineJobs
from tests.support.paths import ROOT
from tests.unit.server.conftest import World

KENYA = ROOT / "examples" / "kenya-health-scorecard"
EXPOSED = ROOT / "examples" / "broken" / "suppression-exposed"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
# Kisumu, women aged 18-24: 16 of those with a disability moved to "without", so 3 respondents
# (2 satisfied) rest in one cell; the totals that hold either cell follow, the county's own
# total (and so sampling.n_achieved) does not change
SMALL_CELL = {
    "Kisumu,Female,18-24,With disability,2024,19,11": "Kisumu,Female,18-24,With disability,2024,3,2",
    "Kisumu,Female,18-24,Without disability,2024,26,19": "Kisumu,Female,18-24,Without disability,2024,42,28",
    "Kisumu,Female,Total,With disability,2024,86,40": "Kisumu,Female,Total,With disability,2024,70,31",
    "Kisumu,Female,Total,Without disability,2024,96,63": "Kisumu,Female,Total,Without disability,2024,112,72",
    "Kisumu,Total,18-24,With disability,2024,32,16": "Kisumu,Total,18-24,With disability,2024,16,7",
    "Kisumu,Total,18-24,Without disability,2024,62,41": "Kisumu,Total,18-24,Without disability,2024,78,50",
    "Kisumu,Total,Total,With disability,2024,164,71": "Kisumu,Total,Total,With disability,2024,148,62",
    "Kisumu,Total,Total,Without disability,2024,214,129": (
        "Kisumu,Total,Total,Without disability,2024,230,138"
    ),
}


def small_cell_data() -> bytes:
    lines = KENYA.joinpath("data.csv").read_text(encoding="utf-8").splitlines()
    assert set(SMALL_CELL) <= set(lines)
    return "".join(SMALL_CELL.get(line, line) + "\n" for line in lines).encode("utf-8")


def submit(world: World, data: bytes):
    amina = {"Authorization": f"Bearer {world.keys['amina']}"}
    return world.client.post(
        "/api/submissions",
        headers=amina,
        data={"revision_note": "county scorecard 2024"},
        files={
            "data": ("data.csv", data, "text/csv"),
            "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
            "mapping": ("mapping.yaml", MAPPING.read_bytes(), "text/yaml"),
        },
    )


def stored(world: World) -> list:
    amina = {"Authorization": f"Bearer {world.keys['amina']}"}
    return world.client.get("/api/submissions", headers=amina).json()


def test_a_small_cell_is_stored_once_its_complements_protect_it(world: World) -> None:
    r = submit(world, small_cell_data())
    assert r.status_code == 201, [e for t in r.json()["report"]["tasks"] for e in t["errors"]]
    assert len(stored(world)) == 1


def test_weakened_suppression_is_refused_before_storing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the completion adding no complement, the small cell's suppression is undone by the
    published totals: the audit refuses the version."""
    monkeypatch.setattr(audit_module, "_protect", lambda *args, **kwargs: False)
    # the patch must reach the check: run the upload's job in this process, not a worker
    monkeypatch.setattr(world.bridge, "jobs", InlineJobs(world.bridge.structures))
    r = submit(world, small_cell_data())
    assert r.status_code == 422, r.text[:800]
    body = r.json()
    assert body["error"]["type"] == "ValidationFailed"
    notes = [
        e["note"] for t in body["report"]["tasks"] for e in t["errors"] if e["type"] == "suppression-exposed"
    ]
    assert any(
        "county=Kisumu, sex=Female, age_group=18-24, disability_status=With disability" in n for n in notes
    ), notes
    assert any("REF_AREA=KE_042, SEX=F, AGE=Y18T24, DISABILITY_STATUS=PD" in n for n in notes), notes
    assert stored(world) == []


def test_a_cell_left_empty_that_the_totals_give_away_is_refused(world: World) -> None:
    """No complement can protect a value the bridge does not know: 422, nothing stored."""
    r = submit(world, EXPOSED.joinpath("data.csv").read_bytes())
    assert r.status_code == 422, r.text[:800]
    assert "suppression-exposed" in json.dumps(r.json()["report"])
    assert stored(world) == []
