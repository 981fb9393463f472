"""What each Thrift method does, for the authorization decision: its action and the databases it names.

`rule_of(method)` gives a function of the call's arguments (in IDL order) returning (action, databases),
or None for the session methods anyone may call (fb303 status, set_ugi, shutdown...). Actions follow
access.py: reads (get_*, list_*, show_*...) need `read`, everything else `write`, and catalogs `admin`. The databases come from the arguments by their IDL names (dbname, db_name, dbName,
request structs with dbName or statsDesc, lock components...). `UNSCOPED`: the method lists databases
itself and shows only those the identity may read, or acts on locks and transactions by id.
"""

from __future__ import annotations

from functools import cache

from metastore.hms.gen.hive import ThriftHiveMetastore

OPEN = frozenset({
    "getName", "getVersion", "getStatus", "getStatusDetails", "aliveSince", "getCounters", "getCounter",
    "setOption", "getOption", "getOptions", "shutdown", "reinitialize", "set_ugi", "partition_name_to_vals",
    "partition_name_to_spec", "get_metastore_db_uuid",
})  # fmt: skip
ADMIN = frozenset({"create_catalog", "drop_catalog"})
READ_PREFIXES = ("get_", "list_", "show_", "getMetaConf")
UNSCOPED = frozenset()  # a distinct empty set: the method names no database, or filters its own answer
# lock and transaction calls by id: the database was checked when the lock was taken
_UNSCOPED_WRITES = frozenset({"unlock", "heartbeat", "check_lock", "open_txns", "commit_txn", "abort_txn",
                              "abort_txns"})  # fmt: skip
_LISTS = frozenset({"get_databases", "get_all_databases", "get_table_meta", "get_all_functions", "get_catalogs",
                    "get_catalog", "get_current_notificationEventId", "get_open_txns", "get_config_value",
                    "show_locks", "get_role_names", "list_roles"})  # fmt: skip

_DB_ARGS = ("dbname", "db_name", "dbName")
_DB_ATTRS = ("dbName", "db_name", "dbname")
_NESTED = ("statsDesc", "table", "tbl", "colStats", "component", "parts", "partitions", "newParts")


def _split(name) -> str | None:
    """The database of a name that may carry a catalog (`@cat#db`), lower-cased."""
    if not isinstance(name, str):
        return None
    if name.startswith("@"):
        name = name[1:].partition("#")[2]
    return name.lower() or None


def _dbs_of(value, out: set[str], depth: int = 0) -> None:
    """Collect the database names a request struct (or a list of them) names."""
    if value is None or depth > 3:
        return
    if isinstance(value, list | tuple):
        for item in value[:10_000]:
            _dbs_of(item, out, depth + 1)
        return
    for attr in _DB_ATTRS:
        db = _split(getattr(value, attr, None))
        if db:
            out.add(db)
            return
    for attr in _NESTED:
        nested = getattr(value, attr, None)
        if nested is not None:
            _dbs_of(nested, out, depth + 1)


@cache
def rule_of(method: str):
    if method in OPEN:
        return None
    action = "admin" if method in ADMIN else "read" if method.startswith(READ_PREFIXES) else "write"
    if method in _LISTS or method in _UNSCOPED_WRITES:
        return lambda args: (action, UNSCOPED)
    spec = getattr(ThriftHiveMetastore, f"{method}_args", None)
    names = [s[2] for s in spec.thrift_spec if s is not None] if spec is not None else []
    plain = [i for i, n in enumerate(names) if n in _DB_ARGS]
    # a database named by its own struct or request: create_database(database), get_database(_req),
    # drop_database(_req), alter_database(dbname, db)
    by_name = method in ("get_database", "drop_database", "get_database_req", "drop_database_req",
                         "create_database")  # fmt: skip

    def databases(args: tuple) -> tuple[str, frozenset[str] | set[str]]:
        out: set[str] = set()
        for i in plain:
            db = _split(args[i]) if i < len(args) else None
            if db:
                out.add(db)
        if by_name and args:
            db = _split(args[0] if isinstance(args[0], str) else getattr(args[0], "name", None))
            if db:
                out.add(db)
        if not out:
            for arg in args:
                if not isinstance(arg, str | int | float | bool | type(None)):
                    _dbs_of(arg, out)
        return action, out

    return databases
