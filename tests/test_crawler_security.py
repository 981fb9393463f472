"""Security issue items 7 and 8: crawlers (and job scripts) reach only what the allowed_paths setting
lists, at definition and again at run time; a crawl whose worker was SIGKILLed is failed with a clear
reason and sent again, and ends exactly once on another real worker (embedded broker and Redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.crawlers import STALE_RUN_ERROR, Crawler, CrawlerTarget
from metastore.catalog.jobs import Job, load_script
from metastore.catalog.paths import PathNotAllowed
from metastore.config import Settings
from tests.conftest import redis_url
from tests.crawler_data import csv_text, write_files

ROOT = Path(__file__).resolve().parents[1]


class Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        Recorder.hits.append(self.path)
        body = b"id,v\n1,x\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", Recorder.hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A catalog under tmp/mortar with the default (empty) allowed_paths: the data folder only."""
    data_dir = tmp_path / "mortar"
    monkeypatch.setenv("MORTAR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MORTAR_ALLOWED_PATHS", "")
    settings = Settings.load()
    service = CatalogService.open(settings.database_url, settings.warehouse)
    yield service, data_dir
    service.ctx.engine.dispose()


def test_etc_and_local_http_crawlers_are_refused_at_definition(setup, http_server, tmp_path):
    service, data_dir = setup
    url, hits = http_server
    (data_dir / "in" / "t").mkdir(parents=True)
    (data_dir / "in" / "t" / "a.csv").write_text("id,v\n1,x\n")
    (data_dir / "in" / "etc_link").symlink_to("/etc")
    refused = {
        "/etc": "'/etc'",
        "file:///etc": "'file:///etc'",
        f"{data_dir}/in/../../../../../../etc": "/etc'",  # `..` resolved
        str(data_dir / "in" / "etc_link"): "etc_link'",  # a symbolic link resolved
        url: url,
        "simplecache::" + str(data_dir / "in"): "chained fsspec URLs",
        str(tmp_path / "mortarx"): "mortarx'",  # a prefix of the name is not the folder
    }
    for target, shown in refused.items():
        with pytest.raises(PathNotAllowed) as e:
            service.crawlers.create(Crawler(name="c", targets=[CrawlerTarget(target)], database="lake"))
        assert shown in str(e.value) and "allowed_paths (MORTAR_ALLOWED_PATHS)" in str(e.value)
        assert "is refused" in str(e.value)
    # storage options naming an endpoint are places the worker would contact
    with pytest.raises(PathNotAllowed, match="storage option endpoint_url"):
        service.crawlers.create(Crawler(name="c", targets=[CrawlerTarget(str(data_dir / "in"))], database="lake",
                                        storage_options={"endpoint_url": url}))  # fmt: skip
    # an update cannot widen what a crawler reaches either
    service.crawlers.create(Crawler(name="c", targets=[CrawlerTarget(str(data_dir / "in"))], database="lake"))
    with pytest.raises(PathNotAllowed):
        service.crawlers.update("c", Crawler(name="c", targets=[CrawlerTarget("/etc")], database="lake"))
    assert service.crawlers.get("c").targets == [CrawlerTarget(str(data_dir / "in"))]
    assert hits == []
    # the data folder itself is allowed by default (the quick start), and so is the warehouse
    service.crawlers.create(Crawler(name="wh", targets=[CrawlerTarget(service.warehouse.root)], database="lake"))
    # listed by the administrator: allowed, by a `/` boundary
    os.environ["MORTAR_ALLOWED_PATHS"] = f"{url},/etc/ssl"
    service.crawlers.create(Crawler(name="web", targets=[CrawlerTarget(url + "x/")], database="lake"))
    service.crawlers.create(Crawler(name="ssl", targets=[CrawlerTarget("/etc/ssl/")], database="lake"))
    with pytest.raises(PathNotAllowed):
        service.crawlers.create(Crawler(name="ssl2", targets=[CrawlerTarget("/etc/ssl/../passwd")], database="lake"))


