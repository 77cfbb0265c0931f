"""A real bridge server for end-to-end tests: a seeded database and ``cgd-bridge serve`` in a subprocess.

The server listens on 127.0.0.1 on a free port and is stopped (terminated, then killed) when
the test is done (tests/support/process.py); nothing outlives the test session.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.process import free_port, running
from tests.support.process import wait_until_up as process_wait_until_up


@dataclass
class LiveServer:
    """A running server: its URL, the demo keys and what was published."""

    url: str
    database_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    keys: dict[str, str] = field(default_factory=dict)
    published: dict[str, int] = field(default_factory=dict)
    log: Path | None = None

    def headers(self, user: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user]}"} if user else {}


def seed_database(database_url: str, data_dir: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Migrate and fill a database with the demo (organisations, keys, MoUs, published examples)."""
    from cgd_bridge.server.demo import seed
    from cgd_bridge.store import db
    from cgd_bridge.structures import Structures

    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            seeded = seed(session, Structures.load(data_dir / "structures"))
    finally:
        engine.dispose()
    assert not seeded.skipped, seeded.skipped
    return seeded.keys, seeded.published


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Return once the bridge at ``url`` answers ``/healthz`` (for a server started by hand)."""
    process_wait_until_up(f"{url}/healthz", process, [log], name="the server", timeout=timeout)


@contextlib.contextmanager
def live_server(
    database_url: str,
    data_dir: Path,
    *,
    seed: bool = True,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 60,
) -> Iterator[LiveServer]:
    """Seed ``database_url`` (unless ``seed=False``) and serve it on a free port until the block ends
    (``timeout``: how long it may take to answer, several workers on a busy machine take longer).

    The server (and its worker processes) run in a process group of their own, which a test may
    kill as one host (``os.killpg(server.process.pid, signal.SIGKILL)``).
    """
    keys, published = seed_database(database_url, data_dir) if seed else ({}, {})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / f"server-{port}.log"
    environment = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(data_dir), **(env or {})}
    environment.pop("CGD_BRIDGE_DATABASE_URL", None)
    serve = ["serve", "--port", str(port), "--database-url", database_url, *args]
    command = [sys.executable, "-m", "cgd_bridge", *serve]
    with running(
        command, ready=f"{url}/healthz", log=log, name="the server", env=environment, timeout=timeout
    ) as p:
        yield LiveServer(url, database_url, data_dir, p, keys, published, log)
