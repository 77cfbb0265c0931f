"""`cgd-bridge mapping init --lang` (#17): the reasons for the guesses, on the terminal and as the
comments of the mapping it writes, read in the person's language; the mapping itself (its keys
and values) is the same as the English run's and converts to the same SDMX."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cgd_bridge.i18n import translator
from tests.support.untranslated import EnglishFinder, structure_names

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
KE_FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"


def _cli(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(cwd / "data")}
    env.pop("CGD_BRIDGE_LANG", None)
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *map(str, args)],
        capture_output=True, text=True, timeout=180, env=env, cwd=cwd,
    )  # fmt: skip


def _comments(yaml_text: str) -> str:
    """The comments of a mapping file: its header and the reason beside each choice."""
    return "\n".join(line.split("#", 1)[1] for line in yaml_text.splitlines() if "#" in line)


def _without_comments(yaml_text: str) -> str:
    return "\n".join(
        line.split("  #", 1)[0] for line in yaml_text.splitlines() if not line.lstrip().startswith("#")
    )


def _draft_and_convert(tmp_path: Path, lang: str) -> tuple[subprocess.CompletedProcess[str], str, bytes]:
    """The Kenya scorecard, without the bundled mapping to learn from (the example's own mapping
    is not looked at: every guess is the draft's), drafted in ``lang`` and converted with it."""
    data = tmp_path / "kadi-ya-alama.csv"
    if not data.exists():
        shutil.copy(KENYA / "data.csv", data)
    out = tmp_path / f"ramani-{lang}.yaml"
    drafted = _cli(tmp_path, "mapping", "init", data, "--dataflow", KE_FLOW, "--no-bundled", "-o", out,
                   "--lang", lang)  # fmt: skip
    assert drafted.returncode == 0, drafted.stderr
    sdmx = tmp_path / f"kadi-{lang}.csv"
    converted = _cli(tmp_path, "convert", data, "-m", KENYA / "quality.yaml", "--mapping", out,
                     "--to", "sdmx-csv-1.0", "-o", sdmx, "--lang", lang)  # fmt: skip
    assert converted.returncode == 0, converted.stderr
    return drafted, out.read_text(encoding="utf-8"), sdmx.read_bytes()


@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
def test_the_draft_explains_itself_in_the_language_and_maps_the_same(tmp_path: Path, lang: str) -> None:
    english_run, english_yaml, english_sdmx = _draft_and_convert(tmp_path, "en")
    run, text, sdmx = _draft_and_convert(tmp_path, lang)
    t = translator(lang)
    # the guess to confirm is listed, in the language (its reason too)
    assert "CONFIRM" in text
    assert (
        t.gettext(
            "{what}: {choice} ({sure} sure: {why})", what="SERIES", choice="SP_PSR_SATIS", sure="", why=""
        )[:12]
        in run.stderr
    )
    assert t.gettext("the time period is {code} '{name}'", code="A", name="Annual") in text
    rows = (KENYA / "data.csv").read_text(encoding="utf-8").splitlines()
    columns = {cell for row in rows for cell in row.split(",")}  # its column names and labels
    finder = EnglishFinder(
        lang, data=structure_names() | columns | {"kadi-ya-alama.csv"}
    )  # what the CSO wrote
    said = run.stderr + "\n" + _comments(text)
    assert not finder.english_in(said), finder.english_in(said)
    # the English run's comments are caught by the same finder: the check can fail
    assert finder.english_in(_comments(english_yaml))
    assert _comments(text) != _comments(english_yaml)
    # the same mapping, in every key and value, and the same SDMX from it
    assert _without_comments(text) == _without_comments(english_yaml)
    assert sdmx == english_sdmx
    assert english_run.stderr != run.stderr


def test_an_unknown_language_is_refused_before_drafting(tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    p = _cli(
        tmp_path, "mapping", "init", KENYA / "data.csv", "--dataflow", KE_FLOW, "-o", out, "--lang", "xx"
    )
    assert p.returncode == 2
    assert "xx" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "m.yaml").exists()


@pytest.mark.parametrize(
    ("args", "message", "params"),
    [
        (("convert", "kadi.csv", "-m", "q.yaml", "--mapping", "m.yaml", "--to", "sdmx-xyz"),
         "'{name}' is not a format cgd-bridge writes", {"name": "sdmx-xyz"}),
        (("convert", "kadi.csv"), "convert needs {missing}", {"missing": "--metadata, --mapping, --to"}),
        (("mapping", "init", "kadi.csv", "--dataflow", KE_FLOW, "-i"),
         "--interactive writes the reviewed mapping to a file, and no --output was given", {}),
        (("structures", "import", "hakuna.xml"), "the file does not exist", {}),
    ],
)  # fmt: skip
def test_errors_before_the_work_are_in_the_language(tmp_path: Path, args, message, params) -> None:
    """#17 (1): the language is read before anything can fail, so an error of the arguments
    (before any file is opened) is already in Swahili."""
    p = _cli(tmp_path, *args, "--lang", "sw")
    assert p.returncode == 2, p.stderr
    said = p.stderr.casefold()  # the error line begins with a capital
    assert translator("sw")(message, **params).casefold() in said, p.stderr
    assert message.format(**params).casefold() not in said, p.stderr
