"""Crawlers as catalog objects: their definitions, their runs and metrics, custom classifiers, and the file
index that makes recrawls incremental.

Running a crawl is `runner/crawler`'s business; this module only stores what a crawl needs and records
what it did. Times are milliseconds since the epoch (run durations need better than seconds).

One run of a crawler at a time: `start_run` checks and inserts in one write transaction that holds the
crawler's row locked (FOR UPDATE; SQLite write transactions are exclusive already), so two workers in
different processes cannot both start. A worker proves it is alive with `heartbeat_run`; `mark_stale_runs`
fails the runs whose worker went quiet, so that a crashed worker does not block its crawler for ever.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import NamedTuple

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog import codec
from metastore.catalog.base import Area, now_ms, raw_rows
from metastore.catalog.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from metastore.catalog.names import check_column_name, check_name
from metastore.catalog.paths import check_crawl_locations
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import (
    NAME,
    ClassifierRow,
    CrawlerFileRow,
    CrawlerRow,
    CrawlerRunRow,
    CrawlPieceRow,
)

UPDATE_BEHAVIORS = ("UPDATE_IN_DATABASE", "LOG")
DELETE_BEHAVIORS = ("DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG")
RECRAWL_BEHAVIORS = ("CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY")

RUNNING, SUCCEEDED, FAILED, CANCELLED = "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
DRY_RUN = "DRY_RUN"  # a crawl that changed nothing and recorded what it would have done (record_dry_run)
RUN_STATES = (RUNNING, SUCCEEDED, FAILED, CANCELLED, DRY_RUN)
END_STATES = (SUCCEEDED, FAILED, CANCELLED)
STALE_RUN_ERROR = "worker stopped responding"
STALE_AFTER_S = 120  # default of the crawler_stale_s setting: a run without a heartbeat for this long lost its worker
PIECE_PENDING, PIECE_DONE = "PENDING", "DONE"  # states of a piece of a split run (and RUNNING)

CLASSIFIER_KINDS = ("grok", "json", "csv", "xml")
CSV_HEADERS = ("PRESENT", "ABSENT", "UNKNOWN")

MAX_SAMPLE_SIZE = 249  # files per leaf folder, as Glue allows
MAX_TABLE_PREFIX = 64
MAX_DESCRIPTION = 2048
MAX_ERROR = 8000  # characters of a run's error kept
MAX_SKIPPED_LISTED = 1000  # entries of a run's `skipped` list kept; the rest are counted in skipped_omitted
COUNT_METRICS = ("tables_created", "tables_updated", "tables_deleted", "partitions_added",
                 "partitions_updated", "partitions_deleted", "files_scanned", "files_skipped")  # fmt: skip

# Fields of a definition that decide which table a file lands in: changing one empties the file index,
# so that the next run reads every file again instead of trusting table names that no longer hold.
_SHAPING_FIELDS = ("targets", "database", "table_prefix", "classifiers", "sample_size",
                   "combine_compatible_schemas", "table_level")  # fmt: skip
_PREFIX = re.compile(r"[A-Za-z0-9_]*\Z")


# --- domain types ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class CrawlerTarget:
    path: str  # a local path or an fsspec URL (s3://bucket/prefix, file:///data, ...)
    exclusions: list[str] = field(default_factory=list)  # globs relative to path; `**` crosses folders


@dataclass(slots=True)
class Crawler:
    name: str
    targets: list[CrawlerTarget]
    database: str  # created by the first run if missing, as Glue does
    table_prefix: str = ""
    classifiers: list[str] = field(default_factory=list)  # custom classifier names, tried in this order
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "DEPRECATE_IN_DATABASE"
    recrawl_behavior: str = "CRAWL_EVERYTHING"
    sample_size: int | None = None  # files read per leaf folder; None: all
    combine_compatible_schemas: bool = False
    table_level: int | None = None  # folder depth of table roots, 1 = the target itself
    schedule: str | None = None  # cron, 5 fields, UTC
    description: str | None = None
    storage_options: dict = field(default_factory=dict)  # fsspec options (endpoint_url, key, secret, ...)
    created_at: int = 0  # ms (set by the catalog)
    updated_at: int = 0  # ms (set by the catalog)


@dataclass(slots=True)
class CrawlerRun:
    id: int
    crawler: str
    state: str  # RUNNING, SUCCEEDED, FAILED, CANCELLED
    started_at: int  # ms
    ended_at: int | None
    error: str | None
    metrics: dict  # COUNT_METRICS, and skipped: [{"path": ..., "reason": ...}]
    heartbeat_at: int = 0  # ms
    trigger: str | None = None  # the trigger that started it, if any
    workflow_run_id: int | None = None  # the workflow run it is part of, if any

    @property
    def duration_ms(self) -> int | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass(slots=True)
class Classifier:
    """A custom classifier as the catalog stores it; the same fields as the runner's CustomClassifier,
    which applies it (the catalog does not import the runner)."""

    name: str
    kind: str  # grok, json, csv, xml
    classification: str  # the format name reported for matching files
    grok_pattern: str | None = None
    custom_patterns: str | None = None  # lines "NAME regex"
    json_path: str | None = None
    csv_delimiter: str | None = None
    csv_quote: str | None = None
    csv_header: str | None = None  # PRESENT, ABSENT, UNKNOWN
    csv_column_names: list[str] | None = None
    xml_row_tag: str | None = None


_KIND_FIELDS = {
    "grok": ("grok_pattern", "custom_patterns"),
    "json": ("json_path",),
    "csv": ("csv_delimiter", "csv_quote", "csv_header", "csv_column_names"),
    "xml": ("xml_row_tag",),
}
_ALL_KIND_FIELDS = tuple(f for fields in _KIND_FIELDS.values() for f in fields)


@dataclass(slots=True)
class CrawlPiece:
    """A piece of a split run, as claimed by a worker: `spec` says what to crawl, `definition` is the
    crawler's definition recorded when the run split (piece 0 is the merge)."""

    run_id: int
    seq: int
    crawler: str
    attempt: int
    spec: dict | None
    definition: dict | None


class IndexedFile(NamedTuple):
    """What a crawler saw of a file at its last run. A tuple: `size, version, table = entry` works."""

    size: int
    version: int | float | str  # mtime (number) or ETag (string), returned as given
    table_name: str | None


# --- schedules ------------------------------------------------------------------------------------------


def check_schedule(schedule: str) -> str:
    """`schedule` with single spaces if it is a 5-field cron expression that fires at least once."""
    from croniter import CroniterBadDateError, croniter

    fields = schedule.split() if isinstance(schedule, str) else []
    if len(fields) != 5:
        raise InvalidInput(
            f"schedule {schedule!r} is not a cron expression of 5 fields (minute hour day-of-month month day-of-week)"
        )
    text = " ".join(fields)
    if len(text) > NAME or not croniter.is_valid(text):
        raise InvalidInput(f"schedule {schedule!r} is not a valid cron expression")
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidInput(f"schedule {schedule!r} never fires") from None
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidInput(f"schedule {schedule!r} is not a valid cron expression: {e}") from None
    return text


