"""Structure queries: find artefacts, follow their references, and write structure messages.

The structures are the bundled ``codelists/`` plus the local store (:class:`Structures`), as
sdmx1 objects. A query resolves to a set of artefacts (wildcards, latest versions, items), then
``references`` adds parents and/or children by following the objects' references through the
index (so a dataflow in one file and its DSD in another are found). The message is written:

- SDMX-ML 2.1 by sdmx1's ``to_xml`` (the reference implementation of the 2.1 model);
- SDMX-JSON 2.0 and SDMX-ML 3.0 by pysdmx, from the SDMX-ML 2.1 text (pysdmx's RegistryClient
  needs SDMX-JSON 2.0 structures on v2 paths; sdmx1 writes neither).

StructureMaps, RepresentationMaps, metadata structures and metadataflows are SDMX 3.0
artefacts sdmx1 cannot write; they come from :mod:`cgd_bridge.server.sdmx.artefacts30` as
pysdmx objects and are written in SDMX-ML 3.0 or SDMX-JSON 2.0 together with the sdmx1 artefacts
they refer to. MSDs and metadataflows (with the catalogue's concept schemes) also have an
SDMX-ML 2.1 form (:mod:`cgd_bridge.sdmx.write.msd21`, added to sdmx1's message); the maps have
none and are answered in SDMX-ML 3.0 when the client takes any structure format
(:meth:`StructureService.format_for`).

StructureSets are the SDMX 2.1 form of the same maps (SDMX 3.0 has none): built with lxml by
:mod:`cgd_bridge.sdmx.write.maps21` for the same mappings, written into the SDMX-ML 2.1
message beside the sdmx1 artefacts they refer to (``references``), and answered in SDMX-ML 2.1
when the client takes any structure format; an explicit SDMX 3.0 format is a 406.

Responses are cached per query: structures change only on ``structures import``, and the
cache is keyed by the store's index file time.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sdmx
from sdmx.message import Header, StructureMessage

from cgd_bridge.errors import CgdBridgeError, StructureError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.formats import formats
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.sdmx.write import structures as structure_writer
from cgd_bridge.sdmx.write.msd21 import add_to_message
from cgd_bridge.server.sdmx.artefacts30 import (
    KINDS_30,
    SUBMITTED,
    Artefact30,
    Catalogue,
    StructureSetEntry,
    SubmittedMapping,
    stub,
)
from cgd_bridge.server.sdmx.organisations import Organisations, Provider, write_agreements
from cgd_bridge.server.sdmx.query import REFERENCE_MODES, QueryError, not_implemented
from cgd_bridge.structures import ArtefactInfo, Structures, kind_of, version_key

#: v1 resource names -> the kind names of :mod:`cgd_bridge.structures` (v2 names included).
RESOURCES = {
    "codelist": "codelist",
    "conceptscheme": "conceptscheme",
    "datastructure": "datastructure",
    "dataflow": "dataflow",
    "contentconstraint": "contentconstraint",
    "dataconstraint": "contentconstraint",
    "allowedconstraint": "contentconstraint",
    "actualconstraint": "contentconstraint",
    "metadatastructure": "metadatastructure",
    "metadataflow": "metadataflow",
    "categoryscheme": "categoryscheme",
    "categorisation": "categorisation",
    "agencyscheme": "agencyscheme",
    "dataproviderscheme": "dataproviderscheme",
    "dataconsumerscheme": "dataconsumerscheme",
    "organisationunitscheme": "organisationunitscheme",
    "hierarchicalcodelist": "hierarchicalcodelist",
    "provisionagreement": "provisionagreement",
    "structureset": "structureset",
    "structuremap": "structuremap",
    "representationmap": "representationmap",
    "valuelist": "valuelist",
    "hierarchy": "hierarchy",
    "structure": "*",
    "*": "*",
}
#: The kinds of :mod:`cgd_bridge.server.sdmx.organisations` (from the database, not the store).
_ORGANISATION_KINDS = frozenset({"agencyscheme", "dataproviderscheme", "provisionagreement"})
#: The kinds of the catalogue's SDMX 3.0 artefacts that have an SDMX-ML 2.1 form too
#: (:mod:`cgd_bridge.sdmx.write.msd21`); the maps have none.
KINDS_21 = frozenset({"metadatastructure", "metadataflow"})
#: Resources whose answers hold the maps of published submissions' mappings.
_WITH_MAPS = frozenset({"structuremap", "representationmap", "structureset", "*"})
#: Standard resources this server knows but has nothing of (answered 404 "no results", not 501).
EMPTY_OK = {
    "categoryscheme",
    "categorisation",
    "agencyscheme",
    "dataproviderscheme",
    "dataconsumerscheme",
    "organisationunitscheme",
    "hierarchicalcodelist",
    "provisionagreement",
    "valuelist",
    "hierarchy",
}
_MESSAGE_FIELD = {
    "codelist": "codelist",
    "conceptscheme": "concept_scheme",
    "datastructure": "structure",
    "dataflow": "dataflow",
    "contentconstraint": "constraint",
    "metadatastructure": "metadatastructure",
    "metadataflow": "metadataflow",
    "categoryscheme": "category_scheme",
    "categorisation": "categorisation",
    "structureset": "structureset",
    "provisionagreement": "provisionagreement",
    "hierarchicalcodelist": "hierarchical_codelist",
    "agencyscheme": "organisation_scheme",
    "dataproviderscheme": "organisation_scheme",
}
STRUCTURE_FORMATS = tuple(f.name for f in formats("structure"))


@dataclass(frozen=True)
class StructureQuery:
    """One structure query, after parsing: what, which, how much."""

    resource: str
    ref: FlowRef
    item: str | None = None
    references: str = "none"
    detail: str = "full"
    all_versions: bool = False


class StructureService:
    """Answers structure queries from a :class:`Structures` (thread-safe, cached)."""

    def __init__(
        self,
        structures: Structures,
        *,
        cache_size: int = 256,
        mappings: Path | None = None,
        published: Callable[[], Sequence[SubmittedMapping]] | None = None,
        providers: Callable[[], Sequence[Provider]] | None = None,
    ) -> None:
        """``mappings``: the folder of the mappings whose StructureMaps are served (default: the
        bundled ``mappings/``, when it is there). ``published``: gives the published mappings
        anyone may read, for StructureSet queries when the caller passes none
        (:func:`~cgd_bridge.server.sdmx.artefacts30.public_mappings_reader`)."""
        self.structures = structures
        self.published = published
        self.providers = providers
        if mappings is None:
            from cgd_bridge.resources import bundled

            mappings = bundled("mappings")
        self.mappings = mappings
        self._catalogues: OrderedDict[tuple[int, ...], Catalogue] = OrderedDict()
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._cache_size = cache_size
        self._graph: dict[tuple[str, str, str, str], set[tuple[str, str, str, str]]] | None = None
        self._stamp: float | None = None

    # -- resolving -------------------------------------------------------------------------------

    def _stamp_now(self) -> float:
        store = self.structures.store
        if store is None or not store.index_path.exists():
            return 0.0
        return store.index_path.stat().st_mtime

    def _fresh(self) -> None:
        stamp = self._stamp_now()
        if stamp != self._stamp:
            with self._lock:
                self._cache.clear()
                self._graph = None
                self._catalogues.clear()
                self._stamp = stamp

    def catalogue(self, submitted: Sequence[SubmittedMapping] = ()) -> Catalogue:
        """The SDMX 3.0 artefacts with the maps of these published mappings (kept for the last
        few sets of them: publications change them, the structures' state the rest)."""
        key = tuple(m.version_id for m in submitted)
        with self._lock:
            found = self._catalogues.get(key)
            if found is None:
                found = self._catalogues[key] = Catalogue(self.structures, self.mappings, submitted)
                while len(self._catalogues) > 4:
                    self._catalogues.popitem(last=False)
            return found

    def organisations(self) -> Organisations:
        """The agency and data provider schemes and the provision agreements, now (the providers
        are read from the database on each call)."""
        providers = tuple(self.providers()) if self.providers is not None else ()
        return Organisations(providers, {i.agency for i in self.structures.artefacts()})

    def find(
        self, q: StructureQuery, catalogue: Catalogue | None = None, orgs: Organisations | None = None
    ) -> list[ArtefactInfo]:
        """The artefacts a query names (before references), latest versions unless all are asked."""
        catalogue = catalogue or self.catalogue()
        orgs = orgs or Organisations((), ())
        kind = RESOURCES.get(q.resource)
        if kind is None:
            raise QueryError(
                N_("'{resource}' is not an SDMX structure resource"),
                fix=N_("Use e.g. dataflow, datastructure, codelist, conceptscheme or contentconstraint."),
                status=404 if q.resource.isalpha() else 400,
                params={"resource": q.resource},
            )
        if kind == "structureset":
            candidates = [e.info for e in catalogue.structure_sets.values()]
        elif kind in _ORGANISATION_KINDS:
            candidates = orgs.infos(kind)
        elif kind in KINDS_30:
            candidates = catalogue.artefacts(kind)
        else:
            candidates = self.structures.artefacts(None if kind == "*" else kind)
            if kind == "*":
                kept = {i.key for i in candidates}
                candidates += [i for i in catalogue.artefacts() if i.key not in kept]
                candidates += orgs.infos()
            if kind != "*":  # the catalogue's concept schemes (the extension MSD's), codelists,
                # and, named by id, the CSO tables' structures and label codelists of the maps
                kept = {i.key for i in candidates}
                named = catalogue.artefacts(kind, named=q.ref.id is not None)
                candidates += [i for i in named if i.key not in kept]
            candidates = [i for i in candidates if kind == "*" or i.kind not in KINDS_30]
            candidates = [i for i in candidates if kind == "*" or i.kind not in _ORGANISATION_KINDS]
        infos = [
            i
            for i in candidates
            if (q.ref.agency is None or i.agency == q.ref.agency)
            and (q.ref.id is None or i.id == q.ref.id)
            and (q.ref.version is None or i.version == q.ref.version)
        ]
        if q.ref.version is None and not q.all_versions:
            latest: dict[tuple[str, str, str], ArtefactInfo] = {}
            for i in infos:
                k = (i.kind, i.agency, i.id)
                if k not in latest or version_key(i.version) > version_key(latest[k].version):
                    latest[k] = i
            infos = list(latest.values())
        return sorted(infos, key=lambda i: (i.kind, i.agency, i.id, version_key(i.version)))

    def resolve(
        self, q: StructureQuery, catalogue: Catalogue | None = None, orgs: Organisations | None = None
    ) -> list[ArtefactInfo]:
        """The artefacts of a query with its references (parents, children...) added."""
        self._fresh()
        catalogue = catalogue or self.catalogue()
        orgs = orgs or Organisations((), ())
        found = self.find(q, catalogue, orgs)
        if not found:
            return []
        out: dict[tuple[str, str, str, str], ArtefactInfo] = {i.key: i for i in found}
        if q.references != "none":
            extras = catalogue.items
            graph = {**self._reference_graph(), **{k: set(a.refs) for k, a in extras.items()}, **orgs.refs}
            # parents: an SDMX 3.0 artefact is no parent of an sdmx1 one (a dataflow's parents in
            # SDMX-ML 2.1 cannot include the maps that refer to it)
            parents = {
                k: {p for p in ps if k in extras or p not in extras} for k, ps in _invert(graph).items()
            }
            by_key = {i.key: i for i in self.structures.artefacts()} | {k: a.info for k, a in extras.items()}
            by_key |= {i.key: i for i in orgs.infos()}
            extra = _referenced(set(out), graph, parents, q.references)
            for k in extra:
                if k in by_key:
                    out.setdefault(k, by_key[k])
        return list(out.values())

    def names_published(self, q: StructureQuery) -> bool:
        """Whether a query naming an id finds artefacts of a published submission's mapping (a
        CSO table's dataflow, its label codelists): they change with publications while the
        server runs, so their answers carry no ``Last-Modified`` (the ETag stays)."""
        if q.ref.id is None or RESOURCES.get(q.resource) not in _NAMED_IN_MAPS or self.published is None:
            return False
        submitted = tuple(self.published())
        if not submitted:
            return False
        return any(i.source.startswith(SUBMITTED) for i in self.resolve(q, self.catalogue(submitted)))

    def _reference_graph(self) -> dict[tuple[str, str, str, str], set[tuple[str, str, str, str]]]:
        if self._graph is None:
            graph: dict[tuple[str, str, str, str], set[tuple[str, str, str, str]]] = {}
            for info in self.structures.artefacts():
                try:
                    obj = self.structures.get(info.kind, info.id, info.agency, info.version)
                except StructureError:
                    continue
                graph[info.key] = {k for k in (self._key_of(r) for r in _children(obj)) if k}
            self._graph = graph
        return self._graph

    def _key_of(self, obj: Any) -> tuple[str, str, str, str] | None:
        maintainer = getattr(obj, "maintainer", None)
        try:
            info = self.structures.find(
                kind_of(obj),
                str(obj.id),
                str(maintainer.id) if maintainer else None,
                obj.version and str(obj.version),
            )
        except StructureError:
            return None
        return info.key

    # -- writing ---------------------------------------------------------------------------------

    def message(self, q: StructureQuery, fmt: str, submitted: Sequence[SubmittedMapping] = ()) -> bytes:
        """The structure message answering ``q`` in ``fmt`` (one of STRUCTURE_FORMATS).

        Raises a 404 QueryError when nothing matches.
        """
        if fmt not in STRUCTURE_FORMATS:
            raise QueryError(N_("structure format {fmt} is not available"), status=406, params={"fmt": fmt})
        if q.detail in ("referencestubs", "referencecompletestubs", "allstubs", "allcompletestubs"):
            stubs = q.detail
        elif q.detail in ("full", "referencepartial", "raw"):
            stubs = None
        else:
            raise not_implemented(f"detail={q.detail}")
        self._fresh()
        if not submitted and self.published is not None and _may_hold_maps(q):
            # the maps of the mappings of published submissions anyone may read
            submitted = tuple(self.published())
        catalogue = self.catalogue(submitted)
        orgs = self.organisations() if _needs_organisations(q) else Organisations((), ())
        key = (q, fmt, tuple(m.version_id for m in submitted), orgs.providers)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        infos = self.resolve(q, catalogue, orgs)
        if not infos:
            raise QueryError(
                N_("no {resource} matches {query_text} item {item}")
                if q.item
                else N_("no {resource} matches {query_text}"),
                fix=N_(
                    "List what the server has with /sdmx/rest/dataflow/all/all/latest or "
                    "`cgd-bridge structures list`."
                ),
                status=404,
                params={"resource": q.resource, "query_text": q.ref.query_text, "item": q.item},
            )
        body = self._body(q, infos, fmt, stubs, catalogue, orgs)
        with self._lock:
            self._cache[key] = body
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return body

    def _body(
        self,
        q: StructureQuery,
        infos: list[ArtefactInfo],
        fmt: str,
        stubs: str | None,
        catalogue: Catalogue,
        orgs: Organisations,
    ) -> bytes:
        """The message of the resolved artefacts: sdmx1's (written by sdmx1, converted by pysdmx)
        and the SDMX 3.0 ones (written by pysdmx beside them)."""
        if RESOURCES.get(q.resource) == "structureset":
            return self._structure_sets(q, infos, stubs, catalogue)
        primary = {i.key for i in self.find(q, catalogue, orgs)}
        extras = catalogue.items
        v30 = [extras[i.key] for i in infos if i.key in extras]
        if q.item:  # the catalogue's item schemes (the extension MSD's concepts) are cut
            v30 = [_only_items30(a, q.item) if a.info.key in primary else a for a in v30]
        in_21: list[Any] = []  # the pysdmx artefacts of an SDMX-ML 2.1 answer
        if v30 and fmt == "sdmx-ml-2.1":
            if RESOURCES.get(q.resource) in KINDS_30 - KINDS_21:
                raise _no_21(q.resource)
            # a query of every kind in SDMX-ML 2.1: what 2.1 can carry (MSDs, metadataflows and
            # the concept schemes and codelists of the catalogue, not the 3.0 maps)
            # and the SDMX-ML 2.1 forms of the maps' CSO tables and label codelists)
            in_21 = [
                a
                for a in v30
                if a.xml21 is not None or a.info.kind in KINDS_21 | {"conceptscheme", "codelist"}
            ]
            v30 = []

        def stubbed(key: tuple[str, str, str, str]) -> bool:
            return bool(stubs) and (str(stubs).startswith("all") or key not in primary)

        msg, written = self._sdmx1_message(q, [i for i in infos if i.key not in extras], primary, orgs)
        agreements = [orgs.agreements[i.key] for i in infos if i.key in orgs.agreements]

        def cut(kind: str, agency: str, id_: str, version: str) -> bool:
            return stubbed((_KIND_OF_ELEMENT.get(kind, kind.lower()), agency, id_, version))

        def xml21() -> bytes:
            if in_21:
                xml = add_to_message(_to_xml(msg), [a.obj if a.xml21 is None else a.xml21 for a in in_21])
                if stubs:
                    xml = structure_writer.stubs_21(
                        xml, cut, complete="completestubs" in str(stubs), references=fmt != "sdmx-ml-2.1"
                    )
            else:
                xml = _to_xml(
                    msg,
                    cut if stubs else None,
                    complete="completestubs" in str(stubs),
                    references=fmt != "sdmx-ml-2.1",
                )
            return write_agreements(xml, agreements)

        if v30:
            shown = [stub(a.obj) if stubbed(a.info.key) else a.obj for a in v30]
            return _write_with_pysdmx(xml21() if written or agreements else None, shown, fmt)
        xml = xml21()
        return xml if fmt == "sdmx-ml-2.1" else _convert_with_pysdmx(xml, fmt)

    def _sdmx1_message(
        self, q: StructureQuery, infos: list[ArtefactInfo], primary: set[Any], orgs: Organisations
    ) -> tuple[StructureMessage, int]:
        """The sdmx1 message of these artefacts (item query applied), and how many it holds."""
        msg = StructureMessage(header=Header(id="CGD_BRIDGE_STRUCTURE", sender=_sender(), test=False))
        written = 0
        for info in infos:
            field_name = _MESSAGE_FIELD.get(info.kind)
            if info.key in orgs.agreements or field_name is None:
                continue
            if info.key in orgs.items:
                obj = orgs.items[info.key][1]
            else:
                obj = self.structures.get(info.kind, info.id, info.agency, info.version)
            if q.item and info.key in primary:
                obj = _only_item(obj, q.item)
            getattr(msg, field_name)[f"{info.agency}:{info.id}({info.version})"] = obj
            written += 1
        if q.detail == "referencepartial":
            _partial(msg, primary)
        return msg, written

    def _structure_sets(
        self, q: StructureQuery, infos: list[ArtefactInfo], stubs: str | None, catalogue: Catalogue
    ) -> bytes:
        """StructureSets in SDMX-ML 2.1, with (``references``) the codelists of the CSO's labels
        and the sdmx1 artefacts they refer to: children are the target dataflow and codelists,
        descendants also what those refer to; a StructureSet has no parents here."""
        from cgd_bridge.sdmx.write.maps21 import structure_message
        from cgd_bridge.sdmx.write.maps21 import stub as stub_set

        if q.item:
            raise not_implemented("An item query on a structureset")
        entries: list[StructureSetEntry] = [catalogue.structure_sets[i.key] for i in infos]
        values = set(q.references.split(","))
        kinds = _reference_kinds(values)
        refs: set[tuple[str, str, str, str]] = set()
        extras = catalogue.items  # the source dataflows, DSDs, concept schemes (SDMX-ML 2.1 forms)
        graph = {**self._reference_graph(), **{k: set(a.refs) for k, a in extras.items()}}
        if values & {"children", "descendants", "all"} or kinds:
            children = {k for e in entries for k in e.refs}
            if values & {"children", "descendants", "all"}:
                refs |= children
            if values & {"descendants", "all"}:
                refs |= _walk(children, graph, deep=True)
            if kinds:
                deep = children | _walk(children, graph, deep=True)
                refs |= {k for k in deep if k[0] in kinds}
        with_codelists = bool(values & {"children", "descendants", "all"}) or "codelist" in kinds
        all_stubs = bool(stubs) and str(stubs).startswith("all")
        msg = StructureMessage(header=Header(id="CGD_BRIDGE_STRUCTURE", sender=_sender(), test=False))
        written = 0
        known = {i.key for i in self.structures.artefacts()}
        for ref in sorted(refs & known):
            field_name = _MESSAGE_FIELD.get(ref[0])
            if field_name is None:
                continue
            obj = self.structures.get(ref[0], ref[2], ref[1], ref[3])
            getattr(msg, field_name)[f"{ref[1]}:{ref[2]}({ref[3]})"] = obj
            written += 1
        forms_21 = [extras[k].xml21 for k in sorted(refs) if k in extras and extras[k].xml21 is not None]
        into = None
        if written or forms_21:
            into = add_to_message(_to_xml(msg), forms_21)
            if stubs:
                into = structure_writer.stubs_21(
                    into, lambda *_: True, complete="completestubs" in str(stubs)
                )
        sets = [stub_set(e.built) if all_stubs else e.built for e in entries]
        return structure_message(sets, with_codelists=with_codelists and not stubs, into=into)

    def format_for(self, q: StructureQuery, fmt: str, accept: str | None, format_param: str | None) -> str:
        """The format to answer ``q`` in, given the negotiated ``fmt``.

        StructureMaps and RepresentationMaps have no SDMX-ML 2.1 form here:
        when the client takes any structure format (no ``format=``, ``Accept`` absent or a
        wildcard, as the v1 default of SDMX-ML 2.1 comes from), they are answered in SDMX-ML 3.0;
        an explicit request for SDMX-ML 2.1 is a 406 naming the formats that can carry them.
        """
        if RESOURCES.get(q.resource) == "structureset":
            if fmt == "sdmx-ml-2.1" or (not format_param and _takes_anything(accept)):
                return "sdmx-ml-2.1"
            raise QueryError(
                N_("a structureset is an SDMX 2.1 artefact, which SDMX 3.0 formats do not have"),
                fix=N_(
                    "Ask for application/vnd.sdmx.structure+xml;version=2.1 (or leave Accept out), "
                    "or query the same maps as SDMX 3.0 StructureMaps: "
                    "/sdmx/v2/structure/structuremap."
                ),
                status=406,
            )
        if fmt != "sdmx-ml-2.1" or RESOURCES.get(q.resource) not in KINDS_30 - KINDS_21:
            return fmt
        wildcard = not format_param and _takes_anything(accept)
        if wildcard:
            return "sdmx-ml-3.0"
        raise _no_21(q.resource)


#: Kinds a query naming an id may find among the maps' artefacts: the CSO tables' dataflows,
#: DSDs and concept schemes and the codelists of their labels (:attr:`Artefact30.hidden`).
_NAMED_IN_MAPS = frozenset({"dataflow", "datastructure", "conceptscheme", "codelist"})


def _may_hold_maps(q: StructureQuery) -> bool:
    """Whether the answer may hold artefacts of published submissions' mappings (read from the
    database): the maps' resources, every kind, and a query naming the id of a kind the maps'
    StructureSets refer to (following a reference of a published map or StructureSet)."""
    kind = RESOURCES.get(q.resource)
    return kind in _WITH_MAPS or (q.ref.id is not None and kind in _NAMED_IN_MAPS)


def _needs_organisations(q: StructureQuery) -> bool:
    """Whether the answer may hold organisation artefacts (read from the database)."""
    return RESOURCES.get(q.resource) in (_ORGANISATION_KINDS | {"*"}) or q.references != "none"


def _takes_anything(accept: str | None) -> bool:
    from cgd_bridge.server.sdmx.negotiate import parse_accept

    first = next(iter(parse_accept(accept or "*/*")), None)
    return first is None or first[0] in ("*/*", "application/*")


def _no_21(resource: str) -> QueryError:
    return QueryError(
        N_("a {resource} is an SDMX 3.0 artefact, which SDMX-ML 2.1 cannot carry"),
        fix=N_(
            "Ask for application/vnd.sdmx.structure+xml;version=3.0.0 or "
            "application/vnd.sdmx.structure+json;version=2.0.0 (or leave Accept out)."
        ),
        status=406,
        params={"resource": resource},
    )


_MODES = frozenset(REFERENCE_MODES)
#: ``references`` types that name several kinds (v1.5 ``organisationscheme``).
_REFERENCE_KINDS = {
    "organisationscheme": {
        "agencyscheme",
        "dataproviderscheme",
        "dataconsumerscheme",
        "organisationunitscheme",
    },
}


def _reference_kinds(values: Iterable[str]) -> set[str]:
    """The artefact kinds the structure types of a ``references`` value name."""
    kinds: set[str] = set()
    for v in values:
        if v not in _MODES:
            kinds |= _REFERENCE_KINDS.get(v, {RESOURCES.get(v, v)})
    return kinds


def _referenced(
    keys: set[tuple[str, str, str, str]],
    graph: dict[Any, set[Any]],
    parents: dict[Any, set[Any]],
    references: str,
) -> set[tuple[str, str, str, str]]:
    """What ``references`` (one or several values joined by ',') adds to the artefacts ``keys``:
    ``children`` what they refer to, ``descendants`` down to any level, ``parents`` what refers
    to them, ``ancestors`` up to any level, ``parentsandsiblings`` the parents and what those
    refer to, ``all`` parentsandsiblings and descendants; a structure type: the artefacts of that
    type among the descendants and ancestors (none when there are none: the answer is the
    matching artefacts alone)."""
    values = set(references.split(","))
    extra: set[tuple[str, str, str, str]] = set()
    if values & {"children", "descendants", "all"}:
        extra |= _walk(keys, graph, deep=bool(values & {"descendants", "all"}))
    if values & {"parents", "parentsandsiblings", "all", "ancestors"}:
        ups = _walk(keys, parents, deep="ancestors" in values)
        extra |= ups
        if values & {"parentsandsiblings", "all"}:
            extra |= _walk(ups, graph, deep=False)
    kinds = _reference_kinds(values)
    if kinds:
        related = _walk(keys, graph, deep=True) | _walk(keys, parents, deep=True)
        extra |= {k for k in related if k[0] in kinds}
    return extra


def _walk(start: Iterable[tuple[str, str, str, str]], graph: dict[Any, set[Any]], *, deep: bool) -> set[Any]:
    seen: set[Any] = set()
    frontier = set(start)
    while frontier:
        nxt: set[Any] = set()
        for k in frontier:
            for ref in graph.get(k, ()):
                if ref not in seen:
                    seen.add(ref)
                    nxt.add(ref)
        if not deep:
            break
        frontier = nxt
    return seen


def _invert(graph: dict[Any, set[Any]]) -> dict[Any, set[Any]]:
    out: dict[Any, set[Any]] = {}
    for k, refs in graph.items():
        for r in refs:
            out.setdefault(r, set()).add(k)
    return out


def _children(obj: Any) -> Iterable[Any]:
    """The maintainable artefacts an sdmx1 object refers to (DSD of a dataflow, codelists...)."""
    kind = kind_of(obj)
    if kind == "dataflow" and getattr(obj, "structure", None) is not None:
        yield obj.structure
    elif kind == "datastructure":
        for lst in (obj.dimensions, obj.attributes, obj.measures):
            for comp in lst.components:
                rep = comp.local_representation
                if rep is not None and rep.enumerated is not None:
                    yield rep.enumerated
                concept = comp.concept_identity
                if concept is not None and getattr(concept, "parent", None) is not None:
                    yield concept.parent
    elif kind == "contentconstraint":
        yield from getattr(obj, "content", ())
    elif kind == "conceptscheme":
        for concept in obj.items.values():
            rep = getattr(concept, "core_representation", None)
            if rep is not None and rep.enumerated is not None:
                yield rep.enumerated


def _partial(msg: StructureMessage, primary: set[Any]) -> None:
    """``detail=referencepartial``: the referenced concept schemes and codelists of the message
    (not those the query matched) cut to the items its artefacts use (:func:`_used_items`),
    ``isPartial`` set."""
    used = _used_items(msg)
    for kind, field_name in (("conceptscheme", "concept_scheme"), ("codelist", "codelist")):
        schemes = getattr(msg, field_name)
        for key, scheme in list(schemes.items()):
            wanted = used.get((kind, str(scheme.id)))
            agency = str(scheme.maintainer.id) if scheme.maintainer else ""
            if wanted is None or (kind, agency, str(scheme.id), str(scheme.version)) in primary:
                continue
            clone = copy.copy(scheme)
            clone.items = {k: v for k, v in scheme.items.items() if k in wanted}
            clone.is_partial = True
            schemes[key] = clone


def _used_items(msg: StructureMessage) -> dict[tuple[str, str], set[str]]:
    """Per (kind, scheme id), the items a message's artefacts use: the concepts of its DSDs'
    components; the codes its content constraints allow for a dimension (a codelist of no
    constrained dimension is not listed: it stays whole)."""
    used: dict[tuple[str, str], set[str]] = {}
    codelist_of: dict[str, set[str]] = {}  # dimension id -> codelist ids
    for dsd in msg.structure.values():
        for lst in (dsd.dimensions, dsd.attributes, dsd.measures):
            for comp in lst.components:
                concept = comp.concept_identity
                if concept is not None and getattr(concept, "parent", None) is not None:
                    used.setdefault(("conceptscheme", str(concept.parent.id)), set()).add(str(concept.id))
                rep = comp.local_representation
                if lst is dsd.dimensions and rep is not None and rep.enumerated is not None:
                    codelist_of.setdefault(str(comp.id), set()).add(str(rep.enumerated.id))
    for cc in msg.constraint.values():
        for region in getattr(cc, "data_content_region", ()):
            if str(region.included).lower() not in ("true", "1"):
                continue
            for dim, selection in region.member.items():
                for cl in codelist_of.get(str(dim.id), ()):
                    used.setdefault(("codelist", cl), set()).update(str(v.value) for v in selection.values)
    return used


def _only_items30(artefact: Artefact30, item: str) -> Artefact30:
    """A catalogue item scheme (pysdmx) cut to the items ``item`` names (``A+B``); the maps,
    MSDs and metadataflows have no items: 501."""
    import dataclasses

    import msgspec

    if artefact.info.kind not in ("conceptscheme", "codelist"):
        raise not_implemented(f"An item query on a {artefact.info.kind}")
    wanted = set(item.split("+"))
    items = [i for i in artefact.obj.items if i.id in wanted]
    if not items:
        raise QueryError(
            N_("{kind} {id} has no item {item}"),
            status=404,
            params={"kind": artefact.info.kind, "id": artefact.info.id, "item": item},
        )
    return dataclasses.replace(artefact, obj=msgspec.structs.replace(artefact.obj, items=items))


def _only_item(obj: Any, item: str) -> Any:
    items = getattr(obj, "items", None)
    if items is None:
        raise not_implemented(f"An item query on a {kind_of(obj)}")
    wanted = set(item.split("+"))
    if not wanted & set(items):
        raise QueryError(
            N_("{kind} {id} has no item {item}"),
            status=404,
            params={"kind": kind_of(obj), "id": obj.id, "item": item},
        )
    clone = copy.copy(obj)
    clone.items = {k: v for k, v in items.items() if k in wanted}
    return clone


#: SDMX-ML 2.1 element names of artefacts whose kind is not the name in lower case.
_KIND_OF_ELEMENT: dict[str, str] = {}


def _to_xml(
    msg: StructureMessage,
    stubbed: Callable[[str, str, str, str], bool] | None = None,
    *,
    complete: bool = False,
    references: bool = False,
) -> bytes:
    """sdmx1's SDMX-ML 2.1, with the standard URN class names and (``detail``) the artefacts
    ``stubbed(element, agency, id, version)`` picks cut to (complete) stubs (keeping the
    ``references`` SDMX-JSON 2.0 needs, for a message converted to another format)."""
    xml = structure_writer.standard_urns(sdmx.to_xml(msg))
    if stubbed is None:
        return xml
    return structure_writer.stubs_21(xml, stubbed, complete=complete, references=references)


def _sender() -> Any:
    return structure_writer.sender()


def _write_with_pysdmx(xml21: bytes | None, extra: list[Any], fmt: str) -> bytes:
    """The sdmx1 artefacts (as SDMX-ML 2.1 text, read by pysdmx) and pysdmx ones, written by pysdmx."""
    from pysdmx.errors import PysdmxError

    try:
        text = structure_writer.pysdmx_message(xml21, extra, fmt)
    except (CgdBridgeError, PysdmxError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise QueryError(
            N_("the structures could not be written as {fmt}: {exc}"),
            fix=N_("Ask for fewer references (references=none), or another structure format."),
            status=500,
            sdmx_code=500,
            params={"fmt": fmt, "exc": exc},
        ) from exc
    return structure_writer.full_urns(text, fmt).encode("utf-8")


def _convert_with_pysdmx(xml21: bytes, fmt: str) -> bytes:
    try:
        text = structure_writer.pysdmx_converted(xml21, fmt)
    except Exception as exc:
        raise QueryError(
            N_("the structures could not be written as {fmt}: {exc}"),
            fix=N_("Ask for SDMX-ML 2.1 (Accept: application/vnd.sdmx.structure+xml;version=2.1)."),
            status=500,
            sdmx_code=500,
            params={"fmt": fmt, "exc": exc},
        ) from exc
    return structure_writer.full_urns(text, fmt).encode("utf-8")
