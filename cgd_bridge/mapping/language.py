"""The language a mapping draft gives its reasons in (#17).

``mapping init --lang sw`` explains each guess in Swahili, on the terminal and in the comments
of the YAML it writes (the keys and values stay as the format has them). The reasons are built
deep inside the drafting (:mod:`cgd_bridge.mapping.draft`, :mod:`cgd_bridge.mapping.evidence`);
rather than hand a translator down every function, :func:`speaking` sets it for the time a
draft (or a review of one) runs, in a :class:`contextvars.ContextVar`, so that two drafts in two
languages at once (two web requests) each keep their own. Outside it, English.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cgd_bridge.i18n import ENGLISH, Translator

_SPOKEN: ContextVar[Translator] = ContextVar("cgd_bridge_draft_language", default=ENGLISH)


@contextmanager
def speaking(t: Translator | None) -> Iterator[Translator]:
    """Give the reasons of the drafts made inside in the language of ``t`` (None: as it is)."""
    if t is None:
        yield _SPOKEN.get()
        return
    token = _SPOKEN.set(t)
    try:
        yield t
    finally:
        _SPOKEN.reset(token)


def spoken() -> Translator:
    """The translator of the drafts made now."""
    return _SPOKEN.get()


def gettext(text: str, /, **values: object) -> str:
    """The message id ``text`` in the drafting language, formatted with ``values``."""
    return _SPOKEN.get().gettext(text, **values)


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    """The plural form for ``n`` in the drafting language."""
    return _SPOKEN.get().ngettext(singular, plural, n, **values)


def percent(share: float) -> str:
    """``share`` (0-1) as a whole percentage, as the drafts write it ("85%")."""
    return f"{share:.0%}"
