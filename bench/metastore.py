"""Metastore benchmark: Mortar against the reference Hive Metastore, same machine, same run.

    python -m bench.metastore                       # Mortar on SQLite vs reference HMS on Derby
    python -m bench.metastore --backend postgresql  # Mortar and the reference both on PostgreSQL
    python -m bench.metastore --million             # also: filter on a table of 1,000,000 partitions
    python -m bench.metastore --independent         # as an independent client sees both (issue 17), on both
                                                    # storages: see bench/independent.py

Each operation runs through the same client for both servers and prints the time on
each server and the ratio reference / Mortar (higher is better for Mortar). Two measurements:
- end to end: a call through the generated Python client, decoding of the answer included; for 10,000
  partitions the client's decoding alone costs some 70 ms, far more than a JVM client (Spark, Trino) pays;
- server time (reads only): ready-made request bytes sent on a plain socket, the clock stopped when the
  last byte of the answer has arrived (its length known from an untimed first call; for the first call
  after a change, the arrival of its last byte, found by decoding afterwards), nothing decoded meanwhile;
- the reads again through the JVM client (bench/jvm.py: the generated Java client inside Spark's Hive
  client, warmed up), end to end: what a JVM engine sees (`--no-jvm` skips it).

The client's garbage collector is paused during each timed call (`--client-gc` keeps it running):
decoding 10,000 partitions makes some 300,000 Python objects, whose collections add 100-200 ms to the
call whichever server answers it; JVM clients (Spark, Trino) pay nothing like it.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from thrift.protocol.TBinaryProtocol import TBinaryProtocol, TBinaryProtocolAccelerated
from thrift.Thrift import TMessageType
from thrift.transport import TSocket, TTransport

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.authz import measure as authz_cost  # noqa: E402
from bench.authz import report as authz_report  # noqa: E402
from bench.jvm import jvm_timings  # noqa: E402
from metastore.hms.gen.hive import ThriftHiveMetastore  # noqa: E402
from metastore.hms.gen.hive import ttypes as tt  # noqa: E402
from tests.conftest import free_port, start_metastore, stop_metastore  # noqa: E402
from tests.reference import start_reference, stop_reference  # noqa: E402

DB = "bench"


class Client:
    """The same client for both servers: generated bindings with the C-accelerated binary protocol,
    so that the figures measure the servers rather than Python-side decoding."""

    def __init__(self, port: int):
        self.trans = TTransport.TBufferedTransport(TSocket.TSocket("127.0.0.1", port))
        self.client = ThriftHiveMetastore.Client(TBinaryProtocolAccelerated(self.trans))

    def __enter__(self):
        self.trans.open()
        return self.client

    def __exit__(self, *exc):
        self.trans.close()


def progress(msg: str) -> None:
    print(f"  … {msg}", file=sys.stderr, flush=True)


def make_table(name: str) -> tt.Table:
    sd = tt.StorageDescriptor(
        cols=[tt.FieldSchema(f"c{i}", "string", None) for i in range(8)],
        inputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        outputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        serdeInfo=tt.SerDeInfo(None, "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", {}),
        compressed=False, numBuckets=-1, bucketCols=[], sortCols=[], parameters={},
    )  # fmt: skip
    keys = [tt.FieldSchema("dt", "string", None), tt.FieldSchema("hr", "int", None)]
    return tt.Table(tableName=name, dbName=DB, owner="bench", sd=sd, partitionKeys=keys, parameters={},
                    tableType="MANAGED_TABLE")  # fmt: skip


def partitions(t: tt.Table, days: int, hours: int) -> list[tt.Partition]:
    return [
        tt.Partition(values=[f"d{d:04d}", str(h)], dbName=DB, tableName=t.tableName, sd=t.sd, parameters={})
        for d in range(days)
        for h in range(hours)
    ]


CLIENT_GC = False  # --client-gc


@contextmanager
def client_gc_paused():
    """The client's garbage collector off while timing (unless --client-gc)."""
    if CLIENT_GC:
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def timed(fn) -> float:
    with client_gc_paused():
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


def timed_median(fn, repeat: int) -> float:
    """The median of `repeat` timings of `fn` (a read: the same answer each time)."""
    return statistics.median(timed(fn) for _ in range(repeat))


