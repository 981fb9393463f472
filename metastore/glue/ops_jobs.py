"""Glue's job operations over Mortar's jobs: definitions (the script is read from Command.ScriptLocation when
the job is created or updated, within the allowed_paths setting), runs started on the workers by task name
(`runner.job_run`, through `metastore.catalog.dispatch`), stops and bookmarks.

Jobs are not database objects: every caller with the read right sees them, editors and admins change and
run them (as Mortar's JSON API). Run ids are `jr_<id>` (`<id>` alone is accepted too); Glue's Timeout is
in minutes, Mortar's in seconds; `--job-bookmark-option` in DefaultArguments is the job's bookmark setting.
"""

from __future__ import annotations

from metastore.catalog import dispatch
from metastore.catalog.errors import CatalogError, Conflict, NotFound
from metastore.catalog.jobs import END_STATES, Job, JobRun, load_script
from metastore.glue import control as c
from metastore.glue.errors import GlueError, invalid_input, not_found
from metastore.glue.registry import GlueRequest, operation

COMMANDS = {"glueetl": "spark", "pythonshell": "pythonshell"}
KEPT = ("Role", "GlueVersion", "WorkerType", "NumberOfWorkers", "MaxCapacity", "AllocatedCapacity", "LogUri",
        "SecurityConfiguration", "NotificationProperty", "ExecutionClass", "MaintenanceWindow")  # fmt: skip
BOOKMARK_ARG = "--job-bookmark-option"
BOOKMARKS = {
    "job-bookmark-enable": "enable",
    "job-bookmark-disable": "disable",
    "job-bookmark-pause": "pause",
}


# --- shapes ------------------------------------------------------------------------------------------------


