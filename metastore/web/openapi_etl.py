"""The OpenAPI description of the jobs, triggers, workflows and connections API (api_jobs.py, api_flows.py):
its SCHEMAS and its table of ROUTES, which openapi.py adds to the served SPEC.
"""

from __future__ import annotations

from metastore.catalog.connections import CONNECTION_TYPES
from metastore.catalog.jobs import BOOKMARK_OPTIONS, JOB_TYPES, RUN_STATES
from metastore.catalog.mapping import FORMATS, MODES, STYLES
from metastore.catalog.triggers import LOGICALS, TRIGGER_TYPES
from metastore.web.openapi_build import (
    BOOL,
    INT,
    NAME,
    PAGING,
    STR,
    STR_MAP,
    array,
    nullable,
    obj,
    page_of,
    param,
    ref,
    requiring,
)

_ID = {"type": "integer", "minimum": 0, "maximum": 2**53}
_ARGS = {"type": "object", "additionalProperties": STR, "description": "--KEY: value"}

_JOB_INPUT = {
    "name": NAME,
    "type": {"enum": list(JOB_TYPES)},
    "script": {"type": "string", "description": "Python source (PySpark for spark jobs)"},
    "script_location": nullable(STR),
    "default_arguments": _ARGS,
    "non_overridable_arguments": _ARGS,
    "spark_conf": STR_MAP,
    "master": nullable(STR),
    "timeout_s": nullable({"type": "integer", "minimum": 1}),
    "max_retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "max_concurrent_runs": {"type": "integer", "minimum": 1, "maximum": 1000},
    "queue_runs": BOOL,
    "bookmark": {"enum": list(BOOKMARK_OPTIONS)},
    "description": nullable(STR),
    "connections": array(NAME),
}
_TARGET = {"job": NAME, "crawler": NAME}
_TRIGGER_INPUT = {
    "name": NAME,
    "type": {"enum": list(TRIGGER_TYPES)},
    "schedule": nullable({"type": "string", "description": "SCHEDULED: cron, 5 fields, UTC"}),
    "logical": {"enum": list(LOGICALS)},
    "conditions": array(ref("TriggerCondition")),
    "actions": array(ref("TriggerAction")),
    "description": nullable(STR),
    "workflow": nullable(NAME),
}
_RUN_STATE = {"enum": list(RUN_STATES)}

