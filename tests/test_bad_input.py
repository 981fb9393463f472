"""Malformed and unusual input on the metastore's port: each must end (at most) its own connection, never
the server, and never change the catalog. Also the protocol variants clients use: framed transport,
compact protocol, one-way fb303 `shutdown`, unknown methods, catalog-qualified database names."""

from __future__ import annotations

import errno
import random
import socket
import struct

import pytest
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TApplicationException, TMessageType, TType
from thrift.transport import TSocket, TTransport

from metastore.hms.gen.hive import ThriftHiveMetastore
from metastore.hms.gen.hive import ttypes as tt
from tests.conftest import unique

pytestmark = pytest.mark.timeout(60)

TIMEOUT_S = 10.0


# --- helpers ------------------------------------------------------------------------------------------


def open_client(ms, framed: bool = False, compact: bool = False):
    """(transport, generated client) over a socket with a timeout, so a misbehaving server fails the test."""
    sock = TSocket.TSocket(ms.host, ms.port)
    sock.setTimeout(TIMEOUT_S * 1000)
    transport = TTransport.TFramedTransport(sock) if framed else TTransport.TBufferedTransport(sock)
    transport.open()
    proto = (
        TCompactProtocol.TCompactProtocol(transport)
        if compact
        else TBinaryProtocol.TBinaryProtocol(transport)
    )
    return transport, ThriftHiveMetastore.Client(proto)


def catalog_state(ms) -> dict[str, list[str]]:
    transport, client = open_client(ms)
    try:
        return {db: sorted(client.get_all_tables(db)) for db in sorted(client.get_all_databases())}
    finally:
        transport.close()


@pytest.fixture(scope="module")
def baseline(metastore):
    """A database with a table, and the catalog's state with it: every test checks it is unchanged."""
    transport, client = open_client(metastore)
    db = unique("bad")
    try:
        client.create_database(tt.Database(name=db, description="bad input tests", parameters={}))
        client.create_table(tt.Table(
            dbName=db, tableName="t", tableType="MANAGED_TABLE", parameters={"k": "v"}, owner="tester",
            partitionKeys=[tt.FieldSchema("dt", "string")],
            sd=tt.StorageDescriptor(cols=[tt.FieldSchema("id", "bigint"), tt.FieldSchema("name", "string")],
                                    serdeInfo=tt.SerDeInfo(parameters={}), parameters={}, bucketCols=[], sortCols=[]),
        ))  # fmt: skip
    finally:
        transport.close()
    state = catalog_state(metastore)
    assert state[db] == ["t"] and "default" in state
    return db, state


def assert_healthy(ms, baseline) -> None:
    """The server is alive, answers a new client, and the catalog is as before."""
    assert ms.alive(), ms.log.read_text()[-3000:]
    db, state = baseline
    assert catalog_state(ms) == state
    transport, client = open_client(ms)
    try:
        assert client.get_table(db, "t").parameters["k"] == "v"
    finally:
        transport.close()


def send_raw(ms, data: bytes, *, half_close: bool) -> bytes:
    """Send `data` on a new connection (closing our side for writing if `half_close`) and read until the
    server closes the connection; fails if it does not within the timeout. Returns what the server sent."""
    with socket.create_connection((ms.host, ms.port), timeout=TIMEOUT_S) as s:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return b""  # the server already gave up on the connection
        except OSError as e:
            if e.errno != errno.ENOTCONN:
                raise
            return b""  # reset by the server between our send and our shutdown
        received = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return received
            except TimeoutError:
                pytest.fail(f"the server kept the connection open {TIMEOUT_S} s after bad input")
            if not chunk:
                return received
            received += chunk


def assert_error_or_nothing(received: bytes) -> None:
    """After bad input the server may close silently or answer with a TApplicationException (unframed or
    framed): nothing else, and certainly not a normal reply."""
    if not received:
        return
    for data, compact in ((received, False), (received[4:], False), (received, True)):
        try:
            _, proto = memory_protocol(data, compact)
            _, kind, _ = proto.readMessageBegin()
            if kind == TMessageType.EXCEPTION:
                TApplicationException().read(proto)
                return
        except Exception:  # noqa: BLE001 - try the other framing
            continue
    pytest.fail(f"unexpected answer to bad input: {received[:200]!r}")


def binary_call(name: str, seqid: int = 1, args: bytes = b"\x00") -> bytes:
    """A strict TBinaryProtocol CALL message, written by hand (args: the encoded argument struct)."""
    encoded = name.encode()
    return struct.pack("!iI", -2147418111, len(encoded)) + encoded + struct.pack("!i", seqid) + args


def memory_protocol(data: bytes = b"", compact: bool = False):
    buf = TTransport.TMemoryBuffer(data)
    return buf, (TCompactProtocol.TCompactProtocol(buf) if compact else TBinaryProtocol.TBinaryProtocol(buf))


