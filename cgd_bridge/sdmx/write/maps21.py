"""Mappings as SDMX 2.1 StructureSets, for the registries and clients that speak SDMX 2.1.

SDMX 2.1 has no StructureMap of its own kind: maps live in a **StructureSet**. One mapping gives
one StructureSet holding the same maps as the SDMX 3.0 export
(:func:`cgd_bridge.sdmx.write.export_structure_map`), translated from its artefacts:

- a label map whose target component has a codelist becomes a **CodelistMap** from a source
  codelist to that codelist (code -> code). SDMX 2.1 codes have IDs, labels such as ``60+`` or
  ``With disability`` are no IDs: each source code gets an ID made from its label (``60_``,
  ``With_disability``) and the label as its name, and the source codelist, written in the same
  message, is annotated ``CGD_LABELS`` (the names are the labels to match);
- a label map whose target has no codelist (target DSD unknown) becomes a ``ValueMap``
  (label -> code as text) inside its ComponentMap, with a warning;
- the **StructureMap** from the CSO table's source dataflow to the target dataflow: a
  ComponentMap per source column (with the CodelistMap or ValueMap it uses, if any; a time or
  value column is mapped as it is, its format and any derivation in annotations);
- what SDMX 2.1 cannot say travels as annotations of the StructureMap, as in SDMX 3.0:
  ``CGD_FIXED_VALUE`` (a fixed code, title = component), ``CGD_DERIVED_VALUE``, ``CGD_DROP``,
  ``CGD_SECTION``, the matching rule ``CGD_LABEL_MATCHING``, and the machine-readable
  ``CGD_MAPPING`` (JSON), from which ``mapping import`` restores the mapping exactly.

The XML is written with lxml in the element order of the official SDMX 2.1 schemas
(``SDMXStructureStructureSet.xsd``); the tests validate it against them.

Example::

    >>> from cgd_bridge.mapping import load_mapping
    >>> mapping, _ = load_mapping("mappings/kenya-health-scorecard.yaml")
    >>> exported = export_structure_set(mapping)  # doctest: +SKIP
    >>> "<str:CodelistMap" in exported.text  # doctest: +SKIP
    True
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.sdmx.maps import (
    _URN,
    ANN_DATE_PATTERN,
    ANN_FIXED,
    ANN_LABELS,
    ANN_MATCHING,
    DEFAULT_AGENCY,
    MATCHING_TEXT,
    Exported,
    MappingWarning,
    check_agency,
    target_of,
)
from cgd_bridge.sdmx.maps import (
    urn as artefact_urn,
)
from cgd_bridge.sdmx.write.maps import _Exporter

NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LABELS_TEXT = (
    "The names of these codes are the labels of the CSO's table (SDMX code IDs cannot hold "
    "labels such as '60+'); cgd-bridge matches the names."
)
_VERSION_21 = re.compile(r"^[0-9]+(\.[0-9]+)*$")
#: (container, class) of a target component reference, by role
_TARGET_REFS = {
    "TIME_PERIOD": ("DimensionDescriptor", "TimeDimension"),
    "OBS_VALUE": ("MeasureDescriptor", "PrimaryMeasure"),
    "dimensions": ("DimensionDescriptor", "Dimension"),
    "attributes": ("AttributeDescriptor", "Attribute"),
}
_SOURCE_REFS = {
    "Dimension": ("DimensionDescriptor", "Dimension"),
    "Attribute": ("AttributeDescriptor", "Attribute"),
    "Measure": ("MeasureDescriptor", "PrimaryMeasure"),
}


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _sub(parent: Any, prefix: str, name: str, text: str | None = None, **attrs: str) -> Any:
    el = etree.SubElement(parent, _q(prefix, name), {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _text(parent: Any, name: str, text: str) -> Any:
    el = _sub(parent, "com", name, text)
    el.set(XML_LANG, "en")
    return el


def _annotations(parent: Any, annotations: list[tuple[str, str | None, str]]) -> None:
    """``(type, title, text)`` annotations, in the schema's order (title, type, text)."""
    if not annotations:
        return
    box = _sub(parent, "com", "Annotations")
    for kind, title, text in annotations:
        a = _sub(box, "com", "Annotation")
        if title:
            _sub(a, "com", "AnnotationTitle", title)
        _sub(a, "com", "AnnotationType", kind)
        _text(a, "AnnotationText", text)


