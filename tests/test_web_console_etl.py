"""The console's pages of jobs, runs and logs, triggers, workflows, connections and the classifier edit form,
through Flask's test client over a real catalog (SQLite) and the real embedded broker."""

from __future__ import annotations

import re
from html import unescape

import pytest

from metastore.catalog.crawlers import Classifier, Crawler
from metastore.catalog.jobs import Job
from tests.web_fixtures import csrf_of, login, make_web

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site(tmp_path_factory, pg_databases):
    w = make_web("sqlite", tmp_path_factory.mktemp("console-etl"), pg_databases)
    c = w.client()
    login(c, "editor")
    token = csrf_of(c.get("/jobs").get_data(as_text=True))
    yield w, c, token
    w.service.ctx.engine.dispose()


def text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return unescape(response.get_data(as_text=True))


def test_job_form_create_edit_and_versions(site):
    w, c, token = site
    form = {"csrf_token": token, "name": "clean", "type": "pythonshell", "script": "def f(:\n",
            "default_arguments": "--day=monday\n--limit=5", "max_retries": "1", "max_concurrent_runs": "2"}  # fmt: skip
    page = text(c.get("/jobs/new"))
    assert 'data-editor="python"' in page and "editor.js" in page
    r = c.post("/jobs/new", data=form)
    assert r.status_code == 400 and "job clean: the script is not valid Python" in unescape(
        r.get_data(as_text=True)
    )
    assert "--day=monday" in unescape(r.get_data(as_text=True))  # the form comes back as typed
    r = c.post("/jobs/new", data={**form, "script": "print('v1')\r\n", "max_retries": "one"})
    assert r.status_code == 400 and "max retries 'one' is not a whole number" in unescape(
        r.get_data(as_text=True)
    )
    r = c.post("/jobs/new", data={**form, "script": "print('v1')\r\n", "default_arguments": "oops"})
    assert r.status_code == 400 and "'oops' is not KEY=VALUE" in unescape(r.get_data(as_text=True))
    r = c.post("/jobs/new", data={**form, "script": "print('v1')\r\n"})
    assert r.status_code == 302 and r.location == "/jobs/clean"
    j = w.service.jobs.get("clean")
    assert (j.script, j.job_type, j.default_arguments, j.max_retries, j.max_concurrent_runs) == (
        "print('v1')\n", "pythonshell", {"--day": "monday", "--limit": "5"}, 1, 2)  # fmt: skip
    edit = text(c.get("/jobs/clean/edit"))
    assert "print('v1')" in edit and "--limit=5" in edit
    r = c.post("/jobs/clean/edit", data={**form, "script": "print('v2')\n"})
    assert r.status_code == 302
    page = text(c.get("/jobs/clean"))
    assert "script version 2" in page and "print('v2')" in page
    assert re.findall(r'version=(\d)"', page) == ["1", "2"]
    assert "print('v1')" in text(c.get("/jobs/clean?version=1"))
    listing = text(c.get("/jobs?q=cle&type=pythonshell"))
    assert ">clean</a>" in listing and "never run" in listing
    assert ">clean</a>" not in text(c.get("/jobs?type=spark"))


def test_runs_chart_start_stop_and_run_page_with_log(site):
    w, c, token = site
    jobs = w.service.jobs
    jobs.create(Job("charted", "print(1)\n", job_type="pythonshell", max_concurrent_runs=5))
    outcomes = ["SUCCEEDED", "FAILED", "SUCCEEDED", "TIMEOUT"]
    for state in outcomes:  # as workers record them
        run = jobs.start_run("charted")
        jobs.claim_run(run.id, "w")
        jobs.finish_run(run.id, state, "boom" if state != "SUCCEEDED" else None)
    page = text(c.get("/jobs/charted"))
    assert re.findall(r'<rect class="run (\w+)"', page) == [s.lower() for s in outcomes]  # oldest first
    runs = page[page.index('id="runs"') :]
    assert re.findall(r'<span class="state (\w+)">', runs) == list(reversed(outcomes))
    failed = text(c.get("/jobs/charted?state=FAILED"))
    assert re.findall(r'<span class="state (\w+)">', failed[failed.index('id="runs"') :]) == ["FAILED"]
    assert "TIMEOUT" in text(c.get("/jobs?state=TIMEOUT")) and ">charted<" not in text(
        c.get("/jobs?state=FAILED")
    )

    # start with arguments: queued by name, and the run page is shown
    r = c.post("/jobs/charted/run", data={"csrf_token": token, "arguments": "--day=friday"})
    assert r.status_code == 302
    run_id = int(r.location.rsplit("/", 1)[1])
    assert ("runner.job_run", [run_id]) in w.queued_tasks()
    assert jobs.get_run(run_id).arguments == {"--day": "friday"}
    jobs.claim_run(run_id, "w")
    jobs.append_log(run_id, "first line\n<b>not html</b>\n")
    page = c.get(r.location).get_data(as_text=True)
    assert "queued" in unescape(page) and 'id="run-state" class="state RUNNING"' in page
    assert "&lt;b&gt;not html&lt;/b&gt;" in page  # the log is text
    assert 'data-offset="27" data-finished="false"' in page and "runlog.js" in page
    assert f"/api/v1/jobs/charted/runs/{run_id}/log" in page
    r = c.post(f"/jobs/charted/runs/{run_id}/stop", data={"csrf_token": token})
    assert r.status_code == 302 and jobs.get_run(run_id).state == "STOPPING"
    jobs.finish_run(run_id, "SUCCEEDED")
    page = text(c.get(f"/jobs/charted/runs/{run_id}"))
    assert 'data-finished="true"' in page and "STOPPED" in page
    assert "STOPPED" in text(c.get("/job-runs?state=STOPPED"))
    assert c.get(f"/jobs/other/runs/{run_id}").status_code == 404


