"""The JSON API under /api/v1: databases, tables, partitions, functions, crawlers and their runs, classifiers,
users and tokens. Its OpenAPI description is `openapi.SPEC` (served at /api/v1/openapi.json); a test checks
that every route here is in it.

Lists take `limit` (1-1000, default 50) and `offset`, and `q` (a name substring), and answer
`{"items": [...], "total": n, "limit": l, "offset": o}`; partitions are paged by cursor (`after`, answered
as `next`). Errors: `{"error": {"type": ..., "message": ...}}` with 400, 401, 403, 404, 405 or 409.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, g, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from metastore.catalog.crawlers import RUN_STATES, next_fire_times
from metastore.catalog.errors import AlreadyExists, CatalogError, Conflict, Forbidden, InvalidInput, NotFound
from metastore.web import serialize as ser
from metastore.web.security import (
    SAFE_METHODS,
    check_csrf,
    check_ids,
    current_user,
    require_admin,
    require_db,
    require_edit,
    state,
    unauthorized,
    visible_databases,
)

PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)

STATUS = {NotFound: 404, AlreadyExists: 409, Conflict: 409, InvalidInput: 400, Forbidden: 403}


def error_response(status: int, kind: str, message: str):
    response = jsonify({"error": {"type": kind, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mortar"'
    return response


@bp.app_errorhandler(CatalogError)
def catalog_error(e: CatalogError):
    status = next((s for cls, s in STATUS.items() if isinstance(e, cls)), 400)
    if request.path.startswith(PREFIX):
        return error_response(status, type(e).__name__, str(e))
    from metastore.web.console import error_page

    return error_page(status, type(e).__name__, str(e))


@bp.app_errorhandler(HTTPException)
def http_error(e: HTTPException):
    if not request.path.startswith(PREFIX):
        return e
    kind = type(e).__name__
    message = e.description or kind
    if e.code == 404:
        message = f"no API endpoint {request.method} {request.path}"
    elif e.code == 405:
        message = f"method {request.method} is not allowed on {request.path}"
    return error_response(e.code or 500, kind, message)


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


@bp.before_request
def _authenticate():
    if g.get("auth") == "bad-token":
        raise unauthorized("the API token is not valid (revoked, or never issued)")
    if request.endpoint in ("api.openapi_spec", "api.index"):
        return
    current_user()
    check_ids()
    if request.method not in SAFE_METHODS and g.auth == "session":
        check_csrf(request.headers.get("X-CSRF-Token"))
    if any(_has_nul(v) for v in request.args.values()) or any(
        _has_nul(v) for v in (request.view_args or {}).values()
    ):
        raise InvalidInput("a parameter contains a NUL character")


def _service():
    return state().service.for_user(current_user().name)


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object (Content-Type: application/json)")
    if _has_nul(data):
        raise InvalidInput("the request body contains a NUL character")
    return data


def _int_arg(name: str, default: int | None, low: int = 0, high: int = 10**12) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"parameter {name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"parameter {name} must be from {low} to {high}")
    return value


def _paging() -> tuple[str | None, int, int]:
    return request.args.get("q") or None, _int_arg("limit", 50, 1, 1000), _int_arg("offset", 0)


def _bool_arg(name: str) -> bool:
    raw = (request.args.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise InvalidInput(f"parameter {name} must be true or false")
    return raw in ("true", "1", "yes")


def _page(items: list, total: int, limit: int, offset: int):
    return jsonify({"items": items, "total": total, "limit": limit, "offset": offset})


# --- spec, identity ----------------------------------------------------------------------------------


@bp.get("/")
def index():
    """Where to start (open, like the description): links to the description, the docs page and the lists."""
    from metastore.web.openapi import SPEC

    lists = sorted(p for p, ops in SPEC["paths"].items() if "get" in ops and "{" not in p and p != "/")
    return jsonify({"name": "Mortar API", "version": SPEC["info"]["version"],
                    "openapi": url_for("api.openapi_spec"), "docs": url_for("api_docs.docs"),
                    "authentication": "Authorization: Bearer <token> (console: API tokens), or the console's session",
                    "lists": [PREFIX + p for p in lists]})  # fmt: skip


@bp.get("/openapi.json")
def openapi_spec():
    """The OpenAPI 3 description of this API (readable without logging in: it holds no data)."""
    from metastore.web.openapi import SPEC

    return jsonify(SPEC)


@bp.get("/me")
def me():
    return jsonify(ser.user(current_user()))


# --- databases ---------------------------------------------------------------------------------------


@bp.get("/databases")
def list_databases():
    q, limit, offset = _paging()
    rows, total = _service().browse.databases(q, limit, offset, only=visible_databases())
    return _page([ser.database(d, n) for d, n in rows], total, limit, offset)


@bp.post("/databases")
def create_database():
    db = ser.database_in(_body())
    require_edit()
    require_db(db.name)
    created = _service().databases.create(db)
    return jsonify(ser.database(created)), 201


@bp.get("/databases/<db>")
def get_database(db: str):
    require_db(db)
    return jsonify(ser.database(_service().databases.get(db)))


@bp.put("/databases/<db>")
def update_database(db: str):
    require_edit()
    require_db(db)
    new = ser.database_in(_body(), name=db)
    svc = _service()
    svc.databases.alter(db, new)
    return jsonify(ser.database(svc.databases.get(db)))


@bp.delete("/databases/<db>")
def delete_database(db: str):
    require_edit()
    require_db(db)
    _service().databases.drop(db, cascade=_bool_arg("cascade"), delete_data=_bool_arg("delete_data"))
    return "", 204


# --- tables ------------------------------------------------------------------------------------------


@bp.get("/databases/<db>/tables")
def list_tables(db: str):
    require_db(db)
    q, limit, offset = _paging()
    rows, total = _service().browse.tables(db, q, limit, offset)
    return _page([ser.table_summary(t) for t in rows], total, limit, offset)


@bp.get("/tables")
def search_tables():
    """Tables of every database the user may see whose names contain `q`."""
    q, limit, offset = _paging()
    rows, total = _service().browse.search_tables(q, limit, offset, only=visible_databases())
    return _page([ser.table_summary(t) for t in rows], total, limit, offset)


@bp.post("/databases/<db>/tables")
def create_table(db: str):
    require_edit()
    require_db(db)
    table = ser.table_in(_body(), db)
    if table.db_name.lower() != db.lower():
        raise InvalidInput(f"table {table.name} names database {table.db_name}, not {db}")
    return jsonify(ser.table(_service().tables.create(table))), 201


@bp.get("/databases/<db>/tables/<table>")
def get_table(db: str, table: str):
    require_db(db)
    return jsonify(ser.table(_service().tables.get(db, table)))


@bp.put("/databases/<db>/tables/<table>")
def update_table(db: str, table: str):
    """Replace the table's definition; a new `name` or `database` renames it."""
    require_edit()
    require_db(db)
    body = _body()
    new = ser.table_in(body, db, name=body.get("name") or table)
    require_db(new.db_name)
    svc = _service()
    svc.tables.alter(db, table, new, cascade=_bool_arg("cascade"))
    return jsonify(ser.table(svc.tables.get(new.db_name, new.name)))


