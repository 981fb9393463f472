"""What every area of the catalog service shares: the context, row look-ups and the audit record."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque, namedtuple
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.exc import DBAPIError

from metastore.catalog import codec
from metastore.catalog.encryption import Secrets
from metastore.catalog.errors import NotFound
from metastore.catalog.warehouse import Warehouse
from metastore.storage.engine import read_transaction, write_transaction
from metastore.storage.models import AuditRow, CatalogRow, DatabaseRow, TableRow


def now_s() -> int:
    return int(time.time())


def now_ms() -> int:
    return int(time.time() * 1000)


def new_partitions_version() -> int:
    """A value for `tables.partitions_version` after a change: random rather than counted, so that a table
    dropped and made again (perhaps under the same id) never takes back a version its predecessor had."""
    return random.getrandbits(62)


@dataclass(frozen=True)
class Context:
    engine: Engine
    warehouse: Warehouse
    user: str = "anonymous"
    lock_timeout_s: int = 300
    secrets: Secrets = field(default_factory=Secrets)  # the key of secrets at rest (encryption.py)


# The look-ups on every request path, built once: building a statement costs more than running it.
_DATABASE_BY_NAME = (
    select(DatabaseRow)
    .join(CatalogRow, CatalogRow.id == DatabaseRow.catalog_id)
    .where(CatalogRow.name == bindparam("cat"), DatabaseRow.name == bindparam("db"))
)
_TABLE_BY_NAME = (
    select(TableRow)
    .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
    .join(CatalogRow, CatalogRow.id == DatabaseRow.catalog_id)
    .where(CatalogRow.name == bindparam("cat"), DatabaseRow.name == bindparam("db"), TableRow.name == bindparam("tbl"))
)
_TABLE_BY_NAME_FOR_UPDATE = _TABLE_BY_NAME.with_for_update(of=TableRow)
_CATALOG_ID = select(CatalogRow.id).where(CatalogRow.name == bindparam("cat"))


def raw_rows(conn: Connection, stmt) -> list[tuple]:
    """Run `stmt` on the DBAPI cursor, in the connection's transaction, and return plain tuples.

    For listings of many thousands of rows, where SQLAlchemy's per-row result processing costs more
    than the query: the statement is still built and compiled by SQLAlchemy, with bound parameters.
    """
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        return DbapiReader(cursor, conn.dialect).rows(stmt)
    finally:
        cursor.close()


class Sql:
    """A fixed statement for the hot read paths, compiled once per dialect and run on the DBAPI cursor.

    SQLAlchemy's Connection costs about 50 µs per statement (events, result processing, the pool's
    reset); a get_table costs about 10 µs on the bare DBAPI connection. Rows are plain tuples, or named
    tuples with `named=True`."""

    __slots__ = ("stmt", "_compiled", "row")
    every: list[Sql] = []

    def __init__(self, stmt, named: bool = False):
        self.stmt = stmt
        self._compiled: dict[str, tuple] = {}
        self.row = namedtuple("Row", [c.key for c in stmt.selected_columns]) if named else None  # noqa: PYI024
        Sql.every.append(self)

    @classmethod
    def compile_all(cls, dialect) -> None:
        """Compile every statement for `dialect` now (a server, before it forks): not in first calls."""
        for q in cls.every:
            q.compiled(dialect)

    def compiled(self, dialect) -> tuple[str, tuple | None, dict]:
        c = self._compiled.get(dialect.name)
        if c is None:
            comp = self.stmt.compile(dialect=dialect)
            defaults = {name: bp.effective_value for bp, name in comp.bind_names.items() if not bp.required}
            c = self._compiled[dialect.name] = (comp.string, comp.positiontup, defaults)
        return c


class DbapiReader:
    """Statements of one read, on one DBAPI cursor (see `dbapi_read`)."""

    __slots__ = ("cursor", "dialect")

    def __init__(self, cursor, dialect):
        self.cursor, self.dialect = cursor, dialect

    def _run(self, sql: str, positions, defaults: dict, params: dict) -> None:
        values = {**defaults, **params} if defaults else params
        self.cursor.execute(sql, tuple(values[n] for n in positions) if positions is not None else values)

    def all(self, q: Sql, params: dict) -> list[tuple]:
        self._run(*q.compiled(self.dialect), params)
        rows = self.cursor.fetchall()
        return list(map(q.row._make, rows)) if q.row else rows

    def first(self, q: Sql, params: dict):
        self._run(*q.compiled(self.dialect), params)
        row = self.cursor.fetchone()
        return q.row._make(row) if q.row and row is not None else row

    def rows(self, stmt) -> list[tuple]:
        """A statement built for this call (filters): compiled here, with its bound parameters."""
        comp = stmt.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        self._run(comp.string, comp.positiontup, {}, comp.construct_params())
        return self.cursor.fetchall()


def dbapi_read(engine: Engine, fn, single: bool = False):
    """`fn(reader)` on a bare DBAPI connection, bypassing SQLAlchemy's Connection: for the hot reads
    (get_table, partition listings). Same isolation as `read_transaction`: on SQLite one deferred
    transaction (a snapshot across statements), on PostgreSQL autocommit (each statement sees what is
    committed), elsewhere the driver's own transaction, ended by the pool's reset. `single`: `fn` needs
    no snapshot across statements (one look-up; the others only explain why it found nothing), so on
    SQLite each statement is its own transaction too.

    On SQLite and PostgreSQL the connection is one of this process's readers (see `_Readers`), else
    (all readers busy, other databases) one from SQLAlchemy's pool. A connection found dead (the
    database restarted) is dropped and `fn` runs once more on a new one: reads are idempotent. Driver
    errors come out as SQLAlchemy's DBAPIError, as from every other path."""
    readers = _readers(engine)
    if readers is not None:
        result = _reader_read(engine, readers, fn, single)
        if result is not _BUSY:
            return result
    dialect = engine.dialect
    name = dialect.name
    for attempt in (0, 1):
        fairy = engine.raw_connection()
        dbapi_conn = fairy.driver_connection
        cursor = None
        try:
            cursor = dbapi_conn.cursor()
            if name == "sqlite":
                dbapi_conn.isolation_level = None
                cursor.execute("BEGIN")
                try:
                    result = fn(DbapiReader(cursor, dialect))
                finally:
                    cursor.execute("COMMIT")
            elif name == "postgresql":
                dbapi_conn.autocommit = True
                try:
                    result = fn(DbapiReader(cursor, dialect))
                finally:
                    dbapi_conn.autocommit = False
            else:
                result = fn(DbapiReader(cursor, dialect))
            return result
        except dialect.loaded_dbapi.Error as e:
            if attempt == 0 and dialect.is_disconnect(e, dbapi_conn, cursor):
                fairy.invalidate(e)
                continue
            raise DBAPIError.instance(None, None, e, dialect.loaded_dbapi.Error, dialect=dialect) from e
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except dialect.loaded_dbapi.Error:
                    pass
            fairy.close()
    raise AssertionError("unreachable")


