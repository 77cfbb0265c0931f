"""The Kobo microdata path: ``cgd-bridge validate`` and ``convert`` of a KoboToolbox export, XLSX
and CSV, against pandas reading the same sheet with its fastest engines.

The data is the Nepal youth-survey example (``examples/nepal-youth-survey``: a KoboToolbox XLSX
export with group-path headers, choice names, a select_multiple as one column and as 0/1
columns, system columns; its XLSForm; its real mapping from ``mappings/``, which aggregates the
respondents into cells and derives disability status from the Washington Group answers) at N
rows: the example's 300 submissions drawn with replacement (seeded), each with a new ``_id`` and
``_index``. Written twice with the same cells: as the XLSX Kobo exports (shared strings, numbers
as numbers) and as CSV, into ``benchmarks/_data/`` (reused when the size and seed match).

Sides, each its own subprocess, interleaved (harness.py): ``cgd-bridge validate`` of the XLSX and
of the CSV (with the form, the metadata and the mapping; the JSON report must count every row),
``cgd-bridge convert`` of the XLSX to SDMX-CSV 2.0 (the output must hold the example's cells),
pandas ``read_excel(engine="calamine")`` of the sheet (pandas' fastest XLSX engine here) and
pandas ``read_csv(engine="pyarrow")`` of the CSV (each must read every row).

Goals (issue #16; CPU-time medians): validate of the XLSX at least as fast as pandas reading the
sheet (cgd-bridge reads it once, columnar, then checks and maps it), and within 2x of validate of
the same data as CSV.

    .venv/bin/python benchmarks/kobo_vs_pandas.py                 # 1,000,000 rows, 3 runs each
    .venv/bin/python benchmarks/kobo_vs_pandas.py --rows 100000
    .venv/bin/python benchmarks/kobo_vs_pandas.py --tiny          # what CI runs (seconds)

Exit code 0 every goal passes, 1 one fails, 2 a run failed or gave a wrong answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402
from harness import Goal, Side  # noqa: E402

NEPAL = harness.ROOT / "examples" / "nepal-youth-survey"
MAPPING = harness.ROOT / "mappings" / "nepal-youth-survey.yaml"
SEED = 20240902
GENERATOR_VERSION = 1
CHUNK = 50_000
PANDAS_XLSX = "import sys, pandas as pd; print(len(pd.read_excel(sys.argv[1], engine='calamine')))"
PANDAS_CSV = "import sys, pandas as pd; print(len(pd.read_csv(sys.argv[1], engine='pyarrow', dtype=str)))"


@dataclass
class Files:
    xlsx: Path
    csv: Path
    metadata: Path
    rows: int
    generated: bool


def write_metadata(rows: int) -> Path:
    """The example's quality metadata with the sample size of the generated data."""
    import yaml

    md = yaml.safe_load((NEPAL / "quality.yaml").read_text(encoding="utf-8"))
    md["sampling"]["n_planned"] = md["sampling"]["n_achieved"] = rows
    path = harness.DATA_DIR / f"kobo_quality_{rows}.yaml"
    path.write_text(yaml.safe_dump(md, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _example() -> tuple[list[str], list[list[Any]]]:
    """The example export's header and its rows, as calamine reads them."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(NEPAL / "data.xlsx"))
    rows = wb.get_sheet_by_name(wb.sheet_names[0]).to_python()
    wb.close()
    return [str(h) for h in rows[0]], [list(r) for r in rows[1:]]


def _column_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def prepare(rows: int, seed: int = SEED) -> Files:
    """Write (or reuse) the XLSX and the CSV of ``rows`` submissions."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from cgd_bridge.ingest.xlsx import column_text

    harness.DATA_DIR.mkdir(parents=True, exist_ok=True)
    xlsx, csv = harness.DATA_DIR / f"kobo_{rows}.xlsx", harness.DATA_DIR / f"kobo_{rows}.csv"
    sidecar = harness.DATA_DIR / f"kobo_{rows}.json"
    want = {"rows": rows, "seed": seed, "version": GENERATOR_VERSION}
    if xlsx.is_file() and csv.is_file() and sidecar.is_file():
        if json.loads(sidecar.read_text(encoding="utf-8")) == want:
            return Files(xlsx, csv, write_metadata(rows), rows, generated=False)
    header, example = _example()
    id_col, index_col = header.index("_id"), header.index("_index")
    rng = np.random.default_rng(seed)
    strings: dict[str, int] = {}
    letters = [_column_letter(i) for i in range(len(header))]
    sheet = xlsx.with_suffix(".sheet.tmp")
    with sheet.open("w", encoding="utf-8") as sh, csv.with_suffix(".tmp").open("wb") as fh:
        fh.write((",".join(header) + "\n").encode())
        opts = pa_csv.WriteOptions(include_header=False)

        def cell(col: int, r: int, v: Any) -> str:
            if isinstance(v, float):
                return f'<c r="{letters[col]}{r}"><v>{v!r}</v></c>'
            if v == "":
                return ""
            k = strings.setdefault(str(v), len(strings))
            return f'<c r="{letters[col]}{r}" t="s"><v>{k}</v></c>'

        sh.write('<row r="1">' + "".join(cell(i, 1, h) for i, h in enumerate(header)) + "</row>")
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            picked = rng.integers(0, len(example), size=n)
            block = []
            for j, p in enumerate(picked.tolist()):
                row = list(example[p])
                row[id_col] = float(400_000_000 + start + j)
                row[index_col] = float(start + j + 1)
                block.append(row)
                r = start + j + 2
                sh.write(f'<row r="{r}">' + "".join(cell(i, r, v) for i, v in enumerate(row)) + "</row>")
            columns = [column_text(c) for c in zip(*block, strict=True)]
            pa_csv.write_csv(
                pa.table(columns, names=[f"c{i}" for i in range(len(header))]), fh, write_options=opts
            )
    os.replace(csv.with_suffix(".tmp"), csv)
    shared = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    tmp = xlsx.with_suffix(".xlsx.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
            '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
            f'org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        zf.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>'
            '<sheet name="nepal_youth_sdg" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
            f'org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>',
        )
        zf.writestr(
            "xl/sharedStrings.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{ns}" count="{len(strings)}" '
            f'uniqueCount="{len(strings)}">{shared}</sst>',
        )
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out, sheet.open("rb") as body:
            out.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}"><sheetData>'.encode())
            while block := body.read(1 << 20):
                out.write(block)
            out.write(b"</sheetData></worksheet>")
    sheet.unlink()
    os.replace(tmp, xlsx)
    sidecar.write_text(json.dumps(want) + "\n", encoding="utf-8")
    return Files(xlsx, csv, write_metadata(rows), rows, generated=True)


def validate_side(name: str, data: Path, metadata: Path, rows: int, out: Path) -> Side:
    """``cgd-bridge validate`` with the form, metadata and mapping; right when it counts every row."""
    cmd = [harness.executable("cgd-bridge"), "validate", str(data), "--form", str(NEPAL / "form.xlsx"),
           "--metadata", str(metadata), "--mapping", str(MAPPING),
           "--format", "json", "-o", str(out)]  # fmt: skip

    def check(_: harness.Sample) -> str | None:
        try:
            stats = json.loads(out.read_text(encoding="utf-8"))["cgd:stats"]
        except (OSError, ValueError, KeyError) as exc:
            return f"no readable report ({exc})"
        got = stats.get("rows")
        return None if got == rows else f"the report counts {got} rows, not {rows}"

    return Side(name, cmd, check)


def convert_side(data: Path, metadata: Path, out: Path) -> Side:
    """``cgd-bridge convert`` to SDMX-CSV 2.0; right when it writes observations (the cells)."""
    cmd = [harness.executable("cgd-bridge"), "convert", str(data), "--form", str(NEPAL / "form.xlsx"),
           "--metadata", str(metadata), "--mapping", str(MAPPING),
           "--to", "sdmx-csv-2.0", "-o", str(out)]  # fmt: skip

    def check(_: harness.Sample) -> str | None:
        if not out.is_file():
            return "no output written"
        lines = sum(1 for _ in out.open("rb")) - 1
        return None if lines > 0 else "no observations written"

    return Side("cgd-bridge convert XLSX -> SDMX-CSV 2.0", cmd, check)


def pandas_side(name: str, code: str, data: Path, rows: int) -> Side:
    def check(sample: harness.Sample) -> str | None:
        got = sample.stdout.strip()
        return None if got == str(rows) else f"pandas read {got!r} rows, not {rows}"

    return Side(name, [sys.executable, "-c", code, str(data)], check)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    harness.common_options(parser)
    parser.add_argument("--rows", type=int, default=1_000_000, help="submissions (default 1,000,000)")
    args = parser.parse_args(argv)
    warmup = not args.tiny
    if args.tiny:
        args.rows, args.repeats = 2_000, 1
    if args.rows < 1 or args.repeats < 1:
        parser.error("--rows and --repeats must be at least 1")
    files = prepare(args.rows)
    n = files.rows
    mib = (files.xlsx.stat().st_size / 2**20, files.csv.stat().st_size / 2**20)
    how = "generated" if files.generated else "reused"
    print(f"data: {n:,} submissions, XLSX {mib[0]:,.1f} MiB, CSV {mib[1]:,.1f} MiB ({how})")
    reports = [harness.DATA_DIR / f"kobo_{n}.{k}.report.json" for k in ("xlsx", "csv")]
    out = harness.DATA_DIR / f"kobo_{n}.out.csv"
    v_xlsx = validate_side("cgd-bridge validate XLSX", files.xlsx, files.metadata, n, reports[0])
    v_csv = validate_side("cgd-bridge validate CSV", files.csv, files.metadata, n, reports[1])
    conv = convert_side(files.xlsx, files.metadata, out)
    pd_xlsx = pandas_side("pandas read_excel (calamine)", PANDAS_XLSX, files.xlsx, n)
    pd_csv = pandas_side("pandas read_csv (pyarrow)", PANDAS_CSV, files.csv, n)
    sides = [v_xlsx, v_csv, conv, pd_xlsx, pd_csv]
    harness.interleave(sides, args.repeats, warmup=warmup)
    goals = []
    if not any(s.problems for s in sides):
        goals = [
            harness.ratio(pd_xlsx, v_xlsx, f"validate XLSX vs pandas reading the sheet, {n:,} rows (CPU)", 1),
            Goal(
                f"validate XLSX / validate CSV, {n:,} rows (CPU)",
                v_xlsx.median() / v_csv.median(),
                "x",
                at_most=2,
            ),
        ]
    for p in [*reports, out, files.metadata]:
        p.unlink(missing_ok=True)
    if not args.keep and files.generated:
        for p in (files.xlsx, files.csv, harness.DATA_DIR / f"kobo_{n}.json"):
            p.unlink(missing_ok=True)
    title = f"{n:,} Kobo submissions (the Nepal example's export), XLSX and CSV"
    sections = [(title, harness.sides_table(sides, rows=n))]
    return harness.finish("kobo_vs_pandas", sections, sides, goals, record=args.record, repeats=args.repeats)


if __name__ == "__main__":
    sys.exit(main())
