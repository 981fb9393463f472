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

A change this process makes is known in full (Partitions tells `changed` after it commits: the versions
before and after, partitions added and dropped), so the whole listings of its table (all partitions, all
names) are kept across it: an answer kept at the version the change started from is updated in place and
kept at the version it made (`SortedAnswer`: sorted by name, in chunks, only the chunks touched are made
again). Updating is idempotent (an answer read after the change committed but kept under the version from
before holds the change already), and an answer is still used only at the version it is kept at: after
any other change, by any process, it is made again from storage. Whole answers to a filter are kept per
chunk of the table and brought up to date by filtering only the chunks changed (catalog/filtered_chunks.py).
"""

from __future__ import annotations

import struct
import threading
import weakref
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator

from metastore.catalog import partitions as catalog_partitions
from metastore.catalog.chunks import ChunkCache

_I32 = struct.Struct(">i").pack


class ListingCache:
    """Encoded answers (lists of byte strings) by (table, request), each with the version it holds."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[object, list[bytes], int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()  # hits, misses, updated (reported by fb303 getCounters)
        # the tables' encoded partition chunks this process has read (catalog/chunks.py), in the same budget
        self.chunks = ChunkCache(max_bytes) if max_bytes > 0 else None
        if max_bytes > 0:
            catalog_partitions.CHANGE_LISTENERS.append(weakref.WeakMethod(self.changed))

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

    def lookup(self, key: tuple, version: object) -> list[bytes] | None:
        """The answer kept for `key` at `version` (read by the caller in the same read as what it answers
        from, before it), or None."""
        if self.max_bytes <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version and isinstance(entry[1], list):
                self._entries.move_to_end(key)
                self.counts["hits"] += 1
                return entry[1]
            self.counts["misses"] += 1
        return None

    def count(self, name: str, **more: int) -> None:
        """Add one to the counter `name` (and `more`'s amounts to theirs)."""
        with self._lock:
            self.counts[name] += 1
            self.counts.update(more)

    def held(self, key: tuple) -> object | None:
        """What is kept under `key` at whatever version (a filter's answer per chunk, which the caller
        brings up to date: catalog/filtered_chunks.py), or None."""
        if self.max_bytes <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def hold(self, key: tuple, version: object, value: object, size: int) -> None:
        """Keep `value` (see `held`) under `key`, if it fits."""
        if 0 < self.max_bytes and size <= self.max_bytes:
            self._put(key, version, value, size)

    def keep(self, key: tuple, version: object, pieces: list[bytes]) -> None:
        self.hold(key, version, pieces, sum(map(len, pieces)))

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

    def _put(self, key: tuple, version: object, pieces, size: int) -> None:
        with self._lock:
            self._put_locked(key, version, pieces, size)

    def _put_locked(self, key: tuple, version: object, pieces, size: int) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= old[2]
        self._entries[key] = (version, pieces, size)
        self._size += size
        while self._size > self.max_bytes:
            _, (_, _, freed) = self._entries.popitem(last=False)
            self._size -= freed

    def answer_sorted(self, key: tuple, version_of: Callable[[], object], build: Callable[[], SortedAnswer]) -> list[bytes]:
        """As `answer`, for whole listings (`build()` makes a SortedAnswer): kept whatever their size within the
        cache's, and updated in place by this process's own changes (see `changed`)."""
        if self.max_bytes <= 0:
            return build().pieces()
        version = version_of()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                self.counts["hits"] += 1
                return entry[1].pieces()
            self.counts["misses"] += 1
        answer = build()
        if answer.size <= self.max_bytes:
            self._put(key, version, answer, answer.size)
        return answer.pieces()

    def changed(self, change: catalog_partitions.PartitionsChange) -> None:
        """A change this process committed: the table's whole listings kept at `change.old` are updated and
        kept at `change.new` (others are left to fail their version check)."""
        from metastore.hms import wire

        added_items: dict[str, dict[str, bytes]] = {}
        for request in (("all", -1), ("names", -1)):
            key = (change.catalog, change.db, change.table, *request)
            with self._lock:
                entry = self._entries.get(key)
                if entry is None or entry[0] != change.old or not isinstance(entry[1], SortedAnswer):
                    continue
            if request[0] == "names":
                names = [r[0] for r in change.added]
                added = dict(zip(names, wire.string_items(names), strict=True))
            else:
                listing = catalog_partitions.PartitionRows(change.db, change.table, change.catalog, [],
                                                           change.table_info)  # fmt: skip
                added = dict(zip((r[0] for r in change.added),
                                 wire.encode_partitions(listing, [r[1:] for r in change.added]), strict=True))  # fmt: skip
            added_items[request[0]] = added
            updated = entry[1].applied(added, set(change.dropped))
            with self._lock:
                if self._entries.get(key) is entry:  # not replaced meanwhile
                    self._put_locked(key, change.new, updated, updated.size)
                    self.counts["updated"] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {**{k: self.counts[k] for k in ("hits", "misses", "updated", "filter_chunks_filtered",
                                                   "filter_chunks_reused")},
                    "entries": len(self._entries), "bytes": self._size}  # fmt: skip


class SortedAnswer:
    """A list<T> answer whose elements are sorted by name (partitions, partition names), kept in chunks of
    (names, elements' bytes, the chunk's bytes), so that a change re-makes only the chunks it touches."""

    CHUNK = 512

    def __init__(self, element_type: int, chunks: list[tuple[list[str], list[bytes], bytes]]):
        self.element_type = element_type
        self.chunks = chunks
        self.count = sum(len(c[0]) for c in chunks)
        self.size = 5 + sum(len(c[2]) for c in chunks)
        self._pieces: list[bytes] | None = None

    @classmethod
    def of(cls, element_type: int, names: list[str], items: list[bytes]) -> SortedAnswer:
        n = cls.CHUNK
        return cls(element_type, [(names[i : i + n], items[i : i + n], b"".join(items[i : i + n]))
                                  for i in range(0, len(names), n)])  # fmt: skip

    def pieces(self) -> list[bytes]:
        """The list's header (element type, count), then the chunks' bytes."""
        if self._pieces is None:
            self._pieces = [bytes([self.element_type]) + _I32(self.count), *(c[2] for c in self.chunks)]
        return self._pieces

    def applied(self, added: dict[str, bytes], dropped: set[str]) -> SortedAnswer:
        """A new answer: `added` (name → bytes) put in (replacing any of the same name), `dropped` taken out."""
        firsts = [c[0][0] for c in self.chunks]
        touched: dict[int, dict[str, bytes]] = {}
        for name in (*added, *dropped):
            at = max(bisect_right(firsts, name) - 1, 0)
            if at not in touched:
                if self.chunks:
                    touched[at] = dict(zip(self.chunks[at][0], self.chunks[at][1], strict=True))
                else:
                    touched[at] = {}
            items = touched[at]
            if name in added:
                items[name] = added[name]
            else:
                items.pop(name, None)
        chunks: list = []
        for i in range(max(len(self.chunks), 1 if touched else 0)):
            if i not in touched:
                chunks.append(self.chunks[i])
                continue
            names = sorted(touched[i])
            values = [touched[i][k] for k in names]
            for j in range(0, len(names), self.CHUNK):
                part = values[j : j + self.CHUNK]
                chunks.append((names[j : j + self.CHUNK], part, b"".join(part)))
        return SortedAnswer(self.element_type, chunks)
