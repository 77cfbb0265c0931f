"""Notifications in the store (#19): webhooks registered by organisations, and the outbox.

**The outbox.** Every notification is a row of ``outbox`` written *in the transaction of the
event that caused it*: :func:`on_transition` runs inside the workflow's own transaction
(:func:`cgd_bridge.store.submissions._move`), so an accepted version and its e-mails and
webhook deliveries commit together or not at all. Nothing is sent there: the request that
caused the event never waits for a mail server or a receiver. A background worker (the
server's, :mod:`cgd_bridge.server.notify`, or ``cgd-bridge notify run`` from cron) delivers
the rows later.

**Claiming.** :func:`claim` takes due rows for one worker with a lease (``locked_until``) in a
short transaction: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` (workers on several
hosts never take the same row), on SQLite under the database's single write lock. The worker
delivers, then :func:`finish` records the outcome (delivered, retry later, failed). A worker
that dies between sending and recording leaves the lease to run out; the row is then sent
again: delivery is **at least once**, and every attempt carries the row's ``uid`` as an
idempotency id for the receiver.

**Retries.** Exponential back-off with jitter (:func:`backoff`), at most ``max_attempts``
attempts, after which the row is ``failed`` with its last error: the delivery log
(:func:`deliveries`) shows each row's state, attempts and last error to the organisation.

Events: ``version.submitted`` (e-mail to the reviewers of the NSOs whose MoU in force covers
the CSO and dataflow), ``version.accepted``, ``version.rejected`` (with the reason),
``version.published`` (e-mail to the version's submitter), ``version.withdrawn``; each also goes
to the webhooks, subscribed to it, of the producing CSO and of those NSOs (who may see the
version: :mod:`cgd_bridge.store.access`). ``pulls.digest``: the opt-in daily e-mail to a CSO's
people of who among its MoU partners pulled its data (:func:`enqueue_digests`).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from cgd_bridge.errors import Forbidden, NotFound, UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.store import audit, orgs
from cgd_bridge.store.db import lock, transaction
from cgd_bridge.store.models import (
    AuditEntry,
    Channel,
    Delivery,
    DigestMark,
    Mou,
    Organisation,
    OrgKind,
    OutboxItem,
    Role,
    State,
    Submission,
    User,
    Version,
    Webhook,
    utcnow,
)
from cgd_bridge.store.mous import covers
from cgd_bridge.store.principal import Principal

#: the events a webhook may subscribe to
EVENTS = (
    "version.submitted",
    "version.accepted",
    "version.rejected",
    "version.published",
    "version.withdrawn",
)
#: the workflow states whose transitions notify
NOTIFIED = {
    State.SUBMITTED: "version.submitted",
    State.ACCEPTED: "version.accepted",
    State.REJECTED: "version.rejected",
    State.PUBLISHED: "version.published",
    State.WITHDRAWN: "version.withdrawn",
}
#: events that e-mail the version's submitter
TO_SUBMITTER = frozenset({"version.accepted", "version.rejected", "version.published"})
DIGEST_EVENT = "pulls.digest"
MAX_ERROR = 2000


# ---------------------------------------------------------------- webhooks


@dataclass(frozen=True)
class NewWebhook:
    """A registered webhook and its secret (shown this once)."""

    webhook: Webhook
    secret: str


def _require_org_member(principal: Principal | None, org: Organisation, what: str) -> Principal:
    if principal is None:
        from cgd_bridge.errors import Unauthorized

        raise Unauthorized(
            N_("you must sign in to {what}"), fix=N_("Send your API key."), params={"what": what}
        )
    if not (principal.is_admin or principal.org_id == org.id):
        raise Forbidden(
            N_("only people of '{slug}' (and administrators) may {what}"),
            fix=N_("Use a key of that organisation."),
            params={"slug": org.slug, "what": what},
        )
    return principal


def _organisation(session: Session, slug: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(
            N_("there is no organisation '{slug}'"),
            fix=N_("Check the slug (cgd-bridge admin org list)."),
            params={"slug": slug},
        )
    return org


def check_events(events: Iterable[str]) -> list[str]:
    """The events, checked against :data:`EVENTS` (``*`` means all of them).

    Raises:
        UsageError: an unknown event, or none.
    """
    wanted = sorted({e.strip() for e in events if e.strip()})
    if "*" in wanted:
        return list(EVENTS)
    unknown = [e for e in wanted if e not in EVENTS]
    if unknown or not wanted:
        raise UsageError(
            N_("'{unknown}' is not an event a webhook can receive"),
            field="events",
            fix=N_("Choose among {events} (or * for all)."),
            params={"unknown": ", ".join(unknown) or "(none)", "events": ", ".join(EVENTS)},
        )
    return wanted


def create_webhook(
    session: Session,
    *,
    organisation: str,
    url: str,
    events: Iterable[str],
    description: str = "",
    actor: Principal | None = None,
    check_url: Any = None,
) -> NewWebhook:
    """Register an endpoint of ``organisation`` (its own people or admins; ``actor=None`` is
    the local admin CLI). ``check_url(url)`` refuses addresses the server may not call (the
    server's SSRF rule, :func:`cgd_bridge.server.notify.check_url`).

    Raises:
        UsageError: a URL that is not http(s) or is refused, unknown events.
    """
    org = _organisation(session, organisation)
    if actor is not None:
        _require_org_member(actor, org, N_("register webhooks"))
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or len(url) > 2000:
        raise UsageError(
            N_("'{url}' is not an http(s) URL"),
            field="url",
            fix=N_("Give https://HOST/PATH of your receiver."),
            params={"url": url[:100]},
        )
    chosen = check_events(events)  # before the URL's name is looked up
    if check_url is not None:
        check_url(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction(session):
        hook = Webhook(
            organisation_id=org.id,
            url=url,
            events=chosen,
            secret=secret,
            description=description[:200],
            created_at=utcnow(),
        )
        session.add(hook)
        session.flush()
        audit.add(
            session,
            action="webhook.created",
            principal=actor,
            details={"webhook": hook.id, "organisation": org.slug, "url": url, "events": chosen},
        )
    session.refresh(hook)
    return NewWebhook(hook, secret)


def list_webhooks(session: Session, *, organisation: str, actor: Principal | None = None) -> list[Webhook]:
    """The organisation's webhooks in force (its people and admins)."""
    org = _organisation(session, organisation)
    if actor is not None:
        _require_org_member(actor, org, N_("see its webhooks"))
    stmt = select(Webhook).where(Webhook.organisation_id == org.id, Webhook.revoked_at.is_(None))
    return list(session.scalars(stmt.order_by(Webhook.id)))


def revoke_webhook(
    session: Session, *, organisation: str, webhook_id: int, actor: Principal | None = None
) -> Webhook:
    """Remove a webhook: no new deliveries; the pending ones are given up, the log stays."""
    org = _organisation(session, organisation)
    if actor is not None:
        _require_org_member(actor, org, N_("remove its webhooks"))
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.organisation_id != org.id or hook.revoked_at is not None:
        raise NotFound(
            N_("'{slug}' has no webhook {webhook_id}"),
            fix=N_("See the list of its webhooks."),
            params={"slug": org.slug, "webhook_id": webhook_id},
        )
    now = utcnow()
    with transaction(session):
        hook.revoked_at = now
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.webhook_id == hook.id, OutboxItem.state == Delivery.PENDING)
            .values(state=Delivery.FAILED, last_error="the webhook was removed")
        )
        audit.add(session, action="webhook.revoked", principal=actor, details={"webhook": hook.id})
    return hook


