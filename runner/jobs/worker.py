"""The jobs worker: `python -m runner.jobs.worker`, started by every `mortar worker` next to its Celery
worker (which runs crawls), and stopped with it.

It owns the worker's warm pool (started at once, so the first run after `mortar up` is warm) and executes
job runs in threads, each supervising its driver process. Runs are Celery messages (tasks runner.job_run
and runner.job_start, routed to the queue JOBS_QUEUE; one sent to the default queue is forwarded there by
the Celery worker), but this worker fetches one (basic_get) only when it can serve it at once: a thread is
free and a READY driver is not kept for another run — or it has no usable pool, and runs cold. A READY
driver that served another job cannot take the run (pool.py): the run goes back to the queue, and a
worker without a fresh driver retires its least recently used one so that a fresh one warms up. So a run
waits in the broker rather than on a worker whose driver is still warming, and goes to whichever worker has
one idle. While its drivers warm, it looks at the next run once a second: one that runs cold anyway
(pythonshell, its own master or SparkContext settings) it executes at once, one that wants a warm driver
goes back to the queue. A message is acknowledged when its run has ended (acks late); the run's state in the catalog
says what happened, so a message delivered again is left alone (claim_run).

Told to stop (SIGTERM/SIGINT), it fetches nothing more, ends its runs under way FAILED ("the worker was
shut down during the run"; retried if the job has retries left) and stops its drivers. Killed outright,
its runs are failed as stale by the scheduler (job_stale_s) and retried likewise.

Settings: worker_concurrency (runs at once), job_warm_pool, job_driver_memory_mb, job_driver_max_runs,
broker_url.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from celery import signals

log = logging.getLogger(__name__)

JOBS_QUEUE = "mortar.jobs"
TASKS = ("runner.job_run", "runner.job_start")
POLL_S = 0.05  # how often the broker is asked for a run while this worker could serve one
IDLE_POLL_S = 0.2  # after IDLE_AFTER empty asks in a row (the embedded broker is a SQLite file)
IDLE_AFTER = 200


def hide_process() -> None:
    """Make this process non-dumpable (Linux prctl PR_SET_DUMPABLE 0): other processes of the same OS user,
    such as job drivers' user code, can then neither read its /proc/<pid>/environ (the storage URL may be
    there) and memory nor ptrace it. Drivers are exec'd, so they are dumpable again, which is harmless."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


