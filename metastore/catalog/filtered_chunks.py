"""A filter's whole answer kept chunk by chunk (catalog/chunks.py), so that after a change to the table only
the chunks the change touched are filtered again (issue 17).

get_partitions_by_filter is what engines ask after each ETL step that added a partition, and on a large table
its first answer after a change is the expensive one: the partitions a filter selects lie anywhere in
storage (`hr = 42` picks one row in a hundred), each a random row read. Kept per chunk, the answer survives
the change: a chunk's partitions are fixed by its (id, version), and so is what a filter selects from them.

After a change (the table's `partitions_version` differs from the one the kept answer was made at), a reader
lists the table's chunks (ids, versions, first names: from one covering index), runs the filter only over
the name ranges of the chunks whose version it does not hold, and keeps the other chunks' parts of the
answer. Exact by construction: every part comes from a chunk at the version it was filtered at, and the
filter runs as a statement over the partition rows: over the whole table as without chunks, over a name
range in its correlated form (a look-up per partition), which selects the same rows (both forms are
checked against each other on every case of tests/test_partition_filter.py).
Used only while the chunks hold the table's partitions (`chunks_version` = `partitions_version`); on
PostgreSQL, where each statement sees the latest commit, the table's versions are read again last, and an
answer made across a commit is not used.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

_LIST_SQL = {"sqlite": "SELECT id, version, first_name FROM partition_chunks WHERE table_id = ? ORDER BY first_name",
             "postgresql": "SELECT id, version, first_name FROM partition_chunks WHERE table_id = %s "
                           "ORDER BY first_name"}  # fmt: skip
_VERSIONS_SQL = "SELECT partitions_version, chunks_version FROM tables WHERE id = %s"
WHOLE = 4  # one chunk in WHOLE or more stale: the filter runs once over the whole table


@dataclass
class KeptFilter:
    """A filter's answer at a partitions `version`: per chunk id, (chunk version, the list<Partition>
    elements it selects from that chunk, joined, and how many), and the answer's pieces in name order."""

    table: tuple  # the table's id and partition keys it was made for
    version: int
    chunks: dict[int, tuple[int, bytes, int]]
    pieces: list[bytes]
    filtered: int = 0  # chunks the filter ran over to make it (the others came from the answer before)

    @property
    def size(self) -> int:
        return sum(map(len, self.pieces)) + 64 * len(self.chunks)


def answer(r, t, kept: KeptFilter | None,
           select: Callable[[str | None, str | None], list[tuple[str, bytes]]]) -> KeptFilter | None:  # fmt: skip
    """The filter's answer on table `t` (partitions._TableInfo, read in this read), from `kept` where its
    chunks are current. `select(lo, hi)`: (name, element) of the partitions the filter selects with
    lo <= name < hi (None: unbounded), in any order. None when the chunks do not hold the partitions
    (or, on PostgreSQL, they changed during the read)."""
    dialect = r.dialect.name
    if dialect not in _LIST_SQL or t.chunks_version != t.version:
        return None
    table = (t.id, tuple((k.name.lower(), k.type.lower()) for k in t.keys))
    if kept is not None and kept.table != table:
        kept = None
    if kept is not None and kept.version == t.version:
        return kept
    cursor = r.cursor
    cursor.execute(_LIST_SQL[dialect], (t.id,))
    listed = cursor.fetchall()
    firsts = [row[2] for row in listed]
    if kept is None:
        stale = list(range(len(listed)))
    else:
        stale = [
            i for i, (cid, version, _) in enumerate(listed) if kept.chunks.get(cid, (None,))[0] != version
        ]
    if len(stale) * WHOLE >= len(listed):  # (no chunks: the filter still runs, to say if it is invalid)
        matches = select(None, None)
    else:
        matches = []
        for a, b in _runs(stale):
            matches += select(firsts[a] if a > 0 else None, firsts[b + 1] if b + 1 < len(listed) else None)
    matches.sort(key=lambda m: m[0])
    fresh: dict[int, list[bytes]] = {i: [] for i in stale}
    for name, item in matches:
        at = max(bisect_right(firsts, name) - 1, 0)
        if at not in fresh:  # a match outside the ranges asked for: not possible, unless storage changed
            return None
        fresh[at].append(item)
    chunks: dict[int, tuple[int, bytes, int]] = {}
    for i, (cid, version, _) in enumerate(listed):
        if i in fresh:
            chunks[cid] = (version, b"".join(fresh[i]), len(fresh[i]))
        else:
            chunks[cid] = kept.chunks[cid]
    if dialect == "postgresql":
        cursor.execute(_VERSIONS_SQL, (t.id,))
        if cursor.fetchone() != (t.version, t.version):
            return None
    count = sum(c[2] for c in chunks.values())
    pieces = [b"\x0c" + struct.pack(">i", count)]  # list<Partition>: element type struct, count
    pieces += [chunks[row[0]][1] for row in listed if chunks[row[0]][2]]
    return KeptFilter(table, t.version, chunks, pieces, len(fresh))


def _runs(indexes: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive indexes, as (first, last)."""
    out: list[tuple[int, int]] = []
    for i in indexes:
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out
