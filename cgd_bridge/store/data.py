"""A version's harmonised observations as one Parquet blob, and the in-process cache that reads it.

Why one blob per version and not one SQL row per observation: pulls read whole datasets or
filter them by dimension codes, which Arrow does in memory at millions of rows a second, while
row-by-row SQL (and building a Python object per row) would be one to two orders of magnitude
slower than the SDMX writers that consume the table. Versions never change, so the blob is
written once, inside the transaction that creates the version, and the cache below can keep
the decoded table without ever being stale: it is keyed by the blob's SHA-256 (looked up by a
one-row primary-key query), so it is also right when several databases are used in one
process, and several workers each keep their own copy.

Every column of the harmonised table is kept (dimensions, ``TIME_PERIOD``, ``OBS_VALUE``,
attributes, ``SOURCE_ROW`` and any extra columns such as ``SOURCE_ROWS``), compressed with
zstd.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from cgd_bridge.errors import NotFound
from cgd_bridge.i18n import N_
from cgd_bridge.store.models import VersionData

DEFAULT_CACHE_BYTES = 512 * 2**20


def to_parquet(table: pa.Table) -> bytes:
    """The table as Parquet bytes (zstd, statistics on, one row group per 256k rows)."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=256 * 1024)
    return buf.getvalue()


def from_parquet(blob: bytes) -> pa.Table:
    """The table back from :func:`to_parquet`'s bytes."""
    return pq.read_table(pa.BufferReader(blob))


def version_data(table: pa.Table, version_id: int | None = None) -> VersionData:
    """The ``version_data`` row for a table (the caller adds it to the session)."""
    blob = to_parquet(table)
    return VersionData(
        version_id=version_id, sha256=hashlib.sha256(blob).hexdigest(), rows=table.num_rows, parquet=blob
    )


class TableCache:
    """A thread-safe LRU of decoded tables, bounded by their size in memory.

    Example:
        >>> cache = TableCache(max_bytes=2**20)
        >>> cache.put("abc", pa.table({"x": [1, 2]}))
        >>> cache.get("abc").num_rows
        2
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> pa.Table | None:
        """The cached table, or None (and count the hit or miss)."""
        with self._lock:
            table = self._items.get(key)
            if table is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return table

    def put(self, key: str, table: pa.Table) -> None:
        """Keep ``table``, dropping the least recently used ones beyond ``max_bytes``."""
        size = table.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = table
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0


# One cache per process: versions are immutable and keys are content hashes, so sharing it
# between sessions, engines and threads is safe. Nothing here touches a database at import.
CACHE = TableCache()


def load_table(session: Session, version_id: int, *, cache: TableCache | None = CACHE) -> pa.Table:
    """The harmonised observations of a version (from the cache when it has them).

    Raises:
        NotFound: the version has no stored observations.
    """
    sha = session.scalar(select(VersionData.sha256).where(VersionData.version_id == version_id))
    if sha is None:
        raise _no_observations(version_id)
    return _load(session, version_id, sha, cache)


def load_tables(
    session: Session, version_ids: Sequence[int], *, cache: TableCache | None = CACHE
) -> list[tuple[str, pa.Table]]:
    """``(sha256, observations)`` of each version, in order: one query for the hashes, then the cache.

    The hashes name the content, so callers may key their own caches of derived tables by them.

    Raises:
        NotFound: a version has no stored observations.
    """
    rows = session.execute(
        select(VersionData.version_id, VersionData.sha256).where(VersionData.version_id.in_(version_ids))
    )
    shas: dict[int, str] = {vid: sha for vid, sha in rows.all()}  # noqa: C416 - rows, not pairs
    out = []
    for vid in version_ids:
        if vid not in shas:
            raise _no_observations(vid)
        out.append((shas[vid], _load(session, vid, shas[vid], cache)))
    return out


def _no_observations(version_id: int) -> NotFound:
    return NotFound(
        N_("version {id} has no stored observations"),
        fix=N_("Check the version id in the list of submissions."),
        params={"id": version_id},
    )


def _load(session: Session, version_id: int, sha: str, cache: TableCache | None) -> pa.Table:
    if cache is not None:
        table = cache.get(sha)
        if table is not None:
            return table
    blob = session.scalar(select(VersionData.parquet).where(VersionData.version_id == version_id))
    assert blob is not None
    table = from_parquet(blob)
    if cache is not None:
        cache.put(sha, table)
    return table
