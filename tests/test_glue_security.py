"""The Glue API's doors: SigV4 is authentication (bad signatures, stale dates, unknown and deleted keys are
refused and audited), the key's user's role and grants apply, unsigned callers get the anonymous policy, and
bad requests get clear 4xx answers. Served by `mortar glue-api` (anonymous=read, 1 MB requests). Keys, users,
roles and grants changed by another process count from the next request on a kept-alive connection; the
HTTP server's framing (chunked bodies, pipelining, smuggling attempts, oversized heads) and bounds
(connections per peer, request and idle timeouts)."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from click.testing import CliRunner

from tests.conftest import unique
from tests.glue_fixtures import REGION, start_glue, stop_glue


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("glue-sec")
    s = start_glue(tmp, f"sqlite:///{tmp / 'catalog.db'}", standalone=True, anonymous="read", glue_max_request_mb="1")
    yield s
    stop_glue(s)


@pytest.fixture(scope="module")
def service(server):
    svc = server.service()
    yield svc
    svc.ctx.engine.dispose()


def _post(server, op: str, body: bytes | dict, key: tuple[str, str] | None = None, at=None, tamper: bytes | None = None,
          headers: dict | None = None) -> tuple[int, dict]:  # fmt: skip
    """A raw Glue request, signed by botocore's SigV4 with `key` at time `at` (then optionally tampered)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = AWSRequest(method="POST", url=server.url + "/", data=data, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSGlue.{op}", **(headers or {})})  # fmt: skip
    if key is not None:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at or datetime.datetime.now(datetime.UTC)):
            SigV4Auth(Credentials(*key), "glue", REGION).add_auth(req)
    prepared = req.prepare()
    out = urllib.request.Request(server.url + "/", data=tamper or data, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(out, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _denials(service, after: int) -> list:
    return [r for r in service.audit.records(after_id=after) if r.action == "DENIED"]


def test_signed_requests_act_as_the_keys_user(server, service):
    glue = server.client("editor")
    name = unique("sec")
    glue.create_database(DatabaseInput={"Name": name})
    made = [r for r in service.audit.records(db=name) if r.action == "CREATE_DATABASE"]
    assert [r.user for r in made] == ["editor"]
    assert _post(server, "GetDatabase", {"Name": name}, server.keys["viewer"])[0] == 200


@pytest.mark.parametrize("attack", ["bad secret", "unknown key", "stale date", "future date", "tampered body"])
def test_signature_attacks_are_refused_and_audited(server, service, attack):
    before = service.audit.last_event_id()
    key, secret = server.keys["admin"]
    body = {"DatabaseInput": {"Name": unique("evil")}}
    now = datetime.datetime.now(datetime.UTC)
    cases = {
        "bad secret": dict(key=(key, secret + "x")),
        "unknown key": dict(key=("MKIAUNKNOWNKEY00000", secret)),
        "stale date": dict(key=(key, secret), at=now - datetime.timedelta(minutes=20)),
        "future date": dict(key=(key, secret), at=now + datetime.timedelta(minutes=20)),
        "tampered body": dict(key=(key, secret), tamper=json.dumps({"DatabaseInput": {"Name": unique("evil")}}).encode()),
    }
    status, answer = _post(server, "CreateDatabase", body, **cases[attack])
    expected = {"unknown key": "UnrecognizedClientException"}.get(attack, "InvalidSignatureException")
    assert (status, answer["__type"]) == (400, expected), answer
    if "date" in attack:
        assert "Signature expired" in answer["Message"]
    assert body["DatabaseInput"]["Name"] not in [d["Name"] for d in server.client("admin").get_databases()["DatabaseList"]]
    denials = _denials(service, before)
    assert len(denials) == 1 and denials[0].details["peer"] == "127.0.0.1" and "Glue API" in denials[0].details["reason"]
    assert denials[0].user == ("unknown-access-key" if attack == "unknown key" else "admin")


def test_a_reader_cannot_write(server, service):
    before = service.audit.last_event_id()
    glue = server.client("viewer")
    with pytest.raises(glue.exceptions.AccessDeniedException) as e:
        glue.create_database(DatabaseInput={"Name": unique("nope")})
    assert "viewer" in str(e.value)
    name = unique("ro")
    server.client("admin").create_database(DatabaseInput={"Name": name})
    with pytest.raises(glue.exceptions.AccessDeniedException):
        glue.delete_database(Name=name)
    assert server.client("admin").get_database(Name=name)["Database"]["Name"] == name
    denials = _denials(service, before)
    assert [(d.user, d.details["action"], d.details["peer"]) for d in denials] == [("viewer", "write", "127.0.0.1")] * 2


def test_grants_limit_what_a_user_sees(server, service):
    admin, limited = server.client("admin"), server.client("limited")
    secret_db = unique("hidden")
    admin.create_database(DatabaseInput={"Name": secret_db})
    admin.create_database(DatabaseInput={"Name": "granted"})
    for db in (secret_db, "granted"):
        admin.create_table(DatabaseName=db, TableInput={"Name": "orders", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}]}})
    assert [d["Name"] for d in limited.get_databases()["DatabaseList"]] == ["granted"]
    assert {t["DatabaseName"] for t in limited.search_tables(SearchText="orders")["TableList"]} == {"granted"}
    before = service.audit.last_event_id()
    for call in (lambda: limited.get_database(Name=secret_db), lambda: limited.get_tables(DatabaseName=secret_db),
                 lambda: limited.get_table(DatabaseName=secret_db, Name="orders"),
                 lambda: limited.delete_table(DatabaseName=secret_db, Name="orders")):  # fmt: skip
        with pytest.raises(limited.exceptions.AccessDeniedException):
            call()
    assert len(_denials(service, before)) == 4
    limited.update_table(DatabaseName="granted", TableInput={"Name": "orders", "StorageDescriptor": {"Columns": [{"Name": "b", "Type": "int"}]}})