def _short(urn: str) -> tuple[str, str, str]:
    """``...Codelist=A:CL(1.0)`` -> ``("A", "CL", "1.0")``."""
    m = re.search(r"=([^:]+):([^(]+)\(([^)]+)\)", urn)
    if m is None:
        raise MappingError(
            N_("'{urn}' is not an SDMX URN"),
            fix=N_("This is a fault of cgd-bridge: report it to its developers with the mapping file."),
            params={"urn": urn},
        )
    return m.group(1), m.group(2), m.group(3)


def _maintainable_ref(parent: Any, name: str, urn: str, package: str, cls: str) -> None:
    agency, ident, version = _short(urn)
    box = _sub(parent, "str", name)
    etree.SubElement(
        box, "Ref", {"package": package, "class": cls, "agencyID": agency, "id": ident, "version": version}
    )


def code_id(label: str, taken: set[str]) -> str:
    """An SDMX 2.1 code ID for a label, unique among ``taken``: ``'60+'`` -> ``'60_'``."""
    base = re.sub(r"[^A-Za-z0-9_@$\-]", "_", label.strip()) or "_"
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


@dataclass
class StructureSet21:
    """One mapping's SDMX 2.1 artefacts: the source label codelists and the StructureSet.

    Attributes:
        agency, id, version: the StructureSet's, e.g. ``CGD_BRIDGE``, ``SS_KENYA-HEALTH-SCORECARD``,
            ``1.0.0``.
        name: e.g. ``kenya-health-scorecard to CGD_BRIDGE:DF_CGD_KE(1.0)``.
        codelists: ``<str:Codelist>`` elements (the labels of the CSO's columns).
        structure_set: the ``<str:StructureSet>`` element.
        refs: the URNs of what it refers to outside itself (the source and target dataflows,
            the target codelists).
        sources: the SDMX 2.1 form of the CSO table's source structures the StructureMap
            starts from: ``<str:ConceptScheme>``, ``<str:DataStructure>`` and
            ``<str:Dataflow>`` elements (:func:`source_structures`), the same artefacts (URNs)
            as the SDMX 3.0 export's.
    """

    agency: str
    id: str
    version: str
    name: str
    codelists: list[Any]
    structure_set: Any
    refs: list[str] = field(default_factory=list)
    warnings: list[MappingWarning] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)


