"""Mortar's settings: one object, from `MORTAR_*` environment variables and an optional TOML file.

Defaults make `mortar metastore` / `mortar up` work with no file: SQLite and the warehouse under a data
folder (`./mortar-data`, or `MORTAR_DATA_DIR`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class Settings:
    data_dir: str = "mortar-data"
    database_url: str = ""  # default: sqlite:///<data_dir>/catalog.db
    warehouse: str = ""  # default: <data_dir>/warehouse (a local path or an fsspec URL)
    host: str = "0.0.0.0"
    port: int = 9083
    processes: int = 1  # metastore server processes sharing the port (SO_REUSEPORT)
    max_connections: int = 1000  # per process; beyond it new connections are refused
    listing_cache_mb: int = 256  # per process: encoded partition listings kept (0: none)
    lock_timeout_s: int = 300  # locks without a heartbeat for this long are released
    broker_url: str = ""  # Celery broker; default: an embedded one (SQLite file under data_dir)
    worker_concurrency: int = 2  # tasks a worker runs at once
    metastore_uri: str = ""  # where job drivers find the metastore; default thrift://127.0.0.1:<port>
    job_master: str = "local[*]"  # Spark master of jobs that name none
    job_warm_pool: int = 2  # warm Spark drivers per worker (the next run's and a spare; 0: none)
    job_driver_memory_mb: int = 1024  # what one driver is counted as: the pool is no bigger than memory allows
    job_driver_max_runs: int = 50  # runs a warm driver serves (one job's only) before it is replaced
    job_heartbeat_s: float = 5.0  # a running job's heartbeat interval
    job_warm_wait_s: float = 60.0  # how long a run waits for a warming driver before starting cold
    job_startup_timeout_s: float = 600.0  # a driver that has not started the script by then fails the run
    job_stale_s: float = 120.0  # a run without a heartbeat for this long lost its worker
    job_requeue_s: float = 600.0  # a run no worker took for this long is sent again
    job_os_user: str = ""  # OS user drivers run as (worker as root; chown -R the warehouse root to it); "": own
    # --- security (README "Securing Mortar") ---
    anonymous: str = "local-write"  # unauthenticated Thrift/Glue callers: none, read, local-write, write
    trusted_ugi_hosts: str = ""  # comma-separated addresses/CIDRs whose set_ugi user names are believed
    secret_key_file: str = ""  # key that encrypts secrets at rest; default <data_dir>/secret.key
    idle_timeout_s: float = 300.0  # a Thrift connection silent between calls for this long is closed
    request_timeout_s: float = 60.0  # a Thrift request must arrive whole within this time
    max_connections_per_peer: int = 200  # per process and peer address
    max_request_mb: int = 256  # decoded size of one Thrift request
    max_request_items: int = 500_000  # structs and container elements in one Thrift request (~1 KB each, handled)
    login_max_failures: int = 10  # failed web logins per user or address before a lock-out
    login_lockout_s: float = 300.0  # how long that lock-out lasts
    allowed_paths: str = ""  # comma-separated roots/URL prefixes crawlers and job scripts may use
    crawler_stale_s: float = 120.0  # a crawl without a heartbeat for this long lost its worker
    crawler_split_folders: int = 2000  # a crawl of at least this many top-level folders is split (0: never)
    crawler_piece_folders: int = 500  # top-level folders per piece of a split crawl
    crawler_piece_lease_s: float = 30.0  # a piece whose worker went quiet for this long is sent again
    thrift_tls_cert: str = ""  # PEM certificate (chain) of the Thrift port: TLS on when set
    thrift_tls_key: str = ""  # its private key
    kerberos_principal: str = ""  # e.g. hive/_HOST@REALM: Thrift speaks SASL GSSAPI when set
    kerberos_keytab: str = ""  # keytab holding that principal's key
    glue_max_request_mb: int = 32  # body of one Glue API request (bigger: 413)
    glue_port: int = 8081  # `mortar glue-api` (the web port answers Glue requests too)
    lineage_namespace: str = ""  # OpenLineage namespace of catalog tables; default hive://<hostname>:<port>
    openlineage_url: str = ""  # where run events go: http(s)://consumer (Marquez), file:///path.jsonl, console
    openlineage_namespace: str = "mortar"  # OpenLineage namespace of Mortar's jobs and crawlers
    smtp_host: str = ""  # notifications by e-mail: the SMTP server ("": none)
    smtp_port: int = 25
    smtp_from: str = "mortar@localhost"
    notify_poll_s: float = 0.5  # how often the notifier reads the event feed
    classification_rules: str = ""  # crawlers classify columns: "regex=label,label;regex=label" on column names
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{Path(self.data_dir).absolute() / 'catalog.db'}"
        if not self.warehouse:
            self.warehouse = str(Path(self.data_dir).absolute() / "warehouse")
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{Path(self.data_dir).absolute() / 'broker.db'}"

    @classmethod
    def load(cls, config_file: str | None = None, **overrides) -> Settings:
        """Settings from (lowest to highest precedence) defaults, TOML file, environment, overrides."""
        values: dict = {}
        path = config_file or os.environ.get("MORTAR_CONFIG")
        if path:
            with open(path, "rb") as f:
                values.update(tomllib.load(f).get("mortar", {}))
        names = {f.name: f for f in fields(cls) if f.name != "extra"}
        for name, fld in names.items():
            env = os.environ.get(f"MORTAR_{name.upper()}")
            if env is not None:
                values[name] = {"int": int, "float": float}.get(fld.type, str)(env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)
