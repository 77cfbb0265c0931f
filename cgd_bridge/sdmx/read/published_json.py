"""SDMX-JSON 1.0 and 2.0 data messages as a reader has them, for the disclosure audit.

The file is read twice with ijson's streaming parser, so memory holds one series at a time and
never the whole document: the first pass keeps the message's ``structure`` (1.0) or
``structures`` (2.0), which say what every position means and may come after the data (OECD
writes ``dataSets`` first), and notes what kind of message it is; the second pass reads the
observations series by series (or one by one in a flat message) into rows of text.

Both versions are self-describing: dimensions at data-set, series and observation level (the
key order is each dimension's ``keyPosition``), attributes at the same levels, observations
``[value, attribute positions...]`` (2.0: a value per measure first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from cgd_bridge.errors import FormatError, InputError
from cgd_bridge.i18n import N_, msg, num

TIME = "TIME_PERIOD"
_STRUCTURE_PREFIXES = {"structure": "1.0", "data.structure": "1.0", "data.structures.item": "2.0"}
_DATASET_PREFIXES = ("dataSets", "data.dataSets")
#: bytes ijson reads at a time: the events of one buffer are held at once (16 KiB: about 0.5 MB)
_BUFFER = 16_384
_FIX = N_(
    "Give the SDMX-JSON data message as cgd-bridge convert --to sdmx-json-2.0 or the server "
    "(format=jsondata) writes it, or an SDMX-CSV or SDMX-ML copy of the data."
)

Row = dict[str, str | None]


class _Message:
    """What the first pass learns: the structure, the version and the data sets' layout."""

    def __init__(self) -> None:
        self.structures: list[dict[str, Any]] = []
        self.version = ""
        self.datasets = ""  # the prefix of the dataSets array
        self.top: list[str] = []  # the keys of the document and of its "data"
        self.actions: list[str] = []
        self.dataset_attributes: list[list[int | None]] = []
        self.has_series = False
        self.has_observations = False


def read_json(path: Path) -> tuple[Iterator[Row], list[str], str | None, str]:
    """The rows of an SDMX-JSON data message, its dimension ids in key order, its dataflow
    (``AGENCY:ID(VERSION)`` or None) and its format id (``sdmx-json-1.0`` or ``sdmx-json-2.0``).

    Raises:
        InputError: the file is not complete, well-formed JSON.
        FormatError: it is JSON but not an SDMX-JSON data message (a structure or metadata
            message, an error message, a message that deletes data), or its positions point at
            nothing.
    """
    msg = _first_pass(path)
    if not msg.structures or not msg.datasets:
        raise FormatError(
            N_("the file is {what}, not an SDMX-JSON data message"),
            fix=_FIX,
            file=path.name,
            params={"what": _kind_of(msg.top)},
        )
    if len(msg.structures) > 1:
        raise FormatError(
            N_("the file holds data sets of {n} structures; the audit reads one table"),
            fix=N_("Give each dataflow's data in a message of its own."),
            file=path.name,
            params={"n": num(len(msg.structures))},
        )
    if any(a.lower() == "delete" for a in msg.actions):
        raise FormatError(
            N_("the file is a message that deletes observations (action Delete): it publishes none"),
            fix=N_("Give the data message that publishes the observations."),
            file=path.name,
        )
    structure = msg.structures[0]
    layout = _Layout(structure, path.name)
    fixed: Row = {**layout.dataset_dimensions()}
    if len(msg.dataset_attributes) == 1:
        fixed.update(layout.attributes("dataSet", msg.dataset_attributes[0]))
    fmt = f"sdmx-json-{msg.version}"
    return _rows(path, msg, layout, fixed), layout.dimension_ids(), _dataflow(structure), fmt


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(
            N_("the file cannot be read ({reason})"),
            fix=N_("Check the path and the file name."),
            file=path.name,
            params={"reason": exc.strerror or type(exc).__name__},
        ) from exc


def _broken(path: Path, exc: Exception) -> InputError:
    said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(
        N_(
            "the file is not complete, well-formed JSON ({reason}): it was cut off in transfer or is not JSON"
        ),
        fix=N_("Download or write the file again (cgd-bridge convert --to sdmx-json-2.0), then audit it."),
        file=path.name,
        params={"reason": said},
    )


