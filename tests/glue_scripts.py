"""The corpus of Glue-style ETL scripts that tests/test_awsglue.py runs unchanged through a real worker, written
from the patterns of the AWS Glue developer guide. Each is a complete script; its arguments come as Glue passes
them (--JOB_NAME..., then the script's own --name value)."""

from __future__ import annotations

HEAD = """import sys
from awsglue.transforms import *
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job

args = getResolvedOptions(sys.argv, {options!r})
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
"""


def script(options: list[str], body: str) -> str:
    return HEAD.format(options=["JOB_NAME", *options]) + body + "job.commit()\n"


CORPUS: dict[str, tuple[list[str], str]] = {
    # catalog -> ApplyMapping (nested source fields) -> parquet files partitioned by dt
    "catalog_to_parquet": (["target"], """
datasource0 = glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="events",
                                                            transformation_ctx="datasource0")
applymapping1 = ApplyMapping.apply(frame=datasource0, mappings=[
    ("user.id", "string", "user_id", "string"), ("user.name", "string", "user_name", "string"),
    ("amount", "long", "amount", "double"), ("dt", "string", "dt", "string")], transformation_ctx="applymapping1")
glueContext.write_dynamic_frame.from_options(frame=applymapping1, connection_type="s3",
    connection_options={"path": args["target"], "partitionKeys": ["dt"]}, format="parquet",
    transformation_ctx="datasink2")
"""),
    # CSV whose price column mixes numbers and text -> a choice -> cast:double; a malformed line is an error record
    "csv_choice_cast": (["source", "target"], """
src = glueContext.create_dynamic_frame.from_options(connection_type="s3",
    connection_options={"paths": [args["source"]]}, format="csv", format_options={"withHeader": True})
src.printSchema()
resolved = src.resolveChoice(specs=[("price", "cast:double")])
mapped = ApplyMapping.apply(frame=resolved, mappings=[("id", "int", "id", "long"), ("price", "double", "price", "double"),
                                                      ("name", "string", "name", "string")])
print("csv errors:", mapped.errorsCount())
glueContext.write_dynamic_frame.from_options(frame=mapped, connection_type="s3",
    connection_options={"path": args["target"]}, format="parquet")
"""),
    "csv_choice_make_cols": (["source", "target"], """
src = glueContext.create_dynamic_frame.from_options("s3", {"paths": [args["source"]]}, format="csv",
                                                    format_options={"withHeader": True, "separator": ","})
cols = ResolveChoice.apply(frame=src, choice="make_cols", transformation_ctx="cols")
glueContext.write_dynamic_frame.from_options(frame=cols, connection_type="s3",
    connection_options={"path": args["target"]}, format="json")
"""),
    "csv_choice_make_struct_project": (["source", "target", "target2"], """
src = glueContext.create_dynamic_frame.from_options("s3", {"paths": [args["source"]]}, format="csv",
                                                    format_options={"withHeader": True})
as_struct = ResolveChoice.apply(frame=src, specs=[("price", "make_struct")])
glueContext.write_dynamic_frame.from_options(frame=as_struct, connection_type="s3",
    connection_options={"path": args["target"]}, format="json")
text_only = src.resolveChoice(specs=[("price", "project:string")])
glueContext.write_dynamic_frame.from_options(frame=text_only, connection_type="s3",
    connection_options={"path": args["target2"]}, format="json")
"""),
    # nested JSON -> Relationalize -> one parquet folder per table
    "json_relationalize": (["source", "target"], """
persons = glueContext.create_dynamic_frame.from_options(connection_type="s3",
    connection_options={"paths": [args["source"]], "recurse": True}, format="json")
dfc = Relationalize.apply(frame=persons, staging_path="/tmp/unused", name="hist_root", transformation_ctx="rel")
for df_name in sorted(dfc.keys()):
    print("table", df_name, dfc.select(df_name).count())
    glueContext.write_dynamic_frame.from_options(frame=dfc.select(df_name), connection_type="s3",
        connection_options={"path": args["target"] + "/" + df_name}, format="parquet")
"""),
    # Join of two catalog tables -> a new catalog table (created, partitioned) through the catalog sink
    "join_catalog_tables": ([], """
persons = glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="persons")
memberships = glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="memberships")
history = Join.apply(persons, memberships, "id", "person_id").drop_fields(["person_id"])
history = history.rename_field("name", "person")
glueContext.write_dynamic_frame.from_catalog(frame=history, database="mart", table_name="history",
    additional_options={"enableUpdateCatalog": True, "partitionKeys": ["org"]})
"""),
    # Filter and Map: a record whose function raises is an error record, not a failed run
    "filter_map_errors": (["target"], """
src = glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="events")
flat = ApplyMapping.apply(frame=src, mappings=[("user.id", "string", "uid", "string"), ("amount", "long", "amount", "long")])
big = Filter.apply(frame=flat, f=lambda r: r["amount"] >= 0)
def per_unit(rec):
    rec["per_unit"] = 100 // rec["amount"]
    rec["tag"] = rec["uid"].upper()
    return rec
mapped = Map.apply(frame=big, f=per_unit, transformation_ctx="mapped")
print("map errors:", mapped.stageErrorsCount(), "total:", mapped.errorsCount())
glueContext.write_dynamic_frame.from_options(frame=mapped, connection_type="s3",
    connection_options={"path": args["target"]}, format="json")
"""),
    # SelectFields, RenameField (nested), UnnestFrame -> CSV with a header
    "select_rename_unnest_csv": (["target"], """
src = glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="events")
picked = SelectFields.apply(frame=src, paths=["user.id", "amount", "dt"])
renamed = RenameField.apply(frame=picked, old_name="user.id", new_name="user.uid")
flat = UnnestFrame.apply(frame=renamed)
out = DropFields.apply(frame=flat, paths=["dt"]).coalesce(1)
glueContext.write_dynamic_frame.from_options(frame=out, connection_type="s3",
    connection_options={"path": args["target"]}, format="csv", format_options={"writeHeader": True})
"""),
    # SplitRows and SplitFields
    "split_rows_fields": (["target"], """
src = ApplyMapping.apply(frame=glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="events"),
    mappings=[("user.id", "string", "uid", "string"), ("amount", "long", "amount", "long"), ("dt", "string", "dt", "string")])
rows = SplitRows.apply(frame=src, comparison_dict={"amount": {">": 5}}, name1="big", name2="small")
for name in ("big", "small"):
    parts = SplitFields.apply(frame=rows[name], paths=["uid", "amount"], name1="keep", name2="rest")
    glueContext.write_dynamic_frame.from_options(frame=parts["keep"], connection_type="s3",
        connection_options={"path": args["target"] + "/" + name}, format="json")
    print(name, "rest fields:", parts["rest"].toDF().columns)
"""),
    # a JSON text field unboxed into a struct, then unnested
    "unbox_unnest": (["source", "target"], """
src = glueContext.create_dynamic_frame.from_options("s3", {"paths": [args["source"]]}, format="csv",
                                                    format_options={"withHeader": True, "separator": "|"})
boxed = Unbox.apply(frame=src, path="payload", format="json")
flat = UnnestFrame.apply(frame=boxed)
glueContext.write_dynamic_frame.from_options(frame=flat, connection_type="s3",
    connection_options={"path": args["target"]}, format="json")
"""),
    # Union of a CSV and a JSON source, DropNullFields, one output file
    "union_dropnull": (["source", "source2", "target"], """
a = glueContext.create_dynamic_frame.from_options("s3", {"paths": [args["source"]]}, format="json")
b = glueContext.create_dynamic_frame.from_options("s3", {"paths": [args["source2"]]}, format="json")
both = Union.apply(frame1=a, frame2=b)
clean = DropNullFields.apply(frame=both).coalesce(1)
print("union count:", clean.count(), "partitions:", clean.getNumPartitions())
glueContext.write_dynamic_frame.from_options(frame=clean, connection_type="s3",
    connection_options={"path": args["target"]}, format="parquet")
"""),
    # getSink with catalog updates: the table is created, then a new partition and a new column are added
    "sink_update_catalog": (["target"], """
src = ApplyMapping.apply(frame=glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="events"),
    mappings=[("user.id", "string", "uid", "string"), ("amount", "long", "amount", "long"), ("dt", "string", "dt", "string")])
sink = glueContext.getSink(connection_type="s3", path=args["target"], enableUpdateCatalog=True,
                           updateBehavior="UPDATE_IN_DATABASE", partitionKeys=["dt"])
sink.setFormat("glueparquet")
sink.setCatalogInfo(catalogDatabase="mart", catalogTableName="sunk")
sink.writeFrame(src.filter(lambda r: r["dt"] == "2024-05-01"))
later = DynamicFrame.fromDF(src.toDF().where("dt = '2024-05-02'").selectExpr("*", "'late' AS note"), glueContext, "later")
sink.writeFrame(later)
"""),
    # purge_table: the table's files go, the table stays
    "purge_table": ([], """
src = SelectFields.apply(frame=glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="persons"),
                         paths=["id", "name"])
glueContext.write_dynamic_frame.from_catalog(frame=src, database="mart", table_name="scratch",
                                             additional_options={"enableUpdateCatalog": True})
print("scratch before purge:", glueContext.create_dynamic_frame.from_catalog(database="mart", table_name="scratch").count())
glueContext.purge_table(database="mart", table_name="scratch", options={"retentionPeriod": 0})
print("scratch after purge:", glueContext.create_dynamic_frame.from_catalog(database="mart", table_name="scratch").count())
"""),
    # parquet files whose column types differ: a choice, resolved into a column per type
    "parquet_choice_make_cols": (["source", "target"], """
src = glueContext.create_dynamic_frame.from_options("s3", {"paths": [args["source"]]}, format="parquet")
src.printSchema()
cols = src.resolveChoice(choice="make_cols")
glueContext.write_dynamic_frame.from_options(frame=cols, connection_type="s3",
    connection_options={"path": args["target"]}, format="json")
"""),
    # DataFrame round trip: create_data_frame, fromDF, Spark SQL in between, spigot sample
    "dataframe_roundtrip_spigot": (["target", "sample"], """
df = glueContext.create_data_frame.from_catalog(database="raw", table_name="events")
df.createOrReplaceTempView("events")
totals = spark.sql("SELECT user.id AS uid, sum(amount) AS total FROM events GROUP BY user.id")
frame = DynamicFrame.fromDF(totals, glueContext, "totals").spigot(args["sample"], {"topk": 1})
glueContext.write_dynamic_frame.from_options(frame=frame.repartition(1), connection_type="s3",
    connection_options={"path": args["target"]}, format="json")
glueContext.get_logger().info("totals written")
"""),
}

