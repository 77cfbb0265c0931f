"""Content negotiation for SDMX REST: ``Accept`` (with ``version=``, ``q=``, semver ``+``) and ``format=``.

Each kind of resource has a table of what it can be written as. The first acceptable offer in
the client's order of preference wins; ``*/*`` gets the default of the API version:

========== ===================================== =====================================
kind        v1 (``/sdmx/rest``) ``*/*``            v2 (``/sdmx/v2``) ``*/*``
========== ===================================== =====================================
data        SDMX-ML 2.1 Generic (spec default)     SDMX-ML 3.0 (sdmx1 reads it; it cannot
                                                   read SDMX-JSON 2.0 data, the spec default)
structure   SDMX-ML 2.1                            SDMX-ML 2.1 (sdmx1's v3 client reads it;
                                                   pysdmx asks for SDMX-JSON 2.0 by name)
========== ===================================== =====================================

>>> negotiate("data", "application/vnd.sdmx.data+csv;version=2.0.0", api=1).name
'sdmx-csv-2.0'
"""

from __future__ import annotations

from dataclasses import dataclass

from cgd_bridge.server.sdmx.query import QueryError


@dataclass(frozen=True)
class Offer:
    """One representation: its media type (base + version) and the writer's name."""

    kind: str
    base: str
    version: str | None
    name: str
    labels: str | None = None

    @property
    def media_type(self) -> str:
        return f"{self.base};version={self.version}" if self.version else self.base


_V = "application/vnd.sdmx."
OFFERS: dict[str, list[Offer]] = {
    "data": [
        Offer("data", _V + "genericdata+xml", "2.1", "sdmx-ml-2.1-generic"),
        Offer("data", _V + "structurespecificdata+xml", "2.1", "sdmx-ml-2.1-ss"),
        Offer("data", _V + "data+xml", "3.0.0", "sdmx-ml-3.0-ss"),
        Offer("data", _V + "data+csv", "1.0.0", "sdmx-csv-1.0"),
        Offer("data", _V + "data+csv", "2.0.0", "sdmx-csv-2.0"),
        Offer("data", _V + "data+json", "2.0.0", "sdmx-json-2.0"),
    ],
    "structure": [
        Offer("structure", _V + "structure+xml", "2.1", "sdmx-ml-2.1"),
        Offer("structure", _V + "structure+xml", "3.0.0", "sdmx-ml-3.0"),
        Offer("structure", _V + "structure+json", "2.0.0", "sdmx-json-2.0"),
    ],
    "schema": [
        Offer("schema", _V + "schema+xml", "2.1", "xsd-2.1"),
        Offer("schema", _V + "schema+xml", "3.0.0", "xsd-3.0"),
    ],
    "metadata": [
        Offer("metadata", _V + "genericmetadata+xml", "2.1", "sdmx-ml-2.1-genericmetadata"),
        Offer("metadata", _V + "metadata+xml", "3.0.0", "sdmx-ml-3.0-metadata"),
        Offer("metadata", _V + "metadata+json", "2.0.0", "sdmx-json-2.0-metadata"),
    ],
}
#: Plain media types and what they stand for, per API version (1 or 2).
PLAIN = {
    ("data", 1): {
        "application/xml": "sdmx-ml-2.1-generic",
        "text/xml": "sdmx-ml-2.1-generic",
        "text/csv": "sdmx-csv-1.0",
        "application/json": "sdmx-json-2.0",
    },
    ("data", 2): {
        "application/xml": "sdmx-ml-3.0-ss",
        "text/xml": "sdmx-ml-3.0-ss",
        "text/csv": "sdmx-csv-2.0",
        "application/json": "sdmx-json-2.0",
    },
    ("structure", 1): {
        "application/xml": "sdmx-ml-2.1",
        "text/xml": "sdmx-ml-2.1",
        "application/json": "sdmx-json-2.0",
    },
    ("structure", 2): {
        "application/xml": "sdmx-ml-2.1",
        "text/xml": "sdmx-ml-2.1",
        "application/json": "sdmx-json-2.0",
    },
    ("schema", 1): {"application/xml": "xsd-2.1", "text/xml": "xsd-2.1"},
    ("schema", 2): {"application/xml": "xsd-3.0", "text/xml": "xsd-3.0"},
    ("metadata", 1): {
        "application/xml": "sdmx-ml-2.1-genericmetadata",
        "text/xml": "sdmx-ml-2.1-genericmetadata",
        "application/json": "sdmx-json-2.0-metadata",
    },
    ("metadata", 2): {
        "application/xml": "sdmx-ml-3.0-metadata",
        "text/xml": "sdmx-ml-3.0-metadata",
        "application/json": "sdmx-json-2.0-metadata",
    },
}
DEFAULT = {
    ("data", 1): "sdmx-ml-2.1-generic",
    ("data", 2): "sdmx-ml-3.0-ss",
    ("structure", 1): "sdmx-ml-2.1",
    ("structure", 2): "sdmx-ml-2.1",
    ("schema", 1): "xsd-2.1",
    ("schema", 2): "xsd-3.0",
    ("metadata", 1): "sdmx-ml-2.1-genericmetadata",
    ("metadata", 2): "sdmx-ml-3.0-metadata",
}
#: ``format=`` values: our names, and the ones .Stat Suite and other servers use.
FORMAT_ALIASES = {
    "data": {
        "genericdata": "sdmx-ml-2.1-generic",
        "generic": "sdmx-ml-2.1-generic",
        "structurespecificdata": "sdmx-ml-2.1-ss",
        "structurespecific": "sdmx-ml-2.1-ss",
        "sdmx-ml": None,
        "xml": None,
        "csv": None,
        "csvfile": None,
        "sdmx-csv": None,
        "csvfilewithlabels": None,
        "jsondata": "sdmx-json-2.0",
        "json": "sdmx-json-2.0",
        "sdmx-json": "sdmx-json-2.0",
    },
    "structure": {
        "structure": "sdmx-ml-2.1",
        "xml": "sdmx-ml-2.1",
        "sdmx-ml": "sdmx-ml-2.1",
        "json": "sdmx-json-2.0",
        "sdmx-json": "sdmx-json-2.0",
    },
    "metadata": {
        "genericmetadata": "sdmx-ml-2.1-genericmetadata",
        "xml": None,
        "json": "sdmx-json-2.0-metadata",
    },
    "schema": {"xml": None, "xsd": None},
}


