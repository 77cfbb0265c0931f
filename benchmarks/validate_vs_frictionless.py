"""Benchmark ``cgd-bridge validate`` against ``frictionless validate`` on a large aggregate CSV.

The script generates (seeded, vectorised) a CSO-style *aggregate* table: one row per cell of
county x sex x age group x disability status x year, with ``respondents`` (the denominator) and
``satisfied`` (a count of them). Totals are consistent: the finest cells are drawn first and
every ``Total`` row is the sum of its parts. A small, realistic share of problems is injected so
that the checks have work to do:

* about 0.1% of the rows are small cells (respondents 1-4), which also forces secondary
  suppression of their siblings;
* a handful of ``n/a`` values in ``respondents`` (type errors);
* a handful of respondents figures off by a few (parts no longer add up to their total).

Next to the CSV it writes a cgd-mapping/1.0 mapping (the Table Schema with cgd-bridge roles),
the same Table Schema as plain JSON for frictionless, and a minimal cgd-quality/1.0 metadata
file. Everything goes to ``benchmarks/_data/`` (git-ignored); a CSV generated earlier for the
same number of rows (kept with ``--keep``) is reused.

Both validators run as subprocesses, so each one's peak memory is its own; wall time is
measured here, peak RSS with GNU ``/usr/bin/time -v`` (or, without it, a small Python wrapper
reading ``getrusage(RUSAGE_CHILDREN)``). frictionless runs with ``--limit-errors`` raised so
that it reads every row instead of stopping at its default 1,000 errors.

Modes::

    python benchmarks/validate_vs_frictionless.py                       # speed, 1,000,000 rows
    python benchmarks/validate_vs_frictionless.py --rows 100000         # quicker
    python benchmarks/validate_vs_frictionless.py --memory-rows 10000000  # memory, cgd-bridge only

Requirements checked: frictionless time / cgd-bridge time >= 5 (speed mode) and cgd-bridge
peak RSS < 1.5 GiB on 10 million rows (memory mode). Exit code 0 if every requirement
passes, 1 if one fails, 2 if a validator could not run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import yaml

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "_data"
GENERATOR_VERSION = 1
SEED = 20240611

SEXES = ("Female", "Male")
AGES = ("18-34", "35-59", "60+")
DISABILITY = ("With disability", "Without disability")
TOTAL = "Total"
YEARS = tuple(range(2015, 2025))
CELLS_PER_AREA = len(YEARS) * (len(SEXES) + 1) * (len(AGES) + 1) * (len(DISABILITY) + 1)  # 360
AREAS_PER_CHUNK = 2_000  # 720,000 rows per write

SMALL_CELL_SHARE = 0.001  # of all rows (small cells are drawn among the finest cells)
SPEED_REQUIREMENT = 5.0  # frictionless time / cgd-bridge time
MEMORY_LIMIT_MIB = 1.5 * 1024  # 1.5 GiB
FRICTIONLESS_LIMIT_ERRORS = 100_000_000
KEY = ["county", "sex", "age_group", "disability_status", "year"]


# -- data --------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """The generated files and what was injected into the data."""

    csv: Path
    mapping: Path
    schema_json: Path
    metadata: Path
    rows: int
    areas: int
    n_achieved: int
    injected: dict[str, int]
    generated: bool  # False when an earlier CSV was reused
    seconds: float = 0.0


def _with_totals(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Append, along each axis, the sum over that axis (the ``Total`` category, last)."""
    for ax in axes:
        a = np.concatenate([a, a.sum(axis=ax, keepdims=True)], axis=ax)
    return a


def _pick(rng: np.random.Generator, population: int, k: int) -> np.ndarray:
    return np.sort(rng.choice(population, size=min(k, population), replace=False))


