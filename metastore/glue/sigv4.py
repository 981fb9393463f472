"""AWS Signature Version 4, checked on the server: the signature is recomputed from the request and the
secret of the access key it names, and the request's time must be within `WINDOW_S` of ours.

Answers as AWS gives them (HTTP 400): an unknown key → `UnrecognizedClientException`, a signature that
does not match or a stale/missing date → `InvalidSignatureException`, a malformed header →
`IncompleteSignatureException`.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
WINDOW_S = 15 * 60
_AUTH = re.compile(r"AWS4-HMAC-SHA256\s+(.*)$", re.S)
_SPACES = re.compile(r"\s+")


class SigV4Error(Exception):
    def __init__(self, type_: str, message: str):
        super().__init__(message)
        self.type, self.message = type_, message


class Credential(NamedTuple):
    access_key_id: str
    date: str  # yyyymmdd
    region: str
    service: str


def parse_authorization(header: str) -> tuple[Credential, list[str], str]:
    """(credential scope, signed header names, signature) of an Authorization header."""
    head, sep, sent = header.rpartition(", Signature=")
    if sep and len(sent) == 64 and sent.isascii() and sent.isalnum():  # as SDKs write it: the part before the signature is
        try:  # the same on every request of a client in a day, so its parse is kept
            cred, signed = _parsed_head(head)
            return cred, list(signed), sent
        except SigV4Error:
            pass  # parsed again below, as a whole, for the error of the whole header
    return _parse(header)


@functools.lru_cache(maxsize=1024)
def _parsed_head(head: str) -> tuple[Credential, tuple[str, ...]]:
    cred, signed, _ = _parse(head + ", Signature=" + "0" * 64)
    return cred, tuple(signed)


def _parse(header: str) -> tuple[Credential, list[str], str]:
    m = _AUTH.match(header.strip())
    if not m:
        raise SigV4Error("IncompleteSignatureException", f"Authorization header requires the {ALGORITHM} algorithm")
    fields: dict[str, str] = {}
    for part in m.group(1).split(","):
        name, _, value = part.strip().partition("=")
        fields[name.strip()] = value.strip()
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise SigV4Error("IncompleteSignatureException",
                         f"Authorization header requires '{missing[0]}' parameter")  # fmt: skip
    cred, signed = _scope(fields["Credential"], fields["SignedHeaders"])
    return cred, list(signed), fields["Signature"]


@functools.lru_cache(maxsize=1024)
def _scope(credential: str, signed_headers: str) -> tuple[Credential, tuple[str, ...]]:
    """The parsed Credential and SignedHeaders fields (the same on every request of a client in a day)."""
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SigV4Error("IncompleteSignatureException",
                         "Credential should be scoped to a valid region, service and aws4_request")  # fmt: skip
    return Credential(*scope[:4]), tuple(signed_headers.lower().split(";"))


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else []:
        k, _, v = item.partition("=")
        pairs.append((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def signing_key(secret: str, cred: Credential) -> bytes:
    return _signing_key(secret, cred.date, cred.region, cred.service)


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key of (secret, date, region, service): four HMACs, the same all day for a key's requests,
    so kept (a pure function of its arguments: a changed or deleted key is another secret or no lookup)."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


@functools.lru_cache(maxsize=1024)
def _signer(secret: str, date: str, region: str, service: str) -> hmac.HMAC:
    """An HMAC keyed with the signing key, copied for each request (cheaper than keying one anew)."""
    return hmac.new(_signing_key(secret, date, region, service), digestmod=hashlib.sha256)


def _header_value(value: str) -> str:
    """A header's value as canonical requests carry it: trimmed, runs of spaces as one (every whitespace
    character but the space is unprintable: a printable value without two spaces in a row is already so)."""
    value = value.strip()
    return value if value.isprintable() and "  " not in value else _SPACES.sub(" ", value)


def signature(secret: str, cred: Credential, amz_date: str, method: str, path: str, query: str,
              headers: Mapping[str, str], signed: list[str], body: bytes) -> str:  # fmt: skip
    """The signature of a request, as the client computes it (`headers`: lower-case names)."""
    canonical_headers = "".join(f"{h}:{_header_value(headers.get(h, ''))}\n" for h in signed)
    payload = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    if payload == "UNSIGNED-PAYLOAD":
        payload = hashlib.sha256(body).hexdigest()
    uri = "/" if path in ("", "/") else quote(path, safe="/-_.~")
    canonical = "\n".join([method, uri, _canonical_query(query), canonical_headers,
                           ";".join(signed), payload])  # fmt: skip
    scope = f"{cred.date}/{cred.region}/{cred.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    mac = _signer(secret, cred.date, cred.region, cred.service).copy()
    mac.update(to_sign.encode())
    return mac.hexdigest()


_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\Z", re.A)


@functools.lru_cache(maxsize=64)
def _parse_date(text: str) -> datetime.datetime | None:
    """An X-Amz-Date (yyyymmddThhmmssZ, UTC) as a datetime; None when it is not one."""
    m = _DATE.match(text)
    if m is None:
        return None
    try:
        return datetime.datetime(*map(int, m.groups()), tzinfo=datetime.UTC)
    except ValueError:
        return None


def verify(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
           secret_of: Callable[[str], str | None], now: datetime.datetime | None = None) -> Credential:
    """Check a signed request; returns its credential (the access key id and the region it signed for).
    `headers` have lower-case names; `secret_of(access_key_id)` gives the key's secret or None."""  # fmt: skip
    cred, signed, sent = parse_authorization(headers.get("authorization", ""))
    for name in ("host", "x-amz-date", "x-amz-target"):  # else a captured request could be sent again as another
        if name not in signed and (name == "host" or name in headers):  # operation, or at another time
            raise SigV4Error("InvalidSignatureException", f"the signed headers must include {name}")
    secret = secret_of(cred.access_key_id)
    if secret is None:
        raise SigV4Error("UnrecognizedClientException", "The security token included in the request is invalid.")
    amz_date = headers.get("x-amz-date", "")
    when = _parse_date(amz_date)
    if when is None:
        raise SigV4Error("IncompleteSignatureException",
                         "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header")  # fmt: skip
    now = now or datetime.datetime.now(datetime.UTC)
    if abs((now - when).total_seconds()) > WINDOW_S:
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        edge = "earlier" if when < now else "later"
        raise SigV4Error("InvalidSignatureException",
                         f"Signature expired: {amz_date} is now {edge} than {stamp} (15 min window)")  # fmt: skip
    if cred.date != amz_date[:8]:
        raise SigV4Error("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP")
    given = headers.get("x-amz-content-sha256")
    if given and given != "UNSIGNED-PAYLOAD" and not hmac.compare_digest(given.lower(), hashlib.sha256(body).hexdigest()):
        # the canonical request carries the header's hash, not the body's: they must agree, else a body
        # swapped under a captured signature (with the old body's hash in this header) would pass
        raise SigV4Error("InvalidSignatureException",
                         "The provided 'x-amz-content-sha256' header does not match what was computed.")  # fmt: skip
    expected = signature(secret, cred, amz_date, method, path, query, headers, signed, body)
    if not sent.isascii() or not hmac.compare_digest(expected, sent.lower()):
        raise SigV4Error("InvalidSignatureException",
                         "The request signature we calculated does not match the signature you provided. Check "
                         "your AWS Secret Access Key and signing method. Consult the service documentation for "
                         "details.")  # fmt: skip
    return cred
