"""An imported structure file pysdmx cannot parse is left out of the SDMX 3.0 catalogue, named in
its problems, and every other artefact is still served (found by the multi-host test, #19:
Eurostat's ESMS structure file made every structure query a 500)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.server.sdmx.artefacts30 import Catalogue
from cgd_bridge.structures import Structures, StructureStore
from tests.support.specimens import SPECIMENS, need

ESMS = SPECIMENS / "agencies" / "ESTAT_esms-structure.xml"


def test_a_file_pysdmx_fails_on_is_left_out_not_every_query(tmp_path: Path) -> None:
    need(SPECIMENS)
    if not ESMS.is_file():
        pytest.skip(f"the shared specimen {ESMS} is missing")
    StructureStore(tmp_path / "structures").import_file(ESMS)
    catalogue = Catalogue(Structures.load(tmp_path / "structures"), None)
    msds = {(i.agency, i.id) for i in catalogue.artefacts("metadatastructure")}
    assert msds == {("CGD_BRIDGE", "CGD_QUALITY")}  # the bundled MSD; ESTAT:ESMS_SIMPLE left out
    assert any("ESTAT_esms-structure.xml" in p and "pysdmx cannot read it" in p for p in catalogue.problems)
