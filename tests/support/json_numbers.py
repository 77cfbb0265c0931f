"""Every number of a JSON document with its path: what a test compares across languages (the
numbers a machine reads must not change with the language of the texts)."""

from __future__ import annotations

from typing import Any


def json_numbers(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every JSON number in ``value`` with its path (booleans left out)."""
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in json_numbers(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in json_numbers(v, f"{path}/{i}")]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [(path, value)]
    return []
