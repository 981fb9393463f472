"""Workflows with crawler nodes, on SQLite and PostgreSQL: a trigger starts a real crawler in a workflow
run, the workflow's conditional trigger on the crawler's end starts a job, the run lists both nodes, and
resume starts a failed crawler again. (Through real workers: tests/test_jobs.py.)"""

from __future__ import annotations

import pytest

from metastore.catalog import CatalogService, Conflict
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from metastore.catalog.dispatch import (
    on_crawler_run_ended,
    on_crawler_runs,
    on_job_run_ended,
    on_workflow_crawler_runs,
    resume_workflow,
    start_workflow,
)
from metastore.catalog.jobs import Job
from metastore.catalog.triggers import Action, Condition, Trigger
from metastore.catalog.workflows import Workflow
from runner.crawler.crawl import run_crawler
from tests.conftest import database_url
from tests.crawler_data import csv_text, write_files


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, pg_databases):
    svc = CatalogService.open(database_url(request.param, tmp_path, pg_databases), str(tmp_path / "wh"))
    yield svc
    svc.ctx.engine.dispose()


def test_a_crawler_node_starts_the_job_after_it_and_resumes_when_it_failed(service, tmp_path):
    root = tmp_path / "sales"
    write_files(root, {"year=2024/a.csv": csv_text(["id", "v"], [[1, 2]])})
    service.crawlers.create(Crawler(name="sales", targets=[CrawlerTarget(str(root))], database="raw"))
    service.jobs.create(Job(name="load", script="print('load')\n", job_type="pythonshell"))
    service.workflows.create(Workflow("ingest"))
    service.triggers.create(
        Trigger("ingest_start", "ON_DEMAND", [Action(crawler="sales")], workflow="ingest")
    )
    service.triggers.create(Trigger("ingest_load", "CONDITIONAL", [Action(job="load")], workflow="ingest",
                                    conditions=[Condition("SUCCEEDED", crawler="sales")]))  # fmt: skip
    # a trigger outside the workflow watching the same crawler: the workflow's runs are not its business
    service.triggers.create(Trigger("outside", "CONDITIONAL", [Action(job="load")],
                                    conditions=[Condition("SUCCEEDED", crawler="sales")]), activate=True)  # fmt: skip
    sent = []

    def send(name, args):
        sent.append((name, args))

    wf = start_workflow(service, "ingest", send)
    [crawl] = service.crawlers.runs("sales")
    assert (crawl.state, crawl.trigger, crawl.workflow_run_id) == ("RUNNING", "ingest_start", wf.id)
    assert sent == [("runner.crawl", ["sales", crawl.id])]
    # under way from the start: the workflow run waits for the crawler
    assert (wf.state, wf.nodes) == ("RUNNING", {"crawler sales": "RUNNING", "job load": None})
    assert service.crawlers.claim_run(crawl.id).heartbeat_at > crawl.started_at  # what a worker does first
    with pytest.raises(Conflict, match="taken"):
        service.crawlers.claim_run(crawl.id)  # the same task delivered twice: one worker crawls

    # the worker ends it FAILED, then evaluates the workflow's triggers: nothing follows a failure here
    service.crawlers.finish_run(crawl.id, "FAILED", error="the store was unreachable")
    assert on_crawler_run_ended(service, service.crawlers.get_run(crawl.id), send) == []
    done = service.workflows.get_run(wf.id)
    assert (done.state, done.nodes) == ("COMPLETED", {"crawler sales": "FAILED", "job load": None})
    assert service.workflows.failed_nodes(wf.id) == []  # jobs only, as before
    assert service.workflows.failed_nodes(wf.id, crawlers=True) == ["crawler sales"]

    sent.clear()
    assert resume_workflow(service, wf.id, send) == ["crawler sales"]
    [again, _] = service.crawlers.runs("sales")
    assert (again.state, again.trigger, again.workflow_run_id) == ("RUNNING", "ingest_start", wf.id)
    assert sent == [("runner.crawl", ["sales", again.id])]
    assert service.workflows.get_run(wf.id).state == "RUNNING"
    outcome = run_crawler(service, "sales", run_id=again.id)  # what the worker's task does: a real crawl
    assert (outcome.run_id, outcome.state, outcome.metrics.tables_created) == (again.id, "SUCCEEDED", 1)
    assert on_crawler_run_ended(service, service.crawlers.get_run(again.id), send) == ["ingest_load"]
    assert on_workflow_crawler_runs(service, send) == []  # the scheduler's second look fires nothing again
    [load] = service.jobs.runs("load")
    assert (load.trigger, load.workflow_run_id, sent[-1]) == (
        "ingest_load",
        wf.id,
        ("runner.job_run", [load.id]),
    )
    assert service.workflows.get_run(wf.id).nodes == {"crawler sales": "SUCCEEDED", "job load": "STARTING"}
    assert on_crawler_runs(service, send) == []  # a workflow's crawler run fires no trigger outside it

    service.jobs.claim_run(load.id, "w")
    on_job_run_ended(service, service.jobs.finish_run(load.id, "SUCCEEDED").run, send)
    done = service.workflows.get_run(wf.id)
    assert (done.state, done.nodes) == ("COMPLETED", {"crawler sales": "SUCCEEDED", "job load": "SUCCEEDED"})
    assert resume_workflow(service, wf.id, send) == []


def test_a_crawler_already_running_is_reported_and_the_workflow_run_ends(service, tmp_path):
    service.crawlers.create(Crawler(name="busy", targets=[CrawlerTarget(str(tmp_path))], database="raw"))
    service.workflows.create(Workflow("w"))
    service.triggers.create(Trigger("w_start", "ON_DEMAND", [Action(crawler="busy")], workflow="w"))
    running = service.crawlers.start_run("busy")  # outside the workflow
    sent = []
    wf = start_workflow(service, "w", lambda n, a: sent.append(a))
    assert sent == [] and (wf.state, wf.nodes) == ("COMPLETED", {"crawler busy": None})
    service.crawlers.finish_run(running.id, "SUCCEEDED")


def test_a_crawler_node_no_worker_took_fails_later_than_a_run_whose_worker_died(service, tmp_path):
    import time

    from runner.triggers.scheduler import Scheduler

    for name in ("queued", "taken"):
        service.crawlers.create(Crawler(name=name, targets=[CrawlerTarget(str(tmp_path / name))], database="raw"))
    queued = service.crawlers.start_run("queued")  # recorded for a worker, not taken yet
    taken = service.crawlers.claim_run(service.crawlers.start_run("taken").id)
    time.sleep(0.01)
    # a worker silent for longer than allowed has died; a run still waiting in the queue has not
    assert [r.id for r in service.crawlers.mark_stale_runs(0, unclaimed_after_s=3600)] == [taken.id]
    assert service.crawlers.runs("queued")[0].state == "RUNNING"
    [failed] = service.crawlers.mark_stale_runs(0, unclaimed_after_s=0)
    assert (failed.id, failed.state, failed.error) == (queued.id, "FAILED", "worker stopped responding")
    # the scheduler does this on each tick (with the settings' ages)
    fresh = service.crawlers.start_run("queued")
    Scheduler(service, lambda name, args: None).tick()
    assert service.crawlers.runs("queued")[0].id == fresh.id
    assert service.crawlers.runs("queued")[0].state == "RUNNING"
