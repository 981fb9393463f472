"""The Glue API's control plane driven by boto3 against running processes: `mortar glue-api`, the metastore
(Thrift, for job runs) and a real `mortar worker` on the embedded broker. Crawlers crawl, jobs run
(pythonshell: no Spark) and their states, metrics, bookmarks and workflow runs are read back through Glue;
connections' secrets reach admins only; CreateScript and GetMapping use the catalog's tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.encryption import Secrets
from metastore.catalog.types import Column, Database, StorageDescriptor, Table
from metastore.glue.keys import AccessKeys
from tests.conftest import free_port, start_metastore, stop_metastore, wait_for_port
from tests.test_jobs import Worker

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::000000000000:role/glue"


class GlueEnv:
    def __init__(self, service: CatalogService, data: Path, endpoint: str, keys: dict, worker: Worker):
        self.service, self.data, self.endpoint, self.keys, self.worker = service, data, endpoint, keys, worker

    def client(self, who: str = "admin"):
        import boto3
        from botocore.config import Config

        key, secret = self.keys[who]
        return boto3.client("glue", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=key,
                            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))  # fmt: skip

    def wait(self, fetch, done, what: str, timeout: float = 180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = fetch()
            if done(value):
                return value
            time.sleep(0.3)
        raise AssertionError(
            f"{what} not done after {timeout} s: {value}\n{self.worker.log_path.read_text()[-3000:]}"
        )


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("glue-control")
    data = tmp / "data"
    data.mkdir()
    url = f"sqlite:///{tmp / 'catalog.db'}"
    ms = start_metastore("sqlite", tmp, url)
    service = CatalogService.open(url, str(ms.warehouse), secrets=Secrets(key_file=data / "secret.key"))
    keys = {}
    for role in ("admin", "editor", "viewer"):
        service.users.create(role, "correct horse battery", role)
        key, secret = AccessKeys(service.ctx).create(role, "tests")
        keys[role] = (key.access_key_id, secret)
    service.users.create("rawonly", "correct horse battery", "editor", ["raw"])  # one database's editor
    key, secret = AccessKeys(service.ctx).create("rawonly", "tests")
    keys["rawonly"] = (key.access_key_id, secret)
    env = {**os.environ, "MORTAR_DATA_DIR": str(data), "MORTAR_DATABASE_URL": url, "MORTAR_WAREHOUSE": str(ms.warehouse),
           "MORTAR_BROKER_URL": f"sqla+sqlite:///{data / 'broker.db'}", "MORTAR_METASTORE_URI": ms.uri,
           "MORTAR_JOB_WARM_POOL": "0", "MORTAR_JOB_HEARTBEAT_S": "1", "MORTAR_ANONYMOUS": "none"}  # fmt: skip
    port = free_port()
    log = tmp / "glue-api.log"
    with open(log, "wb") as out:
        api = subprocess.Popen([sys.executable, "-m", "mortar.cli", "glue-api", "--port", str(port)], env=env,
                               stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
    worker = Worker(tmp, env)
    try:
        wait_for_port(api, port, log, "glue-api")
        yield GlueEnv(service, data, f"http://127.0.0.1:{port}", keys, worker)
    finally:
        worker.stop()
        api.terminate()
        api.wait(10)
        service.ctx.engine.dispose()
        stop_metastore(ms)


def _error(call, code: str) -> str:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["Error"]["Code"] == code, e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return e.value.response["Error"]["Message"]


GREET = """
import sys
from mortar_job import _catalog, get_resolved_options, new_partitions

