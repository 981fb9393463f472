"""The first rows of a table or a partition, read from its files with pyarrow: bounded in rows, in bytes
read per file and in time, never the whole table. The door asks access.py first (read on the database);
here, the locations are checked against the allowed_paths setting (paths.py).

Formats: Parquet and ORC (the first row group or stripe), CSV/TSV and JSON lines (the first lines,
gzip/bz2 inferred from the name). Partitioned tables: the first partitions in name order, their values as
the partition columns.
"""

from __future__ import annotations

import io
import json
import time

from metastore.catalog.errors import InvalidInput, NotFound
from metastore.catalog.paths import check_location
from metastore.catalog.profiles import jsonable
from metastore.catalog.types import Table

MAX_ROWS = 200
DEFAULT_ROWS = 20
TEXT_BYTES = 1024 * 1024  # read at most this much of a text file
MAX_FILES = 20  # files opened at most
MAX_PARTITIONS = 20


def _format(table: Table) -> tuple[str, dict]:
    fmt = (table.parameters.get("classification") or "").lower()
    lib = (table.sd.serde.serialization_lib or "").lower()
    params = table.sd.serde.parameters
    if not fmt:
        fmt = next((f for f in ("parquet", "orc", "avro", "json", "csv") if f in lib), "")
        if not fmt and "lazysimpleserde" in lib:
            fmt = "csv"
    if fmt in ("csv", "tsv"):
        sep = params.get("separatorChar") or params.get("field.delim") or params.get("sep") or ","
        header = table.parameters.get("skip.header.line.count", "0") not in ("", "0")
        return "csv", {"sep": sep, "header": header, "quoted": "separatorChar" in params}
    return fmt, {}


def _files(location: str) -> list[tuple[object, str]]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(location)
    try:
        found = fs.find(root)
    except FileNotFoundError:
        return []
    out = []
    for path in sorted(found):
        rel = path[len(root):].lstrip("/")
        if rel and not any(part.startswith(("_", ".")) for part in rel.split("/")):
            out.append((fs, path))
        if len(out) >= MAX_FILES:
            break
    return out


def _text_lines(fs, path: str, limit: int) -> list[str]:
    compression = next((c for ext, c in ((".gz", "gzip"), (".bz2", "bz2")) if path.endswith(ext)), None)
    with fs.open(path, "rb", compression=compression) as f:
        data = f.read(TEXT_BYTES)
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(data) >= TEXT_BYTES and lines:
        lines = lines[:-1]  # the last line may be cut
    return [line for line in lines if line.strip()][: limit + 1]


def _read(fs, path: str, fmt: str, opts: dict, columns: list[str], limit: int) -> list[list]:
    """Up to `limit` rows of one file, as lists in the order of `columns`."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with fs.open(path, "rb") as f:
            pf = pq.ParquetFile(f)
            batch = next(pf.iter_batches(batch_size=limit), None)
            records = batch.to_pylist() if batch is not None else []
        return _by_name(records, columns)
    if fmt == "orc":
        import pyarrow.orc as orc

        with fs.open(path, "rb") as f:
            of = orc.ORCFile(f)
            records = of.read_stripe(0).slice(0, limit).to_pylist() if of.nstripes else []
        return _by_name(records, columns)
    if fmt == "json":
        records = []
        for line in _text_lines(fs, path, limit)[:limit]:
            try:
                records.append(json.loads(line))
            except ValueError as e:
                raise InvalidInput(f"{path} is not JSON lines: {e}") from None
        return _by_name([r if isinstance(r, dict) else {} for r in records], columns)
    if fmt == "csv":
        import csv

        lines = _text_lines(fs, path, limit)
        if opts.get("header"):
            lines = lines[1:]
        sep = opts.get("sep") or ","
        if opts.get("quoted"):
            rows = list(csv.reader(io.StringIO("\n".join(lines[:limit])), delimiter=sep[0]))
        else:
            rows = [line.split(sep) for line in lines[:limit]]
        return [(row + [None] * len(columns))[: len(columns)] for row in rows]
    raise InvalidInput(f"a preview of {fmt or 'this'} table is not supported (parquet, orc, csv and json are)")


def _by_name(records: list[dict], columns: list[str]) -> list[list]:
    out = []
    for r in records:
        lower = {str(k).lower(): v for k, v in r.items()}
        out.append([lower.get(c.lower()) for c in columns])
    return out


def _cell(value):
    if isinstance(value, dict | list | tuple):
        return json.loads(json.dumps(value, default=lambda v: jsonable(v) if jsonable(v) is not None else repr(v)))
    if isinstance(value, bytes):
        return value[:64].hex() + ("…" if len(value) > 64 else "")
    return jsonable(value)


def preview(service, db: str, table: str, partition: str | None = None, limit: int = DEFAULT_ROWS,
            timeout_s: float = 10.0) -> dict:  # fmt: skip
    """{"columns": [{"name", "type"}], "rows": [[...]], "files": n read, "partitions": [names read],
    "truncated": whether the time ran out} of table `db.table` (or its partition `partition`)."""
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidInput(f"limit must be between 1 and {MAX_ROWS}")
    t = service.tables.get(db, table)
    if t.is_view:
        raise InvalidInput(f"{db}.{table} is a view: preview the tables it reads")
    fmt, opts = _format(t)
    data_cols = [c.name for c in t.sd.cols]
    keys = [k.name for k in t.partition_keys]
    if partition is not None and not keys:
        raise InvalidInput(f"table {db}.{table} is not partitioned")
    if keys:
        names = [partition] if partition else service.partitions.names(db, table, MAX_PARTITIONS)
        parts = service.partitions.get_by_names(db, table, names) if names else []
        if partition and not parts:
            raise NotFound(f"partition {partition} of table {db}.{table} does not exist")
        sources = [(p.sd.location, p.values, "/".join(f"{k}={v}" for k, v in zip(keys, p.values, strict=True)))
                   for p in parts]  # fmt: skip
    else:
        sources = [(t.sd.location, [], None)]
    deadline = time.monotonic() + timeout_s
    rows: list[list] = []
    files, read_parts, truncated = 0, [], False
    for location, values, name in sources:
        if not location:
            continue
        check_location(location, f"preview of {db}.{table}", warehouse=service.warehouse.root)
        try:
            files_here = _files(location)
        except Exception as e:  # noqa: BLE001 - an unreachable store, an unknown protocol: say so
            raise InvalidInput(f"the files of {db}.{table} at {location} could not be listed: {e}") from None
        for fs, path in files_here:
            if len(rows) >= limit:
                break
            if time.monotonic() > deadline:
                truncated = True
                break
            try:
                got = _read(fs, path, fmt, opts, data_cols, limit - len(rows))
            except (InvalidInput, NotFound):
                raise
            except Exception as e:  # noqa: BLE001 - a broken file: say which and why
                raise InvalidInput(f"{path} could not be read as {fmt}: {type(e).__name__}: {e}") from None
            files += 1
            rows.extend([[_cell(v) for v in row] + list(values) for row in got])
            if name and name not in read_parts:
                read_parts.append(name)
        if len(rows) >= limit or truncated:
            break
    columns = [{"name": c.name, "type": c.type} for c in [*t.sd.cols, *t.partition_keys]]
    return {"columns": columns, "rows": rows[:limit], "files": files, "partitions": read_parts,
            "truncated": truncated, "format": fmt}  # fmt: skip
