"""Profiles of tables and partitions, kept as Hive Metastore statistics, and the runs that compute them.

A profile is plain JSON: `{"rows", "size", "files", "method", "columns": {name: {"type", "nulls",
"distinct", "min", "max", "avg_len", "max_len", "trues", "falses"}}}` (a value is None when unknown: the
file metadata of a crawl knows row and null counts, min and max, but not distinct counts or lengths).

Stored where the engines read statistics unchanged:
- HMS column statistics (`statistics.py`: longStats, doubleStats, decimalStats, dateStats, stringStats,
  binaryStats, booleanStats), which Trino and Hive read;
- the table's (or partition's) parameters `numRows`, `totalSize`, `numFiles`, `COLUMN_STATS_ACCURATE`,
  which Spark's Hive client, Trino and Hive read as basic statistics;
- Spark's own `spark.sql.statistics.*` properties (row count, size, and per column distinct count, nulls,
  min, max, lengths), which Spark's cost-based optimizer reads in place of HMS column statistics.
A partition's profile is also kept as JSON (table `partition_profiles`, out of the partition's parameters
so that listings stay small), from which the table's is merged when only new partitions are profiled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, insert, select, update

from metastore.catalog import codec
from metastore.catalog.base import Area, now_ms, now_s
from metastore.catalog.errors import Conflict, InvalidInput, NotFound
from metastore.catalog.types import DEFAULT_CATALOG, ColumnStats, Table
from metastore.storage.models import PartitionProfileRow, PartitionRow, ProfileRunRow

PROFILE_PARAM = "mortar.profile"
PROFILED_AT = "mortar.profile.at"
PROFILE_TASK = "runner.profile"
MODES = ("metadata", "full")
STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED")
_INTS = ("tinyint", "smallint", "int", "integer", "bigint")
_FLOATS = ("float", "double", "real")
_TEXT = ("string", "varchar", "char")
SPARK_STATS = "spark.sql.statistics."
STALE_MS = 2 * 3600 * 1000  # a run queued or running this long is failed when the next one is asked for


def base_type(hive_type: str) -> str:
    return hive_type.strip().lower().split("(")[0].split("<")[0].strip()


# --- HMS column statistics ------------------------------------------------------------------------------


def _decimal(value, scale: int) -> dict:
    unscaled = int(round(float(value) * 10**scale)) if not isinstance(value, int) else value * 10**scale
    size = max(1, (unscaled.bit_length() + 8) // 8)
    import base64

    return {"unscaled": {"b64": base64.b64encode(unscaled.to_bytes(size, "big", signed=True)).decode()},
            "scale": scale}  # fmt: skip


def _days(value) -> int:
    return (date.fromisoformat(str(value)[:10]) - date(1970, 1, 1)).days


def column_stats(name: str, hive_type: str, col: dict, rows: int | None) -> ColumnStats | None:
    """The HMS statistics of one profiled column, or None when the profile lacks what HMS requires (a
    distinct count, lengths, true/false counts) or the type has no HMS statistics (timestamps, complex)."""
    nulls, dvs = col.get("nulls"), col.get("distinct")
    if nulls is None:
        return None
    base = base_type(hive_type)
    lo, hi = col.get("min"), col.get("max")
    if base == "boolean":
        if col.get("trues") is None or col.get("falses") is None:
            return None
        data = {"booleanStats": {"numTrues": col["trues"], "numFalses": col["falses"], "numNulls": nulls}}
    elif base in ("binary",) or base in _TEXT:
        if col.get("max_len") is None or col.get("avg_len") is None or (base != "binary" and dvs is None):
            return None
        kind = "binaryStats" if base == "binary" else "stringStats"
        data = {kind: {"maxColLen": int(col["max_len"]), "avgColLen": float(col["avg_len"]), "numNulls": nulls}}
        if base != "binary":
            data[kind]["numDVs"] = dvs
    elif dvs is None:
        return None
    elif base in _INTS:
        data = {"longStats": {"numNulls": nulls, "numDVs": dvs}}
        if lo is not None:
            data["longStats"].update(lowValue=int(lo), highValue=int(hi))
    elif base in _FLOATS:
        data = {"doubleStats": {"numNulls": nulls, "numDVs": dvs}}
        if lo is not None and math.isfinite(float(lo)) and math.isfinite(float(hi)):
            data["doubleStats"].update(lowValue=float(lo), highValue=float(hi))
    elif base in ("decimal", "numeric"):
        scale = int(hive_type.split(",")[1].strip(" )")) if "," in hive_type else 0
        data = {"decimalStats": {"numNulls": nulls, "numDVs": dvs}}
        if lo is not None:
            data["decimalStats"].update(lowValue=_decimal(lo, scale), highValue=_decimal(hi, scale))
    elif base == "date":
        data = {"dateStats": {"numNulls": nulls, "numDVs": dvs}}
        if lo is not None:
            data["dateStats"].update(lowValue={"daysSinceEpoch": _days(lo)}, highValue={"daysSinceEpoch": _days(hi)})
    else:
        return None
    return ColumnStats(name.lower(), hive_type, data)


def _spark_value(base: str, value) -> str | None:
    if value is None:
        return None
    if base == "boolean":
        return "true" if value in (True, "true", 1) else "false"
    if base in _INTS:
        return str(int(value))
    if base in _FLOATS or base in ("decimal", "numeric"):
        return repr(float(value)) if base in _FLOATS else str(value)
    if base == "date":
        return str(value)[:10]
    return None  # strings, timestamps: Spark keeps no min/max for them


def spark_properties(profile: dict, types: dict[str, str]) -> dict[str, str]:
    """Spark's statistics properties (HiveExternalCatalog's `spark.sql.statistics.*`) of a profile."""
    out = {}
    if profile.get("size") is not None:
        out[SPARK_STATS + "totalSize"] = str(profile["size"])
    if profile.get("rows") is not None:
        out[SPARK_STATS + "numRows"] = str(profile["rows"])
    for name, col in profile.get("columns", {}).items():
        base = base_type(types.get(name, col.get("type", "string")))
        if col.get("nulls") is None or base in ("array", "map", "struct", "uniontype"):
            continue
        prefix = f"{SPARK_STATS}colStats.{name}."
        stat = {"version": "2", "nullCount": col["nulls"], "distinctCount": col.get("distinct"),
                "min": _spark_value(base, col.get("min")), "max": _spark_value(base, col.get("max")),
                "avgLen": None if col.get("avg_len") is None else int(round(col["avg_len"])),
                "maxLen": col.get("max_len")}  # fmt: skip
        out.update({prefix + k: str(v) for k, v in stat.items() if v is not None})
    return out


def hive_parameters(profile: dict, stats_columns: list[str]) -> dict[str, str]:
    """The basic statistics parameters HMS, Spark's Hive client and Trino read."""
    out = {PROFILED_AT: str(now_s())}
    basic = {"numRows": profile.get("rows"), "totalSize": profile.get("size"), "numFiles": profile.get("files")}
    out.update({k: str(v) for k, v in basic.items() if v is not None})
    accurate: dict = {"BASIC_STATS": "true"} if profile.get("rows") is not None else {}
    if stats_columns:
        accurate["COLUMN_STATS"] = {c: "true" for c in stats_columns}
    out["COLUMN_STATS_ACCURATE"] = json.dumps(accurate)
    return out


