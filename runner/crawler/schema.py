"""Hive types: parsing, inference from sampled values, widening, and merging the schemas of many files.

Inference rules (`infer_type`, `infer_columns`):

- JSON values keep their JSON type: true/false → boolean; integers → bigint (beyond bigint: decimal(p,0) up
  to 38 digits, else string); numbers with a fraction or exponent → double, but decimal(p,s) when some
  value written with a fraction would change as a double (12345678901234567.25 has more digits than a
  double keeps; 0.8444218515250481, a double's shortest printing, does not); strings → string, except
  `YYYY-MM-DD` → date and `YYYY-MM-DD HH:MM:SS[.f]` → timestamp (the forms Hive, Spark and Trino all
  parse without options; ISO strings with `T` or a zone offset stay string).
- Text fields (CSV, XML, logs with `text=True`) are read from their characters: `true`/`false` → boolean;
  integers → bigint (a leading zero, as in `007`, keeps it a string: zip codes, ids); decimals and
  exponents → double, or decimal as for JSON; dates and timestamps as above.
  Empty fields and `\\N` are nulls.
- Arrays take the merged type of their elements; objects become struct<...> with their fields in order
  of appearance, except that an object whose keys look like data becomes map<string,V>: more than
  MAP_KEYS (50) distinct keys in the sample, or at least two keys and none of them an identifier
  (`2024-01-01`, `42`, `a b`). Its values must then merge to one type V.
- Values of different types in one column widen (below); what cannot widen becomes string. A column that
  held only nulls is "void" in a file's columns (it takes the other files' type when merged; written as
  string) and string inside structs, arrays and maps.

Widening (`merge_types`, used within a file and across files): tinyint → smallint → int → bigint →
decimal(p,s) → double (float → double); date → timestamp; boolean with anything else, binary with
anything else, and any primitive with string → string. Structs merge field by field (by name, ignoring
case; new fields appended), arrays by element, maps by key and value; a struct and a map merge into the
map. Across files a complex type never merges with a different kind (array with struct, struct with
bigint): `merge_columns` returns None and the files belong to different tables.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from metastore.catalog.types import Column

if TYPE_CHECKING:
    from runner.crawler.classifiers import Classification

MAP_KEYS = 50
MAX_PRECISION = 38
# A column that held only nulls in a file's sample has type "void" in that file's Classification: it takes
# the type of the other files' column when merged, and is written as string (`hive_type`, formats.py).
VOID = "void"

# A parsed type: a primitive name ("bigint", "decimal(10,2)", "varchar(5)"), or
# ("array", T), ("map", K, V), ("struct", ((name, T), ...)), ("uniontype", (T, ...)).
Type = str | tuple

_INT_RANKS = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4}
_INT_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}
_ALIASES = {"integer": "int", "long": "bigint", "short": "smallint", "byte": "tinyint", "real": "float",
            "bool": "boolean", "text": "string", "datetime": "timestamp"}  # fmt: skip
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,9})?\Z")
_INT_TEXT = re.compile(r"[+-]?(\d+)\Z")
_FLOAT_TEXT = re.compile(r"[+-]?(?:(\d+)\.(\d*)|\.(\d+)|(\d+))(?:[eE]([+-]?\d+))?\Z")


# ---------------------------------------------------------------------------------------------------------
# parsing and printing Hive type strings


class TypeSyntaxError(ValueError):
    pass


class _Parser:
    def __init__(self, text: str):
        self.s = text
        self.i = 0

    def _ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def _peek(self) -> str:
        self._ws()
        return self.s[self.i] if self.i < len(self.s) else ""

    def _expect(self, ch: str) -> None:
        if self._peek() != ch:
            raise TypeSyntaxError(f"expected {ch!r} at position {self.i} of {self.s!r}")
        self.i += 1

    def _word(self) -> str:
        self._ws()
        m = re.compile(r"[A-Za-z0-9_]+").match(self.s, self.i)
        if not m:
            raise TypeSyntaxError(f"expected a type name at position {self.i} of {self.s!r}")
        self.i = m.end()
        return m.group(0)

    def _field_name(self) -> str:
        self._ws()
        if self._peek() == "`":
            self.i += 1
            out = []
            while self.i < len(self.s):
                c = self.s[self.i]
                if c == "`":
                    if self.s.startswith("``", self.i):
                        out.append("`")
                        self.i += 2
                        continue
                    self.i += 1
                    return "".join(out)
                out.append(c)
                self.i += 1
            raise TypeSyntaxError(f"unterminated ` in {self.s!r}")
        end = self.s.find(":", self.i)
        if end < 0:
            raise TypeSyntaxError(f"expected ':' after a field name in {self.s!r}")
        name = self.s[self.i : end].strip()
        self.i = end
        return name

    def type(self) -> Type:
        name = self._word().lower()
        name = _ALIASES.get(name, name)
        if name == "array":
            self._expect("<")
            elem = self.type()
            self._expect(">")
            return ("array", elem)
        if name == "map":
            self._expect("<")
            k = self.type()
            self._expect(",")
            v = self.type()
            self._expect(">")
            return ("map", k, v)
        if name == "struct":
            self._expect("<")
            fields = []
            if self._peek() != ">":
                while True:
                    fname = self._field_name()
                    self._expect(":")
                    fields.append((fname, self.type()))
                    if self._peek() == ",":
                        self.i += 1
                        continue
                    break
            self._expect(">")
            return ("struct", tuple(fields))
        if name == "uniontype":
            self._expect("<")
            members = [self.type()]
            while self._peek() == ",":
                self.i += 1
                members.append(self.type())
            self._expect(">")
            return ("uniontype", tuple(members))
        if self._peek() == "(":
            self.i += 1
            args = [self._word()]
            while self._peek() == ",":
                self.i += 1
                args.append(self._word())
            self._expect(")")
            return f"{name}({','.join(args)})"
        if name == "decimal":
            return "decimal(10,0)"  # Hive's default
        return name

    def parse(self) -> Type:
        t = self.type()
        if self._peek():
            raise TypeSyntaxError(f"unexpected {self.s[self.i :]!r} in {self.s!r}")
        return t


def parse_type(text: str) -> Type:
    """A Hive type string as a tree (see `Type`). Raises TypeSyntaxError."""
    return _Parser(text).parse()


def _quote(name: str) -> str:
    return name if _IDENT.match(name) else "`" + name.replace("`", "``") + "`"


def type_string(t: Type) -> str:
    if isinstance(t, str):
        return "string" if t == VOID else t
    kind = t[0]
    if kind == "array":
        return f"array<{type_string(t[1])}>"
    if kind == "map":
        return f"map<{type_string(t[1])},{type_string(t[2])}>"
    if kind == "struct":
        return "struct<" + ",".join(f"{_quote(n)}:{type_string(ft)}" for n, ft in t[1]) + ">"
    if kind == "uniontype":
        return "uniontype<" + ",".join(type_string(m) for m in t[1]) + ">"
    raise ValueError(f"not a type: {t!r}")


def normalize_type(text: str) -> str:
    """The canonical spelling of a Hive type string (lower-case names, no spaces)."""
    return type_string(parse_type(text))


def decimal_args(t: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"decimal\((\d+),(\d+)\)", t)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _decimal(int_digits: int, scale: int) -> str:
    """decimal(p,s) for that many integer digits and scale; scale shrinks first when over 38."""
    int_digits = max(int_digits, 1)
    if int_digits + scale > MAX_PRECISION:
        scale = max(0, MAX_PRECISION - int_digits)
        int_digits = min(int_digits, MAX_PRECISION)
    return f"decimal({int_digits + scale},{scale})"


# ---------------------------------------------------------------------------------------------------------
# widening


def _merge_primitive(a: str, b: str) -> str:
    if a == b:
        return a
    if a == VOID:
        return b
    if b == VOID:
        return a
    na, nb = _num_args(a), _num_args(b)
    if na and nb:
        return _num(max(na[0], nb[0]), max(na[1], nb[1]), na[2] or nb[2], na[3] or nb[3])
    if na or nb:
        return _merge_primitive(_num_final(a) if na else a, _num_final(b) if nb else b)
    a = "string" if a.startswith(("varchar", "char")) else a
    b = "string" if b.startswith(("varchar", "char")) else b
    if a == b:
        return a
    if "string" in (a, b):
        return "string"
    da, db = decimal_args(a), decimal_args(b)
    if a in _INT_RANKS and b in _INT_RANKS:
        return a if _INT_RANKS[a] >= _INT_RANKS[b] else b
    if da or db:
        if da and db:
            return _decimal(max(da[0] - da[1], db[0] - db[1]), max(da[1], db[1]))
        dec, other = (da, b) if da else (db, a)
        if other in _INT_RANKS:
            return _decimal(max(dec[0] - dec[1], _INT_DIGITS[other]), dec[1])
        if other in ("float", "double"):
            return "double"
        return "string"
    numeric = set(_INT_RANKS) | {"float", "double"}
    if a in numeric and b in numeric:
        return "double"
    if {a, b} == {"date", "timestamp"}:
        return "timestamp"
    return "string"


def _merge(a: Type, b: Type, lenient: bool) -> Type | None:
    """The type both widen to. `lenient` (inside one file): what cannot merge becomes string.
    Otherwise (across files) None when a complex type meets a different kind."""
    if a == b:
        return a
    if a == VOID:
        return b
    if b == VOID:
        return a
    sa, sb = isinstance(a, str), isinstance(b, str)
    if sa and sb:
        return _merge_primitive(a, b)
    fail = "string" if lenient else None
    if sa or sb:
        return fail
    ka, kb = a[0], b[0]
    if ka == kb == "array":
        e = _merge(a[1], b[1], lenient)
        return fail if e is None else ("array", e)
    if ka == kb == "map":
        k, v = _merge(a[1], b[1], lenient), _merge(a[2], b[2], lenient)
        return fail if k is None or v is None else ("map", k, v)
    if ka == kb == "struct":
        fields = _merge_fields(list(a[1]), list(b[1]), lenient)
        return fail if fields is None else ("struct", tuple(fields))
    if {ka, kb} == {"struct", "map"}:
        st, mp = (a, b) if ka == "struct" else (b, a)
        v: Type | None = mp[2]
        for _, ft in st[1]:
            v = _merge(v, ft, lenient) if v is not None else None
        k = _merge(mp[1], "string", lenient)
        return fail if v is None or k is None else ("map", k, v)
    return fail


def _merge_fields(a: list[tuple[str, Type]], b: list[tuple[str, Type]], lenient: bool):
    out = list(a)
    index = {n.lower(): i for i, (n, _) in enumerate(out)}
    for name, t in b:
        i = index.get(name.lower())
        if i is None:
            index[name.lower()] = len(out)
            out.append((name, t))
            continue
        m = _merge(out[i][1], t, lenient)
        if m is None:
            return None
        out[i] = (out[i][0], m)
    return out


def merge_types(a: str, b: str) -> str | None:
    """The Hive type that both widen to, or None when they cannot share a column."""
    m = _merge(parse_type(a), parse_type(b), lenient=False)
    if m == VOID:
        return VOID
    return None if m is None else type_string(m)


def merge_columns(a: list[Column], b: list[Column]) -> list[Column] | None:
    """The columns of `a` widened by those of `b` (matched by name, ignoring case), with the new columns of
    `b` appended in its order; None when some column cannot widen (different formats are decided
    elsewhere)."""
    out = [Column(c.name, c.type, c.comment) for c in a]
    index = {c.name.lower(): i for i, c in enumerate(out)}
    for c in b:
        i = index.get(c.name.lower())
        if i is None:
            index[c.name.lower()] = len(out)
            out.append(Column(c.name, c.type, c.comment))
            continue
        if out[i].type == c.type:
            continue
        t = merge_types(out[i].type, c.type)
        if t is None:
            return None
        out[i].type = t
    return out


# ---------------------------------------------------------------------------------------------------------
# inference


# While inferring, numbers written out in full are NUM(i,f,big,lossy): at most i integer digits and f
# fraction digits; big when some integer is beyond bigint; lossy when some value would change as a double
# (more digits than a double keeps: 12345678901234567.25; a printed double such as 0.8444218515250481 is
# not lossy). `_finish` decides: no fraction → bigint (big: decimal(i,0) up to 38 digits, else string);
# a fraction → double, but decimal(i+f,f) when lossy (and at most 38 digits).
_NUM = re.compile(r"~num\((\d+),(\d+),([01]),([01])\)\Z")


def _num(int_digits: int, frac_digits: int, big: bool = False, lossy: bool = False) -> str:
    return f"~num({int_digits},{frac_digits},{int(big)},{int(lossy)})"


@functools.lru_cache(maxsize=4096)  # few distinct values: numbers of so many digits
def _num_args(t: str) -> tuple[int, int, bool, bool] | None:
    m = _NUM.match(t)
    return (int(m.group(1)), int(m.group(2)), m.group(3) == "1", m.group(4) == "1") if m else None


@functools.lru_cache(maxsize=4096)
def _num_final(t: str) -> str:
    i, f, big, lossy = _num_args(t)
    if f == 0:
        if not big:
            return "bigint"
        return _decimal(i, 0) if i <= MAX_PRECISION else "string"
    if lossy and i + f <= MAX_PRECISION:
        return _decimal(i, f)
    return "double"


def _int_num(digits: str) -> str:
    n = int(digits)
    return _num(len(digits.lstrip("+-")), 0, not -(2**63) <= n < 2**63)


def _fraction_num(value: Decimal, int_digits: int, frac_digits: int) -> str:
    try:
        lossy = Decimal(repr(float(value))) != value
    except (OverflowError, ValueError):
        lossy = True
    return _num(int_digits, frac_digits, lossy=lossy)


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _string_type(s: str) -> str:
    if len(s) == 10 and _DATE.match(s) and _valid_date(s):
        return "date"
    if 19 <= len(s) <= 29:
        m = _TIMESTAMP.match(s)
        if m and _valid_date(m.group(1)):
            try:
                datetime.strptime(m.group(2), "%H:%M:%S")
                return "timestamp"
            except ValueError:
                pass
    return "string"


_TEXT_TYPES: dict[str, str] = {}  # short fields seen (names, codes, small numbers) → their type


def text_type(s: str) -> str:
    """The Hive type of one text field (CSV, XML, log); VOID for a null."""
    if len(s) > 32:
        return _text_type(s)
    t = _TEXT_TYPES.get(s)
    if t is None:
        t = _text_type(s)
        if len(_TEXT_TYPES) >= 65536:
            _TEXT_TYPES.clear()
        _TEXT_TYPES[s] = t
    return t


def _text_type(s: str) -> str:
    s = s.strip()
    if s == "" or s == "\\N":
        return VOID
    low = s.lower()
    if low in ("true", "false"):
        return "boolean"
    m = _INT_TEXT.match(s)
    if m:
        digits = m.group(1)
        if len(digits) > 1 and digits[0] == "0":
            return "string"
        return _int_num(s.lstrip("+"))
    m = _FLOAT_TEXT.match(s)
    if m:
        whole, frac, only_frac, plain, exp = m.groups()
        if whole is not None:
            if len(whole) > 1 and whole[0] == "0":
                return "string"
            return "double" if exp is not None else _fraction_num(Decimal(s), len(whole), len(frac))
        if only_frac is not None:
            return "double" if exp is not None else _fraction_num(Decimal(s), 0, len(only_frac))
        return "double"  # digits with an exponent: 1e5
    return _string_type(s)


def value_type(v, *, text: bool = False) -> Type:
    """The type of one JSON/Python value (text fields when `text`)."""
    if v is None:
        return VOID
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return _int_num(str(v))
    if isinstance(v, float):
        return "double"
    if isinstance(v, Decimal):
        if not v.is_finite():
            return "double"
        sign, digits, exp = v.as_tuple()
        if exp >= 0:
            return _int_num(str(int(v)))
        frac = -exp
        return _fraction_num(v, max(len(digits) - frac, 0), frac)
    if isinstance(v, str):
        return text_type(v) if text else _string_type(v)
    if isinstance(v, (list, tuple)):
        elem: Type = VOID
        for x in v:
            elem = _merge(elem, value_type(x, text=text), lenient=True)
        return ("array", elem)
    if isinstance(v, dict):
        return ("struct", tuple((str(k), value_type(x, text=text)) for k, x in v.items()))
    if isinstance(v, datetime):
        return "timestamp"
    if isinstance(v, date):
        return "date"
    if isinstance(v, (bytes, bytearray)):
        return "binary"
    return "string"


def _finish(t: Type, maps: bool = True) -> Type:
    """Decides struct or map for objects (`maps`), and turns remaining VOIDs into string."""
    if isinstance(t, str):
        if t == VOID:
            return "string"
        return _num_final(t) if t.startswith("~num") else t
    kind = t[0]
    if kind == "array":
        return ("array", _finish(t[1], maps))
    if kind == "map":
        return ("map", _finish(t[1], maps), _finish(t[2], maps))
    if kind == "struct":
        fields = t[1]
        if maps and fields:
            names = [n for n, _ in fields]
            data_keys = len(names) > MAP_KEYS or (len(names) >= 2 and not any(_IDENT.match(n) for n in names))
            if data_keys:
                v: Type | None = VOID
                for _, ft in fields:
                    v = _merge(v, ft, lenient=False) if v is not None else None
                if v is not None:
                    return ("map", "string", _finish(v, maps))
        return ("struct", tuple((n, _finish(ft, maps)) for n, ft in fields))
    return t


def infer_type(values: Iterable, *, text: bool = False, nulls: str = "string") -> str:
    """The Hive type of a sample of values of one column (JSON/Python values; text fields when `text`).
    A sample of nulls only is `nulls`: "string", or "void" for a file's column (see `VOID`)."""
    t: Type = VOID
    for v in values:
        t = _merge(t, value_type(v, text=text), lenient=True)
    if t == VOID:
        return nulls
    return type_string(_finish(t))


