"""Specimen tests skip on a fresh clone, with the way to provide them, and fail in CI instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT


@pytest.mark.parametrize(("required", "outcome"), [("", "1 skipped"), ("1", "1 failed")])
def test_a_missing_specimen_skips_naming_how_to_provide_it_and_fails_where_required(
    tmp_path: Path, required: str, outcome: str
) -> None:
    test = tmp_path / "test_needs_a_specimen.py"
    test.write_text(
        "from tests.support.specimens import SPECIMENS, need\n\n"
        "def test_it():\n    need(SPECIMENS / 'sdg' / 'IAEG-SDGs_SDG_MSD_v30.xml')\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "CGD_BRIDGE_SHARED": str(tmp_path / "no-shared-here"),
        "CGD_BRIDGE_REQUIRE_SPECIMENS": required,
        "PYTHONPATH": str(ROOT),
    }
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(test)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert outcome in p.stdout, p.stdout + p.stderr
    assert "put the 'shared' folder beside the clone (../shared) or set CGD_BRIDGE_SHARED" in p.stdout
