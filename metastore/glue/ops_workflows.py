"""Glue's trigger and workflow operations over Mortar's triggers and workflows. Triggers fire through
`metastore.catalog.dispatch` (jobs and crawls sent to the workers by task name); workflow runs carry run
properties; node ids of a workflow's graph are `job:NAME`, `crawler:NAME`, `trigger:NAME`; run ids `wr_<id>`.

Neither is a database object: everyone reads them, editors change and start them; a trigger naming a
crawler needs read access to the crawler's database, as in Mortar's JSON API. Glue's StartTrigger fires an
ON_DEMAND trigger and activates any other; StopTrigger deactivates. A resumed workflow run keeps its id.
"""

from __future__ import annotations

from metastore.catalog import dispatch
from metastore.catalog.errors import Conflict, NotFound
from metastore.catalog.jobs import LIVE_STATES
from metastore.catalog.triggers import EVENT, ON_DEMAND, PARTITIONS_ADDED, Action, Condition, Trigger
from metastore.catalog.workflows import Workflow, WorkflowRun
from metastore.glue import control as c
from metastore.glue.errors import GlueError, invalid_input, not_found
from metastore.glue.ops_jobs import run_out
from metastore.glue.registry import GlueRequest, operation

# --- triggers ----------------------------------------------------------------------------------------------


def trigger_out(t: Trigger) -> dict:
    actions = [{"JobName": a.job, **({"Arguments": a.arguments} if a.arguments else {})} if a.job
               else {"CrawlerName": a.crawler} for a in t.actions]  # fmt: skip
    predicate = None
    if t.conditions:
        predicate = {"Logical": t.logical, "Conditions": [
            {"LogicalOperator": "EQUALS", "JobName": x.job, "State": x.state} if x.job else
            {"LogicalOperator": "EQUALS", "CrawlerName": x.crawler, "CrawlState": x.state} for x in t.conditions]}  # fmt: skip
    return c.compact({"Name": t.name, "Id": t.name, "WorkflowName": t.workflow, "Type": t.trigger_type,
                      "State": t.state, "Description": t.description, "Schedule": c.to_aws_cron(t.schedule),
                      "Actions": actions, "Predicate": predicate})  # fmt: skip


def _actions(body: dict) -> list[Action]:
    items = body.get("Actions")
    if not isinstance(items, list) or not all(isinstance(a, dict) for a in items):
        raise invalid_input("Actions must be a list of {JobName, Arguments} or {CrawlerName}")
    return [Action(job=c.text(a, "JobName"), crawler=c.text(a, "CrawlerName"),
                   arguments=c.string_map(a, "Arguments") or {}) for a in items]  # fmt: skip


def _predicate(body: dict) -> tuple[list[Condition], str]:
    p = c.struct(body, "Predicate")
    items = p.get("Conditions") or []
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise invalid_input("Predicate.Conditions must be a list of conditions")
    out = []
    for x in items:
        if c.text(x, "LogicalOperator") not in (None, "EQUALS"):
            raise invalid_input("LogicalOperator must be EQUALS")
        job, crawler = c.text(x, "JobName"), c.text(x, "CrawlerName")
        state = c.text(x, "State") if job else c.text(x, "CrawlState")
        out.append(Condition(state or "", job, crawler))
    return out, c.text(p, "Logical") or "AND"


def _trigger_in(body: dict, base: Trigger) -> Trigger:
    """`base` changed by the fields of CreateTrigger's body or of TriggerUpdate."""
    if "Actions" in body:
        base.actions = _actions(body)
    if "Schedule" in body:
        base.schedule = c.from_aws_cron(c.text(body, "Schedule"))
    if "Predicate" in body:
        base.conditions, base.logical = _predicate(body)
    if "Description" in body:
        base.description = c.text(body, "Description")
    if base.trigger_type == EVENT and not base.conditions:
        raise invalid_input(
            f"an EVENT trigger names crawlers in Predicate.Conditions (CrawlState {PARTITIONS_ADDED})"
        )
    return base


