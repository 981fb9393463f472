"""The console's pages through Flask's test client: browsing, search, paging, the schema diff, the crawler
form with its cron preview, runs and their chart."""

from __future__ import annotations

import re
from html import unescape

import pytest

from metastore.catalog.types import Column, Database, Partition, StorageDescriptor, Table
from tests.web_fixtures import csrf_of, login, make_web

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def site(tmp_path_factory, pg_databases):
    """One catalog (SQLite) with data, and an editor's logged-in client."""
    w = make_web("sqlite", tmp_path_factory.mktemp("console"), pg_databases)
    svc = w.service
    svc.databases.create(Database("sales", description="Sales data"))
    for i in range(60):
        svc.tables.create(Table(f"t{i:02d}", "sales", sd=StorageDescriptor(cols=[Column("id", "int")])))
    sd = StorageDescriptor(cols=[Column("id", "int"), Column("amount", "double")])
    svc.tables.create(Table("orders", "sales", sd=sd, partition_keys=[Column("dt", "string")],
                            parameters={"classification": "parquet"}))  # fmt: skip
    svc.partitions.add("sales", "orders", [Partition([f"2024-02-{d:02d}"], "sales", "orders", sd=sd) for d in range(1, 29)]
                       + [Partition([f"2024-03-{d:02d}"], "sales", "orders", sd=sd) for d in range(1, 31)])  # fmt: skip
    t = svc.tables.get("sales", "orders")
    t.sd.cols = [
        Column("id", "bigint"),
        Column("currency", "string"),
    ]  # id changed, amount removed, currency added
    svc.for_user("editor").tables.alter("sales", "orders", t)
    c = w.client()
    login(c, "editor")
    yield w, c
    w.service.ctx.engine.dispose()


def text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return unescape(response.get_data(as_text=True))


def test_databases_and_tables_search_and_paging(site):
    _, c = site
    page = text(c.get("/databases"))
    assert "sales" in page and "Sales data" in page and "default" in page
    page = text(c.get("/databases?q=SAL"))
    assert "sales" in page and ">default<" not in page
    page = text(c.get("/databases/sales"))
    assert re.findall(r">(orders|t\d\d)</a>", page) == [
        "orders",
        *[f"t{i:02d}" for i in range(49)],
    ]  # 50 a page
    assert "page 1 of 2 · 61 in all" in page
    page = text(c.get("/databases/sales?page=2"))
    assert re.findall(r">(orders|t\d\d)</a>", page) == [f"t{i}" for i in range(49, 60)]
    page = text(c.get("/databases/sales?q=t1"))
    assert re.findall(r">(orders|t\d\d)</a>", page) == [f"t1{i}" for i in range(10)]


def test_table_schema_parameters_and_history(site):
    _, c = site
    page = text(c.get("/databases/sales/tables/orders"))
    assert "currency" in page and "(partition key)" in page and "Version</span> 2" in page
    assert "classification" in text(c.get("/databases/sales/tables/orders?tab=parameters"))
    page = text(c.get("/databases/sales/tables/orders?tab=audit"))
    assert page.index("ALTER_TABLE") < page.index("ADD_PARTITIONS") < page.index("CREATE_TABLE")
    assert "editor" in page


def test_partitions_are_paged_and_filtered(site):
    _, c = site
    page = text(c.get("/databases/sales/tables/orders?tab=partitions"))
    names = re.findall(r"<td>(dt=[\d-]+)</td>", page)
    assert len(names) == 50 and names[0] == "dt=2024-02-01" and names == sorted(names)
    nxt = re.search(r'id="next-page" href="([^"]+)"', page).group(1)
    page2 = text(c.get(unescape(nxt)))
    rest = re.findall(r"<td>(dt=[\d-]+)</td>", page2)
    assert len(rest) == 8 and rest[-1] == "dt=2024-03-30" and not set(rest) & set(names)
    assert 'id="next-page"' not in page2
    page = text(c.get('/databases/sales/tables/orders?tab=partitions&filter=dt >= "2024-03-28"'))
    assert re.findall(r"<td>(dt=[\d-]+)</td>", page) == ["dt=2024-03-28", "dt=2024-03-29", "dt=2024-03-30"]
    page = text(c.get("/databases/sales/tables/orders?tab=partitions&filter=nope = 1"))
    assert 'class="error"' in page


