"""What tests/test_profiles.py runs with Spark, in its own process (one JVM for all of it): a join's plan
before and after the small side is profiled, and full profiles of the generated tables — computed by the
profile runs' own code (runner.profile.run) in this process's Spark session.

`python -m tests.profile_spark URI WAREHOUSE DATABASE_URL NEW_PARTITION_DIR OUT`"""

from __future__ import annotations

import json
import sys
import time

JOIN = "SELECT * FROM pdb.large l JOIN pdb.small s ON l.col1 = s.col0"  # headerless CSV: col0, col1, ...


def main(uri: str, warehouse: str, database_url: str, new_partition: str, out: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import runner.profile.run as profile_run
    from metastore.catalog import CatalogService, profiles
    from runner.crawler.crawl import run_crawler
    from tests.spark_session import hive_session

    started = time.monotonic()
    spark = hive_session(uri, warehouse, "mortar-profiles", **{
        "spark.sql.cbo.enabled": "true", "spark.sql.shuffle.partitions": "1",
        "spark.sql.session.timeZone": "UTC"})  # fmt: skip
    service = CatalogService.open(database_url, warehouse)
    answers: dict = {"seconds": {"session": time.monotonic() - started}}

    def profile(table: str) -> dict:
        run = profiles.runs(service).request("pdb", table, "full")
        started = time.monotonic()
        done = profile_run.run_profile(service, run.id, spark=spark)
        answers.setdefault("seconds", {})[table] = time.monotonic() - started
        return {"state": done.state, "error": done.error, "result": done.result}

    try:
        answers["before"] = spark.sql("EXPLAIN COST " + JOIN).collect()[0][0]
        answers["small"] = profile("small")
        spark.sql("REFRESH TABLE pdb.small")
        answers["after"] = spark.sql("EXPLAIN COST " + JOIN).collect()[0][0]
        answers["spark_small_count"] = spark.table("pdb.small").count()
        profile_run.EXACT_BELOW_BYTES = 0  # distinct values by HyperLogLog++, as on big data
        answers["gen"] = profile("gen")
        answers["sales_first"] = profile("sales")
        pq.write_table(pa.table({"item": ["z1", "z2"], "qty": [7, 9]}), f"{new_partition}/part-0.parquet")
        run_crawler(service, "pc")
        answers["sales_again"] = profile("sales")
    finally:
        spark.stop()
    with open(out, "w") as f:
        json.dump(answers, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
