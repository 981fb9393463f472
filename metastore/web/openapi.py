"""The OpenAPI 3 description of the JSON API, served at /api/v1/openapi.json: SPEC.

The catalog's routes (api.py) are described here, those of jobs, triggers, workflows and connections in
openapi_etl.py: both as schemas and a table of routes, which openapi_build.paths turns into OpenAPI paths.
tests/test_web_api.py checks that every route of the API is described, and schemathesis checks the
answers against the description.
"""

from __future__ import annotations

from metastore.catalog.crawlers import (
    CLASSIFIER_KINDS,
    CSV_HEADERS,
    DELETE_BEHAVIORS,
    RECRAWL_BEHAVIORS,
    RUN_STATES,
    UPDATE_BEHAVIORS,
)
from metastore.catalog.types import EXTERNAL_TABLE, MANAGED_TABLE, VIRTUAL_VIEW
from metastore.catalog.users import ROLES
from metastore.web import openapi_etl, openapi_governance, openapi_profiles
from metastore.web.openapi_build import (
    BOOL,
    INT,
    LIMIT,
    NAME,
    PAGING,
    STR,
    STR_MAP,
    array,
    nullable,
    obj,
    page_of,
    param,
    paths,
    ref,
    requiring,
)

_COLUMNS = array(ref("Column"))
_UPDATE_BEHAVIOR = {"enum": list(UPDATE_BEHAVIORS)}
_DELETE_BEHAVIOR = {"enum": list(DELETE_BEHAVIORS)}
_RECRAWL_BEHAVIOR = {"enum": list(RECRAWL_BEHAVIORS)}
_RUN_STATE = {"enum": list(RUN_STATES)}
_ROLE = {"enum": list(ROLES)}

