"""ETL jobs: definitions, runs and triggers in the catalog (SQLite and PostgreSQL), and real runs — Spark
local[1] in warm drivers, plain Python in cold ones — through real `mortar worker` processes with the
embedded broker and with Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from metastore.catalog import CatalogService, Conflict, InvalidInput, NotFound
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from metastore.catalog.dispatch import on_job_run_ended
from metastore.catalog.jobs import END_STATES, STALE_RUN_ERROR, Job
from metastore.catalog.triggers import Action, Condition, Trigger
from runner.triggers.scheduler import Scheduler
from tests.conftest import database_url, redis_url, start_metastore, stop_metastore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, pg_databases):
    svc = CatalogService.open(database_url(request.param, tmp_path, pg_databases), str(tmp_path / "wh"))
    yield svc
    svc.ctx.engine.dispose()


def _job(name: str, script: str = "print('hi')\n", **kw) -> Job:
    return Job(name=name, script=script, **kw)


# --- the catalog ------------------------------------------------------------------------------------------


def test_scripts_are_versioned_and_arguments_merged(service, tmp_path):
    path = tmp_path / "etl.py"
    path.write_text("print('one')\n")
    from metastore.catalog.jobs import load_script

    job = service.jobs.create(_job("etl", load_script(str(path)), script_location=str(path),
                                   default_arguments={"SOURCE": "a.b", "--MODE": "full"},
                                   non_overridable_arguments={"--ENV": "prod"}))  # fmt: skip
    assert (job.script_version, job.script, job.default_arguments) == (
        1,
        "print('one')\n",
        {"--SOURCE": "a.b", "--MODE": "full"},
    )
    job.max_retries = 2
    assert service.jobs.update("etl", job).script_version == 1  # same script: same version
    job.script = "print('two')\n"
    assert service.jobs.update("etl", job).script_version == 2
    assert service.jobs.get("etl", version=1).script == "print('one')\n"
    assert service.jobs.get("etl").script == "print('two')\n"
    assert [v for v, _ in service.jobs.script_versions("etl")] == [1, 2]
    run = service.jobs.start_run("etl", {"MODE": "delta"})
    assert run.arguments == {"--SOURCE": "a.b", "--MODE": "delta", "--ENV": "prod"}
    assert (run.state, run.attempt, run.script_version) == ("STARTING", 0, 2)
    with pytest.raises(InvalidInput, match="--ENV cannot be overridden"):
        service.jobs.start_run("etl", {"--ENV": "dev"})
    with pytest.raises(InvalidInput, match="not valid Python"):
        service.jobs.create(_job("bad", "def (:\n"))
    with pytest.raises(InvalidInput, match="type"):
        service.jobs.create(_job("bad", job_type="scala"))
    with pytest.raises(InvalidInput, match="cannot be read"):
        load_script(str(tmp_path / "missing.py"))
    with pytest.raises(NotFound, match="job nope does not exist"):
        service.jobs.start_run("nope")


def test_max_concurrent_runs_hold_under_concurrent_starts(service):
    service.jobs.create(_job("busy", max_concurrent_runs=2))
    outcomes: list = []
    barrier = threading.Barrier(8)

    def start():
        barrier.wait()
        try:
            outcomes.append(service.jobs.start_run("busy").state)
        except Conflict as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (
        sorted(outcomes) == ["STARTING"] * 2 + ["job busy has reached its maximum of 2 concurrent runs"] * 6
    )


def test_waiting_runs_start_when_a_slot_frees(service):
    service.jobs.create(_job("queued", queue_runs=True))
    first = service.jobs.start_run("queued")
    second = service.jobs.start_run("queued")
    third = service.jobs.start_run("queued")
    assert (first.state, second.state, third.state) == ("STARTING", "WAITING", "WAITING")
    service.jobs.claim_run(first.id, "w1")
    finished = service.jobs.finish_run(first.id, "SUCCEEDED")
    assert [r.id for r in finished.started] == [second.id]
    assert service.jobs.get_run(second.id).state == "STARTING"
    stopped = service.jobs.stop_run(second.id)  # stopped before it started: its slot goes to the next
    assert stopped.run.state == "STOPPED" and [r.id for r in stopped.started] == [third.id]


def test_a_run_is_taken_once(service):
    service.jobs.create(_job("once"))
    run = service.jobs.start_run("once")
    wins, losses = [], []
    barrier = threading.Barrier(4)

    def claim(i):
        barrier.wait()
        try:
            wins.append(service.jobs.claim_run(run.id, f"w{i}")[0].worker)
        except Conflict as e:
            losses.append(str(e))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 3
    assert all("is RUNNING, not STARTING" in e for e in losses)
    assert service.jobs.get_run(run.id).worker == wins[0]


def test_stale_runs_are_retried_then_failed(service):
    service.jobs.create(_job("flaky", max_retries=1))
    first = service.jobs.start_run("flaky", {"X": "1"})
    service.jobs.claim_run(first.id, "gone")
    assert service.jobs.mark_stale_runs(60) == []  # heartbeat is fresh
    time.sleep(0.02)
    [ended] = service.jobs.mark_stale_runs(0.01)
    assert (ended.run.state, ended.run.error) == ("FAILED", STALE_RUN_ERROR)
    [retry] = ended.started
    assert (retry.state, retry.attempt, retry.previous_run_id, retry.arguments) == (
        "STARTING",
        1,
        first.id,
        {"--X": "1"},
    )
    with pytest.raises(Conflict):
        service.jobs.heartbeat_run(first.id)  # the old worker, back: told to stop
    service.jobs.claim_run(retry.id, "gone too")
    time.sleep(0.02)
    [ended] = service.jobs.mark_stale_runs(0.01)
    assert ended.run.state == "FAILED" and ended.started == []  # no retries left
    with pytest.raises(Conflict, match="cannot end"):
        service.jobs.finish_run(retry.id, "SUCCEEDED")


def test_runs_nobody_took_are_enqueued_again(service):
    from runner.jobs.execute import recover_stale_runs

    service.jobs.create(_job("lost", max_concurrent_runs=3))
    lost = service.jobs.start_run("lost")
    taken = service.jobs.start_run("lost")
    service.jobs.claim_run(taken.id, "w")
    sent = []
    assert recover_stale_runs(service, lambda n, a: sent.append((n, a)), 60) == [] and sent == []
    time.sleep(0.05)
    os.environ["MORTAR_JOB_REQUEUE_S"] = "0.01"
    try:
        recover_stale_runs(service, lambda n, a: sent.append((n, a)), 60)
        assert sent == [("runner.job_run", [lost.id])]
        assert service.jobs.get_run(lost.id).heartbeat_at > lost.heartbeat_at  # the clock restarts
    finally:
        del os.environ["MORTAR_JOB_REQUEUE_S"]
    service.jobs.claim_run(lost.id, "w")
    with pytest.raises(Conflict):
        service.jobs.claim_run(lost.id, "w2")  # the duplicate task finds it taken


def test_stop_and_timeout_states(service):
    service.jobs.create(_job("stoppable"))
    run = service.jobs.start_run("stoppable")
    service.jobs.claim_run(run.id, "w")
    assert service.jobs.stop_run(run.id).run.state == "STOPPING"
    assert service.jobs.heartbeat_run(run.id) == "STOPPING"
    assert service.jobs.finish_run(run.id, "SUCCEEDED").run.state == "STOPPED"
    with pytest.raises(Conflict, match="already ended"):
        service.jobs.stop_run(run.id)
    run = service.jobs.start_run("stoppable")
    service.jobs.claim_run(run.id, "w")
    ended = service.jobs.finish_run(run.id, "TIMEOUT", "too slow").run
    assert (ended.state, ended.error) == ("TIMEOUT", "too slow") and ended.ended_at >= ended.started_at


def test_a_run_stopped_before_it_started_is_passed_to_its_triggers(service):
    """Stopping a run no worker has ends it at once: its downstream triggers fire (the CLI and the web
    stop through this one function)."""
    from metastore.catalog.dispatch import stop_job_run

    service.jobs.create(_job("early"))
    service.jobs.create(_job("cleanup"))
    service.triggers.create(Trigger("on_stop", "CONDITIONAL", [Action(job="cleanup")],
                                    conditions=[Condition("STOPPED", job="early")]), activate=True)  # fmt: skip
    sent = []
    run = service.jobs.start_run("early")
    assert stop_job_run(service, run.id, lambda name, args: sent.append((name, args)), "cli").state == "STOPPED"
    [cleanup] = service.jobs.runs("cleanup")
    assert (cleanup.trigger, sent) == ("on_stop", [("runner.job_run", [cleanup.id])])


def test_bookmarks_commit_only_when_the_run_succeeds(service):
    service.jobs.create(_job("bm", bookmark="enable", max_concurrent_runs=5))
    bad = service.jobs.start_run("bm")
    service.jobs.claim_run(bad.id, "w")
    service.jobs.record_bookmark(bad.id, "raw.events", ["dt=1", "dt=2"])
    service.jobs.finish_run(bad.id, "FAILED", "boom")
    assert service.jobs.bookmark("bm", "raw.events") == []
    good = service.jobs.start_run("bm")
    service.jobs.claim_run(good.id, "w")
    service.jobs.record_bookmark(good.id, "raw.events", ["dt=1", "dt=2"])
    service.jobs.finish_run(good.id, "SUCCEEDED")
    assert service.jobs.bookmark("bm", "raw.events") == ["dt=1", "dt=2"]
    service.jobs.reset_bookmark("bm")
    assert service.jobs.bookmark("bm", "raw.events") == []


def test_bookmarks_hold_file_entries_of_unpartitioned_tables(service):
    service.jobs.create(_job("files", bookmark="enable", max_concurrent_runs=5))
    a, b = {"path": "/d/a.csv", "size": 10, "mtime": 1.5}, {"path": "/d/b.csv", "size": 3, "mtime": 2}
    bad = service.jobs.start_run("files")
    service.jobs.claim_run(bad.id, "w")
    service.jobs.record_bookmark(bad.id, "raw.flat", [a])
    service.jobs.finish_run(bad.id, "FAILED", "boom")
    assert service.jobs.bookmark("files", "raw.flat") == []  # a failed run commits nothing
    good = service.jobs.start_run("files")
    service.jobs.claim_run(good.id, "w")
    service.jobs.record_bookmark(good.id, "raw.flat", [b, a])
    service.jobs.record_bookmark(good.id, "raw.flat", [a])  # recorded twice: kept once
    service.jobs.finish_run(good.id, "SUCCEEDED")
    assert service.jobs.bookmark("files", "raw.flat") == [a, b]
    rewritten = {**a, "size": 11}  # the same path rewritten: a new entry
    third = service.jobs.start_run("files")
    service.jobs.claim_run(third.id, "w")
    service.jobs.record_bookmark(third.id, "raw.flat", [rewritten])
    service.jobs.finish_run(third.id, "SUCCEEDED")
    assert len(service.jobs.bookmark("files", "raw.flat")) == 3
    with pytest.raises(InvalidInput, match="needs a path, a size and an mtime"):
        service.jobs.record_bookmark(third.id, "raw.flat", [{"path": "/x"}])


def test_run_logs_are_appended_and_read_from_any_offset(service, tmp_path):
    from runner.jobs.logship import LogShipper

    service.jobs.create(_job("chatty"))
    run = service.jobs.start_run("chatty")
    assert service.jobs.read_log(run.id) == ("", 0)
    assert service.jobs.append_log(run.id, "héllo\n") == 6
    assert service.jobs.append_log(run.id, "") == 6
    assert service.jobs.append_log(run.id, "world\n") == 12
    assert service.jobs.read_log(run.id) == ("héllo\nworld\n", 12)
    assert service.jobs.read_log(run.id, 3) == ("lo\nworld\n", 12)
    assert service.jobs.read_log(run.id, 12) == ("", 12)
    text, nxt = service.jobs.read_log(run.id, 0, limit=2)  # a chunk at a time: follow the offsets
    assert (text, nxt) == ("héllo\n", 6) and service.jobs.read_log(run.id, nxt) == ("world\n", 12)
    with pytest.raises(NotFound):
        service.jobs.append_log(run.id + 1000, "x")
    # a chunk sent again because its answer was lost is stored once; a gap is refused
    assert service.jobs.append_log(run.id, "world\n", at=6) == 12
    assert service.jobs.append_log(run.id, "!\n", at=12) == 14
    with pytest.raises(Conflict, match="ends at 14, not 20"):
        service.jobs.append_log(run.id, "?", at=20)
    assert service.jobs.read_log(run.id) == ("héllo\nworld\n!\n", 14)
    # the worker's shipper: what the file gains, in order, a UTF-8 sequence cut in two included
    other = service.jobs.start_run("chatty", queue=True)
    path = tmp_path / "run.log"
    shipper = LogShipper(service, other.id, path)
    shipper.ship()  # no file yet: nothing to send
    path.write_bytes("a é".encode()[:-1])
    shipper.ship()
    with open(path, "ab") as f:
        f.write("é".encode()[-1:] + b" b\n")
    shipper.close()
    assert service.jobs.read_log(other.id) == ("a é b\n", 6)


def _finish(service, job: str, state: str):
    run = service.jobs.start_run(job)
    service.jobs.claim_run(run.id, "w")
    return service.jobs.finish_run(run.id, state).run


def test_conditional_triggers_fire_once_when_their_conditions_hold(service, tmp_path):
    for name in ("a", "b", "next", "cleanup"):
        service.jobs.create(_job(name, max_concurrent_runs=10))
    service.crawlers.create(Crawler(name="c", targets=[CrawlerTarget(str(tmp_path))], database="raw"))
    service.triggers.create(Trigger("both", "CONDITIONAL", [Action(job="next", arguments={"DAY": "1"})],
                                    conditions=[Condition("SUCCEEDED", job="a"), Condition("SUCCEEDED", job="b")]),
                            activate=True)  # fmt: skip
    service.triggers.create(Trigger("either", "CONDITIONAL", [Action(job="cleanup")], logical="ANY",
                                    conditions=[Condition("FAILED", job="a"), Condition("TIMEOUT", job="b")]),
                            activate=True)  # fmt: skip
    sent = []

    def send(name, args):
        sent.append((name, args))

    a = _finish(service, "a", "SUCCEEDED")
    assert on_job_run_ended(service, a, send) == []  # b has not succeeded yet
    b = _finish(service, "b", "SUCCEEDED")
    assert on_job_run_ended(service, b, send) == ["both"]
    assert on_job_run_ended(service, b, send) == []  # the same ending fires once
    [run] = service.jobs.runs("next")
    assert (run.trigger, run.arguments, sent) == ("both", {"--DAY": "1"}, [("runner.job_run", [run.id])])
    a2 = _finish(service, "a", "FAILED")
    assert on_job_run_ended(service, a2, send) == ["either"]
    service.triggers.deactivate("either")
    a3 = _finish(service, "a", "FAILED")
    assert on_job_run_ended(service, a3, send) == []
    with pytest.raises(InvalidInput, match="state 'RUNNING'"):
        service.triggers.create(
            Trigger("x", "CONDITIONAL", [Action(job="a")], conditions=[Condition("RUNNING", job="b")])
        )
    with pytest.raises(NotFound, match="job ghost does not exist"):
        service.triggers.create(Trigger("x", "ON_DEMAND", [Action(job="ghost")]))
    with pytest.raises(InvalidInput, match="needs a schedule"):
        service.triggers.create(Trigger("x", "SCHEDULED", [Action(crawler="c")]))


def test_scheduled_triggers_fire_once_across_schedulers(service):
    from datetime import UTC, datetime, timedelta

    service.jobs.create(_job("nightly"))
    service.triggers.create(Trigger("night", "SCHEDULED", [Action(job="nightly")], schedule="0 3 * * *"))
    sent = []
    schedulers = [Scheduler(service, lambda n, a: sent.append((n, a))) for _ in range(3)]
    later = datetime.now(UTC) + timedelta(days=1, hours=1)
    assert [s.tick(later) for s in schedulers] == [[], [], []]  # not activated
    service.triggers.activate("night")
    fired = [f for s in schedulers for f in s.tick(later + timedelta(days=1))]
    assert [(k, n) for k, n, _ in fired] == [("trigger", "night")]
    [run] = service.jobs.runs("nightly")
    assert sent == [("runner.job_run", [run.id])] and run.trigger == "night"


def test_workflow_runs_show_every_node_and_resume_from_the_failed_ones(service):
    from metastore.catalog.dispatch import resume_workflow, start_workflow
    from metastore.catalog.workflows import Workflow

    for name in ("extract", "load", "outside"):
        service.jobs.create(_job(name, max_concurrent_runs=5))
    service.workflows.create(Workflow("etl", default_run_properties={"day": "2024-01-01"}))
    service.triggers.create(Trigger("etl_start", "ON_DEMAND", [Action(job="extract")], workflow="etl"))
    service.triggers.create(Trigger("etl_next", "CONDITIONAL", [Action(job="load")], workflow="etl",
                                    conditions=[Condition("SUCCEEDED", job="extract")]))  # fmt: skip
    sent = []

    def send(name, args):
        sent.append(args[0])

    def end(run_id: int, state: str):
        service.jobs.claim_run(run_id, "w")
        return on_job_run_ended(service, service.jobs.finish_run(run_id, state).run, send)

    outside = service.jobs.start_run("extract")  # a run of the same job outside the workflow: no effect on it
    assert end(outside.id, "SUCCEEDED") == []
    wf = start_workflow(service, "etl", send, {"source": "s3://x"})
    assert (wf.state, wf.run_properties) == ("RUNNING", {"day": "2024-01-01", "source": "s3://x"})
    assert wf.nodes == {"job extract": "STARTING", "job load": None}
    [extract] = [r for r in service.jobs.runs("extract") if r.workflow_run_id == wf.id]
    assert sent == [extract.id]
    service.workflows.put_run_properties(wf.id, {"rows": 3})
    assert end(extract.id, "SUCCEEDED") == ["etl_next"]
    [load] = service.jobs.runs("load")
    assert (load.workflow_run_id, load.trigger) == (wf.id, "etl_next")
    assert end(load.id, "FAILED") == []
    done = service.workflows.get_run(wf.id)
    assert (done.state, done.nodes) == ("COMPLETED", {"job extract": "SUCCEEDED", "job load": "FAILED"})
    assert done.run_properties == {"day": "2024-01-01", "source": "s3://x", "rows": 3}
    assert resume_workflow(service, wf.id, send) == ["job load"]
    assert service.workflows.get_run(wf.id).state == "RUNNING"
    [again, _] = service.jobs.runs("load")
    assert again.workflow_run_id == wf.id
    end(again.id, "SUCCEEDED")
    done = service.workflows.get_run(wf.id)
    assert (done.state, done.nodes) == ("COMPLETED", {"job extract": "SUCCEEDED", "job load": "SUCCEEDED"})
    assert resume_workflow(service, wf.id, send) == []
    assert len(service.jobs.runs("extract")) == 2  # the workflow's and the one outside


# --- real workers -----------------------------------------------------------------------------------------



class Worker:
    def __init__(self, tmp: Path, env: dict, name: str = "worker"):
        self.log_path = tmp / f"{name}.log"
        self.env = env
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "mortar.cli", "worker", "--concurrency", "1"],
                                         env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        from runner.jobs.pool import kill_tree

        kill_tree(self.proc.pid)


class Env:
    def __init__(
        self, service: CatalogService, data_dir: Path, broker_url: str, worker: Worker | None = None
    ):
        from celery import Celery

        self.broker = "redis" if broker_url.startswith("redis") else "embedded"
        self.service = service
        self.data_dir = data_dir
        self.app = Celery(broker=broker_url)
        self.worker = worker

    def send(self, name: str, args: list) -> None:
        self.app.send_task(name, args=args)

    def wait_run(self, run_id: int, states=END_STATES, timeout: float = 240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            run = self.service.jobs.get_run(run_id)
            if run.state in states:
                return run
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} not in {states} after {timeout} s: {run}\n{self.worker_log()}")

    def wait_runs(self, job: str, count: int, timeout: float = 240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            runs = self.service.jobs.runs(job)
            if len(runs) >= count and runs[0].state in END_STATES:
                return runs[0]
            time.sleep(0.3)
        raise AssertionError(
            f"job {job}: {count} run(s) not ended in {timeout} s: {self.service.jobs.runs(job)}\n{self.worker_log()}"
        )

    def log(self, run_id: int) -> str:
        """The run's log as the catalog has it (what the worker shipped)."""
        text, _ = self.service.jobs.read_log(run_id)
        return text

    def worker_log(self, tail: int = 4000) -> str:
        return self.worker.log_path.read_text()[-tail:] if self.worker else ""


