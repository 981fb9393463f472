"""Glue's table operations: tables, their versions (VersionId, archives) and SearchTables.

Glue never deletes data: DeleteTable drops the table and leaves its files. UpdateTable replaces the
definition; with `VersionId` it succeeds only if the table is still at that version (see versions.py).
"""

from __future__ import annotations

import json
import re

from metastore.catalog import access
from metastore.catalog.errors import CatalogError
from metastore.catalog.tables import table_from_row
from metastore.glue import paging, shapes
from metastore.glue.errors import GlueError, from_catalog, invalid_input, not_found
from metastore.glue.registry import GlueRequest, RawAnswer, operation
from metastore.glue.versions import TableRows, Versions


def _versions(req: GlueRequest) -> Versions:
    return Versions(req.service.ctx)


def tables_out(req: GlueRequest, db: str, rows: list) -> list[dict]:
    versions = _versions(req).current(rows)
    return [shapes.table_out(table_from_row(r, db.lower(), "hive"), req.account_id, versions[r.id]) for r in rows]


def _version_id(value, what: str = "VersionId") -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise invalid_input(f"{what} {value!r} is not a version number") from None
    if n < 1 or n > 2**62:
        raise invalid_input(f"{what} {value!r} is not a version number")
    return n


def error_detail(e: Exception) -> dict:
    g = from_catalog(e) if isinstance(e, CatalogError) else e
    return {"ErrorCode": g.type, "ErrorMessage": g.message} if isinstance(g, GlueError) else {
        "ErrorCode": "InternalServiceException", "ErrorMessage": str(e)}  # fmt: skip


@operation("CreateTable")
def create_table(req: GlueRequest, body: dict) -> dict:
    db = shapes.need_str(body, "DatabaseName")
    req.check("write", db)
    table = shapes.table_in(shapes.need_dict(body, "TableInput"), db)
    table.owner = table.owner or req.identity.name
    indexes = body.get("PartitionIndexes") or []
    from metastore.glue.ops_partitions import MAX_INDEXES, check_index

    if not isinstance(indexes, list) or len(indexes) > MAX_INDEXES:
        raise invalid_input(f"PartitionIndexes: a list of at most {MAX_INDEXES} indexes")

    for index in indexes:
        check_index(table.partition_keys, index)
    req.service.tables.create(table)
    if indexes:
        from metastore.glue.ops_partitions import add_indexes

        add_indexes(req, db, table.name, indexes)
    return {}


@operation("GetTable")
def get_table(req: GlueRequest, body: dict) -> RawAnswer:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "Name")
    req.check("read", db)
    row, version = _versions(req).table(db, name)
    key = (row, db.lower(), version, req.account_id)
    answer = _ENCODED.get(key)
    if answer is None:
        table = shapes.table_out(table_from_row(row, db.lower(), "hive"), req.account_id, version)
        answer = RawAnswer(json.dumps({"Table": table}, separators=(",", ":")).encode())
        global _encoded_bytes
        size = 2 * len(answer)  # the answer and the row it was made from (about as large)
        if len(_ENCODED) >= 10_000 or _encoded_bytes + size > _ENCODED_BYTES:
            _ENCODED.clear()
            _encoded_bytes = 0
        _ENCODED[key] = answer
        _encoded_bytes += size
    return answer


# GetTable's answers, encoded, by (the table's row as read, database, VersionId, account): the same row read
# again (nothing changed through any door) gives the same answer, as the Thrift port's encoded tables
_ENCODED: dict[tuple, RawAnswer] = {}
_ENCODED_BYTES = 64 * 1024 * 1024  # kept at most (roughly): all are dropped beyond, and made again as asked
_encoded_bytes = 0


@operation("GetTables")
def get_tables(req: GlueRequest, body: dict) -> dict:
    db = shapes.need_str(body, "DatabaseName")
    req.check("read", db)
    expression = body.get("Expression")
    if expression is not None and not isinstance(expression, str):
        raise invalid_input("Expression must be a string (a pattern of table names)")
    names = req.service.tables.list(db, expression or None)
    chunk, token = paging.page("GetTables", names, body, default=100, maximum=100)
    rows = TableRows(req.service.ctx).of(db, chunk)
    return paging.with_token({"TableList": tables_out(req, db, rows)}, token)


