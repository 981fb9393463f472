"""The jobs side of a worker process: its warm pool, started when Celery starts the process (prefork
child) and stopped with it."""

from __future__ import annotations

import logging

from celery import signals

log = logging.getLogger(__name__)

_pool = None
_started = False


def pool():
    """This worker process's warm pool (started on first use if the worker signal did not start it)."""
    global _pool, _started
    if not _started:
        _started = True
        from runner.celery_app import app
        from runner.jobs.execute import make_pool

        try:
            _pool = make_pool(app.conf.mortar_settings)
        except Exception:  # noqa: BLE001 - without a pool, runs go cold
            log.exception("the warm pool could not start")
    return _pool


@signals.worker_process_init.connect
def _start_pool(**_) -> None:
    """Warm the pool as the worker process starts when MORTAR_JOB_WARM_POOL is set, or when the catalog has
    Spark jobs to run: a worker that only crawls starts no JVM (its first job run would start the pool)."""
    import os

    from runner.tasks import catalog

    try:
        if os.environ.get("MORTAR_JOB_WARM_POOL") or any(
            j.job_type == "spark" for j in catalog().jobs.list()
        ):
            pool()
    except Exception:  # noqa: BLE001 - e.g. the catalog not reachable yet: the first run starts the pool
        log.exception("the warm pool was not started")


@signals.worker_process_shutdown.connect
def _stop_pool(**_) -> None:
    if _pool is not None:
        _pool.shutdown()
