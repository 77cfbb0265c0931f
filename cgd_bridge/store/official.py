"""Official series: reference data an NSO loads for a dataflow, to be drawn beside the CGD series.

One function loads them for every entry point (the web page, ``POST /api/official`` and
``cgd-bridge admin official load``): :func:`load_official_file` checks the right to load, has
the file read and checked by the reader its caller passes (an :class:`OfficialReader`; they all
pass :func:`cgd_bridge.sdmx.read.data.read_official`: the store parses no SDMX), and
:func:`load_official` stores the observations (one zstd Parquet blob), the raw file (with its
SHA-256) and an ``official.loaded`` audit row in one transaction.

Who may do what:

=========================  ==================================================================
load                       a reviewer (or admin user) of that NSO; a platform admin; the local
                           admin CLI (``principal=None, local=True``)
see (list, chart, file)    the NSO's own people and admins; everyone once ``is_public``
delete, make (un)public    the NSO's reviewers and admins; platform admins; the local CLI
=========================  ==================================================================

Unpublished official data may be confidential: nobody else learns that it exists (a series
one may not see is "not found").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from cgd_bridge.errors import Forbidden, NotFound, UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.store import audit
from cgd_bridge.store.data import CACHE, from_parquet, to_parquet
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import OfficialSeries, OrgKind, Role, utcnow
from cgd_bridge.store.orgs import Principal, get_organisation

MAX_LABEL = 300


class OfficialDataflow(Protocol):
    """The dataflow an official file was checked against (its DSD's dimension ids in key order)."""

    @property
    def agency(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def dimensions(self) -> Sequence[str]: ...


class OfficialRead(Protocol):
    """An official file read and checked (:class:`cgd_bridge.sdmx.read.data.OfficialData`)."""

    @property
    def table(self) -> pa.Table: ...
    @property
    def format(self) -> str: ...  # sdmx-csv-1.0, sdmx-csv-2.0 or sdmx-ml-2.1
    @property
    def dsd(self) -> OfficialDataflow: ...


class OfficialReader(Protocol):
    """Reads one official data file for ``dataflow`` (``AGENCY:ID(VERSION)``, or ``AGENCY:ID``
    for the latest version) and checks it against the dataflow's DSD, raising when it does not
    fit; e.g. ``functools.partial(read_official, structures=structures)``."""

    def __call__(self, content: bytes, filename: str, *, dataflow: str) -> OfficialRead: ...


def can_see(principal: Principal | None, series: OfficialSeries, *, local: bool = False) -> bool:
    """True when the principal (None: the public) may see this official series (rules above)."""
    if series.is_public or local:
        return True
    return principal is not None and (principal.is_admin or principal.org_id == series.nso_id)


def may_manage(principal: Principal | None, nso_id: int, *, local: bool = False) -> bool:
    """True when the principal may load, delete or publish official series of the NSO ``nso_id``.

    ``local`` is the local admin CLI (whoever runs it can open the database anyway); the
    anonymous public (``None``) never may.
    """
    if local:
        return True
    if principal is None:
        return False
    if principal.is_admin:
        return True
    return (
        principal.org_kind == OrgKind.NSO
        and principal.org_id == nso_id
        and principal.role in (Role.REVIEWER, Role.ADMIN)
    )


def _forbidden(principal: Principal | None, slug: str) -> Forbidden:
    who = f"{principal.username} ({principal.role} of {principal.org_slug})" if principal else "you"
    return Forbidden(
        N_(
            "only reviewers of the NSO '{slug}' and administrators may load or change its "
            "official series; {who} may not"
        ),
        fix=N_("Sign in with a reviewer account of that NSO."),
        params={"slug": slug, "who": who},
    )


def load_official(
    session: Session,
    *,
    principal: Principal | None,
    nso: str,
    dataflow: tuple[str, str, str],
    label: str,
    table: pa.Table,
    data_format: str,
    filename: str,
    content: bytes,
    media_type: str = "application/octet-stream",
    note: str | None = None,
    public: bool = False,
    dimensions: Sequence[str] = (),
    local: bool = False,
) -> OfficialSeries:
    """Store an official series of the NSO ``nso`` (slug) for ``dataflow`` (agency, id, version).

    ``table`` is the checked observations (an :class:`OfficialReader`'s); ``content`` the file as uploaded.

    Raises:
        Forbidden: the principal may not load for this NSO (see the module docstring).
        UsageError: ``nso`` is not an NSO, the label is empty or too long, or no observations.
    """
    org = get_organisation(session, slug=nso)
    if org.kind != OrgKind.NSO:
        raise UsageError(
            N_("'{nso}' is a {kind}, not an NSO: only NSOs load official series"),
            fix=N_("Give the slug of the NSO whose data it is (cgd-bridge admin org list)."),
            field="nso",
            params={"nso": nso, "kind": org.kind},
        )
    if not may_manage(principal, org.id, local=local):
        raise _forbidden(principal, nso)
    label = " ".join(label.split())
    if not label:
        raise UsageError(
            N_("the official series needs a label naming its source"),
            fix=N_("Give a short source label, e.g. 'KNBS KDHS 2022'."),
            field="label",
        )
    if len(label) > MAX_LABEL:
        raise UsageError(
            N_("the label is {length} characters long (at most {most})"),
            fix=N_("Shorten it; put the details in the source note."),
            field="label",
            params={"length": len(label), "most": MAX_LABEL},
        )
    if table.num_rows == 0:
        raise UsageError(
            N_("the file has no observations"), fix=N_("Load a file with observations."), file=filename
        )
    blob = to_parquet(table)
    periods = sorted(str(p) for p in set(table["TIME_PERIOD"].to_pylist()))
    agency, ident, version = dataflow
    with transaction(session):
        series = OfficialSeries(
            nso_id=org.id,
            agency=agency,
            dataflow=ident,
            dataflow_version=version,
            label=label,
            note=(note or "").strip() or None,
            is_public=public,
            loaded_by_id=principal.user_id if principal else None,
            loaded_at=utcnow(),
            format=data_format,
            observations=table.num_rows,
            dimensions=list(dimensions),
            time_min=periods[0] if periods else None,
            time_max=periods[-1] if periods else None,
            filename=filename,
            media_type=media_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            data_sha256=hashlib.sha256(blob).hexdigest(),
            parquet=blob,
        )
        session.add(series)
        session.flush()
        audit.add(
            session,
            action="official.loaded",
            principal=principal,
            dataflow=series.dataflow_ref,
            observations=series.observations,
            details={
                "official_series": series.id,
                "nso": nso,
                "label": label,
                "file": filename,
                "sha256": series.sha256,
                "public": public,
            },
        )
    return series


def load_official_file(
    session: Session,
    *,
    principal: Principal | None,
    nso: str,
    dataflow: str,
    label: str,
    filename: str,
    content: bytes,
    read: OfficialReader,
    note: str | None = None,
    public: bool = False,
    local: bool = False,
) -> OfficialSeries:
    """Read, check and store one SDMX data file as an official series (every entry point's call).

    The right to load is checked before the file is read; ``read`` checks the file against the
    dataflow's DSD (:func:`~cgd_bridge.sdmx.read.data.read_official`) before anything is
    stored. ``dataflow`` is ``AGENCY:ID(VERSION)`` (or ``AGENCY:ID`` for the latest version).
    The file is stored (and served back) as ``text/csv`` or ``application/xml``, as read, never
    as a media type a client claims.

    Raises:
        Forbidden, UsageError: as :func:`load_official`.
        what ``read`` raises (nothing stored): for ``read_official``, OfficialDataError or
        InputError when the file does not fit the dataflow, StructureError when the dataflow
        is not known here.
    """
    org = get_organisation(session, slug=nso)
    if org.kind == OrgKind.NSO and not may_manage(principal, org.id, local=local):
        raise _forbidden(principal, nso)
    found = read(content, filename, dataflow=dataflow)
    info = found.dsd
    return load_official(
        session,
        principal=principal,
        nso=nso,
        dataflow=(info.agency, info.id, info.version),
        label=label,
        table=found.table,
        data_format=found.format,
        filename=filename,
        content=content,
        # what the file is, not what the client said (it is served back as this type)
        media_type="application/xml" if found.format.startswith("sdmx-ml") else "text/csv",
        note=note,
        public=public,
        dimensions=info.dimensions,
        local=local,
    )


def list_official(
    session: Session,
    *,
    principal: Principal | None,
    dataflow: tuple[str, str, str] | None = None,
    nso: str | None = None,
    local: bool = False,
) -> list[OfficialSeries]:
    """The official series the principal may see (of one dataflow, of one NSO), newest first."""
    stmt = select(OfficialSeries).order_by(OfficialSeries.loaded_at.desc(), OfficialSeries.id.desc())
    if dataflow is not None:
        agency, ident, version = dataflow
        stmt = stmt.where(
            OfficialSeries.agency == agency,
            OfficialSeries.dataflow == ident,
            OfficialSeries.dataflow_version == version,
        )
    if nso is not None:
        stmt = stmt.where(OfficialSeries.nso_id == get_organisation(session, slug=nso).id)
    return [s for s in session.scalars(stmt).unique() if can_see(principal, s, local=local)]


def get_official(
    session: Session, *, principal: Principal | None, series_id: int, local: bool = False
) -> OfficialSeries:
    """One official series the principal may see.

    Raises:
        NotFound: there is none with this id, or the principal may not see it.
    """
    series = session.get(OfficialSeries, series_id)
    if series is None or not can_see(principal, series, local=local):
        raise NotFound(
            N_("there is no official series {series_id} that you may see"),
            fix=N_("List the official series of the dataflow to find its id."),
            params={"series_id": series_id},
        )
    return series


def read_content(session: Session, series: OfficialSeries) -> bytes:
    """The raw file of a series as uploaded."""
    return session.scalar(select(OfficialSeries.content).where(OfficialSeries.id == series.id)) or b""


def load_table(session: Session, series: OfficialSeries) -> pa.Table:
    """The observations of an official series (cached by the blob's SHA-256, like version data)."""
    key = f"official:{series.data_sha256}"
    table = CACHE.get(key)
    if table is None:
        blob = session.scalar(select(OfficialSeries.parquet).where(OfficialSeries.id == series.id))
        table = from_parquet(blob or b"")
        CACHE.put(key, table)
    return table


def _managed(session: Session, principal: Principal | None, series_id: int, local: bool) -> OfficialSeries:
    series = get_official(session, principal=principal, series_id=series_id, local=local)
    if not may_manage(principal, series.nso_id, local=local):
        raise _forbidden(principal, series.nso.slug)
    return series


def delete_official(
    session: Session, *, principal: Principal | None, series_id: int, local: bool = False
) -> OfficialSeries:
    """Delete an official series (audited as ``official.deleted``); returns the deleted row."""
    with transaction(session):
        series = _managed(session, principal, series_id, local)
        audit.add(
            session,
            action="official.deleted",
            principal=principal,
            dataflow=series.dataflow_ref,
            observations=series.observations,
            details={
                "official_series": series.id,
                "nso": series.nso.slug,
                "label": series.label,
                "sha256": series.sha256,
            },
        )
        session.delete(series)
    return series


def set_public(
    session: Session, *, principal: Principal | None, series_id: int, public: bool, local: bool = False
) -> OfficialSeries:
    """Make an official series public (everyone sees it) or private again (audited)."""
    with transaction(session):
        series = _managed(session, principal, series_id, local)
        series.is_public = public
        audit.add(
            session,
            action="official.made_public" if public else "official.made_private",
            principal=principal,
            dataflow=series.dataflow_ref,
            details={"official_series": series.id, "nso": series.nso.slug, "label": series.label},
        )
    return series
