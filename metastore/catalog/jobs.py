"""ETL jobs as catalog objects: definitions with versioned scripts, runs in Glue's states, bookmarks.

Running a job is `runner/jobs`'s business; this module stores what a run needs and records what it did.
Times are milliseconds since the epoch.

Run life: `start_run` inserts a STARTING run (or WAITING when the job is at its limit of concurrent runs
and queues, or refuses with Conflict); a worker takes it with `claim_run` (STARTING → RUNNING, a
conditional update: a run is executed by one worker at a time, even when the broker delivers its task
twice); it proves it is alive with `heartbeat_run` and ends it with `finish_run`. `stop_run` asks for a
stop (STOPPING, seen by the worker at its next heartbeat). `mark_stale_runs` fails the runs whose worker
went quiet, and retries them when retries remain. Every start is checked and inserted in one write
transaction holding the job's row locked (FOR UPDATE; SQLite write transactions are exclusive already).

Ending a run may start others: a retry of a failed run, or the oldest WAITING run now that a slot is
free. Those come back to the caller as STARTING runs to enqueue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog import codec
from metastore.catalog.base import Area, now_ms
from metastore.catalog.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import NAME, JobBookmarkRow, JobRow, JobRunLogRow, JobRunRow, JobScriptRow

STARTING, RUNNING, STOPPING, STOPPED = "STARTING", "RUNNING", "STOPPING", "STOPPED"
SUCCEEDED, FAILED, TIMEOUT, ERROR, WAITING = "SUCCEEDED", "FAILED", "TIMEOUT", "ERROR", "WAITING"
RUN_STATES = (STARTING, RUNNING, STOPPING, STOPPED, SUCCEEDED, FAILED, TIMEOUT, ERROR, WAITING)
ACTIVE_STATES = (STARTING, RUNNING, STOPPING)  # count against max concurrent runs
LIVE_STATES = (*ACTIVE_STATES, WAITING)  # not ended
END_STATES = (STOPPED, SUCCEEDED, FAILED, TIMEOUT, ERROR)
RETRIED_STATES = (FAILED, ERROR)  # a run ending so is retried while retries remain
STALE_RUN_ERROR = "worker stopped responding"

JOB_TYPES = ("spark", "pythonshell")
BOOKMARK_OPTIONS = ("disable", "enable", "pause")
MAX_SCRIPT = 4 * 1024 * 1024
MAX_ERROR = 8000
MAX_RETRIES = 10
MAX_CONCURRENT = 1000
MAX_LOG_READ = 1024 * 1024  # characters of a run's log answered at once


# --- domain types ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Job:
    name: str
    script: str = ""  # the current version's text (stored in the catalog)
    job_type: str = "spark"  # spark, pythonshell
    script_location: str | None = None  # a path or URL the script was loaded from (informative)
    default_arguments: dict[str, str] = field(default_factory=dict)  # {"--KEY": "value"}; runs may override
    non_overridable_arguments: dict[str, str] = field(default_factory=dict)  # runs may not override
    spark_conf: dict[str, str] = field(default_factory=dict)
    master: str | None = None  # None: the workers' default, local[N]
    timeout_s: int | None = None  # None: no limit
    max_retries: int = 0
    max_concurrent_runs: int = 1
    queue_runs: bool = False  # beyond max concurrent runs: WAITING instead of an error
    bookmark: str = "disable"  # enable, disable, pause
    description: str | None = None
    connections: list[str] = field(default_factory=list)  # names of catalog connections the script uses
    script_version: int = 0  # set by the catalog
    created_at: int = 0
    updated_at: int = 0


@dataclass(slots=True)
class JobRun:
    id: int
    job: str
    state: str
    attempt: int  # 0 for the first attempt, as Glue counts
    previous_run_id: int | None
    script_version: int
    arguments: dict[str, str]
    trigger: str | None
    worker: str | None
    error: str | None
    created_at: int
    started_at: int | None
    ended_at: int | None
    heartbeat_at: int
    workflow_run_id: int | None = None
    running_at: int | None = None  # when its script started: queued, then starting (a driver), then running
    warm: bool | None = None  # its driver came from the warm pool (None: no driver yet)

    @property
    def duration_ms(self) -> int | None:
        if self.ended_at is None or self.started_at is None:
            return None
        return self.ended_at - self.started_at

    @property
    def queued_ms(self) -> int | None:
        """From the run's creation until a worker took it."""
        return None if self.started_at is None else self.started_at - self.created_at

    @property
    def startup_ms(self) -> int | None:
        """From a worker taking the run until its script started (Glue's startup time)."""
        if self.started_at is None or self.running_at is None:
            return None
        return self.running_at - self.started_at

    @property
    def execution_ms(self) -> int | None:
        """The script's own time (Glue's execution time): what the job's timeout counts."""
        if self.running_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.running_at


