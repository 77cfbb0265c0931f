"""What a data writer is told about the dataflow: :class:`Target`."""

from __future__ import annotations

from dataclasses import dataclass, field

from cgd_bridge.errors import FormatError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.refs import split_ref


@dataclass(frozen=True)
class Target:
    """The dataflow the observations belong to.

    Attributes:
        agency: e.g. ``IAEG-SDGs``.
        id: e.g. ``DF_SDG_GLH``.
        version: e.g. ``1.5``.
        dimensions: dimension ids in key order, without TIME_PERIOD.
        attributes: attribute ids, in output order.
        sender: the sender id written in SDMX-ML headers.
        names: per component, code -> name (from the codelists), for formats that carry names
            (SDMX-JSON, SDMX-CSV with labels); a code without a name is named by itself.
            E.g. ``{"SEX": {"F": "Female", "_T": "Total"}}``.
        concepts: component id -> its concept's name, e.g. ``{"SEX": "Sex"}``.
        name: the dataflow's name, e.g. ``Citizen-generated data, Kenya``.
        series_attributes: the attributes the DSD attaches to series keys (e.g. ``UNIT_MEASURE``
            in the SDG DSD), which structure-specific messages write on ``Series``, not ``Obs``.
    """

    agency: str
    id: str
    version: str
    dimensions: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    sender: str = "CGD_BRIDGE"
    names: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, hash=False)
    concepts: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    name: str = field(default="", compare=False)
    series_attributes: tuple[str, ...] = ()

    def name_of(self, component: str, code: str) -> str:
        """The name of a code (the code itself when none is known)."""
        return self.names.get(component, {}).get(code, code)

    @property
    def ref(self) -> str:
        """``AGENCY:ID(VERSION)``, as SDMX-CSV writes it."""
        return f"{self.agency}:{self.id}({self.version})"

    @classmethod
    def parse(cls, text: str, dimensions: tuple[str, ...], attributes: tuple[str, ...] = ()) -> Target:
        """From ``AGENCY:ID(VERSION)``, ``AGENCY:ID`` or ``AGENCY,ID,VERSION``
        (:func:`~cgd_bridge.sdmx.refs.split_ref`); agency ``CGD_BRIDGE`` and version ``1.0``
        when the text leaves them out.

        Raises:
            FormatError: text that is no reference.
        """
        parts = split_ref(text)
        if parts is None:
            raise FormatError(
                N_("'{text}' is not a dataflow reference"),
                fix=N_("Write AGENCY:ID(VERSION), e.g. IAEG-SDGs:DF_SDG_GLH(1.5)."),
                params={"text": text},
            )
        agency, ident, version = parts
        return cls(agency or "CGD_BRIDGE", ident, version or "1.0", dimensions, attributes)
