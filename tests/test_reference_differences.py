"""Three things Spark sees that Mortar used to answer differently from the reference Hive Metastore (issue 17),
each asked of both servers with the same calls and the same folders, and compared:

- statistics: `create_table` / `add_partitions` / `add_partition` / `append_partition` on a folder that exists
  record its file count and size (`numFiles`, `totalSize`; hidden files left out), unless both are given;
- empty parents: dropping a partition (deleteData, managed table) removes the parent folders it leaves empty,
  up to the number of keys - 1 levels (a folder holding anything, a hidden file included, stays);
- locations: `/w/x.db`, `file:///w/x.db` and `file:/w/x.db/` come back as `file:/w/x.db`, for databases,
  tables and partitions, given or derived.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hmsclient import hmsclient
from hmsclient.genthrift.hive_metastore import ttypes as tt
from hmsclient.genthrift.hive_metastore.ThriftHiveMetastore import Client as Generated

from tests.conftest import free_port
from tests.reference import start_reference, stop_reference

pytestmark = [pytest.mark.reference, pytest.mark.timeout(600)]
DB = "cmp_differences"
VOLATILE_PARAMS = {"transient_lastDdlTime"}
FILES = {"a": 10, "b": 5, "_SUCCESS": 7, ".crc": 3, "sub/c": 4, "_tmp/d": 100}  # 3 files, 19 bytes counted


def _sd(location: str | None) -> tt.StorageDescriptor:
    return tt.StorageDescriptor(
        cols=[tt.FieldSchema("id", "bigint", None)], location=location,
        inputFormat="org.apache.hadoop.mapred.TextInputFormat",
        outputFormat="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat", compressed=False, numBuckets=-1,
        serdeInfo=tt.SerDeInfo(None, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", {}),
        bucketCols=[], sortCols=[], parameters={},
    )  # fmt: skip


def _table(name: str, location: str | None, keys: tuple[str, ...] = (), params: dict | None = None,
           external: bool = False) -> tt.Table:  # fmt: skip
    params = dict(params or {})
    if external:
        params["EXTERNAL"] = "TRUE"
    return tt.Table(tableName=name, dbName=DB, owner="tester", sd=_sd(location),
                    partitionKeys=[tt.FieldSchema(k, "string", None) for k in keys], parameters=params,
                    tableType="EXTERNAL_TABLE" if external else "MANAGED_TABLE")  # fmt: skip


def _part(
    table: str, values: list[str], location: str | None = None, params: dict | None = None
) -> tt.Partition:
    return tt.Partition(values=values, dbName=DB, tableName=table, sd=_sd(location), parameters=params or {})


def _files(folder: Path, spec: dict[str, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in spec.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x" * size)


def _params(p: dict | None) -> dict:
    return {k: v for k, v in sorted((p or {}).items()) if k not in VOLATILE_PARAMS}


def _tree(folder: Path) -> list[str]:
    """The folder's contents, relative, but for trees Mortar is deleting in the background (renamed aside
    to hidden `.<name>.mortar-deleted-<id>` names: what they held is gone from their parent already)."""
    names = []
    for top, dirs, files in os.walk(folder):  # errors (a tree vanishing meanwhile) are skipped
        dirs[:] = [d for d in dirs if ".mortar-deleted-" not in d]
        names += [os.path.relpath(os.path.join(top, n), folder) for n in dirs + files if ".mortar-deleted-" not in n]
    return sorted(names)


def _fresh(c: hmsclient.HMSClient, root: Path) -> None:
    try:
        c.drop_database(DB, True, True)
    except Exception:  # noqa: BLE001 - not there
        pass
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    c.create_database(tt.Database(DB, "differences", str(root / "db.db"), {}))


def statistics(c: hmsclient.HMSClient, root: Path) -> dict:
    _fresh(c, root)
    out = {}
    for external in (False, True):
        for case, spec in (("absent", None), ("empty", {}), ("files", FILES)):
            for keys in ((), ("y",)):
                name = f"t_{int(external)}_{case}_{len(keys)}"
                if spec is not None:
                    _files(root / name, spec)
                c.create_table(_table(name, str(root / name), keys, external=external))
                out[f"create_table {name}"] = _params(c.get_table(DB, name).parameters)
    for name, params in (("given", {"numFiles": "99", "totalSize": "1"}), ("half", {"numFiles": "99"}),
                         ("marked", {"DO_NOT_UPDATE_STATS": "true"})):  # fmt: skip
        _files(root / name, {"a": 10})
        c.create_table(_table(name, str(root / name), params=params))
        out[f"create_table {name}"] = _params(c.get_table(DB, name).parameters)
    for external in (False, True):
        name = f"p_{int(external)}"
        c.create_table(_table(name, str(root / name), ("y",), external=external))
        for case, spec in (("absent", None), ("empty", {}), ("files", FILES)):
            if spec is not None:
                _files(root / name / f"y={case}", spec)
            c.add_partitions([_part(name, [case])])
        _files(root / f"{name}_elsewhere", {"a": 11})
        Generated.add_partition(c, _part(name, ["elsewhere"], str(root / f"{name}_elsewhere")))
        _files(root / name / "y=appended", {"a": 12})
        Generated.append_partition(c, DB, name, ["appended"])
        _files(root / name / "y=given", {"a": 12})
        c.add_partitions([_part(name, ["given"], params={"numFiles": "5", "totalSize": "6"})])
        _files(root / name / "y=req", {"a": 13})
        c.add_partitions_req(tt.AddPartitionsRequest(DB, name, [_part(name, ["req"])], True, True))
        for p in c.get_partitions(DB, name, -1):
            out[f"partition {name} {p.values}"] = _params(p.parameters)
    c.drop_database(DB, True, True)
    return out


def empty_parents(c: hmsclient.HMSClient, root: Path) -> dict:
    _fresh(c, root)
    out = {}
    c.create_table(_table("m", None, ("year", "month")))
    base = Path(c.get_table(DB, "m").sd.location.removeprefix("file:"))
    c.add_partitions([_part("m", [y, m]) for y in ("2022", "2023", "2024") for m in ("01", "02")])
    _files(base / "year=2022/month=01", {"part-0": 1})
    _files(base / "year=2023/other", {"f": 1})
    (base / "year=2024/_SUCCESS").write_text("")
    c.drop_partitions_req(tt.DropPartitionsRequest(
        DB, "m", tt.RequestPartsSpec(names=["year=2022/month=01", "year=2022/month=02"]), deleteData=True))  # fmt: skip
    out["drop_partitions_req year=2022"] = _tree(base)
    c.drop_partition(DB, "m", ["2023", "01"], True)
    c.drop_partition_by_name(DB, "m", "year=2023/month=02", True)
    out["drop_partition year=2023 (other folder kept)"] = _tree(base)
    c.drop_partition(DB, "m", ["2024", "01"], True)
    c.drop_partition(DB, "m", ["2024", "02"], True)
    out["drop_partition year=2024 (hidden file kept)"] = _tree(base)
    c.create_table(_table("k3", None, ("a", "b", "c")))
    base = Path(c.get_table(DB, "k3").sd.location.removeprefix("file:"))
    c.add_partitions([_part("k3", ["1", "1", "1"]), _part("k3", ["2", "1", "1"])])
    shutil.rmtree(base / "a=2/b=1/c=1")
    c.drop_partition(DB, "k3", ["1", "1", "1"], True)
    c.drop_partition(DB, "k3", ["2", "1", "1"], True)
    out["three keys, one folder already gone"] = _tree(base)
    _files(root / "outside/a/b", {"f": 1})
    Generated.add_partition(c, _part("k3", ["3", "1", "1"], str(root / "outside/a/b")))
    c.drop_partition(DB, "k3", ["3", "1", "1"], True)
    out["outside the table"] = _tree(root / "outside")
    c.create_table(_table("e", None, ("year", "month"), external=True))
    base = Path(c.get_table(DB, "e").sd.location.removeprefix("file:"))
    c.add_partitions([_part("e", ["2022", "01"])])
    c.drop_partition(DB, "e", ["2022", "01"], True)
    out["external table"] = _tree(base)
    c.drop_database(DB, True, True)
    return out


def locations(c: hmsclient.HMSClient, root: Path) -> dict:
    _fresh(c, root)
    out = {}
    for i, loc in enumerate(
        (f"{root}/l0.db", f"file://{root}/l1.db", f"file:{root}/l2.db", f"{root}/l3.db/")
    ):
        name = f"{DB}_{i}"
        try:
            c.drop_database(name, True, True)
        except Exception:  # noqa: BLE001 - not there
            pass
        c.create_database(tt.Database(name, "", loc, {}))
        t = _table("t", None, ("y",))
        t.dbName = name
        c.create_table(t)
        c.add_partitions(
            [tt.Partition(values=["1"], dbName=name, tableName="t", sd=_sd(None), parameters={})]
        )
        out[f"database {i}"] = [c.get_database(name).locationUri, c.get_table(name, "t").sd.location,
                                c.get_partition(name, "t", ["1"]).sd.location]  # fmt: skip
        c.drop_database(name, True, True)
    for i, loc in enumerate((f"{root}/t0", f"file://{root}/t1", f"file:{root}/t2/")):
        c.create_table(_table(f"t{i}", loc, ("y",)))
        c.add_partitions(
            [_part(f"t{i}", ["a"], f"{root}/p{i}a"), _part(f"t{i}", ["b"], f"file://{root}/p{i}b/")]
        )
        out[f"table {i}"] = [c.get_table(DB, f"t{i}").sd.location,
                             *(p.sd.location for p in c.get_partitions(DB, f"t{i}", -1))]  # fmt: skip
    c.drop_database(DB, True, True)
    return out


SCENARIOS = {"statistics": statistics, "empty_parents": empty_parents, "locations": locations}


def run(port: int, root: Path, scenario: str) -> dict:
    with hmsclient.HMSClient(host="127.0.0.1", port=port) as c:
        answers = SCENARIOS[scenario](c, root)
    return _relative(answers, str(root))


def _relative(value, root: str):
    if isinstance(value, dict):
        return {k: _relative(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, root) for v in value]
    return value.replace(root, "<ROOT>") if isinstance(value, str) else value


@pytest.fixture(scope="module")
def reference_differences(tmp_path_factory):
    """The reference's answers to every scenario (one reference HMS for the module)."""
    base = tmp_path_factory.mktemp("reference-differences")
    port = free_port()
    pid = start_reference(base / "hms", port)
    try:
        return {name: run(port, base / name, name) for name in SCENARIOS}
    finally:
        stop_reference(pid)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_as_reference_hms(metastore, reference_differences, tmp_path, scenario):
    ours = run(metastore.port, tmp_path / scenario, scenario)
    theirs = reference_differences[scenario]
    assert ours == theirs
    assert ours  # something was compared


def test_scenarios_see_the_differences(reference_differences):
    """The reference does what the scenarios check for (so that the comparisons can fail)."""
    stats = reference_differences["statistics"]
    assert stats["create_table t_0_files_0"] == {"numFiles": "3", "totalSize": "19"}
    assert stats["create_table t_0_files_1"] == {}
    assert stats["partition p_0 ['files']"] == {"numFiles": "3", "totalSize": "19"}
    assert "year=2022" not in reference_differences["empty_parents"]["drop_partitions_req year=2022"]
    assert reference_differences["locations"]["database 1"][0] == "file:<ROOT>/l1.db"
