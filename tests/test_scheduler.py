"""The scheduler: due firings computed from cron, claimed once across schedulers, schedule changes live."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from runner.triggers.scheduler import Scheduler, due_fire_time
from tests.conftest import database_url


def test_due_fire_time_is_the_latest_missed_one():
    base = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    since = int(base.timestamp() * 1000)
    assert due_fire_time("*/5 * * * *", since, base + timedelta(minutes=4)) is None
    assert due_fire_time("*/5 * * * *", since, base + timedelta(minutes=5)) == base + timedelta(minutes=5)
    assert due_fire_time("*/5 * * * *", since, base + timedelta(minutes=23)) == base + timedelta(minutes=20)


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, pg_databases):
    svc = CatalogService.open(database_url(request.param, tmp_path, pg_databases), str(tmp_path / "wh"))
    yield svc
    svc.ctx.engine.dispose()


def test_each_firing_happens_once_across_schedulers(service, tmp_path):
    service.crawlers.create(Crawler(name="hourly", targets=[CrawlerTarget(str(tmp_path))], database="db",
                                    schedule="0 * * * *"))  # fmt: skip
    service.crawlers.create(Crawler(name="manual", targets=[CrawlerTarget(str(tmp_path))], database="db"))
    sent: list[tuple[str, list]] = []
    schedulers = [Scheduler(service, lambda name, args: sent.append((name, args))) for _ in range(4)]
    now = datetime.now(UTC)
    later = now.replace(minute=0, second=30, microsecond=0) + timedelta(hours=2)
    with ThreadPoolExecutor(4) as pool:
        fired = list(pool.map(lambda s: s.tick(later), schedulers))
    assert sent == [("runner.crawl", ["hourly"])]
    assert sum(len(f) for f in fired) == 1
    assert [f for f in fired if f][0][0][2] == later.replace(second=0)  # the latest missed hour, once
    assert all(s.tick(later) == [] for s in schedulers)  # nothing more is due at that time
    assert schedulers[0].tick(later + timedelta(hours=1))[0][1] == "hourly"
    assert len(sent) == 2


def test_schedule_change_takes_effect_without_restart(service, tmp_path):
    crawler = Crawler(name="c", targets=[CrawlerTarget(str(tmp_path))], database="db", schedule="0 0 1 1 *")
    service.crawlers.create(crawler)
    sent: list = []
    sched = Scheduler(service, lambda name, args: sent.append(args))
    soon = datetime.now(UTC) + timedelta(minutes=3)
    assert sched.tick(soon) == []  # yearly: not due
    crawler.schedule = "* * * * *"
    service.crawlers.update("c", crawler)
    assert [f[1] for f in sched.tick(soon)] == ["c"]
    assert sent == [["c"]]
