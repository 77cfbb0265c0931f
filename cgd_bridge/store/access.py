"""The access policy, in one place: who may see which version, and whose data a pull returns.

**Seeing a version** (its record, report, metadata, coverage and data), :func:`can_see_version`:

====================  =====================================================================
who                   sees
====================  =====================================================================
admin                 every version
producer (its CSO)    every version of its submissions, in every state
NSO with an MoU       versions submitted or later (submitted, accepted, rejected, published,
in force covering     superseded) of that CSO's dataflow, *also before the embargo* (MoU
the CSO + dataflow    reviewers have pre-release access, as the issue asks)
anyone (also          published or superseded versions whose licence is open, once the
anonymous)            embargo has passed (superseded versions stay citable)
====================  =====================================================================

What a reader sees *of* a version is its published view unless :func:`sees_internals`: the
producing CSO and admins see the stored counts, source rows and small-cell values too.

A **withdrawn** version is seen by its producer and admins only: withdrawal hides it from
everyone else (its audit trail stays). An **embargo** hides data and metadata alike from
everyone but the producer, MoU reviewers and admins. A **restricted** (not open) licence limits
a published version to the producer, MoU NSOs and admins.

**Raw files** (the files a CSO uploaded: data, XLSForm, metadata YAML, mapping YAML, byte for
byte), :func:`may_read_raw`: they are the CSO's. The published forms of the metadata and the
mapping are the parsed record on the version and the SDMX StructureMaps; the uploaded bytes can
hold more (comments, contacts, every column the checks missed), so every file counts as raw.

====================  =====================================================================
who                   may download a version's raw files (and see that they exist)
====================  =====================================================================
admin, producer       always
NSO reviewer          only when an MoU in force (the clock's now: not before ``valid_from``,
                      not expired, not revoked) covering the CSO + dataflow grants the
                      ``raw_files`` term, the version is submitted or later and not
                      withdrawn, and its data is aggregate with no identifier finding
                      (:func:`may_hold_identifiers`): never microdata
anyone else           never (the files are NotFound, their names and hashes not listed)
====================  =====================================================================

**Pulling data**, :func:`readable_versions`: for each submission targeting the dataflow, its
one *published* version (publishing supersedes the previous one, so there is at most one), if
the principal can see it by the rules above. Withdrawn and superseded versions are never
pulled; withdrawing the published version leaves the submission with nothing to pull (an
older, superseded version does not come back). Of each version pulled, only the observations it
owns are served (:mod:`cgd_bridge.store.ownership`, #13: a key and period another submission's
version took over with ``replace`` is served from that version, to whoever may read it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from cgd_bridge.errors import Forbidden, Unauthorized
from cgd_bridge.i18n import N_, msg
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.store.models import Mou, OrgKind, State, Submission, Version
from cgd_bridge.store.mous import as_flowref, covers, mous_of_nso
from cgd_bridge.store.orgs import Principal

#: finding codes saying the data held (or holds) something that identifies people
IDENTIFYING = frozenset({"pii-column", "free-text-column"})
REVIEWABLE = frozenset({State.SUBMITTED, State.ACCEPTED, State.REJECTED, State.PUBLISHED, State.SUPERSEDED})
PUBLIC = frozenset({State.PUBLISHED, State.SUPERSEDED})


def is_producer(principal: Principal | None, submission: Submission) -> bool:
    """True when the principal's organisation produced the submission."""
    return principal is not None and principal.org_id == submission.producer_id


def _mou_reviewer(
    principal: Principal | None, submission: Submission, mous: Iterable[Mou], now: dt.datetime
) -> bool:
    if principal is None or principal.org_kind != OrgKind.NSO:
        return False
    s = submission
    return any(
        m.cso_id == s.producer_id and covers(m, s.agency, s.dataflow, s.dataflow_version, now) for m in mous
    )


def _visible(principal: Principal | None, version: Version, mous: Iterable[Mou], now: dt.datetime) -> bool:
    submission = version.submission
    if principal is not None and (principal.is_admin or is_producer(principal, submission)):
        return True
    if version.state == State.WITHDRAWN:
        return False
    if version.state in REVIEWABLE and _mou_reviewer(principal, submission, mous, now):
        return True
    return version.state in PUBLIC and version.is_open and not version.embargoed(now)


def nso_mous(session: Session, principal: Principal | None, now: dt.datetime) -> list[Mou]:
    """The MoUs in force for the principal's NSO (none for anyone else)."""
    if principal is None or principal.org_kind != OrgKind.NSO:
        return []
    return mous_of_nso(session, nso_id=principal.org_id, at=now)


