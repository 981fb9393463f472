"""bench.metastore's "independent client" mode (issue 17): Mortar and the reference HMS measured as an outside
client sees them, on the operations where a metastore is used for ETL.

- the client is hmsclient (its own generated bindings, pure-Python binary protocol), not Mortar's;
- every timed read is the first call after a change to the table (a partition added and dropped again, or
  the table altered), so that no listing cache can answer it from before;
- the folders of tables and partitions exist beforehand on both servers (both then count their files for
  `numFiles`/`totalSize`, as the reference does, see Warehouse.quick_stats);
- each operation is measured `repeat` times (default 3), the median reported, three ways:
  end to end (the hmsclient call, decoding included); server time (ready-made request bytes on a plain
  socket, the clock stopped when the answer's last byte arrives, see RawCall; for Mortar also its own
  count, first request byte in to last answer byte out, from `getCounters`: `server_us.<method>`); and the
  client's own share (hmsclient decoding the captured answer, or for add_partitions encoding the request,
  timed alone);
- on Mortar, each read is made once in each server process before it is timed (`warm_processes`): what is
  timed is a process that answered the read before, after a change; the first call ever is reported apart
  for 1,000,000 partitions.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from hmsclient import hmsclient
from hmsclient.genthrift.hive_metastore import ThriftHiveMetastore as HmsClientThrift
from hmsclient.genthrift.hive_metastore import ttypes as ht
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.transport import TTransport

DB = "bench_ic"
DAYS, HOURS = 100, 100  # 10,000 partitions: dt=d0000..d0099 (string) × hr=0..99 (int)
FILTERS = {"string key": 'dt = "d0042"', "int key": "hr = 42"}  # 1% each: 100 partitions


def _sd(location: str) -> ht.StorageDescriptor:
    return ht.StorageDescriptor(
        cols=[ht.FieldSchema(f"c{i}", "string", None) for i in range(8)], location=location,
        inputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        outputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        serdeInfo=ht.SerDeInfo(None, "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", {}),
        compressed=False, numBuckets=-1, bucketCols=[], sortCols=[], parameters={},
    )  # fmt: skip


def _table(name: str, location: str) -> ht.Table:
    keys = [ht.FieldSchema("dt", "string", None), ht.FieldSchema("hr", "int", None)]
    return ht.Table(tableName=name, dbName=DB, owner="bench", sd=_sd(location), partitionKeys=keys,
                    parameters={}, tableType="MANAGED_TABLE")  # fmt: skip


def _partition(table: ht.Table, day: int, hour: int) -> ht.Partition:
    sd = _sd(None)
    return ht.Partition(values=[f"d{day:04d}", str(hour)], dbName=DB, tableName=table.tableName, sd=sd,
                        parameters={})  # fmt: skip


def _folders(root: Path, days: int) -> None:
    """The partition folders, made beforehand (both servers find them and count their files)."""
    for d in range(days + 1):
        for h in range(HOURS):
            (root / f"dt=d{d:04d}" / f"hr={h}").mkdir(parents=True, exist_ok=True)


def decode_seconds(method: str, reply: bytes, repeat: int) -> float:
    """hmsclient decoding a captured reply (median of `repeat`): the client's own share of a call."""

    def once() -> float:
        client = HmsClientThrift.Client(TBinaryProtocol(TTransport.TMemoryBuffer(reply)))
        start = time.perf_counter()
        getattr(client, f"recv_{method}")()
        return time.perf_counter() - start

    return statistics.median(once() for _ in range(repeat))


def encode_seconds(method: str, **args) -> float:
    """hmsclient encoding a call (into memory, nothing sent): the client's own share of a write."""
    client = HmsClientThrift.Client(TBinaryProtocol(TTransport.TMemoryBuffer()))
    start = time.perf_counter()
    getattr(client, f"send_{method}")(**args)
    return time.perf_counter() - start


