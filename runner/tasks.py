"""Celery tasks, registered by name: the web layer and the scheduler send them by name only."""

from __future__ import annotations

import logging
from functools import cache

from metastore.catalog import CatalogService, Conflict
from runner.celery_app import app

log = logging.getLogger(__name__)


@cache
def catalog() -> CatalogService:
    """The catalog of this worker process (opened on first use, after the worker's fork)."""
    s = app.conf.mortar_settings
    return CatalogService.open(s.database_url, s.warehouse, lock_timeout_s=s.lock_timeout_s)


@app.task(name="runner.crawl")
def crawl(crawler: str) -> dict:
    """Run a crawler; the run's state and metrics are recorded in the catalog."""
    from runner.crawler.crawl import run_crawler

    try:
        outcome = run_crawler(catalog(), crawler)
    except Conflict as e:  # a run of this crawler is already under way
        log.info("crawler %s not started: %s", crawler, e)
        return {"crawler": crawler, "state": "NOT_STARTED", "error": str(e)}
    return {"crawler": crawler, "run_id": outcome.run_id, "state": outcome.state, "error": outcome.error}
