"""GlueContext: Glue's entry point for reading and writing DynamicFrames, on the run's SparkSession.

Sources: catalog tables (through the metastore, with the run's credential), paths (local or any file
system Spark and fsspec have: s3:// is read as s3a://) in csv, json, parquet, orc (avro when Spark has the
spark-avro package), and JDBC databases (postgresql, mysql, sqlserver, oracle) by URL or through a Mortar
connection the job lists (`connectionName`, with `useConnectionProperties`).
"""

from __future__ import annotations

import sys

from awsglue import _bookmarks as B
from awsglue import _io
from awsglue.dynamicframe import DynamicFrame

JDBC_TYPES = ("postgresql", "mysql", "sqlserver", "oracle", "redshift", "jdbc")


class GlueLogger:
    """Glue's job logger: lines to the run's log."""

    def _log(self, level: str, msg) -> None:
        print(f"{level} GlueLogger: {msg}", file=sys.stderr, flush=True)

    def info(self, msg) -> None:
        self._log("INFO", msg)

    def warn(self, msg) -> None:
        self._log("WARN", msg)

    warning = warn

    def error(self, msg) -> None:
        self._log("ERROR", msg)

    def debug(self, msg) -> None:
        self._log("DEBUG", msg)


class GlueContext:
    """Wraps the run's SparkContext/SparkSession: `create_dynamic_frame`, `create_data_frame`,
    `write_dynamic_frame`, `getSink`, `purge_table`, `get_logger`, `spark_session`."""

    def __init__(self, sparkContext=None, **options):  # noqa: N803
        from pyspark.sql import SparkSession

        from runner.jobs import context as mortar_job

        self.spark_session = mortar_job._session or SparkSession.builder.getOrCreate()
        self._sc = sparkContext or self.spark_session.sparkContext
        self._pending: dict[str, list] = {}  # bookmark entries read in this run, by source key
        self.create_dynamic_frame = _DynamicFrameReader(self)
        self.create_data_frame = _DataFrameReader(self)
        self.write_dynamic_frame = _DynamicFrameWriter(self)
        self.write_from_options = self.write_dynamic_frame.from_options

    @property
    def sparkContext(self):  # noqa: N802
        return self._sc

    def get_logger(self) -> GlueLogger:
        return GlueLogger()

    # --- reading ---------------------------------------------------------------------------------------

    def create_dynamic_frame_from_catalog(self, database: str, table_name: str, redshift_tmp_dir: str = "",
                                          transformation_ctx: str = "", push_down_predicate: str = "",
                                          additional_options: dict | None = None, catalog_id=None, **kw) -> DynamicFrame:
        df = self._catalog_df(database, table_name, transformation_ctx, push_down_predicate, additional_options or {})
        return DynamicFrame(df, self, transformation_ctx or f"{database}.{table_name}")

    def create_dynamic_frame_from_options(self, connection_type: str, connection_options: dict | None = None,
                                          format: str | None = None, format_options: dict | None = None,  # noqa: A002
                                          transformation_ctx: str = "", **kw) -> DynamicFrame:
        options = dict(connection_options or {})
        ctype = connection_type.lower()
        if ctype in JDBC_TYPES:
            return DynamicFrame(_io.read_jdbc(self.spark_session, ctype, options), self, transformation_ctx)
        if ctype not in ("s3", "file", "hdfs", "local"):
            raise ValueError(f"connection_type {connection_type!r} is not supported (s3, file, {', '.join(JDBC_TYPES)})")
        paths = options.get("paths") or ([options["path"]] if options.get("path") else [])
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError("create_dynamic_frame.from_options: connection_options needs paths")
        files = None
        if B.active(transformation_ctx):
            key = B.source_key(",".join(paths), transformation_ctx)
            every = B.files_under(paths, bool(options.get("recurse", True)))
            done = B.done(key)
            from metastore.catalog.jobs import bookmark_key

            files = [f for f in every if bookmark_key(f) not in done]
            self._pending[key] = files
        df, errors = _io.read_files(self.spark_session, paths, (format or "json").lower(), format_options or {},
                                    files, options)  # fmt: skip
        return DynamicFrame(df, self, transformation_ctx, stage_errors=errors)

    def _catalog_df(self, database: str, table_name: str, ctx: str, predicate: str, options: dict):
        from pyspark.sql import functions as F

        from runner.jobs.context import _catalog

        spark = self.spark_session
        df = spark.table(f"`{database}`.`{table_name}`")
        predicate = predicate or options.get("catalogPartitionPredicate") or ""
        if predicate:
            df = df.where(predicate)
        if not B.active(ctx):
            return df
        key = B.source_key(f"{database}.{table_name}".lower(), ctx)
        table = _catalog().table(database, table_name)
        done = B.done(key)
        if table.partitionKeys:
            names = [n for n in _catalog().partition_names(database, table_name) if n not in done]
            self._pending[key] = names
            return df.where(_io.partition_filter(names))
        from metastore.catalog.jobs import bookmark_key
        from runner.jobs.context import table_files

        files = [f for f in table_files(f"{database}.{table_name}") if bookmark_key(f) not in done]
        self._pending[key] = files
        if not files:
            return df.where(F.lit(False))
        return df.where(_io.source_file().isin([f["path"] for f in files]))

    # --- writing ---------------------------------------------------------------------------------------

    def write_dynamic_frame_from_options(self, frame: DynamicFrame, connection_type: str = "s3",
                                         connection_options: dict | None = None, format: str | None = None,  # noqa: A002
                                         format_options: dict | None = None, transformation_ctx: str = "", **kw) -> DynamicFrame:
        options = dict(connection_options or {})
        ctype = connection_type.lower()
        if ctype in JDBC_TYPES:
            _io.write_jdbc(frame.toDF(), ctype, options)
            return frame
        if ctype not in ("s3", "file", "hdfs", "local"):
            raise ValueError(f"connection_type {connection_type!r} is not supported (s3, file, {', '.join(JDBC_TYPES)})")
        if not options.get("path"):
            raise ValueError("write_dynamic_frame.from_options: connection_options needs a path")
        _io.write_files(frame.toDF(), options["path"], (format or "json").lower(), format_options or {},
                        list(options.get("partitionKeys") or []), options.get("compression"))  # fmt: skip
        return frame

    def write_dynamic_frame_from_catalog(self, frame: DynamicFrame, database: str, table_name: str,
                                         redshift_tmp_dir: str = "", transformation_ctx: str = "",
                                         additional_options: dict | None = None, catalog_id=None, **kw) -> DynamicFrame:
        _io.write_catalog(self.spark_session, frame.toDF(), database, table_name, dict(additional_options or {}))
        return frame

    def write_dynamic_frame_from_jdbc_conf(self, frame: DynamicFrame, catalog_connection: str,
                                           connection_options: dict | None = None, redshift_tmp_dir: str = "",
                                           transformation_ctx: str = "", catalog_id=None) -> DynamicFrame:
        options = {**(connection_options or {}), "connectionName": catalog_connection, "useConnectionProperties": "true"}
        _io.write_jdbc(frame.toDF(), "jdbc", options)
        return frame

    def getSink(self, connection_type: str = "s3", format: str | None = None, transformation_ctx: str = "",  # noqa: N802, A002
                **options) -> DataSink:
        return DataSink(self, connection_type, format, options)

    def purge_table(self, database: str, table_name: str, options: dict | None = None,
                    transformation_ctx: str = "", catalog_id=None) -> None:
        """Delete the data files of a catalog table (the table and its partitions stay). Options:
        retentionPeriod (hours; files newer are kept; default 168, as Glue), partitionPredicate,
        excludeStorageClasses (ignored)."""
        _io.purge_table(self.spark_session, database, table_name, dict(options or {}))

    def purge_s3_path(self, s3_path: str, options: dict | None = None, transformation_ctx: str = "") -> None:
        _io.purge_path(s3_path, dict(options or {}))

    def extract_jdbc_conf(self, connection_name: str, catalog_id=None) -> dict:
        """The connection's url, user, password (Glue's keys: url, user, password, vendor)."""
        from runner.jobs.context import jdbc_options

        o = jdbc_options(connection_name)
        return {"url": o["url"], "user": o.get("user"), "password": o.get("password"),
                "vendor": o["url"].split(":")[1] if o["url"].startswith("jdbc:") else None}  # fmt: skip


