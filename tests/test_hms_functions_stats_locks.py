"""Functions, column statistics, locks, transactions and session calls through the HMS Thrift protocol."""

from __future__ import annotations

import pytest
from hmsclient.genthrift.hive_metastore import ttypes
from thrift.Thrift import TApplicationException

from tests.conftest import unique
from tests.hms_objects import cols, database, partition, table


@pytest.fixture
def db(hms):
    name = unique("fdb")
    hms.create_database(database(name))
    yield name
    try:
        hms.drop_database(name, True, True)
    except ttypes.NoSuchObjectException:
        pass


# --- functions -------------------------------------------------------------------------------------


def function(
    db: str, name: str, class_name: str = "com.example.udf.Upper", jar: str = "hdfs:///udfs/upper.jar"
):
    return ttypes.Function(functionName=name, dbName=db, className=class_name, ownerName="alice",
                           ownerType=ttypes.PrincipalType.USER, createTime=0, functionType=ttypes.FunctionType.JAVA,
                           resourceUris=[ttypes.ResourceUri(resourceType=ttypes.ResourceType.JAR, uri=jar)])  # fmt: skip


def test_create_and_get_function(hms, db):
    hms.create_function(function(db, "my_upper"))
    f = hms.get_function(db, "my_upper")
    assert (f.functionName, f.dbName, f.className) == ("my_upper", db, "com.example.udf.Upper")
    assert (f.ownerName, f.ownerType, f.functionType) == (
        "alice",
        ttypes.PrincipalType.USER,
        ttypes.FunctionType.JAVA,
    )
    assert [(r.resourceType, r.uri) for r in f.resourceUris] == [
        (ttypes.ResourceType.JAR, "hdfs:///udfs/upper.jar")
    ]
    assert f.createTime > 0
    assert hms.get_function(db, "MY_UPPER").functionName == "my_upper"


def test_list_functions(hms, db):
    for n in ("my_upper", "my_lower", "other_fn"):
        hms.create_function(function(db, n))
    assert hms.get_functions(db, "*") == ["my_lower", "my_upper", "other_fn"]
    assert hms.get_functions(db, "my_*") == ["my_lower", "my_upper"]
    assert hms.get_functions(db, "other*|my_l*") == ["my_lower", "other_fn"]
    assert hms.get_functions(db, "none*") == []
    mine = [
        (f.dbName, f.functionName, f.className) for f in hms.get_all_functions().functions if f.dbName == db
    ]
    assert mine == [(db, "my_lower", "com.example.udf.Upper"), (db, "my_upper", "com.example.udf.Upper"),
                    (db, "other_fn", "com.example.udf.Upper")]  # fmt: skip


def test_alter_function(hms, db):
    hms.create_function(function(db, "fn"))
    hms.alter_function(db, "fn", function(db, "fn", "com.example.udf.Lower", "hdfs:///udfs/lower.jar"))
    f = hms.get_function(db, "fn")
    assert f.className == "com.example.udf.Lower"
    assert [r.uri for r in f.resourceUris] == ["hdfs:///udfs/lower.jar"]
    hms.alter_function(db, "fn", function(db, "fn2", "com.example.udf.Lower"))
    assert hms.get_functions(db, "*") == ["fn2"]
    with pytest.raises(ttypes.NoSuchObjectException, match=f"function {db}.fn does not exist"):
        hms.get_function(db, "fn")


def test_alter_missing_function(hms, db):
    with pytest.raises(ttypes.InvalidOperationException, match=f"function {db}.nope does not exist"):
        hms.alter_function(db, "nope", function(db, "nope"))


def test_drop_function(hms, db):
    hms.create_function(function(db, "gone"))
    hms.drop_function(db, "gone")
    assert hms.get_functions(db, "*") == []
    with pytest.raises(ttypes.NoSuchObjectException, match=f"function {db}.gone does not exist"):
        hms.get_function(db, "gone")
    with pytest.raises(ttypes.NoSuchObjectException, match=f"function {db}.gone does not exist"):
        hms.drop_function(db, "gone")


def test_function_errors(hms, db):
    hms.create_function(function(db, "dup"))
    with pytest.raises(ttypes.AlreadyExistsException, match=f"function {db}.dup already exists"):
        hms.create_function(function(db, "dup", "com.example.Other"))
    assert hms.get_function(db, "dup").className == "com.example.udf.Upper"
    missing = unique("nodb")
    with pytest.raises(ttypes.NoSuchObjectException, match=f"database {missing} does not exist"):
        hms.create_function(function(missing, "f"))
    with pytest.raises(ttypes.InvalidObjectException, match="not a valid object name"):
        hms.create_function(function(db, "bad name"))
    with pytest.raises(ttypes.InvalidObjectException, match="needs a class name"):
        hms.create_function(function(db, "noclass", class_name=""))
    assert hms.get_functions(db, "*") == ["dup"]


