"""Hostile work costs one job, never the service (#14): a real ``cgd-bridge serve``, real uploads.

The server checks uploads in worker processes with a memory limit (``server/jobs.py``). Here the
limit is set low (30 MB beyond a warmed worker) so that legitimate files are "too large":

- a 15 MB CSV needs more: a clear 413 naming the limit and its setting, and the next upload
  is checked as usual;
- a 1.5 MB XLSX: the native readers (fastexcel, python-calamine) may abort their process when an
  allocation fails (a real ``SIGABRT``, no test hook: python-calamine did, before the columnar
  reader of #16): that one upload is a 422 naming the signal and the limit and the worker is
  replaced; or the failed allocation is a ``MemoryError`` (fastexcel now): a 413 naming the
  limit. Either way the next upload goes through;
- the server killed with ``kill -9`` (one process, and ``--workers 2``): every worker process it
  started exits (checked in ``/proc``).
"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.paths import ROOT
from tests.support.server import LiveServer, live_server

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
TIGHT = {"CGD_BRIDGE_JOB_MEMORY_MB": "30", "CGD_BRIDGE_JOB_WORKERS": "1"}


def _rows(years: int) -> Iterator[list[str]]:
    """The Kenya example's rows, repeated for ``years`` years (a legitimate, larger dataset)."""
    lines = (KENYA / "data.csv").read_text(encoding="utf-8").splitlines()
    yield lines[0].split(",")
    for year in range(1800, 1800 + years):
        for line in lines[1:]:
            cells = line.split(",")
            cells[4] = str(year)
            yield cells


def _csv(years: int) -> bytes:
    return "".join(",".join(r) + "\n" for r in _rows(years)).encode()


def _xlsx(years: int) -> bytes:
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl (a test dependency) writes the XLSX")
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("data")
    for row in _rows(years):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _validate(server: LiveServer, name: str, data: bytes) -> httpx.Response:
    files = {
        "data": (name, data, "application/octet-stream"),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": ("mapping.yaml", MAPPING.read_bytes(), "application/yaml"),
    }
    return httpx.post(f"{server.url}/api/validate", files=files, headers=server.headers("amina"), timeout=300)


def _small(server: LiveServer) -> None:
    r = _validate(server, "data.csv", (KENYA / "data.csv").read_bytes())
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True


def _descendants(pid: int) -> set[int]:
    """Living (not zombie) processes under ``pid``, from ``/proc``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("jobs-tight")
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir, env=TIGHT) as server:
        yield server


def test_a_file_past_the_job_memory_limit_is_refused_and_the_server_goes_on(tight: LiveServer) -> None:
    r = _validate(tight, "big.csv", _csv(2000))
    # 413 when Python or Arrow raises MemoryError; a native library may instead crash on the
    # failed allocation (422 naming the signal): either way one job, named limit and setting
    assert r.status_code in (413, 422), r.text
    message = r.json()["error"]["message"]
    assert "30 MB of memory" in message, message
    assert "CGD_BRIDGE_JOB_MEMORY_MB" in message, message
    _small(tight)


def test_an_upload_that_aborts_its_worker_costs_that_job_only(tight: LiveServer) -> None:
    _small(tight)
    before = _descendants(tight.process.pid)
    assert before, "no worker process checked the upload"
    r = _validate(tight, "big.xlsx", _xlsx(300))
    assert r.status_code in (413, 422), r.text
    message = r.json()["error"]["message"]
    assert "30 MB of memory" in message or "SIGABRT" in message, message
    assert "CGD_BRIDGE_JOB_MEMORY_MB" in message, message
    assert httpx.get(f"{tight.url}/healthz", timeout=30).status_code == 200
    _small(tight)  # the next upload is checked (by a new worker where the old one died)
    after = _descendants(tight.process.pid)
    assert after, "no worker process checked the upload"
    if r.status_code == 422:
        assert not (after & before), (before, after)


def _kill_master(server: LiveServer, at_least: int) -> None:
    _small(server)
    children = _descendants(server.process.pid)
    assert len(children) >= at_least, children
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in children if _alive(p)]
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left after the master was killed: {left}"


def test_killing_the_server_leaves_no_worker(tight: LiveServer) -> None:
    """Last of the module's tests: it ends the module's server."""
    _kill_master(tight, at_least=1)


def test_killing_the_master_of_two_workers_leaves_no_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.sqlite'}"
    with live_server(url, tmp_path, env=TIGHT, args=("--workers", "2")) as server:
        _kill_master(server, at_least=3)  # two uvicorn workers and a job worker