def _without_old_stats(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if not k.startswith(SPARK_STATS + "colStats.")}


# --- merging partition profiles into the table's ---------------------------------------------------------


def merge(profiles: list[dict]) -> dict:
    """The table's profile from its partitions': counts added, min of mins, max of maxes, lengths weighted;
    the distinct count is the largest partition's (a lower bound: partitions may share values), capped by
    the rows that are not null."""
    out: dict = {"rows": 0, "size": 0, "files": 0, "method": "merged", "columns": {}}
    for key in ("rows", "size", "files"):
        values = [p.get(key) for p in profiles]
        out[key] = None if any(v is None for v in values) else sum(values)
    names = [n for p in profiles for n in p.get("columns", {})]
    for name in dict.fromkeys(names):
        cols = [p["columns"][name] for p in profiles if name in p.get("columns", {})]
        merged: dict = {"type": cols[0].get("type")}
        for key in ("nulls", "trues", "falses"):
            vals = [c.get(key) for c in cols]
            merged[key] = None if any(v is None for v in vals) else sum(vals)
        dvs = [c.get("distinct") for c in cols]
        merged["distinct"] = None if any(v is None for v in dvs) else max(dvs, default=0)
        for key, pick in (("min", min), ("max", max), ("max_len", max)):
            vals = [c.get(key) for c in cols if c.get(key) is not None]
            merged[key] = pick(vals) if vals else None
        rows = [(p.get("rows") or 0) - (p["columns"][name].get("nulls") or 0) for p in profiles
                if name in p.get("columns", {})]  # fmt: skip
        lens = [c.get("avg_len") for c in cols]
        if all(v is not None for v in lens) and sum(rows):
            merged["avg_len"] = sum(a * r for a, r in zip(lens, rows, strict=True)) / sum(rows)
        else:
            merged["avg_len"] = None
        if merged["distinct"] is not None and out["rows"] is not None and merged["nulls"] is not None:
            merged["distinct"] = min(merged["distinct"], out["rows"] - merged["nulls"])
        out["columns"][name] = merged
    return out


