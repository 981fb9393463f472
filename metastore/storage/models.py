"""The catalog's SQL schema (SQLAlchemy 2 declarative models).

Design notes:
- Names are stored lower-cased, as HMS does; uniqueness is enforced by the database.
- Nested, rarely-queried structures (storage descriptors, parameters, statistics) are JSON text:
  one row per object keeps listings to a single query.
- Partition values are also exploded into `partition_key_values` (one row per key) so that partition
  filters compile to indexed lookups; `int_value` holds the value of integral keys for numeric comparison.
- Every mutation writes one `audit_log` row; its id doubles as the HMS notification event id.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.mysql import MEDIUMTEXT
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAME = 256  # max length of a catalog, database, table, column or function name
# Partition names and values are indexed: these lengths keep the keys under MySQL/InnoDB's 3072 bytes.
PARTITION_NAME = 750
PARTITION_VALUE = 700


def _bytewise(length: int) -> String:
    """A string column compared and ordered by code point on every database, as HMS on Derby and SQLite
    do: partition names and values sort the same everywhere, and prefix look-ups can use the index."""
    return (
        String(length)
        .with_variant(String(length, collation="C"), "postgresql")
        .with_variant(String(length, collation="utf8mb4_bin"), "mysql", "mariadb")
    )
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CatalogRow(Base):
    __tablename__ = "catalogs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    location_uri: Mapped[str] = mapped_column(Text)
    create_time: Mapped[int] = mapped_column(Integer)


class DatabaseRow(Base):
    __tablename__ = "databases"
    __table_args__ = (UniqueConstraint("catalog_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    description: Mapped[str | None] = mapped_column(Text)
    location_uri: Mapped[str | None] = mapped_column(Text)
    managed_location_uri: Mapped[str | None] = mapped_column(Text)
    owner_name: Mapped[str | None] = mapped_column(String(NAME))
    owner_type: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    create_time: Mapped[int] = mapped_column(Integer)


class TableRow(Base):
    __tablename__ = "tables"
    __table_args__ = (UniqueConstraint("database_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    database_id: Mapped[int] = mapped_column(ForeignKey("databases.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    owner: Mapped[str | None] = mapped_column(String(NAME))
    owner_type: Mapped[int | None] = mapped_column(Integer)
    table_type: Mapped[str] = mapped_column(String(64))
    create_time: Mapped[int] = mapped_column(Integer)
    last_access_time: Mapped[int] = mapped_column(Integer, default=0)
    retention: Mapped[int] = mapped_column(Integer, default=0)
    view_original_text: Mapped[str | None] = mapped_column(Text)
    view_expanded_text: Mapped[str | None] = mapped_column(Text)
    sd: Mapped[str] = mapped_column(Text)  # JSON storage descriptor, columns included
    partition_keys: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of columns
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    rewrite_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)  # schema version, see table_versions
    # changes (to a random value) with every change to the table's partitions: answers derived from the
    # partitions can be kept for as long as it stays the same (see metastore/hms/listings.py)
    partitions_version: Mapped[int] = mapped_column(BigInteger, default=0)
    # the partitions_version that `partition_chunks` holds the partitions of: the chunks are used only while
    # it equals partitions_version (any other change, or none made yet, sends readers to the partition rows)
    chunks_version: Mapped[int | None] = mapped_column(BigInteger)
    # the Table as get_table answers it (TBinaryProtocol), after a digest of the row it was made from: written
    # with each create and alter, used only while the digest matches the row (see metastore/hms/wire.py)
    encoded: Mapped[bytes | None] = mapped_column(LargeBinary)


class TableVersionRow(Base):
    """One row per schema (columns or partition keys) a table has had."""

    __tablename__ = "table_versions"
    __table_args__ = (UniqueConstraint("table_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    columns: Mapped[str] = mapped_column(Text)
    partition_keys: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(NAME))


class PartitionRow(Base):
    __tablename__ = "partitions"
    __table_args__ = (UniqueConstraint("table_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(_bytewise(PARTITION_NAME))  # "k1=v1/k2=v2", escaped like Hive
    values: Mapped[str] = mapped_column(Text)  # JSON list of strings
    create_time: Mapped[int] = mapped_column(Integer)
    last_access_time: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[str | None] = mapped_column(Text)
    # the storage descriptor without its location: usually the same text for every partition of a
    # table, which lets listings parse and convert it once (see Partitions._select)
    sd: Mapped[str] = mapped_column(Text)
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    # the Partition as listings carry it (TBinaryProtocol), written with the row (see catalog/chunks.py); NULL
    # (rows written otherwise, or whose table was renamed since) is encoded from the columns above
    encoded: Mapped[bytes | None] = mapped_column(LargeBinary)


class PartitionChunkRow(Base):
    """A table's partitions, encoded as HMS answers carry them, in runs of consecutive names (see
    metastore/catalog/chunks.py): kept in the same transaction as every change to the partition rows, so that
    a whole listing (get_partitions, get_partition_names) is a concatenation of a few rows, and a server
    process that holds a table's chunks reads again only those whose `version` changed."""

    __tablename__ = "partition_chunks"
    # covering the chunk list a reader asks for (ids, versions, counts by name): read from the index alone
    __table_args__ = (Index("ix_partition_chunks_table", "table_id", "first_name", "id", "version", "count"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(_bytewise(PARTITION_NAME))  # names sort by code point
    version: Mapped[int] = mapped_column(BigInteger)  # random, new with each content
    count: Mapped[int] = mapped_column(Integer)
    names: Mapped[bytes] = mapped_column(LargeBinary)  # list<string> elements: length (i32) + UTF-8, by name
    ends: Mapped[bytes] = mapped_column(LargeBinary)  # each partition's end offset in `parts` (i32 each)
    parts: Mapped[bytes] = mapped_column(LargeBinary)  # list<Partition> elements (TBinaryProtocol), by name


class PartitionKeyValueRow(Base):
    """Partition values exploded per key, so that filters are indexed lookups."""

    __tablename__ = "partition_key_values"
    __table_args__ = (
        Index("ix_pkv_lookup", "table_id", "key_index", "value"),
        Index("ix_pkv_int_lookup", "table_id", "key_index", "int_value"),
    )
    partition_id: Mapped[int] = mapped_column(
        ForeignKey("partitions.id", ondelete="CASCADE"), primary_key=True
    )
    key_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(_bytewise(PARTITION_VALUE))
    int_value: Mapped[int | None] = mapped_column(BigInteger)


class FunctionRow(Base):
    __tablename__ = "functions"
    __table_args__ = (UniqueConstraint("database_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    database_id: Mapped[int] = mapped_column(ForeignKey("databases.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    class_name: Mapped[str] = mapped_column(Text)
    owner_name: Mapped[str | None] = mapped_column(String(NAME))
    owner_type: Mapped[int | None] = mapped_column(Integer)
    function_type: Mapped[int] = mapped_column(Integer, default=1)
    resource_uris: Mapped[str] = mapped_column(Text, default="[]")
    create_time: Mapped[int] = mapped_column(Integer)


class TableColumnStatsRow(Base):
    __tablename__ = "table_column_stats"
    __table_args__ = (UniqueConstraint("table_id", "column_name", "engine"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    column_name: Mapped[str] = mapped_column(String(NAME))
    column_type: Mapped[str] = mapped_column(String(NAME * 4))
    engine: Mapped[str] = mapped_column(String(64), default="hive")
    data: Mapped[str] = mapped_column(Text)  # JSON: {"kind": "longStats", ...}
    last_analyzed: Mapped[int] = mapped_column(BigInteger)


class PartitionColumnStatsRow(Base):
    __tablename__ = "partition_column_stats"
    __table_args__ = (
        UniqueConstraint("partition_id", "column_name", "engine"),
        Index("ix_pcs_table", "table_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partition_id: Mapped[int] = mapped_column(ForeignKey("partitions.id", ondelete="CASCADE"))
    table_id: Mapped[int] = mapped_column(Integer)
    column_name: Mapped[str] = mapped_column(String(NAME))
    column_type: Mapped[str] = mapped_column(String(NAME * 4))
    engine: Mapped[str] = mapped_column(String(64), default="hive")
    data: Mapped[str] = mapped_column(Text)
    last_analyzed: Mapped[int] = mapped_column(BigInteger)


class LockRow(Base):
    __tablename__ = "locks"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    txn_id: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16))  # ACQUIRED, WAITING
    user: Mapped[str] = mapped_column(String(NAME))
    hostname: Mapped[str] = mapped_column(String(NAME))
    agent_info: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    acquired_at: Mapped[int | None] = mapped_column(BigInteger)
    last_heartbeat: Mapped[int] = mapped_column(BigInteger)


class LockComponentRow(Base):
    __tablename__ = "lock_components"
    __table_args__ = (Index("ix_lock_components_object", "db_name", "table_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lock_id: Mapped[int] = mapped_column(ForeignKey("locks.id", ondelete="CASCADE"), index=True)
    lock_type: Mapped[str] = mapped_column(String(32))  # SHARED_READ, SHARED_WRITE, EXCLUSIVE, ...
    level: Mapped[str] = mapped_column(String(16))  # DB, TABLE, PARTITION
    db_name: Mapped[str] = mapped_column(String(NAME))
    table_name: Mapped[str | None] = mapped_column(String(NAME))
    partition_name: Mapped[str | None] = mapped_column(String(PARTITION_NAME))
    operation: Mapped[str | None] = mapped_column(String(32))


class TransactionRow(Base):
    __tablename__ = "transactions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # OPEN, COMMITTED, ABORTED
    user: Mapped[str] = mapped_column(String(NAME))
    hostname: Mapped[str] = mapped_column(String(NAME))
    started_at: Mapped[int] = mapped_column(BigInteger)
    last_heartbeat: Mapped[int] = mapped_column(BigInteger)


class WriteIdRow(Base):
    """Write ids of ACID tables, one per (table, transaction), as Trino and Hive allocate them."""

    __tablename__ = "write_ids"
    __table_args__ = (UniqueConstraint("db_name", "table_name", "txn_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    db_name: Mapped[str] = mapped_column(String(NAME))
    table_name: Mapped[str] = mapped_column(String(NAME))
    txn_id: Mapped[int] = mapped_column(BigInteger)
    write_id: Mapped[int] = mapped_column(BigInteger)


class ConfigRow(Base):
    """Metastore configuration values visible through get_config_value / getMetaConf."""

    __tablename__ = "config"
    key: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_object", "db_name", "object_name"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    user: Mapped[str] = mapped_column(String(NAME))
    action: Mapped[str] = mapped_column(String(64))  # e.g. CREATE_TABLE, ADD_PARTITIONS
    catalog_name: Mapped[str] = mapped_column(String(NAME))
    db_name: Mapped[str | None] = mapped_column(String(NAME))
    object_name: Mapped[str | None] = mapped_column(String(NAME))
    details: Mapped[str] = mapped_column(Text, default="{}")


# --- crawlers ------------------------------------------------------------------------------------------

# Run metrics carry a (capped) list of skipped files: more than MySQL's 64 KiB TEXT may hold.
_LONG_TEXT = Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")


class CrawlerRow(Base):
    """A crawler definition; nested parts (targets, classifier names, fsspec options) are JSON text."""

    __tablename__ = "crawlers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    database_name: Mapped[str] = mapped_column(String(NAME))  # created by the first run if missing
    table_prefix: Mapped[str] = mapped_column(String(NAME), default="")
    targets: Mapped[str] = mapped_column(Text)  # JSON [{"path": ..., "exclusions": [...]}]
    classifiers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of classifier names, in order
    update_behavior: Mapped[str] = mapped_column(String(32))
    delete_behavior: Mapped[str] = mapped_column(String(32))
    recrawl_behavior: Mapped[str] = mapped_column(String(32))
    sample_size: Mapped[int | None] = mapped_column(Integer)
    combine_compatible_schemas: Mapped[bool] = mapped_column(Boolean, default=False)
    table_level: Mapped[int | None] = mapped_column(Integer)
    schedule: Mapped[str | None] = mapped_column(String(NAME))  # cron, 5 fields
    description: Mapped[str | None] = mapped_column(Text)
    storage_options: Mapped[str] = mapped_column(Text, default="{}")  # JSON fsspec options
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    updated_at: Mapped[int] = mapped_column(BigInteger)


class CrawlerRunRow(Base):
    __tablename__ = "crawler_runs"
    __table_args__ = (
        Index("ix_crawler_runs_crawler", "crawler_id", "id"),
        Index("ix_crawler_runs_state", "state", "heartbeat_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    crawler_id: Mapped[int] = mapped_column(ForeignKey("crawlers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # RUNNING, SUCCEEDED, FAILED, CANCELLED
    started_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    heartbeat_at: Mapped[int] = mapped_column(BigInteger)  # last sign of life of the worker running it
    error: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[str] = mapped_column(_LONG_TEXT, default="{}")
    trigger_name: Mapped[str | None] = mapped_column(String(NAME))  # the trigger that started it, if any
    workflow_run_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # the workflow run it is part of


class ClassifierRow(Base):
    """A custom classifier; the fields of its kind (grok pattern, JSON path, CSV options...) are JSON."""

    __tablename__ = "classifiers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # grok, json, csv, xml
    classification: Mapped[str] = mapped_column(String(NAME))
    definition: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    updated_at: Mapped[int] = mapped_column(BigInteger)


class CrawlerFileRow(Base):
    """What a crawler saw of one file at its last run, for incremental recrawls. Paths can be longer than
    an index key may be, so the key is a hash of the path."""

    __tablename__ = "crawler_files"
    crawler_id: Mapped[int] = mapped_column(ForeignKey("crawlers.id", ondelete="CASCADE"), primary_key=True)
    path_hash: Mapped[str] = mapped_column(String(40), primary_key=True)  # sha1 hex of the path
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[str] = mapped_column(String(NAME))  # JSON of the mtime (number) or ETag (string)
    table_name: Mapped[str | None] = mapped_column(String(NAME))


class ScheduleFireRow(Base):
    """One row per scheduled firing: the unique key lets any number of schedulers run while each
    firing happens once (the scheduler that inserts the row fires)."""

    __tablename__ = "schedule_fires"
    __table_args__ = (UniqueConstraint("kind", "name", "fire_time"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # crawler, trigger
    name: Mapped[str] = mapped_column(String(NAME))
    fire_time: Mapped[int] = mapped_column(BigInteger)  # ms, the schedule's time (not when it ran)
    claimed_at: Mapped[int] = mapped_column(BigInteger)  # ms
    claimed_by: Mapped[str] = mapped_column(String(NAME))


# --- web console users, API tokens, per-database grants -------------------------------------------------


class WebUserRow(Base):
    """A user of the console and JSON API. `all_databases` false: only the databases granted (web_grants)."""

    __tablename__ = "web_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    password_hash: Mapped[str] = mapped_column(String(NAME))  # werkzeug.security hash
    role: Mapped[str] = mapped_column(String(16))  # admin, editor, viewer
    all_databases: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    updated_at: Mapped[int] = mapped_column(BigInteger)


class WebGrantRow(Base):
    """A database a restricted user may see (and, with the editor role, change)."""

    __tablename__ = "web_grants"
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), primary_key=True)
    db_name: Mapped[str] = mapped_column(String(NAME), primary_key=True)


class WebTokenRow(Base):
    """An API token: only the SHA-256 of the secret is stored; `prefix` lets users tell tokens apart."""

    __tablename__ = "web_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class WebSecretRow(Base):
    """Secrets of the web layer (the session signing key), shared by every web server of one catalog and
    kept out of the `config` table that HMS clients can read."""

    __tablename__ = "web_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(NAME))


class WebSessionRow(Base):
    """A console login: the cookie carries the session's secret, of which only the SHA-256 is kept here, so a
    session ends server-side (logout, password change, `mortar user ...`) by deleting its row."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str | None] = mapped_column(String(64))


class LoginFailureRow(Base):
    """Failed logins of one user name or one address (`key`: "user:<name>" or "addr:<ip>"), for throttling."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    locked_until: Mapped[int | None] = mapped_column(BigInteger)


class RunCredentialRow(Base):
    """The credential of one job driver: only the SHA-256 of its secret is kept. A warm driver gets one when
    it starts (reads only); it is bound to the run the driver executes and revoked when that run ends."""

    __tablename__ = "run_credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


# --- ETL jobs, their runs and bookmarks; triggers ----------------------------------------------------------


class JobRow(Base):
    """An ETL job definition; its script lives in job_scripts, one row per version."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    job_type: Mapped[str] = mapped_column(String(16))  # spark, pythonshell
    script_version: Mapped[int] = mapped_column(Integer)  # the current version
    script_location: Mapped[str | None] = mapped_column(Text)  # where the script was loaded from, if anywhere
    default_arguments: Mapped[str] = mapped_column(Text, default="{}")  # JSON {"--KEY": "value"}
    non_overridable_arguments: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    spark_conf: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    master: Mapped[str | None] = mapped_column(String(NAME))  # None: the workers' default (local[N])
    timeout_s: Mapped[int | None] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    max_concurrent_runs: Mapped[int] = mapped_column(Integer, default=1)
    queue_runs: Mapped[bool] = mapped_column(Boolean, default=False)  # over the limit: WAITING, not refused
    bookmark: Mapped[str] = mapped_column(String(16))  # enable, disable, pause
    connections: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of connection names
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    updated_at: Mapped[int] = mapped_column(BigInteger)


class JobScriptRow(Base):
    __tablename__ = "job_scripts"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    script: Mapped[str] = mapped_column(_LONG_TEXT)
    created_at: Mapped[int] = mapped_column(BigInteger)


class JobRunRow(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job", "job_id", "id"),
        Index("ix_job_runs_state", "state", "heartbeat_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # STARTING, RUNNING, ... (Glue's run states)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    previous_run_id: Mapped[int | None] = mapped_column(BigInteger)
    script_version: Mapped[int] = mapped_column(Integer)
    arguments: Mapped[str] = mapped_column(Text, default="{}")  # JSON, as used (defaults and overrides merged)
    trigger_name: Mapped[str | None] = mapped_column(String(NAME))
    workflow_run_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # the workflow run it is part of
    worker: Mapped[str | None] = mapped_column(String(NAME))  # host:pid of the worker running it
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    started_at: Mapped[int | None] = mapped_column(BigInteger)  # when a worker took it
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    heartbeat_at: Mapped[int] = mapped_column(BigInteger)
    running_at: Mapped[int | None] = mapped_column(BigInteger)  # when the script started (issue 15)
    warm: Mapped[bool | None] = mapped_column(Boolean)  # its driver came from the warm pool


class JobBookmarkRow(Base):
    """What a job has processed of one table: partition names committed by successful runs, and those a
    run under way has read (committed when it succeeds)."""

    __tablename__ = "job_bookmarks"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(NAME), primary_key=True)  # db.table
    done: Mapped[str] = mapped_column(_LONG_TEXT, default="[]")  # JSON list of partition names
    pending: Mapped[str] = mapped_column(_LONG_TEXT, default="[]")
    pending_run_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class TriggerRow(Base):
    __tablename__ = "triggers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    trigger_type: Mapped[str] = mapped_column(String(16))  # SCHEDULED, ON_DEMAND, CONDITIONAL
    state: Mapped[str] = mapped_column(String(16))  # CREATED, ACTIVATED, DEACTIVATED
    schedule: Mapped[str | None] = mapped_column(String(NAME))  # cron, 5 fields
    logical: Mapped[str] = mapped_column(String(8), default="AND")  # AND (all conditions), ANY
    conditions: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{"job"|"crawler": name, "state": ...}]
    actions: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{"job"|"crawler": name, "arguments": {}}]
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    activated_at: Mapped[int | None] = mapped_column(BigInteger)
    workflow_name: Mapped[str | None] = mapped_column(String(NAME), index=True)  # the workflow it belongs to


class WorkflowRow(Base):
    """A workflow: the graph made by the triggers that name it, and the jobs and crawlers they start."""

    __tablename__ = "workflows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    default_run_properties: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class WorkflowRunRow(Base):
    __tablename__ = "workflow_runs"
    __table_args__ = (Index("ix_workflow_runs_workflow", "workflow_id", "id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # RUNNING, COMPLETED, STOPPED
    run_properties: Mapped[str] = mapped_column(_LONG_TEXT, default="{}")  # JSON, read and written by jobs
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)


class JobRunLogRow(Base):
    """A run's driver output, in the order written: the worker running it appends what the driver wrote
    since the last chunk, so any machine (CLI, console) can follow a run's log."""

    __tablename__ = "job_run_logs"
    run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0, 1, 2... per run
    position: Mapped[int] = mapped_column(BigInteger)  # characters of the log before this chunk
    data: Mapped[str] = mapped_column(_LONG_TEXT)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch


# --- connections -------------------------------------------------------------------------------------------


class ConnectionRow(Base):
    """A connection to a data store (JDBC, Kafka, MongoDB, network...), as Glue's: jobs and crawlers name it
    instead of carrying URLs and credentials. Secret properties (PASSWORD...) are never sent back."""

    __tablename__ = "connections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    connection_type: Mapped[str] = mapped_column(String(16))  # JDBC, KAFKA, MONGODB, NETWORK, SFTP, CUSTOM
    properties: Mapped[str] = mapped_column(Text, default="{}")  # JSON {"JDBC_CONNECTION_URL": ...}
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch
    updated_at: Mapped[int] = mapped_column(BigInteger)


# --- Glue API ----------------------------------------------------------------------------------------------


class GlueAccessKeyRow(Base):
    """An access key of a user for the Glue API (SigV4). The secret must be recoverable to verify signatures:
    it is stored encrypted (encryption.py), shown once at creation."""

    __tablename__ = "glue_access_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    access_key_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    secret: Mapped[str] = mapped_column(Text)  # encrypted
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class GlueTableStateRow(Base):
    """Glue's VersionId of a table: the version its content (fingerprint) had when last seen through Glue."""

    __tablename__ = "glue_table_state"
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(64))


class GlueTableVersionRow(Base):
    """An archived version of a table (Glue's GetTableVersions): the whole table as it was."""

    __tablename__ = "glue_table_versions"
    __table_args__ = (UniqueConstraint("table_id", "version_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(BigInteger)
    snapshot: Mapped[str] = mapped_column(Text)  # JSON of the catalog's table (codec)
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms


class GluePartitionIndexRow(Base):
    __tablename__ = "glue_partition_indexes"
    __table_args__ = (UniqueConstraint("table_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME))
    keys: Mapped[str] = mapped_column(Text)  # JSON list of partition key names
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms


class GlueTagRow(Base):
    """A tag of a Glue resource, by the resource part of its ARN (`table/db/t`: the same in every region)."""

    __tablename__ = "glue_tags"
    __table_args__ = (UniqueConstraint("arn", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arn: Mapped[str] = mapped_column(String(1024), index=True)
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(Text)


class GluePausedScheduleRow(Base):
    """The schedule of a crawler taken off the scheduler by Glue's StopCrawlerSchedule (NOT_SCHEDULED), kept
    for StartCrawlerSchedule to put back; the crawler's own schedule is empty meanwhile."""

    __tablename__ = "glue_paused_schedules"
    crawler_id: Mapped[int] = mapped_column(ForeignKey("crawlers.id", ondelete="CASCADE"), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(NAME))  # cron, 5 fields


class GlueAttributesRow(Base):
    """Fields of a Glue job, crawler or connection that Mortar keeps and answers as given without acting on
    them (Role, WorkerType, MatchCriteria...), as JSON, so that clients comparing definitions see no drift."""

    __tablename__ = "glue_attributes"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)  # job, crawler, connection
    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    attributes: Mapped[str] = mapped_column(Text)  # JSON object


# --- governance: lineage, annotations, notifications ---------------------------------------------------


class LineageEdgeRow(Base):
    """One dataset a run read (`in`) or wrote (`out`): Mortar's job and crawler runs (observed by the doors)
    and runs of other producers (OpenLineage events). Datasets are named as OpenLineage names them
    (namespace, name); those that are catalog tables also carry db/table, for look-ups by table."""

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("run_kind", "run_id", "direction", "dataset_key"),
        Index("ix_lineage_edges_table", "db_name", "table_name", "direction"),
        Index("ix_lineage_edges_dataset", "dataset_key", "direction"),
        Index("ix_lineage_edges_process", "run_kind", "process"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_kind: Mapped[str] = mapped_column(String(16))  # job, crawler, external
    run_id: Mapped[str] = mapped_column(String(64))  # Mortar's run id, or an external run's UUID
    process: Mapped[str] = mapped_column(String(NAME))  # job or crawler name; external: namespace/job
    direction: Mapped[str] = mapped_column(String(3))  # in, out
    dataset_key: Mapped[str] = mapped_column(String(40))  # sha1 hex of namespace + "\n" + name
    namespace: Mapped[str] = mapped_column(String(NAME))
    name: Mapped[str] = mapped_column(Text)
    db_name: Mapped[str | None] = mapped_column(String(NAME))
    table_name: Mapped[str | None] = mapped_column(String(NAME))
    partitions: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of partition names (capped)
    columns: Mapped[str] = mapped_column(Text, default="{}")  # JSON {out column: [[ns, name, column], ...]}
    at: Mapped[int] = mapped_column(BigInteger)  # ms since epoch, first seen


class AnnotationRow(Base):
    """Owner, description, tags and classifications of a database (table ""), table (column "") or column."""

    __tablename__ = "annotations"
    __table_args__ = (UniqueConstraint("db_name", "table_name", "column_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    db_name: Mapped[str] = mapped_column(String(NAME))
    table_name: Mapped[str] = mapped_column(String(NAME), default="")
    column_name: Mapped[str] = mapped_column(String(NAME), default="")
    owner: Mapped[str | None] = mapped_column(String(NAME), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    classifications: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, e.g. ["pii", "gdpr:email"]
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(NAME))


class AnnotationLabelRow(Base):
    """Tags and classifications exploded, one row each, for search by label."""

    __tablename__ = "annotation_labels"
    __table_args__ = (Index("ix_annotation_labels_label", "label", "db_name", "table_name"),)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(NAME), primary_key=True)  # "tag:<t>" or "class:<c>"
    db_name: Mapped[str] = mapped_column(String(NAME))
    table_name: Mapped[str] = mapped_column(String(NAME))


class AnnotationHistoryRow(Base):
    __tablename__ = "annotation_history"
    __table_args__ = (Index("ix_annotation_history_object", "db_name", "table_name", "id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    db_name: Mapped[str] = mapped_column(String(NAME))
    table_name: Mapped[str] = mapped_column(String(NAME))
    column_name: Mapped[str] = mapped_column(String(NAME))
    at: Mapped[int] = mapped_column(BigInteger)
    user: Mapped[str] = mapped_column(String(NAME))
    changes: Mapped[str] = mapped_column(Text)  # JSON {field: [before, after]}


class SubscriptionRow(Base):
    """A subscription to events of the feed (audit_log), delivered by webhook or e-mail."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    owner: Mapped[str] = mapped_column(String(NAME))  # the user who made it: events they may see only
    events: Mapped[str] = mapped_column(Text)  # JSON list of event types
    db_name: Mapped[str | None] = mapped_column(String(NAME))  # only events of this database
    object_name: Mapped[str | None] = mapped_column(String(NAME))  # only of this job, crawler or table
    channel: Mapped[str] = mapped_column(String(16))  # webhook, email
    target: Mapped[str] = mapped_column(Text)  # URL or e-mail address
    secret: Mapped[str | None] = mapped_column(Text)  # webhook signing key (encrypted at rest)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class DeliveryRow(Base):
    """One event for one subscription: made once (unique), sent until it succeeds or attempts run out."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_deliveries_due", "state", "next_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)  # audit_log.id
    state: Mapped[str] = mapped_column(String(16))  # PENDING, SENDING, SENT, FAILED
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[int] = mapped_column(BigInteger)  # ms: when it is due (again)
    claimed_by: Mapped[str | None] = mapped_column(String(NAME))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger)


class FeedCursorRow(Base):
    """How far a reader of the event feed (the notifier, the OpenLineage emitter) has got."""

    __tablename__ = "feed_cursors"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)  # the last audit_log id handled


# --- profiles ---


class ProfileRunRow(Base):
    """One profile of a table (or some of its partitions): asked for, run by a worker, its result kept."""

    __tablename__ = "profile_runs"
    __table_args__ = (Index("ix_profile_runs_table", "db_name", "table_name", "id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    catalog_name: Mapped[str] = mapped_column(String(NAME))
    db_name: Mapped[str] = mapped_column(String(NAME))
    table_name: Mapped[str] = mapped_column(String(NAME))
    mode: Mapped[str] = mapped_column(String(16))  # metadata (file footers), full (a Spark job)
    partitions: Mapped[str | None] = mapped_column(Text)  # JSON list of partition names; null: what is new
    state: Mapped[str] = mapped_column(String(16))  # QUEUED, RUNNING, SUCCEEDED, FAILED
    requested_by: Mapped[str] = mapped_column(String(NAME))
    worker: Mapped[str | None] = mapped_column(String(NAME))
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)  # JSON: the table's profile, partitions profiled


# --- crawl pieces ---


class CrawlPieceRow(Base):
    """A piece of a split crawl (issue 15): some top-level folders of a target that one worker lists and
    classifies; piece 0 is the merge, which holds the run's definition. `attempt` counts claims; a claim
    holds a lease (`lease_until`) that its worker renews, and the piece is sent again once it lapses."""

    __tablename__ = "crawl_pieces"
    run_id: Mapped[int] = mapped_column(ForeignKey("crawler_runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: the merge; 1..n: the pieces
    spec: Mapped[str] = mapped_column(_LONG_TEXT)  # JSON: what to crawl (piece 0: the crawler's definition)
    state: Mapped[str] = mapped_column(String(16))  # PENDING, RUNNING, DONE
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(NAME))
    lease_until: Mapped[int] = mapped_column(BigInteger, default=0)  # ms; RUNNING: the claim's lease
    updated_at: Mapped[int] = mapped_column(BigInteger)  # ms; last claim, renewal or result
    result: Mapped[str | None] = mapped_column(_LONG_TEXT)  # JSON: the files, leaf schemas and skips found


class PartitionProfileRow(Base):
    """A partition's newest profile (JSON), from which its table's is merged: kept out of the partition's
    parameters so that HMS partition listings stay small."""

    __tablename__ = "partition_profiles"
    __table_args__ = (Index("ix_partition_profiles_table", "table_id"),)
    partition_id: Mapped[int] = mapped_column(ForeignKey("partitions.id", ondelete="CASCADE"), primary_key=True)
    table_id: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))  # metadata, spark
    profile: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[int] = mapped_column(BigInteger)  # ms
