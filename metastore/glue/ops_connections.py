"""Glue's connection operations over Mortar's connections. Secret properties (PASSWORD, ...: see
`metastore.catalog.connections.is_secret`) are stored encrypted; they are answered only with
HidePassword false (Glue's default) and only to admins (access.py's `admin` right); otherwise they are left
out, as Glue does with HidePassword true. A non-admin asking explicitly for them is audited as a denial.

Connections are not database objects: everyone reads them, editors change them. MatchCriteria and
PhysicalConnectionRequirements are not kept.
"""

from __future__ import annotations

from metastore.catalog.access import decide
from metastore.catalog.connections import CONNECTION_TYPES, Connection, is_secret
from metastore.catalog.errors import CatalogError, Forbidden
from metastore.glue import control as c
from metastore.glue.errors import from_catalog, invalid_input
from metastore.glue.registry import GlueRequest, operation


def _show_secrets(req: GlueRequest, body: dict, name: str | None = None) -> bool:
    """Whether this caller gets secrets in this answer (HidePassword false and the admin right)."""
    hide = c.flag(body, "HidePassword")
    if hide:
        return False
    reason = decide(req.identity, "admin")
    if reason is None:
        return True
    if hide is False:  # asked for them explicitly: audited, answered without them
        try:
            req.service.access.deny(req.identity, "admin", f"connection secrets: {reason}", None, name)
        except Forbidden:
            pass
    return False


KEPT = (
    "MatchCriteria",
    "PhysicalConnectionRequirements",
    "SparkProperties",
    "AthenaProperties",
    "PythonProperties",
)


def connection_out(conn: Connection, secrets: bool, kept: dict) -> dict:
    props = {k: v for k, v in conn.properties.items() if secrets or not is_secret(k)}
    return c.compact({
        **kept,
        "Name": conn.name, "Description": conn.description, "ConnectionType": conn.connection_type,
        "ConnectionProperties": props, "CreationTime": c.seconds(conn.created_at),
        "LastUpdatedTime": c.seconds(conn.updated_at), "Status": "READY",
    })  # fmt: skip


def _get(req: GlueRequest, name: str, secrets: bool) -> Connection:
    return req.service.connections.get(name, secrets=secrets)


def _connection_in(body: dict) -> Connection:
    spec = c.struct(body, "ConnectionInput")
    if not spec:
        raise invalid_input("ConnectionInput is required")
    kind = c.text(spec, "ConnectionType", required=True)
    if kind not in CONNECTION_TYPES:
        raise invalid_input(
            f"ConnectionType {kind!r} is not supported: use one of {', '.join(CONNECTION_TYPES)}"
        )
    return Connection(c.text(spec, "Name", required=True), kind, c.string_map(spec, "ConnectionProperties") or {},
                      c.text(spec, "Description"))  # fmt: skip


@operation("CreateConnection")
def create_connection(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    kept = c.kept(c.struct(body, "ConnectionInput"), KEPT)
    created = req.service.connections.create(_connection_in(body))
    c.attributes(req).update("connection", created.name, kept)
    c.set_tags(req, req.arn("connection", created.name), body.get("Tags"))
    return {"CreateConnectionStatus": "READY"}


@operation("GetConnection")
def get_connection(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    name = c.text(body, "Name", required=True)
    req.service.connections.get(name)  # NotFound before any audit of secrets
    secrets = _show_secrets(req, body, name)
    conn = _get(req, name, secrets)
    return {
        "Connection": connection_out(
            conn, secrets, c.attributes(req).get("connection", [conn.name]).get(conn.name, {})
        )
    }


@operation("GetConnections")
def get_connections(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    kind = c.text(c.struct(body, "Filter"), "ConnectionType")
    chosen, more = c.page_by_key(body, req.service.connections.list(kind), lambda x: x.name)
    secrets = _show_secrets(req, body)
    items = [_get(req, x.name, True) if secrets else x for x in chosen]
    kept = c.attributes(req).get("connection", [x.name for x in items])
    return {"ConnectionList": [connection_out(x, secrets, kept.get(x.name, {})) for x in items], **more}


@operation("UpdateConnection")
def update_connection(req: GlueRequest, body: dict) -> dict:
    """Replace the definition (Glue's semantics: properties left out are dropped)."""
    req.check("write")
    name = c.text(body, "Name", required=True)
    new = _connection_in(body)
    if new.name.lower() != name.lower():
        raise invalid_input(f"connection {name} cannot be renamed to {new.name}")
    kept = c.kept(c.struct(body, "ConnectionInput"), KEPT, replace=True)
    req.service.connections.update(name, new)
    c.attributes(req).update("connection", new.name, kept)
    return {}


@operation("DeleteConnection")
def delete_connection(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    name = c.text(body, "ConnectionName", required=True)
    req.service.connections.delete(name)
    c.drop_tags(req, req.arn("connection", name.lower()))
    c.attributes(req).drop("connection", name)
    return {}


@operation("BatchDeleteConnection")
def batch_delete_connection(req: GlueRequest, body: dict) -> dict:
    req.check("write")
    done, errors = [], {}
    for name in c.strings(body, "ConnectionNameList", required=True)[:25]:
        try:
            req.service.connections.delete(name)
            c.drop_tags(req, req.arn("connection", name.lower()))
            c.attributes(req).drop("connection", name)
            done.append(name)
        except CatalogError as e:
            err = from_catalog(e)
            errors[name] = {"ErrorCode": err.type, "ErrorMessage": err.message}
    return {"Succeeded": done, "Errors": errors}


c.register_exists("connection", lambda req, name: req.service.connections.get(name))
