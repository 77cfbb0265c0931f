"""Benchmark the whole ``cgd-bridge convert`` (validate + map + write) against ``frictionless validate``.

The data is a 1,000,000-row version of the Kenya health-scorecard example
(``examples/kenya-health-scorecard``): the same columns and labels, aggregate, one row per
county x sex x age group x disability status (with every total) and period, with the number of
respondents and how many were satisfied. To reach a million rows without inventing areas it
covers all 47 counties of Kenya (their names as ``CL_AREA_KE`` has them) and monthly periods
(a ``month`` column, ``YYYY-MM``): 47 x 3 x 5 x 3 = 2,115 rows a month, 473 months from 1986-01,
1,000,395 rows. Totals are consistent (every Total row is the sum of its parts) and about 0.1% of
the finest cells are small (1-4 respondents), so the checks suppress them and their siblings;
nothing else is wrong, so the conversion is not refused.

Next to the CSV the script writes the example's mapping adapted to it (all 47 counties in the
REF_AREA map, FREQ ``M``, ``time: {column: month, format: month}``), the example's quality
metadata adapted to it (period, areas, sample size) and the same Table Schema without the
cgd-bridge properties for frictionless. Everything goes to ``benchmarks/_data/`` (git-ignored).

Runs, each in its own subprocess in ``benchmarks/_data/`` (wall time and peak RSS measured as in
``validate_vs_frictionless.py``, whose measuring code this script reuses):

* ``cgd-bridge convert kenya_<N>.csv --metadata ... --mapping ... --to sdmx-csv-2.0 -o ...``
* ``cgd-bridge convert ... --to sdmx-ml-2.1-ss -o ...``
* ``frictionless validate kenya_<N>.csv --schema ... --limit-errors 100000000 --json``

Requirement (issue #3): each conversion takes under 1/3 of frictionless's time on the same
CSV, i.e. ``frictionless_time / convert_time > 3`` (wall time; the CPU time of each run is
printed beside it, since on a shared machine wall time also measures the other load). The
script also checks that each output holds one observation per row. ``--profile`` instead runs
``cgd_bridge.pipeline.convert`` in this process under cProfile and prints where the time goes.

Usage (from the repository root)::

    .venv/bin/python benchmarks/convert_vs_frictionless.py                 # 1,000,000 rows
    .venv/bin/python benchmarks/convert_vs_frictionless.py --rows 100000   # quicker
    .venv/bin/python benchmarks/convert_vs_frictionless.py --profile --to sdmx-ml-2.1-ss

Exit code 0 if every requirement passes, 1 if one fails, 2 if a tool could not run.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from validate_vs_frictionless import (  # noqa: E402  (the sibling script's measuring code)
    DATA_DIR,
    FRICTIONLESS_LIMIT_ERRORS,
    Run,
    _executable,
    measure,
)

ROOT = HERE.parent
KENYA = ROOT / "examples" / "kenya-health-scorecard"
GENERATOR_VERSION = 1
SEED = 20240805

SEXES = ("Female", "Male")
AGES = ("18-24", "25-44", "45-59", "60+")
DISABILITY = ("With disability", "Without disability")
TOTAL = "Total"
FIRST_MONTH = (1986, 1)
SMALL_CELL_SHARE = 0.001  # of the finest cells
MONTHS_PER_CHUNK = 48
REQUIRED = 3.0  # frictionless_time / convert_time must be above this
FORMATS = (("SDMX-CSV 2.0", "sdmx-csv-2.0", ".csv"), ("SDMX-ML 2.1 SS", "sdmx-ml-2.1-ss", ".xml"))


# -- data --------------------------------------------------------------------------------------


def counties() -> dict[str, str]:
    """Kenya's 47 counties, code -> name, from the bundled CL_AREA_KE."""
    from cgd_bridge.structures import Structures

    names = Structures.load(None).names("CGD_BRIDGE:CL_AREA_KE")
    return {code: name for code, name in sorted(names.items()) if code.startswith("KE_")}


def _months(n: int) -> list[str]:
    y, m = FIRST_MONTH
    out = []
    for i in range(n):
        yy, mm = divmod(m - 1 + i, 12)
        out.append(f"{y + yy:04d}-{mm + 1:02d}")
    return out


