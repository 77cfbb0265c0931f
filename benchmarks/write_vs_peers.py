"""Benchmark cgd-bridge's SDMX writers against pysdmx's writers and sdmx1's ``to_xml``/``to_csv``.

One run builds a seeded, SDG-like harmonised table and writes SDMX-ML 2.1 StructureSpecific,
SDMX-ML 2.1 Generic and SDMX-CSV 2.0 with every tool, then checks the issue's requirements:

* speed: ours >= 5x pysdmx's observations per second and >= 20x sdmx1's, on every format
  (peers get ``--peer-obs`` observations, a slice of the same table, and their rate is assumed to
  scale linearly; the table says which obs count each tool was timed on);
* memory: our writers' peak memory must not grow with the number of observations beyond the
  input table. Each writer runs in a subprocess at ``--obs`` and at 2x ``--obs``; we take the peak
  RSS growth during the write call (VmHWM after the call minus VmRSS before it, with the kernel's
  peak counter reset just before the call) minus the input table's Arrow size, and require that
  excess not to grow by more than ``--mem-tolerance`` MiB when the observations double.

Usage (from the repository root)::

    .venv/bin/python benchmarks/write_vs_peers.py                  # 1,000,000 obs, peers on 100,000
    .venv/bin/python benchmarks/write_vs_peers.py --obs 200000 --peer-obs 20000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import write

DIMENSIONS = ("FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA", "SEX", "AGE", "DISABILITY_STATUS")
ATTRIBUTES = ("OBS_STATUS", "UNIT_MEASURE")
TARGET = Target("IAEG-SDGs", "DF_SDG_GLH", "1.5", DIMENSIONS, ATTRIBUTES)
AREAS = (
    "4",
    "8",
    "12",
    "24",
    "32",
    "36",
    "40",
    "50",
    "56",
    "76",
    "124",
    "156",
    "250",
    "276",
    "356",
    "372",
    "380",
    "392",
    "484",
    "826",
)
SEXES = ("F", "M", "_T")
AGES = ("Y15T24", "Y25T44", "Y45T64", "Y_GE65", "_T")
DISABILITY = ("PD", "NDIS", "_T")
YEARS = tuple(str(y) for y in range(2000, 2025))  # 25 years per series key
UNITS = ("PT", "NUMBER", "PER_100000_POP", "USD")
STATUS = ("A", "E", "M")
FORMATS = (  # (label, our writer name)
    ("SDMX-ML 2.1 SS", "sdmx-ml-2.1-ss"),
    ("SDMX-ML 2.1 Generic", "sdmx-ml-2.1-generic"),
    ("SDMX-CSV 2.0", "sdmx-csv-2.0"),
)
REQUIRED = {"pysdmx": 5.0, "sdmx1": 20.0}
MiB = 1024 * 1024


# ---------------------------------------------------------------------------------------- data


def make_table(n: int, seed: int = 20240601) -> pa.Table:
    """``n`` observations: series x 20 areas x 3 sexes x 5 ages x 3 disability x 25 years.

    One series code has 20*3*5*3 = 900 series keys of 25 annual observations (22,500 obs), so
    1,000,000 observations span 45 series codes. Rows come in key order (the order a mapping run
    emits them is not guaranteed, but key order is the friendly case for every tool). Nulls: about
    5% of OBS_STATUS, 1% of UNIT_MEASURE and 0.2% of OBS_VALUE.
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n, dtype=np.int64)
    year, i = i % len(YEARS), i // len(YEARS)
    dis, i = i % len(DISABILITY), i // len(DISABILITY)
    age, i = i % len(AGES), i // len(AGES)
    sex, i = i % len(SEXES), i // len(SEXES)
    area, series = i % len(AREAS), i // len(AREAS)
    n_series = int(series.max()) + 1 if n else 1
    series_codes = [f"SE_IND_{k:04d}" for k in range(n_series)]

    def col(codes: tuple[str, ...] | list[str], idx: np.ndarray, null: float = 0.0) -> pa.Array:
        mask = rng.random(len(idx)) < null if null else None
        arr = pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(list(codes), pa.string()))
        out = arr.cast(pa.string())
        return pc.if_else(pa.array(mask), pa.nulls(len(idx), pa.string()), out) if null else out

    unit_of_series = rng.integers(0, len(UNITS), n_series)
    value = np.round(rng.gamma(2.0, 20.0, n), 2)
    value_null = rng.random(n) < 0.002
    return pa.table(
        {
            "FREQ": pa.repeat(pa.scalar("A", pa.string()), n),
            "REPORTING_TYPE": pa.repeat(pa.scalar("G", pa.string()), n),
            "SERIES": col(series_codes, series),
            "REF_AREA": col(AREAS, area),
            "SEX": col(SEXES, sex),
            "AGE": col(AGES, age),
            "DISABILITY_STATUS": col(DISABILITY, dis),
            "TIME_PERIOD": col(YEARS, year),
            "OBS_VALUE": pa.array(value, pa.float64(), mask=value_null),
            "OBS_STATUS": col(STATUS, rng.choice(3, n, p=[0.8, 0.15, 0.05]), null=0.05),
            "UNIT_MEASURE": col(UNITS, unit_of_series[series], null=0.01),
        }
    )


