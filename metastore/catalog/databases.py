"""Catalogs and databases."""

from __future__ import annotations

import re

from sqlalchemy import delete, func, insert, select, update

from metastore.catalog import codec
from metastore.catalog.base import Area, now_s
from metastore.catalog.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG, DEFAULT_DATABASE, Catalog, Database
from metastore.catalog.warehouse import join, qualify
from metastore.storage.models import CatalogRow, DatabaseRow, FunctionRow, TableRow


def hive_pattern(pattern: str | None) -> re.Pattern | None:
    """HMS name patterns: `|` separates alternatives, each a regular expression where `*` means `.*`;
    matching is case-insensitive. None or `*` means all (returned as None)."""
    if pattern in (None, "", "*"):
        return None
    alts = []
    for alt in pattern.split("|"):
        alt = alt.strip().replace("*", ".*")
        try:
            re.compile(alt)
        except re.error:
            alt = re.escape(alt)
        alts.append(f"(?:{alt})")
    return re.compile("|".join(alts), re.IGNORECASE)


def _database(row, catalog: str) -> Database:
    return Database(
        name=row.name,
        catalog=catalog,
        description=row.description,
        location_uri=row.location_uri,
        managed_location_uri=row.managed_location_uri,
        parameters=codec.loads(row.parameters),
        owner_name=row.owner_name,
        owner_type=row.owner_type,
        create_time=row.create_time,
    )


class Catalogs(Area):
    def ensure_default(self) -> None:
        """Create the `hive` catalog and its `default` database if missing (at server start)."""
        with self._write() as conn:
            if conn.execute(select(CatalogRow.id).where(CatalogRow.name == DEFAULT_CATALOG)).scalar() is None:
                conn.execute(
                    insert(CatalogRow).values(
                        name=DEFAULT_CATALOG,
                        description="Default catalog, for Hive",
                        location_uri=self.ctx.warehouse.root,
                        create_time=now_s(),
                    )
                )
        try:
            Databases(self.ctx).create(
                Database(name=DEFAULT_DATABASE, description="Default Hive database", owner_name="public", owner_type=2)
            )
        except AlreadyExists:
            pass

    def create(self, catalog: Catalog) -> None:
        name = check_name("catalog", catalog.name)
        if not catalog.location_uri:
            raise InvalidInput(f"catalog {name} needs a location")
        with self._write() as conn:
            if conn.execute(select(CatalogRow.id).where(CatalogRow.name == name)).scalar() is not None:
                raise AlreadyExists(f"catalog {name} already exists")
            conn.execute(
                insert(CatalogRow).values(
                    name=name, description=catalog.description, location_uri=catalog.location_uri, create_time=now_s()
                )
            )
            self._audit(conn, "CREATE_CATALOG", name, None, None)
        self.ctx.warehouse.mkdirs(catalog.location_uri)

    def get(self, name: str) -> Catalog:
        with self._read() as conn:
            row = conn.execute(select(CatalogRow).where(CatalogRow.name == name.lower())).first()
        if row is None:
            raise NotFound(f"catalog {name} does not exist")
        return Catalog(row.name, row.location_uri, row.description, row.create_time)

    def list(self) -> list[str]:
        with self._read() as conn:
            return list(conn.execute(select(CatalogRow.name).order_by(CatalogRow.name)).scalars())

    def drop(self, name: str) -> None:
        if name.lower() == DEFAULT_CATALOG:
            raise Conflict("the hive catalog cannot be dropped")
        with self._write() as conn:
            cid = self._catalog_id(conn, name)
            if conn.execute(select(func.count()).where(DatabaseRow.catalog_id == cid)).scalar():
                raise Conflict(f"catalog {name} is not empty: drop its databases first")
            conn.execute(delete(CatalogRow).where(CatalogRow.id == cid))
            self._audit(conn, "DROP_CATALOG", name, None, None)


