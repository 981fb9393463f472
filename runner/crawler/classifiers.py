"""Classifying one file: its format, columns and reading options, the way Glue's classifiers do.

`classify` reads only what it needs: the magic bytes, then for Parquet and ORC the footer and for Avro
the header (never the whole file), for text formats the first 64 KiB after decompression (more, up to
1 MiB, when no line ends in it). Compressed files (gzip, bz2, zstd, snappy framed, lz4 frame) are
recognised by their magic bytes, whatever their name, and classified by their content; files named
.snappy or .lz4 without those magics are read in Hadoop's block format (what Spark and Hive write).
A file classified by its content that Spark/Hive/Trino would not read as described (LZ4 frame or framed
snappy, which Hadoop's codecs do not read; a compression its name does not announce, since Hadoop picks
codecs by extension; a custom JSON path that selects records inside documents) carries
`unreadable_reason`; with `strict=True` that is a ClassificationError instead.

Custom classifiers are tried first, in order, then the built-ins in Glue's order: Avro, ORC, Parquet,
JSON, XML, logs by grok pattern (combined Apache, Apache, Linux kernel, Ruby logger, Squid, Redis
monitor, Redis, syslog RFC 3164), CSV. The first to answer with certainty 1.0 wins, otherwise the one
with the highest certainty; no answer at all is None (Glue's UNKNOWN). A file that cannot be read
(truncated Parquet, corrupt gzip, ...) raises ClassificationError with the reason.

Certainties: the binary formats are 1.0 when their metadata reads; JSON, logs and custom grok are the
part of the sampled lines (records) that parse or match, and answer only when that is at least half;
CSV is the part of rows with the usual number of fields (at least 0.8 to answer; at least two columns
and two rows). Grok patterns must match whole lines (as Hive's RegexSerDe, which reads the table, does).

CSV header rule (Glue's): the first row is a header only when every field of it is a non-empty string
(not a number, boolean, date or timestamp), the fields are unique and at most 150 characters, and some
column of the other rows is not a string. Without a header the columns are col0, col1, ...
Delimiters tried: `,` `\\t` `|` `;` `\\u0001`; the one whose rows agree best on a field count of at
least two wins (ties: more columns, then that order).
"""

from __future__ import annotations

import bz2
import csv
import functools
import gzip
import io
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from xml.etree import ElementTree

from fsspec.implementations.local import LocalFileSystem

from metastore.catalog.types import Column
from runner.crawler import schema

HEAD = 64 * 1024  # text sample, after decompression
MAX_LINE = 1024 * 1024  # read on to this much when no line ends within HEAD
CHUNK = 16 * 1024
DELIMITERS = [",", "\t", "|", ";", "\u0001"]
MIN_CSV_CONSISTENCY = 0.8
MIN_MATCH = 0.5
MAX_HEADER_FIELD = 150


class ClassificationError(Exception):
    """A broken or unreadable file; `reason` says why (the crawl skips the file and counts it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Classification:
    format: str  # "parquet" | "orc" | "avro" | "json" | "xml" | "csv" | a grok classification ...
    certainty: float  # 0.0 .. 1.0
    columns: list[Column]  # in file order; names as the file spells them (Hive lower-cases them)
    compression: str | None = None  # "gzip" | "bz2" | "zstd" | "snappy" | "lz4" | None
    serde_parameters: dict[str, str] = field(default_factory=dict)
    table_parameters: dict[str, str] = field(default_factory=dict)
    row_count_estimate: int | None = None
    # why Spark/Hive/Trino would not read this file as the table describes it, though its content was
    # classified: LZ4 frame or framed snappy (Hadoop's codecs read their own block format only), or a
    # compression its name does not announce (Hadoop picks the codec by file extension)
    unreadable_reason: str | None = None


@dataclass
class CustomClassifier:
    name: str
    kind: str  # "grok" | "json" | "csv" | "xml"
    classification: str
    grok_pattern: str | None = None
    custom_patterns: str | None = None
    json_path: str | None = None
    csv_delimiter: str | None = None
    csv_quote: str | None = None
    csv_header: str | None = None  # "PRESENT" | "ABSENT" | "UNKNOWN"
    csv_column_names: list[str] | None = None
    xml_row_tag: str | None = None


# =========================================================================================================
# grok


BASE_PATTERNS = r"""
USERNAME [a-zA-Z0-9._-]+
USER %{USERNAME}
EMAILLOCALPART [a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*
EMAILADDRESS %{EMAILLOCALPART}@%{HOSTNAME}
INT (?:[+-]?(?:[0-9]+))
BASE10NUM (?<![0-9.+-])(?>[+-]?(?:(?:[0-9]+(?:\.[0-9]+)?)|(?:\.[0-9]+)))
NUMBER (?:%{BASE10NUM})
BASE16NUM (?<![0-9A-Fa-f])(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))
POSINT \b(?:[1-9][0-9]*)\b
NONNEGINT \b(?:[0-9]+)\b
WORD \b\w+\b
NOTSPACE \S+
SPACE \s*
DATA .*?
GREEDYDATA .*
QUOTEDSTRING (?>(?<!\\)(?>"(?>\\.|[^\\"]+)+"|""|(?>'(?>\\.|[^\\']+)+')|''|(?>`(?>\\.|[^\\`]+)+`)|``))
QS %{QUOTEDSTRING}
UUID [A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}
MAC (?:[A-Fa-f0-9]{2}[:-]){5}[A-Fa-f0-9]{2}
IPV4 (?<![0-9])(?:(?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]))(?![0-9])
IPV6 (?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|:(?:(?::[0-9A-Fa-f]{1,4}){1,7}|:)|::(?:[fF]{4}:)?%{IPV4})(?:%[0-9A-Za-z]+)?
IP (?:%{IPV6}|%{IPV4})
HOSTNAME \b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(?:\.?|\b)
IPORHOST (?:%{IP}|%{HOSTNAME})
HOSTPORT %{IPORHOST}:%{POSINT}
UNIXPATH (?:/[\w_%!$@:.,+~-]*)+
WINPATH (?>[A-Za-z]+:|\\)(?:\\[^\\?*]*)+
PATH (?:%{UNIXPATH}|%{WINPATH})
URIPROTO [A-Za-z](?:[A-Za-z0-9+\-.]+)+
URIHOST %{IPORHOST}(?::%{POSINT})?
URIPATH (?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+
URIPARAM \?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*
URIPATHPARAM %{URIPATH}(?:%{URIPARAM})?
URI %{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?
MONTH \b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|[Jj]un(?:e)?|[Jj]ul(?:y)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo]ct(?:ober)?|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\b
MONTHNUM (?:0?[1-9]|1[0-2])
MONTHNUM2 (?:0[1-9]|1[0-2])
MONTHDAY (?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])
DAY (?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)
YEAR (?>\d\d){1,2}
HOUR (?:2[0123]|[01]?[0-9])
MINUTE (?:[0-5][0-9])
SECOND (?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)
TIME (?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])
DATE_US %{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}
DATE_EU %{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}
ISO8601_TIMEZONE (?:Z|[+-]%{HOUR}(?::?%{MINUTE}))
ISO8601_SECOND (?:%{SECOND}|60)
TIMESTAMP_ISO8601 %{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?
DATE (?:%{DATE_US}|%{DATE_EU})
DATESTAMP %{DATE}[- ]%{TIME}
TZ (?:[APMCE][SD]T|UTC)
DATESTAMP_RFC822 %{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}
HTTPDATE %{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}
SYSLOGTIMESTAMP %{MONTH} +%{MONTHDAY} %{TIME}
PROG [\x21-\x5a\x5c\x5e-\x7e]+
SYSLOGPROG %{PROG:program}(?:\[%{POSINT:pid}\])?
SYSLOGHOST %{IPORHOST}
LOGLEVEL (?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)
COMMONAPACHELOG %{IPORHOST:clientip} %{USER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})" %{NUMBER:response} (?:%{NUMBER:bytes}|-)
COMBINEDAPACHELOG %{COMMONAPACHELOG} "%{DATA:referrer}" "%{DATA:agent}"
"""

# Glue's built-in log classifiers, in Glue's order (syslog, not a Glue built-in, last)
LOG_FORMATS: list[tuple[str, str]] = [
    ("combined_apache", "%{COMBINEDAPACHELOG}"),
    ("apache", "%{COMMONAPACHELOG}"),
    ("linux_kernel", r"%{SYSLOGTIMESTAMP:timestamp} %{SYSLOGHOST:logsource} kernel: (?:\[\s*%{NUMBER:uptime}\] )?%{GREEDYDATA:message}"),
    ("ruby_logger", r"%{WORD:severity_id}, \[%{TIMESTAMP_ISO8601:timestamp} #%{POSINT:pid}\] *%{LOGLEVEL:loglevel} -- +%{DATA:progname}: %{GREEDYDATA:message}"),
    ("squid", r"%{NUMBER:timestamp}\s+%{NUMBER:duration}\s%{IP:client_address}\s%{WORD:cache_result}/%{NONNEGINT:status_code}\s%{NUMBER:bytes}\s%{WORD:request_method}\s%{NOTSPACE:url}\s%{NOTSPACE:user}\s%{WORD:hierarchy_code}/%{NOTSPACE:server}\s%{NOTSPACE:content_type}"),
    ("redismonlog", r"%{NUMBER:timestamp} \[%{INT:database} %{IPORHOST:client}:%{POSINT:port}\] \"%{WORD:command}\"\s?%{GREEDYDATA:params}"),
    ("redislog", r"\[%{POSINT:pid}\] %{MONTHDAY} %{MONTH} %{TIME:time} [.*#-] %{GREEDYDATA:message}"),
    ("syslog", r"(?:<%{NONNEGINT:priority}>)?%{SYSLOGTIMESTAMP:timestamp} %{SYSLOGHOST:logsource} %{SYSLOGPROG}: %{GREEDYDATA:message}"),
]  # fmt: skip

GROK_TYPES = {"int": "int", "integer": "int", "long": "bigint", "bigint": "bigint", "float": "float",
              "double": "double", "boolean": "boolean", "bool": "boolean", "string": "string",
              "date": "date", "timestamp": "timestamp"}  # fmt: skip

_GROK_REF = re.compile(r"%\{(\w+)(?::([^:}]+))?(?::(\w+))?\}")


def parse_patterns(text: str | None) -> dict[str, str]:
    """`NAME regex` lines (grok pattern files); blank lines and # comments ignored."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, regex = line.partition(" ")
        if not re.fullmatch(r"\w+", name) or not regex.strip():
            raise ValueError(f"not a grok pattern definition: {line!r}")
        out[name] = regex.strip()
    return out


