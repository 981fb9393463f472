"""Lineage: recorded from what job runs' sessions did through the Thrift port (a real metastore server and
hmsclient with a run's credential), OpenLineage events in (as Airflow's provider posts them) and the
graph, impact and authorization of the API. The whole chain through real workers, the console and
OpenLineage out: tests/test_lineage_chain.py."""

from __future__ import annotations

import time
from contextlib import closing

import pytest
from hmsclient import hmsclient

from metastore.catalog import CatalogService
from metastore.catalog.jobs import Job
from metastore.catalog.lineage import generated_columns, path_dataset
from metastore.catalog.types import Column, Database, StorageDescriptor, Table
from tests.conftest import start_metastore, stop_metastore
from tests.hms_objects import database, table
from tests.web_fixtures import make_web

API = "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lineage")
    url = f"sqlite:///{tmp / 'catalog.db'}"
    ms = start_metastore("sqlite", tmp, url)
    service = CatalogService.open(url, str(ms.warehouse))
    yield ms, service
    service.ctx.engine.dispose()
    stop_metastore(ms)


def _run_client(ms, service: CatalogService, job: str):
    """A Thrift client with the credential of a new run of `job`, as a job driver has; and the run."""
    run = service.jobs.start_run(job)
    service.jobs.claim_run(run.id, "test-worker")
    secret = service.access.new_run_credential()
    service.access.bind_run_credential(secret, run.id)
    c = hmsclient.HMSClient(host="127.0.0.1", port=ms.port)
    c.open()
    c.set_ugi("driver", [secret])
    return c, run


def _wait_for(fn, timeout: float = 10.0):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(0.2)


def test_a_runs_calls_record_what_it_read_and_wrote_once(server):
    ms, svc = server
    svc.databases.create(Database("raw"))
    svc.tables.create(Table(name="src", db_name="raw", sd=StorageDescriptor(cols=[Column("id", "int")])))
    svc.jobs.create(Job("copy", "print('copy')", job_type="pythonshell"))
    svc.jobs.create(Job("idle", "print('idle')", job_type="pythonshell"))

    c, run = _run_client(ms, svc, "copy")
    with closing(c):
        c.create_database(database("mart"))
        c.get_table("raw", "src")  # read
        c.get_partitions("raw", "src", -1)
        try:
            c.get_table("mart", "dst")  # Spark looks the target up first: it does not exist yet
        except Exception:  # noqa: BLE001 - NoSuchObjectException
            pass
        c.create_table(table("mart", "dst", location=str(ms.warehouse / "mart.db" / "dst")))
        c.get_table("mart", "dst")  # read after written: still only an output
    io = _wait_for(lambda: (lambda x: x if x["inputs"] and x["outputs"] else None)(svc.lineage.of_run("job", run.id)))
    assert [(d["db"], d["table"]) for d in io["inputs"]] == [("raw", "src")]
    assert [(d["db"], d["table"]) for d in io["outputs"]] == [("mart", "dst")]
    assert io["inputs"][0]["namespace"].startswith("hive://")
    svc.jobs.finish_run(run.id, "SUCCEEDED")

    # the same calls again in the same run, and another run's: one edge per run and dataset
    c2, run2 = _run_client(ms, svc, "copy")
    with closing(c2):
        c2.get_table("raw", "src")
        c2.alter_table("mart", "dst", c2.get_table("mart", "dst"))
    time.sleep(2.5)  # past the server's flush
    svc.jobs.finish_run(run2.id, "SUCCEEDED")
    assert svc.lineage.of_run("job", run.id) == io
    graph = svc.lineage.graph(_admin(svc), "mart", "dst", "up", 2)
    [edge] = [e for e in graph["edges"] if e["to"].startswith("job:")]
    assert sorted(r["run_id"] for r in edge["runs"]) == sorted([str(run.id), str(run2.id)])
    assert edge["run_count"] == 2

    # a run that only lists (no table read or written) records nothing
    c3, run3 = _run_client(ms, svc, "idle")
    with closing(c3):
        c3.get_all_databases()
        c3.get_all_tables("raw")
    time.sleep(2.5)
    assert svc.lineage.of_run("job", run3.id) == {"inputs": [], "outputs": []}
    assert svc.lineage.of_process(_admin(svc), "job", "idle") == {"inputs": [], "outputs": []}


def _admin(svc):
    from metastore.catalog.access import Identity

    return Identity("admin", "user", "admin")


AIRFLOW_EVENT = {
    "eventType": "COMPLETE",
    "eventTime": "2026-12-01T08:00:00.000000+00:00",
    "producer": "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {"runId": "01936f5e-8f3a-7c1b-9d2e-3a4b5c6d7e8f", "facets": {}},
    "job": {"namespace": "airflow-prod", "name": "orders_dag.load_orders", "facets": {}},
    "inputs": [{"namespace": "s3://landing", "name": "orders/2026-12-01", "facets": {}}],
    "outputs": [{"namespace": "hive://metastore.example.com:9083", "name": "shop.orders", "facets": {
        "columnLineage": {"_producer": "https://github.com/apache/airflow", "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
                          "fields": {"total": {"inputFields": [{"namespace": "s3://landing", "name": "orders/2026-12-01", "field": "amount"}]}}}}}],
}  # fmt: skip