def infer_columns(records: Iterable[dict], *, text: bool = False, maps: bool = True) -> list[Column]:
    """Columns of a sample of records (dicts), in order of first appearance; names matched ignoring
    case (the first spelling is kept). `maps=False`: objects are always structs (XML). A column with
    nulls only is "void" (see `VOID`)."""
    fields: list[tuple[str, Type]] = []
    index: dict[str, int] = {}
    for rec in records:
        for k, v in rec.items():
            name = str(k)
            t = value_type(v, text=text)
            i = index.get(name.lower())
            if i is None:
                index[name.lower()] = len(fields)
                fields.append((name, t))
            else:
                fields[i] = (fields[i][0], _merge(fields[i][1], t, lenient=True))
    return [Column(n, VOID if t == VOID else type_string(_finish(t, maps))) for n, t in fields]


def hive_type(t: str) -> str:
    """The type to write in the catalog: a column's "void" is string."""
    return "string" if t == VOID else t


# ---------------------------------------------------------------------------------------------------------
# classifications of many files

# the parameters that say how to read the files (all others describe them)
_LAYOUT_SERDE = ("multiLine", "rowTag", "input.regex")
_LAYOUT_TABLE = ("skip.header.line.count", "jsonPath")


def layout_key(c: Classification) -> tuple:
    """What must be equal for two files to be one table: the format and the options that say how to read
    them (delimiter, header, JSON mode and path, XML row tag, log regex), but not the compression (readers
    pick the codec per file) nor, for CSV, whether fields were quoted (the quoted reader reads both)."""
    sp, tp = c.serde_parameters, c.table_parameters
    delimiter = sp.get("field.delim") or sp.get("separatorChar")
    return (
        c.format,
        delimiter,
        tuple((k, sp[k]) for k in _LAYOUT_SERDE if k in sp),
        tuple((k, tp[k]) for k in _LAYOUT_TABLE if tp.get(k) not in (None, "", "0")),
    )


def compatible(a: Classification, b: Classification) -> bool:
    """Same format, same reading options, and columns that merge."""
    return layout_key(a) == layout_key(b) and merge_columns(a.columns, b.columns) is not None


def merge(a: Classification, b: Classification) -> Classification | None:
    """One classification for the files of `a` and `b` (None unless `compatible`): columns widened and
    appended, the lower certainty, quoted CSV when either file quotes fields, row estimates added."""
    if layout_key(a) != layout_key(b):
        return None
    cols = merge_columns(a.columns, b.columns)
    if cols is None:
        return None
    base = a
    if a.format == "csv" and "quoteChar" in b.serde_parameters and "quoteChar" not in a.serde_parameters:
        base = b
    rows = None
    if a.row_count_estimate is not None or b.row_count_estimate is not None:
        rows = (a.row_count_estimate or 0) + (b.row_count_estimate or 0)
    return replace(
        base, certainty=min(a.certainty, b.certainty), columns=cols,
        compression=a.compression if a.compression == b.compression else (a.compression or b.compression),
        serde_parameters=dict(base.serde_parameters), table_parameters=dict(base.table_parameters),
        row_count_estimate=rows, unreadable_reason=a.unreadable_reason or b.unreadable_reason,
    )  # fmt: skip
