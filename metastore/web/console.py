"""The console: server-rendered pages (Jinja) to browse the catalog and define, run and watch crawlers.

Every page needs a logged-in user (else: the login page); every form posts its session's CSRF token. Pages
read through the same paged catalog listings as the JSON API (`service.browse`), so a page costs a few
queries whatever the catalog's size.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup

from metastore.catalog.crawlers import (
    CLASSIFIER_KINDS,
    CSV_HEADERS,
    DELETE_BEHAVIORS,
    RECRAWL_BEHAVIORS,
    RUN_STATES,
    UPDATE_BEHAVIORS,
    Classifier,
    Crawler,
    CrawlerTarget,
    next_fire_times,
)
from metastore.catalog.errors import CatalogError, InvalidInput, NotFound
from metastore.catalog.users import ROLES
from metastore.web import charts
from metastore.web.console_forms import definition_form
from metastore.web.security import (
    SAFE_METHODS,
    WebError,
    check_csrf,
    check_ids,
    current_user,
    require_admin,
    require_db,
    require_edit,
    state,
    visible_databases,
)

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console-static")  # fmt: skip
PAGE = 50


@bp.before_request
def _login_and_csrf():
    if request.endpoint == "console.static":  # the stylesheet and scripts hold no data: the login page uses them
        return None
    if g.get("user") is None:
        if request.method in SAFE_METHODS:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        raise WebError(401, "Unauthorized", "log in first")
    if request.method not in SAFE_METHODS:
        check_csrf(request.form.get("csrf_token"))
    check_ids()


def error_page(status: int, kind: str, message: str):
    return render_template("error.html", status=status, kind=kind, message=message), status


def _service():
    return state().service.for_user(current_user().name)


def _page_args() -> tuple[str, int]:
    q = (request.args.get("q") or "").strip()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    return q, page


# --- filters -----------------------------------------------------------------------------------------


def _when_ms(ms) -> str:
    return "" if not ms else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _when_s(s) -> str:
    return "" if not s else datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms) -> str:
    if ms is None:
        return "-"
    s = ms / 1000
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["when_ms"] = _when_ms
    app.jinja_env.filters["when_s"] = _when_s
    app.jinja_env.filters["duration"] = _duration


# --- catalog -----------------------------------------------------------------------------------------


@bp.get("/")
def index():
    svc = _service()
    counts = svc.browse.counts(only=visible_databases())
    crawlers, _ = svc.browse.crawlers(None, 10, 0, only=visible_databases())
    job_runs, _ = svc.browse.job_runs(None, None, 10, 0)
    return render_template("index.html", counts=counts, crawlers=crawlers, restricted=visible_databases() is not None,
                           etl=svc.browse.etl_counts(), job_runs=job_runs)  # fmt: skip


@bp.get("/databases")
def databases():
    q, page = _page_args()
    rows, total = _service().browse.databases(q or None, PAGE, (page - 1) * PAGE, only=visible_databases())
    return render_template("databases.html", rows=rows, total=total, q=q, page=page, pages=_pages(total))


def _pages(total: int) -> int:
    return max(1, (total + PAGE - 1) // PAGE)


SEARCH_PER_KIND = 20


@bp.get("/search")
def search():
    """Every kind of object whose name contains `q` (tables also by column name), grouped by kind; tables
    and crawlers only of the databases the user may see."""
    q, _ = _page_args()
    svc, only, n = _service(), visible_databases(), SEARCH_PER_KIND
    groups = {}
    if q:
        groups["tables"] = svc.browse.search_tables(q, n, 0, only=only)
        groups["columns"] = svc.browse.search_columns(q, n, only=only)
        groups["crawlers"] = svc.browse.crawlers(q, n, 0, only=only)
        groups["jobs"] = svc.browse.jobs(q, None, None, n, 0)
        groups["triggers"] = svc.browse.triggers(q, None, None, None, n, 0)
        groups["workflows"] = svc.browse.workflows(q, n, 0)
        groups["connections"] = svc.browse.connections(q, None, n, 0)
    found = sum(len(v[0]) if isinstance(v, tuple) else len(v) for v in groups.values())
    return render_template("search.html", q=q, groups=groups, found=found, per_kind=n)


@bp.get("/databases/<db>")
def database(db: str):
    require_db(db)
    svc = _service()
    d = svc.databases.get(db)
    q, page = _page_args()
    tables, total = svc.browse.tables(db, q or None, PAGE, (page - 1) * PAGE)
    functions, nfunctions = svc.browse.functions(db, None, 100, 0)
    return render_template("database.html", db=d, tables=tables, total=total, q=q, page=page, pages=_pages(total),
                           functions=functions, nfunctions=nfunctions)  # fmt: skip


@bp.get("/databases/<db>/tables/<table>")
def table(db: str, table: str):
    require_db(db)
    svc = _service()
    t = svc.tables.get(db, table)
    tab = request.args.get("tab", "schema")
    ctx = {"t": t, "tab": tab}
    if tab == "partitions" and t.partition_keys:
        filter_text = (request.args.get("filter") or "").strip()
        after = request.args.get("after") or None
        error = None
        try:
            parts, nxt = svc.browse.partitions(db, table, filter_text or None, after, PAGE)
        except InvalidInput as e:
            parts, nxt, error = [], None, str(e)
        ctx.update(parts=parts, next=nxt, filter=filter_text, after=after, filter_error=error)
    elif tab == "versions":
        versions = svc.tables.versions(db, table)
        ctx["versions"] = versions
        by_number = {v.version: v for v in versions}
        a = _int(request.args.get("a"), versions[-2].version if len(versions) > 1 else None)
        b = _int(request.args.get("b"), versions[-1].version if versions else None)
        if a in by_number and b in by_number:
            ctx.update(a=a, b=b, diff=schema_diff(by_number[a], by_number[b]))
    elif tab == "audit":
        before = _int(request.args.get("before"), None)
        records = svc.browse.audit(db, table, before, PAGE)
        ctx.update(records=records, next=records[-1].id if len(records) == PAGE else None)
    return render_template("table.html", **ctx)


def _int(raw, default):
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def schema_diff(a, b) -> list[dict]:
    """Rows of a side-by-side diff of two schema versions: columns then partition keys, matched by name.
    Each row: left column or None, right column or None, and the change (same, added, removed, changed)."""
    rows = []
    for section, left, right in (
        ("columns", a.columns, b.columns),
        ("partition keys", a.partition_keys, b.partition_keys),
    ):
        lmap = {c.name.lower(): c for c in left}
        rmap = {c.name.lower(): c for c in right}
        order = [c.name.lower() for c in left] + [c.name.lower() for c in right if c.name.lower() not in lmap]
        for name in order:
            lc, rc = lmap.get(name), rmap.get(name)
            if lc is None:
                change = "added"
            elif rc is None:
                change = "removed"
            elif (lc.type.lower(), lc.comment or "") != (rc.type.lower(), rc.comment or ""):
                change = "changed"
            else:
                change = "same"
            rows.append({"section": section, "left": lc, "right": rc, "change": change})
    return rows


# --- crawlers ----------------------------------------------------------------------------------------


@bp.get("/crawlers")
def crawlers():
    q, page = _page_args()
    rows, total = _service().browse.crawlers(q or None, PAGE, (page - 1) * PAGE, only=visible_databases())
    return render_template("crawlers.html", rows=rows, total=total, q=q, page=page, pages=_pages(total))


def _visible_crawler(svc, name: str) -> Crawler:
    c = svc.crawlers.get(name)
    require_db(c.database)
    return c


@bp.get("/crawlers/<name>")
def crawler(name: str):
    svc = _service()
    c = _visible_crawler(svc, name)
    run_state = request.args.get("state") or None
    if run_state not in RUN_STATES:
        run_state = None
    _, page = _page_args()
    runs, total = svc.browse.runs(c.name, run_state, PAGE, (page - 1) * PAGE)
    recent, _ = svc.browse.runs(c.name, None, 100, 0)
    fires = []
    if c.schedule:
        try:
            fires = next_fire_times(c.schedule, 5)
        except InvalidInput:
            fires = []
    return render_template("crawler.html", c=c, runs=runs, total=total, page=page, pages=_pages(total),
                           state=run_state, states=RUN_STATES, fires=fires, running=svc.crawlers.current_run(c.name),
                           chart=Markup(charts.run_chart(list(reversed(recent)))))  # fmt: skip


@bp.get("/crawlers/<name>/runs/<int:run_id>")
def crawler_run(name: str, run_id: int):
    """One run of a crawler: its metrics, the files it skipped and why, the tables it created or changed
    (its audit records), its error and any warning its metrics carry."""
    svc = _service()
    c = _visible_crawler(svc, name)
    run = svc.crawlers.get_run(run_id)
    if run.crawler != c.name:
        raise NotFound(f"crawler {c.name} has no run {run_id}")
    metrics = run.metrics or {}
    warnings = metrics.get("warnings") or []
    if isinstance(warnings, str):
        warnings = [warnings]
    if metrics.get("warning"):
        warnings = [metrics["warning"], *warnings]
    changes: dict[str, list[str]] = {}
    for rec in svc.browse.crawler_run_changes(run, c.database):
        if rec.object_name:
            actions = changes.setdefault(rec.object_name, [])
            if rec.action not in actions:
                actions.append(rec.action)
    return render_template("crawler_run.html", c=c, run=run, m=metrics, skipped=metrics.get("skipped") or [],
                           warnings=[str(w) for w in warnings], changes=changes)  # fmt: skip


def _form_crawler(form, name: str | None, previous: Crawler | None) -> Crawler:
    """A crawler from the definition form; InvalidInput for numbers that are not."""

    def number(field: str) -> int | None:
        raw = (form.get(field) or "").strip()
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{field.replace('_', ' ')} {raw!r} is not a whole number") from None

    exclusions = [x.strip() for x in (form.get("exclusions") or "").splitlines() if x.strip()]
    targets = [
        CrawlerTarget(p.strip(), exclusions) for p in (form.get("targets") or "").splitlines() if p.strip()
    ]
    options = {}
    for line in (form.get("storage_options") or "").splitlines():
        if line.strip():
            key, sep, value = line.partition("=")
            if not sep:
                raise InvalidInput(f"storage option {line.strip()!r} is not KEY=VALUE")
            value = value.strip()
            if value == "***" and previous is not None:
                value = previous.storage_options.get(key.strip(), value)
            options[key.strip()] = value
    return Crawler(
        name=name or (form.get("name") or "").strip(),
        targets=targets,
        database=(form.get("database") or "").strip(),
        table_prefix=(form.get("table_prefix") or "").strip(),
        classifiers=[x.strip() for x in (form.get("classifiers") or "").split(",") if x.strip()],
        update_behavior=form.get("update_behavior") or UPDATE_BEHAVIORS[0],
        delete_behavior=form.get("delete_behavior") or DELETE_BEHAVIORS[1],
        recrawl_behavior=form.get("recrawl_behavior") or RECRAWL_BEHAVIORS[0],
        sample_size=number("sample_size"),
        combine_compatible_schemas=form.get("combine_compatible_schemas") == "on",
        table_level=number("table_level"),
        schedule=(form.get("schedule") or "").strip() or None,
        description=(form.get("description") or "").strip() or None,
        storage_options=options,
    )


def _form_page(c: Crawler | None, editing: bool, error: str | None = None, status: int = 200):
    fires, fire_error = [], None
    if c is not None and c.schedule:
        try:
            fires = next_fire_times(c.schedule, 5)
        except InvalidInput as e:
            fire_error = str(e)
    return render_template("crawler_form.html", c=c, editing=editing, error=error, fires=fires, fire_error=fire_error,
                           update_behaviors=UPDATE_BEHAVIORS, delete_behaviors=DELETE_BEHAVIORS,
                           recrawl_behaviors=RECRAWL_BEHAVIORS), status  # fmt: skip


def _sent_crawler(previous: Crawler | None):
    """A parse for definition_form: the crawler sent, in a database the user may see (even to preview it)."""

    def parse(form, name: str | None) -> Crawler:
        c = _form_crawler(form, name, previous)
        require_db(c.database)
        return c

    return parse


@bp.route("/crawlers/new", methods=["GET", "POST"])
def new_crawler():
    require_edit()

    def create(c: Crawler):
        created = _service().crawlers.create(c)
        flash(f"Crawler {created.name} created.")
        return redirect(url_for("console.crawler", name=created.name))

    return definition_form(_form_page, _sent_crawler(None), create, preview=True)


@bp.route("/crawlers/<name>/edit", methods=["GET", "POST"])
def edit_crawler(name: str):
    require_edit()
    svc = _service()
    old = _visible_crawler(svc, name)

    def save(c: Crawler):
        svc.crawlers.update(old.name, c)
        flash(f"Crawler {old.name} saved.")
        return redirect(url_for("console.crawler", name=old.name))

    return definition_form(_form_page, _sent_crawler(old), save, old, preview=True)


@bp.post("/crawlers/<name>/run")
def run_crawler(name: str):
    from metastore.web.api import start_crawler

    require_edit()
    crawler_name = start_crawler(_service(), name)
    flash(f"Crawler {crawler_name} queued: a worker will start it.")
    return redirect(url_for("console.crawler", name=crawler_name))


@bp.post("/crawlers/<name>/dry-run")
def dry_run_crawler(name: str):
    """Queue a dry run: a worker crawls, changes nothing, and records what a crawl would do as a DRY_RUN run
    (the web layer sends the task by name: it does not run crawls itself)."""
    from metastore.catalog.dispatch import DRY_RUN_TASK

    require_edit()
    svc = _service()
    c = _visible_crawler(svc, name)
    state().send_task(DRY_RUN_TASK, [c.name])
    svc.crawlers.record_request(c.name, dry_run=True)
    flash(f"Dry run of crawler {c.name} queued: its result appears in the runs below as DRY_RUN.")
    return redirect(url_for("console.crawler", name=c.name))


@bp.post("/crawlers/<name>/stop")
def stop_crawler(name: str):
    from metastore.web.api import stop_crawler as stop

    require_edit()
    run = stop(_service(), name)
    flash(f"Run {run.id} of crawler {run.crawler} stopped.")
    return redirect(url_for("console.crawler", name=run.crawler))


@bp.post("/crawlers/<name>/delete")
def delete_crawler(name: str):
    require_edit()
    svc = _service()
    c = _visible_crawler(svc, name)
    svc.crawlers.delete(c.name)
    flash(f"Crawler {c.name} deleted.")
    return redirect(url_for("console.crawlers"))


CLASSIFIER_TEXT_FIELDS = ("classification", "grok_pattern", "custom_patterns", "json_path", "csv_delimiter",
                          "csv_quote", "csv_header", "xml_row_tag")  # fmt: skip


def _form_classifier(form, name: str | None = None) -> Classifier:
    """A classifier from the form (named `name` when editing): the fields of other kinds than the one chosen
    are ignored."""
    kind = form.get("kind") or ""
    fields = {f: (form.get(f) or None) for f in CLASSIFIER_TEXT_FIELDS}
    columns = [x.strip() for x in (form.get("csv_column_names") or "").split(",") if x.strip()]
    own = {"grok": ("grok_pattern", "custom_patterns"), "json": ("json_path",), "xml": ("xml_row_tag",),
           "csv": ("csv_delimiter", "csv_quote", "csv_header")}.get(kind, ())  # fmt: skip
    values = {f: v for f, v in fields.items() if f == "classification" or f in own}
    if kind == "csv" and columns:
        values["csv_column_names"] = columns
    return Classifier(name=name or (form.get("name") or "").strip(), kind=kind, **values)


@bp.route("/classifiers", methods=["GET", "POST"])
def classifiers():
    svc = _service()
    error, status = None, 200
    if request.method == "POST":
        require_edit()
        try:
            if request.form.get("action") == "delete":
                svc.crawlers.delete_classifier(request.form.get("name") or "")
                flash(f"Classifier {request.form.get('name')} deleted.")
            else:
                made = svc.crawlers.create_classifier(_form_classifier(request.form))
                flash(f"Classifier {made.name} created.")
            return redirect(url_for("console.classifiers"))
        except CatalogError as e:
            error, status = str(e), 400
    q = _q()
    rows = [c for c in svc.crawlers.list_classifiers() if _matches(q, c.name, c.kind, c.classification)]
    return render_template("classifiers.html", rows=rows, error=error, q=q,
                           kinds=CLASSIFIER_KINDS, csv_headers=CSV_HEADERS), status  # fmt: skip


def _q() -> str:
    return (request.args.get("q") or "").strip()


def _matches(q: str, *fields) -> bool:
    """Whether any of `fields` contains `q` (case-insensitive): the filter of the short, unpaged lists."""
    return not q or any(q.lower() in str(f or "").lower() for f in fields)


# --- users and tokens --------------------------------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
def users():
    require_admin()
    svc = _service()
    error = None
    if request.method == "POST":
        f = request.form
        databases = (
            None
            if f.get("all_databases") == "on"
            else [d.strip() for d in (f.get("databases") or "").split(",") if d.strip()]
        )
        try:
            if f.get("action") == "create":
                svc.users.create(
                    (f.get("name") or "").strip(),
                    f.get("password") or "",
                    f.get("role") or "viewer",
                    databases,
                )
                flash(f"User {f.get('name')} created.")
            elif f.get("action") == "update":
                kwargs = {"role": f.get("role"), "databases": databases}
                if f.get("password"):
                    kwargs["password"] = f.get("password")
                svc.users.update(f.get("name") or "", **kwargs)
                flash(f"User {f.get('name')} saved.")
            elif f.get("action") == "delete":
                if (f.get("name") or "").lower() == current_user().name:
                    raise InvalidInput("you cannot delete yourself")
                svc.users.delete(f.get("name") or "")
                flash(f"User {f.get('name')} deleted.")
            else:
                abort(400)
            return redirect(url_for("console.users"))
        except CatalogError as e:
            error = str(e)
    q = _q()
    rows = [u for u in svc.users.list() if _matches(q, u.name, u.role)]
    return render_template("users.html", users=rows, roles=ROLES, error=error, q=q), 400 if error else 200


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    svc = _service()
    user = current_user()
    secret, error = None, None
    if request.method == "POST":
        try:
            if request.form.get("action") == "create":
                _, secret = svc.users.create_token(user.name, request.form.get("name") or "")
            elif request.form.get("action") == "delete":
                svc.users.delete_token(user.name, _int(request.form.get("id"), -1))
                flash("Token revoked.")
                return redirect(url_for("console.tokens"))
        except (InvalidInput, NotFound) as e:
            error = str(e)
    q = _q()
    rows = [t for t in svc.users.tokens(user.name) if _matches(q, t.name, t.prefix)]
    return render_template("tokens.html", tokens=rows, secret=secret, error=error, q=q)
