"""The metastore's TCP server.

A thread per connection, like HMS itself: an idle persistent connection (Spark keeps one per session)
holds only its own thread, so it never starves new clients. The transport and protocol are detected
from each connection's first bytes: unframed or framed, binary or compact. Bad input (random bytes,
truncated frames, oversize strings) ends that connection only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import socket
import struct
import threading
import time

from thrift.protocol.TBinaryProtocol import TBinaryProtocol, TBinaryProtocolAccelerated
from thrift.protocol.TCompactProtocol import TCompactProtocol, TCompactProtocolAccelerated
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport import TSocket, TTransport

from metastore.catalog import CatalogService
from metastore.catalog.base import Sql
from metastore.config import Settings
from metastore.connection_slots import ConnectionSlots
from metastore.hms import transport_security
from metastore.hms.gen.hive import ThriftHiveMetastore
from metastore.hms.handler import WIRE_METHODS, Handler
from metastore.hms.listings import ListingCache

log = logging.getLogger(__name__)

STRING_LIMIT = 64 * 1024 * 1024  # largest string or binary field accepted
CONTAINER_LIMIT = 10_000_000  # largest list/map/set accepted
FRAME_LIMIT = 256 * 1024 * 1024  # largest frame accepted on framed connections
LISTING_CACHE_MB = 256  # encoded partition listings each process keeps (see listings.py)
BINARY, COMPACT = 0x80, 0x82  # first byte of a binary (strict) and of a compact message

IMPLEMENTED = frozenset(
    name for name in dir(ThriftHiveMetastore.Iface) if not name.startswith("_") and hasattr(Handler, name)
)


_RUN_BYTES = 1 << 20  # bytes per socket write of a long answer made of ready-made pieces
_IOV = 512  # pieces per sendmsg (Linux takes up to 1,024)


def _write_runs(trans, pieces: list[bytes]) -> None:
    """Pieces through a transport, in runs of ~1 MB (not one write each)."""
    run: list[bytes] = []
    size = 0
    for piece in pieces:
        run.append(piece)
        size += len(piece)
        if size >= _RUN_BYTES:
            trans.write(b"".join(run))
            trans.flush()
            run, size = [], 0
    if run:
        trans.write(b"".join(run))


def _sendmsg_all(sock: socket.socket, pieces: list[bytes]) -> None:
    """Send every piece, in order, by scatter-gather writes: no copy of the pieces into one buffer (the names
    of 1,000,000 partitions are 18 MB; joining and buffering them cost ~3 ms)."""
    for at in range(0, len(pieces), _IOV):
        batch = list(pieces[at : at + _IOV])
        first = 0
        while first < len(batch):
            sent = sock.sendmsg(batch[first:] if first else batch)
            while first < len(batch) and sent >= len(batch[first]):
                sent -= len(batch[first])
                first += 1
            if sent:  # part of a piece went: the rest of it next
                batch[first] = memoryview(batch[first])[sent:]


class _BufferedTransport(TTransport.TBufferedTransport):
    """TBufferedTransport that sends ready-made pieces straight to a plain socket (see `_sendmsg_all`);
    through TLS or SASL, which frame what they send, as any write."""

    def __init__(self, tsock: TSocket.TSocket):
        super().__init__(tsock)
        self.tsock = tsock

    def write_pieces(self, pieces: list[bytes]) -> None:
        sock = self.tsock.handle
        if type(sock) is not socket.socket:
            _write_runs(self, pieces)
            return
        self.flush()
        _sendmsg_all(sock, pieces)


def _encoded_reply(method: str):
    """A process function for `method` that writes the handler's `<method>_wire` bytes, or pieces of
    bytes (see wire.py), as the reply's success value on binary connections: partitions and tables are
    never Thrift objects. Compact connections take the generated path. Errors are answered as the
    generated code answers them."""
    args_cls = getattr(ThriftHiveMetastore, f"{method}_args")
    result_cls = getattr(ThriftHiveMetastore, f"{method}_result")
    arg_names = [spec[2] for spec in args_cls.thrift_spec if spec is not None]
    declared = [(spec[2], spec[3][0]) for spec in result_cls.thrift_spec if spec is not None and spec[2] != "success"]
    generated = getattr(ThriftHiveMetastore.Processor, f"process_{method}")
    success = bytes([result_cls.thrift_spec[0][1], 0, 0])  # field 0 (success) of the result struct
    wire_method = f"{method}_wire"
    name = method.encode()
    head = struct.pack(">iI", TBinaryProtocol.VERSION_1 | TMessageType.REPLY, len(name)) + name

    def process(self, seqid, iprot, oprot):
        if not isinstance(oprot, TBinaryProtocol) or not oprot.strictWrite:
            return generated(self, seqid, iprot, oprot)
        args = args_cls()
        args.read(iprot)
        iprot.readMessageEnd()
        try:
            body = getattr(self._handler, wire_method)(*(getattr(args, n) for n in arg_names))
        except TTransport.TTransportException:
            raise
        except Exception as e:  # noqa: BLE001 - as the generated process function
            result, msg_type = result_cls(), TMessageType.REPLY
            for field, cls in declared:
                if isinstance(e, cls):
                    setattr(result, field, e)
                    break
            else:
                msg_type = TMessageType.EXCEPTION
                if isinstance(e, TApplicationException):
                    result = e
                else:
                    log.exception("unexpected exception in %s", method)
                    result = TApplicationException(TApplicationException.INTERNAL_ERROR, "Internal error")
            oprot.writeMessageBegin(method, msg_type, seqid)
            result.write(oprot)
            oprot.writeMessageEnd()
            oprot.trans.flush()
            return
        trans = oprot.trans
        start = head + struct.pack(">i", seqid) + success
        if isinstance(body, bytes):
            trans.write(b"".join((start, body, b"\x00")))
        elif isinstance(trans, TTransport.TBufferedTransport):
            # a long answer in pieces, each sent as soon as it is encoded (see wire.partition_chunks)
            trans.write(start)
            try:
                if isinstance(body, list) and isinstance(trans, _BufferedTransport):  # ready-made pieces (kept chunks)
                    trans.write_pieces(body)
                elif isinstance(body, list):
                    _write_runs(trans, body)
                else:
                    for chunk in body:
                        trans.write(chunk)
                        trans.flush()
            except Exception as e:  # the reply is half written: this connection cannot go on
                log.exception("encoding the answer to %s failed", method)
                raise TTransport.TTransportException(TTransport.TTransportException.UNKNOWN, str(e)) from e
            trans.write(b"\x00")
        else:  # framed: one frame per message
            trans.write(b"".join((start, *body, b"\x00")))
        trans.flush()

    return process


class Processor(ThriftHiveMetastore.Processor):
    """The generated processor, knowing only the methods the handler implements: any other call is
    answered with TApplicationException UNKNOWN_METHOD (the generated one would say INTERNAL_ERROR).
    Partition listings and tables are written from encoded bytes (see `_encoded_reply`)."""

    def __init__(self, handler: Handler):
        super().__init__(handler)
        self._processMap = {k: v for k, v in self._processMap.items() if k in IMPLEMENTED}
        for method in WIRE_METHODS:
            if method in self._processMap:
                self._processMap[method] = _ENCODED[method]
        self.arrived = 0.0  # when the current request's first bytes arrived (see server_time)
        self._last_name: str | None = None
        self.on_message_begin(self._named)
        handler.server_times = {}

    def _named(self, name: str, _type: int, _seqid: int) -> None:
        self._last_name = name

    def process(self, iprot, oprot):
        try:
            return super().process(iprot, oprot)
        finally:
            self.server_time()

    def server_time(self) -> None:
        """The connection's last call: first request bytes in → last answer byte handed to the socket, in
        seconds, as `server_us.<method>` in this connection's getCounters (for bench.metastore)."""
        name = self._last_name
        if name is not None and self.arrived:
            self._handler.server_times[name] = time.perf_counter() - self.arrived


