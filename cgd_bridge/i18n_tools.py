"""Keeping the catalogues (for translators and the tests; nothing here runs while serving).

``python -m cgd_bridge.i18n_tools extract`` writes ``cgd_bridge/locale/messages.pot`` from the
code with Babel's extractors as ``babel.cfg`` configures them (the same as ``pybabel extract -F
babel.cfg -k register:4 --no-location``, plus the sorting that keeps the file stable, and the
finding codes' long descriptions: ``register``'s 5th argument, its whitespace folded as
:func:`cgd_bridge.findings.register` folds it; the command line's help comes through
``babel.cfg``'s extractor for ``cli.py``, :func:`cgd_bridge.cli.babel_extract`);
``update`` merges the template into every language's ``.po`` (``pybabel update``), marking new
and changed texts for the translator.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from cgd_bridge.i18n import DOMAIN, LOCALE_DIR, offered, po_path

ROOT = Path(__file__).resolve().parent.parent
POT = LOCALE_DIR / f"{DOMAIN}.pot"
#: gettext's keywords, and the finding titles: the 4th argument of ``register``
KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "msg": (1,),
    "nmsg": (1, 2),
    "register": (4,),
}


def extract() -> Any:
    """The message template (a Babel ``Catalog``) extracted from the code now."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    catalog = Catalog(project="cgd-bridge", charset="utf-8", fuzzy=False)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True)
    for filename, _lineno, message, comments, context in sorted(found, key=lambda m: (m[0], m[1])):
        if filename.startswith(("tests", "scripts", "benchmarks", "docs", "examples", ".")):
            continue
        catalog.add(message, None, [(filename, 0)], auto_comments=comments, context=context)
    # A keyword names one message per call, so the descriptions (register's 5th argument, a
    # triple-quoted paragraph) are a second pass; their id is the paragraph as register keeps it.
    python_only = [(pattern, method) for pattern, method in method_map if method == "python"]
    described = extract_from_dir(str(ROOT), python_only, options_map, keywords={"register": (5,)})
    for filename, _lineno, message, _comments, _context in sorted(described, key=lambda m: (m[0], m[1])):
        if not isinstance(message, str) or filename.startswith(("tests", "scripts", "benchmarks")):
            continue
        comment = "The long description of a finding code, shown under its title in the report."
        catalog.add(" ".join(message.split()), None, [(filename, 0)], auto_comments=[comment])
    return catalog


def pot_text(catalog: Any) -> str:
    """The ``.pot`` file of ``catalog``: sorted, file names without line numbers, no dates (so
    that it changes only when a text does)."""
    from babel.messages.pofile import write_po

    catalog.creation_date = catalog.revision_date = None
    buf = io.BytesIO()
    write_po(buf, catalog, sort_output=True, include_lineno=False, omit_header=False, width=100)
    lines = [ln for ln in buf.getvalue().decode("utf-8").splitlines() if "-Date:" not in ln]
    return "\n".join(lines) + "\n"


def update() -> None:
    """Merge the template into every language's catalogue (``pybabel update``)."""
    from babel.messages.pofile import read_po, write_po

    with POT.open("rb") as fh:
        template = read_po(fh)
    for lang in offered()[1:]:
        path = po_path(lang)
        with path.open("rb") as fh:
            po = read_po(fh, locale=lang)
        po.update(template, update_header_comment=False)
        buf = io.BytesIO()
        # the catalogues keep no source locations and no dates: they change only when a text does
        write_po(buf, po, sort_output=True, no_location=True, width=100, ignore_obsolete=True)
        lines = buf.getvalue().decode("utf-8").split("\n")
        dated = ('"POT-Creation-Date:', '"PO-Revision-Date:')
        path.write_text("\n".join(ln for ln in lines if not ln.startswith(dated)), encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[:1] == ["extract"]:
        POT.write_text(pot_text(extract()), encoding="utf-8")
        sys.stdout.write(f"wrote {POT.relative_to(ROOT)}\n")
        return 0
    if argv[:1] == ["update"]:
        update()
        return 0
    sys.stderr.write("usage: python -m cgd_bridge.i18n_tools extract|update\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