class JobsWorker:
    def __init__(self, concurrency: int | None = None):
        from runner.celery_app import app
        from runner.jobs.execute import make_pool
        from runner.tasks import catalog

        self.app = app
        self.settings = app.conf.mortar_settings
        self.slots = max(1, concurrency or self.settings.worker_concurrency)
        self.service = catalog()
        self.done: queue.Queue = queue.Queue()  # messages whose run ended: acked by the loop's thread
        self.threads: dict[str, threading.Thread] = {}
        self.stopping = threading.Event()
        self.pool = None
        self.ready_marker: Path | None = None  # written once a driver is READY: `mortar up` says so
        try:
            self.pool = make_pool(self.settings, service=self.service)
        except Exception:  # noqa: BLE001 - without a pool, runs go cold (and their logs say why)
            log.exception("the warm pool could not start")
        if self.pool is not None:
            log.info("jobs worker %d: warm pool of %d driver(s) on %s starting", os.getpid(), self.pool.size,
                     self.pool.master)  # fmt: skip

    def can_fetch(self) -> bool:
        """A thread is free and a driver is READY for the run (or there is no usable pool: runs go cold)."""
        if len(self.threads) >= self.slots:
            return False
        if self.pool is None or not self.pool.healthy():
            return True
        return self.pool.ready_count() > 0

    def needs_warm(self, task: str, args: list) -> tuple[bool, str | None]:
        """Whether the run of this message would take a warm driver (a run that ends up cold anyway, or is
        not to be executed any more, needs none), and its job's identity (execute.job_identity): a driver
        that served another job's runs cannot take it."""
        from runner.jobs.execute import cold_reason, job_identity

        try:
            if task == "runner.job_start":
                job = self.service.jobs.get(args[0])
            else:
                run = self.service.jobs.get_run(int(args[0]))
                if run.state != "STARTING":
                    return False, None
                job = self.service.jobs.get(run.job)
        except Exception:  # noqa: BLE001 - not found, or unreadable: the run's thread says what happened
            return False, None
        return cold_reason(job, self.pool) is None, job_identity(job)

    def run_forever(self) -> None:
        from kombu import Connection, Exchange, Queue

        jobs = Queue(JOBS_QUEUE, Exchange(JOBS_QUEUE, "direct"), routing_key=JOBS_QUEUE)
        while not self.stopping.is_set():
            try:
                with Connection(
                    self.settings.broker_url, transport_options=self.app.conf.broker_transport_options
                ) as conn:
                    channel = conn.channel()
                    q = jobs(channel)
                    q.declare()
                    log.info("jobs worker %d: fetching runs from queue %s", os.getpid(), JOBS_QUEUE)
                    self._loop(q)
            except Exception:  # noqa: BLE001 - the broker went away: try again in a while
                if self.stopping.is_set():
                    break
                log.exception("jobs worker: broker connection lost; retrying")
                self._tick()
                time.sleep(2)
        self._shutdown()

    def _loop(self, q) -> None:
        """Fetch a run when a driver is READY for it. Meanwhile (a slot free, drivers warming) look at the
        next run once a second: one that runs cold anyway (pythonshell, its own master or SparkContext
        settings) is executed at once; one that wants a warm driver goes back to the head of the queue, for
        a worker that has one READY for it (or for this one when its driver is). A READY driver that served
        another job's runs is not READY for it: the run goes back likewise, and, if this worker has no fresh
        driver, its least recently used one is retired for a fresh one to warm up (WarmPool.want_fresh)."""
        empty, peek_at, hold = 0, 0.0, None
        while not self.stopping.is_set():
            self._tick()
            ready = self.can_fetch()
            if ready and hold is not None:  # the run at the head wants a driver this worker has not READY
                if self.pool.changed == hold[0] and time.time() < hold[1]:
                    ready = False
                else:
                    hold = None
            peek = not ready and len(self.threads) < self.slots and time.time() >= peek_at
            message = q.get(no_ack=False, accept=["json"]) if ready or peek else None
            if message is None:
                empty += 1
                time.sleep(POLL_S if empty < IDLE_AFTER else IDLE_POLL_S)
                continue
            empty = 0
            task, args = self._decode(message)
            if task is None:
                continue
            warm, identity = self.needs_warm(task, args) if self.pool is not None else (False, None)
            thread = threading.Thread(target=self._execute, args=(task, args, message), daemon=True)
            if warm and not (ready and self.pool.reserve(thread.name, identity)):
                message.requeue()
                if ready:  # READY drivers, all of them used by other jobs
                    self.pool.want_fresh()
                    hold = (self.pool.changed, time.time() + 1.0)
                peek_at = time.time() + 1.0
                continue
            self._dispatch(thread)

    def _tick(self) -> None:
        """Ack the messages of ended runs; keep the pool full (drivers are started from this thread only)."""
        while True:
            try:
                name, message = self.done.get_nowait()
            except queue.Empty:
                break
            self.threads.pop(name, None)
            try:
                message.ack()
            except Exception:  # noqa: BLE001 - the run has ended; the catalog leaves a redelivery alone
                log.warning("a message could not be acknowledged", exc_info=True)
        if self.pool is not None:
            self.pool.fill()
            if self.ready_marker is None and self.pool.ready_count() > 0:
                self._mark_ready()

    def _mark_ready(self) -> None:
        """<data_dir>/run/warm-<host>-<pid>: this worker has a warm driver READY (removed when it stops)."""
        marker = Path(self.settings.data_dir) / "run" / f"warm-{socket.gethostname()}-{os.getpid()}"
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{time.time():.3f}\n")
        except OSError:
            log.warning("the ready marker %s could not be written", marker, exc_info=True)
        self.ready_marker = marker

    @staticmethod
    def _decode(message) -> tuple[str | None, list]:
        task = message.headers.get("task")
        try:
            args = message.decode()[0]
        except Exception:  # noqa: BLE001
            args = None
        if task not in TASKS or not isinstance(args, list) or not args:
            log.error("jobs worker: message %r with arguments %r rejected", task, args)
            message.reject()
            return None, []
        return task, args

    def _dispatch(self, thread: threading.Thread) -> None:
        """Start the run's thread (its READY driver, if it takes one, is kept for it)."""
        self.threads[thread.name] = thread
        thread.start()

    def _execute(self, task: str, args: list, message) -> None:
        from metastore.catalog import Conflict
        from runner.jobs.execute import execute_run
        from runner.tasks import _send

        name = threading.current_thread().name
        try:
            if task == "runner.job_start":
                job, arguments = args[0], (args[1] if len(args) > 1 else None)
                try:
                    run = self.service.jobs.start_run(job, arguments)
                except Conflict as e:
                    log.info("job %s not started: %s", job, e)
                    return
                if run.state != "STARTING":
                    return
                args = [run.id]
            execute_run(self.service, int(args[0]), self.settings, _send, self.pool)
        except Exception:  # noqa: BLE001 - logged; the run's state is in the catalog
            log.exception("jobs worker: %s %s failed", task, args)
        finally:
            if self.pool is not None:
                self.pool.release(name)
            self.done.put((name, message))

    def stop(self, *_) -> None:
        from runner.jobs.execute import SHUTDOWN

        self.stopping.set()
        SHUTDOWN.set()

    def _shutdown(self) -> None:
        deadline = time.time() + 30
        for t in list(self.threads.values()):
            t.join(max(0.0, deadline - time.time()))
        if self.pool is not None:
            self.pool.shutdown()
        if self.ready_marker is not None:
            self.ready_marker.unlink(missing_ok=True)


def main() -> None:
    logging.basicConfig(level=os.environ.get("MORTAR_JOBS_LOGLEVEL", "INFO"),
                        format=f"[%(asctime)s: %(levelname)s/jobs-worker {socket.gethostname()}:%(process)d] %(message)s")  # fmt: skip
    hide_process()
    worker = JobsWorker(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run_forever()


# --- started by the Celery worker ----------------------------------------------------------------------

_jobs_worker: subprocess.Popen | None = None


@signals.worker_init.connect
def _start_jobs_worker(sender=None, **_) -> None:
    """The Celery worker (main process) starts its jobs worker; it dies with it (PR_SET_PDEATHSIG)."""
    global _jobs_worker
    from runner.jobs.pool import ROOT, set_parent_death_signal

    hide_process()
    concurrency = getattr(sender, "concurrency", None) or ""
    _jobs_worker = subprocess.Popen([sys.executable, "-m", "runner.jobs.worker", str(concurrency)][:4 if concurrency else 3],
                                    cwd=ROOT, preexec_fn=set_parent_death_signal)  # fmt: skip


@signals.worker_process_init.connect
def _hide_child(**_) -> None:
    hide_process()


@signals.worker_shutdown.connect
def _stop_jobs_worker(**_) -> None:
    if _jobs_worker is not None and _jobs_worker.poll() is None:
        _jobs_worker.terminate()
        try:
            _jobs_worker.wait(40)
        except subprocess.TimeoutExpired:
            from runner.jobs.pool import kill_tree

            kill_tree(_jobs_worker.pid)


if __name__ == "__main__":
    main()