def test_side_by_side_schema_diff(site):
    _, c = site
    page = text(c.get("/databases/sales/tables/orders?tab=versions&a=1&b=2"))
    diff = page[page.index('id="diff"') :]
    rows = re.findall(r"<tr>(.*?)</tr>", diff, re.S)
    cells = [
        [re.sub(r"<[^>]+>", "", x).strip() for x in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows
    ]
    assert ["columns", "id", "int", "id", "bigint", "changed"] in cells
    assert ["columns", "amount", "double", "", "", "removed"] in cells
    assert ["columns", "", "", "currency", "string", "added"] in cells
    assert ["partition keys", "dt", "string", "dt", "string", "same"] in cells


def test_crawler_form_preview_create_edit_and_errors(site):
    w, c = site
    token = csrf_of(text(c.get("/crawlers/new")))
    form = {"csrf_token": token, "name": "daily", "targets": "/data/a\n/data/b", "exclusions": "**/_SUCCESS",
            "database": "lake", "schedule": "15 4 * * *", "storage_options": "anon=true", "sample_size": "10"}  # fmt: skip
    page = text(c.post("/crawlers/new", data={**form, "action": "preview"}))
    assert re.search(r"Next: (\d{4}-\d\d-\d\d 04:15, ){4}\d{4}-\d\d-\d\d 04:15", page)
    assert w.service.crawlers.list() == [] or "daily" not in [x.name for x in w.service.crawlers.list()]
    r = c.post("/crawlers/new", data={**form, "schedule": "99 * * * *", "action": "save"})
    assert r.status_code == 400 and "not a valid cron expression" in unescape(r.get_data(as_text=True))
    r = c.post("/crawlers/new", data={**form, "sample_size": "ten", "action": "save"})
    assert r.status_code == 400 and "sample size 'ten' is not a whole number" in unescape(
        r.get_data(as_text=True)
    )
    r = c.post("/crawlers/new", data={**form, "action": "save"})
    assert r.status_code == 302
    made = w.service.crawlers.get("daily")
    assert [t.path for t in made.targets] == ["/data/a", "/data/b"] and made.targets[0].exclusions == [
        "**/_SUCCESS"
    ]
    assert (made.schedule, made.sample_size, made.storage_options) == ("15 4 * * *", 10, {"anon": "true"})
    page = text(c.get("/crawlers/daily"))
    assert "15 4 * * *" in page and "never" not in page and "No runs yet." in page
    edit = text(c.get("/crawlers/daily/edit"))
    assert "/data/a\n/data/b" in edit
    r = c.post("/crawlers/daily/edit", data={**form, "database": "lake2", "action": "save"})
    assert r.status_code == 302 and w.service.crawlers.get("daily").database == "lake2"


def test_crawler_runs_list_and_chart(site):
    w, c = site
    svc = w.service.crawlers
    from metastore.catalog.crawlers import Crawler

    svc.create(Crawler("charted", ["/data/x"], "lake"))
    outcomes = ["SUCCEEDED", "FAILED", "SUCCEEDED", "CANCELLED"]
    for i, state in enumerate(outcomes):
        run = svc.start_run("charted")
        svc.finish_run(
            run.id,
            state,
            {"tables_created": i, "files_scanned": 10 + i},
            error="boom" if state == "FAILED" else None,
        )
    page = text(c.get("/crawlers/charted"))
    bars = re.findall(r'<rect class="run (\w+)"', page)
    assert bars == [s.lower() for s in outcomes]  # oldest first
    runs = page[page.index('id="runs"') :]
    assert re.findall(r'<span class="state (\w+)">', runs) == list(reversed(outcomes))
    assert "boom" in runs and '<td class="num">13</td>' in runs
    failed = text(c.get("/crawlers/charted?state=FAILED"))
    assert re.findall(r'<span class="state (\w+)">', failed[failed.index('id="runs"') :]) == ["FAILED"]
    listing = text(c.get("/crawlers"))
    assert "charted" in listing and "CANCELLED" in listing


def test_start_a_run_from_the_console(site):
    w, c = site
    from metastore.catalog.crawlers import Crawler

    w.service.crawlers.create(Crawler("button", ["/data/y"], "lake"))
    token = csrf_of(text(c.get("/crawlers/button")))
    r = c.post("/crawlers/button/run", data={"csrf_token": token})
    assert r.status_code == 302
    assert ("runner.crawl", ["button"]) in w.queued_tasks()
    assert "queued" in text(c.get("/crawlers/button"))
    run = w.service.crawlers.start_run("button")  # as the worker does
    page = text(c.get("/crawlers/button"))
    assert f"Run {run.id} is under way" in page and 'id="stop"' in page
    r = c.post("/crawlers/button/stop", data={"csrf_token": token})
    assert r.status_code == 302
    assert w.service.crawlers.get_run(run.id).error == "stopped by editor"
    assert f"Run {run.id} of crawler button stopped." in text(c.get("/crawlers/button"))


def test_users_and_tokens_pages(site):
    w, _ = site
    c = w.client()
    login(c, "admin")
    token = csrf_of(text(c.get("/users")))
    r = c.post("/users", data={"csrf_token": token, "action": "create", "name": "zoe", "password": "zoes password",
                               "role": "viewer", "databases": "sales"})  # fmt: skip
    assert r.status_code == 302
    assert w.service.users.get("zoe").databases == ["sales"]
    r = c.post("/users", data={"csrf_token": token, "action": "create", "name": "z2", "password": "short"})
    assert r.status_code == 400 and "password" in r.get_data(as_text=True)
    page = text(c.post("/tokens", data={"csrf_token": token, "action": "create", "name": "laptop"}))
    secret = re.search(r'id="new-token">([^<]+)<', page).group(1)
    assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).get_json()["name"] == "admin"
    assert "laptop" in text(c.get("/tokens")) and secret not in text(c.get("/tokens"))


