"""Benchmark the bridge server over HTTP against our own writers offline (issues #4, #16).

On SQLite (a temporary file) and on PostgreSQL (a fresh schema in the local ``test`` database,
dropped at the end):

1. **Load.** 1,000,000 synthetic harmonised observations (the columns of the real harmonised Kenya
   table) go into the store through ``submissions.create_version``, ``accept`` and ``publish``:
   900,000 in ``IAEG-SDGs:DF_SDG_GLH(1.5)`` and 100,000 in ``CGD_BRIDGE:DF_CGD_KE(1.0)``.
2. **Serve.** Two ``cgd-bridge serve`` processes on 127.0.0.1 (rate limit off): one as deployed,
   keeping rendered small answers (``server/sdmx/answers.py``), one with the answer cache off
   (``CGD_BRIDGE_ANSWER_CACHE_MB=0``: every request selects and writes its answer). The script
   checks that they run uvloop and httptools.
3. **(a) Full pulls** of the 100,000-observation dataflow over HTTP in every data format the
   server writes (SDMX-CSV 1.0 and 2.0, SDMX-ML 2.1 StructureSpecific and Generic, SDMX-ML 3.0
   StructureSpecific, SDMX-JSON 2.0; the client reads the whole body), against
   ``cgd_bridge.sdmx.write.write`` of the same table into a null sink in this process. The HTTP
   body must have the offline byte count. Goal (#16): the server's observations per CPU second
   >= 70% of the offline writer's, per format and database.
4. **(b) Load** from a second process: ``--concurrency`` kept-alive connections for
   ``--duration`` s asking one-series data queries (a full 15-part key, 64 series in turn), of the
   server that keeps answers and of the one that does not, and ``/healthz``. Goal (#16): one-series
   requests per server CPU second >= 60% of ``/healthz``'s, with the answer cache on and off.

Every side runs ``--repeats`` times (default 3), interleaved: the order rotates each round, so
load from elsewhere falls on every side alike. Per run: the wall time, the CPU time and the peak
resident memory of the process doing the work (the server's from ``/proc/PID``, so the client is
not counted; the offline writer's from this process), and the machine's load. Goals compare
medians of CPU time (``benchmarks/harness.py``); wall-time ratios are printed beside them.

Usage (from the repository root)::

    .venv/bin/python benchmarks/server_vs_writer.py                     # both databases, 1M obs
    .venv/bin/python benchmarks/server_vs_writer.py --databases sqlite --duration 5
    .venv/bin/python benchmarks/server_vs_writer.py --record            # write benchmarks/README.md
    .venv/bin/python benchmarks/server_vs_writer.py --profile           # where a one-series query's time goes

Exit code 0 when every goal passes, 1 otherwise, 2 on a wrong answer (status, observation
count, body size, an error under load). Everything talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness

KE_FLOW = ("CGD_BRIDGE", "DF_CGD_KE", "1.0")
SDG_FLOW = ("IAEG-SDGs", "DF_SDG_GLH", "1.5")
DIMENSIONS = (
    "FREQ",
    "REPORTING_TYPE",
    "SERIES",
    "REF_AREA",
    "SEX",
    "AGE",
    "URBANISATION",
    "INCOME_WEALTH_QUANTILE",
    "EDUCATION_LEV",
    "OCCUPATION",
    "CUST_BREAKDOWN",
    "COMPOSITE_BREAKDOWN",
    "DISABILITY_STATUS",
    "ACTIVITY",
    "PRODUCT",
)
SEXES = ("F", "M", "_T")
AGES = ("Y18T24", "Y25T44", "Y45T59", "Y_GE60", "_T")
DISABILITY = ("PD", "PWD", "_T")
SDG_AREAS = ("4", "8", "12", "24", "32", "36", "40", "50", "56", "76", "124", "156", "250", "276", "356")
SDG_AREAS += ("372", "380", "392", "404", "484")
STATUS = ("G", "E", "U")
COMMENT = (
    "Community scorecard; satisfied = rating 4 or 5 of 5 on the last visit to a public health "
    "facility. The SDG 16.6.2 health-services module was not used."
)
FORMATS = (  # (label, writer name, media type)
    ("SDMX-CSV 1.0", "sdmx-csv-1.0", "application/vnd.sdmx.data+csv;version=1.0.0"),
    ("SDMX-CSV 2.0", "sdmx-csv-2.0", "application/vnd.sdmx.data+csv;version=2.0.0"),
    ("SDMX-ML 2.1 SS", "sdmx-ml-2.1-ss", "application/vnd.sdmx.structurespecificdata+xml;version=2.1"),
    ("SDMX-ML 2.1 Generic", "sdmx-ml-2.1-generic", "application/vnd.sdmx.genericdata+xml;version=2.1"),
    ("SDMX-ML 3.0 SS", "sdmx-ml-3.0-ss", "application/vnd.sdmx.data+xml;version=3.0.0"),
    ("SDMX-JSON 2.0", "sdmx-json-2.0", "application/vnd.sdmx.data+json;version=2.0.0"),
)
CSV_20 = "application/vnd.sdmx.data+csv;version=2.0.0"
PULL_REQUIRED = 0.7
WARMUPS = 2  # the first pulls of a fresh server also pay for its first big allocations
LOAD_REQUIRED = 0.6
HOT = "one series"  # the one-series load on the server as deployed (answers kept)
COLD = "one series, no answers"  # the one-series load with the answer cache off
NO_ANSWERS = {"CGD_BRIDGE_ANSWER_CACHE_MB": "0"}
PG_URL = os.environ.get("CGD_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
TICKS = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024


# ---------------------------------------------------------------------------------------- data


def _codes(structures: Any, codelist: str) -> list[str]:
    return sorted(structures.codes(codelist))


def make_table(n: int, *, areas: tuple[str, ...], series: list[str], years: int, seed: int) -> pa.Table:
    """``n`` harmonised observations with the columns of the real harmonised Kenya table.

    Key order: series x area x sex x age x disability x year (the last series code may be
    partial); the other dimensions are ``_T``. About 2% of the cells are suppressed as the
    conformed tables have them: OBS_VALUE null, OBS_STATUS ``Q``, CONF_STATUS ``C``.
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n, dtype=np.int64)
    year, i = i % years, i // years
    dis, i = i % len(DISABILITY), i // len(DISABILITY)
    age, i = i % len(AGES), i // len(AGES)
    sex, i = i % len(SEXES), i // len(SEXES)
    area, ser = i % len(areas), i // len(areas)
    if int(ser.max()) >= len(series):
        raise SystemExit(f"{n:,} observations need {int(ser.max()) + 1} series codes; have {len(series)}")

    def coded(codes: list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(list(codes))).cast(
            pa.string()
        )

    def const(value: str) -> pa.Array:
        return pa.repeat(pa.scalar(value, pa.string()), n)

    suppressed = rng.random(n) < 0.02
    value = np.round(rng.uniform(5.0, 95.0, n), 1)
    columns: dict[str, pa.Array] = {d: const("_T") for d in DIMENSIONS}
    columns.update(
        FREQ=const("A"),
        REPORTING_TYPE=const("N"),
        SERIES=coded(series, ser),
        REF_AREA=coded(areas, area),
        SEX=coded(SEXES, sex),
        AGE=coded(AGES, age),
        DISABILITY_STATUS=coded(DISABILITY, dis),
    )
    status = rng.choice(len(STATUS), n, p=[0.9, 0.08, 0.02])
    columns.update(
        UNIT_MEASURE=const("PT"),
        UNIT_MULT=const("0"),
        COMMENT_OBS=const(COMMENT),
        TIME_PERIOD=coded([str(2025 - years + k) for k in range(years)], year),
        OBS_VALUE=pa.array(value, pa.float64(), mask=suppressed),
        SOURCE_ROW=pa.array(np.arange(2, n + 2, dtype=np.int64)),
        OBS_STATUS=pc.if_else(pa.array(suppressed), pa.scalar("Q"), coded(STATUS, status)),
        CONF_STATUS=pc.if_else(pa.array(suppressed), pa.scalar("C"), pa.scalar("F")),
        NATURE=const("_X"),
        SOURCE_DETAIL=const("CGD: Benchmark Health Watch, community_scorecard, dataset version 1.0.0"),
    )
    return pa.table(columns)


