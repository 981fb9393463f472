"""Firing triggers: their actions start job runs (with argument overrides) and crawls, on the workers.

Conditional triggers are evaluated when a run they watch ends: right away for job runs (by the worker
that ran it, or whoever marked it stale), and at every scheduler tick for crawler runs. A firing is
claimed in the catalog first (one row per trigger and run that ended), so that one ending fires a
trigger once however many processes evaluate it. Event triggers fire, at the scheduler's tick, for each
crawler run that added partitions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from metastore.catalog import CatalogError, CatalogService
from metastore.catalog.jobs import JobRun
from metastore.catalog.triggers import ACTIVATED, CONDITIONAL, EVENT, ON_DEMAND, SCHEDULED, Trigger

log = logging.getLogger(__name__)

SendTask = Callable[[str, list], None]


def fire_actions(service: CatalogService, trigger: Trigger, send_task: SendTask,
                 workflow_run_id: int | None = None) -> list[dict]:  # fmt: skip
    """Start what `trigger`'s actions name; returns what each did ({"job", "run_id", "state"} or
    {"crawler"} or {"job", "error"}). A job at its concurrency limit is reported, not raised."""
    from runner.jobs.execute import start_job_run

    done = []
    for action in trigger.actions:
        if action.job is not None:
            try:
                run = start_job_run(service, action.job, send_task, action.arguments, trigger=trigger.name,
                                    workflow_run_id=workflow_run_id)  # fmt: skip
                done.append({"job": action.job, "run_id": run.id, "state": run.state})
            except CatalogError as e:
                log.warning("trigger %s could not start job %s: %s", trigger.name, action.job, e)
                done.append({"job": action.job, "error": str(e)})
        else:
            send_task("runner.crawl", [action.crawler])
            done.append({"crawler": action.crawler})
    log.info("trigger %s fired: %s", trigger.name, done)
    return done


def start_trigger(service: CatalogService, name: str, send_task: SendTask) -> list[dict]:
    """Fire trigger `name` now (an on-demand trigger, or any other by hand); the start trigger of a
    workflow starts a run of the workflow."""
    trigger = service.triggers.get(name)
    if trigger.workflow is not None:
        return [{"workflow_run_id": start_workflow(service, trigger.workflow, send_task, trigger=trigger).id}]
    return fire_actions(service, trigger, send_task)


def start_workflow(service: CatalogService, name: str, send_task: SendTask, run_properties: dict | None = None,
                   trigger: Trigger | None = None):  # fmt: skip
    """Start a run of workflow `name`: its start triggers (ON_DEMAND or SCHEDULED, or `trigger`) fire
    with the new workflow run's id. Returns the workflow run."""
    run = service.workflows.start_run(name, run_properties)
    starts = (
        [trigger]
        if trigger is not None
        else [
            t
            for t in service.triggers.list(workflow=run.workflow)
            if t.trigger_type in (ON_DEMAND, SCHEDULED)
        ]
    )
    for t in starts:
        fire_actions(service, t, send_task, run.id)
    return service.workflows.settle(run.id)


def resume_workflow(service: CatalogService, run_id: int, send_task: SendTask) -> list[str]:
    """Start again, in workflow run `run_id`, the jobs whose last run in it did not succeed; downstream
    triggers then fire as usual. Returns the jobs started."""
    from runner.jobs.execute import start_job_run

    failed = service.workflows.failed_nodes(run_id)
    if not failed:
        return []
    service.workflows.reopen(run_id)
    for job in failed:
        last = next(r for r in service.jobs.runs(job, limit=1000) if r.workflow_run_id == run_id)
        fixed = service.jobs.get(job).non_overridable_arguments
        args = {k: v for k, v in last.arguments.items() if k not in fixed}
        start_job_run(service, job, send_task, args, trigger=last.trigger, workflow_run_id=run_id)
    return failed


def _evaluate(service: CatalogService, triggers: list[Trigger], claim_kind: str, event_id: int,
              send_task: SendTask, claimed_by: str) -> list[str]:  # fmt: skip
    fired = []
    for t in triggers:
        if service.triggers.conditions_met(t) and service.schedules.claim(
            claim_kind, t.name, event_id, claimed_by
        ):
            fire_actions(service, t, send_task)
            fired.append(t.name)
    return fired


def on_job_run_ended(
    service: CatalogService, run: JobRun, send_task: SendTask, claimed_by: str = "worker"
) -> list[str]:
    """Evaluate the conditional triggers watching run.job (those of its workflow, for a run in a workflow
    run); fire those whose conditions now hold."""
    if run.workflow_run_id is not None:
        return _on_workflow_job_run_ended(service, run, send_task, claimed_by)
    watching = [t for t in service.triggers.watching("job", run.job)
                if any(c.job == run.job and c.state == run.state for c in t.conditions)]  # fmt: skip
    return _evaluate(service, watching, "trigger-job-run", run.id, send_task, claimed_by)


def _on_workflow_job_run_ended(
    service: CatalogService, run: JobRun, send_task: SendTask, claimed_by: str
) -> list[str]:
    wf_run = service.workflows.get_run(run.workflow_run_id)
    fired = []
    if wf_run.state == "RUNNING":
        for t in service.triggers.watching("job", run.job, workflow=wf_run.workflow):
            if not any(c.job == run.job and c.state == run.state for c in t.conditions):
                continue
            if service.triggers.conditions_met(t, wf_run.id, since=wf_run.started_at) and service.schedules.claim(
                    "trigger-job-run", t.name, run.id, claimed_by):  # fmt: skip
                fire_actions(service, t, send_task, wf_run.id)
                fired.append(t.name)
    service.workflows.settle(wf_run.id)
    return fired


def on_crawler_runs(service: CatalogService, send_task: SendTask, claimed_by: str = "scheduler") -> list[str]:
    """Evaluate the conditional triggers watching crawlers against each crawler's latest ended run (the
    scheduler calls this at every tick); each crawler run fires a trigger at most once."""
    fired = []
    for t in service.triggers.list(CONDITIONAL, ACTIVATED, None) + service.triggers.list(
        EVENT, ACTIVATED, None
    ):
        crawlers = sorted({c.crawler for c in t.conditions if c.crawler})
        if not crawlers:
            continue
        latest = service.triggers.latest_crawler_runs(crawlers, t.activated_at or 0)
        for c in t.conditions:
            if c.crawler not in latest:
                continue
            run_id, state, added = latest[c.crawler]
            if t.trigger_type == EVENT:
                if state == "SUCCEEDED" and added > 0 and service.schedules.claim(
                        "trigger-crawler-run", t.name, run_id, claimed_by):  # fmt: skip
                    fire_actions(service, t, send_task)
                    fired.append(t.name)
            elif state == c.state:
                fired += _evaluate(service, [t], "trigger-crawler-run", run_id, send_task, claimed_by)
    return fired