def test_job_script_locations_are_refused_outside_allowed_paths(setup):
    service, data_dir = setup
    script = data_dir / "scripts" / "etl.py"
    script.parent.mkdir(parents=True)
    script.write_text("print('hi')\n")
    with pytest.raises(PathNotAllowed, match=r"script '/etc/hostname' is refused.*allowed_paths"):
        load_script("/etc/hostname")
    with pytest.raises(PathNotAllowed, match=r"job j: script location '/etc/passwd' is refused.*MORTAR_ALLOWED_PATHS"):
        service.jobs.create(Job(name="j", script="print(1)\n", script_location="/etc/passwd"))
    with pytest.raises(PathNotAllowed, match="job j: script location 'http://127.0.0.1:1/x.py'"):
        service.jobs.create(Job(name="j", script="print(1)\n", script_location="http://127.0.0.1:1/x.py"))
    job = service.jobs.create(Job(name="j", script=load_script(str(script)), script_location=str(script)))
    with pytest.raises(PathNotAllowed):
        service.jobs.update("j", Job(name="j", script="print(2)\n", script_location="/root/x.py"))
    assert service.jobs.get("j").script_location == job.script_location == str(script)
    # a generated job's location describes its mapping: not a place
    service.jobs.create(Job(name="g", script="print(1)\n", script_location="mapping raw.a -> mart.b"))


# --- real workers -------------------------------------------------------------------------------------------


def _start_worker(env: dict, log_path: Path) -> tuple[subprocess.Popen, object]:
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mortar.cli", "worker", "--concurrency", "1"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    return proc, log


def _stop(proc: subprocess.Popen, log) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    log.close()


def _env(data_dir: Path, broker_url: str, allowed: str, **more: str) -> dict:
    return {**os.environ, "MORTAR_DATA_DIR": str(data_dir), "MORTAR_BROKER_URL": broker_url,
            "MORTAR_ALLOWED_PATHS": allowed, "MORTAR_JOB_WARM_POOL": "0", **more}  # fmt: skip


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} not within {timeout} s")


@pytest.mark.timeout(300)
def test_crawls_defined_before_the_setting_changed_are_refused_at_run_time(tmp_path, http_server, monkeypatch):
    from celery import Celery

    url, hits = http_server
    data_dir = tmp_path / "mortar"
    broker_url = f"sqla+sqlite:///{data_dir / 'broker.db'}"
    inside, outside = tmp_path / "allowed", tmp_path / "was_allowed"
    for root in (inside, outside):
        write_files(root / "orders", {"a.csv": csv_text(["id", "v"], [[1, "x"]])})
    (inside / "orders" / "leak").symlink_to(outside)  # a link out of the allowed root
    # defined while the administrator allowed all three
    monkeypatch.setenv("MORTAR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MORTAR_ALLOWED_PATHS", f"{inside},{outside},{url}")
    service = CatalogService.open(Settings.load().database_url, Settings.load().warehouse)
    service.crawlers.create(Crawler(name="local", targets=[CrawlerTarget(str(outside))], database="lake"))
    service.crawlers.create(Crawler(name="web", targets=[CrawlerTarget(url)], database="lake"))
    service.crawlers.create(Crawler(name="ok", targets=[CrawlerTarget(str(inside))], database="lake"))
    # ... then the setting was narrowed: the workers read it at each run
    worker, log = _start_worker(_env(data_dir, broker_url, str(inside)), tmp_path / "worker.log")
    try:
        app = Celery(broker=broker_url)
        for name in ("local", "web", "ok"):
            app.send_task("runner.crawl", args=[name])
        for name in ("local", "web", "ok"):
            _wait(lambda n=name: [r for r in service.crawlers.runs(n) if r.state != "RUNNING"], 120, f"a run of {name}")
    finally:
        _stop(worker, log)
    for name, shown in (("local", str(outside)), ("web", url)):
        run = service.crawlers.runs(name)[0]
        assert run.state == "FAILED" and "PathNotAllowed" in run.error and shown in run.error, run.error
        assert "allowed_paths (MORTAR_ALLOWED_PATHS)" in run.error
        assert run.metrics.get("files_scanned", 0) == 0
    assert hits == []  # the worker never contacted the local HTTP server
    ok = service.crawlers.runs("ok")[0]
    assert ok.state == "SUCCEEDED", ok.error
    assert ok.metrics["files_scanned"] == 1  # orders/a.csv; the link to was_allowed/ is not followed
    assert [s["path"] for s in ok.metrics["skipped"]] == [str(inside / "orders" / "leak")]
    assert service.tables.list("lake") == ["allowed"]
    service.ctx.engine.dispose()


