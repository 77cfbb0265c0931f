"""Mappings read back from SDMX maps: SDMX 3.0 StructureMaps/RepresentationMaps, SDMX 2.1 CodelistMaps.

:func:`import_sdmx_maps` reads SDMX-ML 3.0 and SDMX-JSON 2.0 structure messages with pysdmx, and
SDMX-ML 2.1 StructureSets with lxml (sdmx1 2.28 reads their CodelistMaps but stops with
``NotImplementedError`` at a StructureSet's StructureMap, which is where SDMX 2.1 says which
component a codelist map is for). :class:`MappingBuilder` collects what the maps say (it also
serves :mod:`cgd_bridge.sdmx.read.opensdg`) and turns it into a :class:`~cgd_bridge.mapping.model.Mapping`,
with the target DSD deciding what is a dimension and in which key order.

Everything that cannot be carried over (multi-component maps, regular expressions and
substrings, validity periods, epoch maps, other date patterns, maps nothing uses, other
artefacts) becomes a :class:`~cgd_bridge.sdmx.maps.MappingWarning` naming the file and
the element; a file that cannot be read is a :class:`~cgd_bridge.errors.MappingError`. A file
cgd-bridge exported itself carries a ``CGD_MAPPING`` annotation from which the parts SDMX cannot
express (derived values, drop rules, aggregation, the Table Schema) are restored exactly.

Example::

    >>> flow = "CGD_BRIDGE:DF_CGD_KE(1.0)"
    >>> imported = import_sdmx_maps([Path("kenya-map.xml")], dataflow=flow)  # doctest: +SKIP
    >>> imported.mapping.dimensions["SEX"].map["F"]  # doctest: +SKIP
    ['Female', 'Mwanamke']
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_
from cgd_bridge.mapping.model import PROFILE, Mapping, normalise_label
from cgd_bridge.sdmx.maps import (
    ANN_FIXED,
    ANN_LABELS,
    ANN_MAPPING,
    ANN_PASSTHROUGH,
    COMMON_ATTRIBUTES,
    PATTERN_FORMATS,
    Imported,
    MappingWarning,
    TargetStructure,
    target_of,
)

# -- reading the files ---------------------------------------------------------------------------


@dataclass
class _Collected:
    """The artefacts of every input file, each with the file it came from."""

    structure_maps: list[tuple[str, Any]] = field(default_factory=list)
    rep_maps: dict[str, tuple[str, Any]] = field(default_factory=dict)
    codelist_maps: list[tuple[str, Any]] = field(default_factory=list)
    source_dsds: list[Any] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    links21: dict[str, tuple[str, str]] = field(default_factory=dict)
    implicit21: list[tuple[str, str, str]] = field(default_factory=list)
    value_maps21: list[tuple[str, str, str, list[tuple[str, str]]]] = field(default_factory=list)
    fixed21: list[tuple[str, str, str]] = field(default_factory=list)
    labels21: dict[str, dict[str, str]] = field(default_factory=dict)
    machine21: tuple[str, str, dict[str, Any]] | None = None
    warnings: list[MappingWarning] = field(default_factory=list)

    def warn(self, file: str, element: str, problem: str) -> None:
        self.warnings.append(MappingWarning(file, element, problem))


def _short(urn_text: str) -> str:
    """``...RepresentationMap=A:ID(1.0)`` -> ``A:ID(1.0)``."""
    return str(urn_text).rsplit("=", 1)[-1]


def sniff_sdmx(path: Path) -> str | None:
    """``sdmx-ml-2.1``, ``sdmx-ml-3.0``, ``sdmx-json`` or None (not SDMX) from a file's start."""
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "sdmx-json"
    if head.startswith(b"<"):
        if b"/schemas/v2_1/" in head:
            return "sdmx-ml-2.1"
        if b"/schemas/v3_0/" in head:
            return "sdmx-ml-3.0"
        return "xml"
    return None


