"""The same Thrift calls against Mortar and the reference Hive Metastore: same objects, same exceptions.

Answers are normalised (times, the warehouse root and fields that HMS 2.3 does not have are left out);
exceptions compare by type. Differences made on purpose are listed in tests/reference.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hmsclient import hmsclient
from hmsclient.genthrift.hive_metastore import ttypes as tt

from tests.conftest import free_port
from tests.reference import DELIBERATE_DIFFERENCES, start_reference, stop_reference

pytestmark = [pytest.mark.reference, pytest.mark.timeout(600)]
DB = "cmp_thrift"
UNORDERED = {"get_table_objects_by_name", "get_partitions_ps"}  # HMS does not specify the order of these
VOLATILE = {"createTime", "lastAccessTime", "transient_lastDdlTime", "catName", "catalogName", "ownerType",
            "privileges", "lastAnalyzed", "lockid", "lastheartbeat", "acquiredat", "txnid", "hostname",
            "agentInfo", "heartbeatCount", "blockedByExtId", "blockedByIntId", "createdAt"}  # fmt: skip


def normalise(value, root: str):
    if isinstance(value, list):
        return [normalise(v, root) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v, root) for k, v in sorted(value.items()) if k not in VOLATILE}
    if hasattr(value, "thrift_spec"):
        return {
            spec[2]: normalise(getattr(value, spec[2]), root)
            for spec in value.thrift_spec
            if spec is not None and spec[2] not in VOLATILE and getattr(value, spec[2]) not in (None, [], {})
        }
    if isinstance(value, str):
        return value.replace(root, "<WH>")
    return value


def table(name: str, location: str | None = None, partitioned: bool = True) -> tt.Table:
    sd = tt.StorageDescriptor(
        cols=[tt.FieldSchema("id", "bigint", "the id"), tt.FieldSchema("name", "string", None)],
        location=location, inputFormat="org.apache.hadoop.mapred.TextInputFormat",
        outputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat", compressed=False, numBuckets=-1,
        serdeInfo=tt.SerDeInfo(None, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", {"field.delim": ","}),
        bucketCols=[], sortCols=[], parameters={},
    )  # fmt: skip
    keys = [tt.FieldSchema("dt", "string", None), tt.FieldSchema("hr", "int", None)] if partitioned else []
    return tt.Table(tableName=name, dbName=DB, owner="tester", sd=sd, partitionKeys=keys,
                    parameters={"purpose": "compare"}, tableType="MANAGED_TABLE")  # fmt: skip


def partition(t: tt.Table, values: list[str]) -> tt.Partition:
    return tt.Partition(values=values, dbName=DB, tableName=t.tableName, sd=t.sd, parameters={})


def scenario() -> list[tuple[str, object]]:
    """(step name, function of the client) in order; each answer or exception is recorded."""
    t = table("events")
    lock = tt.LockRequest(component=[tt.LockComponent(type=tt.LockType.EXCLUSIVE, level=tt.LockLevel.TABLE,
                                                      dbname=DB, tablename="events")],
                          user="tester", hostname="localhost")  # fmt: skip
    state: dict = {}

    def take_lock(c):
        resp = c.lock(lock)
        state.setdefault("locks", []).append(resp.lockid)
        return resp

    steps = [
        ("create_database", lambda c: c.create_database(tt.Database(DB, "compare", None, {"k": "v"}))),
        ("create_database again", lambda c: c.create_database(tt.Database(DB, "compare", None, {}))),
        ("get_database", lambda c: c.get_database(DB)),
        ("get_database missing", lambda c: c.get_database("cmp_missing")),
        ("get_databases pattern", lambda c: c.get_databases("cmp_*")),
        ("create_table", lambda c: c.create_table(t)),
        ("create_table again", lambda c: c.create_table(t)),
        ("create_table bad name", lambda c: c.create_table(table("bad name!"))),
        ("create_table unpartitioned", lambda c: c.create_table(table("plain", partitioned=False))),
        ("get_table", lambda c: c.get_table(DB, "events")),
        ("get_table missing", lambda c: c.get_table(DB, "missing")),
        ("get_table missing db", lambda c: c.get_table("cmp_missing", "events")),
        ("get_tables", lambda c: c.get_tables(DB, "*")),
        ("get_tables pattern", lambda c: c.get_tables(DB, "ev*|pl*")),
        ("get_all_tables", lambda c: c.get_all_tables(DB)),
        ("get_fields", lambda c: c.get_fields(DB, "events")),
        ("get_schema", lambda c: c.get_schema(DB, "events")),
        ("get_table_objects_by_name", lambda c: c.get_table_objects_by_name(DB, ["plain", "missing", "events"])),
        ("add_partitions", lambda c: c.add_partitions(
            [partition(t, [d, str(h)]) for d in ("2024-01-01", "2024-01-02", "2024-01-03") for h in (1, 9, 12)])),
        ("add_partitions duplicate", lambda c: c.add_partitions([partition(t, ["2024-01-01", "1"])])),
        ("add_partition wrong arity", lambda c: c.add_partition(partition(t, ["2024-01-04"]))),
        ("get_partition_names", lambda c: c.get_partition_names(DB, "events", -1)),
        ("get_partition_names max", lambda c: c.get_partition_names(DB, "events", 2)),
        ("get_partitions", lambda c: c.get_partitions(DB, "events", -1)),
        ("get_partition", lambda c: c.get_partition(DB, "events", ["2024-01-02", "9"])),
        ("get_partition missing", lambda c: c.get_partition(DB, "events", ["2024-01-09", "9"])),
        ("get_partition_by_name", lambda c: c.get_partition_by_name(DB, "events", "dt=2024-01-03/hr=12")),
        ("get_partitions_ps", lambda c: c.get_partitions_ps(DB, "events", ["2024-01-02"], -1)),
        ("get_partition_names_ps", lambda c: c.get_partition_names_ps(DB, "events", ["", "12"], -1)),
        ("get_partitions_by_names", lambda c: c.get_partitions_by_names(
            DB, "events", ["dt=2024-01-01/hr=9", "dt=2024-01-09/hr=1"])),
        ("filter and", lambda c: c.get_partitions_by_filter(DB, "events", 'dt = "2024-01-03" and hr >= 12', -1)),
        ("filter or", lambda c: c.get_partitions_by_filter(DB, "events", '(dt = "2024-01-01") or (dt = "2024-01-02")', -1)),
        ("filter range", lambda c: c.get_partitions_by_filter(DB, "events", 'dt >= "2024-01-02"', -1)),
        ("filter int", lambda c: c.get_partitions_by_filter(DB, "events", "hr > 8", -1)),
        ("filter like", lambda c: c.get_partitions_by_filter(DB, "events", 'dt like "2024-01-0.*"', -1)),
        ("filter bad", lambda c: c.get_partitions_by_filter(DB, "events", "dt = = 3", -1)),
        ("alter_table add column", lambda c: c.alter_table(DB, "plain", _with_column(c.get_table(DB, "plain")))),
        ("get_fields after alter", lambda c: c.get_fields(DB, "plain")),
        ("drop_partition", lambda c: c.drop_partition(DB, "events", ["2024-01-01", "1"], True)),
        ("drop_partition missing", lambda c: c.drop_partition(DB, "events", ["2024-01-01", "1"], True)),
        ("get_partition_names after drop", lambda c: c.get_partition_names(DB, "events", -1)),
        ("drop_partitions_req deleteData unset", lambda c: _drop_with_files(c, "dt=2024-01-03/hr=1", None)),
        ("drop_partitions_req deleteData false", lambda c: _drop_with_files(c, "dt=2024-01-03/hr=9", False)),
        ("drop_partitions_req deleteData true", lambda c: _drop_with_files(c, "dt=2024-01-02/hr=1", True)),
        ("create_function", lambda c: c.create_function(tt.Function(
            "to_upper", DB, "org.apache.hadoop.hive.ql.udf.generic.GenericUDFUpper", "tester", tt.PrincipalType.USER,
            0, tt.FunctionType.JAVA, [tt.ResourceUri(tt.ResourceType.JAR, "file:/tmp/udf.jar")]))),
        ("get_function", lambda c: c.get_function(DB, "to_upper")),
        ("get_functions", lambda c: c.get_functions(DB, "to_*")),
        ("get_function missing", lambda c: c.get_function(DB, "nope")),
        ("drop_function", lambda c: c.drop_function(DB, "to_upper")),
        ("lock", take_lock),
        ("lock conflicting", take_lock),
        ("check_lock waiting", lambda c: c.check_lock(tt.CheckLockRequest(state["locks"][1]))),
        ("unlock first", lambda c: c.unlock(tt.UnlockRequest(state["locks"][0]))),
        ("check_lock acquired", lambda c: c.check_lock(tt.CheckLockRequest(state["locks"][1]))),
        ("unlock second", lambda c: c.unlock(tt.UnlockRequest(state["locks"][1]))),
        ("unlock unknown", lambda c: c.unlock(tt.UnlockRequest(987654321))),
        ("drop_table missing", lambda c: c.drop_table(DB, "missing", True)),
        ("drop_database missing", lambda c: c.drop_database("cmp_missing", True, False)),
        ("drop_database not empty", lambda c: c.drop_database(DB, True, False)),
        ("drop_table", lambda c: c.drop_table(DB, "plain", True)),
        ("drop_database cascade", lambda c: c.drop_database(DB, True, True)),
        ("get_databases after", lambda c: c.get_databases("cmp_*")),
    ]  # fmt: skip
    return steps


def _drop_with_files(c, name: str, delete_data: bool | None) -> dict:
    """Drop a partition whose folder holds a file; answers whether the folder is still there."""
    path = Path(c.get_partition_by_name(DB, "events", name).sd.location.removeprefix("file:"))
    path.mkdir(parents=True, exist_ok=True)
    (path / "part-0").write_text("1,a\n")
    req = tt.DropPartitionsRequest(DB, "events", tt.RequestPartsSpec(names=[name]), deleteData=delete_data)
    dropped = c.drop_partitions_req(req).partitions
    return {"dropped": [p.values for p in dropped], "folder kept": path.exists()}


def _with_column(t: tt.Table) -> tt.Table:
    t.sd.cols.append(tt.FieldSchema("extra", "double", "added"))
    return t


def run(host: str, port: int, root: str) -> list[tuple[str, object]]:
    answers = []
    with hmsclient.HMSClient(host=host, port=port) as client:
        for name, step in scenario():
            try:
                answers.append((name, normalise(step(client), root)))
            except Exception as e:  # noqa: BLE001 - the exception type is the answer
                answers.append((name, f"raises {type(e).__name__}"))
    return answers


@pytest.fixture(scope="session")
def reference_answers(tmp_path_factory):
    base = tmp_path_factory.mktemp("reference-thrift") / "hms"
    port = free_port()
    pid = start_reference(base, port)
    try:
        return run("127.0.0.1", port, f"file:{base / 'warehouse'}")
    finally:
        stop_reference(pid)


def test_same_answers_as_reference_hms(metastore, reference_answers):
    ours = run(metastore.host, metastore.port, f"file:{metastore.warehouse}")
    differences = []
    for (name, mine), (_, theirs) in zip(ours, reference_answers, strict=True):
        if name in UNORDERED and isinstance(mine, list) and isinstance(theirs, list):
            mine, theirs = sorted(mine, key=repr), sorted(theirs, key=repr)
        listed = ("thrift", name) in DELIBERATE_DIFFERENCES
        if (mine != theirs) != listed:
            differences.append({"step": name, "mortar": mine, "reference": theirs, "listed": listed})
    assert differences == []
