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


def test_the_audits_closing_sentence_is_in_the_reports_language() -> None:
    """The last sentence of `cgd-bridge audit` (what a reader can work out) in each catalogue:
    no English sentence left, the counts in the language's plural form."""
    import pytest

    from cgd_bridge.i18n import translator
    from cgd_bridge.render import audit_verdict
    from tests.support.untranslated import EnglishFinder

    cases = [
        {"threshold": 3, "exposed": 2, "suppressed": 9, "audited": 9},
        {"threshold": 3, "exposed": 1, "suppressed": 9, "audited": 9, "not_additive": 4, "not_audited": 1},
        {"threshold": 3, "suppressed": 0},
        {"threshold": 3, "suppressed": 5, "audited": 0},
        {"threshold": 5, "suppressed": 12, "audited": 12},
        {"suppressed": 1, "audited": 1},
    ]
    for stats in cases:
        report = Report()
        report.stats["audit"] = stats
        english = audit_verdict(report)
        assert english.endswith("."), english
        for lang in ("sw", "ne", "bn"):
            said = audit_verdict(report, translator(lang))
            assert said != english
            left = EnglishFinder(lang, data={"cgd-bridge convert", "LP"}).english_in(said)
            if left:
                pytest.fail(f"English left in the {lang} audit verdict for {stats}: {left}\n{said}")
    two = Report()
    two.stats["audit"] = cases[0]
    assert audit_verdict(two).startswith("2 suppressed cells can be worked out")
    one = Report()
    one.stats["audit"] = {**cases[0], "exposed": 1}
    assert audit_verdict(one).startswith("1 suppressed cell can be worked out")
