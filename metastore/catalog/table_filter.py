"""Table filters of get_table_names_by_filter, e.g. Trino's `hive_filter_field_params__presto_view = "true"`.

The text is parsed by the partition filter parser; keys name table fields: `hive_filter_field_params__K`
(table parameter K), `hive_filter_field_owner__`, `hive_filter_field_last_access__` (an integer).
Evaluated in Python over one database's tables.
"""

from __future__ import annotations

import operator
import re

from metastore.catalog.errors import InvalidInput
from metastore.catalog.partition_filter import (
    And,
    Between,
    Comparison,
    In,
    Like,
    MatchAll,
    Node,
    Not,
    Or,
    parse_filter,
)
from metastore.catalog.types import Table

PARAMS = "hive_filter_field_params__"
OWNER = "hive_filter_field_owner__"
LAST_ACCESS = "hive_filter_field_last_access__"
_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}  # fmt: skip


def _field(table: Table, key: str):
    if key.startswith(PARAMS):
        return table.parameters.get(key[len(PARAMS) :])
    if key == OWNER:
        return table.owner
    if key == LAST_ACCESS:
        return table.last_access_time
    raise InvalidInput(f"table filter key {key!r} is not one of {PARAMS}<name>, {OWNER}, {LAST_ACCESS}")


def _literal(literal, like):
    """The literal in the type of the field it is compared with: an integer or text."""
    if isinstance(like, int):
        try:
            return int(literal.value)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"table filter: {literal.value!r} is not an integer") from e
    return str(literal.value)


def matches(node: Node, table: Table) -> bool:
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, And):
        return all(matches(n, table) for n in node.items)
    if isinstance(node, Or):
        return any(matches(n, table) for n in node.items)
    if isinstance(node, Not):
        return not matches(node.item, table)
    if isinstance(node, Comparison):
        v = _field(table, node.key)
        return v is not None and _OPS[node.op](v, _literal(node.value, v))
    if isinstance(node, Like):
        v = _field(table, node.key)
        try:
            hit = v is not None and re.fullmatch(node.pattern, str(v)) is not None
        except re.error as e:
            raise InvalidInput(f"table filter: bad LIKE pattern {node.pattern!r}: {e}") from e
        return hit != node.negated
    if isinstance(node, Between):
        v = _field(table, node.key)
        hit = v is not None and _literal(node.low, v) <= v <= _literal(node.high, v)
        return hit != node.negated
    if isinstance(node, In):
        v = _field(table, node.key)
        hit = v is not None and any(v == _literal(x, v) for x in node.values)
        return hit != node.negated
    raise InvalidInput(f"table filter: {type(node).__name__} is not supported on tables")


def compile_table_filter(text: str) -> Node:
    return parse_filter(text or "")
