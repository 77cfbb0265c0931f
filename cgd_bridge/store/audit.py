"""The audit log: every state change and every pull, and the questions a CSO asks of it.

State-changing store functions call :func:`add` inside their own transaction, so the change and
its audit row commit (or vanish) together. Pulls are recorded with :func:`record_pull` (one row
per version served, so a CSO sees exactly which of its versions were read); :func:`pulls_of`
answers "who pulled my data" and :func:`history` "what happened to this version".

Actions (``action``): ``organisation.created``, ``user.created``, ``key.created``,
``key.revoked``, ``mou.created``, ``mou.revoked``, ``submission.created``,
``version.created``, ``version.submitted``, ``version.accepted``, ``version.rejected``,
``version.published``, ``version.superseded``, ``version.replaced`` (on a version whose
observations a newer one took over, #13), ``version.withdrawn``, ``version.embargo_set``,
``data.pulled``, ``metadata.pulled``, ``file.downloaded`` (a raw file: details name it),
``official.loaded``, ``official.deleted``,
``official.made_public``, ``official.made_private``, ``metadata_draft.saved``,
``metadata_draft.deleted``, ``webhook.created``, ``webhook.revoked``, ``user.contact_set``,
``organisation.pull_digest`` (notifications, #19).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import AuditEntry, Submission, Version, utcnow

if TYPE_CHECKING:
    from cgd_bridge.store.principal import Principal

#: reads of a CSO's data: listed to the CSO (:func:`pulls_of`), kept from others' histories
PULL_ACTIONS = ("data.pulled", "metadata.pulled", "file.downloaded")


def values(
    *,
    action: str,
    principal: Principal | None,
    submission_id: int | None = None,
    version_id: int | None = None,
    dataflow: str | None = None,
    query: str | None = None,
    observations: int | None = None,
    client: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The column values of one audit row (for :func:`add`, and the server's batched inserts)."""
    return {
        "at": at or utcnow(),
        "user_id": principal.user_id if principal else None,
        "organisation_id": principal.org_id if principal else None,
        "action": action,
        "submission_id": submission_id,
        "version_id": version_id,
        "dataflow": dataflow,
        "query": query,
        "observations": observations,
        "client": (client or None) and client[:100],
        "details": details,
    }


class Served(Protocol):
    """A version a pull read from: a stored :class:`Version`, or the server's plain copy of one."""

    @property
    def id(self) -> int: ...

    @property
    def submission_id(self) -> int: ...

    @property
    def dataflow_ref(self) -> str: ...


