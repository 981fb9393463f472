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
        from runner.tasks import catalog

        try:
            _pool = make_pool(app.conf.mortar_settings, service=catalog())
        except Exception:  # noqa: BLE001 - without a pool, runs go cold
            log.exception("the warm pool could not start")
    return _pool


def hide_process() -> None:
    """Make this process non-dumpable (Linux prctl PR_SET_DUMPABLE 0): other processes of the same OS user,
    such as job drivers' user code, can then neither read its /proc/<pid>/environ (the storage URL may be
    there) and memory nor ptrace it. Drivers are exec'd, so they are dumpable again, which is harmless."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


@signals.worker_init.connect
def _hide_worker(**_) -> None:
    hide_process()


@signals.worker_process_init.connect
def _start_pool(**_) -> None:
    """Warm the pool as the worker process starts when MORTAR_JOB_WARM_POOL is set, or when the catalog has
    Spark jobs to run: a worker that only crawls starts no JVM (its first job run would start the pool)."""
    import os

    from runner.tasks import catalog

    hide_process()
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