@operation("UpdateTable")
def update_table(req: GlueRequest, body: dict) -> dict:
    db = shapes.need_str(body, "DatabaseName")
    req.check("write", db)
    given = shapes.need_dict(body, "TableInput")
    new = shapes.table_in(given, db, default_type="")
    expected = body.get("VersionId")
    if expected is not None:
        _version_id(expected)
    old = req.service.tables.get(db, new.name)
    new.owner = new.owner if "Owner" in given else old.owner
    if "PartitionKeys" not in given:
        new.partition_keys = old.partition_keys
    elif [(c.name.lower(), c.type.lower()) for c in new.partition_keys] != [(c.name.lower(), c.type.lower()) for c in old.partition_keys]:
        raise invalid_input(f"table {db}.{new.name}: Mortar cannot change partition keys (make a new table)")
    before, after = _versions(req).hooks(expected, archive=not body.get("SkipArchive", False))
    req.service.tables.alter(db, new.name, new, before=before, after=after)
    return {}


def _drop(req: GlueRequest, db: str, name: str) -> None:
    req.service.tables.drop(db, name, delete_data=False)
    from metastore.glue.tags import drop_tags

    drop_tags(req, req.arn("table", db.lower(), name.lower()))


@operation("DeleteTable")
def delete_table(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "Name")
    req.check("write", db)
    _drop(req, db, name)
    return {}


@operation("BatchDeleteTable")
def batch_delete_table(req: GlueRequest, body: dict) -> dict:
    db = shapes.need_str(body, "DatabaseName")
    names = body.get("TablesToDelete")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) > 100:
        raise invalid_input("TablesToDelete must be a list of at most 100 table names")
    req.check("write", db)
    errors = []
    for name in names:
        try:
            _drop(req, db, name)
        except CatalogError as e:
            errors.append({"TableName": name, "ErrorDetail": error_detail(e)})
    return {"Errors": errors}


# --- versions ------------------------------------------------------------------------------------------


def _all_versions(req: GlueRequest, db: str, name: str) -> list[tuple[int, dict]]:
    row = req.service.tables.get_stored(db, name)
    current = _versions(req).current([row])[row.id]
    table = table_from_row(row, db.lower(), "hive")
    out = [(v, shapes.table_out(t, req.account_id, v)) for v, t in _versions(req).archived(row.id, db.lower(), "hive")
           if v != current]  # fmt: skip
    out.append((current, shapes.table_out(table, req.account_id, current)))
    return out


