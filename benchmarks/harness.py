"""What every benchmark here measures with: interleaved runs, medians and spread, CPU and wall
time, peak memory, the machine's load, goals with PASS/FAIL, and the README's result tables.

One *side* is one thing being timed (``cgd-bridge validate``, ``frictionless validate``, pyarrow
reading the file, ...). :func:`interleave` runs every side ``repeats`` times in rotating order
(round 1: A B C, round 2: B C A, ...), so that a burst of load from elsewhere on a shared machine
falls on every side alike instead of on whichever ran during it. Each run is its own subprocess:
its CPU time and peak resident memory come from the kernel's accounting of that one child
(``os.wait4``), not from the benchmark's process, and its output is checked by the side's own
``check`` (a run that exits badly or gives a wrong answer makes the benchmark exit 2: a
benchmark whose work is wrong measures nothing).

Judging: a :class:`Goal` compares the *medians* of two sides (or one side and a bound), in CPU
time by default. CPU time counts only the work of the measured process, so a ratio of CPU
medians is what stays put between runs on a loaded machine; wall time is printed beside it.

Run at a tiny size (``--tiny``), every benchmark finishes in seconds and still checks its
outputs; ``tests/test_benchmarks.py`` runs them so in CI, so none can rot. No timing is asserted
there: at a tiny size start-up dominates and the verdicts mean nothing.

``--record`` writes the run's tables into benchmarks/README.md between the markers
``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``, so the README holds what a run printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = HERE / "README.md"
DATA_DIR = HERE / "_data"

#: exit codes shared by every benchmark
ALL_PASS, GOAL_FAILED, RUN_FAILED = 0, 1, 2


@dataclass
class Sample:
    """One run of one side."""

    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    peak_mib: float  # the child's peak resident set
    returncode: int
    stdout: str
    stderr: str
    load: float  # the 1-minute load average when the run ended


@dataclass
class Side:
    """One thing being timed: a command, and how to tell that its answer is right.

    ``check`` gets the finished sample and returns a problem in words, or None when the answer
    is right (e.g. it read every row, the output holds one observation per row).
    """

    name: str
    command: list[str]
    check: Callable[[Sample], str | None] = lambda s: None
    cwd: Path | None = None
    env: dict[str, str] | None = None
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def median(self, what: str = "cpu") -> float:
        """The median of ``cpu``, ``wall`` or ``peak_mib`` over the runs."""
        return statistics.median(getattr(s, what) for s in self.samples)

    def spread(self, what: str = "cpu") -> tuple[float, float]:
        """The smallest and largest value over the runs."""
        values = [getattr(s, what) for s in self.samples]
        return min(values), max(values)


#: runs the measured command and reports its resources. It is a small Python (no site, no
#: imports beyond os/sys/time) that ``posix_spawn``s the command: a child's peak memory counts the
#: memory of the process it was forked from (Linux keeps the high-water mark across exec), so
#: forking the command straight from this process, which holds numpy and pyarrow, would add
#: their 140 MiB to every side's peak.
_SPAWNER = """
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(out, "w") as fh:
    fh.write(f"{wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_once(command: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run ``command`` as a subprocess; its wall time, CPU time and peak memory alone.

    The command's resources come from ``os.wait4`` in a small spawner process (see
    ``_SPAWNER``), so neither this process nor other children are counted. Output goes to
    temporary files, not pipes, so a child that writes much cannot block on a full pipe.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as usage,
    ):
        proc = subprocess.run(
            [sys.executable, "-S", "-c", _SPAWNER, usage.name, *command],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            check=False,
        )
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        fields = usage.read().split()
    if proc.returncode != 0 and len(fields) != 4:  # the spawner itself failed (command not found)
        return Sample(0.0, 0.0, 0.0, proc.returncode, stdout, stderr, os.getloadavg()[0])
    wall, cpu, maxrss, code = float(fields[0]), float(fields[1]), int(fields[2]), int(fields[3])
    return Sample(
        wall=wall,
        cpu=cpu,
        peak_mib=maxrss / 1024,
        returncode=code,
        stdout=stdout,
        stderr=stderr,
        load=os.getloadavg()[0],
    )


def interleave(sides: Sequence[Side], repeats: int, *, warmup: bool = True, quiet: bool = False) -> None:
    """Run every side ``repeats`` times, rotating the order each round; checks every run.

    With ``warmup`` each side runs once first, unmeasured (the page cache holds the inputs and
    the interpreter's files afterwards, as on any machine that runs the tool twice).
    """
    if warmup:
        for side in sides:
            run_once(side.command, cwd=side.cwd, env=side.env)
    n = len(sides)
    for r in range(repeats):
        for k in range(n):
            side = sides[(r + k) % n]
            sample = run_once(side.command, cwd=side.cwd, env=side.env)
            problem = side.check(sample)
            if problem is None and sample.returncode != 0:
                problem = f"exit {sample.returncode}"
            if problem is not None:
                tail = "\n".join((sample.stderr.strip() or sample.stdout.strip()).splitlines()[-15:])
                side.problems.append(f"{problem}\n    {shlex.join(side.command)}\n    {tail}")
            side.samples.append(sample)
            if not quiet:
                print(
                    f"  round {r + 1}/{repeats}  {side.name:<34} {sample.wall:7.2f} s wall "
                    f"{sample.cpu:7.2f} s CPU {sample.peak_mib:8.0f} MiB",
                    flush=True,
                )


