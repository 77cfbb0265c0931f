"""The output formats as data: name, media type, file suffix and writer (pysdmx-style table)."""

from __future__ import annotations

from dataclasses import dataclass

from cgd_bridge.errors import FormatError

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
            "cgd_bridge.sdmx.write.sdmx_csv", "write_csv10", ("id", "both"),
        ),
        Format(
            "sdmx-csv-2.0", "SDMX-CSV 2.0", "application/vnd.sdmx.data+csv;version=2.0.0", ".csv",
            "cgd_bridge.sdmx.write.sdmx_csv", "write_csv20", LABELS,
        ),
        Format(
            "sdmx-ml-2.1-ss", "SDMX-ML 2.1 StructureSpecific data",
            "application/vnd.sdmx.structurespecificdata+xml;version=2.1", ".xml",
            "cgd_bridge.sdmx.write.sdmx_ml", "write_ss21",
        ),
        Format(
            "sdmx-ml-3.0-ss", "SDMX-ML 3.0 StructureSpecific data",
            "application/vnd.sdmx.data+xml;version=3.0.0", ".xml",
            "cgd_bridge.sdmx.write.sdmx_ml", "write_ss30",
        ),
        Format(
            "sdmx-json-2.0", "SDMX-JSON 2.0 data", "application/vnd.sdmx.data+json;version=2.0.0", ".json",
            "cgd_bridge.sdmx.write.sdmx_json", "write_json20",
        ),
        Format(
            "sdmx-ml-2.1-generic", "SDMX-ML 2.1 Generic data",
            "application/vnd.sdmx.genericdata+xml;version=2.1", ".xml",
            "cgd_bridge.sdmx.write.sdmx_ml", "write_generic21",
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
            "cgd_bridge.sdmx.write.refmeta", "generic_metadata_21",
        ),
        Format(
            "sdmx-ml-3.0-metadata", "SDMX-ML 3.0 metadata (MetadataSet)",
            "application/vnd.sdmx.metadata+xml;version=3.0.0", ".xml",
            "cgd_bridge.sdmx.write.refmeta", "metadata_30",
        ),
        Format(
            "sdmx-json-2.0-metadata", "SDMX-JSON 2.0 metadata",
            "application/vnd.sdmx.metadata+json;version=2.0.0", ".json",
            "cgd_bridge.sdmx.write.refmeta", "metadata_json20",
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
