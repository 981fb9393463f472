"""The notifier: reads the event feed, delivers subscriptions' notifications (webhooks, e-mail) and emits
OpenLineage run events for job and crawler runs. It runs in `mortar scheduler` (two threads).

Notifications: each event is queued once per matching subscription (catalog/events.py); a delivery is
claimed, sent, and marked SENT; a failure is retried with back-off (1 s, 2 s, 4 s, ... 5 min), up to
12 attempts, and every attempt is in the delivery log. Webhooks: a JSON POST signed with the
subscription's secret (`X-Mortar-Signature: sha256=<HMAC of the body>`). E-mail: over SMTP (settings
smtp_host, smtp_port, smtp_from).

OpenLineage: START when a worker takes a run, COMPLETE, FAIL or ABORT when it ends, with the run's inputs
and outputs as recorded (schema facets, column lineage of generated jobs), the job's source code and its
workflow run as parent. Sent through openlineage-python's transports to the `openlineage_url` setting
(http(s)://, file://, console); this never touches a run: the emitter has its own cursor and thread, and
a consumer that fails loses its events (logged), as OpenLineage clients do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import socket
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

from metastore.catalog import CatalogService, NotFound
from metastore.config import Settings

log = logging.getLogger(__name__)

PRODUCER = "https://github.com/mortar/mortar"
OL_LAG_MS = 2500  # a run's end waits for its last observed tables (the metastore flushes every second)


# --- notifications ------------------------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(url: str, secret: str | None, delivery_id: int, event: dict, timeout: float = 5.0) -> None:
    body = json.dumps(event, sort_keys=True).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "mortar-notifier",
        "X-Mortar-Event": event["type"], "X-Mortar-Delivery": str(delivery_id),
        **({"X-Mortar-Signature": signature(secret, body)} if secret else {})})  # fmt: skip
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) URLs only (events.py)
        if not 200 <= resp.status < 300:
            raise OSError(f"HTTP {resp.status}")


def describe(event: dict) -> str:
    obj = event.get("job") or event.get("crawler") or event.get("table") or ""
    where = f"{event['database']}." if event.get("database") else ""
    d = event.get("details") or {}
    run = f" run {d['run_id']}" if "run_id" in d else ""
    return f"[mortar] {event['type']}: {where}{obj}{run}"


def send_email(settings: Settings, to: str, event: dict) -> None:
    if not settings.smtp_host:
        raise OSError("no SMTP server configured (setting smtp_host)")
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = describe(event), settings.smtp_from, to
    msg["X-Mortar-Event-Id"] = str(event["id"])
    msg.set_content(json.dumps(event, indent=2, sort_keys=True))
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


class Notifier:
    """Delivers notifications (thread `notifier`) and emits OpenLineage events (thread `openlineage`)."""

    def __init__(self, service: CatalogService, settings: Settings | None = None):
        self.service = service
        self.settings = settings or Settings.load()
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.emitter = LineageEmitter(service, self.settings)

    def start(self) -> Notifier:
        for name, fn in (("notifier", self.notify_once), ("openlineage", self.emitter.emit_once)):
            t = threading.Thread(target=self._loop, args=(fn,), daemon=True, name=name)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def _loop(self, fn) -> None:
        while not self._stop.is_set():
            try:
                busy = fn()
            except Exception:  # noqa: BLE001 - a storage hiccup: the next round tries again
                log.warning("%s: round failed", threading.current_thread().name, exc_info=True)
                busy = False
            if not busy:
                self._stop.wait(self.settings.notify_poll_s)

    def notify_once(self) -> bool:
        """Queue new events, send what is due; True if there may be more to do at once."""
        events = self.service.events.read_feed("notifier")
        self.service.events.enqueue(events)
        due = self.service.events.claim(self.identity)
        for d in due:
            sub, event = d["subscription"], d["event"]
            try:
                if sub.channel == "webhook":
                    send_webhook(sub.target, d["secret"], d["delivery_id"], event)
                else:
                    send_email(self.settings, sub.target, event)
            except (OSError, urllib.error.URLError, smtplib.SMTPException) as e:
                log.warning("notification %d (%s to %s) failed: %s", d["delivery_id"], event["type"], sub.target, e)
                self.service.events.failed(d["delivery_id"], d["attempt"], f"{type(e).__name__}: {e}")
                continue
            self.service.events.sent(d["delivery_id"])
            log.info("notification %d: %s sent to %s", d["delivery_id"], event["type"], sub.target)
        return bool(events) or len(due) >= 20


# --- OpenLineage out ------------------------------------------------------------------------------------------


def ol_client(url: str):
    """An OpenLineageClient for the `openlineage_url` setting, or None when it is empty."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    if not url:
        return None
    if url == "console":
        return OpenLineageClient(transport=ConsoleTransport(ConsoleConfig()))
    if url.startswith("file://"):
        return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=url[7:], append=True)))
    if url.startswith(("http://", "https://")):
        base, _, endpoint = url.partition("/api/")
        config = HttpConfig(url=base, endpoint=f"api/{endpoint}" if endpoint else "api/v1/lineage", timeout=5.0,
                            retry={"total": 0})  # fmt: skip
        return OpenLineageClient(transport=HttpTransport(config))
    raise ValueError(f"openlineage_url {url!r}: http(s)://..., file:///path or console")


