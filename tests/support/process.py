"""The one way the tests run an external server (the bridge, nginx, oidc-provider): :func:`running`.

It starts the command with its output in a log file, waits until a URL answers 200 or the
process dies (either way the failure names the command and ends with the tail of its logs),
yields the process, and stops it when the block ends, however the block ends: SIGTERM to the
process, SIGKILL after ``stop_timeout`` seconds, then SIGKILL to whatever is left of its process
group. Each server gets a process group of its own (``start_new_session``), so the sweep also
takes the workers a master leaves behind when it is killed (nginx's workers, uvicorn's), and a
test may kill a server as one host with ``os.killpg(process.pid, signal.SIGKILL)``. Groups a
block never stopped (an abandoned generator, an interpreter on its way out) are killed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

#: the process groups started and not yet swept, killed at exit if a block never ended
_LIVE: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(logs: Sequence[Path], chars: int = 3000) -> str:
    """The last ``chars`` characters of each log that exists, each under its name."""
    parts = []
    for log in logs:
        with contextlib.suppress(OSError):
            parts.append(f"--- {log.name}:\n{log.read_text(errors='replace')[-chars:]}")
    return "\n".join(parts)


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    logs: Sequence[Path],
    *,
    name: str = "the process",
    timeout: float = 60,
) -> None:
    """Return once ``url`` answers 200; raise ``RuntimeError`` with the logs' tails if the
    process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail(logs)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer {url} within {timeout} s:\n{tail(logs)}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate ``process`` (kill it after ``timeout`` s), then kill what is left of its group."""
    try:
        process.terminate()  # the master shuts its workers down itself
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    finally:
        _sweep(process.pid)


def _sweep(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    _LIVE.discard(group)


@atexit.register
def _sweep_all() -> None:
    for group in list(_LIVE):
        _sweep(group)


@contextlib.contextmanager
def running(
    command: Sequence[str],
    *,
    ready: str,
    log: Path,
    name: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30,
    stop_timeout: float = 10,
    more_logs: Sequence[Path] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (stdout and stderr to ``log``) until the block ends; enter the block once
    ``ready`` (a URL) answers 200 within ``timeout`` seconds. ``more_logs`` (files the process
    writes itself, such as nginx's error log) are quoted after ``log`` when it fails to start."""
    name = name or f"`{shlex.join(command)}`"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    _LIVE.add(process.pid)
    try:
        wait_until_up(ready, process, [log, *more_logs], name=name, timeout=timeout)
        yield process
    finally:
        stop(process, stop_timeout)
