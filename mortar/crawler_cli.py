"""`mortar crawler ...` and `mortar classifier ...`: define crawlers, run them, read their runs."""

from __future__ import annotations

import json
import sys

import click

from mortar.cli_support import catalog as _catalog
from mortar.cli_support import fail as _fail
from mortar.cli_support import pairs as _pairs
from mortar.cli_support import table as _table
from mortar.cli_support import when as _when


@click.group()
def crawler() -> None:
    """Crawlers: scan data stores and keep their tables in the catalog."""


@crawler.command("create")
@click.argument("name")
@click.option("--path", "paths", multiple=True, required=True,
              help="Folder to crawl: a local path or fsspec URL (s3://bucket/prefix). Repeatable.")
@click.option("--exclude", "exclusions", multiple=True, help="Glob to skip, relative to the paths (** crosses folders).")
@click.option("--database", required=True, help="Database the tables go to (created when missing).")
@click.option("--table-prefix", default="", help="Prefix of the tables' names.")
@click.option("--classifier", "classifiers", multiple=True, help="Custom classifier to try first, in order.")
@click.option("--update-behavior", type=click.Choice(["UPDATE_IN_DATABASE", "LOG"]), default="UPDATE_IN_DATABASE")
@click.option("--delete-behavior", type=click.Choice(["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"]),
              default="DEPRECATE_IN_DATABASE")
@click.option("--recrawl", "recrawl_behavior", type=click.Choice(["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"]),
              default="CRAWL_EVERYTHING")
@click.option("--sample-size", type=int, help="Files read per folder (default: all).")
@click.option("--combine-compatible-schemas", is_flag=True, help="One table per path when schemas merge at all.")
@click.option("--table-level", type=int, help="Folder depth of tables (1: the path itself).")
@click.option("--schedule", help='Cron schedule, 5 fields, e.g. "0 * * * *".')
@click.option("--storage-option", "storage_options", multiple=True, metavar="KEY=VALUE",
              help="fsspec option for the paths, e.g. endpoint_url=http://127.0.0.1:9000. Repeatable.")
@click.option("--description")
def create(name, paths, exclusions, storage_options, **options) -> None:  # fmt: skip
    """Define crawler NAME."""
    from metastore.catalog import CatalogError
    from metastore.catalog.crawlers import Crawler, CrawlerTarget

    opts = _pairs(storage_options, "--storage-option")
    targets = [CrawlerTarget(p, list(exclusions)) for p in paths]
    options["classifiers"] = list(options["classifiers"])
    try:
        _catalog().crawlers.create(Crawler(name=name, targets=targets, storage_options=opts, **options))
    except CatalogError as e:
        _fail(e)
    click.echo(f"crawler {name} created")


@crawler.command("list")
def list_() -> None:
    """The crawlers, with their last run."""
    cat = _catalog()
    rows = []
    for c in cat.crawlers.list():
        runs = cat.crawlers.runs(c.name, limit=1)
        last = f"{runs[0].state} {_when(runs[0].started_at)}" if runs else "never run"
        rows.append((c.name, c.database, c.schedule or "-", last))
    _table(["NAME", "DATABASE", "SCHEDULE", "LAST RUN"], rows)


@crawler.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Crawler NAME's definition, as JSON."""
    from dataclasses import asdict

    from metastore.catalog import CatalogError

    try:
        c = _catalog().crawlers.get(name)
    except CatalogError as e:
        _fail(e)
    click.echo(json.dumps(asdict(c), indent=2, default=str))