def build_structure_set(
    mapping: Mapping, *, structures: Any | None = None, agency: str = DEFAULT_AGENCY, name: str = "mapping"
) -> StructureSet21:
    """The SDMX 2.1 StructureSet of a mapping (see the module docstring).

    Raises:
        MappingError: the mapping names no target dataflow, or the agency is no SDMX ID.
    """
    check_agency(agency)
    exporter = _Exporter(mapping, target_of(mapping.dataflow or "", structures), agency, name)
    artefacts = exporter.build()
    by_kind = {type(o).__name__: o for o in artefacts}
    sm = by_kind["StructureMap"]
    dsd = by_kind["DataStructureDefinition"]
    rep_maps = {
        f"{o.agency}:{o.id}({o.version})": o for o in artefacts if type(o).__name__ == "RepresentationMap"
    }
    version = str(sm.version)
    if not _VERSION_21.match(version):
        exporter.warn("version", f"'{version}' is not an SDMX 2.1 version; the artefacts get version 1.0")
        version = "1.0"
    dataset = exporter.dataset
    roles = {c.id: str(getattr(c.role, "value", c.role)) for c in dsd.components}
    if any(r not in _SOURCE_REFS for r in roles.values()):
        roles = {k: _role_name(v) for k, v in roles.items()}
    ss_id = f"SS_{dataset}"
    ss_urn = f"{_URN}mapping.StructureSet={agency}:{ss_id}({version})"
    ss = etree.Element(
        _q("str", "StructureSet"),
        {"id": ss_id, "urn": ss_urn, "agencyID": agency, "version": version, "isFinal": "false"},
    )
    _text(ss, "Name", str(sm.name))
    _text(ss, "Description", "Made by cgd-bridge from a cgd-mapping/1.0 file.")
    source_flow = artefact_urn("Dataflow", agency, f"DF_{dataset}", version)
    for flow in (source_flow, str(sm.target)):
        _maintainable_ref(ss, "RelatedStructure", flow, "datastructure", "Dataflow")

    codelists: list[Any] = []
    refs = [str(sm.target)]
    used_rm: dict[str, tuple[str, Any]] = {}  # RepresentationMap short URN -> (kind, 2.1 id)
    for m in sm.maps:
        if type(m).__name__ != "ComponentMap":
            continue
        short = "{}:{}({})".format(*_short(str(m.values)))
        rm = rep_maps[short]
        target = str(rm.target)
        comp = str(m.target)
        if target.startswith(_URN) and ".Codelist=" in target:
            part = rm.id.removeprefix(f"RM_{dataset}_")  # RM_{dataset}_SEX -> SEX
            cl_id = f"CL_{dataset}_{part}"
            cl_urn = artefact_urn("Codelist", agency, cl_id, version)
            cl, ids = _label_codelist(rm, agency, cl_id, cl_urn, version, str(m.source))
            codelists.append(cl)
            cm_id = f"CLM_{part}"
            _codelist_map(ss, rm, cm_id, ss_urn, cl_urn, ids)
            used_rm[short] = ("CodelistMap", cm_id)
            refs.append(target)
        else:
            used_rm[short] = ("ValueMap", rm)
            exporter.warn(
                comp,
                f"the target has no codelist, so the labels are mapped by a ValueMap (label -> code as "
                f"text), not a CodelistMap. Import the DSD of {mapping.dataflow} with 'cgd-bridge "
                "structures import' and export again.",
            )
    _structure_map(ss, sm, ss_urn, source_flow, version, roles, exporter, rep_maps, used_rm)
    sources = source_structures(
        by_kind["ConceptScheme"], dsd, by_kind["Dataflow"], exporter.value_concept, exporter.measure_concept
    )
    return StructureSet21(
        agency, ss_id, version, str(sm.name), codelists, ss, [source_flow, *refs], exporter.warnings, sources
    )


