"""SDMX REST v1 (SDMX 2.1 REST, sdmx-rest v1.5.0) under ``/sdmx/rest``.

- ``data/{flowRef}[/{key}[/{providerRef}]]``: flowRef ``ID``, ``AGENCY,ID`` or ``AGENCY,ID,VERSION``;
  key ``.``-separated, ``+`` for OR, empty for any, ``all``; providerRef ``AGENCY,ID`` or ``ID``
  (the producing CSO's slug), ``+`` for OR.
- ``{resource}[/{agencyID}[/{resourceID}[/{version}[/{itemID}]]]]``: structure queries with
  ``references`` and ``detail``.
- ``availableconstraint/{flowRef}[/{key}[/{providerRef}[/{componentID}]]]``.

Parameters are read from the raw query string (see :mod:`cgd_bridge.server.sdmx.query`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.sdmx.write.constraints import constraint_xml21
from cgd_bridge.server.deps import BridgeDep, PrincipalDep, SessionDep
from cgd_bridge.server.sdmx import service
from cgd_bridge.server.sdmx.availability import check_references, with_references_xml
from cgd_bridge.server.sdmx.query import (
    WILDCARDS,
    QueryError,
    not_implemented,
    parse_flow_ref,
    parse_params,
    parse_path_ref,
)
from cgd_bridge.server.sdmx.structures import StructureQuery

router = APIRouter(prefix="/sdmx/rest", tags=["SDMX REST v1 (SDMX 2.1)"])
_XML21 = "application/vnd.sdmx.structure+xml;version=2.1"
_DATA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The data message.",
        "content": {"application/vnd.sdmx.genericdata+xml;version=2.1": {}},
    },
    400: {"description": "Bad syntax (SDMX error 140)."},
    401: {"description": "The data is not open and no API key was given (110)."},
    403: {"description": "The API key's organisation has no MoU covering the data (150)."},
    404: {"description": "No results (100)."},
    406: {"description": "No representation matches Accept or format= (140)."},
    501: {"description": "Not implemented (501)."},
}


def providers(text: str) -> frozenset[str] | None:
    """``AGENCY,PROVIDER`` / ``PROVIDER``, ``+`` for OR; None for all."""
    text = text.strip()
    if text in WILDCARDS or not text:
        return None
    out = set()
    for part in text.split("+"):
        out.add(part.split(",")[-1].strip())
    return frozenset(out)


async def _data(
    request: Request, bridge: BridgeDep, principal: PrincipalDep, flow: str, key: str, provider: str
) -> Response:
    params = parse_params(request.url.query)
    return await service.data_response(
        request,
        bridge,
        principal,
        api=1,
        flow_ref=parse_flow_ref(flow),
        key_text=key,
        provider=providers(provider),
        params=params,
    )


# async routes without a database session: the data path runs on the event loop while its work
# is small (service.data_response) and hands bigger work to the thread pool itself


@router.get("/data/{flow}", responses=_DATA_RESPONSES, summary="Data of a dataflow")
async def data_all(request: Request, bridge: BridgeDep, principal: PrincipalDep, flow: str) -> Response:
    return await _data(request, bridge, principal, flow, "all", "all")


@router.get("/data/{flow}/{key}", responses=_DATA_RESPONSES, summary="Data of a dataflow, by key")
async def data_key(
    request: Request, bridge: BridgeDep, principal: PrincipalDep, flow: str, key: str
) -> Response:
    return await _data(request, bridge, principal, flow, key, "all")


@router.get(
    "/data/{flow}/{key}/{provider}",
    responses=_DATA_RESPONSES,
    summary="Data of a dataflow, by key and provider",
)
async def data_provider(
    request: Request, bridge: BridgeDep, principal: PrincipalDep, flow: str, key: str, provider: str
) -> Response:
    return await _data(request, bridge, principal, flow, key, provider)


def _availability(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    flow: str,
    key: str = "all",
    component: str | None = None,
    provider: str = "all",
) -> Response:
    params = parse_params(request.url.query)
    kinds = check_references(params.references)
    found, cube, count, span = service.availability(
        request,
        bridge,
        session,
        principal,
        api=1,
        flow_ref=parse_flow_ref(flow),
        key_text=key,
        component=component,
        params=params,
        provider=providers(provider),
    )
    body = constraint_xml21(found.agency, found.info.id, found.info.version, cube, count, span)
    body = with_references_xml(
        body, bridge, FlowRef(found.agency, found.info.id, found.info.version), kinds, version="2.1"
    )
    return Response(body, media_type=_XML21, headers={"Vary": "Accept"})


@router.get("/availableconstraint/{flow}", summary="What data exists for a dataflow")
def availability_all(
    request: Request, bridge: BridgeDep, session: SessionDep, principal: PrincipalDep, flow: str
) -> Response:
    return _availability(request, bridge, session, principal, flow)


@router.get("/availableconstraint/{flow}/{key}", summary="What data exists for a key")
def availability_key(
    request: Request, bridge: BridgeDep, session: SessionDep, principal: PrincipalDep, flow: str, key: str
) -> Response:
    return _availability(request, bridge, session, principal, flow, key)


@router.get(
    "/availableconstraint/{flow}/{key}/{provider}/{component}", summary="What codes exist for a dimension"
)
def availability_component(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    flow: str,
    key: str,
    provider: str,
    component: str,
) -> Response:
    return _availability(request, bridge, session, principal, flow, key, component, provider)


@router.get("/availableconstraint/{flow}/{key}/{provider}", summary="What data a provider has for a key")
def availability_provider(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    flow: str,
    key: str,
    provider: str,
) -> Response:
    return _availability(request, bridge, session, principal, flow, key, None, provider)


@router.get("/schema/{context}/{agency}/{resource_id}/{version}", summary="XML schema of a dataflow's data")
def schema(
    request: Request, bridge: BridgeDep, context: str, agency: str, resource_id: str, version: str
) -> Response:
    return service.schema_response(
        request, bridge, api=1, context=context, ref=parse_path_ref(agency, resource_id, version)
    )


@router.get("/schema/{context}/{agency}/{resource_id}", summary="XML schema of a dataflow's data, latest")
def schema_latest(
    request: Request, bridge: BridgeDep, context: str, agency: str, resource_id: str
) -> Response:
    return service.schema_response(
        request, bridge, api=1, context=context, ref=parse_path_ref(agency, resource_id, "latest")
    )


@router.get("/metadata/{flow}", summary="Quality metadata of a dataflow's dataset")
def metadata_all(
    request: Request, bridge: BridgeDep, session: SessionDep, principal: PrincipalDep, flow: str
) -> Response:
    return service.metadata_response(
        request, bridge, session, principal, api=1, flow_ref=parse_flow_ref(flow), provider=None
    )


@router.get("/metadata/{flow}/{key}/{provider}", summary="Quality metadata of one producer's dataset")
def metadata_provider(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    flow: str,
    key: str,
    provider: str,
) -> Response:
    return service.metadata_response(
        request,
        bridge,
        session,
        principal,
        api=1,
        flow_ref=parse_flow_ref(flow),
        provider=providers(provider),
    )


def _structure(
    request: Request,
    bridge: BridgeDep,
    resource: str,
    agency: str = "all",
    id_: str = "all",
    version: str = "latest",
    item: str | None = None,
) -> Response:
    params = parse_params(request.url.query, structure=True)
    if resource in ("schema", "metadata", "data", "availableconstraint"):
        raise not_implemented(f"/{resource} with this number of path segments")
    all_versions = version.strip() in ("all", "*", "%2A")
    if resource == "actualconstraint":
        return _actual_constraints(request, bridge, parse_path_ref(agency, id_, version), params.detail)
    q = StructureQuery(
        resource=resource,
        ref=parse_path_ref(agency, id_, version),
        item=None if item in (None, "all", "*") else item,
        references=params.references,
        detail=params.detail,
        all_versions=all_versions,
    )
    return service.structure_response(request, bridge, q, api=1)


def _actual_constraints(request: Request, bridge: BridgeDep, ref: FlowRef, detail: str) -> Response:
    """``actualconstraint``: per dataflow with published data anyone may read, the Actual
    content constraint of what exists (as ``availableconstraint`` answers it; id ``CA_<flow>``,
    version 1.0, agency the dataflow's). Structure queries take no API key: data only some
    readers may see is left out."""
    from lxml import etree

    from cgd_bridge.sdmx.write.structures import stubs_21

    flows = bridge.structure_service.find(StructureQuery("dataflow", FlowRef(None, None, None)))
    found: list[bytes] = []
    with bridge.sessions() as session:
        for df in flows:
            if not (
                (ref.agency is None or ref.agency == df.agency)
                and (ref.id is None or ref.id == f"CA_{df.id}")
                and (ref.version is None or ref.version == "1.0")
            ):
                continue
            try:
                flow, cube, count, span = service.availability(
                    request,
                    bridge,
                    session,
                    None,
                    api=1,
                    flow_ref=FlowRef(df.agency, df.id, df.version),
                    key_text="all",
                    component=None,
                    params=parse_params(""),
                )
            except QueryError as exc:
                if exc.status == 404:
                    continue  # no public data of this dataflow
                raise
            found.append(constraint_xml21(flow.agency, flow.info.id, flow.info.version, cube, count, span))
    if not found:
        raise QueryError(
            N_("no actual constraint matches {query_text}: no published data anyone may read"),
            fix=N_(
                "Actual constraints come from published data; the structures' own constraints "
                "are at /sdmx/rest/allowedconstraint/all/all/latest."
            ),
            status=404,
            params={"query_text": ref.query_text},
        )
    root = etree.fromstring(found[0])
    group = root.find(".//{*}Constraints")
    assert group is not None
    for more in found[1:]:
        group.extend(etree.fromstring(more).iter("{*}ContentConstraint"))
    body = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    if detail in ("allstubs", "allcompletestubs"):
        body = stubs_21(body, lambda *_: True, complete=detail == "allcompletestubs")
    return Response(body, media_type=_XML21, headers={"Vary": "Accept"})


_STRUCTURE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A structure message.", "content": {_XML21: {}}},
    404: {"description": "No results (100)."},
    406: {"description": "No representation matches Accept (140)."},
    501: {"description": "Not implemented (501)."},
}


@router.get("/{resource}", responses=_STRUCTURE_RESPONSES, summary="Structures of one type")
def structure_1(request: Request, bridge: BridgeDep, resource: str) -> Response:
    return _structure(request, bridge, resource)


@router.get("/{resource}/{agency}", responses=_STRUCTURE_RESPONSES, summary="Structures of an agency")
def structure_2(request: Request, bridge: BridgeDep, resource: str, agency: str) -> Response:
    return _structure(request, bridge, resource, agency)


@router.get("/{resource}/{agency}/{resource_id}", responses=_STRUCTURE_RESPONSES, summary="A structure")
def structure_3(
    request: Request, bridge: BridgeDep, resource: str, agency: str, resource_id: str
) -> Response:
    return _structure(request, bridge, resource, agency, resource_id)


@router.get(
    "/{resource}/{agency}/{resource_id}/{version}",
    responses=_STRUCTURE_RESPONSES,
    summary="A structure version",
)
def structure_4(
    request: Request, bridge: BridgeDep, resource: str, agency: str, resource_id: str, version: str
) -> Response:
    return _structure(request, bridge, resource, agency, resource_id, version)


@router.get(
    "/{resource}/{agency}/{resource_id}/{version}/{item}",
    responses=_STRUCTURE_RESPONSES,
    summary="Items of an item scheme",
)
def structure_5(
    request: Request, bridge: BridgeDep, resource: str, agency: str, resource_id: str, version: str, item: str
) -> Response:
    if resource not in (
        "codelist",
        "conceptscheme",
        "categoryscheme",
        "agencyscheme",
        "dataproviderscheme",
        "dataconsumerscheme",
        "organisationunitscheme",
        "valuelist",
    ):
        raise QueryError(
            N_("'{resource}' has no items to ask for"),
            fix=N_("Leave out the item segment."),
            params={"resource": resource},
        )
    return _structure(request, bridge, resource, agency, resource_id, version, item)
