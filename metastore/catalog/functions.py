"""Permanent functions (CREATE FUNCTION ... USING JAR)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from metastore.catalog import codec
from metastore.catalog.base import Area, now_s
from metastore.catalog.databases import hive_pattern
from metastore.catalog.errors import AlreadyExists, InvalidInput, NotFound
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG, Function, ResourceUri
from metastore.storage.models import CatalogRow, DatabaseRow, FunctionRow


def _function(row, db: str, catalog: str) -> Function:
    return Function(
        name=row.name,
        db_name=db,
        class_name=row.class_name,
        catalog=catalog,
        owner_name=row.owner_name,
        owner_type=row.owner_type,
        create_time=row.create_time,
        function_type=row.function_type,
        resource_uris=[ResourceUri(t, u) for t, u in codec.loads(row.resource_uris)],
    )


def _values(fn: Function) -> dict:
    if not fn.class_name:
        raise InvalidInput(f"function {fn.db_name}.{fn.name} needs a class name")
    return dict(
        class_name=fn.class_name,
        owner_name=fn.owner_name,
        owner_type=fn.owner_type,
        function_type=fn.function_type or 1,
        resource_uris=codec.dumps([[r.resource_type, r.uri] for r in fn.resource_uris]),
    )


class Functions(Area):
    def create(self, fn: Function) -> None:
        name = check_name("function", fn.name)
        with self._write() as conn:
            db = self._database_row(conn, fn.catalog, fn.db_name)
            if conn.execute(select(FunctionRow.id).where(FunctionRow.database_id == db.id, FunctionRow.name == name)).first():
                raise AlreadyExists(f"function {db.name}.{name} already exists")
            conn.execute(insert(FunctionRow).values(database_id=db.id, name=name, create_time=now_s(), **_values(fn)))
            self._audit(conn, "CREATE_FUNCTION", fn.catalog, db.name, name, class_name=fn.class_name)

    def _row(self, conn, catalog: str, db: str, name: str):
        dbrow = self._database_row(conn, catalog, db)
        row = conn.execute(
            select(FunctionRow).where(FunctionRow.database_id == dbrow.id, FunctionRow.name == name.lower())
        ).first()
        if row is None:
            raise NotFound(f"function {dbrow.name}.{name} does not exist")
        return row

    def get(self, db: str, name: str, catalog: str = DEFAULT_CATALOG) -> Function:
        with self._read() as conn:
            return _function(self._row(conn, catalog, db, name), db.lower(), catalog.lower())

    def list(self, db: str, pattern: str | None = None, catalog: str = DEFAULT_CATALOG) -> list[str]:
        with self._read() as conn:
            dbrow = self._database_row(conn, catalog, db)
            names = conn.execute(
                select(FunctionRow.name).where(FunctionRow.database_id == dbrow.id).order_by(FunctionRow.name)
            ).scalars()
            rx = hive_pattern(pattern)
            return [n for n in names if rx is None or rx.fullmatch(n)]

    def list_all(self, catalog: str = DEFAULT_CATALOG) -> list[Function]:
        with self._read() as conn:
            rows = conn.execute(
                select(FunctionRow, DatabaseRow.name.label("db_name"))
                .join(DatabaseRow, DatabaseRow.id == FunctionRow.database_id)
                .join(CatalogRow, CatalogRow.id == DatabaseRow.catalog_id)
                .where(CatalogRow.name == catalog.lower())
                .order_by(DatabaseRow.name, FunctionRow.name)
            ).all()
        return [_function(r, r.db_name, catalog.lower()) for r in rows]

    def alter(self, db: str, name: str, fn: Function, catalog: str = DEFAULT_CATALOG) -> None:
        new_name = check_name("function", fn.name)
        with self._write() as conn:
            row = self._row(conn, catalog, db, name)
            target = self._database_row(conn, catalog, fn.db_name or db)
            if (target.id, new_name) != (row.database_id, row.name):
                if conn.execute(
                    select(FunctionRow.id).where(FunctionRow.database_id == target.id, FunctionRow.name == new_name)
                ).first():
                    raise AlreadyExists(f"function {target.name}.{new_name} already exists")
            conn.execute(
                update(FunctionRow)
                .where(FunctionRow.id == row.id)
                .values(database_id=target.id, name=new_name, **_values(fn))
            )
            self._audit(conn, "ALTER_FUNCTION", catalog, db.lower(), row.name)

    def drop(self, db: str, name: str, catalog: str = DEFAULT_CATALOG) -> None:
        with self._write() as conn:
            row = self._row(conn, catalog, db, name)
            conn.execute(delete(FunctionRow).where(FunctionRow.id == row.id))
            self._audit(conn, "DROP_FUNCTION", catalog, db.lower(), row.name)
