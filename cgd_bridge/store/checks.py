"""Checks of the submit page that outlast the request: started, ended, read back by their owner.

On a slow machine or with a large file, a check takes longer than a person should stare at a
spinner (#17). The submit page waits a while (``web_check_wait_seconds``); when the check is not
done by then, the person is sent to the check's status page, which refreshes itself until the
outcome is here, and which they may leave and come back to for a day, from any host. The rules:

- Only the person who started a check sees it (anyone else: "no such check", as for an id that
  never existed); its id is random.
- A check whose process died (a restart) is not left "running" forever: past
  :data:`LOST_AFTER` plus the job limits it is shown as stopped, and the files are still kept
  (:mod:`cgd_bridge.store.kept`), so sending the form again costs nothing on a slow link.
- Rows go a day after they started, whenever a new check starts.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from cgd_bridge.errors import NotFound
from cgd_bridge.i18n import N_
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import CheckState, WebCheck
from cgd_bridge.store.principal import Principal

#: How long a check and its outcome stay.
KEEP_FOR = dt.timedelta(hours=24)
#: Beyond the job's own limits, how long a running check may go without an outcome before it
#: is taken as stopped (its process died).
LOST_AFTER = dt.timedelta(minutes=2)


def start(
    session: Session,
    *,
    principal: Principal,
    action: str,
    what: str,
    now: dt.datetime,
    values: dict[str, Any] | None = None,
) -> str:
    """Record a check that starts now, with the form's ``values`` (JSON: what the submit page
    needs to show the form again, the kept files among them); its id. Checks older than a day
    are deleted."""
    ident = secrets.token_urlsafe(24)
    with transaction(session):
        session.execute(delete(WebCheck).where(WebCheck.started_at <= now - KEEP_FOR))
        session.add(
            WebCheck(
                id=ident,
                user_id=principal.user_id,
                action=action,
                state=CheckState.RUNNING,
                what=what[:300],
                started_at=now,
                outcome={"values": values or {}},
            )
        )
    return ident


def finish(
    session: Session,
    ident: str,
    *,
    outcome: dict[str, Any],
    now: dt.datetime,
    version_id: int | None = None,
    failed: bool = False,
) -> None:
    """Record how the check ``ident`` ended (``outcome`` must be JSON; it is added to what
    :func:`start` recorded)."""
    with transaction(session):
        row = session.get(WebCheck, ident)
        if row is None:  # deleted meanwhile (older than a day): nothing to record
            return
        row.state = CheckState.FAILED if failed else CheckState.DONE
        row.finished_at = now
        row.outcome = {**(row.outcome or {}), **outcome}
        row.version_id = version_id


def get(session: Session, *, principal: Principal, ident: str) -> WebCheck:
    """The check ``ident`` if ``principal`` started it.

    Raises:
        NotFound: no such check of theirs (never, someone else's, or older than a day).
    """
    row = session.get(WebCheck, ident) if ident and len(ident) <= 64 else None
    if row is None or row.user_id != principal.user_id:
        raise NotFound(
            N_("there is no such check of yours (checks are kept for a day)"),
            fix=N_("Open the submit page and send the form again: files you sent are kept for a day."),
        )
    return row


def lost(row: WebCheck, now: dt.datetime, *, job_cpu_seconds: int, job_wait_seconds: float) -> bool:
    """True for a check still "running" well past what its job may take: its process died.

    A job waits at most ``job_wait_seconds`` for a worker and then runs at most three times its
    CPU limit plus 10 s of wall time (:mod:`cgd_bridge.server.jobs`; no CPU limit: a day)."""
    limit = dt.timedelta(seconds=3 * (job_cpu_seconds or 86_400) + 10 + job_wait_seconds)
    return row.state == CheckState.RUNNING and now - row.started_at > limit + LOST_AFTER