def source_structures(
    cs: Any, dsd: Any, flow: Any, value_concept: str | None, measure_concept: str | None
) -> list[Any]:
    """The SDMX 2.1 form of the CSO table's concept scheme, DSD and dataflow (pysdmx objects of
    the SDMX 3.0 export), as ``<str:ConceptScheme>``, ``<str:DataStructure>``, ``<str:Dataflow>``.

    The columns are free text (``String``) dimensions and observation-level attributes, as in
    SDMX 3.0. SDMX 2.1 has one primary measure, ``OBS_VALUE``: with one value column it has that
    column's concept; with several (a proportion's numerator and denominator) the DSD has a
    measure dimension (``value_concept``/``measure_concept``,
    :func:`~cgd_bridge.sdmx.write.maps.source_concepts_21`) whose values are the value
    columns' concepts, as SDMX 2.1 models a table with several measures.
    """
    agency, version = _agency_of(cs), str(cs.version)
    cs_urn = artefact_urn("ConceptScheme", agency, str(cs.id), version)
    scheme = etree.Element(
        _q("str", "ConceptScheme"),
        {"id": str(cs.id), "urn": cs_urn, "agencyID": agency, "version": version, "isFinal": "false"},
    )
    _text(scheme, "Name", str(cs.name))
    for concept in cs.items:
        c = _sub(
            scheme,
            "str",
            "Concept",
            id=str(concept.id),
            urn=f"{cs_urn.replace('.ConceptScheme=', '.Concept=')}.{concept.id}",
        )
        _text(c, "Name", str(concept.name or concept.id))
        if concept.description:
            _text(c, "Description", str(concept.description))

    def concept_ref(parent: Any, ident: str) -> None:
        box = _sub(parent, "str", "ConceptIdentity")
        etree.SubElement(
            box,
            "Ref",
            {
                "id": ident,
                "maintainableParentID": str(cs.id),
                "maintainableParentVersion": version,
                "agencyID": agency,
                "package": "conceptscheme",
                "class": "Concept",
            },
        )

    def text_format(parent: Any, text_type: str) -> None:
        _sub(_sub(parent, "str", "LocalRepresentation"), "str", "TextFormat", textType=text_type)

    dsd_id = str(dsd.id)
    dsd_urn = artefact_urn("DataStructure", agency, dsd_id, version)
    comp_urn = dsd_urn.replace(".DataStructure=", ".{}=")
    structure = etree.Element(
        _q("str", "DataStructure"),
        {"id": dsd_id, "urn": dsd_urn, "agencyID": agency, "version": version, "isFinal": "false"},
    )
    _text(structure, "Name", str(dsd.name))
    parts = _sub(structure, "str", "DataStructureComponents")
    by_role: dict[str, list[Any]] = {"Dimension": [], "Attribute": [], "Measure": []}
    for c in dsd.components:
        by_role[_role_name(str(getattr(c.role, "value", c.role)))].append(c)
    dims = _sub(
        parts,
        "str",
        "DimensionList",
        id="DimensionDescriptor",
        urn=comp_urn.format("DimensionDescriptor") + ".DimensionDescriptor",
    )
    position = 0
    for c in by_role["Dimension"]:
        position += 1
        d = _sub(
            dims,
            "str",
            "Dimension",
            id=str(c.id),
            urn=comp_urn.format("Dimension") + f".{c.id}",
            position=str(position),
        )
        concept_ref(d, str(c.id))
        text_format(d, "String")
    if measure_concept is not None:
        position += 1
        md = _sub(
            dims,
            "str",
            "MeasureDimension",
            id=measure_concept,
            urn=comp_urn.format("MeasureDimension") + f".{measure_concept}",
            position=str(position),
        )
        concept_ref(md, measure_concept)
        enum = _sub(_sub(md, "str", "LocalRepresentation"), "str", "Enumeration")
        etree.SubElement(
            enum,
            "Ref",
            {
                "id": str(cs.id),
                "agencyID": agency,
                "version": version,
                "package": "conceptscheme",
                "class": "ConceptScheme",
            },
        )
    if by_role["Attribute"]:
        attrs = _sub(
            parts,
            "str",
            "AttributeList",
            id="AttributeDescriptor",
            urn=comp_urn.format("AttributeDescriptor") + ".AttributeDescriptor",
        )
        for c in by_role["Attribute"]:
            a = _sub(
                attrs,
                "str",
                "Attribute",
                id=str(c.id),
                urn=comp_urn.format("DataAttribute") + f".{c.id}",
                assignmentStatus="Conditional",
            )
            concept_ref(a, str(c.id))
            text_format(a, "String")
            relation = _sub(_sub(a, "str", "AttributeRelationship"), "str", "PrimaryMeasure")
            etree.SubElement(relation, "Ref", {"id": "OBS_VALUE"})
    measures = _sub(
        parts,
        "str",
        "MeasureList",
        id="MeasureDescriptor",
        urn=comp_urn.format("MeasureDescriptor") + ".MeasureDescriptor",
    )
    primary = _sub(
        measures,
        "str",
        "PrimaryMeasure",
        id="OBS_VALUE",
        urn=comp_urn.format("PrimaryMeasure") + ".OBS_VALUE",
    )
    values = by_role["Measure"]
    concept_ref(primary, value_concept or str(values[0].id))
    numeric = {str(getattr(c.local_dtype, "value", c.local_dtype)) for c in values}
    text_format(primary, "Integer" if numeric == {"Integer"} else "Decimal")

    flow_el = etree.Element(
        _q("str", "Dataflow"),
        {
            "id": str(flow.id),
            "urn": artefact_urn("Dataflow", agency, str(flow.id), version),
            "agencyID": agency,
            "version": version,
            "isFinal": "false",
        },
    )
    _text(flow_el, "Name", str(flow.name))
    _maintainable_ref(flow_el, "Structure", dsd_urn, "datastructure", "DataStructure")
    return [scheme, structure, flow_el]


def _agency_of(obj: Any) -> str:
    agency = getattr(obj, "agency", "")
    return str(getattr(agency, "id", agency))


def _role_name(role: str) -> str:
    low = role.lower()
    return "Dimension" if low.startswith("d") else "Attribute" if low.startswith("a") else "Measure"


