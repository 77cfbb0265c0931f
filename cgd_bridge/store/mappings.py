"""Mappings a CSO builds and saves in the web mapping builder (#18): versioned, per organisation.

Saving a mapping under a name the organisation used before makes that name's next version
(1, 2, ...); every version is kept. The rules, all here:

- Only the people of the organisation that saved a mapping see it, download it, save new
  versions of it and submit with it; anyone else (another CSO, an NSO, the public) is told there
  is no such mapping, as for an id that never existed (a mapping names a survey's columns and
  labels before anything is published).
- Only CSOs save mappings (they are the ones who submit data).
- Saving is audited (``mapping.saved``).

What the mapping says is checked by the caller (the builder reads it with the mapping model and
runs it on its data before it saves it); the store keeps the text and the dataflow it targets.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cgd_bridge.errors import Forbidden, NotFound, UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.store import audit
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import OrgKind, SavedMapping
from cgd_bridge.store.principal import Principal

MAX_NAME = 120
MAX_NOTE = 2000
#: the most versions of mappings an organisation keeps
MAX_SAVED = 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")


def check_name(name: str) -> str:
    """The name, trimmed; letters, digits, spaces, dots, dashes and underscores.

    Raises:
        UsageError: empty, too long or with other characters.
    """
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or not _NAME.match(name):
        raise UsageError(
            N_("'{name}' cannot name a mapping"),
            fix=N_(
                "Give a name of at most {n} letters, digits, spaces, dots, dashes or underscores, "
                "e.g. 'mw-water-points'."
            ),
            field="name",
            params={"name": name[:MAX_NAME], "n": MAX_NAME},
        )
    return name


def _not_found(ident: object) -> NotFound:
    return NotFound(
        N_("there is no saved mapping {id} of your organisation"),
        fix=N_("Pick one from the list of your organisation's mappings."),
        params={"id": ident},
    )


def get_mapping(session: Session, *, principal: Principal | None, mapping_id: int) -> SavedMapping:
    """One version of a mapping of the principal's organisation.

    Raises:
        NotFound: no such version, or not the principal's organisation's.
    """
    row = session.get(SavedMapping, mapping_id)
    if row is None or principal is None or row.organisation_id != principal.org_id:
        raise _not_found(mapping_id)
    return row


def list_mappings(session: Session, *, principal: Principal | None) -> list[SavedMapping]:
    """Every version of the principal's organisation's mappings: by name, the newest version first."""
    if principal is None:
        return []
    stmt = (
        select(SavedMapping)
        .where(SavedMapping.organisation_id == principal.org_id)
        .order_by(SavedMapping.name, SavedMapping.number.desc())
    )
    return list(session.scalars(stmt).unique())


def latest(session: Session, *, principal: Principal | None) -> list[SavedMapping]:
    """The newest version of each of the organisation's mappings, by name."""
    seen: set[str] = set()
    out = []
    for row in list_mappings(session, principal=principal):
        if row.name not in seen:
            seen.add(row.name)
            out.append(row)
    return out


def save_mapping(
    session: Session,
    *,
    principal: Principal | None,
    name: str,
    text: str,
    dataflow: str,
    now: dt.datetime,
    note: str = "",
) -> SavedMapping:
    """Save ``text`` as the next version of the organisation's mapping ``name`` (1 if new).

    Raises:
        Forbidden: the principal is not of a CSO.
        UsageError: a bad name, or the organisation keeps :data:`MAX_SAVED` versions already.
    """
    if principal is None or principal.org_kind != OrgKind.CSO:
        raise Forbidden(
            N_("only the people of a CSO save mappings"),
            fix=N_("Sign in with your CSO account, or download the mapping as a YAML file."),
        )
    name = check_name(name)
    with transaction(session):
        mine = SavedMapping.organisation_id == principal.org_id
        count = session.scalar(select(func.count()).select_from(SavedMapping).where(mine)) or 0
        if count >= MAX_SAVED:
            raise UsageError(
                N_("your organisation keeps {n} mapping versions, the most the server keeps"),
                fix=N_("Ask the platform administrator to remove the ones you no longer need."),
                params={"n": count},
            )
        last = session.scalar(select(func.max(SavedMapping.number)).where(mine, SavedMapping.name == name))
        row = SavedMapping(
            organisation_id=principal.org_id,
            name=name,
            number=(last or 0) + 1,
            dataflow=dataflow,
            text=text,
            note=" ".join(note.split())[:MAX_NOTE],
            created_by_id=principal.user_id,
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit.add(
            session,
            action="mapping.saved",
            principal=principal,
            details={"mapping": row.id, "name": name, "number": row.number},
        )
    return row


def texts(session: Session, *, principal: Principal | None) -> list[tuple[str, str]]:
    """``[(name vN, text)]`` of the organisation's saved mappings, newest first: evidence for a
    new draft (``Evidence.add_text``)."""
    rows = sorted(
        list_mappings(session, principal=principal), key=lambda r: (r.created_at, r.id), reverse=True
    )
    return [(f"{r.name} v{r.number}", r.text) for r in rows]


__all__ = ["check_name", "get_mapping", "latest", "list_mappings", "save_mapping", "texts"]
