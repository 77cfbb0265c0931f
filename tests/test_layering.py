"""The core never imports the web, database or CLI layers (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys


def test_pipeline_imports_no_fastapi_sqlalchemy_or_click():
    code = (
        "import sys, cgd_bridge.pipeline, cgd_bridge.render; "
        "bad = [m for m in ('fastapi', 'sqlalchemy', 'click', 'uvicorn') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