args = get_resolved_options(sys.argv, ["greeting", "table"])
parts = new_partitions(args["table"])
_catalog().call("record_bookmark", {"table": args["table"], "entries": parts})
print("greeting:", args["greeting"], "new:", ",".join(parts))
"""


def test_crawlers_and_jobs(glue):
    admin, viewer = glue.client("admin"), glue.client("viewer")
    sales = glue.data / "sales"
    for day in ("2024-01-01", "2024-01-02"):
        (sales / f"dt={day}").mkdir(parents=True)
        (sales / f"dt={day}" / "part.csv").write_text("id,amount\n1,10\n2,20\n")

    # --- crawler: create, start (RUNNING at once), poll to READY, metrics, update, schedules
    admin.create_crawler(Name="sales", Role=ROLE, DatabaseName="lake", Targets={"S3Targets": [{"Path": str(sales)}]},
                         Schedule="cron(0 3 * * ? *)", Tags={"team": "data"})  # fmt: skip
    crawler = admin.get_crawler(Name="sales")["Crawler"]
    assert (crawler["State"], crawler["DatabaseName"], crawler["Schedule"]) == (
        "READY", "lake", {"ScheduleExpression": "cron(0 3 * * ? *)", "State": "SCHEDULED"})  # fmt: skip
    assert "LastCrawl" not in crawler and crawler["Role"] == ROLE  # kept as given
    assert "has the viewer role" in _error(
        lambda: viewer.start_crawler(Name="sales"), "AccessDeniedException"
    )
    admin.start_crawler(Name="sales")
    assert admin.get_crawler(Name="sales")["Crawler"]["State"] == "RUNNING"
    crawler = glue.wait(
        lambda: admin.get_crawler(Name="sales")["Crawler"], lambda c: c["State"] == "READY", "crawl"
    )
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler
    [metrics] = admin.get_crawler_metrics(CrawlerNameList=["sales"])["CrawlerMetricsList"]
    assert (metrics["CrawlerName"], metrics["TablesCreated"], metrics["StillEstimating"]) == (
        "sales",
        1,
        False,
    )
    assert metrics["LastRuntimeSeconds"] > 0
    admin.update_crawler(Name="sales", Description="daily sales",
                         SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})  # fmt: skip
    crawler = admin.get_crawler(Name="sales")["Crawler"]
    assert (crawler["Description"], crawler["SchemaChangePolicy"]["UpdateBehavior"]) == ("daily sales", "LOG")
    assert crawler["Targets"]["S3Targets"][0]["Path"] == str(sales)  # untouched by the update
    admin.update_crawler_schedule(CrawlerName="sales", Schedule="cron(30 1 ? * 2 *)")  # AWS: 2 = Monday
    assert glue.service.crawlers.get("sales").schedule == "30 1 * * 1"
    assert (
        admin.get_crawler(Name="sales")["Crawler"]["Schedule"]["ScheduleExpression"] == "cron(30 1 ? * 2 *)"
    )
    admin.stop_crawler_schedule(CrawlerName="sales")  # off the scheduler, the expression kept
    assert glue.service.crawlers.get("sales").schedule is None
    assert admin.get_crawler(Name="sales")["Crawler"]["Schedule"] == {
        "ScheduleExpression": "cron(30 1 ? * 2 *)", "State": "NOT_SCHEDULED"}  # fmt: skip
    _error(lambda: admin.stop_crawler_schedule(CrawlerName="sales"), "SchedulerNotRunningException")
    admin.start_crawler_schedule(CrawlerName="sales")
    assert glue.service.crawlers.get("sales").schedule == "30 1 * * 1"
    _error(lambda: admin.start_crawler_schedule(CrawlerName="sales"), "SchedulerRunningException")
    [listed] = admin.get_paginator("get_crawlers").paginate().build_full_result()["Crawlers"]
    assert (listed["Name"], listed["LastCrawl"]["Status"], listed["Schedule"]["State"]) == (
        "sales",
        "SUCCEEDED",
        "SCHEDULED",
    )
    _error(lambda: admin.stop_crawler(Name="sales"), "CrawlerNotRunningException")
    assert admin.list_crawlers(Tags={"team": "data"})["CrawlerNames"] == ["sales"]
    assert admin.list_crawlers(Tags={"team": "other"})["CrawlerNames"] == []
    assert admin.batch_get_crawlers(CrawlerNames=["sales", "nope"])["CrawlersNotFound"] == ["nope"]
    _error(lambda: admin.create_crawler(Name="jdbc", Role=ROLE, DatabaseName="lake",
                                        Targets={"JdbcTargets": [{"ConnectionName": "x", "Path": "a/%"}]}),
           "InvalidInputException")  # fmt: skip

    # --- classifiers
    admin.create_classifier(CsvClassifier={"Name": "pipes", "Delimiter": "|", "ContainsHeader": "PRESENT"})
    admin.create_classifier(GrokClassifier={"Name": "applog", "Classification": "app_log",
                                            "GrokPattern": "%{LOGLEVEL:level} %{GREEDYDATA:msg}"})  # fmt: skip
    admin.update_classifier(CsvClassifier={"Name": "pipes", "QuoteSymbol": "'"})
    pages = admin.get_paginator("get_classifiers").paginate(PaginationConfig={"PageSize": 1})
    found = [cl for page in pages for cl in page["Classifiers"]]
    assert [list(cl) for cl in found] == [["GrokClassifier"], ["CsvClassifier"]]
    assert found[1]["CsvClassifier"] == {
        "Name": "pipes",
        "Delimiter": "|",
        "QuoteSymbol": "'",
        "ContainsHeader": "PRESENT",
    }
    _error(lambda: viewer.delete_classifier(Name="pipes"), "AccessDeniedException")
    admin.delete_classifier(Name="pipes")
    _error(lambda: admin.get_classifier(Name="pipes"), "EntityNotFoundException")

    # --- jobs: a run with Arguments through the worker, bookmarks, update, a stopped run, paging
    scripts = glue.data / "scripts"
    scripts.mkdir()
    (scripts / "greet.py").write_text(GREET)
    (scripts / "sleepy.py").write_text("import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    admin.create_job(Name="greet", Role=ROLE, Command={"Name": "pythonshell", "ScriptLocation": str(scripts / "greet.py")},
                     DefaultArguments={"--greeting": "hello", "--table": "lake.sales",
                                       "--job-bookmark-option": "job-bookmark-enable"}, Tags={"team": "data"})  # fmt: skip
    job = admin.get_job(JobName="greet")["Job"]
    assert job["Role"] == ROLE
    assert (job["Command"]["Name"], job["ExecutionProperty"], job["MaxRetries"]) == (
        "pythonshell", {"MaxConcurrentRuns": 1}, 0)  # fmt: skip
    _error(lambda: viewer.start_job_run(JobName="greet"), "AccessDeniedException")
    bad_option = {"--job-bookmark-option": "job-bookmark-disable"}  # runs have their job's option
    _error(lambda: admin.start_job_run(JobName="greet", Arguments=bad_option), "InvalidInputException")
    run_id = admin.start_job_run(JobName="greet", Arguments={"--greeting": "bonjour"})["JobRunId"]
    assert run_id.startswith("jr_")
    run = glue.wait(lambda: admin.get_job_run(JobName="greet", RunId=run_id)["JobRun"],
                    lambda r: r["JobRunState"] not in ("STARTING", "RUNNING"), "job run")  # fmt: skip
    log, _ = glue.service.jobs.read_log(int(run_id[3:]))
    assert run["JobRunState"] == "SUCCEEDED", (run, log)
    assert run["Arguments"]["--greeting"] == "bonjour" and run["CompletedOn"] >= run["StartedOn"]
    assert "greeting: bonjour new: dt=2024-01-01,dt=2024-01-02" in log
    entry = admin.get_job_bookmark(JobName="greet")["JobBookmarkEntry"]
    assert (entry["RunId"], json.loads(entry["JobBookmark"])) == (
        run_id,
        {"lake.sales": ["dt=2024-01-01", "dt=2024-01-02"]},
    )
    assert json.loads(admin.reset_job_bookmark(JobName="greet")["JobBookmarkEntry"]["JobBookmark"]) == {}
    admin.update_job(JobName="greet", JobUpdate={"Timeout": 5, "MaxRetries": 1, "Description": "says hello"})
    job = admin.get_job(JobName="greet")["Job"]
    assert (job["Timeout"], job["MaxRetries"], job["Description"]) == (5, 1, "says hello")
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    second = admin.start_job_run(JobName="greet")["JobRunId"]
    glue.wait(lambda: admin.get_job_run(JobName="greet", RunId=second)["JobRun"]["JobRunState"],
              lambda s: s == "SUCCEEDED", "second run")  # fmt: skip
    pages = admin.get_paginator("get_job_runs").paginate(JobName="greet", PaginationConfig={"PageSize": 1})
    assert [r["Id"] for page in pages for r in page["JobRuns"]] == [second, run_id]

    admin.create_job(
        Name="sleepy",
        Role=ROLE,
        Command={"Name": "pythonshell", "ScriptLocation": str(scripts / "sleepy.py")},
    )
    long_run = admin.start_job_run(JobName="sleepy")["JobRunId"]
    _error(lambda: admin.start_job_run(JobName="sleepy"), "ConcurrentRunsExceededException")
    glue.wait(lambda: admin.get_job_run(JobName="sleepy", RunId=long_run)["JobRun"]["JobRunState"],
              lambda s: s == "RUNNING", "long run started")  # fmt: skip
    stopped = admin.batch_stop_job_run(JobName="sleepy", JobRunIds=[long_run, "jr_999999"])
    assert stopped["SuccessfulSubmissions"] == [{"JobName": "sleepy", "JobRunId": long_run}]
    assert [e["ErrorDetail"]["ErrorCode"] for e in stopped["Errors"]] == ["EntityNotFoundException"]
    glue.wait(lambda: admin.get_job_run(JobName="sleepy", RunId=long_run)["JobRun"]["JobRunState"],
              lambda s: s == "STOPPED", "stopped run")  # fmt: skip

    names = [n for page in admin.get_paginator("list_jobs").paginate(PaginationConfig={"PageSize": 1})
             for n in page["JobNames"]]  # fmt: skip
    assert names == ["greet", "sleepy"]
    assert admin.list_jobs(Tags={"team": "data"})["JobNames"] == ["greet"]
    assert [(j["Name"], j["Command"]["Name"]) for j in admin.get_jobs()["Jobs"]] == [
        ("greet", "pythonshell"), ("sleepy", "pythonshell")]  # fmt: skip
    assert admin.batch_get_jobs(JobNames=["greet", "nope"])["JobsNotFound"] == ["nope"]
    _error(lambda: admin.get_job_run(JobName="greet", RunId=long_run), "EntityNotFoundException")


FLAKY = """
import os
import sys
from mortar_job import get_run_properties, put_run_properties