def _read_pysdmx(path: Path, kind: str, out: _Collected) -> None:
    from lxml import etree
    from pysdmx.errors import PysdmxError
    from pysdmx.io import read_sdmx

    try:
        message = read_sdmx(path, validate=kind == "sdmx-ml-3.0")
    except (PysdmxError, ValueError, KeyError, TypeError, AttributeError, etree.XMLSyntaxError) as exc:
        raise MappingError(
            N_("the file cannot be read as an {format} structure message ({reason})"),
            fix=N_(
                "Give an SDMX-ML 3.0 or SDMX-JSON 2.0 structure message with StructureMaps and "
                "RepresentationMaps (as a registry's /structure/structuremap query returns), or an "
                "SDMX-ML 2.1 StructureSet."
            ),
            file=path.name,
            params={"format": "SDMX-JSON 2.0" if kind == "sdmx-json" else "SDMX-ML 3.0", "reason": str(exc)},
        ) from exc
    for obj in message.structures or []:
        kind_name = type(obj).__name__
        if kind_name == "StructureMap":
            out.structure_maps.append((path.name, obj))
        elif kind_name in ("RepresentationMap", "MultiRepresentationMap"):
            out.rep_maps[_short(obj.short_urn)] = (path.name, obj)
        elif kind_name == "DataStructureDefinition":
            out.source_dsds.append(obj)
        elif kind_name not in ("ConceptScheme", "Dataflow", "Codelist", "ValueList"):
            out.warn(path.name, f"{kind_name} {getattr(obj, 'id', '')}", "not a map; not used")
    _scan_unsupported(path, kind, out)


def _scan_unsupported(path: Path, kind: str, out: _Collected) -> None:
    """What pysdmx reads without saying: regex/substring source values, epoch maps, other maps."""
    if kind == "sdmx-json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        for key in data.get("data", {}):
            if key not in (
                "structureMaps",
                "representationMaps",
                "dataStructures",
                "dataflows",
                "conceptSchemes",
                "codelists",
                "valueLists",
            ):
                out.warn(path.name, key, "not a structure or representation map; not used")
        for sm in data.get("data", {}).get("structureMaps", []):
            if sm.get("epochMaps"):
                out.warn(
                    path.name,
                    f"StructureMap {sm.get('id')} epochMaps",
                    "epoch maps are not supported; left out",
                )
        return
    from lxml import etree

    tree = _parse_xml(path, "SDMX-ML 3.0")
    for el in tree.iter("{*}SourceValue"):
        for attr in ("isRegEx", "startIndex", "endIndex"):
            if el.get(attr) not in (None, "false"):
                out.warn(
                    path.name,
                    f"SourceValue '{el.text}' ({attr}={el.get(attr)})",
                    "regular expressions and substrings are not supported: the value is taken as a "
                    "plain label",
                )
    for _ in tree.iter("{*}EpochMap"):
        out.warn(path.name, "EpochMap", "epoch maps are not supported; left out")
    structures = next(tree.iter("{*}Structures"), None)
    for child in structures if structures is not None else []:
        if isinstance(child.tag, str) and etree.QName(child).localname not in _XML_USED:
            out.warn(
                path.name, etree.QName(child).localname, "not a structure or representation map; not used"
            )


_XML_USED = {
    "StructureMaps",
    "RepresentationMaps",
    "DataStructures",
    "Dataflows",
    "ConceptSchemes",
    "Codelists",
    "ValueLists",
}


@dataclass
class CodelistMap21:
    """An SDMX 2.1 CodelistMap: source code -> target code, between two codelists."""

    id: str
    source: str
    target: str
    pairs: list[tuple[str, str]] = field(default_factory=list)


def _ref_id(el: Any) -> str:
    """The ID a 2.1 reference element points to (``<Ref id=.../>`` or ``<URN>``)."""
    if el is None:
        return ""
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.get("id"):
            return str(child.get("id"))
        if (child.text or "").strip():
            return _short(child.text.strip())
    return ""


