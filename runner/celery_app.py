"""The Celery application of Mortar's workers.

Broker: `MORTAR_BROKER_URL`, e.g. redis://127.0.0.1:6379/0 in production; by default an embedded broker
(kombu's SQLAlchemy transport on a SQLite file under the data folder), so one machine needs no Redis.
Task state lives in the catalog (runs), not in a result backend. Tasks are acknowledged after they
finish, so a task whose worker dies is handed to another worker.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery

from metastore.config import Settings


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.load()
    if settings.broker_url.startswith("sqla+sqlite:///"):
        Path(settings.broker_url.removeprefix("sqla+sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app = Celery("mortar", broker=settings.broker_url, include=["runner.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.worker_concurrency,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        # job runs go to the jobs workers' queue (runner/jobs/worker.py), which fetch a run only when they
        # have a warm driver READY for it
        task_routes={"runner.job_run": {"queue": "mortar.jobs"}, "runner.job_start": {"queue": "mortar.jobs"}},
    )
    app.conf.mortar_settings = settings
    return app


def declare_queues(app: Celery, attempts: int = 10) -> None:
    """Create the broker's queues before the worker consumes. Workers starting together on the embedded
    broker race to insert the same queue row (kombu's SQLAlchemy transport: UNIQUE constraint failed on
    kombu_queue.name) and the loser dies; the queue exists once one of them wins, so retrying suffices."""
    import time

    from kombu import Exchange, Queue

    names = [app.conf.task_default_queue or "celery", "mortar.jobs"]
    for attempt in range(attempts):
        try:
            with app.connection_for_write() as conn:
                channel = conn.default_channel
                for name in names:
                    Queue(name, Exchange(name, "direct"), routing_key=name)(channel).declare()
            return
        except Exception:  # noqa: BLE001 - a lost race or a broker still starting: the worker retries too
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


app = make_celery()
