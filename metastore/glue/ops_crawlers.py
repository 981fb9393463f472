"""Glue's crawler and classifier operations over Mortar's crawlers: definitions (S3Targets are paths or
fsspec URLs within the allowed_paths setting), runs on the workers (a StartCrawler records the run at once,
so that a poller sees State RUNNING right away, and sends task `runner.crawl` by name), metrics, schedules.

A crawler belongs to its database: seeing it needs read access to that database, changing or running it
needs write access there (as Mortar's JSON API). Classifiers are not database objects: everyone reads
them, editors change them (ops_classifiers, loaded with this module). Schedules are AWS cron expressions (`cron(0 3 * * ? *)`), stored as 5-field
cron; a 5-field expression is accepted too.
"""

from __future__ import annotations

import json
import statistics
import time

from metastore.catalog import dispatch
from metastore.catalog.access import decide
from metastore.catalog.crawlers import (
    DELETE_BEHAVIORS,
    END_STATES,
    RECRAWL_BEHAVIORS,
    UPDATE_BEHAVIORS,
    Crawler,
    CrawlerRun,
    CrawlerTarget,
    check_schedule,
)
from metastore.catalog.errors import NotFound
from metastore.glue import control as c
from metastore.glue.errors import GlueError, invalid_input
from metastore.glue.paused import PausedSchedules
from metastore.glue.registry import GlueRequest, operation

KEPT = ("Role", "LineageConfiguration", "LakeFormationConfiguration", "CrawlerSecurityConfiguration")
UNSUPPORTED_TARGETS = ("JdbcTargets", "MongoDBTargets", "DynamoDBTargets", "CatalogTargets", "DeltaTargets",
                       "IcebergTargets", "HudiTargets")  # fmt: skip


# --- shapes ------------------------------------------------------------------------------------------------


def _ended_runs(req: GlueRequest, name: str, limit: int = 50) -> list[CrawlerRun]:
    return [r for r in req.service.crawlers.runs(name, limit) if r.state in END_STATES]


def _configuration(cr: Crawler) -> str | None:
    grouping = c.compact({"TableGroupingPolicy": "CombineCompatibleSchemas" if cr.combine_compatible_schemas else None,
                          "TableLevelConfiguration": cr.table_level})  # fmt: skip
    return json.dumps({"Version": 1.0, "Grouping": grouping}) if grouping else None


def crawler_out(req: GlueRequest, cr: Crawler, newest: CrawlerRun | None | bool = False,
                paused: dict[str, str] | None = None, kept: dict | None = None) -> dict:  # fmt: skip
    """Glue's Crawler; `newest`: its newest run when the caller has it (None: it never ran), which saves the
    look-up of its runs unless that one is under way or a dry run."""
    if newest is None or (newest is not False and newest.state in END_STATES):
        runs = [] if newest is None else [newest]
    else:
        runs = req.service.crawlers.runs(cr.name, 20)
    running = next((r for r in runs if r.state == "RUNNING"), None)
    last = next((r for r in runs if r.state in END_STATES), None)
    last_crawl = None if last is None else c.compact({
        "Status": last.state, "ErrorMessage": last.error, "StartTime": c.seconds(last.started_at),
        "LogGroup": "/aws-glue/crawlers", "LogStream": cr.name, "MessagePrefix": str(last.id),
    })  # fmt: skip
    state = "SCHEDULED"
    if not cr.schedule:
        off = (_paused(req).get([cr.name]) if paused is None else paused).get(cr.name)
        schedule, state = c.to_aws_cron(off), "NOT_SCHEDULED"
    else:
        schedule = c.to_aws_cron(cr.schedule)
    sample = cr.sample_size
    return c.compact({
        "Name": cr.name,
        **(c.attributes(req).get("crawler", [cr.name]).get(cr.name, {}) if kept is None else kept),
        "Targets": {"S3Targets": [c.compact({"Path": t.path, "Exclusions": t.exclusions or None, "SampleSize": sample})
                                  for t in cr.targets]},
        "DatabaseName": cr.database,
        "Description": cr.description,
        "Classifiers": cr.classifiers,
        "RecrawlPolicy": {"RecrawlBehavior": cr.recrawl_behavior},
        "SchemaChangePolicy": {"UpdateBehavior": cr.update_behavior, "DeleteBehavior": cr.delete_behavior},
        "State": "RUNNING" if running else "READY",
        "TablePrefix": cr.table_prefix or None,
        "Schedule": {"ScheduleExpression": schedule, "State": state} if schedule else None,
        "CrawlElapsedTime": int(time.time() * 1000) - running.started_at if running else 0,
        "CreationTime": c.seconds(cr.created_at),
        "LastUpdated": c.seconds(cr.updated_at),
        "LastCrawl": last_crawl,
        "Configuration": _configuration(cr),
    })  # fmt: skip


