"""The `mortar` command: help for every command, Spark settings, and a Spark SQL shell on the metastore."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from mortar.cli import main

EXPECTED = {"metastore", "spark-conf", "pyspark", "spark-sql", "worker", "scheduler", "crawler", "classifier", "job",
            "trigger", "workflow", "connection", "web", "user", "up"}  # fmt: skip


def _commands(group, prefix=()):
    """Every command path of the CLI, sub-commands included, read from the click groups themselves."""
    for name, cmd in group.commands.items():
        yield [*prefix, name]
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


def test_the_cli_has_the_expected_commands():
    assert EXPECTED <= set(main.commands)


@pytest.mark.parametrize("command", [[], *_commands(main)], ids=lambda c: " ".join(c) or "mortar")
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"], prog_name="mortar")
    assert result.exit_code == 0, result.output
    assert "Usage: mortar" in result.output


def test_spark_conf_points_at_the_metastore(tmp_path, monkeypatch):
    monkeypatch.setenv("MORTAR_PORT", "9999")
    result = CliRunner().invoke(main, ["spark-conf", "--warehouse", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(" ", 1) for line in result.output.strip().splitlines())
    assert lines["spark.hadoop.hive.metastore.uris"] == "thrift://127.0.0.1:9999"
    assert lines["spark.sql.warehouse.dir"] == str(tmp_path)
    assert lines["spark.sql.catalogImplementation"] == "hive"
    args = CliRunner().invoke(main, ["spark-conf", "--format", "args", "--uri", "thrift://h:1"]).output
    assert "--conf spark.hadoop.hive.metastore.uris=thrift://h:1" in args


def test_unknown_setting_in_config_file_is_a_clear_error(tmp_path):
    cfg = tmp_path / "mortar.toml"
    cfg.write_text('[mortar]\nport = 9083\ncolour = "blue"\n')
    result = CliRunner().invoke(main, ["metastore", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "unknown setting(s): colour" in result.output


@pytest.mark.timeout(300)
@pytest.mark.parametrize("metastore", ["sqlite"], indirect=True)  # the storage is not what is tested here
def test_spark_sql_shell_uses_the_metastore(metastore, hms):
    from hmsclient.genthrift.hive_metastore import ttypes as tt

    hms.create_database(tt.Database("from_cli", "made over Thrift", None, {}))
    out = subprocess.run(
        [sys.executable, "-m", "mortar.cli", "spark-sql", "--uri", metastore.uri, "--warehouse",
         str(metastore.warehouse), "-e", "SHOW DATABASES"],
        capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "from_cli" in out.stdout.split()


def test_global_data_dir_reaches_every_sub_command(tmp_path, monkeypatch):
    from metastore.catalog import CatalogService
    from metastore.catalog.jobs import Job

    monkeypatch.setenv("MORTAR_DATA_DIR", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.delenv("MORTAR_DATABASE_URL", raising=False)
    svc = CatalogService.open(f"sqlite:///{tmp_path}/catalog.db", str(tmp_path / "warehouse"))
    svc.jobs.create(Job("nightly", script="print(1)\n", job_type="pythonshell"))
    svc.ctx.engine.dispose()
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "job", "list"])
    assert result.exit_code == 0, result.output
    assert "nightly" in result.output
