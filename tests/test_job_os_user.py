"""job_os_user: on one machine, drivers run as an OS user of their own, so user code can read nothing of the
catalog's storage, key, broker or other runs' logs, nor the worker's environment; Spark still writes tables
into the warehouse (whose root the administrator gave to that user: the metastore gives each new directory
the owner of its parent). Real metastore, real worker (run as root), real drivers."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.encryption import new_key, write_key_file
from metastore.catalog.jobs import Job
from tests.conftest import start_metastore, stop_metastore
from tests.test_jobs import Env, Worker, _worker_env

ROOT = Path(__file__).resolve().parents[1]
JOB_USER = "mortar-job-test"

ATTACKER = r"""
import glob, json, os, sys
targets = json.loads(TARGETS)
print("UID", os.getuid(), os.getgid(), json.dumps(os.getgroups()))
print("HOME", os.environ.get("HOME"), os.environ.get("TMPDIR"))
targets["open:worker-process-environ"] = "/proc/%d/environ" % os.getppid()
targets["list:runs-folder"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for name, path in sorted(targets.items()):
    try:
        if name.startswith("list:"):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(100)
        print("GOT", name, path)
    except PermissionError as e:
        print("REFUSED", name, path)
    except Exception as e:
        print("OTHER", name, path, type(e).__name__, e)
"""

SPARK_JOB = r"""
import os
from runner.jobs.context import spark_session

spark = spark_session()
spark.sql("CREATE DATABASE IF NOT EXISTS owned")
spark.sql("CREATE TABLE owned.numbers (n INT, name STRING) USING parquet")
spark.sql("INSERT INTO owned.numbers VALUES (1, 'one'), (2, 'two'), (3, 'three')")
print("ROWS", sorted((r.n, r.name) for r in spark.table("owned.numbers").collect()))
print("UID", os.getuid())
"""


def _require_root() -> None:
    if os.geteuid() != 0:
        reason = "drivers run as job_os_user only when the worker runs as root; this test is not root"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _as_user(pw, *cmd: str, env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(cmd), user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], cwd=ROOT, env=env,
                              capture_output=True, text=True)  # fmt: skip
    except PermissionError as e:  # the interpreter is out of the user's reach
        return subprocess.CompletedProcess(list(cmd), 126, "", str(e))


def _reachable_python(pw, base: Path) -> tuple[str, dict]:
    """An interpreter the job user can execute with this virtualenv's packages: this one when it can (the
    worker starts drivers with its own sys.executable), else a copy of the base installation (here under
    /root, mode 0700) in `base`, hard-linked when possible, as a virtualenv whose site-packages adds ours.
    Returns it and the environment variables it needs."""
    probe = ("-c", "import pyspark, runner.jobs.driver")
    if _as_user(pw, sys.executable, *probe).returncode == 0:
        return sys.executable, {}
    prefix, ver = Path(sys.base_prefix), f"python{sys.version_info.major}.{sys.version_info.minor}"

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    copy = base / "python"
    (copy / "bin").mkdir(parents=True)
    link(Path(sys._base_executable).resolve(), copy / "bin" / ver)
    shutil.copytree(prefix / "lib", copy / "lib", copy_function=link, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n in ("site-packages", "test", "pkgconfig")])  # fmt: skip
    env = {"LD_LIBRARY_PATH": str(copy / "lib")}
    venv = base / "venv"
    subprocess.run([str(copy / "bin" / ver), "-m", "venv", "--without-pip", str(venv)], check=True,
                   env={**os.environ, **env})  # fmt: skip
    ours = Path(sys.prefix) / "lib" / ver / "site-packages"
    (venv / "lib" / ver / "site-packages" / "mortar-test.pth").write_text(
        f"import site; site.addsitedir({str(ours)!r})\n"
    )
    python = str(venv / "bin" / "python")
    check = _as_user(pw, python, *probe, env={**os.environ, **env})
    if check.returncode != 0:
        reason = f"the job user cannot run Python with this project's packages: {check.stderr[-500:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return python, env


@pytest.fixture(scope="module")
def job_user():
    _require_root()
    created = False
    try:
        pw = pwd.getpwnam(JOB_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", JOB_USER], check=True)
        created = True
        pw = pwd.getpwnam(JOB_USER)
    yield pw
    if created:
        subprocess.run(["userdel", JOB_USER], check=False)


@pytest.fixture(scope="module")
def cluster(job_user, tmp_path_factory):
    """A metastore and a worker (as root; MORTAR_JOB_OS_USER, a warm pool of one driver) on a SQLite
    catalog under a data dir in pytest's temporary folder; the warehouse in a folder the job user can reach,
    its root given to the job user."""
    tmp = tmp_path_factory.mktemp("job-os-user")
    base = Path(tempfile.mkdtemp(prefix="mortar-job-os-user-"))
    os.chmod(base, 0o755)
    python, python_env = _reachable_python(job_user, base)
    warehouse = base / "warehouse"
    warehouse.mkdir()
    os.chown(warehouse, job_user.pw_uid, job_user.pw_gid)
    data = tmp / "data"
    data.mkdir()
    write_key_file(data / "secret.key", [new_key()])
    url = f"sqlite:///{data / 'catalog.db'}"
    ms = start_metastore("sqlite", tmp, url, "--warehouse", str(warehouse), "--data-dir", str(data))
    broker_url = f"sqla+sqlite:///{data / 'broker.db'}"
    env = _worker_env(data, broker_url, url, str(warehouse), MORTAR_METASTORE_URI=ms.uri,
                      MORTAR_JOB_WARM_POOL="1", MORTAR_JOB_WARM_WAIT_S="500", MORTAR_JOB_OS_USER=JOB_USER,
                      MORTAR_SECRET_KEY_FILE=str(data / "secret.key"), **python_env)  # fmt: skip
    env.pop("MORTAR_SECRET_KEY", None)
    worker = Worker.__new__(Worker)
    worker.log_path, worker.env = tmp / "worker.log", env
    with open(worker.log_path, "ab") as log:
        worker.proc = subprocess.Popen([python, "-m", "mortar.cli", "worker", "--concurrency", "1"], env=env,
                                       stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
    service = CatalogService.open(url, str(warehouse))
    e = Env(service, data, broker_url, worker)
    e.warehouse, e.user = warehouse, job_user
    yield e
    worker.stop()
    service.ctx.engine.dispose()
    stop_metastore(ms)
    shutil.rmtree(base, ignore_errors=True)


def _tagged(log: str, tag: str) -> list[str]:
    return [line[len(tag) + 1 :] for line in log.splitlines() if line.startswith(tag + " ")]


@pytest.mark.timeout(600)
def test_a_job_script_reads_nothing_of_the_catalog_files_nor_the_worker(cluster):
    data = cluster.data_dir
    (data / "job-logs").mkdir(exist_ok=True)
    planted = data / "job-logs" / "12345.log"  # another run's log, left by a worker without job_os_user
    planted.write_text("another run's secret output\n")
    os.chmod(planted, 0o644)
    targets = {
        "open:catalog.db": str(data / "catalog.db"),
        "open:secret.key": str(data / "secret.key"),
        "open:broker.db": str(data / "broker.db"),
        "open:other-run-log": str(planted),
        "list:data-dir": str(data),
        "list:job-logs": str(data / "job-logs"),
        "open:worker-main-environ": f"/proc/{cluster.worker.proc.pid}/environ",
    }
    for pool_log in (data / "job-logs").glob("warm-pool-*.log"):
        targets[f"open:{pool_log.name}"] = str(pool_log)
    script = f"TARGETS = {json.dumps(json.dumps(targets))}\n" + ATTACKER
    cluster.service.jobs.create(Job("snoop", script, job_type="pythonshell"))
    run = cluster.service.jobs.start_run("snoop")
    cluster.send("runner.job_run", [run.id])
    done = cluster.wait_run(run.id)
    log = cluster.log(run.id)
    assert done.state == "SUCCEEDED", (done.error, log, cluster.worker_log())
    pw = cluster.user
    uid, gid, groups = _tagged(log, "UID")[0].split(" ", 2)
    assert (int(uid), int(gid)) == (pw.pw_uid, pw.pw_gid)
    assert set(json.loads(groups)) <= {pw.pw_gid}
    [home] = _tagged(log, "HOME")
    assert home.split(" ")[0] == home.split(" ")[1] and "/mortar-runs/" in home
    assert not _tagged(log, "GOT") and not _tagged(log, "OTHER"), log
    refused = {line.split(" ")[0] for line in _tagged(log, "REFUSED")}
    assert refused == {*targets, "open:worker-process-environ", "list:runs-folder"}, log
    assert "another run's secret output" not in log
    assert oct(os.stat(data).st_mode & 0o777) == "0o700"
    runs = Path(tempfile.gettempdir(), "mortar-runs")
    assert not list(runs.glob(f"run-{run.id}-*"))  # removed after the run


@pytest.mark.timeout(900)
def test_a_warm_spark_driver_writes_a_table_into_the_warehouse_as_the_job_user(cluster):
    cluster.service.jobs.create(Job("owner", SPARK_JOB, spark_conf={"spark.sql.shuffle.partitions": "1"}))
    run = cluster.service.jobs.start_run("owner")
    cluster.send("runner.job_run", [run.id])
    done = cluster.wait_run(run.id, timeout=600)
    log = cluster.log(run.id)
    assert done.state == "SUCCEEDED", (done.error, log[-5000:], cluster.worker_log())
    assert f"run {run.id} of job owner started in a warm driver" in cluster.worker_log(100000)
    assert _tagged(log, "ROWS") == ["[(1, 'one'), (2, 'two'), (3, 'three')]"]
    assert _tagged(log, "UID") == [str(cluster.user.pw_uid)]
    table_dir = cluster.warehouse / "owned.db" / "numbers"
    for path in (cluster.warehouse / "owned.db", table_dir):
        assert os.stat(path).st_uid == cluster.user.pw_uid, path
    assert any(p.suffix == ".parquet" or ".parquet" in p.name for p in table_dir.iterdir())
    assert cluster.service.tables.get("owned", "numbers").name == "numbers"
