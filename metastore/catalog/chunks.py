"""A table's partitions kept encoded, in chunks of consecutive names (`partition_chunks`, issue 17).

The whole listings, get_partitions and get_partition_names, are the answers engines ask for most after an
ETL step changed a table. Made from the partition rows they cost a fetch of every row and an encoding of
every partition (~60-90 ms of CPU for 10,000 partitions); kept here they are a concatenation of a few rows.

- Each chunk holds up to 2 × CHUNK partitions with consecutive names: their list<string> elements (`names`),
  their list<Partition> elements as TBinaryProtocol writes them (`parts`, with each one's end in `ends`),
  and a random `version`, new with every content.
- Every change to a table's partitions rewrites, in its own transaction, the chunks holding the names it
  added, changed or dropped (`sync`), and sets `tables.chunks_version` to the new `partitions_version`.
  Readers use the chunks only while the two are equal: a change made any other way (a table renamed, its
  partitions relocated or given new columns, rows written straight into storage) leaves them unequal and
  sends readers to the partition rows, until the table's next partition change makes the chunks again.
- A reader reads the table's chunk list (ids, versions, counts) in one statement with the two versions, and
  then only the chunks it does not hold already (each server process keeps chunks by id and version,
  `ChunkCache`): after another process's change, it reads back the one or two chunks the change touched.
  On PostgreSQL (each statement its own snapshot) a chunk whose version changed between the two statements
  makes the read start again; on SQLite both run in one transaction.

Exact by construction: a chunk's bytes are those the encoder writes for its rows (the same function as the
row path, wire.encode_partitions), and they are used only at the partitions version they were written at.
"""

from __future__ import annotations

import random
import struct
import threading
from bisect import bisect_right
from collections import OrderedDict

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from metastore.storage.models import PartitionChunkRow, PartitionRow, TableRow

CHUNK = 512  # partitions per chunk made; a chunk is split when it grows past 2 × CHUNK
_I32 = struct.Struct(">i")


def _pack_ends(items: list[bytes]) -> bytes:
    ends, at = [], 0
    for b in items:
        at += len(b)
        ends.append(at)
    return struct.pack(f">{len(ends)}i", *ends)


def _split_parts(parts: bytes, ends: bytes) -> list[bytes]:
    offsets = struct.unpack(f">{len(ends) // 4}i", ends)
    out, start = [], 0
    for end in offsets:
        out.append(parts[start:end])
        start = end
    return out


def _split_names(names: bytes) -> list[tuple[str, bytes]]:
    """(name, its list<string> element) of a chunk's `names`."""
    out, at, n = [], 0, len(names)
    unpack = _I32.unpack_from
    while at < n:
        (size,) = unpack(names, at)
        item = names[at : at + 4 + size]
        out.append((item[4:].decode(), item))
        at += 4 + size
    return out


def _name_item(name: str) -> bytes:
    b = name.encode()
    return _I32.pack(len(b)) + b


def encode_rows(t, rows: list[tuple]) -> dict[str, tuple[bytes, bytes]]:
    """name → (names element, parts element) of rows of partitions.NAMED_COLUMNS."""
    # the encoder of HMS answers, imported late: it imports the catalog
    from metastore.catalog.partitions import PartitionRows
    from metastore.hms import wire

    listing = PartitionRows(t.db, t.name, t.catalog, [], t)
    encoded = wire.encode_partitions(listing, [r[1:] for r in rows])
    return {r[0]: (_name_item(r[0]), b) for r, b in zip(rows, encoded, strict=True)}


def _rows(conn: Connection, t, names: list[str] | None) -> list[tuple]:
    from metastore.catalog.partitions import NAMED_COLUMNS

    if names is None:
        return conn.execute(select(*NAMED_COLUMNS).where(PartitionRow.table_id == t.id).order_by(PartitionRow.name)).all()
    out: list[tuple] = []
    for i in range(0, len(names), 500):
        out += conn.execute(select(*NAMED_COLUMNS).where(PartitionRow.table_id == t.id,
                                                         PartitionRow.name.in_(names[i : i + 500]))).all()  # fmt: skip
    return out


