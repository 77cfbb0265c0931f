"""The text report and the CLI's errors never pass a terminal's control sequences through (#14).

A cell, a column name or a file name is the CSO's text; printed raw, ``ESC ] 52`` could set the
reviewer's clipboard, ``ESC [ 2 J`` clear the screen, and a bidi override reorder a line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cgd_bridge.findings import Finding, InputInfo, Report, Severity
from cgd_bridge.render import printable, render_text

HOSTILE = "Kisumu\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07\u202eevil\r\x9b31m"


def test_the_text_report_shows_control_characters_as_escapes() -> None:
    report = Report()
    report.inputs.append(InputInfo(file=f"data{HOSTILE}.csv", kind="data", format="csv"))
    report.add(
        Finding(
            code="unknown-value",
            severity=Severity.ERROR,
            problem=f"'{HOSTILE}' is not an allowed value",
            fix="Use one of: Female, Male.",
            file="data.csv",
            row=2,
            field="sex",
            value=HOSTILE,
        )
    )
    text = render_text(report)
    assert not any(c in text for c in "\x1b\x07\r\x9b\u202e")
    assert "\\x1b[2J" in text
    assert "\\u202e" in text
    assert "Kisumu" in text


def test_printable_keeps_ordinary_text() -> None:
    nepali = "काठमाडौं\tजिल्ला — Murang’a"
    assert printable(nepali) == nepali
    assert printable("two\nlines") == "two\nlines"


def test_cli_errors_escape_the_file_name(tmp_path: Path) -> None:
    missing = tmp_path / "no\x1b[31mred.csv"
    r = subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "validate", str(missing)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert r.returncode == 2
    assert "\x1b" not in r.stderr
    assert "\\x1b[31m" in r.stderr
