"""Answers written from encoded bytes (metastore/hms/wire.py) and the bare-DBAPI read path.

In process: every such method's reply is compared byte for byte with what the generated processor
writes for the same call, over partitions that exercise each part of a storage descriptor. Against
running servers: compact connections, two servers sharing one database (a change made through one is
seen at once through the other, although each keeps the listings it answered: see listings.py), and
PostgreSQL connections killed under a running server.
"""

from __future__ import annotations

import random
import socket
import time

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocol, TBinaryProtocolAccelerated
from thrift.protocol.TCompactProtocol import TCompactProtocol
from thrift.transport import TSocket, TTransport
from thrift.transport.TTransport import TMemoryBuffer

from metastore.catalog import CatalogService
from metastore.hms import wire
from metastore.hms.gen.hive import ThriftHiveMetastore as T
from metastore.hms.gen.hive import ttypes as tt
from metastore.hms.handler import WIRE_METHODS, Handler
from metastore.hms.listings import ListingCache
from metastore.hms.server import Processor
from tests.conftest import database_url, start_metastore, stop_metastore, unique


def _sd(cols, location=None, **extra) -> tt.StorageDescriptor:
    sd = tt.StorageDescriptor(
        cols=cols, location=location, inputFormat="in.Format", outputFormat="out.Format", compressed=False,
        numBuckets=-1, serdeInfo=tt.SerDeInfo(None, "some.SerDe", {"field.delim": ","}), bucketCols=[],
        sortCols=[], parameters={},
    )  # fmt: skip
    for k, v in extra.items():
        setattr(sd, k, v)
    return sd


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, pg_databases):
    return CatalogService.open(database_url(request.param, tmp_path, pg_databases), str(tmp_path / "warehouse"))


@pytest.fixture
def listed(service, tmp_path):
    """A table whose partitions differ in every part a partition's bytes are spliced from."""
    h = Handler(service, ListingCache(1 << 20))
    h.create_database(tt.Database("w", "", None, {}))
    cols = [tt.FieldSchema("id", "bigint", None), tt.FieldSchema("ünï", "string", "a comment é")]
    keys = [tt.FieldSchema("dt", "string", None), tt.FieldSchema("hr", "int", None)]
    h.create_table(tt.Table(tableName="t", dbName="w", owner="me", sd=_sd(cols), partitionKeys=keys,
                            parameters={"p": "1"}, tableType="MANAGED_TABLE"))  # fmt: skip
    parts = [tt.Partition(values=[f"d{i}", str(i)], dbName="w", tableName="t", sd=_sd(cols), parameters={})
             for i in range(6)]  # fmt: skip
    parts[1].sd.location = f"file:{tmp_path}/elsewhere/ünï code"
    parts[2].parameters = {"numRows": "12", "k": "v"}
    parts[3].sd = _sd(cols[:1], bucketCols=["id"], numBuckets=4, sortCols=[tt.Order("id", 1)],
                      parameters={"x": "y"}, compressed=True, storedAsSubDirectories=True,
                      skewedInfo=tt.SkewedInfo(["id"], [["1"], ["2"]], {("1",): "file:/s/1"}))  # fmt: skip
    parts[4].values = ["a/b=c %", "-7"]
    parts[5].sd.serdeInfo = tt.SerDeInfo("name", "other.SerDe", {}, "desc", "ser", "deser", 1)
    h.add_partitions(parts)
    return h


def _reply(processor, method: str, *args, compact: bool = False) -> bytes:
    proto = TCompactProtocol if compact else TBinaryProtocolAccelerated
    request = TMemoryBuffer()
    getattr(T.Client(proto(request)), f"send_{method}")(*args)
    out = TMemoryBuffer()
    processor.process(proto(TMemoryBuffer(request.getvalue())), proto(out))
    return out.getvalue()


def _socket_reply(processor, method: str, *args) -> bytes:
    """The reply as a server connection writes it (a buffered socket transport: long answers in pieces)."""
    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        handle = TSocket.TSocket()
        handle.setHandle(server_end)
        trans = TTransport.TBufferedTransport(handle)
        request = TMemoryBuffer()
        getattr(T.Client(TBinaryProtocolAccelerated(request)), f"send_{method}")(*args)
        client_end.sendall(request.getvalue())
        processor.process(TBinaryProtocolAccelerated(trans), TBinaryProtocolAccelerated(trans))
        server_end.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := client_end.recv(65536):
            out += chunk
        return out


