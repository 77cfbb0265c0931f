"""The web pages' languages: the catalogues of :mod:`cgd_bridge.i18n` (Babel/gettext), chosen
per request.

Templates and routes write their English text inside ``_()`` (gettext style: the English text
is the message id); ``ngettext`` where a count chooses the form. The language of a request:
``?lang=xx`` when that language is offered (kept in the session cookie as the person's
setting), else that setting, else the best match of ``Accept-Language``, else English.
"""

from __future__ import annotations

from cgd_bridge.i18n import DEFAULT, N_, Translator, choose, normalise, offered, translator

__all__ = ["DEFAULT", "N_", "Translator", "choose", "normalise", "offered", "translator"]
