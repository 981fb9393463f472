"""The console's usability fixes through Flask's test client: a crawler run's page (metrics, skipped files
and why, tables changed, error, warning) linked from the run list; search across every kind of object,
grouped and linked, within the user's database grants; the `q` filter of the classifier, user and token
lists; the overview's tiles as links. (tests/test_web_console_ux_browser.py drives the pages that move.)"""

from __future__ import annotations

import re
from html import unescape

import pytest

from metastore.catalog.connections import Connection
from metastore.catalog.crawlers import Classifier, Crawler
from metastore.catalog.jobs import Job
from metastore.catalog.triggers import Action, Trigger
from metastore.catalog.types import Column, Database, StorageDescriptor, Table
from metastore.catalog.workflows import Workflow
from tests.web_fixtures import PASSWORD, login, make_web

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site(tmp_path_factory, pg_databases):
    w = make_web("sqlite", tmp_path_factory.mktemp("ux"), pg_databases)
    svc = w.service
    for db in ("lake", "secret"):
        svc.databases.create(Database(db))
    svc.tables.create(Table("events", "lake", sd=StorageDescriptor(cols=[Column("id", "int"), Column("zeta_code", "string")])))
    svc.tables.create(Table("zeta_hidden", "secret", sd=StorageDescriptor(cols=[Column("zeta_pay", "int")])))
    svc.crawlers.create(Crawler("zeta_crawl", ["/data/z"], "lake"))
    svc.crawlers.create(Crawler("zeta_secret_crawl", ["/data/s"], "secret"))
    svc.jobs.create(Job("zeta_job", script="print(1)", job_type="pythonshell"))
    svc.workflows.create(Workflow("zeta_flow", description="nightly"))
    svc.triggers.create(Trigger("zeta_go", "ON_DEMAND", [Action(job="zeta_job")], workflow="zeta_flow"))
    svc.connections.create(Connection("zeta_db", "JDBC", {"JDBC_CONNECTION_URL": "jdbc:postgresql://h/db"}))
    svc.users.create("lakeonly", PASSWORD, "viewer", ["lake"])
    c = w.client()
    login(c, "admin")
    yield w, c
    w.service.ctx.engine.dispose()


def text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return unescape(response.get_data(as_text=True))


def test_a_crawler_run_page_shows_skipped_files_changes_error_and_warning(site):
    w, c = site
    svc = w.service
    svc.crawlers.create(Crawler("detail", ["/data/d"], "lake"))
    run = svc.crawlers.start_run("detail")
    # what a crawl does is recorded as done by crawler:<name>: these are the tables "it" made
    crawl = svc.for_user("crawler:detail")
    crawl.tables.create(Table("made_by_crawl", "lake", sd=StorageDescriptor(cols=[Column("a", "int")])))
    svc.tables.create(Table("made_by_someone", "lake", sd=StorageDescriptor(cols=[Column("a", "int")])))
    metrics = {"tables_created": 1, "files_scanned": 3, "files_skipped": 2,
               "skipped": [{"path": "/data/d/x/bad.csv", "reason": "not UTF-8 text"},
                           {"path": "/data/d/y.bin", "reason": "no classifier recognised it"}],
               "warnings": ["2 files could not be read: check their format"]}  # fmt: skip
    svc.crawlers.finish_run(run.id, "FAILED", metrics, error="OSError: the store went away")

    listing = text(c.get("/crawlers/detail"))
    runs = listing[listing.index('id="runs"') :]
    assert f'<a href="/crawlers/detail/runs/{run.id}">{run.id}</a>' in runs
    assert f'<a href="/crawlers/detail/runs/{run.id}#skipped" title="which files, and why">2</a>' in runs

    page = text(c.get(f"/crawlers/detail/runs/{run.id}"))
    assert f"<h1>Run {run.id} of crawler detail</h1>" in page
    assert '<div class="warning" id="run-warning">2 files could not be read: check their format</div>' in page
    assert '<span class="state FAILED">FAILED</span>' in page
    assert "OSError: the store went away" in page
    skipped = page[page.index('id="skipped"') :]
    assert re.findall(r"<tr><td><code>(.*?)</code></td><td>(.*?)</td></tr>", skipped) == [
        ("/data/d/x/bad.csv", "not UTF-8 text"), ("/data/d/y.bin", "no classifier recognised it")]  # fmt: skip
    changes = page[page.index('id="changes"') : page.index('id="skipped"')]
    assert '<a href="/databases/lake/tables/made_by_crawl">lake.made_by_crawl</a>' in changes
    assert "CREATE_TABLE" in changes and "made_by_someone" not in changes
    assert "1 · 0 · 0" in page[page.index('id="metrics"') :]  # tables created · updated · deleted

    # a run of another crawler, or of none, is not found; a crawler of a database not granted is hidden
    other = svc.crawlers.start_run("zeta_crawl")
    assert c.get(f"/crawlers/detail/runs/{other.id}").status_code == 404
    assert c.get("/crawlers/detail/runs/999999").status_code == 404
    secret_run = svc.crawlers.start_run("zeta_secret_crawl")
    limited = w.client()
    login(limited, "lakeonly")
    assert limited.get(f"/crawlers/zeta_secret_crawl/runs/{secret_run.id}").status_code in (403, 404)
    assert limited.get(f"/crawlers/detail/runs/{run.id}").status_code == 200


