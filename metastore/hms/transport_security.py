"""Authentication and encryption of the Thrift port, as Hive Metastore deployments do it.

- TLS (`thrift_tls_cert`, `thrift_tls_key`): the accepted socket is wrapped server-side; a client that
  does not speak TLS fails the handshake and is closed. Spark's Hive client: `hive.metastore.use.SSL`.
- Kerberos (`kerberos_principal`, `kerberos_keytab`): every connection must complete a SASL GSSAPI
  handshake (RFC 4752) in Thrift's SASL framing before its first call, as `hive.metastore.sasl.enabled`
  clients do; there is no fallback to plain Thrift. The GSSAPI work is the `gssapi` library's (MIT
  Kerberos); this module only frames it:

    handshake message: status (1 byte: START 1, OK 2, BAD 3, ERROR 4, COMPLETE 5), length (4 bytes,
    big endian), payload. The client sends START with the mechanism name, then OK messages with GSSAPI
    tokens; once the context is established the server offers its security layers (wrapped 4 bytes:
    layer bitmask, max message size) and the client answers with its choice (and authorization id).
    after it: each message is length (4 bytes) + payload, the payload wrapped by GSSAPI when the client
    chose integrity (auth-int) or confidentiality (auth-conf), as is with `auth` (Hadoop's default,
    `hadoop.rpc.protection=authentication`).

`secure(conn, settings)` does both in that order and returns a socket-like object that the server's
protocol detection and Thrift's TSocket use as they would the plain socket, and the client's principal.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading

from metastore.config import Settings

log = logging.getLogger(__name__)

START, OK, BAD, ERROR, COMPLETE = 1, 2, 3, 4, 5
LAYER_NONE, LAYER_INTEGRITY, LAYER_CONFIDENTIALITY = 1, 2, 4
HANDSHAKE_MESSAGE_LIMIT = 64 * 1024  # a GSSAPI token is a few kB (more with a large PAC)
MAX_MESSAGE = 0xFFFFFF  # the largest wrapped message we offer to receive (the field has 3 bytes)


class Refused(ConnectionError):
    """The connection did not authenticate; the reason is logged, the client told only that it failed."""


class SecureConnection:
    """A socket-like view of a connection after TLS and/or SASL: `recv` (including MSG_PEEK, which an
    SSL socket lacks, and MSG_WAITALL) reads the decoded byte stream, `send` writes one SASL message per
    call (TSocket sends a whole flushed buffer in one call). Everything else is the underlying socket's."""

    def __init__(self, sock, sasl: _SaslLayer | None = None, message_limit: int = 256 * 1024 * 1024):
        self._sock = sock
        self._sasl = sasl
        self._buf = bytearray()
        self._limit = message_limit

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _fill(self) -> bool:
        """Read more of the stream into the buffer; False at end of stream."""
        if self._sasl is None:
            data = self._sock.recv(65536)
        else:
            head = _recv_exactly(self._sock, 4)
            if head is None:
                return False
            (length,) = struct.unpack(">I", head)
            if length > self._limit:
                raise ConnectionError(f"SASL message of {length} bytes is over the limit")
            data = _recv_exactly(self._sock, length) if length else b""
            if data is None:
                return False
            data = self._sasl.unwrap(data)
            if not data:
                return True
        if not data:
            return False
        self._buf += data
        return True

    def recv(self, n: int, flags: int = 0) -> bytes:
        wanted = n if flags & socket.MSG_WAITALL else 1
        while len(self._buf) < wanted:
            if not self._fill():
                break
        out = bytes(self._buf[:n])
        if not flags & socket.MSG_PEEK:
            del self._buf[:n]
        return out

    def send(self, data) -> int:
        data = bytes(data)
        if self._sasl is None:
            self._sock.sendall(data)
        else:
            payload = self._sasl.wrap(data)
            self._sock.sendall(struct.pack(">I", len(payload)) + payload)
        return len(data)

    def sendall(self, data) -> None:
        self.send(data)


def _recv_exactly(sock, n: int) -> bytes | None:
    """n bytes, or None when the stream ends first."""
    parts, have = [], 0
    while have < n:
        chunk = sock.recv(n - have)
        if not chunk:
            return None
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


