"""Warm means warm (issue 15): through a real `mortar worker` (its jobs worker and warm pool) on SQLite and
the embedded broker — the first run after the worker starts is warm, back-to-back runs stay warm, a run's
timeline (queued, starting, running, ended) is recorded, the timeout counts the script's own time, and
`mortar job run --wait` follows a run through its retries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.jobs import Job
from tests.conftest import start_metastore, stop_metastore
from tests.test_jobs import ROOT, Env, Worker, _worker_env


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warm-pool")
    (tmp / "data").mkdir()
    broker_url = f"sqla+sqlite:///{tmp / 'data' / 'broker.db'}"
    ms = start_metastore("sqlite", tmp, f"sqlite:///{tmp / 'catalog.db'}")
    env = _worker_env(tmp / "data", broker_url, ms.database_url, str(ms.warehouse), MORTAR_METASTORE_URI=ms.uri,
                      MORTAR_JOB_WARM_POOL="2", MORTAR_JOB_STARTUP_TIMEOUT_S="600")  # fmt: skip
    service = CatalogService.open(ms.database_url, str(ms.warehouse))
    env_ = Env(service, tmp / "data", broker_url, Worker(tmp, env))
    yield env_
    env_.worker.stop()
    service.ctx.engine.dispose()
    stop_metastore(ms)


def _send_routed(env: Env, run_id: int) -> None:
    """As Mortar's own senders do: straight to the jobs workers' queue."""
    env.app.send_task("runner.job_run", args=[run_id], queue="mortar.jobs")


FIRST = "print('first line', flush=True)\nprint('databases', [r[0] for r in spark.sql('SHOW DATABASES').collect()])\n"


@pytest.mark.timeout(1200)
def test_the_first_run_after_start_is_warm_and_back_to_back_runs_stay_warm(warm):
    """Sent as soon as the worker starts, before any driver is ready: the run waits in the broker (queued),
    not on a cold start; the next, sent when it ended, takes the spare. The timeline is in order."""
    svc = warm.service
    svc.jobs.create(Job("hello", FIRST))
    for i in range(2):
        run = svc.jobs.start_run("hello")
        if i == 1:  # on the default queue, as a client without Mortar's routes sends it: forwarded
            warm.send("runner.job_run", [run.id])
        else:
            _send_routed(warm, run.id)
        done = warm.wait_run(run.id, timeout=1000)
        log = warm.log(run.id)
        assert done.state == "SUCCEEDED", (done.error, log, warm.worker_log())
        assert done.warm is True and "cold start" not in log, log
        assert "first line" in log and "'default'" in log
        assert done.created_at <= done.started_at <= done.running_at <= done.ended_at
        assert done.startup_ms is not None and done.execution_ms is not None and done.queued_ms is not None
    assert "started in a warm driver" in warm.worker_log(40000)


SLOW_START = """
import time
print('script started', flush=True)
time.sleep(1)
print('script done', flush=True)
"""


@pytest.mark.timeout(1200)
def test_the_timeout_counts_the_scripts_own_time(warm, tmp_path):
    """A cold Spark run whose driver takes longer to start than the job's timeout still succeeds: the clock
    starts with the script; a script that outlives its timeout ends TIMEOUT, its execution time measured."""
    svc = warm.service
    svc.jobs.create(Job("slowstart", SLOW_START, timeout_s=3, spark_conf={"spark.executor.memory": "600m"}))
    run = svc.jobs.start_run("slowstart")
    _send_routed(warm, run.id)
    done = warm.wait_run(run.id, timeout=1000)
    log = warm.log(run.id)
    assert done.state == "SUCCEEDED", (done.error, log)
    assert (
        done.warm is False
        and "cold start: the job sets SparkContext-level settings (spark.executor.memory)" in log
    )
    assert "script done" in log and done.started_at <= done.running_at <= done.ended_at
    svc.jobs.create(Job("overlong", "import time\nprint('going', flush=True)\ntime.sleep(600)\n",
                        job_type="pythonshell", timeout_s=2))  # fmt: skip
    run = svc.jobs.start_run("overlong")
    _send_routed(warm, run.id)
    done = warm.wait_run(run.id, timeout=300)
    assert (done.state, done.error) == ("TIMEOUT", "the run exceeded its timeout of 2 s")
    assert done.running_at is not None and done.execution_ms >= 2000


@pytest.mark.timeout(1200)
def test_wait_follows_a_run_through_its_retries(warm):
    svc = warm.service
    svc.jobs.create(Job("retried", "import os, sys\nprint('attempt', os.environ['MORTAR_JOB_ATTEMPT'])\n"
                                   "sys.exit(0 if os.environ['MORTAR_JOB_ATTEMPT'] == '1' else 3)\n",
                        job_type="pythonshell", max_retries=2))  # fmt: skip
    svc.jobs.create(Job("hopeless", "import sys\nsys.exit(3)\n", job_type="pythonshell", max_retries=1))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mortar.cli", "job", *args], env=warm.worker.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=1000)  # fmt: skip

    ok = cli("run", "retried", "--wait")
    assert ok.returncode == 0, (ok.stdout, ok.stderr, warm.worker_log())
    assert "(attempt 0): FAILED" in ok.stdout and "SUCCEEDED" in ok.stdout.splitlines()[-1], ok.stdout
    runs = svc.jobs.runs("retried")
    assert [(r.attempt, r.state) for r in runs] == [(1, "SUCCEEDED"), (0, "FAILED")]
    bad = cli("run", "hopeless", "--wait")
    assert bad.returncode == 1, (bad.stdout, bad.stderr)
    assert [(r.attempt, r.state) for r in svc.jobs.runs("hopeless")] == [(1, "FAILED"), (0, "FAILED")]
    assert bad.stdout.splitlines()[-1].startswith(f"run {svc.jobs.runs('hopeless')[0].id}: FAILED")
