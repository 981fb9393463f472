"""Starting work: record a run in the catalog, then enqueue its Celery task by *name* (`runner.job_run`,
`runner.crawl`) — the workers execute it. Used by the CLI, the web layer, the scheduler and the workers
alike, so a run starts the same way whoever asks; nothing here imports `runner`.

Firing triggers: their actions start job runs (with argument overrides) and crawls, on the workers.

Conditional triggers are evaluated when a run they watch ends: right away for job runs (by the worker
that ran it, or whoever marked it stale) and for crawler runs in workflow runs (by the worker that ran
it, and again at every scheduler tick in case it could not), and at every scheduler tick for other
crawler runs. A firing is claimed in the catalog first (one row per trigger and run that ended), so that
one ending fires a trigger once however many processes evaluate it. Event triggers fire, at the scheduler's tick, for each
crawler run that added partitions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from metastore.catalog import CatalogError, CatalogService
from metastore.catalog.crawlers import CrawlerRun
from metastore.catalog.jobs import END_STATES, JobRun
from metastore.catalog.triggers import ACTIVATED, CONDITIONAL, EVENT, ON_DEMAND, SCHEDULED, Trigger

log = logging.getLogger(__name__)

SendTask = Callable[[str, list], None]  # (task name, args): a Celery app's send_task, or a test's list
CRAWL_TASK = "runner.crawl"  # args: crawler name[, recorded run id[, trigger name]]
DRY_RUN_TASK = "runner.crawl_dry_run"  # args: crawler name; the result is recorded as a DRY_RUN run
JOB_RUN_TASK = "runner.job_run"  # args: run id
WORKER_GRACE_S = 60  # the scheduler evaluates a workflow's ended crawler run if its worker did not by then


def start_job_run(service: CatalogService, name: str, send_task: SendTask, arguments: dict | None = None,
                  trigger: str | None = None, workflow_run_id: int | None = None,
                  queue: bool | None = None) -> JobRun:  # fmt: skip
    """Record a new run of job `name` and enqueue it (a WAITING run is enqueued when a slot frees);
    `queue`: wait for a slot (or not) whatever the job says."""
    run = service.jobs.start_run(name, arguments, trigger=trigger, workflow_run_id=workflow_run_id, queue=queue)
    if run.state == "STARTING":
        send_task(JOB_RUN_TASK, [run.id])
    return run


def enqueue_started(runs: list[JobRun], send_task: SendTask) -> None:
    """Enqueue runs that became STARTING (a retry, a WAITING run given a slot)."""
    for r in runs:
        log.info("run %d of job %s (attempt %d) enqueued", r.id, r.job, r.attempt)
        send_task(JOB_RUN_TASK, [r.id])


def stop_job_run(service: CatalogService, run_id: int, send_task: SendTask, claimed_by: str) -> JobRun:
    """Stop a run: at once if no worker has it (STOPPED), else STOPPING until its worker kills the driver.
    What its end starts (a WAITING run given the slot) is enqueued, and a run that ended at once is passed
    to its downstream triggers and workflow run, as a worker does for the runs it ends."""
    finished = service.jobs.stop_run(run_id)
    enqueue_started(finished.started, send_task)
    if finished.run.state in END_STATES:
        on_job_run_ended(service, finished.run, send_task, claimed_by=claimed_by)
    return finished.run


def fire_actions(service: CatalogService, trigger: Trigger, send_task: SendTask,
                 workflow_run_id: int | None = None) -> list[dict]:  # fmt: skip
    """Start what `trigger`'s actions name; returns what each did ({"job", "run_id", "state"} or
    {"crawler"[, "run_id"]} or {"job" or "crawler", "error"}). A job at its concurrency limit, or a
    crawler already running, is reported, not raised."""
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
        elif workflow_run_id is not None:
            try:
                crawl = start_crawl(service, action.crawler, send_task, trigger.name, workflow_run_id)
                done.append({"crawler": action.crawler, "run_id": crawl.id})
            except CatalogError as e:
                log.warning("trigger %s could not start crawler %s: %s", trigger.name, action.crawler, e)
                done.append({"crawler": action.crawler, "error": str(e)})
        else:
            send_task(CRAWL_TASK, [action.crawler, None, trigger.name])
            done.append({"crawler": action.crawler})
    log.info("trigger %s fired: %s", trigger.name, done)
    return done


def start_crawl(service: CatalogService, crawler: str, send_task: SendTask, trigger: str | None,
                workflow_run_id: int) -> CrawlerRun:  # fmt: skip
    """Record a run of `crawler` in workflow run `workflow_run_id` now (the workflow sees it under way at
    once) and enqueue it: a worker takes it (claim_run) and crawls."""
    from metastore.config import Settings

    stale_s = Settings.load().crawler_stale_s  # read now: a changed setting is honoured without a restart
    run = service.crawlers.start_run(crawler, stale_s, trigger=trigger, workflow_run_id=workflow_run_id)
    send_task(CRAWL_TASK, [crawler, run.id])
    return run


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
    """Start again, in workflow run `run_id`, the jobs and crawlers whose last run in it did not succeed;
    downstream triggers then fire as usual. Returns the nodes started ("job NAME", "crawler NAME")."""
    failed = service.workflows.failed_nodes(run_id, crawlers=True)
    if not failed:
        return []
    service.workflows.reopen(run_id)
    for node in failed:
        kind, _, name = node.partition(" ")
        if kind == "crawler":
            last = next(r for r in service.crawlers.runs(name, limit=1000) if r.workflow_run_id == run_id)
            start_crawl(service, name, send_task, last.trigger, run_id)
            continue
        last = next(r for r in service.jobs.runs(name, limit=1000) if r.workflow_run_id == run_id)
        fixed = service.jobs.get(name).non_overridable_arguments
        args = {k: v for k, v in last.arguments.items() if k not in fixed}
        start_job_run(service, name, send_task, args, trigger=last.trigger, workflow_run_id=run_id)
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
        return _on_workflow_run_ended(service, "job", run.job, run.id, run.state, run.workflow_run_id, send_task,
                                      claimed_by)  # fmt: skip
    watching = [t for t in service.triggers.watching("job", run.job)
                if any(c.job == run.job and c.state == run.state for c in t.conditions)]  # fmt: skip
    return _evaluate(service, watching, "trigger-job-run", run.id, send_task, claimed_by)


def on_crawler_run_ended(service: CatalogService, run: CrawlerRun, send_task: SendTask,
                         claimed_by: str = "worker") -> list[str]:  # fmt: skip
    """For a crawler run in a workflow run: evaluate the workflow's conditional triggers watching its
    crawler against the runs of that workflow run, fire those whose conditions now hold, and settle the
    workflow run. (Crawler runs outside workflows are the scheduler's: see on_crawler_runs.)"""
    if run.workflow_run_id is None or run.state == "RUNNING":
        return []
    return _on_workflow_run_ended(service, "crawler", run.crawler, run.id, run.state, run.workflow_run_id,
                                  send_task, claimed_by)  # fmt: skip


def _on_workflow_run_ended(service: CatalogService, kind: str, name: str, run_id: int, state: str,
                           workflow_run_id: int, send_task: SendTask, claimed_by: str) -> list[str]:  # fmt: skip
    wf_run = service.workflows.get_run(workflow_run_id)
    fired = []
    if wf_run.state == "RUNNING":
        for t in service.triggers.watching(kind, name, workflow=wf_run.workflow):
            if not any(getattr(c, kind) == name and c.state == state for c in t.conditions):
                continue
            if service.triggers.conditions_met(t, wf_run.id, since=wf_run.started_at) and service.schedules.claim(
                    f"trigger-{kind}-run", t.name, run_id, claimed_by):  # fmt: skip
                fire_actions(service, t, send_task, wf_run.id)
                fired.append(t.name)
    service.workflows.settle(wf_run.id)
    return fired


def on_workflow_crawler_runs(
    service: CatalogService, send_task: SendTask, claimed_by: str = "scheduler"
) -> list[str]:
    """At the scheduler's tick: evaluate the crawler runs that ended in running workflow runs, in case the
    worker that ran one died before it did (each run fires a trigger at most once)."""
    fired = []
    for crawler_run_id, _ in service.workflows.ended_crawler_runs(WORKER_GRACE_S):
        fired += on_crawler_run_ended(
            service, service.crawlers.get_run(crawler_run_id), send_task, claimed_by
        )
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
        latest = service.triggers.latest_crawler_runs(crawlers, t.activated_at or 0, outside_workflows=True)
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
