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


def _imports(path):
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_sdmx_writers_and_readers_never_import_each_other():
    """The SDMX wing's split (docs/architecture.md): write/ and read/ import the facts only."""
    from pathlib import Path

    wing = Path(__file__).resolve().parent.parent / "cgd_bridge" / "sdmx"
    for side, other in (("write", "read"), ("read", "write")):
        for path in (wing / side).glob("*.py"):
            bad = [m for m in _imports(path) if m.startswith(f"cgd_bridge.sdmx.{other}")]
            assert not bad, f"{path.name} in sdmx/{side}/ imports {bad}"
    for facts in ("formats.py", "target.py", "refs.py"):
        bad = [
            m
            for m in _imports(wing / facts)
            if m.startswith("cgd_bridge.") and m not in ("cgd_bridge.errors", "cgd_bridge.sdmx.refs")
        ]
        assert not bad, f"sdmx/{facts} imports {bad}"
