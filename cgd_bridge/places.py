"""Where cgd-bridge keeps things on disk by default, read from the environment without a
settings library (``--help`` and a small ``validate`` never import pydantic-settings, #16).

- :func:`default_data_dir`: ``$XDG_DATA_HOME/cgd-bridge``, else ``~/.local/share/cgd-bridge``
  (the structure store, the SQLite database); :func:`data_dir_from_env` with
  ``CGD_BRIDGE_DATA_DIR`` as :class:`cgd_bridge.settings.Settings` reads it.
- :func:`default_cache_dir`: ``$CGD_BRIDGE_CACHE_DIR`` (empty: no cache), else
  ``$XDG_CACHE_HOME/cgd-bridge``, else ``~/.cache/cgd-bridge``: what can be rebuilt at any time
  (compiled structure files, frictionless's verdicts on Table Schemas). Nothing there is trusted
  blindly: every entry names what it was made from and is checked against it when read.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "CGD_BRIDGE_CACHE_DIR"
DATA_ENV = "CGD_BRIDGE_DATA_DIR"


def _env(name: str) -> str | None:
    """An environment variable as pydantic-settings reads it: case-insensitive, empty ignored."""
    value = os.environ.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in os.environ.items() if k.lower() == wanted), None)
    return value if value else None


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/cgd-bridge``, else ``~/.local/share/cgd-bridge``."""
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "cgd-bridge"


def data_dir_from_env() -> Path:
    """``CGD_BRIDGE_DATA_DIR`` (as the settings read it), else :func:`default_data_dir`."""
    given = _env(DATA_ENV)
    return Path(given) if given is not None else default_data_dir()


def default_cache_dir(part: str) -> Path | None:
    """The cache folder ``part`` (e.g. ``structures``), or None when caching is switched off
    (``CGD_BRIDGE_CACHE_DIR`` set empty) or there is no home folder to put it in."""
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        return Path(given).expanduser() / part if given.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        base = Path(xdg) if xdg else Path.home() / ".cache"
    except RuntimeError:  # no home folder to be found
        return None
    return base / "cgd-bridge" / part
