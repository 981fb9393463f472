"""Builders of hmsclient Thrift objects (Hive 2.x IDL) for the HMS protocol tests."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from hmsclient.genthrift.hive_metastore import ttypes

INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


def cols(*spec: str | tuple[str, str]) -> list[ttypes.FieldSchema]:
    """Columns from `"name type"` strings (or (name, type) pairs): cols("id bigint", "v string")."""
    out = []
    for s in spec:
        name, typ = s if isinstance(s, tuple) else s.split(" ", 1)
        out.append(ttypes.FieldSchema(name=name, type=typ, comment=None))
    return out


def storage(
    columns: list[ttypes.FieldSchema] | None = None, location: str | None = None
) -> ttypes.StorageDescriptor:
    return ttypes.StorageDescriptor(
        cols=list(columns or []),
        location=location,
        inputFormat=INPUT_FORMAT,
        outputFormat=OUTPUT_FORMAT,
        compressed=False,
        numBuckets=-1,
        serdeInfo=ttypes.SerDeInfo(name=None, serializationLib=SERDE, parameters={"field.delim": ","}),
        bucketCols=[],
        sortCols=[],
        parameters={},
    )


def database(name: str, description: str | None = None, location: str | None = None,
             parameters: dict[str, str] | None = None, owner: str = "tester") -> ttypes.Database:  # fmt: skip
    return ttypes.Database(name=name, description=description, locationUri=location,
                           parameters=dict(parameters or {}), ownerName=owner, ownerType=ttypes.PrincipalType.USER)  # fmt: skip


def table(db: str, name: str, columns: list[ttypes.FieldSchema] | None = None,
          partition_keys: list[ttypes.FieldSchema] | None = None, *, table_type: str = "MANAGED_TABLE",
          location: str | None = None, parameters: dict[str, str] | None = None,
          view_text: str | None = None, owner: str = "tester") -> ttypes.Table:  # fmt: skip
    """A Table; `columns` default to (id bigint, name string). EXTERNAL_TABLE sets EXTERNAL=TRUE."""
    params = dict(parameters or {})
    if table_type == "EXTERNAL_TABLE":
        params.setdefault("EXTERNAL", "TRUE")
    columns = cols("id bigint", "name string") if columns is None else columns
    sd = storage(columns, location)
    if table_type == "VIRTUAL_VIEW":
        sd.inputFormat = sd.outputFormat = None
        sd.serdeInfo = ttypes.SerDeInfo(parameters={})
    return ttypes.Table(
        tableName=name,
        dbName=db,
        owner=owner,
        createTime=0,
        lastAccessTime=0,
        retention=0,
        sd=sd,
        partitionKeys=list(partition_keys or []),
        parameters=params,
        viewOriginalText=view_text,
        viewExpandedText=view_text,
        tableType=table_type,
    )


def partition(tbl: ttypes.Table, values: list[str], location: str | None = None,
              parameters: dict[str, str] | None = None) -> ttypes.Partition:  # fmt: skip
    """A Partition of `tbl` with the table's columns and formats."""
    return ttypes.Partition(
        values=list(values),
        dbName=tbl.dbName,
        tableName=tbl.tableName,
        createTime=0,
        lastAccessTime=0,
        sd=storage(list(tbl.sd.cols or []), location),
        parameters=dict(parameters or {}),
    )


def local_path(location: str) -> Path:
    """The local path of a `file:` location (file:/x, file:///x) or a bare path."""
    if location.startswith("file:"):
        return Path(urlparse(location).path)
    return Path(location)
