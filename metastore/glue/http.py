"""The HTTP side of the Glue API: a WSGI application answering `POST /` with `X-Amz-Target: AWSGlue.<Op>`.

`GlueApp` is served alone (`mortar glue-api`) and in front of the web application (`mount`): there a request
with an `X-Amz-Target` header goes to Glue, everything else to the console and JSON API, so that
`boto3.client("glue", endpoint_url="http://host:8080")` works against the web port. No web session, cookie
or CSRF token applies to Glue requests: SigV4 is their authentication.

Requests: JSON bodies of at most `glue_max_request_mb` (413 beyond). Answers: `application/x-amz-json-1.1`;
errors `{"__type": ..., "Message": ...}` with HTTP 400 for everything the client did wrong (boto3 retries
5xx), 500 only for a fault of ours.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import json
import logging
import uuid
from collections.abc import Callable
from types import SimpleNamespace

from metastore.catalog import CatalogService
from metastore.catalog.access import Identity, anonymous, user_identity
from metastore.catalog.errors import CatalogError, Forbidden
from metastore.config import Settings
from metastore.glue import operations, sigv4
from metastore.glue.errors import GlueError, from_catalog
from metastore.glue.keys import AccessKeys
from metastore.glue.registry import GlueRequest, RawAnswer

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSGlue."
_REASONS = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed", 413: "Payload Too Large",
            500: "Internal Server Error"}  # fmt: skip


def _json_default(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _headers_of(environ: dict) -> dict[str, str]:
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        out["content-length"] = environ["CONTENT_LENGTH"]
    return out


class GlueApp:
    """The Glue JSON API over `service` as a WSGI application. `extra` reaches operations as `req.extra`
    (e.g. `send_task`, how work is queued for the workers)."""

    def __init__(self, service: CatalogService, settings: Settings, extra: dict | None = None):
        self.service, self.settings = service, settings
        self.extra = dict(extra or {})
        self.keys = AccessKeys(service.ctx)
        self.operations = operations.load()
        self.max_body = int(settings.glue_max_request_mb) * 1024 * 1024
        self._views: dict[str, CatalogService] = {}
        prefix = uuid.uuid4().hex
        self._rid_prefix = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-{prefix[16:20]}-"
        self._rid_count = itertools.count(1)

    # --- one request, whatever serves it ------------------------------------------------------------

    def answer(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes,
               peer: str) -> tuple[int, bytes, str]:  # fmt: skip
        """(HTTP status, JSON body, request id) of one request: `headers` with lower-case names, `raw` the
        whole body. Used by the WSGI application and by `metastore.glue.server` alike."""
        request_id = self._request_id()
        try:
            status, body = self.handle(method, path, query, headers, raw, peer)
        except GlueError as e:
            status, body = e.status, {"__type": e.type, "Message": e.message}
        if isinstance(body, RawAnswer):
            return status, bytes(body), request_id
        return status, json.dumps(body, default=_json_default, separators=(",", ":")).encode(), request_id

    @staticmethod
    def error_body(e: GlueError) -> bytes:
        return json.dumps({"__type": e.type, "Message": e.message}, separators=(",", ":")).encode()

    def too_large(self, length: int | None) -> GlueError:
        if length is None:
            return GlueError("RequestEntityTooLargeException",
                             f"the request body is larger than {self.max_body} bytes (glue_max_request_mb)", 413)  # fmt: skip
        return GlueError("RequestEntityTooLargeException",
                         f"the request body has {length} bytes: at most {self.max_body} are accepted "
                         "(setting glue_max_request_mb); send fewer items per call", 413)  # fmt: skip

    def _request_id(self) -> str:
        """A request id in UUID form: this process's random prefix and a counter (unique, and cheaper than
        a uuid4 per request)."""
        return f"{self._rid_prefix}{next(self._rid_count):012x}"

    # --- WSGI ---------------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable):
        try:
            raw = self._body(environ)
        except GlueError as e:
            status, payload, request_id = e.status, self.error_body(e), self._request_id()
        else:
            status, payload, request_id = self.answer(
                environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "/") or "/", environ.get("QUERY_STRING", ""),
                _headers_of(environ), raw, environ.get("REMOTE_ADDR", "") or "")  # fmt: skip
        start_response(f"{status} {_REASONS.get(status, 'Error')}", [
            ("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", request_id)])  # fmt: skip
        return [payload]

    def _body(self, environ: dict) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise GlueError("SerializationException", "Content-Length is not a number") from None
        if length > self.max_body:
            raise self.too_large(length)
        stream = environ["wsgi.input"]
        data = stream.read(length) if length else b""
        if not length and environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            data = stream.read(self.max_body + 1)
            if len(data) > self.max_body:
                raise self.too_large(None)
        return data

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes,
               peer: str) -> tuple[int, dict | RawAnswer]:  # fmt: skip
        if method != "POST":
            raise GlueError("UnknownOperationException", "the Glue API answers POST requests only", 405)
        target = headers.get("x-amz-target", "")
        if not target.startswith(TARGET_PREFIX):
            raise GlueError("UnknownOperationException",
                            f"X-Amz-Target {target[:80]!r} does not name a Glue operation (AWSGlue.<Operation>)")  # fmt: skip
        op = target[len(TARGET_PREFIX) :]
        identity, region = self.authenticate(method, path, query, headers, raw, peer)
        handler = self.operations.get(op)
        if handler is None:
            raise GlueError("UnknownOperationException", f"operation {op[:80]} is not supported by Mortar's Glue API")
        try:
            text = raw.decode() if raw.isascii() else raw  # (bytes: json finds their encoding)
            body = json.loads(text) if text.strip() else {}
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise GlueError("SerializationException", f"the request body is not JSON: {str(e)[:200]}") from None
        if not isinstance(body, dict):
            raise GlueError("SerializationException", "the request body must be a JSON object")
        req = GlueRequest(self._view(identity.name), identity, self.settings, region=region, peer=peer,
                          extra=self.extra)  # fmt: skip
        try:
            answer = handler(req, body)
        except GlueError:
            raise
        except CatalogError as e:
            raise from_catalog(e) from None
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as e:  # a field of the wrong kind
            log.info("Glue %s: malformed input (%s: %s)", op, type(e).__name__, e)
            raise GlueError("InvalidInputException",
                            f"the request is not a valid {op} input: a field has the wrong type or value "
                            f"({type(e).__name__}: {str(e)[:200]})") from None  # fmt: skip
        except Exception:  # noqa: BLE001 - a fault of ours: logged, answered 500 without internals
            log.exception("Glue %s failed", op)
            raise GlueError("InternalServiceException", f"{op} failed on the server: see its log", 500) from None
        return 200, answer if answer is not None else {}

    def _view(self, user: str) -> CatalogService:
        """The catalog view auditing as `user` (views are kept: making one binds every area)."""
        view = self._views.get(user)
        if view is None:
            if len(self._views) > 1000:
                self._views.clear()
            view = self._views[user] = self.service.for_user(user)
        return view

    # --- identity -----------------------------------------------------------------------------------

    def authenticate(self, method: str, path: str, query: str, headers: dict, raw: bytes,
                     peer: str) -> tuple[Identity, str]:  # fmt: skip
        """The caller's identity and the region it signed for; unsigned requests are anonymous (the same
        policy as the Thrift port). A bad signature is an audited denial. Every signed request is checked
        against its key as stored now (see AccessKeys.lookup)."""
        if "authorization" not in headers:
            return _anonymous(self.settings.anonymous, peer), "us-east-1"
        found: dict = {}

        def secret_of(key_id: str) -> str | None:
            hit = self.keys.lookup(key_id)
            if hit is None:
                return None
            found["user"] = hit[0]
            return hit[1]

        try:
            cred = sigv4.verify(method, path or "/", query, headers, raw, secret_of)
        except sigv4.SigV4Error as e:
            who = found.get("user")
            name = who.name if who is not None else "unknown-access-key"
            try:
                self.service.access.deny(Identity(name, "user", "none", None, peer), "authenticate",
                                         f"Glue API: {e.message}", None, "glue")  # fmt: skip
            except Forbidden:
                pass
            raise GlueError(e.type, e.message) from None
        user = found["user"]
        return _identity(user.name, user.role, None if user.databases is None else tuple(user.databases), peer), cred.region


@functools.lru_cache(maxsize=4096)
def _identity(name: str, role: str, databases: tuple | None, peer: str) -> Identity:
    """A user's identity (kept: the same user, role, grants and peer make the same one)."""
    return user_identity(SimpleNamespace(name=name, role=role, databases=databases), peer)


@functools.lru_cache(maxsize=4096)
def _anonymous(policy: str, peer: str) -> Identity:
    return anonymous(policy, peer)


def mount(app, service: CatalogService, settings: Settings, extra: dict | None = None) -> GlueApp:
    """Answer Glue requests (`POST` with `X-Amz-Target`) on the web application `app` (Flask), before its
    sessions and routes see them."""
    glue = GlueApp(service, settings, extra)
    web = app.wsgi_app

    def dispatch(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET") and environ.get("REQUEST_METHOD") == "POST":
            return glue(environ, start_response)
        return web(environ, start_response)

    app.wsgi_app = dispatch
    return glue
