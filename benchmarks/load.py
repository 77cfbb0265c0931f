"""Load held (issue #14): many clients mixing uploads, validations and pulls against a real server.

For each configuration (SQLite with 1 worker, SQLite with 2 workers, PostgreSQL with 1 and 2
workers; a fresh seeded database each):

1. **Seed** the demo database (organisations, keys, MoUs, both bundled examples published) and
   start ``cgd-bridge serve`` on 127.0.0.1 (the rate limit off: this measures the store, not the
   limiter).
2. **Load.** ``--clients`` concurrent clients (asyncio + httpx, one connection each) for
   ``--duration`` seconds, each choosing its next request at random (seeded) from the mix:
   uploads of the bundled Kenya example (``POST /api/submissions``, the CSO's key; each a new
   version), validations of it (``POST /api/validate``), and pulls of its data over SDMX REST
   v1 (``/sdmx/rest/data/...``, SDMX-CSV) and v2 (``/sdmx/v2/data/dataflow/...``), the NSO's
   key. A 503 with ``Retry-After`` is an allowed answer of a busy store: the client waits what
   it says (at most the time left) and goes on, as a polite client would.
3. **Report** requests/s, p50/p95/p99 latency and the status counts, per kind of request.
4. **Count** in the database afterwards, with the server stopped (so its queued pull records
   are written): every upload answered 2xx has its version row and its ``version.created``
   audit row, and there are at least as many ``data.pulled`` audit rows as pulls answered 200.

Verdict and exit code (as every benchmark here, harness.py): **2** when an answer is wrong,
that is any 5xx other than a 503 with ``Retry-After``, a request that got no answer within
``--timeout`` (a stall), or anything lost in step 4; **1** when a goal fails: no 5xx at all (not
even a 503); **0** otherwise. ``tests/test_benchmarks.py`` runs ``--tiny`` (a few clients for a
few seconds) in CI.

Usage (from the repository root)::

    .venv/bin/python benchmarks/load.py                          # 50 clients, 60 s, every configuration
    .venv/bin/python benchmarks/load.py --databases sqlite --duration 20
    .venv/bin/python benchmarks/load.py --tiny
    .venv/bin/python benchmarks/load.py --record                 # write the tables into README.md

Everything talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # the benchmarks' shared module, beside this script

ROOT = harness.ROOT
KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
PG_URL = os.environ.get("CGD_BRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
V1_PULL = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all"
V2_PULL = "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*"
CSV = "application/vnd.sdmx.data+csv;version=2.0.0"
#: the mix: kind -> weight
MIX = {"upload": 2, "validate": 2, "pull v1": 3, "pull v2": 3}
CSO, NSO = "amina", "kamau"


@dataclass
class Outcome:
    kind: str
    status: int  # 0: no answer (transport error or timeout)
    seconds: float
    retry_after: bool = False
    version_id: int | None = None
    error: str = ""


@dataclass
class Run:
    """One configuration's load: what every request got, and what the database holds afterwards."""

    name: str
    duration: float
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ server


