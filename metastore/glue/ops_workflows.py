"""Glue's workflow operations over Mortar's workflows: a workflow's graph is its triggers (ops_triggers) and
the jobs and crawlers they start; runs carry run properties and fire the workflow's triggers through
`metastore.catalog.dispatch` (work sent to the workers by task name). Node ids are `job:NAME`,
`crawler:NAME`, `trigger:NAME`; run ids `wr_<id>`. A resumed workflow run keeps its id.

Workflows are not database objects: everyone reads them, editors change and start them.
"""

from __future__ import annotations

from metastore.catalog import dispatch
from metastore.catalog.errors import Conflict, NotFound
from metastore.catalog.jobs import LIVE_STATES
from metastore.catalog.workflows import Workflow, WorkflowRun
from metastore.glue import control as c
from metastore.glue.errors import GlueError, invalid_input, not_found
from metastore.glue.ops_jobs import run_out
from metastore.glue.ops_triggers import trigger_out
from metastore.glue.registry import GlueRequest, operation

# --- workflows ---------------------------------------------------------------------------------------------

_RUNNING = {"STARTING": "RunningActions", "RUNNING": "RunningActions", "STOPPING": "RunningActions",
            "WAITING": "WaitingActions", "SUCCEEDED": "SucceededActions", "FAILED": "FailedActions",
            "TIMEOUT": "TimeoutActions", "STOPPED": "StoppedActions", "CANCELLED": "StoppedActions",
            "ERROR": "ErroredActions"}  # fmt: skip


def _node_id(node: str) -> str:
    """Mortar's "job NAME" → Glue's node UniqueId `job:NAME`."""
    kind, _, name = node.partition(" ")
    return f"{kind}:{name}"


def _graph(req: GlueRequest, workflow: str, run: WorkflowRun | None = None) -> dict:
    """Triggers → the jobs and crawlers they start; watched jobs and crawlers → conditional triggers. With
    `run`, job and crawler nodes carry their runs in it."""
    triggers = req.service.triggers.list(workflow=workflow)
    nodes: dict[str, dict] = {}
    edges = []
    for t in triggers:
        nodes[f"trigger:{t.name}"] = {"Type": "TRIGGER", "Name": t.name, "UniqueId": f"trigger:{t.name}",
                                      "TriggerDetails": {"Trigger": trigger_out(t)}}  # fmt: skip
        for a in t.actions:
            edges.append(
                {
                    "SourceId": f"trigger:{t.name}",
                    "DestinationId": f"{'job' if a.job else 'crawler'}:{a.job or a.crawler}",
                }
            )
        for x in t.conditions:
            edges.append(
                {
                    "SourceId": f"{'job' if x.job else 'crawler'}:{x.job or x.crawler}",
                    "DestinationId": f"trigger:{t.name}",
                }
            )
    for e in edges:
        for uid in (e["SourceId"], e["DestinationId"]):
            kind, _, name = uid.partition(":")
            if uid in nodes:
                continue
            node = {"Type": kind.upper(), "Name": name, "UniqueId": uid}
            if run is not None and kind == "job":
                try:
                    runs, _ = req.service.browse.job_runs(name, None, 50, 0, workflow_run_id=run.id)
                except NotFound:
                    runs = []
                node["JobDetails"] = {"JobRuns": [run_out(r) for r in runs]}
            elif run is not None and kind == "crawler":
                try:
                    crawls = [r for r in req.service.crawlers.runs(name, 200) if r.workflow_run_id == run.id]
                except NotFound:
                    crawls = []
                node["CrawlerDetails"] = {"Crawls": [c.compact({
                    "State": r.state, "StartedOn": c.seconds(r.started_at), "CompletedOn": c.seconds(r.ended_at),
                    "ErrorMessage": r.error}) for r in crawls]}  # fmt: skip
            nodes[uid] = node
    return {"Nodes": list(nodes.values()), "Edges": edges}