def decode_reply(method: str, data: bytes):
    """(answer, length in bytes) of the reply to `method` at the start of `data`; None while `data` is not yet
    a complete reply. An error answer (MetaException, TApplicationException...) raises."""
    buf = TTransport.TMemoryBuffer(data)
    try:
        answer = getattr(ThriftHiveMetastore.Client(TBinaryProtocolAccelerated(buf)), f"recv_{method}")()
    except EOFError:
        return None
    except TypeError:
        # the C decoder reports some cut replies so ("got wrong ttype"); the Python one says EOFError
        buf = TTransport.TMemoryBuffer(data)
        try:
            answer = getattr(ThriftHiveMetastore.Client(TBinaryProtocol(buf)), f"recv_{method}")()
        except EOFError:
            return None
    return answer, buf.cstringio_buf.tell()


class RawCall:
    """One read sent as ready-made bytes (unframed binary protocol, fixed seqid) on a plain socket, its answer
    received as bytes and not decoded: the server time, request sent → last byte of the answer received."""

    TIMEOUT = 300.0

    def __init__(self, port: int, method: str, **args):
        self.method = method
        buf = TTransport.TMemoryBuffer()
        proto = TBinaryProtocol(buf)
        proto.writeMessageBegin(method, TMessageType.CALL, 1)
        getattr(ThriftHiveMetastore, f"{method}_args")(**args).write(proto)
        proto.writeMessageEnd()
        self.request = buf.getvalue()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=self.TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reply = b""  # the first answer, byte for byte
        self.paused = False  # the first answer paused long enough for an attempt to decode it before its end
        self.buf = bytearray()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def first(self, idle: float = 0.2):
        """Untimed reference call: receive until the bytes decode as a complete reply (tried whenever the socket
        has been idle `idle` s, so never while bytes are arriving); keeps the reply's bytes for the timed calls.
        Returns the decoded answer and the seconds from sending to the arrival of the last byte (which includes
        the time of any decoding attempt made before the answer was complete: `self.paused` says so)."""
        chunks: list[bytes] = []
        self.paused = False
        self.sock.settimeout(idle)
        try:
            start = last = time.perf_counter()
            self.sock.sendall(self.request)
            while True:
                try:
                    chunk = self.sock.recv(1 << 20)
                except TimeoutError:
                    decoded = decode_reply(self.method, b"".join(chunks)) if chunks else None
                    if decoded is not None:
                        break
                    self.paused = bool(chunks)
                    if time.perf_counter() - start > self.TIMEOUT:
                        raise RuntimeError(
                            f"{self.method}: no complete reply after {self.TIMEOUT:.0f} s"
                        ) from None
                    continue
                if not chunk:
                    raise RuntimeError(f"{self.method}: the server closed the connection")
                last = time.perf_counter()
                chunks.append(chunk)
        finally:
            self.sock.settimeout(self.TIMEOUT)
        self.reply = b"".join(chunks)
        answer, length = decoded
        if length != len(self.reply):
            raise RuntimeError(f"{self.method}: {len(self.reply) - length} bytes after the reply")
        self.buf = bytearray(length)
        return answer, last - start

    def timed(self) -> float:
        """Seconds from sending the request to receiving the last byte of an answer as long as the first one;
        then (untimed) checks that it is the first answer, byte for byte, and that nothing follows it."""
        sock, view, n = self.sock, memoryview(self.buf), len(self.buf)
        got = 0
        start = time.perf_counter()
        sock.sendall(self.request)
        while got < n:
            k = sock.recv_into(view[got:], n - got)
            if not k:
                raise RuntimeError(f"{self.method}: the server closed the connection")
            got += k
        elapsed = time.perf_counter() - start
        if self.buf != self.reply:
            raise RuntimeError(
                f"{self.method}: the answer differs from the first one (same read, same seqid)"
            )
        sock.settimeout(0)
        try:
            more = sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            more = None
        finally:
            sock.settimeout(self.TIMEOUT)
        if more is not None:
            raise RuntimeError(
                f"{self.method}: the answer is longer than the first one, or the connection closed"
            )
        return elapsed

    def median(self, repeat: int) -> float:
        with client_gc_paused():
            return statistics.median(self.timed() for _ in range(repeat))


def _get_table_worker(args) -> int:
    port, n = args
    with Client(port) as c, client_gc_paused():
        for _ in range(n):
            c.get_table(DB, "small")
    return n


