"""Glue operations by name: `@operation("GetTable")` registers a function `(req, body) -> dict`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from metastore.catalog import CatalogService
from metastore.catalog.access import Identity
from metastore.config import Settings


class RawAnswer(bytes):
    """An answer already encoded as JSON (for large listings), sent as it is."""


Handler = Callable[["GlueRequest", dict], "dict | RawAnswer"]
OPERATIONS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in OPERATIONS:
            raise ValueError(f"Glue operation {name} registered twice")
        OPERATIONS[name] = fn
        return fn

    return register


@dataclass
class GlueRequest:
    """One Glue call: who asks (`identity`), a catalog view that audits as them (`service`), the settings,
    and the account and region the answers' ARNs carry."""

    service: CatalogService
    identity: Identity
    settings: Settings
    account_id: str = "000000000000"
    region: str = "us-east-1"
    peer: str = ""
    extra: dict = field(default_factory=dict)  # the web layer's task sender etc.

    def check(self, action: str, db: str | None = None, obj: str | None = None) -> None:
        """Raise Forbidden (answered as AccessDeniedException) unless the identity may do `action`
        ("read", "write", "admin") on database `db` (None: not database-scoped). Audits denials."""
        self.service.access.check(self.identity, action, db, obj)

    def arn(self, resource: str, *parts: str) -> str:
        """arn:aws:glue:<region>:<account>:<resource>/<parts...>, as Glue names its resources."""
        tail = "/".join(p for p in parts if p)
        return f"arn:aws:glue:{self.region}:{self.account_id}:{resource}" + (f"/{tail}" if tail else "")