def deliveries(
    session: Session, *, organisation: str, actor: Principal | None = None, limit: int = 200
) -> list[OutboxItem]:
    """The organisation's delivery log, newest first (its people and admins)."""
    org = _organisation(session, organisation)
    if actor is not None:
        _require_org_member(actor, org, N_("see its delivery log"))
    stmt = select(OutboxItem).where(OutboxItem.organisation_id == org.id).order_by(OutboxItem.id.desc())
    return list(session.scalars(stmt.limit(max(1, min(limit, 1000)))).unique())


def delivery_view(item: OutboxItem) -> dict[str, Any]:
    """A delivery log row as the JSON API and the CLI show it (never the payload's secret parts:
    there are none, and never the webhook's secret)."""
    return {
        "id": item.uid,
        "event": item.event,
        "channel": item.channel,
        "webhook": item.webhook_id,
        "url": item.webhook.url if item.webhook else None,
        "recipient": item.recipient,
        "state": item.state,
        "attempts": item.attempts,
        "last_status": item.last_status,
        "last_error": item.last_error,
        "created_at": item.created_at.isoformat(),
        "next_attempt_at": item.next_attempt_at.isoformat() if item.state == Delivery.PENDING else None,
        "delivered_at": item.delivered_at.isoformat() if item.delivered_at else None,
    }


