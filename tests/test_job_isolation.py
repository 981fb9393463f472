"""No secret reaches user code: a job's driver has the metastore's Thrift address and a per-run credential,
never the storage URL. Scripts written as an attacker would write them look for the URL and use their
credential for what their run may not do; all of it is refused, and the credential dies with the run."""

from __future__ import annotations

import json
import os
import re

import pytest
from sqlalchemy import select
from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TApplicationException
from thrift.transport import TSocket, TTransport

from metastore.catalog import CatalogService
from metastore.catalog.connections import Connection
from metastore.catalog.jobs import Job
from metastore.hms.gen.hive import ThriftHiveMetastore
from metastore.hms.gen.hive import ttypes as tt
from metastore.storage.models import AuditRow
from tests.conftest import start_metastore, stop_metastore
from tests.test_jobs import Env, Worker, _worker_env

# a run call refused by the run calls themselves, or before them by the credential's general denial
REFUSED = (tt.ConfigValSecurityException, TApplicationException)
PG = {"JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/sales", "USERNAME": "etl", "PASSWORD": "s3cret"}
HR = {**PG, "JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/hr", "PASSWORD": "hr-top-secret"}

# What an attacker's pythonshell script tries. Every line it prints starts with a tag the test reads.
ATTACKER = r"""
import json, os
import mortar_job
from metastore.config import Settings
from metastore.hms.gen.hive import ttypes as tt

print("CREDENTIAL", os.environ.get("MORTAR_RUN_CREDENTIAL"))
print("ENVKEYS", json.dumps(sorted(k for k in os.environ if k.startswith("MORTAR_"))))
# the storage URL: in the environment, in the settings a script could load, in the files of its run
print("SETTINGS_URL", Settings.load().database_url)
here = os.path.dirname(os.path.abspath(__file__))
print("RUNFILES", json.dumps({n: open(os.path.join(here, n), errors="replace").read()
                              for n in os.listdir(here) if os.path.isfile(os.path.join(here, n))}))
# its own run and what it lists still work
print("RUN", json.dumps(mortar_job._catalog().call("run")))
print("SALES", json.dumps(mortar_job.connection("sales")))
# a connection its job does not list: through the helper, with the list in the environment widened, and
# straight through the Thrift call
for how in ("helper", "env", "thrift"):
    try:
        if how == "helper":
            mortar_job.connection("hr")
        elif how == "env":
            os.environ["MORTAR_JOB_CONNECTIONS"] = json.dumps(["sales", "hr"])
            mortar_job.connection("hr")
        else:
            mortar_job._catalog().call("connection", {"name": "hr"})
        print("HR_LEAKED", how)
    except PermissionError as e:
        print("HR_REFUSED", how, str(e))
client = mortar_job._catalog().client()
# admin-only operations with its credential
for name, call in (("drop_catalog", lambda: client.drop_catalog(tt.DropCatalogRequest(name="evil"))),
                   ("create_catalog", lambda: client.create_catalog(tt.CreateCatalogRequest(
                       tt.Catalog(name="evil", locationUri="/tmp/evil"))))):
    try:
        call()
        print("ADMIN_ALLOWED", name)
    except Exception as e:
        print("ADMIN_REFUSED", name, type(e).__name__)
# server settings through the generic call (the session key lives there in some versions)
print("CONFIG", json.dumps(client.get_config_value("mortar.metastore.uuid", "none")))
"""

