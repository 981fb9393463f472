"""Glue's partition operations, partition indexes, and GetPartitions' `Expression` and `Segment`.

`Expression` is Glue's filter grammar, close to Hive's (metastore/catalog/partition_filter.py parses both):
`=, <>, !=, <, >, <=, >=, LIKE, BETWEEN, IN, AND, OR, NOT`, strings in single quotes. LIKE patterns are SQL's
(`%` any sequence, `_` one character), turned into Hive's (`.*`, `.`) before parsing.

`Segment {SegmentNumber, TotalSegments}` splits the partitions into disjoint slices whose union is all of
them: a partition belongs to the slice crc32(its values) mod TotalSegments. Pages are slices of the listing in
partition name order (the token holds the offset). Answers are encoded straight from the stored rows.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections import OrderedDict

from sqlalchemy import bindparam, delete, insert, select

from metastore.catalog import codec
from metastore.catalog.base import Area, Sql, now_ms
from metastore.catalog.errors import AlreadyExists, CatalogError, NotFound
from metastore.catalog.names import make_partition_name
from metastore.catalog.types import Column, Partition
from metastore.glue import paging, shapes
from metastore.glue.errors import already_exists, invalid_input, not_found
from metastore.glue.ops_tables import error_detail
from metastore.glue.registry import GlueRequest, RawAnswer, operation
from metastore.storage.models import CatalogRow, DatabaseRow, GluePartitionIndexRow, TableRow

MAX_INDEXES = 3
_LIKE = re.compile(r"(?i)(\blike\s+)'((?:[^'\\]|\\.)*)'")


def glue_expression(text: str) -> str:
    """Glue's Expression as the catalog's filter text: SQL LIKE patterns become Hive's."""

    def hive(m: re.Match) -> str:
        return m.group(1) + "'" + m.group(2).replace("%", ".*").replace("_", ".") + "'"

    return _LIKE.sub(hive, text)


def _table_keys(req: GlueRequest, db: str, table: str) -> list[str]:
    return [k.name for k in req.service.partitions.keys(db, table)]


_SD_MEMO_LIMIT = 64


def partitions_out(parts: list[Partition], catalog_id: str) -> list[dict]:
    """Glue's Partition shapes; descriptors shared by many partitions (same columns, serde, formats) are
    converted once."""
    memo: dict = {}
    out = []
    for p in parts:
        sd = p.sd
        key = (id(sd.cols), id(sd.serde), id(sd.parameters), sd.input_format, sd.output_format)
        base = memo.get(key)
        if base is None:
            base = shapes.sd_out(sd)
            base.pop("Location", None)
            if len(memo) < _SD_MEMO_LIMIT:
                memo[key] = base
        sd_dict = dict(base)
        if sd.location is not None:
            sd_dict["Location"] = sd.location
        out.append({"Values": p.values, "DatabaseName": p.db_name, "TableName": p.table_name,
                    "CreationTime": float(p.create_time), "LastAccessTime": float(p.last_access_time),
                    "StorageDescriptor": sd_dict, "Parameters": p.parameters, "CatalogId": catalog_id})  # fmt: skip
    return out


def encode_rows(listing, rows: list[tuple], catalog_id: str, columns: bool = True) -> list[str]:
    """Glue's Partition shapes as JSON text, straight from stored rows (see Partitions.list_rows): values and
    parameters are stored as JSON already, and a descriptor shared by many partitions is encoded once.
    Without `columns` (ExcludeColumnSchema), descriptors leave their columns out."""
    sd_memo: dict[str, str] = {}
    head = f',"DatabaseName":{json.dumps(listing.db)},"TableName":{json.dumps(listing.table)},"CreationTime":'
    tail = f',"CatalogId":{json.dumps(catalog_id)}}}'
    out = []
    for _id, values, create_time, last_access_time, location, sd, parameters in rows:
        rest = sd_memo.get(sd)
        if rest is None:
            d = shapes.sd_out(codec.sd_from_json(codec.loads(sd)))
            d.pop("Location", None)
            if not columns:
                d.pop("Columns")
            rest = sd_memo[sd] = json.dumps(d, separators=(",", ":"))[1:]
        loc = "" if location is None else f'"Location":{json.dumps(location)},'
        out.append(
            f'{{"Values":{values}{head}{float(create_time)},"LastAccessTime":{float(last_access_time)},'
            f'"StorageDescriptor":{{{loc}{rest},"Parameters":{parameters}{tail}'
        )
    return out


_CACHE: OrderedDict = OrderedDict()  # (table id, partitions version, names, filter) -> listing, most recent last
_CACHE_ROWS = 100_000  # rows kept at most (some 50 MB at worst); the pages of one listing read it once
_cache_lock = threading.Lock()
_PAGES: OrderedDict = OrderedDict()  # (table id, partitions version, names, request) -> encoded page
_PAGES_BYTES = 64 * 1024 * 1024  # encoded pages kept at most, the least recently used dropped first
_pages_size = 0


