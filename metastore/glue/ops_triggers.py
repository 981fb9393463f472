"""Glue's trigger operations over Mortar's triggers: SCHEDULED (AWS cron), ON_DEMAND, CONDITIONAL
(Predicate) and EVENT (crawlers with CrawlState PARTITIONS_ADDED). StartTrigger fires an ON_DEMAND trigger
(a workflow's start trigger starts a run of it, through `metastore.catalog.dispatch`) and activates any
other; StopTrigger deactivates.

Triggers are not database objects: everyone reads them, editors change and start them; a trigger naming a
crawler needs read access to the crawler's database, as in Mortar's JSON API.
"""

from __future__ import annotations

from metastore.catalog import dispatch
from metastore.catalog.errors import NotFound
from metastore.catalog.triggers import EVENT, ON_DEMAND, PARTITIONS_ADDED, Action, Condition, Trigger
from metastore.glue import control as c
from metastore.glue.errors import invalid_input
from metastore.glue.registry import GlueRequest, operation


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


c.register_exists("trigger", lambda req, name: req.service.triggers.get(name))
