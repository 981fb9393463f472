"""The `mortar` command."""

from __future__ import annotations

import logging
import signal
import sys

import click

from mortar import __version__


def _settings(**overrides):
    from metastore.config import Settings

    try:
        return Settings.load(overrides.pop("config", None), **overrides)
    except (OSError, ValueError) as e:
        raise click.UsageError(str(e)) from e


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mortar")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML settings file for every command (as MORTAR_CONFIG).")  # fmt: skip
@click.option("--data-dir", "data_dir", help="Data folder for every command (as MORTAR_DATA_DIR).")
@click.option("--database-url", "database_url", help="Catalog storage for every command (as MORTAR_DATABASE_URL).")
def main(verbose: bool, config_file: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Mortar: a Hive Metastore-compatible data catalog, crawlers and Spark ETL jobs.

    `mortar --data-dir /srv/mortar job list` works on the catalog that `mortar up --data-dir /srv/mortar`
    serves; settings given here reach every sub-command and the processes it starts.
    """
    import os

    for name, value in (("MORTAR_CONFIG", config_file), ("MORTAR_DATA_DIR", data_dir),
                        ("MORTAR_DATABASE_URL", database_url)):  # fmt: skip
        if value:
            os.environ[name] = value
    # the servers log what they do; a one-off command prints its answer and only warnings besides
    servers = ("metastore", "worker", "scheduler", "web", "up")
    quiet = click.get_current_context().invoked_subcommand not in servers
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--config", type=click.Path(dir_okay=False), help="TOML file with a [mortar] table of settings.")
@click.option("--data-dir", help="Folder for the default SQLite catalog and warehouse (default ./mortar-data).")
@click.option("--database-url", help="SQLAlchemy URL of the catalog storage, e.g. postgresql://user@host/db.")
@click.option("--warehouse", help="Root of managed tables: a local path or an fsspec URL (s3://bucket/path).")
@click.option("--host", help="Address to listen on (default 0.0.0.0).")
@click.option("--port", type=int, help="Port to listen on (default 9083).")
@click.option("--processes", type=int, help="Server processes sharing the port (default 1; use one per core).")
def metastore(**options) -> None:
    """Run the Hive Metastore-compatible Thrift server.

    Spark, Trino, pyiceberg and Hive Metastore clients connect to thrift://HOST:PORT unchanged.
    The storage schema is created or upgraded at start.
    """
    from metastore.catalog import CatalogService
    from metastore.catalog.encryption import Secrets
    from metastore.hms.server import serve

    settings = _settings(**options)
    log = logging.getLogger("mortar")
    catalog = CatalogService.open(settings.database_url, settings.warehouse, lock_timeout_s=settings.lock_timeout_s,
                                  secrets=Secrets.from_settings(settings))  # fmt: skip
    log.info("storage %s, warehouse %s", catalog.ctx.engine.url.render_as_string(hide_password=True),
             catalog.warehouse.root)  # fmt: skip

    def ready(port: int) -> None:
        click.echo(f"Mortar metastore ready on thrift://{settings.host}:{port} "
                   f"({settings.processes} process{'es' if settings.processes > 1 else ''})", err=True)  # fmt: skip

    serve(catalog, settings.host, settings.port, settings.processes, settings.max_connections, on_ready=ready,
          listing_cache_mb=settings.listing_cache_mb, settings=settings)  # fmt: skip


@main.command()
@click.option("--concurrency", type=int, help="Tasks run at once (default: the worker_concurrency setting, 2).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(concurrency: int | None, loglevel: str) -> None:
    """Run a worker: it runs the crawls (and job runs) that the CLI, console and scheduler queue.

    The broker is MORTAR_BROKER_URL (e.g. redis://127.0.0.1:6379/0), or by default an embedded one in
    the data folder, shared by every process on this machine.
    """
    import os
    import warnings

    from celery.exceptions import SecurityWarning

    from runner.celery_app import app, declare_queues

    # Celery's warning about root speaks of pickle, which Mortar never accepts (JSON only); what matters
    # here is who job scripts run as: with job_os_user a root worker is required, without it say so once
    warnings.filterwarnings("ignore", category=SecurityWarning)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not app.conf.mortar_settings.job_os_user:
        logging.getLogger("mortar").warning(
            "the worker runs as root and job_os_user is not set: job scripts run as root too "
            "(README, Securing Mortar: MORTAR_JOB_OS_USER)")  # fmt: skip
    argv = ["worker", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    declare_queues(app)
    app.worker_main(argv)


@main.command()
@click.option("--poll", type=float, default=10.0, show_default=True, help="Seconds between checks.")
def scheduler(poll: float) -> None:
    """Run the scheduler: starts crawlers (and jobs) whose cron schedule is due, on the workers.

    Schedules are read from the catalog at every check; several schedulers never fire one thing twice.
    """
    from metastore.catalog import CatalogService
    from runner.celery_app import app
    from runner.triggers.scheduler import Scheduler

    s = app.conf.mortar_settings
    service = CatalogService.open(s.database_url, s.warehouse, lock_timeout_s=s.lock_timeout_s)
    sched = Scheduler(service, lambda name, args: app.send_task(name, args=args), poll_s=poll)
    signal.signal(signal.SIGTERM, lambda *_: sched.stop())
    from runner.notify import Notifier

    notifier = Notifier(service, s).start()  # notifications and OpenLineage events, from the event feed
    try:
        sched.run_forever()
    except KeyboardInterrupt:
        sched.stop()
    notifier.stop()


def _spark_settings(uri: str | None, warehouse: str | None) -> dict[str, str]:
    """The Spark settings that point a session at this metastore (one place for all three commands)."""
    settings = _settings(warehouse=warehouse)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": uri or f"thrift://{host}:{settings.port}",
        "spark.sql.warehouse.dir": settings.warehouse,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }


_uri_option = click.option("--uri", help="Metastore URI (default thrift://127.0.0.1:<port> from the settings).")
_warehouse_option = click.option("--warehouse", help="Warehouse root (default from the settings).")


@main.command("spark-conf")
@_uri_option
@_warehouse_option
@click.option("--format", "fmt", type=click.Choice(["properties", "args", "python"]), default="properties",
              help="spark-defaults.conf lines, --conf arguments, or a SparkSession builder snippet.")  # fmt: skip
def spark_conf(uri: str | None, warehouse: str | None, fmt: str) -> None:
    """Print the Spark settings that use this metastore."""
    conf = _spark_settings(uri, warehouse)
    if fmt == "properties":
        for k, v in conf.items():
            click.echo(f"{k} {v}")
    elif fmt == "args":
        click.echo(" ".join(f"--conf {k}={v}" for k, v in conf.items()))
    else:
        click.echo("from pyspark.sql import SparkSession\n\nspark = (SparkSession.builder")
        for k, v in conf.items():
            click.echo(f'    .config("{k}", "{v}")')
        click.echo("    .enableHiveSupport().getOrCreate())")


def _spark_command(tool: str, uri: str | None, warehouse: str | None, args: tuple[str, ...]) -> None:
    import os
    import shutil

    try:
        import pyspark
    except ImportError as e:
        raise click.ClickException("pyspark is not installed: pip install pyspark") from e
    exe = os.path.join(os.path.dirname(pyspark.__file__), "bin", tool)
    if not os.path.exists(exe):
        exe = shutil.which(tool) or exe
    conf = [a for k, v in _spark_settings(uri, warehouse).items() for a in ("--conf", f"{k}={v}")]
    from runner.jobs.driver import add_glue_libs

    add_glue_libs()  # Glue scripts' `awsglue` importable in the shell and its Python workers
    os.execv(exe, [exe, *conf, *args])


@main.command(context_settings={"ignore_unknown_options": True})
@_uri_option
@_warehouse_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def pyspark(uri: str | None, warehouse: str | None, args: tuple[str, ...]) -> None:
    """Start a PySpark shell that uses this metastore (extra ARGS go to pyspark)."""
    _spark_command("pyspark", uri, warehouse, args)


@main.command("spark-sql", context_settings={"ignore_unknown_options": True})
@_uri_option
@_warehouse_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def spark_sql(uri: str | None, warehouse: str | None, args: tuple[str, ...]) -> None:
    """Start the Spark SQL shell on this metastore (extra ARGS go to spark-sql, e.g. -e "SHOW TABLES")."""
    _spark_command("spark-sql", uri, warehouse, args)


def _register_groups() -> None:
    from mortar.catalog_cli import database, table_group
    from mortar.connection_cli import connection
    from mortar.crawler_cli import classifier, crawler
    from mortar.glue_cli import glue_api
    from mortar.job_cli import job, trigger, workflow
    from mortar.secrets_cli import secrets
    from mortar.web_cli import up, user, web

    for command in (database, table_group, crawler, classifier, job, trigger, workflow, connection, web, user, up,
                    secrets, glue_api):  # fmt: skip
        main.add_command(command)


_register_groups()

if __name__ == "__main__":
    main()