class Measured:
    """One operation's samples: end to end, raw-socket server time, the server's own count, decoding."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {"end to end": [], "server (socket)": [], "server (own count)": [],
                                                "client decoding": [], "client encoding": []}  # fmt: skip

    def add(self, kind: str, seconds: float | None) -> None:
        if seconds is not None:
            self.samples[kind].append(seconds)

    def medians(self) -> dict[str, float]:
        return {k: statistics.median(v) for k, v in self.samples.items() if v}


def warm_processes(port: int, processes: int, call: Callable[[hmsclient.HMSClient], object], attempts: int = 32) -> None:
    """`call(client)` once in each of Mortar's `processes` server processes, so that what is timed next is
    what a process that answered the read before does after a change (the first call ever in a process is
    reported apart). A new connection goes to any process: up to `attempts` are opened until each process
    has been seen, by the id it reports in getCounters (`process.pid`)."""
    seen: set[int] = set()
    for _ in range(attempts):
        if len(seen) >= processes:
            return
        with hmsclient.HMSClient(host="127.0.0.1", port=port) as c:
            pid = c.getCounters().get("process.pid")
            if pid is None:
                return
            if pid not in seen:
                seen.add(pid)
                call(c)


def run_independent(port: int, root: Path, repeat: int, mortar: bool, progress: Callable[[str], None],
                    raw_call, client_gc_paused, processes: int = 1) -> dict[str, dict[str, float]]:  # fmt: skip
    """Every operation of issue 17's table on the server at `port`, each `repeat` times; returns
    {operation: {measure: median seconds}}. `raw_call` is bench.metastore.RawCall. On Mortar, each read is
    made once in each of its `processes` before it is timed (see `warm_processes`)."""
    out: dict[str, Measured] = {}
    n = DAYS * HOURS
    root.mkdir(parents=True, exist_ok=True)
    with hmsclient.HMSClient(host="127.0.0.1", port=port) as c:

        def own(method: str) -> float | None:
            if not mortar:
                return None
            us = c.getCounters().get(f"server_us.{method}")
            return us / 1e6 if us is not None else None

        def timed(fn) -> float:
            with client_gc_paused():
                start = time.perf_counter()
                fn()
                return time.perf_counter() - start

        try:
            c.drop_database(DB, True, True)
        except Exception:  # noqa: BLE001 - not there
            pass
        c.create_database(ht.Database(DB, "independent client", str(root / "db.db"), {}))
        small = _table("small", str(root / "small"))
        small.partitionKeys = []
        (root / "small").mkdir(exist_ok=True)
        c.create_table(small)
        tables = [_table(f"big{i}", str(root / f"big{i}")) for i in range(repeat)]
        for t in tables:
            _folders(root / t.tableName, DAYS)
            c.create_table(t)

        op = f"add_partitions {n:,} (batches of 1,000)"
        m = out[op] = Measured()
        for t in tables:
            progress(f"{op}: {t.tableName}")
            parts = [_partition(t, d, h) for d in range(DAYS) for h in range(HOURS)]
            total = own_total = encoding = 0.0
            for i in range(0, n, 1000):
                total += timed(lambda b=parts[i : i + 1000]: c.add_partitions(b))
                own_total += own("add_partitions") or 0.0
                with client_gc_paused():
                    encoding += encode_seconds("add_partitions", new_parts=parts[i : i + 1000])
            m.add("end to end", total)
            m.add("server (own count)", own_total if mortar else None)
            m.add("client encoding", encoding)

        big = tables[0]
        extra = _partition(big, DAYS, 0)

        def change() -> None:
            """A change to the table's partitions that leaves them as they were."""
            c.add_partitions([extra])
            c.drop_partition(DB, big.tableName, extra.values, False)

        def touch_table(i: int) -> None:
            small.parameters = {"touched": str(i)}
            c.alter_table(DB, "small", small)

        reads: list[tuple[str, str, dict, Callable[[], object], Callable[[int], None], int]] = [
            ("get_table", "get_table", {"dbname": DB, "tbl_name": "small"},
             lambda: c.get_table(DB, "small"), touch_table, 1),
            (f"get_partitions of {n:,}", "get_partitions", {"db_name": DB, "tbl_name": big.tableName, "max_parts": -1},
             lambda: c.get_partitions(DB, big.tableName, -1), lambda i: change(), n),
            *((f"get_partitions_by_filter 1%, {what}", "get_partitions_by_filter",
               {"db_name": DB, "tbl_name": big.tableName, "filter": flt, "max_parts": -1},
               lambda f=flt: c.get_partitions_by_filter(DB, big.tableName, f, -1), lambda i: change(), n // 100)
              for what, flt in FILTERS.items()),
            (f"get_partition_names of {n:,}", "get_partition_names",
             {"db_name": DB, "tbl_name": big.tableName, "max_parts": -1},
             lambda: c.get_partition_names(DB, big.tableName, -1), lambda i: change(), n),
        ]  # fmt: skip
        for op, method, args, call, make_change, expect in reads:
            progress(op)
            m = out[op] = Measured()
            if mortar:
                warm_processes(port, processes, lambda client, a=args, meth=method: getattr(client, meth)(**a))
            for i in range(repeat):
                make_change(2 * i)
                got: list = []
                m.add("end to end", timed(lambda g=got, f=call: g.append(f())))
                size = len(got[0]) if isinstance(got[0], list) else 1
                assert size == expect, (op, size)
                m.add("server (own count)", own(method))
                make_change(2 * i + 1)
                with raw_call(port, method, **args) as raw, client_gc_paused():
                    _, seconds = raw.first()
                    m.add("server (socket)", seconds)
                m.add("client decoding", decode_seconds(method, raw.reply, 3))

        op = f"drop_table with {n:,} partitions"
        m = out[op] = Measured()
        for t in tables:
            progress(f"{op}: {t.tableName}")
            m.add("end to end", timed(lambda name=t.tableName: c.drop_table(DB, name, True)))
            m.add("server (own count)", own("drop_table"))
        c.drop_database(DB, True, True)
    return {op: m.medians() for op, m in out.items()}


MILLION = 1_000_000
MILLION_DAYS = MILLION // HOURS  # dt=d0000..d9999 × hr=0..99
MILLION_FILTERS = {"string key": 'dt >= "d4200" and dt < "d4300"', "int key": "hr = 42"}  # 1% each: 10,000


def _load_million(database_url: str, db: str, table: str, progress: Callable[[str], None]) -> None:
    """999,999 partition rows written straight into storage next to the one added through Thrift (loading a
    million partitions through any server is not what is measured), then the table's encodings made once
    (Partitions.refresh_encodings) and the planner's statistics (ANALYZE)."""
    from sqlalchemy import insert, select

    from metastore.catalog import CatalogService
    from metastore.storage.models import PartitionKeyValueRow, PartitionRow, TableRow

    service = CatalogService.open(database_url, "/nonexistent")
    engine = service.ctx.engine
    with engine.begin() as conn:
        tid = conn.execute(select(TableRow.id).where(TableRow.name == table)).scalar_one()
        one = conn.execute(select(PartitionRow).where(PartitionRow.table_id == tid)).first()
    batch = 20_000
    for start in range(0, MILLION, batch):
        rows, kv = [], []
        for i in range(max(start, 1), start + batch):
            d, h = divmod(i, HOURS)
            rows.append({"table_id": tid, "name": f"dt=d{d:04d}/hr={h}", "values": f'["d{d:04d}","{h}"]',
                         "create_time": one.create_time, "last_access_time": 0, "sd": one.sd,
                         "location": one.location.replace("dt=d0000/hr=0", f"dt=d{d:04d}/hr={h}"),
                         "parameters": one.parameters})  # fmt: skip
        with engine.begin() as conn:
            ids = conn.execute(insert(PartitionRow).returning(PartitionRow.id, sort_by_parameter_order=True),
                               rows).scalars().all()  # fmt: skip
            for pid, r in zip(ids, rows, strict=True):
                d, h = r["name"].split("/")
                kv.append({"partition_id": pid, "key_index": 0, "table_id": tid, "value": d[3:], "int_value": None})
                kv.append({"partition_id": pid, "key_index": 1, "table_id": tid, "value": h[3:], "int_value": int(h[3:])})
            conn.execute(insert(PartitionKeyValueRow), kv)
        if start % 200_000 == 0:
            progress(f"loading {MILLION:,} partitions: {start:,}")
    progress("encodings and chunks of 1,000,000 partitions")
    service.partitions.refresh_encodings(db, table)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def transfer_floor(size: int, repeat: int) -> float:
    """Median seconds to move `size` ready-made bytes from one thread's socket to another's over localhost TCP,
    received as RawCall receives (1 MB reads), nothing else done: the least any server can take to send an
    answer of that size on this machine."""
    import socket
    import threading

    payload = b"\x00" * size
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while conn.recv(1):
                conn.sendall(payload)

    threading.Thread(target=serve, daemon=True).start()
    times = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(repeat):
            start = time.perf_counter()
            sock.sendall(b"x")
            got = 0
            while got < size:
                got += len(sock.recv(1 << 20))
            times.append(time.perf_counter() - start)
    listener.close()
    return statistics.median(times)


def run_million(port: int, database_url: str, root: Path, repeat: int, progress: Callable[[str], None],
                raw_call, client_gc_paused, processes: int = 1) -> dict[str, dict[str, float]]:  # fmt: skip
    """get_partition_names and the 1% filters (string key, int key) on a table of 1,000,000 partitions, each
    the first call after a change (Mortar only: the reference would need hours to load them). Server time
    is the raw socket read, nothing decoded; end to end is hmsclient's call, its decoding included."""
    db, name = f"{DB}_m", "huge"
    out: dict[str, Measured] = {}
    root.mkdir(parents=True, exist_ok=True)
    with hmsclient.HMSClient(host="127.0.0.1", port=port) as c:
        try:
            c.drop_database(db, True, True)
        except Exception:  # noqa: BLE001 - not there
            pass
        c.create_database(ht.Database(db, "independent client, 1,000,000 partitions", str(root / "m.db"), {}))
        t = _table(name, str(root / name))
        t.dbName = db
        c.create_table(t)
        first = _partition(t, 0, 0)
        first.dbName = db
        c.add_partitions([first])
    _load_million(database_url, db, name, progress)
    # a new connection: the server closes connections left idle as long as the load takes
    with hmsclient.HMSClient(host="127.0.0.1", port=port) as c:
        extra = _partition(t, MILLION_DAYS, 0)
        extra.dbName = db

        def change() -> None:
            c.add_partitions([extra])
            c.drop_partition(db, name, extra.values, False)

        def timed(fn) -> float:
            with client_gc_paused():
                start = time.perf_counter()
                fn()
                return time.perf_counter() - start

        reads = [(f"get_partition_names of {MILLION:,}", "get_partition_names",
                  {"db_name": db, "tbl_name": name, "max_parts": -1},
                  lambda: c.get_partition_names(db, name, -1), MILLION),
                 *((f"get_partitions_by_filter 1% of {MILLION:,}, {what}", "get_partitions_by_filter",
                    {"db_name": db, "tbl_name": name, "filter": flt, "max_parts": -1},
                    lambda f=flt: c.get_partitions_by_filter(db, name, f, -1), MILLION // 100)
                   for what, flt in MILLION_FILTERS.items())]  # fmt: skip
        for op, method, args, call, expect in reads:
            progress(op)
            m = out[op] = Measured()
            # the first call ever (this table's chunks held by no process yet, for names): reported apart
            with raw_call(port, method, **args) as raw, client_gc_paused():
                _, seconds = raw.first()
            out[f"{op}, first call ever (nothing held)"] = cold = Measured()
            cold.add("server (socket)", seconds)
            warm_processes(port, processes, lambda client, a=args, meth=method: getattr(client, meth)(**a))
            for _ in range(repeat):
                change()
                got: list = []
                m.add("end to end", timed(lambda g=got, f=call: g.append(f())))
                assert len(got[0]) == expect, (op, len(got[0]))
                change()
                with raw_call(port, method, **args) as raw, client_gc_paused():
                    _, seconds = raw.first()
                    m.add("server (socket)", seconds)
            size = len(raw.reply)
            floor = out[f"{op}: {size / 1e6:.1f} MB over a localhost socket, nothing else (the floor)"] = Measured()
            floor.add("server (socket)", transfer_floor(size, 5))
        c.drop_database(db, True, True)
    return {op: m.medians() for op, m in out.items()}


def print_independent(backend: str, results: dict[str, dict[str, dict[str, float]]]) -> None:
    """A markdown table: per operation, the reference and Mortar end to end and server time, ratios, and
    how much of Mortar's end-to-end time is the client's own (decoding the answer; for add_partitions,
    encoding the request)."""

    def ms(s: float | None) -> str:
        if s is None:
            return "-"
        v = s * 1000
        return f"{v:.2f} ms" if v < 10 else f"{v:,.1f} ms" if v < 1000 else f"{v / 1000:,.2f} s"

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.1f}x" if a and b else "-"

    ref, mine = results.get("reference", {}), results["mortar"]
    storage = "SQLite vs Derby" if backend == "sqlite" else "PostgreSQL vs PostgreSQL"
    print(f"| operation ({storage}), first call after a change | end to end: reference | Mortar | ratio "
          "| server time: reference | Mortar (socket) | Mortar (own count) | ratio "
          "| the client's own (decoding; writes: encoding) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for op, m in mine.items():
        r = ref.get(op, {})
        e2e_ref, e2e = r.get("end to end"), m.get("end to end")
        srv_ref = r.get("server (socket)", e2e_ref)  # writes: the answer is a few bytes, end to end
        srv = m.get("server (socket)", m.get("server (own count)"))
        dec = m.get("client decoding", m.get("client encoding"))
        share = f"{ms(dec)} ({dec / e2e:.0%} of Mortar's)" if dec is not None and e2e else "-"
        print(f"| {op} | {ms(e2e_ref)} | {ms(e2e)} | {ratio(e2e_ref, e2e)} | {ms(srv_ref)} | {ms(srv)} "
              f"| {ms(m.get('server (own count)'))} | {ratio(srv_ref, srv)} | {share} |")  # fmt: skip
