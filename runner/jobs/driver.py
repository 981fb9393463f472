"""The driver process of a job run: `python -m runner.jobs.driver`.

Cold (`--request FILE`): a fresh Python process that builds its SparkSession (for a spark job) and runs
the script. Warm (`--warm`): builds a SparkSession pointed at the metastore and warms it up (a catalog
call loads the Hive client), prints READY, then waits on stdin for one run request; the script runs in a
fresh session (`newSession()`: its own SQL conf, temporary views and functions) with its own argv. Its
output, Python's and the JVM's (log4j), goes to the run's log through the driver's output forwarder
(runner/jobs/output.py); before and after the run, to the pool's log. Either way the process serves one run and exits: a warm
driver is replaced by a new one rather than reused, so no state leaks from one run to the next.

The Spark settings come as JSON in MORTAR_JOB_SPARK_CONF (with `spark.master`). The driver never sees the
catalog's storage: it has the metastore's Thrift address (MORTAR_METASTORE_URI) and its own credential
(MORTAR_RUN_CREDENTIAL), which the worker binds to the run it gives the driver and revokes when the run
ends. Spark's Hive client presents it: the Hadoop login user is made a user whose groups hold it, and
Hive's client sends set_ugi(user, groups) when it connects; the `mortar_job` helpers send it likewise.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback

READY = b"READY\n"
STARTED = b"RUNNING\n"  # the script starts (issue 15)
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


def run(request: dict, session=None, warm: bool = False, output=None) -> int:
    """Run one script as `request` says; returns the exit code (0: succeeded). The error summary of a
    failure goes to request["error_path"], the traceback to the log. `output`: a warm driver's
    OutputForwarder, told to send fds 1 and 2 (the JVM's too) to the run's log."""
    if output is not None:
        output.switch(request["log_path"])
    else:
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
    _started(output.ready_fd if output is not None else request.get("status_fd"))
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
    if output is not None:
        output.drain()  # the JVM's last lines too, before the process exits
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


def main(argv: list[str]) -> int:
    add_glue_libs()
    if argv[:1] == ["--warm"]:
        from runner.jobs.output import OutputForwarder

        output = OutputForwarder()  # before the JVM starts: it inherits fds 1 and 2
        spark = build_session()
        spark.sql("SHOW DATABASES").collect()  # loads and connects the Hive client
        _exercise(spark)
        output.ready(READY)
        line = sys.stdin.buffer.readline()
        if not line.strip():
            return 0  # the pool is shutting down
        return run(json.loads(line), fresh_session(spark), warm=True, output=output)
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
