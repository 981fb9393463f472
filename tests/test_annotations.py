"""Annotations: owners, descriptions, tags and classifications of databases, tables and columns through the
API and the console form, with history; search by tag, classification, owner and description; seen by an
HMS client (a real server and hmsclient) as table parameters and column comments; within grants."""

from __future__ import annotations

import pytest
from hmsclient import hmsclient

from metastore.catalog.types import Column, Database, StorageDescriptor, Table
from tests.conftest import start_metastore, stop_metastore
from tests.web_fixtures import csrf_of, login, make_web

API = "/api/v1"


@pytest.fixture
def web(tmp_path):
    w = make_web("sqlite", tmp_path, None)
    svc = w.service
    for db in ("sales", "hr"):
        svc.databases.create(Database(db))
    svc.tables.create(Table(name="orders", db_name="sales", sd=StorageDescriptor(cols=[Column("id", "int"),
                                                                                   Column("email", "string")])))  # fmt: skip
    svc.tables.create(Table(name="refunds", db_name="sales", sd=StorageDescriptor(cols=[Column("id", "int")])))
    svc.tables.create(Table(name="people", db_name="hr", sd=StorageDescriptor(cols=[Column("ssn", "string")])))
    svc.users.create("seller", "correct horse battery", "editor", databases=["sales"])
    w.tokens["seller"] = svc.users.create_token("seller", "t")[1]
    yield w
    w.service.ctx.engine.dispose()


def test_annotations_are_kept_with_history_and_found_by_search(web):
    w = web
    r = w.put(f"{API}/tables/sales/orders/annotation", {"owner": "Alice", "tags": ["finance", "Gold"],
                                                         "description": "Every order placed"}, who="editor")  # fmt: skip
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["owner"], r.get_json()["tags"], r.get_json()["updated_by"]) == ("alice", ["finance", "gold"], "editor")
    assert w.put(f"{API}/tables/sales/orders/columns/email/annotation",
                 {"classifications": ["pii", "gdpr:email"], "description": "the buyer's address"}).status_code == 200
    assert w.put(f"{API}/tables/hr/people/columns/ssn/annotation", {"classifications": ["pii"]}).status_code == 200
    assert w.put(f"{API}/databases/sales/annotation", {"owner": "sales-team"}).status_code == 200
    assert w.get(f"{API}/databases/sales/annotation").get_json()["owner"] == "sales-team"
    w.put(f"{API}/tables/sales/orders/annotation", {"tags": ["finance"]}, who="editor")  # a second change

    notes = w.get(f"{API}/tables/sales/orders/annotations").get_json()
    assert notes["table"]["tags"] == ["finance"] and notes["table"]["owner"] == "alice"
    assert notes["columns"]["email"]["classifications"] == ["pii", "gdpr:email"]
    history = w.get(f"{API}/tables/sales/orders/annotation-history").get_json()["items"]
    assert [(h["column"], h["user"], sorted(h["changes"])) for h in history] == [
        (None, "editor", ["tags"]), ("email", "admin", ["classifications", "description"]),
        (None, "editor", ["description", "owner", "tags"])]  # fmt: skip
    assert history[0]["changes"]["tags"] == [["finance", "gold"], ["finance"]]

    def found(q: str, who: str = "admin") -> list[str]:
        items = w.get(f"{API}/tables?q={q}", who=who).get_json()["items"]
        return [f"{t['database']}.{t['name']}" for t in items]

    assert found("tag:finance") == ["sales.orders"]
    assert found("class:pii") == ["hr.people", "sales.orders"]
    assert found("class:pii", "seller") == ["sales.orders"]  # within grants
    assert found("owner:alice") == ["sales.orders"]
    assert found("description:order placed") == ["sales.orders"]
    assert found("refunds") == ["sales.refunds"]  # names, as before
    assert found("tag:nothing") == []

    # bad input and authorization
    r = w.put(f"{API}/tables/sales/orders/annotation", {"tags": ["no spaces allowed"]})
    assert r.status_code == 400 and "is not a label" in r.get_json()["error"]["message"]
    assert w.put(f"{API}/tables/sales/orders/annotation", {"colour": "red"}).status_code == 400
    assert w.put(f"{API}/tables/sales/orders/columns/nope/annotation", {"tags": ["x"]}).status_code == 404
    assert w.put(f"{API}/tables/sales/nope/annotation", {"tags": ["x"]}).status_code == 404
    assert w.put(f"{API}/tables/sales/orders/annotation", {"tags": ["x"]}, who="viewer").status_code == 403
    assert w.put(f"{API}/tables/hr/people/annotation", {"tags": ["x"]}, who="seller").status_code == 403
    assert w.get(f"{API}/tables/hr/people/annotations", who="seller").status_code == 403
    assert w.get(f"{API}/tables/hr/people/annotation-history", who="seller").status_code == 403


