"""Trino's metastore calls (from its ThriftHiveMetastore client), sent by a raw Thrift client.

Trino itself cannot be installed here; these are the requests it sends, in its order, including the
calls it tries first and abandons on UNKNOWN_METHOD.
"""

from __future__ import annotations

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.Thrift import TApplicationException
from thrift.transport import TSocket, TTransport

from metastore.hms.gen.hive import ThriftHiveMetastore
from metastore.hms.gen.hive import ttypes as tt
from tests.conftest import unique


@pytest.fixture
def trino(metastore):
    trans = TTransport.TBufferedTransport(TSocket.TSocket(metastore.host, metastore.port))
    trans.open()
    yield ThriftHiveMetastore.Client(TBinaryProtocolAccelerated(trans))
    trans.close()


def _sd(location=None):
    return tt.StorageDescriptor(
        cols=[tt.FieldSchema("id", "bigint", None), tt.FieldSchema("name", "varchar(20)", None)],
        location=location,
        inputFormat="org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        outputFormat="org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        serdeInfo=tt.SerDeInfo("t", "org.apache.hadoop.hive.ql.io.orc.OrcSerde", {}),
        compressed=False, numBuckets=0, bucketCols=[], sortCols=[], parameters={},
        skewedInfo=tt.SkewedInfo([], [], {}), storedAsSubDirectories=False,
    )  # fmt: skip


@pytest.fixture
def schema(trino):
    """A database with a partitioned table and a Trino view, like Trino creates them."""
    db = unique("trino")
    trino.create_database(tt.Database(name=db, description=None, locationUri=None, parameters={}))
    table = tt.Table(tableName="orders", dbName=db, owner="trino", sd=_sd(), tableType="MANAGED_TABLE",
                     partitionKeys=[tt.FieldSchema("ds", "string", None)], parameters={"trino_version": "470"})  # fmt: skip
    trino.create_table(table)
    view = tt.Table(tableName="v_orders", dbName=db, owner="trino", sd=_sd(), tableType="VIRTUAL_VIEW",
                    partitionKeys=[], parameters={"presto_view": "true", "comment": "Presto View"},
                    viewOriginalText="/* Presto View: e30= */", viewExpandedText="/* Presto View */")  # fmt: skip
    trino.create_table(view)
    return db


def test_metadata_listing(trino, schema):
    assert schema in trino.get_all_databases()
    assert trino.get_database(schema).name == schema
    result = trino.get_table_req(tt.GetTableRequest(dbName=schema, tblName="orders"))
    assert result.table.tableName == "orders" and result.table.partitionKeys[0].name == "ds"
    assert trino.get_tables_by_type(schema, "*", "VIRTUAL_VIEW") == ["v_orders"]
    assert trino.get_tables_by_type(schema, "*", "MANAGED_TABLE") == ["orders"]
    assert trino.get_table_names_by_filter(schema, 'hive_filter_field_params__presto_view = "true"', -1) == ["v_orders"]
    assert trino.get_table_names_by_filter(schema, 'hive_filter_field_owner__ = "trino"', -1) == ["orders", "v_orders"]
    assert [f.name for f in trino.get_fields(schema, "orders")] == ["id", "name"]
    assert trino.get_config_value("hive.metastore.try.direct.sql", "true") == "true"


def test_partitions_as_trino_writes_them(trino, schema):
    table = trino.get_table(schema, "orders")
    parts = [tt.Partition(values=[f"2024-05-0{i}"], dbName=schema, tableName="orders", sd=_sd(),
                          parameters={"numRows": str(i)}) for i in range(1, 4)]  # fmt: skip
    assert trino.add_partitions(parts) == 3
    assert trino.get_partition_names_ps(schema, "orders", [], -1) == ["ds=2024-05-01", "ds=2024-05-02", "ds=2024-05-03"]
    got = trino.get_partitions_by_names(schema, "orders", ["ds=2024-05-02", "ds=2024-05-09"])
    assert [p.values for p in got] == [["2024-05-02"]]
    assert got[0].sd.location.endswith(f"/{schema}.db/orders/ds=2024-05-02")
    one = trino.get_partition(schema, "orders", ["2024-05-03"])
    one.parameters["numRows"] = "30"
    trino.alter_partitions_with_environment_context(schema, "orders", [one], tt.EnvironmentContext({}))
    assert trino.get_partition(schema, "orders", ["2024-05-03"]).parameters["numRows"] == "30"
    one.parameters["numRows"] = "31"
    trino.alter_partitions_req(tt.AlterPartitionsRequest(dbName=schema, tableName="orders", partitions=[one]))
    assert trino.get_partition(schema, "orders", ["2024-05-03"]).parameters["numRows"] == "31"
    table.parameters["numRows"] = "6"
    trino.alter_table_req(tt.AlterTableRequest(dbName=schema, tableName="orders", table=table))
    assert trino.get_table(schema, "orders").parameters["numRows"] == "6"
    assert trino.drop_partition(schema, "orders", ["2024-05-01"], True) is True
    assert trino.get_partition_names_ps(schema, "orders", [], -1) == ["ds=2024-05-02", "ds=2024-05-03"]


