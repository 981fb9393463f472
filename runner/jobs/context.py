"""The helper module of job scripts (also importable as `mortar_job` inside a run).

    import sys
    from runner.jobs.context import get_resolved_options, jdbc_options, read_new_partitions, spark_session

    args = get_resolved_options(sys.argv, ["SOURCE", "TARGET"])  # --SOURCE db.t --TARGET db.u
    spark = spark_session()                                       # the metastore is already configured
    df = read_new_partitions("db.t")                              # only what earlier runs did not process
    opts = jdbc_options("sales_db")                               # a connection the job lists

Bookmarks follow the job's bookmark option: `enable` reads only partitions that no successful run of the
job read before and records those it read (committed when the run succeeds), `pause` reads only new
partitions without recording them, `disable` reads everything. `reset_bookmark()` forgets. Of a table
without partitions, the unit is the file instead: `read_new_files` (which `read_new_partitions` calls for
such a table) reads the rows of the files, identified by path, size and modification time, that no
successful run read.
"""

from __future__ import annotations

import os
import sys
from functools import reduce

_session = None  # the run's SparkSession, set by the driver


def get_resolved_options(argv: list[str], options: list[str]) -> dict[str, str]:
    """The values of `--KEY value` (or `--KEY=value`) in `argv` for each KEY of `options`, as Glue's
    getResolvedOptions: a missing option is an error. JOB_NAME and JOB_RUN_ID are always there."""
    found: dict[str, str] = {}
    args = list(argv[1:])
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            key = a[2:]
            if "=" in key:
                key, value = key.split("=", 1)
                found[key] = value
            elif i + 1 < len(args):
                found[key] = args[i + 1]
                i += 1
            else:
                found[key] = ""
        i += 1
    missing = [o for o in options if o not in found]
    if missing:
        raise SystemExit(f"missing job argument(s): {', '.join('--' + m for m in missing)}")
    return {o: found[o] for o in [*options, *(k for k in ("JOB_NAME", "JOB_RUN_ID") if k in found)]}


def spark_session():
    """The run's SparkSession, pointed at the metastore (created on first use in a cold run)."""
    global _session
    if _session is None:
        from runner.jobs.driver import build_session

        _session = build_session()
    return _session


def run_id() -> int | None:
    value = os.environ.get("MORTAR_JOB_RUN_ID")
    return int(value) if value else None


def job_name() -> str | None:
    return os.environ.get("MORTAR_JOB_NAME")


class _Catalog:
    """The run's door to the catalog: the metastore's Thrift port (MORTAR_METASTORE_URI), as the run's
    credential (MORTAR_RUN_CREDENTIAL, given by the worker, bound to this run, revoked when it ends). Plain
    HMS calls for tables and partitions; the rest through get_config_value("mortar.run.<call>", JSON),
    which the metastore answers only for this run (see metastore/hms/handler.py)."""

    def __init__(self):
        self._client = None
        self._transport = None

    def client(self):
        if self._client is None:
            from urllib.parse import urlparse

            from thrift.protocol import TBinaryProtocol
            from thrift.transport import TSocket, TTransport

            from metastore.hms.gen.hive import ThriftHiveMetastore

            uri = (os.environ.get("MORTAR_METASTORE_URI") or "").split(",")[0].strip()
            if not uri:
                raise RuntimeError("MORTAR_METASTORE_URI is not set: mortar_job works inside job runs only")
            parsed = urlparse(uri)
            sock = TSocket.TSocket(parsed.hostname or "127.0.0.1", parsed.port or 9083)
            sock.setTimeout(600_000)
            transport = TTransport.TBufferedTransport(sock)
            client = ThriftHiveMetastore.Client(TBinaryProtocol.TBinaryProtocol(transport))
            transport.open()
            credential = os.environ.get("MORTAR_RUN_CREDENTIAL") or ""
            client.set_ugi(os.environ.get("MORTAR_JOB_NAME") or "mortar-job", [credential] if credential else [])
            self._client, self._transport = client, transport
        return self._client

    def call(self, name: str, argument: dict | None = None):
        """Run call `name` (metastore/hms/handler.py `_rc_<name>`) with `argument`; its JSON answer."""
        import json

        from metastore.hms.gen.hive import ttypes as tt

        try:
            answer = self.client().get_config_value("mortar.run." + name, json.dumps(argument or {}))
        except tt.ConfigValSecurityException as e:
            raise PermissionError(e.message) from None
        except Exception as e:
            message = getattr(e, "message", None) or str(e)
            raise RuntimeError(f"mortar_job {name}: {message}") from None
        return json.loads(answer)

    def table(self, db: str, name: str):
        return self.client().get_table(db, name)

    def partition_names(self, db: str, name: str) -> list[str]:
        return list(self.client().get_partition_names(db, name, -1))


