"""The OpenAPI 3 description of the JSON API in api.py: the one description, served at /api/v1/openapi.json.

tests/test_web_api.py checks that every route of the API is described here, and schemathesis checks the
answers against it.
"""

from __future__ import annotations

from typing import Any

from metastore.web import openapi_etl


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_STR_MAP = {"type": "object", "additionalProperties": _STR}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_]{1,128}$"}

_ERRORS = {
    "default": {
        "description": "An error: 400 bad input, 401 not logged in, 403 not allowed, 404 missing, 409 conflict",
        "content": {"application/json": {"schema": _ref("Error")}},
    }
}


def _json(description: str, schema: dict, status: str = "200") -> dict:
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}},
        **_ERRORS,
    }


def _no_content(description: str) -> dict:
    return {"204": {"description": description}, **_ERRORS}


def _page_of(item: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "total": _INT,
            "limit": _INT,
            "offset": _INT,
        },
    }


def _path_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or _STR,
    }


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_PAGING = [
    _query("q", "Only names containing this text (case-insensitive)", _STR),
    _query(
        "limit", "Items per page (1-1000, default 50)", {"type": "integer", "minimum": 1, "maximum": 1000}
    ),
    _query("offset", "Items to skip (default 0)", {"type": "integer", "minimum": 0}),
]
_DB = _path_param("db", "Database name")
_TABLE = _path_param("table", "Table name")


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _op(
    summary: str, responses: dict, params: list | None = None, body: str | None = None, tag: str = ""
) -> dict:
    op: dict[str, Any] = {"summary": summary, "responses": responses, "tags": [tag] if tag else []}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = _body(body)
    return op


