"""`mortar web`, `mortar user ...` and `mortar up`: the console and JSON API, its users, and everything at once.

Also runnable alone: `python -m mortar.web_cli web|user|up` (what `mortar up` starts its web server with).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

DEFAULT_WEB_PORT = 8080
log = logging.getLogger("mortar.web")


def _settings(**overrides):
    from metastore.config import Settings

    try:
        return Settings.load(
            overrides.pop("config", None), **{k: v for k, v in overrides.items() if v is not None}
        )
    except (OSError, ValueError) as e:
        raise click.UsageError(str(e)) from e


def _catalog(settings):
    from metastore.catalog import CatalogService
    from metastore.catalog.encryption import Secrets

    return CatalogService.open(
        settings.database_url, settings.warehouse, lock_timeout_s=settings.lock_timeout_s,
        secrets=Secrets.from_settings(settings),  # the key of these settings (--data-dir, --config)
    )


def _web_port(port: int | None) -> int:
    if port is not None:
        return port
    raw = os.environ.get("MORTAR_WEB_PORT")
    try:
        return int(raw) if raw else DEFAULT_WEB_PORT
    except ValueError as e:
        raise click.UsageError(f"MORTAR_WEB_PORT={raw!r} is not a port number") from e


_config = click.option(
    "--config", type=click.Path(dir_okay=False), help="TOML file with a [mortar] table of settings."
)
_data_dir = click.option(
    "--data-dir", help="Folder for the default SQLite catalog, warehouse and broker (./mortar-data)."
)
_database_url = click.option("--database-url", help="SQLAlchemy URL of the catalog storage.")


@click.command()
@_config
@_data_dir
@_database_url
@click.option(
    "--web-host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface).",
)
@click.option("--web-port", type=int, help=f"Port (default MORTAR_WEB_PORT or {DEFAULT_WEB_PORT}).")
@click.option("--threads", type=int, default=8, show_default=True, help="Requests served at once.")
@click.option("--secure-cookies", is_flag=True, envvar="MORTAR_WEB_SECURE_COOKIES",
              help="Mark the session cookie Secure on every answer (it is on HTTPS requests anyway); "
                   "MORTAR_WEB_SECURE_COOKIES=1 too.")  # fmt: skip
@click.option("--trust-proxy", is_flag=True, envvar="MORTAR_WEB_TRUST_PROXY",
              help="Behind one reverse proxy: trust its X-Forwarded-Proto/-For/-Host (HTTPS ended at the proxy "
                   "then counts as HTTPS); MORTAR_WEB_TRUST_PROXY=1 too.")  # fmt: skip
def web(config, data_dir, database_url, web_host: str, web_port: int | None, threads: int, secure_cookies: bool,
        trust_proxy: bool) -> None:  # fmt: skip
    """Serve the web console and the JSON API (/api/v1) with waitress.

    Create the first admin with `mortar user create NAME --role admin`.
    """
    from waitress import create_server

    from metastore.web import create_app

    settings = _settings(config=config, data_dir=data_dir, database_url=database_url)
    catalog = _catalog(settings)
    app = create_app(catalog, settings, secure_cookies=secure_cookies, trust_proxy=trust_proxy)
    server = create_server(app, host=web_host, port=_web_port(web_port), threads=threads, ident="mortar")
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    host = "127.0.0.1" if web_host in ("0.0.0.0", "::") else web_host
    click.echo(f"Mortar console ready on http://{host}:{server.effective_port}/ (API: /api/v1)", err=True)
    if catalog.users.count() == 0:
        click.echo("No users yet: create an admin with `mortar user create NAME --role admin`.", err=True)
    try:
        server.run()
    except (KeyboardInterrupt, OSError):
        pass
    finally:
        server.close()


# --- users ---------------------------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Users of the web console and JSON API."""


def _fail(e: Exception):
    raise click.ClickException(str(e)) from e


@user.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), default="viewer", show_default=True)
@click.option(
    "--database",
    "databases",
    multiple=True,
    help="Restrict the user to this database (repeatable; default: all).",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting."
)
@_config
@_data_dir
@_database_url
def user_create(name, role, databases, password_stdin, config, data_dir, database_url) -> None:
    """Create user NAME (prompts for the password)."""
    from metastore.catalog import CatalogError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    catalog = _catalog(_settings(config=config, data_dir=data_dir, database_url=database_url))
    try:
        u = catalog.users.create(name, password, role, list(databases) or None)
    except CatalogError as e:
        _fail(e)
    click.echo(f"user {u.name} created ({u.role})")


