"""The JSON API of profiles, previews and recommended mappings (routes on api.bp; described in
openapi_profiles.py).

Reading (a profile, its runs, a preview, a recommended mapping) needs read on the table's database;
starting a profile (it writes the table's statistics) needs write too. A profile run is executed by a
worker: the task `runner.profile` is sent by name.
"""

from __future__ import annotations

from flask import jsonify, request

from metastore.catalog import profiles
from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.mapping import split_table_name
from metastore.catalog.preview import DEFAULT_ROWS, MAX_ROWS, preview
from metastore.catalog.recommend import recommend_mapping, unmatched_targets
from metastore.web.api import _int_arg, _service, bp
from metastore.web.api_jobs import optional_body
from metastore.web.security import require_db, require_edit, state

PREVIEW_TIMEOUT_S = 10.0


def start_profile(svc, db: str, table: str, mode: str = "full", partitions: list[str] | None = None,
                  everything: bool = False) -> profiles.ProfileRun:  # fmt: skip
    """Record a profile run and send it to the workers (`everything`: every partition again)."""
    svc.tables.get(db, table)
    if everything and partitions is None:
        partitions = [p for p in profiles.partitions_to_profile(svc, db, table, everything=True)] or None
    run = profiles.runs(svc).request(db, table, mode, partitions)
    state().send_task(profiles.PROFILE_TASK, [run.id])
    return run


def table_profile(svc, db: str, table: str) -> dict:
    """The newest profile of a table: its run, the table's profile and its partitions'."""
    svc.tables.get(db, table)
    run = profiles.runs(svc).latest(db, table)
    parts = profiles.partition_profiles(svc, db, table) if svc.tables.get(db, table).partition_keys else {}
    return {"run": run.as_dict(with_result=False) if run else None,
            "table": (run.result or {}).get("table") if run else None, "partitions": parts}  # fmt: skip


def recommended(svc, source: str, target: str | None) -> dict:
    sdb, stable = split_table_name("source", source)
    require_db(sdb)
    tdb = ttable = None
    target_columns = None
    if target:
        tdb, ttable = split_table_name("target", target)
        require_db(tdb)
        try:
            t = svc.tables.get(tdb, ttable)
            target_columns = [(c.name, c.type) for c in [*t.sd.cols, *t.partition_keys]]
        except NotFound:
            pass
    proposals = recommend_mapping(svc, sdb, stable, tdb, ttable)
    return {"source": f"{sdb}.{stable}", "target": f"{tdb}.{ttable}" if target else None,
            "target_exists": target_columns is not None, "columns": proposals,
            "unmapped_targets": unmatched_targets(proposals, target_columns) if target_columns else []}  # fmt: skip


@bp.post("/tables/<db>/<table>/profile")
def api_start_profile(db: str, table: str):
    """Start a profile: `mode` full (a Spark job) or metadata (file footers); `partitions` to profile (default:
    those never profiled), `all` to profile every partition again."""
    require_db(db)
    require_edit()
    body = optional_body() or {}
    mode = body.get("mode") or "full"
    parts = body.get("partitions")
    if parts is not None and (not isinstance(parts, list) or not all(isinstance(p, str) for p in parts)):
        raise InvalidInput("partitions must be a list of partition names")
    run = start_profile(_service(), db, table, str(mode), parts, bool(body.get("all")))
    return jsonify(run.as_dict()), 202


@bp.get("/tables/<db>/<table>/profile")
def api_table_profile(db: str, table: str):
    require_db(db)
    return jsonify(table_profile(_service(), db, table))


@bp.get("/tables/<db>/<table>/profile/runs")
def api_profile_runs(db: str, table: str):
    require_db(db)
    svc = _service()
    svc.tables.get(db, table)
    limit = _int_arg("limit", 50, 1, 1000)
    items = [r.as_dict(with_result=False) for r in profiles.runs(svc).list(db, table, limit)]
    return jsonify({"items": items, "total": len(items)})


@bp.get("/tables/<db>/<table>/profile/runs/<int:run_id>")
def api_profile_run(db: str, table: str, run_id: int):
    require_db(db)
    run = profiles.runs(_service()).get(run_id)
    if (run.db_name, run.table_name) != (db.lower(), table.lower()):
        raise NotFound(f"table {db}.{table} has no profile run {run_id}")
    return jsonify(run.as_dict())


@bp.get("/tables/<db>/<table>/preview")
def api_preview(db: str, table: str):
    """The first `limit` rows (default 20, at most 200) of a table, or of its `partition`."""
    require_db(db)
    limit = _int_arg("limit", DEFAULT_ROWS, 1, MAX_ROWS)
    return jsonify(preview(_service(), db, table, request.args.get("partition") or None, limit, PREVIEW_TIMEOUT_S))


@bp.get("/tables/<db>/<table>/recommended-mapping")
def api_recommended_mapping(db: str, table: str):
    """The proposed mapping of this table's columns onto `target` (db.table; a new table if it does not exist
    or is not named), each proposal with its reason."""
    return jsonify(recommended(_service(), f"{db}.{table}", request.args.get("target") or None))
