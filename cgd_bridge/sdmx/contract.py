"""The target DSD as a contract: what every harmonised observation carries (issue #13).

A :class:`Contract` is the plain-value form of a data structure definition, read once from the
sdmx1 object: its dimensions in key order (each with its codelist), its attributes in the
DSD's order (each with its codelist, whether it is mandatory, and where it is attached), its
time dimension and its measure. The mapping engine shapes the harmonised table by it
(:func:`cgd_bridge.mapping.apply.apply_mapping`: every dimension of the DSD, in its order; only
the attributes it declares), validation reports what the mapping does not give it
(:mod:`cgd_bridge.mapping.conform`), and the pipeline checks the conformed table against it
before anything is written or stored (:func:`cgd_bridge.mapping.conform.contract_problems`).

Example:
    >>> from cgd_bridge.structures import Structures
    >>> c = contract_for("IAEG-SDGs:DF_SDG_GLH(1.5)", Structures())
    >>> c.dimension_ids[:4], "CONF_STATUS" in c.attribute_ids
    (('FREQ', 'REPORTING_TYPE', 'SERIES', 'REF_AREA'), False)
    >>> c.attribute("UNIT_MEASURE").level, c.attribute("UNIT_MEASURE").mandatory
    ('series', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIME = "TIME_PERIOD"
ALL_DIMENSIONS = "AllDimensions"


@dataclass(frozen=True)
class Component:
    """One dimension or attribute of a DSD.

    Attributes:
        id: e.g. ``SEX``.
        codelist: the codelist that enumerates its codes, ``AGENCY:ID(VERSION)``, e.g.
            ``IAEG-SDGs:CL_SEX(1.1)``; None for an uncoded component (``COMMENT_OBS``).
        mandatory: an attribute whose assignment status is ``Mandatory``.
        level: where an attribute is attached in series-by-time messages: ``obs``, ``series``
            or ``dataset`` (dimensions: ``series``).
    """

    id: str
    codelist: str | None = None
    mandatory: bool = False
    level: str = "obs"


@dataclass(frozen=True)
class Contract:
    """What a DSD requires of every observation.

    Attributes:
        dsd: ``AGENCY:ID(VERSION)`` of the data structure, e.g. ``IAEG-SDGs:SDG(1.5)``.
        dimensions: the dimensions in key order, without the time dimension.
        attributes: the attributes in the DSD's order.
        time: the time dimension's id.
        measure: the primary measure's id.
    """

    dsd: str
    dimensions: tuple[Component, ...]
    attributes: tuple[Component, ...] = ()
    time: str = TIME
    measure: str = "OBS_VALUE"

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        """The dimension ids in key order (without the time dimension)."""
        return tuple(d.id for d in self.dimensions)

    @property
    def attribute_ids(self) -> tuple[str, ...]:
        """The attribute ids in the DSD's order."""
        return tuple(a.id for a in self.attributes)

    @property
    def series_attributes(self) -> tuple[str, ...]:
        """The attributes attached to the series key (written on ``Series``)."""
        return tuple(a.id for a in self.attributes if a.level == "series")

    @property
    def mandatory_attributes(self) -> tuple[str, ...]:
        """The attributes every observation must carry."""
        return tuple(a.id for a in self.attributes if a.mandatory)

    def dimension(self, id: str) -> Component | None:
        """The dimension ``id``, or None."""
        return next((d for d in self.dimensions if d.id == id), None)

    def attribute(self, id: str) -> Component | None:
        """The attribute ``id``, or None."""
        return next((a for a in self.attributes if a.id == id), None)

    def declared(self, attributes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``attributes`` that the DSD declares, in the DSD's order."""
        wanted = set(attributes)
        return tuple(a for a in self.attribute_ids if a in wanted)

    @classmethod
    def of(cls, dsd: Any) -> Contract:
        """The contract of an sdmx1 ``DataStructureDefinition`` (2.1 or 3.0 model)."""
        dims = tuple(
            Component(str(d.id), codelist_ref(d), level="series")
            for d in dsd.dimensions.components
            if str(d.id) != TIME and type(d).__name__ != "TimeDimension"
        )
        time = next(
            (str(d.id) for d in dsd.dimensions.components if type(d).__name__ == "TimeDimension"), TIME
        )
        attrs = tuple(
            Component(str(a.id), codelist_ref(a), mandatory=_mandatory(a), level=attachment(a))
            for a in dsd.attributes.components
        )
        measure = next((str(m.id) for m in dsd.measures.components), "OBS_VALUE")
        return cls(_ref(dsd), dims, attrs, time, measure)


def contract_for(dataflow: str, structures: Any) -> Contract:
    """The contract of the DSD of ``dataflow`` (``AGENCY:ID(VERSION)``) in ``structures``.

    ``structures`` is a :class:`cgd_bridge.structures.Structures`: the contract comes from its
    compiled values (no sdmx1 object is built).

    Raises:
        StructureError: the dataflow or its DSD is not known there.
    """
    contract: Contract = structures.contract(dataflow)
    return contract


def attachment(attribute: Any, dimension_at_observation: str = TIME) -> str:
    """Where an attribute is written: ``obs``, ``series`` or ``dataset`` (SDMX 2.1 SS rules).

    An attribute related to dimensions goes on the observation when they include the one at
    the observation (always with ``AllDimensions``, which has no series), else on the series.
    """
    related = getattr(attribute, "related_to", None)
    kind = type(related).__name__
    if kind in ("PrimaryMeasureRelationship", "ObservationRelationship"):
        return "obs"
    flat = dimension_at_observation == ALL_DIMENSIONS
    if kind == "DimensionRelationship":
        dims = [str(d.id) for d in getattr(related, "dimensions", [])]
        return "obs" if flat or dimension_at_observation in dims else "series"
    if kind == "GroupRelationship":
        return "obs" if flat else "series"
    return "dataset"


def _mandatory(attribute: Any) -> bool:
    return getattr(getattr(attribute, "usage_status", None), "name", "") == "mandatory"


def _ref(obj: Any) -> str:
    agency = getattr(getattr(obj, "maintainer", None), "id", None)
    version = getattr(obj, "version", None)
    return f"{agency + ':' if agency else ''}{obj.id}{f'({version})' if version else ''}"


def codelist_ref(component: Any) -> str | None:
    """The full reference ``AGENCY:ID(VERSION)`` of the codelist that enumerates an sdmx1
    component (its local representation, else its concept's core one), or None.

    Always the full reference: an id alone is ambiguous as soon as the store holds a codelist of
    the same id from another agency (IMF:CL_FREQ beside SDMX:CL_FREQ), and every check of the
    codes looked up by id then failed with "unknown dataflow".
    """
    rep = getattr(component, "local_representation", None)
    cl = getattr(rep, "enumerated", None) if rep is not None else None
    if cl is None and getattr(component, "concept_identity", None) is not None:
        core = getattr(component.concept_identity, "core_representation", None)
        cl = getattr(core, "enumerated", None) if core is not None else None
    return _ref(cl) if cl is not None else None
