"""SDMX REST v2 (SDMX 3.0 REST, sdmx-rest v2.1.0) under ``/sdmx/v2``.

- ``data/{context}/{agencyID}/{resourceID}/{version}[/{key}]``: context ``dataflow`` or ``*``;
  ``*`` any agency, ``+``/``~`` latest version; keys ``.``-separated with ``*`` for any, ``,``
  between whole keys; ``c[COMPONENT]=op:value`` filters (``,`` OR, ``+`` AND);
  ``startPeriod``/``endPeriod`` are accepted as an extension (as BIS does).
- ``structure/{type}[/{agencyID}[/{resourceID}[/{version}[/{itemID}]]]]``.
- ``availability/{context}/{agencyID}/{resourceID}/{version}[/{key}[/{componentID}]]``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.sdmx.write.constraints import constraint_json, constraint_xml30
from cgd_bridge.server.deps import BridgeDep, PrincipalDep, SessionDep
from cgd_bridge.server.sdmx import service
from cgd_bridge.server.sdmx.availability import check_references, with_references_json, with_references_xml
from cgd_bridge.server.sdmx.negotiate import parse_accept
from cgd_bridge.server.sdmx.query import QueryError, not_implemented, parse_params, parse_path_ref
from cgd_bridge.server.sdmx.structures import StructureQuery

router = APIRouter(prefix="/sdmx/v2", tags=["SDMX REST v2 (SDMX 3.0)"])
_CONTEXTS = ("dataflow", "*", "%2A")


def _flow(context: str, agency: str, resource_id: str, version: str) -> FlowRef:
    if context not in _CONTEXTS:
        if context in ("datastructure", "provisionagreement"):
            raise not_implemented(f"Data queries in the '{context}' context (use 'dataflow')")
        raise QueryError(
            N_("'{context}' is not a context of SDMX REST v2 data queries"),
            fix=N_("Use 'dataflow' (or '*'), e.g. /sdmx/v2/data/dataflow/AGENCY/ID/VERSION/*."),
            params={"context": context},
        )
    return parse_path_ref(agency, resource_id, version)


async def _data(
    request: Request,
    bridge: BridgeDep,
    principal: PrincipalDep,
    context: str,
    agency: str,
    resource_id: str,
    version: str,
    key: str,
) -> Response:
    params = parse_params(request.url.query)
    ref = _flow(context, agency, resource_id, version)
    return await service.data_response(
        request,
        bridge,
        principal,
        api=2,
        flow_ref=ref,
        key_text=key,
        provider=None,
        params=params,
    )


# async, without a database session: see service.data_response


@router.get("/data/{context}/{agency}/{resource_id}/{version}", summary="Data of a dataflow")
async def data_all(
    request: Request,
    bridge: BridgeDep,
    principal: PrincipalDep,
    context: str,
    agency: str,
    resource_id: str,
    version: str,
) -> Response:
    return await _data(request, bridge, principal, context, agency, resource_id, version, "*")


@router.get("/data/{context}/{agency}/{resource_id}/{version}/{key}", summary="Data of a dataflow, by key")
async def data_key(
    request: Request,
    bridge: BridgeDep,
    principal: PrincipalDep,
    context: str,
    agency: str,
    resource_id: str,
    version: str,
    key: str,
) -> Response:
    return await _data(request, bridge, principal, context, agency, resource_id, version, key)


def _structure(
    request: Request,
    bridge: BridgeDep,
    kind: str,
    agency: str = "*",
    resource_id: str = "*",
    version: str = "~",
    item: str | None = None,
) -> Response:
    params = parse_params(request.url.query, structure=True)
    q = StructureQuery(
        resource=kind,
        ref=parse_path_ref(agency, resource_id, version),
        item=None if item in (None, "*", "%2A") else item,
        references=params.references,
        detail=params.detail,
        all_versions=version.strip() in ("*", "%2A"),
    )
    return service.structure_response(request, bridge, q, api=2)


@router.get("/structure/{kind}", summary="Structures of one type")
def structure_1(request: Request, bridge: BridgeDep, kind: str) -> Response:
    return _structure(request, bridge, kind)


@router.get("/structure/{kind}/{agency}", summary="Structures of an agency")
def structure_2(request: Request, bridge: BridgeDep, kind: str, agency: str) -> Response:
    return _structure(request, bridge, kind, agency)


@router.get("/structure/{kind}/{agency}/{resource_id}", summary="A structure")
def structure_3(request: Request, bridge: BridgeDep, kind: str, agency: str, resource_id: str) -> Response:
    return _structure(request, bridge, kind, agency, resource_id)


@router.get("/structure/{kind}/{agency}/{resource_id}/{version}", summary="A structure version")
def structure_4(
    request: Request, bridge: BridgeDep, kind: str, agency: str, resource_id: str, version: str
) -> Response:
    return _structure(request, bridge, kind, agency, resource_id, version)


@router.get("/structure/{kind}/{agency}/{resource_id}/{version}/{item}", summary="Items of an item scheme")
def structure_5(
    request: Request, bridge: BridgeDep, kind: str, agency: str, resource_id: str, version: str, item: str
) -> Response:
    return _structure(request, bridge, kind, agency, resource_id, version, item)


@router.get("/schema/{context}/{agency}/{resource_id}/{version}", summary="Schema of a dataflow's data")
def schema(
    request: Request, bridge: BridgeDep, context: str, agency: str, resource_id: str, version: str
) -> Response:
    return service.schema_response(
        request, bridge, api=2, context=context, ref=parse_path_ref(agency, resource_id, version)
    )


@router.get(
    "/metadata/structure/{kind}/{agency}/{resource_id}/{version}",
    summary="Quality metadata attached to a dataflow",
)
def metadata_for_structure(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    kind: str,
    agency: str,
    resource_id: str,
    version: str,
) -> Response:
    if kind != "dataflow":
        raise not_implemented(f"Metadata attached to a {kind}")
    return service.metadata_response(
        request,
        bridge,
        session,
        principal,
        api=2,
        flow_ref=parse_path_ref(agency, resource_id, version),
        provider=None,
    )


def _availability(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    context: str,
    agency: str,
    resource_id: str,
    version: str,
    key: str = "*",
    component: str | None = None,
) -> Response:
    params = parse_params(request.url.query)
    kinds = check_references(params.references)
    found, cube, count, span = service.availability(
        request,
        bridge,
        session,
        principal,
        api=2,
        flow_ref=_flow(context, agency, resource_id, version),
        key_text=key,
        component=component,
        params=params,
    )
    args = (found.agency, found.info.id, found.info.version, cube, count, span)
    wants_json = any("json" in media for media, _, _ in parse_accept(request.headers.get("accept"))[:1])
    if wants_json or (request.query_params.get("format") or "").endswith("json"):
        return Response(
            with_references_json(
                constraint_json(*args),
                bridge,
                FlowRef(found.agency, found.info.id, found.info.version),
                kinds,
            ),
            media_type="application/vnd.sdmx.structure+json;version=2.0.0",
            headers={"Vary": "Accept"},
        )
    return Response(
        with_references_xml(
            constraint_xml30(*args),
            bridge,
            FlowRef(found.agency, found.info.id, found.info.version),
            kinds,
            version="3.0",
        ),
        media_type="application/vnd.sdmx.structure+xml;version=3.0.0",
        headers={"Vary": "Accept"},
    )


@router.get("/availability/{context}/{agency}/{resource_id}/{version}", summary="What data exists")
def availability_all(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    context: str,
    agency: str,
    resource_id: str,
    version: str,
) -> Response:
    return _availability(request, bridge, session, principal, context, agency, resource_id, version)


@router.get(
    "/availability/{context}/{agency}/{resource_id}/{version}/{key}", summary="What data exists for a key"
)
def availability_key(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    context: str,
    agency: str,
    resource_id: str,
    version: str,
    key: str,
) -> Response:
    return _availability(request, bridge, session, principal, context, agency, resource_id, version, key)


@router.get(
    "/availability/{context}/{agency}/{resource_id}/{version}/{key}/{component}",
    summary="What codes exist for a component",
)
def availability_component(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    context: str,
    agency: str,
    resource_id: str,
    version: str,
    key: str,
    component: str,
) -> Response:
    return _availability(
        request, bridge, session, principal, context, agency, resource_id, version, key, component
    )