CALLS = [
    ("get_partitions", ("w", "t", -1)),
    ("get_partitions", ("w", "t", 2)),
    ("get_partitions", ("w", "t", 0)),
    ("get_partitions_with_auth", ("w", "t", -1, "me", ["g"])),
    ("get_partitions_by_filter", ("w", "t", 'dt >= "d3"', -1)),
    ("get_partitions_by_filter", ("w", "t", "hr < 0", -1)),
    ("get_partitions_ps", ("w", "t", ["d2"], -1)),
    ("get_partitions_ps_with_auth", ("w", "t", ["", "3"], -1, "me", [])),
    ("get_partitions_by_names", ("w", "t", ["dt=d5/hr=5", "dt=d0/hr=0", "dt=nope/hr=1", "dt=d0/hr=0"])),
    ("get_partitions_by_names_req", (tt.GetPartitionsByNamesRequest("w", "t", ["dt=d5/hr=5", "dt=d1/hr=1"]),)),
    ("get_partitions_by_names_req", (tt.GetPartitionsByNamesRequest("@hive#w", "t", []),)),
    ("get_partitions_by_names_req", (tt.GetPartitionsByNamesRequest("w", "missing", ["dt=d5/hr=5"]),)),
    ("get_partition_names", ("w", "t", -1)),
    ("get_partition_names_ps", ("w", "t", ["d2"], -1)),
    ("get_partition_names_ps", ("w", "t", ["", "3"], 5)),
    ("get_partition_names_ps", ("w", "t", ["d2", "1", "x"], -1)),
    ("get_partition_names", ("w", "t", 3)),
    ("get_partition_names", ("w", "missing", -1)),
    # errors: each answered with the exception the method declares, as the generated code answers
    ("get_partitions", ("w", "missing", -1)),
    ("get_partitions", ("nodb", "t", -1)),
    ("get_partitions_by_filter", ("w", "t", "dt = ", -1)),
    ("get_partitions_by_names", ("w", "t", ["nonsense"])),
    ("get_table", ("w", "t")),
    ("get_table", ("W", "T")),
    ("get_table", ("@hive#w", "t")),
    ("get_table", ("w", "missing")),
    ("get_table", ("nodb", "t")),
    ("get_table", ("@nocat#w", "t")),
    ("get_table_req", (tt.GetTableRequest(dbName="w", tblName="t"),)),
    ("get_table_req", (tt.GetTableRequest(dbName="w", tblName="t", catName="hive"),)),
    ("get_table_req", (tt.GetTableRequest(dbName="w", tblName="missing"),)),
]


def test_every_listing_method_is_written_from_bytes():
    assert set(WIRE_METHODS) == {m for m, _ in CALLS}


@pytest.mark.parametrize(("method", "args"), CALLS, ids=[f"{m}{a[2:] if len(a) > 2 else a}" for m, a in CALLS])
def test_encoded_reply_is_what_the_generated_code_writes(listed, method, args, monkeypatch):
    expected = _reply(T.Processor(listed), method, *args)
    assert _reply(Processor(listed), method, *args) == expected
    assert _reply(Processor(listed), method, *args) == expected  # as kept by the listing cache, if kept
    listed.listings = ListingCache(0)
    monkeypatch.setattr(wire, "CHUNK", 2)  # on a socket: sent in pieces of 2 partitions
    assert _socket_reply(Processor(listed), method, *args) == expected


