"""A Spark SQL scenario run against a metastore, recording normalised answers as JSON.

Run in its own process (one JVM per metastore):
    python -m tests.spark_scenario --uri thrift://127.0.0.1:9083 --warehouse /tmp/wh --out answers.json

Each step is a SQL statement; its answer is its sorted result rows, or the error class and message.
Normalised: warehouse paths become <WH>, times and statistics that depend on when and where the run
happened are dropped, so that the answers of two metastores can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

DB = "spark_scn"


def steps(data_dir: str) -> list[str]:
    """The statements, in order. `data_dir` is a folder outside the warehouse for external data."""
    return [
        "SHOW DATABASES LIKE 'default'",
        f"DROP DATABASE IF EXISTS {DB} CASCADE",
        f"CREATE DATABASE {DB} COMMENT 'scenario' WITH DBPROPERTIES ('team'='data')",
        f"CREATE DATABASE {DB}_loc LOCATION '{data_dir}/loc_db'",
        f"DESCRIBE DATABASE EXTENDED {DB}",
        f"DESCRIBE DATABASE {DB}_loc",
        "SHOW DATABASES LIKE 'spark_scn*'",
        f"USE {DB}",
        # datasource tables of each format, partitioned and not
        "CREATE TABLE pq (id INT, name STRING) USING parquet",
        "CREATE TABLE js (id INT, name STRING) USING json",
        "CREATE TABLE cs (id INT, name STRING) USING csv",
        "CREATE TABLE oc (id INT, name STRING) USING orc",
        "CREATE TABLE events (id BIGINT, kind STRING, amount DOUBLE, dt STRING) USING parquet PARTITIONED BY (dt)",
        "INSERT INTO pq VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "INSERT INTO js SELECT * FROM pq",
        "INSERT INTO cs SELECT * FROM pq",
        "INSERT INTO oc SELECT * FROM pq",
        "SELECT * FROM js",
        "SELECT * FROM cs",
        "SELECT * FROM oc",
        # static and dynamic partitions
        "INSERT INTO events PARTITION (dt='2024-01-01') VALUES (1, 'click', 1.5), (2, 'view', 2.5)",
        "INSERT INTO events PARTITION (dt) VALUES (3, 'click', 3.5, '2024-01-02'), (4, 'buy', 4.5, '2024-01-03'),"
        " (5, 'view', 5.5, '2024-01-03')",
        "INSERT OVERWRITE TABLE events PARTITION (dt='2024-01-02') VALUES (6, 'buy', 6.5)",
        "SHOW PARTITIONS events",
        "SELECT id, kind, dt FROM events WHERE dt = '2024-01-03'",
        "SELECT count(*) FROM events WHERE dt >= '2024-01-02'",
        "SELECT count(*) FROM events",
        # Hive-format tables
        "CREATE TABLE hv (id INT, name STRING) PARTITIONED BY (ds STRING, hr INT) STORED AS PARQUET",
        "INSERT INTO hv PARTITION (ds='2024-02-01', hr=1) VALUES (1, 'x')",
        "INSERT INTO hv PARTITION (ds='2024-02-01', hr=12) VALUES (2, 'y')",
        "INSERT INTO hv PARTITION (ds='2024-02-02', hr=3) VALUES (3, 'z')",
        "SELECT * FROM hv WHERE hr > 2",
        "SELECT * FROM hv WHERE ds = '2024-02-01' AND hr = 12",
        "SHOW PARTITIONS hv PARTITION (ds='2024-02-01')",
        "CREATE TABLE txt (k STRING, v INT) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE",
        "INSERT INTO txt VALUES ('a', 1), ('b', 2)",
        "SELECT * FROM txt",
        "CREATE TABLE orc_h (k STRING) STORED AS ORC",
        "INSERT INTO orc_h VALUES ('q')",
        "SELECT * FROM orc_h",
        # CTAS and views
        "CREATE TABLE ctas USING parquet AS SELECT kind, sum(amount) AS total FROM events GROUP BY kind",
        "SELECT * FROM ctas",
        "CREATE TABLE ctas_hive STORED AS PARQUET AS SELECT id, name FROM pq WHERE id > 1",
        "SELECT * FROM ctas_hive",
        "CREATE VIEW v_events AS SELECT kind, count(*) AS n FROM events GROUP BY kind",
        "SELECT * FROM v_events",
        "SHOW TABLES",
        "SHOW VIEWS",
        "SHOW CREATE TABLE pq",
        "SHOW CREATE TABLE hv",
        "DESCRIBE EXTENDED events",
        "DESCRIBE TABLE EXTENDED hv PARTITION (ds='2024-02-01', hr=1)",
        # ALTER TABLE
        "ALTER TABLE pq ADD COLUMNS (score DOUBLE COMMENT 'new')",
        "INSERT INTO pq VALUES (4, 'd', 0.5)",
        "SELECT * FROM pq",
        "DESCRIBE pq",
        "ALTER TABLE pq SET TBLPROPERTIES ('owner_team'='x', 'note'='hello')",
        "SHOW TBLPROPERTIES pq ('note')",
        "ALTER TABLE pq UNSET TBLPROPERTIES ('note')",
        "SHOW TBLPROPERTIES pq ('note')",
        "ALTER TABLE pq RENAME TO pq2",
        "SELECT * FROM pq2",
        "SHOW TABLES LIKE 'pq*'",
        "ALTER TABLE hv ADD PARTITION (ds='2024-03-01', hr=0)",
        "ALTER TABLE hv ADD IF NOT EXISTS PARTITION (ds='2024-03-01', hr=0) PARTITION (ds='2024-03-02', hr=5)",
        "ALTER TABLE hv PARTITION (ds='2024-03-02', hr=5) RENAME TO PARTITION (ds='2024-03-09', hr=5)",
        "ALTER TABLE hv DROP PARTITION (ds='2024-03-01', hr=0)",
        "SHOW PARTITIONS hv",
        f"ALTER TABLE txt SET LOCATION '{data_dir}/txt_moved'",
        "SELECT * FROM txt",
        "ALTER TABLE hv ADD PARTITION (ds='2024-02-01', hr=1)",  # exists: error
        # MSCK REPAIR: partitions written straight to storage
        f"CREATE TABLE ext (id INT) PARTITIONED BY (p STRING) STORED AS PARQUET LOCATION '{data_dir}/ext'",
        "MSCK REPAIR TABLE ext",
        "SHOW PARTITIONS ext",
        "SELECT * FROM ext",
        # statistics
        "ANALYZE TABLE pq2 COMPUTE STATISTICS",
        "ANALYZE TABLE pq2 COMPUTE STATISTICS FOR COLUMNS id, name",
        "DESCRIBE EXTENDED pq2 id",
        "ANALYZE TABLE hv PARTITION (ds='2024-02-01', hr=1) COMPUTE STATISTICS",
        # functions
        "CREATE FUNCTION my_upper AS 'org.apache.hadoop.hive.ql.udf.generic.GenericUDFUpper'",
        "SHOW USER FUNCTIONS",
        "SELECT my_upper(name) FROM pq2 WHERE id = 1",
        "DESCRIBE FUNCTION my_upper",
        "DROP FUNCTION my_upper",
        "SHOW USER FUNCTIONS",
        # truncate, errors, drops
        "TRUNCATE TABLE ctas",
        "SELECT count(*) FROM ctas",
        "TRUNCATE TABLE hv PARTITION (ds='2024-02-02', hr=3)",
        "SELECT count(*) FROM hv",
        "SELECT * FROM no_such_table",
        "CREATE TABLE pq2 (x INT) USING parquet",
        f"DROP DATABASE {DB}_loc",
        "DROP TABLE ctas_hive",
        "DROP VIEW v_events",
        "SHOW TABLES",
        "USE default",
        f"DROP DATABASE {DB}",  # not empty: error
        f"DROP DATABASE {DB} CASCADE",
        "SHOW DATABASES LIKE 'spark_scn*'",
    ]


_DROP_LINE = re.compile(
    r"Created Time|Last Access|Created By|transient_lastDdlTime|Owner|numFiles|totalSize|rawDataSize|numRows"
    r"|Statistics|spark\.sql\.create\.version|Partition Statistics|Table Statistics|last_modified|Detailed Table"
)


def normalise(value: str, warehouse: str, data_dir: str) -> str:
    for root, tag in ((warehouse, "<WH>"), (data_dir, "<DATA>")):
        value = value.replace(f"file:{root}", tag).replace(f"file://{root}", tag).replace(root, tag)
    value = re.sub(r"transient_lastDdlTime'?\s*=?\s*'?\d+'?", "transient_lastDdlTime=<T>", value)
    value = re.sub(r"'?(numFiles|totalSize|rawDataSize|numRows)'?\s*=\s*'?\d+'?", r"\1=<N>", value)
    value = re.sub(r"\b\d{10,13}\b", "<T>", value)
    return value


def run(uri: str, warehouse: str, data_dir: str) -> list[dict]:
    from tests.spark_session import hive_session

    spark = hive_session(uri, warehouse, "mortar-scenario", **{
        "spark.sql.shuffle.partitions": "2", "spark.hadoop.hive.exec.dynamic.partition.mode": "nonstrict"})  # fmt: skip
    # data for MSCK REPAIR, written without the metastore
    for p in ("a", "b"):
        spark.range(2).selectExpr("cast(id as int) id").write.mode("overwrite").parquet(f"{data_dir}/ext/p={p}")
    os.makedirs(f"{data_dir}/txt_moved", exist_ok=True)  # target of SET LOCATION
    answers = []
    for sql in steps(data_dir):
        entry: dict = {"sql": normalise(sql, warehouse, data_dir)}
        try:
            rows = spark.sql(sql).collect()
            lines = [
                normalise(" | ".join("NULL" if v is None else str(v) for v in row), warehouse, data_dir)
                for row in rows
            ]
            # single-line rows mentioning times or sizes (DESCRIBE output) are dropped; others normalised
            entry["rows"] = sorted(line for line in lines if "\n" in line or not _DROP_LINE.search(line))
        except Exception as e:  # noqa: BLE001 - the error is the answer
            name = type(e).__name__
            message = str(e).splitlines()[0] if str(e) else ""
            cond = getattr(e, "getCondition", lambda: None)()
            entry["error"] = cond or name
            entry["message"] = normalise(message, warehouse, data_dir)[:300]
        answers.append(entry)
    spark.stop()
    return answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    answers = run(args.uri, os.path.abspath(args.warehouse), os.path.abspath(args.data_dir))
    with open(args.out, "w") as f:
        json.dump(answers, f, indent=1)
    sys.exit(0)


if __name__ == "__main__":
    main()
