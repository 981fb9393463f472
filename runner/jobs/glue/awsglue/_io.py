"""Reading and writing for GlueContext: files, catalog tables, JDBC."""

from __future__ import annotations

import time
from functools import reduce

from awsglue import types as T

_CORRUPT = "_corrupt_record"
_FORMATS = {"csv", "json", "parquet", "orc", "avro", "text"}


def spark_path(path: str) -> str:
    return "s3a://" + path[5:] if path.startswith("s3://") else path


def source_file():
    """The file a row came from, without scheme (as fsspec names it)."""
    from pyspark.sql import functions as F

    uri = F.input_file_name()
    if hasattr(F, "url_decode"):
        uri = F.when(uri.contains("%"), F.url_decode(uri)).otherwise(uri)
    return F.regexp_replace(uri, r"^[A-Za-z][A-Za-z0-9+.-]*:(//)?", "")


def partition_filter(names: list[str]):
    """A condition true for rows of the partitions `names` (k=v/k2=v2), false when there are none."""
    from pyspark.sql import functions as F

    from metastore.catalog.names import unescape_path_name

    if not names:
        return F.lit(False)
    conds = []
    for p in names:
        values = [tuple(unescape_path_name(x) for x in kv.split("=", 1)) for kv in p.split("/")]
        conds.append(reduce(lambda a, b: a & b, [F.col(T.quote(k)) == F.lit(v) for k, v in values]))
    return reduce(lambda a, b: a | b, conds)


# --- files ------------------------------------------------------------------------------------------------


def read_files(spark, paths: list[str], fmt: str, fopts: dict, files: list[dict] | None, copts: dict):
    """(DataFrame, [error DataFrames]) of the files under `paths` (only `files` when bookmarked)."""
    from pyspark.sql import functions as F

    if fmt not in _FORMATS:
        raise ValueError(f"format {fmt!r} is not supported ({', '.join(sorted(_FORMATS))})")
    targets = [spark_path(p) for p in paths]
    base = {}
    if files is not None:
        if not files:  # nothing new: the sources' schema, no rows
            df, _ = read_files(spark, paths, fmt, fopts, None, copts)
            return df.where(F.lit(False)), []
        if len(paths) == 1:
            base = {"basePath": targets[0]}
        prefix = paths[0].split("://", 1)[0] + "://" if "://" in paths[0] else ""
        targets = [spark_path(f["path"] if "://" in f["path"] or not prefix else prefix + f["path"]) for f in files]
    recurse = {"recursiveFileLookup": "true"} if copts.get("recurse") and not base and fmt != "csv" else {}
    if fmt == "csv":
        return _read_csv(spark, targets, fopts, base)
    if fmt == "json":
        reader = spark.read.options(**base, **recurse, mode="PERMISSIVE", columnNameOfCorruptRecord=_CORRUPT)
        if str(fopts.get("multiline", fopts.get("multiLine", False))).lower() == "true":
            reader = reader.option("multiLine", "true")
        df = reader.json(targets)
        return _split_corrupt(df)
    if fmt == "parquet":
        if _types_conflict(targets):
            return _read_with_choices(spark, targets, "parquet", base), []
        try:
            return spark.read.options(**base, **recurse, mergeSchema="true").parquet(*targets), []
        except Exception as e:  # noqa: BLE001 - files whose types conflict: read one by one, choices
            if "merge" not in str(e).lower() and "incompatible" not in str(e).lower():
                raise
            return _read_with_choices(spark, targets, "parquet", base), []
    if fmt == "text":
        return spark.read.options(**base, **recurse).text(targets), []
    try:
        return spark.read.options(**base, **recurse).format(fmt).load(targets), []
    except Exception as e:
        if fmt == "avro" and "avro" in str(e).lower():
            raise RuntimeError("format avro needs Spark's spark-avro package, which this Spark does not have: add "
                               "it with the job's spark.jars.packages, or use parquet/orc/json/csv") from None
        raise


