"""The web pages: sign in, a CSO's submissions and uploads, the NSO inbox and review, browsing
published dataflows with charts and downloads.

Every page calls the same store functions as the JSON API (:mod:`cgd_bridge.store.submissions`,
:mod:`cgd_bridge.store.access`, :mod:`cgd_bridge.store.audit`) and the same SDMX service as
``/sdmx/rest`` (downloads are SDMX REST answers, logged as pulls), so the rules of who sees and
does what live in one place. Every POST form carries the session's CSRF token.

Paths: ``/`` (home), ``/sign-in``, ``/sign-out``, ``/submissions``, ``/submit`` (with
``/submit/files``, where the page's script sends the files first), ``/versions/{id}`` (the
version and review page) with ``/versions/{id}/{action}`` and ``/versions/{id}/files/{file}``,
``/inbox``, ``/pulls``, ``/dataflows``, ``/dataflows/{agency}/{id}/{version}`` with
``.../download``; static files under ``/static``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from cgd_bridge import resources, safeyaml
from cgd_bridge.errors import CgdBridgeError, Forbidden, NotFound, Overlapping, RateLimited, UsageError
from cgd_bridge.findings import Report, dsat_in
from cgd_bridge.i18n import msg
from cgd_bridge.sdmx.formats import FORMATS
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.server import downloads as bundles
from cgd_bridge.server.downloads import attachment
from cgd_bridge.server.http import route_path
from cgd_bridge.server.intake import harmonise_and_store
from cgd_bridge.server.ratelimit import RateLimiter
from cgd_bridge.server.sdmx import service
from cgd_bridge.server.sdmx.data import select
from cgd_bridge.server.sdmx.query import parse_params
from cgd_bridge.server.uploads import Inputs
from cgd_bridge.server.web import background, metadata_form, oidc, reports
from cgd_bridge.server.web import chart as charts
from cgd_bridge.server.web import pulls as pull_words
from cgd_bridge.server.web import session as websession
from cgd_bridge.server.web.i18n import N_, Translator
from cgd_bridge.server.web.pages import Page, PageDep, WebRoute
from cgd_bridge.server.web.views import (
    FlowNames,
    compare,
    dsat_breakdown,
    flow_names,
    group_report,
    labelled_metadata,
)
from cgd_bridge.store import (
    access,
    audit,
    checks,
    drafts,
    identities,
    kept,
    mappings,
    mous,
    official,
    orgs,
    published,
    submissions,
)
from cgd_bridge.store.models import MAX_ID, CheckState, OfficialSeries, OrgKind, Role, State, Version
from cgd_bridge.store.orgs import Principal

if TYPE_CHECKING:
    from cgd_bridge.server.app import Bridge

router = APIRouter(route_class=WebRoute, include_in_schema=False)
log = logging.getLogger(__name__)
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
PAGE_ROWS = 200
#: How often the status page of a running check refreshes itself (seconds).
CHECK_REFRESH_SECONDS = 3
MAX_METADATA_BYTES = 2 << 20
ACTIONS = ("submit", "accept", "reject", "publish", "withdraw", "embargo")
ACTION_DONE = {
    "submit": N_("Version {number} was sent for review."),
    "accept": N_("Version {number} was accepted."),
    "reject": N_("Version {number} was rejected; the CSO sees your comment."),
    "publish": N_("Version {number} was published."),
    "withdraw": N_("Version {number} was withdrawn."),
    "embargo": N_("The embargo of version {number} was changed."),
}


def _local(url: str | None) -> str | None:
    """``url`` if it is a path on this server (no open redirects), else None."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return None  # browsers drop tabs and line breaks: "/\t/evil.example" would become "//evil.example"
    return url


def _home_of(page: Page) -> str:
    if page.is_nso:
        return "/inbox"
    if page.is_cso:
        return "/submissions"
    return "/dataflows"


# ---------------------------------------------------------------- home, sign in, sign out


@router.get("/")
def home(page: PageDep) -> Response:
    return page.render("home.html")


def _sign_in_page(page: Page, status: int = 200, **values: Any) -> Response:
    """The sign-in page, with the identity provider's button when it is configured."""
    settings = page.bridge.settings
    label = None
    if settings.oidc_enabled:
        label = settings.oidc_button_label or page._("Sign in with your organisation's account")
    return page.render("sign_in.html", status=status, oidc_label=label, **values)


def _signed_in(
    page: Page,
    principal: Principal,
    *,
    next: str | None,
    key_prefix: str | None = None,
    password_hash: str | None = None,
    identity: int | None = None,
) -> Response:
    """Start the web session of ``principal`` (by key, password or the identity provider: what
    the session re-checks on every request), say so, and go on to ``next`` (a local path) or the
    person's home page."""
    websession.signed_in(
        page.data,
        principal,
        key_prefix=key_prefix,
        password_hash=password_hash,
        now=page.now,
        identity=identity,
        epoch=orgs.session_epoch(page.db, principal.user_id),
    )
    page.principal = principal
    page.dirty = True
    page.say(
        page._(
            "Signed in as {user} ({role} of {org}).",
            user=principal.username,
            role=page.role_name(principal.role),
            org=principal.org_slug,
        )
    )
    return page.redirect(_local(next) or _home_of(page))


@router.get("/sign-in")
def sign_in_form(page: PageDep, next: str | None = None) -> Response:
    return _sign_in_page(page, next=_local(next) or "", errors={}, method="key", username="")


def _oidc(page: Page) -> oidc.OidcClient:
    client = oidc.client_of(page.bridge.extra, page.bridge.settings)
    if client is None:
        raise NotFound(
            page._("sign-in with an identity provider is not set up on this bridge"),
            fix=page._("Sign in with your API key or password."),
        )
    return client


def _callback_url(page: Page, client: oidc.OidcClient) -> str:
    return client.redirect_url or str(page.request.base_url).rstrip("/") + oidc.CALLBACK


@router.get("/sign-in/oidc")
def sign_in_oidc(page: PageDep, next: str = "") -> Response:
    """Start a sign-in through the identity provider: to its authorisation page.

    A link, not a form: the pages' Content-Security-Policy (``form-action 'self'``) would stop a
    form's redirect to the provider. Starting a sign-in changes nothing until the person signs in
    at the provider, and the ``state`` ties the answer to this browser's session."""
    _throttle_sign_in(page)
    client = _oidc(page)
    url, pending = client.begin(_callback_url(page, client), _local(next) or "")
    page.data.oidc = pending
    page.dirty = True
    return page.finish(RedirectResponse(url, status_code=303))


@router.get("/sign-in/oidc/callback")
def sign_in_oidc_callback(
    page: PageDep,
    code: str = "",
    state: str = "",
    error: str = "",
    error_description: str = "",
) -> Response:
    """The identity provider sends the browser back here with a code (or an error)."""
    client = _oidc(page)
    _ = page._
    pending, page.data.oidc = page.data.oidc, None  # one try per sign-in, whatever happens
    page.dirty = True
    _throttle_sign_in(page)
    if error:
        raise oidc.SignInRefused(
            _(
                "the identity provider did not sign you in ({error}: {description})",
                error=error[:100],
                description=error_description[:300],
            ),
            fix=_("Start the sign-in again, or sign in with your API key or password."),
        )
    if not code:
        raise oidc.SignInRefused(
            _("the identity provider sent no sign-in code"),
            fix=_("Start the sign-in again from the bridge's sign-in page."),
        )
    claims = client.finish(pending, state=state, code=code, redirect_uri=_callback_url(page, client))
    principal, link = identities.sign_in(page.db, claims, client.policy, now=page.now)
    nxt = pending.get("next") if pending else None
    return _signed_in(page, principal, next=nxt if isinstance(nxt, str) else None, identity=link)


SIGN_IN_PER_MINUTE = 10


def _throttle_sign_in(page: Page) -> None:
    """At most :data:`SIGN_IN_PER_MINUTE` sign-in attempts a minute per client address (per worker):
    guessing keys or passwords stays slow whatever the general rate limit is."""
    limiter = page.bridge.extra.get("web_sign_in_limiter")
    if limiter is None:
        limiter = page.bridge.extra.setdefault("web_sign_in_limiter", RateLimiter(SIGN_IN_PER_MINUTE))
    client = page.request.client.host if page.request.client else "?"
    allowed, wait = limiter.allow(f"sign-in:{client}", now=page.now.timestamp())
    if not allowed:
        raise RateLimited(
            N_("too many sign-in attempts from this address (at most {most} a minute)"),
            fix=N_("Wait {seconds} seconds and try again."),
            retry_after=wait,
            params={"most": SIGN_IN_PER_MINUTE, "seconds": max(1, round(wait))},
        )


