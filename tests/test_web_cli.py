"""`mortar user ...` and `mortar up` (metastore, web console, worker and scheduler as child processes)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from metastore.catalog import CatalogService
from metastore.config import Settings
from mortar.web_cli import user
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def _env(data: Path) -> dict:
    env = {**os.environ, "MORTAR_DATA_DIR": str(data)}
    for key in (
        "MORTAR_DATABASE_URL",
        "MORTAR_BROKER_URL",
        "MORTAR_WAREHOUSE",
        "MORTAR_CONFIG",
        "MORTAR_PORT",
    ):
        env.pop(key, None)
    return env


def test_user_commands(tmp_path):
    runner = CliRunner()
    env = _env(tmp_path / "data")
    r = runner.invoke(
        user, ["create", "ops", "--role", "admin", "--password-stdin"], input="ops password\n", env=env
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        user,
        ["create", "ann", "--database", "sales", "--database", "hr"],
        input="ann password\nann password\n",
        env=env,
    )
    assert r.exit_code == 0, r.output  # prompted, with confirmation
    r = runner.invoke(user, ["create", "bob", "--password-stdin"], input="short\n", env=env)
    assert r.exit_code != 0 and "8 to 1024 characters" in r.output
    r = runner.invoke(user, ["list"], env=env)
    assert r.output.splitlines() == ["ann\tviewer\thr, sales", "ops\tadmin\tall databases"]
    r = runner.invoke(
        user,
        ["set", "ann", "--role", "editor", "--all-databases", "--password-stdin"],
        input="ann new password\n",
        env=env,
    )
    assert r.exit_code == 0, r.output
    token = runner.invoke(user, ["token", "ann"], env=env).output.strip()
    r = runner.invoke(user, ["delete", "ops"], env=env)
    assert r.exit_code != 0 and "last admin" in r.output

    s = Settings.load(data_dir=str(tmp_path / "data"))
    svc = CatalogService.open(s.database_url, s.warehouse)
    assert svc.users.authenticate("ann", "ann new password").role == "editor"
    assert svc.users.authenticate("ann", "ann password") is None
    assert svc.users.user_by_token(token).name == "ann"
    svc.ctx.engine.dispose()


def _read_until(proc: subprocess.Popen, marker: str, timeout: float = 120) -> str:
    lines, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"no {marker!r} from mortar up:\n{''.join(lines)}")


def _up(data: Path, web_port: int, ms_port: int, glue_port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mortar.web_cli", "up", "--web-port", str(web_port), "--port", str(ms_port),
                             "--glue-port", str(glue_port)], env=_env(data), cwd=ROOT, stdout=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.timeout(600)
def test_up_starts_everything_and_stops_it_all(tmp_path):
    data = tmp_path / "data"
    web_port, ms_port, glue_port = free_port(), free_port(), free_port()
    proc = _up(data, web_port, ms_port, glue_port)
    try:
        out = _read_until(proc, "First start")
        assert f"console   http://127.0.0.1:{web_port}/" in out
        assert f"metastore thrift://127.0.0.1:{ms_port}" in out
        assert f"Glue API  http://127.0.0.1:{glue_port}/" in out
        password = re.search(r"created user admin with password (\S+)", out).group(1)
        children = psutil.Process(proc.pid).children()
        commands = sorted(" ".join(c.cmdline()[2:4]) for c in children)
        assert commands == [
            "mortar.cli glue-api",
            "mortar.cli metastore",
            "mortar.cli scheduler",
            "mortar.cli worker",
            "mortar.web_cli web",
        ]
        for port in (ms_port, web_port, glue_port):  # "Mortar is up" is said once they accept connections
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health", timeout=10) as r:
            assert r.status == 200
        s = Settings.load(data_dir=str(data))
        svc = CatalogService.open(s.database_url, s.warehouse)
        assert svc.users.authenticate("admin", password).role == "admin"
        svc.ctx.engine.dispose()
        # the worker's warm pool: mortar up says when a driver is READY (the first run is then warm)
        assert "a Spark driver is warming up" in out
        _read_until(proc, "Warm Spark driver ready", timeout=400)
        assert len(list((data / "run").glob("warm-*"))) == 1
        everyone = children + [g for c in children for g in c.children(recursive=True)]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    gone, alive = psutil.wait_procs(everyone, timeout=30)
    assert alive == []
    assert list((data / "run").glob("warm-*")) == []  # removed by the worker as it stopped

    # a second start finds the admin and prints no password
    proc = _up(data, web_port, ms_port, glue_port)
    try:
        out = _read_until(proc, "worker and scheduler")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    out += proc.stdout.read()
    assert f"console   http://127.0.0.1:{web_port}/" in out and "password" not in out