def write_csv(path: Path, areas: int, seed: int) -> dict[str, Any]:
    """Write the aggregate CSV for ``areas`` areas; return rows, n_achieved and injected counts."""
    rows = areas * CELLS_PER_AREA
    rng = np.random.default_rng(seed)
    problems = np.random.default_rng(seed + 1)
    na_rows = _pick(problems, rows, max(5, rows // 200_000))
    off_rows = _pick(problems, rows, max(5, rows // 100_000))
    off_rows = np.setdiff1d(off_rows, na_rows)
    width = max(5, len(str(areas)))
    sexes = pa.array([*SEXES, TOTAL])
    ages = pa.array([*AGES, TOTAL])
    dis = pa.array([*DISABILITY, TOTAL])
    # the per-row position inside one area: year, sex, age, disability (C order, fastest last)
    shape = (len(YEARS), len(SEXES) + 1, len(AGES) + 1, len(DISABILITY) + 1)
    y_i, s_i, a_i, d_i = (x.ravel() for x in np.indices(shape))
    schema = pa.schema(
        [(n, pa.string()) for n in ("county", "sex", "age_group", "disability_status")]
        + [("year", pa.int32()), ("respondents", pa.string()), ("satisfied", pa.int64())]
    )
    n_achieved = 0
    small = 0
    all_total = (s_i == len(SEXES)) & (a_i == len(AGES)) & (d_i == len(DISABILITY))
    opts = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("wb") as fh, pa_csv.CSVWriter(fh, schema, write_options=opts) as writer:
        fh.write((",".join(schema.names) + "\n").encode())  # unquoted, as spreadsheets write it
        for a0 in range(0, areas, AREAS_PER_CHUNK):
            n = min(AREAS_PER_CHUNK, areas - a0)
            fine_shape = (n, len(YEARS), len(SEXES), len(AGES), len(DISABILITY))
            resp = rng.integers(30, 200, size=fine_shape)
            rate = rng.uniform(0.4, 0.8, size=(n, 1, 1, 1, 1))
            sat = np.clip(rng.binomial(resp, rate), 5, None)
            # small cells among the finest cells (a third of all rows)
            is_small = rng.random(fine_shape) < SMALL_CELL_SHARE * 3
            resp[is_small] = rng.integers(1, 5, size=int(is_small.sum()))
            sat[is_small] = rng.binomial(resp[is_small], 0.5)
            small += int(is_small.sum())
            resp = _with_totals(resp, (2, 3, 4)).reshape(-1)
            sat = _with_totals(sat, (2, 3, 4)).reshape(-1)
            r0 = a0 * CELLS_PER_AREA
            local_off = off_rows[(off_rows >= r0) & (off_rows < r0 + resp.size)] - r0
            resp[local_off] += 3  # parts no longer add up to the total (or vice versa)
            na = np.zeros(resp.size, dtype=bool)
            na[na_rows[(na_rows >= r0) & (na_rows < r0 + resp.size)] - r0] = True
            tot = np.tile(all_total, n) & ~na
            n_achieved += int(resp[tot].sum())
            county = pa.array([f"Area-{i:0{width}d}" for i in range(a0 + 1, a0 + n + 1)])
            area_idx = np.repeat(np.arange(n), CELLS_PER_AREA)
            resp_text = pc.if_else(pa.array(na), pa.scalar("n/a"), pc.cast(pa.array(resp), pa.string()))
            batch = pa.record_batch(
                [
                    county.take(pa.array(area_idx)),
                    sexes.take(pa.array(np.tile(s_i, n))),
                    ages.take(pa.array(np.tile(a_i, n))),
                    dis.take(pa.array(np.tile(d_i, n))),
                    pa.array(np.tile(np.asarray(YEARS, dtype=np.int32)[y_i], n)),
                    resp_text,
                    pa.array(sat),
                ],
                schema=schema,
            )
            writer.write_batch(batch)
    os.replace(tmp, path)
    return {
        "rows": rows,
        "areas": areas,
        "seed": seed,
        "version": GENERATOR_VERSION,
        "n_achieved": n_achieved,
        "injected": {
            "small finest cells (respondents 1-4)": small,
            "'n/a' in respondents (type errors)": int(na_rows.size),
            "respondents off by 3 (totals)": int(off_rows.size),
        },
    }


def table_schema(*, cgd: bool) -> dict[str, Any]:
    """The Table Schema of the generated data; with ``cgd``, with the cgd-bridge roles."""

    def disagg(name: str, dimension: str, values: tuple[str, ...]) -> dict[str, Any]:
        f: dict[str, Any] = {
            "name": name,
            "type": "string",
            "constraints": {"required": True, "enum": [*values, TOTAL]},
        }
        if cgd:
            f.update(role="disaggregation", dimension=dimension, totalValues=[TOTAL])
        return f

    fields: list[dict[str, Any]] = [
        {"name": "county", "type": "string", "constraints": {"required": True}, "role": "area"},
        disagg("sex", "SEX", SEXES),
        disagg("age_group", "AGE", AGES),
        disagg("disability_status", "DISABILITY_STATUS", DISABILITY),
        {"name": "year", "type": "year", "constraints": {"required": True}, "role": "period"},
        {"name": "respondents", "type": "integer", "constraints": {"minimum": 0}, "role": "denominator"},
        {
            "name": "satisfied",
            "type": "integer",
            "constraints": {"minimum": 0},
            "role": "count",
            "denominator": "respondents",
        },
    ]
    if not cgd:
        custom = {"role", "dimension", "totalValues", "denominator"}
        fields = [{k: v for k, v in f.items() if k not in custom} for f in fields]
    schema: dict[str, Any] = {"fields": fields, "primaryKey": list(KEY)}
    if cgd:
        schema["dataKind"] = "aggregate"
    return schema


def metadata(n_achieved: int, areas: int) -> dict[str, Any]:
    """A minimal cgd-quality/1.0 record (incomplete on purpose: findings are expected)."""
    return {
        "profile": "cgd-quality/1.0",
        "dataset": {
            "id": "benchmark-satisfaction",
            "version": "1.0.0",
            "title": "Synthetic satisfaction with public services (benchmark)",
        },
        "producer": {"organisation": "Benchmark CSO", "type": "CSO", "contact_email": "data@example.org"},
        "ownership": {"rights_holder": "Benchmark CSO"},
        "purpose": {"description": "Benchmark data for cgd-bridge.", "sdg_targets": ["16.6"]},
        "participation": {"stages": ["design", "collection"]},
        "method": {"type": "household_survey", "instrument": "satisfaction-form.xlsx"},
        "sampling": {
            "design": "probability",
            "frame": f"{areas} synthetic areas",
            "n_planned": n_achieved,
            "n_achieved": n_achieved,
        },
        "self_identification": True,
        "geography": {"level": "admin2"},
        "period": {
            "reference_start": "2015-01-01",
            "reference_end": "2024-12-31",
            "collection_start": "2015-03-01",
            "collection_end": "2024-11-30",
        },
        "consent": {"obtained": True, "form": "verbal", "scope": "sharing_with_nso"},
        "privacy": {"pii_removed": True},
        "licence": {"id": "CC-BY-4.0"},
    }


def prepare(rows: int, seed: int = SEED) -> Dataset:
    """Generate (or reuse) the CSV for about ``rows`` rows and write the descriptor files."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    areas = max(1, math.ceil(rows / CELLS_PER_AREA))
    csv = DATA_DIR / f"aggregate_{rows}.csv"
    sidecar = csv.with_suffix(".json")
    info: dict[str, Any] | None = None
    if csv.is_file() and sidecar.is_file():
        info = json.loads(sidecar.read_text(encoding="utf-8"))
        if (info.get("areas"), info.get("seed"), info.get("version")) != (areas, seed, GENERATOR_VERSION):
            info = None
    generated = info is None
    started = time.perf_counter()
    if info is None:
        info = write_csv(csv, areas, seed)
        sidecar.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    mapping = DATA_DIR / "mapping.yaml"
    mapping.write_text(
        yaml.safe_dump(
            {"profile": "cgd-mapping/1.0", "id": "benchmark-aggregate", "schema": table_schema(cgd=True)},
            sort_keys=False,
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    schema_json = DATA_DIR / "schema.json"
    schema_json.write_text(json.dumps(table_schema(cgd=False), indent=2) + "\n", encoding="utf-8")
    meta = DATA_DIR / f"quality_{rows}.yaml"
    meta.write_text(
        yaml.safe_dump(metadata(info["n_achieved"], areas), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return Dataset(
        csv=csv,
        mapping=mapping,
        schema_json=schema_json,
        metadata=meta,
        rows=int(info["rows"]),
        areas=areas,
        n_achieved=int(info["n_achieved"]),
        injected=dict(info["injected"]),
        generated=generated,
        seconds=seconds,
    )


# -- measuring ---------------------------------------------------------------------------------

_WRAPPER = """
import json, resource, subprocess, sys
rc = subprocess.run(sys.argv[2:]).returncode
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if sys.platform == "darwin":
    kb //= 1024
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": rc, "maxrss_kb": kb}, fh)
sys.exit(rc)
"""


@dataclass
class Run:
    """One measured subprocess."""

    tool: str
    cmd: list[str]
    seconds: float
    peak_mib: float
    returncode: int
    stdout: Path
    stderr: str
    rows_checked: int | None = None
    findings: dict[str, int] = field(default_factory=dict)


def _gnu_time() -> str | None:
    path = "/usr/bin/time"
    if not sys.platform.startswith("linux") or not os.access(path, os.X_OK):
        return None
    probe = subprocess.run([path, "-v", "true"], capture_output=True, text=True, check=False)
    return path if "Maximum resident set size" in probe.stderr else None


def measure(tool: str, cmd: list[str], stdout: Path, cwd: Path) -> Run:
    """Run ``cmd`` in ``cwd`` (stdout to a file); return wall seconds and peak RSS."""
    timer = _gnu_time()
    fd, rusage_file = tempfile.mkstemp(prefix="rusage-", suffix=".txt", dir=DATA_DIR)
    os.close(fd)
    if timer:
        full = [timer, "-v", "-o", rusage_file, *cmd]
    else:
        full = [sys.executable, "-c", _WRAPPER, rusage_file, *cmd]
    try:
        with stdout.open("wb") as out:
            started = time.perf_counter()
            proc = subprocess.run(full, cwd=cwd, stdout=out, stderr=subprocess.PIPE, check=False)
            seconds = time.perf_counter() - started
        text = Path(rusage_file).read_text(encoding="utf-8")
    finally:
        Path(rusage_file).unlink(missing_ok=True)
    if timer:
        m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
        kb = int(m.group(1)) if m else 0
    else:
        kb = int(json.loads(text or "{}").get("maxrss_kb", 0))
    return Run(
        tool=tool,
        cmd=cmd,
        seconds=seconds,
        peak_mib=kb / 1024,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=proc.stderr.decode("utf-8", "replace"),
    )


def _executable(name: str) -> str:
    local = Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"error: '{name}' not found next to {sys.executable} or on PATH")
    return found


def run_cgd(ds: Dataset, report: Path) -> Run:
    """``cgd-bridge validate`` with the mapping and metadata, JSON report to ``report``."""
    cmd = [
        _executable("cgd-bridge"), "validate", ds.csv.name,
        "--metadata", ds.metadata.name, "--mapping", ds.mapping.name,
        "--format", "json", "-o", report.name,
    ]  # fmt: skip
    run = measure("cgd-bridge", cmd, DATA_DIR / f"cgd_{ds.rows}.stdout", DATA_DIR)
    if run.returncode in (0, 1) and report.is_file():
        data = json.loads(report.read_text(encoding="utf-8"))
        table = next((t for t in data["tasks"] if t.get("type") == "table"), None)
        run.rows_checked = table["stats"].get("rows") if table else None
        run.findings = {c["code"]: c["count"] for c in data.get("cgd:counts", [])}
    return run


def run_frictionless(ds: Dataset) -> Run:
    """``frictionless validate`` with the plain Table Schema and every row read."""
    cmd = [
        _executable("frictionless"), "validate", ds.csv.name,
        "--schema", ds.schema_json.name,
        "--limit-errors", str(FRICTIONLESS_LIMIT_ERRORS), "--json",
    ]  # fmt: skip
    run = measure("frictionless", cmd, DATA_DIR / f"frictionless_{ds.rows}.json", DATA_DIR)
    try:
        data = json.loads(run.stdout.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return run
    tasks = data.get("tasks") or []
    if tasks:
        run.rows_checked = tasks[0].get("stats", {}).get("rows")
        run.findings = dict(Counter(e.get("type", "?") for t in tasks for e in t.get("errors", [])))
    for w in [*data.get("warnings", []), *(w for t in tasks for w in t.get("warnings", []))]:
        print(f"  frictionless warning: {w}")
    return run


# -- output ------------------------------------------------------------------------------------


def _table(runs: list[Run], rows: int) -> None:
    header = f"{'tool':<14}{'seconds':>10}{'peak MiB':>11}{'rows/s':>12}{'rows checked':>15}{'exit':>6}"
    print(header)
    print("-" * len(header))
    for r in runs:
        checked = "?" if r.rows_checked is None else f"{r.rows_checked:,}"
        rate = f"{rows / r.seconds:,.0f}" if r.rows_checked else "-"
        print(f"{r.tool:<14}{r.seconds:>10.2f}{r.peak_mib:>11.0f}{rate:>12}{checked:>15}{r.returncode:>6}")


def _details(r: Run, rows: int) -> bool:
    """Print the run's findings; return False if the tool failed or did not read every row."""
    ok = True
    print(f"\n{r.tool}: {' '.join(r.cmd)}")
    if r.findings:
        print("  findings: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r.findings.items())))
    if r.rows_checked is not None and r.rows_checked != rows:
        print(f"  !! {r.tool} checked {r.rows_checked:,} rows, not all {rows:,}")
        ok = False
    failed = r.returncode not in (0, 1) or r.rows_checked is None
    if failed:
        signal = -r.returncode if r.returncode < 0 else r.returncode - 128 if r.returncode > 128 else 0
        killed = f", terminated by signal {signal}" if signal else ""
        print(f"  !! {r.tool} failed (exit {r.returncode}{killed}) after {r.seconds:.0f} s; stderr:")
        print("     " + "\n     ".join(r.stderr.strip().splitlines()[-40:]))
    elif r.stderr.strip():
        print("  stderr: " + r.stderr.strip().splitlines()[-1])
    return ok and not failed


def _describe(ds: Dataset) -> None:
    how = f"generated in {ds.seconds:.1f} s" if ds.generated else "reused"
    size = ds.csv.stat().st_size / 2**20
    where = ds.csv.relative_to(HERE.parent)
    print(f"data: {where} ({ds.rows:,} rows, {ds.areas:,} areas, {size:,.0f} MiB, {how})")
    print("injected: " + ", ".join(f"{k}: {v:,}" for k, v in ds.injected.items()))


def _cleanup(ds: Dataset, outputs: list[Path], keep: bool) -> None:
    if keep:
        print(f"\nkept: {DATA_DIR.relative_to(HERE.parent)}/ (a later run with the same rows reuses the CSV)")
        return
    for p in [*outputs, ds.metadata]:
        p.unlink(missing_ok=True)
    if ds.generated:
        ds.csv.unlink(missing_ok=True)
        ds.csv.with_suffix(".json").unlink(missing_ok=True)


def speed(rows: int, *, skip_frictionless: bool, keep: bool) -> int:
    """Time both validators on ``rows`` rows; 0 PASS, 1 FAIL, 2 a validator could not run."""
    ds = prepare(rows)
    _describe(ds)
    report = DATA_DIR / f"cgd_report_{ds.rows}.json"
    runs = [run_cgd(ds, report)]
    if not skip_frictionless:
        print(f"frictionless runs with --limit-errors {FRICTIONLESS_LIMIT_ERRORS} so that it reads every row")
        runs.append(run_frictionless(ds))
    print()
    _table(runs, ds.rows)
    results = [_details(r, ds.rows) for r in runs]  # every run reports, no short circuit
    usable = all(results)
    status = 0 if usable else 2
    if usable and len(runs) == 2:
        ratio = runs[1].seconds / runs[0].seconds
        verdict = "PASS" if ratio >= SPEED_REQUIREMENT else "FAIL"
        print(
            f"\nspeed: frictionless_time / cgd_time = {runs[1].seconds:.2f} / {runs[0].seconds:.2f} "
            f"= {ratio:.1f}x (required >= {SPEED_REQUIREMENT:g}x): {verdict}"
        )
        status = 0 if verdict == "PASS" else 1
    _cleanup(ds, [report, *(r.stdout for r in runs)], keep)
    return status


def memory(rows: int, *, keep: bool) -> int:
    """Peak RSS of cgd-bridge on ``rows`` rows; 0 PASS, 1 FAIL, 2 it could not run."""
    ds = prepare(rows)
    _describe(ds)
    report = DATA_DIR / f"cgd_report_{ds.rows}.json"
    run = run_cgd(ds, report)
    print()
    _table([run], ds.rows)
    usable = _details(run, ds.rows)
    status = 2
    if usable:
        verdict = "PASS" if run.peak_mib < MEMORY_LIMIT_MIB else "FAIL"
        print(
            f"\nmemory: cgd-bridge peak RSS {run.peak_mib:,.0f} MiB on {ds.rows:,} rows "
            f"(required < {MEMORY_LIMIT_MIB:,.0f} MiB = 1.5 GiB): {verdict}"
        )
        status = 0 if verdict == "PASS" else 1
    _cleanup(ds, [report, run.stdout], keep)
    return status


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the speed or the memory benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows for the speed benchmark (default 1,000,000)"
    )
    parser.add_argument(
        "--memory-rows",
        type=int,
        nargs="?",
        const=10_000_000,
        default=None,
        metavar="N",
        help="run only the memory benchmark: cgd-bridge on N rows (default N 10,000,000)",
    )
    parser.add_argument("--skip-frictionless", action="store_true", help="time cgd-bridge only")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated CSV and the reports in benchmarks/_data/ (reused by later runs)",
    )
    args = parser.parse_args(argv)
    for name in ("rows", "memory_rows"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.memory_rows is not None:
        return memory(args.memory_rows, keep=args.keep)
    return speed(args.rows, skip_frictionless=args.skip_frictionless, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
