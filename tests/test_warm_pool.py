"""Warm means warm (issue 15): through a real `mortar worker` (its jobs worker and warm pool) on SQLite and
the embedded broker — the first run after the worker starts is warm, back-to-back runs stay warm, a run's
timeline (queued, starting, running, ended) is recorded, the timeout counts the script's own time, and
`mortar job run --wait` follows a run through its retries."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
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


# --- drivers reused for the runs of one job, never for another's (issue 15) ---------------------------------

PLANT = """
import json, os, sys, time
from runner.jobs.context import get_resolved_options

args = get_resolved_options(sys.argv, ["TAG", "GO"])
sc = spark.sparkContext
print("DRIVER", os.getppid(), flush=True)  # the script runs in a child forked from the warm driver
print("SEES_PY", getattr(json, "planted_by", None), flush=True)
print("SEES_JVM", sc._jvm.java.lang.System.getProperty("mortar.planted"), flush=True)
print("SEES_VIEW", spark.catalog.tableExists("global_temp.planted_view"), flush=True)
print("SEES_CACHE", not spark._jsparkSession.sharedState().cacheManager().isEmpty(), flush=True)
acc = sc.accumulator(0)
sc.parallelize(range(10), 2).foreach(lambda x: acc.add(x))
print("ACC", acc.value, flush=True)
json.planted_by = args["TAG"]  # state a next run must not find (a Python global, JVM state)
sc._jvm.java.lang.System.setProperty("mortar.planted", args["TAG"])
spark.range(5).createOrReplaceGlobalTempView("planted_view")
spark.range(5).cache().count()
if args["GO"] != "-":
    with open(args["GO"] + ".credential", "w") as f:
        f.write(os.environ["MORTAR_RUN_CREDENTIAL"])
    while not os.path.exists(args["GO"]):
        time.sleep(0.05)
spark.stop()  # scripts often end so: the shared SparkContext stays up for the next run
"""


def _tags(log: str, tag: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.splitlines() if line.startswith(tag + " ")]


def _run(env: Env, job: str, timeout: float = 600, **arguments):
    run = env.service.jobs.start_run(job, arguments or None)
    _send_routed(env, run.id)
    return env.wait_run(run.id, timeout=timeout)


def _client(uri: str, credential: str):
    from urllib.parse import urlparse

    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TSocket, TTransport

    from metastore.hms.gen.hive import ThriftHiveMetastore

    u = urlparse(uri)
    transport = TTransport.TBufferedTransport(TSocket.TSocket(u.hostname, u.port))
    client = ThriftHiveMetastore.Client(TBinaryProtocol.TBinaryProtocol(transport))
    transport.open()
    client.set_ugi("attacker", [credential])
    return client, transport


@pytest.mark.timeout(1200)
def test_a_jobs_runs_reuse_its_driver_and_its_credential_dies_with_each_run(warm, tmp_path):
    """Back-to-back runs of one job run in the same warm driver (its pid; the log says reused), each in a
    fresh child: no Python global of the previous run, no cached data nor global view; accumulators work
    and `spark.stop()` does not end the driver. The first run's credential, used by an attacker on a
    connection opened while the run ran, acts as the run then and is refused once the run ended, while
    its driver, idle, waits for the job's next run."""
    import json as json_

    from thrift.Thrift import TApplicationException

    from metastore.hms.gen.hive import ttypes as tt

    svc = warm.service
    svc.jobs.create(Job("again", PLANT))
    go = tmp_path / "go"
    run = svc.jobs.start_run("again", {"--TAG": "first", "--GO": str(go)})
    _send_routed(warm, run.id)
    cred_file = tmp_path / "go.credential"
    deadline = time.time() + 600
    while not (cred_file.exists() and cred_file.read_text()):
        current = svc.jobs.get_run(run.id)
        assert current.state in ("STARTING", "RUNNING") and time.time() < deadline, (
            current, warm.log(run.id), warm.worker_log())
        time.sleep(0.1)
    client, transport = _client(warm.worker.env["MORTAR_METASTORE_URI"], cred_file.read_text())
    try:
        assert json_.loads(client.get_config_value("mortar.run.run", "{}"))["run_id"] == run.id
        client.create_database(tt.Database(name="made_by_again"))  # the run may write, while it runs
        go.touch()
        first = warm.wait_run(run.id, timeout=600)
        log1 = warm.log(run.id)
        assert first.state == "SUCCEEDED", (first.error, log1, warm.worker_log())
        with pytest.raises((tt.ConfigValSecurityException, TApplicationException), match="not valid now"):
            client.get_config_value("mortar.run.run", "{}")
        with pytest.raises(tt.MetaException, match="not valid now"):
            client.create_database(tt.Database(name="after_the_run"))
        with pytest.raises(tt.MetaException, match="not valid now"):
            client.get_all_databases()
    finally:
        transport.close()
    second = _run(warm, "again", TAG="second", GO="-")
    log2 = warm.log(second.id)
    assert second.state == "SUCCEEDED", (second.error, log2, warm.worker_log())
    assert first.warm and second.warm
    [driver1], [driver2] = _tags(log1, "DRIVER"), _tags(log2, "DRIVER")
    assert driver1 == driver2, (log1, log2)
    assert f"# warm driver {driver2}, its run" in log2 and "(reused: it served this job before)" in log2
    assert _tags(log1, "SEES_PY") == _tags(log2, "SEES_PY") == ["None"]  # forked: no Python state left
    assert _tags(log2, "SEES_JVM") == ["first"]  # the JVM is shared by the runs of one job
    assert _tags(log2, "SEES_VIEW") == _tags(log2, "SEES_CACHE") == ["False"]
    assert _tags(log1, "ACC") == _tags(log2, "ACC") == ["45"]


