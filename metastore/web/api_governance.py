"""The JSON API of governance: lineage (a table's graph, a column's impact, what a job or crawler read and
wrote, OpenLineage events in at the Marquez-compatible POST /lineage), annotations with their history,
the event feed (GET /events?after=<cursor>) and subscriptions with their delivery log. Routes are added
to api.bp; they are described in openapi_governance.py. Every call asks access.py (through the catalog).
"""

from __future__ import annotations

from flask import jsonify, request

from metastore.catalog.errors import InvalidInput
from metastore.catalog.events import EVENT_TYPES, Subscription
from metastore.web.api import _body, _int_arg, _service, bp
from metastore.web.security import current_identity


def _identity():
    return current_identity()


# --- lineage -----------------------------------------------------------------------------------------------


@bp.get("/tables/<db>/<table>/lineage")
def table_lineage(db: str, table: str):
    """The table's upstream (`direction=up`), downstream (`down`) or both graphs to `depth` hops."""
    direction = request.args.get("direction") or "up"
    depth = _int_arg("depth", 3, 1, 10)
    return jsonify(_service().lineage.graph(_identity(), db, table, direction, depth))


@bp.get("/tables/<db>/<table>/columns/<column>/impact")
def column_impact(db: str, table: str, column: str):
    """What a change of the column reaches downstream: columns, jobs, tables without column lineage."""
    return jsonify(_service().lineage.impact(_identity(), db, table, column, _int_arg("depth", 5, 1, 10)))


@bp.get("/jobs/<name>/lineage")
def job_lineage(name: str):
    """The tables and datasets a job's runs read (inputs) and wrote (outputs)."""
    svc = _service()
    svc.jobs.get(name)
    return jsonify(svc.lineage.of_process(_identity(), "job", name))


@bp.get("/crawlers/<name>/lineage")
def crawler_lineage(name: str):
    """The locations a crawler's runs read and the tables they made from them."""
    svc = _service()
    crawler = svc.crawlers.get(name)
    svc.access.check(_identity(), "read", crawler.database)
    return jsonify(svc.lineage.of_process(_identity(), "crawler", name))


@bp.post("/lineage")
def openlineage_in():
    """An OpenLineage run event of another producer (Airflow, dbt, Spark...), as Marquez accepts it."""
    return jsonify(_service().lineage.ingest(_identity(), _body())), 201


# --- annotations -------------------------------------------------------------------------------------------


def _changes() -> dict:
    """The annotation fields sent (owner, description, tags, classifications); others are refused."""
    return _body()


@bp.get("/databases/<db>/annotation")
def database_annotation(db: str):
    return jsonify(_service().annotations.get(_identity(), db).as_dict())


@bp.put("/databases/<db>/annotation")
def set_database_annotation(db: str):
    return jsonify(_service().annotations.set(_identity(), db, **_changes()).as_dict())


@bp.get("/tables/<db>/<table>/annotations")
def table_annotations(db: str, table: str):
    """The table's annotation and its columns'."""
    a = _service().annotations.of_table(_identity(), db, table)
    return jsonify({"table": a["table"].as_dict(), "columns": {k: v.as_dict() for k, v in a["columns"].items()}})


@bp.put("/tables/<db>/<table>/annotation")
def set_table_annotation(db: str, table: str):
    return jsonify(_service().annotations.set(_identity(), db, table, **_changes()).as_dict())


@bp.put("/tables/<db>/<table>/columns/<column>/annotation")
def set_column_annotation(db: str, table: str, column: str):
    return jsonify(_service().annotations.set(_identity(), db, table, column, **_changes()).as_dict())


@bp.get("/tables/<db>/<table>/annotation-history")
def annotation_history(db: str, table: str):
    """Who changed the annotations of the table and its columns, when, and what (newest first)."""
    items = _service().annotations.history(_identity(), db, table, _int_arg("limit", 100, 1, 1000))
    return jsonify({"items": items})


# --- events and subscriptions --------------------------------------------------------------------------------


@bp.get("/events")
def list_events():
    """Events after the cursor `after`, oldest first; ask again with `next` (the cursor to go on from)."""
    types = request.args.getlist("type") or None
    bad = [t for t in types or [] if t not in EVENT_TYPES]
    if bad:
        raise InvalidInput(f"unknown event type(s) {', '.join(bad)}; known: {', '.join(EVENT_TYPES)}")
    items, cursor = _service().events.feed(_identity(), _int_arg("after", 0, 0, 2**62),
                                           _int_arg("limit", 100, 1, 1000), types)  # fmt: skip
    return jsonify({"items": items, "next": cursor})


def _subscription_json(s: Subscription) -> dict:
    out = s.as_dict()
    out.pop("secret", None)
    out["secret"] = getattr(s, "secret", None)
    if out["secret"] is None:
        out.pop("secret")
    return out


@bp.get("/subscriptions")
def list_subscriptions():
    return jsonify({"items": [_subscription_json(s) for s in _service().events.list(_identity())]})


@bp.post("/subscriptions")
def create_subscription():
    """Subscribe to event types by webhook (the answer holds its signing secret, shown once) or e-mail."""
    body = _body()
    unknown = set(body) - {"name", "events", "channel", "target", "database", "object", "enabled"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    s = Subscription(body.get("name"), body.get("events"), body.get("channel"), body.get("target"),
                     body.get("database"), body.get("object"), enabled=body.get("enabled", True) is not False)  # fmt: skip
    return jsonify(_subscription_json(_service().events.create(_identity(), s))), 201


@bp.get("/subscriptions/<name>")
def get_subscription(name: str):
    return jsonify(_subscription_json(_service().events.get(_identity(), name)))


@bp.delete("/subscriptions/<name>")
def delete_subscription(name: str):
    _service().events.delete(_identity(), name)
    return "", 204


@bp.get("/subscriptions/<name>/deliveries")
def subscription_deliveries(name: str):
    """The delivery log: each event's state (PENDING, SENDING, SENT, FAILED), attempts and last error."""
    items = _service().events.deliveries(_identity(), name, _int_arg("limit", 100, 1, 1000))
    return jsonify({"items": items})
