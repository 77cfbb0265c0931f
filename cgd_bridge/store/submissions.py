"""Submissions, their immutable numbered versions, the review workflow, and lineage.

**Workflow.** A version is created as ``draft`` (or straight away ``submitted``), and moves::

    draft ──submit──> submitted ──accept──> accepted ──publish──> published
                         └──reject──> rejected
    any state but withdrawn ──withdraw──> withdrawn
    draft | submitted | accepted ──(a newer version is submitted)──> superseded
    published ──(a newer version is published)──> superseded

Who may do what (admins may do everything):

- *create, submit, withdraw, set the embargo*: a ``submitter`` of the producing CSO;
- *accept, reject (with a comment), publish*: a ``reviewer`` of an NSO with an MoU in force
  covering the CSO and the dataflow. Publication is the NSO's act (the reviewer who accepted, or
  a colleague), because it releases the data under the MoU's terms; the CSO keeps control by
  the embargo, the licence and withdrawal.

A new version of a submission needs a revision note (``revision_note``, else the metadata's
``revision.note``). Superseding is automatic: submitting version n supersedes the earlier
versions still in review (draft, submitted, accepted), so reviewers never decide on stale data;
publishing version n supersedes the previously published one. Rejected versions stay rejected
(the CSO answers with a new version).

**One owner per observation** (#13): accepting or publishing a version that holds series keys
and periods another submission's published version serves (:func:`overlap`) is refused
(:class:`~cgd_bridge.errors.Overlapping`) unless the reviewer chooses ``replace``; the
published view then serves those keys from this version (:mod:`cgd_bridge.store.ownership`).

**Transactions.** Every function that changes state commits one transaction with its audit
rows and its notifications (the outbox, :mod:`cgd_bridge.store.outbox`); :func:`create_version`
stores the submission (on first use), the version, the raw files
and the Parquet observations in one transaction, so an exception or a killed process leaves no
partial version. A transition is a conditional ``UPDATE versions SET state = :to WHERE id = :id
AND state = :from``: of two reviewers accepting at once, exactly one updates a row, and the
other gets :class:`~cgd_bridge.errors.Conflict` (PostgreSQL blocks the second UPDATE on the row
lock and re-checks the condition after the first commits; SQLite serialises writers).

**Illegal transitions** raise :class:`~cgd_bridge.errors.Conflict` naming the state and the
states it may go to; missing rights raise :class:`~cgd_bridge.errors.Forbidden`; versions the
principal may not see raise :class:`~cgd_bridge.errors.NotFound` (their existence is not
revealed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from cgd_bridge import safeyaml
from cgd_bridge.errors import Conflict, Forbidden, NotFound, Overlapping, UsageError
from cgd_bridge.i18n import N_, msg, nmsg
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.store import access, audit, outbox, ownership, published
from cgd_bridge.store import data as store_data
from cgd_bridge.store.db import lock, transaction
from cgd_bridge.store.models import (
    AuditEntry,
    FileRole,
    OrgKind,
    Role,
    State,
    StoredFile,
    Submission,
    Version,
    a_kind,
    utcnow,
)
from cgd_bridge.store.mous import as_flowref
from cgd_bridge.store.orgs import Principal

if TYPE_CHECKING:  # the pipeline's data types, never imported at run time (store and pipeline are peers)
    from cgd_bridge.findings import Report
    from cgd_bridge.mapping.apply import Harmonised
    from cgd_bridge.pipeline import Harmonisation


def no_version(version_id: int) -> NotFound:
    """The answer for a version that does not exist or that the person may not see (the same, so
    that nobody learns which versions exist), in the catalogue's words."""
    return NotFound(
        N_("there is no version {id}"),
        fix=N_("Check the version id in the list of submissions."),
        params={"id": version_id},
    )


OPEN_LICENCES = frozenset({"CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODbL-1.0", "PDDL-1.0", "ODC-By-1.0"})
NEXT: dict[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.SUBMITTED, State.WITHDRAWN, State.SUPERSEDED}),
    State.SUBMITTED: frozenset({State.ACCEPTED, State.REJECTED, State.WITHDRAWN, State.SUPERSEDED}),
    State.ACCEPTED: frozenset({State.PUBLISHED, State.WITHDRAWN, State.SUPERSEDED}),
    State.REJECTED: frozenset({State.WITHDRAWN}),
    State.PUBLISHED: frozenset({State.WITHDRAWN, State.SUPERSEDED}),
    State.SUPERSEDED: frozenset({State.WITHDRAWN}),
    State.WITHDRAWN: frozenset(),
}
ACTIONS = {
    State.SUBMITTED: "submit",
    State.ACCEPTED: "accept",
    State.REJECTED: "reject",
    State.PUBLISHED: "publish",
    State.WITHDRAWN: "withdraw",
}
PENDING = (State.DRAFT, State.SUBMITTED, State.ACCEPTED)
KEY_COLUMNS = ("TIME_PERIOD", "OBS_VALUE")


@dataclass(frozen=True)
class RawFile:
    """A raw input as uploaded; stored byte for byte with its SHA-256.

    Attributes:
        role: ``data``, ``metadata``, ``mapping`` or ``form``.
        filename: as the CSO named it, e.g. ``scorecard-2024.csv``.
        content: the bytes.
        media_type: e.g. ``text/csv``.
    """

    role: str
    filename: str
    content: bytes
    media_type: str = "application/octet-stream"

    @property
    def sha256(self) -> str:
        """The content's SHA-256, hex."""
        return hashlib.sha256(self.content).hexdigest()


def coverage_of(harmonised: Harmonised) -> dict[str, Any]:
    """The mapping coverage of a :class:`~cgd_bridge.mapping.apply.Harmonised` (JSON-ready)."""
    return {
        "rows_in": harmonised.rows_in,
        "observations": harmonised.table.num_rows,
        "complete": harmonised.complete,
        "unmapped": [
            {
                "component": u.component,
                "column": u.column,
                "value": u.value,
                "count": u.count,
                "rows": u.rows,
                "suggestions": u.suggestions,
            }
            for u in harmonised.unmapped
        ],
        "dropped": [
            {"reason": d.reason, "column": d.column, "count": d.count, "rows": d.rows}
            for d in harmonised.dropped
        ],
    }


