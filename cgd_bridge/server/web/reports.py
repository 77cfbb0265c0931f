"""The full report of a check on the submit page, kept for download as HTML and JSON.

A check that stores nothing (errors, or ``action=check``) still gives its report: :func:`keep`
writes it, rendered in the page's language, under ``{data_dir}/reports/`` with a random token
and the id of the user who checked; :func:`read` gives it back to that user only, for
:data:`KEEP_SECONDS` (older ones are removed whenever a report is kept). Nothing of it goes to the
database: it is the person's own upload, not a submission.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

from cgd_bridge.atomic import atomic_writer
from cgd_bridge.errors import NotFound
from cgd_bridge.findings import Report
from cgd_bridge.i18n import N_, Translator
from cgd_bridge.render import render_html, render_json
from cgd_bridge.store.principal import Principal

KEEP_SECONDS = 24 * 3600
FORMATS = {"html": "text/html; charset=utf-8", "json": "application/json"}
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "reports"


def keep(data_dir: Path, principal: Principal, report: Report, t: Translator) -> str:
    """Write the report as HTML and JSON in the language of ``t``; its token."""
    where = folder(data_dir)
    where.mkdir(parents=True, exist_ok=True)
    _expire(where)
    token = secrets.token_urlsafe(24)
    for fmt, text in (("html", render_html(report, t)), ("json", render_json(report, t))):
        with atomic_writer(where / f"{token}.{fmt}") as fh:
            fh.write(text.encode("utf-8"))
    with atomic_writer(where / f"{token}.owner") as fh:
        fh.write(json.dumps({"user_id": principal.user_id}).encode("utf-8"))
    return token


def read(data_dir: Path, principal: Principal, token: str, fmt: str) -> bytes:
    """The kept report ``token`` as ``fmt`` (html, json), for the user who checked it."""
    where = folder(data_dir)
    gone = NotFound(
        N_("this report is no longer kept (reports are kept for a day, for the person who checked the file)"),
        fix=N_("Check the files again on the submit page to get a new report."),
    )
    if fmt not in FORMATS or not _TOKEN.match(token):
        raise gone
    owner = where / f"{token}.owner"
    try:
        user = json.loads(owner.read_text(encoding="utf-8")).get("user_id")
        if user != principal.user_id or time.time() - owner.stat().st_mtime > KEEP_SECONDS:
            raise gone
        return (where / f"{token}.{fmt}").read_bytes()
    except (OSError, ValueError, AttributeError):
        raise gone from None


def _expire(where: Path) -> None:
    """Remove the reports older than :data:`KEEP_SECONDS`."""
    limit = time.time() - KEEP_SECONDS
    for p in where.glob("*.*"):
        try:
            if p.stat().st_mtime < limit:
                p.unlink()
        except OSError:
            continue