# --- TLS ------------------------------------------------------------------------------------------------

_contexts: dict[tuple[str, str], ssl.SSLContext] = {}
_lock = threading.Lock()


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The server context for this certificate and key (loaded once per process)."""
    with _lock:
        ctx = _contexts.get((cert, key))
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cert, key or None)
            _contexts[(cert, key)] = ctx
        return ctx


# --- SASL GSSAPI ----------------------------------------------------------------------------------------


class _SaslLayer:
    """The security layer the client chose: identity, or GSSAPI wrap/unwrap."""

    def __init__(self, ctx, layer: int):
        self._ctx = ctx
        self.layer = layer

    def wrap(self, data: bytes) -> bytes:
        if self.layer == LAYER_NONE:
            return data
        return self._ctx.wrap(data, self.layer == LAYER_CONFIDENTIALITY).message

    def unwrap(self, data: bytes) -> bytes:
        if self.layer == LAYER_NONE:
            return data
        result = self._ctx.unwrap(data)
        if self.layer == LAYER_CONFIDENTIALITY and not result.encrypted:
            raise ConnectionError("the client chose confidentiality but sent an unencrypted message")
        return result.message


def _split_principal(principal: str) -> tuple[str, str, str]:
    """("hive", "host" or "", "REALM" or "") of "hive/host@REALM"."""
    name, _, realm = principal.partition("@")
    service, _, host = name.partition("/")
    return service, host, realm


_creds: dict[tuple[str, str], object] = {}


def _acceptor_credentials(settings: Settings):
    """Credentials accepting for any key in the service keytab (`kerberos_keytab`, else KRB5_KTNAME or
    the system keytab); which principal the client asked for is checked after the handshake."""
    import gssapi

    key = (settings.kerberos_principal, settings.kerberos_keytab)
    with _lock:
        creds = _creds.get(key)
        if creds is None:
            store = {"keytab": settings.kerberos_keytab} if settings.kerberos_keytab else None
            creds = gssapi.Credentials(usage="accept", store=store)
            _creds[key] = creds
        return creds


def _target_allowed(target: str, configured: str) -> bool:
    """Whether the service principal the client got a ticket for is the configured one (`_HOST` in it
    stands for any host name: the keytab decides which hosts this server answers for)."""
    t_service, t_host, t_realm = _split_principal(target)
    c_service, c_host, c_realm = _split_principal(configured)
    if t_service != c_service or (c_realm and t_realm != c_realm):
        return False
    return c_host in ("", "_HOST") or c_host.lower() == t_host.lower()


def _send_message(sock, status: int, payload: bytes = b"") -> None:
    sock.sendall(struct.pack(">BI", status, len(payload)) + payload)


def _recv_message(sock) -> tuple[int, bytes]:
    head = _recv_exactly(sock, 5)
    if head is None:
        raise Refused("the connection ended during the SASL handshake")
    status, length = struct.unpack(">BI", head)
    if status not in (START, OK, BAD, ERROR, COMPLETE):
        raise Refused(f"not a SASL handshake message (first byte {status:#x}): plain Thrift is not accepted")
    if length > HANDSHAKE_MESSAGE_LIMIT:
        raise Refused(f"SASL handshake message of {length} bytes")
    payload = _recv_exactly(sock, length) if length else b""
    if payload is None:
        raise Refused("the connection ended during the SASL handshake")
    if status in (BAD, ERROR):
        raise Refused(f"the client gave up: {payload[:200].decode('utf-8', 'replace')}")
    return status, payload


def sasl_gssapi_handshake(sock, settings: Settings) -> tuple[str, _SaslLayer]:
    """Run the server side of a SASL GSSAPI handshake on `sock`; the client's principal and its layer."""
    import gssapi

    status, mechanism = _recv_message(sock)
    if status != START:
        raise Refused("the SASL handshake did not begin with START")
    if mechanism != b"GSSAPI":
        raise Refused(f"SASL mechanism {mechanism[:40]!r} is not offered (only GSSAPI)")
    ctx = gssapi.SecurityContext(creds=_acceptor_credentials(settings), usage="accept")
    try:
        while not ctx.complete:
            status, token = _recv_message(sock)
            out = ctx.step(token)
            if not ctx.complete or out:
                _send_message(sock, OK, out or b"")
                if ctx.complete:  # our last token was sent; the client answers it (with nothing)
                    _recv_message(sock)
    except gssapi.exceptions.GSSError as e:
        raise Refused(f"Kerberos authentication failed: {e.gen_message()}") from e
    client = str(ctx.initiator_name)
    target = str(ctx.target_name)
    if not _target_allowed(target, settings.kerberos_principal):
        raise Refused(f"{client} has a ticket for {target}, not for {settings.kerberos_principal}")
    offered = LAYER_NONE | LAYER_INTEGRITY | LAYER_CONFIDENTIALITY
    _send_message(sock, OK, ctx.wrap(struct.pack(">I", offered << 24 | MAX_MESSAGE), False).message)
    _, answer = _recv_message(sock)
    try:
        choice = ctx.unwrap(answer).message
    except gssapi.exceptions.GSSError as e:
        raise Refused(f"bad security layer answer from {client}: {e.gen_message()}") from e
    if len(choice) < 4:
        raise Refused(f"bad security layer answer from {client}")
    layer = choice[0]
    if layer not in (LAYER_NONE, LAYER_INTEGRITY, LAYER_CONFIDENTIALITY) or not layer & offered:
        raise Refused(f"{client} chose security layer {layer}, which was not offered")
    authzid = choice[4:].decode("utf-8", "replace")
    if authzid and authzid not in (client, client.split("@")[0]):
        raise Refused(f"{client} asked to act as {authzid!r}: impersonation is not allowed")
    _send_message(sock, COMPLETE)
    return client, _SaslLayer(ctx, layer)