def _split_corrupt(df):
    """(the well-formed rows, [the malformed ones as error records])."""
    from pyspark.sql import functions as F

    if _CORRUPT not in df.columns:
        return df, []
    df = df.cache()  # Spark reads the corrupt-record column only from a cached (or fully read) source
    others = [T.quote(c) for c in df.columns if c != _CORRUPT]
    good = df.where(F.col(_CORRUPT).isNull()).select(*others)
    bad = df.where(F.col(_CORRUPT).isNotNull()).select(
        F.lit("malformed record").alias("error"), F.col(_CORRUPT).alias("record"))  # fmt: skip
    return good, [bad]


def _read_csv(spark, targets: list[str], fopts: dict, base: dict):
    """CSV with Glue's options (withHeader, separator, quoteChar, escaper, multiLine, skipFirst); each
    column's type is inferred from all its values: numbers (int, long, double) when all are, a choice
    (struct of per-type fields) when numbers and other strings mix, string otherwise."""
    from pyspark.sql import functions as F

    header = str(fopts.get("withHeader", False)).lower() == "true"
    options = {"header": str(header).lower(), "sep": fopts.get("separator", ","), "quote": fopts.get("quoteChar", '"'),
               "escape": fopts.get("escaper", "\\"), "multiLine": str(fopts.get("multiLine", False)).lower(),
               "mode": "PERMISSIVE", **base}  # fmt: skip
    raw = spark.read.options(**options).csv(targets)  # every column a string
    names = raw.columns
    schema = "".join(f"{T.quote(n)} string, " for n in names) + f"{_CORRUPT} string"
    df = spark.read.options(**options, columnNameOfCorruptRecord=_CORRUPT).schema(schema).csv(targets)
    df, errors = _split_corrupt(df)
    if str(fopts.get("skipFirst", False)).lower() == "true":
        df = df.rdd.zipWithIndex().filter(lambda t: t[1] > 0).map(lambda t: t[0]).toDF(df.schema)
    partition_cols = [c for c in df.columns if c not in names]  # from basePath folders k=v
    kinds = {}
    if names:
        aggs = []
        for i, n in enumerate(names):
            c = F.trim(F.col(T.quote(n)))
            present = c.isNotNull() & (c != "")
            aggs += [F.max(F.when(present & ~c.rlike(T.INT_PATTERN), 1).otherwise(0)).alias(f"{i}_notint"),
                     F.max(F.when(present & ~c.rlike(T.LONG_PATTERN), 1).otherwise(0)).alias(f"{i}_notlong"),
                     F.max(F.when(present & c.rlike(T.DOUBLE_PATTERN), 1).otherwise(0)).alias(f"{i}_num"),
                     F.max(F.when(present & ~c.rlike(T.DOUBLE_PATTERN), 1).otherwise(0)).alias(f"{i}_text")]  # fmt: skip
        stats = df.select(*aggs).first()
        for i, n in enumerate(names):
            num = "int" if not stats[f"{i}_notint"] else "long" if not stats[f"{i}_notlong"] else "double"
            if not stats[f"{i}_num"]:
                kinds[n] = "string"
            elif not stats[f"{i}_text"]:
                kinds[n] = num
            else:
                kinds[n] = ("choice", num if stats[f"{i}_num"] else None)
    cols = []
    for n in names:
        c = F.col(T.quote(n))
        kind = kinds[n]
        if kind == "string":
            cols.append(c)
        elif isinstance(kind, str):
            cols.append(F.when(F.trim(c) != "", F.trim(c)).try_cast(T.spark_type(kind)).alias(n))
        else:
            num = kind[1]
            is_num = F.trim(c).rlike(T.DOUBLE_PATTERN)
            value = F.struct(F.when(is_num, F.trim(c)).try_cast(T.spark_type(num)).alias(num),
                             F.when(~is_num, c).alias("string"))  # fmt: skip
            cols.append(T.as_choice(F.when(c.isNotNull(), value), n))
    return df.select(*cols, *[T.quote(c) for c in partition_cols]), errors