def _chunk_rows(t, items: dict[str, tuple[bytes, bytes]]) -> list[dict]:
    """Chunk rows of `items`, sorted by name: one chunk up to 2 × CHUNK, else pieces of CHUNK."""
    names = sorted(items)
    size = len(names) if len(names) <= 2 * CHUNK else CHUNK
    out = []
    for i in range(0, len(names), size or 1):
        piece = names[i : i + size]
        parts = [items[n][1] for n in piece]
        out.append({"table_id": t.id, "first_name": piece[0], "version": random.getrandbits(62), "count": len(piece),
                    "names": b"".join(items[n][0] for n in piece), "ends": _pack_ends(parts),
                    "parts": b"".join(parts)})  # fmt: skip
    return out


def sync(conn: Connection, t, changed: list[str] = (), dropped: list[str] = (),
         encoded: dict[str, tuple[bytes, bytes]] | None = None) -> None:
    """Bring the table's chunks to its partition rows as this transaction leaves them: `changed` names
    (added, altered, renamed to) are read back and encoded, `dropped` ones taken out. Chunks not at the
    version the change started from are made again whole. `t` is the partitions._TableInfo of the change
    (`_table_to_change`: its row locked, `new_version` set). `encoded`: the changed partitions' elements, as
    `encode_rows` made them for the rows written (else they are read back, encoded, and kept in their rows'
    `encoded` too)."""
    if t.chunks_version is None or t.chunks_version not in (t.version, t.new_version):
        if changed and encoded is None:
            _reencoded(conn, t, list(changed))
        rebuild(conn, t)
        return
    changed = list(dict.fromkeys(changed))
    dropped = [n for n in dict.fromkeys(dropped) if n not in set(changed)]
    if changed or dropped:
        index = conn.execute(select(PartitionChunkRow.id, PartitionChunkRow.first_name)
                             .where(PartitionChunkRow.table_id == t.id).order_by(PartitionChunkRow.first_name)).all()  # fmt: skip
        firsts = [r[1] for r in index]
        touched: set[int] = set()
        for name in (*changed, *dropped):
            touched.add(max(bisect_right(firsts, name) - 1, 0))
        ids = [index[i][0] for i in sorted(touched) if i < len(index)]
        items: dict[str, tuple[bytes, bytes]] = {}
        for i in range(0, len(ids), 500):
            for names, ends, parts in conn.execute(select(PartitionChunkRow.names, PartitionChunkRow.ends,
                                                          PartitionChunkRow.parts).where(
                                                              PartitionChunkRow.id.in_(ids[i : i + 500]))):  # fmt: skip
                for (name, item), part in zip(_split_names(names), _split_parts(parts, ends), strict=True):
                    items[name] = (item, part)
        for name in dropped:
            items.pop(name, None)
        if encoded is not None:
            fresh = encoded
        else:
            fresh = _reencoded(conn, t, changed) if changed else {}
        for name in changed:
            if name in fresh:
                items[name] = fresh[name]
            else:  # not among the rows (a change that found nothing to alter): not a partition
                items.pop(name, None)
        # the touched chunks are replaced; each run of consecutive touched chunks becomes new chunks
        for i in range(0, len(ids), 500):
            conn.execute(delete(PartitionChunkRow).where(PartitionChunkRow.id.in_(ids[i : i + 500])))
        _insert(conn, _runs(t, items, sorted(touched), firsts))
    _synced(conn, t)


def _synced(conn: Connection, t) -> None:
    if t.chunks_version != t.new_version:
        conn.execute(update(TableRow).where(TableRow.id == t.id).values(chunks_version=t.new_version))
        t.chunks_version = t.new_version  # a second sync in the same transaction goes on from here


def _reencoded(conn: Connection, t, names: list[str]) -> dict[str, tuple[bytes, bytes]]:
    """The partitions named, read back (as this transaction leaves them), encoded, and kept encoded in their rows."""
    rows = _rows(conn, t, names)
    out = encode_rows(t, rows)
    if rows:
        conn.execute(update(PartitionRow).where(PartitionRow.id == bindparam("pid")).values(encoded=bindparam("enc")),
                     [{"pid": r[1], "enc": out[r[0]][1]} for r in rows])  # fmt: skip
    return out