class _DynamicFrameReader:
    def __init__(self, ctx: GlueContext):
        self._ctx = ctx

    def from_catalog(self, database: str | None = None, table_name: str | None = None, **kw) -> DynamicFrame:
        database = database or kw.pop("name_space", None)
        table_name = table_name or kw.pop("table_name", None)
        if not database or not table_name:
            raise ValueError("create_dynamic_frame.from_catalog needs database and table_name")
        return self._ctx.create_dynamic_frame_from_catalog(database, table_name, **kw)

    def from_options(self, connection_type: str = "s3", connection_options: dict | None = None,
                     format: str | None = None, format_options: dict | None = None,  # noqa: A002
                     transformation_ctx: str = "", **kw) -> DynamicFrame:
        return self._ctx.create_dynamic_frame_from_options(connection_type, connection_options, format,
                                                           format_options, transformation_ctx, **kw)  # fmt: skip


class _DataFrameReader:
    def __init__(self, ctx: GlueContext):
        self._ctx = ctx

    def from_catalog(self, database: str, table_name: str, transformation_ctx: str = "",
                     push_down_predicate: str = "", additional_options: dict | None = None, **kw):
        return self._ctx._catalog_df(database, table_name, transformation_ctx, push_down_predicate,
                                     additional_options or {})  # fmt: skip

    def from_options(self, connection_type: str = "s3", connection_options: dict | None = None,
                     format: str | None = None, format_options: dict | None = None,  # noqa: A002
                     transformation_ctx: str = "", **kw):
        return self._ctx.create_dynamic_frame_from_options(connection_type, connection_options, format,
                                                           format_options, transformation_ctx).toDF()  # fmt: skip