def test_anonymous_callers_get_the_anonymous_policy(server):
    anon = server.client(None)
    assert "default" in [d["Name"] for d in anon.get_databases()["DatabaseList"]]
    with pytest.raises(anon.exceptions.AccessDeniedException) as e:
        anon.create_database(DatabaseInput={"Name": unique("anon")})
    assert "anonymous" in str(e.value)


def test_bad_requests_get_clear_client_errors(server):
    key = server.keys["admin"]
    assert _post(server, "NoSuchOperation", {}, key)[1]["__type"] == "UnknownOperationException"
    status, answer = _post(server, "GetDatabases", b"{not json", key)
    assert (status, answer["__type"]) == (400, "SerializationException")
    status, answer = _post(server, "GetDatabases", b"[1, 2]", key)
    assert (status, answer["__type"]) == (400, "SerializationException")
    status, answer = _post(server, "BatchCreatePartition", b" " * (1024 * 1024 + 10), key)
    assert status == 413 and "glue_max_request_mb" in answer["Message"]
    status, answer = _post(server, "GetDatabases", {"MaxResults": -3}, key)
    assert (status, answer["__type"]) == (400, "InvalidInputException")
    status, answer = _post(server, "GetDatabases", {"NextToken": "garbage"}, key)
    assert (status, answer["__type"]) == (400, "InvalidInputException")
    status, answer = _post(server, "GetTable", {"DatabaseName": "default"}, key)
    assert (status, answer["__type"]) == (400, "InvalidInputException") and "Name" in answer["Message"]
    status, answer = _post(server, "CreateTable", {"DatabaseName": "default", "TableInput": {
        "Name": "bad", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "not a type("}]}}}, key)  # fmt: skip
    assert (status, answer["__type"]) == (400, "InvalidInputException")
    for op, body in (("CreateTable", {"DatabaseName": "default", "TableInput": {"Name": "x", "LastAccessTime": "soon"}}),
                     ("GetPartitions", {"DatabaseName": "default", "TableName": ["x"]}),
                     ("CreateDatabase", {"DatabaseInput": ["not", "an", "object"]}),
                     ("BatchGetPartition", {"DatabaseName": "default", "TableName": "t", "PartitionsToGet": "all"})):  # fmt: skip
        status, answer = _post(server, op, body, key)
        assert (status, answer["__type"]) == (400, "InvalidInputException"), (op, answer)
    status, answer = _post(server, "GetDatabases", b"[" * 100_000 + b"]" * 100_000, key)
    assert (status, answer["__type"]) == (400, "SerializationException")


