"""Starting and stopping work from the web layer: `metastore.catalog.dispatch` with the app's task sender,
so a run started here is recorded and enqueued (by Celery task name) exactly as the CLI, the scheduler
and the workers do it.
"""

from __future__ import annotations

from metastore.catalog import dispatch
from metastore.catalog.jobs import END_STATES, JobRun
from metastore.web.security import state


def _send():
    return state().send_task


def start_job(svc, name: str, arguments: dict | None = None) -> JobRun:
    """A new run of job `name` (STARTING and enqueued as task runner.job_run, or WAITING for a slot)."""
    return dispatch.start_job_run(svc, name, _send(), arguments)


def stop_job_run(svc, run_id: int) -> JobRun:
    """Stop a run; what its end starts (a WAITING run now that a slot is free) is enqueued, and a run that
    ended at once (it had not started) is passed to its downstream triggers and its workflow run."""
    finished = svc.jobs.stop_run(run_id)
    dispatch.enqueue_started(finished.started, _send())
    if finished.run.state in END_STATES:
        dispatch.on_job_run_ended(svc, finished.run, _send(), claimed_by="web")
    return finished.run


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