def _label_codelist(
    rm: Any, agency: str, cl_id: str, cl_urn: str, version: str, column: str
) -> tuple[Any, dict[str, str]]:
    """The source codelist of a label map (code names = labels) and its code IDs by label."""
    cl = etree.Element(
        _q("str", "Codelist"),
        {"id": cl_id, "urn": cl_urn, "agencyID": agency, "version": version, "isFinal": "false"},
    )
    _annotations(cl, [(ANN_LABELS, None, LABELS_TEXT)])
    _text(cl, "Name", f"Labels of the column '{column}'")
    taken: set[str] = set()
    ids: dict[str, str] = {}
    for vm in rm.maps:
        label = str(vm.source)
        if label in ids:
            continue
        ids[label] = code_id(label, taken)
        code = _sub(
            cl, "str", "Code", id=ids[label], urn=f"{cl_urn.replace('.Codelist=', '.Code=')}.{ids[label]}"
        )
        _text(code, "Name", label)
    return cl, ids


def _codelist_map(ss: Any, rm: Any, cm_id: str, ss_urn: str, cl_urn: str, ids: dict[str, str]) -> None:
    cm = _sub(
        ss,
        "str",
        "CodelistMap",
        id=cm_id,
        urn=ss_urn.replace(".StructureSet=", ".CodelistMap=") + f".{cm_id}",
    )
    _annotations(cm, [(ANN_MATCHING, None, MATCHING_TEXT)])
    _text(cm, "Name", str(rm.name))
    _maintainable_ref(cm, "Source", cl_urn, "codelist", "Codelist")
    _maintainable_ref(cm, "Target", str(rm.target), "codelist", "Codelist")
    for vm in rm.maps:
        code_map = _sub(cm, "str", "CodeMap")
        etree.SubElement(_sub(code_map, "str", "Source"), "Ref", {"id": ids[str(vm.source)]})
        etree.SubElement(_sub(code_map, "str", "Target"), "Ref", {"id": str(vm.target)})


def _structure_map(
    ss: Any,
    sm: Any,
    ss_urn: str,
    source_flow: str,
    version: str,
    roles: dict[str, str],
    exporter: _Exporter,
    rep_maps: dict[str, Any],
    used_rm: dict[str, tuple[str, Any]],
) -> None:
    el = _sub(
        ss,
        "str",
        "StructureMap",
        id=str(sm.id),
        urn=ss_urn.replace(".StructureSet=", ".StructureMap=") + f".{sm.id}",
    )
    annotations: list[tuple[str, str | None, str]] = []
    rows: list[tuple[str, str, Any]] = []  # (source, target, representation or None)
    for m in sm.maps:
        kind = type(m).__name__
        if kind == "FixedValueMap":
            annotations.append((ANN_FIXED, str(m.target), str(m.value)))
        elif kind == "DatePatternMap":
            annotations.append(
                (ANN_DATE_PATTERN, str(m.target), f"{m.source} is read with the pattern {m.pattern}")
            )
            rows.append((str(m.source), str(m.target), None))
        elif kind == "ImplicitComponentMap":
            rows.append((str(m.source), str(m.target), None))
        elif kind == "ComponentMap":
            short = "{}:{}({})".format(*_short(str(m.values)))
            rows.append((str(m.source), str(m.target), used_rm[short]))
    for a in sm.annotations:
        annotations.append((str(a.type), a.title, str(a.text or "")))
    _annotations(el, annotations)
    _text(el, "Name", str(sm.name))
    _maintainable_ref(el, "Source", source_flow, "datastructure", "Dataflow")
    _maintainable_ref(el, "Target", str(sm.target), "datastructure", "Dataflow")
    if not rows:  # the schema wants one ComponentMap at least
        raise MappingError(
            N_("the mapping reads no column, so its StructureMap has no ComponentMap"),
            fix=N_("Map at least one column (dimensions, time or value)."),
            file=exporter.name,
        )
    for source, target, rep in rows:
        cmap = _sub(el, "str", "ComponentMap")
        container, cls = _SOURCE_REFS[roles.get(source, "Dimension")]
        # the one primary measure of the 2.1 source DSD is OBS_VALUE (source_structures)
        ref = {
            "containerID": container,
            "id": "OBS_VALUE" if cls == "PrimaryMeasure" else source,
            "class": cls,
            "package": "datastructure",
        }
        etree.SubElement(_sub(cmap, "str", "Source"), "Ref", ref)
        role = (
            target if target in ("TIME_PERIOD", "OBS_VALUE") else exporter.target.role(target) or "dimensions"
        )
        container, cls = _TARGET_REFS[role]
        ref = {"containerID": container, "id": target, "class": cls, "package": "datastructure"}
        etree.SubElement(_sub(cmap, "str", "Target"), "Ref", ref)
        if rep is None:
            continue
        mapping_el = _sub(cmap, "str", "RepresentationMapping")
        kind, what = rep
        if kind == "CodelistMap":
            etree.SubElement(_sub(mapping_el, "str", "CodelistMap"), "Ref", {"id": what})
        else:
            vmap = _sub(mapping_el, "str", "ValueMap")
            for vm in what.maps:
                _sub(vmap, "str", "ValueMapping", source=str(vm.source), target=str(vm.target))