def test_access_keys_from_the_cli(server, service):
    from mortar.cli import main

    runner = CliRunner()
    env = {k: server.env[k] for k in ("MORTAR_SECRET_KEY", "MORTAR_DATA_DIR", "MORTAR_DATABASE_URL", "MORTAR_WAREHOUSE")}
    made = runner.invoke(main, ["user", "access-key", "create", "viewer", "--description", "ci"], env=env)
    assert made.exit_code == 0, made.output
    lines = dict(line.split(" = ") for line in made.output.strip().splitlines())
    key, secret = lines["aws_access_key_id"], lines["aws_secret_access_key"]
    assert _post(server, "GetDatabases", {}, (key, secret))[0] == 200
    listed = runner.invoke(main, ["user", "access-key", "list", "viewer"], env=env)
    assert key in listed.output and secret not in listed.output and "last used 20" in listed.output
    assert runner.invoke(main, ["user", "access-key", "delete", "viewer", key], env=env).exit_code == 0
    status, answer = _post(server, "GetDatabases", {}, (key, secret))
    assert (status, answer["__type"]) == (400, "UnrecognizedClientException")
    assert runner.invoke(main, ["user", "access-key", "delete", "viewer", key], env=env).exit_code != 0
    stored = service.ctx.engine.connect().exec_driver_sql("SELECT secret FROM glue_access_keys").scalars().all()
    assert stored and all(s.startswith("mortar-enc:") for s in stored)  # secrets at rest are encrypted


# --- access keys checked on every request, on kept-alive connections too -----------------------------------


