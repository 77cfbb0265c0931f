"""Hostile column names in a drafted mapping (#18): the YAML written means what was drafted.

The mapping file is written by hand (comments beside each guess), so a column name that looks
like YAML (``a: b`` then a new line and ``- c``), a comment, ``__proto__``, a control
character or 4,000 characters must come back from the file unchanged, as a name, when chosen
for TIME_PERIOD, as the measure's column or left unused.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from cgd_bridge.mapping.draft import Decisions, draft_mapping
from cgd_bridge.structures import Structures

FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"
HOSTILE = [
    "a: b\n- c",
    "__proto__",
    "# not a comment\n dataset: other",
    "mwaka'\"\t\x07: [x, {y: z}]",
    "জরিপের বছর &anchor *alias !!python/object",
    "z" * 4_000,
]


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load(None)


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_column_name_reads_back_as_drafted(
    tmp_path: Path, structures: Structures, hostile: str
) -> None:
    path = tmp_path / "nepal-ward-voices.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ward", "gender", hostile, "satisfied", f"unused {hostile}"])
        for i in range(30):
            w.writerow([f"Ward {i % 3}", ("महिला", "पुरुष")[i % 2], "2081", ("yes", "no")[i % 3 == 0], i])
    for decisions in (
        Decisions(),
        Decisions(columns={"TIME_PERIOD": f"column:{hostile}"}),
    ):
        drafted = draft_mapping(path, dataflow=FLOW, structures=structures, decisions=decisions)
        text = drafted.to_yaml()
        assert yaml.safe_load(text) == drafted.mapping, text[:2000]
        if decisions.columns:  # the hostile column is really in the file, as TIME_PERIOD's
            assert drafted.mapping["time"]["column"] == hostile
            assert yaml.safe_load(text)["time"]["column"] == hostile
