"""The JSON API through Flask's test client, over real storage (SQLite and PostgreSQL) and a real broker."""

from __future__ import annotations

import re

import pytest

from metastore.catalog.types import Column, Database, Partition, StorageDescriptor, Table
from metastore.web.openapi import SPEC
from tests.conftest import BACKENDS
from tests.web_fixtures import web_for

API = "/api/v1"


@pytest.fixture(params=BACKENDS)
def web(request, tmp_path, pg_databases):
    """The app over SQLite and over PostgreSQL, with an admin, an editor and a viewer."""
    yield from web_for(request.param, tmp_path, pg_databases)


def test_every_route_is_in_the_openapi_spec_and_back(web):
    routes = set()
    for rule in web.app.url_map.iter_rules():
        if not rule.rule.startswith(API):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    documented = {(path, method) for path, ops in SPEC["paths"].items() for method in ops}
    assert routes - documented == set(), "routes missing from openapi.py"
    assert documented - routes == set(), "openapi.py describes routes that do not exist"
    served = web.get(f"{API}/openapi.json").get_json()
    assert served == SPEC
    for path, ops in SPEC["paths"].items():
        params = set(re.findall(r"{(\w+)}", path))
        for method, op in ops.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == params, f"{method} {path}: path parameters"
            assert "default" in op["responses"], f"{method} {path}: error response"


def test_health_is_open_and_the_api_needs_a_user(web):
    c = web.client()
    assert c.get("/health").get_json() == {"status": "ok"}
    r = c.get(f"{API}/databases")
    assert r.status_code == 401
    assert r.get_json()["error"]["type"] == "Unauthorized"
    r = c.get(f"{API}/databases", headers={"Authorization": "Bearer mortar_not-a-token"})
    assert r.status_code == 401
    assert "not valid" in r.get_json()["error"]["message"]
    assert web.get(f"{API}/me").get_json()["name"] == "admin"


def test_databases_crud_paging_and_errors(web):
    for i in range(7):
        assert web.post(f"{API}/databases", {"name": f"sales_{i}", "description": f"d{i}"}).status_code == 201
    web.post(f"{API}/databases", {"name": "hr"})
    r = web.get(f"{API}/databases?q=SALES_&limit=3&offset=2").get_json()
    assert r["total"] == 7
    assert [d["name"] for d in r["items"]] == ["sales_2", "sales_3", "sales_4"]
    r = web.get(f"{API}/databases?limit=100").get_json()
    assert [d["name"] for d in r["items"]] == ["default", "hr", *[f"sales_{i}" for i in range(7)]]
    assert r["items"][0]["tables"] == 0

    r = web.post(f"{API}/databases", {"name": "hr"})
    assert r.status_code == 409
    assert r.get_json()["error"] == {"type": "AlreadyExists", "message": "database hr already exists"}
    r = web.post(f"{API}/databases", {"name": "bad name!"})
    assert r.status_code == 400 and r.get_json()["error"]["type"] == "InvalidInput"
    assert web.post(f"{API}/databases", {"name": "x", "colour": "red"}).status_code == 400
    r = web.get(f"{API}/databases/nope")
    assert r.status_code == 404
    assert r.get_json()["error"] == {"type": "NotFound", "message": "database nope does not exist"}
    assert web.get(f"{API}/databases?limit=0").status_code == 400
    assert web.get(f"{API}/databases?limit=abc").status_code == 400
    r = web.client().post(f"{API}/databases", data="not json", headers=web.headers())
    assert r.status_code == 400

    r = web.put(f"{API}/databases/hr", {"description": "people", "parameters": {"team": "ops"}})
    assert r.status_code == 200
    assert web.get(f"{API}/databases/hr").get_json()["parameters"] == {"team": "ops"}
    web.post(f"{API}/databases/hr/tables", {"name": "staff", "columns": [{"name": "id", "type": "int"}]})
    r = web.delete(f"{API}/databases/hr")
    assert r.status_code == 409 and "not empty" in r.get_json()["error"]["message"]
    assert web.delete(f"{API}/databases/hr?cascade=true").status_code == 204
    assert web.get(f"{API}/databases/hr").status_code == 404
    r = web.client().patch(f"{API}/databases/hr", headers=web.headers())
    assert r.status_code == 405 and r.get_json()["error"]["type"] == "MethodNotAllowed"
    assert web.get(f"{API}/no/such/thing").get_json()["error"]["type"] == "NotFound"