def _runs(t, items: dict, touched: list[int], firsts: list[str]) -> list[dict]:
    """Chunk rows for the items of the touched chunks: made per run of adjacent touched chunks, so that
    untouched chunks keep their place in the name order."""
    out = []
    names = sorted(items)
    if not names:
        return out
    # the name ranges of the untouched chunks: items between two of them form one run
    touched_set = set(touched)
    bounds = [firsts[i] for i in range(len(firsts)) if i not in touched_set]
    run: dict[str, tuple[bytes, bytes]] = {}
    j = 0
    for name in names:
        while j < len(bounds) and bounds[j] <= name:
            j += 1
            if run:
                out += _chunk_rows(t, run)
                run = {}
        run[name] = items[name]
    if run:
        out += _chunk_rows(t, run)
    return out


def _insert(conn: Connection, rows: list[dict]) -> None:
    for row in rows:
        conn.execute(insert(PartitionChunkRow).values(**row))


def rebuild(conn: Connection, t) -> None:
    """Make the table's chunks again from its partition rows (in the transaction of a change: `t.new_version`)."""
    conn.execute(delete(PartitionChunkRow).where(PartitionChunkRow.table_id == t.id))
    rows = _rows(conn, t, None)
    if rows:
        items = encode_rows(t, rows)
        # rows without their encoding (written otherwise, or of a table renamed since) get it now
        bare = conn.execute(select(PartitionRow.id, PartitionRow.name).where(
            PartitionRow.table_id == t.id, PartitionRow.encoded.is_(None))).all()  # fmt: skip
        for i in range(0, len(bare), 1000):
            conn.execute(update(PartitionRow).where(PartitionRow.id == bindparam("pid")).values(encoded=bindparam("enc")),
                         [{"pid": pid, "enc": items[name][1]} for pid, name in bare[i : i + 1000]])  # fmt: skip
        names = [r[0] for r in rows]
        size = CHUNK
        chunk_rows = []
        for i in range(0, len(names), size):
            chunk_rows += _chunk_rows(t, {n: items[n] for n in names[i : i + size]})
        _insert(conn, chunk_rows)
    t.chunks_version = None
    _synced(conn, t)


# --- reading ------------------------------------------------------------------------------------------


