"""Languages: gettext catalogues (Babel), plural forms, locale-aware numbers and dates.

Every text a person reads is written in English as a gettext message id: ``_("...")`` in the
templates and the web routes, ``N_("...")`` where a text is only marked and translated later (a
finding's problem and fix templates, the report's sentences), ``ngettext`` where a count
chooses the form, and the finding titles of :func:`cgd_bridge.findings.register`. Babel's
extractor collects them (``babel.cfg``) into ``cgd_bridge/locale/messages.pot``; each language
has ``cgd_bridge/locale/<lang>/LC_MESSAGES/messages.po``.

The ``.po`` files are read lazily with Babel, once per language and process, the first time a
text is asked for in that language, and compiled in memory for :mod:`gettext` (about 60 ms
for a catalogue of this size; see docs/web.md): no ``.mo`` to build, ship or keep in step, and
English (the default) reads no file at all.

A text a catalogue lacks (or marks fuzzy) falls back to its English message id. Templates are
translated first and formatted afterwards with :meth:`str.format`, so user data (column names,
values, file names) is never looked up as a message.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any

DEFAULT = "en"
LATIN_DIGITS = "0123456789"
# The Unicode script of each CLDR numbering system (numberingSystems.xml) a language we offer
# may default to: its ten digits are that script's DIGIT ZERO and the nine code points after it.
# Babel formats with Latin digits whatever numbering system it is given (it only takes that
# system's symbols), so the digits are ours to write. A system missing here writes Latin digits;
# tests/unit/test_i18n.py checks every offered language's default system is here or ``latn``.
NUMBERING_SCRIPTS = {
    "arab": "ARABIC-INDIC",
    "arabext": "EXTENDED ARABIC-INDIC",
    "beng": "BENGALI",
    "deva": "DEVANAGARI",
    "gujr": "GUJARATI",
    "guru": "GURMUKHI",
    "knda": "KANNADA",
    "mlym": "MALAYALAM",
    "mymr": "MYANMAR",
    "orya": "ORIYA",
    "taml": "TAMIL",
    "tamldec": "TAMIL",
    "telu": "TELUGU",
    "thai": "THAI",
    "tibt": "TIBETAN",
}
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
_QUALITY = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def N_(text: str) -> str:
    """Mark ``text`` as a message id, translated later where it is shown (through ``_``)."""
    return text


def msg(text: str, /, **params: Any) -> dict[str, Any]:
    """A sentence inside another message's template: its own message id ``text`` with its
    ``params``, translated and formatted where the outer one is (:meth:`Translator.template`).
    JSON-ready, so that a stored report can still be shown in any language.

    >>> ENGLISH.template("{where} is empty", {"where": msg("the column '{c}'", c="age")})
    "the column 'age' is empty"
    """
    return {"msg": text, "params": params}


def nmsg(singular: str, plural: str, n: float, /, **params: Any) -> dict[str, Any]:
    """Like :func:`msg`, in the plural form of the language for ``n`` (``{n}`` written as the
    locale writes numbers)."""
    return {"msg": singular, "plural": plural, "n": n, "params": params}


def num(value: float) -> dict[str, Any]:
    """A number in a message's parameters, written as the locale of the report writes numbers
    (``1,234.5`` in English, ``12,34,567`` in Bangla); whole floats without their ``.0``."""
    return {"num": value}


@cache
def numbering_system(lang: str) -> str:
    """CLDR's default numbering system of ``lang`` (``latn``, ``deva`` for Nepali, ``beng`` for
    Bangla), or ``latn`` for a language Babel does not know."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(lang).default_numbering_system)
    except (UnknownLocaleError, ValueError):
        return "latn"


@cache
def digits(lang: str) -> str:
    """The ten digits ``lang`` writes numbers with, zero first (:func:`numbering_system`)."""
    if lang == DEFAULT:
        # CLDR's English numbers in Latin digits (``latn``; tests/unit/test_startup.py asks Babel):
        # every command writes English without loading Babel's locale data (#16)
        return LATIN_DIGITS
    import unicodedata

    script = NUMBERING_SCRIPTS.get(numbering_system(lang))
    if script is None:
        return LATIN_DIGITS
    zero = ord(unicodedata.lookup(f"{script} DIGIT ZERO"))
    return "".join(chr(zero + i) for i in range(10))


