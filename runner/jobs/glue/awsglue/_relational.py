"""Relationalize: a frame of nested records as flat tables linked by ids (see DynamicFrame.relationalize)."""

from __future__ import annotations

from awsglue import types as T

_ID = "__mortar_rid"


def _flatten(schema, prefix: list[str] | None = None) -> list[tuple[list[str], object]]:
    """(path, type) of every non-struct field, structs walked into (choice structs kept whole)."""
    from pyspark.sql.types import StructType

    out = []
    for f in schema.fields:
        parts = [*(prefix or []), f.name]
        if isinstance(f.dataType, StructType) and not T.is_choice(f):
            out.extend(_flatten(f.dataType, parts))
        else:
            out.append((parts, f.dataType))
    return out


def relationalize(df, root: str) -> dict:
    """{root: flat DataFrame, root_<array path>: (id, index, <path>.val...) DataFrame, ...}."""
    out: dict = {}
    _table(df, root, [], out)
    return out


def _table(df, name: str, source: list[str], out: dict) -> None:
    """Add table `name` of `df` (its fields, flattened; from column `source` already flat) and its arrays'."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, MapType

    fields = _flatten(df.schema)
    arrays = [(p, t) for p, t in fields if isinstance(t, ArrayType | MapType)]
    if arrays:
        df = df.withColumn(_ID, F.monotonically_increasing_id() + 1).localCheckpoint()
    cols = []
    for parts, dtype in fields:
        flat = ".".join(parts)
        if isinstance(dtype, ArrayType | MapType):
            cols.append(F.when(T.column(parts).isNotNull(), F.col(_ID)).alias(flat))
        else:
            cols.append(T.column(parts).alias(flat))
    out[name] = df.select(*cols)
    for parts, dtype in arrays:
        flat = ".".join(parts)
        if isinstance(dtype, MapType):
            exploded = df.select(F.col(_ID).alias("id"), F.explode(T.column(parts)).alias("key", "val"))
            child = exploded.select("id", "key", F.col("val").alias(f"{flat}.val"))
        else:
            exploded = df.select(F.col(_ID).alias("id"), F.posexplode(T.column(parts)).alias("index", "val"))
            child = exploded.select("id", "index", F.col("val").alias(f"{flat}.val"))
        _table(child, f"{name}_{flat}", parts, out)