def test_trigger_form_preview_create_and_buttons(site):
    w, c, token = site
    w.service.jobs.create(Job("extract", "print(1)\n", job_type="pythonshell"))
    w.service.crawlers.create(Crawler("landing", ["/data/in"], "raw"))
    form = {"csrf_token": token, "name": "nightly", "type": "SCHEDULED", "schedule": "15 4 * * *",
            "actions": "job extract --day=sunday '--note=two words'\ncrawler landing"}  # fmt: skip
    page = text(c.post("/triggers/new", data={**form, "action": "preview"}))
    assert re.search(r"Next: (\d{4}-\d\d-\d\d 04:15, ){4}\d{4}-\d\d-\d\d 04:15", page)
    r = c.post("/triggers/new", data={**form, "schedule": "99 * * * *", "action": "save"})
    assert r.status_code == 400 and "not a valid cron expression" in unescape(r.get_data(as_text=True))
    r = c.post("/triggers/new", data={**form, "actions": "job", "action": "save"})
    assert r.status_code == 400 and "is not `job NAME" in unescape(r.get_data(as_text=True))
    r = c.post("/triggers/new", data={**form, "activate": "on", "action": "save"})
    assert r.status_code == 302
    t = w.service.triggers.get("nightly")
    assert t.state == "ACTIVATED" and t.actions[0].arguments == {"--day": "sunday", "--note": "two words"}
    page = text(c.get("/triggers/nightly"))
    assert re.search(r'id="next-fires">(\d{4}-\d\d-\d\d 04:15, ){4}', page) and 'id="deactivate"' in page
    edit = text(c.get("/triggers/nightly/edit"))
    assert "job extract --day=sunday '--note=two words'" in edit
    c.post("/triggers/nightly/deactivate", data={"csrf_token": token})
    assert w.service.triggers.get("nightly").state == "DEACTIVATED"
    cond = {"csrf_token": token, "name": "after", "type": "CONDITIONAL", "logical": "ANY", "action": "save",
            "conditions": "job extract FAILED\ncrawler landing succeeded", "actions": "job extract"}  # fmt: skip
    assert c.post("/triggers/new", data=cond).status_code == 302
    assert [(x.job, x.crawler, x.state) for x in w.service.triggers.get("after").conditions] == [
        ("extract", None, "FAILED"), (None, "landing", "SUCCEEDED")]  # fmt: skip
    assert ">after</a>" in text(c.get("/triggers?type=CONDITIONAL")) and ">nightly<" not in text(
        c.get("/triggers?type=CONDITIONAL")
    )
    # start fires the actions now
    r = c.post("/triggers/nightly/start", data={"csrf_token": token})
    assert r.status_code == 302
    page = text(c.get("/triggers/nightly"))
    assert "Trigger nightly fired: job extract run" in page and "crawler landing queued" in page
    assert any(name == "runner.crawl" and args[0] == "landing" for name, args in w.queued_tasks())
    assert c.post("/triggers/after/delete", data={"csrf_token": token}).status_code == 302
    assert [t.name for t in w.service.triggers.list()] == ["nightly"]


def test_workflow_graph_runs_and_resume(site):
    w, c, token = site
    jobs = w.service.jobs
    for name in ("wf_a", "wf_b"):
        jobs.create(Job(name, "print(1)\n", job_type="pythonshell"))
    r = c.post(
        "/workflows/new", data={"csrf_token": token, "name": "flow", "default_run_properties": "region=eu"}
    )
    assert r.status_code == 302
    page = text(c.get("/workflows/flow"))
    assert "its graph is empty" in page
    base = {"csrf_token": token, "workflow": "flow", "action": "save"}
    c.post("/triggers/new", data={**base, "name": "flow_start", "type": "ON_DEMAND", "actions": "job wf_a"})
    c.post("/triggers/new", data={**base, "name": "flow_then", "type": "CONDITIONAL", "conditions": "job wf_a SUCCEEDED",
                                  "actions": "job wf_b"})  # fmt: skip
    r = c.post("/workflows/flow/run", data={"csrf_token": token, "run_properties": "day=1"})
    assert r.status_code == 302
    run_id = int(r.location.rsplit("=", 1)[1])
    assert w.service.workflows.get_run(run_id).run_properties == {"region": "eu", "day": "1"}
    a = jobs.runs("wf_a")[0]
    jobs.claim_run(a.id, "w")
    jobs.finish_run(a.id, "FAILED", "boom")
    w.service.workflows.settle(run_id)
    page = c.get(f"/workflows/flow?run={run_id}").get_data(as_text=True)
    graph = page[page.index('id="workflow-graph"') : page.index("</svg>")]
    nodes = dict(
        re.findall(r'<g class="node (\w+(?: \w+)?)" data-node="([^"]+)"', graph)[i][::-1] for i in range(4)
    )
    assert nodes == {"trigger:flow_start": "trigger", "job:wf_a": "job failed", "trigger:flow_then": "trigger",
                     "job:wf_b": "job"}  # fmt: skip
    assert graph.count("marker-end") == 3  # start → a → then → b
    assert 'id="resume"' in page and "COMPLETED" in page
    r = c.post(f"/workflows/flow/runs/{run_id}/resume", data={"csrf_token": token})
    assert r.status_code == 302
    page = text(c.get(r.location))
    assert "started again" in page and "wf_a" in page, re.findall(r"class=\"(?:flash|error)\">([^<]*)", page)
    assert jobs.runs("wf_a")[0].workflow_run_id == run_id and ">flow</a>" in text(c.get("/workflows"))