#: the children of an SDMX-ML 2.1 message's Structures, in the schema's order
_STRUCTURES_ORDER = (
    "OrganisationSchemes Dataflows Metadataflows CategorySchemes Categorisations Codelists "
    "HierarchicalCodelists Concepts MetadataStructures DataStructures StructureSets ReportingTaxonomies "
    "Processes Constraints ProvisionAgreements"
).split()


def _box(structures: Any, name: str) -> Any:
    """The ``str:{name}`` child of ``mes:Structures``, made in the schema's place if missing."""
    found = structures.find(_q("str", name))
    if found is not None:
        return found
    box = etree.Element(_q("str", name))
    rank = _STRUCTURES_ORDER.index(name)
    for i, child in enumerate(structures):
        if etree.QName(child).localname in _STRUCTURES_ORDER[rank + 1 :]:
            structures.insert(i, box)
            return box
    structures.append(box)
    return box


def structure_message(
    sets: list[StructureSet21],
    *,
    with_codelists: bool = True,
    sender: str = DEFAULT_AGENCY,
    into: bytes | None = None,
) -> bytes:
    """An SDMX-ML 2.1 structure message of StructureSets (and their source label codelists).

    ``into``: an SDMX-ML 2.1 structure message (sdmx1's, of the artefacts the sets refer to)
    to add them to, each in its place in the schema's order.
    """
    if into is not None:
        root = etree.fromstring(into)
        structures = root.find(_q("mes", "Structures"))
        if structures is None:
            structures = _sub(root, "mes", "Structures")
    else:
        root = etree.Element(_q("mes", "Structure"), nsmap=NS)
        header = _sub(root, "mes", "Header")
        _sub(header, "mes", "ID", "CGD_BRIDGE_STRUCTURE_SET")
        _sub(header, "mes", "Test", "false")
        _sub(header, "mes", "Prepared", dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _sub(header, "mes", "Sender", id=sender)
        structures = _sub(root, "mes", "Structures")
    if with_codelists and any(s.codelists for s in sets):
        box = _box(structures, "Codelists")
        for s in sets:
            for cl in s.codelists:
                box.append(_copy(cl))
    if sets:
        box = _box(structures, "StructureSets")
        for s in sets:
            box.append(_copy(s.structure_set))
    etree.cleanup_namespaces(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=into is None)


def stub(s: StructureSet21) -> StructureSet21:
    """The StructureSet without its maps and codelists (``detail=allstubs`` and the like)."""
    el = etree.Element(s.structure_set.tag, dict(s.structure_set.attrib))
    el.set("isExternalReference", "true")
    for child in s.structure_set:
        if etree.QName(child).localname == "Name":
            el.append(_copy(child))
    return StructureSet21(s.agency, s.id, s.version, s.name, [], el, s.refs, s.warnings)


def _copy(el: Any) -> Any:
    import copy

    return copy.deepcopy(el)


def export_structure_set(
    mapping: Mapping, *, structures: Any | None = None, agency: str = DEFAULT_AGENCY, name: str = "mapping"
) -> Exported:
    """A mapping as an SDMX-ML 2.1 structure message: the CSO table's dataflow, DSD and concept
    scheme, the codelists of its labels and one StructureSet."""
    from cgd_bridge.sdmx.write.msd21 import add_to_message

    built = build_structure_set(mapping, structures=structures, agency=agency, name=name)
    # with the CSO table's structures the StructureMap starts from, as the SDMX 3.0 export
    whole = etree.fromstring(
        add_to_message(structure_message([built], sender=agency), built.sources),
        etree.XMLParser(remove_blank_text=True),
    )
    text = etree.tostring(whole, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")
    return Exported(text=text, format="sdmx-ml-2.1", warnings=built.warnings)
