"""`mortar database ...` and `mortar table ...`: a crawl (or anything else) checked from the terminal."""

from __future__ import annotations

import os
import subprocess
import sys

from metastore.catalog import CatalogService
from metastore.catalog import types as t


def _mortar(data_dir, *args):
    env = {**os.environ, "MORTAR_DATA_DIR": str(data_dir)}
    env.pop("MORTAR_DATABASE_URL", None)
    env.pop("MORTAR_WAREHOUSE", None)
    return subprocess.run([sys.executable, "-m", "mortar.cli", *args], capture_output=True, text=True, env=env)


def test_databases_tables_and_partitions_from_the_terminal(tmp_path):
    service = CatalogService.open(f"sqlite:///{tmp_path / 'catalog.db'}", str(tmp_path / "warehouse"))
    service.databases.create(t.Database("sales"))
    cols = [t.Column("id", "bigint"), t.Column("amount", "double", "in euros")]
    keys = [t.Column("year", "int"), t.Column("month", "string")]
    service.tables.create(t.Table("events", "sales", sd=t.StorageDescriptor(cols=cols), partition_keys=keys))
    service.partitions.add("sales", "events", [t.Partition([y, m], "sales", "events")
                                               for y in ("2023", "2024") for m in ("01", "02", "03")])  # fmt: skip

    out = _mortar(tmp_path, "database", "list").stdout.splitlines()
    assert out[0].split() == ["DATABASE", "TABLES", "LOCATION"]
    assert out[2].split()[:2] == ["sales", "1"]

    out = _mortar(tmp_path, "table", "list", "sales").stdout.splitlines()
    assert out[1].split()[:4] == ["events", "MANAGED_TABLE", "2", "year,month"]

    shown = _mortar(tmp_path, "table", "show", "sales.events").stdout
    assert "table      sales.events (MANAGED_TABLE)" in shown
    assert "partition keys (6 partitions)" in shown
    assert [line.split() for line in shown.splitlines() if line.startswith("  amount")] == [
        ["amount", "double", "in", "euros"]
    ]

    parts = _mortar(tmp_path, "table", "partitions", "sales.events", "--filter", "year = 2024 and month >= '02'")
    assert [line.split()[0] for line in parts.stdout.splitlines()[1:]] == [
        "year=2024/month=02", "year=2024/month=03"
    ]  # fmt: skip

    missing = _mortar(tmp_path, "table", "show", "sales.nope")
    assert missing.returncode == 1 and "table sales.nope does not exist" in missing.stderr
    bad = _mortar(tmp_path, "table", "show", "nodot")
    assert bad.returncode == 2 and "is not DATABASE.TABLE" in bad.stderr
    for group in ("database", "table"):
        assert _mortar(tmp_path, group, "--help").returncode == 0


def test_one_off_commands_print_their_answer_without_log_lines(tmp_path):
    """`mortar workflow run` printed a stray `INFO metastore.catalog.dispatch ...` line (issue 16, item 8):
    one-off commands log warnings only; the servers (metastore, worker, scheduler, web, up) log INFO."""
    from metastore.catalog.jobs import Job
    from metastore.catalog.triggers import Action, Trigger
    from metastore.catalog.workflows import Workflow

    service = CatalogService.open(f"sqlite:///{tmp_path / 'catalog.db'}", str(tmp_path / "warehouse"))
    service.jobs.create(Job("hello", "print(1)\n", job_type="pythonshell"))
    service.workflows.create(Workflow("flow"))
    service.triggers.create(Trigger("go", "ON_DEMAND", [Action(job="hello")], workflow="flow"))
    done = _mortar(tmp_path, "workflow", "run", "flow")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("workflow run ") and "RUNNING" in done.stdout
    assert " INFO " not in done.stderr, done.stderr
