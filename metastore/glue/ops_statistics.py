"""Column statistics of tables and partitions: Glue's ColumnStatisticsData mapped to the catalog's (HMS's
ColumnStatisticsData union), so that statistics written by Spark's ANALYZE read through Glue and back."""

from __future__ import annotations

from metastore.catalog.errors import CatalogError, NotFound
from metastore.catalog.names import make_partition_name
from metastore.catalog.types import ColumnStats
from metastore.glue import shapes
from metastore.glue.errors import invalid_input
from metastore.glue.ops_tables import error_detail
from metastore.glue.registry import GlueRequest, operation

# Glue type -> (its data member, the catalog's member, {Glue field: catalog field})
_NUMERIC = {"MinimumValue": "lowValue", "MaximumValue": "highValue", "NumberOfNulls": "numNulls",
            "NumberOfDistinctValues": "numDVs"}  # fmt: skip
KINDS = {
    "BOOLEAN": ("BooleanColumnStatisticsData", "booleanStats",
                {"NumberOfTrues": "numTrues", "NumberOfFalses": "numFalses", "NumberOfNulls": "numNulls"}),
    "LONG": ("LongColumnStatisticsData", "longStats", _NUMERIC),
    "DOUBLE": ("DoubleColumnStatisticsData", "doubleStats", _NUMERIC),
    "DECIMAL": ("DecimalColumnStatisticsData", "decimalStats", _NUMERIC),
    "DATE": ("DateColumnStatisticsData", "dateStats", _NUMERIC),
    "STRING": ("StringColumnStatisticsData", "stringStats",
               {"MaximumLength": "maxColLen", "AverageLength": "avgColLen", "NumberOfNulls": "numNulls",
                "NumberOfDistinctValues": "numDVs"}),
    "BINARY": ("BinaryColumnStatisticsData", "binaryStats",
               {"MaximumLength": "maxColLen", "AverageLength": "avgColLen", "NumberOfNulls": "numNulls"}),
}  # fmt: skip
_BY_CATALOG = {member: glue_type for glue_type, (_, member, _) in KINDS.items()}
_DAY = 86400


