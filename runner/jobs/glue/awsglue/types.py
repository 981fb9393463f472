"""Glue type names, field paths and choice columns on Spark DataFrames.

A choice (a column whose values have several types: Glue's `choice`) is a struct column whose fields are named
by type ("int", "string"...), at most one of them set in a row, marked by the field metadata
{"mortar.choice": true}. `resolveChoice` turns it into ordinary columns.
"""

from __future__ import annotations

import re

CHOICE = "mortar.choice"

_GLUE_TO_SPARK = {
    "string": "string", "varchar": "string", "char": "string", "int": "int", "integer": "int",
    "long": "bigint", "bigint": "bigint", "short": "smallint", "smallint": "smallint", "byte": "tinyint",
    "tinyint": "tinyint", "double": "double", "float": "float", "boolean": "boolean", "bool": "boolean",
    "date": "date", "timestamp": "timestamp", "binary": "binary", "decimal": "decimal(38,18)",
}  # fmt: skip

_SPARK_TO_GLUE = {
    "string": "string", "int": "int", "bigint": "long", "smallint": "short", "tinyint": "byte",
    "double": "double", "float": "float", "boolean": "boolean", "date": "date", "timestamp": "timestamp",
    "binary": "binary", "null": "null", "void": "null",
}  # fmt: skip


def spark_type(glue_type: str) -> str:
    """The Spark SQL type of Glue type name `glue_type` ("long" -> "bigint"); decimal(p,s), array<...>,
    struct<...> and Spark's own names pass through."""
    t = glue_type.strip()
    return _GLUE_TO_SPARK.get(t.lower(), t)


def glue_type(data_type) -> str:
    """Glue's name of a Spark DataType (LongType -> "long")."""
    name = data_type.simpleString()
    return _SPARK_TO_GLUE.get(name, name.split("(")[0].split("<")[0])


def split_path(path: str) -> list[str]:
    """"a.b.c" -> ["a", "b", "c"]; a part in backticks keeps its dots: "`a.b`.c" -> ["a.b", "c"]."""
    parts, cur, quoted, i = [], "", False, 0
    while i < len(path):
        ch = path[i]
        if ch == "`":
            if quoted and path[i + 1 : i + 2] == "`":
                cur += "`"
                i += 2
                continue
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if quoted:
        raise ValueError(f"field path {path!r}: unbalanced backtick")
    parts.append(cur)
    if any(p == "" for p in parts):
        raise ValueError(f"field path {path!r} has an empty part")
    return parts


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def column(parts: list[str]):
    """The Column of field path `parts` (nested struct fields by name)."""
    from pyspark.sql import functions as F

    c = F.col(quote(parts[0]))
    for p in parts[1:]:
        c = c.getField(p)
    return c


def field_of(schema, parts: list[str]):
    """The StructField at path `parts` of StructType `schema`, None if there is none."""
    from pyspark.sql.types import StructType

    current = schema
    found = None
    for p in parts:
        if not isinstance(current, StructType):
            return None
        found = next((f for f in current.fields if f.name == p), None)
        if found is None:
            return None
        current = found.dataType
    return found


def is_choice(field) -> bool:
    return bool(field is not None and field.metadata.get(CHOICE))


def choice_columns(schema) -> list[str]:
    return [f.name for f in schema.fields if is_choice(f)]


def as_choice(col, name: str):
    """`col` (a struct of per-type fields) named `name` and marked as a choice."""
    return col.alias(name, metadata={CHOICE: True})


_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
INT_PATTERN = r"^\s*[+-]?\d{1,9}\s*$"
LONG_PATTERN = r"^\s*[+-]?\d{1,18}\s*$"
DOUBLE_PATTERN = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
