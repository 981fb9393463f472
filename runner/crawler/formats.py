"""Storage descriptors and table parameters that make a crawled table readable, as written, by Spark SQL
(pyspark 4's Hive client through a metastore) and by Trino's Hive connector.

Every class named here ships in pyspark's jars (hive-exec 2.3, hive-serde 2.3) unless said otherwise:

| format            | input / output format                        | SerDe                                   |
|-------------------|----------------------------------------------|-----------------------------------------|
| parquet           | MapredParquetInputFormat / ...OutputFormat   | ParquetHiveSerDe                        |
| orc               | OrcInputFormat / OrcOutputFormat             | OrcSerde                                |
| avro              | AvroContainerInputFormat / ...OutputFormat   | AvroSerDe (+ avro.schema.literal)       |
| csv (unquoted)    | TextInputFormat / HiveIgnoreKeyTextOutput... | LazySimpleSerDe (field.delim) [1]       |
| csv (quoted)      | TextInputFormat / HiveIgnoreKeyTextOutput... | OpenCSVSerde; Spark reads it as csv     |
| json              | TextInputFormat / HiveIgnoreKeyTextOutput... | LazySimpleSerDe [2]; Spark reads json   |
| xml               | com.ibm.spss XmlInputFormat (not shipped)    | com.ibm.spss XmlSerDe; Spark reads xml  |
| logs (grok)       | TextInputFormat / HiveIgnoreKeyTextOutput... | RegexSerDe (input.regex, Java syntax)   |

No JSON SerDe ships with pyspark (hive-hcatalog-core is not among its jars, and openx's never was), so a
JSON table is also a Spark *datasource* table: the table parameters `spark.sql.sources.provider=json`
and `spark.sql.sources.schema*` (the Spark schema, with the partition columns) and the SerDe parameter
`path` (its location) make Spark read it with its own JSON reader. [2] Its SerDe is LazySimpleSerDe, as
for the JSON tables Spark itself saves in the metastore: Spark never reads with it, but its Hive client
(Table.getCols) instantiates a table's SerDe to learn the columns unless the class is on Hive's
`hive.serdes.using.metastore.for.schema` list, which LazySimpleSerDe is and no JSON SerDe is. With the
hcatalog JsonSerDe (not in pyspark's jars; org.apache.hadoop.hive.serde2.JsonSerDe is Hive 3's, absent
from hive-serde 2.3 too) every query printed ~350 lines of ClassNotFoundException, twice. The price:
Hive and Trino, which do read through the SerDe, see a text table; the table parameter
`mortar.hive_serde` names the SerDe they need (Hive: `ALTER TABLE t SET SERDE
'org.apache.hive.hcatalog.data.JsonSerDe'`; Trino reads such a table by that SerDe only). XML is the same with
Spark's built-in xml source (`rowTag`); Trino has no XML reader. CSV: [1] Spark's Hive reader ignores
`skip.header.line.count` (pyspark 4.3 has no code for it: the header line comes back as a row), so a CSV
table whose files have a header line is a Spark csv datasource table too (options sep, header, quote,
escape), while Trino and Hive read it with LazySimpleSerDe and skip.header.line.count. Quoted CSV:
OpenCSVSerde yields strings only (Hive's and Trino's reader alike), so the Hive columns of a quoted CSV
table are all `string`, while Spark, through the datasource parameters, reads the inferred types.

Every table also carries `spark.sql.sources.schema*` so that Spark shows the columns in the files' own
spelling (Hive lower-cases names; Spark keeps them when they equal the Hive columns ignoring case).
Text files are decompressed by Hadoop's codecs, chosen by the file's extension: .gz, .bz2, and .snappy /
.lz4 in Hadoop's block format (what Spark writes) read on both of Spark's paths; .zst reads through
Spark's datasource readers but not its Hive reader (pyspark's libhadoop has no zstd), so zstd CSV is a
Spark csv datasource table too. LZ4 frame and framed-snappy files, and files whose name does not announce
their compression, are classified but marked `unreadable_reason` (classifiers.py): Hadoop's codecs would
misread them (LZ4 frame text crashed Spark's executor with an OutOfMemoryError in our check).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from metastore.catalog.types import Column, SerDe, StorageDescriptor
from runner.crawler import schema
from runner.crawler.classifiers import Classification, avro_to_hive

TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSON_SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"  # what Hive and Trino read JSON with (not in pyspark)
JSON_TABLE_SERDE = LAZY_SIMPLE_SERDE  # what a crawled JSON table names: see [2] above
HIVE_SERDE_PARAM = "mortar.hive_serde"  # the SerDe that Hive and Trino need for a table whose own one is Spark's
REGEX_SERDE = "org.apache.hadoop.hive.serde2.RegexSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
ORC_INPUT = "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"
ORC_OUTPUT = "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat"
ORC_SERDE = "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
AVRO_INPUT = "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat"
AVRO_OUTPUT = "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat"
AVRO_SERDE = "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
XML_INPUT = "com.ibm.spss.hive.serde2.xml.XmlInputFormat"
XML_SERDE = "com.ibm.spss.hive.serde2.xml.XmlSerDe"

SCHEMA_PART = 4000  # Spark splits its schema property into parts of this size (HMS values are limited)
COMPRESSION_NAMES = {"gzip": "gzip", "bz2": "bzip2", "zstd": "zstd", "snappy": "snappy", "lz4": "lz4"}


def reader_kind(c: Classification) -> str:
    """How the files are read: parquet, orc, avro, csv, json, xml or grok (custom classifications carry
    their format's parameters)."""
    if c.format in ("parquet", "orc", "avro"):
        return c.format
    if "input.regex" in c.serde_parameters:
        return "grok"
    if "rowTag" in c.serde_parameters:
        return "xml"
    if "field.delim" in c.serde_parameters or "separatorChar" in c.serde_parameters:
        return "csv"
    if c.format == "json" or "jsonPath" in c.table_parameters:
        return "json"
    raise ValueError(f"no storage format for classification {c.format!r}")


def _quoted_csv(c: Classification) -> bool:
    return "separatorChar" in c.serde_parameters


def _csv_header(c: Classification) -> bool:
    return c.table_parameters.get("skip.header.line.count", "0") not in ("", "0")


def spark_provider(c: Classification) -> str | None:
    """The Spark datasource that reads the table, for the formats Spark reads as a datasource table:
    JSON and XML (no SerDe for them in Spark), CSV with quoted fields (OpenCSVSerde gives strings only)
    or with a header line (Spark's Hive reader ignores skip.header.line.count)."""
    kind = reader_kind(c)
    if kind in ("json", "xml"):
        return kind
    if kind == "csv" and (_quoted_csv(c) or _csv_header(c) or c.compression == "zstd"):
        return "csv"  # zstd: Spark's Hive text reader needs a libhadoop with zstd, its csv reader does not
    return None


# ---------------------------------------------------------------------------------------------------------
# Spark schema


_SPARK_PRIMITIVES = {"boolean": "boolean", "tinyint": "byte", "smallint": "short", "int": "integer",
                     "bigint": "long", "float": "float", "double": "double", "string": "string",
                     "binary": "binary", "date": "date", "timestamp": "timestamp", "void": "string"}  # fmt: skip


def spark_type(t: schema.Type):
    """A Hive type (parsed) as Spark's JSON schema form; ValueError for what Spark has no type for."""
    if isinstance(t, str):
        if t in _SPARK_PRIMITIVES:
            return _SPARK_PRIMITIVES[t]
        if schema.decimal_args(t):
            p, s = schema.decimal_args(t)
            return f"decimal({p},{s})"
        if t.startswith(("varchar", "char")):
            return "string"
        raise ValueError(f"Spark has no type for {t}")
    kind = t[0]
    if kind == "array":
        return {"type": "array", "elementType": spark_type(t[1]), "containsNull": True}
    if kind == "map":
        return {
            "type": "map",
            "keyType": spark_type(t[1]),
            "valueType": spark_type(t[2]),
            "valueContainsNull": True,
        }
    if kind == "struct":
        return {"type": "struct", "fields": [_spark_field(n, ft) for n, ft in t[1]]}
    raise ValueError(f"Spark has no type for {schema.type_string(t)}")


def _spark_field(name: str, t: schema.Type) -> dict:
    return {"name": name, "type": spark_type(t), "nullable": True, "metadata": {}}


def spark_schema(columns: Sequence[Column], partition_keys: Sequence[Column] = ()) -> str | None:
    """Spark's schema JSON for the data columns followed by the partition keys; None when some type has
    no Spark equivalent (uniontype)."""
    try:
        fields = [_spark_field(c.name, schema.parse_type(c.type)) for c in columns]
        fields += [_spark_field(k.name.lower(), schema.parse_type(k.type)) for k in partition_keys]
    except ValueError:
        return None
    return json.dumps({"type": "struct", "fields": fields}, separators=(",", ":"))


def _spark_schema_parameters(c: Classification, partition_keys: Sequence[Column]) -> dict[str, str]:
    text = spark_schema(c.columns, partition_keys)
    if text is None:
        return {}
    out: dict[str, str] = {}
    if len(text) <= SCHEMA_PART:
        out["spark.sql.sources.schema"] = text
    else:
        parts = [text[i : i + SCHEMA_PART] for i in range(0, len(text), SCHEMA_PART)]
        out["spark.sql.sources.schema.numParts"] = str(len(parts))
        for i, p in enumerate(parts):
            out[f"spark.sql.sources.schema.part.{i}"] = p
    if partition_keys:
        out["spark.sql.sources.schema.numPartCols"] = str(len(partition_keys))
        for i, k in enumerate(partition_keys):
            out[f"spark.sql.sources.schema.partCol.{i}"] = k.name.lower()
    return out


# ---------------------------------------------------------------------------------------------------------
# Avro reader schema


def _nullable(t):
    if isinstance(t, list):
        members = [m for m in t if m != "null"]
        return ["null", *members]
    return ["null", t]


def _avro_for(t: schema.Type, name: str, taken: set[str]):
    if isinstance(t, str):
        if t in ("tinyint", "smallint", "int"):
            return "int"
        simple = {"boolean": "boolean", "bigint": "long", "float": "float", "double": "double",
                  "binary": "bytes", "void": "string", "string": "string"}  # fmt: skip
        if t in simple:
            return simple[t]
        if t == "date":
            return {"type": "int", "logicalType": "date"}
        if t == "timestamp":
            return {"type": "long", "logicalType": "timestamp-millis"}
        if schema.decimal_args(t):
            p, s = schema.decimal_args(t)
            return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}
        return "string"
    kind = t[0]
    if kind == "array":
        return {"type": "array", "items": _nullable(_avro_for(t[1], name + "_item", taken))}
    if kind == "map":
        return {"type": "map", "values": _nullable(_avro_for(t[2], name + "_value", taken))}
    if kind == "struct":
        rec = re.sub(r"\W", "_", name) or "record"
        base, i = rec, 1
        while rec in taken:
            rec = f"{base}_{i}"
            i += 1
        taken.add(rec)
        fields = [
            {"name": n, "type": _nullable(_avro_for(ft, f"{rec}_{n}", taken)), "default": None}
            for n, ft in t[1]
        ]
        return {"type": "record", "name": rec, "fields": fields}
    raise ValueError(f"no Avro type for {schema.type_string(t)}")


