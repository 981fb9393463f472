"""Kerberos on the Thrift port, end to end: a real MIT KDC started here (tests/kdc.py), `mortar metastore`
with kerberos_principal hive/_HOST@MORTAR.TEST and a keytab made by the test, and real clients: Python
(thrift_sasl + pure-sasl, pyiceberg's HiveCatalog) and PySpark's built-in Hive 2.3 client with a keytab."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import start_metastore, stop_metastore, unique
from tests.kdc import REALM, missing_tools, start_kdc

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    bool(missing_tools()) and os.environ.get("CI") != "true",
    reason=f"MIT Kerberos tools missing: {missing_tools()} (apt-get install krb5-kdc krb5-admin-server krb5-user)",
)


@pytest.fixture(scope="module")
def realm(tmp_path_factory):
    """The KDC, the service keytab (hive/<this host's names>, HTTP/localhost, hive/stale.host whose key was
    changed after export) and the users' keytabs (alice; bob, whose keytab is stale)."""
    tmp = tmp_path_factory.mktemp("kdc")
    kdc = start_kdc(tmp)
    service_keytab = tmp / "hive.keytab"
    hosts = sorted({"localhost", socket.gethostname().lower(), socket.getfqdn().lower()})
    for host in hosts:
        kdc.add_principal(f"hive/{host}", service_keytab)
    kdc.add_principal("HTTP/localhost", service_keytab)  # in the service keytab, but not the metastore's
    kdc.add_principal("hive/stale.host", service_keytab)
    kdc.new_key("hive/stale.host")  # the server's key for it is now wrong
    kdc.add_principal("alice", tmp / "alice.keytab")
    kdc.add_principal("bob", tmp / "bob.keytab")
    kdc.new_key("bob")
    yield kdc
    kdc.stop()


@pytest.fixture(scope="module")
def kerberized(realm, tmp_path_factory):
    """`mortar metastore` speaking SASL GSSAPI only."""
    tmp = tmp_path_factory.mktemp("ms-kerberos")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in realm.env.items():
            mp.setenv(key, value)
        mp.setenv("MORTAR_KERBEROS_PRINCIPAL", f"hive/_HOST@{REALM}")
        mp.setenv("MORTAR_KERBEROS_KEYTAB", str(realm.dir / "hive.keytab"))
        mp.setenv("MORTAR_ANONYMOUS", "local-write")
        ms = start_metastore("sqlite", tmp, f"sqlite:///{tmp}/catalog.db")
    yield ms
    stop_metastore(ms)


def client(realm, ms, mode: str, ccache: Path | None, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **realm.env, "KRB5CCNAME": f"FILE:{ccache or realm.dir / 'no-such-ccache'}"}
    cmd = [sys.executable, "-m", "tests.kerberos_client", mode, "localhost", str(ms.port), *options]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def ticket(realm, user: str) -> Path:
    ccache = realm.dir / f"{user}.ccache"
    got = realm.kinit(user, realm.dir / f"{user}.keytab", ccache)
    assert got.returncode == 0, got.stderr
    return ccache


def audit_users(ms, db: str) -> list[str]:
    from metastore.catalog import CatalogService

    svc = CatalogService.open(ms.database_url, str(ms.warehouse))
    try:
        return [r.user for r in svc.browse.audit(db)]
    finally:
        svc.ctx.engine.dispose()


@pytest.mark.parametrize("qop", ["auth", "auth-int", "auth-conf"])
def test_python_client_with_a_ticket_is_served_and_audited_under_its_principal(realm, kerberized, qop):
    ccache = ticket(realm, "alice")
    db = unique("krb")
    got = client(realm, kerberized, "thrift-sasl", ccache, "--create", db, "--qop", qop)
    assert got.returncode == 0, got.stderr
    assert db in json.loads(got.stdout.splitlines()[-1])
    assert audit_users(kerberized, db) == ["alice"]  # the principal's short name, not "anonymous"


def test_pyiceberg_hive_catalog_with_kerberos_authentication(realm, kerberized):
    ccache = ticket(realm, "alice")
    db = unique("krb_ice")
    got = client(realm, kerberized, "pyiceberg", ccache, "--create", db)
    assert got.returncode == 0, got.stderr
    assert db in json.loads(got.stdout.splitlines()[-1])
    assert audit_users(kerberized, db) == ["alice"]