def run_suite(
    port: int, n_get: int, n_parts: int, clients: int, repeat: int = 5, jvm: bool = True
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """The operations, in order, on the server at `port`; returns seconds per operation end to end, the
    server time of the reads (listings: the median of `repeat` calls, as a single call measures a server's
    first, cold answer; the row "first call after a change" is that single call), and the reads end to end
    through the JVM client (bench/jvm.py; empty unless `jvm`)."""
    out: dict[str, float] = {}
    server: dict[str, float] = {}
    through_jvm: dict[str, float] = {}
    days = n_parts // 100
    with Client(port) as c:
        try:
            c.drop_database(DB, True, True)
        except Exception:  # noqa: BLE001
            pass
        c.create_database(tt.Database(DB, "benchmark", None, {}))
        c.create_table(make_table("small"))
        t = make_table("big")
        c.create_table(t)
        progress(f"get_table ×{n_get}")
        out[f"get_table ×{n_get}"] = timed(lambda: [c.get_table(DB, "small") for _ in range(n_get)])
        with RawCall(port, "get_table", dbname=DB, tbl_name="small") as raw:
            assert raw.first()[0].tableName == "small"
            with client_gc_paused():
                server[f"get_table ×{n_get}"] = sum(raw.timed() for _ in range(n_get))
        parts = partitions(t, days, 100)
        progress(f"add_partitions {len(parts)}")
        out[f"add_partitions {len(parts):,} (batches of 1,000)"] = timed(
            lambda: [c.add_partitions(parts[i : i + 1000]) for i in range(0, len(parts), 1000)]
        )
        progress("get_partitions")
        got = c.get_partitions(DB, "big", -1)
        assert len(got) == len(parts), len(got)
        out[f"get_partitions of {len(parts):,}"] = timed_median(
            lambda: c.get_partitions(DB, "big", -1), repeat
        )
        with RawCall(port, "get_partitions", db_name=DB, tbl_name="big", max_parts=-1) as raw:
            assert len(raw.first()[0]) == len(parts)
            server[f"get_partitions of {len(parts):,}"] = raw.median(repeat)
        flt = 'dt = "d0007"'
        assert len(c.get_partitions_by_filter(DB, "big", flt, -1)) == 100
        out["get_partitions_by_filter (1%)"] = timed_median(
            lambda: c.get_partitions_by_filter(DB, "big", flt, -1), repeat
        )
        with RawCall(
            port, "get_partitions_by_filter", db_name=DB, tbl_name="big", filter=flt, max_parts=-1
        ) as raw:
            assert len(raw.first()[0]) == 100
            server["get_partitions_by_filter (1%)"] = raw.median(repeat)
        assert len(c.get_partition_names(DB, "big", -1)) == len(parts)
        out["get_partition_names"] = timed_median(lambda: c.get_partition_names(DB, "big", -1), repeat)
        with RawCall(port, "get_partition_names", db_name=DB, tbl_name="big", max_parts=-1) as raw:
            assert len(raw.first()[0]) == len(parts)
            server["get_partition_names"] = raw.median(repeat)
        if jvm:
            progress("the same reads through the JVM client")
            got_jvm = jvm_timings(
                port, DB, "big", repeat=repeat, get_table_calls=n_get, small="small", flt=flt
            )
            expected = {"get_table": n_get, "get_partitions": len(parts), "get_partitions_by_filter": 100,
                        "get_partition_names": len(parts)}  # fmt: skip
            assert {op: check for op, (_, check) in got_jvm.items()} == expected, got_jvm
            for op, row in ((f"get_table ×{n_get}", "get_table"), (f"get_partitions of {len(parts):,}", "get_partitions"),
                            ("get_partitions_by_filter (1%)", "get_partitions_by_filter"),
                            ("get_partition_names", "get_partition_names")):  # fmt: skip
                through_jvm[op] = got_jvm[row][0]
        # The first listing after a change (a server caching listings cannot answer it from its cache): one more
        # partition, one call. Each measurement gets its own change (add it, measure, drop it), and the table is
        # left with its `n_parts` partitions for drop_table.
        extra = tt.Partition(values=[f"d{days:04d}", "0"], dbName=DB, tableName="big", sd=t.sd, parameters={})
        after = f"get_partitions of {len(parts) + 1:,}, first call after a change"
        progress(after)
        c.add_partitions([extra])
        got: list = []
        out[after] = timed(lambda: got.extend(c.get_partitions(DB, "big", -1)))
        assert len(got) == len(parts) + 1, len(got)
        c.drop_partition(DB, "big", extra.values, True)
        with RawCall(port, "get_partitions", db_name=DB, tbl_name="big", max_parts=-1) as raw:
            c.add_partitions([extra])
            with client_gc_paused():
                answer, server[after] = raw.first()
            assert len(answer) == len(parts) + 1, len(answer)
            if raw.paused:
                progress(
                    f"{after}: the answer paused before its end; its server time includes a decoding attempt"
                )
        c.drop_partition(DB, "big", extra.values, True)
        assert len(c.get_partitions_by_filter(DB, "big", flt, -1)) == 100
        assert len(c.get_partition_names(DB, "big", -1)) == len(parts)
    progress(f"get_table from {clients} clients")
    per_client = max(1, n_get // 4)
    with mp.get_context("fork").Pool(clients) as pool:
        start = time.perf_counter()
        total = sum(pool.map(_get_table_worker, [(port, per_client)] * clients))
        out[f"get_table ×{total} from {clients} clients"] = time.perf_counter() - start
    with Client(port) as c:
        progress("drop_table")
        out[f"drop_table with {n_parts:,} partitions"] = timed(lambda: c.drop_table(DB, "big", True))
        c.drop_database(DB, True, True)
    return out, server, through_jvm


def million(port: int, database_url: str, runs: int = 21) -> tuple[float, float]:
    """Median seconds of get_partitions_by_filter selecting 100 and 10,000 partitions of 1,000,000."""
    from sqlalchemy import insert, select, update

    from metastore.catalog.base import new_partitions_version
    from metastore.storage.engine import make_engine
    from metastore.storage.models import PartitionKeyValueRow, PartitionRow, TableRow

    with Client(port) as c:
        try:
            c.drop_database("bench_m", True, True)
        except Exception:  # noqa: BLE001
            pass
        c.create_database(tt.Database("bench_m", "benchmark", None, {}))
        t = make_table("huge")
        t.dbName = "bench_m"
        c.create_table(t)
        c.add_partitions([tt.Partition(values=["d0000", "0"], dbName="bench_m", tableName="huge", sd=t.sd,
                                       parameters={})])  # fmt: skip
    # 999,999 more rows written straight into storage: loading them through Thrift is not what is measured
    engine = make_engine(database_url)
    with engine.begin() as conn:
        row = conn.execute(select(PartitionRow).limit(1).where(
            PartitionRow.table_id == select(TableRow.id).where(TableRow.name == "huge").scalar_subquery())).first()  # fmt: skip
        table_id, sd, params = row.table_id, row.sd, row.parameters
    progress("loading 1,000,000 partitions into storage")
    batch = 20_000
    for start in range(0, 1_000_000, batch):
        with engine.begin() as conn:
            rows = []
            for i in range(max(start, 1), start + batch):
                d, h = divmod(i, 100)
                rows.append({"table_id": table_id, "name": f"dt=d{d:04d}/hr={h}", "values": f'["d{d:04d}","{h}"]',
                             "create_time": 0, "last_access_time": 0, "sd": sd, "parameters": params})  # fmt: skip
            ids = conn.execute(insert(PartitionRow).returning(PartitionRow.id, sort_by_parameter_order=True),
                               rows).scalars().all()  # fmt: skip
            kv = []
            for pid, r in zip(ids, rows, strict=True):
                dpart, hpart = r["name"].split("/")
                d, h = dpart.removeprefix("dt="), int(hpart.removeprefix("hr="))
                kv.append(
                    {"partition_id": pid, "key_index": 0, "table_id": table_id, "value": d, "int_value": None}
                )
                kv.append(
                    {
                        "partition_id": pid,
                        "key_index": 1,
                        "table_id": table_id,
                        "value": str(h),
                        "int_value": h,
                    }
                )
            conn.execute(insert(PartitionKeyValueRow), kv)
        if start % 200_000 == 0:
            progress(f"{start:,}")
    with engine.begin() as conn:
        # as the catalog does with every change to a table's partitions (servers keep listings until then)
        conn.execute(
            update(TableRow)
            .where(TableRow.id == table_id)
            .values(partitions_version=new_partitions_version())
        )
        conn.exec_driver_sql("ANALYZE")
    results = []
    with Client(port) as c:
        # a different filter each call: none is answered from the server's listing cache
        for make_filter, expect in (
            (lambda i: f'dt = "d{4321 + i:04d}"', 100),
            (lambda i: f"hr = {42 + i}", 10_000),
        ):
            times = []
            for i in range(runs):
                got: list = []
                flt = make_filter(i)
                times.append(
                    timed(lambda f=flt, g=got: g.extend(c.get_partitions_by_filter("bench_m", "huge", f, -1)))
                )
                assert len(got) == expect, (flt, len(got))
            results.append(statistics.median(times))
        c.drop_database("bench_m", True, True)
    return results[0], results[1]


def storage_url(backend: str, folder: Path) -> str:
    """Mortar's storage for a benchmark: a SQLite file in `folder`, or a PostgreSQL database of its own,
    dropped when the benchmark ends."""
    folder.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        return f"sqlite:///{folder / 'catalog.db'}"
    import atexit

    from tests.conftest import PostgresDatabases

    pg = PostgresDatabases()
    atexit.register(pg.drop_all)
    return pg.create()


def main() -> None:
    ap = argparse.ArgumentParser(description="Mortar vs the reference Hive Metastore, in one run.")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite",
                    help="Mortar's storage; the reference uses Derby for sqlite, PostgreSQL for postgresql")  # fmt: skip
    ap.add_argument("--get-table", type=int, default=2000, help="get_table calls (default 2000)")
    ap.add_argument(
        "--partitions", type=int, default=10_000, help="partitions in the big table (default 10,000)"
    )
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5, help="listings: median of this many calls (default 5)")
    ap.add_argument("--repeat-independent", type=int, default=3,
                    help="--independent: median of this many first calls after a change (default 3)")  # fmt: skip
    ap.add_argument(
        "--processes", type=int, default=2, help="Mortar server processes (default 2: one per core)"
    )
    ap.add_argument("--million", action="store_true",
                    help="also measure filters on 1,000,000 partitions (with --independent: names and 1%% filters, "
                         "first call after a change, Mortar only)")  # fmt: skip
    ap.add_argument("--skip-reference", action="store_true", help="measure Mortar only")
    ap.add_argument("--independent", action="store_true",
                    help="the independent-client mode (bench/independent.py), on both storages unless --backend")  # fmt: skip
    ap.add_argument(
        "--no-jvm", action="store_true", help="skip the reads through the JVM client (needs a JDK)"
    )
    ap.add_argument("--client-gc", action="store_true",
                    help="keep the client's garbage collector running during timed calls")  # fmt: skip
    args = ap.parse_args()
    global CLIENT_GC
    CLIENT_GC = args.client_gc

    # measure Mortar as installed: with compiled bytecode (pip compiles it; PYTHONDONTWRITEBYTECODE, set in
    # some shells, would make every start compile 100,000 lines of generated Thrift code)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import compileall

    compileall.compile_dir(str(ROOT / "metastore"), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="mortar-bench-"))
    if args.independent:
        backends = [args.backend] if "--backend" in sys.argv else ["sqlite", "postgresql"]
        for backend in backends:
            independent(backend, tmp / backend, args)
        return
    results: dict[str, dict[str, float]] = {}
    server: dict[str, dict[str, float]] = {}
    jvm: dict[str, dict[str, float]] = {}

    print(f"Mortar ({args.backend}):", file=sys.stderr)
    url = storage_url(args.backend, tmp / "mortar")
    os.environ["MORTAR_TRUSTED_UGI_HOSTS"] = "127.0.0.1"  # bench.authz acts as a restricted Mortar user
    t0 = time.perf_counter()
    ms = start_metastore(args.backend, tmp / "mortar", url, "--processes", str(args.processes))
    mortar_start = time.perf_counter() - t0
    try:
        results["mortar"], server["mortar"], jvm["mortar"] = run_suite(
            ms.port, args.get_table, args.partitions, args.clients, args.repeat, not args.no_jvm
        )
        results["mortar"]["startup (to first accepted connection)"] = mortar_start
        m100 = m10k = None
        if args.million:
            m100, m10k = million(ms.port, url)
        progress("authorization cost")
        authz = authz_cost(ms.port, url, str(ms.warehouse))
    finally:
        stop_metastore(ms)

    if not args.skip_reference:
        print("Reference HMS 2.3.10:", file=sys.stderr)
        port = free_port()
        os.environ["BACKEND"] = "postgres" if args.backend == "postgresql" else "derby"
        base = tmp / "reference"
        pid = _start_ref(base, port, os.environ["BACKEND"])
        # the start script measures from the JVM's launch to its first accepted connection
        ref_start = float(
            re.search(r"TCP accept after ([\d.]+) s", (base / "start.out").read_text()).group(1)
        )
        try:
            results["reference"], server["reference"], jvm["reference"] = run_suite(
                port, args.get_table, args.partitions, args.clients, args.repeat, not args.no_jvm
            )
            results["reference"]["startup (to first accepted connection)"] = ref_start
        finally:
            stop_reference(pid)

    print()
    print(f"(client garbage collector {'running' if CLIENT_GC else 'paused'} during timed calls)")
    print_table(f"operation ({args.backend})", results)
    if args.million:
        print(
            f"| get_partitions_by_filter on 1,000,000 partitions, 100 selected (median) | - | {m100 * 1000:.1f} ms | - |"
        )
        print(
            f"| get_partitions_by_filter on 1,000,000 partitions, 10,000 selected (median) | - | {m10k * 1000:.1f} ms | - |"
        )
    print()
    print("server time (request sent → last byte of the answer received; client decoding excluded)")
    print_table(f"read ({args.backend})", server, precise=True)
    if not args.no_jvm:
        print()
        print("JVM client (the generated Java client Spark's Hive client runs; warmed up; end to end)")
        print_table(f"read ({args.backend})", jvm, precise=True)
    authz_report(authz)


