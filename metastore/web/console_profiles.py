"""Console pages of a table's profile (the newest profile per column, the partitions', the runs; a button
that starts one) and of its data preview (the first rows, of the table or of one partition)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from metastore.catalog import profiles
from metastore.catalog.errors import CatalogError
from metastore.catalog.preview import DEFAULT_ROWS, MAX_ROWS, preview
from metastore.web.api_profiles import PREVIEW_TIMEOUT_S, start_profile, table_profile
from metastore.web.console import _service, bp
from metastore.web.security import require_db, require_edit


@bp.get("/databases/<db>/tables/<table>/profile")
def table_profile_page(db: str, table: str):
    require_db(db)
    svc = _service()
    t = svc.tables.get(db, table)
    got = table_profile(svc, db, table)
    runs = profiles.runs(svc).list(db, table, 20)
    under_way = any(r.state in ("QUEUED", "RUNNING") for r in runs)
    return render_template("table_profile.html", t=t, profile=got["table"], run=got["run"],
                           partitions=got["partitions"], runs=runs, under_way=under_way)  # fmt: skip


@bp.post("/databases/<db>/tables/<table>/profile")
def start_table_profile(db: str, table: str):
    require_db(db)
    require_edit()
    mode = "metadata" if request.form.get("mode") == "metadata" else "full"
    run = start_profile(_service(), db, table, mode, None, request.form.get("all") == "1")
    flash(f"profile run {run.id} queued: a worker will run it", "queued")
    return redirect(url_for("console.table_profile_page", db=db, table=table))


@bp.get("/databases/<db>/tables/<table>/preview")
def table_preview_page(db: str, table: str):
    require_db(db)
    svc = _service()
    t = svc.tables.get(db, table)
    partition = request.args.get("partition") or None
    try:
        limit = max(1, min(int(request.args.get("limit") or DEFAULT_ROWS), MAX_ROWS))
    except ValueError:
        limit = DEFAULT_ROWS
    error, got = None, None
    try:
        got = preview(svc, db, table, partition, limit, PREVIEW_TIMEOUT_S)
    except CatalogError as e:
        error = str(e)
    partitions = svc.partitions.names(db, table, 200) if t.partition_keys else []
    return render_template("table_preview.html", t=t, got=got, error=error, partition=partition, limit=limit,
                           partitions=partitions)  # fmt: skip


def recommend_into_form(form):
    """The generate form again, its columns filled with the recommended mapping (one `source:target:type`
    line per proposal, to accept or edit) and the proposals' reasons listed."""
    from metastore.catalog.mapping import FORMATS, MODES, STYLES
    from metastore.web.api_profiles import recommended

    f = {k: form.get(k) for k in form}
    proposals, unmapped, error = [], [], None
    try:
        source = (form.get("source") or "").strip()
        got = recommended(_service(), source, (form.get("target") or "").strip() or None)
        proposals, unmapped = got["columns"], got["unmapped_targets"]
        f["columns"] = "\n".join(f"{p['source']}:{p['target']}:{p['target_type']}" for p in proposals)
    except CatalogError as e:
        error = str(e)
    return render_template("job_generate.html", f=f, error=error, formats=FORMATS, modes=MODES, styles=STYLES,
                           proposals=proposals, unmapped=unmapped)  # fmt: skip