_ENCODED = {method: _encoded_reply(method) for method in WIRE_METHODS}


def _peek(sock: socket.socket, n: int) -> bytes:
    """The first `n` bytes, left unread; fewer at end of stream. A plain socket with a timeout (the idle
    timeout) would return a partial peek at once: it waits in blocking mode with SO_RCVTIMEO instead
    (raising BlockingIOError when nothing came in time)."""
    flags = socket.MSG_PEEK | socket.MSG_WAITALL
    if type(sock) is not socket.socket:  # TLS/SASL (transport_security) wait for all `n` themselves
        return sock.recv(n, flags)
    timeout = sock.gettimeout()
    if not timeout:
        return sock.recv(n, flags)
    sock.settimeout(None)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(timeout), int(timeout % 1 * 1e6)))
    try:
        return sock.recv(n, flags)
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 0))
        sock.settimeout(timeout)


def open_protocols(sock: socket.socket):
    """(input protocol, output protocol) for this connection, from its first bytes; None if not Thrift."""
    head = _peek(sock, 5)
    if len(head) < 4:
        return None
    framed = head[0] not in (BINARY, COMPACT)
    kind = head[4] if framed and len(head) == 5 else head[0]
    if kind not in (BINARY, COMPACT):
        return None
    tsock = _TimedSocket()
    tsock.setHandle(sock)
    trans = TTransport.TFramedTransport(tsock, FRAME_LIMIT) if framed else _BufferedTransport(tsock)
    if kind == BINARY:
        proto = TBinaryProtocolAccelerated(trans, strictRead=False, strictWrite=True,
                                           string_length_limit=STRING_LIMIT, container_length_limit=CONTAINER_LIMIT)  # fmt: skip
    else:
        proto = TCompactProtocolAccelerated(trans, string_length_limit=STRING_LIMIT,
                                            container_length_limit=CONTAINER_LIMIT)  # fmt: skip
    return proto, proto