# ---------------------------------------------------------------- creating versions


@dataclass(frozen=True)
class VersionContent:
    """What a version stores of a harmonised dataset (besides its raw files).

    :meth:`of` takes it from a :class:`~cgd_bridge.pipeline.Harmonisation`, as every caller
    of :func:`create_version` in the server does; tests build it to store odd tables.

    Attributes:
        dataflow: the target dataflow, ``AGENCY:ID(VERSION)`` or a tuple.
        report: the pipeline's validation report (stored as JSON, with the DSAT score).
        table: the harmonised (conformed) observations; every column is kept.
        metadata: the quality metadata as a dict (dates may be date/datetime objects).
        mapping_text: the mapping file's text; its ``version`` is the mapping version.
        dimensions: the dimension ids in key order (without TIME_PERIOD).
        attributes: the attribute ids (None: every other column but TIME_PERIOD, OBS_VALUE
            and the SOURCE_* columns).
        coverage: the mapping coverage (see :func:`coverage_of`).
    """

    dataflow: FlowRef | str | tuple[str, str, str]
    report: Report
    table: pa.Table
    metadata: Mapping[str, Any]
    mapping_text: str
    dimensions: Sequence[str]
    attributes: Sequence[str] | None = None
    coverage: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, harmonisation: Harmonisation) -> VersionContent:
        """The content of a harmonisation that validation passed (``harmonised`` and ``target`` set).

        Raises:
            UsageError: the harmonisation has nothing to store (validation found errors).
        """
        h, target = harmonisation.harmonised, harmonisation.target
        if h is None or target is None:
            raise UsageError(
                N_("validation found {error_count} error(s): there is nothing to store"),
                fix=N_("Fix what the report lists and upload again."),
                params={"error_count": harmonisation.report.error_count},
            )
        return cls(
            dataflow=harmonisation.dataflow or "",
            report=harmonisation.report,
            table=h.table,
            metadata=harmonisation.metadata.model.model_dump(mode="json", exclude_none=True, by_alias=True),
            mapping_text=harmonisation.mapping_text,
            dimensions=list(target.dimensions),
            attributes=list(target.attributes),
            coverage=coverage_of(h),
        )


def create_version(
    session: Session,
    content: Harmonisation | VersionContent,
    *,
    principal: Principal,
    files: Sequence[RawFile],
    dataset: str | None = None,
    revision_note: str | None = None,
    submit: bool = False,
    embargo_until: dt.datetime | None = None,
    is_open: bool | None = None,
    mapping_version: str | None = None,
    now: dt.datetime | None = None,
) -> Version:
    """Store a new version of the principal's organisation's dataset, all in one transaction.

    The submission (producer, dataset, dataflow) is created on first use; versions are numbered
    1, 2, ... per submission.

    Args:
        content: the harmonised dataset: a :class:`~cgd_bridge.pipeline.Harmonisation` that
            validation passed, or its :class:`VersionContent`.
        principal: a submitter (or admin) of the producing CSO.
        files: the raw inputs (data, metadata, mapping, form).
        dataset: the dataset slug (default: the metadata's ``dataset.id``).
        revision_note: why this version exists; required from version 2 on (default: the
            metadata's ``revision.note``).
        submit: create it ``submitted`` rather than ``draft``.
        embargo_until: default the metadata's ``release.embargo_until``.
        is_open: default True for open licences (CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0, ODbL-1.0).
        mapping_version: default the mapping text's ``version``.
        now: when (default: the system clock).

    Raises:
        Forbidden: the principal is not a submitter or admin of a CSO. UsageError: nothing to
            store (validation errors), missing dataset id, dataflow, columns or revision note.
            Conflict: another version was created at the same moment (try again).
    """
    now = now or utcnow()
    _require_submitter(principal, N_("submit data"))
    c = content if isinstance(content, VersionContent) else VersionContent.of(content)
    report, harmonised_table, mapping_text = c.report, c.table, c.mapping_text
    flow = _one_flow(c.dataflow)
    md = _json_safe(dict(c.metadata))
    slug = dataset or _get(md, "dataset", "id")
    if not slug:
        raise UsageError(
            N_("the quality metadata has no dataset id"),
            field="dataset.id",
            fix=N_("Give the dataset an id in the quality metadata (dataset, then id: your-dataset-slug)."),
        )
    dims = list(c.dimensions)
    _check_columns(harmonised_table, dims)
    attrs = list(c.attributes) if c.attributes is not None else _attribute_columns(harmonised_table, dims)
    for f in files:
        if f.role not in {r.value for r in FileRole}:
            raise UsageError(
                N_("'{role}' is not a file role"),
                fix=N_("Use data, metadata, mapping or form."),
                params={"role": f.role},
            )
    note = (revision_note or _get(md, "revision", "note") or "").strip() or None
    # the work that needs no database before the transaction: on SQLite its first INSERT takes
    # the one write lock, which every other writer then waits for (#14, benchmarks/load.py)
    described = {
        "report": _json_safe(report.to_dict()),
        "coverage": _json_safe(c.coverage),
        **_describe_metadata(md, embargo_until, is_open),
        **_describe_report(report),
        **_describe_table(harmonised_table, dims),
        "mapping_version": mapping_version or _mapping_version(mapping_text),
    }
    row = store_data.version_data(harmonised_table)  # the Parquet blob and its hash
    try:
        with transaction(session):
            sub = _submission(session, principal, str(slug), flow, now)
            number = _next_number(session, sub, note, explicit=bool(revision_note and revision_note.strip()))
            v = Version(
                submission_id=sub.id,
                number=number,
                state=State.DRAFT,
                revision_note=note,
                created_by_id=principal.user_id,
                created_at=now,
                mapping_text=mapping_text,
                metadata_json=md,
                dimensions=dims,
                attributes=attrs,
                **described,
            )
            session.add(v)
            session.flush()
            for f in files:
                session.add(
                    StoredFile(
                        version_id=v.id,
                        role=f.role,
                        filename=f.filename,
                        media_type=f.media_type,
                        size=len(f.content),
                        sha256=f.sha256,
                        content=f.content,
                    )
                )
            session.flush()
            row.version_id = v.id
            session.add(row)
            audit.add(
                session,
                action="version.created",
                at=now,
                principal=principal,
                submission_id=sub.id,
                version_id=v.id,
                dataflow=str(flow),
                observations=v.observations,
                details={
                    "number": number,
                    "files": {f.filename: f.sha256 for f in files},
                    "data_sha256": row.sha256,
                },
            )
            if submit:
                _submit_in_tx(session, v, principal, now)
    except IntegrityError:
        raise Conflict(
            N_("another version of '{slug}' was stored at the same moment"),
            fix=N_("Send the submission again; it will get the next version number."),
            params={"slug": slug},
        ) from None
    session.refresh(v)
    return v


