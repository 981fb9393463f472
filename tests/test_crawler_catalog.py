"""Crawlers as catalog objects, on real storage (SQLite and PostgreSQL): definitions and their validation,
one run at a time (also when two workers race), run metrics, custom classifiers, the file index of
incremental recrawls, stale runs, audit records, and migration 0002 both ways."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect

from metastore.catalog import AlreadyExists, CatalogService, Conflict, InvalidInput, NotFound
from metastore.catalog.crawlers import (
    MAX_SKIPPED_LISTED,
    STALE_RUN_ERROR,
    Classifier,
    Crawler,
    CrawlerTarget,
    IndexedFile,
    next_fire_times,
)
from metastore.storage.engine import make_engine
from tests.conftest import BACKENDS, database_url, unique

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module", params=BACKENDS)
def storage(request, tmp_path_factory, pg_databases):
    """(url, warehouse) of one catalog per backend, shared by the module's tests: names are unique per test."""
    tmp = tmp_path_factory.mktemp(f"crawlers-{request.param}")
    return database_url(request.param, tmp, pg_databases), str(tmp / "warehouse")


@pytest.fixture(scope="module")
def svc(storage):
    service = CatalogService.open(*storage)
    yield service
    service.ctx.engine.dispose()


def crawler(name: str, **kw) -> Crawler:
    kw.setdefault("targets", [CrawlerTarget("/data/sales", ["**/_tmp/**"])])
    kw.setdefault("database", "sales")
    return Crawler(name=name, **kw)


def actions(svc, name: str, after_id: int = 0) -> list[str]:
    return [r.action for r in svc.audit.records(obj=name, after_id=after_id)]


# --- definitions ------------------------------------------------------------------------------------------


def test_create_get_list_update_delete(svc):
    name = unique("crawl")
    before = int(time.time() * 1000)
    cls_name = svc.crawlers.create_classifier(
        Classifier(unique("cls"), "json", "json", json_path="$[*]")
    ).name
    created = svc.crawlers.create(
        Crawler(
            name=name.upper(),
            targets=[CrawlerTarget("/data/sales", ["**/_tmp/**", "*.bak"]), "s3://bucket/raw/"],
            database="Sales",
            table_prefix="Raw_",
            classifiers=[cls_name],
            update_behavior="LOG",
            delete_behavior="DELETE_FROM_DATABASE",
            recrawl_behavior="CRAWL_NEW_FOLDERS_ONLY",
            sample_size=10,
            combine_compatible_schemas=True,
            table_level=2,
            schedule="  0   3 * * 1-5 ",
            description="nightly sales",
            storage_options={"endpoint_url": "http://127.0.0.1:9000", "anon": False},
        )
    )
    assert created == svc.crawlers.get(name)
    assert created.name == name  # names are lower-cased, like every catalog name
    assert created.targets == [
        CrawlerTarget("/data/sales", ["**/_tmp/**", "*.bak"]),
        CrawlerTarget("s3://bucket/raw/"),
    ]
    assert (created.database, created.table_prefix, created.classifiers) == ("sales", "raw_", [cls_name])
    assert (created.update_behavior, created.delete_behavior, created.recrawl_behavior) == (
        "LOG", "DELETE_FROM_DATABASE", "CRAWL_NEW_FOLDERS_ONLY",
    )  # fmt: skip
    assert (created.sample_size, created.combine_compatible_schemas, created.table_level) == (10, True, 2)
    assert created.schedule == "0 3 * * 1-5"
    assert created.description == "nightly sales"
    assert created.storage_options == {"endpoint_url": "http://127.0.0.1:9000", "anon": False}
    assert before <= created.created_at == created.updated_at <= int(time.time() * 1000)

    with pytest.raises(AlreadyExists, match=f"crawler {name} already exists"):
        svc.crawlers.create(crawler(name.capitalize()))

    other = unique("crawl")
    svc.crawlers.create(crawler(other))  # defaults
    got = svc.crawlers.get(other)
    assert (got.table_prefix, got.classifiers, got.schedule, got.storage_options) == ("", [], None, {})
    assert (got.update_behavior, got.delete_behavior, got.recrawl_behavior) == (
        "UPDATE_IN_DATABASE", "DEPRECATE_IN_DATABASE", "CRAWL_EVERYTHING",
    )  # fmt: skip
    listed = [c.name for c in svc.crawlers.list()]
    assert name in listed and other in listed and listed == sorted(listed)

    time.sleep(0.01)
    updated = svc.crawlers.update(
        name, crawler(name, targets=["/data/other"], database="other", schedule=None)
    )
    assert updated == svc.crawlers.get(name)
    assert updated.targets == [CrawlerTarget("/data/other")]
    assert (updated.database, updated.schedule, updated.classifiers, updated.sample_size) == (
        "other",
        None,
        [],
        None,
    )
    assert updated.created_at == created.created_at < updated.updated_at

    with pytest.raises(InvalidInput, match=f"crawler {name} cannot be renamed to {other}"):
        svc.crawlers.update(name, crawler(other))
    with pytest.raises(NotFound, match="crawler nosuch_crawler does not exist"):
        svc.crawlers.update("nosuch_crawler", crawler("nosuch_crawler"))

    run = svc.crawlers.start_run(name)
    svc.crawlers.finish_run(run.id, "SUCCEEDED")
    svc.crawlers.update_file_index(name, {"/data/other/a.csv": (1, 2.0, "a")})
    svc.crawlers.delete(name.upper())
    with pytest.raises(NotFound, match=f"crawler {name} does not exist"):
        svc.crawlers.get(name)
    with pytest.raises(NotFound, match=f"crawler run {run.id} does not exist"):  # runs go with the crawler
        svc.crawlers.get_run(run.id)
    with pytest.raises(NotFound, match=f"crawler {name} does not exist"):
        svc.crawlers.file_index(name)
    with pytest.raises(NotFound, match=f"crawler {name} does not exist"):
        svc.crawlers.delete(name)
    assert name not in [c.name for c in svc.crawlers.list()]
    svc.crawlers.create(crawler(name))  # the name is free again, with a fresh history
    assert svc.crawlers.runs(name) == [] and svc.crawlers.file_index(name) == {}