def run_uuid(kind: str, run_id: int | str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mortar:{kind}:{run_id}"))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


_OL_TYPES = {"SUCCEEDED": "COMPLETE", "FAILED": "FAIL", "TIMEOUT": "FAIL", "ERROR": "FAIL", "STOPPED": "ABORT",
             "CANCELLED": "ABORT", "RUNNING": "START"}  # fmt: skip


class LineageEmitter:
    def __init__(self, service: CatalogService, settings: Settings):
        self.service = service
        self.settings = settings
        self.client = ol_client(settings.openlineage_url)
        self.namespace = settings.openlineage_namespace

    def emit_once(self) -> bool:
        if self.client is None:
            return False
        events = self.service.events.read_feed("openlineage", limit=100, lag_ms=OL_LAG_MS)
        for e in events:
            if not e["type"].startswith(("job.run.", "crawler.run.")):
                continue
            try:
                ol = self.build(e)
            except NotFound:
                continue  # deleted since
            except Exception:  # noqa: BLE001 - one bad event must not stop the rest
                log.warning("openlineage: event %d not built", e["id"], exc_info=True)
                continue
            if ol is None:
                continue
            try:
                self.client.emit(ol)
            except Exception as err:  # noqa: BLE001 - the consumer's failure is not the run's
                log.warning("openlineage: event %d not sent: %s", e["id"], err)
        return bool(events)

    def build(self, e: dict):
        """The OpenLineage RunEvent of a feed event of a job or crawler run."""
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
        from openlineage.client.facet_v2 import (
            error_message_run,
            job_type_job,
            parent_run,
            source_code_job,
        )

        kind, state = e["type"].split(".")[0], e["type"].split(".")[-1]
        ol_type = _OL_TYPES.get(state)
        run_id = e["details"].get("run_id")
        if ol_type is None or run_id is None:
            return None
        job_facets, run_facets = {}, {}
        svc = self.service
        if kind == "job":
            run = svc.jobs.get_run(run_id)
            job = svc.jobs.get(run.job, version=run.script_version)
            name, error, workflow_run = run.job, run.error, run.workflow_run_id
            job_facets["sourceCode"] = source_code_job.SourceCodeJobFacet(language="python", sourceCode=job.script)
            job_facets["jobType"] = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="MORTAR",
                                                                 jobType="JOB")  # fmt: skip
        else:
            run = svc.crawlers.get_run(run_id)
            name, error, workflow_run = run.crawler, run.error, run.workflow_run_id
            job_facets["jobType"] = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="MORTAR",
                                                                 jobType="CRAWLER")  # fmt: skip
        if workflow_run is not None:
            wf = svc.workflows.get_run(workflow_run)
            run_facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=run_uuid("workflow", workflow_run)),
                job=parent_run.Job(namespace=self.namespace, name=f"workflow.{wf.workflow}"))
        if error and ol_type == "FAIL":
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error[:4000],
                                                                                programmingLanguage="python")  # fmt: skip
        inputs, outputs = [], []
        if ol_type != "START":
            io = svc.lineage.of_run(kind, run_id)
            cols = svc.lineage.job_run_columns(run_id) if kind == "job" else None
            inputs = [InputDataset(namespace=d["namespace"], name=d["name"], facets=self._facets(d))
                      for d in io["inputs"]]  # fmt: skip
            outputs = [OutputDataset(namespace=d["namespace"], name=d["name"], facets=self._facets(d, cols, io))
                       for d in io["outputs"]]  # fmt: skip
        return RunEvent(eventType=ol_type, eventTime=_iso(e["at"]), producer=PRODUCER,
                        run=Run(runId=run_uuid(kind, run_id), facets=run_facets),
                        job=Job(namespace=self.namespace, name=f"{kind}.{name}", facets=job_facets),
                        inputs=inputs, outputs=outputs)  # fmt: skip

    def _facets(self, d: dict, cols=None, io=None) -> dict:
        from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset

        if "table" not in d:
            return {}
        try:
            table = self.service.tables.get(d["db"], d["table"])
        except NotFound:
            return {}
        fields = [schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type, description=c.comment)
                  for c in [*table.sd.cols, *table.partition_keys]]  # fmt: skip
        facets = {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}
        if cols is not None and io is not None and cols[1] == (d["db"], d["table"]):
            (sdb, stable), pairs = cols[0], cols[2]
            src = next((i for i in io["inputs"] if i.get("db") == sdb and i.get("table") == stable), None)
            if src is not None:
                facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(fields={
                    dst: column_lineage_dataset.Fields(inputFields=[column_lineage_dataset.InputField(
                        namespace=src["namespace"], name=src["name"], field=s)])
                    for s, dst in pairs})  # fmt: skip
        return facets
