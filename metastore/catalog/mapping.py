"""Job scripts generated from a source → target mapping, as Glue's ApplyMapping: which columns of a catalog
table to read, under which names and types to write them, into which table, format and partitions.

Two styles, both meant to be read and edited: plain PySpark over the `mortar_job` helpers (`pyspark`), or
an AWS Glue script (`glue`: GlueContext, a DynamicFrame, ApplyMapping, Job bookmarks by
transformation_ctx) that runs on Mortar's `awsglue` as on AWS Glue. Either reads only new partitions (or
files) when the job's bookmark is enabled, casts and renames the mapped columns (nested source fields
too), and appends (or overwrites the partitions it writes) to the target table, creating it on the first
run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.names import check_column_name, check_type
from metastore.catalog.types import Table

FORMATS = ("parquet", "orc", "json", "csv", "avro")
MODES = ("append", "overwrite")
STYLES = ("pyspark", "glue")
GLUE_TYPES = {"bigint": "long", "smallint": "short", "tinyint": "byte"}  # Hive name -> Glue's; others alike


@dataclass(slots=True)
class ColumnMapping:
    source: str  # a column (or partition key) of the source table, or a path into a struct: `props.page`
    target: str | None = None  # None: the source's name
    target_type: str | None = None  # a Hive type; None: the source's type


@dataclass(slots=True)
class Mapping:
    source: str  # db.table, in the catalog
    target: str  # db.table: created on the first run if it does not exist
    columns: list[ColumnMapping] = field(default_factory=list)  # empty: every column, as it is
    partition_by: list[str] = field(default_factory=list)  # target columns
    target_format: str = "parquet"  # of a target the script creates
    mode: str = "append"  # overwrite: replaces the target partitions written (the whole table if none)
    where: str | None = None  # a Spark SQL condition on the source's columns
    style: str = "pyspark"  # or "glue": an AWS Glue script (DynamicFrame + ApplyMapping)


def split_table_name(what: str, name: str) -> tuple[str, str]:
    db, dot, table = (name or "").strip().lower().partition(".")
    if not dot or not db or not table or "." in table:
        raise InvalidInput(f"{what} {name!r} is not db.table")
    return db, table


def parse_column_mapping(text: str) -> ColumnMapping:
    """`source[:target[:type]]`, e.g. `amount:amount_eur:decimal(10,2)`; the type is everything after the
    second colon (struct types contain colons)."""
    parts = text.split(":", 2)
    if not parts[0].strip():
        raise InvalidInput(f"column mapping {text!r} is not source[:target[:type]]")
    return ColumnMapping(parts[0].strip(), (parts[1].strip() or None) if len(parts) > 1 else None,
                         (parts[2].strip() or None) if len(parts) > 2 else None)  # fmt: skip


def struct_fields(type_name: str) -> dict[str, str] | None:
    """The fields of a Hive struct type (`struct<a:int,b:struct<c:string>>` → {a: int, b: struct<...>}),
    names lower-cased; None if the type is not a struct."""
    text = type_name.strip()
    if not text.lower().startswith("struct<") or not text.endswith(">"):
        return None
    fields, depth, start, inner = {}, 0, 0, text[7:-1]
    for i, ch in enumerate(inner + ","):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            name, _, typ = inner[start:i].partition(":")
            if name.strip():
                fields[name.strip().strip("`").lower()] = typ.strip()
            start = i + 1
    return fields


def _source_type(path: str, types: dict[str, str], table: str) -> tuple[str, bool]:
    """The type of source column or struct path `path`, and whether it is nested (a path, not a column)."""
    if path in types:  # a column whose name has a dot is that column, as Glue reads it
        return types[path], False
    head, *rest = path.split(".")
    if head not in types or not rest:
        raise InvalidInput(f"column {path!r} is not a column of {table} (it has {', '.join(types)})")
    typ, walked = types[head], head
    for part in rest:
        fields = struct_fields(typ)
        if fields is None or part not in fields:
            has = f"its fields are {', '.join(fields)}" if fields else f"it is {typ}, not a struct"
            raise InvalidInput(f"{walked!r} of {table} has no field {part!r} ({has})")
        typ, walked = fields[part], f"{walked}.{part}"
    return typ, True


def _resolve(m: Mapping, source: Table, target: Table | None) -> list[tuple[str, str, str, str, str]]:
    """(Spark column reference, source column or struct path, its type, target column, target type) for every
    mapped column, checked. A nested source (`props.page`) is named `props_page` in the target unless named."""
    types = {c.name.lower(): c.type for c in [*source.sd.cols, *source.partition_keys]}
    chosen = m.columns or [ColumnMapping(name) for name in types]
    out, seen = [], set()
    for c in chosen:
        src = (c.source or "").strip().lower()
        src_type, nested = _source_type(src, types, m.source)
        dst = check_column_name(c.target or (src.replace(".", "_") if nested else src))
        if dst in seen:
            raise InvalidInput(f"target column {dst} is mapped twice")
        seen.add(dst)
        typ = check_type(c.target_type) if c.target_type else src_type
        ref = ".".join(map(_backticked, src.split("."))) if nested else _backticked(src)
        out.append((ref, src, src_type, dst, typ))
    for p in m.partition_by:
        if p.lower() not in seen:
            raise InvalidInput(f"partition column {p} is not one of the target columns ({', '.join(seen)})")
    if target is not None:
        wanted = [c.name.lower() for c in [*target.sd.cols, *target.partition_keys]]
        if sorted(wanted) != sorted(seen):
            raise InvalidInput(
                f"{m.target} exists with columns {', '.join(wanted)}; the mapping gives {', '.join(seen)}"
            )
    return out


def check_mapping(m: Mapping) -> tuple[tuple[str, str], tuple[str, str]]:
    src, dst = split_table_name("source", m.source), split_table_name("target", m.target)
    if src == dst:
        raise InvalidInput("the source and the target are the same table")
    if m.target_format not in FORMATS:
        raise InvalidInput(f"format {m.target_format!r} is not one of {', '.join(FORMATS)}")
    if m.mode not in MODES:
        raise InvalidInput(f"mode {m.mode!r} is not one of {', '.join(MODES)}")
    if m.style not in STYLES:
        raise InvalidInput(f"style {m.style!r} is not one of {', '.join(STYLES)}")
    if m.where is not None and not isinstance(m.where, str):
        raise InvalidInput("the condition must be text")
    return src, dst


def _render(m: Mapping, src_name: str, dst_name: str, source: Table, target: Table | None) -> str:
    """The PySpark script of (checked) mapping `m` from `source` to `target` (None: the script creates it)."""
    columns = _resolve(m, source, target)
    select = {}
    for ref, _src, src_type, dst, typ in columns:
        cast = f".cast({_q(typ)})" if typ.lower() != src_type.lower() else ""
        select[dst] = f"    F.col({_q(ref)}){cast}.alias({_q(dst)}),"
    if target is not None:  # insertInto matches by position: the target's order, partition keys last
        lines = [select[c.name.lower()] for c in [*target.sd.cols, *target.partition_keys]]
    else:
        lines = list(select.values())
    where = f"source = source.where({_q(m.where)})\n" if m.where else ""
    partition = f".partitionBy({', '.join(_q(p.lower()) for p in m.partition_by)})" if m.partition_by else ""
    mapping_doc = _mapping_doc(columns)
    return f'''"""Generated by Mortar from a mapping: {src_name} -> {dst_name} ({m.mode}). Edit freely.

