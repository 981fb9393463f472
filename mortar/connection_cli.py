"""`mortar connection ...`: define how jobs reach data stores (JDBC databases, Kafka, ...) once, by name.

Secret properties (PASSWORD, SECRET..., TOKEN...) are never printed; `--secret KEY` asks for a value
without echoing it, so it stays out of the shell's history. Jobs read their connections with secrets
through `mortar_job.connection(NAME)`, for the connections they list (`mortar job create --connection`).
"""

from __future__ import annotations

import json

import click

from mortar.cli_support import catalog as _catalog
from mortar.cli_support import fail as _fail
from mortar.cli_support import pairs as _pairs
from mortar.cli_support import table as _table

TYPES = ["JDBC", "KAFKA", "MONGODB", "NETWORK", "SFTP", "CUSTOM"]


@click.group()
def connection() -> None:
    """Connections: named data store endpoints and credentials that jobs use."""


def _properties_options(f):
    options = [
        click.option("--property", "-p", "properties", multiple=True, metavar="KEY=VALUE",
                     help="Property, e.g. JDBC_CONNECTION_URL=jdbc:postgresql://db/sales, USERNAME=etl. Repeatable."),
        click.option("--secret", "secrets", multiple=True, metavar="KEY",
                     help="Ask for property KEY's value without echoing it (e.g. PASSWORD). Repeatable."),
        click.option("--description"),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def _with_secrets(properties: dict, secrets) -> dict:
    for key in secrets:
        properties[key] = click.prompt(f"{key}", hide_input=True, confirmation_prompt=False)
    return properties


@connection.command("create")
@click.argument("name")
@click.option("--type", "connection_type", type=click.Choice(TYPES, case_sensitive=False), default="JDBC",
              show_default=True)  # fmt: skip
@_properties_options
def create(name: str, connection_type: str, properties, secrets, description: str | None) -> None:
    """Define connection NAME."""
    from metastore.catalog import CatalogError
    from metastore.catalog.connections import Connection

    props = _with_secrets(_pairs(properties, "--property"), secrets)
    try:
        made = _catalog().connections.create(Connection(name, connection_type.upper(), props, description))
    except CatalogError as e:
        _fail(e)
    click.echo(f"connection {made.name} created ({made.connection_type})")


@connection.command("list")
@click.option(
    "--type", "connection_type", type=click.Choice(TYPES, case_sensitive=False), help="Only this type."
)
def list_(connection_type: str | None) -> None:
    """The connections (secrets masked)."""
    rows = []
    for c in _catalog().connections.list(connection_type.upper() if connection_type else None):
        where = c.properties.get("JDBC_CONNECTION_URL") or c.properties.get("KAFKA_BOOTSTRAP_SERVERS") or \
            c.properties.get("CONNECTION_URL") or "-"  # fmt: skip
        rows.append((c.name, c.connection_type, where, c.description or ""))
    _table(["NAME", "TYPE", "WHERE", "DESCRIPTION"], rows)


@connection.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Connection NAME's definition, as JSON (secrets masked)."""
    import dataclasses

    from metastore.catalog import CatalogError

    try:
        c = _catalog().connections.get(name)
    except CatalogError as e:
        _fail(e)
    click.echo(json.dumps(dataclasses.asdict(c), indent=2))


@connection.command("update")
@click.argument("name")
@click.option("--type", "connection_type", type=click.Choice(TYPES, case_sensitive=False), help="A new type.")
@_properties_options
@click.option("--unset", "unset", multiple=True, metavar="KEY", help="Remove property KEY. Repeatable.")
def update(
    name: str, connection_type: str | None, properties, secrets, description: str | None, unset
) -> None:
    """Change connection NAME: set the properties given, remove those unset, keep the others (secrets
    included)."""
    from metastore.catalog import CatalogError

    cat = _catalog()
    try:
        c = cat.connections.get(name)  # masked secrets sent back are kept by the catalog
        given = _with_secrets(_pairs(properties, "--property"), secrets)
        props = {**c.properties, **{k.upper(): v for k, v in given.items()}}
        c.properties = {k: v for k, v in props.items() if k not in {u.upper() for u in unset}}
        if connection_type:
            c.connection_type = connection_type.upper()
        if description is not None:
            c.description = description
        made = cat.connections.update(name, c)
    except CatalogError as e:
        _fail(e)
    click.echo(f"connection {made.name} updated")


@connection.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete connection NAME (jobs that list it fail to read it)."""
    from metastore.catalog import CatalogError

    try:
        _catalog().connections.delete(name)
    except CatalogError as e:
        _fail(e)
    click.echo(f"connection {name} deleted")
