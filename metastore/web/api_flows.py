"""The JSON API of triggers (activate, deactivate, start, next fire times), workflows (runs with node states,
resume, run properties) and connections (secrets masked, always). Routes are added to api.bp; they are
described in openapi_etl.py.

None of these are database objects: every user reads them, editors and admins change and start them. A
trigger that names crawlers is the exception: its crawlers' databases must be visible to whoever defines
or starts it, as for the crawlers themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import jsonify, request

from metastore.catalog.connections import CONNECTION_TYPES
from metastore.catalog.crawlers import next_fire_times
from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.triggers import SCHEDULED, TRIGGER_TYPES, Trigger
from metastore.catalog.workflows import WorkflowRun
from metastore.web import serialize_etl as ser
from metastore.web import work
from metastore.web.api import _body, _page, _paging, _service, bp
from metastore.web.api_jobs import choice, optional_body
from metastore.web.security import require_db, require_edit

TRIGGER_STATES = ("CREATED", "ACTIVATED", "DEACTIVATED")


def fire_times(t: Trigger, n: int = 5) -> list[datetime]:
    """The next fire times of a scheduled trigger (none for other types)."""
    if t.trigger_type != SCHEDULED or not t.schedule:
        return []
    try:
        return next_fire_times(t.schedule, n, datetime.now(UTC))
    except InvalidInput:
        return []


def check_crawlers(svc, t: Trigger) -> None:
    """Forbidden when `t` names a crawler whose database the user may not see."""
    for name in sorted({x.crawler for x in [*t.actions, *t.conditions] if x.crawler}):
        try:
            require_db(svc.crawlers.get(name).database)
        except NotFound:
            pass  # the catalog names it when it refuses the trigger


# --- triggers ----------------------------------------------------------------------------------------


@bp.get("/triggers")
def list_triggers():
    """Triggers; `type`, `state` and `workflow` filter."""
    q, limit, offset = _paging()
    rows, total = _service().browse.triggers(q, choice("type", TRIGGER_TYPES), choice("state", TRIGGER_STATES),
                                             request.args.get("workflow") or None, limit, offset)  # fmt: skip
    return _page([ser.trigger(t) for t in rows], total, limit, offset)


def _trigger_out(t: Trigger) -> dict:
    return ser.trigger(t, [f.strftime("%Y-%m-%dT%H:%M:%SZ") for f in fire_times(t)])


@bp.post("/triggers")
def create_trigger():
    require_edit()
    svc = _service()
    t, activate = ser.trigger_in(_body(), create=True)
    check_crawlers(svc, t)
    return jsonify(_trigger_out(svc.triggers.create(t, activate=activate))), 201


@bp.get("/triggers/<name>")
def get_trigger(name: str):
    return jsonify(_trigger_out(_service().triggers.get(name)))


@bp.put("/triggers/<name>")
def update_trigger(name: str):
    require_edit()
    svc = _service()
    check_crawlers(svc, svc.triggers.get(name))
    t, _ = ser.trigger_in(_body(), name=name)
    check_crawlers(svc, t)
    return jsonify(_trigger_out(svc.triggers.update(name, t)))


@bp.delete("/triggers/<name>")
def delete_trigger(name: str):
    require_edit()
    svc = _service()
    check_crawlers(svc, svc.triggers.get(name))
    svc.triggers.delete(name)
    return "", 204


@bp.post("/triggers/<name>/activate")
def activate_trigger(name: str):
    require_edit()
    return jsonify(_trigger_out(_service().triggers.activate(name)))


@bp.post("/triggers/<name>/deactivate")
def deactivate_trigger(name: str):
    require_edit()
    return jsonify(_trigger_out(_service().triggers.deactivate(name)))


@bp.post("/triggers/<name>/start")
def start_trigger(name: str):
    """Fire a trigger now (an ON_DEMAND one, or any other by hand): what each action started."""
    require_edit()
    svc = _service()
    t = svc.triggers.get(name)
    check_crawlers(svc, t)
    return jsonify({"trigger": t.name, "started": work.start_trigger(svc, t.name)}), 202


# --- workflows ---------------------------------------------------------------------------------------


def workflow_run_of(svc, name: str, run_id: int) -> WorkflowRun:
    r = svc.workflows.get_run(run_id)
    if r.workflow != name.lower():
        raise NotFound(f"workflow {name} has no run {run_id}")
    return r


@bp.get("/workflows")
def list_workflows():
    q, limit, offset = _paging()
    rows, total = _service().browse.workflows(q, limit, offset)
    return _page([ser.workflow(w, r) for w, r in rows], total, limit, offset)


def _workflow_out(svc, name: str) -> dict:
    w = svc.workflows.get(name)
    runs, _ = svc.browse.workflow_runs(w.name, 1, 0)
    triggers = [t.name for t in svc.triggers.list(workflow=w.name)]
    return ser.workflow(w, runs[0] if runs else None, triggers)


@bp.post("/workflows")
def create_workflow():
    require_edit()
    svc = _service()
    w = svc.workflows.create(ser.workflow_in(_body()))
    return jsonify(_workflow_out(svc, w.name)), 201


@bp.get("/workflows/<name>")
def get_workflow(name: str):
    """A workflow with the names of its triggers (its graph) and its newest run."""
    return jsonify(_workflow_out(_service(), name))


@bp.put("/workflows/<name>")
def update_workflow(name: str):
    require_edit()
    svc = _service()
    svc.workflows.update(name, ser.workflow_in(_body(), name=name))
    return jsonify(_workflow_out(svc, name))


@bp.delete("/workflows/<name>")
def delete_workflow(name: str):
    """Delete a workflow with its runs and triggers (its jobs and crawlers stay)."""
    require_edit()
    _service().workflows.delete(name)
    return "", 204


@bp.post("/workflows/<name>/runs")
def start_workflow_run(name: str):
    """Start a run (its start triggers fire) with `run_properties` over the workflow's defaults."""
    require_edit()
    svc = _service()
    run = work.start_workflow(svc, name, ser.properties_in(optional_body()))
    return jsonify(ser.workflow_run(run)), 202


