"""Jobs on a real Spark standalone cluster (issue 15): a master and two workers started from the
`spark-class` inside pyspark, `job_master = spark://...`; a warm run and a cold run read and write catalog
tables with their executors on the cluster's workers, as the master's and the workers' JSON status say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.jobs import Job
from tests.conftest import free_port, start_metastore, stop_metastore
from tests.test_jobs import Env, Worker, _worker_env


def _spark_class() -> str:
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-class")


def _json(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=10) as r:
        return json.load(r)


class StandaloneCluster:
    """A Spark standalone master and two workers (2 slots and 1200 MB each), small and local."""

    def __init__(self, tmp: Path):
        self.port, self.ui = free_port(), free_port()
        self.worker_uis = [free_port(), free_port()]
        self.procs: list[subprocess.Popen] = []
        env = {**os.environ, "SPARK_DAEMON_MEMORY": "256m", "PYSPARK_PYTHON": sys.executable,
               "SPARK_LOG_DIR": str(tmp), "SPARK_WORKER_DIR": str(tmp / "work")}  # fmt: skip
        self._start(tmp / "master.log", env, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(self.ui))  # fmt: skip
        self.url = f"spark://127.0.0.1:{self.port}"
        self._wait(lambda: _json(self.ui), "the master")
        for i, ui in enumerate(self.worker_uis):
            self._start(tmp / f"spark-worker{i}.log", env, "org.apache.spark.deploy.worker.Worker", self.url,
                        "--host", "127.0.0.1", "--cores", "2", "--memory", "1200m", "--webui-port", str(ui),
                        "--work-dir", str(tmp / f"work{i}"))  # fmt: skip
        self._wait(lambda: _json(self.ui)["aliveworkers"] == 2 or None, "two alive workers")

    def _start(self, log: Path, env: dict, *args: str) -> None:
        with open(log, "wb") as out:
            self.procs.append(subprocess.Popen([_spark_class(), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                               start_new_session=True))  # fmt: skip

    def _wait(self, probe, what: str, timeout: float = 600) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if probe():
                    return
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError(f"the Spark cluster: no {what} after {timeout} s")

    def executors_of(self, app_id: str) -> list[int]:
        """The UI ports of the cluster's workers that ran (or run) an executor of application `app_id`."""
        return [ui for ui in self.worker_uis
                if any(e.get("appid") == app_id for k in ("executors", "finishedexecutors") for e in _json(ui).get(k, []))]  # fmt: skip

    def stop(self) -> None:
        from runner.jobs.pool import kill_tree

        for p in reversed(self.procs):
            kill_tree(p.pid)


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spark-cluster")
    cluster = StandaloneCluster(tmp)
    yield cluster
    cluster.stop()


WRITE = """
from runner.jobs.context import spark_session

spark = spark_session()
print("app", spark.sparkContext.applicationId, "master", spark.sparkContext.master, flush=True)
spark.sql("CREATE DATABASE IF NOT EXISTS sc")
spark.range(0, 1000, 1, 4).selectExpr("id", "id % 7 AS k").write.mode("overwrite").saveAsTable("sc.numbers")
print("written")
"""

READ = """
from runner.jobs.context import spark_session

spark = spark_session()
print("app", spark.sparkContext.applicationId, "master", spark.sparkContext.master, flush=True)
out = spark.table("sc.numbers").groupBy("k").count()
out.write.mode("overwrite").saveAsTable("sc.counts")
print("groups", spark.table("sc.counts").count())
"""


@pytest.mark.timeout(1800)
def test_warm_and_cold_runs_execute_on_the_standalone_cluster(spark_cluster, tmp_path):
    conf_dir = tmp_path / "spark-conf"  # what every driver of this worker asks of the cluster
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text("spark.cores.max 2\nspark.executor.cores 1\n"
                                                  "spark.executor.memory 512m\n")  # fmt: skip
    (tmp_path / "data").mkdir()
    broker_url = f"sqla+sqlite:///{tmp_path / 'data' / 'broker.db'}"
    ms = start_metastore("sqlite", tmp_path, f"sqlite:///{tmp_path / 'catalog.db'}")
    env = _worker_env(tmp_path / "data", broker_url, ms.database_url, str(ms.warehouse), MORTAR_METASTORE_URI=ms.uri,
                      MORTAR_JOB_WARM_POOL="1", MORTAR_JOB_MASTER=spark_cluster.url, SPARK_CONF_DIR=str(conf_dir),
                      PYSPARK_PYTHON=sys.executable)  # fmt: skip
    service = CatalogService.open(ms.database_url, str(ms.warehouse))
    jobs = Env(service, tmp_path / "data", broker_url, Worker(tmp_path, env))
    try:
        service.jobs.create(Job("write_numbers", WRITE))  # warm: a driver of the pool, on the cluster
        service.jobs.create(Job("count_numbers", READ, spark_conf={"spark.executor.memory": "512m"}))  # cold
        for name, warm in (("write_numbers", True), ("count_numbers", False)):
            run = service.jobs.start_run(name)
            jobs.app.send_task("runner.job_run", args=[run.id], queue="mortar.jobs")
            done = jobs.wait_run(run.id, timeout=1200)
            log = jobs.log(run.id)
            assert done.state == "SUCCEEDED", (done.error, log, jobs.worker_log())
            assert done.warm is warm and f"master {spark_cluster.url}" in log, log
            app_id = log.split("app ", 1)[1].split()[0]
            status = _json(spark_cluster.ui)
            assert app_id in {a["id"] for k in ("activeapps", "completedapps") for a in status[k]}, status
            assert len(spark_cluster.executors_of(app_id)) == 2, (app_id, status)  # one on each worker
        assert "groups 7" in jobs.log(service.jobs.runs("count_numbers")[0].id)
        assert [c.name for c in service.tables.get("sc", "counts").sd.cols] == ["k", "count"]
    finally:
        jobs.worker.stop()
        service.ctx.engine.dispose()
        stop_metastore(ms)
