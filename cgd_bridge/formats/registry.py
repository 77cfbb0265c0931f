"""The output formats as data: name, media type, file suffix and writer (pysdmx-style table)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa

from cgd_bridge.errors import FormatError


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
        """From ``AGENCY:ID(VERSION)``, ``AGENCY:ID`` or ``AGENCY,ID,VERSION``."""
        t = text.replace(",", ":", 1).replace(",", "(", 1)
        agency, _, rest = t.partition(":")
        ident, _, version = rest.partition("(")
        return cls(
            agency or "CGD_BRIDGE", ident or agency, version.rstrip(")") or "1.0", dimensions, attributes
        )


LABELS = ("id", "name", "both")
"""The SDMX-CSV ``labels`` options: IDs only, IDs and names in separate columns, ``ID: Name``."""


@dataclass(frozen=True)
class Format:
    """One output format.

    Attributes:
        labels: the ``labels`` options its writer takes (SDMX-CSV); ``("id",)`` for the rest.
    """

    name: str
    title: str
    media_type: str
    suffix: str
    module: str
    function: str
    labels: tuple[str, ...] = ("id",)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "sdmx-csv-1.0", "SDMX-CSV 1.0", "application/vnd.sdmx.data+csv;version=1.0.0", ".csv",
            "cgd_bridge.formats.sdmx_csv", "write_csv10", ("id", "both"),
        ),
        Format(
            "sdmx-csv-2.0", "SDMX-CSV 2.0", "application/vnd.sdmx.data+csv;version=2.0.0", ".csv",
            "cgd_bridge.formats.sdmx_csv", "write_csv20", LABELS,
        ),
        Format(
            "sdmx-ml-2.1-ss", "SDMX-ML 2.1 StructureSpecific data",
            "application/vnd.sdmx.structurespecificdata+xml;version=2.1", ".xml",
            "cgd_bridge.formats.sdmx_ml", "write_ss21",
        ),
        Format(
            "sdmx-ml-3.0-ss", "SDMX-ML 3.0 StructureSpecific data",
            "application/vnd.sdmx.data+xml;version=3.0.0", ".xml",
            "cgd_bridge.formats.sdmx_ml", "write_ss30",
        ),
        Format(
            "sdmx-json-2.0", "SDMX-JSON 2.0 data", "application/vnd.sdmx.data+json;version=2.0.0", ".json",
            "cgd_bridge.formats.sdmx_json", "write_json20",
        ),
        Format(
            "sdmx-ml-2.1-generic", "SDMX-ML 2.1 Generic data",
            "application/vnd.sdmx.genericdata+xml;version=2.1", ".xml",
            "cgd_bridge.formats.sdmx_ml", "write_generic21",
        ),
    )
}  # fmt: skip


#: The reference-metadata formats (the quality metadata as an SDMX metadata set, formats/refmeta.py);
#: ``function`` names the message builder in that module.
METADATA_FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "sdmx-ml-2.1-genericmetadata", "SDMX-ML 2.1 GenericMetadata",
            "application/vnd.sdmx.genericmetadata+xml;version=2.1", ".xml",
            "cgd_bridge.formats.refmeta", "generic_metadata_21",
        ),
        Format(
            "sdmx-ml-3.0-metadata", "SDMX-ML 3.0 metadata (MetadataSet)",
            "application/vnd.sdmx.metadata+xml;version=3.0.0", ".xml",
            "cgd_bridge.formats.refmeta", "metadata_30",
        ),
        Format(
            "sdmx-json-2.0-metadata", "SDMX-JSON 2.0 metadata",
            "application/vnd.sdmx.metadata+json;version=2.0.0", ".json",
            "cgd_bridge.formats.refmeta", "metadata_json20",
        ),
    )
}  # fmt: skip


def get_metadata_format(name: str) -> Format:
    """The metadata format called ``name`` (or with that media type), or a FormatError listing them."""
    for f in METADATA_FORMATS.values():
        if name in (f.name, f.media_type):
            return f
    raise FormatError(
        f"'{name}' is not a metadata format cgd-bridge writes",
        fix=f"Use one of: {', '.join(METADATA_FORMATS)}.",
    )


def get_format(name: str) -> Format:
    """The format called ``name`` (or with that media type), or a FormatError listing them all."""
    for f in FORMATS.values():
        if name in (f.name, f.media_type):
            return f
    raise FormatError(
        f"'{name}' is not a format cgd-bridge writes",
        fix=f"Use one of: {', '.join(FORMATS)}.",
    )


def check_options(
    name: str, dimensions: tuple[str, ...] | list[str], *, detail: str, dimension_at_observation: str
) -> None:
    """Refuse, before anything is written, ``detail`` and ``dimensionAtObservation`` that format
    ``name`` cannot write for a dataflow with these ``dimensions`` (a streamed answer cannot
    fail half-way).

    Raises:
        FormatError: an unknown detail or observation dimension, or series-only details with
            ``AllDimensions`` (except in SDMX-CSV, which is flat whatever it is).
    """
    from cgd_bridge.formats._text import TIME, check_detail, layout

    target = Target("", "", "", tuple(dimensions))
    lay = layout(target, dimension_at_observation)
    check_detail(detail, layout(target, TIME) if name.startswith("sdmx-csv") else lay)


def write(
    name: str,
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    labels: str = "id",
    detail: str = "full",
    dimension_at_observation: str = "TIME_PERIOD",
) -> int:
    """Write ``table`` in format ``name`` to ``out``; returns the number of observations
    (of series, with ``detail=serieskeysonly|nodata``).

    Args:
        labels: ``id``, ``name`` or ``both`` for the formats that take it (``Format.labels``);
            any other format accepts only ``id``.
        detail: ``full``, ``dataonly`` (no attributes), ``serieskeysonly`` (the series keys,
            no observations), ``nodata`` (the series keys with their series attributes).
        dimension_at_observation: ``TIME_PERIOD``, another dimension of the target, or
            ``AllDimensions`` (no series); SDMX-CSV is flat whatever it is.

    Raises:
        FormatError: an unknown format, ``labels`` the format does not take, an unknown
            ``detail`` or observation dimension, or series-only details with ``AllDimensions``.
    """
    fmt = get_format(name)
    if labels not in fmt.labels:
        takes = [f.name for f in FORMATS.values() if labels in f.labels]
        raise FormatError(
            f"{fmt.title} has no labels={labels!r}",
            fix=f"Leave labels out (id), or use a format that takes it: {', '.join(takes) or 'none'}.",
        )
    writer = getattr(importlib.import_module(fmt.module), fmt.function)
    options: dict[str, str] = {"detail": detail, "dimension_at_observation": dimension_at_observation}
    if labels != "id":
        options["labels"] = labels
    result: int = writer(table, target, out, **options)
    return result
