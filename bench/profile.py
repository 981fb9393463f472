"""Profile benchmark: a 10,000,000-row Parquet table profiled from its files' footers alone, against
computing the same from the data with pyarrow (the reference: every value read); then the full profile
(distinct counts, lengths, true/false counts) through a real worker: a `mortar worker` process takes the
task `runner.profile`, sent by name as the console sends it, and runs the Spark job.

    python -m bench.profile                      # 10,000,000 rows in 8 files; metadata, pyarrow, worker
    python -m bench.profile --rows 1000000 --no-worker

Prints the seconds of each and the ratio of the reference to the footers' profile.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_table(folder: Path, rows: int, files: int) -> list[str]:
    """`rows` rows in `files` Parquet files: id, a repeating key, a short text with nulls, a flag, a price."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    words = pa.array([f"item-{i:05d}" for i in range(20_000)])
    paths, per = [], rows // files
    for n in range(files):
        start = n * per
        count = per if n < files - 1 else rows - start
        ids = np.arange(start, start + count, dtype=np.int64)
        mask = ids % 17 == 0
        table = pa.table({
            "id": ids,
            "k": (ids % 1000).astype(np.int32),
            "name": pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), words.take(pa.array(ids % 20_000))),
            "flag": ids % 3 == 0,
            "price": (ids % 10_000) / 4.0,
        })  # fmt: skip
        path = folder / f"part-{n:03d}.parquet"
        pq.write_table(table, path, row_group_size=1_000_000)
        paths.append(str(path))
    return paths


def with_pyarrow(paths: list[str]) -> dict:
    """The reference: every column read, and its count, nulls, min/max (and distinct count) computed."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(paths)
    out = {"rows": table.num_rows, "columns": {}}
    for name in table.column_names:
        col = table[name]
        mm = pc.min_max(col)
        out["columns"][name] = {"nulls": col.null_count, "min": mm["min"].as_py(), "max": mm["max"].as_py(),
                                "distinct": pc.count_distinct(col).as_py()}  # fmt: skip
    return out


def timed(fn, *args, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - started)
    return best, result


def through_worker(tmp: Path, folder: Path) -> tuple[float, dict]:
    """A full profile by a real worker process: the run requested, its task sent by name, timed to its end."""
    from celery import Celery

    from bench.crawler import start_workers, stop_workers
    from metastore.catalog import CatalogService, profiles
    from metastore.catalog.types import Column, Database, SerDe, StorageDescriptor, Table
    from metastore.config import Settings

    data_dir = tmp / "mortar"
    env = {**os.environ, "MORTAR_DATA_DIR": str(data_dir), "MORTAR_ALLOWED_PATHS": str(tmp),
           "MORTAR_JOB_WARM_POOL": "0"}  # fmt: skip
    settings = Settings.load(data_dir=str(data_dir))
    service = CatalogService.open(settings.database_url, settings.warehouse)
    service.databases.create(Database("bench"))
    service.tables.create(Table("big", "bench", table_type="EXTERNAL_TABLE", parameters={"classification": "parquet"},
                                sd=StorageDescriptor(cols=[Column("id", "bigint"), Column("k", "int"),
                                                           Column("name", "string"), Column("flag", "boolean"),
                                                           Column("price", "double")], location=f"file:{folder}",
                                                     serde=SerDe(serialization_lib="parquet"))))  # fmt: skip
    logs = tmp / "logs"
    logs.mkdir()
    workers = start_workers(1, env, logs)
    try:
        app = Celery(broker=settings.broker_url)
        run = profiles.runs(service).request("bench", "big", "full")
        started = time.perf_counter()
        app.send_task(profiles.PROFILE_TASK, args=[run.id])
        while True:
            run = profiles.runs(service).get(run.id)
            if run.state in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(0.5)
        seconds = time.perf_counter() - started
    finally:
        stop_workers(workers)
    if run.state != "SUCCEEDED":
        raise RuntimeError(f"the profile run failed: {run.error}")
    return seconds, run.result["table"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--no-worker", action="store_true", help="skip the full profile through a worker (Spark)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    from runner.crawler.file_stats import profile_files

    tmp = Path(tempfile.mkdtemp(prefix="mortar-bench-profile-"))
    os.environ["MORTAR_ALLOWED_PATHS"] = str(tmp)
    try:
        folder = tmp / "big"
        started = time.perf_counter()
        paths = make_table(folder, args.rows, args.files)
        print(f"{args.rows:,} rows in {len(paths)} Parquet files, "
              f"{sum(os.path.getsize(p) for p in paths) / 1e6:.0f} MB, written in {time.perf_counter() - started:.1f} s")
        meta_s, meta = timed(profile_files, paths, "parquet")
        ref_s, ref = timed(with_pyarrow, paths, repeat=1)
        assert meta["rows"] == ref["rows"] == args.rows
        for name in ("id", "k", "price"):
            got, want = meta["columns"][name], ref["columns"][name]
            assert (got["nulls"], got["min"], got["max"]) == (want["nulls"], want["min"], want["max"]), name
        print(f"| profile of {args.rows:,} rows (load {os.getloadavg()[0]:.1f}) | seconds | vs footers |")
        print("|---|---|---|")
        print(f"| from file footers (rows, nulls, min/max) | {meta_s:.3f} | 1 |")
        print(f"| pyarrow over the data (reference, + distinct) | {ref_s:.2f} | {ref_s / meta_s:.0f}x |")
        if not args.no_worker:
            full_s, full = through_worker(tmp, folder)
            off = abs(full["columns"]["k"]["distinct"] - 1000) / 1000
            print(f"| full profile, Spark through a worker (sent to end) | {full_s:.1f} | {full_s / meta_s:.0f}x |")
            print(f"full profile: {full['rows']:,} rows; distinct k {full['columns']['k']['distinct']} (1000, "
                  f"{off:.1%} off), name {full['columns']['name']['distinct']} (20000)")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