@bp.delete("/databases/<db>/tables/<table>")
def delete_table(db: str, table: str):
    require_edit()
    require_db(db)
    _service().tables.drop(db, table, delete_data=_bool_arg("delete_data"))
    return "", 204


@bp.get("/databases/<db>/tables/<table>/partitions")
def list_partitions(db: str, table: str):
    """A page of partitions in name order; `filter` is a partition filter (`dt >= "2024-01-01" and hr = 3`),
    `after` the `next` of the previous page."""
    require_db(db)
    limit = _int_arg("limit", 50, 1, 1000)
    after = request.args.get("after") or None
    rows, nxt = _service().browse.partitions(db, table, request.args.get("filter") or None, after, limit)
    return jsonify({"items": [ser.partition(n, p) for n, p in rows], "next": nxt, "limit": limit})


@bp.get("/databases/<db>/tables/<table>/versions")
def list_versions(db: str, table: str):
    require_db(db)
    return jsonify({"items": [ser.version(v) for v in _service().tables.versions(db, table)]})


@bp.get("/databases/<db>/tables/<table>/audit")
def table_audit(db: str, table: str):
    """The table's audit history, newest first; `before` (a record id) pages back."""
    require_db(db)
    svc = _service()
    svc.tables.get(db, table)  # 404 for a missing table
    limit = _int_arg("limit", 50, 1, 1000)
    records = svc.browse.audit(db, table, _int_arg("before", None, 0, 2**62), limit)
    nxt = records[-1].id if len(records) == limit else None
    return jsonify({"items": [ser.audit(r) for r in records], "next": nxt, "limit": limit})


# --- functions ---------------------------------------------------------------------------------------


