"""The suppression the validation report announces is the one ``convert`` writes and the server
publishes (#13, part 4), for every bundled example and every data format.

Each example runs with its metadata's threshold raised to 8, so that both have small cells (at
their own 5 the Kenya scorecard has none). The report's cell findings (``small-cell``,
``small-complement``, ``group-disclosure``, ``secondary-suppression``) count the cells it will
suppress and name the first few of each kind; the harmonised data says which observations are
suppressed. The written files (``pipeline.harmonise`` then ``write_harmonised``, the two steps
of ``convert``) and the server's answers to a data pull after submission, acceptance and
publication, in every format, are read by the readers that are not cgd-bridge
(tests/unit/sdmx/test_dsd_outputs.py): the observations without a value and with OBS_STATUS Q
must be exactly the announced ones, and no other observation may lack its value. The server
runs on SQLite only here: the stored table is the same bytes on PostgreSQL
(tests/unit/server/test_cli_server_same.py runs both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cgd_bridge.pipeline import examine, harmonise, write_harmonised
from cgd_bridge.sdmx.formats import formats, get_format
from tests.support.paths import ROOT
from tests.unit.sdmx.test_dsd_outputs import STRUCTURES, Dsd, _read
from tests.unit.server.conftest import World
from tests.unit.test_validation_truth import announced, announced_count, marked

THRESHOLD = 8
DATA_FORMATS = [f.name for f in formats("data")]
EXAMPLES: dict[str, dict[str, Any]] = {
    "kenya": {
        "files": {"data": "examples/kenya-health-scorecard/data.csv"},
        "metadata": "examples/kenya-health-scorecard/quality.yaml",
        "mapping": "mappings/kenya-health-scorecard.yaml",
        "flow": "CGD_BRIDGE:DF_CGD_KE(1.0)",
        "path": "DF_CGD_KE",
    },
    "nepal": {
        "files": {
            "data": "examples/nepal-youth-survey/data.xlsx",
            "form": "examples/nepal-youth-survey/form.xlsx",
        },
        "metadata": "examples/nepal-youth-survey/quality.yaml",
        "mapping": "mappings/nepal-youth-survey.yaml",
        "flow": "IAEG-SDGs:DF_SDG_GLH(1.5)",
        "path": "DF_SDG_GLH",
    },
}


def _metadata(example: dict[str, Any], folder: Path) -> Path:
    """The example's metadata with the threshold raised to :data:`THRESHOLD`."""
    doc = yaml.safe_load((ROOT / example["metadata"]).read_text(encoding="utf-8"))
    doc["privacy"]["disclosure_control"]["threshold"] = THRESHOLD
    path = folder / "quality.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _suppressed(fmt: str, body: bytes, dsd: Dsd, columns: list[str], what: str) -> set[tuple[str, ...]]:
    """The observations written without a value, read independently; each must say OBS_STATUS Q."""
    out: set[tuple[str, ...]] = set()
    for rows in _read(fmt, body, dsd):
        assert rows, f"{what}: no observations"
        found = set()
        for r in rows:
            key = tuple(str(r.get(c, "")) for c in columns)
            empty = r.get("OBS_VALUE") in (None, "", "nan", "NaN")
            if empty:
                assert r.get("OBS_STATUS") == "Q", (
                    f"{what}: {key} has no value but OBS_STATUS {r.get('OBS_STATUS')}"
                )
                found.add(key)
            else:
                assert r.get("OBS_STATUS") != "Q", f"{what}: {key} is marked suppressed but has a value"
        out = found if not out else out
        assert found == out, f"{what}: the readers disagree"
    return out


@pytest.fixture(scope="module", params=list(EXAMPLES))
def announced_and_written(request, tmp_path_factory) -> dict[str, Any]:
    """What the report announces, and the written files, for one example."""
    name = request.param
    ex = EXAMPLES[name]
    folder = tmp_path_factory.mktemp(f"truth-{name}")
    metadata = _metadata(ex, folder)
    form = ROOT / ex["files"]["form"] if "form" in ex["files"] else None
    data, mapping = ROOT / ex["files"]["data"], ROOT / ex["mapping"]
    v = examine(data, metadata=metadata, mapping=mapping, form=form, structures=STRUCTURES)
    assert v.report.valid, v.report.flatten("code", "row")
    assert v.threshold == THRESHOLD
    assert v.harmonised is not None
    columns = [*v.harmonised.dimensions, "TIME_PERIOD"]
    expected = marked(v)
    assert expected, "the threshold is high enough for small cells"
    assert set(announced(v)) <= expected
    assert announced_count(v.report) == len(expected)
    prepared = harmonise(data, metadata=metadata, mapping=mapping, form=form, structures=STRUCTURES)
    written = {}
    for fmt in DATA_FORMATS:
        path = folder / f"{fmt}.out"
        write_harmonised(prepared, fmt, path, structures=STRUCTURES)
        written[fmt] = path.read_bytes()
    return {"name": name, "example": ex, "metadata": metadata, "expected": expected, "columns": columns,
            "written": written, "dsd": Dsd(ex["flow"])}  # fmt: skip


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_convert_suppresses_exactly_what_the_report_announces(announced_and_written, fmt: str) -> None:
    a = announced_and_written
    got = _suppressed(fmt, a["written"][fmt], a["dsd"], a["columns"], f"{a['name']} convert {fmt}")
    assert got == a["expected"], (sorted(got - a["expected"])[:3], sorted(a["expected"] - got)[:3])


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)  # the store keeps what it is given
def test_the_server_publishes_exactly_the_suppression_the_report_announces(
    world: World, announced_and_written
) -> None:
    a = announced_and_written
    ex = a["example"]
    amina = {"Authorization": f"Bearer {world.keys['amina']}"}
    kamau = {"Authorization": f"Bearer {world.keys['kamau']}"}
    files = {role: (Path(p).name, (ROOT / p).read_bytes(), "application/octet-stream")
             for role, p in ex["files"].items()}  # fmt: skip
    files["metadata"] = ("quality.yaml", a["metadata"].read_bytes(), "application/yaml")
    files["mapping"] = ("mapping.yaml", (ROOT / ex["mapping"]).read_bytes(), "application/yaml")
    r = world.client.post("/api/submissions", headers=amina, files=files)
    assert r.status_code == 201, r.text[:800]
    version = r.json()["id"]
    for step in ("accept", "publish"):
        r = world.client.post(f"/api/versions/{version}/{step}", headers=kamau)
        assert r.status_code == 200, r.text[:800]
    for fmt in DATA_FORMATS:
        accept = get_format(fmt).media_type
        r = world.client.get(f"/sdmx/rest/data/{ex['path']}", headers={**kamau, "Accept": accept})
        assert r.status_code == 200, (fmt, r.text[:800])
        got = _suppressed(fmt, r.content, a["dsd"], a["columns"], f"{a['name']} server {fmt}")
        assert got == a["expected"], (fmt, sorted(got - a["expected"])[:3], sorted(a["expected"] - got)[:3])
        # the public, too, reads the same suppression (never a value the report withheld)
        r = world.client.get(f"/sdmx/rest/data/{ex['path']}", headers={"Accept": accept})
        if r.status_code == 200:
            assert _suppressed(fmt, r.content, a["dsd"], a["columns"], f"public {fmt}") == a["expected"]