@pytest.mark.timeout(1200)
def test_another_jobs_run_never_gets_a_used_driver(warm):
    """A run of another job (another identity: its own connections and bookmarks) takes a fresh driver,
    never one that ran the first job's code: it sees neither the JVM property nor the Python global that
    the first job's run planted."""
    svc = warm.service
    svc.jobs.create(Job("planter", PLANT))
    svc.jobs.create(Job("victim", PLANT))
    planted = _run(warm, "planter", TAG="planter", GO="-")
    assert planted.state == "SUCCEEDED", (planted.error, warm.log(planted.id), warm.worker_log())
    other = _run(warm, "victim", TAG="victim", GO="-")
    log = warm.log(other.id)
    assert other.state == "SUCCEEDED", (other.error, log, warm.worker_log())
    assert other.warm is True and "reused" not in log
    assert _tags(log, "DRIVER") != _tags(warm.log(planted.id), "DRIVER")
    assert _tags(log, "SEES_JVM") == ["None"] and _tags(log, "SEES_PY") == ["None"], log


SLEEPY = """
import os, sys, time
from runner.jobs.context import get_resolved_options

print("DRIVER", os.getppid(), flush=True)
time.sleep(float(get_resolved_options(sys.argv, ["SLEEP"])["SLEEP"]))
"""


@pytest.mark.timeout(1200)
def test_a_timed_out_runs_driver_is_not_reused(warm):
    """The driver of a run that timed out is killed, not given the job's next run."""
    svc = warm.service
    svc.jobs.create(Job("sleepy", SLEEPY, timeout_s=3))
    slow = _run(warm, "sleepy", SLEEP="600")
    assert (slow.state, slow.warm) == ("TIMEOUT", True), (slow.error, warm.log(slow.id))
    [pid] = _tags(warm.log(slow.id), "DRIVER")
    assert not psutil.pid_exists(int(pid))
    quick = _run(warm, "sleepy", SLEEP="0")
    log = warm.log(quick.id)
    assert (quick.state, quick.warm) == ("SUCCEEDED", True), (quick.error, log)
    assert _tags(log, "DRIVER") != [pid] and "reused" not in log