def seed(url: str, data_dir: Path) -> dict[str, str]:
    """Migrate ``url`` and fill it with the demo; the plain API keys by user."""
    from cgd_bridge.server.demo import seed as demo_seed
    from cgd_bridge.store import db
    from cgd_bridge.structures import Structures

    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            seeded = demo_seed(session, Structures.load(data_dir / "structures"))
    finally:
        engine.dispose()
    if seeded.skipped:
        raise SystemExit(f"error: the demo could not be seeded: {seeded.skipped}")
    return seeded.keys


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the local test database, dropped at the end."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    schema = f"cgdb_load_{secrets.token_hex(4)}"
    try:
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{PG_URL}?options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def serve(url: str, data_dir: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``cgd-bridge serve`` on a free loopback port, rate limit off; stopped (SIGTERM) at the end."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = data_dir / f"server-{port}.log"
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(data_dir), "CGD_BRIDGE_RATE_LIMIT_PER_MINUTE": "0"}
    env.pop("CGD_BRIDGE_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "cgd_bridge", "serve", "--port", str(port), "--database-url", url]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*cmd, "--workers", str(workers)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# ------------------------------------------------------------------------------------ load


def _files(n: int) -> dict[str, tuple[str, bytes, str]]:
    """The bundled Kenya example as client ``n`` uploads it: its own dataset id, so that its
    uploads are the versions 1, 2, 3... of one dataset (concurrent versions of one dataset are
    a 409 "stored at the same moment" by design, which would measure nothing)."""
    metadata = (KENYA / "quality.yaml").read_bytes()
    own = metadata.replace(b"id: ke-health-scorecard-2024", f"id: ke-load-client-{n}".encode(), 1)
    if own == metadata:
        raise SystemExit("error: the Kenya example's quality.yaml no longer has its dataset id")
    return {
        "data": ("data.csv", (KENYA / "data.csv").read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", own, "application/yaml"),
        "mapping": ("mapping.yaml", MAPPING.read_bytes(), "application/yaml"),
    }


async def _client(
    n: int, base: str, keys: dict[str, str], until: float, timeout: float, out: list[Outcome]
) -> None:
    import httpx

    rng = random.Random(n)
    kinds, weights = list(MIX), list(MIX.values())
    files = _files(n)
    cso = {"Authorization": f"Bearer {keys[CSO]}"}
    nso = {"Authorization": f"Bearer {keys[NSO]}", "Accept": CSV}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:
        while (now := time.monotonic()) < until:
            kind = rng.choices(kinds, weights)[0]
            start = time.perf_counter()
            try:
                if kind == "upload":
                    data = {"revision_note": f"load client {n}"}
                    r = await client.post("/api/submissions", files=files, data=data, headers=cso)
                elif kind == "validate":
                    r = await client.post("/api/validate", files=files, headers=cso)
                else:
                    r = await client.get(V1_PULL if kind == "pull v1" else V2_PULL, headers=nso)
            except httpx.HTTPError as exc:
                out.append(
                    Outcome(kind, 0, time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
                )
                continue
            outcome = Outcome(kind, r.status_code, time.perf_counter() - start)
            outcome.retry_after = "retry-after" in r.headers
            if kind == "upload" and 200 <= r.status_code < 300:
                outcome.version_id = int(r.json()["id"])
            elif r.status_code >= 500:
                outcome.error = r.text[:300]
            out.append(outcome)
            if r.status_code in (429, 503) and outcome.retry_after:
                wait = float(r.headers["retry-after"])
                await asyncio.sleep(max(0.0, min(wait, until - now)))


async def _load(
    base: str, keys: dict[str, str], clients: int, duration: float, timeout: float
) -> list[Outcome]:
    out: list[Outcome] = []
    until = time.monotonic() + duration
    await asyncio.gather(*(_client(n, base, keys, until, timeout, out) for n in range(clients)))
    return out


def check_database(url: str, run: Run) -> None:
    """Count what the database holds against what the clients were told (the server stopped)."""
    from sqlalchemy import func, select

    from cgd_bridge.store import db
    from cgd_bridge.store.models import AuditEntry, Version

    uploaded = {o.version_id for o in run.outcomes if o.version_id is not None}
    pulled = sum(1 for o in run.outcomes if o.kind.startswith("pull") and o.status == 200)
    engine = db.make_engine(url)
    try:
        with engine.connect() as c:
            versions = (
                set(c.execute(select(Version.id).where(Version.id.in_(uploaded))).scalars())
                if uploaded
                else set()
            )
            audited = (
                set(
                    c.execute(
                        select(AuditEntry.version_id).where(
                            AuditEntry.action == "version.created", AuditEntry.version_id.in_(uploaded)
                        )
                    ).scalars()
                )
                if uploaded
                else set()
            )
            pull_rows = c.execute(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "data.pulled")
            ).scalar_one()
            all_versions = c.execute(select(func.count()).select_from(Version)).scalar_one()
            all_audit = c.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    finally:
        engine.dispose()
    run.counts = {
        "uploads answered 2xx": len(uploaded),
        "their version rows": len(versions),
        "their version.created audit rows": len(audited),
        "pulls answered 200": pulled,
        "data.pulled audit rows": int(pull_rows),
        "versions in the database": int(all_versions),
        "audit rows in the database": int(all_audit),
    }
    if missing := uploaded - versions:
        run.problems.append(
            f"{len(missing)} upload(s) answered 2xx have no version row: {sorted(missing)[:10]}"
        )
    if missing := uploaded - audited:
        run.problems.append(
            f"{len(missing)} upload(s) answered 2xx have no audit row: {sorted(missing)[:10]}"
        )
    if pull_rows < pulled:
        run.problems.append(f"{pulled} pulls answered 200 but only {pull_rows} data.pulled audit rows")


def judge(run: Run) -> None:
    """The answers that are wrong whatever the load: a 5xx but a 503 with Retry-After, no answer."""
    bad = [
        o
        for o in run.outcomes
        if o.status == 0 or (o.status >= 500 and not (o.status == 503 and o.retry_after))
    ]
    for o in bad[:10]:
        what = "no answer" if o.status == 0 else f"{o.status}"
        run.problems.append(f"{o.kind}: {what} after {o.seconds:.1f} s {o.error[:200]}")
    if len(bad) > 10:
        run.problems.append(f"... and {len(bad) - 10} more such answers")
    if not any(200 <= o.status < 300 for o in run.outcomes):
        run.problems.append("no request succeeded")


def one_configuration(
    name: str,
    url: str,
    data_dir: Path,
    workers: int,
    clients: int,
    duration: float,
    timeout: float,
    keys: dict[str, str] | None = None,
) -> Run:
    """Seed ``url`` (unless ``keys`` says it is seeded already), serve it, load it, count."""
    print(f"-- {name}: {clients} clients for {duration:g} s", flush=True)
    keys = keys or seed(url, data_dir)
    run = Run(name, duration)
    try:
        with serve(url, data_dir, workers) as (base, _process):
            run.outcomes = asyncio.run(_load(base, keys, clients, duration, timeout))
    except RuntimeError as exc:
        run.problems.append(str(exc))
        return run
    judge(run)
    check_database(url, run)
    return run


@contextlib.contextmanager
def sqlite_template() -> Iterator[tuple[Path, dict[str, str]]]:
    """One seeded SQLite file (and its keys) that each SQLite configuration starts from a copy of."""
    with tempfile.TemporaryDirectory(prefix="cgdb-load-seed-") as tmp:
        path = Path(tmp) / "cgd-bridge.sqlite"
        keys = seed(f"sqlite:///{path}", Path(tmp))
        yield path, keys


# ------------------------------------------------------------------------------------ report


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0] * 1000:,.0f}"
    cut = statistics.quantiles(values, n=100, method="inclusive")
    return f"{cut[round(q) - 1] * 1000:,.0f}"


