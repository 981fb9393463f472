"""The driver process of a job run: `python -m runner.jobs.driver`.

Cold (`--request FILE`): a fresh Python process that builds its SparkSession (for a spark job) and runs
the script, then exits. Warm (`--warm`): builds a SparkSession pointed at the metastore and warms it up (a
catalog call loads the Hive client, a small query compiles the usual plans; `awsglue` and `mortar_job`
are imported), prints READY, then serves run requests, one JSON line each on stdin, one at a time, for
the runs of ONE job (the pool gives a used driver only runs of the job it served: see pool.py). Each
run executes in a child process forked from this one (a zygote): the child inherits the imported
modules, the JVM and its SparkContext, opens its own py4j connections and accumulator server, and runs
the script in a fresh session (`newSession()`: its own SQL conf, temporary views and functions) with its
own argv and environment; whatever Python state the script leaves dies with the child. The driver waits
for the child and never talks to the JVM meanwhile; then it kills what the child left running (it is
their subreaper), cancels leftover Spark jobs, clears the cached data and global temporary views, says
`DONE <code>` and READY again. It exits (and is replaced) when its SparkContext was stopped or stdin
closes; the worker retires it after a failed run, a timeout or a stop, after job_driver_max_runs runs, or
under memory pressure (pool.py).

Output, Python's and the JVM's (log4j), goes to the run's log through the driver's output forwarder
(runner/jobs/output.py) while a run executes; before and after, to the pool's log.

The Spark settings come as JSON in MORTAR_JOB_SPARK_CONF (with `spark.master`). The driver never sees the
catalog's storage: it has the metastore's Thrift address (MORTAR_METASTORE_URI) and its own credential
(MORTAR_RUN_CREDENTIAL), which the worker binds to each run it gives the driver and revokes when that run
ends (bound again for the next run: the metastore looks it up at every call). Spark's Hive client presents
it: the Hadoop login user is made a user whose groups hold it, and Hive's client sends set_ugi(user,
groups) when it connects; the `mortar_job` helpers send it likewise.
"""

from __future__ import annotations

import collections
import json
import os
import runpy
import sys
import threading
import traceback

READY = b"READY\n"
STARTED = b"RUNNING\n"  # the script starts (issue 15)
DONE = b"DONE"  # a warm driver's run ended: b"DONE <exit code>\n"
GLUE_LIBS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "glue")  # holds `awsglue` (issue 13)


def add_glue_libs() -> None:
    """Make `awsglue` importable by scripts (and by Spark's Python workers, which inherit PYTHONPATH)."""
    if GLUE_LIBS not in sys.path:
        sys.path.insert(0, GLUE_LIBS)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if GLUE_LIBS not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([GLUE_LIBS, *paths])


def build_session(conf: dict | None = None):
    """A SparkSession with `conf` (default: MORTAR_JOB_SPARK_CONF), Hive support on."""
    from pyspark.sql import SparkSession

    conf = dict(conf if conf is not None else json.loads(os.environ.get("MORTAR_JOB_SPARK_CONF", "{}")))
    conf.setdefault("spark.hadoop.hive.metastore.execute.setugi", "true")  # Hive's client sends set_ugi
    builder = SparkSession.builder.appName(conf.pop("spark.app.name", "mortar-job"))
    for k, v in conf.items():
        builder = builder.config(k, v)
    session = builder.enableHiveSupport().getOrCreate()
    present_credential(session, os.environ.get("MORTAR_RUN_CREDENTIAL"))
    return session


