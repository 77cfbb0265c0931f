"""`mapping init` alone on the bundled examples gives the bundled mappings' output (#18).

Each example's mapping is set aside: the draft is made from the data (and the form) and the
target dataflow only, then both mappings are run through the whole pipeline
(:func:`cgd_bridge.pipeline.harmonise`) and the observations compared, every column.

What the draft cannot guess honestly is named here, and only that is given back to it:
- ``COMMENT_OBS`` (both examples): free text written by the survey team;
- Nepal's ``value.of``: the survey counts the satisfied among those who *used* health services
  (``services_used contains health``); nothing in the data says the question was asked of
  them only, so the draft counts them among all respondents and flags it to confirm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.draft import draft_mapping
from cgd_bridge.pipeline import harmonise
from cgd_bridge.structures import Structures
from tests.support.paths import ROOT

EXAMPLES = {
    "kenya-health-scorecard": ("data.csv", None, "CGD_BRIDGE:DF_CGD_KE(1.0)"),
    "nepal-youth-survey": ("data.xlsx", "form.xlsx", "IAEG-SDGs:DF_SDG_GLH(1.5)"),
}
#: what the draft leaves to the person, by example: (section, key)
NOT_GUESSED = {
    "kenya-health-scorecard": {("attributes", "COMMENT_OBS")},
    "nepal-youth-survey": {("attributes", "COMMENT_OBS"), ("value", "of")},
}


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load(None)


def _sorted(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_draft_alone_gives_the_bundled_output(
    example: str, structures: Structures, tmp_path: Path
) -> None:
    data_name, form_name, dataflow = EXAMPLES[example]
    folder = ROOT / "examples" / example
    data = folder / data_name
    form = folder / form_name if form_name else None
    bundled_path = ROOT / "mappings" / f"{example}.yaml"
    drafted = draft_mapping(data, dataflow=dataflow, structures=structures, form=form)
    text = drafted.to_yaml()
    draft_file = tmp_path / "drafted.yaml"
    draft_file.write_text(text, encoding="utf-8")
    load_mapping(draft_file)  # the existing loader reads it

    bundled = yaml.safe_load(bundled_path.read_text(encoding="utf-8"))
    mine = yaml.safe_load(text)
    for section, key in NOT_GUESSED[example]:
        assert key not in mine.get(section, {}), f"the draft now guesses {section}.{key}: update NOT_GUESSED"
        mine.setdefault(section, {})[key] = bundled[section][key]
    completed = tmp_path / "completed.yaml"
    completed.write_text(yaml.safe_dump(mine, allow_unicode=True), encoding="utf-8")

    metadata = folder / "quality.yaml"
    want = harmonise(data, metadata=metadata, mapping=bundled_path, form=form, structures=structures)
    got = harmonise(data, metadata=metadata, mapping=completed, form=form, structures=structures)
    assert got.report.valid, [f.code for f in got.report.findings]
    assert want.harmonised is not None
    assert got.harmonised is not None
    a, b = want.harmonised.table, got.harmonised.table
    assert sorted(a.column_names) == sorted(b.column_names)
    keys = [*want.harmonised.contract.dimension_ids, "TIME_PERIOD"] if want.harmonised.contract else []
    assert _sorted(a, keys) == _sorted(b, keys)


def test_what_is_not_guessed_is_flagged(structures: Structures) -> None:
    """Nepal's proportion is guessed among all respondents, and the draft says to confirm it."""
    folder = ROOT / "examples" / "nepal-youth-survey"
    drafted = draft_mapping(folder / "data.xlsx", dataflow="IAEG-SDGs:DF_SDG_GLH(1.5)",
                            structures=structures, form=folder / "form.xlsx")  # fmt: skip
    uncertain = {g.what for g in drafted.uncertain()}
    assert {"OBS_VALUE", "SERIES"} <= uncertain
    assert "CONFIRM" in drafted.to_yaml().split("\nvalue:")[0].rsplit("\n", 1)[-1]
