"""Files a person sent with the submit page and may use again without sending them again (#17).

On a 50 kbit/s link a 7 MB dataset takes about 19 minutes to send. When its check finds errors,
or the person only asked for a check, the page used to ask for every file again. Now the server
keeps what it received, for its sender only, and the page offers it ("scorecard.csv, 7.0 MB,
received: choose a file only to replace it").

The rules, all here:

- A kept file belongs to the user who sent it; it is found by a random token the page carries in
  a hidden field, AND that user: anyone else (another user of the same organisation included)
  is told it is not there, exactly as for a token that never existed.
- At most one kept file per user and role (``data``, ``metadata``, ``mapping``, ``form``): keeping
  a new one of a role deletes the older one, so what the server keeps for a person is bounded by
  four uploads.
- It lives :data:`KEEP_FOR` (a day), and goes as soon as a version is stored from the files
  (:func:`forget`). Expired rows are deleted whenever files are kept.
- Keeping is best-effort on the page's side only in this sense: a failure to keep is an error
  of the store, never a silent loss of the upload the person is looking at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, undefer

from cgd_bridge.errors import NotFound
from cgd_bridge.i18n import N_
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import FileRole, KeptUpload
from cgd_bridge.store.principal import Principal
from cgd_bridge.store.submissions import RawFile

#: How long a kept file stays.
KEEP_FOR = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Kept:
    """What the page shows of a kept file and carries back: its token, name and size."""

    role: str
    token: str
    filename: str
    size: int


def _kept(row: KeptUpload) -> Kept:
    return Kept(row.role, row.token, row.filename, row.size)


def keep(
    session: Session, *, principal: Principal, files: Iterable[RawFile], now: dt.datetime
) -> dict[str, Kept]:
    """Keep ``files`` for ``principal``, replacing what they kept before for the same roles.

    A file that is already kept for them (same role and SHA-256: the page sent the token back and
    the file was taken from here) keeps its row and token and gets a new day. Expired rows of
    everyone are deleted on the way.

    Returns:
        role -> :class:`Kept`, for every file given.
    """
    out: dict[str, Kept] = {}
    with transaction(session):
        session.execute(delete(KeptUpload).where(KeptUpload.expires_at <= now))
        rows = session.scalars(select(KeptUpload).where(KeptUpload.user_id == principal.user_id))
        mine = {r.role: r for r in rows}
        for raw in files:
            role = FileRole(raw.role).value
            sha = raw.sha256
            row = mine.get(role)
            if row is not None and row.sha256 == sha and row.size == len(raw.content):
                row.expires_at = now + KEEP_FOR
                out[role] = _kept(row)
                continue
            if row is not None:
                session.delete(row)
                session.flush()
            row = KeptUpload(
                token=secrets.token_urlsafe(32),
                user_id=principal.user_id,
                role=role,
                filename=raw.filename,
                media_type=raw.media_type,
                size=len(raw.content),
                sha256=sha,
                content=raw.content,
                expires_at=now + KEEP_FOR,
            )
            session.add(row)
            session.flush()
            mine[role] = row
            out[role] = _kept(row)
    return out


def _gone(role: str) -> NotFound:
    return NotFound(
        N_("the {role} file sent earlier is no longer kept on the server"),
        fix=N_(
            "Choose the {role} file again (kept files are deleted after a day, or once a "
            "version is stored from them)."
        ),
        field=role,
        params={"role": role},
    )


def take(session: Session, *, principal: Principal, role: str, token: str, now: dt.datetime) -> RawFile:
    """The kept file of ``role`` that ``token`` names, if ``principal`` sent it and it is in force.

    Raises:
        NotFound: no such file of theirs (never sent, another person's, expired or used), with
            the fix: choose the file again.
    """
    if not token or len(token) > 64:
        raise _gone(role)
    row = session.scalar(
        select(KeptUpload)
        .options(undefer(KeptUpload.content))
        .where(KeptUpload.token == token, KeptUpload.user_id == principal.user_id, KeptUpload.role == role)
    )
    if row is None or row.expires_at <= now:
        raise _gone(role)
    content = bytes(row.content)
    if hashlib.sha256(content).hexdigest() != row.sha256:  # a damaged row is not handed on as data
        raise _gone(role)
    return RawFile(row.role, row.filename, content, row.media_type)


def kept_of(session: Session, *, principal: Principal, now: dt.datetime) -> dict[str, Kept]:
    """What is kept for ``principal`` now, by role."""
    rows = session.scalars(
        select(KeptUpload).where(KeptUpload.user_id == principal.user_id, KeptUpload.expires_at > now)
    )
    return {r.role: _kept(r) for r in rows}


def forget(session: Session, *, principal: Principal) -> int:
    """Delete everything kept for ``principal`` (a version was stored from it); how many rows."""
    with transaction(session):
        result = session.execute(delete(KeptUpload).where(KeptUpload.user_id == principal.user_id))
    return int(getattr(result, "rowcount", 0) or 0)
