"""Answers encoded straight from storage rows as TBinaryProtocol bytes: partition listings and tables.

Through Thrift objects, a listing of 10,000 partitions costs about 0.2 s of Python: some 300,000
objects built, then walked again by the encoder. But the partitions of a table nearly always share
one storage-descriptor text and few parameter texts (see `PartitionRow.sd`): here each distinct text
is converted and encoded once per listing, by the generated code, and a partition's bytes are those
encodings with its own values, times and location spliced in. A listing keeps nothing across calls,
so nothing can go stale when another server process changes the table; it goes out in pieces, so that
the client decodes the first partitions while the server encodes the next.

A table's encoding is a pure function of its stored row: each process keeps the encodings of recent
rows, looked up by the row's whole content, read on every call. Any change to the table changes its row,
so a change made through another process is seen at once, as without the cache.

The output is byte for byte what the generated code writes for the same objects (the tests compare the
two). Only the binary protocol is written this way; compact connections take the ordinary path.
"""

from __future__ import annotations

import hashlib
import struct
from json.decoder import JSONDecoder

from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.transport.TTransport import TMemoryBuffer

from metastore.catalog import codec
from metastore.catalog.partitions import PartitionRows, with_location
from metastore.catalog.tables import table_from_row
from metastore.hms import convert as cv
from metastore.hms.gen.hive import ttypes as tt

_I32 = struct.Struct(">i").pack
_TIMES = struct.Struct(">bhibhi").pack  # createTime (i32, field 4) and lastAccessTime (i32, field 5)
_VALUES_HEAD = bytes([15, 0, 1, 11])  # field 1 (values): list<string>
_LOCATION_HEAD = bytes([11, 0, 2])  # StorageDescriptor field 2 (location): string
_SD_HEAD = bytes([12, 0, 6])  # Partition field 6 (sd): struct
_SENTINEL = "\x00mortar:partition-location\x00"
_SENTINEL_FIELD = _LOCATION_HEAD + _I32(len(_SENTINEL.encode())) + _SENTINEL.encode()
_scan = JSONDecoder().scan_once  # json.loads without its two whitespace regex matches per call


def encode(obj) -> bytes:
    """`obj` (a Thrift struct) as the generated code writes it on a binary connection."""
    buf = TMemoryBuffer()
    obj.write(TBinaryProtocolAccelerated(buf))
    return buf.getvalue()


def partitions_in(parts: list[tt.Partition], catalog: str, db: str, table: str) -> list:
    """Partitions as the catalog takes them (convert.partition_in), converting each distinct storage
    descriptor once: the partitions of one add_partitions nearly always differ only in their values and
    locations, and a descriptor's conversion costs more than the rest of the partition's whole add. A
    partition whose descriptor equals the previous one's but for its location gets a copy of that one's
    conversion (sharing its columns, serde... which the catalog only reads) at its own location."""
    out = []
    prev_in: tt.StorageDescriptor | None = None
    prev_out = None
    for p in parts:
        sd = p.sd
        if prev_in is not None and sd is not None:
            location, sd.location = sd.location, prev_in.location
            same = sd == prev_in
            sd.location = location
            if same:
                p.sd = None  # converted below without it
                part = cv.partition_in(p, catalog, db, table)
                p.sd = sd
                part.sd = with_location(prev_out, location or None)
                out.append(part)
                continue
        part = cv.partition_in(p, catalog, db, table)
        prev_in, prev_out = sd, with_location(part.sd, part.sd.location)
        out.append(part)
    return out


def _fields(**values) -> bytes:
    """The bytes of some fields of a Partition, in field order, without the struct's stop byte."""
    p = tt.Partition(**values)
    if "writeId" not in values:
        p.writeId = None  # the IDL gives it a default (-1): encoded once, in the tail
    return encode(p)[:-1]


