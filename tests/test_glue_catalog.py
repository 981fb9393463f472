"""The Glue API's Data Catalog operations with boto3 against a running Mortar (`mortar glue-api` on SQLite and
PostgreSQL, and the web server's port on SQLite): databases, tables and their versions, SearchTables, partitions (Expression, Segment, batches,
paginators), partition indexes, column statistics, functions, tags; a table made through Thrift seen through
Glue and back; and the same scenario against moto's Glue server, compared shape by shape."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import BACKENDS, database_url, start_metastore, stop_metastore, unique
from tests.glue_fixtures import start_glue, stop_glue

# storage x server: `mortar glue-api` (the production server) on every backend, the web port's mount on SQLite
SERVERS = [*((b, "glue-api") for b in BACKENDS), ("sqlite", "web")]


@pytest.fixture(scope="module", params=SERVERS, ids=[f"{b}-{k}" for b, k in SERVERS])
def server(request, tmp_path_factory, pg_databases):
    backend, kind = request.param
    tmp = tmp_path_factory.mktemp(f"glue-{backend}-{kind}")
    s = start_glue(tmp, database_url(backend, tmp, pg_databases), standalone=kind == "glue-api")
    s.backend = backend
    yield s
    stop_glue(s)


@pytest.fixture
def glue(server):
    return server.client("admin")


def _sd(location: str, cols=(("a", "int"), ("b", "string"))) -> dict:
    return {"Columns": [{"Name": n, "Type": t} for n, t in cols], "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                          "Parameters": {"serialization.format": "1"}}}  # fmt: skip


def _db(glue, server) -> str:
    name = unique("gdb")
    glue.create_database(DatabaseInput={"Name": name, "Description": "made by Glue",
                                        "LocationUri": str(server.warehouse / name), "Parameters": {"k": "v"}})  # fmt: skip
    return name


def _table(glue, server, db: str, keys=(("dt", "string"), ("hr", "int"))) -> str:
    name = unique("gt")
    glue.create_table(DatabaseName=db, TableInput={
        "Name": name, "Description": "a table", "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": _sd(str(server.warehouse / db / name)),
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in keys], "Parameters": {"classification": "parquet"}})  # fmt: skip
    return name


def test_databases(glue, server):
    name = _db(glue, server)
    got = glue.get_database(Name=name)["Database"]
    assert (got["Name"], got["Description"], got["Parameters"]) == (name, "made by Glue", {"k": "v"})
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": name})
    extra = [_db(glue, server) for _ in range(3)]
    pages = list(glue.get_paginator("get_databases").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3 and all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
    names = [d["Name"] for p in pages for d in p["DatabaseList"]]
    assert len(names) == len(set(names)) and {name, *extra, "default"} <= set(names)
    glue.update_database(Name=name, DatabaseInput={"Name": name, "Description": "changed", "Parameters": {"x": "y"}})
    got = glue.get_database(Name=name)["Database"]
    assert (got["Description"], got["Parameters"]) == ("changed", {"x": "y"})
    _table(glue, server, name)
    glue.delete_database(Name=name)  # with its tables, as Glue does
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name=name)
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_database(Name=name)


def test_tables_versions_and_concurrency(glue, server):
    db = _db(glue, server)
    name = _table(glue, server, db)
    table = glue.get_table(DatabaseName=db, Name=name)["Table"]
    assert table["Description"] == "a table" and table["TableType"] == "EXTERNAL_TABLE"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "hr"]
    assert table["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"serialization.format": "1"}
    v1 = table["VersionId"]
    update = {"Name": name, "TableType": "EXTERNAL_TABLE", "PartitionKeys": table["PartitionKeys"],
              "StorageDescriptor": _sd(table["StorageDescriptor"]["Location"], (("a", "int"), ("b", "string"), ("c", "double"))),
              "Parameters": {"classification": "parquet", "step": "2"}}  # fmt: skip
    glue.update_table(DatabaseName=db, TableInput=update, VersionId=v1)
    with pytest.raises(glue.exceptions.ConcurrentModificationException):
        glue.update_table(DatabaseName=db, TableInput=update, VersionId=v1)
    table = glue.get_table(DatabaseName=db, Name=name)["Table"]
    assert table["VersionId"] != v1 and table["Parameters"]["step"] == "2"
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["a", "b", "c"]

    # two writers race with the same VersionId: exactly one wins
    results = []

    def write(i):
        body = {**update, "Parameters": {"writer": str(i)}}
        try:
            server.client("editor").update_table(DatabaseName=db, TableInput=body, VersionId=table["VersionId"])
            results.append(("ok", i))
        except Exception as e:  # noqa: BLE001
            results.append((type(e).__name__, i))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for r, i in results if r == "ok"]
    assert len(winners) == 1 and sorted(r for r, _ in results).count("ConcurrentModificationException") == 3
    assert glue.get_table(DatabaseName=db, Name=name)["Table"]["Parameters"]["writer"] == str(winners[0])

    versions = [v for p in glue.get_paginator("get_table_versions").paginate(DatabaseName=db, TableName=name)
                for v in p["TableVersions"]]  # fmt: skip
    assert [v["VersionId"] for v in versions] == ["3", "2", "1"]
    assert versions[2]["Table"]["Parameters"]["classification"] == "parquet" and "step" not in versions[2]["Table"]["Parameters"]
    assert glue.get_table_version(DatabaseName=db, TableName=name, VersionId="2")["TableVersion"]["Table"]["Parameters"]["step"] == "2"
    glue.delete_table_version(DatabaseName=db, TableName=name, VersionId="1")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table_version(DatabaseName=db, TableName=name, VersionId="1")
    errors = glue.batch_delete_table_version(DatabaseName=db, TableName=name, VersionIds=["2", "1", "3"])["Errors"]
    assert sorted(e["VersionId"] for e in errors) == ["1", "3"]  # 1 is gone, 3 is the current one
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.update_table(DatabaseName=db, TableInput=update, VersionId="not-a-number")

    others = [_table(glue, server, db) for _ in range(3)]
    listed = [t["Name"] for p in glue.get_paginator("get_tables").paginate(DatabaseName=db, PaginationConfig={"PageSize": 2})
              for t in p["TableList"]]  # fmt: skip
    assert sorted(listed) == sorted([name, *others])
    assert [t["Name"] for t in glue.get_tables(DatabaseName=db, Expression=name[:6] + "*" + name[-4:])["TableList"]] == [name]
    errors = glue.batch_delete_table(DatabaseName=db, TablesToDelete=[others[0], "nope"])["Errors"]
    assert [(e["TableName"], e["ErrorDetail"]["ErrorCode"]) for e in errors] == [("nope", "EntityNotFoundException")]
    glue.delete_table(DatabaseName=db, Name=others[1])
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName=db, Name=others[1])
    assert (server.warehouse / db / name).exists()  # Glue never deletes data


def test_search_tables(glue, server):
    db = _db(glue, server)
    names = [_table(glue, server, db) for _ in range(3)]
    glue.update_table(DatabaseName=db, TableInput={"Name": names[1], "Description": "orders of the shop",
                                                   "StorageDescriptor": _sd("/tmp/x"), "Parameters": {"team": "sales"}})  # fmt: skip
    found = glue.search_tables(SearchText="orders", Filters=[{"Key": "DatabaseName", "Value": db}])["TableList"]
    assert [t["Name"] for t in found] == [names[1]]
    found = glue.search_tables(Filters=[{"Key": "DatabaseName", "Value": db}, {"Key": "team", "Value": "sales"}])["TableList"]
    assert [t["Name"] for t in found] == [names[1]]
    pages, token = [], None  # botocore has no paginator for SearchTables: its callers loop on NextToken
    while True:
        page = glue.search_tables(Filters=[{"Key": "DatabaseName", "Value": db}], MaxResults=2,
                                  SortCriteria=[{"FieldName": "Name", "Sort": "DESC"}], **({"NextToken": token} if token else {}))  # fmt: skip
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            break
    assert [t["Name"] for p in pages for t in p["TableList"]] == sorted(names, reverse=True) and len(pages) == 2


def test_partitions(glue, server):
    db = _db(glue, server)
    name = _table(glue, server, db)
    loc = str(server.warehouse / db / name)
    parts = [{"Values": [f"2024-01-{d:02d}", str(h)], "StorageDescriptor": _sd(f"{loc}/dt=2024-01-{d:02d}/hr={h}"),
              "Parameters": {"n": str(d * 100 + h)}} for d in range(1, 11) for h in range(25)]  # fmt: skip
    for i in range(0, len(parts), 100):
        assert glue.batch_create_partition(DatabaseName=db, TableName=name, PartitionInputList=parts[i : i + 100]).get("Errors", []) == []
    errors = glue.batch_create_partition(DatabaseName=db, TableName=name, PartitionInputList=parts[:2])["Errors"]
    assert [e["ErrorDetail"]["ErrorCode"] for e in errors] == ["AlreadyExistsException"] * 2
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_partition(DatabaseName=db, TableName=name, PartitionInput=parts[0])

    paginator = glue.get_paginator("get_partitions")
    pages = list(paginator.paginate(DatabaseName=db, TableName=name, PaginationConfig={"PageSize": 60}))
    got = [tuple(p["Values"]) for page in pages for p in page["Partitions"]]
    assert len(pages) == 5 and len(got) == 250 and set(got) == {tuple(p["Values"]) for p in parts}
    first = pages[0]["Partitions"][0]
    assert first["StorageDescriptor"]["Location"].endswith("hr=0") and first["Parameters"]["n"] == "100"
    assert [c["Name"] for c in first["StorageDescriptor"]["Columns"]] == ["a", "b"]
    lean = glue.get_partitions(DatabaseName=db, TableName=name, ExcludeColumnSchema=True, MaxResults=1)["Partitions"][0]
    assert "Columns" not in lean["StorageDescriptor"] and lean["Values"] == first["Values"]  # as Trino asks

    segments = [{tuple(p["Values"]) for page in paginator.paginate(DatabaseName=db, TableName=name,
                 Segment={"SegmentNumber": i, "TotalSegments": 3}) for p in page["Partitions"]} for i in range(3)]  # fmt: skip
    assert sum(map(len, segments)) == 250 and set().union(*segments) == set(got) and all(segments)

    def expr(e):
        return sorted(tuple(p["Values"]) for page in paginator.paginate(DatabaseName=db, TableName=name, Expression=e)
                      for p in page["Partitions"])  # fmt: skip

    assert expr("dt = '2024-01-03' AND hr BETWEEN 2 AND 4") == [("2024-01-03", "2"), ("2024-01-03", "3"), ("2024-01-03", "4")]
    assert expr("dt LIKE '2024-01-1%' AND hr IN (7, 24)") == [("2024-01-10", "24"), ("2024-01-10", "7")]
    assert len(expr("hr > 20 OR dt = '2024-01-01'")) == 10 * 4 + 21
    assert len(expr("NOT (hr <> 3)")) == 10
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.get_partitions(DatabaseName=db, TableName=name, Expression="dt = = 'x'")

    got = glue.batch_get_partition(DatabaseName=db, TableName=name, PartitionsToGet=[
        {"Values": ["2024-01-01", "1"]}, {"Values": ["2024-01-02", "2"]}, {"Values": ["1999-01-01", "0"]}])["Partitions"]  # fmt: skip
    assert sorted(tuple(p["Values"]) for p in got) == [("2024-01-01", "1"), ("2024-01-02", "2")]
    one = glue.get_partition(DatabaseName=db, TableName=name, PartitionValues=["2024-01-05", "5"])["Partition"]
    assert one["Parameters"]["n"] == "505" and one["TableName"] == name

    glue.update_partition(DatabaseName=db, TableName=name, PartitionValueList=["2024-01-05", "5"],
                          PartitionInput={**parts[0], "Values": ["2024-01-05", "5"], "Parameters": {"n": "changed"}})  # fmt: skip
    assert glue.get_partition(DatabaseName=db, TableName=name, PartitionValues=["2024-01-05", "5"])["Partition"]["Parameters"]["n"] == "changed"
    glue.update_partition(DatabaseName=db, TableName=name, PartitionValueList=["2024-01-05", "5"],
                          PartitionInput={"Values": ["2024-02-05", "5"], "StorageDescriptor": _sd(f"{loc}/moved")})  # fmt: skip
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_partition(DatabaseName=db, TableName=name, PartitionValues=["2024-01-05", "5"])
    errors = glue.batch_update_partition(DatabaseName=db, TableName=name, Entries=[
        {"PartitionValueList": ["2024-01-06", "6"], "PartitionInput": {"Values": ["2024-01-06", "6"], "Parameters": {"n": "b"},
                                                                       "StorageDescriptor": _sd(f"{loc}/b")}},
        {"PartitionValueList": ["1999-01-01", "0"], "PartitionInput": {"Values": ["1999-01-01", "0"]}}])["Errors"]  # fmt: skip
    assert [e["PartitionValueList"] for e in errors] == [["1999-01-01", "0"]]
    assert glue.get_partition(DatabaseName=db, TableName=name, PartitionValues=["2024-01-06", "6"])["Partition"]["Parameters"]["n"] == "b"

    errors = glue.batch_delete_partition(DatabaseName=db, TableName=name, PartitionsToDelete=[
        {"Values": ["2024-01-01", "1"]}, {"Values": ["1999-01-01", "0"]}])["Errors"]  # fmt: skip
    assert [(e["PartitionValues"], e["ErrorDetail"]["ErrorCode"]) for e in errors] == [(["1999-01-01", "0"], "EntityNotFoundException")]
    glue.delete_partition(DatabaseName=db, TableName=name, PartitionValues=["2024-01-01", "2"])
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_partition(DatabaseName=db, TableName=name, PartitionValues=["2024-01-01", "2"])
    assert len(expr("")) == 248


def test_partition_indexes(glue, server):
    db = _db(glue, server)
    name = _table(glue, server, db)
    glue.create_partition_index(DatabaseName=db, TableName=name, PartitionIndex={"IndexName": "by_dt", "Keys": ["dt"]})
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_partition_index(DatabaseName=db, TableName=name, PartitionIndex={"IndexName": "by_dt", "Keys": ["dt"]})
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.create_partition_index(DatabaseName=db, TableName=name, PartitionIndex={"IndexName": "x", "Keys": ["a"]})
    got = glue.get_partition_indexes(DatabaseName=db, TableName=name)["PartitionIndexDescriptorList"]
    assert got == [{"IndexName": "by_dt", "Keys": [{"Name": "dt", "Type": "string"}], "IndexStatus": "ACTIVE",
                    "BackfillErrors": []}]  # fmt: skip
    glue.delete_partition_index(DatabaseName=db, TableName=name, IndexName="by_dt")
    assert glue.get_partition_indexes(DatabaseName=db, TableName=name)["PartitionIndexDescriptorList"] == []
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_partition_index(DatabaseName=db, TableName=name, IndexName="by_dt")


def test_column_statistics(glue, server):
    db = _db(glue, server)
    name = _table(glue, server, db)
    glue.create_partition(DatabaseName=db, TableName=name, PartitionInput={"Values": ["d", "1"], "StorageDescriptor": _sd("/tmp/p")})
    stats = [
        {"ColumnName": "a", "ColumnType": "int", "AnalyzedTime": 1700000000,
         "StatisticsData": {"Type": "LONG", "LongColumnStatisticsData": {"MinimumValue": -3, "MaximumValue": 9,
                                                                         "NumberOfNulls": 1, "NumberOfDistinctValues": 7}}},
        {"ColumnName": "b", "ColumnType": "string", "AnalyzedTime": 1700000000,
         "StatisticsData": {"Type": "STRING", "StringColumnStatisticsData": {"MaximumLength": 10, "AverageLength": 4.5,
                                                                             "NumberOfNulls": 0, "NumberOfDistinctValues": 3}}},
    ]  # fmt: skip
    assert glue.update_column_statistics_for_table(DatabaseName=db, TableName=name, ColumnStatisticsList=stats)["Errors"] == []
    got = glue.get_column_statistics_for_table(DatabaseName=db, TableName=name, ColumnNames=["a", "b", "nope"])
    assert [s["StatisticsData"] for s in got["ColumnStatisticsList"]] == [s["StatisticsData"] for s in stats]
    assert [e["ColumnName"] for e in got["Errors"]] == ["nope"]
    bad = [{**stats[0], "ColumnName": "zzz"}]
    assert glue.update_column_statistics_for_table(DatabaseName=db, TableName=name, ColumnStatisticsList=bad)["Errors"]
    glue.delete_column_statistics_for_table(DatabaseName=db, TableName=name, ColumnName="a")
    assert [s["ColumnName"] for s in glue.get_column_statistics_for_table(
        DatabaseName=db, TableName=name, ColumnNames=["a", "b"])["ColumnStatisticsList"]] == ["b"]  # fmt: skip
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.delete_column_statistics_for_table(DatabaseName=db, TableName=name, ColumnName="a")

    kw = {"DatabaseName": db, "TableName": name, "PartitionValues": ["d", "1"]}
    assert glue.update_column_statistics_for_partition(**kw, ColumnStatisticsList=stats[:1])["Errors"] == []
    got = glue.get_column_statistics_for_partition(**kw, ColumnNames=["a"])["ColumnStatisticsList"]
    assert got[0]["StatisticsData"] == stats[0]["StatisticsData"]
    glue.delete_column_statistics_for_partition(**kw, ColumnName="a")
    assert glue.get_column_statistics_for_partition(**kw, ColumnNames=["a"])["ColumnStatisticsList"] == []
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_column_statistics_for_partition(**{**kw, "PartitionValues": ["x", "9"]}, ColumnNames=["a"])


def test_user_defined_functions(glue, server):
    db = _db(glue, server)
    fn = {"FunctionName": "to_upper", "ClassName": "com.example.Upper", "OwnerName": "me", "OwnerType": "USER",
          "ResourceUris": [{"ResourceType": "JAR", "Uri": "file:///tmp/u.jar"}]}  # fmt: skip
    glue.create_user_defined_function(DatabaseName=db, FunctionInput=fn)
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_user_defined_function(DatabaseName=db, FunctionInput=fn)
    got = glue.get_user_defined_function(DatabaseName=db, FunctionName="to_upper")["UserDefinedFunction"]
    assert {k: got[k] for k in fn} == fn and got["DatabaseName"] == db
    glue.update_user_defined_function(DatabaseName=db, FunctionName="to_upper", FunctionInput={**fn, "ClassName": "com.example.U2"})
    listed = [f for p in glue.get_paginator("get_user_defined_functions").paginate(DatabaseName=db, Pattern="to_*")
              for f in p["UserDefinedFunctions"]]  # fmt: skip
    assert [(f["FunctionName"], f["ClassName"]) for f in listed] == [("to_upper", "com.example.U2")]
    glue.delete_user_defined_function(DatabaseName=db, FunctionName="to_upper")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_user_defined_function(DatabaseName=db, FunctionName="to_upper")


def test_tags(glue, server):
    db = _db(glue, server)
    name = _table(glue, server, db)
    arn = f"arn:aws:glue:eu-west-1:000000000000:table/{db}/{name}"
    glue.tag_resource(ResourceArn=arn, TagsToAdd={"team": "a", "env": "test"})
    glue.untag_resource(ResourceArn=arn, TagsToRemove=["env"])
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {"team": "a"}
    assert glue.get_tags(ResourceArn=arn.replace("eu-west-1", "us-east-2"))["Tags"] == {"team": "a"}  # any region
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_tags(ResourceArn=f"arn:aws:glue:eu-west-1:000000000000:table/{db}/nope")
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.tag_resource(ResourceArn="not-an-arn", TagsToAdd={"a": "b"})
    other = unique("gdb")
    glue.create_database(DatabaseInput={"Name": other}, Tags={"made": "glue"})
    assert glue.get_tags(ResourceArn=f"arn:aws:glue:eu-west-1:000000000000:database/{other}")["Tags"] == {"made": "glue"}
    glue.delete_database(Name=db)  # forgets the tags of its tables, and only theirs
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput={"Name": name, "StorageDescriptor": {"Columns": []}})
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {}
    assert glue.get_tags(ResourceArn=f"arn:aws:glue:eu-west-1:000000000000:database/{other}")["Tags"] == {"made": "glue"}


def test_thrift_and_glue_see_the_same_tables(glue, server, tmp_path):
    """A table made through Thrift reads through Glue (and its VersionId moves when Thrift changes it); one
    made through Glue reads through Thrift."""
    from hmsclient import hmsclient
    from hmsclient.genthrift.hive_metastore import ttypes as tt

    ms = start_metastore(server.backend, tmp_path, server.database_url)
    try:
        db = _db(glue, server)
        with hmsclient.HMSClient(host=ms.host, port=ms.port) as hms:
            sd = tt.StorageDescriptor(cols=[tt.FieldSchema("id", "bigint", "the id")], location=str(tmp_path / "t"),
                                      inputFormat="org.apache.hadoop.mapred.TextInputFormat",
                                      outputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                                      serdeInfo=tt.SerDeInfo(serializationLib="org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                                                             parameters={}), parameters={})  # fmt: skip
            hms.create_table(tt.Table(tableName="by_thrift", dbName=db, sd=sd, partitionKeys=[tt.FieldSchema("p", "string")],
                                      parameters={"comment": "from thrift"}, tableType="EXTERNAL_TABLE"))  # fmt: skip
            hms.add_partitions([tt.Partition(values=["x"], dbName=db, tableName="by_thrift", sd=sd, parameters={})])
            got = glue.get_table(DatabaseName=db, Name="by_thrift")["Table"]
            assert got["Description"] == "from thrift" and got["StorageDescriptor"]["Columns"] == [
                {"Name": "id", "Type": "bigint", "Comment": "the id"}]  # fmt: skip
            assert [p["Values"] for p in glue.get_partitions(DatabaseName=db, TableName="by_thrift")["Partitions"]] == [["x"]]
            table = hms.get_table(db, "by_thrift")
            table.parameters["changed"] = "by thrift"
            hms.alter_table(db, "by_thrift", table)
            with pytest.raises(glue.exceptions.ConcurrentModificationException):
                glue.update_table(DatabaseName=db, VersionId=got["VersionId"], TableInput={
                    "Name": "by_thrift", "StorageDescriptor": got["StorageDescriptor"], "PartitionKeys": got["PartitionKeys"]})  # fmt: skip
            assert glue.get_table(DatabaseName=db, Name="by_thrift")["Table"]["Parameters"]["changed"] == "by thrift"

            name = _table(glue, server, db)
            glue.create_partition(DatabaseName=db, TableName=name, PartitionInput={
                "Values": ["2024-01-01", "3"], "StorageDescriptor": _sd(str(tmp_path / "p"))})  # fmt: skip
            t = hms.get_table(db, name)
            assert [c.name for c in t.sd.cols] == ["a", "b"] and [k.name for k in t.partitionKeys] == ["dt", "hr"]
            assert t.parameters["comment"] == "a table" and t.tableType == "EXTERNAL_TABLE"
            assert hms.get_partition_names(db, name, -1) == ["dt=2024-01-01/hr=3"]
    finally:
        stop_metastore(ms)


def test_moto_differential(server, tmp_path):
    """The same boto3 scenario against moto's Glue server and Mortar: the same keys in every answer, except
    the differences listed (with their reasons) in tests/glue_reference.py."""
    if server.backend != "sqlite":
        pytest.skip("compared once, on SQLite")
    from tests import glue_reference

    glue_reference.compare(server.client("admin"), str(tmp_path))
