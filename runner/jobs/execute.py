"""Executing a job run on a worker: take the run, start its driver (warm or cold), watch it — heartbeats,
stop requests, the timeout — and record how it ended; then enqueue what that started (a retry, a
WAITING run, downstream triggers' actions).

Where a run's files are: with job_os_user empty, <data_dir>/job-logs/<id>.log and <id>.d/ (script.py,
request.json, error.txt). With job_os_user set, drivers run as that OS user and may read nothing of the data
dir (made 0700): each run gets a directory <tmp>/mortar-runs/run-<id>-<random>/ of root's (mode 0711: the
driver can neither list nor replace its entries) holding script.py and request.json (root's, readable),
run.log and error.txt (the job user's, for the driver to write; the worker reads and ships them) and home/
(the job user's: the driver's HOME and TMPDIR); it is removed once the run's log is shipped.

A run's timeline: queued (created_at) → starting (started_at: a worker took it, its driver starts) →
running (running_at: the driver said its script started) → ended. The job's timeout counts from running:
queue and start-up are not the script's time (Glue's startup time and execution time); start-up has its
own limit, job_startup_timeout_s.

Settings: metastore_uri, job_master, job_warm_pool, job_heartbeat_s, job_warm_wait_s, job_requeue_s,
job_startup_timeout_s, job_os_user (see metastore/config.py; MORTAR_<NAME> in the environment).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from metastore.catalog import CatalogService, Conflict, NotFound
from metastore.catalog.dispatch import JOB_RUN_TASK, SendTask, enqueue_started, on_job_run_ended
from metastore.catalog.jobs import FAILED, STOPPED, STOPPING, SUCCEEDED, TIMEOUT, Job, JobRun
from metastore.config import Settings
from runner.jobs.logship import LogShipper
from runner.jobs.pool import (
    ROOT,
    JobUser,
    WarmPool,
    kill_tree,
    read_started,
    remove_dir,
    runs_root,
    set_parent_death_signal,
    size_for_memory,
)

log = logging.getLogger(__name__)

SHUTDOWN = threading.Event()  # set by the jobs worker when it is told to stop: runs under way end FAILED
SHUTDOWN_ERROR = "the worker was shut down during the run"


def metastore_uri(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return settings.metastore_uri or f"thrift://{host}:{settings.port}"


def default_master() -> str:
    return Settings.load().job_master


def heartbeat_s() -> float:
    return Settings.load().job_heartbeat_s


def logs_dir(settings: Settings) -> Path:
    path = Path(settings.data_dir).absolute() / "job-logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(settings: Settings, run_id: int) -> Path:
    return logs_dir(settings) / f"{run_id}.log"


def job_user(settings: Settings) -> JobUser | None:
    """The OS user drivers run as (None: the worker's). Raises if it is set but cannot be used (no such
    user, or this worker is not root); otherwise, makes the data dir reachable by root alone."""
    user = JobUser.named(settings.job_os_user)
    if user is not None:
        data_dir = Path(settings.data_dir).absolute()
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
    return user


def base_spark_conf(settings: Settings, master: str | None = None) -> dict[str, str]:
    """What every driver's SparkSession starts with: the metastore and warehouse, a local master."""
    return {
        "spark.master": master or default_master(),
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": metastore_uri(settings),
        "spark.sql.warehouse.dir": settings.warehouse,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def catalog_env(settings: Settings) -> dict[str, str]:
    """What a driver is told of the catalog: the metastore's Thrift address, nothing else. Its credential
    (MORTAR_RUN_CREDENTIAL) is added per driver; the storage URL and every other setting never are."""
    return {"MORTAR_METASTORE_URI": metastore_uri(settings)}


def driver_env(settings: Settings, *extra: dict[str, str]) -> dict[str, str]:
    """A driver's environment: the worker's without any MORTAR_* variable (the storage URL, the broker's,
    the configuration file, key files), then the catalog's address and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MORTAR_")}
    env.update(catalog_env(settings))
    for e in extra:
        env.update(e)
    return env


def make_pool(settings: Settings, size: int | None = None, service: CatalogService | None = None) -> WarmPool | None:
    """The warm pool of this worker process; `service` issues and revokes the drivers' credentials (by
    default a catalog opened from `settings`)."""
    size = size_for_memory(settings.job_warm_pool if size is None else size, settings.job_driver_memory_mb)
    if size <= 0:
        return None
    user = job_user(settings)  # a worker that cannot start drivers as job_os_user starts no pool
    if service is None:
        service = CatalogService.open(settings.database_url, settings.warehouse)
    pool = WarmPool(size, base_spark_conf(settings), driver_env(settings),
                    str(logs_dir(settings) / f"warm-pool-{os.getpid()}.log"), access=service.access,
                    user=user, max_runs=settings.job_driver_max_runs,
                    driver_mb=settings.job_driver_memory_mb)  # fmt: skip
    pool.warmup_limit_s = settings.job_startup_timeout_s
    pool.fill()
    return pool


def _session_level(key: str) -> bool:
    """Whether a Spark setting can be set on a session of a running SparkContext."""
    return key.startswith("spark.sql.") and not key.startswith("spark.sql.catalogImplementation") \
        and not key.startswith("spark.sql.warehouse")  # fmt: skip


def job_identity(job: Job) -> str:
    """Who a run of `job` acts as, for the warm pool: a driver that served a run of one job serves runs of
    that job only. A run's credential acts as run:<id>, with what every run may do plus what its job
    allows (the connections it lists, its bookmarks, its workflow run's properties): so runs of one job
    are one identity, and a job deleted and created again under its name is another."""
    return f"{job.name}@{job.created_at}"


def can_run_warm(job: Job, pool: WarmPool | None) -> bool:
    return cold_reason(job, pool) is None


def cold_reason(job: Job, pool: WarmPool | None) -> str | None:
    """Why a run of `job` cannot take a warm driver of `pool` (None: it can)."""
    if job.job_type != "spark":
        return f"a {job.job_type} job runs in a plain Python process"
    if pool is None or pool.size <= 0:
        return "this worker has no warm pool (job_warm_pool is 0, or the pool could not start)"
    if (job.master or default_master()) != pool.master:
        return f"the job's master {job.master} is not the warm pool's {pool.master}"
    context = sorted(k for k in job.spark_conf if not _session_level(k))
    if context:
        return f"the job sets SparkContext-level settings ({', '.join(context)})"
    if not pool.healthy():
        return "the warm pool's drivers keep failing to start (see the worker's warm-pool log)"
    return None


@dataclass
class Outcome:
    run_id: int
    state: str
    error: str | None
    warm: bool


def execute_run(service: CatalogService, run_id: int, settings: Settings, send_task: SendTask,
                pool: WarmPool | None = None) -> Outcome:  # fmt: skip
    """Execute STARTING run `run_id` here, to its end. A run another worker took, or that was stopped
    before it started, is left alone (state returned as found)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        run, job = service.jobs.claim_run(run_id, worker)
    except (Conflict, NotFound) as e:
        log.info("run %s not executed: %s", run_id, e)
        try:
            current = service.jobs.get_run(run_id)
            return Outcome(run_id, current.state, current.error, False)
        except NotFound:
            return Outcome(run_id, "NOT_FOUND", str(e), False)
    try:
        state, error, warm = _supervise(service, run, job, settings, pool)
    except Exception as e:  # noqa: BLE001 - a failure to start the driver ends the run, not the worker
        log.exception("run %d of job %s could not be executed", run_id, job.name)
        state, error, warm = "ERROR", f"{type(e).__name__}: {e}", False
    try:
        finished = service.jobs.finish_run(run_id, state, error)
    except Conflict as e:  # ended meanwhile (failed as stale while this worker was unreachable)
        log.warning("run %d: %s", run_id, e)
        current = service.jobs.get_run(run_id)
        return Outcome(run_id, current.state, current.error, warm)
    enqueue_started(finished.started, send_task)
    try:
        on_job_run_ended(service, finished.run, send_task)
    except Exception:  # noqa: BLE001 - the run's outcome is recorded; a trigger failure is logged
        log.exception("triggers after run %d of job %s failed", run_id, job.name)
    log.info("run %d of job %s: %s%s", run_id, job.name, finished.run.state,
             f" ({finished.run.error})" if finished.run.error else "")  # fmt: skip
    return Outcome(run_id, finished.run.state, finished.run.error, warm)


def _request(run: JobRun, job: Job, workdir: Path, logfile: Path) -> dict:
    script = workdir / "script.py"
    script.write_text(job.script, encoding="utf-8")
    os.chmod(script, 0o644)
    argv = ["--JOB_NAME", job.name, "--JOB_RUN_ID", str(run.id)]
    if run.workflow_run_id is not None:
        argv += ["--WORKFLOW_RUN_ID", str(run.workflow_run_id)]
    for k, v in run.arguments.items():
        argv += [k, v]
    return {
        "run_id": run.id,
        "job_type": job.job_type,
        "script_path": str(script),
        "argv": argv,
        "log_path": str(logfile),
        "error_path": str(workdir / "error.txt"),
        "session_conf": dict(job.spark_conf),
        "env": {
            "MORTAR_JOB_RUN_ID": str(run.id),
            "MORTAR_JOB_NAME": job.name,
            "MORTAR_JOB_BOOKMARK": job.bookmark,
            "MORTAR_JOB_ATTEMPT": str(run.attempt),
            "MORTAR_WORKFLOW_RUN_ID": str(run.workflow_run_id or ""),
            "MORTAR_JOB_CONNECTIONS": json.dumps(job.connections),
        },  # fmt: skip
    }


def _supervise(service: CatalogService, run: JobRun, job: Job, settings: Settings,
               pool: WarmPool | None) -> tuple[str, str | None, bool]:  # fmt: skip
    user = job_user(settings)  # raises (the run fails) if drivers cannot run as job_os_user
    rundir = None
    if user is None:
        workdir = logs_dir(settings) / f"{run.id}.d"
        workdir.mkdir(exist_ok=True)
        logfile = log_path(settings, run.id)
    else:
        workdir = rundir = Path(tempfile.mkdtemp(prefix=f"run-{run.id}-", dir=runs_root()))
        os.chmod(rundir, 0o711)  # the driver enters it, to the files it is told of
        logfile = rundir / "run.log"
    try:
        request = _request(run, job, workdir, logfile)
        with open(logfile, "w", encoding="utf-8") as f:  # a run is executed once: a file left here is stale
            f.write(
                f"# run {run.id} of job {job.name}, attempt {run.attempt}, script version {job.script_version}\n"
            )
        if user is not None:  # the driver writes these two (it cannot replace them: the folder is root's)
            Path(request["error_path"]).touch()
            for name in (logfile, request["error_path"]):
                os.chown(name, user.uid, user.gid)
            request["home"] = str(user.private_dir("home-", workdir))
        shipper = LogShipper(service, run.id, logfile)
        shipper.ship()
        try:
            return _drive(service, run, job, settings, pool, request, shipper, user)
        except Exception as e:
            _note(logfile, f"the run could not be executed: {type(e).__name__}: {e}")
            raise
        finally:
            _revoke(service, run.id)  # the driver is gone (or killed): its credential ends with the run
            shipper.close()  # after the notes of a timeout or stop: all of it is in the catalog before the end
    finally:
        remove_dir(rundir)


def _drive(service: CatalogService, run: JobRun, job: Job, settings: Settings, pool: WarmPool | None,
           request: dict, shipper: LogShipper, user: JobUser | None) -> tuple[str, str | None, bool]:  # fmt: skip
    started = time.time()
    reason, driver = cold_reason(job, pool), None
    if reason is None:  # the jobs worker fetched the run with a driver READY: normally taken at once
        wait_s = Settings.load().job_warm_wait_s
        driver = pool.take(job_identity(job), wait_s)
        if driver is None:
            reason = f"no warm driver of this worker was ready within job_warm_wait_s ({wait_s:g} s)"
    if reason is not None and job.job_type == "spark":
        _note(request["log_path"], f"cold start: {reason}")
    result = None
    try:
        result = _watch(service, run, job, settings, request, shipper, driver, started, user)
        return result
    finally:
        if driver is not None:  # kept for the job's next run, or retired
            pool.give_back(driver, result[0] if result else None)


def _watch(service: CatalogService, run: JobRun, job: Job, settings: Settings, request: dict,
           shipper: LogShipper, driver, started: float, user: JobUser | None) -> tuple[str, str | None, bool]:  # fmt: skip
    """Start the run in `driver` (warm) or a new cold driver, and watch it to its end."""
    workdir = Path(request["error_path"]).parent
    logfile = Path(request["log_path"])
    warm = driver is not None
    status_r = None
    if warm:
        if driver.credential:  # bound before the request: the run's first call already acts as the run
            service.access.bind_run_credential(driver.credential, run.id, reopen=driver.runs > 0)
        _note(logfile, f"warm driver {driver.pid}, its run {driver.runs + 1}"
                       f"{' (reused: it served this job before)' if driver.runs else ''}")  # fmt: skip
        proc = driver.submit(request)
        started_ = proc.started
    else:
        status_r, status_w = os.pipe()
        request = {**request, "status_fd": status_w}
        started_ = lambda timeout: read_started(status_r, timeout)  # noqa: E731
        (workdir / "request.json").write_text(json.dumps(request), encoding="utf-8")
        conf = {**base_spark_conf(settings, job.master), **job.spark_conf}
        credential = service.access.new_run_credential()
        service.access.bind_run_credential(credential, run.id)
        env = driver_env(settings, request["env"], {"MORTAR_JOB_SPARK_CONF": json.dumps(conf),
                                                     "MORTAR_RUN_CREDENTIAL": credential})  # fmt: skip
        as_user = {}
        if user is not None:
            os.chmod(workdir / "request.json", 0o644)
            env.update(user.env(Path(request["home"])))
            as_user = user.popen_args()
        try:
            with open(logfile, "ab") as out:  # opened here: the driver's output needs no path of its own
                proc = subprocess.Popen([sys.executable, "-m", "runner.jobs.driver", "--request", str(workdir / "request.json")],
                                        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        preexec_fn=set_parent_death_signal, pass_fds=(status_w,), **as_user)  # fmt: skip
        finally:
            os.close(status_w)
    try:
        return _follow(service, run, job, settings, proc, started_, shipper, logfile, request, warm, started)
    finally:
        if status_r is not None:
            os.close(status_r)


def _follow(service: CatalogService, run: JobRun, job: Job, settings: Settings, proc,
            script_started, shipper: LogShipper, logfile: Path, request: dict, warm: bool,
            started: float) -> tuple[str, str | None, bool]:  # fmt: skip
    """Watch the driver of a run to its end: its script's start (`script_started(timeout)`: the timeout
    counts from there), start-up's own limit, heartbeats (a stop asked), the worker's shutdown. `proc`: the
    cold driver's process, or the warm driver's WarmRun (the same `pid` and `wait`); killing it kills the
    driver's whole process tree (a warm driver is then retired, not reused)."""
    log.info(
        "run %d of job %s started in %s driver %d", run.id, job.name, "a warm" if warm else "a cold", proc.pid
    )
    beat = heartbeat_s()
    next_beat = time.time() + beat
    startup_limit = started + Settings.load().job_startup_timeout_s
    running, deadline = False, None
    while True:
        if not running and script_started(0.1):
            running = True
            if job.timeout_s:
                deadline = time.time() + job.timeout_s
            try:
                service.jobs.script_started(run.id, warm)
            except Exception:  # noqa: BLE001 - the timeline misses a point; the run goes on
                log.exception("run %d: the script's start could not be recorded", run.id)
        try:
            code = proc.wait(timeout=min(0.2, beat))
            break
        except subprocess.TimeoutExpired:
            pass
        shipper.maybe_ship()
        now = time.time()
        if SHUTDOWN.is_set():
            killed = kill_tree(proc.pid)
            proc.wait()
            _note(logfile, f"{SHUTDOWN_ERROR}: killed processes {killed}")
            return FAILED, SHUTDOWN_ERROR, warm
        if not running and now >= startup_limit:
            killed = kill_tree(proc.pid)
            proc.wait()
            limit = Settings.load().job_startup_timeout_s
            _note(logfile, f"the driver did not start the script within {limit:g} s: killed processes {killed}")
            return FAILED, f"the driver did not start the script within job_startup_timeout_s ({limit:g} s)", warm
        if deadline is not None and now >= deadline:
            killed = kill_tree(proc.pid)
            proc.wait()
            _note(logfile, f"timed out after {job.timeout_s} s: killed processes {killed}")
            return TIMEOUT, f"the run exceeded its timeout of {job.timeout_s} s", warm
        if now >= next_beat:
            next_beat = now + beat
            try:
                state = service.jobs.heartbeat_run(run.id)
            except Conflict as e:  # ended elsewhere (failed as stale): stop working on it
                kill_tree(proc.pid)
                proc.wait()
                return FAILED, str(e), warm
            except Exception:  # noqa: BLE001 - the catalog may be briefly unreachable: keep running
                log.exception("heartbeat of run %d failed", run.id)
                continue
            if state == STOPPING:
                killed = kill_tree(proc.pid)
                proc.wait()
                _note(logfile, f"stopped: killed processes {killed}")
                return STOPPED, None, warm
    error_file = Path(request["error_path"])
    if code == 0:
        return SUCCEEDED, None, warm
    error = ""
    if error_file.exists():
        with open(error_file, "rb") as f:  # written by the driver: no more than a summary is read
            error = f.read(64 * 1024).decode("utf-8", errors="replace").strip()
    return FAILED, error or f"the driver exited with code {code}", warm


def _revoke(service: CatalogService, run_id: int) -> None:
    try:
        service.access.revoke_run_credentials(run_id=run_id)
    except Exception:  # noqa: BLE001 - logged; the credential is also refused once the run has ended
        log.exception("the credentials of run %d could not be revoked", run_id)


def _note(logfile: Path, text: str) -> None:
    with open(logfile, "a", encoding="utf-8") as f:
        f.write(f"# {text}\n")


def recover_stale_runs(service: CatalogService, send_task: SendTask, older_than_s: float) -> list:
    """End the runs whose worker stopped heartbeating (FAILED, or STOPPED if a stop was asked), enqueue
    their retries and the WAITING runs they free, and evaluate downstream triggers; enqueue again the
    STARTING runs no worker took for the job_requeue_s setting (default 600 s)."""
    # STARTING runs nobody took for long (a task lost with a broker, or never sent): enqueued again
    requeue_s = Settings.load().job_requeue_s
    for run in service.jobs.unclaimed_runs(requeue_s):
        log.warning("run %d of job %s was not taken for %.0f s: enqueued again", run.id, run.job, requeue_s)
        send_task(JOB_RUN_TASK, [run.id])
    finished = service.jobs.mark_stale_runs(older_than_s)
    for f in finished:
        log.warning("run %d of job %s: %s", f.run.id, f.run.job, f.run.error)
        _revoke(service, f.run.id)  # its worker died: a driver that outlived it can do nothing more
        enqueue_started(f.started, send_task)
        try:
            on_job_run_ended(service, f.run, send_task)
        except Exception:  # noqa: BLE001
            log.exception("triggers after run %d failed", f.run.id)
    return finished
