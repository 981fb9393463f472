"""The helper module of job scripts (also importable as `mortar_job` inside a run).

    import sys
    from runner.jobs.context import get_resolved_options, spark_session, read_new_partitions

    args = get_resolved_options(sys.argv, ["SOURCE", "TARGET"])  # --SOURCE db.t --TARGET db.u
    spark = spark_session()                                       # the metastore is already configured
    df = read_new_partitions("db.t")                              # only what earlier runs did not process

Bookmarks follow the job's bookmark option: `enable` reads only partitions that no successful run of the
job read before and records those it read (committed when the run succeeds), `pause` reads only new
partitions without recording them, `disable` reads everything. `reset_bookmark()` forgets.
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


def _catalog():
    from metastore.catalog import CatalogService
    from metastore.config import Settings
    from metastore.storage.engine import make_engine

    global _catalog_service
    try:
        return _catalog_service
    except NameError:
        s = Settings.load()
        _catalog_service = CatalogService(make_engine(s.database_url, pool_size=1), s.warehouse)
        return _catalog_service


def new_partitions(table: str) -> list[str]:
    """Partition names of `table` (db.table) this run should process, per the job's bookmark option."""
    db, _, name = table.partition(".")
    if not name:
        db, name = "default", db
    service = _catalog()
    names = service.partitions.names(db, name)
    option = os.environ.get("MORTAR_JOB_BOOKMARK", "disable")
    if option == "disable" or job_name() is None:
        return names
    done = set(service.jobs.bookmark(job_name(), f"{db}.{name}"))
    return [n for n in names if n not in done]


def read_new_partitions(table: str, spark=None):
    """A DataFrame of the rows of `table` in partitions no successful run of this job read before (all of
    them when bookmarks are disabled). With bookmarks enabled, the partitions read are recorded for this
    run and committed when it succeeds."""
    from pyspark.sql import functions as F

    from metastore.catalog.names import unescape_path_name

    spark = spark or spark_session()
    db, _, name = table.partition(".")
    if not name:
        db, name = "default", db
    parts = new_partitions(f"{db}.{name}")
    df = spark.table(f"{db}.{name}")
    if os.environ.get("MORTAR_JOB_BOOKMARK") == "enable" and run_id() is not None and parts:
        _catalog().jobs.record_bookmark(run_id(), f"{db}.{name}", parts)
    if os.environ.get("MORTAR_JOB_BOOKMARK", "disable") == "disable":
        return df
    if not parts:
        return df.where(F.lit(False))
    conds = []
    for p in parts:
        values = [tuple(unescape_path_name(x) for x in kv.split("=", 1)) for kv in p.split("/")]
        conds.append(reduce(lambda a, b: a & b, [F.col(k) == F.lit(v) for k, v in values]))
    return df.where(reduce(lambda a, b: a | b, conds))


def workflow_run_id() -> int | None:
    value = os.environ.get("MORTAR_WORKFLOW_RUN_ID")
    return int(value) if value else None


def get_run_properties() -> dict:
    """The run properties of the workflow run this job runs in ({} outside workflows)."""
    wid = workflow_run_id()
    return {} if wid is None else _catalog().workflows.run_properties(wid)


def put_run_properties(properties: dict) -> dict:
    """Merge `properties` into the workflow run's run properties (later jobs of the run read them)."""
    wid = workflow_run_id()
    if wid is None:
        raise RuntimeError("this job run is not part of a workflow run")
    return _catalog().workflows.put_run_properties(wid, properties)


def reset_bookmark() -> None:
    """Forget what this job processed: the next run reads everything again."""
    _catalog().jobs.reset_bookmark(job_name())


sys.modules.setdefault("mortar_job", sys.modules[__name__])
