"""Split crawls: a crawl of many folders classified by several workers at once (issue 15).

The task that starts a crawl (`runner.crawl`) lists the top-level folders of its targets. From the
`crawler_split_folders` setting on, it records pieces of `crawler_piece_folders` folders each in the catalog
(crawl_pieces), sends one `runner.crawl_piece` task per piece and returns: no worker slot waits for another.
A piece lists its folders, classifies what changed since the last run and keeps its result (files, leaf
folder schemas, skipped files) in its row, once. The worker that finishes the last piece takes the merge
(piece 0; a claim in the catalog, so exactly one worker merges), which brings the catalog in line from all
the results in the same transactions as a crawl on one worker (`CrawlRun._write`).

A claimed piece holds a lease that its worker renews. Every worker process runs a sweeper (`start_sweeper`)
that sends a piece again once its lease lapsed (its worker died), and beats the run meanwhile; a piece is
redone at most `MAX_ATTEMPTS` times, and its result is kept once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import posixpath
import random
import socket
import threading
import time
from collections.abc import Callable

from fsspec.core import url_to_fs

from metastore.catalog import CatalogService, Conflict
from metastore.catalog import types as t
from metastore.catalog.crawlers import PIECE_DONE, PIECE_PENDING, Crawler, CrawlerTarget, CrawlPiece
from metastore.catalog.paths import allowed_roots, check_crawl_locations
from metastore.config import Settings
from runner.crawler.classifiers import Classification, CustomClassifier
from runner.crawler.crawl import REFUSED_LINK, SPLIT, CrawlOutcome, CrawlRun, RunEnded
from runner.crawler.grouping import Folder
from runner.crawler.walker import DataFile, Walk, top_folders, walk

log = logging.getLogger(__name__)

PIECE_TASK = "runner.crawl_piece"  # args: run id, piece number (0: the merge)
PIECE_TASKS = 16  # at most this many messages (worker slots) for the pieces of one split run
GO_ON_S = 30.0  # a piece task goes on with pending pieces for this long, then hands its slot back
MAX_ATTEMPTS = 3  # claims of one piece before its run fails: a piece that kills its worker is not retried for ever
DUPLICATE = "DUPLICATE"  # a piece redone while its first worker was only slow: its result was kept already
SendTask = Callable[[str, list], None]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# --- the crawl's definition and results, as JSON -------------------------------------------------------


def definition_json(crawler: Crawler, custom: list[CustomClassifier]) -> dict:
    return {"crawler": dataclasses.asdict(crawler), "custom": [dataclasses.asdict(c) for c in custom]}


def definition_of(d: dict) -> tuple[Crawler, list[CustomClassifier]]:
    c = d["crawler"]
    crawler = Crawler(**{**c, "targets": [CrawlerTarget(**x) for x in c["targets"]]})
    return crawler, [CustomClassifier(**x) for x in d["custom"]]


_CLASSIFICATION_FIELDS = {f.name for f in dataclasses.fields(Classification)}


def classification_of(d: dict) -> Classification:
    kept = {k: v for k, v in d.items() if k in _CLASSIFICATION_FIELDS}
    return Classification(**{**kept, "columns": [t.Column(**c) for c in d["columns"]]})


def _files_json(files: list[DataFile]) -> dict | list:
    """A folder's files in a piece's result: names and versions joined by NUL (which no file name or
    version holds) and the sizes, which decode several times faster than a list per file."""
    names, versions = [f.name for f in files], [f.version for f in files]
    if all(type(v) is str for v in versions):
        joined, vjoined = "\x00".join(names), "\x00".join(versions)
        if joined.count("\x00") == vjoined.count("\x00") == len(files) - 1:
            return {"names": joined, "sizes": [f.size for f in files], "versions": vjoined}
    return [[f.name, f.size, f.version] for f in files]


def _files_of(files: dict | list):
    """(name, size, version) of each file of `_files_json`'s answer."""
    if type(files) is dict:
        return zip(files["names"].split("\x00"), files["sizes"], files["versions"].split("\x00"), strict=True)
    return files


def _class_key(c: Classification) -> tuple:
    """Equal for equal classifications (what `dataclasses.asdict` would tell apart), cheaply."""
    return (c.format, c.certainty, tuple((x.name, x.type, x.comment) for x in c.columns), c.compression,
            tuple(sorted(c.serde_parameters.items())), tuple(sorted(c.table_parameters.items())),
            c.row_count_estimate, c.unreadable_reason)  # fmt: skip


