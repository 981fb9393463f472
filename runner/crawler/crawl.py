"""A crawler run: walk the targets, classify a sample of each folder, group folders into tables and
partitions, and bring the catalog in line, one transaction per table.

A broken file never fails the run: it is skipped and counted with its reason. Files whose size and
version are those of the last run are not read again (their folder keeps the schema its table has).
`dry_run` computes the same actions and writes nothing.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from metastore.catalog import AlreadyExists, CatalogService, Conflict, NotFound
from metastore.catalog import types as t
from metastore.catalog.crawlers import Crawler
from metastore.catalog.names import make_partition_name
from metastore.catalog.paths import allowed_roots, check_crawl_locations
from metastore.config import Settings
from runner.crawler.classifiers import Classification, ClassificationError, CustomClassifier, classify
from runner.crawler.file_stats import store_crawled
from runner.crawler.formats import reader_kind, storage_descriptor, table_parameters
from runner.crawler.grouping import Folder, TablePlan, merge_classifications, plan_tables, wider_key_type
from runner.crawler.schema import merge_columns
from runner.crawler.walker import DataFile, Walk, walk

log = logging.getLogger(__name__)

CRAWLER_PARAM = "UPDATED_BY_CRAWLER"  # Glue's table parameter naming the crawler that keeps a table
DEPRECATED_PARAM = "DEPRECATED_BY_CRAWLER"
MAX_SKIPPED_LISTED = 200
# A table whose folders hold files the crawler had to skip (broken, another format, a clashing schema) is
# marked with these parameters until a crawl finds them gone: Spark reads every file of a table's folders,
# so such a table fails (Parquet, ORC, Avro) or reads wrong rows (text) however good its other files are.
# Spark has no per-table way around it (spark.sql.files.ignoreCorruptFiles is a session setting: table
# properties do not reach it). Empty files are not counted: Spark skips 0-byte files.
UNREADABLE_PARAM = "mortar.crawler.unreadable_files"  # how many
UNREADABLE_LIST_PARAM = "mortar.crawler.unreadable_list"  # "path: reason; ..." (paths under the table's folder)
UNREADABLE_HINT_PARAM = "mortar.crawler.unreadable_hint"  # what it means and what to do, one sentence
UNREADABLE_PARAMS = (UNREADABLE_PARAM, UNREADABLE_LIST_PARAM, UNREADABLE_HINT_PARAM)
UNREADABLE_LISTED = 10
CLASSIFY_THREADS = 8
HEARTBEAT_S = 5
SPLIT = "SPLIT"  # outcome of a crawl handed to several workers: the run goes on (runner.crawler.split)
REFUSED_LINK = "symbolic link to a place outside the allowed_paths setting"


class RunEnded(Exception):
    """The run was ended elsewhere (marked stale, or cancelled): this worker stops."""


@dataclass
class Metrics:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    partitions_updated: int = 0
    partitions_deleted: int = 0
    files_scanned: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0
    skipped: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # tables a SUCCEEDED run leaves in need of the user
    _reasons: dict[str, str] = field(default_factory=dict, repr=False)  # every skipped path → why

    def skip(self, path: str, reason: str) -> None:
        self.files_skipped += 1
        self._reasons[path] = reason
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append({"path": path, "reason": reason})

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass
class Action:
    kind: str  # create_table, update_table, add_partitions, delete_table, ...
    table: str
    reason: str
    detail: dict = field(default_factory=dict)

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"{self.kind:<18} {self.table:<30} {self.reason}" + (f" ({extra})" if extra else "")


@dataclass
class CrawlOutcome:
    crawler: str
    run_id: int | None
    state: str
    metrics: Metrics
    actions: list[Action]
    error: str | None = None


Progress = Callable[[int, int], None]  # (files done, files to classify)


def classification_from_table(table: t.Table) -> Classification:
    """What a table says its files are: used for folders whose files did not change since last time."""
    params = {k: v for k, v in table.sd.serde.parameters.items() if k != "path"}
    return Classification(
        format=table.parameters.get("classification", "unknown"), certainty=1.0, columns=list(table.sd.cols),
        compression=table.parameters.get("compressionType") or None, serde_parameters=params,
        table_parameters=table_parameters_kept(table.parameters),
    )  # fmt: skip


def table_parameters_kept(params: dict[str, str]) -> dict[str, str]:
    drop = {CRAWLER_PARAM, DEPRECATED_PARAM, "transient_lastDdlTime", "EXTERNAL", *UNREADABLE_PARAMS}
    return {k: v for k, v in params.items() if k not in drop}


class CrawlRun:
    def __init__(self, service: CatalogService, name: str, *, dry_run: bool = False, progress: Progress | None = None,
                 run_id: int | None = None, trigger: str | None = None, definition: Crawler | None = None,
                 custom: list[CustomClassifier] | None = None):  # fmt: skip
        """`run_id`: execute that run, recorded already (a workflow's crawler node), instead of starting one;
        `trigger`: the trigger that started this crawl; `definition`, `custom`: the crawler's definition and
        custom classifiers as a split run recorded them (default: as the catalog has them now)."""
        self.given_run_id = run_id
        self.trigger = trigger
        self.crawler = definition or service.crawlers.get(name)
        # what the crawl changes (tables, their versions, partitions) is recorded as done by the crawler
        self.service = service.for_user(f"crawler:{self.crawler.name}")
        self.dry_run = dry_run
        self.progress = progress
        self.metrics = Metrics()
        self.actions: list[Action] = []
        self.run_id: int | None = None
        self.custom = custom if custom is not None else [_custom(c) for c in service.crawlers.classifiers_of(name)]
        self._last_heartbeat = 0.0
        self._allowed: list[str] | None = None
        self._stop_beat = threading.Event()
        self._ended: str | None = None
        self._tables: dict[str, t.Table] = {}
        self._known: dict[str, Classification] = {}

    # --- the run --------------------------------------------------------------------------------------

    def execute(self) -> CrawlOutcome:
        settings = Settings.load()  # read at each run: a changed setting is honoured without a restart
        self._begin(settings.crawler_stale_s)
        beating = None
        if self.run_id is not None:  # heartbeats from a thread: a long listing of a store is no silence
            beating = threading.Thread(target=self._beat, args=(self._beat_interval(settings),), daemon=True,
                                       name=f"crawl-heartbeat-{self.run_id}")  # fmt: skip
            beating.start()
        try:
            return self._execute()
        finally:
            self._stop_beat.set()
            if beating is not None:
                beating.join(10)

    def _beat_interval(self, settings: Settings) -> float:
        return min(HEARTBEAT_S, settings.crawler_stale_s / 3)

    def _begin(self, stale_s: float) -> None:
        """Start the run (or take the recorded one): `self.run_id`."""
        if self.given_run_id is not None:
            self.run_id = self.service.crawlers.claim_run(self.given_run_id, stale_after_s=stale_s).id
        elif not self.dry_run:
            self.run_id = self.service.crawlers.start_run(self.crawler.name, stale_after_s=stale_s,
                                                          trigger=self.trigger).id  # fmt: skip
            # taken by this worker at once: its first heartbeat, so that the run counts as having a worker
            # (and is failed after crawler_stale_s, not after the longer wait of a run no worker took)
            self.service.crawlers.claim_run(self.run_id, stale_after_s=stale_s)

    def _beat(self, interval: float) -> None:
        while not self._stop_beat.wait(interval):
            try:
                self._beat_once()
            except Conflict as e:  # ended elsewhere (stale, or cancelled): the crawl stops at its next step
                self._ended = str(e)
                return
            except Exception:  # noqa: BLE001 - a storage hiccup; the next beat tries again
                log.warning("crawler %s: heartbeat of run %s failed", self.crawler.name, self.run_id, exc_info=True)

    def _beat_once(self) -> None:
        """One sign of life (Conflict: the run ended elsewhere)."""
        self.service.crawlers.heartbeat_run(self.run_id)

    def _execute(self) -> CrawlOutcome:
        settings = Settings.load()
        try:
            # the allowed_paths setting again, as it is now: the definition may predate a change of it
            self._allowed = allowed_roots(self.service.warehouse.root, settings)
            check_crawl_locations(self.crawler.name, self.crawler.targets, self.crawler.storage_options,
                                  warehouse=self.service.warehouse.root, settings=settings)  # fmt: skip
            if not self.dry_run and self._split(settings):
                return CrawlOutcome(self.crawler.name, self.run_id, SPLIT, self.metrics, self.actions)
            self._crawl()
        except RunEnded as e:
            log.warning("crawler %s: %s", self.crawler.name, e)
            return CrawlOutcome(self.crawler.name, self.run_id, "ENDED_ELSEWHERE", self.metrics, self.actions, str(e))
        except Exception as e:  # noqa: BLE001 - the run records why it failed
            log.exception("crawler %s failed", self.crawler.name)
            return self._finish("FAILED", f"{type(e).__name__}: {e}")
        return self._finish("SUCCEEDED", None)

    def _finish(self, state: str, error: str | None) -> CrawlOutcome:
        if self.run_id is not None:
            self.service.crawlers.finish_run(self.run_id, state, self.metrics.as_dict(), error)
        return CrawlOutcome(self.crawler.name, self.run_id, state, self.metrics, self.actions, error)

    def _heartbeat(self) -> None:
        if self._ended is not None:
            raise RunEnded(self._ended)
        now = time.monotonic()
        if self.run_id is not None and now - self._last_heartbeat > HEARTBEAT_S:
            self._last_heartbeat = now
            try:
                self._beat_once()
            except Conflict as e:
                raise RunEnded(str(e)) from e

    def _split(self, settings: Settings) -> bool:
        """Hand the crawl to several workers instead (runner.crawler.split): True if it did."""
        return False

    def _crawl(self) -> None:
        self._ensure_database()
        index = self.service.crawlers.file_index(self.crawler.name)
        existing = self._crawler_tables()
        self._known = {}  # table name → its classification, for folders whose files did not change
        walks, leaves = self._gather(index, existing)
        self._write(walks, leaves, index, existing)

    def _gather(self, index: dict, existing: dict[str, t.Table]) -> tuple[list[Walk], list[dict[Folder, Classification]]]:
        """Walk the targets and classify what changed: the walks, and each one's leaf folders' schemas."""
        c = self.crawler
        walks = [walk(target.path, target.exclusions, c.storage_options, self._allowed) for target in c.targets]
        for w in walks:
            for path in w.refused:
                self.metrics.skip(path, REFUSED_LINK)
        to_classify, reuse = self._plan_reads(walks, index, existing)
        results = self._classify(to_classify)
        return walks, [self._leaves(w, results, reuse) for w in walks]

    def _write(self, walks: list[Walk], leaves_of: list[dict[Folder, Classification]], index: dict,
               existing: dict[str, t.Table]) -> None:  # fmt: skip
        """Bring the catalog in line with what was found: one transaction per table, then the file index."""
        c = self.crawler
        seen: dict[str, tuple[int, str, str]] = {}
        kept_tables: set[str] = set()
        for w, leaves in zip(walks, leaves_of, strict=True):
            if not leaves:
                continue
            plans = plan_tables(leaves, posixpath.basename(w.root) or "root", prefix=c.table_prefix,
                                combine_compatible_schemas=c.combine_compatible_schemas,
                                table_level=c.table_level, existing_roots=self._roots(w, existing))  # fmt: skip
            table_of: dict[Folder, str] = {}  # leaf folder → its table
            bad = self._unreadable_by_folder(w)
            for plan in plans:
                self._heartbeat()
                name = self._apply(w, plan, existing)
                self._mark_unreadable(w, plan, name, [x for leaf in plan.leaves for x in bad.get(leaf, [])],
                                      existing)  # fmt: skip
                if not self.dry_run:  # statistics from Parquet/ORC footers (never fails the crawl)
                    store_crawled(self.service, c.database, w, plan, name)
                kept_tables.add(name)
                for leaf in plan.leaves:
                    table_of[leaf] = name
            for folder, files in w.folders():
                name = table_of.get(folder)
                if name is not None:
                    for f in files:
                        # a skipped file stays out of the index: its folder is read again at each run,
                        # so that the table's mark stays true until the file is gone
                        if f.path not in self.metrics._reasons or f.size == 0:
                            seen[f.path] = (f.size, f.version, name)
        self._handle_vanished_tables(existing, kept_tables, walks)
        if not self.dry_run:
            removed = [p for p in index if p not in seen and any(p.startswith(w.root + "/") for w in walks)]
            changed = {p: v for p, v in seen.items() if tuple(index.get(p) or ()) != v}
            if changed or removed:
                self.service.crawlers.update_file_index(c.name, changed, removed)

    def _roots(self, w: Walk, existing: dict[str, t.Table]) -> frozenset[Folder]:
        """Folders (under this walk's root) of the tables this crawler keeps."""
        base = w.url(w.root).rstrip("/")
        roots = set()
        for table in existing.values():
            loc = (table.sd.location or "").rstrip("/")
            if table.parameters.get(CRAWLER_PARAM) == self.crawler.name and (loc == base or loc.startswith(base + "/")):
                roots.add(tuple(p for p in loc[len(base) :].split("/") if p))
        return frozenset(roots)

    # --- reading ----------------------------------------------------------------------------------------

    def _plan_reads(self, walks: list[Walk], index: dict, existing: dict[str, t.Table]):
        """The files to classify, and the leaf folders whose files are unchanged (→ their table)."""
        c = self.crawler
        to_classify: list[tuple[Walk, DataFile]] = []
        reuse: dict[tuple[str, Folder], str] = {}
        for w in walks:
            for folder, files in w.folders():
                known = [index.get(f.path) for f in files]
                unchanged = all(k is not None and (k[0], k[1]) == (f.size, f.version) for k, f in zip(known, files, strict=True))
                table = known[0][2] if known and known[0] else None
                if unchanged and table in existing:
                    reuse[(w.root, folder)] = table
                    self.metrics.files_unchanged += len(files)
                    continue
                if c.recrawl_behavior == "CRAWL_NEW_FOLDERS_ONLY" and any(k is not None for k in known):
                    continue  # a folder seen before: left as it is
                sample = files if not c.sample_size else files[: c.sample_size]
                to_classify.extend((w, f) for f in sample)
        return to_classify, reuse

    def _classify(self, files: list[tuple[Walk, DataFile]]) -> dict[str, Classification]:
        results: dict[str, Classification] = {}
        total = len(files)

        def one(item):
            w, f = item
            try:
                return f.path, classify(w.fs, f.path, f.size, self.custom, strict=True), None
            except ClassificationError as e:
                return f.path, None, str(e)
            except Exception as e:  # noqa: BLE001 - an unreadable file is skipped, never fatal
                return f.path, None, f"{type(e).__name__}: {e}"

        # threads wait for a remote store's answers together; local files are read faster than threads
        # would hand them over (the classifying itself holds the GIL)
        local = all(w.protocol == "file" for w in {id(w): w for w, _ in files}.values())

        def local_reads():
            ahead = _ReadAhead([f.path for _, f in files])
            for i, item in enumerate(files):
                started = time.perf_counter()
                yield one(item)
                ahead.after(i, time.perf_counter() - started)

        with ThreadPoolExecutor(1 if local else CLASSIFY_THREADS) as pool:
            for done, (path, result, error) in enumerate(local_reads() if local else pool.map(one, files), 1):
                self.metrics.files_scanned += 1
                if error is not None:
                    self.metrics.skip(path, error)
                elif result is None:
                    self.metrics.skip(path, "no classifier recognised it")
                else:
                    results[path] = result
                if self.progress:
                    self.progress(done, total)
                if done % 200 == 0:
                    self._heartbeat()
        return results

    def _leaves(self, w: Walk, results: dict[str, Classification], reuse: dict) -> dict[Folder, Classification]:
        """One classification per leaf folder: the merge of its files' (files that do not fit the folder's
        main format are skipped with the reason)."""
        leaves: dict[Folder, Classification] = {}
        for folder, files in w.folders():
            table = reuse.get((w.root, folder))
            if table is not None:
                leaves[folder] = self._known_classification(table)
                continue
            merged = self._leaf_of(files, results)
            if merged is not None:
                leaves[folder] = merged
        return leaves

    def _known_classification(self, table: str) -> Classification:
        """What table `table` says its files are (for folders whose files did not change)."""
        if table not in self._known:
            self._known[table] = classification_from_table(self._existing_table(table))
        return self._known[table]

    def _leaf_of(self, files: list[DataFile], results: dict[str, Classification]) -> Classification | None:
        """The merged classification of one folder's files; files that do not fit are skipped with why."""
        found = [(f, results[f.path]) for f in files if f.path in results]
        if not found:
            return None
        by_format: dict[str, list] = {}
        for f, cl in found:
            by_format.setdefault(cl.format, []).append((f, cl))
        main = max(by_format.values(), key=len)
        for fmt, items in by_format.items():
            if items is not main:
                for f, _ in items:
                    self.metrics.skip(f.path, f"{fmt} file among {main[0][1].format} files of its folder")
        merged = merge_classifications([cl for _, cl in main])
        if merged is None:
            for f, _ in main[1:]:
                self.metrics.skip(f.path, "schema incompatible with the other files of its folder")
            merged = main[0][1]
        return merged

    # --- writing ----------------------------------------------------------------------------------------

    def _ensure_database(self) -> None:
        try:
            self.service.databases.get(self.crawler.database)
        except NotFound:
            self.actions.append(Action("create_database", self.crawler.database, "the target database is missing"))
            if not self.dry_run:
                try:
                    self.service.databases.create(t.Database(name=self.crawler.database,
                                                             description=f"created by crawler {self.crawler.name}"))  # fmt: skip
                except AlreadyExists:
                    pass

    def _crawler_tables(self) -> dict[str, t.Table]:
        try:
            names = self.service.tables.list(self.crawler.database)
        except NotFound:
            return {}
        tables = self.service.tables.get_many(self.crawler.database, names)
        self._tables = {x.name: x for x in tables}
        return dict(self._tables)

    def _existing_table(self, name: str) -> t.Table:
        return self._tables.get(name) or self.service.tables.get(self.crawler.database, name)

    def _apply(self, w: Walk, plan: TablePlan, existing: dict[str, t.Table]) -> str:
        db = self.crawler.database
        location = w.url(posixpath.join(w.root, *plan.root))
        name = plan.name
        current = existing.get(name)
        if current is not None and current.parameters.get(CRAWLER_PARAM) != self.crawler.name:
            name = f"{name}_{abs(hash(location)) % 10**6:06d}"  # another's table: keep away from it
            current = existing.get(name)
        key_types = plan.key_types or ["string"] * len(plan.partition_keys)
        keys = [t.Column(k, ty) for k, ty in zip(plan.partition_keys, key_types, strict=True)]
        if current is None:
            table = t.Table(
                name=name, db_name=db, owner="crawler", table_type=t.EXTERNAL_TABLE,
                sd=storage_descriptor(plan.classification, location),
                partition_keys=keys,
                parameters={**table_parameters(plan.classification, keys), CRAWLER_PARAM: self.crawler.name,
                            "EXTERNAL": "TRUE"},
            )  # fmt: skip
            self.actions.append(Action("create_table", name, plan.reason,
                                       {"format": plan.classification.format, "columns": len(table.sd.cols),
                                        "partitions": len(plan.partitions)}))  # fmt: skip
            if not self.dry_run:
                self.service.tables.create(table)
                existing[name] = table
            self.metrics.tables_created += 1
        else:
            self._update_schema(current, plan)
            current = self._widen_keys(current, plan, existing)
        self._add_partitions(name, location, plan, existing.get(name) or current)
        if not self.dry_run and self.run_id is not None:  # lineage: this location fed this table
            self.service.lineage.record_crawl(self.run_id, self.crawler.name, location, db, name)
            self.service.annotations.classify_columns(db, name, Settings.load().classification_rules)
        return name

    def _widen_keys(self, current: t.Table, plan: TablePlan, existing: dict[str, t.Table]) -> t.Table:
        """Partition keys whose new folder values no longer fit their type (month=xx under an int key) are
        widened (int → bigint → string), a schema change like a widened column. The catalog keeps a table's
        partition keys fixed (as Hive does), so the table is made again with its partitions, as they were."""
        old = current.partition_keys
        if not plan.key_types or [k.name.lower() for k in old] != [k.lower() for k in plan.partition_keys]:
            return current
        types = [wider_key_type(k.type, ty) for k, ty in zip(old, plan.key_types, strict=True)]
        if types == [k.type.lower() for k in old]:
            return current
        changed = ",".join(f"{k.name}:{k.type}->{ty}" for k, ty in zip(old, types, strict=True) if k.type.lower() != ty)
        detail = {"partition keys": changed}
        if self.crawler.update_behavior == "LOG":
            self.actions.append(Action("log_schema_change", current.name, "partition key values outgrew their type; "
                                       "policy is LOG", detail))  # fmt: skip
            return current
        self.actions.append(Action("update_table", current.name, "partition key values outgrew their type", detail))
        self.metrics.tables_updated += 1
        if self.dry_run:
            return current
        db = self.crawler.database
        keys = [t.Column(k.name, ty, k.comment) for k, ty in zip(old, types, strict=True)]
        parts = self.service.partitions.list(db, current.name)
        cols = merge_columns(current.sd.cols, plan.classification.columns) or plan.classification.columns
        spark = {k: v for k, v in table_parameters(replace(plan.classification, columns=cols), keys).items()
                 if k.startswith("spark.sql.sources.schema")}  # fmt: skip
        params = {k: v for k, v in current.parameters.items() if not k.startswith("spark.sql.sources.schema")}
        table = replace(current, partition_keys=keys, parameters={**params, **spark}, create_time=0)
        self.service.tables.drop(db, current.name, delete_data=False)
        self.service.tables.create(table)
        for i in range(0, len(parts), 1000):
            batch = [replace(p, create_time=0) for p in parts[i : i + 1000]]
            self.service.partitions.add(db, current.name, batch, if_not_exists=True)
        existing[current.name] = table
        return table

    def _unreadable_by_folder(self, w: Walk) -> dict[Folder, list[tuple[str, str]]]:
        """Per leaf folder, the files of it that the crawler skipped and Spark would still read."""
        out: dict[Folder, list[tuple[str, str]]] = {}
        reasons = self.metrics._reasons
        if not reasons:
            return out
        # the folders of the skipped files only (few), not every file
        prefix = w.root.rstrip("/") + "/"
        named = {tuple(p[len(prefix) :].split("/")[:-1]) for p in reasons if p.startswith(prefix)}
        for folder, files in w.folders():
            if folder not in named:
                continue
            bad = [(f.path, reasons[f.path]) for f in files if f.path in reasons and f.size > 0]
            if bad:
                out[folder] = bad
        return out

    def _mark_unreadable(self, w: Walk, plan: TablePlan, name: str, bad: list[tuple[str, str]],
                         existing: dict[str, t.Table]) -> None:  # fmt: skip
        """Marks the table (or clears its mark) with the files in its folders that the crawler skipped, and
        warns in the run's outcome: the table is not readable until those files go."""
        base = posixpath.join(w.root, *plan.root)
        rel = [(posixpath.relpath(p, base), reason) for p, reason in sorted(bad)]
        wanted: dict[str, str] = {}
        if rel:
            folders = sorted({posixpath.dirname(p) for p, _ in bad})
            where = w.url(folders[0]) if len(folders) == 1 else w.url(base) + " (and its subfolders)"
            effect = ("Spark will fail reading this table" if reader_kind(plan.classification) in ("parquet", "orc", "avro")
                      else "Spark may fail reading this table, or read them as wrong rows,")  # fmt: skip
            hint = (f"{effect} until they are removed or moved out of {where}; then run crawler "
                    f"{self.crawler.name} again")  # fmt: skip
            listed = "; ".join(f"{p}: {r}" for p, r in rel[:UNREADABLE_LISTED])
            if len(rel) > UNREADABLE_LISTED:
                listed += f"; ... and {len(rel) - UNREADABLE_LISTED} more"
            wanted = {UNREADABLE_PARAM: str(len(rel)), UNREADABLE_LIST_PARAM: listed[:3900], UNREADABLE_HINT_PARAM: hint}
            names = ", ".join(p for p, _ in rel[:3]) + (", ..." if len(rel) > 3 else "")
            self.metrics.warnings.append(f"table {self.crawler.database}.{name}: {len(rel)} file(s) the crawler "
                                         f"could not read are in its folder ({names}); {hint}")  # fmt: skip
        table = existing.get(name)
        have = {k: v for k, v in (table.parameters if table else {}).items() if k in UNREADABLE_PARAMS}
        if have == wanted:
            return
        if wanted:
            self.actions.append(Action("mark_unreadable", name, "its folder holds files the crawler skipped",
                                       {"files": len(rel)}))  # fmt: skip
        else:
            self.actions.append(Action("clear_unreadable", name, "the files the crawler skipped are gone"))
        if self.dry_run or table is None:
            return
        for k in UNREADABLE_PARAMS:
            table.parameters.pop(k, None)
        table.parameters.update(wanted)
        self.service.tables.alter(self.crawler.database, name, table)

    def _update_schema(self, current: t.Table, plan: TablePlan) -> None:
        cols = merge_columns(current.sd.cols, plan.classification.columns)
        if cols is None:
            return
        # through the format's rules: no `void` column, and the types the table's reader needs
        fresh = storage_descriptor(replace(plan.classification, columns=cols), current.sd.location or "")
        merged = fresh.cols
        if [(c.name, c.type) for c in merged] == [(c.name, c.type) for c in current.sd.cols]:
            return
        added = [c.name for c in merged if c.name.lower() not in {x.name.lower() for x in current.sd.cols}]
        detail = {"new columns": ",".join(added) or "-", "columns": len(merged)}
        if self.crawler.update_behavior == "LOG":
            self.actions.append(Action("log_schema_change", current.name, "schema changed; policy is LOG", detail))
            return
        self.actions.append(Action("update_table", current.name, "schema changed", detail))
        self.metrics.tables_updated += 1
        if not self.dry_run:
            current.sd.cols = merged
            current.parameters.pop(DEPRECATED_PARAM, None)
            current.parameters.update(table_parameters(replace(plan.classification, columns=cols), current.partition_keys))
            self.service.tables.alter(current.db_name, current.name, current)

    def _add_partitions(self, name: str, location: str, plan: TablePlan, table: t.Table | None) -> None:
        if not plan.partitions:
            return
        have = set()
        if not self.dry_run or table is not None and table.partition_keys:
            try:
                have = set(self.service.partitions.names(self.crawler.database, name))
            except NotFound:
                have = set()
        new = []
        sd_of = _StorageDescriptors(plan.classification)
        for values, folder in plan.partitions.items():
            if have and make_partition_name(plan.partition_keys, list(values)) in have:
                continue
            sd = sd_of(posixpath.join(location, *folder[len(plan.root) :]))
            new.append(t.Partition(values=list(values), db_name=self.crawler.database, table_name=name, sd=sd))
        if new:
            self.actions.append(Action("add_partitions", name, "new folders", {"count": len(new)}))
            self.metrics.partitions_added += len(new)
            if not self.dry_run:
                for i in range(0, len(new), 1000):
                    self.service.partitions.add(self.crawler.database, name, new[i : i + 1000], if_not_exists=True)
        if not self.dry_run and table is not None:
            self._vanished_partitions(name, plan, have)

    def _vanished_partitions(self, name: str, plan: TablePlan, have: set[str]) -> None:
        now = {make_partition_name(plan.partition_keys, list(v)) for v in plan.partitions}
        gone = sorted(have - now)
        if not gone or self.crawler.recrawl_behavior == "CRAWL_NEW_FOLDERS_ONLY":
            return
        if self.crawler.delete_behavior == "DELETE_FROM_DATABASE":
            self.actions.append(Action("drop_partitions", name, "their folders are gone", {"count": len(gone)}))
            self.service.partitions.drop_by_names(self.crawler.database, name, gone, delete_data=False)
            self.metrics.partitions_deleted += len(gone)
        else:
            self.actions.append(Action("log_partitions", name, "folders gone; policy keeps them", {"count": len(gone)}))

    def _handle_vanished_tables(self, existing: dict[str, t.Table], kept: set[str], walks: list[Walk]) -> None:
        roots = [w.url(w.root).rstrip("/") for w in walks]
        for name, table in existing.items():
            if name in kept or table.parameters.get(CRAWLER_PARAM) != self.crawler.name:
                continue
            loc = (table.sd.location or "").rstrip("/")
            if not any(loc == r or loc.startswith(r + "/") for r in roots):
                continue  # outside this run's targets
            policy = self.crawler.delete_behavior
            if policy == "DELETE_FROM_DATABASE":
                self.actions.append(Action("delete_table", name, "its data is gone"))
                self.metrics.tables_deleted += 1
                if not self.dry_run:
                    self.service.tables.drop(self.crawler.database, name, delete_data=False)
            elif policy == "DEPRECATE_IN_DATABASE":
                if DEPRECATED_PARAM in table.parameters:
                    continue
                self.actions.append(Action("deprecate_table", name, "its data is gone"))
                self.metrics.tables_updated += 1
                if not self.dry_run:
                    table.parameters[DEPRECATED_PARAM] = str(int(time.time()))
                    self.service.tables.alter(self.crawler.database, name, table)
            else:
                self.actions.append(Action("log_table", name, "its data is gone; policy is LOG"))


class _ReadAhead:
    """Local files read one after the other wait for the disk when they are not in the page cache (a
    million small files just copied in, or written long ago): once reads turn slow, the kernel is asked to
    read the next files meanwhile (POSIX_FADV_WILLNEED); while they are quick, nothing is asked (a hint
    costs about as much as a cached read)."""

    DEPTH = 64
    SLOW_S = 0.0002  # a classification taking longer than this, on average, waits for the disk

    def __init__(self, paths: list[str]):
        self.paths, self.next, self.average = paths, 0, 0.0
        self.enabled = hasattr(os, "posix_fadvise")

    def after(self, i: int, seconds: float) -> None:
        """File `i` took `seconds`."""
        self.average = 0.9 * self.average + 0.1 * seconds
        if not self.enabled or self.average < self.SLOW_S:
            return
        self.next = max(self.next, i + 1)
        end = min(len(self.paths), i + 1 + self.DEPTH)
        while self.next < end:
            path = self.paths[self.next]
            self.next += 1
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                finally:
                    os.close(fd)
            except OSError:
                pass  # its classification says why, if it cannot be read


class _StorageDescriptors:
    """`storage_descriptor(c, location)` for many locations (the partitions of a table): made once with a
    stand-in location, then copied with each location in its place; the first copy is checked against a
    descriptor made directly (if they differ, each one is made directly)."""

    _STAND_IN = "\x00location\x00"

    def __init__(self, c: Classification):
        self.c = c
        self.template = storage_descriptor(c, self._STAND_IN)
        self.checked = False

    def __call__(self, location: str) -> t.StorageDescriptor:
        if self.template is None:
            return storage_descriptor(self.c, location)
        sd = self._copy(location)
        if not self.checked:
            self.checked = True
            if sd != storage_descriptor(self.c, location):
                self.template = None
                return storage_descriptor(self.c, location)
        return sd

    def _copy(self, location: str) -> t.StorageDescriptor:
        tpl, stand_in = self.template, self._STAND_IN  # by the constructors: dataclasses.replace is slow
        d = tpl.serde
        serde = t.SerDe(name=d.name, serialization_lib=d.serialization_lib, description=d.description,
                        parameters={k: location if v == stand_in else v for k, v in d.parameters.items()},
                        serializer_class=d.serializer_class, deserializer_class=d.deserializer_class,
                        serde_type=d.serde_type)  # fmt: skip
        return t.StorageDescriptor(
            cols=[t.Column(c.name, c.type, c.comment) for c in tpl.cols],
            location=location if tpl.location == stand_in else tpl.location, input_format=tpl.input_format,
            output_format=tpl.output_format, compressed=tpl.compressed, num_buckets=tpl.num_buckets, serde=serde,
            bucket_cols=list(tpl.bucket_cols), sort_cols=list(tpl.sort_cols),
            parameters={k: location if v == stand_in else v for k, v in tpl.parameters.items()},
            skewed_info=tpl.skewed_info, stored_as_sub_directories=tpl.stored_as_sub_directories,
        )  # fmt: skip


def _custom(c) -> CustomClassifier:
    return CustomClassifier(**{k: getattr(c, k) for k in CustomClassifier.__dataclass_fields__ if hasattr(c, k)})


def run_crawler(service: CatalogService, name: str, *, dry_run: bool = False, progress: Progress | None = None,
                run_id: int | None = None, trigger: str | None = None,
                send: Callable[[str, list], None] | None = None) -> CrawlOutcome:  # fmt: skip
    """Run the crawler `name` now, in this process (a Celery task or the command line); `run_id`: the
    recorded run to execute (Conflict if another worker took it). `send` (a worker's send_task): a crawl
    of many folders is split into pieces sent to the workers (runner.crawler.split); the outcome is then
    SPLIT and the run goes on."""
    if send is None or dry_run:
        return CrawlRun(service, name, dry_run=dry_run, progress=progress, run_id=run_id, trigger=trigger).execute()
    from runner.crawler.split import CoordinatorRun

    return CoordinatorRun(service, name, progress=progress, run_id=run_id, trigger=trigger, send=send).execute()