_BASE = parse_patterns(BASE_PATTERNS)


@dataclass
class Grok:
    """A compiled grok pattern: one capturing group per field, in field order, in both a Python regex
    (for classifying) and a Java regex (RegexSerDe's `input.regex`, which reads the table)."""

    pattern: str
    python: re.Pattern
    java: str
    fields: list[tuple[str, str]]  # (name, hive type)

    def match(self, line: str) -> tuple | None:
        m = self.python.fullmatch(line)
        return m.groups() if m else None


def compile_grok(pattern: str, custom_patterns: str | dict[str, str] | None = None) -> Grok:
    """Compiles a grok pattern (`%{NAME}`, `%{NAME:field}`, `%{NAME:field:type}`, `(?<field>regex)`),
    with the base patterns and `custom_patterns`. Raises ValueError for unknown names or bad regexes."""
    patterns = dict(_BASE)
    patterns.update(custom_patterns if isinstance(custom_patterns, dict) else parse_patterns(custom_patterns))
    fields: list[tuple[str, str]] = []

    def add_field(name: str, typ: str | None) -> None:
        hive = GROK_TYPES.get((typ or "string").lower())
        if hive is None:
            raise ValueError(f"grok field {name}: unknown type {typ!r}")
        name = re.sub(r"\W+", "_", name).strip("_").lower() or f"field{len(fields)}"
        taken = {n for n, _ in fields}
        base, i = name, 1
        while name in taken:
            name = f"{base}_{i}"
            i += 1
        fields.append((name, hive))

    def regex_part(text: str) -> str:
        """Raw regex: capturing groups become non-capturing, except named groups, which are fields."""
        out, i = [], 0
        while i < len(text):
            c = text[i]
            if c == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            if c == "[":
                j = i + 1
                if j < len(text) and text[j] == "^":
                    j += 1
                if j < len(text) and text[j] == "]":
                    j += 1
                while j < len(text) and text[j] != "]":
                    j += 2 if text[j] == "\\" else 1
                out.append(text[i : j + 1])
                i = j + 1
                continue
            if c == "(":
                m = re.compile(r"\(\?P?<([A-Za-z_]\w*)>").match(text, i)
                if m:
                    add_field(m.group(1), None)
                    out.append("(")
                    i = m.end()
                    continue
                if text.startswith("(?", i):
                    out.append("(?")
                    i += 2
                    continue
                out.append("(?:")
                i += 1
                continue
            out.append(c)
            i += 1
        return "".join(out)

    def expand(text: str, depth: int) -> str:
        if depth > 40:
            raise ValueError("grok patterns nest too deeply (a cycle?)")
        out, pos = [], 0
        for m in _GROK_REF.finditer(text):
            out.append(regex_part(text[pos : m.start()]))
            name, fname, ftype = m.groups()
            if name not in patterns:
                raise ValueError(f"unknown grok pattern %{{{name}}}")
            if fname:
                add_field(fname, ftype)
                out.append("(" + expand(patterns[name], depth + 1) + ")")
            else:
                out.append("(?:" + expand(patterns[name], depth + 1) + ")")
            pos = m.end()
        out.append(regex_part(text[pos:]))
        return "".join(out)

    regex = expand(pattern, 0)
    try:
        compiled = re.compile(regex)
    except re.error as e:
        raise ValueError(f"grok pattern {pattern!r}: {e}") from e
    if compiled.groups != len(fields):
        raise ValueError(f"grok pattern {pattern!r}: {compiled.groups} groups for {len(fields)} fields")
    return Grok(pattern, compiled, regex, fields)