def _data_files(targets: list[str]) -> list[str]:
    """The data files under `targets` (files or folders; hidden ones left out), with their schemes."""
    from fsspec.core import url_to_fs

    out = []
    for t in targets:
        fs, root = url_to_fs(t.replace("s3a://", "s3://"))
        found = [root] if fs.isfile(root) else sorted(p for p in fs.find(root) if not any(
            x[:1] in "._" for x in p[len(root):].split("/") if x))  # fmt: skip
        proto = t.split("://", 1)[0] + "://" if "://" in t else ""
        out += [p if not proto or p.startswith(proto) else proto + p for p in found]
    return out


def _types_conflict(targets: list[str], limit: int = 200) -> bool:
    """Whether parquet files under `targets` disagree on a top-level column's type (footers read with
    pyarrow, at most `limit` files; False when that cannot be told: Spark's merge decides then)."""
    try:
        import pyarrow.parquet as pq
        from fsspec.core import url_to_fs

        files = _data_files(targets)
        if len(files) < 2 or len(files) > limit:
            return False
        seen: dict[str, str] = {}
        for f in files:
            fs, path = url_to_fs(f.replace("s3a://", "s3://"))
            with fs.open(path, "rb") as fh:
                for field in pq.read_schema(fh):
                    kind = _arrow_kind(field.type)
                    if seen.setdefault(field.name, kind) != kind:
                        return True
    except Exception:  # noqa: BLE001 - undecided: Spark's own merge says
        return False
    return False


def _arrow_kind(arrow_type) -> str:
    import pyarrow.types as pt

    if pt.is_integer(arrow_type):
        return "integral"
    if pt.is_floating(arrow_type) or pt.is_decimal(arrow_type):
        return "fractional"
    return str(arrow_type)


def _read_with_choices(spark, targets: list[str], fmt: str, base: dict):
    """Files read one by one and unioned by name; a column whose type differs between files becomes a
    choice (integral types widen to long, numbers to double first)."""
    from pyspark.sql import functions as F

    fs_paths = _data_files(targets)
    dfs = [spark.read.options(**base).format(fmt).load(p) for p in fs_paths]
    types: dict[str, set[str]] = {}
    order: list[str] = []
    for df in dfs:
        for f in df.schema.fields:
            if f.name not in types:
                order.append(f.name)
            types.setdefault(f.name, set()).add(_widened(f.dataType))
    out = []
    for df in dfs:
        cols = []
        have = {f.name: f for f in df.schema.fields}
        for n in order:
            kinds = sorted(types[n])
            if len(kinds) == 1:
                cols.append((F.col(T.quote(n)) if n in have else F.lit(None)).try_cast(kinds[0]).alias(n))
                continue
            mine = _widened(have[n].dataType) if n in have else None
            fields = [(F.col(T.quote(n)).try_cast(k) if k == mine else F.lit(None).try_cast(k)).alias(T.glue_type(_parse(k)))
                      for k in kinds]  # fmt: skip
            cols.append(T.as_choice(F.struct(*fields), n))
        out.append(df.select(*cols))
    return reduce(lambda a, b: a.unionByName(b), out)


def _parse(simple: str):
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(simple)


def _widened(dtype) -> str:
    from pyspark.sql.types import ByteType, DoubleType, FloatType, IntegerType, LongType, ShortType

    if isinstance(dtype, ByteType | ShortType | IntegerType | LongType):
        return "bigint"
    if isinstance(dtype, FloatType | DoubleType):
        return "double"
    return dtype.simpleString()


def write_files(df, path: str, fmt: str, fopts: dict, keys: list[str], compression: str | None) -> None:
    if fmt not in _FORMATS:
        raise ValueError(f"format {fmt!r} is not supported ({', '.join(sorted(_FORMATS))})")
    choices = T.choice_columns(df.schema)
    if choices and fmt == "csv":
        raise ValueError(f"column(s) {', '.join(choices)} are choices: resolve them (resolveChoice) before writing csv")
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise ValueError(f"partitionKeys {', '.join(missing)} are not fields of the frame ({', '.join(df.columns)})")
    writer = df.write.mode("append")
    if keys:
        writer = writer.partitionBy(*keys)
    if compression:
        writer = writer.option("compression", compression)
    if fmt == "csv":
        writer = writer.options(header=str(fopts.get("writeHeader", True)).lower(), sep=fopts.get("separator", ","),
                                quote=fopts.get("quoteChar", '"'))  # fmt: skip
    writer.format(fmt).save(spark_path(path))


