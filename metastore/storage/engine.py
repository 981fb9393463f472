"""Engine setup for SQLite (WAL), PostgreSQL and MySQL/MariaDB, and schema creation/upgrade at start."""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for `url`; plain driver names get the driver Mortar installs (psycopg 3, PyMySQL)."""
    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    elif u.drivername in ("mysql", "mariadb"):
        u = u.set(drivername="mysql+pymysql")
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args={"check_same_thread": False, "timeout": 60})
        _configure_sqlite(engine)
        return engine
    connect_args = {}
    if u.get_backend_name() == "postgresql" and "options" not in u.query:
        # no JIT compilation: the catalog's statements are short, and PostgreSQL's cost estimate for one with
        # a range of partition names can pass jit_above_cost, adding ~6 ms of compiling to a 1 ms statement
        connect_args["options"] = "-c jit=off"
    engine = create_engine(u, pool_size=pool_size, max_overflow=20, connect_args=connect_args)
    _ping_idle_connections(engine)
    return engine


IDLE_PING_S = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle for more than IDLE_PING_S.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip that doubled the cost of a
    get_table on PostgreSQL. Connections that went stale while idle (the database restarted, a firewall
    dropped them) are still replaced before use; one that dies while in use fails its statement, and
    SQLAlchemy then replaces every connection of the pool."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
            dbapi_conn.rollback()  # the ping may have begun a transaction (psycopg): leave none open
        except engine.dialect.loaded_dbapi.Error as e:
            if engine.dialect.is_disconnect(e, dbapi_conn, None):
                raise DisconnectionError("connection found dead after being idle") from e
            raise


def _configure_sqlite(engine: Engine) -> None:
    """WAL for concurrent readers; transactions begun explicitly so writers can take the lock up front.

    pysqlite's own transaction handling begins lazily (DEFERRED) which turns two concurrent
    read-then-write transactions into a deadlock error; `write_transaction` begins IMMEDIATE instead.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        # a checkpoint (copying the log into the database file, then two fsyncs) is paid by the commit that
        # passes the threshold: at SQLite's default (1,000 pages, 4 MB) every other add_partitions of 1,000
        # partitions (~2.5 MB of log each); at 64 MB, one in twenty-five
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection):
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        # SQLAlchemy's reset after an autocommit read turns pysqlite's own transaction handling back on
        conn.connection.dbapi_connection.isolation_level = None
        conn.exec_driver_sql(f"BEGIN {'IMMEDIATE' if options.get('write') else 'DEFERRED'}")


WAL_AUTOCHECKPOINT = 16384  # log pages (64 MB of 4 KB pages) after which a commit checkpoints itself


@contextmanager
def write_transaction(engine: Engine):
    """A connection in a transaction meant to write: committed on success, rolled back on error."""
    with engine.connect() as conn:
        conn = conn.execution_options(write=True)
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine):
    """A connection for reads. On a database server, in autocommit mode: each statement sees what is
    committed, without the BEGIN and COMMIT round trips a transaction adds to every call (measured:
    get_table 0.42 ms instead of 0.58 ms on PostgreSQL). SQLite has no round trips to save, and
    resetting a connection's autocommit costs more there (0.17 ms instead of 0.12 ms): a plain
    deferred transaction."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            with conn.begin():
                yield conn
        else:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")


def head_revision() -> str:
    """The newest migration's id, read from the migration files (importing Alembic costs more than a
    server start should)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text()
        revisions.update(re.findall(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", text, re.M))
        parents.update(re.findall(r"^down_revision\s*=\s*['\"]([^'\"]+)['\"]", text, re.M))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except DBAPIError:
        return None


def upgrade_schema(engine: Engine) -> None:
    """Create the schema, or bring it to the newest migration; safe to run from many processes."""
    if current_revision(engine) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
