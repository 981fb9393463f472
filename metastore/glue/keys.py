"""Access keys of the Glue API: an id (`MKIA...`, public) and a secret a user signs requests with (SigV4).

Verifying a signature needs the secret itself, so it is stored encrypted with the key of secrets at rest
(encryption.py), never hashed; it is shown once, when made. A key belongs to a Mortar user: requests it
signs act as that user, with the user's role and database grants.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update

from metastore.catalog.base import Area, Sql, now_ms
from metastore.catalog.encryption import register_column
from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.catalog.users import User, Users
from metastore.storage.models import NAME, GlueAccessKeyRow, WebGrantRow, WebUserRow

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
        """(the owner, the secret) of a key, or None if there is no such key. Every signed request asks, and
        each asks storage (one statement: the key, its user and the user's grants), so that a deleted key, a
        deleted user or a changed role or grant counts from the next request on, whichever process changed
        it; only what follows from the row read is kept (the secret decrypted from its ciphertext, the user
        made from its row). Records the key's last use (once a minute at most)."""
        if not isinstance(access_key_id, str) or not access_key_id or len(access_key_id) > 32:
            return None
        rows = self._fast_read(lambda r: r.all(_KEY_SQL, {"k": access_key_id}), single=True)
        if not rows:
            return None
        found = rows[0]
        state = (found.uid, found.name, found.role, bool(found.all_databases), found.created_at, found.updated_at,
                 None if found.all_databases else tuple(r.db_name for r in rows if r.db_name is not None))  # fmt: skip
        user = _USERS.get(state)
        if user is None:
            if len(_USERS) >= _KEPT:
                _USERS.clear()
            user = _USERS[state] = User(found.name, found.role, None if state[6] is None else list(state[6]),
                                        found.created_at, found.updated_at, found.uid)  # fmt: skip
        secret = _SECRETS.get(found.secret)
        if secret is None:
            secret = self.ctx.secrets.decrypt(found.secret)
            if len(_SECRETS) >= _KEPT:
                _SECRETS.clear()
            _SECRETS[found.secret] = secret
        at = now_ms()
        if found.last_used_at is None or at - found.last_used_at > 60_000:
            with self._write() as conn:
                conn.execute(update(GlueAccessKeyRow).where(GlueAccessKeyRow.id == found.id)
                             .values(last_used_at=at))  # fmt: skip
        return user, secret


# What follows from a stored row alone, kept by that row's content: secrets by their ciphertext (a rotated
# key of secrets at rest or a new secret is another ciphertext), users by (id, name, role, grants, times)
_KEPT = 10_000
_SECRETS: dict[str, str] = {}
_USERS: dict[tuple, User] = {}

_KEY_SQL = Sql(select(GlueAccessKeyRow.id, GlueAccessKeyRow.secret, GlueAccessKeyRow.last_used_at,
                      WebUserRow.id.label("uid"), WebUserRow.name, WebUserRow.role, WebUserRow.all_databases,
                      WebUserRow.created_at, WebUserRow.updated_at, WebGrantRow.db_name)
               .join(WebUserRow, WebUserRow.id == GlueAccessKeyRow.user_id)
               .outerjoin(WebGrantRow, WebGrantRow.user_id == WebUserRow.id)
               .where(GlueAccessKeyRow.access_key_id == bindparam("k"))
               .order_by(WebGrantRow.db_name), named=True)  # fmt: skip
