"""The metastore's TCP server.

A thread per connection, like HMS itself: an idle persistent connection (Spark keeps one per session)
holds only its own thread, so it never starves new clients. The transport and protocol are detected
from each connection's first bytes: unframed or framed, binary or compact. Bad input (random bytes,
truncated frames, oversize strings) ends that connection only.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import struct
import threading

from thrift.protocol.TBinaryProtocol import TBinaryProtocol, TBinaryProtocolAccelerated
from thrift.protocol.TCompactProtocol import TCompactProtocolAccelerated
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport import TSocket, TTransport

from metastore.catalog import CatalogService
from metastore.catalog.base import Sql
from metastore.config import Settings
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


_ENCODED = {method: _encoded_reply(method) for method in WIRE_METHODS}


def _peek(sock: socket.socket, n: int) -> bytes:
    return sock.recv(n, socket.MSG_PEEK | socket.MSG_WAITALL)


def open_protocols(sock: socket.socket):
    """(input protocol, output protocol) for this connection, from its first bytes; None if not Thrift."""
    head = _peek(sock, 5)
    if len(head) < 4:
        return None
    framed = head[0] not in (BINARY, COMPACT)
    kind = head[4] if framed and len(head) == 5 else head[0]
    if kind not in (BINARY, COMPACT):
        return None
    tsock = TSocket.TSocket()
    tsock.setHandle(sock)
    trans = TTransport.TFramedTransport(tsock, FRAME_LIMIT) if framed else TTransport.TBufferedTransport(tsock)
    if kind == BINARY:
        proto = TBinaryProtocolAccelerated(trans, strictRead=False, strictWrite=True,
                                           string_length_limit=STRING_LIMIT, container_length_limit=CONTAINER_LIMIT)  # fmt: skip
    else:
        proto = TCompactProtocolAccelerated(trans, string_length_limit=STRING_LIMIT,
                                            container_length_limit=CONTAINER_LIMIT)  # fmt: skip
    return proto, proto


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
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stopping = threading.Event()
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
            if not self._slots.acquire(blocking=False):
                log.warning("refusing connection from %s: %d connections open", addr, self.max_connections)
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

    def _serve_connection(self, conn: socket.socket, addr) -> None:
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
            while not self._stopping.is_set():
                processor.process(iprot, oprot)
        except TTransport.TTransportException as e:
            if e.type != TTransport.TTransportException.END_OF_FILE:
                log.info("closing connection from %s: %s", addr[0], e)
        except (ConnectionError, OSError) as e:
            log.debug("connection from %s ended: %s", addr[0], e)
        except Exception as e:  # noqa: BLE001 - malformed input must end only this connection
            log.info("closing connection from %s after bad input: %s: %s", addr[0], type(e).__name__, e)
        finally:
            try:
                conn.close()
            finally:
                self._slots.release()


def serve(catalog: CatalogService, host: str, port: int, processes: int = 1, max_connections: int = 1000,
          on_ready=None, listing_cache_mb: int = LISTING_CACHE_MB, settings: Settings | None = None) -> None:  # fmt: skip
    """Serve until SIGTERM or Ctrl-C. With several processes, each accepts on the same port
    (SO_REUSEPORT, the kernel spreads connections) so that calls use every core despite the GIL."""
    Sql.compile_all(catalog.ctx.engine.dialect)
    if processes <= 1:
        server = MetastoreServer(catalog, host, port, max_connections, listing_cache_mb=listing_cache_mb,
                                 settings=settings)
        signal.signal(signal.SIGTERM, lambda *_: server.stop())
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


def _serve_child(catalog: CatalogService, host: str, port: int, max_connections: int, listing_cache_mb: int,
                 settings: Settings | None) -> int:  # fmt: skip
    try:
        sock = MetastoreServer._listen(host, port, reuse_port=True)
        server = MetastoreServer(catalog, max_connections=max_connections, sock=sock, listing_cache_mb=listing_cache_mb,
                                 settings=settings)  # fmt: skip
        signal.signal(signal.SIGTERM, lambda *_: server.stop())
        signal.signal(signal.SIGINT, lambda *_: server.stop())
        server.serve_forever()
        return 0
    except Exception:  # noqa: BLE001
        log.exception("metastore process failed")
        return 1