def job_out(req: GlueRequest, j: Job, kept: dict | None = None) -> dict:
    """Glue's Job; `kept`: its Glue-only fields (looked up when not given)."""
    if kept is None:
        kept = c.attributes(req).get("job", [j.name]).get(j.name, {})
    args = dict(j.default_arguments)
    if j.bookmark != "disable" or BOOKMARK_ARG in args:
        args[BOOKMARK_ARG] = f"job-bookmark-{j.bookmark}"
    command = c.compact({"Name": "glueetl" if j.job_type == "spark" else j.job_type,
                         "ScriptLocation": j.script_location})  # fmt: skip
    return c.compact({
        **kept,
        "Name": j.name,
        "Description": j.description,
        "CreatedOn": c.seconds(j.created_at),
        "LastModifiedOn": c.seconds(j.updated_at),
        "ExecutionProperty": {"MaxConcurrentRuns": j.max_concurrent_runs},
        "JobRunQueuingEnabled": j.queue_runs,
        "Command": command,
        "DefaultArguments": args,
        "NonOverridableArguments": j.non_overridable_arguments or None,
        "Connections": {"Connections": j.connections} if j.connections else None,
        "MaxRetries": j.max_retries,
        "Timeout": None if j.timeout_s is None else max(1, -(-j.timeout_s // 60)),
        "JobMode": "SCRIPT",
    })  # fmt: skip


def run_out(r: JobRun, job: Job | None = None) -> dict:
    started = r.started_at or r.created_at
    modified = max(x for x in (r.created_at, r.started_at, r.ended_at, r.heartbeat_at) if x is not None)
    execution = None if r.duration_ms is None else r.duration_ms // 1000
    return c.compact({
        "Id": c.run_id("jr", r.id),
        "Attempt": r.attempt,
        "PreviousRunId": None if r.previous_run_id is None else c.run_id("jr", r.previous_run_id),
        "TriggerName": r.trigger,
        "JobName": r.job,
        "StartedOn": c.seconds(started),
        "LastModifiedOn": c.seconds(modified),
        "CompletedOn": c.seconds(r.ended_at),
        "JobRunState": r.state,
        "Arguments": r.arguments,
        "ErrorMessage": r.error,
        "ExecutionTime": execution if execution is not None else 0,
        "Timeout": None if job is None or job.timeout_s is None else max(1, -(-job.timeout_s // 60)),
        "JobMode": "SCRIPT",
        "JobRunQueuingEnabled": None if job is None else job.queue_runs,
    })  # fmt: skip


def _job_in(req: GlueRequest, body: dict, name: str, base: Job | None) -> Job:
    """A Job from Glue's CreateJob body or JobUpdate (`base`: the current definition, whose fields the
    update replaces only where given)."""
    j = Job(name=name, script="") if base is None else base
    command = c.struct(body, "Command")
    if command or base is None:
        current = "glueetl" if base is None or j.job_type == "spark" else j.job_type
        kind = c.text(command, "Name") or current
        if kind not in COMMANDS:
            raise invalid_input(f"Command.Name {kind!r} is not supported: use one of {', '.join(COMMANDS)}")
        j.job_type = COMMANDS[kind]
        location = c.text(command, "ScriptLocation", required=base is None or "ScriptLocation" in command)
        if location is not None:
            j.script = load_script(location)
            j.script_location = location
    args = c.string_map(body, "DefaultArguments")
    if args is not None:
        args = dict(args)
        option = args.get(BOOKMARK_ARG)
        if option is not None:
            if option not in BOOKMARKS:
                raise invalid_input(f"{BOOKMARK_ARG} {option!r} is not one of {', '.join(BOOKMARKS)}")
            j.bookmark = BOOKMARKS[option]
        j.default_arguments = args
    fixed = c.string_map(body, "NonOverridableArguments")
    if fixed is not None:
        j.non_overridable_arguments = fixed
    if "Description" in body:
        j.description = c.text(body, "Description")
    execution = c.struct(body, "ExecutionProperty")
    if "MaxConcurrentRuns" in execution:
        j.max_concurrent_runs = c.integer(execution, "MaxConcurrentRuns", 1)
    queue = c.flag(body, "JobRunQueuingEnabled")
    if queue is not None:
        j.queue_runs = queue
    retries = c.integer(body, "MaxRetries", 0)
    if retries is not None:
        j.max_retries = retries
    if "Timeout" in body:
        minutes = c.integer(body, "Timeout", 1)
        j.timeout_s = None if minutes is None else minutes * 60
    if "Connections" in body:
        j.connections = c.strings(c.struct(body, "Connections"), "Connections")
    return j


def _job_name(body: dict, key: str = "JobName") -> str:
    return c.text(body, key, required=True)


def _all_jobs(req: GlueRequest) -> list[Job]:
    """Every job, without its script (listings need none), a thousand per query."""
    out: list[Job] = []
    while True:
        pairs, total = req.service.browse.jobs(None, None, None, 1000, len(out))
        out += [j for j, _ in pairs]
        if not pairs or len(out) >= total:
            return out


# --- definitions -------------------------------------------------------------------------------------------


@operation("CreateJob")
def create_job(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    name = c.text(body, "Name", required=True)
    kept = c.kept(body, KEPT)
    job = req.service.jobs.create(_job_in(req, body, name, None))
    c.attributes(req).update("job", job.name, kept)
    c.set_tags(req, req.arn("job", job.name), body.get("Tags"))
    return {"Name": job.name}


@operation("GetJob")
def get_job(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    return {"Job": job_out(req, req.service.jobs.get(_job_name(body)))}


@operation("GetJobs")
def get_jobs(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    jobs, more = c.page_by_key(body, _all_jobs(req), lambda j: j.name)
    kept = c.attributes(req).get("job", [j.name for j in jobs])
    return {"Jobs": [job_out(req, j, kept.get(j.name, {})) for j in jobs], **more}


@operation("ListJobs")
def list_jobs(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    jobs = c.tagged(req, body, "job", _all_jobs(req), lambda j: j.name)
    jobs, more = c.page_by_key(body, jobs, lambda j: j.name)
    return {"JobNames": [j.name for j in jobs], **more}


@operation("BatchGetJobs")
def batch_get_jobs(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    found, missing = [], []
    for name in c.strings(body, "JobNames", required=True)[:100]:
        try:
            found.append(job_out(req, req.service.jobs.get(name)))
        except NotFound:
            missing.append(name)
    return {"Jobs": found, "JobsNotFound": missing}


@operation("UpdateJob")
def update_job(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    name = _job_name(body)
    update = c.struct(body, "JobUpdate")
    current = req.service.jobs.get(name)
    kept = c.kept(update, KEPT)
    job = req.service.jobs.update(name, _job_in(req, update, current.name, current))
    c.attributes(req).update("job", job.name, kept)
    return {"JobName": job.name}


@operation("DeleteJob")
def delete_job(req: GlueRequest, body: dict) -> dict:
    """As Glue: deleting a job that does not exist is no error."""
    req.check("write")
    name = _job_name(body)
    try:
        req.service.jobs.delete(name)
    except NotFound:
        return {"JobName": name}
    c.drop_tags(req, req.arn("job", name.lower()))
    c.attributes(req).drop("job", name)
    return {"JobName": name}


# --- runs --------------------------------------------------------------------------------------------------


def _run_of(req: GlueRequest, job: str, run_id) -> JobRun:
    rid = c.parse_run_id("jr", run_id)
    try:
        run = req.service.jobs.get_run(rid)
    except NotFound:
        raise not_found(f"job {job} has no run {run_id}") from None
    if run.job != job.lower():
        raise not_found(f"job {job} has no run {run_id}")
    return run


@operation("StartJobRun")
def start_job_run(req: GlueRequest, body: dict) -> dict:
    """A new run with Arguments over the job's defaults: STARTING (queued for a worker), or WAITING when
    the job (or this request) queues runs beyond its limit of concurrent runs. A run has its job's timeout
    and bookmark option: a different Timeout or --job-bookmark-option is refused, not ignored."""
    req.check("write")
    name = _job_name(body)
    if body.get("JobRunId"):
        raise invalid_input(
            "JobRunId (retrying a given run) is not supported: start a new run (retries: MaxRetries)"
        )
    args = dict(c.string_map(body, "Arguments") or {})
    option = args.pop(BOOKMARK_ARG, None)
    if option is not None or "Timeout" in body:
        job = req.service.jobs.get(name)
        if option is not None and BOOKMARKS.get(option) != job.bookmark:
            raise invalid_input(
                f"{BOOKMARK_ARG} is the job's setting ({job.bookmark}) for every run: change it with UpdateJob"
            )
        timeout = c.integer(body, "Timeout", 1)
        if timeout is not None and timeout * 60 != job.timeout_s:
            raise invalid_input("Timeout is the job's for every run: change it with UpdateJob")
    try:
        run = dispatch.start_job_run(req.service, name, c.sender(req), args,
                                     queue=c.flag(body, "JobRunQueuingEnabled"))  # fmt: skip
    except Conflict as e:
        raise GlueError("ConcurrentRunsExceededException", str(e)) from None
    return {"JobRunId": c.run_id("jr", run.id)}


@operation("GetJobRun")
def get_job_run(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    name = _job_name(body)
    run = _run_of(req, name, body.get("RunId"))
    return {"JobRun": run_out(run, req.service.jobs.get(name))}


@operation("GetJobRuns")
def get_job_runs(req: GlueRequest, body: dict) -> dict:
    """The job's runs, newest first."""
    req.check("read")
    name = _job_name(body)
    job = req.service.jobs.get(name)
    limit, offset = c.page_by_offset(body)
    runs, total = req.service.browse.job_runs(job.name, None, limit, offset)
    return {"JobRuns": [run_out(r, job) for r in runs], **c.next_offset(offset, len(runs), total)}


@operation("BatchStopJobRun")
def batch_stop_job_run(req: GlueRequest, body: dict) -> dict:
    """Stop runs: at once if no worker has them (STOPPED), else STOPPING until their worker kills the driver."""
    req.check("write")
    name = _job_name(body)
    req.service.jobs.get(name)
    done, errors = [], []
    for value in c.strings(body, "JobRunIds", required=True)[:25]:
        try:
            run = _run_of(req, name, value)
            if run.state in END_STATES:
                raise invalid_input(f"run {value} of job {name} has already ended: {run.state}")
            dispatch.stop_job_run(req.service, run.id, c.sender(req), claimed_by="glue")
            done.append({"JobName": run.job, "JobRunId": value})
        except (GlueError, CatalogError) as e:
            kind = e.type if isinstance(e, GlueError) else "InvalidInputException"
            errors.append({"JobName": name, "JobRunId": value,
                           "ErrorDetail": {"ErrorCode": kind, "ErrorMessage": str(e)}})  # fmt: skip
    return {"SuccessfulSubmissions": done, "Errors": errors}


# --- bookmarks ---------------------------------------------------------------------------------------------


def _bookmark_entry(req: GlueRequest, name: str) -> dict:
    import json

    job = req.service.jobs.get(name)
    done = req.service.jobs.bookmarks(job.name)
    runs, count = req.service.browse.job_runs(job.name, "SUCCEEDED", 1, 0)
    last = runs[0] if runs else None
    return c.compact({
        "JobName": job.name,
        "Version": count,
        "Run": count,
        "Attempt": None if last is None else last.attempt,
        "RunId": None if last is None else c.run_id("jr", last.id),
        "PreviousRunId": None if last is None or last.previous_run_id is None else c.run_id("jr", last.previous_run_id),
        "JobBookmark": json.dumps(done, sort_keys=True),
    })  # fmt: skip


@operation("GetJobBookmark")
def get_job_bookmark(req: GlueRequest, body: dict) -> dict:
    """What successful runs processed, per source table (JobBookmark: JSON {db.table: [partitions or
    files]}), with the last successful run."""
    req.check("read")
    return {"JobBookmarkEntry": _bookmark_entry(req, _job_name(body))}


@operation("ResetJobBookmark")
def reset_job_bookmark(req: GlueRequest, body: dict) -> dict:
    """Forget what the job processed (Mortar resets the whole bookmark: a RunId is refused)."""
    req.check("write")
    name = _job_name(body)
    if body.get("RunId"):
        raise invalid_input(
            "resetting a bookmark to a given run is not supported: leave RunId out to reset it all"
        )
    req.service.jobs.reset_bookmark(name)
    return {"JobBookmarkEntry": _bookmark_entry(req, name)}


c.register_exists("job", lambda req, name: req.service.jobs.get(name))
