"""English left on a page that should be in another language (#17).

The English a page can show is the English of our catalogue: every text of the pages, the
report and the forms is a message id in ``cgd_bridge/locale/messages.pot``. Its words, less the
words the language's own translations use as well (Swahili writes "data", "SDMX", "API" too),
are the *English vocabulary*; a word of it on a Swahili page is a text that missed its
translation, whether the catalogue lacks it or the code never asked the catalogue.

What a page rightly shows in English is the data and its structures: the SDMX structures'
names (the SDG codelists are in English only), what the CSO typed (its quality metadata, notes,
file names) and a few proper names. :class:`EnglishFinder` is given those texts and removes
them (whole, or cut short with an ellipsis as chart labels are) before it reads the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT

POT = ROOT / "cgd_bridge" / "locale" / "messages.pot"
#: words of two letters or more; an apostrophe inside a word keeps it one word
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*[A-Za-z]")
#: what a message id holds that is not English prose: placeholders, markup, codes in backquotes
NOT_PROSE = re.compile(r"\{[^}]*\}|%\([^)]*\)[sd]|<[^>]*>|`[^`]*`|https?://\S+")


#: a token that is an identifier, a path or an address, not prose (``sharing_with_nso``, ``a.b``,
#: a request id such as ``0c15bad98aec``: letters beside digits, whose "bad" is no English)
IDENTIFIER = re.compile(r"[_/=@\\]|\w\.\w|[A-Za-z]\d|\d[A-Za-z]")


def _words(text: str) -> set[str]:
    prose = (t for t in NOT_PROSE.sub(" ", text).split() if not IDENTIFIER.search(t))
    return {w.lower() for t in prose for w in WORD.findall(t)}


def _parts(value: object) -> list[str]:
    """A catalogue entry's texts: one, or the forms of a plural."""
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value or "")]