class ChunkCache:
    """Chunk columns this process has read, by (table id, chunk id, version, column), least recently used
    first out; and, per table and column, the versions held (sent with a read on PostgreSQL, see `read`)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, bytes] = OrderedDict()
        self._held: dict[tuple, set[int]] = {}
        self._size = 0
        self._lock = threading.Lock()
        self.answered = 0  # whole listings answered from chunks
        self.fetched = 0  # chunks read from storage for them (the others were held)

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            out = self._entries.get(key)
            if out is not None:
                self._entries.move_to_end(key)
            return out

    def get_many(self, keys: list[tuple]) -> dict[tuple, bytes]:
        """Those of `keys` held (one lock for all: a listing of 1,000,000 partitions is some 2,000 chunks)."""
        out = {}
        with self._lock:
            entries = self._entries
            for key in keys:
                value = entries.get(key)
                if value is not None:
                    entries.move_to_end(key)
                    out[key] = value
        return out

    def held(self, table_id: int, column: str) -> list[int]:
        with self._lock:
            return list(self._held.get((table_id, column), ()))

    def put(self, key: tuple, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._entries[key] = value
            self._held.setdefault((key[0], key[3]), set()).add(key[2])
            self._size += len(value)
            while self._size > self.max_bytes:
                (tid, _cid, version, column), freed = self._entries.popitem(last=False)
                self._held.get((tid, column), set()).discard(version)
                self._size -= len(freed)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"answered": self.answered, "fetched": self.fetched, "entries": len(self._entries),
                    "bytes": self._size}


COLUMNS = ("names", "parts")
_FROM = ("FROM catalogs k JOIN databases d ON d.catalog_id = k.id JOIN tables t ON t.database_id = d.id "
         "LEFT JOIN partition_chunks c ON c.table_id = t.id {held}"
         "WHERE k.name = {p} AND d.name = {p} AND t.name = {p} ORDER BY c.first_name")  # fmt: skip
_SQLITE_LIST = ("SELECT t.id, t.partitions_version, t.chunks_version, c.id, c.version, c.count, NULL "
                + _FROM.format(held="", p="?"))  # fmt: skip
# PostgreSQL: one statement (one snapshot, one round trip) gives the chunk list and the bytes of the chunks
# this process does not hold (their versions are sent along)
_PG_READ = {column: f"SELECT t.id, t.partitions_version, t.chunks_version, c.id, c.version, c.count, "
                    f"CASE WHEN h.v IS NULL THEN c.{column} END "
                    + _FROM.format(held="LEFT JOIN unnest(%s::bigint[]) AS h(v) ON h.v = c.version ", p="%s")
            for column in COLUMNS}  # fmt: skip


def _fetch_sql(dialect: str, column: str, n: int) -> str:
    if dialect == "postgresql":
        return f"SELECT id, version, {column} FROM partition_chunks WHERE id = ANY(%s)"
    return f"SELECT id, version, {column} FROM partition_chunks WHERE id IN ({', '.join('?' * n)})"


def read(r, catalog: str, db: str, table: str, column: str, cache: ChunkCache | None) -> tuple[int, list[bytes]] | None:
    """(partition count, each chunk's `column` bytes in name order) of the table's chunks, or None when
    they do not hold its partitions (or the table is not found: readers then take the rows, which say why).
    `r` is a base.DbapiReader; names as stored (lower case)."""
    assert column in COLUMNS
    dialect = r.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return None
    cursor = r.cursor
    names = (catalog, db, table)
    for _attempt in range(3):
        if dialect == "postgresql":
            held = [] if cache is None else _held_for(cache, names, column)
            # the versions as an array's text: psycopg's own list adapter looks at each element (~2 µs each)
            cursor.execute(_PG_READ[column], ("{" + ",".join(map(str, held)) + "}", *names))
        else:
            cursor.execute(_SQLITE_LIST, names)
        listed = cursor.fetchall()
        if not listed or listed[0][1] != listed[0][2]:
            return None
        if listed[0][3] is None:  # no chunks: no partitions
            return 0, []
        table_id = listed[0][0]
        if cache is not None:
            _TABLE_IDS[names] = table_id
        got: dict[int, bytes] = {}
        wanted: dict[int, int] = {}
        fetched = 0
        held_bytes = cache.get_many([(table_id, row[3], row[4], column) for row in listed if row[6] is None]) if cache is not None else {}
        for _tid, _pv, _cv, cid, version, _count, data in listed:
            if data is not None:
                data = bytes(data)
                got[cid] = data
                fetched += 1
                if cache is not None:
                    cache.put((table_id, cid, version, column), data)
                continue
            kept = held_bytes.get((table_id, cid, version, column))
            if kept is None:
                wanted[cid] = version
            else:
                got[cid] = kept
        ids = list(wanted)  # held when the statement was sent, dropped from the cache since (or SQLite)
        ok = True
        for i in range(0, len(ids), 500):
            piece = ids[i : i + 500]
            cursor.execute(_fetch_sql(dialect, column, len(piece)), (piece,) if dialect == "postgresql" else tuple(piece))
            for cid, version, data in cursor.fetchall():
                if wanted.get(cid) != version:  # changed meanwhile (PostgreSQL: statements see the latest commit)
                    ok = False
                    continue
                data = bytes(data)
                got[cid] = data
                fetched += 1
                if cache is not None:
                    cache.put((table_id, cid, version, column), data)
        if ok and len(got) == len(listed):
            if cache is not None:
                cache.answered += 1
                cache.fetched += fetched
            return sum(row[5] for row in listed), [got[row[3]] for row in listed]
    return None


_TABLE_IDS: dict[tuple, int] = {}  # (catalog, db, table) → the id last seen: whose held versions to send


def _held_for(cache: ChunkCache, names: tuple, column: str) -> list[int]:
    table_id = _TABLE_IDS.get(names)
    return cache.held(table_id, column) if table_id is not None else []
