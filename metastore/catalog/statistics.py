"""Column statistics of tables and partitions (ANALYZE TABLE ... FOR COLUMNS)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from metastore.catalog import codec
from metastore.catalog.base import Area, now_s
from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.names import make_partition_name, parse_partition_name
from metastore.catalog.types import DEFAULT_CATALOG, ColumnStats
from metastore.storage.models import PartitionColumnStatsRow, PartitionRow, TableColumnStatsRow

STATS_KINDS = {"booleanStats", "longStats", "doubleStats", "stringStats", "binaryStats", "decimalStats",
               "dateStats", "timestampStats"}  # fmt: skip


def _check(stats: list[ColumnStats], known_columns: dict[str, str], where: str) -> None:
    for s in stats:
        if len(s.data) != 1 or next(iter(s.data)) not in STATS_KINDS:
            raise InvalidInput(f"statistics of column {s.column_name} of {where} are not one of {sorted(STATS_KINDS)}")
        if s.column_name.lower() not in known_columns:
            raise InvalidInput(f"column {s.column_name} does not exist in {where}")


def _stats(row) -> ColumnStats:
    return ColumnStats(row.column_name, row.column_type, codec.loads(row.data), row.last_analyzed)


class Statistics(Area):
    def _columns(self, conn: Connection, catalog: str, db: str, table: str):
        row = self._table_row(conn, catalog, db, table)
        cols = codec.cols_from_json(codec.loads(row.sd)["cols"])
        keys = codec.cols_from_json(codec.loads(row.partition_keys))
        return row, {c.name.lower(): c.type for c in cols}, [k.name for k in keys]

    # --- table level --------------------------------------------------------------------------------

    def update_table(self, db: str, table: str, stats: list[ColumnStats], engine: str = "hive",
                     catalog: str = DEFAULT_CATALOG) -> None:  # fmt: skip
        with self._write() as conn:
            row, cols, _ = self._columns(conn, catalog, db, table)
            _check(stats, cols, f"table {db}.{table}")
            names = [s.column_name.lower() for s in stats]
            conn.execute(delete(TableColumnStatsRow).where(
                TableColumnStatsRow.table_id == row.id, TableColumnStatsRow.engine == engine,
                TableColumnStatsRow.column_name.in_(names)))  # fmt: skip
            if stats:
                conn.execute(insert(TableColumnStatsRow), [
                    {"table_id": row.id, "column_name": s.column_name.lower(), "column_type": s.column_type,
                     "engine": engine, "data": codec.dumps(s.data), "last_analyzed": s.last_analyzed or now_s()}
                    for s in stats
                ])  # fmt: skip
            self._audit(conn, "UPDATE_TABLE_COLUMN_STATS", catalog, db.lower(), row.name, columns=names)

    def get_table(self, db: str, table: str, columns: list[str], engine: str = "hive",
                  catalog: str = DEFAULT_CATALOG) -> list[ColumnStats]:  # fmt: skip
        with self._read() as conn:
            row = self._table_row(conn, catalog, db, table)
            rows = conn.execute(select(TableColumnStatsRow).where(
                TableColumnStatsRow.table_id == row.id, TableColumnStatsRow.engine == engine,
                TableColumnStatsRow.column_name.in_([c.lower() for c in columns]))).all()  # fmt: skip
        order = {c.lower(): i for i, c in enumerate(columns)}
        return sorted((_stats(r) for r in rows), key=lambda s: order[s.column_name])

    def delete_table(self, db: str, table: str, column: str | None = None, engine: str = "hive",
                     catalog: str = DEFAULT_CATALOG) -> bool:  # fmt: skip
        """Delete the statistics of one column (or all); False when there were none."""
        with self._write() as conn:
            row = self._table_row(conn, catalog, db, table)
            query = delete(TableColumnStatsRow).where(TableColumnStatsRow.table_id == row.id,
                                                      TableColumnStatsRow.engine == engine)  # fmt: skip
            if column:
                query = query.where(TableColumnStatsRow.column_name == column.lower())
            n = conn.execute(query).rowcount
            self._audit(conn, "DELETE_TABLE_COLUMN_STATS", catalog, db.lower(), row.name, column=column)
        return n > 0

    # --- partition level ----------------------------------------------------------------------------

    def _partition_ids(self, conn: Connection, table_id: int, keys: list[str], names: list[str]) -> dict[str, int]:
        canon = {make_partition_name(keys, parse_partition_name(n, keys)): n for n in names}
        out: dict[str, int] = {}
        wanted = list(canon)
        for i in range(0, len(wanted), 500):
            for pid, name in conn.execute(select(PartitionRow.id, PartitionRow.name).where(
                    PartitionRow.table_id == table_id, PartitionRow.name.in_(wanted[i:i + 500]))):  # fmt: skip
                out[name] = pid
        return out

    def update_partition(self, db: str, table: str, partition_name: str, stats: list[ColumnStats],
                         engine: str = "hive", catalog: str = DEFAULT_CATALOG) -> None:  # fmt: skip
        with self._write() as conn:
            row, cols, keys = self._columns(conn, catalog, db, table)
            _check(stats, cols, f"table {db}.{table}")
            ids = self._partition_ids(conn, row.id, keys, [partition_name])
            if not ids:
                raise NotFound(f"partition {partition_name} of table {db}.{table} does not exist")
            pid = next(iter(ids.values()))
            names = [s.column_name.lower() for s in stats]
            conn.execute(delete(PartitionColumnStatsRow).where(
                PartitionColumnStatsRow.partition_id == pid, PartitionColumnStatsRow.engine == engine,
                PartitionColumnStatsRow.column_name.in_(names)))  # fmt: skip
            if stats:
                conn.execute(insert(PartitionColumnStatsRow), [
                    {"partition_id": pid, "table_id": row.id, "column_name": s.column_name.lower(),
                     "column_type": s.column_type, "engine": engine, "data": codec.dumps(s.data),
                     "last_analyzed": s.last_analyzed or now_s()}
                    for s in stats
                ])  # fmt: skip
            self._audit(conn, "UPDATE_PARTITION_COLUMN_STATS", catalog, db.lower(), row.name,
                        partition=partition_name, columns=names)  # fmt: skip

    def get_partitions(self, db: str, table: str, partition_names: list[str], columns: list[str],
                       engine: str = "hive", catalog: str = DEFAULT_CATALOG) -> dict[str, list[ColumnStats]]:  # fmt: skip
        """Statistics per partition name (partitions without any are left out)."""
        with self._read() as conn:
            row, _, keys = self._columns(conn, catalog, db, table)
            ids = self._partition_ids(conn, row.id, keys, partition_names)
            by_id = {pid: name for name, pid in ids.items()}
            out: dict[str, list[ColumnStats]] = {}
            pids = list(by_id)
            for i in range(0, len(pids), 500):
                for r in conn.execute(select(PartitionColumnStatsRow).where(
                        PartitionColumnStatsRow.partition_id.in_(pids[i:i + 500]),
                        PartitionColumnStatsRow.engine == engine,
                        PartitionColumnStatsRow.column_name.in_([c.lower() for c in columns]))):  # fmt: skip
                    out.setdefault(by_id[r.partition_id], []).append(_stats(r))
        return out

    def delete_partition(self, db: str, table: str, partition_name: str, column: str | None = None,
                         engine: str = "hive", catalog: str = DEFAULT_CATALOG) -> bool:  # fmt: skip
        with self._write() as conn:
            row, _, keys = self._columns(conn, catalog, db, table)
            ids = self._partition_ids(conn, row.id, keys, [partition_name])
            if not ids:
                raise NotFound(f"partition {partition_name} of table {db}.{table} does not exist")
            query = delete(PartitionColumnStatsRow).where(
                PartitionColumnStatsRow.partition_id == next(iter(ids.values())),
                PartitionColumnStatsRow.engine == engine)  # fmt: skip
            if column:
                query = query.where(PartitionColumnStatsRow.column_name == column.lower())
            n = conn.execute(query).rowcount
            self._audit(conn, "DELETE_PARTITION_COLUMN_STATS", catalog, db.lower(), row.name,
                        partition=partition_name, column=column)  # fmt: skip
        return n > 0