def _parse_xml(path: Path, what: str) -> Any:
    """The XML tree of a map file, with no entities resolved and nothing fetched; a file that is
    not well-formed XML, or not in the encoding it declares, is a MappingError naming it."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.parse(str(path), parser)
    except (etree.XMLSyntaxError, OSError) as exc:  # lxml reports a bad encoding as OSError
        raise MappingError(
            N_("the file cannot be read as {format} ({reason})"),
            fix=N_(
                "Give a complete, well-formed SDMX structure message (UTF-8), as a registry returns it: "
                "the file may be cut off, so download or export it again."
            ),
            file=path.name,
            params={"format": what, "reason": str(exc)},
        ) from exc


def _read_sdmx21(path: Path, out: _Collected) -> None:
    """CodelistMaps and the ComponentMaps that say which component each one is for.

    Read with lxml: sdmx1 2.28 reads CodelistMaps, but stops with NotImplementedError at a
    StructureSet's StructureMap, which is where SDMX 2.1 links a codelist map to components.
    """
    from lxml import etree

    root = _parse_xml(path, "SDMX-ML 2.1").getroot()
    sets = list(root.iter("{*}StructureSet"))
    if not sets:
        raise MappingError(
            N_("the SDMX 2.1 structure message has no StructureSet"),
            fix=N_("Give a StructureSet with CodelistMaps (a registry's /structureset query)."),
            file=path.name,
        )
    for cl in root.iter("{*}Codelist"):
        if ANN_LABELS in _annotations21(cl):
            # a cgd-bridge export: the codes' names are the CSO's labels (see sdmx_maps21)
            out.labels21[str(cl.get("id"))] = {
                str(code.get("id")): (code.findtext("{*}Name") or str(code.get("id")))
                for code in cl.iterfind("{*}Code")
            }
    for ss in sets:
        for child in ss:
            name = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if name == "CodelistMap":
                cm = CodelistMap21(str(child.get("id")), _ref_id(child.find("{*}Source")),
                                   _ref_id(child.find("{*}Target")))  # fmt: skip
                labels = out.labels21.get(cm.source, {})
                for code_map in child.iterfind("{*}CodeMap"):
                    source = _ref_id(code_map.find("{*}Source"))
                    cm.pairs.append((labels.get(source, source), _ref_id(code_map.find("{*}Target"))))
                out.codelist_maps.append((path.name, cm))
            elif name == "StructureMap":
                _read_structure_map21(path.name, child, out)
            elif name not in ("", "Annotations", "Name", "Description", "RelatedStructure"):
                element = f"StructureSet {ss.get('id')} {name} {child.get('id') or ''}".rstrip()
                out.warn(path.name, element, "only CodelistMaps and StructureMaps are used; left out")


def _annotations21(el: Any) -> dict[str, list[tuple[str, str]]]:
    """An SDMX-ML 2.1 artefact's own annotations: type -> [(title, text)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    box = el.find("{*}Annotations")
    for a in box.iterfind("{*}Annotation") if box is not None else ():
        kind = (a.findtext("{*}AnnotationType") or "").strip()
        out.setdefault(kind, []).append(
            ((a.findtext("{*}AnnotationTitle") or "").strip(), a.findtext("{*}AnnotationText") or "")
        )
    return out


