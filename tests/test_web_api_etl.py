"""The JSON API of jobs, runs and their logs, triggers, workflows and connections, through Flask's test client
over real storage (SQLite and PostgreSQL) and the real embedded broker (tasks are read back from it)."""

from __future__ import annotations

import pytest

from metastore.catalog.crawlers import Crawler
from tests.conftest import BACKENDS
from tests.web_fixtures import web_for

API = "/api/v1"
SCRIPT = "import sys\nprint('hello', sys.argv[1:])\n"


@pytest.fixture(params=BACKENDS)
def web(request, tmp_path, pg_databases):
    yield from web_for(request.param, tmp_path, pg_databases)


def _job(web, name="etl", who="editor", **extra):
    body = {
        "name": name,
        "type": "pythonshell",
        "script": SCRIPT,
        "default_arguments": {"--day": "monday"},
        **extra,
    }
    r = web.post(f"{API}/jobs", body, who=who)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_jobs_crud_and_script_versions(web):
    made = _job(web, non_overridable_arguments={"--env": "prod"}, timeout_s=60, description="nightly")
    assert (made["name"], made["type"], made["script_version"], made["script"]) == (
        "etl",
        "pythonshell",
        1,
        SCRIPT,
    )
    assert made["default_arguments"] == {"--day": "monday"} and made["timeout_s"] == 60
    r = web.post(f"{API}/jobs", {"name": "etl", "script": SCRIPT})
    assert r.status_code == 409 and r.get_json()["error"]["message"] == "job etl already exists"
    r = web.post(f"{API}/jobs", {"name": "bad", "script": "def f(:\n"})
    assert (
        r.status_code == 400 and "job bad: the script is not valid Python" in r.get_json()["error"]["message"]
    )
    assert web.post(f"{API}/jobs", {"name": "x", "script": SCRIPT}, who="viewer").status_code == 403
    assert web.post(f"{API}/jobs", {"name": "x", "script": SCRIPT, "nope": 1}).status_code == 400
    _job(web, "other", type="spark")

    listed = web.get(f"{API}/jobs", who="viewer").get_json()
    assert [(j["name"], j["last_run"]) for j in listed["items"]] == [("etl", None), ("other", None)]
    assert "script" not in listed["items"][0] and listed["total"] == 2
    assert [j["name"] for j in web.get(f"{API}/jobs?type=spark").get_json()["items"]] == ["other"]
    assert [j["name"] for j in web.get(f"{API}/jobs?q=ET").get_json()["items"]] == ["etl"]
    assert web.get(f"{API}/jobs?type=java").status_code == 400

    # a new script is a new version; the old one stays readable
    new = {k: v for k, v in made.items() if k not in ("name", "script_version", "created_at", "updated_at")}
    r = web.put(f"{API}/jobs/etl", {**new, "script": SCRIPT + "print('v2')\n"}, who="editor")
    assert r.status_code == 200 and r.get_json()["script_version"] == 2
    assert (
        web.put(f"{API}/jobs/etl", {**new, "script": SCRIPT + "print('v2')\n"}).get_json()["script_version"]
        == 2
    )
    versions = web.get(f"{API}/jobs/etl/scripts").get_json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert web.get(f"{API}/jobs/etl/scripts/1").get_json() == {"job": "etl", "version": 1, "script": SCRIPT}
    r = web.get(f"{API}/jobs/etl/scripts/9")
    assert r.status_code == 404 and r.get_json()["error"]["message"] == "job etl has no script version 9"
    assert web.get(f"{API}/jobs/nope").get_json()["error"]["message"] == "job nope does not exist"
    assert web.delete(f"{API}/jobs/other", who="viewer").status_code == 403
    assert web.delete(f"{API}/jobs/other").status_code == 204
    assert web.get(f"{API}/jobs/other").status_code == 404