@dataclass(frozen=True)
class Choice:
    """The negotiated representation: writer name, media type to answer with, labels option."""

    name: str
    media_type: str
    labels: str = "id"


def _by_name(kind: str, name: str) -> Offer:
    for offer in OFFERS[kind]:
        if offer.name == name:
            return offer
    raise KeyError(name)


def _choice(kind: str, name: str, labels: str | None = None) -> Choice:
    offer = _by_name(kind, name)
    media = offer.media_type
    if labels and offer.name.startswith("sdmx-csv") and labels != "id":
        media += f";labels={labels}"
    return Choice(offer.name, media, labels or "id")


def parse_accept(header: str | None) -> list[tuple[str, dict[str, str], float]]:
    """``Accept`` as (media type, parameters, q) in order of preference (stable for equal q)."""
    if not header or not header.strip():
        return [("*/*", {}, 1.0)]
    items = []
    for n, part in enumerate(header.split(",")):
        bits = [b.strip() for b in part.split(";") if b.strip()]
        if not bits:
            continue
        media = bits[0].lower()
        params = {}
        for b in bits[1:]:
            k, _, v = b.partition("=")
            params[k.strip().lower()] = v.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        items.append((media, params, q, n))
    items.sort(key=lambda t: (-t[2], t[3]))
    return [(m, p, q) for m, p, q, _ in items if q > 0]


def _version_ok(wanted: str | None, offered: str | None) -> bool:
    if wanted is None or offered is None:
        return True
    if wanted.endswith("+"):
        return _semver(offered) >= _semver(wanted[:-1])
    return _semver(wanted) == _semver(offered)


def _semver(text: str) -> tuple[int, ...]:
    parts = [int(p) if p.isdigit() else 0 for p in text.split(".")]
    return tuple([*parts, 0, 0, 0][:3])


def negotiate(
    kind: str, accept: str | None, *, api: int, format_param: str | None = None, labels: str | None = None
) -> Choice:
    """The representation to answer with, or a 406 QueryError listing what is available.

    ``format_param`` (``format=``) wins over ``Accept``; ``labels`` is the ``labels=`` query
    parameter (the Accept header's ``labels=`` parameter is used when it is absent).
    """
    if format_param:
        return _from_format(kind, format_param, api=api, labels=labels)
    for media, params, _ in parse_accept(accept):
        if media in ("*/*", "application/*"):
            return _choice(kind, DEFAULT[(kind, api)], labels)
        plain = PLAIN.get((kind, api), {}).get(media)
        if plain:
            return _choice(kind, plain, labels or params.get("labels"))
        for offer in OFFERS[kind]:
            if offer.base == media and _version_ok(params.get("version"), offer.version):
                return _choice(kind, offer.name, labels or params.get("labels"))
    available = ", ".join(o.media_type for o in OFFERS[kind])
    raise QueryError(
        f"none of the requested representations ({accept}) is available for {kind}",
        fix=f"Ask for one of: {available}.",
        status=406,
    )


def _from_format(kind: str, value: str, *, api: int, labels: str | None) -> Choice:
    key = value.strip().lower()
    names = {o.name for o in OFFERS[kind]}
    if key in names:
        return _choice(kind, key, labels)
    aliases = FORMAT_ALIASES.get(kind, {})
    if key in aliases:
        name = aliases[key]
        if name is None:  # a family: take the API version's default of that family
            family = "csv" if "csv" in key else "xml"
            name = PLAIN[(kind, api)]["text/csv" if family == "csv" else "application/xml"]
            if key == "csvfilewithlabels":
                labels = labels or "both"
        return _choice(kind, name, labels)
    raise QueryError(
        f"format={value} is not available for {kind}",
        fix=f"Use one of: {', '.join(sorted(names | set(aliases)))}.",
        status=406,
    )


def error_format(accept: str | None, format_param: str | None = None) -> str:
    """``json`` when the client prefers JSON, else ``xml`` (SDMX-ML 2.1 error message)."""
    if format_param and "json" in format_param.lower():
        return "json"
    for media, _, _ in parse_accept(accept):
        if "json" in media:
            return "json"
        if "xml" in media or media in ("*/*", "application/*") or "csv" in media:
            return "xml"
    return "xml"