class Finished(NamedTuple):
    run: JobRun  # the run as it ended
    started: list[JobRun]  # runs that became STARTING because of it (a retry, a WAITING run): enqueue them


# --- validation -----------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_arguments(what: str, value) -> dict[str, str]:
    """Job arguments: a mapping of `--KEY` to string values (a key without `--` gets it)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping of --KEY to value, not {value!r}")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k.strip("-").strip() or any(c.isspace() for c in k):
            raise InvalidInput(f"{what}: argument name {k!r} is not valid")
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise InvalidInput(f"{what}: argument {k} must be a string, not {v!r}")
        out[k if k.startswith("--") else f"--{k}"] = str(v)
    return out


def _check_job(j: Job) -> tuple[str, str, dict]:
    name = check_name("job", j.name)
    if not isinstance(j.script, str) or not j.script.strip():
        raise InvalidInput(f"job {name} needs a script")
    if len(j.script.encode()) > MAX_SCRIPT:
        raise InvalidInput(f"job {name}: the script is larger than {MAX_SCRIPT} bytes")
    try:
        compile(j.script, f"<job {name}>", "exec")
    except SyntaxError as e:
        raise InvalidInput(f"job {name}: the script is not valid Python: {e.msg} (line {e.lineno})") from None
    if j.job_type not in JOB_TYPES:
        raise InvalidInput(f"job {name}: type {j.job_type!r} is not one of {', '.join(JOB_TYPES)}")
    if j.bookmark not in BOOKMARK_OPTIONS:
        raise InvalidInput(
            f"job {name}: bookmark option {j.bookmark!r} is not one of {', '.join(BOOKMARK_OPTIONS)}"
        )
    defaults = check_arguments(f"job {name}: default arguments", j.default_arguments)
    fixed = check_arguments(f"job {name}: non-overridable arguments", j.non_overridable_arguments)
    conf = j.spark_conf or {}
    if not isinstance(conf, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in conf.items()
    ):
        raise InvalidInput(f"job {name}: Spark conf must map strings to strings")
    if j.master is not None and (
        not isinstance(j.master, str) or not j.master.strip() or len(j.master) > NAME
    ):
        raise InvalidInput(f"job {name}: master {j.master!r} is not a Spark master URL")
    if j.timeout_s is not None and (not _is_int(j.timeout_s) or j.timeout_s < 1):
        raise InvalidInput(f"job {name}: timeout {j.timeout_s!r} is not a positive number of seconds")
    if not _is_int(j.max_retries) or not 0 <= j.max_retries <= MAX_RETRIES:
        raise InvalidInput(
            f"job {name}: max retries {j.max_retries!r} is not an integer from 0 to {MAX_RETRIES}"
        )
    if not _is_int(j.max_concurrent_runs) or not 1 <= j.max_concurrent_runs <= MAX_CONCURRENT:
        raise InvalidInput(
            f"job {name}: max concurrent runs {j.max_concurrent_runs!r} is not an integer from 1 to {MAX_CONCURRENT}"
        )
    if not isinstance(j.queue_runs, bool):
        raise InvalidInput(f"job {name}: queue_runs must be true or false")
    if j.description is not None and not isinstance(j.description, str):
        raise InvalidInput(f"job {name}: the description must be text")
    if not isinstance(j.connections, list | tuple) or not all(isinstance(c, str) for c in j.connections):
        raise InvalidInput(f"job {name}: connections must be a list of connection names")
    return (
        name,
        j.script,
        dict(
            job_type=j.job_type,
            script_location=j.script_location,
            default_arguments=codec.dumps(defaults),
            non_overridable_arguments=codec.dumps(fixed),
            spark_conf=codec.dumps(dict(conf)),
            master=j.master.strip() if j.master else None,
            timeout_s=j.timeout_s,
            max_retries=j.max_retries,
            max_concurrent_runs=j.max_concurrent_runs,
            queue_runs=j.queue_runs,
            bookmark=j.bookmark,
            description=j.description,
            connections=codec.dumps(sorted({check_name("connection", c) for c in j.connections})),
        ),
    )


def _check_script_location(job: str, location: str | None, warehouse: str | None = None) -> None:
    """PathNotAllowed when a job's script location is a path or URL outside the allowed_paths setting."""
    from metastore.catalog.paths import check_location, is_location

    if location is not None and (not isinstance(location, str) or len(location) > MAX_SCRIPT):
        raise InvalidInput(f"job {job}: the script location must be text")
    if location is not None and is_location(location):
        check_location(location, f"job {job}: script location", warehouse=warehouse)


