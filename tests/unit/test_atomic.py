"""Atomic writes: all or nothing, with ordinary file permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cgd_bridge.atomic import atomic_writer, write_bytes_atomic


def test_the_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "sub" / "out.xml", b"<x/>")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "sub" / "out.xml").stat().st_mode)
    assert mode == 0o644  # not the 0600 of a temporary file: others may read a converted dataset


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")

    def write_half() -> None:
        with atomic_writer(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError):
        write_half()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