# --- bounded requests: idle and request timeouts, size and object-count limits (see BoundedInput) ---

FAST_BYTES = 64 * 1024  # after a request longer than this, memory is given back to the system
DIRECT_BYTES = 1024  # a request that arrives whole in this many bytes is decoded without a scan (see below)
DRAIN_QUIET_S = 0.5  # after refusing a request, its rest is read and dropped until the peer is this quiet
STRUCT_COST = 200  # estimated decoded size of one struct (an empty Partition decodes to about 180 bytes)
STRING_COST = 49  # and of one string or binary besides its bytes (sys.getsizeof(b""))
VALUE_COST = 32  # and of any other value (a number, a bool, a list slot)
MAX_DEPTH = 64  # nesting of structs and containers in one request
_BIN_FIXED = {2: 1, 3: 1, 4: 8, 6: 2, 8: 4, 10: 8, 16: 16}  # TBinaryProtocol type id → width
_CPT_FIXED = {1: 0, 2: 0, 3: 1, 7: 8, 16: 16}  # TCompactProtocol widths (a bool is in its field header)
_CPT_VARINT = frozenset((4, 5, 6))  # i16, i32, i64


class RequestTooLarge(Exception):
    """A request over max_request_items or max_request_mb; `name`/`seqid` of its message when known."""

    def __init__(self, message: str, name: str | None, seqid: int | None):
        super().__init__(message)
        self.name, self.seqid = name, seqid