def test_database_with_function_needs_cascade(hms, db):
    hms.create_function(function(db, "f"))
    with pytest.raises(ttypes.InvalidOperationException, match="functions"):
        hms.drop_database(db, True, False)
    hms.drop_database(db, True, True)
    assert db not in hms.get_all_databases()


# --- column statistics -----------------------------------------------------------------------------

STATS_COLS = cols("id bigint", "name string", "score double", "active boolean", "amount decimal(10,2)")


def stats_objs(high: int = 100) -> list[ttypes.ColumnStatisticsObj]:
    D = ttypes.ColumnStatisticsData
    return [
        ttypes.ColumnStatisticsObj("id", "bigint", D(longStats=ttypes.LongColumnStatsData(
            lowValue=1, highValue=high, numNulls=0, numDVs=98))),
        ttypes.ColumnStatisticsObj("name", "string", D(stringStats=ttypes.StringColumnStatsData(
            maxColLen=20, avgColLen=7.5, numNulls=2, numDVs=50))),
        ttypes.ColumnStatisticsObj("score", "double", D(doubleStats=ttypes.DoubleColumnStatsData(
            lowValue=-0.5, highValue=99.25, numNulls=1, numDVs=80))),
        ttypes.ColumnStatisticsObj("active", "boolean", D(booleanStats=ttypes.BooleanColumnStatsData(
            numTrues=60, numFalses=39, numNulls=1))),
        ttypes.ColumnStatisticsObj("amount", "decimal(10,2)", D(decimalStats=ttypes.DecimalColumnStatsData(
            lowValue=ttypes.Decimal(unscaled=b"\xff\x38", scale=2), highValue=ttypes.Decimal(unscaled=b"\x27\x0f", scale=2),
            numNulls=0, numDVs=10))),
    ]  # fmt: skip


def table_stats(db, name, objs, last_analyzed=1_700_000_000):
    desc = ttypes.ColumnStatisticsDesc(isTblLevel=True, dbName=db, tableName=name, lastAnalyzed=last_analyzed)
    return ttypes.ColumnStatistics(statsDesc=desc, statsObj=objs)


def partition_stats(db, name, part, objs, last_analyzed=1_700_000_000):
    desc = ttypes.ColumnStatisticsDesc(isTblLevel=False, dbName=db, tableName=name, partName=part,
                                       lastAnalyzed=last_analyzed)  # fmt: skip
    return ttypes.ColumnStatistics(statsDesc=desc, statsObj=objs)


@pytest.fixture
def stats_table(hms, db):
    hms.create_table(table(db, "st", STATS_COLS, cols("dt string")))
    t = hms.get_table(db, "st")
    hms.add_partitions([partition(t, ["a"]), partition(t, ["b"])])
    return "st"


def test_table_column_statistics(hms, db, stats_table):
    sent = stats_objs()
    assert hms.update_table_column_statistics(table_stats(db, "st", sent)) is True
    got = hms.get_table_column_statistics(db, "st", "id")
    assert got.statsDesc.isTblLevel is True
    assert (got.statsDesc.dbName, got.statsDesc.tableName, got.statsDesc.lastAnalyzed) == (
        db,
        "st",
        1_700_000_000,
    )
    assert got.statsObj == [sent[0]]
    names = ["amount", "id", "name", "score", "active"]
    result = hms.get_table_statistics_req(ttypes.TableStatsRequest(dbName=db, tblName="st", colNames=names))
    by_name = {o.colName: o for o in result.tableStats}
    assert sorted(by_name) == sorted(names)
    for o in sent:
        assert by_name[o.colName] == o
    amount = by_name["amount"].statsData.decimalStats
    assert (amount.lowValue.unscaled, amount.lowValue.scale) == (b"\xff\x38", 2)
    assert by_name["score"].statsData.doubleStats.highValue == 99.25
    assert by_name["active"].statsData.booleanStats.numTrues == 60