def independent(backend: str, tmp: Path, args) -> None:
    """The independent-client mode on one storage: Mortar, then the reference; prints the table."""
    from bench.independent import print_independent, run_independent, run_million

    results: dict[str, dict] = {}
    print(f"Mortar ({backend}), independent client:", file=sys.stderr)
    url = storage_url(backend, tmp / "mortar")
    ms = start_metastore(backend, tmp / "mortar", url, "--processes", str(args.processes))
    try:
        results["mortar"] = run_independent(ms.port, tmp / "mortar-data", args.repeat_independent, True, progress,
                                            RawCall, client_gc_paused, args.processes)  # fmt: skip
        if args.million:
            results["mortar"].update(run_million(ms.port, url, tmp / "mortar-million", args.repeat_independent,
                                                 progress, RawCall, client_gc_paused, args.processes))  # fmt: skip
    finally:
        stop_metastore(ms)
    if not args.skip_reference:
        ref_backend = "postgres" if backend == "postgresql" else "derby"
        print(f"Reference HMS 2.3.10 ({ref_backend}), independent client:", file=sys.stderr)
        port = free_port()
        pid = _start_ref(tmp / "reference", port, ref_backend)
        try:
            results["reference"] = run_independent(port, tmp / "reference-data", args.repeat_independent, False,
                                                   progress, RawCall, client_gc_paused)  # fmt: skip
        finally:
            stop_reference(pid)
    print()
    print(f"(independent client: hmsclient; median of {args.repeat_independent}; client garbage collector "
          f"{'running' if CLIENT_GC else 'paused'} during timed calls)")  # fmt: skip
    print_independent(backend, results)
    sys.stdout.flush()


