"""The warm pool: Spark driver processes of a worker, each holding a SparkSession already pointed at the
metastore and warmed up, waiting for one run.

The pool is the jobs worker's (runner/jobs/worker.py: one per `mortar worker`), shared by the runs it
executes at once; it starts filling when the worker starts, so the first run after `mortar up` is warm.
A run takes a READY driver, sends it its request on stdin, and a new driver is started in its place at once
(the used one exits after its run: it is recycled, never reused); with two drivers (the default) one is
ready while the other warms up. The worker fetches a run from the broker only when a driver is READY (see
runner/jobs/worker.py), so a run never waits for a driver while another worker has one idle. A run whose
job needs settings the pool's drivers were not started with (another master, SparkContext-level conf)
runs cold instead, and its log says why.

With job_os_user set, drivers run as that OS user (see JobUser): the worker, root, starts each with that
user's uid, primary group and no other group, umask 022, and a HOME and TMPDIR of its own (a directory of
that user under runs_root(), removed when the driver is done).

Settings: job_warm_pool (drivers per worker, default 2; 0 turns the pool off), job_driver_memory_mb (the
pool holds no more drivers than available memory / this), job_master, metastore_uri, job_os_user
(metastore/config.py; MORTAR_<NAME> in the environment).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import pwd
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner.jobs.driver import READY, STARTED

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


def set_parent_death_signal() -> None:
    """(preexec_fn) The child dies with the process that started it (Linux). Nothing is imported here: in a
    child started as another user (job_os_user) the interpreter's files may be out of reach."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass(frozen=True)
class JobUser:
    """The OS user job drivers run as (the job_os_user setting)."""

    name: str
    uid: int
    gid: int

    @classmethod
    def named(cls, name: str) -> JobUser | None:
        """The user `name` ("": None, drivers run as the worker's own user). Raises RuntimeError if there is
        no such user, or if this process is not root and so cannot start processes as another user: a run
        must fail rather than run silently as the worker's user."""
        name = (name or "").strip()
        if not name:
            return None
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(f"job_os_user {name!r} is not a user of this machine") from None
        if os.geteuid() != 0:
            raise RuntimeError(
                f"job_os_user is {name!r} but the worker runs as uid {os.geteuid()}, not root: it cannot start "
                "drivers as that user (run the worker as root, or leave job_os_user empty)"
            )
        return cls(name, pw.pw_uid, pw.pw_gid)

    def popen_args(self) -> dict:
        """subprocess.Popen's arguments that start a process as this user (and its primary group only)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "umask": 0o022}

    def env(self, home: Path) -> dict[str, str]:
        return {"HOME": str(home), "TMPDIR": str(home), "USER": self.name, "LOGNAME": self.name}

    def private_dir(self, prefix: str, parent: Path | None = None) -> Path:
        """A new directory of this user (mode 0700) under `parent` (default runs_root())."""
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent or runs_root()))
        os.chown(path, self.uid, self.gid)
        return path


def runs_root() -> Path:
    """Where the directories of drivers run as job_os_user live: <tmp>/mortar-runs, root's, mode 0711 (its
    users may enter the directories they are told of, not list them). One found there that is not a
    directory of root's (made by someone else while it was missing) is refused."""
    path = Path(tempfile.gettempdir()) / "mortar-runs"
    try:
        path.mkdir(mode=0o711)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0:
        raise RuntimeError(f"{path} is not a directory owned by root: remove it (someone else made it)")
    if stat.S_IMODE(st.st_mode) != 0o711:
        os.chmod(path, 0o711)
    return path


def remove_dir(path: Path | str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)  # fd-based on Linux: links the driver left are not followed


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
    def __init__(self, proc: subprocess.Popen, started: float, credential: str | None = None,
                 home: Path | None = None):  # fmt: skip
        self.proc = proc
        self.started = started
        self.ready = False
        self.credential = credential  # read-only until the run that takes the driver binds it
        self.home = home  # its HOME and TMPDIR when it runs as job_os_user

    def cleanup(self) -> None:
        """After the driver ended: remove its home directory."""
        remove_dir(self.home)
        self.home = None

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

    @property
    def status_fd(self) -> int:
        """Where the driver says RUNNING once its run's script starts (runner.jobs.driver.STARTED)."""
        return self.proc.stdout.fileno()


