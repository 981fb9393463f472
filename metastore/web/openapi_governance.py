"""The OpenAPI description of the governance API (api_governance.py): lineage, OpenLineage in, annotations,
events and subscriptions: its SCHEMAS and ROUTES, which openapi.py adds to the served SPEC."""

from __future__ import annotations

from metastore.catalog.events import CHANNELS, EVENT_TYPES
from metastore.web.openapi_build import BOOL, INT, NAME, STR, array, nullable, obj, param

_DB, _TABLE = param("db", description="Database name"), param("table", description="Table name")
_COLUMN = param("column", description="Column name")
_NAME = param("name", description="Name")
_LABELS = array({"type": "string", "pattern": "^[a-z0-9][a-z0-9_.:\\-/]{0,99}$"}, maxItems=50)
_ANY = {"type": "object"}
_LIMIT = param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000})

SCHEMAS = {
    "LineageGraph": obj(["nodes", "edges"], {
        "table": STR, "direction": STR, "depth": INT,
        "nodes": array(obj(["id", "kind", "name"], {"id": STR, "kind": {"enum": ["table", "dataset", "job", "crawler",
                                                                              "external"]}, "name": STR})),
        "edges": array(obj(["from", "to", "run_count"], {"from": STR, "to": STR, "run_count": INT, "last_at": INT,
                                                         "runs": array(_ANY)})),
    }),  # fmt: skip
    "ColumnImpact": obj(["columns", "jobs"], {"column": STR, "columns": array(_ANY), "jobs": array(STR),
                                              "tables_without_column_lineage": array(STR)}),  # fmt: skip
    "ProcessLineage": obj(["inputs", "outputs"], {"inputs": array(_ANY), "outputs": array(_ANY)}),
    "OpenLineageRunEvent": obj(["run", "job"], {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "run": obj(["runId"], {"runId": {"type": "string", "minLength": 1, "maxLength": 64}}),
        "job": obj(["namespace", "name"], {"namespace": STR, "name": STR}),
        "inputs": array(obj(["namespace", "name"], {"namespace": STR, "name": STR})),
        "outputs": array(obj(["namespace", "name"], {"namespace": STR, "name": STR})),
        "producer": STR, "schemaURL": STR,
    }),  # fmt: skip
    "Annotation": obj(None, {"db": STR, "table": STR, "column": STR, "owner": nullable(STR),
                             "description": nullable(STR), "tags": array(STR), "classifications": array(STR),
                             "updated_at": nullable(INT), "updated_by": nullable(STR)}),  # fmt: skip
    "AnnotationInput": obj(None, {"owner": nullable({"type": "string", "maxLength": 256}),
                                  "description": nullable({"type": "string", "maxLength": 20000}),
                                  "tags": _LABELS, "classifications": _LABELS}, closed=True),  # fmt: skip
    "Event": obj(["id", "type", "at"], {"id": INT, "type": {"enum": list(EVENT_TYPES)}, "at": INT,
                                        "database": nullable(STR), "details": _ANY}),  # fmt: skip
    "Subscription": obj(["name", "events", "channel", "target"], {
        "name": STR, "events": array(STR), "channel": {"enum": list(CHANNELS)}, "target": STR,
        "database": nullable(STR), "object": nullable(STR), "owner": nullable(STR), "enabled": BOOL,
        "id": nullable(INT), "created_at": nullable(INT),
        "secret": {"type": "string", "description": "the webhook's signing key: in the answer to its creation only"},
    }),  # fmt: skip
    "SubscriptionInput": obj(["name", "events", "channel", "target"], {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.\\-]{0,99}$"},
        "events": array({"enum": list(EVENT_TYPES)}, minItems=1),
        "channel": {"enum": list(CHANNELS)},
        "target": {"type": "string", "description": "an http(s) URL (webhook) or an e-mail address"},
        "database": nullable(NAME), "object": nullable(NAME), "enabled": BOOL,
    }, closed=True),  # fmt: skip
}

ROUTES = [
    ("get", "/tables/{db}/{table}/lineage", "A table's lineage graph: up (what fed it), down, or both", "lineage",
     [_DB, _TABLE, param("direction", "query", {"enum": ["up", "down", "both"]}),
      param("depth", "query", {"type": "integer", "minimum": 1, "maximum": 10})], None, 200, "LineageGraph"),
    ("get", "/tables/{db}/{table}/columns/{column}/impact", "What a change of a column reaches downstream",
     "lineage", [_DB, _TABLE, _COLUMN, param("depth", "query", {"type": "integer", "minimum": 1, "maximum": 10})],
     None, 200, "ColumnImpact"),
    ("get", "/jobs/{name}/lineage", "What a job's runs read and wrote", "lineage", [_NAME], None, 200, "ProcessLineage"),
    ("get", "/crawlers/{name}/lineage", "What a crawler's runs read and made", "lineage", [_NAME], None, 200,
     "ProcessLineage"),
    ("post", "/lineage", "An OpenLineage run event of another producer (Marquez-compatible)", "lineage", [],
     "OpenLineageRunEvent", 201, _ANY),
    ("get", "/databases/{db}/annotation", "A database's annotation", "annotations", [_DB], None, 200, "Annotation"),
    ("put", "/databases/{db}/annotation", "Change a database's annotation", "annotations", [_DB], "AnnotationInput",
     200, "Annotation"),
    ("get", "/tables/{db}/{table}/annotations", "A table's annotation and its columns'", "annotations", [_DB, _TABLE],
     None, 200, obj(["table", "columns"], {"table": {"$ref": "#/components/schemas/Annotation"}, "columns": _ANY})),
    ("put", "/tables/{db}/{table}/annotation", "Change a table's annotation", "annotations", [_DB, _TABLE],
     "AnnotationInput", 200, "Annotation"),
    ("put", "/tables/{db}/{table}/columns/{column}/annotation", "Change a column's annotation", "annotations",
     [_DB, _TABLE, _COLUMN], "AnnotationInput", 200, "Annotation"),
    ("get", "/tables/{db}/{table}/annotation-history", "Who changed a table's annotations, when, what", "annotations",
     [_DB, _TABLE, _LIMIT], None, 200, obj(["items"], {"items": array(_ANY)})),
    ("get", "/events", "Events after a cursor (job and crawler runs, schema changes, drops, partitions)", "events",
     [param("after", "query", {"type": "integer", "minimum": 0}), _LIMIT,
      param("type", "query", {"enum": list(EVENT_TYPES)})], None, 200,
     obj(["items", "next"], {"items": array({"$ref": "#/components/schemas/Event"}), "next": INT})),
    ("get", "/subscriptions", "The caller's subscriptions (an admin's: all)", "events", [], None, 200,
     obj(["items"], {"items": array({"$ref": "#/components/schemas/Subscription"})})),
    ("post", "/subscriptions", "Subscribe to events by webhook or e-mail", "events", [], "SubscriptionInput", 201,
     "Subscription"),
    ("get", "/subscriptions/{name}", "A subscription", "events", [_NAME], None, 200, "Subscription"),
    ("delete", "/subscriptions/{name}", "Delete a subscription", "events", [_NAME], None, 204, None),
    ("get", "/subscriptions/{name}/deliveries", "A subscription's delivery log", "events", [_NAME, _LIMIT], None, 200,
     obj(["items"], {"items": array(_ANY)})),
]
