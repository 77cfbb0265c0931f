"""SDMX REST queries as data: flow references, keys, component filters and the raw query string.

Nothing here knows HTTP or the database; the routes hand in path segments and the raw query
string, and get back plain objects, or a :class:`QueryError` whose ``status`` is the HTTP
status (400 for bad syntax, 501 for what is not implemented).

Real clients are quirky, and these parsers follow what they send (../shared/notes/sdmx-interop.md):

- the raw query string is decoded by hand, because ``+`` is an operator inside ``c[...]``
  (AND) and pysdmx sends ``updatedAfter=2024-01-01T00:00:00+00:00`` unencoded: standard
  form decoding turns both into spaces;
- sdmx1 spells ``updatedAfter`` as ``updateAfter`` on v2 paths, and sends Python booleans
  (``includeHistory=True``);
- ``%2A`` is ``*``, and ``all``/``latest``/``*``/``+``/``~`` are wildcards.

>>> parse_flow_ref("IAEG-SDGs,DF_SDG_GLH,latest")
FlowRef(agency='IAEG-SDGs', id='DF_SDG_GLH', version=None)
>>> parse_v1_key("KE+UG.F.", 3)
[frozenset({'KE', 'UG'}), frozenset({'F'}), None]
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar
from urllib.parse import unquote

from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.refs import FlowRef

WILDCARDS = frozenset({"all", "*", "%2A", "%2a"})
LATEST = frozenset({"latest", "+", "~", "*", "all", "%2A", "%2a"})
_ID = re.compile(r"^[A-Za-z0-9_@$\-]+(\.[A-Za-z0-9_@$\-]+)*$")
_CODE = re.compile(r"^[A-Za-z0-9_@$\-]+$")

P = ParamSpec("P")
R = TypeVar("R")

#: The longest request text (a key, a flowRef, an Accept header) :class:`TextCache` keeps the
#: answer of: a full 15-dimension series key or a client's Accept header is well under it.
TEXT_CACHE_LONGEST = 256


class TextCache(Generic[P, R]):
    """``fn`` (a pure function of request texts) with its answers kept for short texts only.

    The caller chooses the request text, so a cache keyed on any text is a store the size of
    what callers send: 4,096 distinct 12,000-character keys of ``A+B+C+...`` once kept 447 MiB
    of parsed code sets. Calls with a ``str`` argument longer than ``longest`` are computed
    each time (a long text costs its parse anyway); the others are kept, at most ``maxsize``
    of them (least recently used first out). Errors are raised each time, never kept.

    >>> twice = TextCache(lambda text: text * 2, maxsize=2, longest=3)
    >>> twice("ab"), twice("ab"), twice("abcd")
    ('abab', 'abab', 'abcdabcd')
    >>> twice.cache_info().hits, twice.cache_info().currsize
    (1, 1)
    """

    def __init__(self, fn: Callable[P, R], *, maxsize: int, longest: int = TEXT_CACHE_LONGEST) -> None:
        self._fn = fn
        cached = functools.lru_cache(maxsize=maxsize)(fn)
        self._cached: Callable[..., R] = cached
        self._longest = longest
        self.cache_info = cached.cache_info
        self.cache_clear = cached.cache_clear
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        longest = self._longest
        for value in (*args, *kwargs.values()):
            if isinstance(value, str) and len(value) > longest:
                return self._fn(*args, **kwargs)
        return self._cached(*args, **kwargs)


def text_cache(*, maxsize: int) -> Callable[[Callable[P, R]], TextCache[P, R]]:
    """:class:`TextCache` as a decorator."""

    def wrap(fn: Callable[P, R]) -> TextCache[P, R]:
        return TextCache(fn, maxsize=maxsize)

    return wrap


class QueryError(CgdBridgeError):
    """A malformed or unsupported SDMX REST query.

    ``sdmx_code`` is the SDMX error code (140 syntax error, 100 no results, 501 not implemented,
    150 semantic error, 130 too large, 110 unauthorised); ``status`` the HTTP status.
    """

    status = 400
    title = N_("Bad SDMX query")
    sdmx_code = 140

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None = None,
        status: int = 400,
        sdmx_code: int | None = None,
        params: dict[str, Any] | None = None,
    ):
        super().__init__(problem, fix=fix, params=params)
        self.status = status
        self.sdmx_code = (
            sdmx_code
            if sdmx_code is not None
            else {400: 140, 404: 100, 406: 1406, 501: 501, 413: 130, 401: 110, 403: 150}.get(status, 500)
        )


def not_implemented(what: str) -> QueryError:
    """A 501 for a standard SDMX REST feature this server does not offer."""
    return QueryError(
        N_("{what} is not implemented by this server"),
        fix=N_("See docs/server.md for the SDMX REST resources cgd-bridge answers."),
        status=501,
        params={"what": what},
    )


def _clean(segment: str) -> str:
    return unquote(segment).strip()


def _check_id(text: str, what: str) -> str:
    if not _ID.match(text):
        raise QueryError(
            N_("'{text}' is not a valid {what}"),
            fix=N_("An SDMX {what} has only letters, digits, '_', '-', '@', '$' and '.'."),
            params={"text": text, "what": what},
        )
    return text


@text_cache(maxsize=1024)  # a pure function of the path segment
def parse_flow_ref(text: str) -> FlowRef:
    """A v1 ``flowRef``: ``ID``, ``AGENCY,ID`` or ``AGENCY,ID,VERSION`` (``all``/``latest`` wildcards).

    >>> parse_flow_ref("DF_CGD_KE")
    FlowRef(agency=None, id='DF_CGD_KE', version=None)
    >>> parse_flow_ref("CGD_BRIDGE,DF_CGD_KE,1.0")
    FlowRef(agency='CGD_BRIDGE', id='DF_CGD_KE', version='1.0')
    """
    parts = [_clean(p) for p in _clean(text).split(",")]
    if not parts or len(parts) > 3 or any(p == "" for p in parts):
        raise QueryError(
            N_("'{text}' is not a dataflow reference"),
            fix=N_("Use ID, AGENCY,ID or AGENCY,ID,VERSION, e.g. IAEG-SDGs,DF_SDG_GLH,1.5."),
            params={"text": text},
        )
    if len(parts) == 1:
        return FlowRef(None, _one(parts[0], "dataflow id"), None)
    if len(parts) == 2:
        return FlowRef(_any(parts[0], "agency id"), _one(parts[1], "dataflow id"), None)
    return FlowRef(_any(parts[0], "agency id"), _one(parts[1], "dataflow id"), _version(parts[2]))


def parse_path_ref(agency: str, id_: str, version: str) -> FlowRef:
    """Three path segments (v1 structure and v2 paths): wildcards become None."""
    return FlowRef(
        _any(_clean(agency), "agency id"), _any(_clean(id_), "artefact id"), _version(_clean(version))
    )


def _one(text: str, what: str) -> str | None:
    return None if text in WILDCARDS else _check_id(text, what)


def _any(text: str, what: str) -> str | None:
    return None if text in WILDCARDS else _check_id(text, what)


def _version(text: str) -> str | None:
    if text in LATEST:
        return None
    if "," in text:
        raise not_implemented("Asking for several versions at once")
    if not re.match(r"^[0-9]+(\.[0-9]+){0,2}(-[A-Za-z0-9.]+)?$", text):
        if re.match(r"^[0-9]+(\.[0-9]+\+?|\+)", text):
            raise not_implemented(f"The semantic-version wildcard '{text}'")
        raise QueryError(
            N_("'{text}' is not a version"),
            fix=N_("Use e.g. 1.0, 1.5.0, latest or ~."),
            params={"text": text},
        )
    return text


# -- keys ----------------------------------------------------------------------------------------

KeyFilter = list[frozenset[str] | None]  # allowed codes per dimension (None: any)


def parse_v1_key(text: str, n_dims: int) -> KeyFilter:
    """A v1 key: codes per dimension joined by ``.``, ``+`` for OR, empty for any; ``all`` for all.

    >>> parse_v1_key("all", 2)
    [None, None]
    """
    text = _clean(text)
    if text in ("", "all", "*"):
        return [None] * n_dims
    parts = text.split(".")
    if len(parts) != n_dims:
        raise QueryError(
            N_("the key '{text}' has {count_parts} part(s), but the dataflow has {n_dims} dimensions"),
            fix=N_("Give {n_dims} dimension values separated by '.', leaving a part empty for 'any'."),
            params={"text": text, "count_parts": len(parts), "n_dims": n_dims},
        )
    out: KeyFilter = []
    for part in parts:
        if part in ("", "*"):
            out.append(None)
            continue
        codes = [c.strip() for c in part.replace(" ", "+").split("+")]
        for c in codes:
            if not _CODE.match(c):
                raise QueryError(
                    N_("'{c}' in the key '{text}' is not a code"),
                    fix=N_("Codes have letters, digits, '_', '-'."),
                    params={"c": c, "text": text},
                )
        out.append(frozenset(codes))
    return out


def parse_v2_keys(text: str, n_dims: int) -> list[KeyFilter]:
    """v2 keys: ``,`` separates alternative keys, ``*`` is any; omitted trailing dimensions are any.

    >>> parse_v2_keys("A.*.F,M", 3)
    [[frozenset({'A'}), None, frozenset({'F'})], [frozenset({'M'}), None, None]]
    """
    text = _clean(text)
    if text in ("", "*", "all"):
        return [[None] * n_dims]
    keys: list[KeyFilter] = []
    for key in text.split(","):
        parts = key.split(".")
        if len(parts) > n_dims:
            raise QueryError(
                N_("the key '{key}' has {count_parts} parts, but the dataflow has {n_dims} dimensions"),
                fix=N_("Give at most {n_dims} dimension values separated by '.', '*' for any."),
                params={"key": key, "count_parts": len(parts), "n_dims": n_dims},
            )
        one: KeyFilter = []
        for part in parts:
            if part in ("", "*"):
                one.append(None)
            elif _CODE.match(part):
                one.append(frozenset({part}))
            else:
                raise QueryError(
                    N_("'{part}' in the key '{key}' is not a code"),
                    fix=N_("In v2 keys use one code per dimension, '*' for any, and ',' between whole keys."),
                    params={"part": part, "key": key},
                )
        keys.append(one + [None] * (n_dims - len(one)))
    return keys


# -- component filters (v2 c[...]) ----------------------------------------------------------------

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "co", "nc", "sw", "ew")


@dataclass(frozen=True)
class FilterCondition:
    """One ``op:value`` of a component filter."""

    op: str
    value: str


@dataclass
class ComponentFilter:
    """``c[COMP]=...``: a list of alternatives (``,``) of conjunctions (``+``) of conditions."""

    component: str
    alternatives: list[list[FilterCondition]] = field(default_factory=list)


def parse_component_filter(component: str, text: str) -> ComponentFilter:
    """``c[TIME_PERIOD]=ge:2020+le:2023`` or ``c[SEX]=F,M``.

    >>> parse_component_filter("SEX", "F,ne:M").alternatives
    [[FilterCondition(op='eq', value='F')], [FilterCondition(op='ne', value='M')]]
    """
    if not _ID.match(component):
        raise QueryError(
            N_("'c[{component}]' does not name a component"),
            fix=N_("Use c[DIMENSION_ID]=code."),
            params={"component": component},
        )
    out = ComponentFilter(component)
    for alternative in text.split(","):
        conds = []
        for term in alternative.split("+"):
            term = term.strip()
            if not term:
                raise QueryError(
                    N_("c[{component}]={text} has an empty condition"),
                    fix=N_("Remove the extra ',' or '+'."),
                    params={"component": component, "text": text},
                )
            op, sep, value = term.partition(":")
            if not sep or op not in OPERATORS:
                op, value = "eq", term
            conds.append(FilterCondition(op, value))
        out.alternatives.append(conds)
    return out


# -- the query string ------------------------------------------------------------------------------

_DETAIL = ("full", "dataonly", "serieskeysonly", "nodata")
_STRUCTURE_DETAIL = (
    "full",
    "allstubs",
    "referencestubs",
    "allcompletestubs",
    "referencecompletestubs",
    "referencepartial",
    "raw",
)
#: ``references`` values: the generic ones of SDMX REST v1.5 and v2 (``ancestors`` is v2's) ...
REFERENCE_MODES = ("none", "parents", "parentsandsiblings", "ancestors", "children", "descendants", "all")
#: ... and every structure type either version lists (v1.5: "any structure type", v2: the
#: artefact types of the structure resource).
REFERENCE_TYPES = (
    "datastructure",
    "metadatastructure",
    "categoryscheme",
    "conceptscheme",
    "codelist",
    "hierarchicalcodelist",
    "hierarchy",
    "hierarchyassociation",
    "valuelist",
    "organisationscheme",
    "agencyscheme",
    "dataproviderscheme",
    "metadataproviderscheme",
    "dataconsumerscheme",
    "organisationunitscheme",
    "dataflow",
    "metadataflow",
    "reportingtaxonomy",
    "provisionagreement",
    "metadataprovisionagreement",
    "structureset",
    "structuremap",
    "representationmap",
    "conceptschememap",
    "categoryschememap",
    "organisationschememap",
    "reportingtaxonomymap",
    "process",
    "categorisation",
    "contentconstraint",
    "actualconstraint",
    "allowedconstraint",
    "attachmentconstraint",
    "dataconstraint",
    "metadataconstraint",
    "transformationscheme",
    "rulesetscheme",
    "userdefinedoperatorscheme",
    "customtypescheme",
    "namepersonalisationscheme",
    "vtlmappingscheme",
)
_REFERENCES = REFERENCE_MODES + REFERENCE_TYPES


@dataclass
class Params:
    """Parsed query parameters of an SDMX REST request (data, structure or availability)."""

    start_period: str | None = None
    end_period: str | None = None
    updated_after: dt.datetime | None = None
    first_n: int | None = None
    last_n: int | None = None
    dimension_at_observation: str = "TIME_PERIOD"
    detail: str = "full"
    references: str = "none"
    include_history: bool = False
    format: str | None = None
    labels: str | None = None
    mode: str = "exact"
    attributes: str = "dsd"
    measures: str = "all"
    time_format: str | None = None
    keys: str | None = None
    filters: list[ComponentFilter] = field(default_factory=list)
    raw: list[tuple[str, str]] = field(default_factory=list)


_KNOWN = {
    "startperiod",
    "endperiod",
    "updatedafter",
    "updateafter",
    "firstnobservations",
    "lastnobservations",
    "dimensionatobservation",
    "detail",
    "references",
    "includehistory",
    "format",
    "labels",
    "mode",
    "attributes",
    "measures",
    "timeformat",
    "asof",
    "offset",
    "limit",
    "sort",
    "reportingyearstartday",
    "includeallattributes",
    "keys",
    "lang",
    "key",
    "apikey",
    "api_key",
}


def split_query(raw: str) -> list[tuple[str, str]]:
    """Split a raw query string without turning ``+`` into spaces.

    >>> split_query("c[TIME_PERIOD]=ge:2020+le:2023&updatedAfter=2024-01-01T00:00:00+00:00")
    [('c[TIME_PERIOD]', 'ge:2020+le:2023'), ('updatedAfter', '2024-01-01T00:00:00+00:00')]
    """
    out = []
    for piece in raw.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        out.append((unquote(name), unquote(value)))
    return out


def parse_params(raw: str, *, structure: bool = False) -> Params:
    """Parse the raw query string of a data/structure/availability request (lenient on case)."""
    p = Params(raw=split_query(raw))
    seen: set[str] = set()
    for name, value in p.raw:
        m = re.fullmatch(r"c\[(.+)\]", name)
        if m:
            component = m.group(1)
            if component in seen:
                raise QueryError(
                    N_("c[{component}] is given twice"),
                    fix=N_("Combine the conditions with ',' or '+'."),
                    params={"component": component},
                )
            seen.add(component)
            p.filters.append(parse_component_filter(component, value))
            continue
        _apply(p, name, value, structure=structure)
    return p


def _apply(p: Params, name: str, value: str, *, structure: bool) -> None:  # noqa: C901 - a flat dispatch
    key = name.lower()
    if key not in _KNOWN:
        raise QueryError(
            N_("'{name}' is not an SDMX REST query parameter"),
            fix=N_("See the SDMX REST specification; e.g. startPeriod, endPeriod, detail, references."),
            params={"name": name},
        )
    if key == "startperiod":
        p.start_period = _period(value, name)
    elif key == "endperiod":
        p.end_period = _period(value, name)
    elif key in ("updatedafter", "updateafter"):
        p.updated_after = _datetime(value, name)
    elif key == "firstnobservations":
        p.first_n = _positive(value, name)
    elif key == "lastnobservations":
        p.last_n = _positive(value, name)
    elif key == "dimensionatobservation":
        p.dimension_at_observation = value
    elif key == "detail":
        allowed = _STRUCTURE_DETAIL if structure else _DETAIL
        if value not in allowed:
            raise QueryError(
                N_("detail={value} is not allowed here"),
                fix=N_("Use one of: {choices}."),
                params={"value": value, "choices": ", ".join(allowed)},
            )
        p.detail = value
    elif key == "references":
        # v2 takes several values joined by ',' (e.g. references=codelist,conceptscheme)
        values = [v.strip().lower() for v in value.split(",")]
        for v in values:
            if v not in _REFERENCES:
                raise QueryError(
                    N_("references={v} is not an SDMX references value"),
                    fix=N_(
                        "Use one of: {choices}, or a structure type such as codelist, dataflow or "
                        "provisionagreement."
                    ),
                    params={"v": v, "choices": ", ".join(REFERENCE_MODES)},
                )
        p.references = ",".join(dict.fromkeys(values))
    elif key == "includehistory":
        p.include_history = _boolean(value, name)
    elif key == "format":
        p.format = value
    elif key == "labels":
        if value not in ("id", "name", "both"):
            raise QueryError(
                N_("labels={value} is not allowed"),
                fix=N_("Use labels=id, labels=name or labels=both."),
                params={"value": value},
            )
        p.labels = value
    elif key == "mode":
        if value not in ("exact", "available"):
            raise QueryError(
                N_("mode={value} is not allowed"),
                fix=N_("Use mode=exact or mode=available."),
                params={"value": value},
            )
        p.mode = value
    elif key == "attributes":
        p.attributes = _id_list(value, name)
    elif key == "measures":
        p.measures = _id_list(value, name)
    elif key in _NOT_APPLIED:
        raise not_implemented(f"The data query parameter {name}")
    elif key in CSV_OPTIONS:
        value = check_csv_option(name, value)
        if structure:
            refuse_csv_option(name, value, "structure")
        if key == "timeformat":
            p.time_format = value
        else:
            p.keys = value


#: Standard v2 data query parameters (sdmx-rest ``doc/data.md``) this server does not apply: a
#: 501 rather than an answer that silently ignores them (#15).
_NOT_APPLIED = frozenset({"asof", "offset", "limit", "sort", "reportingyearstartday"})


#: SDMX-CSV options (sdmx-rest v2 ``data.md``, the ``timeFormat`` and ``keys`` parameters of
#: the SDMX-CSV media types; the SDMX-CSV 2.0 field guide): name -> (label, values, default).
CSV_OPTIONS = {
    "timeformat": ("timeFormat", ("original", "normalized"), "original"),
    "keys": ("keys", ("none", "obs", "series", "both"), "none"),
}


def check_csv_option(name: str, value: str) -> str:
    """An SDMX-CSV option's value; a 400 for one the field guide does not define."""
    label, allowed, default = CSV_OPTIONS[name.lower()]
    if value not in allowed:
        raise QueryError(
            N_("{label}={value} is not allowed"),
            fix=N_("Use one of: {choices} ({default} by default)."),
            params={"label": label, "value": value, "choices": ", ".join(allowed), "default": default},
        )
    return value