# --- the coordinator ----------------------------------------------------------------------------------


class CoordinatorRun(CrawlRun):
    """The crawl as `runner.crawl` runs it: split when its targets hold many top-level folders."""

    def __init__(self, *args, send: SendTask, **kwargs):
        super().__init__(*args, **kwargs)
        self.send = send

    def _split(self, settings: Settings) -> bool:
        if settings.crawler_split_folders <= 0 or self.run_id is None:
            return False
        c = self.crawler
        tops = [[n for n in top_folders(x.path, c.storage_options) if not n.startswith((".", "_"))]  # hidden
                for x in c.targets]  # fmt: skip
        if sum(len(x) for x in tops) < settings.crawler_split_folders:
            return False
        self._ensure_database()
        size = max(1, settings.crawler_piece_folders)
        pieces = [{"target": i, "folders": names[j : j + size], "root_files": j == 0}
                  for i, names in enumerate(tops) for j in range(0, max(len(names), 1), size)]  # fmt: skip
        self.service.crawlers.split_run(self.run_id, definition_json(c, self.custom), pieces,
                                        settings.crawler_piece_lease_s)  # fmt: skip
        # a message asks one more worker slot to join: it takes a piece and goes on with the pending ones
        # (run_piece), so a message per piece would leave hundreds to be fetched for nothing afterwards
        for seq in range(1, min(len(pieces), PIECE_TASKS) + 1):
            self.send(PIECE_TASK, [self.run_id, seq])
        log.info("crawler %s: run %d split into %d pieces (%d folders)", c.name, self.run_id, len(pieces),
                 sum(len(x) for x in tops))  # fmt: skip
        return True


# --- a piece ------------------------------------------------------------------------------------------


class PieceRun(CrawlRun):
    """One piece: list its folders, classify what changed since the last run, keep the result."""

    def __init__(self, service: CatalogService, piece: CrawlPiece, lease_s: float):
        crawler, custom = definition_of(piece.definition)
        super().__init__(service, crawler.name, definition=crawler, custom=custom)
        self.piece, self.lease_s = piece, lease_s

    def _begin(self, stale_s: float) -> None:
        self.run_id = self.piece.run_id

    def _beat_interval(self, settings: Settings) -> float:
        return max(0.2, min(super()._beat_interval(settings), self.lease_s / 3))

    def _beat_once(self) -> None:
        p = self.piece
        if not self.service.crawlers.renew_piece(p.run_id, p.seq, p.attempt, self.lease_s):
            raise Conflict(f"piece {p.seq} of run {p.run_id} was taken over, or the run has ended")

    def _execute(self) -> CrawlOutcome:
        p, settings = self.piece, Settings.load()
        try:
            self._allowed = allowed_roots(self.service.warehouse.root, settings)
            check_crawl_locations(self.crawler.name, self.crawler.targets, self.crawler.storage_options,
                                  warehouse=self.service.warehouse.root, settings=settings)  # fmt: skip
            result = self._crawl_piece()
        except RunEnded as e:
            log.warning("crawler %s: piece %d of run %d: %s", self.crawler.name, p.seq, p.run_id, e)
            return CrawlOutcome(self.crawler.name, p.run_id, "ENDED_ELSEWHERE", self.metrics, [], str(e))
        except Exception as e:  # noqa: BLE001 - as on one worker: the run fails with why (broken files do not)
            log.exception("crawler %s: piece %d of run %d failed", self.crawler.name, p.seq, p.run_id)
            return self._finish("FAILED", f"piece {p.seq}: {type(e).__name__}: {e}")
        kept = self.service.crawlers.finish_piece(p.run_id, p.seq, result)
        return CrawlOutcome(self.crawler.name, p.run_id, PIECE_DONE if kept else DUPLICATE, self.metrics, [])

    def _crawl_piece(self) -> dict:
        c, spec = self.crawler, self.piece.spec
        target = c.targets[spec["target"]]
        w = walk(target.path, target.exclusions, c.storage_options, self._allowed, only=spec["folders"],
                 root_files=spec["root_files"])  # fmt: skip
        for path in w.refused:
            self.metrics.skip(path, REFUSED_LINK)
        self._heartbeat()
        index = self.service.crawlers.file_index(c.name, [f.path for f in w.files])
        tables = dict.fromkeys(self._table_names())
        to_classify, reuse = self._plan_reads([w], index, tables)
        results = self._classify(to_classify)
        classes: dict[tuple, int] = {}  # one entry per distinct leaf classification
        kept: list[Classification] = []
        listing = []
        for folder, files in w.folders():
            table = reuse.get((w.root, folder))
            leaf = None if table is not None else self._leaf_of(files, results)
            idx = None
            if leaf is not None:
                idx = classes.setdefault(_class_key(leaf), len(classes))
                if idx == len(kept):
                    kept.append(leaf)
            listing.append([list(folder), _files_json(files), idx, table])
        m = self.metrics
        return {"target": spec["target"], "folders": listing, "classes": [dataclasses.asdict(c) for c in kept],
                "skipped": [[p, r] for p, r in m._reasons.items()], "scanned": m.files_scanned,
                "unchanged": m.files_unchanged}  # fmt: skip

    def _table_names(self) -> list[str]:
        from metastore.catalog import NotFound

        try:
            return self.service.tables.list(self.crawler.database)
        except NotFound:
            return []


