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

import pyarrow as pa
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


# -- every data format the bridge writes, as counts that add up -------------------------------------
#: each example's value as a count (UNIT_MEASURE NUMBER) instead of a percentage, and a threshold
#: that suppresses some cells but not all
COUNTS = {
    "kenya-health-scorecard": (
        "value:\n  kind: proportion\n  numerator: satisfied\n  denominator: respondents\n  scale: 100\n"
        "  decimals: 1\n",
        "value:\n  kind: count\n  numerator: satisfied\n",
        20,
    ),
    "nepal-youth-survey": (
        "  scale: 100\n  decimals: 1\nattributes:\n",
        "attributes:\n",
        8,
    ),
}


def count_inputs(name: str, tmp_path: Path) -> tuple[dict[str, Path], int]:
    """The example's data, a counts mapping and metadata at the raised threshold."""
    old, new, threshold = COUNTS[name]
    mapping = (ROOT / "mappings" / f"{name}.yaml").read_text(encoding="utf-8")
    assert old in mapping
    assert "UNIT_MEASURE: {value: PT}" in mapping
    mapping = mapping.replace(old, new).replace("UNIT_MEASURE: {value: PT}", "UNIT_MEASURE: {value: NUMBER}")
    mapping = mapping.replace("kind: proportion", "kind: count")
    (tmp_path / "mapping.yaml").write_text(mapping, encoding="utf-8")
    quality = (ROOT / "examples" / name / "quality.yaml").read_text(encoding="utf-8")
    (tmp_path / "quality.yaml").write_text(
        quality.replace("    threshold: 5\n", f"    threshold: {threshold}\n"), encoding="utf-8"
    )
    files, _ = EXAMPLES[name]
    folder = ROOT / "examples" / name
    inputs = {
        "data": folder / files[0],
        "metadata": tmp_path / "quality.yaml",
        "mapping": tmp_path / "mapping.yaml",
    }
    if "--form" in files:
        inputs["form"] = folder / "form.xlsx"
    return inputs, threshold


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_format_of_every_example_passes_and_a_weakened_one_fails(name: str, tmp_path: Path) -> None:
    """Each example, its values as counts (which add up, so every suppressed cell is audited
    from the file), converted to every data format the bridge writes, passes the audit; then
    one complement of each is published again, through the same writer, and the audit of each
    format fails naming the cell it exposes and the relation.

    The dataflow's constraint allows only PT (percent) for these series, so the counts are
    converted with --force past that one error; the observations keep OBS_STATUS Q and
    CONF_STATUS C where suppressed (U elsewhere). Conversion and audit run in this process
    (pipeline.convert and pipeline.audit_file, which the commands call) with the structures
    loaded once; the tests above run the commands themselves.
    """
    from cgd_bridge import pipeline
    from cgd_bridge.checks.disclosure import audit_published
    from cgd_bridge.checks.relations import dimension_parents
    from cgd_bridge.sdmx.formats import formats
    from cgd_bridge.sdmx.read.published import read_published
    from cgd_bridge.sdmx.write import write
    from cgd_bridge.structures import Structures

    structures = Structures.load(None)
    inputs, k = count_inputs(name, tmp_path)
    data = inputs.pop("data")
    harmonised = pipeline.harmonise(data, **inputs, structures=structures, force=True)
    errors = {f.code for f in harmonised.report if f.severity.value == "error"}
    assert errors == {"code-not-allowed"}, errors
    table, target = harmonised.harmonised.table, harmonised.target
    hidden = int(table["OBS_VALUE"].null_count)
    assert 0 < hidden < table.num_rows
    names = [f.name for f in formats("data") if f.writer]
    # every family the bridge writes, time-series messages and SDMX-JSON 1.0 among them
    assert {"sdmx-ml-2.1-generic-ts", "sdmx-ml-2.1-ss-ts", "sdmx-json-1.0", "sdmx-ml-3.0-ss"} <= set(names)
    for fmt in names:
        out = tmp_path / f"{name}.{fmt}"
        pipeline.convert(data, **inputs, to=fmt, output=out, force=True, structures=structures)
        report = pipeline.audit_file(out, threshold=k, structures=structures)
        stats = report.stats["audit"]
        assert report.valid, (fmt, [f.problem for f in report])
        assert (stats["observations"], stats["suppressed"]) == (table.num_rows, hidden), fmt
        assert stats["audited"] == hidden, (fmt, stats)
        assert stats["not_additive"] == 0, (fmt, stats)

    # a complement (a suppressed cell of k or more) whose publication exposes another cell
    published = read_published(tmp_path / f"{name}.sdmx-csv-2.0", structures=structures)
    area = dimension_parents(structures, published.dataflow, "REF_AREA")
    true = table["OBS_NUMERATOR"].to_pylist()
    values = published.table["OBS_VALUE"].to_pylist()

    def reopened(t, row: int):
        col = t.schema.get_field_index("OBS_VALUE")
        out = t.set_column(
            col,
            "OBS_VALUE",
            pa.array(
                [true[row] if i == row else v for i, v in enumerate(t["OBS_VALUE"].to_pylist())], pa.float64()
            ),
        )
        for status, code in (("OBS_STATUS", "U"), ("CONF_STATUS", "F")):
            if status in t.column_names:
                column = [code if i == row else v for i, v in enumerate(t[status].to_pylist())]
                out = out.set_column(t.schema.get_field_index(status), status, pa.array(column))
        return out

    chosen = None
    for row in (i for i, v in enumerate(values) if v is None and true[i] >= k):
        report = audit_published(
            reopened(published.table, row), published.dimensions, threshold=k, file="x",
            hierarchies={"REF_AREA": area} if area else None,
        )  # fmt: skip
        if not report.valid:
            chosen = row
            break
    assert chosen is not None, "some complement must matter"
    # the file and the harmonised table list the observations in the same order
    assert [
        r[d] for r in published.table.select(target.dimensions).to_pylist() for d in target.dimensions
    ] == [r[d] for r in table.select(target.dimensions).to_pylist() for d in target.dimensions]
    weak = reopened(table, chosen).select(
        [*target.dimensions, "TIME_PERIOD", "OBS_VALUE", *target.attributes]
    )
    for fmt in names:
        path = tmp_path / f"weak.{fmt}"
        with path.open("wb") as f:
            write(fmt, weak, target, f)
        report = pipeline.audit_file(path, threshold=k, structures=structures)
        assert not report.valid, fmt
        exposed = [f for f in report if f.code == "suppression-exposed"]
        assert exposed, fmt
        first = exposed[0]
        assert "=" in first.details["cell"], fmt
        assert first.details["relations"], fmt  # the relation that exposes it
        assert first.details["cell"] in first.problem, fmt
        assert "through " in first.problem, fmt
