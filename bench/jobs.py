"""Job start-up latency through real workers: from submitting a run (as the API does: the run recorded in
the catalog, its task sent to the broker) to the first line of the job's script, over back-to-back runs
of one job (each submitted when the previous one ended), the first one sent as soon as the worker's pool
has a driver READY (the time to that is printed too) — against a cold start (a run whose job needs its
own SparkContext) measured in the same session. Each run's wait is broken down: queued (submit → a
worker took it), start-up (→ the driver said the script starts), and → the script's first line.

    python -m bench.jobs [--runs 20] [--broker redis://127.0.0.1:6379/9]

Starts its own `mortar metastore` and `mortar worker` (default settings: a warm pool of 2, local[*]) on
SQLite in a temporary folder, with the embedded broker unless --broker is given. Prints the median and p99
and the ratio of the cold start to the warm median.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_LINE = "import time; open({marker!r}, 'w').write(repr(time.time()))\n"
USER_CODE = "spark.sql('SHOW DATABASES').collect()\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp: Path, env: dict, name: str, *args: str) -> subprocess.Popen:
    with open(tmp / f"{name}.log", "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "mortar.cli", *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _wait_port(port: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the metastore did not start")


def _marker_time(path: Path, timeout: float = 900) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text():
            return float(path.read_text())
        time.sleep(0.005)
    raise SystemExit(f"{path} was not written in {timeout} s")


def _wait_ready(log: Path, timeout: float = 900) -> None:
    """Until the worker's log says a warm driver is READY."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.exists() and re.search(r"warm driver \d+ ready after", log.read_text(errors="replace")):
            return
        time.sleep(0.05)
    raise SystemExit(f"no warm driver was ready within {timeout} s (see {log})")


def p99(values: list[float]) -> float:
    """Nearest-rank 99th percentile (of 20 values: the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="back-to-back warm runs (default 20)")
    parser.add_argument("--broker", default="", help="broker URL (default: the embedded one)")
    parser.add_argument(
        "--pool", type=int, default=0, help="job_warm_pool (default: the setting's default, 2)"
    )
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mortar-bench-jobs-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MORTAR_")}
    env.update(MORTAR_DATA_DIR=str(tmp), MORTAR_PORT=str(port), MORTAR_HOST="127.0.0.1")
    if opts.broker:
        env["MORTAR_BROKER_URL"] = opts.broker
    if opts.pool:
        env["MORTAR_JOB_WARM_POOL"] = str(opts.pool)
    os.environ.update(env)
    from metastore.catalog import CatalogService
    from metastore.catalog.dispatch import start_job_run
    from metastore.catalog.jobs import END_STATES, Job
    from metastore.config import Settings

    settings = Settings.load()
    service = CatalogService.open(settings.database_url, settings.warehouse)  # the schema, before the servers
    metastore = _start(tmp, env, "metastore", "metastore", "--host", "127.0.0.1", "--port", str(port))
    procs = [metastore]
    try:
        _wait_port(port)
        from runner.celery_app import app

        def send(name: str, args: list) -> None:
            app.send_task(name, args=args)

        def one(job: str, i: int) -> tuple[float, object, dict]:
            marker = tmp / f"{job}-{i}.t"
            service.jobs.update(job, Job(job, FIRST_LINE.format(marker=str(marker)) + USER_CODE,
                                         spark_conf=service.jobs.get(job).spark_conf))  # fmt: skip
            t0 = time.time()
            run = start_job_run(service, job, send)
            first_line = _marker_time(marker)
            latency = first_line - t0
            while (run := service.jobs.get_run(run.id)).state not in END_STATES:
                time.sleep(0.05)
            if run.state != "SUCCEEDED":
                raise SystemExit(f"run {run.id}: {run.state} {run.error}\n{service.jobs.read_log(run.id)[0]}")
            extra = {"script_ms": first_line * 1000 - run.running_at,  # the driver said RUNNING → first line
                     "reused": "(reused" in service.jobs.read_log(run.id)[0]}  # fmt: skip
            return latency, run, extra

        service.jobs.create(Job("warm", USER_CODE))
        service.jobs.create(Job("cold", USER_CODE, spark_conf={"spark.executor.memory": "600m"}))
        t_worker = time.time()
        procs.append(_start(tmp, env, "worker", "worker"))  # its warm pool starts now
        _wait_ready(tmp / "worker.log")
        ready_s = time.time() - t_worker
        print(f"  worker started, a warm driver READY after {ready_s:.1f} s", file=sys.stderr)
        warm, cold_runs, reused = [], 0, 0
        for i in range(opts.runs):
            latency, run, extra = one("warm", i)
            warm.append(latency)
            cold_runs += not run.warm
            reused += extra["reused"]
            print(f"  warm run {i + 1:2}: {latency:6.3f} s  (queued {run.queued_ms / 1000:5.3f} s, start-up "
                  f"{run.startup_ms / 1000:5.3f} s, to the first line {extra['script_ms'] / 1000:5.3f} s; "
                  f"{'warm' if run.warm else 'COLD'}{', reused driver' if extra['reused'] else ''})",
                  file=sys.stderr)  # fmt: skip
        cold, run, _ = one("cold", 0)
        print(f"  cold run   : {cold:6.2f} s  (start-up {run.startup_ms / 1000:5.2f} s)", file=sys.stderr)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    med = statistics.median(warm)
    print(f"submit (API) to the script's first line, {opts.runs} back-to-back runs from the worker's start "
          f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, broker {'embedded' if not opts.broker else opts.broker}):")  # fmt: skip
    print(f"  (warm pool of {os.environ.get('MORTAR_JOB_WARM_POOL', 'default')} drivers, a driver reused for "
          f"the job's runs: {reused} of {opts.runs} runs in a reused driver; the worker had a driver READY "
          f"{ready_s:.1f} s after it started)")  # fmt: skip
    print(f"  warm pool  median {med:6.3f} s   p99 {p99(warm):6.3f} s   first run {warm[0]:6.3f} s"
          f"   runs not warm: {cold_runs}")  # fmt: skip
    print(f"  cold start        {cold:6.3f} s   {cold / med:5.1f}x the warm median")


if __name__ == "__main__":
    main()