# --- the merge ----------------------------------------------------------------------------------------


class MergeRun(CrawlRun):
    """The merge (piece 0): the catalog brought in line from every piece's result, and the run ended."""

    def __init__(self, service: CatalogService, piece: CrawlPiece, lease_s: float):
        crawler, custom = definition_of(piece.definition)
        super().__init__(service, crawler.name, run_id=piece.run_id, definition=crawler, custom=custom)
        self.piece, self.lease_s = piece, lease_s

    def _begin(self, stale_s: float) -> None:
        self.run_id = self.piece.run_id  # claimed with the merge

    def _beat_interval(self, settings: Settings) -> float:
        return max(0.2, min(super()._beat_interval(settings), self.lease_s / 3))

    def _beat_once(self) -> None:
        p = self.piece
        if not self.service.crawlers.renew_piece(p.run_id, 0, p.attempt, self.lease_s):
            raise Conflict(f"the merge of run {p.run_id} was taken over, or the run has ended")

    def execute(self) -> CrawlOutcome:
        outcome = super().execute()
        if outcome.state != "ENDED_ELSEWHERE":
            try:
                self.service.crawlers.drop_pieces(self.piece.run_id)
            except Exception:  # noqa: BLE001 - the sweepers drop them later
                log.warning("run %d: its pieces were not dropped", self.piece.run_id, exc_info=True)
        return outcome

    def _gather(self, index: dict, existing: dict[str, t.Table]) -> tuple[list[Walk], list[dict[Folder, Classification]]]:
        c = self.crawler
        walks = []
        for target in c.targets:
            fs, root = url_to_fs(target.path, **(c.storage_options or {}))
            protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            walks.append(Walk(fs, root.rstrip("/"), "file" if protocol in ("file", "local") else protocol))
        leaves: list[dict[Folder, Classification]] = [{} for _ in walks]
        interned: dict[str, Classification] = {}  # one object per distinct schema: merging them is then cheap
        grouped: list[list] = [[] for _ in walks]  # each walk's (folder, files), as Walk.folders() gives them
        for result in self.service.crawlers.piece_results(self.piece.run_id):
            self._heartbeat()
            i = result["target"]
            w = walks[i]
            classes = [interned.setdefault(json.dumps(d, sort_keys=True), classification_of(d)) for d in result["classes"]]
            for path, reason in result["skipped"]:
                self.metrics.skip(path, reason)
            self.metrics.files_scanned += result["scanned"]
            self.metrics.files_unchanged += result["unchanged"]
            for folder, files, idx, table in result["folders"]:
                folder = tuple(folder)
                base = posixpath.join(w.root, *folder)
                found = [DataFile(f"{base}/{name}", folder, name, size, version) for name, size, version in _files_of(files)]
                w.files.extend(found)
                grouped[i].append((folder, found))
                if table is not None:
                    if table in existing:  # else dropped meanwhile: its files are read at the next run
                        leaves[i][folder] = self._known_classification(table)
                elif idx is not None:
                    leaves[i][folder] = classes[idx]
        for w, folders in zip(walks, grouped, strict=True):
            # pieces list their folders in order, and the pieces are in the targets' order: the grouping
            # is the walk's own (made again if not)
            if all(a[0] < b[0] for a, b in zip(folders, folders[1:], strict=False)) and all(files for _, files in folders):
                w._folders = folders
        return walks, leaves


