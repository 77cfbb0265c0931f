"""SQLite writers from several processes, with and without the bridge's write queue (#14).

Each of ``--processes`` processes runs ``--threads`` threads that write for ``--seconds``: a
write transaction (an INSERT, then ``--hold`` seconds inside the transaction, then COMMIT), then a
10 ms pause, each with the server's bounded wait ``--wait``. Twice: with SQLite's busy handler
alone (plain ``sqlite3`` connections with ``busy_timeout``), and with the connections
``store/db.py`` makes (``store/writelock.py``: threads first come, first served, processes in
turns). The demand is set so that a fair queue never waits longer than ``--wait`` (threads x hold
< wait), so every "database is locked" is a writer that lost a race, not a full queue.

Reported per side: commits per process, "database is locked" answers, the longest and p99 wait
for the first write. Exit 2 when a commit is missing from the database (a wrong answer), 1 when
the queue still gave "database is locked" (the goal: none), 0 otherwise.

Usage (from the repository root)::

    .venv/bin/python benchmarks/sqlite_writers.py            # 2 processes x 20 threads, 10 s
    .venv/bin/python benchmarks/sqlite_writers.py --tiny     # CI: 2 x 4 threads, 1 s
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _process(db: str, queued: bool, threads: int, seconds: float, wait: float, hold: float, out: Any) -> None:
    from cgd_bridge.store.writelock import connection_factory, write_lock

    ok, locked, waits = 0, 0, []
    guard = threading.Lock()

    def writer() -> None:
        nonlocal ok, locked
        extra = {"factory": connection_factory(write_lock(Path(db)), wait)} if queued else {}
        conn = sqlite3.connect(db, timeout=wait, check_same_thread=False, **extra)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA busy_timeout={round(wait * 1000)}")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.monotonic()
            try:
                conn.execute("INSERT INTO t (x) VALUES (1)")
                waited = time.monotonic() - start
                time.sleep(hold)
                conn.commit()
                with guard:
                    ok += 1
                    waits.append(waited)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                conn.rollback()
                with guard:
                    locked += 1
            time.sleep(0.01)
        conn.close()

    pool = [threading.Thread(target=writer) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    waits.sort()
    out.put((ok, locked, waits[-1] if waits else 0.0, waits[int(len(waits) * 0.99)] if waits else 0.0))


Result = tuple[int, int, float, float]  # commits, 'database is locked', longest and p99 wait


def side(folder: Path, queued: bool, args: argparse.Namespace) -> tuple[list[Result], int]:
    db = folder / f"{'queued' if queued else 'plain'}.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_process, args=(str(db), queued, args.threads, args.seconds, args.wait, args.hold, out)
        )
        for _ in range(args.processes)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    conn = sqlite3.connect(db)
    stored = int(conn.execute("SELECT count(*) FROM t").fetchone()[0])
    conn.close()
    return results, stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=20, help="writer threads per process")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--wait", type=float, default=1.0, help="the bounded wait (seconds)")
    parser.add_argument("--hold", type=float, default=0.02, help="seconds inside each write transaction")
    parser.add_argument("--tiny", action="store_true", help="2 processes x 4 threads for 1 s (CI)")
    args = parser.parse_args()
    if args.tiny:
        args.threads, args.seconds = 4, 1.0
    print(
        f"-- {args.processes} processes x {args.threads} threads, {args.seconds:g} s, "
        f"{args.hold * 1000:g} ms write transactions, {args.wait:g} s wait\n"
    )
    print("| side | commits per process | database is locked | longest wait ms | p99 wait ms |")
    print("|---|---|---|---|---|")
    wrong, queued_locked = [], 0
    with tempfile.TemporaryDirectory(prefix="cgd-writers-") as tmp:
        for queued in (False, True):
            results, stored = side(Path(tmp), queued, args)
            name = "bridge queue (store/writelock.py)" if queued else "SQLite busy handler alone"
            commits = sum(r[0] for r in results)
            locked = sum(r[1] for r in results)
            print(
                f"| {name} | {', '.join(str(r[0]) for r in results)} | {locked} "
                f"| {max(r[2] for r in results) * 1000:,.0f} | {max(r[3] for r in results) * 1000:,.0f} |"
            )
            if stored != commits:
                wrong.append(f"{name}: {commits} commits reported, {stored} rows stored")
            if queued:
                queued_locked = locked
    print()
    for problem in wrong:
        print(f"!! {problem}")
    if wrong:
        print("FAIL  a commit is missing")
        return 2
    verdict = "PASS" if queued_locked == 0 else "FAIL"
    print(f"{verdict}  the queue: {queued_locked} 'database is locked' (goal: none)")
    return 0 if queued_locked == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