def make_tables(n_ke: int, n_sdg: int, structures: Any) -> dict[tuple[str, str, str], pa.Table]:
    """The two flows' tables: Kenya counties x 10 years, 20 SDG countries x 25 years."""
    series = [s for s in _codes(structures, "CL_SERIES") if s[:2] in ("SH", "SP", "SE", "SG", "SI")]
    ke_areas = tuple(a for a in _codes(structures, "CGD_BRIDGE:CL_AREA_KE(1.0)") if a.startswith("KE_"))
    return {
        KE_FLOW: make_table(n_ke, areas=ke_areas, series=series, years=10, seed=4),
        SDG_FLOW: make_table(n_sdg, areas=SDG_AREAS, series=series[::-1], years=25, seed=5),
    }


# ------------------------------------------------------------------------------------ store


@dataclass
class Loaded:
    keys: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    versions: dict[str, int] = field(default_factory=dict)


def load_store(url: str, tables: dict[tuple[str, str, str], pa.Table], structures: Any) -> Loaded:
    """Migrate ``url`` and store each table as a published version of its own CSO (one NSO, MoUs)."""
    import datetime as dt

    from cgd_bridge import pipeline
    from cgd_bridge.resources import bundled
    from cgd_bridge.store import db, mous, orgs, submissions
    from cgd_bridge.store.orgs import Principal
    from cgd_bridge.store.submissions import RawFile

    kenya = bundled("examples") / "kenya-health-scorecard"
    mapping = bundled("mappings") / "kenya-health-scorecard.yaml"
    example = pipeline.harmonise(
        kenya / "data.csv", metadata=kenya / "quality.yaml", mapping=mapping, structures=structures
    )
    assert example.harmonised is not None
    assert example.target is not None
    metadata = example.metadata.model.model_dump(mode="json", exclude_none=True, by_alias=True)
    out = Loaded()
    db.upgrade(url)
    engine = db.make_engine(url)
    t0 = time.perf_counter()
    try:
        with db.make_sessionmaker(engine)() as session:
            orgs.create_organisation(session, slug="bench-nso", name="Benchmark NSO", kind="nso")
            orgs.create_user(session, username="reviewer", organisation="bench-nso", role="reviewer")
            out.keys["reviewer"] = orgs.create_key(session, username="reviewer").key
            reviewer = Principal.of(orgs.get_user(session, username="reviewer"))
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
            for (agency, flow_id, version), table in tables.items():
                cso = f"cso-{flow_id.lower().replace('_', '-')}"
                orgs.create_organisation(session, slug=cso, name=f"CSO for {flow_id}", kind="cso")
                orgs.create_user(session, username=cso, organisation=cso, role="submitter")
                out.keys[cso] = orgs.create_key(session, username=cso).key
                mous.create_mou(session, cso=cso, nso="bench-nso", dataflows=["*"], valid_until=until)
                content = submissions.VersionContent(
                    dataflow=f"{agency}:{flow_id}({version})",
                    report=example.report,
                    table=table,
                    metadata=metadata,
                    mapping_text=example.mapping_text,
                    dimensions=list(DIMENSIONS),
                    attributes=list(example.target.attributes),
                )
                v = submissions.create_version(
                    session,
                    content,
                    principal=Principal.of(orgs.get_user(session, username=cso)),
                    files=[RawFile("data", "data.csv", (kenya / "data.csv").read_bytes(), "text/csv")],
                    dataset=f"bench-{flow_id.lower()}",
                    submit=True,
                )
                submissions.accept(session, principal=reviewer, version_id=v.id)
                submissions.publish(session, principal=reviewer, version_id=v.id)
                out.versions[flow_id] = v.id
    finally:
        engine.dispose()
    out.seconds = time.perf_counter() - t0
    return out


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a fresh schema (started PostgreSQL if need be); dropped after."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    try:
        for attempt in range(30):
            try:
                with admin.connect() as c:
                    c.execute(text("select 1"))
                break
            except Exception:  # noqa: BLE001 - not up yet: start it once, then wait
                if attempt == 0:
                    for version in sorted(os.listdir("/etc/postgresql")):
                        subprocess.run(
                            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                            check=False,
                            capture_output=True,
                        )
                time.sleep(0.5)
        schema = f"cgdb_bench_{secrets.token_hex(4)}"
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{PG_URL}?options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


