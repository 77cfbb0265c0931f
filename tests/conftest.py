"""Shared fixtures: paths to the bundled examples and to the real specimens in ../shared."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# sdmx1 2.28 keeps reader state per process: an SDMX-ML 3.0 message read before this module is
# imported breaks its later import ("ValueError: urn:sdmx:...:ObsLevelDim:TIME_PERIOD"). The
# product imports it first (cgd_bridge.structures); every test process does too, whatever order
# its tests run in (pytest -n gives each worker its own order).
import sdmx.reader.xml.v30  # noqa: F401

from tests.support.specimens import CGD_SPECIMENS, SHARED, SPECIMENS, need

ROOT = Path(__file__).resolve().parent.parent

# The submit page waits web_check_wait_seconds (default 20 s) for its check before it sends the
# person to the check's status page. On a loaded 2-core CI machine a check of the examples can
# take longer, and the tests of the page's own answers (report, redirect) would then meet the
# status page instead: they wait up to 5 minutes here (servers started by tests inherit it).
# tests/unit/server/test_web_checks.py sets 0 to test the status page itself.
os.environ.setdefault("CGD_BRIDGE_WEB_CHECK_WAIT_SECONDS", "300")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder with the real SDMX and SDG specimens (tests/support/specimens.py)."""
    need(SPECIMENS, CGD_SPECIMENS)
    return SHARED


@pytest.fixture(scope="session")
def examples() -> Path:
    """The bundled example datasets."""
    return ROOT / "examples"


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a text or bytes file in tmp_path: ``write("a.csv", "x,y\\n1,2\\n")``."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path

    return _write


@pytest.fixture
def xlsx(tmp_path: Path) -> Callable[..., Path]:
    """Write an XLSX workbook: ``xlsx("a.xlsx", {"Sheet1": [["a", "b"], [1, 2]]})``."""
    import openpyxl

    def _xlsx(name: str, sheets: dict[str, list[list[object]]]) -> Path:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in sheets.items():
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(row)
        path = tmp_path / name
        wb.save(path)
        return path

    return _xlsx