def test_encoded_partitions_decode_to_the_partitions(listed, tmp_path):
    # (not d3: a map with list keys, as skewed locations are, cannot be decoded into a Python dict)
    names = ["dt=d0/hr=0", "dt=d1/hr=1", "dt=d2/hr=2", "dt=a%2Fb%3Dc %25/hr=-7", "dt=d5/hr=5"]
    reply = _reply(Processor(listed), "get_partitions_by_names", "w", "t", names)
    parts = T.Client(TBinaryProtocolAccelerated(TMemoryBuffer(reply))).recv_get_partitions_by_names()
    assert [p.values for p in parts] == [["a/b=c %", "-7"], ["d0", "0"], ["d1", "1"], ["d2", "2"], ["d5", "5"]]
    assert parts[2].sd.location == f"file:{tmp_path}/elsewhere/ünï code"
    assert parts[1].sd.cols[1] == tt.FieldSchema("ünï", "string", "a comment é")
    assert parts[3].parameters["numRows"] == "12"
    assert parts[4].sd.serdeInfo == tt.SerDeInfo("name", "other.SerDe", {}, "desc", "ser", "deser", 1)
    assert {(p.dbName, p.tableName, p.catName) for p in parts} == {("w", "t", "hive")}


def test_compact_connections_take_the_generated_path(listed):
    reply = _reply(Processor(listed), "get_partitions_by_filter", "w", "t", "hr < 3", -1, compact=True)
    parts = T.Client(TCompactProtocol(TMemoryBuffer(reply))).recv_get_partitions_by_filter()
    assert [p.values[1] for p in parts] == ["-7", "0", "1", "2"]


# --- running servers ----------------------------------------------------------------------------------


class _Client:
    def __init__(self, port: int, compact: bool = False):
        self.trans = TTransport.TBufferedTransport(TSocket.TSocket("127.0.0.1", port))
        self.client = T.Client((TCompactProtocol if compact else TBinaryProtocol)(self.trans))

    def __enter__(self) -> T.Client:
        self.trans.open()
        return self.client

    def __exit__(self, *exc):
        self.trans.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_servers(request, tmp_path_factory, pg_databases):
    """Two separate metastore servers on one database, as behind a load balancer."""
    tmp = tmp_path_factory.mktemp(f"two-{request.param}")
    url = database_url(request.param, tmp, pg_databases)
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    a = start_metastore(request.param, tmp / "a", url)
    b = start_metastore(request.param, tmp / "b", url)
    yield a, b
    stop_metastore(a)
    stop_metastore(b)


def test_changes_through_one_server_are_seen_through_another(two_servers):
    a, b = two_servers
    db = unique("wdb")
    cols = [tt.FieldSchema("id", "bigint", None)]
    keys = [tt.FieldSchema("dt", "string", None)]
    with _Client(a.port) as ca, _Client(b.port) as cb, _Client(b.port, compact=True) as cc:
        ca.create_database(tt.Database(db, "", None, {}))
        ca.create_table(tt.Table(tableName="t", dbName=db, sd=_sd(cols), partitionKeys=keys, parameters={},
                                 tableType="EXTERNAL_TABLE"))  # fmt: skip
        ca.add_partitions([tt.Partition(values=[d], dbName=db, tableName="t", sd=_sd(cols, f"file:/x/{d}"),
                                        parameters={}) for d in ("a", "b", "c")])  # fmt: skip
        for reader in (cb, cc):  # binary (encoded) and compact (objects) answers
            assert [p.values for p in reader.get_partitions(db, "t", -1)] == [["a"], ["b"], ["c"]]

        # table parameters, as an Iceberg commit changes them: each change seen at once, also back and forth
        for location in ("s3://m/1.json", "s3://m/2.json", "s3://m/1.json"):
            t = cb.get_table(db, "t")
            t.parameters["metadata_location"] = location
            ca.alter_table(db, "t", t)
            for reader in (cb, cc):
                assert reader.get_table(db, "t").parameters["metadata_location"] == location
                assert reader.get_table_req(tt.GetTableRequest(db, "t")).table.parameters["metadata_location"] == location

        # alter a partition (location, parameters), then the table's columns with cascade
        p = cb.get_partitions_by_names(db, "t", ["dt=b"])[0]
        p.sd.location, p.parameters = "file:/moved/b", {"n": "1"}
        ca.alter_partition(db, "t", p)
        got = cb.get_partitions_by_filter(db, "t", 'dt = "b"', -1)[0]
        assert (got.sd.location, got.parameters["n"]) == ("file:/moved/b", "1")
        t = cb.get_table(db, "t")
        t.sd.cols = [*cols, tt.FieldSchema("extra", "string", None)]
        ca.alter_table_with_environment_context(db, "t", t, tt.EnvironmentContext({"CASCADE": "true"}))
        for reader in (cb, cc):
            assert [len(p.sd.cols) for p in reader.get_partitions(db, "t", -1)] == [2, 2, 2]
            assert [c.name for c in reader.get_table(db, "t").sd.cols] == ["id", "extra"]

        # rename and drop a partition
        renamed = cb.get_partitions_ps(db, "t", ["c"], -1)[0]
        renamed.values = ["z"]
        ca.rename_partition(db, "t", ["c"], renamed)
        ca.drop_partition(db, "t", ["a"], False)
        for reader in (cb, cc):
            assert [p.values for p in reader.get_partitions(db, "t", -1)] == [["b"], ["z"]]
            assert reader.get_partition_names(db, "t", -1) == ["dt=b", "dt=z"]

        # rename the table, then drop it
        t = cb.get_table(db, "t")
        t.tableName = "u"
        ca.alter_table(db, "t", t)
        with pytest.raises(tt.NoSuchObjectException):
            cb.get_table(db, "t")
        with pytest.raises(tt.NoSuchObjectException):
            cb.get_partitions(db, "t", -1)
        assert [p.tableName for p in cb.get_partitions(db, "u", -1)] == ["u", "u"]
        ca.drop_table(db, "u", False)
        for reader in (cb, cc):
            with pytest.raises(tt.NoSuchObjectException):
                reader.get_partitions(db, "u", -1)
            with pytest.raises(tt.NoSuchObjectException):
                reader.get_table(db, "u")
        ca.drop_database(db, True, True)


