"""Crash safety: a server killed in the middle of an upload or of storing a version leaves nothing half-made.

Two faults, both with a real process killed by SIGKILL (no clean-up code runs):

- the server is killed while a client is still sending a large upload;
- a process is killed inside the store's transaction, after the version, its files and its
  observations were written but before the commit (``os._exit`` from the Parquet step).

Afterwards the database holds exactly the versions it held before, a restarted server answers,
and the same submission goes through.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cgd_bridge.resources import ROOT
from tests.support.postgres import fresh_schema
from tests.support.server import free_port, live_server, seed_database, wait_until_up

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"


def _count_versions(url: str) -> int:
    from sqlalchemy import func, select

    from cgd_bridge.store.db import make_engine
    from cgd_bridge.store.models import StoredFile, Version, VersionData

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            versions = c.execute(select(func.count()).select_from(Version)).scalar_one()
            files = c.execute(select(func.count()).select_from(StoredFile)).scalar_one()
            data = c.execute(select(func.count()).select_from(VersionData)).scalar_one()
    finally:
        engine.dispose()
    assert files >= versions  # every version has its files...
    assert data == versions  # ...and its observations: no version without them, no orphans
    return int(versions)


def _submit(url: str, key: str) -> httpx.Response:
    files = {
        "data": ("data.csv", (KENYA / "data.csv").read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": ("mapping.yaml", MAPPING.read_bytes(), "application/yaml"),
    }
    return httpx.post(
        f"{url}/api/submissions",
        files=files,
        data={"revision_note": "after the crash"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.sqlite'}"
        return
    with fresh_schema("cgdb_crash") as url:
        yield url


def test_killed_during_an_upload(database: str, tmp_path: Path) -> None:
    with live_server(database, tmp_path) as server:
        before = _count_versions(database)
        host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
        body_size = 50 * 1024 * 1024
        head = (
            f"POST /api/submissions HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {server.keys['amina']}\r\n"
            f"Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {body_size}\r\n\r\n"
            '--XyZ\r\nContent-Disposition: form-data; name="data"; filename="data.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        with socket.create_connection((host, port)) as sock:
            sock.sendall(head + (KENYA / "data.csv").read_bytes() * 20)
            time.sleep(0.5)
            server.process.send_signal(signal.SIGKILL)  # mid-upload: the body is far from complete
            server.process.wait(10)
        assert _count_versions(database) == before
        # restart on the same database: it answers, and the submission goes through
        port2 = free_port()
        log = tmp_path / "restart.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cgd_bridge",
                    "serve",
                    "--port",
                    str(port2),
                    "--database-url",
                    database,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "CGD_BRIDGE_DATA_DIR": str(tmp_path)},
            )
        try:
            url = f"http://127.0.0.1:{port2}"
            wait_until_up(url, proc, log)
            r = _submit(url, server.keys["amina"])
            assert r.status_code == 201, r.text
            assert _count_versions(database) == before + 1
        finally:
            proc.terminate()
            proc.wait(10)


CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cgd_bridge import pipeline
    from cgd_bridge.store import data, db, orgs, submissions
    from cgd_bridge.store.submissions import RawFile
    from cgd_bridge.structures import Structures

    url, root = sys.argv[1], Path(sys.argv[2])
    kenya = root / "examples/kenya-health-scorecard"
    result = pipeline.harmonise(kenya / "data.csv", metadata=kenya / "quality.yaml",
                                mapping=root / "mappings/kenya-health-scorecard.yaml",
                                structures=Structures.load(None))
    real = data.version_data

    def crash(table, version_id=None):
        real(table, version_id)
        os._exit(9)  # killed inside the transaction: version, files and rows are written, not committed

    submissions.store_data.version_data = crash
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session:
        amina = orgs.Principal.of(orgs.get_user(session, username="amina"))
        submissions.create_version(
            session, principal=amina, dataflow=result.dataflow, report=result.report,
            files=[RawFile("data", "data.csv", (kenya / "data.csv").read_bytes())],
            harmonised_table=result.harmonised.table, metadata=result.metadata.model.model_dump(mode="json"),
            mapping_text=result.mapping_text, dimensions=list(result.target.dimensions),
            revision_note="never committed", submit=True,
        )
    print("not killed")
    """
)


def test_killed_while_storing_a_version(database: str, tmp_path: Path) -> None:
    keys, _ = seed_database(database, tmp_path)
    before = _count_versions(database)
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, database, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 9, proc.stdout + proc.stderr
    assert "not killed" not in proc.stdout
    assert _count_versions(database) == before
    with live_server(database, tmp_path, seed=False) as server:
        r = _submit(server.url, keys["amina"])
        assert r.status_code == 201, r.text
        assert r.json()["number"] == 2
    assert _count_versions(database) == before + 1
