"""Data previews and the console's profile and preview pages: the API bounded in rows, a partition's rows,
broken files and places outside allowed_paths refused with a clear error, read access required; then in
headless Chromium, the profile page (its runs, a profile started), the preview page and the generate form's
recommended mapping.

The app is served from a thread (SQLite, the embedded broker); the test plays the worker's part: it runs the
queued profile run with runner.profile.run (footers only: the Spark path is tests/test_profiles.py's)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metastore.catalog import profiles
from metastore.catalog.types import Column, Database, SerDe, StorageDescriptor, Table
from runner.profile.run import run_profile
from tests.test_web_e2e import ARGS, CHROMIUM, _need_browser
from tests.web_fixtures import PASSWORD, make_web, serving

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
API = "/api/v1"
PARQUET = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
CSV = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


def _parquet_table(name: str, location, cols) -> Table:
    return Table(name, "shop", table_type="EXTERNAL_TABLE", parameters={"classification": "parquet"},
                 sd=StorageDescriptor(cols=cols, location=f"file:{location}", serde=SerDe(serialization_lib=PARQUET)))  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory, pg_databases):
    tmp = tmp_path_factory.mktemp("preview")
    w = make_web("sqlite", tmp, pg_databases)
    svc = w.service
    svc.databases.create(Database("shop"))
    svc.databases.create(Database("secret"))
    (tmp / "orders").mkdir()
    n = 5000
    pq.write_table(pa.table({"id": list(range(n)), "name": [f"item {i % 37}" for i in range(n)],
                             "price": [None if i % 10 == 0 else i / 4 for i in range(n)],
                             "address": [{"city": f"c{i % 5}", "zip": str(10000 + i)} for i in range(n)]}),
                   tmp / "orders" / "part-0.parquet", row_group_size=1000)  # fmt: skip
    svc.tables.create(_parquet_table("orders", tmp / "orders", [
        Column("id", "bigint"), Column("name", "string"), Column("price", "double"),
        Column("address", "struct<city:string,zip:string>")]))  # fmt: skip
    # a CSV table partitioned by day, no header
    for day, rows in (("2024-01-01", 3), ("2024-01-02", 4)):
        folder = tmp / "events" / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "data.csv").write_text("".join(f"{day}-{i},{i * 10},true\n" for i in range(rows)))
    events = Table("events", "shop", table_type="EXTERNAL_TABLE", parameters={"classification": "csv"},
                   partition_keys=[Column("dt", "string")],
                   sd=StorageDescriptor(cols=[Column("event_id", "string"), Column("amount", "int"),
                                              Column("ok", "boolean")], location=f"file:{tmp / 'events'}",
                                        serde=SerDe(serialization_lib=CSV, parameters={"field.delim": ","})))  # fmt: skip
    svc.tables.create(events)
    from metastore.catalog.types import Partition

    svc.partitions.add("shop", "events", [
        Partition([d], "shop", "events", sd=StorageDescriptor(cols=events.sd.cols, location=f"file:{tmp / 'events'}/dt={d}",
                                                             serde=events.sd.serde))
        for d in ("2024-01-01", "2024-01-02")])  # fmt: skip
    (tmp / "broken").mkdir()
    (tmp / "broken" / "bad.parquet").write_bytes(b"PAR1 this is not parquet at all")
    svc.tables.create(_parquet_table("broken", tmp / "broken", [Column("id", "bigint")]))
    svc.tables.create(Table("outside", "shop", parameters={"classification": "parquet"},
                            sd=StorageDescriptor(cols=[Column("id", "bigint")], location="file:/etc",
                                                 serde=SerDe(serialization_lib=PARQUET))))  # fmt: skip
    (tmp / "hidden").mkdir()
    pq.write_table(pa.table({"a": [1]}), tmp / "hidden" / "x.parquet")
    svc.tables.create(Table("hidden", "secret", parameters={"classification": "parquet"},
                            sd=StorageDescriptor(cols=[Column("a", "bigint")], location=f"file:{tmp / 'hidden'}",
                                                 serde=SerDe(serialization_lib=PARQUET))))  # fmt: skip
    svc.users.create("shopper", PASSWORD, "editor", databases=["shop"])
    w.tokens["shopper"] = svc.users.create_token("shopper", "t")[1]
    with serving(w) as base:
        yield w, base


def test_a_preview_is_the_first_rows_bounded(served):
    w, _ = served
    got = w.get(f"{API}/tables/shop/orders/preview?limit=7", "viewer").get_json()
    assert [c["name"] for c in got["columns"]] == ["id", "name", "price", "address"]
    assert got["rows"][:3] == [[0, "item 0", None, {"city": "c0", "zip": "10000"}],
                               [1, "item 1", 0.25, {"city": "c1", "zip": "10001"}],
                               [2, "item 2", 0.5, {"city": "c2", "zip": "10002"}]]  # fmt: skip
    assert len(got["rows"]) == 7 and got["files"] == 1
    assert w.get(f"{API}/tables/shop/orders/preview?limit=100000", "viewer").status_code == 400
    assert len(w.get(f"{API}/tables/shop/orders/preview", "viewer").get_json()["rows"]) == 20


def test_a_partition_preview_and_the_first_partitions(served):
    w, _ = served
    one = w.get(f"{API}/tables/shop/events/preview?partition=dt%3D2024-01-02", "viewer").get_json()
    assert one["rows"] == [[f"2024-01-02-{i}", str(i * 10), "true", "2024-01-02"] for i in range(4)]
    assert one["partitions"] == ["dt=2024-01-02"]
    both = w.get(f"{API}/tables/shop/events/preview?limit=5", "viewer").get_json()
    assert [r[-1] for r in both["rows"]] == ["2024-01-01"] * 3 + ["2024-01-02"] * 2
    missing = w.get(f"{API}/tables/shop/events/preview?partition=dt%3D1999-01-01", "viewer")
    assert missing.status_code == 404


def test_broken_files_outside_places_and_other_databases_are_refused(served):
    w, _ = served
    broken = w.get(f"{API}/tables/shop/broken/preview", "viewer")
    assert broken.status_code == 400 and "bad.parquet could not be read as parquet" in broken.get_json()["error"]["message"]
    outside = w.get(f"{API}/tables/shop/outside/preview", "viewer")
    assert outside.status_code == 400 and "allowed_paths" in outside.get_json()["error"]["message"]
    for url in ("preview", "profile", "profile/runs"):
        assert w.get(f"{API}/tables/secret/hidden/{url}", "shopper").status_code == 403
    assert w.post(f"{API}/tables/secret/hidden/profile", {"mode": "metadata"}, "shopper").status_code == 403
    assert w.post(f"{API}/tables/shop/orders/profile", {"mode": "metadata"}, "viewer").status_code == 403
    assert w.get(f"{API}/tables/secret/hidden/preview", "admin").status_code == 200
    # a profile of a broken table fails with the file named, and nothing else changes
    run = w.post(f"{API}/tables/shop/broken/profile", {"mode": "metadata"}, "editor").get_json()
    done = run_profile(w.service, run["id"])
    assert done.state == "FAILED" and "bad.parquet could not be read as parquet" in done.error
    assert "numRows" not in w.service.tables.get("shop", "broken").parameters


def test_a_profile_from_the_api_on_a_worker(served):
    w, _ = served
    run = w.post(f"{API}/tables/shop/orders/profile", {"mode": "metadata"}, "shopper")
    assert run.status_code == 202 and run.get_json()["state"] == "QUEUED"
    assert ("runner.profile", [run.get_json()["id"]]) in w.queued_tasks()
    assert run_profile(w.service, run.get_json()["id"]).state == "SUCCEEDED"  # the worker's part
    got = w.get(f"{API}/tables/shop/orders/profile", "viewer").get_json()
    assert got["table"]["rows"] == 5000 and got["run"]["state"] == "SUCCEEDED"
    assert got["table"]["columns"]["price"] == {**got["table"]["columns"]["price"], "nulls": 500, "min": 0.25,
                                                "max": 4999 / 4}  # fmt: skip
    runs = w.get(f"{API}/tables/shop/orders/profile/runs", "viewer").get_json()["items"]
    assert runs[0]["id"] == run.get_json()["id"]
    one = w.get(f"{API}/tables/shop/orders/profile/runs/{runs[0]['id']}", "viewer").get_json()
    assert one["result"]["table"]["rows"] == 5000
    assert w.get(f"{API}/tables/shop/events/profile/runs/{runs[0]['id']}", "viewer").status_code == 404
    params = w.service.tables.get("shop", "orders").parameters
    assert params["numRows"] == "5000" and params["spark.sql.statistics.numRows"] == "5000"


def test_a_run_whose_worker_went_away_ends_when_the_next_is_asked_for(served):
    from sqlalchemy import update

    from metastore.storage.models import ProfileRunRow

    w, _ = served
    area = profiles.runs(w.service)
    lost = area.request("shop", "events", "full")
    area.claim(lost.id, "a worker that died")
    with w.service.ctx.engine.begin() as conn:  # three hours ago
        conn.execute(update(ProfileRunRow).where(ProfileRunRow.id == lost.id).values(created_at=1))
    fresh = area.request("shop", "events", "full")
    assert area.get(lost.id).state == "FAILED" and "no worker ended it" in area.get(lost.id).error
    assert area.get(fresh.id).state == "QUEUED"


def test_the_cli_profiles_and_previews(served):
    from click.testing import CliRunner

    from mortar.cli import main

    w, _ = served
    env = {"MORTAR_DATABASE_URL": w.settings.database_url, "MORTAR_WAREHOUSE": w.settings.warehouse,
           "MORTAR_DATA_DIR": w.settings.data_dir}  # fmt: skip
    got = CliRunner().invoke(main, ["table", "profile", "shop.orders", "--metadata"], env=env)
    assert got.exit_code == 0, got.output
    assert "rows 5000" in got.output and "SUCCEEDED" in got.output
    shown = CliRunner().invoke(main, ["table", "profile", "shop.orders", "--show"], env=env)
    assert "rows 5000" in shown.output and "metadata  SUCCEEDED" in shown.output
    rows = CliRunner().invoke(main, ["table", "preview", "shop.events", "--partition", "dt=2024-01-01", "--limit", "2"],
                              env=env)  # fmt: skip
    assert rows.exit_code == 0 and "2024-01-01-1" in rows.output and "2024-01-01-2" not in rows.output
    bad = CliRunner().invoke(main, ["table", "profile", "shop.broken", "--metadata"], env=env)
    assert bad.exit_code == 1 and "bad.parquet could not be read as parquet" in bad.output


def _browser(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def _log_in(page, base: str, path: str, user: str = "editor") -> None:
    page.goto(f"{base}{path}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.locator("#whoami").wait_for()


@pytest.mark.timeout(300)
def test_the_profile_and_preview_pages_in_a_browser(served):
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    w, base = served
    svc = w.service
    run_profile(svc, profiles.runs(svc).request("shop", "orders", "metadata").id)
    failed = run_profile(svc, profiles.runs(svc).request("shop", "events", "metadata").id)
    assert failed.state == "FAILED" and "csv tables need a full profile" in failed.error
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30_000)
        _log_in(page, base, "/databases/shop/tables/orders")
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.click("#tab-profile")
        expect(page.locator("h1")).to_contain_text("Profile of shop.orders")
        expect(page.locator("#profile-rows")).to_have_text("5000")
        expect(page.locator("#profile-columns")).to_contain_text("price")
        page.select_option("select[name=mode]", "metadata")
        page.click("#profile-run")
        expect(page.locator(".flash-queued").first).to_contain_text("queued")
        expect(page.locator("#profile-runs tr").nth(1)).to_contain_text("QUEUED")
        queued = profiles.runs(svc).list("shop", "orders", 1)[0]
        run_profile(svc, queued.id)
        page.reload()
        expect(page.locator("#profile-runs tr").nth(1)).to_contain_text("SUCCEEDED")

        page.click("#tab-preview")
        expect(page.locator("#preview tr")).to_have_count(21)
        expect(page.locator("#preview tr").nth(2)).to_contain_text("item 1")
        page.goto(f"{base}/databases/shop/tables/events/preview")
        page.select_option("select[name=partition]", "dt=2024-01-02")
        page.click("#preview-form button[type=submit]")
        expect(page.locator("#preview tr")).to_have_count(5)
        expect(page.locator("#preview-note")).to_contain_text("dt=2024-01-02")
        page.goto(f"{base}/databases/shop/tables/broken/preview")
        expect(page.locator("#preview-error")).to_contain_text("could not be read as parquet")

        page.goto(f"{base}/jobs/generate")
        page.fill("#source", "shop.orders")
        page.fill("#target", "shop.orders_flat")
        page.click("#recommend")
        expect(page.locator("#proposals")).to_contain_text("nested field address.city flattened to address_city")
        assert page.input_value("#columns").splitlines() == [
            "id:id:bigint", "name:name:string", "price:price:double", "address.city:address_city:string",
            "address.zip:address_zip:string"]  # fmt: skip
        page.fill("#name", "flatten_orders")
        page.click("#generate")
        expect(page.locator("textarea").first).to_contain_text("alias('address_city')")
        assert errors == []
        browser.close()