_COLUMN = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {"name": _STR, "type": _STR, "comment": _nullable(_STR)},
    "additionalProperties": False,
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {
                        "type": "string",
                        "description": "NotFound, AlreadyExists, InvalidInput, Conflict, Unauthorized, Forbidden, ...",
                    },
                    "message": {"type": "string", "description": "What went wrong, naming the object"},
                },
            }
        },
    },
    "Column": _COLUMN,
    "Database": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _STR,
            "description": _nullable(_STR),
            "location": _nullable(_STR),
            "parameters": _STR_MAP,
            "owner": _nullable(_STR),
            "create_time": _INT,
            "tables": {"type": "integer", "description": "number of tables (in lists)"},
        },
    },  # fmt: skip
    "DatabaseInput": {
        "type": "object",
        "properties": {
            "name": _NAME,
            "description": _nullable(_STR),
            "location": _nullable(_STR),
            "parameters": _STR_MAP,
            "owner": _nullable(_STR),
        },
        "additionalProperties": False,
    },  # fmt: skip
    "TableSummary": {
        "type": "object",
        "required": ["name", "database", "table_type"],
        "properties": {
            "name": _STR,
            "database": _STR,
            "table_type": _STR,
            "owner": _nullable(_STR),
            "create_time": _INT,
            "columns": _INT,
            "partition_keys": {"type": "array", "items": _STR},
            "location": _nullable(_STR),
            "version": _INT,
            "comment": _nullable(_STR),
        },
    },  # fmt: skip
    "Storage": {
        "type": "object",
        "properties": {
            "location": _nullable(_STR),
            "input_format": _nullable(_STR),
            "output_format": _nullable(_STR),
            "serde": {
                "type": "object",
                "properties": {"serialization_lib": _nullable(_STR), "parameters": _STR_MAP},
            },
            "compressed": {"type": "boolean"},
            "num_buckets": _INT,
            "bucket_columns": {"type": "array", "items": _STR},
            "parameters": _STR_MAP,
        },
    },  # fmt: skip
    "Table": {
        "type": "object",
        "required": ["name", "database", "columns", "partition_keys"],
        "properties": {
            "name": _STR,
            "database": _STR,
            "table_type": _STR,
            "owner": _nullable(_STR),
            "create_time": _INT,
            "columns": {"type": "array", "items": _ref("Column")},
            "partition_keys": {"type": "array", "items": _ref("Column")},
            "parameters": _STR_MAP,
            "storage": _ref("Storage"),
            "view_original_text": _nullable(_STR),
            "view_expanded_text": _nullable(_STR),
            "version": _INT,
        },
    },  # fmt: skip
    "TableInput": {
        "type": "object",
        "properties": {
            "name": _NAME,
            "database": _NAME,
            "table_type": {"enum": ["MANAGED_TABLE", "EXTERNAL_TABLE", "VIRTUAL_VIEW"]},
            "owner": _nullable(_STR),
            "columns": {"type": "array", "items": _ref("Column")},
            "partition_keys": {"type": "array", "items": _ref("Column")},
            "parameters": _STR_MAP,
            "storage": _ref("Storage"),
            "view_original_text": _nullable(_STR),
            "view_expanded_text": _nullable(_STR),
        },
        "additionalProperties": False,
    },  # fmt: skip
    "Partition": {
        "type": "object",
        "required": ["name", "values"],
        "properties": {
            "name": _STR,
            "values": {"type": "array", "items": _STR},
            "create_time": _INT,
            "location": _nullable(_STR),
            "parameters": _STR_MAP,
        },
    },  # fmt: skip
    "TableVersion": {
        "type": "object",
        "required": ["version", "columns", "partition_keys"],
        "properties": {
            "version": _INT,
            "columns": {"type": "array", "items": _ref("Column")},
            "partition_keys": {"type": "array", "items": _ref("Column")},
            "created_at": _INT,
            "created_by": _STR,
        },
    },  # fmt: skip
    "AuditRecord": {
        "type": "object",
        "required": ["id", "at", "user", "action"],
        "properties": {
            "id": _INT,
            "at": {"type": "integer", "description": "ms since the epoch"},
            "user": _STR,
            "action": _STR,
            "database": _nullable(_STR),
            "object": _nullable(_STR),
            "details": {"type": "object"},
        },
    },  # fmt: skip
    "Function": {
        "type": "object",
        "required": ["name", "database", "class_name"],
        "properties": {
            "name": _STR,
            "database": _STR,
            "class_name": _STR,
            "owner": _nullable(_STR),
            "create_time": _INT,
            "resources": {"type": "array", "items": _ref("Resource")},
        },
    },  # fmt: skip
    "Resource": {
        "type": "object",
        "required": ["uri"],
        "properties": {"type": {"enum": ["JAR", "FILE", "ARCHIVE"]}, "uri": _STR},
        "additionalProperties": False,
    },
    "FunctionInput": {
        "type": "object",
        "required": ["class_name"],
        "properties": {
            "name": _NAME,
            "class_name": {"type": "string", "minLength": 1},
            "owner": _nullable(_STR),
            "resources": {"type": "array", "items": _ref("Resource")},
        },
        "additionalProperties": False,
    },  # fmt: skip
    "CrawlerTarget": {
        "type": "object",
        "required": ["path"],
        "properties": {
            "path": {"type": "string", "description": "local path or fsspec URL"},
            "exclusions": {"type": "array", "items": _STR, "description": "globs; ** crosses folders"},
        },
        "additionalProperties": False,
    },  # fmt: skip
    "Crawler": {
        "type": "object",
        "required": ["name", "targets", "database"],
        "properties": {
            "name": _STR,
            "targets": {"type": "array", "items": _ref("CrawlerTarget")},
            "database": _STR,
            "table_prefix": _STR,
            "classifiers": {"type": "array", "items": _STR},
            "update_behavior": {"enum": ["UPDATE_IN_DATABASE", "LOG"]},
            "delete_behavior": {"enum": ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"]},
            "recrawl_behavior": {"enum": ["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"]},
            "sample_size": _nullable(_INT),
            "combine_compatible_schemas": {"type": "boolean"},
            "table_level": _nullable(_INT),
            "schedule": _nullable({"type": "string", "description": "cron, 5 fields, UTC"}),
            "description": _nullable(_STR),
            "storage_options": {"type": "object", "description": "fsspec options; secrets are shown as ***"},
            "created_at": _INT,
            "updated_at": _INT,
            "last_run": {"anyOf": [_ref("CrawlerRun"), {"type": "null"}], "description": "in lists"},
        },
    },  # fmt: skip
    "CrawlerInput": {
        "type": "object",
        "required": ["targets", "database"],
        "properties": {
            "name": _NAME,
            "targets": {"type": "array", "items": _ref("CrawlerTarget")},
            "database": _NAME,
            "table_prefix": _STR,
            "classifiers": {"type": "array", "items": _NAME},
            "update_behavior": {"enum": ["UPDATE_IN_DATABASE", "LOG"]},
            "delete_behavior": {"enum": ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"]},
            "recrawl_behavior": {"enum": ["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"]},
            "sample_size": _nullable({"type": "integer", "minimum": 1, "maximum": 249}),
            "combine_compatible_schemas": {"type": "boolean"},
            "table_level": _nullable({"type": "integer", "minimum": 1}),
            "schedule": _nullable(_STR),
            "description": _nullable(_STR),
            "storage_options": {"type": "object"},
        },
        "additionalProperties": False,
    },  # fmt: skip
    "CrawlerRun": {
        "type": "object",
        "required": ["id", "crawler", "state", "started_at"],
        "properties": {
            "id": _INT,
            "crawler": _STR,
            "state": {"enum": ["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]},
            "started_at": _INT,
            "ended_at": _nullable(_INT),
            "duration_ms": _nullable(_INT),
            "error": _nullable(_STR),
            "metrics": {
                "type": "object",
                "description": "tables_created, tables_updated, tables_deleted, partitions_added, ..., files_scanned, files_skipped, skipped",
            },
        },
    },  # fmt: skip
    "Classifier": {
        "type": "object",
        "required": ["name", "kind"],
        "properties": {
            "name": _NAME,
            "kind": {"enum": ["grok", "json", "csv", "xml"]},
            "classification": _nullable(_STR),
            "grok_pattern": _nullable(_STR),
            "custom_patterns": _nullable(_STR),
            "json_path": _nullable(_STR),
            "csv_delimiter": _nullable(_STR),
            "csv_quote": _nullable(_STR),
            "csv_header": _nullable({"enum": ["PRESENT", "ABSENT", "UNKNOWN"]}),
            "csv_column_names": _nullable({"type": "array", "items": _STR}),
            "xml_row_tag": _nullable(_STR),
        },
        "additionalProperties": False,
    },  # fmt: skip
    "User": {
        "type": "object",
        "required": ["name", "role"],
        "properties": {
            "name": _STR,
            "role": {"enum": ["admin", "editor", "viewer"]},
            "databases": _nullable({"type": "array", "items": _STR}),
            "created_at": _INT,
            "updated_at": _INT,
        },
    },  # fmt: skip
    "UserInput": {
        "type": "object",
        "properties": {
            "name": _NAME,
            "password": {"type": "string", "minLength": 8},
            "role": {"enum": ["admin", "editor", "viewer"]},
            "databases": _nullable(
                {"type": "array", "items": _NAME, "description": "the databases the user may see; null: all"}
            ),
        },
        "additionalProperties": False,
    },  # fmt: skip
    "Token": {
        "type": "object",
        "required": ["id", "name", "prefix"],
        "properties": {
            "id": _INT,
            "user": _STR,
            "name": _STR,
            "prefix": _STR,
            "created_at": _INT,
            "last_used_at": _nullable(_INT),
            "token": {"type": "string", "description": "the secret: only in the answer to its creation"},
        },
    },  # fmt: skip
}

_CRAWLER = _path_param("name", "Crawler name")
_CLASSIFIER = _path_param("name", "Classifier name")
_FUNCTION = _path_param("name", "Function name")
_USER = _path_param("name", "User name")
_BOOL = {"type": "boolean"}

PATHS = {
    "/openapi.json": {
        "get": _op("This description", _json("OpenAPI 3 document", {"type": "object"}), tag="meta")
    },
    "/me": {"get": _op("The calling user", _json("The user", _ref("User")), tag="meta")},
    "/databases": {
        "get": _op(
            "List databases", _json("A page of databases", _page_of("Database")), _PAGING, tag="databases"
        ),
        "post": _op(
            "Create a database",
            _json("Created", _ref("Database"), "201"),
            body="DatabaseCreate",
            tag="databases",
        ),
    },
    "/databases/{db}": {
        "get": _op("A database", _json("The database", _ref("Database")), [_DB], tag="databases"),
        "put": _op(
            "Change a database's description, location, parameters, owner",
            _json("The database", _ref("Database")),
            [_DB],
            "DatabaseInput",
            tag="databases",
        ),
        "delete": _op(
            "Drop a database",
            _no_content("Dropped"),
            [
                _DB,
                _query("cascade", "Drop its tables and functions too", _BOOL),
                _query("delete_data", "Delete managed data", _BOOL),
            ],
            tag="databases",
        ),
    },  # fmt: skip
    "/tables": {
        "get": _op(
            "Search tables of every database by name",
            _json("A page of tables", _page_of("TableSummary")),
            _PAGING,
            tag="tables",
        )
    },  # fmt: skip
    "/databases/{db}/tables": {
        "get": _op(
            "List tables", _json("A page of tables", _page_of("TableSummary")), [_DB, *_PAGING], tag="tables"
        ),
        "post": _op(
            "Create a table", _json("Created", _ref("Table"), "201"), [_DB], "TableCreate", tag="tables"
        ),
    },
    "/databases/{db}/tables/{table}": {
        "get": _op(
            "A table: schema, partition keys, parameters, storage",
            _json("The table", _ref("Table")),
            [_DB, _TABLE],
            tag="tables",
        ),
        "put": _op(
            "Replace a table's definition (a new name or database renames it)",
            _json("The table", _ref("Table")),
            [_DB, _TABLE, _query("cascade", "Copy new columns to every partition", _BOOL)],
            "TableInput",
            tag="tables",
        ),
        "delete": _op(
            "Drop a table",
            _no_content("Dropped"),
            [_DB, _TABLE, _query("delete_data", "Delete managed data", _BOOL)],
            tag="tables",
        ),
    },  # fmt: skip
    "/databases/{db}/tables/{table}/partitions": {
        "get": _op(
            "A page of partitions in name order",
            _json(
                "Partitions",
                {
                    "type": "object",
                    "required": ["items", "next"],
                    "properties": {
                        "items": {"type": "array", "items": _ref("Partition")},
                        "next": _nullable(_STR),
                        "limit": _INT,
                    },
                },
            ),
            [
                _DB,
                _TABLE,
                _query("filter", 'Partition filter, e.g. dt >= "2024-01-01" and hr = 3', _STR),
                _query("after", "Cursor: the `next` of the previous page", _STR),
                _query(
                    "limit",
                    "Items per page (1-1000, default 50)",
                    {"type": "integer", "minimum": 1, "maximum": 1000},
                ),
            ],
            tag="tables",
        )
    },  # fmt: skip
    "/databases/{db}/tables/{table}/versions": {
        "get": _op(
            "The schema versions of a table",
            _json(
                "Versions, oldest first",
                {"type": "object", "properties": {"items": {"type": "array", "items": _ref("TableVersion")}}},
            ),
            [_DB, _TABLE],
            tag="tables",
        )
    },  # fmt: skip
    "/databases/{db}/tables/{table}/audit": {
        "get": _op(
            "The audit history of a table, newest first",
            _json(
                "Records",
                {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": _ref("AuditRecord")},
                        "next": _nullable(_INT),
                        "limit": _INT,
                    },
                },
            ),
            [
                _DB,
                _TABLE,
                _query(
                    "before",
                    "Only records with smaller ids (the `next` of the previous page)",
                    {"type": "integer", "minimum": 0},
                ),
                _query("limit", "Records per page", {"type": "integer", "minimum": 1, "maximum": 1000}),
            ],
            tag="tables",
        )
    },  # fmt: skip
    "/databases/{db}/functions": {
        "get": _op(
            "List functions",
            _json("A page of functions", _page_of("Function")),
            [_DB, *_PAGING],
            tag="functions",
        ),
        "post": _op(
            "Create a function",
            _json("Created", _ref("Function"), "201"),
            [_DB],
            "FunctionCreate",
            tag="functions",
        ),
    },
    "/databases/{db}/functions/{name}": {
        "get": _op("A function", _json("The function", _ref("Function")), [_DB, _FUNCTION], tag="functions"),
        "put": _op(
            "Change a function",
            _json("The function", _ref("Function")),
            [_DB, _FUNCTION],
            "FunctionInput",
            tag="functions",
        ),
        "delete": _op("Drop a function", _no_content("Dropped"), [_DB, _FUNCTION], tag="functions"),
    },
    "/crawlers": {
        "get": _op(
            "List crawlers with their newest run",
            _json("A page of crawlers", _page_of("Crawler")),
            _PAGING,
            tag="crawlers",
        ),
        "post": _op(
            "Define a crawler", _json("Created", _ref("Crawler"), "201"), body="CrawlerCreate", tag="crawlers"
        ),
    },
    "/crawlers/{name}": {
        "get": _op("A crawler", _json("The crawler", _ref("Crawler")), [_CRAWLER], tag="crawlers"),
        "put": _op(
            "Replace a crawler's definition",
            _json("The crawler", _ref("Crawler")),
            [_CRAWLER],
            "CrawlerInput",
            tag="crawlers",
        ),
        "delete": _op(
            "Delete a crawler (its tables stay)", _no_content("Deleted"), [_CRAWLER], tag="crawlers"
        ),
    },
    "/crawlers/{name}/run": {
        "post": _op(
            "Start a run on a worker (Celery task runner.crawl)",
            _json("Queued", {"type": "object", "properties": {"crawler": _STR, "queued": _BOOL}}, "202"),
            [_CRAWLER],
            tag="crawlers",
        )
    },  # fmt: skip
    "/crawlers/{name}/stop": {
        "post": _op(
            "Stop the run under way: it ends CANCELLED and its worker stops",
            _json("The stopped run", _ref("CrawlerRun")),
            [_CRAWLER],
            tag="crawlers",
        )
    },  # fmt: skip
    "/crawlers/{name}/runs": {
        "get": _op(
            "A crawler's runs, newest first, with metrics",
            _json("A page of runs", _page_of("CrawlerRun")),
            [
                _CRAWLER,
                _query(
                    "state",
                    "Only runs in this state",
                    {"enum": ["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]},
                ),
                *_PAGING[1:],
            ],
            tag="crawlers",
        )
    },  # fmt: skip
    "/crawlers/{name}/runs/{run_id}": {
        "get": _op(
            "A run of a crawler",
            _json("The run", _ref("CrawlerRun")),
            [_CRAWLER, _path_param("run_id", "Run id", {"type": "integer", "minimum": 0})],
            tag="crawlers",
        )
    },  # fmt: skip
    "/schedule-preview": {
        "get": _op(
            "The next fire times of a cron schedule (UTC)",
            _json(
                "Fire times",
                {"type": "object", "properties": {"cron": _STR, "times": {"type": "array", "items": _STR}}},
            ),
            [
                {**_query("cron", "Cron expression, 5 fields", _STR), "required": True},
                _query("n", "How many (1-50, default 5)", {"type": "integer", "minimum": 1, "maximum": 50}),
            ],
            tag="crawlers",
        )
    },  # fmt: skip
    "/classifiers": {
        "get": _op(
            "List custom classifiers",
            _json("A page of classifiers", _page_of("Classifier")),
            _PAGING,
            tag="classifiers",
        ),
        "post": _op(
            "Create a custom classifier",
            _json("Created", _ref("Classifier"), "201"),
            body="Classifier",
            tag="classifiers",
        ),
    },
    "/classifiers/{name}": {
        "get": _op(
            "A classifier", _json("The classifier", _ref("Classifier")), [_CLASSIFIER], tag="classifiers"
        ),
        "put": _op(
            "Replace a classifier",
            _json("The classifier", _ref("Classifier")),
            [_CLASSIFIER],
            "Classifier",
            tag="classifiers",
        ),
        "delete": _op("Delete a classifier", _no_content("Deleted"), [_CLASSIFIER], tag="classifiers"),
    },
    "/users": {
        "get": _op(
            "List users (admin)",
            _json(
                "Users",
                {
                    "type": "object",
                    "properties": {"items": {"type": "array", "items": _ref("User")}, "total": _INT},
                },
            ),
            tag="users",
        ),
        "post": _op(
            "Create a user (admin)", _json("Created", _ref("User"), "201"), body="UserCreate", tag="users"
        ),
    },  # fmt: skip
    "/users/{name}": {
        "get": _op("A user (admin)", _json("The user", _ref("User")), [_USER], tag="users"),
        "put": _op(
            "Change role, password, databases (admin)",
            _json("The user", _ref("User")),
            [_USER],
            "UserInput",
            tag="users",
        ),
        "delete": _op("Delete a user (admin)", _no_content("Deleted"), [_USER], tag="users"),
    },
    "/tokens": {
        "get": _op(
            "The calling user's API tokens",
            _json(
                "Tokens",
                {
                    "type": "object",
                    "properties": {"items": {"type": "array", "items": _ref("Token")}, "total": _INT},
                },
            ),
            tag="users",
        ),
        "post": _op(
            "Create an API token (the secret is in this answer only)",
            _json("Created", _ref("Token"), "201"),
            body="TokenInput",
            tag="users",
        ),
    },  # fmt: skip
    "/tokens/{token_id}": {
        "delete": _op(
            "Revoke an API token",
            _no_content("Revoked"),
            [_path_param("token_id", "Token id", {"type": "integer", "minimum": 0})],
            tag="users",
        )
    },
}


def _requiring(name: str, *fields: str) -> dict:
    """Schema `name` with `fields` required (the create form of an update schema)."""
    base = SCHEMAS[name]
    return {**base, "required": sorted({*base.get("required", []), *fields})}


SCHEMAS["DatabaseCreate"] = _requiring("DatabaseInput", "name")
SCHEMAS["TableCreate"] = _requiring("TableInput", "name")
SCHEMAS["FunctionCreate"] = _requiring("FunctionInput", "name")
SCHEMAS["CrawlerCreate"] = _requiring("CrawlerInput", "name")
SCHEMAS["UserCreate"] = _requiring("UserInput", "name", "password")

SCHEMAS["TokenInput"] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 256}},
    "additionalProperties": False,
}

# jobs, triggers, workflows and connections: built from openapi_etl's table of routes
SCHEMAS.update(openapi_etl.SCHEMAS)
PATHS.update(openapi_etl.paths(_ERRORS))

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
    "paths": PATHS,
}
