"""Crash safety: a process killed in an upload, a version's storing or a publication leaves nothing half-made.

Three faults, each with a real process killed by SIGKILL (no clean-up code runs):

- the server is killed while a client is still sending a large upload;
- a process is killed inside the store's transaction, after the version, its files and its
  observations were written but before the commit (``os._exit`` from the Parquet step);
- a process is killed inside :func:`~cgd_bridge.store.submissions.publish`'s transaction, after
  the new version's move to ``published``, the superseding of the published one and their audit
  rows were flushed, before the commit.

Afterwards the database holds exactly the versions (and states, and audit rows) it held before,
the old publication is still served, a restarted server answers, and the same submission or
publication goes through.
"""

from __future__ import annotations

import csv
import io
import json
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

from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema
from tests.support.process import free_port, running
from tests.support.server import live_server, seed_database

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
        url = f"http://127.0.0.1:{port2}"
        serve = ["serve", "--port", str(port2), "--database-url", database]
        env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(tmp_path)}
        command = [sys.executable, "-m", "cgd_bridge", *serve]
        with running(command, ready=f"{url}/healthz", log=tmp_path / "restart.log", env=env):
            r = _submit(url, server.keys["amina"])
            assert r.status_code == 201, r.text
            assert _count_versions(database) == before + 1


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
            session, result, principal=amina,
            files=[RawFile("data", "data.csv", (kenya / "data.csv").read_bytes())],
            revision_note="never committed", submit=True,
        )
    print("not killed")
    """
)


def _run_killed(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh Python process and check that it was killed (exit 9) at its kill point."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 9, proc.stdout + proc.stderr
    assert "not killed" not in proc.stdout
    return proc


def test_killed_while_storing_a_version(database: str, tmp_path: Path) -> None:
    keys, _ = seed_database(database, tmp_path)
    before = _count_versions(database)
    _run_killed(CRASH, database, str(ROOT))
    assert _count_versions(database) == before
    with live_server(database, tmp_path, seed=False) as server:
        r = _submit(server.url, keys["amina"])
        assert r.status_code == 201, r.text
        assert r.json()["number"] == 2
    assert _count_versions(database) == before + 1


PUBLISH_CRASH = textwrap.dedent(
    """
    import json, os, sys
    from sqlalchemy import select
    from cgd_bridge.store import db, orgs, submissions
    from cgd_bridge.store.models import AuditEntry, Version

    url, version_id = sys.argv[1], int(sys.argv[2])
    real = submissions._supersede_older

    def crash(session, v, states, principal, now):
        real(session, v, states, principal, now)
        session.flush()
        # what this transaction sees just before the kill: the proof that the kill point is
        # after the new state and the superseding (the test checks it), and before the commit
        seen = {n: s for n, s in session.execute(
            select(Version.number, Version.state).where(Version.submission_id == v.submission_id))}
        audit = sorted(a for (a,) in session.execute(
            select(AuditEntry.action).where(AuditEntry.submission_id == v.submission_id,
                                            AuditEntry.action.in_(["version.published",
                                                                   "version.superseded"]))))
        print(json.dumps({"states": seen, "audit": audit}), flush=True)
        os._exit(9)  # killed inside publish's transaction: everything flushed, nothing committed

    submissions._supersede_older = crash
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as session:
        kamau = orgs.Principal.of(orgs.get_user(session, username="kamau"))
        submissions.publish(session, principal=kamau, version_id=version_id)
    print("not killed")
    """
)
DATA_URL = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0"


def _states_and_audit(url: str, submission_id: int) -> tuple[dict[int, str], list[tuple[str, int]]]:
    """The versions' states by number, and the publication audit rows as (action, version number)."""
    from sqlalchemy import select

    from cgd_bridge.store.db import make_engine
    from cgd_bridge.store.models import AuditEntry, Version

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            states = dict(
                c.execute(
                    select(Version.number, Version.state).where(Version.submission_id == submission_id)
                ).all()
            )
            audit = c.execute(
                select(AuditEntry.action, Version.number)
                .join(Version, Version.id == AuditEntry.version_id)
                .where(
                    AuditEntry.submission_id == submission_id,
                    AuditEntry.action.in_(["version.published", "version.superseded"]),
                )
                .order_by(AuditEntry.id)
            ).all()
    finally:
        engine.dispose()
    return {int(n): str(s) for n, s in states.items()}, [(str(a), int(n)) for a, n in audit]


def _served_dataset_versions(url: str) -> set[str]:
    """The dataset versions named in SOURCE_DETAIL of what the public pulls over SDMX REST."""
    r = httpx.get(
        f"{url}{DATA_URL}", headers={"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"}, timeout=60
    )
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows
    return {row["SOURCE_DETAIL"].rsplit("dataset version ", 1)[1] for row in rows}


def test_killed_while_publishing(database: str, tmp_path: Path) -> None:
    """#4: a process killed inside publish's transaction leaves the old publication as it was."""
    quality = tmp_path / "quality.yaml"
    quality.write_text((KENYA / "quality.yaml").read_text().replace("version: 1.1.0", "version: 1.2.0", 1))
    with live_server(database, tmp_path) as server:
        amina, kamau = server.headers("amina"), server.headers("kamau")
        r = httpx.post(
            f"{server.url}/api/submissions",
            files={
                "data": ("data.csv", (KENYA / "data.csv").read_bytes(), "text/csv"),
                "metadata": ("quality.yaml", quality.read_bytes(), "application/yaml"),
                "mapping": ("mapping.yaml", MAPPING.read_bytes(), "application/yaml"),
            },
            data={"revision_note": "metadata 1.2.0", "submit": "true"},
            headers=amina,
            timeout=120,
        )
        assert r.status_code == 201, r.text
        v2 = r.json()
        r = httpx.post(f"{server.url}/api/versions/{v2['id']}/accept", headers=kamau, json={}, timeout=30)
        assert r.json()["state"] == "accepted", r.text
        sub = v2["submission"]
        states, audit = _states_and_audit(database, sub)
        assert states == {1: "published", 2: "accepted"}
        assert audit == [("version.published", 1)]
        assert _served_dataset_versions(server.url) == {"1.1.0"}

        proc = _run_killed(PUBLISH_CRASH, database, str(v2["id"]))
        inside = json.loads(proc.stdout.strip().splitlines()[-1])
        # the kill came after both changes were flushed in the transaction...
        assert inside == {
            "states": {"1": "superseded", "2": "published"},
            "audit": ["version.published", "version.published", "version.superseded"],
        }
        # ...and none of them outlived it: the running server still serves version 1
        assert _states_and_audit(database, sub) == (states, audit)
        assert _served_dataset_versions(server.url) == {"1.1.0"}
        keys = server.keys

    # a restarted server serves version 1, and publishing version 2 again goes through
    with live_server(database, tmp_path, seed=False) as server:
        assert _served_dataset_versions(server.url) == {"1.1.0"}
        r = httpx.post(
            f"{server.url}/api/versions/{v2['id']}/publish",
            headers={"Authorization": f"Bearer {keys['kamau']}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "published"
        assert _states_and_audit(database, sub) == (
            {1: "superseded", 2: "published"},
            [("version.published", 1), ("version.published", 2), ("version.superseded", 1)],
        )
        assert _served_dataset_versions(server.url) == {"1.2.0"}
