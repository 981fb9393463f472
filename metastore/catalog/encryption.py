"""Secrets at rest: the key that encrypts them (kept outside the catalog), and the values it encrypts.

The key is `MORTAR_SECRET_KEY` (the key itself), else the key file (setting `secret_key_file`, default
`<data_dir>/secret.key`), made with mode 0600 on first use; a key file that group or others may read is
refused. Either holds one Fernet key per line (or, in the variable, separated by commas): the first one
encrypts, every one decrypts, so a rotation puts a new key first and keeps the old ones until it is
finished (`mortar secrets rotate`, `rotate --finish`).

The cryptography is `cryptography`'s MultiFernet (AES-128-CBC and HMAC-SHA256, authenticated). A stored
value is `PREFIX` + a Fernet token, so that values written before encryption existed are told apart:
they are read as they are and encrypted by `upgrade` (run when the catalog is opened) and by rotation.

Where secrets are stored: `web_secrets.value` (the web session-signing key and its kin), the secret
properties of connections (see `connections.is_secret`), and whatever other areas add with
`register_column`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

PREFIX = "mortar-enc:v1:"
ENV = "MORTAR_SECRET_KEY"


class SecretKeyError(RuntimeError):
    """The key is missing, unsafe or wrong, or a stored secret does not decrypt with it."""


def new_key() -> str:
    """A fresh random key (32 bytes, url-safe base64), as `mortar secrets generate-key` prints it."""
    return Fernet.generate_key().decode()


def fingerprint(key: str) -> str:
    """A short name of `key` that reveals nothing of it: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def is_encrypted(stored: str | None) -> bool:
    return isinstance(stored, str) and stored.startswith(PREFIX)


def _parse_keys(text: str, where: str) -> list[str]:
    keys = []
    lines = [line.strip() for line in text.splitlines()]
    for key in (k.strip() for line in lines if not line.startswith("#") for k in line.split(",")):
        if not key:
            continue
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"{where} holds something that is not a key (a key is 32 bytes in url-safe base64, "
                "as `mortar secrets generate-key` prints)"
            ) from None
        keys.append(key)
    if not keys:
        raise SecretKeyError(f"{where} holds no key")
    return keys


