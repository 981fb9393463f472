"""The other Python Hive Metastore clients: pymetastore, and hive-metastore-client (which pins
thrift 0.13, so it runs from a virtualenv of its own, made once per test session)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from hmsclient.genthrift.hive_metastore import ttypes as tt

from tests.conftest import unique


def _table(db: str, name: str) -> tt.Table:
    sd = tt.StorageDescriptor(
        cols=[tt.FieldSchema("id", "bigint", "key"), tt.FieldSchema("name", "string", None)],
        inputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        outputFormat="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        serdeInfo=tt.SerDeInfo(None, "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", {}),
        compressed=False, numBuckets=-1, bucketCols=[], sortCols=[], parameters={},
    )  # fmt: skip
    return tt.Table(tableName=name, dbName=db, owner="me", sd=sd, partitionKeys=[tt.FieldSchema("dt", "string", None)],
                    parameters={"k": "v"}, tableType="EXTERNAL_TABLE")  # fmt: skip


def test_pymetastore(metastore, hms):
    from pymetastore.metastore import HMS

    db = unique("pym")
    hms.create_database(tt.Database(db, "for pymetastore", None, {}))
    t = _table(db, "events")
    hms.create_table(t)
    hms.add_partitions([tt.Partition(values=[d], dbName=db, tableName="events", sd=t.sd, parameters={})
                        for d in ("2024-01-01", "2024-01-02")])  # fmt: skip
    with HMS.create(host=metastore.host, port=metastore.port) as client:
        assert db in client.list_databases()
        assert client.get_database(db).name == db
        assert client.list_tables(db) == ["events"]
        table = client.get_table(db, "events")
        assert [c.name for c in table.columns] == ["id", "name"]
        assert [c.name for c in table.partition_columns] == ["dt"]
        assert client.list_columns(db, "events") == ["id", "name"]
        assert client.list_partitions(db, "events") == ["dt=2024-01-01", "dt=2024-01-02"]
        assert [p.values for p in client.get_partitions(db, "events")] == [["2024-01-01"], ["2024-01-02"]]
        assert client.get_partition(db, "events", "dt=2024-01-02").values == ["2024-01-02"]


HMC_SCRIPT = textwrap.dedent('''
    import json, sys
    from hive_metastore_client import HiveMetastoreClient
    from hive_metastore_client.builders import (ColumnBuilder, DatabaseBuilder, PartitionBuilder, SerDeInfoBuilder,
                                                StorageDescriptorBuilder, TableBuilder)
    host, port, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    cols = [ColumnBuilder("id", "bigint").build(), ColumnBuilder("name", "string").build()]
    serde = SerDeInfoBuilder(serialization_lib="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe").build()
    sd = StorageDescriptorBuilder(columns=cols, location="/tmp/hmc-" + db, input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                                  output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat", serde_info=serde).build()
    out = {}
    with HiveMetastoreClient(host, port) as c:
        c.create_database_if_not_exists(DatabaseBuilder(db).build())
        c.create_database_if_not_exists(DatabaseBuilder(db).build())  # exists: no error
        table = TableBuilder(table_name="t", db_name=db, storage_descriptor=sd,
                             partition_keys=[ColumnBuilder("dt", "string").build()]).build()
        c.create_external_table(table)
        parts = [PartitionBuilder(values=[d], db_name=db, table_name="t", sd=sd).build() for d in ("a", "b", "c")]
        c.add_partitions_to_table(db, "t", parts[:2])
        c.add_partitions_if_not_exists(db, "t", parts)
        out["keys"] = c.get_partition_keys_names(db, "t")
        out["values"] = sorted(c.get_partition_values_from_table(db, "t"))  # get_partitions with an i32 max_parts
        c.add_columns_to_table(db, "t", [ColumnBuilder("extra", "double").build()])
        out["columns"] = [f.name for f in c.get_table(db, "t").sd.cols]
        c.bulk_drop_partitions(db, "t", [["a"], ["b"]])
        out["left"] = c.get_partition_names(db, "t", -1)
    print(json.dumps(out))
''')


@pytest.fixture(scope="session")
def hmc_python(tmp_path_factory):
    venv = tmp_path_factory.mktemp("hmc") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "hive-metastore-client==1.0.9"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    return str(venv / "bin" / "python")


@pytest.mark.timeout(900)
def test_hive_metastore_client(metastore, hmc_python):
    db = unique("hmc")
    proc = subprocess.run([hmc_python, "-c", HMC_SCRIPT, metastore.host, str(metastore.port), db],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out == {"keys": ["dt"], "values": [["a"], ["b"], ["c"]], "columns": ["id", "name", "extra"],
                   "left": ["dt=c"]}  # fmt: skip
