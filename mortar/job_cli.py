"""`mortar job ...` and `mortar trigger ...`: define ETL jobs and what starts them, run them, read their
runs and logs."""

from __future__ import annotations

import sys
import time

import click

from metastore.config import Settings
from mortar.cli_support import catalog as _catalog
from mortar.cli_support import fail as _fail
from mortar.cli_support import pairs as _pairs
from mortar.cli_support import table as _table
from mortar.cli_support import when as _when


def _send(name: str, args: list) -> None:
    from runner.celery_app import app

    app.send_task(name, args=args)


# --- jobs --------------------------------------------------------------------------------------------------


@click.group()
def job() -> None:
    """ETL jobs: PySpark (or plain Python) scripts stored in the catalog and run by the workers."""


def _job_options(f):
    options = [
        click.option("--script", "script", help="The script: a local path or a URL (s3://..., https://...)."),
        click.option("--type", "job_type", type=click.Choice(["spark", "pythonshell"]), help="Default spark."),
        click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
                     help="Default argument (--KEY value); runs may override it. Repeatable."),
        click.option("--fixed-arg", "fixed_args", multiple=True, metavar="KEY=VALUE",
                     help="Argument runs cannot override. Repeatable."),
        click.option("--conf", "confs", multiple=True, metavar="KEY=VALUE", help="Spark setting. Repeatable."),
        click.option("--master", help="Spark master URL (default: the workers' local[N])."),
        click.option("--timeout", "timeout_s", type=int, help="Seconds after which a run is killed (TIMEOUT)."),
        click.option("--max-retries", type=int, help="Attempts after a failed one (default 0)."),
        click.option("--max-concurrent", "max_concurrent_runs", type=int, help="Runs at once (default 1)."),
        click.option("--queue/--no-queue", "queue_runs", default=None,
                     help="Beyond max concurrent runs: WAITING (--queue) or refused (default)."),
        click.option("--bookmark", type=click.Choice(["enable", "disable", "pause"]), help="Default disable."),
        click.option("--connection", "connections", multiple=True, metavar="NAME",
                     help="Connection the script may read (mortar_job.connection(NAME)). Repeatable."),
        click.option("--description"),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def _apply(j, script, args, fixed_args, confs, connections, **options):
    from metastore.catalog.jobs import load_script

    if script is not None:
        j.script = load_script(script)
        j.script_location = script
    if args:
        j.default_arguments = _pairs(args, "--arg")
    if fixed_args:
        j.non_overridable_arguments = _pairs(fixed_args, "--fixed-arg")
    if confs:
        j.spark_conf = _pairs(confs, "--conf")
    if connections:
        j.connections = list(connections)
    for k, v in options.items():
        if v is not None:
            setattr(j, k, v)
    return j


@job.command("create")
@click.argument("name")
@_job_options
def create(name, **options) -> None:
    """Define job NAME (--script is required)."""
    from metastore.catalog import CatalogError
    from metastore.catalog.jobs import Job

    if options["script"] is None:
        raise click.UsageError("--script is required")
    try:
        made = _catalog().jobs.create(_apply(Job(name=name), **options))
    except CatalogError as e:
        _fail(e)
    click.echo(f"job {made.name} created (script version {made.script_version})")


def _recommended(cat, source: str, target: str, given: list) -> list:
    """The recommended column mapping of `source` onto `target`, printed (to stderr) with the reasons; `given`
    mappings (--map) replace the proposals for their target columns."""
    from metastore.catalog.mapping import ColumnMapping, split_table_name
    from metastore.catalog.recommend import recommend_mapping

    (sdb, stable), (tdb, ttable) = split_table_name("source", source), split_table_name("target", target)
    named = {(c.target or c.source.replace(".", "_")).lower() for c in given}
    out = list(given)
    for p in recommend_mapping(cat, sdb, stable, tdb, ttable):
        if p["target"].lower() in named:
            continue
        click.echo(f"  {p['source']} {p['source_type']} -> {p['target']} {p['target_type']}: {p['reason']}", err=True)
        out.append(ColumnMapping(p["source"], p["target"], p["target_type"]))
    return out


@job.command("generate")
@click.argument("name")
@click.option("--source", required=True, help="Catalog table to read: db.table.")
@click.option("--target", required=True, help="Table to write: db.table (created by the first run if missing).")
@click.option("--map", "maps", multiple=True, metavar="SRC[:DST[:TYPE]]",
              help="A column to copy, renamed and cast if DST/TYPE are given. Repeatable; none: every column.")
