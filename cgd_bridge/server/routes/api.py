"""The bridge's JSON API under ``/api``: validate, submit, review, publish, withdraw, audit, lineage.

Every route takes the principal from the API key (``Authorization: Bearer <key>``); the rules of
who may do what live in the store (:mod:`cgd_bridge.store.submissions`,
:mod:`cgd_bridge.store.access`), so the routes only translate HTTP to store calls.

Uploads (multipart) are spooled to a private temporary folder, read by the same pipeline as
``cgd-bridge convert`` and stored with their SHA-256 in one transaction with the report and the
harmonised observations: a failure at any point stores nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

from cgd_bridge import i18n
from cgd_bridge.errors import Forbidden
from cgd_bridge.findings import dsat_in
from cgd_bridge.i18n import N_
from cgd_bridge.server.deps import BridgeDep, NowDep, PrincipalDep, SessionDep, UserDep
from cgd_bridge.server.downloads import attachment
from cgd_bridge.server.intake import harmonise_and_store
from cgd_bridge.server.uploads import Inputs
from cgd_bridge.store import access, audit, checks, mous, published, submissions
from cgd_bridge.store.models import MAX_ID, Submission, Version
from cgd_bridge.store.orgs import Principal

router = APIRouter(prefix="/api", tags=["bridge API"])
VersionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A version id, from the submissions list.")]
SubmissionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A submission id.")]
FileId = Annotated[int, Path(ge=1, le=MAX_ID, description="A stored file id, from a version's files.")]


# -- response models ---------------------------------------------------------------------------------


class Me(BaseModel):
    username: str
    organisation: str
    organisation_kind: str
    role: str


class VersionSummary(BaseModel):
    id: int
    number: int
    state: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    published_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None
    embargo_until: dt.datetime | None = None
    licence: str | None = None
    is_open: bool = False
    dsat_score: int | None = None
    observations: int = 0
    series: int = 0
    revision_note: str | None = None
    reviewer_comment: str | None = None
    mapping_version: str | None = None
    metadata_version: str | None = None


class SubmissionSummary(BaseModel):
    id: int
    dataset: str
    producer: str
    dataflow: str
    versions: list[VersionSummary]


class VersionDetail(VersionSummary):
    submission: int
    dataset: str
    producer: str
    dataflow: str
    dimensions: list[str] = Field(default_factory=list)
    attributes: list[str] = Field(default_factory=list)
    cube: dict[str, Any] | None = None
    time_range: list[str | None] = Field(default_factory=list)
    report: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    dsat: dict[str, Any] | None = None
    coverage: dict[str, Any] | None = None
    files: list[dict[str, Any]] = Field(default_factory=list)
    sdmx_urls: dict[str, str] = Field(default_factory=dict)


class Decision(BaseModel):
    comment: str | None = Field(default=None, description="The reviewer's comment (required to reject).")
    replace: bool | None = Field(
        default=None,
        description="When the version overlaps what other submissions published in the dataflow "
        "(GET /api/versions/{id}/overlap): true = it takes over those observations (the replaced ones "
        "stay in history and lineage). Without it an overlapping version is refused (409, with the "
        "overlap). Publishing without it keeps the choice made at acceptance.",
    )


class Withdrawal(BaseModel):
    reason: str | None = None


class Embargo(BaseModel):
    until: dt.datetime | None = Field(description="UTC date-time; null lifts the embargo.")

    @field_validator("until", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        """An ISO 8601 text or null: a number would be read as a Unix time (1900000000 is 2030)."""
        numeric = (
            isinstance(value, str)
            and value.strip().lstrip("+-").replace(".", "", 1).replace("e", "", 1).isdigit()
        )
        if (value is not None and not isinstance(value, str | dt.datetime)) or numeric:
            raise ValueError(
                "give the embargo's end as an ISO 8601 date-time text, e.g. 2031-01-01T00:00:00Z"
            )
        return value


class ValidationResult(BaseModel):
    valid: bool
    report: dict[str, Any]


def _summary(v: Version) -> VersionSummary:
    return VersionSummary(
        id=v.id,
        number=v.number,
        state=v.state,
        created_at=v.created_at,
        submitted_at=v.submitted_at,
        decided_at=v.decided_at,
        published_at=v.published_at,
        withdrawn_at=v.withdrawn_at,
        embargo_until=v.embargo_until,
        licence=v.licence,
        is_open=v.is_open,
        dsat_score=v.dsat_score,
        observations=v.observations,
        series=v.series_count,
        revision_note=v.revision_note,
        reviewer_comment=v.reviewer_comment,
        mapping_version=v.mapping_version,
        metadata_version=v.metadata_version,
    )


def _detail(v: Version, request: Request, principal: Principal | None, now: dt.datetime) -> VersionDetail:
    """The version as ``principal`` may see it: its report redacted unless it is the producing
    CSO's or an admin (:func:`cgd_bridge.store.published.report_for`, #12); its raw files listed
    only when the principal may download them (:func:`cgd_bridge.store.access.may_read_raw`)."""
    s = v.submission
    base = str(request.base_url).rstrip("/")
    flow = f"{s.agency},{s.dataflow},{s.dataflow_version}"
    return VersionDetail(
        **_summary(v).model_dump(),
        submission=s.id,
        dataset=s.dataset,
        producer=s.producer.slug,
        dataflow=s.dataflow_ref,
        dimensions=list(v.dimensions or []),
        attributes=list(v.attributes or []),
        cube=v.cube,
        time_range=[v.time_min, v.time_max],
        report=published.report_for(principal, v),
        metadata=v.metadata_json or {},
        dsat=dsat_in(v.dsat, _translator(request)),  # its reasons in the asker's language
        coverage=v.coverage,
        files=[
            {
                "id": f.id,
                "role": f.role,
                "filename": f.filename,
                "size": f.size,
                "sha256": f.sha256,
                "media_type": f.media_type,
            }
            for f in (v.files if access.may_read_raw(principal, v, now) else [])
        ],
        sdmx_urls={
            "data_v1": f"{base}/sdmx/rest/data/{flow}/all/{s.producer.slug}",
            "data_v2": f"{base}/sdmx/v2/data/dataflow/{s.agency}/{s.dataflow}/{s.dataflow_version}/*",
            "structure_v1": f"{base}/sdmx/rest/dataflow/{s.agency}/{s.dataflow}/{s.dataflow_version}"
            "?references=all",
        },
    )


def _submission(s: Submission, versions: list[Version]) -> SubmissionSummary:
    return SubmissionSummary(
        id=s.id,
        dataset=s.dataset,
        producer=s.producer.slug,
        dataflow=s.dataflow_ref,
        versions=[_summary(v) for v in versions],
    )


# -- uploads ---------------------------------------------------------------------------------------


def _spool(
    bridge: BridgeDep, data: UploadFile, metadata: UploadFile, mapping: UploadFile, form: UploadFile | None
) -> Inputs:
    """The uploads spooled to a private folder (413 above the limit); close it when done."""
    inputs = Inputs(bridge.settings.max_upload_mb << 20)
    try:
        inputs.save("data", data)
        inputs.save("metadata", metadata)
        inputs.save("mapping", mapping)
        if form is not None and form.filename:
            inputs.save("form", form)
    except BaseException:
        inputs.close()
        raise
    return inputs


DataFile = Annotated[UploadFile, File(description="The dataset: CSV, XLSX or a Kobo/ODK export.")]
MetadataFile = Annotated[
    UploadFile, File(description="The filled quality metadata (cgd-quality/1.0, YAML or JSON).")
]
MappingFile = Annotated[UploadFile, File(description="The mapping (cgd-mapping/1.0 YAML).")]
FormFile = Annotated[UploadFile | None, File(description="Optional XLSForm of a Kobo/ODK export.")]


@router.get("/me", response_model=Me, summary="Who am I?")
def me(principal: UserDep) -> Me:
    return Me(
        username=principal.username,
        organisation=principal.org_slug,
        organisation_kind=principal.org_kind,
        role=principal.role,
    )


class CheckStatus(BaseModel):
    """A check started from the submit page (``/checks/{id}``): where it is, and how it ended."""

    id: str
    action: str = Field(description="check, draft or submit")
    state: str = Field(description="running, done, failed, or stopped (its server stopped while it ran)")
    data_file: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    version_id: int | None = Field(default=None, description="The version it stored, if any")
    status: int | None = Field(default=None, description="The HTTP status the page showed for it")
    note: str | None = None
    errors: dict[str, str] = Field(default_factory=dict, description="Form field -> what to fix")
    report: dict[str, Any] | None = Field(
        default=None, description="The validation report, when there is one"
    )


@router.get(
    "/checks/{check_id}", response_model=CheckStatus, summary="A check of the submit page (yours only)"
)
def check_status(
    check_id: Annotated[str, Path(max_length=64)],
    principal: UserDep,
    session: SessionDep,
    bridge: BridgeDep,
    now: NowDep,
) -> CheckStatus:
    row = checks.get(session, principal=principal, ident=check_id)
    out = row.outcome or {}
    settings = bridge.settings
    gone = checks.lost(
        row, now, job_cpu_seconds=settings.job_cpu_seconds, job_wait_seconds=settings.job_wait_seconds
    )
    state = "stopped" if gone else row.state
    return CheckStatus(
        id=row.id,
        action=row.action,
        state=state,
        data_file=row.what,
        started_at=row.started_at,
        finished_at=row.finished_at,
        version_id=row.version_id,
        status=out.get("status"),
        note=out.get("note") or out.get("problem"),
        errors=out.get("errors") or {},
        report=out.get("report"),
    )


def _translator(request: Request) -> i18n.Translator:
    """The language of a JSON answer's texts: ``?lang=``, else ``Accept-Language``, else English
    (finding codes stay as they are; ``cgd:english`` keeps the English)."""
    return i18n.translator(
        i18n.choose(request.query_params.get("lang"), request.headers.get("accept-language"))
    )


@router.post("/validate", response_model=ValidationResult, summary="Validate a dataset without storing it")
def validate(
    request: Request,
    bridge: BridgeDep,
    principal: UserDep,
    data: DataFile,
    metadata: MetadataFile,
    mapping: MappingFile,
    form: FormFile = None,
    sheet: Annotated[str | None, Form()] = None,
) -> ValidationResult:
    """Run every check (as ``cgd-bridge validate``) and return the report; nothing is stored."""
    with _spool(bridge, data, metadata, mapping, form) as inputs:
        result = inputs.harmonise(structures=bridge.structures, sheet=sheet, jobs=bridge.jobs)
    return ValidationResult(valid=result.report.valid, report=result.report.to_dict(_translator(request)))


@router.post(
    "/submissions",
    status_code=201,
    response_model=VersionDetail,
    summary="Submit a dataset",
    responses={
        413: {"description": "Upload too large."},
        422: {"description": "Validation found errors; the report says what to fix."},
    },
)
def create_submission(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: UserDep,
    data: DataFile,
    metadata: MetadataFile,
    mapping: MappingFile,
    form: FormFile = None,
    sheet: Annotated[str | None, Form()] = None,
    revision_note: Annotated[
        str | None, Form(description="Why this new version (from version 2 on).")
    ] = None,
    submit: Annotated[bool, Form(description="Send it for review now (else it stays a draft).")] = True,
) -> Any:
    """Validate, map and store a new version of one of your organisation's datasets.

    With validation errors nothing is stored, and the answer (422) carries the report.
    """
    with _spool(bridge, data, metadata, mapping, form) as inputs:
        intake = harmonise_and_store(
            session,
            inputs,
            principal=principal,
            structures=bridge.structures,
            clock=bridge.clock,
            sheet=sheet,
            revision_note=revision_note,
            submit=submit,
            jobs=bridge.jobs,
        )
    if intake.version is None:
        return JSONResponse(
            {
                "error": {
                    "type": "ValidationFailed",
                    "status": 422,
                    "title": "The dataset has errors",
                    "message": f"validation found {intake.report.error_count} error(s); nothing was stored",
                    "fix": "Fix what the report lists and upload again.",
                },
                "report": intake.report.to_dict(_translator(request)),
            },
            status_code=422,
        )
    return _detail(intake.version, request, principal, bridge.clock())


@router.get("/submissions", response_model=list[SubmissionSummary], summary="Submissions you may see")
def list_submissions(session: SessionDep, principal: PrincipalDep, now: NowDep) -> list[SubmissionSummary]:
    """A CSO's own; an NSO reviewer's CSOs under MoU (submitted or later); public ones for everyone."""
    out = []
    for s in submissions.list_submissions(session, principal=principal, now=now):
        versions = submissions.list_versions(session, principal=principal, submission_id=s.id, now=now)
        out.append(_submission(s, versions))
    return out


@router.get("/submissions/{submission_id}", response_model=SubmissionSummary, summary="One submission")
def get_submission(
    session: SessionDep, principal: PrincipalDep, now: NowDep, submission_id: SubmissionId
) -> SubmissionSummary:
    s = submissions.get_submission(session, principal=principal, submission_id=submission_id, now=now)
    versions = submissions.list_versions(session, principal=principal, submission_id=s.id, now=now)
    return _submission(s, versions)


@router.get("/versions/{version_id}", response_model=VersionDetail, summary="A version with its report")
def get_version(
    request: Request, session: SessionDep, principal: PrincipalDep, now: NowDep, version_id: VersionId
) -> VersionDetail:
    """The report, quality metadata, DSAT score, mapping coverage, files and SDMX URLs."""
    v = submissions.get_version(session, principal=principal, version_id=version_id, now=now)
    return _detail(v, request, principal, now)


@router.post("/versions/{version_id}/submit", response_model=VersionDetail, summary="Send a draft for review")
def submit_version(
    request: Request, session: SessionDep, principal: UserDep, now: NowDep, version_id: VersionId
) -> VersionDetail:
    return _detail(
        submissions.submit(session, principal=principal, version_id=version_id, now=now),
        request,
        principal,
        now,
    )


@router.post("/versions/{version_id}/accept", response_model=VersionDetail, summary="Accept (NSO reviewer)")
def accept_version(
    request: Request,
    session: SessionDep,
    principal: UserDep,
    now: NowDep,
    version_id: VersionId,
    body: Decision | None = None,
) -> VersionDetail:
    comment = body.comment if body else None
    replace = bool(body and body.replace)
    v = submissions.accept(
        session, principal=principal, version_id=version_id, comment=comment, replace=replace, now=now
    )
    return _detail(v, request, principal, now)


@router.post("/versions/{version_id}/reject", response_model=VersionDetail, summary="Reject (NSO reviewer)")
def reject_version(
    request: Request,
    session: SessionDep,
    principal: UserDep,
    now: NowDep,
    version_id: VersionId,
    body: Decision,
) -> VersionDetail:
    comment = body.comment or ""
    v = submissions.reject(session, principal=principal, version_id=version_id, comment=comment, now=now)
    return _detail(v, request, principal, now)


@router.post("/versions/{version_id}/publish", response_model=VersionDetail, summary="Publish (NSO reviewer)")
def publish_version(
    request: Request,
    session: SessionDep,
    principal: UserDep,
    now: NowDep,
    version_id: VersionId,
    body: Decision | None = None,
) -> VersionDetail:
    replace = body.replace if body else None
    v = submissions.publish(session, principal=principal, version_id=version_id, replace=replace, now=now)
    return _detail(v, request, principal, now)


@router.get(
    "/versions/{version_id}/overlap",
    summary="The series keys and periods a version shares with what is published (#13)",
)
def version_overlap(
    session: SessionDep, principal: PrincipalDep, now: NowDep, version_id: VersionId
) -> dict[str, Any]:
    """Per published version of another submission in the dataflow: how many keys and periods
    this version shares with the observations it serves, with examples. Accepting or publishing
    an overlapping version needs ``"replace": true``."""
    return submissions.overlap(session, principal=principal, version_id=version_id, now=now).to_dict()


@router.post("/versions/{version_id}/withdraw", response_model=VersionDetail, summary="Withdraw (the CSO)")
def withdraw_version(
    request: Request,
    session: SessionDep,
    principal: UserDep,
    now: NowDep,
    version_id: VersionId,
    body: Withdrawal | None = None,
) -> VersionDetail:
    reason = body.reason if body else None
    v = submissions.withdraw(session, principal=principal, version_id=version_id, reason=reason, now=now)
    return _detail(v, request, principal, now)


@router.put("/versions/{version_id}/embargo", response_model=VersionDetail, summary="Set or lift the embargo")
def set_embargo(
    request: Request,
    session: SessionDep,
    principal: UserDep,
    now: NowDep,
    version_id: VersionId,
    body: Embargo,
) -> VersionDetail:
    v = submissions.set_embargo(
        session, principal=principal, version_id=version_id, until=body.until, now=now
    )
    return _detail(v, request, principal, now)


@router.get(
    "/versions/{version_id}/history",
    summary="The audit trail of a version (with its pulls for the producing CSO and admins)",
)
def version_history(
    bridge: BridgeDep, session: SessionDep, principal: PrincipalDep, now: NowDep, version_id: VersionId
) -> list[dict[str, Any]]:
    v = submissions.get_version(session, principal=principal, version_id=version_id, now=now)
    # who pulled the data is for the producing CSO's people and admins (as /organisations/{cso}/pulls)
    if access.can_see_pulls(principal, v.submission.producer_id):
        bridge.audit.flush()  # pulls served before this request are in the answer
    return submissions.history(session, principal=principal, version_id=version_id, now=now)


@router.get("/versions/{version_id}/lineage", summary="Where observations come from")
def version_lineage(
    request: Request, session: SessionDep, principal: PrincipalDep, now: NowDep, version_id: VersionId
) -> dict[str, Any]:
    """Dimension values and TIME_PERIOD as query parameters: ``?REF_AREA=KE_042&TIME_PERIOD=2024``."""
    key = {k: v for k, v in request.query_params.items() if k.isupper()}
    return submissions.lineage(session, principal=principal, version_id=version_id, key=key, now=now)


@router.get("/files/{file_id}", summary="A raw input file (the CSO, admins, NSOs whose MoU grants raw files)")
def get_file(
    request: Request, session: SessionDep, principal: UserDep, now: NowDep, file_id: FileId
) -> Response:
    """The file as uploaded. 404 for anyone who may not download it (its existence not revealed):
    NSOs need an MoU with the raw-files term, and never get microdata; each download is audited."""
    client = request.client.host if request.client else None
    f = submissions.get_file(session, principal=principal, file_id=file_id, now=now, client=client)
    return Response(
        f.content,
        media_type=f.media_type,
        headers={"Content-Disposition": attachment(f.filename), "X-SHA256": f.sha256},
    )


class MouView(BaseModel):
    """An MoU as either side sees it, its raw-files term in plain words."""

    id: int
    cso: str
    nso: str
    dataflows: list[str]
    use_conditions: list[str]
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None
    in_force: bool
    raw_files: bool = Field(description="The NSO may download the files the CSO uploaded (never microdata).")
    raw_files_terms: str = Field(description="The raw-files term in words, from your side.")


@router.get("/mous", response_model=list[MouView], summary="Your organisation's MoUs and their terms")
def list_mous(session: SessionDep, principal: UserDep, now: NowDep) -> list[MouView]:
    """The MoUs your organisation is party to (a CSO's with its NSOs, an NSO's with its CSOs;
    every MoU for admins), newest first, each with its raw-files term in words."""
    return [
        MouView(
            id=m.id,
            cso=m.cso.slug,
            nso=m.nso.slug,
            dataflows=list(m.dataflows),
            use_conditions=list(m.use_conditions),
            valid_from=m.valid_from,
            valid_until=m.valid_until,
            revoked_at=m.revoked_at,
            in_force=mous.is_valid(m, now),
            raw_files=m.raw_files,
            raw_files_terms=mous.raw_files_words(m, principal),
        )
        for m in mous.mous_for(session, principal)
    ]


@router.get("/organisations/{slug}/pulls", summary="Who pulled this CSO's data")
def pulls(
    bridge: BridgeDep,
    session: SessionDep,
    principal: UserDep,
    slug: str,
    since: Annotated[dt.datetime | None, Query()] = None,
) -> list[dict[str, Any]]:
    from cgd_bridge.store.orgs import get_organisation

    org = get_organisation(session, slug=slug)
    if not access.can_see_pulls(principal, org.id):
        raise Forbidden(
            N_("only people of {slug} (and administrators) may see who pulled its data"),
            fix=N_("Use a key of that organisation."),
            params={"slug": slug},
        )
    bridge.audit.flush()  # pulls served before this request are in the answer
    return [p.__dict__ for p in audit.pulls_of(session, cso_org_id=org.id, since=since)]


DownloadFormat = Annotated[
    str,
    Query(
        pattern="^(xlsx|sdmx-csv-labels|bundle)$",
        description="xlsx (spreadsheet: names beside codes, a codes sheet, the quality metadata), "
        "sdmx-csv-labels (SDMX-CSV 1.0 with names beside codes) or bundle (a ZIP of the data in "
        "every format, the spreadsheet, the quality metadata and a README.txt).",
    ),
]


@router.get(
    "/dataflows/{agency}/{ident}/{version}/download",
    summary="A dataflow's published data as a spreadsheet, labelled SDMX-CSV or one ZIP bundle",
    response_class=Response,
)
async def dataflow_download(
    request: Request,
    bridge: BridgeDep,
    principal: PrincipalDep,
    now: NowDep,
    agency: str,
    ident: str,
    version: str,
    format: DownloadFormat = "xlsx",
    key: Annotated[str, Query(description="An SDMX REST v1 key, e.g. ..KE_KISUMU or all.")] = "all",
    startPeriod: Annotated[str | None, Query()] = None,
    endPeriod: Annotated[str | None, Query()] = None,
) -> Response:
    """The published view of the dataflow (the same selection, access rules and pull log as
    ``/sdmx/rest/data``): suppressed cells stay without a value, embargoed data is not there."""
    from urllib.parse import urlencode

    from cgd_bridge.sdmx.refs import FlowRef
    from cgd_bridge.server import downloads
    from cgd_bridge.server.sdmx.query import parse_params

    periods = [(n, v) for n, v in (("startPeriod", startPeriod), ("endPeriod", endPeriod)) if v]
    response: Response = await downloads.download_response(
        request,
        bridge,
        principal,
        flow_ref=FlowRef(agency, ident, version),
        key_text=key,
        params=parse_params(urlencode(periods)),
        fmt=format,
        now=now,
    )
    return response
