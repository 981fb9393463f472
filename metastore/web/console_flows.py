"""Console pages of triggers (list, detail with next fire times, form with a cron preview, activate,
deactivate, start), workflows (list, the graph as inline SVG coloured by a run's node states, runs, start,
resume), connections (secrets always masked) and the classifier edit form.

Routes are added to console.bp; the JSON API's rules apply (api_flows.py): reading is open to every user,
changing needs editor or admin, and a trigger naming crawlers needs their databases.
"""

from __future__ import annotations

import shlex

from flask import flash, redirect, render_template, request, url_for
from markupsafe import Markup

from metastore.catalog.connections import CONNECTION_TYPES, MASK, Connection, is_secret
from metastore.catalog.crawlers import CLASSIFIER_KINDS, CSV_HEADERS, Classifier
from metastore.catalog.errors import InvalidInput
from metastore.catalog.triggers import LOGICALS, TRIGGER_TYPES, Action, Condition, Trigger
from metastore.catalog.workflows import Workflow
from metastore.web import work
from metastore.web.api_flows import TRIGGER_STATES, check_crawlers, fire_times, workflow_run_of
from metastore.web.console import PAGE, _form_classifier, _int, _page_args, _pages, _service, bp
from metastore.web.console_forms import definition_form
from metastore.web.console_jobs import pairs_text, parse_pairs
from metastore.web.graph import workflow_svg
from metastore.web.security import require_edit


def _choice(name: str, allowed) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


# --- triggers ----------------------------------------------------------------------------------------


@bp.get("/triggers")
def triggers():
    q, page = _page_args()
    kind, st = _choice("type", TRIGGER_TYPES), _choice("state", TRIGGER_STATES)
    rows, total = _service().browse.triggers(q or None, kind, st, None, PAGE, (page - 1) * PAGE)
    args = {k: v for k, v in (("q", q), ("type", kind), ("state", st)) if v}
    return render_template("triggers.html", rows=rows, total=total, q=q, page=page, pages=_pages(total), args=args,
                           kind=kind, state=st, types=TRIGGER_TYPES, states=TRIGGER_STATES)  # fmt: skip


@bp.get("/triggers/<name>")
def trigger(name: str):
    t = _service().triggers.get(name)
    return render_template("trigger.html", t=t, fires=fire_times(t))


def conditions_text(t: Trigger | None) -> str:
    return "".join(
        f"{'job' if c.job else 'crawler'} {c.job or c.crawler} {c.state}\n"
        for c in (t.conditions if t else [])
    )


def actions_text(t: Trigger | None) -> str:
    lines = []
    for a in t.actions if t else []:
        args = " ".join(shlex.quote(f"{k}={v}") for k, v in a.arguments.items())
        lines.append(f"{'job' if a.job else 'crawler'} {a.job or a.crawler}{' ' + args if args else ''}\n")
    return "".join(lines)


def _target(kind: str, name: str, what: str, line: str) -> dict:
    if kind not in ("job", "crawler"):
        raise InvalidInput(f"{what} {line.strip()!r}: start with job or crawler")
    return {kind: name}


def _form_trigger(form, name: str | None) -> Trigger:
    """A trigger from the form: conditions are lines `job|crawler NAME STATE`, actions `job NAME --KEY=value ...`
    or `crawler NAME`."""
    conditions = []
    for line in (form.get("conditions") or "").splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise InvalidInput(f"condition {line.strip()!r} is not `job|crawler NAME STATE`")
        conditions.append(
            Condition(parts[2].upper(), **_target(parts[0].lower(), parts[1], "condition", line))
        )
    actions = []
    for line in (form.get("actions") or "").splitlines():
        try:
            parts = shlex.split(line)
        except ValueError as e:
            raise InvalidInput(f"action {line.strip()!r}: {e}") from None
        if not parts:
            continue
        if len(parts) < 2:
            raise InvalidInput(
                f"action {line.strip()!r} is not `job NAME [--KEY=value ...]` or `crawler NAME`"
            )
        args = parse_pairs("\n".join(parts[2:]), f"arguments of action {parts[1]}")
        actions.append(Action(arguments=args, **_target(parts[0].lower(), parts[1], "action", line)))
    kind = form.get("type") or "ON_DEMAND"
    return Trigger(
        name=name or (form.get("name") or "").strip(),
        trigger_type=kind,
        actions=actions,
        schedule=(form.get("schedule") or "").strip() or None,
        conditions=conditions,
        logical=form.get("logical") or "AND",
        description=(form.get("description") or "").strip() or None,
        workflow=(form.get("workflow") or "").strip() or None,
    )