def test_update_table_statistics_replaces(hms, db, stats_table):
    hms.update_table_column_statistics(table_stats(db, "st", stats_objs(100)))
    hms.update_table_column_statistics(table_stats(db, "st", stats_objs(500)[:1]))
    got = hms.get_table_column_statistics(db, "st", "id")
    assert got.statsObj[0].statsData.longStats.highValue == 500
    result = hms.get_table_statistics_req(
        ttypes.TableStatsRequest(dbName=db, tblName="st", colNames=["name"])
    )
    assert result.tableStats[0].statsData.stringStats.maxColLen == 20


def test_table_statistics_errors(hms, db, stats_table):
    bad = ttypes.ColumnStatisticsObj("nope", "int", ttypes.ColumnStatisticsData(
        longStats=ttypes.LongColumnStatsData(numNulls=0, numDVs=1)))  # fmt: skip
    with pytest.raises(ttypes.InvalidObjectException, match=f"column nope does not exist in table {db}.st"):
        hms.update_table_column_statistics(table_stats(db, "st", [bad]))
    with pytest.raises(ttypes.NoSuchObjectException, match=f"{db}.missing"):
        hms.update_table_column_statistics(table_stats(db, "missing", stats_objs()[:1]))
    with pytest.raises(ttypes.NoSuchObjectException, match="no statistics for column id"):
        hms.get_table_column_statistics(db, "st", "id")
    result = hms.get_table_statistics_req(ttypes.TableStatsRequest(dbName=db, tblName="st", colNames=["id"]))
    assert result.tableStats == []


def test_delete_table_column_statistics(hms, db, stats_table):
    hms.update_table_column_statistics(table_stats(db, "st", stats_objs()))
    assert hms.delete_table_column_statistics(db, "st", "id") is True
    with pytest.raises(ttypes.NoSuchObjectException, match="no statistics for column id"):
        hms.get_table_column_statistics(db, "st", "id")
    assert hms.get_table_column_statistics(db, "st", "name").statsObj[0].colName == "name"
    with pytest.raises(ttypes.NoSuchObjectException, match="no statistics for column id"):
        hms.delete_table_column_statistics(db, "st", "id")
    assert hms.delete_table_column_statistics(db, "st", None) is True
    result = hms.get_table_statistics_req(ttypes.TableStatsRequest(dbName=db, tblName="st",
                                                                   colNames=["name", "score"]))  # fmt: skip
    assert result.tableStats == []


def test_partition_column_statistics(hms, db, stats_table):
    sent = stats_objs()
    assert hms.update_partition_column_statistics(partition_stats(db, "st", "dt=a", sent)) is True
    assert (
        hms.update_partition_column_statistics(partition_stats(db, "st", "dt=b", stats_objs(7)[:1])) is True
    )
    req = ttypes.PartitionsStatsRequest(dbName=db, tblName="st", colNames=["id", "active"],
                                        partNames=["dt=a", "dt=b", "dt=zz"])  # fmt: skip
    result = hms.get_partitions_statistics_req(req)
    assert sorted(result.partStats) == ["dt=a", "dt=b"]
    assert sorted((o.colName, o) for o in result.partStats["dt=a"]) == sorted(
        [("id", sent[0]), ("active", sent[3])]
    )
    assert [o.statsData.longStats.highValue for o in result.partStats["dt=b"]] == [7]
    got = hms.get_partition_column_statistics(db, "st", "dt=a", "score")
    assert got.statsDesc.isTblLevel is False
    assert got.statsDesc.partName == "dt=a"
    assert got.statsObj == [sent[2]]
    # table-level statistics are separate
    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_table_column_statistics(db, "st", "id")


def test_partition_statistics_errors(hms, db, stats_table):
    with pytest.raises(ttypes.NoSuchObjectException, match="partition dt=zz"):
        hms.update_partition_column_statistics(partition_stats(db, "st", "dt=zz", stats_objs()[:1]))
    with pytest.raises(ttypes.NoSuchObjectException, match="no statistics for column id of partition dt=a"):
        hms.get_partition_column_statistics(db, "st", "dt=a", "id")


def test_delete_partition_column_statistics(hms, db, stats_table):
    hms.update_partition_column_statistics(partition_stats(db, "st", "dt=a", stats_objs()))
    assert hms.delete_partition_column_statistics(db, "st", "dt=a", "id") is True
    req = ttypes.PartitionsStatsRequest(dbName=db, tblName="st", colNames=["id", "name"], partNames=["dt=a"])
    assert [o.colName for o in hms.get_partitions_statistics_req(req).partStats["dt=a"]] == ["name"]
    with pytest.raises(ttypes.NoSuchObjectException, match="no statistics for column id of partition dt=a"):
        hms.delete_partition_column_statistics(db, "st", "dt=a", "id")
    with pytest.raises(ttypes.NoSuchObjectException, match="partition dt=zz"):
        hms.delete_partition_column_statistics(db, "st", "dt=zz", "id")


