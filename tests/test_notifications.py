"""Notifications: subscriptions made through the API, delivered by the notifier (runner/notify.py) to a real
HTTP receiver (signed webhooks) and a real SMTP server (aiosmtpd), both started here; a receiver that is
down gets the event once it is back; nothing is sent twice. And the event feed with its cursor."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from metastore.catalog.jobs import Job
from metastore.catalog.types import Column, Database, StorageDescriptor, Table
from metastore.config import Settings
from runner.notify import Notifier
from tests.conftest import free_port
from tests.web_fixtures import make_web

API = "/api/v1"


class Receiver:
    """An HTTP server collecting POSTed bodies with their headers; stop() and start() on the same port."""

    def __init__(self, port: int):
        self.port, self.got, self.server = port, [], None

    def start(self) -> None:
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((dict(self.headers), body, time.time()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mail():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.messages.append((envelope.rcpt_tos, envelope.content.decode(), time.time()))
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _wait(fn, timeout: float = 30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    return fn()


def _fail_a_run(svc, job: str) -> tuple[int, float]:
    run = svc.jobs.start_run(job)
    svc.jobs.claim_run(run.id, "test-worker")
    svc.jobs.finish_run(run.id, "FAILED", error="boom")
    return run.id, time.time()


@pytest.mark.timeout(180)
def test_a_failed_job_is_notified_by_webhook_and_email_and_a_receiver_down_gets_it_later(tmp_path, mail):
    controller, inbox = mail
    w = make_web("sqlite", tmp_path, None)
    svc = w.service
    svc.jobs.create(Job("nightly", "raise SystemExit(1)", job_type="pythonshell"))
    receiver = Receiver(free_port())
    receiver.start()
    hook = w.post(f"{API}/subscriptions", {"name": "ops-hook", "events": ["job.run.FAILED", "job.run.TIMEOUT"],
                                            "channel": "webhook", "target": f"http://127.0.0.1:{receiver.port}/hook",
                                            "object": "nightly"}, who="editor")  # fmt: skip
    assert hook.status_code == 201, hook.get_json()
    secret = hook.get_json()["secret"]
    assert "secret" not in w.get(f"{API}/subscriptions/ops-hook", who="editor").get_json()
    assert w.post(f"{API}/subscriptions", {"name": "ops-mail", "events": ["job.run.FAILED"], "channel": "email",
                                           "target": "ops@example.com"}, who="editor").status_code == 201  # fmt: skip
    bad = w.post(f"{API}/subscriptions", {"name": "x", "events": ["job.exploded"], "channel": "webhook",
                                          "target": "http://h/"}, who="editor")  # fmt: skip
    assert bad.status_code == 400 and "unknown event type" in bad.get_json()["error"]["message"]
    assert w.post(f"{API}/subscriptions", {"name": "v", "events": ["job.run.FAILED"], "channel": "email",
                                           "target": "v@example.com"}, who="viewer").status_code == 403  # fmt: skip
    assert w.get(f"{API}/subscriptions", who="viewer").get_json()["items"] == []  # the editor's are its own

    settings = Settings(data_dir=str(tmp_path / "data"), database_url=w.settings.database_url,
                        smtp_host="127.0.0.1", smtp_port=controller.port, notify_poll_s=0.1)  # fmt: skip
    notifier = Notifier(svc, settings)
    notifier.notify_once()  # the feed's cursor starts here
    notifier.start()
    try:
        run_id, failed_at = _fail_a_run(svc, "nightly")
        assert _wait(lambda: receiver.got), "no webhook arrived"
        headers, body, arrived = receiver.got[0]
        event = json.loads(body)
        assert (event["type"], event["job"], event["details"]["run_id"]) == ("job.run.FAILED", "nightly", run_id)
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Mortar-Signature"] == expected
        assert _wait(lambda: inbox.messages), "no e-mail arrived"
        rcpt, text, mailed = inbox.messages[0]
        assert rcpt == ["ops@example.com"] and "job.run.FAILED: nightly run" in text
        print(f"webhook {arrived - failed_at:.2f} s, e-mail {mailed - failed_at:.2f} s after the failure")

        # the receiver goes down: the delivery is retried with back-off and arrives once it is back
        receiver.stop()
        run2, _ = _fail_a_run(svc, "nightly")
        log = _wait(lambda: [d for d in w.get(f"{API}/subscriptions/ops-hook/deliveries", who="editor").get_json()["items"]
                             if d["last_error"] and d["state"] == "PENDING"])  # fmt: skip
        assert log and "Connection refused" in log[0]["last_error"], log
        receiver.start()
        assert _wait(lambda: len(receiver.got) >= 2), "the retried webhook did not arrive"
        assert json.loads(receiver.got[1][1])["details"]["run_id"] == run2
        assert _wait(lambda: len(inbox.messages) >= 2)
        time.sleep(2)  # what would come twice would have come by now
    finally:
        notifier.stop()
        receiver.stop()
    ids = [json.loads(b)["id"] for _, b, _ in receiver.got]
    assert len(ids) == len(set(ids)) == 2
    assert len(inbox.messages) == 2
    deliveries = w.get(f"{API}/subscriptions/ops-hook/deliveries", who="editor").get_json()["items"]
    assert [d["state"] for d in deliveries] == ["SENT", "SENT"] and deliveries[0]["attempts"] >= 2
    w.service.ctx.engine.dispose()


def test_the_event_feed_pages_with_a_cursor_within_grants(tmp_path):
    w = make_web("sqlite", tmp_path, None)
    svc = w.service
    for db in ("shop", "secret"):
        svc.databases.create(Database(db))
        svc.tables.create(Table(name="t", db_name=db, sd=StorageDescriptor(cols=[Column("a", "int")])))
    t = svc.tables.get("shop", "t")
    t.sd.cols.append(Column("b", "int"))
    svc.tables.alter("shop", "t", t)  # a schema change
    svc.tables.drop("secret", "t")
    svc.users.create("restricted", "correct horse battery", "viewer", databases=["shop"])
    token = svc.users.create_token("restricted", "t")[1]

    page = w.get(f"{API}/events?limit=2").get_json()
    assert [e["type"] for e in page["items"]] == ["table.created", "table.created"]
    rest = w.get(f"{API}/events?after={page['next']}").get_json()
    assert [(e["type"], e["database"]) for e in rest["items"]] == [("table.schema_changed", "shop"),
                                                                 ("table.deleted", "secret")]  # fmt: skip
    assert w.get(f"{API}/events?after={rest['next']}").get_json()["items"] == []
    from metastore.catalog.crawlers import Crawler, CrawlerTarget

    for name, db in (("shop_files", "shop"), ("secret_files", "secret")):
        svc.crawlers.create(Crawler(name=name, targets=[CrawlerTarget(str(tmp_path / name))], database=db))
        svc.crawlers.finish_run(svc.crawlers.start_run(name).id, "SUCCEEDED")
    mine = w.client().get(f"{API}/events", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert {e["database"] for e in mine["items"]} == {"shop", None}
    assert {e["crawler"] for e in mine["items"] if e["database"] is None} == {"shop_files"}  # its crawler's db
    only = w.get(f"{API}/events?type=table.deleted").get_json()["items"]
    assert [e["table"] for e in only] == ["t"]
    assert w.get(f"{API}/events?after=-1").status_code == 400
    assert w.get(f"{API}/events?type=nope").status_code == 400
    w.service.ctx.engine.dispose()