class Databases(Area):
    def create(self, db: Database, *, hive: bool = False) -> Database:
        """`hive`: as the Hive Metastore does, a local location is stored qualified (`file:/path`)."""
        name = check_name("database", db.name)
        with self._write() as conn:
            cid = self._catalog_id(conn, db.catalog)
            exists = conn.execute(
                select(DatabaseRow.id).where(DatabaseRow.catalog_id == cid, DatabaseRow.name == name)
            ).scalar()
            if exists is not None:
                raise AlreadyExists(f"database {name} already exists")
            location = db.location_uri or self._default_location(conn, db.catalog, name)
            if hive:
                location = qualify(location)
            conn.execute(
                insert(DatabaseRow).values(
                    catalog_id=cid,
                    name=name,
                    description=db.description,
                    location_uri=location,
                    managed_location_uri=db.managed_location_uri,
                    owner_name=db.owner_name,
                    owner_type=db.owner_type,
                    parameters=codec.dumps(db.parameters or {}),
                    create_time=db.create_time or now_s(),
                )
            )
            self._audit(conn, "CREATE_DATABASE", db.catalog, name, None, location=location)
        self.ctx.warehouse.mkdirs(location)
        return self.get(name, db.catalog)

    def _default_location(self, conn, catalog: str, name: str) -> str:
        if catalog.lower() == DEFAULT_CATALOG:
            return self.ctx.warehouse.database_location(name)
        root = conn.execute(select(CatalogRow.location_uri).where(CatalogRow.name == catalog.lower())).scalar()
        return join(root, f"{name}.db")

    def get(self, name: str, catalog: str = DEFAULT_CATALOG) -> Database:
        with self._read() as conn:
            return _database(self._database_row(conn, catalog, name), catalog.lower())

    def list(self, pattern: str | None = None, catalog: str = DEFAULT_CATALOG) -> list[str]:
        with self._read() as conn:
            cid = self._catalog_id(conn, catalog)
            names = conn.execute(
                select(DatabaseRow.name).where(DatabaseRow.catalog_id == cid).order_by(DatabaseRow.name)
            ).scalars()
            rx = hive_pattern(pattern)
            return [n for n in names if rx is None or rx.fullmatch(n)]

    def alter(self, name: str, db: Database, catalog: str = DEFAULT_CATALOG) -> None:
        """Change description, location, parameters and owner (the name cannot change, as in HMS)."""
        with self._write() as conn:
            row = self._database_row(conn, catalog, name)
            conn.execute(
                update(DatabaseRow)
                .where(DatabaseRow.id == row.id)
                .values(
                    description=db.description,
                    location_uri=db.location_uri or row.location_uri,
                    managed_location_uri=db.managed_location_uri,
                    owner_name=db.owner_name,
                    owner_type=db.owner_type,
                    parameters=codec.dumps(db.parameters or {}),
                )
            )
            self._audit(conn, "ALTER_DATABASE", catalog, row.name, None)

    def drop(
        self, name: str, *, cascade: bool = False, delete_data: bool = True, catalog: str = DEFAULT_CATALOG
    ) -> None:
        from metastore.catalog.tables import Tables  # drop of the tables' data is the tables' business

        if name.lower() == DEFAULT_DATABASE and catalog.lower() == DEFAULT_CATALOG:
            raise Conflict("database default cannot be dropped")
        to_delete: list[str | None] = []
        with self._write() as conn:
            row = self._database_row(conn, catalog, name)
            tables = conn.execute(select(TableRow).where(TableRow.database_id == row.id)).all()
            functions = conn.execute(select(func.count()).where(FunctionRow.database_id == row.id)).scalar()
            if (tables or functions) and not cascade:
                # HMS's wording: Spark recognises it and reports SCHEMA_NOT_EMPTY
                what = "tables" if tables else "functions"
                raise Conflict(f"Database {row.name} is not empty. One or more {what} exist.")
            if delete_data:
                to_delete = [t for table in tables for t in Tables.data_locations_to_delete(conn, table)]
                to_delete.append(row.location_uri)
            conn.execute(delete(DatabaseRow).where(DatabaseRow.id == row.id))
            self._audit(conn, "DROP_DATABASE", catalog, row.name, None, tables=len(tables), cascade=cascade)
        for location in to_delete:
            self.ctx.warehouse.delete(location)
