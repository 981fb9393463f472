"""Console pages of governance: a table's lineage graph (server-drawn SVG) with the runs behind each edge,
its annotations (owner, description, tags, classifications of the table and its columns) with their
history, and a job's inputs and outputs (a Jinja global the job page includes)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from markupsafe import Markup

from metastore.catalog.errors import CatalogError, Forbidden
from metastore.web import lineage_graph
from metastore.web.console import _service, bp
from metastore.web.security import current_identity, forbidden, require_db, require_edit


def _link(node: dict) -> str | None:
    if node["kind"] == "table":
        return url_for("console.table_lineage", db=node["db"], table=node["table"])
    if node["kind"] == "job":
        return url_for("console.job", name=node["name"])
    if node["kind"] == "crawler":
        return url_for("console.crawler", name=node["name"])
    return None


@bp.get("/databases/<db>/tables/<table>/lineage")
def table_lineage(db: str, table: str):
    require_db(db)
    svc = _service()
    t = svc.tables.get(db, table)
    direction = request.args.get("direction") if request.args.get("direction") in ("up", "down") else "both"
    try:
        depth = max(1, min(int(request.args.get("depth") or 3), 10))
    except ValueError:
        depth = 3
    try:
        graph = svc.lineage.graph(current_identity(), db, table, direction, depth)
    except Forbidden as e:
        raise forbidden(str(e)) from None
    names = {n["id"]: n for n in graph["nodes"]}
    drawing = Markup(lineage_graph.svg(graph, _link)) if graph["edges"] else None  # noqa: S704 - escaped in svg()
    return render_template("lineage.html", t=t, graph=graph, names=names, svg=drawing, direction=direction,
                           depth=depth)  # fmt: skip


@bp.route("/databases/<db>/tables/<table>/annotations", methods=["GET", "POST"])
def table_annotations(db: str, table: str):
    require_db(db)
    svc = _service()
    t = svc.tables.get(db, table)
    identity = current_identity()
    if request.method == "POST":
        require_edit()
        column = request.form.get("column") or ""
        try:
            svc.annotations.set(identity, db, table, column,
                                owner=request.form.get("owner") or None,
                                description=request.form.get("description") or None,
                                tags=_split(request.form.get("tags")),
                                classifications=_split(request.form.get("classifications")))  # fmt: skip
            flash(f"Annotation of {column or t.name} saved.")
        except Forbidden as e:
            raise forbidden(str(e)) from None
        except CatalogError as e:
            flash(str(e), "error")
        return redirect(url_for("console.table_annotations", db=db, table=table))
    notes = svc.annotations.of_table(identity, db, table)
    history = svc.annotations.history(identity, db, table, 50)
    return render_template("annotations.html", t=t, notes=notes, history=history)


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").replace("\n", ",").split(",") if p.strip()]


def job_lineage(name: str) -> dict:
    """What job `name`'s runs read and wrote (for the job page)."""
    return _service().lineage.of_process(current_identity(), "job", name)


@bp.record_once
def _globals(state) -> None:
    state.app.jinja_env.globals["job_lineage"] = job_lineage
