"""Jobs, job runs, triggers, workflows and connections to JSON and back (documented in openapi_etl.py).

As in serialize.py, input is checked for shape here and for values by the catalog. Connections come out as
the catalog answers them: secret properties masked; an update that sends the mask back keeps the secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from metastore.catalog.connections import Connection
from metastore.catalog.errors import InvalidInput
from metastore.catalog.jobs import Job, JobRun
from metastore.catalog.triggers import Action, Condition, Trigger
from metastore.catalog.workflows import Workflow, WorkflowRun
from metastore.web.serialize import _fields, _int, _str, _str_list, _str_map

# --- out ---------------------------------------------------------------------------------------------


def job(j: Job, last_run: JobRun | None = None, *, with_script: bool = True, with_last: bool = False) -> dict:
    out = {"name": j.name, "type": j.job_type, "script_version": j.script_version,
           "script_location": j.script_location, "default_arguments": j.default_arguments,
           "non_overridable_arguments": j.non_overridable_arguments, "spark_conf": j.spark_conf,
           "master": j.master, "timeout_s": j.timeout_s, "max_retries": j.max_retries,
           "max_concurrent_runs": j.max_concurrent_runs, "queue_runs": j.queue_runs, "bookmark": j.bookmark,
           "description": j.description, "connections": j.connections, "created_at": j.created_at,
           "updated_at": j.updated_at}  # fmt: skip
    if with_script:
        out["script"] = j.script
    if with_last:
        out["last_run"] = None if last_run is None else job_run(last_run)
    return out


def job_run(r: JobRun) -> dict:
    return {"id": r.id, "job": r.job, "state": r.state, "attempt": r.attempt, "previous_run_id": r.previous_run_id,
            "script_version": r.script_version, "arguments": r.arguments, "trigger": r.trigger, "worker": r.worker,
            "error": r.error, "created_at": r.created_at, "started_at": r.started_at, "ended_at": r.ended_at,
            "duration_ms": r.duration_ms, "workflow_run_id": r.workflow_run_id,
            # the timeline (issue 15): queued until a worker took it, starting until the script ran, running
            "running_at": r.running_at, "warm": r.warm, "queued_ms": r.queued_ms, "startup_ms": r.startup_ms,
            "execution_ms": r.execution_ms}  # fmt: skip


def _target(x) -> dict:
    return {"job": x.job} if x.job is not None else {"crawler": x.crawler}


def trigger(t: Trigger, next_fires: list[str] | None = None) -> dict:
    out = {"name": t.name, "type": t.trigger_type, "state": t.state, "schedule": t.schedule,
           "logical": t.logical, "conditions": [{**_target(c), "state": c.state} for c in t.conditions],
           "actions": [{**_target(a), **({"arguments": a.arguments} if a.job is not None else {})} for a in t.actions],
           "description": t.description, "workflow": t.workflow, "created_at": t.created_at,
           "updated_at": t.updated_at, "activated_at": t.activated_at}  # fmt: skip
    if next_fires is not None:
        out["next_fires"] = next_fires
    return out


def workflow(w: Workflow, last_run: WorkflowRun | None = None, triggers: list[str] | None = None) -> dict:
    out = {"name": w.name, "description": w.description, "default_run_properties": w.default_run_properties,
           "created_at": w.created_at, "updated_at": w.updated_at,
           "last_run": None if last_run is None else workflow_run(last_run)}  # fmt: skip
    if triggers is not None:
        out["triggers"] = triggers
    return out


def workflow_run(r: WorkflowRun) -> dict:
    nodes = [
        {"type": key.partition(" ")[0], "name": key.partition(" ")[2], "state": s}
        for key, s in r.nodes.items()
    ]
    return {"id": r.id, "workflow": r.workflow, "state": r.state, "run_properties": r.run_properties,
            "started_at": r.started_at, "ended_at": r.ended_at,
            "duration_ms": None if r.ended_at is None else r.ended_at - r.started_at, "nodes": nodes}  # fmt: skip


def connection(c: Connection) -> dict:
    return {"name": c.name, "type": c.connection_type, "properties": c.properties, "description": c.description,
            "created_at": c.created_at, "updated_at": c.updated_at}  # fmt: skip


# --- in ----------------------------------------------------------------------------------------------


def _bool(what: str, value, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false")
    return value


def _args(what: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object of --KEY: value")
    return dict(value)  # the catalog checks names and values


JOB_FIELDS = {"name", "type", "script", "script_location", "default_arguments", "non_overridable_arguments",
              "spark_conf", "master", "timeout_s", "max_retries", "max_concurrent_runs", "queue_runs", "bookmark",
              "description", "connections"}  # fmt: skip


def job_in(body, name: str | None = None) -> Job:
    """A job from JSON: a full definition (PUT replaces every field; missing ones take their defaults)."""
    j = _fields("job", body, JOB_FIELDS, ("script",) if name else ("name", "script"))
    d = Job("x")
    return Job(
        name=name or _str("job name", j["name"], False),
        script=_str("script", j["script"], False),
        job_type=_str("type", j.get("type")) or d.job_type,
        script_location=_str("script_location", j.get("script_location")),
        default_arguments=_args("default_arguments", j.get("default_arguments")),
        non_overridable_arguments=_args("non_overridable_arguments", j.get("non_overridable_arguments")),
        spark_conf=_str_map("spark_conf", j.get("spark_conf")),
        master=_str("master", j.get("master")) or None,
        timeout_s=_int("timeout_s", j.get("timeout_s")),
        max_retries=_int("max_retries", j.get("max_retries")) or 0,
        max_concurrent_runs=_int("max_concurrent_runs", j.get("max_concurrent_runs"))
        or d.max_concurrent_runs,
        queue_runs=_bool("queue_runs", j.get("queue_runs"), False),
        bookmark=_str("bookmark", j.get("bookmark")) or d.bookmark,
        description=_str("description", j.get("description")),
        connections=_str_list("connections", j.get("connections")),
    )


def run_arguments(body) -> dict:
    """The `arguments` of a request to start a run (an empty or missing body: none)."""
    b = _fields("run", body if body is not None else {}, {"arguments"})
    return _args("arguments", b.get("arguments"))


def _one_of(what: str, item) -> tuple[str | None, str | None]:
    job, crawler = item.get("job"), item.get("crawler")
    return _str(f"{what} job", job), _str(f"{what} crawler", crawler)


TRIGGER_FIELDS = {"name", "type", "schedule", "conditions", "logical", "actions", "description", "workflow"}


def trigger_in(body, name: str | None = None, create: bool = False) -> tuple[Trigger, bool]:
    """A trigger from JSON, and whether to activate it as it is created (`activate`, on creation only)."""
    allowed = TRIGGER_FIELDS | ({"activate"} if create else set())
    t = _fields("trigger", body, allowed, ("type", "actions") if name else ("name", "type", "actions"))
    actions, conditions = t["actions"], t.get("conditions") or []
    if not isinstance(actions, list) or not isinstance(conditions, list):
        raise InvalidInput("trigger actions and conditions must be lists")
    acts = []
    for a in actions:
        a = _fields("trigger action", a, {"job", "crawler", "arguments"})
        job, crawler = _one_of("action", a)
        acts.append(Action(job=job, crawler=crawler, arguments=_args("action arguments", a.get("arguments"))))
    conds = []
    for c in conditions:
        c = _fields("trigger condition", c, {"job", "crawler", "state"}, ("state",))
        job, crawler = _one_of("condition", c)
        conds.append(Condition(_str("condition state", c["state"], False), job, crawler))
    return Trigger(
        name=name or _str("trigger name", t["name"], False),
        trigger_type=_str("type", t["type"], False),
        actions=acts,
        schedule=_str("schedule", t.get("schedule")) or None,
        conditions=conds,
        logical=_str("logical", t.get("logical")) or "AND",
        description=_str("description", t.get("description")),
        workflow=_str("workflow", t.get("workflow")) or None,
    ), _bool("activate", t.get("activate"), False)


def workflow_in(body, name: str | None = None) -> Workflow:
    w = _fields(
        "workflow", body, {"name", "description", "default_run_properties"}, () if name else ("name",)
    )
    props = w.get("default_run_properties")
    if props is not None and not isinstance(props, Mapping):
        raise InvalidInput("default_run_properties must be an object")
    return Workflow(name=name or _str("workflow name", w["name"], False),
                    description=_str("description", w.get("description")), default_run_properties=dict(props or {}))  # fmt: skip


def properties_in(body, field: str = "run_properties") -> dict:
    b = _fields("run", body if body is not None else {}, {field})
    props = b.get(field)
    if props is not None and not isinstance(props, Mapping):
        raise InvalidInput(f"{field} must be an object")
    return dict(props or {})


def connection_in(body, name: str | None = None) -> Connection:
    c = _fields(
        "connection",
        body,
        {"name", "type", "properties", "description"},
        ("type",) if name else ("name", "type"),
    )
    props = c.get("properties")
    if props is not None and not isinstance(props, Mapping):
        raise InvalidInput("connection properties must be an object")
    return Connection(name=name or _str("connection name", c["name"], False),
                      connection_type=_str("type", c["type"], False), properties=dict(props or {}),
                      description=_str("description", c.get("description")))  # fmt: skip
