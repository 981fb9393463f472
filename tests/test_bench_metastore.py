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
