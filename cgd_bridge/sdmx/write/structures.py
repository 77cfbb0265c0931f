"""Structure messages in SDMX 3.0 forms: SDMX-ML 3.0 and SDMX-JSON 2.0, written by pysdmx.

sdmx1 writes SDMX-ML 2.1 structure messages (the server's structure service builds them); the
SDMX 3.0 forms are that message read by pysdmx, with the artefacts sdmx1 cannot hold (structure
maps, MSDs, as pysdmx objects) added, written by pysdmx and then put right where pysdmx 1.21
writes what the schemas refuse (:func:`full_urns`). The REST layer
(:mod:`cgd_bridge.server.sdmx.structures`) turns failures into SDMX error messages.
"""

from __future__ import annotations

import json
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
)
#: sdmx1's Python class names in URNs (it writes them, pysdmx passes them on) -> the class names
#: of the URN scheme, the same in SDMX 2.1 and 3.0 (``Dataflow=``, ``DataStructure=``).
_URN_CLASSES = {
    ".datastructure.DataflowDefinition=": ".datastructure.Dataflow=",
    ".datastructure.DataStructureDefinition=": ".datastructure.DataStructure=",
}
_URN_CLASSES_30 = _URN_CLASSES
_BOOLEAN_FACETS = ("isSequence", "isMultiLingual")


def standard_urns(xml: bytes) -> bytes:
    """An SDMX-ML 2.1 message written by sdmx1 with the URN classes of the SDMX 2.1 URN scheme:
    sdmx1 names URNs after its Python classes (``DataflowDefinition=``), the standard after the
    information model (``Dataflow=``)."""
    for old, new in _URN_CLASSES.items():
        xml = xml.replace(old.encode(), new.encode())
    return xml


def full_urns(text: str, fmt: str) -> str:
    """The SDMX 3.0 message as the schemas want it, where pysdmx 1.21 (fed sdmx1's 2.1 output)
    gets it wrong: SDMX 3.0 URN class names (``Dataflow=``, not ``DataflowDefinition=``); in
    SDMX-JSON 2.0 also full URNs for the references it shortens, no empty ``groups`` and facets
    such as ``isSequence`` as booleans, not ``"true"``."""
    for old, new in _URN_CLASSES_30.items():
        text = text.replace(old, new)
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
    _boolean_facets(data)
    return json.dumps(message, indent=2, ensure_ascii=False)


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