@click.option("--partition-by", "partition_by", multiple=True, metavar="COLUMN",
              help="Target partition column (a target column name). Repeatable.")
@click.option("--format", "target_format", type=click.Choice(["parquet", "orc", "json", "csv", "avro"]),
              default="parquet", show_default=True, help="Format of a target the script creates.")
@click.option("--mode", type=click.Choice(["append", "overwrite"]), default="append", show_default=True,
              help="overwrite replaces the target partitions written (the whole table if unpartitioned).")
@click.option("--where", help="Spark SQL condition on the source rows, e.g. \"amount > 0\".")
@click.option("--style", type=click.Choice(["pyspark", "glue"]), default="pyspark", show_default=True,
              help="pyspark: plain PySpark over mortar_job; glue: an AWS Glue script (GlueContext, DynamicFrame, "
              "ApplyMapping, Job bookmarks) that runs on Mortar and on AWS Glue alike.")
@click.option("--print", "print_only", is_flag=True, help="Print the script; define nothing.")
@click.option("--recommend", is_flag=True, help="Map the columns as recommended (by name, synonyms, type; nested "
              "fields flattened), each proposal and its reason printed; --map entries override them.")
@_job_options
def generate(name, source, target, maps, partition_by, target_format, mode, where, print_only, recommend=False,
             style="pyspark", **options) -> None:
    """Generate job NAME's PySpark script from a source → target column mapping (as Glue's ApplyMapping),
    checked against the catalog, and define the job (a new script version if it exists). With the job's
    bookmark enabled, each run reads only new partitions (or files) of the source."""
    from metastore.catalog import CatalogError, NotFound
    from metastore.catalog.jobs import Job
    from metastore.catalog.mapping import Mapping, mapping_script, parse_column_mapping

    if options["script"] is not None:
        raise click.UsageError("--script and generate exclude each other: the script is generated")
    cat = _catalog()
    try:
        columns = [parse_column_mapping(m) for m in maps]
        if recommend:
            columns = _recommended(cat, source, target, columns)
        mapping = Mapping(source, target, columns, list(partition_by), target_format, mode, where, style)
        script = mapping_script(cat, mapping)
        if print_only:
            click.echo(script, nl=False)
            return
        try:
            j, exists = cat.jobs.get(name), True
        except NotFound:
            j, exists = Job(name=name), False
        j = _apply(j, **options)
        j.script, j.script_location = script, f"mapping {mapping.source} -> {mapping.target}"
        made = cat.jobs.update(name, j) if exists else cat.jobs.create(j)
    except CatalogError as e:
        _fail(e)
    click.echo(f"job {made.name} {'updated' if exists else 'created'} from the mapping "
               f"{mapping.source} -> {mapping.target} (script version {made.script_version})")  # fmt: skip


@job.command("update")
@click.argument("name")
@_job_options
def update_(name, **options) -> None:
    """Change job NAME; a changed script becomes a new version."""
    from metastore.catalog import CatalogError

    cat = _catalog()
    try:
        made = cat.jobs.update(name, _apply(cat.jobs.get(name), **options))
    except CatalogError as e:
        _fail(e)
    click.echo(f"job {made.name} updated (script version {made.script_version})")


@job.command("list")
def list_() -> None:
    """The jobs, with their last run."""
    cat = _catalog()
    rows = []
    for j in cat.jobs.list():
        runs = cat.jobs.runs(j.name, limit=1)
        last = f"{runs[0].state} {_when(runs[0].created_at)}" if runs else "never run"
        rows.append((j.name, j.job_type, f"v{j.script_version}", j.bookmark, last))
    _table(["NAME", "TYPE", "SCRIPT", "BOOKMARK", "LAST RUN"], rows)


@job.command("show")
@click.argument("name")
@click.option("--script", "show_script", is_flag=True, help="Print the script instead.")
@click.option("--version", type=int, help="Script version (default: the current one).")
def show(name: str, show_script: bool, version: int | None) -> None:
    """Job NAME's definition (or its script)."""
    import dataclasses
    import json

    from metastore.catalog import CatalogError

    cat = _catalog()
    try:
        j = cat.jobs.get(name, version)
        versions = cat.jobs.script_versions(name)
    except CatalogError as e:
        _fail(e)
    if show_script:
        click.echo(j.script, nl=False)
        return
    d = dataclasses.asdict(j)
    d.pop("script")
    d["script_versions"] = [v for v, _ in versions]
    click.echo(json.dumps(d, indent=2))


