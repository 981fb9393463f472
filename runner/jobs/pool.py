"""The warm pool: Spark driver processes of a worker, each holding a SparkSession already pointed at the
metastore and warmed up, waiting for a run.

The pool is the jobs worker's (runner/jobs/worker.py: one per `mortar worker`), shared by the runs it
executes at once; it starts filling when the worker starts, so the first run after `mortar up` is warm.
A run takes a READY driver and sends it its request on stdin; the driver executes it in a forked child
(runner/jobs/driver.py) and, the run ended, serves further runs — of the same job only (a driver
remembers the job it served: execute.job_identity). Code of a job's run can change the driver's JVM
through py4j, so a driver that served job A never serves job B: B's run takes a fresh driver (never
used). The pool holds job_warm_pool drivers, busy ones included, and keeps one of them fresh when it
holds two or more: when a run takes the fresh one, another starts warming; idle drivers beyond
job_warm_pool are retired, the least recently used first. A driver is retired (killed, its credential
revoked) after a run that did not succeed (a timeout or stop has killed it already), after
job_driver_max_runs runs, when it died or stopped its SparkContext, and when memory is short at a run's
end. Its credential is revoked when each run ends (idle, it grants nothing) and bound again to its next
run by the worker. The worker fetches a run from the broker only when a driver is READY (see
runner/jobs/worker.py), so a run never waits for a driver while another worker has one idle. A run whose
job needs settings the pool's drivers were not started with (another master, SparkContext-level conf)
runs cold instead, and its log says why.

With job_os_user set, drivers run as that OS user (see JobUser): the worker, root, starts each with that
user's uid, primary group and no other group, umask 022, and a HOME and TMPDIR of its own (a directory of
that user under runs_root(), removed when the driver is done).

Settings: job_warm_pool (drivers per worker, default 2; 0 turns the pool off), job_driver_memory_mb (the
pool holds no more drivers than available memory / this), job_driver_max_runs, job_master, metastore_uri,
job_os_user
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
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import psutil

from runner.jobs.driver import DONE, READY, STARTED

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
    """A warm driver process, as the pool sees it: its lines on stdout are READY (idle, ready for a run),
    RUNNING (the run's script starts) and DONE <code> (the run ended); it takes run requests on stdin."""

    def __init__(self, proc: subprocess.Popen, started: float, credential: str | None = None,
                 home: Path | None = None):  # fmt: skip
        self.proc = proc
        self.started = started
        self.ready = False  # said READY and has not been given a run since
        self.credential = credential  # read-only until bound to a run; revoked between runs
        self.home = home  # its HOME and TMPDIR when it runs as job_os_user
        self.job: str | None = None  # the job whose runs it served (job_identity): None while fresh
        self.runs = 0
        self.busy = False  # a run's thread has it (and alone reads its lines)
        self.reserved_for: str | None = None  # the run thread it is kept for
        self.last_used = started
        self._buf = b""
        self._events: deque[bytes] = deque()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def cleanup(self) -> None:
        """After the driver ended: remove its home directory."""
        remove_dir(self.home)
        self.home = None

    def _read(self, timeout: float) -> None:
        """Read what the driver said within `timeout` into its events (whole lines)."""
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return
        try:
            data = os.read(self.proc.stdout.fileno(), 4096)
        except OSError:
            data = b""
        if not data:
            return
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        self._events.extend(line.strip() for line in lines if line.strip())

    def next_event(self, timeout: float = 0.0) -> bytes | None:
        if not self._events and self.alive:
            self._read(timeout)
        return self._events.popleft() if self._events else None

    def poll_ready(self, timeout: float = 0.0) -> bool:
        """True once an idle driver said READY; False while it warms up or cleans up after a run (or died)."""
        if self.busy:
            return False
        if not self.ready:
            event = self.next_event(timeout)
            while event is not None and not self.ready:
                if event == READY.strip():
                    self.ready = True
                    if not self.runs:
                        log.info("warm driver %d ready after %.1f s", self.pid, time.time() - self.started)
                else:
                    event = self.next_event()
        return self.ready and self.alive

    def submit(self, request: dict) -> WarmRun:
        self.ready = False
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        return WarmRun(self)


class WarmRun:
    """A run executing in a warm driver, watched like a process (`pid`, `wait`): it has ended when the
    driver says DONE <code>, or when the driver died."""

    def __init__(self, driver: WarmDriver):
        self.driver = driver
        self.pid = driver.pid
        self.running = False
        self.code: int | None = None

    def _event(self, timeout: float) -> None:
        event = self.driver.next_event(timeout)
        if event == STARTED.strip():
            self.running = True
        elif event is not None and event.startswith(DONE):
            try:
                self.code = int(event.split()[1])
            except (IndexError, ValueError):
                self.code = 1
        elif event is not None:
            self.driver._events.appendleft(event)  # READY after the run: the pool's

    def started(self, timeout: float = 0.0) -> bool:
        """True once the run's script started (the driver said RUNNING)."""
        if not self.running and self.code is None:
            self._event(timeout)
        return self.running

    def wait(self, timeout: float | None = None) -> int:
        """The run's exit code once it ended (DONE, or the driver died: its code, or 1); raises
        subprocess.TimeoutExpired if it has not within `timeout` (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            if self.code is not None:
                return self.code
            if not self.driver.alive:
                self.driver.proc.wait()
                while self.code is None and self.driver._events:  # it said DONE before it exited
                    self._event(0)
                if self.code is None:
                    self.code = self.driver.proc.returncode or 1
                return self.code
            left = 0.2 if deadline is None else deadline - time.time()
            if left <= 0:
                raise subprocess.TimeoutExpired("warm driver", timeout)
            if self.driver._events:
                self._event(0)
            else:
                self._event(min(left, 0.2))


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
                 access=None, user: JobUser | None = None, max_runs: int = 50,
                 driver_mb: int = 0):  # fmt: skip
        """`env`: the drivers' whole environment (runner.jobs.execute.driver_env: no secrets in it);
        `access`: the catalog's Access area, which issues each driver its credential and revokes it; `user`:
        the OS user drivers run as (None: this process's; JobUser.named has checked this process may start
        them); `max_runs`: runs a driver serves before it is retired; `driver_mb`: a driver that ends a run
        while the machine has less memory available than this is retired. The pool's log `log_path` is
        opened here and given to each driver as its stderr."""
        self.user = user
        self.size = size
        self.spark_conf = dict(spark_conf)
        self.env = dict(env)
        self.log_path = log_path
        self.access = access
        self.max_runs = max(1, max_runs)
        self.driver_mb = driver_mb
        self.drivers: list[WarmDriver] = []
        self.lock = threading.RLock()  # the runs of a worker take and give back drivers from several threads
        self.failures = 0  # drivers in a row that died before they were ready
        self.warmup_limit_s = 600.0  # a driver not READY by then is killed (job_startup_timeout_s)
        self.changed = 0  # counts drivers becoming READY: the jobs worker's cue to look at the queue again

    @property
    def master(self) -> str:
        return self.spark_conf.get("spark.master", "")

    def _idle(self) -> list[WarmDriver]:
        return [d for d in self.drivers if not d.busy]

    def fill(self) -> None:
        """Drop dead drivers, start new ones, retire surplus ones. The pool holds `size` drivers, runs'
        included, and keeps one fresh (never used: for a run of any job) while `size` >= 2: when every driver
        is busy or used, one more is started (up to `size` idle ones); idle drivers beyond `size` are retired,
        the least recently used first. After 3 drivers in a row died before they were ready (a master out of
        reach, say), new ones are started one minute apart."""
        with self.lock:
            for d in list(self.drivers):
                if d.busy:
                    continue
                if not d.ready and d.alive and time.time() - d.started > self.warmup_limit_s:
                    log.warning("warm driver %d not ready after %.0f s: killed", d.pid, self.warmup_limit_s)
                    kill_tree(d.pid)
                    d.proc.wait()
                if not d.alive:
                    if not d.runs:
                        log.warning("warm driver %d exited with %s before use", d.pid, d.proc.returncode)
                        self.failures += 0 if d.ready else 1
                    self._drop(d, None)
            if self.failures >= 3 and time.time() - getattr(self, "_last_start", 0) < 60:
                return
            while len(self.drivers) < self.size:
                self._start_one()
            idle = self._idle()
            if self.size >= 2 and not any(d.job is None for d in idle) and len(idle) < self.size:
                self._start_one()  # the fresh spare: for a run of a job no driver has served
            idle = self._idle()
            surplus = len(idle) - self.size
            used = sorted((d for d in idle if d.job is not None and d.reserved_for is None), key=lambda d: d.last_used)
            for d in used[: max(0, surplus)]:
                self._retire(d, "the pool has more idle drivers than job_warm_pool")

    def _start_one(self) -> None:
        self._last_start = time.time()
        self.drivers.append(self._start())

    def _drop(self, driver: WarmDriver, reason: str | None) -> None:
        """Remove `driver` from the pool, kill it (if alive), revoke its credential."""
        if driver in self.drivers:
            self.drivers.remove(driver)
        if reason:
            log.info("warm driver %d retired after %d run(s): %s", driver.pid, driver.runs, reason)
        if driver.alive:
            kill_tree(driver.pid)
        driver.proc.wait()
        self._revoke(driver)
        driver.cleanup()

    def _retire(self, driver: WarmDriver, reason: str) -> None:
        self._drop(driver, reason)

    def _fits(self, driver: WarmDriver, job: str | None) -> bool:
        return driver.job is None or driver.job == job

    @staticmethod
    def _finishing(driver: WarmDriver) -> bool:
        """An idle driver that served a run and has not said READY again yet (it tidies up after it)."""
        return not driver.busy and not driver.ready and driver.runs > 0 and driver.alive

    def _pick(self, job: str | None, thread: str | None = None) -> WarmDriver | None:
        """An idle READY driver for a run of `job`: the one kept for `thread` (None while it finishes its
        previous run: wait for it), else one that served `job`, else a fresh one. A driver that served
        another job is never given."""
        ready = [d for d in self.drivers if d.poll_ready()]
        if ready:
            self.failures = 0
        for d in self.drivers:
            if thread is not None and d.reserved_for == thread and self._fits(d, job):
                if d in ready:
                    return d
                if self._finishing(d):
                    return None
                d.reserved_for = None  # it died: another one
        free = [d for d in ready if d.reserved_for is None]
        same = sorted((d for d in free if d.job is not None and d.job == job), key=lambda d: -d.last_used)
        fresh = [d for d in free if d.job is None]
        for d in (*same, *fresh):
            return d
        return None

    def ready_count(self, job: str | None = None) -> int:
        """Idle READY drivers not kept for a run (for `job`, if given: fresh ones and those that served it).
        Only the thread that owns the pool calls this (and fill): a driver dies with the thread that started
        it (PR_SET_PDEATHSIG)."""
        with self.lock:
            self.fill()
            before = sum(d.ready for d in self.drivers)
            ready = [d for d in self.drivers if d.poll_ready() and d.reserved_for is None]
            if len(ready) > before:
                self.changed += 1
            if ready:
                self.failures = 0
            return sum(1 for d in ready if job is None or self._fits(d, job))

    def reserve(self, thread: str, job: str | None) -> bool:
        """Keep an idle READY driver fit for a run of `job` for the run thread named `thread` (until it takes
        it or lets it go); False if there is none."""
        with self.lock:
            d = self._pick(job)
            if d is None or d.job is None:  # the job's own driver, READY in a moment, rather than the spare
                finishing = [x for x in self.drivers if self._finishing(x) and x.job == job and x.reserved_for is None]
                d = finishing[0] if finishing else d
            if d is None:
                return False
            d.reserved_for = thread
            return True

    def release(self, thread: str) -> None:
        with self.lock:
            for d in self.drivers:
                if d.reserved_for == thread:
                    d.reserved_for = None

    def want_fresh(self) -> None:
        """A run waits for a driver no job has used, and every idle driver served another job: retire the
        least recently used one, so that a fresh one warms up in its place (at the owner's next fill)."""
        with self.lock:
            idle = self._idle()
            if any(d.job is None for d in idle):
                return
            used = sorted((d for d in idle if d.reserved_for is None), key=lambda d: d.last_used)
            if used and len(self.drivers) >= self.size:
                self._retire(used[0], "a run of another job needs a fresh driver")

    def healthy(self) -> bool:
        """False once drivers keep dying before they are ready: runs then go cold (and say why)."""
        return self.failures < 3

    def _revoke(self, driver: WarmDriver) -> None:
        if self.access is not None and driver.credential:
            try:
                self.access.revoke_run_credentials(secret=driver.credential)
            except Exception:  # noqa: BLE001 - logged; the driver is gone anyway
                log.exception("the credential of warm driver %d could not be revoked", driver.pid)

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

    def take(self, job: str | None, wait_s: float) -> WarmDriver | None:
        """An idle READY driver for a run of `job` (see _pick), now busy: the run's thread gives it back
        (give_back) when the run ended. Waits up to `wait_s` for one that warms up or cleans up after a
        run; None if none is ready by then."""
        deadline = time.time() + wait_s
        thread = threading.current_thread().name
        while True:
            with self.lock:
                d = self._pick(job, thread)
                if d is not None:
                    self.release(thread)
                    d.reserved_for = None
                    d.busy = True
                    d.job = job
                    return d
                waiting = [d.proc.stdout for d in self.drivers if not d.busy and not d.ready and d.alive]
            left = deadline - time.time()
            if left <= 0:
                self.release(thread)
                return None
            select.select(waiting, [], [], min(left, 0.5)) if waiting else time.sleep(min(left, 0.5))

    def give_back(self, driver: WarmDriver, state: str | None) -> bool:
        """The run of `driver` ended in `state`: the driver serves the next run of the same job, or is retired
        (a run that did not succeed, job_driver_max_runs reached, the driver died, memory is short). Its
        credential is revoked either way (the worker binds it again to the next run). True if kept."""
        driver.runs += 1
        driver.last_used = time.time()
        self._revoke(driver)
        reason = None
        if state != "SUCCEEDED":
            reason = f"its run ended {state}"
        elif not driver.alive:
            reason = f"it exited ({driver.proc.returncode})"
        elif driver.runs >= self.max_runs:
            reason = f"job_driver_max_runs ({self.max_runs}) reached"
        elif self.driver_mb > 0 and psutil.virtual_memory().available < self.driver_mb * 1024 * 1024:
            reason = "the machine is short of memory"
        with self.lock:
            if reason is not None:
                self._retire(driver, reason)
                return False
            driver.busy = False
            return True

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
            for d in list(self.drivers):
                self._drop(d, None)
            self.drivers = []
            self.size = 0