class _Scan:
    """Reads one Thrift message (binary or compact) from `more()` chunks into a buffer, counting what
    decoding it would create: structs plus container elements (`items`) and an estimate of their
    decoded size in bytes. Raises RequestTooLarge as soon as either passes its limit, before the rest is
    read, and ValueError on malformed input. Nothing is decoded: numbers and strings are skipped."""

    def __init__(self, data: bytes, more, max_items: int, max_bytes: int):
        self.buf = bytearray(data)
        self.pos = 0
        self.more = more
        self.items = 0
        self.size = 0
        self.max_items, self.max_bytes = max_items, max_bytes
        self.name: str | None = None
        self.seqid: int | None = None

    def _fill(self, end: int) -> None:
        while len(self.buf) < end:
            if end > self.max_bytes:
                self._too_large_bytes()
            self.buf += self.more(end - len(self.buf))

    def _take(self, n: int) -> int:
        """Skip `n` bytes; their start."""
        p = self.pos
        if p + n > len(self.buf):
            self._fill(p + n)
        self.pos = p + n
        return p

    def _u8(self) -> int:
        p = self.pos
        if p >= len(self.buf):
            self._fill(p + 1)
        self.pos = p + 1
        return self.buf[p]

    def _count(self, items: int, size: int) -> None:
        self.items += items
        self.size += size
        if self.items > self.max_items:
            raise RequestTooLarge(
                f"{self.name or 'request'} refused: the request holds more than {self.max_items:,} structs and "
                f"container elements (server setting max_request_items); send fewer objects per call",
                self.name, self.seqid)  # fmt: skip
        if self.size > self.max_bytes:
            self._too_large_bytes()

    def _too_large_bytes(self):
        raise RequestTooLarge(
            f"{self.name or 'request'} refused: the request would take more than {self.max_bytes // 2**20:,} MB "
            f"once decoded (server setting max_request_mb); send fewer or smaller objects per call",
            self.name, self.seqid)  # fmt: skip

    # --- binary protocol ---
    def _i32(self) -> int:
        p = self._take(4)
        return struct.unpack_from(">i", self.buf, p)[0]

    def binary_message(self) -> int:
        """Scan a TBinaryProtocol message (strict or old-style header); its length."""
        first = self._i32()
        if first < 0:
            if first & 0xFFFF0000 != TBinaryProtocol.VERSION_1 & 0xFFFF0000:
                raise ValueError("bad protocol version")
            n = self._i32()
            if not 0 <= n <= 4096:
                raise ValueError("bad method name length")
            p = self._take(n)
            self.name = bytes(self.buf[p : p + n]).decode("utf-8", "replace")
            self.seqid = self._i32()
        else:
            if first > 4096:
                raise ValueError("bad method name length")
            p = self._take(first)
            self.name = bytes(self.buf[p : p + first]).decode("utf-8", "replace")
            self._take(1)
            self.seqid = self._i32()
        self._bvalue(12, 0)
        return self.pos

    def _bvalue(self, t: int, depth: int) -> None:
        if t == 12:
            self._bstruct(depth)
        elif t == 11:
            n = self._i32()
            if n < 0:
                raise ValueError("negative string length")
            self._count(0, STRING_COST + n)
            self._take(n)
        elif t in (14, 15):
            et = self._u8()
            self._elements(et, self._i32(), depth, _BIN_FIXED, self._bvalue)
        elif t == 13:
            kt, vt = self._u8(), self._u8()
            n = self._i32()
            self._elements(kt, n, depth, _BIN_FIXED, self._bvalue, vt)
        else:
            width = _BIN_FIXED.get(t)
            if width is None:
                raise ValueError(f"unknown field type {t}")
            self._take(width)

    def _bstruct(self, depth: int) -> None:
        """A binary struct's fields: the scan's hot loop (a request of 1,000 partitions has ~100,000 fields),
        kept to local names. Only the bytes a field needs are asked for: a message's last byte is a struct's
        end, and the client sends nothing after it. Strings are counted at the struct's end (`_fill` refuses
        to read past the limit meanwhile)."""
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        self._count(1, STRUCT_COST)
        buf, fixed, unpack = self.buf, _BIN_FIXED, _I32_FROM  # `_fill` extends `buf` in place
        have = len(buf)
        pos = self.pos
        values = strings = 0
        while True:
            if pos >= have:
                self._fill(pos + 1)
                have = len(buf)
            ft = buf[pos]
            if ft == 0:
                pos += 1
                break
            width = fixed.get(ft)
            if width is not None:
                pos += 3 + width
                if pos > have:
                    self._fill(pos)
                    have = len(buf)
                values += 1
            elif ft == 11:
                if pos + 7 > have:
                    self._fill(pos + 7)
                    have = len(buf)
                n = unpack(buf, pos + 3)[0]
                if n < 0:
                    raise ValueError("negative string length")
                strings += STRING_COST + n
                pos += 7 + n
                if pos > have:
                    self._fill(pos)
                    have = len(buf)
            else:
                pos += 3
                if pos > have:
                    self._fill(pos)
                self.pos = pos
                self._bvalue(ft, depth + 1)
                pos, have = self.pos, len(buf)
        self.pos = pos
        self._count(0, values * VALUE_COST + strings)

    def _bstrings(self, n: int) -> None:
        """`n` binary strings, counted together (the string step of `_bstruct`, written out in both: a call
        per string is what these loops save)."""
        self._count(n, n * (8 + VALUE_COST))
        buf, unpack = self.buf, _I32_FROM
        pos, have, size = self.pos, len(buf), 0
        for _ in range(n):
            if pos + 4 > have:
                self._fill(pos + 4)
                have = len(buf)
            k = unpack(buf, pos)[0]
            if k < 0:
                raise ValueError("negative string length")
            size += STRING_COST + k
            pos += 4 + k
            if pos > have:
                self._fill(pos)
                have = len(buf)
        self.pos = pos
        self._count(0, size)

    def _elements(self, et: int, n: int, depth: int, fixed: dict, value, vt: int | None = None) -> None:
        """`n` elements of type `et` (a list or set), or `n` entries `et` → `vt` (a map)."""
        if n <= 0:
            if n < 0:
                raise ValueError("negative container size")
            return  # empty (parameters, bucket columns...): nothing to count
        if vt is None and et == 11 and value == self._bvalue:  # a list of strings (partition values)
            self._bstrings(n)
            return
        types = (et,) if vt is None else (et, vt)
        scalars = sum(1 for t in types if t != 12)
        self._count(n * scalars, n * len(types) * 8 + n * scalars * VALUE_COST)
        widths = [fixed.get(t) for t in types]
        if all(w is not None for w in widths):
            self._take(n * sum(widths))
            return
        if vt is None and et == 12 and value == self._bvalue:  # a list of structs (partitions, columns)
            for _ in range(n):
                self._bstruct(depth + 1)
            return
        for _ in range(n):
            for t, w in zip(types, widths, strict=True):
                if w is not None:
                    self._take(w)
                else:
                    value(t, depth + 1)

    # --- compact protocol ---
    def _varint(self) -> int:
        result = shift = 0
        while True:
            b = self._u8()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def compact_message(self) -> int:
        """Scan a TCompactProtocol message; its length."""
        if self._u8() != COMPACT:
            raise ValueError("bad protocol id")
        self._u8()  # version and message type
        seqid = self._varint()
        n = self._varint()
        if n > 4096:
            raise ValueError("bad method name length")
        p = self._take(n)
        self.name = bytes(self.buf[p : p + n]).decode("utf-8", "replace")
        self.seqid = seqid
        self._cvalue(12, 0)
        return self.pos

    def _cvalue(self, t: int, depth: int) -> None:
        if t == 12:
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            self._count(1, STRUCT_COST)
            while True:
                head = self._u8()
                if head == 0:
                    return
                ft = head & 0x0F
                if not head >> 4:
                    self._varint()  # field id
                if ft in (1, 2):  # a bool field's value is its type
                    continue
                self._cvalue(ft, depth + 1)
        elif t in _CPT_VARINT:
            self._varint()
        elif t == 8:
            n = self._varint()
            self._count(0, STRING_COST + n)
            self._take(n)
        elif t in (9, 10):
            head = self._u8()
            n = head >> 4
            if n == 15:
                n = self._varint()
            self._elements(head & 0x0F, n, depth, _CPT_CONTAINER_FIXED, self._cvalue)
        elif t == 11:
            n = self._varint()
            kv = self._u8() if n else 0
            self._elements(kv >> 4, n, depth, _CPT_CONTAINER_FIXED, self._cvalue, kv & 0x0F)
        else:
            width = _CPT_FIXED.get(t)
            if width is None:
                raise ValueError(f"unknown field type {t}")
            self._take(width)