@crawler.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete crawler NAME (its tables stay)."""
    from metastore.catalog import CatalogError

    try:
        _catalog().crawlers.delete(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"crawler {name} deleted")


@crawler.command("run")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Print what would change in the catalog, and why; change nothing.")
@click.option("--async", "async_", is_flag=True, help="Hand the run to a worker (mortar worker) and return.")
def run(name: str, dry_run: bool, async_: bool) -> None:
    """Run crawler NAME now: here with a progress bar, or on a worker with --async."""
    from metastore.catalog import CatalogError

    if async_:
        from runner.celery_app import app

        app.send_task("runner.crawl", args=[name])
        click.echo(f"crawler {name} queued; follow it with: mortar crawler runs {name}")
        return
    from runner.crawler.crawl import run_crawler

    cat = _catalog()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label=f"classifying {total} files", file=sys.stderr)
            bar.__enter__()
        bar.update(1)

    try:
        outcome = run_crawler(cat, name, dry_run=dry_run, progress=progress)
    except CatalogError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    for action in outcome.actions:
        click.echo(str(action))
    m = outcome.metrics
    click.echo(f"{'dry run' if dry_run else outcome.state}: {m.tables_created} tables created, {m.tables_updated} "
               f"updated, {m.tables_deleted} deleted; {m.partitions_added} partitions added, {m.partitions_deleted} "
               f"deleted; {m.files_scanned} files read, {m.files_unchanged} unchanged, {m.files_skipped} skipped")  # fmt: skip
    for s in m.skipped[:20]:
        click.echo(f"  skipped {s['path']}: {s['reason']}")
    for warning in m.warnings:
        click.echo(f"WARNING: {warning}")
    if outcome.state == "FAILED":
        raise click.ClickException(outcome.error or "crawl failed")


@crawler.command("stop")
@click.argument("name")
def stop(name: str) -> None:
    """Stop crawler NAME's current run: it ends CANCELLED, and its worker stops at its next heartbeat."""
    from metastore.catalog import CatalogError

    try:
        cat = _catalog()
        run = cat.crawlers.current_run(name)
        if run is None:
            raise click.ClickException(f"crawler {name} is not running")
        cat.crawlers.finish_run(run.id, "CANCELLED", run.metrics, f"stopped by {cat.user}")
    except CatalogError as e:
        _fail(e)
    click.echo(f"crawler {name}: run {run.id} stopped")


@crawler.command("runs")
@click.argument("name")
@click.option("--limit", default=20, show_default=True)
def runs(name: str, limit: int) -> None:
    """Crawler NAME's runs, newest first."""
    from metastore.catalog import CatalogError

    try:
        items = _catalog().crawlers.runs(name, limit=limit)
    except CatalogError as e:
        _fail(e)
    rows = []
    for r in items:
        m = r.metrics or {}
        took = f"{r.duration_ms / 1000:.1f}s" if r.ended_at else "-"
        rows.append((r.id, r.state, _when(r.started_at), took, m.get("tables_created", 0), m.get("tables_updated", 0),
                     m.get("partitions_added", 0), m.get("files_scanned", 0), m.get("files_skipped", 0),
                     (r.error or "")[:60]))  # fmt: skip
    _table(["RUN", "STATE", "STARTED", "TOOK", "TBL+", "TBL~", "PART+", "FILES", "SKIPPED", "ERROR"], rows)


@click.group()
def classifier() -> None:
    """Custom classifiers: tried before the built-in ones by the crawlers that name them."""


@classifier.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["grok", "json", "csv", "xml"]), required=True)
@click.option("--classification", required=True, help="Format name reported for matching files, e.g. app_log.")
@click.option("--grok-pattern", help="grok: pattern of a line, e.g. '%{TIMESTAMP_ISO8601:ts} %{WORD:level} %{GREEDYDATA:msg}'.")
@click.option("--custom-patterns", help="grok: extra patterns, one 'NAME regex' per line.")
@click.option("--json-path", help="json: path of the records, e.g. '$.records[*]'.")
@click.option("--csv-delimiter", help="csv: the field delimiter.")
@click.option("--csv-quote", help="csv: the quote character.")
@click.option("--csv-header", type=click.Choice(["PRESENT", "ABSENT", "UNKNOWN"]), help="csv: is there a header row.")
@click.option("--csv-column-names", help="csv: column names, comma-separated (when there is no header).")
@click.option("--xml-row-tag", help="xml: the element that is one row.")
def classifier_create(name: str, csv_column_names: str | None, **options) -> None:  # fmt: skip
    """Define custom classifier NAME."""
    from metastore.catalog import CatalogError
    from metastore.catalog.crawlers import Classifier

    columns = [c.strip() for c in csv_column_names.split(",")] if csv_column_names else None
    try:
        _catalog().crawlers.create_classifier(Classifier(name=name, csv_column_names=columns, **options))
    except CatalogError as e:
        _fail(e)
    click.echo(f"classifier {name} created")


@classifier.command("list")
def classifier_list() -> None:
    """The custom classifiers."""
    _table(["NAME", "KIND", "CLASSIFICATION"],
           [(c.name, c.kind, c.classification) for c in _catalog().crawlers.list_classifiers()])  # fmt: skip


@classifier.command("delete")
@click.argument("name")
def classifier_delete(name: str) -> None:
    """Delete custom classifier NAME (refused while a crawler uses it)."""
    from metastore.catalog import CatalogError

    try:
        _catalog().crawlers.delete_classifier(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"classifier {name} deleted")
