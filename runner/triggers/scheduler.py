"""The scheduler: fires what is due on a cron schedule (crawlers now; triggers as they come).

It re-reads the definitions at every tick, so a schedule change takes effect without a restart. Each
firing is claimed in the catalog first (a unique row per schedule and fire time), so any number of
schedulers may run and none fires anything twice. After downtime only the latest missed firing runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from metastore.catalog import CatalogService
from metastore.catalog.crawlers import next_fire_times
from metastore.config import Settings

log = logging.getLogger(__name__)

SendTask = Callable[[str, list], None]  # (task name, args)


def due_fire_time(schedule: str, since_ms: int, now: datetime) -> datetime | None:
    """The latest time in (since, now] at which `schedule` fires, or None."""
    latest = None
    after = datetime.fromtimestamp(since_ms / 1000, UTC)
    for _ in range(10_000):
        nxt = next_fire_times(schedule, 1, after)[0]
        if nxt > now:
            break
        latest = after = nxt
    return latest


CRAWL_RETRIES = 1  # times a crawl whose worker died is sent again (per series of such losses)


class Scheduler:
    def __init__(self, service: CatalogService, send_task: SendTask, poll_s: float = 10.0):
        self.service = service
        self.send_task = send_task
        self.poll_s = poll_s
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        # a job run whose worker has not heartbeated for this long has lost it (the job_stale_s setting)
        self.job_stale_after_s = Settings.load().job_stale_s

    def tick(self, now: datetime | None = None) -> list[tuple[str, str, datetime]]:
        """Fire what is due now; returns (kind, name, fire time) of what this scheduler fired."""
        now = now or datetime.now(UTC)
        fired = []
        for crawler in self.service.crawlers.list():
            if not crawler.schedule:
                continue
            last = self.service.schedules.last_fire("crawler", crawler.name)
            since = max(last or 0, crawler.updated_at or crawler.created_at)
            when = due_fire_time(crawler.schedule, since, now)
            if when is None:
                continue
            if self.service.schedules.claim("crawler", crawler.name, int(when.timestamp() * 1000), self.identity):
                log.info("schedule %r fires crawler %s (for %s)", crawler.schedule, crawler.name, when.isoformat())
                self.send_task("runner.crawl", [crawler.name])
                fired.append(("crawler", crawler.name, when))
        fired += self._tick_triggers(now)
        return fired

    def _tick_triggers(self, now: datetime) -> list[tuple[str, str, datetime]]:
        """Scheduled triggers that are due; conditional triggers on crawler runs that ended (those of
        workflow runs too, if their worker did not evaluate them); job runs whose worker stopped
        heartbeating (failed or retried, see runner.jobs.execute)."""
        from metastore.catalog.dispatch import (
            fire_actions,
            on_crawler_runs,
            on_workflow_crawler_runs,
            start_workflow,
        )
        from metastore.catalog.triggers import ACTIVATED, SCHEDULED
        from runner.jobs.execute import recover_stale_runs

        fired = []
        for trigger in self.service.triggers.list(SCHEDULED, ACTIVATED):
            last = self.service.schedules.last_fire("trigger", trigger.name)
            since = max(last or 0, trigger.activated_at or 0, trigger.updated_at or trigger.created_at)
            when = due_fire_time(trigger.schedule, since, now)
            if when is None:
                continue
            if self.service.schedules.claim("trigger", trigger.name, int(when.timestamp() * 1000), self.identity):
                log.info("schedule %r fires trigger %s (for %s)", trigger.schedule, trigger.name, when.isoformat())
                if trigger.workflow is not None:
                    start_workflow(self.service, trigger.workflow, self.send_task, trigger=trigger)
                else:
                    fire_actions(self.service, trigger, self.send_task)
                fired.append(("trigger", trigger.name, when))
        for name in on_crawler_runs(self.service, self.send_task, self.identity):
            fired.append(("trigger", name, now))
        for name in on_workflow_crawler_runs(self.service, self.send_task, self.identity):
            fired.append(("trigger", name, now))
        recover_stale_runs(self.service, self.send_task, self.job_stale_after_s)
        self._fail_stale_crawler_runs()
        return fired

    def _fail_stale_crawler_runs(self) -> None:
        """Crawler runs whose worker died (no heartbeat for the crawler_stale_s setting), or that no worker
        took (e.g. a workflow's crawler node whose task was lost), end FAILED, so the workflows and triggers
        waiting on them go on. A crawl whose worker died is then sent again, once (`CRAWL_RETRIES`), on any
        broker: the embedded broker never hands a killed worker's task to another one."""
        from metastore.catalog.crawlers import STALE_RUN_ERROR

        settings = Settings.load()
        for run in self.service.crawlers.mark_stale_runs(settings.crawler_stale_s,
                                                         unclaimed_after_s=settings.job_requeue_s):  # fmt: skip
            log.warning("run %d of crawler %s: %s", run.id, run.crawler, run.error)
            if run.workflow_run_id is not None:
                continue  # a workflow's node: the workflow run decides (resume)
            try:
                if self.service.crawlers.current_run(run.crawler) is not None:
                    continue  # taken over already (a redelivered task) or started anew
                recent = self.service.crawlers.runs(run.crawler, limit=CRAWL_RETRIES + 2)
            except Exception:  # noqa: BLE001 - deleted meanwhile
                continue
            lost = 0
            for r in recent:
                if r.state != "FAILED" or r.error != STALE_RUN_ERROR:
                    break
                lost += 1
            if lost > CRAWL_RETRIES:
                log.warning("crawler %s: %d runs in a row lost their worker; not retried", run.crawler, lost)
                continue
            log.warning("crawler %s: run %d lost its worker; sending the crawl again", run.crawler, run.id)
            self.send_task("runner.crawl", [run.crawler, None, run.trigger])

    def run_forever(self) -> None:
        log.info("scheduler %s polling every %.0f s", self.identity, self.poll_s)
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a bad tick must not stop the scheduler
                log.exception("scheduler tick failed")
            self._stop.wait(self.poll_s)

    def stop(self) -> None:
        self._stop.set()