SPARK_JOB = r"""
import json, os
import mortar_job
from runner.jobs.context import spark_session

spark = spark_session()
spark.sql("CREATE DATABASE IF NOT EXISTS iso")
spark.sql("CREATE TABLE iso.made_by_run (a INT) USING parquet")
spark.sql("INSERT INTO iso.made_by_run VALUES (1)")
print("ROWS", spark.table("iso.made_by_run").count())
print("CREDENTIAL", os.environ.get("MORTAR_RUN_CREDENTIAL"))
print("ENVKEYS", json.dumps(sorted(k for k in os.environ if k.startswith("MORTAR_"))))
print("JVMENV", json.dumps(sorted(k for k in dict(spark._jvm.System.getenv()) if k.startswith("MORTAR_"))))
try:
    mortar_job._catalog().call("connection", {"name": "hr"})
    print("HR_LEAKED")
except PermissionError as e:
    print("HR_REFUSED", str(e))
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A metastore and a worker (embedded broker, a warm pool of one Spark driver) on one SQLite catalog."""
    from cryptography.fernet import Fernet

    tmp = tmp_path_factory.mktemp("isolation")
    before = os.environ.get("MORTAR_SECRET_KEY")  # the metastore decrypts connections with the test's key
    os.environ["MORTAR_SECRET_KEY"] = Fernet.generate_key().decode()
    (tmp / "data").mkdir()
    url = f"sqlite:///{tmp / 'secret-place' / 'catalog.db'}"
    (tmp / "secret-place").mkdir()
    ms = start_metastore("sqlite", tmp, url)
    broker_url = f"sqla+sqlite:///{tmp / 'data' / 'broker.db'}"
    env = _worker_env(tmp / "data", broker_url, url, str(ms.warehouse),
                      MORTAR_METASTORE_URI=ms.uri, MORTAR_JOB_WARM_POOL="1",
                      MORTAR_JOB_WARM_WAIT_S="500")  # fmt: skip
    worker = Worker(tmp, env)
    service = CatalogService.open(url, str(ms.warehouse))
    e = Env(service, tmp / "data", broker_url, worker)
    e.url, e.ms = url, ms
    yield e
    worker.stop()
    service.ctx.engine.dispose()
    stop_metastore(ms)
    if before is None:
        os.environ.pop("MORTAR_SECRET_KEY", None)
    else:
        os.environ["MORTAR_SECRET_KEY"] = before


def _client(ms, credential: str | None):
    sock = TSocket.TSocket(ms.host, ms.port)
    transport = TTransport.TBufferedTransport(sock)
    client = ThriftHiveMetastore.Client(TBinaryProtocol.TBinaryProtocol(transport))
    transport.open()
    if credential:
        client.set_ugi("someone", [credential])
    return client, transport


def _tagged(log: str, tag: str) -> list[str]:
    return [line[len(tag) + 1 :] for line in log.splitlines() if line.startswith(tag + " ")]


def _secret_free(text: str, url: str) -> None:
    assert url not in text and "secret-place" not in text and "hr-top-secret" not in text


@pytest.mark.timeout(600)
def test_a_pythonshell_job_finds_no_secret_and_its_credential_dies_with_the_run(cluster):
    svc = cluster.service
    svc.connections.create(Connection("sales", "JDBC", PG))
    svc.connections.create(Connection("hr", "JDBC", HR))
    svc.jobs.create(Job("attacker", ATTACKER, job_type="pythonshell", connections=["sales"]))
    run = svc.jobs.start_run("attacker")
    cluster.send("runner.job_run", [run.id])
    done = cluster.wait_run(run.id)
    log = cluster.log(run.id)
    assert done.state == "SUCCEEDED", (done.error, log, cluster.worker_log())
    _secret_free(log, cluster.url)
    keys = json.loads(_tagged(log, "ENVKEYS")[0])
    assert "MORTAR_DATABASE_URL" not in keys and "MORTAR_BROKER_URL" not in keys and "MORTAR_CONFIG" not in keys
    assert "MORTAR_RUN_CREDENTIAL" in keys and "MORTAR_METASTORE_URI" in keys
    [settings_url] = _tagged(log, "SETTINGS_URL")
    assert settings_url != cluster.url
    assert json.loads(_tagged(log, "RUN")[0])["run_id"] == run.id
    assert json.loads(_tagged(log, "SALES")[0]) == PG
    assert not _tagged(log, "HR_LEAKED")
    refused = {line.split(" ", 1)[0]: line for line in _tagged(log, "HR_REFUSED")}
    assert set(refused) == {"helper", "env", "thrift"}
    assert "job attacker does not list connection hr (it lists: sales)" in refused["thrift"]
    assert sorted(_tagged(log, "ADMIN_REFUSED")) == ["create_catalog MetaException", "drop_catalog MetaException"]
    assert not _tagged(log, "ADMIN_ALLOWED")
    # the denials were audited under the run's name
    with svc.ctx.engine.connect() as conn:
        denied = conn.execute(select(AuditRow.user, AuditRow.object_name).where(AuditRow.action == "DENIED")).all()
    assert (f"run:{run.id}", "hr") in [tuple(r) for r in denied]
    assert sum(1 for r in denied if r.user == f"run:{run.id}") >= 4  # 2 connection calls, 2 admin calls
    # after the run, its credential does nothing
    [credential] = _tagged(log, "CREDENTIAL")
    assert re.fullmatch(r"mortar-run\.[0-9a-f]{64}", credential)
    client, transport = _client(cluster.ms, credential)
    try:
        with pytest.raises(tt.MetaException, match="not valid now"):
            client.get_all_databases()
        with pytest.raises(REFUSED, match="not valid now"):
            client.get_config_value("mortar.run.connection", json.dumps({"name": "sales"}))
    finally:
        transport.close()