Mapping:
{mapping_doc}
"""

from pyspark.sql import functions as F

from mortar_job import read_new_partitions, spark_session

SOURCE, TARGET = {_q(src_name)}, {_q(dst_name)}

spark = spark_session()
spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")  # overwrite only the partitions written
spark.conf.set("hive.exec.dynamic.partition.mode", "nonstrict")  # a Hive-format target too
source = read_new_partitions(SOURCE)  # every row, or only new partitions/files when the bookmark is enabled
{where}mapped = source.select(
{chr(10).join(lines)}
)
if spark.catalog.tableExists(TARGET):
    mapped.write.insertInto(TARGET, overwrite={m.mode == "overwrite"})
else:
    mapped.write.format({_q(m.target_format)}){partition}.mode({_q(m.mode)}).saveAsTable(TARGET)
print(f"{{SOURCE}} -> {{TARGET}}: mapped {len(columns)} columns")
'''


def _mapping_doc(columns: list[tuple[str, str, str, str, str]]) -> str:
    """The mapping as the generated script's docstring lists it, a column per line."""
    return "\n".join(f"    {src} {src_type} -> {dst} {typ}" for _ref, src, src_type, dst, typ in columns)


def _glue_type(hive_type: str) -> str:
    t = hive_type.strip()
    return GLUE_TYPES.get(t.lower(), t)