READERS = {"sqlite": 256, "postgresql": 8}  # reader connections per process, by database
READER_WORK_MEM = "32MB"  # PostgreSQL readers' sort memory
_BUSY = object()


class _Readers:
    """This process's connections for `dbapi_read`, kept outside SQLAlchemy's pool: taking one is a
    deque pop, where the pool's checkout and reset cost about 10 µs (a third of a get_table on SQLite),
    and PostgreSQL ones stay in autocommit rather than switching to it and back on every read. Each is
    made by the pool (so it has the engine's set-up: WAL, busy timeout, ...) and then detached from it.
    At most `limit` are open; reads beyond that use the pool."""

    def __init__(self, engine: Engine, limit: int):
        self.engine, self.limit = engine, limit
        self.idle: deque = deque()
        self.open = 0
        self.lock = threading.Lock()

    def take(self):
        try:
            return self.idle.pop()
        except IndexError:
            pass
        with self.lock:
            if self.open >= self.limit:
                return None
            self.open += 1
        try:
            fairy = self.engine.raw_connection()
            conn = fairy.dbapi_connection
            fairy.detach()
            if self.engine.dialect.name == "sqlite":
                conn.isolation_level = None  # statements in autocommit, unless in BEGIN ... COMMIT
            else:
                conn.autocommit = True
                # listings sort a few MB (10,000 partitions: ~5 MB) by name: in memory, not in temporary
                # files (4 MB by default); only these few connections, only while they sort
                conn.execute(f"SET work_mem = '{READER_WORK_MEM}'")
            return conn
        except BaseException:
            with self.lock:
                self.open -= 1
            raise

    def drop(self, conn) -> None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already dead
            pass
        with self.lock:
            self.open -= 1

    def drop_idle(self) -> None:
        """After a dead connection: the idle ones most likely died with it (the database restarted)."""
        while True:
            try:
                conn = self.idle.pop()
            except IndexError:
                return
            self.drop(conn)


def _readers(engine: Engine) -> _Readers | None:
    """The readers of `engine` in this process, kept with its pool (a new pool, after `engine.dispose()`
    or in a forked child, starts with none); None where the pool must be used: other databases, and
    in-memory SQLite, whose one pooled connection is the database."""
    held = getattr(engine.pool, "_mortar_readers", None)
    if held is None or held[0] != os.getpid():
        name, database = engine.dialect.name, engine.url.database
        usable = name == "postgresql" or (
            name == "sqlite" and bool(database) and database != ":memory:" and "mode=memory" not in str(engine.url.query)
        )
        held = (os.getpid(), _Readers(engine, READERS[name]) if usable else None)
        engine.pool._mortar_readers = held
    return held[1]