def _crawler_in(body: dict, name: str, base: Crawler | None) -> Crawler:
    """A Crawler from CreateCrawler's body, or UpdateCrawler's over `base` (only fields given change)."""
    cr = Crawler(name=name, targets=[], database="") if base is None else base
    if "Targets" in body or base is None:
        targets = c.struct(body, "Targets")
        for kind in UNSUPPORTED_TARGETS:
            if targets.get(kind):
                raise invalid_input(
                    f"{kind} are not supported: Mortar crawls S3Targets (paths and fsspec URLs)"
                )
        s3 = targets.get("S3Targets") or []
        if not isinstance(s3, list) or not all(isinstance(t, dict) for t in s3):
            raise invalid_input("Targets.S3Targets must be a list of {Path, Exclusions}")
        cr.targets = [CrawlerTarget(c.text(t, "Path", required=True), c.strings(t, "Exclusions")) for t in s3]
        sizes = {c.integer(t, "SampleSize", 1) for t in s3} - {None}
        if len(sizes) > 1:
            raise invalid_input("Mortar has one SampleSize per crawler: give the same to every target")
        if sizes:
            cr.sample_size = sizes.pop()
    if "DatabaseName" in body or base is None:
        cr.database = c.text(body, "DatabaseName", required=True)
    if "Description" in body:
        cr.description = c.text(body, "Description")
    if "Classifiers" in body:
        cr.classifiers = c.strings(body, "Classifiers")
    if "TablePrefix" in body:
        cr.table_prefix = c.text(body, "TablePrefix") or ""
    if "Schedule" in body:
        cr.schedule = c.from_aws_cron(c.text(body, "Schedule"))
    policy = c.struct(body, "SchemaChangePolicy")
    for key, attr, allowed in (("UpdateBehavior", "update_behavior", UPDATE_BEHAVIORS),
                               ("DeleteBehavior", "delete_behavior", DELETE_BEHAVIORS)):  # fmt: skip
        value = c.text(policy, key)
        if value is not None:
            if value not in allowed:
                raise invalid_input(f"SchemaChangePolicy.{key} {value!r} is not one of {', '.join(allowed)}")
            setattr(cr, attr, value)
    recrawl = c.text(c.struct(body, "RecrawlPolicy"), "RecrawlBehavior")
    if recrawl is not None:
        if recrawl not in RECRAWL_BEHAVIORS:
            raise invalid_input(
                f"RecrawlPolicy.RecrawlBehavior {recrawl!r} is not one of {', '.join(RECRAWL_BEHAVIORS)}"
            )
        cr.recrawl_behavior = recrawl
    config = c.text(body, "Configuration")
    if config is not None:
        try:
            conf = json.loads(config)
        except ValueError:
            raise invalid_input("Configuration is not JSON") from None
        grouping = conf.get("Grouping") or {} if isinstance(conf, dict) else {}
        if not isinstance(grouping, dict):
            raise invalid_input("Configuration.Grouping must be an object")
        cr.combine_compatible_schemas = grouping.get("TableGroupingPolicy") == "CombineCompatibleSchemas"
        level = grouping.get("TableLevelConfiguration")
        if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
            raise invalid_input("Configuration.Grouping.TableLevelConfiguration must be an integer")
        cr.table_level = level
    return cr


def _crawler(req: GlueRequest, name: str, action: str = "read") -> Crawler:
    """Crawler `name`, if the caller may `action` in its database."""
    cr = req.service.crawlers.get(name)
    req.check(action, cr.database, cr.name)
    return cr


