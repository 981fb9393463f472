"""Connections as catalog objects: how to reach a data store (a JDBC database, Kafka, MongoDB, a network),
named once so that jobs carry a name instead of URLs and credentials — Glue's connections.

Properties use Glue's keys (JDBC_CONNECTION_URL, USERNAME, PASSWORD, KAFKA_BOOTSTRAP_SERVERS...). Secret
ones (see `is_secret`) are stored encrypted (encryption.py: the key is not in the catalog) and answered
masked by `get`/`list`; only `get(..., secrets=True)`, used by a job run asking for its own connections,
decrypts and answers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog import codec
from metastore.catalog.base import Area, now_ms
from metastore.catalog.encryption import Secrets
from metastore.catalog.errors import AlreadyExists, InvalidInput, NotFound
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import ConnectionRow

CONNECTION_TYPES = ("JDBC", "KAFKA", "MONGODB", "NETWORK", "SFTP", "CUSTOM")
REQUIRED = {  # the property each type cannot do without
    "JDBC": "JDBC_CONNECTION_URL",
    "KAFKA": "KAFKA_BOOTSTRAP_SERVERS",
    "MONGODB": "CONNECTION_URL",
}
MASK = "********"
MAX_PROPERTIES = 64 * 1024


def is_secret(key: str) -> bool:
    """PASSWORD, SECRET_KEY, KAFKA_SASL_PLAIN_PASSWORD, TOKEN...: never shown once stored."""
    k = key.upper()
    return any(word in k for word in ("PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY", "CREDENTIAL"))


@dataclass(slots=True)
class Connection:
    name: str
    connection_type: str = "JDBC"
    properties: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    created_at: int = 0
    updated_at: int = 0


def _check(c: Connection, secrets: Secrets, stored: dict[str, str] | None = None) -> tuple[str, dict]:
    name = check_name("connection", c.name)
    if c.connection_type not in CONNECTION_TYPES:
        raise InvalidInput(
            f"connection {name}: type {c.connection_type!r} is not one of {', '.join(CONNECTION_TYPES)}"
        )
    if not isinstance(c.properties, Mapping):
        raise InvalidInput(f"connection {name}: properties must be a mapping of names to text")
    props = {}
    for k, v in c.properties.items():
        if not isinstance(k, str) or not k.strip() or isinstance(v, bool) or not isinstance(v, str | int | float):
            raise InvalidInput(f"connection {name}: property {k!r} must be a name with a text value")
        props[k.strip().upper()] = str(v)
    kept = {k for k, v in props.items() if v == MASK and is_secret(k)} if stored else set()
    needed = REQUIRED.get(c.connection_type)
    if needed and not (stored.get(needed, "") if needed in kept else props.get(needed, "")).strip():
        raise InvalidInput(f"connection {name}: a {c.connection_type} connection needs {needed}")
    if c.description is not None and not isinstance(c.description, str):
        raise InvalidInput(f"connection {name}: the description must be text")
    # an update sending back the mask keeps the stored (encrypted) secret; new secrets are encrypted
    props = {k: stored.get(k, "") if k in kept else secrets.encrypt(v) if is_secret(k) else v
             for k, v in props.items()}  # fmt: skip
    text = codec.dumps(props)
    if len(text) > MAX_PROPERTIES:
        raise InvalidInput(f"connection {name}: properties are larger than {MAX_PROPERTIES} bytes as JSON")
    return name, dict(connection_type=c.connection_type, properties=text, description=c.description)


def _connection(row, secrets: Secrets | None | bool) -> Connection:
    """The connection of `row`: secrets decrypted with `secrets`, or masked when it is None (or False)."""
    props = codec.loads(row.properties)
    if not isinstance(secrets, Secrets):
        props = {k: MASK if is_secret(k) and v else v for k, v in props.items()}
    else:
        props = {k: secrets.decrypt(v) if is_secret(k) and isinstance(v, str) else v for k, v in props.items()}
    return Connection(row.name, row.connection_type, props, row.description, row.created_at, row.updated_at)


class Connections(Area):
    """Connection definitions; every change is audited (object name: the connection; never its secrets)."""

    def _row(self, conn, name: str):
        row = conn.execute(select(ConnectionRow).where(ConnectionRow.name == str(name).lower())).first()
        if row is None:
            raise NotFound(f"connection {name} does not exist")
        return row

    def create(self, c: Connection) -> Connection:
        name, values = _check(c, self.ctx.secrets)
        at = now_ms()
        with self._write() as conn:
            try:
                conn.execute(insert(ConnectionRow).values(name=name, created_at=at, updated_at=at, **values))
            except IntegrityError:
                raise AlreadyExists(f"connection {name} already exists") from None
            self._audit(conn, "CREATE_CONNECTION", DEFAULT_CATALOG, None, name, type=c.connection_type)
        return self.get(name)

    def get(self, name: str, *, secrets: bool = False) -> Connection:
        with self._read() as conn:
            row = self._row(conn, name)
        return _connection(row, self.ctx.secrets if secrets else None)

    def list(self, connection_type: str | None = None) -> list[Connection]:
        query = select(ConnectionRow).order_by(ConnectionRow.name)
        if connection_type:
            query = query.where(ConnectionRow.connection_type == connection_type)
        with self._read() as conn:
            return [_connection(r, None) for r in conn.execute(query).all()]

    def update(self, name: str, c: Connection) -> Connection:
        """Replace connection `name`'s definition (it keeps its name); secrets sent back masked are kept."""
        with self._write() as conn:
            row = self._row(conn, name)
            _, values = _check(Connection(row.name, c.connection_type, c.properties, c.description),
                               self.ctx.secrets, codec.loads(row.properties))  # fmt: skip
            conn.execute(update(ConnectionRow).where(ConnectionRow.id == row.id).values(updated_at=now_ms(), **values))
            self._audit(conn, "ALTER_CONNECTION", DEFAULT_CATALOG, None, row.name, type=c.connection_type)
        return self.get(row.name)

    def delete(self, name: str) -> None:
        with self._write() as conn:
            row = self._row(conn, name)
            conn.execute(delete(ConnectionRow).where(ConnectionRow.id == row.id))
            self._audit(conn, "DROP_CONNECTION", DEFAULT_CATALOG, None, row.name)


def stored_secrets(conn, transform=None) -> list[str]:
    """The secret properties of every connection as stored; with `transform`, each rewritten as
    transform(value) (encryption.py: rotation and the upgrade of plain-text catalogs)."""
    seen = []
    for cid, text in conn.execute(select(ConnectionRow.id, ConnectionRow.properties)).all():
        props = codec.loads(text)
        secret = {k: v for k, v in props.items() if is_secret(k) and isinstance(v, str)}
        seen.extend(secret.values())
        if transform is not None:
            new = {k: transform(v) for k, v in secret.items()}
            if new != secret:
                conn.execute(update(ConnectionRow).where(ConnectionRow.id == cid)
                             .values(properties=codec.dumps({**props, **new})))  # fmt: skip
    return seen
