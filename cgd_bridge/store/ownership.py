"""One owner per observation (#13): a series key and period of a dataflow belongs to one
published version at a time.

**Who owns an observation.** Among the *published* versions of a dataflow (of every producer),
the one published last owns each series key and period it holds; an older published version's
observations of the same key and period are *replaced*: no longer served, kept in the store
(history and lineage say by which version). Within one version, the first row of a key and
period owns it (validation refuses duplicate keys, so this only guards odd stored tables).
:func:`served` gives, per published version, the rows it still owns; the published view
(:func:`cgd_bridge.store.published.load_published`) serves only those, so every SDMX answer,
availability answer, page and chart holds at most one observation per key and period by
construction, whatever the readers' filters, providers or rights.

**Never silently.** Publication order decides only because publishing an overlapping version
is refused unless the reviewer chose ``replace`` (:mod:`cgd_bridge.store.submissions`):
:func:`overlap` is what the review page, the JSON API and the CLI show before that choice: the
keys and periods a version shares with what other submissions' published versions serve, per
version, with counts and a few examples. Versions of the same submission are not overlaps: the
newer one supersedes the older one whole when published.

Everything is columnar: keys are joined with Arrow's hash join (``Table.join``), never a Python
object per observation; the ownership of a dataflow is computed once per set of published
versions and kept (:data:`_CACHE`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from cgd_bridge.i18n import msg, nmsg
from cgd_bridge.store.data import load_tables
from cgd_bridge.store.models import State, Submission, Version, VersionData

TIME = "TIME_PERIOD"
_ROW = "__row"
_OWNER = "__owner"
#: how many overlapping keys an :class:`Overlap` quotes per version (it counts them all)
EXAMPLES = 10


# ---------------------------------------------------------------- ownership of a dataflow


@dataclass(frozen=True)
class Claim:
    """What one published version still owns.

    Attributes:
        version_id: the version.
        served: per stored row, True when the version owns (and so serves) it.
        replaced_by: per stored row, the id of the newer published version that owns its key
            and period now (null where the row is served, or repeats a key of its own version).
        token: names ``served`` (a digest), for the caches of tables derived from it.
    """

    version_id: int
    served: pa.BooleanArray
    replaced_by: pa.Int64Array
    token: str

    @property
    def whole(self) -> bool:
        """True when every stored row is served."""
        return bool(pc.all(self.served).as_py()) if len(self.served) else True

    def replaced(self) -> dict[int, int]:
        """Replaced observations per replacing version id."""
        counts = pc.value_counts(self.replaced_by.drop_null())
        return {int(c["values"]): int(c["counts"]) for c in counts.to_pylist()}


@dataclass(frozen=True)
class Ownership:
    """The claims of every published version of one dataflow, newest first."""

    claims: dict[int, Claim] = field(default_factory=dict)


def _key_columns(versions: Iterable[Version]) -> list[str]:
    dims: list[str] = []
    for v in versions:
        for d in v.dimensions or []:
            if d not in dims and d != TIME:
                dims.append(d)
    return [*dims, TIME]


def keys_of(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """The key columns of ``table`` as text (missing or null: empty), with each row's position."""
    n = table.num_rows
    out = {}
    for c in columns:
        if c in table.column_names:
            col = table[c]
            text = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
            out[c] = pc.fill_null(text, "")
        else:
            out[c] = pa.array([""] * n, pa.string())
    out[_ROW] = pa.array(np.arange(n, dtype=np.int64))
    return pa.table(out)


def _first_rows(keys: pa.Table, columns: Sequence[str]) -> pa.Table:
    """One row per distinct key and period: the first one."""
    firsts = keys.group_by(list(columns), use_threads=False).aggregate([(_ROW, "min")])
    return pa.table({**{c: firsts[c] for c in columns}, _ROW: firsts[f"{_ROW}_min"]})


def _token(served: np.ndarray) -> str:
    return hashlib.blake2b(np.packbits(served).tobytes(), digest_size=12).hexdigest()