# --- catalog ------------------------------------------------------------------------------------------------


def _exists(spark, db: str, table: str) -> bool:
    return spark.catalog.tableExists(f"{T.quote(db)}.{T.quote(table)}")


def _add_columns(spark, df, name: str, behavior: str) -> None:
    """With UPDATE_IN_DATABASE, columns of `df` the table lacks are added to it."""
    if behavior.upper() == "LOG":
        return
    have = {f.name.lower() for f in spark.table(name).schema.fields}
    new = [f for f in df.schema.fields if f.name.lower() not in have]
    if new:
        spec = ", ".join(f"{T.quote(f.name)} {f.dataType.simpleString()}" for f in new)
        spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({spec})")


def write_catalog(spark, df, db: str, table: str, options: dict) -> None:
    """Append `df` to catalog table db.table, by column name (a column the frame lacks is null). With
    enableUpdateCatalog, a missing table is created (parquet, or options["format"], partitioned by
    partitionKeys) and new columns are added unless updateBehavior is LOG."""
    from pyspark.sql import functions as F

    name = f"{T.quote(db)}.{T.quote(table)}"
    update = str(options.get("enableUpdateCatalog", False)).lower() == "true"
    keys = list(options.get("partitionKeys") or [])
    spark.conf.set("hive.exec.dynamic.partition.mode", "nonstrict")
    if not _exists(spark, db, table):
        if not update:
            raise ValueError(f"table {db}.{table} does not exist (write with additional_options "
                             "enableUpdateCatalog=True to create it)")  # fmt: skip
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {T.quote(db)}")
        writer = df.write.mode("append").format(options.get("format", "parquet"))
        if keys:
            writer = writer.partitionBy(*keys)
        writer.saveAsTable(name)
        return
    if update:
        _add_columns(spark, df, name, options.get("updateBehavior", "UPDATE_IN_DATABASE"))
    target = spark.table(name).schema
    have = {c.lower(): c for c in df.columns}
    cols = [(F.col(T.quote(have[f.name.lower()])) if f.name.lower() in have else F.lit(None)).try_cast(f.dataType).alias(f.name)
            for f in target.fields]  # fmt: skip
    df.select(*cols).write.insertInto(name)


def write_sink_table(spark, df, path: str, fmt: str, catalog: tuple[str, str], keys: list[str], behavior: str) -> None:
    """Files under `path`, and catalog table `catalog` over them: created on the first write, then new
    partitions (and, unless `behavior` is LOG, new columns) added."""
    db, table = catalog
    name = f"{T.quote(db)}.{T.quote(table)}"
    fmt = {"glueparquet": "parquet"}.get(fmt.lower(), fmt.lower())
    if not _exists(spark, db, table):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {T.quote(db)}")
        writer = df.write.mode("append").format(fmt).option("path", spark_path(path))
        if keys:
            writer = writer.partitionBy(*keys)
        writer.saveAsTable(name)
        return
    _add_columns(spark, df, name, behavior)
    write_files(df, path, fmt, {}, keys, None)
    if keys:
        spark.sql(f"ALTER TABLE {name} RECOVER PARTITIONS")
    spark.catalog.refreshTable(name)


