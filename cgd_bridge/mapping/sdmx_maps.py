"""Mappings as SDMX 3.0 StructureMaps, and mappings read back from SDMX maps.

An NSO's registry (Fusion Metadata Registry, .Stat Suite) keeps mappings as SDMX 3.0
structure maps. :func:`export_structure_map` turns a ``cgd-mapping/1.0`` mapping into one
SDMX 3.0 structure message that a registry can load as it is:

- the CSO table as a source **Dataflow** with its **DataStructure** and a **ConceptScheme**
  (one component per column the mapping reads: label columns as dimensions, attribute columns
  as attributes, value columns as measures). Its components are free text (``String``), not
  codelists: labels such as ``60+`` or ``With disability`` are not valid SDMX code IDs, and a
  label matches case- and white-space-insensitively, which a code never does;
- one **RepresentationMap** per label column (source value: the label, as text; target: a code
  of the target component's codelist; several labels per code), annotated with the matching
  rule (``CGD_LABEL_MATCHING``);
- the **StructureMap** from the source dataflow to the mapping's target dataflow: a
  ComponentMap per label column, a **FixedValueMap** per fixed code, a **DatePatternMap** for
  years, months and dates (other periods are copied by an implicit ComponentMap), an implicit
  ComponentMap for a plain value column.

What a StructureMap cannot say (a derived OBS_VALUE such as a proportion, drop rules, the
Table Schema, sections a later version of the mapping adds) travels in annotations: a readable
one per rule (``CGD_DERIVED_VALUE``, ``CGD_DROP``, ``CGD_SECTION``) and one machine-readable
``CGD_MAPPING`` annotation (JSON) that :func:`import_sdmx_maps` reads to restore the mapping
exactly. Messages are built as pysdmx model objects and written by pysdmx (SDMX-ML 3.0 or
SDMX-JSON 2.0); the tests validate both against the official schemas.

:func:`import_sdmx_maps` goes the other way, from SDMX 3.0 StructureMaps/RepresentationMaps
(SDMX-ML 3.0 or SDMX-JSON 2.0, read by pysdmx) and SDMX 2.1 StructureSets with CodelistMaps
(read by sdmx1) to a mapping. Everything it cannot use (multi-component maps, regular
expressions, validity periods, epoch maps, other artefacts) becomes a :class:`MappingWarning`
naming the file and the element; a file it cannot read is a :class:`MappingError`.

Example::

    >>> from cgd_bridge.mapping import load_mapping
    >>> from cgd_bridge.structures import Structures
    >>> mapping, _ = load_mapping("mappings/kenya-health-scorecard.yaml")
    >>> exported = export_structure_map(mapping, structures=Structures())  # doctest: +SKIP
    >>> exported.text[:38]  # doctest: +SKIP
    '<?xml version="1.0" encoding="UTF-8"?>'
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cgd_bridge.errors import MappingError
from cgd_bridge.mapping.model import PROFILE, ComponentMap, Mapping, normalise_label

FORMATS = ("sdmx-ml-3.0", "sdmx-json-2.0")
DEFAULT_AGENCY = "CGD_BRIDGE"

#: annotation types cgd-bridge writes (and reads back)
ANN_MAPPING = "CGD_MAPPING"
ANN_MATCHING = "CGD_LABEL_MATCHING"
ANN_PASSTHROUGH = "CGD_PASSTHROUGH"
ANN_DERIVED = "CGD_DERIVED_VALUE"
ANN_DROP = "CGD_DROP"
ANN_SECTION = "CGD_SECTION"

MATCHING_TEXT = (
    "cgd-bridge matches source values case- and white-space-insensitively: 'female', ' FEMALE ' "
    "and 'Female' all give the same code. A value equal to a target code also gives that code."
)
# mapping sections the StructureMap (or the CGD_MAPPING annotation) carries by name
_KNOWN_SECTIONS = {
    "profile",
    "dataset",
    "version",
    "dataflow",
    "schema",
    "dimensions",
    "time",
    "value",
    "attributes",
    "drop",
}
_COMPONENT_FIELDS = {"value", "column", "map", "passthrough"}
_URN = "urn:sdmx:org.sdmx.infomodel."
_PACKAGES = {
    "Dataflow": "datastructure.Dataflow",
    "DataStructure": "datastructure.DataStructure",
    "ConceptScheme": "conceptscheme.ConceptScheme",
    "Concept": "conceptscheme.Concept",
    "Codelist": "codelist.Codelist",
    "RepresentationMap": "structuremapping.RepresentationMap",
    "StructureMap": "structuremapping.StructureMap",
}
#: attributes of the SDMX cross-domain concepts and the SDG DSD, for targets not in the store
COMMON_ATTRIBUTES = frozenset(
    "OBS_STATUS CONF_STATUS OBS_CONF UNIT_MEASURE UNIT_MULT DECIMALS COMMENT_OBS COMMENT_TS COMMENT_DSET "
    "TITLE TIME_FORMAT NATURE SOURCE_DETAIL TIME_DETAIL BASE_PER EMBARGO_TIME OBS_PRE_BREAK COMPILING_ORG "
    "DATA_COMP UPPER_BOUND LOWER_BOUND TIME_COVERAGE GEO_INFO_URL GEO_INFO_TYPE DATA_LAST_UPDATE".split()
)
_DATE_PATTERNS = {"year": ("yyyy", "A"), "month": ("yyyy-MM", "M"), "date": ("yyyy-MM-dd", "D")}
_PATTERN_FORMATS = {pattern: fmt for fmt, (pattern, _) in _DATE_PATTERNS.items()}
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,2}(-[A-Za-z0-9.]+)?$")


@dataclass
class MappingWarning:
    """Something in an input (or a mapping) that could not be carried over as it is.

    Attributes:
        file: the file concerned, e.g. ``maps.xml`` (or the mapping's name on export).
        element: the element in it, e.g. ``ComponentMap COUNTRY+LOCAL_CURRENCY -> CURRENCY_ISO3``.
        problem: what happened to it and what to do, e.g. ``"maps two source columns to one
            target; cgd-bridge maps one column per component. Left out."``
    """

    file: str
    element: str
    problem: str

    @property
    def message(self) -> str:
        """``{file}, {element}: {problem}``."""
        return f"{self.file}, {self.element}: {self.problem}"


@dataclass
class Exported:
    """An exported structure message and what it could not express exactly."""

    text: str
    format: str
    warnings: list[MappingWarning] = field(default_factory=list)


@dataclass
class Imported:
    """A mapping built from SDMX maps or open-sdg CSVs, with everything that was not used."""

    mapping: Mapping
    sources: list[str]
    warnings: list[MappingWarning] = field(default_factory=list)

    def to_yaml(self) -> str:
        """The mapping as a commented ``cgd-mapping/1.0`` YAML file (warnings as comments)."""
        lines = [f"# Imported by cgd-bridge from {', '.join(self.sources)}."]
        if self.warnings:
            lines.append("# Check these before use:")
            lines.extend(f"#  - {w.message}" for w in self.warnings)
        return "\n".join(lines) + "\n" + mapping_to_yaml(self.mapping)


def mapping_to_yaml(mapping: Mapping) -> str:
    """A mapping as YAML, sections in the documented order, defaults left out."""
    data = mapping.model_dump(mode="json", by_alias=True, exclude_none=True)
    for section in ("dimensions", "attributes"):
        for comp_id, spec in mapping_section(mapping, section).items():
            data[section][comp_id] = spec.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    ordered: dict[str, Any] = {"profile": PROFILE}
    ordered.update({k: v for k, v in data.items() if k != "profile" and v not in ({}, [])})
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def mapping_section(mapping: Mapping, section: str) -> dict[str, ComponentMap]:
    """``mapping.dimensions`` or ``mapping.attributes``."""
    return dict(getattr(mapping, section))


# -- the target structure ------------------------------------------------------------------------


@dataclass
class Target:
    """What the target dataflow's DSD says: component order, roles and codelists.

    ``known`` is False when the dataflow is neither bundled nor in the store; then the SDG
    DSD's dimension list decides what is a dimension.
    """

    dataflow: str
    dimensions: list[str]
    attributes: list[str]
    codelists: dict[str, str]
    known: bool

    def role(self, comp_id: str) -> str | None:
        """``dimensions``, ``attributes`` or None (not in the DSD)."""
        if comp_id in self.dimensions:
            return "dimensions"
        if comp_id in self.attributes:
            return "attributes"
        return None


def target_of(dataflow: str, structures: Any | None) -> Target:
    """The target dataflow's components from ``structures`` (bundled + store), if it is there."""
    from cgd_bridge.errors import StructureError
    from cgd_bridge.mapping.apply import SDG_DIMENSIONS

    if structures is not None:
        from cgd_bridge.structures import describe, parse_ref

        agency, ident, version = parse_ref(dataflow)
        try:
            flow = structures.dataflow(ident, agency, version)
            ref = flow.structure
            dsd = structures.dsd(ref.id, ref.maintainer.id if ref.maintainer else None, ref.version)
        except StructureError:
            pass
        else:
            d = describe(dsd)
            comps = [*d["dimensions"], *d["attributes"]]
            return Target(
                dataflow=dataflow,
                dimensions=[c["id"] for c in d["dimensions"] if c["id"] != "TIME_PERIOD"],
                attributes=[c["id"] for c in d["attributes"]],
                codelists={c["id"]: c["codelist"] for c in comps if c["codelist"]},
                known=True,
            )
    return Target(dataflow, list(SDG_DIMENSIONS), [], {}, known=False)


# -- export ----------------------------------------------------------------------------------------


def _sdmx_id(text: str, prefix: str = "X") -> str:
    """A valid SDMX NCName ID from any text: ``'Observation status'`` -> ``'Observation_status'``."""
    out = re.sub(r"[^A-Za-z0-9_\-]", "_", str(text).strip())
    return out if re.match(r"^[A-Za-z]", out) else f"{prefix}_{out}"


def urn(kind: str, agency: str, ident: str, version: str, item: str | None = None) -> str:
    """The SDMX URN of an artefact: ``urn("Dataflow", "A", "DF", "1.0")``."""
    return f"{_URN}{_PACKAGES[kind]}={agency}:{ident}({version})" + (f".{item}" if item else "")


def _ref(dataflow: str) -> tuple[str, str, str]:
    from cgd_bridge.structures import parse_ref

    agency, ident, version = parse_ref(dataflow)
    if not agency or not version:
        raise MappingError(
            f"the mapping's dataflow '{dataflow}' does not give its agency and version",
            fix="Write it as AGENCY:ID(VERSION), e.g. IAEG-SDGs:DF_SDG_GLH(1.5).",
            field="dataflow",
        )
    return agency, ident, version


@dataclass
class _Source:
    """The CSO table as source components: column -> (component ID, role)."""

    ids: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def add(self, column: str, role: str) -> str:
        if column not in self.ids:
            base = _sdmx_id(column, "C")
            ident, n = base, 2
            while ident in self.ids.values():
                ident, n = f"{base}_{n}", n + 1
            self.ids[column] = ident
            self.roles[column] = role
        return self.ids[column]


class _Exporter:
    """Builds the pysdmx artefacts of one mapping (see the module docstring)."""

    def __init__(self, mapping: Mapping, target: Target, agency: str, name: str) -> None:
        self.m = mapping
        self.target = target
        self.agency = agency
        self.name = name
        self.warnings: list[MappingWarning] = []
        self.dataset = _sdmx_id((mapping.dataset or "CGD_DATASET").upper(), "DS")
        version = mapping.version
        if not _VERSION.match(version):
            self.warn("version", f"'{version}' is not an SDMX version; the artefacts get version 1.0.0")
            version = "1.0.0"
        self.version = version
        self.source = _Source()

    def warn(self, element: str, problem: str) -> None:
        self.warnings.append(MappingWarning(self.name, element, problem))

    def build(self) -> list[Any]:
        from pysdmx.model.map import StructureMap

        if not self.m.dataflow:
            raise MappingError(
                "the mapping names no target dataflow",
                fix="Add 'dataflow: AGENCY:ID(VERSION)' (the SDMX dataflow the data goes to).",
                file=self.name,
                field="dataflow",
            )
        t_agency, t_id, t_version = _ref(self.m.dataflow)
        if not self.target.known:
            self.warn(
                "dataflow",
                f"{self.m.dataflow} is not among the known structures, so the "
                "representation maps name no target codelist (TargetDataType String). Import "
                "its DSD with 'cgd-bridge structures import' and export again.",
            )
        rep_maps: list[Any] = []
        maps: list[Any] = [*self._time_maps()]
        for section in ("dimensions", "attributes"):
            for comp_id, spec in mapping_section(self.m, section).items():
                maps.extend(self._component_maps(section, comp_id, spec, rep_maps))
        maps.extend(self._value_maps())
        fixed = [m for m in maps if type(m).__name__ == "FixedValueMap"]
        maps = [m for m in maps if type(m).__name__ != "FixedValueMap"] + fixed  # the XSD's order
        for rule in self.m.drop:
            self.source.add(rule.column, "dimension")
        structure_map = StructureMap(
            id=f"SM_{self.dataset}",
            agency=self.agency,
            version=self.version,
            name=f"{self.m.dataset or self.dataset} to {self.m.dataflow}",
            description="Made by cgd-bridge from a cgd-mapping/1.0 file.",
            source=urn("Dataflow", self.agency, f"DF_{self.dataset}", self.version),
            target=urn("Dataflow", t_agency, t_id, t_version),
            maps=maps,
            annotations=self._annotations(),
        )
        return [*self._source_structures(), *rep_maps, structure_map]

    def _time_maps(self) -> list[Any]:
        from pysdmx.model.map import DatePatternMap, FixedValueMap, ImplicitComponentMap

        t = self.m.time
        if t is None:
            return []
        if t.value is not None:
            return [FixedValueMap(target="TIME_PERIOD", value=t.value)]
        assert t.column is not None
        source = self.source.add(t.column, "dimension")
        if t.format in _DATE_PATTERNS:
            pattern, freq = _DATE_PATTERNS[t.format]
            return [DatePatternMap(source=source, target="TIME_PERIOD", pattern=pattern, frequency=freq)]
        self.warn(
            "time",
            f"format '{t.format}' has no SDMX date pattern: the column is copied to "
            "TIME_PERIOD as it is (an implicit ComponentMap)",
        )
        return [ImplicitComponentMap(source=source, target="TIME_PERIOD")]

    def _component_maps(
        self, section: str, comp_id: str, spec: ComponentMap, rep_maps: list[Any]
    ) -> list[Any]:
        from pysdmx.model import DataType
        from pysdmx.model.map import ComponentMap as SdmxComponentMap
        from pysdmx.model.map import FixedValueMap, ImplicitComponentMap, RepresentationMap, ValueMap

        if spec.value is not None:
            return [FixedValueMap(target=comp_id, value=spec.value)]
        assert spec.column is not None
        source = self.source.add(spec.column, "dimension" if section == "dimensions" else "attribute")
        if not spec.map:
            return [ImplicitComponentMap(source=source, target=comp_id)]
        codelist = self.target.codelists.get(comp_id)
        target: Any = DataType.STRING
        if codelist:
            agency, ident, version = _ref(codelist)
            target = urn("Codelist", agency, ident, version)
        annotations = [_annotation(ANN_MATCHING, MATCHING_TEXT)]
        if spec.passthrough:
            annotations.append(
                _annotation(ANN_PASSTHROUGH, "A source value not listed here is used as the code as it is.")
            )
        rm_id = f"RM_{self.dataset}_{_sdmx_id(comp_id)}"
        rep_maps.append(
            RepresentationMap(
                id=rm_id,
                agency=self.agency,
                version=self.version,
                name=f"{spec.column} labels to {comp_id} codes",
                source=DataType.STRING,
                target=target,
                maps=[
                    ValueMap(source=label, target=code)
                    for code, labels in spec.map.items()
                    for label in labels
                ],
                annotations=annotations,
            )
        )
        rm_urn = urn("RepresentationMap", self.agency, rm_id, self.version)
        return [SdmxComponentMap(source=source, target=comp_id, values=rm_urn)]

    def _value_maps(self) -> list[Any]:
        from pysdmx.model.map import ImplicitComponentMap

        v = self.m.value
        if v is None:
            return []
        column = _plain_value_column(v)
        if column is not None:
            return [ImplicitComponentMap(source=self.source.add(column, "measure"), target="OBS_VALUE")]
        for c in (v.column, v.numerator, v.denominator):
            if c:
                self.source.add(c, "measure")
        for c in [*getattr(v, "where", {}), *getattr(v, "of", {})]:  # microdata conditions
            self.source.add(c, "dimension")
        self.warn(
            "value",
            f"OBS_VALUE is derived (kind '{v.kind}'): a StructureMap cannot compute it, so it is "
            f"described in a {ANN_DERIVED} annotation",
        )
        return []

    def _annotations(self) -> list[Any]:
        out = []
        v = self.m.value
        if v is not None and _plain_value_column(v) is None:
            out.append(_annotation(ANN_DERIVED, _describe_value(v), title="OBS_VALUE"))
        for rule in self.m.drop:
            values = ", ".join(repr(x) for x in rule.values)
            out.append(
                _annotation(
                    ANN_DROP,
                    f"Rows whose {rule.column} is {values} are left out: {rule.reason}",
                    title=rule.column,
                )
            )
        data = self.m.model_dump(mode="json", by_alias=True, exclude_none=True)
        extra = {k: data[k] for k in _set_sections(self.m) if k not in _KNOWN_SECTIONS}
        for section in extra:
            self.warn(
                section,
                f"the section '{section}' cannot be expressed in a StructureMap: it is "
                f"carried in the {ANN_MAPPING} annotation",
            )
            out.append(
                _annotation(
                    ANN_SECTION,
                    f"The mapping's '{section}' section is carried in the {ANN_MAPPING} annotation.",
                    title=section,
                )
            )
        out.append(
            _annotation(
                ANN_MAPPING, json.dumps(self._machine(data, extra), ensure_ascii=False), title=PROFILE
            )
        )
        return out

    def _machine(self, data: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        """What the CGD_MAPPING annotation holds: all a StructureMap cannot say exactly."""
        comp_extra = {}
        for section in ("dimensions", "attributes"):
            for comp_id, spec in data.get(section, {}).items():
                more = {k: v for k, v in spec.items() if k not in _COMPONENT_FIELDS}
                if more:
                    comp_extra[comp_id] = more
        return {
            "profile": PROFILE,
            "dataset": self.m.dataset,
            "version": self.m.version,
            "dimensions": list(self.m.dimensions),
            "attributes": list(self.m.attributes),
            "columns": {ident: column for column, ident in self.source.ids.items() if ident != column},
            "passthrough": [
                c for c, s in {**self.m.dimensions, **self.m.attributes}.items() if s.passthrough
            ],
            "time": data.get("time"),
            "value": data.get("value"),
            "drop": data.get("drop", []),
            "schema": data.get("schema"),
            "component_fields": comp_extra,
            "sections": extra,
        }

    def _source_structures(self) -> list[Any]:
        from pysdmx.model import Concept, ConceptScheme, DataType
        from pysdmx.model.dataflow import Component, Components, Dataflow, DataStructureDefinition, Role

        titles, types = _schema_fields(self.m.schema_)
        cs_id, dsd_id = f"CS_{self.dataset}", f"DSD_{self.dataset}"
        concepts, components = [], []
        roles = {"dimension": Role.DIMENSION, "attribute": Role.ATTRIBUTE, "measure": Role.MEASURE}
        for column, ident in self.source.ids.items():
            role = self.source.roles[column]
            concepts.append(
                Concept(
                    id=ident,
                    name=titles.get(column) or column,
                    description=f"The column '{column}' of the CSO's table.",
                )
            )
            dtype = DataType.STRING
            if role == "measure":
                dtype = DataType.INTEGER if types.get(column) == "integer" else DataType.DECIMAL
            components.append(
                Component(
                    id=ident,
                    required=role != "attribute",
                    role=roles[role],
                    concept=Concept(id=ident, urn=urn("Concept", self.agency, cs_id, self.version, ident)),
                    local_dtype=dtype,
                    attachment_level="O" if role == "attribute" else None,
                )
            )
        label = self.m.dataset or self.dataset
        return [
            ConceptScheme(
                id=cs_id, agency=self.agency, version=self.version, name=f"Columns of {label}", items=concepts
            ),
            DataStructureDefinition(
                id=dsd_id,
                agency=self.agency,
                version=self.version,
                name=f"{label} (the CSO's table)",
                components=Components(components),
            ),
            Dataflow(
                id=f"DF_{self.dataset}",
                agency=self.agency,
                version=self.version,
                name=f"{label} (the CSO's table)",
                structure=urn("DataStructure", self.agency, dsd_id, self.version),
            ),
        ]


def _plain_value_column(v: Any) -> str | None:
    """The column OBS_VALUE is copied from, or None when the value is derived."""
    if getattr(v, "microdata", False):
        return None
    if v.kind == "column":
        return str(v.column)
    if v.kind == "count" and v.numerator:
        return str(v.numerator)
    return None


def _describe_value(v: Any) -> str:
    """A derived OBS_VALUE in words, for the CGD_DERIVED_VALUE annotation."""
    if v.kind == "proportion" and v.numerator and v.denominator:
        return (
            f"OBS_VALUE = {v.numerator} / {v.denominator} x {v.scale:g}, rounded to {v.decimals} "
            "decimal(s), for each source row."
        )
    detail = json.dumps(v.model_dump(mode="json", by_alias=True, exclude_none=True), ensure_ascii=False)
    return (
        f"OBS_VALUE is a {v.kind} that cgd-bridge computes from the respondents' rows, aggregated into "
        f"cells (the mapping's value section: {detail})."
    )


def _set_sections(mapping: Mapping) -> list[str]:
    """The top-level sections of a mapping that differ from their defaults (new ones included)."""
    out = []
    for name, info in type(mapping).model_fields.items():
        key = info.alias or name
        if getattr(mapping, name) != info.get_default(call_default_factory=True):
            out.append(key)
    return out


def _annotation(kind: str, text: str, title: str | None = None) -> Any:
    from pysdmx.model import Annotation

    return Annotation(type=kind, text=text, title=title)


def _schema_fields(schema: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    fields = (schema or {}).get("fields") or []
    titles = {str(f.get("name")): str(f.get("title") or "") for f in fields if isinstance(f, dict)}
    types = {str(f.get("name")): str(f.get("type") or "") for f in fields if isinstance(f, dict)}
    return titles, types


def export_structure_map(
    mapping: Mapping,
    *,
    structures: Any | None = None,
    agency: str = DEFAULT_AGENCY,
    fmt: str = "sdmx-ml-3.0",
    name: str = "mapping",
) -> Exported:
    """A mapping as an SDMX 3.0 structure message (``sdmx-ml-3.0`` or ``sdmx-json-2.0``).

    Args:
        mapping: the loaded mapping.
        structures: a :class:`cgd_bridge.structures.Structures`, to name the target codelists.
        agency: the maintenance agency of the CSO-side artefacts, e.g. ``CGD_BRIDGE`` or the ID
            the NSO's registry gave the CSO.
        fmt: ``sdmx-ml-3.0`` or ``sdmx-json-2.0``.
        name: how to name the mapping in warnings (its file name).
    """
    from pysdmx.io import write_sdmx
    from pysdmx.io.format import Format
    from pysdmx.io.xml.header import Header
    from pysdmx.model import Agency

    if fmt not in FORMATS:
        raise MappingError(f"'{fmt}' is not a structure-map format", fix=f"Use one of: {', '.join(FORMATS)}.")
    if not re.match(r"^[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z][A-Za-z0-9_\-]*)*$", agency):
        raise MappingError(
            f"'{agency}' is not an SDMX agency ID",
            fix="Use letters, digits, '_' and '-', starting with a letter.",
        )
    exporter = _Exporter(mapping, target_of(mapping.dataflow or "", structures), agency, name)
    artefacts = exporter.build()
    header = Header(id=f"CGD_MAP_{exporter.dataset}", sender=Agency(id=agency))
    if fmt == "sdmx-ml-3.0":
        text = write_sdmx(artefacts, Format.STRUCTURE_SDMX_ML_3_0, header=header)
    else:
        raw = write_sdmx(artefacts, Format.STRUCTURE_SDMX_JSON_2_0_0, header=header)
        text = json.dumps(_json_fixed(json.loads(raw or "{}")), indent=2, ensure_ascii=False) + "\n"
    return Exported(text=text or "", format=fmt, warnings=exporter.warnings)


def _json_fixed(message: dict[str, Any]) -> dict[str, Any]:
    """pysdmx 1.21 writes ``"groups": []`` in a DSD; the SDMX-JSON 2.0 schema wants none or >= 1."""
    for dsd in message.get("data", {}).get("dataStructures", []):
        comps = dsd.get("dataStructureComponents", {})
        if comps.get("groups") == []:
            del comps["groups"]
    return message


# -- import: SDMX maps -----------------------------------------------------------------------------


@dataclass
class _Collected:
    """The artefacts of every input file, each with the file it came from."""

    structure_maps: list[tuple[str, Any]] = field(default_factory=list)
    rep_maps: dict[str, tuple[str, Any]] = field(default_factory=dict)
    codelist_maps: list[tuple[str, Any]] = field(default_factory=list)
    source_dsds: list[Any] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    links21: dict[str, tuple[str, str]] = field(default_factory=dict)
    implicit21: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[MappingWarning] = field(default_factory=list)

    def warn(self, file: str, element: str, problem: str) -> None:
        self.warnings.append(MappingWarning(file, element, problem))


def _short(urn_text: str) -> str:
    """``...RepresentationMap=A:ID(1.0)`` -> ``A:ID(1.0)``."""
    return str(urn_text).rsplit("=", 1)[-1]


def sniff_sdmx(path: Path) -> str | None:
    """``sdmx-ml-2.1``, ``sdmx-ml-3.0``, ``sdmx-json`` or None (not SDMX) from a file's start."""
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "sdmx-json"
    if head.startswith(b"<"):
        if b"/schemas/v2_1/" in head:
            return "sdmx-ml-2.1"
        if b"/schemas/v3_0/" in head:
            return "sdmx-ml-3.0"
        return "xml"
    return None


def _read_pysdmx(path: Path, kind: str, out: _Collected) -> None:
    from lxml import etree
    from pysdmx.errors import PysdmxError
    from pysdmx.io import read_sdmx

    try:
        message = read_sdmx(path, validate=kind == "sdmx-ml-3.0")
    except (PysdmxError, ValueError, KeyError, TypeError, AttributeError, etree.XMLSyntaxError) as exc:
        raise MappingError(
            f"the file cannot be read as an {'SDMX-JSON 2.0' if kind == 'sdmx-json' else 'SDMX-ML 3.0'} "
            f"structure message ({exc})",
            fix="Give an SDMX-ML 3.0 or SDMX-JSON 2.0 structure message with StructureMaps and "
            "RepresentationMaps (as a registry's /structure/structuremap query returns), or an SDMX-ML 2.1 "
            "StructureSet.",
            file=path.name,
        ) from exc
    for obj in message.structures or []:
        kind_name = type(obj).__name__
        if kind_name == "StructureMap":
            out.structure_maps.append((path.name, obj))
        elif kind_name in ("RepresentationMap", "MultiRepresentationMap"):
            out.rep_maps[_short(obj.short_urn)] = (path.name, obj)
        elif kind_name == "DataStructureDefinition":
            out.source_dsds.append(obj)
        elif kind_name not in ("ConceptScheme", "Dataflow", "Codelist", "ValueList"):
            out.warn(path.name, f"{kind_name} {getattr(obj, 'id', '')}", "not a map; not used")
    _scan_unsupported(path, kind, out)


def _scan_unsupported(path: Path, kind: str, out: _Collected) -> None:
    """What pysdmx reads without saying: regex/substring source values, epoch maps, other maps."""
    if kind == "sdmx-json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        for key in data.get("data", {}):
            if key not in (
                "structureMaps",
                "representationMaps",
                "dataStructures",
                "dataflows",
                "conceptSchemes",
                "codelists",
                "valueLists",
            ):
                out.warn(path.name, key, "not a structure or representation map; not used")
        for sm in data.get("data", {}).get("structureMaps", []):
            if sm.get("epochMaps"):
                out.warn(
                    path.name,
                    f"StructureMap {sm.get('id')} epochMaps",
                    "epoch maps are not supported; left out",
                )
        return
    from lxml import etree

    tree = etree.parse(str(path))
    for el in tree.iter("{*}SourceValue"):
        for attr in ("isRegEx", "startIndex", "endIndex"):
            if el.get(attr) not in (None, "false"):
                out.warn(
                    path.name,
                    f"SourceValue '{el.text}' ({attr}={el.get(attr)})",
                    "regular expressions and substrings are not supported: the value is taken as a "
                    "plain label",
                )
    for _ in tree.iter("{*}EpochMap"):
        out.warn(path.name, "EpochMap", "epoch maps are not supported; left out")
    structures = next(tree.iter("{*}Structures"), None)
    for child in structures if structures is not None else []:
        if isinstance(child.tag, str) and etree.QName(child).localname not in _XML_USED:
            out.warn(
                path.name, etree.QName(child).localname, "not a structure or representation map; not used"
            )


_XML_USED = {
    "StructureMaps",
    "RepresentationMaps",
    "DataStructures",
    "Dataflows",
    "ConceptSchemes",
    "Codelists",
    "ValueLists",
}


@dataclass
class CodelistMap21:
    """An SDMX 2.1 CodelistMap: source code -> target code, between two codelists."""

    id: str
    source: str
    target: str
    pairs: list[tuple[str, str]] = field(default_factory=list)


def _ref_id(el: Any) -> str:
    """The ID a 2.1 reference element points to (``<Ref id=.../>`` or ``<URN>``)."""
    if el is None:
        return ""
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.get("id"):
            return str(child.get("id"))
        if (child.text or "").strip():
            return _short(child.text.strip())
    return ""


def _read_sdmx21(path: Path, out: _Collected) -> None:
    """CodelistMaps and the ComponentMaps that say which component each one is for.

    Read with lxml: sdmx1 2.28 reads CodelistMaps, but stops with NotImplementedError at a
    StructureSet's StructureMap, which is where SDMX 2.1 links a codelist map to components.
    """
    from lxml import etree

    try:
        root = etree.parse(str(path)).getroot()
    except etree.XMLSyntaxError as exc:
        raise MappingError(
            f"the file cannot be read as SDMX-ML 2.1 ({exc})",
            fix="Give a complete SDMX-ML 2.1 structure message with a StructureSet.",
            file=path.name,
        ) from exc
    sets = list(root.iter("{*}StructureSet"))
    if not sets:
        raise MappingError(
            "the SDMX 2.1 structure message has no StructureSet",
            fix="Give a StructureSet with CodelistMaps (a registry's /structureset query).",
            file=path.name,
        )
    for ss in sets:
        for child in ss:
            name = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if name == "CodelistMap":
                cm = CodelistMap21(str(child.get("id")), _ref_id(child.find("{*}Source")),
                                   _ref_id(child.find("{*}Target")))  # fmt: skip
                for code_map in child.iterfind("{*}CodeMap"):
                    cm.pairs.append(
                        (_ref_id(code_map.find("{*}Source")), _ref_id(code_map.find("{*}Target")))
                    )
                out.codelist_maps.append((path.name, cm))
            elif name == "StructureMap":
                _read_structure_map21(path.name, child, out)
            elif name not in ("", "Annotations", "Name", "Description", "RelatedStructure"):
                element = f"StructureSet {ss.get('id')} {name} {child.get('id') or ''}".rstrip()
                out.warn(path.name, element, "only CodelistMaps and StructureMaps are used; left out")


def _read_structure_map21(file: str, sm: Any, out: _Collected) -> None:
    from lxml import etree

    for cmap in sm.iterfind("{*}ComponentMap"):
        source, target = _ref_id(cmap.find("{*}Source")), _ref_id(cmap.find("{*}Target"))
        rep = cmap.find("{*}RepresentationMapping")
        element = f"StructureMap {sm.get('id')} ComponentMap {source} -> {target}"
        if rep is None:
            out.implicit21.append((file, source, target))
            continue
        kinds = [etree.QName(c).localname for c in rep if isinstance(c.tag, str)]
        if kinds == ["CodelistMap"]:
            out.links21[_ref_id(rep.find("{*}CodelistMap"))] = (target, source)
        else:
            out.warn(
                file, element, f"maps values with {', '.join(kinds)}; only CodelistMaps are used, left out"
            )


def import_sdmx_maps(
    paths: Sequence[Path],
    *,
    dataflow: str,
    structures: Any | None = None,
    links: dict[str, tuple[str, str | None]] | None = None,
) -> Imported:
    """A mapping from SDMX 3.0 structure/representation maps or SDMX 2.1 CodelistMaps.

    Args:
        paths: SDMX-ML 3.0, SDMX-JSON 2.0 or SDMX-ML 2.1 structure messages.
        dataflow: the target dataflow, ``AGENCY:ID(VERSION)``.
        structures: bundled + stored structures, to tell dimensions from attributes.
        links: for code maps that name no component (2.1 CodelistMaps, representation maps no
            StructureMap uses): map ID, source or target codelist ID -> (component, column),
            e.g. ``{"REF_AREA_TO_ISO3": ("REF_AREA", "country")}``.
    """
    out = _Collected()
    for path in paths:
        kind = sniff_sdmx(path)
        if kind == "sdmx-ml-2.1":
            _read_sdmx21(path, out)
        elif kind in ("sdmx-ml-3.0", "sdmx-json"):
            _read_pysdmx(path, kind, out)
        else:
            raise MappingError(
                "the file is not an SDMX-ML 2.1/3.0 or SDMX-JSON structure message",
                fix="Give SDMX structure maps (XML or JSON), or open-sdg column-map/code-map CSVs.",
                file=path.name,
            )
    builder = MappingBuilder(target_of(dataflow, structures), out.warnings, links)
    if out.structure_maps:
        file, sm = _pick_structure_map(out, dataflow)
        builder.from_structure_map(file, sm, out)
        for short, (rm_file, _) in out.rep_maps.items():
            if short in out.used:
                continue
            out.warn(
                rm_file,
                f"RepresentationMap {short}",
                f"no ComponentMap of {_short(sm.short_urn)} uses it; not used",
            )
    elif out.codelist_maps or out.rep_maps or out.implicit21:
        for file, source, target in out.implicit21:
            builder._add(file, target, {"column": source, "passthrough": True})
        for file, cm in out.codelist_maps:
            builder.from_codelist_map(file, cm, out.links21.get(cm.id))
        for short, (file, rm) in _latest(out).items():
            builder.from_lone_rep_map(file, short, rm)
    else:
        raise MappingError(
            "the files hold no StructureMap, RepresentationMap or CodelistMap",
            fix="Export the maps from the registry (structuremap/representationmap or structureset).",
            file=", ".join(p.name for p in paths),
        )
    mapping = builder.mapping(dataflow)
    return Imported(mapping=mapping, sources=[p.name for p in paths], warnings=out.warnings)


def _latest(out: _Collected) -> dict[str, tuple[str, Any]]:
    """The highest version of each representation map (older ones are reported)."""
    from cgd_bridge.structures import parse_ref, version_key

    best: dict[tuple[str | None, str], tuple[str, tuple[str, Any]]] = {}
    for short, (file, rm) in out.rep_maps.items():
        agency, ident, version = parse_ref(short)
        old = best.get((agency, ident))
        if old is None or version_key(version or "") > version_key(parse_ref(old[0])[2] or ""):
            if old is not None:
                out.warn(old[1][0], f"RepresentationMap {old[0]}", f"not used: the later {short} is")
            best[(agency, ident)] = (short, (file, rm))
        else:
            out.warn(file, f"RepresentationMap {short}", f"not used: the later {old[0]} is")
    return dict(best.values())


def _pick_structure_map(out: _Collected, dataflow: str) -> tuple[str, Any]:
    from cgd_bridge.structures import parse_ref, version_key

    agency, ident, version = parse_ref(dataflow)

    def targets(sm: Any) -> bool:
        t_agency, t_id, t_version = parse_ref(_short(sm.target))
        return (
            t_id == ident
            and (agency is None or t_agency == agency)
            and (version is None or t_version == version)
        )

    candidates = [(f, sm) for f, sm in out.structure_maps if targets(sm)] or out.structure_maps
    chosen = max(candidates, key=lambda fs: version_key(str(fs[1].version)))
    for file, sm in out.structure_maps:
        if sm is not chosen[1]:
            out.warn(
                file,
                f"StructureMap {_short(sm.short_urn)}",
                f"not used: {_short(chosen[1].short_urn)} "
                "was chosen (one mapping is built from one StructureMap)",
            )
    if not targets(chosen[1]):
        out.warn(
            chosen[0],
            f"StructureMap {_short(chosen[1].short_urn)}",
            f"its target is {_short(chosen[1].target)}, not {dataflow}: check the codes it gives",
        )
    return chosen


class MappingBuilder:
    """Collects dimensions, attributes, time and value for a new mapping, warning as it goes.

    The SDMX importers here and :mod:`cgd_bridge.mapping.opensdg` fill it; :meth:`mapping`
    splits the components into dimensions (in the DSD's key order) and attributes.
    """

    def __init__(
        self,
        target: Target,
        warnings: list[MappingWarning],
        links: dict[str, tuple[str, str | None]] | None = None,
    ) -> None:
        self.target = target
        self.links = links or {}
        self.warnings = warnings
        self.components: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, str] = {}
        self.time: dict[str, Any] | None = None
        self.value: dict[str, Any] | None = None
        self.extra: dict[str, Any] = {}
        self.extra_file = ""
        self.dataset: str | None = None
        self.version = "1.0.0"
        if not target.known:
            self.warn(
                target.dataflow or "--dataflow",
                "dataflow",
                "not among the bundled or imported structures: dimensions and attributes are told apart "
                "by the SDG DSD's dimension list. Import its DSD with 'cgd-bridge structures import' "
                "for a right split and key order.",
            )

    def warn(self, file: str, element: str, problem: str) -> None:
        self.warnings.append(MappingWarning(file, element, problem))

    # the SDMX 3.0 side

    def from_structure_map(self, file: str, sm: Any, out: _Collected) -> None:
        machine = _machine_annotation(sm)
        columns: dict[str, str] = machine.get("columns") or {}
        name = f"StructureMap {_short(sm.short_urn)}"
        self.dataset = machine.get("dataset") or str(sm.id).removeprefix("SM_").lower()
        self.version = machine.get("version") or str(sm.version)
        for m in sm.maps:
            kind = type(m).__name__
            handler = getattr(self, f"_sm_{kind}", None)
            if handler is None:
                self.warn(file, f"{name} {kind}", "not supported; left out")
                continue
            handler(file, name, m, columns, out)
        self._restore(file, name, machine)

    def _sm_DatePatternMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        element = f"{name} DatePatternMap {m.source} -> {m.target} '{m.pattern}'"
        if m.target != "TIME_PERIOD":
            self.warn(file, element, "only TIME_PERIOD can come from a date pattern; left out")
        elif self.time is not None:
            self.warn(file, element, "TIME_PERIOD already comes from another map; left out")
        elif m.pattern not in _PATTERN_FORMATS:
            self.warn(
                file,
                element,
                "cgd-bridge reads years (yyyy), months (yyyy-MM) and dates (yyyy-MM-dd); "
                "left out: write the 'time' section by hand",
            )
        else:
            self.time = {"column": columns.get(m.source, m.source), "format": _PATTERN_FORMATS[m.pattern]}

    def _sm_FixedValueMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        if m.located_in == "source":
            self.warn(
                file, f"{name} FixedValueMap {m.target}={m.value}", "fixes a source component; not used"
            )
        elif m.target == "TIME_PERIOD":
            self.time = {"value": str(m.value)}
        elif m.target == "OBS_VALUE":
            self.warn(file, f"{name} FixedValueMap OBS_VALUE", "a fixed observation value is not supported")
        else:
            self._add(file, m.target, {"value": str(m.value)})

    def _sm_ImplicitComponentMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        column = columns.get(m.source, m.source)
        if m.target == "TIME_PERIOD":
            self.time = self.time or {"column": column, "format": "period"}
        elif m.target == "OBS_VALUE":
            self.value = {"kind": "column", "column": column}
        else:
            self._add(file, m.target, {"column": column, "passthrough": True})

    def _sm_ComponentMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        ref = _short(m.values) if isinstance(m.values, str) else _short(m.values.short_urn)
        element = f"{name} ComponentMap {m.source} -> {m.target}"
        column = columns.get(m.source, m.source)
        out.used.add(ref)
        found = out.rep_maps.get(ref) if isinstance(m.values, str) else (file, m.values)
        if found is None:
            self.warn(
                file,
                element,
                f"its RepresentationMap {ref} is in none of the files: the column's values "
                "are used as codes as they are (passthrough). Give the file with that map too.",
            )
            self._add(file, m.target, {"column": column, "passthrough": True})
            return
        rm_file, rm = found
        if type(rm).__name__ != "RepresentationMap":
            self.warn(
                rm_file, f"RepresentationMap {ref}", "maps several values at once; not supported, left out"
            )
            return
        spec = {"column": column, "map": self._labels(rm_file, ref, rm)}
        if any(getattr(a, "type", None) == ANN_PASSTHROUGH for a in rm.annotations):
            spec["passthrough"] = True
        self._add(file, m.target, spec)

    def _sm_MultiComponentMap(
        self, file: str, name: str, m: Any, columns: dict[str, str], out: _Collected
    ) -> None:
        self.warn(
            file,
            f"{name} ComponentMap {'+'.join(m.source)} -> {'+'.join(m.target)}",
            "maps several components at once; cgd-bridge maps one column per component. Left out.",
        )

    def _labels(self, file: str, ref: str, rm: Any) -> dict[str, list[str]]:
        """code -> labels of a representation map, warning about what cannot be kept."""
        out: dict[str, list[str]] = {}
        seen: dict[str, str] = {}
        for vm in rm.maps:
            element = f"RepresentationMap {ref} '{vm.source}' -> '{vm.target}'"
            if vm.valid_from or vm.valid_to:
                self.warn(
                    file, element, "its validity period is not supported: the label is kept for all periods"
                )
            source = str(vm.source).removeprefix("regex:")
            key = normalise_label(source)
            if key in seen and seen[key] != vm.target:
                self.warn(
                    file,
                    element,
                    f"labels match case-insensitively, and '{source}' already gives '{seen[key]}'; left out",
                )
                continue
            seen[key] = str(vm.target)
            labels = out.setdefault(str(vm.target), [])
            if source not in labels:
                labels.append(source)
        return out

    def _restore(self, file: str, name: str, machine: dict[str, Any]) -> None:
        """Apply the CGD_MAPPING annotation of a cgd-bridge export."""
        if not machine:
            return
        if machine.get("time"):
            self.time = machine["time"]
        if machine.get("value"):
            self.value = machine["value"]
        for comp_id in machine.get("passthrough") or []:
            if comp_id in self.components and "column" in self.components[comp_id]:
                self.components[comp_id]["passthrough"] = True
        for comp_id, more in (machine.get("component_fields") or {}).items():
            if comp_id in self.components:
                self.components[comp_id].update(more)
        for comp_id in machine.get("dimensions") or []:
            self.roles.setdefault(comp_id, "dimensions")
        for comp_id in machine.get("attributes") or []:
            self.roles.setdefault(comp_id, "attributes")
        self.extra_file = file
        for key in ("drop", "schema"):
            if machine.get(key):
                self.extra[key] = machine[key]
        self.extra.update(machine.get("sections") or {})

    # the SDMX 2.1 side, and representation maps no StructureMap uses

    def from_codelist_map(self, file: str, cm: CodelistMap21, link: tuple[str, str] | None) -> None:
        """An SDMX 2.1 CodelistMap; ``link`` is (component, column) from a 2.1 StructureMap."""
        labels: dict[str, list[str]] = {}
        for source, target in cm.pairs:
            labels.setdefault(target, []).append(source)
        element = f"CodelistMap {cm.id} ({cm.source} -> {cm.target})"
        if link is not None and not any(k in self.links for k in (cm.id, cm.source, cm.target)):
            self._add(file, link[0], {"column": link[1], "map": labels})
            return
        self._unlinked(file, element, cm.source, cm.target, {"map": labels})

    def from_lone_rep_map(self, file: str, ref: str, rm: Any) -> None:
        if type(rm).__name__ != "RepresentationMap":
            self.warn(
                file, f"RepresentationMap {ref}", "maps several values at once; not supported, left out"
            )
            return
        source = (
            _short(rm.source) if isinstance(rm.source, str) else str(getattr(rm.source, "value", "value"))
        )
        target = _short(rm.target) if isinstance(rm.target, str) else ""
        self._unlinked(file, f"RepresentationMap {ref}", source, target, {"map": self._labels(file, ref, rm)})

    def _unlinked(
        self, file: str, element: str, source_cl: str, target_cl: str, spec: dict[str, Any]
    ) -> None:
        """A code map with no component: the component by its codelist, the column after the source."""
        from cgd_bridge.structures import parse_ref

        target_id = parse_ref(target_cl)[1] if target_cl else ""
        comps = [c for c, cl in self.target.codelists.items() if parse_ref(cl)[1] == target_id]
        column = re.sub(r"^CL_", "", parse_ref(source_cl)[1] if "(" in source_cl else source_cl)
        map_id = parse_ref(element.split()[1])[1]
        keys = (map_id, parse_ref(source_cl)[1] if "(" in source_cl else source_cl, target_id)
        link = next((self.links[k] for k in keys if k in self.links), None)
        if link is not None:
            self.warn(file, element, f"used for {link[0]} from the column '{link[1] or column}' (--link)")
            self._add(file, link[0], {"column": link[1] or column, **spec})
            return
        if len(comps) == 1:
            comp_id = comps[0]
            where = f"the component of {self.target.dataflow} that uses {target_id}"
        else:
            comp_id = re.sub(r"^CL_", "", target_id) or column
            where = (
                f"no single component of {self.target.dataflow} uses {target_id}, so the component is "
                f"named after the codelist"
            )
        self.warn(
            file,
            element,
            f"an SDMX code map names no column or component: it is used for {comp_id} ({where}) "
            f"and the column '{column}' (named after the source codelist). Rename them to match your data, "
            f"or run again with --link {map_id}=COMPONENT:COLUMN.",
        )
        self._add(file, comp_id, {"column": column, **spec})

    # the result

    def _add(self, file: str, comp_id: str, spec: dict[str, Any]) -> None:
        if comp_id in self.components:
            self.warn(file, comp_id, "already mapped by an earlier map; this one is left out")
            return
        self.components[comp_id] = spec

    def mapping(self, dataflow: str) -> Mapping:
        from pydantic import ValidationError

        data: dict[str, Any] = {
            "profile": PROFILE,
            "dataset": self.dataset,
            "version": self.version,
            "dataflow": dataflow,
        }
        dims, attrs = self._split()
        data.update({"dimensions": dims, "attributes": attrs})
        if self.time:
            data["time"] = self.time
        if self.value:
            data["value"] = self.value
        for key, value in self.extra.items():
            if key in Mapping.model_fields or key == "schema":
                data[key] = value
            else:
                self.warn(
                    self.extra_file,
                    f"{ANN_MAPPING} section '{key}'",
                    "a section this version of cgd-bridge does not know; left out",
                )
        try:
            return Mapping.model_validate({k: v for k, v in data.items() if v is not None})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise MappingError(
                f"the maps give no valid mapping at '{where}': {err['msg']}",
                fix="Check that map in the input files.",
                field=where,
            ) from exc

    def _split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        dims: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        for comp_id, spec in self.components.items():
            role = self.target.role(comp_id) or self.roles.get(comp_id)
            if role is None and self.target.known:
                self.warn(
                    self.target.dataflow,
                    comp_id,
                    "not a dimension or attribute of the dataflow's DSD; left out",
                )
                continue
            if role is None and comp_id in COMMON_ATTRIBUTES:
                role = "attributes"
            if role is None:
                role = "dimensions"
                if comp_id not in self.target.dimensions:
                    self.warn(
                        self.target.dataflow,
                        comp_id,
                        "not known to be a dimension or an attribute; put "
                        "under dimensions: move it if it is an attribute",
                    )
            (dims if role == "dimensions" else attrs)[comp_id] = spec
        order = {c: i for i, c in enumerate(self.target.dimensions)}
        dims = dict(sorted(dims.items(), key=lambda kv: order.get(kv[0], len(order))))
        return dims, attrs


def _machine_annotation(obj: Any) -> dict[str, Any]:
    for a in getattr(obj, "annotations", ()) or ():
        if a.type == ANN_MAPPING and a.text:
            try:
                data = json.loads(a.text)
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def import_mapping(
    paths: Sequence[str | Path],
    *,
    dataflow: str,
    structures: Any | None = None,
    links: dict[str, tuple[str, str | None]] | None = None,
) -> Imported:
    """A ``cgd-mapping/1.0`` mapping from SDMX maps or from open-sdg sdg-build CSVs.

    Args:
        paths: SDMX structure messages (SDMX-ML 2.1/3.0, SDMX-JSON 2.0), or open-sdg CSVs (a
            column map, a code map and optionally one indicator CSV they apply to).
        dataflow: the target dataflow, ``AGENCY:ID(VERSION)``.
        structures: bundled + stored structures (:class:`cgd_bridge.structures.Structures`).
        links: see :func:`import_sdmx_maps` (SDMX code maps that name no component).

    Example::

        >>> imported = import_mapping(["ons_column_mapping.csv", "ons_code_mapping.csv",
        ...     "ons_indicator_1-1-1.csv"], dataflow="IAEG-SDGs:DF_SDG_GLH(1.5)")  # doctest: +SKIP
        >>> imported.mapping.dimensions["SERIES"].column  # doctest: +SKIP
        'Series'
    """
    from cgd_bridge.errors import StructureError
    from cgd_bridge.structures import parse_ref

    try:
        parse_ref(dataflow)
    except StructureError as exc:
        raise MappingError(
            f"--dataflow '{dataflow}' is not an SDMX reference",
            fix="Give it as AGENCY:ID(VERSION), e.g. IAEG-SDGs:DF_SDG_GLH(1.5).",
        ) from exc
    files = [Path(p) for p in paths]
    if not files:
        raise MappingError("no files to import", fix="Give SDMX map files or open-sdg CSVs.")
    for f in files:
        if not f.is_file():
            raise MappingError("the file does not exist", fix="Check the path.", file=str(f))
    csvs = [f for f in files if f.suffix.lower() == ".csv"]
    if csvs and len(csvs) != len(files):
        raise MappingError(
            "SDMX maps and open-sdg CSVs cannot be imported together",
            fix="Import the SDMX files or the CSVs, in two runs.",
            file=", ".join(f.name for f in files),
        )
    if csvs:
        from cgd_bridge.mapping.opensdg import import_opensdg

        return import_opensdg(files, dataflow=dataflow, structures=structures)
    return import_sdmx_maps(files, dataflow=dataflow, structures=structures, links=links)