# ---------------------------------------------------------------- enqueueing (inside the event's transaction)


def _row(
    event: str,
    channel: Channel,
    payload: dict[str, Any],
    now: dt.datetime,
    *,
    organisation_id: int | None,
    webhook_id: int | None = None,
    recipient: str | None = None,
    language: str | None = None,
) -> OutboxItem:
    return OutboxItem(
        uid=str(uuid.uuid4()),
        event=event,
        channel=channel,
        organisation_id=organisation_id,
        webhook_id=webhook_id,
        recipient=recipient,
        language=language,
        payload=payload,
        state=Delivery.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


def _covering_nsos(session: Session, sub: Submission, now: dt.datetime) -> list[int]:
    mous = session.scalars(select(Mou).where(Mou.cso_id == sub.producer_id)).unique()
    return sorted({m.nso_id for m in mous if covers(m, sub.agency, sub.dataflow, sub.dataflow_version, now)})


def version_payload(
    v: Version, event: str, details: dict[str, Any] | None, now: dt.datetime
) -> dict[str, Any]:
    """What an event about a version says: which version, its state and dataflow; no data."""
    sub = v.submission
    out: dict[str, Any] = {
        "version": {
            "id": v.id,
            "number": v.number,
            "state": NOTIFIED_STATE[event],
            "dataset": sub.dataset,
            "producer": sub.producer.slug,
            "producer_name": sub.producer.name,
            "dataflow": sub.dataflow_ref,
            "embargo_until": v.embargo_until.isoformat() if v.embargo_until else None,
        },
        "occurred_at": now.isoformat(),
    }
    if event == "version.rejected" and details and details.get("comment"):
        out["reason"] = str(details["comment"])
    if event == "version.accepted" and details and details.get("comment"):
        out["comment"] = str(details["comment"])
    if event == "version.withdrawn" and details and details.get("reason"):
        out["reason"] = str(details["reason"])
    return out


NOTIFIED_STATE = {event: state.value for state, event in NOTIFIED.items()}


def on_transition(
    session: Session,
    v: Version,
    to: State,
    principal: Principal | None,
    now: dt.datetime,
    details: dict[str, Any] | None = None,
) -> list[OutboxItem]:
    """Write the notifications of ``v`` moving to ``to`` into the caller's transaction.

    E-mails go to users with an address (in their language); webhooks to the subscribed
    endpoints of the producing CSO and of the NSOs whose MoU in force covers the version (the
    organisations that may see it). Nothing is written for other states (superseded, draft).
    """
    event = NOTIFIED.get(to)
    if event is None:
        return []
    sub = v.submission
    payload = version_payload(v, event, details, now)
    actor = session.get(Organisation, principal.org_id) if principal is not None else None
    payload["by"] = actor.name if actor is not None else None
    nsos = _covering_nsos(session, sub, now)
    rows: list[OutboxItem] = []
    orgs = [sub.producer_id, *nsos]
    hooks = session.scalars(
        select(Webhook).where(Webhook.organisation_id.in_(orgs), Webhook.revoked_at.is_(None))
    ).unique()
    for hook in hooks:
        if event in hook.events:
            rows.append(
                _row(
                    event,
                    Channel.WEBHOOK,
                    payload,
                    now,
                    organisation_id=hook.organisation_id,
                    webhook_id=hook.id,
                )
            )
    people: list[User] = []
    if event == "version.submitted" and nsos:
        people = list(
            session.scalars(
                select(User).where(
                    User.organisation_id.in_(nsos),
                    User.role == Role.REVIEWER,
                    User.active.is_(True),
                    User.email.is_not(None),
                )
            ).unique()
        )
    elif event in TO_SUBMITTER and v.created_by_id is not None:
        submitter = session.get(User, v.created_by_id)
        if submitter is not None and submitter.active and submitter.email:
            people = [submitter]
    for person in people:
        assert person.email is not None
        rows.append(
            _row(
                event,
                Channel.EMAIL,
                payload,
                now,
                organisation_id=person.organisation_id,
                recipient=person.email,
                language=person.language,
            )
        )
    session.add_all(rows)
    return rows


def enqueue_digests(session: Session, *, now: dt.datetime | None = None, every: dt.timedelta) -> int:
    """Write the pull digests that are due: for each CSO that opted in, the pulls of its data by
    MoU partners (NSOs) since its last digest, one e-mail per person of the CSO with an address.

    A digest is due ``every`` after the last one (the first one covers the last ``every``).
    Runs in one transaction under a lock, so workers on several hosts write each digest once.
    Returns how many e-mails it wrote.
    """
    now = now or utcnow()
    written = 0
    opted = select(Organisation.id).where(Organisation.pull_digest.is_(True)).limit(1)
    found = session.scalar(opted)
    session.rollback()
    if found is None:  # nobody opted in: no lock, no write (SQLite's lock is the database's)
        return 0
    with transaction(session):
        lock(session, "notify digests")
        csos = session.scalars(
            select(Organisation).where(Organisation.kind == OrgKind.CSO, Organisation.pull_digest.is_(True))
        ).all()
        for org in csos:
            mark = session.get(DigestMark, org.id)
            since = mark.until if mark is not None else now - every
            if now - since < every:
                continue
            pulls = _partner_pulls(session, org.id, since, now)
            if mark is None:
                session.add(DigestMark(organisation_id=org.id, until=now))
            else:
                mark.until = now
            if not pulls:
                continue
            payload = {"organisation": org.slug, "since": since.isoformat(), "until": now.isoformat(),
                       "pulls": pulls}  # fmt: skip
            people = session.scalars(
                select(User).where(
                    User.organisation_id == org.id, User.active.is_(True), User.email.is_not(None)
                )
            ).unique()
            for person in people:
                assert person.email is not None
                session.add(
                    _row(
                        DIGEST_EVENT,
                        Channel.EMAIL,
                        payload,
                        now,
                        organisation_id=org.id,
                        recipient=person.email,
                        language=person.language,
                    )
                )
                written += 1
    return written


def _partner_pulls(
    session: Session, cso_id: int, since: dt.datetime, until: dt.datetime
) -> list[dict[str, Any]]:
    """The pulls of the CSO's data by NSOs in ``[since, until)``, oldest first, as plain facts."""
    nso = select(Organisation.id).where(Organisation.kind == OrgKind.NSO)
    stmt = (
        select(AuditEntry, Submission.dataset, Version.number)
        .join(Submission, AuditEntry.submission_id == Submission.id)
        .outerjoin(Version, AuditEntry.version_id == Version.id)
        .where(
            Submission.producer_id == cso_id,
            AuditEntry.action.in_(audit.PULL_ACTIONS),
            AuditEntry.organisation_id.in_(nso),
            AuditEntry.at >= since,
            AuditEntry.at < until,
        )
        .order_by(AuditEntry.at, AuditEntry.id)
        .limit(500)
    )
    return [
        {
            "at": e.at.isoformat(),
            "organisation": e.organisation.slug if e.organisation else None,
            "organisation_name": e.organisation.name if e.organisation else None,
            "organisation_kind": e.organisation.kind if e.organisation else None,
            "username": e.user.username if e.user else None,
            "action": e.action,
            "dataflow": e.dataflow,
            "dataset": dataset,
            "version": number,
            "query": e.query,
            "observations": e.observations,
            "file": (e.details or {}).get("filename") if e.action == "file.downloaded" else None,
        }
        for e, dataset, number in session.execute(stmt).unique()
    ]


# ---------------------------------------------------------------- delivering (the worker's side)


def claim(session: Session, *, now: dt.datetime, lease: dt.timedelta, limit: int = 20) -> list[OutboxItem]:
    """Take up to ``limit`` due rows for this worker until ``now + lease``, in one short
    transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (other workers skip them), SQLite's
    write lock there. A row another worker holds (lease not run out) is not due."""
    due = (
        select(OutboxItem.id)
        .where(
            OutboxItem.state == Delivery.PENDING,
            OutboxItem.next_attempt_at <= now,
            or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until <= now),
        )
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    )
    # a plain read first: an idle worker never takes SQLite's write lock
    anything = session.scalar(due.with_only_columns(OutboxItem.id).limit(1))
    session.rollback()
    if anything is None:
        return []
    with transaction(session):
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        else:
            lock(session, "outbox claim")  # takes SQLite's write lock before the read
        ids = list(session.scalars(due))
        if not ids:
            return []
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids))
            .values(locked_until=now + lease)
            .execution_options(synchronize_session=False)
        )
    rows = session.scalars(
        select(OutboxItem)
        .where(OutboxItem.id.in_(ids))
        .order_by(OutboxItem.id)
        .execution_options(populate_existing=True)
    ).unique()
    return list(rows)


