"""Console pages of ETL jobs: the list (search, type and last-run filters), a job (definition, script versions,
runs with a chart of durations and outcomes, start and stop), the definition form with the script editor
(static/editor.js), and a run with its live log (static/runlog.js; without JavaScript, the log as it was).

Routes are added to console.bp; they read through the same service layer as the JSON API.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from markupsafe import Markup

from metastore.catalog.errors import CatalogError, InvalidInput
from metastore.catalog.jobs import BOOKMARK_OPTIONS, JOB_TYPES, LIVE_STATES, RUN_STATES, Job
from metastore.web import charts, work
from metastore.web.api_jobs import read_log, run_of
from metastore.web.console import PAGE, _int, _page_args, _pages, _service, bp
from metastore.web.console_forms import definition_form
from metastore.web.security import _safe_next, require_edit


def parse_pairs(text: str | None, what: str) -> dict[str, str]:
    """KEY=VALUE lines (blank lines skipped) as a dict; InvalidInput names the line that is not."""
    out = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{what}: {line.strip()!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def pairs_text(values: dict) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def _choice(name: str, allowed) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


@bp.get("/jobs")
def jobs():
    q, page = _page_args()
    job_type, last = _choice("type", JOB_TYPES), _choice("state", RUN_STATES)
    rows, total = _service().browse.jobs(q or None, job_type, last, PAGE, (page - 1) * PAGE)
    args = {k: v for k, v in (("q", q), ("type", job_type), ("state", last)) if v}
    return render_template("jobs.html", rows=rows, total=total, q=q, page=page, pages=_pages(total), args=args,
                           job_type=job_type, state=last, types=JOB_TYPES, states=RUN_STATES)  # fmt: skip


@bp.get("/jobs/<name>")
def job(name: str):
    svc = _service()
    version = _int(request.args.get("version"), None)
    j = svc.jobs.get(name, version)
    run_state = _choice("state", RUN_STATES)
    _, page = _page_args()
    runs, total = svc.browse.job_runs(j.name, run_state, PAGE, (page - 1) * PAGE)
    recent, _ = svc.browse.job_runs(j.name, None, 100, 0)
    live = [r for r in recent if r.state in LIVE_STATES]
    return render_template("job.html", j=j, runs=runs, total=total, page=page, pages=_pages(total), state=run_state,
                           states=RUN_STATES, versions=svc.jobs.script_versions(j.name), version=version,
                           live=live, chart=Markup(charts.run_chart(list(reversed(recent)), colors=charts.JOB_COLORS)))  # fmt: skip


def _form_job(form, name: str | None) -> Job:
    def number(field: str, default):
        raw = (form.get(field) or "").strip()
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{field.replace('_', ' ')} {raw!r} is not a whole number") from None

    return Job(
        name=name or (form.get("name") or "").strip(),
        script=(form.get("script") or "").replace("\r\n", "\n"),
        job_type=form.get("type") or "spark",
        default_arguments=parse_pairs(form.get("default_arguments"), "default arguments"),
        non_overridable_arguments=parse_pairs(
            form.get("non_overridable_arguments"), "non-overridable arguments"
        ),
        spark_conf=parse_pairs(form.get("spark_conf"), "Spark conf"),
        master=(form.get("master") or "").strip() or None,
        timeout_s=number("timeout_s", None),
        max_retries=number("max_retries", 0),
        max_concurrent_runs=number("max_concurrent_runs", 1),
        queue_runs=form.get("queue_runs") == "on",
        bookmark=form.get("bookmark") or "disable",
        description=(form.get("description") or "").strip() or None,
        connections=[c.strip() for c in (form.get("connections") or "").split(",") if c.strip()],
    )


def _job_form(j: Job | None, editing: bool, error: str | None = None, status: int = 200):
    return render_template("job_form.html", j=j, editing=editing, error=error, types=JOB_TYPES,
                           bookmarks=BOOKMARK_OPTIONS, pairs=pairs_text), status  # fmt: skip


@bp.route("/jobs/new", methods=["GET", "POST"])
def new_job():
    require_edit()

    def create(j: Job):
        made = _service().jobs.create(j)
        flash(f"Job {made.name} created.")
        return redirect(url_for("console.job", name=made.name))

    return definition_form(_job_form, _form_job, create)


@bp.route("/jobs/generate", methods=["GET", "POST"])
def generate_job():
    """A mapping's generated script, opened in the job form (to read, edit, then save as a new job)."""
    from metastore.catalog.mapping import (
        FORMATS,
        MODES,
        STYLES,
        Mapping,
        mapping_script,
        parse_column_mapping,
    )

    require_edit()
    form = request.form if request.method == "POST" else {"format": "parquet", "mode": "append", "style": "pyspark"}
    if request.method == "POST":
        if form.get("action") == "recommend":  # the columns filled with the recommended mapping
            from metastore.web.console_profiles import recommend_into_form

            return recommend_into_form(form)
        try:
            mapping = Mapping(
                (form.get("source") or "").strip(), (form.get("target") or "").strip(),
                [parse_column_mapping(line) for line in (form.get("columns") or "").splitlines() if line.strip()],
                [p.strip() for p in (form.get("partition_by") or "").split(",") if p.strip()],
                form.get("format") or "parquet", form.get("mode") or "append",
                (form.get("where") or "").strip() or None, form.get("style") or "pyspark",
            )  # fmt: skip
            script = mapping_script(_service(), mapping)
        except CatalogError as e:
            return render_template("job_generate.html", f=form, error=str(e), formats=FORMATS, modes=MODES,
                                   styles=STYLES), 400
        name = (form.get("name") or "").strip()
        return _job_form(Job(name=name, script=script, bookmark="enable"), False)
    return render_template("job_generate.html", f=form, error=None, formats=FORMATS, modes=MODES, styles=STYLES)


