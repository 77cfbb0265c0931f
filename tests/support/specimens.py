"""The third-party specimens: real SDMX and SDG files published by others, never copied in.

They live in the ``shared`` folder beside the clone (``../shared``, as CI has it), or wherever
``CGD_BRIDGE_SHARED`` points. A test that needs one calls :func:`need` (or takes the ``shared``
fixture): where they are absent it is skipped with one line saying how to provide them, so a
fresh clone passes; with ``CGD_BRIDGE_REQUIRE_SPECIMENS=1`` (set by ``.ci/run``) it fails
instead, so CI never loses a specimen test to a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SHARED = Path(os.environ.get("CGD_BRIDGE_SHARED") or ROOT.parent / "shared")
SPECIMENS = SHARED / "specimens"
CGD_SPECIMENS = SHARED / "cgd-specimens"
REQUIRED = os.environ.get("CGD_BRIDGE_REQUIRE_SPECIMENS") == "1"
REASON = (
    "needs the third-party SDMX/SDG specimens: put the 'shared' folder beside the clone "
    "(../shared) or set CGD_BRIDGE_SHARED to it (CI has them)"
)


def need(*paths: Path) -> None:
    """Skip the calling test (fail it where specimens are required) unless every path exists."""
    missing = [p for p in paths if not p.exists()]
    if not missing:
        return
    if REQUIRED:
        pytest.fail(f"CGD_BRIDGE_REQUIRE_SPECIMENS=1 but {missing[0]} is missing ({REASON})")
    pytest.skip(REASON)
