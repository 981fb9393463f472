"""Sample data files for the crawler's tests, and a Spark reader for the tables crawled from them.

`spark_cases(root)` writes one folder per table (every format the classifiers recognise, plain,
compressed and partitioned) and returns, for each, the query to run and the rows Spark must answer.
`python -m tests.crawler_data --uri thrift://... --warehouse W --queries Q.json --out A.json` runs the
queries with Spark SQL against a metastore (one SparkSession, local[1]) and writes the normalised rows.
"""

from __future__ import annotations

import argparse
import bz2
import datetime as dt
import gzip
import io
import json
import os
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

# ---------------------------------------------------------------------------------------------------------
# writers


def compress(data: bytes, codec: str) -> bytes:
    import cramjam
    import zstandard

    if codec == "gzip":
        return gzip.compress(data)
    if codec == "bz2":
        return bz2.compress(data)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    if codec == "lz4":
        return bytes(cramjam.lz4.compress(data))  # LZ4 frame format
    if codec == "snappy":
        return bytes(cramjam.snappy.compress(data))  # snappy framing format
    raise ValueError(codec)


def hadoop_compress(data: bytes, codec: str, block: int = 64 * 1024) -> bytes:
    """Hadoop's block format for snappy and lz4 (what Spark writes as .snappy / .lz4 text files)."""
    import cramjam

    out = bytearray()
    for i in range(0, len(data), block):
        chunk = data[i : i + block]
        if codec == "snappy":
            comp = bytes(cramjam.snappy.compress_raw(chunk))
        else:
            comp = bytes(cramjam.lz4.compress_block(chunk, store_size=False))
        out += len(chunk).to_bytes(4, "big") + len(comp).to_bytes(4, "big") + comp
    return bytes(out)


