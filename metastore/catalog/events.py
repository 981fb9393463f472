"""The event feed, subscriptions to it, and the log of their deliveries.

The feed is the audit log (its id is the cursor, as it is HMS's notification event id): the records of
state changes are read as typed events: `job.run.<STATE>` (SUCCEEDED, FAILED, TIMEOUT, STOPPED, ERROR,
and RUNNING when a worker takes a run), `crawler.run.<STATE>`, `table.created`, `table.schema_changed`,
`table.deleted`, `table.partition_added`. A subscription names event types (optionally one database
and one object: a job, crawler or table) and a channel: a webhook (a signed POST) or e-mail.

Each event is queued once per subscription (a unique delivery row); a notifier claims due deliveries,
sends them and records the outcome; a failed attempt is tried again later, with back-off.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from metastore.catalog import codec
from metastore.catalog.access import Access, Identity, decide
from metastore.catalog.base import Area, now_ms
from metastore.catalog.errors import AlreadyExists, InvalidInput, NotFound
from metastore.storage.models import NAME, AuditRow, CrawlerRow, DeliveryRow, FeedCursorRow, SubscriptionRow

JOB_STATES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")
CRAWLER_STATES = ("RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
EVENT_TYPES = (
    *(f"job.run.{s}" for s in JOB_STATES),
    *(f"crawler.run.{s}" for s in CRAWLER_STATES),
    "table.created", "table.schema_changed", "table.deleted", "table.partition_added",
)  # fmt: skip
ACTIONS = ("CLAIM_JOB_RUN", "FINISH_JOB_RUN", "FAIL_STALE_JOB_RUN", "START_CRAWLER_RUN", "FINISH_CRAWLER_RUN",
           "FAIL_STALE_CRAWLER_RUN", "CREATE_TABLE", "ALTER_TABLE", "DROP_TABLE", "ADD_PARTITIONS")  # fmt: skip
CHANNELS = ("webhook", "email")
MAX_ATTEMPTS = 12
BACKOFF_S = (1, 2, 4, 8, 15, 30, 60, 120, 300)  # wait after attempt 1, 2, ...; then the last
SENDING_STALE_MS = 60_000  # a SENDING delivery whose notifier went away is due again after this
FEED_LAG_MS = 1000  # events younger than this wait: an earlier id may still be committing
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")


def event_type(action: str, details: dict) -> str | None:
    """The type of an audit record as an event, or None if it is none."""
    state = details.get("state")
    if action == "CLAIM_JOB_RUN":
        return "job.run.RUNNING"
    if action in ("FINISH_JOB_RUN", "FAIL_STALE_JOB_RUN"):
        return f"job.run.{state or 'FAILED'}"
    if action == "START_CRAWLER_RUN":
        return "crawler.run.RUNNING"
    if action == "FINISH_CRAWLER_RUN":
        return f"crawler.run.{state}"
    if action == "FAIL_STALE_CRAWLER_RUN":
        return "crawler.run.FAILED"
    if action == "CREATE_TABLE":
        return "table.created"
    if action == "ALTER_TABLE":
        return "table.schema_changed" if "version" in details else None
    if action == "DROP_TABLE":
        return "table.deleted"
    if action == "ADD_PARTITIONS":
        return "table.partition_added"
    return None


def _event(r) -> dict | None:
    details = codec.loads(r.details)
    kind = event_type(r.action, details)
    if kind is None:
        return None
    obj_kind = kind.split(".")[0]
    return {"id": r.id, "type": kind, "at": r.at, "user": r.user, "database": r.db_name,
            obj_kind: r.object_name, "details": details}  # fmt: skip


def may_see(identity: Identity, event: dict, crawler_dbs: dict[str, str] | None = None) -> bool:
    """Whether the identity may read the event's database (a crawler's event: the crawler's database)."""
    db = event.get("database")
    if db is None and event.get("crawler") and crawler_dbs is not None:
        db = crawler_dbs.get(event["crawler"], "")  # a crawler deleted since: only to those who see all
    return decide(identity, "read", db) is None