def _trigger_form(t: Trigger | None, editing: bool, error: str | None = None, status: int = 200):
    fires, fire_error = [], None
    if t is not None and t.schedule:
        try:
            from metastore.catalog.crawlers import next_fire_times

            fires = next_fire_times(t.schedule, 5)
        except InvalidInput as e:
            fire_error = str(e)
    return render_template("trigger_form.html", t=t, editing=editing, error=error, types=TRIGGER_TYPES,
                           logicals=LOGICALS, fires=fires, fire_error=fire_error, conditions=conditions_text(t),
                           actions=actions_text(t), workflows=[w.name for w in _service().workflows.list()]), status  # fmt: skip


@bp.route("/triggers/new", methods=["GET", "POST"])
def new_trigger():
    require_edit()
    wf = request.args.get("workflow")
    if request.method == "GET" and wf:  # from a workflow's page: a new trigger of that workflow
        return _trigger_form(Trigger("", "ON_DEMAND", [], workflow=wf), False)

    def create(t: Trigger):
        svc = _service()
        check_crawlers(svc, t)
        made = svc.triggers.create(t, activate=request.form.get("activate") == "on")
        flash(f"Trigger {made.name} created ({made.state}).")
        return redirect(url_for("console.trigger", name=made.name))

    return definition_form(_trigger_form, _form_trigger, create, preview=True)


@bp.route("/triggers/<name>/edit", methods=["GET", "POST"])
def edit_trigger(name: str):
    require_edit()
    svc = _service()
    old = svc.triggers.get(name)

    def save(t: Trigger):
        check_crawlers(svc, old)
        check_crawlers(svc, t)
        svc.triggers.update(old.name, t)
        flash(f"Trigger {old.name} saved.")
        return redirect(url_for("console.trigger", name=old.name))

    return definition_form(_trigger_form, _form_trigger, save, old, preview=True)


@bp.post("/triggers/<name>/<any(activate, deactivate, start, delete):action>")
def trigger_action(name: str, action: str):
    require_edit()
    svc = _service()
    t = svc.triggers.get(name)
    if action == "activate":
        flash(f"Trigger {svc.triggers.activate(t.name).name} activated.")
    elif action == "deactivate":
        flash(f"Trigger {svc.triggers.deactivate(t.name).name} deactivated.")
    elif action == "start":
        check_crawlers(svc, t)
        done = work.start_trigger(svc, t.name)
        flash(f"Trigger {t.name} fired: " + "; ".join(_started(d) for d in done))
    else:
        check_crawlers(svc, t)
        svc.triggers.delete(t.name)
        flash(f"Trigger {t.name} deleted.")
        return redirect(url_for("console.triggers"))
    return redirect(url_for("console.trigger", name=t.name))


def _started(d: dict) -> str:
    if "workflow_run_id" in d:
        return f"workflow run {d['workflow_run_id']} started"
    what = f"job {d['job']}" if "job" in d else f"crawler {d.get('crawler')}"
    if "error" in d:
        return f"{what} not started ({d['error']})"
    if "job" in d:
        return f"{what} run {d['run_id']} {d['state']}"
    return f"{what} queued"


# --- workflows ---------------------------------------------------------------------------------------