def _with_totals(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Append, along each axis, the sum over that axis (the ``Total`` category, last)."""
    for ax in axes:
        a = np.concatenate([a, a.sum(axis=ax, keepdims=True)], axis=ax)
    return a


def write_csv(path: Path, months: list[str], names: list[str], seed: int) -> dict[str, Any]:
    """Write the CSV (rows in month, county, sex, age, disability order); return what it holds."""
    rng = np.random.default_rng(seed)
    cells = (len(SEXES) + 1) * (len(AGES) + 1) * (len(DISABILITY) + 1)
    shape = (len(SEXES) + 1, len(AGES) + 1, len(DISABILITY) + 1)
    s_i, a_i, d_i = (x.ravel() for x in np.indices(shape))
    sexes, ages, dis = pa.array([*SEXES, TOTAL]), pa.array([*AGES, TOTAL]), pa.array([*DISABILITY, TOTAL])
    county_arr = pa.array(names)
    schema = pa.schema(
        [(n, pa.string()) for n in ("county", "sex", "age_group", "disability_status", "month")]
        + [("respondents", pa.int64()), ("satisfied", pa.int64())]
    )
    n_achieved = small = 0
    opts = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("wb") as fh, pa_csv.CSVWriter(fh, schema, write_options=opts) as writer:
        fh.write((",".join(schema.names) + "\n").encode())  # unquoted, as spreadsheets write it
        for m0 in range(0, len(months), MONTHS_PER_CHUNK):
            block = months[m0 : m0 + MONTHS_PER_CHUNK]
            fine = (len(block), len(names), len(SEXES), len(AGES), len(DISABILITY))
            resp = rng.integers(10, 41, size=fine)
            rate = rng.uniform(0.45, 0.75, size=(len(block), len(names), 1, 1, 1))
            sat = np.clip(rng.binomial(resp, rate), 5, None)
            is_small = rng.random(fine) < SMALL_CELL_SHARE
            resp[is_small] = rng.integers(1, 5, size=int(is_small.sum()))
            sat[is_small] = rng.binomial(resp[is_small], 0.5)
            small += int(is_small.sum())
            resp = _with_totals(resp, (2, 3, 4))
            sat = _with_totals(sat, (2, 3, 4))
            n_achieved += int(resp[:, :, -1, -1, -1].sum())
            groups = len(block) * len(names)
            batch = pa.record_batch(
                [
                    county_arr.take(pa.array(np.tile(np.repeat(np.arange(len(names)), cells), len(block)))),
                    sexes.take(pa.array(np.tile(s_i, groups))),
                    ages.take(pa.array(np.tile(a_i, groups))),
                    dis.take(pa.array(np.tile(d_i, groups))),
                    pa.array(block).take(pa.array(np.repeat(np.arange(len(block)), len(names) * cells))),
                    pa.array(resp.reshape(-1)),
                    pa.array(sat.reshape(-1)),
                ],
                schema=schema,
            )
            writer.write_batch(batch)
    os.replace(tmp, path)
    rows = len(months) * len(names) * cells
    return {"rows": rows, "months": len(months), "seed": seed, "version": GENERATOR_VERSION,
            "n_achieved": n_achieved, "small_cells": small}  # fmt: skip


def _example_mapping() -> dict[str, Any]:
    """The Kenya example's mapping (in mappings/ or, in older trees, beside the example)."""
    for path in (ROOT / "mappings" / "kenya-health-scorecard.yaml", KENYA / "mapping.yaml"):
        if path.is_file():
            data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
            return data
    raise SystemExit("error: the Kenya example's mapping is missing (mappings/kenya-health-scorecard.yaml)")


def mapping(codes: dict[str, str]) -> dict[str, Any]:
    """The example's mapping for the benchmark data: 47 counties, months, FREQ M."""
    m = copy.deepcopy(_example_mapping())
    fields = m["schema"]["fields"]
    year = next(i for i, f in enumerate(fields) if f["name"] == "year")
    fields[year] = {"name": "month", "title": "Month", "type": "yearmonth", "role": "period",
                    "constraints": {"required": True}}  # fmt: skip
    m["schema"]["primaryKey"] = ["county", "sex", "age_group", "disability_status", "month"]
    m["dimensions"]["FREQ"] = {"value": "M"}
    m["dimensions"]["REF_AREA"] = {"column": "county", "map": {c: [n] for c, n in codes.items()}}
    m["time"] = {"column": "month", "format": "month"}
    m["dataset"] = "kenya-health-scorecard-benchmark"
    return m


def frictionless_schema(cgd_mapping: dict[str, Any]) -> dict[str, Any]:
    """The same Table Schema without cgd-bridge's properties (roles, dimensions, totals)."""
    custom = {"role", "dimension", "totalValues", "denominator", "disabilityValues"}
    fields = [{k: v for k, v in f.items() if k not in custom} for f in cgd_mapping["schema"]["fields"]]
    return {"fields": fields, "primaryKey": cgd_mapping["schema"]["primaryKey"]}


def metadata(info: dict[str, Any], months: list[str], names: list[str]) -> dict[str, Any]:
    """The example's quality metadata, with the benchmark's period, areas and sample size."""
    md: dict[str, Any] = yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8"))
    md["dataset"]["id"] = "ke-health-scorecard-benchmark"
    md["sampling"]["n_planned"] = md["sampling"]["n_achieved"] = info["n_achieved"]
    md["geography"]["ref_areas"] = names
    last_y, last_m = (int(x) for x in months[-1].split("-"))
    end = f"{last_y + last_m // 12:04d}-{last_m % 12 + 1:02d}-01"
    md["period"] = {
        "reference_start": f"{months[0]}-01",
        "reference_end": (np.datetime64(end) - np.timedelta64(1, "D")).item().isoformat(),
        "collection_start": f"{months[0]}-01",
        "collection_end": (np.datetime64(end) - np.timedelta64(1, "D")).item().isoformat(),
    }
    md["release"] = {"published": (np.datetime64(end) + np.timedelta64(30, "D")).item().isoformat(),
                     "frequency": "monthly"}  # fmt: skip
    return md


@dataclass
class Files:
    """The generated inputs."""

    csv: Path
    mapping: Path
    schema: Path
    metadata: Path
    rows: int
    generated: bool
    seconds: float
    small_cells: int


def prepare(rows: int, seed: int = SEED) -> Files:
    """Generate (or reuse) the CSV for about ``rows`` rows and write the descriptors."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    codes = counties()
    names = list(codes.values())
    per_month = len(names) * (len(SEXES) + 1) * (len(AGES) + 1) * (len(DISABILITY) + 1)
    months = _months(max(1, math.ceil(rows / per_month)))
    csv = DATA_DIR / f"kenya_{rows}.csv"
    sidecar = csv.with_suffix(".json")
    info: dict[str, Any] | None = None
    if csv.is_file() and sidecar.is_file():
        info = json.loads(sidecar.read_text(encoding="utf-8"))
        if (info.get("months"), info.get("seed"), info.get("version")) != (
            len(months),
            seed,
            GENERATOR_VERSION,
        ):
            info = None
    generated = info is None
    started = time.perf_counter()
    if info is None:
        info = write_csv(csv, months, names, seed)
        sidecar.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    m = mapping(codes)
    files = Files(
        csv=csv,
        mapping=DATA_DIR / "kenya_mapping.yaml",
        schema=DATA_DIR / "kenya_schema.json",
        metadata=DATA_DIR / f"kenya_quality_{rows}.yaml",
        rows=int(info["rows"]),
        generated=generated,
        seconds=seconds,
        small_cells=int(info["small_cells"]),
    )
    files.mapping.write_text(yaml.safe_dump(m, sort_keys=False, allow_unicode=True), encoding="utf-8")
    files.schema.write_text(json.dumps(frictionless_schema(m), indent=2) + "\n", encoding="utf-8")
    files.metadata.write_text(
        yaml.safe_dump(metadata(info, months, names), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return files


# -- runs --------------------------------------------------------------------------------------

CPU: dict[str, float] = {}  # run -> user + system CPU seconds of the measured process tree


def _measure(tool: str, cmd: list[str], stdout: Path) -> Run:
    """``measure`` from validate_vs_frictionless.py, plus the CPU time the run used.

    Wall time is what the requirement is about; CPU time (from ``getrusage`` of the waited-for
    children) does not depend on what else the machine is running, so it is printed beside it.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = measure(tool, cmd, stdout, DATA_DIR)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[tool] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run


def _observations(path: Path, fmt: str) -> int:
    """Observations in an output file: CSV data lines, or ``<Obs`` elements (read in blocks)."""
    needle = b"\n" if fmt.startswith("sdmx-csv") else b"<Obs "
    count, tail = 0, b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            chunk = tail + block
            count += chunk.count(needle)
            tail = chunk[-(len(needle) - 1) :] if len(needle) > 1 else b""
    return count - 1 if fmt.startswith("sdmx-csv") else count  # the CSV header line


def run_convert(files: Files, fmt: str, suffix: str) -> tuple[Run, Path]:
    """``cgd-bridge convert`` to ``fmt``; returns the run and the output file."""
    out = DATA_DIR / f"kenya_{files.rows}.{fmt}{suffix}"
    cmd = [
        _executable("cgd-bridge"), "convert", files.csv.name,
        "--metadata", files.metadata.name, "--mapping", files.mapping.name,
        "--to", fmt, "-o", out.name,
    ]  # fmt: skip
    run = _measure(f"convert {fmt}", cmd, DATA_DIR / f"convert_{fmt}.stdout")
    if run.returncode == 0 and out.is_file():
        run.rows_checked = _observations(out, fmt)
    return run, out


def run_frictionless(files: Files) -> Run:
    """``frictionless validate`` with the plain Table Schema, reading every row."""
    cmd = [
        _executable("frictionless"), "validate", files.csv.name, "--schema", files.schema.name,
        "--limit-errors", str(FRICTIONLESS_LIMIT_ERRORS), "--json",
    ]  # fmt: skip
    run = _measure("frictionless", cmd, DATA_DIR / f"frictionless_kenya_{files.rows}.json")
    try:
        data = json.loads(run.stdout.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return run
    tasks = data.get("tasks") or []
    if tasks:
        run.rows_checked = tasks[0].get("stats", {}).get("rows")
        errors = sum(len(t.get("errors", [])) for t in tasks)
        run.findings = {"errors": errors} if errors else {}
    return run


def _report(runs: list[Run], rows: int) -> bool:
    """Print the table and each run's problems; False when a run failed or lost rows."""
    header = (
        f"{'run':<26}{'seconds':>10}{'CPU s':>8}{'peak MiB':>11}{'rows/s':>12}{'rows out':>12}{'exit':>6}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for r in runs:
        got = "?" if r.rows_checked is None else f"{r.rows_checked:,}"
        rate = f"{rows / r.seconds:,.0f}"
        cpu = CPU.get(r.tool, float("nan"))
        print(
            f"{r.tool:<26}{r.seconds:>10.2f}{cpu:>8.2f}{r.peak_mib:>11.0f}{rate:>12}{got:>12}{r.returncode:>6}"
        )
    for r in runs:
        allowed = (0, 1) if r.tool == "frictionless" else (0,)  # frictionless exits 1 on errors it reports
        if r.returncode not in allowed or r.rows_checked != rows:
            ok = False
            print(
                f"\n!! {r.tool}: exit {r.returncode}, {r.rows_checked} rows/observations (expected {rows:,})"
            )
            print(
                "   "
                + "\n   ".join((r.stderr.strip() or r.stdout.read_text(errors="replace")).splitlines()[-30:])
            )
        elif r.findings:
            print(f"\n{r.tool}: {r.findings}")
    return ok


def speed(rows: int, *, keep: bool) -> int:
    """Time both conversions and frictionless; 0 PASS, 1 FAIL, 2 a tool could not run."""
    files = prepare(rows)
    how = f"generated in {files.seconds:.1f} s" if files.generated else "reused"
    size = files.csv.stat().st_size / 2**20
    print(f"data: {files.csv.relative_to(ROOT)} ({files.rows:,} rows, {size:,.0f} MiB, {how}); "
          f"{files.small_cells:,} small finest cells")  # fmt: skip
    runs, outputs = [], []
    for _, fmt, suffix in FORMATS:
        run, out = run_convert(files, fmt, suffix)
        runs.append(run)
        outputs.append(out)
    print(f"frictionless runs with --limit-errors {FRICTIONLESS_LIMIT_ERRORS} so that it reads every row")
    friction = run_frictionless(files)
    runs.append(friction)
    print()
    usable = _report(runs, files.rows)
    status = 0 if usable else 2
    if usable:
        print()
        for (title, _, _), run in zip(FORMATS, runs, strict=False):
            ratio = friction.seconds / run.seconds
            verdict = "PASS" if ratio > REQUIRED else "FAIL"
            print(
                f"{title}: frictionless_time / convert_time = {friction.seconds:.2f} / {run.seconds:.2f} "
                f"= {ratio:.1f}x (required > {REQUIRED:g}x: under 1/3 of its time): {verdict}"
            )
            cpu_ratio = CPU["frictionless"] / CPU[run.tool]
            print(f"    (CPU time: {CPU['frictionless']:.2f} / {CPU[run.tool]:.2f} = {cpu_ratio:.1f}x)")
            if verdict == "FAIL":
                status = 1
    if not keep:
        for p in [*outputs, *(r.stdout for r in runs), files.metadata]:
            p.unlink(missing_ok=True)
        if files.generated:
            files.csv.unlink(missing_ok=True)
            files.csv.with_suffix(".json").unlink(missing_ok=True)
    else:
        print(f"\nkept: {DATA_DIR.relative_to(ROOT)}/ (a later run with the same --rows reuses the CSV)")
    return status


def profile(rows: int, fmt: str, top: int) -> int:
    """Run ``cgd_bridge.pipeline.convert`` in this process under cProfile; print the top entries."""
    import cProfile
    import pstats

    from cgd_bridge.pipeline import convert

    files = prepare(rows)
    out = DATA_DIR / f"kenya_{files.rows}.profile{'.csv' if 'csv' in fmt else '.xml'}"
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
    return 0 if result.refused is None else 2


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark (or the profile)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of data (default 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files in benchmarks/_data/")
    parser.add_argument("--profile", action="store_true", help="profile one conversion in-process instead")
    parser.add_argument("--to", default="sdmx-ml-2.1-ss", help="the format to profile (with --profile)")
    parser.add_argument("--top", type=int, default=30, help="profile entries to print (with --profile)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.profile:
        return profile(args.rows, args.to, args.top)
    return speed(args.rows, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