def _long_stats(col, low, high, nulls, ndv):
    data = tt.ColumnStatisticsData(longStats=tt.LongColumnStatsData(lowValue=low, highValue=high, numNulls=nulls,
                                                                    numDVs=ndv))  # fmt: skip
    return tt.ColumnStatisticsObj(colName=col, colType="bigint", statsData=data)


def test_statistics_as_trino_uses_them(trino, schema):
    trino.add_partitions([tt.Partition(values=["2024-06-01"], dbName=schema, tableName="orders", sd=_sd(),
                                       parameters={})])  # fmt: skip
    desc = tt.ColumnStatisticsDesc(isTblLevel=True, dbName=schema, tableName="orders")
    assert trino.update_table_column_statistics(tt.ColumnStatistics(desc, [_long_stats("id", 1, 99, 0, 42)]))
    stats = trino.get_table_statistics_req(tt.TableStatsRequest(dbName=schema, tblName="orders", colNames=["id", "name"]))
    assert [(s.colName, s.statsData.longStats.highValue, s.statsData.longStats.numDVs) for s in stats.tableStats] == [
        ("id", 99, 42)
    ]
    pdesc = tt.ColumnStatisticsDesc(isTblLevel=False, dbName=schema, tableName="orders", partName="ds=2024-06-01")
    assert trino.update_partition_column_statistics(tt.ColumnStatistics(pdesc, [_long_stats("id", 5, 7, 1, 3)]))
    pstats = trino.get_partitions_statistics_req(tt.PartitionsStatsRequest(
        dbName=schema, tblName="orders", colNames=["id"], partNames=["ds=2024-06-01", "ds=2024-06-02"]))  # fmt: skip
    assert list(pstats.partStats) == ["ds=2024-06-01"]
    assert pstats.partStats["ds=2024-06-01"][0].statsData.longStats.lowValue == 5
    assert trino.delete_table_column_statistics(schema, "orders", "id", "hive")
    empty = trino.get_table_statistics_req(tt.TableStatsRequest(dbName=schema, tblName="orders", colNames=["id"]))
    assert empty.tableStats == []
    assert trino.delete_partition_column_statistics(schema, "orders", "ds=2024-06-01", "id", "hive")


def test_transactions_locks_and_write_ids(trino, schema):
    txn = trino.open_txns(tt.OpenTxnRequest(num_txns=1, user="trino", hostname="worker-1")).txn_ids[0]
    lock = trino.lock(tt.LockRequest(component=[tt.LockComponent(type=tt.LockType.SHARED_WRITE, level=tt.LockLevel.TABLE,
                                                                 dbname=schema, tablename="orders")],
                                     txnid=txn, user="trino", hostname="worker-1"))  # fmt: skip
    assert lock.state == tt.LockState.ACQUIRED
    ids = trino.allocate_table_write_ids(tt.AllocateTableWriteIdsRequest(dbName=schema, tableName="orders", txnIds=[txn]))
    assert [(x.txnId, x.writeId) for x in ids.txnToWriteIds] == [(txn, 1)]
    valid = trino.get_valid_write_ids(tt.GetValidWriteIdsRequest(fullTableNames=[f"{schema}.orders"]))
    entry = valid.tblValidWriteIds[0]
    assert (entry.writeIdHighWaterMark, entry.invalidWriteIds, entry.minOpenWriteId) == (1, [1], 1)
    trino.commit_txn(tt.CommitTxnRequest(txnid=txn))
    entry = trino.get_valid_write_ids(tt.GetValidWriteIdsRequest(fullTableNames=[f"{schema}.orders"])).tblValidWriteIds[0]
    assert (entry.writeIdHighWaterMark, entry.invalidWriteIds) == (1, [])
    shown = trino.show_locks(tt.ShowLocksRequest(dbname=schema, tablename="orders"))
    assert shown.locks == []  # commit released the transaction's lock
    aborted = trino.open_txns(tt.OpenTxnRequest(num_txns=1, user="trino", hostname="worker-1")).txn_ids[0]
    ids = trino.allocate_table_write_ids(tt.AllocateTableWriteIdsRequest(dbName=schema, tableName="orders", txnIds=[aborted]))
    assert ids.txnToWriteIds[0].writeId == 2
    trino.abort_txn(tt.AbortTxnRequest(txnid=aborted))
    entry = trino.get_valid_write_ids(tt.GetValidWriteIdsRequest(fullTableNames=[f"{schema}.orders"])).tblValidWriteIds[0]
    assert (entry.writeIdHighWaterMark, entry.invalidWriteIds, entry.abortedBits) == (2, [2], b"\x01")


def test_roles_privileges_and_tokens(trino):
    assert trino.list_roles("trino", tt.PrincipalType.USER) == []
    assert trino.get_role_names() == ["public", "admin"]
    with pytest.raises(tt.MetaException, match="Kerberos"):
        trino.get_delegation_token("trino", "trino")


def test_unknown_method_lets_trino_fall_back(trino, schema):
    """Trino tries newer calls first and falls back to older ones on UNKNOWN_METHOD."""
    with pytest.raises(TApplicationException) as err:
        trino.get_partitions_by_expr(tt.PartitionsByExprRequest(dbName=schema, tblName="orders", expr=b"\x00"))
    assert err.value.type == TApplicationException.UNKNOWN_METHOD
    assert trino.get_all_databases()  # the connection is still usable