def _check_crawlers(req: GlueRequest, t: Trigger) -> None:
    """AccessDenied when `t` names a crawler whose database the caller may not see."""
    for name in sorted({x.crawler for x in [*t.actions, *t.conditions] if x.crawler}):
        try:
            db = req.service.crawlers.get(name).database
        except NotFound:
            continue  # the catalog names it when it refuses the trigger
        req.check("read", db, name)


def _dependent(body: dict, triggers: list[Trigger]) -> list[Trigger]:
    job = c.text(body, "DependentJobName")
    return triggers if job is None else [t for t in triggers if any(a.job == job.lower() for a in t.actions)]


@operation("CreateTrigger")
def create_trigger(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    name = c.text(body, "Name", required=True)
    kind = c.text(body, "Type", required=True)
    t = _trigger_in(body, Trigger(name, kind, [], workflow=c.text(body, "WorkflowName")))
    _check_crawlers(req, t)
    created = req.service.triggers.create(t, activate=bool(c.flag(body, "StartOnCreation")))
    c.set_tags(req, req.arn("trigger", created.name), body.get("Tags"))
    return {"Name": created.name}


@operation("GetTrigger")
def get_trigger(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    return {"Trigger": trigger_out(req.service.triggers.get(c.text(body, "Name", required=True)))}


@operation("GetTriggers")
def get_triggers(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    chosen, more = c.page_by_key(body, _dependent(body, req.service.triggers.list()), lambda t: t.name)
    return {"Triggers": [trigger_out(t) for t in chosen], **more}


@operation("ListTriggers")
def list_triggers(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    triggers = c.tagged(req, body, "trigger", _dependent(body, req.service.triggers.list()), lambda t: t.name)
    chosen, more = c.page_by_key(body, triggers, lambda t: t.name)
    return {"TriggerNames": [t.name for t in chosen], **more}


@operation("BatchGetTriggers")
def batch_get_triggers(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    found, missing = [], []
    for name in c.strings(body, "TriggerNames", required=True)[:100]:
        try:
            found.append(trigger_out(req.service.triggers.get(name)))
        except NotFound:
            missing.append(name)
    return {"Triggers": found, "TriggersNotFound": missing}


@operation("UpdateTrigger")
def update_trigger(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    name = c.text(body, "Name", required=True)
    current = req.service.triggers.get(name)
    _check_crawlers(req, current)
    t = _trigger_in(c.struct(body, "TriggerUpdate"), current)
    _check_crawlers(req, t)
    return {"Trigger": trigger_out(req.service.triggers.update(current.name, t))}


@operation("DeleteTrigger")
def delete_trigger(req: GlueRequest, body: dict) -> dict:
    """As Glue: deleting a trigger that does not exist is no error."""
    req.check("write")
    name = c.text(body, "Name", required=True)
    try:
        t = req.service.triggers.get(name)
    except NotFound:
        return {"Name": name}
    _check_crawlers(req, t)
    req.service.triggers.delete(t.name)
    c.drop_tags(req, req.arn("trigger", t.name))
    return {"Name": t.name}


@operation("StartTrigger")
def start_trigger(req: GlueRequest, body: dict) -> dict:
    """Fire an ON_DEMAND trigger now (a workflow's start trigger starts a run of it); activate any other."""
    req.check("write")
    t = req.service.triggers.get(c.text(body, "Name", required=True))
    _check_crawlers(req, t)
    if t.trigger_type == ON_DEMAND:
        dispatch.start_trigger(req.service, t.name, c.sender(req))
    else:
        req.service.triggers.activate(t.name)
    return {"Name": t.name}


@operation("StopTrigger")
def stop_trigger(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    t = req.service.triggers.get(c.text(body, "Name", required=True))
    _check_crawlers(req, t)
    req.service.triggers.deactivate(t.name)
    return {"Name": t.name}


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


c.register_exists("trigger", lambda req, name: req.service.triggers.get(name))
c.register_exists("workflow", lambda req, name: req.service.workflows.get(name))