def _taker(tmp_path: Path) -> int | None:
    """1 + the index of the worker whose log shows it received the crawl task, or None."""
    for i in range(2):
        if b"Task runner.crawl[" in (tmp_path / f"worker{i}.log").read_bytes():
            return i + 1
    return None


@pytest.mark.timeout(420)
@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_a_crawl_whose_worker_was_killed_ends_once_on_another_worker(broker, tmp_path, monkeypatch):
    from celery import Celery

    data_dir = tmp_path / "mortar"
    broker_url = redis_url(7) if broker == "redis" else f"sqla+sqlite:///{data_dir / 'broker.db'}"
    root = tmp_path / "data"
    folders, per_folder = 300, 15  # enough files that the crawl is still under way when its worker dies
    for i in range(folders):
        write_files(root / "events" / f"part={i:04d}",
                    {f"f{j}.csv": csv_text(["id", "v"], [[j, "x" * 10]]) for j in range(per_folder)})  # fmt: skip
    monkeypatch.setenv("MORTAR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MORTAR_ALLOWED_PATHS", str(root))
    service = CatalogService.open(Settings.load().database_url, Settings.load().warehouse)
    service.crawlers.create(Crawler(name="big", targets=[CrawlerTarget(str(root))], database="lake"))
    env = _env(data_dir, broker_url, str(root), MORTAR_CRAWLER_STALE_S="8")
    workers = [_start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    sched_log = open(tmp_path / "scheduler.log", "wb")
    scheduler = subprocess.Popen([sys.executable, "-m", "mortar.cli", "scheduler", "--poll", "1"], env=env, cwd=ROOT,
                                 stdout=sched_log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        # both workers connected before the crawl is sent
        _wait(lambda: all(b"ready" in (tmp_path / f"worker{i}.log").read_bytes() for i in range(2)), 120,
              "both workers ready")  # fmt: skip
        Celery(broker=broker_url).send_task("runner.crawl", args=["big"])
        taker = _wait(lambda: _taker(tmp_path), 120, "a worker receiving the crawl") - 1
        first = _wait(lambda: service.crawlers.current_run("big"), 60, "the crawl's run")
        proc, log = workers[taker]
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its pool process, as when a machine dies
        proc.wait(10)
        killed_at = time.time()
        assert service.crawlers.get_run(first.id).state == "RUNNING", "the crawl ended before its worker was killed"
        done = _wait(lambda: [r for r in service.crawlers.runs("big") if r.state == "SUCCEEDED"], 150,
                     "a successful run of the crawl after its worker died")  # fmt: skip
        recovered_s = time.time() - killed_at
        time.sleep(10)  # longer than the stale time: a second recovery of the same crawl would have started
        runs = service.crawlers.runs("big")
    finally:
        for proc, log in workers:
            _stop(proc, log)
        _stop(scheduler, sched_log)
    lost = service.crawlers.get_run(first.id)
    assert lost.state == "FAILED" and lost.error == STALE_RUN_ERROR
    assert [r.state for r in runs] == ["SUCCEEDED", "FAILED"], runs  # once failed with its reason, once done
    assert done[0].metrics["files_scanned"] == folders * per_folder
    assert done[0].metrics["tables_created"] == 1 and done[0].metrics["partitions_added"] == folders
    assert service.tables.list("lake") == ["data"] and len(service.partitions.names("lake", "data")) == folders
    other = (tmp_path / f"worker{1 - taker}.log").read_bytes()
    assert b"Task runner.crawl[" in other  # the other worker ran it
    print(f"\n[{broker}] crawl of {folders * per_folder} files: worker killed, run {first.id} failed as stale "
          f"and the crawl done on the other worker {recovered_s:.1f} s later (crawler_stale_s=8)")
    service.ctx.engine.dispose()