def test_job_runs_start_list_stop_and_log(web):
    _job(web, non_overridable_arguments={"--env": "prod"})
    assert web.post(f"{API}/jobs/etl/runs", who="viewer").status_code == 403
    r = web.post(f"{API}/jobs/etl/runs", {"arguments": {"--day": "friday"}}, who="editor")
    assert r.status_code == 202, r.get_json()
    run = r.get_json()
    assert run["state"] == "STARTING" and run["arguments"] == {"--day": "friday", "--env": "prod"}
    assert web.queued_tasks() == [("runner.job_run", [run["id"]])]  # enqueued by name, as the CLI does
    r = web.post(f"{API}/jobs/etl/runs")
    assert r.status_code == 409 and "maximum of 1 concurrent run" in r.get_json()["error"]["message"]
    r = web.post(f"{API}/jobs/etl/runs", {"arguments": {"--env": "dev"}})
    assert r.status_code == 400 and "--env cannot be overridden" in r.get_json()["error"]["message"]

    # a worker takes the run and writes its log; the API follows it by offset
    jobs = web.service.jobs
    jobs.claim_run(run["id"], "test-worker")
    jobs.append_log(run["id"], "hello ")
    log = web.get(f"{API}/jobs/etl/runs/{run['id']}/log", who="viewer").get_json()
    assert log == {"text": "hello ", "next_offset": 6, "finished": False}
    jobs.append_log(run["id"], "world\n")
    log = web.get(f"{API}/jobs/etl/runs/{run['id']}/log?offset=6").get_json()
    assert log == {"text": "world\n", "next_offset": 12, "finished": False}
    assert web.get(f"{API}/jobs/etl/runs/{run['id']}/log?offset=-1").status_code == 400

    # stop: STOPPING until the worker stops it
    assert web.post(f"{API}/jobs/etl/runs/{run['id']}/stop", who="viewer").status_code == 403
    r = web.post(f"{API}/jobs/etl/runs/{run['id']}/stop", who="editor")
    assert r.status_code == 200 and r.get_json()["state"] == "STOPPING"
    jobs.finish_run(run["id"], "FAILED", "killed")
    log = web.get(f"{API}/jobs/etl/runs/{run['id']}/log?offset=12").get_json()
    assert log == {"text": "", "next_offset": 12, "finished": True}
    assert web.get(f"{API}/jobs/etl/runs/{run['id']}/log").get_json()["text"] == "hello world\n"
    r = web.post(f"{API}/jobs/etl/runs/{run['id']}/stop")
    assert r.status_code == 409 and "has already ended: STOPPED" in r.get_json()["error"]["message"]

    second = web.post(f"{API}/jobs/etl/runs").get_json()
    r = web.post(f"{API}/jobs/etl/runs/{second['id']}/stop")  # not started yet: STOPPED at once
    assert r.get_json()["state"] == "STOPPED"
    runs = web.get(f"{API}/jobs/etl/runs").get_json()
    assert [x["id"] for x in runs["items"]] == [second["id"], run["id"]] and runs["total"] == 2
    assert web.get(f"{API}/jobs/etl/runs?state=STOPPED&limit=1").get_json()["total"] == 2
    assert web.get(f"{API}/jobs/etl/runs?state=BORED").status_code == 400
    assert web.get(f"{API}/job-runs?state=STOPPED").get_json()["total"] == 2
    assert web.get(f"{API}/jobs/etl/runs/{run['id']}").get_json()["state"] == "STOPPED"
    assert web.get(f"{API}/jobs/etl/runs/99999").status_code == 404
    r = web.get(f"{API}/jobs/etl/runs/{10**20}/log")  # beyond what storage holds: not a crash
    assert r.status_code == 404 and r.get_json()["error"]["message"] == f"run {10**20} does not exist"
    _job(web, "other")
    r = web.get(f"{API}/jobs/other/runs/{run['id']}")
    assert r.status_code == 404 and r.get_json()["error"]["message"] == f"job other has no run {run['id']}"
    listed = web.get(f"{API}/jobs?state=STOPPED").get_json()["items"]
    assert [(j["name"], j["last_run"]["id"]) for j in listed] == [("etl", second["id"])]
    r = web.delete(f"{API}/jobs/etl")
    assert r.status_code == 204


