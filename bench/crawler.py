"""Crawler benchmark: a first crawl of many small files, then a recrawl with nothing changed.

    python -m bench.crawler                      # 100,000 CSV files in 10,000 partitions, SQLite catalog
    python -m bench.crawler --files 20000 --partitions 2000 --database-url postgresql://...

Prints files per second of each crawl and the ratio first crawl / recrawl: a recrawl that re-read every
file (the naive way) would take as long as the first crawl.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_files(root: Path, files: int, partitions: int) -> None:
    per = max(1, files // partitions)
    for p in range(partitions):
        day, hour = divmod(p, 24)
        folder = root / "events" / f"dt=2024-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}" / f"hr={hour:02d}"
        folder = folder if partitions <= 24 * 28 * 12 else root / "events" / f"part={p:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per):
            (folder / f"part-{i:05d}.csv").write_text(f"id,kind,amount\n{p * per + i},click,{i * 0.5}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=10_000)
    ap.add_argument("--database-url", help="catalog storage (default: SQLite in a temporary folder)")
    args = ap.parse_args()

    from metastore.catalog import CatalogService
    from metastore.catalog.crawlers import Crawler, CrawlerTarget
    from runner.crawler.crawl import run_crawler

    tmp = Path(tempfile.mkdtemp(prefix="mortar-crawl-bench-"))
    print(f"writing {args.files:,} files in {args.partitions:,} folders under {tmp}", file=sys.stderr)
    t0 = time.perf_counter()
    make_files(tmp / "data", args.files, args.partitions)
    print(f"  written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    url = args.database_url or f"sqlite:///{tmp / 'catalog.db'}"
    service = CatalogService.open(url, str(tmp / "warehouse"))
    service.crawlers.create(Crawler(name="bench", targets=[CrawlerTarget(str(tmp / "data" / "events"))],
                                    database="bench"))  # fmt: skip

    def progress(done: int, total: int) -> None:
        if done % 10_000 == 0 or done == total:
            print(f"  … classified {done:,}/{total:,}", file=sys.stderr)

    results = []
    for label in ("first crawl", "recrawl, nothing changed"):
        t0 = time.perf_counter()
        outcome = run_crawler(service, "bench", progress=progress)
        took = time.perf_counter() - t0
        assert outcome.state == "SUCCEEDED", outcome.error
        m = outcome.metrics
        results.append((label, took, m.files_scanned + m.files_unchanged, m.partitions_added))
        print(f"  {label}: {took:.1f} s ({m.files_scanned:,} read, {m.files_unchanged:,} unchanged, "
              f"{m.partitions_added:,} partitions added)", file=sys.stderr)  # fmt: skip
    print()
    print(f"| crawl ({args.files:,} files, {args.partitions:,} partitions, {os.cpu_count()} cores) | time | files/s |")
    print("|---|---:|---:|")
    for label, took, files, _ in results:
        print(f"| {label} | {took:.1f} s | {files / took:,.0f} |")
    print(f"| ratio first crawl / recrawl | {results[0][1] / results[1][1]:.1f}x | |")


if __name__ == "__main__":
    main()