def test_the_console_edits_annotations(web):
    w = web
    c = w.client()
    login(c, "editor")
    page = c.get("/databases/sales/tables/orders/annotations")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    r = c.post("/databases/sales/tables/orders/annotations", data={
        "csrf_token": token, "column": "email", "owner": "", "tags": "contact", "classifications": "pii, gdpr:email",
        "description": "buyer"})  # fmt: skip
    assert r.status_code == 302
    html = c.get("/databases/sales/tables/orders/annotations").get_data(as_text=True)
    assert 'value="pii, gdpr:email"' in html and "Annotation of email saved." in html
    assert "gdpr:email" in html.split('id="annotation-history"')[1]
    assert 'id="tab-annotations"' in c.get("/databases/sales/tables/orders").get_data(as_text=True)
    r = c.post("/databases/sales/tables/orders/annotations", data={"csrf_token": token, "tags": "bad tag"})
    assert "is not a label" in c.get(r.headers["Location"]).get_data(as_text=True)


def test_hms_clients_see_annotations_as_parameters_and_comments(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    ms = start_metastore("sqlite", tmp_path, url)
    try:
        from metastore.catalog import CatalogService
        from metastore.catalog.access import Identity

        svc = CatalogService.open(url, str(ms.warehouse)).for_user("alice")
        svc.databases.create(Database("sales"))
        svc.tables.create(Table(name="orders", db_name="sales", sd=StorageDescriptor(cols=[Column("email", "string")])))
        admin = Identity("alice", "user", "admin")
        svc.annotations.set(admin, "sales", "orders", owner="alice", tags=["finance"], description="All orders")
        svc.annotations.set(admin, "sales", "orders", "email", classifications=["pii", "gdpr:email"],
                            description="buyer")  # fmt: skip
        c = hmsclient.HMSClient(host="127.0.0.1", port=ms.port)
        c.open()
        try:
            t = c.get_table("sales", "orders")
        finally:
            c.close()
        assert t.parameters["mortar.owner"] == "alice"
        assert t.parameters["mortar.tags"] == "finance"
        assert t.parameters["comment"] == "All orders"
        assert t.parameters["mortar.classifications.email"] == "pii,gdpr:email"
        assert [(f.name, f.comment) for f in t.sd.cols] == [("email", "buyer")]
        svc.ctx.engine.dispose()
    finally:
        stop_metastore(ms)


def test_crawlers_classify_columns_by_name_rules(tmp_path, monkeypatch):
    from metastore.catalog import CatalogService
    from metastore.catalog.access import Identity
    from metastore.catalog.crawlers import Crawler, CrawlerTarget
    from runner.crawler.crawl import run_crawler
    from tests.crawler_data import csv_text, write_files

    monkeypatch.setenv("MORTAR_CLASSIFICATION_RULES", "e_?mail=pii,gdpr:email; ssn|social_security=pii")
    svc = CatalogService.open(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "wh"))
    root = tmp_path / "people"
    write_files(root, {"a.csv": csv_text(["id", "email", "ssn"], [[1, "a@example.com", "123"]])})
    svc.crawlers.create(Crawler(name="people", targets=[CrawlerTarget(str(root))], database="raw"))
    assert run_crawler(svc, "people").state == "SUCCEEDED"
    admin = Identity("admin", "user", "admin")
    svc.for_user("admin").annotations.set(admin, "raw", "people", "ssn", classifications=["restricted"])  # kept
    assert run_crawler(svc, "people").state == "SUCCEEDED"
    cols = svc.annotations.of_table(admin, "raw", "people")["columns"]
    assert {c: a.classifications for c, a in cols.items()} == {"email": ["pii", "gdpr:email"],
                                                               "ssn": ["restricted", "pii"]}  # fmt: skip
    assert {h["user"] for h in svc.annotations.history(admin, "raw", "people")} == {"crawler:people", "admin"}
    monkeypatch.setenv("MORTAR_CLASSIFICATION_RULES", "(unclosed=pii")
    assert run_crawler(svc, "people").state == "SUCCEEDED"  # a bad setting is logged, the crawl goes on
    svc.ctx.engine.dispose()
