"""bench.metastore's server-time measurement: when the received bytes are one complete reply."""

from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.Thrift import TMessageType
from thrift.transport import TTransport

from bench.metastore import decode_reply, make_table, partitions
from metastore.hms.gen.hive import ThriftHiveMetastore


def _reply(parts) -> bytes:
    buf = TTransport.TMemoryBuffer()
    proto = TBinaryProtocol(buf)
    proto.writeMessageBegin("get_partitions", TMessageType.REPLY, 1)
    ThriftHiveMetastore.get_partitions_result(success=parts).write(proto)
    proto.writeMessageEnd()
    return buf.getvalue()


def test_decode_reply_needs_the_whole_reply_and_gives_its_length():
    parts = partitions(make_table("big"), 2, 10)
    data = _reply(parts)
    for cut in range(len(data)):  # every cut, including those the C decoder reports as a wrong field type
        assert decode_reply("get_partitions", data[:cut]) is None, cut
    answer, length = decode_reply("get_partitions", data)
    assert (len(answer), length) == (20, len(data))
    answer, length = decode_reply("get_partitions", data + b"\x00\x01")  # bytes after it are not its own
    assert (len(answer), length) == (20, len(data))


def test_independent_client_decoding_is_timed_on_the_captured_reply():
    from bench.independent import decode_seconds

    data = _reply(partitions(make_table("big"), 2, 10))
    assert decode_seconds("get_partitions", data, 3) > 0
    try:
        decode_seconds("get_partitions", data[:-10], 1)
    except EOFError:
        pass
    else:
        raise AssertionError("a cut reply must not decode")


def test_independent_client_table_has_ratios_and_the_clients_share(capsys):
    from bench.independent import print_independent

    mortar = {"get_partitions of 10,000": {"end to end": 0.5, "server (socket)": 0.05, "server (own count)": 0.04,
                                           "client decoding": 0.4},
              "drop_table with 10,000 partitions": {"end to end": 0.1, "server (own count)": 0.09}}  # fmt: skip
    reference = {"get_partitions of 10,000": {"end to end": 1.5, "server (socket)": 1.0},
                 "drop_table with 10,000 partitions": {"end to end": 7.0}}  # fmt: skip
    print_independent("sqlite", {"mortar": mortar, "reference": reference})
    out = capsys.readouterr().out.splitlines()
    listing = next(line for line in out if line.startswith("| get_partitions"))
    assert "| 3.0x |" in listing and "| 20.0x |" in listing and "(80% of Mortar's)" in listing
    drop = next(line for line in out if line.startswith("| drop_table"))
    assert "| 70.0x |" in drop and "| 77.8x |" in drop  # writes: server time is the reference's end to end
