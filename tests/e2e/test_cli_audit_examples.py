"""Every bundled example, converted by the real ``cgd-bridge convert`` to SDMX-CSV, passes
``cgd-bridge audit`` (#12): at the example's own threshold, and at a raised one that makes the
pipeline suppress cells and choose complements.

Both examples publish percentages (UNIT_MEASURE PT): the counts behind them are audited by the
pipeline before anything is written (convert would refuse an exposed cell), and the audit of the
file says how many suppressed cells it leaves to that, since a file of percentages has nothing
that adds up.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "kenya-health-scorecard": (["data.csv"], 20),
    "nepal-youth-survey": (["data.xlsx", "--form", "form.xlsx"], 14),
}


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def convert(name: str, out: Path, metadata: Path) -> list[dict[str, str]]:
    files, _ = EXAMPLES[name]
    folder = ROOT / "examples" / name
    args = [folder / files[0], *(folder / f if f.endswith(".xlsx") else f for f in files[1:])]
    p = cli("convert", *args, "--metadata", metadata, "--mapping", ROOT / "mappings" / f"{name}.yaml",
            "--to", "sdmx-csv-2.0", "-o", out)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    with out.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def suppressed(rows: list[dict[str, str]]) -> int:
    # CONF_STATUS C only where the DSD declares it (not the SDG DSD 1.5: docs/mapping.md)
    return sum(
        1
        for r in rows
        if r["OBS_VALUE"] == "" and r["OBS_STATUS"] == "Q" and r.get("CONF_STATUS", "C") == "C"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_converted_example_passes_the_audit(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.csv"
    rows = convert(name, out, ROOT / "examples" / name / "quality.yaml")
    p = cli("audit", out, "--format", "json")
    assert p.returncode == 0, p.stdout + p.stderr
    stats = json.loads(p.stdout)["cgd:stats"]["audit"]
    assert stats["observations"] == len(rows)
    assert stats["exposed"] == 0
    assert stats["suppressed"] == suppressed(rows)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_with_a_raised_threshold_the_suppression_still_passes(name: str, tmp_path: Path) -> None:
    _, threshold = EXAMPLES[name]
    quality = (ROOT / "examples" / name / "quality.yaml").read_text(encoding="utf-8")
    assert "    threshold: 5\n" in quality
    metadata = tmp_path / "quality.yaml"
    metadata.write_text(
        quality.replace("    threshold: 5\n", f"    threshold: {threshold}\n"), encoding="utf-8"
    )
    out = tmp_path / f"{name}.csv"
    rows = convert(name, out, metadata)
    hidden = suppressed(rows)
    assert 0 < hidden < len(rows), "the raised threshold must suppress some cells, not all"
    p = cli("audit", out, "--threshold", str(threshold), "--format", "json")
    assert p.returncode == 0, p.stdout + p.stderr
    stats = json.loads(p.stdout)["cgd:stats"]["audit"]
    assert stats["suppressed"] == hidden
    assert stats["exposed"] == 0
    assert stats["not_audited"] == 0
    # percentages do not add up: the file's audit says it leaves them to the pipeline's
    assert stats["not_additive"] == hidden
    assert "do not add up" in p.stderr
