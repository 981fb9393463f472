"""The OpenAPI description of profiles, previews and recommended mappings (api_profiles.py)."""

from __future__ import annotations

from metastore.web.openapi_build import BOOL, INT, STR, array, nullable, obj, param, ref

_DB, _TABLE = param("db", description="Database name"), param("table", description="Table name")
_ANY = {"type": "object"}
_RUN_ID = param("run_id", schema={"type": "integer", "minimum": 0, "maximum": 2**53}, description="Profile run id")

SCHEMAS = {
    "ProfileRequest": obj(None, {"mode": {"enum": ["full", "metadata"]},
                                 "partitions": array({"type": "string", "maxLength": 750}, maxItems=10000),
                                 "all": BOOL}, closed=True),  # fmt: skip
    "ProfileRun": obj(["id", "state"], {
        "id": INT, "db_name": STR, "table_name": STR, "mode": STR, "partitions": nullable(array(STR)),
        "state": {"enum": ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"]}, "requested_by": STR, "worker": nullable(STR),
        "created_at": INT, "started_at": nullable(INT), "ended_at": nullable(INT), "error": nullable(STR),
        "result": nullable(_ANY)}),  # fmt: skip
    "TableProfile": obj(["run", "table", "partitions"], {"run": nullable(_ANY), "table": nullable(_ANY),
                                                         "partitions": _ANY}),  # fmt: skip
    "Preview": obj(["columns", "rows"], {"columns": array(obj(["name", "type"], {"name": STR, "type": STR})),
                                         "rows": array(array({})), "files": INT, "partitions": array(STR),
                                         "truncated": BOOL, "format": STR}),  # fmt: skip
    "RecommendedMapping": obj(["source", "columns"], {
        "source": STR, "target": nullable(STR), "target_exists": BOOL, "unmapped_targets": array(STR),
        "columns": array(obj(["source", "source_type", "target", "target_type", "reason"], {
            "source": STR, "source_type": STR, "target": STR, "target_type": STR, "reason": STR}))}),  # fmt: skip
}

ROUTES = [
    ("post", "/tables/{db}/{table}/profile", "Start a profile (task runner.profile): full (Spark) or metadata (file footers)",
     "profiles", [_DB, _TABLE], "ProfileRequest?", 202, "ProfileRun"),
    ("get", "/tables/{db}/{table}/profile", "A table's newest profile, and its partitions'", "profiles",
     [_DB, _TABLE], None, 200, "TableProfile"),
    ("get", "/tables/{db}/{table}/profile/runs", "A table's profile runs, newest first", "profiles",
     [_DB, _TABLE, param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000})], None, 200,
     obj(["items", "total"], {"items": array(ref("ProfileRun")), "total": INT})),
    ("get", "/tables/{db}/{table}/profile/runs/{run_id}", "A profile run with its result", "profiles",
     [_DB, _TABLE, _RUN_ID], None, 200, "ProfileRun"),
    ("get", "/tables/{db}/{table}/preview", "The first rows of a table or of one `partition` (bounded)", "profiles",
     [_DB, _TABLE, param("partition", "query", STR, "A partition name (k=v/k2=v2)"),
      param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200}, "Rows (default 20)")], None, 200, "Preview"),
    ("get", "/tables/{db}/{table}/recommended-mapping", "Proposed column mapping onto `target` (db.table; new if absent)",
     "profiles", [_DB, _TABLE, param("target", "query", STR, "Target table, db.table")], None, 200, "RecommendedMapping"),
]  # fmt: skip
