""" "Who pulled my data" in words (#17): a summary by organisation and month, and each pull as a
sentence ("KNBS downloaded Kisumu, 2024, as SDMX-CSV 1.0") instead of its query string.

Everything here is derived from the audit rows (:func:`cgd_bridge.store.audit.pulls_of`): the
query each row keeps says through which door the data went (the dataflow page, a download, the
bundle, the JSON API, SDMX REST), what was selected (codes per dimension, periods) and in which
format. A dataflow page shown to someone is logged like any pull (the CSO sees what was shown),
but a page view is not a download: the summary counts views apart, and the public (no sign-in)
apart from organisations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cgd_bridge.sdmx.formats import FORMATS
from cgd_bridge.server.downloads import EXTRA_FORMATS
from cgd_bridge.store.audit import Pull

#: the doors a pull goes through (``Read.channel``)
PAGE, DOWNLOAD, BUNDLE, SDMX, METADATA, FILE = "page", "download", "bundle", "sdmx", "metadata", "file"
_NOT_CODES = {"format", "labels", "startperiod", "endperiod", "key", "timeformat", "keys", "detail", "by"}
_NOT_CODES |= {"dimensionatobservation", "updatedafter", "attributes", "measures", "includehistory"}

Gettext = Callable[..., str]


@dataclass
class Read:
    """What one pull read, as its query string says.

    Attributes:
        channel: :data:`PAGE` (the dataflow page shown), :data:`DOWNLOAD` (a file from the page
            or the JSON API), :data:`BUNDLE` (the ZIP), :data:`SDMX` (an SDMX REST query),
            :data:`METADATA`, :data:`FILE` (an uploaded file).
        codes: the codes chosen per dimension id (from the page's filters or ``c[DIM]=``).
        key: the codes chosen per key position (an SDMX key), resolved with the dimensions.
        start, end: the periods asked for (empty: not limited).
        format: the format's name (``sdmx-csv-1.0``, ``xlsx``...), None when the ``Accept``
            header chose it.
    """

    channel: str
    codes: dict[str, list[str]] = field(default_factory=dict)
    key: list[list[str]] = field(default_factory=list)
    start: str = ""
    end: str = ""
    format: str | None = None

    def chosen(self, dims: Sequence[str]) -> dict[str, list[str]]:
        """The codes chosen per dimension, the key's positions named by ``dims``."""
        out = {d: list(c) for d, c in self.codes.items() if c}
        for i, codes in enumerate(self.key):
            d = dims[i] if i < len(dims) else f"#{i + 1}"  # dimensions unknown: codes as they are
            if codes:
                out.setdefault(d, []).extend(c for c in codes if c not in out.get(d, []))
        return out


def _period(op_value: str) -> tuple[str, str]:
    """``ge:2020`` -> start, ``le:2024`` -> end, ``2024`` -> both (SDMX REST v2 filters)."""
    out = ("", "")
    for part in op_value.split("+"):
        op, _, value = part.rpartition(":")
        if op in ("ge", "gt"):
            out = (value, out[1])
        elif op in ("le", "lt"):
            out = (out[0], value)
        elif not op:
            out = (value, value)
    return out


def read_of(pull: Pull) -> Read:
    """What ``pull`` read, from its action and query string (never fails: unknown is plain)."""
    if pull.action == "file.downloaded":
        return Read(FILE)
    if pull.action == "metadata.pulled":
        return Read(METADATA)
    query = (pull.query or "").strip()
    page = query.startswith("web ")
    url = urlsplit(query[4:] if page else query)
    path = [unquote(p) for p in url.path.split("/") if p]
    params = parse_qsl(url.query, keep_blank_values=False)
    read = Read(PAGE if page else SDMX)
    if path[:1] == ["dataflows"] or path[:2] == ["api", "dataflows"]:
        tail = path[-1] if len(path) > 4 else ""
        read.channel = BUNDLE if tail == "bundle" else DOWNLOAD if tail == "download" else PAGE
        if len(path) > 5 and path[-2] == "chart":  # a chart of the page as SVG or PNG, its numbers as CSV
            read.channel = DOWNLOAD
            read.format = "chart-" + tail.rpartition(".")[2]
    elif path[:3] == ["sdmx", "rest", "data"] and len(path) > 4:
        read.key = _key(path[4])
    elif path[:4] == ["sdmx", "v2", "data", "dataflow"] and len(path) > 7:
        read.key = _key(path[7])
    for name, value in params:
        _param(read, name, value)
    if read.channel == BUNDLE:
        read.format = "bundle"
    return read


def _param(read: Read, name: str, value: str) -> None:
    """Take one query parameter into ``read`` (format, periods, key, codes)."""
    low = name.lower()
    if low == "format":
        read.format = value
    elif low == "startperiod":
        read.start = value
    elif low == "endperiod":
        read.end = value
    elif low == "key":
        read.key = _key(value)
    elif name.startswith("c[") and name.endswith("]"):
        dim = name[2:-1]
        if dim == "TIME_PERIOD":
            start, end = _period(value)
            read.start, read.end = start or read.start, end or read.end
        else:
            codes = [c.rpartition(":")[2] for c in value.replace("+", ",").split(",")]
            read.codes.setdefault(dim, []).extend(c for c in codes if c)
    elif low not in _NOT_CODES and read.channel in (PAGE, DOWNLOAD, BUNDLE) and value:
        read.codes.setdefault(name, []).append(value)


def _key(text: str) -> list[list[str]]:
    if text in ("", "all", "*"):
        return []
    return [[c for c in part.replace(",", "+").split("+") if c and c != "*"] for part in text.split(".")]


# ---------------------------------------------------------------- in words


def format_words(name: str | None, _: Gettext) -> str:
    """The format's title as people read it; ``""`` when the ``Accept`` header chose it."""
    if name is None:
        return ""
    if name == "bundle":
        return _("one ZIP file (every format, the spreadsheet, the quality metadata)")
    if name == "chart-svg":
        return _("a chart (SVG)")
    if name == "chart-png":
        return _("a chart (PNG)")
    if name == "chart-csv":
        return _("the numbers of a chart (CSV)")
    if name in EXTRA_FORMATS:
        return _(EXTRA_FORMATS[name][0])
    f = FORMATS.get(name)
    return f.title if f is not None else name


def period_words(start: str, end: str, _: Gettext) -> str:
    """``2024``, ``2020 to 2024``, ``from 2020``, ``until 2024`` or ``""``."""
    if start and end:
        return start if start == end else _("{start} to {end}", start=start, end=end)
    if start:
        return _("from {start}", start=start)
    if end:
        return _("until {end}", end=end)
    return ""


def who_words(pull: Pull, _: Gettext) -> str:
    """The organisation's name (or slug), or the public."""
    if pull.organisation is None:
        return _("Someone without an account")
    return pull.organisation_name or pull.organisation


def sentence(
    pull: Pull,
    dims: Sequence[str],
    names: Mapping[str, Mapping[str, str]],
    _: Gettext,
) -> str:
    """One pull in words, e.g. ``KNBS downloaded Kisumu, 2024, as SDMX-CSV 1.0``.

    Args:
        dims: the dataflow's dimension ids in key order (to read an SDMX key); may be empty.
        names: code -> name per dimension (codes without a name are shown as they are).
    """
    who = who_words(pull, _)
    read = read_of(pull)
    if read.channel == FILE:
        return _("{who} downloaded the uploaded file {name}", who=who, name=pull.file or "")
    dataset = pull.dataset or pull.dataflow or ""
    if read.channel == METADATA:
        return _("{who} read the quality metadata of {dataset}", who=who, dataset=dataset)
    parts = [", ".join(names.get(d, {}).get(c, c) for c in codes) for d, codes in read.chosen(dims).items()]
    period = period_words(read.start, read.end, _)
    what = ", ".join([*parts, *([period] if period else [])]) or _("all of {dataset}", dataset=dataset)
    fmt = format_words(read.format, _)
    if read.channel == PAGE:
        return _("{who} viewed {what} on the dataflow page", who=who, what=what)
    if read.channel == SDMX:
        if fmt:
            return _("{who} pulled {what} over SDMX REST, as {format}", who=who, what=what, format=fmt)
        return _("{who} pulled {what} over SDMX REST", who=who, what=what)
    if fmt:
        return _("{who} downloaded {what}, as {format}", who=who, what=what, format=fmt)
    return _("{who} downloaded {what}", who=who, what=what)


# ---------------------------------------------------------------- the summary


@dataclass
class MonthRow:
    """One organisation's (or the public's) pulls in one month.

    Attributes:
        month: ``YYYY-MM`` (UTC).
        who: the organisation's name, None for the public (no sign-in).
        kind: the organisation's kind (``nso``, ``cso``, ``admin``), None for the public.
        downloads: requests that sent data or files (a request reading several versions is one).
        observations: observations those downloads sent.
        views: dataflow pages shown (not downloads).
        metadata: quality-metadata reads.
    """

    month: str
    who: str | None
    kind: str | None
    downloads: int = 0
    observations: int = 0
    views: int = 0
    metadata: int = 0


def requests_of(pulls: Iterable[Pull]) -> list[list[Pull]]:
    """The audit rows grouped per request (one row per version served: same time, who, query)."""
    groups: dict[tuple[Any, ...], list[Pull]] = {}
    for p in pulls:
        key = (p.at, p.username, p.organisation, p.action, p.query, p.file)
        groups.setdefault(key, []).append(p)
    return list(groups.values())


def summarise(pulls: Iterable[Pull]) -> list[MonthRow]:
    """Pulls per month and organisation, newest month first; organisations (by name) before the
    public in each month. A page view counts as a view, never as a download."""
    rows: dict[tuple[str, str | None], MonthRow] = {}
    for group in requests_of(pulls):
        p = group[0]
        month = p.at.strftime("%Y-%m")
        who = (p.organisation_name or p.organisation) if p.organisation else None
        row = rows.setdefault((month, who), MonthRow(month, who, p.organisation_kind if who else None))
        channel = read_of(p).channel
        if channel == PAGE:
            row.views += 1
        elif channel == METADATA:
            row.metadata += 1
        else:
            row.downloads += 1
            row.observations += sum(x.observations or 0 for x in group)
    return sorted(rows.values(), key=lambda r: (_neg(r.month), r.who is None, r.who or ""))


def _neg(month: str) -> tuple[int, int]:
    year, _, m = month.partition("-")
    return (-int(year), -int(m or 0))


# ---------------------------------------------------------------- for the page


@dataclass
class Described:
    """One request of the detail list: when, who, in words, how many observations."""

    pull: Pull
    words: str
    observations: int
    view: bool


def describe_all(pulls: Sequence[Pull], bridge: Any, _: Gettext) -> list[Described]:
    """Every request among ``pulls`` in words, newest first, codes named from the structures."""
    from cgd_bridge.errors import CgdBridgeError
    from cgd_bridge.sdmx.refs import FlowRef, parse_ref
    from cgd_bridge.server.sdmx import service
    from cgd_bridge.server.web.views import flow_names

    groups = requests_of(pulls)
    chosen: dict[str, dict[str, set[str]]] = {}
    dims_of: dict[str, list[str]] = {}
    for group in groups:
        ref = group[0].dataflow
        if ref is None:
            continue
        if ref not in dims_of:
            try:
                agency, ident, version = parse_ref(ref)
                flow = service.find_flow(bridge, FlowRef(agency or "", ident, version or ""))
                dims_of[ref] = list(flow.dimensions)
            except CgdBridgeError:
                dims_of[ref] = []
        for d, codes in read_of(group[0]).chosen(dims_of[ref]).items():
            chosen.setdefault(ref, {}).setdefault(d, set()).update(codes)
    names: dict[str, dict[str, dict[str, str]]] = {}
    for ref, cube in chosen.items():
        agency, ident, version = parse_ref(ref)
        dims = dims_of.get(ref) or sorted(cube)
        cube_codes = {d: sorted(c) for d, c in cube.items()}
        names[ref] = flow_names(bridge.structures, agency or "", ident, version or "", dims, cube_codes).codes
    return [
        Described(
            g[0],
            sentence(g[0], dims_of.get(g[0].dataflow or "", []), names.get(g[0].dataflow or "", {}), _),
            sum(x.observations or 0 for x in g),
            read_of(g[0]).channel == PAGE,
        )
        for g in groups
    ]
