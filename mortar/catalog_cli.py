"""`mortar database ...` and `mortar table ...`: look at the catalog from the terminal (after a crawl, say)."""

from __future__ import annotations

import json

import click

from mortar.cli_support import catalog, fail, table, when


def _errors():
    """The catalog's errors (imported when a command runs: `mortar --help` stays fast)."""
    from metastore.catalog import CatalogError

    return CatalogError


def _split(name: str) -> tuple[str, str]:
    db, sep, tbl = name.partition(".")
    if not sep or not db or not tbl:
        raise click.BadParameter(f"{name!r} is not DATABASE.TABLE", param_hint="TABLE")
    return db, tbl


@click.group()
def database() -> None:
    """Databases of the catalog."""


@database.command("list")
@click.argument("pattern", required=False)
def database_list(pattern: str | None) -> None:
    """List databases (PATTERN: Hive's, e.g. 'sales*'), with their table counts and locations."""
    service = catalog()
    rows = []
    try:
        for name in service.databases.list(pattern):
            db = service.databases.get(name)
            rows.append((name, len(service.tables.list(name)), db.location_uri or "-"))
    except _errors() as e:
        fail(e)
    table(["DATABASE", "TABLES", "LOCATION"], rows)


@database.command("show")
@click.argument("name")
def database_show(name: str) -> None:
    """Show a database: location, owner, parameters and tables."""
    service = catalog()
    try:
        db = service.databases.get(name)
        tables = service.tables.list(name)
    except _errors() as e:
        fail(e)
    click.echo(f"database   {db.name}")
    click.echo(f"location   {db.location_uri or '-'}")
    click.echo(f"owner      {db.owner_name or '-'}")
    if db.description:
        click.echo(f"comment    {db.description}")
    for k, v in sorted(db.parameters.items()):
        click.echo(f"parameter  {k}={v}")
    click.echo(f"tables     {', '.join(tables) or '-'}")


@click.group("table")
def table_group() -> None:
    """Tables of the catalog: list, show, partitions."""


@table_group.command("list")
@click.argument("db")
@click.argument("pattern", required=False)
def table_list(db: str, pattern: str | None) -> None:
    """List the tables of database DB (PATTERN: Hive's, e.g. 'events_*')."""
    service = catalog()
    rows = []
    try:
        for name in service.tables.list(db, pattern):
            t = service.tables.get(db, name)
            fmt = (t.sd.serde.serialization_lib or "-").rsplit(".", 1)[-1]
            rows.append((name, t.table_type, len(t.sd.cols), ",".join(k.name for k in t.partition_keys) or "-",
                         fmt, t.sd.location or "-"))  # fmt: skip
    except _errors() as e:
        fail(e)
    table(["TABLE", "TYPE", "COLUMNS", "PARTITION KEYS", "SERDE", "LOCATION"], rows)


@table_group.command("show")
@click.argument("name", metavar="DATABASE.TABLE")
@click.option("--json", "as_json", is_flag=True, help="The whole table as JSON.")
def table_show(name: str, as_json: bool) -> None:
    """Show a table: columns, partition keys, storage, parameters, and its number of partitions."""
    db, tbl = _split(name)
    service = catalog()
    try:
        t = service.tables.get(db, tbl)
        count = len(service.partitions.names(db, tbl)) if t.partition_keys else 0
    except _errors() as e:
        fail(e)
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps({**asdict(t), "partition_count": count}, indent=2, default=str))
        return
    click.echo(f"table      {t.db_name}.{t.name} ({t.table_type})")
    click.echo(f"location   {t.sd.location or '-'}")
    click.echo(f"format     {t.sd.input_format or '-'}")
    click.echo(f"serde      {t.sd.serde.serialization_lib or '-'}")
    click.echo(f"created    {when(t.create_time * 1000)}")
    click.echo("columns")
    table(["  NAME", "TYPE", "COMMENT"], [(f"  {c.name}", c.type, c.comment or "") for c in t.sd.cols])
    if t.partition_keys:
        click.echo(f"partition keys ({count} partitions)")
        table(["  NAME", "TYPE"], [(f"  {c.name}", c.type) for c in t.partition_keys])
    if t.parameters:
        click.echo("parameters")
        for k, v in sorted(t.parameters.items()):
            click.echo(f"  {k}={v}")


