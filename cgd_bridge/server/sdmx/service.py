"""What SDMX REST v1 and v2 have in common: find the dataflow, gather readable data, answer.

The route modules parse paths (the two API versions spell them differently) and call these
functions, which return Starlette responses. Data responses stream (constant memory) and are
logged in the audit trail (who, what query, how many observations from which version).

Per-request work is kept small for small queries (benchmarks/server_vs_writer.py): a dataflow's
dimensions are looked up once per state of the structure store (:func:`find_flow`); the
readable versions' observations, gathered into one table with its :class:`KeyIndex`, are kept
per set of content hashes (:func:`gather_indexed`); and names are looked up only for the
writers that print them.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cgd_bridge.errors import Forbidden, FormatError, StructureError, Unauthorized
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.formats import format_of
from cgd_bridge.sdmx.names import named_target
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import check_csv_options, check_options
from cgd_bridge.sdmx.write import write as write_format
from cgd_bridge.sdmx.write.sdmx_csv import indexed_csv
from cgd_bridge.sdmx.write.xsd import attachment, series_attributes
from cgd_bridge.server import metrics
from cgd_bridge.server.access_cache import Readable, ServedVersion, scope_of
from cgd_bridge.server.http import conditional, http_date, not_modified_since, route_path
from cgd_bridge.server.sdmx.answers import Answer, make_answer
from cgd_bridge.server.sdmx.data import KeyIndex, combine, indexed_rows, select
from cgd_bridge.server.sdmx.negotiate import Choice, negotiate
from cgd_bridge.server.sdmx.query import (
    KeyFilter,
    Params,
    QueryError,
    not_implemented,
    parse_v1_key,
    parse_v2_keys,
    refuse_csv_option,
    text_cache,
)
from cgd_bridge.server.sdmx.structures import StructureQuery
from cgd_bridge.server.streaming import astream
from cgd_bridge.store import access, audit
from cgd_bridge.store.data import DEFAULT_CACHE_BYTES
from cgd_bridge.store.models import Version
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.published import load_published
from cgd_bridge.structures import ArtefactInfo

if TYPE_CHECKING:
    from cgd_bridge.server.app import Bridge

VERSION_COLUMN = "__version"
_FLOW_CACHE_SIZE = 256
#: Answers of at most this many rows are written in memory (a few MB at most) and sent with a
#: Content-Length; larger ones stream in constant memory (:func:`astream`).
SMALL_RESPONSE_ROWS = 5_000
#: Answers of at most this many rows (a few series) are selected and written on the event loop
#: itself (well under a millisecond): a thread-pool hop would cost more than the work.
IN_LOOP_ROWS = 500


@dataclass
class Flow:
    """A dataflow as the data queries need it."""

    info: ArtefactInfo
    dimensions: list[str]
    attributes: list[str]
    series_attributes: tuple[str, ...]
    dataset_attributes: tuple[str, ...] = ()

    @property
    def agency(self) -> str:
        return self.info.agency


def _store_stamp(bridge: Bridge) -> tuple[int, int, int] | None:
    """Changes whenever the structure store's index is rewritten (imports replace it atomically)."""
    store = bridge.structures.store
    if store is None:
        return None
    try:
        st = os.stat(store.index_path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def find_flow(bridge: Bridge, ref: FlowRef) -> Flow:
    """The dataflow a data query names (latest version unless one is given), or 404 code 100.

    Kept per app for as long as the structure store's index stays the same (the bundled
    structures never change while the server runs).
    """
    if ref.id is None:
        raise not_implemented("A data query over every dataflow")
    key = (ref.agency, ref.id, ref.version, _store_stamp(bridge))
    flows: dict[tuple[object, ...], Flow] = bridge.extra.setdefault("flows", {})
    flow = flows.get(key)
    if flow is None:
        flow = _find_flow(bridge, ref)
        if len(flows) >= _FLOW_CACHE_SIZE:
            flows.clear()
        flows[key] = flow
    return Flow(
        flow.info,
        list(flow.dimensions),
        list(flow.attributes),
        flow.series_attributes,
        flow.dataset_attributes,
    )


def _find_flow(bridge: Bridge, ref: FlowRef) -> Flow:
    try:
        if ref.id is None:  # a data query reads one dataflow: a wildcard id names none
            raise StructureError(N_("a data query names one dataflow"), fix=N_("Give the dataflow's id."))
        info = bridge.structures.find("dataflow", ref.id, ref.agency, ref.version)
        flow = bridge.structures.get("dataflow", info.id, info.agency, info.version)
        dsd_ref = flow.structure
        dsd = bridge.structures.dsd(
            dsd_ref.id,
            dsd_ref.maintainer.id if dsd_ref.maintainer else None,
            dsd_ref.version and str(dsd_ref.version),
        )
    except StructureError as exc:
        raise QueryError(
            N_("there is no dataflow {query_text}"),
            fix=N_("List the dataflows with /sdmx/rest/dataflow/all/all/latest."),
            status=404,
            params={"query_text": ref.query_text},
        ) from exc
    dims = [
        d.id
        for d in dsd.dimensions.components
        if d.id != "TIME_PERIOD" and type(d).__name__ != "TimeDimension"
    ]
    attrs = [a.id for a in dsd.attributes.components]
    on_dataset = tuple(str(a.id) for a in dsd.attributes.components if attachment(a) == "dataset")
    return Flow(info, dims, attrs, series_attributes(dsd), on_dataset)


def structure_response(request: Request, bridge: Bridge, q: StructureQuery, *, api: int) -> Response:
    choice = negotiate(
        "structure", request.headers.get("accept"), api=api, format_param=request.query_params.get("format")
    )
    # SDMX 3.0 artefacts (structure maps, MSDs) answer a wildcard in SDMX-ML 3.0, which can carry them
    fmt = bridge.structure_service.format_for(
        q, choice.name, request.headers.get("accept"), request.query_params.get("format")
    )
    body = bridge.structure_service.message(q, fmt)
    media = format_of("structure", fmt).media_type
    live = bridge.structure_service.names_published(q)
    modified = None if live else _structures_modified(bridge, q.resource)
    return conditional(request, body, media, last_modified=modified)


#: Structure resources that may include mappings published from the database (which change while
#: the server runs): answered with an ETag only, no Last-Modified.
_LIVE_STRUCTURES = frozenset(
    {"structure", "structureset", "structuremap", "representationmap", "conceptschememap",
     "codelistmap", "*", "all"}
)  # fmt: skip


def _structures_modified(bridge: Bridge, resource: str) -> dt.datetime | None:
    """When the structures last changed (``Last-Modified``): the structure store's index, or the
    server's start for the bundled structures (they never change while it runs)."""
    if resource.lower() in _LIVE_STRUCTURES:
        return None
    stamp = _store_stamp(bridge)
    started: dt.datetime = bridge.extra.setdefault("started", dt.datetime.now(dt.UTC).replace(microsecond=0))
    if stamp is None:
        return started
    return dt.datetime.fromtimestamp(stamp[0] / 1e9, dt.UTC)


def _readable(
    session: Session,
    principal: Principal | None,
    flow: Flow,
    now: dt.datetime,
    provider: frozenset[str] | None,
    updated_after: dt.datetime | None,
) -> list[Version]:
    info = flow.info
    return access.pull_versions(
        session,
        principal,
        (info.agency, info.id, info.version),
        now,
        providers=provider,
        updated_after=updated_after,
    )


class _Gathered:
    """A small LRU of gathered tables and their key indexes, keyed by the versions' content hashes."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES, max_items: int = 32) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, ...], tuple[pa.Table, KeyIndex]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> tuple[pa.Table, KeyIndex] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, ...], value: tuple[pa.Table, KeyIndex]) -> None:
        with self._lock:
            self._items[key] = value
            # nbytes counts buffers shared with the store's cache, so this bound is conservative
            while len(self._items) > self.max_items or (
                len(self._items) > 1 and sum(t.nbytes for t, _ in self._items.values()) > self.max_bytes
            ):
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


GATHERED = _Gathered()


def gather_indexed(
    session: Session, versions: Sequence[Version], flow: Flow
) -> tuple[pa.Table, KeyIndex] | None:
    """The readable versions' published views (:func:`cgd_bridge.store.published.published`: the
    flow's dimensions, TIME_PERIOD, OBS_VALUE and attributes, never a stored internal column)
    as one table, with its :class:`KeyIndex`; both kept per set of content hashes and flow.

    Everything a data or availability answer says (rows, counts, ``X-Observations``, ETags,
    kept answers) and the web pages' tables and charts come from this table only (#12). It holds
    each series key and period at most once: of every published version, only the rows it owns
    (:mod:`cgd_bridge.store.ownership`, #13); the content keys say which, and key the caches.
    """
    if not versions:
        return None
    loaded = load_published(
        session, [v.id for v in versions], dimensions=flow.dimensions, attributes=flow.attributes
    )
    key = (*(sha for sha, _ in loaded), flow.info.ref, *flow.dimensions, "|", *flow.attributes)
    found = GATHERED.get(key)
    if found is None:
        tables = [
            t.append_column(VERSION_COLUMN, pa.array(np.full(t.num_rows, i, dtype=np.int32)))
            for i, (_, t) in enumerate(loaded)
        ]
        table = combine(tables)
        found = (table, KeyIndex(table, tuple(sha for sha, _ in loaded)))
        GATHERED.put(key, found)
    return found


def _served(v: Version) -> ServedVersion:
    s = v.submission
    return ServedVersion(v.id, v.submission_id, s.dataflow_ref, s.producer.slug, v.published_at)


async def readable_for(
    request: Request,
    bridge: Bridge,
    principal: Principal | None,
    flow: Flow,
    provider: frozenset[str] | None,
    updated_after: dt.datetime | None,
) -> Readable:
    """The versions (and their gathered table) a data query of ``flow`` reads, or its 401/403.

    Decided once per state of the store (:mod:`cgd_bridge.server.access_cache`); a miss runs
    the access policy (:func:`_readable`) and :func:`gather_indexed` in the thread pool.
    """
    snap = await bridge.access.request_snapshot(request)
    info = flow.info
    key = (scope_of(principal), info.agency, info.id, info.version, provider, updated_after)
    found = bridge.access.cached_readable(snap, key)
    if found is None:

        def compute(session: Session) -> Readable:
            now = bridge.clock()
            try:
                versions = _readable(session, principal, flow, now, provider, updated_after)
            except (Unauthorized, Forbidden) as exc:
                return Readable((), None, exc)
            return Readable(tuple(_served(v) for v in versions), gather_indexed(session, versions, flow))

        found = await run_in_threadpool(bridge.access.resolve, snap, key, compute)
    if found.denied is not None:
        raise found.denied.with_traceback(None)
    return found


def _light(params: Params) -> bool:
    """A key-only query: the key index answers it in about the time of its answer's size."""
    return not (params.filters or params.start_period or params.end_period or params.first_n or params.last_n)


async def data_response(
    request: Request,
    bridge: Bridge,
    principal: Principal | None,
    *,
    api: int,
    flow_ref: FlowRef,
    key_text: str,
    provider: frozenset[str] | None,
    params: Params,
) -> Response:
    """Answer a data query: negotiate, select, log the pull, write or stream the message.

    Runs on the event loop while the work is small (cached access decision, key-only selection,
    an answer of at most :data:`IN_LOOP_ROWS` rows); anything bigger goes to the thread pool
    or streams from a writer thread, so one large query never holds up the small ones.
    """
    choice = negotiate(
        "data",
        request.headers.get("accept"),
        api=api,
        format_param=params.format,
        labels=params.labels,
        time_format=params.time_format,
        keys=params.keys,
    )
    flow = find_flow(bridge, flow_ref)
    keys = parse_keys(key_text, len(flow.dimensions), api=api)
    # an observation dimension, detail or SDMX-CSV option the writer cannot take is a 400
    # before anything streams
    check_options(
        choice.name,
        flow.dimensions,
        detail=params.detail,
        dimension_at_observation=params.dimension_at_observation,
    )
    check_csv_options(choice.name, time_format=choice.time_format, keys=choice.keys)
    readable = await readable_for(request, bridge, principal, flow, provider, params.updated_after)
    query = route_path(request.scope) + (f"?{request.url.query}" if request.url.query else "")
    client = request.client.host if request.client else None
    answer_key = _answer_key(bridge, readable, flow, keys, params, choice)
    kept = bridge.answers.get(answer_key) if answer_key is not None else None
    modified = _data_modified(readable)
    auth = "key" if principal is not None else "anonymous"
    if kept is not None:
        await bridge.audit.record(principal, _served_counts(readable, kept.counts), query, client=client)
        metrics.pulled(choice.name, auth)
        return _answer_response(request, kept, modified)
    gathered = readable.gathered
    indexed = _from_index(readable, flow, keys, params, choice)
    if indexed is not None:  # a few series in SDMX-CSV, written from the key index's rows
        data, observations, counts = indexed
        await bridge.audit.record(principal, _served_counts(readable, counts), query, client=client)
        metrics.pulled(choice.name, auth)
        return _keep(request, bridge, answer_key, data, choice, observations, counts, modified)
    selected: pa.Table | None = None
    if gathered is not None:
        if _light(params):
            selected = select(gathered[0], flow.dimensions, keys, params, index=gathered[1])
        else:
            selected = await run_in_threadpool(
                select, gathered[0], flow.dimensions, keys, params, index=gathered[1]
            )
    if selected is None or selected.num_rows == 0:
        await bridge.audit.record(principal, [], query, client=client)
        raise QueryError(
            N_("no observations of {ref} match this query"),
            fix=N_("Widen the key or the periods; /sdmx/rest/availableconstraint/ shows what exists."),
            status=404,
            params={"ref": flow.info.ref},
        )
    counts = tuple(
        int(n) for n in np.bincount(selected[VERSION_COLUMN].to_numpy(), minlength=len(readable.versions))
    )
    await bridge.audit.record(principal, _served_counts(readable, counts), query, client=client)
    metrics.pulled(choice.name, auth)
    observations = selected.num_rows
    # SDMX-JSON prints names, and SDMX-CSV with labels=name|both: only they need a named target
    named = format_of("data", choice.name).names or choice.labels != "id"
    if observations <= IN_LOOP_ROWS and not named:
        body, target = _shape(selected, flow, params, choice)
        data = _written(choice, body, target, params)
        return _keep(request, bridge, answer_key, data, choice, observations, counts, modified)

    def prepare() -> tuple[pa.Table, Target]:
        body, target = _shape(selected, flow, params, choice)
        return body, named_target(target, body, bridge.structures) if named else target

    body, target = await run_in_threadpool(prepare)
    if body.num_rows <= SMALL_RESPONSE_ROWS:
        # a few series: written in a worker thread and sent in one piece, with a Content-Length
        data = await run_in_threadpool(_written, choice, body, target, params)
        return _keep(request, bridge, answer_key, data, choice, observations, counts, modified)
    headers = {"Vary": "Accept", "X-Observations": str(observations)}
    if modified is not None:
        headers["Last-Modified"] = http_date(modified)
        if not_modified_since(request, modified):
            return Response(
                status_code=304, headers={"Vary": "Accept", "Last-Modified": headers["Last-Modified"]}
            )
    return StreamingResponse(
        astream(lambda out: _write(choice, body, target, out, params)),
        media_type=choice.media_type,
        headers=headers,
    )


@dataclass(frozen=True)
class Selection:
    """The published observations a download selected, named, with the versions they come from.

    ``table`` is the published view (:func:`gather_indexed`) filtered by the query and cut to the
    dataflow's dimensions, ``TIME_PERIOD``, ``OBS_VALUE`` and its attributes; ``target`` carries
    the names of the dataflow, its concepts and the codes present.
    """

    flow: Flow
    table: pa.Table
    target: Target
    versions: tuple[ServedVersion, ...]


async def published_selection(
    request: Request,
    bridge: Bridge,
    principal: Principal | None,
    *,
    flow_ref: FlowRef,
    key_text: str,
    params: Params,
) -> Selection:
    """The published view of a dataflow a download reads (spreadsheet, bundle), its pull logged.

    The same access decision, selection and pull log as :func:`data_response`: a download in
    any format reads only what the SDMX answer to the same query would show (#12).
    """
    flow = find_flow(bridge, flow_ref)
    keys = parse_keys(key_text, len(flow.dimensions), api=1)
    readable = await readable_for(request, bridge, principal, flow, None, params.updated_after)
    query = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    client = request.client.host if request.client else None
    gathered = readable.gathered
    selected = (
        await run_in_threadpool(select, gathered[0], flow.dimensions, keys, params, index=gathered[1])
        if gathered is not None
        else None
    )
    if selected is None or selected.num_rows == 0:
        await bridge.audit.record(principal, [], query, client=client)
        raise QueryError(
            N_("no observations of {ref} match this query"),
            fix=N_("Widen the selection or the periods; the dataflow's page shows what exists."),
            status=404,
            params={"ref": flow.info.ref},
        )
    counts = np.bincount(selected[VERSION_COLUMN].to_numpy(), minlength=len(readable.versions))
    await bridge.audit.record(
        principal, _served_counts(readable, [int(n) for n in counts]), query, client=client
    )
    metrics.pulled("download", "session" if principal is not None else "anonymous")

    def prepare() -> tuple[pa.Table, Target]:
        body, target = _shape(selected, flow, Params(), Choice("sdmx-csv-1.0", "text/csv"))
        return body, named_target(target, body, bridge.structures)

    body, target = await run_in_threadpool(prepare)
    return Selection(flow, body, target, readable.versions)


def _data_modified(readable: Readable) -> dt.datetime | None:
    """``Last-Modified`` of a data answer: the latest publication of the versions it reads (a
    published version never changes; a revision is a new version)."""
    times = [v.published_at for v in readable.versions if v.published_at is not None]
    return max(times) if times else None


def _answer_key(
    bridge: Bridge, readable: Readable, flow: Flow, keys: list[KeyFilter], params: Params, choice: Choice
) -> tuple[Any, ...] | None:
    """What a data answer's bytes depend on (see :mod:`cgd_bridge.server.sdmx.answers`); None: not kept."""
    if not bridge.answers.enabled or not readable.versions:
        return None
    p = params
    return (
        tuple(v.id for v in readable.versions),
        # the rows each version serves (a version published later with replace takes some, #13)
        readable.gathered[1].content if readable.gathered is not None else (),
        flow.info.ref,
        _store_stamp(bridge),
        tuple(tuple(k) for k in keys),
        (p.start_period, p.end_period, p.first_n, p.last_n, p.dimension_at_observation, p.detail),
        (p.attributes, p.measures, repr(p.filters)),
        (choice.name, choice.labels, choice.media_type),
    )


def _keep(
    request: Request,
    bridge: Bridge,
    key: tuple[Any, ...] | None,
    body: bytes,
    choice: Choice,
    observations: int,
    counts: tuple[int, ...],
    modified: dt.datetime | None,
) -> Response:
    answer = make_answer(body, choice.media_type, observations, counts)
    if key is not None:
        bridge.answers.put(key, answer)
    return _answer_response(request, answer, modified)


def _answer_response(request: Request, answer: Answer, modified: dt.datetime | None) -> Response:
    """The answer, or 304 when ``If-None-Match`` names its ETag or ``If-Modified-Since`` is not
    before the latest publication it reads (sdmx-rest ``doc/status.md``: 304)."""
    return conditional(
        request,
        answer.body,
        answer.media_type,
        last_modified=modified,
        headers={"X-Observations": str(answer.observations)},
        etag=answer.etag,
    )


def _served_counts(readable: Readable, counts: Sequence[int]) -> list[tuple[ServedVersion, int]]:
    """The versions an answer read from, with how many observations of each (for the audit)."""
    return [(v, n) for v, n in zip(readable.versions, counts, strict=True) if n]


def _written(choice: Choice, table: pa.Table, target: Target, params: Params) -> bytes:
    """A whole answer in memory (small answers: sent with a Content-Length, and kept)."""
    buffer = io.BytesIO()
    _write(choice, table, target, buffer, params)
    return buffer.getvalue()


def _write(choice: Choice, table: pa.Table, target: Target, out: Any, params: Params) -> int:
    return write_format(
        choice.name,
        table,
        target,
        out,
        labels=choice.labels,
        detail=params.detail,
        dimension_at_observation=params.dimension_at_observation,
        time_format=choice.time_format,
        keys=choice.keys,
    )


def parse_keys(text: str, n_dims: int, *, api: int) -> list[KeyFilter]:
    """The key path segment in the syntax of the API version: alternatives of per-dimension codes."""
    return [list(key) for key in _parsed_keys(text, n_dims, api)]


@text_cache(maxsize=4096)  # the same few series are asked for again and again
def _parsed_keys(text: str, n_dims: int, api: int) -> tuple[tuple[frozenset[str] | None, ...], ...]:
    keys = [parse_v1_key(text, n_dims)] if api == 1 else parse_v2_keys(text, n_dims)
    return tuple(tuple(key) for key in keys)


def _from_index(
    readable: Readable, flow: Flow, keys: list[KeyFilter], params: Params, choice: Choice
) -> tuple[bytes, int, tuple[int, ...]] | None:
    """A key-only query of at most :data:`IN_LOOP_ROWS` observations in SDMX-CSV, answered from
    the key index of what ``readable`` (the access decision) may read: (body, observations, per
    version); None when it is not such a query (:func:`select` and the writer answer it)."""
    gathered = readable.gathered
    if gathered is None or not _light(params):
        return None
    index = gathered[1]
    rows = indexed_rows(index, flow.dimensions, keys)
    if rows is None or not 0 < len(rows) <= IN_LOOP_ROWS:
        return None
    data = _indexed_answer(index, rows, flow, params, choice)
    if data is None:
        return None
    versions = index.numbers(VERSION_COLUMN)[rows]
    return data, len(rows), tuple(np.bincount(versions, minlength=len(readable.versions)).tolist())


def _indexed_answer(
    index: KeyIndex, rows: np.ndarray, flow: Flow, params: Params, choice: Choice
) -> bytes | None:
    """The answer of ``rows`` of the index's table in SDMX-CSV with the default options, written
    from the index's texts (:func:`~cgd_bridge.sdmx.write.sdmx_csv.indexed_csv`: the same bytes
    as :func:`_shape` and :func:`_written`); None for anything else (written the usual way)."""
    if choice.labels != "id" or choice.time_format != "original" or choice.keys != "none":
        return None
    keep, target = _components(index.columns, flow, params)

    def cells(column: str, quote: Callable[[str | None], str]) -> list[str]:
        return index.texts(column, quote).of(rows)  # type: ignore[return-value]

    return indexed_csv(choice.name, target, keep, cells, len(rows), detail=params.detail)


def _shape(table: pa.Table, flow: Flow, params: Params, choice: Choice) -> tuple[pa.Table, Target]:
    """The columns ``detail`` asks for, and the writers' target.

    ``serieskeysonly`` (the series keys) and ``nodata`` (the series keys with their series-level
    attributes) keep the key columns; the writers make one series of each key, without
    observations (``detail`` is passed to them).
    """
    keep, target = _components(set(table.column_names), flow, params)
    return table.select(keep), target


def _components(columns: Collection[str], flow: Flow, params: Params) -> tuple[list[str], Target]:
    """:func:`_shape`'s columns (of ``columns``, in order) and target."""
    attributes = [a for a in wanted_attributes(flow, params.attributes) if a in columns]
    if params.detail == "dataonly":
        attributes = []
    keep = [*flow.dimensions, "TIME_PERIOD", "OBS_VALUE", *attributes]
    if params.detail in ("serieskeysonly", "nodata"):
        attributes = (
            [a for a in flow.series_attributes if a in attributes] if params.detail == "nodata" else []
        )
        keep = [*flow.dimensions, "TIME_PERIOD", *attributes]
    keep = [c for c in keep if c in columns]
    if not wanted_measures(params.measures):
        keep = [c for c in keep if c != "OBS_VALUE"]
    info = flow.info
    target = Target(
        info.agency,
        info.id,
        info.version,
        tuple(flow.dimensions),
        tuple(attributes),
        series_attributes=tuple(a for a in flow.series_attributes if a in attributes),
    )
    return keep, target


def wanted_attributes(flow: Flow, value: str) -> list[str]:
    """The DSD attributes ``attributes=`` asks for (sdmx-rest v2 ``data.md``): ``dsd`` (the
    default) and ``all`` every one, ``none`` and ``msd`` none (this server's data has no
    metadata attributes), ``dataset``/``series``/``obs`` those attached at that level, or
    attribute ids; comma-separated combinations add up. An unknown id is a 400."""
    series = set(flow.series_attributes)
    dataset = set(flow.dataset_attributes)
    levels = {
        "dsd": set(flow.attributes),
        "all": set(flow.attributes),
        "none": set(),
        "msd": set(),
        "dataset": dataset,
        "series": series,
        "obs": {a for a in flow.attributes if a not in series and a not in dataset},
    }
    chosen: set[str] = set()
    for part in value.split(","):
        if part in levels:
            chosen |= levels[part]
        elif part in flow.attributes:
            chosen.add(part)
        else:
            raise QueryError(
                N_("attributes={value}: '{part}' is not an attribute of {ref}"),
                fix=N_("Use dsd, all, none, msd, dataset, series, obs or ids among: {ids}."),
                params={
                    "value": value,
                    "part": part,
                    "ref": flow.info.ref,
                    "ids": ", ".join(flow.attributes),
                },
            )
    return [a for a in flow.attributes if a in chosen]


def wanted_measures(value: str) -> bool:
    """Whether ``measures=`` asks for OBS_VALUE, the one measure: ``all`` (default), ``OBS_VALUE``
    yes, ``none`` no (the observations without their value); any other id is a 400."""
    parts = value.split(",")
    unknown = [p for p in parts if p not in ("all", "none", "OBS_VALUE")]
    if unknown:
        raise QueryError(
            N_("measures={value}: {unknown} is not a measure of this data"),
            fix=N_("Use measures=all, measures=none or measures=OBS_VALUE."),
            params={"value": value, "unknown": ", ".join(unknown)},
        )
    return any(p != "none" for p in parts)


def availability(
    request: Request,
    bridge: Bridge,
    session: Session,
    principal: Principal | None,
    *,
    api: int,
    flow_ref: FlowRef,
    key_text: str,
    component: str | None,
    params: Params,
    provider: frozenset[str] | None = None,
) -> tuple[Flow, dict[str, list[str]], int, tuple[str | None, str | None]]:
    """Per dimension, the codes that exist for a query (``mode=exact``), and the period range;
    of the data providers (producing CSOs) ``provider`` only, when given (v1 ``providerRef``)."""
    refuse_csv_option("timeFormat", params.time_format, "availability")
    refuse_csv_option("keys", params.keys, "availability")
    flow = find_flow(bridge, flow_ref)
    keys = parse_keys(key_text, len(flow.dimensions), api=api)
    versions = _readable(session, principal, flow, bridge.clock(), provider, params.updated_after)
    gathered = gather_indexed(session, versions, flow)
    selected = select(gathered[0], flow.dimensions, keys, params, index=gathered[1]) if gathered else None
    if selected is None or selected.num_rows == 0:
        raise QueryError(
            N_("no observations of {ref} match this query"), status=404, params={"ref": flow.info.ref}
        )
    dims = [component] if component and component != "all" else flow.dimensions
    unknown = [d for d in dims if d not in flow.dimensions and d != "TIME_PERIOD"]
    if unknown:
        raise QueryError(
            N_("{ref} has no dimension {unknown}"),
            status=404,
            params={"ref": flow.info.ref, "unknown": ", ".join(unknown)},
        )
    cube = {
        d: sorted(pc.unique(selected[d]).drop_null().to_pylist()) for d in dims if d in selected.column_names
    }
    periods = selected["TIME_PERIOD"]
    span = (pc.min(periods).as_py(), pc.max(periods).as_py())
    return flow, cube, selected.num_rows, span


# -- schemas -------------------------------------------------------------------------------------------

SCHEMA_CONTEXTS = ("dataflow", "datastructure", "provisionagreement")


def schema_response(request: Request, bridge: Bridge, *, api: int, context: str, ref: FlowRef) -> Response:
    """``schema/{context}/...``: the DSD-specific XML schema, or (JSON) the structures it derives from.

    pysdmx's RegistryClient asks ``/schema/dataflow/...`` for SDMX-JSON 2.0 structures (the
    dataflow with its DSD, codelists and constraints); other clients get the XSD that
    structure-specific data of the dataflow validates against: for ``dimensionAtObservation``
    (``TIME_PERIOD`` by default, another dimension or ``AllDimensions``), and, in the
    ``dataflow`` and ``provisionagreement`` contexts, with the codes of the dataflow's allowed
    content constraints only. No version (or ``latest``, ``~``) is the latest one.
    """
    from cgd_bridge.mapping.conform import allowed_codes
    from cgd_bridge.sdmx.write.xsd import TIME, dsd_schema

    if context not in SCHEMA_CONTEXTS:
        raise not_implemented(f"Schema queries in the '{context}' context")
    accept = request.headers.get("accept") or "*/*"
    first = next(iter(_accepts(accept)), "*/*")
    if "json" in first:
        q = StructureQuery(resource=context, ref=ref, references="all")
        body = bridge.structure_service.message(q, "sdmx-json-2.0")
        return Response(
            body, media_type=format_of("structure", "sdmx-json-2.0").media_type, headers={"Vary": "Accept"}
        )
    choice = negotiate("schema", accept, api=api, format_param=request.query_params.get("format"))
    at = request.query_params.get("dimensionAtObservation") or TIME
    allowed: dict[str, frozenset[str]] = {}
    try:
        if context == "datastructure":
            info = bridge.structures.find("datastructure", ref.id or "", ref.agency, ref.version)
            dsd = bridge.structures.dsd(info.id, info.agency, info.version)
            dataflow = None
        else:
            agency, flow_id, flow_version = ref.agency, ref.id or "", ref.version
            if context == "provisionagreement":
                agency, flow_id, flow_version = _agreement_flow(bridge, ref)
            info = bridge.structures.find("dataflow", flow_id, agency, flow_version)
            flow = bridge.structures.get("dataflow", info.id, info.agency, info.version)
            s = flow.structure
            dsd = bridge.structures.dsd(
                s.id, s.maintainer.id if s.maintainer else None, s.version and str(s.version)
            )
            dataflow = info.ref
            allowed = allowed_codes(flow, bridge.structures)
    except StructureError as exc:
        raise QueryError(
            N_("there is no {context} {query_text}"),
            status=404,
            params={"context": context, "query_text": ref.query_text},
        ) from exc
    version = "2.1" if choice.name == "xsd-2.1" else "3.0"
    try:
        body = dsd_schema(
            dsd,
            version,
            dataflow=dataflow,
            structures=bridge.structures,
            dimension_at_observation=at,
            allowed=allowed,
        )
    except FormatError as exc:
        raise QueryError(exc.problem, fix=exc.fix) from exc
    return Response(body, media_type=choice.media_type, headers={"Vary": "Accept"})


def _agreement_flow(bridge: Bridge, ref: FlowRef) -> tuple[str, str, str]:
    """(agency, id, version) of the dataflow of the provision agreement ``ref`` names."""
    agreements = [
        a
        for a in bridge.structure_service.organisations().agreements.values()
        if a.info.matches("provisionagreement", ref.id or "", ref.agency, ref.version)
    ]
    if not agreements:
        raise QueryError(
            N_("there is no provision agreement {query_text}"),
            status=404,
            fix=N_("List them with /sdmx/rest/provisionagreement/all/all/latest."),
            params={"query_text": ref.query_text},
        )
    return agreements[-1].flow


def _accepts(header: str) -> list[str]:
    from cgd_bridge.server.sdmx.negotiate import parse_accept

    return [m for m, _, _ in parse_accept(header)]


# -- reference metadata (the quality reports) -------------------------------------------------------------


def metadata_response(
    request: Request,
    bridge: Bridge,
    session: Session,
    principal: Principal | None,
    *,
    api: int,
    flow_ref: FlowRef,
    provider: frozenset[str] | None,
) -> Response:
    """The quality metadata of a dataflow's readable dataset as an SDMX metadata message.

    Embargoed or restricted metadata is hidden exactly like the data (same access rules);
    every metadata pull is logged (``metadata.pulled``).
    """
    from cgd_bridge.metadata import QualityMetadata
    from cgd_bridge.sdmx.write.refmeta import render_metadata

    choice = negotiate(
        "metadata", request.headers.get("accept"), api=api, format_param=request.query_params.get("format")
    )
    flow = find_flow(bridge, flow_ref)
    versions = _readable(session, principal, flow, bridge.clock(), provider, None)
    query = route_path(request.scope) + (f"?{request.url.query}" if request.url.query else "")
    client = request.client.host if request.client else None
    if not versions:
        audit.record_pull(
            session, principal=principal, served=[], query=query, client=client, action="metadata.pulled"
        )
        raise QueryError(
            N_("there is no quality metadata for {ref}"), status=404, params={"ref": flow.info.ref}
        )
    if len(versions) > 1:
        producers = ", ".join(sorted(v.submission.producer.slug for v in versions))
        raise QueryError(
            N_("{ref} has datasets of several producers ({producers})"),
            fix=N_(
                "Name one producer as the provider, e.g. "
                "/sdmx/rest/metadata/{agency},{id},{version}/all/{provider}."
            ),
            params={
                "ref": flow.info.ref,
                "producers": producers,
                "agency": flow.info.agency,
                "id": flow.info.id,
                "version": flow.info.version,
                "provider": producers.split(",")[0],
            },
        )
    v = versions[0]
    md = QualityMetadata.model_validate(v.metadata_json or {})
    body = render_metadata(md, flow.info.ref, choice.name)
    audit.record_pull(
        session, principal=principal, served=[(v, 0)], query=query, client=client, action="metadata.pulled"
    )
    return Response(body, media_type=choice.media_type, headers={"Vary": "Accept"})