# --- garbage ------------------------------------------------------------------------------------------

_rng = random.Random(20240617)
RANDOM_CASES = [
    pytest.param(prefix + _rng.randbytes(size), id=f"{label}-{size}")
    for label, prefix in [
        ("plain", b""),
        ("binary-header", b"\x80\x01\x00\x01"),
        ("compact-header", b"\x82\x21"),
        ("framed-binary", b"\x00\x00\x00\x40\x80\x01\x00\x01"),
    ]  # fmt: skip
    for size in (1, 3, 5, 64, 4096, 100_000)
]


@pytest.mark.parametrize("data", RANDOM_CASES)
def test_random_bytes(metastore, baseline, data):
    send_raw(metastore, data, half_close=True)
    assert_healthy(metastore, baseline)


def test_truncated_binary_message(metastore, baseline):
    header_only = binary_call("get_database", args=b"")
    assert_error_or_nothing(send_raw(metastore, header_only, half_close=True))
    # field 1 (string) announced as 10 bytes, only 3 sent
    partial_args = binary_call("get_database", args=b"\x0b\x00\x01" + struct.pack("!i", 10) + b"def")
    assert_error_or_nothing(send_raw(metastore, partial_args, half_close=True))
    # a frame announcing 100 bytes that carries a valid header and then ends
    framed = binary_call("get_all_databases", args=b"")
    assert_error_or_nothing(send_raw(metastore, struct.pack("!i", 100) + framed, half_close=True))
    assert_healthy(metastore, baseline)


@pytest.mark.parametrize("length", [0x7FFFFFFF, 300 * 1024 * 1024, -16], ids=["2GB", "300MB", "negative"])
def test_absurd_frame_length(metastore, baseline, length):
    # no half-close: the server must give up by itself instead of waiting for the announced bytes
    data = struct.pack("!i", length) + binary_call("get_all_databases")
    assert_error_or_nothing(send_raw(metastore, data, half_close=False))
    assert_healthy(metastore, baseline)


def test_two_gigabyte_strings(metastore, baseline):
    # method name announced as 2 GB
    name_2gb = struct.pack("!iI", -2147418111, 0x7FFFFFFF) + b"get_database"
    assert_error_or_nothing(send_raw(metastore, name_2gb, half_close=False))
    # argument (get_database's field 1, the name) announced as 2 GB
    arg_2gb = binary_call("get_database", args=b"\x0b\x00\x01" + struct.pack("!i", 0x7FFFFFFF) + b"default")
    assert_error_or_nothing(send_raw(metastore, arg_2gb, half_close=False))
    # a list announcing 2**31-1 elements (get_table_objects_by_name's table names)
    list_2g = binary_call("get_table_objects_by_name",
                          args=b"\x0b\x00\x01" + struct.pack("!i", 7) + b"default" + b"\x0f\x00\x02\x0b"
                          + struct.pack("!i", 0x7FFFFFFF))  # fmt: skip
    assert_error_or_nothing(send_raw(metastore, list_2g, half_close=False))
    # a negative string length
    negative = binary_call("get_database", args=b"\x0b\x00\x01" + struct.pack("!i", -5) + b"default")
    assert_error_or_nothing(send_raw(metastore, negative, half_close=False))
    # a 2 GB string in the arguments of an unknown method, which the server skips
    skipped = binary_call("no_such_method", args=b"\x0b\x00\x01" + struct.pack("!i", 0x7FFFFFFF) + b"x")
    assert_error_or_nothing(send_raw(metastore, skipped, half_close=False))
    # the compact protocol: a 2 GB method name, and a 2 GB argument (field 1, binary: 0x18)
    varint_2gb = b"\xff\xff\xff\xff\x07"
    compact_name = b"\x82\x21\x01" + varint_2gb + b"get_database"
    assert_error_or_nothing(send_raw(metastore, compact_name, half_close=False))
    compact_arg = b"\x82\x21\x01\x0cget_database\x18" + varint_2gb + b"default"
    assert_error_or_nothing(send_raw(metastore, compact_arg, half_close=False))
    assert_healthy(metastore, baseline)


# --- protocol-level answers ---------------------------------------------------------------------------


def test_unknown_method_name(metastore, baseline):
    transport, client = open_client(metastore)
    proto = client._iprot
    try:
        # arguments of several types, which the server must skip
        proto.writeMessageBegin("get_tables_ext_nonexistent", TMessageType.CALL, 7)
        proto.writeStructBegin("args")
        proto.writeFieldBegin("a", TType.STRING, 1)
        proto.writeString("default")
        proto.writeFieldEnd()
        proto.writeFieldBegin("b", TType.LIST, 2)
        proto.writeListBegin(TType.I32, 3)
        for i in range(3):
            proto.writeI32(i)
        proto.writeListEnd()
        proto.writeFieldEnd()
        proto.writeFieldStop()
        proto.writeStructEnd()
        proto.writeMessageEnd()
        transport.flush()

        name, kind, seqid = proto.readMessageBegin()
        assert (name, kind, seqid) == ("get_tables_ext_nonexistent", TMessageType.EXCEPTION, 7)
        error = TApplicationException()
        error.read(proto)
        proto.readMessageEnd()
        assert error.type == TApplicationException.UNKNOWN_METHOD
        assert "get_tables_ext_nonexistent" in error.message

        # the same connection goes on working
        assert sorted(client.get_all_databases()) == sorted(baseline[1])
    finally:
        transport.close()
    assert_healthy(metastore, baseline)


