"""Structure messages in SDMX 3.0 forms: SDMX-ML 3.0 and SDMX-JSON 2.0, written by pysdmx.

sdmx1 writes SDMX-ML 2.1 structure messages (the server's structure service builds them); the
SDMX 3.0 forms are that message read by pysdmx, with the artefacts sdmx1 cannot hold (structure
maps, MSDs, as pysdmx objects) added, written by pysdmx and then put right where pysdmx 1.21
writes what the schemas refuse (:func:`full_urns`). The REST layer
(:mod:`cgd_bridge.server.sdmx.structures`) turns failures into SDMX error messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any


def sender() -> Any:
    """The sender of structure messages, as an sdmx1 Agency."""
    from sdmx.model.common import Agency

    return Agency(id="CGD_BRIDGE")


def _pysdmx_format(fmt: str) -> Any:
    from pysdmx.io.format import Format

    return Format.STRUCTURE_SDMX_JSON_2_0_0 if fmt == "sdmx-json-2.0" else Format.STRUCTURE_SDMX_ML_3_0


def pysdmx_message(xml21: bytes | None, extra: list[Any], fmt: str) -> str:
    """The artefacts of an SDMX-ML 2.1 message (read by pysdmx) and pysdmx ones, in ``fmt``
    (``sdmx-ml-3.0`` or ``sdmx-json-2.0``), as pysdmx writes them."""
    from pysdmx.io import read_sdmx, write_sdmx
    from pysdmx.io.xml.header import Header as PysdmxHeader
    from pysdmx.model import Agency

    objects = list(read_sdmx(xml21.decode("utf-8"), validate=False).structures or ()) if xml21 else []
    header = PysdmxHeader(id="CGD_BRIDGE_STRUCTURE", sender=Agency(id="CGD_BRIDGE"), test=False)
    return write_sdmx([*objects, *extra], _pysdmx_format(fmt), header=header) or ""


def pysdmx_converted(xml21: bytes, fmt: str) -> str:
    """An SDMX-ML 2.1 structure message in ``fmt``, as pysdmx writes it."""
    from pysdmx.io import read_sdmx, write_sdmx

    objects = read_sdmx(xml21.decode("utf-8"), validate=False).structures
    return write_sdmx(objects, _pysdmx_format(fmt)) or ""


#: SDMX-JSON 2.0 reference fields pysdmx 1.21 writes as ``DataStructure=A:ID(V)`` where the schema
#: wants the URN: (list of artefacts, field, URN package).
_JSON_REFERENCES = (
    ("dataflows", "structure", "datastructure"),
    ("metadataflows", "structure", "metadatastructure"),
    ("provisionAgreements", "dataflow", "datastructure"),
    ("provisionAgreements", "dataProvider", "base"),
)
#: sdmx1's Python class names in URNs (it writes them, pysdmx passes them on) -> the class names
#: of the URN scheme, the same in SDMX 2.1 and 3.0 (``Dataflow=``, ``DataStructure=``).
_URN_CLASSES = {
    ".datastructure.DataflowDefinition=": ".datastructure.Dataflow=",
    ".datastructure.DataStructureDefinition=": ".datastructure.DataStructure=",
}
_URN_CLASSES_30 = _URN_CLASSES
_BOOLEAN_FACETS = ("isSequence", "isMultiLingual")
_STR30 = "{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure}"


def standard_urns(xml: bytes) -> bytes:
    """An SDMX-ML 2.1 message written by sdmx1 with the URN classes of the SDMX 2.1 URN scheme:
    sdmx1 names URNs after its Python classes (``DataflowDefinition=``), the standard after the
    information model (``Dataflow=``)."""
    for old, new in _URN_CLASSES.items():
        xml = xml.replace(old.encode(), new.encode())
    return xml


def full_urns(text: str, fmt: str) -> str:
    """The SDMX 3.0 message as the schemas want it, where pysdmx 1.21 (fed sdmx1's 2.1 output)
    gets it wrong: SDMX 3.0 URN class names (``Dataflow=``, not ``DataflowDefinition=``;
    ``DataConstraint=``, not ``ContentConstraint=``), one included cube region per constraint; in
    SDMX-JSON 2.0 also full URNs for the references it shortens, no empty ``groups`` or item lists
    (stubs) and facets such as ``isSequence`` as booleans, not ``"true"``."""
    for old, new in _URN_CLASSES_30.items():
        text = text.replace(old, new)
    # SDMX 3.0 names the class of data constraints DataConstraint (2.1: ContentConstraint)
    text = text.replace(".registry.ContentConstraint=", ".registry.DataConstraint=")
    if fmt == "sdmx-ml-3.0":
        return _fix_ml30(text)
    if fmt != "sdmx-json-2.0" or not text:
        return text
    message = json.loads(text)
    data = message.get("data", {})
    for artefacts, field_name, package in _JSON_REFERENCES:
        for artefact in data.get(artefacts, []):
            ref = artefact.get(field_name)
            if isinstance(ref, str) and not ref.startswith("urn:"):
                artefact[field_name] = f"urn:sdmx:org.sdmx.infomodel.{package}.{ref}"
    for dsd in data.get("dataStructures", []):
        components = dsd.get("dataStructureComponents", {})
        if components.get("groups") == []:
            del components["groups"]
        if not components.get("dimensionList", {}).get("dimensions"):
            dsd.pop("dataStructureComponents", None)  # a stub (detail=...stubs)
    for constraint in data.get("dataConstraints", []):
        regions = constraint.get("cubeRegions")
        if regions and len([r for r in regions if r.get("include", True)]) > 1:
            constraint["cubeRegions"] = _one_included_region(regions)
    _no_empty_items(data)
    _boolean_facets(data)
    return json.dumps(message, indent=2, ensure_ascii=False)


def _no_empty_items(data: dict[str, Any]) -> None:
    """Stubs of item schemes (``detail=...stubs``) without their item list, not an empty one."""
    for artefacts in data.values():
        for artefact in artefacts if isinstance(artefacts, list) else ():
            for items in _JSON_ITEMS:
                if isinstance(artefact, dict) and artefact.get(items) == []:
                    del artefact[items]


#: the item lists of SDMX-JSON 2.0 item schemes, which the schema wants absent or not empty
_JSON_ITEMS = (
    "agencies dataProviders dataConsumers organisationUnits codes concepts categories valueItems".split()
)


def _fix_ml30(text: str) -> str:
    """One included cube region per data constraint; no empty components of stub DSDs
    (detail=...stubs: pysdmx writes them, the schema refuses them)."""
    if text.count("CubeRegion ") > 1:
        text = _one_cube_region_xml(text)
    return re.sub(
        r"\s*<(\w+:)?DataStructureComponents\s*(/>|>\s*</(\w+:)?DataStructureComponents>)", "", text
    )


def _union(regions: list[dict[str, list[str]]]) -> dict[str, list[str]]:
    """The smallest cube holding every region: per dimension the union of the codes, and no
    restriction on a dimension some region leaves free."""
    out: dict[str, list[str]] = {}
    for dim in regions[0]:
        if all(dim in r for r in regions):
            out[dim] = list(dict.fromkeys(v for r in regions for v in r[dim]))
    return out


def _one_included_region(regions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SDMX-JSON 2.0 cube regions with the included ones merged into one (see
    :func:`_one_cube_region_xml`)."""
    included = [r for r in regions if r.get("include", True)]
    union = _union(
        [
            {kv["id"]: [v["value"] for v in kv.get("values", [])] for kv in r.get("keyValues", [])}
            for r in included
        ]
    )
    merged = {
        **included[0],
        "keyValues": [{"id": d, "values": [{"value": v} for v in vs]} for d, vs in union.items()],
    }
    return [merged, *(r for r in regions if not r.get("include", True))]


def _one_cube_region_xml(text: str) -> str:
    """An SDMX-ML 3.0 message whose data constraints have one included cube region: SDMX 3.0
    allows at most one included (and one excluded) region, where an SDMX 2.1 constraint may
    have one per series. The merged region is their union, so it allows combinations the
    per-series regions do not (the SDMX-ML 2.1 answer keeps them exact)."""
    from lxml import etree

    root = etree.fromstring(text.encode("utf-8"))
    for constraint in root.iter(f"{_STR30}DataConstraint"):
        included = [
            r for r in constraint.findall(f"{_STR30}CubeRegion") if r.get("include", "true") == "true"
        ]
        if len(included) < 2:
            continue
        union = _union(
            [
                {
                    kv.get("id"): [v.text or "" for v in kv.findall(f"{_STR30}Value")]
                    for kv in r.findall(f"{_STR30}KeyValue")
                }
                for r in included
            ]
        )
        first = included[0]
        for kv in first.findall(f"{_STR30}KeyValue"):
            first.remove(kv)
        for dim, values in union.items():
            kv = etree.SubElement(first, f"{_STR30}KeyValue", id=dim)
            for v in values:
                etree.SubElement(kv, f"{_STR30}Value").text = v
        for other in included[1:]:
            constraint.remove(other)
    return str(etree.tostring(root, xml_declaration=True, encoding="utf-8").decode("utf-8"))


def _boolean_facets(value: Any) -> None:
    """``"isSequence": "true"`` -> ``true`` everywhere in a JSON document (in place)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in _BOOLEAN_FACETS and isinstance(v, str) and v.lower() in ("true", "false"):
                value[k] = v.lower() == "true"
            else:
                _boolean_facets(v)
    elif isinstance(value, list):
        for v in value:
            _boolean_facets(v)


_COM21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common}"
_MES21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}"
_STR21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
#: the references a stub keeps, by SDMX-ML 2.1 element
_STUB_KEEPS = {"Dataflow": ("Structure",), "ContentConstraint": ("ConstraintAttachment",)}


def stubs_21(
    xml: bytes, which: Callable[[str, str, str, str], bool], *, complete: bool, references: bool = False
) -> bytes:
    """An SDMX-ML 2.1 structure message with the artefacts ``which(kind, agency, id, version)``
    picks cut to stubs (the REST ``detail`` values): identification and name only, or with
    ``complete`` also description and annotations (``allcompletestubs``,
    ``referencecompletestubs``). ``kind`` is the element name (``Dataflow``, ``Codelist``...).
    ``references``: keep the references SDMX-JSON 2.0 requires of a stub (a dataflow's DSD, a
    constraint's attachment), for a message pysdmx converts to it."""
    from lxml import etree

    root = etree.fromstring(xml)
    structures = root.find(f"{_MES21}Structures")
    if structures is None:
        return xml
    keep = {f"{_COM21}Name"} | ({f"{_COM21}Description", f"{_COM21}Annotations"} if complete else set())
    changed = False
    for group in structures:
        for artefact in group:
            kind = etree.QName(artefact).localname
            if not which(
                kind, artefact.get("agencyID", ""), artefact.get("id", ""), artefact.get("version", "")
            ):
                continue
            kept = keep | {f"{_STR21}{name}" for name in _STUB_KEEPS.get(kind, ()) if references}
            for child in list(artefact):
                if child.tag not in kept:
                    artefact.remove(child)
                    changed = True
    if not changed:
        return xml
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
