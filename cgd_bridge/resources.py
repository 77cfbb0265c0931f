"""Where the bundled folders are: examples/, mappings/, codelists/, metadata_templates/.

They live beside the package in the source tree (the install the README uses is editable).
"""

from __future__ import annotations

from pathlib import Path

from cgd_bridge.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def bundled(name: str) -> Path:
    """The bundled folder ``name`` (e.g. ``examples``), or a clear error if it is missing."""
    path = ROOT / name
    if not path.is_dir():
        raise InputError(
            f"the bundled folder '{name}' is not there",
            fix="Run cgd-bridge from a clone of the repository installed with 'pip install -e .'.",
            file=str(path),
        )
    return path
