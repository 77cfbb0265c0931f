"""Every broken example triggers the finding it is named for, and every finding has one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cgd_bridge.findings import CHECKS, Severity
from cgd_bridge.pipeline import validate

BROKEN = Path(__file__).resolve().parent.parent / "examples" / "broken"
CASES = sorted(p for p in BROKEN.iterdir() if (p / "case.yaml").is_file())


def run_case(folder: Path):
    case = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
    files = {k: folder / v for k, v in case["files"].items()}
    report = validate(
        files["data"], metadata=files["metadata"], mapping=files["mapping"], form=files.get("form")
    )
    return case, report


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_broken_example_triggers_its_finding(folder):
    case, report = run_case(folder)
    assert case["expect"] in report.codes(), report.flatten("code", "row", "field")
    if CHECKS[case["expect"]].severity is Severity.ERROR:
        assert not report.valid
    found = next(f for f in report if f.code == case["expect"])
    assert found.fix, "every finding says what to do"
    assert found.file, "every finding names its file"


def test_every_finding_code_has_a_broken_example():
    import cgd_bridge.checks  # noqa: F401 - registers the codes

    covered = {p.name for p in CASES}
    assert set(CHECKS) <= covered, sorted(set(CHECKS) - covered)


def test_generated_cases_are_up_to_date():
    """make_broken.py writes exactly the folders that are committed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_broken", BROKEN / "make_broken.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(c.code for c in module.CASES) == [p.name for p in CASES]


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_every_finding_of_the_broken_example_is_translated(folder):
    """#17: each finding's problem and fix read in Swahili, Nepali and Bangla (a text a
    catalogue lacks would come out in English, the same as the English)."""
    from cgd_bridge.i18n import translator

    _, report = run_case(folder)
    for lang in ("sw", "ne", "bn"):
        t = translator(lang)
        for f in report.findings:
            for english, translated in zip(f.texts(), f.texts(t), strict=True):
                assert not english or translated != english, (lang, f.code, english)