_VERSION_SQL = Sql(select(TableRow.id, TableRow.partitions_version)
                   .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
                   .join(CatalogRow, CatalogRow.id == DatabaseRow.catalog_id)
                   .where(CatalogRow.name == bindparam("cat"), DatabaseRow.name == bindparam("db"),
                          TableRow.name == bindparam("tbl")))  # fmt: skip


class _Versions(Area):
    def of(self, db: str, table: str, catalog: str = "hive") -> tuple[int, int]:
        """(table id, partitions version), as Partitions.version gives them, reading those two columns only."""

        def read(r):
            row = r.first(_VERSION_SQL, {"cat": catalog.lower(), "db": db.lower(), "tbl": table.lower()})
            if row is None:  # why not (NotFound), or made just now
                full = self._table_row_fast(r, catalog, db, table)
                return full.id, full.partitions_version
            return row[0], row[1]

        return self._fast_read(read, single=True)


def _listing(req: GlueRequest, version: tuple, db: str, table: str, filter_text: str):
    """The table's partitions (matching `filter_text`) as stored rows. A paged reader asks for the same listing
    once per page: it is kept while the table's partitions stay the same (`version`: (table id, partitions
    version), see Partitions.version, read before the rows), so that the pages of one listing cost one read."""
    key = (*version, db.lower(), table.lower(), filter_text)
    with _cache_lock:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    parts = req.service.partitions
    listing = parts.by_filter_rows(db, table, filter_text) if filter_text else parts.list_rows(db, table)
    with _cache_lock:
        _CACHE[key] = listing
        while sum(len(v.rows) for v in _CACHE.values()) > _CACHE_ROWS and len(_CACHE) > 1:
            _CACHE.popitem(last=False)
    return listing


def _keep_page(key: tuple, page: RawAnswer) -> None:
    global _pages_size
    with _cache_lock:
        if key in _PAGES or len(page) > _PAGES_BYTES // 4:
            return
        _PAGES[key] = page
        _pages_size += len(page)
        while _pages_size > _PAGES_BYTES:
            _pages_size -= len(_PAGES.popitem(last=False)[1])


@operation("GetPartitions")
def get_partitions(req: GlueRequest, body: dict) -> RawAnswer:
    """A page of a table's partitions. Pages are kept encoded, as the Thrift port keeps its listings, under
    the table's partitions version read first (one indexed look-up per call): any change to the table's
    partitions, by any process, moves that version, so a kept page is never stale."""
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    req.check("read", db)
    expression = body.get("Expression")
    if expression is not None and not isinstance(expression, str):
        raise invalid_input("Expression must be a string")
    filter_text = glue_expression(expression) if expression and expression.strip() else ""
    version = _Versions(req.service.ctx).of(db, table)
    segment = body.get("Segment")
    if segment is not None:
        if not isinstance(segment, dict):
            raise invalid_input("Segment must be {SegmentNumber, TotalSegments}")
        number, total = segment.get("SegmentNumber"), segment.get("TotalSegments")
        if not isinstance(total, int) or not 1 <= total <= 10 or not isinstance(number, int) or not 0 <= number < total:
            raise invalid_input("Segment needs TotalSegments of 1 to 10 and a SegmentNumber below it")
    size = paging.max_results(body, default=1000, maximum=1000)
    state = paging.decode("GetPartitions", body) or {}
    start = state.get("o", 0)
    if not isinstance(start, int) or start < 0:
        raise invalid_input("NextToken is not valid")
    columns = not body.get("ExcludeColumnSchema", False)
    key = (*version, db.lower(), table.lower(), filter_text, None if segment is None else (number, total), start, size,
           columns, req.account_id)  # fmt: skip
    with _cache_lock:
        hit = _PAGES.get(key)
        if hit is not None:
            _PAGES.move_to_end(key)
            return hit
    listing = _listing(req, version, db, table, filter_text)
    rows = listing.rows
    if segment is not None:
        rows = [r for r in rows if zlib.crc32(r[1].encode()) % total == number]
    page = rows[start : start + size]
    text = '{"Partitions":[' + ",".join(encode_rows(listing, page, req.account_id, columns)) + "]"
    if start + size < len(rows):
        text += f',"NextToken":{json.dumps(paging.encode("GetPartitions", {"o": start + size}))}'
    answer = RawAnswer((text + "}").encode())
    _keep_page(key, answer)
    return answer


