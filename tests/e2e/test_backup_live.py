"""``cgd-bridge db backup`` / ``db restore`` round trip against a real, serving bridge (#19).

A demo database (with an imported NSO structure) is served by ``cgd-bridge serve``; clients pull
while the first backup runs; a second backup is taken once the pulls stopped (the server still
up). Each is restored by the real CLI into a fresh database and data folder: the quiet one must
give every table's rows exactly, the one taken under load a consistent database whose audit is
between what it was before and after, and a server started on the restored copy must answer a
pull with the same SDMX file byte for byte. On SQLite and on PostgreSQL (fresh databases, since
pg_dump works on a whole database).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, create_engine, select, text

from tests.support.postgres import fresh_database
from tests.support.server import live_server
from tests.support.specimens import SPECIMENS, need

KE_CSV = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?format=csv"
STRUCTURE = SPECIMENS / "agencies" / "ECB_EXR1_structure.xml"


def cli(*args: object, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "--data-dir", str(data_dir), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def every_row(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as c:
            return {
                name: sorted((tuple(r) for r in c.execute(select(table))), key=repr)
                for name, table in sorted(meta.tables.items())
            }
    finally:
        engine.dispose()


def audit_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT count(*) FROM audit")).scalar_one())
    finally:
        engine.dispose()


@contextlib.contextmanager
def databases(kind: str, root: Path) -> Iterator[list[str]]:
    """Three empty databases of ``kind``: the served one and two to restore into."""
    if kind == "sqlite":
        yield [f"sqlite:///{root / name / 'cgd-bridge.sqlite'}" for name in ("src", "quiet", "busy")]
        return
    with fresh_database("cgdb_bk") as a, fresh_database("cgdb_bk") as b, fresh_database("cgdb_bk") as c:
        yield [a, b, c]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_while_serving_and_restore_loses_nothing(kind: str, tmp_path: Path) -> None:
    need(STRUCTURE)
    dirs = {name: tmp_path / name for name in ("src", "quiet", "busy")}
    for folder in dirs.values():
        folder.mkdir()
    imported = cli("structures", "import", STRUCTURE, data_dir=dirs["src"])
    assert imported.returncode == 0, imported.stderr
    with databases(kind, tmp_path) as (src_url, quiet_url, busy_url):
        with live_server(src_url, dirs["src"]) as server:
            original = httpx.get(server.url + KE_CSV, timeout=60)
            assert original.status_code == 200
            assert original.text.count("\n") > 100

            pulls = 0
            stop = threading.Event()

            def pull() -> None:
                nonlocal pulls
                with httpx.Client(timeout=60) as c:
                    while not stop.is_set():
                        who = "kamau" if pulls % 2 else None
                        assert c.get(server.url + KE_CSV, headers=server.headers(who)).status_code == 200
                        pulls += 1

            before = audit_count(src_url)
            thread = threading.Thread(target=pull)
            thread.start()
            try:
                time.sleep(0.5)
                busy = cli(
                    "db", "backup", tmp_path / "busy.tar", "--database-url", src_url, data_dir=dirs["src"]
                )
            finally:
                stop.set()
                thread.join()
            assert busy.returncode == 0, busy.stderr
            assert pulls > 0
            time.sleep(1.5)  # the audit writer and the rate limiter write what the pulls left
            after = audit_count(src_url)
            assert after >= before + pulls
            quiet = cli(
                "db", "backup", tmp_path / "quiet.tar.gz", "--database-url", src_url, data_dir=dirs["src"]
            )
            assert quiet.returncode == 0, quiet.stderr
            assert re.search(r"\band \d+ structure files? to ", quiet.stdout), quiet.stdout
            served_rows = every_row(src_url)

        restored = cli(
            "db", "restore", tmp_path / "quiet.tar.gz", "--database-url", quiet_url, data_dir=dirs["quiet"]
        )
        assert restored.returncode == 0, restored.stderr
        rows = every_row(quiet_url)
        assert set(rows) == set(served_rows)
        assert len(rows) >= 10
        for table, expected in served_rows.items():
            assert rows[table] == expected, f"table {table} differs after the restore"
        assert sorted(p.name for p in (dirs["quiet"] / "structures").rglob("*") if p.is_file()) == sorted(
            p.name for p in (dirs["src"] / "structures").rglob("*") if p.is_file()
        )
        again = cli(
            "db", "restore", tmp_path / "quiet.tar.gz", "--database-url", quiet_url, data_dir=dirs["quiet"]
        )
        assert again.returncode == 2
        assert "--force" in again.stderr

        restored = cli(
            "db", "restore", tmp_path / "busy.tar", "--database-url", busy_url, data_dir=dirs["busy"]
        )
        assert restored.returncode == 0, restored.stderr
        assert before <= audit_count(busy_url) <= after

        with live_server(quiet_url, dirs["quiet"], seed=False) as copy:
            pulled = httpx.get(copy.url + KE_CSV, timeout=60)
            assert pulled.status_code == 200
            assert pulled.content == original.content
            flows = httpx.get(copy.url + "/sdmx/rest/datastructure/ECB/ECB_EXR1/1.0", timeout=60)
            assert flows.status_code == 200, "the restored structures are served"
