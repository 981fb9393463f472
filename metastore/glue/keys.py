"""Access keys of the Glue API: an id (`MKIA...`, public) and a secret a user signs requests with (SigV4).

Verifying a signature needs the secret itself, so it is stored encrypted with the key of secrets at rest
(encryption.py), never hashed; it is shown once, when made. A key belongs to a Mortar user: requests it
signs act as that user, with the user's role and database grants.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from metastore.catalog.base import Area, now_ms
from metastore.catalog.encryption import register_column
from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.catalog.users import User, Users
from metastore.storage.models import NAME, GlueAccessKeyRow, WebUserRow

KEY_PREFIX = "MKIA"
_ALPHABET = string.ascii_uppercase + string.digits

register_column(GlueAccessKeyRow.__table__, "access_key_id", "secret")


@dataclass(slots=True)
class AccessKey:
    access_key_id: str
    user: str
    description: str | None
    created_at: int  # ms
    last_used_at: int | None = None


def _new_id() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))


class AccessKeys(Area):
    """Create, list, delete access keys; look one up to verify a signature. Changes are audited on the user."""

    def create(self, user: str, description: str | None = None) -> tuple[AccessKey, str]:
        """A new key of `user`: (the key, its secret). The secret is not retrievable later through any API."""
        if description is not None and (not isinstance(description, str) or len(description) > 1024):
            raise InvalidInput("an access key's description is text of at most 1024 characters")
        secret = secrets.token_urlsafe(30)
        key_id = _new_id()
        at = now_ms()
        with self._write() as conn:
            row = Users._row(conn, user)
            conn.execute(insert(GlueAccessKeyRow).values(
                access_key_id=key_id, user_id=row.id, secret=self.ctx.secrets.encrypt(secret),
                description=description, created_at=at))  # fmt: skip
            self._audit(conn, "CREATE_ACCESS_KEY", DEFAULT_CATALOG, None, f"user:{row.name}"[:NAME],
                        access_key_id=key_id)  # fmt: skip
        return AccessKey(key_id, row.name, description, at), secret

    def list(self, user: str) -> list[AccessKey]:
        with self._read() as conn:
            row = Users._row(conn, user)
            rows = conn.execute(select(GlueAccessKeyRow).where(GlueAccessKeyRow.user_id == row.id)
                                .order_by(GlueAccessKeyRow.id)).all()  # fmt: skip
        return [AccessKey(r.access_key_id, row.name, r.description, r.created_at, r.last_used_at) for r in rows]

    def delete(self, user: str, access_key_id: str) -> None:
        with self._write() as conn:
            row = Users._row(conn, user)
            done = conn.execute(delete(GlueAccessKeyRow).where(
                GlueAccessKeyRow.user_id == row.id, GlueAccessKeyRow.access_key_id == access_key_id)).rowcount  # fmt: skip
            if not done:
                raise NotFound(f"access key {access_key_id} of user {row.name} does not exist")
            self._audit(conn, "DELETE_ACCESS_KEY", DEFAULT_CATALOG, None, f"user:{row.name}"[:NAME],
                        access_key_id=access_key_id)  # fmt: skip

    def lookup(self, access_key_id: str) -> tuple[User, str] | None:
        """(the owner, the secret) of a key, or None if there is no such key. Records its last use (once a
        minute at most)."""
        if not isinstance(access_key_id, str) or not access_key_id or len(access_key_id) > 32:
            return None
        with self._read() as conn:
            found = conn.execute(
                select(GlueAccessKeyRow.id.label("key_id"), GlueAccessKeyRow.secret.label("key_secret"),
                       GlueAccessKeyRow.last_used_at.label("key_used"), WebUserRow)
                .join(WebUserRow, WebUserRow.id == GlueAccessKeyRow.user_id)
                .where(GlueAccessKeyRow.access_key_id == access_key_id)).first()  # fmt: skip
            if found is None:
                return None
            user = Users._user(conn, found)
        at = now_ms()
        if found.key_used is None or at - found.key_used > 60_000:
            with self._write() as conn:
                conn.execute(update(GlueAccessKeyRow).where(GlueAccessKeyRow.id == found.key_id)
                             .values(last_used_at=at))  # fmt: skip
        return user, self.ctx.secrets.decrypt(found.key_secret)