def run_table(run: Run) -> str:
    lines = [
        "| requests | count | req/s | p50 ms | p95 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in [*MIX, "all"]:
        chosen = [o for o in run.outcomes if kind in ("all", o.kind)]
        seconds = [o.seconds for o in chosen]
        statuses = Counter(
            (
                "no answer"
                if o.status == 0
                else f"{o.status}{' +RA' if o.status == 503 and o.retry_after else ''}"
            )
            for o in chosen
        )
        shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
        label = f"**{kind}**" if kind == "all" else kind
        lines.append(
            f"| {label} | {len(chosen):,} | {len(chosen) / run.duration:,.1f} | {_ms(seconds, 50)} "
            f"| {_ms(seconds, 95)} | {_ms(seconds, 99)} | {shown or '-'} |"
        )
    reasons = Counter(
        (o.kind, (m.group(1) if (m := _PROBLEM.search(o.error)) else o.error[:80]))
        for o in run.outcomes
        if o.status >= 500
    )
    if reasons:  # which 5xx: the database busy, every job worker busy, ...
        lines.append("")
        lines += [f"- {kind}, {n:,} x: {why}" for (kind, why), n in sorted(reasons.items())]
    return "\n".join(lines)


_PROBLEM = re.compile(r'"message"\s*:\s*"([^"]+)"')


def counts_table(run: Run) -> str:
    return "\n".join(
        ["| counted afterwards | n |", "|---|---|", *(f"| {k} | {v:,} |" for k, v in run.counts.items())]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per configuration")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="a request unanswered this long is a stall"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="4 clients for 3 s; SQLite 1 and 2 workers, PostgreSQL 1 (CI)"
    )
    parser.add_argument(
        "--record", action="store_true", help="write the result tables into benchmarks/README.md"
    )
    args = parser.parse_args(argv)
    if args.tiny:
        args.clients, args.duration = 4, 3.0
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = set(databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database(s) {sorted(unknown)}: use sqlite and/or postgresql")
    workers = [int(w) for w in args.workers.split(",") if w.strip()]

    configurations = [(d, n) for d in databases for n in workers]
    if args.tiny:  # CI: both databases, several workers once
        configurations = [(d, n) for d, n in configurations if d == "sqlite" or n == min(workers)]
    runs: list[Run] = []
    with contextlib.ExitStack() as seeded:
        template = seeded.enter_context(sqlite_template()) if "sqlite" in databases else None
        for database, n in configurations:
            name = f"{'SQLite' if database == 'sqlite' else 'PostgreSQL'}, {n} worker{'s' if n > 1 else ''}"
            with tempfile.TemporaryDirectory(prefix="cgdb-load-") as tmp, contextlib.ExitStack() as stack:
                data_dir = Path(tmp)
                keys = None
                if database == "sqlite" and template is not None:
                    shutil.copyfile(template[0], data_dir / "cgd-bridge.sqlite")  # a fresh copy each
                    url, keys = f"sqlite:///{data_dir / 'cgd-bridge.sqlite'}", template[1]
                else:
                    url = stack.enter_context(postgres_schema())
                runs.append(
                    one_configuration(name, url, data_dir, n, args.clients, args.duration, args.timeout, keys)
                )

    mix = ", ".join(f"{k} {v}" for k, v in MIX.items())
    text = [
        f"_{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {args.clients} clients for "
        f"{args.duration:g} s per configuration, mix {mix} (weights), "
        f"1-minute load average {os.getloadavg()[0]:.1f} at the end_",
        "",
    ]
    for run in runs:
        text += [f"**{run.name}**", "", run_table(run), "", counts_table(run), ""]
    body = "\n".join(text).rstrip() + "\n"
    print()
    print(body)
    wrong = [(r.name, p) for r in runs for p in r.problems]
    for name, problem in wrong:
        print(f"!! {name}: {problem}")
    any_5xx = [r.name for r in runs if any(o.status >= 500 for o in r.outcomes)]
    for r in runs:
        fives = sum(1 for o in r.outcomes if o.status >= 500)
        verdict = "PASS" if not fives and not r.problems else "FAIL"
        print(
            f"{verdict}  {r.name}: {fives} 5xx answers (503 with Retry-After allowed, but not the goal), "
            f"{len(r.problems)} wrong answer(s) or losses"
        )
    if wrong:
        return harness.RUN_FAILED
    if args.record:
        harness.record_in_readme("load", body)
        print(f"recorded in {harness.README.relative_to(ROOT)} (results:load)")
    return harness.GOAL_FAILED if any_5xx else harness.ALL_PASS


if __name__ == "__main__":
    sys.exit(main())
