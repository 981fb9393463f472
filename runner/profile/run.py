"""A profile run on a worker: take it, plan what to read (the table, or its partitions not profiled yet),
compute (Spark in a child process; or the files' footers alone in `metadata` mode), store the profiles as
statistics, and record how it ended."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from metastore.catalog import Conflict, profiles
from metastore.catalog.paths import check_location
from metastore.catalog.profiles import ProfileRun
from metastore.catalog.types import Table

log = logging.getLogger(__name__)

EXACT_BELOW_BYTES = 64 * 1024 * 1024  # data smaller than this: distinct values counted exactly
TIMEOUT_S = 3600
_HIDDEN = ("_", ".")


def table_format(table: Table) -> tuple[str, dict[str, str]]:
    """(format, Spark CSV options) of a table, from its classification or SerDe."""
    fmt = (table.parameters.get("classification") or "").lower()
    lib = (table.sd.serde.serialization_lib or "").lower()
    params = table.sd.serde.parameters
    if not fmt:
        fmt = next((f for f in ("parquet", "orc", "avro", "json", "csv") if f in lib), "")
        if not fmt and "lazysimpleserde" in lib:
            fmt = "csv"
    if fmt in ("csv", "tsv") or ("lazysimpleserde" in lib and fmt not in ("json",)):
        sep = params.get("separatorChar") or params.get("field.delim") or params.get("sep") or ","
        header = table.parameters.get("skip.header.line.count", "0") not in ("", "0")
        options = {"sep": sep, "header": str(header).lower()}
        options["quote"] = params.get("quoteChar", '"') if "separatorChar" in params else "\u0000"
        return "csv", options
    return fmt, {}


def list_files(location: str) -> list[tuple[str, int]]:
    """(path, size) of the data files under `location` (hidden files such as _SUCCESS left out)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(location)
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        return []
    return [(p, int(info.get("size") or 0)) for p, info in sorted(found.items())
            if info.get("type") != "directory" and not any(part.startswith(_HIDDEN)
                                                           for part in p[len(root):].split("/") if part)]  # fmt: skip


def plan(service, run: ProfileRun) -> dict:
    """What the run reads: the table's location, or its partitions' (those named, else those never
    profiled); each checked against the allowed_paths setting."""
    table = service.tables.get(run.db_name, run.table_name)
    if table.is_view:
        raise ValueError(f"{run.db_name}.{run.table_name} is a view: views have no data of their own to profile")
    fmt, options = table_format(table)
    if table.partition_keys:
        names = run.partitions if run.partitions is not None else profiles.partitions_to_profile(
            service, run.db_name, run.table_name, mode=run.mode)  # fmt: skip
        parts = service.partitions.get_by_names(run.db_name, run.table_name, names) if names else []
        keys = [k.name for k in table.partition_keys]
        targets = [{"partition": profiles.make_name(keys, p.values), "location": p.sd.location} for p in parts]
    else:
        targets = [{"partition": None, "location": table.sd.location}]
    for t in targets:
        if not t["location"]:
            raise ValueError(f"{run.db_name}.{run.table_name} ({t['partition'] or 'table'}) has no location")
        check_location(t["location"], f"profile of {run.db_name}.{run.table_name}", warehouse=service.warehouse.root)
        files = list_files(t["location"])
        t["files"], t["size"] = len(files), sum(s for _, s in files)
        t["paths"] = [p for p, _ in files]
        t["sizes"] = [s for _, s in files]
        t["exact"] = t["size"] < EXACT_BELOW_BYTES
    return {"format": fmt, "options": options, "targets": targets,
            "columns": [[c.name.lower(), c.type] for c in table.sd.cols]}  # fmt: skip


def _spark_child(request: dict, master: str, timeout_s: float) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="mortar-profile-") as tmp:
        req, out = Path(tmp, "request.json"), Path(tmp, "profile.json")
        req.write_text(json.dumps({**request, "master": master, "targets": [
            {k: t[k] for k in ("partition", "location", "exact")} for t in request["targets"]]}))  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "runner.profile.job", str(req), str(out)],
                              capture_output=True, text=True, timeout=timeout_s, env=os.environ.copy())  # fmt: skip
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stderr or "").strip().splitlines()[-8:])
            raise RuntimeError(f"the Spark profile job failed (exit {proc.returncode}): {tail}")
        return json.loads(out.read_text())["profiles"]


def compute(request: dict, mode: str, master: str = "local[1]", spark=None, timeout_s: float = TIMEOUT_S) -> list[dict]:
    """The profile of each target: footers alone (`metadata`), or Spark (`spark`: in this process's session,
    else a child process)."""
    if mode == "metadata":
        from runner.crawler.file_stats import FOOTER_FORMATS, profile_files

        if request["format"] not in FOOTER_FORMATS:
            raise ValueError(f"a profile from file metadata reads Parquet or ORC footers: {request['format']} tables "
                             "need a full profile")  # fmt: skip

        return [profile_files(t["paths"], request["format"], sizes=t["sizes"]) if t["paths"] else
                {"rows": 0, "size": 0, "files": 0, "method": "metadata", "columns": {}}
                for t in request["targets"]]  # fmt: skip
    if not any(t["paths"] for t in request["targets"]):
        return [{"rows": 0, "method": "spark", "columns": {}} for _ in request["targets"]]
    if spark is not None:
        from runner.profile.job import compute as in_session

        return in_session(spark, request)
    return _spark_child(request, master, timeout_s)


def run_profile(service, run_id: int, master: str = "local[1]", spark=None) -> ProfileRun:
    """Execute profile run `run_id` (QUEUED) and record its end; a run taken by another worker is left."""
    area = profiles.runs(service)
    try:
        run = area.claim(run_id, f"{socket.gethostname()}:{os.getpid()}")
    except Conflict as e:
        log.info("profile run %d not taken: %s", run_id, e)
        return area.get(run_id)
    svc = service.for_user(run.requested_by)  # the statistics are written as done by who asked
    try:
        request = plan(svc, run)
        found = compute(request, run.mode, master, spark)
        done = []
        for target, profile in zip(request["targets"], found, strict=True):
            profile.update(size=target["size"], files=target["files"])
            profiles.store(svc, run.db_name, run.table_name, profile, target["partition"])
            done.append(target["partition"])
        if any(p is not None for p in done) or (request["targets"] == [] and run.partitions is None):
            table_profile = profiles.store_table_from_partitions(svc, run.db_name, run.table_name)
        else:
            table_profile = found[0] if found else None
        result = {"table": table_profile, "partitions": [p for p in done if p is not None]}
        return area.finish(run_id, "SUCCEEDED", result=result)
    except Exception as e:  # noqa: BLE001 - recorded as the run's error
        log.exception("profile run %d failed", run_id)
        return area.finish(run_id, "FAILED", error=f"{type(e).__name__}: {e}")
