"""Recommended mappings: source/target pairs with known answers (renamed, re-cased, retyped, nested), a new
target proposed from a nested source, and the same proposals through the API and the CLI."""

from __future__ import annotations

import pytest

from metastore.catalog.recommend import cast_kind, recommend_columns, snake_case, words
from tests.conftest import BACKENDS
from tests.web_fixtures import web_for

API = "/api/v1"


def _pairs(source, target, **kw) -> dict[str, str]:
    """target column → the source column or path mapped to it."""
    return {p["target"]: p["source"] for p in recommend_columns(source, target, **kw)}


# (source columns, target columns, expected target → source, what the pair exercises)
CASES = [
    ([("CustomerID", "int"), ("FirstName", "string")], [("customer_id", "int"), ("first_name", "string")],
     {"customer_id": "CustomerID", "first_name": "FirstName"}, "re-cased, camelCase to snake_case"),
    ([("order-date", "date"), ("total-amount", "double")], [("order_date", "date"), ("total_amount", "double")],
     {"order_date": "order-date", "total_amount": "total-amount"}, "separators"),
    ([("qty", "int"), ("amt", "decimal(10,2)"), ("ts", "timestamp")],
     [("quantity", "int"), ("amount", "decimal(10,2)"), ("timestamp", "timestamp")],
     {"quantity": "qty", "amount": "amt", "timestamp": "ts"}, "synonyms"),
    ([("user_identifier", "bigint"), ("created_at", "timestamp")], [("user_id", "bigint"), ("create_time", "timestamp")],
     {"user_id": "user_identifier", "create_time": "created_at"}, "synonyms inside names"),
    ([("id", "int"), ("price", "float")], [("id", "bigint"), ("price", "double")],
     {"id": "id", "price": "price"}, "retyped: widening casts"),
    ([("customer", "struct<id:bigint,address:struct<city:string,zip:string>>")],
     [("customer_id", "bigint"), ("customer_address_city", "string"), ("customer_address_zip", "string")],
     {"customer_id": "customer.id", "customer_address_city": "customer.address.city",
      "customer_address_zip": "customer.address.zip"}, "nested fields flattened"),
    ([("geo", "struct<lat:double,lng:double>")], [("latitude", "double"), ("longitude", "double")],
     {"latitude": "geo.lat", "longitude": "geo.lng"}, "nested leaves matched by synonyms"),
    ([("id", "int"), ("name", "string")], [("product_id", "int"), ("product_name", "string")],
     {"product_id": "id", "product_name": "name"}, "the table's name as a prefix"),
    ([("isActive", "boolean"), ("email_address", "string")], [("active", "boolean"), ("email_address", "string")],
     {"active": "isActive", "email_address": "email_address"}, "flag prefix"),
    ([("tags", "array<string>"), ("n", "int")], [("tags", "array<string>"), ("n", "struct<a:int>")],
     {"tags": "tags"}, "incompatible types never match"),
    ([("CUST_NM", "string"), ("CUST_NO", "string")], [("customer_name", "string"), ("customer_number", "string")],
     {"customer_name": "CUST_NM", "customer_number": "CUST_NO"}, "upper-case abbreviations"),
    ([("event_time", "string"), ("count", "string")], [("event_time", "timestamp"), ("count", "bigint")],
     {"event_time": "event_time", "count": "count"}, "retyped: text parsed (narrowing, with a warning)"),
]


@pytest.mark.parametrize("source,target,expected,what", CASES, ids=[c[3] for c in CASES])
def test_known_pairs(source, target, expected, what):
    assert _pairs(source, target, source_table="products") == expected, what


def test_every_proposal_says_why_and_casts_to_the_target_type():
    got = recommend_columns([("id", "int"), ("price", "string"), ("customer", "struct<id:bigint>")],
                            [("id", "bigint"), ("price", "double"), ("customer_id", "bigint")])  # fmt: skip
    by_target = {p["target"]: p for p in got}
    assert by_target["id"]["target_type"] == "bigint" and "safe" in by_target["id"]["reason"]
    assert "do not parse become null" in by_target["price"]["reason"]
    assert "flattened" in by_target["customer_id"]["reason"]
    assert all(set(p) == {"source", "source_type", "target", "target_type", "reason"} and p["reason"] for p in got)