def next_fire_times(schedule: str, n: int = 1, after: datetime | None = None) -> list[datetime]:
    """The next `n` times (UTC, aware) at which `schedule` fires, strictly after `after` (default: now)."""
    from croniter import croniter

    text = check_schedule(schedule)
    if after is None:
        after = datetime.now(UTC)
    elif after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    it = croniter(text, after.astimezone(UTC))
    return [it.get_next(datetime) for _ in range(n)]


# --- validation -----------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list(what: str, value) -> list:
    """`value` as a list; a lone string is refused rather than taken letter by letter."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInput(f"{what} must be a list, not {value!r}")
    return list(value)


def _choice(crawler: str, what: str, value, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"crawler {crawler}: {what} {value!r} is not one of {', '.join(allowed)}")
    return value


def _json_text(what: str, value) -> str:
    try:
        return codec.dumps(value)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{what} cannot be stored as JSON: {e}") from None


def _check_target(crawler: str, target) -> CrawlerTarget:
    from fsspec.core import split_protocol
    from fsspec.registry import known_implementations, registry

    if isinstance(target, str):
        target = CrawlerTarget(target)
    if not isinstance(target, CrawlerTarget):
        raise InvalidInput(f"crawler {crawler}: target {target!r} is not a path or CrawlerTarget")
    path = target.path
    if not isinstance(path, str) or not path.strip():
        raise InvalidInput(f"crawler {crawler}: a target has an empty path")
    protocol, _ = split_protocol(path)
    if protocol is not None and protocol not in known_implementations and protocol not in registry:
        raise InvalidInput(f"crawler {crawler}: target {path!r} has an unknown storage protocol {protocol!r}")
    exclusions = _list(f"crawler {crawler}: exclusions of target {path!r}", target.exclusions)
    for pattern in exclusions:
        if not isinstance(pattern, str) or not pattern.strip():
            raise InvalidInput(f"crawler {crawler}: target {path!r} has an empty exclusion pattern")
    return CrawlerTarget(path, exclusions)


def _check_crawler(c: Crawler) -> tuple[str, dict]:
    """The lower-cased name and the column values of a crawler definition, or InvalidInput."""
    name = check_name("crawler", c.name)
    targets = [_check_target(name, t) for t in _list(f"crawler {name}: targets", c.targets)]
    if not targets:
        raise InvalidInput(f"crawler {name} needs at least one target")
    paths = [t.path for t in targets]
    if len(set(paths)) != len(paths):
        raise InvalidInput(f"crawler {name} has the same target twice")
    database = check_name("database", c.database)
    prefix = c.table_prefix or ""
    if not isinstance(prefix, str) or len(prefix) > MAX_TABLE_PREFIX or not _PREFIX.match(prefix):
        raise InvalidInput(
            f"crawler {name}: table prefix {prefix!r} is not valid (letters, digits, _; at most {MAX_TABLE_PREFIX})"
        )
    classifiers = [check_name("classifier", n) for n in _list(f"crawler {name}: classifiers", c.classifiers)]
    if len(set(classifiers)) != len(classifiers):
        raise InvalidInput(f"crawler {name} lists a classifier twice")
    if c.sample_size is not None and (
        not _is_int(c.sample_size) or not 1 <= c.sample_size <= MAX_SAMPLE_SIZE
    ):
        raise InvalidInput(
            f"crawler {name}: sample size {c.sample_size!r} is not an integer from 1 to {MAX_SAMPLE_SIZE}"
        )
    if c.table_level is not None and (not _is_int(c.table_level) or c.table_level < 1):
        raise InvalidInput(f"crawler {name}: table level {c.table_level!r} is not an integer of at least 1")
    if not isinstance(c.combine_compatible_schemas, bool):
        raise InvalidInput(f"crawler {name}: combine_compatible_schemas must be true or false")
    schedule = None if c.schedule in (None, "") else check_schedule(c.schedule)
    if c.description is not None and (
        not isinstance(c.description, str) or len(c.description) > MAX_DESCRIPTION
    ):
        raise InvalidInput(
            f"crawler {name}: the description must be text of at most {MAX_DESCRIPTION} characters"
        )
    options = c.storage_options or {}
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise InvalidInput(f"crawler {name}: storage options must be a mapping with string keys")
    return name, dict(
        database_name=database,
        table_prefix=prefix.lower(),
        targets=codec.dumps([{"path": t.path, "exclusions": t.exclusions} for t in targets]),
        classifiers=codec.dumps(classifiers),
        update_behavior=_choice(name, "update behavior", c.update_behavior, UPDATE_BEHAVIORS),
        delete_behavior=_choice(name, "delete behavior", c.delete_behavior, DELETE_BEHAVIORS),
        recrawl_behavior=_choice(name, "recrawl behavior", c.recrawl_behavior, RECRAWL_BEHAVIORS),
        sample_size=c.sample_size,
        combine_compatible_schemas=c.combine_compatible_schemas,
        table_level=c.table_level,
        schedule=schedule,
        description=c.description,
        storage_options=_json_text(f"crawler {name}: storage options", dict(options)),
    )


def _single_char(name: str, what: str, value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 1:
        raise InvalidInput(f"classifier {name}: {what} {value!r} must be a single character")
    return value


def _check_classifier(c) -> tuple[str, str, str, dict]:
    """Name, kind, classification and kind-specific fields of a classifier (a Classifier, or any object with
    its fields, such as the runner's CustomClassifier), or InvalidInput."""
    name = check_name("classifier", c.name)
    kind = c.kind
    if kind not in CLASSIFIER_KINDS:
        raise InvalidInput(f"classifier {name}: kind {kind!r} is not one of {', '.join(CLASSIFIER_KINDS)}")
    classification = c.classification or (kind if kind in ("json", "csv") else None)
    if not classification:
        raise InvalidInput(
            f"classifier {name}: a {kind} classifier needs a classification (the format name it reports)"
        )
    if (
        not isinstance(classification, str)
        or len(classification) > NAME
        or not all(ch.isalnum() or ch in "_-." for ch in classification)
    ):
        raise InvalidInput(f"classifier {name}: classification {classification!r} is not a valid format name")
    fields = {f: getattr(c, f, None) for f in _ALL_KIND_FIELDS}
    foreign = [f for f, v in fields.items() if v is not None and f not in _KIND_FIELDS[kind]]
    if foreign:
        raise InvalidInput(f"classifier {name}: {', '.join(foreign)} do not apply to a {kind} classifier")
    d = {f: fields[f] for f in _KIND_FIELDS[kind] if fields[f] is not None}
    for f, v in d.items():
        if f != "csv_column_names" and not isinstance(v, str):
            raise InvalidInput(f"classifier {name}: {f} must be text")
    if kind == "grok":
        if not (d.get("grok_pattern") or "").strip():
            raise InvalidInput(f"classifier {name}: a grok classifier needs a grok pattern")
        for line in (d.get("custom_patterns") or "").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and len(line.split(None, 1)) != 2:
                raise InvalidInput(
                    f"classifier {name}: custom pattern line {line!r} is not of the form 'NAME regex'"
                )
    elif kind == "json":
        path = (d.get("json_path") or "").strip()
        if not path.startswith("$"):
            raise InvalidInput(
                f"classifier {name}: JSON path {d.get('json_path')!r} must start with $ (e.g. $[*])"
            )
    elif kind == "csv":
        _single_char(name, "delimiter", d.get("csv_delimiter"))
        _single_char(name, "quote symbol", d.get("csv_quote"))
        if d.get("csv_quote") is not None and d.get("csv_quote") == d.get("csv_delimiter"):
            raise InvalidInput(f"classifier {name}: the quote symbol and the delimiter must differ")
        if d.get("csv_header") is not None and d["csv_header"] not in CSV_HEADERS:
            raise InvalidInput(
                f"classifier {name}: header {d['csv_header']!r} is not one of {', '.join(CSV_HEADERS)}"
            )
        columns = d.get("csv_column_names")
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(x, str) for x in columns):
                raise InvalidInput(f"classifier {name}: column names must be a list of strings")
            d["csv_column_names"] = [check_column_name(x) for x in columns]
            if len({x.lower() for x in columns}) != len(columns):
                raise InvalidInput(f"classifier {name}: a column name is listed twice")
    else:
        tag = (d.get("xml_row_tag") or "").strip()
        if not tag or any(ch in tag for ch in "<>/ \t\n\"'=&"):
            raise InvalidInput(
                f"classifier {name}: row tag {d.get('xml_row_tag')!r} is not an XML element name"
            )
    return name, kind, classification, d


