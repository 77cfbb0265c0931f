"""cgd-bridge: citizen-generated data to national statistics offices, in SDMX.

The public API is small: :func:`validate` checks a dataset and its quality metadata and
returns a :class:`~cgd_bridge.findings.Report`. Everything else is reached by module path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["__version__", "validate"]

if TYPE_CHECKING:
    from cgd_bridge.findings import Report

    __version__: str


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed metadata when first asked for (importlib.metadata
    costs 0.05 s of start-up that most commands never need)."""
    if name != "__version__":
        raise AttributeError(f"module 'cgd_bridge' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("cgd-bridge")  # one source: pyproject.toml's version, as installed
    except PackageNotFoundError:  # imported from a checkout that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found


def validate(*args: Any, **kwargs: Any) -> Report:
    """Check a CSO dataset and its quality metadata (see :func:`cgd_bridge.pipeline.validate`)."""
    from cgd_bridge.pipeline import validate as _validate

    return _validate(*args, **kwargs)
