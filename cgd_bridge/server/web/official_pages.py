"""The web forms of official series: an NSO loads one on a review page, deletes it, makes it public.

Paths: ``POST /official`` (multipart: ``file``, ``label``, ``note``, ``public``, ``nso`` for
admins, and the ``version_id`` of the review page the form is on), ``POST
/official/{id}/delete``, ``POST /official/{id}/public`` (``public`` = 1 or 0) and ``GET
/official/{id}/file`` (the file as uploaded). Every form carries the session's CSRF token; the
store (:mod:`cgd_bridge.store.official`) decides again who may do what, as for the API and CLI.

A file that does not fit the dataflow shows the review page again with the problems (each with
its row and column) at the file field; nothing is stored.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from cgd_bridge.errors import CgdBridgeError, Forbidden, NotFound
from cgd_bridge.sdmx.read.data import read_official
from cgd_bridge.server.web.pages import PageDep, WebRoute
from cgd_bridge.server.web.routes import Id, _local, _version_page
from cgd_bridge.store import official, submissions
from cgd_bridge.store.models import MAX_ID

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MAX_NOTE = 4000


def _field(exc: CgdBridgeError) -> str:
    return {"label": "official-label", "nso": "official-nso"}.get(exc.field or "", "official-file")


@router.post("/official")
async def load(
    page: PageDep,
    version_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf_token: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    label: Annotated[str, Form(max_length=400)] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
    public: Annotated[str, Form()] = "",
    nso: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Load an SDMX file as an official series of the dataflow of version ``version_id``."""
    page.check_csrf(csrf_token)
    p = page.require(page.is_nso, page._("Loading official series"), page._("NSO reviewers"))
    values = {"label": label, "note": note, "public": bool(public), "nso": nso}
    errors: dict[str, str] = {}
    _ = page._
    if not label.strip():
        errors["official-label"] = _("Give the source of the official series, e.g. 'KNBS KDHS 2022'.")
    if p.is_admin and not nso:
        errors["official-nso"] = _("Pick the NSO whose official series this is.")
    limit = page.bridge.settings.max_upload_mb << 20
    # one byte past the limit is enough to know it is too large (as the API reads it)
    content = await file.read(limit + 1) if file is not None and file.filename else b""
    if not content:
        errors["official-file"] = _("Choose the SDMX-CSV or SDMX-ML file of the official series.")
    if len(content) > limit:
        errors["official-file"] = _("The file is larger than {n} MB.", n=limit >> 20)

    def work() -> Response:
        v = submissions.get_version(page.db, principal=p, version_id=version_id, now=page.now)
        s = v.submission
        if errors:
            return _version_page(page, version_id, status=400, errors=errors, official_values=values)
        try:
            series = official.load_official_file(
                page.db,
                principal=p,
                nso=nso if p.is_admin else p.org_slug,
                dataflow=s.dataflow_ref,
                label=label,
                filename=(file.filename if file is not None else None) or "official",
                content=content,
                read=partial(read_official, structures=page.bridge.structures),
                note=note,
                public=bool(public),
            )
        except CgdBridgeError as exc:
            if exc.status >= 500 or isinstance(exc, Forbidden | NotFound):
                raise
            errors[_field(exc)] = exc.message_in(page._)
            return _version_page(page, version_id, status=exc.status, errors=errors, official_values=values)
        page.say(
            _(
                "The official series '{label}' ({n} observations) was loaded.",
                label=series.label,
                n=series.observations,
            )
        )
        return page.redirect(f"/versions/{version_id}#official-title")

    return await run_in_threadpool(work)


@router.post("/official/{series_id}/delete")
def delete(
    page: PageDep, series_id: Id, csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
) -> Response:
    page.check_csrf(csrf_token)
    p = page.require_signed_in()
    series = official.delete_official(page.db, principal=p, series_id=series_id)
    page.say(page._("The official series '{label}' was deleted.", label=series.label))
    return page.redirect(_local(next) or "/")


@router.post("/official/{series_id}/public")
def make_public(
    page: PageDep,
    series_id: Id,
    csrf_token: Annotated[str, Form()] = "",
    public: Annotated[str, Form()] = "1",
    next: Annotated[str, Form()] = "",
) -> Response:
    page.check_csrf(csrf_token)
    p = page.require_signed_in()
    series = official.set_public(page.db, principal=p, series_id=series_id, public=public == "1")
    page.say(
        page._("The official series '{label}' is now public.", label=series.label)
        if series.is_public
        else page._("The official series '{label}' is now seen by its NSO only.", label=series.label)
    )
    return page.redirect(_local(next) or "/")


@router.get("/official/{series_id}/file")
def raw_file(page: PageDep, series_id: Id) -> Response:
    series = official.get_official(page.db, principal=page.principal, series_id=series_id)
    return page.send_file(
        official.read_content(page.db, series), series.filename, series.media_type, series.sha256
    )