# ----------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def serve(url: str, data_dir: Path, workers: int, **env_extra: str) -> Iterator[Server]:
    """``cgd-bridge serve`` on a free loopback port, rate limit off; terminated at the end."""
    import httpx

    port = free_port()
    log = data_dir / f"server-{port}.log"
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(data_dir), "CGD_BRIDGE_RATE_LIMIT_PER_MINUTE": "0"}
    env.update(env_extra)
    env.pop("CGD_BRIDGE_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "cgd_bridge", "serve", "--port", str(port), "--database-url", url]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*cmd, "--workers", str(workers)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def event_loop_libraries(pid: int) -> dict[str, bool]:
    """Whether uvloop's and httptools' extension modules are mapped in ``pid`` or its children."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    maps = ""
    for p in pids:
        with contextlib.suppress(OSError):
            maps += Path(f"/proc/{p}/maps").read_text()
    return {"uvloop": "uvloop/loop" in maps, "httptools": "httptools/parser" in maps}


# ------------------------------------------------------------------------ server processes


def _pids(pid: int) -> list[int]:
    """The server process and its worker processes (uvicorn ``--workers``), one level down."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return pids


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of the server and its live workers, from ``/proc/PID/stat``."""
    total = 0
    for p in _pids(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICKS


def reset_peak(pid: int) -> None:
    """Reset the peak resident set (``VmHWM``) of the server and its workers to what they hold now."""
    for p in _pids(pid):
        with contextlib.suppress(OSError):
            Path(f"/proc/{p}/clear_refs").write_text("5")


def peak_mib(pid: int) -> float:
    """The largest ``VmHWM`` of the server's processes since :func:`reset_peak`, in MiB."""
    peak = 0
    for p in _pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak / 1024


# --------------------------------------------------------------------------------- (a) pulls


class NullSink(io.RawIOBase):
    """A binary file that counts the bytes written to it and keeps none."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:  # type: ignore[override]
        n = memoryview(b).nbytes
        self.size += n
        return n


def fetch(url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], int]:
    """GET ``path`` on a fresh connection and read the whole body: (status, header fields, body bytes).

    A plain socket client: httpx's pure-Python chunk handling would cost about as much CPU as
    the server's writer (on 2 cores, measured: 225 ms vs curl's 110 ms for 38 MB), and the
    benchmark is about the server.
    """
    host, port = url.removeprefix("http://").split(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((host, int(port))) as sock, sock.makefile("rb", buffering=1 << 20) as f:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}Connection: close\r\n\r\n".encode()
        )
        status = int(f.readline().split(b" ", 2)[1])
        fields: dict[str, str] = {}
        while (line := f.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            fields[k.strip().lower()] = v.strip()
        if "content-length" in fields:
            size = len(f.read(int(fields["content-length"])))
        else:
            size = 0
            while (n := int(f.readline().split(b";")[0], 16)) > 0:
                size += len(f.read(n))
                f.read(2)
    return status, fields, size


# ---------------------------------------------------------------------------------- (b) load


def one_series_paths(table: pa.Table, count: int = 64) -> list[str]:
    """``count`` one-series data queries (full 15-part keys) spread over the Kenya table."""
    keys = table.select(list(DIMENSIONS)).group_by(list(DIMENSIONS), use_threads=False).aggregate([])
    picks = np.linspace(0, keys.num_rows - 1, count).astype(int)
    rows = keys.take(pa.array(picks)).to_pylist()
    flow = ",".join(KE_FLOW)
    return [f"/sdmx/rest/data/{flow}/{'.'.join(row[d] for d in DIMENSIONS)}" for row in rows]


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """Send one HTTP/1.1 request on a kept-alive connection and read the whole response; its status."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        raise ConnectionError("a response without length")
    return status


