"""Content negotiation for SDMX REST: ``Accept`` (with ``version=``, ``q=``, semver ``+``) and ``format=``.

What each kind of resource can be written as, the plain media types and ``format=`` aliases and
the default of each API version are facts of the format table, :mod:`cgd_bridge.sdmx.formats`;
this module is the algorithm. The first acceptable offer in the client's order of preference
wins; ``*/*`` gets the default of the API version:

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

from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.formats import (
    FAMILY_ALIASES,
    FAMILY_MEDIA,
    Format,
    default_format,
    format_of,
    formats,
    plain_format,
)
from cgd_bridge.server.sdmx.query import CSV_OPTIONS, QueryError, check_csv_option, text_cache


def _plain(kind: str, media: str, api: int) -> Format | None:
    """The format a plain media type (``application/xml``, ``text/csv``, ...) stands for."""
    family = next((fam for fam, types in FAMILY_MEDIA.items() if media in types), None)
    return plain_format(kind, family, api) if family else None


@dataclass(frozen=True)
class Choice:
    """The negotiated representation: writer name, media type to answer with, and the SDMX-CSV
    options (``labels``, ``timeFormat``, ``keys``) from the query or the ``Accept`` header."""

    name: str
    media_type: str
    labels: str = "id"
    time_format: str = "original"
    keys: str = "none"


def _choice(
    kind: str, name: str, labels: str | None = None, csv: dict[str, str | None] | None = None
) -> Choice:
    """The choice of ``name``; ``csv`` holds ``timeformat`` and ``keys`` (None: the default).
    Options other than the defaults are named in the answer's media type, as ``labels`` is."""
    fmt = format_of(kind, name)
    media = fmt.media_type
    if labels and len(fmt.labels) > 1 and labels != "id":
        media += f";labels={labels}"
    time_format = (csv or {}).get("timeformat") or "original"
    keys = (csv or {}).get("keys") or "none"
    if fmt.family == "csv":
        media += f";timeFormat={time_format}" if time_format != "original" else ""
        media += f";keys={keys}" if keys != "none" else ""
    return Choice(fmt.name, media, labels or "id", time_format, keys)


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


@text_cache(maxsize=1024)  # a pure function of its arguments
def negotiate(
    kind: str,
    accept: str | None,
    *,
    api: int,
    format_param: str | None = None,
    labels: str | None = None,
    time_format: str | None = None,
    keys: str | None = None,
) -> Choice:
    """The representation to answer with, or a 406 QueryError listing what is available.

    ``format_param`` (``format=``) wins over ``Accept``; ``labels``, ``time_format`` and ``keys``
    are the query parameters (the Accept header's ``labels=``, ``timeFormat=`` and ``keys=``
    parameters are used when they are absent).
    """
    query = {"timeformat": time_format, "keys": keys}
    if format_param:
        return _from_format(kind, format_param, api=api, labels=labels, csv=query)
    for media, params, _ in parse_accept(accept):
        csv = {option: query[option] or params.get(option) for option in CSV_OPTIONS}
        for option, value in csv.items():  # SDMX-CSV's timeFormat= and keys= media type parameters
            if value is not None:
                check_csv_option(option, value)
        if media in ("*/*", "application/*"):
            return _choice(kind, default_format(kind, api).name, labels, csv)
        plain = _plain(kind, media, api)
        if plain:
            return _choice(kind, plain.name, labels or params.get("labels"), csv)
        for offer in formats(kind):
            if offer.base == media and _version_ok(params.get("version"), offer.version):
                return _choice(kind, offer.name, labels or params.get("labels"), csv)
    available = ", ".join(o.media_type for o in formats(kind))
    raise QueryError(
        N_("none of the requested representations ({accept}) is available for {kind}"),
        fix=N_("Ask for one of: {available}."),
        status=406,
        params={"accept": accept, "kind": kind, "available": available},
    )


def _from_format(
    kind: str, value: str, *, api: int, labels: str | None, csv: dict[str, str | None]
) -> Choice:
    key = value.strip().lower()
    offers = formats(kind)
    names = {o.name for o in offers}
    if key in names:
        return _choice(kind, key, labels, csv)
    for offer in offers:
        if key in offer.aliases:
            return _choice(kind, offer.name, labels, csv)
    families = FAMILY_ALIASES.get(kind, {})
    if key in families:  # a family: take the API version's format of that family
        family, implied = families[key]
        fmt = plain_format(kind, family, api)
        if fmt is not None:
            return _choice(kind, fmt.name, labels or implied, csv)
    aliases = {a for o in offers for a in o.aliases} | set(families)
    raise QueryError(
        N_("format={value} is not available for {kind}"),
        fix=N_("Use one of: {names}."),
        status=406,
        params={"value": value, "kind": kind, "names": ", ".join(sorted(names | aliases))},
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