_LOG_GROKS: list[tuple[str, Grok]] | None = None


def _log_groks() -> list[tuple[str, Grok]]:
    global _LOG_GROKS
    if _LOG_GROKS is None:
        _LOG_GROKS = [(name, compile_grok(p)) for name, p in LOG_FORMATS]
    return _LOG_GROKS


# =========================================================================================================
# reading: magic bytes, decompression, text samples


def _exact(f, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        b = f.read(n - len(out))
        if not b:
            break
        out += b
    return bytes(out)


def _magic_compression(head: bytes) -> str | None:
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] in (
        b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90"
    ):  # fmt: skip
        return "bz2"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    if head[:10] == b"\xff\x06\x00\x00sNaPpY":
        return "snappy"
    return None


def _magic_container(head: bytes) -> str | None:
    if head[:4] == b"Obj\x01":
        return "avro"
    if head[:3] == b"ORC":
        return "orc"
    if head[:4] == b"PAR1":
        return "parquet"
    return None


def _stream(fileobj, compression: str) -> Iterator[bytes | None]:
    """Decompressed pieces of a compressed file; ClassificationError when it is corrupt or ends early.
    A None piece: what follows cannot be decompressed here (the sample ends, not the file)."""
    try:
        if compression in ("gzip", "bz2"):
            z = gzip.GzipFile(fileobj=fileobj) if compression == "gzip" else bz2.BZ2File(fileobj)
            with z:
                while piece := z.read(CHUNK):
                    yield piece
        elif compression == "zstd":
            import zstandard

            d = zstandard.ZstdDecompressor().decompressobj()
            while True:
                data = fileobj.read(CHUNK)
                if not data:
                    if not d.eof:
                        raise ClassificationError(
                            "zstd: the file ends before its last frame does (truncated)"
                        )
                    return
                while data:
                    yield d.decompress(data)
                    data = b""
                    if d.eof:
                        rest = d.unused_data
                        d = zstandard.ZstdDecompressor().decompressobj()
                        if rest:
                            data = rest
                        else:
                            nxt = fileobj.read(CHUNK)
                            if not nxt:
                                return
                            data = nxt
        elif compression == "lz4":
            yield from _lz4_frames(fileobj)
        elif compression == "snappy":
            yield from _snappy_frames(fileobj)
        elif compression in ("hadoop-snappy", "hadoop-lz4"):
            yield from _hadoop_blocks(fileobj, compression[7:])
        else:
            raise ValueError(compression)
    except ClassificationError:
        raise
    except EOFError as e:
        raise ClassificationError(
            f"{compression}: the file ends before the compressed stream does (truncated): {e}"
        ) from e
    except (OSError, zlib.error, ValueError, RuntimeError) as e:
        raise ClassificationError(f"{compression}: invalid compressed data: {e}") from e
    except Exception as e:  # zstandard.ZstdError, cramjam.DecompressionError
        raise ClassificationError(f"{compression}: invalid compressed data: {e}") from e


def _hadoop_blocks(f, codec: str) -> Iterator[bytes]:
    """Hadoop's block format (what Spark and Hive write as .snappy and .lz4 text): per block, the
    uncompressed length (4 bytes, big-endian), then chunks of 4-byte length + raw snappy / LZ4 block."""
    import cramjam

    def need(n: int) -> bytes:
        b = _exact(f, n)
        if len(b) < n:
            raise ClassificationError(f"{codec}: the file ends inside a block (truncated)")
        return b

    while True:
        head = _exact(f, 4)
        if not head:
            return
        if len(head) < 4:
            raise ClassificationError(f"{codec}: the file ends inside a block (truncated)")
        block = int.from_bytes(head, "big")
        if block > 256 * 1024 * 1024:
            raise ClassificationError(f"{codec}: neither the framing format nor Hadoop's block format")
        done = 0
        while done < block:
            n = int.from_bytes(need(4), "big")
            if n > 2 * block + 1024:
                raise ClassificationError(f"{codec}: neither the framing format nor Hadoop's block format")
            data = need(n)
            if codec == "snappy":
                out = bytes(cramjam.snappy.decompress_raw(data))
            else:
                buf = bytearray(block - done)
                out = bytes(buf[: cramjam.lz4.decompress_block_into(data, buf)])
            if not out:
                raise ClassificationError(f"{codec}: an empty chunk in Hadoop's block format")
            done += len(out)
            yield out


_LZ4_BLOCK = {4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024}


def _lz4_frames(f) -> Iterator[bytes | None]:
    """LZ4 frame format. Blocks of a frame with linked blocks need the previous output as dictionary,
    which cramjam cannot take: the sample of such a frame is its first block (64 KiB .. 4 MiB)."""
    import cramjam

    def need(n: int) -> bytes:
        b = _exact(f, n)
        if len(b) < n:
            raise ClassificationError("lz4: the file ends inside a frame (truncated)")
        return b

    while True:
        magic = _exact(f, 4)
        if not magic:
            return
        if len(magic) < 4:
            raise ClassificationError("lz4: the file ends inside a frame (truncated)")
        m = int.from_bytes(magic, "little")
        if 0x184D2A50 <= m <= 0x184D2A5F:  # skippable frame
            need(int.from_bytes(need(4), "little"))
            continue
        if m != 0x184D2204:
            raise ClassificationError("lz4: not an LZ4 frame")
        flg, bd = need(2)
        if flg >> 6 != 1:
            raise ClassificationError(f"lz4: unsupported frame version {flg >> 6}")
        independent, block_sum, content_size = flg & 0x20, flg & 0x10, flg & 0x08
        content_sum, dict_id = flg & 0x04, flg & 0x01
        block_max = _LZ4_BLOCK.get((bd >> 4) & 7)
        if block_max is None:
            raise ClassificationError("lz4: invalid block size in the frame descriptor")
        need((8 if content_size else 0) + (4 if dict_id else 0) + 1)
        first = True
        while True:
            size = int.from_bytes(need(4), "little")
            if size == 0:
                break
            raw, size = size & 0x80000000, size & 0x7FFFFFFF
            if not (raw or independent or first):
                yield None  # the sample ends here, not the file
                return
            data = need(size)
            if block_sum:
                need(4)
            if raw:
                yield data
            else:
                buf = bytearray(block_max)
                n = cramjam.lz4.decompress_block_into(data, buf)
                yield bytes(buf[:n])
            first = False
        if content_sum:
            need(4)