@bp.route("/jobs/<name>/edit", methods=["GET", "POST"])
def edit_job(name: str):
    require_edit()
    svc = _service()
    old = svc.jobs.get(name)

    def save(j: Job):
        saved = svc.jobs.update(old.name, j)
        flash(f"Job {saved.name} saved (script version {saved.script_version}).")
        return redirect(url_for("console.job", name=saved.name))

    return definition_form(_job_form, _form_job, save, old)


@bp.post("/jobs/<name>/run")
def run_job(name: str):
    require_edit()
    svc = _service()
    try:
        run = work.start_job(svc, name, parse_pairs(request.form.get("arguments"), "run arguments"))
    except InvalidInput as e:
        flash(f"Not started: {e}")
        return redirect(url_for("console.job", name=name))
    queued = run.state in ("STARTING", "WAITING")  # a banner the run page removes once the run has begun
    flash(f"Run {run.id} of job {run.job} {'queued: a worker will start it' if run.state == 'STARTING' else run.state}.",
          "queued" if queued else "message")  # fmt: skip
    return redirect(url_for("console.job_run", name=run.job, run_id=run.id))


@bp.post("/jobs/<name>/runs/<int:run_id>/stop")
def stop_job_run(name: str, run_id: int):
    require_edit()
    svc = _service()
    run_of(svc, name, run_id)
    run = work.stop_job_run(svc, run_id)
    flash(f"Run {run.id} of job {run.job}: {run.state}.")
    return redirect(
        _safe_next(request.form.get("next") or url_for("console.job_run", name=run.job, run_id=run.id))
    )


@bp.post("/jobs/<name>/delete")
def delete_job(name: str):
    require_edit()
    svc = _service()
    j = svc.jobs.get(name)
    svc.jobs.delete(j.name)
    flash(f"Job {j.name} deleted.")
    return redirect(url_for("console.jobs"))


@bp.get("/jobs/<name>/runs/<int:run_id>")
def job_run(name: str, run_id: int):
    svc = _service()
    run = run_of(svc, name, run_id)
    log = read_log(svc, run.id, 0)
    return render_template("job_run.html", run=run, log=log, live_states=LIVE_STATES)


@bp.get("/job-runs")
def job_runs():
    """Runs of every job, newest first."""
    _, page = _page_args()
    run_state = _choice("state", RUN_STATES)
    runs, total = _service().browse.job_runs(None, run_state, PAGE, (page - 1) * PAGE)
    return render_template("job_runs.html", runs=runs, total=total, page=page, pages=_pages(total), state=run_state,
                           states=RUN_STATES)  # fmt: skip
