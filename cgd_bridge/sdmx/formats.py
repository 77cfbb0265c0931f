"""Every SDMX representation cgd-bridge writes or reads, as one table of facts (no writing here).

One :class:`Format` row per representation: its kind (``data``, ``metadata``, ``structure``,
``schema``), name, media type (base + version), suffix, writer and reader (``"module:function"``,
imported only when used), the options its writer takes, and the facts the server's content
negotiation needs (what plain media types and ``format=`` aliases stand for, the default of each
SDMX REST API version). The CLI (``--to``, ``--list-formats``), the pipeline
(:func:`cgd_bridge.pipeline.convert`), the writers' dispatch (:func:`cgd_bridge.sdmx.write.write`),
the web pages' downloads and the server's negotiation
(:mod:`cgd_bridge.server.sdmx.negotiate`) all read this table, so a new format is one writer
module and one row (docs/formats.md, "Adding an output format").

>>> get_format("sdmx-csv-2.0").media_type
'application/vnd.sdmx.data+csv;version=2.0.0'
>>> [f.name for f in formats("schema")]
['xsd-2.1', 'xsd-3.0']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cgd_bridge.errors import FormatError
from cgd_bridge.i18n import N_

KINDS = ("data", "metadata", "structure", "schema")
"""The kinds of resources, as SDMX REST names them."""

LABELS = ("id", "name", "both")
"""The SDMX-CSV ``labels`` options: IDs only, IDs and names in separate columns, ``ID: Name``."""

API_VERSIONS = (1, 2)
"""SDMX REST API versions the server answers: 1 (``/sdmx/rest``, SDMX 2.1) and 2 (``/sdmx/v2``, 3.0)."""

FAMILY_MEDIA = {"xml": ("application/xml", "text/xml"), "csv": ("text/csv",), "json": ("application/json",)}
"""The plain media types of each family (what a row's ``plain`` makes it stand for)."""

FAMILY_ALIASES: dict[str, dict[str, tuple[str, str | None]]] = {
    "data": {
        "sdmx-ml": ("xml", None),
        "xml": ("xml", None),
        "csv": ("csv", None),
        "csvfile": ("csv", None),
        "sdmx-csv": ("csv", None),
        "csvfilewithlabels": ("csv", "both"),
    },
    "metadata": {"xml": ("xml", None)},
    "schema": {"xml": ("xml", None), "xsd": ("xml", None)},
}
"""``format=`` values that name a family, not one format: kind -> alias -> (family, labels).
They resolve to the format the family's plain media type stands for in the request's API
version (``format=csv`` is SDMX-CSV 1.0 on v1, 2.0 on v2); ``labels`` is the labels option the
alias implies when the query gives none (``csvfilewithlabels``: ``both``)."""

_V = "application/vnd.sdmx."
_XML = "xml"


@dataclass(frozen=True)
class Format:
    """One representation.

    Attributes:
        kind: ``data``, ``metadata``, ``structure`` or ``schema``.
        name: cgd-bridge's name, unique within its kind, e.g. ``sdmx-csv-2.0``.
        title: e.g. ``SDMX-CSV 2.0``.
        base: the media type without its version, e.g. ``application/vnd.sdmx.data+csv``.
        version: the media type's ``version`` parameter, e.g. ``2.0.0``.
        suffix: the file suffix, e.g. ``.csv``.
        writer: ``"module:function"`` that writes it; data writers take
            ``(table, target, out, *, detail, dimension_at_observation[, labels])``. None when the
            server's structure service writes it (structure messages).
        reader: ``"module:function"`` that reads it, where cgd-bridge reads the format (the
            official series of an NSO); None elsewhere.
        labels: the ``labels`` options its writer takes (SDMX-CSV); ``("id",)`` for the rest.
        flat: one row per observation whatever the dimension at the observation (SDMX-CSV): it
            writes series-only details with ``AllDimensions``.
        names: prints the names of codes, concepts and the dataflow even with ``labels=id``
            (SDMX-JSON), so the writer needs a named :class:`~cgd_bridge.sdmx.target.Target`.
        family: ``xml``, ``csv`` or ``json``: which plain media types and family aliases may
            stand for it.
        plain: the API versions in which its family's plain media types (``application/xml``,
            ``text/csv``, ``application/json``) and family aliases stand for it.
        default: the API versions in which ``*/*`` gets it.
        aliases: ``format=`` values that name it in every API version (.Stat Suite's and other
            servers' names), besides its own name.
        time_series: TIME_PERIOD at the observation only (the SDMX-ML 2.1 time-series messages):
            any other ``dimensionAtObservation`` is refused before anything is written.
    """

    kind: str
    name: str
    title: str
    base: str
    version: str | None
    suffix: str
    writer: str | None
    reader: str | None = None
    labels: tuple[str, ...] = ("id",)
    flat: bool = False
    names: bool = False
    family: str = _XML
    plain: tuple[int, ...] = ()
    default: tuple[int, ...] = ()
    aliases: tuple[str, ...] = ()
    time_series: bool = False

    @property
    def media_type(self) -> str:
        """``base;version=...``, e.g. ``application/vnd.sdmx.data+csv;version=2.0.0``."""
        return f"{self.base};version={self.version}" if self.version else self.base

    @property
    def module(self) -> str:
        """The writer's module, e.g. ``cgd_bridge.sdmx.write.sdmx_csv``."""
        return (self.writer or "").partition(":")[0]

    @property
    def function(self) -> str:
        """The writer's function in :attr:`module`, e.g. ``write_csv20``."""
        return (self.writer or "").partition(":")[2]

    def load_writer(self) -> Callable[..., Any]:
        """The writer function (its module is imported now)."""
        if not self.writer:
            raise FormatError(
                N_("cgd-bridge has no writer of its own for {format}"),
                fix=N_("Ask the bridge server's SDMX structure service for it instead."),
                params={"format": self.title},
            )
        return getattr(importlib.import_module(self.module), self.function)

    def load_reader(self) -> Callable[..., Any]:
        """The reader function (its module is imported now)."""
        if not self.reader:
            raise FormatError(
                N_("cgd-bridge does not read {format}"),
                fix=N_("Give the file in another SDMX format, e.g. SDMX-CSV or SDMX-ML."),
                params={"format": self.title},
            )
        module, _, function = self.reader.partition(":")
        return getattr(importlib.import_module(module), function)


_W = "cgd_bridge.sdmx.write."
_READ_OFFICIAL = "cgd_bridge.sdmx.read.data:read_official"

#: Every representation, kind by kind; within a kind, in the order lists show them and content
#: negotiation tries them (the first offer whose media type matches wins).
TABLE: tuple[Format, ...] = (
    # -- data ------------------------------------------------------------------------------------
    Format("data", "sdmx-csv-1.0", "SDMX-CSV 1.0", _V + "data+csv", "1.0.0", ".csv",
           _W + "sdmx_csv:write_csv10", _READ_OFFICIAL, labels=("id", "both"), flat=True,
           family="csv", plain=(1,)),
    Format("data", "sdmx-csv-2.0", "SDMX-CSV 2.0", _V + "data+csv", "2.0.0", ".csv",
           _W + "sdmx_csv:write_csv20", _READ_OFFICIAL, labels=LABELS, flat=True,
           family="csv", plain=(2,)),
    Format("data", "sdmx-ml-2.1-ss", "SDMX-ML 2.1 StructureSpecific data",
           _V + "structurespecificdata+xml", "2.1", ".xml", _W + "sdmx_ml:write_ss21", _READ_OFFICIAL,
           aliases=("structurespecificdata", "structurespecific")),
    Format("data", "sdmx-ml-3.0-ss", "SDMX-ML 3.0 StructureSpecific data", _V + "data+xml", "3.0.0",
           ".xml", _W + "sdmx_ml:write_ss30", plain=(2,), default=(2,)),
    Format("data", "sdmx-json-2.0", "SDMX-JSON 2.0 data", _V + "data+json", "2.0.0", ".json",
           _W + "sdmx_json:write_json20", names=True, family="json", plain=(1, 2),
           aliases=("jsondata", "json", "sdmx-json")),
    Format("data", "sdmx-json-1.0", "SDMX-JSON 1.0 data", _V + "data+json", "1.0.0", ".json",
           _W + "sdmx_json:write_json10", names=True, family="json"),
    Format("data", "sdmx-ml-2.1-generic", "SDMX-ML 2.1 Generic data", _V + "genericdata+xml", "2.1",
           ".xml", _W + "sdmx_ml:write_generic21", _READ_OFFICIAL, plain=(1,), default=(1,),
           aliases=("genericdata", "generic")),
    Format("data", "sdmx-ml-2.1-generic-ts", "SDMX-ML 2.1 Generic time-series data",
           _V + "generictimeseriesdata+xml", "2.1", ".xml", _W + "sdmx_ml:write_generic_ts21",
           time_series=True, aliases=("generictimeseriesdata",)),
    Format("data", "sdmx-ml-2.1-ss-ts", "SDMX-ML 2.1 StructureSpecific time-series data",
           _V + "structurespecifictimeseriesdata+xml", "2.1", ".xml", _W + "sdmx_ml:write_ss_ts21",
           time_series=True, aliases=("structurespecifictimeseriesdata",)),
    # -- reference metadata (the quality metadata as an SDMX metadata set) ---------------------------
    Format("metadata", "sdmx-ml-2.1-genericmetadata", "SDMX-ML 2.1 GenericMetadata",
           _V + "genericmetadata+xml", "2.1", ".xml", _W + "refmeta:generic_metadata_21",
           plain=(1,), default=(1,), aliases=("genericmetadata",)),
    Format("metadata", "sdmx-ml-3.0-metadata", "SDMX-ML 3.0 metadata (MetadataSet)",
           _V + "metadata+xml", "3.0.0", ".xml", _W + "refmeta:metadata_30", plain=(2,), default=(2,)),
    Format("metadata", "sdmx-json-2.0-metadata", "SDMX-JSON 2.0 metadata", _V + "metadata+json",
           "2.0.0", ".json", _W + "refmeta:metadata_json20", family="json", plain=(1, 2),
           aliases=("json",)),
    # -- structure messages (written by the server's structure service, sdmx1 and pysdmx) -----------
    Format("structure", "sdmx-ml-2.1", "SDMX-ML 2.1 structure", _V + "structure+xml", "2.1", ".xml",
           None, plain=(1, 2), default=(1, 2), aliases=("structure", "xml", "sdmx-ml")),
    Format("structure", "sdmx-ml-3.0", "SDMX-ML 3.0 structure", _V + "structure+xml", "3.0.0", ".xml",
           None),
    Format("structure", "sdmx-json-2.0", "SDMX-JSON 2.0 structure", _V + "structure+json", "2.0.0",
           ".json", None, family="json", plain=(1, 2), aliases=("json", "sdmx-json")),
    # -- DSD-specific schemas of structure-specific data ---------------------------------------------
    Format("schema", "xsd-2.1", "XML schema (SDMX-ML 2.1)", _V + "schema+xml", "2.1", ".xsd",
           _W + "xsd:dsd_schema", plain=(1,), default=(1,)),
    Format("schema", "xsd-3.0", "XML schema (SDMX-ML 3.0)", _V + "schema+xml", "3.0.0", ".xsd",
           _W + "xsd:dsd_schema", plain=(2,), default=(2,)),
)  # fmt: skip


_BY_KIND = {kind: tuple(f for f in TABLE if f.kind == kind) for kind in KINDS}
_BY_NAME = {(f.kind, f.name): f for f in TABLE}


def formats(kind: str) -> tuple[Format, ...]:
    """The rows of one kind, in the table's order."""
    return _BY_KIND.get(kind, ())


def format_of(kind: str, name: str) -> Format:
    """The row of ``kind`` called ``name``; KeyError when there is none."""
    return _BY_NAME[(kind, name)]


def plain_format(kind: str, family: str, api: int) -> Format | None:
    """The format a plain media type of ``family`` (and a family alias) stands for in API ``api``."""
    return next((f for f in formats(kind) if f.family == family and api in f.plain), None)


def default_format(kind: str, api: int) -> Format:
    """The format ``*/*`` gets in API ``api``."""
    return next(f for f in formats(kind) if api in f.default)


#: The data formats by name (the CLI's ``--to``, the web pages' downloads).
FORMATS: dict[str, Format] = {f.name: f for f in formats("data")}
#: The reference-metadata formats by name (``metadata export --to``, ``convert --metadata-format``).
METADATA_FORMATS: dict[str, Format] = {f.name: f for f in formats("metadata")}


def _named(table: dict[str, Format], name: str, problem: str) -> Format:
    """The format of ``table`` called ``name`` (or with that media type), or a FormatError
    (``problem``, a message id with ``{name}``) listing them."""
    for f in table.values():
        if name in (f.name, f.media_type):
            return f
    raise FormatError(
        problem, fix=N_("Use one of: {names}."), params={"name": name, "names": ", ".join(table)}
    )


def get_metadata_format(name: str) -> Format:
    """The metadata format called ``name`` (or with that media type), or a FormatError listing them."""
    return _named(METADATA_FORMATS, name, N_("'{name}' is not a metadata format cgd-bridge writes"))


def get_format(name: str) -> Format:
    """The data format called ``name`` (or with that media type), or a FormatError listing them all."""
    return _named(FORMATS, name, N_("'{name}' is not a format cgd-bridge writes"))
