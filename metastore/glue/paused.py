"""Crawler schedules paused by Glue's StopCrawlerSchedule: the crawler's schedule is cleared (the scheduler
runs only crawlers with one) and kept here, by crawler, until StartCrawlerSchedule puts it back. A crawler
deleted takes its paused schedule with it (foreign key)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from metastore.catalog.base import Area
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import CrawlerRow, GluePausedScheduleRow


class PausedSchedules(Area):
    def get(self, names: list[str]) -> dict[str, str]:
        """crawler name → its paused schedule, for those of `names` that have one."""
        if not names:
            return {}
        with self._read() as conn:
            rows = conn.execute(
                select(CrawlerRow.name, GluePausedScheduleRow.schedule)
                .join(GluePausedScheduleRow, GluePausedScheduleRow.crawler_id == CrawlerRow.id)
                .where(CrawlerRow.name.in_([n.lower() for n in names]))
            ).all()
        return dict(rows)

    def set(self, name: str, schedule: str | None) -> None:
        """Keep `schedule` as crawler `name`'s paused schedule (None: it has none any more)."""
        with self._write() as conn:
            cid = conn.execute(select(CrawlerRow.id).where(CrawlerRow.name == name.lower())).scalar()
            if cid is None:
                return
            conn.execute(delete(GluePausedScheduleRow).where(GluePausedScheduleRow.crawler_id == cid))
            if schedule is not None:
                conn.execute(insert(GluePausedScheduleRow).values(crawler_id=cid, schedule=schedule))
            self._audit(conn, "PAUSE_CRAWLER_SCHEDULE" if schedule else "UNPAUSE_CRAWLER_SCHEDULE",
                        DEFAULT_CATALOG, None, name.lower())  # fmt: skip