def _reader_read(engine: Engine, readers: _Readers, fn, single: bool):
    dialect = engine.dialect
    sqlite = dialect.name == "sqlite"
    for attempt in (0, 1):
        conn = readers.take()
        if conn is None:
            return _BUSY
        cursor = None
        alive = True
        try:
            cursor = conn.cursor()
            if single or not sqlite:
                return fn(DbapiReader(cursor, dialect))
            cursor.execute("BEGIN")
            try:
                return fn(DbapiReader(cursor, dialect))
            finally:
                cursor.execute("COMMIT")  # a read: commit and rollback both just end it
        except dialect.loaded_dbapi.Error as e:
            if dialect.is_disconnect(e, conn, cursor):
                alive = False
                readers.drop_idle()
                if attempt == 0:
                    continue
            raise DBAPIError.instance(None, None, e, dialect.loaded_dbapi.Error, dialect=dialect) from e
        finally:
            if alive:
                try:
                    if cursor is not None:
                        cursor.close()
                    if sqlite and conn.in_transaction:  # a failed COMMIT
                        conn.rollback()
                    readers.idle.append(conn)
                except dialect.loaded_dbapi.Error:
                    readers.drop(conn)
            else:
                readers.drop(conn)
    raise AssertionError("unreachable")


_TABLE_SQL = Sql(_TABLE_BY_NAME, named=True)
_DATABASE_SQL = Sql(_DATABASE_BY_NAME, named=True)
_CATALOG_ID_SQL = Sql(_CATALOG_ID)


class Area:
    """One area of the catalog (databases, tables, ...). Each public method is one transaction."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def _read(self):
        return read_transaction(self.ctx.engine)

    def _write(self):
        return write_transaction(self.ctx.engine)

    # --- look-ups shared by the areas -----------------------------------------------------------

    @staticmethod
    def _catalog_id(conn: Connection, catalog: str) -> int:
        cid = conn.execute(select(CatalogRow.id).where(CatalogRow.name == catalog.lower())).scalar()
        if cid is None:
            raise NotFound(f"catalog {catalog} does not exist")
        return cid

    @classmethod
    def _database_row(cls, conn: Connection, catalog: str, db: str):
        row = conn.execute(_DATABASE_BY_NAME, {"cat": catalog.lower(), "db": db.lower()}).first()
        if row is None:
            cls._catalog_id(conn, catalog)
            raise NotFound(f"database {catalog}.{db} does not exist" if catalog != "hive" else f"database {db} does not exist")
        return row

    @classmethod
    def _table_row(cls, conn: Connection, catalog: str, db: str, table: str, for_update: bool = False):
        query = _TABLE_BY_NAME_FOR_UPDATE if for_update else _TABLE_BY_NAME
        row = conn.execute(query, {"cat": catalog.lower(), "db": db.lower(), "tbl": table.lower()}).first()
        if row is None:
            cls._database_row(conn, catalog, db)
            raise NotFound(f"table {db}.{table} does not exist")
        return row

    # --- the same look-ups on the bare DBAPI connection (hot read paths, see `dbapi_read`) -------

    def _fast_read(self, fn, single: bool = False):
        return dbapi_read(self.ctx.engine, fn, single)

    @staticmethod
    def _table_row_fast(r: DbapiReader, catalog: str, db: str, table: str):
        row = r.first(_TABLE_SQL, {"cat": catalog.lower(), "db": db.lower(), "tbl": table.lower()})
        if row is None:
            if r.first(_DATABASE_SQL, {"cat": catalog.lower(), "db": db.lower()}) is None:
                if r.first(_CATALOG_ID_SQL, {"cat": catalog.lower()}) is None:
                    raise NotFound(f"catalog {catalog} does not exist")
                raise NotFound(f"database {catalog}.{db} does not exist" if catalog != "hive" else f"database {db} does not exist")
            raise NotFound(f"table {db}.{table} does not exist")
        return row

    def _audit(self, conn: Connection, action: str, catalog: str, db: str | None, obj: str | None, **details) -> int:
        """Write the audit record of a mutation (same transaction); its id is the notification event id."""
        result = conn.execute(
            insert(AuditRow).values(
                at=now_ms(),
                user=self.ctx.user,
                action=action,
                catalog_name=catalog,
                db_name=db,
                object_name=obj,
                details=codec.dumps(details),
            )
        )
        return result.inserted_primary_key[0]
