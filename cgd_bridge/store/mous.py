"""Memoranda of understanding: which NSO may read which of a CSO's dataflows, until when.

An MoU names a CSO, an NSO, dataflow references and use conditions, says whether the NSO may
download the files the CSO uploaded (``raw_files``, an explicit term, off unless given), and is
valid from ``valid_from`` to ``valid_until`` unless revoked. A dataflow reference is written
``AGENCY:ID(VERSION)``, ``AGENCY:ID`` (any version), ``AGENCY,ID,VERSION`` (the SDMX REST
form) or ``*`` (every dataflow of the CSO). An MoU *covers* a dataflow of its CSO at a time when
it is valid then, not revoked by then, and one of its references matches.

Example:
    >>> FlowRef.parse("IAEG-SDGs:DF_SDG_GLH(1.5)").matches("IAEG-SDGs", "DF_SDG_GLH", "1.5")
    True
    >>> FlowRef.parse("IAEG-SDGs:DF_SDG_GLH").matches("IAEG-SDGs", "DF_SDG_GLH", "1.6")
    True
    >>> str(FlowRef.parse("CGD-BRIDGE,DF_CGD_KE,1.0"))
    'CGD-BRIDGE:DF_CGD_KE(1.0)'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cgd_bridge.errors import NotFound, UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.store import audit
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import Mou, OrgKind, a_kind, utcnow
from cgd_bridge.store.orgs import Principal, _require_admin, get_organisation


def as_flowref(ref: FlowRef | str | tuple[str | None, str | None, str | None] | None) -> FlowRef:
    """A :class:`FlowRef` from a reference, a string or an ``(agency, id, version)`` tuple."""
    if ref is None:
        return FlowRef()
    if isinstance(ref, FlowRef):
        return ref
    if isinstance(ref, tuple):
        return FlowRef(*ref)
    return FlowRef.parse(ref)


def create_mou(
    session: Session,
    *,
    cso: str,
    nso: str,
    dataflows: Sequence[str],
    valid_until: dt.datetime,
    valid_from: dt.datetime | None = None,
    use_conditions: Iterable[str] = (),
    raw_files: bool = False,
    actor: Principal | None = None,
) -> Mou:
    """Record an MoU between the CSO and NSO with these slugs.

    ``raw_files`` is the MoU's explicit term letting the NSO download the files the CSO uploaded
    (never those of microdata: :func:`cgd_bridge.store.access.may_read_raw`); without it the NSO
    reads what is published and the parsed report and metadata only.

    Example:
        >>> create_mou(session, cso="sauti", nso="knbs", dataflows=["CGD-BRIDGE:DF_CGD_KE"],
        ...            valid_until=dt.datetime(2027, 12, 31, tzinfo=dt.UTC),
        ...            use_conditions=["statistical_purposes_only"])  # doctest: +SKIP

    Raises:
        NotFound: an organisation does not exist. UsageError: the organisations are not a CSO and
            an NSO, no dataflow is given, a reference is malformed or the dates are backwards.
    """
    _require_admin(actor, N_("create MoUs"))
    cso_org, nso_org = get_organisation(session, slug=cso), get_organisation(session, slug=nso)
    for org, kind in ((cso_org, OrgKind.CSO), (nso_org, OrgKind.NSO)):
        if org.kind != kind:
            raise UsageError(
                N_("'{slug}' is {kind}, not {wanted}"),
                fix=N_("An MoU is between a CSO (--cso) and an NSO (--nso)."),
                params={"slug": org.slug, "kind": a_kind(org.kind), "wanted": a_kind(kind)},
            )
    if not dataflows:
        raise UsageError(
            N_("the MoU names no dataflow"), fix=N_("Give --dataflow AGENCY:ID(VERSION), or --dataflow '*'.")
        )
    refs = sorted({str(FlowRef.parse(d)) for d in dataflows})
    start = valid_from or utcnow()
    for name, when in (("valid_from", start), ("valid_until", valid_until)):
        if when.tzinfo is None:
            raise UsageError(N_("{name} has no time zone"), fix=N_("Give UTC times."), params={"name": name})
    if valid_until <= start:
        raise UsageError(
            N_("the MoU would end ({valid_until}) before it starts ({start})"),
            fix=N_("Give a later --until date."),
            params={"valid_until": format(valid_until, "%Y-%m-%d"), "start": format(start, "%Y-%m-%d")},
        )
    conditions = [c.strip() for c in use_conditions if c.strip()]
    with transaction(session):
        mou = Mou(
            cso_id=cso_org.id,
            nso_id=nso_org.id,
            dataflows=refs,
            use_conditions=conditions,
            valid_from=start,
            valid_until=valid_until,
            raw_files=raw_files,
            created_at=utcnow(),
        )
        session.add(mou)
        session.flush()
        audit.add(
            session,
            action="mou.created",
            principal=actor,
            details={
                "mou": mou.id,
                "cso": cso,
                "nso": nso,
                "dataflows": refs,
                "until": valid_until.isoformat(),
                "raw_files": raw_files,
            },
        )
    return mou


def list_mous(session: Session, *, organisation: str | None = None) -> list[Mou]:
    """MoUs, newest first; only those the organisation with slug ``organisation`` is party to."""
    stmt = select(Mou).order_by(Mou.created_at.desc(), Mou.id.desc())
    if organisation is not None:
        org = get_organisation(session, slug=organisation)
        stmt = stmt.where(or_(Mou.cso_id == org.id, Mou.nso_id == org.id))
    return list(session.scalars(stmt).unique())


def mous_for(session: Session, principal: Principal) -> list[Mou]:
    """The MoUs the principal's organisation is party to (as CSO or as NSO; every MoU for
    admins), newest first: what each side sees of its agreements, terms included."""
    if principal.is_admin:
        return list_mous(session)
    stmt = (
        select(Mou)
        .where(or_(Mou.cso_id == principal.org_id, Mou.nso_id == principal.org_id))
        .order_by(Mou.created_at.desc(), Mou.id.desc())
    )
    return list(session.scalars(stmt).unique())


def raw_files_words(mou: Mou, principal: Principal) -> str:
    """The MoU's raw-files term in plain words, from the side of the principal's organisation.

    Example:
        >>> raw_files_words(mou, cso_person)  # doctest: +SKIP
        'knbs may download your uploaded files: no'
    """
    answer = "yes (never those of microdata)" if mou.raw_files else "no"
    if principal.org_id == mou.cso_id:
        return f"{mou.nso.slug} may download your uploaded files: {answer}"
    if principal.org_id == mou.nso_id:
        return f"Your office may download {mou.cso.slug}'s uploaded files: {answer}"
    return f"{mou.nso.slug} may download {mou.cso.slug}'s uploaded files: {answer}"


def revoke_mou(session: Session, *, mou_id: int, actor: Principal | None = None) -> Mou:
    """End an MoU now (idempotent). Raises NotFound."""
    _require_admin(actor, N_("revoke MoUs"))
    mou = session.get(Mou, mou_id)
    if mou is None:
        raise NotFound(
            N_("there is no MoU {mou_id}"),
            fix=N_("See `cgd-bridge admin mou list`."),
            params={"mou_id": mou_id},
        )
    if mou.revoked_at is None:
        with transaction(session):
            mou.revoked_at = utcnow()
            audit.add(session, action="mou.revoked", principal=actor, details={"mou": mou_id})
    return mou


def is_valid(mou: Mou, at: dt.datetime) -> bool:
    """True when the MoU is in force at ``at``."""
    return mou.valid_from <= at < mou.valid_until and (mou.revoked_at is None or at < mou.revoked_at)


def covers(mou: Mou, agency: str, ident: str, version: str, at: dt.datetime) -> bool:
    """True when the MoU is in force at ``at`` and includes the dataflow."""
    return is_valid(mou, at) and any(FlowRef.parse(r).matches(agency, ident, version) for r in mou.dataflows)


def mous_of_nso(session: Session, *, nso_id: int, at: dt.datetime) -> list[Mou]:
    """The MoUs of an NSO in force at ``at`` (one query; check dataflows with :func:`covers`)."""
    stmt = select(Mou).where(
        Mou.nso_id == nso_id,
        Mou.valid_from <= at,
        Mou.valid_until > at,
        or_(Mou.revoked_at.is_(None), Mou.revoked_at > at),
    )
    return list(session.scalars(stmt).unique())


def mou_covers(
    session: Session,
    *,
    nso_id: int,
    cso_id: int,
    dataflow: FlowRef | str | tuple[str, str, str],
    at: dt.datetime,
) -> bool:
    """True when an MoU in force at ``at`` lets the NSO read this dataflow of the CSO.

    ``dataflow`` must name one dataflow (agency, id and version).
    """
    ref = as_flowref(dataflow)
    if ref.agency is None or ref.id is None or ref.version is None:
        raise UsageError(
            N_("'{ref}' does not name one dataflow"), fix=N_("Give AGENCY:ID(VERSION)."), params={"ref": ref}
        )
    return any(
        m.cso_id == cso_id and covers(m, ref.agency, ref.id, ref.version, at)
        for m in mous_of_nso(session, nso_id=nso_id, at=at)
    )
