"""The warm pool: N driver processes per worker process, each holding a SparkSession already pointed at
the metastore and warmed up, waiting for one run.

A run takes a READY driver, sends it its request on stdin, and a new driver is started in its place (the
used one exits after its run: it is recycled, never reused). A run whose job needs settings the pool's
drivers were not started with (another master, SparkContext-level conf) runs cold instead.

Settings: job_warm_pool (drivers per worker process, default 1; 0 turns the pool off), job_master,
metastore_uri (metastore/config.py; MORTAR_<NAME> in the environment).
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import psutil

from runner.jobs.driver import READY

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


def set_parent_death_signal() -> None:
    """(preexec_fn) The child dies with the process that started it (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def kill_tree(pid: int) -> list[int]:
    """SIGKILL process `pid` and all its descendants, at once; returns their pids."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)
    return [p.pid for p in procs]


class WarmDriver:
    def __init__(self, proc: subprocess.Popen, started: float, credential: str | None = None):
        self.proc = proc
        self.started = started
        self.ready = False
        self.credential = credential  # read-only until the run that takes the driver binds it

    def poll_ready(self, timeout: float = 0.0) -> bool:
        """True once the driver said READY; False while it warms up (or if it died)."""
        if self.ready:
            return self.proc.poll() is None
        if self.proc.poll() is not None:
            return False
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if r:
            data = os.read(self.proc.stdout.fileno(), len(READY))
            self.ready = data == READY
            if self.ready:
                log.debug("warm driver %d ready after %.1f s", self.proc.pid, time.time() - self.started)
        return self.ready and self.proc.poll() is None

    def submit(self, request: dict) -> subprocess.Popen:
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        self.proc.stdin.close()
        return self.proc


class WarmPool:
    def __init__(self, size: int, spark_conf: dict[str, str], env: dict[str, str], log_path: str | None = None,
                 access=None):  # fmt: skip
        """`env`: the drivers' whole environment (runner.jobs.execute.driver_env: no secrets in it);
        `access`: the catalog's Access area, which issues each driver its credential and revokes those of
        drivers that end unused."""
        self.size = size
        self.spark_conf = dict(spark_conf)
        self.env = dict(env)
        self.log_path = log_path
        self.access = access
        self.drivers: list[WarmDriver] = []

    @property
    def master(self) -> str:
        return self.spark_conf.get("spark.master", "")

    def fill(self) -> None:
        """Start drivers until `size` are ready or warming; drop dead ones."""
        alive = []
        for d in self.drivers:
            if d.proc.poll() is None:
                alive.append(d)
            else:
                log.warning("warm driver %d exited with %s before use", d.proc.pid, d.proc.returncode)
                self._revoke(d)
        self.drivers = alive
        while len(self.drivers) < self.size:
            self.drivers.append(self._start())

    def _revoke(self, driver: WarmDriver) -> None:
        if self.access is not None and driver.credential:
            try:
                self.access.revoke_run_credentials(secret=driver.credential)
            except Exception:  # noqa: BLE001 - logged; the driver is gone anyway
                log.exception("the credential of warm driver %d could not be revoked", driver.proc.pid)

    def _start(self) -> WarmDriver:
        credential = self.access.new_run_credential() if self.access is not None else None
        env = {**self.env, "MORTAR_JOB_SPARK_CONF": json.dumps(self.spark_conf)}
        if credential:
            env["MORTAR_RUN_CREDENTIAL"] = credential
        err = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen([sys.executable, "-m", "runner.jobs.driver", "--warm"], cwd=ROOT, env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    preexec_fn=set_parent_death_signal)  # fmt: skip
        finally:
            if err is not subprocess.DEVNULL:
                err.close()
        log.info("warm driver %d starting", proc.pid)
        return WarmDriver(proc, time.time(), credential)

    def take(self, wait_s: float) -> WarmDriver | None:
        """A READY driver (removed from the pool, which starts a replacement), waiting up to `wait_s` for
        one that is warming up; None if none is ready by then."""
        self.fill()
        deadline = time.time() + wait_s
        while True:
            for d in self.drivers:
                if d.poll_ready():
                    self.drivers.remove(d)
                    self.fill()
                    return d
            left = deadline - time.time()
            if left <= 0 or not self.drivers:
                return None
            warming = [d.proc.stdout for d in self.drivers if not d.ready]
            if warming:
                select.select(warming, [], [], min(left, 1.0))
            else:
                time.sleep(min(left, 0.05))

    def wait_ready(self, wait_s: float) -> bool:
        """Wait up to `wait_s` until a driver is READY (leaving it in the pool)."""
        self.fill()
        deadline = time.time() + wait_s
        while time.time() < deadline:
            if any(d.poll_ready(0.05) for d in self.drivers):
                return True
        return False

    def shutdown(self) -> None:
        for d in self.drivers:
            kill_tree(d.proc.pid)
            self._revoke(d)
        self.drivers = []