BAD_DEFINITIONS = [
    (dict(name="bad-name"), "crawler name 'bad-name' is not a valid object name"),
    (dict(name=""), "crawler name '' is not a valid object name"),
    (dict(targets=[]), "needs at least one target"),
    (dict(targets=[CrawlerTarget("  ")]), "a target has an empty path"),
    (dict(targets=[CrawlerTarget("nosuchproto://x/y")]), "unknown storage protocol 'nosuchproto'"),
    (dict(targets=["/a", CrawlerTarget("/a")]), "the same target twice"),
    (dict(targets=[CrawlerTarget("/a", [""])]), "target '/a' has an empty exclusion pattern"),
    (dict(targets=[42]), "target 42 is not a path or CrawlerTarget"),
    (dict(targets="/data/sales"), "targets must be a list, not '/data/sales'"),
    (dict(targets=[CrawlerTarget("/a", "*.tmp")]), "exclusions of target '/a' must be a list, not '*.tmp'"),
    (dict(classifiers="grok_logs"), "classifiers must be a list, not 'grok_logs'"),
    (dict(database="no such"), "database name 'no such' is not a valid object name"),
    (dict(table_prefix="raw-"), "table prefix 'raw-' is not valid"),
    (dict(table_prefix="p" * 65), "is not valid"),
    (dict(classifiers=["a", "a"]), "lists a classifier twice"),
    (dict(update_behavior="DELETE"), "update behavior 'DELETE' is not one of UPDATE_IN_DATABASE, LOG"),
    (
        dict(delete_behavior="KEEP"),
        "delete behavior 'KEEP' is not one of DELETE_FROM_DATABASE, DEPRECATE_IN_DATABASE, LOG",
    ),
    (dict(recrawl_behavior="SOMETIMES"), "recrawl behavior 'SOMETIMES' is not one of CRAWL_EVERYTHING"),
    (dict(sample_size=0), "sample size 0 is not an integer from 1 to 249"),
    (dict(sample_size=250), "sample size 250 is not an integer from 1 to 249"),
    (dict(sample_size=True), "sample size True is not an integer"),
    (dict(sample_size=2.5), "sample size 2.5 is not an integer"),
    (dict(table_level=0), "table level 0 is not an integer of at least 1"),
    (dict(combine_compatible_schemas="yes"), "combine_compatible_schemas must be true or false"),
    (dict(schedule="0 3 * *"), "schedule '0 3 * *' is not a cron expression of 5 fields"),
    (dict(schedule="0 0 3 * * *"), "is not a cron expression of 5 fields"),
    (dict(schedule="@daily"), "is not a cron expression of 5 fields"),
    (dict(schedule="61 * * * *"), "schedule '61 * * * *' is not a valid cron expression"),
    (dict(schedule="0 0 30 2 *"), "schedule '0 0 30 2 *' never fires"),
    (dict(description="x" * 2049), "description must be text of at most 2048 characters"),
    (dict(storage_options={1: "x"}), "storage options must be a mapping with string keys"),
    (dict(storage_options={"k": object()}), "storage options cannot be stored as JSON"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_DEFINITIONS, ids=[m for _, m in BAD_DEFINITIONS])
def test_invalid_definitions_are_refused(svc, changes, message):
    name, changes = unique("bad"), dict(changes)
    bad_name = "name" in changes
    definition = crawler(changes.pop("name") if bad_name else name, **changes)
    last = svc.audit.last_event_id()
    with pytest.raises(InvalidInput, match=re.escape(message)):
        svc.crawlers.create(definition)
    with pytest.raises(NotFound):
        svc.crawlers.get(name)
    assert svc.audit.last_event_id() == last  # nothing written
    if not bad_name:  # update validates the same way and leaves the stored definition as it was
        svc.crawlers.create(crawler(name))
        kept = svc.crawlers.get(name)
        last = svc.audit.last_event_id()
        with pytest.raises(InvalidInput, match=re.escape(message)):
            svc.crawlers.update(name, definition)
        assert svc.crawlers.get(name) == kept
        assert svc.audit.last_event_id() == last


def test_unknown_classifier_is_refused(svc):
    name = unique("crawl")
    with pytest.raises(NotFound, match=f"crawler {name}: classifier nosuch_cls does not exist"):
        svc.crawlers.create(crawler(name, classifiers=["nosuch_cls"]))
    with pytest.raises(NotFound):
        svc.crawlers.get(name)


def test_schedule_fire_times():
    after = datetime(2024, 1, 1, 0, 7, tzinfo=UTC)
    assert next_fire_times("*/15 * * * *", 3, after) == [
        datetime(2024, 1, 1, 0, 15, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 45, tzinfo=UTC),
    ]
    # 2024-01-05 is a Friday: the next weekday 03:00 runs skip the weekend
    assert next_fire_times("0 3 * * 1-5", 2, datetime(2024, 1, 5, 3, 0, tzinfo=UTC)) == [
        datetime(2024, 1, 8, 3, 0, tzinfo=UTC),
        datetime(2024, 1, 9, 3, 0, tzinfo=UTC),
    ]
    naive = next_fire_times("30 12 1 * *", 1, datetime(2024, 2, 10))  # naive means UTC
    assert naive == [datetime(2024, 3, 1, 12, 30, tzinfo=UTC)]
    before = datetime.now(UTC)
    upcoming = next_fire_times("* * * * *", 2)  # from now
    assert before < upcoming[0] and (upcoming[0] - before).total_seconds() <= 60
    assert (upcoming[0].second, upcoming[0].microsecond) == (0, 0)
    assert (upcoming[1] - upcoming[0]).total_seconds() == 60
    with pytest.raises(InvalidInput, match="never fires"):
        next_fire_times("0 0 31 4 *", 1)


# --- runs -------------------------------------------------------------------------------------------------


def test_one_run_at_a_time_and_history_newest_first(svc):
    name = unique("crawl")
    svc.crawlers.create(crawler(name))
    assert svc.crawlers.current_run(name) is None
    first = svc.crawlers.start_run(name)
    assert (first.crawler, first.state, first.ended_at, first.error, first.metrics) == (
        name,
        "RUNNING",
        None,
        None,
        {},
    )
    assert first.heartbeat_at == first.started_at
    assert svc.crawlers.get_run(first.id) == first
    assert svc.crawlers.current_run(name) == first
    with pytest.raises(Conflict, match=f"crawler {name} is already running \\(run {first.id}, started "):
        svc.crawlers.start_run(name)
    with pytest.raises(Conflict, match=f"crawler {name} is running \\(run {first.id}\\)"):
        svc.crawlers.delete(name)
    assert svc.crawlers.get(name).name == name

    # another crawler is not blocked by this one's run
    other = unique("crawl")
    svc.crawlers.create(crawler(other))
    svc.crawlers.finish_run(svc.crawlers.start_run(other).id, "SUCCEEDED")

    svc.crawlers.finish_run(first.id, "FAILED", error="boom")
    assert svc.crawlers.current_run(name) is None
    second = svc.crawlers.start_run(name)
    svc.crawlers.finish_run(second.id, "CANCELLED")
    third = svc.crawlers.start_run(name)
    assert first.id < second.id < third.id
    history = svc.crawlers.runs(name)
    assert [(r.id, r.state) for r in history] == [
        (third.id, "RUNNING"),
        (second.id, "CANCELLED"),
        (first.id, "FAILED"),
    ]
    assert history[2].error == "boom"
    assert [r.id for r in svc.crawlers.runs(name, limit=2)] == [third.id, second.id]
    with pytest.raises(InvalidInput, match="limit 0 is not a positive integer"):
        svc.crawlers.runs(name, limit=0)
    with pytest.raises(NotFound, match="crawler nosuch_crawler does not exist"):
        svc.crawlers.start_run("nosuch_crawler")
    with pytest.raises(NotFound, match="crawler run 987654321 does not exist"):
        svc.crawlers.get_run(987654321)
    svc.crawlers.finish_run(third.id, "SUCCEEDED")


def race_to_start(services: list[CatalogService], name: str):
    """Every service calls start_run(name) at the same moment: (runs started, Conflict messages, other errors)."""
    barrier = threading.Barrier(len(services))
    won, lost, errors = [], [], []

    def attempt(service):
        barrier.wait()
        try:
            won.append(service.crawlers.start_run(name))
        except Conflict as e:
            lost.append(str(e))
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return won, lost, errors


def test_concurrent_starts_exactly_one_wins(svc, storage):
    """Workers in separate processes each have their own engine and connections: so do these threads."""
    name = unique("race")
    svc.crawlers.create(crawler(name))
    threads_n, rounds = 6, 8
    services = [CatalogService.open(*storage) for _ in range(threads_n)]
    try:
        for _ in range(rounds):
            won, lost, errors = race_to_start(services, name)
            assert errors == []
            assert len(won) == 1 and len(lost) == threads_n - 1
            assert all(f"run {won[0].id}," in m for m in lost)
            running = [r for r in svc.crawlers.runs(name, limit=1000) if r.state == "RUNNING"]
            assert [r.id for r in running] == [won[0].id]
            svc.crawlers.finish_run(won[0].id, "SUCCEEDED")
        assert len(svc.crawlers.runs(name, limit=1000)) == rounds
    finally:
        for s in services:
            s.ctx.engine.dispose()


def test_concurrent_creates_of_one_name_exactly_one_wins(svc, storage):
    name = unique("twin")
    services = [CatalogService.open(*storage) for _ in range(4)]
    barrier = threading.Barrier(len(services))
    outcomes: list = []

    def create(service, i):
        barrier.wait()
        try:
            outcomes.append(service.crawlers.create(crawler(name, description=f"from {i}")))
        except Exception as e:  # noqa: BLE001 - checked below
            outcomes.append(e)

    threads = [threading.Thread(target=create, args=(s, i)) for i, s in enumerate(services)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in services:
            s.ctx.engine.dispose()
    made = [o for o in outcomes if isinstance(o, Crawler)]
    refused = [o for o in outcomes if not isinstance(o, Crawler)]
    assert len(made) == 1 and len(refused) == 3
    assert all(isinstance(e, AlreadyExists) and str(e) == f"crawler {name} already exists" for e in refused)
    assert svc.crawlers.get(name).description == made[0].description
    assert actions(svc, name) == ["CREATE_CRAWLER"]


def test_finish_run_stores_metrics_and_refuses_bad_endings(svc):
    name = unique("crawl")
    svc.crawlers.create(crawler(name))
    run = svc.crawlers.start_run(name)
    metrics = {
        "tables_created": 2, "tables_updated": 1, "tables_deleted": 0,
        "partitions_added": 40, "partitions_updated": 3, "partitions_deleted": 1,
        "files_scanned": 1234, "files_skipped": 2,
        "skipped": [{"path": "/data/sales/bad.parquet", "reason": "not a Parquet file: bad magic"},
                    {"path": "/data/sales/é ü.csv", "reason": "empty file"}],
        "by_format": {"csv": 1000, "parquet": 234}, "seconds": 1.5,
    }  # fmt: skip
    for bad, message in [
        (("RUNNING", {}), "state 'RUNNING' is not one of SUCCEEDED, FAILED, CANCELLED"),
        (("DONE", {}), "state 'DONE' is not one of"),
        (("SUCCEEDED", {"files_scanned": -1}), "files_scanned must be a non-negative integer, not -1"),
        (("SUCCEEDED", {"tables_created": "2"}), "tables_created must be a non-negative integer"),
        (("SUCCEEDED", {"skipped": [{"path": "x"}]}), "skipped must be a list of"),
        (("SUCCEEDED", {"when": datetime.now()}), "metrics cannot be stored as JSON"),
        (("SUCCEEDED", [1, 2]), "run metrics must be a mapping"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            svc.crawlers.finish_run(run.id, *bad)
    assert svc.crawlers.get_run(run.id).state == "RUNNING"  # the refused endings changed nothing

    done = svc.crawlers.finish_run(run.id, "SUCCEEDED", metrics)
    stored = svc.crawlers.get_run(run.id)
    assert stored == done
    assert stored.state == "SUCCEEDED" and stored.error is None
    assert stored.metrics == metrics
    assert stored.ended_at >= stored.started_at and stored.duration_ms == stored.ended_at - stored.started_at
    with pytest.raises(Conflict, match=f"run {run.id} of crawler {name} has already ended: SUCCEEDED"):
        svc.crawlers.finish_run(run.id, "FAILED", error="late")
    with pytest.raises(Conflict, match=f"run {run.id} of crawler {name} has ended: SUCCEEDED"):
        svc.crawlers.heartbeat_run(run.id)
    with pytest.raises(NotFound, match="crawler run 987654321 does not exist"):
        svc.crawlers.finish_run(987654321, "SUCCEEDED")
    assert svc.crawlers.get_run(run.id).metrics == metrics

    # the skipped list is capped; the rest is counted
    run = svc.crawlers.start_run(name)
    skipped = [
        {"path": f"/data/sales/f{i}.bin", "reason": "unknown format"} for i in range(MAX_SKIPPED_LISTED + 7)
    ]
    long_error = "Traceback...\n" + "x" * 20000
    svc.crawlers.finish_run(
        run.id, "FAILED", {"files_skipped": len(skipped), "skipped": skipped}, error=long_error
    )
    stored = svc.crawlers.get_run(run.id)
    assert stored.metrics["files_skipped"] == MAX_SKIPPED_LISTED + 7
    assert stored.metrics["skipped"] == skipped[:MAX_SKIPPED_LISTED]
    assert stored.metrics["skipped_omitted"] == 7
    assert stored.error == long_error[:8000]


def test_stale_runs_are_failed_and_heartbeats_keep_runs_alive(svc):
    quiet, beating, fresh = unique("quiet"), unique("beating"), unique("fresh")
    for n in (quiet, beating, fresh):
        svc.crawlers.create(crawler(n))
    quiet_run = svc.crawlers.start_run(quiet)
    beating_run = svc.crawlers.start_run(beating)
    time.sleep(1.2)
    svc.crawlers.heartbeat_run(beating_run.id)
    assert svc.crawlers.get_run(beating_run.id).heartbeat_at > beating_run.heartbeat_at
    fresh_run = svc.crawlers.start_run(fresh)
    last = svc.audit.last_event_id()

    marked = svc.crawlers.mark_stale_runs(1.0)
    ours = [r for r in marked if r.crawler in (quiet, beating, fresh)]
    assert [(r.id, r.state, r.error) for r in ours] == [(quiet_run.id, "FAILED", STALE_RUN_ERROR)]
    stored = svc.crawlers.get_run(quiet_run.id)
    assert (stored.state, stored.error) == ("FAILED", "worker stopped responding")
    assert stored.ended_at >= stored.started_at + 1000
    assert svc.crawlers.get_run(beating_run.id).state == "RUNNING"
    assert svc.crawlers.get_run(fresh_run.id).state == "RUNNING"
    assert actions(svc, quiet, last) == ["FAIL_STALE_CRAWLER_RUN"]
    assert actions(svc, beating, last) == []

    # the worker that went quiet learns it lost its run; the crawler can run again
    with pytest.raises(Conflict, match=f"run {quiet_run.id} of crawler {quiet} has ended: FAILED"):
        svc.crawlers.heartbeat_run(quiet_run.id)
    with pytest.raises(Conflict, match="has already ended: FAILED"):
        svc.crawlers.finish_run(quiet_run.id, "SUCCEEDED", {"files_scanned": 1})
    assert svc.crawlers.get_run(quiet_run.id).metrics == {}
    again = svc.crawlers.start_run(quiet)
    assert again.state == "RUNNING"
    assert [r for r in svc.crawlers.mark_stale_runs(1.0) if r.crawler in (quiet, beating, fresh)] == []

    # start_run can take over from a stale run itself
    with pytest.raises(Conflict):
        svc.crawlers.start_run(fresh, stale_after_s=60)
    time.sleep(0.3)
    takeover = svc.crawlers.start_run(fresh, stale_after_s=0.2)
    assert svc.crawlers.get_run(fresh_run.id).state == "FAILED"
    assert svc.crawlers.get_run(fresh_run.id).error == STALE_RUN_ERROR
    assert [r.id for r in svc.crawlers.runs(fresh)] == [takeover.id, fresh_run.id]

    for bad in (-1, float("nan"), "10", True):
        with pytest.raises(InvalidInput, match="is not a non-negative number of seconds"):
            svc.crawlers.mark_stale_runs(bad)
    with pytest.raises(NotFound, match="crawler run 987654321 does not exist"):
        svc.crawlers.heartbeat_run(987654321)
    for run in (again, beating_run, takeover):
        svc.crawlers.finish_run(run.id, "SUCCEEDED")


# --- custom classifiers -------------------------------------------------------------------------------


def test_classifiers_crud_and_order(svc):
    grok, js, csv, xml = unique("grok"), unique("json"), unique("csv"), unique("xml")
    made = [
        svc.crawlers.create_classifier(Classifier(grok, "grok", "applog", grok_pattern="%{IP:client} %{WORD:verb}",
                                                  custom_patterns="# mine\nVERB [A-Z]+\n")),
        svc.crawlers.create_classifier(Classifier(js, "json", "", json_path="$.records[*]")),
        svc.crawlers.create_classifier(Classifier(csv, "csv", "csv", csv_delimiter="|", csv_quote="'",
                                                  csv_header="PRESENT", csv_column_names=["id", "Name"])),
        # any object with Classifier's fields will do: the runner's CustomClassifier is one
        svc.crawlers.create_classifier(SimpleNamespace(name=xml.upper(), kind="xml", classification="xml",
                                                       xml_row_tag="row")),
    ]  # fmt: skip
    assert made[1].classification == "json"  # json and csv classifiers report their kind by default
    assert made[3].name == xml
    for c in made:
        assert svc.crawlers.get_classifier(c.name) == c
    assert made[0].custom_patterns == "# mine\nVERB [A-Z]+\n" and made[0].json_path is None
    assert made[2].csv_column_names == ["id", "Name"]
    listed = [c.name for c in svc.crawlers.list_classifiers()]
    assert {grok, js, csv, xml} <= set(listed) and listed == sorted(listed)
    with pytest.raises(AlreadyExists, match=f"classifier {grok} already exists"):
        svc.crawlers.create_classifier(Classifier(grok.upper(), "json", "json", json_path="$"))

    name = unique("crawl")
    svc.crawlers.create(crawler(name, classifiers=[xml, grok.upper(), csv]))
    assert svc.crawlers.get(name).classifiers == [xml, grok, csv]
    assert [c.name for c in svc.crawlers.classifiers_of(name)] == [xml, grok, csv]
    assert svc.crawlers.classifiers_of(name)[1] == made[0]

    changed = svc.crawlers.update_classifier(grok, Classifier(grok, "csv", "psv", csv_delimiter="|"))
    assert svc.crawlers.get_classifier(grok) == changed == Classifier(grok, "csv", "psv", csv_delimiter="|")
    with pytest.raises(InvalidInput, match=f"classifier {grok} cannot be renamed to {js}"):
        svc.crawlers.update_classifier(grok, Classifier(js, "json", "json", json_path="$"))

    with pytest.raises(Conflict, match=f"classifier {csv} is used by crawler {name}"):
        svc.crawlers.delete_classifier(csv)
    svc.crawlers.update(name, crawler(name, classifiers=[xml]))
    svc.crawlers.delete_classifier(csv.upper())
    with pytest.raises(NotFound, match=f"classifier {csv} does not exist"):
        svc.crawlers.get_classifier(csv)
    with pytest.raises(NotFound, match=f"classifier {csv} does not exist"):
        svc.crawlers.delete_classifier(csv)
    assert [c.name for c in svc.crawlers.classifiers_of(name)] == [xml]


BAD_CLASSIFIERS = [
    (
        Classifier("bad name", "grok", "x", grok_pattern="%{WORD}"),
        "classifier name 'bad name' is not a valid",
    ),
    (Classifier("c", "yaml", "yaml"), "kind 'yaml' is not one of grok, json, csv, xml"),
    (Classifier("c", "grok", "", grok_pattern="%{WORD}"), "a grok classifier needs a classification"),
    (
        Classifier("c", "grok", "my log", grok_pattern="%{WORD}"),
        "classification 'my log' is not a valid format name",
    ),
    (Classifier("c", "grok", "log"), "a grok classifier needs a grok pattern"),
    (
        Classifier("c", "grok", "log", grok_pattern="%{W}", custom_patterns="ONLYNAME"),
        "custom pattern line 'ONLYNAME'",
    ),
    (
        Classifier("c", "grok", "log", grok_pattern="%{W}", json_path="$"),
        "json_path do not apply to a grok classifier",
    ),
    (Classifier("c", "json", "json"), "JSON path None must start with $"),
    (Classifier("c", "json", "json", json_path="records[*]"), "JSON path 'records[*]' must start with $"),
    (Classifier("c", "csv", "csv", csv_delimiter=",,"), "delimiter ',,' must be a single character"),
    (Classifier("c", "csv", "csv", csv_quote=""), "quote symbol '' must be a single character"),
    (
        Classifier("c", "csv", "csv", csv_delimiter=",", csv_quote=","),
        "the quote symbol and the delimiter must differ",
    ),
    (Classifier("c", "csv", "csv", csv_header="YES"), "header 'YES' is not one of PRESENT, ABSENT, UNKNOWN"),
    (Classifier("c", "csv", "csv", csv_column_names="a,b"), "column names must be a list of strings"),
    (Classifier("c", "csv", "csv", csv_column_names=["a", "A"]), "a column name is listed twice"),
    (Classifier("c", "csv", "csv", csv_column_names=["a,b"]), "column name 'a,b' is not valid"),
    (Classifier("c", "xml", "xml"), "row tag None is not an XML element name"),
    (Classifier("c", "xml", "xml", xml_row_tag="<row>"), "row tag '<row>' is not an XML element name"),
]


@pytest.mark.parametrize(("classifier", "message"), BAD_CLASSIFIERS, ids=[m for _, m in BAD_CLASSIFIERS])
def test_invalid_classifiers_are_refused(svc, classifier, message):
    last = svc.audit.last_event_id()
    with pytest.raises(InvalidInput, match=re.escape(message)):
        svc.crawlers.create_classifier(classifier)
    assert svc.audit.last_event_id() == last


# --- file index -------------------------------------------------------------------------------------------


def test_file_index_round_trip(svc):
    name = unique("crawl")
    svc.crawlers.create(crawler(name))
    assert svc.crawlers.file_index(name) == {}
    long_path = "s3://bucket/" + "/".join(["deep_folder_name"] * 200) + "/file.parquet"  # 3,4 KB
    entries = {
        f"/data/sales/year={2000 + i % 20}/month={i % 12 + 1:02d}/part-{i:05d}.csv": (
            i * 37, 1_700_000_000.123456 + i, f"sales_{i % 7}",
        )
        for i in range(5000)
    }  # fmt: skip
    entries[long_path] = (10, '"9b2cf535f27731c974343645a3985328"', "deep")
    entries["/data/sales/naïve/ünïcode €.json"] = (0, 1_700_000_000, None)
    svc.crawlers.update_file_index(name, entries)
    index = svc.crawlers.file_index(name)
    assert index == entries  # sizes, float mtimes, string ETags, int mtimes and missing tables exactly
    assert isinstance(index[long_path], IndexedFile)
    assert index[long_path].version == '"9b2cf535f27731c974343645a3985328"'
    assert type(index["/data/sales/naïve/ünïcode €.json"].version) is int
    size, version, table = index["/data/sales/year=2001/month=02/part-00001.csv"]
    assert (size, version, table) == (37, 1_700_000_001.123456, "sales_1")

    # a recrawl: some files changed, some are new, some were removed; the rest is left alone
    paths = sorted(entries)
    changed = {p: (entries[p][0] + 1, entries[p][1] + 60, "sales_changed") for p in paths[:300]}
    new = {
        f"/data/sales/year=2030/month=01/new-{i}.csv": (i, 1_800_000_000.0, "sales_new") for i in range(50)
    }
    removed = paths[300:800]
    svc.crawlers.update_file_index(name, {**changed, **new}, removed)
    expected = {p: e for p, e in entries.items() if p not in removed} | changed | new
    assert svc.crawlers.file_index(name) == expected
    assert len(expected) == len(entries) - 500 + 50

    other = unique("crawl")  # indexes are per crawler
    svc.crawlers.create(crawler(other))
    svc.crawlers.update_file_index(other, {paths[0]: (1, 1.0, "o")})
    assert svc.crawlers.file_index(other) == {paths[0]: (1, 1.0, "o")}
    assert svc.crawlers.file_index(name)[paths[0]] == changed[paths[0]]

    svc.crawlers.update_file_index(name, new, replace=True)
    assert svc.crawlers.file_index(name) == new

    for bad_entries, bad_removed, message in [
        ({"/a": (1, 2.0)}, [], "file index entry of /a is not \\(size, mtime or etag, table\\)"),
        ({"/a": (-1, 2.0, "t")}, [], "file index size of /a is not a non-negative integer: -1"),
        ({"/a": (1.5, 2.0, "t")}, [], "file index size of /a is not a non-negative integer"),
        (
            {"/a": (1, datetime.now(), "t")},
            [],
            "version of /a must be a number \\(mtime\\) or a string \\(etag\\)",
        ),
        ({"/a": (1, "e" * 300, "t")}, [], "version of /a is longer than 256 characters"),
        ({"/a": (1, 2.0, "bad table")}, [], "table name 'bad table' is not a valid object name"),
        ({"": (1, 2.0, "t")}, [], "file index path '' is not a non-empty string"),
        ({"/a": (1, 2.0, "t")}, ["/a"], "/a is both updated and removed in the file index"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            svc.crawlers.update_file_index(name, bad_entries, bad_removed)
    assert svc.crawlers.file_index(name) == new  # nothing half-done
    with pytest.raises(NotFound, match="crawler nosuch_crawler does not exist"):
        svc.crawlers.update_file_index("nosuch_crawler", {"/a": (1, 2.0, "t")})

    # changing what decides a file's table forgets the index; a new schedule does not
    svc.crawlers.update(name, crawler(name, schedule="0 * * * *"))
    assert svc.crawlers.file_index(name) == new
    svc.crawlers.update(name, crawler(name, schedule="0 * * * *", table_prefix="p_"))
    assert svc.crawlers.file_index(name) == {}
    svc.crawlers.update_file_index(name, new)
    svc.crawlers.clear_file_index(name)
    assert svc.crawlers.file_index(name) == {}


# --- audit ------------------------------------------------------------------------------------------------


def test_every_mutation_is_audited(svc):
    name, cls = unique("audited"), unique("audited_cls")
    last = svc.audit.last_event_id()
    actor = svc.for_user("alice")
    actor.crawlers.create_classifier(Classifier(cls, "json", "json", json_path="$[*]"))
    actor.crawlers.create(crawler(name, classifiers=[cls], schedule="5 4 * * *",
                                  storage_options={"key": "AKIA", "secret": "s3cr3t"}))  # fmt: skip
    actor.crawlers.update(name, crawler(name, classifiers=[cls], schedule="5 5 * * *"))
    run = actor.crawlers.start_run(name)
    actor.crawlers.heartbeat_run(run.id)  # liveness only: not audited
    actor.crawlers.finish_run(run.id, "SUCCEEDED", {"tables_created": 3, "files_scanned": 9,
                                                    "skipped": [{"path": "/x", "reason": "r"}]})  # fmt: skip
    actor.crawlers.update_file_index(name, {"/a": (1, 1.0, "t"), "/b": (2, 2.0, "t")}, ["/c"])
    actor.crawlers.clear_file_index(name)
    with pytest.raises(Conflict):
        actor.crawlers.finish_run(run.id, "FAILED")  # refused: not audited
    actor.crawlers.update(name, crawler(name))
    actor.crawlers.delete_classifier(cls)
    actor.crawlers.delete(name)

    records = [r for r in svc.audit.records(after_id=last) if r.object_name in (name, cls)]
    assert [(r.action, r.object_name) for r in records] == [
        ("CREATE_CLASSIFIER", cls),
        ("CREATE_CRAWLER", name),
        ("UPDATE_CRAWLER", name),
        ("START_CRAWLER_RUN", name),
        ("FINISH_CRAWLER_RUN", name),
        ("UPDATE_CRAWLER_FILE_INDEX", name),
        ("CLEAR_CRAWLER_FILE_INDEX", name),
        ("UPDATE_CRAWLER", name),
        ("DELETE_CLASSIFIER", cls),
        ("DELETE_CRAWLER", name),
    ]
    assert {r.user for r in records} == {"alice"}
    assert all(r.catalog == "hive" and r.db_name is None for r in records)
    details = [r.details for r in records]
    assert details[0] == {"kind": "json", "classification": "json"}
    assert details[1] == {"database": "sales", "targets": ["/data/sales"], "schedule": "5 4 * * *"}
    assert "s3cr3t" not in str([r.details for r in records])  # storage secrets stay out of the log
    assert details[2] == {"changed": ["schedule", "storage_options"], "file_index_cleared": False}
    assert details[3] == {"run_id": run.id}
    assert details[4] == {"run_id": run.id, "state": "SUCCEEDED", "tables_created": 3, "files_scanned": 9}
    assert details[5] == {"entries": 2, "removed": 1, "replace": False}
    assert details[7] == {"changed": ["classifiers", "schedule"], "file_index_cleared": True}


# --- migration ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0002_upgrades_and_downgrades(backend, tmp_path, pg_databases):
    from alembic import command
    from alembic.config import Config

    from metastore.storage.engine import MIGRATIONS

    engine = make_engine(database_url(backend, tmp_path, pg_databases))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def migrate(step, revision: str) -> set[str]:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, revision)
        return set(inspect(engine).get_table_names())

    crawler_tables = {"crawlers", "crawler_runs", "crawler_files", "classifiers"}
    assert not crawler_tables & migrate(command.upgrade, "0001")
    assert crawler_tables <= migrate(command.upgrade, "0002")
    left = migrate(command.downgrade, "0001")
    assert not crawler_tables & left and {"tables", "partitions", "audit_log"} <= left
    engine.dispose()
