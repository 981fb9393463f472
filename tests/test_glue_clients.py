"""Real Glue clients against a running Mortar: pyiceberg's GlueCatalog (namespaces, tables, appends, schema
evolution, racing writers), awswrangler (datasets written to S3 -- moto's S3 server -- and registered through
Mortar's Glue API), and Spark reading through Thrift what Glue made, and the other way round."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import free_port, start_metastore, stop_metastore, unique
from tests.glue_fixtures import REGION, start_glue, stop_glue

ROOT = Path(__file__).resolve().parents[1]
# moto keeps one S3 state per process, shared by every moto server the tests start: a bucket of our own
BUCKET = f"lake-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server, as the object store awswrangler writes to."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
                     "LocationConstraint": REGION})  # fmt: skip
    yield url
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, s3):
    tmp = tmp_path_factory.mktemp("glue-clients")
    import os

    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ENDPOINT_URL_S3=s3, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        s = start_glue(tmp, f"sqlite:///{tmp / 'catalog.db'}", standalone=True)  # the server sees moto's S3 as its S3
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield s
    stop_glue(s)


def _catalog(server, who: str = "editor"):
    from pyiceberg.catalog import load_catalog

    key, secret = server.keys[who]
    return load_catalog("mortar", **{"type": "glue", "glue.endpoint": server.url, "glue.region": REGION,
                                     "glue.access-key-id": key, "glue.secret-access-key": secret})  # fmt: skip


def test_pyiceberg_glue_catalog(server):
    from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError
    from pyiceberg.schema import Schema
    from pyiceberg.types import DoubleType, LongType, NestedField, StringType

    catalog = _catalog(server)
    ns = unique("ice")
    catalog.create_namespace(ns, {"owner": "team"})
    with pytest.raises(NamespaceAlreadyExistsError):
        catalog.create_namespace(ns)
    assert (ns,) in catalog.list_namespaces()
    schema = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "name", StringType(), required=False))
    # no automatic retries (pyiceberg retries appends by default): a lost race shows as CommitFailedException
    table = catalog.create_table(f"{ns}.events", schema, properties={"commit.retry.num-retries": "0"})
    table.append(pa.table({"id": [1, 2], "name": ["a", "b"]}))
    assert catalog.load_table(f"{ns}.events").scan().to_arrow().num_rows == 2
    assert (ns, "events") in catalog.list_tables(ns)

    with table.update_schema() as update:
        update.add_column("score", DoubleType())
    table = catalog.load_table(f"{ns}.events")
    table.append(pa.table({"id": [3], "name": ["c"], "score": [0.5]}))
    rows = catalog.load_table(f"{ns}.events").scan().to_arrow().sort_by("id").to_pylist()
    assert rows == [{"id": 1, "name": "a", "score": None}, {"id": 2, "name": "b", "score": None},
                    {"id": 3, "name": "c", "score": 0.5}]  # fmt: skip
    glue_table = server.client("viewer").get_table(DatabaseName=ns, Name="events")["Table"]
    assert [c["Name"] for c in glue_table["StorageDescriptor"]["Columns"]] == ["id", "name", "score"]
    assert glue_table["Parameters"]["table_type"].upper() == "ICEBERG"

    # two writers from the same snapshot: the second commit fails, and nothing is lost once it retries
    first, second = catalog.load_table(f"{ns}.events"), catalog.load_table(f"{ns}.events")
    first.append(pa.table({"id": [10], "name": ["x"], "score": [1.0]}))
    with pytest.raises(CommitFailedException):
        second.append(pa.table({"id": [11], "name": ["y"], "score": [2.0]}))
    catalog.load_table(f"{ns}.events").append(pa.table({"id": [11], "name": ["y"], "score": [2.0]}))

    # writers racing at the same moment: Glue's VersionId lets one commit through at a time
    outcomes: list[str] = []
    barrier = threading.Barrier(3)

    def write(i: int) -> None:
        t = _catalog(server).load_table(f"{ns}.events")
        barrier.wait()
        for attempt in range(20):  # each writer retries from a fresh read until its commit goes through
            try:
                t.append(pa.table({"id": [100 + i], "name": [f"r{i}"], "score": [float(i)]}))
                outcomes.append("ok" if attempt == 0 else "retried")
                return
            except CommitFailedException:
                t = _catalog(server).load_table(f"{ns}.events")
        outcomes.append("gave up")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "ok" in outcomes and "gave up" not in outcomes and len(outcomes) == 3
    ids = sorted(catalog.load_table(f"{ns}.events").scan().to_arrow().column("id").to_pylist())
    assert ids == [1, 2, 3, 10, 11, 100, 101, 102]

    catalog.drop_table(f"{ns}.events")
    catalog.drop_namespace(ns)
    assert (ns,) not in catalog.list_namespaces()


def test_awswrangler(server, s3):
    import awswrangler as wr
    import pandas as pd

    key, secret = server.keys["editor"]
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    wr.config.glue_endpoint_url = server.url
    wr.config.s3_endpoint_url = s3
    db = unique("wr")
    try:
        wr.catalog.create_database(db, boto3_session=session)
        df = pd.DataFrame({"id": [1, 2, 3, 4], "amount": [1.5, 2.5, 3.5, 4.5], "region": ["eu", "eu", "us", "ap"]})
        path = f"s3://{BUCKET}/{db}/sales/"
        # awswrangler uses one session for S3 and Glue: moto ignores signatures, Mortar checks them
        wr.s3.to_parquet(df, path=path, dataset=True, database=db, table="sales", partition_cols=["region"],
                         boto3_session=session)  # fmt: skip
        back = wr.s3.read_parquet_table(table="sales", database=db, boto3_session=session)
        assert sorted(back["id"].tolist()) == [1, 2, 3, 4] and set(back["region"].astype(str)) == {"eu", "us", "ap"}
        parts = wr.catalog.get_partitions(database=db, table="sales", boto3_session=session)
        assert sorted(v[0] for v in parts.values()) == ["ap", "eu", "us"]
        assert all(loc.startswith(path) for loc in parts)
        wr.s3.to_parquet(pd.DataFrame({"id": [5], "amount": [5.5], "region": ["sa"]}), path=path, dataset=True,
                         database=db, table="sales", partition_cols=["region"], mode="append", boto3_session=session)  # fmt: skip
        assert len(wr.catalog.get_partitions(database=db, table="sales", boto3_session=session)) == 4
        found = list(wr.catalog.search_tables(text="sales", boto3_session=session))
        assert [(t["DatabaseName"], t["Name"]) for t in found] == [(db, "sales")]
        assert wr.catalog.get_table_types(database=db, table="sales", boto3_session=session) == {
            "id": "bigint", "amount": "double", "region": "string"}  # fmt: skip
    finally:
        wr.config.reset()


SPARK = """
import json, sys
from tests.spark_session import hive_session
uri, warehouse, db, out = sys.argv[1:5]
spark = hive_session(uri, warehouse, "glue-cross")
rows = spark.sql(f"SELECT dt, count(*) AS n, sum(id) AS total FROM {db}.events GROUP BY dt ORDER BY dt").collect()
spark.sql(f"CREATE TABLE {db}.spark_made (x INT, s STRING) PARTITIONED BY (p STRING) STORED AS PARQUET")
spark.sql(f"INSERT INTO {db}.spark_made PARTITION (p) VALUES (1, 'a', 'p1'), (2, 'b', 'p2')")
json.dump([[r.dt, r.n, r.total] for r in rows], open(out, "w"))
spark.stop()
"""


@pytest.mark.timeout(600)
def test_spark_reads_what_glue_made_and_glue_describes_what_spark_made(server, tmp_path):
    glue = server.client("editor")
    db = unique("cross")
    glue.create_database(DatabaseInput={"Name": db, "LocationUri": str(tmp_path / db)})
    location = tmp_path / "events"
    sd = {"Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "name", "Type": "string"}],
          "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
          "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
          "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}  # fmt: skip
    glue.create_table(DatabaseName=db, TableInput={"Name": "events", "TableType": "EXTERNAL_TABLE",
                                                   "StorageDescriptor": {**sd, "Location": str(location)},
                                                   "PartitionKeys": [{"Name": "dt", "Type": "string"}]})  # fmt: skip
    parts = []
    for day, ids in (("2024-01-01", [1, 2, 3]), ("2024-01-02", [10, 20])):
        folder = location / f"dt={day}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "name": [f"n{i}" for i in ids]}), folder / "part-0.parquet")
        parts.append({"Values": [day], "StorageDescriptor": {**sd, "Location": str(folder)}})
    glue.batch_create_partition(DatabaseName=db, TableName="events", PartitionInputList=parts)
    glue.create_partition(DatabaseName=db, TableName="events", PartitionInput={  # registered, no files yet
        "Values": ["2024-01-03"], "StorageDescriptor": {**sd, "Location": str(location / "dt=2024-01-03")}})  # fmt: skip

    ms = start_metastore("sqlite", tmp_path, server.database_url)
    try:
        out = tmp_path / "rows.json"
        proc = subprocess.run([sys.executable, "-c", SPARK, ms.uri, str(tmp_path / "spark-wh"), db, str(out)],
                              capture_output=True, text=True, timeout=500, cwd=ROOT)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert json.loads(out.read_text()) == [["2024-01-01", 3, 6], ["2024-01-02", 2, 30]]
    finally:
        stop_metastore(ms)
    made = glue.get_table(DatabaseName=db, Name="spark_made")["Table"]
    assert [(c["Name"], c["Type"]) for c in made["StorageDescriptor"]["Columns"]] == [("x", "int"), ("s", "string")]
    assert [k["Name"] for k in made["PartitionKeys"]] == ["p"]
    assert "Parquet" in made["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    got = glue.get_partitions(DatabaseName=db, TableName="spark_made")["Partitions"]
    assert sorted(p["Values"] for p in got) == [["p1"], ["p2"]]
    assert [t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"]] == ["events", "spark_made"]