def pull_values(
    *,
    principal: Principal | None,
    served: Sequence[tuple[Served, int]],
    query: str,
    client: str | None = None,
    action: str = "data.pulled",
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The audit rows of a pull: one per version served with how many of its observations were
    sent, or one with no version and 0 observations when nothing matched (so that failed
    fishing is visible too)."""
    common: dict[str, Any] = {"action": action, "principal": principal, "query": query, "client": client}
    at = at or utcnow()
    if not served:
        return [values(**common, observations=0, details=details, at=at)]
    return [
        values(
            **common,
            submission_id=v.submission_id,
            version_id=v.id,
            dataflow=v.dataflow_ref,
            observations=n,
            details=details,
            at=at,
        )
        for v, n in served
    ]


def add(session: Session, **kwargs: Any) -> AuditEntry:
    """Add an audit row to the session's current transaction (the caller commits); takes
    :func:`values`' keyword arguments."""
    entry = AuditEntry(**values(**kwargs))
    session.add(entry)
    return entry


def record(session: Session, **kwargs: Any) -> AuditEntry:
    """Write one audit row in its own transaction; takes :func:`add`'s keyword arguments.

    Example:
        >>> record(session, action="metadata.pulled", principal=None, version_id=3,
        ...        query="/sdmx/rest/metadata/...", client="10.0.0.7")  # doctest: +SKIP
    """
    with transaction(session):
        return add(session, **kwargs)


def record_pull(
    session: Session,
    *,
    principal: Principal | None,
    served: Sequence[tuple[Version, int]],
    query: str,
    client: str | None = None,
    action: str = "data.pulled",
    details: dict[str, Any] | None = None,
) -> list[AuditEntry]:
    """Log a pull in its own transaction: the rows of :func:`pull_values`.

    Args:
        served: ``(version, observations sent from it)`` pairs.
        query: the request's path and query string as the client sent it.
    """
    rows = pull_values(
        principal=principal, served=served, query=query, client=client, action=action, details=details
    )
    with transaction(session):
        entries = [AuditEntry(**row) for row in rows]
        session.add_all(entries)
        return entries


@dataclass(frozen=True)
class Pull:
    """One pull of a CSO's data, as the CSO sees it.

    Attributes:
        at: when (UTC).
        username, organisation: who (None for the anonymous public).
        action: ``data.pulled``, ``metadata.pulled`` or ``file.downloaded`` (a raw file).
        dataset, version: which of the CSO's datasets and which version number.
        observations: how many observations were sent.
        file: the raw file's name, for ``file.downloaded``.
        organisation_name, organisation_kind: the puller's organisation as people know it
            (``Kenya National Bureau of Statistics``, ``nso``); None for the public.
    """

    at: dt.datetime
    username: str | None
    organisation: str | None
    action: str
    dataflow: str | None
    dataset: str | None
    version: int | None
    query: str | None
    observations: int | None
    client: str | None
    file: str | None = None
    organisation_name: str | None = None
    organisation_kind: str | None = None


def pulls_of(
    session: Session, *, cso_org_id: int, since: dt.datetime | None = None, limit: int = 1000
) -> list[Pull]:
    """Who pulled the data and metadata of this CSO, newest first.

    The caller checks that the asker may see it (:func:`cgd_bridge.store.access.can_see_pulls`).
    """
    stmt = (
        select(AuditEntry, Submission.dataset, Version.number)
        .join(Submission, AuditEntry.submission_id == Submission.id)
        .outerjoin(Version, AuditEntry.version_id == Version.id)
        .where(Submission.producer_id == cso_org_id, AuditEntry.action.in_(PULL_ACTIONS))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    return [
        Pull(
            at=e.at,
            username=e.user.username if e.user else None,
            organisation=e.organisation.slug if e.organisation else None,
            action=e.action,
            dataflow=e.dataflow,
            dataset=dataset,
            version=number,
            query=e.query,
            observations=e.observations,
            client=e.client,
            file=(e.details or {}).get("filename") if e.action == "file.downloaded" else None,
            organisation_name=e.organisation.name if e.organisation else None,
            organisation_kind=e.organisation.kind if e.organisation else None,
        )
        for e, dataset, number in session.execute(stmt).unique()
    ]


def history(session: Session, *, version: Version, pulls: bool = True) -> list[AuditEntry]:
    """Everything that happened to a version (and its submission's creation), oldest first.

    Args:
        pulls: include who pulled it; only for those who may see a CSO's pulls
            (:func:`cgd_bridge.store.access.can_see_pulls`: its own people and admins).
    """
    stmt = (
        select(AuditEntry)
        .where(
            or_(
                AuditEntry.version_id == version.id,
                (AuditEntry.submission_id == version.submission_id) & AuditEntry.version_id.is_(None),
            )
        )
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    if not pulls:
        stmt = stmt.where(AuditEntry.action.not_in(PULL_ACTIONS))
    return list(session.scalars(stmt).unique())


#: details of ``version.created`` that describe what only some readers may have: the raw files'
#: names and hashes (:func:`cgd_bridge.store.access.may_read_raw`) and the hash of the stored
#: table with its internal columns (:func:`cgd_bridge.store.access.sees_internals`)
_RAW_DETAILS = ("files",)
_INTERNAL_DETAILS = ("data_sha256",)


#: what a reader who may not see another version reads in its place (#13: replacements)
UNSEEN = "a version you may not see"
#: details of ``version.replaced`` that name the replacing version
_BY_DETAILS = ("by", "by_number", "by_dataset", "by_producer")


def details_for(
    entry: AuditEntry,
    *,
    raw_files: bool,
    internals: bool,
    may_see: Callable[[int], bool] | None = None,
) -> dict[str, Any] | None:
    """An entry's details as a reader of the version may see them: without the raw files' names
    and hashes unless ``raw_files``, without the stored table's hash unless ``internals``.
    A copy; the entry is never changed.

    ``may_see(version_id)`` says whether the reader may see *another* version that the entry
    names (#13): a replacement names the replacing version (``version.replaced``: ``by``...)
    or the replaced ones (``replace`` of an acceptance or publication: ``versions``,
    ``shared``). Versions the reader may not see (embargoed, restricted) are not named, not
    even by producer or dataset: the reader reads how many observations and that it was
    :data:`UNSEEN`. None: every named version is visible.
    """
    if entry.details is None:
        return None
    hidden = (() if raw_files else _RAW_DETAILS) + (() if internals else _INTERNAL_DETAILS)
    out = {k: v for k, v in entry.details.items() if k not in hidden}
    if may_see is None:
        return out
    by = out.get("by")
    if entry.action == "version.replaced" and isinstance(by, int) and not may_see(by):
        out = {k: v for k, v in out.items() if k not in _BY_DETAILS}
        out.update(by=None, note=f"replaced by {UNSEEN}")
    chosen = out.get("replace")
    if isinstance(chosen, dict):
        seen = [int(i) for i in chosen.get("versions", []) if may_see(int(i))]
        shared = [
            sh if sh.get("version") in seen else {"version": None, "observations": sh.get("observations"),
                                                    "note": UNSEEN}
            for sh in chosen.get("shared", [])
            if isinstance(sh, dict)
        ]  # fmt: skip
        out["replace"] = {**chosen, "versions": seen, "shared": shared}
    return out