class _Encoder:
    """One listing's encoder: the encoded parts shared by partitions, by stored text."""

    def __init__(self, listing: PartitionRows):
        self.names = _fields(dbName=listing.db, tableName=listing.table)
        self.tail = encode(tt.Partition(catName=listing.catalog))  # catName, writeId (default), stop
        self.sds: dict[str, tuple[bytes, bytes] | None] = {}
        self.params: dict[str, bytes] = {}

    def sd(self, text: str) -> tuple[bytes, bytes] | None:
        """The descriptor's bytes before and after its location field; None if they cannot be split."""
        try:
            return self.sds[text]
        except KeyError:
            pass
        sd = codec.sd_from_json(codec.loads(text))
        sd.location = _SENTINEL
        whole = _SD_HEAD + encode(cv.sd_out(sd))
        at = whole.find(_SENTINEL_FIELD)
        split = None
        if at >= 0 and whole.find(_SENTINEL_FIELD, at + 1) < 0:
            split = whole[:at], whole[at + len(_SENTINEL_FIELD) :]
        self.sds[text] = split
        return split

    def parameters(self, text: str) -> bytes:
        out = self.params.get(text)
        if out is None:
            out = self.params[text] = _fields(parameters=codec.loads(text))
        return out


CHUNK = 500  # partitions per chunk of `partition_chunks`


def partition_list(listing: PartitionRows) -> bytes:
    """The listing as the value of a list<Partition>: element type, count, then the partitions."""
    return b"".join(partition_chunks(listing))


def partition_chunks(listing: PartitionRows):
    """`partition_list` in pieces of CHUNK partitions (the first piece is the list's header), so that
    the server can send the first partitions while it encodes the next and the client decodes them."""
    rows = listing.rows
    yield bytes([12]) + _I32(len(rows))
    enc = _Encoder(listing)
    for i in range(0, len(rows), CHUNK):
        yield _encode_rows(enc, listing, rows[i : i + CHUNK])


def _encode_rows(enc: _Encoder, listing: PartitionRows, rows: list[tuple]) -> bytes:
    out: list[bytes] = []
    append = out.append
    names, tail = enc.names, enc.tail
    sds, params = enc.sds, enc.params
    for _id, values, create_time, last_access_time, location, sd, parameters in rows:
        parts = sds.get(sd) or enc.sd(sd)
        if parts is None or create_time is None or last_access_time is None:
            append(_slow(listing, (_id, values, create_time, last_access_time, location, sd, parameters)))
            continue
        vals = _scan(values, 0)[0]
        encoded = [v.encode() for v in vals]
        append(_VALUES_HEAD + _I32(len(encoded)) + b"".join([_I32(len(b)) + b for b in encoded]))
        append(names)
        append(_TIMES(8, 4, create_time, 8, 5, last_access_time))
        append(parts[0])
        if location is not None:
            b = location.encode()
            append(_LOCATION_HEAD + _I32(len(b)) + b)
        append(parts[1])
        append(params.get(parameters) or enc.parameters(parameters))
        append(tail)
    return b"".join(out)


def partition_items(listing: PartitionRows) -> tuple[list[str], list[bytes]]:
    """A listing of rows of NAMED_COLUMNS (name, then the usual columns) as (names, each partition's
    bytes), for answers kept partition by partition (listings.SortedAnswer)."""
    names = [r[0] for r in listing.rows]
    return names, encode_partitions(listing, [r[1:] for r in listing.rows])