def present_credential(session, credential: str | None) -> None:
    """Make the JVM's Hadoop login user one whose groups are [credential], before the Hive client exists
    (it is created on the first catalog call): Hive 2.3's HiveMetaStoreClient sends
    set_ugi(user, groups) of the current user when it connects, and the metastore takes a group of the form
    mortar-run.<hex> as the run's credential. Spark shares org.apache.hadoop.* classes (not Hive's) with
    its isolated Hive client loader, so the Hive client sees this login user."""
    if not credential:
        return
    jvm = session._jvm
    ugi_class = jvm.org.apache.hadoop.security.UserGroupInformation
    user = ugi_class.getCurrentUser().getShortUserName()
    groups = session._sc._gateway.new_array(jvm.java.lang.String, 1)
    groups[0] = credential
    ugi_class.setLoginUser(ugi_class.createUserForTesting(user, groups))


def fresh_session(base):
    """A new session over `base`'s SparkContext (separate SQL conf, temporary views and UDFs), made the
    default and active one, so that `SparkSession.builder.getOrCreate()` in a script returns it."""
    from pyspark.sql import SparkSession

    session = base.newSession()
    SparkSession._instantiatedSession = session
    SparkSession._activeSession = session
    try:
        jclass = SparkSession._get_j_spark_session_class(session._jvm)
        jclass.setDefaultSession(session._jsparkSession)
        jclass.setActiveSession(session._jsparkSession)
    except Exception:  # noqa: BLE001 - the Python side is what scripts use
        pass
    return session