def compute(tables: Sequence[tuple[int, pa.Table]], columns: Sequence[str]) -> Ownership:
    """The claims of versions given newest first as ``(version id, stored table)``.

    Example:
        >>> old = pa.table({"SEX": ["F", "M"], "TIME_PERIOD": ["2024", "2024"], "OBS_VALUE": [1.0, 2.0]})
        >>> new = pa.table({"SEX": ["M"], "TIME_PERIOD": ["2024"], "OBS_VALUE": [3.0]})
        >>> o = compute([(2, new), (1, old)], ["SEX", "TIME_PERIOD"])
        >>> o.claims[1].served.to_pylist(), o.claims[1].replaced_by.to_pylist()
        ([True, False], [None, 2])
    """
    claims: dict[int, Claim] = {}
    claimed: list[pa.Table] = []
    for version_id, table in tables:
        n = table.num_rows
        firsts = _first_rows(keys_of(table, columns), columns)
        served = np.zeros(n, dtype=bool)
        replaced_by = np.full(n, -1, dtype=np.int64)
        if claimed:
            owners = pa.concat_tables(claimed)
            joined = firsts.join(owners, list(columns), join_type="left outer", use_threads=False)
            rows = joined[_ROW].to_numpy()
            owner = pc.fill_null(joined[_OWNER], -1).to_numpy()
            free = owner < 0
            served[rows[free]] = True
            replaced_by[rows[~free]] = owner[~free]
            mine = joined.filter(pa.array(free)).select(list(columns))
        else:
            served[firsts[_ROW].to_numpy()] = True
            mine = firsts.select(list(columns))
        claimed.append(mine.append_column(_OWNER, pa.array(np.full(mine.num_rows, version_id, np.int64))))
        claims[version_id] = Claim(
            version_id,
            pa.array(served),
            pa.array(replaced_by, mask=replaced_by < 0),
            _token(served),
        )
    return Ownership(claims)


@dataclass(frozen=True)
class _Flow:
    agency: str
    id: str
    version: str


def _published_of(session: Session, flow: _Flow) -> list[tuple[Version, str]]:
    """The published versions of a dataflow with their content hashes, newest publication first."""
    rows = session.execute(
        select(Version, VersionData.sha256)
        .join(Version.submission)
        .join(VersionData, VersionData.version_id == Version.id)
        .where(
            Version.state == State.PUBLISHED,
            Submission.agency == flow.agency,
            Submission.dataflow == flow.id,
            Submission.dataflow_version == flow.version,
        )
    ).all()
    found = [(v, sha) for v, sha in rows]
    found.sort(key=lambda p: (p[0].published_at is not None, p[0].published_at, p[0].id), reverse=True)
    return found


class _Cache:
    """The ownership of the last few (dataflow, published versions) states (thread-safe)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], Ownership] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Ownership | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], value: Ownership) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_CACHE = _Cache()


def ownership(session: Session, agency: str, dataflow: str, version: str) -> Ownership:
    """The claims of every published version of the dataflow ``AGENCY:ID(VERSION)``."""
    flow = _Flow(agency, dataflow, version)
    found = _published_of(session, flow)
    columns = _key_columns(v for v, _ in found)
    key = (flow, tuple(columns), tuple((v.id, sha) for v, sha in found))
    cached = _CACHE.get(key)
    if cached is None:
        tables = load_tables(session, [v.id for v, _ in found])
        cached = compute([(v.id, t) for (v, _), (_, t) in zip(found, tables, strict=True)], columns)
        _CACHE.put(key, cached)
    return cached


def served(session: Session, version_ids: Sequence[int]) -> dict[int, Claim]:
    """The claims of those of ``version_ids`` that are published and no longer serve every row.

    Versions not published (under review, superseded, withdrawn) own nothing and are not listed:
    whoever may see them sees them whole.
    """
    if not version_ids:
        return {}
    flows = {
        _Flow(a, d, fv)
        for a, d, fv in session.execute(
            select(Submission.agency, Submission.dataflow, Submission.dataflow_version)
            .join(Version, Version.submission_id == Submission.id)
            .where(Version.id.in_(list(version_ids)), Version.state == State.PUBLISHED)
            .distinct()
        ).all()
    }
    wanted = set(version_ids)
    out: dict[int, Claim] = {}
    for flow in flows:
        for vid, claim in ownership(session, flow.agency, flow.id, flow.version).claims.items():
            if vid in wanted and not claim.whole:
                out[vid] = claim
    return out


# ---------------------------------------------------------------- overlaps, for review


@dataclass(frozen=True)
class Shared:
    """The observations a version shares with one published version of another submission.

    Attributes:
        version_id, number, submission_id, dataset, producer: the published version, e.g.
            ``12``, ``2``, ``5``, ``ke-health-scorecard-2024``, ``sauti-ya-walemavu``.
        count: how many keys and periods both hold (that the published one still serves).
        examples: at most :data:`EXAMPLES` of them, ``{"key": "A.N.SP_PSR_SATIS...", "period": "2024"}``.
    """

    version_id: int
    number: int
    submission_id: int
    dataset: str
    producer: str
    count: int
    examples: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "version": self.version_id,
            "number": self.number,
            "submission": self.submission_id,
            "dataset": self.dataset,
            "producer": self.producer,
            "observations": self.count,
            "examples": self.examples,
        }


@dataclass(frozen=True)
class Overlap:
    """The keys and periods a version shares with what is published in its dataflow.

    Attributes:
        version_id: the version under review.
        dataflow: ``AGENCY:ID(VERSION)``.
        key: the key's dimension ids in order (the examples' ``key`` joins them with ``.``).
        count: how many of its keys and periods another submission's version serves.
        shared: per published version, newest publication first.
    """

    version_id: int
    dataflow: str
    key: list[str]
    count: int
    shared: list[Shared]

    def __bool__(self) -> bool:
        return self.count > 0

    @property
    def version_ids(self) -> list[int]:
        """The published versions it overlaps."""
        return [s.version_id for s in self.shared]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"version", "dataflow", "key", "observations", "shared": [...]}``."""
        return {
            "version": self.version_id,
            "dataflow": self.dataflow,
            "key": self.key,
            "observations": self.count,
            "shared": [s.to_dict() for s in self.shared],
        }

    def describe(self) -> dict[str, Any] | str:
        """A composed message (:func:`cgd_bridge.i18n.msg`), one sentence per published version
        in the plural form of its count, for messages in any language, e.g. ``12 observations
        of version 2 of 'ke-health-scorecard-2024' (sauti), such as A.N.SP_PSR_SATIS.KE_042 2024``."""
        parts = []
        for s in self.shared:
            example = s.examples[0] if s.examples else None
            such = (
                msg(", such as {key} {period}", key=example["key"], period=example["period"])
                if example
                else ""
            )
            parts.append(
                nmsg(
                    "{n} observation of version {number} of '{dataset}' ({producer}){such}",
                    "{n} observations of version {number} of '{dataset}' ({producer}){such}",
                    s.count,
                    number=s.number,
                    dataset=s.dataset,
                    producer=s.producer,
                    such=such,
                )
            )
        if not parts:
            return ""
        joined = parts[-1]
        for part in reversed(parts[:-1]):
            joined = msg("{first}; {rest}", first=part, rest=joined)
        return joined