def _orders(web, partitions: int = 0):
    body = {
        "name": "orders",
        "columns": [{"name": "id", "type": "bigint"}, {"name": "amount", "type": "double", "comment": "EUR"}],
        "partition_keys": [{"name": "dt", "type": "string"}, {"name": "hr", "type": "int"}],
        "parameters": {"classification": "csv"},
        "table_type": "EXTERNAL_TABLE",
        "storage": {"location": str(web.tmp / "orders"), "input_format": "org.apache.hadoop.mapred.TextInputFormat",
                    "serde": {"serialization_lib": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                              "parameters": {"field.delim": ","}}},
    }  # fmt: skip
    web.post(f"{API}/databases", {"name": "shop"})
    r = web.post(f"{API}/databases/shop/tables", body, who="editor")
    assert r.status_code == 201, r.get_json()
    sd = StorageDescriptor(cols=[Column("id", "bigint")])
    parts = [Partition([f"2024-01-{d:02d}", str(h)], "shop", "orders", sd=sd) for d in range(1, 1 + partitions // 4)
             for h in range(4)]  # fmt: skip
    web.service.partitions.add("shop", "orders", parts)
    return r.get_json()


def test_tables_schema_partitions_versions_and_history(web):
    created = _orders(web, partitions=40)
    assert created["table_type"] == "EXTERNAL_TABLE"
    assert created["columns"][1] == {"name": "amount", "type": "double", "comment": "EUR"}
    assert created["storage"]["serde"]["parameters"] == {"field.delim": ","}
    for name in ("customers", "order_lines", "products"):
        web.post(f"{API}/databases/shop/tables", {"name": name, "columns": [{"name": "id", "type": "int"}]})

    r = web.get(f"{API}/databases/shop/tables?q=order").get_json()
    assert [t["name"] for t in r["items"]] == ["order_lines", "orders"] and r["total"] == 2
    summary = r["items"][1]
    assert summary["partition_keys"] == ["dt", "hr"] and summary["columns"] == 2
    r = web.get(f"{API}/databases/shop/tables?limit=2&offset=1").get_json()
    assert [t["name"] for t in r["items"]] == ["order_lines", "orders"] and r["total"] == 4

    # partitions: pages by cursor cover every partition once, in name order
    seen, after = [], None
    while True:
        url = f"{API}/databases/shop/tables/orders/partitions?limit=7" + (f"&after={after}" if after else "")
        page = web.get(url).get_json()
        seen += [p["name"] for p in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert len(seen) == 40 and seen == sorted(seen) and len(set(seen)) == 40
    assert seen[0] == "dt=2024-01-01/hr=0"
    r = web.get(
        f'{API}/databases/shop/tables/orders/partitions?filter=dt = "2024-01-03" and hr >= 2'
    ).get_json()
    assert [p["values"] for p in r["items"]] == [["2024-01-03", "2"], ["2024-01-03", "3"]]
    assert r["next"] is None
    r = web.get(f"{API}/databases/shop/tables/orders/partitions?filter=nosuchkey = 1")
    assert r.status_code == 400 and r.get_json()["error"]["type"] == "InvalidInput"
    assert web.get(f"{API}/databases/shop/tables/nope/partitions").status_code == 404

    # a schema change makes version 2; the history names who did it
    new = dict(created)
    for k in ("database", "create_time", "version"):
        new.pop(k)
    new["columns"] = [*created["columns"], {"name": "currency", "type": "string", "comment": None}]
    r = web.put(f"{API}/databases/shop/tables/orders", new, who="editor")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == 2
    versions = web.get(f"{API}/databases/shop/tables/orders/versions").get_json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [c["name"] for c in versions[1]["columns"]] == ["id", "amount", "currency"]
    assert versions[1]["created_by"] == "editor"
    history = web.get(f"{API}/databases/shop/tables/orders/audit?limit=2").get_json()
    assert [(h["action"], h["user"]) for h in history["items"]] == [
        ("ALTER_TABLE", "editor"),
        ("ADD_PARTITIONS", "anonymous"),
    ]
    older = web.get(f"{API}/databases/shop/tables/orders/audit?before={history['next']}").get_json()
    assert [(h["action"], h["user"]) for h in older["items"]] == [("CREATE_TABLE", "editor")]

    r = web.put(
        f"{API}/databases/shop/tables/orders", {**new, "partition_keys": [{"name": "dt", "type": "string"}]}
    )
    assert r.status_code == 409 and "partition keys" in r.get_json()["error"]["message"]
    r = web.post(f"{API}/databases/shop/tables", {"name": "orders", "columns": []})
    assert r.status_code == 409 and r.get_json()["error"]["message"] == "table shop.orders already exists"
    assert web.delete(f"{API}/databases/shop/tables/orders").status_code == 204
    r = web.get(f"{API}/databases/shop/tables/orders")
    assert r.status_code == 404 and r.get_json()["error"]["message"] == "table shop.orders does not exist"
    assert web.service.tables.list("shop") == ["customers", "order_lines", "products"]


def test_functions(web):
    web.post(f"{API}/databases", {"name": "udfs"})
    body = {
        "name": "to_upper",
        "class_name": "com.example.Upper",
        "resources": [{"type": "JAR", "uri": "file:/u.jar"}],
    }
    r = web.post(f"{API}/databases/udfs/functions", body)
    assert r.status_code == 201
    assert r.get_json()["resources"] == [{"type": "JAR", "uri": "file:/u.jar"}]
    assert web.post(f"{API}/databases/udfs/functions", body).status_code == 409
    web.post(f"{API}/databases/udfs/functions", {"name": "to_lower", "class_name": "com.example.Lower"})
    r = web.get(f"{API}/databases/udfs/functions?q=upp").get_json()
    assert [f["name"] for f in r["items"]] == ["to_upper"]
    r = web.put(f"{API}/databases/udfs/functions/to_upper", {"class_name": "com.example.Upper2"})
    assert r.status_code == 200 and r.get_json()["class_name"] == "com.example.Upper2"
    assert web.service.functions.get("udfs", "to_upper").class_name == "com.example.Upper2"
    assert web.delete(f"{API}/databases/udfs/functions/to_upper").status_code == 204
    assert web.get(f"{API}/databases/udfs/functions/to_upper").status_code == 404
    assert web.post(f"{API}/databases/udfs/functions", {"name": "f"}).status_code == 400


def test_crawlers_crud_run_and_runs(web):
    body = {"name": "landing", "targets": [{"path": str(web.tmp / "landing"), "exclusions": ["**/_tmp*"]}],
            "database": "raw", "schedule": "0 3 * * *", "storage_options": {"secret": "s3cr3t", "anon": "no"}}  # fmt: skip
    r = web.post(f"{API}/crawlers", body, who="editor")
    assert r.status_code == 201, r.get_json()
    c = r.get_json()
    assert c["targets"] == [{"path": str(web.tmp / "landing"), "exclusions": ["**/_tmp*"]}]
    assert c["storage_options"] == {"secret": "***", "anon": "no"}  # secrets are not shown
    assert web.post(f"{API}/crawlers", body).status_code == 409
    r = web.post(f"{API}/crawlers", {**body, "name": "bad", "schedule": "every day"})
    assert r.status_code == 400 and "cron" in r.get_json()["error"]["message"]
    r = web.post(f"{API}/crawlers", {**body, "name": "bad", "classifiers": ["nope"]})
    assert r.status_code == 404 and "classifier nope does not exist" in r.get_json()["error"]["message"]

    # an update that sends the secret back as *** keeps it
    update = {k: v for k, v in c.items() if k not in ("name", "created_at", "updated_at")}
    r = web.put(f"{API}/crawlers/landing", {**update, "table_prefix": "l_"})
    assert r.status_code == 200, r.get_json()
    assert web.service.crawlers.get("landing").storage_options == {"secret": "s3cr3t", "anon": "no"}
    assert web.service.crawlers.get("landing").table_prefix == "l_"

    # starting a run sends task runner.crawl by name to the broker
    assert web.queued_tasks() == []
    r = web.post(f"{API}/crawlers/landing/run", who="editor")
    assert r.status_code == 202 and r.get_json() == {"crawler": "landing", "queued": True}
    assert web.queued_tasks() == [("runner.crawl", ["landing"])]
    assert web.post(f"{API}/crawlers/nope/run").status_code == 404

    # runs (recorded as a worker does) with metrics; a running crawler cannot be started again
    svc = web.service.crawlers
    first = svc.start_run("landing")
    svc.finish_run(first.id, "SUCCEEDED", {"tables_created": 2, "files_scanned": 5})
    second = svc.start_run("landing")
    svc.finish_run(second.id, "FAILED", {"files_scanned": 1}, error="disk on fire")
    third = svc.start_run("landing")
    r = web.post(f"{API}/crawlers/landing/run")
    assert r.status_code == 409 and f"run {third.id}" in r.get_json()["error"]["message"]
    runs = web.get(f"{API}/crawlers/landing/runs").get_json()
    assert [x["state"] for x in runs["items"]] == ["RUNNING", "FAILED", "SUCCEEDED"] and runs["total"] == 3
    done = runs["items"][2]
    assert done["metrics"] == {"tables_created": 2, "files_scanned": 5}
    assert done["duration_ms"] == done["ended_at"] - done["started_at"] >= 0
    failed = web.get(f"{API}/crawlers/landing/runs?state=FAILED").get_json()
    assert [x["error"] for x in failed["items"]] == ["disk on fire"]
    assert web.get(f"{API}/crawlers/landing/runs?state=BORED").status_code == 400
    assert web.get(f"{API}/crawlers/landing/runs/{first.id}").get_json()["state"] == "SUCCEEDED"
    listed = web.get(f"{API}/crawlers?q=land").get_json()["items"]
    assert [(x["name"], x["last_run"]["id"]) for x in listed] == [("landing", third.id)]

    r = web.delete(f"{API}/crawlers/landing")
    assert r.status_code == 409 and "is running" in r.get_json()["error"]["message"]
    assert web.post(f"{API}/crawlers/landing/stop", who="viewer").status_code == 403
    r = web.post(f"{API}/crawlers/landing/stop", who="editor")
    assert r.status_code == 200 and r.get_json()["id"] == third.id
    assert (r.get_json()["state"], r.get_json()["error"]) == ("CANCELLED", "stopped by editor")
    assert svc.get_run(third.id).state == "CANCELLED" and svc.current_run("landing") is None
    r = web.post(f"{API}/crawlers/landing/stop")
    assert r.status_code == 409 and r.get_json()["error"]["message"] == "crawler landing is not running"
    assert web.delete(f"{API}/crawlers/landing").status_code == 204
    assert (
        web.get(f"{API}/crawlers/landing").get_json()["error"]["message"] == "crawler landing does not exist"
    )


def test_classifiers(web):
    body = {
        "name": "apache",
        "kind": "grok",
        "classification": "apache_log",
        "grok_pattern": "%{COMMONAPACHELOG}",
    }
    r = web.post(f"{API}/classifiers", body)
    assert r.status_code == 201 and r.get_json()["grok_pattern"] == "%{COMMONAPACHELOG}"
    assert web.post(f"{API}/classifiers", body).status_code == 409
    r = web.post(f"{API}/classifiers", {"name": "x", "kind": "csv", "csv_delimiter": ";;"})
    assert r.status_code == 400 and "single character" in r.get_json()["error"]["message"]
    r = web.put(f"{API}/classifiers/apache", {**body, "grok_pattern": "%{COMBINEDAPACHELOG}"})
    assert r.status_code == 200 and r.get_json()["grok_pattern"] == "%{COMBINEDAPACHELOG}"
    web.post(
        f"{API}/crawlers",
        {"name": "logs", "targets": ["/tmp/logs"], "database": "logs", "classifiers": ["apache"]},
    )
    r = web.delete(f"{API}/classifiers/apache")
    assert r.status_code == 409 and "used by crawler logs" in r.get_json()["error"]["message"]
    assert [c["name"] for c in web.get(f"{API}/classifiers").get_json()["items"]] == ["apache"]
    web.delete(f"{API}/crawlers/logs")
    assert web.delete(f"{API}/classifiers/apache").status_code == 204


def test_schedule_preview(web):
    r = web.get(f"{API}/schedule-preview?cron=30 2 * * *&n=3").get_json()
    assert r["cron"] == "30 2 * * *" and len(r["times"]) == 3
    assert all(t.endswith("T02:30:00Z") for t in r["times"]) and r["times"] == sorted(r["times"])
    r = web.get(f"{API}/schedule-preview?cron=61 * * * *")
    assert r.status_code == 400 and r.get_json()["error"]["type"] == "InvalidInput"


def test_a_table_made_by_the_catalog_shows_in_the_api(web):
    web.service.databases.create(Database("lake"))
    web.service.tables.create(Table("events", "lake", sd=StorageDescriptor(cols=[Column("ts", "timestamp")])))
    r = web.get(f"{API}/databases/lake/tables/events").get_json()
    assert r["columns"] == [{"name": "ts", "type": "timestamp", "comment": None}]
    assert web.get(f"{API}/databases?q=lake").get_json()["items"][0]["tables"] == 1


def test_bodies_of_the_wrong_shape_are_400s(web):
    bad = [
        ("post", "/users", {"name": 7, "password": "12345678"}),
        ("post", "/users", {"name": "u1", "password": "12345678", "databases": [1, 2]}),
        ("post", "/users", {"name": "u1", "password": "12345678", "role": ["admin"]}),
        ("post", "/classifiers", {"name": "c", "kind": "csv", "csv_column_names": 5}),
        ("post", "/databases", {"name": ["x"]}),
        ("post", "/databases", {"name": "x", "parameters": {"a": 1}}),
        ("post", "/crawlers", {"name": "c", "targets": "not a list", "database": "d"}),
        ("post", "/crawlers", {"name": "c", "targets": ["/x"], "database": "d", "sample_size": True}),
        ("post", "/databases/default/tables", {"name": "t", "columns": [{"name": "a"}]}),
        (
            "post",
            "/databases/default/tables",
            {"name": "t", "columns": [{"name": "a", "type": "no such type"}]},
        ),
        (
            "post",
            "/databases/default/functions",
            {"name": "f", "class_name": "C", "resources": [{"type": "EXE", "uri": "x"}]},
        ),
        ("post", "/tokens", {"name": ""}),
        ("put", "/users/admin", {"databases": "all"}),
        ("post", "/databases", {"name": "nul\x00byte"}),
    ]
    for method, path, body in bad:
        r = getattr(web, method)(f"{API}{path}", body)
        assert r.status_code == 400, (path, body, r.get_json())
        assert r.get_json()["error"]["type"] == "InvalidInput"
    assert web.get(f"{API}/databases?q=a%00b").status_code == 400