# ------------------------------------------------------------------------------------ ours


def run_ours(name: str, table: pa.Table, tmp: Path) -> tuple[float, int]:
    path = tmp / f"ours_{name}.out"
    with path.open("wb") as out:
        t0 = time.perf_counter()
        write(name, table, TARGET, out)
        seconds = time.perf_counter() - t0
    return seconds, path.stat().st_size


# ---------------------------------------------------------------------------------- pysdmx


def pysdmx_dataset(table: pa.Table) -> Any:
    from pysdmx.io.pd import PandasDataset
    from pysdmx.model import Component, Components, Concept, DataType, Role, Schema

    def comp(cid: str, role: Any, dtype: Any = DataType.STRING, required: bool = True) -> Any:
        level = "O" if role == Role.ATTRIBUTE else None
        return Component(
            id=cid,
            required=required,
            role=role,
            concept=Concept(id=cid, dtype=dtype),
            local_dtype=dtype,
            attachment_level=level,
        )

    components = [comp(d, Role.DIMENSION) for d in (*DIMENSIONS, "TIME_PERIOD")]
    components.append(comp("OBS_VALUE", Role.MEASURE, DataType.DOUBLE, required=False))
    components += [comp(a, Role.ATTRIBUTE, required=False) for a in ATTRIBUTES]
    schema = Schema(
        context="dataflow",
        agency=TARGET.agency,
        id=TARGET.id,
        version=TARGET.version,
        components=Components(components),
    )
    return PandasDataset(structure=schema, data=table.to_pandas())


def run_pysdmx(label: str, table: pa.Table, tmp: Path) -> tuple[float, float, int]:
    """(seconds building the PandasDataset, seconds in the writer call, bytes written)."""
    from pysdmx.io.csv.sdmx20.writer import write as write_csv20
    from pysdmx.io.xml.sdmx21.writer.generic import write as write_generic
    from pysdmx.io.xml.sdmx21.writer.structure_specific import write as write_ss

    t0 = time.perf_counter()
    ds = pysdmx_dataset(table)
    build = time.perf_counter() - t0
    path = tmp / f"pysdmx_{label.replace(' ', '_')}.out"
    t0 = time.perf_counter()
    if label == "SDMX-CSV 2.0":
        write_csv20([ds], output_path=path)
    elif label == "SDMX-ML 2.1 SS":
        write_ss([ds], output_path=path, prettyprint=False, dimension_at_observation="TIME_PERIOD")
    else:
        write_generic([ds], output_path=path, prettyprint=False, dimension_at_observation="TIME_PERIOD")
    return build, time.perf_counter() - t0, path.stat().st_size


# ----------------------------------------------------------------------------------- sdmx1


def sdmx1_structure() -> Any:
    from sdmx.model import common, v21

    dsd = v21.DataStructureDefinition(
        id="SDG_DSD", version=TARGET.version, maintainer=common.Agency(id=TARGET.agency)
    )
    for d in DIMENSIONS:
        dsd.dimensions.getdefault(d)
    dsd.dimensions.getdefault("TIME_PERIOD", cls=common.TimeDimension)
    dsd.measures.getdefault("OBS_VALUE")
    for a in ATTRIBUTES:
        dsd.attributes.getdefault(a, related_to=v21.PrimaryMeasureRelationship())
    return dsd