@operation("GetTableVersions")
def get_table_versions(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    req.check("read", db)
    versions = sorted(_all_versions(req, db, name), key=lambda v: -v[0])
    chunk, token = paging.page("GetTableVersions", versions, body, default=100, maximum=100)
    return paging.with_token({"TableVersions": [{"Table": t, "VersionId": str(v)} for v, t in chunk]}, token)


@operation("GetTableVersion")
def get_table_version(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    req.check("read", db)
    versions = _all_versions(req, db, name)
    wanted = versions[-1][0] if body.get("VersionId") in (None, "") else _version_id(body["VersionId"])
    for v, t in versions:
        if v == wanted:
            return {"TableVersion": {"Table": t, "VersionId": str(v)}}
    raise not_found(f"version {wanted} of table {db}.{name} does not exist")


def _delete_versions(req: GlueRequest, db: str, name: str, ids: list[int]) -> dict[int, str]:
    """Delete archived versions; returns the errors by version (the current one cannot be deleted)."""
    row = req.service.tables.get_stored(db, name)
    current = _versions(req).current([row])[row.id]
    errors = {v: f"version {v} is the current version of table {db}.{name}" for v in ids if v == current}
    found = set(_versions(req).delete(row.id, [v for v in ids if v != current]))
    errors.update({v: f"version {v} of table {db}.{name} does not exist" for v in ids if v != current and v not in found})
    return errors


@operation("DeleteTableVersion")
def delete_table_version(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    version = _version_id(body.get("VersionId"))
    req.check("write", db)
    errors = _delete_versions(req, db, name, [version])
    if errors:
        message = errors[version]
        raise invalid_input(message) if "current" in message else not_found(message)
    return {}


@operation("BatchDeleteTableVersion")
def batch_delete_table_version(req: GlueRequest, body: dict) -> dict:
    db, name = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    ids = body.get("VersionIds")
    if not isinstance(ids, list) or len(ids) > 100:
        raise invalid_input("VersionIds must be a list of at most 100 versions")
    versions = [_version_id(v) for v in ids]
    req.check("write", db)
    errors = _delete_versions(req, db, name, versions)
    return {"Errors": [{"TableName": name, "VersionId": str(v), "ErrorDetail": {
        "ErrorCode": "InvalidInputException" if "current" in m else "EntityNotFoundException", "ErrorMessage": m}}
        for v, m in errors.items()]}  # fmt: skip


# --- SearchTables --------------------------------------------------------------------------------------

_TOKENS = re.compile(r"[\s\-_:#/.,;@]+")
_TIME_FIELDS = ("CreateTime", "UpdateTime", "LastAccessTime")
_COMPARE = {"EQUALS": lambda a, b: a == b, "GREATER_THAN": lambda a, b: a > b, "LESS_THAN": lambda a, b: a < b,
            "GREATER_THAN_EQUALS": lambda a, b: a >= b, "LESS_THAN_EQUALS": lambda a, b: a <= b}  # fmt: skip


def _text_match(field: str | None, value: str) -> bool:
    """Glue's fuzzy match: the field's tokens (split at punctuation) include the value, or the field is it."""
    if field is None:
        return False
    field, value = field.lower(), value.lower()
    return field == value or value in _TOKENS.split(field)


def _field(table: dict, key: str):
    if key in ("DatabaseName", "Name", "Description", "Owner", "TableType"):
        return table.get(key)
    if key in _TIME_FIELDS:
        return table.get(key)
    return table.get("Parameters", {}).get(key)


def _filter_match(table: dict, flt: dict) -> bool:
    key, value = flt.get("Key"), flt.get("Value")
    if not isinstance(key, str) or not isinstance(value, str):
        raise invalid_input("each of Filters needs a Key and a Value (strings)")
    field = _field(table, key)
    if key in _TIME_FIELDS:
        try:
            limit = float(value)
        except ValueError:
            raise invalid_input(f"filter on {key}: {value!r} is not a time in epoch seconds") from None
        comparator = flt.get("Comparator", "EQUALS")
        if comparator not in _COMPARE:
            raise invalid_input(f"Comparator {comparator!r} is not one of {', '.join(_COMPARE)}")
        return field is not None and _COMPARE[comparator](field, limit)
    return _text_match(field, value)


def _search_text_match(table: dict, text: str) -> bool:
    text = text.strip()
    exact = len(text) >= 2 and text[0] == text[-1] == '"'
    needle = text.strip('"').lower()
    fields = [table["Name"], table["DatabaseName"], table.get("Description") or ""]
    fields += [c["Name"] for c in table["StorageDescriptor"]["Columns"] + table["PartitionKeys"]]
    fields += [c.get("Comment") or "" for c in table["StorageDescriptor"]["Columns"]]
    fields += list(table.get("Parameters", {}).values())
    if exact:
        return any(f.lower() == needle for f in fields)
    return any(needle in f.lower() for f in fields)


@operation("SearchTables")
def search_tables(req: GlueRequest, body: dict) -> dict:
    req.check("read")
    filters = body.get("Filters") or []
    text = body.get("SearchText")
    sort = body.get("SortCriteria") or []
    if not isinstance(filters, list) or not isinstance(sort, list) or (text is not None and not isinstance(text, str)):
        raise invalid_input("Filters and SortCriteria are lists, SearchText a string")
    dbs = [f["Value"] for f in filters if isinstance(f, dict) and f.get("Key") == "DatabaseName"
           and isinstance(f.get("Value"), str)]  # fmt: skip
    names = access.visible(req.identity, req.service.databases.list())
    if dbs:
        names = [n for n in names if any(_text_match(n, d) for d in dbs)]
    found = []
    pairs = TableRows(req.service.ctx).in_databases(names)
    versions = _versions(req).current([r for _, r in pairs])
    for db, r in pairs:
        table = shapes.table_out(table_from_row(r, db, "hive"), req.account_id, versions[r.id])
        if all(_filter_match(table, f) for f in filters) and (not text or _search_text_match(table, text)):
            found.append(table)
    found.sort(key=lambda t: (t["DatabaseName"], t["Name"]))
    for criterion in reversed(sort):
        field = criterion.get("FieldName") if isinstance(criterion, dict) else None
        if not isinstance(field, str):
            raise invalid_input("each of SortCriteria needs a FieldName")
        found.sort(key=lambda t, f=field: (_field(t, f) is None, _field(t, f) or ""),
                   reverse=criterion.get("Sort", "ASC") == "DESC")  # fmt: skip
    chunk, token = paging.page("SearchTables", found, body, default=100, maximum=1000)
    return paging.with_token({"TableList": chunk}, token)
