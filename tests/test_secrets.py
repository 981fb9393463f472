"""Secrets at rest (metastore/catalog/encryption.py, `mortar secrets ...`), on SQLite and PostgreSQL: what an
attacker holding the database reads (with plain sqlite3/psycopg, not through Mortar) holds no password and no
session key; the catalog gives them back with the key; a wrong key is a clear error; rotation re-encrypts
every value and, once finished, the old key decrypts nothing; a catalog from before encryption is upgraded."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, update

from metastore.catalog import CatalogService
from metastore.catalog.connections import MASK, Connection
from metastore.catalog.encryption import PREFIX, SecretKeyError, Secrets, new_key
from metastore.config import Settings
from metastore.storage.models import ConnectionRow, WebSecretRow
from tests.conftest import database_url

PASSWORD = "pw-Tr0ub4dor-and-3"
KAFKA_SECRET = "kafka-sasl-secret-77"
PROPS = {"JDBC_CONNECTION_URL": "jdbc:postgresql://db/sales", "USERNAME": "etl", "PASSWORD": PASSWORD}


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch):
    monkeypatch.delenv("MORTAR_SECRET_KEY", raising=False)
    monkeypatch.delenv("MORTAR_SECRET_KEY_FILE", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, pg_databases):
    """(database URL, data dir): the catalog's storage and the folder of its key file."""
    return database_url(request.param, tmp_path, pg_databases), tmp_path / "data"


def _open(url: str, data: Path, **kw) -> CatalogService:
    return CatalogService.open(url, str(data.parent / "wh"), secrets=Secrets(key_file=data / "secret.key"), **kw)


def _everything_stored(url: str) -> str:
    """The whole database as an attacker reads it: the SQLite files' bytes, or every PostgreSQL row as text."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as conn:  # also what is still in the write-ahead log
            rows = [r for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                    for r in conn.execute(f'SELECT * FROM "{name}"')]  # fmt: skip
        files = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return files.decode("latin-1") + repr(rows)
    import psycopg

    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(str(r[0]) for n in names for r in conn.execute(f'SELECT t::text FROM "{n}" t'))


def _raw(url: str, sql: str) -> list[tuple]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def _stored_values(url: str) -> list[str]:
    """Every secret as stored: web_secrets values and connections' secret properties."""
    out = [v for (v,) in _raw(url, "SELECT value FROM web_secrets")]
    for (text,) in _raw(url, "SELECT properties FROM connections"):
        props = json.loads(text)
        out += [v for k, v in props.items() if k in ("PASSWORD", "KAFKA_SASL_PLAIN_PASSWORD", "SECRET_KEY")]
    return out


def _fill(svc: CatalogService) -> str:
    svc.connections.create(Connection("sales", "JDBC", PROPS))
    svc.connections.create(Connection("events", "KAFKA", {"KAFKA_BOOTSTRAP_SERVERS": "k:9092",
                                                          "KAFKA_SASL_PLAIN_PASSWORD": KAFKA_SECRET})) # fmt: skip
    return svc.users.secret("session")


def test_the_database_holds_no_password_nor_session_key(store):
    url, data = store
    svc = _open(url, data)
    try:
        session = _fill(svc)
        assert len(session) == 64
        dump = _everything_stored(url)
        for plain in (PASSWORD, KAFKA_SECRET, session):
            assert plain not in dump
        assert "etl" in dump and "jdbc:postgresql://db/sales" in dump  # not secret: stored as it is
        assert all(v.startswith(PREFIX) for v in _stored_values(url)) and len(_stored_values(url)) == 3
        # through the catalog, with the key: the values come back; masked unless asked for
        assert svc.connections.get("sales", secrets=True).properties == PROPS
        assert svc.connections.get("sales").properties["PASSWORD"] == MASK
        assert svc.connections.get("events", secrets=True).properties["KAFKA_SASL_PLAIN_PASSWORD"] == KAFKA_SECRET
        assert svc.users.secret("session") == session
        # an update sending the mask back keeps the secret (still encrypted); a new one is encrypted
        svc.connections.update("sales", Connection("sales", "JDBC", {**PROPS, "PASSWORD": MASK, "USERNAME": "x"}))
        assert svc.connections.get("sales", secrets=True).properties == {**PROPS, "USERNAME": "x"}
        svc.connections.update("sales", Connection("sales", "JDBC", {**PROPS, "PASSWORD": "next-pw-5150"}))
        assert svc.connections.get("sales", secrets=True).properties["PASSWORD"] == "next-pw-5150"
        assert "next-pw-5150" not in _everything_stored(url)
    finally:
        svc.ctx.engine.dispose()
    key_file = data / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = _open(url, data)  # another process with the same key file
    try:
        assert again.users.secret("session") == session
        assert again.connections.get("events", secrets=True).properties["KAFKA_SASL_PLAIN_PASSWORD"] == KAFKA_SECRET
    finally:
        again.ctx.engine.dispose()