def purge_table(spark, db: str, table: str, options: dict) -> None:
    from fsspec.core import url_to_fs

    name = f"{T.quote(db)}.{T.quote(table)}"
    location = next(r[1] for r in spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect() if r[0] == "Location")
    roots = [location]
    keys = [c.name for c in spark.catalog.listColumns(f"{db}.{table}") if c.isPartition]
    predicate = options.get("partitionPredicate")
    if predicate and keys:
        names = [r[0] for r in spark.sql(f"SHOW PARTITIONS {name}").collect()]
        rows = [dict(kv.split("=", 1) for kv in n.split("/")) | {"__n": n} for n in names]
        chosen = [r["__n"] for r in spark.createDataFrame(rows).where(predicate).collect()] if rows else []
        roots = [location.rstrip("/") + "/" + n for n in chosen]
    hours = float(options.get("retentionPeriod", 168))
    for root in roots:
        _purge(url_to_fs(root), hours)
    spark.catalog.refreshTable(name)


def purge_path(path: str, options: dict) -> None:
    from fsspec.core import url_to_fs

    _purge(url_to_fs(path), float(options.get("retentionPeriod", 168)))


def _purge(fs_root, hours: float) -> None:
    fs, root = fs_root
    if not fs.exists(root):
        return
    cutoff = time.time() - hours * 3600
    for path, info in fs.find(root, detail=True).items():
        mtime = info.get("mtime", info.get("LastModified", 0))
        if hasattr(mtime, "timestamp"):
            mtime = mtime.timestamp()
        if info.get("type") == "file" and mtime <= cutoff:
            fs.rm(path)


# --- JDBC ------------------------------------------------------------------------------------------------


_DRIVERS = {"postgresql": "org.postgresql.Driver", "mysql": "com.mysql.cj.jdbc.Driver",
            "mariadb": "org.mariadb.jdbc.Driver", "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
            "oracle": "oracle.jdbc.OracleDriver", "redshift": "com.amazon.redshift.jdbc42.Driver"}  # fmt: skip


def jdbc_options(ctype: str, options: dict) -> dict:
    """Spark JDBC options from Glue's connection_options: url/user/password, or connectionName (a Mortar
    connection the job lists) with useConnectionProperties; dbtable or query."""
    out: dict = {}
    name = options.get("connectionName")
    if name:
        from runner.jobs.context import jdbc_options as from_connection

        out.update(from_connection(name))
        url = out["url"]
        if ctype not in ("jdbc",) and f":{ctype}:" not in url and not (ctype == "mysql" and ":mariadb:" in url):
            raise ValueError(f"connection {name} is {url.split('//')[0]}, not connection_type {ctype}")
    for k in ("url", "user", "password", "driver", "dbtable", "query", "fetchsize", "batchsize", "customJdbcDriverClassName"):
        if options.get(k) is not None:
            out["driver" if k == "customJdbcDriverClassName" else k] = str(options[k])
    if "url" not in out:
        raise ValueError(f"connection_type {ctype}: connection_options needs url (or connectionName)")
    vendor = out["url"].split(":")[1] if out["url"].startswith("jdbc:") else ""
    if "driver" not in out and vendor in _DRIVERS:  # a jar given by spark.jars is not seen by DriverManager
        out["driver"] = _DRIVERS[vendor]
    if "dbtable" not in out and "query" not in out:
        raise ValueError(f"connection_type {ctype}: connection_options needs dbtable (or query)")
    return out


def _jdbc_error(e: Exception, opts: dict) -> Exception:
    text = str(e)
    if "No suitable driver" in text or "ClassNotFoundException" in text:
        vendor = opts["url"].split(":")[1] if opts["url"].startswith("jdbc:") else opts["url"]
        return RuntimeError(f"no JDBC driver for {vendor} on Spark's classpath: give the job the driver's jar "
                            "(spark.jars in its Spark settings)")  # fmt: skip
    return e


def read_jdbc(spark, ctype: str, options: dict):
    opts = jdbc_options(ctype, options)
    try:
        return spark.read.format("jdbc").options(**opts).load()
    except Exception as e:
        raise _jdbc_error(e, opts) from None


def write_jdbc(df, ctype: str, options: dict) -> None:
    opts = jdbc_options(ctype, options)
    opts.pop("query", None)
    try:
        df.write.format("jdbc").options(**opts).mode("append").save()
    except Exception as e:
        raise _jdbc_error(e, opts) from None
