"""Conversions between Thrift structs (the wire) and catalog objects (the domain)."""

from __future__ import annotations

import base64

from thrift.Thrift import TType

from metastore.catalog import types as t
from metastore.hms.gen.hive import ttypes as tt

# --- columns and storage descriptors -------------------------------------------------------------------


def col_out(c: t.Column) -> tt.FieldSchema:
    return tt.FieldSchema(name=c.name, type=c.type, comment=c.comment)


def col_in(f: tt.FieldSchema) -> t.Column:
    return t.Column(f.name, f.type, f.comment)


def _serde_out(s: t.SerDe) -> tt.SerDeInfo:
    return tt.SerDeInfo(
        name=s.name,
        serializationLib=s.serialization_lib,
        parameters=s.parameters,
        description=s.description,
        serializerClass=s.serializer_class,
        deserializerClass=s.deserializer_class,
        serdeType=s.serde_type,
    )


def _skewed_out(sk: t.SkewedInfo | None) -> tt.SkewedInfo:
    if sk is None:
        return tt.SkewedInfo(skewedColNames=[], skewedColValues=[], skewedColValueLocationMaps={})
    return tt.SkewedInfo(
        skewedColNames=sk.col_names,
        skewedColValues=sk.col_values,
        skewedColValueLocationMaps={tuple(v): loc for v, loc in sk.locations},
    )


def _cols_out(cols: list[t.Column]) -> list[tt.FieldSchema]:
    return [tt.FieldSchema(name=c.name, type=c.type, comment=c.comment) for c in cols]


def _sort_out(cols: list[t.SortOrder]) -> list[tt.Order]:
    return [tt.Order(col=o.col, order=o.order) for o in cols]


def sd_out(sd: t.StorageDescriptor, memo: dict | None = None) -> tt.StorageDescriptor:
    """`memo` (one per listing) converts parts shared by many descriptors once; Thrift structs may be
    shared on the way out since they are only serialised."""

    def shared(part, convert):
        if memo is None:
            return convert(part)
        key = (id(part), convert)
        if key not in memo:
            memo[key] = (convert(part), part)  # keeps `part` alive, so its id stays unique
        return memo[key][0]

    return tt.StorageDescriptor(
        cols=shared(sd.cols, _cols_out),
        location=sd.location,
        inputFormat=sd.input_format,
        outputFormat=sd.output_format,
        compressed=sd.compressed,
        numBuckets=sd.num_buckets,
        serdeInfo=shared(sd.serde, _serde_out),
        bucketCols=sd.bucket_cols,
        sortCols=shared(sd.sort_cols, _sort_out),
        parameters=sd.parameters,
        skewedInfo=shared(sd.skewed_info, _skewed_out),
        storedAsSubDirectories=sd.stored_as_sub_directories,
    )


def sd_in(sd: tt.StorageDescriptor | None) -> t.StorageDescriptor:
    if sd is None:
        return t.StorageDescriptor()
    s = sd.serdeInfo or tt.SerDeInfo()
    sk = sd.skewedInfo
    skewed = None
    if sk is not None and (sk.skewedColNames or sk.skewedColValues or sk.skewedColValueLocationMaps):
        skewed = t.SkewedInfo(
            list(sk.skewedColNames or []),
            [list(v) for v in sk.skewedColValues or []],
            [(list(k), v) for k, v in (sk.skewedColValueLocationMaps or {}).items()],
        )
    return t.StorageDescriptor(
        cols=[col_in(c) for c in sd.cols or []],
        location=sd.location or None,
        input_format=sd.inputFormat,
        output_format=sd.outputFormat,
        compressed=bool(sd.compressed),
        num_buckets=sd.numBuckets if sd.numBuckets is not None else -1,
        serde=t.SerDe(
            name=s.name,
            serialization_lib=s.serializationLib,
            parameters=dict(s.parameters or {}),
            description=s.description,
            serializer_class=s.serializerClass,
            deserializer_class=s.deserializerClass,
            serde_type=s.serdeType,
        ),
        bucket_cols=list(sd.bucketCols or []),
        sort_cols=[t.SortOrder(o.col, o.order) for o in sd.sortCols or []],
        parameters=dict(sd.parameters or {}),
        skewed_info=skewed,
        stored_as_sub_directories=bool(sd.storedAsSubDirectories),
    )


# --- databases, tables, partitions, functions ----------------------------------------------------------


def database_out(d: t.Database) -> tt.Database:
    return tt.Database(
        name=d.name,
        description=d.description,
        locationUri=d.location_uri,
        parameters=d.parameters,
        ownerName=d.owner_name,
        ownerType=d.owner_type,
        catalogName=d.catalog,
        createTime=d.create_time,
        managedLocationUri=d.managed_location_uri,
    )


def database_in(d: tt.Database, catalog: str) -> t.Database:
    return t.Database(
        name=d.name,
        catalog=(d.catalogName or catalog).lower(),
        description=d.description,
        location_uri=d.locationUri or None,
        managed_location_uri=d.managedLocationUri or None,
        parameters=dict(d.parameters or {}),
        owner_name=d.ownerName,
        owner_type=d.ownerType,
        create_time=d.createTime or 0,
    )


