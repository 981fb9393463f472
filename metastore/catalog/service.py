"""The catalog service: one object giving access to every area, bound to the user acting."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine, delete, func, insert, select

from metastore.catalog import codec, encryption
from metastore.catalog.access import Access
from metastore.catalog.annotations import Annotations
from metastore.catalog.base import Area, Context
from metastore.catalog.browse import Browse
from metastore.catalog.connections import Connections
from metastore.catalog.crawlers import Crawlers
from metastore.catalog.databases import Catalogs, Databases
from metastore.catalog.encryption import Secrets
from metastore.catalog.events import Events
from metastore.catalog.functions import Functions
from metastore.catalog.jobs import Jobs
from metastore.catalog.lineage import Lineage
from metastore.catalog.locks import Locks
from metastore.catalog.partitions import Partitions
from metastore.catalog.schedules import Schedules
from metastore.catalog.statistics import Statistics
from metastore.catalog.tables import Tables
from metastore.catalog.triggers import Triggers
from metastore.catalog.types import AuditRecord
from metastore.catalog.users import Users
from metastore.catalog.warehouse import Warehouse
from metastore.catalog.workflows import Workflows
from metastore.storage.engine import make_engine, upgrade_schema
from metastore.storage.models import AuditRow, ConfigRow


class Settings(Area):
    """Configuration values clients may read (get_config_value) and set for themselves (setMetaConf)."""

    def get(self, key: str, default: str | None = None) -> str | None:
        with self._read() as conn:
            value = conn.execute(select(ConfigRow.value).where(ConfigRow.key == key)).scalar()
        return default if value is None else value

    def set(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(delete(ConfigRow).where(ConfigRow.key == key))
            conn.execute(insert(ConfigRow).values(key=key, value=value))
            self._audit(conn, "SET_CONFIG", "hive", None, None, key=key)


class Audit(Area):
    def last_event_id(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.max(AuditRow.id))).scalar() or 0

    def records(self, db: str | None = None, obj: str | None = None, after_id: int = 0,
                limit: int = 1000) -> list[AuditRecord]:  # fmt: skip
        query = select(AuditRow).where(AuditRow.id > after_id).order_by(AuditRow.id).limit(limit)
        if db is not None:
            query = query.where(AuditRow.db_name == db.lower())
        if obj is not None:
            query = query.where(AuditRow.object_name == obj.lower())
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [AuditRecord(r.id, r.at, r.user, r.action, r.catalog_name, r.db_name, r.object_name,
                            codec.loads(r.details)) for r in rows]  # fmt: skip


class CatalogService:
    """Databases, tables, partitions, functions, statistics, locks, settings and audit over one engine.

    `for_user` gives a view that records another user in the audit log; views share the engine.
    """

    def __init__(self, engine: Engine, warehouse: str | Warehouse, *, user: str = "anonymous",
                 lock_timeout_s: int = 300, secrets: Secrets | None = None):  # fmt: skip
        """`secrets`: the key of secrets at rest; by default that of this process's settings (MORTAR_SECRET_KEY,
        else the key file), looked up when a secret is first read or written."""
        wh = warehouse if isinstance(warehouse, Warehouse) else Warehouse(warehouse)
        self._bind(Context(engine, wh, user or "anonymous", lock_timeout_s, secrets or Secrets()))

    @classmethod
    def open(cls, database_url: str, warehouse: str, *, lock_timeout_s: int = 300,
             secrets: Secrets | None = None) -> CatalogService:  # fmt: skip
        """Connect to the storage at `database_url`, create or upgrade its schema (secrets still stored in
        plain text are encrypted), and make sure the default catalog and database exist."""
        engine = make_engine(database_url)
        upgrade_schema(engine)
        service = cls(engine, warehouse, lock_timeout_s=lock_timeout_s, secrets=secrets)
        service.catalogs.ensure_default()
        encryption.upgrade(engine, service.ctx.secrets)
        return service

    def _bind(self, ctx: Context) -> None:
        self.ctx = ctx
        self.catalogs = Catalogs(ctx)
        self.databases = Databases(ctx)
        self.tables = Tables(ctx)
        self.partitions = Partitions(ctx)
        self.functions = Functions(ctx)
        self.statistics = Statistics(ctx)
        self.locks = Locks(ctx)
        self.settings = Settings(ctx)
        self.audit = Audit(ctx)
        self.schedules = Schedules(ctx)
        self.crawlers = Crawlers(ctx)
        self.jobs, self.triggers, self.workflows = Jobs(ctx), Triggers(ctx), Workflows(ctx)
        self.browse = Browse(ctx)
        self.connections = Connections(ctx)
        self.users = Users(ctx)
        self.access = Access(ctx)
        self.lineage, self.annotations, self.events = Lineage(ctx), Annotations(ctx), Events(ctx)

    @property
    def user(self) -> str:
        return self.ctx.user

    @property
    def warehouse(self) -> Warehouse:
        return self.ctx.warehouse

    def for_user(self, user: str | None) -> CatalogService:
        view = object.__new__(CatalogService)
        view._bind(replace(self.ctx, user=user or "anonymous"))
        return view