# Bookmarks: a partitioned catalog table and a folder of files, both with a transformation_ctx
BOOKMARKED = script(["target", "files", "fail"], """
src = glueContext.create_dynamic_frame.from_catalog(database="raw", table_name="daily", transformation_ctx="src")
print("days:", ",".join(sorted({r["dt"] for r in src.toDF().select("dt").collect()})))
files = glueContext.create_dynamic_frame.from_options("s3", {"paths": [args["files"]]}, format="json",
                                                      transformation_ctx="files")
print("file ids:", ",".join(str(r["id"]) for r in files.toDF().orderBy("id").collect()))
glueContext.write_dynamic_frame.from_options(frame=src, connection_type="s3",
    connection_options={"path": args["target"], "partitionKeys": ["dt"]}, format="json")
""").replace("job.commit()\n", 'job.commit()\nif args["fail"] == "yes":\n    raise RuntimeError("failing after commit")\n')

MISSING_OPTION = script(["target"], "print('not reached')\n")

# JDBC (PostgreSQL through a Mortar connection) -> catalog table, and back to another PostgreSQL table
JDBC = script([], """
orders = glueContext.create_dynamic_frame.from_options(connection_type="postgresql", connection_options={
    "useConnectionProperties": "true", "connectionName": "shop", "dbtable": "public.orders"})
mapped = ApplyMapping.apply(frame=orders, mappings=[("id", "int", "order_id", "long"), ("customer", "string", "customer", "string"),
                                                    ("total", "decimal", "total", "double")])
glueContext.write_dynamic_frame.from_catalog(frame=mapped, database="mart", table_name="orders",
                                             additional_options={"enableUpdateCatalog": True})
glueContext.write_dynamic_frame.from_jdbc_conf(frame=mapped.filter(lambda r: r["total"] > 10), catalog_connection="shop",
                                               connection_options={"dbtable": "public.big_orders"})
print("orders copied:", mapped.count())
""")

# Runs several corpus scripts in one job run, each unchanged with its own arguments (one warm driver for many)
BATCH = """
import json, runpy, sys

manifest = json.loads(open(sys.argv[sys.argv.index("--MANIFEST") + 1]).read())
base = [a for a in sys.argv[1:]]
for item in manifest:
    sys.argv = [item["path"], *base, *item["args"]]
    print("== script", item["name"], flush=True)
    runpy.run_path(item["path"], run_name="__main__")
    print("== done", item["name"], flush=True)
"""