@bp.get("/workflows")
def workflows():
    q, page = _page_args()
    rows, total = _service().browse.workflows(q or None, PAGE, (page - 1) * PAGE)
    return render_template("workflows.html", rows=rows, total=total, q=q, page=page, pages=_pages(total))


@bp.get("/workflows/<name>")
def workflow(name: str):
    svc = _service()
    w = svc.workflows.get(name)
    _, page = _page_args()
    runs, total = svc.browse.workflow_runs(w.name, PAGE, (page - 1) * PAGE)
    latest = runs if page == 1 else svc.browse.workflow_runs(w.name, 1, 0)[0]
    selected_id = _int(request.args.get("run"), latest[0].id if latest else None)
    selected = workflow_run_of(svc, w.name, selected_id) if selected_id is not None else None
    triggers = svc.triggers.list(workflow=w.name)
    states = {tuple(k.split(" ", 1)): v for k, v in selected.nodes.items()} if selected is not None else {}
    failed = svc.workflows.failed_nodes(selected.id, crawlers=True) if selected is not None else []
    links = {}
    for t in triggers:
        links[("trigger", t.name)] = url_for("console.trigger", name=t.name)
        for x in [*t.actions, *t.conditions]:
            if x.job:
                links[("job", x.job)] = url_for("console.job", name=x.job)
            else:
                links[("crawler", x.crawler)] = url_for("console.crawler", name=x.crawler)
    job_runs = svc.browse.job_runs(None, None, 200, 0, workflow_run_id=selected.id)[0] if selected else []
    return render_template("workflow.html", w=w, runs=runs, total=total, page=page, pages=_pages(total),
                           selected=selected, triggers=triggers, states=states, job_runs=job_runs,
                           failed=failed,
                           graph=Markup(workflow_svg(triggers, states, links)), pairs=pairs_text)  # fmt: skip


def _workflow_form(w: Workflow | None, editing: bool, error: str | None = None, status: int = 200):
    return render_template("workflow_form.html", w=w, editing=editing, error=error, pairs=pairs_text), status


def _form_workflow(form, name: str | None) -> Workflow:
    return Workflow(name=name or (form.get("name") or "").strip(),
                    description=(form.get("description") or "").strip() or None,
                    default_run_properties=parse_pairs(form.get("default_run_properties"), "default run properties"))  # fmt: skip


@bp.route("/workflows/new", methods=["GET", "POST"])
def new_workflow():
    require_edit()

    def create(w: Workflow):
        made = _service().workflows.create(w)
        flash(f"Workflow {made.name} created: add triggers that name it to draw its graph.")
        return redirect(url_for("console.workflow", name=made.name))

    return definition_form(_workflow_form, _form_workflow, create)


@bp.route("/workflows/<name>/edit", methods=["GET", "POST"])
def edit_workflow(name: str):
    require_edit()
    svc = _service()
    old = svc.workflows.get(name)

    def save(w: Workflow):
        svc.workflows.update(old.name, w)
        flash(f"Workflow {old.name} saved.")
        return redirect(url_for("console.workflow", name=old.name))

    return definition_form(_workflow_form, _form_workflow, save, old)


@bp.post("/workflows/<name>/run")
def run_workflow(name: str):
    require_edit()
    svc = _service()
    try:
        run = work.start_workflow(
            svc, name, parse_pairs(request.form.get("run_properties"), "run properties")
        )
    except InvalidInput as e:
        flash(f"Not started: {e}")
        return redirect(url_for("console.workflow", name=name))
    flash(f"Workflow run {run.id} started ({run.state}).")
    return redirect(url_for("console.workflow", name=run.workflow, run=run.id))


@bp.post("/workflows/<name>/runs/<int:run_id>/resume")
def resume_workflow(name: str, run_id: int):
    require_edit()
    svc = _service()
    workflow_run_of(svc, name, run_id)
    jobs = work.resume_workflow(svc, run_id)
    flash(
        f"Workflow run {run_id}: started again {', '.join(jobs)}."
        if jobs
        else f"Workflow run {run_id}: nothing to resume."
    )
    return redirect(url_for("console.workflow", name=name, run=run_id))