SCHEMAS = {
    "Error": obj(
        ["error"],
        {
            "error": obj(
                ["type", "message"],
                {
                    "type": {
                        "type": "string",
                        "description": "NotFound, AlreadyExists, InvalidInput, Conflict, Unauthorized, Forbidden, ...",
                    },
                    "message": {"type": "string", "description": "What went wrong, naming the object"},
                },
            )
        },
    ),
    "Column": obj(["name", "type"], {"name": STR, "type": STR, "comment": nullable(STR)}, closed=True),
    "Database": obj(
        ["name"],
        {
            "name": STR,
            "description": nullable(STR),
            "location": nullable(STR),
            "parameters": STR_MAP,
            "owner": nullable(STR),
            "create_time": INT,
            "tables": {"type": "integer", "description": "number of tables (in lists)"},
        },
    ),
    "DatabaseInput": obj(
        None,
        {
            "name": NAME,
            "description": nullable(STR),
            "location": nullable(STR),
            "parameters": STR_MAP,
            "owner": nullable(STR),
        },
        closed=True,
    ),
    "TableSummary": obj(
        ["name", "database", "table_type"],
        {
            "name": STR,
            "database": STR,
            "table_type": STR,
            "owner": nullable(STR),
            "create_time": INT,
            "columns": INT,
            "partition_keys": array(STR),
            "location": nullable(STR),
            "version": INT,
            "comment": nullable(STR),
        },
    ),
    # closed: serialize.table_in refuses unknown storage and serde fields
    "Storage": obj(
        None,
        {
            "location": nullable(STR),
            "input_format": nullable(STR),
            "output_format": nullable(STR),
            "serde": obj(None, {"serialization_lib": nullable(STR), "parameters": STR_MAP}, closed=True),
            "compressed": BOOL,
            "num_buckets": INT,
            "bucket_columns": array(STR),
            "parameters": STR_MAP,
        },
        closed=True,
    ),
    "Table": obj(
        ["name", "database", "columns", "partition_keys"],
        {
            "name": STR,
            "database": STR,
            "table_type": STR,
            "owner": nullable(STR),
            "create_time": INT,
            "columns": _COLUMNS,
            "partition_keys": _COLUMNS,
            "parameters": STR_MAP,
            "storage": ref("Storage"),
            "view_original_text": nullable(STR),
            "view_expanded_text": nullable(STR),
            "version": INT,
        },
    ),
    "TableInput": obj(
        None,
        {
            "name": NAME,
            "database": NAME,
            "table_type": {"enum": [MANAGED_TABLE, EXTERNAL_TABLE, VIRTUAL_VIEW]},
            "owner": nullable(STR),
            "columns": _COLUMNS,
            "partition_keys": _COLUMNS,
            "parameters": STR_MAP,
            "storage": ref("Storage"),
            "view_original_text": nullable(STR),
            "view_expanded_text": nullable(STR),
        },
        closed=True,
    ),
    "Partition": obj(
        ["name", "values"],
        {
            "name": STR,
            "values": array(STR),
            "create_time": INT,
            "location": nullable(STR),
            "parameters": STR_MAP,
        },
    ),
    "TableVersion": obj(
        ["version", "columns", "partition_keys"],
        {
            "version": INT,
            "columns": _COLUMNS,
            "partition_keys": _COLUMNS,
            "created_at": INT,
            "created_by": STR,
        },
    ),
    "AuditRecord": obj(
        ["id", "at", "user", "action"],
        {
            "id": INT,
            "at": {"type": "integer", "description": "ms since the epoch"},
            "user": STR,
            "action": STR,
            "database": nullable(STR),
            "object": nullable(STR),
            "details": {"type": "object"},
        },
    ),
    "Function": obj(
        ["name", "database", "class_name"],
        {
            "name": STR,
            "database": STR,
            "class_name": STR,
            "owner": nullable(STR),
            "create_time": INT,
            "resources": array(ref("Resource")),
        },
    ),
    "Resource": obj(["uri"], {"type": {"enum": ["JAR", "FILE", "ARCHIVE"]}, "uri": STR}, closed=True),
    "FunctionInput": obj(
        ["class_name"],
        {
            "name": NAME,
            "class_name": {"type": "string", "minLength": 1},
            "owner": nullable(STR),
            "resources": array(ref("Resource")),
        },
        closed=True,
    ),
    "CrawlerTarget": obj(
        ["path"],
        {
            "path": {"type": "string", "description": "local path or fsspec URL"},
            "exclusions": array(STR, description="globs; ** crosses folders"),
        },
        closed=True,
    ),
    "Crawler": obj(
        ["name", "targets", "database"],
        {
            "name": STR,
            "targets": array(ref("CrawlerTarget")),
            "database": STR,
            "table_prefix": STR,
            "classifiers": array(STR),
            "update_behavior": _UPDATE_BEHAVIOR,
            "delete_behavior": _DELETE_BEHAVIOR,
            "recrawl_behavior": _RECRAWL_BEHAVIOR,
            "sample_size": nullable(INT),
            "combine_compatible_schemas": BOOL,
            "table_level": nullable(INT),
            "schedule": nullable({"type": "string", "description": "cron, 5 fields, UTC"}),
            "description": nullable(STR),
            "storage_options": {"type": "object", "description": "fsspec options; secrets are shown as ***"},
            "created_at": INT,
            "updated_at": INT,
            "last_run": nullable(ref("CrawlerRun"), description="in lists"),
        },
    ),
    "CrawlerInput": obj(
        ["targets", "database"],
        {
            "name": NAME,
            "targets": array(ref("CrawlerTarget")),
            "database": NAME,
            "table_prefix": STR,
            "classifiers": array(NAME),
            "update_behavior": _UPDATE_BEHAVIOR,
            "delete_behavior": _DELETE_BEHAVIOR,
            "recrawl_behavior": _RECRAWL_BEHAVIOR,
            "sample_size": nullable({"type": "integer", "minimum": 1, "maximum": 249}),
            "combine_compatible_schemas": BOOL,
            "table_level": nullable({"type": "integer", "minimum": 1}),
            "schedule": nullable(STR),
            "description": nullable(STR),
            "storage_options": {"type": "object"},
        },
        closed=True,
    ),
    "CrawlerRun": obj(
        ["id", "crawler", "state", "started_at"],
        {
            "id": INT,
            "crawler": STR,
            "state": _RUN_STATE,
            "started_at": INT,
            "ended_at": nullable(INT),
            "duration_ms": nullable(INT),
            "error": nullable(STR),
            "metrics": {
                "type": "object",
                "description": "tables_created, tables_updated, tables_deleted, partitions_added, ..., files_scanned, files_skipped, skipped",
            },
        },
    ),
    "Classifier": obj(
        ["name", "kind"],
        {
            "name": NAME,
            "kind": {"enum": list(CLASSIFIER_KINDS)},
            "classification": nullable(STR),
            "grok_pattern": nullable(STR),
            "custom_patterns": nullable(STR),
            "json_path": nullable(STR),
            "csv_delimiter": nullable(STR),
            "csv_quote": nullable(STR),
            "csv_header": nullable({"enum": list(CSV_HEADERS)}),
            "csv_column_names": nullable(array(STR)),
            "xml_row_tag": nullable(STR),
        },
        closed=True,
    ),
    "User": obj(
        ["name", "role"],
        {"name": STR, "role": _ROLE, "databases": nullable(array(STR)), "created_at": INT, "updated_at": INT},
    ),
    "UserInput": obj(
        None,
        {
            "name": NAME,
            "password": {"type": "string", "minLength": 8},
            "role": _ROLE,
            "databases": nullable(array(NAME, description="the databases the user may see; null: all")),
        },
        closed=True,
    ),
    "Token": obj(
        ["id", "name", "prefix"],
        {
            "id": INT,
            "user": STR,
            "name": STR,
            "prefix": STR,
            "created_at": INT,
            "last_used_at": nullable(INT),
            "token": {"type": "string", "description": "the secret: only in the answer to its creation"},
        },
    ),
}
SCHEMAS["DatabaseCreate"] = requiring(SCHEMAS["DatabaseInput"], "name")
SCHEMAS["TableCreate"] = requiring(SCHEMAS["TableInput"], "name")
SCHEMAS["FunctionCreate"] = requiring(SCHEMAS["FunctionInput"], "name")
SCHEMAS["CrawlerCreate"] = requiring(SCHEMAS["CrawlerInput"], "name")
SCHEMAS["UserCreate"] = requiring(SCHEMAS["UserInput"], "name", "password")
SCHEMAS["TokenInput"] = obj(
    ["name"], {"name": {"type": "string", "minLength": 1, "maxLength": 256}}, closed=True
)

