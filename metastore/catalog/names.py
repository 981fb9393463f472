"""Names: validation of object names and column types, and Hive's partition-name escaping."""

from __future__ import annotations

import re

from metastore.catalog.errors import InvalidInput

_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
MAX_NAME = 128


def check_name(kind: str, name: str | None) -> str:
    """Lower-cased `name` if it is a valid database/table/function name (HMS: `[\\w_]+`)."""
    if not name or len(name) > MAX_NAME or not _NAME.match(name):
        raise InvalidInput(f"{kind} name {name!r} is not a valid object name")
    return name.lower()


def check_column_name(name: str | None) -> str:
    if not name or len(name) > MAX_NAME * 6 or any(c in name for c in ",\n\r\x00"):
        raise InvalidInput(f"column name {name!r} is not valid")
    return name


# --- Hive column types ------------------------------------------------------------------------------

_PRIMITIVES = {
    "void", "boolean", "tinyint", "smallint", "int", "integer", "bigint", "float", "double",
    "double precision", "real", "string", "binary", "date", "timestamp", "datetime",
    "timestamp with local time zone", "interval_year_month", "interval_day_time", "decimal",
    "numeric", "char", "varchar",
}  # fmt: skip
_PARAMETRISED = {"decimal": (0, 2), "numeric": (0, 2), "char": (1, 1), "varchar": (1, 1)}
_TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>,:()]))")


def check_type(type_name: str | None) -> str:
    """`type_name` if it is a valid Hive type string (primitive, array, map, struct, uniontype)."""
    if not type_name or len(type_name) > 1_000_000:
        raise InvalidInput(f"column type {type_name!r} is not a valid Hive type")
    tokens = _tokenize(type_name)
    pos = _parse_type(tokens, 0, type_name)
    if pos != len(tokens):
        raise InvalidInput(f"column type {type_name!r} is not a valid Hive type: unexpected {tokens[pos]!r}")
    return type_name


def _tokenize(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise InvalidInput(f"column type {text!r} is not a valid Hive type: bad character at {pos}")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return out


def _expect(tokens: list[str], pos: int, tok: str, text: str) -> int:
    if pos >= len(tokens) or tokens[pos] != tok:
        got = tokens[pos] if pos < len(tokens) else "end of type"
        raise InvalidInput(f"column type {text!r} is not a valid Hive type: expected {tok!r}, got {got!r}")
    return pos + 1


def _parse_type(tokens: list[str], pos: int, text: str) -> int:
    if pos >= len(tokens):
        raise InvalidInput(f"column type {text!r} is not a valid Hive type: unexpected end")
    word = tokens[pos].lower()
    pos += 1
    if word in ("array",):
        pos = _expect(tokens, pos, "<", text)
        pos = _parse_type(tokens, pos, text)
        return _expect(tokens, pos, ">", text)
    if word == "map":
        pos = _expect(tokens, pos, "<", text)
        pos = _parse_type(tokens, pos, text)
        pos = _expect(tokens, pos, ",", text)
        pos = _parse_type(tokens, pos, text)
        return _expect(tokens, pos, ">", text)
    if word in ("struct", "uniontype"):
        pos = _expect(tokens, pos, "<", text)
        if pos < len(tokens) and tokens[pos] == ">":
            return pos + 1
        while True:
            if word == "struct":
                if pos >= len(tokens) or tokens[pos] in "<>,:()":
                    raise InvalidInput(f"column type {text!r} is not a valid Hive type: struct field name expected")
                pos = _expect(tokens, pos + 1, ":", text)
            pos = _parse_type(tokens, pos, text)
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
                continue
            return _expect(tokens, pos, ">", text)
    # multi-word primitives
    for phrase in ("double precision", "timestamp with local time zone"):
        words = phrase.split()
        if word == words[0] and [t.lower() for t in tokens[pos : pos + len(words) - 1]] == words[1:]:
            return pos + len(words) - 1
    if word not in _PRIMITIVES:
        raise InvalidInput(f"column type {text!r} is not a valid Hive type: unknown type {word!r}")
    if word in _PARAMETRISED and pos < len(tokens) and tokens[pos] == "(":
        lo, hi = _PARAMETRISED[word]
        pos, n = pos + 1, 0
        while True:
            if pos >= len(tokens) or not tokens[pos].isdigit():
                raise InvalidInput(f"column type {text!r} is not a valid Hive type: number expected")
            pos, n = pos + 1, n + 1
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
                continue
            break
        pos = _expect(tokens, pos, ")", text)
        if not lo <= n <= hi:
            raise InvalidInput(f"column type {text!r} is not a valid Hive type: wrong number of parameters")
    elif word in ("char", "varchar"):
        raise InvalidInput(f"column type {text!r} is not a valid Hive type: {word} needs a length")
    return pos


# --- partition names ----------------------------------------------------------------------------------

DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_ESCAPED = set('"#%\'*/:=?\\\x7f{[]^')


def escape_path_name(value: str) -> str:
    """Hive's FileUtils.escapePathName: the form of keys and values in partition names and paths."""
    if value is None or value == "":
        return DEFAULT_PARTITION
    if not any(c in _ESCAPED or c < " " for c in value):
        return value
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED or c < " " else c for c in value)


_UNESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def unescape_path_name(value: str) -> str:
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def make_partition_name(keys: list[str], values: list[str]) -> str:
    if len(keys) != len(values):
        raise InvalidInput(f"partition has {len(values)} values but the table has {len(keys)} partition keys")
    return "/".join(f"{escape_path_name(k)}={escape_path_name(v)}" for k, v in zip(keys, values, strict=True))


def parse_partition_name(name: str, keys: list[str] | None = None) -> list[str]:
    """Values of a partition name `k1=v1/k2=v2`; with `keys`, checks they are the table's keys in order."""
    values, seen = [], []
    for part in name.split("/"):
        if "=" not in part:
            raise InvalidInput(f"partition name {name!r} is not of the form key=value/...")
        k, v = part.split("=", 1)
        seen.append(unescape_path_name(k).lower())
        values.append(unescape_path_name(v))
    if keys is not None and seen != [k.lower() for k in keys]:
        raise InvalidInput(f"partition name {name!r} does not match the partition keys {keys}")
    return values