@bp.post("/workflows/<name>/delete")
def delete_workflow(name: str):
    require_edit()
    svc = _service()
    w = svc.workflows.get(name)
    svc.workflows.delete(w.name)
    flash(f"Workflow {w.name} deleted with its runs and triggers.")
    return redirect(url_for("console.workflows"))


# --- connections -------------------------------------------------------------------------------------
# `service.connections` masks secrets unless asked with secrets=True: the console never asks.


@bp.get("/connections")
def connections():
    q, page = _page_args()
    kind = _choice("type", CONNECTION_TYPES)
    rows, total = _service().browse.connections(q or None, kind, PAGE, (page - 1) * PAGE)
    args = {k: v for k, v in (("q", q), ("type", kind)) if v}
    return render_template("connections.html", rows=rows, total=total, q=q, page=page, pages=_pages(total),
                           args=args, kind=kind, types=CONNECTION_TYPES)  # fmt: skip


@bp.get("/connections/<name>")
def connection(name: str):
    return render_template("connection.html", c=_service().connections.get(name), is_secret=is_secret)


def _form_connection(form, name: str | None) -> Connection:
    return Connection(name=name or (form.get("name") or "").strip(), connection_type=form.get("type") or "JDBC",
                      properties=parse_pairs(form.get("properties"), "properties"),
                      description=(form.get("description") or "").strip() or None)  # fmt: skip


def _connection_form(c: Connection | None, editing: bool, error: str | None = None, status: int = 200):
    if c is not None:  # a form sent back with an error must not echo secrets typed in it
        c = Connection(c.name, c.connection_type, {k: MASK if is_secret(k) and v else v for k, v in c.properties.items()},
                       c.description)  # fmt: skip
    return render_template("connection_form.html", c=c, editing=editing, error=error, types=CONNECTION_TYPES,
                           pairs=pairs_text), status  # fmt: skip


@bp.route("/connections/new", methods=["GET", "POST"])
def new_connection():
    require_edit()

    def create(c: Connection):
        made = _service().connections.create(c)
        flash(f"Connection {made.name} created.")
        return redirect(url_for("console.connection", name=made.name))

    return definition_form(_connection_form, _form_connection, create)


@bp.route("/connections/<name>/edit", methods=["GET", "POST"])
def edit_connection(name: str):
    require_edit()
    svc = _service()
    old = svc.connections.get(name)

    def save(c: Connection):
        svc.connections.update(old.name, c)
        flash(f"Connection {old.name} saved.")
        return redirect(url_for("console.connection", name=old.name))

    return definition_form(_connection_form, _form_connection, save, old)


@bp.post("/connections/<name>/delete")
def delete_connection(name: str):
    require_edit()
    svc = _service()
    c = svc.connections.get(name)
    svc.connections.delete(c.name)
    flash(f"Connection {c.name} deleted.")
    return redirect(url_for("console.connections"))


# --- classifiers: edit (the list page creates and deletes) ---------------------------------------------


def _classifier_form(c: Classifier, editing: bool, error: str | None = None, status: int = 200):
    return render_template("classifier_form.html", c=c, error=error, kinds=CLASSIFIER_KINDS,
                           csv_headers=CSV_HEADERS), status  # fmt: skip


@bp.route("/classifiers/<name>/edit", methods=["GET", "POST"])
def edit_classifier(name: str):
    svc = _service()
    old = svc.crawlers.get_classifier(name)
    require_edit()

    def save(c: Classifier):
        svc.crawlers.update_classifier(old.name, c)
        flash(f"Classifier {old.name} saved.")
        return redirect(url_for("console.classifiers"))

    return definition_form(_classifier_form, _form_classifier, save, old)