def load_script(location: str, storage_options: dict | None = None) -> str:
    """The text of a script at a local path or an fsspec URL (s3://..., https://...), if the allowed_paths
    setting allows that location (PathNotAllowed otherwise)."""
    import fsspec

    from metastore.catalog.paths import check_location

    check_location(location, "script")
    try:
        with fsspec.open(location, "rt", encoding="utf-8", **(storage_options or {})) as f:
            text = f.read(MAX_SCRIPT + 1)
    except (OSError, ValueError, ImportError) as e:
        raise InvalidInput(f"script {location} cannot be read: {e}") from None
    if len(text) > MAX_SCRIPT:
        raise InvalidInput(f"script {location} is larger than {MAX_SCRIPT} bytes")
    return text


def bookmark_key(entry: str | Mapping) -> str:
    """What identifies a bookmark entry: a partition name, or a file's path, size and mtime (a file
    rewritten in place is new again)."""
    if isinstance(entry, str):
        return entry
    return codec.dumps([entry["path"], entry["size"], entry["mtime"]])


def _bookmark_entries(source: str, entries) -> list[str | dict]:
    if isinstance(entries, str | bytes | Mapping):
        raise InvalidInput(f"bookmark of {source}: entries must be a list")
    out = []
    for e in entries:
        if isinstance(e, Mapping):
            path, size, mtime = e.get("path"), e.get("size"), e.get("mtime")
            if not isinstance(path, str) or not path or not _is_int(size) or isinstance(mtime, bool) \
                    or not isinstance(mtime, int | float):  # fmt: skip
                raise InvalidInput(
                    f"bookmark of {source}: file entry {dict(e)!r} needs a path, a size and an mtime"
                )
            out.append({"path": path, "size": size, "mtime": mtime})
        elif isinstance(e, str):
            out.append(e)
        else:
            raise InvalidInput(f"bookmark of {source}: entry {e!r} is not a partition name or a file entry")
    return out


def _merged(*lists: list) -> list:
    """The entries of `lists`, each once, in the order of their keys."""
    by_key = {bookmark_key(e): e for entries in lists for e in entries}
    return [by_key[k] for k in sorted(by_key)]


# --- rows to objects -------------------------------------------------------------------------------------