def test_triggers(web):
    _job(web)
    web.service.crawlers.create(Crawler("landing", ["/data/in"], "raw"))
    body = {"name": "nightly", "type": "SCHEDULED", "schedule": "30 2 * * *",
            "actions": [{"job": "etl", "arguments": {"--day": "sunday"}}, {"crawler": "landing"}]}  # fmt: skip
    r = web.post(f"{API}/triggers", {**body, "activate": True}, who="editor")
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert (t["state"], t["schedule"], len(t["next_fires"])) == ("ACTIVATED", "30 2 * * *", 5)
    assert all(f.endswith("T02:30:00Z") for f in t["next_fires"])
    assert t["actions"] == [{"job": "etl", "arguments": {"--day": "sunday"}}, {"crawler": "landing"}]
    r = web.post(f"{API}/triggers", {**body, "name": "bad", "schedule": "every day"})
    assert r.status_code == 400 and "cron" in r.get_json()["error"]["message"]
    r = web.post(f"{API}/triggers", {**body, "name": "bad", "actions": [{"job": "nope"}]})
    assert r.status_code == 404 and r.get_json()["error"]["message"] == "trigger bad: job nope does not exist"
    cond = {"name": "after", "type": "CONDITIONAL", "logical": "ANY",
            "conditions": [{"job": "etl", "state": "FAILED"}, {"crawler": "landing", "state": "SUCCEEDED"}],
            "actions": [{"job": "etl"}]}  # fmt: skip
    assert web.post(f"{API}/triggers", cond).status_code == 201
    demand = {
        "name": "by_hand",
        "type": "ON_DEMAND",
        "actions": [{"job": "etl", "arguments": {"--day": "x"}}],
    }
    assert web.post(f"{API}/triggers", demand).status_code == 201

    listed = web.get(f"{API}/triggers", who="viewer").get_json()
    assert [x["name"] for x in listed["items"]] == ["after", "by_hand", "nightly"]
    assert [x["name"] for x in web.get(f"{API}/triggers?type=CONDITIONAL").get_json()["items"]] == ["after"]
    assert [x["name"] for x in web.get(f"{API}/triggers?state=ACTIVATED").get_json()["items"]] == ["nightly"]
    assert web.post(f"{API}/triggers/after/activate", who="viewer").status_code == 403
    assert web.post(f"{API}/triggers/after/activate").get_json()["state"] == "ACTIVATED"
    assert web.post(f"{API}/triggers/nightly/deactivate").get_json()["state"] == "DEACTIVATED"
    r = web.post(f"{API}/triggers/by_hand/activate")
    assert r.status_code == 400 and "on demand" in r.get_json()["error"]["message"]

    r = web.put(f"{API}/triggers/after", {**cond, "logical": "AND"})
    assert r.status_code == 200 and r.get_json()["logical"] == "AND"
    r = web.post(f"{API}/triggers/by_hand/start", who="editor")
    assert r.status_code == 202, r.get_json()
    started = r.get_json()["started"]
    assert [(s["job"], s["state"]) for s in started] == [("etl", "STARTING")]
    assert web.queued_tasks() == [("runner.job_run", [started[0]["run_id"]])]
    run = web.service.jobs.get_run(started[0]["run_id"])
    assert run.trigger == "by_hand" and run.arguments == {"--day": "x"}
    assert web.delete(f"{API}/triggers/by_hand").status_code == 204
    assert (
        web.get(f"{API}/triggers/by_hand").get_json()["error"]["message"] == "trigger by_hand does not exist"
    )


def test_trigger_naming_a_hidden_crawler_is_forbidden(web):
    web.service.crawlers.create(Crawler("hr_in", ["/data/hr"], "hr"))
    web.service.users.create("sam", "sams password", "editor", databases=["sales"])
    web.tokens["sam"] = web.service.users.create_token("sam", "t")[1]
    body = {"name": "t1", "type": "ON_DEMAND", "actions": [{"crawler": "hr_in"}]}
    r = web.post(f"{API}/triggers", body, who="sam")
    assert r.status_code == 403 and "no access to database hr" in r.get_json()["error"]["message"]
    assert web.post(f"{API}/triggers", body).status_code == 201
    assert web.get(f"{API}/triggers/t1", who="sam").status_code == 200  # reading is open
    assert web.post(f"{API}/triggers/t1/start", who="sam").status_code == 403
    assert web.delete(f"{API}/triggers/t1", who="sam").status_code == 403


