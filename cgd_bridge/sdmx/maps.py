"""What the structure-map writers and readers share: annotation types, warnings, results, the target.

cgd-bridge mappings travel as SDMX 3.0 StructureMaps with RepresentationMaps
(:mod:`cgd_bridge.sdmx.write.maps`), as SDMX 2.1 StructureSets (:mod:`cgd_bridge.sdmx.write.maps21`),
and come back from SDMX maps (:mod:`cgd_bridge.sdmx.read.maps`) and open-sdg CSVs
(:mod:`cgd_bridge.sdmx.read.opensdg`). The facts both directions need live here: the annotation
types cgd-bridge writes and reads back, :class:`MappingWarning`, :class:`Exported`,
:class:`Imported`, :class:`TargetStructure` (the target DSD's components) and
:func:`mapping_to_yaml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_
from cgd_bridge.mapping.model import PROFILE, ComponentMap, Mapping

MAP_FORMATS = ("sdmx-ml-3.0", "sdmx-json-2.0", "sdmx-ml-2.1")
DEFAULT_AGENCY = "CGD_BRIDGE"

#: annotation types cgd-bridge writes (and reads back)
ANN_MAPPING = "CGD_MAPPING"
ANN_MATCHING = "CGD_LABEL_MATCHING"
ANN_PASSTHROUGH = "CGD_PASSTHROUGH"
ANN_DERIVED = "CGD_DERIVED_VALUE"
ANN_DROP = "CGD_DROP"
ANN_SECTION = "CGD_SECTION"
#: only in the SDMX 2.1 form (:mod:`cgd_bridge.sdmx.write.maps21`)
ANN_LABELS = "CGD_LABELS"
ANN_FIXED = "CGD_FIXED_VALUE"
ANN_DATE_PATTERN = "CGD_DATE_PATTERN"

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
PATTERN_FORMATS = {pattern: fmt for fmt, (pattern, _) in _DATE_PATTERNS.items()}
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
    kept = set(_set_sections(mapping))  # "aggregate: {}" is set (unweighted microdata), not empty
    ordered.update({k: v for k, v in data.items() if k != "profile" and (v not in ({}, []) or k in kept)})
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def mapping_section(mapping: Mapping, section: str) -> dict[str, ComponentMap]:
    """``mapping.dimensions`` or ``mapping.attributes``."""
    return dict(getattr(mapping, section))


# -- the target structure ------------------------------------------------------------------------


@dataclass
class TargetStructure:
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


def target_of(dataflow: str, structures: Any | None) -> TargetStructure:
    """The target dataflow's components from ``structures`` (bundled + store), if it is there."""
    from cgd_bridge.errors import StructureError
    from cgd_bridge.mapping.apply import SDG_DIMENSIONS

    if structures is not None:
        from cgd_bridge.sdmx.refs import parse_ref
        from cgd_bridge.structures import describe

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
            return TargetStructure(
                dataflow=dataflow,
                dimensions=[c["id"] for c in d["dimensions"] if c["id"] != "TIME_PERIOD"],
                attributes=[c["id"] for c in d["attributes"]],
                codelists={c["id"]: c["codelist"] for c in comps if c["codelist"]},
                known=True,
            )
    return TargetStructure(dataflow, list(SDG_DIMENSIONS), [], {}, known=False)


# -- ids and URNs ----------------------------------------------------------------------------------------


def _sdmx_id(text: str, prefix: str = "X") -> str:
    """A valid SDMX NCName ID from any text: ``'Observation status'`` -> ``'Observation_status'``."""
    out = re.sub(r"[^A-Za-z0-9_\-]", "_", str(text).strip())
    return out if re.match(r"^[A-Za-z]", out) else f"{prefix}_{out}"


def urn(kind: str, agency: str, ident: str, version: str, item: str | None = None) -> str:
    """The SDMX URN of an artefact: ``urn("Dataflow", "A", "DF", "1.0")``."""
    return f"{_URN}{_PACKAGES[kind]}={agency}:{ident}({version})" + (f".{item}" if item else "")


def _ref(dataflow: str) -> tuple[str, str, str]:
    from cgd_bridge.sdmx.refs import parse_ref

    agency, ident, version = parse_ref(dataflow)
    if not agency or not version:
        raise MappingError(
            N_("the mapping's dataflow '{dataflow}' does not give its agency and version"),
            fix=N_("Write it as AGENCY:ID(VERSION), e.g. IAEG-SDGs:DF_SDG_GLH(1.5)."),
            field="dataflow",
            params={"dataflow": dataflow},
        )
    return agency, ident, version


def _set_sections(mapping: Mapping) -> list[str]:
    """The top-level sections of a mapping that differ from their defaults (new ones included)."""
    out = []
    for name, info in type(mapping).model_fields.items():
        key = info.alias or name
        if getattr(mapping, name) != info.get_default(call_default_factory=True):
            out.append(key)
    return out


def check_agency(agency: str) -> None:
    """Raise MappingError unless ``agency`` is an SDMX agency ID (``CGD_BRIDGE``, ``A.B``)."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z][A-Za-z0-9_\-]*)*$", agency):
        raise MappingError(
            N_("'{agency}' is not an SDMX agency ID"),
            fix=N_("Use letters, digits, '_' and '-', starting with a letter (e.g. CGD_BRIDGE or KNBS)."),
            params={"agency": agency},
        )