def _texts(value: Any) -> Iterable[str]:
    """Every text inside a YAML/JSON value (mapping keys too: they may be shown as labels)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _texts(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from _texts(v)


def structure_names() -> set[str]:
    """Every name the bundled SDMX structures hold: dataflows, DSDs, concepts, codes."""
    from cgd_bridge.structures import Structures, describe

    structures = Structures.load(bundled=True)
    names: set[str] = set()
    for info in structures.artefacts():
        try:
            obj = structures.get(info.kind, info.id, info.agency, info.version)
        except Exception:  # noqa: BLE001 - an artefact that does not resolve names nothing
            continue
        names.update(t for t in _texts(describe(obj)) if t and not t.isidentifier())
        for item in getattr(obj, "items", {}).values() if hasattr(obj, "items") else ():
            for attr in ("name", "description"):
                value = getattr(item, attr, None)
                for text in getattr(value, "localizations", {}).values():
                    names.add(str(text))
    # a series named with its indicator ("... services [16.6.2]") is also shown without it
    return names | {re.sub(r"\s*\[[^\]]*\]$", "", n) for n in names}


def yaml_texts(path: Path) -> set[str]:
    """Every text of a YAML file, and its lines (a long text is shown as it was typed)."""
    import yaml

    texts = set(_texts(yaml.safe_load(path.read_text(encoding="utf-8"))))
    return texts | {" ".join(t.split()) for t in texts}


@dataclass
class EnglishFinder:
    """Finds the English vocabulary of the catalogue in a page's text in ``lang``.

    ``data`` are the texts a page may show as they are (structure names, what the CSO typed);
    ``allow`` words that may appear on their own (proper names, codes, product names).
    """

    lang: str
    data: set[str] = field(default_factory=set)
    allow: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        from babel.messages.pofile import read_po

        from cgd_bridge.i18n import po_path

        with POT.open("rb") as fh:
            english = read_po(fh)
        with po_path(self.lang).open("rb") as fh:
            translated = read_po(fh, locale=self.lang)
        vocabulary: set[str] = set()
        for message in english:
            for text in _parts(message.id):
                vocabulary |= _words(text)
        own: set[str] = set()
        for message in translated:
            if not message.id:  # the header
                continue
            for text in _parts(message.string):
                own |= _words(text)
        self.vocabulary = vocabulary - own - {w.lower() for w in self.allow}
        # the data's texts, longest first, so a name is removed before a shorter one inside it
        texts = sorted({" ".join(t.split()) for t in self.data if t and t.strip()}, key=len, reverse=True)
        self._data = texts
        self._pattern = (
            # whole words, never part of an identifier (``submission`` in ``submission.created``)
            re.compile(r"(?<![\w/])(?<!\w\.)(?:" + "|".join(re.escape(t) for t in texts) + r")(?![\w/]|\.\w)")
            if texts
            else re.compile(r"(?!x)x")
        )

    def _without_data(self, text: str) -> str:
        # a name cut short in a chart label ("Both sexes o…"): removed when it begins a known text
        def cut(m: re.Match[str]) -> str:
            start = m.group(1).strip()
            return " " if start and any(t.startswith(start) for t in self._data) else m.group(0)

        text = re.sub(r"([^\n\t,;:·]+)…", cut, text)
        text = self._pattern.sub(" ", text)
        # then identifiers, paths and addresses (``version.created``, ``card/registry``)
        return re.sub(r"\S+", lambda m: " " if IDENTIFIER.search(m.group()) else m.group(), text)

    def english_in(self, text: str) -> list[str]:
        """The lines of ``text`` holding a word of the English vocabulary, each with its words."""
        found = []
        for line in self._without_data(text).splitlines():
            # identifiers, paths and codes in capitals (REF_AREA, SEX, CC-BY) are not prose
            tokens = [t for t in line.split() if not IDENTIFIER.search(t)]
            words = [
                w for t in tokens for w in WORD.findall(t) if w.lower() in self.vocabulary and not w.isupper()
            ]
            if words:
                found.append(f"{', '.join(dict.fromkeys(words))}: {line.strip()[:160]!r}")
        return found


#: the visible text of a page in ``lang``, and the texts people get from its attributes (labels
#: read by screen readers, placeholders, tooltips of controls, the title). Parts marked as being
#: in another language (``lang="en"`` on a text the catalogues do not have yet) are left out:
#: the page says what they are, and screen readers read them in that language.
PAGE_TEXT = """(lang) => {
  const other = [...document.querySelectorAll('body [lang]')].filter(e => e.lang && e.lang !== lang);
  const display = other.map(e => e.style.display);
  other.forEach(e => { e.style.display = 'none'; });
  try {
    const parts = [document.title, document.body.innerText];
    const attrs = 'body [aria-label], body [placeholder], body [alt], body [title], '
      + 'input[type=submit], input[type=button]';
    for (const e of document.querySelectorAll(attrs)) {
      if (e.closest('svg') || other.some(o => o.contains(e))) continue;
      for (const a of ['aria-label', 'placeholder', 'alt', 'title']) {
        if (e.getAttribute(a)) parts.push(e.getAttribute(a));
      }
      if (e.matches('input[type=submit], input[type=button]')) parts.push(e.value);
    }
    return parts.join('\\n');
  } finally {
    other.forEach((e, i) => { e.style.display = display[i]; });
  }
}"""


def metadata_codes() -> set[str]:
    """The codes the quality metadata allows (``community_scorecard``, ``self-report-yes/no``):
    the record's values, which the form lists and the version page shows as they are."""
    from cgd_bridge.metadata.template import json_schema

    codes: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("enum", "const") and isinstance(value, list | str):
                    codes.update(str(v) for v in (value if isinstance(value, list) else [value]))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json_schema())
    return codes


def shown_as_they_are(*typed: str) -> set[str]:
    """What the demo's pages rightly show as it is, in English or not: the structures' names, the
    SDMX formats' names, the finding codes, the examples' quality metadata, data headers and
    mappings, the demo's organisations, people and reviewer comments, and what the test typed."""
    from cgd_bridge.findings import CHECKS
    from cgd_bridge.sdmx.formats import FORMATS
    from cgd_bridge.server import demo
    from cgd_bridge.server.web.routes import _EXTRA_TITLES

    formats = {f.title for f in FORMATS.values()} | set(FORMATS) | set(_EXTRA_TITLES)
    texts = structure_names() | formats | set(CHECKS) | metadata_codes()
    for path in [*ROOT.glob("examples/*/quality.yaml"), *ROOT.glob("mappings/*.yaml")]:
        texts |= yaml_texts(path)
    for path in ROOT.glob("examples/**/data.csv"):
        header = path.read_text(encoding="utf-8").splitlines()[0]
        texts |= {h.strip().strip('"') for h in header.split(",")}
    texts |= {name for _, name, _ in demo.ORGANISATIONS} | {u[3] for u in demo.USERS}
    texts |= {"Checked against the MoU.", *typed}
    return texts