def test_listings_are_kept_until_the_table_s_partitions_change(two_servers, tmp_path):
    """Server b keeps its answers (fb303 counters tell hits from misses); changes made through server a,
    or by another process writing to the catalog directly, are seen at once."""
    a, b = two_servers
    db = unique("kdb")
    cols = [tt.FieldSchema("id", "bigint", None)]
    keys = [tt.FieldSchema("dt", "string", None)]

    def table(name: str) -> tt.Table:
        return tt.Table(tableName=name, dbName=db, sd=_sd(cols), partitionKeys=keys, parameters={},
                        tableType="EXTERNAL_TABLE")  # fmt: skip

    def parts(name: str, *values: str) -> list[tt.Partition]:
        return [tt.Partition(values=[v], dbName=db, tableName=name, sd=_sd(cols, f"file:/k/{v}"), parameters={})
                for v in values]  # fmt: skip

    with _Client(a.port) as ca, _Client(b.port) as cb:
        def counts() -> tuple[int, int]:
            c = cb.getCounters()
            return c["listing_cache.hits"], c["listing_cache.misses"]

        def chunked() -> tuple[int, int]:
            c = cb.getCounters()
            return c["chunks.answered"], c["chunks.fetched"]

        def listed(name: str = "t") -> tuple:
            """Six listings (Spark's and Trino's), four of them answered; the two whole ones (all partitions,
            all names) from the table's encoded chunks, the four others from the listing cache."""
            every = [p.values[0] for p in cb.get_partitions(db, name, -1)]
            ps = [p.values[0] for p in cb.get_partitions_ps(db, name, ["c"], -1)]
            assert cb.get_partition_names_ps(db, name, ["c"], -1) == [f"dt={v}" for v in ps]
            assert [p.values[0] for p in cb.get_partitions_by_names(db, name, ["dt=c", "dt=e"])] == [
                v for v in every if v in ("c", "e")]  # fmt: skip
            return (every, cb.get_partition_names(db, name, -1),
                    [p.values[0] for p in cb.get_partitions_by_filter(db, name, 'dt >= "b"', -1)], ps)  # fmt: skip

        ca.create_database(tt.Database(db, "", None, {}))
        ca.create_table(table("t"))
        ca.add_partitions(parts("t", "a", "b", "c"))
        hits, misses = counts()
        answered, fetched = chunked()
        expected = (["a", "b", "c"], ["dt=a", "dt=b", "dt=c"], ["b", "c"], ["c"])
        assert listed() == expected
        assert counts() == (hits, misses + 4)
        assert chunked() == (answered + 2, fetched + 2)  # one chunk, its names and its partitions
        assert listed() == expected
        assert counts() == (hits + 4, misses + 4)
        assert chunked() == (answered + 4, fetched + 2)  # held: nothing read again

        # a change to the table alone (not its partitions) keeps the listings
        t = cb.get_table(db, "t")
        t.parameters["k"] = "v"
        ca.alter_table(db, "t", t)
        assert listed() == expected
        assert counts() == (hits + 8, misses + 4)
        assert chunked() == (answered + 6, fetched + 2)

        # each change to the partitions, through the other server, is seen at once
        ca.add_partitions(parts("t", "d"))
        assert listed() == (["a", "b", "c", "d"], ["dt=a", "dt=b", "dt=c", "dt=d"], ["b", "c", "d"], ["c"])
        ca.drop_partition(db, "t", ["b"], False)
        assert listed() == (["a", "c", "d"], ["dt=a", "dt=c", "dt=d"], ["c", "d"], ["c"])
        p = cb.get_partition(db, "t", ["c"])
        p.parameters = {"n": "1"}
        ca.alter_partition(db, "t", p)
        assert cb.get_partitions_ps(db, "t", ["c"], -1)[0].parameters["n"] == "1"
        p.values = ["e"]
        ca.rename_partition(db, "t", ["c"], p)
        assert listed() == (["a", "d", "e"], ["dt=a", "dt=d", "dt=e"], ["d", "e"], [])
        ca.drop_partitions_req(tt.DropPartitionsRequest(dbName=db, tblName="t", deleteData=False,
                                                        parts=tt.RequestPartsSpec(names=["dt=a"])))  # fmt: skip
        assert listed() == (["d", "e"], ["dt=d", "dt=e"], ["d", "e"], [])

        # by another process writing to the catalog (not through a server)
        other = CatalogService.open(a.database_url, str(tmp_path / "warehouse"))
        try:
            other.partitions.drop(db, "t", ["d"], delete_data=False)
        finally:
            other.ctx.engine.dispose()
        assert listed() == (["e"], ["dt=e"], ["e"], [])

        # the table dropped and made again under the same name, with other partitions
        ca.drop_table(db, "t", False)
        ca.create_table(table("t"))
        assert listed() == ([], [], [], [])
        ca.add_partitions(parts("t", "c", "x"))
        assert listed() == (["c", "x"], ["dt=c", "dt=x"], ["c", "x"], ["c"])
        ca.drop_database(db, True, True)