@table_group.command("partitions")
@click.argument("name", metavar="DATABASE.TABLE")
@click.option("--filter", "where", help="Hive's filter language, e.g. \"year = 2024 and month >= '02'\".")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many (0: all).")
def table_partitions(name: str, where: str | None, limit: int) -> None:
    """List a table's partitions (name and location), optionally filtered."""
    db, tbl = _split(name)
    service = catalog()
    try:
        parts = service.partitions.by_filter(db, tbl, where, limit or -1) if where else \
            service.partitions.list(db, tbl, limit or -1)  # fmt: skip
    except _errors() as e:
        fail(e)
    keys = None
    rows = []
    for p in parts:
        if keys is None:
            keys = [k.name for k in service.tables.get(db, tbl).partition_keys]
        rows.append(("/".join(f"{k}={v}" for k, v in zip(keys, p.values, strict=False)), p.sd.location or "-"))
    table(["PARTITION", "LOCATION"], rows)
    if limit and len(parts) == limit:
        click.echo(f"(the first {limit}; --limit 0 for all)", err=True)


def _print_profile(profile: dict | None) -> None:
    if not profile:
        click.echo("no profile yet")
        return
    click.echo(f"rows {profile.get('rows')}  size {profile.get('size')}  files {profile.get('files')}  "
               f"({profile.get('method')})")  # fmt: skip
    rows = []
    for name, c in profile.get("columns", {}).items():
        avg = c.get("avg_len")
        rows.append((f"  {name}", c.get("type") or "-", *("-" if c.get(k) is None else c[k] for k in
                     ("nulls", "distinct", "min", "max")), "-" if avg is None else f"{avg:.1f}",
                     "-" if c.get("max_len") is None else c["max_len"],
                     "-" if c.get("trues") is None else f"{c['trues']}/{c['falses']}"))  # fmt: skip
    table(["  COLUMN", "TYPE", "NULLS", "DISTINCT", "MIN", "MAX", "AVG LEN", "MAX LEN", "TRUE/FALSE"], rows)


@table_group.command("profile")
@click.argument("name", metavar="DATABASE.TABLE")
@click.option("--metadata", is_flag=True, help="From the files' footers alone (Parquet/ORC): fast, no distinct counts.")
@click.option("--partition", "partitions", multiple=True, help="Profile this partition (k=v/k2=v2); repeatable.")
@click.option("--all", "everything", is_flag=True, help="Every partition again (default: those never profiled).")
@click.option("--queue", is_flag=True, help="Send it to the workers (task runner.profile) instead of running it here.")
@click.option("--show", is_flag=True, help="Only show the newest profile and the runs.")
def table_profile(name: str, metadata: bool, partitions: tuple[str, ...], everything: bool, queue: bool,
                  show: bool) -> None:  # fmt: skip
    """Profile a table (row count, size; per column nulls, distinct count, min/max, lengths, true/false
    counts), stored as the catalog's statistics that Spark and Trino read."""
    from metastore.catalog import profiles

    db, tbl = _split(name)
    service = catalog()
    area = profiles.runs(service)
    try:
        service.tables.get(db, tbl)
        if show:
            latest = area.latest(db, tbl)
            _print_profile((latest.result or {}).get("table") if latest else None)
            table(["RUN", "MODE", "STATE", "BY", "STARTED", "ENDED", "ERROR"],
                  [(r.id, r.mode, r.state, r.requested_by, when(r.started_at), when(r.ended_at), r.error or "")
                   for r in area.list(db, tbl, 10)])  # fmt: skip
            return
        parts = list(partitions) or (profiles.partitions_to_profile(service, db, tbl, True) or None
                                     if everything else None)  # fmt: skip
        run = area.request(db, tbl, "metadata" if metadata else "full", parts)
    except _errors() as e:
        fail(e)
    if queue:
        from runner.celery_app import app

        app.send_task(profiles.PROFILE_TASK, args=[run.id])
        click.echo(f"profile run {run.id} queued")
        return
    from metastore.config import Settings
    from runner.profile.run import run_profile

    run = run_profile(service, run.id, Settings.load().job_master)
    if run.state != "SUCCEEDED":
        raise click.ClickException(f"profile run {run.id} failed: {run.error}")
    click.echo(f"profile run {run.id} {run.state}; partitions profiled: {len(run.result.get('partitions') or [])}")
    _print_profile(run.result.get("table"))


@table_group.command("preview")
@click.argument("name", metavar="DATABASE.TABLE")
@click.option("--partition", help="Only this partition (k=v/k2=v2).")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def table_preview(name: str, partition: str | None, limit: int) -> None:
    """The first rows of a table (or a partition), read from its files."""
    from metastore.catalog.preview import preview

    db, tbl = _split(name)
    try:
        got = preview(catalog(), db, tbl, partition, limit)
    except _errors() as e:
        fail(e)
    table([c["name"] for c in got["columns"]], [tuple("NULL" if v is None else v for v in r) for r in got["rows"]])