def can_see_version(
    principal: Principal | None, version: Version, now: dt.datetime, *, session: Session | None = None
) -> bool:
    """True when the principal (None: the anonymous public) may see this version (rules above).

    ``session`` defaults to the version's own session (it looks up the NSO's MoUs).
    """
    session = session or object_session(version)
    assert session is not None, "the version must belong to a session"
    return _visible(principal, version, nso_mous(session, principal, now), now)


def saw_publication(
    principal: Principal | None, version: Version, now: dt.datetime, *, session: Session | None = None
) -> tuple[bool, bool]:
    """Whether the principal may know that this version was published (the Atom feed, #19),
    whatever became of it since (superseded, withdrawn), and whether before its embargo.

    Returns ``(may, early)``: the producer, admins and NSOs whose MoU in force covers it may,
    also before the embargo (``early``); anyone else when its licence is open and the embargo has
    passed. A version that was never published: ``(False, False)``.
    """
    if version.published_at is None:
        return False, False
    session = session or object_session(version)
    assert session is not None, "the version must belong to a session"
    submission = version.submission
    if principal is not None and (principal.is_admin or is_producer(principal, submission)):
        return True, True
    if _mou_reviewer(principal, submission, nso_mous(session, principal, now), now):
        return True, True
    return version.is_open and not version.embargoed(now), False


def is_mou_reviewer(
    session: Session, principal: Principal | None, submission: Submission, now: dt.datetime
) -> bool:
    """True when the principal is of an NSO with an MoU in force covering this submission."""
    return _mou_reviewer(principal, submission, nso_mous(session, principal, now), now)


def readable_versions(
    session: Session,
    principal: Principal | None,
    dataflow: FlowRef | str | tuple[str | None, str | None, str | None] | None,
    now: dt.datetime,
) -> list[Version]:
    """The published versions a data pull of ``dataflow`` returns to this principal.

    ``dataflow`` may leave parts open (None, ``FlowRef()`` or ``"*"`` for all dataflows;
    ``("IAEG-SDGs", "DF_SDG_GLH", None)`` for any version), as SDMX REST's ``all`` and
    ``latest`` do. Versions come ordered by submission id.
    """
    ref = as_flowref(dataflow)
    stmt = select(Version).join(Version.submission).where(Version.state == State.PUBLISHED)
    if ref.agency is not None:
        stmt = stmt.where(Submission.agency == ref.agency)
    if ref.id is not None:
        stmt = stmt.where(Submission.dataflow == ref.id)
    if ref.version is not None:
        stmt = stmt.where(Submission.dataflow_version == ref.version)
    stmt = stmt.order_by(Version.submission_id, Version.number.desc())
    mous = nso_mous(session, principal, now)
    latest: dict[int, Version] = {}
    for v in session.scalars(stmt).unique():
        latest.setdefault(v.submission_id, v)
    return [v for v in latest.values() if _visible(principal, v, mous, now)]


def pull_versions(
    session: Session,
    principal: Principal | None,
    dataflow: FlowRef | str | tuple[str, str, str],
    now: dt.datetime,
    *,
    providers: frozenset[str] | None = None,
    updated_after: dt.datetime | None = None,
) -> list[Version]:
    """The versions a data pull of one dataflow returns: :func:`readable_versions`, of the data
    providers (producing CSOs' slugs) ``providers`` only when given, published after
    ``updated_after`` when given.

    When none are readable, published versions past their embargo that the principal may not
    see mean it lacks the right; when there are none of those either, the answer is empty (the
    caller's 404): embargoed data stays invisible.

    Raises:
        Unauthorized: nobody signed in, and the data is not open.
        Forbidden: the principal's organisation has no MoU covering the data.
    """
    ref = as_flowref(dataflow)
    versions = readable_versions(session, principal, ref, now)
    if providers is not None:
        versions = [v for v in versions if v.submission.producer.slug in providers]
    readable = bool(versions)
    if updated_after is not None:
        # nothing newer than updatedAfter in data the principal reads is "no results" (404,
        # SDMX code 100), not a 401/403: it has the right, there is just nothing new (#15)
        versions = [v for v in versions if v.published_at and v.published_at > updated_after]
    if not versions and not readable and _withheld(session, ref, now, providers):
        if principal is None:
            raise Unauthorized(
                N_("the data of {ref} is not open; it needs an API key"),
                fix=N_(
                    "Send 'Authorization: Bearer <key>' with a key of an organisation that has an "
                    "MoU with the data's producer."
                ),
                params={"ref": ref},
            )
        raise Forbidden(
            N_("your organisation ({org_slug}) has no MoU covering {ref}"),
            fix=N_(
                "Ask the producing CSO for an MoU; an administrator records it with "
                "`cgd-bridge admin mou create`."
            ),
            params={"org_slug": principal.org_slug, "ref": ref},
        )
    return versions


