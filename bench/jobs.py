"""Job start-up latency: from handing a run to the worker's executor to the first line of the user's
script running with a SparkSession on the metastore — warm (a driver of the warm pool) against cold (a
fresh Python process building its SparkSession, as a cold run does) and against `spark-submit`.

    python -m bench.jobs [--runs 3]

Starts its own `mortar metastore` on SQLite in a temporary folder. Prints the medians and the ratios.
"""

from __future__ import annotations

import argparse
import os
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


def _start_metastore(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mortar.cli", "metastore", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(tmp)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"thrift://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the metastore did not start")


def _marker_time(path: Path, timeout: float = 300) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text():
            return float(path.read_text())
        time.sleep(0.005)
    raise SystemExit(f"{path} was not written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (default 3)")
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mortar-bench-jobs-"))
    metastore, uri = _start_metastore(tmp)
    os.environ.update(MORTAR_METASTORE_URI=uri, MORTAR_JOB_MASTER="local[1]", MORTAR_DATA_DIR=str(tmp))

    from metastore.catalog import CatalogService
    from metastore.catalog.jobs import Job
    from metastore.config import Settings
    from runner.jobs.execute import base_spark_conf, execute_run, make_pool

    settings = Settings.load(data_dir=str(tmp))
    service = CatalogService.open(settings.database_url, settings.warehouse)
    pool = make_pool(settings, 1)
    results: dict[str, list[float]] = {"warm": [], "cold": [], "spark-submit": []}
    try:
        for i in range(opts.runs):
            for kind in ("warm", "cold"):
                marker = tmp / f"{kind}-{i}.t"
                name = f"{kind}_{i}"
                service.jobs.create(Job(name, FIRST_LINE.format(marker=str(marker)) + USER_CODE))
                # the pool's replacement driver warms up between runs, not during any measured run
                if not pool.wait_ready(300):
                    raise SystemExit("no warm driver got ready")
                run = service.jobs.start_run(name)
                t0 = time.time()
                outcome = execute_run(
                    service, run.id, settings, lambda *_: None, pool if kind == "warm" else None
                )
                if outcome.state != "SUCCEEDED" or (kind == "warm") != outcome.warm:
                    raise SystemExit(
                        f"{kind} run {run.id}: {outcome}\n{(tmp / 'job-logs' / f'{run.id}.log').read_text()}"
                    )
                results[kind].append(_marker_time(marker) - t0)
                print(f"{kind:>12} run {i + 1}: {results[kind][-1]:6.2f} s", file=sys.stderr)
            pool.wait_ready(300)
            # spark-submit: a script that builds its own session, timed at its first line after that
            import pyspark

            marker = tmp / f"submit-{i}.t"
            script = tmp / f"submit-{i}.py"
            script.write_text("from pyspark.sql import SparkSession\n"
                              "spark = SparkSession.builder.enableHiveSupport().getOrCreate()\n"
                              + FIRST_LINE.format(marker=str(marker)) + USER_CODE)  # fmt: skip
            conf = [
                a
                for k, v in base_spark_conf(settings).items()
                if k != "spark.master"
                for a in ("--conf", f"{k}={v}")
            ]
            submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
            t0 = time.time()
            subprocess.run([submit, "--master", "local[1]", *conf, str(script)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            results["spark-submit"].append(_marker_time(marker) - t0)
            print(f"{'spark-submit':>12} run {i + 1}: {results['spark-submit'][-1]:6.2f} s", file=sys.stderr)
    finally:
        if pool is not None:
            pool.shutdown()
        metastore.terminate()
    warm = statistics.median(results["warm"])
    print(f"submit to first line of user code (median of {opts.runs}, local[1], {os.cpu_count()} CPUs):")
    for kind, values in results.items():
        med = statistics.median(values)
        print(
            f"  {kind:<13} {med:7.3f} s" + ("" if kind == "warm" else f"   {med / warm:5.1f}x the warm pool")
        )


if __name__ == "__main__":
    main()
