"""Glue's database operations over the catalog's databases (Glue never deletes data: DeleteDatabase drops
the database with its tables, and leaves their files)."""

from __future__ import annotations

from sqlalchemy import select

from metastore.catalog import access, codec
from metastore.catalog.base import Area
from metastore.catalog.types import DEFAULT_CATALOG, Database
from metastore.glue import paging, shapes
from metastore.glue.errors import invalid_input
from metastore.glue.registry import GlueRequest, operation
from metastore.storage.models import DatabaseRow


@operation("CreateDatabase")
def create_database(req: GlueRequest, body: dict) -> dict:
    db = shapes.database_in(shapes.need_dict(body, "DatabaseInput"), req.identity.name)
    req.check("write", db.name)
    req.service.databases.create(db)
    if body.get("Tags"):
        from metastore.glue.tags import set_tags

        set_tags(req, req.arn("database", db.name.lower()), body["Tags"])
    return {}


@operation("GetDatabase")
def get_database(req: GlueRequest, body: dict) -> dict:
    name = shapes.need_str(body, "Name")
    req.check("read", name)
    return {"Database": shapes.database_out(req.service.databases.get(name), req.account_id)}


@operation("GetDatabases")
def get_databases(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    names = access.visible(req.identity, req.service.databases.list())
    chunk, token = paging.page("GetDatabases", names, body, default=100, maximum=100)
    found = _Rows(req.service.ctx).databases(chunk)
    return paging.with_token({"DatabaseList": [shapes.database_out(d, req.account_id) for d in found]}, token)


class _Rows(Area):
    def databases(self, names: list[str]) -> list[Database]:
        """The databases among `names` that exist (one query), in the order of `names`."""
        if not names:
            return []
        with self._read() as conn:
            cid = self._catalog_id(conn, DEFAULT_CATALOG)
            rows = conn.execute(select(DatabaseRow).where(DatabaseRow.catalog_id == cid, DatabaseRow.name.in_(names))).all()
        by_name = {r.name: r for r in rows}
        return [Database(name=r.name, description=r.description, location_uri=r.location_uri,
                         managed_location_uri=r.managed_location_uri, parameters=codec.loads(r.parameters),
                         owner_name=r.owner_name, owner_type=r.owner_type, create_time=r.create_time)
                for r in (by_name.get(n) for n in names) if r is not None]  # fmt: skip


@operation("UpdateDatabase")
def update_database(req: GlueRequest, body: dict) -> dict:
    name = shapes.need_str(body, "Name")
    new = shapes.database_in(shapes.need_dict(body, "DatabaseInput"))
    if new.name.lower() != name.lower():
        raise invalid_input(f"database {name} cannot be renamed to {new.name}: Mortar keeps database names")
    req.check("write", name)
    old = req.service.databases.get(name)
    new.owner_name, new.owner_type = old.owner_name, old.owner_type
    new.location_uri = new.location_uri or old.location_uri
    req.service.databases.alter(name, new)
    return {}


@operation("DeleteDatabase")
def delete_database(req: GlueRequest, body: dict) -> dict:
    name = shapes.need_str(body, "Name")
    req.check("write", name)
    req.service.databases.drop(name, cascade=True, delete_data=False)
    from metastore.glue.tags import drop_tags

    for kind in ("database", "table", "userDefinedFunction"):  # the database's, and those of what was in it
        drop_tags(req, req.arn(kind, name.lower()))
    return {}
