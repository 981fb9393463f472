"""Who is asking and what they may do: the one authorization decision every door asks.

Every door (Thrift, the web API and console, the Glue API, job drivers) turns its credential into an
`Identity` and asks `decide` (or `Access.check`, which also audits denials) whether that identity may do
an action on a database. No door has rules of its own.

Actions: `read` (see objects, run queries' metadata calls), `write` (create, change, drop catalog objects,
start runs), `admin` (users, catalogs, server settings). Roles rank them: viewer reads, editor writes,
admin does everything. An identity restricted to some databases may act only on those (admins: on all).

Identities:
- a user (console login, API token, Glue access key, a Kerberos principal or a trusted `set_ugi` name that
  names a Mortar user): that user's role and grants;
- a job driver (`run:<id>`): writes like an editor while its run runs, reads only before it is bound to a
  run, nothing once revoked; it may also read its own run's connections, bookmarks and run properties. A
  warm driver reused for the next run of the same job has its credential revoked when a run ends (idle,
  it grants nothing) and bound again (`reopen`) to the next run; the metastore resolves a driver's
  credential at every call, so an open connection acts as the run the credential is bound to now;
- anonymous: what the `anonymous` setting gives: `none`, `read`, `write`, or `local-write` (the embedded
  default: callers on this machine write, others only read).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from metastore.catalog import codec
from metastore.catalog.base import Area, now_ms
from metastore.catalog.errors import Forbidden, InvalidInput
from metastore.catalog.types import DEFAULT_CATALOG
from metastore.storage.models import NAME, AuditRow, RunCredentialRow

ACTIONS = {"read": 1, "write": 2, "admin": 3}
ROLE_RANKS = {"none": 0, "viewer": 1, "editor": 2, "admin": 3}
ANONYMOUS_POLICIES = ("none", "read", "local-write", "write")
RUN_TOKEN_PREFIX = "mortar-run."


@dataclass(frozen=True, slots=True)
class Identity:
    name: str  # the user name, "run:<id>", or "anonymous"
    kind: str = "user"  # user, run, anonymous
    role: str = "viewer"  # admin, editor, viewer, none
    databases: frozenset[str] | None = None  # None: every database
    peer: str = ""  # the caller's address, for the audit of denials
    run_id: int | None = None  # a job driver's run, once bound


def user_identity(user, peer: str = "") -> Identity:
    """The identity of a Mortar user (metastore.catalog.users.User)."""
    dbs = None if user.databases is None or user.role == "admin" else frozenset(user.databases)
    return Identity(user.name, "user", user.role, dbs, peer)


def is_local(peer: str) -> bool:
    try:
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except ValueError:
        return peer in ("", "local")  # a Unix socket or an in-process caller


def anonymous(policy: str, peer: str = "") -> Identity:
    """The identity of a caller that proved nothing, per the `anonymous` setting."""
    if policy not in ANONYMOUS_POLICIES:
        raise InvalidInput(f"setting anonymous={policy!r} is not one of {', '.join(ANONYMOUS_POLICIES)}")
    if policy == "local-write":
        role = "editor" if is_local(peer) else "viewer"
    else:
        role = {"none": "none", "read": "viewer", "write": "editor"}[policy]
    return Identity("anonymous", "anonymous", role, None, peer)


def host_matcher(spec: str):
    """A predicate on peer addresses from a comma-separated list of addresses and CIDRs ("" matches none)."""
    nets = []
    for part in (p.strip() for p in (spec or "").split(",")):
        if part:
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise InvalidInput(f"{part!r} is not an IP address or network (CIDR)") from None

    def matches(peer: str) -> bool:
        try:
            addr = ipaddress.ip_address(peer.split("%")[0])
        except ValueError:
            return False
        return any(addr in n for n in nets if n.version == addr.version)

    return matches


def decide(identity: Identity, action: str, db: str | None = None) -> str | None:
    """None if `identity` may do `action` (read, write, admin) on database `db` (or on the catalog as a whole
    when `db` is None); otherwise the reason, naming who, what and where."""
    need = ACTIONS[action]
    if ROLE_RANKS.get(identity.role, 0) < need:
        needs = {"read": "reading needs", "write": "changing objects needs editor or admin",
                 "admin": "this needs the admin role"}[action]  # fmt: skip
        where = f" (database {db})" if db else ""
        if identity.kind == "anonymous":
            return (f"an anonymous caller from {identity.peer or 'this machine'} may not "
                    f"{'read' if action == 'read' else 'change'} the catalog{where}: authenticate (Kerberos, "
                    "an access key or a token), or ask an administrator to change the anonymous setting")  # fmt: skip
        if identity.kind == "run":
            return f"{identity.name} may not {action}{where}: the job run's credential is not valid now"
        if action == "read":
            needs = "reading needs viewer, editor or admin"
        return f"user {identity.name} has the {identity.role} role: {needs}{where}"
    if db is not None and identity.databases is not None and db.lower() not in identity.databases:
        return f"user {identity.name} has no access to database {db}"
    return None


def visible(identity: Identity, names: list[str]) -> list[str]:
    """The database names of `names` the identity may read."""
    if identity.databases is None:
        return names if ROLE_RANKS.get(identity.role, 0) >= 1 else []
    return [n for n in names if n.lower() in identity.databases]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Access(Area):
    """The decision with its audit, and the credentials of job drivers."""

    def check(self, identity: Identity, action: str, db: str | None = None, obj: str | None = None) -> None:
        """Raise Forbidden (and audit the denial with the identity and peer) unless `decide` allows it."""
        reason = decide(identity, action, db)
        if reason is None:
            return
        self.deny(identity, action, reason, db, obj)

    def deny(self, identity: Identity, action: str, reason: str, db: str | None = None,
             obj: str | None = None) -> None:  # fmt: skip
        """Audit a denial (own transaction) and raise Forbidden with `reason`."""
        try:
            with self._write() as conn:
                conn.execute(insert(AuditRow).values(
                    at=now_ms(), user=identity.name[:NAME], action="DENIED", catalog_name=DEFAULT_CATALOG,
                    db_name=(db or None) and db.lower()[:NAME], object_name=(obj or None) and obj[:NAME],
                    details=codec.dumps({"action": action, "peer": identity.peer, "kind": identity.kind,
                                    "reason": reason})))  # fmt: skip
        finally:
            raise Forbidden(reason)

    # --- job drivers' credentials ---------------------------------------------------------------------

    def new_run_credential(self) -> str:
        """A credential for a job driver about to start: it reads until bound to a run (bind_run_credential)."""
        secret = RUN_TOKEN_PREFIX + secrets.token_hex(32)
        with self._write() as conn:
            conn.execute(insert(RunCredentialRow).values(token_hash=_hash(secret), created_at=now_ms()))
        return secret

    def bind_run_credential(self, secret: str, run_id: int, reopen: bool = False) -> None:
        """Bind a driver's credential to the run it executes: it acts as that run (run:<id>) until revoked.
        `reopen`: the credential of a warm driver reused for another run of the same job, revoked when its
        previous run ended (so that, idle, it grants nothing) and bound again now; only the worker that
        started the driver holds the secret and asks this, never for a driver it has retired."""
        query = update(RunCredentialRow).where(RunCredentialRow.token_hash == _hash(secret))
        if not reopen:
            query = query.where(RunCredentialRow.revoked_at.is_(None))
        with self._write() as conn:
            conn.execute(query.values(run_id=run_id, revoked_at=None))

    def revoke_run_credentials(self, run_id: int | None = None, secret: str | None = None) -> None:
        """Revoke the credentials of run `run_id` (its run ended) or the one credential `secret`."""
        query = update(RunCredentialRow).where(RunCredentialRow.revoked_at.is_(None))
        if run_id is not None:
            query = query.where(RunCredentialRow.run_id == run_id)
        elif secret is not None:
            query = query.where(RunCredentialRow.token_hash == _hash(secret))
        else:
            return
        with self._write() as conn:
            conn.execute(query.values(revoked_at=now_ms()))

    def run_identity(self, secret: str, peer: str = "") -> Identity | None:
        """The identity of a job driver's credential; None if it is unknown. A revoked one may do nothing."""
        if not isinstance(secret, str) or not secret.startswith(RUN_TOKEN_PREFIX) or len(secret) > 200:
            return None
        with self._read() as conn:
            row = conn.execute(select(RunCredentialRow.id, RunCredentialRow.run_id, RunCredentialRow.revoked_at)
                               .where(RunCredentialRow.token_hash == _hash(secret))).first()  # fmt: skip
        if row is None:
            return None
        if row.revoked_at is not None:
            return Identity(f"run:{row.run_id}", "run", "none", None, peer, row.run_id)
        if row.run_id is None:
            return Identity(f"driver:{row.id}", "run", "viewer", None, peer)
        return Identity(f"run:{row.run_id}", "run", "editor", None, peer, row.run_id)

