"""The quality metadata (cgd-quality/1.0) as an SDMX reference metadata set.

Three messages, all built from one neutral list of reported attributes:

- ``sdmx-ml-2.1-genericmetadata``: an SDMX-ML 2.1 ``GenericMetadata`` message;
- ``sdmx-ml-3.0-metadata``: an SDMX-ML 3.0 ``GenericMetadata`` message of ``MetadataSet``\\ s;
- ``sdmx-json-2.0-metadata``: an SDMX-JSON 2.0 metadata message.

Every message holds two metadata sets, both attached to the dataflow the mapping names:

1. **the SDG set**, structured by the SDG metadata structure ``IAEG-SDGs:SDG_MSD(1.0)``: one
   reported attribute per SDG concept that a field of the model declares (``fld(..., sdmx=...)``).
   The MSD allows each concept once, so when several fields declare the same concept (e.g.
   ``participation.stages``, ``method.description`` and ``sampling.design`` all declare
   ``COLL_METHOD``) their values become labelled lines of one text ("Sampling design: purposive").
2. **the extension set**, structured by ``CGD_BRIDGE:CGD_QUALITY(1.0)``: every other filled field
   of the model, one attribute per field, its id the field's path in upper case
   (``consent.obtained`` -> ``CONSENT_OBTAINED``). These are the fields that declare no concept,
   or a SIMS concept (``SIMS S.7``) or a data-structure concept (``REF_AREA``, ``TIME_DETAIL``,
   ``FREQ_DISS``) that the SDG MSD does not have, and ``dataset.version``: the MSD types its
   ``META_LAST_UPDATE`` as a day (``GregorianDay``), which a version such as ``1.1.0`` is not.
   Nothing the CSO filled in is left out.

The dataset's version is carried by the sets themselves: the 3.0 and JSON sets are versioned
maintainable artefacts (``version="1.1.0"``), and the 2.1 sets name it.

Writers are pure functions of (QualityMetadata, target dataflow, format) apart from the
header's ``Prepared`` time, which callers may fix with ``prepared=``; the message id is a
digest of the content, so the same inputs give the same message.

Example:
    >>> from cgd_bridge.metadata import load_metadata
    >>> md = load_metadata("examples/kenya-health-scorecard/quality.yaml").model
    >>> xml = render_metadata(md, "CGD_BRIDGE:DF_CGD_KE(1.0)", "sdmx-ml-2.1-genericmetadata")
    >>> b'<metadata:ReportedAttribute id="COLL_METHOD">' in xml
    True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, BinaryIO

from lxml import etree
from pydantic import BaseModel

from cgd_bridge.errors import FormatError
from cgd_bridge.i18n import N_
from cgd_bridge.metadata.model import PROFILE, QualityMetadata
from cgd_bridge.sdmx.formats import get_metadata_format
from cgd_bridge.sdmx.target import Target

#: The metadata attributes of IAEG-SDGs:SDG_MSD(1.0), in the MSD's order (every one 0..1).
SDG_MSD_CONCEPTS = (
    "ADJUSTMENT", "CLASS_SYSTEM", "COLL_METHOD", "COMPARABILITY", "COMPILING_ORG", "CONTACT",
    "CONTACT_EMAIL", "CONTACT_FUNCT", "CONTACT_MAIL", "CONTACT_NAME", "CONTACT_ORGANISATION",
    "CONTACT_PHONE", "COVERAGE", "DATA_COMP", "DATA_SOURCE", "DATA_VALIDATION", "DOC_METHOD",
    "FREQ_COLL", "IMPUTATION", "IND_DEF_CON_CLASS", "INST_MANDATE", "META_LAST_UPDATE",
    "ORGANISATION_UNIT", "OTHER_DOC", "OTHER_METHOD", "QUALITY_ASSMNT", "QUALITY_ASSURE",
    "QUALITY_MGMNT", "RATIONALE", "REC_USE_LIM", "REG_AGG", "REL_CAL_POLICY",
    "SDG_CUSTODIAN_AGENCIES", "SDG_GOAL", "SDG_INDICATOR", "SDG_INDICATOR_INFO",
    "SDG_RELATED_INDICATORS", "SDG_SERIES_DESCR", "SDG_TARGET", "SOURCE_TYPE",
    "SRC_TYPE_COLL_METHOD", "STAT_CONC_DEF", "UNIT_MEASURE", "TRANSLATIONS",
)  # fmt: skip
#: SDG concepts whose representation is not text (the MSD types META_LAST_UPDATE GregorianDay).
NOT_TEXT = frozenset({"META_LAST_UPDATE"})

SDG_MSD = ("IAEG-SDGs", "SDG_MSD", "1.0")
EXTENSION_MSD = ("CGD_BRIDGE", "CGD_QUALITY", "1.0")
#: The metadataflows the sets are reported against (3.0 and JSON require one).
SDG_METADATAFLOW = ("CGD_BRIDGE", "MDF_CGD_SDG", "1.0")
EXTENSION_METADATAFLOW = ("CGD_BRIDGE", "MDF_CGD_QUALITY", "1.0")
#: The 2.1 report structure and target ids (those of the SDG 2.1 MSD; ours follows them).
REPORT_ID = {SDG_MSD: "SDG_META_RPT", EXTENSION_MSD: "CGD_QUALITY_RPT"}
TARGET_ID, REFERENCE_ID = "KEY_TARGET", "Dataflow"

URN = "urn:sdmx:org.sdmx.infomodel"
NS21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1"
NS30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Reported:
    """One reported metadata attribute.

    Attributes:
        id: the MSD attribute id, e.g. ``COLL_METHOD`` or ``CONSENT_OBTAINED``.
        texts: language -> text, for text attributes (e.g. ``{"en": "Purposive ..."}``).
        value: the value of a non-text attribute (a code, number, date or yes/no), e.g. ``"true"``.
    """

    id: str
    texts: dict[str, str] = field(default_factory=dict)
    value: str | None = None


@dataclass(frozen=True)
class MetadataSet:
    """One metadata set: its structure, its metadataflow and its attributes."""

    structure: tuple[str, str, str]
    metadataflow: tuple[str, str, str]
    id: str
    name: str
    attributes: tuple[Reported, ...]


def _urn(cls: str, ref: tuple[str, str, str]) -> str:
    return f"{URN}.{cls}={ref[0]}:{ref[1]}({ref[2]})"


def _clean(text: str) -> str:
    return _BAD_XML.sub("", text)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _as_text(value: Any) -> str:
    """A field value as one readable text (lists joined, nested sections as 'key: value')."""
    if isinstance(value, BaseModel):
        return ", ".join(f"{k.replace('_', ' ')}: {_as_text(v)}" for k, v in _filled(value))
    if isinstance(value, list):
        items = [_as_text(v) for v in value]
        return (" " if all(i.endswith(".") for i in items) else "; ").join(items)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _scalar(value)


def _is_text(value: Any) -> bool:
    """Whether a value reads on its own (a text, or a list of texts), without its field's label."""
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _filled(model: BaseModel) -> Iterator[tuple[str, Any]]:
    """The model's filled fields, declared ones first (in model order), then unknown keys."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is not None and value != [] and value != {}:
            yield name, value


def _concept(model: BaseModel, name: str) -> str | None:
    extra = type(model).model_fields[name].json_schema_extra
    concept = extra.get("sdmx") if isinstance(extra, dict) else None
    return str(concept) if concept else None


def _walk(
    model: BaseModel, path: tuple[str, ...], inherited: str | None
) -> Iterator[tuple[tuple[str, ...], str | None, Any]]:
    """Every filled leaf field: (path, the nearest declared SDMX concept, value)."""
    for name, value in _filled(model):
        concept = _concept(model, name) or inherited
        if isinstance(value, BaseModel):
            yield from _walk(value, (*path, name), concept)
        else:
            yield (*path, name), concept, value


def _label(path: tuple[str, ...]) -> str:
    text = " ".join(p.replace("_", " ") for p in path)
    return text[:1].upper() + text[1:]


def _extension_attribute(path: tuple[str, ...], value: Any) -> Reported:
    ident = "_".join(path).upper()
    if isinstance(value, dict):  # a multi-lingual text
        return Reported(ident, texts={str(k): _clean(str(v)) for k, v in value.items()})
    if isinstance(value, str | list | Enum):
        return Reported(ident, texts={"en": _clean(_as_text(value))})
    return Reported(ident, value=_scalar(value))  # yes/no, numbers and dates


def metadata_sets(md: QualityMetadata) -> tuple[MetadataSet, MetadataSet]:
    """The SDG set and the extension set of a filled record (see the module docstring)."""
    by_concept: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
    extension: list[Reported] = []
    for path, concept, value in _walk(md, (), None):
        if path == ("profile",):
            continue
        if concept in SDG_MSD_CONCEPTS and concept not in NOT_TEXT:
            by_concept.setdefault(concept, []).append((path, value))
        else:
            extension.append(_extension_attribute(path, value))
    sdg = []
    for concept in SDG_MSD_CONCEPTS:  # in the MSD's order
        parts = by_concept.get(concept)
        if not parts:
            continue
        if len(parts) == 1 and _is_text(parts[0][1]):
            text = _as_text(parts[0][1])
        else:
            text = "\n".join(f"{_label(path)}: {_as_text(value)}" for path, value in parts)
        sdg.append(Reported(concept, texts={"en": _clean(text)}))
    ident, version = _identity(md)
    name = f"Quality metadata ({PROFILE}) of dataset {ident}, version {version}"
    return (
        MetadataSet(SDG_MSD, SDG_METADATAFLOW, ident, name, tuple(sdg)),
        MetadataSet(
            EXTENSION_MSD, EXTENSION_METADATAFLOW, f"{ident}-cgd-quality",
            f"{name}: the fields with no SDG metadata concept", tuple(extension),
        ),
    )  # fmt: skip


def _identity(md: QualityMetadata) -> tuple[str, str]:
    ident = md.dataset.id if md.dataset and md.dataset.id else "cgd-dataset"
    version = md.dataset.version if md.dataset and md.dataset.version else "1.0.0"
    return re.sub(r"[^A-Za-z0-9_@$-]", "_", ident), version


def _target(target: Target | str) -> Target:
    return target if isinstance(target, Target) else Target.parse(target, ())


def _period(md: QualityMetadata) -> tuple[str | None, str | None]:
    p = md.period
    if p is None:
        return None, None
    return (
        p.reference_start.isoformat() if p.reference_start else None,
        p.reference_end.isoformat() if p.reference_end else None,
    )


def _digest(sets: tuple[MetadataSet, ...], target: Target, fmt: str) -> str:
    blob = json.dumps(
        [fmt, target.ref, [(s.id, s.name, [(a.id, a.texts, a.value) for a in s.attributes]) for s in sets]],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16].upper()


def _prepared(prepared: dt.datetime | None) -> str:
    when = prepared or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str | None) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrib.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _header(root: etree._Element, ns: str, target: Target, msg_id: str, prepared: str) -> etree._Element:
    m = f"{{{ns}/message}}"
    header = _sub(root, f"{m}Header")
    _sub(header, f"{m}ID", f"CGDMD{msg_id}")
    _sub(header, f"{m}Test", "false")
    _sub(header, f"{m}Prepared", prepared)
    _sub(header, f"{m}Sender", id=target.sender)
    return header


def _write_ml21(sets: tuple[MetadataSet, ...], md: QualityMetadata, target: Target, prepared: str) -> bytes:
    nsmap = {"message": f"{NS21}/message", "common": f"{NS21}/common", "metadata": f"{NS21}/metadata/generic"}
    m, c, g = (f"{{{nsmap[k]}}}" for k in ("message", "common", "metadata"))
    root = etree.Element(f"{m}GenericMetadata", nsmap=nsmap)
    header = _header(root, NS21, target, _digest(sets, target, "2.1"), prepared)
    for s in sets:
        structure = _sub(header, f"{m}Structure", structureID=_structure_id(s.structure))
        _sub(
            _sub(structure, f"{c}Structure"), "URN", _urn("metadatastructure.MetadataStructure", s.structure)
        )
    begin, end = _period(md)
    for s in sets:
        mset = _sub(
            root, f"{m}MetadataSet", structureRef=_structure_id(s.structure), setID=s.id,
            reportingBeginDate=begin, reportingEndDate=end,
        )  # fmt: skip
        _sub(mset, f"{c}Name", _clean(s.name)).set(XML_LANG, "en")
        report = _sub(mset, f"{g}Report", id=REPORT_ID[s.structure])
        ref = _sub(_sub(report, f"{g}Target", id=TARGET_ID), f"{g}ReferenceValue", id=REFERENCE_ID)
        _sub(_sub(ref, f"{g}ObjectReference"), "URN", _dataflow_urn(target))
        attribute_set = _sub(report, f"{g}AttributeSet")
        for a in s.attributes:
            el = _sub(attribute_set, f"{g}ReportedAttribute", id=a.id, value=a.value)
            for lang, text in a.texts.items():
                _sub(el, f"{c}Text", text).set(XML_LANG, lang)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_ml30(sets: tuple[MetadataSet, ...], md: QualityMetadata, target: Target, prepared: str) -> bytes:
    nsmap = {"message": f"{NS30}/message", "common": f"{NS30}/common", "metadata": f"{NS30}/metadata/generic"}
    m, c, g = (f"{{{nsmap[k]}}}" for k in ("message", "common", "metadata"))
    root = etree.Element(f"{m}GenericMetadata", nsmap=nsmap)
    header = _header(root, NS30, target, _digest(sets, target, "3.0"), prepared)
    for s in sets:
        structure = _sub(header, f"{m}Structure", structureID=_structure_id(s.structure))
        _sub(structure, f"{c}Structure", _urn("metadatastructure.MetadataStructure", s.structure))
    begin, end = _period(md)
    _, version = _identity(md)
    for s in sets:
        mset = _sub(
            root, f"{m}MetadataSet", reportingBeginDate=begin, reportingEndDate=end,
            agencyID=target.sender, id=s.id, version=version,
        )  # fmt: skip
        _sub(mset, f"{c}Name", _clean(s.name)).set(XML_LANG, "en")
        _sub(mset, f"{g}Metadataflow", _urn("metadatastructure.Metadataflow", s.metadataflow))
        _sub(mset, f"{g}Target", _dataflow_urn(target))
        for a in s.attributes:
            el = _sub(mset, f"{g}Attribute", id=a.id)
            if a.value is not None:
                _sub(el, f"{g}Value", a.value)
            for lang, text in a.texts.items():
                _sub(el, f"{c}Text", text).set(XML_LANG, lang)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_json20(sets: tuple[MetadataSet, ...], md: QualityMetadata, target: Target, prepared: str) -> bytes:
    begin, end = _period(md)
    _, version = _identity(md)
    languages = sorted({lang for s in sets for a in s.attributes for lang in a.texts} | {"en"})
    message = {
        "meta": {
            "schema": "https://json.sdmx.org/2.0.0/sdmx-json-metadata-schema.json",
            "id": f"CGDMD{_digest(sets, target, 'json')}",
            "test": False,
            "prepared": prepared,
            "contentLanguages": ["en", *[x for x in languages if x != "en"]],
            "sender": {"id": target.sender},
        },
        "data": {
            "metadataSets": [
                {
                    "id": s.id,
                    "agencyID": target.sender,
                    "version": version,
                    "name": s.name,
                    "names": {"en": s.name},
                    **({"reportingBegin": begin} if begin else {}),
                    **({"reportingEnd": end} if end else {}),
                    "metadataflow": _urn("metadatastructure.Metadataflow", s.metadataflow),
                    "targets": [_dataflow_urn(target)],
                    "attributes": [
                        {"id": a.id, "value": a.value if a.value is not None else dict(a.texts)}
                        for a in s.attributes
                    ],
                }
                for s in sets
                if s.attributes
            ]
        },
    }
    return json.dumps(message, ensure_ascii=False, indent=1).encode()


def _structure_id(ref: tuple[str, str, str]) -> str:
    return f"{ref[0]}_{ref[1]}_{ref[2]}".replace(".", "_").replace("-", "_")


def _dataflow_urn(target: Target) -> str:
    return f"{URN}.datastructure.Dataflow={target.ref}"


_WRITERS = {"generic_metadata_21": _write_ml21, "metadata_30": _write_ml30, "metadata_json20": _write_json20}


def _leaves(
    model: type[BaseModel], path: tuple[str, ...], inherited: str | None
) -> Iterator[tuple[tuple[str, ...], str | None, Any]]:
    """Every leaf field of the model class: (path, nearest declared concept, field info)."""
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        concept = (extra.get("sdmx") if isinstance(extra, dict) else None) or inherited
        section = next(
            (
                a
                for a in getattr(info.annotation, "__args__", ())
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        if section is not None:
            yield from _leaves(section, (*path, name), str(concept) if concept else None)
        else:
            yield (*path, name), str(concept) if concept else None, info


def _text_type(info: Any) -> str:
    """The SDMX text type of a field's values, as the extension set writes them."""
    kinds = set(getattr(info.annotation, "__args__", ())) or {info.annotation}
    for kind, text_type in ((bool, "Boolean"), (int, "Integer"), (float, "Double"), (dt.datetime, "DateTime"),
                            (dt.date, "GregorianDay")):  # fmt: skip
        if kind in kinds:
            return text_type
    return "String"


