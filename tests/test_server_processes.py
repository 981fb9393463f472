"""`mortar metastore --processes N`: several processes accept on one port and share the storage."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from hmsclient import hmsclient
from hmsclient.genthrift.hive_metastore import ttypes as tt

from tests.conftest import database_url, start_metastore


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_share_port_and_storage(backend, tmp_path, pg_databases):
    ms = start_metastore(backend, tmp_path, database_url(backend, tmp_path, pg_databases), "--processes", "2")
    try:
        # the port answers as soon as one process listens; the other may still be starting
        deadline = time.time() + 20
        while len(children := psutil.Process(ms.process.pid).children()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(children) == 2

        def create(i: int) -> str:
            with hmsclient.HMSClient(host=ms.host, port=ms.port) as c:
                c.create_database(tt.Database(f"proc_db_{i}", "", None, {}))
                return c.getName()

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(create, range(24))) == {"Mortar metastore"}
        with hmsclient.HMSClient(host=ms.host, port=ms.port) as c:
            assert sorted(d for d in c.get_all_databases() if d.startswith("proc_db_")) == sorted(
                f"proc_db_{i}" for i in range(24)
            )
    finally:
        os.kill(ms.process.pid, signal.SIGTERM)
        ms.process.wait(15)
    assert all(not child.is_running() or child.status() == psutil.STATUS_ZOMBIE for child in children)