def sdmx1_dataset(table: pa.Table, cls: Any) -> tuple[Any, Any]:
    """A DataSet of ``cls`` holding one Observation object per row, grouped in series by key."""
    from sdmx.model import common, v21

    dsd = sdmx1_structure()
    dfd = v21.DataflowDefinition(
        id=TARGET.id, version=TARGET.version, maintainer=common.Agency(id=TARGET.agency), structure=dsd
    )
    ds = cls(structured_by=dsd, described_by=dfd)
    dims = [dsd.dimensions.get(d) for d in DIMENSIONS]
    attrs = [dsd.attributes.get(a) for a in ATTRIBUTES]
    measure = dsd.measures.get("OBS_VALUE")
    cols = table.to_pydict()
    series: dict[tuple, list] = {}
    for r in range(table.num_rows):
        key = tuple(cols[d][r] for d in DIMENSIONS)
        attached = {
            a.id: common.AttributeValue(value_for=a, value=cols[a.id][r])
            for a in attrs
            if cols[a.id][r] is not None
        }
        obs = v21.Observation(
            dimension=common.Key(TIME_PERIOD=cols["TIME_PERIOD"][r]),
            value=cols["OBS_VALUE"][r],
            value_for=measure,
            attached_attribute=attached,
        )
        series.setdefault(key, []).append(obs)
    for key, observations in series.items():
        sk = common.SeriesKey(
            values={
                d.id: common.KeyValue(id=d.id, value_for=d, value=v) for d, v in zip(dims, key, strict=True)
            },
            described_by=dsd.dimensions,
        )
        ds.add_obs(observations, sk)
    return dsd, ds


def run_sdmx1(label: str, table: pa.Table, tmp: Path) -> tuple[float, float, int]:
    """(seconds building DSD + DataSet objects, seconds in to_xml/to_csv, bytes written)."""
    import sdmx
    from sdmx.message import DataMessage
    from sdmx.model import v21

    cls = {"SDMX-ML 2.1 SS": v21.StructureSpecificDataSet, "SDMX-ML 2.1 Generic": v21.GenericDataSet}
    t0 = time.perf_counter()
    dsd, ds = sdmx1_dataset(table, cls.get(label, v21.DataSet))
    build = time.perf_counter() - t0
    path = tmp / f"sdmx1_{label.replace(' ', '_')}.out"
    if label == "SDMX-CSV 2.0":
        t0 = time.perf_counter()
        sdmx.to_csv(ds, path=path, attributes="o")
        seconds = time.perf_counter() - t0
    else:
        msg = DataMessage(data=[ds], observation_dimension=dsd.dimensions.get("TIME_PERIOD"))
        t0 = time.perf_counter()
        data = sdmx.to_xml(msg)
        seconds = time.perf_counter() - t0
        path.write_bytes(data)
    return build, seconds, path.stat().st_size


# ---------------------------------------------------------------------------------- memory


def _proc_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child_memory(name: str, path: str) -> None:
    """Subprocess mode: memory-map the table (no Arrow allocation), measure one write; prints JSON."""
    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    pool = pa.default_memory_pool()
    before = _proc_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    arrow_before = pool.bytes_allocated()
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        write(name, table, TARGET, out)
        seconds = time.perf_counter() - t0
    result = {
        "obs": table.num_rows,
        "seconds": seconds,
        "table_bytes": table.nbytes,
        "rss_before": before * 1024,
        "peak_growth": (_proc_kib("VmHWM") - before) * 1024,
        "arrow_peak_growth": pool.max_memory() - arrow_before,
    }
    print(json.dumps(result))


