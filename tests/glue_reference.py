"""The reference for the Glue API: moto's Glue server (the mock most users test against), the boto3 scenario
run against it and against Mortar, and the differences Mortar makes on purpose, in one place (as
tests/reference.py does for the Hive Metastore)."""

from __future__ import annotations

import fnmatch

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import free_port

# "step: difference" patterns (fnmatch) -> why Mortar answers differently. A difference is `+path` (only
# Mortar has the key), `-path` (only moto has it) or `=path` (other). `compare` fails on a difference no pattern
# explains, and on a pattern that explains nothing any more.
_DEFAULTS = ("Mortar answers every field of a Glue object, defaults included, as AWS Glue does; moto echoes "
             "only the fields the caller gave")  # fmt: skip
DELIBERATE_DIFFERENCES: dict[str, str] = {
    "*: +*/StorageDescriptor/*": _DEFAULTS,
    "*: +*/CatalogId": _DEFAULTS,
    "*: +*/LastAccessTime": _DEFAULTS,
    "*: +*/Parameters": _DEFAULTS,
    "*: +*/CreatedBy": _DEFAULTS,
    "*: +*/IsRegisteredWithLakeFormation": _DEFAULTS,
    "*: +*/Owner": "the owner is the user who made the table (its access key's user)",
    "*: +*/Retention": _DEFAULTS,
    "*: +*/UpdateTime": "Glue answers the time of the table's last change; moto leaves it out",
    "*: +*/CreateTableDefaultPermissions": _DEFAULTS,
    "batch_get_partition: +/UnprocessedKeys": "Glue always answers UnprocessedKeys (empty: Mortar never throttles)",
    "get_user_defined_functions: *": "moto does not implement GetUserDefinedFunctions (answers 500)",
    "search_tables: *": "moto does not implement SearchTables (answers 500)",
    "segments: *": "moto ignores Segment: every segment holds every partition, so segmented readers (Spark, "
                   "Trino) read each partition once per segment; Mortar's segments are disjoint",
    "unsupported operation: *": "moto answers 500 for an operation it lacks (boto3 then retries); Mortar answers "
                                "400 UnknownOperationException",
}

