"""Many clients at once against a running metastore: concurrent partition adds to one table, and idle
connections that must not starve new clients."""

from __future__ import annotations

import socket
import threading

import pytest
from hmsclient import hmsclient
from hmsclient.genthrift.hive_metastore import ttypes as ht
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from metastore.hms.gen.hive import ThriftHiveMetastore
from tests.conftest import unique

pytestmark = pytest.mark.timeout(120)

THREADS = 16
PER_THREAD = 50
BATCH = 10
SHARED = 20  # partitions every thread adds with ifNotExists=True


def storage(cols=None, location=None) -> ht.StorageDescriptor:
    return ht.StorageDescriptor(
        cols=cols or [], location=location,
        inputFormat="org.apache.hadoop.mapred.TextInputFormat",
        outputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        serdeInfo=ht.SerDeInfo(serializationLib="org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", parameters={}),
        compressed=False, numBuckets=-1, bucketCols=[], sortCols=[], parameters={},
    )  # fmt: skip


def connect(ms) -> hmsclient.HMSClient:
    client = hmsclient.HMSClient(host=ms.host, port=ms.port)
    client.open()
    return client


def partition(db: str, table: str, dt: str, hr: int) -> ht.Partition:
    return ht.Partition(values=[dt, str(hr)], dbName=db, tableName=table, sd=storage([ht.FieldSchema("v", "string")]),
                        parameters={})  # fmt: skip


def sql_engine(ms):
    url = make_url(ms.database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url)


@pytest.fixture
def partitioned(hms):
    db, table = unique("conc"), "events"
    hms.create_database(ht.Database(name=db, description=None, parameters={}))
    hms.create_table(ht.Table(
        dbName=db, tableName=table, tableType="MANAGED_TABLE", parameters={}, owner="tester",
        sd=storage([ht.FieldSchema("v", "string")]),
        partitionKeys=[ht.FieldSchema("dt", "string"), ht.FieldSchema("hr", "int")],
    ))  # fmt: skip
    yield db, table
    hms.drop_database(db, True, True)


def test_concurrent_partition_adds(metastore, hms, partitioned):
    db, table = partitioned
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    shared_added: list[list[str]] = [[] for _ in range(THREADS)]

    def worker(t: int) -> None:
        try:
            client = connect(metastore)
            try:
                own = [partition(db, table, f"t{t:02d}", i) for i in range(PER_THREAD)]
                shared = [partition(db, table, "shared", i) for i in range(SHARED)]
                if t % 2:
                    shared.reverse()  # overlap in both orders
                barrier.wait(30)
                for b in range(0, PER_THREAD, BATCH):
                    assert client.add_partitions(own[b : b + BATCH]) == BATCH
                    # interleave the overlapping adds with the distinct ones
                    chunk = shared[(b // BATCH) * 4 : (b // BATCH) * 4 + 4]
                    result = client.add_partitions_req(ht.AddPartitionsRequest(
                        dbName=db, tblName=table, parts=chunk, ifNotExists=True, needResult=True))  # fmt: skip
                    shared_added[t].extend(
                        f"dt={p.values[0]}/hr={p.values[1]}" for p in result.partitions or []
                    )
            finally:
                client.close()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(100)
    assert not any(th.is_alive() for th in threads)
    assert errors == []

    own_names = {f"dt=t{t:02d}/hr={i}" for t in range(THREADS) for i in range(PER_THREAD)}
    shared_names = {f"dt=shared/hr={i}" for i in range(SHARED)}
    expected = own_names | shared_names

    names = hms.get_partition_names(db, table, -1)
    assert len(names) == len(set(names)) == THREADS * PER_THREAD + SHARED
    assert set(names) == expected
    assert names == sorted(names)  # HMS orders partition names

    # every shared partition was reported added by exactly one of the racing requests
    reported = [n for added in shared_added for n in added]
    assert sorted(reported) == sorted(shared_names)

    parts = hms.get_partitions(db, table, -1)
    assert sorted(tuple(p.values) for p in parts) == sorted(
        [(f"t{t:02d}", str(i)) for t in range(THREADS) for i in range(PER_THREAD)]
        + [("shared", str(i)) for i in range(SHARED)]
    )

    engine = sql_engine(metastore)
    try:
        with engine.connect() as conn:
            ids = {"db": db, "table": table}
            part_rows = conn.execute(text(
                "SELECT p.id, p.name FROM partitions p JOIN tables t ON t.id = p.table_id "
                "JOIN databases d ON d.id = t.database_id WHERE d.name = :db AND t.name = :table"), ids).all()  # fmt: skip
            kv_rows = conn.execute(text(
                "SELECT k.partition_id, k.key_index, k.value, k.int_value, k.table_id, p.table_id "
                "FROM partition_key_values k JOIN partitions p ON p.id = k.partition_id "
                "JOIN tables t ON t.id = p.table_id JOIN databases d ON d.id = t.database_id "
                "WHERE d.name = :db AND t.name = :table"), ids).all()  # fmt: skip
            orphans = conn.execute(text(
                "SELECT count(*) FROM partition_key_values k LEFT JOIN partitions p ON p.id = k.partition_id "
                "WHERE p.id IS NULL")).scalar()  # fmt: skip
    finally:
        engine.dispose()

    assert sorted(name for _, name in part_rows) == sorted(expected)
    by_partition: dict[int, dict[int, tuple]] = {}
    for pid, key_index, value, int_value, kv_table, p_table in kv_rows:
        assert kv_table == p_table
        assert key_index not in by_partition.setdefault(pid, {}), "duplicate key value row"
        by_partition[pid][key_index] = (value, int_value)
    assert len(kv_rows) == 2 * len(part_rows)
    for pid, name in part_rows:
        dt, hr = (piece.split("=", 1)[1] for piece in name.split("/"))
        assert by_partition[pid] == {0: (dt, None), 1: (hr, int(hr))}, name
    assert orphans == 0

    # a filter (which runs on partition_key_values) sees exactly the same partitions
    hits = hms.get_partitions_by_filter(db, table, 'dt = "shared" and hr >= 15', -1)
    assert sorted(int(p.values[1]) for p in hits) == [15, 16, 17, 18, 19]


def raw_client(ms, timeout_s: float = 10.0):
    sock = TSocket.TSocket(ms.host, ms.port)
    sock.setTimeout(timeout_s * 1000)
    transport = TTransport.TBufferedTransport(sock)
    transport.open()
    return transport, ThriftHiveMetastore.Client(TBinaryProtocol.TBinaryProtocol(transport))


def test_idle_connections_do_not_block_new_clients(metastore, hms):
    before = sorted(hms.get_all_databases())
    idle_sockets: list[socket.socket] = []
    idle_clients: list[hmsclient.HMSClient] = []
    try:
        for i in range(50):
            s = socket.create_connection((metastore.host, metastore.port), timeout=10)
            if i % 5 == 0:
                s.sendall(b"\x80\x01")  # half a message header: the server waits for the rest
            idle_sockets.append(s)
        for _ in range(10):
            client = connect(metastore)
            assert sorted(client.get_all_databases()) == before  # used once, then left idle
            idle_clients.append(client)

        transport, fresh = raw_client(metastore, timeout_s=10)
        try:
            assert sorted(fresh.get_all_databases()) == before
            assert fresh.get_database("default").name == "default"
        finally:
            transport.close()

        # the idle ones are still served afterwards
        for client in idle_clients:
            assert client.get_database("default").name == "default"
    finally:
        for s in idle_sockets:
            s.close()
        for client in idle_clients:
            client.close()
    assert metastore.alive()