def test_a_token_copied_into_a_new_value_is_not_decrypted(store):
    """Whoever reads the database and may define connections cannot have Mortar decrypt a copied token."""
    url, data = store
    svc = _open(url, data)
    try:
        _fill(svc)
        token = json.loads(_raw(url, "SELECT properties FROM connections WHERE name = 'sales'")[0][0])["PASSWORD"]
        svc.connections.create(Connection("copy", "JDBC", {**PROPS, "PASSWORD": token}))
        assert svc.connections.get("copy", secrets=True).properties["PASSWORD"] == token
    finally:
        svc.ctx.engine.dispose()


def test_a_wrong_key_is_a_clear_error(store, tmp_path):
    url, data = store
    svc = _open(url, data)
    try:
        _fill(svc)
    finally:
        svc.ctx.engine.dispose()
    other = _open(url, tmp_path / "elsewhere")  # a new key file is made there: not the key of these secrets
    try:
        assert other.connections.get("sales").properties["PASSWORD"] == MASK  # masked: no key needed
        with pytest.raises(SecretKeyError, match="does not decrypt with the key of key file .*elsewhere"):
            other.connections.get("sales", secrets=True)
        with pytest.raises(SecretKeyError, match="does not decrypt"):
            other.users.secret("session")
    finally:
        other.ctx.engine.dispose()