async def _load(
    base: str, paths: list[str], headers: dict[str, str], seconds: float, conc: int
) -> dict[str, Any]:
    """``conc`` kept-alive connections, each asking the next path as soon as it has the last answer.

    A minimal HTTP/1.1 client on asyncio streams (uvloop when installed): httpx's own overhead
    (about 3 ms of CPU a request) would make the client, not the server, the bottleneck.
    """
    host, port = base.removeprefix("http://").split(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raws = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode() for p in paths]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    start = time.perf_counter()
    stop = start + seconds
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)

    async def worker(w: int) -> None:
        k = w
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    status = await _request(reader, writer, raws[k % len(raws)])
                    why = None if status == 200 else str(status)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    why = type(exc).__name__
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append(time.perf_counter() - t0)
                if why:
                    errors[why] = errors.get(why, 0) + 1
                k += conc
        finally:
            writer.close()

    await asyncio.gather(*(worker(w) for w in range(conc)))
    wall = time.perf_counter() - start
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    used = cpu.ru_utime + cpu.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    lat = np.array(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": wall,
        "rps": len(latencies) / wall,
        "p50_ms": float(np.percentile(lat, 50) * 1000) if len(lat) else 0.0,
        "p99_ms": float(np.percentile(lat, 99) * 1000) if len(lat) else 0.0,
        "client_cpu": used / wall,
    }


