"""The warm pool: N driver processes per worker process, each holding a SparkSession already pointed at
the metastore and warmed up, waiting for one run.

A run takes a READY driver, sends it its request on stdin, and a new driver is started in its place (the
used one exits after its run: it is recycled, never reused). A run whose job needs settings the pool's
drivers were not started with (another master, SparkContext-level conf) runs cold instead.

With job_os_user set, drivers run as that OS user (see JobUser): the worker, root, starts each with that
user's uid, primary group and no other group, umask 022, and a HOME and TMPDIR of its own (a directory of
that user under runs_root(), removed when the driver is done).

Settings: job_warm_pool (drivers per worker process, default 1; 0 turns the pool off), job_master,
metastore_uri, job_os_user (metastore/config.py; MORTAR_<NAME> in the environment).
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
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner.jobs.driver import READY

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
                d.cleanup()
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
            d.cleanup()
        self.drivers = []