def workflow_run_out(req: GlueRequest, r: WorkflowRun, graph: bool = False) -> dict:
    stats = dict.fromkeys(sorted(set(_RUNNING.values())), 0)
    for state in r.nodes.values():
        if state in _RUNNING:
            stats[_RUNNING[state]] += 1
    stats["TotalActions"] = sum(1 for s in r.nodes.values() if s is not None)
    return c.compact({
        "Name": r.workflow, "WorkflowRunId": c.run_id("wr", r.id), "WorkflowRunProperties": r.run_properties,
        "StartedOn": c.seconds(r.started_at), "CompletedOn": c.seconds(r.ended_at), "Status": r.state,
        "Statistics": stats, "Graph": _graph(req, r.workflow, r) if graph else None,
    })  # fmt: skip


def workflow_out(req: GlueRequest, w: Workflow, graph: bool = False) -> dict:
    runs, _ = req.service.browse.workflow_runs(w.name, 1, 0)
    return c.compact({
        "Name": w.name, "Description": w.description, "DefaultRunProperties": w.default_run_properties,
        "CreatedOn": c.seconds(w.created_at), "LastModifiedOn": c.seconds(w.updated_at),
        "LastRun": workflow_run_out(req, req.service.workflows.get_run(runs[0].id)) if runs else None,
        "Graph": _graph(req, w.name) if graph else None,
    })  # fmt: skip


def _run_of(req: GlueRequest, body: dict) -> WorkflowRun:
    name = c.text(body, "Name", required=True)
    rid = c.parse_run_id("wr", body.get("RunId"))
    try:
        run = req.service.workflows.get_run(rid)
    except NotFound:
        run = None
    if run is None or run.workflow != name.lower():
        raise not_found(f"workflow {name} has no run {body.get('RunId')}")
    return run