def _read_structure_map21(file: str, sm: Any, out: _Collected) -> None:
    from lxml import etree

    annotations = _annotations21(sm)
    for title, text in annotations.get(ANN_FIXED, []):
        out.fixed21.append((file, title, text.strip()))
    for _title, text in annotations.get(ANN_MAPPING, [])[:1]:
        machine = _machine(text)
        if machine is not None:
            out.machine21 = (file, f"StructureMap {sm.get('id')}", machine)
    for cmap in sm.iterfind("{*}ComponentMap"):
        source, target = _ref_id(cmap.find("{*}Source")), _ref_id(cmap.find("{*}Target"))
        rep = cmap.find("{*}RepresentationMapping")
        element = f"StructureMap {sm.get('id')} ComponentMap {source} -> {target}"
        if rep is None:
            out.implicit21.append((file, source, target))
            continue
        kinds = [etree.QName(c).localname for c in rep if isinstance(c.tag, str)]
        if kinds == ["CodelistMap"]:
            out.links21[_ref_id(rep.find("{*}CodelistMap"))] = (target, source)
        elif kinds == ["ValueMap"]:
            pairs = [
                (str(vm.get("source")), str(vm.get("target")))
                for vm in rep.find("{*}ValueMap").iterfind("{*}ValueMapping")
            ]
            out.value_maps21.append((file, source, target, pairs))
        else:
            out.warn(
                file, element, f"maps values with {', '.join(kinds)}; only CodelistMaps are used, left out"
            )


def import_sdmx_maps(
    paths: Sequence[Path],
    *,
    dataflow: str,
    structures: Any | None = None,
    links: dict[str, tuple[str, str | None]] | None = None,
) -> Imported:
    """A mapping from SDMX 3.0 structure/representation maps or SDMX 2.1 CodelistMaps.

    Args:
        paths: SDMX-ML 3.0, SDMX-JSON 2.0 or SDMX-ML 2.1 structure messages.
        dataflow: the target dataflow, ``AGENCY:ID(VERSION)``.
        structures: bundled + stored structures, to tell dimensions from attributes.
        links: for code maps that name no component (2.1 CodelistMaps, representation maps no
            StructureMap uses): map ID, source or target codelist ID -> (component, column),
            e.g. ``{"REF_AREA_TO_ISO3": ("REF_AREA", "country")}``.
    """
    out = _Collected()
    for path in paths:
        kind = sniff_sdmx(path)
        if kind == "sdmx-ml-2.1":
            _read_sdmx21(path, out)
        elif kind in ("sdmx-ml-3.0", "sdmx-json"):
            _read_pysdmx(path, kind, out)
        else:
            raise MappingError(
                N_("the file is not an SDMX-ML 2.1/3.0 or SDMX-JSON structure message"),
                fix=N_("Give SDMX structure maps (XML or JSON), or open-sdg column-map/code-map CSV files."),
                file=path.name,
            )
    builder = MappingBuilder(target_of(dataflow, structures), out.warnings, links)
    if out.structure_maps:
        file, sm = _pick_structure_map(out, dataflow)
        builder.from_structure_map(file, sm, out)
        for short, (rm_file, _) in out.rep_maps.items():
            if short in out.used:
                continue
            out.warn(
                rm_file,
                f"RepresentationMap {short}",
                f"no ComponentMap of {_short(sm.short_urn)} uses it; not used",
            )
    elif out.codelist_maps or out.rep_maps or out.implicit21 or out.value_maps21:
        builder.from_structure_set21(out)
        for short, (file, rm) in _latest(out).items():
            builder.from_lone_rep_map(file, short, rm)
    else:
        raise MappingError(
            N_("the files hold no StructureMap, RepresentationMap or CodelistMap"),
            fix=N_("Export the maps from the registry (structuremap/representationmap or structureset)."),
            file=", ".join(p.name for p in paths),
        )
    mapping = builder.mapping(dataflow)
    return Imported(mapping=mapping, sources=[p.name for p in paths], warnings=out.warnings)


def _latest(out: _Collected) -> dict[str, tuple[str, Any]]:
    """The highest version of each representation map (older ones are reported)."""
    from cgd_bridge.sdmx.refs import parse_ref
    from cgd_bridge.structures import version_key

    best: dict[tuple[str | None, str], tuple[str, tuple[str, Any]]] = {}
    for short, (file, rm) in out.rep_maps.items():
        agency, ident, version = parse_ref(short)
        old = best.get((agency, ident))
        if old is None or version_key(version or "") > version_key(parse_ref(old[0])[2] or ""):
            if old is not None:
                out.warn(old[1][0], f"RepresentationMap {old[0]}", f"not used: the later {short} is")
            best[(agency, ident)] = (short, (file, rm))
        else:
            out.warn(file, f"RepresentationMap {short}", f"not used: the later {old[0]} is")
    return dict(best.values())


