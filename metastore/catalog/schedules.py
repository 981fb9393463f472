"""Scheduled firings: claimed once, whichever scheduler gets there first."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from metastore.catalog.base import Area, now_ms
from metastore.storage.models import ScheduleFireRow


class Schedules(Area):
    def claim(self, kind: str, name: str, fire_time_ms: int, claimed_by: str) -> bool:
        """True for the one caller that claims this firing; False for everyone else."""
        try:
            with self._write() as conn:
                conn.execute(insert(ScheduleFireRow).values(kind=kind, name=name, fire_time=fire_time_ms,
                                                            claimed_at=now_ms(), claimed_by=claimed_by))  # fmt: skip
            return True
        except IntegrityError:
            return False

    def last_fire(self, kind: str, name: str) -> int | None:
        """The newest claimed fire time (ms) of this schedule."""
        with self._read() as conn:
            return conn.execute(
                select(ScheduleFireRow.fire_time)
                .where(ScheduleFireRow.kind == kind, ScheduleFireRow.name == name)
                .order_by(ScheduleFireRow.fire_time.desc())
                .limit(1)
            ).scalar()
