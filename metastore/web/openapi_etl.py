"""The OpenAPI description of the jobs, triggers, workflows and connections API (api_jobs.py, api_flows.py),
built from one compact table of routes: openapi.py merges SCHEMAS and PATHS into the served SPEC.
"""

from __future__ import annotations

from metastore.catalog.connections import CONNECTION_TYPES
from metastore.catalog.jobs import BOOKMARK_OPTIONS, JOB_TYPES, RUN_STATES
from metastore.catalog.mapping import FORMATS, MODES
from metastore.catalog.triggers import LOGICALS, TRIGGER_TYPES

_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_STR_MAP = {"type": "object", "additionalProperties": _STR}
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_]{1,128}$"}
_ID = {"type": "integer", "minimum": 0, "maximum": 2**53}
_ARGS = {"type": "object", "additionalProperties": _STR, "description": "--KEY: value"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _null(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(required: list[str], props: dict, closed: bool = False) -> dict:
    out = {"type": "object", "required": required, "properties": props}
    if closed:
        out["additionalProperties"] = False
    return out


def _list(item: str) -> dict:
    return {"type": "array", "items": _ref(item)}


_JOB_INPUT = {
    "name": _NAME,
    "type": {"enum": list(JOB_TYPES)},
    "script": {"type": "string", "description": "Python source (PySpark for spark jobs)"},
    "script_location": _null(_STR),
    "default_arguments": _ARGS,
    "non_overridable_arguments": _ARGS,
    "spark_conf": _STR_MAP,
    "master": _null(_STR),
    "timeout_s": _null({"type": "integer", "minimum": 1}),
    "max_retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "max_concurrent_runs": {"type": "integer", "minimum": 1, "maximum": 1000},
    "queue_runs": _BOOL,
    "bookmark": {"enum": list(BOOKMARK_OPTIONS)},
    "description": _null(_STR),
    "connections": {"type": "array", "items": _NAME},
}
_TARGET = {"job": _NAME, "crawler": _NAME}
_TRIGGER_INPUT = {
    "name": _NAME,
    "type": {"enum": list(TRIGGER_TYPES)},
    "schedule": _null({"type": "string", "description": "SCHEDULED: cron, 5 fields, UTC"}),
    "logical": {"enum": list(LOGICALS)},
    "conditions": _list("TriggerCondition"),
    "actions": _list("TriggerAction"),
    "description": _null(_STR),
    "workflow": _null(_NAME),
}
_RUN_STATE = {"enum": list(RUN_STATES)}

SCHEMAS = {
    "Job": _obj(
        ["name", "type", "script_version"],
        {
            **{k: v for k, v in _JOB_INPUT.items() if k != "name"},
            "name": _STR,
            "script_version": _INT,
            "created_at": _INT,
            "updated_at": _INT,
            "last_run": {
                "anyOf": [_ref("JobRun"), {"type": "null"}],
                "description": "in lists (which omit the script)",
            },
        },
    ),  # fmt: skip
    "JobInput": _obj(["script"], _JOB_INPUT, closed=True),
    "Mapping": _obj(
        ["source", "target"],
        {
            "source": {"type": "string", "description": "db.table in the catalog", "example": "raw.orders"},
            "target": {"type": "string", "description": "db.table, created by the first run", "example": "mart.orders"},
            "columns": {
                "type": "array",
                "description": "empty: every column as it is",
                "items": _obj(["source"], {"source": _STR, "target": _null(_STR), "type": _null(_STR)}, closed=True),
            },
            "partition_by": {"type": "array", "items": _STR},
            "format": {"enum": list(FORMATS)},
            "mode": {"enum": list(MODES)},
            "where": _null(_STR),
        },
        closed=True,
    ),  # fmt: skip
    "GeneratedScript": _obj(["script"], {"script": _STR}),
    "JobRun": _obj(
        ["id", "job", "state"],
        {
            "id": _INT,
            "job": _STR,
            "state": _RUN_STATE,
            "attempt": _INT,
            "previous_run_id": _null(_INT),
            "script_version": _INT,
            "arguments": _STR_MAP,
            "trigger": _null(_STR),
            "worker": _null(_STR),
            "error": _null(_STR),
            "created_at": _INT,
            "started_at": _null(_INT),
            "ended_at": _null(_INT),
            "duration_ms": _null(_INT),
            "workflow_run_id": _null(_INT),
        },
    ),  # fmt: skip
    "RunRequest": _obj([], {"arguments": _ARGS}, closed=True),
    "ScriptVersions": _obj(
        ["items"],
        {
            "items": {"type": "array", "items": _obj(["version"], {"version": _INT, "created_at": _INT})},
            "total": _INT,
        },
    ),  # fmt: skip
    "Script": _obj(["job", "version", "script"], {"job": _STR, "version": _INT, "script": _STR}),
    "RunLog": _obj(
        ["text", "next_offset", "finished"],
        {
            "text": _STR,
            "next_offset": {"type": "integer", "description": "the offset to ask for next"},
            "finished": {
                "type": "boolean",
                "description": "the run has ended and the whole log was answered",
            },
        },
    ),  # fmt: skip
    "TriggerCondition": _obj(["state"], {**_TARGET, "state": _STR}, closed=True),
    "TriggerAction": _obj([], {**_TARGET, "arguments": _ARGS}, closed=True),
    "Trigger": _obj(
        ["name", "type", "state", "actions"],
        {
            **{k: v for k, v in _TRIGGER_INPUT.items() if k not in ("name", "workflow")},
            "name": _STR,
            "workflow": _null(_STR),
            "state": {"enum": ["CREATED", "ACTIVATED", "DEACTIVATED"]},
            "created_at": _INT,
            "updated_at": _INT,
            "activated_at": _null(_INT),
            "next_fires": {
                "type": "array",
                "items": _STR,
                "description": "scheduled triggers: the next fire times (UTC)",
            },
        },
    ),  # fmt: skip
    "TriggerInput": _obj(["type", "actions"], _TRIGGER_INPUT, closed=True),
    "TriggerCreate": _obj(["name", "type", "actions"], {**_TRIGGER_INPUT, "activate": _BOOL}, closed=True),
    "TriggerStarted": _obj(
        ["trigger", "started"], {"trigger": _STR, "started": {"type": "array", "items": {"type": "object"}}}
    ),
    "Workflow": _obj(
        ["name"],
        {
            "name": _STR,
            "description": _null(_STR),
            "default_run_properties": {"type": "object"},
            "created_at": _INT,
            "updated_at": _INT,
            "last_run": {"anyOf": [_ref("WorkflowRun"), {"type": "null"}]},
            "triggers": {
                "type": "array",
                "items": _STR,
                "description": "the triggers of its graph (single workflow)",
            },
        },
    ),  # fmt: skip
    "WorkflowInput": _obj(
        [],
        {"name": _NAME, "description": _null(_STR), "default_run_properties": {"type": "object"}},
        closed=True,
    ),  # fmt: skip
    "WorkflowRun": _obj(
        ["id", "workflow", "state"],
        {
            "id": _INT,
            "workflow": _STR,
            "state": {"enum": ["RUNNING", "COMPLETED", "STOPPED"]},
            "run_properties": {"type": "object"},
            "started_at": _INT,
            "ended_at": _null(_INT),
            "duration_ms": _null(_INT),
            "nodes": {
                "type": "array",
                "items": _obj(
                    ["type", "name"],
                    {"type": {"enum": ["job", "crawler"]}, "name": _STR, "state": _null(_STR)},
                ),
            },
        },
    ),  # fmt: skip
    "RunProperties": _obj([], {"run_properties": {"type": "object"}}, closed=True),
    "Resumed": _obj(
        ["started", "run"],
        {
            "started": {"type": "array", "items": _STR, "description": "job NAME, crawler NAME"},
            "run": _ref("WorkflowRun"),
        },
    ),
    "Connection": _obj(
        ["name", "type", "properties"],
        {
            "name": _STR,
            "type": {"enum": list(CONNECTION_TYPES)},
            "properties": {**_STR_MAP, "description": "secret ones (PASSWORD, ...) are shown as ********"},
            "description": _null(_STR),
            "created_at": _INT,
            "updated_at": _INT,
        },
    ),  # fmt: skip
    "ConnectionInput": _obj(
        ["type"],
        {
            "name": _NAME,
            "type": {"enum": list(CONNECTION_TYPES)},
            "properties": {
                **_STR_MAP,
                "description": "JDBC_CONNECTION_URL, USERNAME, PASSWORD, ...; ******** keeps the stored secret",
            },
            "description": _null(_STR),
        },
        closed=True,
    ),  # fmt: skip
}
SCHEMAS["JobCreate"] = {**SCHEMAS["JobInput"], "required": ["name", "script"]}
SCHEMAS["WorkflowCreate"] = {**SCHEMAS["WorkflowInput"], "required": ["name"]}
SCHEMAS["ConnectionCreate"] = {**SCHEMAS["ConnectionInput"], "required": ["name", "type"]}


def _p(
    name: str, where: str = "path", schema: dict | None = None, description: str = "", example=None
) -> dict:
    out = {"name": name, "in": where, "required": where == "path", "description": description or name,
           "schema": schema or _STR}  # fmt: skip
    if example is not None:
        out["example"] = example
    return out


_PAGING = [_p("q", "query", _STR, "Only names containing this text (case-insensitive)"),
           _p("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Items per page (1-1000, default 50)"),
           _p("offset", "query", {"type": "integer", "minimum": 0}, "Items to skip (default 0)")]  # fmt: skip
_STATE = _p("state", "query", _RUN_STATE, "Only runs in this state")
JOB = _p("name", description="Job name", example="daily_orders")
TRIGGER = _p("name", description="Trigger name", example="nightly")
WORKFLOW = _p("name", description="Workflow name", example="orders_flow")
CONNECTION = _p("name", description="Connection name", example="warehouse_db")
RUN = _p("run_id", schema=_ID, description="Run id", example=1)
_PAGE = "page"  # a response marker: a page of the schema named next to it


def _page_of(item: str) -> dict:
    return _obj(
        ["items", "total", "limit", "offset"],
        {"items": _list(item), "total": _INT, "limit": _INT, "offset": _INT},
    )


# (method, path, summary, tag, parameters, request body schema, status, response schema: a name, ("page", name) or None)
ROUTES = [
    ("get", "/jobs", "List jobs with their newest run (`type`, `state` of the newest run filter)", "jobs",
     [*_PAGING, _p("type", "query", {"enum": list(JOB_TYPES)}), {**_STATE, "description": "Newest run's state"}], None, 200, (_PAGE, "Job")),
    ("post", "/jobs", "Define a job (its script is version 1)", "jobs", [], "JobCreate", 201, "Job"),
    ("get", "/jobs/{name}", "A job with its current script", "jobs", [JOB], None, 200, "Job"),
    ("put", "/jobs/{name}", "Replace a job's definition (a changed script becomes a new version)", "jobs", [JOB], "JobInput", 200, "Job"),
    ("delete", "/jobs/{name}", "Delete a job with its runs (Conflict while one is under way)", "jobs", [JOB], None, 204, None),
    ("post", "/job-scripts/generate", "The PySpark script of a source → target column mapping (ApplyMapping)", "jobs",
     [], "Mapping", 200, "GeneratedScript"),
    ("get", "/jobs/{name}/scripts", "The script versions of a job, oldest first", "jobs", [JOB], None, 200, "ScriptVersions"),
    ("get", "/jobs/{name}/scripts/{version}", "One script version's text", "jobs",
     [JOB, _p("version", schema={"type": "integer", "minimum": 0, "maximum": 2**31}, description="Script version")], None, 200, "Script"),
    ("post", "/jobs/{name}/runs", "Start a run (task runner.job_run); `arguments` override the defaults", "jobs",
     [JOB], "RunRequest", 202, "JobRun"),
    ("get", "/jobs/{name}/runs", "A job's runs, newest first", "jobs", [JOB, _STATE, *_PAGING[1:]], None, 200, (_PAGE, "JobRun")),
    ("get", "/job-runs", "Runs of every job, newest first", "jobs", [_STATE, *_PAGING[1:]], None, 200, (_PAGE, "JobRun")),
    ("get", "/jobs/{name}/runs/{run_id}", "A run of a job", "jobs", [JOB, RUN], None, 200, "JobRun"),
    ("post", "/jobs/{name}/runs/{run_id}/stop", "Stop a run (STOPPED, or STOPPING until its worker stops it)", "jobs",
     [JOB, RUN], None, 200, "JobRun"),
    ("get", "/jobs/{name}/runs/{run_id}/log", "A run's log from `offset`; follow it with `next_offset`", "jobs",
     [JOB, RUN, _p("offset", "query", {"type": "integer", "minimum": 0, "maximum": 10**12}, "Characters to skip")], None, 200, "RunLog"),
    ("get", "/triggers", "List triggers (`type`, `state`, `workflow` filter)", "triggers",
     [*_PAGING, _p("type", "query", {"enum": list(TRIGGER_TYPES)}), _p("state", "query", {"enum": ["CREATED", "ACTIVATED", "DEACTIVATED"]}),
      _p("workflow", "query", _STR, "Only the triggers of this workflow")], None, 200, (_PAGE, "Trigger")),
    ("post", "/triggers", "Define a trigger (`activate`: at once)", "triggers", [], "TriggerCreate", 201, "Trigger"),
    ("get", "/triggers/{name}", "A trigger, with its next fire times if scheduled", "triggers", [TRIGGER], None, 200, "Trigger"),
    ("put", "/triggers/{name}", "Replace a trigger's definition", "triggers", [TRIGGER], "TriggerInput", 200, "Trigger"),
    ("delete", "/triggers/{name}", "Delete a trigger", "triggers", [TRIGGER], None, 204, None),
    ("post", "/triggers/{name}/activate", "Activate a trigger (schedules fire, conditions are watched)", "triggers", [TRIGGER], None, 200, "Trigger"),
    ("post", "/triggers/{name}/deactivate", "Deactivate a trigger", "triggers", [TRIGGER], None, 200, "Trigger"),
    ("post", "/triggers/{name}/start", "Fire a trigger now (a workflow's start trigger starts a workflow run)", "triggers",
     [TRIGGER], None, 202, "TriggerStarted"),
    ("get", "/workflows", "List workflows with their newest run", "workflows", _PAGING, None, 200, (_PAGE, "Workflow")),
    ("post", "/workflows", "Define a workflow (its graph: the triggers that name it)", "workflows", [], "WorkflowCreate", 201, "Workflow"),
    ("get", "/workflows/{name}", "A workflow with its triggers and newest run", "workflows", [WORKFLOW], None, 200, "Workflow"),
    ("put", "/workflows/{name}", "Change a workflow's description and default run properties", "workflows",
     [WORKFLOW], "WorkflowInput", 200, "Workflow"),
    ("delete", "/workflows/{name}", "Delete a workflow with its runs and triggers", "workflows", [WORKFLOW], None, 204, None),
    ("post", "/workflows/{name}/runs", "Start a run: its start triggers fire", "workflows", [WORKFLOW], "RunProperties", 202, "WorkflowRun"),
    ("get", "/workflows/{name}/runs", "A workflow's runs, newest first (without node states)", "workflows",
     [WORKFLOW, *_PAGING[1:]], None, 200, (_PAGE, "WorkflowRun")),
    ("get", "/workflows/{name}/runs/{run_id}", "A workflow run with the state of each node", "workflows",
     [WORKFLOW, RUN], None, 200, "WorkflowRun"),
    ("post", "/workflows/{name}/runs/{run_id}/resume", "Start again the jobs and crawlers that did not succeed in this run", "workflows",
     [WORKFLOW, RUN], None, 202, "Resumed"),
    ("get", "/workflows/{name}/runs/{run_id}/properties", "A workflow run's properties", "workflows",
     [WORKFLOW, RUN], None, 200, "RunProperties"),
    ("put", "/workflows/{name}/runs/{run_id}/properties", "Merge properties into a workflow run's", "workflows",
     [WORKFLOW, RUN], "RunProperties", 200, "RunProperties"),
    ("get", "/connections", "List connections (secrets masked; `type` filters)", "connections",
     [*_PAGING, _p("type", "query", {"enum": list(CONNECTION_TYPES)})], None, 200, (_PAGE, "Connection")),
    ("post", "/connections", "Define a connection", "connections", [], "ConnectionCreate", 201, "Connection"),
    ("get", "/connections/{name}", "A connection (secrets masked)", "connections", [CONNECTION], None, 200, "Connection"),
    ("put", "/connections/{name}", "Replace a connection (******** keeps a stored secret)", "connections",
     [CONNECTION], "ConnectionInput", 200, "Connection"),
    ("delete", "/connections/{name}", "Delete a connection", "connections", [CONNECTION], None, 204, None),
]  # fmt: skip

_OPTIONAL_BODIES = {"RunRequest", "RunProperties"}  # a start may send no body at all


def paths(errors: dict) -> dict:
    """The `paths` of ROUTES; `errors` is the shared default (error) response."""
    out: dict = {}
    for method, path, summary, tag, params, body, status, response in ROUTES:
        if response is None:
            responses = {str(status): {"description": summary}}
        else:
            schema = _page_of(response[1]) if isinstance(response, tuple) else _ref(response)
            responses = {
                str(status): {"description": summary, "content": {"application/json": {"schema": schema}}}
            }
        op = {"summary": summary, "tags": [tag], "responses": {**responses, **errors}}
        if params:
            op["parameters"] = params
        if body:
            op["requestBody"] = {"required": body not in _OPTIONAL_BODIES or method == "put",
                                 "content": {"application/json": {"schema": _ref(body)}}}  # fmt: skip
        out.setdefault(path, {})[method] = op
    return out
