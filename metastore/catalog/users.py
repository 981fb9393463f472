"""Users of the console and JSON API: hashed passwords, roles, API tokens, per-database grants, console
sessions and the throttling of failed logins.

Roles: `viewer` reads, `editor` also changes catalog objects and starts runs, `admin` also manages users.
A user with `databases=None` sees every database; otherwise only the databases listed (admins see all).
Passwords are hashed with werkzeug.security; API tokens are random secrets of which only the SHA-256 is
stored (they carry 256 bits of entropy, a slow hash adds nothing).

Sessions: a console login is a row of `web_sessions` keyed by the SHA-256 of a random secret the cookie
carries, so a session ends server-side by deleting its row: at logout, when the user's password, role or
databases change, when the user is deleted, and with `mortar user logout NAME` (`end_sessions`).

Throttling: failed attempts are counted per key in `login_failures` ("user:<name>", "addr:<ip>" for the
login form, "token:<ip>" for unknown API tokens), so every web server on the same storage sees the same
counts. `begin_attempt` counts an attempt *before* the password is checked (so parallel requests cannot
get past the limit); the attempt that reaches the limit is still checked, later ones are refused until
the lock-out ends, whatever the password. A successful login clears its user's count and takes its own
attempt back from the other keys (`attempt_succeeded`).
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog.base import Area, now_ms
from metastore.catalog.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from metastore.catalog.names import check_name
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import (
    NAME,
    LoginFailureRow,
    WebGrantRow,
    WebSecretRow,
    WebSessionRow,
    WebTokenRow,
    WebUserRow,
)

ROLES = ("admin", "editor", "viewer")
MIN_PASSWORD = 8
TOKEN_PREFIX = "mortar_"
SESSION_IDLE_MS = 7 * 24 * 3600 * 1000  # a session not used for a week has ended
SESSION_TOUCH_MS = 60_000  # last_seen_at is written at most once a minute


@dataclass(slots=True)
class User:
    name: str
    role: str
    databases: list[str] | None = None  # None: every database
    created_at: int = 0  # ms
    updated_at: int = 0  # ms
    id: int = 0

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
                before = self._user(conn, row).databases
                self._set_grants(conn, row.id, databases)
                if before == databases:
                    values.pop("all_databases")
            if values:  # what the user may do changed: their sessions end (tokens stay)
                self._end_sessions(conn, row.id)
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
        """Delete a user with its tokens and sessions; the last admin cannot be deleted (Conflict)."""
        with self._write() as conn:
            row = self._row(conn, name, for_update=True)
            if row.role == "admin" and self._admins(conn) <= 1:
                raise Conflict(f"user {row.name} is the last admin and cannot be deleted")
            self._end_sessions(conn, row.id)
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

    # --- console sessions ------------------------------------------------------------------------------

    @staticmethod
    def _end_sessions(conn: Connection, user_id: int) -> int:
        return conn.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id)).rowcount

    def create_session(self, user_id: int, address: str | None = None) -> str:
        """A new session of user `user_id`; returns its secret (for the cookie: only its hash is kept).
        Sessions unused for SESSION_IDLE_MS are removed on the way."""
        secret = secrets.token_urlsafe(32)
        at = now_ms()
        with self._write() as conn:
            conn.execute(delete(WebSessionRow).where(WebSessionRow.last_seen_at < at - SESSION_IDLE_MS))
            conn.execute(insert(WebSessionRow).values(id_hash=_hash_token(secret), user_id=user_id, created_at=at,
                                                      last_seen_at=at, address=(address or None) and address[:64]))  # fmt: skip
        return secret

    def user_by_session(self, secret) -> User | None:
        """The user of the live session `secret`, or None (ended, expired or never issued). One look-up by
        primary key; records the session's last use at most once a minute."""
        if not isinstance(secret, str) or not secret or len(secret) > 200:
            return None
        digest = _hash_token(secret)
        at = now_ms()
        with self._read() as conn:
            found = conn.execute(
                select(WebSessionRow.last_seen_at.label("session_seen"), WebUserRow)
                .join(WebUserRow, WebUserRow.id == WebSessionRow.user_id)
                .where(WebSessionRow.id_hash == digest)
            ).first()
            if found is None or at - found.session_seen > SESSION_IDLE_MS:
                return None
            user = self._user(conn, found)
        if at - found.session_seen > SESSION_TOUCH_MS:
            with self._write() as conn:
                conn.execute(
                    update(WebSessionRow).where(WebSessionRow.id_hash == digest).values(last_seen_at=at)
                )
        return user

    def end_session(self, secret) -> None:
        """End the session `secret` (logout); nothing when it has ended already."""
        if isinstance(secret, str) and secret:
            with self._write() as conn:
                conn.execute(delete(WebSessionRow).where(WebSessionRow.id_hash == _hash_token(secret)))

    def end_sessions(self, name: str) -> int:
        """End every session of user `name` (its API tokens stay); returns how many there were."""
        with self._write() as conn:
            row = self._row(conn, name)
            n = self._end_sessions(conn, row.id)
            self._audit_user(conn, "END_SESSIONS", row.name, sessions=n)
        return n

    def session_count(self, name: str) -> int:
        with self._read() as conn:
            row = self._row(conn, name)
            return conn.execute(
                select(func.count()).select_from(WebSessionRow).where(WebSessionRow.user_id == row.id,
                                                                      WebSessionRow.last_seen_at >= now_ms() - SESSION_IDLE_MS)
            ).scalar()  # fmt: skip

    # --- throttling of failed logins ------------------------------------------------------------------

    @staticmethod
    def login_keys(name, address: str | None) -> list[str]:
        """The throttling keys of a login attempt: its user name and its client address."""
        name = name.lower() if isinstance(name, str) else ""
        return [f"user:{name}"[:NAME], f"addr:{address or '-'}"[:NAME]]

    def begin_attempt(self, keys: list[str], max_failures: int, lockout_ms: int) -> int:
        """Count one attempt under each of `keys`, before its credential is checked. Returns 0 when the
        attempt may go on, else the milliseconds until the lock-out ends (then nothing is counted).
        `max_failures` attempts within `lockout_ms` lock every key that reached it for `lockout_ms`."""
        for tries in range(3):
            try:
                return self._begin_attempt(keys, max(1, max_failures), max(0, int(lockout_ms)))
            except IntegrityError:  # another server inserted the same key meanwhile: count again
                if tries == 2:
                    raise
        return 0  # unreachable

    def _begin_attempt(self, keys: list[str], max_failures: int, lockout_ms: int) -> int:
        at = now_ms()
        with self._write() as conn:
            rows = {r.key: r for r in conn.execute(
                select(LoginFailureRow).where(LoginFailureRow.key.in_(keys)).with_for_update())}  # fmt: skip
            wait = max((r.locked_until - at for r in rows.values() if r.locked_until and r.locked_until > at),
                       default=0)  # fmt: skip
            if wait:
                return wait
            for key in keys:
                row = rows.get(key)
                if row is None:
                    failures = 1
                    conn.execute(insert(LoginFailureRow).values(key=key, failures=1, first_at=at))
                elif (row.locked_until is not None) or row.first_at < at - lockout_ms:  # a new window
                    failures = 1
                    conn.execute(update(LoginFailureRow).where(LoginFailureRow.key == key)
                                 .values(failures=1, first_at=at, locked_until=None))  # fmt: skip
                else:
                    failures = row.failures + 1
                    conn.execute(
                        update(LoginFailureRow).where(LoginFailureRow.key == key).values(failures=failures)
                    )
                if failures >= max_failures:
                    conn.execute(update(LoginFailureRow).where(LoginFailureRow.key == key)
                                 .values(locked_until=at + lockout_ms))  # fmt: skip
                    self._audit(conn, "LOGIN_LOCKOUT", DEFAULT_CATALOG, None, key, failures=failures,
                                lockout_s=lockout_ms / 1000)  # fmt: skip
            if random.random() < 0.02:  # now and then, forget windows long over
                conn.execute(delete(LoginFailureRow).where(
                    LoginFailureRow.first_at < at - 2 * lockout_ms,
                    or_(LoginFailureRow.locked_until.is_(None), LoginFailureRow.locked_until < at),
                    LoginFailureRow.key.not_in(keys)))  # fmt: skip
        return 0

    def attempt_succeeded(self, keys: list[str], max_failures: int) -> None:
        """The attempt counted by `begin_attempt(keys)` succeeded: its user's count (the first key) is
        cleared; the other keys (the address) get that attempt back."""
        if not keys:
            return
        with self._write() as conn:
            conn.execute(delete(LoginFailureRow).where(LoginFailureRow.key == keys[0]))
            others = keys[1:]
            if others:
                conn.execute(update(LoginFailureRow).where(LoginFailureRow.key.in_(others),
                                                           LoginFailureRow.failures > 0)
                             .values(failures=LoginFailureRow.failures - 1))  # fmt: skip
                conn.execute(update(LoginFailureRow).where(
                    LoginFailureRow.key.in_(others),
                    and_(LoginFailureRow.locked_until.is_not(None), LoginFailureRow.failures < max(1, max_failures)),
                ).values(locked_until=None))  # fmt: skip

    # --- secrets of the web layer --------------------------------------------------------------------

    def secret(self, name: str) -> str:
        """The secret `name`, generated on first use and the same for every web server on this storage;
        stored encrypted (encryption.py)."""
        with self._read() as conn:
            value = conn.execute(select(WebSecretRow.value).where(WebSecretRow.name == name)).scalar()
        if value is not None:
            return self.ctx.secrets.decrypt(value)
        try:
            with self._write() as conn:
                value = conn.execute(select(WebSecretRow.value).where(WebSecretRow.name == name)).scalar()
                if value is None:
                    value = secrets.token_hex(32)
                    conn.execute(insert(WebSecretRow).values(name=name, value=self.ctx.secrets.encrypt(value)))
        except IntegrityError:  # another server made it meanwhile
            with self._read() as conn:
                value = conn.execute(select(WebSecretRow.value).where(WebSecretRow.name == name)).scalar()
        return self.ctx.secrets.decrypt(value)