class _DynamicFrameWriter:
    def __init__(self, ctx: GlueContext):
        self._ctx = ctx

    def from_options(self, frame: DynamicFrame, connection_type: str = "s3", connection_options: dict | None = None,
                     format: str | None = None, format_options: dict | None = None,  # noqa: A002
                     transformation_ctx: str = "", **kw) -> DynamicFrame:
        return self._ctx.write_dynamic_frame_from_options(frame, connection_type, connection_options, format,
                                                          format_options, transformation_ctx)  # fmt: skip

    def from_catalog(self, frame: DynamicFrame, database: str | None = None, table_name: str | None = None,
                     **kw) -> DynamicFrame:
        database = database or kw.pop("name_space", None)
        return self._ctx.write_dynamic_frame_from_catalog(frame, database, table_name, **kw)

    def from_jdbc_conf(self, frame: DynamicFrame, catalog_connection: str, connection_options: dict | None = None,
                       **kw) -> DynamicFrame:
        return self._ctx.write_dynamic_frame_from_jdbc_conf(frame, catalog_connection, connection_options, **kw)


class DataSink:
    """What getSink returns: files under `path`, optionally registered in the catalog (setCatalogInfo with
    enableUpdateCatalog: the table is created on the first write, new partitions and, with
    updateBehavior UPDATE_IN_DATABASE (the default), new columns are added)."""

    def __init__(self, ctx: GlueContext, connection_type: str, fmt: str | None, options: dict):
        self._ctx = ctx
        self._type = connection_type
        self._format = fmt or "json"
        self._format_options: dict = {}
        self._options = options
        self._catalog: tuple[str, str] | None = None

    def setFormat(self, format: str, **options) -> None:  # noqa: N802, A002
        self._format = format
        self._format_options = options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId=None) -> None:  # noqa: N802, N803
        self._catalog = (catalogDatabase, catalogTableName)

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:  # noqa: N802
        options = self._options
        keys = list(options.get("partitionKeys") or [])
        update = str(options.get("enableUpdateCatalog", False)).lower() == "true"
        if self._catalog and update:
            _io.write_sink_table(self._ctx.spark_session, dynamic_frame.toDF(), options["path"], self._format,
                                 self._catalog, keys, options.get("updateBehavior", "UPDATE_IN_DATABASE"))  # fmt: skip
            return dynamic_frame
        return self._ctx.write_dynamic_frame_from_options(dynamic_frame, self._type, options, self._format,
                                                          self._format_options)  # fmt: skip

    write = writeFrame