@user.command("list")
@_config
@_data_dir
@_database_url
def user_list(config, data_dir, database_url) -> None:
    """The users, their roles and databases."""
    catalog = _catalog(_settings(config=config, data_dir=data_dir, database_url=database_url))
    for u in catalog.users.list():
        dbs = "all databases" if u.databases is None else ", ".join(u.databases) or "no databases"
        click.echo(f"{u.name}\t{u.role}\t{dbs}")


@user.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]))
@click.option("--password", "new_password", is_flag=True, help="Prompt for a new password.")
@click.option("--password-stdin", is_flag=True, help="Read a new password from standard input.")
@click.option("--database", "databases", multiple=True, help="Restrict to these databases (repeatable).")
@click.option("--all-databases", is_flag=True, help="Lift the database restriction.")
@_config
@_data_dir
@_database_url
def user_set(
    name, role, new_password, password_stdin, databases, all_databases, config, data_dir, database_url
) -> None:
    """Change user NAME's role, password or databases (a change ends the user's console sessions)."""
    from metastore.catalog import CatalogError

    kwargs: dict = {}
    if role:
        kwargs["role"] = role
    if password_stdin:
        kwargs["password"] = sys.stdin.readline().rstrip("\r\n")
    elif new_password:
        kwargs["password"] = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    if all_databases:
        kwargs["databases"] = None
    elif databases:
        kwargs["databases"] = list(databases)
    catalog = _catalog(_settings(config=config, data_dir=data_dir, database_url=database_url))
    try:
        catalog.users.update(name, **kwargs)
    except CatalogError as e:
        _fail(e)
    click.echo(f"user {name} changed")


@user.command("delete")
@click.argument("name")
@_config
@_data_dir
@_database_url
def user_delete(name, config, data_dir, database_url) -> None:
    """Delete user NAME with their API tokens and console sessions."""
    from metastore.catalog import CatalogError

    try:
        _catalog(_settings(config=config, data_dir=data_dir, database_url=database_url)).users.delete(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"user {name} deleted")


@user.command("logout")
@click.argument("name")
@_config
@_data_dir
@_database_url
def user_logout(name, config, data_dir, database_url) -> None:
    """End every console session of user NAME at once (on every web server); API tokens stay."""
    from metastore.catalog import CatalogError

    try:
        n = _catalog(
            _settings(config=config, data_dir=data_dir, database_url=database_url)
        ).users.end_sessions(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"user {name}: {n} session{'' if n == 1 else 's'} ended")


@user.command("token")
@click.argument("name")
@click.option("--token-name", default="cli", show_default=True, help="What the token is for.")
@_config
@_data_dir
@_database_url
def user_token(name, token_name, config, data_dir, database_url) -> None:
    """Create an API token for user NAME and print it (only this once)."""
    from metastore.catalog import CatalogError

    try:
        _, secret = _catalog(
            _settings(config=config, data_dir=data_dir, database_url=database_url)
        ).users.create_token(name, token_name)
    except CatalogError as e:
        _fail(e)
    click.echo(secret)


# --- up ------------------------------------------------------------------------------------------------


def ensure_first_admin(catalog, name: str = "admin") -> str | None:
    """When there is no user, create admin `name` with a generated password and return the password."""
    if catalog.users.count():
        return None
    password = secrets.token_urlsafe(12)
    catalog.users.create(name, password, "admin")
    return password