def _withheld(
    session: Session, ref: FlowRef, now: dt.datetime, providers: frozenset[str] | None
) -> list[Version]:
    """Published versions of the dataflow past their embargo (seen by the principal or not).

    Asked only when nothing is readable: if such versions exist, the principal lacks the right
    (401/403); if none do, there is nothing (404). Embargoed data stays invisible: 404.
    """
    stmt = (
        select(Version)
        .join(Version.submission)
        .where(
            Version.state == State.PUBLISHED,
            Submission.agency == ref.agency,
            Submission.dataflow == ref.id,
            Submission.dataflow_version == ref.version,
        )
    )
    found = [v for v in session.scalars(stmt).unique() if not v.embargoed(now)]
    return [v for v in found if providers is None or v.submission.producer.slug in providers]


def visible_versions(
    session: Session, principal: Principal | None, versions: Iterable[Version], now: dt.datetime
) -> list[Version]:
    """The versions among ``versions`` the principal may see (one MoU query for all)."""
    mous = nso_mous(session, principal, now)
    return [v for v in versions if _visible(principal, v, mous, now)]


def sees_internals(principal: Principal | None, submission: Submission) -> bool:
    """True when the principal may see what a version keeps beyond its published view (#12):
    respondent counts, numerators, denominators, source rows and the small-cell values its report
    quotes. The producing CSO's people and admins only; every other reader, MoU NSOs included,
    gets the published view (:mod:`cgd_bridge.store.published`)."""
    return principal is not None and (principal.is_admin or is_producer(principal, submission))


def may_hold_identifiers(version: Version) -> bool:
    """True unless the version's stored report says its data is aggregate (one row per cell) and
    counts no identifier finding (:data:`IDENTIFYING`).

    "Microdata that held identifiers" cannot be told from the store: a CSO that deletes the
    columns a report flags uploads again, and the new version's report no longer shows them,
    while the checks may have missed others (a name column in another language, an ID in a
    notes column). So every version of microdata, or of a kind the report does not state, counts
    as holding identifiers, and so does aggregate data whose report flagged identifiers or free
    text.
    """
    report = version.report or {}
    stats = report.get("cgd:stats") or {}
    if stats.get("data_kind") != "aggregate":
        return True
    counts = report.get("cgd:counts") or []
    return any(c.get("code") in IDENTIFYING and c.get("count", 0) for c in counts)


def may_read_raw(
    principal: Principal | None, version: Version, now: dt.datetime, *, session: Session | None = None
) -> bool:
    """True when the principal may download the raw files of this version (rules above) and see
    that they exist (names, sizes, hashes, links). The one rule for every route that serves them.

    ``session`` defaults to the version's own session (it looks up the NSO's MoUs).
    """
    if principal is None:
        return False
    submission = version.submission
    if principal.is_admin or is_producer(principal, submission):
        return True
    if principal.org_kind != OrgKind.NSO or version.state not in REVIEWABLE:
        return False
    session = session or object_session(version)
    assert session is not None, "the version must belong to a session"
    granting = [m for m in nso_mous(session, principal, now) if m.raw_files]
    return (
        bool(granting)
        and _mou_reviewer(principal, submission, granting, now)
        and not may_hold_identifiers(version)
    )


def can_see_pulls(principal: Principal | None, org_id: int) -> bool:
    """True when the principal may list who pulled this organisation's data (its own people, admins)."""
    return principal is not None and (principal.is_admin or principal.org_id == org_id)


def can_see_people(principal: Principal | None, producer_org_id: int) -> bool:
    """True when the principal may see who (by username) acted on a CSO's versions: the CSO's
    own people, NSO staff (the reviewers) and admins; the public and other CSOs see only the
    organisations (#14)."""
    return principal is not None and (
        principal.is_admin or principal.org_id == producer_org_id or principal.org_kind == OrgKind.NSO
    )


def require_principal(principal: Principal | None, what: str) -> Principal:
    """The principal, or Unauthorized when nobody is signed in."""
    if principal is None:
        raise Unauthorized(
            N_("you must sign in to {what}"),
            fix=N_("Send your API key (Authorization: Bearer cgdb_...)."),
            params={"what": msg(what)},
        )
    return principal


def require_role(principal: Principal | None, roles: Iterable[str], what: str) -> Principal:
    """The principal when its role is one of ``roles`` (admins always pass); else Forbidden."""
    p = require_principal(principal, what)
    allowed = set(roles)
    if p.is_admin or p.role in allowed:
        return p
    names = " or ".join(f"a {r}" for r in sorted(allowed)) + " or an admin"
    raise Forbidden(
        N_("only {names} may {what}; you are a {role}"),
        fix=N_("Ask someone with that role."),
        params={"names": names, "what": msg(what), "role": p.role},
    )