# --- storing -------------------------------------------------------------------------------------------


def _types(table: Table) -> dict[str, str]:
    return {c.name.lower(): c.type for c in table.sd.cols}


def store(service, db: str, table: str, profile: dict, partition: str | None = None) -> list[str]:
    """Store `profile` as the statistics of table `db.table` (or of its partition named `partition`);
    returns the columns given HMS column statistics."""
    t = service.tables.get(db, table)
    types = _types(t)
    for name, col in profile.get("columns", {}).items():
        if not col.get("type") and name in types:
            col["type"] = types[name]
    stats = [s for name, col in profile.get("columns", {}).items() if name in types
             for s in [column_stats(name, types[name], col, profile.get("rows"))] if s is not None]  # fmt: skip
    names = [s.column_name for s in stats]
    params = hive_parameters(profile, names)
    if partition is None:
        if stats:
            service.statistics.update_table(db, table, stats)
        t.parameters = {**_without_old_stats(t.parameters), **params, **spark_properties(profile, types)}
        service.tables.alter(db, table, t)
    else:
        part = service.partitions.get_by_name(db, table, partition)
        if stats:
            service.statistics.update_partition(db, table, partition, stats)
        part.parameters = {k: v for k, v in {**part.parameters, **params}.items() if k != PROFILE_PARAM}
        service.partitions.alter(db, table, [part])
        PartitionProfiles(service.ctx).put(db, table, partition, profile)
    return names


def partitions_to_profile(service, db: str, table: str, everything: bool = False, mode: str = "full") -> list[str]:
    """Names of the partitions to profile: never profiled (for a full profile, also those profiled from
    file metadata alone), or all of them if `everything`."""
    names = service.partitions.names(db, table)
    if everything:
        return names
    methods = PartitionProfiles(service.ctx).methods(db, table)
    return [n for n in names if n not in methods or (mode == "full" and methods[n] != "spark")]


def unchanged(parameters: dict[str, str], profile: dict) -> bool:
    """Whether the statistics in `parameters` are of the same data as `profile` (same rows and bytes)."""
    return (parameters.get("numRows") == str(profile.get("rows"))
            and parameters.get("totalSize") == str(profile.get("size")))  # fmt: skip