def test_dropping_partition_drops_its_statistics(hms, db, stats_table):
    hms.update_partition_column_statistics(partition_stats(db, "st", "dt=a", stats_objs()))
    hms.drop_partition(db, "st", ["a"], True)
    t = hms.get_table(db, "st")
    hms.add_partitions([partition(t, ["a"])])
    req = ttypes.PartitionsStatsRequest(dbName=db, tblName="st", colNames=["id"], partNames=["dt=a"])
    assert hms.get_partitions_statistics_req(req).partStats == {}


# --- locks -----------------------------------------------------------------------------------------


def component(db, tbl, lock_type=ttypes.LockType.EXCLUSIVE, level=ttypes.LockLevel.TABLE):
    return ttypes.LockComponent(type=lock_type, level=level, dbname=db, tablename=tbl)


def lock(hms, *components, txnid=None, user="alice"):
    return hms.lock(ttypes.LockRequest(component=list(components), txnid=txnid, user=user, hostname="host-1",
                                       agentInfo="tests"))  # fmt: skip


def state(hms, lockid):
    return hms.check_lock(ttypes.CheckLockRequest(lockid=lockid)).state


def test_exclusive_lock_queue(hms, db):
    ACQUIRED, WAITING = ttypes.LockState.ACQUIRED, ttypes.LockState.WAITING
    first = lock(hms, component(db, "t1"))
    assert first.state == ACQUIRED
    second = lock(hms, component(db, "t1"), user="bob")
    assert second.state == WAITING
    assert second.lockid != first.lockid
    assert state(hms, second.lockid) == WAITING
    assert state(hms, second.lockid) == WAITING
    other = lock(hms, component(db, "t2", ttypes.LockType.SHARED_READ))
    assert other.state == ACQUIRED
    reader = lock(hms, component(db, "t1", ttypes.LockType.SHARED_READ))
    assert reader.state == WAITING  # behind the exclusive locks
    assert state(hms, first.lockid) == ACQUIRED

    hms.unlock(ttypes.UnlockRequest(lockid=first.lockid))
    assert state(hms, second.lockid) == ACQUIRED
    assert state(hms, reader.lockid) == WAITING
    hms.unlock(ttypes.UnlockRequest(lockid=second.lockid))
    assert state(hms, reader.lockid) == ACQUIRED
    for lk in (other, reader):
        hms.unlock(ttypes.UnlockRequest(lockid=lk.lockid))
    assert hms.show_locks(ttypes.ShowLocksRequest(dbname=db)).locks == []


def test_shared_read_locks_do_not_conflict(hms, db):
    a = lock(hms, component(db, "t", ttypes.LockType.SHARED_READ))
    b = lock(hms, component(db, "t", ttypes.LockType.SHARED_READ))
    assert (a.state, b.state) == (ttypes.LockState.ACQUIRED, ttypes.LockState.ACQUIRED)
    writer = lock(hms, component(db, "t", ttypes.LockType.EXCLUSIVE))
    assert writer.state == ttypes.LockState.WAITING
    for lk in (a, b, writer):
        hms.unlock(ttypes.UnlockRequest(lockid=lk.lockid))


def test_database_lock_blocks_its_tables(hms, db):
    dblock = lock(
        hms, ttypes.LockComponent(type=ttypes.LockType.EXCLUSIVE, level=ttypes.LockLevel.DB, dbname=db)
    )
    assert dblock.state == ttypes.LockState.ACQUIRED
    t = lock(hms, component(db, "any_table", ttypes.LockType.SHARED_READ))
    assert t.state == ttypes.LockState.WAITING
    hms.unlock(ttypes.UnlockRequest(lockid=dblock.lockid))
    assert state(hms, t.lockid) == ttypes.LockState.ACQUIRED
    hms.unlock(ttypes.UnlockRequest(lockid=t.lockid))