def _worker_env(data_dir: Path, broker_url: str, db_url: str, warehouse: str, **extra) -> dict:
    return {**os.environ, "MORTAR_DATA_DIR": str(data_dir), "MORTAR_BROKER_URL": broker_url,
            "MORTAR_DATABASE_URL": db_url, "MORTAR_WAREHOUSE": warehouse, "MORTAR_JOB_MASTER": "local[1]",
            "MORTAR_JOB_HEARTBEAT_S": "1", **extra}  # fmt: skip


@pytest.fixture(
    scope="module", params=[("sqlite", "embedded"), ("postgresql", "redis")], ids=lambda p: "-".join(p)
)
def cluster(request, tmp_path_factory, pg_databases):
    """A metastore server, and a worker with a warm pool of two Spark drivers, on one storage and broker."""
    backend, broker = request.param
    tmp = tmp_path_factory.mktemp(f"jobs-{backend}")
    (tmp / "data").mkdir()  # the embedded broker's folder: the test sends tasks before the worker is up
    broker_url = redis_url(8) if broker == "redis" else f"sqla+sqlite:///{tmp / 'data' / 'broker.db'}"
    ms = start_metastore(backend, tmp, database_url(backend, tmp, pg_databases))
    env = _worker_env(tmp / "data", broker_url, ms.database_url, str(ms.warehouse),
                      MORTAR_METASTORE_URI=ms.uri, MORTAR_JOB_WARM_POOL="2")  # fmt: skip
    worker = Worker(tmp, env)
    service = CatalogService.open(ms.database_url, str(ms.warehouse))
    yield Env(service, tmp / "data", broker_url, worker)
    worker.stop()
    service.ctx.engine.dispose()
    stop_metastore(ms)