_door: _Catalog | None = None


def _catalog() -> _Catalog:
    global _door
    if _door is None:
        _door = _Catalog()
    return _door


def new_partitions(table: str) -> list[str]:
    """Partition names of `table` (db.table) this run should process, per the job's bookmark option."""
    db, _, name = table.partition(".")
    if not name:
        db, name = "default", db
    names = _catalog().partition_names(db, name)
    option = os.environ.get("MORTAR_JOB_BOOKMARK", "disable")
    if option == "disable" or job_name() is None:
        return names
    done = set(_catalog().call("bookmark", {"table": f"{db}.{name}"}))
    return [n for n in names if n not in done]


def read_new_partitions(table: str, spark=None):
    """A DataFrame of the rows of `table` in partitions no successful run of this job read before (all of
    them when bookmarks are disabled). With bookmarks enabled, the partitions read are recorded for this
    run and committed when it succeeds. A table without partition keys is read by file: read_new_files."""
    from pyspark.sql import functions as F

    from metastore.catalog.names import unescape_path_name

    spark = spark or spark_session()
    db, _, name = table.partition(".")
    if not name:
        db, name = "default", db
    if not _catalog().table(db, name).partitionKeys:
        return read_new_files(f"{db}.{name}", spark)
    parts = new_partitions(f"{db}.{name}")
    df = spark.table(f"{db}.{name}")
    if os.environ.get("MORTAR_JOB_BOOKMARK") == "enable" and run_id() is not None and parts:
        _catalog().call("record_bookmark", {"table": f"{db}.{name}", "entries": parts})
    if os.environ.get("MORTAR_JOB_BOOKMARK", "disable") == "disable":
        return df
    if not parts:
        return df.where(F.lit(False))
    conds = []
    for p in parts:
        values = [tuple(unescape_path_name(x) for x in kv.split("=", 1)) for kv in p.split("/")]
        conds.append(reduce(lambda a, b: a & b, [F.col(k) == F.lit(v) for k, v in values]))
    return df.where(reduce(lambda a, b: a | b, conds))


def table_files(table: str) -> list[dict]:
    """The data files under the location of `table` (db.table): {"path", "size", "mtime"}, paths as the
    file system names them (no scheme); hidden files (_SUCCESS, .crc...) left out."""
    from fsspec.core import url_to_fs

    db, _, name = table.partition(".")
    location = _catalog().table(db, name).sd.location
    fs, root = url_to_fs(location)
    out = []
    for path, info in sorted(fs.find(root, detail=True).items()):
        rel = path[len(root.rstrip("/")) :].lstrip("/")
        if info.get("type") != "file" or any(p[:1] in "._" for p in rel.split("/")):
            continue
        mtime = info.get("mtime", info.get("LastModified", info.get("last_modified", 0)))
        if hasattr(mtime, "timestamp"):
            mtime = mtime.timestamp()
        out.append({"path": path, "size": int(info.get("size") or 0), "mtime": mtime})
    return out