def test_without_a_valid_ticket_the_connection_is_refused(realm, kerberized):
    db = unique("krb_refused")
    # no ticket at all: the client cannot even start the handshake
    no_ticket = client(realm, kerberized, "thrift-sasl", None, "--create", db)
    assert no_ticket.returncode != 0
    # bob's keytab holds a key the KDC replaced: no ticket can be had with it
    stale = realm.kinit("bob", realm.dir / "bob.keytab", realm.dir / "bob.ccache")
    assert stale.returncode != 0
    # plain Thrift, without SASL: the server does not fall back to it
    plain = client(realm, kerberized, "plain", None, "--create", db)
    assert plain.returncode != 0
    ccache = ticket(realm, "alice")
    # a good ticket, but for another service that the server's keytab also holds
    other_service = client(realm, kerberized, "thrift-sasl", ccache, "--service", "HTTP", "--create", db)
    assert other_service.returncode != 0
    # a ticket the server cannot decrypt: its key for that principal is not the KDC's
    wrong_key = client(realm, kerberized, "thrift-sasl", ccache, "--sasl-host", "stale.host", "--create", db)
    assert wrong_key.returncode != 0
    assert audit_users(kerberized, db) == []
    log = kerberized.log.read_text()
    assert "not for hive/_HOST@" in log  # the server refused them, and says why
    assert "plain Thrift is not accepted" in log
    assert "Kerberos authentication failed" in log
    # and it still serves a client with a ticket
    ok = client(realm, kerberized, "thrift-sasl", ccache)
    assert ok.returncode == 0, ok.stderr


SPARK_SCRIPT = """
import json, sys
from tests.spark_session import hive_session
uri, warehouse, principal, keytab, db, service = sys.argv[1:7]
spark = hive_session(uri, warehouse, "mortar-kerberos", **{
    "spark.hadoop.hive.metastore.sasl.enabled": "true",
    "spark.hadoop.hive.metastore.kerberos.principal": service,
    "spark.hadoop.hadoop.security.authentication": "kerberos",
    "spark.kerberos.principal": principal,
    "spark.kerberos.keytab": keytab,
})
spark.sql(f"CREATE DATABASE {db}")
spark.sql(f"CREATE TABLE {db}.t (id INT, name STRING) USING parquet")
spark.sql(f"INSERT INTO {db}.t VALUES (1, 'a')")
dbs = [r[0] for r in spark.sql("SHOW DATABASES").collect()]
rows = [tuple(r) for r in spark.sql(f"SELECT * FROM {db}.t").collect()]
print("RESULT " + json.dumps({"databases": dbs, "rows": rows}))
spark.stop()
"""


CORE_SITE = """<?xml version="1.0"?>
<configuration>
  <property><name>hadoop.security.authentication</name><value>kerberos</value></property>
</configuration>
"""


def test_pyspark_hive_client_with_keytab_and_principal(realm, kerberized, tmp_path):
    db = unique("krb_spark")
    # Hadoop's login reads its security setting from core-site.xml before Spark's settings are applied
    conf_dir = tmp_path / "hadoop-conf"
    conf_dir.mkdir()
    (conf_dir / "core-site.xml").write_text(CORE_SITE)
    env = {**os.environ, **realm.env, "KRB5CCNAME": f"FILE:{tmp_path / 'spark.ccache'}",
           "HADOOP_CONF_DIR": str(conf_dir),
           # the JVM does not read KRB5_CONFIG
           "JAVA_TOOL_OPTIONS": f"-Djava.security.krb5.conf={realm.krb5_conf}"}  # fmt: skip
    cmd = [sys.executable, "-c", SPARK_SCRIPT, f"thrift://localhost:{kerberized.port}", str(tmp_path / "wh"),
           f"alice@{REALM}", str(realm.dir / "alice.keytab"), db, f"hive/_HOST@{REALM}"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-6000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert db in result["databases"]
    assert result["rows"] == [[1, "a"]]
    assert audit_users(kerberized, db)[-1] == "alice"  # CREATE_DATABASE, the oldest record, by alice