def parquet_bytes(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def orc_bytes(table) -> bytes:
    import pyarrow.orc as orc

    buf = io.BytesIO()
    orc.write_table(table, buf)
    return buf.getvalue()


def avro_bytes(schema: dict, records: list[dict], codec: str = "null") -> bytes:
    import fastavro

    buf = io.BytesIO()
    fastavro.writer(buf, schema, records, codec=codec)
    return buf.getvalue()


def csv_text(header: list[str] | None, rows: list[list], delimiter: str = ",") -> str:
    lines = [delimiter.join(header)] if header else []
    lines += [delimiter.join("" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in r)
              for r in rows]  # fmt: skip
    return "\n".join(lines) + "\n"


def json_lines(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_files(root: Path, files: dict[str, bytes | str]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)


# ---------------------------------------------------------------------------------------------------------
# the Spark acceptance cases

PEOPLE_HEADER = ["id", "name", "score", "day", "at", "ok"]
PEOPLE = [
    [1, "alpha", 1.5, "2024-01-01", "2024-01-01 10:00:00", True],
    [2, "beta", 2.25, "2024-02-29", "2024-02-29 23:59:59", False],
    [3, "gamma", None, "2023-12-31", "2023-12-31 00:00:01.5", True],
]
PEOPLE_EXPECTED = [
    [1, "alpha", 1.5, "2024-01-01", "2024-01-01 10:00:00", True],
    [2, "beta", 2.25, "2024-02-29", "2024-02-29 23:59:59", False],
    [3, "gamma", None, "2023-12-31", "2023-12-31 00:00:01.500000", True],
]
PEOPLE_TYPES = ["bigint", "string", "double", "date", "timestamp", "boolean"]


@dataclass
class SparkCase:
    name: str  # table name and folder
    files: dict[str, bytes | str]  # path under the folder → content
    query: str  # {t} is the table
    expected: list[list]
    types: list[str] | None = None  # Hive types of the data columns, when checked
    partition_keys: list[str] = field(default_factory=list)


def spark_cases(root: Path) -> list[SparkCase]:
    import pyarrow as pa

    people_csv = csv_text(PEOPLE_HEADER, PEOPLE)
    events_text = (
        '{"id": 1, "name": "a", "tags": ["x", "y"], "info": {"k": 1, "v": "p"}, "day": "2024-01-01", '
        '"at": "2024-01-01 10:00:00", "amount": 12345678901234567.25, "counts": {"2024-01-01": 3}}\n'
        '{"id": 2, "name": "b", "tags": [], "info": {"k": 2, "v": null}, "day": "2024-01-02", '
        '"at": "2024-01-02 11:30:00", "amount": 1.5, "counts": {"2024-01-02": 4, "2024-01-03": 5}}\n'
    )
    events_expected = [
        [1, "a", ["x", "y"], {"k": 1, "v": "p"}, "2024-01-01", "2024-01-01 10:00:00", "12345678901234567.25",
         {"2024-01-01": 3}],
        [2, "b", [], {"k": 2, "v": None}, "2024-01-02", "2024-01-02 11:30:00", "1.50",
         {"2024-01-02": 4, "2024-01-03": 5}],
    ]  # fmt: skip
    pq1 = pa.table({
        "id": pa.array([1, 2], pa.int64()), "Name": ["a", "b"],
        "price": pa.array([Decimal("1.50"), Decimal("20.00")], pa.decimal128(10, 2)),
        "at": pa.array([dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 2, 11, 30)], pa.timestamp("us")),
        "tags": [["x"], []], "info": [{"x": 1}, {"x": 2}],
    })  # fmt: skip
    pq2 = pa.table({
        "id": pa.array([3], pa.int64()), "Name": ["c"], "price": pa.array([Decimal("3.25")], pa.decimal128(10, 2)),
        "at": pa.array([dt.datetime(2024, 1, 3)], pa.timestamp("us")), "tags": [["z", "w"]], "info": [{"x": 3}],
        "extra": ["new"],
    })  # fmt: skip
    orc_t = pa.table({"id": pa.array([1, 2], pa.int32()), "name": ["o1", "o2"],
                      "day": pa.array([dt.date(2024, 5, 1), dt.date(2024, 5, 2)], pa.date32())})  # fmt: skip
    avro_schema = {
        "type": "record", "name": "Event", "namespace": "test",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": ["null", "string"]},
            {"name": "score", "type": "double"},
            {"name": "ok", "type": "boolean"},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        ],
    }  # fmt: skip
    avro_records = [
        {"id": 1, "name": "a", "score": 0.5, "ok": True, "day": dt.date(2024, 1, 1)},
        {"id": 2, "name": None, "score": 1.5, "ok": False, "day": dt.date(2024, 1, 2)},
    ]
    xml = (
        '<?xml version="1.0"?>\n<library>\n'
        '  <book id="1"><title>Dune</title><price>9.5</price><author>Herbert</author></book>\n'
        '  <book id="2"><title>Emma</title><price>4</price><author>Austen</author><author>X</author></book>\n'
        "</library>\n"
    )
    log = (
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x.com/" "Mozilla/4.08"\n'
        '10.0.0.2 - - [11/Oct/2000:14:00:00 -0700] "POST /form HTTP/1.1" 404 - "-" "curl/8.0"\n'
    )
    return [
        SparkCase("csv_header", {"a.csv": csv_text(PEOPLE_HEADER, PEOPLE[:2]), "b.csv": csv_text(PEOPLE_HEADER, PEOPLE[2:])},
                  "SELECT * FROM {t} ORDER BY id", PEOPLE_EXPECTED, PEOPLE_TYPES),
        SparkCase("csv_noheader", {"a.csv": "1,alpha\n2,beta\n3,gamma\n"}, "SELECT * FROM {t} ORDER BY col0",
                  [[1, "alpha"], [2, "beta"], [3, "gamma"]], ["bigint", "string"]),
        SparkCase("tsv", {"a.tsv": csv_text(PEOPLE_HEADER, PEOPLE, "\t")}, "SELECT * FROM {t} ORDER BY id",
                  PEOPLE_EXPECTED, PEOPLE_TYPES),
        SparkCase("psv", {"a.txt": csv_text(PEOPLE_HEADER, PEOPLE, "|")}, "SELECT * FROM {t} ORDER BY id",
                  PEOPLE_EXPECTED, PEOPLE_TYPES),
        SparkCase("ctrl_a", {"000000_0": csv_text(None, [r[:2] for r in PEOPLE], "\u0001")},
                  "SELECT * FROM {t} ORDER BY col0", [r[:2] for r in PEOPLE], ["bigint", "string"]),
        SparkCase("csv_quoted", {"a.csv": 'id,name,note\n1,"Smith, John","said ""hi"""\n2,plain,x\n'},
                  "SELECT * FROM {t} ORDER BY id", [[1, "Smith, John", 'said "hi"'], [2, "plain", "x"]],
                  ["bigint", "string", "string"]),
        SparkCase("csv_gz", {"a.csv.gz": compress(people_csv.encode(), "gzip")}, "SELECT * FROM {t} ORDER BY id",
                  PEOPLE_EXPECTED, PEOPLE_TYPES),
        SparkCase("csv_bz2", {"a.csv.bz2": compress(people_csv.encode(), "bz2")}, "SELECT * FROM {t} ORDER BY id",
                  PEOPLE_EXPECTED, PEOPLE_TYPES),
        SparkCase("csv_snappy", {"a.csv.snappy": hadoop_compress(b"1,alpha\n2,beta\n", "snappy")},
                  "SELECT * FROM {t} ORDER BY col0", [[1, "alpha"], [2, "beta"]]),
        SparkCase("csv_lz4", {"a.csv.lz4": hadoop_compress(people_csv.encode(), "lz4", 100)},
                  "SELECT * FROM {t} ORDER BY id", PEOPLE_EXPECTED, PEOPLE_TYPES),
        SparkCase("csv_zst", {"a.csv.zst": compress(b"1,alpha\n2,beta\n", "zstd")},
                  "SELECT * FROM {t} ORDER BY col0", [[1, "alpha"], [2, "beta"]]),
        SparkCase("json_lines", {"a.json": events_text}, "SELECT * FROM {t} ORDER BY id", events_expected,
                  ["bigint", "string", "array<string>", "struct<k:bigint,v:string>", "date", "timestamp",
                   "decimal(19,2)", "map<string,bigint>"]),
        SparkCase("json_array", {"a.json": json.dumps([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], indent=2)},
                  "SELECT * FROM {t} ORDER BY id", [[1, "a"], [2, "b"]], ["bigint", "string"]),
        SparkCase("json_zst_lz4", {"a.json.zst": compress(events_text.encode(), "zstd"),
                                   "b.json.lz4": hadoop_compress(events_text.replace('"id": ', '"id": 1').encode(), "lz4")},
                  "SELECT id, name FROM {t} ORDER BY id", [[1, "a"], [2, "b"], [11, "a"], [12, "b"]]),
        SparkCase("json_gz", {"a.json.gz": compress(events_text.encode(), "gzip")},
                  "SELECT id, name, tags FROM {t} ORDER BY id", [[1, "a", ["x", "y"]], [2, "b", []]]),
        SparkCase("parquet", {"p1.parquet": parquet_bytes(pq1), "p2.parquet": parquet_bytes(pq2)},
                  "SELECT * FROM {t} ORDER BY id",
                  [[1, "a", "1.50", "2024-01-01 10:00:00", ["x"], {"x": 1}, None],
                   [2, "b", "20.00", "2024-01-02 11:30:00", [], {"x": 2}, None],
                   [3, "c", "3.25", "2024-01-03 00:00:00", ["z", "w"], {"x": 3}, "new"]],
                  ["bigint", "string", "decimal(10,2)", "timestamp", "array<string>", "struct<x:bigint>", "string"]),
        SparkCase("orc", {"o.orc": orc_bytes(orc_t)}, "SELECT * FROM {t} ORDER BY id",
                  [[1, "o1", "2024-05-01"], [2, "o2", "2024-05-02"]], ["int", "string", "date"]),
        SparkCase("avro", {"a.avro": avro_bytes(avro_schema, avro_records, "deflate")}, "SELECT * FROM {t} ORDER BY id",
                  [[1, "a", 0.5, True, "2024-01-01"], [2, None, 1.5, False, "2024-01-02"]],
                  ["bigint", "string", "double", "boolean", "date"]),
        SparkCase("xml", {"books.xml": xml}, "SELECT * FROM {t} ORDER BY _id",
                  [[1, "Dune", 9.5, ["Herbert"]], [2, "Emma", 4.0, ["Austen", "X"]]],
                  ["bigint", "string", "double", "array<string>"]),
        SparkCase("weblog", {"access.log": log}, "SELECT clientip, auth, verb, request, response, bytes, agent FROM {t} ORDER BY clientip",
                  [["10.0.0.2", "-", "POST", "/form", "404", None, "curl/8.0"],
                   ["127.0.0.1", "frank", "GET", "/a.gif", "200", "2326", "Mozilla/4.08"]]),
        SparkCase("json_part", {"dt=2024-01-01/a.json": json_lines([{"id": 1, "v": "a"}]),
                                "dt=2024-01-02/b.json": json_lines([{"id": 2, "v": "b"}, {"id": 3, "v": "c"}])},
                  "SELECT id, v, dt FROM {t} WHERE dt > '2024-01-01' ORDER BY id", [[2, "b", "2024-01-02"], [3, "c", "2024-01-02"]],
                  partition_keys=["dt"]),
        SparkCase("csv_part", {"2024/01/a.csv": csv_text(PEOPLE_HEADER, PEOPLE[:1]),
                               "2024/02/b.csv": csv_text(PEOPLE_HEADER, PEOPLE[1:])},
                  "SELECT id, partition_0, partition_1 FROM {t} ORDER BY id",
                  [[1, "2024", "01"], [2, "2024", "02"], [3, "2024", "02"]], partition_keys=["partition_0", "partition_1"]),
        SparkCase("parquet_part", {"region=eu/p.parquet": parquet_bytes(pq1), "region=us/p.parquet": parquet_bytes(pq2)},
                  "SELECT id, Name, extra, region FROM {t} ORDER BY id",
                  [[1, "a", None, "eu"], [2, "b", None, "eu"], [3, "c", "new", "us"]], partition_keys=["region"]),
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Spark side (run in its own process)


def normalise(v):
    from pyspark.sql import Row

    if isinstance(v, Row):
        return {k: normalise(x) for k, x in v.asDict().items()}
    if isinstance(v, (list, tuple)):
        return [normalise(x) for x in v]
    if isinstance(v, dict):
        return {str(k): normalise(x) for k, x in v.items()}
    if isinstance(v, (dt.date, dt.datetime, Decimal)):
        return str(v)
    return v


def run_queries(uri: str, warehouse: str, queries: dict[str, str]) -> dict[str, dict]:
    from tests.spark_session import hive_session

    spark = hive_session(uri, warehouse, "crawler-check", **{
        "spark.sql.shuffle.partitions": "1", "spark.sql.session.timeZone": "UTC"})  # fmt: skip
    answers: dict[str, dict] = {}
    try:
        for name, sql in queries.items():
            try:
                df = spark.sql(sql)
                rows = [[normalise(v) for v in row] for row in df.collect()]
                answers[name] = {"rows": rows, "columns": df.columns}
            except Exception as e:  # noqa: BLE001 - the error is the answer
                answers[name] = {"error": f"{type(e).__name__}: {str(e)[:2000]}"}
    finally:
        spark.stop()
    return answers


def main() -> None:
    ap = argparse.ArgumentParser(description="run SQL queries with Spark against a metastore")
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--queries", required=True, help="JSON file: {name: sql}")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.environ["TZ"] = "UTC"
    queries = json.loads(Path(args.queries).read_text())
    answers = run_queries(args.uri, args.warehouse, queries)
    Path(args.out).write_text(json.dumps(answers, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
