"""The JSON API of ETL jobs: definitions, script versions, runs (start with arguments, stop, list, detail) and
run logs followed by offset. Routes are added to api.bp; they are described in openapi_etl.py.

Jobs are not database objects: every user reads them, editors and admins change and run them.
"""

from __future__ import annotations

from flask import jsonify, request

from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.jobs import END_STATES, JOB_TYPES, RUN_STATES, JobRun
from metastore.web import serialize_etl as ser
from metastore.web import work
from metastore.web.api import _body, _int_arg, _page, _paging, _service, bp
from metastore.web.security import require_edit


def choice(name: str, allowed: tuple[str, ...]) -> str | None:
    """Query parameter `name`, which must be one of `allowed` when given."""
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def optional_body() -> dict | None:
    """The JSON object sent, or None when the request has no body."""
    if not request.get_data(cache=True):
        return None
    return _body()


def run_of(svc, name: str, run_id: int) -> JobRun:
    """Run `run_id`, which must be a run of job `name`."""
    r = svc.jobs.get_run(run_id)
    if r.job != name.lower():
        raise NotFound(f"job {name} has no run {run_id}")
    return r


@bp.get("/jobs")
def list_jobs():
    """Jobs with their newest run; `type` and `state` (of the newest run) filter."""
    q, limit, offset = _paging()
    job_type, last = choice("type", JOB_TYPES), choice("state", RUN_STATES)
    rows, total = _service().browse.jobs(q, job_type, last, limit, offset)
    return _page([ser.job(j, r, with_script=False, with_last=True) for j, r in rows], total, limit, offset)


@bp.post("/jobs")
def create_job():
    require_edit()
    return jsonify(ser.job(_service().jobs.create(ser.job_in(_body())))), 201


@bp.get("/jobs/<name>")
def get_job(name: str):
    return jsonify(ser.job(_service().jobs.get(name)))


@bp.put("/jobs/<name>")
def update_job(name: str):
    """Replace a job's definition; a changed script becomes a new script version."""
    require_edit()
    return jsonify(ser.job(_service().jobs.update(name, ser.job_in(_body(), name=name))))


@bp.delete("/jobs/<name>")
def delete_job(name: str):
    require_edit()
    _service().jobs.delete(name)
    return "", 204


@bp.get("/jobs/<name>/scripts")
def list_scripts(name: str):
    versions = _service().jobs.script_versions(name)
    return jsonify(
        {"items": [{"version": v, "created_at": at} for v, at in versions], "total": len(versions)}
    )


@bp.get("/jobs/<name>/scripts/<int:version>")
def get_script(name: str, version: int):
    j = _service().jobs.get(name, version)
    return jsonify({"job": j.name, "version": version, "script": j.script})


@bp.post("/jobs/<name>/runs")
def start_job_run(name: str):
    """Start a run with `arguments` overriding the job's defaults: STARTING (queued for a worker), or
    WAITING when the job queues runs beyond its limit of concurrent runs."""
    require_edit()
    svc = _service()
    return jsonify(ser.job_run(work.start_job(svc, name, ser.run_arguments(optional_body())))), 202


@bp.get("/jobs/<name>/runs")
def list_job_runs(name: str):
    _, limit, offset = _paging()
    runs, total = _service().browse.job_runs(name, choice("state", RUN_STATES), limit, offset)
    return _page([ser.job_run(r) for r in runs], total, limit, offset)


@bp.get("/job-runs")
def list_all_job_runs():
    """Runs of every job, newest first; `state` filters."""
    _, limit, offset = _paging()
    runs, total = _service().browse.job_runs(None, choice("state", RUN_STATES), limit, offset)
    return _page([ser.job_run(r) for r in runs], total, limit, offset)


@bp.get("/jobs/<name>/runs/<int:run_id>")
def get_job_run(name: str, run_id: int):
    return jsonify(ser.job_run(run_of(_service(), name, run_id)))


@bp.post("/jobs/<name>/runs/<int:run_id>/stop")
def stop_job_run(name: str, run_id: int):
    """Stop a run: at once if it has not started (STOPPED), else STOPPING until its worker stops it."""
    require_edit()
    svc = _service()
    run_of(svc, name, run_id)
    return jsonify(ser.job_run(work.stop_job_run(svc, run_id)))


def read_log(svc, run_id: int, offset: int) -> dict:
    """The run's log from `offset`: {text, next_offset, finished}; finished once the run has ended and
    everything written is answered (the state is read before the log, so nothing written is missed)."""
    ended = svc.jobs.get_run(run_id).state in END_STATES
    text, nxt = svc.jobs.read_log(run_id, offset)
    finished = ended and (not text or not svc.jobs.read_log(run_id, nxt, 1)[0])
    return {"text": text, "next_offset": nxt, "finished": finished}


@bp.get("/jobs/<name>/runs/<int:run_id>/log")
def job_run_log(name: str, run_id: int):
    """A run's log from character `offset` (default 0); call again with `next_offset` to follow it."""
    svc = _service()
    run_of(svc, name, run_id)
    return jsonify(read_log(svc, run_id, _int_arg("offset", 0)))


@bp.post("/job-scripts/generate")
def generate_job_script():
    """The script of a source → target mapping (`style`: pyspark, or glue for an AWS Glue script), checked
    against the catalog (define the job with it through POST /jobs)."""
    from metastore.catalog.mapping import ColumnMapping, Mapping, mapping_script

    body = _body()
    columns = body.get("columns") or []
    if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
        raise InvalidInput("columns must be a list of {source, target, type}")
    mapping = Mapping(
        source=str(body.get("source") or ""),
        target=str(body.get("target") or ""),
        columns=[ColumnMapping(str(c.get("source") or ""), c.get("target"), c.get("type")) for c in columns],
        partition_by=[str(p) for p in body.get("partition_by") or []],
        target_format=body.get("format") or "parquet",
        mode=body.get("mode") or "append",
        where=body.get("where"),
        style=body.get("style") or "pyspark",
    )
    return jsonify({"script": mapping_script(_service(), mapping)})