def print_table(title: str, results: dict[str, dict[str, float]], precise: bool = False) -> None:
    """A markdown table of seconds per operation: reference, Mortar, ratio reference / Mortar; `precise`:
    times under 10 ms with decimals (server times can be under 1 ms)."""

    def ms(seconds: float) -> str:
        v = seconds * 1000
        return f"{v:.2f} ms" if precise and v < 1 else f"{v:.1f} ms" if precise and v < 10 else f"{v:,.0f} ms"

    print(f"| {title} | reference HMS | Mortar | ratio |")
    print("|---|---:|---:|---:|")
    for op, mine in results["mortar"].items():
        theirs = results.get("reference", {}).get(op)
        ratio = f"{theirs / mine:.1f}x" if theirs else "-"
        ref_text = ms(theirs) if theirs else "-"
        print(f"| {op} | {ref_text} | {ms(mine)} | {ratio} |")


def _start_ref(base: Path, port: int, backend: str) -> int:
    if backend == "derby":
        return start_reference(base, port)
    env = {**os.environ, "PORT": str(port), "BASE": str(base), "VENV": sys.prefix, "BACKEND": "postgres",
           "PG_DB": f"hms_bench_{os.getpid()}"}  # fmt: skip
    from tests.reference import START_SCRIPT

    out = subprocess.run(["bash", str(START_SCRIPT)], env=env, check=True, capture_output=True, text=True)
    (base / "start.out").write_text(out.stdout)
    return int((base / "hms_postgres.pid").read_text())


if __name__ == "__main__":
    main()
