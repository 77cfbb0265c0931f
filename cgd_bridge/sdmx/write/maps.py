"""Mappings as SDMX 3.0 StructureMaps, and the entry point of mapping import.

An NSO's registry (Fusion Metadata Registry, .Stat Suite) keeps mappings as SDMX 3.0
structure maps. :func:`export_structure_map` turns a ``cgd-mapping/1.0`` mapping into one
SDMX 3.0 structure message that a registry can load as it is:

- the CSO table as a source **Dataflow** with its **DataStructure** and a **ConceptScheme**
  (one component per column the mapping reads: label columns as dimensions, attribute columns
  as attributes, value columns as measures). Its components are free text (``String``), not
  codelists: labels such as ``60+`` or ``With disability`` are not valid SDMX code IDs, and a
  label matches case- and white-space-insensitively, which a code never does;
- one **RepresentationMap** per label column (source value: the label, as text; target: a code
  of the target component's codelist; several labels per code, and each code to itself as the
  engine matches it), annotated with the matching rule (``CGD_LABEL_MATCHING``);
- the **StructureMap** from the source dataflow to the mapping's target dataflow: a
  ComponentMap per label column, a **FixedValueMap** per fixed code, a **DatePatternMap** for
  years, months and dates (other periods are copied by an implicit ComponentMap), an implicit
  ComponentMap for a plain value column.

What a StructureMap cannot say (a derived OBS_VALUE such as a proportion, drop rules,
microdata aggregation, the Table Schema, sections a later version of the mapping adds) travels
in annotations: a readable one per rule (``CGD_DERIVED_VALUE``, ``CGD_DROP``, ``CGD_SECTION``)
and one machine-readable ``CGD_MAPPING`` annotation (JSON) from which import restores the
mapping exactly. Messages are built as pysdmx model objects and written by pysdmx (SDMX-ML 3.0
or SDMX-JSON 2.0); the tests validate both against the official schemas.

:func:`import_mapping` goes the other way: SDMX maps are read by
:mod:`cgd_bridge.sdmx.read.maps`, open-sdg CSVs by :mod:`cgd_bridge.sdmx.read.opensdg`. Both
report what they cannot carry over as :class:`MappingWarning` (file, element, problem) in the
:class:`Imported` result; this module also holds what they share (:class:`TargetStructure`, the
target DSD's components; :func:`mapping_to_yaml`).

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
from dataclasses import dataclass, field
from typing import Any

from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_
from cgd_bridge.mapping.model import PROFILE, ComponentMap, Mapping, normalise_label
from cgd_bridge.sdmx.maps import (
    _COMPONENT_FIELDS,
    _DATE_PATTERNS,
    _KNOWN_SECTIONS,
    _VERSION,
    ANN_DERIVED,
    ANN_DROP,
    ANN_MAPPING,
    ANN_MATCHING,
    ANN_PASSTHROUGH,
    ANN_SECTION,
    MAP_FORMATS,
    MATCHING_TEXT,
    Exported,
    MappingWarning,
    TargetStructure,
    _ref,
    _sdmx_id,
    _set_sections,
    check_agency,
    mapping_section,
    target_of,
    urn,
)


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

    def __init__(self, mapping: Mapping, target: TargetStructure, agency: str, name: str) -> None:
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
        #: the concepts the SDMX 2.1 form of the source DSD needs beyond the columns
        #: (:func:`source_concepts_21`): its primary measure's when the table has no single
        #: value column, and its measure dimension's when it has several
        self.value_concept: str | None = None
        self.measure_concept: str | None = None

    def warn(self, element: str, problem: str) -> None:
        self.warnings.append(MappingWarning(self.name, element, problem))

    def build(self) -> list[Any]:
        from pysdmx.model.map import StructureMap

        if not self.m.dataflow:
            raise MappingError(
                N_("the mapping names no target dataflow"),
                fix=N_("Add 'dataflow: AGENCY:ID(VERSION)' (the SDMX dataflow the data goes to)."),
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
                maps=[ValueMap(source=label, target=code) for label, code in _value_pairs(spec)],
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
            values = "empty" if rule.when_empty else ", ".join(repr(x) for x in rule.values)
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
        self.value_concept, self.measure_concept = source_concepts_21(self.source.roles, self.source.ids)
        for extra, title, text in (
            (self.value_concept, "Observation value", _VALUE_CONCEPT_TEXT),
            (self.measure_concept, "Measure", _MEASURE_CONCEPT_TEXT),
        ):
            if extra is not None:
                concepts.append(Concept(id=extra, name=title, description=text))
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


_VALUE_CONCEPT_TEXT = (
    "The value of an observation: the primary measure of the SDMX 2.1 form of this table, which "
    "has one measure (the value columns are the values of its measure dimension)."
)
_MEASURE_CONCEPT_TEXT = (
    "Which value column of the CSO's table an observation's value is from: the measure dimension "
    "of the SDMX 2.1 form of this table (SDMX 2.1 has one primary measure per DSD)."
)


def source_concepts_21(roles: dict[str, str], ids: dict[str, str]) -> tuple[str | None, str | None]:
    """The ids of the concepts the SDMX 2.1 form of a CSO table's DSD needs beyond its columns'.

    SDMX 2.1 has one primary measure, ``OBS_VALUE``, and a dimension list that is not empty: a
    table with one value column and a dimension column needs nothing more (its primary measure
    is that column's concept). Otherwise the 2.1 DSD has a primary measure of its own concept
    (the first id) and, when the table has several value columns or no dimension column, a
    measure dimension whose values are the value columns' concepts (the second). ``roles``
    and ``ids`` are by column; the ids returned are unique among the columns' ids.
    """
    measures = [c for c, r in roles.items() if r == "measure"]
    dims = [c for c, r in roles.items() if r == "dimension"]
    if len(measures) == 1 and dims:
        return None, None
    taken = set(ids.values())

    def free(base: str) -> str:
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}_{n}", n + 1
        taken.add(ident)
        return ident

    value = free("OBS_VALUE")
    measure = free("MEASURE") if len(measures) > 1 or not dims else None
    return value, measure


def _value_pairs(spec: ComponentMap) -> list[tuple[str, str]]:
    """(source value, code) pairs of a label map, as the engine matches them.

    A code matches itself, so each code also maps to itself (unless a label of another code
    takes its place); other tools applying the RepresentationMap then give the same codes.
    """
    table = spec.labels()
    pairs = []
    for code, labels in spec.map.items():
        if table.get(normalise_label(code)) == code and code not in labels:
            pairs.append((code, code))
        pairs.extend((label, code) for label in labels)
    return pairs


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


def _annotation(kind: str, text: str, title: str | None = None) -> Any:
    from pysdmx.model import Annotation

    return Annotation(type=kind, text=text, title=title)


def _schema_fields(schema: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    fields = (schema or {}).get("fields") or []
    titles = {str(f.get("name")): str(f.get("title") or "") for f in fields if isinstance(f, dict)}
    types = {str(f.get("name")): str(f.get("type") or "") for f in fields if isinstance(f, dict)}
    return titles, types


def export_structure_map_30(
    mapping: Mapping, *, structures: Any, agency: str, fmt: str, name: str
) -> Exported:
    """A mapping as an SDMX 3.0 structure message (``sdmx-ml-3.0`` or ``sdmx-json-2.0``): the 3.0
    half of :func:`cgd_bridge.sdmx.write.export_structure_map`, whose arguments these are (the
    SDMX 2.1 StructureSet is :mod:`cgd_bridge.sdmx.write.maps21`'s)."""
    from pysdmx.io import write_sdmx
    from pysdmx.io.format import Format
    from pysdmx.io.xml.header import Header
    from pysdmx.model import Agency

    if fmt not in MAP_FORMATS:
        raise MappingError(
            N_("'{fmt}' is not a structure-map format"),
            fix=N_("Use one of: {names}."),
            params={"fmt": fmt, "names": ", ".join(MAP_FORMATS)},
        )
    if fmt == "sdmx-ml-2.1":  # a wrong call in the code itself, never a person's input
        raise ValueError(
            "an SDMX 2.1 StructureSet is written by cgd_bridge.sdmx.write.maps21: call "
            "cgd_bridge.sdmx.write.export_structure_map, which picks the writer by format"
        )
    check_agency(agency)
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
