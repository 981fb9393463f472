"""Classifiers, type inference, schema merging and storage descriptors (runner/crawler), on real files the
tests write; the last test reads tables described by our storage descriptors with Spark SQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import fastavro
import fsspec
import pyarrow as pa
import pytest

from metastore.catalog.types import Column
from runner.crawler import formats, schema
from runner.crawler.classifiers import (
    HEAD,
    Classification,
    ClassificationError,
    CustomClassifier,
    choose,
    classify,
    compile_grok,
    parse_partial_json,
)
from tests import crawler_data as data

FS = fsspec.filesystem("file")


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def cls(path: Path, custom=(), fs=FS) -> Classification | None:
    return classify(fs, str(path), path.stat().st_size, custom)


def cols(c: Classification) -> list[tuple[str, str]]:
    return [(x.name, x.type) for x in c.columns]


class CountingFile:
    def __init__(self, f, counter: list[int]):
        self.f, self.counter = f, counter

    def read(self, n=-1):
        b = self.f.read(n)
        self.counter[0] += len(b)
        return b

    def readinto(self, buf):
        n = self.f.readinto(buf)
        self.counter[0] += n or 0
        return n

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


class CountingFS:
    """A local filesystem that counts the bytes read through it."""

    def __init__(self):
        self.read = [0]

    def open(self, path, mode="rb", **kw):
        return CountingFile(FS.open(path, mode, **kw), self.read)


# =========================================================================================================
# binary formats


def test_parquet_columns_from_the_footer_only(tmp_path):
    n = 200_000
    rnd = random.Random(1)
    table = pa.table({
        "i8": pa.array([1] * n, pa.int8()), "i16": pa.array([1] * n, pa.int16()),
        "i32": pa.array(range(n), pa.int32()), "i64": pa.array(range(n), pa.int64()),
        "u64": pa.array([1] * n, pa.uint64()), "f32": pa.array([0.5] * n, pa.float32()),
        "f64": [rnd.random() for _ in range(n)], "flag": [True] * n,
        "Name": [f"name-{rnd.random()}" for _ in range(n)], "raw": pa.array([b"x"] * n, pa.binary()),
        "day": pa.array([dt.date(2024, 1, 1)] * n, pa.date32()),
        "at": pa.array([dt.datetime(2024, 1, 1)] * n, pa.timestamp("ms")),
        "at_tz": pa.array([dt.datetime(2024, 1, 1)] * n, pa.timestamp("us", tz="UTC")),
        "price": pa.array([Decimal("1.25")] * n, pa.decimal128(12, 2)),
        "tags": pa.array([["a"]] * n, pa.list_(pa.string())),
        "info": pa.array([{"x": 1, "y": "z"}] * n, pa.struct([("x", pa.int64()), ("y", pa.string())])),
        "attrs": pa.array([[("k", 1)]] * n, pa.map_(pa.string(), pa.int32())),
        "kind": pa.array(["a"] * n).dictionary_encode(),
    })  # fmt: skip
    p = write(tmp_path / "t.parquet", data.parquet_bytes(table))
    fs = CountingFS()
    c = cls(p, fs=fs)
    assert c.format == "parquet" and c.certainty == 1.0 and c.compression is None
    assert cols(c) == [
        ("i8", "tinyint"), ("i16", "smallint"), ("i32", "int"), ("i64", "bigint"), ("u64", "decimal(20,0)"),
        ("f32", "float"), ("f64", "double"), ("flag", "boolean"), ("Name", "string"), ("raw", "binary"),
        ("day", "date"), ("at", "timestamp"), ("at_tz", "timestamp"), ("price", "decimal(12,2)"),
        ("tags", "array<string>"), ("info", "struct<x:bigint,y:string>"), ("attrs", "map<string,int>"),
        ("kind", "string"),
    ]  # fmt: skip
    assert c.row_count_estimate == n
    size = p.stat().st_size
    assert size > 2_000_000
    assert fs.read[0] < size / 10, f"read {fs.read[0]} of {size} bytes"


def test_orc_columns_and_row_count(tmp_path):
    table = pa.table({"id": pa.array([1, 2, 3], pa.int32()), "name": ["a", "b", None],
                      "score": pa.array([1.0, 2.0, 3.0]), "day": pa.array([dt.date(2024, 1, 1)] * 3, pa.date32()),
                      "tags": pa.array([["x"], [], None], pa.list_(pa.string()))})  # fmt: skip
    c = cls(write(tmp_path / "part-0", data.orc_bytes(table)))
    assert c.format == "orc" and c.certainty == 1.0
    assert cols(c) == [("id", "int"), ("name", "string"), ("score", "double"), ("day", "date"),
                       ("tags", "array<string>")]  # fmt: skip
    assert c.row_count_estimate == 3


AVRO_SCHEMA = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "DONE"]}},
        {"name": "address", "type": {"type": "record", "name": "Address",
                                     "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "int"}]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "double"}},
        {"name": "home", "type": ["null", "Address"], "default": None},
        {"name": "digest", "type": {"type": "fixed", "name": "MD5", "size": 16}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    ],
}  # fmt: skip


def _order(i: int) -> dict:
    return {"id": i, "qty": 2, "note": None, "price": Decimal("9.99"), "day": dt.date(2024, 1, 1),
            "at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "status": "NEW",
            "address": {"city": "Oslo", "zip": 1}, "tags": ["a"], "attrs": {"k": 1.0}, "home": None,
            "digest": b"0123456789abcdef", "at_us": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}  # fmt: skip


def test_avro_columns_from_the_header(tmp_path):
    p = write(
        tmp_path / "orders.avro", data.avro_bytes(AVRO_SCHEMA, [_order(i) for i in range(5)], "deflate")
    )
    c = cls(p)
    assert c.format == "avro" and c.certainty == 1.0
    assert cols(c) == [
        ("id", "bigint"), ("qty", "int"), ("note", "string"), ("price", "decimal(9,2)"), ("day", "date"),
        ("at", "timestamp"), ("status", "string"), ("address", "struct<city:string,zip:int>"),
        ("tags", "array<string>"), ("attrs", "map<string,double>"), ("home", "struct<city:string,zip:int>"),
        ("digest", "binary"), ("at_us", "bigint"),  # Hive 2.3's AvroSerDe knows timestamp-millis only
    ]  # fmt: skip
    assert c.row_count_estimate == 5
    assert json.loads(c.serde_parameters["avro.schema.literal"])["name"] == "Order"


def test_avro_header_only_for_a_large_file(tmp_path):
    records = [{"id": i, "s": "x" * 100} for i in range(30_000)]
    sch = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "id", "type": "long"}, {"name": "s", "type": "string"}],
    }
    p = write(tmp_path / "big.avro", data.avro_bytes(sch, records))
    fs = CountingFS()
    c = cls(p, fs=fs)
    assert cols(c) == [("id", "bigint"), ("s", "string")]
    assert c.row_count_estimate is None  # not counted: that would read the file
    assert fs.read[0] < p.stat().st_size / 10


# =========================================================================================================
# JSON


def test_json_lines_types(tmp_path):
    many = {f"k{i}": i for i in range(60)}
    records = [
        {"id": 1, "name": "a", "flag": True, "score": 1, "ratio": 0.5, "big": 12345678901234567.25, "day": "2024-01-01",
         "at": "2024-01-01 10:00:00", "iso": "2024-01-01T10:00:00Z", "tags": ["x"], "nested": {"a": 1, "b": {"c": "d"}},
         "by_day": {"2024-01-01": 1}, "wide": many, "mixed": 1, "empty": None, "ints": [1, 2]},
        {"id": 2, "name": "b", "flag": False, "score": 2.5, "ratio": 1, "big": 1.5, "day": "2024-01-02",
         "at": "2024-01-02 11:00:00.123", "iso": "x", "tags": [], "nested": {"a": 2, "e": True},
         "by_day": {"2024-01-02": 2.5}, "wide": {"k0": 1}, "mixed": "one", "empty": None, "ints": [3.5]},
    ]  # fmt: skip
    text = "".join(json.dumps(r) + "\n" for r in records)
    c = cls(write(tmp_path / "a.json", text))
    assert c.format == "json" and c.certainty == 1.0 and c.serde_parameters == {}
    assert cols(c) == [
        ("id", "bigint"), ("name", "string"), ("flag", "boolean"), ("score", "double"), ("ratio", "double"),
        ("big", "double"),  # json.dumps wrote the float 1.2345678901234568e+16: an exponent is a double
        ("day", "date"), ("at", "timestamp"), ("iso", "string"), ("tags", "array<string>"),
        ("nested", "struct<a:bigint,b:struct<c:string>,e:boolean>"), ("by_day", "map<string,double>"),
        ("wide", "map<string,bigint>"), ("mixed", "string"), ("empty", "void"), ("ints", "array<double>"),
    ]  # fmt: skip
    assert c.row_count_estimate == 2


def test_json_decimal_when_a_double_would_change_the_value(tmp_path):
    text = '{"amount": 12345678901234567.25, "small": 1.25}\n{"amount": 1.5, "small": 2}\n{"amount": 3, "small": 0.125}\n'
    c = cls(write(tmp_path / "a.json", text))
    assert cols(c) == [("amount", "decimal(19,2)"), ("small", "double")]


def test_json_array_and_pretty_document(tmp_path):
    c = cls(write(tmp_path / "a.json", json.dumps([{"id": 1, "v": "a"}, {"id": 2, "w": 1.5}], indent=2)))
    assert c.format == "json" and c.serde_parameters == {"multiLine": "true"}
    assert cols(c) == [("id", "bigint"), ("v", "string"), ("w", "double")]
    c = cls(write(tmp_path / "b.json", json.dumps({"id": 1, "info": {"x": [1, 2]}}, indent=2)))
    assert c.serde_parameters == {"multiLine": "true"} and cols(c) == [
        ("id", "bigint"),
        ("info", "struct<x:array<bigint>>"),
    ]


def test_json_array_larger_than_the_sample(tmp_path):
    records = [{"id": i, "payload": "x" * 50, "n": {"a": i}} for i in range(5000)]
    p = write(tmp_path / "big.json", json.dumps(records, indent=1))
    assert p.stat().st_size > 4 * HEAD
    c = cls(p)
    assert c.format == "json" and cols(c) == [
        ("id", "bigint"),
        ("payload", "string"),
        ("n", "struct<a:bigint>"),
    ]
    assert 2500 < c.row_count_estimate < 10000


def test_partial_json_parser():
    assert parse_partial_json('{"a": [1, 2], "b": "x"}') == ({"a": [1, 2], "b": "x"}, True)
    assert parse_partial_json('[{"a": 1}, {"a": 2}, {"a"') == ([{"a": 1}, {"a": 2}], False)
    assert parse_partial_json('{"records": [{"a": 1}, {"a": 12') == ({"records": [{"a": 1}]}, False)
    assert parse_partial_json("[1, 2, 3") == ([1, 2], False)  # 3 may be the start of 345
    with pytest.raises(ValueError):
        parse_partial_json('{"a": 1} x')
    with pytest.raises(ValueError):
        parse_partial_json("[1, 2,, 3]")


def test_json_lines_with_some_bad_lines(tmp_path):
    good = "".join(json.dumps({"id": i}) + "\n" for i in range(8))
    c = cls(write(tmp_path / "a.json", good + "not json\n{broken\n"))
    assert c.format == "json" and c.certainty == 0.8 and cols(c) == [("id", "bigint")]


# =========================================================================================================
# XML


def test_xml_row_tag_and_columns(tmp_path):
    xml = ('<?xml version="1.0"?>\n<catalog><books>\n'
           '<book id="1" lang="en"><title>Dune</title><price>9.5</price><author>Herbert</author>'
           '<pub><year>1965</year><city>Philadelphia</city></pub></book>\n'
           '<book id="2"><title>Emma</title><price>4</price><author>Austen</author><author>X</author>'
           '<pub><year>1815</year></pub></book>\n</books></catalog>\n')  # fmt: skip
    c = cls(write(tmp_path / "books.xml", xml))
    assert c.format == "xml" and c.certainty == 1.0 and c.serde_parameters == {"rowTag": "book"}
    assert cols(c) == [("_id", "bigint"), ("_lang", "string"), ("title", "string"), ("price", "double"),
                       ("author", "array<string>"), ("pub", "struct<year:bigint,city:string>")]  # fmt: skip
    assert c.row_count_estimate == 2


def test_broken_xml_is_not_xml(tmp_path):
    assert cls(write(tmp_path / "a.xml", "<a><b>1</b><b>2</c></a>\n")) is None


# =========================================================================================================
# logs


LOG_LINES = {
    "combined_apache": '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
                       '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    "apache": '192.168.1.20 - - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 200 3395',
    "linux_kernel": "Jan  1 00:00:00 host kernel: [    0.000000] Linux version 5.4.0",
    "ruby_logger": "I, [2024-01-01T10:00:00.123456 #1234]  INFO -- app: hello there",
    "squid": "1286536309.586    921 192.168.0.68 TCP_MISS/200 507 POST http://rcv.example.com/x - "
             "DIRECT/203.0.113.9 application/xml",
    "redismonlog": '1339518083.107412 [0 127.0.0.1:60866] "keys" "*"',
    "redislog": "[4018] 14 Nov 07:01:22.119 * Background saving terminated with success",
    "syslog": "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8",
}  # fmt: skip


@pytest.mark.parametrize("fmt", list(LOG_LINES))
def test_log_formats(tmp_path, fmt):
    c = cls(write(tmp_path / "app.log", (LOG_LINES[fmt] + "\n") * 3))
    assert c.format == fmt and c.certainty == 1.0
    assert all(t == "string" for _, t in cols(c))
    assert c.table_parameters["grokPattern"]
    # the Java regex for RegexSerDe has one capturing group per column
    regex = c.serde_parameters["input.regex"]
    assert compile_grok(c.table_parameters["grokPattern"]).python.groups == len(c.columns)
    assert "(?P" not in regex


def test_apache_fields(tmp_path):
    c = cls(
        write(
            tmp_path / "access.log", LOG_LINES["combined_apache"] + "\n" + LOG_LINES["combined_apache"] + "\n"
        )
    )
    assert [n for n, _ in cols(c)] == ["clientip", "ident", "auth", "timestamp", "verb", "request", "httpversion",
                                       "rawrequest", "response", "bytes", "referrer", "agent"]  # fmt: skip
    g = compile_grok("%{COMBINEDAPACHELOG}")
    assert g.match(LOG_LINES["combined_apache"]) == (
        "127.0.0.1", "-", "frank", "10/Oct/2000:13:55:36 -0700", "GET", "/apache_pb.gif", "1.0", None, "200", "2326",
        "http://www.example.com/start.html", "Mozilla/4.08 [en] (Win98; I ;Nav)")  # fmt: skip


def test_grok_compiler():
    g = compile_grok(
        r"%{WORD:level} (?<code>\d+) (\w+) %{NUMBER:ms:double} %{MYID:id:int}", "MYID [0-9]+\n# c\n"
    )
    assert g.fields == [("level", "string"), ("code", "string"), ("ms", "double"), ("id", "int")]
    assert g.match("INFO 42 word 1.5 7") == ("INFO", "42", "1.5", "7")
    assert g.match("INFO 42 word 1.5 7 trailing") is None  # whole lines
    with pytest.raises(ValueError, match="unknown grok pattern"):
        compile_grok("%{NOPE:x}")
    with pytest.raises(ValueError, match="unknown type"):
        compile_grok("%{WORD:x:weird}")


# =========================================================================================================
# CSV


PEOPLE_TYPES = [("id", "bigint"), ("name", "string"), ("score", "double"), ("day", "date"), ("at", "timestamp"),
                ("ok", "boolean")]  # fmt: skip


@pytest.mark.parametrize("delimiter", [",", "\t", "|", ";", "\u0001"])
def test_csv_delimiters_and_header(tmp_path, delimiter):
    p = write(tmp_path / "people.txt", data.csv_text(data.PEOPLE_HEADER, data.PEOPLE, delimiter))
    c = cls(p)
    assert c.format == "csv" and c.certainty == 1.0
    assert cols(c) == PEOPLE_TYPES
    assert c.serde_parameters == {"field.delim": delimiter, "serialization.format": delimiter}
    assert c.table_parameters["skip.header.line.count"] == "1"
    assert c.table_parameters["areColumnsQuoted"] == "false"
    assert c.row_count_estimate == 3


def test_csv_without_header(tmp_path):
    c = cls(write(tmp_path / "a.csv", "1,alpha,2024-01-01\n2,beta,2024-01-02\n"))
    assert cols(c) == [("col0", "bigint"), ("col1", "string"), ("col2", "date")]
    assert "skip.header.line.count" not in c.table_parameters


def test_csv_all_strings_is_not_a_header(tmp_path):
    # Glue's rule: a header only when some data column is not a string; here nothing tells them apart
    c = cls(write(tmp_path / "a.csv", "first,last\nada,lovelace\nalan,turing\n"))
    assert cols(c) == [("col0", "string"), ("col1", "string")]
    assert "skip.header.line.count" not in c.table_parameters
    assert c.row_count_estimate == 3


@pytest.mark.parametrize("first", ["id,id", "id,2", "id,", "1,name"])
def test_csv_header_needs_unique_non_empty_string_names(tmp_path, first):
    c = cls(write(tmp_path / "a.csv", f"{first}\n1,x\n2,y\n"))
    assert [n for n, _ in cols(c)] == ["col0", "col1"]


def test_csv_quoted_fields(tmp_path):
    c = cls(write(tmp_path / "a.csv", 'id,name,note\n1,"Smith, John","said ""hi"""\n2,plain,x\n'))
    assert cols(c) == [("id", "bigint"), ("name", "string"), ("note", "string")]
    assert c.serde_parameters == {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\", "escape": '"'}
    assert c.table_parameters["areColumnsQuoted"] == "true"


def test_csv_leading_zeros_and_nulls(tmp_path):
    c = cls(write(tmp_path / "a.csv", "zip,n,empty,big\n01234,1,,123456789012345678901\n90210,,,1\n"))
    assert cols(c) == [("zip", "string"), ("n", "bigint"), ("empty", "void"), ("big", "decimal(21,0)")]


def test_single_column_and_single_line_are_not_csv(tmp_path):
    assert cls(write(tmp_path / "a.txt", "alpha\nbeta\ngamma\n")) is None
    assert cls(write(tmp_path / "b.csv", "a,b,c\n")) is None


def test_unknown_content(tmp_path):
    assert cls(write(tmp_path / "empty.csv", b"")) is None
    assert cls(write(tmp_path / "random.bin", random.Random(2).randbytes(5000))) is None


# =========================================================================================================
# compression


@pytest.mark.parametrize("codec", ["gzip", "bz2", "zstd", "lz4", "snappy"])
def test_compressed_files_are_classified_by_content(tmp_path, codec):
    text = data.csv_text(data.PEOPLE_HEADER, data.PEOPLE)
    p = write(tmp_path / "data.txt", data.compress(text.encode(), codec))  # the name says nothing
    c = cls(p)
    assert c.format == "csv" and c.compression == codec and cols(c) == PEOPLE_TYPES
    assert c.unreadable_reason  # readers would not decompress it: see test_unreadable_reasons
    j = cls(write(tmp_path / "data2", data.compress(b'{"a": 1}\n{"a": 2}\n', codec)))
    assert j.format == "json" and j.compression == codec and cols(j) == [("a", "bigint")]


@pytest.mark.parametrize("codec", ["snappy", "lz4"])
def test_hadoop_block_format_by_extension(tmp_path, codec):
    raw = data.csv_text(data.PEOPLE_HEADER, data.PEOPLE * 1000).encode()
    c = cls(write(tmp_path / f"part-0.csv.{codec}", data.hadoop_compress(raw, codec, block=10_000)))
    assert c.compression == codec and cols(c) == PEOPLE_TYPES and c.unreadable_reason is None
    assert 2000 < c.row_count_estimate < 4000
    with pytest.raises(ClassificationError, match=f"^{codec}"):
        cls(write(tmp_path / f"bad.csv.{codec}", b"\x00\x00\x10\x00" + random.Random(5).randbytes(3000)))


@pytest.mark.parametrize(
    "name, content, reason",
    [
        (
            "a.txt",
            lambda raw: data.compress(raw, "gzip"),
            "gzip-compressed, but its name does not end in .gz",
        ),
        ("a.csv.bz2", lambda raw: data.compress(raw, "bz2"), None),
        ("a.csv.zst", lambda raw: data.compress(raw, "zstd"), None),
        ("a.csv.gz", lambda raw: data.compress(raw, "gzip"), None),
        ("a.csv.lz4", lambda raw: data.compress(raw, "lz4"), "lz4: the LZ4 frame format"),
        ("a.csv.sz", lambda raw: data.compress(raw, "snappy"), "snappy: the snappy framing format"),
        ("a.csv.gz", lambda raw: raw, "named .gz but not gzip-compressed"),
        ("a.csv", lambda raw: raw, None),
    ],
)
def test_unreadable_reasons(tmp_path, name, content, reason):
    p = write(tmp_path / name, content(data.csv_text(data.PEOPLE_HEADER, data.PEOPLE).encode()))
    c = cls(p)
    assert c.format == "csv" and cols(c) == PEOPLE_TYPES
    if reason is None:
        assert c.unreadable_reason is None
        assert classify(FS, str(p), p.stat().st_size, strict=True) is not None
    else:
        assert c.unreadable_reason.startswith(reason)
        with pytest.raises(ClassificationError, match=reason.split(":")[0]):
            classify(FS, str(p), p.stat().st_size, strict=True)


@pytest.mark.parametrize("codec", ["gzip", "bz2", "zstd", "lz4", "snappy"])
def test_large_compressed_file_is_sampled(tmp_path, codec):
    rnd = random.Random(3)
    rows = [
        [i, f"name{rnd.random()}", rnd.random(), "2024-01-01", "2024-01-01 00:00:00", True]
        for i in range(200_000)
    ]
    raw = data.csv_text(data.PEOPLE_HEADER, rows).encode()
    p = write(tmp_path / "big.csv", data.compress(raw, codec))
    fs = CountingFS()
    c = cls(p, fs=fs)
    assert c.compression == codec and cols(c) == PEOPLE_TYPES
    assert fs.read[0] < p.stat().st_size / 4, f"read {fs.read[0]} of {p.stat().st_size}"
    assert 100_000 < c.row_count_estimate < 400_000


# =========================================================================================================
# broken files


def _parquet(tmp_path) -> bytes:
    return data.parquet_bytes(pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]}))