def backoff(attempts: int, base: float, cap: float = 6 * 3600.0, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: ``base * 2**(attempts-1)``, capped, with full
    jitter between half and the whole of it (receivers that failed together do not retry together)."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * (0.5 + 0.5 * (rng or random).random())


def finish(
    session: Session,
    item: OutboxItem,
    *,
    ok: bool,
    now: dt.datetime,
    max_attempts: int,
    base_delay: float,
    error: str | None = None,
    status: int | None = None,
    final: bool = False,
) -> str:
    """Record one attempt: delivered, or retried after :func:`backoff`, or failed once
    ``max_attempts`` are spent (or ``final``: an error no retry can mend). Returns the new state."""
    attempts = item.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "locked_until": None, "last_status": status}
    if ok:
        values.update(state=Delivery.DELIVERED, delivered_at=now, last_error=None)
    elif final or attempts >= max_attempts:
        values.update(state=Delivery.FAILED, last_error=(error or "")[:MAX_ERROR])
    else:
        values.update(
            last_error=(error or "")[:MAX_ERROR],
            next_attempt_at=now + dt.timedelta(seconds=backoff(attempts, base_delay)),
        )
    with transaction(session):
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item.id, OutboxItem.state == Delivery.PENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return str(values.get("state", Delivery.PENDING))