def _pick_structure_map(out: _Collected, dataflow: str) -> tuple[str, Any]:
    from cgd_bridge.sdmx.refs import parse_ref
    from cgd_bridge.structures import version_key

    agency, ident, version = parse_ref(dataflow)

    def targets(sm: Any) -> bool:
        t_agency, t_id, t_version = parse_ref(_short(sm.target))
        return (
            t_id == ident
            and (agency is None or t_agency == agency)
            and (version is None or t_version == version)
        )

    candidates = [(f, sm) for f, sm in out.structure_maps if targets(sm)] or out.structure_maps
    chosen = max(candidates, key=lambda fs: version_key(str(fs[1].version)))
    for file, sm in out.structure_maps:
        if sm is not chosen[1]:
            out.warn(
                file,
                f"StructureMap {_short(sm.short_urn)}",
                f"not used: {_short(chosen[1].short_urn)} "
                "was chosen (one mapping is built from one StructureMap)",
            )
    if not targets(chosen[1]):
        out.warn(
            chosen[0],
            f"StructureMap {_short(chosen[1].short_urn)}",
            f"its target is {_short(chosen[1].target)}, not {dataflow}: check the codes it gives",
        )
    return chosen


class MappingBuilder:
    """Collects dimensions, attributes, time and value for a new mapping, warning as it goes.

    The SDMX importers here and :mod:`cgd_bridge.sdmx.read.opensdg` fill it; :meth:`mapping`
    splits the components into dimensions (in the DSD's key order) and attributes.
    """

    def __init__(
        self,
        target: TargetStructure,
        warnings: list[MappingWarning],
        links: dict[str, tuple[str, str | None]] | None = None,
    ) -> None:
        self.target = target
        self.links = links or {}
        self.warnings = warnings
        self.components: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, str] = {}
        self.time: dict[str, Any] | None = None
        self.value: dict[str, Any] | None = None
        self.extra: dict[str, Any] = {}
        self.extra_file = ""
        self.dataset: str | None = None
        self.version = "1.0.0"
        if not target.known:
            self.warn(
                target.dataflow or "--dataflow",
                "dataflow",
                "not among the bundled or imported structures: dimensions and attributes are told apart "
                "by the SDG DSD's dimension list. Import its DSD with 'cgd-bridge structures import' "
                "for a right split and key order.",
            )

    def warn(self, file: str, element: str, problem: str) -> None:
        self.warnings.append(MappingWarning(file, element, problem))

    # the SDMX 3.0 side

    def from_structure_map(self, file: str, sm: Any, out: _Collected) -> None:
        machine = _machine_annotation(sm)
        columns: dict[str, str] = machine.get("columns") or {}
        name = f"StructureMap {_short(sm.short_urn)}"
        self.dataset = machine.get("dataset") or str(sm.id).removeprefix("SM_").lower()
        self.version = machine.get("version") or str(sm.version)
        for m in sm.maps:
            kind = type(m).__name__
            handler = getattr(self, f"_sm_{kind}", None)
            if handler is None:
                self.warn(file, f"{name} {kind}", "not supported; left out")
                continue
            handler(file, name, m, columns, out)
        self._restore(file, name, machine)

    def _sm_DatePatternMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        element = f"{name} DatePatternMap {m.source} -> {m.target} '{m.pattern}'"
        if m.target != "TIME_PERIOD":
            self.warn(file, element, "only TIME_PERIOD can come from a date pattern; left out")
        elif self.time is not None:
            self.warn(file, element, "TIME_PERIOD already comes from another map; left out")
        elif m.pattern not in PATTERN_FORMATS:
            self.warn(
                file,
                element,
                "cgd-bridge reads years (yyyy), months (yyyy-MM) and dates (yyyy-MM-dd); "
                "left out: write the 'time' section by hand",
            )
        else:
            self.time = {"column": columns.get(m.source, m.source), "format": PATTERN_FORMATS[m.pattern]}

    def _sm_FixedValueMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        if m.located_in == "source":
            self.warn(
                file, f"{name} FixedValueMap {m.target}={m.value}", "fixes a source component; not used"
            )
        elif m.target == "TIME_PERIOD":
            self.time = {"value": str(m.value)}
        elif m.target == "OBS_VALUE":
            self.warn(file, f"{name} FixedValueMap OBS_VALUE", "a fixed observation value is not supported")
        else:
            self._add(file, m.target, {"value": str(m.value)})

    def _sm_ImplicitComponentMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        column = columns.get(m.source, m.source)
        if m.target == "TIME_PERIOD":
            self.time = self.time or {"column": column, "format": "period"}
        elif m.target == "OBS_VALUE":
            self.value = {"kind": "column", "column": column}
        else:
            self._add(file, m.target, {"column": column, "passthrough": True})

    def _sm_ComponentMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        ref = _short(m.values) if isinstance(m.values, str) else _short(m.values.short_urn)
        element = f"{name} ComponentMap {m.source} -> {m.target}"
        column = columns.get(m.source, m.source)
        out.used.add(ref)
        found = out.rep_maps.get(ref) if isinstance(m.values, str) else (file, m.values)
        if found is None:
            self.warn(
                file,
                element,
                f"its RepresentationMap {ref} is in none of the files: the column's values "
                "are used as codes as they are (passthrough). Give the file with that map too.",
            )
            self._add(file, m.target, {"column": column, "passthrough": True})
            return
        rm_file, rm = found
        if type(rm).__name__ != "RepresentationMap":
            self.warn(
                rm_file, f"RepresentationMap {ref}", "maps several values at once; not supported, left out"
            )
            return
        spec = {"column": column, "map": self._labels(rm_file, ref, rm)}
        if any(getattr(a, "type", None) == ANN_PASSTHROUGH for a in rm.annotations):
            spec["passthrough"] = True
        self._add(file, m.target, spec)

    def _sm_MultiComponentMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        self.warn(
            file,
            f"{name} ComponentMap {'+'.join(m.source)} -> {'+'.join(m.target)}",
            "maps several components at once; cgd-bridge maps one column per component. Left out.",
        )

    def _labels(self, file: str, ref: str, rm: Any) -> dict[str, list[str]]:
        """code -> labels of a representation map, warning about what cannot be kept."""
        out: dict[str, list[str]] = {}
        seen: dict[str, str] = {}
        for vm in rm.maps:
            element = f"RepresentationMap {ref} '{vm.source}' -> '{vm.target}'"
            if vm.valid_from or vm.valid_to:
                self.warn(
                    file, element, "its validity period is not supported: the label is kept for all periods"
                )
            source = str(vm.source).removeprefix("regex:")
            key = normalise_label(source)
            if key in seen and seen[key] != vm.target:
                self.warn(
                    file,
                    element,
                    f"labels match case-insensitively, and '{source}' already gives '{seen[key]}'; left out",
                )
                continue
            seen[key] = str(vm.target)
            labels = out.setdefault(str(vm.target), [])
            if source not in labels and source != vm.target:  # a code matches itself anyway
                labels.append(source)
        return out

    def _restore(self, file: str, name: str, machine: dict[str, Any]) -> None:
        """Apply the CGD_MAPPING annotation of a cgd-bridge export."""
        if not machine:
            return
        if machine.get("time"):
            self.time = machine["time"]
        if machine.get("value"):
            self.value = machine["value"]
        for comp_id in machine.get("passthrough") or []:
            if comp_id in self.components and "column" in self.components[comp_id]:
                self.components[comp_id]["passthrough"] = True
        for comp_id, more in (machine.get("component_fields") or {}).items():
            if comp_id in self.components:
                self.components[comp_id].update(more)
        for comp_id in machine.get("dimensions") or []:
            self.roles.setdefault(comp_id, "dimensions")
        for comp_id in machine.get("attributes") or []:
            self.roles.setdefault(comp_id, "attributes")
        self.extra_file = file
        for key in ("drop", "schema"):
            if machine.get(key):
                self.extra[key] = machine[key]
        self.extra.update(machine.get("sections") or {})

    # the SDMX 2.1 side, and representation maps no StructureMap uses

    def from_structure_set21(self, out: _Collected) -> None:
        """What SDMX 2.1 StructureSets hold: the ComponentMaps with their CodelistMaps or
        ValueMaps, and (from a cgd-bridge export) fixed values and the ``CGD_MAPPING`` annotation."""
        machine = out.machine21[2] if out.machine21 else {}
        columns: dict[str, str] = machine.get("columns") or {}
        for file, source, target in out.implicit21:
            column = columns.get(source, source)
            if target == "TIME_PERIOD":
                self.time = self.time or {"column": column, "format": "period"}
            elif target == "OBS_VALUE":
                self.value = {"kind": "column", "column": column}
            else:
                self._add(file, target, {"column": column, "passthrough": True})
        for file, target, value in out.fixed21:
            if target == "TIME_PERIOD":
                self.time = {"value": value}
            else:
                self._add(file, target, {"value": value})
        for file, source, target, pairs in out.value_maps21:
            self._add(file, target, {"column": columns.get(source, source), "map": _labels_by_code(pairs)})
        for file, cm in out.codelist_maps:
            link = out.links21.get(cm.id)
            if link is not None:
                link = (link[0], columns.get(link[1], link[1]))
            self.from_codelist_map(file, cm, link)
        if out.machine21 is not None:
            file, name, _ = out.machine21
            self.dataset = machine.get("dataset") or self.dataset
            self.version = machine.get("version") or self.version
            self._restore(file, name, machine)

    def from_codelist_map(self, file: str, cm: CodelistMap21, link: tuple[str, str] | None) -> None:
        """An SDMX 2.1 CodelistMap; ``link`` is (component, column) from a 2.1 StructureMap."""
        labels = _labels_by_code(cm.pairs)
        element = f"CodelistMap {cm.id} ({cm.source} -> {cm.target})"
        if link is not None and not any(k in self.links for k in (cm.id, cm.source, cm.target)):
            self._add(file, link[0], {"column": link[1], "map": labels})
            return
        self._unlinked(file, element, cm.source, cm.target, {"map": labels})

    def from_lone_rep_map(self, file: str, ref: str, rm: Any) -> None:
        if type(rm).__name__ != "RepresentationMap":
            self.warn(
                file, f"RepresentationMap {ref}", "maps several values at once; not supported, left out"
            )
            return
        source = (
            _short(rm.source) if isinstance(rm.source, str) else str(getattr(rm.source, "value", "value"))
        )
        target = _short(rm.target) if isinstance(rm.target, str) else ""
        self._unlinked(file, f"RepresentationMap {ref}", source, target, {"map": self._labels(file, ref, rm)})

    def _unlinked(
        self, file: str, element: str, source_cl: str, target_cl: str, spec: dict[str, Any]
    ) -> None:
        """A code map with no component: the component by its codelist, the column after the source."""
        from cgd_bridge.sdmx.refs import parse_ref

        target_id = parse_ref(target_cl)[1] if target_cl else ""
        comps = [c for c, cl in self.target.codelists.items() if parse_ref(cl)[1] == target_id]
        column = re.sub(r"^CL_", "", parse_ref(source_cl)[1] if "(" in source_cl else source_cl)
        map_id = parse_ref(element.split()[1])[1]
        keys = (map_id, parse_ref(source_cl)[1] if "(" in source_cl else source_cl, target_id)
        link = next((self.links[k] for k in keys if k in self.links), None)
        if link is not None:
            self.warn(file, element, f"used for {link[0]} from the column '{link[1] or column}' (--link)")
            self._add(file, link[0], {"column": link[1] or column, **spec})
            return
        if len(comps) == 1:
            comp_id = comps[0]
            where = f"the component of {self.target.dataflow} that uses {target_id}"
        else:
            comp_id = re.sub(r"^CL_", "", target_id) or column
            where = (
                f"no single component of {self.target.dataflow} uses {target_id}, so the component is "
                f"named after the codelist"
            )
        self.warn(
            file,
            element,
            f"an SDMX code map names no column or component: it is used for {comp_id} ({where}) "
            f"and the column '{column}' (named after the source codelist). Rename them to match your data, "
            f"or run again with --link {map_id}=COMPONENT:COLUMN.",
        )
        self._add(file, comp_id, {"column": column, **spec})

    # the result

    def _add(self, file: str, comp_id: str, spec: dict[str, Any]) -> None:
        if comp_id in self.components:
            self.warn(file, comp_id, "already mapped by an earlier map; this one is left out")
            return
        self.components[comp_id] = spec

    def mapping(self, dataflow: str) -> Mapping:
        from pydantic import ValidationError

        data: dict[str, Any] = {
            "profile": PROFILE,
            "dataset": self.dataset,
            "version": self.version,
            "dataflow": dataflow,
        }
        dims, attrs = self._split()
        data.update({"dimensions": dims, "attributes": attrs})
        if self.time:
            data["time"] = self.time
        if self.value:
            data["value"] = self.value
        for key, value in self.extra.items():
            if key in Mapping.model_fields or key == "schema":
                data[key] = value
            else:
                self.warn(
                    self.extra_file,
                    f"{ANN_MAPPING} section '{key}'",
                    "a section this version of cgd-bridge does not know; left out",
                )
        try:
            return Mapping.model_validate({k: v for k, v in data.items() if v is not None})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise MappingError(
                N_("the maps give no valid mapping at '{where}': {reason}"),
                fix=N_("Check the map for '{where}' in the input files."),
                field=where,
                params={"where": where, "reason": err["msg"]},
            ) from exc

    def _split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        dims: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        for comp_id, spec in self.components.items():
            role = self.target.role(comp_id) or self.roles.get(comp_id)
            if role is None and self.target.known:
                self.warn(
                    self.target.dataflow,
                    comp_id,
                    "not a dimension or attribute of the dataflow's DSD; left out",
                )
                continue
            if role is None and comp_id in COMMON_ATTRIBUTES:
                role = "attributes"
            if role is None:
                role = "dimensions"
                if comp_id not in self.target.dimensions:
                    self.warn(
                        self.target.dataflow,
                        comp_id,
                        "not known to be a dimension or an attribute; put "
                        "under dimensions: move it if it is an attribute",
                    )
            (dims if role == "dimensions" else attrs)[comp_id] = spec
        order = {c: i for i, c in enumerate(self.target.dimensions)}
        dims = dict(sorted(dims.items(), key=lambda kv: order.get(kv[0], len(order))))
        return dims, attrs


def _labels_by_code(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(label, code) pairs of an SDMX 2.1 CodelistMap or ValueMap as code -> labels."""
    labels: dict[str, list[str]] = {}
    for label, code in pairs:
        if label != code:  # a code matches itself anyway
            labels.setdefault(code, []).append(label)
    return labels


def _machine(text: str) -> dict[str, Any] | None:
    """The JSON object of a ``CGD_MAPPING`` annotation's text, or None when it holds none."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _machine_annotation(obj: Any) -> dict[str, Any]:
    for a in getattr(obj, "annotations", ()) or ():
        if a.type == ANN_MAPPING and a.text:
            return _machine(a.text) or {}
    return {}