def size_for_memory(size: int, driver_mb: int) -> int:
    """`size` drivers, or fewer if the machine's available memory holds fewer of `driver_mb` each (at
    least one while `size` > 0: a run is better served by one warm driver than by a cold one)."""
    if size <= 0 or driver_mb <= 0:
        return max(size, 0)
    fits = int(psutil.virtual_memory().available // (driver_mb * 1024 * 1024))
    return max(1, min(size, fits))


def read_started(fd: int, timeout: float = 0.0) -> bool:
    """True once the driver wrote STARTED on `fd` (its run's script began); False meanwhile, or at EOF."""
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return False
    try:
        return os.read(fd, len(STARTED)) == STARTED
    except OSError:
        return False


class WarmPool:
    def __init__(self, size: int, spark_conf: dict[str, str], env: dict[str, str], log_path: str | None = None,
                 access=None, user: JobUser | None = None):  # fmt: skip
        """`env`: the drivers' whole environment (runner.jobs.execute.driver_env: no secrets in it);
        `access`: the catalog's Access area, which issues each driver its credential and revokes those of
        drivers that end unused; `user`: the OS user drivers run as (None: this process's; JobUser.named has
        checked this process may start them). The pool's log
        `log_path` is opened here and given to each driver as its stderr."""
        self.user = user
        self.size = size
        self.spark_conf = dict(spark_conf)
        self.env = dict(env)
        self.log_path = log_path
        self.access = access
        self.drivers: list[WarmDriver] = []
        self.lock = threading.RLock()  # the runs of a worker take drivers from several threads
        self.reserved: set[str] = set()  # names of run threads a READY driver is kept for
        self.failures = 0  # drivers in a row that died before they were ready
        self.warmup_limit_s = 600.0  # a driver not READY by then is killed (job_startup_timeout_s)

    @property
    def master(self) -> str:
        return self.spark_conf.get("spark.master", "")

    def fill(self) -> None:
        """Start drivers until `size` are ready or warming; drop dead ones. After 3 drivers in a row died
        before they were ready (a master out of reach, say), new ones are started one minute apart."""
        with self.lock:
            alive = []
            for d in self.drivers:
                if not d.ready and d.proc.poll() is None and time.time() - d.started > self.warmup_limit_s:
                    log.warning("warm driver %d not ready after %.0f s: killed", d.proc.pid, self.warmup_limit_s)
                    kill_tree(d.proc.pid)
                    d.proc.wait()
                if d.proc.poll() is None:
                    alive.append(d)
                else:
                    log.warning("warm driver %d exited with %s before use", d.proc.pid, d.proc.returncode)
                    self.failures += 0 if d.ready else 1
                    self._revoke(d)
                    d.cleanup()
            self.drivers = alive
            if self.failures >= 3 and time.time() - getattr(self, "_last_start", 0) < 60:
                return
            while len(self.drivers) < self.size:
                self._last_start = time.time()
                self.drivers.append(self._start())

    def ready_count(self) -> int:
        """Drivers READY now and not kept for a run (polling those warming). Only the thread that owns the
        pool calls this (and fill): a driver dies with the thread that started it (PR_SET_PDEATHSIG)."""
        with self.lock:
            self.fill()
            ready = sum(d.poll_ready() for d in self.drivers)
            if ready:
                self.failures = 0
            return max(0, ready - len(self.reserved))

    def reserve(self, thread: str) -> None:
        """Keep a READY driver for the run thread named `thread` until it takes it or lets it go."""
        with self.lock:
            self.reserved.add(thread)

    def release(self, thread: str) -> None:
        with self.lock:
            self.reserved.discard(thread)

    def healthy(self) -> bool:
        """False once drivers keep dying before they are ready: runs then go cold (and say why)."""
        return self.failures < 3

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
        home, as_user = None, {}
        if self.user is not None:
            home = self.user.private_dir("driver-")
            env.update(self.user.env(home))
            as_user = self.user.popen_args()
        err = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen([sys.executable, "-m", "runner.jobs.driver", "--warm"], cwd=ROOT, env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    preexec_fn=set_parent_death_signal, **as_user)  # fmt: skip
        except BaseException:
            remove_dir(home)
            raise
        finally:
            if err is not subprocess.DEVNULL:
                err.close()
        log.info("warm driver %d starting%s", proc.pid, f" as {self.user.name}" if self.user else "")
        return WarmDriver(proc, time.time(), credential, home)

    def take(self, wait_s: float) -> WarmDriver | None:
        """A READY driver (removed from the pool: the owner's next fill starts a replacement), waiting up to
        `wait_s` for one that is warming up; None if none is ready by then."""
        deadline = time.time() + wait_s
        while True:
            with self.lock:
                for d in self.drivers:
                    if d.poll_ready():
                        self.drivers.remove(d)
                        self.reserved.discard(threading.current_thread().name)
                        return d
                warming = [d.proc.stdout for d in self.drivers if not d.ready]
            left = deadline - time.time()
            if left <= 0 or not warming:
                return None
            select.select(warming, [], [], min(left, 0.5))

    def wait_ready(self, wait_s: float) -> bool:
        """Wait up to `wait_s` until a driver is READY (leaving it in the pool)."""
        self.fill()
        deadline = time.time() + wait_s
        while time.time() < deadline:
            if any(d.poll_ready(0.05) for d in self.drivers):
                return True
        return False

    def shutdown(self) -> None:
        with self.lock:
            for d in self.drivers:
                kill_tree(d.proc.pid)
                self._revoke(d)
                d.cleanup()
            self.drivers = []
            self.size = 0