def overlap(
    session: Session, version: Version, *, table: pa.Table | None = None, examples: int = EXAMPLES
) -> Overlap:
    """The keys and periods ``version`` shares with the observations that published versions of
    other submissions of its dataflow serve now (what publishing it would replace).

    Args:
        table: the version's stored observations, when the caller has them.
        examples: how many keys to quote per published version.
    """
    s = version.submission
    own = ownership(session, s.agency, s.dataflow, s.dataflow_version)
    others = [
        (v, sha)
        for v, sha in _published_of(session, _Flow(s.agency, s.dataflow, s.dataflow_version))
        if v.submission_id != version.submission_id
    ]
    columns = _key_columns([version, *(v for v, _ in others)])
    if table is None:
        [(_, table)] = load_tables(session, [version.id])
    mine = _first_rows(keys_of(table, columns), columns).select(list(columns))
    shared: list[Shared] = []
    total = np.zeros(mine.num_rows, dtype=bool) if others else None
    mine = mine.append_column(_ROW, pa.array(np.arange(mine.num_rows, dtype=np.int64)))
    for (v, _), (_, stored) in zip(others, load_tables(session, [v.id for v, _ in others]), strict=True):
        keys = keys_of(stored, columns)
        claim = own.claims.get(v.id)
        if claim is not None:
            keys = keys.filter(claim.served)
        keys = keys.select(list(columns))
        both = mine.join(keys, list(columns), join_type="left semi", use_threads=False)
        if both.num_rows == 0:
            continue
        assert total is not None
        total[both[_ROW].to_numpy()] = True
        order = pc.sort_indices(both, sort_keys=[(c, "ascending") for c in columns])
        first = both.take(order.slice(0, examples)).to_pylist()
        dims = columns[:-1]
        quoted = [{"key": ".".join(str(r[d]) for d in dims), "period": str(r[TIME])} for r in first]
        shared.append(
            Shared(
                v.id, v.number, v.submission_id, v.submission.dataset, v.submission.producer.slug,
                both.num_rows, quoted,
            )
        )  # fmt: skip
    count = int(total.sum()) if total is not None else 0
    return Overlap(version.id, s.dataflow_ref, list(columns[:-1]), count, shared)