def _require_submitter(principal: Principal, what: str) -> None:
    access.require_role(principal, {Role.SUBMITTER}, what)
    if principal.org_kind != OrgKind.CSO:
        raise Forbidden(
            N_("only a civil-society organisation (CSO) may {what}; '{org_slug}' is {kind}"),
            fix=N_("Sign in with a key of the CSO that produced the data."),
            params={"what": msg(what), "org_slug": principal.org_slug, "kind": a_kind(principal.org_kind)},
        )


def _one_flow(dataflow: FlowRef | str | tuple[str, str, str]) -> FlowRef:
    flow = as_flowref(dataflow)
    if flow.agency is None or flow.id is None or flow.version is None:
        raise UsageError(
            N_("'{flow}' does not name one dataflow"),
            fix=N_(
                "Name the target dataflow in the mapping as AGENCY:ID(VERSION), e.g. "
                "IAEG-SDGs:DF_SDG_GLH(1.5)."
            ),
            params={"flow": flow},
        )
    return flow


def _check_columns(table: pa.Table, dims: Sequence[str]) -> None:
    missing = [c for c in (*dims, *KEY_COLUMNS) if c not in table.column_names]
    if missing:
        raise UsageError(
            N_("the harmonised table has no column {missing}"),
            fix=N_("Give the table the mapping produced (columns: {columns})."),
            params={"missing": ", ".join(missing), "columns": ", ".join(table.column_names)},
        )


def _attribute_columns(table: pa.Table, dims: Sequence[str]) -> list[str]:
    skip = {*dims, *KEY_COLUMNS}
    return [c for c in table.column_names if c not in skip and not c.startswith("SOURCE_ROW")]


def _get(md: Mapping[str, Any], section: str, key: str) -> Any:
    part = md.get(section)
    return part.get(key) if isinstance(part, Mapping) else None


def _json_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, set | frozenset):
        return sorted(o, key=str)
    return str(o)


