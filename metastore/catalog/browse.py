"""Paged, filtered listings for people and the JSON API: a page of databases, tables, partitions, functions,
crawlers, runs or audit records in one or two queries each, whatever the catalog's size.

Name filters are substrings (case-insensitive; names are stored lower-cased), matched with LIKE and escaped.
Partitions are paged by key (`after` = the last partition name of the previous page) so that page 10,000 of
a table with a million partitions costs what page 1 does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from metastore.catalog import codec
from metastore.catalog.base import Area
from metastore.catalog.connections import Connection, _connection
from metastore.catalog.crawlers import Crawler, CrawlerRun, _crawler, _run
from metastore.catalog.databases import _database
from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.functions import _function
from metastore.catalog.jobs import _RUN_WITH_JOB, Job, JobRun, _job
from metastore.catalog.jobs import _run as _job_run
from metastore.catalog.names import make_partition_name
from metastore.catalog.partitions import Partitions, _TableInfo
from metastore.catalog.triggers import Trigger, _trigger
from metastore.catalog.types import DEFAULT_CATALOG, AuditRecord, Database, Function, Partition
from metastore.catalog.workflows import Workflow, WorkflowRun
from metastore.storage.models import (
    AuditRow,
    ConnectionRow,
    CrawlerRow,
    CrawlerRunRow,
    DatabaseRow,
    FunctionRow,
    JobRow,
    JobRunRow,
    PartitionRow,
    TableRow,
    TriggerRow,
    WorkflowRow,
    WorkflowRunRow,
)

MAX_PAGE = 1000


@dataclass(slots=True)
class TableSummary:
    name: str
    db_name: str
    table_type: str
    owner: str | None
    create_time: int
    columns: int
    partition_keys: list[str]
    location: str | None
    version: int
    comment: str | None


def _page(limit, offset) -> tuple[int, int]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit {limit!r} is not an integer from 1 to {MAX_PAGE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"offset {offset!r} is not a non-negative integer")
    return limit, offset


def _like(column, q: str | None):
    return None if not q else column.contains(q.lower(), autoescape=True)


def _page_rows(conn, query, model, where: list, order, limit: int, offset: int) -> tuple[list, int]:
    """One page of `query` filtered by `where`, in `order`; and how many rows of `model` match in all."""
    total = conn.execute(select(func.count()).select_from(model).where(*where)).scalar()
    return conn.execute(query.where(*where).order_by(order).limit(limit).offset(offset)).all(), total


def _summary(r, db: str) -> TableSummary:
    sd = codec.loads(r.sd)
    return TableSummary(r.name, db, r.table_type, r.owner, r.create_time, len(sd.get("cols", [])),
                        [k[0] for k in codec.loads(r.partition_keys)], sd.get("location"), r.version,
                        codec.loads(r.parameters).get("comment"))  # fmt: skip


class Browse(Area):
    def _catalog(self, conn, catalog: str) -> int:
        return self._catalog_id(conn, catalog)

    def databases(self, q: str | None = None, limit: int = 50, offset: int = 0,
                  only: list[str] | None = None, catalog: str = DEFAULT_CATALOG) -> tuple[list[tuple[Database, int]], int]:  # fmt: skip
        """A page of (database, number of tables) with names containing `q`, restricted to `only` if given;
        and the number of such databases."""
        limit, offset = _page(limit, offset)
        with self._read() as conn:
            cid = self._catalog(conn, catalog)
            where = [DatabaseRow.catalog_id == cid]
            if (cond := _like(DatabaseRow.name, q)) is not None:
                where.append(cond)
            if only is not None:
                where.append(DatabaseRow.name.in_(only or [""]))
            total = conn.execute(select(func.count()).select_from(DatabaseRow).where(*where)).scalar()
            counts = (
                select(TableRow.database_id, func.count().label("n"))
                .group_by(TableRow.database_id)
                .subquery()
            )
            rows = conn.execute(
                select(DatabaseRow, func.coalesce(counts.c.n, 0).label("tables"))
                .outerjoin(counts, counts.c.database_id == DatabaseRow.id)
                .where(*where)
                .order_by(DatabaseRow.name)
                .limit(limit)
                .offset(offset)
            ).all()
        return [(_database(r, catalog), r.tables) for r in rows], total

    def tables(self, db: str, q: str | None = None, limit: int = 50, offset: int = 0,
               catalog: str = DEFAULT_CATALOG) -> tuple[list[TableSummary], int]:  # fmt: skip
        limit, offset = _page(limit, offset)
        with self._read() as conn:
            dbrow = self._database_row(conn, catalog, db)
            where = [TableRow.database_id == dbrow.id]
            if (cond := _like(TableRow.name, q)) is not None:
                where.append(cond)
            columns = select(TableRow.name, TableRow.table_type, TableRow.owner, TableRow.create_time, TableRow.sd,
                             TableRow.partition_keys, TableRow.version, TableRow.parameters)  # fmt: skip
            rows, total = _page_rows(conn, columns, TableRow, where, TableRow.name, limit, offset)
        return [_summary(r, dbrow.name) for r in rows], total

    def search_tables(self, q: str | None, limit: int = 50, offset: int = 0, only: list[str] | None = None,
                      catalog: str = DEFAULT_CATALOG) -> tuple[list[TableSummary], int]:  # fmt: skip
        """Tables of every database (among `only`, if given) whose names contain `q`, or whose annotations match
        it (`tag:x`, `class:x`, `owner:x`, `description:text`, or plain text), by database and name."""
        limit, offset = _page(limit, offset)
        with self._read() as conn:
            cid = self._catalog(conn, catalog)
            where = [DatabaseRow.catalog_id == cid]
            if (cond := _like(TableRow.name, q)) is not None:
                from metastore.catalog.annotations import search_condition  # tags, owners, descriptions too

                noted = search_condition(q, DatabaseRow.name, TableRow.name)
                where.append(cond if noted is None else cond | noted)
            if only is not None:
                where.append(DatabaseRow.name.in_(only or [""]))
            joined = (
                select(func.count())
                .select_from(TableRow)
                .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
            )
            total = conn.execute(joined.where(*where)).scalar()
            rows = conn.execute(
                select(DatabaseRow.name.label("db"), TableRow.name, TableRow.table_type, TableRow.owner,
                       TableRow.create_time, TableRow.sd, TableRow.partition_keys, TableRow.version, TableRow.parameters)
                .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
                .where(*where).order_by(DatabaseRow.name, TableRow.name).limit(limit).offset(offset)
            ).all()  # fmt: skip
        return [_summary(r, r.db) for r in rows], total

    def search_columns(self, q: str, limit: int = 50, only: list[str] | None = None, scan: int = 2000,
                       catalog: str = DEFAULT_CATALOG) -> list[tuple[TableSummary, list[str]]]:  # fmt: skip
        """Tables (among databases `only`, if given) with columns or partition keys whose names contain `q`,
        each with those names; at most `limit`, from at most `scan` tables whose stored schema mentions `q`
        (a LIKE narrows the rows, the decoded schema decides)."""
        limit, _ = _page(limit, 0)
        needle = (q or "").strip().lower()
        if not needle:
            return []
        with self._read() as conn:
            cid = self._catalog(conn, catalog)
            where = [DatabaseRow.catalog_id == cid,
                     TableRow.sd.contains(needle, autoescape=True) | TableRow.partition_keys.contains(needle, autoescape=True)]  # fmt: skip
            if only is not None:
                where.append(DatabaseRow.name.in_(only or [""]))
            rows = conn.execute(
                select(DatabaseRow.name.label("db"), TableRow.name, TableRow.table_type, TableRow.owner,
                       TableRow.create_time, TableRow.sd, TableRow.partition_keys, TableRow.version, TableRow.parameters)
                .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
                .where(*where).order_by(DatabaseRow.name, TableRow.name).limit(scan)
            ).all()  # fmt: skip
        out = []
        for r in rows:
            names = [c[0] for c in codec.loads(r.sd).get("cols", [])] + [k[0] for k in codec.loads(r.partition_keys)]
            hits = [n for n in names if needle in str(n).lower()]
            if hits:
                out.append((_summary(r, r.db), hits))
                if len(out) == limit:
                    break
        return out

    def crawler_run_changes(self, run: CrawlerRun, database: str, limit: int = 500) -> list[AuditRecord]:
        """What crawler run `run` changed in database `database`: the audit records written as
        crawler:<name> while the run went on, oldest first (at most `limit`)."""
        limit, _ = _page(limit, 0)
        query = select(AuditRow).where(AuditRow.user == f"crawler:{run.crawler}",
                                       AuditRow.db_name == database.lower(), AuditRow.at >= run.started_at)  # fmt: skip
        if run.ended_at is not None:
            query = query.where(AuditRow.at <= run.ended_at)
        with self._read() as conn:
            rows = conn.execute(query.order_by(AuditRow.id).limit(limit)).all()
        return [AuditRecord(r.id, r.at, r.user, r.action, r.catalog_name, r.db_name, r.object_name,
                            codec.loads(r.details)) for r in rows]  # fmt: skip

    def partitions(self, db: str, table: str, filter_text: str | None = None, after: str | None = None,
                   limit: int = 50, catalog: str = DEFAULT_CATALOG) -> tuple[list[tuple[str, Partition]], str | None]:  # fmt: skip
        """A page of (name, partition) in name order, after partition name `after`, matching the partition
        filter `filter_text`; and the cursor of the next page (None on the last page)."""
        limit, _ = _page(limit, 0)
        parts = Partitions(self.ctx)
        with self._read() as conn:
            t: _TableInfo = parts._table(conn, catalog, db, table)
            where = parts._filter(t, filter_text)
            if after:
                where.append(PartitionRow.name > after)
            names = conn.execute(
                select(PartitionRow.name).where(PartitionRow.table_id == t.id, *where)
                .order_by(PartitionRow.name).limit(limit + 1)
            ).scalars().all()  # fmt: skip
            page = names[:limit]
        # the partitions themselves through the public listing (a partition dropped meanwhile is left out)
        found = (
            {
                make_partition_name(t.key_names, p.values): p
                for p in parts.get_by_names(db, table, page, catalog)
            }
            if page
            else {}
        )
        return [(n, found[n]) for n in page if n in found], (page[-1] if len(names) > limit else None)

    def partition_count(self, db: str, table: str, catalog: str = DEFAULT_CATALOG) -> int:
        with self._read() as conn:
            row = self._table_row(conn, catalog, db, table)
            return conn.execute(
                select(func.count()).select_from(PartitionRow).where(PartitionRow.table_id == row.id)
            ).scalar()

    def functions(self, db: str, q: str | None = None, limit: int = 50, offset: int = 0,
                  catalog: str = DEFAULT_CATALOG) -> tuple[list[Function], int]:  # fmt: skip
        limit, offset = _page(limit, offset)
        with self._read() as conn:
            dbrow = self._database_row(conn, catalog, db)
            where = [FunctionRow.database_id == dbrow.id]
            if (cond := _like(FunctionRow.name, q)) is not None:
                where.append(cond)
            rows, total = _page_rows(conn, select(FunctionRow), FunctionRow, where, FunctionRow.name, limit, offset)
        return [_function(r, dbrow.name, catalog) for r in rows], total

    def crawlers(self, q: str | None = None, limit: int = 50, offset: int = 0,
                 only: list[str] | None = None) -> tuple[list[tuple[Crawler, CrawlerRun | None]], int]:  # fmt: skip
        """A page of (crawler, its newest run) with names containing `q`, whose database is among `only` if
        given; and their number. Two queries."""
        limit, offset = _page(limit, offset)
        where = []
        if (cond := _like(CrawlerRow.name, q)) is not None:
            where.append(cond)
        if only is not None:
            where.append(CrawlerRow.database_name.in_(only or [""]))
        with self._read() as conn:
            rows, total = _page_rows(conn, select(CrawlerRow), CrawlerRow, where, CrawlerRow.name, limit, offset)
            ids = [r.id for r in rows]
            last = {}
            if ids:
                newest = (select(func.max(CrawlerRunRow.id)).where(CrawlerRunRow.crawler_id.in_(ids))
                          .group_by(CrawlerRunRow.crawler_id))  # fmt: skip
                for run in conn.execute(select(CrawlerRunRow).where(CrawlerRunRow.id.in_(newest))):
                    last[run.crawler_id] = run
        names = {r.id: r.name for r in rows}
        return [(_crawler(r), _run(last[r.id], names[r.id]) if r.id in last else None) for r in rows], total

    def runs(
        self, crawler: str, state: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[CrawlerRun], int]:
        """A page of crawler `crawler`'s runs, newest first, in `state` if given; and their number."""
        limit, offset = _page(limit, offset)
        with self._read() as conn:
            row = conn.execute(
                select(CrawlerRow.id, CrawlerRow.name).where(CrawlerRow.name == (crawler or "").lower())
            ).first()
            if row is None:
                raise NotFound(f"crawler {crawler} does not exist")
            where = [CrawlerRunRow.crawler_id == row.id]
            if state:
                where.append(CrawlerRunRow.state == state)
            rows, total = _page_rows(conn, select(CrawlerRunRow), CrawlerRunRow, where, CrawlerRunRow.id.desc(),
                                     limit, offset)  # fmt: skip
        return [_run(r, row.name) for r in rows], total

    def audit(self, db: str | None = None, obj: str | None = None, before_id: int | None = None,
              limit: int = 50) -> list[AuditRecord]:  # fmt: skip
        """Audit records of database `db` / object `obj`, newest first, with ids below `before_id`."""
        limit, _ = _page(limit, 0)
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if db is not None:
            query = query.where(AuditRow.db_name == db.lower())
        if obj is not None:
            query = query.where(AuditRow.object_name == obj.lower())
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [AuditRecord(r.id, r.at, r.user, r.action, r.catalog_name, r.db_name, r.object_name,
                            codec.loads(r.details)) for r in rows]  # fmt: skip

    def counts(self, only: list[str] | None = None, catalog: str = DEFAULT_CATALOG) -> dict[str, int]:
        """How many databases, tables and crawlers there are (among databases `only`, if given)."""
        with self._read() as conn:
            cid = self._catalog(conn, catalog)
            dbs = [DatabaseRow.catalog_id == cid]
            crawlers = []
            if only is not None:
                dbs.append(DatabaseRow.name.in_(only or [""]))
                crawlers.append(CrawlerRow.database_name.in_(only or [""]))
            n_dbs = conn.execute(select(func.count()).select_from(DatabaseRow).where(*dbs)).scalar()
            n_tables = conn.execute(
                select(func.count())
                .select_from(TableRow)
                .join(DatabaseRow, DatabaseRow.id == TableRow.database_id)
                .where(*dbs)
            ).scalar()
            n_crawlers = conn.execute(select(func.count()).select_from(CrawlerRow).where(*crawlers)).scalar()
        return {"databases": n_dbs, "tables": n_tables, "crawlers": n_crawlers}

    # --- jobs, triggers, workflows, connections (not database objects: no `only`) ---------------------------

    def jobs(self, q: str | None = None, job_type: str | None = None, last_state: str | None = None,
             limit: int = 50, offset: int = 0) -> tuple[list[tuple[Job, JobRun | None]], int]:  # fmt: skip
        """A page of (job without its script, its newest run) with names containing `q`, of `job_type` and
        whose newest run is in `last_state` if given; and their number. Three queries."""
        limit, offset = _page(limit, offset)
        newest = select(func.max(JobRunRow.id)).group_by(JobRunRow.job_id)
        where = []
        if (cond := _like(JobRow.name, q)) is not None:
            where.append(cond)
        if job_type:
            where.append(JobRow.job_type == job_type)
        if last_state:
            where.append(JobRow.id.in_(select(JobRunRow.job_id).where(
                JobRunRow.id.in_(newest), JobRunRow.state == last_state)))  # fmt: skip
        with self._read() as conn:
            rows, total = _page_rows(conn, select(JobRow), JobRow, where, JobRow.name, limit, offset)
            last = {}
            if rows:
                ids = [r.id for r in rows]
                for run in conn.execute(select(JobRunRow).where(
                        JobRunRow.id.in_(newest.where(JobRunRow.job_id.in_(ids))))):  # fmt: skip
                    last[run.job_id] = run
        return [(_job(r, ""), _job_run(last[r.id], r.name) if r.id in last else None) for r in rows], total

    def job_runs(self, job: str | None = None, state: str | None = None, limit: int = 50, offset: int = 0,
                 workflow_run_id: int | None = None) -> tuple[list[JobRun], int]:  # fmt: skip
        """A page of the runs of job `job` (or of every job), newest first, in `state` if given (and of
        workflow run `workflow_run_id`); and their number."""
        limit, offset = _page(limit, offset)
        where = []
        with self._read() as conn:
            if job is not None:
                job_id = conn.execute(select(JobRow.id).where(JobRow.name == str(job).lower())).scalar()
                if job_id is None:
                    raise NotFound(f"job {job} does not exist")
                where.append(JobRunRow.job_id == job_id)
            if state:
                where.append(JobRunRow.state == state)
            if workflow_run_id is not None:
                where.append(JobRunRow.workflow_run_id == workflow_run_id)
            rows, total = _page_rows(conn, _RUN_WITH_JOB, JobRunRow, where, JobRunRow.id.desc(), limit, offset)
        return [_job_run(r, r.job_name) for r in rows], total

    def job_count_by_state(self, job: str) -> dict[str, int]:
        """How many runs job `job` has in each state."""
        with self._read() as conn:
            rows = conn.execute(
                select(JobRunRow.state, func.count()).join(JobRow, JobRow.id == JobRunRow.job_id)
                .where(JobRow.name == str(job).lower()).group_by(JobRunRow.state)).all()  # fmt: skip
        return {s: n for s, n in rows}

    def triggers(self, q: str | None = None, trigger_type: str | None = None, state: str | None = None,
                 workflow: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Trigger], int]:  # fmt: skip
        """A page of triggers with names containing `q`, of a type, state and workflow if given."""
        limit, offset = _page(limit, offset)
        where = []
        if (cond := _like(TriggerRow.name, q)) is not None:
            where.append(cond)
        for column, value in ((TriggerRow.trigger_type, trigger_type), (TriggerRow.state, state),
                              (TriggerRow.workflow_name, workflow and workflow.lower())):  # fmt: skip
            if value:
                where.append(column == value)
        with self._read() as conn:
            rows, total = _page_rows(conn, select(TriggerRow), TriggerRow, where, TriggerRow.name, limit, offset)
        return [_trigger(r) for r in rows], total

    def workflows(self, q: str | None = None, limit: int = 50, offset: int = 0
                  ) -> tuple[list[tuple[Workflow, WorkflowRun | None]], int]:  # fmt: skip
        """A page of (workflow, its newest run without node states) with names containing `q`."""
        limit, offset = _page(limit, offset)
        where = []
        if (cond := _like(WorkflowRow.name, q)) is not None:
            where.append(cond)
        with self._read() as conn:
            rows, total = _page_rows(conn, select(WorkflowRow), WorkflowRow, where, WorkflowRow.name, limit, offset)
            last = {}
            if rows:
                newest = (select(func.max(WorkflowRunRow.id)).where(WorkflowRunRow.workflow_id.in_([r.id for r in rows]))
                          .group_by(WorkflowRunRow.workflow_id))  # fmt: skip
                for run in conn.execute(select(WorkflowRunRow).where(WorkflowRunRow.id.in_(newest))):
                    last[run.workflow_id] = run
        out = []
        for r in rows:
            wf = Workflow(
                r.name, r.description, codec.loads(r.default_run_properties), r.created_at, r.updated_at
            )
            run = last.get(r.id)
            out.append((wf, None if run is None else _workflow_run(run, r.name)))
        return out, total

    def workflow_runs(self, workflow: str, limit: int = 50, offset: int = 0) -> tuple[list[WorkflowRun], int]:
        """A page of workflow `workflow`'s runs, newest first, without node states; and their number."""
        limit, offset = _page(limit, offset)
        with self._read() as conn:
            row = conn.execute(
                select(WorkflowRow.id, WorkflowRow.name).where(WorkflowRow.name == str(workflow).lower())
            ).first()
            if row is None:
                raise NotFound(f"workflow {workflow} does not exist")
            where = [WorkflowRunRow.workflow_id == row.id]
            rows, total = _page_rows(conn, select(WorkflowRunRow), WorkflowRunRow, where, WorkflowRunRow.id.desc(),
                                     limit, offset)  # fmt: skip
        return [_workflow_run(r, row.name) for r in rows], total

    def connections(self, q: str | None = None, connection_type: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[list[Connection], int]:  # fmt: skip
        """A page of connections, secrets masked (this listing never answers them)."""
        limit, offset = _page(limit, offset)
        where = []
        if (cond := _like(ConnectionRow.name, q)) is not None:
            where.append(cond)
        if connection_type:
            where.append(ConnectionRow.connection_type == connection_type)
        with self._read() as conn:
            rows, total = _page_rows(conn, select(ConnectionRow), ConnectionRow, where, ConnectionRow.name,
                                     limit, offset)  # fmt: skip
        return [_connection(r, False) for r in rows], total

    def etl_counts(self) -> dict[str, int]:
        """How many jobs, triggers, workflows and connections there are."""
        with self._read() as conn:
            return {name: conn.execute(select(func.count()).select_from(model)).scalar()
                    for name, model in (("jobs", JobRow), ("triggers", TriggerRow), ("workflows", WorkflowRow),
                                        ("connections", ConnectionRow))}  # fmt: skip


def _workflow_run(r, workflow: str) -> WorkflowRun:
    return WorkflowRun(r.id, workflow, r.state, codec.loads(r.run_properties), r.started_at, r.ended_at, {})
