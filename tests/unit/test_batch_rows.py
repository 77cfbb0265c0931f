"""Row numbers stay the file's across record batches (#16: the pipeline reads in batches).

The Kenya example validated with a batch of 7 rows against one batch for the whole file: every
finding names the same row, and the rows broken after the first batches are named by their line
in the file (a ragged row the reader skips shifts none of them).
"""

from __future__ import annotations

from pathlib import Path

from cgd_bridge.checks import Options
from cgd_bridge.pipeline import convert, examine

ROOT = Path(__file__).resolve().parents[2]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"


def _broken(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The example with a ragged row, a type error, an unmapped county and a duplicate key, all
    after the first batches; with the file line (row number) of each."""
    lines = KENYA.joinpath("data.csv").read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    out = [header, *body[:30], "Kisumu,Female,18-24,With disability,2024,19,11,extra"]  # line 32, skipped
    out += body[30:]
    # lines of the file are 1-based with the header on line 1: body[i] is on line i + 2 (+1 after 32)
    late = 120  # the body's row 120: on line 123
    cells = out[late + 2].split(",")
    cells[5] = "many"
    out[late + 2] = ",".join(cells)
    cells = out[150 + 2].split(",")
    cells[0] = "Atlantis"
    out[150 + 2] = ",".join(cells)
    out.append(out[10])  # a duplicate of line 11, on the last line
    path = tmp_path / "data.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path, {"skipped": 32, "type-error": 123, "unmapped-value": 153, "duplicate": len(out)}


def _rows(data: Path, batch_rows: int) -> set[tuple[str, int | None, str | None]]:
    v = examine(
        data, metadata=KENYA / "quality.yaml", mapping=MAPPING, options=Options(batch_rows=batch_rows)
    )
    return {(f.code, f.row, f.field) for f in v.report.findings}


def test_findings_name_the_same_rows_whatever_the_batch_size(tmp_path: Path) -> None:
    data, lines = _broken(tmp_path)
    small, whole = _rows(data, 7), _rows(data, 200_000)
    assert small == whole
    by_code: dict[str, set[int | None]] = {}
    for code, row, _ in small:
        by_code.setdefault(code, set()).add(row)
    assert lines["type-error"] in by_code["type-error"]
    assert lines["skipped"] in by_code["extra-cell"]
    assert lines["unmapped-value"] in by_code["unmapped-value"]
    assert lines["duplicate"] in by_code["duplicate-key"]  # the later of the two rows
    assert 11 in by_code["duplicate-series-key"]  # the two rows give one observation: the first
    assert 123 + 2 in by_code["total-mismatch"]  # the total the broken part does not add up to


def test_conversion_is_the_same_whatever_the_batch_size(tmp_path: Path) -> None:
    outs = []
    for batch in (7, 200_000):
        out = tmp_path / f"out{batch}.csv"
        result = convert(
            KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=MAPPING, to="sdmx-csv-2.0",
            output=out, options=Options(batch_rows=batch),
        )  # fmt: skip
        assert result.refused is None
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