@bp.get("/workflows/<name>/runs")
def list_workflow_runs(name: str):
    _, limit, offset = _paging()
    runs, total = _service().browse.workflow_runs(name, limit, offset)
    return _page([ser.workflow_run(r) for r in runs], total, limit, offset)


@bp.get("/workflows/<name>/runs/<int:run_id>")
def get_workflow_run(name: str, run_id: int):
    """A workflow run with the state of each job and crawler of the graph in it."""
    svc = _service()
    return jsonify(ser.workflow_run(workflow_run_of(svc, name, run_id)))


@bp.post("/workflows/<name>/runs/<int:run_id>/resume")
def resume_workflow_run(name: str, run_id: int):
    """Start again the jobs and crawlers whose last run in this workflow run did not succeed."""
    require_edit()
    svc = _service()
    workflow_run_of(svc, name, run_id)
    started = work.resume_workflow(svc, run_id)
    return jsonify({"started": started, "run": ser.workflow_run(svc.workflows.get_run(run_id))}), 202


@bp.get("/workflows/<name>/runs/<int:run_id>/properties")
def get_run_properties(name: str, run_id: int):
    svc = _service()
    workflow_run_of(svc, name, run_id)
    return jsonify({"run_properties": svc.workflows.run_properties(run_id)})


@bp.put("/workflows/<name>/runs/<int:run_id>/properties")
def put_run_properties(name: str, run_id: int):
    """Merge `run_properties` into the run's; answers them all."""
    require_edit()
    svc = _service()
    workflow_run_of(svc, name, run_id)
    merged = svc.workflows.put_run_properties(run_id, ser.properties_in(_body()))
    return jsonify({"run_properties": merged})


# --- connections ---------------------------------------------------------------------------------------
# `service.connections` masks secrets unless asked with secrets=True: nothing here ever asks.


@bp.get("/connections")
def list_connections():
    q, limit, offset = _paging()
    rows, total = _service().browse.connections(q, choice("type", CONNECTION_TYPES), limit, offset)
    return _page([ser.connection(c) for c in rows], total, limit, offset)


@bp.post("/connections")
def create_connection():
    require_edit()
    return jsonify(ser.connection(_service().connections.create(ser.connection_in(_body())))), 201


@bp.get("/connections/<name>")
def get_connection(name: str):
    return jsonify(ser.connection(_service().connections.get(name)))


@bp.put("/connections/<name>")
def update_connection(name: str):
    """Replace a connection's definition; secret properties sent back masked keep their stored value."""
    require_edit()
    return jsonify(ser.connection(_service().connections.update(name, ser.connection_in(_body(), name=name))))


@bp.delete("/connections/<name>")
def delete_connection(name: str):
    require_edit()
    _service().connections.delete(name)
    return "", 204
