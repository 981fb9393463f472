"""Crawlers end to end: real files, real storage, Spark reading what was crawled, S3 through a local
S3 server, and crawls run by real Celery workers (embedded broker and Redis)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metastore.catalog import CatalogService, Conflict
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from runner.crawler.crawl import CRAWLER_PARAM, DEPRECATED_PARAM, run_crawler
from tests.conftest import database_url, free_port, redis_url
from tests.crawler_data import csv_text, json_lines, parquet_bytes, spark_cases, write_files

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, pg_databases):
    svc = CatalogService.open(database_url(request.param, tmp_path, pg_databases), str(tmp_path / "wh"))
    yield svc
    svc.ctx.engine.dispose()


def make_data(root: Path):
    cases = spark_cases(root)
    for case in cases:
        write_files(root / case.name, case.files)
    write_files(root / "broken", {"bad.parquet": b"PAR1\x00\x01garbage-without-footer", "_SUCCESS": b""})
    write_files(root / "pq_plain", {"_SUCCESS": b"", ".part-0.crc": b"x"})
    return cases


def crawler(name: str, root: Path, **kw) -> Crawler:
    return Crawler(name=name, targets=[CrawlerTarget(str(root))], database="crawled", **kw)


def test_crawl_creates_a_table_per_folder(service, tmp_path):
    root = tmp_path / "data"
    cases = make_data(root)
    service.crawlers.create(crawler("all", root))
    outcome = run_crawler(service, "all")
    assert outcome.state == "SUCCEEDED", outcome.error
    tables = {t.name: t for t in service.tables.get_many("crawled", service.tables.list("crawled"))}
    assert set(tables) == {c.name for c in cases}
    for case in cases:
        table = tables[case.name]
        assert [k.name for k in table.partition_keys] == case.partition_keys, case.name
        if case.types:
            # OpenCSVSerde (quoted CSV) reads strings only: its Hive columns are strings, Spark's are typed
            quoted = table.sd.serde.serialization_lib.endswith("OpenCSVSerde")
            assert [c.type for c in table.sd.cols] == (["string"] * len(case.types) if quoted else case.types), case.name
        assert table.parameters[CRAWLER_PARAM] == "all"
        assert table.table_type == "EXTERNAL_TABLE"
        assert table.sd.location == f"file:{root / case.name}"
    m = outcome.metrics
    assert m.tables_created == len(cases)
    assert m.partitions_added == sum(len({str(Path(f).parent) for f in c.files}) for c in cases if c.partition_keys)
    assert [s["path"].endswith("broken/bad.parquet") for s in m.skipped] == [True]
    assert m.files_skipped == 1
    runs = service.crawlers.runs("all")
    assert [r.state for r in runs] == ["SUCCEEDED"] and runs[0].metrics["tables_created"] == len(cases)


def test_dry_run_says_what_and_why_and_changes_nothing(service, tmp_path):
    root = tmp_path / "data"
    write_files(root / "sales", {"year=2024/a.csv": csv_text(["id", "amount"], [[1, 2.5], [2, 3.0]]),
                                 "year=2025/b.csv": csv_text(["id", "amount"], [[3, 1.0]])})  # fmt: skip
    service.crawlers.create(crawler("dry", root / "sales"))
    outcome = run_crawler(service, "dry", dry_run=True)
    kinds = [(a.kind, a.table) for a in outcome.actions]
    assert kinds == [("create_database", "crawled"), ("create_table", "sales"), ("add_partitions", "sales")]
    assert "share one csv schema" in outcome.actions[1].reason
    assert outcome.actions[2].detail == {"count": 2}
    assert service.databases.list() == ["default"]
    assert service.crawlers.runs("dry") == []
    assert service.crawlers.file_index("dry") == {}


def test_recrawl_reads_only_what_changed(service, tmp_path):
    root = tmp_path / "data"
    write_files(root / "events", {f"dt=2024-01-0{i}/part.json": json_lines([{"id": i, "kind": "a"}]) for i in (1, 2)})
    service.crawlers.create(crawler("inc", root / "events", delete_behavior="DELETE_FROM_DATABASE"))
    first = run_crawler(service, "inc")
    assert (first.metrics.files_scanned, first.metrics.partitions_added) == (2, 2)

    again = run_crawler(service, "inc")
    assert (again.metrics.files_scanned, again.metrics.files_unchanged, again.actions) == (0, 2, [])

    write_files(root / "events", {"dt=2024-01-03/part.json": json_lines([{"id": 3, "kind": "b", "score": 1.5}])})
    grown = run_crawler(service, "inc")
    assert grown.metrics.files_scanned == 1
    assert grown.metrics.partitions_added == 1
    assert grown.metrics.tables_updated == 1  # the new column
    table = service.tables.get("crawled", "events")
    assert [(c.name, c.type) for c in table.sd.cols] == [("id", "bigint"), ("kind", "string"), ("score", "double")]
    # the schema's versions and the audit name the crawler, not "anonymous"
    assert [v.created_by for v in service.tables.versions("crawled", "events")] == ["crawler:inc"] * 2
    assert {r.user for r in service.audit.records("crawled", "events")} == {"crawler:inc"}
    assert service.partitions.names("crawled", "events") == ["dt=2024-01-01", "dt=2024-01-02", "dt=2024-01-03"]

    shutil.rmtree(root / "events" / "dt=2024-01-01")
    shrunk = run_crawler(service, "inc")
    assert shrunk.metrics.partitions_deleted == 1
    assert service.partitions.names("crawled", "events") == ["dt=2024-01-02", "dt=2024-01-03"]
    assert (root / "events" / "dt=2024-01-02").exists()  # the catalog forgets; the data stays


def test_vanished_table_is_deprecated_not_dropped(service, tmp_path):
    root = tmp_path / "data"
    write_files(root / "a", {"x.csv": csv_text(["k", "v"], [["p", 1]])})
    write_files(root / "b", {"y.parquet": parquet_bytes(_arrow({"n": [1, 2]}))})
    service.crawlers.create(crawler("dep", root))
    assert run_crawler(service, "dep").metrics.tables_created == 2
    shutil.rmtree(root / "b")
    outcome = run_crawler(service, "dep")
    assert [(a.kind, a.table) for a in outcome.actions] == [("deprecate_table", "b")]
    assert DEPRECATED_PARAM in service.tables.get("crawled", "b").parameters
    assert DEPRECATED_PARAM not in service.tables.get("crawled", "a").parameters


def test_one_run_at_a_time(service, tmp_path):
    root = tmp_path / "data"
    write_files(root / "t", {"x.csv": csv_text(["k"], [["a"]])})
    service.crawlers.create(crawler("solo", root))
    service.crawlers.start_run("solo")
    with pytest.raises(Conflict, match="already running"):
        run_crawler(service, "solo")


def test_stopped_run_ends_cancelled_and_its_worker_stops(service, tmp_path):
    import threading

    root = tmp_path / "data"
    write_files(root / "many", {f"f{i:04d}.csv": csv_text(["k"], [[i]]) for i in range(400)})
    service.crawlers.create(crawler("long", root / "many"))
    started = threading.Event()
    cancelled = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 1:
            started.set()
            assert cancelled.wait(30)

    result = {}
    runner = threading.Thread(target=lambda: result.update(outcome=run_crawler(service, "long", progress=progress)))
    runner.start()
    assert started.wait(30)
    run = service.crawlers.current_run("long")
    service.crawlers.finish_run(run.id, "CANCELLED", {}, "stopped by test")  # what `mortar crawler stop` does
    cancelled.set()
    runner.join(60)
    assert result["outcome"].state == "ENDED_ELSEWHERE"
    assert result["outcome"].metrics.files_scanned < 400  # it stopped before reading everything
    assert [(r.state, r.error) for r in service.crawlers.runs("long")] == [("CANCELLED", "stopped by test")]
    assert service.tables.list("crawled") == []


def _arrow(columns: dict):
    import pyarrow as pa

    return pa.table(columns)


# --- Spark reads what was crawled ---------------------------------------------------------------------------


@pytest.mark.timeout(600)
@pytest.mark.parametrize("metastore", ["sqlite"], indirect=True)
def test_spark_reads_the_crawled_tables(metastore, tmp_path):
    root = tmp_path / "data"
    cases = make_data(root)
    service = CatalogService.open(metastore.database_url, str(metastore.warehouse))
    service.crawlers.create(crawler("spark", root))
    assert run_crawler(service, "spark").state == "SUCCEEDED"
    queries = {c.name: c.query.format(t=f"crawled.{c.name}") for c in cases}
    (tmp_path / "q.json").write_text(json.dumps(queries))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.crawler_data", "--uri", metastore.uri, "--warehouse", str(metastore.warehouse),
         "--queries", str(tmp_path / "q.json"), "--out", str(tmp_path / "a.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = json.loads((tmp_path / "a.json").read_text())
    wrong = {c.name: answers[c.name] for c in cases if answers[c.name].get("rows") != c.expected}
    assert wrong == {}


# --- S3, through a local S3-compatible server ---------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s",
                 region_name="us-east-1").create_bucket(Bucket="lake")  # fmt: skip
    # the administrator allows the S3 server the crawlers reach (the allowed_paths setting)
    monkeypatch.setenv("MORTAR_ALLOWED_PATHS", f"{os.environ['MORTAR_ALLOWED_PATHS']},{endpoint}")
    yield {"endpoint_url": endpoint, "key": "k", "secret": "s"}
    server.stop()


def test_crawl_s3(service, s3):
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    for path, data in {
        "lake/raw/orders/dt=2024-01-01/a.csv": csv_text(["id", "total"], [[1, 9.5]]),
        "lake/raw/orders/dt=2024-01-02/b.csv": csv_text(["id", "total"], [[2, 1.25], [3, 4.0]]),
        "lake/raw/clicks/c.json": json_lines([{"user": "u1", "n": 3}]),
        "lake/raw/clicks/_SUCCESS": "",
    }.items():
        with fs.open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    service.crawlers.create(Crawler(name="s3c", targets=[CrawlerTarget("s3://lake/raw")], database="lake",
                                    storage_options=s3))  # fmt: skip
    outcome = run_crawler(service, "s3c")
    assert outcome.state == "SUCCEEDED", outcome.error
    orders = service.tables.get("lake", "orders")
    assert orders.sd.location == "s3://lake/raw/orders"
    assert [(c.name, c.type) for c in orders.sd.cols] == [("id", "bigint"), ("total", "double")]
    assert service.partitions.names("lake", "orders") == ["dt=2024-01-01", "dt=2024-01-02"]
    assert service.partitions.get("lake", "orders", ["2024-01-02"]).sd.location == "s3://lake/raw/orders/dt=2024-01-02"
    assert [c.name for c in service.tables.get("lake", "clicks").sd.cols] == ["user", "n"]
    again = run_crawler(service, "s3c")
    assert (again.metrics.files_scanned, again.metrics.files_unchanged) == (0, 3)  # ETags unchanged


# --- real Celery workers ------------------------------------------------------------------------------------



@pytest.mark.timeout(300)
@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_worker_runs_crawls_sent_by_name(broker, tmp_path):
    from celery import Celery

    from metastore.config import Settings

    data_dir = tmp_path / "mortar"
    broker_url = redis_url(7) if broker == "redis" else f"sqla+sqlite:///{data_dir / 'broker.db'}"
    env = {**os.environ, "MORTAR_DATA_DIR": str(data_dir), "MORTAR_BROKER_URL": broker_url}
    settings = Settings.load(data_dir=str(data_dir), broker_url=broker_url)
    service = CatalogService.open(settings.database_url, settings.warehouse)
    root = tmp_path / "data"
    write_files(root / "orders", {f"dt=2024-01-0{i}/a.csv": csv_text(["id", "v"], [[i, "x"]]) for i in (1, 2, 3)})
    service.crawlers.create(crawler("queued", root / "orders", schedule="* * * * *"))
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "mortar.cli", "worker", "--concurrency", "1"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
    try:
        app = Celery(broker=broker_url)
        # by name, as the console does; then by the schedule, as the scheduler does
        app.send_task("runner.crawl", args=["queued"])
        run = _wait_for_runs(service, "queued", 1)
        assert run.state == "SUCCEEDED", run.error
        assert service.partitions.names("crawled", "orders") == ["dt=2024-01-01", "dt=2024-01-02", "dt=2024-01-03"]
        from datetime import UTC, datetime, timedelta

        from runner.triggers.scheduler import Scheduler

        fired = Scheduler(service, lambda name, args: app.send_task(name, args=args)).tick(
            datetime.now(UTC) + timedelta(minutes=2))  # fmt: skip
        assert [f[1] for f in fired] == ["queued"]
        second = _wait_for_runs(service, "queued", 2)
        assert second.state == "SUCCEEDED" and second.metrics["files_unchanged"] == 3
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()


def _wait_for_runs(service: CatalogService, name: str, count: int, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = service.crawlers.runs(name)
        if len(runs) >= count and runs[0].state != "RUNNING":
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"crawler {name} did not finish {count} run(s) in {timeout} s: {service.crawlers.runs(name)}")


# --- the command line ---------------------------------------------------------------------------------------


def test_cli_create_dry_run_run_and_runs(tmp_path):
    env = {**os.environ, "MORTAR_DATA_DIR": str(tmp_path / "mortar")}
    root = tmp_path / "data"
    write_files(root / "people", {"p.csv": csv_text(["id", "name"], [[1, "a"], [2, "b"]])})

    def mortar(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mortar.cli", *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    made = mortar("crawler", "create", "people", "--path", str(root / "people"), "--database", "hr",
                  "--schedule", "0 3 * * *")
    assert made.returncode == 0, made.stderr
    dry = mortar("crawler", "run", "people", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "create_table" in dry.stdout and "people" in dry.stdout and "dry run" in dry.stdout
    done = mortar("crawler", "run", "people")
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED: 1 tables created" in done.stdout
    runs = mortar("crawler", "runs", "people")
    assert runs.stdout.splitlines()[1].split()[1] == "SUCCEEDED"
    from metastore.catalog import CatalogService
    from metastore.config import Settings

    settings = Settings.load(data_dir=str(tmp_path / "mortar"))
    people = CatalogService.open(settings.database_url, settings.warehouse).tables.get("hr", "people")
    assert [(c.name, c.type) for c in people.sd.cols] == [("id", "bigint"), ("name", "string")]
    listed = mortar("crawler", "list")
    assert "people" in listed.stdout and "0 3 * * *" in listed.stdout
    grok = mortar("classifier", "create", "applog", "--kind", "grok", "--classification", "app_log",
                  "--grok-pattern", "%{WORD:level} %{GREEDYDATA:msg}")
    assert grok.returncode == 0, grok.stderr
    assert mortar("classifier", "list").stdout.splitlines()[1].split() == ["applog", "grok", "app_log"]
    write_files(root / "logs", {"app.log": "INFO started\nWARN disk low\nINFO stopped\n"})
    made = mortar("crawler", "create", "logs", "--path", str(root / "logs"), "--database", "hr", "--classifier", "applog")
    assert made.returncode == 0, made.stderr
    assert "SUCCEEDED: 1 tables created" in mortar("crawler", "run", "logs").stdout
    logs = CatalogService.open(settings.database_url, settings.warehouse).tables.get("hr", "logs")
    assert logs.parameters["classification"] == "app_log"  # the custom classifier won
    assert [c.name for c in logs.sd.cols] == ["level", "msg"]
    in_use = mortar("classifier", "delete", "applog")
    assert in_use.returncode == 1 and "applog" in in_use.stderr
    idle = mortar("crawler", "stop", "people")
    assert idle.returncode == 1 and "crawler people is not running" in idle.stderr
    bad = mortar("crawler", "create", "x", "--path", str(root), "--database", "hr", "--schedule", "every day")
    assert bad.returncode != 0 and "schedule" in bad.stderr.lower()
