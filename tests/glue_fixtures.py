"""A running Mortar answering the Glue API (the web server, or `mortar glue-api`), users of each role with
access keys, and boto3 clients signed with them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from tests.conftest import free_port, wait_for_port

PASSWORD = "correct horse battery"
USERS = {"admin": ("admin", None), "editor": ("editor", None), "viewer": ("viewer", None),
         "limited": ("editor", ["granted"])}  # fmt: skip
REGION = "eu-west-1"


@dataclass
class GlueServer:
    url: str
    database_url: str
    warehouse: Path
    data_dir: Path
    env: dict
    process: subprocess.Popen
    log: Path
    keys: dict = field(default_factory=dict)  # user -> (access key id, secret)

    def client(self, who: str | None = "admin", **config):
        """A boto3 Glue client signed with `who`'s key (None: unsigned)."""
        if who is None:
            return boto3.client("glue", endpoint_url=self.url, region_name=REGION,
                                config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}, **config))  # fmt: skip
        key, secret = self.keys[who]
        return boto3.client("glue", endpoint_url=self.url, region_name=REGION, aws_access_key_id=key,
                            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **config))  # fmt: skip

    def service(self):
        from metastore.catalog import CatalogService
        from metastore.catalog.encryption import Secrets

        return CatalogService.open(self.database_url, str(self.warehouse), secrets=Secrets(self.env["MORTAR_SECRET_KEY"]))


def start_glue(tmp: Path, database_url: str, *, standalone: bool = False, **settings: str) -> GlueServer:
    """Users and keys made in storage first, then the server started on it (`mortar web`, or `mortar glue-api`
    with `standalone`); MORTAR_<NAME> settings from `settings`."""
    from metastore.catalog import CatalogService
    from metastore.catalog.encryption import Secrets, new_key
    from metastore.glue.keys import AccessKeys

    data_dir, warehouse = tmp / "data", tmp / "warehouse"
    env = {**os.environ, "MORTAR_SECRET_KEY": new_key(), "MORTAR_DATA_DIR": str(data_dir),
           "MORTAR_WAREHOUSE": str(warehouse), "MORTAR_DATABASE_URL": database_url,
           **{f"MORTAR_{k.upper()}": v for k, v in settings.items()}}  # fmt: skip
    service = CatalogService.open(database_url, str(warehouse), secrets=Secrets(env["MORTAR_SECRET_KEY"]))
    keys = {}
    for name, (role, dbs) in USERS.items():
        service.users.create(name, PASSWORD, role, dbs)
        key, secret = AccessKeys(service.ctx).create(name, "tests")
        keys[name] = (key.access_key_id, secret)
    service.ctx.engine.dispose()
    port = free_port()
    if standalone:
        cmd = [sys.executable, "-m", "mortar.cli", "glue-api", "--host", "127.0.0.1", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "mortar.web_cli", "web", "--web-host", "127.0.0.1", "--web-port", str(port)]
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    wait_for_port(proc, port, log, "server")
    return GlueServer(f"http://127.0.0.1:{port}", database_url, warehouse, data_dir, env, proc, log, keys)


def stop_glue(server: GlueServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
