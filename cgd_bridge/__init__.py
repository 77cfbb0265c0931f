"""cgd-bridge: citizen-generated data to national statistics offices, in SDMX.

The public API is small: :func:`validate` checks a dataset and its quality metadata and
returns a :class:`~cgd_bridge.findings.Report`. Everything else is reached by module path.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("cgd-bridge")  # one source: pyproject.toml's version, as installed
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
__all__ = ["__version__", "validate"]

if TYPE_CHECKING:
    from cgd_bridge.findings import Report


def validate(*args: Any, **kwargs: Any) -> Report:
    """Check a CSO dataset and its quality metadata (see :func:`cgd_bridge.pipeline.validate`)."""
    from cgd_bridge.pipeline import validate as _validate

    return _validate(*args, **kwargs)
