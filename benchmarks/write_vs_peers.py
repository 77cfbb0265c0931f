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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness

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
    ("SDMX-ML 3.0 SS", "sdmx-ml-3.0-ss"),
    ("SDMX-CSV 1.0", "sdmx-csv-1.0"),
    ("SDMX-CSV 2.0", "sdmx-csv-2.0"),
    ("SDMX-JSON 2.0", "sdmx-json-2.0"),
)
#: the formats each peer writes (neither writes SDMX-JSON data; sdmx1 writes no SDMX-ML 3.0 data)
PEERS = {
    "pysdmx": ("SDMX-ML 2.1 SS", "SDMX-ML 2.1 Generic", "SDMX-ML 3.0 SS", "SDMX-CSV 1.0", "SDMX-CSV 2.0"),
    "sdmx1": ("SDMX-ML 2.1 SS", "SDMX-ML 2.1 Generic", "SDMX-CSV 1.0", "SDMX-CSV 2.0"),
}
REQUIRED = {"pysdmx": 20.0, "sdmx1": 20.0}
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


def write_ours(label: str, table: pa.Table, path: Path) -> None:
    with path.open("wb") as out:
        write(dict(FORMATS)[label], table, TARGET, out)


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


def prepare_pysdmx(label: str, table: pa.Table, path: Path) -> Callable[[], Any]:
    """Build pysdmx's input (a PandasDataset with its Schema); the writer call, to be timed."""
    from pysdmx.io.csv.sdmx10.writer import write as write_csv10
    from pysdmx.io.csv.sdmx20.writer import write as write_csv20
    from pysdmx.io.xml.sdmx21.writer.generic import write as write_generic
    from pysdmx.io.xml.sdmx21.writer.structure_specific import write as write_ss
    from pysdmx.io.xml.sdmx30.writer.structure_specific import write as write_ss30

    ds = pysdmx_dataset(table)
    xml = {"prettyprint": False, "dimension_at_observation": "TIME_PERIOD"}
    calls: dict[str, Callable[[], Any]] = {
        "SDMX-CSV 1.0": lambda: write_csv10([ds], output_path=path),
        "SDMX-CSV 2.0": lambda: write_csv20([ds], output_path=path),
        "SDMX-ML 2.1 SS": lambda: write_ss([ds], output_path=path, **xml),
        "SDMX-ML 2.1 Generic": lambda: write_generic([ds], output_path=path, **xml),
        "SDMX-ML 3.0 SS": lambda: write_ss30([ds], output_path=path, **xml),
    }
    return calls[label]


def prepare_sdmx1(label: str, table: pa.Table, path: Path) -> Callable[[], Any]:
    """Build sdmx1's input (DSD + DataSet of Observation objects); the writer call, to be timed."""
    import sdmx
    from sdmx.format.csv import v1
    from sdmx.message import DataMessage
    from sdmx.model import v21

    cls = {"SDMX-ML 2.1 SS": v21.StructureSpecificDataSet, "SDMX-ML 2.1 Generic": v21.GenericDataSet}
    dsd, ds = sdmx1_dataset(table, cls.get(label, v21.DataSet))
    if label == "SDMX-CSV 2.0":
        return lambda: sdmx.to_csv(ds, path=path, attributes="o")
    if label == "SDMX-CSV 1.0":
        return lambda: sdmx.to_csv(ds, path=path, attributes="o", format_options=v1.FormatOptions())
    msg = DataMessage(data=[ds], observation_dimension=dsd.dimensions.get("TIME_PERIOD"))
    return lambda: path.write_bytes(sdmx.to_xml(msg))


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


OBS_MARK = {
    "SDMX-ML 2.1 SS": b"<Obs ",
    "SDMX-ML 2.1 Generic": b"<generic:Obs>",
    "SDMX-ML 3.0 SS": b"<Obs ",
}


def count_observations(path: Path, label: str) -> int:
    """Observations in a written file: ``<Obs`` elements, SDMX-JSON's observations, or the CSV's
    lines after the header."""
    data = path.read_bytes()
    if label in OBS_MARK:
        return data.count(OBS_MARK[label])
    if label.startswith("SDMX-JSON"):
        doc = json.loads(data)
        return sum(len(s["observations"]) for d in doc["data"]["dataSets"] for s in d["series"].values())
    return data.count(b"\n") - 1


def side_child(tool: str, label: str, obs: int) -> None:
    """Subprocess mode: one writer call of ``tool`` for ``label`` on the first ``obs`` observations
    of the seeded table; prints JSON: the call's CPU and wall seconds, the seconds building the
    peer's input, the bytes and (ours) the observations written."""
    table = make_table(obs)
    with tempfile.TemporaryDirectory() as tmp:
        # one call on 100 observations first (not timed): every tool's lazy imports and first-use
        # set-up, which a process writing more than one message pays once
        warm = Path(tmp) / "warm"
        if tool == "cgd-bridge":
            write_ours(label, table.slice(0, 100), warm)
        else:
            (prepare_pysdmx if tool == "pysdmx" else prepare_sdmx1)(label, table.slice(0, 100), warm)()
        path = Path(tmp) / "out"
        build = 0.0
        if tool == "cgd-bridge":
            call: Callable[[], Any] = lambda: write_ours(label, table, path)  # noqa: E731
        else:
            t0 = time.perf_counter()
            call = (prepare_pysdmx if tool == "pysdmx" else prepare_sdmx1)(label, table, path)
            build = time.perf_counter() - t0
        c0, t0 = time.process_time(), time.perf_counter()
        call()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        counted = count_observations(path, label) if tool == "cgd-bridge" else None
        print(
            json.dumps(
                {"cpu": cpu, "wall": wall, "build": build, "bytes": path.stat().st_size, "obs": counted}
            )
        )