def test_a_run_without_skips_or_warning_says_so(site):
    w, c = site
    svc = w.service
    svc.crawlers.create(Crawler("clean", ["/data/c"], "lake"))
    run = svc.crawlers.start_run("clean")
    svc.crawlers.finish_run(run.id, "SUCCEEDED", {"files_scanned": 1})
    page = text(c.get(f"/crawlers/clean/runs/{run.id}"))
    assert "No file was skipped." in page and "No table changed." in page
    assert 'class="warning"' not in page and 'id="run-error"' not in page


@pytest.mark.timeout(300)
def test_the_dry_run_button_shows_what_a_crawl_would_do(tmp_path, pg_databases):
    """The crawler page's Dry run button queues runner.crawl_dry_run by name; a real worker crawls, changes
    nothing and records a DRY_RUN run whose page lists what a crawl would do, and why."""
    import os
    import subprocess
    import sys
    import time

    from tests.crawler_data import csv_text, write_files

    w = make_web("sqlite", tmp_path, pg_databases)
    svc = w.service
    root = tmp_path / "landing"
    write_files(root / "orders", {f"dt=2024-01-0{i}/a.csv": csv_text(["id", "v"], [[i, "x"]]) for i in (1, 2)})
    svc.databases.create(Database("lake"))
    svc.crawlers.create(Crawler("landing", [str(root)], "lake"))
    c = w.client()
    login(c, "editor")
    page = text(c.get("/crawlers/landing"))
    assert 'id="dry-run"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    sent = c.post("/crawlers/landing/dry-run", data={"csrf_token": token})
    assert sent.status_code == 302 and ("runner.crawl_dry_run", ["landing"]) in w.queued_tasks()
    s = w.settings
    env = {**os.environ, "MORTAR_DATA_DIR": s.data_dir, "MORTAR_DATABASE_URL": s.database_url,
           "MORTAR_WAREHOUSE": s.warehouse, "MORTAR_BROKER_URL": s.broker_url}  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "mortar.cli", "worker", "--concurrency", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not svc.crawlers.runs("landing"):
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(30)
    (run,) = svc.crawlers.runs("landing")
    assert run.state == "DRY_RUN" and run.metrics["dry_run"] is True
    assert svc.tables.list("lake") == []  # nothing changed
    page = text(c.get(f"/crawlers/landing/runs/{run.id}"))
    assert "A dry run: nothing was changed." in page
    actions = re.findall(r"<tr><td><code>(\w+)</code></td><td>([^<]+)</td>", page)
    assert [("create_table", "landing"), ("add_partitions", "landing")] == actions, page
    assert "DRY_RUN" in text(c.get("/crawlers/landing"))
    # who asked for it, and who did it, are both in the audit
    audit = [(r.user, r.action, r.details) for r in svc.audit.records(obj="landing")]
    assert ("editor", "REQUEST_CRAWLER_RUN", {"dry_run": True}) in audit
    assert ("crawler:landing", "DRY_RUN_CRAWLER", {"run_id": run.id, "actions": 2}) in audit
    w.service.ctx.engine.dispose()


