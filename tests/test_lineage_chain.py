"""Issue 14's scenario end to end: a crawler → Spark job A → Spark job B, and a job generated from a mapping,
all run by a real `mortar worker` against a real metastore server. The lineage they leave is checked in the
API, in the console (headless Chromium, with a screenshot of the graph), and in the OpenLineage events the
notifier emits to an HTTP receiver started here; an event posted as Airflow's provider posts it joins in."""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib

import jsonschema
import pytest

from metastore.catalog.crawlers import Crawler, CrawlerTarget
from metastore.catalog.jobs import END_STATES, Job
from metastore.catalog.mapping import ColumnMapping, Mapping, mapping_script
from metastore.catalog.types import Database
from metastore.config import Settings
from runner.notify import Notifier
from tests.conftest import free_port, start_metastore, stop_metastore
from tests.test_jobs import Env, Worker, _events, _worker_env
from tests.test_lineage import AIRFLOW_EVENT
from tests.test_notifications import Receiver
from tests.test_web_e2e import ARGS, CHROMIUM, _need_browser
from tests.web_fixtures import PASSWORD, make_web

API = "/api/v1"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DAILY = """
from pyspark.sql import SparkSession, functions as F

spark = SparkSession.builder.getOrCreate()
spark.sql("CREATE DATABASE IF NOT EXISTS mart")
spark.table("raw.events").groupBy("dt").agg(F.sum("amount").alias("amount")) \\
    .write.mode("overwrite").saveAsTable("mart.daily")
"""
REPORT = """
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
spark.sql("SELECT count(*) AS days, sum(amount) AS amount FROM mart.daily").write.mode("overwrite") \\
    .saveAsTable("mart.report")
"""

# What every OpenLineage run event must be (spec 2-0-2's RunEvent: required fields and their formats).
RUN_EVENT = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "run": {"type": "object", "required": ["runId"], "properties": {
            "runId": {"type": "string", "format": "uuid"}, "facets": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["_producer", "_schemaURL"]}}}},
        "job": {"type": "object", "required": ["namespace", "name"], "properties": {
            "namespace": {"type": "string"}, "name": {"type": "string"},
            "facets": {"type": "object", "additionalProperties": {"type": "object",
                                                                  "required": ["_producer", "_schemaURL"]}}}},
        "inputs": {"type": "array", "items": {"$ref": "#/$defs/dataset"}},
        "outputs": {"type": "array", "items": {"$ref": "#/$defs/dataset"}},
    },
    "$defs": {"dataset": {"type": "object", "required": ["namespace", "name"], "properties": {
        "namespace": {"type": "string"}, "name": {"type": "string"},
        "facets": {"type": "object", "additionalProperties": {"type": "object",
                                                              "required": ["_producer", "_schemaURL"]}}}}},
}  # fmt: skip


def _valid(event: dict) -> None:
    """Against the schema above, and through openlineage-python's own model (its validators: UUID run ids,
    ISO 8601 times, URIs)."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    jsonschema.validate(event, RUN_EVENT, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    RunEvent(eventType=RunState(event["eventType"]), eventTime=event["eventTime"], producer=event["producer"],
             run=Run(runId=event["run"]["runId"]), job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]))  # fmt: skip


def _png_colours(png: bytes) -> int:
    """How many distinct pixel values an 8-bit RGB(A) PNG holds (stdlib only: inflate and unfilter)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw, stride, prev, seen = zlib.decompress(idat), width * bpp, bytearray(width * bpp), set()
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        seen.update(bytes(line[i:i + bpp]) for i in range(0, stride, bpp))
        prev = line
    return len(seen)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lineage-chain")
    (tmp / "data").mkdir()
    w = make_web("sqlite", tmp, None)  # the catalog, its users and the web app
    ms = start_metastore("sqlite", tmp, w.settings.database_url)
    env = _worker_env(tmp / "data", w.settings.broker_url, w.settings.database_url, w.settings.warehouse,
                      MORTAR_METASTORE_URI=ms.uri, MORTAR_JOB_WARM_POOL="2")  # fmt: skip
    worker = Worker(tmp, env)
    receiver = Receiver(free_port())
    receiver.start()
    settings = Settings(data_dir=str(tmp / "data"), database_url=w.settings.database_url, notify_poll_s=0.2,
                        openlineage_url=f"http://127.0.0.1:{receiver.port}/api/v1/lineage",
                        openlineage_namespace="mortar-test")  # fmt: skip
    notifier = Notifier(w.service, settings)
    notifier.emitter.emit_once()  # the emitter's cursor starts here
    notifier.start()
    yield w, Env(w.service, tmp / "data", w.settings.broker_url, worker), receiver, tmp
    notifier.stop()
    receiver.stop()
    worker.stop()
    stop_metastore(ms)
    w.service.ctx.engine.dispose()


