"""Starting and stopping work from the web layer: `metastore.catalog.dispatch` with the app's task sender,
so a run started here is recorded and enqueued (by Celery task name) exactly as the CLI, the scheduler
and the workers do it.
"""

from __future__ import annotations

from metastore.catalog import dispatch
from metastore.catalog.jobs import JobRun
from metastore.web.security import state


def _send():
    return state().send_task


def start_job(svc, name: str, arguments: dict | None = None) -> JobRun:
    """A new run of job `name` (STARTING and enqueued as task runner.job_run, or WAITING for a slot)."""
    return dispatch.start_job_run(svc, name, _send(), arguments)


def stop_job_run(svc, run_id: int) -> JobRun:
    """Stop a run (see dispatch.stop_job_run)."""
    return dispatch.stop_job_run(svc, run_id, _send(), claimed_by="web")


def start_trigger(svc, name: str) -> list[dict]:
    """Fire trigger `name` now: what each action started (or the workflow run it started)."""
    return dispatch.start_trigger(svc, name, _send())


def start_workflow(svc, name: str, run_properties: dict | None = None):
    """A new run of workflow `name`, its start triggers fired."""
    return dispatch.start_workflow(svc, name, _send(), run_properties)


def resume_workflow(svc, run_id: int) -> list[str]:
    """Start again the jobs and crawlers of workflow run `run_id` whose last run in it did not succeed; the
    nodes started ("job NAME", "crawler NAME")."""
    return dispatch.resume_workflow(svc, run_id, _send())