def extension_attributes() -> list[tuple[str, str, str, str]]:
    """The attributes of the extension MSD: (id, field path, SDMX text type, help), in model order.

    These are every field of the model whose value does not go to the SDG set.
    """
    out = []
    for path, concept, info in _leaves(QualityMetadata, (), None):
        if path == ("profile",) or (concept in SDG_MSD_CONCEPTS and concept not in NOT_TEXT):
            continue
        out.append(("_".join(path).upper(), ".".join(path), _text_type(info), info.description or ""))
    return out


def extension_structures(*, prepared: dt.datetime | None = None) -> bytes:
    """An SDMX-ML 3.0 structure message with what the metadata sets are reported against.

    The extension MSD ``CGD_BRIDGE:CGD_QUALITY(1.0)`` with its concept scheme
    ``CGD_BRIDGE:CGD_QUALITY_CONCEPTS(1.0)`` (one concept per field, named by its path and
    described by its help text), and the metadataflows ``CGD_BRIDGE:MDF_CGD_SDG(1.0)`` (SDG MSD)
    and ``CGD_BRIDGE:MDF_CGD_QUALITY(1.0)`` (extension MSD), both targeting any dataflow. An NSO
    loads it into its registry before the metadata sets.
    """
    nsmap = {"message": f"{NS30}/message", "common": f"{NS30}/common", "structure": f"{NS30}/structure"}
    m, c, st = (f"{{{nsmap[k]}}}" for k in ("message", "common", "structure"))
    root = etree.Element(f"{m}Structure", nsmap=nsmap)
    header = _sub(root, f"{m}Header")
    _sub(header, f"{m}ID", "CGDQUALITYSTRUCTURES")
    _sub(header, f"{m}Test", "false")
    _sub(header, f"{m}Prepared", _prepared(prepared))
    _sub(header, f"{m}Sender", id=EXTENSION_MSD[0])
    structures = _sub(root, f"{m}Structures")
    agency, version = EXTENSION_MSD[0], EXTENSION_MSD[2]
    scheme_ref = (agency, "CGD_QUALITY_CONCEPTS", version)
    attributes = extension_attributes()

    def named(parent: etree._Element, tag: str, name: str, **attrib: str) -> etree._Element:
        el = _sub(parent, tag, **attrib)
        _sub(el, f"{c}Name", name).set(XML_LANG, "en")
        return el

    schemes = _sub(structures, f"{st}ConceptSchemes")
    scheme = named(
        schemes, f"{st}ConceptScheme", f"cgd-bridge quality metadata concepts ({PROFILE})",
        urn=_urn("conceptscheme.ConceptScheme", scheme_ref), agencyID=agency, id=scheme_ref[1],
        version=version, isExternalReference="false", isPartial="false",
    )  # fmt: skip
    for ident, path, _, help_text in attributes:
        concept = named(scheme, f"{st}Concept", path, id=ident,
                        urn=f"{_urn('conceptscheme.Concept', scheme_ref)}.{ident}")  # fmt: skip
        if help_text:
            _sub(concept, f"{c}Description", help_text).set(XML_LANG, "en")
    flows = _sub(structures, f"{st}Metadataflows")
    for flow, msd, name in (
        (SDG_METADATAFLOW, SDG_MSD, "Citizen data quality metadata, SDG concepts"),
        (EXTENSION_METADATAFLOW, EXTENSION_MSD, f"Citizen data quality metadata, the rest of {PROFILE}"),
    ):
        el = named(flows, f"{st}Metadataflow", name, urn=_urn("metadatastructure.Metadataflow", flow),
                   agencyID=flow[0], id=flow[1], version=flow[2], isExternalReference="false")  # fmt: skip
        _sub(el, f"{st}Structure", _urn("metadatastructure.MetadataStructure", msd))
        _sub(el, f"{st}Target", f"{URN}.datastructure.Dataflow=*:*(*)")
    msds = _sub(structures, f"{st}MetadataStructures")
    msd = named(
        msds, f"{st}MetadataStructure", f"cgd-bridge quality metadata ({PROFILE}) beyond the SDG MSD",
        urn=_urn("metadatastructure.MetadataStructure", EXTENSION_MSD), agencyID=agency, id=EXTENSION_MSD[1],
        version=version, isExternalReference="false",
    )  # fmt: skip
    attribute_list = _sub(_sub(msd, f"{st}MetadataStructureComponents"), f"{st}MetadataAttributeList")
    attribute_urn = _urn("metadatastructure.MetadataAttribute", EXTENSION_MSD)
    for ident, _, text_type, _ in attributes:
        attribute = _sub(attribute_list, f"{st}MetadataAttribute", id=ident, minOccurs="0", maxOccurs="1",
                         urn=f"{attribute_urn}.{ident}")  # fmt: skip
        _sub(attribute, f"{st}ConceptIdentity", f"{_urn('conceptscheme.Concept', scheme_ref)}.{ident}")
        representation = _sub(attribute, f"{st}LocalRepresentation")
        _sub(representation, f"{st}TextFormat", textType=text_type)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def render_metadata(
    md: QualityMetadata, target: Target | str, fmt: str, *, prepared: dt.datetime | None = None
) -> bytes:
    """The metadata message of ``md``, attached to the ``target`` dataflow, in format ``fmt``.

    Args:
        md: the filled quality metadata.
        target: the dataflow (a :class:`Target`, or ``AGENCY:ID(VERSION)``).
        fmt: a metadata format name or media type (see ``METADATA_FORMATS``).
        prepared: the header's preparation time (default: now).

    Raises:
        FormatError: ``fmt`` is not a metadata format.
    """
    spec = get_metadata_format(fmt)
    sets = tuple(s for s in metadata_sets(md) if s.attributes)
    if not sets:
        raise FormatError(
            N_("the quality metadata has no filled field to export"),
            fix=N_("Fill in the template (cgd-bridge metadata template) before exporting it."),
        )
    return _WRITERS[spec.function](sets, md, _target(target), _prepared(prepared))


def write_metadata(
    md: QualityMetadata,
    target: Target | str,
    out: BinaryIO,
    fmt: str,
    *,
    prepared: dt.datetime | None = None,
) -> int:
    """Write the metadata message (see :func:`render_metadata`) to ``out``; returns the bytes written."""
    data = render_metadata(md, target, fmt, prepared=prepared)
    out.write(data)
    return len(data)
