"""What a crawl leaves is what Spark reads: a table whose folder holds files the crawler had to skip is
marked and reported (and the mark goes when they do); JSON tables read without Hive's SerDe errors;
partition keys typed from their folder values (and widened on a recrawl)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from runner.crawler.crawl import UNREADABLE_HINT_PARAM, UNREADABLE_LIST_PARAM, UNREADABLE_PARAM, run_crawler
from runner.crawler.grouping import key_value_type, wider_key_type
from tests.crawler_data import json_lines, parquet_bytes, write_files

ROOT = Path(__file__).resolve().parents[1]


def _inventory(folder: Path) -> None:
    import pyarrow as pa

    good1 = parquet_bytes(pa.table({"sku": ["a", "b"], "qty": [1, 2]}))
    good2 = parquet_bytes(pa.table({"sku": ["c", "d"], "qty": [3, 4]}))
    write_files(folder, {"inv-1.parquet": good1, "inv-2.parquet": good2,
                         "inv-broken.parquet": good1[: len(good1) // 2],  # truncated: no footer
                         "inv-empty.parquet": b""})  # fmt: skip


def _sales(folder: Path, months: dict[tuple[str, str], list[dict]]) -> None:
    write_files(folder, {f"year={y}/month={m}/part.json": json_lines(rows) for (y, m), rows in months.items()})


SALES = {
    ("2023", "12"): [{"id": 1, "amount": 1.5}],
    ("2024", "01"): [{"id": 2, "amount": 2.5}],
    ("2024", "03"): [{"id": 3, "amount": 3.5}, {"id": 4, "amount": 4.5}],
}


def _crawler(name: str, path: Path, **kw) -> Crawler:
    return Crawler(name=name, targets=[CrawlerTarget(str(path))], database="lake", **kw)


def test_key_types_from_values():
    assert [key_value_type(v) for v in ("2024", "03", "-7", "3000000000", "1" + "0" * 20, "2024-01-01", "eu")] == [
        "int", "int", "int", "bigint", "string", "string", "string"]  # fmt: skip
    assert wider_key_type("int", "bigint") == "bigint" and wider_key_type("bigint", "int") == "bigint"
    assert wider_key_type("int", "string") == "string" and wider_key_type("date", "int") == "string"


def test_skipped_files_mark_the_table_in_the_cli_until_they_are_gone(tmp_path):
    env = {**os.environ, "MORTAR_DATA_DIR": str(tmp_path / "mortar")}
    data = tmp_path / "data" / "inv"
    _inventory(data)

    def mortar(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mortar.cli", *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    assert mortar("crawler", "create", "inv", "--path", str(data), "--database", "lake").returncode == 0
    first = mortar("crawler", "run", "inv")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "SUCCEEDED: 1 tables created" in out
    warnings = [line for line in out.splitlines() if line.startswith("WARNING:")]
    assert warnings == [
        "WARNING: table lake.inv: 1 file(s) the crawler could not read are in its folder (inv-broken.parquet); "
        f"Spark will fail reading this table until they are removed or moved out of file:{data}; then run crawler "
        "inv again"
    ], out
    assert "mark_unreadable" in out

    from metastore.config import Settings

    settings = Settings.load(data_dir=str(tmp_path / "mortar"))
    service = CatalogService.open(settings.database_url, settings.warehouse)
    params = service.tables.get("lake", "inv").parameters
    assert params[UNREADABLE_PARAM] == "1"
    assert params[UNREADABLE_LIST_PARAM].startswith("inv-broken.parquet: ")
    assert "removed or moved out of" in params[UNREADABLE_HINT_PARAM]
    run = service.crawlers.runs("inv")[0]
    assert run.state == "SUCCEEDED" and run.metrics["warnings"] and "inv-broken.parquet" in run.metrics["warnings"][0]

    # unchanged: the broken file is read again (it is kept out of the file index), the mark stays
    again = mortar("crawler", "run", "inv")
    assert "WARNING: table lake.inv" in again.stdout and "mark_unreadable" not in again.stdout

    (data / "inv-broken.parquet").unlink()
    fixed = mortar("crawler", "run", "inv")
    assert "WARNING" not in fixed.stdout and "clear_unreadable" in fixed.stdout, fixed.stdout
    assert not {k for k in service.tables.get("lake", "inv").parameters if k.startswith("mortar.crawler.")}
    service.ctx.engine.dispose()


def test_partition_keys_typed_from_folder_values_and_widened(tmp_path):
    service = CatalogService.open(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "wh"))
    root = tmp_path / "sales"
    _sales(root, SALES)
    service.crawlers.create(_crawler("sales", root))
    assert run_crawler(service, "sales").state == "SUCCEEDED"
    table = service.tables.get("lake", "sales")
    assert [(k.name, k.type) for k in table.partition_keys] == [("year", "int"), ("month", "int")]
    schema = json.loads(table.parameters["spark.sql.sources.schema"])
    assert [(f["name"], f["type"]) for f in schema["fields"][-2:]] == [("year", "integer"), ("month", "integer")]
    found = service.partitions.by_filter("lake", "sales", "year = 2024 and month >= 2")
    assert [p.values for p in found] == [["2024", "03"]]

    _sales(root, {("2024", "xx"): [{"id": 5, "amount": 5.5}]})
    outcome = run_crawler(service, "sales")
    assert outcome.state == "SUCCEEDED", outcome.error
    widened = [a for a in outcome.actions if a.kind == "update_table"]
    assert [(a.table, a.detail) for a in widened] == [("sales", {"partition keys": "month:int->string"})]
    table = service.tables.get("lake", "sales")
    assert [(k.name, k.type) for k in table.partition_keys] == [("year", "int"), ("month", "string")]
    assert service.partitions.names("lake", "sales") == [
        "year=2023/month=12", "year=2024/month=01", "year=2024/month=03", "year=2024/month=xx"]  # fmt: skip
    assert [p.values for p in service.partitions.by_filter("lake", "sales", "year = 2024 and month = 'xx'")] == [
        ["2024", "xx"]]  # fmt: skip
    # the next run finds nothing to change
    assert run_crawler(service, "sales").actions == []
    service.ctx.engine.dispose()


def _spark(metastore, tmp_path: Path, queries: dict[str, str], tag: str) -> tuple[dict, str]:
    (tmp_path / f"q-{tag}.json").write_text(json.dumps(queries))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.crawler_data", "--uri", metastore.uri, "--warehouse", str(metastore.warehouse),
         "--queries", str(tmp_path / f"q-{tag}.json"), "--out", str(tmp_path / f"a-{tag}.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / f"a-{tag}.json").read_text()), proc.stderr


@pytest.mark.timeout(900)
@pytest.mark.parametrize("metastore", ["sqlite"], indirect=True)
def test_spark_reads_exactly_what_the_crawler_says(metastore, tmp_path):
    root = tmp_path / "data"
    _inventory(root / "inv")
    write_files(root / "events", {"a.json": json_lines([
        {"id": 1, "user": {"name": "ann", "tags": ["x", "y"]}, "items": [{"sku": "a", "n": 2}]},
        {"id": 2, "user": {"name": "bob", "tags": []}, "items": []}])})  # fmt: skip
    _sales(root / "sales", SALES)
    service = CatalogService.open(metastore.database_url, str(metastore.warehouse))
    service.crawlers.create(_crawler("lake", root))
    outcome = run_crawler(service, "lake")
    assert outcome.state == "SUCCEEDED", outcome.error
    assert [w.split(":")[0] for w in outcome.metrics.warnings] == ["table lake.inv"]
    assert UNREADABLE_PARAM not in service.tables.get("lake", "events").parameters
    queries = {
        "inv": "SELECT count(*) FROM lake.inv",
        "events": "SELECT id, user.name, user.tags, try_element_at(items, 1).sku FROM lake.events ORDER BY id",
        "sales": "SELECT id, year, month FROM lake.sales WHERE year = 2024 AND month >= 2 ORDER BY id",
    }
    answers, stderr = _spark(metastore, tmp_path, queries, "marked")
    # Spark fails on the marked table, on the file the crawler named
    assert "inv-broken.parquet" in answers["inv"].get("error", ""), answers["inv"]
    assert answers["events"].get("rows") == [[1, "ann", ["x", "y"], "a"], [2, "bob", [], None]], answers["events"]
    assert answers["sales"].get("rows") == [[3, 2024, 3], [4, 2024, 3]], answers["sales"]
    # the JSON table is read without Hive's client looking for a SerDe class it does not have
    assert "ClassNotFoundException" not in stderr and "JsonSerDe" not in stderr, stderr[-3000:]

    # the user does what the warning says; the recrawl clears the mark, and Spark reads every row
    (root / "inv" / "inv-broken.parquet").unlink()
    again = run_crawler(service, "lake")
    assert again.metrics.warnings == [] and [a.kind for a in again.actions] == ["clear_unreadable"]
    assert UNREADABLE_PARAM not in service.tables.get("lake", "inv").parameters
    answers, _ = _spark(metastore, tmp_path, {"inv": queries["inv"]}, "cleared")
    assert answers["inv"].get("rows") == [[4]], answers["inv"]