def check_file_mode(path: Path) -> None:
    """Refuse a key file that group or others may read or write."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretKeyError(
            f"secret key file {path} is accessible to group or others (mode {mode:04o}); "
            f"only its owner may read it: chmod 600 {path}"
        )


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file with `keys` (the first encrypts), atomically, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("# Mortar's secret keys: the first encrypts, all decrypt. Keep this file out of backups of\n"
                    "# the catalog and readable by its owner only. See `mortar secrets --help`.\n")  # fmt: skip
            f.write("".join(k + "\n" for k in keys))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_key_file(path: Path) -> None:
    """Make the key file with a new key unless it exists (another process may be making it now)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    write_key_file(tmp, [new_key()])
    try:
        os.link(tmp, path)  # atomic, and fails when the file exists: never a half-written key
        log.info("made a new secret key in %s", path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Loaded:
    keys: tuple[str, ...]
    multi: MultiFernet
    stamp: tuple | None  # the key file's (inode, size, mtime) when read; None for other sources


class Secrets:
    """The key ring of one process, loaded on first use, and encryption and decryption with it.

    Give the key(s) (`keys`), or a key file (`key_file`), or neither: then the key of this process's
    settings (`Settings.load()`: MORTAR_SECRET_KEY, else `secret_key_file` or `<data_dir>/secret.key`),
    looked up on first use. A key file changed by a rotation in another process is read again.
    """

    def __init__(self, keys: str | Iterable[str] | None = None, *, key_file: str | os.PathLike | None = None):
        if isinstance(keys, str):
            keys = _parse_keys(keys, "the key given")
        self._keys = list(keys) if keys is not None else None
        if self._keys is not None and not self._keys:
            raise SecretKeyError("no key given")
        self._file = Path(key_file).absolute() if key_file else None
        self._resolved = self._keys is not None or self._file is not None
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> Secrets:
        """The key of `settings`: MORTAR_SECRET_KEY when set, else its key file."""
        env = os.environ.get(ENV)
        if env and env.strip():
            return cls(_parse_keys(env, ENV))
        path = settings.secret_key_file or str(Path(settings.data_dir) / "secret.key")
        return cls(key_file=path)

    def _resolve(self) -> None:
        if self._resolved:
            return
        from metastore.config import Settings

        other = Secrets.from_settings(Settings.load())
        self._keys, self._file, self._resolved = other._keys, other._file, True

    # --- where the key comes from -----------------------------------------------------------------

    @property
    def source(self) -> str:
        """`MORTAR_SECRET_KEY` / the keys given, or the key file's path."""
        self._resolve()
        if self._file is not None:
            return f"key file {self._file}"
        return ENV if os.environ.get(ENV) else "the key given"

    @property
    def key_file(self) -> Path | None:
        self._resolve()
        return self._file

    def _stamp(self) -> tuple | None:
        try:
            st = self._file.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _load(self, create: bool = True) -> _Loaded:
        self._resolve()
        with self._lock:
            loaded = self._loaded
            if self._file is None:
                if loaded is None:
                    loaded = self._loaded = _Loaded(tuple(self._keys), _multi(self._keys), None)
                return loaded
            stamp = self._stamp()
            if loaded is not None and stamp == loaded.stamp:
                return loaded
            if stamp is None:
                if not create:
                    raise SecretKeyError(f"secret key file {self._file} does not exist")
                _create_key_file(self._file)
                stamp = self._stamp()
            check_file_mode(self._file)
            try:
                text = self._file.read_text()
            except OSError as e:
                raise SecretKeyError(f"cannot read secret key file {self._file}: {e.strerror}") from None
            keys = _parse_keys(text, f"secret key file {self._file}")
            loaded = self._loaded = _Loaded(tuple(keys), _multi(keys), stamp)
            return loaded

    def keys(self, create: bool = True) -> list[str]:
        """The keys, the one that encrypts first."""
        return list(self._load(create).keys)

    def exists(self) -> bool:
        """Whether there is a key already (a key file not yet made: False)."""
        self._resolve()
        return self._file is None or self._file.exists()

    # --- values ------------------------------------------------------------------------------------

    def encrypt(self, value: str) -> str:
        """`value` as stored: PREFIX + a token of the first key. Empty values stay empty (nothing to hide).
        A value that looks encrypted already is encrypted all the same: a token copied from another row
        must not come back decrypted."""
        if value == "":
            return value
        return PREFIX + self._load().multi.encrypt(value.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The value of `stored`; one without the prefix was written before encryption and is itself."""
        if not is_encrypted(stored):
            return stored
        token = stored[len(PREFIX):].encode()
        try:
            return self._load().multi.decrypt(token).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"a secret in the catalog does not decrypt with the key of {self.source}: the key is not the "
                "one it was encrypted with (or that key was dropped by `mortar secrets rotate --finish`)"
            ) from None

    def reencrypt(self, stored: str) -> str:
        """`stored` encrypted with the first key (plain text encrypted, other keys' tokens re-encrypted)."""
        if not is_encrypted(stored):
            return self.encrypt(stored)
        try:
            return PREFIX + self._load().multi.rotate(stored[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"a secret in the catalog does not decrypt with any key of {self.source}"
            ) from None

    def key_of(self, stored: str) -> int | None:
        """Which key (0: the first) decrypts `stored`; None when none does. Plain text: -1."""
        if not is_encrypted(stored):
            return -1
        token = stored[len(PREFIX):].encode()
        for i, key in enumerate(self._load().keys):
            try:
                Fernet(key.encode()).decrypt(token)
                return i
            except InvalidToken:
                continue
        return None


def _multi(keys: Iterable[str]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


# --- where secrets are stored -------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column whose every value is a secret: `table.value` with primary key `table.key`."""

    table: object  # a SQLAlchemy Table
    key: str
    value: str


_COLUMNS: list[Column] = []
# Secrets kept inside another value (a JSON document): a function that, given a connection and a
# transform of stored values (None: only read), yields the stored secrets and rewrites them.
_NESTED: list[Callable] = []


def register_column(table, key: str, value: str) -> None:
    """Declare that every value of `table.value` is a secret stored with `Secrets.encrypt`."""
    column = Column(table, key, value)
    if column not in _COLUMNS:
        _COLUMNS.append(column)


def register_nested(fn: Callable) -> None:
    """`fn(conn, transform)`: yields the stored secrets it finds; with `transform`, writes them transformed."""
    if fn not in _NESTED:
        _NESTED.append(fn)


def _builtin() -> None:
    from metastore.catalog import connections
    from metastore.storage.models import WebSecretRow

    register_column(WebSecretRow.__table__, "name", "value")
    register_nested(connections.stored_secrets)
    from metastore.glue import keys  # noqa: F401 - registers the secrets of Glue access keys


def _walk(conn, transform: Callable[[str], str] | None) -> list[str]:
    """Every stored secret (before `transform`); with `transform`, each one rewritten as transform(value)."""
    from sqlalchemy import select, update

    _builtin()
    seen: list[str] = []
    for col in _COLUMNS:
        t = col.table
        for key, value in conn.execute(select(t.c[col.key], t.c[col.value])).all():
            if value is None:
                continue
            seen.append(value)
            if transform is not None:
                new = transform(value)
                if new != value:
                    conn.execute(update(t).where(t.c[col.key] == key).values({col.value: new}))
    for fn in _NESTED:
        seen.extend(fn(conn, transform))
    return seen


def _rewrite(engine, transform: Callable[[str], str]) -> None:
    """Every stored secret rewritten as transform(value), in one transaction. On SQLite, what is replaced is
    also wiped from the database file (secure_delete) and the write-ahead log is emptied afterwards: the
    old values (plain text, or tokens of a retired key) must not stay readable in free pages."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        conn = conn.execution_options(write=True)

        def pragma(sql: str) -> None:  # on the driver's connection, outside any transaction
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql)
                cursor.fetchall()
            finally:
                cursor.close()

        if sqlite:
            pragma("PRAGMA secure_delete = ON")
        try:
            with conn.begin():
                _walk(conn, transform)
        finally:
            if sqlite:
                pragma("PRAGMA secure_delete = OFF")
                pragma("PRAGMA wal_checkpoint(TRUNCATE)")


def stored(engine) -> list[str]:
    """Every secret as stored (encrypted or, from before, plain)."""
    from metastore.storage.engine import read_transaction

    with read_transaction(engine) as conn:
        return _walk(conn, None)


def upgrade(engine, secrets: Secrets) -> int:
    """Encrypt the secrets still stored in plain text (a catalog from before encryption), in one
    transaction; the number encrypted. Reads only (and needs no key) when there are none."""
    if all(is_encrypted(v) or v == "" for v in stored(engine)):
        return 0
    count = 0

    def encrypt(value: str) -> str:
        nonlocal count
        if is_encrypted(value) or value == "":
            return value
        count += 1
        return secrets.encrypt(value)

    _rewrite(engine, encrypt)
    if count:
        log.info("encrypted %d secret(s) stored in plain text", count)
    return count


def reencrypt_all(engine, secrets: Secrets, *, only: Secrets | None = None) -> int:
    """Every secret re-encrypted with the first key, in one transaction (all or nothing); the number of
    values. With `only`, each is then checked to decrypt with `only`'s keys (a SecretKeyError otherwise,
    and nothing is written)."""
    count = 0

    def again(value: str) -> str:
        nonlocal count
        if value == "":
            return value
        new = secrets.reencrypt(value)
        if only is not None:
            only.decrypt(new)
        count += 1
        return new

    _rewrite(engine, again)
    return count


def census(engine, secrets: Secrets) -> dict[str, int]:
    """How the stored secrets stand: encrypted with the first key, with another key, in plain text, and
    decrypting with no key at hand."""
    out = {"primary": 0, "older": 0, "plain": 0, "undecryptable": 0}
    have_key = secrets.exists()  # no key file yet: none is made here
    for value in stored(engine):
        if value == "":
            continue
        which = secrets.key_of(value) if have_key or not is_encrypted(value) else None
        out["plain" if which == -1 else "undecryptable" if which is None else "primary" if which == 0 else "older"] += 1
    return out
