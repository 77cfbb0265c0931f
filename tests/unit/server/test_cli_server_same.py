"""The CLI and the server give the same data for the same inputs (#13).

Each example is converted with ``cgd-bridge convert`` (the pipeline's ``convert``) and, from the
same files, submitted through the JSON API, accepted and published by the NSO reviewer and
pulled as SDMX data; the two SDMX-CSV files are the same bytes: the same columns (the DSD's
dimensions in key order, its attributes in its order and none it does not declare), the same
rows in the same order. SDMX-CSV carries no header with a time or an ID, so nothing is masked.
On SQLite and PostgreSQL (the ``world`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.pipeline import convert
from tests.support.paths import ROOT
from tests.unit.server.conftest import World

EXAMPLES = {
    "kenya": {
        "files": {"data": "examples/kenya-health-scorecard/data.csv"},
        "metadata": "examples/kenya-health-scorecard/quality.yaml",
        "mapping": "mappings/kenya-health-scorecard.yaml",
        "flow": "DF_CGD_KE",
    },
    "nepal": {
        "files": {
            "data": "examples/nepal-youth-survey/data.xlsx",
            "form": "examples/nepal-youth-survey/form.xlsx",
        },
        "metadata": "examples/nepal-youth-survey/quality.yaml",
        "mapping": "mappings/nepal-youth-survey.yaml",
        "flow": "DF_SDG_GLH",
    },
}
FORMATS = {
    "sdmx-csv-2.0": "application/vnd.sdmx.data+csv;version=2.0.0",
    "sdmx-csv-1.0": "application/vnd.sdmx.data+csv;version=1.0.0",
}


def _served(world: World, example: dict, accept: str) -> bytes:
    amina = {"Authorization": f"Bearer {world.keys['amina']}"}
    kamau = {"Authorization": f"Bearer {world.keys['kamau']}"}
    files = {role: (Path(p).name, (ROOT / p).read_bytes(), "application/octet-stream")
             for role, p in example["files"].items()}  # fmt: skip
    files["metadata"] = ("quality.yaml", (ROOT / example["metadata"]).read_bytes(), "application/yaml")
    files["mapping"] = ("mapping.yaml", (ROOT / example["mapping"]).read_bytes(), "application/yaml")
    r = world.client.post("/api/submissions", headers=amina, files=files)
    assert r.status_code == 201, r.text[:800]
    version = r.json()["id"]
    for step in ("accept", "publish"):
        r = world.client.post(f"/api/versions/{version}/{step}", headers=kamau)
        assert r.status_code == 200, r.text[:800]
    r = world.client.get(f"/sdmx/rest/data/{example['flow']}", headers={**kamau, "Accept": accept})
    assert r.status_code == 200, r.text[:800]
    return r.content


@pytest.mark.parametrize("name", list(EXAMPLES))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_cli_and_server_write_the_same_bytes(world: World, tmp_path: Path, name: str, fmt: str) -> None:
    example = EXAMPLES[name]
    out = tmp_path / "cli.csv"
    form = ROOT / example["files"]["form"] if "form" in example["files"] else None
    result = convert(
        ROOT / example["files"]["data"], form=form, metadata=ROOT / example["metadata"],
        mapping=ROOT / example["mapping"], to=fmt, output=out, structures=world.bridge.structures,
    )  # fmt: skip
    assert result.refused is None
    cli = out.read_bytes()
    served = _served(world, example, FORMATS[fmt])
    assert served.splitlines()[0] == cli.splitlines()[0]  # the columns first, for a readable failure
    assert served == cli
