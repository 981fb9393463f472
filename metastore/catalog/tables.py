"""Tables and views: create, read, list, alter (rename, schema change, cascade), drop, versions."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from metastore.catalog import codec
from metastore.catalog.base import _TABLE_SQL, Area, new_partitions_version, now_ms, now_s, raw_rows
from metastore.catalog.databases import hive_pattern
from metastore.catalog.errors import AlreadyExists, Conflict, InvalidInput
from metastore.catalog.names import check_column_name, check_name, check_type
from metastore.catalog.table_filter import compile_table_filter, matches
from metastore.catalog.types import (
    DEFAULT_CATALOG,
    EXTERNAL_TABLE,
    MANAGED_TABLE,
    TABLE_TYPES,
    Column,
    Table,
    TableVersion,
)
from metastore.catalog.warehouse import Warehouse, qualify
from metastore.storage.models import DatabaseRow, PartitionRow, TableRow, TableVersionRow

DDL_TIME = "transient_lastDdlTime"
FAST_STATS = ("numFiles", "totalSize")  # what HMS counts in an existing folder (see Warehouse.quick_stats)
DO_NOT_UPDATE_STATS = "DO_NOT_UPDATE_STATS"


def with_quick_stats(params: dict[str, str], stats: tuple[int, int] | None) -> None:
    """HMS's `updateStatsFast`: the folder's file count and size, unless both are given already, or the
    folder did not exist (`stats` None)."""
    if stats is not None and not all(k in params for k in FAST_STATS):
        params["numFiles"], params["totalSize"] = str(stats[0]), str(stats[1])


def table_from_row(row, db_name: str, catalog: str) -> Table:
    return Table(
        name=row.name,
        db_name=db_name,
        catalog=catalog,
        owner=row.owner,
        owner_type=row.owner_type,
        create_time=row.create_time,
        last_access_time=row.last_access_time,
        retention=row.retention,
        sd=codec.sd_from_json(codec.loads(row.sd)),
        partition_keys=codec.cols_from_json(codec.loads(row.partition_keys)),
        parameters=codec.loads(row.parameters),
        view_original_text=row.view_original_text,
        view_expanded_text=row.view_expanded_text,
        table_type=row.table_type,
        temporary=row.temporary,
        rewrite_enabled=row.rewrite_enabled,
        version=row.version,
    )


def _store_encoding(conn: Connection, table_id: int, db_name: str, catalog: str) -> None:
    """Keep the table's get_table answer in its row (`tables.encoded`, see wire.stored_table), made from the
    row as this transaction leaves it, read as the hot path reads it."""
    from metastore.hms import wire  # the encoder of HMS answers (imported late: it imports the catalog)

    (row,) = raw_rows(conn, select(TableRow).where(TableRow.id == table_id))
    named = _TABLE_SQL.row._make(row)
    conn.execute(update(TableRow).where(TableRow.id == table_id)
                 .values(encoded=wire.stored_table(named, db_name.lower(), catalog.lower())))  # fmt: skip


def _encoding(values: dict, db_name: str, catalog: str) -> bytes:
    """`tables.encoded` for a row of these column values (see wire.stored_table)."""
    from metastore.hms import wire

    return wire.stored_table(_TABLE_SQL.row(**{f: values.get(f) for f in _TABLE_SQL.row._fields}),
                             db_name.lower(), catalog.lower())  # fmt: skip


def check_columns(table: Table) -> None:
    """Valid names and types, no name twice among columns and partition keys (case-insensitive)."""
    seen: set[str] = set()
    for kind, cols in (("column", table.sd.cols), ("partition key", table.partition_keys)):
        for c in cols:
            check_column_name(c.name)
            check_type(c.type)
            if c.name.lower() in seen:
                raise InvalidInput(f"table {table.db_name}.{table.name}: duplicate {kind} {c.name!r}")
            seen.add(c.name.lower())


def _row_values(table: Table, name: str, table_type: str, params: dict[str, str]) -> dict:
    """The columns of a table's row that come from the table object (create and alter)."""
    return dict(
        name=name,
        owner=table.owner,
        owner_type=table.owner_type,
        table_type=table_type,
        last_access_time=table.last_access_time,
        retention=table.retention,
        view_original_text=table.view_original_text,
        view_expanded_text=table.view_expanded_text,
        sd=codec.dumps(codec.sd_to_json(table.sd)),
        partition_keys=codec.dumps(codec.cols_to_json(table.partition_keys)),
        parameters=codec.dumps(params),
        temporary=table.temporary,
        rewrite_enabled=table.rewrite_enabled,
    )


