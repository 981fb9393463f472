"""What the Glue API keeps beside Mortar's objects. Crawler schedules paused by StopCrawlerSchedule: the
crawler's schedule is cleared (the scheduler runs only crawlers with one) and kept here until
StartCrawlerSchedule puts it back (a deleted crawler takes it along: foreign key). Glue-only fields of jobs,
crawlers and connections (Role, WorkerType, MatchCriteria...), answered as given, acted on by nothing."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from metastore.catalog import codec
from metastore.catalog.base import Area
from metastore.catalog.errors import InvalidInput
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import CrawlerRow, GlueAttributesRow, GluePausedScheduleRow

MAX_ATTRIBUTES = 64 * 1024


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


class Attributes(Area):
    """Glue-only fields of jobs, crawlers and connections (GlueAttributesRow): kept and answered as given."""

    def get(self, kind: str, names: list[str]) -> dict[str, dict]:
        if not names:
            return {}
        with self._read() as conn:
            rows = conn.execute(select(GlueAttributesRow.name, GlueAttributesRow.attributes).where(
                GlueAttributesRow.kind == kind, GlueAttributesRow.name.in_([n.lower() for n in names]))).all()  # fmt: skip
        return {n: codec.loads(a) for n, a in rows}

    def update(self, kind: str, name: str, values: dict) -> None:
        """Merge `values` into the fields of `kind` `name` (a None value removes a field)."""
        if not values:
            return
        key = (GlueAttributesRow.kind == kind) & (GlueAttributesRow.name == name.lower())
        with self._write() as conn:
            old = conn.execute(select(GlueAttributesRow.attributes).where(key)).scalar()
            merged = {
                k: v for k, v in {**(codec.loads(old) if old else {}), **values}.items() if v is not None
            }
            if len(codec.dumps(merged)) > MAX_ATTRIBUTES:
                raise InvalidInput(
                    f"{kind} {name}: its Glue-only fields are larger than {MAX_ATTRIBUTES} bytes as JSON"
                )
            conn.execute(delete(GlueAttributesRow).where(key))
            if merged:
                conn.execute(insert(GlueAttributesRow).values(kind=kind, name=name.lower(),
                                                              attributes=codec.dumps(merged)))  # fmt: skip

    def drop(self, kind: str, name: str) -> None:
        with self._write() as conn:
            conn.execute(delete(GlueAttributesRow).where(GlueAttributesRow.kind == kind,
                                                         GlueAttributesRow.name == name.lower()))  # fmt: skip
