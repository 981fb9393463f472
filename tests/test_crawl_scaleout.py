"""Split crawls (issue 15): a crawl of many folders classified by several real workers on one broker (Redis
and the embedded one), one of them killed while it holds a piece; the outcome is the single-worker crawl's.
And, in this process, what the catalog guarantees: a piece's result is kept once, a lapsed piece is sent
again, the merge is taken once, recrawls stay incremental."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from metastore.catalog import CatalogService
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from metastore.storage.models import CrawlPieceRow
from runner.crawler.crawl import UNREADABLE_PARAM, run_crawler
from runner.crawler.split import run_piece, sweep
from tests.conftest import database_url, redis_url

ROOT = Path(__file__).resolve().parents[1]
FOLDERS, FILES = 60, 200  # 12 pieces of 5 folders, 1,000 files each: long enough to kill a worker holding one
SPLIT_ENV = {"MORTAR_CRAWLER_SPLIT_FOLDERS": "10", "MORTAR_CRAWLER_PIECE_FOLDERS": "5",
             "MORTAR_CRAWLER_PIECE_LEASE_S": "3"}  # fmt: skip


def make_tree(root: Path, folders: int = FOLDERS, files: int = FILES) -> Path:
    """events/part=NNN/f-I.csv, with one file no classifier reads; returns events."""
    events = root / "events"
    for p in range(folders):
        folder = events / f"part={p:03d}"
        folder.mkdir(parents=True)
        for i in range(files):
            (folder / f"f-{i:04d}.csv").write_text(f"id,kind,amount\n{p * files + i},click,{i * 0.5}\n")
    (events / "part=007" / "broken.csv").write_bytes(b"\x00\x01\x02\xff not a csv \x00")
    return events


def catalog_state(service: CatalogService, db: str) -> dict:
    """What a crawl made: tables, their columns, partitions and unreadable marks."""
    out = {}
    for name in service.tables.list(db):
        table = service.tables.get(db, name)
        out[name] = ([(c.name, c.type) for c in table.sd.cols], [(k.name, k.type) for k in table.partition_keys],
                     service.partitions.names(db, name), table.parameters.get(UNREADABLE_PARAM))  # fmt: skip
    return out


COUNTS = ("tables_created", "tables_updated", "partitions_added", "partitions_deleted", "files_scanned",
          "files_unchanged", "files_skipped")  # fmt: skip


def counts(metrics: dict) -> dict:
    return {k: metrics.get(k) for k in COUNTS}


def index_of(service: CatalogService, crawler: str) -> dict:
    return {p: (e.size, e.version, e.table_name) for p, e in service.crawlers.file_index(crawler).items()}


# --- in this process: the catalog's guarantees ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def split_service(request, tmp_path, monkeypatch, pg_databases):
    monkeypatch.setenv("MORTAR_ALLOWED_PATHS", str(tmp_path))
    for k, v in SPLIT_ENV.items():
        monkeypatch.setenv(k, v)
    svc = CatalogService.open(database_url(request.param, tmp_path, pg_databases), str(tmp_path / "wh"))
    yield svc
    svc.ctx.engine.dispose()


def test_pieces_are_kept_once_redone_when_lapsed_and_merged_once(split_service, tmp_path, monkeypatch):
    service = split_service
    events = make_tree(tmp_path / "data", folders=12, files=3)
    service.crawlers.create(Crawler(name="one", targets=[CrawlerTarget(str(events))], database="one"))
    service.crawlers.create(Crawler(name="many", targets=[CrawlerTarget(str(events))], database="many"))
    single = run_crawler(service, "one")
    assert single.state == "SUCCEEDED"

    sent: list[list] = []
    outcome = run_crawler(service, "many", send=lambda name, args: sent.append(args))
    assert outcome.state == "SPLIT" and len(sent) == 3  # 12 folders, 5 a piece
    run_id = outcome.run_id
    # a worker takes piece 1 and dies: its lease lapses, a sweeper sends it again, once
    dead = service.crawlers.claim_piece(run_id, 1, "dead-worker", lease_s=2)
    assert dead is not None and service.crawlers.claim_piece(run_id, 1, "other", lease_s=5) is None  # leased
    again: list[list] = []
    monkeypatch.setenv("MORTAR_CRAWLER_PIECE_LEASE_S", "2")
    assert sweep(service, lambda name, args: again.append(args)) == 0  # its lease holds
    time.sleep(2.1)
    # sent again (pieces 2 and 3 too if the run has been quiet, by this slow machine, for a lease)
    assert sweep(service, lambda name, args: again.append(args)) >= 1 and [run_id, 1] in again
    assert sweep(service, lambda name, args: again.append(args)) == 0  # handed to one sweeper
    monkeypatch.setenv("MORTAR_CRAWLER_PIECE_LEASE_S", "3")
    assert run_piece(service, run_id, 1, go_on=False).state == "DONE"
    assert run_piece(service, run_id, 1, go_on=False) is None  # done: a second delivery does nothing
    assert not service.crawlers.renew_piece(run_id, 1, dead.attempt, 5)  # the dead claim lost the piece
    assert service.crawlers.finish_piece(run_id, 1, {"bogus": True}) is False  # kept once
    assert run_piece(service, run_id, 0) is None  # no merge while pieces are pending
    assert run_piece(service, run_id, 2, go_on=False).state == "DONE"
    last = run_piece(service, run_id, 3)  # the last piece's worker merges
    assert last.state == "SUCCEEDED", last.error
    assert run_piece(service, run_id, 0) is None
    run = service.crawlers.get_run(run_id)
    assert run.state == "SUCCEEDED" and counts(run.metrics) == counts(single.metrics.as_dict())
    assert catalog_state(service, "many") == catalog_state(service, "one")
    assert {r.user for r in service.audit.records("many", "events")} == {"crawler:many"}
    with service.ctx.engine.connect() as conn:
        assert conn.execute(select(CrawlPieceRow).where(CrawlPieceRow.run_id == run_id)).first() is None

    # a recrawl reads only what changed, split as well; a folder gone is a partition gone
    (events / "part=003" / "f-0001.csv").write_text("id,kind,amount,extra\n1,a,2.0,x\n")
    for f in (events / "part=011").iterdir():
        f.unlink()
    (events / "part=011").rmdir()
    for name in ("one", "many"):
        service.crawlers.update(name, Crawler(name=name, targets=[CrawlerTarget(str(events))], database=name,
                                              delete_behavior="DELETE_FROM_DATABASE"))  # fmt: skip
    # the index was emptied by the change of definition? delete_behavior does not shape tables: it stays
    assert len(service.crawlers.file_index("many")) == len(service.crawlers.file_index("one")) == 12 * 3
    single = run_crawler(service, "one")
    sent.clear()
    outcome = run_crawler(service, "many", send=lambda name, args: sent.append(args))
    assert outcome.state == "SPLIT" or len(sent) == 0
    for args in sent:
        run_piece(service, *args)
    run = service.crawlers.runs("many")[0]
    assert run.state == "SUCCEEDED", run.error
    assert counts(run.metrics) == counts(single.metrics.as_dict())
    # part=003 (a file changed) and part=007 (its broken file stays out of the index) are read again
    assert run.metrics["files_scanned"] == 3 + 4 and run.metrics["partitions_deleted"] == 1
    assert catalog_state(service, "many") == catalog_state(service, "one")
    assert sorted(p.split("/events/")[1] for p in index_of(service, "many")) == sorted(
        p.split("/events/")[1] for p in index_of(service, "one"))  # fmt: skip


# --- real workers -----------------------------------------------------------------------------------------



def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_three_workers_split_a_crawl_and_one_dies(broker, tmp_path):
    from celery import Celery

    from metastore.config import Settings

    data_dir = tmp_path / "mortar"
    broker_url = redis_url(13) if broker == "redis" else f"sqla+sqlite:///{data_dir / 'broker.db'}"
    env = {**os.environ, "MORTAR_DATA_DIR": str(data_dir), "MORTAR_BROKER_URL": broker_url,
           "MORTAR_ALLOWED_PATHS": str(tmp_path), "MORTAR_JOB_WARM_POOL": "0", **SPLIT_ENV}  # fmt: skip
    settings = Settings.load(data_dir=str(data_dir), broker_url=broker_url)
    service = CatalogService.open(settings.database_url, settings.warehouse)
    events = make_tree(tmp_path / "data")
    service.crawlers.create(Crawler(name="one", targets=[CrawlerTarget(str(events))], database="one"))
    service.crawlers.create(Crawler(name="many", targets=[CrawlerTarget(str(events))], database="many"))
    # sent before the workers start: the queue exists then (workers that all create it at once on the
    # embedded broker may die of kombu's UNIQUE constraint on its name)
    Celery(broker=broker_url).send_task("runner.crawl", args=["many"])
    logs = [open(tmp_path / f"worker{i}.log", "wb") for i in range(3)]
    workers = [subprocess.Popen([sys.executable, "-m", "mortar.cli", "worker", "--concurrency", "1"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
               for log in logs]  # fmt: skip
    try:
        # the moment a worker holds a piece, it dies with its process group (no goodbye, no ack)
        victim, piece = None, None
        deadline = time.time() + 120
        while victim is None and time.time() < deadline:
            with service.ctx.engine.connect() as conn:
                rows = conn.execute(select(CrawlPieceRow.run_id, CrawlPieceRow.seq, CrawlPieceRow.worker)
                                    .where(CrawlPieceRow.state == "RUNNING", CrawlPieceRow.seq > 0)).all()  # fmt: skip
            for row in rows:
                pid = int(row.worker.split(":")[1])
                owner = next((w for w in workers if w.pid in (pid, _parent(pid))), None)
                if owner is not None:
                    os.killpg(owner.pid, signal.SIGKILL)
                    victim, piece = owner, row
                    break
            time.sleep(0.05)
        assert victim is not None, "no worker took a piece"
        victim.wait(10)
        with service.ctx.engine.connect() as conn:
            state = conn.execute(select(CrawlPieceRow.state).where(CrawlPieceRow.run_id == piece.run_id,
                                                                   CrawlPieceRow.seq == piece.seq)).scalar()  # fmt: skip
        assert state == "RUNNING"  # killed while its piece was under way: the piece must be redone

        single = run_crawler(service, "one")  # the reference, meanwhile, on one worker (this process)
        assert single.state == "SUCCEEDED"
        deadline = time.time() + 180
        while service.crawlers.get_run(piece.run_id).state == "RUNNING" and time.time() < deadline:
            time.sleep(0.5)
        runs = service.crawlers.runs("many")
        assert [r.state for r in runs] == ["SUCCEEDED"], runs  # ended once, and no second run
        run = runs[0]
        assert counts(run.metrics) == counts(single.metrics.as_dict())
        assert run.metrics["files_scanned"] == FOLDERS * FILES + 1 and run.metrics["files_skipped"] == 1
        state = catalog_state(service, "many")
        assert state == catalog_state(service, "one")
        assert list(state) == ["events"] and len(state["events"][2]) == FOLDERS and state["events"][3] == "1"
        assert len(index_of(service, "many")) == len(index_of(service, "one")) == FOLDERS * FILES
        logs_text = "".join((tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(3))
        assert "lost its worker (or its message): sent again" in logs_text
        finished = [a for a in service.audit.records(obj="many") if a.action == "FINISH_CRAWLER_RUN"]
        assert [a.details["run_id"] for a in finished] == [run.id]
        with service.ctx.engine.connect() as conn:
            assert conn.execute(select(CrawlPieceRow).where(CrawlPieceRow.run_id == run.id)).first() is None
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        for log in logs:
            log.close()
        service.ctx.engine.dispose()


def test_a_worker_goes_on_with_pending_pieces_and_results_stay_whole(split_service, tmp_path, monkeypatch):
    """A piece's worker takes the run's other pending pieces without a message each (their messages then
    find them taken), merges, and the catalog is the unsplit crawl's: a file of another format and a broken
    one among many like files are each told apart, and the file index is written in bulk once."""
    service = split_service
    events = make_tree(tmp_path / "data", folders=12, files=20)
    (events / "part=009" / "f-9999.csv").write_text('{"id": 1, "kind": "x"}\n{"id": 2}\n')  # JSON among CSV
    (events / "part=004" / "f-0003.csv").write_text("id,kind,amount\n3,click,2.75\n")  # widens nothing: double
    for name in ("one", "many"):
        service.crawlers.create(Crawler(name=name, targets=[CrawlerTarget(str(events))], database=name))
    single = run_crawler(service, "one")
    assert single.state == "SUCCEEDED"
    sent: list[list] = []
    monkeypatch.setattr("runner.crawler.split.PIECE_TASKS", 2)  # 3 pieces, messages for 2 worker slots
    outcome = run_crawler(service, "many", send=lambda name, args: sent.append(args))
    assert outcome.state == "SPLIT" and len(sent) == 2
    last = run_piece(service, *sent[0])  # goes on with pieces 2 and 3, then merges
    assert last is not None and last.state == "SUCCEEDED", last and last.error
    assert run_piece(service, *sent[1]) is None  # the other message: nothing left to do
    run = service.crawlers.get_run(outcome.run_id)
    assert run.state == "SUCCEEDED" and counts(run.metrics) == counts(single.metrics.as_dict())
    assert run.metrics["files_skipped"] == 2  # the broken file and the JSON one
    reasons = {s["path"].rsplit("/", 2)[-2] + "/" + s["path"].rsplit("/", 1)[-1]: s["reason"]
               for s in run.metrics["skipped"]}  # fmt: skip
    assert "json file among csv files" in reasons["part=009/f-9999.csv"]
    assert catalog_state(service, "many") == catalog_state(service, "one")
    assert index_of(service, "many").keys() and sorted(p.split("/events/")[1] for p in index_of(service, "many")) == \
        sorted(p.split("/events/")[1] for p in index_of(service, "one"))  # fmt: skip
    table = service.tables.get("many", "events")
    part = service.partitions.get("many", "events", ["004"])
    assert part.sd.location == table.sd.location + "/part=004"
    assert part.sd.serde.parameters.get("path") in (None, part.sd.location)  # the partition's own folder


def test_a_piece_walks_only_its_folders_with_the_same_rules(tmp_path):
    """A piece enters its named folders only (not a listing of the whole target each time), with the
    walk's rules: symbolic links within the allowed roots followed, others refused, hidden files left."""
    from runner.crawler.walker import walk

    root = tmp_path / "t"
    for name in ("a", "b", "c", "_hidden"):
        (root / name).mkdir(parents=True)
        (root / name / "x.csv").write_text("i,j\n1,2\n")
    (root / "top.csv").write_text("i,j\n1,2\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "y.csv").write_text("i,j\n1,2\n")
    (root / "inside").symlink_to(root / "a")
    (root / "away").symlink_to(outside)
    allowed = [str(root)]
    whole = walk(str(root), allowed=allowed)
    rel = lambda w: sorted(f.path[len(str(root)) + 1 :] for f in w.files)  # noqa: E731
    first = walk(str(root), allowed=allowed, only=["a", "away", "inside"], root_files=True)
    second = walk(str(root), allowed=allowed, only=["b", "c", "missing", "_hidden"], root_files=False)
    assert sorted(rel(first) + rel(second)) == rel(whole)
    assert "top.csv" in rel(first) and "top.csv" not in rel(second)
    assert [p.rsplit("/", 1)[-1] for p in first.refused] == ["away"] and second.refused == []
    assert second.hidden == 1


def test_a_piece_task_hands_its_slot_back_after_a_while(split_service, tmp_path, monkeypatch):
    """A worker goes on with pending pieces for crawler.split.GO_ON_S only, then sends a message for them and
    returns (a worker asked to stop, or the tasks queued behind, wait for one piece, not the whole run)."""
    service = split_service
    events = make_tree(tmp_path / "data", folders=12, files=2)
    service.crawlers.create(Crawler(name="many", targets=[CrawlerTarget(str(events))], database="many"))
    monkeypatch.setattr("runner.crawler.split.GO_ON_S", 0.0)
    sent: list[list] = []
    outcome = run_crawler(service, "many", send=lambda name, args: sent.append(args))
    queue = list(sent)
    handed: list[list] = []
    ran = []
    while queue:
        args = queue.pop(0)
        out = run_piece(service, *args, send=lambda name, a: (handed.append(a), queue.append(a)))
        ran.append(None if out is None else out.state)
    assert handed and ran.count("SUCCEEDED") == 1  # slots handed back, and one merge
    assert service.crawlers.get_run(outcome.run_id).state == "SUCCEEDED"
    assert len(service.partitions.names("many", "events")) == 12
