"""The catalog's objects: plain dataclasses, free of Thrift and HTTP types.

Field names follow the Hive Metastore's vocabulary so that the protocol layers map one to one.
Times are seconds since the epoch, as in HMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_CATALOG = "hive"
DEFAULT_DATABASE = "default"

MANAGED_TABLE = "MANAGED_TABLE"
EXTERNAL_TABLE = "EXTERNAL_TABLE"
VIRTUAL_VIEW = "VIRTUAL_VIEW"
MATERIALIZED_VIEW = "MATERIALIZED_VIEW"
TABLE_TYPES = (MANAGED_TABLE, EXTERNAL_TABLE, VIRTUAL_VIEW, MATERIALIZED_VIEW)


@dataclass(slots=True)
class Column:
    name: str
    type: str
    comment: str | None = None


@dataclass(slots=True)
class SerDe:
    name: str | None = None
    serialization_lib: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    serializer_class: str | None = None
    deserializer_class: str | None = None
    serde_type: int | None = None


@dataclass(slots=True)
class SortOrder:
    col: str
    order: int  # 1 ascending, 0 descending


@dataclass(slots=True)
class SkewedInfo:
    col_names: list[str] = field(default_factory=list)
    col_values: list[list[str]] = field(default_factory=list)
    locations: list[tuple[list[str], str]] = field(default_factory=list)


@dataclass(slots=True)
class StorageDescriptor:
    cols: list[Column] = field(default_factory=list)
    location: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    compressed: bool = False
    num_buckets: int = -1
    serde: SerDe = field(default_factory=SerDe)
    bucket_cols: list[str] = field(default_factory=list)
    sort_cols: list[SortOrder] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    skewed_info: SkewedInfo | None = None
    stored_as_sub_directories: bool = False


@dataclass(slots=True)
class Catalog:
    name: str
    location_uri: str
    description: str | None = None
    create_time: int = 0


@dataclass(slots=True)
class Database:
    name: str
    catalog: str = DEFAULT_CATALOG
    description: str | None = None
    location_uri: str | None = None
    managed_location_uri: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    owner_name: str | None = None
    owner_type: int | None = None  # 1 user, 2 role, 3 group
    create_time: int = 0


@dataclass(slots=True)
class Table:
    name: str
    db_name: str
    catalog: str = DEFAULT_CATALOG
    owner: str | None = None
    owner_type: int | None = 1
    create_time: int = 0
    last_access_time: int = 0
    retention: int = 0
    sd: StorageDescriptor = field(default_factory=StorageDescriptor)
    partition_keys: list[Column] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    view_original_text: str | None = None
    view_expanded_text: str | None = None
    table_type: str = MANAGED_TABLE
    temporary: bool = False
    rewrite_enabled: bool = False
    version: int = 1  # schema version (read only: the catalog counts it)

    @property
    def is_external(self) -> bool:
        return self.table_type == EXTERNAL_TABLE or self.parameters.get("EXTERNAL", "").upper() == "TRUE"

    @property
    def is_view(self) -> bool:
        return self.table_type in (VIRTUAL_VIEW, MATERIALIZED_VIEW)


@dataclass(slots=True)
class Partition:
    values: list[str]
    db_name: str
    table_name: str
    catalog: str = DEFAULT_CATALOG
    create_time: int = 0
    last_access_time: int = 0
    sd: StorageDescriptor = field(default_factory=StorageDescriptor)
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ResourceUri:
    resource_type: int  # 1 JAR, 2 FILE, 3 ARCHIVE
    uri: str


@dataclass(slots=True)
class Function:
    name: str
    db_name: str
    class_name: str
    catalog: str = DEFAULT_CATALOG
    owner_name: str | None = None
    owner_type: int | None = 1
    create_time: int = 0
    function_type: int = 1  # 1 JAVA
    resource_uris: list[ResourceUri] = field(default_factory=list)


@dataclass(slots=True)
class ColumnStats:
    """Statistics of one column. `data` is one member of HMS's ColumnStatisticsData union, e.g.
    {"longStats": {"lowValue": 1, "highValue": 9, "numNulls": 0, "numDVs": 9}}."""

    column_name: str
    column_type: str
    data: dict
    last_analyzed: int = 0


@dataclass(slots=True)
class LockComponent:
    lock_type: str  # SHARED_READ, SHARED_WRITE, EXCL_WRITE, EXCLUSIVE
    level: str  # DB, TABLE, PARTITION
    db_name: str
    table_name: str | None = None
    partition_name: str | None = None
    operation: str | None = None


@dataclass(slots=True)
class Lock:
    id: int
    state: str  # ACQUIRED, WAITING
    user: str
    hostname: str
    components: list[LockComponent]
    txn_id: int = 0
    agent_info: str | None = None
    created_at: int = 0  # ms
    acquired_at: int | None = None  # ms
    last_heartbeat: int = 0  # ms


@dataclass(slots=True)
class TableVersion:
    version: int
    columns: list[Column]
    partition_keys: list[Column]
    created_at: int  # ms
    created_by: str


@dataclass(slots=True)
class AuditRecord:
    id: int
    at: int  # ms
    user: str
    action: str
    catalog: str
    db_name: str | None
    object_name: str | None
    details: dict