_CPT_CONTAINER_FIXED = {1: 1, 2: 1, 3: 1, 7: 8, 16: 16}  # in containers a bool takes a byte
_I32_FROM = struct.Struct(">i").unpack_from


class _Timeouts:
    """The timeouts of the connection served by this thread (`_current.timeouts`), applied by
    _TimedSocket to every read: waiting for a request, `idle_timeout_s`; once its first bytes came, the
    rest must arrive within `request_timeout_s` of them (against slowloris). 0 turns either off."""

    def __init__(self, settings: Settings, sock):
        self.idle_s = float(settings.idle_timeout_s) or None
        self.request_s = float(settings.request_timeout_s) or None
        self.deadline: float | None = None  # None: waiting for the next request
        self.cap: float | None = None  # a shorter wait (draining a refused request)
        self.applied = self.idle_s
        sock.settimeout(self.idle_s)

    def begin(self) -> None:
        self.deadline = None

    def next_timeout(self) -> float | None:
        if self.deadline is None:
            timeout = self.idle_s
        elif self.request_s is None:
            timeout = None
        else:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                raise TTransport.TTransportException(TTransport.TTransportException.TIMED_OUT, self.what())
        if self.cap is not None:
            timeout = self.cap if timeout is None else min(timeout, self.cap)
        return timeout

    def what(self) -> str:
        if self.deadline is None:
            return f"idle for {self.idle_s:g} s (idle_timeout_s)"
        return f"request not received whole within {self.request_s:g} s (request_timeout_s)"

    def arrived(self) -> None:
        if self.deadline is None and self.request_s is not None:
            self.deadline = time.monotonic() + self.request_s