def test_the_environment_key_comes_first(tmp_path, monkeypatch):
    key = new_key()
    monkeypatch.setenv("MORTAR_SECRET_KEY", key)
    box = Secrets.from_settings(Settings(data_dir=str(tmp_path)))
    assert box.source == "MORTAR_SECRET_KEY" and box.keys() == [key]
    stored = box.encrypt("hello")
    assert Secrets(key).decrypt(stored) == "hello"
    assert not (tmp_path / "secret.key").exists()  # no key file made or read
    monkeypatch.setenv("MORTAR_SECRET_KEY", "not-a-key")
    with pytest.raises(SecretKeyError, match="MORTAR_SECRET_KEY holds something that is not a key"):
        Secrets.from_settings(Settings(data_dir=str(tmp_path)))
    monkeypatch.delenv("MORTAR_SECRET_KEY")
    chosen = tmp_path / "keys" / "mortar.key"
    box = Secrets.from_settings(Settings(data_dir=str(tmp_path), secret_key_file=str(chosen)))
    box.encrypt("x")
    assert box.key_file == chosen and stat.S_IMODE(chosen.stat().st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_a_key_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / "secret.key"
    box = Secrets(key_file=path)
    stored = box.encrypt("hello")  # made, mode 0600
    path.chmod(0o644)
    with pytest.raises(SecretKeyError, match=r"accessible to group or others \(mode 0644\).*chmod 600"):
        Secrets(key_file=path).decrypt(stored)
    path.chmod(0o600)
    assert Secrets(key_file=path).decrypt(stored) == "hello"
    path.write_text("garbage\n")
    with pytest.raises(SecretKeyError, match="holds something that is not a key"):
        Secrets(key_file=path).decrypt(stored)


def _cli(url: str, data: Path, *args: str, input: str | None = None):
    from mortar.cli import main

    env = {"MORTAR_DATA_DIR": str(data), "MORTAR_DATABASE_URL": url, "MORTAR_WAREHOUSE": str(data.parent / "wh"),
           "MORTAR_CONFIG": None}  # fmt: skip
    result = CliRunner().invoke(main, ["secrets", *args], env=env, input=input)
    return result.exit_code, result.output


def _decrypts_with(keys: list[str], values: list[str]) -> bool:
    box = Secrets(keys)
    try:
        for v in values:
            box.decrypt(v)
    except SecretKeyError:
        return False
    return True


def test_rotation_re_encrypts_everything_and_finish_drops_the_old_key(store):
    url, data = store
    for command in ([], ["status"], ["rotate"], ["generate-key"]):
        code, out = _cli(url, data, *command, "--help")
        assert code == 0 and "Usage:" in out, out
    running = _open(url, data)  # a server running across the rotation, with the key file
    try:
        session = _fill(running)
        key_file = data / "secret.key"
        old = Secrets(key_file=key_file).keys()
        before = _stored_values(url)
        code, out = _cli(url, data, "status", "--json")
        assert code == 0 and json.loads(out)["secrets"] == {"primary": 3, "older": 0, "plain": 0, "undecryptable": 0}

        code, out = _cli(url, data, "rotate")
        assert code == 0 and "3 secret(s) re-encrypted" in out, out
        keys = Secrets(key_file=key_file).keys()
        assert len(keys) == 2 and keys[1:] == old and keys[0] not in old
        after = _stored_values(url)
        assert len(after) == 3 and not set(after) & set(before)  # every row written again
        assert _decrypts_with(keys[:1], after)  # the new key alone decrypts them all
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        # the running server reads the new key file; what it writes now is under the new key
        assert running.connections.get("sales", secrets=True).properties == PROPS
        running.connections.create(Connection("later", "JDBC", {**PROPS, "PASSWORD": "later-pw"}))
        assert _decrypts_with(keys[:1], _stored_values(url))
        code, out = _cli(url, data, "status")
        assert "4 encrypted with the current key, 0 with an older key" in out and "--finish" in out, out

        code, out = _cli(url, data, "rotate", "--finish")
        assert code == 0 and "older keys removed" in out, out
        assert Secrets(key_file=key_file).keys() == keys[:1]
        final = _stored_values(url)
        assert not any(_decrypts_with(old, [v]) for v in final)  # the old key alone decrypts nothing
        assert running.users.secret("session") == session
        assert running.connections.get("later", secrets=True).properties["PASSWORD"] == "later-pw"
        for plain in (PASSWORD, KAFKA_SECRET, session, "later-pw"):
            assert plain not in _everything_stored(url)

        given = new_key()  # a key of one's choosing, read from standard input
        code, out = _cli(url, data, "rotate", "--key-stdin", input=given + "\n")
        assert code == 0 and Secrets(key_file=key_file).keys() == [given, keys[0]], out
        assert _decrypts_with([given], _stored_values(url))
        code, out = _cli(url, data, "rotate", "--key-stdin", input="nonsense\n")
        assert code == 1 and "not a key" in out and Secrets(key_file=key_file).keys() == [given, keys[0]]
    finally:
        running.ctx.engine.dispose()


def test_rotation_with_the_environment_key(store, monkeypatch):
    url, data = store
    first, second = new_key(), new_key()
    monkeypatch.setenv("MORTAR_SECRET_KEY", first)
    svc = CatalogService.open(url, str(data.parent / "wh"))  # the key of this process's settings: the variable
    try:
        session = _fill(svc)
    finally:
        svc.ctx.engine.dispose()
    assert _decrypts_with([first], _stored_values(url)) and not (data / "secret.key").exists()
    code, out = _cli(url, data, "rotate", "--key-stdin", input=second)
    assert code == 2 and "MORTAR_SECRET_KEY holds the keys" in out
    monkeypatch.setenv("MORTAR_SECRET_KEY", f"{second},{first}")
    code, out = _cli(url, data, "rotate")
    assert code == 0 and "3 secret(s) re-encrypted" in out, out
    assert _decrypts_with([second], _stored_values(url))
    monkeypatch.setenv("MORTAR_SECRET_KEY", second)
    code, out = _cli(url, data, "rotate", "--finish")
    assert code == 0, out
    assert not any(_decrypts_with([first], [v]) for v in _stored_values(url))
    svc = CatalogService.open(url, str(data.parent / "wh"))
    try:
        assert svc.users.secret("session") == session
    finally:
        svc.ctx.engine.dispose()


def test_a_catalog_from_before_encryption_is_upgraded(store):
    url, data = store
    svc = _open(url, data)
    try:  # rows as a Mortar without encryption wrote them
        with svc.ctx.engine.begin() as conn:
            conn.execute(insert(ConnectionRow).values(name="sales", connection_type="JDBC", created_at=1,
                                                      updated_at=1, properties=json.dumps(PROPS)))  # fmt: skip
            conn.execute(insert(WebSecretRow).values(name="session", value="ab" * 32))
        assert PASSWORD in _everything_stored(url)
        # read as they are until upgraded
        assert svc.connections.get("sales", secrets=True).properties == PROPS
        assert svc.users.secret("session") == "ab" * 32
        code, out = _cli(url, data, "status", "--json")
        assert json.loads(out)["secrets"]["plain"] == 2
    finally:
        svc.ctx.engine.dispose()
    svc = _open(url, data)  # opening the catalog upgrades it
    try:
        assert PASSWORD not in _everything_stored(url) and "ab" * 32 not in _everything_stored(url)
        assert all(v.startswith(PREFIX) for v in _stored_values(url))
        assert svc.connections.get("sales", secrets=True).properties == PROPS
        assert svc.users.secret("session") == "ab" * 32
        # and rotation encrypts plain text too (rows a server of the old version wrote meanwhile)
        with svc.ctx.engine.begin() as conn:
            conn.execute(update(WebSecretRow).values(value="cd" * 32))
        code, out = _cli(url, data, "rotate")
        assert code == 0 and "cd" * 32 not in _everything_stored(url), out
        assert svc.users.secret("session") == "cd" * 32
        code, out = _cli(url, data, "status", "--json")
        assert json.loads(out)["secrets"] == {"primary": 2, "older": 0, "plain": 0, "undecryptable": 0}
    finally:
        svc.ctx.engine.dispose()


def test_status_fails_when_a_secret_decrypts_with_no_key(store, tmp_path):
    url, data = store
    svc = _open(url, tmp_path / "lost")
    try:
        _fill(svc)
    finally:
        svc.ctx.engine.dispose()
    code, out = _cli(url, data, "status")
    assert code == 1 and "3 that no key decrypts" in out, out
    code, out = _cli(url, data, "rotate", "--finish")
    assert code == 1 and "does not decrypt with any key" in out, out