# --- the hook the server calls ------------------------------------------------------------------------


def _peer(conn) -> str:
    try:
        return str(conn.getpeername()[0])
    except OSError:
        return "?"


def check(settings: Settings) -> None:
    """Fail at start rather than at each connection: load the certificate and key, and the keytab's
    credentials (the `gssapi` package is needed: `pip install mortar[kerberos]`)."""
    if settings.thrift_tls_cert:
        tls_context(settings.thrift_tls_cert, settings.thrift_tls_key)
    if settings.kerberos_principal:
        try:
            import gssapi  # noqa: F401
        except ImportError as e:
            raise RuntimeError("kerberos_principal is set but the gssapi package is missing: "
                               "pip install 'mortar[kerberos]'") from e  # fmt: skip
        _acceptor_credentials(settings)


def enabled(settings: Settings) -> bool:
    return bool(settings.thrift_tls_cert or settings.kerberos_principal)


def secure(conn: socket.socket, settings: Settings, message_limit: int = 256 * 1024 * 1024):
    """(socket-like connection, Kerberos principal or None) after TLS and SASL as the settings ask;
    raises Refused (or an OSError/SSLError) when the client does not complete them. The handshake must
    finish within `request_timeout_s`."""
    timeout = conn.gettimeout()
    peer = _peer(conn)
    conn.settimeout(settings.request_timeout_s or None)
    sock = conn  # the TLS socket replaces (detaches) `conn`
    try:
        if settings.thrift_tls_cert:
            sock = tls_context(settings.thrift_tls_cert, settings.thrift_tls_key).wrap_socket(conn, server_side=True)
        principal, layer = None, None
        if settings.kerberos_principal:
            try:
                principal, layer = sasl_gssapi_handshake(sock, settings)
            except Refused as e:
                log.warning("refusing Thrift connection from %s: %s", peer, e)
                try:
                    _send_message(sock, BAD, b"authentication failed")
                except OSError:
                    pass
                raise
    except ssl.SSLError as e:
        log.warning("refusing Thrift connection from %s: TLS handshake failed: %s", peer, e)
        raise Refused(f"TLS handshake failed: {e}") from e
    sock.settimeout(timeout)
    return SecureConnection(sock, layer, message_limit), principal
