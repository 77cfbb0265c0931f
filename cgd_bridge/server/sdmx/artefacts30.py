"""The SDMX 3.0 artefacts structure queries serve beside the sdmx1 structures: maps and MSDs.

sdmx1 has no model of SDMX 3.0 StructureMaps and RepresentationMaps and cannot write an SDMX
3.0 metadata structure, so these are kept as pysdmx objects (pysdmx reads and writes them in
SDMX-ML 3.0 and SDMX-JSON 2.0):

- the **StructureMaps** of the bundled mappings (``mappings/*.yaml``, agency ``CGD_BRIDGE``) and
  of the mappings of published submissions anyone may read (open licence, embargo passed;
  agency: the producing CSO, :func:`public_mappings`), as ``cgd-bridge mapping export`` builds
  them (:func:`cgd_bridge.sdmx.write.maps.export_structure_map`): each with its
  RepresentationMaps and the CSO table's source dataflow, DSD and concept scheme (the last three
  hidden: not listed by queries for their kind, so that clients picking a dataflow to ask data
  of never see them, but found by reference or by a query naming their id);
- the **extension MSD** ``CGD_BRIDGE:CGD_QUALITY(1.0)`` with its concept scheme and the two
  metadataflows the quality metadata sets are reported against
  (:func:`cgd_bridge.sdmx.write.refmeta.extension_structures`);
- every **metadata structure** (and metadataflow) in the structures (``structures import`` of
  the SDG MSD, for example), read again from its file with pysdmx.

A metadataflow whose MSD is none of these (``MDF_CGD_SDG`` before the SDG MSD is imported) is
left out: every reference of an answer must resolve with a query on the same server.

Each artefact records the artefacts it refers to (every SDMX URN in it), so that
``references=children|descendants|all`` can follow them into the sdmx1 structures (a map's
target dataflow, a RepresentationMap's codelist).

The same mappings also give their **SDMX 2.1 StructureSets** (:attr:`Catalogue.structure_sets`,
:mod:`cgd_bridge.sdmx.write.maps21`: CodelistMaps and a StructureMap, with the codelists of
the CSO's labels), for the ``structureset`` queries of SDMX 2.1 clients. What those refer to
that only they have is served too, so that every reference resolves: the SDMX-ML 2.1 form of
the CSO table's dataflow, DSD and concept scheme (:attr:`Artefact30.xml21`) and the label
codelists (hidden items).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cgd_bridge import safeyaml
from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.structures import BUNDLED, ArtefactInfo, Structures

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cgd_bridge.clock import Clock
    from cgd_bridge.mapping.model import Mapping
    from cgd_bridge.sdmx.write.maps21 import StructureSet21

log = logging.getLogger(__name__)

#: The structure resources only this module has (sdmx1 cannot write them).
KINDS_30 = frozenset({"structuremap", "representationmap", "metadatastructure", "metadataflow"})
#: pysdmx class names -> SDMX REST resource names.
_KIND_OF_CLASS = {
    "StructureMap": "structuremap",
    "RepresentationMap": "representationmap",
    "MetadataStructure": "metadatastructure",
    "Metadataflow": "metadataflow",
    "Dataflow": "dataflow",
    "DataStructureDefinition": "datastructure",
    "ConceptScheme": "conceptscheme",
    "Codelist": "codelist",
    "ValueList": "valuelist",
}
#: URN classes -> the resource of the maintainable artefact they name (items name their scheme).
_KIND_OF_URN = {
    "Dataflow": "dataflow",
    "DataStructure": "datastructure",
    "Codelist": "codelist",
    "Code": "codelist",
    "ValueList": "valuelist",
    "ConceptScheme": "conceptscheme",
    "Concept": "conceptscheme",
    "StructureMap": "structuremap",
    "RepresentationMap": "representationmap",
    "MetadataStructure": "metadatastructure",
    "Metadataflow": "metadataflow",
}
#: a full URN (``urn:sdmx:org.sdmx.infomodel.codelist.Codelist=A:CL(1.0)``) or its short form
#: (``Codelist=A:CL(1.0)``): the class, agency, id and version.
_URN = re.compile(
    r"(?:urn:sdmx:org\.sdmx\.infomodel\.[a-z]+\.)?([A-Z]\w*)=([A-Za-z0-9_.@$-]+):([A-Za-z0-9_@$-]+)\(([^)]+)\)"
)

Key = tuple[str, str, str, str]
#: how the index entry of an artefact of a published submission's mapping names its source
#: (``submission version 12``)
SUBMITTED = "submission version"


@dataclass(frozen=True)
class Artefact30:
    """One SDMX 3.0 artefact: its index entry, the pysdmx object, what it refers to.

    Attributes:
        hidden: not listed by a query for its kind (a mapping's source dataflow, the codelists
            of a CSO's labels): found as a reference of another artefact, or by a query that
            names its id, so that every reference resolves.
        xml21: its SDMX-ML 2.1 form, when it has one that pysdmx does not write (the CSO
            table's dataflow, DSD and concept scheme and the label codelists of a mapping's
            StructureSet, :mod:`cgd_bridge.sdmx.write.maps21`), as an lxml element.
    """

    info: ArtefactInfo
    obj: Any
    refs: frozenset[Key]
    hidden: bool = False
    xml21: Any = None


def _agency(obj: Any) -> str:
    agency = getattr(obj, "agency", "")
    return str(getattr(agency, "id", agency))


def _named(text: str) -> set[Key]:
    """The artefacts a text names by URN (or short URN)."""
    return {(_KIND_OF_URN[c], a, i, v) for c, a, i, v in _URN.findall(text) if c in _KIND_OF_URN}


def _key(obj: Any, kind: str) -> Key:
    return (kind, _agency(obj), str(obj.id), str(obj.version))


def references(obj: Any) -> frozenset[Key]:
    """The maintainable artefacts an object refers to, e.g. ``("codelist", "A", "CL", "1.0")``.

    pysdmx keeps a reference either as text (a URN, or ``Class=AGENCY:ID(VERSION)``) or as the
    artefact itself (a dataflow's DSD, a metadataflow's MSD): both count, and an artefact inside
    is not searched further (what it refers to is its own business).
    """
    found: set[Key] = set()
    seen: set[int] = set()

    def visit(value: Any, top: bool = False) -> None:
        if isinstance(value, str):
            found.update(_named(value))
            return
        if value is None or isinstance(value, (int, float, bool, bytes)) or id(value) in seen:
            return
        seen.add(id(value))
        kind = _KIND_OF_CLASS.get(type(value).__name__)
        if kind is not None and not top:
            found.add(_key(value, kind))
            return
        if isinstance(value, dict):
            for v in value.values():
                visit(v)
            return
        fields = getattr(value, "__struct_fields__", None)
        if fields is not None:
            for f in fields:
                visit(getattr(value, f, None))
        if isinstance(value, Iterable):
            for v in value:
                visit(v)

    visit(obj, top=True)
    return frozenset(found)


@dataclass(frozen=True)
class SubmittedMapping:
    """The mapping of a published submission version that anyone may read.

    Attributes:
        version_id: the store's version id, e.g. ``12``.
        agency: the SDMX agency of its maps: the producing CSO's slug as an SDMX id, e.g.
            ``KE-HEALTH-CSO``.
        name: for messages, e.g. ``ke-health-cso/kenya-health-scorecard, version 12``.
        text: the mapping file as submitted (YAML or JSON).
    """

    version_id: int
    agency: str
    name: str
    text: str


def agency_id(slug: str) -> str:
    """An organisation's slug as an SDMX agency id (``ke-health-cso`` -> ``KE-HEALTH-CSO``)."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "_", slug.upper())
    return ident if ident[:1].isalpha() else f"CSO_{ident}"


def public_mappings(session: Session, now: dt.datetime) -> tuple[SubmittedMapping, ...]:
    """The mappings of the published versions an anonymous client may read (open licence,
    embargo passed: the store's access policy), one per submission, by version id."""
    from cgd_bridge.store import access

    out = []
    for v in access.readable_versions(session, None, None, now):
        text = v.mapping_text or ""
        if text.strip():
            slug = v.submission.producer.slug
            name = f"{slug}/{v.submission.dataset}, version {v.id}"
            out.append(SubmittedMapping(v.id, agency_id(slug), name, text))
    return tuple(sorted(out, key=lambda m: m.version_id))


def public_mappings_reader(
    sessions: sessionmaker[Session], clock: Clock
) -> Callable[[], tuple[SubmittedMapping, ...]]:
    """A function giving :func:`public_mappings` at ``clock``'s now, each call in its own session."""

    def read() -> tuple[SubmittedMapping, ...]:
        with sessions() as session:
            return public_mappings(session, clock())

    return read


@dataclass(frozen=True)
class StructureSetEntry:
    """One mapping's SDMX 2.1 StructureSet with its index entry and what it refers to."""

    info: ArtefactInfo
    built: StructureSet21
    refs: frozenset[Key]


class Catalogue:
    """The SDMX 3.0 artefacts of one state of the structures (and of the published mappings),
    built when first asked for."""

    def __init__(
        self, structures: Structures, mappings: Path | None, submitted: Sequence[SubmittedMapping] = ()
    ) -> None:
        self.structures = structures
        self.mappings = mappings
        self.submitted = tuple(submitted)
        self.problems: list[str] = []
        self._items: dict[Key, Artefact30] | None = None
        self._sets: dict[Key, StructureSetEntry] = {}
        self._lock = threading.Lock()

    @property
    def items(self) -> dict[Key, Artefact30]:
        """Every artefact by (kind, agency, id, version); built once, by one thread."""
        with self._lock:
            if self._items is None:
                self._items = {}
                self._add_extension()
                self._add_metadata_structures()
                self._add_mappings()
                self._add_submitted()
                self._drop_unresolved_metadataflows()
            return self._items

    @property
    def structure_sets(self) -> dict[Key, StructureSetEntry]:
        """The SDMX 2.1 StructureSets of the same mappings, by (kind, agency, id, version)."""
        _ = self.items  # built together
        return self._sets

    def _add_structure_set(
        self, mapping: Mapping, agency: str, name: str, source: str, file: str, sha256: str
    ) -> None:
        from cgd_bridge.sdmx.write.maps21 import build_structure_set

        try:
            built = build_structure_set(mapping, structures=self.structures, agency=agency, name=name)
        except CgdBridgeError as exc:
            self.problems.append(f"{name}: no StructureSet ({exc})")
            log.warning("mapping %s left out of the structure sets: %s", name, exc)
            return
        key: Key = ("structureset", built.agency, built.id, built.version)
        if key in self._sets:
            return  # the first source of an artefact version wins
        info = ArtefactInfo("structureset", *key[1:], built.name, source, file, sha256)
        self._sets[key] = StructureSetEntry(info, built, frozenset(_named(" ".join(built.refs))))
        self._add_forms_21(built, source, file, sha256)

    def _add_forms_21(self, built: StructureSet21, source: str, file: str, sha256: str) -> None:
        """What a StructureSet refers to that only it has, made resolvable: the SDMX-ML 2.1 form
        of the CSO table's dataflow, DSD and concept scheme (the same artefacts as the
        StructureMap's source, whose SDMX 3.0 form is in the items already), and the codelists
        of the CSO's labels (hidden items, read by pysdmx for the SDMX 3.0 formats)."""
        import dataclasses

        from lxml import etree
        from pysdmx.errors import PysdmxError
        from pysdmx.io import read_sdmx

        from cgd_bridge.sdmx.write.maps21 import structure_message
        from cgd_bridge.sdmx.write.msd21 import add_to_message

        assert self._items is not None
        for el in built.sources:
            kind = _KIND_OF_URN[etree.QName(el).localname]
            key = (kind, el.get("agencyID"), el.get("id"), el.get("version"))
            if key in self._items and self._items[key].xml21 is None:
                self._items[key] = dataclasses.replace(self._items[key], xml21=el)
        if not built.codelists:
            return
        text = add_to_message(structure_message([], with_codelists=False), built.codelists)
        try:
            objects = read_sdmx(text.decode("utf-8"), validate=False).structures or ()
        except (PysdmxError, ValueError) as exc:
            self.problems.append(f"{built.name}: the label codelists cannot be read ({exc})")
            log.warning("label codelists of %s left out: %s", built.name, exc)
            return
        elements = {(el.get("id"), el.get("version")): el for el in built.codelists}
        for obj in objects:
            key = _key(obj, "codelist")
            if key in self._items:
                continue
            info = ArtefactInfo(
                "codelist", *key[1:], str(getattr(obj, "name", "") or ""), source, file, sha256
            )
            self._items[key] = Artefact30(
                info, obj, frozenset(), hidden=True, xml21=elements.get((key[2], key[3]))
            )

    def _add(self, objects: Iterable[Any], source: str, file: str, sha256: str, *, shown: set[str]) -> None:
        assert self._items is not None
        for obj in objects:
            kind = _KIND_OF_CLASS.get(type(obj).__name__)
            if kind is None:
                continue
            key = _key(obj, kind)
            if key in self._items:
                continue  # the first source of an artefact version wins
            info = ArtefactInfo(
                kind, key[1], key[2], key[3], str(getattr(obj, "name", "") or ""), source, file, sha256
            )
            self._items[key] = Artefact30(info, obj, references(obj) - {key}, hidden=kind not in shown)

    def _add_extension(self) -> None:
        from pysdmx.io import read_sdmx

        from cgd_bridge.sdmx.write.refmeta import extension_structures

        text = extension_structures()
        objects = read_sdmx(text.decode("utf-8"), validate=False).structures or ()
        sha = hashlib.sha256(text).hexdigest()
        self._add(objects, "cgd-bridge", "extension_structures()", sha, shown=set(_KIND_OF_CLASS.values()))

    def _add_metadata_structures(self) -> None:
        """The MSDs and metadataflows the structures hold (e.g. an imported SDG MSD)."""
        from pysdmx.errors import PysdmxError
        from pysdmx.io import read_sdmx

        files: dict[Path, ArtefactInfo] = {}
        for info in [
            *self.structures.artefacts("metadatastructure"),
            *self.structures.artefacts("metadataflow"),
        ]:
            path = self._file_of(info)
            if path is not None:
                files.setdefault(path, info)
        for path, info in files.items():
            try:
                objects = read_sdmx(path.read_text(encoding="utf-8"), validate=False).structures or ()
            # pysdmx's parser fails on some agencies' files with KeyError and the like (Eurostat's
            # ESMS structure file: KeyError 'class'): the file is left out, never every query
            except (PysdmxError, OSError, ValueError, LookupError, TypeError, AttributeError) as exc:
                self.problems.append(f"{info.file}: pysdmx cannot read it ({exc})")
                log.warning("metadata structures of %s left out: %s", path, exc)
                continue
            self._add(
                objects, info.source, info.file, info.sha256, shown={"metadatastructure", "metadataflow"}
            )

    def _drop_unresolved_metadataflows(self) -> None:
        """Leave out the metadataflows whose MSD the server does not have (the SDG metadataflow
        when the SDG MSD was not imported): a reference a query cannot follow is of no use to a
        registry loading the answer."""
        assert self._items is not None
        for key, artefact in list(self._items.items()):
            if key[0] != "metadataflow":
                continue
            missing = sorted(k for k in artefact.refs if k[0] == "metadatastructure" and k not in self._items)
            if missing:
                del self._items[key]
                msd = ":".join(missing[0][1:3]) + f"({missing[0][3]})"
                self.problems.append(f"metadataflow {key[1]}:{key[2]}({key[3]}) left out: no MSD {msd}")
                log.info("metadataflow %s left out: its MSD %s is not in the structures", key, msd)

    def _file_of(self, info: ArtefactInfo) -> Path | None:
        if info.source != BUNDLED and self.structures.store is not None:
            return self.structures.store.folder / info.file
        for folder in self.structures.folders:
            path = folder.parent / info.file
            if path.is_file():
                return path
        return None

    def _add_mappings(self) -> None:
        """The StructureMap of every bundled mapping, as `cgd-bridge mapping export` writes it."""
        from pysdmx.errors import PysdmxError
        from pysdmx.io import read_sdmx

        from cgd_bridge.mapping import load_mapping
        from cgd_bridge.sdmx.write import export_structure_map

        if self.mappings is None or not self.mappings.is_dir():
            return
        for path in sorted(self.mappings.glob("*.yaml")):
            try:
                mapping, _ = load_mapping(path)
                exported = export_structure_map(mapping, structures=self.structures, name=path.name)
                objects = read_sdmx(exported.text, validate=False).structures or ()
            except (CgdBridgeError, PysdmxError, ValueError) as exc:
                self.problems.append(f"{path.name}: no StructureMap ({exc})")
                log.warning("mapping %s left out of the structure maps: %s", path, exc)
                continue
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            self._add(
                objects, f"mappings/{path.name}", path.name, sha, shown={"structuremap", "representationmap"}
            )
            self._add_structure_set(mapping, "CGD_BRIDGE", path.name, f"mappings/{path.name}", path.name, sha)

    def _add_submitted(self) -> None:
        """The StructureMaps of the published mappings, maintained by their producers."""
        import yaml
        from pydantic import ValidationError
        from pysdmx.errors import PysdmxError
        from pysdmx.io import read_sdmx

        from cgd_bridge.mapping.model import Mapping
        from cgd_bridge.sdmx.write import export_structure_map

        for m in self.submitted:
            try:
                mapping = Mapping.model_validate(safeyaml.load(m.text))
                exported = export_structure_map(
                    mapping, structures=self.structures, agency=m.agency, name=m.name
                )
                objects = read_sdmx(exported.text, validate=False).structures or ()
            except (CgdBridgeError, PysdmxError, ValidationError, yaml.YAMLError, ValueError) as exc:
                self.problems.append(f"{m.name}: no StructureMap ({exc})")
                log.warning("mapping of %s left out of the structure maps: %s", m.name, exc)
                continue
            sha = hashlib.sha256(m.text.encode("utf-8")).hexdigest()
            source = f"{SUBMITTED} {m.version_id}"
            self._add(objects, source, m.name, sha, shown={"structuremap", "representationmap"})
            self._add_structure_set(mapping, m.agency, m.name, source, m.name, sha)

    def artefacts(self, kind: str | None = None, *, named: bool = False) -> list[ArtefactInfo]:
        """The artefacts a query for ``kind`` (None: every kind) can find: hidden ones only when
        the query names an id (``named``), as following a reference does."""
        return [
            a.info
            for a in self.items.values()
            if (named or not a.hidden) and (kind is None or a.info.kind == kind)
        ]


def stub(obj: Any) -> Any:
    """The artefact without its items or maps (``detail=allstubs`` and the like)."""
    import msgspec

    fields = {f: () for f in ("items", "maps") if hasattr(obj, f)}
    return msgspec.structs.replace(obj, **fields) if fields else obj