def test_workflows_runs_nodes_resume_and_properties(web):
    _job(web, "extract")
    _job(web, "load")
    r = web.post(
        f"{API}/workflows", {"name": "daily", "default_run_properties": {"region": "eu"}}, who="editor"
    )
    assert r.status_code == 201 and r.get_json()["triggers"] == [] and r.get_json()["last_run"] is None
    assert web.post(f"{API}/workflows", {"name": "daily"}).status_code == 409
    web.post(f"{API}/triggers", {"name": "daily_start", "type": "ON_DEMAND", "workflow": "daily",
                                 "actions": [{"job": "extract"}]})  # fmt: skip
    web.post(f"{API}/triggers", {"name": "daily_then", "type": "CONDITIONAL", "workflow": "daily",
                                 "conditions": [{"job": "extract", "state": "SUCCEEDED"}], "actions": [{"job": "load"}]})  # fmt: skip
    r = web.put(
        f"{API}/workflows/daily", {"description": "every day", "default_run_properties": {"region": "us"}}
    )
    assert r.status_code == 200 and r.get_json()["description"] == "every day"
    got = web.get(f"{API}/workflows/daily", who="viewer").get_json()
    assert got["triggers"] == ["daily_start", "daily_then"] and got["default_run_properties"] == {
        "region": "us"
    }

    assert web.post(f"{API}/workflows/daily/runs", who="viewer").status_code == 403
    r = web.post(f"{API}/workflows/daily/runs", {"run_properties": {"day": "1"}}, who="editor")
    assert r.status_code == 202, r.get_json()
    wr = r.get_json()
    assert wr["state"] == "RUNNING" and wr["run_properties"] == {"region": "us", "day": "1"}
    assert {(n["type"], n["name"]): n["state"] for n in wr["nodes"]} == {("job", "extract"): "STARTING",
                                                                          ("job", "load"): None}  # fmt: skip
    # the run of extract fails (as a worker records it); the workflow run completes; resume starts it again
    jobs = web.service.jobs
    run_id = jobs.runs("extract")[0].id
    jobs.claim_run(run_id, "w")
    jobs.finish_run(run_id, "FAILED", "boom")
    web.service.workflows.settle(wr["id"])
    got = web.get(f"{API}/workflows/daily/runs/{wr['id']}").get_json()
    assert (
        got["state"] == "COMPLETED" and {n["name"]: n["state"] for n in got["nodes"]}["extract"] == "FAILED"
    )
    r = web.post(f"{API}/workflows/daily/runs/{wr['id']}/resume", who="editor")
    assert r.status_code == 202 and r.get_json()["started"] == ["job extract"]
    assert r.get_json()["run"]["state"] == "RUNNING"
    assert ("runner.job_run", [jobs.runs("extract")[0].id]) in web.queued_tasks()

    runs = web.get(f"{API}/workflows/daily/runs").get_json()
    assert [x["id"] for x in runs["items"]] == [wr["id"]] and runs["total"] == 1
    assert web.get(f"{API}/workflows").get_json()["items"][0]["last_run"]["id"] == wr["id"]
    r = web.put(f"{API}/workflows/daily/runs/{wr['id']}/properties", {"run_properties": {"rows": 7}})
    assert r.get_json() == {"run_properties": {"region": "us", "day": "1", "rows": 7}}
    assert (
        web.get(f"{API}/workflows/daily/runs/{wr['id']}/properties").get_json()["run_properties"]["rows"] == 7
    )
    assert web.get(f"{API}/workflows/other/runs/{wr['id']}").status_code == 404
    r = web.delete(f"{API}/workflows/daily")
    assert r.status_code == 409 and "is running" in r.get_json()["error"]["message"]