def _first_pass(path: Path) -> _Message:
    msg = _Message()
    builder: Any = None
    depth = 0
    with _open(path) as f:
        try:
            for prefix, event, value in ijson.parse(f, buf_size=_BUFFER, use_float=True):
                if builder is not None:
                    builder.event(event, value)
                    depth += event in ("start_map", "start_array")
                    depth -= event in ("end_map", "end_array")
                    if depth == 0:
                        msg.structures.append(builder.value)
                        builder = None
                elif event == "start_map" and prefix in _STRUCTURE_PREFIXES:
                    msg.version = _STRUCTURE_PREFIXES[prefix]
                    builder, depth = ijson.ObjectBuilder(), 1
                    builder.event(event, value)
                else:
                    _note(msg, prefix, event, value)
        except ijson.JSONError as exc:
            raise _broken(path, exc) from None
    return msg


def _note(msg: _Message, prefix: str, event: str, value: Any) -> None:
    """What the first pass keeps of an event outside the structure."""
    if event == "map_key" and prefix in ("", "data"):
        msg.top.append(f"{prefix}.{value}" if prefix else str(value))
    for ds in _DATASET_PREFIXES:
        if not prefix.startswith(ds):
            continue
        if prefix == ds and event == "start_array":
            msg.datasets = ds
        elif prefix == f"{ds}.item" and event == "start_map":
            msg.dataset_attributes.append([])
        elif prefix == f"{ds}.item.action" and event == "string":
            msg.actions.append(str(value))
        elif prefix == f"{ds}.item.attributes.item" and event in ("number", "null"):
            msg.dataset_attributes[-1].append(None if value is None else int(value))
        elif prefix == f"{ds}.item" and event == "map_key":
            msg.has_series |= value == "series"
            msg.has_observations |= value == "observations"


def _kind_of(top: list[str]) -> dict[str, Any]:
    """What a JSON document that is no SDMX-JSON data message is, as a composed message."""
    keys = set(top)
    if "errors" in keys and not ({"dataSets", "data.dataSets"} & keys):
        return msg(N_("an SDMX-JSON error message"))
    if any(
        k in keys for k in ("data.dataStructures", "data.dataflows", "data.codelists", "data.conceptSchemes")
    ):
        return msg(N_("an SDMX-JSON structure message (structures, no observations)"))
    if "data.metadataSets" in keys:
        return msg(N_("an SDMX-JSON metadata message"))
    return msg(N_("JSON without an SDMX data set (no structure and dataSets)"))


def _dataflow(structure: dict[str, Any]) -> str | None:
    for link in structure.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") not in ("dataflow", "self", None):
            continue
        urn = str(link.get("urn") or "")
        found = re.search(r"Dataflow=([^:()]+):([^()]+)\(([^)]+)\)", urn)
        if found:
            return f"{found[1]}:{found[2]}({found[3]})"
        href = re.search(r"/dataflow/([^/]+)/([^/]+)/([^/?]+)", str(link.get("href") or ""))
        if href:
            return f"{href[1]}:{href[2]}({href[3]})"
    return None


def _text(value: Any) -> str | None:
    """A dimension or attribute value as text: its ``id``, or its ``value`` (2.0)."""
    if isinstance(value, dict):
        for key in ("id", "value"):
            if value.get(key) is not None:
                return _text(value[key])
        return None
    if isinstance(value, list):
        return ";".join(t for t in (_text(v) for v in value) if t is not None)
    return None if value is None else str(value)


