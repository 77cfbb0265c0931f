"""An NSO's codelist with the same id as one the SDG DSD uses must not break anything (#13).

Importing IMF's CL_FREQ (``IMF:CL_FREQ(1.0.3)``) beside the bundled ``SDMX:CL_FREQ`` made every
check of the FREQ codes look CL_FREQ up by its id alone, find two, and fail the bundled examples
with ``unknown-dataflow``. The DSD names its codelists in full (agency, id, version), and that
full reference is what the checks must use. Driven through the real CLI with a file written here
(two agencies' lists of the same id, with codes the SDG DSD's lists do not have).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
KENYA = ROOT / "examples" / "kenya-health-scorecard"

SAME_IDS = """<?xml version="1.0" encoding="UTF-8"?>
<mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
  xmlns:str="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
  xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
 <mes:Header><mes:ID>SAME_IDS</mes:ID><mes:Test>true</mes:Test>
  <mes:Prepared>2026-12-07T00:00:00</mes:Prepared><mes:Sender id="KNBS"/></mes:Header>
 <mes:Structures><str:Codelists>
  <str:Codelist agencyID="IMF" id="CL_FREQ" version="1.0.3">
   <com:Name xml:lang="en">Frequency (IMF)</com:Name>
   <str:Code id="A"><com:Name xml:lang="en">Annual</com:Name></str:Code>
   <str:Code id="Q"><com:Name xml:lang="en">Quarterly</com:Name></str:Code>
  </str:Codelist>
  <str:Codelist agencyID="KNBS" id="CL_SEX" version="1.0">
   <com:Name xml:lang="en">Sex (KNBS)</com:Name>
   <str:Code id="KE_F"><com:Name xml:lang="en">Female</com:Name></str:Code>
   <str:Code id="KE_M"><com:Name xml:lang="en">Male</com:Name></str:Code>
  </str:Codelist>
 </str:Codelists></mes:Structures>
</mes:Structure>
"""


def test_codelists_of_the_same_id_from_other_agencies_change_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "CGD_BRIDGE_DATA_DIR": str(tmp_path / "data")}

    def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cgd_bridge", *map(str, args)],
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip

    kenya = (
        "--metadata",
        KENYA / "quality.yaml",
        "--mapping",
        ROOT / "mappings" / "kenya-health-scorecard.yaml",
    )
    before = cli("convert", KENYA / "data.csv", *kenya, "--to", "sdmx-csv-2.0", "-o", tmp_path / "before.csv")
    assert before.returncode == 0, before.stdout + before.stderr
    structures = tmp_path / "same-ids.xml"
    structures.write_text(SAME_IDS, encoding="utf-8")
    imported = cli("structures", "import", structures)
    assert imported.returncode == 0, imported.stderr
    assert "IMF:CL_FREQ(1.0.3)" in imported.stdout

    checked = cli("validate", KENYA / "data.csv", *kenya)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "unknown-dataflow" not in checked.stdout
    assert "ambiguous" not in checked.stdout
    after = cli("convert", KENYA / "data.csv", *kenya, "--to", "sdmx-csv-2.0", "-o", tmp_path / "after.csv")
    assert after.returncode == 0, after.stdout + after.stderr
    assert (tmp_path / "after.csv").read_bytes() == (tmp_path / "before.csv").read_bytes()
