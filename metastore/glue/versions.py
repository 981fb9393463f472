"""Glue's table versions: `VersionId` for optimistic concurrency (UpdateTable with a stale one is refused with
ConcurrentModificationException: pyiceberg's commits rely on it), and archived versions (GetTableVersions).

A table's VersionId follows its content, whichever door changed it: `glue_table_state` remembers the version
the table had with a given content fingerprint; content with another fingerprint (changed through Thrift,
the web API...) is the next version, recorded when Glue next reads the table. UpdateTable checks and moves
the version in the transaction of the change itself (Tables.alter's before/after hooks).
"""

from __future__ import annotations

import hashlib
import operator
from types import SimpleNamespace

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog import codec
from metastore.catalog.base import _TABLE_BY_NAME, Area, Sql, now_ms
from metastore.catalog.errors import Conflict
from metastore.catalog.tables import table_from_row
from metastore.catalog.types import Table
from metastore.storage.models import DatabaseRow, GlueTableStateRow, GlueTableVersionRow, TableRow

CONTENT = ("database_id", "name", "owner", "owner_type", "table_type", "last_access_time", "retention",
           "view_original_text", "view_expanded_text", "sd", "partition_keys", "parameters", "temporary",
           "rewrite_enabled")  # fmt: skip
SNAPSHOT = (*CONTENT, "create_time", "version")


def fingerprint(row) -> str:
    """The content of a table's row (as read by SQLAlchemy or straight from the driver: booleans as 0/1)."""
    values = [getattr(row, f) for f in CONTENT]
    return hashlib.sha256(codec.dumps([int(v) if isinstance(v, bool) else v for v in values]).encode()).hexdigest()


def _effective(state, fp: str) -> int:
    if state is None:
        return 1
    return state.version_id if state.fingerprint == fp else state.version_id + 1


# a table's row by name with its recorded Glue state (version, fingerprint; None when not yet recorded)
_TABLE_STATE_SQL = Sql(_TABLE_BY_NAME.add_columns(GlueTableStateRow.version_id.label("glue_version_id"),
                                                  GlueTableStateRow.fingerprint.label("glue_fingerprint"))
                       .outerjoin(GlueTableStateRow, GlueTableStateRow.table_id == TableRow.id), named=True)  # fmt: skip
_content = operator.attrgetter(*CONTENT)
_FINGERPRINTS: dict[tuple, str] = {}  # content (the CONTENT fields of a row) -> its fingerprint
_fingerprinted = 0  # the size of the contents kept (roughly): at most 32 MB


