"""Celery tasks, registered by name: the web layer and the scheduler send them by name only."""

from __future__ import annotations

import logging
import time
from functools import cache

from celery import signals

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
        outcome = run_crawler(service, crawler, run_id=run_id, trigger=trigger, send=_send)
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
    if outcome is not None and outcome.state == "SPLIT":  # the run goes on: pieces on the workers, then a merge
        return {"crawler": crawler, "run_id": outcome.run_id, "state": "SPLIT"}
    if run_id is not None or outcome.run_id is not None:
        try:
            on_crawler_run_ended(service, service.crawlers.get_run(run_id or outcome.run_id), _send)
        except Exception:  # noqa: BLE001 - the run is recorded; the scheduler evaluates it again
            log.exception("workflow triggers after crawler %s failed", crawler)
    if outcome is None:
        return {"crawler": crawler, "run_id": run_id, "state": "FAILED"}
    return {"crawler": crawler, "run_id": outcome.run_id, "state": outcome.state, "error": outcome.error}


@app.task(name="runner.crawl_piece")
def crawl_piece(run_id: int, seq: int) -> dict:
    """A piece of a split crawl (runner.crawler.split): classify some folders and keep the result; the
    worker that finishes the last piece merges them into the catalog and ends the run (seq 0: the merge,
    sent again by a sweeper when its worker died). A piece done or taken already is not done twice."""
    from runner.crawler.split import run_piece

    service = catalog()
    outcome = run_piece(service, run_id, seq, send=_send)
    if outcome is None:
        return {"run_id": run_id, "piece": seq, "state": "NOT_STARTED"}
    if outcome.state in ("SUCCEEDED", "FAILED"):
        _crawl_ended(run_id)
    return {"run_id": run_id, "piece": seq, "state": outcome.state, "error": outcome.error}


def _crawl_ended(run_id: int) -> None:
    """The workflow triggers that watch a split crawl's run, once it has ended."""
    from metastore.catalog.dispatch import on_crawler_run_ended

    service = catalog()
    try:
        on_crawler_run_ended(service, service.crawlers.get_run(run_id), _send)
    except Exception:  # noqa: BLE001 - the run is recorded; the scheduler evaluates it again
        log.exception("workflow triggers after crawler run %d failed", run_id)


@signals.worker_process_init.connect
def _start_crawl_sweeper(**_) -> None:
    """Each worker process sends again the pieces of split crawls whose worker died."""
    from runner.crawler.split import start_sweeper

    start_sweeper(catalog, _send, _crawl_ended)


# --- jobs and triggers ----------------------------------------------------------------------------------

from runner.jobs import worker as _job_worker  # noqa: E402 - starts the jobs worker with the Celery worker


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
    """Execute a STARTING job run (recorded by the catalog's jobs.start_run). Executed by the jobs worker
    (runner/jobs/worker.py) from its queue; sent to the default queue (a client without Mortar's routes),
    it is forwarded there."""
    app.send_task("runner.job_run", args=[run_id], queue=_job_worker.JOBS_QUEUE)
    return {"run_id": run_id, "forwarded": _job_worker.JOBS_QUEUE}


@app.task(name="runner.job_start")
def job_start(job: str, arguments: dict | None = None) -> dict:
    """Start a run of `job` (as `mortar job run` does) on a jobs worker (forwarded as job_run is)."""
    app.send_task("runner.job_start", args=[job, arguments], queue=_job_worker.JOBS_QUEUE)
    return {"job": job, "forwarded": _job_worker.JOBS_QUEUE}


@app.task(name="runner.profile")
def profile(run_id: int) -> dict:
    """Execute a QUEUED profile run (metastore.catalog.profiles): a Spark job, or the files' footers alone,
    whose profile is stored as the table's (and its partitions') statistics."""
    from runner.profile.run import run_profile

    run = run_profile(catalog(), run_id, app.conf.mortar_settings.job_master)
    return {"run_id": run_id, "state": run.state, "error": run.error}


@app.task(name="runner.trigger_start")
def trigger_start(trigger: str) -> list:
    """Fire a trigger now (on demand)."""
    from metastore.catalog.dispatch import start_trigger

    return start_trigger(catalog(), trigger, _send)