def served_table(table: pa.Table, structures: Any) -> tuple[pa.Table, Any]:
    """The table and target the server's writer gets for a full pull (``detail=full``, labels=id)."""
    from cgd_bridge.sdmx.names import named_target
    from cgd_bridge.sdmx.refs import FlowRef
    from cgd_bridge.sdmx.target import Target
    from cgd_bridge.server.sdmx.service import find_flow
    from cgd_bridge.store.data import from_parquet, to_parquet

    flow = find_flow(SimpleNamespace(structures=structures, extra={}), FlowRef(*KE_FLOW))  # type: ignore[arg-type]
    stored = from_parquet(to_parquet(table))  # the layout the server decodes from the store
    attributes = [a for a in flow.attributes if a in stored.column_names]
    keep = [*flow.dimensions, "TIME_PERIOD", "OBS_VALUE", *attributes]
    target = Target(
        *KE_FLOW,
        tuple(flow.dimensions),
        tuple(attributes),
        series_attributes=tuple(a for a in flow.series_attributes if a in attributes),
    )
    body = stored.select(keep)
    return body, named_target(target, body, structures)


def sample(wall: float, cpu: float, peak: float, note: dict[str, Any] | None = None) -> harness.Sample:
    """One measured run as the harness keeps it (``stdout`` holds what else the run counted)."""
    return harness.Sample(wall, cpu, peak, 0, json.dumps(note or {}), "", os.getloadavg()[0])


def offline_run(name: str, body: pa.Table, target: Any, times: int) -> tuple[harness.Sample, int]:
    """``times`` writes of ``body`` by ``cgd_bridge.sdmx.write.write`` into a null sink, in this
    process: (the run, bytes of one write). CPU from ``process_time`` (nothing else runs here)."""
    from cgd_bridge.sdmx.write import write

    reset_peak(os.getpid())
    size = 0
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(times):
        sink = NullSink()
        write(name, body, target, sink)  # type: ignore[arg-type]
        size = sink.size
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return sample(wall, cpu, peak_mib(os.getpid())), size


def pull_run(server: Server, media: str, key: str, times: int, expected: int) -> tuple[harness.Sample, int]:
    """``times`` full pulls of the Kenya flow over HTTP, one after the other: (the run, bytes of one).

    Wall time is the client's, from the request to the body's last byte; CPU time and peak memory
    are the server process's (``/proc``), so the client's own work is not counted.
    """
    path = f"/sdmx/rest/data/{','.join(KE_FLOW)}/all"
    headers = {"Accept": media, "Authorization": f"Bearer {key}"}
    pid = server.process.pid
    reset_peak(pid)
    size = 0
    c0, t0 = server_cpu(pid), time.perf_counter()
    for _ in range(times):
        status, fields, size = fetch(server.url, path, headers)
        if status != 200:
            raise RuntimeError(f"{path} ({media}) answered {status}")
        if int(fields["x-observations"]) != expected:
            raise RuntimeError(f"{path} served {fields['x-observations']} obs, not {expected}")
    wall, cpu = time.perf_counter() - t0, server_cpu(pid) - c0
    return sample(wall, cpu, peak_mib(pid)), size


def load_child(spec: str) -> None:
    """Subprocess mode: warm up, then run the load described by the JSON ``spec`` while reading
    the server's CPU time from ``/proc``; print the result as JSON."""
    s = json.loads(spec)
    run: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    warm = min(2.0, s["seconds"] / 5)
    run(_load(s["base"], s["paths"], s["headers"], warm, s["concurrency"]))
    reset_peak(s["pid"])
    cpu0 = server_cpu(s["pid"])
    result = run(_load(s["base"], s["paths"], s["headers"], s["seconds"], s["concurrency"]))
    result["server_cpu"] = server_cpu(s["pid"]) - cpu0
    result["server_peak_mib"] = peak_mib(s["pid"])
    print(json.dumps(result))


def load_run(
    server: Server, paths: list[str], headers: dict[str, str], seconds: float, conc: int
) -> harness.Sample:
    """One load from a second process; wall = its seconds, CPU and peak the server's."""
    spec = {
        "base": server.url,
        "paths": paths,
        "headers": headers,
        "seconds": seconds,
        "concurrency": conc,
        "pid": server.process.pid,
    }
    cmd = [sys.executable, __file__, "--load-child", json.dumps(spec)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds * 3 + 120)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    return sample(r["seconds"], r["server_cpu"], r["server_peak_mib"], r)