def test_connections_are_masked_and_keep_their_secrets(site):
    w, c, token = site
    form = {"csrf_token": token, "name": "dwh", "type": "JDBC", "description": "warehouse",
            "properties": "JDBC_CONNECTION_URL=jdbc:postgresql://db/dwh\nUSERNAME=etl\nPASSWORD=hunter2"}  # fmt: skip
    r = c.post("/connections/new", data={**form, "type": "KAFKA"})
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "KAFKA_BOOTSTRAP_SERVERS" in body and "hunter2" not in body
    assert c.post("/connections/new", data=form).status_code == 302
    for page in ("/connections", "/connections/dwh", "/connections/dwh/edit"):
        assert "hunter2" not in text(c.get(page))
    assert "PASSWORD=********" in text(c.get("/connections/dwh/edit"))
    edited = form["properties"].replace("hunter2", "********").replace("USERNAME=etl", "USERNAME=etl2")
    assert c.post("/connections/dwh/edit", data={**form, "properties": edited}).status_code == 302
    stored = w.service.connections.get("dwh", secrets=True).properties
    assert stored["PASSWORD"] == "hunter2" and stored["USERNAME"] == "etl2"
    assert "jdbc:postgresql://db/dwh" in text(c.get("/connections?type=JDBC"))
    assert c.post("/connections/dwh/delete", data={"csrf_token": token}).status_code == 302
    assert c.get("/connections/dwh").status_code == 404


def test_classifier_edit_form(site):
    w, c, token = site
    w.service.crawlers.create_classifier(Classifier("semi", "csv", None, csv_delimiter=";"))
    assert "/classifiers/semi/edit" in text(c.get("/classifiers"))
    page = text(c.get("/classifiers/semi/edit"))
    assert 'value=";"' in page
    r = c.post("/classifiers/semi/edit", data={"csrf_token": token, "kind": "csv", "csv_delimiter": "||"})
    assert r.status_code == 400 and "single character" in r.get_data(as_text=True)
    r = c.post("/classifiers/semi/edit", data={"csrf_token": token, "kind": "csv", "csv_delimiter": "|",
                                               "csv_header": "PRESENT"})  # fmt: skip
    assert r.status_code == 302
    got = w.service.crawlers.get_classifier("semi")
    assert (got.csv_delimiter, got.csv_header) == ("|", "PRESENT")


def test_generate_a_job_from_a_mapping_then_save_it(site):
    from metastore.catalog.types import Column, Database, StorageDescriptor, Table

    w, c, token = site
    w.service.databases.create(Database("shop"))
    sd = StorageDescriptor(cols=[Column("id", "int"), Column("amount", "double")])
    w.service.tables.create(Table("sales", "shop", sd=sd))
    assert "Generate the script from a mapping" in text(c.get("/jobs/new"))
    form = {"csrf_token": token, "name": "sales_copy", "source": "shop.sales", "target": "mart.sales",
            "columns": "id:sale_id\namount::decimal(10,2)\n", "format": "orc", "mode": "append"}  # fmt: skip
    r = c.post("/jobs/generate", data={**form, "columns": "nope"})
    assert r.status_code == 400 and "is not a column of shop.sales" in unescape(r.get_data(as_text=True))
    page = text(c.post("/jobs/generate", data=form))
    # the job form, filled: name, the script in the editor, bookmarks on; it saves through /jobs/new
    assert 'value="sales_copy"' in page and 'action="/jobs/new"' in page
    script = re.search(r'<textarea id="script"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert "F.col('`amount`').cast('decimal(10,2)').alias('amount')" in script and "format('orc')" in script
    r = c.post("/jobs/new", data={"csrf_token": token, "name": "sales_copy", "type": "spark", "script": script,
                                  "bookmark": "enable", "max_retries": "0", "max_concurrent_runs": "1"})  # fmt: skip
    assert r.status_code == 302
    assert w.service.jobs.get("sales_copy").script == script.replace("\r\n", "\n")
