"""Encoded partition listings kept by each server process, for as long as their table's partitions stay
the same.

Engines list the same partitions again and again (every query plan of a partitioned table asks for
them), and a listing of 10,000 partitions costs some 30 ms to read and encode even straight from rows
(see wire.py), against about 3 ms to send once encoded. So each answer is kept, encoded, under the
request that asked for it, with the table's `partitions_version` at the time: every change to a table's
partitions, made by any process, gives that column a new value in the same transaction (see
Partitions._table_to_change), and every call reads it before answering (one indexed look-up). An
answer is used only while the version it was made under is still the table's: a change is seen at
once, whichever process made it, and nothing is ever stale.

The version is read before the rows: an answer may hold changes newer than its version, never older.
Memory is bounded per process (`listing_cache_mb`); the least recently used answers go first.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator


class ListingCache:
    """Encoded answers (lists of byte strings) by (table, request), each with the version it holds."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[object, list[bytes], int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()  # hits, misses (reported by fb303 getCounters)

    def answer(
        self, key: tuple, version_of: Callable[[], object], encode: Callable[[], Iterable[bytes]]
    ) -> Iterable[bytes]:
        """The answer to the request `key` at the table's version now (`version_of()`, read before anything
        `encode` reads): kept bytes, or `encode()`'s pieces, kept as they go out (an answer whose sending
        fails half way is not kept). A cache of no size reads no version."""
        if self.max_bytes <= 0:
            return encode()
        version = version_of()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                self.counts["hits"] += 1
                return entry[1]
            self.counts["misses"] += 1
        return self._keeping(key, version, encode())

    def _keeping(self, key: tuple, version: object, pieces: Iterable[bytes]) -> Iterator[bytes]:
        kept: list[bytes] | None = []
        size = 0
        for piece in pieces:
            size += len(piece)
            if kept is not None:
                if size > self.max_bytes:
                    kept = None  # larger than the whole cache: sent as it is encoded, never held
                else:
                    kept.append(piece)
            yield piece
        if kept is not None:
            self._put(key, version, kept, size)

    def _put(self, key: tuple, version: object, pieces: list[bytes], size: int) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[2]
            self._entries[key] = (version, pieces, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, _, freed) = self._entries.popitem(last=False)
                self._size -= freed

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.counts["hits"], "misses": self.counts["misses"], "entries": len(self._entries),
                    "bytes": self._size}  # fmt: skip
