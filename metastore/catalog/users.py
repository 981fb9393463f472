"""Users of the console and JSON API: hashed passwords, roles, API tokens and per-database grants.

Roles: `viewer` reads, `editor` also changes catalog objects and starts runs, `admin` also manages users.
A user with `databases=None` sees every database; otherwise only the databases listed (admins see all).
Passwords are hashed with werkzeug.security; API tokens are random secrets of which only the SHA-256 is
stored (they carry 256 bits of entropy, a slow hash adds nothing).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog.base import Area, now_ms
from metastore.catalog.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import NAME, WebGrantRow, WebSecretRow, WebTokenRow, WebUserRow

ROLES = ("admin", "editor", "viewer")
MIN_PASSWORD = 8
TOKEN_PREFIX = "mortar_"


@dataclass(slots=True)
class User:
    name: str
    role: str
    databases: list[str] | None = None  # None: every database
    created_at: int = 0  # ms
    updated_at: int = 0  # ms
    id: int = 0

    def can_see(self, db: str) -> bool:
        return self.databases is None or self.role == "admin" or db.lower() in self.databases

    @property
    def can_edit(self) -> bool:
        return self.role in ("admin", "editor")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(slots=True)
class ApiToken:
    id: int
    user: str
    name: str
    prefix: str
    created_at: int
    last_used_at: int | None = None


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def _check_password(user: str, password) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or len(password) > 1024:
        raise InvalidInput(f"the password of user {user} must have {MIN_PASSWORD} to 1024 characters")
    return password


def _check_databases(databases) -> list[str] | None:
    if databases is None:
        return None
    if isinstance(databases, str) or not isinstance(databases, list | tuple | set):
        raise InvalidInput("databases must be a list of database names, or null for every database")
    if not all(isinstance(d, str) for d in databases):
        raise InvalidInput("databases must be a list of database names (text)")
    return sorted({check_name("database", d) for d in databases})


def _hash_password(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password)


class Users(Area):
    """Users, their grants and tokens. Each public method is one transaction; changes are audited (object:
    `user:<name>`), never with passwords or tokens in the record."""

    def _audit_user(self, conn: Connection, action: str, name: str, **details) -> None:
        self._audit(conn, action, DEFAULT_CATALOG, None, f"user:{name}"[:NAME], **details)

    @staticmethod
    def _row(conn: Connection, name: str, for_update: bool = False):
        query = select(WebUserRow).where(WebUserRow.name == (name or "").lower())
        row = conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound(f"user {name} does not exist")
        return row

    @staticmethod
    def _user(conn: Connection, row) -> User:
        databases = None
        if not row.all_databases:
            databases = sorted(
                conn.execute(select(WebGrantRow.db_name).where(WebGrantRow.user_id == row.id)).scalars()
            )
        return User(row.name, row.role, databases, row.created_at, row.updated_at, row.id)

    @staticmethod
    def _set_grants(conn: Connection, user_id: int, databases: list[str] | None) -> None:
        conn.execute(delete(WebGrantRow).where(WebGrantRow.user_id == user_id))
        if databases:
            conn.execute(insert(WebGrantRow), [{"user_id": user_id, "db_name": d} for d in databases])

    def create(
        self, name: str, password: str, role: str = "viewer", databases: list[str] | None = None
    ) -> User:
        if not isinstance(name, str):
            raise InvalidInput(f"user name {name!r} is not text")
        name = check_name("user", name)
        _check_role(role)
        _check_password(name, password)
        databases = _check_databases(databases)
        hashed = _hash_password(password)
        with self._write() as conn:
            if conn.execute(select(WebUserRow.id).where(WebUserRow.name == name)).first() is not None:
                raise AlreadyExists(f"user {name} already exists")
            at = now_ms()
            try:
                uid = conn.execute(
                    insert(WebUserRow).values(name=name, password_hash=hashed, role=role,
                                              all_databases=databases is None, created_at=at, updated_at=at)
                ).inserted_primary_key[0]  # fmt: skip
            except IntegrityError:
                raise AlreadyExists(f"user {name} already exists") from None
            self._set_grants(conn, uid, databases)
            self._audit_user(conn, "CREATE_USER", name, role=role, databases=databases)
            return self._user(conn, self._row(conn, name))

    def get(self, name: str) -> User:
        with self._read() as conn:
            return self._user(conn, self._row(conn, name))

    def get_by_id(self, user_id: int) -> User | None:
        with self._read() as conn:
            row = conn.execute(select(WebUserRow).where(WebUserRow.id == user_id)).first()
            return None if row is None else self._user(conn, row)

    def list(self) -> list[User]:
        with self._read() as conn:
            rows = conn.execute(select(WebUserRow).order_by(WebUserRow.name)).all()
            grants: dict[int, list[str]] = {}
            for uid, db in conn.execute(
                select(WebGrantRow.user_id, WebGrantRow.db_name).order_by(WebGrantRow.db_name)
            ):
                grants.setdefault(uid, []).append(db)
        return [User(r.name, r.role, None if r.all_databases else grants.get(r.id, []), r.created_at,
                     r.updated_at, r.id) for r in rows]  # fmt: skip

    def count(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(WebUserRow)).scalar()

    _UNSET = object()

    def update(self, name: str, *, role: str | None = None, password: str | None = None,
               databases=_UNSET) -> User:  # fmt: skip
        """Change role, password and/or databases (None: every database) of user `name`. The last admin
        cannot lose the admin role (Conflict)."""
        if role is not None:
            _check_role(role)
        if password is not None:
            _check_password(name, password)
        values: dict = {}
        if databases is not self._UNSET:
            databases = _check_databases(databases)
            values["all_databases"] = databases is None
        hashed = _hash_password(password) if password is not None else None
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            if role is not None and role != row.role:
                if row.role == "admin" and self._admins(conn) <= 1:
                    raise Conflict(f"user {row.name} is the last admin: the role cannot change")
                values["role"] = role
            if hashed is not None:
                values["password_hash"] = hashed
            conn.execute(
                update(WebUserRow).where(WebUserRow.id == row.id).values(updated_at=now_ms(), **values)
            )
            if "all_databases" in values:
                self._set_grants(conn, row.id, databases)
            changed = sorted(k if k != "all_databases" else "databases" for k in values)
            self._audit_user(conn, "UPDATE_USER", row.name, changed=["password" if c == "password_hash" else c
                                                                      for c in changed])  # fmt: skip
            return self._user(conn, self._row(conn, row.name))

    @staticmethod
    def _admins(conn: Connection) -> int:
        return conn.execute(
            select(func.count()).select_from(WebUserRow).where(WebUserRow.role == "admin")
        ).scalar()

    def delete(self, name: str) -> None:
        """Delete a user with its tokens; the last admin cannot be deleted (Conflict)."""
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            if row.role == "admin" and self._admins(conn) <= 1:
                raise Conflict(f"user {row.name} is the last admin and cannot be deleted")
            conn.execute(delete(WebUserRow).where(WebUserRow.id == row.id))
            self._audit_user(conn, "DELETE_USER", row.name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs, else None (no hint which part was wrong)."""
        from werkzeug.security import check_password_hash

        if not isinstance(name, str) or not isinstance(password, str):
            return None
        with self._read() as conn:
            row = conn.execute(select(WebUserRow).where(WebUserRow.name == name.lower())).first()
            if row is None:
                _hash_password(password)  # same work whether the user exists or not
                return None
            if not check_password_hash(row.password_hash, password):
                return None
            return self._user(conn, row)

    # --- API tokens -----------------------------------------------------------------------------------

    def create_token(self, user: str, name: str) -> tuple[ApiToken, str]:
        """A new token of `user`; returns it and its secret (shown once: only its hash is kept)."""
        if not isinstance(name, str) or not name.strip() or len(name) > NAME:
            raise InvalidInput(f"token name {name!r} must be text of 1 to {NAME} characters")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = secret[: len(TOKEN_PREFIX) + 6]
        with self._write() as conn:
            row = self._row(conn, user)
            at = now_ms()
            tid = conn.execute(
                insert(WebTokenRow).values(user_id=row.id, name=name.strip(), prefix=prefix,
                                           token_hash=_hash_token(secret), created_at=at)
            ).inserted_primary_key[0]  # fmt: skip
            self._audit_user(conn, "CREATE_TOKEN", row.name, token_id=tid, token_name=name.strip())
        return ApiToken(tid, row.name, name.strip(), prefix, at), secret

    def tokens(self, user: str) -> list[ApiToken]:
        with self._read() as conn:
            row = self._row(conn, user)
            rows = conn.execute(
                select(WebTokenRow).where(WebTokenRow.user_id == row.id).order_by(WebTokenRow.id)
            ).all()
        return [ApiToken(r.id, row.name, r.name, r.prefix, r.created_at, r.last_used_at) for r in rows]

    def delete_token(self, user: str, token_id: int) -> None:
        with self._write() as conn:
            row = self._row(conn, user)
            done = conn.execute(
                delete(WebTokenRow).where(WebTokenRow.id == token_id, WebTokenRow.user_id == row.id)
            ).rowcount
            if not done:
                raise NotFound(f"token {token_id} of user {row.name} does not exist")
            self._audit_user(conn, "DELETE_TOKEN", row.name, token_id=token_id)

    def user_by_token(self, secret: str) -> User | None:
        """The user owning the token `secret`, or None. Records the token's last use (at most once a minute)."""
        if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        digest = _hash_token(secret)
        with self._read() as conn:
            found = conn.execute(
                select(
                    WebTokenRow.id.label("token_id"), WebTokenRow.last_used_at.label("token_used"), WebUserRow
                )
                .join(WebUserRow, WebUserRow.id == WebTokenRow.user_id)
                .where(WebTokenRow.token_hash == digest)
            ).first()
            if found is None:
                return None
            user = self._user(conn, found)
        at = now_ms()
        if found.token_used is None or at - found.token_used > 60_000:
            with self._write() as conn:
                conn.execute(
                    update(WebTokenRow).where(WebTokenRow.id == found.token_id).values(last_used_at=at)
                )
        return user

    # --- secrets of the web layer --------------------------------------------------------------------

    def secret(self, name: str) -> str:
        """The secret `name`, generated on first use and the same for every web server on this storage."""
        with self._read() as conn:
            value = conn.execute(select(WebSecretRow.value).where(WebSecretRow.name == name)).scalar()
        if value is not None:
            return value
        try:
            with self._write() as conn:
                value = conn.execute(select(WebSecretRow.value).where(WebSecretRow.name == name)).scalar()
                if value is None:
                    value = secrets.token_hex(32)
                    conn.execute(insert(WebSecretRow).values(name=name, value=value))
        except IntegrityError:  # another server made it meanwhile
            with self._read() as conn:
                value = conn.execute(select(WebSecretRow.value).where(WebSecretRow.name == name)).scalar()
        return value
