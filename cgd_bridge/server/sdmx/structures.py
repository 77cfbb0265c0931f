"""Structure queries: find artefacts, follow their references, and write structure messages.

The structures are the bundled ``codelists/`` plus the local store (:class:`Structures`), as
sdmx1 objects. A query resolves to a set of artefacts (wildcards, latest versions, items), then
``references`` adds parents and/or children by following the objects' references through the
index (so a dataflow in one file and its DSD in another are found). The message is written:

- SDMX-ML 2.1 by sdmx1's ``to_xml`` (the reference implementation of the 2.1 model);
- SDMX-JSON 2.0 and SDMX-ML 3.0 by pysdmx, from the SDMX-ML 2.1 text (pysdmx's RegistryClient
  needs SDMX-JSON 2.0 structures on v2 paths; sdmx1 writes neither).

Responses are cached per query: structures change only on ``structures import``, and the
cache is keyed by the store's index file time.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sdmx
from sdmx.message import Header, StructureMessage

from cgd_bridge.errors import StructureError
from cgd_bridge.server.sdmx.query import FlowRef, QueryError, not_implemented
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
#: Standard resources this server knows but has nothing of (answered 404 "no results", not 501).
EMPTY_OK = {
    "metadataflow",
    "categoryscheme",
    "categorisation",
    "agencyscheme",
    "dataproviderscheme",
    "dataconsumerscheme",
    "organisationunitscheme",
    "hierarchicalcodelist",
    "provisionagreement",
    "structureset",
    "structuremap",
    "representationmap",
    "valuelist",
    "hierarchy",
    "metadatastructure",
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
STRUCTURE_FORMATS = ("sdmx-ml-2.1", "sdmx-ml-3.0", "sdmx-json-2.0")


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

    def __init__(self, structures: Structures, *, cache_size: int = 256) -> None:
        self.structures = structures
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
                self._stamp = stamp

    def find(self, q: StructureQuery) -> list[ArtefactInfo]:
        """The artefacts a query names (before references), latest versions unless all are asked."""
        kind = RESOURCES.get(q.resource)
        if kind is None:
            raise QueryError(
                f"'{q.resource}' is not an SDMX structure resource",
                fix="Use e.g. dataflow, datastructure, codelist, conceptscheme or contentconstraint.",
                status=404 if q.resource.isalpha() else 400,
            )
        infos = [
            i
            for i in self.structures.list(None if kind == "*" else kind)
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

    def resolve(self, q: StructureQuery) -> list[ArtefactInfo]:
        """The artefacts of a query with its references (parents, children...) added."""
        self._fresh()
        found = self.find(q)
        if not found:
            return []
        out: dict[tuple[str, str, str, str], ArtefactInfo] = {i.key: i for i in found}
        if q.references != "none":
            graph = self._reference_graph()
            parents = _invert(graph)
            by_key = {i.key: i for i in self.structures.list()}
            keys = set(out)
            extra: set[tuple[str, str, str, str]] = set()
            mode = q.references
            if mode in ("children", "all", "descendants") or mode not in _MODES:
                deep = mode in ("descendants", "all") or mode not in _MODES
                extra |= _walk(keys, graph, deep=deep)
            if mode in ("parents", "parentsandsiblings", "all", "ancestors"):
                ups = _walk(keys, parents, deep=mode == "ancestors")
                extra |= ups
                if mode in ("parentsandsiblings", "all"):
                    extra |= _walk(ups, graph, deep=False)
            if mode not in _MODES:  # a resource type: only references of that type
                kind = RESOURCES.get(mode, mode)
                extra = {k for k in extra | _walk(keys, parents, deep=True) if k[0] == kind}
            for k in extra:
                if k in by_key:
                    out.setdefault(k, by_key[k])
        return list(out.values())

    def _reference_graph(self) -> dict[tuple[str, str, str, str], set[tuple[str, str, str, str]]]:
        if self._graph is None:
            graph: dict[tuple[str, str, str, str], set[tuple[str, str, str, str]]] = {}
            for info in self.structures.list():
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

    def message(self, q: StructureQuery, fmt: str) -> bytes:
        """The structure message answering ``q`` in ``fmt`` (one of STRUCTURE_FORMATS).

        Raises a 404 QueryError when nothing matches.
        """
        if fmt not in STRUCTURE_FORMATS:
            raise QueryError(f"structure format {fmt} is not available", status=406)
        if q.detail in ("referencestubs", "referencecompletestubs", "allstubs", "allcompletestubs"):
            stubs = q.detail
        elif q.detail in ("full", "referencepartial", "raw"):
            stubs = None
        else:
            raise not_implemented(f"detail={q.detail}")
        self._fresh()
        key = (q, fmt)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        infos = self.resolve(q)
        if not infos:
            raise QueryError(
                f"no {q.resource} matches {q.ref}" + (f" item {q.item}" if q.item else ""),
                fix="List what the server has with /sdmx/rest/dataflow/all/all/latest or "
                "`cgd-bridge structures list`.",
                status=404,
            )
        primary = {i.key for i in self.find(q)}
        msg = StructureMessage(header=Header(id="CGD_BRIDGE_STRUCTURE", sender=_sender(), test=False))
        for info in infos:
            obj = self.structures.get(info.kind, info.id, info.agency, info.version)
            if q.item and info.key in primary:
                obj = _only_item(obj, q.item)
            if stubs and (stubs.startswith("all") or info.key not in primary):
                obj = _stub(obj)
            field_name = _MESSAGE_FIELD.get(info.kind)
            if field_name is None:
                continue
            getattr(msg, field_name)[f"{info.agency}:{info.id}({info.version})"] = obj
        xml = sdmx.to_xml(msg)
        body = xml if fmt == "sdmx-ml-2.1" else _convert_with_pysdmx(xml, fmt)
        with self._lock:
            self._cache[key] = body
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return body


_MODES = ("none", "parents", "parentsandsiblings", "children", "descendants", "all", "ancestors")


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


def _only_item(obj: Any, item: str) -> Any:
    items = getattr(obj, "items", None)
    if items is None:
        raise not_implemented(f"An item query on a {kind_of(obj)}")
    wanted = set(item.split("+"))
    if not wanted & set(items):
        raise QueryError(f"{kind_of(obj)} {obj.id} has no item {item}", status=404)
    clone = copy.copy(obj)
    clone.items = {k: v for k, v in items.items() if k in wanted}
    return clone


def _stub(obj: Any) -> Any:
    clone = copy.copy(obj)
    if getattr(clone, "items", None) is not None:
        clone.items = {}
    return clone


def _sender() -> Any:
    from sdmx.model.common import Agency

    return Agency(id="CGD_BRIDGE")


def _convert_with_pysdmx(xml21: bytes, fmt: str) -> bytes:
    from pysdmx.io import read_sdmx, write_sdmx
    from pysdmx.io.format import Format

    target = Format.STRUCTURE_SDMX_JSON_2_0_0 if fmt == "sdmx-json-2.0" else Format.STRUCTURE_SDMX_ML_3_0
    try:
        objects = read_sdmx(xml21.decode("utf-8"), validate=False).structures
        text = write_sdmx(objects, target)
    except Exception as exc:
        raise QueryError(
            f"the structures could not be written as {fmt}: {exc}",
            fix="Ask for SDMX-ML 2.1 (Accept: application/vnd.sdmx.structure+xml;version=2.1).",
            status=500,
            sdmx_code=500,
        ) from exc
    return (text or "").encode("utf-8")