def test_show_locks(hms, db):
    a = lock(hms, component(db, "t1"), user="alice")
    b = lock(hms, component(db, "t1"), user="bob")
    c = lock(hms, component(db, "t2", ttypes.LockType.SHARED_READ), user="carol")
    try:
        shown = hms.show_locks(ttypes.ShowLocksRequest(dbname=db)).locks
        assert [(e.lockid, e.dbname, e.tablename, e.state, e.type, e.user, e.hostname) for e in shown] == [
            (a.lockid, db, "t1", ttypes.LockState.ACQUIRED, ttypes.LockType.EXCLUSIVE, "alice", "host-1"),
            (b.lockid, db, "t1", ttypes.LockState.WAITING, ttypes.LockType.EXCLUSIVE, "bob", "host-1"),
            (c.lockid, db, "t2", ttypes.LockState.ACQUIRED, ttypes.LockType.SHARED_READ, "carol", "host-1"),
        ]
        assert shown[0].acquiredat > 0 and shown[0].lastheartbeat > 0
        assert not shown[1].acquiredat
        assert [
            e.lockid for e in hms.show_locks(ttypes.ShowLocksRequest(dbname=db, tablename="t2")).locks
        ] == [c.lockid]
        assert {e.lockid for e in hms.show_locks(ttypes.ShowLocksRequest()).locks} >= {
            a.lockid,
            b.lockid,
            c.lockid,
        }
    finally:
        for lk in (a, b, c):
            hms.unlock(ttypes.UnlockRequest(lockid=lk.lockid))


def test_unknown_lock(hms):
    with pytest.raises(ttypes.NoSuchLockException, match="lock 987654321 does not exist"):
        hms.check_lock(ttypes.CheckLockRequest(lockid=987654321))
    with pytest.raises(ttypes.NoSuchLockException, match="lock 987654321 does not exist"):
        hms.heartbeat(ttypes.HeartbeatRequest(lockid=987654321))
    # unlock of an unknown (released, expired) lock is no error, as on the reference HMS: pyiceberg
    # unlocks in a `finally` after its commit has landed
    hms.unlock(ttypes.UnlockRequest(lockid=987654321))


def test_unlock_twice(hms, db):
    lk = lock(hms, component(db, "t"))
    other = lock(hms, component(db, "u"))
    hms.unlock(ttypes.UnlockRequest(lockid=lk.lockid))
    hms.unlock(ttypes.UnlockRequest(lockid=lk.lockid))
    assert [e.lockid for e in hms.show_locks(ttypes.ShowLocksRequest(dbname=db)).locks] == [other.lockid]
    with pytest.raises(ttypes.NoSuchLockException, match=f"lock {lk.lockid} does not exist"):
        hms.check_lock(ttypes.CheckLockRequest(lockid=lk.lockid))
    hms.unlock(ttypes.UnlockRequest(lockid=other.lockid))


def test_heartbeat(hms, db):
    lk = lock(hms, component(db, "t"))
    before = hms.show_locks(ttypes.ShowLocksRequest(dbname=db)).locks[0].lastheartbeat
    hms.heartbeat(ttypes.HeartbeatRequest(lockid=lk.lockid))
    after = hms.show_locks(ttypes.ShowLocksRequest(dbname=db)).locks[0].lastheartbeat
    assert after >= before
    assert state(hms, lk.lockid) == ttypes.LockState.ACQUIRED
    hms.unlock(ttypes.UnlockRequest(lockid=lk.lockid))


def test_bad_lock_request(hms):
    with pytest.raises(TApplicationException, match="a lock request needs at least one component"):
        lock(hms)


# --- transactions ----------------------------------------------------------------------------------


def test_open_and_commit_transaction(hms, db):
    opened = hms.open_txns(ttypes.OpenTxnRequest(num_txns=2, user="alice", hostname="host-1"))
    assert len(opened.txn_ids) == 2
    first, second = opened.txn_ids
    assert second == first + 1
    assert hms.get_open_txns().txn_high_water_mark >= second

    lk = lock(hms, component(db, "t", ttypes.LockType.SHARED_WRITE), txnid=first)
    assert lk.state == ttypes.LockState.ACQUIRED
    with pytest.raises(ttypes.TxnOpenException, match=f"transaction {first}"):
        hms.unlock(ttypes.UnlockRequest(lockid=lk.lockid))
    hms.heartbeat(ttypes.HeartbeatRequest(txnid=first))
    hms.commit_txn(ttypes.CommitTxnRequest(txnid=first))
    assert hms.show_locks(ttypes.ShowLocksRequest(dbname=db)).locks == []  # commit releases the locks
    hms.abort_txn(ttypes.AbortTxnRequest(txnid=second))