@click.command()
@_config
@_data_dir
@_database_url
@click.option("--web-host", default="127.0.0.1", show_default=True, help="Address of the console.")
@click.option(
    "--web-port", type=int, help=f"Port of the console (default MORTAR_WEB_PORT or {DEFAULT_WEB_PORT})."
)
@click.option("--port", type=int, help="Port of the metastore (default MORTAR_PORT or 9083).")
@click.option("--glue-port", type=int, help="Port of the Glue API (default MORTAR_GLUE_PORT or 8081).")
def up(config, data_dir, database_url, web_host: str, web_port: int | None, port: int | None,
       glue_port: int | None) -> None:  # fmt: skip
    """Run everything on this machine: the metastore, the web console, the Glue API, a worker and the scheduler.

    With no settings: SQLite storage and an embedded broker under ./mortar-data. Ctrl-C (or SIGTERM) stops
    them all. At the first start an admin user is created and its password printed, once.
    """
    settings = _settings(config=config, data_dir=data_dir, database_url=database_url, port=port)
    catalog = _catalog(settings)  # creates or upgrades the schema once, before the children start
    password = ensure_first_admin(catalog)
    catalog.ctx.engine.dispose()
    web_port = _web_port(web_port)
    glue_port = glue_port or settings.glue_port
    env = dict(os.environ)
    env.update(MORTAR_DATA_DIR=settings.data_dir, MORTAR_DATABASE_URL=settings.database_url,
               MORTAR_WAREHOUSE=settings.warehouse, MORTAR_BROKER_URL=settings.broker_url,
               MORTAR_PORT=str(settings.port))  # fmt: skip
    if config:  # the file's other settings (processes, lock timeout, ...) reach the children too
        env["MORTAR_CONFIG"] = os.path.abspath(config)
    py = [sys.executable, "-m"]
    commands = {
        "metastore": [*py, "mortar.cli", "metastore"],
        "web": [*py, "mortar.web_cli", "web", "--web-host", web_host, "--web-port", str(web_port)],
        "glue-api": [*py, "mortar.cli", "glue-api", "--host", web_host, "--port", str(glue_port)],
        "worker": [*py, "mortar.cli", "worker"],
        "scheduler": [*py, "mortar.cli", "scheduler"],
    }
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    markers = Path(settings.data_dir) / "run"  # the jobs worker's ready marker (runner/jobs/worker.py)
    for old in markers.glob("warm-*"):
        old.unlink(missing_ok=True)
    warming = settings.job_warm_pool > 0
    started = time.monotonic()
    try:
        for name, cmd in commands.items():
            children[name] = subprocess.Popen(cmd, env=env, start_new_session=True)
        host = "127.0.0.1" if web_host in ("0.0.0.0", "::") else web_host
        ms_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        _wait_ready(children, [("metastore", ms_host, settings.port), ("web", host, web_port),
                               ("glue-api", host, glue_port)], lambda: stopping)  # fmt: skip
        click.echo(f"Mortar is up (data in {os.path.abspath(settings.data_dir)}):")
        click.echo(f"  console   http://{host}:{web_port}/")
        click.echo(f"  API       http://{host}:{web_port}/api/v1/  (spec: /api/v1/openapi.json)")
        click.echo(f"  Glue API  http://{host}:{glue_port}/  (boto3 endpoint_url; keys: mortar user access-key create; "
                   "the console's port answers it too, slower)")  # fmt: skip
        click.echo(f"  metastore thrift://{ms_host}:{settings.port}")
        click.echo(f"  worker and scheduler on broker {_redact(settings.broker_url)}")
        if warming:
            click.echo("  jobs      a Spark driver is warming up; job runs start at once when it is ready")
        if password:
            click.echo(
                f"First start: created user admin with password {password}  (shown only now; change it in Users)"
            )
        click.echo("Ctrl-C stops everything.", err=True)
        sys.stdout.flush()
        failed = None
        while not stopping:
            if warming and any(markers.glob("warm-*")):
                warming = False
                click.echo(f"Warm Spark driver ready ({time.monotonic() - started:.0f} s after start): "
                           "job runs start at once.")  # fmt: skip
                sys.stdout.flush()
            for name, proc in children.items():
                if proc.poll() is not None:
                    failed = (name, proc.returncode)
                    break
            if failed:
                break
            time.sleep(0.2)
    finally:
        _stop_all(children)
    if failed:
        raise click.ClickException(f"{failed[0]} exited with status {failed[1]}: stopped everything")


def _wait_ready(children: dict[str, subprocess.Popen], ports: list[tuple[str, str, int]], stopping,
                timeout_s: float = 180.0) -> None:  # fmt: skip
    """Wait until each (name, host, port) accepts connections: "Mortar is up" is said only when it is. A
    child that exits meanwhile, or a port still closed after `timeout_s`, stops `mortar up` with the reason."""
    import socket

    deadline = time.monotonic() + timeout_s
    waiting = list(ports)
    click.echo("Starting the metastore, the console, the Glue API, a worker and the scheduler…", err=True)
    while waiting and not stopping():
        for name, proc in children.items():
            if proc.poll() is not None:
                raise click.ClickException(f"{name} exited with status {proc.returncode} while starting")
        name, host, port = waiting[0]
        try:
            with socket.create_connection((host, port), timeout=0.5):
                waiting.pop(0)
                continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise click.ClickException(f"{name} did not accept connections on {host}:{port} within {timeout_s:.0f} s")
        time.sleep(0.1)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a SQLAlchemy URL (redis://...)
        return url.split("@")[-1] if "@" in url else url


def _stop_all(children: dict[str, subprocess.Popen], grace_s: float = 15.0) -> None:
    """SIGTERM to every child (and its process group: Celery's pool), then SIGKILL after `grace_s`."""
    for proc in children.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    for proc in children.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


@click.group()
def _main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


_main.add_command(web)
_main.add_command(user)
_main.add_command(up)

if __name__ == "__main__":
    _main()