SCHEMAS = {
    "Job": obj(
        ["name", "type", "script_version"],
        {
            **{k: v for k, v in _JOB_INPUT.items() if k != "name"},
            "name": STR,
            "script_version": INT,
            "created_at": INT,
            "updated_at": INT,
            "last_run": nullable(ref("JobRun"), description="in lists (which omit the script)"),
        },
    ),
    "JobInput": obj(["script"], _JOB_INPUT, closed=True),
    "Mapping": obj(
        ["source", "target"],
        {
            "source": {"type": "string", "description": "db.table in the catalog", "example": "raw.orders"},
            "target": {
                "type": "string",
                "description": "db.table, created by the first run",
                "example": "mart.orders",
            },
            "columns": array(
                obj(["source"], {"source": STR, "target": nullable(STR), "type": nullable(STR)}, closed=True),
                description="empty: every column as it is",
            ),
            "partition_by": array(STR),
            "format": {"enum": list(FORMATS)},
            "mode": {"enum": list(MODES)},
            "where": nullable(STR),
            "style": {"enum": list(STYLES), "description": "pyspark (default) or glue: an AWS Glue script"},
        },
        closed=True,
    ),
    "GeneratedScript": obj(["script"], {"script": STR}),
    "JobRun": obj(
        ["id", "job", "state"],
        {
            "id": INT,
            "job": STR,
            "state": _RUN_STATE,
            "attempt": INT,
            "previous_run_id": nullable(INT),
            "script_version": INT,
            "arguments": STR_MAP,
            "trigger": nullable(STR),
            "worker": nullable(STR),
            "error": nullable(STR),
            "created_at": INT,
            "started_at": nullable(INT),
            "ended_at": nullable(INT),
            "duration_ms": nullable(INT),
            "workflow_run_id": nullable(INT),
            "running_at": nullable(INT),
            "warm": nullable({"type": "boolean"}),
            "queued_ms": nullable(INT),
            "startup_ms": nullable(INT),
            "execution_ms": nullable(INT),
        },
    ),
    "RunRequest": obj([], {"arguments": _ARGS}, closed=True),
    "ScriptVersions": obj(
        ["items"],
        {
            "items": array(obj(["version"], {"version": INT, "created_at": INT})),
            "total": INT,
        },
    ),
    "Script": obj(["job", "version", "script"], {"job": STR, "version": INT, "script": STR}),
    "RunLog": obj(
        ["text", "next_offset", "finished"],
        {
            "text": STR,
            "next_offset": {"type": "integer", "description": "the offset to ask for next"},
            "finished": {
                "type": "boolean",
                "description": "the run has ended and the whole log was answered",
            },
        },
    ),
    "TriggerCondition": obj(["state"], {**_TARGET, "state": STR}, closed=True),
    "TriggerAction": obj([], {**_TARGET, "arguments": _ARGS}, closed=True),
    "Trigger": obj(
        ["name", "type", "state", "actions"],
        {
            **{k: v for k, v in _TRIGGER_INPUT.items() if k not in ("name", "workflow")},
            "name": STR,
            "workflow": nullable(STR),
            "state": {"enum": ["CREATED", "ACTIVATED", "DEACTIVATED"]},
            "created_at": INT,
            "updated_at": INT,
            "activated_at": nullable(INT),
            "next_fires": array(STR, description="scheduled triggers: the next fire times (UTC)"),
        },
    ),
    "TriggerInput": obj(["type", "actions"], _TRIGGER_INPUT, closed=True),
    "TriggerCreate": obj(["name", "type", "actions"], {**_TRIGGER_INPUT, "activate": BOOL}, closed=True),
    "TriggerStarted": obj(["trigger", "started"], {"trigger": STR, "started": array({"type": "object"})}),
    "Workflow": obj(
        ["name"],
        {
            "name": STR,
            "description": nullable(STR),
            "default_run_properties": {"type": "object"},
            "created_at": INT,
            "updated_at": INT,
            "last_run": nullable(ref("WorkflowRun")),
            "triggers": array(STR, description="the triggers of its graph (single workflow)"),
        },
    ),
    "WorkflowInput": obj(
        [],
        {"name": NAME, "description": nullable(STR), "default_run_properties": {"type": "object"}},
        closed=True,
    ),
    "WorkflowRun": obj(
        ["id", "workflow", "state"],
        {
            "id": INT,
            "workflow": STR,
            "state": {"enum": ["RUNNING", "COMPLETED", "STOPPED"]},
            "run_properties": {"type": "object"},
            "started_at": INT,
            "ended_at": nullable(INT),
            "duration_ms": nullable(INT),
            "nodes": array(
                obj(
                    ["type", "name"],
                    {"type": {"enum": ["job", "crawler"]}, "name": STR, "state": nullable(STR)},
                )
            ),
        },
    ),
    "RunProperties": obj([], {"run_properties": {"type": "object"}}, closed=True),
    "Resumed": obj(
        ["started", "run"],
        {
            "started": array(STR, description="job NAME, crawler NAME"),
            "run": ref("WorkflowRun"),
        },
    ),
    "Connection": obj(
        ["name", "type", "properties"],
        {
            "name": STR,
            "type": {"enum": list(CONNECTION_TYPES)},
            "properties": {**STR_MAP, "description": "secret ones (PASSWORD, ...) are shown as ********"},
            "description": nullable(STR),
            "created_at": INT,
            "updated_at": INT,
        },
    ),
    "ConnectionInput": obj(
        ["type"],
        {
            "name": NAME,
            "type": {"enum": list(CONNECTION_TYPES)},
            "properties": {
                **STR_MAP,
                "description": "JDBC_CONNECTION_URL, USERNAME, PASSWORD, ...; ******** keeps the stored secret",
            },
            "description": nullable(STR),
        },
        closed=True,
    ),
}
SCHEMAS["JobCreate"] = requiring(SCHEMAS["JobInput"], "name")
SCHEMAS["WorkflowCreate"] = requiring(SCHEMAS["WorkflowInput"], "name")
SCHEMAS["ConnectionCreate"] = requiring(SCHEMAS["ConnectionInput"], "name")

