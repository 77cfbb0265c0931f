"""Official series over the JSON API, under ``/api/official``: an NSO loads its reference data
for a dataflow (SDMX-CSV 1.0/2.0 or SDMX-ML 2.1, multipart), lists, reads, deletes and makes it
public. The store (:mod:`cgd_bridge.store.official`) decides who may do what, as for the web
page and ``cgd-bridge admin official load``; a series one may not see answers 404.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cgd_bridge.errors import UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.read.data import read_official
from cgd_bridge.server.deps import BridgeDep, PrincipalDep, SessionDep, UserDep, require_role
from cgd_bridge.server.downloads import attachment
from cgd_bridge.server.uploads import PayloadTooLarge
from cgd_bridge.store import official
from cgd_bridge.store.models import MAX_ID, OfficialSeries, OrgKind

router = APIRouter(prefix="/api/official", tags=["official series"])
SeriesId = Annotated[int, Path(ge=1, le=MAX_ID, description="An official series id, from the list.")]


class OfficialSummary(BaseModel):
    """An official series (without its observations)."""

    id: int
    nso: str = Field(description="The NSO's slug, e.g. knbs.")
    dataflow: str = Field(description="AGENCY:ID(VERSION), e.g. CGD_BRIDGE:DF_CGD_KE(1.0).")
    label: str = Field(description="The source, as chart legends show it, e.g. KNBS KDHS 2022.")
    note: str | None = None
    public: bool
    format: str = Field(description="sdmx-csv-1.0, sdmx-csv-2.0 or sdmx-ml-2.1.")
    observations: int
    time_range: list[str | None]
    loaded_at: dt.datetime
    loaded_by: str | None = None
    file: dict[str, str | int] = Field(description="filename, media_type, size and sha256 of the raw file.")


class Visibility(BaseModel):
    public: bool = Field(description="True: everyone may see it; false: its NSO and admins only.")


def _summary(s: OfficialSeries) -> OfficialSummary:
    return OfficialSummary(
        id=s.id,
        nso=s.nso.slug,
        dataflow=s.dataflow_ref,
        label=s.label,
        note=s.note,
        public=s.is_public,
        format=s.format,
        observations=s.observations,
        time_range=[s.time_min, s.time_max],
        loaded_at=s.loaded_at,
        loaded_by=s.loaded_by.username if s.loaded_by else None,
        file={"filename": s.filename, "media_type": s.media_type, "size": s.size, "sha256": s.sha256},
    )


@router.post(
    "",
    status_code=201,
    response_model=OfficialSummary,
    summary="Load an official series (NSO reviewer or admin)",
    responses={
        400: {
            "description": "The file does not fit the dataflow's DSD; the message lists each row and column."
        },
        403: {"description": "Only reviewers of that NSO and admins may load its official series."},
        413: {"description": "Upload too large."},
    },
)
async def load(
    bridge: BridgeDep,
    session: SessionDep,
    principal: UserDep,
    file: Annotated[UploadFile, File(description="SDMX-CSV 1.0/2.0 or SDMX-ML 2.1 data of the dataflow.")],
    dataflow: Annotated[
        str, Form(description="AGENCY:ID(VERSION) of the dataflow, e.g. CGD_BRIDGE:DF_CGD_KE(1.0).")
    ],
    label: Annotated[str, Form(description="The source, e.g. KNBS KDHS 2022.")],
    nso: Annotated[
        str | None, Form(description="The NSO's slug (default: yours; admins must give it).")
    ] = None,
    note: Annotated[str | None, Form(description="A longer source note.")] = None,
    public: Annotated[
        bool, Form(description="Everyone may see it (default: its NSO and admins only).")
    ] = False,
) -> OfficialSummary:
    """Read the file, check it against the dataflow's DSD and store it; nothing is stored on any error."""
    require_role(principal, "reviewer")
    if nso is None:
        if principal.org_kind != OrgKind.NSO:
            raise UsageError(
                N_("say for which NSO this official series is"),
                fix=N_("Send the form field nso."),
                field="nso",
            )
        nso = principal.org_slug
    limit = bridge.settings.max_upload_mb << 20
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(
            N_("the file '{filename}' is larger than {mb} MB"),
            fix=N_("Ask the administrator to raise CGD_BRIDGE_MAX_UPLOAD_MB."),
            file=file.filename,
            params={"filename": file.filename, "mb": limit >> 20},
        )

    def work() -> OfficialSummary:
        series = official.load_official_file(
            session,
            principal=principal,
            nso=nso,
            dataflow=dataflow,
            label=label,
            filename=file.filename or "official",
            content=content,
            read=partial(read_official, structures=bridge.structures),
            note=note,
            public=public,
        )
        return _summary(series)

    return await run_in_threadpool(work)


@router.get("", response_model=list[OfficialSummary], summary="Official series you may see")
def list_series(
    session: SessionDep,
    principal: PrincipalDep,
    dataflow: Annotated[str | None, Query(description="Only this dataflow, AGENCY:ID(VERSION).")] = None,
    nso: Annotated[str | None, Query(description="Only this NSO's (slug).")] = None,
) -> list[OfficialSummary]:
    """Public ones for everyone; an NSO's private ones for its people and admins."""
    flow = None
    if dataflow:
        from cgd_bridge.sdmx.refs import parse_ref

        agency, ident, version = parse_ref(dataflow)
        if agency is None or version is None:
            raise UsageError(
                N_("'{dataflow}' is not AGENCY:ID(VERSION)"),
                fix=N_("Give the whole reference, e.g. CGD_BRIDGE:DF_CGD_KE(1.0)."),
                field="dataflow",
                params={"dataflow": dataflow},
            )
        flow = (agency, ident, version)
    return [_summary(s) for s in official.list_official(session, principal=principal, dataflow=flow, nso=nso)]


@router.get("/{series_id}", response_model=OfficialSummary, summary="One official series")
def get_series(session: SessionDep, principal: PrincipalDep, series_id: SeriesId) -> OfficialSummary:
    return _summary(official.get_official(session, principal=principal, series_id=series_id))


@router.get("/{series_id}/file", summary="The file of an official series, as loaded")
def get_file(session: SessionDep, principal: PrincipalDep, series_id: SeriesId) -> Response:
    s = official.get_official(session, principal=principal, series_id=series_id)
    return Response(
        official.read_content(session, s),
        media_type=s.media_type or "application/octet-stream",
        headers={"Content-Disposition": attachment(s.filename), "X-SHA256": s.sha256},
    )


@router.put("/{series_id}/public", response_model=OfficialSummary, summary="Make it public or private")
def set_public(
    session: SessionDep, principal: UserDep, series_id: SeriesId, body: Visibility
) -> OfficialSummary:
    return _summary(
        official.set_public(session, principal=principal, series_id=series_id, public=body.public)
    )


@router.delete("/{series_id}", status_code=204, summary="Delete an official series (its NSO or admin)")
def delete_series(session: SessionDep, principal: UserDep, series_id: SeriesId) -> Response:
    official.delete_official(session, principal=principal, series_id=series_id)
    return Response(status_code=204)
