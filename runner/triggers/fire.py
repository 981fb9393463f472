"""Firing triggers: their actions start job runs (with argument overrides) and crawls, on the workers.

Conditional triggers are evaluated when a run they watch ends: right away for job runs (by the worker
that ran it, or whoever marked it stale), and at every scheduler tick for crawler runs. A firing is
claimed in the catalog first (one row per trigger and run that ended), so that one ending fires a
trigger once however many processes evaluate it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from metastore.catalog import CatalogError, CatalogService
from metastore.catalog.jobs import JobRun
from metastore.catalog.triggers import ACTIVATED, CONDITIONAL, Trigger

log = logging.getLogger(__name__)

SendTask = Callable[[str, list], None]


def fire_actions(service: CatalogService, trigger: Trigger, send_task: SendTask) -> list[dict]:
    """Start what `trigger`'s actions name; returns what each did ({"job", "run_id", "state"} or
    {"crawler"} or {"job", "error"}). A job at its concurrency limit is reported, not raised."""
    from runner.jobs.execute import start_job_run

    done = []
    for action in trigger.actions:
        if action.job is not None:
            try:
                run = start_job_run(service, action.job, send_task, action.arguments, trigger=trigger.name)
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
    """Fire trigger `name` now (an on-demand trigger, or any other by hand)."""
    return fire_actions(service, service.triggers.get(name), send_task)


def _evaluate(service: CatalogService, triggers: list[Trigger], claim_kind: str, event_id: int,
              send_task: SendTask, claimed_by: str) -> list[str]:  # fmt: skip
    fired = []
    for t in triggers:
        if service.triggers.conditions_met(t) and service.schedules.claim(claim_kind, t.name, event_id, claimed_by):
            fire_actions(service, t, send_task)
            fired.append(t.name)
    return fired


def on_job_run_ended(service: CatalogService, run: JobRun, send_task: SendTask, claimed_by: str = "worker") -> list[str]:
    """Evaluate the conditional triggers watching run.job; fire those whose conditions now hold."""
    watching = [t for t in service.triggers.watching("job", run.job)
                if any(c.job == run.job and c.state == run.state for c in t.conditions)]  # fmt: skip
    return _evaluate(service, watching, "trigger-job-run", run.id, send_task, claimed_by)


def on_crawler_runs(service: CatalogService, send_task: SendTask, claimed_by: str = "scheduler") -> list[str]:
    """Evaluate the conditional triggers watching crawlers against each crawler's latest ended run (the
    scheduler calls this at every tick); each crawler run fires a trigger at most once."""
    fired = []
    for t in service.triggers.list(CONDITIONAL, ACTIVATED):
        crawlers = sorted({c.crawler for c in t.conditions if c.crawler})
        if not crawlers:
            continue
        latest = service.triggers.latest_crawler_runs(crawlers, t.activated_at or 0)
        for c in t.conditions:
            if c.crawler in latest and latest[c.crawler][1] == c.state:
                fired += _evaluate(service, [t], "trigger-crawler-run", latest[c.crawler][0], send_task, claimed_by)
    return fired