_STATE = param("state", "query", _RUN_STATE, "Only runs in this state")
JOB = param("name", description="Job name", example="daily_orders")
TRIGGER = param("name", description="Trigger name", example="nightly")
WORKFLOW = param("name", description="Workflow name", example="orders_flow")
CONNECTION = param("name", description="Connection name", example="warehouse_db")
RUN = param("run_id", schema=_ID, description="Run id", example=1)

# rows as openapi_build.paths reads them: (method, path, summary, tag, parameters, body, status, response)
ROUTES = [
    ("get", "/jobs", "List jobs with their newest run (`type`, `state` of the newest run filter)", "jobs",
     [*PAGING, param("type", "query", {"enum": list(JOB_TYPES)}), {**_STATE, "description": "Newest run's state"}], None, 200, page_of("Job")),
    ("post", "/jobs", "Define a job (its script is version 1)", "jobs", [], "JobCreate", 201, "Job"),
    ("get", "/jobs/{name}", "A job with its current script", "jobs", [JOB], None, 200, "Job"),
    ("put", "/jobs/{name}", "Replace a job's definition (a changed script becomes a new version)", "jobs", [JOB], "JobInput", 200, "Job"),
    ("delete", "/jobs/{name}", "Delete a job with its runs (Conflict while one is under way)", "jobs", [JOB], None, 204, None),
    ("post", "/job-scripts/generate", "The PySpark or AWS Glue script of a source → target column mapping (ApplyMapping)", "jobs",
     [], "Mapping", 200, "GeneratedScript"),
    ("get", "/jobs/{name}/scripts", "The script versions of a job, oldest first", "jobs", [JOB], None, 200, "ScriptVersions"),
    ("get", "/jobs/{name}/scripts/{version}", "One script version's text", "jobs",
     [JOB, param("version", schema={"type": "integer", "minimum": 0, "maximum": 2**31}, description="Script version")], None, 200, "Script"),
    ("post", "/jobs/{name}/runs", "Start a run (task runner.job_run); `arguments` override the defaults", "jobs",
     [JOB], "RunRequest?", 202, "JobRun"),
    ("get", "/jobs/{name}/runs", "A job's runs, newest first", "jobs", [JOB, _STATE, *PAGING[1:]], None, 200, page_of("JobRun")),
    ("get", "/job-runs", "Runs of every job, newest first", "jobs", [_STATE, *PAGING[1:]], None, 200, page_of("JobRun")),
    ("get", "/jobs/{name}/runs/{run_id}", "A run of a job", "jobs", [JOB, RUN], None, 200, "JobRun"),
    ("post", "/jobs/{name}/runs/{run_id}/stop", "Stop a run (STOPPED, or STOPPING until its worker stops it)", "jobs",
     [JOB, RUN], None, 200, "JobRun"),
    ("get", "/jobs/{name}/runs/{run_id}/log", "A run's log from `offset`; follow it with `next_offset`", "jobs",
     [JOB, RUN, param("offset", "query", {"type": "integer", "minimum": 0, "maximum": 10**12}, "Characters to skip")], None, 200, "RunLog"),
    ("get", "/triggers", "List triggers (`type`, `state`, `workflow` filter)", "triggers",
     [*PAGING, param("type", "query", {"enum": list(TRIGGER_TYPES)}), param("state", "query", {"enum": ["CREATED", "ACTIVATED", "DEACTIVATED"]}),
      param("workflow", "query", STR, "Only the triggers of this workflow")], None, 200, page_of("Trigger")),
    ("post", "/triggers", "Define a trigger (`activate`: at once)", "triggers", [], "TriggerCreate", 201, "Trigger"),
    ("get", "/triggers/{name}", "A trigger, with its next fire times if scheduled", "triggers", [TRIGGER], None, 200, "Trigger"),
    ("put", "/triggers/{name}", "Replace a trigger's definition", "triggers", [TRIGGER], "TriggerInput", 200, "Trigger"),
    ("delete", "/triggers/{name}", "Delete a trigger", "triggers", [TRIGGER], None, 204, None),
    ("post", "/triggers/{name}/activate", "Activate a trigger (schedules fire, conditions are watched)", "triggers", [TRIGGER], None, 200, "Trigger"),
    ("post", "/triggers/{name}/deactivate", "Deactivate a trigger", "triggers", [TRIGGER], None, 200, "Trigger"),
    ("post", "/triggers/{name}/start", "Fire a trigger now (a workflow's start trigger starts a workflow run)", "triggers",
     [TRIGGER], None, 202, "TriggerStarted"),
    ("get", "/workflows", "List workflows with their newest run", "workflows", PAGING, None, 200, page_of("Workflow")),
    ("post", "/workflows", "Define a workflow (its graph: the triggers that name it)", "workflows", [], "WorkflowCreate", 201, "Workflow"),
    ("get", "/workflows/{name}", "A workflow with its triggers and newest run", "workflows", [WORKFLOW], None, 200, "Workflow"),
    ("put", "/workflows/{name}", "Change a workflow's description and default run properties", "workflows",
     [WORKFLOW], "WorkflowInput", 200, "Workflow"),
    ("delete", "/workflows/{name}", "Delete a workflow with its runs and triggers", "workflows", [WORKFLOW], None, 204, None),
    ("post", "/workflows/{name}/runs", "Start a run: its start triggers fire", "workflows", [WORKFLOW], "RunProperties?", 202, "WorkflowRun"),
    ("get", "/workflows/{name}/runs", "A workflow's runs, newest first (without node states)", "workflows",
     [WORKFLOW, *PAGING[1:]], None, 200, page_of("WorkflowRun")),
    ("get", "/workflows/{name}/runs/{run_id}", "A workflow run with the state of each node", "workflows",
     [WORKFLOW, RUN], None, 200, "WorkflowRun"),
    ("post", "/workflows/{name}/runs/{run_id}/resume", "Start again the jobs and crawlers that did not succeed in this run", "workflows",
     [WORKFLOW, RUN], None, 202, "Resumed"),
    ("get", "/workflows/{name}/runs/{run_id}/properties", "A workflow run's properties", "workflows",
     [WORKFLOW, RUN], None, 200, "RunProperties"),
    ("put", "/workflows/{name}/runs/{run_id}/properties", "Merge properties into a workflow run's", "workflows",
     [WORKFLOW, RUN], "RunProperties", 200, "RunProperties"),
    ("get", "/connections", "List connections (secrets masked; `type` filters)", "connections",
     [*PAGING, param("type", "query", {"enum": list(CONNECTION_TYPES)})], None, 200, page_of("Connection")),
    ("post", "/connections", "Define a connection", "connections", [], "ConnectionCreate", 201, "Connection"),
    ("get", "/connections/{name}", "A connection (secrets masked)", "connections", [CONNECTION], None, 200, "Connection"),
    ("put", "/connections/{name}", "Replace a connection (******** keeps a stored secret)", "connections",
     [CONNECTION], "ConnectionInput", 200, "Connection"),
    ("delete", "/connections/{name}", "Delete a connection", "connections", [CONNECTION], None, 204, None),
]  # fmt: skip
