"""Metadata structures and metadataflows in SDMX-ML 2.1, for the clients of the 2.1 REST API.

The server keeps MSDs and metadataflows as pysdmx objects (SDMX 3.0 models, read from
:func:`cgd_bridge.sdmx.write.refmeta.extension_structures` or from an imported MSD file);
neither pysdmx nor sdmx1 writes them in SDMX-ML 2.1 from those objects, so this module does, with
lxml, in the element order of the official schemas (``SDMXStructureMetadataStructure.xsd``,
``SDMXStructureMetadataflow.xsd``).

SDMX 2.1 MSDs say what a metadata set is attached to and how it is reported, which SDMX 3.0
moved to the metadataflow; the 2.1 form is the one the server's 2.1 ``GenericMetadata``
(:mod:`cgd_bridge.sdmx.write.refmeta`) is reported against:

- one **MetadataTarget** ``KEY_TARGET`` with an **IdentifiableObjectTarget** ``Dataflow``
  (object type ``Dataflow``): each metadata set is attached to a dataflow (the report's
  ``Target``/``ReferenceValue``/``ObjectReference``);
- one **ReportStructure** (``SDG_META_RPT`` for the SDG MSD, ``CGD_QUALITY_RPT`` for the
  extension MSD, ``{MSD id}_RPT`` for any other) for that target, holding the MSD's
  **MetadataAttributes** (nested ones kept nested) with their concept and representation (a
  text type, the 2.1 types only: a 3.0-only type such as ``GeospatialInformation`` becomes
  ``String``; or a codelist). pysdmx does not keep an attribute's ``minOccurs``/``maxOccurs``
  unless the MSD gives array bounds; absent, an attribute is optional and single (``0..1``),
  as in the MSDs the bridge serves.

Concept schemes and codelists held as pysdmx objects (the extension MSD's concepts) are written
by pysdmx's own SDMX-ML 2.1 writer and put in the same message (:func:`add_to_message`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from lxml import etree

from cgd_bridge.sdmx.write.refmeta import REFERENCE_ID, REPORT_ID, TARGET_ID

NS21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1"
_MES, _STR, _COM = f"{{{NS21}/message}}", f"{{{NS21}/structure}}", f"{{{NS21}/common}}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_URN = "urn:sdmx:org.sdmx.infomodel"
#: the text types a 2.1 metadata attribute may have (``BasicComponentDataType``)
TEXT_TYPES_21 = frozenset(
    "String Alpha AlphaNumeric Numeric BigInteger Integer Long Short Decimal Float Double Boolean URI "
    "Count InclusiveValueRange ExclusiveValueRange Incremental ObservationalTimePeriod StandardTimePeriod "
    "BasicTimePeriod GregorianTimePeriod GregorianYear GregorianYearMonth GregorianDay ReportingTimePeriod "
    "ReportingYear ReportingSemester ReportingTrimester ReportingQuarter ReportingMonth ReportingWeek "
    "ReportingDay DateTime TimeRange Month MonthDay Day Time Duration XHTML".split()
)
#: SDMX-ML 2.1 text format facets, in attribute form (pysdmx Facets field -> XML attribute)
_FACETS = {
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_value": "minValue",
    "max_value": "maxValue",
    "pattern": "pattern",
    "decimals": "decimals",
    "is_multilingual": "isMultiLingual",
}
#: the children of an SDMX-ML 2.1 message's Structures, in the schema's order
_ORDER = (
    "OrganisationSchemes Dataflows Metadataflows CategorySchemes Categorisations Codelists "
    "HierarchicalCodelists Concepts MetadataStructures DataStructures StructureSets ReportingTaxonomies "
    "Processes Constraints ProvisionAgreements"
).split()
_REF = re.compile(r"(?:urn:sdmx:org\.sdmx\.infomodel\.[a-z]+\.)?(\w+)=([^:]+):([^(]+)\(([^)]+)\)(?:\.(.+))?")


def _agency(obj: Any) -> str:
    agency = getattr(obj, "agency", "")
    return str(getattr(agency, "id", agency))


def _sub(parent: Any, tag: str, text: str | None = None, **attrib: str | None) -> Any:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrib.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _maintainable(parent: Any, tag: str, obj: Any, cls: str) -> Any:
    agency, ident, version = _agency(obj), str(obj.id), str(obj.version)
    el = _sub(
        parent, tag, id=ident, urn=f"{_URN}.metadatastructure.{cls}={agency}:{ident}({version})",
        version=version, agencyID=agency, isFinal="true" if getattr(obj, "is_final", False) else None,
        isExternalReference="false",
    )  # fmt: skip
    _sub(el, f"{_COM}Name", str(obj.name or ident)).set(_XML_LANG, "en")
    if getattr(obj, "description", None):
        _sub(el, f"{_COM}Description", str(obj.description)).set(_XML_LANG, "en")
    return el


def _reference(value: Any) -> tuple[str, str, str, str, str | None]:
    """(class, agency, id, version, item id) of a pysdmx reference (a URN, a short URN, an
    ItemReference or Reference, or the artefact itself)."""
    if isinstance(value, str):
        m = _REF.fullmatch(value.strip())
        if m is None:
            raise ValueError(f"not an SDMX reference: {value!r}")
        return m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
    if hasattr(value, "sdmx_type"):
        return (
            str(value.sdmx_type), str(value.agency), str(value.id), str(value.version),
            getattr(value, "item_id", None),
        )  # fmt: skip
    if getattr(value, "urn", None):
        return _reference(str(value.urn))
    if getattr(value, "agency", None) and getattr(value, "version", None):  # the artefact itself
        return type(value).__name__, _agency(value), str(value.id), str(value.version), None
    raise ValueError(f"not an SDMX reference: {value!r}")


def _concept_ref(parent: Any, concept: Any) -> None:
    _, agency, scheme, version, item = _reference(concept)
    if item is None:  # a Concept object without a URN: nothing to refer to
        raise ValueError(f"a metadata attribute's concept has no scheme: {concept!r}")
    etree.SubElement(
        _sub(parent, f"{_STR}ConceptIdentity"),
        "Ref",
        {
            "agencyID": agency, "maintainableParentID": scheme, "maintainableParentVersion": version,
            "id": item, "package": "conceptscheme", "class": "Concept",
        },
    )  # fmt: skip


def _representation(parent: Any, component: Any) -> None:
    codes = getattr(component, "local_codes", None)
    enum_ref = getattr(component, "local_enum_ref", None)
    dtype = getattr(component, "local_dtype", None)
    if codes is not None or enum_ref:
        _, agency, ident, version, _ = _reference(codes if codes is not None else enum_ref)
        rep = _sub(parent, f"{_STR}LocalRepresentation")
        etree.SubElement(
            _sub(rep, f"{_STR}Enumeration"),
            "Ref",
            {"agencyID": agency, "id": ident, "version": version, "package": "codelist", "class": "Codelist"},
        )
        return
    if dtype is None:
        return
    text_type = str(getattr(dtype, "value", dtype))
    attrib = {"textType": text_type if text_type in TEXT_TYPES_21 else "String"}
    facets = getattr(component, "local_facets", None)
    for field, name in _FACETS.items():
        value = getattr(facets, field, None) if facets is not None else None
        if value is not None and value != "":
            attrib[name] = str(value).lower() if isinstance(value, bool) else str(value)
    _sub(_sub(parent, f"{_STR}LocalRepresentation"), f"{_STR}TextFormat", **attrib)


def _attribute(parent: Any, component: Any) -> None:
    bounds = getattr(component, "array_def", None)
    low = getattr(bounds, "min_size", None)
    high = getattr(bounds, "max_size", None)
    el = _sub(
        parent, f"{_STR}MetadataAttribute", id=str(component.id),
        minOccurs=str(low) if low is not None else "0",
        maxOccurs=str(high) if high is not None else "1",
        isPresentational="true" if getattr(component, "is_presentational", False) else None,
    )  # fmt: skip
    _concept_ref(el, component.concept)
    _representation(el, component)
    for child in getattr(component, "components", ()) or ():
        _attribute(el, child)


def report_id(msd: Any) -> str:
    """The id of the 2.1 report structure of an MSD (that of the 2.1 metadata sets)."""
    key = (_agency(msd), str(msd.id), str(msd.version))
    return REPORT_ID.get(key, f"{msd.id}_RPT")


def metadata_structure(msd: Any) -> Any:
    """The ``str:MetadataStructure`` element of a pysdmx MetadataStructure (see the module)."""
    box = etree.Element(f"{_STR}MetadataStructures")
    el = _maintainable(box, f"{_STR}MetadataStructure", msd, "MetadataStructure")
    components = _sub(el, f"{_STR}MetadataStructureComponents")
    target = _sub(components, f"{_STR}MetadataTarget", id=TARGET_ID)
    obj_target = _sub(target, f"{_STR}IdentifiableObjectTarget", id=REFERENCE_ID, objectType="Dataflow")
    _sub(
        _sub(obj_target, f"{_STR}LocalRepresentation"), f"{_STR}TextFormat", textType="IdentifiableReference"
    )
    report = _sub(components, f"{_STR}ReportStructure", id=report_id(msd))
    for component in msd.components:
        _attribute(report, component)
    etree.SubElement(_sub(report, f"{_STR}MetadataTarget"), "Ref", {"id": TARGET_ID})
    box.remove(el)
    return el


def metadataflow(flow: Any) -> Any:
    """The ``str:Metadataflow`` element of a pysdmx Metadataflow (2.1 has no targets on it: they
    are the MSD's)."""
    box = etree.Element(f"{_STR}Metadataflows")
    el = _maintainable(box, f"{_STR}Metadataflow", flow, "Metadataflow")
    structure = getattr(flow, "structure", None)
    if structure is not None:
        _, agency, ident, version, _ = _reference(structure)
        etree.SubElement(
            _sub(el, f"{_STR}Structure"),
            "Ref",
            {
                "agencyID": agency, "id": ident, "version": version,
                "package": "metadatastructure", "class": "MetadataStructure",
            },
        )  # fmt: skip
    box.remove(el)
    return el


def _box(structures: Any, name: str) -> Any:
    found = structures.find(f"{_STR}{name}")
    if found is not None:
        return found
    box = etree.Element(f"{_STR}{name}")
    rank = _ORDER.index(name)
    for i, child in enumerate(structures):
        if etree.QName(child).localname in _ORDER[rank + 1 :]:
            structures.insert(i, box)
            return box
    structures.append(box)
    return box


def _pysdmx_21(objects: list[Any]) -> list[Any]:
    """The SDMX-ML 2.1 ``Structures`` groups pysdmx writes for these (item schemes)."""
    from pysdmx.io import write_sdmx
    from pysdmx.io.format import Format

    text = write_sdmx(objects, Format.STRUCTURE_SDMX_ML_2_1) or ""
    root = etree.fromstring(text.encode("utf-8"))
    structures = root.find(f"{_MES}Structures")
    return list(structures) if structures is not None else []


#: the ``mes:Structures`` child holding each kind of SDMX-ML 2.1 element
_BOX_OF_ELEMENT = {
    "Dataflow": "Dataflows",
    "DataStructure": "DataStructures",
    "Codelist": "Codelists",
    "ConceptScheme": "Concepts",
}


def add_to_message(xml: bytes, objects: Iterable[Any]) -> bytes:
    """An SDMX-ML 2.1 structure message with these pysdmx artefacts added, each in its place:
    MSDs and metadataflows written here, concept schemes and codelists by pysdmx, and SDMX-ML 2.1
    elements already written (``<str:Dataflow>``, ``<str:DataStructure>``, ``<str:Codelist>``,
    ``<str:ConceptScheme>``: the CSO tables' structures of :mod:`cgd_bridge.sdmx.write.maps21`)
    as they are (artefacts already in the message are not added twice). Other kinds are left out
    (2.1 has no form of them here)."""
    root = etree.fromstring(xml)
    structures = root.find(f"{_MES}Structures")
    if structures is None:
        structures = _sub(root, f"{_MES}Structures")
    present = {
        (etree.QName(a).localname, a.get("agencyID"), a.get("id"), a.get("version"))
        for group in structures
        for a in group
    }
    schemes = []
    objects = list(objects)
    _add_elements(structures, present, [o for o in objects if etree.iselement(o)])
    for obj in objects:
        if etree.iselement(obj):
            continue
        kind = type(obj).__name__
        key = (kind, _agency(obj), str(obj.id), str(obj.version))
        if key in present:
            continue
        if kind == "MetadataStructure":
            _box(structures, "MetadataStructures").append(metadata_structure(obj))
        elif kind == "Metadataflow":
            _box(structures, "Metadataflows").append(metadataflow(obj))
        elif kind in ("ConceptScheme", "Codelist"):
            schemes.append(obj)
    if schemes:
        for group in _pysdmx_21(schemes):
            box = _box(structures, etree.QName(group).localname)
            for artefact in group:
                key = (etree.QName(artefact).localname, artefact.get("agencyID"), artefact.get("id"),
                       artefact.get("version"))  # fmt: skip
                if key not in present:
                    box.append(artefact)
    etree.cleanup_namespaces(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _add_elements(structures: Any, present: set[Any], elements: list[Any]) -> None:
    """SDMX-ML 2.1 artefact elements put in their ``Structures`` groups (not twice)."""
    for el in elements:
        name = etree.QName(el).localname
        key = (name, el.get("agencyID"), el.get("id"), el.get("version"))
        if key not in present and name in _BOX_OF_ELEMENT:
            present.add(key)
            _box(structures, _BOX_OF_ELEMENT[name]).append(copy.deepcopy(el))
