"""Triggers as catalog objects: what starts jobs and crawlers — a cron schedule, a request (on demand), or
the end states of other jobs and crawlers (conditional). Firing them is `runner/triggers`'s business.

A conditional trigger is evaluated when a run of a job or crawler it watches ends: with logical AND every
condition must hold (the latest ended run of each watched job or crawler is in the state named), with ANY
one is enough. Only runs that ended after the trigger was activated count.

An event trigger fires when a run of a crawler it names (conditions with state PARTITIONS_ADDED) ended
having added partitions to the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog import codec
from metastore.catalog.base import Area, now_ms
from metastore.catalog.crawlers import check_schedule
from metastore.catalog.errors import AlreadyExists, InvalidInput, NotFound
from metastore.catalog.jobs import check_arguments
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import CrawlerRow, CrawlerRunRow, JobRow, JobRunRow, TriggerRow

SCHEDULED, ON_DEMAND, CONDITIONAL, EVENT = "SCHEDULED", "ON_DEMAND", "CONDITIONAL", "EVENT"
TRIGGER_TYPES = (SCHEDULED, ON_DEMAND, CONDITIONAL, EVENT)
PARTITIONS_ADDED = (
    "PARTITIONS_ADDED"  # the state of an EVENT trigger's conditions: a crawler run added partitions
)
CREATED, ACTIVATED, DEACTIVATED = "CREATED", "ACTIVATED", "DEACTIVATED"
LOGICALS = ("AND", "ANY")
JOB_CONDITION_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
CRAWLER_CONDITION_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass(slots=True)
class Condition:
    state: str
    job: str | None = None  # exactly one of job, crawler
    crawler: str | None = None


@dataclass(slots=True)
class Action:
    job: str | None = None  # exactly one of job, crawler
    crawler: str | None = None
    arguments: dict[str, str] = field(default_factory=dict)  # job argument overrides


@dataclass(slots=True)
class Trigger:
    name: str
    trigger_type: str  # SCHEDULED, ON_DEMAND, CONDITIONAL, EVENT
    actions: list[Action]
    schedule: str | None = None  # SCHEDULED: cron, 5 fields, UTC
    conditions: list[Condition] = field(default_factory=list)  # CONDITIONAL
    logical: str = "AND"  # AND: all conditions; ANY: one
    description: str | None = None
    workflow: str | None = None  # the workflow this trigger is part of
    state: str = CREATED  # set by the catalog
    created_at: int = 0
    updated_at: int = 0
    activated_at: int | None = None


def _target(trigger: str, what: str, obj) -> tuple[str, str]:
    job, crawler = getattr(obj, "job", None), getattr(obj, "crawler", None)
    if (job is None) == (crawler is None):
        raise InvalidInput(f"trigger {trigger}: each {what} names one job or one crawler")
    return ("job", check_name("job", job)) if job is not None else ("crawler", check_name("crawler", crawler))


def _check(t: Trigger) -> tuple[str, dict]:
    name = check_name("trigger", t.name)
    if t.trigger_type not in TRIGGER_TYPES:
        raise InvalidInput(
            f"trigger {name}: type {t.trigger_type!r} is not one of {', '.join(TRIGGER_TYPES)}"
        )
    if isinstance(t.actions, str | bytes | Mapping) or not t.actions:
        raise InvalidInput(f"trigger {name} needs at least one action (a job or crawler to start)")
    actions = []
    for a in t.actions:
        kind, target = _target(name, "action", a)
        args = check_arguments(f"trigger {name}: arguments of {kind} {target}", getattr(a, "arguments", None))
        if kind == "crawler" and args:
            raise InvalidInput(f"trigger {name}: a crawler action takes no arguments")
        actions.append({kind: target, **({"arguments": args} if args else {})})
    schedule = None
    if t.trigger_type == SCHEDULED:
        if not t.schedule:
            raise InvalidInput(f"trigger {name}: a scheduled trigger needs a schedule")
        schedule = check_schedule(t.schedule)
    elif t.schedule:
        raise InvalidInput(f"trigger {name}: only a scheduled trigger has a schedule")
    conditions = []
    if t.trigger_type == EVENT:
        if isinstance(t.conditions, str | bytes | Mapping) or not t.conditions:
            raise InvalidInput(
                f"trigger {name}: an event trigger names at least one crawler (state PARTITIONS_ADDED)"
            )
        for c in t.conditions:
            kind, target = _target(name, "condition", c)
            if kind != "crawler" or c.state != PARTITIONS_ADDED:
                raise InvalidInput(
                    f"trigger {name}: an event trigger's conditions are crawlers with state PARTITIONS_ADDED"
                )
            conditions.append({kind: target, "state": c.state})
    elif t.trigger_type == CONDITIONAL:
        if isinstance(t.conditions, str | bytes | Mapping) or not t.conditions:
            raise InvalidInput(f"trigger {name}: a conditional trigger needs at least one condition")
        for c in t.conditions:
            kind, target = _target(name, "condition", c)
            allowed = JOB_CONDITION_STATES if kind == "job" else CRAWLER_CONDITION_STATES
            if c.state not in allowed:
                raise InvalidInput(
                    f"trigger {name}: {kind} state {c.state!r} is not one of {', '.join(allowed)}")  # fmt: skip
            conditions.append({kind: target, "state": c.state})
        if t.logical not in LOGICALS:
            raise InvalidInput(f"trigger {name}: logical {t.logical!r} is not AND or ANY")
    elif t.conditions:
        raise InvalidInput(f"trigger {name}: only a conditional trigger has conditions")
    if t.description is not None and not isinstance(t.description, str):
        raise InvalidInput(f"trigger {name}: the description must be text")
    workflow = None if t.workflow is None else check_name("workflow", t.workflow)
    return name, dict(trigger_type=t.trigger_type, workflow_name=workflow, schedule=schedule, logical=t.logical,
                      conditions=codec.dumps(conditions), actions=codec.dumps(actions),
                      description=t.description)  # fmt: skip


def _trigger(row) -> Trigger:
    return Trigger(
        name=row.name,
        trigger_type=row.trigger_type,
        actions=[
            Action(job=a.get("job"), crawler=a.get("crawler"), arguments=a.get("arguments", {}))
            for a in codec.loads(row.actions)
        ],  # fmt: skip
        schedule=row.schedule,
        conditions=[
            Condition(c["state"], c.get("job"), c.get("crawler")) for c in codec.loads(row.conditions)
        ],
        logical=row.logical,
        description=row.description,
        workflow=row.workflow_name,
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
        activated_at=row.activated_at,
    )


class Triggers(Area):
    """Trigger definitions and their activation. Each public method is one transaction; changes are audited."""

    @staticmethod
    def _row(conn: Connection, name: str, for_update: bool = False):
        if not isinstance(name, str):
            raise NotFound(f"trigger {name!r} does not exist")
        query = select(TriggerRow).where(TriggerRow.name == name.lower())
        row = conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound(f"trigger {name} does not exist")
        return row

    @staticmethod
    def _check_targets_exist(conn: Connection, trigger: str, values: dict) -> None:
        items = codec.loads(values["actions"]) + codec.loads(values["conditions"])
        for kind, model in (("job", JobRow), ("crawler", CrawlerRow)):
            names = sorted({i[kind] for i in items if kind in i})
            if names:
                found = set(conn.execute(select(model.name).where(model.name.in_(names))).scalars())
                missing = [n for n in names if n not in found]
                if missing:
                    raise NotFound(f"trigger {trigger}: {kind} {', '.join(missing)} does not exist")
        if values.get("workflow_name") is not None:
            from metastore.storage.models import WorkflowRow

            if (
                conn.execute(
                    select(WorkflowRow.id).where(WorkflowRow.name == values["workflow_name"])
                ).first()
                is None
            ):
                raise NotFound(f"trigger {trigger}: workflow {values['workflow_name']} does not exist")

    def create(self, trigger: Trigger, activate: bool = False) -> Trigger:
        name, values = _check(trigger)
        with self._write() as conn:
            if conn.execute(select(TriggerRow.id).where(TriggerRow.name == name)).first() is not None:
                raise AlreadyExists(f"trigger {name} already exists")
            self._check_targets_exist(conn, name, values)
            at = now_ms()
            state = ACTIVATED if activate and trigger.trigger_type != ON_DEMAND else CREATED
            try:
                conn.execute(insert(TriggerRow).values(name=name, state=state, created_at=at, updated_at=at,
                                                       activated_at=at if state == ACTIVATED else None, **values))  # fmt: skip
            except IntegrityError:
                raise AlreadyExists(f"trigger {name} already exists") from None
            self._audit(
                conn, "CREATE_TRIGGER", DEFAULT_CATALOG, None, name, type=values["trigger_type"], state=state
            )
        return self.get(name)

    def get(self, name: str) -> Trigger:
        with self._read() as conn:
            return _trigger(self._row(conn, name))

    def list(self, trigger_type: str | None = None, state: str | None = None, workflow: str | None | bool = False
             ) -> list[Trigger]:  # fmt: skip
        """Triggers, by type and state; `workflow`: those of that workflow (None: those of none; False: all)."""
        query = select(TriggerRow).order_by(TriggerRow.name)
        if workflow is None:
            query = query.where(TriggerRow.workflow_name.is_(None))
        elif workflow is not False:
            query = query.where(TriggerRow.workflow_name == workflow.lower())
        if trigger_type is not None:
            query = query.where(TriggerRow.trigger_type == trigger_type)
        if state is not None:
            query = query.where(TriggerRow.state == state)
        with self._read() as conn:
            return [_trigger(r) for r in conn.execute(query)]

    def update(self, name: str, trigger: Trigger) -> Trigger:
        new_name, values = _check(trigger)
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            if new_name != row.name:
                raise InvalidInput(f"trigger {row.name} cannot be renamed to {new_name}")
            self._check_targets_exist(conn, row.name, values)
            conn.execute(
                update(TriggerRow).where(TriggerRow.id == row.id).values(updated_at=now_ms(), **values)
            )
            self._audit(conn, "UPDATE_TRIGGER", DEFAULT_CATALOG, None, row.name)
        return self.get(row.name)

    def _set_state(self, name: str, state: str) -> Trigger:
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            if row.trigger_type == ON_DEMAND and state == ACTIVATED:
                raise InvalidInput(f"trigger {row.name} is on demand: start it, there is nothing to activate")
            if row.state != state:
                at = now_ms()
                conn.execute(update(TriggerRow).where(TriggerRow.id == row.id).values(
                    state=state, updated_at=at, activated_at=at if state == ACTIVATED else row.activated_at))  # fmt: skip
                self._audit(conn, f"{'ACTIVATE' if state == ACTIVATED else 'DEACTIVATE'}_TRIGGER",
                            DEFAULT_CATALOG, None, row.name)  # fmt: skip
        return self.get(name)

    def activate(self, name: str) -> Trigger:
        return self._set_state(name, ACTIVATED)

    def deactivate(self, name: str) -> Trigger:
        return self._set_state(name, DEACTIVATED)

    def delete(self, name: str) -> None:
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            conn.execute(delete(TriggerRow).where(TriggerRow.id == row.id))
            self._audit(conn, "DELETE_TRIGGER", DEFAULT_CATALOG, None, row.name)

    def watching(self, kind: str, name: str, workflow: str | None = None) -> list[Trigger]:
        """The ACTIVATED conditional triggers with a condition on job or crawler `name` (`kind`), outside
        workflows (or of `workflow`, whose triggers are active while the workflow runs)."""
        found = self.list(CONDITIONAL, ACTIVATED, None) if workflow is None else [
            t for t in self.list(CONDITIONAL, None, workflow) if t.state != DEACTIVATED]  # fmt: skip
        return [t for t in found
                if any(getattr(c, kind) == name.lower() for c in t.conditions)]  # fmt: skip

    def conditions_met(
        self, trigger: Trigger, workflow_run_id: int | None = None, since: int | None = None
    ) -> bool:
        """Whether `trigger`'s conditions hold now: the latest ended run of each job or crawler named,
        ended after the trigger's activation (or `since`), is in the state named (all with AND, one with
        ANY). In a workflow run only the job and crawler runs of that workflow run count."""
        since = trigger.activated_at or 0 if since is None else since
        with self._read() as conn:
            results = [
                self._latest_state(conn, c, since, workflow_run_id) == c.state for c in trigger.conditions
            ]
        return all(results) if trigger.logical == "AND" else any(results)

    @staticmethod
    def _latest_state(
        conn: Connection, c: Condition, since: int, workflow_run_id: int | None = None
    ) -> str | None:
        if c.job is not None:
            q = (select(JobRunRow.state).join(JobRow, JobRow.id == JobRunRow.job_id)
                 .where(JobRow.name == c.job, JobRunRow.ended_at.is_not(None), JobRunRow.ended_at >= since)
                 .order_by(JobRunRow.ended_at.desc(), JobRunRow.id.desc()))  # fmt: skip
            if workflow_run_id is not None:
                q = q.where(JobRunRow.workflow_run_id == workflow_run_id)
        else:
            q = (select(CrawlerRunRow.state).join(CrawlerRow, CrawlerRow.id == CrawlerRunRow.crawler_id)
                 .where(CrawlerRow.name == c.crawler, CrawlerRunRow.ended_at.is_not(None),
                        CrawlerRunRow.ended_at >= since)
                 .order_by(CrawlerRunRow.ended_at.desc(), CrawlerRunRow.id.desc()))  # fmt: skip
            if workflow_run_id is not None:
                q = q.where(CrawlerRunRow.workflow_run_id == workflow_run_id)
        return conn.execute(q.limit(1)).scalar()

    def latest_crawler_runs(self, names: list[str], since: int, outside_workflows: bool = False
                            ) -> dict[str, tuple[int, str, int]]:  # fmt: skip
        """crawler name → (id, state, partitions added) of its latest run that ended at or after `since` (ms)
        (with `outside_workflows`, of its latest run that is not part of a workflow run)."""
        out = {}
        with self._read() as conn:
            for n in names:
                q = (select(CrawlerRunRow.id, CrawlerRunRow.state, CrawlerRunRow.metrics).join(CrawlerRow, CrawlerRow.id == CrawlerRunRow.crawler_id)
                     .where(CrawlerRow.name == n, CrawlerRunRow.ended_at.is_not(None), CrawlerRunRow.ended_at >= since)
                     .order_by(CrawlerRunRow.ended_at.desc(), CrawlerRunRow.id.desc()).limit(1))  # fmt: skip
                if outside_workflows:
                    q = q.where(CrawlerRunRow.workflow_run_id.is_(None))
                row = conn.execute(q).first()
                if row is not None:
                    out[n] = (
                        row.id,
                        row.state,
                        int(codec.loads(row.metrics).get("partitions_added", 0) or 0),
                    )
        return out
