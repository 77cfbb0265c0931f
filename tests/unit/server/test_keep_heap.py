"""The server keeps freed heap for its next answer instead of faulting fresh pages in (#16)."""

from __future__ import annotations

import platform
import sys

import pytest

from cgd_bridge.server import run


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_glibc_takes_the_thresholds() -> None:
    assert run.keep_heap() is True


def test_without_mallopt_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run.sys, "platform", "darwin")
    assert run.keep_heap() is False

    class NoMallopt:
        def __init__(self, name: object) -> None:
            pass

    monkeypatch.setattr(run.sys, "platform", "linux")
    monkeypatch.setattr(run.ctypes, "CDLL", NoMallopt)  # e.g. musl: no mallopt
    assert run.keep_heap() is False


def test_every_worker_keeps_its_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker process builds its app from the environment: it sets the thresholds too."""
    calls: list[int] = []
    monkeypatch.setattr(run, "keep_heap", lambda: calls.append(1) or True)
    monkeypatch.setattr("cgd_bridge.server.jobs.exit_with_parent", lambda: None)
    monkeypatch.setattr("cgd_bridge.server.app.create_app", lambda settings: "app")
    assert run.app_from_env() == "app"
    assert calls == [1]
