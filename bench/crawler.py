"""Crawler benchmark: a first crawl of many small files split across 1, 2 and 4 real worker processes, then
a recrawl with nothing changed.

    python -m bench.crawler                                   # 1,000,000 files in 100,000 folders; 1, 2, 4 workers
    python -m bench.crawler --scale 0.1 --workers 1,2         # 100,000 files in 10,000 folders
    python -m bench.crawler --broker redis://127.0.0.1:6379/14 --database-url postgresql://...
    python -m bench.crawler --in-process --files 100000 --folders 10000   # one process, no split (reference)

Each worker is a `mortar worker --concurrency 1` process on one broker (the embedded one by default); the
crawl is sent by name as the console does and timed until its run ends, the classification (its pieces)
and the merge apart. Prints files per second, the scaling ratio against one worker, and the recrawl
against the first crawl (a recrawl that re-read every file would take as long).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _write_folders(args: tuple[str, int, int, int]) -> None:
    root, first, last, per = args
    flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC
    for p in range(first, last):
        folder = f"{root}/part={p:06d}"
        os.makedirs(folder, exist_ok=True)
        for i in range(per):
            fd = os.open(f"{folder}/part-{i:05d}.csv", flags, 0o644)
            os.write(fd, f"id,kind,amount\n{p * per + i},click,{i * 0.5}\n".encode())
            os.close(fd)


def make_files(root: Path, files: int, folders: int, procs: int = 2) -> Path:
    """`files` tiny CSV files in `folders` partition folders (events/part=NNNNNN/), written by `procs`
    processes; returns the events folder."""
    events = root / "events"
    per = max(1, files // folders)
    step = max(1, folders // (procs * 8))
    chunks = [(str(events), a, min(a + step, folders), per) for a in range(0, folders, step)]
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        for _ in pool.imap_unordered(_write_folders, chunks):
            pass
    return events


class Line:
    """One status line, rewritten in place on a terminal; every 10 s otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def show(self, text: str, force: bool = False) -> None:
        if self.tty:
            print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)
        elif force or time.monotonic() - self.last >= 10:
            self.last = time.monotonic()
            print(f"  {text}", file=sys.stderr, flush=True)

    def done(self, text: str) -> None:
        if self.tty:
            print("\r\033[K", end="", file=sys.stderr)
        print(f"  {text}", file=sys.stderr, flush=True)


def start_workers(n: int, env: dict, logs: Path) -> list[subprocess.Popen]:
    """`n` worker processes, ready. The first one alone: workers that all create the queue at once on the
    embedded broker may die of kombu's UNIQUE constraint on its name."""
    workers = []

    def ready(count: int) -> None:
        deadline = time.time() + 120
        while not all(b"ready." in (logs / f"worker{i}.log").read_bytes() for i in range(count)):
            if time.time() > deadline:
                raise RuntimeError(f"workers not ready after 120 s: see {logs}")
            time.sleep(0.2)

    for i in range(n):
        log = open(logs / f"worker{i}.log", "wb")
        workers.append(subprocess.Popen([sys.executable, "-m", "mortar.cli", "worker", "--concurrency", "1"],
                                        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                        start_new_session=True))  # fmt: skip
        if i == 0:
            ready(1)
    ready(n)  # timed from the moment every worker is ready
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)


