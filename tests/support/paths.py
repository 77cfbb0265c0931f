"""The repository's own folders, as the tests see them (a clone, installed editable)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