@job.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete job NAME with its runs and bookmarks."""
    from metastore.catalog import CatalogError

    try:
        _catalog().jobs.delete(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"job {name} deleted")


@job.command("run")
@click.argument("name")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="Argument override. Repeatable.")
@click.option("--wait", is_flag=True, help="Wait for the run and its retries to end; exit status 1 unless the last "
              "attempt SUCCEEDED.")  # fmt: skip
@click.option("--here", is_flag=True, help="Execute in this process (a cold driver), not on a worker.")
def run(name: str, args, wait: bool, here: bool) -> None:
    """Start a run of job NAME on a worker (mortar worker)."""
    from metastore.catalog import CatalogError

    cat = _catalog()
    try:
        r = cat.jobs.start_run(name, _pairs(args, "--arg"))
    except CatalogError as e:
        _fail(e)
    if here:
        from runner.jobs.execute import execute_run

        if r.state != "STARTING":
            raise click.ClickException(f"run {r.id} of job {r.job} is {r.state}: a worker will start it")
        outcome = execute_run(cat, r.id, Settings.load(), _send)
        click.echo(
            f"run {r.id} of job {r.job}: {outcome.state}{': ' + outcome.error if outcome.error else ''}"
        )
        sys.exit(0 if outcome.state == "SUCCEEDED" else 1)
    if r.state == "STARTING":
        _send("runner.job_run", [r.id])
    click.echo(f"run {r.id} of job {r.job}: {r.state}; logs: mortar job logs {r.id} --follow")
    if wait:
        r = _final_attempt(cat, r)
        click.echo(f"run {r.id}: {r.state}{': ' + r.error if r.error else ''}")
        sys.exit(0 if r.state == "SUCCEEDED" else 1)


def _final_attempt(cat, r):
    """Wait for run `r` to end, then for its retry (the run whose previous run it is), and so on: the last
    attempt, ended."""
    from metastore.catalog.jobs import END_STATES, RETRIED_STATES

    while True:
        while (r := cat.jobs.get_run(r.id)).state not in END_STATES:
            time.sleep(1)
        if r.state not in RETRIED_STATES:
            return r
        # a retry is recorded in the same transaction that ended the run: it exists now, or never will
        retry = next((x for x in cat.jobs.runs(r.job, limit=500) if x.previous_run_id == r.id), None)
        if retry is None:
            return r
        click.echo(f"run {r.id} (attempt {r.attempt}): {r.state}{': ' + r.error if r.error else ''}; "
                   f"retried as run {retry.id} (attempt {retry.attempt})")  # fmt: skip
        r = retry


@job.command("runs")
@click.argument("name", required=False)
@click.option("--limit", type=int, default=20, show_default=True)
def runs(name: str | None, limit: int) -> None:
    """The runs of job NAME (or of every job), newest first."""
    from metastore.catalog import CatalogError

    try:
        rs = _catalog().jobs.runs(name, limit=limit)
    except CatalogError as e:
        _fail(e)
    rows = [(r.id, r.job, r.state, r.attempt, r.previous_run_id or "-", _when(r.started_at),
             f"{r.duration_ms / 1000:.1f}s" if r.duration_ms is not None else "-", r.trigger or "-",
             (r.error or "")[:80]) for r in rs]  # fmt: skip
    _table(["RUN", "JOB", "STATE", "ATTEMPT", "PREVIOUS", "STARTED", "DURATION", "TRIGGER", "ERROR"], rows)


@job.command("logs")
@click.argument("run_id", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the run goes on.")
def logs(run_id: int, follow: bool) -> None:
    """The driver's stdout and stderr of run RUN_ID, from the catalog (the worker ships them as the run
    goes on), so any machine can read them."""
    from metastore.catalog import CatalogError
    from metastore.catalog.jobs import END_STATES

    cat = _catalog()
    try:
        r = cat.jobs.get_run(run_id)
    except CatalogError as e:
        _fail(e)
    offset = 0
    while True:
        ended = r.state in END_STATES  # read before the log: the worker ships all of it before the end
        while True:
            text, offset = cat.jobs.read_log(run_id, offset)
            if not text:
                break
            sys.stdout.write(text)
            sys.stdout.flush()
        if not follow or ended:
            if offset == 0 and not follow:
                raise click.ClickException(f"run {run_id} has no log yet ({r.state})")
            return
        time.sleep(0.5)
        r = cat.jobs.get_run(run_id)


@job.command("stop")
@click.argument("run_id", type=int)
def stop(run_id: int) -> None:
    """Stop run RUN_ID (its worker kills the driver's processes; state STOPPED)."""
    from metastore.catalog import CatalogError
    from metastore.catalog.dispatch import stop_job_run

    try:
        run = stop_job_run(_catalog(), run_id, _send, claimed_by="cli")
    except CatalogError as e:
        _fail(e)
    click.echo(f"run {run_id}: {run.state}")


@job.command("reset-bookmark")
@click.argument("name")
def reset_bookmark(name: str) -> None:
    """Forget what job NAME processed: its next run reads every partition again."""
    from metastore.catalog import CatalogError

    try:
        _catalog().jobs.reset_bookmark(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"bookmark of job {name} reset")


# --- triggers ----------------------------------------------------------------------------------------------


@click.group()
def trigger() -> None:
    """Triggers: start jobs and crawlers on a schedule, on demand, or when other jobs and crawlers end."""


@trigger.command("create")
@click.argument("name")
@click.option(
    "--type",
    "trigger_type",
    type=click.Choice(["scheduled", "on-demand", "conditional", "event"]),
    required=True,
)
@click.option("--schedule", help='Cron, 5 fields, UTC (scheduled triggers), e.g. "0 3 * * *".')
@click.option("--job", "jobs", multiple=True, help="Job to start. Repeatable.")
@click.option("--crawler", "crawlers", multiple=True, help="Crawler to start. Repeatable.")
@click.option(
    "--arg", "args", multiple=True, metavar="KEY=VALUE", help="Argument override for the jobs started."
)
@click.option(
    "--when-job",
    "when_jobs",
    multiple=True,
    metavar="JOB=STATE",
    help="Condition: the job's latest run ended in STATE (SUCCEEDED, FAILED, TIMEOUT, STOPPED).",
)
@click.option(
    "--when-crawler",
    "when_crawlers",
    multiple=True,
    metavar="CRAWLER=STATE",
    help="Condition: the crawler's latest run ended in STATE (SUCCEEDED, FAILED, CANCELLED).",
)
@click.option(
    "--on-partitions-added",
    "event_crawlers",
    multiple=True,
    metavar="CRAWLER",
    help="Event: a run of CRAWLER added partitions (event triggers). Repeatable.",
)
@click.option("--any", "any_", is_flag=True, help="Fire when any condition holds (default: all).")
@click.option("--activate", is_flag=True, help="Activate at once.")
@click.option("--workflow", help="The workflow this trigger is part of.")
@click.option("--description")
def trigger_create(name, trigger_type, schedule, jobs, crawlers, args, when_jobs, when_crawlers, event_crawlers, any_,
                   activate, workflow, description) -> None:  # fmt: skip
    """Define trigger NAME."""
    from metastore.catalog import CatalogError
    from metastore.catalog.triggers import Action, Condition, Trigger

    overrides = _pairs(args, "--arg")
    actions = [Action(job=j, arguments=overrides) for j in jobs] + [Action(crawler=c) for c in crawlers]
    conditions = [Condition(state, job=j) for j, state in _pairs(when_jobs, "--when-job").items()]
    conditions += [
        Condition(state, crawler=c) for c, state in _pairs(when_crawlers, "--when-crawler").items()
    ]
    conditions += [Condition("PARTITIONS_ADDED", crawler=c) for c in event_crawlers]
    t = Trigger(name=name, trigger_type=trigger_type.upper().replace("-", "_"), actions=actions, schedule=schedule,
                conditions=conditions, logical="ANY" if any_ else "AND", description=description,
                workflow=workflow)  # fmt: skip
    try:
        made = _catalog().triggers.create(t, activate=activate)
    except CatalogError as e:
        _fail(e)
    click.echo(f"trigger {made.name} created ({made.state})")


@trigger.command("list")
def trigger_list() -> None:
    """The triggers."""
    rows = []
    for t in _catalog().triggers.list():
        what = (
            t.schedule
            or (f" {t.logical} ".join(f"{c.job or c.crawler}={c.state}" for c in t.conditions))
            or "-"
        )
        actions = ", ".join(f"job {a.job}" if a.job else f"crawler {a.crawler}" for a in t.actions)
        rows.append((t.name, t.trigger_type, t.state, what, actions))
    _table(["NAME", "TYPE", "STATE", "WHEN", "STARTS"], rows)


def _set_state(name: str, activate: bool) -> None:
    from metastore.catalog import CatalogError

    cat = _catalog()
    try:
        t = cat.triggers.activate(name) if activate else cat.triggers.deactivate(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"trigger {t.name}: {t.state}")


@trigger.command("activate")
@click.argument("name")
def trigger_activate(name: str) -> None:
    """Activate trigger NAME."""
    _set_state(name, True)


@trigger.command("deactivate")
@click.argument("name")
def trigger_deactivate(name: str) -> None:
    """Deactivate trigger NAME."""
    _set_state(name, False)


@trigger.command("delete")
@click.argument("name")
def trigger_delete(name: str) -> None:
    """Delete trigger NAME."""
    from metastore.catalog import CatalogError

    try:
        _catalog().triggers.delete(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"trigger {name} deleted")


@trigger.command("start")
@click.argument("name")
def trigger_start(name: str) -> None:
    """Fire trigger NAME now (on-demand triggers, or any other by hand)."""
    from metastore.catalog import CatalogError
    from metastore.catalog.dispatch import start_trigger

    try:
        done = start_trigger(_catalog(), name, _send)
    except CatalogError as e:
        _fail(e)
    for d in done:
        if "crawler" in d:
            click.echo(f"crawler {d['crawler']} not started: {d['error']}" if "error" in d
                       else f"crawler {d['crawler']} queued")  # fmt: skip
        elif "workflow_run_id" in d:
            click.echo(f"workflow run {d['workflow_run_id']} started")
        elif "error" in d:
            click.echo(f"job {d['job']} not started: {d['error']}")
        else:
            click.echo(f"job {d['job']}: run {d['run_id']} {d['state']}")


# --- workflows ---------------------------------------------------------------------------------------------


@click.group()
def workflow() -> None:
    """Workflows: graphs of triggers, jobs and crawlers run together, sharing run properties."""


@workflow.command("create")
@click.argument("name")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE", help="Default run property.")
@click.option("--description")
def workflow_create(name: str, properties, description: str | None) -> None:
    """Define workflow NAME; add its triggers with `mortar trigger create ... --workflow NAME`."""
    from metastore.catalog import CatalogError
    from metastore.catalog.workflows import Workflow

    try:
        _catalog().workflows.create(Workflow(name, description, _pairs(properties, "--property")))
    except CatalogError as e:
        _fail(e)
    click.echo(f"workflow {name} created")


@workflow.command("list")
def workflow_list() -> None:
    """The workflows, with their last run."""
    cat = _catalog()
    rows = []
    for w in cat.workflows.list():
        runs = cat.workflows.runs(w.name, limit=1)
        rows.append((w.name, f"{runs[0].state} {_when(runs[0].started_at)}" if runs else "never run"))
    _table(["NAME", "LAST RUN"], rows)


@workflow.command("run")
@click.argument("name")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE", help="Run property.")
def workflow_run(name: str, properties) -> None:
    """Start a run of workflow NAME (its start triggers fire)."""
    from metastore.catalog import CatalogError
    from metastore.catalog.dispatch import start_workflow

    try:
        run = start_workflow(_catalog(), name, _send, _pairs(properties, "--property"))
    except CatalogError as e:
        _fail(e)
    click.echo(f"workflow run {run.id} of {run.workflow}: {run.state}")


@workflow.command("runs")
@click.argument("name")
def workflow_runs(name: str) -> None:
    """The runs of workflow NAME with the state of every node, newest first."""
    from metastore.catalog import CatalogError

    try:
        runs = _catalog().workflows.runs(name)
    except CatalogError as e:
        _fail(e)
    for r in runs:
        click.echo(f"run {r.id}: {r.state}, started {_when(r.started_at)}, properties {r.run_properties}")
        for node, state in r.nodes.items():
            click.echo(f"  {node}: {state or 'not run'}")


@workflow.command("resume")
@click.argument("run_id", type=int)
def workflow_resume(run_id: int) -> None:
    """Run again the failed nodes of workflow run RUN_ID, and what follows them."""
    from metastore.catalog import CatalogError
    from metastore.catalog.dispatch import resume_workflow

    try:
        nodes = resume_workflow(_catalog(), run_id, _send)
    except CatalogError as e:
        _fail(e)
    click.echo(f"resumed: {', '.join(nodes)}" if nodes else "nothing failed in that run")


@workflow.command("delete")
@click.argument("name")
def workflow_delete(name: str) -> None:
    """Delete workflow NAME with its triggers and runs (not its jobs)."""
    from metastore.catalog import CatalogError

    try:
        _catalog().workflows.delete(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"workflow {name} deleted")
