"""The real ``cgd-bridge`` with ``--lang sw`` meets broken SDMX files (#17): a structure file in the
store cut off by hand, and published data files that are cut off, an error message or hold a
word where a number goes. The error line reads in Swahili, names the file, and keeps no English
sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.i18n import translator
from tests.e2e.test_cli import KENYA, MAPPINGS, ROOT, assert_no_traceback
from tests.support.untranslated import EnglishFinder

pytestmark = pytest.mark.e2e


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *map(str, args)],
        capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_a_structure_file_cut_off_in_the_store_is_named_in_swahili(tmp_path: Path) -> None:
    """validate --lang sw: the dataflow's file in the store was cut off after the import; the
    report says why the dataflow is unknown in Swahili, quoting the structure error."""
    env = {"CGD_BRIDGE_DATA_DIR": str(tmp_path / "data"), "CGD_BRIDGE_CACHE_DIR": str(tmp_path / "cache")}
    p = _run("structures", "import", ROOT / "codelists" / "CGD-BRIDGE_KE.xml", env=env)
    assert p.returncode == 0, p.stderr
    (stored,) = (tmp_path / "data" / "structures" / "files").glob("*.xml")
    stored.write_bytes(stored.read_bytes()[:3000])  # a disk filled up, a copy stopped half-way

    p = _run(
        "validate", KENYA / "data.csv", "--metadata", KENYA / "quality.yaml",
        "--mapping", MAPPINGS / "kenya-health-scorecard.yaml", "--lang", "sw", env=env,
    )  # fmt: skip
    assert_no_traceback(p)
    assert p.returncode == 1, p.stderr
    sw = translator("sw")
    said = sw("the file is not well-formed XML ({reason})").split("(")[0]
    assert said.strip()
    assert said in p.stdout, p.stdout
    assert "unknown-dataflow" in p.stdout  # the code stays as it is
    assert "not well-formed" not in p.stdout + p.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("takwimu.json", '{"meta": {"id": "NBS"}, "data": {"structures": [{"dimensions": {'),
        (
            "iliyopakuliwa.xml",
            '<?xml version="1.0"?><mes:Error '
            'xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"/>',
        ),
        ("takwimu.csv", "DATAFLOW,REF_AREA,OBS_VALUE\nNBS_TZ:DF_AFYA(1.0),TZ,hamsini\n"),
    ],
)
def test_audit_of_a_broken_data_file_says_why_in_swahili(name: str, content: str, tmp_path: Path) -> None:
    from cgd_bridge.sdmx.read.published import read_published

    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CgdBridgeError) as info:
        read_published(path)
    p = _run("audit", path, "--lang", "sw")
    assert_no_traceback(p)
    assert p.returncode == 2
    sw = translator("sw")
    line = sw("Error: {message}", message=info.value.message_in(sw))
    assert line in p.stderr
    assert p.stderr.startswith(f"{sw('Error: {message}', message='').strip()} {name}: ")
    quoted = {name} | {v for v in info.value.params.values() if isinstance(v, str)}
    assert EnglishFinder("sw", data=quoted).english_in(p.stderr) == [], p.stderr