props = get_run_properties()
marker = props["marker"]
put_run_properties({"seen": props["day"]})
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit("first attempt fails")
print("second attempt succeeds")
"""


def test_triggers_workflows_connections_and_scripts(glue):
    admin, editor, viewer = glue.client("admin"), glue.client("editor"), glue.client("viewer")

    # --- connections: secrets to admins only, and only with HidePassword false
    admin.create_connection(ConnectionInput={"Name": "sales_db", "ConnectionType": "JDBC", "ConnectionProperties": {
        "JDBC_CONNECTION_URL": "jdbc:postgresql://db/sales", "USERNAME": "etl", "PASSWORD": "s3cret"}})  # fmt: skip
    shown = admin.get_connection(Name="sales_db", HidePassword=False)["Connection"]["ConnectionProperties"]
    assert shown["PASSWORD"] == "s3cret"
    assert (
        "PASSWORD"
        not in admin.get_connection(Name="sales_db", HidePassword=True)["Connection"]["ConnectionProperties"]
    )
    hidden = viewer.get_connection(Name="sales_db", HidePassword=False)["Connection"]["ConnectionProperties"]
    assert hidden == {"JDBC_CONNECTION_URL": "jdbc:postgresql://db/sales", "USERNAME": "etl"}
    assert "PASSWORD" not in viewer.get_connections()["ConnectionList"][0]["ConnectionProperties"]
    denied = [r for r in glue.service.audit.records(obj="sales_db") if r.action == "DENIED"]
    assert denied and denied[-1].user == "viewer"
    _error(lambda: viewer.create_connection(ConnectionInput={"Name": "x", "ConnectionType": "NETWORK", "ConnectionProperties": {}}),
           "AccessDeniedException")  # fmt: skip
    editor.update_connection(Name="sales_db", ConnectionInput={"Name": "sales_db", "ConnectionType": "JDBC",
                             "ConnectionProperties": {"JDBC_CONNECTION_URL": "jdbc:postgresql://db2/sales"}})  # fmt: skip
    assert glue.service.connections.get("sales_db").properties == {
        "JDBC_CONNECTION_URL": "jdbc:postgresql://db2/sales"
    }
    gone = admin.batch_delete_connection(ConnectionNameList=["sales_db", "nope"])
    assert (gone["Succeeded"], list(gone["Errors"])) == (["sales_db"], ["nope"])
    assert gone["Errors"]["nope"]["ErrorCode"] == "EntityNotFoundException"

    # --- triggers
    scripts = glue.data / "wf"
    scripts.mkdir()
    (scripts / "flaky.py").write_text(FLAKY)
    (scripts / "done.py").write_text("print('done')\n")
    for name in ("flaky", "done"):
        editor.create_job(
            Name=name,
            Role=ROLE,
            Command={"Name": "pythonshell", "ScriptLocation": str(scripts / f"{name}.py")},
        )
    editor.create_trigger(Name="nightly", Type="SCHEDULED", Schedule="cron(0 2 * * ? *)",
                          Actions=[{"JobName": "done", "Arguments": {"--mode": "full"}}], StartOnCreation=True)  # fmt: skip
    t = admin.get_trigger(Name="nightly")["Trigger"]
    assert (t["State"], t["Schedule"], t["Actions"]) == (
        "ACTIVATED", "cron(0 2 * * ? *)", [{"JobName": "done", "Arguments": {"--mode": "full"}}])  # fmt: skip
    editor.stop_trigger(Name="nightly")
    assert admin.get_trigger(Name="nightly")["Trigger"]["State"] == "DEACTIVATED"
    updated = editor.update_trigger(Name="nightly", TriggerUpdate={"Schedule": "cron(15 4 * * ? *)"})[
        "Trigger"
    ]
    assert (updated["Schedule"], updated["Actions"][0]["JobName"]) == ("cron(15 4 * * ? *)", "done")
    assert [x["Name"] for x in admin.get_triggers(DependentJobName="done")["Triggers"]] == ["nightly"]
    _error(lambda: viewer.delete_trigger(Name="nightly"), "AccessDeniedException")
    editor.delete_trigger(Name="nightly")
    editor.delete_trigger(Name="nightly")  # as Glue: no error

    # --- a workflow: start with properties, a failed node, resume, graph
    editor.create_workflow(
        Name="pipeline", DefaultRunProperties={"day": "2024-01-01", "marker": str(scripts / "m")}
    )
    editor.create_trigger(
        Name="pipeline_start", WorkflowName="pipeline", Type="ON_DEMAND", Actions=[{"JobName": "flaky"}]
    )
    editor.create_trigger(Name="pipeline_then", WorkflowName="pipeline", Type="CONDITIONAL", StartOnCreation=True,
                          Predicate={"Conditions": [{"LogicalOperator": "EQUALS", "JobName": "flaky", "State": "SUCCEEDED"}]},
                          Actions=[{"JobName": "done"}])  # fmt: skip
    run_id = editor.start_workflow_run(Name="pipeline", RunProperties={"day": "2024-01-02"})["RunId"]

    def run():
        return admin.get_workflow_run(Name="pipeline", RunId=run_id)["Run"]

    first = glue.wait(run, lambda r: r["Status"] == "COMPLETED", "workflow run")
    assert (first["Statistics"]["FailedActions"], first["Statistics"]["SucceededActions"]) == (1, 0), first
    props = admin.get_workflow_run_properties(Name="pipeline", RunId=run_id)["RunProperties"]
    assert (props["day"], props["seen"]) == ("2024-01-02", "2024-01-02")
    editor.put_workflow_run_properties(Name="pipeline", RunId=run_id, RunProperties={"note": "resumed"})
    _error(
        lambda: editor.resume_workflow_run(Name="pipeline", RunId=run_id, NodeIds=["job:done"]),
        "InvalidInputException",
    )
    resumed = editor.resume_workflow_run(Name="pipeline", RunId=run_id, NodeIds=["job:flaky"])
    assert resumed == {
        "RunId": run_id,
        "NodeIds": ["job:flaky"],
        "ResponseMetadata": resumed["ResponseMetadata"],
    }
    final = glue.wait(
        run, lambda r: r["Status"] == "COMPLETED" and r["Statistics"]["SucceededActions"] == 2, "resumed run"
    )
    assert final["WorkflowRunProperties"]["note"] == "resumed"
    _error(lambda: editor.stop_workflow_run(Name="pipeline", RunId=run_id), "IllegalWorkflowStateException")
    graph = admin.get_workflow(Name="pipeline", IncludeGraph=True)["Workflow"]["Graph"]
    assert sorted(n["UniqueId"] for n in graph["Nodes"]) == [
        "job:done", "job:flaky", "trigger:pipeline_start", "trigger:pipeline_then"]  # fmt: skip
    assert {"SourceId": "job:flaky", "DestinationId": "trigger:pipeline_then"} in graph["Edges"]
    runs = admin.get_workflow_runs(Name="pipeline", IncludeGraph=True)["Runs"]
    [flaky] = [n for n in runs[0]["Graph"]["Nodes"] if n["UniqueId"] == "job:flaky"]
    assert [r["JobRunState"] for r in flaky["JobDetails"]["JobRuns"]] == ["SUCCEEDED", "FAILED"]
    _error(lambda: viewer.start_workflow_run(Name="pipeline"), "AccessDeniedException")

    # --- CreateScript and GetMapping over the catalog's tables
    glue.service.databases.create(Database("raw"))
    sd = StorageDescriptor(cols=[Column("user_id", "bigint"), Column("amount", "double")])
    glue.service.tables.create(Table("clicks", "raw", sd=sd, partition_keys=[Column("dt", "string")]))
    mapping = admin.get_mapping(Source={"DatabaseName": "raw", "TableName": "clicks"})["Mapping"]
    assert [(m["SourcePath"], m["SourceType"]) for m in mapping] == [
        ("user_id", "bigint"),
        ("amount", "double"),
        ("dt", "string"),
    ]
    script = admin.create_script(
        DagNodes=[
            {"Id": "datasource0", "NodeType": "DataSource",
             "Args": [{"Name": "database", "Value": '"raw"'}, {"Name": "table_name", "Value": '"clicks"'}]},
            {"Id": "applymapping1", "NodeType": "ApplyMapping",
             "Args": [{"Name": "mapping", "Value": '[("user_id", "bigint", "customer", "bigint"), ("dt", "string", "dt", "string")]'}]},
            {"Id": "datasink2", "NodeType": "DataSink",
             "Args": [{"Name": "database", "Value": '"raw"'}, {"Name": "table_name", "Value": '"spend"'}]},
        ],
        DagEdges=[{"Source": "datasource0", "Target": "applymapping1"}, {"Source": "applymapping1", "Target": "datasink2"}],
    )["PythonScript"]  # fmt: skip
    assert "SOURCE_DB, SOURCE_TABLE = 'raw', 'clicks'" in script and "TARGET_DB, TARGET_TABLE = 'raw', 'spend'" in script
    assert "('user_id', 'long', 'customer', 'long')," in script and "GlueContext(" in script  # as Glue writes it
    compile(script, "generated", "exec")

    # --- a user restricted to database raw: crawlers of other databases are out of sight and reach
    rawonly = glue.client("rawonly")
    admin.create_crawler(Name="hidden", Role=ROLE, DatabaseName="secret_db",
                         Targets={"S3Targets": [{"Path": str(glue.data / "nothing")}]})  # fmt: skip
    rawonly.create_crawler(Name="raw_crawler", Role=ROLE, DatabaseName="raw",
                           Targets={"S3Targets": [{"Path": str(glue.data / "nothing")}]})  # fmt: skip
    assert "hidden" in admin.list_crawlers()["CrawlerNames"]
    assert rawonly.list_crawlers()["CrawlerNames"] == ["raw_crawler"]
    assert [cr["Name"] for cr in rawonly.get_crawlers()["Crawlers"]] == ["raw_crawler"]
    assert rawonly.batch_get_crawlers(CrawlerNames=["hidden"])["CrawlersNotFound"] == ["hidden"]
    assert "no access to database secret_db" in _error(
        lambda: rawonly.get_crawler(Name="hidden"), "AccessDeniedException"
    )
    _error(lambda: rawonly.start_crawler(Name="hidden"), "AccessDeniedException")
    _error(lambda: rawonly.create_crawler(Name="sneaky", Role=ROLE, DatabaseName="secret_db",
                                          Targets={"S3Targets": [{"Path": str(glue.data)}]}), "AccessDeniedException")  # fmt: skip
    _error(
        lambda: rawonly.get_mapping(Source={"DatabaseName": "secret_db", "TableName": "t"}),
        "AccessDeniedException",
    )
    _error(
        lambda: admin.create_script(DagNodes=[{"Id": "x", "NodeType": "Join", "Args": []}]),
        "InvalidInputException",
    )


def test_control_plane_shapes_match_moto(glue):
    """The same control-plane scenario against moto's Glue server and Mortar: the same keys in every answer,
    except the differences listed with their reasons in tests/glue_control_reference.py."""
    from tests import glue_control_reference

    (glue.data / "ref_job.py").write_text("import time\ntime.sleep(600)\n")  # under way while compared
    (glue.data / "ref_data").mkdir()
    admin = glue.client("admin")
    glue_control_reference.compare(admin, str(glue.data))
    [run] = admin.get_job_runs(JobName="ref_job")["JobRuns"]
    admin.batch_stop_job_run(JobName="ref_job", JobRunIds=[run["Id"]])
    glue.wait(lambda: admin.get_job_run(JobName="ref_job", RunId=run["Id"])["JobRun"]["JobRunState"],
              lambda s: s == "STOPPED", "stopped reference run")  # fmt: skip
