"""TLS on the Thrift port: `mortar metastore` with thrift_tls_cert/thrift_tls_key (a self-signed certificate
made here), a Python client over an SSL socket, a plain client refused, and PySpark's Hive 2.3 client with
hive.metastore.use.SSL and a truststore made by keytool."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import start_metastore, stop_metastore, unique

ROOT = Path(__file__).resolve().parent.parent


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp / "thrift.pem", tmp / "thrift.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_metastore(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ms-tls")
    cert, key = self_signed(tmp)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MORTAR_THRIFT_TLS_CERT", str(cert))
        mp.setenv("MORTAR_THRIFT_TLS_KEY", str(key))
        ms = start_metastore("sqlite", tmp, f"sqlite:///{tmp}/catalog.db")
    ms.cert = cert
    yield ms
    stop_metastore(ms)


def client(ms, *options: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tests.kerberos_client", "plain", "localhost", str(ms.port), *options]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_python_client_over_tls_and_plain_refused(tls_metastore):
    db = unique("tls")
    got = client(tls_metastore, "--cafile", str(tls_metastore.cert), "--create", db)
    assert got.returncode == 0, got.stderr
    assert db in json.loads(got.stdout.splitlines()[-1])
    plain = client(tls_metastore, "--create", unique("tls_plain"))
    assert plain.returncode != 0
    assert "TLS handshake failed: [SSL: WRONG_VERSION_NUMBER]" in tls_metastore.log.read_text()
    # a client that does not trust the certificate does not talk to it
    other = tls_metastore.log.parent / "other"
    other.mkdir(exist_ok=True)
    other_ca, _ = self_signed(other)
    untrusted = client(tls_metastore, "--cafile", str(other_ca))
    assert untrusted.returncode != 0
    assert "TLSV1_ALERT_UNKNOWN_CA" in tls_metastore.log.read_text()


SPARK_SCRIPT = """
import json, sys
from tests.spark_session import hive_session
uri, warehouse, truststore, db = sys.argv[1:5]
spark = hive_session(uri, warehouse, "mortar-tls", **{
    "spark.hadoop.hive.metastore.use.SSL": "true",
    "spark.hadoop.hive.metastore.truststore.path": truststore,
    "spark.hadoop.hive.metastore.truststore.password": "changeit",
})
spark.sql(f"CREATE DATABASE {db}")
spark.sql(f"CREATE TABLE {db}.t (id INT) USING parquet")
dbs = [r[0] for r in spark.sql("SHOW DATABASES").collect()]
tables = [r[1] for r in spark.sql(f"SHOW TABLES IN {db}").collect()]
print("RESULT " + json.dumps({"databases": dbs, "tables": tables}))
spark.stop()
"""


@pytest.mark.skipif(shutil.which("keytool") is None, reason="keytool (Java) missing")
def test_pyspark_hive_client_over_tls(tls_metastore, tmp_path):
    truststore = tmp_path / "truststore.jks"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "mortar", "-file", str(tls_metastore.cert),
                    "-keystore", str(truststore), "-storetype", "JKS", "-storepass", "changeit"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    db = unique("tls_spark")
    cmd = [sys.executable, "-c", SPARK_SCRIPT, f"thrift://localhost:{tls_metastore.port}", str(tmp_path / "wh"),
           str(truststore), db]  # fmt: skip
    proc = subprocess.run(cmd, env=dict(os.environ), cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-6000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert db in result["databases"]
    assert result["tables"] == ["t"]
