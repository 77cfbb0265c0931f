"""The organisation structures of the server: agencies, data providers and provision agreements.

SDMX finds who provides data through structures: an AgencyScheme lists agencies, a
DataProviderScheme the data providers (here: each CSO that has published data anyone may read,
its id the CSO's slug, as data queries take it in ``providerRef``), and a ProvisionAgreement
says that a provider provides data for a dataflow (here: one per CSO and dataflow with a
published version anyone may read). Structure queries take no API key, so these are what an
anonymous reader may see: open licence, published, embargo passed (the store's access policy);
a CSO whose only data is restricted or embargoed is not listed.

- ``SDMX:AGENCIES(1.0)``: the agencies maintaining the structures the server serves
  (``CGD_BRIDGE``, ``IAEG-SDGs``, ``SDMX``...), and the CSOs, whose published mappings' maps
  the server serves under their own top-level agency id (``SAUTI``, see
  :func:`~cgd_bridge.server.sdmx.artefacts30.agency_id`; a sub-agency of ``CGD_BRIDGE`` would
  be ``CGD_BRIDGE.SAUTI``);
- ``CGD_BRIDGE:DATA_PROVIDERS(1.0)``: the CSOs as data providers;
- ``CGD_BRIDGE:<slug>_<dataflow>(<dataflow version>)``: the provision agreements.

The schemes are sdmx1 objects (sdmx1 writes them in SDMX-ML 2.1); sdmx1 cannot write a
ProvisionAgreement, so the agreements are written with lxml into the message
(:func:`write_agreements`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cgd_bridge.server.sdmx.artefacts30 import agency_id
from cgd_bridge.structures import ArtefactInfo

Key = tuple[str, str, str, str]
BRIDGE = "CGD_BRIDGE"
PROVIDER_SCHEME = (BRIDGE, "DATA_PROVIDERS", "1.0")


@dataclass(frozen=True)
class Provider:
    """A CSO that has published data anyone may read.

    Attributes:
        slug: its slug, the DataProvider id (data queries' ``providerRef``), e.g. ``sauti``.
        name: e.g. ``Sauti ya Walemavu Health Watch``.
        flows: (agency, id, version) of each dataflow it has published to.
    """

    slug: str
    name: str
    flows: tuple[tuple[str, str, str], ...]


def public_providers(session: Session, now: dt.datetime) -> tuple[Provider, ...]:
    """The CSOs with published versions an anonymous client may read, with their dataflows."""
    from cgd_bridge.store import access

    found: dict[str, tuple[str, set[tuple[str, str, str]]]] = {}
    for v in access.readable_versions(session, None, None, now):
        sub = v.submission
        entry = found.setdefault(sub.producer.slug, (sub.producer.name, set()))
        entry[1].add((sub.agency, sub.dataflow, sub.dataflow_version))
    return tuple(Provider(slug, name, tuple(sorted(flows))) for slug, (name, flows) in sorted(found.items()))


def providers_reader(
    sessions: sessionmaker[Session], clock: Callable[[], dt.datetime]
) -> Callable[[], tuple[Provider, ...]]:
    """A function giving :func:`public_providers` at ``clock``'s now, each call in its own session."""

    def read() -> tuple[Provider, ...]:
        with sessions() as session:
            return public_providers(session, clock())

    return read


@dataclass(frozen=True)
class Agreement:
    """A provision agreement: ``provider`` provides data for the dataflow ``flow``."""

    info: ArtefactInfo
    provider: str
    flow: tuple[str, str, str]
    name: str


def _info(kind: str, agency: str, id_: str, version: str, name: str) -> ArtefactInfo:
    return ArtefactInfo(kind, agency, id_, version, name, source="database", file="", sha256="")


def _sdmx_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_@$\-]", "_", text)