def prune(session: Session, *, before: dt.datetime) -> int:
    """Delete the delivered and failed rows created before ``before`` (the log's retention);
    pending rows are never deleted. Returns how many went."""
    from sqlalchemy import delete

    with transaction(session):
        result = session.execute(
            delete(OutboxItem)
            .where(OutboxItem.state != Delivery.PENDING, OutboxItem.created_at < before)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending_count(session: Session) -> int:
    """Rows waiting to be delivered (also those between retries)."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).where(OutboxItem.state == Delivery.PENDING)) or 0)


def set_contact(
    session: Session,
    *,
    username: str,
    email: str | None,
    language: str | None,
    actor: Principal | None = None,
) -> User:
    """Set where a user's notifications go and in which language (``""`` clears)."""
    from cgd_bridge import i18n

    if actor is not None and not actor.is_admin and actor.username != username:
        raise Forbidden(
            N_("only administrators may set another user's e-mail"), fix=N_("Ask an administrator.")
        )
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(
            N_("there is no user '{username}'"),
            fix=N_("Check the username (cgd-bridge admin user list)."),
            params={"username": username},
        )
    # one rule for addresses (lower-case, well-formed, one user each): the one sign-in matches by
    checked = orgs.check_email(session, email, user_id=user.id) if email is not None else None
    lang = None
    if language:
        lang = i18n.normalise(language)
        if lang is None:
            raise UsageError(
                N_("'{language}' is not a language the bridge speaks"),
                field="language",
                fix=N_("Choose among {choices}."),
                params={"language": language, "choices": ", ".join(i18n.offered())},
            )
    with transaction(session):
        if email is not None:
            user.email = checked
        if language is not None:
            user.language = lang
        audit.add(session, action="user.contact_set", principal=actor, details={"username": username})
    return user


def set_pull_digest(
    session: Session, *, organisation: str, on: bool, actor: Principal | None = None
) -> Organisation:
    """Opt a CSO in to (or out of) the daily e-mail of who pulled its data."""
    org = _organisation(session, organisation)
    if actor is not None:
        _require_org_member(actor, org, N_("change its notifications"))
    if org.kind != OrgKind.CSO:
        raise UsageError(
            N_("'{slug}' is {kind}: the pull digest is for CSOs, whose data is pulled"),
            fix=N_("Opt the CSO in instead."),
            params={"slug": org.slug, "kind": org.kind.upper()},
        )
    with transaction(session):
        org.pull_digest = on
        audit.add(session, action="organisation.pull_digest", principal=actor, details={"on": on})
    return org


def due_items(session: Session, ids: Sequence[int]) -> list[OutboxItem]:
    """The rows with these ids (tests and the CLI's report)."""
    return list(session.scalars(select(OutboxItem).where(OutboxItem.id.in_(list(ids)))).unique())