def _visible(req: GlueRequest) -> list[Crawler]:
    return [cr for cr in req.service.crawlers.list() if decide(req.identity, "read", cr.database) is None]


# --- definitions -------------------------------------------------------------------------------------------


@operation("CreateCrawler")
def create_crawler(req: GlueRequest, body: dict) -> dict:
    name = c.text(body, "Name", required=True)
    cr = _crawler_in(body, name, None)
    req.check("write", cr.database, name)
    kept = c.kept(body, KEPT)
    created = req.service.crawlers.create(cr)
    c.attributes(req).update("crawler", created.name, kept)
    c.set_tags(req, req.arn("crawler", created.name), body.get("Tags"))
    return {}


@operation("GetCrawler")
def get_crawler(req: GlueRequest, body: dict) -> dict:
    return {"Crawler": crawler_out(req, _crawler(req, c.text(body, "Name", required=True)))}


@operation("GetCrawlers")
def get_crawlers(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    limit, offset = c.page_by_offset(body)
    only = None if req.identity.databases is None else sorted(req.identity.databases)
    pairs, total = req.service.browse.crawlers(None, limit, offset, only)
    paused = _paused(req).get([cr.name for cr, _ in pairs if not cr.schedule])
    kept = c.attributes(req).get("crawler", [cr.name for cr, _ in pairs])
    return {
        "Crawlers": [crawler_out(req, cr, run, paused, kept.get(cr.name, {})) for cr, run in pairs],
        **c.next_offset(offset, len(pairs), total),
    }


@operation("ListCrawlers")
def list_crawlers(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    crawlers = c.tagged(req, body, "crawler", _visible(req), lambda cr: cr.name)
    crawlers, more = c.page_by_key(body, crawlers, lambda cr: cr.name)
    return {"CrawlerNames": [cr.name for cr in crawlers], **more}


@operation("BatchGetCrawlers")
def batch_get_crawlers(req: GlueRequest, body: dict) -> dict:
    """Crawlers by name; those missing or in databases the caller may not see are CrawlersNotFound."""
    req.check("read")
    found, missing = [], []
    for name in c.strings(body, "CrawlerNames", required=True)[:100]:
        try:
            cr = req.service.crawlers.get(name)
        except NotFound:
            cr = None
        if cr is None or decide(req.identity, "read", cr.database) is not None:
            missing.append(name)
        else:
            found.append(crawler_out(req, cr))
    return {"Crawlers": found, "CrawlersNotFound": missing}


@operation("UpdateCrawler")
def update_crawler(req: GlueRequest, body: dict) -> dict:
    """Change the fields given; a run under way keeps the definition it started with."""
    name = c.text(body, "Name", required=True)
    current = _crawler(req, name, "write")
    cr = _crawler_in(body, current.name, current)
    req.check("write", cr.database, cr.name)
    kept = c.kept(body, KEPT)
    req.service.crawlers.update(current.name, cr)
    c.attributes(req).update("crawler", cr.name, kept)
    return {}


@operation("DeleteCrawler")
def delete_crawler(req: GlueRequest, body: dict) -> dict:
    cr = _crawler(req, c.text(body, "Name", required=True), "write")
    if req.service.crawlers.current_run(cr.name) is not None:
        raise GlueError("CrawlerRunningException", f"crawler {cr.name} is running")
    req.service.crawlers.delete(cr.name)
    c.drop_tags(req, req.arn("crawler", cr.name))
    c.attributes(req).drop("crawler", cr.name)
    return {}


# --- runs --------------------------------------------------------------------------------------------------


@operation("StartCrawler")
def start_crawler(req: GlueRequest, body: dict) -> dict:
    cr = _crawler(req, c.text(body, "Name", required=True), "write")
    running = req.service.crawlers.current_run(cr.name)
    if running is not None:
        raise GlueError("CrawlerRunningException", f"crawler {cr.name} is already running (run {running.id})")
    from metastore.catalog.errors import Conflict

    try:
        dispatch.start_crawl(req.service, cr.name, c.sender(req), None, None)
    except Conflict as e:
        raise GlueError("CrawlerRunningException", str(e)) from None
    return {}


@operation("StopCrawler")
def stop_crawler(req: GlueRequest, body: dict) -> dict:
    """End the run under way as CANCELLED; its worker sees it at its next heartbeat and stops."""
    cr = _crawler(req, c.text(body, "Name", required=True), "write")
    running = req.service.crawlers.current_run(cr.name)
    if running is None:
        raise GlueError("CrawlerNotRunningException", f"crawler {cr.name} is not running")
    req.service.crawlers.finish_run(running.id, "CANCELLED", running.metrics,
                                    f"stopped by {req.identity.name}")  # fmt: skip
    return {}


def _metrics(req: GlueRequest, cr: Crawler) -> dict:
    ended = _ended_runs(req, cr.name)
    durations = [r.duration_ms / 1000 for r in ended if r.duration_ms is not None]
    last = ended[0] if ended else None
    counts = last.metrics if last else {}
    return {
        "CrawlerName": cr.name,
        "TimeLeftSeconds": 0.0,
        "StillEstimating": False,
        "LastRuntimeSeconds": durations[0] if durations else 0.0,
        "MedianRuntimeSeconds": statistics.median(durations) if durations else 0.0,
        "TablesCreated": int(counts.get("tables_created", 0)),
        "TablesUpdated": int(counts.get("tables_updated", 0)),
        "TablesDeleted": int(counts.get("tables_deleted", 0)),
    }


@operation("GetCrawlerMetrics")
def get_crawler_metrics(req: GlueRequest, body: dict) -> dict:
    """Durations of the last 50 ended runs; table counts of the last one."""
    req.check("read")
    names = c.strings(body, "CrawlerNameList")
    if names:
        crawlers = [_crawler(req, n) for n in names[:100]]
    else:
        crawlers = _visible(req)
    chosen, more = c.page_by_key(body, crawlers, lambda cr: cr.name)
    return {"CrawlerMetricsList": [_metrics(req, cr) for cr in chosen], **more}


# --- schedules ---------------------------------------------------------------------------------------------


def _paused(req: GlueRequest) -> PausedSchedules:
    return PausedSchedules(req.service.ctx)


def _set_schedule(req: GlueRequest, cr: Crawler, schedule: str | None) -> None:
    cr.schedule = schedule
    req.service.crawlers.update(cr.name, cr)


@operation("UpdateCrawlerSchedule")
def update_crawler_schedule(req: GlueRequest, body: dict) -> dict:
    """A new expression; a paused schedule stays paused (NOT_SCHEDULED) with it."""
    cr = _crawler(req, c.text(body, "CrawlerName", required=True), "write")
    schedule = c.from_aws_cron(c.text(body, "Schedule"))
    if not cr.schedule and _paused(req).get([cr.name]):
        _paused(req).set(cr.name, None if schedule is None else check_schedule(schedule))
        return {}
    _set_schedule(req, cr, schedule)
    return {}


@operation("StartCrawlerSchedule")
def start_crawler_schedule(req: GlueRequest, body: dict) -> dict:
    """Put a schedule paused by StopCrawlerSchedule back on the scheduler."""
    cr = _crawler(req, c.text(body, "CrawlerName", required=True), "write")
    if cr.schedule:
        raise GlueError("SchedulerRunningException", f"the schedule of crawler {cr.name} is already on")
    paused = _paused(req).get([cr.name]).get(cr.name)
    if paused is None:
        raise GlueError(
            "NoScheduleException", f"crawler {cr.name} has no schedule: set one with UpdateCrawlerSchedule"
        )
    _set_schedule(req, cr, paused)
    _paused(req).set(cr.name, None)
    return {}


@operation("StopCrawlerSchedule")
def stop_crawler_schedule(req: GlueRequest, body: dict) -> dict:
    """Take the crawler off the scheduler (NOT_SCHEDULED); StartCrawlerSchedule puts its schedule back."""
    cr = _crawler(req, c.text(body, "CrawlerName", required=True), "write")
    if not cr.schedule:
        raise GlueError("SchedulerNotRunningException", f"the schedule of crawler {cr.name} is not on")
    _paused(req).set(cr.name, cr.schedule)
    _set_schedule(req, cr, None)
    return {}


c.register_exists("crawler", lambda req, name: _crawler(req, name))

from metastore.glue import ops_classifiers  # noqa: E402,F401 - registers the classifier operations
