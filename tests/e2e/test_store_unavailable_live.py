"""A busy or lost database, live: quick 503s with Retry-After, then normal service (#14).

- **SQLite locked by another process.** A second process holds ``BEGIN EXCLUSIVE`` on the
  server's file. Was: every request that writes (an upload, a web page's session, a key's
  use) waited SQLite's 10 s busy timeout, then a 503 without Retry-After, or for an upload a 400
  "error parsing the body". Now each waits at most ``CGD_BRIDGE_DB_WAIT_SECONDS`` (1 s here)
  and answers a 503 with Retry-After in the route's own format; reads may still be served.
- **PostgreSQL cut.** The server reaches PostgreSQL through a TCP proxy the test cuts (the
  database itself keeps running for everyone else): pages, API and SDMX answer 503 without the
  database's address, ``/readyz`` 503 and ``/healthz`` 200; service resumes when the proxy is
  back, without a restart.

The client's timeout (15 s against a 1 s wait) is the "no stall" bound: a request that hung
would fail the test by its timeout, not by a measured duration.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema
from tests.support.server import LiveServer, live_server
from tests.support.tcpproxy import TcpProxy

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
ENV = {"CGD_BRIDGE_DB_WAIT_SECONDS": "1"}
TIMEOUT = 15.0
DATA = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all"


def _upload(server: LiveServer) -> httpx.Response:
    files = {
        "data": ("data.csv", (KENYA / "data.csv").read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": ("mapping.yaml", MAPPING.read_bytes(), "application/yaml"),
    }
    return httpx.post(
        f"{server.url}/api/submissions",
        files=files,
        data={"revision_note": "while the database was busy"},
        headers=server.headers("amina"),
        timeout=TIMEOUT,
    )


def _get(server: LiveServer, path: str, user: str | None = "amina") -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers=server.headers(user), timeout=TIMEOUT)


def _is_clear_503(r: httpx.Response, kind: str) -> None:
    assert r.status_code == 503, (r.request.url, r.status_code, r.text[:300])
    assert int(r.headers["Retry-After"]) >= 1
    if kind == "sdmx":
        assert "Error" in r.text
        assert "503" in r.text
    elif kind == "html":
        assert r.headers["content-type"].startswith("text/html")
        assert "database" in r.text
    else:
        assert r.json()["error"]["status"] == 503


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process that takes SQLite's lock on demand (it holds it until stdin closes, 120 s at most)."""
    code = textwrap.dedent(
        """
        import select, sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
        sys.stdin.readline()
        c.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        select.select([sys.stdin], [], [], 120)  # until released (stdin closed) or 120 s
        c.execute("ROLLBACK")
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "busy.sqlite")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def test_sqlite_locked_by_another_process(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with live_server(f"sqlite:///{tmp_path / 'busy.sqlite'}", tmp_path, env=ENV) as server:
        assert _upload(server).status_code == 201
        assert holder.stdin is not None
        assert holder.stdout is not None
        holder.stdin.write("lock\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"

        _is_clear_503(_upload(server), "json")  # an upload must write: it cannot wait for ever
        for path, user, kind in (
            ("/api/submissions", "amina", "json"),
            (DATA, "kamau", "sdmx"),
            ("/dataflows", None, "html"),
            ("/", None, "html"),
        ):
            r = _get(server, path, user)
            if r.status_code != 200:  # a read may be served from WAL; if not, a clear 503
                _is_clear_503(r, kind)
        assert _get(server, "/healthz").status_code == 200

        holder.stdin.close()  # released
        holder.wait(30)
        assert _upload(server).status_code == 201
        assert _get(server, DATA, "kamau").status_code == 200
        assert _get(server, "/dataflows", None).status_code == 200
        assert _get(server, "/readyz", None).json()["status"] == "ready"
        assert server.log is not None
        assert '" 500' not in server.log.read_text()  # uvicorn's access log: no request failed


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)
    netloc = (host[0] + "@" if len(host) == 2 else "") + f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_postgresql_connection_cut(tmp_path: Path) -> None:
    with fresh_schema("cgdb_outage") as url:
        target = urlsplit(url).port or 5432
        with TcpProxy(target) as proxy, live_server(_through(url, proxy.port), tmp_path, env=ENV) as server:
            assert _get(server, "/readyz", None).status_code == 200
            proxy.cut()
            for path, user, kind in (
                ("/api/submissions", "amina", "json"),
                (DATA, "kamau", "sdmx"),
                ("/dataflows", None, "html"),
                ("/readyz", None, "json"),
            ):
                r = _get(server, path, user)
                _is_clear_503(r, kind)
                for secret in (str(proxy.port), "postgresql", "127.0.0.1"):
                    assert secret not in r.text, (path, secret)
            _is_clear_503(_upload(server), "json")
            assert _get(server, "/healthz", None).status_code == 200  # liveness: the process is up

            proxy.restore()
            assert _get(server, "/readyz", None).status_code == 200
            assert _get(server, "/api/submissions").status_code == 200
            assert _get(server, DATA, "kamau").status_code == 200
            assert _get(server, "/dataflows", None).status_code == 200
            assert _upload(server).status_code == 201
