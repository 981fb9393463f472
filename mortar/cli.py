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
def main(verbose: bool) -> None:
    """Mortar: a Hive Metastore-compatible data catalog, crawlers and Spark ETL jobs."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
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
def metastore(**options) -> None:
    """Run the Hive Metastore-compatible Thrift server.

    Spark, Trino, pyiceberg and Hive Metastore clients connect to thrift://HOST:PORT unchanged.
    The storage schema is created or upgraded at start.
    """
    from metastore.catalog import CatalogService
    from metastore.hms.server import MetastoreServer

    settings = _settings(**options)
    log = logging.getLogger("mortar")
    catalog = CatalogService.open(settings.database_url, settings.warehouse, lock_timeout_s=settings.lock_timeout_s)
    server = MetastoreServer(catalog, settings.host, settings.port, settings.max_connections)
    log.info("storage %s, warehouse %s", catalog.ctx.engine.url.render_as_string(hide_password=True),
             catalog.warehouse.root)  # fmt: skip
    click.echo(f"Mortar metastore ready on thrift://{settings.host}:{server.port}", err=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
