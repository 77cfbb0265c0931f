"""Availability answers (v1 ``availableconstraint``, v2 ``availability``) with their ``references``.

sdmx-rest (v1.5 ``4_5_availability.md`` and v2 ``doc/availability.md``): ``references`` asks for
the artefacts the actual constraint refers to along with it: ``none`` (the default), ``all``,
``datastructure``, ``conceptscheme``, ``codelist``, ``dataproviderscheme`` or ``dataflow``. They
are taken from the dataflow's structures (the dataflow, its DSD, concept schemes and
codelists, by the structure service) and added to the constraint's message; what does not
exist (this server has no data provider schemes) is simply absent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from lxml import etree

from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.sdmx.write.errors import JSON_SCHEMAS
from cgd_bridge.server.sdmx.query import QueryError
from cgd_bridge.server.sdmx.structures import StructureQuery

if TYPE_CHECKING:
    from cgd_bridge.server.app import Bridge

REFERENCES = ("none", "all", "datastructure", "conceptscheme", "codelist", "dataproviderscheme", "dataflow")
#: Per ``references`` value: the SDMX-JSON 2.0 member, the SDMX-ML 3.0 and 2.1 container elements.
_KINDS = {
    "datastructure": ("dataStructures", "DataStructures", "DataStructures"),
    "conceptscheme": ("conceptSchemes", "ConceptSchemes", "Concepts"),
    "codelist": ("codelists", "Codelists", "Codelists"),
    "dataproviderscheme": ("dataProviderSchemes", "DataProviderSchemes", "OrganisationSchemes"),
    "dataflow": ("dataflows", "Dataflows", "Dataflows"),
}
#: The order of ``mes:Structures`` children in the SDMX-ML schemas (SDMXStructure.xsd).
_ORDER30 = ["AgencySchemes", "Categorisations", "CategorySchemes", "Codelists", "ConceptSchemes",
            "DataConstraints", "Dataflows", "DataProviderSchemes", "DataStructures"]  # fmt: skip
_ORDER21 = ["OrganisationSchemes", "Dataflows", "CategorySchemes", "Categorisations", "Codelists",
            "Concepts", "DataStructures", "Constraints"]  # fmt: skip


def check_references(value: str) -> list[str]:
    """The kinds of artefact ``references`` asks for (none for ``none``), or a 400."""
    if value not in REFERENCES:
        raise QueryError(
            N_("references={value} is not allowed in an availability query"),
            fix=N_("Use one of: {choices}."),
            params={"value": value, "choices": ", ".join(REFERENCES)},
        )
    if value == "none":
        return []
    return list(_KINDS) if value == "all" else [value]


def _related(bridge: Bridge, flow: FlowRef, fmt: str) -> bytes:
    q = StructureQuery(resource="dataflow", ref=flow, references="descendants")
    return bridge.structure_service.message(q, fmt)


def with_references_json(body: bytes, bridge: Bridge, flow: FlowRef, kinds: list[str]) -> bytes:
    """The SDMX-JSON 2.0 availability message, with ``meta.schema`` (pysdmx recognises a
    structure message by it) and the referenced artefacts added to ``data``."""
    message = json.loads(body)
    message["meta"] = {"schema": JSON_SCHEMAS["structure"], **message["meta"]}
    if kinds:
        related = json.loads(_related(bridge, flow, "sdmx-json-2.0")).get("data", {})
        for kind in kinds:
            member = _KINDS[kind][0]
            if related.get(member):
                message["data"][member] = related[member]
    return json.dumps(message, ensure_ascii=False).encode()


def with_references_xml(
    body: bytes, bridge: Bridge, flow: FlowRef, kinds: list[str], *, version: str
) -> bytes:
    """The SDMX-ML (``version`` 2.1 or 3.0) availability message with the referenced artefacts."""
    if not kinds:
        return body
    column, order, fmt = (2, _ORDER21, "sdmx-ml-2.1") if version == "2.1" else (1, _ORDER30, "sdmx-ml-3.0")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    message = etree.fromstring(body, parser)
    related = etree.fromstring(_related(bridge, flow, fmt), parser)
    mes = etree.QName(message).namespace
    (structures,) = message.iter(f"{{{mes}}}Structures")
    wanted = {_KINDS[k][column] for k in kinds}
    found = related.find(f"{{{mes}}}Structures")
    for child in list(found) if found is not None else []:
        if etree.QName(child).localname in wanted:
            structures.append(child)
    rank = {name: i for i, name in enumerate(order)}
    ranked = sorted(structures, key=lambda c: rank.get(etree.QName(c).localname, len(order)))
    structures[:] = ranked
    return etree.tostring(message, xml_declaration=True, encoding="UTF-8")
