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


def test_a_symbolic_link_stays_a_link_and_its_file_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real" / "out.csv"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_bytes_atomic(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["out.csv"]  # no temporary left


def test_a_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_bytes_atomic(fifo, b"through the pipe")
    reader.join(timeout=60)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    """`-o /dev/null` as root once replaced the null device with a file; a null device made in
    tmp_path stands for it here (a broken writer then only replaces the copy)."""
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc}); CI runs as root")
    write_bytes_atomic(null, b"discarded")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_folder_is_refused_by_name(tmp_path: Path) -> None:
    from cgd_bridge.errors import UsageError

    with pytest.raises(UsageError, match="is a folder, not a file"):
        write_bytes_atomic(tmp_path, b"x")


def test_an_output_whose_folder_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    """-o report/2024/out.csv where 'report' is a file: a clear error naming the path and the fix
    (it was the system's NotADirectoryError), and the file in the way is untouched."""
    from cgd_bridge.errors import UsageError
    from cgd_bridge.i18n import translator

    (tmp_path / "report").write_bytes(b"keep")
    target = tmp_path / "report" / "2024" / "out.csv"
    with pytest.raises(UsageError) as exc:
        write_bytes_atomic(target, b"x")
    assert str(target) in exc.value.problem
    assert "a part of its folder path is a file" in exc.value.problem
    assert exc.value.fix
    assert (tmp_path / "report").read_bytes() == b"keep"
    problem, fix = exc.value.texts(translator("sw"))
    assert fix != exc.value.fix
    assert problem != exc.value.problem
    assert str(target) in problem


def test_an_output_that_cannot_be_created_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No permission (or a full disk) where the temporary file is made: a UsageError, not a traceback."""
    import tempfile

    from cgd_bridge.errors import UsageError

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(UsageError, match="no permission to write in its folder"):
        write_bytes_atomic(tmp_path / "out.csv", b"x")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    with pytest.raises(UsageError, match=r"cannot be written \(No space left on device\)"):
        write_bytes_atomic(tmp_path / "out.csv", b"x")


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "private.csv"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_bytes_atomic(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes() == b"new"


def test_a_cli_stopped_by_sigterm_leaves_no_temporary_file(tmp_path: Path) -> None:
    """Was: `timeout`, a service manager or `kill` stopping a conversion left `.out.xml.*.tmp`
    beside the output (#14): SIGTERM ended the process without unwinding. The CLI turns it into
    an interrupt, so the writer's cleanup runs."""
    import signal
    import subprocess
    import sys

    script = f"""
import sys, time
from cgd_bridge.atomic import atomic_writer
from cgd_bridge.cli import stop_cleanly_on_sigterm
stop_cleanly_on_sigterm()
try:
    with atomic_writer({str(tmp_path / "out.xml")!r}) as fh:
        fh.write(b"<partial>" * 1000)
        print("writing", flush=True)
        time.sleep(30)
except KeyboardInterrupt:
    sys.exit(2)
"""
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # the write is under way
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 2
    assert list(tmp_path.iterdir()) == []