class Organisations:
    """The organisation artefacts for one set of providers and the maintainers of the served
    structures: ``items`` (by key, the sdmx1 schemes), ``agreements`` and ``refs`` (what each
    refers to, for ``references``)."""

    def __init__(self, providers: Sequence[Provider], maintainers: Iterable[str]) -> None:
        from sdmx.model import v21
        from sdmx.model.common import Agency

        self.providers = tuple(providers)
        self.items: dict[Key, tuple[ArtefactInfo, Any]] = {}
        self.agreements: dict[Key, Agreement] = {}
        self.refs: dict[Key, set[Key]] = {}

        def scheme(cls: Any, agency: str, id_: str, name: str) -> Any:
            obj = cls(
                id=id_,
                version="1.0",
                maintainer=Agency(id=agency),
                name=name,
                is_final=False,
                is_external_reference=False,
            )
            kind = "agencyscheme" if cls is v21.AgencyScheme else "dataproviderscheme"
            info = _info(kind, agency, id_, "1.0", name)
            self.items[info.key] = (info, obj)
            self.refs[info.key] = set()
            return obj

        top = scheme(v21.AgencyScheme, "SDMX", "AGENCIES", "Agencies of the structures served by cgd-bridge")
        names = {agency: agency for agency in set(maintainers) | {BRIDGE}}
        names |= {agency_id(p.slug): p.name for p in self.providers}
        for agency in sorted(names):
            top.append(Agency(id=agency, name=names[agency]))
        if self.providers:
            dps = scheme(v21.DataProviderScheme, *PROVIDER_SCHEME[:2], "Data providers: the CSOs")
            for p in self.providers:
                dps.append(v21.DataProvider(id=p.slug, name=p.name))
        scheme_key: Key = ("dataproviderscheme", *PROVIDER_SCHEME)
        for p in self.providers:
            for flow in p.flows:
                name = f"{p.name} provides data for {flow[1]}"
                info = _info("provisionagreement", BRIDGE, _sdmx_id(f"{p.slug}_{flow[1]}"), flow[2], name)
                self.agreements[info.key] = Agreement(info, p.slug, flow, name)
                self.refs[info.key] = {("dataflow", *flow), scheme_key}

    def infos(self, kind: str | None = None) -> list[ArtefactInfo]:
        """The artefacts of one kind (None: all)."""
        out = [i for i, _ in self.items.values()] + [a.info for a in self.agreements.values()]
        return [i for i in out if kind is None or i.kind == kind]


_MES = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}"
_STR = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
_COM = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common}"


def write_agreements(xml: bytes, agreements: Sequence[Agreement]) -> bytes:
    """An SDMX-ML 2.1 structure message with these ProvisionAgreements added (the last group
    of ``Structures``, as the schema orders them). An agreement has no content beyond its name and
    its two references (dataflow, data provider), which the schema requires of a stub too: the
    ``detail`` stubs are the same agreements."""
    from lxml import etree

    if not agreements:
        return xml
    root = etree.fromstring(xml)
    structures = root.find(f"{_MES}Structures")
    if structures is None:
        structures = etree.SubElement(root, f"{_MES}Structures")
    group = etree.SubElement(structures, f"{_STR}ProvisionAgreements")
    urn = "urn:sdmx:org.sdmx.infomodel.registry.ProvisionAgreement="
    for a in agreements:
        i = a.info
        pa = etree.SubElement(
            group,
            f"{_STR}ProvisionAgreement",
            id=i.id,
            urn=f"{urn}{i.agency}:{i.id}({i.version})",
            agencyID=i.agency,
            version=i.version,
            isFinal="false",
            isExternalReference="false",
        )
        etree.SubElement(
            pa, f"{_COM}Name", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}
        ).text = a.name
        # a stub keeps its two references: the 2.1 schema requires them (and pysdmx reads them)
        usage = etree.SubElement(pa, f"{_STR}StructureUsage")
        etree.SubElement(
            usage,
            "Ref",
            id=a.flow[1],
            agencyID=a.flow[0],
            version=a.flow[2],
            **{"class": "Dataflow", "package": "datastructure"},
        )
        provider = etree.SubElement(pa, f"{_STR}DataProvider")
        etree.SubElement(
            provider,
            "Ref",
            id=a.provider,
            agencyID=PROVIDER_SCHEME[0],
            maintainableParentID=PROVIDER_SCHEME[1],
            maintainableParentVersion=PROVIDER_SCHEME[2],
            **{"class": "DataProvider", "package": "base"},
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
