"""Shared fixtures: a real `mortar metastore` process on SQLite and on PostgreSQL, and clients for it.

PostgreSQL is expected on 127.0.0.1:5432 (trust auth); each test session creates its own databases and
drops them afterwards. Without PostgreSQL the PostgreSQL cases are skipped, except under CI=true where
they fail: CI must run them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("MORTAR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# what the tests' crawlers and job scripts may reach (the allowed_paths setting; workers inherit it): their
# tmp folders, the made-up /data paths of definition tests, and the S3 / MinIO endpoints of the S3 tests.
# tests/test_crawler_security.py sets its own.
os.environ.setdefault("MORTAR_ALLOWED_PATHS", ",".join(
    [__import__("tempfile").gettempdir(), "/data", "s3://", "http://127.0.0.1:9000/"]))  # fmt: skip
BACKENDS = ["sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


class PostgresDatabases:
    """Creates throw-away PostgreSQL databases and drops them at the end of the session."""

    def __init__(self):
        self.created: list[str] = []

    def create(self) -> str:
        try:
            conn = _pg_admin()
        except Exception as e:  # noqa: BLE001
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}")
            pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}")
        name = unique("mortar_test")
        with conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        with _pg_admin() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


def database_url(backend: str, tmp: Path, pg_databases: PostgresDatabases) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'catalog.db'}"
    return pg_databases.create()


@dataclass
class RunningMetastore:
    backend: str
    host: str
    port: int
    database_url: str
    warehouse: Path
    process: subprocess.Popen
    log: Path

    @property
    def uri(self) -> str:
        return f"thrift://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None


def redis_url(db: int) -> str:
    """A flushed Redis database for a test module's broker (each module its own number); skipped without
    Redis, except under CI=true where it fails: CI must run them."""
    import redis

    url = f"redis://127.0.0.1:6379/{db}"
    try:
        redis.Redis.from_url(url).flushdb()
    except Exception as e:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable: {e}")
        pytest.skip(f"Redis is not reachable: {e}")
    return url


def wait_for_port(proc: subprocess.Popen, port: int, log: Path, what: str, timeout: float = 60) -> None:
    """Wait until `proc` accepts connections on 127.0.0.1:`port`; if it exits or never does, kill it and
    raise with its log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError(f"{what} did not start:\n{log.read_text()}")


def start_metastore(backend: str, tmp: Path, url: str, *extra: str) -> RunningMetastore:
    port = free_port()
    warehouse = tmp / "warehouse"
    log = tmp / "metastore.log"
    cmd = [sys.executable, "-m", "mortar.cli", "metastore", "--host", "127.0.0.1", "--port", str(port),
           "--database-url", url, "--warehouse", str(warehouse), *extra]  # fmt: skip
    env = {**os.environ, "MORTAR_LOCK_TIMEOUT_S": os.environ.get("MORTAR_LOCK_TIMEOUT_S", "300")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    wait_for_port(proc, port, log, "metastore")
    return RunningMetastore(backend, "127.0.0.1", port, url, warehouse, proc, log)


def stop_metastore(ms: RunningMetastore) -> None:
    ms.process.terminate()
    try:
        ms.process.wait(10)
    except subprocess.TimeoutExpired:
        ms.process.kill()


@pytest.fixture(scope="module", params=BACKENDS)
def metastore(request, tmp_path_factory, pg_databases):
    """A running metastore server (one per test module and storage backend)."""
    tmp = tmp_path_factory.mktemp(f"ms-{request.param}")
    ms = start_metastore(request.param, tmp, database_url(request.param, tmp, pg_databases))
    yield ms
    stop_metastore(ms)


@pytest.fixture
def hms(metastore):
    """An hmsclient connection to the running metastore."""
    from hmsclient import hmsclient

    client = hmsclient.HMSClient(host=metastore.host, port=metastore.port)
    client.open()
    yield client
    client.close()
