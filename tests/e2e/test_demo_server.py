"""``cgd-bridge demo`` (the README's main command): reports, a seeded database, keys printed, and a server."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx

from tests.support.process import free_port, running


def test_demo_serves_the_published_examples(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(tmp_path / "data")}
    env.pop("CGD_BRIDGE_DATABASE_URL", None)
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cgd_bridge", "demo", "-o", str(tmp_path / "demo"), "--port", str(port)]
    with running(command, ready=f"{url}/healthz", log=log, env=env, timeout=300, stop_timeout=20):
        text = log.read_text()
        keys = dict(re.findall(r"^\s+(\w+)\s+(cgdb_[\w-]+)$", text, flags=re.MULTILINE))
        assert set(keys) == {"amina", "sita", "kamau", "bikash", "admin"}
        assert "not published" not in text
        r = httpx.get(f"{url}/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?format=csv", timeout=60)
        assert r.status_code == 200
        assert r.text.count("\n") == 181
        r = httpx.get(
            f"{url}/sdmx/v2/data/dataflow/IAEG-SDGs/DF_SDG_GLH/1.5/*", headers={"Accept": "text/csv"}
        )
        assert r.status_code == 200
        assert "SP_PSR_SATIS" in r.text
        mine = httpx.get(
            f"{url}/api/submissions", headers={"Authorization": f"Bearer {keys['kamau']}"}
        ).json()
        assert {s["producer"] for s in mine} == {"sauti", "yuwa"}
        assert (tmp_path / "demo" / "demo.sqlite").is_file()