def _job(row, script: str) -> Job:
    return Job(
        name=row.name,
        script=script,
        job_type=row.job_type,
        script_location=row.script_location,
        default_arguments=codec.loads(row.default_arguments),
        non_overridable_arguments=codec.loads(row.non_overridable_arguments),
        spark_conf=codec.loads(row.spark_conf),
        master=row.master,
        timeout_s=row.timeout_s,
        max_retries=row.max_retries,
        max_concurrent_runs=row.max_concurrent_runs,
        queue_runs=bool(row.queue_runs),
        bookmark=row.bookmark,
        description=row.description,
        connections=codec.loads(row.connections or "[]"),
        script_version=row.script_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _run(row, job: str) -> JobRun:
    return JobRun(
        id=row.id,
        job=job,
        state=row.state,
        attempt=row.attempt,
        previous_run_id=row.previous_run_id,
        script_version=row.script_version,
        arguments=codec.loads(row.arguments),
        trigger=row.trigger_name,
        worker=row.worker,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        heartbeat_at=row.heartbeat_at,
        workflow_run_id=row.workflow_run_id,
        running_at=row.running_at,
        warm=row.warm,
    )


_RUN_WITH_JOB = select(JobRunRow, JobRow.name.label("job_name")).join(JobRow, JobRow.id == JobRunRow.job_id)


class Jobs(Area):
    """Job definitions, script versions, runs and bookmarks. Each public method is one transaction; each
    one that changes a definition or a run's outcome writes an audit record (object name: the job)."""

    @staticmethod
    def _job_row(conn: Connection, name: str, for_update: bool = False):
        if not isinstance(name, str):
            raise NotFound(f"job {name!r} does not exist")
        query = select(JobRow).where(JobRow.name == name.lower())
        row = conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound(f"job {name} does not exist")
        return row

    def _audit_job(self, conn: Connection, action: str, job: str, **details) -> int:
        return self._audit(conn, action, DEFAULT_CATALOG, None, job, **details)

    @staticmethod
    def _script(conn: Connection, job_id: int, version: int) -> str:
        text = conn.execute(
            select(JobScriptRow.script).where(JobScriptRow.job_id == job_id, JobScriptRow.version == version)
        ).scalar()
        if text is None:
            raise NotFound(f"script version {version} does not exist")
        return text

    # --- definitions ------------------------------------------------------------------------------------

    def create(self, job: Job) -> Job:
        name, script, values = _check_job(job)
        _check_script_location(name, values["script_location"], self.ctx.warehouse.root)
        with self._write() as conn:
            if conn.execute(select(JobRow.id).where(JobRow.name == name)).first() is not None:
                raise AlreadyExists(f"job {name} already exists")
            at = now_ms()
            try:
                job_id = conn.execute(
                    insert(JobRow).values(name=name, script_version=1, created_at=at, updated_at=at, **values)
                ).inserted_primary_key[0]
            except IntegrityError:
                raise AlreadyExists(f"job {name} already exists") from None
            conn.execute(insert(JobScriptRow).values(job_id=job_id, version=1, script=script, created_at=at))
            self._audit_job(conn, "CREATE_JOB", name, type=values["job_type"], script_version=1)
        return self.get(name)

    def get(self, name: str, version: int | None = None) -> Job:
        """Job `name` with its current script (or script version `version`)."""
        with self._read() as conn:
            row = self._job_row(conn, name)
            v = row.script_version if version is None else version
            try:
                script = self._script(conn, row.id, v)
            except NotFound:
                raise NotFound(f"job {row.name} has no script version {version}") from None
            job = _job(row, script)
        if version is not None:
            job.script_version = version
        return job

    def list(self) -> list[Job]:
        """Every job with its current script."""
        with self._read() as conn:
            rows = conn.execute(
                select(JobRow, JobScriptRow.script)
                .join(
                    JobScriptRow,
                    (JobScriptRow.job_id == JobRow.id) & (JobScriptRow.version == JobRow.script_version),
                )
                .order_by(JobRow.name)
            ).all()
        return [_job(r, r.script) for r in rows]

    def script_versions(self, name: str) -> list[tuple[int, int]]:
        """(version, created_at) of every stored script version of job `name`, oldest first."""
        with self._read() as conn:
            row = self._job_row(conn, name)
            return [tuple(r) for r in conn.execute(
                select(JobScriptRow.version, JobScriptRow.created_at)
                .where(JobScriptRow.job_id == row.id).order_by(JobScriptRow.version))]  # fmt: skip

    def update(self, name: str, job: Job) -> Job:
        """Replace job `name`'s definition (no renaming). A changed script becomes a new version; runs under
        way keep the version they started with."""
        new_name, script, values = _check_job(job)
        _check_script_location(new_name, values["script_location"], self.ctx.warehouse.root)
        with self._write() as conn:
            row = self._job_row(conn, name, for_update=True)
            if new_name != row.name:
                raise InvalidInput(f"job {row.name} cannot be renamed to {new_name}")
            at = now_ms()
            version = row.script_version
            if script != self._script(conn, row.id, version):
                version += 1
                conn.execute(
                    insert(JobScriptRow).values(job_id=row.id, version=version, script=script, created_at=at)
                )
            conn.execute(
                update(JobRow)
                .where(JobRow.id == row.id)
                .values(script_version=version, updated_at=at, **values)
            )
            self._audit_job(conn, "UPDATE_JOB", row.name, script_version=version)
        return self.get(row.name)

    def delete(self, name: str) -> None:
        """Delete a job with its runs, scripts and bookmarks; Conflict while a run of it is live."""
        with self._write() as conn:
            row = self._job_row(conn, name, for_update=True)
            live = conn.execute(
                select(JobRunRow.id).where(JobRunRow.job_id == row.id, JobRunRow.state.in_(LIVE_STATES))
            ).first()
            if live is not None:
                raise Conflict(f"job {row.name} has a run under way (run {live.id}): stop it first")
            conn.execute(delete(JobRow).where(JobRow.id == row.id))
            self._audit_job(conn, "DELETE_JOB", row.name)

    # --- runs -------------------------------------------------------------------------------------------

    @staticmethod
    def _run_row(conn: Connection, run_id: int, for_update: bool = False):
        if not _is_int(run_id):
            raise NotFound(f"job run {run_id!r} does not exist")
        query = _RUN_WITH_JOB.where(JobRunRow.id == run_id)
        if for_update:
            query = query.with_for_update(of=JobRunRow)
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"job run {run_id} does not exist")
        return row

    @staticmethod
    def _active_count(conn: Connection, job_id: int) -> int:
        # a locking read (newest committed rows on MySQL) under the job's row lock
        return len(conn.execute(
            select(JobRunRow.id).where(JobRunRow.job_id == job_id, JobRunRow.state.in_(ACTIVE_STATES))
            .with_for_update()).all())  # fmt: skip

    def start_run(self, name: str, arguments: Mapping[str, str] | None = None, *, trigger: str | None = None,
                  queue: bool | None = None, workflow_run_id: int | None = None) -> JobRun:  # fmt: skip
        """A new run of job `name`: STARTING, to be enqueued by the caller. When the job already has
        `max_concurrent_runs` runs under way: WAITING if the job queues runs (or `queue` is true), else
        Conflict. `arguments` override the job's default arguments, never its non-overridable ones."""
        with self._write() as conn:
            job = self._job_row(conn, name, for_update=True)  # serialises the starts of one job
            overrides = check_arguments(f"job {job.name}: run arguments", arguments)
            fixed = codec.loads(job.non_overridable_arguments)
            clash = sorted(set(overrides) & set(fixed))
            if clash:
                raise InvalidInput(f"job {job.name}: argument {', '.join(clash)} cannot be overridden")
            args = {**codec.loads(job.default_arguments), **overrides, **fixed}
            active = self._active_count(conn, job.id)
            state = STARTING
            if active >= job.max_concurrent_runs:
                if not (job.queue_runs if queue is None else queue):
                    raise Conflict(
                        f"job {job.name} has reached its maximum of {job.max_concurrent_runs} concurrent "
                        f"run{'s' if job.max_concurrent_runs != 1 else ''}"
                    )
                state = WAITING
            row_id = self._insert_run(conn, job, state, args, trigger, 0, None, workflow_run_id)
            self._audit_job(conn, "START_JOB_RUN", job.name, run_id=row_id, state=state, trigger=trigger)
            return _run(self._run_row(conn, row_id), job.name)

    @staticmethod
    def _insert_run(conn: Connection, job, state: str, args: dict, trigger: str | None, attempt: int,
                    previous: int | None, workflow_run_id: int | None = None) -> int:  # fmt: skip
        at = now_ms()
        return conn.execute(insert(JobRunRow).values(
            job_id=job.id, state=state, attempt=attempt, previous_run_id=previous, workflow_run_id=workflow_run_id,
            script_version=job.script_version, arguments=codec.dumps(args), trigger_name=trigger,
            created_at=at, heartbeat_at=at)).inserted_primary_key[0]  # fmt: skip

    def claim_run(self, run_id: int, worker: str) -> tuple[JobRun, Job]:
        """Take STARTING run `run_id` for `worker`: it becomes RUNNING. Returns the run and its job with the
        script version of the run. Conflict if the run is not STARTING (taken already, stopped, ended)."""
        worker = str(worker)[:NAME]
        with self._write() as conn:
            at = now_ms()
            done = conn.execute(
                update(JobRunRow).where(JobRunRow.id == run_id, JobRunRow.state == STARTING)
                .values(state=RUNNING, worker=worker, started_at=at, heartbeat_at=at)
            ).rowcount if _is_int(run_id) else 0  # fmt: skip
            row = self._run_row(conn, run_id)
            if not done:
                raise Conflict(f"run {run_id} of job {row.job_name} is {row.state}, not STARTING: not taken")
            job_row = conn.execute(select(JobRow).where(JobRow.id == row.job_id)).one()
            job = _job(job_row, self._script(conn, job_row.id, row.script_version))
            job.script_version = row.script_version
            self._audit_job(conn, "CLAIM_JOB_RUN", row.job_name, run_id=run_id, worker=worker)
            return _run(row, row.job_name), job

    def script_started(self, run_id: int, warm: bool) -> int:
        """Record that run `run_id`'s script started now (its timeout counts from here), in a `warm`
        driver or a cold one; answers the time recorded. Conflict if the run is not RUNNING. Not audited."""
        with self._write() as conn:
            at = now_ms()
            done = conn.execute(
                update(JobRunRow).where(JobRunRow.id == run_id, JobRunRow.state.in_((RUNNING, STOPPING)))
                .values(running_at=at, warm=bool(warm), heartbeat_at=at)
            ).rowcount if _is_int(run_id) else 0  # fmt: skip
            if not done:
                row = self._run_row(conn, run_id)
                raise Conflict(f"run {run_id} of job {row.job_name} is {row.state}")
            return at

    def heartbeat_run(self, run_id: int) -> str:
        """Record that the worker of run `run_id` is alive; returns the run's state (STOPPING: stop it).
        Conflict once the run has ended: the worker should stop. Not audited."""
        with self._write() as conn:
            done = conn.execute(
                update(JobRunRow).where(JobRunRow.id == run_id, JobRunRow.state.in_((RUNNING, STOPPING)))
                .values(heartbeat_at=now_ms())
            ).rowcount if _is_int(run_id) else 0  # fmt: skip
            row = self._run_row(conn, run_id)
            if not done:
                raise Conflict(f"run {run_id} of job {row.job_name} is {row.state}")
            return row.state

    def stop_run(self, run_id: int) -> Finished:
        """Stop a run: a STARTING or WAITING run is STOPPED at once (a WAITING run may start in its slot:
        enqueue `started`); a RUNNING one becomes STOPPING and its worker stops it (STOPPED) at its next
        heartbeat. Conflict if it has ended."""
        with self._write() as conn:
            job = self._job_row(conn, self._run_row(conn, run_id).job_name, for_update=True)
            row = self._run_row(conn, run_id, for_update=True)
            run = row
            if run.state in END_STATES:
                raise Conflict(f"run {run_id} of job {row.job_name} has already ended: {run.state}")
            if run.state in (STARTING, WAITING):
                return self._end(conn, job, run, STOPPED, "stopped before it started", "STOP_JOB_RUN")
            if run.state == RUNNING:
                conn.execute(update(JobRunRow).where(JobRunRow.id == run_id).values(state=STOPPING))
                self._audit_job(conn, "STOP_JOB_RUN", row.job_name, run_id=run_id, state=STOPPING)
            return Finished(_run(self._run_row(conn, run_id), row.job_name), [])

    def finish_run(self, run_id: int, state: str, error: str | None = None) -> Finished:
        """End a RUNNING or STOPPING run with `state` (SUCCEEDED, FAILED, TIMEOUT, ERROR, STOPPED). A STOPPING
        run ends STOPPED whatever the outcome reported. Success commits the run's bookmarks. A failure with
        retries left starts the next attempt; a freed slot starts the oldest WAITING run. Conflict if the
        run has ended already (failed as stale while its worker was away)."""
        if state not in END_STATES:
            raise InvalidInput(f"run {run_id}: state {state!r} is not one of {', '.join(END_STATES)}")
        if error is not None:
            error = str(error)[-MAX_ERROR:]
        with self._write() as conn:
            # the job's row first, then the run's: the order start_run takes them in
            job = self._job_row(conn, self._run_row(conn, run_id).job_name, for_update=True)
            row = self._run_row(conn, run_id, for_update=True)
            current = row.state
            if current not in (RUNNING, STOPPING):
                raise Conflict(f"run {run_id} of job {row.job_name} is {current}: it cannot end as {state}")
            if current == STOPPING:
                state, error = STOPPED, error if state != SUCCEEDED else None
            return self._end(conn, job, row, state, error, "FINISH_JOB_RUN")

    def _end(self, conn: Connection, job, run, state: str, error: str | None, action: str) -> Finished:
        at = max(now_ms(), run.started_at or 0)
        conn.execute(
            update(JobRunRow).where(JobRunRow.id == run.id).values(state=state, ended_at=at, error=error)
        )
        if state == SUCCEEDED:
            self._commit_bookmarks(conn, job.id, run.id)
        started = []
        if state in RETRIED_STATES and run.attempt < job.max_retries:
            rid = self._insert_run(conn, job, STARTING, codec.loads(run.arguments), run.trigger_name,
                                   run.attempt + 1, run.id, run.workflow_run_id)  # fmt: skip
            started.append(rid)
        elif self._active_count(conn, job.id) < job.max_concurrent_runs:
            waiting = conn.execute(
                select(JobRunRow.id).where(JobRunRow.job_id == job.id, JobRunRow.state == WAITING)
                .order_by(JobRunRow.id).limit(1).with_for_update()).scalar()  # fmt: skip
            if waiting is not None:
                conn.execute(
                    update(JobRunRow).where(JobRunRow.id == waiting).values(state=STARTING, heartbeat_at=at)
                )
                started.append(waiting)
        self._audit_job(conn, action, job.name, run_id=run.id, state=state, started=started)
        ended = _run(conn.execute(select(JobRunRow).where(JobRunRow.id == run.id)).one(), job.name)
        return Finished(ended, [_run(r, job.name) for r in conn.execute(
            select(JobRunRow).where(JobRunRow.id.in_(started)).order_by(JobRunRow.id))] if started else [])  # fmt: skip

    def get_run(self, run_id: int) -> JobRun:
        with self._read() as conn:
            row = self._run_row(conn, run_id)
        return _run(row, row.job_name)

    def runs(
        self, name: str | None = None, limit: int = 50, states: tuple[str, ...] | None = None
    ) -> list[JobRun]:
        """Runs of job `name` (or of every job), newest first."""
        if not _is_int(limit) or limit < 1:
            raise InvalidInput(f"limit {limit!r} is not a positive integer")
        query = _RUN_WITH_JOB.order_by(JobRunRow.id.desc()).limit(limit)
        if states:
            query = query.where(JobRunRow.state.in_(states))
        with self._read() as conn:
            if name is not None:
                query = query.where(JobRunRow.job_id == self._job_row(conn, name).id)
            rows = conn.execute(query).all()
        return [_run(r, r.job_name) for r in rows]

    # --- logs -------------------------------------------------------------------------------------------

    def append_log(self, run_id: int, data: str, at: int | None = None) -> int:
        """Append `data` to run `run_id`'s log (the worker running it sends what the driver wrote since
        its last call); answers the log's length in characters. `at`: where the sender believes the log
        ends; a chunk sent again after a lost answer (it ends at or before the stored end) is not stored
        twice, and a gap is a Conflict."""
        if not isinstance(data, str):
            raise InvalidInput("log data must be text")
        if at is not None and (not _is_int(at) or at < 0):
            raise InvalidInput(f"log position {at!r} is not a non-negative integer")
        with self._write() as conn:
            self._run_row(conn, run_id)
            last = conn.execute(  # the last chunk's end, computed by the database (not its text)
                select(JobRunLogRow.seq, JobRunLogRow.position + func.char_length(JobRunLogRow.data))
                .where(JobRunLogRow.run_id == run_id).order_by(JobRunLogRow.seq.desc()).limit(1)
            ).first()  # fmt: skip
            seq, position = (0, 0) if last is None else (last[0] + 1, last[1])
            if at is not None and at != position:
                if at + len(data) <= position:
                    return position  # stored already
                raise Conflict(f"log of run {run_id} ends at {position}, not {at}")
            if data:
                conn.execute(insert(JobRunLogRow).values(run_id=run_id, seq=seq, position=position, data=data,
                                                         created_at=now_ms()))  # fmt: skip
        return position + len(data)

    def read_log(self, run_id: int, offset: int = 0, limit: int = MAX_LOG_READ) -> tuple[str, int]:
        """Run `run_id`'s log from character `offset`: (text, the offset to read from next time). At most
        `limit` characters, give or take a chunk: call again with the offset answered to follow a run."""
        if not _is_int(offset) or offset < 0:
            raise InvalidInput(f"offset {offset!r} is not a non-negative integer")
        with self._read() as conn:
            self._run_row(conn, run_id)
            first = conn.execute(
                select(func.max(JobRunLogRow.seq))
                .where(JobRunLogRow.run_id == run_id, JobRunLogRow.position <= offset)
            ).scalar()  # fmt: skip
            rows = conn.execute(
                select(JobRunLogRow.position, JobRunLogRow.data)
                .where(JobRunLogRow.run_id == run_id, JobRunLogRow.seq >= (first or 0))
                .order_by(JobRunLogRow.seq).limit(1000)
            ).all()  # fmt: skip
        parts, end = [], offset
        for position, data in rows:
            if position + len(data) <= offset:
                continue
            piece = data[max(0, offset - position) :]
            parts.append(piece)
            end = max(offset, position) + len(piece)
            if end - offset >= limit:
                break
        return "".join(parts), end

    def last_ended_run(self, name: str) -> JobRun | None:
        with self._read() as conn:
            row = conn.execute(
                _RUN_WITH_JOB.where(JobRow.name == (name or "").lower(), JobRunRow.state.in_(END_STATES))
                .order_by(JobRunRow.ended_at.desc(), JobRunRow.id.desc()).limit(1)).first()  # fmt: skip
        return None if row is None else _run(row, row.job_name)

    def mark_stale_runs(self, older_than_s: float) -> list[Finished]:
        """End every RUNNING or STOPPING run whose last heartbeat is older than `older_than_s` seconds:
        FAILED with "worker stopped responding" (STOPPED if a stop was asked), retried when retries
        remain. Returns what ended and what started (enqueue the started runs)."""
        if (
            isinstance(older_than_s, bool)
            or not isinstance(older_than_s, int | float)
            or not (math.isfinite(older_than_s) and older_than_s >= 0)
        ):
            raise InvalidInput(f"stale run age {older_than_s!r} is not a non-negative number of seconds")
        out = []
        with self._write() as conn:
            cutoff = now_ms() - int(older_than_s * 1000)
            ids = conn.execute(
                select(JobRunRow.id).where(JobRunRow.state.in_((RUNNING, STOPPING)), JobRunRow.heartbeat_at < cutoff)
                .order_by(JobRunRow.id)).scalars().all()  # fmt: skip
            for rid in ids:
                row = self._run_row(conn, rid)
                job = self._job_row(conn, row.job_name, for_update=True)
                run = self._run_row(conn, rid, for_update=True)
                if run.state not in (RUNNING, STOPPING) or run.heartbeat_at >= cutoff:
                    continue
                state = STOPPED if run.state == STOPPING else FAILED
                out.append(self._end(conn, job, run, state, STALE_RUN_ERROR, "FAIL_STALE_JOB_RUN"))
        return out

    def unclaimed_runs(self, older_than_s: float) -> list[JobRun]:
        """STARTING runs that no worker took for `older_than_s` seconds since they were enqueued (their task
        may have been lost): each is marked as enqueued again now, and returned for the caller to enqueue.
        Enqueuing a run twice is harmless: one worker takes it (claim_run), the others leave it."""
        with self._write() as conn:
            cutoff = now_ms() - int(older_than_s * 1000)
            rows = conn.execute(_RUN_WITH_JOB.where(JobRunRow.state == STARTING, JobRunRow.heartbeat_at < cutoff)
                                .order_by(JobRunRow.id).with_for_update(of=JobRunRow)).all()  # fmt: skip
            if rows:
                conn.execute(update(JobRunRow).where(JobRunRow.id.in_([r.id for r in rows]), JobRunRow.state == STARTING)
                             .values(heartbeat_at=now_ms()))  # fmt: skip
        return [_run(r, r.job_name) for r in rows]

    def active_counts(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(
                select(JobRow.name, func.count()).join(JobRunRow, JobRunRow.job_id == JobRow.id)
                .where(JobRunRow.state.in_(ACTIVE_STATES)).group_by(JobRow.name)).all()  # fmt: skip
        return {n: c for n, c in rows}

    # --- bookmarks --------------------------------------------------------------------------------------

    def bookmark(self, name: str, source: str) -> list[str | dict]:
        """What successful runs of job `name` processed of table `source` (db.table): partition names, or
        for an unpartitioned table file entries {"path", "size", "mtime"}."""
        with self._read() as conn:
            job = self._job_row(conn, name)
            done = conn.execute(select(JobBookmarkRow.done).where(
                JobBookmarkRow.job_id == job.id, JobBookmarkRow.source == source.lower())).scalar()  # fmt: skip
        return codec.loads(done) if done else []

    def bookmarks(self, name: str) -> dict[str, list[str | dict]]:
        """Every bookmark of job `name`: source table (db.table) → what successful runs processed of it."""
        with self._read() as conn:
            job = self._job_row(conn, name)
            rows = conn.execute(select(JobBookmarkRow.source, JobBookmarkRow.done)
                                .where(JobBookmarkRow.job_id == job.id).order_by(JobBookmarkRow.source)).all()  # fmt: skip
        return {r.source: codec.loads(r.done) for r in rows if r.done}

    def record_bookmark(self, run_id: int, source: str, partitions: list[str | Mapping]) -> None:
        """Run `run_id` has read `partitions` of `source` (partition names, or file entries {"path", "size",
        "mtime"} of an unpartitioned table): committed to the job's bookmark if it succeeds."""
        entries = _bookmark_entries(source, partitions)
        source = source.lower()
        if len(source) > NAME:
            raise InvalidInput(f"bookmark source {source} is too long")
        with self._write() as conn:
            row = self._run_row(conn, run_id)
            if row.state not in (RUNNING, STOPPING):
                raise Conflict(f"run {run_id} of job {row.job_name} is {row.state}")
            job_id = row.job_id
            cur = conn.execute(select(JobBookmarkRow).where(
                JobBookmarkRow.job_id == job_id, JobBookmarkRow.source == source).with_for_update()).first()  # fmt: skip
            if cur is None:
                conn.execute(insert(JobBookmarkRow).values(
                    job_id=job_id, source=source, done="[]", pending=codec.dumps(_merged([], entries)),
                    pending_run_id=run_id, updated_at=now_ms()))  # fmt: skip
            else:
                pending = codec.loads(cur.pending) if cur.pending_run_id == run_id else []
                conn.execute(update(JobBookmarkRow).where(
                    JobBookmarkRow.job_id == job_id, JobBookmarkRow.source == source).values(
                    pending=codec.dumps(_merged(pending, entries)), pending_run_id=run_id,
                    updated_at=now_ms()))  # fmt: skip

    @staticmethod
    def _commit_bookmarks(conn: Connection, job_id: int, run_id: int) -> None:
        for b in conn.execute(select(JobBookmarkRow).where(
                JobBookmarkRow.job_id == job_id, JobBookmarkRow.pending_run_id == run_id)).all():  # fmt: skip
            done = _merged(codec.loads(b.done), codec.loads(b.pending))
            conn.execute(update(JobBookmarkRow).where(
                JobBookmarkRow.job_id == job_id, JobBookmarkRow.source == b.source).values(
                done=codec.dumps(done), pending="[]", pending_run_id=None, updated_at=now_ms()))  # fmt: skip

    def reset_bookmark(self, name: str) -> None:
        """Forget what job `name` processed: its next run reads everything again."""
        with self._write() as conn:
            job = self._job_row(conn, name, for_update=True)
            conn.execute(delete(JobBookmarkRow).where(JobBookmarkRow.job_id == job.id))
            self._audit_job(conn, "RESET_JOB_BOOKMARK", job.name)