@operation("GetPartition")
def get_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    values = shapes.values_in(body.get("PartitionValues"), "PartitionValues")
    req.check("read", db)
    return {"Partition": partitions_out([req.service.partitions.get(db, table, values)], req.account_id)[0]}


@operation("BatchGetPartition")
def batch_get_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    wanted = body.get("PartitionsToGet")
    if not isinstance(wanted, list) or len(wanted) > 1000:
        raise invalid_input("PartitionsToGet must be a list of at most 1000 {Values}")
    req.check("read", db)
    keys = _table_keys(req, db, table)
    names = []
    for w in wanted:
        values = shapes.values_in(w.get("Values") if isinstance(w, dict) else None, "PartitionsToGet.Values")
        if len(values) != len(keys):
            raise invalid_input(f"table {db}.{table} has {len(keys)} partition keys, {values} has {len(values)} values")
        names.append(make_partition_name(keys, values))
    parts = req.service.partitions.get_by_names(db, table, names) if names else []
    return {"Partitions": partitions_out(parts, req.account_id), "UnprocessedKeys": []}


@operation("CreatePartition")
def create_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    part = shapes.partition_in(body.get("PartitionInput"), db, table)
    req.check("write", db)
    req.service.partitions.add(db, table, [part])
    return {}


@operation("BatchCreatePartition")
def batch_create_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    inputs = body.get("PartitionInputList")
    if not isinstance(inputs, list) or len(inputs) > 100:
        raise invalid_input("PartitionInputList must be a list of at most 100 partitions")
    parts = [shapes.partition_in(p, db, table, "PartitionInputList") for p in inputs]
    req.check("write", db)
    if not parts:
        return {}
    added = req.service.partitions.add(db, table, parts, if_not_exists=True)
    done = {tuple(p.values) for p in added}
    errors, seen = [], set()
    for p in parts:
        if tuple(p.values) not in done or tuple(p.values) in seen:
            errors.append({"PartitionValues": p.values, "ErrorDetail": {
                "ErrorCode": "AlreadyExistsException", "ErrorMessage": f"partition {p.values} already exists"}})  # fmt: skip
        seen.add(tuple(p.values))
    return {"Errors": errors} if errors else {}


def _update(req: GlueRequest, db: str, table: str, old_values: list[str], part: Partition) -> None:
    if part.values == old_values:
        req.service.partitions.alter(db, table, [part])
    else:
        req.service.partitions.rename(db, table, old_values, part)


@operation("UpdatePartition")
def update_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    old = shapes.values_in(body.get("PartitionValueList"), "PartitionValueList")
    part = shapes.partition_in(body.get("PartitionInput"), db, table)
    req.check("write", db)
    _update(req, db, table, old, part)
    return {}


@operation("BatchUpdatePartition")
def batch_update_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    entries = body.get("Entries")
    if not isinstance(entries, list) or len(entries) > 100:
        raise invalid_input("Entries must be a list of at most 100 {PartitionValueList, PartitionInput}")
    parsed = []
    for e in entries:
        if not isinstance(e, dict):
            raise invalid_input("each of Entries is {PartitionValueList, PartitionInput}")
        parsed.append((shapes.values_in(e.get("PartitionValueList"), "PartitionValueList"),
                       shapes.partition_in(e.get("PartitionInput"), db, table)))  # fmt: skip
    req.check("write", db)
    same = [p for old, p in parsed if old == p.values]
    errors, same_ok = [], True
    if same:
        try:
            req.service.partitions.alter(db, table, same)
            same_ok = True
        except NotFound:
            same_ok = False
    for old, part in parsed:
        if old == part.values and same_ok:
            continue
        try:
            _update(req, db, table, old, part)
        except CatalogError as e:
            errors.append({"PartitionValueList": old, "ErrorDetail": error_detail(e)})
    return {"Errors": errors}


@operation("DeletePartition")
def delete_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    values = shapes.values_in(body.get("PartitionValues"), "PartitionValues")
    req.check("write", db)
    req.service.partitions.drop(db, table, values, delete_data=False)
    return {}


@operation("BatchDeletePartition")
def batch_delete_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    wanted = body.get("PartitionsToDelete")
    if not isinstance(wanted, list) or len(wanted) > 25:
        raise invalid_input("PartitionsToDelete must be a list of at most 25 {Values}")
    values = [shapes.values_in(w.get("Values") if isinstance(w, dict) else None, "PartitionsToDelete.Values")
              for w in wanted]  # fmt: skip
    req.check("write", db)
    keys = _table_keys(req, db, table)
    bad = [v for v in values if len(v) != len(keys)]
    errors = [{"PartitionValues": v, "ErrorDetail": {"ErrorCode": "InvalidInputException",
               "ErrorMessage": f"table {db}.{table} has {len(keys)} partition keys"}} for v in bad]  # fmt: skip
    names = [make_partition_name(keys, v) for v in values if len(v) == len(keys)]
    dropped = req.service.partitions.drop_by_names(db, table, names, delete_data=False) if names else []
    gone = {tuple(p.values) for p in dropped}
    errors += [{"PartitionValues": v, "ErrorDetail": {"ErrorCode": "EntityNotFoundException",
                "ErrorMessage": f"partition {v} of table {db}.{table} does not exist"}}
               for v in values if len(v) == len(keys) and tuple(v) not in gone]  # fmt: skip
    return {"Errors": errors}