def _crawler_dbs(conn) -> dict[str, str]:
    return {name: db.lower() for name, db in conn.execute(select(CrawlerRow.name, CrawlerRow.database_name)).all()}


@dataclass
class Subscription:
    name: str
    events: list[str]
    channel: str
    target: str
    database: str | None = None
    object: str | None = None
    owner: str | None = None
    enabled: bool = True
    id: int | None = None
    created_at: int | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _subscription(r) -> Subscription:
    return Subscription(r.name, codec.loads(r.events), r.channel, r.target, r.db_name, r.object_name, r.owner,
                        r.enabled, r.id, r.created_at)  # fmt: skip


def _check(s: Subscription) -> dict:
    name = (s.name or "").strip().lower() if isinstance(s.name, str) else ""
    if not re.match(r"^[a-z0-9][a-z0-9_.\-]{0,99}$", name):
        raise InvalidInput(f"subscription name {s.name!r}: letters, digits, _ . - (up to 100)")
    if not isinstance(s.events, list) or not s.events:
        raise InvalidInput(f"events: a non-empty list of event types ({', '.join(EVENT_TYPES)})")
    bad = [e for e in s.events if e not in EVENT_TYPES]
    if bad:
        raise InvalidInput(f"unknown event type(s) {', '.join(map(str, bad))}; known: {', '.join(EVENT_TYPES)}")
    if s.channel not in CHANNELS:
        raise InvalidInput(f"channel {s.channel!r} is not one of {', '.join(CHANNELS)}")
    target = s.target.strip() if isinstance(s.target, str) else ""
    if s.channel == "webhook":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(target) > 2000:
            raise InvalidInput(f"webhook target {target!r} is not an http(s) URL")
    elif not EMAIL.match(target) or len(target) > NAME:
        raise InvalidInput(f"e-mail target {target!r} is not an e-mail address")
    for what, v in (("database", s.database), ("object", s.object)):
        if v is not None and (not isinstance(v, str) or not v.strip() or len(v) > NAME):
            raise InvalidInput(f"{what} must be a name")
    return dict(name=name, events=codec.dumps(sorted(set(s.events))), channel=s.channel, target=target,
                db_name=s.database and s.database.strip().lower(), object_name=s.object and s.object.strip().lower(),
                enabled=bool(s.enabled))  # fmt: skip


