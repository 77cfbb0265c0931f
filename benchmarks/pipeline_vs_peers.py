"""``cgd-bridge validate`` and ``convert`` with the real Kenya mapping, against their peers.

Sides, each its own subprocess, interleaved (see harness.py), on the same generated CSV
(kenya_data.py: the Kenya example at N rows, with its real mapping from ``mappings/``):

* ``cgd-bridge validate`` with ``--metadata`` and ``--mapping`` (every check, and the harmonise
  step a real submission runs: codes, duplicate series keys, constraints, suppression);
* ``cgd-bridge convert`` to SDMX-CSV 2.0 and to SDMX-ML 2.1 StructureSpecific (validate + map +
  write);
* ``frictionless validate`` with the same Table Schema (types, constraints, primary key), with
  ``--limit-errors`` raised so that it reads every row;
* pyarrow reading the same CSV (``pyarrow.csv.read_csv``): the floor for any columnar reader.

Every run's answer is checked: the validate report counts every row, each conversion holds one
observation per row, frictionless and pyarrow read every row. A run that is wrong makes the
benchmark exit 2.

Small files: the same tools on the bundled example itself (180 rows; validate also with no
cache, ``CGD_BRIDGE_CACHE_DIR=""``), the start-up of a validate, and ``cgd-bridge --help``; the
package is byte-compiled first, as an install has it. Memory (``--memory-rows A,B``): validate
and convert at two sizes, their peaks.

Goals (issue #16; CPU-time medians of the interleaved runs, which a loaded machine changes least):

* validate, 1M rows: >= 15x faster than ``frictionless validate``, within 5x of pyarrow reading;
* convert, 1M rows: >= 8x faster than ``frictionless validate`` alone;
* small file: validate faster than frictionless; the start-up of a validate (imports, the
  mapping, its Table Schema, the metadata, the DSD's contract) and ``cgd-bridge --help`` each
  under 0.5 s of CPU;
* memory: validate and convert peak under 1 GiB at the larger size, and no more than 1.25x the
  peak at the smaller one (bounded by the output, not the input).

Usage (from the repository root, with the project's venv)::

    .venv/bin/python benchmarks/pipeline_vs_peers.py                      # 1,000,000 rows, 3 runs each
    .venv/bin/python benchmarks/pipeline_vs_peers.py --rows 100000        # quicker
    .venv/bin/python benchmarks/pipeline_vs_peers.py --memory-rows 1000000,10000000
    .venv/bin/python benchmarks/pipeline_vs_peers.py --tiny               # what CI runs (seconds)
    .venv/bin/python benchmarks/pipeline_vs_peers.py --profile --to sdmx-ml-2.1-ss   # where the time goes

Exit code 0 every goal passes, 1 one fails, 2 a run failed or gave a wrong answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402
import kenya_data  # noqa: E402
from harness import Goal, Side  # noqa: E402

FRICTIONLESS_LIMIT_ERRORS = 100_000_000
FORMATS = (("SDMX-CSV 2.0", "sdmx-csv-2.0", ".csv"), ("SDMX-ML 2.1 SS", "sdmx-ml-2.1-ss", ".xml"))
PYARROW_READ = "import sys, pyarrow.csv as c; print(c.read_csv(sys.argv[1]).num_rows)"
#: the start-up of a validate: what `cgd-bridge validate --mapping` imports and reads before it
#: touches the data (the CLI and the pipeline with the checks, the mapping and its Table Schema,
#: the metadata, the target DSD's contract from the structures); pandas (pyarrow imports it at
#: the first array built from Python values) and scipy (the first disclosure LP) come with work
STARTUP = """
import sys
import cgd_bridge.cli, cgd_bridge.pipeline
from cgd_bridge.mapping import load_mapping, load_mapping_schema
from cgd_bridge.metadata import load_metadata
from cgd_bridge.structures import Structures
mapping = load_mapping(sys.argv[1])[0]
load_mapping_schema(sys.argv[1])
load_metadata(sys.argv[2])
print(len(Structures().contract(mapping.dataflow).dimension_ids))
"""
MEMORY_LIMIT_MIB = 1024
MEMORY_GROWTH = 1.25


def validate_side(name: str, csv: Path, metadata: Path, mapping: Path, rows: int, out: Path) -> Side:
    """``cgd-bridge validate`` writing a JSON report; right when the report counts every row."""
    cmd = [
        harness.executable("cgd-bridge"),
        "validate",
        str(csv),
        "--metadata",
        str(metadata),
        "--mapping",
        str(mapping),
        "--format",
        "json",
        "-o",
        str(out),
    ]

    def check(_: harness.Sample) -> str | None:
        try:
            stats = json.loads(out.read_text(encoding="utf-8"))["cgd:stats"]
        except (OSError, ValueError, KeyError) as exc:
            return f"no readable report ({exc})"
        return (
            None if stats.get("rows") == rows else f"the report counts {stats.get('rows')} rows, not {rows}"
        )

    return Side(name, cmd, check)


def convert_side(name: str, csv: Path, metadata: Path, mapping: Path, rows: int, fmt: str, out: Path) -> Side:
    """``cgd-bridge convert``; right when the output holds one observation per row."""
    cmd = [
        harness.executable("cgd-bridge"),
        "convert",
        str(csv),
        "--metadata",
        str(metadata),
        "--mapping",
        str(mapping),
        "--to",
        fmt,
        "-o",
        str(out),
    ]

    def check(_: harness.Sample) -> str | None:
        if not out.is_file():
            return "no output written"
        got = kenya_data.observations(out, fmt)
        return None if got == rows else f"{got} observations written, not {rows}"

    return Side(name, cmd, check)


def frictionless_side(csv: Path, schema: Path, rows: int) -> Side:
    """``frictionless validate`` reading every row; right when its report counts every row."""
    # frictionless refuses absolute paths and paths outside its working folder ("not safe")
    cmd = [
        harness.executable("frictionless"),
        "validate",
        csv.name,
        "--schema",
        schema.name,
        "--limit-errors",
        str(FRICTIONLESS_LIMIT_ERRORS),
        "--json",
    ]
    if schema.parent != csv.parent:
        raise ValueError(f"{schema} must be beside {csv} for frictionless")

    def check(sample: harness.Sample) -> str | None:
        try:
            tasks = json.loads(sample.stdout).get("tasks") or [{}]
        except ValueError:
            return "no JSON report"
        got = tasks[0].get("stats", {}).get("rows")
        return None if got == rows else f"frictionless read {got} rows, not {rows}"

    return Side("frictionless validate", cmd, check, cwd=csv.parent)


def pyarrow_side(csv: Path, rows: int) -> Side:
    """pyarrow reading the CSV into a table; right when it has every row."""

    def check(sample: harness.Sample) -> str | None:
        got = sample.stdout.strip()
        return None if got == str(rows) else f"pyarrow read {got!r} rows, not {rows}"

    return Side("pyarrow read_csv", [sys.executable, "-c", PYARROW_READ, str(csv)], check)


def large(
    rows: int, repeats: int, keep: bool, warmup: bool
) -> tuple[list[tuple[str, str]], list[Side], list[Goal]]:
    """The 1M-row comparison: validate, two conversions, frictionless, pyarrow."""
    files = kenya_data.prepare(rows)
    n = files.rows
    mib = files.csv.stat().st_size / 2**20
    how = "generated" if files.generated else "reused"
    print(
        f"data: {files.csv.relative_to(harness.ROOT)} ({n:,} rows, {mib:,.0f} MiB, {how}); "
        f"{files.small_cells:,} small finest cells"
    )
    outs = [harness.DATA_DIR / f"kenya_{n}.out{suffix}" for _, _, suffix in FORMATS]
    report = harness.DATA_DIR / f"kenya_{n}.report.json"
    validate = validate_side("cgd-bridge validate", files.csv, files.metadata, files.mapping, n, report)
    converts = [
        convert_side(f"cgd-bridge convert -> {title}", files.csv, files.metadata, files.mapping, n, fmt, out)
        for (title, fmt, _), out in zip(FORMATS, outs, strict=True)
    ]
    friction = frictionless_side(files.csv, files.schema, n)
    arrow = pyarrow_side(files.csv, n)
    sides = [validate, *converts, friction, arrow]
    harness.interleave(sides, repeats, warmup=warmup)
    goals = []
    if not any(s.problems for s in sides):
        goals = [
            harness.ratio(friction, validate, f"validate vs frictionless, {n:,} rows (CPU)", 15),
            Goal(
                f"validate / pyarrow read_csv, {n:,} rows (CPU)",
                validate.median() / arrow.median(),
                "x",
                at_most=5,
            ),
            *(
                harness.ratio(friction, c, f"convert to {t} vs frictionless validate (CPU)", 8)
                for c, (t, _, _) in zip(converts, FORMATS, strict=True)
            ),
        ]
    if not keep:
        for p in [*outs, report, files.metadata]:
            p.unlink(missing_ok=True)
        if files.generated:
            files.csv.unlink(missing_ok=True)
            files.csv.with_suffix(".json").unlink(missing_ok=True)
    return (
        [
            (
                f"{n:,} rows: the Kenya example's shape with its real mapping",
                harness.sides_table(sides, rows=n),
            )
        ],
        sides,
        goals,
    )


def small(repeats: int, warmup: bool) -> tuple[list[tuple[str, str]], list[Side], list[Goal]]:
    """The bundled Kenya example (180 rows) and start-up."""
    example = kenya_data.KENYA
    metadata = example / "quality.yaml"
    mapping = harness.ROOT / "mappings" / "kenya-health-scorecard.yaml"
    harness.DATA_DIR.mkdir(parents=True, exist_ok=True)
    data = harness.DATA_DIR / "kenya_example.csv"  # beside the schema, for frictionless
    shutil.copyfile(example / "data.csv", data)
    rows = sum(1 for _ in data.open(encoding="utf-8")) - 1
    schema = harness.DATA_DIR / "kenya_example_schema.json"
    schema.write_text(
        json.dumps(kenya_data.frictionless_schema(kenya_data._example_mapping())), encoding="utf-8"
    )
    report = harness.DATA_DIR / "kenya_example.report.json"
    harness.byte_compile()  # as an install has it (see harness.byte_compile)
    validate = validate_side("cgd-bridge validate (example)", data, metadata, mapping, rows, report)
    # the same with no cache: every run parses the structure files with sdmx1 and has
    # frictionless judge the mapping's Table Schema (what the first run after an install pays)
    report_cold = harness.DATA_DIR / "kenya_example.cold.report.json"
    cold = validate_side("cgd-bridge validate (no cache)", data, metadata, mapping, rows, report_cold)
    cold.env = {**os.environ, "CGD_BRIDGE_CACHE_DIR": ""}
    friction = frictionless_side(data, schema, rows)
    friction.name = "frictionless validate (example)"

    def shows_usage(sample: harness.Sample) -> str | None:
        return None if "convert" in sample.stdout else "no usage text"

    helps = Side("cgd-bridge --help", [harness.executable("cgd-bridge"), "--help"], shows_usage)

    def fifteen_dimensions(sample: harness.Sample) -> str | None:
        got = sample.stdout.strip()
        return None if got == "15" else f"the contract has {got!r} dimensions, not 15"

    startup = Side(
        "validate start-up (imports, inputs, DSD)",
        [sys.executable, "-c", STARTUP, str(mapping), str(metadata)],
        fifteen_dimensions,
    )
    sides = [validate, cold, friction, startup, helps]
    harness.interleave(sides, repeats, warmup=warmup)
    goals = []
    if not any(s.problems for s in sides):
        goals = [
            harness.ratio(friction, validate, f"validate vs frictionless, the {rows}-row example (CPU)", 1),
            Goal(
                "validate start-up: imports, mapping, metadata, DSD (CPU seconds)",
                startup.median(),
                " s",
                at_most=0.5,
            ),
            Goal("cgd-bridge --help, start-up CPU seconds", helps.median(), " s", at_most=0.5),
        ]
    for p in (report, report_cold, schema, data):
        p.unlink(missing_ok=True)
    return (
        [(f"Small file: the bundled example ({rows} rows) and start-up", harness.sides_table(sides))],
        sides,
        goals,
    )


def memory(
    sizes: list[int], repeats: int, keep: bool
) -> tuple[list[tuple[str, str]], list[Side], list[Goal]]:
    """Peak memory of validate and convert at each size (fewer runs: memory varies little)."""
    sides: list[Side] = []
    by_size: dict[int, tuple[Side, Side]] = {}
    made = []
    for rows in sizes:
        files = kenya_data.prepare(rows)
        made.append(files)
        n = files.rows
        out = harness.DATA_DIR / f"kenya_{n}.mem.csv"
        v = validate_side(
            f"validate {n:,} rows",
            files.csv,
            files.metadata,
            files.mapping,
            n,
            harness.DATA_DIR / f"kenya_{n}.mem.json",
        )
        c = convert_side(
            f"convert -> SDMX-CSV 2.0, {n:,} rows",
            files.csv,
            files.metadata,
            files.mapping,
            n,
            "sdmx-csv-2.0",
            out,
        )
        by_size[n] = (v, c)
        sides += [v, c]
    harness.interleave(sides, repeats, warmup=False)
    goals = []
    if not any(s.problems for s in sides):
        lo, hi = min(by_size), max(by_size)
        for i, what in enumerate(("validate", "convert")):
            big, little = by_size[hi][i], by_size[lo][i]
            goals.append(
                Goal(f"{what} peak at {hi:,} rows", big.median("peak_mib"), " MiB", at_most=MEMORY_LIMIT_MIB)
            )
            goals.append(
                Goal(
                    f"{what} peak {hi:,} / {lo:,} rows",
                    big.median("peak_mib") / little.median("peak_mib"),
                    "x",
                    at_most=MEMORY_GROWTH,
                )
            )
    for files in made:
        if not keep:
            for p in harness.DATA_DIR.glob(f"kenya_{files.rows}.mem.*"):
                p.unlink(missing_ok=True)
            files.metadata.unlink(missing_ok=True)
            if files.generated:
                files.csv.unlink(missing_ok=True)
                files.csv.with_suffix(".json").unlink(missing_ok=True)
    return [("Memory: peak resident set by input size", harness.sides_table(sides))], sides, goals


def profile(rows: int, fmt: str, top: int) -> int:
    """Run ``cgd_bridge.pipeline.convert`` in this process under cProfile; print the top entries."""
    import cProfile
    import pstats
    import time

    from cgd_bridge.pipeline import convert

    files = kenya_data.prepare(rows)
    out = harness.DATA_DIR / f"kenya_{files.rows}.profile{'.csv' if 'csv' in fmt else '.xml'}"
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    result = convert(files.csv, metadata=files.metadata, mapping=files.mapping, to=fmt, output=out)
    prof.disable()
    refused = "" if result.refused is None else f", REFUSED: {result.refused}"
    print(
        f"convert to {fmt}: {time.perf_counter() - started:.2f} s under cProfile, "
        f"{result.written:,} observations{refused}"
    )
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)
    out.unlink(missing_ok=True)
    return harness.ALL_PASS if result.refused is None else harness.RUN_FAILED


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the three parts, print (and record) the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    harness.common_options(parser)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of the large comparison (default 1,000,000)"
    )
    parser.add_argument(
        "--memory-rows",
        default="",
        help="two sizes A,B for the memory part (e.g. 1000000,10000000); off by default",
    )
    parser.add_argument(
        "--parts",
        default="large,small",
        help="which comparisons to run: large (--rows), small (the example and start-up), or none "
        "(''); memory runs when --memory-rows is given (default large,small). --record writes a "
        "run of some parts into its own README block (results:pipeline_vs_peers_small, ...)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile one conversion in this process instead"
    )
    parser.add_argument("--to", default="sdmx-ml-2.1-ss", help="the format to profile (with --profile)")
    parser.add_argument("--top", type=int, default=30, help="profile entries to print (with --profile)")
    args = parser.parse_args(argv)
    if args.profile:
        return profile(args.rows, args.to, args.top)
    warmup = not args.tiny
    if args.tiny:  # one unwarmed run of every side: checks every answer, judges nothing
        args.rows, args.memory_rows, args.repeats = 2_000, "2000,8000", 1
    if args.rows < 1 or args.repeats < 1:
        parser.error("--rows and --repeats must be at least 1")
    sections, sides, goals = [], [], []
    chosen = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not chosen <= {"large", "small"}:
        parser.error("--parts takes large, small or both, e.g. --parts small")
    parts = []
    if "large" in chosen:
        parts.append(lambda: large(args.rows, args.repeats, args.keep, warmup))
    if "small" in chosen:
        parts.append(lambda: small(args.repeats, warmup))
    if args.memory_rows:
        try:
            sizes = sorted({int(x) for x in args.memory_rows.split(",")})
        except ValueError:
            parser.error("--memory-rows takes two sizes, e.g. 1000000,10000000")
        parts.append(lambda: memory(sizes, max(1, min(args.repeats, 2)), args.keep))
    # the full run (large and small, with or without memory) fills the README's main block; a run
    # of some parts fills its own block, so that it does not replace the others' figures
    names = sorted(chosen) + (["memory"] if args.memory_rows else [])
    full = chosen == {"large", "small"}
    record_name = "pipeline_vs_peers" if full else "_".join(["pipeline_vs_peers", *names])
    for part in parts:
        sec, sd, gl = part()
        sections += sec
        sides += sd
        goals += gl
    return harness.finish(record_name, sections, sides, goals, record=args.record, repeats=args.repeats)


if __name__ == "__main__":
    sys.exit(main())
