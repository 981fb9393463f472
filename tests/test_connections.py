"""Connections: the catalog (SQLite and PostgreSQL), `mortar connection ...`, and a real job run (a cold
pythonshell driver) reading the connections its job lists — and refused the others."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from metastore.catalog import AlreadyExists, CatalogService, InvalidInput, NotFound
from metastore.catalog.connections import MASK, Connection
from metastore.catalog.encryption import Secrets
from metastore.catalog.jobs import Job
from metastore.config import Settings
from tests.conftest import database_url

PG = {
    "JDBC_CONNECTION_URL": "jdbc:postgresql://127.0.0.1:5432/sales",
    "USERNAME": "etl",
    "PASSWORD": "s3cret",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, pg_databases):
    svc = CatalogService.open(database_url(request.param, tmp_path, pg_databases), str(tmp_path / "wh"))
    yield svc
    svc.ctx.engine.dispose()


def test_connections_keep_their_secrets_masked(service):
    made = service.connections.create(Connection("Sales", "JDBC", PG, "the sales database"))
    assert (made.name, made.properties["PASSWORD"], made.properties["USERNAME"]) == ("sales", MASK, "etl")
    assert service.connections.get("sales", secrets=True).properties == PG
    assert [c.properties["PASSWORD"] for c in service.connections.list()] == [MASK]
    with pytest.raises(AlreadyExists):
        service.connections.create(Connection("sales", "JDBC", PG))
    with pytest.raises(InvalidInput, match="needs JDBC_CONNECTION_URL"):
        service.connections.create(Connection("nourl", "JDBC", {"USERNAME": "x"}))
    shown = service.connections.get("sales")
    shown.properties["USERNAME"] = "loader"  # the mask sent back keeps the stored password
    service.connections.update("sales", shown)
    assert service.connections.get("sales", secrets=True).properties == {**PG, "USERNAME": "loader"}
    job = service.jobs.create(Job(name="load", script="print(1)\n", connections=["Sales"]))
    assert job.connections == ["sales"]
    service.connections.delete("sales")
    with pytest.raises(NotFound, match="connection sales does not exist"):
        service.connections.get("sales")


def test_connection_commands(tmp_path):
    from mortar.cli import main

    runner = CliRunner()
    env = {"MORTAR_DATA_DIR": str(tmp_path / "mortar"), "MORTAR_DATABASE_URL": None, "MORTAR_WAREHOUSE": None}

    def cli(*args: str, input: str | None = None):
        result = runner.invoke(main, ["connection", *args], env=env, input=input, catch_exceptions=False)
        return result.exit_code, result.output

    for command in ("create", "list", "show", "update", "delete"):
        code, out = cli(command, "--help")
        assert code == 0 and "Usage:" in out
    code, out = cli("create", "sales", "-p", f"JDBC_CONNECTION_URL={PG['JDBC_CONNECTION_URL']}", "-p", "USERNAME=etl",
                    "--secret", "PASSWORD", "--description", "sales db", input="s3cret\n")  # fmt: skip
    assert code == 0 and "connection sales created (JDBC)" in out and "s3cret" not in out, out
    code, out = cli("list")
    assert out.splitlines()[1].split()[:3] == ["sales", "JDBC", PG["JDBC_CONNECTION_URL"]]
    code, out = cli("show", "sales")
    shown = json.loads(out)
    assert shown["properties"] == {**PG, "PASSWORD": MASK}
    code, out = cli("update", "sales", "-p", "USERNAME=loader", "-p", "TIMEOUT=5", "--unset", "timeout")
    assert code == 0
    cli_settings = Settings.load(data_dir=str(tmp_path / "mortar"))
    catalog = CatalogService.open(cli_settings.database_url, str(tmp_path / "wh"),
                                  secrets=Secrets.from_settings(cli_settings))  # the CLI's key file  # fmt: skip
    try:
        assert catalog.connections.get("sales", secrets=True).properties == {**PG, "USERNAME": "loader"}
    finally:
        catalog.ctx.engine.dispose()
    code, out = cli("create", "bad", "--type", "kafka")
    assert code == 1 and "needs KAFKA_BOOTSTRAP_SERVERS" in out
    assert cli("delete", "sales")[0] == 0
    code, out = cli("show", "sales")
    assert code == 1 and "connection sales does not exist" in out


USES_CONNECTIONS = """
import json
import mortar_job

print("props", json.dumps(mortar_job.connection("sales"), sort_keys=True))
print("jdbc", json.dumps(mortar_job.jdbc_options("sales"), sort_keys=True))
try:
    mortar_job.connection("hr")
except PermissionError as e:
    print("refused:", e)
"""


def test_a_job_run_reads_the_connections_its_job_lists(tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    from runner.jobs.execute import execute_run
    from tests.conftest import start_metastore, stop_metastore

    # the driver reaches the catalog only through the metastore, which decrypts with the same key
    monkeypatch.setenv("MORTAR_SECRET_KEY", Fernet.generate_key().decode())
    ms = start_metastore("sqlite", tmp_path, f"sqlite:///{tmp_path / 'c.db'}")
    settings = Settings.load(data_dir=str(tmp_path / "data"), database_url=ms.database_url,
                             warehouse=str(ms.warehouse), metastore_uri=ms.uri)  # fmt: skip
    service = CatalogService.open(settings.database_url, settings.warehouse, secrets=Secrets.from_settings(settings))
    try:
        service.connections.create(Connection("sales", "JDBC", PG))
        service.connections.create(Connection("hr", "JDBC", {**PG, "PASSWORD": "other"}))
        service.jobs.create(
            Job(name="uses", script=USES_CONNECTIONS, job_type="pythonshell", connections=["sales"])
        )
        run = service.jobs.start_run("uses")
        outcome = execute_run(service, run.id, settings, lambda *_: None)  # a real (cold) driver process
        log, _ = service.jobs.read_log(run.id)
        assert outcome.state == "SUCCEEDED", (outcome.error, log)
        assert f"props {json.dumps(PG, sort_keys=True)}\n" in log
        jdbc = {"password": "s3cret", "url": PG["JDBC_CONNECTION_URL"], "user": "etl"}
        assert f"jdbc {json.dumps(jdbc, sort_keys=True)}\n" in log
        assert "refused: job uses does not list connection hr (it lists: sales)" in log
        assert "other" not in log
    finally:
        service.ctx.engine.dispose()
        stop_metastore(ms)
