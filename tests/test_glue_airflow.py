"""Airflow's GlueCrawlerHook and GlueJobHook (apache-airflow-providers-amazon) against Mortar's Glue API: a
crawler created, updated, started and waited for; a job created, run with arguments and waited for.

Airflow is not installed with Mortar's test dependencies (it brings ~160 packages and would add minutes to
CI), so this runs only when MORTAR_TEST_AIRFLOW_PYTHON names a Python that has the provider, e.g.
`python3 -m venv /tmp/airflow-venv && /tmp/airflow-venv/bin/pip install apache-airflow
apache-airflow-providers-amazon` and MORTAR_TEST_AIRFLOW_PYTHON=/tmp/airflow-venv/bin/python."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.test_glue_control_plane import glue  # noqa: F401 - the module's fixture

AIRFLOW_PYTHON = os.environ.get("MORTAR_TEST_AIRFLOW_PYTHON")
pytestmark = pytest.mark.skipif(not AIRFLOW_PYTHON, reason="MORTAR_TEST_AIRFLOW_PYTHON is not set")

HOOKS = """
import json, os, sys
endpoint, key, secret, data = sys.argv[1:5]
os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps({"conn_type": "aws", "login": key, "password": secret,
    "extra": {"region_name": "us-east-1", "service_config": {"glue": {"endpoint_url": endpoint}}}})
from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook

crawlers = GlueCrawlerHook(aws_conn_id="aws_default")
config = {"Name": "af_sales", "Role": "arn:aws:iam::000000000000:role/glue", "DatabaseName": "af",
          "Targets": {"S3Targets": [{"Path": f"{data}/af_sales"}]}}
assert not crawlers.has_crawler("af_sales")
crawlers.create_crawler(**config)
crawlers.update_crawler(**{**config, "Description": "from airflow"})
crawlers.start_crawler("af_sales")
print("CRAWLER", crawlers.wait_for_crawler_completion("af_sales", poll_interval=1))
jobs = GlueJobHook(aws_conn_id="aws_default", job_name="af_job", desc="from airflow", job_poll_interval=1,
                   iam_role_arn="arn:aws:iam::000000000000:role/glue", update_config=True,
                   create_job_kwargs={"Command": {"Name": "pythonshell", "ScriptLocation": f"{data}/af_job.py"}})
run = jobs.initialize_job({"--who": "airflow"})
print("JOB", jobs.job_completion("af_job", run["JobRunId"])["JobRunState"])
"""


def test_airflow_hooks_crawl_and_run(glue):  # noqa: F811
    (glue.data / "af_sales" / "dt=2024-01-01").mkdir(parents=True)
    (glue.data / "af_sales" / "dt=2024-01-01" / "p.csv").write_text("id,amount\n1,2\n")
    (glue.data / "af_job.py").write_text("import sys\nprint('args', sys.argv[1:])\n")
    key, secret = glue.keys["editor"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MORTAR_", "AWS_"))}
    done = subprocess.run([AIRFLOW_PYTHON, "-c", HOOKS, glue.endpoint, key, secret, str(glue.data)],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert "CRAWLER SUCCEEDED" in done.stdout and "JOB SUCCEEDED" in done.stdout, done.stdout
    [run] = glue.service.jobs.runs("af_job")
    assert run.arguments == {"--who": "airflow"}
    assert "'--who', 'airflow'" in glue.service.jobs.read_log(run.id)[0]
