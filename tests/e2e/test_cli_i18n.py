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


# -- broken inputs of a CSO's own, checked in Swahili, Bangla and Nepali (#17) --------------------
#
# A disability network in Kisumu and Kilifi re-ran the health-services scorecard in 2024 and wrote
# its own files: each run below breaks one of them the way a careless hand does. The whole output
# (the error line, or the report) must read in the chosen language: no word of our English
# catalogue may be left, apart from what the CSO typed and the SDMX structures' names.

SCORECARD = """county,sex,age_group,disability_status,year,respondents,satisfied
Kisumu,Female,18-24,With disability,2024,21,9
Kisumu,Male,18-24,With disability,2024,17,8
Kisumu,Female,18-24,Without disability,2024,30,22
Kisumu,Male,18-24,Without disability,2024,28,19
Kilifi,Female,25-44,With disability,2024,14,6
Kilifi,Male,25-44,With disability,2024,12,7
Kilifi,Female,25-44,Without disability,2024,33,25
Kilifi,Male,25-44,Without disability,2024,31,20
"""


def _english_left(lang: str, output: str, *typed: Path) -> list[str]:
    """The lines of ``output`` holding English of our catalogue: what the CSO typed (its files,
    the mapping's column names), the structures' names and the stable finding codes aside."""
    import cgd_bridge.checks  # noqa: F401 - registers the finding codes
    from cgd_bridge.findings import CHECKS
    from tests.support.untranslated import EnglishFinder, structure_names, yaml_texts

    data = structure_names() | set(CHECKS) | yaml_texts(MAPPINGS / "kenya-health-scorecard.yaml")
    for path in typed:
        data |= yaml_texts(path)
    return EnglishFinder(lang, data=data).english_in(output)


def _scorecard(tmp_path: Path) -> Path:
    data = tmp_path / "kadi-ya-alama-2024.csv"
    data.write_text(SCORECARD, encoding="utf-8")
    return data


@pytest.mark.parametrize("lang", ["sw", "bn"])
def test_a_mapping_with_an_unknown_key_is_refused_in_the_language(tmp_path: Path, lang: str) -> None:
    """'atributes:' for 'attributes:': the error names the file and the key, says what to do, and
    is all in the chosen language."""
    mapping = tmp_path / "ramani-yetu.yaml"
    text = (MAPPINGS / "kenya-health-scorecard.yaml").read_text(encoding="utf-8")
    assert "\nattributes:" in text
    mapping.write_text(text.replace("\nattributes:", "\natributes:"), encoding="utf-8")
    p = cli("validate", _scorecard(tmp_path), "--mapping", mapping, "--lang", lang)
    assert_no_traceback(p)
    assert p.returncode == 2
    t = translator(lang)
    assert t("'{key}' is not a key of a mapping", key="atributes") in p.stderr
    assert t("Check its spelling and indentation against docs/mapping.md.") in p.stderr
    assert "ramani-yetu.yaml" in p.stderr
    assert not _english_left(lang, p.stdout + p.stderr), p.stderr


@pytest.mark.parametrize("lang", ["sw", "ne"])
def test_a_metadata_value_of_the_wrong_type_is_reported_in_the_language(tmp_path: Path, lang: str) -> None:
    """'n_achieved: about one thousand' where a number belongs: the report names the field and
    its line, and nothing of it is left in English."""
    quality = tmp_path / "ubora.yaml"
    text = (KENYA / "quality.yaml").read_text(encoding="utf-8")
    assert "\n  n_achieved: 1455\n" in text
    quality.write_text(text.replace("\n  n_achieved: 1455\n", '\n  n_achieved: "about one thousand"\n'))
    mapping = MAPPINGS / "kenya-health-scorecard.yaml"
    p = cli("validate", _scorecard(tmp_path), "-m", quality, "--mapping", mapping, "--lang", lang)
    assert_no_traceback(p)
    assert p.returncode == 1
    assert "metadata-invalid-value" in p.stdout
    assert "sampling.n_achieved" in p.stdout
    assert translator(lang)("it is not a whole number") in p.stdout
    assert not _english_left(lang, p.stdout + p.stderr, quality), p.stdout


@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
def test_an_output_in_a_folder_that_cannot_be_made_is_refused_in_the_language(
    tmp_path: Path, lang: str
) -> None:
    """-o ripoti/2024/ripoti.html where 'ripoti' is a file: a plain error naming the path and the
    fix (it was 'failed unexpectedly (NotADirectoryError ...)'), in the chosen language."""
    (tmp_path / "ripoti").write_text("an earlier report\n", encoding="utf-8")
    out = tmp_path / "ripoti" / "2024" / "ripoti.html"
    p = cli(
        "validate", _scorecard(tmp_path), "--mapping", MAPPINGS / "kenya-health-scorecard.yaml",
        "--format", "html", "-o", out, "--lang", lang,
    )  # fmt: skip
    assert_no_traceback(p)
    assert p.returncode == 2
    assert "unexpectedly" not in p.stderr
    assert "NotADirectoryError" not in p.stderr
    t = translator(lang)
    said = t("'{path}' cannot be written: a part of its folder path is a file, not a folder", path=out)
    assert said in p.stderr
    assert not _english_left(lang, p.stdout + p.stderr), p.stderr
    assert (tmp_path / "ripoti").read_text(encoding="utf-8") == "an earlier report\n"


def test_the_english_finder_catches_an_untranslated_cli_line() -> None:
    """The checks above can fail: the old English error line is caught in a Swahili run."""
    line = "Hitilafu: ramani.yaml, safu 'atributes': the mapping is not valid at 'atributes'"
    assert _english_left("sw", line)


def test_the_summary_of_a_conversion_reads_in_the_language(tmp_path: Path) -> None:
    """convert's own lines (not only its errors) follow --lang: the refusal, and with --force
    the summary of what was written, with the language's plural forms."""
    data = tmp_path / "kadi.csv"
    data.write_text(SCORECARD.replace(",2024,", ",2025,"), encoding="utf-8")  # outside the period
    mapping = MAPPINGS / "kenya-health-scorecard.yaml"
    args = ("convert", data, "-m", KENYA / "quality.yaml", "--mapping", mapping, "--to", "sdmx-csv-1.0",
            "-o", tmp_path / "out.csv", "--lang", "sw")  # fmt: skip
    refused = cli(*args)
    assert refused.returncode == 1, refused.stderr
    sw = translator("sw")
    assert sw("Not converted: {reason}", reason="").strip() in refused.stderr
    assert not _english_left("sw", refused.stderr, KENYA / "quality.yaml"), refused.stderr
    forced = cli(*args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert sw.ngettext("{n} observation", "{n} observations", 8) in forced.stdout
    assert not _english_left("sw", forced.stdout), forced.stdout