def _snappy_frames(f) -> Iterator[bytes]:
    """Snappy framing format (the `sNaPpY` stream)."""
    import cramjam

    while True:
        head = _exact(f, 4)
        if not head:
            return
        if len(head) < 4:
            raise ClassificationError("snappy: the file ends inside a chunk (truncated)")
        kind, n = head[0], int.from_bytes(head[1:4], "little")
        body = _exact(f, n)
        if len(body) < n:
            raise ClassificationError("snappy: the file ends inside a chunk (truncated)")
        if kind == 0x00:
            yield bytes(cramjam.snappy.decompress_raw(body[4:]))
        elif kind == 0x01:
            yield body[4:]
        elif kind == 0xFF:
            if body != b"sNaPpY":
                raise ClassificationError("snappy: invalid stream identifier")
        elif kind <= 0x7F:
            raise ClassificationError(f"snappy: unknown unskippable chunk type {kind:#x}")


@dataclass
class Sample:
    """The first part of a text file, decoded."""

    text: str
    complete: bool  # the whole file
    total_bytes: float  # the (estimated) size of the whole file, decompressed
    sample_bytes: int  # the bytes the text was decoded from

    _lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        """Its lines; the last one is dropped when the sample stops inside it."""
        if self._lines is None:
            lines = self.text.splitlines()
            if not self.complete and lines and not self.text.endswith(("\n", "\r")):
                lines.pop()
            self._lines = lines
        return self._lines

    def estimate(self, rows: int) -> int:
        """The rows of the whole file, for `rows` in the sample."""
        if self.complete or self.sample_bytes <= 0:
            return rows
        return int(rows * self.total_bytes / self.sample_bytes)


