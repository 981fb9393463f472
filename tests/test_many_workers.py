"""Many workers, one broker (issue 15): three `mortar worker` processes on Redis and on the embedded broker;
one is killed (with all its processes) while it runs a job. Every run ends exactly once: the killed run
FAILED as stale ("worker stopped responding") and retried on another worker, the others SUCCEEDED, each
script executed once."""

from __future__ import annotations

import time

import psutil
import pytest

from metastore.catalog import CatalogService
from metastore.catalog.jobs import END_STATES, STALE_RUN_ERROR, Job
from runner.triggers.scheduler import Scheduler
from tests.conftest import redis_url
from tests.test_jobs import Env, Worker, _wait_pids, _worker_env

QUICK = """
import os, sys, time
from runner.jobs.context import get_resolved_options

args = get_resolved_options(sys.argv, ["DONE"])
time.sleep(0.5)
with open(args["DONE"], "a") as f:
    f.write(os.environ["MORTAR_JOB_RUN_ID"] + "\\n")
print("done", os.environ["MORTAR_JOB_RUN_ID"])
"""

VICTIM = """
import os, sys, time
from runner.jobs.context import get_resolved_options

args = get_resolved_options(sys.argv, ["PIDS", "DONE"])
if os.environ["MORTAR_JOB_ATTEMPT"] == "0":
    with open(args["PIDS"], "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")
    time.sleep(600)
with open(args["DONE"], "a") as f:
    f.write(os.environ["MORTAR_JOB_RUN_ID"] + "\\n")
"""


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_three_workers_one_killed_every_run_ends_once(broker, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    broker_url = redis_url(8) if broker == "redis" else f"sqla+sqlite:///{data_dir / 'broker.db'}"
    db_url = f"sqlite:///{tmp_path / 'catalog.db'}"
    service = CatalogService.open(db_url, str(tmp_path / "wh"))
    env = _worker_env(data_dir, broker_url, db_url, str(tmp_path / "wh"), MORTAR_JOB_WARM_POOL="0")
    workers = [Worker(tmp_path, env, f"worker{i}") for i in range(3)]
    cluster = Env(service, data_dir, broker_url, workers[0])
    done_file, pids_file = tmp_path / "done", tmp_path / "pids"
    try:
        service.jobs.create(Job("quick", QUICK, job_type="pythonshell", max_concurrent_runs=50))
        service.jobs.create(Job("victim", VICTIM, job_type="pythonshell", max_retries=1))
        victim = service.jobs.start_run("victim", {"PIDS": str(pids_file), "DONE": str(done_file)})
        cluster.send("runner.job_run", [victim.id])
        quick = [service.jobs.start_run("quick", {"DONE": str(done_file)}) for _ in range(6)]
        for r in quick:
            cluster.send("runner.job_run", [r.id])
        _, jobs_worker = _wait_pids(pids_file, timeout=600)  # the victim's driver and its jobs worker
        celery_main = psutil.Process(jobs_worker).ppid()
        [doomed] = [w for w in workers if w.proc.pid == celery_main]
        tree = [psutil.Process(doomed.proc.pid), *psutil.Process(doomed.proc.pid).children(recursive=True)]
        for p in tree:  # the machine goes away: the worker and all its processes die at once
            p.kill()
        doomed.proc.wait(30)
        scheduler = Scheduler(service, cluster.send)
        scheduler.job_stale_after_s = 15  # generous: a loaded machine delays the live workers' heartbeats
        deadline = time.time() + 800
        while time.time() < deadline:
            scheduler.tick()
            runs = service.jobs.runs(limit=100)
            if len(runs) == 8 and all(r.state in END_STATES for r in runs):
                break
            time.sleep(1)
        runs = {r.id: r for r in service.jobs.runs(limit=100)}
        logs = "\n".join(w.log_path.read_text()[-3000:] for w in workers)
        assert len(runs) == 8, (runs, logs)
        failed = runs[victim.id]
        assert (failed.state, failed.error) == ("FAILED", STALE_RUN_ERROR), (failed, logs)
        [retry] = [r for r in runs.values() if r.previous_run_id == victim.id]
        assert (retry.state, retry.attempt) == ("SUCCEEDED", 1), (retry, logs)
        assert all(runs[r.id].state == "SUCCEEDED" for r in quick), (runs, logs)
        executed = done_file.read_text().split()
        assert sorted(executed) == sorted(str(r) for r in [retry.id, *(r.id for r in quick)])  # each once
        assert retry.worker != failed.worker  # another worker's jobs worker took the retry
    finally:
        for w in workers:
            w.stop()
        service.ctx.engine.dispose()
