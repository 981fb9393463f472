"""Tags of Glue resources, by ARN (`arn:aws:glue:<region>:<account>:<kind>/<name...>`).

`set_tags(req, arn, tags)` is what every Create* operation with `Tags` calls. Who may tag: tagging needs
`write` on the resource's database (databases, tables, functions) or on the catalog (other kinds); reading
tags needs `read`. `EXISTS` maps a resource kind to a check that it exists (modules of other kinds add
theirs), so that tags of a resource that does not exist are refused, as Glue does.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, insert, select

from metastore.catalog.base import Area
from metastore.glue.errors import invalid_input, not_found
from metastore.glue.registry import GlueRequest
from metastore.storage.models import GlueTagRow

MAX_TAGS = 50
# kind -> fn(req, parts) raising NotFound (or a GlueError) when the resource does not exist
EXISTS: dict[str, Callable[[GlueRequest, list[str]], None]] = {}
_DB_KINDS = ("database", "table", "userDefinedFunction")


def parse_arn(req: GlueRequest, arn) -> tuple[str, list[str]]:
    """(kind, name parts) of a Glue ARN of this account."""
    if not isinstance(arn, str) or not arn.startswith("arn:aws:glue:"):
        raise invalid_input(f"ResourceArn {str(arn)[:200]!r} is not a Glue ARN")
    fields = arn.split(":", 5)
    if len(fields) != 6 or "/" not in fields[5]:
        raise invalid_input(f"ResourceArn {arn[:200]!r} is not arn:aws:glue:<region>:<account>:<kind>/<name>")
    kind, _, rest = fields[5].partition("/")
    return kind, rest.split("/")


def _authorize(req: GlueRequest, arn: str, action: str) -> None:
    kind, parts = parse_arn(req, arn)
    req.check(action, parts[0] if kind in _DB_KINDS else None)
    check = EXISTS.get(kind)
    if check is not None:
        check(req, parts)


def _check_tags(tags) -> dict[str, str]:
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise invalid_input("Tags must be a map of strings to strings")
    for k, v in tags.items():
        if not 1 <= len(k) <= 128 or len(v) > 256:
            raise invalid_input(f"tag {k[:40]!r}: keys have 1 to 128 characters, values at most 256")
    return tags


def _resource(arn: str) -> str:
    """The part of an ARN that names the resource (`table/db/t`): tags do not depend on the region a client
    signed for, nor on the account id it wrote."""
    fields = arn.split(":", 5)
    return fields[5] if len(fields) == 6 and fields[0] == "arn" else arn


class _Tags(Area):
    def get(self, arn: str) -> dict[str, str]:
        with self._read() as conn:
            return dict(conn.execute(select(GlueTagRow.key, GlueTagRow.value).where(GlueTagRow.arn == _resource(arn))
                                     .order_by(GlueTagRow.key)).all())  # fmt: skip

    def set(self, arn: str, tags: dict[str, str]) -> None:
        with self._write() as conn:
            conn.execute(delete(GlueTagRow).where(GlueTagRow.arn == _resource(arn), GlueTagRow.key.in_(list(tags))))
            existing = conn.execute(select(GlueTagRow.key).where(GlueTagRow.arn == _resource(arn))).scalars().all()
            if len(existing) + len(tags) > MAX_TAGS:
                raise invalid_input(f"a resource has at most {MAX_TAGS} tags")
            conn.execute(insert(GlueTagRow), [{"arn": _resource(arn), "key": k, "value": v} for k, v in tags.items()])
            self._audit(conn, "TAG_RESOURCE", "hive", None, arn[-256:], keys=sorted(tags))

    def remove(self, arn: str, keys: list[str]) -> None:
        with self._write() as conn:
            conn.execute(delete(GlueTagRow).where(GlueTagRow.arn == _resource(arn), GlueTagRow.key.in_(keys)))
            self._audit(conn, "UNTAG_RESOURCE", "hive", None, arn[-256:], keys=sorted(keys))

    def drop(self, arn_prefix: str) -> None:
        with self._write() as conn:
            prefix = _resource(arn_prefix)
            conn.execute(delete(GlueTagRow).where((GlueTagRow.arn == prefix) | GlueTagRow.arn.startswith(prefix + "/", autoescape=True)))  # fmt: skip


def set_tags(req: GlueRequest, arn: str, tags) -> None:
    """Add (or replace) tags of the resource `arn`. The caller has just made or checked the resource."""
    tags = _check_tags(tags)
    if tags:
        _Tags(req.service.ctx).set(arn, tags)


def get_tags(req: GlueRequest, arn: str) -> dict[str, str]:
    return _Tags(req.service.ctx).get(arn)


def drop_tags(req: GlueRequest, arn: str) -> None:
    """Forget the tags of a deleted resource (and of those under it: a database's tables)."""
    _Tags(req.service.ctx).drop(arn)


def tag_resource(req: GlueRequest, body: dict) -> dict:
    arn = body.get("ResourceArn")
    _authorize(req, arn, "write")
    set_tags(req, arn, body.get("TagsToAdd") or {})
    return {}


def untag_resource(req: GlueRequest, body: dict) -> dict:
    arn = body.get("ResourceArn")
    keys = body.get("TagsToRemove") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise invalid_input("TagsToRemove must be a list of tag keys")
    _authorize(req, arn, "write")
    if keys:
        _Tags(req.service.ctx).remove(arn, keys)
    return {}


def get_tags_op(req: GlueRequest, body: dict) -> dict:
    arn = body.get("ResourceArn")
    _authorize(req, arn, "read")
    return {"Tags": get_tags(req, arn)}


def _exists_database(req: GlueRequest, parts: list[str]) -> None:
    req.service.databases.get(parts[0])


def _exists_table(req: GlueRequest, parts: list[str]) -> None:
    if len(parts) < 2:
        raise not_found("the ARN names no table")
    req.service.tables.get_stored(parts[0], parts[1])


def _exists_function(req: GlueRequest, parts: list[str]) -> None:
    if len(parts) < 2:
        raise not_found("the ARN names no function")
    req.service.functions.get(parts[0], parts[1])


EXISTS.update(database=_exists_database, table=_exists_table, userDefinedFunction=_exists_function)