_SD = {"Columns": [{"Name": "a", "Type": "int"}], "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
       "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
       "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "Parameters": {}}}  # fmt: skip


def scenario(glue, tmp: str) -> dict[str, object]:
    """The calls, by step name: each answer (without ResponseMetadata), or the error code it raised."""
    out: dict[str, object] = {}

    def step(name, fn, **kw):
        try:
            answer = fn(**kw)
            answer.pop("ResponseMetadata", None)
            out[name] = answer
        except ClientError as e:
            out[name] = {"error " + e.response["Error"]["Code"]: e.response["ResponseMetadata"]["HTTPStatusCode"]}
        return out[name]

    sd = {**_SD, "Location": f"{tmp}/t"}
    step("create_database", glue.create_database, DatabaseInput={"Name": "ref", "Description": "d",
                                                                 "LocationUri": f"{tmp}/ref", "Parameters": {"k": "v"}})  # fmt: skip
    step("create_database again", glue.create_database, DatabaseInput={"Name": "ref"})
    step("get_database", glue.get_database, Name="ref")
    step("get_database missing", glue.get_database, Name="nope")
    step("get_databases", glue.get_databases)
    step("update_database", glue.update_database, Name="ref", DatabaseInput={"Name": "ref", "Description": "e"})
    table = {"Name": "t", "Description": "a table", "TableType": "EXTERNAL_TABLE", "StorageDescriptor": sd,
             "PartitionKeys": [{"Name": "dt", "Type": "string"}], "Parameters": {"classification": "csv"}}  # fmt: skip
    step("create_table", glue.create_table, DatabaseName="ref", TableInput=table)
    step("create_table again", glue.create_table, DatabaseName="ref", TableInput=table)
    got = step("get_table", glue.get_table, DatabaseName="ref", Name="t")
    step("get_table missing", glue.get_table, DatabaseName="ref", Name="nope")
    step("get_tables", glue.get_tables, DatabaseName="ref")
    step("update_table", glue.update_table, DatabaseName="ref", VersionId=got["Table"].get("VersionId", "1"),
         TableInput={**table, "Parameters": {"classification": "csv", "x": "1"}})  # fmt: skip
    step("get_table_versions", glue.get_table_versions, DatabaseName="ref", TableName="t")
    step("get_table_version", glue.get_table_version, DatabaseName="ref", TableName="t", VersionId="1")
    parts = [{"Values": [f"2024-01-0{d}"], "StorageDescriptor": {**sd, "Location": f"{tmp}/t/dt={d}"}} for d in range(1, 6)]
    step("batch_create_partition", glue.batch_create_partition, DatabaseName="ref", TableName="t", PartitionInputList=parts)
    step("batch_create_partition again", glue.batch_create_partition, DatabaseName="ref", TableName="t",
         PartitionInputList=parts[:1])  # fmt: skip
    step("get_partitions", glue.get_partitions, DatabaseName="ref", TableName="t")
    step("get_partitions expression", glue.get_partitions, DatabaseName="ref", TableName="t",
         Expression="dt > '2024-01-03'")  # fmt: skip
    step("get_partition", glue.get_partition, DatabaseName="ref", TableName="t", PartitionValues=["2024-01-01"])
    step("get_partition missing", glue.get_partition, DatabaseName="ref", TableName="t", PartitionValues=["x"])
    step("batch_get_partition", glue.batch_get_partition, DatabaseName="ref", TableName="t",
         PartitionsToGet=[{"Values": ["2024-01-01"]}, {"Values": ["x"]}])  # fmt: skip
    step("update_partition", glue.update_partition, DatabaseName="ref", TableName="t", PartitionValueList=["2024-01-02"],
         PartitionInput={**parts[1], "Parameters": {"p": "1"}})  # fmt: skip
    step("batch_delete_partition", glue.batch_delete_partition, DatabaseName="ref", TableName="t",
         PartitionsToDelete=[{"Values": ["2024-01-03"]}, {"Values": ["x"]}])  # fmt: skip
    step("delete_partition", glue.delete_partition, DatabaseName="ref", TableName="t", PartitionValues=["2024-01-04"])
    seg = [step(f"get_partitions segment {i}", glue.get_partitions, DatabaseName="ref", TableName="t",
                Segment={"SegmentNumber": i, "TotalSegments": 2}) for i in range(2)]  # fmt: skip
    overlap = {tuple(p["Values"]) for p in seg[0].get("Partitions", [])} & {tuple(p["Values"]) for p in seg[1].get("Partitions", [])}
    out["segments"] = {"overlapping" if overlap else "disjoint": True}
    step("search_tables", glue.search_tables, SearchText="table")
    step("get_user_defined_functions", glue.get_user_defined_functions, DatabaseName="ref", Pattern="*")
    arn = "arn:aws:glue:us-east-1:123456789012:table/ref/t"
    step("tag_resource", glue.tag_resource, ResourceArn=arn, TagsToAdd={"a": "b"})
    step("get_tags", glue.get_tags, ResourceArn=arn)
    step("batch_delete_table", glue.batch_delete_table, DatabaseName="ref", TablesToDelete=["nope"])
    step("delete_table", glue.delete_table, DatabaseName="ref", Name="t")
    step("delete_database", glue.delete_database, Name="ref")
    step("unsupported operation", glue.get_dataflow_graph, PythonScript="x = 1")
    return out


_MAPS = ("Parameters", "Tags")  # maps of the caller's keys: data, not shape


def shape(value):
    """Keys all the way down; lists by their first element; everything else by kind."""
    if isinstance(value, dict):
        return {k: "map" if k in _MAPS else shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "value"


def differences(theirs, ours, path: str = "") -> list[str]:
    """Paths where the shapes differ: `+key` only Mortar has, `-key` only the reference has, `=path` other."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        out = [f"-{path}/{k}" for k in theirs if k not in ours] + [f"+{path}/{k}" for k in ours if k not in theirs]
        for k in theirs.keys() & ours.keys():
            out += differences(theirs[k], ours[k], f"{path}/{k}")
        return out
    if isinstance(theirs, list) and isinstance(ours, list):
        return differences(theirs[0], ours[0], f"{path}[]") if theirs and ours else []
    return [] if theirs == ours else [f"={path}: {theirs!r} vs {ours!r}"]


def moto_client(port: int):
    return boto3.client("glue", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}))  # fmt: skip


def compare(mortar, tmp: str) -> None:
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        theirs = scenario(moto_client(port), tmp + "/moto")
    finally:
        moto.stop()
    ours = scenario(mortar, tmp + "/mortar")
    found = [f"{step}: {d}" for step in theirs for d in differences(shape(theirs[step]), shape(ours[step]))]
    unexplained = [f for f in found if not any(fnmatch.fnmatchcase(f, p) for p in DELIBERATE_DIFFERENCES)]
    unused = [p for p in DELIBERATE_DIFFERENCES if not any(fnmatch.fnmatchcase(f, p) for f in found)]
    assert not unexplained, "differences from moto not listed in tests/glue_reference.py:\n" + "\n".join(unexplained)
    assert not unused, f"listed differences that no longer differ: {unused}"