def test_connections_never_show_secrets(web):
    body = {"name": "warehouse_db", "type": "JDBC", "description": "the DWH",
            "properties": {"JDBC_CONNECTION_URL": "jdbc:postgresql://db/dwh", "USERNAME": "etl", "PASSWORD": "s3cr3t!"}}  # fmt: skip
    assert web.post(f"{API}/connections", body, who="viewer").status_code == 403
    r = web.post(f"{API}/connections", body, who="editor")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["properties"]["PASSWORD"] == "********"
    for url in (f"{API}/connections", f"{API}/connections/warehouse_db", f"{API}/connections?type=JDBC"):
        assert "s3cr3t" not in web.get(url, who="viewer").get_data(as_text=True)
    r = web.post(f"{API}/connections", {**body, "name": "k", "type": "KAFKA", "properties": {}})
    assert r.status_code == 400 and "KAFKA_BOOTSTRAP_SERVERS" in r.get_json()["error"]["message"]
    # sending the mask back keeps the secret; a new value replaces it
    shown = web.get(f"{API}/connections/warehouse_db").get_json()
    r = web.put(
        f"{API}/connections/warehouse_db",
        {"type": "JDBC", "properties": {**shown["properties"], "USERNAME": "etl2"}},
    )
    assert r.status_code == 200 and r.get_json()["properties"]["USERNAME"] == "etl2"
    assert web.service.connections.get("warehouse_db", secrets=True).properties["PASSWORD"] == "s3cr3t!"
    web.put(
        f"{API}/connections/warehouse_db",
        {"type": "JDBC", "properties": {**shown["properties"], "PASSWORD": "new"}},
    )
    assert web.service.connections.get("warehouse_db", secrets=True).properties["PASSWORD"] == "new"
    assert [c["name"] for c in web.get(f"{API}/connections?q=house").get_json()["items"]] == ["warehouse_db"]
    assert web.get(f"{API}/connections?type=KAFKA").get_json()["total"] == 0
    assert web.delete(f"{API}/connections/warehouse_db").status_code == 204
    r = web.get(f"{API}/connections/warehouse_db")
    assert (
        r.status_code == 404 and r.get_json()["error"]["message"] == "connection warehouse_db does not exist"
    )


def test_etl_bodies_of_the_wrong_shape_are_400s(web):
    _job(web)
    bad = [
        ("post", "/jobs", {"name": "j", "script": 5}),
        ("post", "/jobs", {"name": "j", "script": "x=1", "default_arguments": ["a"]}),
        ("post", "/jobs", {"name": "j", "script": "x=1", "queue_runs": "yes"}),
        ("post", "/jobs", {"name": "j", "script": "x=1", "type": "java"}),
        ("post", "/jobs/etl/runs", {"arguments": "x"}),
        ("post", "/jobs/etl/runs", {"other": 1}),
        ("post", "/triggers", {"name": "t", "type": "ON_DEMAND", "actions": "etl"}),
        ("post", "/triggers", {"name": "t", "type": "ON_DEMAND", "actions": [{"job": "etl", "crawler": "c"}]}),
        ("post", "/triggers", {"name": "t", "type": "CONDITIONAL", "actions": [{"job": "etl"}], "conditions": [{"job": "etl"}]}),
        ("post", "/workflows", {"name": "w", "default_run_properties": [1]}),
        ("post", "/connections", {"name": "c", "type": "JDBC", "properties": "x"}),
        ("post", "/connections", {"name": "c", "type": "FTP"}),
    ]  # fmt: skip
    for method, path, body in bad:
        r = getattr(web, method)(f"{API}{path}", body)
        assert r.status_code == 400, (path, body, r.get_json())
        assert r.get_json()["error"]["type"] == "InvalidInput"


def test_a_script_is_generated_from_a_mapping(web):
    from metastore.catalog.types import Column, Database, StorageDescriptor, Table

    web.service.databases.create(Database("raw"))
    sd = StorageDescriptor(cols=[Column("id", "int"), Column("amount", "double")])
    web.service.tables.create(Table("orders", "raw", sd=sd, partition_keys=[Column("dt", "string")]))
    body = {"source": "raw.orders", "target": "mart.orders", "partition_by": ["dt"],
            "columns": [{"source": "id", "target": "order_id", "type": "bigint"}, {"source": "dt"}]}  # fmt: skip
    r = web.post(f"{API}/job-scripts/generate", body, who="viewer")
    assert r.status_code == 200, r.get_json()
    script = r.get_json()["script"]
    assert "F.col('`id`').cast('bigint').alias('order_id')" in script and ".partitionBy('dt')" in script
    assert web.post(f"{API}/jobs", {"name": "orders", "script": script}).status_code == 201
    for bad, status, message in [
        ({**body, "source": "raw.nope"}, 404, "nope"),
        ({**body, "columns": [{"source": "nope"}]}, 400, "not a column of raw.orders"),
        ({**body, "mode": "merge"}, 400, None),
        ({**body, "columns": "id"}, 400, None),
    ]:
        r = web.post(f"{API}/job-scripts/generate", bad)
        assert r.status_code == status, r.get_json()
        assert message is None or message in r.get_json()["error"]["message"]