def _decode(data: bytes, complete: bool) -> str | None:
    """UTF-8 text, or None when the bytes are not text."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if complete or e.start < len(data) - 3:
            return None
        text = data[: e.start].decode("utf-8", errors="strict")
    if "\x00" in text:
        return None
    return text


def _cut(data: bytes) -> tuple[bytes, bool]:
    """The first HEAD bytes and the rest of the line they end in (up to MAX_LINE); True when cut."""
    if len(data) <= HEAD:
        return data, False
    end = data.find(b"\n", HEAD)
    cut = end + 1 if 0 <= end < MAX_LINE else MAX_LINE
    return data[:cut], cut < len(data)


def _text_sample(f, head: bytes, size: int, compression: str | None) -> Sample | None:
    if compression:
        f.seek(0)
        pieces, total, complete, blocked = [], 0, True, False
        stream = _stream(f, compression)
        for piece in stream:
            if piece is None:
                complete, blocked = False, True
                break
            pieces.append(piece)
            total += len(piece)
            if total > MAX_LINE or (total > HEAD and any(b"\n" in p for p in pieces)):
                complete = False
                break
        data = b"".join(pieces)
        total_bytes = float(total)
        if not complete:
            # the compression ratio so far: drain what the compressed bytes read so far hold (a bz2 block,
            # an lz4 block ...) before dividing by them
            pos = f.tell()
            for piece in () if blocked else stream:
                if piece is None:
                    break
                total += len(piece)
                if f.tell() != pos or total > 16 * MAX_LINE:
                    break
            else:
                if not blocked:
                    pos = size
            total_bytes = total * size / max(pos, 1)
        inner = _magic_container(data) or _magic_compression(data)
        if inner:
            raise ClassificationError(f"{inner} inside {compression}: readers cannot read it")
    else:
        data = head
        complete = len(head) >= size
        if not complete and b"\n" not in head:
            data += _exact(f, min(size, MAX_LINE) - len(head))
            complete = len(data) >= size
        total_bytes = float(size)
    data, cut = _cut(data)
    complete = complete and not cut
    text = _decode(data, complete)
    if text is None:
        return None
    return Sample(text, complete, total_bytes, len(data))


# =========================================================================================================
# binary formats: metadata only


def arrow_to_hive(t) -> str:
    """The Hive type of an Arrow type (as Parquet and ORC files describe their columns)."""
    import pyarrow as pa

    T = pa.types
    if T.is_dictionary(t):
        return arrow_to_hive(t.value_type)
    if T.is_boolean(t):
        return "boolean"
    for check, name in ((T.is_int8, "tinyint"), (T.is_int16, "smallint"), (T.is_int32, "int"),
                        (T.is_int64, "bigint"), (T.is_uint8, "smallint"), (T.is_uint16, "int"),
                        (T.is_uint32, "bigint")):  # fmt: skip
        if check(t):
            return name
    if T.is_uint64(t):
        return "decimal(20,0)"
    if T.is_float16(t) or T.is_float32(t):
        return "float"
    if T.is_float64(t):
        return "double"
    if T.is_decimal(t):
        return f"decimal({t.precision},{t.scale})" if t.precision <= 38 else "string"
    if T.is_string(t) or T.is_large_string(t) or getattr(T, "is_string_view", lambda _: False)(t):
        return "string"
    if T.is_binary(t) or T.is_large_binary(t) or T.is_fixed_size_binary(t):
        return "binary"
    if T.is_date(t):
        return "date"
    if T.is_timestamp(t):
        return "timestamp"
    if T.is_time(t) or T.is_duration(t):
        return "bigint"
    if T.is_list(t) or T.is_large_list(t) or T.is_fixed_size_list(t):
        return f"array<{arrow_to_hive(t.value_type)}>"
    if T.is_map(t):
        return f"map<{arrow_to_hive(t.key_type)},{arrow_to_hive(t.item_type)}>"
    if T.is_struct(t):
        fields = [
            (t.field(i).name, schema.parse_type(arrow_to_hive(t.field(i).type))) for i in range(t.num_fields)
        ]
        return schema.type_string(("struct", tuple(fields)))
    return "string"


def _parquet(f, size: int) -> Classification:
    import pyarrow.parquet as pq

    if size < 12:
        raise ClassificationError("parquet: file too small to hold a footer (truncated)")
    f.seek(size - 4)
    if _exact(f, 4) != b"PAR1":
        raise ClassificationError("parquet: no PAR1 magic at the end (truncated or still being written)")
    f.seek(0)
    try:
        pf = pq.ParquetFile(f)
        arrow = pf.schema_arrow
        rows = pf.metadata.num_rows
    except Exception as e:  # pyarrow.ArrowInvalid, OSError ...
        raise ClassificationError(f"parquet: unreadable footer: {e}") from e
    cols = [Column(fld.name, arrow_to_hive(fld.type)) for fld in arrow]
    return Classification("parquet", 1.0, cols, row_count_estimate=rows)


def _orc(f, size: int) -> Classification:
    import pyarrow.orc as orc

    f.seek(0)
    try:
        of = orc.ORCFile(f)
        arrow = of.schema
        rows = of.nrows
    except Exception as e:
        raise ClassificationError(f"orc: unreadable file tail: {e}") from e
    cols = [Column(fld.name, arrow_to_hive(fld.type)) for fld in arrow]
    return Classification("orc", 1.0, cols, row_count_estimate=rows)


def avro_to_hive(s, named: dict[str, str] | None = None, namespace: str | None = None) -> str:
    """The Hive type of an Avro schema (JSON form). Nullable unions become their other member."""
    named = {} if named is None else named
    if isinstance(s, str):
        prim = {"null": "void", "boolean": "boolean", "int": "int", "long": "bigint", "float": "float",
                "double": "double", "bytes": "binary", "string": "string"}  # fmt: skip
        if s in prim:
            return prim[s]
        for key in (s, f"{namespace}.{s}" if namespace else s, s.rsplit(".", 1)[-1]):
            if key in named:
                return named[key]
        raise ValueError(f"avro: unknown named type {s}")
    if isinstance(s, list):
        members = [m for m in s if m != "null" and not (isinstance(m, dict) and m.get("type") == "null")]
        if not members:
            return "string"
        if len(members) == 1:
            return avro_to_hive(members[0], named, namespace)
        return "uniontype<" + ",".join(avro_to_hive(m, named, namespace) for m in members) + ">"
    t = s.get("type")
    logical = s.get("logicalType")
    if logical == "decimal" and t in ("bytes", "fixed"):
        return f"decimal({int(s.get('precision', 10))},{int(s.get('scale', 0))})"
    if logical == "date" and t == "int":
        return "date"
    if logical == "timestamp-millis":
        return "timestamp"
    if logical in ("timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"):
        return "bigint"  # Hive 2.3's AvroSerDe (Spark's reader) knows timestamp-millis only: the raw long
    if logical == "uuid":
        return "string"
    if t == "record" or t == "error":
        ns = s.get("namespace", namespace)
        name = s.get("name", "")
        placeholder = "string"
        for key in (name, f"{ns}.{name}" if ns and "." not in name else name):
            named[key] = placeholder  # recursive records are not representable: string
        fields = tuple(
            (fd["name"], schema.parse_type(avro_to_hive(fd["type"], named, ns))) for fd in s.get("fields", [])
        )
        out = schema.type_string(("struct", fields))
        for key in (name, f"{ns}.{name}" if ns and "." not in name else name):
            named[key] = out
        return out
    if t == "enum":
        named[s.get("name", "")] = "string"
        return "string"
    if t == "fixed":
        named[s.get("name", "")] = "binary"
        return "binary"
    if t == "array":
        return f"array<{schema.normalize_type(avro_to_hive(s['items'], named, namespace))}>"
    if t == "map":
        return f"map<string,{schema.normalize_type(avro_to_hive(s['values'], named, namespace))}>"
    return avro_to_hive(t, named, namespace)


def _avro(f, size: int, head: bytes) -> Classification:
    import fastavro

    f.seek(0)
    try:
        reader = fastavro.reader(f)
        raw = reader.metadata.get("avro.schema")
        writer_schema = json.loads(raw) if raw else reader.writer_schema
    except Exception as e:
        raise ClassificationError(f"avro: unreadable header: {e}") from e
    if not isinstance(writer_schema, dict) or writer_schema.get("type") != "record":
        raise ClassificationError("avro: the file's schema is not a record; a table needs one")
    try:
        struct = schema.parse_type(avro_to_hive(writer_schema))
    except (ValueError, KeyError) as e:
        raise ClassificationError(f"avro: unsupported schema: {e}") from e
    cols = [Column(n, schema.type_string(t)) for n, t in struct[1]]
    rows = None
    if len(head) >= size:  # small file read whole: check its blocks, and count them
        try:
            rows = sum(1 for _ in fastavro.reader(io.BytesIO(head)))
        except Exception as e:
            raise ClassificationError(f"avro: corrupt data block: {e}") from e
    literal = raw if raw else json.dumps(writer_schema)
    return Classification(
        "avro", 1.0, cols, serde_parameters={"avro.schema.literal": literal}, row_count_estimate=rows
    )


# =========================================================================================================
# JSON


def _json_number(text: str):
    """JSON numbers with a fraction keep their digits (Decimal: inference tells double from decimal by
    them); with an exponent they are doubles."""
    return float(text) if "e" in text or "E" in text else Decimal(text)


def _load(text: str):
    return json.loads(text, parse_float=_json_number)


class _Partial(Exception):
    pass


def parse_partial_json(text: str):
    """A JSON value from a text that may stop in the middle (a sample): complete members and elements are
    kept, the unfinished last one is dropped (containers on the way to it are kept). Returns
    (value, complete). Raises ValueError when the text is not JSON."""
    decoder = json.JSONDecoder(parse_float=_json_number)
    n = len(text)

    def ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def value(i: int):
        i = ws(i)
        if i >= n:
            raise _Partial(None)
        c = text[i]
        if c == "{":
            obj: dict = {}
            i = ws(i + 1)
            if i < n and text[i] == "}":
                return obj, i + 1
            while True:
                i = ws(i)
                if i >= n:
                    raise _Partial(obj)
                if text[i] != '"':
                    raise ValueError(f"expected a key at {i}")
                try:
                    key, i = json.decoder.scanstring(text, i + 1)
                except json.JSONDecodeError as e:
                    if "Unterminated" in e.msg:
                        raise _Partial(obj) from None
                    raise ValueError(str(e)) from None
                i = ws(i)
                if i >= n:
                    raise _Partial(obj)
                if text[i] != ":":
                    raise ValueError(f"expected ':' at {i}")
                try:
                    v, i = value(i + 1)
                except _Partial as p:
                    if isinstance(p.args[0], (dict, list)):
                        obj[key] = p.args[0]
                    raise _Partial(obj) from None
                obj[key] = v
                i = ws(i)
                if i >= n:
                    raise _Partial(obj)
                if text[i] == ",":
                    i += 1
                    continue
                if text[i] == "}":
                    return obj, i + 1
                raise ValueError(f"expected ',' or '}}' at {i}")
        if c == "[":
            arr: list = []
            i = ws(i + 1)
            if i < n and text[i] == "]":
                return arr, i + 1
            while True:
                try:
                    v, i = value(i)
                except _Partial:
                    raise _Partial(arr) from None
                arr.append(v)
                i = ws(i)
                if i >= n:
                    raise _Partial(arr)
                if text[i] == ",":
                    i += 1
                    continue
                if text[i] == "]":
                    return arr, i + 1
                raise ValueError(f"expected ',' or ']' at {i}")
        try:
            v, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            if e.pos >= n - 1 or "Unterminated" in e.msg:
                raise _Partial(None) from None
            raise ValueError(str(e)) from None
        if end >= n and c not in '"':
            raise _Partial(None)  # a number or literal cut at the end of the sample
        return v, end

    try:
        v, end = value(0)
    except _Partial as p:
        if p.args[0] is None:
            raise ValueError("no complete JSON value in the sample") from None
        return p.args[0], False
    if ws(end) != n:
        raise ValueError(f"extra data after the JSON value at {end}")
    return v, True


_PATH_STEP = re.compile(
    r"\.([A-Za-z_$][\w$-]*)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*(\*|\d+)\s*\]|\.\*"
)


def parse_json_path(path: str) -> list:
    """`$.records[*]`, `$['a b'].c[0]`, `$[*]` → steps: key strings, ints, and "*" (all elements)."""
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"a JSON path starts with $: {path!r}")
    steps, i = [], 1
    while i < len(path):
        m = _PATH_STEP.match(path, i)
        if not m:
            raise ValueError(f"unsupported JSON path {path!r} at {path[i:]!r}")
        key, q1, q2, idx = m.groups()
        if m.group(0) == ".*":
            steps.append("*")
        elif key is not None or q1 is not None or q2 is not None:
            steps.append(key if key is not None else (q1 if q1 is not None else q2))
        else:
            steps.append("*" if idx == "*" else int(idx))
        i = m.end()
    return steps


def apply_json_path(doc, steps: list) -> list:
    values = [doc]
    for step in steps:
        nxt = []
        for v in values:
            if step == "*":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            elif isinstance(step, int):
                if isinstance(v, list) and -len(v) <= step < len(v):
                    nxt.append(v[step])
            elif isinstance(v, dict) and step in v:
                nxt.append(v[step])
        values = nxt
    return values


def _json_documents(sample: Sample) -> tuple[list, str, float] | None:
    """The JSON documents of a sample and its mode ("lines" or "document"), with the part of the
    non-empty lines that parse (lines mode)."""
    text = sample.text.lstrip("\ufeff \t\r\n")
    if not text or text[0] not in "{[":
        return None
    if text[0] == "{":
        docs, bad = [], 0
        lines = [ln for ln in sample.lines if ln.strip()]
        for ln in lines:
            try:
                docs.append(_load(ln))
            except ValueError:
                bad += 1
        if lines and not bad:
            return docs, "lines", 1.0
        # one document over many lines?
        try:
            doc, _ = parse_partial_json(text)
            return [doc], "document", 1.0
        except ValueError:
            pass
        if lines and docs:
            return docs, "lines", len(docs) / len(lines)
        return None
    try:
        doc, _ = parse_partial_json(text)
    except ValueError:
        return None
    return [doc], "document", 1.0


def _classify_json(sample: Sample) -> Classification | None:
    found = _json_documents(sample)
    if found is None:
        return None
    docs, mode, fraction = found
    if mode == "lines":
        records = [d for d in docs if isinstance(d, dict)]
        fraction *= len(records) / len(docs) if docs else 0
        serde: dict[str, str] = {}
    else:
        doc = docs[0]
        records = (
            [d for d in doc if isinstance(d, dict)]
            if isinstance(doc, list)
            else [doc]
            if isinstance(doc, dict)
            else []
        )
        if isinstance(doc, list) and doc:
            fraction = len(records) / len(doc)
        serde = {"multiLine": "true"}
    if not records or fraction < MIN_MATCH:
        return None
    cols = schema.infer_columns(records)
    if not cols:
        return None
    return Classification("json", round(fraction, 4), cols, serde_parameters=serde,
                          row_count_estimate=sample.estimate(len(records)))  # fmt: skip


def _classify_json_path(sample: Sample, c: CustomClassifier) -> Classification | None:
    try:
        steps = parse_json_path(c.json_path or "$")
    except ValueError:
        return None
    found = _json_documents(sample)
    if found is None:
        return None
    docs, mode, fraction = found
    records: list = []
    for d in docs:
        records.extend(v for v in apply_json_path(d, steps) if isinstance(v, dict))
    if not records:
        return None
    serde = {"multiLine": "true"} if mode == "document" else {}
    path = c.json_path or "$"
    whole = steps == [] or (steps == ["*"] and mode == "document")  # the rows readers see
    return Classification(c.classification, 1.0 if fraction == 1.0 else round(fraction, 4),
                          schema.infer_columns(records), serde_parameters=serde,
                          table_parameters={"jsonPath": path}, row_count_estimate=sample.estimate(len(records)),
                          unreadable_reason=None if whole else (
                              f"JSON path {path}: Spark and Trino read whole JSON documents (or lines) as rows, "
                              "not the records a path selects"))  # fmt: skip


# =========================================================================================================
# XML


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)


class _Many(list):
    """The values of a child element within its parent (one or more occurrences)."""


def _xml_value(el):
    attrs = {"_" + _local(k): v for k, v in el.attrib.items()}
    groups: dict[str, _Many] = {}
    for ch in el:
        groups.setdefault(_local(ch.tag), _Many()).append(_xml_value(ch))
    text = (el.text or "").strip()
    if not attrs and not groups:
        return text or None
    out: dict = dict(attrs)
    out.update(groups)
    if text:
        out["_VALUE"] = text
    return out


def _repeated(v, path: tuple, acc: set) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, _Many):
                if len(x) > 1:
                    acc.add((*path, k))
                for y in x:
                    _repeated(y, (*path, k), acc)


def _unwrap(v, path: tuple, repeated: set):
    if not isinstance(v, dict):
        return v
    out = {}
    for k, x in v.items():
        if isinstance(x, _Many):
            items = [_unwrap(y, (*path, k), repeated) for y in x]
            out[k] = items if (*path, k) in repeated else items[0]
        else:
            out[k] = x
    return out


def _xml_tree(sample: Sample):
    """The root element of the sample and the elements that ended in it (None when not XML)."""
    text = sample.text.lstrip("\ufeff \t\r\n")
    if not text.startswith("<"):
        return None
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    root, ended = None, set()
    try:
        parser.feed(text)
        if sample.complete:
            parser.close()
        for event, el in parser.read_events():
            if event == "start" and root is None:
                root = el
            elif event == "end":
                ended.add(id(el))
    except ElementTree.ParseError:
        if sample.complete:
            return None  # a whole file that is not well-formed XML
    if root is None:
        return None
    return root, ended


def _xml_rows(root, ended: set, row_tag: str) -> list:
    rows = []

    def walk(el) -> None:
        for ch in el:
            if _local(ch.tag) == row_tag:
                if id(ch) in ended:
                    rows.append(ch)
            else:
                walk(ch)

    if _local(root.tag) == row_tag:
        return [root] if id(root) in ended else []
    walk(root)
    return rows


def _detect_row_tag(root) -> str | None:
    el = root
    for _ in range(3):
        children = list(el)
        if not children:
            return None
        counts = Counter(_local(ch.tag) for ch in children)
        tag, count = counts.most_common(1)[0]
        if count >= 2 or len(children) > 1:
            return tag
        only = children[0]
        grand = Counter(_local(g.tag) for g in only)
        if grand and grand.most_common(1)[0][1] >= 2:
            el = only
            continue
        return tag
    return None


def _classify_xml(sample: Sample, row_tag: str | None = None, name: str = "xml") -> Classification | None:
    tree = _xml_tree(sample)
    if tree is None:
        return None
    root, ended = tree
    tag = row_tag or _detect_row_tag(root)
    if not tag:
        return None
    elements = _xml_rows(root, ended, tag)
    if not elements:
        return None
    values = [_xml_value(el) for el in elements]
    records = [v if isinstance(v, dict) else {"_VALUE": v} for v in values]
    repeated: set = set()
    for r in records:
        _repeated(r, (), repeated)
    records = [_unwrap(r, (), repeated) for r in records]
    cols = schema.infer_columns(records, text=True, maps=False)
    if not cols:
        return None
    return Classification(name, 1.0, cols, serde_parameters={"rowTag": tag},
                          row_count_estimate=sample.estimate(len(records)))  # fmt: skip


# =========================================================================================================
# logs (grok)


def _classify_grok(sample: Sample, grok: Grok, name: str, builtin: bool) -> Classification | None:
    lines = [ln for ln in sample.lines if ln.strip()]
    if not lines:
        return None
    matched = []
    for ln in lines:
        g = grok.match(ln.rstrip("\r"))
        if g is not None:
            matched.append(g)
        elif builtin and not matched:
            return None  # a built-in log format must match the first line
    fraction = len(matched) / len(lines)
    if fraction < MIN_MATCH:
        return None
    cols = [Column(n, t) for n, t in grok.fields]
    return Classification(name, round(fraction, 4), cols, serde_parameters={"input.regex": grok.java},
                          table_parameters={"grokPattern": grok.pattern},
                          row_count_estimate=sample.estimate(len(lines)))  # fmt: skip


# =========================================================================================================
# CSV


def _rows(text: str, delimiter: str, quote: str | None) -> list[list[str]]:
    kw = {"quotechar": quote, "quoting": csv.QUOTE_MINIMAL} if quote else {"quoting": csv.QUOTE_NONE}
    try:
        return [
            r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False, **kw) if r
        ]
    except csv.Error:
        return []


def _consistency(rows: list[list[str]]) -> tuple[int, float]:
    if not rows:
        return 0, 0.0
    width = len(rows[0])
    if all(len(r) == width for r in rows):
        return width, 1.0
    counts = Counter(len(r) for r in rows)
    width, n = counts.most_common(1)[0]
    return width, n / len(rows)


def _sample_text(sample: Sample) -> str:
    """The sample's complete lines, joined."""
    return "\n".join(sample.lines) + "\n"


