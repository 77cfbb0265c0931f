"""Rendered answers of small data queries, kept per (versions read, query, representation).

A published version's observations never change (a revision is a new version), so the bytes a
data query answers are a function of the versions it reads, the query and the representation
asked for. The server keeps the small answers (at most ``max_answer_bytes`` each, ``max_bytes``
in all, least recently used first out) under that key and sends them again without selecting
and writing. Everything that concerns *who* asks still runs on every request: the key's
authentication and the access policy decide which versions are read (so a withdrawn version
changes the key, and a revoked key never gets here), and the pull is audited as usual.

Each kept answer carries a strong ``ETag``; a client that sends it back in ``If-None-Match``
gets ``304 Not Modified`` (still audited: it was told its copy is current).

Code names in SDMX-JSON and in SDMX-CSV ``labels=name|both`` come from the structures, so the
structure store's state is part of the key too (an import changes it). ``answer_cache_mb=0``
turns the cache off.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_ANSWER_BYTES = 1 << 20


@dataclass(frozen=True)
class Answer:
    """One rendered answer: its bytes, media type, observation count and what it read."""

    body: bytes
    media_type: str
    observations: int
    counts: tuple[int, ...]  # observations per readable version, in the order they were read
    etag: str


def make_answer(body: bytes, media_type: str, observations: int, counts: tuple[int, ...]) -> Answer:
    """An :class:`Answer` with its strong ETag (a digest of the bytes)."""
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    return Answer(body, media_type, observations, counts, etag)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an ``If-None-Match`` header names ``etag`` (or is ``*``)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


class AnswerCache:
    """A bounded LRU of :class:`Answer` by key (thread-safe)."""

    def __init__(self, max_bytes: int, *, max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_answer_bytes = min(max_answer_bytes, max_bytes)
        self._items: OrderedDict[Any, Answer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key: Any) -> Answer | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Any, answer: Answer) -> None:
        size = len(answer.body)
        if not self.enabled or size > self.max_answer_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._items[key] = answer
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._items)