def _value_in(kind: str, field: str, value):
    if kind == "DECIMAL" and field in ("MinimumValue", "MaximumValue"):
        if not isinstance(value, dict) or "UnscaledValue" not in value:
            raise invalid_input(f"decimal statistics: {field} is {{UnscaledValue, Scale}}")
        return {"unscaled": {"b64": value["UnscaledValue"]}, "scale": int(value.get("Scale", 0))}
    if kind == "DATE" and field in ("MinimumValue", "MaximumValue"):
        return {"daysSinceEpoch": int(float(value) // _DAY)}
    return value


def _value_out(kind: str, field: str, value):
    if kind == "DECIMAL" and field in ("MinimumValue", "MaximumValue"):
        return {"UnscaledValue": value.get("unscaled", {}).get("b64", ""), "Scale": value.get("scale", 0)}
    if kind == "DATE" and field in ("MinimumValue", "MaximumValue"):
        return float(value.get("daysSinceEpoch", 0) * _DAY)
    return value


def stats_in(d) -> ColumnStats:
    if not isinstance(d, dict):
        raise invalid_input("each of ColumnStatisticsList is a ColumnStatistics object")
    name, col_type = shapes.need_str(d, "ColumnName"), shapes.need_str(d, "ColumnType")
    data = shapes.need_dict(d, "StatisticsData")
    kind = data.get("Type")
    if kind not in KINDS:
        raise invalid_input(f"statistics of column {name}: Type {kind!r} is not one of {', '.join(KINDS)}")
    member, catalog_member, fields = KINDS[kind]
    given = data.get(member)
    if not isinstance(given, dict):
        raise invalid_input(f"statistics of column {name}: {member} is required for Type {kind}")
    stats = {fields[k]: _value_in(kind, k, v) for k, v in given.items() if k in fields and v is not None}
    analyzed = d.get("AnalyzedTime")
    return ColumnStats(name, col_type, {catalog_member: stats}, int(float(analyzed)) if analyzed else 0)


def stats_out(s: ColumnStats) -> dict:
    catalog_member, values = next(iter(s.data.items()))
    kind = _BY_CATALOG[catalog_member]
    member, _, fields = KINDS[kind]
    back = {v: k for k, v in fields.items()}
    data = {back[k]: _value_out(kind, back[k], v) for k, v in values.items() if k in back}
    return {"ColumnName": s.column_name, "ColumnType": s.column_type, "AnalyzedTime": float(s.last_analyzed),
            "StatisticsData": {"Type": kind, member: data}}  # fmt: skip


def _columns(body: dict) -> list[str]:
    names = body.get("ColumnNames")
    if not isinstance(names, list) or not names or len(names) > 100 or not all(isinstance(n, str) for n in names):
        raise invalid_input("ColumnNames must be a list of 1 to 100 column names")
    return names


def _partition_name(req: GlueRequest, db: str, table: str, body: dict) -> str:
    values = shapes.values_in(body.get("PartitionValues"), "PartitionValues")
    return make_partition_name([k.name for k in req.service.partitions.keys(db, table)], values)


def _list_in(body: dict) -> list[ColumnStats]:
    given = body.get("ColumnStatisticsList")
    if not isinstance(given, list) or len(given) > 25:
        raise invalid_input("ColumnStatisticsList must be a list of at most 25 ColumnStatistics")
    return [stats_in(d) for d in given]


def _get_answer(names: list[str], found: list[ColumnStats]) -> dict:
    have = {s.column_name.lower() for s in found}
    return {"ColumnStatisticsList": [stats_out(s) for s in found],
            "Errors": [{"ColumnName": n, "Error": {"ErrorCode": "EntityNotFoundException",
                                                   "ErrorMessage": f"no statistics of column {n}"}}
                       for n in names if n.lower() not in have]}  # fmt: skip


def _update_answer(req: GlueRequest, stats: list[ColumnStats], write) -> dict:
    try:
        write(stats)
        return {"Errors": []}
    except CatalogError as e:
        return {"Errors": [{"ColumnStatistics": stats_out(s), "Error": error_detail(e)} for s in stats]}


@operation("GetColumnStatisticsForTable")
def get_for_table(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    names = _columns(body)
    req.check("read", db)
    return _get_answer(names, req.service.statistics.get_table(db, table, names))


@operation("UpdateColumnStatisticsForTable")
def update_for_table(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    stats = _list_in(body)
    req.check("write", db)
    req.service.tables.get_stored(db, table)
    return _update_answer(req, stats, lambda s: req.service.statistics.update_table(db, table, s))


@operation("DeleteColumnStatisticsForTable")
def delete_for_table(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    column = shapes.need_str(body, "ColumnName")
    req.check("write", db)
    if not req.service.statistics.delete_table(db, table, column):
        raise NotFound(f"no statistics of column {column} of table {db}.{table}")
    return {}


@operation("GetColumnStatisticsForPartition")
def get_for_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    names = _columns(body)
    req.check("read", db)
    name = _partition_name(req, db, table, body)
    req.service.partitions.get_by_name(db, table, name)
    found = req.service.statistics.get_partitions(db, table, [name], names).get(name, [])
    return _get_answer(names, found)


@operation("UpdateColumnStatisticsForPartition")
def update_for_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    stats = _list_in(body)
    req.check("write", db)
    name = _partition_name(req, db, table, body)
    req.service.partitions.get_by_name(db, table, name)
    return _update_answer(req, stats, lambda s: req.service.statistics.update_partition(db, table, name, s))


@operation("DeleteColumnStatisticsForPartition")
def delete_for_partition(req: GlueRequest, body: dict) -> dict:
    db, table = shapes.need_str(body, "DatabaseName"), shapes.need_str(body, "TableName")
    column = shapes.need_str(body, "ColumnName")
    req.check("write", db)
    name = _partition_name(req, db, table, body)
    if not req.service.statistics.delete_partition(db, table, name, column):
        raise NotFound(f"no statistics of column {column} of partition {name} of {db}.{table}")
    return {}