@bp.get("/databases/<db>/functions")
def list_functions(db: str):
    require_db(db)
    q, limit, offset = _paging()
    rows, total = _service().browse.functions(db, q, limit, offset)
    return _page([ser.function(f) for f in rows], total, limit, offset)


@bp.post("/databases/<db>/functions")
def create_function(db: str):
    require_edit()
    require_db(db)
    fn = ser.function_in(_body(), db)
    svc = _service()
    svc.functions.create(fn)
    return jsonify(ser.function(svc.functions.get(db, fn.name))), 201


@bp.get("/databases/<db>/functions/<name>")
def get_function(db: str, name: str):
    require_db(db)
    return jsonify(ser.function(_service().functions.get(db, name)))


@bp.put("/databases/<db>/functions/<name>")
def update_function(db: str, name: str):
    require_edit()
    require_db(db)
    fn = ser.function_in(_body(), db, name=name)
    svc = _service()
    svc.functions.alter(db, name, fn)
    return jsonify(ser.function(svc.functions.get(db, fn.name)))


@bp.delete("/databases/<db>/functions/<name>")
def delete_function(db: str, name: str):
    require_edit()
    require_db(db)
    _service().functions.drop(db, name)
    return "", 204


# --- crawlers ----------------------------------------------------------------------------------------


def _visible_crawler(svc, name: str):
    c = svc.crawlers.get(name)
    require_db(c.database)
    return c


@bp.get("/crawlers")
def list_crawlers():
    q, limit, offset = _paging()
    rows, total = _service().browse.crawlers(q, limit, offset, only=visible_databases())
    return _page([ser.crawler(c, r, with_last=True) for c, r in rows], total, limit, offset)


@bp.post("/crawlers")
def create_crawler():
    require_edit()
    c = ser.crawler_in(_body())
    require_db(c.database)
    return jsonify(ser.crawler(_service().crawlers.create(c))), 201


@bp.get("/crawlers/<name>")
def get_crawler(name: str):
    return jsonify(ser.crawler(_visible_crawler(_service(), name)))


@bp.put("/crawlers/<name>")
def update_crawler(name: str):
    require_edit()
    svc = _service()
    old = _visible_crawler(svc, name)
    c = ser.crawler_in(_body(), name=name, previous=old)
    require_db(c.database)
    return jsonify(ser.crawler(svc.crawlers.update(name, c)))


@bp.delete("/crawlers/<name>")
def delete_crawler(name: str):
    require_edit()
    svc = _service()
    _visible_crawler(svc, name)
    svc.crawlers.delete(name)
    return "", 204


def start_crawler(svc, name: str) -> str:
    """Queue a run of crawler `name` on the workers (task `runner.crawl`, sent by name); Conflict while a
    run is under way. Returns the crawler's name."""
    c = _visible_crawler(svc, name)
    running = svc.crawlers.current_run(c.name)
    if running is not None:
        raise Conflict(f"crawler {c.name} is already running (run {running.id})")
    state().send_task("runner.crawl", [c.name])
    svc.crawlers.record_request(c.name)  # who asked; the crawl's own changes are crawler:<name>'s
    return c.name


@bp.post("/crawlers/<name>/run")
def run_crawler(name: str):
    require_edit()
    crawler = start_crawler(_service(), name)
    return jsonify({"crawler": crawler, "queued": True}), 202


def stop_crawler(svc, name: str):
    """End crawler `name`'s run under way as CANCELLED; its worker sees it at its next heartbeat and stops.
    Conflict when nothing runs."""
    c = _visible_crawler(svc, name)
    running = svc.crawlers.current_run(c.name)
    if running is None:
        raise Conflict(f"crawler {c.name} is not running")
    return svc.crawlers.finish_run(
        running.id, "CANCELLED", running.metrics, f"stopped by {current_user().name}"
    )


@bp.post("/crawlers/<name>/stop")
def stop_crawler_run(name: str):
    require_edit()
    return jsonify(ser.run(stop_crawler(_service(), name)))


@bp.get("/crawlers/<name>/runs")
def list_runs(name: str):
    svc = _service()
    _visible_crawler(svc, name)
    run_state = request.args.get("state") or None
    if run_state is not None and run_state not in RUN_STATES:
        raise InvalidInput(f"state {run_state!r} is not one of {', '.join(RUN_STATES)}")
    _, limit, offset = _paging()
    runs, total = svc.browse.runs(name, run_state, limit, offset)
    return _page([ser.run(r) for r in runs], total, limit, offset)


