"""Modules imported on first use, so that start-up pays only for what a command runs (#16).

``cgd-bridge --help`` and a small ``validate`` used to import scipy (the disclosure audit's
linear programmes), pandas and more before doing any work: about 1.5 s of every CLI call and
every test subprocess. A module that only some paths need is bound with :func:`lazy_module` and
imported when one of its attributes is first read::

    if TYPE_CHECKING:
        import scipy.sparse as sp
    else:
        sp = lazy_module("scipy.sparse")

``tests/unit/test_startup.py`` checks which heavy modules each command imports.
"""

from __future__ import annotations

import importlib
import importlib.util
import types
from typing import Any


class LazyModule(types.ModuleType):
    """Stands for a module; imports it at the first attribute read and forwards to it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = None

    def _load(self) -> types.ModuleType:
        target = self.__dict__["_lazy_target"]
        if target is None:
            target = importlib.import_module(self.__name__)
            self.__dict__["_lazy_target"] = target
        return target

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        loaded = "loaded" if self.__dict__["_lazy_target"] is not None else "not loaded yet"
        return f"<lazy module {self.__name__!r} ({loaded})>"


def lazy_module(name: str) -> Any:
    """The module ``name`` if it is already imported, else a stand-in that imports it on use."""
    import sys

    return sys.modules.get(name) or LazyModule(name)


def available(name: str) -> bool:
    """Whether ``name`` can be imported, without importing it (its parent packages are)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
