"""Glue's shapes (Database, Table, StorageDescriptor, Partition, UserDefinedFunction) to catalog objects and
back, as metastore/hms/convert.py does for Thrift: a table made through one door reads the same through the
other. A table's `Description` is its `comment` parameter; Glue's times are epoch seconds."""

from __future__ import annotations

from metastore.catalog import types as t
from metastore.glue.errors import invalid_input

_COMMENT = "comment"
_DDL_TIME = "transient_lastDdlTime"


def _str_map(value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise invalid_input(f"{what} must be a map of strings to strings")
    return dict(value)


def _str_list(value, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_input(f"{what} must be a list of strings")
    return list(value)


def need_str(body: dict, key: str, what: str | None = None) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise invalid_input(f"{what or key} is required (a non-empty string)")
    return value


def need_dict(body: dict, key: str) -> dict:
    value = body.get(key)
    if not isinstance(value, dict):
        raise invalid_input(f"{key} is required (an object)")
    return value


# --- columns and storage descriptors -------------------------------------------------------------------


def cols_out(cols: list[t.Column]) -> list[dict]:
    out = []
    for c in cols:
        d = {"Name": c.name, "Type": c.type}
        if c.comment is not None:
            d["Comment"] = c.comment
        out.append(d)
    return out


def cols_in(value, what: str = "Columns") -> list[t.Column]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_input(f"{what} must be a list of columns")
    out = []
    for c in value:
        if not isinstance(c, dict) or not isinstance(c.get("Name"), str):
            raise invalid_input(f"each of {what} needs a Name")
        typ = c.get("Type") or "string"
        if not isinstance(typ, str):
            raise invalid_input(f"column {c['Name']}: Type must be a string")
        out.append(t.Column(c["Name"], typ, c.get("Comment")))
    return out


def sd_out(sd: t.StorageDescriptor) -> dict:
    serde = {"Parameters": dict(sd.serde.parameters)}
    if sd.serde.name is not None:
        serde["Name"] = sd.serde.name
    if sd.serde.serialization_lib is not None:
        serde["SerializationLibrary"] = sd.serde.serialization_lib
    out = {"Columns": cols_out(sd.cols)}
    if sd.location is not None:
        out["Location"] = sd.location
    if sd.input_format is not None:
        out["InputFormat"] = sd.input_format
    if sd.output_format is not None:
        out["OutputFormat"] = sd.output_format
    out.update({
        "Compressed": bool(sd.compressed), "NumberOfBuckets": sd.num_buckets, "SerdeInfo": serde,
        "BucketColumns": list(sd.bucket_cols),
        "SortColumns": [{"Column": o.col, "SortOrder": o.order} for o in sd.sort_cols],
        "Parameters": dict(sd.parameters), "StoredAsSubDirectories": bool(sd.stored_as_sub_directories),
    })  # fmt: skip
    if sd.skewed_info is not None and sd.skewed_info.col_names:
        sk = sd.skewed_info
        out["SkewedInfo"] = {"SkewedColumnNames": list(sk.col_names),
                             "SkewedColumnValues": [",".join(v) for v in sk.col_values],
                             "SkewedColumnValueLocationMaps": {",".join(v): loc for v, loc in sk.locations}}  # fmt: skip
    return out


def sd_in(d, what: str = "StorageDescriptor") -> t.StorageDescriptor:
    if d is None:
        return t.StorageDescriptor()
    if not isinstance(d, dict):
        raise invalid_input(f"{what} must be an object")
    serde_in = d.get("SerdeInfo") or {}
    if not isinstance(serde_in, dict):
        raise invalid_input(f"{what}.SerdeInfo must be an object")
    serde = t.SerDe(name=serde_in.get("Name"), serialization_lib=serde_in.get("SerializationLibrary"),
                    parameters=_str_map(serde_in.get("Parameters"), f"{what}.SerdeInfo.Parameters"))  # fmt: skip
    sort = []
    for o in d.get("SortColumns") or []:
        if not isinstance(o, dict) or not isinstance(o.get("Column"), str):
            raise invalid_input(f"{what}.SortColumns: each needs a Column")
        sort.append(t.SortOrder(o["Column"], int(o.get("SortOrder", 1))))
    skewed = None
    sk = d.get("SkewedInfo")
    if isinstance(sk, dict) and sk.get("SkewedColumnNames"):
        skewed = t.SkewedInfo(
            _str_list(sk.get("SkewedColumnNames"), "SkewedColumnNames"),
            [v.split(",") for v in _str_list(sk.get("SkewedColumnValues"), "SkewedColumnValues")],
            [(k.split(","), v) for k, v in _str_map(sk.get("SkewedColumnValueLocationMaps"), "SkewedColumnValueLocationMaps").items()],
        )  # fmt: skip
    buckets = d.get("NumberOfBuckets", -1)
    if isinstance(buckets, bool) or not isinstance(buckets, int):
        raise invalid_input(f"{what}.NumberOfBuckets must be an integer")
    return t.StorageDescriptor(
        cols=cols_in(d.get("Columns"), f"{what}.Columns"), location=d.get("Location") or None,
        input_format=d.get("InputFormat"), output_format=d.get("OutputFormat"),
        compressed=bool(d.get("Compressed", False)), num_buckets=buckets, serde=serde,
        bucket_cols=_str_list(d.get("BucketColumns"), f"{what}.BucketColumns"), sort_cols=sort,
        parameters=_str_map(d.get("Parameters"), f"{what}.Parameters"), skewed_info=skewed,
        stored_as_sub_directories=bool(d.get("StoredAsSubDirectories", False)),
    )  # fmt: skip


# --- databases -------------------------------------------------------------------------------------------


def database_out(db: t.Database, catalog_id: str) -> dict:
    out = {"Name": db.name, "Parameters": dict(db.parameters), "CreateTime": float(db.create_time),
           "CreateTableDefaultPermissions": [], "CatalogId": catalog_id}  # fmt: skip
    if db.description is not None:
        out["Description"] = db.description
    if db.location_uri:
        out["LocationUri"] = db.location_uri
    return out


def database_in(d: dict, owner: str | None = None) -> t.Database:
    if not isinstance(d, dict):
        raise invalid_input("DatabaseInput must be an object")
    return t.Database(name=need_str(d, "Name", "DatabaseInput.Name"), description=d.get("Description"),
                      location_uri=d.get("LocationUri") or None,
                      parameters=_str_map(d.get("Parameters"), "DatabaseInput.Parameters"),
                      owner_name=owner, owner_type=1 if owner else None)  # fmt: skip


# --- tables --------------------------------------------------------------------------------------------


def table_out(tb: t.Table, catalog_id: str, version_id: int | None = None) -> dict:
    params = dict(tb.parameters)
    out = {"Name": tb.name, "DatabaseName": tb.db_name}
    if params.get(_COMMENT) is not None:
        out["Description"] = params[_COMMENT]
    if tb.owner is not None:
        out["Owner"] = tb.owner
    out["CreateTime"] = float(tb.create_time)
    try:
        out["UpdateTime"] = float(int(params.get(_DDL_TIME, tb.create_time)))
    except ValueError:
        out["UpdateTime"] = float(tb.create_time)
    out.update({"LastAccessTime": float(tb.last_access_time), "Retention": tb.retention,
                "StorageDescriptor": sd_out(tb.sd), "PartitionKeys": cols_out(tb.partition_keys)})  # fmt: skip
    if tb.view_original_text is not None:
        out["ViewOriginalText"] = tb.view_original_text
    if tb.view_expanded_text is not None:
        out["ViewExpandedText"] = tb.view_expanded_text
    out.update({"TableType": tb.table_type, "Parameters": params, "CreatedBy": tb.owner or "",
                "IsRegisteredWithLakeFormation": False, "CatalogId": catalog_id})  # fmt: skip
    if version_id is not None:
        out["VersionId"] = str(version_id)
    return out


def table_in(d, db: str, default_type: str | None = None) -> t.Table:
    """A table of a TableInput. Without TableType: `default_type` ("": the table's own, on updates), else a
    view if it has view text, else an external table (Glue never owns data)."""
    if not isinstance(d, dict):
        raise invalid_input("TableInput must be an object")
    params = _str_map(d.get("Parameters"), "TableInput.Parameters")
    if d.get("Description") is not None:
        params[_COMMENT] = str(d["Description"])
    table_type = d.get("TableType") or default_type
    if table_type is None:
        table_type = t.VIRTUAL_VIEW if d.get("ViewOriginalText") else t.EXTERNAL_TABLE
    if table_type != "" and table_type not in t.TABLE_TYPES:
        raise invalid_input(f"TableType {table_type!r} is not one of {', '.join(t.TABLE_TYPES)}")
    return t.Table(
        name=need_str(d, "Name", "TableInput.Name"), db_name=db, owner=d.get("Owner"),
        last_access_time=int(d.get("LastAccessTime") or 0), retention=int(d.get("Retention") or 0),
        sd=sd_in(d.get("StorageDescriptor"), "TableInput.StorageDescriptor"),
        partition_keys=cols_in(d.get("PartitionKeys"), "TableInput.PartitionKeys"), parameters=params,
        view_original_text=d.get("ViewOriginalText"), view_expanded_text=d.get("ViewExpandedText"),
        table_type=table_type,
    )  # fmt: skip


# --- partitions ----------------------------------------------------------------------------------------


def partition_out(p: t.Partition, catalog_id: str) -> dict:
    return {"Values": list(p.values), "DatabaseName": p.db_name, "TableName": p.table_name,
            "CreationTime": float(p.create_time), "LastAccessTime": float(p.last_access_time),
            "StorageDescriptor": sd_out(p.sd), "Parameters": dict(p.parameters), "CatalogId": catalog_id}  # fmt: skip


def values_in(value, what: str = "Values") -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise invalid_input(f"{what} must be a non-empty list of strings")
    return list(value)


def partition_in(d, db: str, table: str, what: str = "PartitionInput") -> t.Partition:
    if not isinstance(d, dict):
        raise invalid_input(f"{what} must be an object")
    return t.Partition(values=values_in(d.get("Values"), f"{what}.Values"), db_name=db, table_name=table,
                       last_access_time=int(d.get("LastAccessTime") or 0),
                       sd=sd_in(d.get("StorageDescriptor"), f"{what}.StorageDescriptor"),
                       parameters=_str_map(d.get("Parameters"), f"{what}.Parameters"))  # fmt: skip
