"""`mortar user access-key create|list|delete USER` (keys that sign Glue API requests) and `mortar glue-api`
(the Glue API alone, for production; `mortar up` and `mortar web` answer it on the web port too)."""

from __future__ import annotations

import signal

import click

from mortar.web_cli import _catalog, _config, _data_dir, _database_url, _fail, _settings, user


@user.group("access-key")
def access_key() -> None:
    """Access keys of the Glue API (SigV4): requests they sign act as the key's user."""


@access_key.command("create")
@click.argument("name")
@click.option("--description", help="What the key is for.")
@_config
@_data_dir
@_database_url
def access_key_create(name, description, config, data_dir, database_url) -> None:
    """Create an access key for user NAME; prints its id and secret (the secret only this once)."""
    from metastore.catalog import CatalogError
    from metastore.glue.keys import AccessKeys

    catalog = _catalog(_settings(config=config, data_dir=data_dir, database_url=database_url))
    try:
        key, secret = AccessKeys(catalog.ctx).create(name, description)
    except CatalogError as e:
        _fail(e)
    click.echo(f"aws_access_key_id = {key.access_key_id}")
    click.echo(f"aws_secret_access_key = {secret}")


@access_key.command("list")
@click.argument("name")
@_config
@_data_dir
@_database_url
def access_key_list(name, config, data_dir, database_url) -> None:
    """The access keys of user NAME (ids, creation and last use; never secrets)."""
    import datetime

    from metastore.catalog import CatalogError
    from metastore.glue.keys import AccessKeys

    catalog = _catalog(_settings(config=config, data_dir=data_dir, database_url=database_url))
    try:
        keys = AccessKeys(catalog.ctx).list(name)
    except CatalogError as e:
        _fail(e)

    def when(ms):
        return "never" if ms is None else datetime.datetime.fromtimestamp(ms / 1000).isoformat(timespec="seconds")

    for k in keys:
        click.echo(f"{k.access_key_id}\tcreated {when(k.created_at)}\tlast used {when(k.last_used_at)}\t{k.description or ''}")


@access_key.command("delete")
@click.argument("name")
@click.argument("access_key_id")
@_config
@_data_dir
@_database_url
def access_key_delete(name, access_key_id, config, data_dir, database_url) -> None:
    """Delete access key ACCESS_KEY_ID of user NAME: requests it signs are refused from now on."""
    from metastore.catalog import CatalogError
    from metastore.glue.keys import AccessKeys

    catalog = _catalog(_settings(config=config, data_dir=data_dir, database_url=database_url))
    try:
        AccessKeys(catalog.ctx).delete(name, access_key_id)
    except CatalogError as e:
        _fail(e)
    click.echo(f"access key {access_key_id} of user {name} deleted")


@click.command("glue-api")
@_config
@_data_dir
@_database_url
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=int, help="Port (default: setting glue_port, 8081).")
def glue_api(config, data_dir, database_url, host: str, port: int | None) -> None:
    """Serve the AWS Glue JSON API (POST / with X-Amz-Target: AWSGlue.<Operation>, SigV4).

    Clients: boto3.client("glue", endpoint_url="http://HOST:PORT"), pyiceberg's glue.endpoint, ... Keys:
    `mortar user access-key create USER`. Unsigned requests get the `anonymous` setting's rights. HTTP/1.1
    with keep-alive, a thread per connection; bounded by the settings max_connections,
    max_connections_per_peer, idle_timeout_s, request_timeout_s and glue_max_request_mb.
    """
    from metastore.glue.http import GlueApp
    from metastore.glue.server import GlueServer
    from metastore.web import celery_sender

    settings = _settings(config=config, data_dir=data_dir, database_url=database_url)
    catalog = _catalog(settings)
    app = GlueApp(catalog, settings, {"send_task": celery_sender(settings)})
    server = GlueServer(app, host, port or settings.glue_port, max_connections=settings.max_connections,
                        max_per_peer=settings.max_connections_per_peer, idle_timeout_s=settings.idle_timeout_s,
                        request_timeout_s=settings.request_timeout_s)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    import gc

    gc.collect()
    gc.freeze()  # what start-up made stays: the collector no longer walks it on every full collection
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"Mortar Glue API ready on http://{shown}:{server.effective_port}/", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
