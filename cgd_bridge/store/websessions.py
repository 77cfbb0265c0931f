"""Ended web sessions (#14): sign-out is recorded on the server, so a copied cookie is refused.

The web session itself is a signed cookie (:mod:`cgd_bridge.server.web.session`); the store
keeps only the ids of sessions that were signed out, each until the session would have expired
by itself.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import EndedSession


def end(session: Session, session_id: str, *, expires_at: dt.datetime, now: dt.datetime) -> None:
    """Record that the web session ``session_id`` was signed out (idempotent); forget the
    records of sessions that have expired by ``now`` in the same transaction."""
    with transaction(session):
        session.execute(delete(EndedSession).where(EndedSession.expires_at < now))
        if session.get(EndedSession, session_id) is None:
            session.add(EndedSession(session_id=session_id, expires_at=expires_at))


def ended(session: Session, session_id: str) -> bool:
    """True when the web session ``session_id`` was signed out."""
    return (
        session.scalar(select(EndedSession.session_id).where(EndedSession.session_id == session_id))
        is not None
    )
