"""Where the bundled folders are: codelists/, mappings/, metadata_templates/, examples/.

They live at the top of the repository, where users know them. A wheel carries them inside the
package (``cgd_bridge/_bundled/<name>``, mapped there at build time by pyproject.toml's
``force-include``); a source checkout (the editable install of the README) has them beside the
package. :func:`bundled` is the one place that knows both.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from cgd_bridge.errors import InputError
from cgd_bridge.i18n import N_

#: The folders a complete install carries.
FOLDERS = ("codelists", "mappings", "metadata_templates", "examples")


def _places(name: str) -> tuple[Path, Path]:
    package = Path(str(files("cgd_bridge")))
    return package / "_bundled" / name, package.parent / name


def bundled(name: str) -> Path:
    """The bundled folder ``name`` (one of :data:`FOLDERS`), or a clear error if it is missing."""
    if name not in FOLDERS:
        raise ValueError(f"no bundled folder {name!r}; the folders are {', '.join(FOLDERS)}")
    for place in _places(name):
        if place.is_dir():
            return place
    raise InputError(
        N_("the bundled folder '{name}' is missing from this installation of cgd-bridge"),
        fix=N_(
            "Reinstall cgd-bridge from a complete wheel (pip install --force-reinstall cgd-bridge) "
            "or from a clone of the repository (pip install -e .)."
        ),
        file=str(_places(name)[0]),
        params={"name": name},
    )
