"""Partitions: add (in bulk), list, look up by values, names, partial values or filter, alter, rename, drop.

Every listing is one query ordered by partition name, as HMS orders them. Filters compile to indexed
look-ups on `partition_key_values` (see partition_filter).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from operator import itemgetter
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, select, update

from metastore.catalog import chunks, codec, filtered_chunks
from metastore.catalog.base import Area, DbapiReader, Sql, new_partitions_version, now_s
from metastore.catalog.errors import AlreadyExists, InvalidInput, NotFound
from metastore.catalog.names import make_partition_name, parse_partition_name
from metastore.catalog.partition_filter import compile_filter, integral_value
from metastore.catalog.tables import DDL_TIME, with_quick_stats
from metastore.catalog.types import DEFAULT_CATALOG, Column, Partition, StorageDescriptor
from metastore.catalog.warehouse import Warehouse, qualify
from metastore.storage.models import (
    PARTITION_NAME,
    PARTITION_VALUE,
    PartitionKeyValueRow,
    PartitionRow,
    TableRow,
)

log = logging.getLogger(__name__)

_COLUMNS = (PartitionRow.id, PartitionRow.values, PartitionRow.create_time, PartitionRow.last_access_time,
            PartitionRow.location, PartitionRow.sd, PartitionRow.parameters)  # fmt: skip


_LIST_SQL = Sql(select(*_COLUMNS).where(PartitionRow.table_id == bindparam("tid")).order_by(PartitionRow.name))
COMPILED_FILTERS = 1024  # filter statements each process keeps compiled (see Partitions._filtered)
_COMPILED_FILTERS: dict[tuple, tuple] = {}
NAMED_COLUMNS = (PartitionRow.name, *_COLUMNS)
_LIST_NAMED_SQL = Sql(select(*NAMED_COLUMNS).where(PartitionRow.table_id == bindparam("tid")).order_by(PartitionRow.name))
_NAMES_SQL = Sql(select(PartitionRow.name).where(PartitionRow.table_id == bindparam("tid")).order_by(PartitionRow.name))
_BY_NAME_SQL = Sql(select(*_COLUMNS).where(PartitionRow.table_id == bindparam("tid"), PartitionRow.name == bindparam("name")))


_INSERT_COLUMNS = ("table_id", "name", "values", "create_time", "last_access_time", "location", "sd", "parameters",
                   "encoded")  # fmt: skip
_INSERT_TYPES = ("bigint", "text", "text", "bigint", "bigint", "text", "text", "text", "bytea")  # PostgreSQL arrays
_KV_COLUMNS = ("partition_id", "key_index", "table_id", "value", "int_value")
_KV_TYPES = ("bigint", "bigint", "bigint", "text", "bigint")
_INSERT_CHUNK = 1000  # rows per SQLite INSERT statement (8 parameters each: under its 32,766)


def _insert_sql(conn: Connection, table: str, cols: tuple, types: tuple, rows: int, returning: str = "") -> str:
    """One INSERT of `rows` rows: on PostgreSQL from one array per column (`unnest`: a statement of a few
    parameters, where psycopg would parse a text of thousands of placeholders), elsewhere VALUES lists."""
    quote = conn.dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in cols)}) "
    if conn.dialect.name == "postgresql":
        body = "SELECT * FROM unnest(" + ", ".join(f"%b::{t}[]" for t in types) + ")"  # binary: no escaping
    else:
        body = "VALUES " + ", ".join(["(" + ", ".join(["?"] * len(cols)) + ")"] * rows)
    return head + body + returning


def _insert_many(conn: Connection, table: str, cols: tuple, types: tuple, rows: list[tuple], returning: str = ""):
    """Insert `rows` (tuples in `cols` order) on the transaction's DBAPI connection: SQLAlchemy's executemany
    costs ~60 µs a row in parameter processing, more than the database's own work. Returns RETURNING's rows."""
    out: list[tuple] = []
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cursor.execute(_insert_sql(conn, table, cols, types, len(rows), returning), [list(c) for c in zip(*rows, strict=True)])
            if returning:
                out.extend(cursor.fetchall())
        else:
            for i in range(0, len(rows), _INSERT_CHUNK):
                chunk = rows[i : i + _INSERT_CHUNK]
                cursor.execute(_insert_sql(conn, table, cols, types, len(chunk), returning), [v for r in chunk for v in r])
                if returning:
                    out.extend(cursor.fetchall())
    finally:
        cursor.close()
    return out


def _insert_rows(conn: Connection, rows: list[dict]) -> list[int | None]:
    """Insert partition rows (dicts of _INSERT_COLUMNS) of one table, but those whose name the table has
    already; their ids in the order of `rows`, None for those not inserted. Ids come back with their names
    (RETURNING's order is not promised), names being unique in a table."""
    if not rows:
        return []
    quote = conn.dialect.identifier_preparer.quote
    returned = _insert_many(conn, PartitionRow.__tablename__, _INSERT_COLUMNS, _INSERT_TYPES,
                            [tuple(r[c] for c in _INSERT_COLUMNS) for r in rows],
                            f" ON CONFLICT ({quote('table_id')}, {quote('name')}) DO NOTHING"
                            f" RETURNING {quote('id')}, {quote('name')}")  # fmt: skip
    by_name = {name: pid for pid, name in returned}
    return [by_name.get(r["name"]) for r in rows]


def _insert_key_values(conn: Connection, values: list[tuple]) -> None:
    """Insert (partition_id, key_index, table_id, value, int_value) rows."""
    _insert_many(conn, PartitionKeyValueRow.__tablename__, _KV_COLUMNS, _KV_TYPES, values)


def _sd_text(sd: StorageDescriptor, texts: dict[tuple, str]) -> str:
    """The stored text of a descriptor without its location (codec.sd_to_json), once per distinct parts:
    descriptors sharing their parts' objects (see wire.partitions_in) share their text. `texts` lives for
    one call, while the objects whose ids it holds do."""
    key = (id(sd.cols), id(sd.serde), id(sd.bucket_cols), id(sd.sort_cols), id(sd.parameters), id(sd.skewed_info),
           sd.input_format, sd.output_format, sd.compressed, sd.num_buckets, sd.stored_as_sub_directories)  # fmt: skip
    text = texts.get(key)
    if text is None:
        text = texts[key] = codec.dumps(codec.sd_to_json(sd, with_location=False))
    return text


ANALYZE_AFTER = 500  # partitions added in one call after which PostgreSQL's statistics are checked


def _analyze_if_stale(engine) -> None:
    """ANALYZE the partition tables when much of them changed since their statistics were made. Without
    statistics (rows freshly added, autovacuum not yet by) PostgreSQL's planner guesses one row per look-up
    and may take the wrong index: a filter on an integral key then walks the key's whole string index
    (measured: 7.5 ms instead of 0.3 ms for 100 of 10,000 partitions)."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            stale = [name for name, changed, live in conn.exec_driver_sql(
                "SELECT relname, n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables"
                " WHERE relname IN ('partitions', 'partition_key_values')")
                if changed > max(1000, live // 5)]  # fmt: skip
            for name in stale:
                conn.exec_driver_sql(f"ANALYZE {name}")
    except Exception:  # noqa: BLE001 - statistics are an optimisation; the change is committed already
        log.warning("ANALYZE of the partition tables failed", exc_info=True)


class PartitionsChange(NamedTuple):
    """A committed change to a table's partitions made by this process, of known content: the table's
    partitions at version `new` are those at `old` with `added` (rows of `NAMED_COLUMNS`: name, then
    `_COLUMNS`) put in and the partitions named in `dropped` taken out. Versions are (table id,
    partitions version), as `Partitions.version` gives them."""

    catalog: str
    db: str
    table: str
    old: tuple[int, int]
    new: tuple[int, int]
    added: list[tuple]
    dropped: list[str]
    table_info: _TableInfo


# weak references to callables taking a PartitionsChange, called after each such change commits (the
# listing caches of the process, see metastore/hms/listings.py)
CHANGE_LISTENERS: list = []


class PartitionRows(NamedTuple):
    """A listing as stored, for protocol layers that encode partitions straight from storage rather
    than through Partition objects (see metastore/hms/wire.py). `rows` hold `_COLUMNS`: id, values
    (JSON list), create_time, last_access_time, location, sd (JSON, see codec.sd_to_json, without the
    location), parameters (JSON); ordered by partition name."""

    db: str
    table: str
    catalog: str
    rows: list[tuple]
    table_info: _TableInfo


def with_location(tpl: StorageDescriptor, location: str | None) -> StorageDescriptor:
    """A descriptor sharing `tpl`'s parts, at `location`."""
    return StorageDescriptor(tpl.cols, location, tpl.input_format, tpl.output_format, tpl.compressed,
                             tpl.num_buckets, tpl.serde, tpl.bucket_cols, tpl.sort_cols, tpl.parameters,
                             tpl.skewed_info, tpl.stored_as_sub_directories)  # fmt: skip


class _TableInfo:
    """What partition operations need of their table."""

    __slots__ = ("id", "db", "name", "catalog", "keys", "location", "external", "version", "new_version",
                 "chunks_version")

    def __init__(self, row, db: str, catalog: str):
        self.id = row.id
        self.version = row.partitions_version  # as read (under the row's lock, for a change)
        self.new_version: int | None = None  # the version a change gives it
        self.chunks_version = getattr(row, "chunks_version", None)  # see chunks.py
        self.db, self.name, self.catalog = db, row.name, catalog
        self.keys: list[Column] = codec.cols_from_json(codec.loads(row.partition_keys))
        self.location = codec.loads(row.sd).get("location")
        params = codec.loads(row.parameters)
        self.external = row.table_type == "EXTERNAL_TABLE" or params.get("EXTERNAL", "").upper() == "TRUE"

    @property
    def key_names(self) -> list[str]:
        return [k.name for k in self.keys]

    def check_values(self, values: list[str]) -> None:
        if not self.keys:
            raise InvalidInput(f"table {self.db}.{self.name} is not partitioned")
        if values is None or len(values) != len(self.keys):
            raise InvalidInput(
                f"partition of {self.db}.{self.name} needs {len(self.keys)} values "
                f"({', '.join(self.key_names)}), got {0 if values is None else len(values)}"
            )

    def int_value(self, index: int, value: str) -> int | None:
        return integral_value(self.keys[index].type, value)


class Partitions(Area):
    def _table(self, conn: Connection, catalog: str, db: str, table: str, for_update: bool = False) -> _TableInfo:
        return _TableInfo(self._table_row(conn, catalog, db, table, for_update), db.lower(), catalog.lower())

    def _table_to_change(self, conn: Connection, catalog: str, db: str, table: str) -> _TableInfo:
        """The table whose partitions this transaction changes: locked first (one lock order for every
        partition change), and given a new partitions version."""
        t = self._table(conn, catalog, db, table, for_update=True)
        t.new_version = new_partitions_version()
        values = {"partitions_version": t.new_version}
        if t.chunks_version is not None and t.chunks_version == t.version:
            # the chunks are brought to this change in this transaction (every caller ends with chunks.sync):
            # one UPDATE of the row per change (on PostgreSQL each one leaves a row version behind)
            values["chunks_version"] = t.chunks_version = t.new_version
        conn.execute(update(TableRow).where(TableRow.id == t.id).values(**values))
        return t

    @staticmethod
    def _changed(t: _TableInfo, added: list[tuple] = (), dropped: list[str] = ()) -> None:
        """Tell this process's listeners (see `CHANGE_LISTENERS`) a committed change of known content."""
        if CHANGE_LISTENERS and t.new_version is not None:
            change = PartitionsChange(t.catalog, t.db, t.name, (t.id, t.version), (t.id, t.new_version),
                                      list(added), list(dropped), t)  # fmt: skip
            for ref in list(CHANGE_LISTENERS):
                listener = ref()
                if listener is None:
                    CHANGE_LISTENERS.remove(ref)
                else:
                    listener(change)

    def version(self, db: str, table: str, catalog: str = DEFAULT_CATALOG) -> tuple[int, int]:
        """(table id, partitions version): while it stays the same, so do the table's partitions."""
        row = self._fast_read(lambda r: self._table_row_fast(r, catalog, db, table), single=True)
        return row.id, row.partitions_version

    def objects(self, listing: PartitionRows) -> list[Partition]:
        """Partition objects of a listing's rows."""
        return self._partitions(listing.table_info, listing.rows)

    @staticmethod
    def _partitions(t: _TableInfo, rows) -> list[Partition]:
        """Partitions from rows. Partitions whose storage descriptors (or parameters) have the same text
        share one parsed descriptor's parts (columns, serde, ...) and parameters: a listing of 10,000
        partitions builds their columns once. Callers treat listed partitions as read-only."""
        templates: dict[str, StorageDescriptor] = {}
        params: dict[str, dict] = {}
        out = []
        loads = codec.loads
        for _id, values, create_time, last_access_time, location, sd, parameters in rows:  # _COLUMNS
            tpl = templates.get(sd)
            if tpl is None:
                tpl = templates[sd] = codec.sd_from_json(loads(sd))
            p = params.get(parameters)
            if p is None:
                p = params[parameters] = loads(parameters)
            out.append(Partition(loads(values), t.db, t.name, t.catalog, create_time, last_access_time,
                                 with_location(tpl, location), p))  # fmt: skip
        return out

    @staticmethod
    def _scope(t: _TableInfo, where: tuple, scoped: bool) -> tuple:
        """The WHERE clause. `scoped` conditions (filters, partial values) already name the table in their
        sub-queries: repeating `table_id = ?` would let the planner walk the table's whole name index
        (to honour ORDER BY) instead of looking up the few partitions the filter selects."""
        return where if scoped and where else (PartitionRow.table_id == t.id, *where)

    def _rows(self, r: DbapiReader, t: _TableInfo, *where, limit: int = -1, scoped: bool = False) -> list[tuple]:
        """Rows of `_COLUMNS`, ordered by name. The plain listing is a statement compiled once; filtered
        ones are built and compiled for the call."""
        if not where and (limit is None or limit < 0):
            return r.all(_LIST_SQL, {"tid": t.id})
        query = select(*_COLUMNS).where(*self._scope(t, where, scoped)).order_by(PartitionRow.name)
        if limit is not None and limit >= 0:
            query = query.limit(limit)
        return r.rows(query)

    @staticmethod
    def _limited(query, limit: int | None):
        return query.limit(limit) if limit is not None and limit >= 0 else query

    def _select_names(self, r: DbapiReader, t: _TableInfo, *where, limit: int = -1, scoped: bool = False) -> list[str]:
        if not where and (limit is None or limit < 0):
            rows = r.all(_NAMES_SQL, {"tid": t.id})
        else:
            query = select(PartitionRow.name).where(*self._scope(t, where, scoped)).order_by(PartitionRow.name)
            if limit is not None and limit >= 0:
                query = query.limit(limit)
            rows = r.rows(query)
        return list(map(itemgetter(0), rows))

    def _filtered(self, r: DbapiReader, t: _TableInfo, filter_text: str, limit: int, names: bool = False,
                  encoded: bool = False, bounds: tuple[str | None, str | None] | None = None) -> list:
        """Rows of `_COLUMNS` (names: of the name alone; encoded: id and `encoded`) matching a filter, by name.
        The statement is built and compiled once per (table, keys, filter, limit) and kept: compiling costs
        more than running it. `bounds` (encoded, no limit): only names lo <= name < hi (None: unbounded)."""
        if not filter_text or not filter_text.strip():
            if encoded:
                return r.rows(self._limited(select(PartitionRow.id, PartitionRow.encoded).where(
                    PartitionRow.table_id == t.id).order_by(PartitionRow.name), limit))  # fmt: skip
            return self._select_names(r, t, limit=limit) if names else self._rows(r, t, limit=limit)
        limit = -1 if limit is None or limit < 0 else limit
        lo, hi = bounds or (None, None)
        bounded = lo is not None or hi is not None
        key = (r.dialect.name, names, encoded, t.id, tuple((k.name.lower(), k.type.lower()) for k in t.keys),
               filter_text, limit, lo is not None, hi is not None)  # fmt: skip
        compiled = _COMPILED_FILTERS.get(key)
        if compiled is None:
            columns = (PartitionRow.name,) if names else (PartitionRow.id, PartitionRow.encoded) if encoded else _COLUMNS
            query = select(*columns).where(*self._scope(t, self._filter(t, filter_text), True))
            if encoded and limit < 0:
                # every match, sorted by the caller: the database's sort would copy each partition's bytes
                # through a temporary tree (names sort the same in Python: by code point)
                where = self._filter(t, filter_text)
                if bounded:  # a range of the table's names (filtered_chunks.py): its rows looked up one by one
                    where = [PartitionRow.table_id == t.id, *self._filter(t, filter_text, correlated=True)]
                    if lo is not None:
                        where.append(PartitionRow.name >= bindparam("name_lo", None))
                    if hi is not None:
                        where.append(PartitionRow.name < bindparam("name_hi", None))
                query = select(PartitionRow.name, *columns).where(*self._scope(t, where, True))
            else:
                query = query.order_by(PartitionRow.name)
            if limit >= 0:
                query = query.limit(limit)
            comp = query.compile(dialect=r.dialect, compile_kwargs={"render_postcompile": True})
            compiled = (comp.string, comp.positiontup, comp.construct_params())
            if len(_COMPILED_FILTERS) >= COMPILED_FILTERS:
                try:
                    del _COMPILED_FILTERS[next(iter(_COMPILED_FILTERS))]  # the oldest
                except (KeyError, RuntimeError):  # another thread changed the dict meanwhile
                    pass
            _COMPILED_FILTERS[key] = compiled
        params = {"name_lo": lo, "name_hi": hi} if bounded else {}
        r._run(compiled[0], compiled[1], compiled[2], params)  # noqa: SLF001 - a statement compiled as `rows` does
        rows = r.cursor.fetchall()
        return list(map(itemgetter(0), rows)) if names else rows

    def _read_rows(self, catalog: str, db: str, table: str, where) -> PartitionRows:
        """One fast read: the table, then `where(reader, table info)` → rows."""

        def read(r: DbapiReader) -> PartitionRows:
            t = self._table_fast(r, catalog, db, table)
            return PartitionRows(t.db, t.name, t.catalog, where(r, t), t)

        return self._fast_read(read)

    def _table_fast(self, r: DbapiReader, catalog: str, db: str, table: str) -> _TableInfo:
        return _TableInfo(self._table_row_fast(r, catalog, db, table), db.lower(), catalog.lower())

    # --- add ----------------------------------------------------------------------------------------

    def add(
        self, db: str, table: str, parts: list[Partition], *, if_not_exists: bool = False,
        catalog: str = DEFAULT_CATALOG, hive: bool = False,
    ) -> list[Partition]:  # fmt: skip
        """Add partitions in one transaction; returns those added. Existing ones are an error unless
        `if_not_exists`, when they are skipped. `hive`: as the Hive Metastore does, a local location is
        stored qualified (`file:/path`), and a partition whose folder exists gets its file count and size
        (`numFiles`, `totalSize`, see Warehouse.quick_stats) unless both are given."""
        if not parts:
            return []
        created = now_s()
        with self._write() as conn:
            t = self._table_to_change(conn, catalog, db, table)
            keys = t.key_names
            new: dict[str, Partition] = {}
            for p in parts:
                if (p.db_name and p.db_name.lower() != t.db) or (p.table_name and p.table_name.lower() != t.name):
                    raise InvalidInput(f"partition {p.values} names table {p.db_name}.{p.table_name}, not {t.db}.{t.name}")
                t.check_values(p.values)
                name = make_partition_name(keys, p.values)
                if len(name) > PARTITION_NAME or any(len(v) > PARTITION_VALUE for v in p.values):
                    raise InvalidInput(f"partition {name[:100]}... of {t.db}.{t.name}: name longer than "
                                       f"{PARTITION_NAME} or a value longer than {PARTITION_VALUE} characters")
                if name in new:
                    if if_not_exists:
                        continue
                    raise AlreadyExists(f"partition {name} of {t.db}.{t.name} is given twice")
                new[name] = p
            rows = []
            sd_texts: dict[tuple, str] = {}
            folders: set[str] = set()  # locations found to exist (for their statistics): not made again
            for name, p in new.items():
                if not p.sd.location and t.location:
                    p.sd.location = Warehouse.partition_location(t.location, name)
                p.parameters = dict(p.parameters)
                if hive:
                    p.sd.location = qualify(p.sd.location)
                    stats = self.ctx.warehouse.quick_stats(p.sd.location)
                    with_quick_stats(p.parameters, stats)
                    if stats is not None:
                        folders.add(p.sd.location)
                p.parameters.setdefault(DDL_TIME, str(created))
                p.create_time = created
                p.db_name, p.table_name, p.catalog = t.db, t.name, t.catalog
                rows.append(
                    {
                        "table_id": t.id,
                        "name": name,
                        "values": codec.dumps(p.values),
                        "create_time": created,
                        "last_access_time": p.last_access_time,
                        "location": p.sd.location,
                        "sd": _sd_text(p.sd, sd_texts),
                        "parameters": codec.dumps(p.parameters),
                    }
                )
            encoded = chunks.encode_rows(t, [(r["name"], None, r["values"], r["create_time"], r["last_access_time"],
                                              r["location"], r["sd"], r["parameters"]) for r in rows])  # fmt: skip
            for r in rows:
                r["encoded"] = encoded[r["name"]][1]
            ids = _insert_rows(conn, rows)  # those that exist already are not inserted: no id
            existing = sorted(r["name"] for r, pid in zip(rows, ids, strict=True) if pid is None)
            if existing and not if_not_exists:
                raise AlreadyExists(f"partition {existing[0]} of {t.db}.{t.name} already exists")
            ids, rows = [pid for pid in ids if pid is not None], [r for r, pid in zip(rows, ids, strict=True) if pid is not None]
            added = [new[r["name"]] for r in rows]
            if rows:
                _insert_key_values(conn, [
                    (pid, i, t.id, v, t.int_value(i, v)) for pid, p in zip(ids, added, strict=True)
                    for i, v in enumerate(p.values)
                ])  # fmt: skip
                self._audit(conn, "ADD_PARTITIONS", catalog, t.db, t.name, count=len(rows),
                            first=rows[0]["name"])  # fmt: skip
            chunks.sync(conn, t, changed=[r["name"] for r in rows], encoded=encoded)
        if len(rows) >= ANALYZE_AFTER and self.ctx.engine.dialect.name == "postgresql":
            _analyze_if_stale(self.ctx.engine)
        if CHANGE_LISTENERS:
            self._changed(t, [(r["name"], pid, r["values"], r["create_time"], r["last_access_time"], r["location"],
                               r["sd"], r["parameters"]) for pid, r in zip(ids, rows, strict=True)])  # fmt: skip
        for p in added:
            if p.sd.location not in folders:
                self.ctx.warehouse.mkdirs(p.sd.location)
        return added

    def append(
        self, db: str, table: str, values: list[str], catalog: str = DEFAULT_CATALOG, *, hive: bool = False
    ) -> Partition:
        """Add the partition with these values at its default location (append_partition); like HMS, it
        takes the table's storage descriptor (columns, formats, serde)."""
        with self._read() as conn:
            sd = codec.sd_from_json(codec.loads(self._table_row(conn, catalog, db, table).sd))
        sd.location = None
        part = Partition(values=values, db_name=db, table_name=table, sd=sd)
        return self.add(db, table, [part], catalog=catalog, hive=hive)[0]

    # --- read ---------------------------------------------------------------------------------------

    # Each listing comes in two forms: `x_rows` gives the stored rows (PartitionRows), for protocol
    # layers that encode partitions straight from them; `x` gives Partition objects.

    def list_named_rows(self, db: str, table: str, catalog: str = DEFAULT_CATALOG) -> PartitionRows:
        """All the table's partitions as rows of NAMED_COLUMNS (name, then `_COLUMNS`), by name."""
        return self._read_rows(catalog, db, table, lambda r, t: r.all(_LIST_NAMED_SQL, {"tid": t.id}))

    def refresh_encodings(self, db: str, table: str, catalog: str = DEFAULT_CATALOG) -> None:
        """Make the table's encoded chunks again, and the encodings of rows that have none (rows written
        straight into storage, e.g. by a bulk load; see chunks.py): a change to nothing but those."""
        with self._write() as conn:
            t = self._table_to_change(conn, catalog, db, table)
            t.chunks_version = None
            chunks.rebuild(conn, t)

    def chunked(self, db: str, table: str, column: str, cache=None, catalog: str = DEFAULT_CATALOG):
        """(count, pieces) of the whole listing from the table's encoded chunks (`column`: "parts" for
        list<Partition> elements, "names" for list<string> ones), or None when the chunks do not hold the
        table's partitions now (see chunks.py); `cache` a chunks.ChunkCache."""
        return self._fast_read(lambda r: chunks.read(r, catalog.lower(), db.lower(), table.lower(), column, cache))

    def list_rows(self, db: str, table: str, max_parts: int = -1, catalog: str = DEFAULT_CATALOG) -> PartitionRows:
        return self._read_rows(catalog, db, table, lambda r, t: self._rows(r, t, limit=max_parts))

    def list(self, db: str, table: str, max_parts: int = -1, catalog: str = DEFAULT_CATALOG) -> list[Partition]:
        return self.objects(self.list_rows(db, table, max_parts, catalog))

    def names(self, db: str, table: str, max_parts: int = -1, catalog: str = DEFAULT_CATALOG) -> list[str]:
        return self._fast_read(
            lambda r: self._select_names(r, self._table_fast(r, catalog, db, table), limit=max_parts)
        )

    def get(self, db: str, table: str, values: list[str], catalog: str = DEFAULT_CATALOG) -> Partition:
        return self._get(db, table, catalog, lambda t: values)

    def get_by_name(self, db: str, table: str, name: str, catalog: str = DEFAULT_CATALOG) -> Partition:
        return self._get(db, table, catalog, lambda t: parse_partition_name(name, t.key_names))

    def _get(self, db: str, table: str, catalog: str, values_of) -> Partition:
        def read(r: DbapiReader):
            t = self._table_fast(r, catalog, db, table)
            values = values_of(t)
            t.check_values(values)
            name = make_partition_name(t.key_names, values)
            return t, name, r.all(_BY_NAME_SQL, {"tid": t.id, "name": name})

        t, name, rows = self._fast_read(read)
        if not rows:
            raise NotFound(f"partition {name} of table {t.db}.{t.name} does not exist")
        return self._partitions(t, rows)[0]

    def get_by_names_rows(self, db: str, table: str, names: list[str], catalog: str = DEFAULT_CATALOG) -> PartitionRows:
        """The partitions among `names` that exist (missing ones are skipped, as in HMS), by name."""

        def where(r: DbapiReader, t: _TableInfo) -> list[tuple]:
            # sorted first: each chunk comes back ordered by name, so the chunks follow one another
            wanted = sorted({make_partition_name(t.key_names, parse_partition_name(n, t.key_names)) for n in names})
            out: list[tuple] = []
            for i in range(0, len(wanted), 1000):
                out.extend(self._rows(r, t, PartitionRow.name.in_(wanted[i : i + 1000])))
            return out

        return self._read_rows(catalog, db, table, where)

    def get_by_names(self, db: str, table: str, names: list[str], catalog: str = DEFAULT_CATALOG) -> list[Partition]:
        return self.objects(self.get_by_names_rows(db, table, names, catalog))

    def by_filter_encoded(
        self, db: str, table: str, filter_text: str, max_parts: int = -1, catalog: str = DEFAULT_CATALOG,
        kept=None,
    ) -> tuple[tuple[int, int], list[bytes], bool]:
        """(version, items, kept): the partitions a filter selects, by name, each as a list<Partition>
        element (the bytes kept in their rows, `partitions.encoded`, or for rows without them, written
        otherwise, encoded here), after the table's version (see `version`) read in the same read, before
        them. `kept(version)` may give an answer kept from before at that version (then `kept` is True and
        nothing else is read): one statement fewer than asking for the version apart."""

        def read(r: DbapiReader):
            t = self._table_fast(r, catalog, db, table)
            version = (t.id, t.version)
            if kept is not None and (held := kept(version)) is not None:
                return version, held, True
            return version, items(r, t), False

        def items(r: DbapiReader, t: _TableInfo) -> list[bytes]:
            got = self._filtered(r, t, filter_text, max_parts, encoded=True)
            if got and len(got[0]) == 3:  # (name, id, encoded), unordered: sorted here (see _filtered)
                got.sort(key=itemgetter(0))
                got = [g[1:] for g in got]
            return self._elements(r, t, got)

        return self._fast_read(read)

    def by_filter_kept(self, db: str, table: str, filter_text: str, catalog: str = DEFAULT_CATALOG,
                       kept: filtered_chunks.KeptFilter | None = None) -> filtered_chunks.KeptFilter | None:  # fmt: skip
        """A filter's whole answer, made from `kept` (an answer of before) where the table's chunks it came
        from are unchanged, and by filtering the other chunks' partitions (see filtered_chunks.py); None
        when the table's chunks do not hold its partitions now."""
        if not filter_text or not filter_text.strip():
            return None

        def select_range(r: DbapiReader, t: _TableInfo, lo: str | None, hi: str | None) -> list[tuple[str, bytes]]:
            got = self._filtered(r, t, filter_text, -1, encoded=True, bounds=(lo, hi))
            return list(zip(map(itemgetter(0), got), self._elements(r, t, [g[1:] for g in got]), strict=True))

        def read(r: DbapiReader):
            t = self._table_fast(r, catalog, db, table)
            return filtered_chunks.answer(r, t, kept, lambda lo, hi: select_range(r, t, lo, hi))

        return self._fast_read(read)

    @staticmethod
    def _elements(r: DbapiReader, t: _TableInfo, got: list[tuple]) -> list[bytes]:
        """list<Partition> elements of (id, encoded) rows: the bytes kept in the rows, or for rows without
        them (written otherwise), encoded here."""
        missing = [pid for pid, enc in got if enc is None]
        if not missing:
            return [bytes(enc) for _pid, enc in got]
        from metastore.hms import wire

        rows = {}
        for i in range(0, len(missing), 500):
            piece = missing[i : i + 500]
            rows.update((row[0], row) for row in r.rows(select(*_COLUMNS).where(PartitionRow.id.in_(piece))))
        made = dict(zip(missing, wire.encode_partitions(PartitionRows(t.db, t.name, t.catalog, [], t),
                                                        [rows[pid] for pid in missing]), strict=True))  # fmt: skip
        return [bytes(enc) if enc is not None else made[pid] for pid, enc in got]

    def by_filter_rows(
        self, db: str, table: str, filter_text: str, max_parts: int = -1, catalog: str = DEFAULT_CATALOG
    ) -> PartitionRows:
        return self._read_rows(
            catalog, db, table,
            lambda r, t: self._filtered(r, t, filter_text, max_parts),
        )  # fmt: skip

    def by_filter(
        self, db: str, table: str, filter_text: str, max_parts: int = -1, catalog: str = DEFAULT_CATALOG
    ) -> list[Partition]:
        return self.objects(self.by_filter_rows(db, table, filter_text, max_parts, catalog))

    def names_by_filter(
        self, db: str, table: str, filter_text: str, max_parts: int = -1, catalog: str = DEFAULT_CATALOG
    ) -> list[str]:
        def read(r: DbapiReader) -> list[str]:
            t = self._table_fast(r, catalog, db, table)
            return self._filtered(r, t, filter_text, max_parts, names=True)

        return self._fast_read(read)

    def count_by_filter(self, db: str, table: str, filter_text: str, catalog: str = DEFAULT_CATALOG) -> int:
        with self._read() as conn:
            t = self._table(conn, catalog, db, table)
            query = select(func.count()).select_from(PartitionRow).where(
                PartitionRow.table_id == t.id, *self._filter(t, filter_text)
            )
            return conn.execute(query).scalar()

    @staticmethod
    def _filter(t: _TableInfo, filter_text: str | None, correlated: bool = False) -> list:
        if not filter_text or not filter_text.strip():
            return []
        if not t.keys:
            raise InvalidInput(f"table {t.db}.{t.name} is not partitioned: it has no partitions to filter")
        keys = [(k.name.lower(), k.type.lower()) for k in t.keys]
        return [compile_filter(filter_text, keys, t.id, PartitionRow.id, correlated)]

    def _partial(self, t: _TableInfo, values: list[str] | None) -> list:
        """Conditions for a partial specification: values for the leading keys; '' (or None) = any."""
        values = values or []
        if len(values) > len(t.keys):
            raise InvalidInput(
                f"partial partition specification of {t.db}.{t.name} has {len(values)} values; "
                f"the table has {len(t.keys)} partition keys"
            )
        where = []
        for i, v in enumerate(values):
            if v is None or v == "":
                continue
            sub = select(PartitionKeyValueRow.partition_id).where(
                PartitionKeyValueRow.table_id == t.id,
                PartitionKeyValueRow.key_index == i,
                PartitionKeyValueRow.value == v,
            )
            where.append(PartitionRow.id.in_(sub))
        return where

    def by_partial_values_rows(
        self, db: str, table: str, values: list[str] | None, max_parts: int = -1, catalog: str = DEFAULT_CATALOG
    ) -> PartitionRows:
        return self._read_rows(
            catalog, db, table,
            lambda r, t: self._rows(r, t, *self._partial(t, values), limit=max_parts, scoped=True),
        )  # fmt: skip

    def by_partial_values(
        self, db: str, table: str, values: list[str] | None, max_parts: int = -1, catalog: str = DEFAULT_CATALOG
    ) -> list[Partition]:
        return self.objects(self.by_partial_values_rows(db, table, values, max_parts, catalog))

    def names_by_partial_values(
        self, db: str, table: str, values: list[str] | None, max_parts: int = -1, catalog: str = DEFAULT_CATALOG
    ) -> list[str]:
        def read(r: DbapiReader) -> list[str]:
            t = self._table_fast(r, catalog, db, table)
            return self._select_names(r, t, *self._partial(t, values), limit=max_parts, scoped=True)

        return self._fast_read(read)

    def values(self, db: str, table: str, keys: list[str], filter_text: str | None = None, *, distinct: bool = True,
               ascending: bool = True, max_parts: int = -1, catalog: str = DEFAULT_CATALOG) -> list[list[str]]:  # fmt: skip
        """The values of some partition keys over the partitions (matching `filter_text`), ordered."""
        def read(r: DbapiReader) -> tuple[list[int], list[str]]:
            t = self._table_fast(r, catalog, db, table)
            positions = []
            for k in keys:
                if k.lower() not in [n.lower() for n in t.key_names]:
                    raise InvalidInput(f"{k} is not a partition key of {t.db}.{t.name} (keys: {', '.join(t.key_names)})")
                positions.append([n.lower() for n in t.key_names].index(k.lower()))
            return positions, self._select_names(r, t, *self._filter(t, filter_text), scoped=True)

        positions, names = self._fast_read(read)
        rows = [[vals[i] for i in positions] for vals in (parse_partition_name(n) for n in names)]
        if distinct:
            rows = [list(r) for r in dict.fromkeys(map(tuple, rows))]
        rows.sort(reverse=not ascending)
        return rows if max_parts is None or max_parts < 0 else rows[:max_parts]

    def keys(self, db: str, table: str, catalog: str = DEFAULT_CATALOG) -> list[Column]:
        return self._fast_read(lambda r: self._table_fast(r, catalog, db, table).keys)

    # --- alter --------------------------------------------------------------------------------------

    def alter(self, db: str, table: str, parts: list[Partition], catalog: str = DEFAULT_CATALOG) -> None:
        """Replace storage descriptor and parameters of existing partitions, found by their values."""
        if not parts:
            return
        now = str(now_s())
        with self._write() as conn:
            t = self._table_to_change(conn, catalog, db, table)
            updates = []
            for p in parts:
                t.check_values(p.values)
                name = make_partition_name(t.key_names, p.values)
                params = dict(p.parameters)
                params[DDL_TIME] = now
                updates.append({"n": name, "loc": p.sd.location, "sd": codec.dumps(codec.sd_to_json(p.sd, False)),
                                "params": codec.dumps(params), "lat": p.last_access_time})  # fmt: skip
            found = self._existing(conn, t, [u["n"] for u in updates])
            missing = [u["n"] for u in updates if u["n"] not in found]
            if missing:
                raise NotFound(f"partition {missing[0]} of table {t.db}.{t.name} does not exist")
            conn.execute(
                update(PartitionRow)
                .where(PartitionRow.table_id == t.id, PartitionRow.name == bindparam("n"))
                .values(location=bindparam("loc"), sd=bindparam("sd"), parameters=bindparam("params"),
                        last_access_time=bindparam("lat")),
                updates,
            )
            self._audit(conn, "ALTER_PARTITIONS", catalog, t.db, t.name, count=len(updates), first=updates[0]["n"])
            chunks.sync(conn, t, changed=[u["n"] for u in updates])

    def _existing(self, conn: Connection, t: _TableInfo, names: Iterable[str]) -> set[str]:
        names = list(names)
        found: set[str] = set()
        for i in range(0, len(names), 500):
            found.update(
                conn.execute(
                    select(PartitionRow.name).where(PartitionRow.table_id == t.id, PartitionRow.name.in_(names[i : i + 500]))
                ).scalars()
            )
        return found

    def rename(
        self, db: str, table: str, old_values: list[str], new: Partition, catalog: str = DEFAULT_CATALOG
    ) -> None:
        """Give a partition new values; a managed table's partition at its default place moves with it."""
        move = None
        with self._write() as conn:
            t = self._table_to_change(conn, catalog, db, table)
            t.check_values(old_values)
            t.check_values(new.values)
            old_name = make_partition_name(t.key_names, old_values)
            new_name = make_partition_name(t.key_names, new.values)
            row = conn.execute(
                select(PartitionRow.id, PartitionRow.location).where(PartitionRow.table_id == t.id, PartitionRow.name == old_name)
            ).first()
            if row is None:
                raise NotFound(f"partition {old_name} of table {t.db}.{t.name} does not exist")
            if new_name != old_name and self._existing(conn, t, [new_name]):
                raise AlreadyExists(f"partition {new_name} of table {t.db}.{t.name} already exists")
            sd = new.sd
            old_location = row.location
            default_old = Warehouse.partition_location(t.location, old_name) if t.location else None
            if not t.external and old_location and old_location == default_old and sd.location in (None, "", old_location):
                sd.location = Warehouse.partition_location(t.location, new_name)
                move = (old_location, sd.location)
            params = dict(new.parameters)
            params[DDL_TIME] = str(now_s())
            conn.execute(
                update(PartitionRow)
                .where(PartitionRow.id == row.id)
                .values(name=new_name, values=codec.dumps(new.values), location=sd.location,
                        sd=codec.dumps(codec.sd_to_json(sd, with_location=False)),
                        parameters=codec.dumps(params))  # fmt: skip
            )
            for i, v in enumerate(new.values):
                conn.execute(
                    update(PartitionKeyValueRow)
                    .where(PartitionKeyValueRow.partition_id == row.id, PartitionKeyValueRow.key_index == i)
                    .values(value=v, int_value=t.int_value(i, v))
                )
            self._audit(conn, "RENAME_PARTITION", catalog, t.db, t.name, old=old_name, new=new_name)
            chunks.sync(conn, t, changed=[new_name], dropped=[old_name])
        if move:
            self.ctx.warehouse.rename(*move)

    # --- drop ---------------------------------------------------------------------------------------

    def drop(
        self, db: str, table: str, values: list[str], *, delete_data: bool = True, catalog: str = DEFAULT_CATALOG
    ) -> Partition:
        with self._write() as conn:
            t = self._table_to_change(conn, catalog, db, table)
            t.check_values(values)
            name = make_partition_name(t.key_names, values)
            dropped = self._drop(conn, t, [PartitionRow.name == name], catalog)
        self._changed(t, dropped=[name] if dropped else [])
        if not dropped:
            raise NotFound(f"partition {name} of table {t.db}.{t.name} does not exist")
        self._delete_data(t, dropped, delete_data)
        return dropped[0]

    def drop_by_names(
        self, db: str, table: str, names: list[str], *, delete_data: bool = True, if_exists: bool = True,
        catalog: str = DEFAULT_CATALOG,
    ) -> list[Partition]:  # fmt: skip
        with self._write() as conn:
            t = self._table_to_change(conn, catalog, db, table)
            wanted = [make_partition_name(t.key_names, parse_partition_name(n, t.key_names)) for n in names]
            if not if_exists:
                missing = set(wanted) - self._existing(conn, t, wanted)
                if missing:
                    raise NotFound(f"partition {sorted(missing)[0]} of table {t.db}.{t.name} does not exist")
            dropped = []
            for i in range(0, len(wanted), 500):
                dropped += self._drop(conn, t, [PartitionRow.name.in_(wanted[i : i + 500])], catalog)
        self._changed(t, dropped=wanted)
        self._delete_data(t, dropped, delete_data)
        return dropped

    def drop_by_filter(
        self, db: str, table: str, filter_text: str, *, delete_data: bool = True, catalog: str = DEFAULT_CATALOG
    ) -> list[Partition]:
        with self._write() as conn:
            t = self._table_to_change(conn, catalog, db, table)
            dropped = self._drop(conn, t, self._filter(t, filter_text), catalog)
        if CHANGE_LISTENERS:
            self._changed(t, dropped=[make_partition_name(t.key_names, p.values) for p in dropped])
        self._delete_data(t, dropped, delete_data)
        return dropped

    def _drop(self, conn: Connection, t: _TableInfo, where: list, catalog: str) -> list[Partition]:
        query = select(*_COLUMNS).where(PartitionRow.table_id == t.id, *where).order_by(PartitionRow.name)
        rows = conn.execute(query).all()
        ids = [r.id for r in rows]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            conn.execute(delete(PartitionKeyValueRow).where(PartitionKeyValueRow.partition_id.in_(chunk)))
            conn.execute(delete(PartitionRow).where(PartitionRow.id.in_(chunk)))
        dropped = self._partitions(t, rows)
        if dropped:
            first = make_partition_name(t.key_names, dropped[0].values)
            self._audit(conn, "DROP_PARTITIONS", catalog, t.db, t.name, count=len(dropped), first=first)
        chunks.sync(conn, t, dropped=[make_partition_name(t.key_names, p.values) for p in dropped])
        return dropped

    def _delete_data(self, t: _TableInfo, dropped: list[Partition], delete_data: bool) -> None:
        """A managed table's dropped partition folders, and the parents they leave empty (as HMS)."""
        if delete_data and not t.external:
            for p in dropped:
                self.ctx.warehouse.delete(p.sd.location, parents=len(p.values) - 1)
