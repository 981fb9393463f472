"""Starting and stopping work from the web layer: the runner's own functions (`runner.jobs.execute`,
`runner.triggers.fire`) with the app's task sender, so a run started here is recorded and enqueued exactly
as the CLI, the scheduler and the workers do it.

This module is the web layer's one door to `runner`: imports are made on use, and only the functions that
record runs in the catalog and send Celery tasks by name are called (nothing here executes work).
"""

from __future__ import annotations

from metastore.catalog.jobs import END_STATES, JobRun
from metastore.web.security import state


def _send():
    return state().send_task


def start_job(svc, name: str, arguments: dict | None = None) -> JobRun:
    """A new run of job `name` (STARTING and enqueued as task runner.job_run, or WAITING for a slot)."""
    from runner.jobs.execute import start_job_run

    return start_job_run(svc, name, _send(), arguments)


def stop_job_run(svc, run_id: int) -> JobRun:
    """Stop a run; what its end starts (a WAITING run now that a slot is free) is enqueued, and a run that
    ended at once (it had not started) is passed to its downstream triggers and its workflow run."""
    from runner.jobs.execute import enqueue_started
    from runner.triggers.fire import on_job_run_ended

    finished = svc.jobs.stop_run(run_id)
    enqueue_started(finished.started, _send())
    if finished.run.state in END_STATES:
        on_job_run_ended(svc, finished.run, _send(), claimed_by="web")
    return finished.run


def start_trigger(svc, name: str) -> list[dict]:
    """Fire trigger `name` now: what each action started (or the workflow run it started)."""
    from runner.triggers.fire import start_trigger as fire

    return fire(svc, name, _send())


def start_workflow(svc, name: str, run_properties: dict | None = None):
    """A new run of workflow `name`, its start triggers fired."""
    from runner.triggers.fire import start_workflow as start

    return start(svc, name, _send(), run_properties)


def resume_workflow(svc, run_id: int) -> list[str]:
    """Start again the jobs and crawlers of workflow run `run_id` whose last run in it did not succeed; the
    nodes started ("job NAME", "crawler NAME")."""
    from runner.triggers.fire import resume_workflow as resume

    return resume(svc, run_id, _send())