@functools.lru_cache(maxsize=1024)
def _header_names(first: tuple[str, ...]) -> bool:
    """Whether the fields of a first row may be column names (remembered: a folder's files share them)."""
    names = [f.strip() for f in first]
    if any(not n or len(n) > MAX_HEADER_FIELD for n in names):
        return False
    if len({n.lower() for n in names}) != len(names):
        return False
    return all(schema.text_type(n) == "string" for n in names)


def _column_types(rows: list[list[str]], width: int) -> list[str]:
    """The type of each of `width` columns of `rows` ("void" for a column of nulls only)."""
    return [schema.infer_type((r[i] if i < len(r) else None for r in rows), text=True, nulls=schema.VOID)
            for i in range(width)]  # fmt: skip


def _is_header(first: list[str], data: list[list[str]], width: int, types: list[str] | None = None) -> bool:
    """`types`: the `_column_types` of `data`, when known."""
    if len(first) != width or not data:
        return False
    if not _header_names(tuple(first)):
        return False
    types = types if types is not None else _column_types(data, width)
    return any(t not in ("string", schema.VOID) for t in types)


def _csv_classification(sample: Sample, rows: list[list[str]], delimiter: str, quoted: bool, quote: str,
                        header: str, names: list[str] | None, fraction: float, width: int,
                        name: str = "csv", escape_doubled: bool = False) -> Classification | None:  # fmt: skip
    first, data = rows[0], rows[1:]
    data_types = _column_types(data, width) if header != "ABSENT" and data else None
    has_header = header == "PRESENT" or (header == "UNKNOWN" and _is_header(first, data, width, data_types))
    if has_header:
        body = data
        cols_names = [f.strip() for f in first][:width]
        cols_names += [f"col{i}" for i in range(len(cols_names), width)]
    else:
        body = rows
        cols_names = [f"col{i}" for i in range(width)]
    if names:
        if len(names) != width:
            return None
        cols_names = list(names)
    if not body:
        return None
    types = data_types if has_header and data_types is not None and len(cols_names) == width else None
    if types is None:
        types = _column_types(body, len(cols_names))
    cols = [Column(n, t) for n, t in zip(cols_names, types, strict=True)]
    if quoted:
        # OpenCSV reads doubled quotes by itself and wants an escape character unlike the quote; Spark's
        # csv reader (option `escape`) needs the quote as escape character to read doubled quotes
        serde = {"separatorChar": delimiter, "quoteChar": quote, "escapeChar": "\\"}
        if escape_doubled:
            serde["escape"] = quote
    else:
        serde = {"field.delim": delimiter, "serialization.format": delimiter}
    table = {
        "delimiter": delimiter,
        "areColumnsQuoted": "true" if quoted else "false",
        "columnsOrdered": "true",
    }
    if has_header:
        table["skip.header.line.count"] = "1"
    return Classification(name, round(fraction, 4), cols, serde_parameters=serde, table_parameters=table,
                          row_count_estimate=sample.estimate(len(body)))  # fmt: skip