def _groups(page: str) -> dict[str, list[str]]:
    """kind → the link targets in its result table."""
    out = {}
    for kind, body in re.findall(r'<table (?:id="results" )?class="search-group" data-kind="(\w+)">(.*?)</table>', page, re.S):
        out[kind] = re.findall(r'<a href="([^"]+)">', body)
    return out


def test_search_finds_every_kind_grouped_and_linked(site):
    _, c = site
    page = text(c.get("/search?q=ZETA"))
    groups = _groups(page)
    assert groups["tables"] == ["/databases/secret", "/databases/secret/tables/zeta_hidden"]
    assert groups["columns"] == ["/databases/lake/tables/events", "/databases/secret/tables/zeta_hidden"]
    assert "<code>zeta_code</code>" in page and "<code>zeta_pay</code>" in page
    assert groups["crawlers"] == ["/crawlers/zeta_crawl", "/crawlers/zeta_secret_crawl"]
    assert groups["jobs"] == ["/jobs/zeta_job"]
    assert groups["triggers"] == ["/triggers/zeta_go"]
    assert groups["workflows"] == ["/workflows/zeta_flow"]
    assert groups["connections"] == ["/connections/zeta_db"]
    assert [h for h in re.findall(r'<h2 id="kind-(\w+)">', page)] == [
        "tables", "columns", "crawlers", "jobs", "triggers", "workflows", "connections"]  # fmt: skip
    assert "Nothing matches" in text(c.get("/search?q=nosuchthingatall"))
    assert "Type part of a name" in text(c.get("/search"))


def test_search_respects_database_grants(site):
    w, _ = site
    limited = w.client()
    login(limited, "lakeonly")
    page = text(limited.get("/search?q=zeta"))
    groups = _groups(page)
    assert "tables" not in groups  # zeta_hidden is in database secret
    assert groups["columns"] == ["/databases/lake/tables/events"]
    assert groups["crawlers"] == ["/crawlers/zeta_crawl"]
    assert "secret" not in page.split("<main>", 1)[1].replace("zeta_secret", "")
    assert groups["jobs"] == ["/jobs/zeta_job"]  # not database objects: every user reads them


def test_classifiers_users_and_tokens_lists_filter_by_q(site):
    w, c = site
    svc = w.service
    for name in ("alpha_logs", "beta_logs"):
        svc.crawlers.create_classifier(Classifier(name, "grok", classification=name, grok_pattern="%{WORD:w}"))
    page = text(c.get("/classifiers?q=ALPHA"))
    table = page[page.index('id="classifiers"') :]
    assert "alpha_logs" in table and "beta_logs" not in table
    assert 'name="q" value="ALPHA"' in page
    assert "No custom classifiers matching “nothing”." in text(c.get("/classifiers?q=nothing"))

    page = text(c.get("/users?q=lake"))
    users = page[page.index('id="users"') : page.index("</table>", page.index('id="users"'))]
    assert re.findall(r"<tr><td>(\w+)</td>", users) == ["lakeonly"]
    assert "No users matching “zzz”." in text(c.get("/users?q=zzz"))

    for name in ("laptop", "ci runner"):
        svc.users.create_token("admin", name)
    page = text(c.get("/tokens?q=LAP"))
    tokens = page[page.index('id="tokens"') : page.index("</table>", page.index('id="tokens"'))]
    assert re.findall(r"<tr><td>([\w ]+)</td>", tokens) == ["laptop"]
    assert "No tokens matching “zzz”." in text(c.get("/tokens?q=zzz"))


def test_overview_tiles_link_to_their_lists(site):
    _, c = site
    page = text(c.get("/"))
    assert re.search(r'<div class="card" id="tile-crawlers"><a href="/crawlers"><b>\d+</b></a>crawlers</div>', page)
    assert re.search(r'<div class="card" id="tile-databases"><a href="/databases"><b>\d+</b></a>databases</div>', page)