def table_out(x: t.Table) -> tt.Table:
    return tt.Table(
        tableName=x.name,
        dbName=x.db_name,
        owner=x.owner,
        createTime=x.create_time,
        lastAccessTime=x.last_access_time,
        retention=x.retention,
        sd=sd_out(x.sd),
        partitionKeys=[col_out(c) for c in x.partition_keys],
        parameters=x.parameters,
        viewOriginalText=x.view_original_text,
        viewExpandedText=x.view_expanded_text,
        tableType=x.table_type,
        temporary=x.temporary,
        rewriteEnabled=x.rewrite_enabled,
        catName=x.catalog,
        ownerType=x.owner_type,
    )


def table_in(x: tt.Table, catalog: str) -> t.Table:
    return t.Table(
        name=x.tableName,
        db_name=(x.dbName or "").lower(),
        catalog=(x.catName or catalog).lower(),
        owner=x.owner,
        owner_type=x.ownerType if x.ownerType is not None else 1,
        create_time=x.createTime or 0,
        last_access_time=x.lastAccessTime or 0,
        retention=x.retention or 0,
        sd=sd_in(x.sd),
        partition_keys=[col_in(c) for c in x.partitionKeys or []],
        parameters=dict(x.parameters or {}),
        view_original_text=x.viewOriginalText,
        view_expanded_text=x.viewExpandedText,
        table_type=x.tableType or "",
        temporary=bool(x.temporary),
        rewrite_enabled=bool(x.rewriteEnabled),
    )


def partition_out(p: t.Partition, memo: dict | None = None) -> tt.Partition:
    return tt.Partition(
        values=p.values,
        dbName=p.db_name,
        tableName=p.table_name,
        createTime=p.create_time,
        lastAccessTime=p.last_access_time,
        sd=sd_out(p.sd, memo),
        parameters=p.parameters,
        catName=p.catalog,
    )


def partitions_out(parts: list[t.Partition]) -> list[tt.Partition]:
    memo: dict = {}
    return [partition_out(p, memo) for p in parts]


def partition_in(p: tt.Partition, catalog: str, db: str | None = None, table: str | None = None) -> t.Partition:
    return t.Partition(
        values=list(p.values or []),
        db_name=(p.dbName or db or "").lower(),
        table_name=(p.tableName or table or "").lower(),
        catalog=(p.catName or catalog).lower(),
        create_time=p.createTime or 0,
        last_access_time=p.lastAccessTime or 0,
        sd=sd_in(p.sd),
        parameters=dict(p.parameters or {}),
    )


def function_out(f: t.Function) -> tt.Function:
    return tt.Function(
        functionName=f.name,
        dbName=f.db_name,
        className=f.class_name,
        ownerName=f.owner_name,
        ownerType=f.owner_type,
        createTime=f.create_time,
        functionType=f.function_type,
        resourceUris=[tt.ResourceUri(resourceType=r.resource_type, uri=r.uri) for r in f.resource_uris],
        catName=f.catalog,
    )


def function_in(f: tt.Function, catalog: str) -> t.Function:
    return t.Function(
        name=f.functionName,
        db_name=(f.dbName or "").lower(),
        class_name=f.className,
        catalog=(f.catName or catalog).lower(),
        owner_name=f.ownerName,
        owner_type=f.ownerType,
        create_time=f.createTime or 0,
        function_type=f.functionType or 1,
        resource_uris=[t.ResourceUri(r.resourceType, r.uri) for r in f.resourceUris or []],
    )


# --- statistics: the ColumnStatisticsData union, as a plain dict ----------------------------------------


def struct_to_dict(obj) -> dict:
    """A Thrift struct as a JSON-able dict (binary as base64), by its thrift_spec."""
    out = {}
    for spec in obj.thrift_spec:
        if spec is None:
            continue
        _, ftype, name, sub, _ = spec
        value = getattr(obj, name)
        if value is None:
            continue
        if ftype == TType.STRUCT:
            out[name] = struct_to_dict(value)
        elif ftype == TType.STRING and isinstance(value, bytes):
            out[name] = {"b64": base64.b64encode(value).decode()}
        elif ftype in (TType.LIST, TType.SET):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def dict_to_struct(cls, data: dict):
    kwargs = {}
    for spec in cls.thrift_spec:
        if spec is None or spec[2] not in data:
            continue
        _, ftype, name, sub, _ = spec
        value = data[name]
        if ftype == TType.STRUCT:
            value = dict_to_struct(sub[0], value)
        elif isinstance(value, dict) and "b64" in value:
            value = base64.b64decode(value["b64"])
        kwargs[name] = value
    return cls(**kwargs)


def column_stats_in(obj: tt.ColumnStatisticsObj) -> t.ColumnStats:
    return t.ColumnStats(obj.colName, obj.colType, struct_to_dict(obj.statsData))


def column_stats_out(s: t.ColumnStats) -> tt.ColumnStatisticsObj:
    return tt.ColumnStatisticsObj(
        colName=s.column_name, colType=s.column_type, statsData=dict_to_struct(tt.ColumnStatisticsData, s.data)
    )
