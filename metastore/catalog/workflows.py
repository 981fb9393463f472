"""Workflows as catalog objects: a graph of triggers (those that name the workflow), and the jobs and
crawlers they start; workflow runs with run properties that jobs read and write.

A workflow run starts by firing the workflow's start trigger (its ON_DEMAND or SCHEDULED one); the job
and crawler runs it starts carry the workflow run's id, and when one of them ends, the workflow's
conditional triggers are evaluated against the runs of that workflow run only. The run is COMPLETED when
nothing in it is under way any more; `resume` starts again the jobs and crawlers whose last run in it did
not succeed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog import codec
from metastore.catalog.base import Area, now_ms
from metastore.catalog.crawlers import END_STATES as CRAWLER_END_STATES
from metastore.catalog.crawlers import RUNNING as CRAWLER_RUNNING
from metastore.catalog.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from metastore.catalog.jobs import END_STATES, LIVE_STATES, SUCCEEDED
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import (
    CrawlerRow,
    CrawlerRunRow,
    JobRow,
    JobRunRow,
    TriggerRow,
    WorkflowRow,
    WorkflowRunRow,
)

WF_RUNNING, WF_COMPLETED, WF_STOPPED = "RUNNING", "COMPLETED", "STOPPED"
MAX_PROPERTIES = 256 * 1024


@dataclass(slots=True)
class Workflow:
    name: str
    description: str | None = None
    default_run_properties: dict[str, str] = field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0


@dataclass(slots=True)
class WorkflowRun:
    id: int
    workflow: str
    state: str  # RUNNING, COMPLETED, STOPPED
    run_properties: dict
    started_at: int
    ended_at: int | None
    # "job NAME" or "crawler NAME" → the state of its last run in this workflow run (None: not run)
    nodes: dict[str, str | None] = field(default_factory=dict)


def _properties(what: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(f"{what} must be a mapping with string keys")
    text = codec.dumps(dict(value))
    if len(text) > MAX_PROPERTIES:
        raise InvalidInput(f"{what} are larger than {MAX_PROPERTIES} bytes as JSON")
    return dict(value)


class Workflows(Area):
    @staticmethod
    def _row(conn: Connection, name: str, for_update: bool = False):
        if not isinstance(name, str):
            raise NotFound(f"workflow {name!r} does not exist")
        query = select(WorkflowRow).where(WorkflowRow.name == name.lower())
        row = conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound(f"workflow {name} does not exist")
        return row

    @staticmethod
    def _run_row(conn: Connection, run_id: int, for_update: bool = False):
        query = (select(WorkflowRunRow, WorkflowRow.name.label("workflow_name"))
                 .join(WorkflowRow, WorkflowRow.id == WorkflowRunRow.workflow_id).where(WorkflowRunRow.id == run_id))  # fmt: skip
        row = conn.execute(query.with_for_update(of=WorkflowRunRow) if for_update else query).first()
        if row is None:
            raise NotFound(f"workflow run {run_id} does not exist")
        return row

    def create(self, workflow: Workflow) -> Workflow:
        name = check_name("workflow", workflow.name)
        props = _properties(f"workflow {name}: default run properties", workflow.default_run_properties)
        with self._write() as conn:
            at = now_ms()
            try:
                conn.execute(insert(WorkflowRow).values(name=name, description=workflow.description,
                                                        default_run_properties=codec.dumps(props),
                                                        created_at=at, updated_at=at))  # fmt: skip
            except IntegrityError:
                raise AlreadyExists(f"workflow {name} already exists") from None
            self._audit(conn, "CREATE_WORKFLOW", DEFAULT_CATALOG, None, name)
        return self.get(name)

    def get(self, name: str) -> Workflow:
        with self._read() as conn:
            r = self._row(conn, name)
        return Workflow(
            r.name, r.description, codec.loads(r.default_run_properties), r.created_at, r.updated_at
        )

    def list(self) -> list[Workflow]:
        with self._read() as conn:
            rows = conn.execute(select(WorkflowRow).order_by(WorkflowRow.name)).all()
        return [Workflow(r.name, r.description, codec.loads(r.default_run_properties), r.created_at, r.updated_at)
                for r in rows]  # fmt: skip

    def update(self, name: str, workflow: Workflow) -> Workflow:
        """Change workflow `name`'s description and default run properties (it keeps its name)."""
        props = _properties(f"workflow {name}: default run properties", workflow.default_run_properties)
        if workflow.description is not None and not isinstance(workflow.description, str):
            raise InvalidInput(f"workflow {name}: the description must be text")
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            if workflow.name and check_name("workflow", workflow.name) != row.name:
                raise InvalidInput(f"workflow {row.name} cannot be renamed to {workflow.name}")
            conn.execute(update(WorkflowRow).where(WorkflowRow.id == row.id).values(
                description=workflow.description, default_run_properties=codec.dumps(props), updated_at=now_ms()))  # fmt: skip
            self._audit(conn, "UPDATE_WORKFLOW", DEFAULT_CATALOG, None, row.name)
        return self.get(row.name)

    def delete(self, name: str) -> None:
        """Delete a workflow with its runs and triggers (not its jobs); Conflict while it runs."""
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            running = conn.execute(select(WorkflowRunRow.id).where(
                WorkflowRunRow.workflow_id == row.id, WorkflowRunRow.state == WF_RUNNING)).first()  # fmt: skip
            if running is not None:
                raise Conflict(f"workflow {row.name} is running (run {running.id})")
            conn.execute(delete(TriggerRow).where(TriggerRow.workflow_name == row.name))
            conn.execute(delete(WorkflowRow).where(WorkflowRow.id == row.id))
            self._audit(conn, "DELETE_WORKFLOW", DEFAULT_CATALOG, None, row.name)

    def start_run(self, name: str, run_properties: Mapping | None = None) -> WorkflowRun:
        """A new RUNNING run of workflow `name`, with its default run properties and `run_properties`."""
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            props = {**codec.loads(row.default_run_properties),
                     **_properties(f"workflow {row.name}: run properties", run_properties)}  # fmt: skip
            at = now_ms()
            run_id = conn.execute(insert(WorkflowRunRow).values(
                workflow_id=row.id, state=WF_RUNNING, run_properties=codec.dumps(props),
                started_at=at)).inserted_primary_key[0]  # fmt: skip
            self._audit(conn, "START_WORKFLOW_RUN", DEFAULT_CATALOG, None, row.name, run_id=run_id)
        return self.get_run(run_id)

    def get_run(self, run_id: int) -> WorkflowRun:
        """Workflow run `run_id` with the state of every job and crawler of the workflow's graph in it."""
        with self._read() as conn:
            r = self._run_row(conn, run_id)
            names: set[str] = set()
            for t in conn.execute(select(TriggerRow.actions, TriggerRow.conditions)
                                  .where(TriggerRow.workflow_name == r.workflow_name)):  # fmt: skip
                for item in codec.loads(t.actions) + codec.loads(t.conditions):
                    names.update(f"{kind} {item[kind]}" for kind in ("job", "crawler") if kind in item)
            nodes: dict[str, str | None] = {n: None for n in sorted(names)}
            for job, state in conn.execute(
                    select(JobRow.name, JobRunRow.state).join(JobRow, JobRow.id == JobRunRow.job_id)
                    .where(JobRunRow.workflow_run_id == run_id).order_by(JobRunRow.id)):  # fmt: skip
                nodes[f"job {job}"] = state  # the last run of each job wins
            for crawler, state in conn.execute(
                    select(CrawlerRow.name, CrawlerRunRow.state).join(CrawlerRow, CrawlerRow.id == CrawlerRunRow.crawler_id)
                    .where(CrawlerRunRow.workflow_run_id == run_id).order_by(CrawlerRunRow.id)):  # fmt: skip
                nodes[f"crawler {crawler}"] = state
        return WorkflowRun(
            r.id, r.workflow_name, r.state, codec.loads(r.run_properties), r.started_at, r.ended_at, nodes
        )

    def runs(self, name: str, limit: int = 20) -> list[WorkflowRun]:
        with self._read() as conn:
            row = self._row(conn, name)
            ids = conn.execute(select(WorkflowRunRow.id).where(WorkflowRunRow.workflow_id == row.id)
                               .order_by(WorkflowRunRow.id.desc()).limit(limit)).scalars().all()  # fmt: skip
        return [self.get_run(i) for i in ids]

    def run_properties(self, run_id: int) -> dict:
        with self._read() as conn:
            return codec.loads(self._run_row(conn, run_id).run_properties)

    def put_run_properties(self, run_id: int, properties: Mapping) -> dict:
        """Merge `properties` into workflow run `run_id`'s run properties; returns them all."""
        props = _properties(f"workflow run {run_id}: run properties", properties)
        with self._write() as conn:
            row = self._run_row(conn, run_id, for_update=True)
            merged = {**codec.loads(row.run_properties), **props}
            text = codec.dumps(merged)
            if len(text) > MAX_PROPERTIES:
                raise InvalidInput(
                    f"workflow run {run_id}: run properties are larger than {MAX_PROPERTIES} bytes"
                )
            conn.execute(
                update(WorkflowRunRow).where(WorkflowRunRow.id == run_id).values(run_properties=text)
            )
        return merged

    def settle(self, run_id: int) -> WorkflowRun:
        """COMPLETED once no job or crawler run of workflow run `run_id` is under way (call after firing
        triggers)."""
        with self._write() as conn:
            row = self._run_row(conn, run_id, for_update=True)
            live = conn.execute(select(JobRunRow.id).where(
                JobRunRow.workflow_run_id == run_id, JobRunRow.state.in_(LIVE_STATES))).first()  # fmt: skip
            if live is None:
                live = conn.execute(select(CrawlerRunRow.id).where(
                    CrawlerRunRow.workflow_run_id == run_id, CrawlerRunRow.state == CRAWLER_RUNNING)).first()  # fmt: skip
            if row.state == WF_RUNNING and live is None:
                conn.execute(update(WorkflowRunRow).where(WorkflowRunRow.id == run_id)
                             .values(state=WF_COMPLETED, ended_at=now_ms()))  # fmt: skip
                self._audit(
                    conn, "COMPLETE_WORKFLOW_RUN", DEFAULT_CATALOG, None, row.workflow_name, run_id=run_id
                )
        return self.get_run(run_id)

    def failed_nodes(self, run_id: int, crawlers: bool = False) -> list[str]:
        """Jobs whose last run in workflow run `run_id` ended other than SUCCEEDED; with `crawlers`, the
        node names ("job NAME", "crawler NAME") of the jobs and crawlers that did."""
        run = self.get_run(run_id)
        failed = [n for n, s in run.nodes.items() if s != SUCCEEDED and (
            s in END_STATES if n.startswith("job ") else s in CRAWLER_END_STATES)]  # fmt: skip
        if crawlers:
            return failed
        return [n.removeprefix("job ") for n in failed if n.startswith("job ")]

    def ended_crawler_runs(self, older_than_s: float = 0) -> list[tuple[int, int]]:
        """(crawler run id, workflow run id) of the crawler runs that ended at least `older_than_s` seconds
        ago in RUNNING workflow runs: the scheduler evaluates them again in case the worker that ran one
        could not."""
        cutoff = now_ms() - int(older_than_s * 1000)
        with self._read() as conn:
            return [tuple(r) for r in conn.execute(
                select(CrawlerRunRow.id, CrawlerRunRow.workflow_run_id)
                .join(WorkflowRunRow, WorkflowRunRow.id == CrawlerRunRow.workflow_run_id)
                .where(WorkflowRunRow.state == WF_RUNNING, CrawlerRunRow.state != CRAWLER_RUNNING,
                       CrawlerRunRow.ended_at <= cutoff)
                .order_by(CrawlerRunRow.id))]  # fmt: skip

    def stop_run(self, run_id: int) -> WorkflowRun:
        """Mark RUNNING workflow run `run_id` STOPPED: its triggers fire no more (stop its job and crawler runs
        after this). Conflict if it is not running."""
        with self._write() as conn:
            row = self._run_row(conn, run_id, for_update=True)
            if row.state != WF_RUNNING:
                raise Conflict(f"workflow run {run_id} is {row.state}, not RUNNING")
            conn.execute(update(WorkflowRunRow).where(WorkflowRunRow.id == run_id)
                         .values(state=WF_STOPPED, ended_at=now_ms()))  # fmt: skip
            self._audit(conn, "STOP_WORKFLOW_RUN", DEFAULT_CATALOG, None, row.workflow_name, run_id=run_id)
        return self.get_run(run_id)

    def reopen(self, run_id: int) -> None:
        """Put a COMPLETED workflow run back to RUNNING (to resume it)."""
        with self._write() as conn:
            row = self._run_row(conn, run_id, for_update=True)
            if row.state == WF_STOPPED:
                raise Conflict(f"workflow run {run_id} was stopped")
            conn.execute(
                update(WorkflowRunRow)
                .where(WorkflowRunRow.id == run_id)
                .values(state=WF_RUNNING, ended_at=None)
            )
            self._audit(conn, "RESUME_WORKFLOW_RUN", DEFAULT_CATALOG, None, row.workflow_name, run_id=run_id)
