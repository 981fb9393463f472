"""The Glue control plane (jobs, crawlers, triggers, workflows, connections) against moto's Glue server: one
boto3 scenario run on both, answers compared by shape with tests/glue_reference.py's tools, and the
differences Mortar makes on purpose, each with its reason."""

from __future__ import annotations

import fnmatch

from botocore.exceptions import ClientError

from tests import glue_reference

_KEPT = (
    "Mortar answers what it holds of the object, defaults included, as AWS Glue does; moto echoes the request"
)
DELIBERATE_DIFFERENCES: dict[str, str] = {
    "*: +*/ExecutionProperty/MaxConcurrentRuns": _KEPT,
    "*: +*/JobRunQueuingEnabled": _KEPT,
    "*: +*/JobMode": _KEPT,
    "*: +*/MaxRetries": _KEPT,
    "*: +*/Classifiers": _KEPT,
    "*: +*/RecrawlPolicy": _KEPT,
    "*: +*/SchemaChangePolicy": _KEPT,
    "*: +*/ConnectionType": _KEPT,
    "*: +*/Id": "Glue answers a trigger's Id; moto leaves it out",
    "*: +*/Statistics": "Glue answers the statistics of a workflow run's actions; moto leaves them out",
    "*: +*/CompletedOn": "a workflow run with nothing to do completes at once in Mortar; moto's stays RUNNING",
    "*: -*/Version": "Mortar numbers no versions of crawlers",
    "*: -*/ExecutionClass": "moto invents an ExecutionClass; Mortar answers only what was given",
    "*: -*/SparkProperties": "moto invents empty properties of compute environments; Mortar keeps what was given",
    "*: -*/AthenaProperties": "moto invents empty properties of compute environments; Mortar keeps what was given",
    "*: -*/PythonProperties": "moto invents empty properties of compute environments; Mortar keeps what was given",
    "get_job_run*: -*/CompletedOn": "moto's runs end at once; Mortar's is under way (its worker runs it)",
    "get_job_run*: -*/PredecessorRuns": "Mortar does not record which runs fired the trigger that started a run",
    "get_job_run*: -*/LogGroupName": "a run's log is in the catalog (mortar job logs, the console), not CloudWatch",
    "get_job_run*: -*/GlueVersion": "Mortar answers only the GlueVersion the job was given",
}


def scenario(glue, data: str) -> dict[str, object]:
    out: dict[str, object] = {}

    def step(name, fn, **kw):
        try:
            answer = fn(**kw)
            answer.pop("ResponseMetadata", None)
            for key, items in answer.items():  # other tests' objects share the server: only ours count
                if isinstance(items, list):
                    answer[key] = [
                        i
                        for i in items
                        if not isinstance(i, dict) or str(i.get("Name", "ref")).startswith("ref")
                    ]
            out[name] = answer
        except ClientError as e:
            out[name] = {
                "error " + e.response["Error"]["Code"]: e.response["ResponseMetadata"]["HTTPStatusCode"]
            }
        return out[name]

    role = "arn:aws:iam::123456789012:role/glue"
    step("create_job", glue.create_job, Name="ref_job", Role=role,
         Command={"Name": "pythonshell", "ScriptLocation": f"{data}/ref_job.py"})  # fmt: skip
    step("get_job", glue.get_job, JobName="ref_job")
    step("get_job missing", glue.get_job, JobName="nope")
    step("get_jobs", glue.get_jobs)
    step("list_jobs", glue.list_jobs)
    step("batch_get_jobs", glue.batch_get_jobs, JobNames=["ref_job", "nope"])
    run = step("start_job_run", glue.start_job_run, JobName="ref_job", Arguments={"--a": "b"})
    step("get_job_run", glue.get_job_run, JobName="ref_job", RunId=run.get("JobRunId", "x"))
    step("get_job_runs", glue.get_job_runs, JobName="ref_job")
    step("create_crawler", glue.create_crawler, Name="ref_crawler", Role=role, DatabaseName="ref",
         Targets={"S3Targets": [{"Path": f"{data}/ref_data"}]})  # fmt: skip
    step("get_crawler", glue.get_crawler, Name="ref_crawler")
    step("get_crawler missing", glue.get_crawler, Name="nope")
    step("get_crawlers", glue.get_crawlers)
    step("list_crawlers", glue.list_crawlers)
    step("batch_get_crawlers", glue.batch_get_crawlers, CrawlerNames=["ref_crawler", "nope"])
    step(
        "create_trigger",
        glue.create_trigger,
        Name="ref_trigger",
        Type="ON_DEMAND",
        Actions=[{"JobName": "ref_job"}],
    )
    step("get_trigger", glue.get_trigger, Name="ref_trigger")
    step("get_triggers", glue.get_triggers)
    step("list_triggers", glue.list_triggers)
    step("batch_get_triggers", glue.batch_get_triggers, TriggerNames=["ref_trigger", "nope"])
    step("create_workflow", glue.create_workflow, Name="ref_flow", DefaultRunProperties={"k": "v"})
    step("get_workflow", glue.get_workflow, Name="ref_flow")
    step("list_workflows", glue.list_workflows)
    wf = step("start_workflow_run", glue.start_workflow_run, Name="ref_flow")
    step("get_workflow_run", glue.get_workflow_run, Name="ref_flow", RunId=wf.get("RunId", "x"))
    step(
        "get_workflow_run_properties",
        glue.get_workflow_run_properties,
        Name="ref_flow",
        RunId=wf.get("RunId", "x"),
    )
    step("create_connection", glue.create_connection, ConnectionInput={
        "Name": "ref_conn", "ConnectionType": "JDBC",
        "ConnectionProperties": {"JDBC_CONNECTION_URL": "jdbc:postgresql://db/x", "USERNAME": "u"}})  # fmt: skip
    step("get_connection", glue.get_connection, Name="ref_conn")
    step("get_connection missing", glue.get_connection, Name="nope")
    step("get_connections", glue.get_connections)
    step("delete_trigger", glue.delete_trigger, Name="ref_trigger")
    step("delete_crawler", glue.delete_crawler, Name="ref_crawler")
    return out


def compare(mortar, data: str) -> None:
    from moto.server import ThreadedMotoServer

    port = glue_reference.free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        theirs = scenario(glue_reference.moto_client(port), data)
    finally:
        moto.stop()
    ours = scenario(mortar, data)
    shape, differences = glue_reference.shape, glue_reference.differences
    found = [f"{step}: {d}" for step in theirs for d in differences(shape(theirs[step]), shape(ours[step]))]
    unexplained = [f for f in found if not any(fnmatch.fnmatchcase(f, p) for p in DELIBERATE_DIFFERENCES)]
    unused = [p for p in DELIBERATE_DIFFERENCES if not any(fnmatch.fnmatchcase(f, p) for f in found)]
    assert not unexplained, (
        "differences from moto not listed in tests/glue_control_reference.py:\n" + "\n".join(unexplained)
    )
    assert not unused, f"listed differences that no longer differ: {unused}"
