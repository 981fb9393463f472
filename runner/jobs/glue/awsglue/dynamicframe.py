"""DynamicFrame: Glue's frame of self-describing records, here a Spark DataFrame plus the frame's error records.

What differs from a DataFrame: a column may be a choice of types (see awsglue.types) until `resolveChoice`;
field paths may be nested ("a.b.c", backticks around a name with dots); `map` and `filter` count a record
whose function raises as an error record (`errorsCount`) instead of failing the run; each transform may set
`stageThreshold`/`totalThreshold` (0: no limit) above which it raises.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

from awsglue import types as T

_ERR_COLS = ("error", "record")


class GlueTransformError(Exception):
    """A transform had more error records than its threshold allows."""


class DynamicRecord(dict):
    """A record given to `map`/`filter` functions: a dict of its fields (nested records are dicts too)."""


class DynamicFrame:
    def __init__(self, df, glue_ctx=None, name: str = "", errors: list | None = None, stage_errors: list | None = None):
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name
        self._stage_errors = list(stage_errors or [])  # DataFrames (error, record) of this stage
        self._errors = list(errors or []) + self._stage_errors  # of this frame and all it came from

    # --- conversions ------------------------------------------------------------------------------------

    @classmethod
    def fromDF(cls, dataframe, glue_ctx, name: str = "") -> DynamicFrame:  # noqa: N802
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options: list | None = None):  # noqa: N802
        """The records as a DataFrame (choice columns stay structs of per-type fields)."""
        return self._df

    def _next(self, df, name: str = "", stage_errors: list | None = None, info: str = "",
              stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        frame = DynamicFrame(df, self.glue_ctx, name or self.name, self._errors, stage_errors)
        frame._check(stageThreshold, totalThreshold, info)
        return frame

    def _check(self, stage: int, total: int, info: str = "") -> None:
        if stage and self._stage_errors and self.stageErrorsCount() > stage:
            raise GlueTransformError(f"{info or 'transform'}: {self.stageErrorsCount()} error records, more than "
                                     f"stageThreshold {stage}")  # fmt: skip
        if total and self._errors and self.errorsCount() > total:
            raise GlueTransformError(f"{info or 'transform'}: {self.errorsCount()} error records in total, more "
                                     f"than totalThreshold {total}")  # fmt: skip

    # --- inspection -------------------------------------------------------------------------------------

    def count(self) -> int:
        return self._df.count()

    def schema(self):
        """The frame's schema as a Spark StructType (a choice is a struct field marked "mortar.choice")."""
        return self._df.schema

    def printSchema(self) -> None:  # noqa: N802
        print(self._schema_text())

    def _schema_text(self) -> str:
        from pyspark.sql.types import ArrayType, MapType, StructType

        lines = ["root"]

        def walk(dtype, depth: int) -> None:
            if isinstance(dtype, StructType):
                for f in dtype.fields:
                    if T.is_choice(f):
                        lines.append("|" + "    |" * depth + f"-- {f.name}: choice")
                        for sub in f.dataType.fields:
                            lines.append("|" + "    |" * (depth + 1) + f"-- {sub.name}")
                        continue
                    lines.append("|" + "    |" * depth + f"-- {f.name}: {_type_word(f.dataType)}")
                    walk(f.dataType, depth + 1)
            elif isinstance(dtype, ArrayType):
                walk(dtype.elementType, depth)
            elif isinstance(dtype, MapType):
                walk(dtype.valueType, depth)

        walk(self._df.schema, 0)
        return "\n".join(lines)

    def show(self, num_rows: int = 20) -> None:
        """Print the first `num_rows` records, one JSON object a line (as Glue does)."""
        for row in self._df.limit(num_rows).toJSON().collect():
            print(row)

    def getNumPartitions(self) -> int:  # noqa: N802
        return self._df.rdd.getNumPartitions()

    def errorsCount(self) -> int:  # noqa: N802
        """How many error records this frame and the frames it came from have."""
        return sum(e.count() for e in self._errors)

    def stageErrorsCount(self) -> int:  # noqa: N802
        return sum(e.count() for e in self._stage_errors)

    def errorsAsDynamicFrame(self) -> DynamicFrame:  # noqa: N802
        """The error records: (error, record as JSON text)."""
        if not self._errors:
            spark = self._df.sparkSession
            return DynamicFrame(spark.createDataFrame([], "error string, record string"), self.glue_ctx, "errors")
        return DynamicFrame(reduce(lambda a, b: a.unionByName(b), self._errors), self.glue_ctx, "errors")

    def assertErrorThreshold(self) -> None:  # noqa: N802
        return None

    # --- transforms -------------------------------------------------------------------------------------

    def apply_mapping(self, mappings: list, case_sensitive: bool = False, transformation_ctx: str = "",
                      info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Keep, rename and cast fields: `mappings` is a list of (source path, source type, target path,
        target type); nested source paths ("a.b") are read, nested target paths build structs. Fields not
        mapped are dropped; a value that cannot be cast becomes null."""
        from pyspark.sql import functions as F

        schema = self._df.schema
        tree: dict = {}
        for m in mappings:
            if len(m) != 4:
                raise ValueError(f"mapping {m!r}: expected (source, source type, target, target type)")
            source, _stype, target, ttype = m
            parts = T.split_path(source)
            field = T.field_of(schema, parts) if case_sensitive else _field_ci(schema, parts)
            if field is None:
                value = F.lit(None)
            else:
                if not case_sensitive:
                    parts = _resolve_ci(schema, parts)
                value = T.column(parts)
                if T.is_choice(field) and len(parts) == 1:
                    value = _cast_choice(value, field, T.spark_type(ttype))
            value = value.try_cast(T.spark_type(ttype))
            node = tree
            tparts = T.split_path(target)
            for p in tparts[:-1]:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    raise ValueError(f"mapping target {target!r} nests under a field already mapped")
            node[tparts[-1]] = value

        def build(node: dict) -> list:
            return [F.struct(*build(v)).alias(k) if isinstance(v, dict) else v.alias(k) for k, v in node.items()]

        return self._next(self._df.select(*build(tree)), info=info or "ApplyMapping",
                          stageThreshold=stageThreshold, totalThreshold=totalThreshold)  # fmt: skip

    def resolveChoice(self, specs: list | None = None, choice: str = "", database: str | None = None,  # noqa: N802
                      table_name: str | None = None, transformation_ctx: str = "", info: str = "",
                      stageThreshold: int = 0, totalThreshold: int = 0, catalog_id: str | None = None) -> DynamicFrame:  # noqa: N803
        """Resolve choice columns: `specs` [(path, action)] or one `choice` action for every choice column.
        Actions: "cast:TYPE" (each value cast, null if it cannot be), "make_cols" (a column per type,
        path_TYPE), "make_struct" (an ordinary struct with a field per type), "project:TYPE" (the values of
        that type; others null), "match_catalog" (cast to the type of the column in database.table_name)."""
        if specs and choice:
            raise ValueError("resolveChoice: give either specs or choice, not both")
        if not specs and not choice:
            raise ValueError("resolveChoice: give specs [(path, action)] or a choice action")
        df = self._df
        pairs = list(specs) if specs else [(c, choice) for c in T.choice_columns(df.schema)]
        catalog_types = None
        for path, action in pairs:
            if action == "match_catalog":
                if catalog_types is None:
                    if not (database and table_name):
                        raise ValueError("resolveChoice match_catalog needs database and table_name")
                    spark = df.sparkSession
                    catalog_types = {f.name.lower(): f.dataType.simpleString() for f in spark.table(
                        f"{T.quote(database)}.{T.quote(table_name)}").schema.fields}  # fmt: skip
                target = catalog_types.get(T.split_path(path)[0].lower())
                if target is None:
                    raise ValueError(f"resolveChoice match_catalog: {database}.{table_name} has no column {path}")
                action = "cast:" + target
            df = _resolve(df, path, action)
        return self._next(df, info=info or "ResolveChoice", stageThreshold=stageThreshold,
                          totalThreshold=totalThreshold)  # fmt: skip

    def select_fields(self, paths: list[str], transformation_ctx: str = "", info: str = "",
                      stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Only the fields at `paths` (a nested path keeps its parents, with only that child)."""
        from pyspark.sql import functions as F

        tree: dict = {}
        for p in paths:
            parts = T.split_path(p)
            if T.field_of(self._df.schema, parts) is None:
                continue
            node = tree
            for x in parts[:-1]:
                node = node.setdefault(x, {})
            node[parts[-1]] = True

        def build(node: dict, prefix: list[str]) -> list:
            out = []
            for k, v in node.items():
                c = T.column([*prefix, k])
                out.append(c.alias(k) if v is True else F.struct(*build(v, [*prefix, k])).alias(k))
            return out

        return self._next(self._df.select(*build(tree, [])), info=info or "SelectFields",
                          stageThreshold=stageThreshold, totalThreshold=totalThreshold)  # fmt: skip

    def drop_fields(self, paths: list[str], transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        df = self._df
        for p in paths:
            parts = T.split_path(p)
            if T.field_of(df.schema, parts) is None:
                continue
            if len(parts) == 1:
                df = df.drop(parts[0])
            else:
                df = df.withColumn(parts[0], T.column(parts[:1]).dropFields(".".join(T.quote(x) for x in parts[1:])))
        return self._next(df, info=info or "DropFields", stageThreshold=stageThreshold, totalThreshold=totalThreshold)

    def rename_field(self, oldName: str, newName: str, transformation_ctx: str = "", info: str = "",  # noqa: N803
                     stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Rename the field at path `oldName`; `newName` may be a path in the same struct ("a.b" -> "a.c")
        or a bare name."""
        old, new = T.split_path(oldName), T.split_path(newName)
        df = self._df
        if T.field_of(df.schema, old) is None:
            raise ValueError(f"rename_field: the frame has no field {oldName}")
        if len(old) == 1:
            df = df.withColumnRenamed(old[0], new[-1])
        else:
            if new[:-1] and new[:-1] != old[:-1]:
                raise ValueError(f"rename_field: {newName} is not in the struct of {oldName}")
            parent = T.column(old[:-1])
            inner = ".".join(T.quote(x) for x in old[1:-1])
            renamed = parent.withField(T.quote(new[-1]), T.column(old)).dropFields(T.quote(old[-1]))
            if inner:
                df = df.withColumn(old[0], T.column(old[:1]).withField(inner, renamed))
            else:
                df = df.withColumn(old[0], renamed)
        return self._next(df, info=info or "RenameField", stageThreshold=stageThreshold,
                          totalThreshold=totalThreshold)  # fmt: skip

    def filter(self, f: Callable[[DynamicRecord], bool], transformation_ctx: str = "", info: str = "",
               stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Records for which `f(record)` is true; a record for which `f` raises is an error record."""
        schema = self._df.schema

        def keep(rows):
            for row in rows:
                rec = _record(row)
                try:
                    if f(rec):
                        yield (None, row)
                except Exception as e:  # noqa: BLE001 - the record is an error record
                    yield (f"{type(e).__name__}: {e}", _json(rec))

        tagged = self._df.rdd.mapPartitions(keep)
        spark = self._df.sparkSession
        good = spark.createDataFrame(tagged.filter(lambda t: t[0] is None).map(lambda t: t[1]), schema)
        errors = spark.createDataFrame(tagged.filter(lambda t: t[0] is not None), "error string, record string")
        return self._next(good, stage_errors=[errors], info=info or "Filter", stageThreshold=stageThreshold,
                          totalThreshold=totalThreshold)  # fmt: skip

    def map(self, f: Callable[[DynamicRecord], dict], transformation_ctx: str = "", info: str = "",
            stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """`f(record)` for each record (a dict; it may add, change or remove fields): the schema is inferred
        from all results. A record for which `f` raises (or returns no dict) is an error record."""
        from pyspark.sql import Row

        def apply(rows):
            for row in rows:
                rec = _record(row)
                try:
                    out = f(rec)
                    if not isinstance(out, dict):
                        raise TypeError(f"the map function returned {type(out).__name__}, not a record")
                    yield (None, _row(out, Row))
                except Exception as e:  # noqa: BLE001 - the record is an error record
                    yield (f"{type(e).__name__}: {e}", _json(rec))

        tagged = self._df.rdd.mapPartitions(apply)
        spark = self._df.sparkSession
        good_rdd = tagged.filter(lambda t: t[0] is None).map(lambda t: t[1])
        if good_rdd.isEmpty():
            good = spark.createDataFrame([], self._df.schema)
        else:
            good = spark.createDataFrame(good_rdd, samplingRatio=1.0)
        errors = spark.createDataFrame(tagged.filter(lambda t: t[0] is not None), "error string, record string")
        return self._next(good, stage_errors=[errors], info=info or "Map", stageThreshold=stageThreshold,
                          totalThreshold=totalThreshold)  # fmt: skip

    def unnest(self, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
               totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Nested struct fields become top-level columns named by their path ("a.b"); arrays stay."""
        return self._next(self._df.select(*_flat_columns(self._df.schema)), info=info or "Unnest",
                          stageThreshold=stageThreshold, totalThreshold=totalThreshold)  # fmt: skip

    def unbox(self, path: str, format: str, transformation_ctx: str = "", info: str = "",  # noqa: A002
              stageThreshold: int = 0, totalThreshold: int = 0, **options) -> DynamicFrame:  # noqa: N803
        """Parse the string field at `path` (format "json", or "csv" with options delimiter/separator and
        withHeader=False) into a struct; the struct's schema is inferred from all values."""
        from pyspark.sql import functions as F

        parts = T.split_path(path)
        spark = self._df.sparkSession
        values = self._df.select(T.column(parts).alias("v")).where(F.col("v").isNotNull())
        if format == "json":
            schema = spark.read.json(values.rdd.map(lambda r: r[0])).schema
            parsed = F.from_json(T.column(parts), schema)
        elif format == "csv":
            sep = options.get("delimiter", options.get("separator", ","))
            inferred = spark.read.csv(values.rdd.map(lambda r: r[0]), sep=sep, inferSchema=True).schema
            parsed = F.from_csv(T.column(parts), inferred.simpleString()[len("struct<"):-1], {"sep": sep})
        else:
            raise ValueError(f"unbox: format {format!r} is not supported (json, csv)")
        df = self._df
        if len(parts) == 1:
            df = df.withColumn(parts[0], parsed)
        else:
            df = df.withColumn(parts[0], T.column(parts[:1]).withField(".".join(T.quote(x) for x in parts[1:]), parsed))
        return self._next(df, info=info or "Unbox", stageThreshold=stageThreshold, totalThreshold=totalThreshold)

    def relationalize(self, root_table_name: str, staging_path: str = "", options: dict | None = None,
                      transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                      totalThreshold: int = 0) -> DynamicFrameCollection:  # noqa: N803
        """Flatten into tables: structs become columns named by path ("a.b"); each array becomes a table
        `<root>_<path>` of (id, index, <path>.val[.field...]) whose id the parent row holds in the array's
        column. `staging_path` is not needed (nothing is staged)."""
        from awsglue._relational import relationalize

        frames = relationalize(self._df, root_table_name)
        return DynamicFrameCollection(
            {k: DynamicFrame(v, self.glue_ctx, k, self._errors) for k, v in frames.items()}, self.glue_ctx
        )

    def spigot(self, path: str, options: dict | None = None, transformation_ctx: str = "") -> DynamicFrame:
        """Write a sample of the records to `path` as JSON (options: topk, the first k records, default 100;
        prob, each record's probability of being kept) and return the frame unchanged."""
        options = options or {}
        df = self._df
        if "prob" in options:
            df = df.sample(fraction=float(options["prob"]), seed=int(options.get("seed", 0)))
        df = df.limit(int(options.get("topk", 100)))
        df.coalesce(1).write.mode("overwrite").json(_spark_path(path))
        return self

    def join(self, paths1: list[str], paths2: list[str], frame2: DynamicFrame, transformation_ctx: str = "",
             info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Inner join on paths1 == paths2; both key fields are kept (one, when they have the same name)."""
        if isinstance(paths1, str):
            paths1 = [paths1]
        if isinstance(paths2, str):
            paths2 = [paths2]
        if len(paths1) != len(paths2) or not paths1:
            raise ValueError("join: paths1 and paths2 must name the same number of keys")
        a, b = self._df, frame2._df
        if paths1 == paths2 and all(len(T.split_path(p)) == 1 for p in paths1):
            df = a.join(b, [T.split_path(p)[0] for p in paths1], "inner")
        else:
            a2, b2 = a.alias("__l"), b.alias("__r")
            cond = reduce(lambda x, y: x & y, [_aliased("__l", p) == _aliased("__r", q) for p, q in zip(paths1, paths2, strict=True)])
            df = a2.join(b2, cond, "inner")
        errors = self._errors + [e for e in frame2._errors if e not in self._errors]
        frame = DynamicFrame(df, self.glue_ctx, self.name, errors)
        frame._check(stageThreshold, totalThreshold, info or "Join")
        return frame

    def union(self, other_frame: DynamicFrame, transformation_ctx: str = "", info: str = "",
              stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """The records of both frames, fields matched by name (a field one frame lacks is null)."""
        df = self._df.unionByName(other_frame._df, allowMissingColumns=True)
        errors = self._errors + [e for e in other_frame._errors if e not in self._errors]
        return DynamicFrame(df, self.glue_ctx, self.name, errors)

    def repartition(self, num_partitions: int, transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        return self._next(self._df.repartition(num_partitions))

    def coalesce(self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._next(df)

    def split_fields(self, paths: list[str], name1: str, name2: str, transformation_ctx: str = "",
                     info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrameCollection:  # noqa: N803
        """Two frames: `name1` with the fields at `paths`, `name2` with the others."""
        return DynamicFrameCollection({name1: self.select_fields(paths), name2: self.drop_fields(paths)},
                                      self.glue_ctx)  # fmt: skip

    def split_rows(self, comparison_dict: dict, name1: str, name2: str, transformation_ctx: str = "",
                   info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrameCollection:  # noqa: N803
        """Two frames: `name1` with the records meeting every comparison of `comparison_dict`
        ({path: {op: value}}, ops "<", ">", "=", "!=", "<=", ">="), `name2` with the others."""
        import operator

        from pyspark.sql import functions as F

        ops = {"<": operator.lt, ">": operator.gt, "=": operator.eq, "==": operator.eq, "!=": operator.ne,
               "<=": operator.le, ">=": operator.ge}  # fmt: skip
        conds = []
        for path, comparisons in comparison_dict.items():
            for op, value in comparisons.items():
                if op not in ops:
                    raise ValueError(f"split_rows: comparison {op!r} is not one of {', '.join(ops)}")
                conds.append(ops[op](T.column(T.split_path(path)), F.lit(value)))
        cond = reduce(lambda a, b: a & b, conds) if conds else F.lit(True)
        return DynamicFrameCollection({
            name1: self._next(self._df.where(cond)),
            name2: self._next(self._df.where(~F.coalesce(cond, F.lit(False)))),
        }, self.glue_ctx)  # fmt: skip

    def drop_null_fields(self, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                         totalThreshold: int = 0) -> DynamicFrame:  # noqa: N803
        """Without the top-level fields that are null in every record."""
        from pyspark.sql import functions as F

        cols = self._df.columns
        if not cols:
            return self
        counts = self._df.select(*[F.count(T.column([c])).alias(str(i)) for i, c in enumerate(cols)]).first()
        keep = [T.quote(c) for i, c in enumerate(cols) if counts[i]]
        return self._next(self._df.select(*keep), info=info or "DropNullFields")

    def __repr__(self) -> str:
        return f"DynamicFrame({self.name!r}, {self._df.schema.simpleString()})"


class DynamicFrameCollection:
    """Frames by name (what Relationalize, SplitFields and SplitRows return)."""

    def __init__(self, dynamic_frames: dict[str, DynamicFrame], glue_ctx=None):
        self._frames = dict(dynamic_frames)
        self.glue_ctx = glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self):
        return iter(self._frames)

    def keys(self) -> list[str]:
        return list(self._frames)

    def values(self) -> list[DynamicFrame]:
        return list(self._frames.values())

    def items(self):
        return self._frames.items()

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        if key not in self._frames:
            raise KeyError(f"the collection has no frame {key!r} (it has: {', '.join(self._frames)})")
        return self._frames[key]

    def map(self, callable: Callable[[DynamicFrame, str], DynamicFrame], transformation_ctx: str = "") -> DynamicFrameCollection:  # noqa: A002
        return DynamicFrameCollection({k: callable(v, transformation_ctx) for k, v in self._frames.items()}, self.glue_ctx)

    def flatmap(self, f: Callable, transformation_ctx: str = "") -> DynamicFrameCollection:
        out: dict[str, DynamicFrame] = {}
        for k, v in self._frames.items():
            r = f(v, transformation_ctx)
            if isinstance(r, DynamicFrameCollection):
                out.update({f"{k}_{k2}": v2 for k2, v2 in r.items()})
            else:
                out[k] = r
        return DynamicFrameCollection(out, self.glue_ctx)


# --- helpers ---------------------------------------------------------------------------------------------


def _type_word(dtype) -> str:
    from pyspark.sql.types import ArrayType, MapType, StructType

    if isinstance(dtype, StructType):
        return "struct"
    if isinstance(dtype, ArrayType):
        return "array"
    if isinstance(dtype, MapType):
        return "map"
    return T.glue_type(dtype)


def _field_ci(schema, parts: list[str]):
    resolved = _resolve_ci(schema, parts)
    return None if resolved is None else T.field_of(schema, resolved)


def _resolve_ci(schema, parts: list[str]) -> list[str] | None:
    from pyspark.sql.types import StructType

    out, current = [], schema
    for p in parts:
        if not isinstance(current, StructType):
            return None
        f = next((f for f in current.fields if f.name == p), None) or next(
            (f for f in current.fields if f.name.lower() == p.lower()), None)  # fmt: skip
        if f is None:
            return None
        out.append(f.name)
        current = f.dataType
    return out


def _cast_choice(col, field, target: str):
    """A choice column as one value of Spark type `target`: the first of its per-type values that casts."""
    from pyspark.sql import functions as F

    return F.coalesce(*[col.getField(sub.name).try_cast(target) for sub in field.dataType.fields])


def _resolve(df, path: str, action: str):
    from pyspark.sql import functions as F

    parts = T.split_path(path)
    field = T.field_of(df.schema, parts)
    if field is None:
        raise ValueError(f"resolveChoice: the frame has no field {path}")
    if len(parts) > 1:
        if not action.startswith("cast:"):
            raise ValueError(f"resolveChoice {path}: only cast: applies to a nested field")
        inner = ".".join(T.quote(x) for x in parts[1:])
        return df.withColumn(parts[0], T.column(parts[:1]).withField(inner, T.column(parts).try_cast(T.spark_type(action[5:]))))
    name, col = parts[0], T.column(parts)
    others = [T.quote(c) if c != name else None for c in df.columns]
    choice = T.is_choice(field)

    def replace(*new):
        return df.select(*[c for o in others for c in ([o] if o is not None else new)])

    if action.startswith("cast:"):
        target = T.spark_type(action[5:])
        value = _cast_choice(col, field, target) if choice else col.try_cast(target)
        return replace(value.try_cast(target).alias(name))
    if action.startswith("project:"):
        want = action[8:].strip()
        if not choice:
            return replace(col.try_cast(T.spark_type(want)).alias(name))
        subs = [s.name for s in field.dataType.fields]
        match = want if want in subs else next((s for s in subs if T.spark_type(s) == T.spark_type(want)), None)
        value = col.getField(match) if match else F.lit(None).try_cast(T.spark_type(want))
        return replace(value.alias(name))
    if action == "make_cols":
        if not choice:
            return df
        return replace(*[col.getField(s.name).alias(f"{name}_{s.name}") for s in field.dataType.fields])
    if action == "make_struct":
        if not choice:
            return replace(F.struct(col.alias(T.glue_type(field.dataType))).alias(name))
        return replace(F.struct(*[col.getField(s.name).alias(s.name) for s in field.dataType.fields]).alias(name))
    raise ValueError(f"resolveChoice {path}: action {action!r} is not cast:TYPE, project:TYPE, make_cols, "
                     "make_struct or match_catalog")  # fmt: skip


def _flat_columns(schema, prefix: list[str] | None = None) -> list:
    from pyspark.sql.types import StructType

    out = []
    for f in schema.fields:
        parts = [*(prefix or []), f.name]
        if isinstance(f.dataType, StructType) and not T.is_choice(f):
            out.extend(_flat_columns(f.dataType, parts))
        else:
            out.append(T.column(parts).alias(".".join(parts)))
    return out


def _aliased(alias: str, path: str):
    from pyspark.sql import functions as F

    parts = T.split_path(path)
    c = F.col(f"{alias}.{T.quote(parts[0])}")
    for p in parts[1:]:
        c = c.getField(p)
    return c


def _record(row) -> DynamicRecord:
    return DynamicRecord(row.asDict(recursive=True))


def _row(value: Any, row_cls):
    if isinstance(value, dict):
        return row_cls(**{k: _row(v, row_cls) for k, v in value.items()})
    if isinstance(value, list):
        return [_row(v, row_cls) for v in value]
    return value


def _json(rec: dict) -> str:
    import json

    return json.dumps(rec, default=str, sort_keys=True)


def _spark_path(path: str) -> str:
    """Hadoop's name of `path`: s3:// is read through the s3a file system."""
    return "s3a://" + path[5:] if path.startswith("s3://") else path
