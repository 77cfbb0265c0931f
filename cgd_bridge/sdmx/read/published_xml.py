"""SDMX-ML data messages as a reader has them, for the disclosure audit: SDMX-ML 2.1
structure-specific and generic data, SDMX-ML 3.0 (and 3.1) structure-specific data.

The file is read with lxml's ``iterparse`` under the same hardening as every other XML the
bridge reads (no entity resolution, no network, no DTD, no huge trees), a series at a time: each
observation becomes a row of text and its element is cleared, so memory holds one series, never
the document.

Generic data names every component (``SeriesKey``/``ObsKey`` values are dimensions,
``Attributes`` values attributes). Structure-specific data does not: a series' XML attributes
are its dimensions and its attributes alike, so the dataflow's DSD (from the bundled structures
or the local store) says which are dimensions; without it the file is refused with the fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from cgd_bridge.errors import CgdBridgeError, FormatError, InputError
from cgd_bridge.i18n import N_, msg

TIME = "TIME_PERIOD"
Row = dict[str, str | None]
_DATASET_FIELDS = {
    "action", "setID", "structureRef", "dataScope", "reportingBeginDate", "reportingEndDate",
    "validFromDate", "validToDate", "publicationYear", "publicationPeriod", "type",
}  # fmt: skip
_DATA_MESSAGES = (
    "StructureSpecificData",
    "GenericData",
    "StructureSpecificTimeSeriesData",
    "GenericTimeSeriesData",
)
_FIX = N_("Give an SDMX-ML 2.1 or 3.0 data message as cgd-bridge convert writes it, or its SDMX-CSV copy.")


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _version(tag: str) -> str:
    found = re.search(r"/schemas/v(\d)_(\d)/", tag)
    return f"{found[1]}.{found[2]}" if found else ""


class _Header:
    def __init__(self) -> None:
        self.dataflow: str | None = None
        self.dsd: str | None = None
        self.at_observation = TIME


def _ref(element: Any) -> str | None:
    """``AGENCY:ID(VERSION)`` from a ``Ref`` child (2.1) or a URN text (2.1 and 3.0)."""
    for child in element.iter():
        if _local(child.tag) == "Ref" and child.get("id"):
            return f"{child.get('agencyID')}:{child.get('id')}({child.get('version') or '1.0'})"
        urn = (child.text or "").strip()
        found = re.search(r"=([^:()=]+):([^()]+)\(([^)]+)\)", urn)
        if found:
            return f"{found[1]}:{found[2]}({found[3]})"
    return None


def read_xml(path: Path, structures: Any) -> tuple[Iterator[Row], list[str], str | None, str]:
    """The rows of an SDMX-ML data message, its dimension ids, dataflow and format id.

    The header is read first (it names the dataflow or the DSD and the observation dimension);
    the rows are read as the returned iterator is consumed. Generic data whose DSD is not known
    names its dimensions in its keys: the list returned is filled as the rows are read.

    Raises:
        InputError: the file is not well-formed XML (cut off, or not XML).
        FormatError: it is not an SDMX-ML data message (a structure, metadata or error
            message), or it is structure-specific and its DSD is not known.
    """
    events = _events(path)
    try:
        return _read(path, structures, events)
    except BaseException:
        events.close()  # the file is closed now, not when the generator is collected
        raise


def _read(
    path: Path, structures: Any, events: Iterator[tuple[str, Any]]
) -> tuple[Iterator[Row], list[str], str | None, str]:
    kind, version, header = _head(path, events)
    generic = kind.startswith("Generic")
    fmt = f"sdmx-ml-{version}-{'generic' if generic else 'ss'}"
    dims = _dsd_dimensions(structures, header)
    if not generic and dims is None:
        which = header.dataflow or header.dsd
        raise FormatError(
            N_(
                "the file is structure-specific SDMX-ML {version}, whose series do not say which "
                "fields are dimensions; the DSD of {dataflow} says so, and the structures do not know it"
            ),
            fix=N_(
                "Import the dataflow and its DSD with 'cgd-bridge structures import FILE|URL', then "
                "audit again; or audit a generic SDMX-ML, SDMX-JSON or SDMX-CSV copy."
            ),
            file=path.name,
            params={
                "version": version,
                "dataflow": which or msg(N_("its dataflow (the header names none)")),
            },
        )
    if generic:
        # without the DSD, the dimensions are the ids the keys name, learnt as the rows are read
        seen: list[str] = []
        return _generic_rows(events, header, seen), (seen if dims is None else dims), header.dataflow, fmt
    return _specific_rows(events), list(dims or []), header.dataflow, fmt


def _head(path: Path, events: Iterator[tuple[str, Any]]) -> tuple[str, str, _Header]:
    """The message's kind and version (from its root) and its header, read up to the data."""
    root = None
    kind = version = ""
    header = _Header()
    for event, element in events:
        if event == "start" and root is None:
            root = element
            kind, version = _local(element.tag), _version(element.tag)
            if kind not in _DATA_MESSAGES:
                raise FormatError(
                    N_("the file is {what}, not an SDMX-ML data message"),
                    fix=_FIX,
                    file=path.name,
                    params={"what": _kind_of(kind, version)},
                )
            continue
        parent = element.getparent()
        if event == "end" and _local(element.tag) == "Structure" and parent is not None:
            if _local(parent.tag) == "Header":
                _structure(element, header)
        if (event == "end" and _local(element.tag) == "Header") or _local(element.tag) == "DataSet":
            break  # (a message without a header is read without its first data set's attributes)
    if root is None:
        raise InputError(
            N_("the file is empty"),
            fix=N_("Give an SDMX data file (SDMX-CSV, SDMX-ML or SDMX-JSON) with observations."),
            file=path.name,
        )
    return kind, version, header


