"""pyiceberg's HiveCatalog against a running Mortar metastore: namespaces, tables, data, schema evolution,
properties, and commits from concurrent processes and from a writer killed while holding a lock."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa
import pytest
from hmsclient import hmsclient
from hmsclient.genthrift.hive_metastore import ttypes as ht
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from tests.conftest import database_url, start_metastore, stop_metastore, unique

pytestmark = pytest.mark.timeout(120)

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(2, "name", StringType(), required=False),
)
ARROW_SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])


def catalog_for(ms, **extra):
    return load_catalog(
        "mortar",
        **{"type": "hive", "uri": ms.uri, "warehouse": f"file://{ms.warehouse}", **extra},
    )


@pytest.fixture
def catalog(metastore):
    return catalog_for(metastore)


@pytest.fixture
def namespace(catalog):
    ns = unique("ice")
    catalog.create_namespace(ns)
    yield ns
    for ident in catalog.list_tables(ns):
        catalog.drop_table(ident)
    catalog.drop_namespace(ns)


def rows(ids, names):
    return pa.table(
        {"id": pa.array(ids, pa.int64()), "name": pa.array(names, pa.string())}, schema=ARROW_SCHEMA
    )


def sorted_pylist(table: pa.Table, *cols) -> list:
    return sorted(zip(*(table.column(c).to_pylist() for c in cols), strict=True))


def hms_client(ms) -> hmsclient.HMSClient:
    client = hmsclient.HMSClient(host=ms.host, port=ms.port)
    client.open()
    return client


def locks_on(ms, db: str, table: str) -> list:
    client = hms_client(ms)
    try:
        return client.show_locks(ht.ShowLocksRequest(dbname=db, tablename=table)).locks or []
    finally:
        client.close()


# --- namespaces ---------------------------------------------------------------------------------------


def test_namespace_lifecycle(catalog, hms):
    ns = unique("ns")
    catalog.create_namespace(ns, {"comment": "made by pyiceberg", "owner_team": "data"})
    assert (ns,) in catalog.list_namespaces()
    assert ns in hms.get_all_databases()

    props = catalog.load_namespace_properties(ns)
    assert props["comment"] == "made by pyiceberg"
    assert props["owner_team"] == "data"
    assert props["location"], props  # the server gives every database a location
    assert hms.get_database(ns).description == "made by pyiceberg"

    with pytest.raises(NamespaceAlreadyExistsError):
        catalog.create_namespace(ns)

    summary = catalog.update_namespace_properties(
        ns, removals={"owner_team", "missing_key"}, updates={"tier": "gold"}
    )
    assert summary.removed == ["owner_team"]
    assert summary.updated == ["tier"]
    assert summary.missing == ["missing_key"]
    props = catalog.load_namespace_properties(ns)
    assert props["tier"] == "gold"
    assert "owner_team" not in props

    catalog.drop_namespace(ns)
    assert (ns,) not in catalog.list_namespaces()
    with pytest.raises(NoSuchNamespaceError):
        catalog.load_namespace_properties(ns)
    with pytest.raises(NoSuchNamespaceError):
        catalog.drop_namespace(ns)


def test_drop_non_empty_namespace_is_refused(catalog, namespace):
    catalog.create_table((namespace, "t1"), SCHEMA)
    with pytest.raises(NamespaceNotEmptyError):
        catalog.drop_namespace(namespace)
    assert (namespace,) in catalog.list_namespaces()
    assert catalog.list_tables(namespace) == [(namespace, "t1")]


# --- tables -------------------------------------------------------------------------------------------


def test_create_load_list_drop_tables(catalog, namespace, hms):
    created = catalog.create_table(
        (namespace, "events"), SCHEMA, properties={"write.format.default": "parquet"}
    )
    catalog.create_table((namespace, "users"), SCHEMA)

    assert sorted(catalog.list_tables(namespace)) == [(namespace, "events"), (namespace, "users")]
    assert catalog.table_exists((namespace, "events"))
    with pytest.raises(TableAlreadyExistsError):
        catalog.create_table((namespace, "events"), SCHEMA)

    loaded = catalog.load_table((namespace, "events"))
    assert loaded.metadata.table_uuid == created.metadata.table_uuid
    assert loaded.schema().as_struct() == SCHEMA.as_struct()
    assert loaded.metadata_location == created.metadata_location
    assert loaded.properties["write.format.default"] == "parquet"
    assert loaded.current_snapshot() is None

    hive = hms.get_table(namespace, "events")
    assert hive.parameters["table_type"].upper() == "ICEBERG"
    assert hive.parameters["metadata_location"] == created.metadata_location
    assert [(c.name, c.type) for c in hive.sd.cols] == [("id", "bigint"), ("name", "string")]

    # a plain Hive table in the same database is not listed as an Iceberg table
    hms.create_table(ht.Table(dbName=namespace, tableName="plain", tableType="EXTERNAL_TABLE", parameters={},
                              sd=ht.StorageDescriptor(cols=[ht.FieldSchema("x", "int")], serdeInfo=ht.SerDeInfo()),
                              partitionKeys=[]))  # fmt: skip
    assert sorted(catalog.list_tables(namespace)) == [(namespace, "events"), (namespace, "users")]
    hms.drop_table(namespace, "plain", False)

    catalog.drop_table((namespace, "users"))
    assert catalog.list_tables(namespace) == [(namespace, "events")]
    assert not catalog.table_exists((namespace, "users"))
    with pytest.raises(NoSuchTableError):
        catalog.load_table((namespace, "users"))
    with pytest.raises(NoSuchTableError):
        catalog.drop_table((namespace, "users"))
    with pytest.raises(NoSuchTableError):
        catalog.load_table((unique("nodb"), "users"))


def test_append_read_overwrite(catalog, namespace, hms):
    ident = (namespace, "data")
    table = catalog.create_table(ident, SCHEMA)
    location0 = hms.get_table(namespace, "data").parameters["metadata_location"]

    table.append(rows([1, 2, 3], ["a", "b", "c"]))
    table.append(rows([4], ["d"]))

    reloaded = catalog.load_table(ident)
    assert len(reloaded.snapshots()) == 2
    assert sorted_pylist(reloaded.scan().to_arrow(), "id", "name") == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert sorted_pylist(reloaded.scan(row_filter="id >= 3").to_arrow(), "id") == [(3,), (4,)]

    params = hms.get_table(namespace, "data").parameters
    assert params["metadata_location"] == reloaded.metadata_location != location0
    assert params["previous_metadata_location"] != params["metadata_location"]

    reloaded.overwrite(rows([10, 20], ["x", "y"]))
    again = catalog.load_table(ident)
    assert sorted_pylist(again.scan().to_arrow(), "id", "name") == [(10, "x"), (20, "y")]
    # pyiceberg writes an overwrite as a delete snapshot then an append snapshot
    assert [s.summary.operation.value for s in again.snapshots()] == ["append", "append", "delete", "append"]
    # older snapshots stay readable (time travel)
    first = again.snapshots()[0].snapshot_id
    assert sorted_pylist(again.scan(snapshot_id=first).to_arrow(), "id") == [(1,), (2,), (3,)]


def test_schema_evolution(catalog, namespace, hms):
    ident = (namespace, "evolving")
    table = catalog.create_table(ident, SCHEMA)
    table.append(rows([1], ["a"]))
    before = hms.get_table(namespace, "evolving").parameters["metadata_location"]

    with table.update_schema() as update:
        update.add_column("score", LongType(), doc="points")

    reloaded = catalog.load_table(ident)
    assert [f.name for f in reloaded.schema().fields] == ["id", "name", "score"]
    assert reloaded.schema().find_field("score").doc == "points"

    hive = hms.get_table(namespace, "evolving")
    assert [(c.name, c.type) for c in hive.sd.cols] == [
        ("id", "bigint"),
        ("name", "string"),
        ("score", "bigint"),
    ]
    assert hive.sd.cols[2].comment == "points"
    after = hive.parameters["metadata_location"]
    assert after != before
    assert after == reloaded.metadata_location
    assert hive.parameters["previous_metadata_location"] == before

    reloaded.append(
        pa.table({"id": pa.array([2], pa.int64()), "name": ["b"], "score": pa.array([7], pa.int64())})
    )
    data = catalog.load_table(ident).scan().to_arrow()
    assert sorted_pylist(data, "id", "name", "score") == [(1, "a", None), (2, "b", 7)]

    with reloaded.update_schema() as update:
        update.rename_column("name", "label")
    hive = hms.get_table(namespace, "evolving")
    assert [c.name for c in hive.sd.cols] == ["id", "label", "score"]
    assert sorted_pylist(catalog.load_table(ident).scan().to_arrow(), "id", "label") == [(1, "a"), (2, "b")]


def test_table_properties(catalog, namespace, hms):
    ident = (namespace, "props")
    catalog.create_table(ident, SCHEMA, properties={"team": "core"})
    assert hms.get_table(namespace, "props").parameters["team"] == "core"

    table = catalog.load_table(ident)
    with table.transaction() as tx:
        tx.set_properties(team="platform", retention="30d")
    reloaded = catalog.load_table(ident)
    assert reloaded.properties["team"] == "platform"
    assert reloaded.properties["retention"] == "30d"
    params = hms.get_table(namespace, "props").parameters
    assert params["team"] == "platform"
    assert params["retention"] == "30d"

    with reloaded.transaction() as tx:
        tx.remove_properties("retention")
    assert "retention" not in catalog.load_table(ident).properties
    params = hms.get_table(namespace, "props").parameters
    assert "retention" not in params
    assert params["team"] == "platform"


def test_stale_commit_is_refused(catalog, namespace):
    """Two writers start from the same snapshot: the second commit must fail, not overwrite the first."""
    ident = (namespace, "stale")
    catalog.create_table(ident, SCHEMA, properties={"commit.retry.num-retries": "0"})
    first, second = catalog.load_table(ident), catalog_for_same(catalog).load_table(ident)
    first.append(rows([1], ["first"]))
    with pytest.raises(CommitFailedException):
        second.append(rows([2], ["second"]))
    final = catalog.load_table(ident)
    assert len(final.snapshots()) == 1
    assert sorted_pylist(final.scan().to_arrow(), "id", "name") == [(1, "first")]
    # with pyiceberg's default retries the second writer rebases on the new snapshot and lands
    with final.transaction() as tx:
        tx.remove_properties("commit.retry.num-retries")
    retrying = catalog.load_table(ident)
    other = catalog.load_table(ident)
    retrying.append(rows([3], ["third"]))
    other.append(rows([4], ["fourth"]))
    final = catalog.load_table(ident)
    assert len(final.snapshots()) == 3
    assert sorted_pylist(final.scan().to_arrow(), "id") == [(1,), (3,), (4,)]


def catalog_for_same(catalog):
    return load_catalog("other", **catalog.properties)


# --- concurrency --------------------------------------------------------------------------------------

APPENDER = textwrap.dedent(
    """
    import json, sys
    import pyarrow as pa
    from pyiceberg.catalog import load_catalog
    from pyiceberg.exceptions import CommitFailedException

    uri, warehouse, db, table_name, writer, n, per = sys.argv[1:8]
    writer, n, per = int(writer), int(n), int(per)
    catalog = load_catalog("mortar", **{"type": "hive", "uri": uri, "warehouse": warehouse,
                                        "lock-check-min-wait-time": "0.05", "lock-check-max-wait-time": "0.5",
                                        "lock-check-retries": "60"})
    table = catalog.load_table((db, table_name))
    print("ready", flush=True)
    sys.stdin.readline()  # wait for "go", so that both writers start together
    ok, failed, other = [], [], []
    for i in range(n):
        data = pa.table({"writer": pa.array([writer] * per, pa.int64()), "seq": pa.array([i] * per, pa.int64()),
                         "k": pa.array(list(range(per)), pa.int64())})
        try:
            table.append(data)
            ok.append(i)
        except CommitFailedException as e:
            failed.append([i, str(e)[:200]])
            table = catalog.load_table((db, table_name))
        except Exception as e:  # anything else is a defect: report it
            other.append([i, type(e).__name__, str(e)[:500]])
            table = catalog.load_table((db, table_name))
    print(json.dumps({"ok": ok, "failed": failed, "other": other}), flush=True)
    """
)


def test_concurrent_appends_from_two_processes(catalog, namespace, metastore):
    n, per, writers = 10, 5, 2
    ident = (namespace, "contended")
    catalog.create_table(
        ident,
        Schema(
            NestedField(1, "writer", LongType()),
            NestedField(2, "seq", LongType()),
            NestedField(3, "k", LongType()),
        ),
        properties={"commit.retry.num-retries": "0"},  # a lost race surfaces as CommitFailedException
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, metastore.uri, f"file://{metastore.warehouse}", namespace, "contended",
             str(w), str(n), str(per)],  # fmt: skip
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(writers)
    ]  # fmt: skip
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=90)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()

    for r in results:
        assert r["other"] == [], r["other"]
        assert len(r["ok"]) + len(r["failed"]) == n
    successes = {(w, i) for w, r in enumerate(results) for i in r["ok"]}
    assert successes, results

    table = catalog.load_table(ident)
    assert len(table.snapshots()) == len(successes)
    # the snapshots form one chain from the current one back to the first
    chain, snap = [], table.current_snapshot()
    while snap is not None:
        chain.append(snap.snapshot_id)
        snap = table.snapshot_by_id(snap.parent_snapshot_id) if snap.parent_snapshot_id else None
    assert sorted(chain) == sorted(s.snapshot_id for s in table.snapshots())
    assert table.current_snapshot().summary["total-records"] == str(len(successes) * per)

    data = table.scan().to_arrow()
    assert data.num_rows == len(successes) * per
    written = sorted_pylist(data, "writer", "seq", "k")
    assert written == sorted((w, i, k) for w, i in successes for k in range(per))

    assert locks_on(metastore, namespace, "contended") == []


@contextlib.contextmanager
def heartbeating(ms, lock_id: int):
    """Keep a lock alive (from its own connection) for the duration of the block."""
    stop = threading.Event()

    def beat() -> None:
        client = hms_client(ms)
        try:
            while not stop.is_set():
                client.heartbeat(ht.HeartbeatRequest(lockid=lock_id))
                stop.wait(0.3)
        finally:
            client.close()

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from hmsclient import hmsclient
    from hmsclient.genthrift.hive_metastore import ttypes as ht

    host, port, db, table_name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = hmsclient.HMSClient(host=host, port=port)
    client.open()
    comp = ht.LockComponent(type=ht.LockType.EXCLUSIVE, level=ht.LockLevel.TABLE, dbname=db, tablename=table_name)
    resp = client.lock(ht.LockRequest(component=[comp], user="holder", hostname="holder-host"))
    print(resp.lockid, ht.LockState._VALUES_TO_NAMES[resp.state], flush=True)
    while True:  # a live writer heartbeats; this one does until it is killed
        client.heartbeat(ht.HeartbeatRequest(lockid=resp.lockid))
        time.sleep(0.3)
    """
)


