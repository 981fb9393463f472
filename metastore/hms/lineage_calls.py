"""Which table (and partitions) a Thrift call of a job run reads or writes, for lineage (catalog/lineage.py).

`observe(service, run_id, method, args)` is called by the handler after a job run's call is authorized; the
extraction is one dict look-up per call and the catalog buffers each (run, table, direction) once.
"""

from __future__ import annotations

import logging
from functools import cache

from metastore.hms.gen.hive import ThriftHiveMetastore

log = logging.getLogger(__name__)

# reads of a table's metadata that mean its data is read (listings of names are not)
_READS = frozenset({
    "get_table", "get_table_req", "get_partitions", "get_partitions_with_auth", "get_partitions_ps",
    "get_partitions_ps_with_auth", "get_partitions_by_filter", "get_partitions_by_names",
    "get_partitions_by_names_req", "get_partitions_by_expr", "get_partition", "get_partition_by_name",
    "get_partitions_pspec", "get_partitions_spec_by_filter", "get_partitions_with_specs",
    "get_partitions_req", "get_partitions_ps_with_auth_req",
})  # fmt: skip
_WRITE_PREFIXES = ("create_table", "alter_table", "drop_table", "truncate_table", "add_partition",
                   "append_partition", "alter_partition", "drop_partition", "rename_partition")  # fmt: skip
_DB = ("dbname", "db_name", "dbName")
_TABLE = ("tbl_name", "table_name", "tableName", "tblName", "name")
_STRUCT_DB = ("dbName", "db_name", "dbname")
_STRUCT_TABLE = ("tableName", "tblName", "tbl_name", "table_name")
_PART_LISTS = ("new_parts", "parts", "partitions", "newParts")


def _struct_target(value) -> tuple[str, str, list] | None:
    """(db, table, partition value lists) of a Table, Partition, request struct or list of Partitions."""
    if isinstance(value, list):
        if value and hasattr(value[0], "values"):
            head = _struct_target(value[0])
            if head:
                return head[0], head[1], [p.values for p in value[:100] if getattr(p, "values", None)]
        return None
    db = next((getattr(value, a) for a in _STRUCT_DB if isinstance(getattr(value, a, None), str)), None)
    table = next((getattr(value, a) for a in _STRUCT_TABLE if isinstance(getattr(value, a, None), str)), None)
    if db and table:
        vals = getattr(value, "values", None)
        parts = [vals] if isinstance(vals, list) and type(value).__name__ == "Partition" else []
        for attr in _PART_LISTS:
            nested = getattr(value, attr, None)
            if isinstance(nested, list) and nested and hasattr(nested[0], "values"):
                parts += [p.values for p in nested[:100] if getattr(p, "values", None)]
        return db, table, parts
    for attr in ("table", "tbl"):
        nested = getattr(value, attr, None)
        if nested is not None:
            return _struct_target(nested)
    for attr in _PART_LISTS:
        nested = getattr(value, attr, None)
        if isinstance(nested, list):
            return _struct_target(nested)
    return None


@cache
def _rule(method: str):
    if method in _READS:
        direction = "in"
    elif method.startswith(_WRITE_PREFIXES):
        direction = "out"
    else:
        return None
    spec = getattr(ThriftHiveMetastore, f"{method}_args", None)
    names = [s[2] for s in spec.thrift_spec if s is not None] if spec is not None else []
    db_i = next((i for i, n in enumerate(names) if n in _DB), None)
    tbl_i = next((i for i, n in enumerate(names) if n in _TABLE), None)
    vals_i = next((i for i, n in enumerate(names) if n in ("part_vals", "part_name", "names", "new_part")), None)

    def target(args: tuple):
        if db_i is not None and tbl_i is not None and tbl_i < len(args):
            db, table = args[db_i], args[tbl_i]
            if not (isinstance(db, str) and isinstance(table, str)):
                return None
            parts = []
            v = args[vals_i] if vals_i is not None and vals_i < len(args) else None
            if isinstance(v, str):
                parts = [v]
            elif isinstance(v, list) and v and all(isinstance(x, str) for x in v):
                parts = list(v[:100]) if names[vals_i] == "names" else [v]
            elif v is not None and hasattr(v, "values"):
                parts = [v.values]
            return db, table, parts
        for arg in args:
            if arg is not None and not isinstance(arg, str | int | float | bool):
                found = _struct_target(arg)
                if found:
                    return found
        return None

    return direction, target


_SEEN: set = set()  # (run, method, args) of calls with plain arguments seen already: nothing to extract again
_SEEN_MAX = 100_000


def observe(service, run_id: int, method: str, args: tuple) -> None:
    """Record (buffered) that job run `run_id` read or wrote the table `method` names; never raises."""
    try:
        key = (run_id, method, args)
        try:
            if key in _SEEN:
                return
            if len(_SEEN) >= _SEEN_MAX:
                _SEEN.clear()
            _SEEN.add(key)
        except TypeError:  # a struct among the arguments (not hashable): extracted every time
            pass
        _observe(service, run_id, method, args)
    except Exception:  # noqa: BLE001 - lineage must never fail a call
        log.warning("lineage: %s of run %s not recorded", method, run_id, exc_info=True)


def _observe(service, run_id: int, method: str, args: tuple) -> None:
    rule = _rule(method)
    if rule is None:
        return
    direction, target = rule
    found = target(args)
    if not found:
        return
    db, table, parts = found
    if db.startswith("@"):
        db = db[1:].partition("#")[2]
    lineage = service.lineage
    if not parts:
        lineage.observe(run_id, direction, db, table)
    for p in parts:
        lineage.observe(run_id, direction, db, table, p if isinstance(p, str) else "/".join(map(str, p)))
