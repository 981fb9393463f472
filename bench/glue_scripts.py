"""Warm start of a Glue-style script against a plain PySpark one, through a real worker: from submitting a
run to the line after the script's preamble (Glue: the awsglue imports, getResolvedOptions, GlueContext,
Job.init; plain: SparkSession.builder.getOrCreate()), runs alternating between the two jobs, each submitted
`--settle` seconds after the previous one ended (so that a warm driver is READY: what is measured is a warm
start, not a wait for one).

    python -m bench.glue_scripts [--runs 6] [--settle 2] [--broker redis://127.0.0.1:6379/9]

Starts its own `mortar metastore` and `mortar worker` (warm pool of 3: each job keeps the driver it used,
one stays fresh; local[1]) on SQLite in a temporary folder. Prints both medians and their ratio (the
awsglue layer should add no noticeable start cost: warm drivers import it while they warm up).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.jobs import _free_port, _start, _wait_port, _wait_ready

ROOT = Path(__file__).resolve().parents[1]

GLUE = """import time; _t0 = time.time()
import sys
from awsglue.transforms import *
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from awsglue.context import GlueContext
from awsglue.job import Job
args = getResolvedOptions(sys.argv, ["JOB_NAME"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
open({marker!r}, "w").write(repr(time.time()) + " " + repr(time.time() - _t0))
job.commit()
"""

PLAIN = """import time; _t0 = time.time()
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
open({marker!r}, "w").write(repr(time.time()) + " " + repr(time.time() - _t0))
"""


def _marker_time(path: Path, timeout: float = 1800) -> tuple[float, float]:
    """(when the preamble ended, how long it took in the script)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and len(path.read_text().split()) == 2:
            at, took = path.read_text().split()
            return float(at), float(took)
        time.sleep(0.005)
    raise SystemExit(f"{path} was not written in {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="warm runs of each script (default 6)")
    parser.add_argument("--broker", default="", help="broker URL (default: the embedded one)")
    parser.add_argument("--settle", type=float, default=2, help="seconds to wait before each run, for the "
                        "driver of the previous run to be READY again (default 2)")  # fmt: skip
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mortar-bench-glue-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MORTAR_")}
    env.update(MORTAR_DATA_DIR=str(tmp), MORTAR_PORT=str(port), MORTAR_HOST="127.0.0.1",
               MORTAR_JOB_WARM_POOL="3", MORTAR_JOB_MASTER="local[1]")  # fmt: skip
    if opts.broker:
        env["MORTAR_BROKER_URL"] = opts.broker
    os.environ.update(env)
    from metastore.catalog import CatalogService
    from metastore.catalog.dispatch import start_job_run
    from metastore.catalog.jobs import END_STATES, Job
    from metastore.config import Settings

    settings = Settings.load()
    service = CatalogService.open(settings.database_url, settings.warehouse)
    procs = [_start(tmp, env, "metastore", "metastore", "--host", "127.0.0.1", "--port", str(port))]
    times: dict[str, list[float]] = {"glue": [], "plain": []}
    preamble: dict[str, list[float]] = {"glue": [], "plain": []}
    try:
        _wait_port(port)
        from runner.celery_app import app

        def one(job: str, template: str, i: int) -> tuple[float, float]:
            marker = tmp / f"{job}-{i}.t"
            time.sleep(opts.settle)  # a run that finds no READY driver measures the warm-up, not the start
            service.jobs.update(job, Job(job, template.format(marker=str(marker))))
            t0 = time.time()
            run = start_job_run(service, job, lambda name, args: app.send_task(name, args=args))
            at, took = _marker_time(marker)
            latency = at - t0
            while (run := service.jobs.get_run(run.id)).state not in END_STATES:
                time.sleep(0.05)
            if run.state != "SUCCEEDED":
                raise SystemExit(f"run {run.id}: {run.state} {run.error} (warm: {run.warm})\n"
                                 f"{service.jobs.read_log(run.id)[0]}")  # fmt: skip
            return latency, took

        service.jobs.create(Job("glue", GLUE.format(marker="/dev/null")))
        service.jobs.create(Job("plain", PLAIN.format(marker="/dev/null")))
        procs.append(_start(tmp, env, "worker", "worker"))
        _wait_ready(tmp / "worker.log")
        one("plain", PLAIN, -1)  # not counted: the first run of each job takes a fresh driver, then keeps it
        one("glue", GLUE, -1)
        for i in range(opts.runs):
            for job, template in (("glue", GLUE), ("plain", PLAIN)) if i % 2 == 0 else (("plain", PLAIN), ("glue", GLUE)):
                latency, took = one(job, template, i)
                times[job].append(latency)
                preamble[job].append(took)
                print(f"  {job:5} run {i + 1:2}: {latency:6.2f} s (preamble {took * 1000:6.1f} ms)", file=sys.stderr)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    glue, plain = statistics.median(times["glue"]), statistics.median(times["plain"])
    print(f"submit to the line after the preamble, {opts.runs} warm runs each, alternating "
          f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}):")  # fmt: skip
    print(f"  plain PySpark median {plain:6.3f} s")
    print(f"  Glue-style    median {glue:6.3f} s   {glue / plain:5.2f}x the plain median")
    pg, pp = statistics.median(preamble["glue"]), statistics.median(preamble["plain"])
    print(f"  the preamble alone, in the script: plain {pp * 1000:.1f} ms, Glue-style {pg * 1000:.1f} ms "
          f"(+{(pg - pp) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