def test_idl_method_the_handler_lacks(metastore, baseline):
    from metastore.hms.handler import Handler

    assert not hasattr(Handler, "get_partitions_by_expr")  # else pick another unimplemented method
    transport, client = open_client(metastore)
    try:
        with pytest.raises(TApplicationException) as info:
            client.get_partitions_by_expr(
                tt.PartitionsByExprRequest(dbName=baseline[0], tblName="t", expr=b"\x01\x02", maxParts=-1)
            )
        assert info.value.type == TApplicationException.UNKNOWN_METHOD
        assert client.get_table(baseline[0], "t").tableName == "t"
    finally:
        transport.close()
    assert_healthy(metastore, baseline)


def test_oneway_shutdown_gets_no_reply(metastore, baseline):
    transport, client = open_client(metastore)
    proto = client._iprot
    try:
        proto.writeMessageBegin("shutdown", TMessageType.ONEWAY, 41)
        proto.writeStructBegin("shutdown_args")
        proto.writeFieldStop()
        proto.writeStructEnd()
        proto.writeMessageEnd()
        proto.writeMessageBegin("get_all_databases", TMessageType.CALL, 42)
        ThriftHiveMetastore.get_all_databases_args().write(proto)
        proto.writeMessageEnd()
        transport.flush()

        # the first message back answers the second call: nothing was written for `shutdown`
        assert proto.readMessageBegin() == ("get_all_databases", TMessageType.REPLY, 42)
        result = ThriftHiveMetastore.get_all_databases_result()
        result.read(proto)
        proto.readMessageEnd()
        assert sorted(result.success) == sorted(baseline[1])

        client.shutdown()  # the generated client's one-way call, as Spark sends it
        assert "Mortar" in client.getName()
        assert client.get_database("default").name == "default"
    finally:
        transport.close()
    assert_healthy(metastore, baseline)


@pytest.mark.parametrize("framed, compact", [(False, False), (True, False), (False, True), (True, True)],
                         ids=["buffered-binary", "framed-binary", "buffered-compact", "framed-compact"])  # fmt: skip
def test_transports_and_protocols(metastore, baseline, framed, compact):
    db, state = baseline
    transport, client = open_client(metastore, framed=framed, compact=compact)
    try:
        assert sorted(client.get_all_databases()) == sorted(state)
        table = client.get_table(db, "t")
        assert (table.dbName, table.tableName, table.parameters["k"]) == (db, "t", "v")
        assert [(c.name, c.type) for c in table.sd.cols] == [("id", "bigint"), ("name", "string")]
        assert [k.name for k in table.partitionKeys] == ["dt"]
        with pytest.raises(tt.NoSuchObjectException):
            client.get_database(unique("missing"))
        # a round trip that writes, in the same encoding
        client.add_partition(tt.Partition(values=["2024-01-01"], dbName=db, tableName="t",
                                          sd=tt.StorageDescriptor(cols=table.sd.cols, serdeInfo=tt.SerDeInfo(
                                              parameters={}), parameters={}, bucketCols=[], sortCols=[]),
                                          parameters={}))  # fmt: skip
        assert client.get_partition_names(db, "t", -1) == ["dt=2024-01-01"]
        assert client.drop_partition(db, "t", ["2024-01-01"], True) is True
        assert client.get_partition_names(db, "t", -1) == []
    finally:
        transport.close()
    assert_healthy(metastore, baseline)


def test_catalog_qualified_database_names(metastore, baseline):
    db, state = baseline
    transport, client = open_client(metastore)
    try:
        assert client.get_database("@hive#default").name == "default"
        assert client.get_database(f"@hive#{db}").description == "bad input tests"
        assert sorted(client.get_all_tables(f"@hive#{db}")) == ["t"]
        assert client.get_table(f"@hive#{db}", "t").tableName == "t"
        with pytest.raises(tt.NoSuchObjectException):
            client.get_database("@nope#default")
        with pytest.raises(tt.NoSuchObjectException):
            client.get_table("@nope#default", "t")
        with pytest.raises(tt.NoSuchObjectException):
            client.get_database(f"@hive#{unique('missing')}")
    finally:
        transport.close()
    assert_healthy(metastore, baseline)


def test_server_still_alive(metastore, baseline):
    assert metastore.alive()
    assert_healthy(metastore, baseline)
