"""Remembered verdicts of slow judges: "this exact input was found valid by this exact code".

frictionless decides whether a mapping's Table Schema is valid (``ingest/schema.py``); importing
it costs 0.2-0.3 s of CPU, most of a small file's start-up (#16). The verdict depends only on
the descriptor and on the installed frictionless, so a *valid* verdict is remembered under a
key made of both: the descriptor in a canonical JSON form (types kept apart: ``1``, ``1.0``,
``true`` and ``"1"`` are different descriptors; anything JSON cannot say exactly, such as a
date YAML read or a number as a mapping key, is never remembered) and a fingerprint of the
installed package (its version and its files' sizes and times). An invalid descriptor is
judged again every time, so its message is frictionless's own.

A verdict is an empty-looking file ``{cache}/verdicts/{key}`` holding its key; it is written
atomically, and one whose content is not its key is not believed (and is removed). With no
cache folder (``CGD_BRIDGE_CACHE_DIR=""``) nothing is remembered.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_FINGERPRINTS: dict[str, str | None] = {}


def package_fingerprint(name: str) -> str | None:
    """A string that changes when the installed package ``name`` changes (upgrade, reinstall,
    edit), found without importing it; None when it cannot be found."""
    if name in _FINGERPRINTS:
        return _FINGERPRINTS[name]
    found: str | None = None
    try:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            package = Path(spec.origin).parent
            parts = [str(package)]
            for path in sorted(package.glob("*.py")) + sorted(package.parent.glob(f"{name}-*.dist-info")):
                st = path.stat()
                parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
            found = "|".join(parts)
    except (ImportError, ValueError, OSError):
        found = None
    _FINGERPRINTS[name] = found
    return found


def _canonical(value: Any) -> Any:
    """``value`` when JSON holds it exactly (str keys, str, int, finite float, bool, None, lists,
    dicts), else TypeError."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("not a finite number")
        return value
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a key is not text")
        return {k: _canonical(v) for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON")


def key_of(judge: str, value: Any, fingerprint: str | None) -> str | None:
    """The key of ``judge``'s verdict on ``value`` under the code ``fingerprint``; None when
    the value cannot be keyed exactly or the code is unknown (then nothing is remembered)."""
    if fingerprint is None:
        return None
    try:
        # the order of a mapping's keys is kept: frictionless reports the first error it meets
        text = json.dumps(_canonical(value), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256()
    for part in (judge, fingerprint, text):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _folder() -> Path | None:
    from cgd_bridge.places import default_cache_dir

    return default_cache_dir("verdicts")


def remembered(key: str) -> bool:
    """Whether the verdict ``key`` was remembered as valid (and its file is whole)."""
    folder = _folder()
    if folder is None:
        return False
    path = folder / key
    try:
        content = path.read_text(encoding="ascii")
    except (OSError, ValueError):
        return False
    if content.strip() == key:
        return True
    log.info("a remembered verdict is damaged, judging again: %s", path)
    path.unlink(missing_ok=True)
    return False


def remember(key: str) -> None:
    """Remember the verdict ``key`` as valid; a cache that cannot be written is only slower."""
    from cgd_bridge.atomic import write_bytes_atomic
    from cgd_bridge.errors import CgdBridgeError

    folder = _folder()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(folder / key, (key + "\n").encode("ascii"))
    except (OSError, CgdBridgeError) as exc:
        log.info("cannot remember a verdict in %s: %s", folder, exc)