def refuse_csv_option(name: str, value: str | None, resource: str) -> None:
    """A 400 for an SDMX-CSV data option other than its default on a resource that writes no
    SDMX-CSV data (structure, availability): refused, never silently ignored (#15)."""
    if value is None:
        return
    label, _, default = CSV_OPTIONS[name.lower()]
    if value != default:
        raise QueryError(
            N_("{label}={value} is an option of SDMX-CSV data, and {resource} answers are not SDMX-CSV data"),
            fix=N_("Leave {label} out here; ask the data resource for SDMX-CSV with it."),
            params={"label": label, "value": value, "resource": resource},
        )


def _id_list(value: str, name: str) -> str:
    """``attributes=``/``measures=``: keywords or component ids, comma-separated (v2)."""
    parts = value.split(",")
    if not value or any(not _CODE.match(part) for part in parts):
        raise QueryError(
            N_("{name}={value} is not a list of keywords or component ids"),
            fix=N_("Use e.g. {name}=all, {name}=none or {name}=OBS_STATUS,UNIT_MEASURE."),
            params={"name": name, "value": value},
        )
    return value


def _positive(value: str, name: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise QueryError(
            N_("{name}={value} is not a positive whole number"),
            fix=N_("Use e.g. {name}=1."),
            params={"name": name, "value": value},
        )
    return int(value)


def _boolean(value: str, name: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise QueryError(
        N_("{name}={value} is not true or false"),
        fix=N_("Use {name}=true or {name}=false."),
        params={"name": name, "value": value},
    )


def _datetime(value: str, name: str) -> dt.datetime:
    text = value.strip().replace(" ", "+")  # a '+' decoded to a space by a client or proxy
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            when = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        except ValueError:
            raise QueryError(
                N_("{name}={value} is not a date-time"),
                fix=N_("Use ISO 8601, e.g. {name}=2024-01-01T00:00:00Z (percent-encode '+' as %2B)."),
                params={"name": name, "value": value},
            ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


_PERIOD = re.compile(r"^\d{4}(-(\d{2}(-\d{2})?|[AQSTMWD]\d{1,3}|A1))?$")


def _period(value: str, name: str) -> str:
    text = value.strip()
    if not _PERIOD.match(text):
        raise QueryError(
            N_("{name}={value} is not a time period"),
            fix=N_("Use e.g. {name}=2020, 2020-06, 2020-06-30 or 2020-Q2."),
            params={"name": name, "value": value},
        )
    return text


# -- periods as date ranges (for startPeriod/endPeriod and c[TIME_PERIOD]) ------------------------


def period_range(text: str) -> tuple[dt.date, dt.date] | None:
    """First and last day of an SDMX time period, or None if it is not one.

    >>> period_range("2020-Q2")
    (datetime.date(2020, 4, 1), datetime.date(2020, 6, 30))
    """
    text = text.strip()
    m = re.fullmatch(r"(\d{4})(?:-(.+))?", text[:10] if "T" in text else text)
    if not m:
        return None
    year = int(m.group(1))
    rest = m.group(2)
    try:
        if rest is None or rest == "A1":
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if re.fullmatch(r"\d{2}", rest):
            return _months(year, int(rest), 1)
        if re.fullmatch(r"\d{2}-\d{2}", rest):
            d = dt.date(year, int(rest[:2]), int(rest[3:]))
            return d, d
        kind, num = rest[0], int(rest[1:])
        if kind == "Q":
            return _months(year, 3 * num - 2, 3)
        if kind == "S":
            return _months(year, 6 * num - 5, 6)
        if kind == "T":
            return _months(year, 4 * num - 3, 4)
        if kind == "M":
            return _months(year, num, 1)
        if kind == "W":
            start = dt.date.fromisocalendar(year, num, 1)
            return start, start + dt.timedelta(days=6)
        if kind == "D":
            d = dt.date(year, 1, 1) + dt.timedelta(days=num - 1)
            return d, d
    except ValueError:
        return None
    return None


def _months(year: int, first: int, count: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, first, 1)
    last_month = first + count - 1
    end = dt.date(year + last_month // 12, last_month % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end