def timed_crawl(service, app, name: str, label: str) -> dict:
    """Send crawler `name` to the workers and follow it to its end: times and metrics."""
    line = Line()
    before = {r.id for r in service.crawlers.runs(name)}
    t0 = time.perf_counter()
    app.send_task("runner.crawl", args=[name])
    run, pieces_done_at, total = None, None, 0
    while True:
        runs = [r for r in service.crawlers.runs(name, limit=3) if r.id not in before]
        run = runs[-1] if runs else None
        took = time.perf_counter() - t0
        if run is not None and run.state != "RUNNING":
            break
        states = service.crawlers.piece_states(run.id) if run is not None else {}
        total = max(total, sum(states.values()))
        done = states.get("DONE", 0)
        if total and done == total and pieces_done_at is None:
            pieces_done_at = took
        if run is None:
            line.show(f"{label}: queued · {took:.0f} s")
        elif not total:
            line.show(f"{label}: listing · {took:.0f} s")
        elif pieces_done_at is None:
            width = 30
            bar = "#" * (width * done // total) + "-" * (width - width * done // total)
            line.show(f"{label}: [{bar}] {done}/{total} pieces, {states.get('RUNNING', 0)} running · {took:.0f} s")
        else:
            line.show(f"{label}: merging into the catalog · {took:.0f} s")
        time.sleep(0.25)
    took = time.perf_counter() - t0
    m = run.metrics
    line.done(f"{label}: {run.state} in {took:.1f} s ({m.get('files_scanned', 0):,} read, "
              f"{m.get('files_unchanged', 0):,} unchanged, {m.get('partitions_added', 0):,} partitions added"
              + (f", {total} pieces, merge {took - pieces_done_at:.1f} s" if pieces_done_at else "") + ")")  # fmt: skip
    assert run.state == "SUCCEEDED", run.error
    files = m.get("files_scanned", 0) + m.get("files_unchanged", 0)
    return {"took": took, "files": files, "pieces": total,
            "merge": None if pieces_done_at is None else took - pieces_done_at}  # fmt: skip


def with_workers(args, events: Path, tmp: Path) -> None:
    from celery import Celery

    from metastore.catalog import CatalogService
    from metastore.catalog.crawlers import Crawler, CrawlerTarget
    from metastore.config import Settings

    data_dir = tmp / "mortar"
    env = {**os.environ, "MORTAR_DATA_DIR": str(data_dir), "MORTAR_ALLOWED_PATHS": str(tmp),
           "MORTAR_JOB_WARM_POOL": "0"}  # fmt: skip
    for key, value in (("database_url", args.database_url), ("broker_url", args.broker),
                       ("crawler_piece_folders", args.piece_folders)):  # fmt: skip
        if value:
            env[f"MORTAR_{key.upper()}"] = str(value)
    settings = Settings.load(data_dir=str(data_dir), database_url=args.database_url or None,
                             broker_url=args.broker or None)  # fmt: skip
    service = CatalogService.open(settings.database_url, settings.warehouse)
    app = Celery(broker=settings.broker_url)
    rows = []
    for n in args.workers:
        name = f"bench_w{n}"
        service.crawlers.create(Crawler(name=name, targets=[CrawlerTarget(str(events))], database=name))
        logs = tmp / f"logs-{n}"
        logs.mkdir()
        workers = start_workers(n, env, logs)
        try:
            first = timed_crawl(service, app, name, f"{n} worker(s), first crawl")
            again = timed_crawl(service, app, name, f"{n} worker(s), recrawl") if args.recrawl else None
        finally:
            stop_workers(workers)
        rows.append((n, first, again))
    print()
    print(f"| workers ({args.files:,} files, {args.folders:,} folders, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}) | first crawl | of which merge | files/s | vs 1 worker | recrawl |")
    print("|---:|---:|---:|---:|---:|---:|")
    base = next((first["took"] for n, first, _ in rows if n == 1), None)
    for n, first, again in rows:
        merge = f"{first['merge']:.1f} s" if first["merge"] is not None else "-"
        ratio = f"{base / first['took']:.2f}x" if base else "-"
        recrawl = f"{again['took']:.1f} s" if again else "-"
        print(f"| {n} | {first['took']:.1f} s | {merge} | {first['files'] / first['took']:,.0f} | {ratio} | {recrawl} |")
    if base and len(rows) > 1:
        print("scaling ratio (time with 1 worker / time with n): "
              + ", ".join(f"{n}: {base / first['took']:.2f}x" for n, first, _ in rows if n != 1))  # fmt: skip


def in_process(args, events: Path, tmp: Path) -> None:
    """The crawl in this process, not split: the reference of the single-task path."""
    from metastore.catalog import CatalogService
    from metastore.catalog.crawlers import Crawler, CrawlerTarget
    from runner.crawler.crawl import run_crawler

    url = args.database_url or f"sqlite:///{tmp / 'catalog.db'}"
    service = CatalogService.open(url, str(tmp / "warehouse"))
    service.crawlers.create(Crawler(name="bench", targets=[CrawlerTarget(str(events))], database="bench"))
    line = Line()
    results = []
    for label in ("first crawl", "recrawl, nothing changed"):
        t0 = time.perf_counter()
        outcome = run_crawler(service, "bench", progress=lambda done, total, label=label, t0=t0: line.show(
            f"{label}: {done:,}/{total:,} files classified · {time.perf_counter() - t0:.0f} s"))  # fmt: skip
        took = time.perf_counter() - t0
        assert outcome.state == "SUCCEEDED", outcome.error
        m = outcome.metrics
        results.append((label, took, m.files_scanned + m.files_unchanged))
        line.done(f"{label}: {took:.1f} s ({m.files_scanned:,} read, {m.files_unchanged:,} unchanged, "
                  f"{m.partitions_added:,} partitions added)")  # fmt: skip
    print()
    print(f"| crawl in one process ({args.files:,} files, {args.folders:,} folders, {os.cpu_count()} cores) | time | files/s |")
    print("|---|---:|---:|")
    for label, took, files in results:
        print(f"| {label} | {took:.1f} s | {files / took:,.0f} |")
    print(f"| ratio first crawl / recrawl | {results[0][1] / results[1][1]:.1f}x | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--folders", type=int, default=100_000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply files and folders (0.1: a tenth)")
    ap.add_argument("--workers", default="1,2,4", help="worker process counts to measure, e.g. 1,2,4")
    ap.add_argument("--piece-folders", type=int, help="the crawler_piece_folders setting (default: its default)")
    ap.add_argument("--no-recrawl", dest="recrawl", action="store_false", help="first crawls only")
    ap.add_argument("--broker", help="Celery broker URL (default: the embedded one)")
    ap.add_argument("--database-url", help="catalog storage (default: SQLite in a temporary folder)")
    ap.add_argument("--in-process", action="store_true", help="crawl in this process, not split")
    ap.add_argument("--keep", action="store_true", help="keep the files written (default: removed at the end)")
    args = ap.parse_args()
    args.files, args.folders = int(args.files * args.scale), max(1, int(args.folders * args.scale))
    args.workers = [int(x) for x in args.workers.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="mortar-crawl-bench-"))
    os.environ["MORTAR_ALLOWED_PATHS"] = str(tmp)
    print(f"writing {args.files:,} files in {args.folders:,} folders under {tmp}", file=sys.stderr)
    t0 = time.perf_counter()
    events = make_files(tmp / "data", args.files, args.folders)
    print(f"  written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    try:
        (in_process if args.in_process else with_workers)(args, events, tmp)
    finally:
        if args.keep:
            print(f"(data kept under {tmp})", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