def _quoting(text: str, delimiter: str, quote: str, rows_quoted: list[list[str]]) -> tuple[bool, bool]:
    """Whether fields are quoted (the quote-aware split differs from a plain one), and whether quotes
    inside quoted fields are doubled (RFC 4180)."""
    if quote not in text:
        return False, False
    plain = _rows(text, delimiter, None)
    quoted = plain != rows_quoted
    doubled = quoted and (quote * 2) in text
    return quoted, doubled


def _classify_csv(sample: Sample) -> Classification | None:
    lines = sample.lines
    if len([ln for ln in lines if ln.strip()]) < 2:
        return None
    text = _sample_text(sample)
    best = None
    for order, d in enumerate(DELIMITERS):
        if d not in text:
            continue
        rows = _rows(text, d, '"')
        width, fraction = _consistency(rows)
        if width < 2 or len(rows) < 2 or fraction < MIN_CSV_CONSISTENCY:
            continue
        key = (fraction, width, -order)
        if best is None or key > best[0]:
            best = (key, d, rows, width, fraction)
    if best is None:
        return None
    _, d, rows, width, fraction = best
    quoted, doubled = _quoting(text, d, '"', rows)
    return _csv_classification(sample, rows, d, quoted, '"', "UNKNOWN", None, fraction, width,
                               escape_doubled=doubled)  # fmt: skip


def _classify_custom_csv(sample: Sample, c: CustomClassifier) -> Classification | None:
    text = _sample_text(sample)
    quote = c.csv_quote or '"'
    delimiters = [c.csv_delimiter] if c.csv_delimiter else DELIMITERS
    best = None
    for d in delimiters:
        rows = _rows(text, d, quote)
        width, fraction = _consistency(rows)
        if c.csv_column_names:
            width = len(c.csv_column_names)
            fraction = sum(1 for r in rows if len(r) == width) / len(rows) if rows else 0.0
        if len(rows) < 2 or width < 2 or fraction < MIN_CSV_CONSISTENCY:
            continue  # as Glue: at least two columns and two rows
        if best is None or fraction > best[3]:
            best = (d, rows, width, fraction)
    if best is None:
        return None
    d, rows, width, fraction = best
    quoted, doubled = _quoting(text, d, quote, rows)
    header = (c.csv_header or "UNKNOWN").upper()
    return _csv_classification(sample, rows, d, quoted, quote, header, c.csv_column_names, fraction, width,
                               name=c.classification, escape_doubled=doubled)  # fmt: skip