def _structure(element: Any, header: _Header) -> None:
    header.at_observation = element.get("dimensionAtObservation") or TIME
    for child in element:
        name = _local(child.tag)
        if name == "StructureUsage":
            header.dataflow = _ref(child)
        elif name == "Structure":
            header.dsd = _ref(child)


def _events(path: Path) -> Generator[tuple[str, Any], None, None]:
    try:
        with path.open("rb") as f:
            parser = etree.iterparse(
                f, events=("start", "end"), resolve_entities=False, no_network=True,
                huge_tree=False, load_dtd=False, remove_comments=True,
            )  # fmt: skip
            yield from parser
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(
            N_("the file is not well-formed XML ({reason}): it was cut off in transfer or is not XML"),
            fix=N_(
                "Download or write the file again (cgd-bridge convert --to sdmx-ml-3.0-ss), then audit it."
            ),
            file=path.name,
            row=line,
            params={"reason": exc.msg},
        ) from None
    except OSError as exc:
        raise InputError(
            N_("the file cannot be read ({reason})"),
            fix=N_("Check the path and the file name."),
            file=path.name,
            params={"reason": exc.strerror or str(exc)},
        ) from None


def _kind_of(kind: str, version: str) -> dict[str, Any]:
    """What an XML document that is no SDMX-ML data message is, as a composed message."""
    named = {
        "Structure": N_("structure message (structures, no observations)"),
        "Error": N_("error message"),
        "GenericMetadata": N_("metadata message"),
        "StructureSpecificMetadata": N_("metadata message"),
        "MetadataMessage": N_("metadata message"),
    }
    what = msg(named[kind]) if kind in named else msg(N_("'{kind}' message"), kind=kind)
    if version:
        return msg(N_("an SDMX-ML {version} {what}"), version=version, what=what)
    return msg(N_("XML ({kind}), not SDMX-ML"), kind=kind)


def _dsd_dimensions(structures: Any, header: _Header) -> list[str] | None:
    """The DSD's dimension ids in key order (without TIME_PERIOD), when the structures know it."""
    if structures is None:
        return None
    from cgd_bridge.sdmx.refs import parse_ref

    try:
        if header.dataflow:
            agency, ident, version = parse_ref(header.dataflow)
            flow = structures.dataflow(ident, agency, version)
            ref = flow.structure
            dsd = structures.dsd(
                ref.id, ref.maintainer.id if ref.maintainer else None, ref.version and str(ref.version)
            )
        elif header.dsd:
            agency, ident, version = parse_ref(header.dsd)
            dsd = structures.dsd(ident, agency, version)
        else:
            return None
        return [str(d.id) for d in dsd.dimensions.components if str(d.id) != TIME]
    except (CgdBridgeError, AttributeError, KeyError, ValueError):
        return None


def _fields(element: Any) -> Row:
    """A structure-specific element's unqualified XML attributes and SDMX-ML 3.0 ``Comp`` values."""
    out: Row = {k: v for k, v in element.attrib.items() if "}" not in k}
    for comp in element:
        if _local(comp.tag) == "Comp" and comp.get("id"):
            out[comp.get("id")] = ";".join((v.text or "").strip() for v in comp if _local(v.tag) == "Value")
    return out


def _drop(element: Any) -> None:
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _specific_rows(events: Iterator[tuple[str, Any]]) -> Iterator[Row]:
    dataset: Row = {}
    series: Row = {}
    for event, element in events:
        name = _local(element.tag)
        if event == "start":
            if name == "DataSet":
                dataset = {
                    k: v for k, v in element.attrib.items() if "}" not in k and k not in _DATASET_FIELDS
                }
            elif name == "Series":
                series = {k: v for k, v in element.attrib.items() if "}" not in k}
            continue
        if name == "Obs":
            yield {**dataset, **series, **_fields(element)}
            _drop(element)
        elif name == "Series":
            series = {}
            _drop(element)
        elif name == "Group":
            _drop(element)


def _values(element: Any) -> Row:
    return {v.get("id"): v.get("value") for v in element if _local(v.tag) == "Value" and v.get("id")}


def _generic_rows(events: Iterator[tuple[str, Any]], header: _Header, seen: list[str]) -> Iterator[Row]:
    key: Row = {}
    attrs: Row = {}

    def learn(ids: Row) -> Row:
        seen.extend(i for i in ids if i not in seen and i != TIME)
        return ids

    for event, element in events:
        if event != "end":
            continue
        name = _local(element.tag)
        parent = _local(element.getparent().tag) if element.getparent() is not None else ""
        if name == "SeriesKey":
            key = learn(_values(element))
        elif name == "Attributes" and parent == "Series":
            attrs = _values(element)
        elif name == "Obs":
            yield _generic_obs(element, {**key, **attrs}, header, learn)
            _drop(element)
        elif name == "Series":
            key, attrs = {}, {}
            _drop(element)
        elif name == "Group":
            _drop(element)


def _generic_obs(element: Any, row: Row, header: _Header, learn: Callable[[Row], Row]) -> Row:
    """A generic ``Obs``: its key (``ObsKey`` or ``ObsDimension``), value and attributes."""
    for child in element:
        part = _local(child.tag)
        if part == "ObsKey":
            row.update(learn(_values(child)))
        elif part == "ObsDimension":
            row[header.at_observation] = child.get("value")
            learn({header.at_observation: None})
        elif part == "ObsValue":
            row["OBS_VALUE"] = child.get("value")
        elif part == "Attributes":
            row.update(_values(child))
    return row
