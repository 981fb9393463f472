"""Catalog objects to JSON and back, as the JSON API shows and accepts them (documented in openapi.py).

Input is checked here for shape (types of fields, unknown fields); the catalog checks the values.
"""

from __future__ import annotations

from collections.abc import Mapping

from metastore.catalog.browse import TableSummary
from metastore.catalog.crawlers import Classifier, Crawler, CrawlerRun, CrawlerTarget
from metastore.catalog.errors import InvalidInput
from metastore.catalog.types import (
    EXTERNAL_TABLE,
    AuditRecord,
    Column,
    Database,
    Function,
    Partition,
    ResourceUri,
    SerDe,
    StorageDescriptor,
    Table,
    TableVersion,
)
from metastore.catalog.users import ApiToken, User

# --- out ---------------------------------------------------------------------------------------------


def column(c: Column) -> dict:
    return {"name": c.name, "type": c.type, "comment": c.comment}


def database(d: Database, tables: int | None = None) -> dict:
    out = {"name": d.name, "description": d.description, "location": d.location_uri,
           "parameters": d.parameters, "owner": d.owner_name, "create_time": d.create_time}  # fmt: skip
    if tables is not None:
        out["tables"] = tables
    return out


def table_summary(t: TableSummary) -> dict:
    return {"name": t.name, "database": t.db_name, "table_type": t.table_type, "owner": t.owner,
            "create_time": t.create_time, "columns": t.columns, "partition_keys": t.partition_keys,
            "location": t.location, "version": t.version, "comment": t.comment}  # fmt: skip


def _sd(sd: StorageDescriptor) -> dict:
    return {"location": sd.location, "input_format": sd.input_format, "output_format": sd.output_format,
            "serde": {"serialization_lib": sd.serde.serialization_lib, "parameters": sd.serde.parameters},
            "compressed": sd.compressed, "num_buckets": sd.num_buckets, "bucket_columns": sd.bucket_cols,
            "parameters": sd.parameters}  # fmt: skip


def table(t: Table) -> dict:
    return {"name": t.name, "database": t.db_name, "table_type": t.table_type, "owner": t.owner,
            "create_time": t.create_time, "columns": [column(c) for c in t.sd.cols],
            "partition_keys": [column(c) for c in t.partition_keys], "parameters": t.parameters,
            "storage": _sd(t.sd), "view_original_text": t.view_original_text,
            "view_expanded_text": t.view_expanded_text, "version": t.version}  # fmt: skip


def partition(name: str, p: Partition) -> dict:
    return {"name": name, "values": p.values, "create_time": p.create_time, "location": p.sd.location,
            "parameters": p.parameters}  # fmt: skip


def version(v: TableVersion) -> dict:
    return {"version": v.version, "columns": [column(c) for c in v.columns],
            "partition_keys": [column(c) for c in v.partition_keys], "created_at": v.created_at,
            "created_by": v.created_by}  # fmt: skip


def audit(r: AuditRecord) -> dict:
    return {"id": r.id, "at": r.at, "user": r.user, "action": r.action, "database": r.db_name,
            "object": r.object_name, "details": r.details}  # fmt: skip


def function(f: Function) -> dict:
    return {"name": f.name, "database": f.db_name, "class_name": f.class_name, "owner": f.owner_name,
            "create_time": f.create_time,
            "resources": [{"type": {1: "JAR", 2: "FILE", 3: "ARCHIVE"}.get(r.resource_type, "JAR"), "uri": r.uri}
                          for r in f.resource_uris]}  # fmt: skip


def crawler(c: Crawler, last_run: CrawlerRun | None = None, with_last: bool = False) -> dict:
    out = {"name": c.name, "targets": [{"path": t.path, "exclusions": t.exclusions} for t in c.targets],
           "database": c.database, "table_prefix": c.table_prefix, "classifiers": c.classifiers,
           "update_behavior": c.update_behavior, "delete_behavior": c.delete_behavior,
           "recrawl_behavior": c.recrawl_behavior, "sample_size": c.sample_size,
           "combine_compatible_schemas": c.combine_compatible_schemas, "table_level": c.table_level,
           "schedule": c.schedule, "description": c.description,
           "storage_options": {k: ("***" if _secret_key(k) else v) for k, v in c.storage_options.items()},
           "created_at": c.created_at, "updated_at": c.updated_at}  # fmt: skip
    if with_last:
        out["last_run"] = None if last_run is None else run(last_run)
    return out