# ------------------------------------------------------------------------------------- main


def timed(label: str, fn: Any) -> Any:
    print(f"  {label} ...", end="", flush=True)
    t0 = time.perf_counter()
    result = fn()
    print(f" {time.perf_counter() - t0:.1f} s", flush=True)
    return result


@dataclass
class Measured:
    """Every side of one database's runs, by name."""

    db: str
    pulls: dict[str, harness.Side] = field(default_factory=dict)  # format label -> HTTP side
    load: dict[str, harness.Side] = field(default_factory=dict)  # endpoint -> side
    libs: dict[str, bool] = field(default_factory=dict)
    load_s: float = 0.0


def pulls_per_run(n: int) -> int:
    """Pulls per measured run: enough observations that /proc's 10 ms CPU ticks hardly count.

    A million observations a run (ten pulls of 100,000): three pulls of SDMX-CSV took 0.10-0.17
    s of CPU, so one tick more or less moved a ratio near the 70% line by 6-10 points.
    """
    return max(1, min(10, -(-1_000_000 // max(n, 1))))


def bench_database(  # noqa: C901 - one place that lays out every side of a database
    db_name: str,
    url: str,
    tables: dict[Any, pa.Table],
    structures: Any,
    offline: dict[str, harness.Side],
    body: tuple[pa.Table, Any],
    args: Any,
) -> Measured:
    """Load the store, start a server that keeps answers and one that does not, and run every
    side ``--repeats`` times, interleaved (the offline writers in the same rounds)."""
    n_total = sum(t.num_rows for t in tables.values())
    loaded = timed(f"{db_name}: load {n_total:,} obs", lambda: load_store(url, tables, structures))
    out = Measured(db_name, load_s=loaded.seconds)
    key = loaded.keys["reviewer"]
    ke = tables[KE_FLOW]
    times = pulls_per_run(ke.num_rows)
    headers = {"Accept": CSV_20, "Authorization": f"Bearer {key}"}
    paths = one_series_paths(ke)
    offline_bytes: dict[str, int] = {}
    http_bytes: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(url, Path(tmp), args.workers) as server,
        serve(url, Path(tmp), args.workers, **NO_ANSWERS) as cold,
    ):
        out.libs = event_loop_libraries(server.process.pid)
        runs: list[tuple[harness.Side, Any]] = []
        for label, name, media in FORMATS:
            side = harness.Side(f"{db_name}: HTTP {label}", [])
            out.pulls[label] = side

            def http(media: str = media, label: str = label) -> harness.Sample:
                got, http_bytes[label] = pull_run(server, media, key, times, ke.num_rows)
                return got

            def write_offline(name: str = name, label: str = label) -> harness.Sample:
                got, offline_bytes[label] = offline_run(name, body[0], body[1], times)
                return got

            runs.append((side, http))
            if label not in offline_bytes:
                runs.append((offline[label], write_offline))
        for what, srv, p in (
            (HOT, server, paths),
            (COLD, cold, paths),
            ("/healthz", server, ["/healthz"]),
        ):
            side = harness.Side(f"{db_name}: {what}", [])
            out.load[what] = side
            runs.append(
                (side, lambda srv=srv, p=p: load_run(srv, p, headers, args.duration, args.concurrency))
            )
        # warm-up: the first pulls of a fresh server pay for its first big allocations
        for _ in range(WARMUPS):
            for _, _, media in FORMATS:
                fetch(server.url, f"/sdmx/rest/data/{','.join(KE_FLOW)}/all", {**headers, "Accept": media})
        for r in range(args.repeats):
            for k in range(len(runs)):
                side, run = runs[(r + k) % len(runs)]
                got = run()
                side.samples.append(got)
                print(
                    f"  round {r + 1}/{args.repeats}  {side.name:<40} {got.wall:7.2f} s wall "
                    f"{got.cpu:7.2f} s CPU {got.peak_mib:7.0f} MiB",
                    flush=True,
                )
        for label, size in http_bytes.items():
            if size != offline_bytes.get(label):
                out.pulls[label].problems.append(
                    f"HTTP body {size} B, offline {offline_bytes.get(label)} B (a different answer)"
                )
        for side in out.load.values():
            for s in side.samples:
                errors = json.loads(s.stdout)["errors"]
                if errors:
                    side.problems.append(f"errors under load: {errors}")
    return out


def _spread(side: harness.Side, what: str, scale: float = 1.0, fmt: str = ".2f") -> str:
    lo, hi = side.spread(what)
    return f"{side.median(what) * scale:{fmt}} ({lo * scale:{fmt}}-{hi * scale:{fmt}})"


def tables_and_goals(
    results: list[Measured], offline: dict[str, harness.Side], n: int, times: int, args: Any
) -> tuple[list[tuple[str, str]], list[harness.Goal]]:
    """The README's tables (pulls, load) and the goals, judged on CPU medians."""
    sections: list[tuple[str, str]] = []
    goals: list[harness.Goal] = []
    lines = [
        "| side | CPU s median (min-max) | wall s median (min-max) | peak MiB median | obs/s (CPU) "
        "| obs/s (wall) |",
        "|---|---|---|---|---|---|",
    ]
    obs = n * times
    for label, side in offline.items():
        lines.append(
            f"| offline writer, {label} | {_spread(side, 'cpu')} | {_spread(side, 'wall')} | "
            f"{side.median('peak_mib'):,.0f} | {obs / _cpu(side):,.0f} | "
            f"{obs / side.median('wall'):,.0f} |"
        )
    for r in results:
        for label, side in r.pulls.items():
            lines.append(
                f"| {r.db}, HTTP {label} | {_spread(side, 'cpu')} | {_spread(side, 'wall')} | "
                f"{side.median('peak_mib'):,.0f} | {obs / _cpu(side):,.0f} | "
                f"{obs / side.median('wall'):,.0f} |"
            )
    sections.append(
        (
            f"(a) Full pulls of {n:,} observations ({times} per run): our writer offline (in this "
            "process) and the server over HTTP (CPU and peak memory of the server process; wall "
            "time of the client to the last byte)",
            "\n".join(lines),
        )
    )
    lines = [
        "| database | endpoint | req/s (wall) median (min-max) | server CPU ms per request median "
        "(min-max) | req per server CPU s | p50 / p99 ms | server peak MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for what, side in r.load.items():
            reqs = [json.loads(s.stdout) for s in side.samples]
            rps = [x["rps"] for x in reqs]
            per = [
                max(s.cpu, 1 / TICKS) / max(x["requests"], 1) * 1000
                for s, x in zip(side.samples, reqs, strict=True)
            ]
            p50 = statistics.median(x["p50_ms"] for x in reqs)
            p99 = statistics.median(x["p99_ms"] for x in reqs)
            lines.append(
                f"| {r.db} | {what} | {statistics.median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) | "
                f"{statistics.median(per):.3f} ({min(per):.3f}-{max(per):.3f}) | "
                f"{1000 / statistics.median(per):,.0f} | {p50:.1f} / {p99:.1f} | "
                f"{side.median('peak_mib'):,.0f} |"
            )
    sections.append(
        (
            f"(b) Load: {args.concurrency} kept-alive connections for {args.duration:g} s from a "
            "second process (one-series queries: a full 15-part key, 64 series in turn, SDMX-CSV 2.0)",
            "\n".join(lines),
        )
    )
    for r in results:
        for label, side in r.pulls.items():
            off = offline[label]
            goals.append(
                harness.Goal(
                    f"{r.db}: HTTP {label} / offline writer, obs per CPU s (wall: "
                    f"{off.median('wall') / side.median('wall'):.0%})",
                    _cpu(off) / _cpu(side),
                    "x",
                    at_least=PULL_REQUIRED,
                )
            )
        base = _per_request(r.load["/healthz"])
        for what in (HOT, COLD):
            side = r.load[what]
            wall = _rps(side) / _rps(r.load["/healthz"])
            goals.append(
                harness.Goal(
                    f"{r.db}: {what} / `/healthz`, requests per server CPU s (wall req/s: {wall:.0%})",
                    base / _per_request(side),
                    "x",
                    at_least=LOAD_REQUIRED,
                )
            )
    return sections, goals


def _cpu(side: harness.Side) -> float:
    """The median CPU seconds of the side's runs, at least one of ``/proc``'s ticks (a tiny run
    may fall between two)."""
    return max(side.median("cpu"), 1 / TICKS)


def _per_request(side: harness.Side) -> float:
    """The median server CPU seconds per request over the side's runs (at least one tick in all)."""
    return statistics.median(
        max(s.cpu, 1 / TICKS) / max(json.loads(s.stdout)["requests"], 1) for s in side.samples
    )


def _rps(side: harness.Side) -> float:
    return statistics.median(json.loads(s.stdout)["rps"] for s in side.samples)


def profile(args: Any) -> int:
    """One server in this process under cProfile (each function's thread CPU time on the event
    loop's thread), the one-series load from a second process; prints where the time went."""
    import cProfile
    import pstats
    import threading

    import sdmx.reader.xml.v30  # noqa: F401 - before any SDMX-ML 2.1 read (sdmx1 process-state bug)
    import uvicorn

    from cgd_bridge.server.app import create_app
    from cgd_bridge.settings import Settings
    from cgd_bridge.structures import Structures

    structures = Structures.load(None)
    tables = make_tables(args.ke_obs, min(args.sdg_obs, 2_000), structures)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        loaded = load_store(url, tables, structures)
        os.environ.update(CGD_BRIDGE_DATA_DIR=tmp, CGD_BRIDGE_RATE_LIMIT_PER_MINUTE="0")
        if not args.answers:
            os.environ.update(NO_ANSWERS)
        app = create_app(Settings(), database_url=url)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        headers = {"Accept": CSV_20, "Authorization": f"Bearer {loaded.keys['reviewer']}"}
        paths = one_series_paths(tables[KE_FLOW])
        done: dict[str, harness.Sample] = {}

        def drive() -> None:
            while not server.started:
                time.sleep(0.1)
            me = Server(f"http://127.0.0.1:{port}", SimpleNamespace(pid=os.getpid()), Path(tmp))  # type: ignore[arg-type]
            try:
                done["load"] = load_run(me, paths, headers, args.duration, args.concurrency)
            finally:
                server.should_exit = True

        threading.Thread(target=drive, daemon=True).start()
        prof = cProfile.Profile(time.thread_time)
        prof.runcall(server.run)
    got = json.loads(done["load"].stdout) if "load" in done else {}
    print(
        f"\none-series load, answer cache {'on' if args.answers else 'off'}: {got.get('requests', 0):,} "
        f"requests, {got.get('rps', 0):,.0f} req/s under the profiler (it slows Python code several "
        "times)\n"
    )
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return harness.ALL_PASS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ke-obs", type=int, default=100_000, help="observations in DF_CGD_KE (pulled)")
    parser.add_argument("--sdg-obs", type=int, default=900_000, help="observations in DF_SDG_GLH (stored)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    harness.common_options(parser)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of each load run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections of the load")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    parser.add_argument(
        "--profile", action="store_true", help="where a one-series query's time goes (cProfile, in-process)"
    )
    parser.add_argument("--answers", action="store_true", help="with --profile: the answer cache on")
    parser.add_argument("--top", type=int, default=40, help="with --profile: functions listed")
    parser.add_argument("--load-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_child:
        load_child(args.load_child)
        return 0
    if args.profile:
        return profile(args)
    if args.tiny:
        args.ke_obs, args.sdg_obs, args.repeats, args.duration, args.concurrency = 2_000, 2_000, 1, 1.0, 4

    import sdmx.reader.xml.v30  # noqa: F401 - before any SDMX-ML 2.1 read (sdmx1 process-state bug)

    from cgd_bridge.structures import Structures

    structures = Structures.load(None)
    tables = timed("synthesise tables", lambda: make_tables(args.ke_obs, args.sdg_obs, structures))
    body = served_table(tables[KE_FLOW], structures)
    offline = {label: harness.Side(f"offline writer, {label}", []) for label, _, _ in FORMATS}
    results = []
    for db_name in [d.strip() for d in args.databases.split(",") if d.strip()]:
        if db_name == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{tmp}/bench.sqlite"
                results.append(bench_database(db_name, url, tables, structures, offline, body, args))
        elif db_name == "postgresql":
            with postgres_schema() as url:
                results.append(bench_database(db_name, url, tables, structures, offline, body, args))
        else:
            parser.error(f"unknown database {db_name!r} (sqlite or postgresql)")
    n = tables[KE_FLOW].num_rows
    sections, goals = tables_and_goals(results, offline, n, pulls_per_run(n), args)
    sides = [*offline.values(), *(s for r in results for s in (*r.pulls.values(), *r.load.values()))]
    for r in results:
        libs = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r.libs.items())
        print(f"{r.db}: loaded in {r.load_s:.1f} s; server workers {args.workers}; {libs}")
    return harness.finish(
        "server_vs_writer", sections, sides, goals, record=args.record, repeats=args.repeats
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:  # a pull answered wrongly (status, observation count)
        print(f"\nWRONG ANSWER: {exc}", file=sys.stderr)
        sys.exit(harness.RUN_FAILED)
