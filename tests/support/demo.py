"""The demo in process: the app on a data folder, seeded as ``cgd-bridge demo`` seeds it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cgd_bridge.server.app import create_app
from cgd_bridge.server.demo import Seeded, seed
from cgd_bridge.settings import Settings


@contextlib.contextmanager
def seeded_app(data_dir: Path) -> Iterator[tuple[TestClient, Any, Seeded]]:
    """A running TestClient of the app on ``data_dir`` (SQLite, no rate limit) with the demo
    seeded: (client, ``app.state.bridge``, what :func:`seed` did)."""
    app = create_app(Settings(data_dir=data_dir, rate_limit_per_minute=0))
    with TestClient(app) as client:
        bridge = app.state.bridge
        with bridge.sessions() as session:
            done = seed(session, bridge.structures)
        yield client, bridge, done