def _secret_key(key: str) -> bool:
    k = key.lower()
    return any(w in k for w in ("secret", "password", "token", "key")) and k not in ("key_prefix",)


def run(r: CrawlerRun) -> dict:
    return {"id": r.id, "crawler": r.crawler, "state": r.state, "started_at": r.started_at,
            "ended_at": r.ended_at, "duration_ms": r.duration_ms, "error": r.error, "metrics": r.metrics}  # fmt: skip


def classifier(c: Classifier) -> dict:
    return {k: getattr(c, k) for k in Classifier.__slots__}


def user(u: User) -> dict:
    return {"name": u.name, "role": u.role, "databases": u.databases, "created_at": u.created_at,
            "updated_at": u.updated_at}  # fmt: skip


def token(t: ApiToken) -> dict:
    return {"id": t.id, "user": t.user, "name": t.name, "prefix": t.prefix, "created_at": t.created_at,
            "last_used_at": t.last_used_at}  # fmt: skip


# --- in ----------------------------------------------------------------------------------------------


def _fields(what: str, body, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(body, Mapping):
        raise InvalidInput(f"{what}: the request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(f"{what}: unknown field {', '.join(unknown)}")
    missing = [f for f in required if body.get(f) in (None, "")]
    if missing:
        raise InvalidInput(f"{what}: missing field {', '.join(missing)}")
    return dict(body)


def _str(what: str, value, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    return value


def _int(what: str, value, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer")
    return value


def _str_map(what: str, value) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput(f"{what} must be an object of text values")
    return dict(value)


def _str_list(what: str, value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{what} must be a list of text")
    return value


def _columns(what: str, value) -> list[Column]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{what} must be a list of columns")
    out = []
    for c in value:
        c = _fields(what, c, {"name", "type", "comment"}, ("name", "type"))
        out.append(Column(_str(f"{what}: name", c["name"], False), _str(f"{what}: type", c["type"], False),
                          _str(f"{what}: comment", c.get("comment"))))  # fmt: skip
    return out


DATABASE_FIELDS = {"name", "description", "location", "parameters", "owner"}


def database_in(body, name: str | None = None) -> Database:
    d = _fields("database", body, DATABASE_FIELDS, () if name else ("name",))
    return Database(name=name or _str("database name", d["name"], False), description=_str("description", d.get("description")),
                    location_uri=_str("location", d.get("location")), parameters=_str_map("parameters", d.get("parameters")),
                    owner_name=_str("owner", d.get("owner")), owner_type=1 if d.get("owner") else None)  # fmt: skip


TABLE_FIELDS = {"name", "table_type", "owner", "columns", "partition_keys", "parameters", "storage",
                "view_original_text", "view_expanded_text", "database"}  # fmt: skip
STORAGE_FIELDS = {"location", "input_format", "output_format", "serde", "compressed", "num_buckets",
                  "bucket_columns", "parameters"}  # fmt: skip


def table_in(body, db: str, name: str | None = None) -> Table:
    t = _fields("table", body, TABLE_FIELDS, () if name else ("name",))
    s = _fields("table storage", t.get("storage") or {}, STORAGE_FIELDS)
    serde = _fields("table serde", s.get("serde") or {}, {"serialization_lib", "parameters"})
    compressed = s.get("compressed", False)
    if not isinstance(compressed, bool):
        raise InvalidInput("storage.compressed must be true or false")
    sd = StorageDescriptor(
        cols=_columns("columns", t.get("columns")),
        location=_str("storage.location", s.get("location")),
        input_format=_str("storage.input_format", s.get("input_format")),
        output_format=_str("storage.output_format", s.get("output_format")),
        compressed=compressed,
        num_buckets=_int("storage.num_buckets", s.get("num_buckets")) or -1,
        serde=SerDe(serialization_lib=_str("storage.serde.serialization_lib", serde.get("serialization_lib")),
                    parameters=_str_map("storage.serde.parameters", serde.get("parameters"))),
        bucket_cols=_str_list("storage.bucket_columns", s.get("bucket_columns")),
        parameters=_str_map("storage.parameters", s.get("parameters")),
    )  # fmt: skip
    params = _str_map("parameters", t.get("parameters"))
    table_type = _str("table_type", t.get("table_type")) or (
        "EXTERNAL_TABLE" if params.get("EXTERNAL", "").upper() == "TRUE" else ""
    )
    if table_type == EXTERNAL_TABLE:
        params.setdefault("EXTERNAL", "TRUE")
    return Table(name=name or _str("table name", t["name"], False), db_name=_str("database", t.get("database")) or db,
                 owner=_str("owner", t.get("owner")), sd=sd,
                 partition_keys=_columns("partition_keys", t.get("partition_keys")), parameters=params,
                 view_original_text=_str("view_original_text", t.get("view_original_text")),
                 view_expanded_text=_str("view_expanded_text", t.get("view_expanded_text")),
                 table_type=table_type)  # fmt: skip


FUNCTION_FIELDS = {"name", "class_name", "owner", "resources"}
_RESOURCE_TYPES = {"JAR": 1, "FILE": 2, "ARCHIVE": 3}


def function_in(body, db: str, name: str | None = None) -> Function:
    f = _fields("function", body, FUNCTION_FIELDS, ("class_name",) if name else ("name", "class_name"))
    resources = f.get("resources") or []
    if not isinstance(resources, list):
        raise InvalidInput("resources must be a list")
    uris = []
    for r in resources:
        r = _fields("function resource", r, {"type", "uri"}, ("uri",))
        kind = r.get("type", "JAR")
        if kind not in _RESOURCE_TYPES:
            raise InvalidInput(f"resource type {kind!r} is not one of JAR, FILE, ARCHIVE")
        uris.append(ResourceUri(_RESOURCE_TYPES[kind], _str("resource uri", r["uri"], False)))
    return Function(name=name or _str("function name", f["name"], False), db_name=db,
                    class_name=_str("class_name", f["class_name"], False), owner_name=_str("owner", f.get("owner")),
                    resource_uris=uris)  # fmt: skip


CRAWLER_FIELDS = {"name", "targets", "database", "table_prefix", "classifiers", "update_behavior",
                  "delete_behavior", "recrawl_behavior", "sample_size", "combine_compatible_schemas",
                  "table_level", "schedule", "description", "storage_options"}  # fmt: skip


def crawler_in(body, name: str | None = None, previous: Crawler | None = None) -> Crawler:
    """A crawler from JSON; on update, `***` values of storage options keep the previous secret."""
    c = _fields(
        "crawler", body, CRAWLER_FIELDS, ("targets", "database") if name else ("name", "targets", "database")
    )
    targets = c["targets"]
    if not isinstance(targets, list):
        raise InvalidInput("crawler targets must be a list")
    ts = []
    for t in targets:
        if isinstance(t, str):
            ts.append(CrawlerTarget(t))
            continue
        t = _fields("crawler target", t, {"path", "exclusions"}, ("path",))
        ts.append(
            CrawlerTarget(
                _str("target path", t["path"], False), _str_list("target exclusions", t.get("exclusions"))
            )
        )
    options = c.get("storage_options") or {}
    if not isinstance(options, Mapping):
        raise InvalidInput("storage_options must be an object")
    options = dict(options)
    if previous is not None:
        options = {k: (previous.storage_options.get(k, v) if v == "***" else v) for k, v in options.items()}
    defaults = Crawler("x", [], "x")
    return Crawler(
        name=name or _str("crawler name", c["name"], False),
        targets=ts,
        database=_str("database", c["database"], False),
        table_prefix=_str("table_prefix", c.get("table_prefix")) or "",
        classifiers=_str_list("classifiers", c.get("classifiers")),
        update_behavior=c.get("update_behavior") or defaults.update_behavior,
        delete_behavior=c.get("delete_behavior") or defaults.delete_behavior,
        recrawl_behavior=c.get("recrawl_behavior") or defaults.recrawl_behavior,
        sample_size=_int("sample_size", c.get("sample_size")),
        combine_compatible_schemas=c.get("combine_compatible_schemas", False),
        table_level=_int("table_level", c.get("table_level")),
        schedule=_str("schedule", c.get("schedule")) or None,
        description=_str("description", c.get("description")),
        storage_options=options,
    )


CLASSIFIER_FIELDS = set(Classifier.__slots__)


def classifier_in(body, name: str | None = None) -> Classifier:
    c = _fields("classifier", body, CLASSIFIER_FIELDS, ("kind",) if name else ("name", "kind"))
    c["name"] = name or c["name"]
    for k, v in c.items():
        if k != "csv_column_names":
            _str(k, v)
    if c.get("csv_column_names") is not None:
        _str_list("csv_column_names", c["csv_column_names"])
    return Classifier(**{"classification": None, **c})