_current = threading.local()  # .timeouts: the _Timeouts of the connection this thread serves


class _TimedSocket(TSocket.TSocket):
    """TSocket whose reads obey the serving thread's _Timeouts (none outside a connection thread)."""

    def read(self, sz):
        t = getattr(_current, "timeouts", None)
        if t is None:
            return super().read(sz)
        timeout = t.next_timeout()
        if timeout != t.applied:
            self.handle.settimeout(timeout)
            t.applied = timeout
        try:
            data = super().read(sz)
        except TTransport.TTransportException as e:
            if e.type != TTransport.TTransportException.TIMED_OUT:
                raise
            raise TTransport.TTransportException(TTransport.TTransportException.TIMED_OUT, t.what()) from e
        t.arrived()
        return data


class _Chunk(TTransport.TMemoryBuffer):
    """A memory buffer over the bytes at hand that notes when decoding wanted more than it holds."""

    underflow = False

    def read(self, sz):
        data = self._buffer.read(sz)
        if len(data) < sz:
            self.underflow = True
        return data

    def cstringio_refill(self, partialread, reqlen):
        self.underflow = True
        raise EOFError()


class BoundedInput:
    """The reading side of a connection, between the protocol and the connection's own transport
    (`inner`: buffered, framed, or whatever TLS/SASL put there), bounding each request's memory.

    A short request that is at hand whole (`first_chunk`, up to `direct_bytes`) is decoded as it is: it
    cannot hold more structs, elements or nesting than bytes, far under the limits. Any other is read whole
    and scanned first (`whole_message`, `_Scan`) against `max_request_items` and `max_request_mb`, and
    decoded from memory only if it is within both."""

    def __init__(self, inner, settings: Settings):
        self._inner = inner
        self.max_items = int(settings.max_request_items)
        self.max_bytes = int(settings.max_request_mb) * 2**20
        self.direct_bytes = max(16, min(DIRECT_BYTES, self.max_items // 2, self.max_bytes // (2 * STRUCT_COST)))
        self._at_hand = b""  # bytes of the current message read so far (or left after the previous one)

    def first_chunk(self) -> bytes:
        """The bytes of the current message at hand: what was left after the previous one, or one read."""
        if not self._at_hand:
            self._at_hand = self._inner.read(65536)
        return self._at_hand

    def keep(self, rest: bytes) -> None:
        """`rest`: what followed a message decoded from first_chunk (the start of the next one)."""
        self._at_hand = rest

    def whole_message(self, compact: bool) -> bytes:
        """The current message from its first byte, read whole and scanned (raises RequestTooLarge); the
        bytes after it stay for the next message."""
        scan = _Scan(self._at_hand, lambda n: self._inner.read(max(n, 65536)), self.max_items, self.max_bytes)
        self._at_hand = b""
        end = scan.compact_message() if compact else scan.binary_message()
        view = memoryview(scan.buf)
        message, self._at_hand = bytes(view[:end]), bytes(view[end:])
        view.release()
        return message

    def drain(self, max_bytes: int) -> None:
        """Read and drop what the peer still sends (the rest of a refused request) until it is quiet for
        DRAIN_QUIET_S, the request's time is up, or `max_bytes` were dropped: so that a client that
        writes its whole request before reading gets the answer rather than a reset connection."""
        t = getattr(_current, "timeouts", None)
        if t is not None:
            t.cap = DRAIN_QUIET_S
        dropped = 0
        try:
            while dropped < max_bytes:
                dropped += len(self._inner.read(65536))
        except (TTransport.TTransportException, OSError):
            pass
        finally:
            if t is not None:
                t.cap = None


def _release_memory() -> None:
    """Give the memory of a large request back to the system: Python frees the objects, glibc keeps
    the pages unless asked (malloc_trim)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _load_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_malloc_trim()


def _input_protocol(proto, trans):
    """A protocol like `proto` (binary or compact, same limits) reading from `trans`."""
    if isinstance(proto, TCompactProtocol):
        return TCompactProtocolAccelerated(trans, string_length_limit=STRING_LIMIT,
                                           container_length_limit=CONTAINER_LIMIT)  # fmt: skip
    return TBinaryProtocolAccelerated(trans, strictRead=False, strictWrite=True, string_length_limit=STRING_LIMIT,
                                      container_length_limit=CONTAINER_LIMIT)  # fmt: skip


def _refuse_request(e: RequestTooLarge, oprot) -> None:
    """Answer a refused request with a TApplicationException (PROTOCOL_ERROR) naming the limit: what
    every Thrift client shows as is, whatever the method declares, as for other bad input."""
    oprot.writeMessageBegin(e.name or "", TMessageType.EXCEPTION, e.seqid or 0)
    TApplicationException(TApplicationException.PROTOCOL_ERROR, str(e)).write(oprot)
    oprot.writeMessageEnd()
    oprot.trans.flush()


class MetastoreServer:
    """`settings`: the security and resource settings (anonymous policy, trusted set_ugi hosts, timeouts,
    limits, TLS, Kerberos); by default Settings' defaults."""

    def __init__(self, catalog: CatalogService, host: str = "0.0.0.0", port: int = 9083, max_connections: int = 1000,
                 sock: socket.socket | None = None, listing_cache_mb: int = LISTING_CACHE_MB,
                 settings: Settings | None = None):  # fmt: skip
        self.catalog = catalog
        self.settings = settings or Settings()
        self.listings = ListingCache(listing_cache_mb * 1024 * 1024)
        self.max_connections = max_connections
        self._slots = ConnectionSlots(max(1, max_connections), int(self.settings.max_connections_per_peer))
        self._refusal_logged: dict[str, float] = {}
        self._stopping = threading.Event()
        transport_security.check(self.settings)  # a bad certificate or keytab fails here, not per connection
        self.sock = sock or self._listen(host, port)
        self.host, self.port = self.sock.getsockname()[:2]

    @staticmethod
    def _listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
        return sock

    def serve_forever(self) -> None:
        log.info("metastore listening on thrift://%s:%d", self.host, self.port)
        while not self._stopping.is_set():
            try:
                conn, addr = self.sock.accept()
            except OSError:
                if self._stopping.is_set():
                    break
                raise
            if not self._admit(addr):
                conn.close()
                continue
            threading.Thread(target=self._serve_connection, args=(conn, addr), daemon=True,
                             name=f"hms-{addr[0]}:{addr[1]}").start()  # fmt: skip

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, `mortar up`)."""
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="hms-accept")
        thread.start()
        return thread

    def stop(self) -> None:
        self._stopping.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _admit(self, addr) -> bool:
        """Count a connection from `addr`; False when max_connections are open, or when its peer already has
        max_connections_per_peer open in this process (logged at most once a minute per peer)."""
        peer = addr[0]
        cap = self._slots.admit(peer)
        if cap is None:
            return True
        if cap == "max_connections":
            log.warning("refusing connection from %s: %d connections open", addr, self.max_connections)
            return False
        now = time.monotonic()
        if now - self._refusal_logged.get(peer, -1e9) >= 60:
            self._refusal_logged[peer] = now
            log.warning("refusing connections from %s: %d open (max_connections_per_peer)", peer,
                        self._slots.open_from(peer))  # fmt: skip
        return False

    def _serve_calls(self, processor: Processor, iprot, oprot, peer: str) -> None:
        """Answer calls until the connection ends, each request bounded (BoundedInput, _Timeouts)."""
        timeouts = _current.timeouts
        bounded = BoundedInput(iprot.trans, self.settings)
        compact = isinstance(iprot, TCompactProtocol)
        while not self._stopping.is_set():
            timeouts.begin()
            chunk = bounded.first_chunk()
            processor.arrived = time.perf_counter()
            if len(chunk) <= bounded.direct_bytes and self._process_at_hand(processor, iprot, oprot, bounded, chunk):
                continue
            try:
                message = bounded.whole_message(compact)
            except RequestTooLarge as e:
                log.warning("refusing a request from %s: %s", peer, e)
                if e.name is not None:
                    _refuse_request(e, oprot)
                    bounded.drain(bounded.max_bytes)
                return  # the rest of the request was not read: the connection cannot go on
            processor.process(_input_protocol(iprot, TTransport.TMemoryBuffer(message)), oprot)
            if len(message) > FAST_BYTES:
                del message
                _release_memory()

    @staticmethod
    def _process_at_hand(processor: Processor, iprot, oprot, bounded: BoundedInput, chunk: bytes) -> bool:
        """Answer a short request (get_table, listings: the hot path) straight from the bytes at hand, when
        they hold it whole: DIRECT_BYTES bound what it can hold (structs, elements, nesting) far under the
        limits, so no scan is needed. False when decoding wanted more bytes: the handler did not run (the
        arguments are decoded before it is called), and the request is then read whole and scanned."""
        at_hand = _Chunk(chunk)
        try:
            processor.process(_input_protocol(iprot, at_hand), oprot)
        except Exception:
            if at_hand.underflow:
                return False
            raise
        bounded.keep(at_hand._buffer.read())
        return True

    def _serve_connection(self, conn: socket.socket, addr) -> None:
        _current.timeouts = _Timeouts(self.settings, conn)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            principal = None
            if transport_security.enabled(self.settings):  # TLS, then SASL GSSAPI; refused: logged, closed
                conn, principal = transport_security.secure(conn, self.settings)
            protocols = open_protocols(conn)
            if protocols is None:
                log.info("closing connection from %s: not a Thrift binary or compact message", addr[0])
                return
            iprot, oprot = protocols
            processor = Processor(Handler(self.catalog, self.listings, self.settings, peer=addr[0], principal=principal))
            self._serve_calls(processor, iprot, oprot, addr[0])
        except TTransport.TTransportException as e:
            if e.type != TTransport.TTransportException.END_OF_FILE:
                log.info("closing connection from %s: %s", addr[0], e)
        except (ConnectionError, OSError) as e:
            log.debug("connection from %s ended: %s", addr[0], e)
        except Exception as e:  # noqa: BLE001 - malformed input must end only this connection
            log.info("closing connection from %s after bad input: %s: %s", addr[0], type(e).__name__, e)
        finally:
            _current.timeouts = None
            try:
                conn.close()
            finally:
                self._slots.release(addr[0])


def serve(catalog: CatalogService, host: str, port: int, processes: int = 1, max_connections: int = 1000,
          on_ready=None, listing_cache_mb: int = LISTING_CACHE_MB, settings: Settings | None = None) -> None:  # fmt: skip
    """Serve until SIGTERM or Ctrl-C. With several processes, each accepts on the same port
    (SO_REUSEPORT, the kernel spreads connections) so that calls use every core despite the GIL."""
    Sql.compile_all(catalog.ctx.engine.dialect)
    if processes <= 1:
        server = MetastoreServer(catalog, host, port, max_connections, listing_cache_mb=listing_cache_mb,
                                 settings=settings)
        signal.signal(signal.SIGTERM, lambda *_: server.stop())
        _freeze_startup()
        if on_ready:
            on_ready(server.port)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            server.stop()
        return
    catalog.ctx.engine.dispose()  # no pooled connection may cross the fork
    # bound, not listening: fails early if the port is taken, and picks the port when it is 0
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind((host, port))
    port = probe.getsockname()[1]
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            os._exit(_serve_child(catalog, host, port, max_connections, listing_cache_mb, settings))
        children.append(pid)
    probe.close()
    if on_ready:
        on_ready(port)

    def stop(*_):
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        while True:
            try:
                os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break


def _freeze_startup() -> None:
    """What start-up made (the Thrift bindings, SQLAlchemy, the catalog) lives as long as the process: out
    of the collector's sight, so that the full collections that decoding large requests sets off do not
    walk it again and again (measured: 0.95 s of collections during three add_partitions of 10,000
    partitions, 0.13 s after; the server's time for each 1.45-1.78 s, then 1.07-1.11 s)."""
    gc.collect()
    gc.freeze()


def _serve_child(catalog: CatalogService, host: str, port: int, max_connections: int, listing_cache_mb: int,
                 settings: Settings | None) -> int:  # fmt: skip
    try:
        sock = MetastoreServer._listen(host, port, reuse_port=True)
        server = MetastoreServer(catalog, max_connections=max_connections, sock=sock, listing_cache_mb=listing_cache_mb,
                                 settings=settings)  # fmt: skip
        signal.signal(signal.SIGTERM, lambda *_: server.stop())
        signal.signal(signal.SIGINT, lambda *_: server.stop())
        _freeze_startup()
        server.serve_forever()
        return 0
    except Exception:  # noqa: BLE001
        log.exception("metastore process failed")
        return 1
