"""The real ``cgd-bridge`` command with ``--lang sw`` (#17): a Kobo export checked against the
wrong mapping reads in Swahili from the cause to the last finding, with the stable codes, and
no English finding text is left; a file error is in Swahili too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cgd_bridge.i18n import translator
from tests.e2e.test_cli import KENYA, MAPPINGS, NEPAL, assert_no_traceback, cli

pytestmark = pytest.mark.e2e
WRONG = (
    NEPAL / "data.xlsx",
    "--mapping",
    MAPPINGS / "kenya-health-scorecard.yaml",
    "--metadata",
    KENYA / "quality.yaml",
)


def _english(p_json: str) -> set[str]:
    out = set()
    data = json.loads(p_json)
    for task in data["tasks"]:
        for f in [*task["errors"], *task["warnings"]]:
            out.update(x for x in (f["note"], f["fix"]) if x)
    out.update((data["diagnosis"]["problem"], data["diagnosis"]["fix"]))
    return out


@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
def test_the_text_report_reads_in_the_chosen_language(lang: str) -> None:
    english = cli("validate", *WRONG, "--format", "json", "--limit", "100000")
    assert english.returncode == 1, english.stderr
    texts = _english(english.stdout)
    p = cli("validate", *WRONG, "--lang", lang)
    assert_no_traceback(p)
    assert p.returncode == 1
    t = translator(lang)
    report = p.stdout + p.stderr
    assert (
        t(
            "MOST LIKELY CAUSE ({code}): {title}",
            code="wrong-mapping",
            title=t("The mapping does not fit this file"),
        )
        in report
    )
    assert "constraint-error" in report  # the codes stay as they are
    assert report.index("wrong-mapping") < report.index("constraint-error")
    left = sorted(x for x in texts if x in report)
    assert not left, f"English finding texts in the {lang} report: {left[:5]}"


def test_the_json_report_keeps_codes_and_gives_the_language() -> None:
    p = cli("validate", *WRONG, "--lang", "sw", "--format", "json")
    data = json.loads(p.stdout)
    sw = translator("sw")
    assert data["cgd:lang"] == "sw"
    assert data["diagnosis"]["code"] == "wrong-mapping"
    assert data["diagnosis"]["title"] == sw("The mapping does not fit this file")
    first = data["tasks"][0]["errors"][0]
    assert first["type"] in {"constraint-error", "missing-column"}
    assert first["message"] != first["cgd:english"]["message"]


def test_a_file_error_is_in_swahili(tmp_path: Path) -> None:
    p = cli("validate", NEPAL / "data.xlsx", "--sheet", "Karatasi2", "--lang", "sw")
    assert_no_traceback(p)
    assert p.returncode != 0
    sw = translator("sw")
    line = sw("there is no sheet called '{sheet}'", sheet="Karatasi2")
    assert line in p.stderr
    assert sw("Error: {message}", message="").strip() in p.stderr
    assert "there is no sheet" not in p.stderr
