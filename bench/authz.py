"""The cost of authorization on the Thrift port, with and without it, in one run.

    python -m bench.authz                        # SQLite
    python -m bench.authz --backend postgresql

Every Thrift call asks access.decide through Handler.authorize before it runs. This benchmark times, on a
running `mortar metastore`, get_table and partition listings (all 1,000 partitions; a filter selecting 1%)
end to end through the Python client as the most expensive identity: a Mortar user restricted to some
databases (set_ugi from a trusted host, so the user's role and grants are read and re-read every
handler.IDENTITY_TTL_S). In the same run it times `Handler.authorize` alone for the same calls, in
process, on the same storage: "without" is the end-to-end time minus that, and the ratio with/without is
printed (target: under 1.10). `python -m bench.metastore` runs it too after its Mortar suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metastore.catalog import CatalogService  # noqa: E402
from metastore.config import Settings  # noqa: E402
from metastore.hms.gen.hive import ttypes as tt  # noqa: E402
from metastore.hms.handler import Handler  # noqa: E402

DB, OTHER, USER = "authz_bench", "authz_other", "authz_bench_user"


def _prepare(client, warehouse: str, catalog: CatalogService) -> None:
    for db in (DB, OTHER):
        client.create_database(tt.Database(name=db, locationUri=f"{warehouse}/{db}.db"))
    sd = tt.StorageDescriptor(cols=[tt.FieldSchema("v", "string", None)], location=f"{warehouse}/{DB}.db/t",
                              serdeInfo=tt.SerDeInfo(None, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", {}),
                              inputFormat="org.apache.hadoop.mapred.TextInputFormat",
                              outputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")  # fmt: skip
    client.create_table(tt.Table(tableName="t", dbName=DB, sd=sd, partitionKeys=[tt.FieldSchema("d", "int", None)],
                                 tableType="MANAGED_TABLE", parameters={}))  # fmt: skip
    parts = []
    for i in range(1000):
        psd = tt.StorageDescriptor(**{**sd.__dict__, "location": f"{sd.location}/d={i}"})
        parts.append(tt.Partition(values=[str(i)], dbName=DB, tableName="t", sd=psd, parameters={}))
    client.add_partitions(parts)
    try:
        catalog.users.create(USER, "correct horse battery", "editor", [DB])
    except Exception:  # noqa: BLE001 - made by an earlier run on the same storage
        pass


CALLS = {
    "get_table": ("get_table", (DB, "t")),
    "get_partitions (1,000)": ("get_partitions", (DB, "t", -1)),
    "get_partitions_by_filter (1%)": ("get_partitions_by_filter", (DB, "t", "d < 10", -1)),
}


def _time(fn, n: int) -> float:
    """Median seconds per call over `n` calls (after one untimed call)."""
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(port: int, database_url: str, warehouse: str, calls: int = 1000) -> dict[str, tuple[float, float]]:
    """{operation: (end-to-end seconds with authorization, seconds of the authorization alone)}."""
    from bench.metastore import Client

    catalog = CatalogService.open(database_url, warehouse)
    with Client(port) as client:
        _prepare(client, warehouse, catalog)
    handler = Handler(catalog, settings=Settings(trusted_ugi_hosts="127.0.0.1"), peer="127.0.0.1")
    handler.set_ugi(USER, [])
    assert handler.identity.databases == frozenset({DB}), handler.identity
    out = {}
    with Client(port) as client:
        client.set_ugi(USER, [])
        for label, (method, args) in CALLS.items():
            n = calls if method == "get_table" else max(calls // 20, 20)
            end_to_end = _time(lambda m=method, a=args: getattr(client, m)(*a), n)
            alone = _time(lambda m=method, a=args: handler.authorize(m, a), calls)
            out[label] = (end_to_end, alone)
    return out


def report(results: dict[str, tuple[float, float]]) -> None:
    print()
    print("authorization cost (a user restricted to some databases; end to end through the Python client)")
    print("| operation | with authorization | authorization alone | without (difference) | with ÷ without |")
    print("|---|---|---|---|---|")
    for label, (total, alone) in results.items():
        without = total - alone
        print(f"| {label} | {total * 1000:.3f} ms | {alone * 1e6:.1f} µs | {without * 1000:.3f} ms "
              f"| {total / without:.3f} |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description="The cost of Thrift authorization, with and without, in one run.")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--calls", type=int, default=2000, help="get_table calls (listings: a twentieth)")
    args = ap.parse_args()
    from bench.metastore import storage_url
    from tests.conftest import start_metastore, stop_metastore

    tmp = Path(tempfile.mkdtemp(prefix="mortar-authz-"))
    url = storage_url(args.backend, tmp)
    os.environ["MORTAR_TRUSTED_UGI_HOSTS"] = "127.0.0.1"
    print(f"Mortar ({args.backend}): preparing 1,000 partitions…", file=sys.stderr, flush=True)
    ms = start_metastore(args.backend, tmp, url)
    try:
        report(measure(ms.port, url, str(ms.warehouse), args.calls))
    finally:
        stop_metastore(ms)


if __name__ == "__main__":
    main()