@pytest.fixture(params=["sqlite", "postgresql"])
def short_lock_metastore(request, tmp_path, pg_databases, monkeypatch):
    """A dedicated server whose locks expire 3 s after their holder's last heartbeat."""
    monkeypatch.setenv("MORTAR_LOCK_TIMEOUT_S", "3")
    ms = start_metastore(request.param, tmp_path, database_url(request.param, tmp_path, pg_databases))
    yield ms
    stop_metastore(ms)


def test_lock_of_killed_writer_expires(short_lock_metastore):
    ms = short_lock_metastore
    catalog = catalog_for(ms)
    ns = unique("locks")
    catalog.create_namespace(ns)
    catalog.create_table((ns, "t"), SCHEMA)

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, ms.host, str(ms.port), ns, "t"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    client = hms_client(ms)
    try:
        line = holder.stdout.readline().split()
        assert len(line) == 2 and line[1] == "ACQUIRED", (
            line,
            holder.stderr.read() if holder.poll() is not None else "",
        )
        held = int(line[0])
        comp = ht.LockComponent(
            type=ht.LockType.EXCLUSIVE, level=ht.LockLevel.TABLE, dbname=ns, tablename="t"
        )
        mine = client.lock(ht.LockRequest(component=[comp], user="me", hostname="here"))
        # the holder is alive and heartbeating: the new request must wait
        assert mine.state == ht.LockState.WAITING
        assert client.check_lock(ht.CheckLockRequest(lockid=mine.lockid)).state == ht.LockState.WAITING
        shown = {
            lk.lockid: lk for lk in client.show_locks(ht.ShowLocksRequest(dbname=ns, tablename="t")).locks
        }
        assert shown[held].state == ht.LockState.ACQUIRED and shown[held].user == "holder"
        assert shown[mine.lockid].state == ht.LockState.WAITING

        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)

        state = None
        deadline = time.time() + 15
        while time.time() < deadline:
            state = client.check_lock(ht.CheckLockRequest(lockid=mine.lockid)).state
            if state == ht.LockState.ACQUIRED:
                break
            time.sleep(0.2)
        assert state == ht.LockState.ACQUIRED
        remaining = client.show_locks(ht.ShowLocksRequest(dbname=ns, tablename="t")).locks
        assert [lk.lockid for lk in remaining] == [mine.lockid]
        with pytest.raises(ht.NoSuchLockException):
            client.check_lock(ht.CheckLockRequest(lockid=held))

        # while this (live, heartbeated) lock is held a pyiceberg commit cannot land; once released, it does
        quick = catalog_for(
            ms,
            **{
                "lock-check-min-wait-time": "0.05",
                "lock-check-max-wait-time": "0.1",
                "lock-check-retries": "3",
            },
        )
        with heartbeating(ms, mine.lockid):
            with pytest.raises(CommitFailedException):
                quick.load_table((ns, "t")).append(rows([1], ["blocked"]))
            assert [lk.lockid for lk in locks_on(ms, ns, "t")] == [mine.lockid]
        client.unlock(ht.UnlockRequest(lockid=mine.lockid))
        quick.load_table((ns, "t")).append(rows([2], ["landed"]))
        assert sorted_pylist(quick.load_table((ns, "t")).scan().to_arrow(), "id", "name") == [(2, "landed")]
        assert locks_on(ms, ns, "t") == []
    finally:
        client.close()
        if holder.poll() is None:
            holder.kill()
    assert ms.alive()