@bp.get("/crawlers/<name>/runs/<int:run_id>")
def get_run(name: str, run_id: int):
    svc = _service()
    c = _visible_crawler(svc, name)
    r = svc.crawlers.get_run(run_id)
    if r.crawler != c.name:
        raise NotFound(f"run {run_id} of crawler {c.name} does not exist")
    return jsonify(ser.run(r))


@bp.get("/schedule-preview")
def schedule_preview():
    """The next fire times (UTC) of a cron schedule: `cron`, and `n` (1-50, default 5)."""
    cron = request.args.get("cron")
    if not cron:
        raise InvalidInput("parameter cron is required")
    n = _int_arg("n", 5, 1, 50)
    times = next_fire_times(cron, n, datetime.now(UTC))
    return jsonify(
        {"cron": " ".join(cron.split()), "times": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]}
    )


# --- classifiers -------------------------------------------------------------------------------------


@bp.get("/classifiers")
def list_classifiers():
    q, limit, offset = _paging()
    items = [c for c in _service().crawlers.list_classifiers() if not q or q.lower() in c.name]
    return _page([ser.classifier(c) for c in items[offset : offset + limit]], len(items), limit, offset)


@bp.post("/classifiers")
def create_classifier():
    require_edit()
    return jsonify(ser.classifier(_service().crawlers.create_classifier(ser.classifier_in(_body())))), 201


@bp.get("/classifiers/<name>")
def get_classifier(name: str):
    return jsonify(ser.classifier(_service().crawlers.get_classifier(name)))


@bp.put("/classifiers/<name>")
def update_classifier(name: str):
    require_edit()
    c = ser.classifier_in(_body(), name=name)
    return jsonify(ser.classifier(_service().crawlers.update_classifier(name, c)))


@bp.delete("/classifiers/<name>")
def delete_classifier(name: str):
    require_edit()
    _service().crawlers.delete_classifier(name)
    return "", 204


# --- users and tokens --------------------------------------------------------------------------------

USER_FIELDS = {"name", "password", "role", "databases"}


def _user_body(require_name: bool) -> dict:
    body = _body()
    unknown = sorted(set(body) - USER_FIELDS)
    if unknown:
        raise InvalidInput(f"user: unknown field {', '.join(unknown)}")
    if require_name and not body.get("name"):
        raise InvalidInput("user: missing field name")
    if require_name and not body.get("password"):
        raise InvalidInput("user: missing field password")
    return body


@bp.get("/users")
def list_users():
    require_admin()
    users = _service().users.list()
    return jsonify({"items": [ser.user(u) for u in users], "total": len(users)})


@bp.post("/users")
def create_user():
    require_admin()
    b = _user_body(True)
    u = _service().users.create(b["name"], b["password"], b.get("role") or "viewer", b.get("databases"))
    return jsonify(ser.user(u)), 201


@bp.get("/users/<name>")
def get_user(name: str):
    require_admin()
    return jsonify(ser.user(_service().users.get(name)))


@bp.put("/users/<name>")
def update_user(name: str):
    """Change role, password and/or databases (null: every database) of a user."""
    require_admin()
    b = _user_body(False)
    if b.get("name") not in (None, name):
        raise InvalidInput(f"user {name} cannot be renamed")
    kwargs = {k: b[k] for k in ("role", "password") if b.get(k) is not None}
    if "databases" in b:
        kwargs["databases"] = b["databases"]
    return jsonify(ser.user(_service().users.update(name, **kwargs)))


@bp.delete("/users/<name>")
def delete_user(name: str):
    me_ = require_admin()
    if name.lower() == me_.name:
        raise Conflict(f"user {me_.name} cannot delete themselves")
    _service().users.delete(name)
    return "", 204


@bp.get("/tokens")
def list_tokens():
    tokens = _service().users.tokens(current_user().name)
    return jsonify({"items": [ser.token(t) for t in tokens], "total": len(tokens)})


@bp.post("/tokens")
def create_token():
    """A new API token of the calling user; its secret is in the answer only."""
    body = _body()
    unknown = sorted(set(body) - {"name"})
    if unknown:
        raise InvalidInput(f"token: unknown field {', '.join(unknown)}")
    t, secret = _service().users.create_token(current_user().name, body.get("name"))
    return jsonify({**ser.token(t), "token": secret}), 201


@bp.delete("/tokens/<int:token_id>")
def delete_token(token_id: int):
    _service().users.delete_token(current_user().name, token_id)
    return "", 204