# --- partition indexes -----------------------------------------------------------------------------------


def check_index(partition_keys: list[Column], index) -> tuple[str, list[str]]:
    if not isinstance(index, dict):
        raise invalid_input("PartitionIndex must be {Keys, IndexName}")
    name, keys = index.get("IndexName"), index.get("Keys")
    if not isinstance(name, str) or not name or len(name) > 255:
        raise invalid_input("PartitionIndex.IndexName is required (1 to 255 characters)")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise invalid_input(f"partition index {name}: Keys must be a non-empty list of partition keys")
    known = {k.name.lower(): k.name for k in partition_keys}
    for k in keys:
        if k.lower() not in known:
            raise invalid_input(f"partition index {name}: {k} is not a partition key ({', '.join(known.values())})")
    return name, [known[k.lower()] for k in keys]


class _Indexes(Area):
    def add(self, db: str, table: str, indexes: list[tuple[str, list[str]]]) -> None:
        with self._write() as conn:
            row = self._table_row(conn, "hive", db, table)
            existing = set(conn.execute(select(GluePartitionIndexRow.name)
                                        .where(GluePartitionIndexRow.table_id == row.id)).scalars())  # fmt: skip
            for name, _ in indexes:
                if name in existing:
                    raise AlreadyExists(f"partition index {name} of table {db}.{table} already exists")
                existing.add(name)
            if len(existing) > MAX_INDEXES:
                raise invalid_input(f"a table has at most {MAX_INDEXES} partition indexes")
            conn.execute(insert(GluePartitionIndexRow), [
                {"table_id": row.id, "name": n, "keys": codec.dumps(k), "created_at": now_ms()} for n, k in indexes])  # fmt: skip
            self._audit(conn, "CREATE_PARTITION_INDEX", "hive", db.lower(), row.name, indexes=[n for n, _ in indexes])

    def list(self, db: str, table: str) -> list[tuple[str, list[str]]]:
        with self._read() as conn:
            row = self._table_row(conn, "hive", db, table)
            return [(r.name, codec.loads(r.keys)) for r in conn.execute(
                select(GluePartitionIndexRow).where(GluePartitionIndexRow.table_id == row.id)
                .order_by(GluePartitionIndexRow.id))]  # fmt: skip

    def drop(self, db: str, table: str, name: str) -> None:
        with self._write() as conn:
            row = self._table_row(conn, "hive", db, table)
            n = conn.execute(delete(GluePartitionIndexRow).where(GluePartitionIndexRow.table_id == row.id,
                                                                 GluePartitionIndexRow.name == name)).rowcount  # fmt: skip
            if not n:
                raise NotFound(f"partition index {name} of table {db}.{table} does not exist")
            self._audit(conn, "DELETE_PARTITION_INDEX", "hive", db.lower(), row.name, index=name)


def add_indexes(req: GlueRequest, db: str, table: str, indexes: list) -> None:
    keys = req.service.partitions.keys(db, table)
    _Indexes(req.service.ctx).add(db, table, [check_index(keys, i) for i in indexes])


@operation("CreatePartitionIndex")
def create_partition_index(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    req.check("write", db)
    try:
        add_indexes(req, db, table, [body.get("PartitionIndex")])
    except AlreadyExists as e:
        raise already_exists(str(e)) from None
    return {}


@operation("GetPartitionIndexes")
def get_partition_indexes(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    req.check("read", db)
    types = {k.name: k.type for k in req.service.partitions.keys(db, table)}
    out = [{"IndexName": name, "Keys": [{"Name": k, "Type": types.get(k, "string")} for k in keys],
            "IndexStatus": "ACTIVE", "BackfillErrors": []} for name, keys in _Indexes(req.service.ctx).list(db, table)]  # fmt: skip
    chunk, token = paging.page("GetPartitionIndexes", out, body)
    return paging.with_token({"PartitionIndexDescriptorList": chunk}, token)


@operation("DeletePartitionIndex")
def delete_partition_index(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    name = shapes.need_str(body, "IndexName")
    req.check("write", db)
    try:
        _Indexes(req.service.ctx).drop(db, table, name)
    except NotFound as e:
        raise not_found(str(e)) from None
    return {}