def test_run_calls_need_a_bound_live_run_credential(cluster):
    """A user (or anonymous caller) and a driver credential not yet given a run cannot make run calls;
    other configuration keys answer as before."""
    svc = cluster.service
    unbound = svc.access.new_run_credential()
    for credential in (None, unbound, "mortar-run." + "0" * 64):
        client, transport = _client(cluster.ms, credential)
        try:
            with pytest.raises(REFUSED, match="may not"):
                client.get_config_value("mortar.run.run", "{}")
            with pytest.raises(REFUSED, match="may not"):
                client.get_config_value("mortar.run.connection", json.dumps({"name": "sales"}))
            if credential is not None:  # an unbound or unknown credential changes nothing
                with pytest.raises(tt.MetaException):
                    client.create_database(tt.Database(name="by_unbound_driver"))
            if credential != "mortar-run." + "0" * 64:  # an unknown credential may not even read
                assert client.get_config_value("hive.some.key", "fallback") == "fallback"
        finally:
            transport.close()
    svc.access.revoke_run_credentials(secret=unbound)


@pytest.mark.timeout(600)
def test_a_spark_job_acts_through_its_credential(cluster):
    """A warm Spark driver's Hive client presents the run's credential: what it creates is audited under
    run:<id>; its environment (Python's and the JVM's) has no storage URL; the credential dies with the run."""
    svc = cluster.service
    svc.jobs.create(Job("sparky", SPARK_JOB, spark_conf={"spark.sql.shuffle.partitions": "1"}))
    run = svc.jobs.start_run("sparky")
    cluster.send("runner.job_run", [run.id])
    done = cluster.wait_run(run.id)
    log = cluster.log(run.id)
    assert done.state == "SUCCEEDED", (done.error, log[-5000:], cluster.worker_log())
    assert f"run {run.id} of job sparky started in a warm driver" in cluster.worker_log(50000)
    _secret_free(log, cluster.url)
    assert _tagged(log, "ROWS") == ["1"]
    for tag in ("ENVKEYS", "JVMENV"):
        keys = json.loads(_tagged(log, tag)[0])
        assert "MORTAR_DATABASE_URL" not in keys and "MORTAR_BROKER_URL" not in keys, (tag, keys)
    assert _tagged(log, "HR_REFUSED") and not _tagged(log, "HR_LEAKED")
    with svc.ctx.engine.connect() as conn:
        who = conn.execute(select(AuditRow.user).where(AuditRow.object_name == "made_by_run",
                                                       AuditRow.action != "DENIED")).scalars().all()  # fmt: skip
    assert who and set(who) == {f"run:{run.id}"}, who
    [credential] = _tagged(log, "CREDENTIAL")
    client, transport = _client(cluster.ms, credential)
    try:
        with pytest.raises(tt.MetaException, match="not valid now"):
            client.get_table("iso", "made_by_run")
    finally:
        transport.close()