def test_events_of_other_producers_appear_in_the_tables_lineage(tmp_path):
    w = make_web("sqlite", tmp_path, None)
    svc = w.service
    svc.databases.create(Database("shop"))
    svc.databases.create(Database("secret"))
    svc.tables.create(Table(name="orders", db_name="shop", sd=StorageDescriptor(cols=[Column("total", "double")])))
    svc.tables.create(Table(name="hidden", db_name="secret", sd=StorageDescriptor(cols=[Column("x", "int")])))
    svc.users.create("restricted", "correct horse battery", "editor", databases=["shop"])
    restricted = svc.users.create_token("restricted", "t")[1]

    assert w.post(f"{API}/lineage", AIRFLOW_EVENT, who="viewer").status_code == 403  # writing lineage: editors
    r = w.post(f"{API}/lineage", AIRFLOW_EVENT, who="editor")
    assert r.status_code == 201, r.get_json()
    assert w.post(f"{API}/lineage", AIRFLOW_EVENT, who="editor").status_code == 201  # sent twice: one edge
    graph = w.get(f"{API}/tables/shop/orders/lineage?direction=up&depth=2").get_json()
    kinds = {(n["kind"], n["name"]) for n in graph["nodes"]}
    assert kinds == {("table", "shop.orders"), ("external", "airflow-prod/orders_dag.load_orders"),
                     ("dataset", "orders/2026-12-01")}  # fmt: skip
    assert all(e["run_count"] == 1 for e in graph["edges"]) and len(graph["edges"]) == 2
    assert graph["edges"][0]["runs"][0]["run_id"] == AIRFLOW_EVENT["run"]["runId"]

    # a restricted user's lineage never shows a database it has no grant on, nor lets it write one
    hidden = {**AIRFLOW_EVENT, "run": {"runId": "run-2"},
              "inputs": [{"namespace": "hive://h:9083", "name": "secret.hidden"}]}  # fmt: skip
    headers = {"Authorization": f"Bearer {restricted}"}
    assert w.client().post(f"{API}/lineage", json=hidden, headers=headers).status_code == 403
    assert w.post(f"{API}/lineage", hidden, who="editor").status_code == 201
    mine = w.client().get(f"{API}/tables/shop/orders/lineage", headers=headers).get_json()
    assert "secret.hidden" not in {n["name"] for n in mine["nodes"]}
    assert "secret.hidden" in {n["name"] for n in w.get(f"{API}/tables/shop/orders/lineage").get_json()["nodes"]}
    assert w.client().get(f"{API}/tables/secret/hidden/lineage?direction=down", headers=headers).status_code == 403
    assert any(r.action == "DENIED" and r.db_name == "secret" for r in svc.audit.records())

    bad = w.post(f"{API}/lineage", {"run": {"runId": "x"}, "job": {"namespace": "n"}}, who="editor")
    assert bad.status_code == 400 and "job.namespace and job.name" in bad.get_json()["error"]["message"]
    assert w.get(f"{API}/tables/shop/orders/lineage?direction=sideways").status_code == 400
    w.service.ctx.engine.dispose()


def test_generated_scripts_give_column_lineage_and_names_follow_the_spec():
    from metastore.catalog.mapping import ColumnMapping, Mapping, _render

    src = Table(name="events", db_name="raw", sd=StorageDescriptor(cols=[Column("user", "string"), Column("amount", "int")]))
    script = _render(Mapping("raw.events", "mart.spend", [ColumnMapping("user", "customer"),
                                                          ColumnMapping("amount", "amount_eur", "double")]),
                     "raw.events", "mart.spend", src, None)  # fmt: skip
    assert generated_columns(script) == ("raw.events", "mart.spend", (("user", "customer"), ("amount", "amount_eur")))
    assert generated_columns("print('hand written')") is None
    assert path_dataset("/data/x/") == ("file", "/data/x")
    assert path_dataset("file:///data/x") == ("file", "/data/x")
    assert path_dataset("s3a://bucket/key/part") == ("s3://bucket", "key/part")
    assert path_dataset("hdfs://nn:8020/warehouse/t") == ("hdfs://nn:8020", "/warehouse/t")


def test_run_events_go_to_a_file_consumer_with_their_parent_workflow_run(tmp_path):
    """The emitter of `mortar scheduler` through openlineage-python's file transport: a workflow's job run
    that fails gives START then FAIL with the error, the source code and the workflow run as parent."""
    import json

    from metastore.catalog.workflows import Workflow
    from metastore.config import Settings
    from runner.notify import LineageEmitter, run_uuid

    svc = CatalogService.open(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "wh"))
    svc.jobs.create(Job("load", "print('load')", job_type="pythonshell"))
    svc.workflows.create(Workflow("nightly"))
    wf = svc.workflows.start_run("nightly")
    out = tmp_path / "events.jsonl"
    emitter = LineageEmitter(svc, Settings(data_dir=str(tmp_path), openlineage_url=f"file://{out}"))
    emitter.emit_once()  # the cursor starts here
    run = svc.jobs.start_run("load", workflow_run_id=wf.id)
    svc.jobs.claim_run(run.id, "w")
    svc.jobs.finish_run(run.id, "FAILED", error="division by zero")
    time.sleep(2.6)  # the emitter waits for the run's last observed tables
    emitter.emit_once()
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    fail = events[1]
    assert fail["run"]["runId"] == events[0]["run"]["runId"] == run_uuid("job", run.id)
    assert fail["job"] == {**fail["job"], "namespace": "mortar", "name": "job.load"}
    assert fail["run"]["facets"]["parent"]["run"]["runId"] == run_uuid("workflow", wf.id)
    assert fail["run"]["facets"]["parent"]["job"]["name"] == "workflow.nightly"
    assert fail["run"]["facets"]["errorMessage"]["message"] == "division by zero"
    assert fail["job"]["facets"]["sourceCode"]["sourceCode"] == "print('load')"
    svc.ctx.engine.dispose()