def encode_partitions(listing: PartitionRows, rows: list[tuple]) -> list[bytes]:
    """Each row's Partition bytes (rows of the usual columns, see PartitionRows)."""
    enc = _Encoder(listing)
    out: list[bytes] = []
    append = out.append
    names, tail = enc.names, enc.tail
    sds, params = enc.sds, enc.params
    join = b"".join
    for row in rows:
        _id, values, create_time, last_access_time, location, sd, parameters = row
        parts = sds.get(sd) or enc.sd(sd)
        if parts is None or create_time is None or last_access_time is None:
            append(_slow(listing, row))
            continue
        encoded = [v.encode() for v in _scan(values, 0)[0]]
        loc = b"" if location is None else _LOCATION_HEAD + _I32(len(b := location.encode())) + b
        append(join((_VALUES_HEAD, _I32(len(encoded)), *[_I32(len(v)) + v for v in encoded], names,
                     _TIMES(8, 4, create_time, 8, 5, last_access_time), parts[0], loc, parts[1],
                     params.get(parameters) or enc.parameters(parameters), tail)))  # fmt: skip
    return out


def _slow(listing: PartitionRows, row: tuple) -> bytes:
    """One partition through Thrift objects: for what the splicing does not cover."""
    from metastore.catalog.partitions import Partitions

    (part,) = Partitions._partitions(listing.table_info, [row])  # noqa: SLF001 - the same conversion
    return encode(cv.partition_out(part))


def string_items(items: list[str]) -> list[bytes]:
    """Each string as a list<string> element."""
    return [_I32(len(b)) + b for b in (s.encode() for s in items)]


def string_list(items: list[str]) -> bytes:
    """A list<string> value (e.g. partition names)."""
    encoded = [s.encode() for s in items]
    return bytes([11]) + _I32(len(encoded)) + b"".join([_I32(len(b)) + b for b in encoded])


TABLE_ENCODINGS = 512  # rows whose Table encoding each process keeps
_tables: dict[tuple, bytes] = {}


# columns no Table field comes from (see table_from_row)
_NOT_CONTENT = ("id", "database_id", "partitions_version", "chunks_version", "encoded")
_content_at: dict[tuple, list[int]] = {}


def _content(row: tuple, db: str, catalog: str) -> tuple:
    """What a table's encoding is made of: the row's columns but those of `_NOT_CONTENT` (booleans as
    0 and 1, as SQLite's driver gives them), then the names."""
    at = _content_at.get(row._fields)
    if at is None:
        at = _content_at[row._fields] = [i for i, f in enumerate(row._fields) if f not in _NOT_CONTENT]
    return (*[int(v) if v.__class__ is bool else v for v in map(row.__getitem__, at)], db, catalog)


def _digest(content: tuple) -> bytes:
    return hashlib.blake2b(repr(content).encode(), digest_size=16).digest()


def stored_table(row: tuple, db: str, catalog: str) -> bytes:
    """The value of `tables.encoded` for a row read as the hot path reads it (Tables.get_stored): a digest
    of its content, then its encoding. Written with each create and alter, it saves any server process the
    encoding (~0.4 ms) of a table just changed; a row changed by any other writer no longer matches its
    digest, and is encoded as before."""
    return _digest(_content(row, db, catalog)) + encode(cv.table_out(table_from_row(row, db, catalog)))


def table(row: tuple, db: str, catalog: str) -> bytes:
    """The Table struct of a stored table row (see Tables.get_stored), in `db` of `catalog`."""
    key = _content(row, db, catalog)
    out = _tables.get(key)
    if out is None:
        stored = getattr(row, "encoded", None)
        if stored is not None and bytes(stored[:16]) == _digest(key):
            out = bytes(stored[16:])
        else:
            out = encode(cv.table_out(table_from_row(row, db, catalog)))
        if len(_tables) >= TABLE_ENCODINGS:
            try:
                del _tables[next(iter(_tables))]  # the oldest
            except (KeyError, RuntimeError):  # another thread changed the dict meanwhile
                pass
        _tables[key] = out
    return out


def get_table_result(table_bytes: bytes) -> bytes:
    """GetTableResult(table=...) around an encoded table."""
    return _GET_TABLE_RESULT_HEAD + table_bytes + b"\x00"


_GET_TABLE_RESULT_HEAD = bytes([12, 0, 1])  # field 1 (table): struct