class _Layout:
    """Positions to codes for one structure."""

    def __init__(self, structure: dict[str, Any], name: str) -> None:
        self.name = name
        dims = structure.get("dimensions") or {}
        attrs = structure.get("attributes") or {}
        self.dims = {level: list(dims.get(level) or []) for level in ("dataSet", "series", "observation")}
        self.attrs = {level: list(attrs.get(level) or []) for level in ("dataSet", "series", "observation")}
        measures = (structure.get("measures") or {}).get("observation") or []
        self.measures = max(len(measures), 1)
        ids = [str(m.get("id")) for m in measures if isinstance(m, dict)]
        self.measure = ids.index("OBS_VALUE") if "OBS_VALUE" in ids else 0

    @staticmethod
    def _id(component: dict[str, Any]) -> str:
        roles = component.get("roles") or [component.get("role")]
        return (
            TIME
            if "time" in {str(r).lower() for r in roles if r} or component.get("id") == TIME
            else str(component["id"])
        )

    def dimension_ids(self) -> list[str]:
        every = [*self.dims["dataSet"], *self.dims["series"], *self.dims["observation"]]
        order = sorted(range(len(every)), key=lambda i: (every[i].get("keyPosition", i), i))
        return [self._id(every[i]) for i in order if self._id(every[i]) != TIME]

    def dataset_dimensions(self) -> Row:
        out: Row = {}
        for d in self.dims["dataSet"]:
            values = d.get("values") or []
            out[self._id(d)] = _text(values[0]) if values else None
        return out

    def key(self, level: str, key: str) -> Row:
        dims = self.dims[level]
        parts = key.split(":") if key else []
        if len(parts) != len(dims):
            raise self._bad(
                msg(
                    N_("the {level} key '{key}' has {positions} positions for {dims} dimensions"),
                    level=level,
                    key=key,
                    positions=num(len(parts)),
                    dims=num(len(dims)),
                )
            )
        return {self._id(d): self._value(d, p, key) for d, p in zip(dims, parts, strict=True)}

    def attributes(self, level: str, positions: list[Any]) -> Row:
        """Attribute values by position; a position that points at no value gives none (OECD
        lists attributes without values and still counts them: the audit reads only the
        status attributes and UNIT_MEASURE, which are never left without values)."""
        out: Row = {}
        for a, p in zip(self.attrs[level], positions, strict=False):
            values = a.get("values") or []
            ok = isinstance(p, int | float) and 0 <= int(p) < len(values)
            out[str(a["id"])] = _text(values[int(p)]) if ok else None
        return out

    def observation(self, key: str, array: list[Any]) -> Row:
        row = self.key("observation", key)
        values = array[: self.measures]
        value = values[self.measure] if self.measure < len(values) else None
        row["OBS_VALUE"] = None if value is None else str(value)
        row.update(self.attributes("observation", array[self.measures :]))
        return row

    def _value(self, component: dict[str, Any], position: Any, where: str) -> str | None:
        values = component.get("values") or []
        try:
            return _text(values[int(position)])
        except (ValueError, IndexError, TypeError):
            raise self._bad(
                msg(
                    N_("position '{position}' of {component} in {where} is not one of its {n} values"),
                    position=str(position),
                    component=str(component.get("id")),
                    where=where,
                    n=num(len(values)),
                )
            ) from None

    def _bad(self, what: dict[str, Any]) -> FormatError:
        """The message does not fit its own structure: ``what`` (a composed message) says where."""
        return FormatError(
            N_("{what}, so the message does not fit its own structure"),
            fix=_FIX,
            file=self.name,
            params={"what": what},
        )


def _rows(path: Path, msg: _Message, layout: _Layout, fixed: Row) -> Iterator[Row]:
    read: list[tuple[str, Callable[[str, Any], Iterator[Row]]]] = []
    if msg.has_series:

        def series(key: str, body: Any) -> Iterator[Row]:
            head = {**fixed, **layout.key("series", key)}
            head.update(layout.attributes("series", body.get("attributes") or []))
            for obs_key, array in (body.get("observations") or {}).items():
                yield {**head, **layout.observation(obs_key, array or [])}

        read.append(("series", series))
    if msg.has_observations:
        read.append(
            ("observations", lambda key, array: iter([{**fixed, **layout.observation(key, array or [])}]))
        )
    for member, rows_of in read:
        with _open(path) as f:
            try:
                for key, body in ijson.kvitems(
                    f, f"{msg.datasets}.item.{member}", buf_size=_BUFFER, use_float=True
                ):
                    yield from rows_of(str(key), body)
            except ijson.JSONError as exc:
                raise _broken(path, exc) from None
