"""Every benchmark in benchmarks/ runs at its tiny size and its answers are right (#16).

A benchmark that no longer runs, or that times a command whose output is wrong, measures nothing;
this is how they cannot rot. Each script checks its own answers (rows read, observations written,
bytes served) and exits 2 when one is wrong; 0 or 1 is the verdict on its goals, which means
nothing at a tiny size (start-up dominates), so no timing is asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.postgres import ensure_server

BENCHMARKS = ROOT / "benchmarks"
#: every script that is a benchmark (the others are modules they import)
LIBRARIES = {"harness.py", "kenya_data.py"}
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name not in LIBRARIES)


def test_every_benchmark_is_run_here() -> None:
    """A new benchmark script is picked up by the parametrised test below, and documented."""
    readme = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    assert SCRIPTS, "no benchmark scripts found"
    missing = [s for s in SCRIPTS if f"`{s}`" not in readme]
    assert not missing, f"benchmarks/README.md does not describe {missing}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_at_tiny_size(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["--tiny"]
    if script in ("server_vs_writer.py", "load.py"):  # on SQLite and PostgreSQL, as the full run
        if os.environ.get("CGD_BRIDGE_TEST_POSTGRES") == "0":
            args += ["--databases", "sqlite"]
        else:
            ensure_server()
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), f"{script} --tiny exited {proc.returncode}:\n{out[-4000:]}"
    assert "Traceback" not in out, out[-4000:]
    assert "PASS" in out or "FAIL" in out, f"{script} printed no verdict:\n{out[-2000:]}"


def test_a_wrong_answer_exits_2(tmp_path: Path) -> None:
    """The harness turns a side whose answer is wrong into exit 2, whatever the timings."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import harness
    finally:
        sys.path.remove(str(BENCHMARKS))
    right = harness.Side("echo 3", ["echo", "3"], lambda s: None if s.stdout.strip() == "3" else "not 3")
    wrong = harness.Side("echo 4", ["echo", "4"], lambda s: None if s.stdout.strip() == "3" else "not 3")
    harness.interleave([right, wrong], 1, warmup=False, quiet=True)
    assert not right.problems
    assert wrong.problems
    goal = harness.ratio(right, right, "same", 1)
    assert harness.finish("none", [], [right, wrong], [goal], record=False, repeats=1) == harness.RUN_FAILED
    assert harness.finish("none", [], [right], [goal], record=False, repeats=1) == harness.ALL_PASS
    failing = harness.Goal("too slow", 2.0, "x", at_least=3)
    assert harness.finish("none", [], [right], [failing], record=False, repeats=1) == harness.GOAL_FAILED


def test_peak_memory_is_the_commands_own() -> None:
    """A child's peak memory does not include the benchmark process's own (fork + exec keeps it)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import harness
    finally:
        sys.path.remove(str(BENCHMARKS))
    ballast = bytearray(200 * 2**20)  # this process holds 200 MiB
    small = harness.run_once(["true"])
    big = harness.run_once([sys.executable, "-c", "x = bytearray(300 * 2**20)"])
    del ballast
    assert small.returncode == 0
    assert small.peak_mib < 50
    assert 300 <= big.peak_mib < 400