def _run(cluster: Env, *jobs: str) -> dict[str, int]:
    """Run `jobs` at once (the warm pool has two drivers); their run ids once all succeeded."""
    runs = {job: cluster.service.jobs.start_run(job).id for job in jobs}
    for run_id in runs.values():
        cluster.send("runner.job_run", [run_id])
    for run_id in runs.values():
        done = cluster.wait_run(run_id, timeout=900)
        assert done.state == "SUCCEEDED", (done.error, cluster.log(run_id), cluster.worker_log())
    return runs


@pytest.mark.timeout(2400)
def test_a_crawler_and_three_jobs_give_the_lineage_expected_everywhere(chain):
    w, cluster, receiver, tmp = chain
    svc = w.service
    root = tmp / "landing" / "events"
    _events(root, "2024-01-01", [("u1", 5), ("u2", 7)])
    svc.crawlers.create(Crawler(name="events", targets=[CrawlerTarget(str(root))], database="raw"))
    cluster.send("runner.crawl", ["events"])
    deadline = time.time() + 120
    while not (runs := svc.crawlers.runs("events")) or runs[0].state not in END_STATES:
        assert time.time() < deadline and cluster.worker.proc.poll() is None, cluster.worker_log()
        time.sleep(0.3)
    assert runs[0].state == "SUCCEEDED", runs[0].error
    quick = {"spark.sql.shuffle.partitions": "1"}
    svc.jobs.create(Job("daily", DAILY, spark_conf=quick))
    svc.jobs.create(Job("report", REPORT, spark_conf=quick))
    svc.databases.create(Database("mart"))
    mapping = Mapping("raw.events", "mart.spend", [ColumnMapping("user", "customer"),
                                                   ColumnMapping("amount", "amount_eur", "double")])  # fmt: skip
    svc.jobs.create(Job("spend", mapping_script(svc, mapping), spark_conf=quick))
    runs = _run(cluster, "daily", "spend") | _run(cluster, "report")
    time.sleep(1.5)  # the metastore flushes what it observed every second
    assert w.post(f"{API}/lineage", {**AIRFLOW_EVENT, "outputs": [{"namespace": "hive://elsewhere:9083",
                                                                   "name": "raw.events"}]}, who="editor").status_code == 201  # fmt: skip

    # --- the API ---
    up = w.get(f"{API}/tables/mart/report/lineage?direction=up&depth=5").get_json()
    names = {n["id"]: (n["kind"], n["name"]) for n in up["nodes"]}
    edges = {(names[e["from"]], names[e["to"]]) for e in up["edges"]}
    landing = str(root)
    assert edges == {
        (("dataset", landing), ("crawler", "events")), (("crawler", "events"), ("table", "raw.events")),
        (("dataset", "orders/2026-12-01"), ("external", "airflow-prod/orders_dag.load_orders")),
        (("external", "airflow-prod/orders_dag.load_orders"), ("table", "raw.events")),
        (("table", "raw.events"), ("job", "daily")), (("job", "daily"), ("table", "mart.daily")),
        (("table", "mart.daily"), ("job", "report")), (("job", "report"), ("table", "mart.report")),
    }, edges  # fmt: skip
    by_pair = {(names[e["from"]], names[e["to"]]): e for e in up["edges"]}
    assert [r["run_id"] for r in by_pair[(("job", "daily"), ("table", "mart.daily"))]["runs"]] == [str(runs["daily"])]
    down = w.get(f"{API}/tables/raw/events/lineage?direction=down&depth=2").get_json()
    assert {n["name"] for n in down["nodes"]} == {"raw.events", "daily", "spend", "report", "mart.daily",
                                                   "mart.spend", "mart.report"}  # fmt: skip
    impact = w.get(f"{API}/tables/raw/events/columns/amount/impact").get_json()
    assert impact["columns"] == [{"table": "mart.spend", "column": "amount_eur", "via": "job:spend"}]
    assert impact["tables_without_column_lineage"] == ["mart.daily", "mart.report"]
    assert set(impact["jobs"]) == {"job:spend", "job:daily", "job:report"}
    io = w.get(f"{API}/jobs/daily/lineage").get_json()
    assert ([d["name"] for d in io["inputs"]], [d["name"] for d in io["outputs"]]) == (["raw.events"], ["mart.daily"])

    # --- OpenLineage out ---
    def emitted():
        return [json.loads(b) for _, b, _ in receiver.got]

    deadline = time.time() + 30
    while sum(e["eventType"] == "COMPLETE" for e in emitted()) < 4 and time.time() < deadline:
        time.sleep(0.3)
    events = emitted()
    for e in events:
        _valid(e)
    kinds = sorted((e["job"]["name"], e["eventType"]) for e in events)
    assert kinds == sorted([(f"{k}.{n}", t) for k, n in (("crawler", "events"), ("job", "daily"), ("job", "report"),
                                                          ("job", "spend")) for t in ("START", "COMPLETE")]), kinds  # fmt: skip
    done = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    starts = {e["job"]["name"]: e for e in events if e["eventType"] == "START"}
    assert all(done[n]["run"]["runId"] == starts[n]["run"]["runId"] for n in done)
    daily = done["job.daily"]
    assert [(d["namespace"].split(":")[0], d["name"]) for d in daily["inputs"]] == [("hive", "raw.events")]
    assert [d["name"] for d in daily["outputs"]] == ["mart.daily"]
    assert {f["name"] for f in daily["outputs"][0]["facets"]["schema"]["fields"]} == {"dt", "amount"}
    assert "saveAsTable" in daily["job"]["facets"]["sourceCode"]["sourceCode"]
    assert [(d["namespace"], d["name"]) for d in done["crawler.events"]["inputs"]] == [("file", landing)]
    spend = done["job.spend"]["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert spend["amount_eur"]["inputFields"][0]["field"] == "amount"
    assert spend["amount_eur"]["inputFields"][0]["name"] == "raw.events"

    # --- the console, in headless Chromium ---
    _need_browser()
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    w.app.config["TESTING"] = False
    server = make_server("127.0.0.1", 0, w.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(f"{base}/databases/mart/tables/report/lineage?direction=up&depth=5")
            page.fill("#username", "viewer")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            graph = page.locator("#lineage-graph")
            graph.wait_for()
            shot = graph.screenshot(path=str(tmp / "lineage.png"))
            nodes = page.locator("#lineage-graph g.lineage-node")
            shown = {nodes.nth(i).get_attribute("data-node") for i in range(nodes.count())}
            assert shown == {"table:mart.report", "job:report", "table:mart.daily", "job:daily", "table:raw.events",
                             "crawler:events", "external:airflow-prod/orders_dag.load_orders",
                             f"dataset:{landing}", "dataset:orders/2026-12-01"}, shown  # fmt: skip
            for i in range(nodes.count()):  # each node drawn: inside the picture, and more than a blank box
                box = nodes.nth(i).bounding_box()
                assert box and box["width"] > 100 and box["height"] > 30
                assert _png_colours(nodes.nth(i).screenshot()) > 3
            assert _png_colours(shot) > 10
            page.goto(f"{base}/jobs/daily")
            assert "mart.daily" in page.locator("#job-lineage").inner_text()
            browser.close()
    finally:
        server.shutdown()