def new_files(table: str) -> list[dict]:
    """Data files of unpartitioned `table` (db.table) this run should process, per the job's bookmark
    option: with bookmarks on, those no successful run of the job read in this state (path, size, mtime)."""
    from metastore.catalog.jobs import bookmark_key

    db, _, name = table.partition(".")
    if not name:
        db, name = "default", db
    files = table_files(f"{db}.{name}")
    if os.environ.get("MORTAR_JOB_BOOKMARK", "disable") == "disable" or job_name() is None:
        return files
    done = {bookmark_key(e) for e in _catalog().call("bookmark", {"table": f"{db}.{name}"})}
    return [f for f in files if bookmark_key(f) not in done]


def read_new_files(table: str, spark=None):
    """A DataFrame of the rows of unpartitioned `table` that come from files no successful run of this job
    read before (all of them when bookmarks are disabled). With bookmarks enabled, the files read are
    recorded for this run and committed when it succeeds. Rows are picked by input_file_name() over the
    table, so every format the table can be read in works."""
    from pyspark.sql import functions as F

    spark = spark or spark_session()
    db, _, name = table.partition(".")
    if not name:
        db, name = "default", db
    option = os.environ.get("MORTAR_JOB_BOOKMARK", "disable")
    df = spark.table(f"{db}.{name}")
    if option == "disable":
        return df
    files = new_files(f"{db}.{name}")
    if option == "enable" and run_id() is not None and files:
        _catalog().call("record_bookmark", {"table": f"{db}.{name}", "entries": files})
    if not files:
        return df.where(F.lit(False))
    # input_file_name() is a URI (file:/x, file:///x, s3a://b/k, escaped): compared without its scheme
    uri = F.input_file_name()
    if hasattr(F, "url_decode"):
        uri = F.when(uri.contains("%"), F.url_decode(uri)).otherwise(uri)
    source = F.regexp_replace(uri, r"^[A-Za-z][A-Za-z0-9+.-]*:(//)?", "")
    return df.where(source.isin([f["path"] for f in files]))


def workflow_run_id() -> int | None:
    value = os.environ.get("MORTAR_WORKFLOW_RUN_ID")
    return int(value) if value else None


def get_run_properties() -> dict:
    """The run properties of the workflow run this job runs in ({} outside workflows)."""
    wid = workflow_run_id()
    return {} if wid is None else _catalog().call("run_properties")


def put_run_properties(properties: dict) -> dict:
    """Merge `properties` into the workflow run's run properties (later jobs of the run read them)."""
    wid = workflow_run_id()
    if wid is None:
        raise RuntimeError("this job run is not part of a workflow run")
    return _catalog().call("put_run_properties", {"properties": dict(properties)})


def connection(name: str) -> dict[str, str]:
    """The properties of connection `name`, secrets included (PASSWORD...), for a connection this job
    lists in its definition (`connections`); any other is refused."""
    import json

    allowed = json.loads(os.environ.get("MORTAR_JOB_CONNECTIONS") or "[]")
    if not isinstance(name, str) or name.lower() not in allowed:
        listed = ", ".join(allowed) or "none"
        raise PermissionError(
            f"job {job_name() or '(not in a job run)'} does not list connection {name} (it lists: {listed}); "
            f"add it with: mortar job update {job_name() or 'JOB'} --connection {name}"
        )
    return dict(_catalog().call("connection", {"name": name}))


def jdbc_options(name: str) -> dict[str, str]:
    """Spark JDBC reader/writer options of JDBC connection `name`: url, user, password (and driver when
    the connection names one), e.g. spark.read.format("jdbc").options(**jdbc_options("sales"), dbtable="t")."""
    props = connection(name)
    url = props.get("JDBC_CONNECTION_URL")
    if not url:
        raise ValueError(f"connection {name} is not a JDBC connection (it has no JDBC_CONNECTION_URL)")
    options = {"url": url}
    for key, option in (("USERNAME", "user"), ("PASSWORD", "password"), ("JDBC_DRIVER_CLASS_NAME", "driver")):
        if props.get(key):
            options[option] = props[key]
    return options


def reset_bookmark() -> None:
    """Forget what this job processed: the next run reads everything again."""
    _catalog().call("reset_bookmark")


sys.modules.setdefault("mortar_job", sys.modules[__name__])
