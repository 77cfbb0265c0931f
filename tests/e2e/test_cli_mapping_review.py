"""`cgd-bridge mapping init --interactive` driven in a pseudo-terminal, as a person types (#18).

The real command runs under pexpect's pty: each question is waited for, then keys are sent (a
code, a number, a search, the arrow keys, Enter, s, q), and the file written is read back: it
holds the answers and validates against the data and the DSD.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cgd_bridge.mapping import load_mapping
from cgd_bridge.pipeline import validate
from cgd_bridge.structures import Structures
from tests.corpus.mapping_exports import _KE_EARLIER, SECOND_EXPORTS

pexpect = pytest.importorskip("pexpect", reason="pexpect drives the terminal (the test extra)")

pytestmark = pytest.mark.e2e
SECOND = SECOND_EXPORTS[0]
DOWN = "\x1b[B"
#: the end of every question on the screen
ASKED = "s: skip   q: quit"


def _export(tmp_path: Path) -> tuple[Path, Path]:
    """The Kenyan CSO's 2024 export, and its 2023 mapping alone (not its open-sdg maps: the age
    column stays for the review to find)."""
    data, _ = SECOND.write(tmp_path, 40)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "ke-scorecard-2023.yaml").write_text(_KE_EARLIER, encoding="utf-8")
    return data, earlier


@contextlib.contextmanager
def _spawn(tmp_path: Path, *extra: str) -> Iterator[pexpect.spawn]:
    """The command in a pseudo-terminal, its screen kept in screen.txt."""
    data, earlier = _export(tmp_path)
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    args = ["-m", "cgd_bridge", "mapping", "init", str(data), "--dataflow", SECOND.dataflow,
            "-o", str(tmp_path / "out.yaml"), "--no-bundled", "--learn-from", str(earlier),
            *extra]  # fmt: skip
    with (tmp_path / "screen.txt").open("w", encoding="utf-8") as screen:
        child = pexpect.spawn(
            sys.executable, args, env=env, encoding="utf-8", timeout=90, dimensions=(40, 140)
        )
        child.logfile_read = screen
        try:
            yield child
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)


def _answer(child: pexpect.spawn, *keys: str | tuple[str, str, int]) -> list[str]:
    """Each of ``keys`` typed at the next question, then Enter; the questions' heads. A triple
    (text, seen, n) types the text, waits until ``seen`` is on the screen (the menu under the
    prompt is drawn a moment after the keys), then presses the arrow down n times."""
    heads = []
    for key in keys:
        child.expect(r"\[\d+/\d+\] ([^\r\n\x1b]*)\?")
        heads.append(child.match.group(1))
        child.expect(ASKED)
        if isinstance(key, tuple):
            text, seen, downs = key
            child.send(text)
            child.expect(seen)
            child.send(DOWN * downs)
        else:
            child.send(key)
        child.send("\r")
    return heads


def test_the_answers_are_written_and_the_mapping_validates(tmp_path: Path) -> None:
    with _spawn(tmp_path, "--interactive") as child:
        heads = _answer(
            child,
            "",  # SERIES: Enter accepts the proposal (SP_PSR_SATIS, from the 2023 mapping)
            "AGE",  # column 'Kundi' is not used: it is AGE
            "18 to 24",  # AG1: a search ...
            "1",  # ... and the first code found
            "=Y25T34",  # AG2: a code typed
            ("35 to 44", "Y35T44", 1),  # AG3: typed, the first code the menu finds taken by the arrow
            ("", r"2\) ", 2),  # AG4: the second candidate of the menu, by the arrows alone
        )
    screen = (tmp_path / "screen.txt").read_text(encoding="utf-8")
    assert child.exitstatus == 0, screen[-3000:]
    assert heads[0].startswith("SERIES: which column")
    assert heads[1].startswith("Column 'Kundi' is not used")
    assert "'AG1' in column 'Kundi' is which code" in heads[2]
    assert "Codes like '18 to 24'" in screen
    assert "The mapping validates against the data and CGD_BRIDGE:DF_CGD_KE(1.0)" in screen
    out = tmp_path / "out.yaml"
    mapping, _ = load_mapping(out)
    age = mapping.dimensions["AGE"]
    assert age.column == "Kundi"
    assert age.map["Y18T24"] == ["AG1"]
    assert age.map["Y25T34"] == ["AG2"]
    assert age.map["Y35T44"] == ["AG3"]
    # AG4: the candidate numbered 2 on the screen, whatever the draft ranked second
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen)
    second = re.search(r"'AG4' in column 'Kundi' is which code\?.*?\n\s+2\) (\S+)", plain, re.S)
    assert second is not None
    assert age.map[second.group(1)] == ["AG4"]
    assert mapping.dimensions["SERIES"].value == "SP_PSR_SATIS"
    assert "chosen in the review" in out.read_text(encoding="utf-8")
    # and it validates, run again outside the review
    data = tmp_path / "ke-scorecard-2024.csv"
    report = validate(data, mapping=out, structures=Structures.load(None))
    assert report.valid, [f.problem for f in report.findings]


def test_q_quits_and_writes_nothing(tmp_path: Path) -> None:
    with _spawn(tmp_path, "-i") as child:
        _answer(child, "s", "q")  # skip SERIES, quit at the next
    assert child.exitstatus == 1
    assert "Quit: nothing written." in (tmp_path / "screen.txt").read_text(encoding="utf-8")
    assert not (tmp_path / "out.yaml").exists()
    assert not list(tmp_path.glob(".out.yaml*"))


def test_a_mapping_that_does_not_validate_is_not_written_unless_asked(tmp_path: Path) -> None:
    with _spawn(tmp_path, "-i") as child:
        # Kundi left unused: its rows repeat every series key; then 'n' at "write it anyway?"
        _answer(child, "", "s")
        child.expect(r"Write it anyway")
        child.send("n\r")
    screen = (tmp_path / "screen.txt").read_text(encoding="utf-8")
    assert child.exitstatus == 1
    assert "The mapping does not validate" in screen
    assert "duplicate-series-key" in screen
    assert not (tmp_path / "out.yaml").exists()


def test_without_a_terminal_it_is_refused(tmp_path: Path) -> None:
    data, _ = _export(tmp_path)
    out = tmp_path / "out.yaml"
    args = ["mapping", "init", str(data), "--dataflow", SECOND.dataflow, "-o", str(out), "--interactive"]
    p = subprocess.run([sys.executable, "-m", "cgd_bridge", *args], input="\n", capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert p.returncode == 2
    assert "--interactive asks questions in a terminal, and the input is not one" in p.stderr
    assert "leave out --interactive" in p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()
    p = subprocess.run([sys.executable, "-m", "cgd_bridge", *args[:-3], "--interactive"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 2
    assert "no --output was given" in p.stderr
