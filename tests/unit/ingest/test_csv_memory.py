"""Reading a large CSV should hold a block and a batch, not the file (#14: a 190 MB CSV took 1.9 GB).

The reader runs in a fresh interpreter (so its peak resident memory is its own) over a 96 MB
CSV of the Kenya example's rows; its peak should grow by far less than the file's size.

It does not yet: pyarrow's streaming CSV reader itself (``pyarrow.csv.open_csv``, one thread,
16 MiB blocks) peaks at about the file's size in Arrow memory (measured: 48 MB -> 134 MB,
192 MB -> 268-278 MB, 384 MB -> 438 MB), so the reader grows with the file. The peak follows
the block size: with 1 MiB blocks pyarrow alone stays at 40 MB for 96, 192 and 384 MB files;
the block is 16 MiB because it is also the line limit (no row is read across two blocks), so
the fix is a smaller block with the line limit checked another way. On the server the
upload's job memory limit (``CGD_BRIDGE_JOB_MEMORY_MB``, ``server/jobs.py``) bounds it; the
reader's own bound is still open (strict xfail: it fails the run once fixed, to be unmarked).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard"
SIZE = 96 << 20

READ = textwrap.dedent(
    """
    import resource, sys
    from cgd_bridge.ingest import open_table

    table = open_table(sys.argv[1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = 0
    for batch in table.batches():
        rows += batch.num_rows
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(rows, grown * 1024)
    """
)


@pytest.mark.slow
@pytest.mark.xfail(
    reason="pyarrow's streaming CSV reader peaks at about the file's size (see the module docstring)",
    strict=True,
)
def test_a_large_csv_is_read_in_bounded_memory(tmp_path: Path) -> None:
    lines = (KENYA / "data.csv").read_bytes().splitlines(keepends=True)
    body = b"".join(lines[1:])
    path = tmp_path / "large.csv"
    with path.open("wb") as out:
        out.write(lines[0])
        written = 0
        while written < SIZE:
            out.write(body)
            written += len(body)
    done = subprocess.run(
        [sys.executable, "-c", READ, str(path)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    rows, grown = (int(x) for x in done.stdout.split())
    assert rows == (written // len(body)) * (len(lines) - 1)
    assert grown < SIZE // 2, f"reading a {SIZE >> 20} MB CSV grew the reader by {grown >> 20} MB"