@operation("CreateWorkflow")
def create_workflow(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    w = Workflow(c.text(body, "Name", required=True), c.text(body, "Description"),
                 c.string_map(body, "DefaultRunProperties") or {})  # fmt: skip
    created = req.service.workflows.create(w)
    c.set_tags(req, req.arn("workflow", created.name), body.get("Tags"))
    return {"Name": created.name}


@operation("GetWorkflow")
def get_workflow(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    w = req.service.workflows.get(c.text(body, "Name", required=True))
    return {"Workflow": workflow_out(req, w, bool(c.flag(body, "IncludeGraph")))}


@operation("ListWorkflows")
def list_workflows(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    chosen, more = c.page_by_key(body, req.service.workflows.list(), lambda w: w.name)
    return {"Workflows": [w.name for w in chosen], **more}


@operation("BatchGetWorkflows")
def batch_get_workflows(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    found, missing = [], []
    for name in c.strings(body, "Names", required=True)[:25]:
        try:
            found.append(
                workflow_out(req, req.service.workflows.get(name), bool(c.flag(body, "IncludeGraph")))
            )
        except NotFound:
            missing.append(name)
    return {"Workflows": found, "MissingWorkflows": missing}


@operation("UpdateWorkflow")
def update_workflow(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    w = req.service.workflows.get(c.text(body, "Name", required=True))
    if "Description" in body:
        w.description = c.text(body, "Description")
    props = c.string_map(body, "DefaultRunProperties")
    if props is not None:
        w.default_run_properties = props
    return {"Name": req.service.workflows.update(w.name, w).name}


@operation("DeleteWorkflow")
def delete_workflow(req: GlueRequest, body: dict) -> dict:
    """Delete a workflow with its runs and triggers (not its jobs); as Glue, a missing one is no error."""
    req.check("write")
    name = c.text(body, "Name", required=True)
    try:
        req.service.workflows.delete(name)
        c.drop_tags(req, req.arn("workflow", name.lower()))
    except NotFound:
        pass
    except Conflict as e:
        raise GlueError("ConcurrentModificationException", str(e)) from None
    return {"Name": name}


@operation("StartWorkflowRun")
def start_workflow_run(req: GlueRequest, body: dict) -> dict:
    """A new run with RunProperties over the workflow's defaults; its start triggers fire."""
    req.check("write")
    name = c.text(body, "Name", required=True)
    run = dispatch.start_workflow(req.service, name, c.sender(req), c.string_map(body, "RunProperties"))
    return {"RunId": c.run_id("wr", run.id)}


@operation("GetWorkflowRun")
def get_workflow_run(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    return {"Run": workflow_run_out(req, _run_of(req, body), bool(c.flag(body, "IncludeGraph")))}


@operation("GetWorkflowRuns")
def get_workflow_runs(req: GlueRequest, body: dict) -> dict:
    """The workflow's runs, newest first."""
    req.check("read")
    name = c.text(body, "Name", required=True)
    w = req.service.workflows.get(name)
    limit, offset = c.page_by_offset(body)
    runs, total = req.service.browse.workflow_runs(w.name, limit, offset)
    graph = bool(c.flag(body, "IncludeGraph"))
    return {
        "Runs": [
            workflow_run_out(req, req.service.workflows.get_run(r.id), graph) for r in runs
        ],  # with nodes
        **c.next_offset(offset, len(runs), total),
    }


@operation("GetWorkflowRunProperties")
def get_workflow_run_properties(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    return {"RunProperties": _run_of(req, body).run_properties}


@operation("PutWorkflowRunProperties")
def put_workflow_run_properties(req: GlueRequest, body: dict) -> dict:
    """Merge RunProperties into the run's."""
    req.check("write")
    run = _run_of(req, body)
    props = c.string_map(body, "RunProperties")
    if props is None:
        raise invalid_input("RunProperties is required")
    req.service.workflows.put_run_properties(run.id, props)
    return {}


@operation("ResumeWorkflowRun")
def resume_workflow_run(req: GlueRequest, body: dict) -> dict:
    """Start again, in the same run, the jobs and crawlers whose last run in it did not succeed (NodeIds
    must name such nodes; all of them are started again)."""
    req.check("write")
    run = _run_of(req, body)
    if run.state != "COMPLETED":
        raise GlueError(
            "IllegalWorkflowStateException",
            f"workflow run {c.run_id('wr', run.id)} is {run.state}: only a COMPLETED run resumes",
        )
    failed = {_node_id(n) for n in req.service.workflows.failed_nodes(run.id, crawlers=True)}
    wanted = set(c.strings(body, "NodeIds", required=True))
    if not failed:
        raise GlueError(
            "IllegalWorkflowStateException",
            f"workflow run {c.run_id('wr', run.id)} has no failed node to resume",
        )
    if not wanted <= failed:
        raise invalid_input(
            f"NodeIds {', '.join(sorted(wanted - failed))} did not fail in this run (failed: {', '.join(sorted(failed))})"
        )
    started = dispatch.resume_workflow(req.service, run.id, c.sender(req))
    return {"RunId": c.run_id("wr", run.id), "NodeIds": sorted(_node_id(n) for n in started)}


@operation("StopWorkflowRun")
def stop_workflow_run(req: GlueRequest, body: dict) -> dict:
    """STOPPED: no trigger of it fires any more, its live job runs are stopped and its crawls cancelled."""
    req.check("write")
    run = _run_of(req, body)
    try:
        run = req.service.workflows.stop_run(run.id)
    except Conflict as e:
        raise GlueError("IllegalWorkflowStateException", str(e)) from None
    send = c.sender(req)
    for node, state in run.nodes.items():
        kind, _, name = node.partition(" ")
        if kind == "job" and state in LIVE_STATES:
            runs, _ = req.service.browse.job_runs(name, None, 200, 0, workflow_run_id=run.id)
            for r in runs:
                if r.state in LIVE_STATES:
                    try:
                        dispatch.stop_job_run(req.service, r.id, send, claimed_by="glue")
                    except Conflict:
                        pass  # it ended meanwhile
        elif kind == "crawler" and state == "RUNNING":
            for r in req.service.crawlers.runs(name, 200):
                if r.workflow_run_id == run.id and r.state == "RUNNING":
                    try:
                        req.service.crawlers.finish_run(
                            r.id, "CANCELLED", r.metrics, f"workflow run stopped by {req.identity.name}"
                        )
                    except Conflict:
                        pass
    return {}


c.register_exists("workflow", lambda req, name: req.service.workflows.get(name))