# --- the task and the sweeper -------------------------------------------------------------------------


def run_piece(service: CatalogService, run_id: int, seq: int, go_on: bool = True,
              send: SendTask | None = None) -> CrawlOutcome | None:  # fmt: skip
    """Piece `seq` of split run `run_id` (0: the merge), if it is free to take, then (`go_on`) the run's
    other pending pieces one after the other; the worker that finishes the last piece merges. None if there
    was nothing to do (done, taken, or the run ended). `send` (a worker's): after `GO_ON_S` seconds the
    worker slot is handed back with a message for the pending pieces, so that a worker asked to stop, or
    other tasks in the queue, wait for one piece at most rather than the whole run."""
    lease = Settings.load().crawler_piece_lease_s
    piece = service.crawlers.claim_piece(run_id, seq, worker_id(), lease)
    if piece is None and seq != 0 and go_on:  # done or taken: go on with another pending piece, if any
        piece = service.crawlers.claim_pending_piece(run_id, worker_id(), lease)
    if piece is None:
        return None
    if seq == 0:
        return MergeRun(service, piece, lease).execute()
    started = time.monotonic()
    while True:
        outcome = PieceRun(service, piece, lease).execute()
        if outcome.state not in (PIECE_DONE, DUPLICATE) or not go_on:
            break
        if send is not None and time.monotonic() - started > GO_ON_S:
            pending = service.crawlers.piece_states(run_id).get(PIECE_PENDING, 0)
            if pending:
                send(PIECE_TASK, [run_id, piece.seq])  # taken: its receiver goes on with a pending one
                return outcome
        # the next pending piece at once: each piece's message costs a trip through the broker (a second
        # with the embedded one), and its message then finds it taken
        piece = service.crawlers.claim_pending_piece(run_id, worker_id(), lease)
        if piece is None:
            break
    if outcome.state not in (PIECE_DONE, DUPLICATE):
        return outcome
    merge = service.crawlers.claim_piece(run_id, 0, worker_id(), lease)  # only once all are DONE
    if merge is not None:
        return MergeRun(service, merge, lease).execute()
    return outcome


def sweep(service: CatalogService, send: SendTask, ended: Callable[[int], None] | None = None) -> int:
    """One round of a worker's sweeper: pieces whose worker died are sent again; a run whose piece lost
    `MAX_ATTEMPTS` workers fails. Returns the number of pieces sent."""
    lease = Settings.load().crawler_piece_lease_s
    due, spent = service.crawlers.sweep_pieces(lease, MAX_ATTEMPTS)
    for p in due:
        log.warning("crawler %s: piece %d of run %d lost its worker (or its message): sent again", p.crawler,
                    p.seq, p.run_id)  # fmt: skip
        send(PIECE_TASK, [p.run_id, p.seq])
    for p in spent:
        error = f"piece {p.seq} of the split crawl lost its worker {p.attempt} times"
        try:
            service.crawlers.finish_run(p.run_id, "FAILED", error=error)
        except Conflict:
            continue  # ended meanwhile
        log.error("crawler %s: run %d failed: %s", p.crawler, p.run_id, error)
        if ended is not None:
            ended(p.run_id)
    return len(due)


def start_sweeper(service: Callable[[], CatalogService], send: SendTask,
                  ended: Callable[[int], None] | None = None) -> threading.Event:  # fmt: skip
    """Sweep every third of the crawler_piece_lease_s setting (1 to 10 s) in a daemon thread of this worker
    process; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            lease = Settings.load().crawler_piece_lease_s
            if stop.wait(min(10.0, max(1.0, lease / 3)) * random.uniform(0.8, 1.2)):
                return
            try:
                sweep(service(), send, ended)
            except Exception:  # noqa: BLE001 - e.g. the catalog briefly unreachable: the next round tries again
                log.warning("crawl piece sweeper failed", exc_info=True)

    threading.Thread(target=loop, daemon=True, name="crawl-piece-sweeper").start()
    return stop


__all__ = ["SPLIT", "CoordinatorRun", "MergeRun", "PieceRun", "run_piece", "start_sweeper", "sweep"]
