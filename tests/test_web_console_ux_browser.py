"""The console's pages that move, in headless Chromium against the app served from a thread (SQLite, the
embedded broker; no worker: the test plays the worker's part through the catalog): a job run's page that
follows the run to its end without a reload, and a workflow graph of 12 jobs that fits a 1400 px window.

Needs /usr/bin/chromium and the `playwright` Python package (never `playwright install`).
"""

from __future__ import annotations

import pytest

from metastore.catalog.jobs import Job
from metastore.catalog.triggers import Action, Condition, Trigger
from metastore.catalog.workflows import Workflow
from tests.test_web_e2e import ARGS, CHROMIUM, _need_browser
from tests.web_fixtures import PASSWORD, make_web, serving

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def served(tmp_path, pg_databases):
    w = make_web("sqlite", tmp_path, pg_databases)
    with serving(w) as base:
        yield w, base


def _browser(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def _log_in(page, base: str, path: str, user: str = "editor") -> None:
    page.goto(f"{base}{path}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.locator("#whoami").wait_for()


@pytest.mark.timeout(300)
def test_the_run_page_follows_the_run_to_its_end_without_a_reload(served, tmp_path):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    w, base = served
    svc = w.service
    svc.jobs.create(Job("follow", script="print('hi')", job_type="pythonshell"))
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30_000)
        _log_in(page, base, "/jobs/follow")
        errors = []  # from here on (the login page's request of a favicon answers 404)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.click("#run")
        expect(page.locator("h1")).to_contain_text("of job follow")
        run_id = int(page.locator("h1").inner_text().split()[1])
        expect(page.locator(".flash-queued")).to_contain_text("queued: a worker will start it")
        expect(page.locator("#stop")).to_be_visible()
        expect(page.locator("#run-started")).to_have_text("-")
        expect(page.locator("#run-ended")).to_have_text("-")

        # the worker's part: it takes the run (the queued banner goes), writes, ends it (so does the Stop button)
        svc.jobs.claim_run(run_id, "test-worker")
        expect(page.locator("#run-state")).to_have_text("RUNNING")
        expect(page.locator(".flash-queued")).to_have_count(0)
        expect(page.locator("#run-started")).not_to_have_text("-")
        svc.jobs.append_log(run_id, "line one\n")
        expect(page.locator("#log")).to_contain_text("line one")
        svc.jobs.finish_run(run_id, "FAILED", "ValueError: bad input")
        expect(page.locator("#run-state")).to_have_text("FAILED")
        expect(page.locator("#live")).to_have_text("The run has ended.")
        expect(page.locator("#stop")).to_have_count(0)
        expect(page.locator("#run-error")).to_have_text("ValueError: bad input")
        expect(page.locator("#run-error-row")).to_be_visible()
        run = svc.jobs.get_run(run_id)
        from datetime import UTC, datetime

        def shown(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")

        expect(page.locator("#run-started")).to_have_text(shown(run.started_at))
        expect(page.locator("#run-ended")).to_have_text(shown(run.ended_at))
        expect(page.locator("#run-duration")).not_to_have_text("-")
        shot = tmp_path / "run-ended.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # what the reloaded page would show is what the live one shows
        live = page.locator("#run").inner_text()
        page.reload()
        assert page.locator("#run").inner_text() == live
        assert errors == []
        browser.close()


@pytest.mark.timeout(300)
def test_a_workflow_of_twelve_jobs_fits_the_window(served, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    w, base = served
    svc = w.service
    svc.workflows.create(Workflow("long"))
    for i in range(12):
        svc.jobs.create(Job(f"step_{i:02d}", script="print(1)", job_type="pythonshell"))
    svc.triggers.create(Trigger("kick", "ON_DEMAND", [Action(job="step_00")], workflow="long"))
    for i in range(1, 12):
        svc.triggers.create(Trigger(f"after_{i - 1:02d}", "CONDITIONAL", [Action(job=f"step_{i:02d}")],
                                    conditions=[Condition("SUCCEEDED", job=f"step_{i - 1:02d}")], workflow="long"))  # fmt: skip
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30_000)
        _log_in(page, base, "/workflows/long")
        graph = page.locator("#workflow-graph")
        graph.wait_for()
        shot = tmp_path / "workflow.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        box = graph.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1400, box
        # the page does not scroll sideways, and the nodes stay legible (drawn at full size, not shrunk)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400
        nodes = page.locator("#workflow-graph g.node rect")
        assert nodes.count() == 24  # 12 jobs and 12 triggers
        for i in range(nodes.count()):
            b = nodes.nth(i).bounding_box()
            assert b["width"] >= 160 and b["x"] + b["width"] <= box["x"] + box["width"] + 0.5, b
        # every node keeps its link and label
        assert page.locator("#workflow-graph a").count() == 24
        assert "step_11" in graph.inner_html()
        browser.close()