DB = param("db", description="Database name")
TABLE = param("table", description="Table name")
FUNCTION = param("name", description="Function name")
CRAWLER = param("name", description="Crawler name")
CLASSIFIER = param("name", description="Classifier name")
USER = param("name", description="User name")
_DELETE_DATA = param("delete_data", "query", BOOL, "Delete managed data")

# rows as openapi_build.paths reads them: (method, path, summary, tag, parameters, body, status, response, answer)
ROUTES = [
    ("get", "/", "Where to start: links to this description, the docs page and the lists", "meta", [], None, 200,
     {"type": "object"}, "Links"),
    ("get", "/openapi.json", "This description", "meta", [], None, 200, {"type": "object"}, "OpenAPI 3 document"),
    ("get", "/me", "The calling user", "meta", [], None, 200, "User", "The user"),
    ("get", "/databases", "List databases", "databases", PAGING, None, 200, page_of("Database"), "A page of databases"),
    ("post", "/databases", "Create a database", "databases", [], "DatabaseCreate", 201, "Database", "Created"),
    ("get", "/databases/{db}", "A database", "databases", [DB], None, 200, "Database", "The database"),
    ("put", "/databases/{db}", "Change a database's description, location, parameters, owner", "databases",
     [DB], "DatabaseInput", 200, "Database", "The database"),
    ("delete", "/databases/{db}", "Drop a database", "databases",
     [DB, param("cascade", "query", BOOL, "Drop its tables and functions too"), _DELETE_DATA], None, 204, None, "Dropped"),
    ("get", "/tables", "Search tables of every database by name", "tables", PAGING, None, 200, page_of("TableSummary"), "A page of tables"),
    ("get", "/databases/{db}/tables", "List tables", "tables", [DB, *PAGING], None, 200, page_of("TableSummary"), "A page of tables"),
    ("post", "/databases/{db}/tables", "Create a table", "tables", [DB], "TableCreate", 201, "Table", "Created"),
    ("get", "/databases/{db}/tables/{table}", "A table: schema, partition keys, parameters, storage", "tables",
     [DB, TABLE], None, 200, "Table", "The table"),
    ("put", "/databases/{db}/tables/{table}", "Replace a table's definition (a new name or database renames it)", "tables",
     [DB, TABLE, param("cascade", "query", BOOL, "Copy new columns to every partition")], "TableInput", 200, "Table", "The table"),
    ("delete", "/databases/{db}/tables/{table}", "Drop a table", "tables", [DB, TABLE, _DELETE_DATA], None, 204, None, "Dropped"),
    ("get", "/databases/{db}/tables/{table}/partitions", "A page of partitions in name order", "tables",
     [DB, TABLE, param("filter", "query", STR, 'Partition filter, e.g. dt >= "2024-01-01" and hr = 3'),
      param("after", "query", STR, "Cursor: the `next` of the previous page"), LIMIT], None, 200,
     obj(["items", "next"], {"items": array(ref("Partition")), "next": nullable(STR), "limit": INT}), "Partitions"),
    ("get", "/databases/{db}/tables/{table}/versions", "The schema versions of a table", "tables", [DB, TABLE], None, 200,
     obj(None, {"items": array(ref("TableVersion"))}), "Versions, oldest first"),
    ("get", "/databases/{db}/tables/{table}/audit", "The audit history of a table, newest first", "tables",
     [DB, TABLE, param("before", "query", {"type": "integer", "minimum": 0}, "Only records with smaller ids (the `next` of the previous page)"),
      param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Records per page")], None, 200,
     obj(None, {"items": array(ref("AuditRecord")), "next": nullable(INT), "limit": INT}), "Records"),
    ("get", "/databases/{db}/functions", "List functions", "functions", [DB, *PAGING], None, 200, page_of("Function"), "A page of functions"),
    ("post", "/databases/{db}/functions", "Create a function", "functions", [DB], "FunctionCreate", 201, "Function", "Created"),
    ("get", "/databases/{db}/functions/{name}", "A function", "functions", [DB, FUNCTION], None, 200, "Function", "The function"),
    ("put", "/databases/{db}/functions/{name}", "Change a function", "functions",
     [DB, FUNCTION], "FunctionInput", 200, "Function", "The function"),
    ("delete", "/databases/{db}/functions/{name}", "Drop a function", "functions", [DB, FUNCTION], None, 204, None, "Dropped"),
    ("get", "/crawlers", "List crawlers with their newest run", "crawlers", PAGING, None, 200, page_of("Crawler"), "A page of crawlers"),
    ("post", "/crawlers", "Define a crawler", "crawlers", [], "CrawlerCreate", 201, "Crawler", "Created"),
    ("get", "/crawlers/{name}", "A crawler", "crawlers", [CRAWLER], None, 200, "Crawler", "The crawler"),
    ("put", "/crawlers/{name}", "Replace a crawler's definition", "crawlers", [CRAWLER], "CrawlerInput", 200, "Crawler", "The crawler"),
    ("delete", "/crawlers/{name}", "Delete a crawler (its tables stay)", "crawlers", [CRAWLER], None, 204, None, "Deleted"),
    ("post", "/crawlers/{name}/run", "Start a run on a worker (Celery task runner.crawl)", "crawlers", [CRAWLER], None, 202,
     obj(None, {"crawler": STR, "queued": BOOL}), "Queued"),
    ("post", "/crawlers/{name}/stop", "Stop the run under way: it ends CANCELLED and its worker stops", "crawlers",
     [CRAWLER], None, 200, "CrawlerRun", "The stopped run"),
    ("get", "/crawlers/{name}/runs", "A crawler's runs, newest first, with metrics", "crawlers",
     [CRAWLER, param("state", "query", _RUN_STATE, "Only runs in this state"), *PAGING[1:]], None, 200, page_of("CrawlerRun"), "A page of runs"),
    ("get", "/crawlers/{name}/runs/{run_id}", "A run of a crawler", "crawlers",
     [CRAWLER, param("run_id", schema={"type": "integer", "minimum": 0}, description="Run id")], None, 200, "CrawlerRun", "The run"),
    ("get", "/schedule-preview", "The next fire times of a cron schedule (UTC)", "crawlers",
     [{**param("cron", "query", STR, "Cron expression, 5 fields"), "required": True},
      param("n", "query", {"type": "integer", "minimum": 1, "maximum": 50}, "How many (1-50, default 5)")], None, 200,
     obj(None, {"cron": STR, "times": array(STR)}), "Fire times"),
    ("get", "/classifiers", "List custom classifiers", "classifiers", PAGING, None, 200, page_of("Classifier"), "A page of classifiers"),
    ("post", "/classifiers", "Create a custom classifier", "classifiers", [], "Classifier", 201, "Classifier", "Created"),
    ("get", "/classifiers/{name}", "A classifier", "classifiers", [CLASSIFIER], None, 200, "Classifier", "The classifier"),
    ("put", "/classifiers/{name}", "Replace a classifier", "classifiers", [CLASSIFIER], "Classifier", 200, "Classifier", "The classifier"),
    ("delete", "/classifiers/{name}", "Delete a classifier", "classifiers", [CLASSIFIER], None, 204, None, "Deleted"),
    ("get", "/users", "List users (admin)", "users", [], None, 200, obj(None, {"items": array(ref("User")), "total": INT}), "Users"),
    ("post", "/users", "Create a user (admin)", "users", [], "UserCreate", 201, "User", "Created"),
    ("get", "/users/{name}", "A user (admin)", "users", [USER], None, 200, "User", "The user"),
    ("put", "/users/{name}", "Change role, password, databases (admin)", "users", [USER], "UserInput", 200, "User", "The user"),
    ("delete", "/users/{name}", "Delete a user (admin)", "users", [USER], None, 204, None, "Deleted"),
    ("get", "/tokens", "The calling user's API tokens", "users", [], None, 200,
     obj(None, {"items": array(ref("Token")), "total": INT}), "Tokens"),
    ("post", "/tokens", "Create an API token (the secret is in this answer only)", "users", [], "TokenInput", 201, "Token", "Created"),
    ("delete", "/tokens/{token_id}", "Revoke an API token", "users",
     [param("token_id", schema={"type": "integer", "minimum": 0}, description="Token id")], None, 204, None, "Revoked"),
]  # fmt: skip

SCHEMAS.update(openapi_etl.SCHEMAS)
SCHEMAS.update(openapi_governance.SCHEMAS)
SCHEMAS.update(openapi_profiles.SCHEMAS)

SPEC: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "Mortar API",
        "version": "1",
        "description": "The catalog, crawlers, jobs, triggers, workflows, connections and users of a Mortar server. Authenticate with "
        "'Authorization: Bearer <token>' (tokens: POST /tokens, or the console's Tokens page). "
        'Errors are {"error": {"type", "message"}}.',
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
    },
    "paths": paths(ROUTES + openapi_etl.ROUTES + openapi_governance.ROUTES + openapi_profiles.ROUTES),
}

for _open in ("/", "/openapi.json"):  # readable without logging in: they hold no data
    SPEC["paths"][_open]["get"]["security"] = []
