"""Writing files so that a failure never leaves a partial one, and never replacing what is not a file.

:func:`atomic_writer` writes to a temporary file beside the target and moves it into place
(``os.replace``) only when the writing finished; on any exception (also KeyboardInterrupt) the
temporary file is removed and the target is untouched. A new file gets the permissions an
ordinary ``open(path, "w")`` would give it (0666 less the umask), not the 0600 of temporary
files; a file it replaces keeps its own.

What is not a regular file is written *through*, never replaced: a symbolic link stays a link
(the file it points to is replaced, atomically, beside itself), and a device, FIFO or socket
(``-o /dev/null``, ``-o /dev/stdout``, a named pipe another program reads) is opened and written
as it is: there is nothing to move into place there. A folder is refused with a clear error.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
>>> with atomic_writer(target) as fh:
...     _ = fh.write(b"a,b\\n")
>>> target.read_bytes()
b'a,b\\n'
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    """The process umask, read without changing it (Linux), else the common 022."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, durable: bool = False) -> Iterator[BinaryIO]:
    """A binary file object whose content replaces ``path`` when the block ends without error.

    Args:
        durable: fsync the file before moving it into place (for stores that must survive a
            power cut, not for reports).
    """
    path = Path(os.path.realpath(path))  # through symbolic links: the link itself stays
    try:
        mode: int | None = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # the second: a part of its folder is a file
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        from cgd_bridge.errors import UsageError
        from cgd_bridge.i18n import N_

        raise UsageError(
            N_("'{path}' is a folder, not a file"),
            fix=N_("Give the name of a file to write."),
            params={"path": str(path)},
        )
    if mode is not None and not stat.S_ISREG(mode):  # a device, FIFO or socket: write through
        with _opening(path):
            through = open(path, "wb")
        with through:
            yield through
        return
    with _opening(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Where an output cannot be created (its folder cannot be made, a part of its path is a
    file, no permission, a full or read-only disk): a clear error naming the path and the fix,
    not the system's traceback."""
    from cgd_bridge.errors import UsageError
    from cgd_bridge.i18n import N_

    try:
        yield
    except NotADirectoryError as exc:
        raise UsageError(
            N_("'{path}' cannot be written: a part of its folder path is a file, not a folder"),
            fix=N_("Give the output a path in an existing folder, or a folder name that is free."),
            params={"path": str(path)},
        ) from exc
    except PermissionError as exc:
        raise UsageError(
            N_("'{path}' cannot be written: there is no permission to write in its folder"),
            fix=N_("Give the output a path in a folder you can write to (e.g. in your home folder)."),
            params={"path": str(path)},
        ) from exc
    except OSError as exc:
        raise UsageError(
            N_("'{path}' cannot be written ({reason})"),
            fix=N_("Give the output a path in a folder you can write to, on a disk with free space."),
            params={"path": str(path), "reason": exc.strerror or type(exc).__name__},
        ) from exc


def write_bytes_atomic(path: str | Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_writer`."""
    with atomic_writer(path, durable=durable) as fh:
        fh.write(data)
