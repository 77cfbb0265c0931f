"""The web session secret file: written whole or not at all, and an empty one is not a dead end (#14).

Was: a disk full at the first web request left an empty ``web-secret``, and every page answered
503 until someone deleted the file by hand.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cgd_bridge.errors import StoreError
from cgd_bridge.server.web import session as websession


def test_a_failed_write_leaves_no_secret_file_and_the_next_start_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(StoreError) as err:
        websession.load_secret(None, tmp_path)
    assert "CGD_BRIDGE_SECRET_KEY" in (err.value.fix or "")
    assert str(tmp_path) not in err.value.problem  # the path is for the log, not the answer
    assert not (tmp_path / websession.SECRET_FILE).exists()
    assert not list(tmp_path.iterdir())  # no temporary file left either
    monkeypatch.setattr(os, "write", real_write)
    secret = websession.load_secret(None, tmp_path)
    assert len(secret) == 64
    assert (tmp_path / websession.SECRET_FILE).read_bytes().strip() == secret


@pytest.mark.parametrize("content", ["", "\n", "short"])
def test_an_empty_or_broken_secret_file_is_replaced(tmp_path: Path, content: str) -> None:
    (tmp_path / websession.SECRET_FILE).write_text(content)
    secret = websession.load_secret(None, tmp_path)
    assert len(secret) == 64
    assert (tmp_path / websession.SECRET_FILE).read_bytes().strip() == secret
    assert websession.load_secret(None, tmp_path) == secret  # kept from now on


def test_workers_starting_together_share_one_secret(tmp_path: Path) -> None:
    found: list[bytes] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        found.append(websession.load_secret(None, tmp_path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [websession.SECRET_FILE]