def offered() -> list[str]:
    """The languages with a catalogue, English first."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return [DEFAULT, *(lang for lang in found if lang != DEFAULT)]


def normalise(lang: str | None) -> str | None:
    """``lang`` as an offered language tag (``sw-KE`` -> ``sw``), or None when it is not offered."""
    if not lang:
        return None
    tag = lang.strip().replace("_", "-").lower()
    langs = offered()
    if tag in langs:
        return tag
    base = tag.split("-")[0]
    return base if base in langs else None


def choose(query_lang: str | None, accept_language: str | None, setting: str | None = None) -> str:
    """The language for a request: ``?lang=`` if offered, else the person's setting, else the
    best ``Accept-Language`` match, else English."""
    for explicit in (query_lang, setting):
        chosen = normalise(explicit)
        if chosen:
            return chosen
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
        chosen = normalise(tag)
        if chosen:
            return chosen
    return DEFAULT


def po_path(lang: str) -> Path:
    """Where the catalogue of ``lang`` lives."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``: its ``.po`` read once with Babel and compiled in memory for the
    standard library's :class:`gettext.GNUTranslations` (which applies the catalogue's
    ``Plural-Forms``); fuzzy entries are left out. English and unknown languages: no catalogue."""
    path = po_path(lang)
    if lang == DEFAULT or not path.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        po = read_po(fh, locale=lang)
    mo = io.BytesIO()
    write_mo(mo, po, use_fuzzy=False)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


class Translator:
    """The texts, numbers and dates of one language.

    ``t.gettext("Version {n}", n=2)`` (also ``t("...")`` and ``t._``) translates, then formats;
    ``t.ngettext("{n} error", "{n} errors", n)`` picks the language's plural form;
    ``t.number(1234.5)``, ``t.percent(0.25)`` and ``t.date(d)`` follow the locale (Babel's CLDR
    data), in the digits of its default numbering system (``१२३`` in Nepali, ``১২৩`` in Bangla).

    These are the forms a person reads, and only those: a number that goes into a machine format
    (SDMX, CSV or spreadsheet cells, JSON numbers, HTML attributes, URLs, form values the server
    reads back, YAML, codes) is written with ``str`` or the format's own writer, never through a
    Translator. A number is read back from a human text only by :meth:`parse_number`.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang == DEFAULT or po_path(lang).is_file() else DEFAULT
        self.catalogue = catalogue(self.lang)

    @property
    def direction(self) -> str:
        """``rtl`` or ``ltr``: the text direction of the locale, for ``<html dir>``."""
        from babel import Locale

        return "rtl" if Locale.parse(self.lang).character_order == "right-to-left" else "ltr"

    def gettext(self, text: str, /, **values: object) -> str:
        """The translation of ``text`` (else ``text``), formatted with ``values`` (a number
        among them in the locale's digits, :meth:`plain`)."""
        out = self.catalogue.gettext(text) if text else text
        return out.format(**{k: self.plain(v) for k, v in values.items()}) if values else out

    def plain(self, v: object) -> object:
        """``v`` as a message shows it: an int or a float as Python writes it (no grouping: a
        version, a row, a year) in the locale's digits; anything else as it is."""
        if isinstance(v, int | float) and not isinstance(v, bool):
            return self.digits(str(v))
        return v

    __call__ = gettext

    def sentence(self, text: str) -> str:
        """``text`` ended as a sentence of this language: its own full stop ("." or the danda
        "।" of Nepali and Bangla, from the catalogue's ``{sentence}.``) in place of any it had;
        a question or exclamation is kept as it is."""
        text = text.strip()
        if not text or text.endswith(("?", "!")):
            return text
        return self.gettext(N_("{sentence}."), sentence=text.rstrip(".।"))

    def _(self, text: str, /, **values: object) -> str:
        return self.gettext(text, **values)

    def template(self, text: str, params: Mapping[str, Any], translate: Iterable[str] = ()) -> str:
        """A message template translated, then formatted with ``params``; the values named in
        ``translate`` are message ids of our own and translated too, the others are data and
        never are. Empty for an empty template."""
        if not text:
            return ""
        keys = set(translate)
        values = {
            k: self.gettext(v) if k in keys and isinstance(v, str) else self.value(v)
            for k, v in params.items()
        }
        return self.gettext(text).format(**values)

    def text(self, v: Any) -> str:
        """A text of ours in this language: a message id translated, a composed message
        (:func:`msg`) translated and formatted."""
        return self.gettext(v) if isinstance(v, str) else str(self.value(v))

    def value(self, v: Any) -> Any:
        """A template parameter as shown in this language: a :func:`num` in the locale's digits and
        grouping, a :func:`msg` or :func:`nmsg` translated and formatted, a number in the locale's
        digits (:meth:`plain`); other data as it is."""
        if not isinstance(v, Mapping):
            return self.plain(v)
        if "num" in v:
            n = v["num"]
            return self.number(int(n) if isinstance(n, float) and n.is_integer() else n)
        if "msg" in v:
            params = v.get("params") or {}
            if "plural" in v:
                n = v.get("n", 0)
                count = int(n) if isinstance(n, float) and n.is_integer() else n
                form = self.catalogue.ngettext(str(v["msg"]), str(v["plural"]), int(count))
                return form.format(
                    **{"n": self.number(count), **{k: self.value(x) for k, x in params.items()}}
                )
            return self.template(str(v["msg"]), params)
        return v

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """The form of ``singular``/``plural`` for ``n`` in this language (its ``Plural-Forms``),
        formatted with ``n`` (written by :meth:`number`) and ``values``."""
        values = {k: self.plain(v) for k, v in values.items()}
        return self.catalogue.ngettext(singular, plural, n).format(**{"n": self.number(n), **values})

    @cached_property
    def _to_native(self) -> dict[int, int]:
        """Latin digits to the locale's (read from Babel's CLDR data at first use, not when the
        translator is made: every command makes the English one at start-up, #16)."""
        return str.maketrans(LATIN_DIGITS, digits(self.lang))

    @cached_property
    def _to_latin(self) -> dict[int, int]:
        """The locale's digits to Latin ones."""
        return str.maketrans(digits(self.lang), LATIN_DIGITS)

    def digits(self, text: str) -> str:
        """``text`` with its Latin digits written in the locale's own (for a number a Babel
        pattern or a format string wrote: a size, a chart's tick); other characters as they are."""
        return text.translate(self._to_native)

    def number(self, value: float, pattern: str | None = None) -> str:
        """``value`` written as the locale writes numbers: grouping, decimal sign and the digits
        of its default numbering system (``12,34,567`` in Bangla digits); ``pattern``: a CLDR
        decimal pattern in place of the locale's (``#,##0.#``)."""
        if type(value) is int and pattern is None and self.lang == DEFAULT:
            # English writes a whole number as Python does ("-1,234", Latin digits): Babel's
            # CLDR data (about 15 ms of CPU to load) is read only for a fraction, a pattern or
            # another language (#16; tests/unit/test_startup.py compares the two)
            return f"{value:,}"
        from babel.numbers import format_decimal

        text = format_decimal(value, format=pattern, locale=self.lang, numbering_system="default")
        return self.digits(str(text))

    def percent(self, share: float, pattern: str | None = None) -> str:
        """``share`` (0.25 for a quarter) as the locale writes a percentage, in its digits."""
        from babel.numbers import format_percent

        text = format_percent(share, format=pattern, locale=self.lang, numbering_system="default")
        return self.digits(str(text))

    def parse_number(self, text: str) -> float:
        """The number :meth:`number` wrote as ``text`` (its digits, grouping and decimal sign read
        back); ``ValueError`` when ``text`` is not one."""
        from babel.numbers import NumberFormatError, parse_decimal

        try:
            value = parse_decimal(
                text.strip().translate(self._to_latin), locale=self.lang, numbering_system="default"
            )
        except NumberFormatError as e:
            raise ValueError(str(e)) from None
        return float(value)

    def date(self, value: date | datetime, fmt: str = "medium") -> str:
        """``value`` as the locale writes dates (CLDR's ``fmt`` form) in its digits; a datetime
        with its time to the minute (the locale's short time), as it is (the store keeps UTC)."""
        from babel.dates import format_date, format_time

        day = str(format_date(value, format=fmt, locale=self.lang))
        if isinstance(value, datetime):
            day = f"{day} {format_time(value.replace(tzinfo=None), format='short', locale=self.lang)}"
        return self.digits(day)


@cache
def translator(lang: str) -> Translator:
    """The :class:`Translator` of ``lang`` (English for a language with no catalogue)."""
    return Translator(lang)


ENGLISH = translator(DEFAULT)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a message (to check a translation keeps them all)."""
    return set(re.findall(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[:!][^}]*)?\}", text))