def _render_glue(m: Mapping, src_name: str, dst_name: str, source: Table, target: Table | None) -> str:
    """The AWS Glue script of (checked) mapping `m`: the source as a DynamicFrame (bookmarked by its
    transformation_ctx), ApplyMapping, then the target through the catalog (a sink that registers the
    table on the first run)."""
    columns = _resolve(m, source, target)
    (sdb, stable), (tdb, ttable) = src_name.split("."), dst_name.split(".")
    names = {c.name.lower() for c in [*source.sd.cols, *source.partition_keys]}
    rows = []
    for _ref, src, src_type, dst, typ in columns:
        path = _glue_path(src) if src in names else src  # a path into a struct keeps its dots
        rows.append(f"        ({_q(path)}, {_q(_glue_type(src_type))}, {_q(_glue_path(dst))}, "
                    f"{_q(_glue_type(typ))}),")  # fmt: skip
    keys = "[" + ", ".join(_q(p.lower()) for p in m.partition_by) + "]"
    where = ""
    if m.where:
        where = f'source = DynamicFrame.fromDF(source.toDF().where({_q(m.where)}), glueContext, "source_where")\n'
    fmt = "glueparquet" if m.target_format == "parquet" else m.target_format
    mapping_doc = _mapping_doc(columns)
    if m.mode == "overwrite":  # Glue's writers append: overwriting partitions is Spark's own writer
        write_existing = (
            '    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")  # only the partitions written\n'
            '    spark.conf.set("hive.exec.dynamic.partition.mode", "nonstrict")\n'
            "    mapped.toDF().select(*spark.table(TARGET).columns).write.insertInto(TARGET, overwrite=True)"
        )
    else:
        write_existing = (
            "    glueContext.write_dynamic_frame.from_catalog(frame=mapped, database=TARGET_DB, table_name=TARGET_TABLE,\n"
            '                                                 transformation_ctx="target")'
        )
    return f'''"""Generated by Mortar from a mapping: {src_name} -> {dst_name} ({m.mode}), as an AWS Glue script.
Edit freely.

Mapping:
{mapping_doc}
"""

import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

SOURCE_DB, SOURCE_TABLE = {_q(sdb)}, {_q(stable)}
TARGET_DB, TARGET_TABLE = {_q(tdb)}, {_q(ttable)}
TARGET = f"`{{TARGET_DB}}`.`{{TARGET_TABLE}}`"

args = getResolvedOptions(sys.argv, ["JOB_NAME"])
glueContext = GlueContext(SparkContext.getOrCreate())
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

# every row, or only new partitions/files when the job's bookmark is enabled
source = glueContext.create_dynamic_frame.from_catalog(database=SOURCE_DB, table_name=SOURCE_TABLE,
                                                       transformation_ctx="source")
{where}mapped = ApplyMapping.apply(
    frame=source,
    mappings=[
{chr(10).join(rows)}
    ],
    transformation_ctx="mapped",
)
if spark.catalog.tableExists(TARGET_TABLE, TARGET_DB):
{write_existing}
else:  # the first run: files under the database's folder, the table registered in the catalog
    folder = spark.catalog.getDatabase(TARGET_DB).locationUri.rstrip("/") + "/" + TARGET_TABLE
    sink = glueContext.getSink(connection_type="s3", path=folder, enableUpdateCatalog=True,
                               updateBehavior="UPDATE_IN_DATABASE", partitionKeys={keys},
                               transformation_ctx="target")
    sink.setFormat({_q(fmt)})
    sink.setCatalogInfo(catalogDatabase=TARGET_DB, catalogTableName=TARGET_TABLE)
    sink.writeFrame(mapped)
job.commit()
print(f"{{SOURCE_DB}}.{{SOURCE_TABLE}} -> {{TARGET_DB}}.{{TARGET_TABLE}}: mapped {len(columns)} columns")
'''


def _glue_path(column: str) -> str:
    """A column name as a Glue mapping path: a dot in a name is quoted with backticks."""
    return _backticked(column) if "." in column else column


def _backticked(column: str) -> str:
    """A column name as Spark reads it literally (a dot would otherwise mean a struct field)."""
    return "`" + column.replace("`", "``") + "`"


def _q(text: str) -> str:
    return repr(str(text))


def mapping_script(service, m: Mapping) -> str:
    """The script of mapping `m`, checked against the source (and target, if it exists) in `service`'s catalog."""
    (sdb, stable), (tdb, ttable) = check_mapping(m)
    source = service.tables.get(sdb, stable)
    try:
        target = service.tables.get(tdb, ttable)
    except NotFound:
        target = None
    render = _render_glue if m.style == "glue" else _render
    return render(m, f"{sdb}.{stable}", f"{tdb}.{ttable}", source, target)