def test_a_new_target_is_the_source_flattened_in_snake_case():
    got = recommend_columns([("OrderID", "int"), ("shipTo", "struct<streetName:string,geo:struct<lat:double>>"),
                             ("tags", "array<string>")], None)  # fmt: skip
    assert [(p["source"], p["target"], p["target_type"]) for p in got] == [
        ("OrderID", "order_id", "int"), ("shipTo.streetName", "ship_to_street_name", "string"),
        ("shipTo.geo.lat", "ship_to_geo_lat", "double"), ("tags", "tags", "array<string>")]  # fmt: skip


def test_names_and_casts():
    assert words("HTTPStatusCode") == ["http", "status", "code"]
    assert snake_case("a.b-c d") == "a_b_c_d"
    assert cast_kind("int", "bigint")[0] == "widen" and cast_kind("bigint", "int")[0] == "narrow"
    assert cast_kind("int", "decimal(12,2)")[0] == "widen" and cast_kind("int", "decimal(5,2)")[0] == "narrow"
    assert cast_kind("array<int>", "array<bigint>")[0] == "widen"
    assert cast_kind("struct<a:int>", "string") is None


@pytest.fixture(params=BACKENDS[:1])
def web(request, tmp_path, pg_databases):
    yield from web_for(request.param, tmp_path, pg_databases)


def test_the_api_and_the_cli_propose_the_same(web, tmp_path):
    from click.testing import CliRunner

    from metastore.catalog.types import Column, Database, StorageDescriptor, Table
    from mortar.cli import main

    svc = web.service
    svc.databases.create(Database("shop"))
    svc.databases.create(Database("secret"))
    svc.tables.create(Table("orders", "shop", sd=StorageDescriptor(cols=[
        Column("OrderID", "int"), Column("qty", "smallint"), Column("buyer", "struct<id:bigint,eMail:string>")])))
    svc.tables.create(Table("facts", "shop", sd=StorageDescriptor(cols=[
        Column("order_id", "bigint"), Column("quantity", "int"), Column("buyer_id", "bigint"),
        Column("note", "string")])))  # fmt: skip
    svc.tables.create(Table("hidden", "secret", sd=StorageDescriptor(cols=[Column("a", "int")])))
    got = web.get(f"{API}/tables/shop/orders/recommended-mapping?target=shop.facts", "viewer").get_json()
    assert {c["target"]: c["source"] for c in got["columns"]} == {"order_id": "OrderID", "quantity": "qty",
                                                                    "buyer_id": "buyer.id"}  # fmt: skip
    assert got["unmapped_targets"] == ["note"] and got["target_exists"] is True
    new = web.get(f"{API}/tables/shop/orders/recommended-mapping", "viewer").get_json()
    assert [c["target"] for c in new["columns"]] == ["order_id", "qty", "buyer_id", "buyer_e_mail"]
    svc.users.create("outsider", "correct horse battery", "viewer", databases=["shop"])
    outsider = svc.users.create_token("outsider", "t")[1]
    denied = web.client().get(f"{API}/tables/secret/hidden/recommended-mapping",
                              headers={"Authorization": f"Bearer {outsider}"})  # fmt: skip
    assert denied.status_code == 403

    env = {"MORTAR_DATABASE_URL": web.settings.database_url, "MORTAR_WAREHOUSE": web.settings.warehouse,
           "MORTAR_DATA_DIR": web.settings.data_dir}  # fmt: skip
    svc.tables.create(Table("facts2", "shop", sd=StorageDescriptor(cols=[
        Column("order_id", "bigint"), Column("quantity", "int"), Column("buyer_id", "bigint")])))
    out = CliRunner().invoke(main, ["job", "generate", "load_facts", "--source", "shop.orders", "--target",
                                    "shop.facts2", "--recommend", "--print"], env=env)  # fmt: skip
    assert out.exit_code == 0, out.output
    assert ".alias('order_id')" in out.output and ".alias('buyer_id')" in out.output
    assert "qty smallint -> quantity int" in out.output
