"""The Hive Metastore partition filter language: parser and compiler to a SQLAlchemy expression.

Clients send these filters to get_partitions_by_filter / get_num_partitions_by_filter, e.g.
Spark: ``dt = "2024-01-02"``, ``(dt = "2024-01-03" and hr >= 12)``, ``(dt = "a" or dt = "b")``,
``dt like "2024.*"``; Hive: ``(ds) IN ("1", "2")``; Trino: ``(ds = "x") or (ds = "y")``.

Grammar (keywords case-insensitive; ``AND`` binds tighter than ``OR``)::

    filter     := [or_expr]                     -- empty text matches every partition
    or_expr    := and_expr (OR and_expr)*
    and_expr   := unary (AND unary)*
    unary      := NOT unary | primary           -- NOT: extension, Hive has none
    primary    := '(' or_expr ')'
                | '(' key ')' [NOT] IN '(' literal (',' literal)* ')'               -- Hive's form
                | ['('] STRUCT '(' key (',' key)* ')' [')'] [NOT] IN
                      '(' [CONST] STRUCT '(' literals ')' (',' [CONST] STRUCT '(' literals ')')* ')'
                | key op literal | literal op key                                  -- op reversed
                | key [NOT] LIKE string
                | key [NOT] BETWEEN literal AND literal
                | key [NOT] IN '(' literal (',' literal)* ')'                      -- extension
    op         := = | == | != | <> | < | <= | > | >=
    literal    := string | integer | date
    string     := "..." | '...'   a backslash stops the next character from ending the string;
                                  the text is kept verbatim, backslashes included (as Hive does)
    integer    := [-]digits        (64-bit)
    date       := yyyy-mm-dd (bare, as Spark sends dates) | DATE 'yyyy-mm-dd' | DATE yyyy-mm-dd
    key        := [A-Za-z0-9_]+ (not all digits) | `back-quoted` (`` for a back quote)

Semantics, checked against the real Hive Metastore 2.3.10 (Derby; its Filter.g, which is
the same grammar as in Hive 3) -- see also the notes on divergences below:

- Integral keys (tinyint/smallint/int/bigint) compare numerically (``int_value``): ``hr = 7``
  matches the value ``07``; ``hr != 2``, ``hr < 100`` and ``NOT BETWEEN`` never match a value
  that is not an integer (``__HIVE_DEFAULT_PARTITION__``), as in Hive.
- Other keys compare their text (``value``); string order is the database's (Hive on Derby:
  code-point order; PostgreSQL with a non-C collation may order punctuation differently).
  A date literal against a string key compares as its ISO text (Hive does the same).
- Date keys: date literals, and string literals that parse as a date (``"2024-1-2"``, as Hive's
  ``java.sql.Date.valueOf``), compare as ISO ``yyyy-mm-dd`` text; stored values are ISO.
- LIKE: Hive 2.3 evaluates it as a JDOQL ``matches()``, which DataNucleus turns into SQL LIKE:
  ``.*`` is any sequence, ``.`` any one character, everything else (``%``, ``_``, ``\\``, ``[``,
  ``?``, ``(``...) is literal; the match is anchored and case-sensitive. Observed on the reference:
  ``dt like "2024.*"`` = startsWith, ``dt like "2024%"`` matches nothing, ``"2024%x"`` matches the
  value ``2024%x``, ``"a_b"`` only ``a_b``, ``"a.b"`` ``axb``/``a_b``/``a\\b`` but not ``A.B``.
  Spark (HiveShim.convertFilters) sends exactly these forms: startsWith ``"v.*"``, endsWith
  ``".*v"``, contains ``".*v.*"``. We reproduce this, case-sensitively on every backend (GLOB on
  SQLite, whose LIKE ignores case; LIKE on PostgreSQL; LIKE on binary strings on MySQL).
  The pattern must be a string literal and on the right (Hive: "Value should be on the RHS").
- Mixed types, where Hive 2.3 refuses ("Filtering is supported only on partition keys of type
  string") and the client falls back to evaluating the filter itself:
  * a string literal against an integral key that is an integer (``hr = "07"``) is converted;
  * otherwise (``hr = "__HIVE_DEFAULT_PARTITION__"``, ``dt = 5``, any literal against a
    double/decimal/boolean/timestamp/... key) =, !=, IN and LIKE compare the literal's text with
    the stored text, and <, <=, >, >=, BETWEEN raise InvalidInput: text order of numbers
    ("10" < "5") is never what the caller means.
- ``NOT`` is pushed down to the comparisons (``NOT hr = 2`` is ``hr != 2``), so values that are
  not integers never match a numeric comparison, negated or not (SQL's three-valued logic).
- Divergences from Hive 2.3, all stricter or additive: trailing text is an error (Hive ignores
  ``dt = "a" hr = 1``'s tail); whitespace-only text matches everything (Hive: parse error);
  NOT, ``==``, ``key IN (...)`` without parentheses, ``DATE '...'`` (broken in Hive),
  back-quoted keys and LIKE on non-string keys are accepted; varchar/char keys work (Hive 2.3
  refuses them).

Compilation: each comparison becomes ``partition_id_column IN (SELECT partition_id FROM
partition_key_values WHERE table_id = :t AND key_index = :i AND <condition>)``, which the
(table_id, key_index, value) and (table_id, key_index, int_value) indexes answer directly.
Comparisons on the same key under one AND/OR share a subquery (``hr >= 10 and hr <= 12`` is
one range scan; ``dt = a or dt = b ...`` one IN list, so Spark's long OR chains stay small).
Every literal is a bound parameter; no filter text reaches the SQL.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Boolean, String, and_, false, literal, not_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from metastore.catalog.errors import InvalidInput
from metastore.storage.models import PartitionKeyValueRow

__all__ = [
    "INTEGRAL_TYPES",
    "And",
    "Between",
    "Comparison",
    "DateLit",
    "In",
    "IntLit",
    "Like",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "StringLit",
    "StructIn",
    "compile_filter",
    "integral_value",
    "parse_filter",
]

INTEGRAL_TYPES = frozenset({"tinyint", "smallint", "int", "integer", "bigint"})
STRING_TYPES = frozenset({"string", "varchar", "char"})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 100  # nesting of parentheses / NOT; deeper filters are rejected, not a RecursionError

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DATE_TEXT = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def integral_value(hive_type: str, value: str) -> int | None:
    """The ``int_value`` to store for a partition value: its integer if the key is integral."""
    if _base_type(hive_type) not in INTEGRAL_TYPES:
        return None
    return _parse_int(value)


def _parse_int(text: str) -> int | None:
    if not _INT_TEXT.fullmatch(text):
        return None
    number = int(text)
    return number if INT64_MIN <= number <= INT64_MAX else None


def _parse_date(text: str) -> datetime.date | None:
    match = _DATE_TEXT.fullmatch(text)
    if not match:
        return None
    try:
        return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _base_type(hive_type: str) -> str:
    return hive_type.strip().lower().split("(", 1)[0].strip()


# --------------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StringLit:
    value: str  # verbatim text between the quotes


@dataclass(frozen=True)
class IntLit:
    value: int


@dataclass(frozen=True)
class DateLit:
    value: datetime.date


Literal = StringLit | IntLit | DateLit


class Node:
    """Base of the filter AST. ``pos`` (0-based offset in the text) is ignored by equality."""

    __slots__ = ()


@dataclass(frozen=True)
class Comparison(Node):
    key: str
    op: str  # = != < <= > >=, with the key on the left (reversed when the text had it on the right)
    value: Literal
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Like(Node):
    key: str
    pattern: str
    negated: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Between(Node):
    key: str
    low: Literal
    high: Literal
    negated: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class In(Node):
    key: str
    values: tuple[Literal, ...]
    negated: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class StructIn(Node):
    keys: tuple[str, ...]
    rows: tuple[tuple[Literal, ...], ...]
    negated: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    item: Node


@dataclass(frozen=True)
class MatchAll(Node):
    """The empty filter."""


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------

# token kinds
_WORD, _QUOTED_ID, _STRING, _INT, _DATE = "word", "quoted identifier", "string", "integer", "date"
_OP, _LPAREN, _RPAREN, _COMMA, _EOF = "operator", "'('", "')'", "','", "end"
_RESERVED = frozenset({"AND", "OR", "NOT", "LIKE", "BETWEEN", "IN"})
_OPERATORS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")
_OP_NORMAL = {"==": "=", "<>": "!="}
_REVERSED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_BARE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9A-Za-z_])")
_WORD_CHARS = re.compile(r"[0-9A-Za-z_]+")
_DIGITS = re.compile(r"-?[0-9]+(?![A-Za-z_])")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str  # source text, or the decoded value for strings / quoted identifiers
    pos: int
    value: object = None

    def is_word(self, *words: str) -> bool:
        return self.kind == _WORD and self.text.upper() in words

    def describe(self) -> str:
        if self.kind == _EOF:
            return "end of input"
        if self.kind == _STRING:
            return f"string {_short(self.text)!r}"
        return f"{self.text!r}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error(pos: int, message: str) -> InvalidInput:
    return InvalidInput(f"Invalid partition filter at position {pos}: {message}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise _error(i, "unterminated string literal")
            tokens.append(_Token(_STRING, text[i + 1 : j], i))
            i = j + 1
        elif c == "`":
            j, parts = i + 1, []
            while True:
                k = text.find("`", j)
                if k < 0:
                    raise _error(i, "unterminated back-quoted identifier")
                parts.append(text[j:k])
                if text.startswith("``", k):
                    parts.append("`")
                    j = k + 2
                    continue
                break
            name = "".join(parts)
            if not name:
                raise _error(i, "empty back-quoted identifier")
            tokens.append(_Token(_QUOTED_ID, name, i))
            i = k + 1
        elif c == "(":
            tokens.append(_Token(_LPAREN, c, i))
            i += 1
        elif c == ")":
            tokens.append(_Token(_RPAREN, c, i))
            i += 1
        elif c == ",":
            tokens.append(_Token(_COMMA, c, i))
            i += 1
        elif (m := _BARE_DATE.match(text, i)) is not None:
            day = _parse_date(m.group())
            if day is None:
                raise _error(i, f"invalid date {m.group()!r}")
            tokens.append(_Token(_DATE, m.group(), i, day))
            i = m.end()
        elif (m := _DIGITS.match(text, i)) is not None:
            number = int(m.group())
            if not INT64_MIN <= number <= INT64_MAX:
                raise _error(i, f"integer {m.group()} is out of the 64-bit range")
            tokens.append(_Token(_INT, m.group(), i, number))
            i = m.end()
        elif (m := _WORD_CHARS.match(text, i)) is not None:
            tokens.append(_Token(_WORD, m.group(), i))
            i = m.end()
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise _error(i, f"unexpected character {c!r}")
            tokens.append(_Token(_OP, op, i))
            i += len(op)
    tokens.append(_Token(_EOF, "", n))
    return tokens


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def parse_filter(text: str) -> Node:
    """Parse a partition filter; raises InvalidInput("... at position N: ...") on bad syntax."""
    if not isinstance(text, str):
        raise InvalidInput("Invalid partition filter: expected text")
    if not text.strip():
        return MatchAll()
    return _Parser(_tokenize(text)).parse()


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    # helpers
    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != _EOF:
            self.i += 1
        return token

    def fail(self, expected: str, token: _Token | None = None) -> InvalidInput:
        token = token or self.peek()
        return _error(token.pos, f"expected {expected}, found {token.describe()}")

    def expect(self, kind: str, expected: str) -> _Token:
        if self.peek().kind != kind:
            raise self.fail(expected)
        return self.next()

    def expect_word(self, word: str) -> _Token:
        if not self.peek().is_word(word):
            raise self.fail(word)
        return self.next()

    def is_key(self, token: _Token) -> bool:
        return token.kind == _QUOTED_ID or (token.kind == _WORD and token.text.upper() not in _RESERVED)

    def is_literal_start(self, offset: int = 0) -> bool:
        token = self.peek(offset)
        if token.kind in (_STRING, _INT, _DATE):
            return True
        return token.is_word("DATE") and self.peek(offset + 1).kind in (_STRING, _DATE)

    # grammar
    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != _EOF:
            raise self.fail("AND, OR or the end of the filter")
        return node

    def or_expr(self, first: Node | None = None) -> Node:
        items = [self.and_expr(first)]
        while self.peek().is_word("OR"):
            self.next()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, first: Node | None = None) -> Node:
        items = [first if first is not None else self.unary()]
        while self.peek().is_word("AND"):
            self.next()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(self.peek().pos, f"nested more than {MAX_DEPTH} levels deep")
        try:
            if self.peek().is_word("NOT"):
                self.next()
                return Not(self.unary())
            return self.primary()
        finally:
            self.depth -= 1

    def primary(self) -> Node:
        token = self.peek()
        if token.kind == _LPAREN:
            after = self.peek(1)
            # Hive's "(key) [NOT] IN (...)"
            if (
                self.is_key(after)
                and self.peek(2).kind == _RPAREN
                and (
                    self.peek(3).is_word("IN") or (self.peek(3).is_word("NOT") and self.peek(4).is_word("IN"))
                )
            ):
                self.next()
                key = self.next()
                self.next()
                return self.in_list(key)
            # Hive's "(struct(k1, k2)) [NOT] IN (const struct(...), ...)"
            if after.is_word("STRUCT") and self.peek(2).kind == _LPAREN:
                self.next()
                keys = self.struct_keys()
                if self.peek().kind == _RPAREN:
                    self.next()
                    return self.struct_in(keys, token.pos)
                node = self.or_expr(self.struct_in(keys, token.pos))  # "(struct(a, b) IN (...) ...)"
                self.expect(_RPAREN, "')' or AND/OR")
                return node
            self.next()
            node = self.or_expr()
            self.expect(_RPAREN, "')' or AND/OR")
            return node
        if token.is_word("STRUCT") and self.peek(1).kind == _LPAREN:
            return self.struct_in(self.struct_keys(), token.pos)
        if self.is_literal_start():
            value = self.literal()
            op = self.peek()
            if op.is_word("LIKE"):
                raise _error(op.pos, "the pattern of LIKE must be on the right of the key")
            if op.kind != _OP:
                raise self.fail("a comparison operator")
            self.next()
            key = self.peek()
            if not self.is_key(key):
                raise self.fail("a partition key")
            self.next()
            return Comparison(key.text, _REVERSED[_OP_NORMAL.get(op.text, op.text)], value, key.pos)
        if self.is_key(token):
            return self.predicate()
        raise self.fail("a partition key, a literal, NOT or '('")

    def predicate(self) -> Node:
        key = self.next()
        token = self.peek()
        if token.kind == _OP:
            self.next()
            return Comparison(key.text, _OP_NORMAL.get(token.text, token.text), self.literal(), key.pos)
        negated = False
        if token.is_word("NOT") and self.peek(1).is_word("LIKE", "BETWEEN", "IN"):
            negated = True
            self.next()
            token = self.peek()
        if token.is_word("LIKE"):
            self.next()
            pattern = self.peek()
            if pattern.kind != _STRING:
                raise self.fail("a string pattern after LIKE")
            self.next()
            return Like(key.text, pattern.text, negated, key.pos)
        if token.is_word("BETWEEN"):
            self.next()
            low = self.literal()
            self.expect_word("AND")
            high = self.literal()
            return Between(key.text, low, high, negated, key.pos)
        if token.is_word("IN"):
            self.next()
            return In(key.text, self.literal_list(), negated, key.pos)
        raise self.fail("a comparison operator, LIKE, BETWEEN or IN")

    def in_list(self, key: _Token) -> In:
        negated = self.peek().is_word("NOT")
        if negated:
            self.next()
        self.expect_word("IN")
        return In(key.text, self.literal_list(), negated, key.pos)

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect(_LPAREN, "'('")
        values = [self.literal()]
        while self.peek().kind == _COMMA:
            self.next()
            values.append(self.literal())
        self.expect(_RPAREN, "',' or ')'")
        return tuple(values)

    def struct_keys(self) -> tuple[str, ...]:
        self.expect_word("STRUCT")
        self.expect(_LPAREN, "'('")
        keys = []
        while True:
            if not self.is_key(self.peek()):
                raise self.fail("a partition key")
            keys.append(self.next().text)
            if self.peek().kind != _COMMA:
                break
            self.next()
        self.expect(_RPAREN, "',' or ')'")
        return tuple(keys)

    def struct_in(self, keys: tuple[str, ...], pos: int) -> StructIn:
        negated = self.peek().is_word("NOT")
        if negated:
            self.next()
        self.expect_word("IN")
        self.expect(_LPAREN, "'('")
        rows = []
        while True:
            if self.peek().is_word("CONST"):
                self.next()
            row_pos = self.peek().pos
            self.expect_word("STRUCT")
            row = self.literal_list()
            if len(row) != len(keys):
                raise _error(row_pos, f"expected {len(keys)} values in the struct, found {len(row)}")
            rows.append(row)
            if self.peek().kind != _COMMA:
                break
            self.next()
        self.expect(_RPAREN, "',' or ')'")
        return StructIn(keys, tuple(rows), negated, pos)

    def literal(self) -> Literal:
        token = self.peek()
        if token.kind == _STRING:
            self.next()
            return StringLit(token.text)
        if token.kind == _INT:
            self.next()
            return IntLit(token.value)  # type: ignore[arg-type]
        if token.kind == _DATE:
            self.next()
            return DateLit(token.value)  # type: ignore[arg-type]
        if token.is_word("DATE") and self.peek(1).kind in (_STRING, _DATE):
            self.next()
            value = self.next()
            day = value.value if value.kind == _DATE else _parse_date(value.text)
            if day is None:
                raise _error(value.pos, f"invalid date {_short(value.text)!r}")
            return DateLit(day)  # type: ignore[arg-type]
        raise self.fail("a string, integer or date literal")


# --------------------------------------------------------------------------------------------
# Compiler
# --------------------------------------------------------------------------------------------


class _HiveLike(FunctionElement):
    """``value`` matches a Hive LIKE pattern: anchored and case-sensitive on every backend.

    Arguments: the column, the pattern as SQL LIKE (escape '/'), the pattern as SQLite GLOB.
    """

    name = "hive_like"
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: no "= 1" on backends without a boolean type


@compiles(_HiveLike)
def _hive_like_default(element, compiler, **kw):  # PostgreSQL and others: LIKE is case-sensitive
    column, like_pattern, _ = list(element.clauses)
    return f"({compiler.process(column, **kw)} LIKE {compiler.process(like_pattern, **kw)} ESCAPE '/')"


@compiles(_HiveLike, "sqlite")  # SQLite's LIKE ignores ASCII case; GLOB does not
def _hive_like_sqlite(element, compiler, **kw):
    column, _, glob_pattern = list(element.clauses)
    return f"({compiler.process(column, **kw)} GLOB {compiler.process(glob_pattern, **kw)})"


@compiles(_HiveLike, "mysql")  # MySQL's default collations ignore case; compare binary strings
@compiles(_HiveLike, "mariadb")
def _hive_like_mysql(element, compiler, **kw):
    column, like_pattern, _ = list(element.clauses)
    return (
        f"(CAST({compiler.process(column, **kw)} AS BINARY) LIKE "
        f"CAST({compiler.process(like_pattern, **kw)} AS BINARY) ESCAPE '/')"
    )


def _translate_like(pattern: str) -> tuple[str, str, bool]:
    """Hive pattern -> (SQL LIKE pattern with escape '/', GLOB pattern, has wildcards)."""
    like, glob, wild = [], [], False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "." and pattern.startswith(".*", i):
            like.append("%")
            glob.append("*")
            wild = True
            i += 2
            continue
        if c == ".":
            like.append("_")
            glob.append("?")
            wild = True
        else:
            like.append("/" + c if c in "%_/" else c)
            glob.append(f"[{c}]" if c in "*?[" else c)
        i += 1
    return "".join(like), "".join(glob), wild


# Resolved conditions on one key's partition_key_values row.
@dataclass(frozen=True)
class _Cmp:
    column: str  # "value" or "int_value"
    op: str
    value: object


@dataclass(frozen=True)
class _Match:
    pattern: str
    negated: bool


@dataclass(frozen=True)
class _CondBool:
    op: str  # "and" / "or"
    items: tuple


@dataclass(frozen=True)
class _Leaf:
    key_index: int
    cond: object


@dataclass(frozen=True)
class _Bool:
    op: str
    items: tuple


_NEGATED_OP = {"=": "!=", "!=": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_ORDERING = frozenset({"<", "<=", ">", ">="})
_SQL_OPS: dict[str, Callable[[ColumnElement, object], ColumnElement[bool]]] = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}


class _Resolver:
    def __init__(self, partition_keys: Sequence[tuple[str, str]]):
        self.keys = {name.lower(): (i, _base_type(t), t) for i, (name, t) in enumerate(partition_keys)}
        self.names = [name for name, _ in partition_keys]

    def key(self, name: str, pos: int) -> tuple[int, str, str]:
        found = self.keys.get(name.lower())
        if found is None:
            valid = ", ".join(self.names) if self.names else "none: the table is not partitioned"
            raise _error(pos, f"{name!r} is not a partition key of the table (partition keys: {valid})")
        return found

    def operand(self, name: str, op: str, lit: Literal, pos: int) -> tuple[str, object]:
        """The column and value to compare for ``key op lit``; op is =, != or an ordering."""
        _, base, full = self.key(name, pos)
        if base in INTEGRAL_TYPES:
            if isinstance(lit, IntLit):
                return "int_value", lit.value
            if isinstance(lit, StringLit) and (number := _parse_int(lit.value)) is not None:
                return "int_value", number
        elif base == "date":
            if isinstance(lit, DateLit):
                return "value", lit.value.isoformat()
            if isinstance(lit, StringLit) and (day := _parse_date(lit.value)) is not None:
                return "value", day.isoformat()
        elif base in STRING_TYPES and not isinstance(lit, IntLit):
            return "value", _text(lit)
        if op in _ORDERING:
            raise _error(
                pos,
                f"cannot order {name!r} ({full}) against {_describe(lit)}; "
                "only =, !=, IN and LIKE compare a literal of another type (as text)",
            )
        return "value", _text(lit)

    def resolve(self, node: Node, negate: bool):  # -> _Leaf | _Bool | bool
        if isinstance(node, Not):
            return self.resolve(node.item, not negate)
        if isinstance(node, And | Or):
            is_and = isinstance(node, And) != negate
            return _Bool("and" if is_and else "or", tuple(self.resolve(item, negate) for item in node.items))
        if isinstance(node, MatchAll):
            return not negate
        if isinstance(node, Comparison):
            op = _NEGATED_OP[node.op] if negate else node.op
            index = self.key(node.key, node.pos)[0]
            column, value = self.operand(node.key, op, node.value, node.pos)
            return _Leaf(index, _Cmp(column, op, value))
        if isinstance(node, Like):
            index = self.key(node.key, node.pos)[0]
            like, glob, wild = _translate_like(node.pattern)
            negated = node.negated != negate
            if not wild:  # no wildcard: an exact match, which the index answers best
                return _Leaf(index, _Cmp("value", "!=" if negated else "=", node.pattern))
            return _Leaf(index, _Match(node.pattern, negated))
        if isinstance(node, Between):
            index = self.key(node.key, node.pos)[0]
            low = self.operand(node.key, "<", node.low, node.pos)
            high = self.operand(node.key, "<", node.high, node.pos)
            if low[0] != high[0]:
                raise _error(node.pos, f"the bounds of BETWEEN on {node.key!r} have different types")
            column = low[0]
            if node.negated != negate:  # Hive: NOT BETWEEN a AND b is "< a OR > b"
                cond = _CondBool("or", (_Cmp(column, "<", low[1]), _Cmp(column, ">", high[1])))
            else:
                cond = _CondBool("and", (_Cmp(column, ">=", low[1]), _Cmp(column, "<=", high[1])))
            return _Leaf(index, cond)
        if isinstance(node, In):
            return self._in(node, negate)
        if isinstance(node, StructIn):
            positive = node.negated == negate
            rows = []
            for row in node.rows:
                leaves = tuple(
                    self.resolve(Comparison(k, "=", v, node.pos), not positive)
                    for k, v in zip(node.keys, row, strict=True)
                )
                rows.append(_Bool("and" if positive else "or", leaves))
            return _Bool("or" if positive else "and", tuple(rows))
        raise InvalidInput(f"Invalid partition filter: unknown node {type(node).__name__}")

    def _in(self, node: In, negate: bool):
        positive = node.negated == negate  # Hive: IN is an OR of =, NOT IN an AND of !=
        leaves = tuple(
            self.resolve(Comparison(node.key, "=", v, node.pos), not positive) for v in node.values
        )
        return _Bool("or" if positive else "and", leaves)


def _text(lit: Literal) -> str:
    if isinstance(lit, DateLit):
        return lit.value.isoformat()
    return str(lit.value)


def _describe(lit: Literal) -> str:
    if isinstance(lit, StringLit):
        return f"the string {_short(lit.value)!r}"
    if isinstance(lit, IntLit):
        return f"the integer {lit.value}"
    return f"the date {lit.value.isoformat()}"


def _cond_sql(cond, pkv) -> ColumnElement[bool]:
    if isinstance(cond, _Cmp):
        column = pkv.c.int_value if cond.column == "int_value" else pkv.c.value
        return _SQL_OPS[cond.op](column, cond.value)
    if isinstance(cond, _Match):
        like, glob, _ = _translate_like(cond.pattern)
        match = _HiveLike(pkv.c.value, literal(like, String()), literal(glob, String()))
        return not_(match) if cond.negated else match
    if isinstance(cond, _CondBool):
        return _merge_conds(cond.op, list(cond.items), pkv)
    raise TypeError(cond)


def _merge_conds(op: str, conds: list, pkv) -> ColumnElement[bool]:
    """Combine conditions on one key; equalities under OR (!= under AND) become one IN list."""
    list_op = "=" if op == "or" else "!="
    grouped: dict[str, list] = {}
    rest = []
    for cond in conds:
        if isinstance(cond, _Cmp) and cond.op == list_op:
            grouped.setdefault(cond.column, []).append(cond.value)
        else:
            rest.append(cond)
    parts = []
    for column_name, values in grouped.items():
        column = pkv.c.int_value if column_name == "int_value" else pkv.c.value
        values = list(dict.fromkeys(values))
        if len(values) == 1:
            parts.append(_SQL_OPS[list_op](column, values[0]))
        else:
            parts.append(column.in_(values) if op == "or" else column.not_in(values))
    parts.extend(_cond_sql(cond, pkv) for cond in rest)
    if len(parts) == 1:
        return parts[0]
    return and_(*parts) if op == "and" else or_(*parts)


def _flatten(tree):
    """Simplify: flatten nested AND/OR, fold constants."""
    if not isinstance(tree, _Bool):
        return tree
    items = []
    for item in (_flatten(i) for i in tree.items):
        if isinstance(item, _Bool) and item.op == tree.op:
            items.extend(item.items)
        elif item is (tree.op == "and"):  # neutral element
            continue
        elif item is (tree.op == "or"):  # absorbing element
            return item
        else:
            items.append(item)
    if not items:
        return tree.op == "and"
    return items[0] if len(items) == 1 else _Bool(tree.op, tuple(items))


def _emit(tree, table_id: int, partition_id_column, pkv, correlated: bool) -> ColumnElement[bool]:
    if tree is True:
        return true()
    if tree is False:
        return false()
    if isinstance(tree, _Leaf):
        return _subquery(tree.key_index, [tree.cond], "and", table_id, partition_id_column, pkv, correlated)
    by_key: dict[int, list] = {}
    parts = []
    for item in tree.items:
        if isinstance(item, _Leaf):
            by_key.setdefault(item.key_index, []).append(item.cond)
        else:
            parts.append(_emit(item, table_id, partition_id_column, pkv, correlated))
    # one subquery per key: at most one partition_key_values row per (partition, key), so
    # "id IN (S where a) AND id IN (S where b)" is "id IN (S where a AND b)" (and likewise for OR)
    leaves = [_subquery(i, conds, tree.op, table_id, partition_id_column, pkv, correlated)
              for i, conds in by_key.items()]  # fmt: skip
    parts = leaves + parts
    if len(parts) == 1:
        return parts[0]
    return and_(*parts) if tree.op == "and" else or_(*parts)


def _subquery(key_index: int, conds: list, op: str, table_id: int, partition_id_column, pkv, correlated: bool):
    if correlated:
        # the same rows, looked up per partition (by the key values' primary key); a scalar sub-query rather
        # than EXISTS, which PostgreSQL would plan as a join driven from the key values the filter selects
        return (select(literal(1)).where(pkv.c.partition_id == partition_id_column, pkv.c.key_index == key_index,
                                         _merge_conds(op, conds, pkv)).limit(1).scalar_subquery().is_not(None))  # fmt: skip
    ids = (
        select(pkv.c.partition_id)
        .where(pkv.c.table_id == table_id, pkv.c.key_index == key_index, _merge_conds(op, conds, pkv))
        .correlate(None)
    )
    return partition_id_column.in_(ids)


def compile_filter(
    text_or_node: str | Node,
    partition_keys: Sequence[tuple[str, str]],
    table_id: int,
    partition_id_column,
    correlated: bool = False,
) -> ColumnElement[bool]:
    """Compile a filter to a condition on ``partition_id_column`` (e.g. ``PartitionRow.id``).

    ``partition_keys``: the table's partition keys in order, as (name, hive type). Keys in the
    filter match case-insensitively. Raises InvalidInput for bad syntax, unknown keys and
    comparisons that have no sensible meaning (see the module docstring). ``correlated``: as a
    look-up per partition (a scalar sub-query on the key values' primary key) rather than ``id IN (the
    ids selected)``: for a statement that reads a few partitions (a range of names), whatever the number
    the filter selects in the whole table.
    """
    node = parse_filter(text_or_node) if isinstance(text_or_node, str) else text_or_node
    if not isinstance(node, Node):
        raise InvalidInput("Invalid partition filter: expected text or a parsed filter")
    tree = _flatten(_Resolver(partition_keys).resolve(node, negate=False))
    return _emit(tree, table_id, partition_id_column, PartitionKeyValueRow.__table__, correlated)