def make_name(keys: list[str], values: list[str]) -> str:
    from metastore.catalog.names import make_partition_name

    return make_partition_name(keys, values)


def partition_profiles(service, db: str, table: str) -> dict[str, dict]:
    """The stored profile of each profiled partition, by partition name."""
    return PartitionProfiles(service.ctx).all(db, table)


def store_table_from_partitions(service, db: str, table: str) -> dict:
    """Merge the stored partition profiles into the table's and store it; returns it."""
    profile = merge(list(partition_profiles(service, db, table).values()))
    store(service, db, table, profile)
    return profile


# --- the data's JSON: values a profile may hold ---------------------------------------------------------


def jsonable(value):
    """A min/max as JSON: numbers stay numbers, dates and times become ISO text, bytes are left out."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return str(value)  # Decimal and the like


# --- runs ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ProfileRun:
    id: int
    db_name: str
    table_name: str
    mode: str
    partitions: list[str] | None
    state: str
    requested_by: str
    created_at: int
    started_at: int | None = None
    ended_at: int | None = None
    error: str | None = None
    result: dict | None = None
    worker: str | None = None

    def as_dict(self, with_result: bool = True) -> dict:
        out = {k: getattr(self, k) for k in self.__slots__ if k != "result"}
        if with_result:
            out["result"] = self.result
        return out


def _run(row) -> ProfileRun:
    return ProfileRun(row.id, row.db_name, row.table_name, row.mode,
                      codec.loads(row.partitions) if row.partitions else None, row.state, row.requested_by,
                      row.created_at, row.started_at, row.ended_at, row.error,
                      codec.loads(row.result) if row.result else None, row.worker)  # fmt: skip


class ProfileRuns(Area):
    """Profile runs: asked for by a door (QUEUED), taken by a worker (RUNNING), ended with the profile."""

    def request(self, db: str, table: str, mode: str = "full", partitions: list[str] | None = None,
                catalog: str = DEFAULT_CATALOG) -> ProfileRun:  # fmt: skip
        if mode not in MODES:
            raise InvalidInput(f"profile mode {mode!r} is not one of {', '.join(MODES)}")
        with self._write() as conn:
            row = self._table_row(conn, catalog, db, table)
            conn.execute(update(ProfileRunRow).where(  # runs whose worker went away end here
                ProfileRunRow.db_name == db.lower(), ProfileRunRow.table_name == row.name,
                ProfileRunRow.state.in_(("QUEUED", "RUNNING")), ProfileRunRow.created_at < now_ms() - STALE_MS)
                .values(state="FAILED", ended_at=now_ms(), error="no worker ended it within 2 hours"))  # fmt: skip
            rid = conn.execute(insert(ProfileRunRow).values(
                catalog_name=catalog, db_name=db.lower(), table_name=row.name, mode=mode,
                partitions=codec.dumps(partitions) if partitions is not None else None, state="QUEUED",
                requested_by=self.ctx.user, created_at=now_ms())).inserted_primary_key[0]  # fmt: skip
            self._audit(conn, "REQUEST_PROFILE", catalog, db.lower(), row.name, run=rid, mode=mode)
        return self.get(rid)

    def record(self, db: str, table: str, mode: str, result: dict, partitions: list[str] | None = None) -> ProfileRun:
        """A run done already (a crawl's statistics from file metadata)."""
        run = self.request(db, table, mode, partitions)
        self.claim(run.id, self.ctx.user)
        return self.finish(run.id, "SUCCEEDED", result=result)

    def get(self, run_id: int) -> ProfileRun:
        with self._read() as conn:
            row = conn.execute(select(ProfileRunRow).where(ProfileRunRow.id == run_id)).first()
        if row is None:
            raise NotFound(f"profile run {run_id} does not exist")
        return _run(row)

    def list(self, db: str, table: str, limit: int = 50) -> list[ProfileRun]:
        """The table's runs, newest first."""
        with self._read() as conn:
            rows = conn.execute(select(ProfileRunRow).where(
                ProfileRunRow.db_name == db.lower(), ProfileRunRow.table_name == table.lower())
                .order_by(ProfileRunRow.id.desc()).limit(limit)).all()  # fmt: skip
        return [_run(r) for r in rows]

    def latest(self, db: str, table: str) -> ProfileRun | None:
        """The newest run that succeeded."""
        with self._read() as conn:
            row = conn.execute(select(ProfileRunRow).where(
                ProfileRunRow.db_name == db.lower(), ProfileRunRow.table_name == table.lower(),
                ProfileRunRow.state == "SUCCEEDED").order_by(ProfileRunRow.id.desc()).limit(1)).first()  # fmt: skip
        return _run(row) if row is not None else None

    def claim(self, run_id: int, worker: str) -> ProfileRun:
        with self._write() as conn:
            n = conn.execute(update(ProfileRunRow).where(ProfileRunRow.id == run_id, ProfileRunRow.state == "QUEUED")
                             .values(state="RUNNING", worker=worker, started_at=now_ms())).rowcount  # fmt: skip
        if n != 1:
            raise Conflict(f"profile run {run_id} is not queued")
        return self.get(run_id)

    def finish(self, run_id: int, state: str, result: dict | None = None, error: str | None = None) -> ProfileRun:
        if state not in ("SUCCEEDED", "FAILED"):
            raise InvalidInput(f"a profile run ends SUCCEEDED or FAILED, not {state}")
        with self._write() as conn:
            n = conn.execute(update(ProfileRunRow).where(
                ProfileRunRow.id == run_id, ProfileRunRow.state.in_(("QUEUED", "RUNNING"))).values(
                state=state, ended_at=now_ms(), error=error,
                result=codec.dumps(result) if result is not None else None)).rowcount  # fmt: skip
        if n != 1:
            raise Conflict(f"profile run {run_id} has ended already")
        return self.get(run_id)


class PartitionProfiles(Area):
    """Partitions' profiles (JSON), by partition; dropped with their partition."""

    def put(self, db: str, table: str, partition: str, profile: dict, catalog: str = DEFAULT_CATALOG) -> None:
        with self._write() as conn:
            t = self._table_row(conn, catalog, db, table)
            pid = conn.execute(select(PartitionRow.id).where(PartitionRow.table_id == t.id,
                                                             PartitionRow.name == partition)).scalar()  # fmt: skip
            if pid is None:
                raise NotFound(f"partition {partition} of table {db}.{table} does not exist")
            conn.execute(delete(PartitionProfileRow).where(PartitionProfileRow.partition_id == pid))
            conn.execute(insert(PartitionProfileRow).values(
                partition_id=pid, table_id=t.id, method=str(profile.get("method") or "spark"),
                profile=codec.dumps(profile), updated_at=now_ms()))  # fmt: skip

    def _rows(self, db: str, table: str, columns, catalog: str):
        with self._read() as conn:
            t = self._table_row(conn, catalog, db, table)
            return conn.execute(select(PartitionRow.name, *columns).join(
                PartitionProfileRow, PartitionProfileRow.partition_id == PartitionRow.id).where(
                PartitionProfileRow.table_id == t.id).order_by(PartitionRow.name)).all()  # fmt: skip

    def methods(self, db: str, table: str, catalog: str = DEFAULT_CATALOG) -> dict[str, str]:
        return {name: method for name, method in self._rows(db, table, [PartitionProfileRow.method], catalog)}

    def all(self, db: str, table: str, catalog: str = DEFAULT_CATALOG) -> dict[str, dict]:
        return {name: codec.loads(p) for name, p in self._rows(db, table, [PartitionProfileRow.profile], catalog)}


def runs(service) -> ProfileRuns:
    """The profile runs area of `service` (as its user)."""
    return ProfileRuns(service.ctx)