@router.post("/sign-in")
def sign_in(
    page: PageDep,
    csrf_token: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "key",
    api_key: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    page.check_csrf(csrf_token)
    _ = page._
    _throttle_sign_in(page)
    errors: dict[str, str] = {}
    principal = None
    password_hash = None
    prefix = None
    if method == "password":
        if not username.strip():
            errors["username"] = _("Enter your username.")
        if not password:
            errors["password"] = _("Enter your password.")
        if not errors:
            principal = orgs.authenticate_password(page.db, username=username.strip(), password=password)
            if principal is None:
                errors["password"] = _("The username or password is wrong, or the account is inactive.")
            else:
                password_hash = orgs.get_user(page.db, username=principal.username).password_hash
    else:
        key = api_key.strip()
        m = orgs.KEY.match(key)
        if not key:
            errors["api_key"] = _("Enter your API key (it starts with cgdb_).")
        elif m is None:
            errors["api_key"] = _(
                "This is not an API key: keys look like cgdb_ followed by letters and digits."
            )
        else:
            principal = orgs.authenticate_key(page.db, key, now=page.now)
            prefix = m.group(1)
            if principal is None:
                errors["api_key"] = _(
                    "This API key is not valid (unknown, revoked or expired). Ask your administrator for a new one."  # noqa: E501 - one message id
                )
    if errors or principal is None:
        return _sign_in_page(
            page,
            status=400,
            next=_local(next) or "",
            errors=errors,
            method=method,
            username=username,
        )
    return _signed_in(page, principal, next=next, key_prefix=prefix, password_hash=password_hash)


@router.post("/sign-out")
def sign_out(page: PageDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    page.check_csrf(csrf_token)
    websession.end_session(page.db, page.data, page.now)
    page.principal = None
    page.say(page._("You are signed out."))
    return page.redirect("/")


# ---------------------------------------------------------------- a CSO's submissions


@router.get("/submissions")
def my_submissions(page: PageDep) -> Response:
    principal = page.require_signed_in()
    now = page.now
    rows = []
    for s in submissions.list_submissions(page.db, principal=principal, now=now):
        versions = submissions.list_versions(page.db, principal=principal, submission_id=s.id, now=now)
        rows.append((s, list(reversed(versions))))
    return page.render("submissions.html", submissions=rows)


def _bundled_mappings() -> list[str]:
    return sorted(p.name for p in resources.bundled("mappings").glob("*.yaml"))


def _saved_mappings(page: Page) -> list[Any]:
    """The organisation's mappings saved in the mapping builder, every version (#18)."""
    return mappings.list_mappings(page.db, principal=page.principal) if page.is_cso else []


SAVED = "saved:"


@router.get("/submit")
def submit_form(
    page: PageDep,
    check: Annotated[str | None, Query(max_length=64)] = None,
    mapping: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The submit form; with ``check`` (a check of the person's that stopped), filled in as that
    check's form was, with the files it sent (kept on the server); with ``mapping``
    (``saved:ID``, from a saved mapping's page) that mapping chosen."""
    principal = page.require(page.is_cso, page._("Submitting data"), page._("CSO submitters"))
    values: dict[str, Any] = {}
    if mapping and mapping.startswith(SAVED):
        values["mapping_choice"] = mapping
    if check:
        row = checks.get(page.db, principal=principal, ident=check)
        values = dict((row.outcome or {}).get("values") or {})
        in_force = kept.kept_of(page.db, principal=principal, now=page.now)
        values["kept"] = {
            role: asdict(k)
            for role, k in in_force.items()
            if (values.get("kept") or {}).get(role, {}).get("token") == k.token
        }
    return _submit_page(page, values)


def _draft_text(page: Page, draft_id: int | None, text: str, upload: UploadFile | None) -> str:
    """A saved draft of the CSO as the metadata (as if filled in on the form), unless a file or a
    record from the form is given."""
    if draft_id is None or text.strip() or (upload is not None and upload.filename):
        return text
    saved = drafts.get_draft(page.db, principal=page.principal, draft_id=draft_id)
    return metadata_form.to_yaml(saved.record)


def _drafts_of(page: Page) -> list[Any]:
    return drafts.list_drafts(page.db, principal=page.principal) if page.is_cso else []


_FIELD_OF_ROLE = {"data": "data", "metadata": "metadata", "mapping": "mapping", "form": "form"}


def _field_of(exc: CgdBridgeError, uploads: dict[str, str]) -> str:
    """The form field an error is about: the file it names, the revision note, else the data."""
    if exc.field in ("revision.note", "revision_note"):
        return "revision_note"
    if exc.field == "dataset.id":
        return "metadata"
    for role, name in uploads.items():
        if exc.file and (exc.file == name or FilePath(exc.file).name == name):
            return _FIELD_OF_ROLE.get(role, "data")
    return "data"


def _missing_inputs(
    page: Page,
    data: UploadFile | None,
    metadata: UploadFile | None,
    mapping_choice: str,
    mapping: UploadFile | None,
    metadata_text: str = "",
    tokens: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The form fields left empty, with what to do (field id -> message). A file kept from an
    earlier try (``tokens``: role -> token) fills its field."""
    _ = page._
    tokens = tokens or {}
    errors = {}
    if (data is None or not data.filename) and not tokens.get("data"):
        errors["data"] = _("Choose the dataset file (CSV, XLSX or a Kobo/ODK export).")
    no_metadata = (metadata is None or not metadata.filename) and not metadata_text.strip()
    if no_metadata and not tokens.get("metadata"):
        errors["metadata"] = _("Choose the quality metadata file (YAML or JSON).")
    if mapping_choice == "upload":
        if (mapping is None or not mapping.filename) and not tokens.get("mapping"):
            errors["mapping"] = _("Choose your mapping file, or pick a bundled mapping.")
    elif mapping_choice not in _bundled_mappings() and not mapping_choice.startswith(SAVED):
        errors["mapping_choice"] = _("Pick a bundled mapping, or choose to upload your own.")
    return errors


def _dataset_of(metadata_text: str) -> str:
    """The ``dataset.id`` of a metadata record's YAML text, or "" (only to show it)."""
    if not metadata_text.strip():
        return ""
    try:
        record = safeyaml.load(metadata_text)
    except yaml.YAMLError:
        return ""
    dataset = record.get("dataset") if isinstance(record, dict) else None
    return str(dataset.get("id") or "") if isinstance(dataset, dict) else ""


def _form_error(exc: CgdBridgeError, inputs: Inputs, t: Translator) -> tuple[str, str]:
    """The field an exception is about and its message (where, the problem, the fix) in the
    page's language."""
    return _field_of(exc, inputs.names()), exc.message_in(t)


def _upload_or_kept(
    page: Page, inputs: Inputs, role: str, upload: UploadFile | None, token: str, sent: set[str]
) -> bool:
    """Put the role's file into ``inputs``: a new upload, else the file kept from an earlier try
    (only the sender's own: :func:`cgd_bridge.store.kept.take`); True if there was either. A new
    upload wins over a kept one. ``sent`` collects the roles the person sent (to keep them)."""
    if upload is not None and upload.filename:
        inputs.save(role, upload)
    elif token:
        principal = page.principal
        assert principal is not None  # the page requires a signed-in CSO
        inputs.kept(kept.take(page.db, principal=principal, role=role, token=token, now=page.now))
    else:
        return False
    sent.add(role)
    return True


@router.post("/submit/files")
def submit_files(
    page: PageDep,
    csrf_token: Annotated[str, Form()] = "",
    data: Annotated[UploadFile | None, File()] = None,
    metadata: Annotated[UploadFile | None, File()] = None,
    mapping: Annotated[UploadFile | None, File()] = None,
    form: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Receive the submit page's files ahead of the form and keep them for the sender (JSON:
    role -> token, name, size). The page's script sends the files here with a progress bar, then
    posts the form itself with the tokens (:func:`submit_upload`), so the check and the redirect
    are a normal page load; without the script the form posts the files directly."""
    page.check_csrf(csrf_token)
    principal = page.require(page.is_cso, page._("Submitting data"), page._("CSO submitters"))
    inputs = Inputs(page.bridge.settings.max_upload_mb << 20)
    try:
        for role, upload in (("data", data), ("metadata", metadata), ("mapping", mapping), ("form", form)):
            if upload is not None and upload.filename:
                inputs.save(role, upload)
        received = kept.keep(page.db, principal=principal, files=inputs.raw, now=page.now)
    finally:
        inputs.close()
    body = {role: {"token": k.token, "filename": k.filename, "size": k.size} for role, k in received.items()}
    return JSONResponse({"kept": body}, headers={"Cache-Control": "no-store"})


@dataclass
class _Outcome:
    """How a check of the submit page ended, as the page shows it (JSON for a background check).

    ``status`` is the page's HTTP status (303 when a version was stored: then ``version_id`` and
    ``said``, the message of the version page); otherwise the report, the note and the errors
    by field."""

    status: int
    note: str | None = None
    report: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    version_id: int | None = None
    said: str | None = None
    #: the full report kept for download (server/web/reports.py), when nothing was stored
    report_token: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _Outcome:
        return cls(
            **{
                k: data[k]
                for k in ("status", "note", "report", "errors", "version_id", "said", "report_token")
                if k in data
            }
        )


def _run_check(
    bridge: Bridge,
    inputs: Inputs,
    principal: Principal,
    translate: Any,
    *,
    action: str,
    sheet: str,
    revision_note: str,
) -> _Outcome:
    """Check ``inputs`` and store a version unless ``action`` is ``check``: in its own database
    session (it may outlast the request that started it)."""
    _ = translate
    with bridge.sessions() as session:
        try:
            intake = harmonise_and_store(
                session,
                inputs,
                principal=principal,
                structures=bridge.structures,
                clock=bridge.clock,
                sheet=sheet.strip() or None,
                revision_note=revision_note.strip() or None,
                submit=action == "submit",
                store=action != "check",
                jobs=bridge.jobs,
            )
        except CgdBridgeError as exc:
            if exc.status >= 500 or isinstance(exc, Forbidden):
                raise
            where, text = _form_error(exc, inputs, translate)
            return _Outcome(exc.status, errors={where: text})
        report = intake.report.to_dict()
        if intake.version is None:  # nothing stored: the full report, kept for download (HTML, JSON)
            token = reports.keep(bridge.settings.data_dir, principal, intake.report, translate)
        if not intake.valid:
            note = _(
                "The dataset has {n} error(s); nothing was stored. Fix what the report lists and upload again.",  # noqa: E501 - one message id
                n=intake.report.error_count,
            )
            return _Outcome(422, note=note, report=report, report_token=token)
        version = intake.version
        if version is None:  # action == "check"
            note = _("The dataset is valid. Send it for review, or save it as a draft: the files are kept.")
            return _Outcome(200, note=note, report=report, report_token=token)
        kept.forget(session, principal=principal)  # a version holds them now
        stored = {"number": str(version.number), "dataset": version.submission.dataset}
        if version.state == State.SUBMITTED:
            said = _("Version {number} of {dataset} was stored and sent for review.", **stored)
        else:
            said = _("Version {number} of {dataset} was stored as a draft.", **stored)
        return _Outcome(303, version_id=version.id, said=said)


def _show_outcome(page: Page, out: _Outcome, values: dict[str, Any]) -> Response:
    """The page of an ended check: the version page (a version was stored), else the submit page
    with the report, the note, the errors and the kept files."""
    if out.version_id is not None:
        if out.said:
            page.say(out.said)
        return page.redirect(f"/versions/{out.version_id}")
    return _submit_page(
        page,
        values,
        status=out.status,
        errors=out.errors,
        report=group_report(out.report, page._) if out.report is not None else None,
        report_token=out.report_token,
        note=out.note,
    )


def _submit_page(page: Page, values: dict[str, Any], **shown: Any) -> Response:
    """The submit page: the bundled and saved mappings and the drafts to choose from, the form's
    ``values``, and what an ended check adds (``status``, ``errors``, ``report``, ``note``)."""
    shown.setdefault("errors", {})
    shown.setdefault("report", None)
    return page.render(
        "submit.html",
        mappings=_bundled_mappings(),
        saved=_saved_mappings(page),
        drafts=_drafts_of(page),
        values=values,
        **shown,
    )


def _saved_mapping(page: Page, inputs: Inputs, choice: str, errors: dict[str, str]) -> None:
    """A mapping saved in the mapping builder as the upload's mapping file, ``NAME-vN.yaml``;
    one that is not the organisation's (or no number) is an error at the mapping field."""
    ident = choice[len(SAVED) :]
    try:
        if not ident.isdigit() or not 1 <= int(ident) <= MAX_ID:
            raise NotFound(page._("there is no saved mapping {id} of your organisation", id=ident))
        row = mappings.get_mapping(page.db, principal=page.principal, mapping_id=int(ident))
    except NotFound as exc:
        errors["mapping_choice"] = exc.message_in(page._)
        return
    inputs.text("mapping", f"{row.name}-v{row.number}.yaml", row.text)


def _submit_page_with(page: Page, metadata_text: str) -> Response:
    """The submit page with a record filled in on the metadata form as its metadata: it asks only
    for the dataset and the mapping."""
    values: dict[str, Any] = {
        "mapping_choice": "",
        "sheet": "",
        "revision_note": "",
        "metadata_text": metadata_text,
        "metadata_dataset": _dataset_of(metadata_text),
        "kept": {},
    }
    return _submit_page(page, values)


@router.post("/submit")
def submit_upload(  # noqa: C901 - one form, one flow: kept files, check, store, the page again
    page: PageDep,
    csrf_token: Annotated[str, Form()] = "",
    data: Annotated[UploadFile | None, File()] = None,
    metadata: Annotated[UploadFile | None, File()] = None,
    mapping_choice: Annotated[str, Form()] = "",
    mapping: Annotated[UploadFile | None, File()] = None,
    form: Annotated[UploadFile | None, File()] = None,
    sheet: Annotated[str, Form()] = "",
    revision_note: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "submit",
    metadata_text: Annotated[str, Form(max_length=MAX_METADATA_BYTES)] = "",
    metadata_draft: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
    kept_data: Annotated[str, Form(max_length=64)] = "",
    kept_metadata: Annotated[str, Form(max_length=64)] = "",
    kept_mapping: Annotated[str, Form(max_length=64)] = "",
    kept_form: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Validate the upload; show the report (errors, or ``action=check``), else store a version.

    ``metadata_text`` is a record filled in on the metadata form (``action=prepare`` brings it
    here); an uploaded metadata file replaces it. The files the person sent are kept for them
    (:mod:`cgd_bridge.store.kept`) until a version is stored from them: the page shows them as
    received and carries their tokens (``kept_*``), so a slow link need not send them again; a
    new file of the same role replaces its kept one.

    The check runs in a thread of its own (:func:`_run_check`); the page waits for it at most
    ``web_check_wait_seconds``, then sends the person to the check's status page
    (``/checks/{id}``), which shows the outcome once it is there.
    """
    page.check_csrf(csrf_token)
    principal = page.require(page.is_cso, page._("Submitting data"), page._("CSO submitters"))
    tokens = {
        "data": kept_data.strip(),
        "metadata": kept_metadata.strip(),
        "mapping": kept_mapping.strip() if mapping_choice == "upload" else "",
        "form": kept_form.strip(),
    }
    metadata_text = _draft_text(page, metadata_draft, metadata_text, metadata)
    if tokens["metadata"] and not (metadata is not None and metadata.filename):
        metadata_text = ""  # the kept metadata file was sent after the form's record: it wins
    values: dict[str, Any] = {
        "mapping_choice": mapping_choice,
        "sheet": sheet,
        "revision_note": revision_note,
        "metadata_text": metadata_text,
        "metadata_dataset": _dataset_of(metadata_text),
        "kept": {},
    }
    if action == "prepare":
        return _submit_page_with(page, metadata_text)
    errors = _missing_inputs(page, data, metadata, mapping_choice, mapping, metadata_text, tokens)
    inputs = Inputs(page.bridge.settings.max_upload_mb << 20)
    sent: set[str] = set()
    handed_over = False

    def keep_sent() -> None:
        # What the person sent is kept for them (not the bundled mapping, nor the form's record,
        # which the page carries itself), so the next try need not send it again.
        files = [r for r in inputs.raw if r.role in sent]
        if files:
            received = kept.keep(page.db, principal=principal, files=files, now=page.now)
            values["kept"] = {role: asdict(k) for role, k in received.items()}

    try:
        try:
            roles = (("data", data), ("metadata", metadata), ("mapping", mapping), ("form", form))
            for role, upload in roles:
                if role == "mapping" and mapping_choice != "upload":
                    continue
                try:
                    _upload_or_kept(page, inputs, role, upload, tokens[role], sent)
                except NotFound as exc:  # a kept file that is gone: ask for that file alone
                    errors[role] = exc.message_in(page._)
            if not errors and "data" in inputs.paths:
                if "metadata" not in inputs.paths:
                    inputs.text("metadata", "quality.yaml", metadata_text)
                if mapping_choice.startswith(SAVED):
                    _saved_mapping(page, inputs, mapping_choice, errors)
                elif mapping_choice != "upload":
                    inputs.file("mapping", resources.bundled("mappings") / mapping_choice, "application/yaml")
        except CgdBridgeError as exc:
            if exc.status >= 500 or isinstance(exc, Forbidden):
                raise
            where, text = _form_error(exc, inputs, page._)
            errors[where] = text
            keep_sent()
            return _show_outcome(page, _Outcome(exc.status, errors=errors), values)
        keep_sent()
        if errors or "data" not in inputs.paths:
            return _show_outcome(page, _Outcome(400, errors=errors), values)
        bridge = page.bridge
        translate = page._

        def work() -> _Outcome:
            return _run_check(
                bridge, inputs, principal, translate, action=action, sheet=sheet, revision_note=revision_note
            )

        def kept_of(out: _Outcome) -> tuple[dict[str, Any], int | None]:
            return out.to_json(), out.version_id

        handed_over = True  # run_check closes the inputs
        started = background.run_check(
            page,
            inputs,
            action=action,
            values=values,
            work=work,
            outcome=kept_of,
        )
        check_id, ended = started
        if ended is None:
            return page.redirect(f"/checks/{check_id}")
        return _show_outcome(page, ended, values)
    finally:
        if not handed_over:
            inputs.close()


@router.get("/checks/{check_id}")
def check_status(page: PageDep, check_id: Annotated[str, Path(max_length=64)]) -> Response:
    """A check of the submit page: "still checking" (the page refreshes itself), its outcome, or
    why it stopped. Only for the person who started it."""
    principal = page.require_signed_in()
    row = checks.get(page.db, principal=principal, ident=check_id)
    if row.action == "preview":  # the mapping builder's: its own status page
        return page.redirect(f"/mappings/checks/{check_id}")
    outcome = row.outcome or {}
    values = dict(outcome.get("values") or {})
    settings = page.bridge.settings
    gone = checks.lost(
        row, page.now, job_cpu_seconds=settings.job_cpu_seconds, job_wait_seconds=settings.job_wait_seconds
    )
    if row.state == CheckState.RUNNING and not gone:
        return page.render("check.html", check=row, running=True, refresh=CHECK_REFRESH_SECONDS)
    if row.state == CheckState.DONE:
        return _show_outcome(page, _Outcome.of(outcome), values)
    _ = page._
    if row.state == CheckState.RUNNING:
        message = _("The check did not finish: the server stopped while it ran.")
    else:
        message = outcome.get("problem") or _("The check failed on the server; the error has been logged.")
    return page.render("check.html", status=500 if row.state == CheckState.FAILED else 200, check=row,
                       running=False, message=message)  # fmt: skip


# ---------------------------------------------------------------- one version: details and review


def _official(
    page: Page, agency: str, ident: str, version: str
) -> tuple[list[OfficialSeries], list[Any], set[int]]:
    """The official series of a dataflow the viewer may see, them as chart inputs, and the ids of
    those the viewer may delete or make public."""
    p = page.principal
    found = official.list_official(page.db, principal=p, dataflow=(agency, ident, version))
    drawn = [charts.Official(o.label, official.load_table(page.db, o)) for o in found]
    managed = {o.id for o in found if p is not None and official.may_manage(p, o.nso_id)}
    return found, drawn, managed


def _official_form(page: Page) -> dict[str, Any]:
    """What the official-series form needs: may the viewer load, and for which NSOs."""
    p = page.principal
    if p is None:
        return {"may_load": False, "nsos": []}
    if p.is_admin:
        nsos = [o for o in orgs.list_organisations(page.db) if o.kind == OrgKind.NSO]
        return {"may_load": bool(nsos), "nsos": nsos}
    return {"may_load": official.may_manage(p, p.org_id), "nsos": []}  # an NSO's reviewers only


def _version_page(
    page: Page,
    version_id: int,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    official_values: dict[str, Any] | None = None,
) -> Response:
    now = page.now
    v = submissions.get_version(page.db, principal=page.principal, version_id=version_id, now=now)
    s = v.submission
    p = page.principal
    # which forms to show; the store decides again when one is sent
    producer = p is not None and (p.is_admin or (p.org_kind == OrgKind.CSO and access.is_producer(p, s)))
    reviewer = p is not None and (
        p.is_admin
        or (
            p.org_kind == OrgKind.NSO
            and p.role == Role.REVIEWER
            and access.is_mou_reviewer(page.db, p, s, now)
        )
    )
    allowed = submissions.NEXT[State(v.state)]
    actions = {
        "submit": producer and State.SUBMITTED in allowed,
        "withdraw": producer and State.WITHDRAWN in allowed,
        "accept": reviewer and State.ACCEPTED in allowed,
        "reject": reviewer and State.REJECTED in allowed,
        "publish": reviewer and State.PUBLISHED in allowed,
        "embargo": producer and State(v.state) in submissions.PENDING,
    }
    # what it shares with other submissions' published data, shown before the reviewer decides (#13)
    overlap = (
        submissions.overlap(page.db, principal=p, version_id=v.id, now=now)
        if actions["accept"] or actions["publish"]
        else None
    )
    table = published.version_published(page.db, v)  # the chart draws what readers may see (#12)
    dims = list(v.dimensions or [])
    view = _chart_view(page, table, dims, (s.agency, s.dataflow, s.dataflow_version), f"v{v.id}")
    earlier = [
        e
        for e in submissions.list_versions(page.db, principal=p, submission_id=s.id, now=now)
        if e.number < v.number
    ]
    changes = (
        compare(published.version_published(page.db, earlier[-1]), table, dims, earlier[-1].number)
        if earlier
        else None
    )
    # who pulled the data is for the producing CSO (and admins), as on /pulls
    pulls = access.can_see_pulls(p, s.producer_id)
    if pulls:
        page.bridge.audit.flush()  # the pulls this worker served before are in the list
    history = audit.history(page.db, version=v, pulls=pulls)
    return page.render(
        "version.html",
        status=status,
        v=v,
        s=s,
        report=group_report(published.report_for(p, v), page._),
        metadata=labelled_metadata(v.metadata_json or {}, page._),
        coverage=v.coverage or {},
        dsat=dsat_in(v.dsat, page._),  # its reasons in the page's language
        dsat_parts=dsat_breakdown(v.metadata_json or {}, page._),
        files=submissions.raw_files(page.db, p, v, now),
        history=history,
        people=access.can_see_people(p, s.producer_id),
        **view.context(),
        chart_base=f"/versions/{v.id}/chart",
        here=f"/versions/{v.id}",
        changes=changes,
        actions=actions,
        overlap=overlap,
        replace_chosen=bool(overlap and submissions.replace_chosen(page.db, v, overlap)),
        errors=errors or {},
        is_producer=producer,
        official_form=_official_form(page),
        official_values=official_values or {},
        flow_url=f"/dataflows/{quote(s.agency)}/{quote(s.dataflow)}/{quote(s.dataflow_version)}",
    )


@router.get("/versions/{version_id}")
def version_page(page: PageDep, version_id: Id) -> Response:
    return _version_page(page, version_id)


@router.get("/versions/{version_id}/chart/{number}.{ext}")
def version_chart(page: PageDep, version_id: Id, number: Id, ext: str) -> Response:
    """One chart of a version's page (the same filters and split) as an SVG or PNG file, or the
    CSV of its numbers."""
    v = submissions.get_version(page.db, principal=page.principal, version_id=version_id, now=page.now)
    s = v.submission
    table = published.version_published(page.db, v)
    view = _chart_view(
        page, table, list(v.dimensions or []), (s.agency, s.dataflow, s.dataflow_version), f"v{v.id}"
    )
    return _chart_file(page, view, number, ext, f"{s.dataset}-v{v.number}")


@router.post("/versions/{version_id}/{action}")
def version_action(
    page: PageDep,
    version_id: Id,
    action: str,
    csrf_token: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    until: Annotated[str, Form(max_length=40)] = "",
    replace: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A workflow step (the store checks who may take it), or the embargo (``until``, UTC)."""
    page.check_csrf(csrf_token)
    principal = page.require_signed_in()
    if action not in ACTIONS:
        raise NotFound(
            N_("there is no action '{action}'"),
            fix=N_("Use one of {actions}."),
            params={"action": action, "actions": ", ".join(ACTIONS)},
        )
    text = comment.strip() or None
    db, now = page.db, page.now
    try:
        if action == "submit":
            v = submissions.submit(db, principal=principal, version_id=version_id, now=now)
        elif action == "accept":
            v = submissions.accept(
                db, principal=principal, version_id=version_id, comment=text, replace=bool(replace), now=now
            )
        elif action == "reject":
            v = submissions.reject(
                db, principal=principal, version_id=version_id, comment=text or "", now=now
            )
        elif action == "publish":
            # an unticked box is no choice: the one made at acceptance, if any, still holds
            v = submissions.publish(
                db, principal=principal, version_id=version_id, replace=True if replace else None, now=now
            )
        elif action == "embargo":
            until_at = _utc_or_none(until)
            v = submissions.set_embargo(
                db, principal=principal, version_id=version_id, until=until_at, now=now
            )
        else:
            v = submissions.withdraw(db, principal=principal, version_id=version_id, reason=text, now=now)
    except Overlapping as exc:
        return _version_page(page, version_id, status=409, errors={f"replace-{action}": exc.problem})
    except UsageError as exc:
        field = "until" if action == "embargo" else f"comment-{action}"
        return _version_page(page, version_id, status=400, errors={field: f"{exc.problem}. {exc.fix or ''}"})
    page.say(page._(ACTION_DONE[action], number=v.number))
    return page.redirect(f"/versions/{v.id}")


def _utc_or_none(text: str) -> dt.datetime | None:
    """``YYYY-MM-DDTHH:MM`` (UTC, as the form asks) or an ISO date-time; empty lifts the embargo."""
    text = text.strip()
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            N_("'{text}' is not a date and time"),
            field="until",
            fix=N_("Write it as 2026-03-01T06:00 (UTC)."),
            params={"text": text},
        ) from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


@router.get("/reports/{token}.{fmt}")
def kept_report(page: PageDep, token: str, fmt: str) -> Response:
    """The full report of a check on the submit page, as HTML or JSON (for who checked it)."""
    principal = page.require_signed_in()
    content = reports.read(page.bridge.settings.data_dir, principal, token, fmt)
    return page.send_file(
        content, f"validation-report.{fmt}", reports.FORMATS[fmt], hashlib.sha256(content).hexdigest()
    )


@router.get("/versions/{version_id}/files/{file_id}")
def version_file(page: PageDep, version_id: Id, file_id: Id) -> Response:
    client = page.request.client.host if page.request.client else None
    f = submissions.get_file(
        page.db, principal=page.principal, file_id=file_id, now=page.now, client=client, version_id=version_id
    )
    return page.send_file(f.content, f.filename, f.media_type, f.sha256)


# ---------------------------------------------------------------- NSO inbox, pulls


@router.get("/inbox")
def inbox(page: PageDep) -> Response:
    principal = page.require(page.is_nso, page._("The review inbox"), page._("NSO reviewers"))
    now = page.now
    waiting = []
    for s in submissions.list_submissions(page.db, principal=principal, now=now):
        for v in submissions.list_versions(page.db, principal=principal, submission_id=s.id, now=now):
            if v.state in (State.SUBMITTED, State.ACCEPTED):
                waiting.append((s, v))
    waiting.sort(key=lambda sv: sv[1].submitted_at or sv[1].created_at)
    return page.render("inbox.html", waiting=waiting)


@router.get("/pulls")
def pulls(page: PageDep, org: str | None = None) -> Response:
    principal = page.require_signed_in()
    slug = org or principal.org_slug
    organisation = orgs.get_organisation(page.db, slug=slug)
    if organisation.kind != OrgKind.CSO or not access.can_see_pulls(principal, organisation.id):
        raise Forbidden(
            N_(
                "only the people of a CSO (and administrators) may see who pulled its data; "
                "'{slug}' is not yours or not a CSO"
            ),
            fix=N_("Sign in with an account of the CSO that produced the data."),
            params={"slug": slug},
        )
    page.bridge.audit.flush()  # the pulls this worker served before are in the list
    found = audit.pulls_of(page.db, cso_org_id=organisation.id)
    summary = pull_words.summarise(found)
    return page.render(
        "pulls.html",
        organisation=organisation,
        organisations=[r for r in summary if r.who is not None],
        public=[r for r in summary if r.who is None],
        pulls=pull_words.describe_all(found, page.bridge, page._),
    )


@router.get("/mous")
def mou_list(page: PageDep) -> Response:
    """The MoUs the signed-in organisation is party to, with the raw-files term in words."""
    principal = page.require_signed_in()
    now = page.now
    rows = [
        {
            "mou": m,
            "side": "cso" if m.cso_id == principal.org_id else "nso" if m.nso_id == principal.org_id else "",
            "in_force": mous.is_valid(m, now),
        }
        for m in mous.mous_for(page.db, principal)
    ]
    return page.render("mous.html", organisation=principal.org_slug, rows=rows)


# ---------------------------------------------------------------- published dataflows


def _flows(page: Page) -> dict[tuple[str, str, str], list[Version]]:
    out: dict[tuple[str, str, str], list[Version]] = {}
    for v in access.readable_versions(page.db, page.principal, None, page.now):
        s = v.submission
        out.setdefault((s.agency, s.dataflow, s.dataflow_version), []).append(v)
    return out


@router.get("/dataflows")
def dataflows(page: PageDep) -> Response:
    flows = []
    for (agency, ident, version), versions in sorted(_flows(page).items()):
        info = None
        try:
            info = page.bridge.structures.find("dataflow", ident, agency, version)
        except CgdBridgeError:
            info = None
        flows.append(
            {
                "agency": agency,
                "id": ident,
                "version": version,
                "name": info.name if info else ident,
                "versions": versions,
                "observations": sum(v.observations for v in versions),
                "producers": sorted({v.submission.producer.name for v in versions}),
                "periods": (
                    min((v.time_min for v in versions if v.time_min), default=""),
                    max((v.time_max for v in versions if v.time_max), default=""),
                ),
                "url": f"/dataflows/{quote(agency)}/{quote(ident)}/{quote(version)}",
            }
        )
    return page.render("dataflows.html", flows=flows)


class _Query:
    """The filters of a dataflow page: codes per dimension and a period range, from the URL, and
    the dimension the charts are split by (``by``: small multiples)."""

    def __init__(self, request: Request, dims: list[str]) -> None:
        params = request.query_params
        self.codes = {d: [c for c in params.getlist(d) if c] for d in dims}
        self.start = params.get("startPeriod", "").strip()
        self.end = params.get("endPeriod", "").strip()
        self.by = params.get("by", "").strip()
        if self.by and self.by not in dims:
            raise UsageError(
                N_("the charts cannot be split by '{by}': it is not a dimension of this dataflow"),
                fix=N_("Use one of its dimensions: {dims}."),
                field="by",
                params={"by": self.by, "dims": ", ".join(dims)},
            )
        self.dims = dims

    def key(self) -> str:
        """The SDMX REST v1 key (``all`` when nothing is filtered)."""
        if not any(self.codes.values()):
            return "all"
        return ".".join("+".join(self.codes[d]) for d in self.dims)

    def period_query(self) -> list[tuple[str, str]]:
        return [(n, v) for n, v in (("startPeriod", self.start), ("endPeriod", self.end)) if v]

    def page_query(self) -> list[tuple[str, str]]:
        return [(d, c) for d in self.dims for c in self.codes[d]] + self.period_query()

    def query_string(self) -> str:
        """The filters and the split of the charts as a query string (for links that keep them)."""
        return urlencode(self.page_query() + ([("by", self.by)] if self.by else []))

    def v2_query(self) -> list[tuple[str, str]]:
        out = [(f"c[{d}]", ",".join(self.codes[d])) for d in self.dims if self.codes[d]]
        return out + self.period_query()


def _flow_versions(page: Page, agency: str, ident: str, version: str) -> tuple[service.Flow, list[Version]]:
    ref = FlowRef(agency, ident, version)
    try:
        flow = service.find_flow(page.bridge, ref)
    except CgdBridgeError:
        raise NotFound(
            N_("there is no dataflow {agency}:{ident}({version})"),
            fix=N_("Pick one from the list of dataflows."),
            params={"agency": agency, "ident": ident, "version": version},
        ) from None
    versions = access.readable_versions(page.db, page.principal, (agency, ident, version), page.now)
    if not versions:
        raise NotFound(
            N_("there is no published data of {agency}:{ident}({version}) that you may read"),
            fix=N_("Sign in if you have an MoU with its producer, or pick another dataflow."),
            params={"agency": agency, "ident": ident, "version": version},
        )
    return flow, versions


def _flow_table(
    page: Page, request: Request, agency: str, ident: str, version: str
) -> tuple[list[Version], list[str], _Query, dict[str, list[str]], FlowNames, pa.Table | None]:
    """A dataflow page's selection: its versions, dimensions, filters, codes, names and the
    observations chosen (logged as a pull, like any other: the producer sees it)."""
    flow, versions = _flow_versions(page, agency, ident, version)
    dims = flow.dimensions
    q = _Query(request, dims)
    codes = _flow_cube(versions, dims)
    params = parse_params("&".join(f"{n}={quote(v)}" for n, v in q.period_query()))
    keys = service.parse_keys(q.key(), len(dims), api=1)
    gathered = service.gather_indexed(page.db, versions, flow)
    table = select(gathered[0], dims, keys, params, index=gathered[1]) if gathered else None
    names = _names(page, (agency, ident, version), dims, codes, table)
    if table is not None and table.num_rows:
        counts = np.bincount(table[service.VERSION_COLUMN].to_numpy(), minlength=len(versions))
        page.bridge.audit.record_sync(
            page.principal,
            [(v, int(n)) for v, n in zip(versions, counts, strict=True) if n],
            f"web {route_path(request.scope)}" + (f"?{request.url.query}" if request.url.query else ""),
            client=request.client.host if request.client else None,
        )
    return versions, dims, q, codes, names, table


@router.get("/dataflows/{agency}/{ident}/{version}")
def dataflow(page: PageDep, request: Request, agency: str, ident: str, version: str) -> Response:
    versions, dims, q, codes, names, table = _flow_table(page, request, agency, ident, version)
    rows = table.slice(0, PAGE_ROWS).to_pylist() if table is not None else []
    view = _chart_view(
        page, table, dims, (agency, ident, version), "flow", names=names, cube=codes, chosen=True
    )
    base = str(request.base_url).rstrip("/")
    page_query = q.page_query()
    v1 = f"{base}/sdmx/rest/data/{agency},{ident},{version}/{q.key()}"
    v1_params = urlencode([*q.period_query(), ("format", "csv")])
    v2_params = urlencode(q.v2_query(), safe="[],:+")
    here = f"/dataflows/{quote(agency)}/{quote(ident)}/{quote(version)}"
    downloads = [
        (page._(title), name, f"{here}/download?" + urlencode([*page_query, ("format", name)]))
        for name, title in _EXTRA_TITLES.items()
    ] + [
        (f.title, f.name, f"{here}/download?" + urlencode([*page_query, ("format", f.name)]))
        for f in FORMATS.values()
    ]
    return page.render(
        "dataflow.html",
        agency=agency,
        ident=ident,
        version=version,
        name=names.name or ident,
        dims=dims,
        rows=rows,
        total=table.num_rows if table is not None else 0,
        shown_columns=[*view.varying, "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS"],
        column_names={
            "TIME_PERIOD": page._("Period"),
            "OBS_VALUE": page._("Value"),
            "OBS_STATUS": page._("Observation status"),
        },
        **view.context(),
        chart_base=f"{here}/chart",
        versions=versions,
        downloads=downloads,
        bundle=f"{here}/bundle?" + urlencode(page_query) if page_query else f"{here}/bundle",
        sdmx_v1=v1 + ("?" + v1_params if v1_params else ""),
        sdmx_v2=f"{base}/sdmx/v2/data/dataflow/{agency}/{ident}/{version}/*"
        + (f"?{v2_params}" if v2_params else ""),
        here=here,
    )


@router.get("/dataflows/{agency}/{ident}/{version}/chart/{number}.{ext}")
def dataflow_chart(
    page: PageDep, request: Request, agency: str, ident: str, version: str, number: Id, ext: str
) -> Response:
    """One chart of a dataflow page (the same filters and split) as an SVG or PNG file, or the
    CSV of its numbers."""
    _versions, dims, _q, codes, names, table = _flow_table(page, request, agency, ident, version)
    view = _chart_view(
        page, table, dims, (agency, ident, version), "flow", names=names, cube=codes, chosen=True
    )
    return _chart_file(page, view, number, ext, ident)


# ---------------------------------------------------------------- charts (#17)


@dataclass
class ChartView:
    """What a page with charts shows: the charts of the chosen slice, the filter controls (the
    dimensions that vary, their codes and names, the choice made) and the official series."""

    charts: list[charts.Chart]
    names: FlowNames
    varying: list[str]
    codes: dict[str, list[str]]
    query: _Query
    official_series: list[OfficialSeries]
    official_managed: set[int]
    notes: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        return {
            "charts": self.charts,
            "names": self.names,
            "varying": self.varying,
            "codes": self.codes,
            "query": self.query,
            "official_series": self.official_series,
            "official_managed": self.official_managed,
            "code_notes": self.notes,
        }


def _flow_cube(versions: list[Version], dims: list[str]) -> dict[str, list[str]]:
    """The codes of each dimension in the versions' data."""
    cube: dict[str, set[str]] = {d: set() for d in dims}
    for v in versions:
        for d, found in (v.cube or {}).items():
            if d in cube:
                cube[d].update(found)
    return {d: sorted(c) for d, c in cube.items()}


def _names(
    page: Page,
    flow: tuple[str, str, str],
    dims: list[str],
    codes: Mapping[str, list[str]],
    table: pa.Table | None,
) -> FlowNames:
    """The names of the dataflow, its dimensions and codes, and of the units in ``table``."""
    cube = dict(codes)
    extra = [a for a in ("UNIT_MEASURE", "OBS_STATUS") if table is not None and a in table.column_names]
    for a in extra:
        assert table is not None
        cube[a] = sorted(str(u) for u in pc.unique(table[a]).to_pylist() if u)
    return flow_names(page.bridge.structures, *flow, [*dims, *extra], cube)


def _chart_view(
    page: Page,
    table: pa.Table | None,
    dims: list[str],
    flow: tuple[str, str, str],
    id_prefix: str,
    *,
    names: FlowNames | None = None,
    cube: dict[str, list[str]] | None = None,
    chosen: bool = False,
) -> ChartView:
    """The charts of the slice of ``table`` the page's filters choose (``chosen``: it is chosen
    already), with the same filter controls on every page (the dataflow page, a version's page)."""
    q = _Query(page.request, dims)
    if cube is None:
        cube = {
            d: sorted(str(c) for c in pc.unique(table[d]).to_pylist() if c is not None)
            if table is not None and d in table.column_names
            else []
            for d in dims
        }
    if names is None:
        names = _names(page, flow, dims, cube, table)
    if table is not None and not chosen:
        params = parse_params("&".join(f"{n}={quote(v)}" for n, v in q.period_query()))
        table = select(table, dims, service.parse_keys(q.key(), len(dims), api=1), params)
    official_series, official_drawn, official_managed = _official(page, *flow)
    drawn = (
        charts.series_charts(
            table,
            dims,
            names=names.codes,
            concepts=names.concepts,
            id_prefix=id_prefix,
            official=official_drawn,
            by=q.by or None,
            _=page._,
        )
        if table is not None
        else []
    )
    notes = [page._(note) for (d, c), note in charts.MISREAD.items() if c in cube.get(d, [])]
    return ChartView(
        charts=drawn,
        names=names,
        varying=[d for d in dims if len(cube.get(d, [])) > 1],
        codes=cube,
        query=q,
        official_series=official_series,
        official_managed=official_managed,
        notes=notes,
    )


#: the files of one chart: the chart as SVG or PNG, the numbers behind it as CSV
CHART_FILES = ("svg", "png", "csv")


def _chart_file(page: Page, view: ChartView, number: int, ext: str, stem: str) -> Response:
    """Chart ``number`` (from 1) of ``view`` as ``svg``, ``png`` or ``csv`` (of the split the
    page chose: ``by``)."""
    if ext not in CHART_FILES:
        raise NotFound(
            N_("there is no chart file of the kind '{ext}'"),
            fix=N_("Use .svg or .png (the chart) or .csv (its numbers)."),
            params={"ext": ext},
        )
    if not 1 <= number <= len(view.charts):
        raise NotFound(
            N_("there is no chart {number} for this selection (it has {count})"),
            fix=N_("Go back to the page and use the download links under a chart."),
            params={"number": number, "count": len(view.charts)},
        )
    c = view.charts[number - 1]
    split = f"-by-{c.by_id}" if c.by_id else ""
    name = f"{stem}-{c.code or 'chart'}{split}-{number}.{ext}"
    if ext == "png":
        body, media = charts.chart_png(c), "image/png"
    elif ext == "svg":
        body, media = charts.standalone_svg(c).encode("utf-8"), "image/svg+xml"
    else:
        text = "\ufeff" + charts.chart_csv(c, view.names.concepts, page._)
        body, media = text.encode("utf-8"), "text/csv; charset=utf-8"
    return page.finish(Response(body, media_type=media, headers={"Content-Disposition": attachment(name)}))


#: the downloads for people who do not read SDMX (#17), listed before the SDMX formats
_EXTRA_TITLES = {
    bundles.SPREADSHEET: N_("Spreadsheet (XLSX): names beside codes, a codes sheet, the quality metadata"),
    bundles.LABELLED_CSV: N_("SDMX-CSV with names beside codes"),
}


@router.get("/dataflows/{agency}/{ident}/{version}/download")
async def download(page: PageDep, request: Request, agency: str, ident: str, version: str) -> Response:
    """The selection as an SDMX REST v1 answer (same negotiation, access rules and pull log),
    or as a spreadsheet or labelled SDMX-CSV of the same published view."""
    flow, _versions = await run_in_threadpool(_flow_versions, page, agency, ident, version)
    q = _Query(request, flow.dimensions)
    fmt = request.query_params.get("format", "sdmx-csv-1.0")
    if fmt not in FORMATS and fmt not in bundles.EXTRA_FORMATS:
        names = ", ".join([*bundles.EXTRA_FORMATS, *FORMATS])
        raise UsageError(
            N_("'{fmt}' is not a format of this server"),
            fix=N_("Use one of {names}."),
            params={"fmt": fmt, "names": names},
        )
    raw = urlencode([*q.period_query(), ("format", fmt)])
    if fmt in bundles.EXTRA_FORMATS:
        return page.finish(await _bundle_download(page, request, FlowRef(agency, ident, version), q, fmt))
    answer = await service.data_response(
        request,
        page.bridge,
        page.principal,
        api=1,
        flow_ref=FlowRef(agency, ident, version),
        key_text=q.key(),
        provider=None,
        params=parse_params(raw),
    )
    suffix = FORMATS[fmt].suffix
    stamp = page.now.strftime("%Y%m%d")
    answer.headers["Content-Disposition"] = f'attachment; filename="{ident}-{stamp}{suffix}"'
    return page.finish(answer)


@router.get("/dataflows/{agency}/{ident}/{version}/bundle")
async def bundle(page: PageDep, request: Request, agency: str, ident: str, version: str) -> Response:
    """The selection (by default the whole dataflow) as one ZIP: the data in every format, the
    spreadsheet, the quality metadata and a README.txt; of the published view, logged as a pull."""
    flow, _versions = await run_in_threadpool(_flow_versions, page, agency, ident, version)
    q = _Query(request, flow.dimensions)
    return page.finish(await _bundle_download(page, request, FlowRef(agency, ident, version), q, "bundle"))


async def _bundle_download(page: Page, request: Request, ref: FlowRef, q: _Query, fmt: str) -> Response:
    response: Response = await bundles.download_response(
        request,
        page.bridge,
        page.principal,
        flow_ref=ref,
        key_text=q.key(),
        params=parse_params("&".join(f"{n}={quote(v)}" for n, v in q.period_query())),
        fmt=fmt,
        now=page.now,
        _=page._,
    )
    return response


# ---------------------------------------------------------------- the quality metadata form


def _metadata_defaults(page: Page) -> dict[str, dict[str, Any]]:
    """What a new record of a CSO starts with, by where it comes from: its organisation (name,
    kind, the person's e-mail address, the first version) and its MoUs in force (their use
    conditions; the area codelist of the dataflow when they cover one). The person sees each
    marked as filled in for them, and may change it."""
    if not page.is_cso or page.principal is None:
        return {}
    from cgd_bridge.metadata.model import UseCondition
    from cgd_bridge.sdmx.contract import contract_for

    user = orgs.get_user(page.db, username=page.principal.username)
    org = user.organisation
    producer: dict[str, Any] = {"organisation": org.name}
    if org.kind == OrgKind.CSO:
        producer["type"] = "CSO"
    if user.email:
        producer["contact_email"] = user.email
    out: dict[str, dict[str, Any]] = {"organisation": {"dataset": {"version": "1.0.0"}, "producer": producer}}
    agreed = [
        m for m in mous.mous_for(page.db, page.principal) if m.cso_id == org.id and mous.is_valid(m, page.now)
    ]
    known = {str(c) for c in UseCondition}
    conditions = list(
        dict.fromkeys(str(c) for m in agreed for c in m.use_conditions or () if str(c) in known)
    )
    from_mou: dict[str, Any] = {"use_conditions": conditions} if conditions else {}
    flows = {str(r) for m in agreed for r in m.dataflows or () if "*" not in str(r)}
    if len(flows) == 1:
        try:
            contract = contract_for(flows.pop(), page.bridge.structures)
        except CgdBridgeError:
            contract = None  # a dataflow the structures do not have: nothing to suggest
        area = next((d for d in contract.dimensions if d.id == "REF_AREA"), None) if contract else None
        if area is not None and area.codelist:
            from_mou["geography"] = {"codelist": area.codelist.split(":")[-1].split("(")[0]}
    if from_mou:
        out["mou"] = from_mou
    return out


def _step_key(value: str | None) -> str | None:
    return value if value in metadata_form.STEP_KEYS else None


def _metadata_page(
    page: Page,
    record: Mapping[str, Any] | None,
    *,
    status: int = 200,
    report: Report | None = None,
    summary: dict[str, str] | None = None,
    note: str | None = None,
    draft_id: int | None = None,
    step: str | None = None,
    defaults: Mapping[str, Mapping[str, Any]] | None = None,
) -> Response:
    """The form in its steps. ``report`` (a check the person asked for) marks its errors at their
    fields; whatever was asked, a record complete for submission offers its next step, *Submit
    data with this metadata* (#17). Open: the ``step`` asked for and every step with an error;
    else the first step with a field still needed to submit."""
    _ = page._
    form = metadata_form.build(record, defaults=defaults)
    errors = metadata_form.form_errors(report.findings, form, _) if report is not None else []
    unplaced = metadata_form.unplaced_errors(report.findings, form, _) if report is not None else []
    ready = report if report is not None else (_metadata_report(record) if record else None)
    for s in form.steps:
        s.is_open = s.step.key == step or s.errors > 0
    if not any(s.is_open for s in form.steps) and step is None:
        first = next((s for s in form.steps if not s.progress.complete_now), None)
        if first is not None:
            first.is_open = True
    return page.render(
        "metadata.html",
        status=status,
        form=form,
        errors={e.path: e for e in errors},
        error_list=errors,
        unplaced=unplaced,
        summary=summary or {},
        stages=metadata_form.STAGE,
        missing=metadata_form.missing_now(form),
        default_notes=metadata_form.DEFAULT_NOTES,
        can_submit=ready is not None and ready.valid,
        report=group_report(report.to_dict(), page._) if report is not None else None,
        note=note,
        drafts=_drafts_of(page),
        draft_id=draft_id,
        open_step=step,
        fresh=record is None,
    )


@router.get("/metadata")
def metadata_page(
    page: PageDep,
    draft: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    step: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The form, empty (a CSO's with its organisation filled in) or (``?draft=ID``) with a saved
    draft of the CSO to resume; ``?step=KEY`` opens that step."""
    if draft is None:
        return _metadata_page(page, None, step=_step_key(step), defaults=_metadata_defaults(page))
    page.require(page.is_cso, page._("Metadata drafts"), page._("CSO submitters"))
    saved = drafts.get_draft(page.db, principal=page.principal, draft_id=draft)
    note = page._(
        "You are editing the saved draft '{name}'. Save it on the server again to keep your changes.",
        name=saved.name,
    )
    # an unfinished draft is not marked with errors until the CSO asks for the check; a complete
    # one keeps its next step: "Submit data with this metadata" (#17)
    return _metadata_page(page, saved.record or {}, note=note, draft_id=saved.id, step=_step_key(step))


def _draft_id(fields: Mapping[str, list[str]]) -> int | None:
    """The form's ``draft_id`` (the draft being edited), or None when there is none or it is not an id."""
    draft_id = (fields.get("draft_id") or [""])[-1]
    return int(draft_id) if draft_id.isdigit() and 0 < int(draft_id) < MAX_ID else None


def _store_draft(
    page: Page, record: dict[str, Any], draft_id: int | None, step: str | None = None
) -> Response:
    principal = page.require(page.is_cso, page._("Metadata drafts"), page._("CSO submitters"))
    saved = drafts.save_draft(page.db, principal=principal, record=record, draft_id=draft_id)
    page.say(page._("The draft '{name}' was saved on the server.", name=saved.name))
    where = f"&step={step}#step-{step}" if step else ""
    return page.redirect(f"/metadata?draft={saved.id}{where}")


def _go_to_step(page: Page, record: dict[str, Any], draft_id: int | None, step: str | None) -> Response:
    """The next step (or the one chosen): a CSO's record is saved as its draft on the way, so
    nothing typed is lost; the public's travels in the form itself (the server keeps nothing)."""
    if page.is_cso:
        return _store_draft(page, record, draft_id, step)
    return _metadata_page(page, record, draft_id=draft_id, step=step)


@router.post("/metadata/drafts/{draft_id}/delete")
def metadata_draft_delete(page: PageDep, draft_id: Id, csrf_token: Annotated[str, Form()] = "") -> Response:
    page.check_csrf(csrf_token)
    page.require(page.is_cso, page._("Metadata drafts"), page._("CSO submitters"))
    gone = drafts.delete_draft(page.db, principal=page.principal, draft_id=draft_id)
    page.say(page._("The draft '{name}' was deleted.", name=gone.name))
    return page.redirect("/metadata#drafts-title")


def _metadata_report(record: Mapping[str, Any]) -> Report:
    """The metadata checks of a record, at the submission stage."""
    from cgd_bridge.checks.metadata import metadata_findings
    from cgd_bridge.metadata.load import load_metadata

    with tempfile.TemporaryDirectory(prefix="cgd-bridge-md-") as tmp:
        path = FilePath(tmp) / "quality.yaml"
        path.write_text(metadata_form.to_yaml(record), encoding="utf-8")
        loaded = load_metadata(path)
        report = Report()
        report.inputs.append(loaded.info)
        report.extend(loaded.findings)
        report.extend(metadata_findings(loaded, stage="submission"))
        report.finish()
    return report


def _check_metadata(
    page: Page, record: Mapping[str, Any], draft_id: int | None = None, step: str | None = None
) -> Response:
    report = _metadata_report(record)
    _ = page._
    if report.valid:
        note = (
            _("The metadata is complete for submission. Submit data with it, or save it as a draft.")
            if page.is_cso
            else _(
                "The metadata is complete for submission. Save it as a YAML file and upload it with "
                "your dataset."
            )
        )
    else:  # counted as the page shows them: one per field (two findings about one field are one)
        form = metadata_form.build(record)
        shown = len(metadata_form.form_errors(report.findings, form, _))
        shown += len(metadata_form.unplaced_errors(report.findings, form, _))
        note = _(
            "The metadata has {n} error(s): each is marked at its field below.", n=shown or report.error_count
        )
    return _metadata_page(
        page,
        record,
        status=200 if report.valid else 422,
        report=report,
        note=note,
        draft_id=draft_id,
        step=step,
    )


def _submit_with_metadata(
    page: Page, record: Mapping[str, Any], draft_id: int | None, step: str | None
) -> Response:
    """*Submit data with this metadata*: the record as the form has it now, checked; complete, the
    submit page asks only for the dataset and the mapping; else the form with its errors."""
    page.require(page.is_cso, page._("Submitting data"), page._("CSO submitters"))
    report = _metadata_report(record)
    if not report.valid:
        return _check_metadata(page, record, draft_id, step)
    return _submit_page_with(page, metadata_form.to_yaml(record))


@router.post("/metadata")
async def metadata_post(page: PageDep, request: Request) -> Response:
    """``action=load`` (a file into the form), ``check`` (run the metadata checks), ``save`` (YAML),
    ``store`` (a draft on the server, ``draft_id`` to save over one), ``step:KEY`` (go to a step:
    a CSO's record saved as its draft on the way) or ``submit`` (on to the submit page)."""
    async with request.form(max_files=1, max_fields=5000) as form:
        page.check_csrf(str(form.get("csrf_token") or ""))
        action = str(form.get("action") or "check")
        if action == "load":
            upload = form.get("existing")
            content = (
                await upload.read(MAX_METADATA_BYTES + 1) if isinstance(upload, StarletteUpload) else b""
            )
            name = FilePath(getattr(upload, "filename", "") or "metadata.yaml").name
        else:
            fields = {k: [str(v) for v in form.getlist(k) if isinstance(v, str)] for k in form}
    if action == "load":
        return await run_in_threadpool(_load_metadata_file, page, name, content)
    record = metadata_form.record_from_form(fields)
    draft_id = _draft_id(fields)
    step = _step_key((fields.get("step") or [""])[-1])
    if action.startswith("step:"):
        return await run_in_threadpool(_go_to_step, page, record, draft_id, _step_key(action[5:]))
    if action == "store":
        return await run_in_threadpool(_store_draft, page, record, draft_id, step)
    if action == "submit":
        return await run_in_threadpool(_submit_with_metadata, page, record, draft_id, step)
    if action == "save":
        dataset = str((record.get("dataset") or {}).get("id") or "quality")
        return page.finish(
            Response(
                metadata_form.to_yaml(record),
                media_type="application/yaml; charset=utf-8",
                headers={"Content-Disposition": attachment(f"{dataset[:60]}.quality.yaml")},
            )
        )
    return await run_in_threadpool(_check_metadata, page, record, draft_id, step)


def _load_metadata_file(page: Page, name: str, content: bytes) -> Response:
    _ = page._
    if not content:
        return _metadata_page(
            page, None, status=400, summary={"existing": _("Choose a metadata file (YAML or JSON) to load.")}
        )
    if len(content) > MAX_METADATA_BYTES:
        return _metadata_page(
            page,
            None,
            status=413,
            summary={"existing": _("The file is larger than 2 MB: is it a metadata file?")},
        )
    suffix = (
        FilePath(name).suffix.lower()
        if FilePath(name).suffix.lower() in (".json", ".yml", ".yaml")
        else ".yaml"
    )
    with tempfile.TemporaryDirectory(prefix="cgd-bridge-md-") as tmp:
        path = FilePath(tmp) / f"metadata{suffix}"
        path.write_bytes(content)
        try:
            raw = page.bridge.jobs.run(
                "read_metadata", what=msg(N_("the file '{name}'"), name=name), path=str(path)
            )
        except CgdBridgeError as exc:
            if exc.status >= 500:
                raise
            problem, fix = exc.texts(page._)  # in the page's language
            text = f"{name}: {problem}" + (f". {fix}" if fix else "")
            return _metadata_page(page, None, status=exc.status, summary={"existing": text})
    return _check_metadata(page, raw)
