"""Grouping classified folders into tables and partitions, the way Glue's crawler does.

Input: for each leaf folder (its path of folder names under the crawl target), the merged classification
of its sampled files. A folder becomes a table when every leaf folder below it has a compatible schema
(same format and options, columns that merge) and sits at the same depth: the levels in between become
partition keys (`key=value` folders name their key; other levels are `partition_0`, `partition_1`, ...).
Otherwise the folder's children are considered one by one. Each decision carries its reason, which a
dry run prints.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace

from runner.crawler.classifiers import Classification
from runner.crawler.schema import merge

SIMILARITY = 0.7  # Glue: schemas sharing less than this part of their columns are different tables

Folder = tuple[str, ...]


@dataclass
class TablePlan:
    name: str
    root: Folder  # folder of the table under the target
    classification: Classification  # merged over all its leaf folders
    partition_keys: list[str]
    partitions: dict[tuple[str, ...], Folder] = field(default_factory=dict)  # values → leaf folder
    reason: str = ""
    leaves: list[Folder] = field(default_factory=list)  # the leaf folders whose files are this table's
    key_types: list[str] = field(default_factory=list)  # Hive type of each partition key, from its values


# Partition key types, as Glue types them from the folder values: a `key=value` level whose values are all
# integers is `int` (or `bigint` beyond 32 bits); anything else (dt=2024-01-01, eu, ...) is a string. Levels
# without a key name (partition_0, ...) stay strings: such folders (2024/01) are path names more often
# than numbers. Hive's null partition (__HIVE_DEFAULT_PARTITION__) fits every type.
KEY_TYPE_ORDER = ("int", "bigint", "string")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_INTEGER = re.compile(r"[+-]?[0-9]+")


def key_value_type(value: str) -> str:
    """The narrowest partition key type of one folder value."""
    if value == NULL_PARTITION:
        return KEY_TYPE_ORDER[0]
    if not _INTEGER.fullmatch(value):
        return "string"
    n = int(value)
    if -(2**31) <= n < 2**31:
        return "int"
    return "bigint" if -(2**63) <= n < 2**63 else "string"


def wider_key_type(a: str, b: str) -> str:
    """The type that holds values of both key types (int → bigint → string); other types (a key typed by
    hand, date, ...) stay as they are when equal, else become string."""
    a, b = a.lower(), b.lower()
    if a == b:
        return a
    if a in KEY_TYPE_ORDER and b in KEY_TYPE_ORDER:
        return max(a, b, key=KEY_TYPE_ORDER.index)
    return "string"


def _key_types(rel_paths: list[Folder], keys: list[str]) -> list[str]:
    types = []
    for level, key in enumerate(keys):
        named = all("=" in p[level] for p in rel_paths) and key != f"partition_{level}"
        if not named:
            types.append("string")
            continue
        kind = KEY_TYPE_ORDER[0]
        for p in rel_paths:
            kind = wider_key_type(kind, key_value_type(_value(p[level])))
        types.append(kind)
    return types


def merge_classifications(items: list[Classification]) -> Classification | None:
    """One classification for files that agree on format and options with columns that merge; None if not."""
    distinct = list({id(c): c for c in items}.values())  # unchanged folders share one classification
    merged = distinct[0]
    alike: list[Classification] = []  # equal to `merged` but for certainty and rows: merged at the end, at once
    for c in distinct[1:]:
        if _alike(merged, c):
            alike.append(c)
            continue
        merged = merge(merged, c)
        if merged is None:
            return None
    if alike:
        rows = [c.row_count_estimate for c in (merged, *alike)]
        merged = replace(merged, certainty=min(merged.certainty, *(c.certainty for c in alike)),
                         serde_parameters=dict(merged.serde_parameters),
                         table_parameters=dict(merged.table_parameters), columns=[replace(c) for c in merged.columns],
                         row_count_estimate=None if all(r is None for r in rows) else sum(r or 0 for r in rows))  # fmt: skip
    return merged


def _alike(a: Classification, b: Classification) -> bool:
    """Whether `schema.merge(a, b)` is `a` with the lower certainty and the rows added: the same format,
    columns, compression and parameters (as for the many files of one folder)."""
    return (a.format == b.format and a.compression == b.compression and a.unreadable_reason == b.unreadable_reason
            and a.columns == b.columns and a.serde_parameters == b.serde_parameters
            and a.table_parameters == b.table_parameters)  # fmt: skip


def _similar(items: list[Classification], merged: Classification) -> bool:
    union = {c.name.lower() for c in merged.columns}
    if not union:
        return True
    return all(len({c.name.lower() for c in it.columns} & union) / len(union) >= SIMILARITY for it in items)


def _partition_keys(rel_paths: list[Folder]) -> list[str]:
    depth = len(rel_paths[0]) if rel_paths else 0
    keys = []
    for level in range(depth):
        names = {p[level].split("=", 1)[0] for p in rel_paths}
        if len(names) == 1 and all("=" in p[level] for p in rel_paths):
            keys.append(next(iter(names)).lower())
        else:
            keys.append(f"partition_{level}")
    return keys if len(set(keys)) == len(keys) else [f"partition_{i}" for i in range(depth)]


def _value(segment: str) -> str:
    from metastore.catalog.names import unescape_path_name

    value = segment.split("=", 1)[1] if "=" in segment else segment
    return unescape_path_name(value) if "%" in value else value


def table_name(folder_name: str, prefix: str = "") -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", folder_name.lower()).strip("_") or "table"
    return f"{prefix}{name}"[:128]


def plan_tables(leaves: dict[Folder, Classification], target_name: str, *, prefix: str = "",
                combine_compatible_schemas: bool = False, table_level: int | None = None,
                existing_roots: frozenset[Folder] = frozenset()) -> list[TablePlan]:  # fmt: skip
    """Tables for the classified leaf folders of one target (`target_name`: the target's own folder name,
    which names a table rooted at the target). `existing_roots`, the folders of the tables the crawler
    made before, stay tables while their contents fit, and no table is formed above one: recrawls are
    stable even when a sibling folder disappears."""
    plans: list[TablePlan] = []

    def make(root: Folder, members: list[Folder], merged: Classification, reason: str) -> None:
        rel = [leaf[len(root) :] for leaf in members]
        keys = _partition_keys(rel)
        plan = TablePlan(table_name(root[-1] if root else target_name, prefix), root, merged, keys, reason=reason,
                         leaves=list(members), key_types=_key_types(rel, keys))  # fmt: skip
        for leaf, r in zip(members, rel, strict=True):
            if r:
                plan.partitions[tuple(_value(s) for s in r)] = leaf
        plans.append(plan)

    def visit(root: Folder) -> None:
        members = sorted(leaf for leaf in leaves if leaf[: len(root)] == root)
        if not members:
            return
        forced = table_level is not None and len(root) >= table_level - 1
        depths = {len(m) for m in members}
        merged = merge_classifications([leaves[m] for m in members])
        if forced:
            if merged is None:
                # a forced table level with incompatible contents: split by format, named apart
                for m in members:
                    make(m, [m], leaves[m], f"table level {table_level}: {'/'.join(m) or '.'} differs from its siblings")
                return
            if len(depths) == 1:
                make(root, members, merged, f"table level {table_level}")
                return
        if root in existing_roots and merged is not None and len(depths) == 1:
            make(root, members, merged, "the crawler's existing table, contents still compatible")
            return
        below = any(len(r) > len(root) and r[: len(root)] == root for r in existing_roots)
        if not below and merged is not None and len(depths) == 1 and (
            combine_compatible_schemas or _similar([leaves[m] for m in members], merged)
        ):
            where = "/".join(root) or "the target"
            make(root, members, merged, f"{len(members)} folder(s) under {where} share one {merged.format} schema")
            return
        if root in leaves:  # files directly in this folder, beside subfolders that differ
            make(root, [root], leaves[root], f"files in {'/'.join(root) or 'the target'} differ from its subfolders")
        for child in sorted({m[len(root)] for m in members if len(m) > len(root)}):
            visit((*root, child))

    visit(())
    # names must be unique within the crawl: add a short hash of the folder to later duplicates
    seen: set[str] = set()
    for p in plans:
        if p.name in seen:
            p.name = f"{p.name}_{hashlib.sha1('/'.join(p.root).encode()).hexdigest()[:6]}"
        seen.add(p.name)
    return plans