# =========================================================================================================
# classify


@functools.lru_cache(maxsize=256)
def _cached_grok(pattern: str, custom_patterns: str | None) -> Grok:
    return compile_grok(pattern, custom_patterns)


def _custom(c: CustomClassifier) -> Callable[[Sample], Classification | None]:
    """A custom classifier as a function of a sample. Raises ValueError for a bad definition."""
    kind = c.kind.lower()
    if kind == "grok":
        grok = _cached_grok(c.grok_pattern or "", c.custom_patterns)
        return lambda s: _classify_grok(s, grok, c.classification, builtin=False)
    if kind == "json":
        return lambda s: _classify_json_path(s, c)
    if kind == "csv":
        return lambda s: _classify_custom_csv(s, c)
    if kind == "xml":
        return lambda s: _classify_xml(s, c.xml_row_tag, c.classification) if c.xml_row_tag else None
    raise ValueError(f"classifier {c.name}: unknown kind {c.kind!r}")


def _builtins() -> Iterator[Callable[[Sample], Classification | None]]:
    yield _classify_json
    yield _classify_xml
    for name, grok in _log_groks():
        yield lambda s, g=grok, n=name: _classify_grok(s, g, n, builtin=True)
    yield _classify_csv


def choose(candidates: Iterable[Callable[[], Classification | None]]) -> Classification | None:
    """Glue's rule: the first answer with certainty 1.0, else the highest certainty (the earliest on a tie)."""
    best = None
    for candidate in candidates:
        c = candidate()
        if c is None or c.certainty <= 0:
            continue
        if c.certainty >= 1.0:
            return c
        if best is None or c.certainty > best.certainty:
            best = c
    return best


def _is_local(fs) -> bool:
    return isinstance(fs, LocalFileSystem)


_FIRST_LINE_GROKS: dict[str, tuple[tuple[str, Grok], ...]] = {}


def _groks_matching(line: str) -> tuple[tuple[str, Grok], ...]:
    """The built-in log formats whose pattern matches `line` (remembered for short lines: the files of a
    folder mostly begin with the same header line)."""
    found = _FIRST_LINE_GROKS.get(line)
    if found is None:
        found = tuple((name, g) for name, g in _log_groks() if g.match(line) is not None)
        if len(line) <= 1024:
            if len(_FIRST_LINE_GROKS) >= 4096:
                _FIRST_LINE_GROKS.clear()
            _FIRST_LINE_GROKS[line] = found
    return found


def _builtins_for(sample: Sample) -> Iterator[Callable[[Sample], Classification | None]]:
    """The built-ins of `_builtins` that may answer for `sample`, in the same order: the others are known
    to answer None from the sample's start alone (JSON begins with `{` or `[`, XML with `<`, and a
    built-in log format must match the first non-blank line), so leaving them out changes no answer."""
    start = sample.text.lstrip("\ufeff \t\r\n")[:1]
    if start in ("{", "["):
        yield _classify_json
    if start == "<":
        yield _classify_xml
    first = next((ln for ln in sample.lines if ln.strip()), None)
    if first is not None:
        for name, grok in _groks_matching(first.rstrip("\r")):
            yield lambda s, g=grok, n=name: _classify_grok(s, g, n, builtin=True)
    yield _classify_csv


def classify_sample(sample: Sample, custom: Iterable[CustomClassifier] = ()) -> Classification | None:
    funcs = [_custom(c) for c in custom]
    return choose([(lambda f=f: f(sample)) for f in [*funcs, *_builtins_for(sample)]])


def classify(fs, path: str, size: int, custom: Iterable[CustomClassifier] = (), *,
             strict: bool = False) -> Classification | None:  # fmt: skip
    """Classifies one file of an fsspec filesystem (see the module's docstring). `strict`: a file that
    readers would not read as classified (see `Classification.unreadable_reason`) raises
    ClassificationError with that reason instead."""
    custom = list(custom)
    if size <= 0:
        return None
    try:
        # local files through the built-in open (fsspec's wrapper costs as much as classifying a small file);
        # small reads elsewhere: no 5 MB read-ahead on S3
        with open(path, "rb") if _is_local(fs) else fs.open(path, "rb", block_size=4 * HEAD) as f:
            head = _exact(f, min(size, HEAD))
            container = _magic_container(head)
            if container == "parquet":
                return _parquet(f, size)
            if container == "orc":
                return _orc(f, size)
            if container == "avro":
                return _avro(f, size, head)
            compression = _magic_compression(head)
            name = path.rsplit("/", 1)[-1].lower()
            if compression is None and name.endswith((".snappy", ".lz4")) and len(head) >= 8:
                compression = "hadoop-" + name.rsplit(".", 1)[-1]
            sample = _text_sample(f, head, size, compression)
    except ClassificationError:
        raise
    except (OSError, ValueError) as e:
        raise ClassificationError(f"unreadable: {e}") from e
    if sample is None:
        return None
    result = classify_sample(sample, custom)
    if result is None:
        return None
    result.compression = compression[7:] if compression and compression.startswith("hadoop-") else compression
    result.unreadable_reason = result.unreadable_reason or _unreadable(name, compression, result)
    if strict and result.unreadable_reason:
        raise ClassificationError(result.unreadable_reason)
    return result


# the extension by which Hadoop's CompressionCodecFactory (Spark, Hive; Trino alike) picks each codec
HADOOP_EXTENSIONS = {
    "gzip": ".gz",
    "bz2": ".bz2",
    "zstd": ".zst",
    "hadoop-snappy": ".snappy",
    "hadoop-lz4": ".lz4",
}


def _unreadable(name: str, compression: str | None, c: Classification) -> str | None:
    if compression in ("lz4", "snappy"):
        kind = "LZ4 frame" if compression == "lz4" else "snappy framing"
        return (f"{compression}: the {kind} format; Spark, Hive and Trino read {compression} text files only in "
                "Hadoop's block format")  # fmt: skip
    if compression:
        ext = HADOOP_EXTENSIONS[compression]
        if not name.endswith(ext):
            return (f"{compression}-compressed, but its name does not end in {ext}: readers choose the codec by "
                    "extension and would read compressed bytes")  # fmt: skip
        if compression == "zstd" and "input.regex" in c.serde_parameters:
            return "zstd: Spark's Hive text reader needs libhadoop built with zstd (pyspark's has none)"
        return None
    for codec, ext in HADOOP_EXTENSIONS.items():
        if name.endswith(ext):
            return f"named {ext} but not {codec.replace('hadoop-', '')}-compressed: readers would try to decompress it"
    return None
