"""`cgd-bridge structures import|list|show` in a real subprocess (#3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.specimens import SPECIMENS, need

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SDG_DSD = SPECIMENS / "sdg" / "IAEG-SDGs_SDG_DSD_1.5_structure.xml"
IMF_30 = SPECIMENS / "agencies" / "IMF_CL_FREQ_v30_structure.xml"


@pytest.fixture(scope="module", autouse=True)
def _specimens() -> None:
    need(SPECIMENS)


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cgd_bridge", *map(str, args)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip

    return run


def assert_no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr + p.stdout, p.stderr


def test_import_list_show(cli, tmp_path):
    p = cli("structures", "import", SDG_DSD, IMF_30)
    assert p.returncode == 0, p.stderr
    assert "IAEG-SDGs:CL_SEX(1.1)" in p.stdout
    assert "IMF:CL_FREQ(1.0.3)" in p.stdout
    assert (tmp_path / "data" / "structures" / "index.json").is_file()

    p = cli("structures", "list", "--kind", "codelist")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["KIND", "ARTEFACT", "NAME", "SOURCE"]
    sex = next(line for line in lines if "IAEG-SDGs:CL_SEX(1.1)" in line)
    assert sex.split()[0] == "codelist"
    assert sex.rstrip().endswith("IAEG-SDGs_SDG_DSD_1.5_structure.xml")
    assert all(line.split()[0] == "codelist" for line in lines[1:])

    p = cli("structures", "show", "codelist", "IAEG-SDGs:CL_DISABILITY")
    assert p.returncode == 0, p.stderr
    assert "PD   Persons with disability" in p.stdout
    assert "PWD  Persons without disability" in p.stdout

    p = cli("structures", "show", "IAEG-SDGs:SDG(1.5)")
    assert p.returncode == 0, p.stderr
    assert "Dimensions (16):" in p.stdout
    assert any(
        "DISABILITY_STATUS" in line and "IAEG-SDGs:CL_DISABILITY(1.0)" in line
        for line in p.stdout.splitlines()
    )

    p = cli("structures", "show", "datastructure", "SDG", "--format", "json")
    data = json.loads(p.stdout)
    assert data["ref"] == "IAEG-SDGs:SDG(1.5)"
    assert data["measures"][0]["id"] == "OBS_VALUE"

    p = cli("structures", "list", "--format", "json")
    assert {"IMF:CL_FREQ(1.0.3)", "IAEG-SDGs:SDG(1.5)"} <= {
        f"{a['agency']}:{a['id']}({a['version']})" for a in json.loads(p.stdout)
    }


def test_reimport_says_replaced(cli):
    cli("structures", "import", IMF_30)
    p = cli("structures", "import", IMF_30)
    assert p.returncode == 0
    assert "1 replacing the same version already stored" in p.stdout


def test_global_data_dir_option(cli, tmp_path):
    other = tmp_path / "other"
    p = cli("--data-dir", other, "structures", "import", IMF_30)
    assert p.returncode == 0, p.stderr
    assert (other / "structures" / "index.json").is_file()
    assert not (tmp_path / "data" / "structures").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("structures", "import", SPECIMENS / "formats" / "ECB_EXR_ng-flat.xml"), "is a data message"),
        (("structures", "import", "missing.xml"), "does not exist"),
        (("structures", "import", "http://127.0.0.1:9/x.xml"), "cannot download"),
        (("structures", "show", "codelist", "CL_NOPE"), "there is no codelist CL_NOPE"),
        (("structures", "show", "a", "b", "c"), "at most a kind and an artefact"),
    ],
)
def test_errors_exit_2_with_one_sentence(cli, args, message):
    p = cli(*args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert message.lower() in p.stderr.lower()
    assert p.stderr.startswith("Error: ")
    assert_no_traceback(p)


@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
def test_import_and_list_read_in_the_chosen_language(cli, lang):
    """`structures import|list --lang` (#17): the counts, the store line and the table's head in
    the language; the artefacts' ids and names (SDMX data) as they are."""
    from cgd_bridge.i18n import translator
    from tests.support.untranslated import EnglishFinder, structure_names

    t = translator(lang)
    p = cli("structures", "import", SDG_DSD, "--lang", lang)
    assert p.returncode == 0, p.stderr
    assert t.gettext("Structure store: {folder}", folder="").strip() in p.stderr
    empty = cli("structures", "list", "--kind", "orodha", "--lang", lang)
    listed = cli("structures", "list", "--kind", "codelist", "--lang", lang)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split()[0] == t.gettext("KIND")
    finder = EnglishFinder(lang, data=structure_names())
    lines = [line.split(None, 2)[0] if line.startswith("  ") else line for line in p.stdout.splitlines()]
    said = "\n".join([*lines, p.stderr, empty.stdout, listed.stdout.splitlines()[0]])
    assert not finder.english_in(said), said
    assert finder.english_in("No structures. Add some with 'cgd-bridge structures import FILE|URL'.")


def test_list_refuses_an_unknown_language(cli):
    p = cli("structures", "list", "--lang", "xx")
    assert p.returncode == 2
    assert "xx" in p.stderr
    assert_no_traceback(p)