def _json_safe(value: Any) -> Any:
    """``value`` as plain JSON types (dates as ISO strings, numpy numbers as numbers)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_json_default, allow_nan=False, ensure_ascii=False))


def _utc(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            when = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise UsageError(
                N_("'{value}' is not a date and time"),
                field="release.embargo_until",
                fix=N_("Write it as 2025-02-18T06:00:00Z."),
                params={"value": value},
            ) from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _describe_metadata(
    md: Mapping[str, Any], embargo: dt.datetime | None, is_open: bool | None
) -> dict[str, Any]:
    licence = _get(md, "licence", "id")
    conditions = md.get("use_conditions") or []
    return {
        "embargo_until": _utc(embargo) if embargo is not None else _utc(_get(md, "release", "embargo_until")),
        "licence": licence,
        "is_open": bool(licence in OPEN_LICENCES) if is_open is None else is_open,
        "use_conditions": [str(c) for c in conditions] if isinstance(conditions, list) else [str(conditions)],
        "metadata_version": (str(v) if (v := _get(md, "dataset", "version")) is not None else None),
    }


def _describe_report(report: Report) -> dict[str, Any]:
    dsat = report.stats.get("dsat")
    return {"dsat": _json_safe(dsat), "dsat_score": int(dsat["total"]) if dsat else None}


def _describe_table(table: pa.Table, dims: Sequence[str]) -> dict[str, Any]:
    cube = {d: sorted(str(x) for x in pc.unique(table[d]).to_pylist() if x is not None) for d in dims}
    series = (
        table.select(list(dims)).group_by(list(dims)).aggregate([]).num_rows if dims and table.num_rows else 0
    )
    times = pc.min_max(table["TIME_PERIOD"].cast(pa.string())) if table.num_rows else None
    return {
        "observations": table.num_rows,
        "series_count": series,
        "cube": cube,
        "time_min": times["min"].as_py() if times else None,
        "time_max": times["max"].as_py() if times else None,
    }


def _mapping_version(text: str) -> str | None:
    try:
        spec = safeyaml.load(text)
    except yaml.YAMLError:
        return None
    return str(spec.get("version", "1.0.0")) if isinstance(spec, dict) else None


def _submission(
    session: Session, principal: Principal, slug: str, flow: FlowRef, now: dt.datetime
) -> Submission:
    stmt = select(Submission).where(
        Submission.producer_id == principal.org_id,
        Submission.dataset == slug,
        Submission.agency == flow.agency,
        Submission.dataflow == flow.id,
        Submission.dataflow_version == flow.version,
    )
    sub = session.scalar(stmt)
    if sub is None:
        assert flow.agency is not None
        assert flow.id is not None
        assert flow.version is not None
        sub = Submission(
            producer_id=principal.org_id,
            dataset=slug,
            agency=flow.agency,
            dataflow=flow.id,
            dataflow_version=flow.version,
            created_at=now,
        )
        session.add(sub)
        session.flush()
        audit.add(
            session,
            action="submission.created",
            at=now,
            principal=principal,
            submission_id=sub.id,
            dataflow=str(flow),
            details={"dataset": slug},
        )
    return sub


def _next_number(session: Session, sub: Submission, note: str | None, explicit: bool) -> int:
    """The next version number; from version 2 on, a revision note is required.

    A note taken from the metadata (``revision.note``) counts only when it differs from the
    previous version's: resending the same metadata does not explain a new version.
    """
    last = session.execute(
        select(Version.number, Version.revision_note)
        .where(Version.submission_id == sub.id)
        .order_by(Version.number.desc())
        .limit(1)
    ).first()
    if last is not None and (not note or (not explicit and note == last.revision_note)):
        raise UsageError(
            N_("'{dataset}' already has version {number}: a new version needs a revision note"),
            field="revision.note",
            fix=N_(
                "Say what changed since the previous version (the revision note, or a new "
                "revision.note in the metadata)."
            ),
            params={"dataset": sub.dataset, "number": last.number},
        )
    last = last.number if last is not None else None
    return (last or 0) + 1


# ---------------------------------------------------------------- transitions


def _load(session: Session, version_id: int) -> Version:
    v = session.get(Version, version_id, populate_existing=True)
    if v is None:
        raise no_version(version_id)
    return v


def _illegal(v: Version, to: State) -> Conflict:
    nxt = sorted(s.value for s in NEXT[State(v.state)] if s != State.SUPERSEDED)
    allowed = (
        msg(N_("it can only be {states}"), states=", ".join(nxt))
        if nxt
        else msg(N_("it cannot change any more"))
    )
    return Conflict(
        N_("version {number} of '{dataset}' is {state}, so it cannot be {wanted}; {allowed}"),
        fix=N_("Reload the version to see its current state.")
        if nxt
        else N_("Create a new version instead."),
        params={
            "number": v.number,
            "dataset": v.submission.dataset,
            "state": v.state,
            "wanted": to.value,
            "allowed": allowed,
        },
    )


def _move(
    session: Session,
    v: Version,
    to: State,
    principal: Principal | None,
    now: dt.datetime,
    values: Mapping[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Move ``v`` to ``to`` with a conditional UPDATE inside the caller's transaction."""
    frm = State(v.state)
    if to not in NEXT[frm]:
        raise _illegal(v, to)
    result = session.execute(
        update(Version)
        .where(Version.id == v.id, Version.state == frm.value)
        .values(state=to.value, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            N_(
                "version {number} of '{dataset}' was changed by someone else meanwhile (it is "
                "no longer {state})"
            ),
            fix=N_("Reload the version to see its current state."),
            params={"number": v.number, "dataset": v.submission.dataset, "state": frm.value},
        )
    audit.add(
        session,
        action=f"version.{to.value}",
        principal=principal,
        submission_id=v.submission_id,
        version_id=v.id,
        dataflow=v.submission.dataflow_ref,
        at=now,
        details={"from": frm.value, "number": v.number, **(details or {})},
    )
    # its e-mails and webhook deliveries commit with it, or not at all (#19, store/outbox.py)
    outbox.on_transition(session, v, to, principal, now, details)


def _supersede_older(
    session: Session, v: Version, states: Sequence[State], principal: Principal | None, now: dt.datetime
) -> None:
    older = session.scalars(
        select(Version).where(
            Version.submission_id == v.submission_id,
            Version.number < v.number,
            Version.state.in_([s.value for s in states]),
        )
    ).all()
    for o in older:
        _move(session, o, State.SUPERSEDED, principal, now, details={"by": v.number})


def _submit_in_tx(session: Session, v: Version, principal: Principal, now: dt.datetime) -> None:
    _move(session, v, State.SUBMITTED, principal, now, {"submitted_at": now})
    _supersede_older(session, v, PENDING, principal, now)


def _transition(
    session: Session,
    version_id: int,
    to: State,
    principal: Principal | None,
    check: Callable[[Version, dt.datetime], None],
    now: dt.datetime | None,
    work: Callable[[Version, dt.datetime], None],
) -> Version:
    now = now or utcnow()
    v = _load(session, version_id)
    if not access.can_see_version(access.require_principal(principal, f"{ACTIONS[to]} a version"), v, now):
        raise no_version(version_id)
    check(v, now)
    if to not in NEXT[State(v.state)]:
        raise _illegal(v, to)
    try:
        with transaction(session):
            work(v, now)
    finally:
        session.refresh(v)
    return v


def _producer_check(principal: Principal | None, what: str) -> Callable[[Version, dt.datetime], None]:
    def check(v: Version, _now: dt.datetime) -> None:
        p = access.require_role(principal, {Role.SUBMITTER}, what)
        if not p.is_admin and not access.is_producer(p, v.submission):
            raise Forbidden(
                N_("only the organisation that produced '{dataset}' may {what}"),
                fix=N_("Sign in with a key of the producing CSO."),
                params={"dataset": v.submission.dataset, "what": msg(what)},
            )

    return check


def _reviewer_check(
    session: Session, principal: Principal | None, what: str
) -> Callable[[Version, dt.datetime], None]:
    def check(v: Version, now: dt.datetime) -> None:
        p = access.require_role(principal, {Role.REVIEWER}, what)
        if not p.is_admin and not access.is_mou_reviewer(session, p, v.submission, now):
            raise Forbidden(
                N_(
                    "'{org_slug}' has no MoU in force covering {dataflow_ref} of this CSO, so it "
                    "may not {what}"
                ),
                fix=N_("Ask the platform administrator to record the MoU (cgd-bridge admin mou create)."),
                params={"org_slug": p.org_slug, "dataflow_ref": v.submission.dataflow_ref, "what": msg(what)},
            )

    return check


def submit(
    session: Session, *, principal: Principal | None, version_id: int, now: dt.datetime | None = None
) -> Version:
    """Send a draft for review (the producing CSO); supersedes older versions still in review."""

    def work(v: Version, when: dt.datetime) -> None:
        assert principal is not None
        _submit_in_tx(session, v, principal, when)

    return _transition(
        session,
        version_id,
        State.SUBMITTED,
        principal,
        _producer_check(principal, N_("submit it")),
        now,
        work,
    )


def overlap(
    session: Session, *, principal: Principal | None, version_id: int, now: dt.datetime | None = None
) -> ownership.Overlap:
    """The keys and periods a version shares with what other submissions have published in its
    dataflow (:func:`cgd_bridge.store.ownership.overlap`), for whoever may see the version.

    What it quotes (series keys, periods, the other datasets and producers) is what the SDMX
    answers of the published versions already show; the reviewer sees it before deciding.

    Raises:
        NotFound: the version is not visible to the principal.
    """
    v = get_version(session, principal=principal, version_id=version_id, now=now)
    return ownership.overlap(session, v)


def history(
    session: Session, *, principal: Principal | None, version_id: int, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The audit trail of a version as ``principal`` may read it, oldest first (the JSON API's
    ``/versions/{id}/history``): ``{"at", "action", "user", "organisation", "details"}``.

    Pulls only for the producing CSO's people and admins; users' names only for those who may
    see the CSO's people; raw files' names and the stored table's hash only for those who may
    read them (:func:`cgd_bridge.store.audit.details_for`); another version named by a
    replacement (#13) only when the principal may see that version, else "a version you may
    not see".

    Raises:
        NotFound: the version is not visible to the principal.
    """
    now = now or utcnow()
    v = get_version(session, principal=principal, version_id=version_id, now=now)
    pulls = access.can_see_pulls(principal, v.submission.producer_id)
    raw, internals = access.may_read_raw(principal, v, now), access.sees_internals(principal, v.submission)
    people = access.can_see_people(principal, v.submission.producer_id)
    seen: dict[int, bool] = {}

    def may_see(other_id: int) -> bool:
        if other_id not in seen:
            other = session.get(Version, other_id)
            seen[other_id] = other is not None and access.can_see_version(
                principal, other, now, session=session
            )
        return seen[other_id]

    return [
        {
            "at": e.at,
            "action": e.action,
            "user": e.user.username if e.user and people else None,
            "organisation": e.organisation.slug if e.organisation else None,
            "details": audit.details_for(e, raw_files=raw, internals=internals, may_see=may_see),
        }
        for e in audit.history(session, version=v, pulls=pulls)
    ]


def _overlap_refusal(v: Version, found: ownership.Overlap, what: str) -> Overlapping:
    return Overlapping(
        N_(
            "version {number} of '{dataset}' holds {count} that {dataflow_ref} already publishes: "
            "{keys}; {what} it would give them two owners"
        ),
        overlap=found.to_dict(),
        fix=N_(
            "Review the overlapping keys, then either reject this version, or accept and "
            "publish it with 'replace' (it takes over those observations; the replaced "
            "ones stay in history and lineage)."
        ),
        params={
            "number": v.number,
            "dataset": v.submission.dataset,
            "count": nmsg("{n} series key and period", "{n} series keys and periods", found.count),
            "dataflow_ref": v.submission.dataflow_ref,
            "keys": found.describe(),
            "what": msg(what),
        },
    )


def _replace_choice(session: Session, v: Version) -> list[int]:
    """The published versions the reviewer chose to replace when accepting ``v`` (latest acceptance)."""
    entry = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.version_id == v.id, AuditEntry.action == f"version.{State.ACCEPTED.value}")
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    chosen = (entry.details or {}).get("replace") if entry is not None else None
    return [int(i) for i in chosen.get("versions", [])] if isinstance(chosen, dict) else []


def replace_chosen(session: Session, v: Version, found: ownership.Overlap) -> bool:
    """True when the reviewer who accepted ``v`` chose to replace every version ``found`` names."""
    return bool(found) and set(found.version_ids) <= set(_replace_choice(session, v))


def _check_overlap(session: Session, v: Version, replace: bool | None, what: str) -> ownership.Overlap | None:
    """The overlap ``v`` would replace, or Overlapping when the reviewer did not choose ``replace``.

    ``replace=None`` (publishing) takes the choice made at acceptance, if it covers the same
    published versions; ``False`` refuses any overlap.
    """
    found = ownership.overlap(session, v)
    if not found:
        return None
    if replace is None:
        replace = replace_chosen(session, v, found)
    if not replace:
        raise _overlap_refusal(v, found, what)
    return found


def _replacing(found: ownership.Overlap | None) -> dict[str, Any]:
    if not found:
        return {}
    return {
        "replace": {
            "versions": found.version_ids,
            "observations": found.count,
            "shared": [s.to_dict() for s in found.shared],
        }
    }


def accept(
    session: Session,
    *,
    principal: Principal | None,
    version_id: int,
    comment: str | None = None,
    replace: bool = False,
    now: dt.datetime | None = None,
) -> Version:
    """Accept a submitted version (an NSO reviewer with a covering MoU).

    Args:
        replace: the reviewer's choice when the version overlaps what other submissions have
            published in the dataflow (:func:`overlap`): it will take over those observations.
            Recorded in the audit trail; publishing then needs no second choice unless the
            overlap changed meanwhile.

    Raises:
        Overlapping: the version overlaps published observations and ``replace`` is not set.
    """

    def work(v: Version, when: dt.datetime) -> None:
        assert principal is not None
        found = _check_overlap(session, v, replace, N_("accepting"))
        details: dict[str, Any] = {"comment": comment} if comment else {}
        _move(
            session,
            v,
            State.ACCEPTED,
            principal,
            when,
            {"decided_at": when, "decided_by_id": principal.user_id, "reviewer_comment": comment or None},
            {**details, **_replacing(found)} or None,
        )

    return _transition(
        session,
        version_id,
        State.ACCEPTED,
        principal,
        _reviewer_check(session, principal, N_("accept it")),
        now,
        work,
    )


def reject(
    session: Session,
    *,
    principal: Principal | None,
    version_id: int,
    comment: str,
    now: dt.datetime | None = None,
) -> Version:
    """Reject a submitted version, saying why (an NSO reviewer with a covering MoU).

    Raises:
        UsageError: no comment.
    """
    if not (comment or "").strip():
        raise UsageError(
            N_("a rejection needs a comment"), fix=N_("Tell the CSO what to fix in a new version.")
        )

    def work(v: Version, when: dt.datetime) -> None:
        assert principal is not None
        _move(
            session,
            v,
            State.REJECTED,
            principal,
            when,
            {"decided_at": when, "decided_by_id": principal.user_id, "reviewer_comment": comment.strip()},
            {"comment": comment.strip()},
        )

    return _transition(
        session,
        version_id,
        State.REJECTED,
        principal,
        _reviewer_check(session, principal, N_("reject it")),
        now,
        work,
    )


def current_release(session: Session, *, producer_id: int, dataset: str) -> Version | None:
    """The published version of the producer's dataset ``dataset`` (the latest, should it be
    published to several dataflows), or None: the release a new version of it is checked
    against (docs/disclosure.md, "Two releases")."""
    return session.scalars(
        select(Version)
        .join(Submission, Version.submission_id == Submission.id)
        .where(
            Submission.producer_id == producer_id,
            Submission.dataset == dataset,
            Version.state == State.PUBLISHED.value,
        )
        .order_by(Version.published_at.desc(), Version.id.desc())
        .limit(1)
    ).first()


def _checked_against(v: Version) -> tuple[int, int] | None:
    """The published version (id, number) that ``v``'s disclosure audit took as known (its
    report's ``stats.previous_release``), or None: checked as the dataset's first release."""
    found = ((v.report or {}).get("cgd:stats") or {}).get("previous_release") or {}
    at, number = found.get("version_id"), found.get("number")
    return (at, number) if isinstance(at, int) and isinstance(number, int) else None


def _hides_anything(session: Session, v: Version) -> bool:
    """Whether version ``v`` publishes any observation without its value (suppressed)."""
    table = store_data.load_table(session, v.id)
    if "SUPPRESSED" in table.column_names:
        return bool(pc.any(table["SUPPRESSED"]).as_py())
    return "OBS_VALUE" in table.column_names and table["OBS_VALUE"].null_count > 0


def _check_release(session: Session, v: Version) -> None:
    """Refuse to publish ``v`` when the dataset has a published version other than the one its
    suppression was checked against: that release's cells were not taken as known, and the two
    together could give a suppressed cell away (docs/disclosure.md, "Two releases"). A release
    withdrawn since is no reason to refuse (it was only taken as known), nor two releases that
    suppress nothing."""
    current = current_release(session, producer_id=v.submission.producer_id, dataset=v.submission.dataset)
    checked = _checked_against(v)
    if current is None or (checked is not None and checked[0] == current.id):
        return
    if not (_hides_anything(session, v) or _hides_anything(session, current)):
        return  # neither release suppresses a cell: there is nothing to give away
    fix = N_(
        "Upload the same files again as a new version: it is checked against the published version "
        "and keeps its suppressed cells protected from it; then review and publish that one."
    )
    if checked is None:
        raise Conflict(
            N_(
                "version {number} was checked for disclosure as the dataset's first release, but version "
                "{current} is published now: together the two could give a suppressed cell away"
            ),
            fix=fix,
            params={"number": v.number, "current": current.number},
        )
    raise Conflict(
        N_(
            "version {number} was checked for disclosure against version {checked}, but version {current} "
            "is published now: together the two could give a suppressed cell away"
        ),
        fix=fix,
        params={"number": v.number, "checked": checked[1], "current": current.number},
    )


def publish(
    session: Session,
    *,
    principal: Principal | None,
    version_id: int,
    replace: bool | None = None,
    now: dt.datetime | None = None,
) -> Version:
    """Publish an accepted version (an NSO reviewer with a covering MoU); supersedes the previous one.

    Publication time is ``published_at`` (SDMX ``updatedAfter``); an embargo still hides the
    data from the public until it passes.

    One owner per observation (#13): when the version holds series keys and periods that
    published versions of *other* submissions of the dataflow serve (:func:`overlap`), it is
    refused unless ``replace`` is True, or None and the reviewer chose ``replace`` for the same
    published versions when accepting. Replacing is recorded on both sides (``version.published``
    with ``replace``; ``version.replaced`` on each replaced version, with how many observations
    and by which version); from then on the published view serves those keys from this version
    (:mod:`cgd_bridge.store.ownership`), while the replaced observations stay stored.

    Raises:
        Overlapping: the version overlaps published observations and no ``replace`` choice covers it.
    """

    def work(v: Version, when: dt.datetime) -> None:
        # the overlap check and the publication are one step per dataflow: two reviewers
        # publishing overlapping versions at once cannot both pass a check that saw neither
        lock(session, f"publish {v.submission.dataflow_ref}")
        _check_release(session, v)
        found = _check_overlap(session, v, replace, N_("publishing"))
        _move(session, v, State.PUBLISHED, principal, when, {"published_at": when}, _replacing(found) or None)
        _supersede_older(session, v, (*PENDING, State.PUBLISHED), principal, when)
        for shared in found.shared if found else []:
            audit.add(
                session,
                action="version.replaced",
                at=when,
                principal=principal,
                submission_id=shared.submission_id,
                version_id=shared.version_id,
                dataflow=v.submission.dataflow_ref,
                observations=shared.count,
                details={
                    "by": v.id,
                    "by_number": v.number,
                    "by_dataset": v.submission.dataset,
                    "by_producer": v.submission.producer.slug,
                    "observations": shared.count,
                    "examples": shared.examples,
                },
            )

    return _transition(
        session,
        version_id,
        State.PUBLISHED,
        principal,
        _reviewer_check(session, principal, N_("publish it")),
        now,
        work,
    )


def withdraw(
    session: Session,
    *,
    principal: Principal | None,
    version_id: int,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> Version:
    """Withdraw a version (the producing CSO): hidden from pulls and from everyone but the producer.

    The record, its files and its audit trail are kept.
    """

    def work(v: Version, when: dt.datetime) -> None:
        _move(
            session,
            v,
            State.WITHDRAWN,
            principal,
            when,
            {"withdrawn_at": when},
            {"reason": reason} if reason else None,
        )

    return _transition(
        session,
        version_id,
        State.WITHDRAWN,
        principal,
        _producer_check(principal, N_("withdraw it")),
        now,
        work,
    )


def set_embargo(
    session: Session,
    *,
    principal: Principal | None,
    version_id: int,
    until: dt.datetime | None,
    now: dt.datetime | None = None,
) -> Version:
    """Set (or lift, with None) a version's embargo (the producing CSO), before it is published.

    Raises:
        Conflict: the version is already published, withdrawn, rejected or superseded.
    """
    now = now or utcnow()
    v = _load(session, version_id)
    p = access.require_principal(principal, N_("set an embargo"))
    if not access.can_see_version(p, v, now):
        raise no_version(version_id)
    _producer_check(principal, N_("set its embargo"))(v, now)
    if v.state not in PENDING:
        raise Conflict(
            N_("version {number} of '{dataset}' is {state}; the embargo is fixed once published"),
            fix=N_("Withdraw it and publish a new version with the embargo you need."),
            params={"number": v.number, "dataset": v.submission.dataset, "state": v.state},
        )
    when = _utc(until)
    with transaction(session):
        v.embargo_until = when
        audit.add(
            session,
            action="version.embargo_set",
            principal=p,
            submission_id=v.submission_id,
            version_id=v.id,
            details={"until": when.isoformat() if when else None},
        )
    return v


# ---------------------------------------------------------------- reading


def list_submissions(
    session: Session, *, principal: Principal | None, now: dt.datetime | None = None
) -> list[Submission]:
    """The submissions with at least one version the principal may see, by id.

    A CSO sees its own; an NSO reviewer those of CSOs with a covering MoU (submitted or later);
    admins all; anyone, those with a public version.
    """
    now = now or utcnow()
    stmt = select(Version).join(Version.submission).order_by(Version.submission_id, Version.number)
    if principal is not None and principal.org_kind == OrgKind.CSO and not principal.is_admin:
        stmt = stmt.where(Submission.producer_id == principal.org_id)
    seen: dict[int, Submission] = {}
    for v in access.visible_versions(session, principal, session.scalars(stmt).unique(), now):
        seen.setdefault(v.submission_id, v.submission)
    return list(seen.values())


def get_submission(
    session: Session, *, principal: Principal | None, submission_id: int, now: dt.datetime | None = None
) -> Submission:
    """A submission the principal may see (any of its versions). Raises NotFound."""
    sub = session.get(Submission, submission_id)
    if sub is None or not list_versions(session, principal=principal, submission_id=submission_id, now=now):
        raise NotFound(
            N_("there is no submission {submission_id}"),
            fix=N_("See the list of submissions."),
            params={"submission_id": submission_id},
        )
    return sub


def list_versions(
    session: Session, *, principal: Principal | None, submission_id: int, now: dt.datetime | None = None
) -> list[Version]:
    """The versions of a submission the principal may see, oldest first."""
    now = now or utcnow()
    versions = session.scalars(
        select(Version).where(Version.submission_id == submission_id).order_by(Version.number)
    )
    return access.visible_versions(session, principal, versions.unique(), now)


def get_version(
    session: Session, *, principal: Principal | None, version_id: int, now: dt.datetime | None = None
) -> Version:
    """A version with its report, metadata and coverage, if the principal may see it.

    Raises:
        NotFound: no such version, or one the principal may not see (not revealed).
    """
    v = session.get(Version, version_id)
    if v is None or not access.can_see_version(principal, v, now or utcnow(), session=session):
        raise no_version(version_id)
    return v


def get_file(
    session: Session,
    *,
    principal: Principal | None,
    file_id: int,
    now: dt.datetime | None = None,
    client: str | None = None,
    version_id: int | None = None,
) -> StoredFile:
    """A raw input with its bytes, when :func:`cgd_bridge.store.access.may_read_raw` lets the
    principal have it: the producer and admins; an NSO only under an MoU granting raw files,
    never for microdata. The download is audited (``file.downloaded``: who, which file).

    Raw files can hold more than the published observations (microdata, free text, identifiers
    the checks missed), so the public never gets them, even for open data.

    ``version_id``, when given, is the version the file must belong to (the web's links).

    Raises:
        NotFound: no such file (of that version), or one the principal may not read (its
            existence not revealed).
    """
    f = session.scalar(
        select(StoredFile).where(StoredFile.id == file_id).options(undefer(StoredFile.content))
    )
    now = now or utcnow()
    if f is not None and version_id in (None, f.version_id):
        v = session.get(Version, f.version_id)
        if v is not None and access.may_read_raw(principal, v, now, session=session):
            audit.record(
                session,
                action="file.downloaded",
                principal=principal,
                submission_id=v.submission_id,
                version_id=v.id,
                dataflow=v.dataflow_ref,
                client=client,
                details={"file": f.id, "role": f.role, "filename": f.filename, "sha256": f.sha256},
                at=now,
            )
            return f
    raise NotFound(
        N_("there is no file {file_id} you may read"),
        fix=N_("Check the file id in the version's file list."),
        params={"file_id": file_id},
    )


def raw_files(
    session: Session, principal: Principal | None, version: Version, now: dt.datetime
) -> list[StoredFile]:
    """The version's raw files the principal may download (:func:`access.may_read_raw`), else
    none: what file lists (pages, JSON, lineage) show, so no link dangles and no name or hash
    of a file the reader may not have is shown."""
    return list(version.files) if access.may_read_raw(principal, version, now, session=session) else []


# ---------------------------------------------------------------- lineage


def lineage(
    session: Session,
    *,
    principal: Principal | None,
    version_id: int,
    key: Mapping[str, str],
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Where observations come from: submission, version, source rows, mapping and metadata versions.

    Args:
        key: dimension values and usually ``TIME_PERIOD``, e.g. ``{"REF_AREA": "KE_042",
            "SEX": "F", "TIME_PERIOD": "2024"}``; dimensions left out match any value.

    Returns:
        ``{"submission", "version", "dataflow", "mapping_version", "metadata_version",
        "files": [{role, filename, sha256, size}] (the raw files, when the principal may
        download them: :func:`cgd_bridge.store.access.may_read_raw`), "source_rows": [...],
        "observations": [row dicts], "replaced_by": [...]}``: whole for the producing CSO and
        admins; for everyone else the observations' published view, no source rows, and
        ``"redacted"`` saying what was withheld (:func:`cgd_bridge.store.published.lineage_for`,
        #12). ``replaced_by`` lists the versions of other submissions published with ``replace``
        that took over some of these observations (#13): ``{version, number, dataset, producer,
        observations}``; the observations themselves are still listed (history keeps them).

    Raises:
        NotFound: the version is not visible, or no observation matches.
        UsageError: a key names a column the data does not have.
    """
    v = get_version(session, principal=principal, version_id=version_id, now=now)
    table = store_data.load_table(session, v.id)
    keyed = {*v.dimensions, "TIME_PERIOD"}  # never a stored column that is not published (#12)
    unknown = sorted(k for k in key if k not in keyed or k not in table.column_names)
    if unknown:
        raise UsageError(
            N_("the data has no column {unknown}"),
            fix=N_("Use the dimensions {dimensions}."),
            params={"unknown": ", ".join(unknown), "dimensions": ", ".join([*v.dimensions, "TIME_PERIOD"])},
        )
    mask = None
    for name, value in key.items():
        m = pc.equal(table[name].cast(pa.string()), pa.scalar(str(value)))
        mask = m if mask is None else pc.and_(mask, m)
    rows = table.filter(mask) if mask is not None else table
    if rows.num_rows == 0:
        shown = ", ".join(f"{k}={val}" for k, val in key.items())
        raise NotFound(
            N_("version {number} of '{dataset}' has no observation {shown}"),
            fix=N_("Check the key against the version's series."),
            params={"number": v.number, "dataset": v.submission.dataset, "shown": shown},
        )
    source_rows: set[int] = set()
    if "SOURCE_ROW" in rows.column_names:
        source_rows.update(int(r) for r in rows["SOURCE_ROW"].to_pylist() if r is not None)
    if "SOURCE_ROWS" in rows.column_names:
        for item in rows["SOURCE_ROWS"].to_pylist():
            source_rows.update(int(r) for r in (item if isinstance(item, list) else [item]) if r is not None)
    sub = v.submission
    replaced: list[dict[str, Any]] = []
    claim = ownership.served(session, [v.id]).get(v.id)
    if claim is not None:  # another submission's version took over some of these observations (#13)
        by = claim.replaced_by if mask is None else claim.replaced_by.filter(pc.fill_null(mask, False))
        for vid, n in sorted(ownership.Claim(v.id, claim.served, by, claim.token).replaced().items()):
            other = session.get(Version, vid)
            assert other is not None
            if not access.can_see_version(principal, other, now or utcnow(), session=session):
                # an embargoed or restricted version: say that, not which (its existence is its own)
                replaced.append(
                    {"version": None, "observations": n, "note": "replaced by a version you may not see"}
                )
                continue
            replaced.append(
                {
                    "version": vid,
                    "number": other.number,
                    "dataset": other.submission.dataset,
                    "producer": other.submission.producer.slug,
                    "observations": n,
                }
            )
    found: dict[str, Any] = {
        "submission": {"id": sub.id, "dataset": sub.dataset, "producer": sub.producer.slug},
        "dataflow": sub.dataflow_ref,
        "version": {
            "id": v.id,
            "number": v.number,
            "state": v.state,
            "published_at": v.published_at.isoformat() if v.published_at else None,
        },
        "mapping_version": v.mapping_version,
        "metadata_version": v.metadata_version,
        "files": [
            {"role": f.role, "filename": f.filename, "sha256": f.sha256, "size": f.size}
            for f in raw_files(session, principal, v, now or utcnow())
        ],
        "source_rows": sorted(source_rows),
        "observations": _json_safe(rows.to_pylist()),
        "replaced_by": replaced,
    }
    answer = published.lineage_for(principal, v, found, rows)
    answer["observations"] = _json_safe(answer["observations"])
    return answer


def saved_mappings(session: Session, principal: Principal, *, limit: int = 200) -> list[tuple[str, str]]:
    """The mappings the principal's own organisation stored with its versions, newest first, each
    text once: ``[(name, text)]``, the name ``DATASET vN`` of the newest version that has it.

    What a draft made on the server learns from (``Evidence.add_text``, #18: "a label mapped
    before is proposed again first"). Only the organisation's own work: another organisation's
    mappings are never read here, whoever asks.
    """
    rows = session.execute(
        select(Submission.dataset, Version.number, Version.mapping_text)
        .join(Version, Version.submission_id == Submission.id)
        .where(Submission.producer_id == principal.org_id, Version.mapping_text != "")
        .order_by(Version.created_at.desc(), Version.id.desc())
        .limit(limit)
    ).all()
    seen: set[str] = set()
    out = []
    for dataset, number, text in rows:
        if text not in seen:
            seen.add(text)
            out.append((f"{dataset} v{number}", text))
    return out
