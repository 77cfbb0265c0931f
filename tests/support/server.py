"""A real bridge server for end-to-end tests: a seeded database and ``cgd-bridge serve`` in a subprocess.

The server listens on 127.0.0.1 on a free port and is stopped (terminated, then killed) when
the test is done; nothing outlives the test session.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


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
    (``timeout``: how long it may take to answer, several workers on a busy machine take longer)."""
    keys, published = seed_database(database_url, data_dir) if seed else ({}, {})
    port = free_port()
    log = data_dir / f"server-{port}.log"
    environment = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(data_dir), **(env or {})}
    environment.pop("CGD_BRIDGE_DATABASE_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cgd_bridge",
                "serve",
                "--port",
                str(port),
                "--database-url",
                database_url,
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", database_url, data_dir, process, keys, published, log)
    try:
        wait_until_up(server.url, process, log, timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