@pytest.mark.parametrize(
    "name, make, reason",
    [
        ("truncated.parquet", lambda b: b[: len(b) // 2], "parquet: no PAR1 magic"),
        ("footer.parquet", lambda b: b[:-12] + b"\xff" * 8 + b"PAR1", "parquet: unreadable footer"),
        ("tiny.parquet", lambda b: b"PAR1", "parquet: file too small"),
    ],
)
def test_broken_parquet(tmp_path, name, make, reason):
    p = write(tmp_path / name, make(_parquet(tmp_path)))
    with pytest.raises(ClassificationError) as e:
        cls(p)
    assert e.value.reason.startswith(reason)


def test_broken_orc_and_avro(tmp_path):
    orc = data.orc_bytes(pa.table({"a": [1, 2, 3]}))
    with pytest.raises(ClassificationError, match="orc"):
        cls(write(tmp_path / "t.orc", orc[: len(orc) - 20]))
    avro = data.avro_bytes({"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]},
                           [{"a": i} for i in range(100)])  # fmt: skip
    with pytest.raises(ClassificationError, match="avro"):
        cls(write(tmp_path / "h.avro", avro[:12]))
    with pytest.raises(ClassificationError, match="avro: corrupt data block"):
        cls(write(tmp_path / "d.avro", avro[: len(avro) - 30]))


@pytest.mark.parametrize("codec", ["gzip", "bz2", "zstd", "lz4", "snappy"])
def test_truncated_compressed_file(tmp_path, codec):
    raw = data.csv_text(data.PEOPLE_HEADER, data.PEOPLE * 50).encode()
    comp = data.compress(raw, codec)
    with pytest.raises(ClassificationError) as e:
        cls(write(tmp_path / "t.dat", comp[: len(comp) - 9]))
    assert e.value.reason.startswith(codec) and "truncated" in e.value.reason


@pytest.mark.parametrize("codec", ["gzip", "bz2", "zstd", "lz4", "snappy"])
def test_invalid_compressed_data(tmp_path, codec):
    raw = data.csv_text(data.PEOPLE_HEADER, data.PEOPLE * 50).encode()
    comp = bytearray(data.compress(raw, codec))
    header = {"gzip": 10, "bz2": 10, "zstd": 6, "lz4": 7, "snappy": 18}[codec]
    comp[header : header + 40] = random.Random(4).randbytes(40)
    with pytest.raises(ClassificationError) as e:
        cls(write(tmp_path / "bad.gz", bytes(comp)))
    assert e.value.reason.startswith(codec)


def test_compressed_parquet_is_reported(tmp_path):
    with pytest.raises(ClassificationError, match="parquet inside gzip"):
        cls(write(tmp_path / "t.parquet.gz", data.compress(_parquet(tmp_path), "gzip")))


# =========================================================================================================
# custom classifiers


def test_custom_grok_wins_over_builtin_csv(tmp_path):
    p = write(tmp_path / "a.txt", "alpha,1\nbeta,2\ngamma,3\n")
    assert cls(p).format == "csv"
    custom = CustomClassifier("pairs", "grok", "pairs", grok_pattern="%{WORD:name},%{MYNUM:n:int}",
                              custom_patterns="MYNUM [0-9]+")  # fmt: skip
    c = cls(p, [custom])
    assert c.format == "pairs" and c.certainty == 1.0 and cols(c) == [("name", "string"), ("n", "int")]
    assert formats.storage_descriptor(c, "file:/x").serde.serialization_lib == formats.REGEX_SERDE


def test_custom_classifiers_in_order(tmp_path):
    p = write(tmp_path / "a.txt", "alpha,1\nbeta,2\n")
    miss = CustomClassifier("miss", "grok", "miss", grok_pattern="%{INT:x} %{INT:y}")
    first = CustomClassifier("first", "grok", "first", grok_pattern="%{WORD:w},%{INT:i}")
    second = CustomClassifier("second", "grok", "second", grok_pattern="%{DATA:all}")
    assert cls(p, [miss, first, second]).format == "first"
    assert cls(p, [second, first]).format == "second"
    assert cls(p, [miss]).format == "csv"  # no custom match: the built-ins


def test_custom_json_path(tmp_path):
    doc = {"meta": {"n": 2}, "records": [{"id": 1, "v": "a"}, {"id": 2, "v": "b", "w": 1.5}]}
    p = write(tmp_path / "a.json", json.dumps(doc))
    assert cols(cls(p)) == [
        ("meta", "struct<n:bigint>"),
        ("records", "array<struct<id:bigint,v:string,w:double>>"),
    ]
    c = cls(p, [CustomClassifier("recs", "json", "records_json", json_path="$.records[*]")])
    assert c.format == "records_json" and cols(c) == [("id", "bigint"), ("v", "string"), ("w", "double")]
    assert c.table_parameters["jsonPath"] == "$.records[*]"
    assert c.unreadable_reason.startswith("JSON path $.records[*]")
    top = cls(
        write(tmp_path / "b.json", json.dumps(doc["records"])),
        [CustomClassifier("t", "json", "t", json_path="$[*]")],
    )
    assert (
        top.format == "t" and top.unreadable_reason is None and top.serde_parameters == {"multiLine": "true"}
    )
    assert cls(p, [CustomClassifier("none", "json", "x", json_path="$.nothing[*]")]).format == "json"


def test_custom_csv(tmp_path):
    p = write(tmp_path / "a.txt", "x;1\ny;2\n")
    c = cls(p, [CustomClassifier("semi", "csv", "semi", csv_delimiter=";", csv_header="ABSENT",
                                 csv_column_names=["key", "value"])])  # fmt: skip
    assert c.format == "semi" and cols(c) == [("key", "string"), ("value", "bigint")]
    assert c.serde_parameters["field.delim"] == ";"
    c = cls(write(tmp_path / "b.txt", "a;b\nx;y\n"), [CustomClassifier("h", "csv", "h", csv_delimiter=";",
                                                                       csv_header="PRESENT")])  # fmt: skip
    assert (
        cols(c) == [("a", "string"), ("b", "string")] and c.table_parameters["skip.header.line.count"] == "1"
    )
    # at least two columns, as Glue: a custom CSV classifier does not claim any text file
    j = cls(
        write(tmp_path / "c.json", '{"a": 1}\n{"a": 2}\n'),
        [CustomClassifier("any", "csv", "any", csv_delimiter=",")],
    )
    assert j.format == "json"


def test_custom_xml_row_tag(tmp_path):
    p = write(tmp_path / "a.xml", "<r><meta><v>1</v></meta><item><a>1</a></item><item><a>2</a></item></r>")
    c = cls(p, [CustomClassifier("items", "xml", "items_xml", xml_row_tag="meta")])
    assert c.format == "items_xml" and cols(c) == [("v", "bigint")]
    assert cls(p).serde_parameters["rowTag"] == "item"


def test_choose_follows_glue():
    def make(name, certainty):
        return lambda: Classification(name, certainty, [])

    assert choose([make("a", 0.5), make("b", 1.0), make("c", 1.0)]).format == "b"
    assert choose([make("a", 0.5), make("b", 0.9), make("c", 0.9)]).format == "b"
    assert choose([lambda: None]) is None


# =========================================================================================================
# types and merging


@pytest.mark.parametrize(
    "a, b, merged",
    [
        ("int", "bigint", "bigint"), ("tinyint", "int", "int"), ("bigint", "double", "double"),
        ("float", "double", "double"), ("bigint", "string", "string"), ("boolean", "bigint", "string"),
        ("date", "timestamp", "timestamp"), ("date", "bigint", "string"), ("decimal(10,2)", "decimal(5,4)", "decimal(12,4)"),
        ("decimal(10,2)", "bigint", "decimal(21,2)"), ("decimal(10,2)", "double", "double"),
        ("decimal(38,10)", "decimal(38,0)", "decimal(38,0)"),
        ("array<int>", "array<bigint>", "array<bigint>"),
        ("struct<a:int,b:string>", "struct<B:string,c:date>", "struct<a:int,b:string,c:date>"),
        ("map<string,int>", "map<string,double>", "map<string,double>"),
        ("struct<a:int>", "map<string,bigint>", "map<string,bigint>"),
        ("void", "date", "date"),
        ("array<int>", "struct<a:int>", None), ("struct<a:int>", "string", None), ("array<int>", "bigint", None),
        ("struct<a:array<int>>", "struct<a:struct<x:int>>", None),
    ],
)  # fmt: skip
def test_merge_types(a, b, merged):
    assert schema.merge_types(a, b) == merged
    assert (schema.merge_types(b, a) is None) == (merged is None)


def test_type_strings_round_trip():
    for t in ["struct<a:int,`b c`:array<map<string,decimal(10,2)>>,`x``y`:string>", "uniontype<int,string>",
              "varchar(10)", "array<struct<>>"]:  # fmt: skip
        assert schema.type_string(schema.parse_type(t)) == t
    assert schema.normalize_type("STRUCT< a : INT , b:Decimal >") == "struct<a:int,b:decimal(10,0)>"
    with pytest.raises(schema.TypeSyntaxError):
        schema.parse_type("array<int")


def test_merge_columns_appends_and_widens():
    a = [Column("id", "int"), Column("Name", "string"), Column("v", "void")]
    b = [Column("name", "string"), Column("ID", "bigint"), Column("extra", "date"), Column("v", "double")]
    merged = schema.merge_columns(a, b)
    assert [(c.name, c.type) for c in merged] == [("id", "bigint"), ("Name", "string"), ("v", "double"),
                                                  ("extra", "date")]  # fmt: skip
    assert a[0].type == "int"  # inputs untouched
    assert schema.merge_columns(a, [Column("id", "array<int>")]) is None


def test_infer_type():
    assert schema.infer_type([1, 2, None]) == "bigint"
    assert schema.infer_type([1, 2.5]) == "double"
    assert schema.infer_type([Decimal("12345678901234567.25"), 1]) == "decimal(19,2)"
    assert schema.infer_type([2**70]) == "decimal(22,0)"
    assert schema.infer_type([10**40]) == "string"
    assert schema.infer_type([None]) == "string" and schema.infer_type([None], nulls="void") == "void"
    assert schema.infer_type(["2024-02-30"]) == "string"  # not a date
    assert schema.infer_type(["2024-02-29 25:00:00"]) == "string"
    assert schema.infer_type(["1", "2"], text=True) == "bigint" and schema.infer_type(["1", "2"]) == "string"
    assert schema.infer_type(["TRUE", "false"], text=True) == "boolean"
    assert schema.infer_type(["1e5", "2"], text=True) == "double"
    assert schema.infer_type([{"a": 1}, {"b": "x"}]) == "struct<a:bigint,b:string>"
    assert schema.infer_type([{str(i): i for i in range(3)}]) == "map<string,bigint>"
    assert (
        schema.infer_type([{"2024-01-01": 1}, {"2024-01-02": [1]}])
        == "struct<`2024-01-01`:bigint,`2024-01-02`:array<bigint>>"
    )
    assert schema.infer_type([[1], "x"]) == "string"


def _csv(delim=",", header=True, quoted=False, compression=None, cols_=None) -> Classification:
    serde = ({"separatorChar": delim, "quoteChar": '"', "escapeChar": "\\"} if quoted
             else {"field.delim": delim, "serialization.format": delim})  # fmt: skip
    table = {"skip.header.line.count": "1"} if header else {}
    return Classification("csv", 1.0, cols_ or [Column("a", "bigint")], compression, serde, table, 10)


def test_compatible_and_merge():
    assert schema.compatible(_csv(), _csv(compression="gzip"))
    assert not schema.compatible(_csv(), _csv(delim=";"))
    assert not schema.compatible(_csv(), _csv(header=False))
    assert not schema.compatible(_csv(), _csv(cols_=[Column("a", "array<int>")]))
    m = schema.merge(_csv(), _csv(quoted=True, cols_=[Column("a", "double"), Column("b", "string")]))
    assert m.serde_parameters["separatorChar"] == "," and [(c.name, c.type) for c in m.columns] == [
        ("a", "double"), ("b", "string")]  # fmt: skip
    assert m.row_count_estimate == 20
    j1 = Classification("json", 1.0, [Column("a", "bigint")])
    j2 = Classification("json", 1.0, [Column("a", "bigint")], serde_parameters={"multiLine": "true"})
    assert not schema.compatible(j1, j2) and schema.merge(j1, j2) is None
    assert not schema.compatible(j1, Classification("parquet", 1.0, [Column("a", "bigint")]))


# =========================================================================================================
# storage descriptors


def test_storage_descriptors(tmp_path):
    pq = Classification("parquet", 1.0, [Column("Id", "bigint")])
    sd = formats.storage_descriptor(pq, "file:/data/t")
    assert (sd.input_format, sd.output_format, sd.serde.serialization_lib) == (
        formats.PARQUET_INPUT, formats.PARQUET_OUTPUT, formats.PARQUET_SERDE)  # fmt: skip
    assert [(c.name, c.type) for c in sd.cols] == [("id", "bigint")] and sd.location == "file:/data/t"
    params = formats.table_parameters(pq, [Column("dt", "string")])
    assert params["classification"] == "parquet" and "spark.sql.sources.provider" not in params
    assert json.loads(params["spark.sql.sources.schema"]) == {"type": "struct", "fields": [
        {"name": "Id", "type": "long", "nullable": True, "metadata": {}},
        {"name": "dt", "type": "string", "nullable": True, "metadata": {}}]}  # fmt: skip
    assert (
        params["spark.sql.sources.schema.numPartCols"] == "1"
        and params["spark.sql.sources.schema.partCol.0"] == "dt"
    )

    js = Classification("json", 1.0, [Column("a", "void"), Column("m", "map<string,decimal(19,2)>")], "gzip")
    sd = formats.storage_descriptor(js, "s3://b/t")
    assert sd.serde.serialization_lib == formats.JSON_TABLE_SERDE and sd.serde.parameters == {"path": "s3://b/t"}
    assert [(c.name, c.type) for c in sd.cols] == [("a", "string"), ("m", "map<string,decimal(19,2)>")]
    params = formats.table_parameters(js)
    assert params["spark.sql.sources.provider"] == "json" and params["compressionType"] == "gzip"
    assert json.loads(params["spark.sql.sources.schema"])["fields"][1]["type"] == {
        "type": "map", "keyType": "string", "valueType": "decimal(19,2)", "valueContainsNull": True}  # fmt: skip

    headerless = _csv(header=False)
    sd = formats.storage_descriptor(headerless, "file:/x")
    assert sd.serde.serialization_lib == formats.LAZY_SIMPLE_SERDE and sd.serde.parameters == {
        "field.delim": ",", "serialization.format": ","}  # fmt: skip
    assert "spark.sql.sources.provider" not in formats.table_parameters(headerless)
    quoted = _csv(quoted=True)
    sd = formats.storage_descriptor(quoted, "file:/x")
    assert sd.serde.serialization_lib == formats.OPEN_CSV_SERDE and [c.type for c in sd.cols] == ["string"]
    assert sd.serde.parameters["header"] == "true" and sd.serde.parameters["sep"] == ","
    assert formats.table_parameters(quoted)["spark.sql.sources.provider"] == "csv"


def test_long_spark_schema_is_split():
    c = Classification("parquet", 1.0, [Column(f"column_number_{i}", "bigint") for i in range(200)])
    params = formats.table_parameters(c)
    n = int(params["spark.sql.sources.schema.numParts"])
    assert n > 1 and "spark.sql.sources.schema" not in params
    text = "".join(params[f"spark.sql.sources.schema.part.{i}"] for i in range(n))
    assert len(json.loads(text)["fields"]) == 200


def test_avro_reader_schema_reads_every_file(tmp_path):
    s1 = {
        "type": "record",
        "name": "R",
        "namespace": "ns",
        "fields": [
            {"name": "id", "type": "int"},
            {
                "name": "addr",
                "type": {"type": "record", "name": "A", "fields": [{"name": "city", "type": "string"}]},
            },
        ],
    }
    s2 = {"type": "record", "name": "R", "namespace": "ns", "fields": [
        {"name": "id", "type": "long"}, {"name": "addr", "type": {"type": "record", "name": "A",
                                                                   "fields": [{"name": "city", "type": "string"}]}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}  # fmt: skip
    p1 = write(tmp_path / "1.avro", data.avro_bytes(s1, [{"id": 1, "addr": {"city": "a"}}]))
    p2 = write(tmp_path / "2.avro", data.avro_bytes(s2, [{"id": 2, "addr": {"city": "b"}, "ts": 0}]))
    c1, c2 = cls(p1), cls(p2)
    assert formats.avro_schema(c1) == c1.serde_parameters["avro.schema.literal"]  # unchanged: the file's own
    merged = schema.merge(c1, c2)
    assert [(c.name, c.type) for c in merged.columns] == [("id", "bigint"), ("addr", "struct<city:string>"),
                                                          ("ts", "timestamp")]  # fmt: skip
    reader = json.loads(formats.avro_schema(merged))
    parsed = fastavro.parse_schema(reader)
    rows = []
    for p in (p1, p2):
        with open(p, "rb") as f:
            rows += [dict(r) for r in fastavro.reader(f, reader_schema=parsed)]
    assert rows == [{"id": 1, "addr": {"city": "a"}, "ts": None},
                    {"id": 2, "addr": {"city": "b"}, "ts": dt.datetime(1970, 1, 1, tzinfo=dt.UTC)}]  # fmt: skip
    sd = formats.storage_descriptor(merged, "file:/x")
    assert sd.serde.parameters["avro.schema.literal"] == formats.avro_schema(merged)


def test_serde_classes_ship_with_pyspark():
    pyspark = pytest.importorskip("pyspark")
    jars = Path(pyspark.__file__).parent / "jars"
    classes = set()
    for jar in jars.glob("*.jar"):
        if jar.name.startswith(("hive-", "spark-hive", "hadoop-client-api")):
            with zipfile.ZipFile(jar) as z:
                classes.update(n[:-6].replace("/", ".") for n in z.namelist() if n.endswith(".class"))
    shipped = [formats.TEXT_INPUT, formats.TEXT_OUTPUT, formats.LAZY_SIMPLE_SERDE, formats.OPEN_CSV_SERDE,
               formats.REGEX_SERDE, formats.PARQUET_INPUT, formats.PARQUET_OUTPUT, formats.PARQUET_SERDE,
               formats.ORC_INPUT, formats.ORC_OUTPUT, formats.ORC_SERDE, formats.AVRO_INPUT, formats.AVRO_OUTPUT,
               formats.AVRO_SERDE]  # fmt: skip
    assert [c for c in shipped if c not in classes] == []
    # no JSON SerDe ships: that is why JSON tables are Spark datasource tables too
    assert formats.JSON_SERDE not in classes and "org.openx.data.jsonserde.JsonSerDe" not in classes


# =========================================================================================================
# Spark SQL reads the tables as described


@pytest.fixture(scope="module")
def spark_answers(tmp_path_factory):
    from metastore.catalog import CatalogService
    from metastore.catalog.types import EXTERNAL_TABLE, Database, Partition, Table
    from tests.conftest import start_metastore, stop_metastore

    tmp = tmp_path_factory.mktemp("crawler-spark")
    root = tmp / "data"
    cases = data.spark_cases(root)
    url = f"sqlite:///{tmp / 'catalog.db'}"
    svc = CatalogService.open(url, str(tmp / "warehouse"))
    svc.databases.create(Database("crawled"))
    classified: dict[str, Classification] = {}
    queries = {}
    for case in cases:
        folder = root / case.name
        data.write_files(folder, case.files)
        merged = None
        for rel in sorted(case.files):
            c = cls(folder / rel)
            assert c is not None, f"{case.name}/{rel} not classified"
            merged = c if merged is None else schema.merge(merged, c)
            assert merged is not None, f"{case.name}/{rel} does not merge"
        classified[case.name] = merged
        keys = [Column(k, "string") for k in case.partition_keys]
        svc.tables.create(Table(
            name=case.name, db_name="crawled", table_type=EXTERNAL_TABLE, partition_keys=keys,
            sd=formats.storage_descriptor(merged, "file:" + str(folder)), parameters=formats.table_parameters(merged, keys),
        ))  # fmt: skip
        if keys:
            leaves = sorted({str(Path(rel).parent) for rel in case.files})
            svc.partitions.add("crawled", case.name, [
                Partition(values=[s.split("=", 1)[-1] for s in leaf.split("/")], db_name="crawled", table_name=case.name,
                          sd=formats.storage_descriptor(merged, "file:" + str(folder / leaf)))
                for leaf in leaves
            ])  # fmt: skip
        queries[case.name] = case.query.format(t=f"crawled.{case.name}")
    svc.ctx.engine.dispose()
    ms = start_metastore("sqlite", tmp, url)
    try:
        (tmp / "queries.json").write_text(json.dumps(queries))
        cmd = [sys.executable, "-m", "tests.crawler_data", "--uri", ms.uri, "--warehouse", str(tmp / "warehouse"),
               "--queries", str(tmp / "queries.json"), "--out", str(tmp / "answers.json")]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=Path(__file__).parent.parent,
                              env={**os.environ, "TZ": "UTC"})  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-5000:]
        answers = json.loads((tmp / "answers.json").read_text())
    finally:
        stop_metastore(ms)
    return cases, classified, answers


@pytest.mark.spark
def test_spark_reads_every_classified_format(spark_answers):
    cases, classified, answers = spark_answers
    for case in cases:
        if case.types:
            assert [c.type for c in classified[case.name].columns] == case.types, case.name
    wrong = {case.name: (answers[case.name], case.expected) for case in cases
             if answers[case.name].get("rows") != case.expected}  # fmt: skip
    assert wrong == {}
    # original spellings come back through Spark's schema property (Hive lower-cases column names)
    assert answers["parquet_part"]["columns"] == ["id", "Name", "extra", "region"]


def test_any_fsspec_filesystem():
    mem = fsspec.filesystem("memory")
    files = {
        "/crawl/t.parquet": _parquet(None),
        "/crawl/a.csv.gz": data.compress(data.csv_text(data.PEOPLE_HEADER, data.PEOPLE).encode(), "gzip"),
    }
    for path, content in files.items():
        mem.pipe(path, content)
    try:
        pq = classify(mem, "/crawl/t.parquet", mem.size("/crawl/t.parquet"))
        assert cols(pq) == [("a", "bigint"), ("b", "string")] and pq.row_count_estimate == 1000
        gz = classify(mem, "/crawl/a.csv.gz", mem.size("/crawl/a.csv.gz"))
        assert gz.compression == "gzip" and cols(gz) == PEOPLE_TYPES and gz.unreadable_reason is None
    finally:
        mem.rm("/crawl", recursive=True)


# --- the fast paths of classification (issue 15) give the answers of the full chain ---------------------


def _full_chain(sample):
    """The built-in classifiers, every one of them tried in Glue's order, as before the fast paths."""
    from runner.crawler.classifiers import _builtins

    return choose([(lambda f=f: f(sample)) for f in _builtins()])


SAMPLES = [
    "id,kind,amount\n1,click,0.5\n",
    "id,kind,amount\n2,view,1\n3,click,\n",
    "a,b\nx,y\n",  # strings only: no header
    "\n\nid;name\n1;a\n2;b\n",  # blank lines first
    "\ufeffid\tname\n1\ta\n",
    "id,code\n007,x\n12345678901234567890123,y\n",  # leading zeros, beyond bigint
    "v\n0.1234567890123456789\n",
    '{"a": 1, "b": "x"}\n{"a": 2}\n',
    '[{"a": 1}, {"a": 2.5}]',
    "  <rows><row><a>1</a></row><row><a>2</a></row></rows>",
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326\n',
    "Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\nid,x\n",
    "id,x\nOct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n",
    '"a","b"\n"1","x ""y"""\n',
    "day,at\n2024-01-02,2024-01-02 10:11:12\n",
    "flag,n\ntrue,1e5\n",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_fast_paths_answer_as_the_full_chain(text):
    """Built-ins left out because of the sample's start (JSON, XML, log formats that cannot match the first
    line), CSV types inferred once and remembered field types change no answer, first time or again."""
    from runner.crawler.classifiers import Sample, classify_sample

    for complete in (True, False):
        for _ in range(2):  # the second time from what was remembered
            a = classify_sample(Sample(text, complete, len(text), len(text)))
            b = _full_chain(Sample(text, complete, len(text), len(text)))
            assert a == b


def test_a_folder_of_like_files_still_tells_each_file_apart(tmp_path):
    """Files of one folder that share their header are each read and typed: the one whose values widen a
    column, the one of another format and the broken one are told apart, as alone."""
    files = {f"f{i}.csv": f"id,kind,amount\n{i},click,{i}\n" for i in range(20)}
    files["wide.csv"] = "id,kind,amount\n5,click,2.5\n"
    files["other.csv"] = '{"id": 1}\n{"id": 2}\n'
    for name, text in files.items():
        write(tmp_path / name, text)
    write(tmp_path / "broken.csv.gz", b"\x1f\x8b\x08\x00 not gzip at all")
    got = {}
    for name in [*files, "broken.csv.gz"]:
        path = str(tmp_path / name)
        try:
            got[name] = classify(FS, path, os.path.getsize(path), strict=True)
        except ClassificationError as e:
            got[name] = str(e)
    assert {got[f"f{i}.csv"].columns[2].type for i in range(20)} == {"bigint"}
    assert got["wide.csv"].columns[2].type == "double"
    assert got["other.csv"].format == "json"
    assert isinstance(got["broken.csv.gz"], str) and "gzip" in got["broken.csv.gz"]