def test_errors_render_as_pages(site):
    _, c = site
    r = c.get("/databases/nope")
    assert r.status_code == 404 and "database nope does not exist" in r.get_data(as_text=True)
    r = c.get("/crawlers/nope")
    assert r.status_code == 404 and "crawler nope does not exist" in r.get_data(as_text=True)


def test_classifiers_page_creates_and_deletes(site):
    w, c = site
    token = csrf_of(text(c.get("/classifiers")))
    form = {"csrf_token": token, "action": "create", "name": "semi", "kind": "csv", "classification": "",
            "csv_delimiter": ";", "csv_header": "ABSENT", "csv_column_names": "id, name", "grok_pattern": "ignored"}  # fmt: skip
    assert c.post("/classifiers", data=form).status_code == 302
    made = w.service.crawlers.get_classifier("semi")
    assert (made.kind, made.csv_delimiter, made.csv_header, made.csv_column_names, made.grok_pattern) == (
        "csv", ";", "ABSENT", ["id", "name"], None)  # fmt: skip
    r = c.post("/classifiers", data={**form, "name": "bad", "csv_delimiter": ";;"})
    assert r.status_code == 400 and "single character" in r.get_data(as_text=True)
    assert "semi" in text(c.get("/classifiers"))
    assert (
        c.post("/classifiers", data={"csrf_token": token, "action": "delete", "name": "semi"}).status_code
        == 302
    )
    assert w.service.crawlers.list_classifiers() == []


def test_search_tables_across_databases(site):
    w, c = site
    w.service.databases.create(Database("archive"))
    w.service.tables.create(Table("orders_2019", "archive", sd=StorageDescriptor(cols=[Column("id", "int")])))
    page = text(c.get("/search?q=ORDER"))
    results = page[page.index('id="results"') :]
    assert re.findall(r"<td><a href=\"/databases/(\w+)/tables/(\w+)\">", results) == [
        ("archive", "orders_2019"), ("sales", "orders")]  # fmt: skip
    api = w.get("/api/v1/tables?q=order").get_json()
    assert [(t["database"], t["name"]) for t in api["items"]] == [
        ("archive", "orders_2019"),
        ("sales", "orders"),
    ]


@pytest.mark.parametrize("path", ["/", "/databases", "/databases/sales", "/databases/sales/tables/orders", "/crawlers",
                                  "/classifiers", "/jobs", "/triggers", "/workflows", "/connections", "/search?q=t"])  # fmt: skip
def test_every_page_has_a_plain_title_and_one_h1(site, path):
    _, c = site
    page = c.get(path).get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "<" not in title and title.endswith("· Mortar"), title
    assert page.count("<h1") == 1