def measure_memory(name: str, path: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child-memory", name, str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def save_table(n: int, path: Path) -> Path:
    table = make_table(n)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return path


# ------------------------------------------------------------------------------------ main


def timed(label: str, fn: Callable[[], Any]) -> Any:
    print(f"  {label} ...", end="", flush=True)
    t0 = time.perf_counter()
    result = fn()
    print(f" {time.perf_counter() - t0:.1f} s", flush=True)
    return result


OBS_MARK = {"SDMX-ML 2.1 SS": b"<Obs ", "SDMX-ML 2.1 Generic": b"<generic:Obs>"}


def count_observations(path: Path, label: str) -> int:
    """Observations in a written file: ``<Obs`` elements, or the CSV's lines after the header."""
    data = path.read_bytes()
    if label in OBS_MARK:
        return data.count(OBS_MARK[label])
    return data.count(b"\n") - 1


def speed_rows(table: pa.Table, peer_table: pa.Table, tmp: Path, repeats: int) -> list[dict[str, Any]]:
    """Every (format, tool) ``repeats`` times, interleaved (the order rotates each round); the
    median of each, with the spread. Our outputs are checked to hold every observation."""
    runs: list[tuple[str, str]] = [
        (label, tool) for label, _ in FORMATS for tool in ("cgd-bridge", "pysdmx", "sdmx1")
    ]
    names = dict(FORMATS)
    samples: dict[tuple[str, str], list[tuple[float, float, int]]] = {k: [] for k in runs}
    for r in range(repeats):
        for k in range(len(runs)):
            label, tool = runs[(r + k) % len(runs)]
            if tool == "cgd-bridge":
                build = 0.0
                seconds, size = run_ours(names[label], table, tmp)
                got = count_observations(tmp / f"ours_{names[label]}.out", label)
                if got != table.num_rows:
                    raise SystemExit(
                        f"error: our {label} writer wrote {got} observations, not {table.num_rows}"
                    )
            else:
                runner = run_pysdmx if tool == "pysdmx" else run_sdmx1
                build, seconds, size = runner(label, peer_table, tmp)
            samples[(label, tool)].append((build, seconds, size))
            print(f"  round {r + 1}/{repeats}  {tool:10s} {label:20s} {seconds:8.3f} s", flush=True)
    rows: list[dict[str, Any]] = []
    ours: dict[str, dict[str, Any]] = {}
    for label, tool in runs:
        got = samples[(label, tool)]
        secs = [g[1] for g in got]
        row = {
            "format": label,
            "tool": tool,
            "obs": (table if tool == "cgd-bridge" else peer_table).num_rows,
            "build": statistics.median(g[0] for g in got),
            "seconds": statistics.median(secs),
            "spread": (min(secs), max(secs)),
            "bytes": got[-1][2],
        }
        if tool == "cgd-bridge":
            ours[label] = row
        else:
            row["ours"] = ours[label]
        rows.append(row)
    for r in rows:
        r["rate"] = r["obs"] / r["seconds"]
        r["rate_build"] = r["obs"] / (r["seconds"] + r["build"])
        if "ours" in r:
            r["ratio"] = r["ours"]["obs"] / r["ours"]["seconds"] / r["rate"]
            r["ratio_build"] = r["ours"]["obs"] / r["ours"]["seconds"] / r["rate_build"]
            r["ok"] = r["ratio"] >= REQUIRED[r["tool"]]
    return rows


def print_speed(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'format':20s} {'tool':10s} {'obs':>9s} {'build s':>8s} {'write s':>8s} {'(min-max)':>15s} "
        f"{'MB':>7s} {'obs/s':>11s} {'obs/s+build':>11s} {'ours/peer':>9s} {'(+build)':>8s} "
        f"{'required':>8s}  result"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        tail = ""
        if "ratio" in r:
            tail = (
                f"{r['ratio']:8.1f}x {r['ratio_build']:7.1f}x "
                f"{'>= ' + str(int(REQUIRED[r['tool']])) + 'x':>8s}  "
                f"{'PASS' if r['ok'] else 'FAIL'}"
            )
        print(
            f"{r['format']:20s} {r['tool']:10s} {r['obs']:9,d} {r['build']:8.2f} {r['seconds']:8.2f} "
            f"{'(' + format(r['spread'][0], '.2f') + '-' + format(r['spread'][1], '.2f') + ')':>15s} "
            f"{r['bytes'] / 1e6:7.1f} {r['rate']:11,.0f} {r['rate_build']:11,.0f} {tail}"
        )


def memory_rows(n: int, tolerance: float) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        small, large = save_table(n, Path(tmp) / "a.arrow"), save_table(2 * n, Path(tmp) / "b.arrow")
        for label, name in FORMATS:
            a = timed(f"memory {label} {n:,}", lambda name=name: measure_memory(name, small))
            b = timed(f"memory {label} {2 * n:,}", lambda name=name: measure_memory(name, large))
            excess_a = a["peak_growth"] - a["table_bytes"]
            excess_b = b["peak_growth"] - b["table_bytes"]
            rows.append(
                {
                    "format": label,
                    "a": a,
                    "b": b,
                    "excess_a": excess_a,
                    "excess_b": excess_b,
                    "ok": excess_b - excess_a <= tolerance * MiB,
                }
            )
    return rows


def print_memory(rows: list[dict[str, Any]], tolerance: float) -> None:
    head = (
        f"{'format':20s} {'obs':>9s} {'table MiB':>9s} {'peak RSS growth MiB':>19s} {'minus table':>11s} "
        f"{'arrow peak MiB':>14s}  result"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        for key, excess in (("a", r["excess_a"]), ("b", r["excess_b"])):
            m = r[key]
            result = ""
            if key == "b":
                grow = (r["excess_b"] - r["excess_a"]) / MiB
                result = (
                    f"{'PASS' if r['ok'] else 'FAIL'} (excess grew {grow:+.0f} MiB, allowed {tolerance:.0f})"
                )
            print(
                f"{r['format']:20s} {m['obs']:9,d} {m['table_bytes'] / MiB:9.0f} "
                f"{m['peak_growth'] / MiB:19.0f} "
                f"{excess / MiB:11.0f} {m['arrow_peak_growth'] / MiB:14.0f}  {result}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--obs", type=int, default=1_000_000, help="observations for our writers")
    parser.add_argument(
        "--peer-obs",
        type=int,
        default=100_000,
        help="observations for pysdmx and sdmx1 (a slice; their rate is scaled)",
    )
    parser.add_argument(
        "--mem-tolerance",
        type=float,
        default=32.0,
        help="MiB the excess over the table may grow when obs double (default 32)",
    )
    parser.add_argument("--skip-memory", action="store_true", help="speed only")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed runs per writer (median)")
    parser.add_argument("--tiny", action="store_true", help="2,000 observations, one run: what CI runs")
    parser.add_argument("--child-memory", nargs=2, metavar=("FORMAT", "ARROW_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        child_memory(*args.child_memory)
        return 0
    if args.tiny:
        args.obs, args.peer_obs, args.repeats = 2_000, 1_000, 1

    t0 = time.perf_counter()
    table = make_table(args.obs)
    peer_table = table.slice(0, min(args.peer_obs, args.obs))
    print(
        f"table: {table.num_rows:,} obs, {table.nbytes / MiB:.0f} MiB in Arrow, "
        f"{len(pc.unique(table['SERIES'])):,} series codes, built in {time.perf_counter() - t0:.1f} s"
    )
    if peer_table.num_rows < table.num_rows:
        print(
            f"peers (pysdmx, sdmx1) are timed on the first {peer_table.num_rows:,} observations and their"
            f" obs/s is compared as if it scaled linearly to {table.num_rows:,}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        rows = speed_rows(table, peer_table, Path(tmp), max(1, args.repeats))
    print_speed(rows)
    print(
        "obs/s counts the writer call only; obs/s+build adds building the peer's input objects "
        "(pysdmx: PandasDataset from the table; sdmx1: DSD + DataSet of Observation objects)."
    )
    ok = all(r["ok"] for r in rows if "ok" in r)
    if not args.skip_memory:
        del table, peer_table
        mem = memory_rows(args.obs, args.mem_tolerance)
        print_memory(mem, args.mem_tolerance)
        print(
            "Each run is a fresh subprocess that memory-maps the table from an Arrow IPC file (so the "
            "input pages count in the growth as the writer touches them, and the Arrow pool starts "
            "empty). peak RSS growth: VmHWM after the write call minus VmRSS before it (peak reset "
            "via /proc/self/clear_refs); minus table: that minus the table's Arrow size; arrow peak: "
            "the Arrow pool's max_memory during the call."
        )
        ok = ok and all(r["ok"] for r in mem)
    print("\nALL PASS" if ok else "\nSOME REQUIREMENT FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