DAILY = """
import sys
from pyspark.sql import functions as F
from runner.jobs.context import get_resolved_options, read_new_partitions, spark_session

args = get_resolved_options(sys.argv, ["SOURCE", "TARGET"])
spark = spark_session()
df = read_new_partitions(args["SOURCE"])
print("new partitions:", ",".join(sorted(r.dt for r in df.select("dt").distinct().collect())))
spark.sql("CREATE DATABASE IF NOT EXISTS mart")
out = df.groupBy("dt").agg(F.count("*").alias("events"), F.sum("amount").alias("amount"))
out.write.mode("append").partitionBy("dt").saveAsTable(args["TARGET"])
"""

REPORT = """
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()  # the run's session, already on the metastore
spark.sql("SELECT count(*) AS days, sum(events) AS events, sum(amount) AS amount FROM mart.daily") \\
    .write.mode("overwrite").saveAsTable("mart.report")
print("report written")
"""


def _events(root: Path, day: str, rows: list[tuple[str, int]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({"user": [u for u, _ in rows], "amount": [a for _, a in rows]}), folder / "part-0.parquet"
    )


def _read_table(service: CatalogService, db: str, table: str) -> list[dict]:
    import pyarrow.dataset as ds

    location = service.tables.get(db, table).sd.location.removeprefix("file:")
    data = ds.dataset(location, format="parquet", partitioning="hive").to_table()
    return sorted(data.to_pylist(), key=lambda r: (str(r.get("dt")), *(str(v) for v in r.values())))


@pytest.mark.timeout(600)
def test_crawler_and_jobs_chained_by_triggers_with_bookmarks(cluster, tmp_path):
    """A crawl → (trigger) a Spark job reading the crawled table's new partitions and appending to a
    partitioned table with saveAsTable → (trigger) a second Spark job summarising it. Then one more day of
    data: the chain runs again and the first job reads only the new partition."""
    svc, root = cluster.service, tmp_path / "events"
    _events(root, "2024-01-01", [("u1", 5), ("u2", 7)])
    _events(root, "2024-01-02", [("u1", 1)])
    svc.crawlers.create(Crawler(name="events", targets=[CrawlerTarget(str(root))], database="raw"))
    quick = {"spark.sql.shuffle.partitions": "1"}  # a session setting: the run stays in a warm driver
    svc.jobs.create(
        Job("daily", DAILY, bookmark="enable", default_arguments={"TARGET": "mart.daily"}, spark_conf=quick)
    )
    svc.jobs.create(Job("report", REPORT, spark_conf=quick))
    svc.triggers.create(Trigger("after_crawl", "CONDITIONAL", [Action(job="daily", arguments={"SOURCE": "raw.events"})],
                                conditions=[Condition("SUCCEEDED", crawler="events")]), activate=True)  # fmt: skip
    svc.triggers.create(Trigger("after_daily", "CONDITIONAL", [Action(job="report")],
                                conditions=[Condition("SUCCEEDED", job="daily")]), activate=True)  # fmt: skip
    from runner.crawler.crawl import run_crawler

    scheduler = Scheduler(svc, cluster.send)
    for day, expected in ((None, "2024-01-01,2024-01-02"), ("2024-01-03", "2024-01-03")):
        if day:
            if cluster.broker == "redis":
                break  # one Spark run fewer: the second round is the same on either broker
            _events(root, day, [("u3", 100), ("u4", 1), ("u5", 2)])
        assert run_crawler(svc, "events").state == "SUCCEEDED"
        assert [f[1] for f in scheduler.tick()] == ["after_crawl"]
        count = 2 if day else 1
        daily = cluster.wait_runs("daily", count)
        assert daily.state == "SUCCEEDED", (daily.error, cluster.log(daily.id))
        assert (daily.trigger, daily.arguments) == (
            "after_crawl",
            {"--TARGET": "mart.daily", "--SOURCE": "raw.events"},
        )
        assert f"new partitions: {expected}\n" in cluster.log(daily.id)
        report = cluster.wait_runs("report", count)
        assert report.state == "SUCCEEDED", (report.error, cluster.log(report.id))
        assert report.trigger == "after_daily" and "report written" in cluster.log(report.id)
    days = ["dt=2024-01-01", "dt=2024-01-02", "dt=2024-01-03"][: 2 if cluster.broker == "redis" else 3]
    expected = [("2024-01-01", 2, 12), ("2024-01-02", 1, 1), ("2024-01-03", 3, 103)][: len(days)]
    assert svc.partitions.names("mart", "daily") == days
    assert [
        (r["dt"], r["events"], r["amount"]) for r in _read_table(svc, "mart", "daily")
    ] == expected  # each day once
    assert _read_table(svc, "mart", "report") == [
        {"days": len(days), "events": sum(e[1] for e in expected), "amount": sum(e[2] for e in expected)}
    ]
    assert svc.jobs.bookmark("daily", "raw.events") == days


JVM_SAYS = """
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("python says hi", flush=True)
jvm = spark.sparkContext._jvm
jvm.java.lang.System.err.println("jvm says hi")
jvm.org.apache.logging.log4j.LogManager.getLogger("mortar.test").error("log4j says hi")
"""


@pytest.mark.timeout(300)
def test_a_warm_run_keeps_the_jvm_output_in_its_own_log(cluster):
    """The JVM of a warm driver started long before the run: its output still lands in the run's log."""
    if cluster.broker == "redis":
        pytest.skip("the driver's output does not depend on the broker: run once")
    svc = cluster.service
    svc.jobs.create(Job("jvm_says", JVM_SAYS))
    run = svc.jobs.start_run("jvm_says")
    cluster.send("runner.job_run", [run.id])
    done = cluster.wait_run(run.id)
    log = cluster.log(run.id)
    assert done.state == "SUCCEEDED", (done.error, log)
    assert f"run {run.id} of job jvm_says started in a warm driver" in cluster.worker_log(20000)
    assert log.startswith(f"# run {run.id} of job jvm_says")
    for line in ("python says hi\n", "jvm says hi\n", "log4j says hi"):
        assert line in log, log
    pool_logs = "".join(
        p.read_text(errors="replace") for p in (cluster.data_dir / "job-logs").glob("warm-pool-*")
    )
    assert "jvm says hi" not in pool_logs


NEW_FILES = """
from runner.jobs.context import read_new_partitions

df = read_new_partitions("flat.items")  # no partition keys: read by file
print("ids:", ",".join(str(r.id) for r in df.orderBy("id").collect()))
"""


@pytest.mark.timeout(300)
def test_bookmarks_of_an_unpartitioned_table_read_only_new_files(cluster, tmp_path):
    """Run 1 reads files a and b (not _SUCCESS); c is added; run 2 reads only c."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from runner.crawler.crawl import run_crawler

    if cluster.broker == "redis":
        pytest.skip("bookmarks do not depend on the broker: run once")
    svc, root = cluster.service, tmp_path / "items"
    root.mkdir()

    def write(name: str, ids: list[int]) -> None:
        pq.write_table(pa.table({"id": ids, "v": [str(i) for i in ids]}), root / f"{name}.parquet")

    write("a", [1, 2])
    write("b", [3])
    (root / "_SUCCESS").write_text("")
    svc.crawlers.create(Crawler(name="items", targets=[CrawlerTarget(str(root))], database="flat"))
    assert (
        run_crawler(svc, "items").state == "SUCCEEDED"
        and svc.tables.get("flat", "items").partition_keys == []
    )
    svc.jobs.create(
        Job("incremental", NEW_FILES, bookmark="enable", spark_conf={"spark.sql.shuffle.partitions": "1"})
    )

    def run_once() -> str:
        run = svc.jobs.start_run("incremental")
        cluster.send("runner.job_run", [run.id])
        done = cluster.wait_run(run.id)
        assert done.state == "SUCCEEDED", (done.error, cluster.log(run.id))
        return cluster.log(run.id)

    assert "ids: 1,2,3\n" in run_once()
    write("c", [4, 5])
    assert "ids: 4,5\n" in run_once()
    done = svc.jobs.bookmark("incremental", "flat.items")
    assert sorted(Path(e["path"]).name for e in done) == ["a.parquet", "b.parquet", "c.parquet"]
    assert all(e["size"] > 0 and e["mtime"] > 0 for e in done)


@pytest.mark.timeout(300)
def test_a_job_generated_from_a_mapping_creates_then_fills_its_target(cluster, tmp_path):
    """A crawled partitioned table mapped (renamed, cast, one column left out) to a new partitioned table:
    run 1 creates it; run 2, with the bookmark on, appends only the new day through insertInto."""
    from metastore.catalog.mapping import ColumnMapping, Mapping, mapping_script
    from metastore.catalog.types import Database
    from runner.crawler.crawl import run_crawler

    if cluster.broker == "redis":
        pytest.skip("the generated script does not depend on the broker: run once")
    svc, root = cluster.service, tmp_path / "clicks"
    _events(root, "2024-05-01", [("u1", 5), ("u2", 7)])
    svc.crawlers.create(Crawler(name="clicks", targets=[CrawlerTarget(str(root))], database="raw"))
    assert run_crawler(svc, "clicks").state == "SUCCEEDED"
    mapping = Mapping("raw.clicks", "mart.spend", partition_by=["dt"], columns=[
        ColumnMapping("user", "customer"), ColumnMapping("amount", "amount_eur", "double"), ColumnMapping("dt")])  # fmt: skip
    if "mart" not in svc.databases.list():
        svc.databases.create(Database("mart"))
    svc.jobs.create(Job("spend", mapping_script(svc, mapping), bookmark="enable",
                        spark_conf={"spark.sql.shuffle.partitions": "1"}))  # fmt: skip

    def run_once() -> str:
        run = svc.jobs.start_run("spend")
        cluster.send("runner.job_run", [run.id])
        done = cluster.wait_run(run.id)
        assert done.state == "SUCCEEDED", (done.error, cluster.log(run.id))
        return cluster.log(run.id)

    assert "raw.clicks -> mart.spend: mapped 3 columns" in run_once()
    table = svc.tables.get("mart", "spend")
    assert [(c.name, c.type) for c in table.sd.cols] == [("customer", "string"), ("amount_eur", "double")]
    assert [c.name for c in table.partition_keys] == ["dt"]
    _events(root, "2024-05-02", [("u3", 1)])
    assert run_crawler(svc, "clicks").state == "SUCCEEDED"
    # the target exists now: the regenerated script inserts by the target's column order
    svc.jobs.update("spend", Job("spend", mapping_script(svc, mapping), bookmark="enable",
                                 spark_conf={"spark.sql.shuffle.partitions": "1"}))  # fmt: skip
    assert "insertInto" in svc.jobs.get("spend").script
    run_once()
    assert svc.partitions.names("mart", "spend") == ["dt=2024-05-01", "dt=2024-05-02"]
    assert [(r["dt"], r["customer"], r["amount_eur"]) for r in _read_table(svc, "mart", "spend")] == [
        ("2024-05-01", "u1", 5.0), ("2024-05-01", "u2", 7.0), ("2024-05-02", "u3", 1.0)]  # each row once


@pytest.mark.timeout(300)
def test_a_job_needing_its_own_spark_context_runs_cold(cluster):
    """A SparkContext-level setting cannot be given to a warm driver: the run gets a fresh driver."""
    if cluster.broker == "redis":
        pytest.skip("the cold path does not depend on the broker: run once")
    svc = cluster.service
    script = ("from runner.jobs.context import spark_session\n"
              "spark = spark_session()\n"
              "print('memory', spark.sparkContext.getConf().get('spark.executor.memory'))\n"
              "print('databases', [r[0] for r in spark.sql('SHOW DATABASES').collect()])\n")  # fmt: skip
    svc.jobs.create(Job("cold", script, spark_conf={"spark.executor.memory": "700m"}))
    run = svc.jobs.start_run("cold")
    cluster.send("runner.job_run", [run.id])
    done = cluster.wait_run(run.id)
    assert done.state == "SUCCEEDED", (done.error, cluster.log(run.id))
    log = cluster.log(run.id)
    assert "memory 700m\n" in log and "'default'" in log.split("databases", 1)[1]  # on the metastore
    assert f"run {run.id} of job cold started in a cold driver" in cluster.worker_log(20000)


SLEEPER = """
import os, subprocess, sys, time
from runner.jobs.context import get_resolved_options

args = get_resolved_options(sys.argv, ["PIDS"])
child = subprocess.Popen(["sleep", "600"])
with open(args["PIDS"], "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
print("sleeping in", os.getpid(), flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_pids(path: Path, timeout: float = 60) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and len(path.read_text().split()) == 2:
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.1)
    raise AssertionError(f"{path} was not written")


def _job_cli(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from mortar.job_cli import job; job()", *args],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.timeout(300)
def test_timeout_kills_the_process_tree_and_logs_follow(cluster, tmp_path):
    svc = cluster.service
    svc.jobs.create(Job("sleepy", SLEEPER, job_type="pythonshell", timeout_s=5))
    run = svc.jobs.start_run("sleepy", {"PIDS": str(tmp_path / "pids")})
    cluster.send("runner.job_run", [run.id])
    pids = _wait_pids(tmp_path / "pids")
    assert all(psutil.pid_exists(p) for p in pids)
    follow = _job_cli(cluster.data_dir, "logs", str(run.id), "--follow", env=cluster.worker.env)
    out, err = follow.communicate(timeout=120)  # returns by itself when the run ends
    ended = svc.jobs.get_run(run.id)
    assert (ended.state, ended.error) == ("TIMEOUT", "the run exceeded its timeout of 5 s")
    assert f"sleeping in {pids[0]}" in out and "timed out after 5 s" in out, (out, err)
    assert all(_gone(p) for p in pids)  # the driver and the process it started


@pytest.mark.timeout(300)
def test_stop_kills_the_run(cluster, tmp_path):
    svc = cluster.service
    svc.jobs.create(Job("stopme", SLEEPER, job_type="pythonshell"))
    run = svc.jobs.start_run("stopme", {"PIDS": str(tmp_path / "pids")})
    cluster.send("runner.job_run", [run.id])
    pids = _wait_pids(tmp_path / "pids")
    assert cluster.wait_run(run.id, ("RUNNING",)).state == "RUNNING"
    assert svc.jobs.stop_run(run.id).run.state == "STOPPING"
    assert cluster.wait_run(run.id).state == "STOPPED"
    assert all(_gone(p) for p in pids)


@pytest.mark.timeout(300)
def test_a_workflow_on_the_worker_crawls_then_runs_jobs_sharing_run_properties(cluster, tmp_path):
    """crawler (started by the workflow's on-demand trigger) → its SUCCEEDED starts a job that writes a run
    property → that job's SUCCEEDED starts one that reads it; the crawl and the jobs run on the worker."""
    from metastore.catalog.dispatch import start_workflow
    from metastore.catalog.workflows import Workflow
    from tests.crawler_data import csv_text, write_files

    svc = cluster.service
    write_files(tmp_path / "wf_src", {"a.csv": csv_text(["id", "v"], [[1, 2], [3, 4]])})
    svc.crawlers.create(
        Crawler(name="wf_src", targets=[CrawlerTarget(str(tmp_path / "wf_src"))], database="wf")
    )
    svc.jobs.create(Job("wf_count", "from runner.jobs.context import put_run_properties\n"
                                    "put_run_properties({'rows': 3})\n", job_type="pythonshell"))  # fmt: skip
    svc.jobs.create(Job("wf_print", "import mortar_job\nprint('rows', mortar_job.get_run_properties()['rows'])\n",
                        job_type="pythonshell"))  # fmt: skip
    svc.workflows.create(Workflow("props"))
    svc.triggers.create(Trigger("props_start", "ON_DEMAND", [Action(crawler="wf_src")], workflow="props"))
    svc.triggers.create(Trigger("props_crawled", "CONDITIONAL", [Action(job="wf_count")], workflow="props",
                                conditions=[Condition("SUCCEEDED", crawler="wf_src")]))  # fmt: skip
    svc.triggers.create(Trigger("props_next", "CONDITIONAL", [Action(job="wf_print")], workflow="props",
                                conditions=[Condition("SUCCEEDED", job="wf_count")]))  # fmt: skip
    run = start_workflow(svc, "props", cluster.send)
    assert run.nodes["crawler wf_src"] == "RUNNING"
    deadline = time.time() + 120
    while (wf := svc.workflows.get_run(run.id)).state == "RUNNING" and time.time() < deadline:
        time.sleep(0.3)
    assert (wf.state, wf.nodes) == ("COMPLETED", {"crawler wf_src": "SUCCEEDED", "job wf_count": "SUCCEEDED",
                                                  "job wf_print": "SUCCEEDED"}), cluster.worker_log()  # fmt: skip
    assert svc.tables.get("wf", "wf_src") is not None
    [printed] = svc.jobs.runs("wf_print")
    assert "rows 3\n" in cluster.log(printed.id) and wf.run_properties == {"rows": 3}


FLAKY = """
import os, sys, time
from runner.jobs.context import get_resolved_options

args = get_resolved_options(sys.argv, ["PIDS"])
if os.environ["MORTAR_JOB_ATTEMPT"] == "0":
    with open(args["PIDS"], "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")
    time.sleep(600)
print("attempt", os.environ["MORTAR_JOB_ATTEMPT"], "done")
"""


@pytest.mark.timeout(300)
def test_a_killed_worker_leaves_no_run_running(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    broker_url = f"sqla+sqlite:///{data_dir / 'broker.db'}"
    db_url = f"sqlite:///{tmp_path / 'catalog.db'}"
    service = CatalogService.open(db_url, str(tmp_path / "wh"))
    env = _worker_env(data_dir, broker_url, db_url, str(tmp_path / "wh"), MORTAR_JOB_WARM_POOL="0")
    cluster = Env(service, data_dir, broker_url, Worker(tmp_path, env, "worker1"))
    try:
        service.jobs.create(Job("flaky", FLAKY, job_type="pythonshell", max_retries=1))
        run = service.jobs.start_run("flaky", {"PIDS": str(tmp_path / "pids")})
        cluster.send("runner.job_run", [run.id])
        driver, celery_child = _wait_pids(tmp_path / "pids")
        assert cluster.wait_run(run.id, ("RUNNING",)).worker.endswith(f":{celery_child}")
        # the machine goes away: the worker and all its processes die at once
        tree = [
            psutil.Process(cluster.worker.proc.pid),
            *psutil.Process(cluster.worker.proc.pid).children(recursive=True),
        ]
        for p in tree:
            p.kill()
        cluster.worker.proc.wait(10)
        scheduler = Scheduler(service, cluster.send)
        scheduler.job_stale_after_s = 2
        deadline = time.time() + 60
        while service.jobs.get_run(run.id).state == "RUNNING" and time.time() < deadline:
            scheduler.tick()
            time.sleep(0.5)
        failed = service.jobs.get_run(run.id)
        assert (failed.state, failed.error) == ("FAILED", STALE_RUN_ERROR)
        assert _gone(driver)  # it died with its worker
        [retry, _] = service.jobs.runs("flaky")
        assert (retry.attempt, retry.previous_run_id, retry.arguments) == (1, run.id, run.arguments)
        cluster.worker = Worker(tmp_path, env, "worker2")
        done = cluster.wait_run(retry.id)
        assert done.state == "SUCCEEDED", (done.error, cluster.log(retry.id))
        assert "attempt 1 done" in cluster.log(retry.id)
    finally:
        cluster.worker.stop()
        service.ctx.engine.dispose()


# --- the command line ---------------------------------------------------------------------------------------


def test_cli_jobs_and_triggers(tmp_path):
    env = {**os.environ, "MORTAR_DATA_DIR": str(tmp_path / "mortar")}
    for k in ("MORTAR_DATABASE_URL", "MORTAR_WAREHOUSE", "MORTAR_BROKER_URL"):
        env.pop(k, None)

    def cli(group: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", f"from mortar.job_cli import {group}; {group}()", *args],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip

    script = tmp_path / "hello.py"
    script.write_text("import sys\nfrom runner.jobs.context import get_resolved_options\n"
                      "print('hello', get_resolved_options(sys.argv, ['WHO'])['WHO'])\n")  # fmt: skip
    made = cli(
        "job", "create", "hello", "--script", str(script), "--type", "pythonshell", "--arg", "WHO=world"
    )
    assert made.returncode == 0, made.stderr
    assert "script version 1" in made.stdout
    ran = cli("job", "run", "hello", "--here", "--arg", "WHO=you")
    assert ran.returncode == 0 and "SUCCEEDED" in ran.stdout, ran.stderr
    run_id = ran.stdout.split()[1]
    assert "hello you\n" in cli("job", "logs", run_id).stdout
    runs = cli("job", "runs", "hello").stdout.splitlines()
    assert runs[1].split()[:3] == [run_id, "hello", "SUCCEEDED"]
    script.write_text("raise ValueError('no')\n")
    assert "script version 2" in cli("job", "update", "hello", "--script", str(script)).stdout
    failed = cli("job", "run", "hello", "--here")
    assert failed.returncode == 1 and "FAILED: ValueError: no" in failed.stdout
    assert "print('hello'" in cli("job", "show", "hello", "--script", "--version", "1").stdout
    assert '"script_versions": [\n    1,\n    2\n  ]' in cli("job", "show", "hello").stdout
    assert cli("job", "list").stdout.splitlines()[1].split()[:4] == ["hello", "pythonshell", "v2", "disable"]
    made = cli("trigger", "create", "chain", "--type", "conditional", "--when-job", "hello=SUCCEEDED", "--job", "hello",
               "--arg", "WHO=again", "--activate")  # fmt: skip
    assert made.returncode == 0 and "ACTIVATED" in made.stdout, made.stderr
    assert cli("trigger", "list").stdout.splitlines()[1].split() == [
        "chain",
        "CONDITIONAL",
        "ACTIVATED",
        "hello=SUCCEEDED",
        "job",
        "hello",
    ]
    assert "DEACTIVATED" in cli("trigger", "deactivate", "chain").stdout
    bad = cli("trigger", "create", "x", "--type", "conditional", "--when-job", "hello=DONE", "--job", "hello")
    assert bad.returncode != 0 and "state 'DONE' is not one of" in bad.stderr
    busy = cli("job", "delete", "nope")
    assert busy.returncode != 0 and "job nope does not exist" in busy.stderr


def test_crawler_runs_fire_conditional_and_event_triggers(service, tmp_path):
    from metastore.catalog.dispatch import on_crawler_runs
    from runner.crawler.crawl import run_crawler
    from tests.crawler_data import csv_text, write_files

    root = tmp_path / "sales"
    write_files(root, {"year=2024/a.csv": csv_text(["id", "v"], [[1, 2]])})
    service.crawlers.create(Crawler(name="sales", targets=[CrawlerTarget(str(root))], database="raw"))
    service.jobs.create(_job("load", max_concurrent_runs=10))
    service.triggers.create(Trigger("on_new", "EVENT", [Action(job="load", arguments={"MODE": "new"})],
                                    conditions=[Condition("PARTITIONS_ADDED", crawler="sales")]), activate=True)  # fmt: skip
    service.triggers.create(Trigger("on_done", "CONDITIONAL", [Action(job="load")],
                                    conditions=[Condition("SUCCEEDED", crawler="sales")]), activate=True)  # fmt: skip
    sent = []
    assert on_crawler_runs(service, lambda n, a: sent.append(a)) == []  # no run yet
    assert run_crawler(service, "sales").metrics.partitions_added == 1
    assert sorted(on_crawler_runs(service, lambda n, a: sent.append(a))) == ["on_done", "on_new"]
    assert on_crawler_runs(service, lambda n, a: sent.append(a)) == []  # each run fires once
    assert run_crawler(service, "sales").metrics.partitions_added == 0
    assert on_crawler_runs(service, lambda n, a: sent.append(a)) == ["on_done"]  # nothing added: no event
    assert sorted(r.trigger for r in service.jobs.runs("load")) == ["on_done", "on_done", "on_new"]
    assert [r.arguments for r in service.jobs.runs("load") if r.trigger == "on_new"] == [{"--MODE": "new"}]
    assert len(sent) == 3
    with pytest.raises(InvalidInput, match="event trigger"):
        service.triggers.create(
            Trigger(
                "bad", "EVENT", [Action(job="load")], conditions=[Condition("SUCCEEDED", crawler="sales")]
            )
        )