def test_listing_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("MORTAR_LISTING_CACHE_MB", "0")
    ms = start_metastore("sqlite", tmp_path, f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        with _Client(ms.port) as c:
            c.create_table(tt.Table(tableName="t", dbName="default", sd=_sd([tt.FieldSchema("id", "int", None)]),
                                    partitionKeys=[tt.FieldSchema("k", "string", None)], parameters={},
                                    tableType="MANAGED_TABLE"))  # fmt: skip
            c.add_partitions([tt.Partition(values=["1"], dbName="default", tableName="t", sd=_sd([]), parameters={})])
            assert [len(c.get_partitions("default", "t", -1)) for _ in range(3)] == [1, 1, 1]
            counters = c.getCounters()
            assert (counters["listing_cache.hits"], counters["listing_cache.misses"]) == (0, 0)
            assert counters["calls.get_partitions"] == 3
    finally:
        stop_metastore(ms)


def test_listing_cache_keeps_the_most_recently_used_answers_within_its_size():
    cache = ListingCache(10)

    def answer(key, version, pieces):
        return b"".join(cache.answer(key, lambda: version, lambda: iter(pieces)))

    assert answer("a", 1, [b"aaa", b"a"]) == b"aaaa"
    assert answer("a", 1, [b"other"]) == b"aaaa"  # kept
    assert answer("a", 2, [b"AA"]) == b"AA"  # a new version replaces it
    assert answer("b", 1, [b"bbbb"]) == b"bbbb"
    assert answer("a", 2, [b"other"]) == b"AA"  # a is now the most recently used
    assert answer("c", 1, [b"cccccc"]) == b"cccccc"  # 2 + 4 + 6 > 10: b, the least recently used, goes
    assert answer("b", 1, [b"new"]) == b"new"
    assert answer("big", 1, [b"x" * 11]) == b"x" * 11  # larger than the whole cache: not kept
    assert cache.stats()["bytes"] <= 10
    half = iter(cache.answer("d", lambda: 1, lambda: iter([b"d", b"d"])))
    next(half)
    half.close()  # the connection failed half way: nothing kept
    assert answer("d", 1, [b"e"]) == b"e"


def test_server_survives_its_postgresql_connections_being_killed(tmp_path, pg_databases):
    """Reads retry once on a new connection; a connection idle for over a second is checked before use."""
    from sqlalchemy import create_engine, text

    url = database_url("postgresql", tmp_path, pg_databases)
    ms = start_metastore("postgresql", tmp_path, url)
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")

    def kill_server_connections() -> int:
        with admin.connect() as conn:
            return conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalar()  # fmt: skip

    try:
        with _Client(ms.port) as c:
            c.create_database(tt.Database("k", "", None, {}))
            c.create_table(tt.Table(tableName="t", dbName="k", sd=_sd([tt.FieldSchema("id", "int", None)]),
                                    partitionKeys=[], parameters={}, tableType="MANAGED_TABLE"))  # fmt: skip
            assert kill_server_connections() >= 1
            assert c.get_table("k", "t").tableName == "t"  # a read: retried on a new connection
            assert kill_server_connections() >= 1
            time.sleep(1.2)
            c.create_table(tt.Table(tableName="u", dbName="k", sd=_sd([tt.FieldSchema("id", "int", None)]),
                                    partitionKeys=[], parameters={}, tableType="MANAGED_TABLE"))  # a write  # fmt: skip
            assert c.get_all_tables("k") == ["t", "u"]
    finally:
        admin.dispose()
        stop_metastore(ms)


@pytest.mark.parametrize("readers", [0, 2])
def test_reads_beyond_the_reader_connections_use_the_pool(service, readers, monkeypatch):
    """With no reader connection (or fewer than the threads reading), reads take pooled connections."""
    from concurrent.futures import ThreadPoolExecutor

    from metastore.catalog import base

    monkeypatch.setitem(base.READERS, service.ctx.engine.dialect.name, readers)
    service.ctx.engine.dispose()  # a new pool: new readers, with the limit above
    h = Handler(service)
    h.create_database(tt.Database("r", "", None, {}))
    h.create_table(tt.Table(tableName="t", dbName="r", sd=_sd([tt.FieldSchema("id", "int", None)]),
                            partitionKeys=[tt.FieldSchema("k", "string", None)], parameters={},
                            tableType="MANAGED_TABLE"))  # fmt: skip
    h.add_partitions([tt.Partition(values=[str(i)], dbName="r", tableName="t", sd=_sd([]), parameters={})
                      for i in range(5)])  # fmt: skip

    def read(_):
        return h.get_table("r", "t").tableName, len(h.get_partitions("r", "t", -1)), h.get_partition_names("r", "t", 2)

    with ThreadPoolExecutor(8) as pool:
        assert {(a, b, tuple(c)) for a, b, c in pool.map(read, range(200))} == {("t", 5, ("k=0", "k=1"))}
    assert base._readers(service.ctx.engine).open <= readers


def test_pieces_are_sent_whole_and_in_order_across_partial_writes():
    """Ready-made pieces go to the socket by scatter-gather writes (server._sendmsg_all); a socket with a
    timeout and a slow reader takes them in partial writes, which resume mid-piece."""
    import threading

    from metastore.hms.server import _sendmsg_all

    rng = random.Random(5)
    pieces = [bytes([i % 251]) * rng.choice((0, 1, 7, 4096, 70_000, 300_000)) for i in range(300)]
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    a.settimeout(30)
    got = bytearray()

    def read() -> None:
        while True:
            data = b.recv(rng.choice((100, 5000, 65536)))
            if not data:
                return
            got.extend(data)
            if len(got) % 7 == 0:
                time.sleep(0.001)

    reader = threading.Thread(target=read)
    reader.start()
    _sendmsg_all(a, pieces)
    a.close()
    reader.join(30)
    b.close()
    assert bytes(got) == b"".join(pieces)
