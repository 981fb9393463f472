"""Profiles as catalog statistics, on crawled tables of generated data with known values.

- A crawl stores what Parquet footers give for free (row counts, nulls, min/max) per table and partition.
- Spark uses Mortar's statistics: a join of a small and a large crawled CSV table is a sort-merge join
  until the small one is profiled, a broadcast join after; the row count Spark reports is the profile's.
- A full profile is right: counts exact, distinct counts within 2% (HyperLogLog++), min/max exact; it
  profiles only new partitions the second time.
- The statistics are HMS column statistics, read back through the Thrift API as Trino and Hive read them.

Spark runs once, in its own process (tests/profile_spark.py)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metastore.catalog import CatalogService, profiles
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from runner.crawler.crawl import run_crawler
from tests.conftest import start_metastore, stop_metastore

ROOT = Path(__file__).resolve().parent.parent
N = 30_000
pytestmark = pytest.mark.timeout(900)  # one Spark process for the module (a minute on a quiet machine)


def _gen_columns() -> dict[str, list]:
    day0 = dt.date(2024, 1, 1)
    return {
        "id": list(range(N)),
        "k": [i % 997 for i in range(N)],
        "s": [None if i % 7 == 0 else f"v{i % 5000}" + "x" * (i % 4) for i in range(N)],
        "b": [None if i % 11 == 0 else i % 3 == 0 for i in range(N)],
        "d": [day0 + dt.timedelta(days=i % 366) for i in range(N)],
        "amt": [Decimal(i % 10_000) / 100 for i in range(N)],
        "f": [None if i % 13 == 0 else (i % 1000) / 8 for i in range(N)],
    }


def _expected(cols: dict[str, list]) -> dict[str, dict]:
    out = {}
    for name, values in cols.items():
        present = [v for v in values if v is not None]
        e = {"nulls": len(values) - len(present), "distinct": len(set(present))}
        if name == "b":
            e.update(trues=sum(present), falses=len(present) - sum(present))
        else:
            e.update(min=min(present), max=max(present))
        if name == "s":
            e.update(max_len=max(map(len, present)), avg_len=sum(map(len, present)) / len(present))
        out[name] = e
    return out


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("profiles")
    data = tmp / "data"
    (data / "small").mkdir(parents=True)
    (data / "small" / "small.csv").write_text("".join(f"{i},name{i}\n" for i in range(200)))
    (data / "large").mkdir()
    (data / "large" / "large.csv").write_text("".join(f"{i},{i % 200},{i * 3}\n" for i in range(20_000)))
    (data / "gen").mkdir()
    table = pa.table({**_gen_columns(), "amt": pa.array(_gen_columns()["amt"], pa.decimal128(10, 2))})
    pq.write_table(table.slice(0, N // 2), data / "gen" / "part-0.parquet", row_group_size=4000)
    pq.write_table(table.slice(N // 2), data / "gen" / "part-1.parquet", row_group_size=4000)
    for n, day in enumerate(("2024-01-01", "2024-01-02", "2024-01-03")):
        (data / "sales" / f"dt={day}").mkdir(parents=True)
        pq.write_table(pa.table({"item": [f"i{j}" for j in range(10 * (n + 1))], "qty": list(range(10 * (n + 1)))}),
                       data / "sales" / f"dt={day}" / "part-0.parquet")  # fmt: skip
    url = f"sqlite:///{tmp / 'catalog.db'}"
    ms = start_metastore("sqlite", tmp, url)
    service = CatalogService.open(url, str(ms.warehouse))
    service.crawlers.create(Crawler("pc", [CrawlerTarget(str(data))], "pdb"))
    outcome = run_crawler(service, "pc")
    assert outcome.state == "SUCCEEDED", outcome.error
    yield service, ms, data
    service.ctx.engine.dispose()
    stop_metastore(ms)


@pytest.fixture(scope="module")
def spark_run(crawled):
    service, ms, data = crawled
    new = data / "sales" / "dt=2024-01-04"
    new.mkdir()
    out = data.parent / "spark.json"
    cmd = [sys.executable, "-m", "tests.profile_spark", ms.uri, str(ms.warehouse), ms.database_url, str(new), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=800, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    answers = json.loads(out.read_text())
    print("seconds:", answers["seconds"])
    return answers


def test_a_crawl_stores_the_statistics_parquet_footers_give(crawled):
    service, _, _ = crawled
    gen = service.tables.get("pdb", "gen")
    assert gen.parameters["numRows"] == str(N) and gen.parameters["numFiles"] == "2"
    assert gen.parameters["spark.sql.statistics.numRows"] == str(N)
    run = profiles.runs(service).latest("pdb", "gen")
    cols, want = run.result["table"]["columns"], _expected(_gen_columns())
    assert run.mode == "metadata" and run.requested_by == "crawler:pc"
    for name in ("id", "k", "s", "f"):
        assert cols[name]["nulls"] == want[name]["nulls"], name
        assert (cols[name]["min"], cols[name]["max"]) == (want[name]["min"], want[name]["max"]), name
    assert cols["d"]["min"] == "2024-01-01" and cols["s"]["distinct"] is None  # footers know no distinct counts
    sales = {p.values[0]: p.parameters for p in service.partitions.list("pdb", "sales")}
    assert {d: p["numRows"] for d, p in sales.items()} == {"2024-01-01": "10", "2024-01-02": "20", "2024-01-03": "30"}
    assert service.tables.get("pdb", "sales").parameters["numRows"] == "60"
    assert "numRows" not in service.tables.get("pdb", "small").parameters  # CSV: nothing for free
    # a recrawl of unchanged files leaves the statistics (and the runs) as they are
    before = len(profiles.runs(service).list("pdb", "gen"))
    assert run_crawler(service, "pc").state == "SUCCEEDED"
    assert len(profiles.runs(service).list("pdb", "gen")) == before


def _row_count(plan: str, table: str) -> int | None:
    for line in plan.splitlines():
        if f"`{table}`" in line and "Relation" in line:
            m = re.search(r"rowCount=(\d+)", line)
            return int(m.group(1)) if m else None
    return None


def test_spark_broadcasts_the_small_table_once_it_is_profiled(spark_run):
    before, after = spark_run["before"], spark_run["after"]
    assert "SortMergeJoin" in before and "BroadcastHashJoin" not in before, before
    assert spark_run["small"]["state"] == "SUCCEEDED", spark_run["small"]["error"]
    assert "BroadcastHashJoin" in after and "SortMergeJoin" not in after, after
    rows = spark_run["small"]["result"]["table"]["rows"]
    assert rows == 200 == spark_run["spark_small_count"]
    assert _row_count(after, "small") == rows, after
    assert _row_count(before, "small") is None


def test_a_full_profile_is_right(spark_run, crawled):
    service, _, _ = crawled
    got = spark_run["gen"]
    assert got["state"] == "SUCCEEDED", got["error"]
    table = got["result"]["table"]
    assert table["rows"] == N and table["exact_distinct"] is False
    want = _expected(_gen_columns())
    for name, e in want.items():
        c = table["columns"][name]
        assert c["nulls"] == e["nulls"], name
        assert abs(c["distinct"] - e["distinct"]) <= 0.02 * e["distinct"], (name, c["distinct"], e["distinct"])
        if name == "b":
            assert (c["trues"], c["falses"]) == (e["trues"], e["falses"])
            continue
        lo, hi = e["min"], e["max"]
        if isinstance(lo, dt.date):
            lo, hi = str(lo), str(hi)
        if isinstance(lo, Decimal):
            assert (Decimal(c["min"]), Decimal(c["max"])) == (lo, hi), name
            continue
        assert (c["min"], c["max"]) == (lo, hi), name
    s = table["columns"]["s"]
    assert s["max_len"] == want["s"]["max_len"] and math.isclose(s["avg_len"], want["s"]["avg_len"])
    # as HMS column statistics, and what Spark's optimizer reads
    stats = {x.column_name: x.data for x in service.statistics.get_table("pdb", "gen", list(want))}
    assert stats["k"]["longStats"]["lowValue"] == 0 and stats["k"]["longStats"]["highValue"] == 996
    assert stats["b"]["booleanStats"] == {"numTrues": want["b"]["trues"], "numFalses": want["b"]["falses"],
                                          "numNulls": want["b"]["nulls"]}  # fmt: skip
    assert stats["s"]["stringStats"]["maxColLen"] == want["s"]["max_len"]
    assert stats["d"]["dateStats"]["lowValue"] == {"daysSinceEpoch": (dt.date(2024, 1, 1) - dt.date(1970, 1, 1)).days}
    assert "decimalStats" in stats["amt"] and stats["f"]["doubleStats"]["numNulls"] == want["f"]["nulls"]
    params = service.tables.get("pdb", "gen").parameters
    assert json.loads(params["COLUMN_STATS_ACCURATE"])["COLUMN_STATS"]["k"] == "true"
    assert params["spark.sql.statistics.colStats.k.distinctCount"] == str(table["columns"]["k"]["distinct"])


def test_only_new_partitions_are_profiled_again(spark_run, crawled):
    service, _, _ = crawled
    first, again = spark_run["sales_first"], spark_run["sales_again"]
    assert first["state"] == again["state"] == "SUCCEEDED", (first["error"], again["error"])
    assert first["result"]["partitions"] == ["dt=2024-01-01", "dt=2024-01-02", "dt=2024-01-03"]
    assert again["result"]["partitions"] == ["dt=2024-01-04"]
    assert again["result"]["table"]["rows"] == 62
    assert again["result"]["table"]["columns"]["qty"]["max"] == 29
    part = service.statistics.get_partitions("pdb", "sales", ["dt=2024-01-04"], ["qty"])["dt=2024-01-04"][0]
    assert part.data["longStats"] == {"numNulls": 0, "numDVs": 2, "lowValue": 7, "highValue": 9}


def test_hms_clients_read_the_statistics(spark_run, crawled):
    from hmsclient import hmsclient
    from hmsclient.genthrift.hive_metastore import ttypes

    _, ms, _ = crawled
    with hmsclient.HMSClient(host=ms.host, port=ms.port) as client:
        req = ttypes.TableStatsRequest(dbName="pdb", tblName="small", colNames=["col0", "col1"])
        got = {s.colName: s for s in client.get_table_statistics_req(req).tableStats}
        assert got["col0"].statsData.longStats.numDVs == 200 and got["col0"].statsData.longStats.highValue == 199
        assert got["col1"].statsData.stringStats.maxColLen == len("name199")
        assert client.get_table("pdb", "small").parameters["numRows"] == "200"