def _same_columns(a: list[Column], b: list[Column]) -> bool:
    return [(c.name.lower(), c.type.lower()) for c in a] == [(c.name.lower(), c.type.lower()) for c in b]


class Tables(Area):
    # --- create -----------------------------------------------------------------------------------

    def create(self, table: Table, *, hive: bool = False) -> Table:
        """`hive`: as the Hive Metastore does, a local location is stored qualified (`file:/path`), and an
        unpartitioned table on a folder that exists gets its file count and size (`numFiles`, `totalSize`)
        unless its parameters say DO_NOT_UPDATE_STATS (a marker, never stored)."""
        name = check_name("table", table.name)
        check_columns(table)
        if table.table_type is None or table.table_type == "":
            table.table_type = EXTERNAL_TABLE if table.is_external else MANAGED_TABLE
        if table.table_type not in TABLE_TYPES:
            raise InvalidInput(f"table {table.db_name}.{name}: unknown table type {table.table_type!r}")
        created = now_s()
        params = dict(table.parameters)
        params.setdefault(DDL_TIME, str(created))
        sd = table.sd
        with self._write() as conn:
            db = self._database_row(conn, table.catalog, table.db_name)
            exists = conn.execute(
                select(TableRow.id).where(TableRow.database_id == db.id, TableRow.name == name)
            ).scalar()
            if exists is not None:
                raise AlreadyExists(f"table {db.name}.{name} already exists")
            if not table.is_view and not sd.location:
                sd.location = Warehouse.table_location(db.location_uri, name)
            if hive and not table.is_view:
                sd.location = qualify(sd.location)
                skip = params.pop(DO_NOT_UPDATE_STATS, "false").lower() == "true"
                if not skip and not table.partition_keys:
                    with_quick_stats(params, self.ctx.warehouse.quick_stats(sd.location))
            table_id = conn.execute(
                insert(TableRow).values(database_id=db.id, create_time=created, version=1,
                                        partitions_version=new_partitions_version(),
                                        **_row_values(table, name, table.table_type, params))  # fmt: skip
            ).inserted_primary_key[0]
            self._add_version(conn, table_id, 1, table.sd.cols, table.partition_keys)
            _store_encoding(conn, table_id, db.name, table.catalog)
            self._audit(conn, "CREATE_TABLE", table.catalog, db.name, name, type=table.table_type, location=sd.location)
        if not table.is_view:
            self.ctx.warehouse.mkdirs(sd.location)
        return self.get(table.db_name, name, table.catalog)

    def _add_version(self, conn: Connection, table_id: int, version: int, cols, keys) -> None:
        conn.execute(
            insert(TableVersionRow).values(
                table_id=table_id,
                version=version,
                columns=codec.dumps(codec.cols_to_json(cols)),
                partition_keys=codec.dumps(codec.cols_to_json(keys)),
                created_at=now_ms(),
                created_by=self.ctx.user,
            )
        )

    # --- read ---------------------------------------------------------------------------------------

    def get(self, db: str, name: str, catalog: str = DEFAULT_CATALOG) -> Table:
        return table_from_row(self.get_stored(db, name, catalog), db.lower(), catalog.lower())

    def get_stored(self, db: str, name: str, catalog: str = DEFAULT_CATALOG):
        """The table's row as stored (a named tuple of TableRow's columns; `table_from_row` makes it a
        Table): for protocol layers that derive their answer from the row alone, e.g. to reuse an
        encoding made for the same row content."""
        return self._fast_read(lambda r: self._table_row_fast(r, catalog, db, name), single=True)

    def get_many(self, db: str, names: list[str], catalog: str = DEFAULT_CATALOG) -> list[Table]:
        """The tables among `names` that exist, in one query (missing names are skipped, as in HMS)."""
        wanted = [n.lower() for n in names if n]
        if not wanted:
            return []
        with self._read() as conn:
            dbrow = self._database_row(conn, catalog, db)
            rows = conn.execute(
                select(TableRow).where(TableRow.database_id == dbrow.id, TableRow.name.in_(wanted))
            ).all()
        by_name = {r.name: r for r in rows}
        return [table_from_row(by_name[n], dbrow.name, catalog.lower()) for n in dict.fromkeys(wanted) if n in by_name]

    def list(
        self, db: str, pattern: str | None = None, table_type: str | None = None, catalog: str = DEFAULT_CATALOG
    ) -> list[str]:
        with self._read() as conn:
            dbrow = self._database_row(conn, catalog, db)
            query = select(TableRow.name).where(TableRow.database_id == dbrow.id).order_by(TableRow.name)
            if table_type:
                query = query.where(TableRow.table_type == table_type)
            names = conn.execute(query).scalars().all()
        rx = hive_pattern(pattern)
        return [n for n in names if rx is None or rx.fullmatch(n)]

    def names_by_filter(self, db: str, filter_text: str, max_tables: int = -1,
                        catalog: str = DEFAULT_CATALOG) -> list[str]:  # fmt: skip
        """Names of the tables matching a table filter (see table_filter), in name order."""
        node = compile_table_filter(filter_text)
        with self._read() as conn:
            dbrow = self._database_row(conn, catalog, db)
            rows = conn.execute(select(TableRow).where(TableRow.database_id == dbrow.id).order_by(TableRow.name)).all()
        names = [r.name for r in rows if matches(node, table_from_row(r, dbrow.name, catalog.lower()))]
        return names if max_tables is None or max_tables < 0 else names[:max_tables]

    def list_meta(
        self,
        db_pattern: str | None,
        table_pattern: str | None,
        table_types: list[str] | None = None,
        catalog: str = DEFAULT_CATALOG,
    ) -> list[tuple[str, str, str, str | None]]:
        """(database, table, type, comment) of the tables matching the patterns (get_table_meta)."""
        with self._read() as conn:
            cid = self._catalog_id(conn, catalog)
            query = (
                select(DatabaseRow.name, TableRow.name, TableRow.table_type, TableRow.parameters)
                .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
                .where(DatabaseRow.catalog_id == cid)
                .order_by(DatabaseRow.name, TableRow.name)
            )
            if table_types:
                query = query.where(TableRow.table_type.in_(table_types))
            rows = conn.execute(query).all()
        drx, trx = hive_pattern(db_pattern), hive_pattern(table_pattern)
        return [
            (d, t, ty, codec.loads(p).get("comment"))
            for d, t, ty, p in rows
            if (drx is None or drx.fullmatch(d)) and (trx is None or trx.fullmatch(t))
        ]

    def versions(self, db: str, name: str, catalog: str = DEFAULT_CATALOG) -> list[TableVersion]:
        with self._read() as conn:
            row = self._table_row(conn, catalog, db, name)
            rows = conn.execute(
                select(TableVersionRow).where(TableVersionRow.table_id == row.id).order_by(TableVersionRow.version)
            ).all()
        return [
            TableVersion(
                r.version,
                codec.cols_from_json(codec.loads(r.columns)),
                codec.cols_from_json(codec.loads(r.partition_keys)),
                r.created_at,
                r.created_by,
            )
            for r in rows
        ]

    # --- alter --------------------------------------------------------------------------------------

    def alter(self, db: str, name: str, new: Table, *, cascade: bool = False, catalog: str = DEFAULT_CATALOG,
              before=None, after=None) -> None:  # fmt: skip
        """Replace the table's definition with `new`, HMS-style.

        `before(conn, old_row)` and `after(conn, table_id)` are called in the same transaction, with the table
        locked, before and after the change: `before` may raise to cancel it (a protocol's optimistic
        concurrency, e.g. Glue's VersionId), both may write rows of their own.

        A new name or database renames the table (and moves a managed table's default directory with
        its partitions); changed columns make a new schema version, and with `cascade` are copied to
        every partition. Partition keys can only change in name case or comment.
        """
        new_name = check_name("table", new.name)
        check_columns(new)
        moves: list[tuple[str, str]] = []
        with self._write() as conn:
            old_row = self._table_row(conn, catalog, db, name, for_update=True)
            if before is not None:
                before(conn, old_row)
            old = table_from_row(old_row, db.lower(), catalog.lower())
            if not _same_columns(old.partition_keys, new.partition_keys):
                raise Conflict(f"table {db}.{name}: partition keys cannot be changed")
            target_db = self._database_row(conn, catalog, new.db_name or db)
            renamed = (target_db.id, new_name) != (old_row.database_id, old_row.name)
            if renamed:
                clash = conn.execute(
                    select(TableRow.id).where(TableRow.database_id == target_db.id, TableRow.name == new_name)
                ).scalar()
                if clash is not None:
                    raise AlreadyExists(f"table {target_db.name}.{new_name} already exists")
            sd = new.sd
            if not sd.location and not new.is_view:
                sd.location = old.sd.location
            if (
                renamed
                and not old.is_external
                and not old.is_view
                and sd.location == old.sd.location
                and old.sd.location
                and self._is_default_location(conn, old_row.database_id, old_row.name, old.sd.location)
            ):
                sd.location = Warehouse.table_location(target_db.location_uri, new_name)
                moves.append((old.sd.location, sd.location))
                self._relocate_partitions(conn, old_row.id, old.sd.location, sd.location)
            params = dict(new.parameters)
            if params.get(DDL_TIME) in (None, "0") or params.get(DDL_TIME) == old.parameters.get(DDL_TIME):
                params[DDL_TIME] = str(now_s())
            version = old_row.version
            schema_changed = not _same_columns(old.sd.cols, sd.cols) or [c.comment for c in old.sd.cols] != [
                c.comment for c in sd.cols
            ]
            if schema_changed or [c.name for c in old.partition_keys] != [c.name for c in new.partition_keys]:
                version += 1
                self._add_version(conn, old_row.id, version, sd.cols, new.partition_keys)
            # partitions given new locations (rename) or columns (cascade) make a new partitions version
            changes = {"partitions_version": new_partitions_version()} if moves or (cascade and schema_changed) else {}
            if changes or renamed:  # the partitions' encoded chunks name the table: made again at the next change
                changes["chunks_version"] = None
            if renamed:  # so do their rows' encodings
                conn.execute(update(PartitionRow).where(PartitionRow.table_id == old_row.id).values(encoded=None))
            values = {"database_id": target_db.id, "version": version, **changes,
                      **_row_values(new, new_name, new.table_type or old.table_type, params)}  # fmt: skip
            # the get_table answer of the row as it will be, in the same UPDATE (on PostgreSQL a second one
            # would leave one more row version for the next reader to step over)
            values["encoded"] = _encoding({**old_row._mapping, **values}, target_db.name, catalog)
            conn.execute(update(TableRow).where(TableRow.id == old_row.id).values(**values))
            if cascade and schema_changed:
                self._cascade_columns(conn, old_row.id, sd.cols)
            if after is not None:
                after(conn, old_row.id)
            details = {"version": version} if version != old_row.version else {}
            if renamed:
                details["renamed_to"] = f"{target_db.name}.{new_name}"
            self._audit(conn, "ALTER_TABLE", catalog, db.lower(), old_row.name, **details)
        for src, dst in moves:
            self.ctx.warehouse.rename(src, dst)

    def _is_default_location(self, conn: Connection, database_id: int, name: str, location: str) -> bool:
        db_location = conn.execute(select(DatabaseRow.location_uri).where(DatabaseRow.id == database_id)).scalar()
        return _norm(location) == _norm(Warehouse.table_location(db_location, name))

    @staticmethod
    def _relocate_partitions(conn: Connection, table_id: int, old_root: str, new_root: str) -> None:
        rows = conn.execute(select(PartitionRow.id, PartitionRow.location).where(PartitionRow.table_id == table_id))
        updates = [
            {"pid": pid, "loc": new_root.rstrip("/") + _norm(loc)[len(_norm(old_root)) :]}
            for pid, loc in rows
            if loc and _norm(loc).startswith(_norm(old_root) + "/")
        ]
        if updates:
            conn.execute(
                update(PartitionRow).where(PartitionRow.id == bindparam("pid")).values(location=bindparam("loc"),
                                                                                       encoded=None),
                updates,
            )

    @staticmethod
    def _cascade_columns(conn: Connection, table_id: int, cols: list[Column]) -> None:
        cols_json = codec.cols_to_json(cols)
        rows = conn.execute(select(PartitionRow.id, PartitionRow.sd).where(PartitionRow.table_id == table_id)).all()
        updates = []
        for pid, sd_text in rows:
            sd = codec.loads(sd_text)
            sd["cols"] = cols_json
            updates.append({"pid": pid, "sd": codec.dumps(sd)})
        if updates:
            conn.execute(
                update(PartitionRow).where(PartitionRow.id == bindparam("pid")).values(sd=bindparam("sd"), encoded=None),
                updates,
            )

    # --- drop ---------------------------------------------------------------------------------------

    @staticmethod
    def data_locations_to_delete(conn: Connection, row) -> list[str]:
        """The directories dropping this table with deleteData removes: none for external tables and
        views; else the table's location and partition locations outside it."""
        params = codec.loads(row.parameters)
        if row.table_type in (EXTERNAL_TABLE, "VIRTUAL_VIEW") or params.get("EXTERNAL", "").upper() == "TRUE":
            return []
        location = codec.loads(row.sd).get("location")
        out = [location] if location else []
        root = _norm(location) + "/" if location else None
        for (loc,) in conn.execute(select(PartitionRow.location).where(PartitionRow.table_id == row.id)):
            if loc and (root is None or not _norm(loc).startswith(root)):
                out.append(loc)
        return out

    def drop(self, db: str, name: str, *, delete_data: bool = True, catalog: str = DEFAULT_CATALOG) -> None:
        with self._write() as conn:
            row = self._table_row(conn, catalog, db, name, for_update=True)
            to_delete = self.data_locations_to_delete(conn, row) if delete_data else []
            conn.execute(delete(TableRow).where(TableRow.id == row.id))
            self._audit(conn, "DROP_TABLE", catalog, db.lower(), row.name, delete_data=delete_data)
        for location in to_delete:
            self.ctx.warehouse.delete(location)

    def truncate(self, db: str, name: str, partition_names: list[str] | None = None, catalog: str = DEFAULT_CATALOG):
        """Delete the files of the table (or of some partitions), keeping the directories."""
        from metastore.catalog.partitions import Partitions

        table = self.get(db, name, catalog)
        if table.is_external:
            raise Conflict(f"table {db}.{name} is external: cannot truncate it")
        if partition_names:
            locations = [p.sd.location for p in Partitions(self.ctx).get_by_names(db, name, partition_names, catalog)]
        elif table.partition_keys:
            locations = [p.sd.location for p in Partitions(self.ctx).list(db, name, catalog=catalog)]
        else:
            locations = [table.sd.location]
        for location in locations:
            self.ctx.warehouse.delete(location)
            self.ctx.warehouse.mkdirs(location)
        with self._write() as conn:
            self._audit(conn, "TRUNCATE_TABLE", catalog, db.lower(), name.lower(), partitions=len(locations))


def _norm(location: str) -> str:
    """A location without scheme noise, for comparing paths: file:/x, file:///x and /x are the same."""
    loc = location.rstrip("/")
    for prefix in ("file://", "file:"):
        if loc.startswith(prefix):
            loc = loc[len(prefix) :]
            break
    return "/" + loc.lstrip("/") if "://" not in loc else loc