def test_abort_transaction_releases_locks(hms, db):
    (txn,) = hms.open_txns(ttypes.OpenTxnRequest(num_txns=1, user="alice", hostname="host-1")).txn_ids
    held = lock(hms, component(db, "t"), txnid=txn)
    assert held.state == ttypes.LockState.ACQUIRED
    waiting = lock(hms, component(db, "t"))
    assert waiting.state == ttypes.LockState.WAITING
    hms.abort_txn(ttypes.AbortTxnRequest(txnid=txn))
    assert state(hms, waiting.lockid) == ttypes.LockState.ACQUIRED
    hms.unlock(ttypes.UnlockRequest(lockid=waiting.lockid))


def test_transaction_state_errors(hms):
    committed, aborted = hms.open_txns(ttypes.OpenTxnRequest(num_txns=2, user="u", hostname="h")).txn_ids
    hms.commit_txn(ttypes.CommitTxnRequest(txnid=committed))
    hms.abort_txn(ttypes.AbortTxnRequest(txnid=aborted))
    with pytest.raises(ttypes.TxnAbortedException, match=f"transaction {aborted} is already aborted"):
        hms.commit_txn(ttypes.CommitTxnRequest(txnid=aborted))
    with pytest.raises(ttypes.NoSuchTxnException, match=f"transaction {committed} is already committed"):
        hms.abort_txn(ttypes.AbortTxnRequest(txnid=committed))
    with pytest.raises(ttypes.TxnAbortedException, match=f"transaction {aborted}"):
        hms.heartbeat(ttypes.HeartbeatRequest(txnid=aborted))
    with pytest.raises(ttypes.TxnAbortedException, match=f"transaction {aborted}"):
        lock(hms, component("default", "t"), txnid=aborted)


def test_repeated_commit_and_abort_are_idempotent(hms):
    committed, aborted = hms.open_txns(ttypes.OpenTxnRequest(num_txns=2, user="u", hostname="h")).txn_ids
    hms.commit_txn(ttypes.CommitTxnRequest(txnid=committed))
    hms.commit_txn(ttypes.CommitTxnRequest(txnid=committed))  # HMS: a retried commit succeeds
    hms.abort_txn(ttypes.AbortTxnRequest(txnid=aborted))
    hms.abort_txn(ttypes.AbortTxnRequest(txnid=aborted))


def test_unknown_transaction(hms):
    with pytest.raises(ttypes.NoSuchTxnException, match="transaction 987654321 does not exist"):
        hms.commit_txn(ttypes.CommitTxnRequest(txnid=987654321))
    with pytest.raises(ttypes.NoSuchTxnException, match="transaction 987654321 does not exist"):
        hms.abort_txn(ttypes.AbortTxnRequest(txnid=987654321))
    with pytest.raises(ttypes.NoSuchTxnException, match="transaction 987654321 does not exist"):
        lock(hms, component("default", "t"), txnid=987654321)


# --- configuration, notifications, fb303, session -------------------------------------------------


def test_get_config_value_default(hms):
    key = f"hive.test.{unique('k')}"
    assert hms.get_config_value(key, "fallback") == "fallback"
    hms.setMetaConf(key, "set-value")
    assert hms.getMetaConf(key) == "set-value"
    assert hms.get_config_value(key, "fallback") == "set-value"


def test_notification_event_id_increases_after_mutation(hms):
    before = hms.get_current_notificationEventId().eventId
    name = unique("ndb")
    hms.get_all_databases()
    assert hms.get_current_notificationEventId().eventId == before  # reads are not events
    hms.create_database(database(name))
    after_create = hms.get_current_notificationEventId().eventId
    assert after_create > before
    hms.create_table(table(name, "t"))
    after_table = hms.get_current_notificationEventId().eventId
    assert after_table > after_create
    hms.drop_database(name, True, True)
    assert hms.get_current_notificationEventId().eventId > after_table


def test_failed_mutation_is_not_an_event(hms):
    before = hms.get_current_notificationEventId().eventId
    with pytest.raises(ttypes.AlreadyExistsException):
        hms.create_database(database("default"))
    assert hms.get_current_notificationEventId().eventId == before


def test_fb303(hms):
    assert hms.getName() == "Mortar metastore"
    assert hms.getVersion() == "3.1.3-mortar"
    assert hms.getStatus() == 2  # fb_status.ALIVE
    assert hms.aliveSince() > 0


def test_set_ugi_returns_groups(hms):
    assert hms.set_ugi("alice", ["analysts", "admins"]) == ["analysts", "admins"]
    assert hms.set_ugi("bob", []) == []
