"""The HTTP server of `mortar glue-api`: HTTP/1.1 with keep-alive, one thread per connection, requests handed
straight to `GlueApp.answer` (no WSGI layer, no hand-off between threads).

Glue clients (boto3, pyiceberg, Trino, Spark) keep a few connections open and send one request at a time on
each, so a thread that owns its connection answers with the least latency: reading the request, checking its
signature, reading the catalog and writing the answer all happen on it, a few tens of microseconds of HTTP
around the work itself (waitress, a general WSGI server, costs ~0.2 ms per request on this path).

Bounds, from the same settings as the Thrift port: `max_connections` open at once and
`max_connections_per_peer` per address (beyond them a connection gets 503, which clients retry), a
connection silent between requests for `idle_timeout_s` is closed, a request must arrive whole within
`request_timeout_s`, request heads are at most 64 KB and 100 headers, bodies at most `glue_max_request_mb`
(413). Content-Length and chunked bodies are read; a request with both, or with another transfer coding, is
refused (400), as are malformed heads. `Expect: 100-continue` is answered.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from urllib.parse import unquote

from metastore.connection_slots import ConnectionSlots
from metastore.glue.errors import GlueError
from metastore.glue.http import CONTENT_TYPE, GlueApp

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_HEADERS = 100
_REASONS = {200: b"OK", 400: b"Bad Request", 405: b"Method Not Allowed", 408: b"Request Timeout",
            413: b"Payload Too Large", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
            501: b"Not Implemented", 503: b"Service Unavailable"}  # fmt: skip
_STATUS_LINES = {s: b"HTTP/1.1 %d %s\r\n" % (s, r) for s, r in _REASONS.items()}
_HEAD_TAIL = b"Content-Type: " + CONTENT_TYPE.encode() + b"\r\nContent-Length: "


class _Refused(Exception):
    """A request answered with an error, after which the connection closes (its bytes cannot be trusted)."""

    def __init__(self, status: int, type_: str, message: str):
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


class _Closed(Exception):
    """The peer closed the connection, or was silent too long, between requests: close without an answer."""


class GlueServer:
    """`GlueApp` served over HTTP/1.1 on (host, port): `run()` until `close()`."""

    def __init__(self, app: GlueApp, host: str, port: int, *, max_connections: int = 1000,
                 max_per_peer: int = 200, idle_timeout_s: float = 300.0, request_timeout_s: float = 60.0):  # fmt: skip
        self.app = app
        self.max_connections, self.max_per_peer = max(1, max_connections), max(1, max_per_peer)
        self.idle_timeout_s, self.request_timeout_s = idle_timeout_s, request_timeout_s
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=1024,
                                         dualstack_ipv6=host == "::" and socket.has_dualstack_ipv6())  # fmt: skip
        self.effective_port = self.sock.getsockname()[1]
        self._slots = ConnectionSlots(self.max_connections, self.max_per_peer)
        self._lock = threading.Lock()
        self._busy = 0  # requests being answered
        self._closing = False

    # --- accepting ----------------------------------------------------------------------------------

    def run(self) -> None:
        """Accept connections until `close()`; each is served by a thread of its own."""
        while not self._closing:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                if self._closing:
                    break
                time.sleep(0.01)  # out of descriptors, say: let the others finish
                continue
            peer = addr[0]
            if self._slots.admit(peer) is not None:
                self._refuse_busy(conn, peer)
                continue
            try:
                threading.Thread(target=self._serve, args=(conn, peer), name=f"glue-{peer}", daemon=True).start()
            except RuntimeError:  # no thread to be had
                self._slots.release(peer)
                self._refuse_busy(conn, peer)

    def close(self, wait_s: float = 5.0) -> None:
        """Stop accepting; wait up to `wait_s` for the requests being answered."""
        self._closing = True
        try:
            self.sock.close()
        except OSError:
            pass
        deadline = time.monotonic() + wait_s
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.01)

    def _refuse_busy(self, conn: socket.socket, peer: str) -> None:
        log.warning("Glue API: connection from %s refused (max_connections %d, max_connections_per_peer %d)",
                    peer, self.max_connections, self.max_per_peer)  # fmt: skip
        try:
            conn.settimeout(1.0)
            conn.sendall(_response(503, GlueApp.error_body(GlueError(
                "ServiceUnavailableException", "too many connections: try again later", 503)), "", close=True))  # fmt: skip
        except OSError:
            pass
        finally:
            conn.close()

    # --- one connection -----------------------------------------------------------------------------

    def _serve(self, conn: socket.socket, peer: str) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = _Reader(conn, self.request_timeout_s)
            while not self._closing:
                try:
                    if not self._one(conn, reader, peer):
                        break
                except _Closed:
                    break
                except _Refused as e:
                    body = GlueApp.error_body(GlueError(e.type, e.message, e.status))
                    conn.settimeout(5.0)
                    conn.sendall(_response(e.status, body, "", close=True))
                    break
        except OSError:  # reset by the peer, a send that timed out
            pass
        except Exception:  # noqa: BLE001 - a fault of ours: logged, the connection closed
            log.exception("Glue API: connection from %s failed", peer)
        finally:
            try:
                conn.close()
            finally:
                self._slots.release(peer)

    def _one(self, conn: socket.socket, reader: _Reader, peer: str) -> bool:
        """Read one request, answer it; False when the connection is to close."""
        head = reader.head(self.idle_timeout_s)
        deadline = reader.deadline
        method, target, version, headers = _parse_head(head)
        keep = version == "HTTP/1.1"
        connection = headers.get("connection", "").lower()
        if "close" in connection:
            keep = False
        elif "keep-alive" in connection:
            keep = True
        te = headers.get("transfer-encoding")
        length_text = headers.get("content-length")
        max_body = self.app.max_body
        if te is not None:
            if length_text is not None:
                raise _Refused(400, "SerializationException", "a request cannot have both Content-Length and Transfer-Encoding")
            if te.strip().lower() != "chunked":
                raise _Refused(501, "SerializationException", f"Transfer-Encoding {te[:40]!r} is not supported")
            if headers.get("expect", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = reader.chunked(max_body, deadline)
            if body is None:
                e = self.app.too_large(None)
                raise _Refused(e.status, e.type, e.message)
        else:
            length = 0
            if length_text is not None:
                if not length_text.strip().isdigit():
                    raise _Refused(400, "SerializationException", "Content-Length is not a number")
                length = int(length_text)
            if length > max_body:
                if length <= 4 * max_body + 65536:  # read and dropped, so that the client, still sending, hears 413
                    reader.discard(length, deadline)
                e = self.app.too_large(length)
                raise _Refused(e.status, e.type, e.message)
            if length and headers.get("expect", "").lower() == "100-continue" and not reader.buffered:
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = reader.exactly(length, deadline) if length else b""
        path, _, query = target.partition("?")
        if path.startswith(("http://", "https://")):  # absolute form
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        if "%" in path:
            path = unquote(path)
        with self._lock:
            self._busy += 1
        try:
            status, payload, request_id = self.app.answer(method, path or "/", query, headers, body, peer)
            alive = keep and version == "HTTP/1.0"  # a 1.0 client is told the connection stays open
            if method == "HEAD":  # the head only
                conn.sendall(_response(status, b"", request_id, close=not keep, length=len(payload), alive=alive))
            elif len(payload) < 64 * 1024:
                conn.sendall(_response(status, payload, request_id, close=not keep, alive=alive))
            else:  # not copied into one buffer with the head
                conn.sendall(_response(status, b"", request_id, close=not keep, length=len(payload), alive=alive))
                conn.sendall(payload)
        finally:
            with self._lock:
                self._busy -= 1
        return keep


def _response(status: int, payload: bytes, request_id: str, close: bool = False, length: int | None = None,
              alive: bool = False) -> bytes:  # fmt: skip
    """The response's bytes: its head, then `payload` (or only the head, for a body of `length` sent apart)."""
    line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d Error\r\n" % status
    extra = b"\r\nConnection: close" if close else b"\r\nConnection: keep-alive" if alive else b""
    rid = b"\r\nx-amzn-RequestId: " + request_id.encode() if request_id else b""
    size = len(payload) if length is None else length
    return b"".join((line, _HEAD_TAIL, str(size).encode(), rid, extra, b"\r\n\r\n", payload))


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """(method, target, version, headers with lower-case names) of a request head (without its blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[0].isascii() or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise _Refused(400, "SerializationException", "malformed request line (METHOD target HTTP/1.1 expected)")
    if len(lines) - 1 > MAX_HEADERS:
        raise _Refused(431, "SerializationException", f"a request may have at most {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or line[0] in " \t":
            raise _Refused(400, "SerializationException", "malformed header line")
        key = name.lower()
        value = value.strip(" \t")
        old = headers.get(key)
        headers[key] = value if old is None else f"{old},{value}"
    return parts[0], parts[1], parts[2], headers


class _Reader:
    """Buffered reads from a connection, with the deadlines of one request. The socket's timeout is changed
    only when it must be (a system call each time): the idle timeout while waiting for a request's first
    bytes, `request_s` for each later read, the request's deadline checked after each."""

    __slots__ = ("conn", "buf", "deadline", "timeout", "request_s")

    def __init__(self, conn: socket.socket, request_s: float):
        self.conn = conn
        self.buf = b""
        self.deadline = 0.0
        self.timeout: float | None = None
        self.request_s = request_s

    def _set(self, timeout: float) -> None:
        if timeout != self.timeout:
            self.conn.settimeout(timeout)
            self.timeout = timeout

    @property
    def buffered(self) -> int:
        return len(self.buf)

    def _recv(self, deadline: float, limit: int = 1 << 20) -> bytes:
        if time.monotonic() > deadline:
            raise _Refused(408, "RequestTimeoutException", "the request did not arrive whole in time (request_timeout_s)")
        self._set(self.request_s)
        try:
            data = self.conn.recv(limit)
        except TimeoutError:
            raise _Refused(408, "RequestTimeoutException", "the request did not arrive whole in time (request_timeout_s)") from None
        if not data:
            raise _Closed
        return data

    def head(self, idle_s: float) -> bytes:
        """The next request's head. Waits `idle_s` for its first byte; from that byte on, the whole request
        has `request_s` (self.deadline)."""
        if not self.buf:
            self._set(idle_s)
            try:
                data = self.conn.recv(1 << 16)
            except TimeoutError:
                raise _Closed from None
            if not data:
                raise _Closed
            self.buf = data
        self.deadline = time.monotonic() + self.request_s
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                if end > MAX_HEAD:
                    raise _Refused(431, "SerializationException", f"the request head is larger than {MAX_HEAD} bytes")
                head, self.buf = self.buf[:end], self.buf[end + 4 :]
                return head
            if len(self.buf) > MAX_HEAD:
                raise _Refused(431, "SerializationException", f"the request head is larger than {MAX_HEAD} bytes")
            self.buf += self._recv(self.deadline, 1 << 16)

    def exactly(self, n: int, deadline: float) -> bytes:
        if len(self.buf) >= n:
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        parts = [self.buf]
        have = len(self.buf)
        self.buf = b""
        while have < n:
            data = self._recv(deadline, min(n - have, 1 << 20))
            parts.append(data)
            have += len(data)
        return b"".join(parts)

    def discard(self, n: int, deadline: float) -> None:
        if len(self.buf) >= n:
            self.buf = self.buf[n:]
            return
        n -= len(self.buf)
        self.buf = b""
        while n > 0:
            n -= len(self._recv(deadline, min(n, 1 << 20)))

    def _line(self, deadline: float) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2 :]
                return line
            if len(self.buf) > 4096:
                raise _Refused(400, "SerializationException", "malformed chunked body")
            self.buf += self._recv(deadline, 1 << 16)

    def chunked(self, max_body: int, deadline: float) -> bytes | None:
        """A chunked body (None: larger than `max_body`); trailers are read and ignored."""
        parts, have = [], 0
        while True:
            size_text = self._line(deadline).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Refused(400, "SerializationException", "malformed chunked body") from None
            if size < 0:
                raise _Refused(400, "SerializationException", "malformed chunked body")
            if size == 0:
                for _ in range(MAX_HEADERS + 1):  # trailers, up to the blank line
                    if not self._line(deadline):
                        return b"".join(parts)
                raise _Refused(431, "SerializationException", f"a request may have at most {MAX_HEADERS} trailers")
            have += size
            if have > max_body:
                return None
            parts.append(self.exactly(size, deadline))
            if self.exactly(2, deadline) != b"\r\n":
                raise _Refused(400, "SerializationException", "malformed chunked body")
