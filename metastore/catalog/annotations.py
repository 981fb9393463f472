"""Annotations: owners, descriptions, tags and classifications (`pii`, `gdpr:email`) of databases, tables
and columns, with their history (who, when, what changed) and search.

HMS clients see them as table parameters (`mortar.owner`, `mortar.tags`, `mortar.classifications`,
`mortar.classifications.<column>`, and `comment`: the table's description) and column comments,
written into the table in the same transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field

from sqlalchemy import delete, insert, or_, select, tuple_, update

from metastore.catalog import codec
from metastore.catalog.access import Access, Identity
from metastore.catalog.base import Area, now_ms
from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import (
    NAME,
    AnnotationHistoryRow,
    AnnotationLabelRow,
    AnnotationRow,
    TableRow,
)

log = logging.getLogger(__name__)
LABEL = re.compile(r"^[a-z0-9][a-z0-9_.:\-/]{0,99}$")
MAX_LABELS = 50
FIELDS = ("owner", "description", "tags", "classifications")
SEARCH_PREFIXES = ("tag", "class", "owner", "description")


@dataclass
class Annotation:
    db: str
    table: str = ""
    column: str = ""
    owner: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    classifications: list[str] = field(default_factory=list)
    updated_at: int | None = None
    updated_by: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _labels(what: str, value) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LABELS:
        raise InvalidInput(f"{what} must be a list of at most {MAX_LABELS} labels")
    out = []
    for v in value:
        label = v.strip().lower() if isinstance(v, str) else None
        if not label or not LABEL.match(label):
            raise InvalidInput(f"{what}: {v!r} is not a label (letters, digits and _ . : - /, up to 100)")
        if label not in out:
            out.append(label)
    return out


def _text(what: str, value, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{what} must be text of at most {limit} characters")
    return value.strip() or None


def _annotation(r) -> Annotation:
    return Annotation(r.db_name, r.table_name, r.column_name, r.owner, r.description, codec.loads(r.tags),
                      codec.loads(r.classifications), r.updated_at, r.updated_by)  # fmt: skip


def search_condition(q: str, db_col, table_col):
    """A condition on (database, table) name columns: tables whose annotations match `q` (`tag:x`,
    `class:x`, `owner:x`, `description:text`, or plain text: in a description, owner or label), or None."""
    prefix, sep, rest = q.partition(":")
    term = (rest if sep and prefix in SEARCH_PREFIXES else q).strip().lower()
    if not term:
        return None
    pair = tuple_(db_col, table_col)
    labels = select(AnnotationLabelRow.db_name, AnnotationLabelRow.table_name)
    notes = select(AnnotationRow.db_name, AnnotationRow.table_name)
    if sep and prefix in ("tag", "class"):
        return pair.in_(labels.where(AnnotationLabelRow.label == f"{prefix}:{term}"))
    if sep and prefix == "owner":
        return pair.in_(notes.where(AnnotationRow.owner == term))
    if sep and prefix == "description":
        return pair.in_(notes.where(AnnotationRow.description.contains(term, autoescape=True)))
    return or_(pair.in_(labels.where(AnnotationLabelRow.label.in_([f"tag:{term}", f"class:{term}"]))),
               pair.in_(notes.where(or_(AnnotationRow.owner == term,
                                        AnnotationRow.description.contains(term, autoescape=True)))))  # fmt: skip


class Annotations(Area):
    def _check(self, identity: Identity, action: str, db: str, obj: str | None = None) -> None:
        Access(self.ctx).check(identity, action, db, obj)

    def get(self, identity: Identity, db: str, table: str = "", column: str = "") -> Annotation:
        db, table, column = db.lower(), table.lower(), column.lower()
        self._check(identity, "read", db)
        with self._read() as conn:
            r = conn.execute(select(AnnotationRow).where(AnnotationRow.db_name == db, AnnotationRow.table_name == table,
                                                         AnnotationRow.column_name == column)).first()  # fmt: skip
        return _annotation(r) if r else Annotation(db, table, column)

    def of_table(self, identity: Identity, db: str, table: str) -> dict:
        """The table's annotation and its columns' ({column: annotation})."""
        db, table = db.lower(), table.lower()
        self._check(identity, "read", db)
        with self._read() as conn:
            rows = conn.execute(select(AnnotationRow).where(AnnotationRow.db_name == db,
                                                            AnnotationRow.table_name == table)).all()  # fmt: skip
        own = next((_annotation(r) for r in rows if r.column_name == ""), Annotation(db, table))
        return {"table": own, "columns": {r.column_name: _annotation(r) for r in rows if r.column_name}}

    def set(self, identity: Identity, db: str, table: str = "", column: str = "", **changes) -> Annotation:
        """Change some of owner, description, tags, classifications (None or [] clears); history and audit
        record who changed what. The object must exist; a column annotation needs its table."""
        db, table, column = db.lower(), (table or "").lower(), (column or "").lower()
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise InvalidInput(f"unknown annotation field(s): {', '.join(sorted(unknown))} (allowed: {', '.join(FIELDS)})")
        if column and not table:
            raise InvalidInput("a column annotation names its table")
        self._check(identity, "write", db, f"{db}.{table}" if table else None)
        values = {}
        if "owner" in changes:
            values["owner"] = _text("owner", changes["owner"], NAME)
            values["owner"] = values["owner"] and values["owner"].lower()
        if "description" in changes:
            values["description"] = _text("description", changes["description"], 20_000)
        for k in ("tags", "classifications"):
            if k in changes:
                values[k] = _labels(k, changes[k] or [])
        at = now_ms()
        with self._write() as conn:
            trow = None
            if table:
                trow = self._table_row(conn, DEFAULT_CATALOG, db, table, for_update=True)
                if column:
                    sd = codec.loads(trow.sd)
                    names = [c[0] for c in sd.get("cols", [])] + [k[0] for k in codec.loads(trow.partition_keys)]
                    if column not in [n.lower() for n in names]:
                        raise NotFound(f"column {column} of table {db}.{table} does not exist")
            else:
                self._database_row(conn, DEFAULT_CATALOG, db)
            row = conn.execute(select(AnnotationRow).where(
                AnnotationRow.db_name == db, AnnotationRow.table_name == table, AnnotationRow.column_name == column)
                .with_for_update()).first()  # fmt: skip
            before = _annotation(row) if row else Annotation(db, table, column)
            after = Annotation(db, table, column, **{k: getattr(before, k) for k in FIELDS})
            for k, v in values.items():
                setattr(after, k, v)
            diff = {k: [getattr(before, k), getattr(after, k)] for k in FIELDS if getattr(before, k) != getattr(after, k)}
            if not diff:
                return before
            stored = dict(owner=after.owner, description=after.description, tags=codec.dumps(after.tags),
                          classifications=codec.dumps(after.classifications), updated_at=at, updated_by=self.ctx.user)  # fmt: skip
            if row is None:
                aid = conn.execute(insert(AnnotationRow).values(db_name=db, table_name=table, column_name=column,
                                                                **stored)).inserted_primary_key[0]  # fmt: skip
            else:
                aid = row.id
                conn.execute(update(AnnotationRow).where(AnnotationRow.id == aid).values(**stored))
            conn.execute(delete(AnnotationLabelRow).where(AnnotationLabelRow.annotation_id == aid))
            labels = {f"tag:{t}" for t in after.tags} | {f"class:{c}" for c in after.classifications}
            if labels:
                conn.execute(insert(AnnotationLabelRow), [dict(annotation_id=aid, label=lb, db_name=db, table_name=table)
                                                          for lb in sorted(labels)])  # fmt: skip
            conn.execute(insert(AnnotationHistoryRow).values(db_name=db, table_name=table, column_name=column, at=at,
                                                             user=self.ctx.user, changes=codec.dumps(diff)))  # fmt: skip
            if trow is not None:
                self._show_in_table(conn, trow, column, after, "description" in diff)
            self._audit(conn, "ANNOTATE", DEFAULT_CATALOG, db, table or None, column=column or None,
                        changed=sorted(diff))  # fmt: skip
        after.updated_at, after.updated_by = at, self.ctx.user
        return after

    @staticmethod
    def _show_in_table(conn, trow, column: str, a: Annotation, described: bool) -> None:
        """What HMS clients see: table parameters and column comments."""
        params = codec.loads(trow.parameters)
        sd = codec.loads(trow.sd)

        def put(key: str, value: str | None) -> None:
            if value:
                params[key] = value
            else:
                params.pop(key, None)

        if column:
            put(f"mortar.classifications.{column}", ",".join(a.classifications))
            put(f"mortar.tags.{column}", ",".join(a.tags))
            for c in sd.get("cols", []):
                if c[0].lower() == column and described:
                    del c[2:]
                    if a.description is not None:
                        c.append(a.description)
        else:
            put("mortar.owner", a.owner)
            put("mortar.tags", ",".join(a.tags))
            put("mortar.classifications", ",".join(a.classifications))
            put("comment", a.description)
        conn.execute(update(TableRow).where(TableRow.id == trow.id)
                     .values(parameters=codec.dumps(params), sd=codec.dumps(sd)))  # fmt: skip

    def history(self, identity: Identity, db: str, table: str = "", limit: int = 100) -> list[dict]:
        db, table = db.lower(), table.lower()
        self._check(identity, "read", db)
        with self._read() as conn:
            rows = conn.execute(select(AnnotationHistoryRow).where(AnnotationHistoryRow.db_name == db,
                                                                   AnnotationHistoryRow.table_name == table)
                                .order_by(AnnotationHistoryRow.id.desc()).limit(min(max(limit, 1), 1000))).all()  # fmt: skip
        return [{"column": r.column_name or None, "at": r.at, "user": r.user, "changes": codec.loads(r.changes)}
                for r in rows]  # fmt: skip

    def classify_columns(self, db: str, table: str, rules: str) -> dict[str, list[str]]:
        """Add the classifications of `rules` ("regex=label,label;regex=label", each regex matched case-
        insensitively against whole column names) to the columns of db.table they match; never removes any.
        Done as the context's user (a crawler: `crawler:<name>`); returns {column: labels added}."""
        try:
            parsed = parse_rules(rules)
        except InvalidInput as e:  # a bad setting must not fail the crawl: said in the log, at each table
            log.warning("classification_rules setting ignored: %s", e)
            return {}
        if not parsed:
            return {}
        t = self._table(db, table)
        who = Identity(self.ctx.user, "run", "editor")
        added = {}
        for col in [c.name.lower() for c in [*t.sd.cols, *t.partition_keys]]:
            labels = [lb for rx, lbs in parsed for lb in lbs if rx.fullmatch(col)]
            if not labels:
                continue
            have = self.get(who, db, table, col).classifications
            new = [lb for lb in dict.fromkeys(labels) if lb not in have]
            if new:
                self.set(who, db, table, col, classifications=have + new)
                added[col] = new
        return added

    def _table(self, db: str, table: str):
        from metastore.catalog.tables import Tables

        return Tables(self.ctx).get(db, table)


def parse_rules(rules: str) -> list[tuple[re.Pattern, list[str]]]:
    """The rules of the classification_rules setting; InvalidInput names a bad one."""
    out = []
    for part in (p.strip() for p in (rules or "").split(";")):
        if not part:
            continue
        pattern, eq, labels = part.rpartition("=")
        if not eq or not pattern:
            raise InvalidInput(f"classification rule {part!r} is not regex=label[,label]")
        try:
            rx = re.compile(pattern, re.IGNORECASE)
        except re.error as e:
            raise InvalidInput(f"classification rule {part!r}: {e}") from None
        out.append((rx, _labels(f"classification rule {part!r}", [x for x in labels.split(",") if x.strip()])))
    return out
