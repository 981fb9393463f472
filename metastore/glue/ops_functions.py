"""User-defined functions (Hive's permanent functions) through Glue."""

from __future__ import annotations

from metastore.catalog import access
from metastore.catalog.databases import hive_pattern
from metastore.catalog.types import Function, ResourceUri
from metastore.glue import paging, shapes
from metastore.glue.errors import invalid_input
from metastore.glue.registry import GlueRequest, operation

_OWNER_TYPES = {"USER": 1, "ROLE": 2, "GROUP": 3}
_RESOURCE_TYPES = {"JAR": 1, "FILE": 2, "ARCHIVE": 3}


def function_in(d, db: str) -> Function:
    if not isinstance(d, dict):
        raise invalid_input("FunctionInput must be an object")
    owner_type = d.get("OwnerType", "USER")
    if owner_type not in _OWNER_TYPES:
        raise invalid_input(f"OwnerType {owner_type!r} is not one of {', '.join(_OWNER_TYPES)}")
    uris = []
    for r in d.get("ResourceUris") or []:
        if not isinstance(r, dict) or r.get("ResourceType") not in _RESOURCE_TYPES or not isinstance(r.get("Uri"), str):
            raise invalid_input("each of ResourceUris is {ResourceType: JAR|FILE|ARCHIVE, Uri}")
        uris.append(ResourceUri(_RESOURCE_TYPES[r["ResourceType"]], r["Uri"]))
    return Function(name=shapes.need_str(d, "FunctionName", "FunctionInput.FunctionName"), db_name=db,
                    class_name=shapes.need_str(d, "ClassName", "FunctionInput.ClassName"),
                    owner_name=d.get("OwnerName"), owner_type=_OWNER_TYPES[owner_type], resource_uris=uris)  # fmt: skip


def function_out(f: Function, catalog_id: str) -> dict:
    owner_types = {v: k for k, v in _OWNER_TYPES.items()}
    resource_types = {v: k for k, v in _RESOURCE_TYPES.items()}
    out = {"FunctionName": f.name, "DatabaseName": f.db_name, "ClassName": f.class_name,
           "OwnerType": owner_types.get(f.owner_type or 1, "USER"), "CreateTime": float(f.create_time),
           "ResourceUris": [{"ResourceType": resource_types.get(r.resource_type, "JAR"), "Uri": r.uri}
                            for r in f.resource_uris], "CatalogId": catalog_id}  # fmt: skip
    if f.owner_name is not None:
        out["OwnerName"] = f.owner_name
    return out


@operation("CreateUserDefinedFunction")
def create_function(req: GlueRequest, body: dict) -> dict:
    db = shapes.need_str(body, "DatabaseName")
    fn = function_in(body.get("FunctionInput"), db)
    req.check("write", db)
    req.service.functions.create(fn)
    return {}


@operation("GetUserDefinedFunction")
def get_function(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "FunctionName")
    req.check("read", db)
    return {"UserDefinedFunction": function_out(req.service.functions.get(db, name), req.account_id)}


@operation("GetUserDefinedFunctions")
def get_functions(req: GlueRequest, body: dict) -> dict:
    pattern = shapes.need_str(body, "Pattern")
    db = body.get("DatabaseName")
    if db is not None:
        req.check("read", db)
        req.service.databases.get(db)
        dbs = {db.lower()}
    else:
        req.check("read")
        dbs = set(access.visible(req.identity, req.service.databases.list()))
    rx = hive_pattern(pattern)
    found = [f for f in req.service.functions.list_all() if f.db_name in dbs and (rx is None or rx.fullmatch(f.name))]
    chunk, token = paging.page("GetUserDefinedFunctions", found, body, default=100, maximum=100)
    return paging.with_token({"UserDefinedFunctions": [function_out(f, req.account_id) for f in chunk]}, token)


@operation("UpdateUserDefinedFunction")
def update_function(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "FunctionName")
    fn = function_in(body.get("FunctionInput"), db)
    req.check("write", db)
    req.service.functions.alter(db, name, fn)
    return {}


@operation("DeleteUserDefinedFunction")
def delete_function(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "FunctionName")
    req.check("write", db)
    req.service.functions.drop(db, name)
    return {}