class Versions(Area):
    def table(self, db: str, name: str, catalog: str = "hive") -> tuple:
        """(the table's row, its VersionId) in one statement (GetTable's path): the row with its recorded
        state; the fingerprint of a content is computed once."""

        def read(r):
            row = r.first(_TABLE_STATE_SQL, {"cat": catalog.lower(), "db": db.lower(), "tbl": name.lower()})
            return row if row is not None else self._table_row_fast(r, catalog, db, name)  # raises NotFound

        row = self._fast_read(read, single=True)
        content = _content(row)
        fp = _FINGERPRINTS.get(content)
        if fp is None:
            fp = fingerprint(row)
            global _fingerprinted
            size = sum(len(v) for v in content if isinstance(v, str)) + 200
            if len(_FINGERPRINTS) >= 10_000 or _fingerprinted + size > 32 * 1024 * 1024:
                _FINGERPRINTS.clear()
                _fingerprinted = 0
            _FINGERPRINTS[content] = fp
            _fingerprinted += size
        if row.glue_fingerprint == fp:
            return row, row.glue_version_id
        return row, self.current([row])[row.id]

    def current(self, rows: list) -> dict[int, int]:
        """The VersionId of each table row (by table id); versions not yet recorded for their content are
        recorded now (so that a later change through any door is a new version)."""
        if not rows:
            return {}
        ids = [r.id for r in rows]
        states = {}
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                for s in conn.execute(select(GlueTableStateRow).where(GlueTableStateRow.table_id.in_(ids[i : i + 500]))):
                    states[s.table_id] = s
        out, stale = {}, []
        for r in rows:
            fp = fingerprint(r)
            s = states.get(r.id)
            out[r.id] = _effective(s, fp)
            if s is None or s.fingerprint != fp:
                stale.append((r.id, s, out[r.id], fp))
        if stale:
            try:
                with self._write() as conn:
                    for tid, s, version, fp in stale:
                        if s is None:
                            conn.execute(insert(GlueTableStateRow).values(table_id=tid, version_id=version, fingerprint=fp))
                        else:
                            conn.execute(update(GlueTableStateRow).where(
                                GlueTableStateRow.table_id == tid, GlueTableStateRow.version_id == s.version_id,
                                GlueTableStateRow.fingerprint == s.fingerprint).values(version_id=version, fingerprint=fp))  # fmt: skip
            except IntegrityError:  # another reader recorded it meanwhile: the same version
                pass
        return out

    def hooks(self, expected: str | None, archive: bool):
        """(before, after) for Tables.alter: check `expected` against the current version (Conflict on a
        mismatch), archive the content being replaced, and record the next version."""
        seen: dict = {}

        def before(conn, row) -> None:
            state = conn.execute(select(GlueTableStateRow).where(GlueTableStateRow.table_id == row.id)).first()
            version = _effective(state, fingerprint(row))
            if expected is not None and str(expected) != str(version):
                raise Conflict(f"table {row.name} is at version {version}, not {expected}: it was changed "
                               "meanwhile; read it again and retry")  # fmt: skip
            if archive:
                conn.execute(delete(GlueTableVersionRow).where(GlueTableVersionRow.table_id == row.id,
                                                               GlueTableVersionRow.version_id == version))  # fmt: skip
                conn.execute(insert(GlueTableVersionRow).values(
                    table_id=row.id, version_id=version, created_at=now_ms(),
                    snapshot=codec.dumps({f: getattr(row, f) for f in SNAPSHOT})))  # fmt: skip
            seen["version"], seen["state"] = version, state

        def after(conn, table_id: int) -> None:
            row = conn.execute(select(TableRow).where(TableRow.id == table_id)).first()
            values = {"version_id": seen["version"] + 1, "fingerprint": fingerprint(row)}
            if seen["state"] is None:
                conn.execute(insert(GlueTableStateRow).values(table_id=table_id, **values))
            else:
                conn.execute(update(GlueTableStateRow).where(GlueTableStateRow.table_id == table_id).values(**values))

        return before, after

    def archived(self, table_id: int, db: str, catalog: str) -> list[tuple[int, Table]]:
        """The archived versions of a table, oldest first."""
        with self._read() as conn:
            rows = conn.execute(select(GlueTableVersionRow).where(GlueTableVersionRow.table_id == table_id)
                                .order_by(GlueTableVersionRow.version_id)).all()  # fmt: skip
        return [(r.version_id, table_from_row(SimpleNamespace(**codec.loads(r.snapshot)), db, catalog)) for r in rows]

    def delete(self, table_id: int, version_ids: list[int]) -> list[int]:
        """Delete archived versions; returns those that were there."""
        with self._write() as conn:
            found = conn.execute(select(GlueTableVersionRow.version_id).where(
                GlueTableVersionRow.table_id == table_id, GlueTableVersionRow.version_id.in_(version_ids))).scalars().all()  # fmt: skip
            if found:
                conn.execute(delete(GlueTableVersionRow).where(GlueTableVersionRow.table_id == table_id,
                                                               GlueTableVersionRow.version_id.in_(found)))  # fmt: skip
        return list(found)


class TableRows(Area):
    """Tables' rows as stored, for answers that need their content fingerprint (VersionId)."""

    def of(self, db: str, names: list[str], catalog: str = "hive") -> list:
        """The rows of the tables among `names` that exist, in the order of `names`."""
        wanted = [n.lower() for n in names]
        if not wanted:
            return []
        with self._read() as conn:
            dbrow = self._database_row(conn, catalog, db)
            rows = []
            for i in range(0, len(wanted), 500):
                rows += conn.execute(select(TableRow).where(TableRow.database_id == dbrow.id,
                                                            TableRow.name.in_(wanted[i : i + 500]))).all()  # fmt: skip
        by_name = {r.name: r for r in rows}
        return [by_name[n] for n in dict.fromkeys(wanted) if n in by_name]

    def in_databases(self, dbs: list[str], catalog: str = "hive") -> list[tuple[str, object]]:
        """(database name, row) of every table of the databases `dbs`, in one query."""
        if not dbs:
            return []
        with self._read() as conn:
            cid = self._catalog_id(conn, catalog)
            rows = conn.execute(select(TableRow, DatabaseRow.name.label("db_name"))
                                .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
                                .where(DatabaseRow.catalog_id == cid, DatabaseRow.name.in_([d.lower() for d in dbs]))
                                .order_by(DatabaseRow.name, TableRow.name)).all()  # fmt: skip
        return [(r.db_name, r) for r in rows]
