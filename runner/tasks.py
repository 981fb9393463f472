"""Celery tasks, registered by name: the web layer and the scheduler send them by name only."""

from __future__ import annotations

import logging
import time
from functools import cache

from metastore.catalog import CatalogService, Conflict
from runner.celery_app import app

log = logging.getLogger(__name__)


@cache
def catalog() -> CatalogService:
    """The catalog of this worker process (opened on first use, after the worker's fork)."""
    s = app.conf.mortar_settings
    return CatalogService.open(s.database_url, s.warehouse, lock_timeout_s=s.lock_timeout_s)


@app.task(name="runner.crawl", bind=True)
def crawl(self, crawler: str, run_id: int | None = None, trigger: str | None = None) -> dict:
    """Run a crawler; the run's state and metrics are recorded in the catalog. `run_id`: a run recorded
    already (a workflow's crawler node) to execute; `trigger`: the trigger that started the crawl. A run
    in a workflow run then fires the workflow's triggers that watch it.

    Delivered again (its worker died before acknowledging it): the crawl's run, if still RUNNING, is left
    to its worker while that one heartbeats, and taken over (failed as stale, a new run started) once it
    went quiet for the crawler_stale_s setting; with no run RUNNING any more (it ended, or the scheduler
    failed it and sent the crawl again) the task does nothing, so one crawl is never run twice."""
    from metastore.catalog.dispatch import on_crawler_run_ended
    from runner.crawler.crawl import run_crawler

    service = catalog()
    if run_id is None and (self.request.delivery_info or {}).get("redelivered"):
        if service.crawlers.current_run(crawler) is None:
            log.info("crawler %s: task delivered again, but no run is under way: nothing to take over", crawler)
            return {"crawler": crawler, "state": "NOT_STARTED", "error": "delivered again; no run to take over"}
    try:
        outcome = run_crawler(service, crawler, run_id=run_id, trigger=trigger)
    except Conflict as e:  # a run of this crawler is already under way (or this one was taken)
        log.info("crawler %s not started: %s", crawler, e)
        return {"crawler": crawler, "state": "NOT_STARTED", "error": str(e)}
    except Exception as e:  # noqa: BLE001 - a recorded run must not stay RUNNING because it never began
        if run_id is None:
            raise
        log.exception("crawler %s: run %d could not begin", crawler, run_id)
        try:
            service.crawlers.finish_run(run_id, "FAILED", error=f"{type(e).__name__}: {e}")
        except Conflict:
            pass  # it ended meanwhile
        outcome = None
    if run_id is not None or outcome.run_id is not None:
        try:
            on_crawler_run_ended(service, service.crawlers.get_run(run_id or outcome.run_id), _send)
        except Exception:  # noqa: BLE001 - the run is recorded; the scheduler evaluates it again
            log.exception("workflow triggers after crawler %s failed", crawler)
    if outcome is None:
        return {"crawler": crawler, "run_id": run_id, "state": "FAILED"}
    return {"crawler": crawler, "run_id": outcome.run_id, "state": outcome.state, "error": outcome.error}


# --- jobs and triggers ----------------------------------------------------------------------------------

from runner.jobs import worker as _job_worker  # noqa: E402 - starts the warm pool in each worker process


def _send(name: str, args: list) -> None:
    app.send_task(name, args=args)


@app.task(name="runner.crawl_dry_run")
def crawl_dry_run(crawler: str) -> dict:
    """Crawl without changing anything and record what a crawl would do as a DRY_RUN run (the console's
    Dry run button; `mortar crawler run NAME --dry-run` does the same here and prints it)."""
    from dataclasses import asdict

    from runner.crawler.crawl import run_crawler

    service = catalog()
    started = int(time.time() * 1000)
    outcome = run_crawler(service, crawler, dry_run=True)
    run = service.for_user(f"crawler:{outcome.crawler}").crawlers.record_dry_run(crawler, started, outcome.metrics.as_dict(),
                                          [asdict(a) for a in outcome.actions], outcome.error)  # fmt: skip
    return {"crawler": crawler, "run_id": run.id, "state": run.state, "actions": len(outcome.actions)}


@app.task(name="runner.job_run")
def job_run(run_id: int) -> dict:
    """Execute a STARTING job run (recorded by the catalog's jobs.start_run); its state, error and log are
    recorded in the catalog and under the data folder. A run taken by another worker is left alone."""
    from runner.jobs.execute import execute_run

    outcome = execute_run(catalog(), run_id, app.conf.mortar_settings, _send, _job_worker.pool())
    return {"run_id": run_id, "state": outcome.state, "error": outcome.error, "warm": outcome.warm}


@app.task(name="runner.job_start")
def job_start(job: str, arguments: dict | None = None) -> dict:
    """Start a run of `job` (as `mortar job run` does) and execute it here."""
    from runner.jobs.execute import execute_run

    try:
        run = catalog().jobs.start_run(job, arguments)
    except Conflict as e:
        log.info("job %s not started: %s", job, e)
        return {"job": job, "state": "NOT_STARTED", "error": str(e)}
    if run.state != "STARTING":
        return {"job": job, "run_id": run.id, "state": run.state}
    outcome = execute_run(catalog(), run.id, app.conf.mortar_settings, _send, _job_worker.pool())
    return {"job": job, "run_id": run.id, "state": outcome.state, "error": outcome.error}


@app.task(name="runner.trigger_start")
def trigger_start(trigger: str) -> list:
    """Fire a trigger now (on demand)."""
    from metastore.catalog.dispatch import start_trigger

    return start_trigger(catalog(), trigger, _send)