class Events(Area):
    # --- the feed ---------------------------------------------------------------------------------------

    def feed(self, identity: Identity, after: int = 0, limit: int = 100, types: list[str] | None = None) -> tuple[list[dict], int]:
        """Events after id `after` that the identity may see, oldest first; and the cursor to ask from next
        (the last record looked at, so that a poller never reads the same records twice)."""
        Access(self.ctx).check(identity, "read")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise InvalidInput("after must be a non-negative integer (an event id)")
        limit = max(1, min(int(limit), 1000))
        cursor, out = after, []
        with self._read() as conn:
            crawlers = _crawler_dbs(conn)
            for _ in range(20):  # at most 20 scans of 1,000 records for one page
                rows = conn.execute(select(AuditRow).where(AuditRow.id > cursor, AuditRow.action.in_(ACTIONS))
                                    .order_by(AuditRow.id).limit(1000)).all()  # fmt: skip
                for r in rows:
                    cursor = r.id
                    e = _event(r)
                    if e is not None and (not types or e["type"] in types) and may_see(identity, e, crawlers):
                        out.append(e)
                        if len(out) >= limit:
                            return out, cursor
                if len(rows) < 1000:
                    break
        return out, cursor

    # --- subscriptions ---------------------------------------------------------------------------------

    def create(self, identity: Identity, s: Subscription) -> Subscription:
        """A subscription of the identity's user; a webhook gets a signing secret (returned once)."""
        values = _check(s)
        access = Access(self.ctx)
        access.check(identity, "write", values["db_name"])
        secret = secrets.token_hex(24) if values["channel"] == "webhook" else None
        with self._write() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(insert(SubscriptionRow).values(
                        **values, owner=identity.name[:NAME], created_at=now_ms(),
                        secret=secret and self.ctx.secrets.encrypt(secret))).inserted_primary_key[0]  # fmt: skip
            except IntegrityError:
                raise AlreadyExists(f"subscription {values['name']} exists") from None
            self._audit(conn, "CREATE_SUBSCRIPTION", "hive", values["db_name"], values["name"],
                        channel=values["channel"], events=codec.loads(values["events"]))  # fmt: skip
        out = self.get(identity, values["name"])
        out.secret = secret  # type: ignore[attr-defined]
        return out

    def _row(self, conn, identity: Identity, name: str):
        r = conn.execute(select(SubscriptionRow).where(SubscriptionRow.name == (name or "").lower())).first()
        if r is None or (r.owner != identity.name and identity.role != "admin"):
            raise NotFound(f"subscription {name} does not exist")
        return r

    def get(self, identity: Identity, name: str) -> Subscription:
        with self._read() as conn:
            return _subscription(self._row(conn, identity, name))

    def list(self, identity: Identity) -> list[Subscription]:
        """The identity's subscriptions (an admin: everyone's)."""
        Access(self.ctx).check(identity, "read")
        query = select(SubscriptionRow).order_by(SubscriptionRow.name)
        if identity.role != "admin":
            query = query.where(SubscriptionRow.owner == identity.name)
        with self._read() as conn:
            return [_subscription(r) for r in conn.execute(query).all()]

    def delete(self, identity: Identity, name: str) -> None:
        Access(self.ctx).check(identity, "write")
        with self._write() as conn:
            r = self._row(conn, identity, name)
            conn.execute(delete(SubscriptionRow).where(SubscriptionRow.id == r.id))
            self._audit(conn, "DELETE_SUBSCRIPTION", "hive", r.db_name, r.name)

    def deliveries(self, identity: Identity, name: str, limit: int = 100) -> list[dict]:
        """The delivery log of a subscription, newest first."""
        with self._read() as conn:
            r = self._row(conn, identity, name)
            rows = conn.execute(select(DeliveryRow).where(DeliveryRow.subscription_id == r.id)
                                .order_by(DeliveryRow.id.desc()).limit(max(1, min(limit, 1000)))).all()  # fmt: skip
        return [{"id": d.id, "event_id": d.event_id, "state": d.state, "attempts": d.attempts, "next_at": d.next_at,
                 "last_error": d.last_error, "created_at": d.created_at, "sent_at": d.sent_at} for d in rows]  # fmt: skip

    # --- the notifier's side ------------------------------------------------------------------------------

    def _cursor(self, conn, name: str) -> int:
        pos = conn.execute(select(FeedCursorRow.position).where(FeedCursorRow.name == name).with_for_update()).scalar()
        if pos is None:
            pos = conn.execute(select(AuditRow.id).order_by(AuditRow.id.desc()).limit(1)).scalar() or 0
            conn.execute(insert(FeedCursorRow).values(name=name, position=pos))
        return pos

    def read_feed(self, reader: str, limit: int = 500, lag_ms: int = FEED_LAG_MS) -> list[dict]:
        """Events after reader `reader`'s cursor (older than `lag_ms`), moving the cursor past them. A new
        reader starts at the end of the feed."""
        with self._write() as conn:
            pos = self._cursor(conn, reader)
            rows = conn.execute(select(AuditRow).where(AuditRow.id > pos, AuditRow.at <= now_ms() - lag_ms)
                                .order_by(AuditRow.id).limit(limit)).all()  # fmt: skip
            if rows:
                conn.execute(update(FeedCursorRow).where(FeedCursorRow.name == reader).values(position=rows[-1].id))
        return [e for e in map(_event, rows) if e is not None]

    def enqueue(self, events: list[dict]) -> int:
        """Queue each event once for each enabled subscription it matches (and whose owner may see it)."""
        if not events:
            return 0
        from metastore.catalog.access import user_identity
        from metastore.catalog.users import Users

        with self._read() as conn:
            subs = [_subscription(r) for r in conn.execute(select(SubscriptionRow).where(SubscriptionRow.enabled)).all()]
            crawlers = _crawler_dbs(conn) if subs else {}
        identities: dict[str, Identity | None] = {}
        rows, at = [], now_ms()
        for s in subs:
            if s.owner not in identities:
                try:
                    identities[s.owner] = user_identity(Users(self.ctx).get(s.owner))
                except NotFound:
                    identities[s.owner] = None
            who = identities[s.owner]
            for e in events:
                obj = e.get("job") or e.get("crawler") or e.get("table")
                if (e["type"] in s.events and (s.database is None or e.get("database") == s.database)
                        and (s.object is None or obj == s.object) and who is not None and may_see(who, e, crawlers)):  # fmt: skip
                    rows.append(dict(subscription_id=s.id, event_id=e["id"], state="PENDING", attempts=0,
                                     next_at=at, created_at=at))  # fmt: skip
        made = 0
        with self._write() as conn:
            for row in rows:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(DeliveryRow).values(**row))
                    made += 1
                except IntegrityError:  # queued already (another notifier)
                    pass
        return made

    def claim(self, worker: str, limit: int = 20) -> list[dict]:
        """Due deliveries, marked SENDING by `worker`, each with its subscription (secret decrypted) and event."""
        at = now_ms()
        with self._write() as conn:
            due = conn.execute(select(DeliveryRow).where(
                ((DeliveryRow.state == "PENDING") & (DeliveryRow.next_at <= at))
                | ((DeliveryRow.state == "SENDING") & (DeliveryRow.next_at <= at - SENDING_STALE_MS)))
                .order_by(DeliveryRow.next_at).limit(limit).with_for_update(skip_locked=True)).all()  # fmt: skip
            if not due:
                return []
            conn.execute(update(DeliveryRow).where(DeliveryRow.id.in_([d.id for d in due]))
                         .values(state="SENDING", claimed_by=worker[:NAME], next_at=at,
                                 attempts=DeliveryRow.attempts + 1))  # fmt: skip
            subs = {r.id: r for r in conn.execute(select(SubscriptionRow).where(
                SubscriptionRow.id.in_({d.subscription_id for d in due}))).all()}  # fmt: skip
            events = {r.id: _event(r) for r in conn.execute(select(AuditRow).where(
                AuditRow.id.in_({d.event_id for d in due}))).all()}  # fmt: skip
        out = []
        for d in due:
            s, e = subs.get(d.subscription_id), events.get(d.event_id)
            if s is None or e is None:
                continue
            secret = self.ctx.secrets.decrypt(s.secret) if s.secret else None
            out.append({"delivery_id": d.id, "attempt": d.attempts + 1, "subscription": _subscription(s),
                        "secret": secret, "event": e})  # fmt: skip
        return out

    def sent(self, delivery_id: int) -> None:
        with self._write() as conn:
            conn.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                         .values(state="SENT", sent_at=now_ms(), last_error=None))  # fmt: skip

    def failed(self, delivery_id: int, attempt: int, error: str) -> None:
        """A failed attempt: due again after the back-off, or FAILED after MAX_ATTEMPTS."""
        wait = BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)]
        state = "FAILED" if attempt >= MAX_ATTEMPTS else "PENDING"
        with self._write() as conn:
            conn.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                         .values(state=state, next_at=now_ms() + wait * 1000, last_error=error[:2000]))  # fmt: skip