def _result(s: harness.Sample) -> dict[str, Any]:
    return json.loads(s.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def speed_sides(obs: int, peer_obs: int) -> list[tuple[str, str, int, harness.Side]]:
    """(format, tool, observations, side) of every writer a peer has, and ours for every format."""
    out = []
    for label, _ in FORMATS:
        for tool in ("cgd-bridge", "pysdmx", "sdmx1"):
            if tool != "cgd-bridge" and label not in PEERS[tool]:
                continue
            n = obs if tool == "cgd-bridge" else peer_obs

            def check(s: harness.Sample, n: int = n, tool: str = tool) -> str | None:
                try:
                    r = _result(s)
                except (ValueError, IndexError):
                    return "no result printed"
                if r["bytes"] <= 0:
                    return "wrote nothing"
                if tool == "cgd-bridge" and r["obs"] != n:
                    return f"wrote {r['obs']} observations, not {n}"
                return None

            cmd = [sys.executable, __file__, "--side", tool, label, str(n)]
            out.append((label, tool, n, harness.Side(f"{tool} {label}", cmd, check)))
    return out


def _median(side: harness.Side, what: str) -> float:
    return statistics.median(_result(s)[what] for s in side.samples)


def _spread(side: harness.Side, what: str) -> str:
    values = [_result(s)[what] for s in side.samples]
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def speed_tables(
    sides: list[tuple[str, str, int, harness.Side]],
) -> tuple[str, list[harness.Goal]]:
    """The speed table (the writer call's CPU and wall time, medians and spread) and the goals."""
    lines = [
        "| format | tool | obs | writer call CPU s median (min-max) | wall s median (min-max) | "
        "build s | peak MiB | obs/s (CPU) | ours / tool (CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    goals = []
    ours: dict[str, float] = {}
    for label, tool, n, side in sides:
        if side.problems or not side.samples:
            continue
        rate = n / max(_median(side, "cpu"), 1e-9)
        ratio = ""
        if tool == "cgd-bridge":
            ours[label] = rate
        else:
            r = ours[label] / rate
            ratio = f"{r:,.1f}x"
            goals.append(
                harness.Goal(f"{label}: cgd-bridge / {tool}, obs per CPU s", r, "x", at_least=REQUIRED[tool])
            )
        lines.append(
            f"| {label} | {tool} | {n:,} | {_spread(side, 'cpu')} | {_spread(side, 'wall')} | "
            f"{_median(side, 'build'):.2f} | {side.median('peak_mib'):,.0f} | {rate:,.0f} | {ratio} |"
        )
    return "\n".join(lines), goals


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


def memory_table(rows: list[dict[str, Any]], tolerance: float) -> tuple[str, list[harness.Goal]]:
    """The memory table: each writer's peak growth at ``--obs`` and twice that, beyond the table."""
    lines = [
        "| format | obs | table MiB | peak RSS growth MiB | minus the table MiB | Arrow pool peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    goals = []
    for r in rows:
        for key, excess in (("a", r["excess_a"]), ("b", r["excess_b"])):
            m = r[key]
            lines.append(
                f"| {r['format']} | {m['obs']:,} | {m['table_bytes'] / MiB:,.0f} "
                f"| {m['peak_growth'] / MiB:,.0f} "
                f"| {excess / MiB:,.0f} | {m['arrow_peak_growth'] / MiB:,.0f} |"
            )
        goals.append(
            harness.Goal(
                f"{r['format']}: growth of the peak beyond the table when the observations double",
                (r["excess_b"] - r["excess_a"]) / MiB,
                " MiB",
                at_most=tolerance,
            )
        )
    return "\n".join(lines), goals


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
    harness.common_options(parser)
    parser.add_argument("--side", nargs=3, metavar=("TOOL", "FORMAT", "OBS"), help=argparse.SUPPRESS)
    parser.add_argument("--child-memory", nargs=2, metavar=("FORMAT", "ARROW_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        child_memory(*args.child_memory)
        return 0
    if args.side:
        side_child(args.side[0], args.side[1], int(args.side[2]))
        return 0
    if args.tiny:
        args.obs, args.peer_obs, args.repeats = 2_000, 1_000, 1
    peer_obs = min(args.peer_obs, args.obs)
    print(
        f"ours on {args.obs:,} observations, pysdmx and sdmx1 on the first {peer_obs:,} (their obs/s "
        f"compared as if it scaled linearly); {args.repeats} interleaved runs of each writer, each "
        "its own subprocess"
    )
    sides = speed_sides(args.obs, peer_obs)
    # no unmeasured warm-up run: each run warms its writer up on 100 observations first (side_child)
    harness.interleave([s for *_, s in sides], args.repeats, warmup=False)
    speed, goals = speed_tables(sides)
    sections = [
        (
            f"Speed: the writer call alone (ours on {args.obs:,} observations, the peers on "
            f"{peer_obs:,}; CPU and wall time of the call, peak memory of the whole run)",
            speed,
        )
    ]
    if not args.skip_memory:
        mem = memory_rows(args.obs, args.mem_tolerance)
        table, mem_goals = memory_table(mem, args.mem_tolerance)
        sections.append(
            (
                "Memory: each of our writers in a fresh process on a memory-mapped table, at "
                f"{args.obs:,} and {2 * args.obs:,} observations (peak RSS growth during the call)",
                table,
            )
        )
        goals += mem_goals
    return harness.finish(
        "write_vs_peers",
        sections,
        [s for *_, s in sides],
        goals,
        record=args.record,
        repeats=args.repeats,
    )


if __name__ == "__main__":
    sys.exit(main())