def _check_metrics(metrics) -> dict:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping) or not all(isinstance(k, str) for k in metrics):
        raise InvalidInput("run metrics must be a mapping with string keys")
    metrics = dict(metrics)
    for key in COUNT_METRICS:
        if key in metrics and (not _is_int(metrics[key]) or metrics[key] < 0):
            raise InvalidInput(f"run metric {key} must be a non-negative integer, not {metrics[key]!r}")
    skipped = metrics.get("skipped")
    if skipped is not None:
        if not isinstance(skipped, list | tuple) or not all(
            isinstance(s, Mapping) and isinstance(s.get("path"), str) and isinstance(s.get("reason"), str)
            for s in skipped
        ):
            raise InvalidInput('run metric skipped must be a list of {"path": ..., "reason": ...}')
        if len(skipped) > MAX_SKIPPED_LISTED:
            metrics["skipped_omitted"] = metrics.get("skipped_omitted", 0) + len(skipped) - MAX_SKIPPED_LISTED
        metrics["skipped"] = [dict(s) for s in skipped[:MAX_SKIPPED_LISTED]]
    return metrics


def _path_hash(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()


_DELETE_FILE = delete(CrawlerFileRow).where(
    CrawlerFileRow.crawler_id == bindparam("cid"), CrawlerFileRow.path_hash == bindparam("hash")
)
_UPSERTS: dict[str, object] = {}


def _upsert_files(dialect: str):
    """INSERT of file index rows that replaces the row of the same (crawler, path), in `dialect`'s words."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        columns = ("path", "size", "version", "table_name")
        if dialect in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            base = mysql_insert(CrawlerFileRow)
            stmt = base.on_duplicate_key_update({c: base.inserted[c] for c in columns})
        else:
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            elif dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            else:
                raise NotImplementedError(f"file index upsert on {dialect}")
            base = dialect_insert(CrawlerFileRow)
            stmt = base.on_conflict_do_update(
                index_elements=[CrawlerFileRow.crawler_id, CrawlerFileRow.path_hash],
                set_={c: base.excluded[c] for c in columns},
            )
        _UPSERTS[dialect] = stmt
    return stmt


_FILE_COLUMNS = "crawler_id, path_hash, path, size, version, table_name"
_FILE_UPDATE = "path = excluded.path, size = excluded.size, version = excluded.version, table_name = excluded.table_name"


def _write_files(conn: Connection, cid: int, rows: list[tuple], fresh: bool = False) -> None:
    """Insert or replace file index rows (path_hash, path, size, version, table_name) of crawler `cid`, in
    bulk (a first crawl of a million files writes a million rows): sorted by key, so that the index is
    filled in order; on SQLite one executemany on the DBAPI cursor, on PostgreSQL a COPY into a temporary
    table then one INSERT ... ON CONFLICT; elsewhere SQLAlchemy's executemany. `fresh`: the crawler has no
    rows (nothing to replace)."""
    rows.sort(key=itemgetter(0))  # path hashes are unique
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conflict = "" if fresh else f" ON CONFLICT (crawler_id, path_hash) DO UPDATE SET {_FILE_UPDATE}"
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(f"INSERT INTO crawler_files ({_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?){conflict}",
                               [(cid, *r) for r in rows])  # fmt: skip
        finally:
            cursor.close()
    elif dialect == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS mortar_crawler_files_in (path_hash varchar(40), "
                           "path text, size bigint, version text, table_name text) ON COMMIT DELETE ROWS")  # fmt: skip
            with cursor.copy("COPY mortar_crawler_files_in FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            cursor.execute(f"INSERT INTO crawler_files ({_FILE_COLUMNS}) SELECT %s, path_hash, path, size, version, "
                           f"table_name FROM mortar_crawler_files_in ORDER BY path_hash ON CONFLICT (crawler_id, "
                           f"path_hash) DO UPDATE SET {_FILE_UPDATE}", (cid,))  # fmt: skip
            cursor.execute("TRUNCATE mortar_crawler_files_in")
        finally:
            cursor.close()
    else:
        keys = ("path_hash", "path", "size", "version", "table_name")
        conn.execute(_upsert_files(dialect), [{"crawler_id": cid, **dict(zip(keys, r, strict=True))} for r in rows])


# --- rows to objects -------------------------------------------------------------------------------------


def _crawler(row) -> Crawler:
    return Crawler(
        name=row.name,
        targets=[CrawlerTarget(t["path"], t.get("exclusions", [])) for t in codec.loads(row.targets)],
        database=row.database_name,
        table_prefix=row.table_prefix,
        classifiers=codec.loads(row.classifiers),
        update_behavior=row.update_behavior,
        delete_behavior=row.delete_behavior,
        recrawl_behavior=row.recrawl_behavior,
        sample_size=row.sample_size,
        combine_compatible_schemas=bool(row.combine_compatible_schemas),
        table_level=row.table_level,
        schedule=row.schedule,
        description=row.description,
        storage_options=codec.loads(row.storage_options),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _run(row, crawler: str) -> CrawlerRun:
    return CrawlerRun(
        id=row.id,
        crawler=crawler,
        state=row.state,
        started_at=row.started_at,
        ended_at=row.ended_at,
        error=row.error,
        metrics=codec.loads(row.metrics),
        heartbeat_at=row.heartbeat_at,
        trigger=row.trigger_name,
        workflow_run_id=row.workflow_run_id,
    )


def _classifier(row) -> Classifier:
    return Classifier(
        name=row.name, kind=row.kind, classification=row.classification, **codec.loads(row.definition)
    )


_RUN_WITH_CRAWLER = select(CrawlerRunRow, CrawlerRow.name.label("crawler_name")).join(
    CrawlerRow, CrawlerRow.id == CrawlerRunRow.crawler_id
)


class Crawlers(Area):
    """Crawler definitions, runs, custom classifiers and file indexes. Each public method is one transaction;
    each one that changes something writes an audit record (object name: the crawler or classifier)."""

    # --- look-ups ---------------------------------------------------------------------------------------

    @staticmethod
    def _crawler_row(conn: Connection, name: str, for_update: bool = False):
        query = select(CrawlerRow).where(CrawlerRow.name == (name or "").lower())
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"crawler {name} does not exist")
        return row

    @staticmethod
    def _check_classifiers_exist(conn: Connection, crawler: str, names: list[str]) -> None:
        """Classifiers named by a crawler must exist; their rows stay share-locked until commit, so that a
        concurrent delete_classifier waits and then sees the crawler using them."""
        if not names:
            return
        found = set(
            conn.execute(
                select(ClassifierRow.name).where(ClassifierRow.name.in_(names)).with_for_update(read=True)
            ).scalars()
        )
        missing = [n for n in names if n not in found]
        if missing:
            raise NotFound(f"crawler {crawler}: classifier {', '.join(missing)} does not exist")

    def _audit_crawler(self, conn: Connection, action: str, crawler: str, **details) -> int:
        return self._audit(conn, action, DEFAULT_CATALOG, None, crawler, **details)

    # --- definitions ------------------------------------------------------------------------------------

    def _check_locations(self, name: str, values: dict) -> None:
        """PathNotAllowed unless the targets and storage option URLs are within the allowed_paths setting."""
        check_crawl_locations(name, [t["path"] for t in codec.loads(values["targets"])],
                              codec.loads(values["storage_options"]), warehouse=self.ctx.warehouse.root)  # fmt: skip

    def create(self, crawler: Crawler) -> Crawler:
        name, values = _check_crawler(crawler)
        self._check_locations(name, values)
        with self._write() as conn:
            if conn.execute(select(CrawlerRow.id).where(CrawlerRow.name == name)).first() is not None:
                raise AlreadyExists(f"crawler {name} already exists")
            self._check_classifiers_exist(conn, name, codec.loads(values["classifiers"]))
            at = now_ms()
            try:
                conn.execute(insert(CrawlerRow).values(name=name, created_at=at, updated_at=at, **values))
            except IntegrityError:  # created meanwhile by another process
                raise AlreadyExists(f"crawler {name} already exists") from None
            self._audit_crawler(
                conn, "CREATE_CRAWLER", name, database=values["database_name"],
                targets=[t["path"] for t in codec.loads(values["targets"])],
                schedule=values["schedule"],
            )  # fmt: skip
        return self.get(name)

    def get(self, name: str) -> Crawler:
        with self._read() as conn:
            return _crawler(self._crawler_row(conn, name))

    def list(self) -> list[Crawler]:
        with self._read() as conn:
            return [_crawler(r) for r in conn.execute(select(CrawlerRow).order_by(CrawlerRow.name))]

    def update(self, name: str, crawler: Crawler) -> Crawler:
        """Replace the definition of crawler `name` (which cannot be renamed). A run under way keeps the
        definition it started with. Changing what decides a file's table empties the file index."""
        new_name, values = _check_crawler(crawler)
        self._check_locations(new_name, values)
        with self._write() as conn:
            row = self._crawler_row(conn, name, for_update=True)
            if new_name != row.name:
                raise InvalidInput(f"crawler {row.name} cannot be renamed to {new_name}")
            self._check_classifiers_exist(conn, row.name, codec.loads(values["classifiers"]))
            old = _crawler(row)
            conn.execute(
                update(CrawlerRow).where(CrawlerRow.id == row.id).values(updated_at=now_ms(), **values)
            )
            new = _crawler(conn.execute(select(CrawlerRow).where(CrawlerRow.id == row.id)).one())
            changed = [f.name for f in dataclasses.fields(Crawler) if f.name not in ("created_at", "updated_at")
                       and getattr(old, f.name) != getattr(new, f.name)]  # fmt: skip
            cleared = any(f in _SHAPING_FIELDS for f in changed)
            if cleared:
                conn.execute(delete(CrawlerFileRow).where(CrawlerFileRow.crawler_id == row.id))
            self._audit_crawler(conn, "UPDATE_CRAWLER", row.name, changed=changed, file_index_cleared=cleared)
        return new

    def delete(self, name: str) -> None:
        """Delete a crawler with its runs and file index; not while it runs (Conflict)."""
        with self._write() as conn:
            row = self._crawler_row(conn, name, for_update=True)
            running = self._running_row(conn, row.id)
            if running is not None:
                raise Conflict(
                    f"crawler {row.name} is running (run {running.id}): it cannot be deleted until the run ends"
                )
            conn.execute(delete(CrawlerRow).where(CrawlerRow.id == row.id))
            self._audit_crawler(conn, "DELETE_CRAWLER", row.name)

    # --- runs -------------------------------------------------------------------------------------------

    @staticmethod
    def _running_row(conn: Connection, crawler_id: int):
        # a locking read: on MySQL's REPEATABLE READ it sees the newest committed rows, not a snapshot
        return conn.execute(
            select(CrawlerRunRow)
            .where(CrawlerRunRow.crawler_id == crawler_id, CrawlerRunRow.state == RUNNING)
            .with_for_update()
        ).first()

    def start_run(self, name: str, stale_after_s: float | None = None, *, trigger: str | None = None,
                  workflow_run_id: int | None = None) -> CrawlerRun:  # fmt: skip
        """Record a new RUNNING run of crawler `name` (started by `trigger`, part of workflow run
        `workflow_run_id`). Conflict if one is running already, unless that one's heartbeat is older than
        `stale_after_s`: then it is failed as stale and the new run starts.

        A run recorded for a worker to execute later (a workflow's crawler node: the workflow must see it
        under way at once) is taken by that worker with `claim_run`."""
        with self._write() as conn:
            crawler = self._crawler_row(conn, name, for_update=True)  # serialises the starts of one crawler
            running = self._running_row(conn, crawler.id)
            at = now_ms()
            if running is not None:
                if stale_after_s is None or running.heartbeat_at >= at - stale_after_s * 1000:
                    raise Conflict(
                        f"crawler {crawler.name} is already running (run {running.id}, started "
                        f"{datetime.fromtimestamp(running.started_at / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC)"
                    )
                self._fail_stale(conn, running, crawler.name, at)
            trigger = None if trigger is None else str(trigger)[:NAME]
            run_id = conn.execute(
                insert(CrawlerRunRow).values(
                    crawler_id=crawler.id,
                    state=RUNNING,
                    started_at=at,
                    heartbeat_at=at,
                    metrics="{}",
                    trigger_name=trigger,
                    workflow_run_id=workflow_run_id,
                )
            ).inserted_primary_key[0]
            started_by = {k: v for k, v in (("trigger", trigger), ("workflow_run_id", workflow_run_id)) if v is not None}
            self._audit_crawler(conn, "START_CRAWLER_RUN", crawler.name, run_id=run_id, **started_by)
        return CrawlerRun(run_id, crawler.name, RUNNING, at, None, None, {}, at, trigger, workflow_run_id)

    def claim_run(self, run_id: int, stale_after_s: float | None = None) -> CrawlerRun:
        """Take RUNNING run `run_id`, recorded by `start_run` for a worker to execute: it gets its first
        heartbeat (until then its heartbeat is its start). One worker wins, even when the broker delivers
        the task twice; a run whose worker went quiet for `stale_after_s` may be taken again. Conflict
        otherwise."""
        with self._write() as conn:
            row = self._run_row(conn, run_id, for_update=True)
            at = now_ms()
            free = row.heartbeat_at == row.started_at or (
                stale_after_s is not None and row.heartbeat_at < at - stale_after_s * 1000
            )
            if row.state != RUNNING or not free:
                raise Conflict(
                    f"run {run_id} of crawler {row.crawler_name} is taken or has ended ({row.state})"
                )
            conn.execute(update(CrawlerRunRow).where(CrawlerRunRow.id == run_id)
                         .values(heartbeat_at=max(at, row.started_at + 1)))  # fmt: skip
            return _run(self._run_row(conn, run_id), row.crawler_name)

    def heartbeat_run(self, run_id: int) -> None:
        """Record that the worker of run `run_id` is alive. Conflict once the run has ended (failed as stale,
        or cancelled): the worker should stop. Not audited: it changes no definition or outcome."""
        with self._write() as conn:
            done = conn.execute(
                update(CrawlerRunRow)
                .where(CrawlerRunRow.id == run_id, CrawlerRunRow.state == RUNNING)
                .values(heartbeat_at=now_ms())
            ).rowcount
            if not done:
                row = self._run_row(conn, run_id)
                raise Conflict(f"run {run_id} of crawler {row.crawler_name} has ended: {row.state}")

    @staticmethod
    def _run_row(conn: Connection, run_id: int, for_update: bool = False):
        query = _RUN_WITH_CRAWLER.where(CrawlerRunRow.id == run_id)
        if for_update:
            query = query.with_for_update(of=CrawlerRunRow)
        row = conn.execute(query).first() if _is_int(run_id) else None
        if row is None:
            raise NotFound(f"crawler run {run_id} does not exist")
        return row

    def finish_run(
        self, run_id: int, state: str, metrics: dict | None = None, error: str | None = None
    ) -> CrawlerRun:
        """End a RUNNING run with `state` (SUCCEEDED, FAILED or CANCELLED), its metrics and error message.
        Conflict if the run has ended already (e.g. failed as stale while its worker was away)."""
        if state not in END_STATES:
            raise InvalidInput(f"run {run_id}: state {state!r} is not one of {', '.join(END_STATES)}")
        metrics = _check_metrics(metrics)
        metrics_text = _json_text(f"run {run_id}: metrics", metrics)
        if error is not None:
            error = str(error)[:MAX_ERROR]
        with self._write() as conn:
            row = self._run_row(conn, run_id, for_update=True)
            if row.state != RUNNING:
                raise Conflict(f"run {run_id} of crawler {row.crawler_name} has already ended: {row.state}")
            at = max(now_ms(), row.started_at)
            conn.execute(
                update(CrawlerRunRow)
                .where(CrawlerRunRow.id == run_id)
                .values(state=state, ended_at=at, metrics=metrics_text, error=error)
            )
            counts = {k: metrics[k] for k in COUNT_METRICS if k in metrics}
            self._audit_crawler(
                conn, "FINISH_CRAWLER_RUN", row.crawler_name, run_id=run_id, state=state, **counts
            )
        return CrawlerRun(run_id, row.crawler_name, state, row.started_at, at, error, metrics, row.heartbeat_at,
                          row.trigger_name, row.workflow_run_id)  # fmt: skip

    def record_request(self, name: str, dry_run: bool = False) -> None:
        """Audit who asked for a run (or a dry run) of crawler `name`: the run itself is recorded by the worker,
        as done by `crawler:<name>`."""
        with self._write() as conn:
            crawler = self._crawler_row(conn, name)
            self._audit_crawler(conn, "REQUEST_CRAWLER_RUN", crawler.name, **({"dry_run": True} if dry_run else {}))

    def record_dry_run(self, name: str, started_at: int, metrics: dict, actions: list[dict],
                       error: str | None = None) -> CrawlerRun:  # fmt: skip
        """Record a dry run of crawler `name` (a worker crawled and changed nothing): a run in state DRY_RUN,
        ended, whose metrics hold what a crawl would do (`actions`: kind, table, reason, detail). It is no
        RUNNING run, so it neither waits for nor blocks real runs, and no trigger watches it."""
        metrics = _check_metrics({**metrics, "dry_run": True, "actions": list(actions)[:1000]})
        metrics_text = _json_text(f"dry run of crawler {name}: metrics", metrics)
        with self._write() as conn:
            crawler = self._crawler_row(conn, name)
            at = max(now_ms(), started_at)
            run_id = conn.execute(insert(CrawlerRunRow).values(
                crawler_id=crawler.id, state=DRY_RUN, started_at=started_at, ended_at=at, heartbeat_at=at,
                metrics=metrics_text, error=None if error is None else str(error)[:MAX_ERROR],
            )).inserted_primary_key[0]  # fmt: skip
            self._audit_crawler(conn, "DRY_RUN_CRAWLER", crawler.name, run_id=run_id, actions=len(actions))
        return CrawlerRun(run_id, crawler.name, DRY_RUN, started_at, at, error, metrics, at)

    def get_run(self, run_id: int) -> CrawlerRun:
        with self._read() as conn:
            row = self._run_row(conn, run_id)
        return _run(row, row.crawler_name)

    def runs(self, name: str, limit: int = 50) -> list[CrawlerRun]:
        """The runs of crawler `name`, newest first."""
        if not _is_int(limit) or limit < 1:
            raise InvalidInput(f"limit {limit!r} is not a positive integer")
        with self._read() as conn:
            crawler = self._crawler_row(conn, name)
            rows = conn.execute(
                select(CrawlerRunRow)
                .where(CrawlerRunRow.crawler_id == crawler.id)
                .order_by(CrawlerRunRow.id.desc())
                .limit(limit)
            ).all()
        return [_run(r, crawler.name) for r in rows]

    def current_run(self, name: str) -> CrawlerRun | None:
        """The RUNNING run of crawler `name`, if any."""
        with self._read() as conn:
            crawler = self._crawler_row(conn, name)
            row = conn.execute(
                select(CrawlerRunRow).where(
                    CrawlerRunRow.crawler_id == crawler.id, CrawlerRunRow.state == RUNNING
                )
            ).first()
        return None if row is None else _run(row, crawler.name)

    def mark_stale_runs(self, older_than_s: float, unclaimed_after_s: float | None = None) -> list[CrawlerRun]:
        """Fail every RUNNING run whose last heartbeat is older than `older_than_s` seconds, with the error
        "worker stopped responding"; a run recorded for a worker that no worker has taken yet (see
        `claim_run`) only after `unclaimed_after_s` (default: the same), as it may wait in the queue behind
        other crawls. Returns those runs, as they are now."""
        for value in (older_than_s, unclaimed_after_s):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
                or not (math.isfinite(value) and value >= 0)
            ):  # fmt: skip
                raise InvalidInput(f"stale run age {value!r} is not a non-negative number of seconds")
        with self._write() as conn:
            at = now_ms()
            cutoff = at - int(older_than_s * 1000)
            unclaimed_cutoff = at - int((older_than_s if unclaimed_after_s is None else unclaimed_after_s) * 1000)
            unclaimed = CrawlerRunRow.heartbeat_at == CrawlerRunRow.started_at  # see claim_run
            rows = conn.execute(
                _RUN_WITH_CRAWLER.where(
                    CrawlerRunRow.state == RUNNING,
                    or_(
                        and_(~unclaimed, CrawlerRunRow.heartbeat_at < cutoff),
                        and_(unclaimed, CrawlerRunRow.heartbeat_at < unclaimed_cutoff),
                    ),
                )
                .order_by(CrawlerRunRow.id)
                .with_for_update(of=CrawlerRunRow)
            ).all()
            failed = [self._fail_stale(conn, row, row.crawler_name, at) for row in rows]
        return failed

    def _fail_stale(self, conn: Connection, row, crawler: str, at: int) -> CrawlerRun:
        conn.execute(
            update(CrawlerRunRow)
            .where(CrawlerRunRow.id == row.id)
            .values(state=FAILED, ended_at=at, error=STALE_RUN_ERROR)
        )
        self._audit_crawler(
            conn, "FAIL_STALE_CRAWLER_RUN", crawler, run_id=row.id, heartbeat_at=row.heartbeat_at
        )
        return CrawlerRun(row.id, crawler, FAILED, row.started_at, at, STALE_RUN_ERROR, codec.loads(row.metrics),
                          row.heartbeat_at, row.trigger_name, row.workflow_run_id)  # fmt: skip

    # --- custom classifiers -----------------------------------------------------------------------------

    def create_classifier(self, classifier: Classifier) -> Classifier:
        name, kind, classification, definition = _check_classifier(classifier)
        with self._write() as conn:
            if conn.execute(select(ClassifierRow.id).where(ClassifierRow.name == name)).first() is not None:
                raise AlreadyExists(f"classifier {name} already exists")
            at = now_ms()
            values = dict(kind=kind, classification=classification, definition=codec.dumps(definition))
            try:
                conn.execute(insert(ClassifierRow).values(name=name, created_at=at, updated_at=at, **values))
            except IntegrityError:  # created meanwhile by another process
                raise AlreadyExists(f"classifier {name} already exists") from None
            self._audit(
                conn,
                "CREATE_CLASSIFIER",
                DEFAULT_CATALOG,
                None,
                name,
                kind=kind,
                classification=classification,
            )
        return Classifier(name, kind, classification, **definition)

    @staticmethod
    def _classifier_row(conn: Connection, name: str, for_update: bool = False):
        query = select(ClassifierRow).where(ClassifierRow.name == (name or "").lower())
        row = conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound(f"classifier {name} does not exist")
        return row

    def get_classifier(self, name: str) -> Classifier:
        with self._read() as conn:
            return _classifier(self._classifier_row(conn, name))

    def list_classifiers(self) -> list[Classifier]:
        with self._read() as conn:
            return [_classifier(r) for r in conn.execute(select(ClassifierRow).order_by(ClassifierRow.name))]

    def update_classifier(self, name: str, classifier: Classifier) -> Classifier:
        """Replace classifier `name`'s definition (the name cannot change; the kind can)."""
        new_name, kind, classification, definition = _check_classifier(classifier)
        with self._write() as conn:
            row = self._classifier_row(conn, name, for_update=True)
            if new_name != row.name:
                raise InvalidInput(f"classifier {row.name} cannot be renamed to {new_name}")
            conn.execute(
                update(ClassifierRow)
                .where(ClassifierRow.id == row.id)
                .values(
                    kind=kind,
                    classification=classification,
                    definition=codec.dumps(definition),
                    updated_at=now_ms(),
                )
            )
            self._audit(
                conn,
                "UPDATE_CLASSIFIER",
                DEFAULT_CATALOG,
                None,
                row.name,
                kind=kind,
                classification=classification,
            )
        return Classifier(row.name, kind, classification, **definition)

    def delete_classifier(self, name: str) -> None:
        """Delete a classifier; Conflict while a crawler lists it."""
        with self._write() as conn:
            row = self._classifier_row(conn, name, for_update=True)
            users = [c.name for c in conn.execute(select(CrawlerRow.name, CrawlerRow.classifiers).order_by(CrawlerRow.name))
                     if row.name in codec.loads(c.classifiers)]  # fmt: skip
            if users:
                raise Conflict(f"classifier {row.name} is used by crawler {', '.join(users)}")
            conn.execute(delete(ClassifierRow).where(ClassifierRow.id == row.id))
            self._audit(conn, "DELETE_CLASSIFIER", DEFAULT_CATALOG, None, row.name)

    def classifiers_of(self, name: str) -> list[Classifier]:
        """The custom classifiers of crawler `name`, in the crawler's order (one read)."""
        with self._read() as conn:
            names = codec.loads(self._crawler_row(conn, name).classifiers)
            if not names:
                return []
            rows = {
                r.name: r for r in conn.execute(select(ClassifierRow).where(ClassifierRow.name.in_(names)))
            }
        return [_classifier(rows[n]) for n in names if n in rows]

    # --- file index for incremental recrawls --------------------------------------------------------------

    def file_index(self, name: str, paths: Iterable[str] | None = None) -> dict[str, IndexedFile]:
        """What crawler `name` saw at its last run: path → (size, mtime or ETag, table name); of `paths`
        only, when given (a piece of a split crawl: primary-key look-ups)."""
        query = select(CrawlerFileRow.path, CrawlerFileRow.size, CrawlerFileRow.version, CrawlerFileRow.table_name)
        with self._read() as conn:
            cid = self._crawler_row(conn, name).id
            if paths is None:
                rows = raw_rows(conn, query.where(CrawlerFileRow.crawler_id == cid))
            else:
                hashes, rows = [_path_hash(p) for p in paths], []
                for i in range(0, len(hashes), 500):
                    rows += raw_rows(conn, query.where(CrawlerFileRow.crawler_id == cid,
                                                       CrawlerFileRow.path_hash.in_(hashes[i : i + 500])))  # fmt: skip
        loads = codec.loads

        def version(text: str):  # JSON text; plain strings (the usual case) without the decoder's cost
            return text[1:-1] if text[:1] == '"' and "\\" not in text else loads(text)

        return {path: IndexedFile(size, version(v), table) for path, size, v, table in rows}

    def update_file_index(
        self,
        name: str,
        entries: Mapping[str, tuple[int, int | float | str, str | None]],
        removed: Iterable[str] = (),
        replace: bool = False,
    ) -> None:
        """Set the index entries of `entries` (path → (size, mtime or ETag, table name)) and drop those of
        `removed`, in one transaction; with `replace`, the index becomes exactly `entries`."""
        removed = list(removed)
        rows = []  # (path_hash, path, size, version, table_name)
        tables: dict[str, str] = {}  # table names checked (a crawl's files belong to a few tables)
        dumps, sha1 = codec.dumps, hashlib.sha1
        for path, entry in entries.items():
            if type(path) is not str or not path:
                raise InvalidInput(f"crawler {name}: file index path {path!r} is not a non-empty string")
            try:
                size, version, table = entry
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"crawler {name}: file index entry of {path} is not (size, mtime or etag, table)"
                ) from None
            if type(size) is not int and not _is_int(size) or size < 0:
                raise InvalidInput(
                    f"crawler {name}: file index size of {path} is not a non-negative integer: {size!r}"
                )
            if isinstance(version, bool) or not isinstance(version, int | float | str):
                raise InvalidInput(
                    f"crawler {name}: file index version of {path} must be a number (mtime) or a string (etag), not {version!r}"
                )
            if type(version) is str and '"' not in version and "\\" not in version and version.isprintable():
                version_text = f'"{version}"'  # what dumps gives (an mtime, an ETag), without the encoder
            else:
                version_text = dumps(version)
            if len(version_text) > NAME:
                raise InvalidInput(
                    f"crawler {name}: file index version of {path} is longer than {NAME} characters"
                )
            if table is not None:
                checked = tables.get(table)
                if checked is None:
                    checked = tables[table] = check_name("table", table)
                table = checked
            rows.append((sha1(path.encode("utf-8", "surrogatepass")).hexdigest(), path, size, version_text, table))
        if not all(isinstance(p, str) for p in removed):
            raise InvalidInput(f"crawler {name}: removed paths must be strings")
        both = set(removed).intersection(entries)
        if both:
            raise InvalidInput(
                f"crawler {name}: {sorted(both)[0]} is both updated and removed in the file index"
            )
        with self._write() as conn:
            # index writers of one crawler take turns
            crawler = self._crawler_row(conn, name, for_update=True)
            cid = crawler.id
            # Statements executed many times with one row each, every one a primary-key look-up: an IN list
            # of thousands is planned as a filter over the crawler's whole index when the table has no
            # statistics yet (right after a first crawl), which costs minutes on PostgreSQL.
            if replace:
                conn.execute(delete(CrawlerFileRow).where(CrawlerFileRow.crawler_id == cid))
            elif removed:
                conn.execute(_DELETE_FILE, [{"cid": cid, "hash": _path_hash(p)} for p in dict.fromkeys(removed)])
            if rows:
                _write_files(conn, cid, rows, fresh=replace)
            self._audit_crawler(
                conn,
                "UPDATE_CRAWLER_FILE_INDEX",
                crawler.name,
                entries=len(rows),
                removed=len(removed),
                replace=replace,
            )

    def clear_file_index(self, name: str) -> None:
        """Forget what crawler `name` saw: its next run reads every file."""
        with self._write() as conn:
            crawler = self._crawler_row(conn, name, for_update=True)
            conn.execute(delete(CrawlerFileRow).where(CrawlerFileRow.crawler_id == crawler.id))
            self._audit_crawler(conn, "CLEAR_CRAWLER_FILE_INDEX", crawler.name)

    # --- crawl pieces: a run split across workers (issue 15) ---------------------------------------------

    def split_run(self, run_id: int, definition: dict, pieces: list[dict], lease_s: float) -> None:
        """Record RUNNING run `run_id` as split into `pieces` (their specs, numbered 1..n) and their merge
        (piece 0, which keeps `definition`: the run crawls with the definition it started with), all PENDING.
        Conflict if the run has ended or is split already."""
        specs = [_json_text(f"run {run_id}: piece", s) for s in (definition, *pieces)]
        with self._write() as conn:
            run = self._run_row(conn, run_id, for_update=True)
            if run.state != RUNNING:
                raise Conflict(f"run {run_id} of crawler {run.crawler_name} has ended: {run.state}")
            if conn.execute(select(CrawlPieceRow.seq).where(CrawlPieceRow.run_id == run_id)).first() is not None:
                raise Conflict(f"run {run_id} of crawler {run.crawler_name} is split already")
            at = now_ms()
            conn.execute(insert(CrawlPieceRow), [
                dict(run_id=run_id, seq=i, spec=spec, state=PIECE_PENDING, attempt=0, worker=None,
                     lease_until=at + int(lease_s * 1000), updated_at=at, result=None)
                for i, spec in enumerate(specs)
            ])  # fmt: skip
            self._audit_crawler(conn, "SPLIT_CRAWLER_RUN", run.crawler_name, run_id=run_id, pieces=len(pieces))

    def claim_piece(self, run_id: int, seq: int, worker: str, lease_s: float) -> CrawlPiece | None:
        """Take piece `seq` of run `run_id` for `worker`, leased for `lease_s` seconds: a PENDING piece, or a
        RUNNING one whose lease lapsed (its worker died); the merge (piece 0) only once every other piece is
        DONE. None if the piece is done or taken, or the run has ended. The run's claims and results take
        turns (its row is locked), so exactly one worker merges."""
        with self._write() as conn:
            run = self._run_row(conn, run_id, for_update=True)
            if run.state != RUNNING:
                return None
            row = conn.execute(select(CrawlPieceRow).where(CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq == seq)
                               .with_for_update()).first()  # fmt: skip
            at = now_ms()
            if row is None or not (row.state == PIECE_PENDING or row.state == RUNNING and row.lease_until < at):
                return None
            if seq == 0 and conn.execute(select(CrawlPieceRow.seq).where(
                    CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq > 0, CrawlPieceRow.state != PIECE_DONE)).first():
                return None  # fmt: skip
            conn.execute(update(CrawlPieceRow).where(CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq == seq)
                         .values(state=RUNNING, attempt=row.attempt + 1, worker=str(worker)[:NAME],
                                 lease_until=at + int(lease_s * 1000), updated_at=at))  # fmt: skip
            conn.execute(update(CrawlerRunRow).where(CrawlerRunRow.id == run_id)
                         .values(heartbeat_at=max(at, run.started_at + 1)))  # fmt: skip
            definition = row.spec if seq == 0 else conn.execute(select(CrawlPieceRow.spec).where(
                CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq == 0)).scalar_one()  # fmt: skip
        return CrawlPiece(run_id, seq, run.crawler_name, row.attempt + 1, codec.loads(row.spec), codec.loads(definition))

    def claim_pending_piece(self, run_id: int, worker: str, lease_s: float) -> CrawlPiece | None:
        """Take the first PENDING piece (not the merge) of run `run_id` for `worker`, as `claim_piece` does:
        a worker that finished a piece goes on with the next one without a round trip through the broker
        (that piece's own message then finds it taken). None when no piece is PENDING."""
        with self._read() as conn:
            seqs = conn.execute(select(CrawlPieceRow.seq).where(
                CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq > 0, CrawlPieceRow.state == PIECE_PENDING)
                .order_by(CrawlPieceRow.seq).limit(4)).scalars().all()  # fmt: skip
        for seq in seqs:  # another worker may take the first meanwhile
            piece = self.claim_piece(run_id, seq, worker, lease_s)
            if piece is not None:
                return piece
        return None

    def renew_piece(self, run_id: int, seq: int, attempt: int, lease_s: float) -> bool:
        """Extend the lease of claim `attempt` of piece `seq` (and the run's heartbeat); False once the piece
        was taken by another claim or finished, or the run has ended: its worker should stop."""
        with self._write() as conn:
            at = now_ms()
            alive = conn.execute(update(CrawlerRunRow).where(CrawlerRunRow.id == run_id, CrawlerRunRow.state == RUNNING)
                                 .values(heartbeat_at=at)).rowcount  # fmt: skip
            return bool(alive) and bool(conn.execute(
                update(CrawlPieceRow).where(CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq == seq,
                                            CrawlPieceRow.state == RUNNING, CrawlPieceRow.attempt == attempt)
                .values(lease_until=at + int(lease_s * 1000), updated_at=at)
            ).rowcount)  # fmt: skip

    def finish_piece(self, run_id: int, seq: int, result: dict) -> bool:
        """Keep the result of piece `seq` and mark it DONE, once: False (the result is dropped) if it is DONE
        already (a piece redone after its first worker seemed dead) or the run has ended."""
        text = _json_text(f"run {run_id}: result of piece {seq}", result)
        with self._write() as conn:
            run = self._run_row(conn, run_id, for_update=True)
            return run.state == RUNNING and bool(conn.execute(
                update(CrawlPieceRow).where(CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq == seq,
                                            CrawlPieceRow.state != PIECE_DONE)
                .values(state=PIECE_DONE, result=text, lease_until=0, updated_at=now_ms())
            ).rowcount)  # fmt: skip

    def piece_results(self, run_id: int) -> list[dict]:
        """The results of the pieces of run `run_id` (1..n, in order); Conflict unless all are DONE."""
        with self._read() as conn:
            rows = conn.execute(select(CrawlPieceRow.seq, CrawlPieceRow.state, CrawlPieceRow.result)
                                .where(CrawlPieceRow.run_id == run_id, CrawlPieceRow.seq > 0)
                                .order_by(CrawlPieceRow.seq)).all()  # fmt: skip
        if any(r.state != PIECE_DONE for r in rows):
            raise Conflict(f"run {run_id}: pieces {[r.seq for r in rows if r.state != PIECE_DONE]} are not done")
        return [codec.loads(r.result) for r in rows]

    def piece_states(self, run_id: int) -> dict[str, int]:
        """How many pieces of run `run_id` (not counting the merge) are PENDING, RUNNING, DONE."""
        with self._read() as conn:
            rows = conn.execute(select(CrawlPieceRow.state).where(CrawlPieceRow.run_id == run_id,
                                                                  CrawlPieceRow.seq > 0)).scalars().all()  # fmt: skip
        return {s: rows.count(s) for s in (PIECE_PENDING, RUNNING, PIECE_DONE)}

    def drop_pieces(self, run_id: int) -> None:
        """Forget the pieces of run `run_id` (its merge is done)."""
        with self._write() as conn:
            conn.execute(delete(CrawlPieceRow).where(CrawlPieceRow.run_id == run_id))

    def sweep_pieces(self, lease_s: float, max_attempts: int, beat_every_s: float = 5.0) -> tuple[list[CrawlPiece], list[CrawlPiece]]:
        """What the workers' sweepers do for split runs: beat the RUNNING ones, drop the pieces of ended ones,
        and return (pieces to send again, pieces whose every claim lost its worker: `max_attempts`). Due
        again: a RUNNING piece whose lease lapsed; a PENDING one (its message may have been lost with a
        worker) once the run has shown no piece activity for `lease_s`; the merge likewise once all pieces
        are DONE. Each due piece is handed to one sweeper (its lease moves on by `lease_s`)."""
        with self._read() as conn:
            rows = conn.execute(
                select(CrawlPieceRow.run_id, CrawlPieceRow.seq, CrawlPieceRow.state, CrawlPieceRow.attempt,
                       CrawlPieceRow.lease_until, CrawlPieceRow.updated_at, CrawlerRunRow.state.label("run_state"),
                       CrawlerRunRow.heartbeat_at, CrawlerRow.name.label("crawler_name"))
                .join(CrawlerRunRow, CrawlerRunRow.id == CrawlPieceRow.run_id)
                .join(CrawlerRow, CrawlerRow.id == CrawlerRunRow.crawler_id)
            ).all()  # fmt: skip
        if not rows:
            return [], []
        at = now_ms()
        lease_ms = int(lease_s * 1000)
        runs: dict[int, list] = {}
        for r in rows:
            runs.setdefault(r.run_id, []).append(r)
        ended = [rid for rid, rs in runs.items() if rs[0].run_state != RUNNING]
        beat = [rid for rid, rs in runs.items() if rs[0].run_state == RUNNING and rs[0].heartbeat_at < at - beat_every_s * 1000]
        due, spent = [], []
        for rs in runs.values():
            if rs[0].run_state != RUNNING:
                continue
            quiet = max(r.updated_at for r in rs) < at - lease_ms
            all_done = all(r.state == PIECE_DONE for r in rs if r.seq > 0)
            for r in rs:
                if r.state == PIECE_DONE or r.lease_until >= at or (r.seq == 0 and not all_done):
                    continue
                if r.state == RUNNING or quiet:
                    (spent if r.state == RUNNING and r.attempt >= max_attempts else due).append(r)
        if not (ended or beat or due):
            return [], []
        sent = []
        with self._write() as conn:
            if ended:
                conn.execute(delete(CrawlPieceRow).where(CrawlPieceRow.run_id.in_(ended)))
            if beat:
                conn.execute(update(CrawlerRunRow).where(CrawlerRunRow.id.in_(beat), CrawlerRunRow.state == RUNNING)
                             .values(heartbeat_at=at))  # fmt: skip
            for r in due:
                if conn.execute(update(CrawlPieceRow).where(
                        CrawlPieceRow.run_id == r.run_id, CrawlPieceRow.seq == r.seq, CrawlPieceRow.state == r.state,
                        CrawlPieceRow.attempt == r.attempt, CrawlPieceRow.lease_until == r.lease_until)
                        .values(state=PIECE_PENDING, worker=None, lease_until=at + lease_ms)).rowcount:  # fmt: skip
                    sent.append(CrawlPiece(r.run_id, r.seq, r.crawler_name, r.attempt, None, None))
        return sent, [CrawlPiece(r.run_id, r.seq, r.crawler_name, r.attempt, None, None) for r in spent]
