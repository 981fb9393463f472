"""What every area of the catalog service shares: the context, row look-ups and the audit record."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, insert, select

from metastore.catalog import codec
from metastore.catalog.errors import NotFound
from metastore.catalog.warehouse import Warehouse
from metastore.storage.engine import read_transaction, write_transaction
from metastore.storage.models import AuditRow, CatalogRow, DatabaseRow, TableRow


def now_s() -> int:
    return int(time.time())


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Context:
    engine: Engine
    warehouse: Warehouse
    user: str = "anonymous"
    lock_timeout_s: int = 300


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


def raw_rows(conn: Connection, stmt) -> list[tuple]:
    """Run `stmt` on the DBAPI cursor, in the connection's transaction, and return plain tuples.

    For listings of many thousands of rows, where SQLAlchemy's per-row result processing costs more
    than the query: the statement is still built and compiled by SQLAlchemy, with bound parameters.
    """
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    if compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return cursor.fetchall()
    finally:
        cursor.close()


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