def avro_schema(c: Classification) -> str:
    """The reader schema for the table: the file's own schema when the table's columns are its columns;
    otherwise its fields for the unchanged columns (made nullable with a null default, so that files
    without them still read) and generated fields for the new and widened ones."""
    literal = c.serde_parameters.get("avro.schema.literal")
    original = json.loads(literal) if literal else None
    own: dict[str, dict] = {}
    if original and original.get("type") == "record":
        for fd in original.get("fields", []):
            own[fd["name"].lower()] = fd
        try:
            own_cols = [
                (fd["name"].lower(), schema.normalize_type(avro_to_hive(fd["type"])))
                for fd in original["fields"]
            ]
        except (ValueError, KeyError):
            own_cols = None
        if own_cols == [(col.name.lower(), schema.normalize_type(col.type)) for col in c.columns]:
            return literal
    taken: set[str] = set()
    fields = []
    for col in c.columns:
        fd = own.get(col.name.lower())
        if fd is not None:
            try:
                same = schema.normalize_type(avro_to_hive(fd["type"])) == schema.normalize_type(col.type)
            except (ValueError, KeyError):
                same = False
            if same:
                fields.append({**fd, "type": _nullable(fd["type"]), "default": None})
                continue
        fields.append({"name": col.name, "type": _nullable(_avro_for(schema.parse_type(col.type), col.name, taken)),
                       "default": None})  # fmt: skip
    record = {"type": "record", "name": (original or {}).get("name", "record"), "fields": fields}
    if original and original.get("namespace"):
        record["namespace"] = original["namespace"]
    return json.dumps(record, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------------------
# storage descriptor and table parameters


def _hive_columns(c: Classification, as_strings: bool = False) -> list[Column]:
    return [Column(col.name.lower(), "string" if as_strings else schema.hive_type(col.type), col.comment)
            for col in c.columns]  # fmt: skip


def storage_descriptor(c: Classification, location: str) -> StorageDescriptor:
    """The storage descriptor of a table (or partition) of files classified as `c` at `location`."""
    kind = reader_kind(c)
    params = dict(c.serde_parameters)
    compressed = c.compression is not None
    if kind == "parquet":
        return StorageDescriptor(
            cols=_hive_columns(c), location=location, input_format=PARQUET_INPUT, output_format=PARQUET_OUTPUT,
            serde=SerDe(serialization_lib=PARQUET_SERDE, parameters={"serialization.format": "1"}),
        )  # fmt: skip
    if kind == "orc":
        return StorageDescriptor(
            cols=_hive_columns(c), location=location, input_format=ORC_INPUT, output_format=ORC_OUTPUT,
            serde=SerDe(serialization_lib=ORC_SERDE, parameters={"serialization.format": "1"}),
        )  # fmt: skip
    if kind == "avro":
        return StorageDescriptor(
            cols=_hive_columns(c), location=location, input_format=AVRO_INPUT, output_format=AVRO_OUTPUT,
            serde=SerDe(serialization_lib=AVRO_SERDE, parameters={"avro.schema.literal": avro_schema(c)}),
        )  # fmt: skip
    if kind == "grok":
        params = {"input.regex": c.serde_parameters["input.regex"]}
        return StorageDescriptor(
            cols=_hive_columns(c), location=location, input_format=TEXT_INPUT, output_format=TEXT_OUTPUT,
            compressed=compressed, serde=SerDe(serialization_lib=REGEX_SERDE, parameters=params),
        )  # fmt: skip
    if kind == "csv":
        header = _csv_header(c)
        if _quoted_csv(c):
            sep, quote = params["separatorChar"], params.get("quoteChar", '"')
            escape = params.get("escape", params.get("escapeChar", "\\"))
            spark = {"sep": sep, "quote": quote, "escape": escape}
            params = {k: v for k, v in params.items() if k != "escape"}
            serde = SerDe(serialization_lib=OPEN_CSV_SERDE, parameters=params)
            cols = _hive_columns(c, as_strings=True)
        else:
            delim = params.get("field.delim", ",")
            spark = {"sep": delim, "quote": ""}  # no quoting: as LazySimpleSerDe reads the fields
            serde = SerDe(serialization_lib=LAZY_SIMPLE_SERDE,
                          parameters={"field.delim": delim, "serialization.format": delim})  # fmt: skip
            cols = _hive_columns(c)
        if spark_provider(c):  # options of Spark's csv reader
            serde.parameters.update({**spark, "header": "true" if header else "false", "path": location})
        return StorageDescriptor(cols=cols, location=location, input_format=TEXT_INPUT, output_format=TEXT_OUTPUT,
                                 compressed=compressed, serde=serde)  # fmt: skip
    if kind == "json":
        params["path"] = location
        return StorageDescriptor(
            cols=_hive_columns(c), location=location, input_format=TEXT_INPUT, output_format=TEXT_OUTPUT,
            compressed=compressed, serde=SerDe(serialization_lib=JSON_TABLE_SERDE, parameters=params),
        )  # fmt: skip
    if kind == "xml":
        tag = params["rowTag"]
        params.update({"path": location, "xmlinput.start": f"<{tag}", "xmlinput.end": f"</{tag}>"})
        return StorageDescriptor(
            cols=_hive_columns(c), location=location, input_format=XML_INPUT, output_format=TEXT_OUTPUT,
            compressed=compressed, serde=SerDe(serialization_lib=XML_SERDE, parameters=params),
        )  # fmt: skip
    raise ValueError(kind)


def table_parameters(c: Classification, partition_keys: Sequence[Column] = ()) -> dict[str, str]:
    """The table's parameters: Glue's descriptive ones (classification, compressionType, typeOfData,
    the classifier's own), EXTERNAL, and Spark's schema (and provider, for the formats Spark reads as a
    datasource). `partition_keys`, the table's partition columns, belong in Spark's schema: pass them."""
    out = {
        "classification": c.format,
        "compressionType": COMPRESSION_NAMES.get(c.compression or "", "none"),
        "typeOfData": "file",
        "EXTERNAL": "TRUE",
    }
    out.update({k: v for k, v in c.table_parameters.items() if k not in ("grokPattern",) or len(v) < 4000})
    if reader_kind(c) == "avro":
        out["avro.schema.literal"] = avro_schema(c)
    if c.row_count_estimate is not None:
        out["recordCount"] = str(c.row_count_estimate)
    if reader_kind(c) == "json":
        out[HIVE_SERDE_PARAM] = JSON_SERDE
    provider = spark_provider(c)
    if provider:
        out["spark.sql.sources.provider"] = provider
        if partition_keys:
            out["spark.sql.partitionProvider"] = "catalog"
    out.update(_spark_schema_parameters(c, partition_keys))
    return out
