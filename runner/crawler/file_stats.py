"""Statistics for free: what Parquet and ORC files say of themselves in their footers (row counts, and for
Parquet per column null counts, min and max), read without reading the data.

`profile_files` merges the footers of a table's (or partition's) files into a profile (see
metastore/catalog/profiles.py); distinct counts and lengths are not in the footers: a full profile computes
them. `store_crawled` is the crawl's hook: it profiles the files of a table the crawl just kept, per
partition, and stores the profiles as the catalog's statistics.
"""

from __future__ import annotations

import logging
import os

from metastore.catalog import profiles
from metastore.catalog.profiles import jsonable

log = logging.getLogger(__name__)

MAX_FILES = 10_000  # footers read per crawled table at most: beyond, the full profile's job
FOOTER_FORMATS = ("parquet", "orc")


def _parquet(f) -> tuple[int, dict[str, dict]]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(f).metadata
    arrow_schema = meta.schema.to_arrow_schema()
    top = {i: meta.schema.column(i).path.split(".")[0] for i in range(meta.num_columns)}
    leaves: dict[str, int] = {}
    for name in top.values():
        leaves[name] = leaves.get(name, 0) + 1
    out: dict[str, dict] = {}
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for i in range(meta.num_columns):
            name = top[i]
            if leaves[name] != 1 or arrow_schema.field(name).type.num_fields:  # nested: no column statistics
                continue
            col = out.setdefault(name, {"nulls": 0, "min": None, "max": None, "complete": True})
            st = group.column(i).statistics
            if st is None or not st.has_null_count:
                col["complete"] = False
                continue
            col["nulls"] += st.null_count
            if st.has_min_max:
                lo, hi = jsonable(st.min), jsonable(st.max)
                if lo is not None and hi is not None:
                    col["min"] = lo if col["min"] is None else min(col["min"], lo)
                    col["max"] = hi if col["max"] is None else max(col["max"], hi)
            elif group.num_rows > st.null_count:
                col["minmax_missing"] = True
    return meta.num_rows, out


def _orc(f) -> tuple[int, dict[str, dict]]:
    import pyarrow.orc as orc

    return orc.ORCFile(f).nrows, {}


def profile_files(paths: list[str], fmt: str, fs=None, sizes: list[int] | None = None) -> dict:
    """The profile of the data in `paths` (Parquet or ORC files) from their footers alone. `fs`: an fsspec
    filesystem (local files when None); `sizes`: the files' sizes, if known."""
    if fmt not in FOOTER_FORMATS:
        raise ValueError(f"{fmt} files have no footer statistics")
    rows, size, merged = 0, 0, {}
    for i, path in enumerate(paths):
        try:
            with fs.open(path, "rb") if fs is not None else open(path, "rb") as f:
                n, cols = _parquet(f) if fmt == "parquet" else _orc(f)
        except Exception as e:  # noqa: BLE001 - a broken file: say which
            raise ValueError(f"{path} could not be read as {fmt}: {e}") from None
        rows += n
        if sizes is not None:
            size += sizes[i]
        elif fs is not None:
            size += fs.size(path)
        else:
            size += os.path.getsize(path)
        for name, c in cols.items():
            m = merged.setdefault(name, {"nulls": 0, "min": None, "max": None, "complete": True})
            m["complete"] = m["complete"] and c["complete"]
            m["nulls"] += c["nulls"]
            m["minmax_missing"] = m.get("minmax_missing") or c.get("minmax_missing")
            for key, pick in (("min", min), ("max", max)):
                if c[key] is not None:
                    try:
                        m[key] = c[key] if m[key] is None else pick(m[key], c[key])
                    except TypeError:  # the files disagree on the column's type
                        m["complete"] = False
    columns = {}
    for name, m in merged.items():
        col = {"nulls": m["nulls"] if m["complete"] else None, "distinct": None, "avg_len": None, "max_len": None,
               "trues": None, "falses": None, "min": None, "max": None}  # fmt: skip
        if m["complete"] and not m.get("minmax_missing"):
            col["min"], col["max"] = m["min"], m["max"]
        columns[name.lower()] = col
    return {"rows": rows, "size": size, "files": len(paths), "method": "metadata", "columns": columns}


def _format(table) -> str | None:
    fmt = (table.parameters.get("classification") or "").lower()
    if fmt in FOOTER_FORMATS:
        return fmt
    lib = (table.sd.serde.serialization_lib or "").lower()
    return next((f for f in FOOTER_FORMATS if f in lib), None)


def store_crawled(service, db: str, walk, plan, table_name: str) -> None:
    """The crawl's hook: profile the Parquet/ORC files of table `db.table_name` (just created or updated
    from `plan` of `walk`) from their footers, per partition, and store them as statistics. Never fails
    the crawl: a file it cannot read leaves the statistics as they were."""
    try:
        table = service.tables.get(db, table_name)
        fmt = _format(table)
        if fmt is None:
            return
        by_folder = dict(walk.folders())
        groups: dict[tuple[str, ...] | None, list] = {}
        for values, folder in (plan.partitions or {}).items():
            groups[tuple(values)] = by_folder.get(folder, [])
        if not plan.partition_keys:
            groups = {None: [f for leaf in plan.leaves for f in by_folder.get(leaf, [])]}
        keys = [k.name for k in table.partition_keys]
        total = sum(len(v) for v in groups.values())
        if total == 0 or total > MAX_FILES:
            return
        done = {}
        stored = {profiles.make_name(keys, p.values): p.parameters for p in service.partitions.list(db, table_name)
                  } if keys else {}  # fmt: skip
        for values, files in groups.items():
            files = [f for f in files if f.size > 0]
            if not files:
                continue
            profile = profile_files([f.path for f in files], fmt, walk.fs, [f.size for f in files])
            name = profiles.make_name(keys, list(values)) if values is not None else None
            if profiles.unchanged(stored.get(name, {}) if name else table.parameters, profile):
                continue  # the same data: its statistics (perhaps a full profile's) stay
            profiles.store(service, db, table_name, profile, name)
            done[values] = profile
        if keys and done:
            profile = profiles.store_table_from_partitions(service, db, table_name)
        elif done:
            profile = done[None]
        else:
            return
        profiles.runs(service).record(db, table_name, "metadata", {"table": profile, "partitions": sorted(
            profiles.make_name(keys, list(v)) for v in done if v is not None)})  # fmt: skip
    except Exception as e:  # noqa: BLE001 - statistics are a bonus of the crawl, never its failure
        log.warning("statistics of %s.%s from file footers not stored: %s", db, table_name, e)

