"""Labels and messages of the web pages, translatable: a message catalogue per language.

Templates and routes write their English text inside ``_()`` (gettext style: the English text
is the message id). :data:`CATALOGUES` maps a language tag to ``{English text: translation}``;
English comes first and needs no entries. A language is offered once it has a catalogue; a
text missing from a catalogue falls back to English, and a test lists the texts every
catalogue still lacks (``missing``).

The language of a request: ``?lang=xx`` when that language is offered, else the best match of
``Accept-Language``, else English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

DEFAULT = "en"
#: Language tag -> {English text: translated text}. English is the message id, so it has none.
CATALOGUES: dict[str, dict[str, str]] = {
    "en": {},
}
_QUALITY = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")
_MSGID = re.compile(r"""_\(\s*(["'])(.+?)\1""", re.S)


def N_(text: str) -> str:
    """Mark ``text`` as a message id to translate later (where it is used, through ``_``)."""
    return text


def offered() -> list[str]:
    """The languages the pages can be shown in, English first."""
    return [DEFAULT, *sorted(k for k in CATALOGUES if k != DEFAULT)]


def choose(query_lang: str | None, accept_language: str | None) -> str:
    """The language for a request: ``?lang=`` if offered, else the best ``Accept-Language`` match."""
    langs = offered()
    if query_lang and query_lang.strip().lower() in langs:
        return query_lang.strip().lower()
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        m = _QUALITY.match(part)
        if not m:
            continue
        try:
            q = float(m.group(2)) if m.group(2) else 1.0
        except ValueError:
            continue
        ranked.append((-q, i, m.group(1).lower()))
    for neg_q, _i, tag in sorted(ranked):
        if neg_q >= 0:
            continue
        base = tag.split("-")[0]
        if tag in langs:
            return tag
        if base in langs:
            return base
    return DEFAULT


def translator(lang: str) -> Callable[..., str]:
    """``_(text, **values)``: the translation of ``text`` in ``lang`` (else the English), formatted."""
    catalogue: Mapping[str, str] = CATALOGUES.get(lang, {})

    def _(text: str, **values: object) -> str:
        out = catalogue.get(text, text)
        return out.format(**values) if values else out

    return _


def message_ids(folder: Path) -> set[str]:
    """Every English text inside ``_("...")`` in the templates and Python modules of ``folder``,
    and the metadata form's labels and help texts (from the ``cgd-quality/1.0`` model)."""
    from cgd_bridge.server.web.metadata_form import texts

    found: set[str] = set(texts())
    for path in [*folder.rglob("*.html"), *folder.rglob("*.py")]:
        found.update(m.group(2) for m in _MSGID.finditer(path.read_text(encoding="utf-8")))
    return found


def missing(lang: str, folder: Path) -> list[str]:
    """The texts of ``folder`` that the ``lang`` catalogue does not translate yet."""
    if lang == DEFAULT:
        return []
    catalogue = CATALOGUES.get(lang, {})
    return sorted(t for t in message_ids(folder) if t not in catalogue)
