"""The Kenya health-scorecard example at any size, for the pipeline benchmarks.

The example's columns and labels (``county,sex,age_group,disability_status,month,respondents,
satisfied``), aggregate, one row per county x sex x age group x disability status (with every
total) and month: all 47 counties of Kenya (named as ``CL_AREA_KE`` names them) x 3 x 5 x 3 =
2,115 rows a month, as many months from 1986-01 as the size needs (473 for 1,000,000 rows).
Seeded; totals add up; about 0.1% of the finest cells are small (1-4 respondents), so the checks
suppress them and the cells that would reveal them; nothing is an error, so a conversion is not
refused.

Beside the CSV: the example's real mapping from ``mappings/`` adapted to it (all 47 counties in
the REF_AREA map, FREQ ``M``, ``time: {column: month, format: month}``: the harmonise step every
real submission runs: codes, duplicate keys, constraints), the example's quality metadata with
the data's period, areas and sample size, and the same Table Schema without cgd-bridge's
properties, for frictionless. Everything goes to ``benchmarks/_data/`` (git-ignored); a CSV made
earlier with the same size and seed is reused (checked against its ``.json`` sidecar).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import yaml
from harness import DATA_DIR, ROOT

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


def observations(path: Path, fmt: str) -> int:
    """Observations in an output file: CSV data lines, or ``<Obs`` elements (read in blocks)."""
    needle = b"\n" if fmt.startswith("sdmx-csv") else b"<Obs "
    count, tail = 0, b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            chunk = tail + block
            count += chunk.count(needle)
            tail = chunk[-(len(needle) - 1) :] if len(needle) > 1 else b""
    return count - 1 if fmt.startswith("sdmx-csv") else count  # the CSV header line