def _is_file(fd: int, st: os.stat_result) -> bool:
    try:
        own = os.fstat(fd)
    except OSError:
        return False
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def _redirect(log_path: str) -> None:
    """Fds 1 and 2 to the run's log: a cold driver has them already (opened by the worker), else the file
    is opened by its path."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        st = os.stat(log_path)
    except OSError:
        st = None
    if st is None or not (_is_file(1, st) and _is_file(2, st)):
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115


def run(request: dict, session=None, warm: bool = False, status_fd: int | None = None) -> int:
    """Run one script as `request` says; returns the exit code (0: succeeded). The error summary of a
    failure goes to request["error_path"], the traceback to the log. `warm`: in a child of a warm driver,
    whose fds 1 and 2 the driver already forwards to the run's log; it says RUNNING on `status_fd`."""
    if not warm:
        _redirect(request["log_path"])
    os.environ.update(request.get("env", {}))
    sys.argv = [request["script_path"], *request.get("argv", [])]
    from runner.jobs import context

    if session is not None:
        if warm:  # a cold driver's session was built with the job's conf already
            for k, v in request.get("session_conf", {}).items():
                session.conf.set(k, v)
        context._session = session
    init = {"spark": session} if session is not None else {}
    code, error = 0, None
    _started(status_fd if warm else request.get("status_fd"))
    try:
        runpy.run_path(request["script_path"], init_globals=init, run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            code = e.code if isinstance(e.code, int) else 1
            error = f"the script exited with {e.code}"
    except BaseException as e:  # noqa: BLE001 - everything the script raises is its failure
        traceback.print_exc()
        code = 1
        error = f"{type(e).__name__}: {e}".strip()
        error = error.splitlines()[0] if error else type(e).__name__
    if error is not None:
        try:
            with open(request["error_path"], "w", encoding="utf-8") as f:
                f.write(error)
        except OSError:
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _started(fd: int | None) -> None:
    """Tell the worker that the script starts now (its timeout counts from here): RUNNING on the warm
    driver's pipe to the pool, or on the status fd the worker gave a cold driver."""
    if fd is None:
        return
    try:
        os.write(fd, STARTED)
        os.close(fd)
    except OSError:
        pass


def _exercise(spark) -> None:
    """Run once what most jobs run (a shuffle, a Parquet write and read), so that the JVM has loaded and
    compiled it before a run needs it: the first query of a fresh driver is several times slower."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="mortar-warm-")
    try:
        df = spark.range(100).selectExpr("id % 3 AS k", "id AS v").groupBy("k").count()
        df.write.mode("overwrite").partitionBy("k").parquet(folder)
        spark.read.parquet(folder).collect()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_INHERITED: list = []  # what a forked child must keep referenced, never close (see _own_connections)


def _own_connections(sc) -> None:
    """(in a forked child) Talk to the JVM over py4j connections of its own: the parent's stay the
    parent's. Their socket objects are kept referenced, never closed (py4j shuts a connection's socket
    down when the object dies, which would cut the parent's), and the child leaves with os._exit. The
    objects the child lets go are released by a finalizer thread of its own (the parent's thread does not
    exist here)."""
    from py4j.finalizer import ThreadSafeFinalizer
    from pyspark import SparkContext

    # the JVM objects the parent holds are the parent's: their finalizers are dropped here (a weak
    # reference that dies calls nothing), so that an object the child lets go is not released in the JVM
    ThreadSafeFinalizer.finalizers = {}
    ThreadSafeFinalizer.lock = threading.RLock()  # locks a parent's thread might have held at the fork
    SparkContext._lock = threading.RLock()
    client = sc._gateway._gateway_client
    _INHERITED.append((client.deque, getattr(client, "thread_connection", None)))
    client.deque = collections.deque()
    if hasattr(client, "thread_connection"):  # pinned threads (py4j ClientServer, PySpark's default)
        client.thread_connection = threading.local()
    if getattr(client, "finalizer_deque", None) is not None:
        from py4j.clientserver import FinalizerWorker

        _INHERITED.append(client.finalizer_deque)
        client.finalizer_deque = collections.deque()
        worker = FinalizerWorker(client.finalizer_deque)
        worker.daemon = True
        worker.start()


def _own_accumulators(sc) -> None:
    """(in a forked child) Accumulator updates come to a server of the child's: the parent's server thread
    does not exist in the child, and updates must reach the child's accumulators. Tasks the child starts
    carry the new JVM accumulator (sc._javaAccumulator), which reports to it."""
    from pyspark import accumulators

    token = sc._gateway.gateway_parameters.auth_token
    _INHERITED.append((sc._accumulatorServer, sc._javaAccumulator))
    server = accumulators._start_update_server(token, False, None)
    host, port = server.server_address
    sc._accumulatorServer = server
    sc._javaAccumulator = sc._jvm.PythonAccumulatorV2(host, port, token)
    sc._jsc.sc().register(sc._javaAccumulator)


def _keep_context() -> None:
    """(in a forked child) `spark.stop()` and `sc.stop()` leave the shared SparkContext running: scripts
    often end with them, and the driver serves the next run."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    SparkContext.stop = lambda self: None
    SparkSession.stop = lambda self: None


def _release_objects(sc, limit_s: float = 1.0) -> None:
    """(in a forked child, at its end) Release in the JVM the objects the child made (py4j keeps each one
    referenced until Python lets it go, and os._exit lets nothing go), for up to `limit_s`: what is left
    stays until the driver is retired (job_driver_max_runs)."""
    import time

    from py4j.finalizer import ThreadSafeFinalizer

    client = sc._gateway._gateway_client
    prefix = str(client.address) + str(client.port)
    deadline = time.monotonic() + limit_s
    for key in list(ThreadSafeFinalizer.finalizers):
        if time.monotonic() > deadline:
            break
        if isinstance(key, str) and key.startswith(prefix):
            try:
                if hasattr(client, "finalizer_deque"):
                    client.garbage_collect_object(key[len(prefix) :], enqueue=False)
                else:
                    client.garbage_collect_object(key[len(prefix) :])
            except Exception:  # noqa: BLE001 - best effort
                break


def _child(spark, request: dict, status_fd: int) -> int:
    sc = spark.sparkContext
    _own_connections(sc)
    _own_accumulators(sc)
    _keep_context()
    code = run(request, fresh_session(spark), warm=True, status_fd=status_fd)
    _tidy(spark)
    _release_objects(sc)
    return code


def _tidy(spark) -> None:
    """(in a forked child, after its script) Drop the run's global temporary views, while its credential
    is still good (the first look at them asks the metastore whether a database global_temp exists)."""
    try:
        spark._jsparkSession.sharedState().globalTempViewManager().clear()
    except Exception:  # noqa: BLE001 - the driver is retired if its run failed anyway
        traceback.print_exc()


def _subreaper() -> None:
    """Processes a run's script leaves behind (daemons, double forks) become this driver's children, so
    that it can end them when the run ends (Linux prctl PR_SET_CHILD_SUBREAPER)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(36, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _end_leftovers(keep: set[int]) -> None:
    """Kill the children of this driver but `keep` (the JVM), with their descendants: what a run left."""
    import psutil

    try:
        children = [c for c in psutil.Process().children() if c.pid not in keep]
    except psutil.Error:
        return
    procs = []
    for c in children:
        try:
            procs += [c, *c.children(recursive=True)]
        except psutil.Error:
            procs.append(c)
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    for p in children:
        try:
            os.waitpid(p.pid, 0)
        except OSError:
            pass


def _reset(spark) -> bool:
    """After a run: cancel its Spark jobs still going, drop cached data (the child dropped its global
    temporary views), make the base session the default again. The driver's credential is revoked by
    now: nothing here may ask the metastore. False if the SparkContext cannot serve another run."""
    from pyspark.sql import SparkSession

    try:
        jsc = spark.sparkContext._jsc.sc()
        if jsc.isStopped():
            return False
        jsc.cancelAllJobs()
        spark.catalog.clearCache()
        jclass = SparkSession._get_j_spark_session_class(spark._jvm)
        jclass.setDefaultSession(spark._jsparkSession)
        jclass.setActiveSession(spark._jsparkSession)
        return True
    except Exception:  # noqa: BLE001 - a driver that cannot be reset is replaced
        traceback.print_exc()
        return False


def serve(spark, output, request: dict) -> int:
    """Execute one run in a child forked from this driver, with fds 1 and 2 forwarded to the run's log;
    its exit code (negative: killed by that signal)."""
    output.switch(request["log_path"])
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: it never returns
        code = 1
        try:
            code = _child(spark, request, output.ready_fd)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    _end_leftovers({spark.sparkContext._gateway.proc.pid})
    output.drain()  # the run's last lines (the JVM's too) before the log is switched back
    output.restore()
    return code


def preload() -> None:
    """Import what scripts import, while the driver warms up rather than in each run (issue 13)."""
    import awsglue.context  # noqa: F401
    import awsglue.dynamicframe  # noqa: F401
    import awsglue.job  # noqa: F401
    import awsglue.transforms  # noqa: F401
    import awsglue.utils  # noqa: F401

    import runner.jobs.context  # noqa: F401


def warm_main() -> int:
    from runner.jobs.output import OutputForwarder

    _subreaper()
    output = OutputForwarder()  # before the JVM starts: it inherits fds 1 and 2
    spark = build_session()
    spark.sql("SHOW DATABASES").collect()  # loads and connects the Hive client
    _exercise(spark)
    try:
        preload()
    except Exception:  # noqa: BLE001 - a script that imports them gets the error
        traceback.print_exc()
    output.ready(READY)
    while True:
        line = sys.stdin.buffer.readline()
        if not line.strip():
            return 0  # the pool is shutting down, or retired this driver
        code = serve(spark, output, json.loads(line))
        output.ready(DONE + b" %d\n" % code)
        if not _reset(spark):
            return 0
        output.ready(READY)


def main(argv: list[str]) -> int:
    add_glue_libs()
    if argv[:1] == ["--warm"]:
        return warm_main()
    if argv[:1] == ["--request"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as f:
            request = json.load(f)
        session = None
        if request.get("job_type", "spark") == "spark":
            _redirect(request["log_path"])  # Spark's start-up messages belong to the run's log too
            session = build_session()
        return run(request, session)
    print("usage: python -m runner.jobs.driver --warm | --request FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