def _signed(server, op: str, body: dict, key: tuple[str, str]) -> tuple[bytes, dict]:
    data = json.dumps(body).encode()
    req = AWSRequest(method="POST", url=server.url + "/", data=data, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSGlue.{op}"})  # fmt: skip
    SigV4Auth(Credentials(*key), "glue", REGION).add_auth(req)
    return data, dict(req.prepare().headers)


def _kept_alive(server):
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def call(op: str, body: dict, key: tuple[str, str]) -> tuple[int, dict]:
        data, headers = _signed(server, op, body, key)
        conn.request("POST", "/", body=data, headers=headers)
        r = conn.getresponse()
        assert not r.will_close  # the same connection throughout
        return r.status, json.loads(r.read() or b"{}")

    return conn, call


def test_key_and_user_changes_count_from_the_next_request(server, service):
    """A key's user, role, grants and the key itself are read from storage on every request: a change made
    by another process (here: the test's own catalog service) counts at once, on a connection kept open."""
    from metastore.glue.keys import AccessKeys

    name, db = unique("rev"), unique("revdb")
    service.users.create(name, "correct horse battery", "editor")
    keys = AccessKeys(service.ctx)
    key, secret = keys.create(name, "revocation")
    conn, call = _kept_alive(server)
    try:
        cred = (key.access_key_id, secret)
        assert call("CreateDatabase", {"DatabaseInput": {"Name": db}}, cred)[0] == 200
        assert call("GetDatabase", {"Name": db}, cred)[0] == 200
        service.users.update(name, role="viewer")  # a demotion: no more writes
        status, answer = call("CreateDatabase", {"DatabaseInput": {"Name": unique("no")}}, cred)
        assert (status, answer["__type"]) == (400, "AccessDeniedException")
        service.users.update(name, databases=["default"])  # restricted: the database is out of reach
        status, answer = call("GetDatabase", {"Name": db}, cred)
        assert (status, answer["__type"]) == (400, "AccessDeniedException")
        assert call("GetDatabase", {"Name": "default"}, cred)[0] == 200
        service.users.update(name, databases=None)
        assert call("GetDatabase", {"Name": db}, cred)[0] == 200
        keys.delete(name, key.access_key_id)  # revoked: refused from the next request on
        status, answer = call("GetDatabase", {"Name": db}, cred)
        assert (status, answer["__type"]) == (400, "UnrecognizedClientException")
        other, other_secret = keys.create(name, "second")
        assert call("GetDatabase", {"Name": db}, (other.access_key_id, other_secret))[0] == 200
        service.users.delete(name)  # the user gone: its keys with it
        status, answer = call("GetDatabase", {"Name": db}, (other.access_key_id, other_secret))
        assert (status, answer["__type"]) == (400, "UnrecognizedClientException")
    finally:
        conn.close()


def test_a_body_swapped_under_a_captured_signature_is_refused(server, service):
    """x-amz-content-sha256 stands for the body in the canonical request: it must be the body's hash."""
    import hashlib

    before = service.audit.last_event_id()
    original = json.dumps({"DatabaseInput": {"Name": unique("fine")}}).encode()
    swapped = json.dumps({"DatabaseInput": {"Name": unique("swapped")}}).encode()
    _, headers = _signed(server, "CreateDatabase", json.loads(original), server.keys["admin"])
    headers["X-Amz-Content-Sha256"] = hashlib.sha256(original).hexdigest()  # not signed, added on the way
    out = urllib.request.Request(server.url + "/", data=swapped, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(out, timeout=30)
    answer = json.loads(e.value.read())
    assert (e.value.code, answer["__type"]) == (400, "InvalidSignatureException")
    assert len(_denials(service, before)) == 1



def test_a_signature_that_leaves_the_operation_out_is_refused(server, service):
    """X-Amz-Target must be signed: else a captured request (GetDatabase of a name) could be sent again as
    another operation on the same body (DeleteDatabase of that name)."""
    name = unique("kept")
    server.client("admin").create_database(DatabaseInput={"Name": name})
    before = service.audit.last_event_id()
    req = AWSRequest(method="POST", url=server.url + "/", data=json.dumps({"Name": name}).encode(),
                     headers={"Content-Type": "application/x-amz-json-1.1"})  # fmt: skip
    SigV4Auth(Credentials(*server.keys["admin"]), "glue", REGION).add_auth(req)
    headers = dict(req.prepare().headers)
    assert "x-amz-target" not in headers["Authorization"]
    headers["X-Amz-Target"] = "AWSGlue.DeleteDatabase"  # added on the way, not signed
    out = urllib.request.Request(server.url + "/", data=req.body, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(out, timeout=30)
    answer = json.loads(e.value.read())
    assert (e.value.code, answer["__type"]) == (400, "InvalidSignatureException")
    assert "must include x-amz-target" in answer["Message"]
    assert server.client("admin").get_database(Name=name)["Database"]["Name"] == name
    assert len(_denials(service, before)) == 1

# --- the HTTP server of `mortar glue-api` ------------------------------------------------------------------


def _raw(server, data: bytes, read_all: bool = False) -> bytes:
    import socket

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        if not read_all:
            return s.recv(65536)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def _request_bytes(server, op: str, body: dict, key, *, chunked: bool = False, expect: bool = False,
                   version: str = "HTTP/1.1", extra: str = "") -> bytes:  # fmt: skip
    data, headers = _signed(server, op, body, key)
    headers["Host"] = server.url.removeprefix("http://")
    if expect:
        headers["Expect"] = "100-continue"
    headers.pop("Content-Length", None)
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        half = len(data) // 2
        payload = b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n" % (half, data[:half], len(data) - half, data[half:])
    else:
        headers["Content-Length"] = str(len(data))
        payload = data
    head = f"POST / {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + extra + "\r\n"
    return head.encode() + payload


def test_http_framing(server):
    key = server.keys["admin"]
    ok = _raw(server, _request_bytes(server, "GetDatabase", {"Name": "default"}, key, chunked=True))
    assert ok.startswith(b"HTTP/1.1 200 ") and b'"Name":"default"' in ok
    answer = _raw(server, _request_bytes(server, "GetDatabase", {"Name": "default"}, key, expect=True), read_all=False)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") or answer.startswith(b"HTTP/1.1 200 ")
    # HTTP/1.0: answered, then closed
    answer = _raw(server, _request_bytes(server, "GetDatabase", {"Name": "default"}, key, version="HTTP/1.0"), read_all=True)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer
    # two requests in one packet (pipelined): two answers, in order
    two = _request_bytes(server, "GetDatabase", {"Name": "default"}, key) * 2
    two += _request_bytes(server, "GetDatabase", {"Name": "default"}, key, extra="Connection: close\r\n")
    assert _raw(server, two, read_all=True).count(b"HTTP/1.1 200 ") == 3
    # both Content-Length and Transfer-Encoding (request smuggling): refused, closed
    both = _request_bytes(server, "GetDatabase", {"Name": "default"}, key, chunked=True, extra="Content-Length: 5\r\n")
    assert _raw(server, both, read_all=True).startswith(b"HTTP/1.1 400 ")
    for bad in (b"GARBAGE\r\n\r\n", b"POST / HTTP/2.0\r\n\r\n", b"POST / HTTP/1.1\r\nno colon\r\n\r\n",
                b"POST / HTTP/1.1\r\n folded: x\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"):  # fmt: skip
        answer = _raw(server, bad, read_all=True)
        assert answer.split(b" ")[1] in (b"400", b"501") and b"Connection: close" in answer, (bad, answer)
    big_head = b"POST / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n"
    assert _raw(server, big_head, read_all=True).startswith(b"HTTP/1.1 431 ")
    many = b"POST / HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    assert _raw(server, many, read_all=True).startswith(b"HTTP/1.1 431 ")
    big_chunked = (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"100000\r\n" + b" " * 0x100000 + b"\r\n"
                   + b"100\r\n" + b" " * 0x100 + b"\r\n0\r\n\r\n")  # fmt: skip
    answer = _raw(server, big_chunked, read_all=True)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"glue_max_request_mb" in answer


def test_connection_bounds(tmp_path):
    """Per-peer connection limit (503, which clients retry), a request that does not arrive whole in time
    (408, closed), an idle connection closed."""
    import socket
    import time

    s = start_glue(tmp_path, f"sqlite:///{tmp_path / 'catalog.db'}", standalone=True, max_connections_per_peer="3",
                   request_timeout_s="1", idle_timeout_s="2")  # fmt: skip
    try:
        host, port = s.url.removeprefix("http://").split(":")
        held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(3)]
        time.sleep(0.2)
        with socket.create_connection((host, int(port)), timeout=10) as extra:
            answer = extra.recv(65536)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"ServiceUnavailableException" in answer
        held[0].sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # never finished
        t0 = time.monotonic()
        assert held[0].recv(65536).startswith(b"HTTP/1.1 408 ") and held[0].recv(1) == b""
        assert 0.8 < time.monotonic() - t0 < 5
        assert held[1].recv(1) == b""  # idle for 2 s: closed without an answer
        for h in held:
            h.close()
        time.sleep(0.2)
        assert s.client("admin").get_database(Name="default")["Database"]["Name"] == "default"
    finally:
        stop_glue(s)


def test_signature_parsing(server):
    """The kept parse of an Authorization header's head gives what the full parse gives; a signature of
    non-ASCII characters is a wrong signature (400), not a fault."""
    from metastore.glue import sigv4

    for header in ("AWS4-HMAC-SHA256 Credential=MKIA1/20261202/eu-west-1/glue/aws4_request, "
                   "SignedHeaders=Content-Type;Host;X-Amz-Date, Signature=" + "0a" * 32,
                   "  AWS4-HMAC-SHA256   Credential=MKIA1/20261202/eu-west-1/glue/aws4_request,SignedHeaders=host,"
                   "Signature=" + "0a" * 32 + "  "):  # fmt: skip
        assert sigv4.parse_authorization(header) == sigv4._parse(header)
    data, headers = _signed(server, "GetDatabases", {}, server.keys["admin"])
    headers["Authorization"] = headers["Authorization"].rsplit("Signature=", 1)[0] + "Signature=" + "é" * 64
    out = urllib.request.Request(server.url + "/", data=data, method="POST",
                                 headers={k: v.encode("latin-1") for k, v in headers.items()})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(out, timeout=30)
    assert (e.value.code, json.loads(e.value.read())["__type"]) == (400, "InvalidSignatureException")