@dataclass
class Goal:
    """A goal judged on medians: ``ratio`` of two sides (``slow / fast >= at_least``), or one
    side's value against a bound (``at_most``)."""

    title: str
    value: float
    unit: str
    at_least: float | None = None
    at_most: float | None = None

    @property
    def passed(self) -> bool:
        """True when the measured value meets the goal."""
        if self.at_least is not None and not self.value >= self.at_least:
            return False
        return not (self.at_most is not None and not self.value <= self.at_most)

    def row(self) -> str:
        """A Markdown table row: goal, measured, required, verdict."""
        need = (
            f">= {self.at_least:g}{self.unit}"
            if self.at_least is not None
            else f"<= {self.at_most:g}{self.unit}"
        )
        return (
            f"| {self.title} | {self.value:,.2f}{self.unit} | {need} | {'PASS' if self.passed else 'FAIL'} |"
        )


def ratio(slow: Side, fast: Side, title: str, at_least: float, what: str = "cpu") -> Goal:
    """The goal ``median(slow) / median(fast) >= at_least``."""
    return Goal(title, slow.median(what) / fast.median(what), "x", at_least=at_least)


def sides_table(sides: Sequence[Side], *, rows: int | None = None) -> str:
    """A Markdown table of the sides: medians and spread of CPU and wall time, peak memory."""
    head = "| side | CPU s median (min-max) | wall s median (min-max) | peak MiB median |"
    sep = "|---|---|---|---|"
    if rows:
        head, sep = head + " rows/s (CPU) |", sep + "---|"
    lines = [head, sep]
    for s in sides:
        if not s.samples:
            continue
        c0, c1 = s.spread("cpu")
        w0, w1 = s.spread("wall")
        line = (
            f"| {s.name} | {s.median('cpu'):.2f} ({c0:.2f}-{c1:.2f}) | {s.median('wall'):.2f} "
            f"({w0:.2f}-{w1:.2f}) | {s.median('peak_mib'):,.0f} |"
        )
        if rows:
            line += f" {rows / max(s.median('cpu'), 1e-9):,.0f} |"
        lines.append(line)
    return "\n".join(lines)


def goals_table(goals: Sequence[Goal]) -> str:
    """A Markdown table of the goals."""
    return "\n".join(
        ["| goal | measured (medians) | required | result |", "|---|---|---|---|", *(g.row() for g in goals)]
    )


def machine_line(sides: Sequence[Side], repeats: int) -> str:
    """When and where: date, cores, Python, the load average seen during the runs."""
    loads = [s.load for side in sides for s in side.samples]
    load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"
    return (
        f"{dt.date.today().isoformat()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{repeats} interleaved runs per side after a warm-up, 1-minute load average {load} during the runs"
    )


def finish(
    name: str,
    sections: Sequence[tuple[str, str]],
    sides: Sequence[Side],
    goals: Sequence[Goal],
    *,
    record: bool,
    repeats: int,
) -> int:
    """Print the result tables and each run's problems; record them in the README if asked.

    Returns the exit code: 2 when a run failed or gave a wrong answer, 1 when a goal is not
    met, 0 when every goal is.
    """
    problems = [(s.name, p) for s in sides for p in s.problems]
    text = [f"_{machine_line(sides, repeats)}_", ""]
    for title, table in sections:
        text += [f"**{title}**", "", table, ""]
    if goals:
        text += ["**Goals**", "", goals_table(goals), ""]
    body = "\n".join(text).rstrip() + "\n"
    print()
    print(body)
    for side, problem in problems:
        print(f"!! {side}: {problem}")
    if problems:
        return RUN_FAILED
    if record:
        record_in_readme(name, body)
        print(f"recorded in {README.relative_to(ROOT)} (results:{name})")
    return ALL_PASS if all(g.passed for g in goals) else GOAL_FAILED


def record_in_readme(name: str, body: str) -> None:
    """Replace the README's block between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``."""
    start, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
    text = README.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"error: {README} has no {start} ... {end} block to record the results in")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    README.write_text(f"{before}{start}\n{body}{end}{after}", encoding="utf-8")


def byte_compile(package: str = "cgd_bridge") -> None:
    """Byte-compile the package the measured commands import, as pip does when it installs a
    wheel. With ``PYTHONDONTWRITEBYTECODE`` set (as on the shared machine), a checkout's modules
    are otherwise compiled from source on every run: about 0.5 s of CPU of a small validate that
    no installed copy pays, while the peers' installed packages carry their bytecode."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        compileall.compile_dir(folder, quiet=1)


def executable(name: str) -> str:
    """A console script next to the running Python (the project's venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"error: {name} is not installed next to {sys.executable} nor on PATH")
    return found


def common_options(parser: argparse.ArgumentParser, *, repeats: int = 3) -> None:
    """The options every benchmark takes: ``--tiny``, ``--repeats``, ``--record``, ``--keep``."""
    parser.add_argument(
        "--tiny", action="store_true", help="the smallest size that still checks every output (CI runs this)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=repeats,
        help=f"interleaved measured runs per side (default {repeats}; at least 3 for a verdict)",
    )
    parser.add_argument(
        "--record", action="store_true", help="write the result tables into benchmarks/README.md"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated files in benchmarks/_data/")
