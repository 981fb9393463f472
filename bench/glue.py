"""Glue API benchmark: the same reads and writes through Mortar's Glue API, through Mortar's Thrift port (same
storage, same data) and through moto's Glue server, in one run.

    python -m bench.glue                 # SQLite storage
    python -m bench.glue --get-table 500 --partitions 2000   # quicker

Operations: GetTable ×N; GetPartitions of 10,000 partitions (Glue: paged by 1,000, the most Glue answers;
Thrift: one get_partitions call); the same with an Expression selecting 1%; BatchCreatePartition of 10,000
partitions in batches of 100 (Thrift: add_partitions in batches of 100). Two clocks for reads:
- client: through each protocol's usual Python client (boto3; the generated Thrift client, accelerated),
  decoding included (boto3's parsing of 1,000 partitions costs more than Mortar's answering them);
- server: raw requests (unsigned JSON POSTs; ready-made Thrift calls) whose answers are read but not decoded.
Ratios: Thrift / Glue (within 2x: ≥ 0.5) and moto / Glue (higher is better for Mortar).
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.metastore import Client, client_gc_paused  # noqa: E402
from metastore.hms.gen.hive import ttypes as tt  # noqa: E402
from tests.conftest import free_port, start_metastore, stop_metastore  # noqa: E402
from tests.glue_fixtures import REGION, start_glue, stop_glue  # noqa: E402

DB = "gbench"
SD = {"Columns": [{"Name": f"c{i}", "Type": "string"} for i in range(8)],
      "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
      "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
      "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", "Parameters": {}}}  # fmt: skip


def progress(msg: str) -> None:
    print(f"  … {msg}", file=sys.stderr, flush=True)


def timed(fn) -> float:
    with client_gc_paused():
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


def best(fn, repeat: int = 3) -> float:
    return min(timed(fn) for _ in range(repeat))


def values(n: int) -> list[list[str]]:
    """n partitions: 100 days x n/100 numbers (an Expression on one day selects 1%)."""
    per_day = max(1, n // 100)
    return [[f"d{d:03d}", str(h)] for d in range(100) for h in range(per_day)][:n]


def make_glue_table(glue, name: str, location: str) -> None:
    glue.create_table(DatabaseName=DB, TableInput={"Name": name, "TableType": "EXTERNAL_TABLE",
                                                   "StorageDescriptor": {**SD, "Location": location},
                                                   "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "n", "Type": "int"}]})  # fmt: skip


def glue_batch_create(glue, name: str, vals: list[list[str]], location: str) -> None:
    for i in range(0, len(vals), 100):
        glue.batch_create_partition(DatabaseName=DB, TableName=name, PartitionInputList=[
            {"Values": v, "StorageDescriptor": {**SD, "Location": f"{location}/dt={v[0]}/n={v[1]}"}} for v in vals[i : i + 100]])  # fmt: skip


def glue_all_partitions(glue, name: str, **kw) -> int:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=DB, TableName=name, PaginationConfig={"PageSize": 1000}, **kw)
    return sum(len(p["Partitions"]) for p in pages)


def raw_partitions(url: str, name: str, expression: str | None = None) -> int:
    """GetPartitions pages as bytes (unsigned: the anonymous policy reads locally); the count of pages."""
    token, pages = None, 0
    while True:
        body = {"DatabaseName": DB, "TableName": name, "MaxResults": 1000}
        if expression:
            body["Expression"] = expression
        if token:
            body["NextToken"] = token
        data = raw(url, "GetPartitions", body)
        pages += 1
        tail = data[-400:].decode(errors="replace")
        if '"NextToken"' not in tail:
            return pages
        token = json.loads(data)["NextToken"]  # only to find the next page (not timed apart)


_CONNECTIONS: dict[str, http.client.HTTPConnection] = {}


def raw(url: str, op: str, body: dict) -> bytes:
    """One request on a kept-alive connection (as boto3 and the Thrift client keep theirs)."""
    conn = _CONNECTIONS.get(url)
    if conn is None:
        host, port = url.removeprefix("http://").split(":")
        conn = _CONNECTIONS[url] = http.client.HTTPConnection(host, int(port), timeout=600)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body: no Nagle wait
    conn.request("POST", "/", body=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSGlue.{op}"})  # fmt: skip
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(data[:300])
    return data


def thrift_table(name: str, location: str) -> tt.Table:
    sd = tt.StorageDescriptor(cols=[tt.FieldSchema(f"c{i}", "string", None) for i in range(8)], location=location,
                              inputFormat=SD["InputFormat"], outputFormat=SD["OutputFormat"],
                              serdeInfo=tt.SerDeInfo(None, SD["SerdeInfo"]["SerializationLibrary"], {}),
                              compressed=False, numBuckets=-1, bucketCols=[], sortCols=[], parameters={})  # fmt: skip
    return tt.Table(tableName=name, dbName=DB, sd=sd, parameters={}, tableType="EXTERNAL_TABLE",
                    partitionKeys=[tt.FieldSchema("dt", "string", None), tt.FieldSchema("n", "int", None)])  # fmt: skip


def run(args) -> dict[str, dict[str, float]]:
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-glue-"))
    results: dict[str, dict[str, float]] = {}
    vals = values(args.partitions)
    one_day = f"dt = '{vals[len(vals) // 2][0]}'"
    progress("starting Mortar (web server with the Glue API, Thrift metastore) and moto")
    server = start_glue(tmp, f"sqlite:///{tmp / 'catalog.db'}")
    ms = start_metastore("sqlite", tmp / "ms", server.database_url) if (tmp / "ms").mkdir() is None else None
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    try:
        glue = server.client("admin", max_pool_connections=4)
        mo = boto3.client("glue", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION,
                          aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))  # fmt: skip
        loc = str(tmp / "data")
        for c in (glue, mo):
            c.create_database(DatabaseInput={"Name": DB, "LocationUri": loc})
            make_glue_table(c, "t", f"{loc}/t")
            make_glue_table(c, "w", f"{loc}/w")

        progress(f"BatchCreatePartition of {len(vals)} in batches of 100")
        results["BatchCreatePartition"] = {"glue": timed(lambda: glue_batch_create(glue, "t", vals, f"{loc}/t")),
                                           "moto": timed(lambda: glue_batch_create(mo, "t", vals, f"{loc}/t"))}  # fmt: skip
        with Client(ms.port) as hms:
            hms.create_table(thrift_table("th", f"{loc}/th"))
            t = hms.get_table(DB, "th")

            def thrift_add():
                for i in range(0, len(vals), 100):
                    hms.add_partitions([tt.Partition(values=v, dbName=DB, tableName="th", sd=tt.StorageDescriptor(
                        **{**t.sd.__dict__, "location": f"{loc}/th/dt={v[0]}/n={v[1]}"}), parameters={}) for v in vals[i : i + 100]])  # fmt: skip

            results["BatchCreatePartition"]["thrift"] = timed(thrift_add)

            progress(f"GetTable x{args.get_table}")
            results["GetTable"] = {
                "glue": timed(lambda: [glue.get_table(DatabaseName=DB, Name="t") for _ in range(args.get_table)]),
                "thrift": timed(lambda: [hms.get_table(DB, "t") for _ in range(args.get_table)]),
                "moto": timed(lambda: [mo.get_table(DatabaseName=DB, Name="t") for _ in range(args.get_table)]),
                "glue server": timed(lambda: [raw(server.url, "GetTable", {"DatabaseName": DB, "Name": "t"})
                                              for _ in range(args.get_table)]),  # fmt: skip
            }
            progress(f"GetPartitions of {len(vals)}, paged")
            assert glue_all_partitions(glue, "t") == len(vals) == len(hms.get_partitions(DB, "t", -1))
            results["GetPartitions (all)"] = {
                "glue": best(lambda: glue_all_partitions(glue, "t")),
                "thrift": best(lambda: hms.get_partitions(DB, "t", -1)),
                "moto": best(lambda: glue_all_partitions(mo, "t"), 1),
                "glue server": best(lambda: raw_partitions(server.url, "t")),
            }
            progress("GetPartitions with an Expression selecting 1%")
            assert glue_all_partitions(glue, "t", Expression=one_day) == len(
                hms.get_partitions_by_filter(DB, "t", one_day.replace("'", '"'), -1))  # fmt: skip
            results["GetPartitions (Expression, 1%)"] = {
                "glue": best(lambda: glue_all_partitions(glue, "t", Expression=one_day), 5),
                "thrift": best(lambda: hms.get_partitions_by_filter(DB, "t", one_day.replace("'", '"'), -1), 5),
                "moto": best(lambda: glue_all_partitions(mo, "t", Expression=one_day), 1),
                "glue server": best(lambda: raw_partitions(server.url, "t", one_day), 5),
            }
    finally:
        moto.stop()
        stop_metastore(ms)
        stop_glue(server)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description="Mortar's Glue API vs its Thrift port vs moto's Glue server.")
    ap.add_argument("--get-table", type=int, default=2000)
    ap.add_argument("--partitions", type=int, default=10_000)
    args = ap.parse_args()
    results = run(args)
    print(f"\n{'operation':32} {'Glue':>9} {'Glue srv':>9} {'Thrift':>9} {'moto':>9} {'Thrift/Glue':>11} "
          f"{'Thrift/srv':>10} {'moto/Glue':>9}")  # fmt: skip
    for op, r in results.items():
        g = r["glue"]
        srv = f"{r['glue server'] * 1000:7.0f}ms" if "glue server" in r else f"{'':>9}"
        by_srv = f"{r['thrift'] / r['glue server']:10.2f}" if "glue server" in r else f"{'':>10}"
        print(f"{op:32} {g * 1000:7.0f}ms {srv} {r['thrift'] * 1000:7.0f}ms {r['moto'] * 1000:7.0f}ms "
              f"{r['thrift'] / g:11.2f} {by_srv} {r['moto'] / g:9.1f}")  # fmt: skip


if __name__ == "__main__":
    socket.setdefaulttimeout(600)
    main()
