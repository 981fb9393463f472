"""Partitions through the HMS Thrift protocol, driven by hmsclient against a running server."""

from __future__ import annotations

import datetime

import pytest
from hmsclient.genthrift.hive_metastore import ThriftHiveMetastore, ttypes

from tests.conftest import unique
from tests.hms_objects import cols, database, local_path, partition, table

DAYS = [(datetime.date(2024, 1, 1) + datetime.timedelta(days=i)).isoformat() for i in range(100)]
HOURS = list(range(20))


def add_partition(hms, p: ttypes.Partition) -> ttypes.Partition:
    """The Thrift add_partition (HMSClient replaces it with a helper of another signature)."""
    return ThriftHiveMetastore.Client.add_partition(hms, p)


def pname(dt: str, hr) -> str:
    return f"dt={dt}/hr={hr}"


@pytest.fixture
def db(hms):
    name = unique("pdb")
    hms.create_database(database(name))
    yield name
    try:
        hms.drop_database(name, True, True)
    except ttypes.NoSuchObjectException:
        pass


@pytest.fixture
def tbl(hms, db):
    """A managed table partitioned by (dt string, hr int), with partitions a/1, a/2, b/1."""
    hms.create_table(table(db, "events", cols("id bigint", "payload string"), cols("dt string", "hr int")))
    t = hms.get_table(db, "events")
    hms.add_partitions([partition(t, ["a", "1"]), partition(t, ["a", "2"]), partition(t, ["b", "1"])])
    return t


@pytest.fixture(scope="module")
def big(metastore):
    """A table with 2,000 partitions (100 days x 20 hours), added with add_partitions in batches of 500."""
    from hmsclient import hmsclient

    with hmsclient.HMSClient(host=metastore.host, port=metastore.port) as client:
        db = unique("bigdb")
        client.create_database(database(db))
        client.create_table(table(db, "big", cols("id bigint"), cols("dt string", "hr int")))
        t = client.get_table(db, "big")
        parts = [partition(t, [d, str(h)]) for d in DAYS for h in HOURS]
        counts = [client.add_partitions(parts[i : i + 500]) for i in range(0, len(parts), 500)]
        assert counts == [500, 500, 500, 500]
    return db, "big"


# --- add -------------------------------------------------------------------------------------------


def test_add_partitions_in_batches(hms, big, metastore):
    db, name = big
    names = hms.get_partition_names(db, name, -1)
    assert len(names) == 2000
    assert names == sorted(pname(d, h) for d in DAYS for h in HOURS)
    assert names[:3] == ["dt=2024-01-01/hr=0", "dt=2024-01-01/hr=1", "dt=2024-01-01/hr=10"]
    table_dir = local_path(hms.get_table(db, name).sd.location)
    assert sum(1 for _ in table_dir.glob("dt=*/hr=*")) == 2000
    assert (table_dir / "dt=2024-04-09" / "hr=19").is_dir()


def test_get_partitions_max_parts(hms, big):
    db, name = big
    assert len(hms.get_partitions(db, name, -1)) == 2000
    first = hms.get_partitions(db, name, 5)
    assert [p.values for p in first] == [["2024-01-01", h] for h in ["0", "1", "10", "11", "12"]]
    assert hms.get_partitions(db, name, 0) == []
    assert hms.get_partition_names(db, name, 3) == [
        "dt=2024-01-01/hr=0",
        "dt=2024-01-01/hr=1",
        "dt=2024-01-01/hr=10",
    ]


def test_added_partition_fields(hms, db, tbl, metastore):
    p = hms.get_partition(db, "events", ["a", "1"])
    assert p.values == ["a", "1"]
    assert (p.dbName, p.tableName) == (db, "events")
    assert p.createTime > 0
    assert int(p.parameters["transient_lastDdlTime"]) > 0
    assert p.sd.location == f"file:{metastore.warehouse}/{db}.db/events/dt=a/hr=1"
    assert local_path(p.sd.location).is_dir()
    assert [(c.name, c.type) for c in p.sd.cols] == [("id", "bigint"), ("payload", "string")]
    assert p.sd.inputFormat == "org.apache.hadoop.mapred.TextInputFormat"
    assert p.sd.serdeInfo.serializationLib == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


def test_add_partition_at_explicit_location(hms, db, tbl, tmp_path):
    where = tmp_path / "elsewhere"
    added = add_partition(hms, partition(tbl, ["c", "3"], location=f"file:{where}", parameters={"k": "v"}))
    assert added.values == ["c", "3"]
    got = hms.get_partition(db, "events", ["c", "3"])
    assert got.sd.location == f"file:{where}"
    assert got.parameters["k"] == "v"
    assert where.is_dir()


def test_add_partitions_req_if_not_exists(hms, db, tbl):
    req = ttypes.AddPartitionsRequest(dbName=db, tblName="events",
                                      parts=[partition(tbl, ["a", "1"]), partition(tbl, ["c", "1"])],
                                      ifNotExists=True, needResult=True)  # fmt: skip
    result = hms.add_partitions_req(req)
    assert [p.values for p in result.partitions] == [["c", "1"]]
    assert result.partitions[0].sd.location.endswith(f"/{db}.db/events/dt=c/hr=1")
    assert hms.get_partition_names(db, "events", -1) == [
        pname("a", 1),
        pname("a", 2),
        pname("b", 1),
        pname("c", 1),
    ]


def test_add_partitions_req_without_result(hms, db, tbl):
    req = ttypes.AddPartitionsRequest(dbName=db, tblName="events", parts=[partition(tbl, ["d", "1"])],
                                      ifNotExists=False, needResult=False)  # fmt: skip
    result = hms.add_partitions_req(req)
    assert not result.partitions
    assert hms.get_partition(db, "events", ["d", "1"]).values == ["d", "1"]


def test_add_partitions_req_existing_fails_and_adds_nothing(hms, db, tbl):
    req = ttypes.AddPartitionsRequest(dbName=db, tblName="events",
                                      parts=[partition(tbl, ["e", "1"]), partition(tbl, ["a", "2"])],
                                      ifNotExists=False, needResult=True)  # fmt: skip
    with pytest.raises(ttypes.AlreadyExistsException, match="dt=a/hr=2"):
        hms.add_partitions_req(req)
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 1), pname("a", 2), pname("b", 1)]


def test_add_existing_partition_fails(hms, db, tbl):
    with pytest.raises(ttypes.AlreadyExistsException, match=f"dt=b/hr=1 of {db}.events already exists"):
        add_partition(hms, partition(tbl, ["b", "1"]))
    with pytest.raises(ttypes.AlreadyExistsException, match="dt=a/hr=1"):
        hms.add_partitions([partition(tbl, ["z", "9"]), partition(tbl, ["a", "1"])])
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 1), pname("a", 2), pname("b", 1)]


def test_add_duplicates_in_one_call_fails(hms, db, tbl):
    with pytest.raises(ttypes.AlreadyExistsException, match="dt=q/hr=1 .* given twice"):
        hms.add_partitions([partition(tbl, ["q", "1"]), partition(tbl, ["q", "1"])])
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 1), pname("a", 2), pname("b", 1)]


@pytest.mark.parametrize("values", [["a"], ["a", "1", "x"], []])
def test_add_partition_wrong_number_of_values(hms, db, tbl, values):
    with pytest.raises(
        ttypes.InvalidObjectException, match=f"needs 2 values \\(dt, hr\\), got {len(values)}"
    ):
        add_partition(hms, partition(tbl, values))
    with pytest.raises(ttypes.MetaException, match="needs 2 values"):
        hms.get_partition(db, "events", values)
    assert len(hms.get_partition_names(db, "events", -1)) == 3


def test_add_partition_to_unpartitioned_table(hms, db):
    hms.create_table(table(db, "flat"))
    t = hms.get_table(db, "flat")
    with pytest.raises(ttypes.InvalidObjectException, match=f"{db}.flat is not partitioned"):
        add_partition(hms, partition(t, ["x"]))
    assert hms.get_partitions(db, "flat", -1) == []


def test_add_partition_to_missing_table(hms, db, tbl):
    p = partition(tbl, ["a", "9"])
    p.tableName = "nope"
    with pytest.raises(ttypes.InvalidObjectException, match=f"{db}.nope does not exist"):
        add_partition(hms, p)


# --- read ------------------------------------------------------------------------------------------


def test_get_missing_partition(hms, db, tbl):
    with pytest.raises(ttypes.NoSuchObjectException, match=f"dt=zz/hr=1 of table {db}.events does not exist"):
        hms.get_partition(db, "events", ["zz", "1"])
    with pytest.raises(ttypes.NoSuchObjectException, match=f"{db}.nope"):
        hms.get_partition(db, "nope", ["a", "1"])


def test_get_partition_by_name(hms, db, tbl):
    p = hms.get_partition_by_name(db, "events", "dt=a/hr=2")
    assert p.values == ["a", "2"]
    with pytest.raises(ttypes.NoSuchObjectException, match="dt=a/hr=3"):
        hms.get_partition_by_name(db, "events", "dt=a/hr=3")
    with pytest.raises(ttypes.MetaException, match="does not match the partition keys"):
        hms.get_partition_by_name(db, "events", "hr=2/dt=a")
    with pytest.raises(ttypes.MetaException, match="not of the form key=value"):
        hms.get_partition_by_name(db, "events", "garbage")


def test_get_partitions_ps(hms, db, tbl):
    def values(ps, max_parts=-1):
        return [p.values for p in hms.get_partitions_ps(db, "events", ps, max_parts)]

    assert values(["a"]) == [["a", "1"], ["a", "2"]]
    assert values(["a", ""]) == [["a", "1"], ["a", "2"]]
    assert values(["", "1"]) == [["a", "1"], ["b", "1"]]
    assert values(["", ""]) == [["a", "1"], ["a", "2"], ["b", "1"]]
    assert values(["b", "1"]) == [["b", "1"]]
    assert values(["c"]) == []
    assert values(["a"], 1) == [["a", "1"]]
    with pytest.raises(ttypes.MetaException, match="has 3 values"):
        hms.get_partitions_ps(db, "events", ["a", "1", "x"], -1)


def test_get_partitions_ps_with_auth(hms, db, tbl):
    got = hms.get_partitions_ps_with_auth(db, "events", ["", "2"], -1, "alice", ["g"])
    assert [p.values for p in got] == [["a", "2"]]


def test_get_partition_names_ps(hms, db, tbl):
    assert hms.get_partition_names_ps(db, "events", ["a"], -1) == [pname("a", 1), pname("a", 2)]
    assert hms.get_partition_names_ps(db, "events", ["", "1"], -1) == [pname("a", 1), pname("b", 1)]
    assert hms.get_partition_names_ps(db, "events", ["", "1"], 1) == [pname("a", 1)]
    assert hms.get_partition_names_ps(db, "events", ["x", ""], -1) == []


def test_get_partitions_by_names(hms, db, tbl):
    got = hms.get_partitions_by_names(db, "events", ["dt=b/hr=1", "dt=zz/hr=1", "dt=a/hr=1"])
    assert [p.values for p in got] == [["a", "1"], ["b", "1"]]
    assert hms.get_partitions_by_names(db, "events", []) == []


def test_get_partitions_of_missing_table(hms, db):
    with pytest.raises(ttypes.NoSuchObjectException, match=f"{db}.nope"):
        hms.get_partitions(db, "nope", -1)


# --- filters ---------------------------------------------------------------------------------------


def _names_by_filter(hms, big, text, max_parts=-1):
    db, name = big
    return [pname(*p.values) for p in hms.get_partitions_by_filter(db, name, text, max_parts)]


def _expected(pred):
    return sorted(pname(d, h) for d in DAYS for h in HOURS if pred(d, h))


@pytest.mark.parametrize(
    ("text", "pred"),
    [
        ('dt = "2024-01-03" and hr >= 12', lambda d, h: d == "2024-01-03" and h >= 12),
        ('dt >= "2024-04-07"', lambda d, h: d >= "2024-04-07"),
        ('dt = "2024-01-01" or dt = "2024-02-29"', lambda d, h: d in ("2024-01-01", "2024-02-29")),
        ('(dt = "2024-01-01" or dt = "2024-01-02") and (hr < 2 or hr = 19)',
         lambda d, h: d in ("2024-01-01", "2024-01-02") and (h < 2 or h == 19)),
        ('dt = "2024-03-01" and hr > 9', lambda d, h: d == "2024-03-01" and h > 9),
        ('hr = 7 and dt < "2024-01-04"', lambda d, h: h == 7 and d < "2024-01-04"),
        ('dt like "2024-02-1.*" and hr = 0', lambda d, h: d.startswith("2024-02-1") and h == 0),
        ('dt = "2031-01-01"', lambda d, h: False),
    ],
)  # fmt: skip
def test_get_partitions_by_filter(hms, big, text, pred):
    expected = _expected(pred)
    assert _names_by_filter(hms, big, text) == expected
    db, name = big
    assert hms.get_num_partitions_by_filter(db, name, text) == len(expected)


def test_int_key_compares_numerically(hms, big):
    db, name = big
    # compared as text, "10".."19" < "9": a text comparison would match none of them
    assert hms.get_num_partitions_by_filter(db, name, "hr > 9") == 1000
    assert hms.get_num_partitions_by_filter(db, name, "hr >= 9") == 1100
    assert _names_by_filter(hms, big, 'dt = "2024-01-10" and hr > 9') == [pname("2024-01-10", h) for h in
                                                                         sorted(str(h) for h in range(10, 20))]  # fmt: skip


def test_filter_with_max_parts(hms, big):
    assert _names_by_filter(hms, big, 'dt = "2024-01-05"', 3) == [
        pname("2024-01-05", h) for h in ("0", "1", "10")
    ]


def test_empty_filter_matches_all(hms, big):
    db, name = big
    assert hms.get_num_partitions_by_filter(db, name, "") == 2000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('dt = ', "Invalid partition filter at position 5: expected a string, integer or date literal"),
        ('foo = "x"', "'foo' is not a partition key of the table"),
        ('dt = "unterminated', "unterminated string literal"),
        ('dt = "a" hr = 1', "expected AND, OR or the end of the filter"),
        ('(dt = "a"', "Invalid partition filter"),
        ('hr > "abc"', "Invalid partition filter"),
    ],
)  # fmt: skip
def test_bad_filter(hms, big, text, message):
    db, name = big
    with pytest.raises(ttypes.MetaException) as e:
        hms.get_partitions_by_filter(db, name, text, -1)
    assert message in e.value.message
    with pytest.raises(ttypes.MetaException) as e:
        hms.get_num_partitions_by_filter(db, name, text)
    assert message in e.value.message


def test_filter_on_leading_zero_int_value(hms, db):
    hms.create_table(table(db, "z", cols("id int"), cols("hr int")))
    t = hms.get_table(db, "z")
    hms.add_partitions([partition(t, ["07"]), partition(t, ["8"]), partition(t, ["10"])])
    assert [p.values for p in hms.get_partitions_by_filter(db, "z", "hr = 7", -1)] == [["07"]]
    assert [p.values for p in hms.get_partitions_by_filter(db, "z", "hr < 9", -1)] == [["07"], ["8"]]


# --- alter and rename ------------------------------------------------------------------------------


def test_alter_partition(hms, db, tbl, tmp_path):
    p = hms.get_partition(db, "events", ["a", "1"])
    p.parameters["numRows"] = "42"
    p.sd.location = f"file:{tmp_path}/moved"
    p.sd.cols.append(ttypes.FieldSchema(name="extra", type="int"))
    hms.alter_partition(db, "events", p)
    got = hms.get_partition(db, "events", ["a", "1"])
    assert got.parameters["numRows"] == "42"
    assert got.sd.location == f"file:{tmp_path}/moved"
    assert [c.name for c in got.sd.cols] == ["id", "payload", "extra"]
    assert [c.name for c in hms.get_partition(db, "events", ["a", "2"]).sd.cols] == ["id", "payload"]


def test_alter_partitions(hms, db, tbl):
    parts = hms.get_partitions_ps(db, "events", ["a"], -1)
    for i, p in enumerate(parts):
        p.parameters["batch"] = str(i)
    hms.alter_partitions(db, "events", parts)
    got = {tuple(p.values): p.parameters.get("batch") for p in hms.get_partitions(db, "events", -1)}
    assert got == {("a", "1"): "0", ("a", "2"): "1", ("b", "1"): None}


def test_alter_missing_partition(hms, db, tbl):
    p = hms.get_partition(db, "events", ["a", "1"])
    p.values = ["zz", "1"]
    with pytest.raises(ttypes.InvalidOperationException, match="dt=zz/hr=1"):
        hms.alter_partition(db, "events", p)
    with pytest.raises(ttypes.InvalidOperationException, match="dt=zz/hr=1"):
        hms.alter_partitions(db, "events", [hms.get_partition(db, "events", ["a", "2"]), p])


def test_rename_partition_moves_directory(hms, db, tbl, metastore):
    old = hms.get_partition(db, "events", ["a", "1"])
    old_dir = local_path(old.sd.location)
    (old_dir / "part-0.txt").write_text("1,x\n")
    new = hms.get_partition(db, "events", ["a", "1"])
    new.values = ["c", "3"]
    new.sd.location = None
    hms.rename_partition(db, "events", ["a", "1"], new)

    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_partition(db, "events", ["a", "1"])
    got = hms.get_partition(db, "events", ["c", "3"])
    assert got.sd.location == f"file:{metastore.warehouse}/{db}.db/events/dt=c/hr=3"
    assert (local_path(got.sd.location) / "part-0.txt").read_text() == "1,x\n"
    assert not old_dir.exists()
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 2), pname("b", 1), pname("c", 3)]
    assert hms.get_partition_names_ps(db, "events", ["", "3"], -1) == [pname("c", 3)]
    assert [p.values for p in hms.get_partitions_by_filter(db, "events", "hr = 3", -1)] == [["c", "3"]]


def test_rename_partition_to_existing_fails(hms, db, tbl):
    new = hms.get_partition(db, "events", ["a", "1"])
    new.values = ["b", "1"]
    with pytest.raises(ttypes.InvalidOperationException, match="dt=b/hr=1"):
        hms.rename_partition(db, "events", ["a", "1"], new)
    assert hms.get_partition(db, "events", ["a", "1"]).values == ["a", "1"]


def test_rename_missing_partition_fails(hms, db, tbl):
    new = hms.get_partition(db, "events", ["a", "1"])
    new.values = ["q", "1"]
    with pytest.raises(ttypes.InvalidOperationException, match="dt=zz/hr=1"):
        hms.rename_partition(db, "events", ["zz", "1"], new)


# --- drop ------------------------------------------------------------------------------------------


def test_drop_partition(hms, db, tbl):
    where = local_path(hms.get_partition(db, "events", ["a", "1"]).sd.location)
    assert where.is_dir()
    assert hms.drop_partition(db, "events", ["a", "1"], True) is True
    assert not where.exists()
    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_partition(db, "events", ["a", "1"])
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 2), pname("b", 1)]
    with pytest.raises(ttypes.NoSuchObjectException, match="dt=a/hr=1"):
        hms.drop_partition(db, "events", ["a", "1"], True)


def test_drop_partition_keep_data(hms, db, tbl):
    where = local_path(hms.get_partition(db, "events", ["a", "2"]).sd.location)
    assert hms.drop_partition(db, "events", ["a", "2"], False) is True
    assert where.is_dir()
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 1), pname("b", 1)]


def test_drop_partition_of_external_table_keeps_data(hms, db, tmp_path):
    hms.create_table(table(db, "ext", partition_keys=cols("dt string"), table_type="EXTERNAL_TABLE",
                           location=f"file:{tmp_path}/ext"))  # fmt: skip
    t = hms.get_table(db, "ext")
    add_partition(hms, partition(t, ["x"]))
    where = tmp_path / "ext" / "dt=x"
    assert where.is_dir()
    hms.drop_partition(db, "ext", ["x"], True)
    assert hms.get_partitions(db, "ext", -1) == []
    assert where.is_dir()


def test_drop_partition_by_name(hms, db, tbl):
    where = local_path(hms.get_partition(db, "events", ["b", "1"]).sd.location)
    assert hms.drop_partition_by_name(db, "events", "dt=b/hr=1", True) is True
    assert not where.exists()
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 1), pname("a", 2)]
    with pytest.raises(ttypes.NoSuchObjectException, match="dt=b/hr=1"):
        hms.drop_partition_by_name(db, "events", "dt=b/hr=1", True)


def _drop_req(db, names, **kw):
    return ttypes.DropPartitionsRequest(dbName=db, tblName="events", parts=ttypes.RequestPartsSpec(names=names),
                                        deleteData=True, **kw)  # fmt: skip


def test_drop_partitions_req(hms, db, tbl):
    dirs = [local_path(p.sd.location) for p in hms.get_partitions_ps(db, "events", ["a"], -1)]
    result = hms.drop_partitions_req(_drop_req(db, ["dt=a/hr=1", "dt=a/hr=2", "dt=zz/hr=1"],
                                               ifExists=True, needResult=True))  # fmt: skip
    assert sorted(p.values for p in result.partitions) == [["a", "1"], ["a", "2"]]
    assert hms.get_partition_names(db, "events", -1) == [pname("b", 1)]
    assert not any(d.exists() for d in dirs)


def test_drop_partitions_req_missing_without_if_exists(hms, db, tbl):
    with pytest.raises(ttypes.NoSuchObjectException, match="dt=zz/hr=1"):
        hms.drop_partitions_req(_drop_req(db, ["dt=a/hr=1", "dt=zz/hr=1"], ifExists=False))
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 1), pname("a", 2), pname("b", 1)]


def test_drop_partitions_req_without_result(hms, db, tbl):
    result = hms.drop_partitions_req(_drop_req(db, ["dt=b/hr=1"], needResult=False))
    assert not result.partitions
    assert hms.get_partition_names(db, "events", -1) == [pname("a", 1), pname("a", 2)]


# --- append ----------------------------------------------------------------------------------------


def test_append_partition(hms, db, tbl, metastore):
    p = hms.append_partition(db, "events", ["d", "4"])
    assert p.values == ["d", "4"]
    assert p.sd.location == f"file:{metastore.warehouse}/{db}.db/events/dt=d/hr=4"
    assert local_path(p.sd.location).is_dir()
    assert [c.name for c in p.sd.cols] == ["id", "payload"]
    assert hms.get_partition(db, "events", ["d", "4"]).sd.location == p.sd.location
    with pytest.raises(ttypes.AlreadyExistsException, match="dt=d/hr=4"):
        hms.append_partition(db, "events", ["d", "4"])
    with pytest.raises(ttypes.InvalidObjectException, match="needs 2 values"):
        hms.append_partition(db, "events", ["d"])


def test_append_partition_by_name(hms, db, tbl, metastore):
    p = hms.append_partition_by_name(db, "events", "dt=e/hr=5")
    assert p.values == ["e", "5"]
    assert local_path(p.sd.location).is_dir()
    assert hms.get_partition_by_name(db, "events", "dt=e/hr=5").values == ["e", "5"]
    with pytest.raises(ttypes.AlreadyExistsException, match="dt=e/hr=5"):
        hms.append_partition_by_name(db, "events", "dt=e/hr=5")


# --- names and escaping ----------------------------------------------------------------------------


def test_partition_name_to_vals_and_spec(hms):
    assert hms.partition_name_to_vals("dt=2024-01-01/hr=3") == ["2024-01-01", "3"]
    assert hms.partition_name_to_vals("dt=a%2Fb%3Dc%3Ad/hr=1") == ["a/b=c:d", "1"]
    assert hms.partition_name_to_spec("dt=a%2Fb%3Dc%3Ad/hr=1") == {"dt": "a/b=c:d", "hr": "1"}
    assert hms.partition_name_to_spec("k%3D1=v") == {"k=1": "v"}
    with pytest.raises(ttypes.MetaException, match="not of the form key=value"):
        hms.partition_name_to_vals("novalue")


@pytest.mark.parametrize("value", ["x/y", "a=b", "12:30:00", "p%q", "sp ace", "2024-01-01 12:00:00/x=1"])
def test_escaped_values_round_trip(hms, db, metastore, value):
    hms.create_table(table(db, "esc", cols("id int"), cols("k string", "n int")))
    t = hms.get_table(db, "esc")
    add_partition(hms, partition(t, [value, "1"]))
    escaped = "".join(f"%{ord(c):02X}" if c in "/=:%" else c for c in value)
    name = f"k={escaped}/n=1"
    assert hms.get_partition_names(db, "esc", -1) == [name]
    assert hms.partition_name_to_vals(name) == [value, "1"]
    assert hms.get_partition_by_name(db, "esc", name).values == [value, "1"]
    p = hms.get_partition(db, "esc", [value, "1"])
    assert p.sd.location == f"file:{metastore.warehouse}/{db}.db/esc/{name}"
    where = local_path(p.sd.location)
    assert where.is_dir()
    assert where.parent.name == f"k={escaped}"
    assert [x.values for x in hms.get_partitions_ps(db, "esc", [value], -1)] == [[value, "1"]]
    assert [x.values for x in hms.get_partitions_by_names(db, "esc", [name])] == [[value, "1"]]
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    assert [x.values for x in hms.get_partitions_by_filter(db, "esc", f'k = "{quoted}"', -1)] == [
        [value, "1"]
    ]
    assert hms.drop_partition_by_name(db, "esc", name, True) is True
    assert not where.exists()
    assert hms.get_partitions(db, "esc", -1) == []


# --- listings kept across this process's own changes (listings.SortedAnswer) ---------------------------


def test_whole_listings_updated_in_place_match_storage(hms, db, metastore):
    """A whole listing after changes made on the same connection (answered from the table's encoded chunks,
    which each change updates in place: catalog/chunks.py) must be what storage holds, partition for
    partition."""
    from hmsclient import hmsclient

    hms.create_table(table(db, "kept", cols("id bigint"), cols("dt string", "hr int")))
    t = hms.get_table(db, "kept")
    hms.add_partitions([partition(t, [d, str(h)]) for d in DAYS[::2] for h in (1, 3)])
    counters = hms.getCounters()
    before = counters.get("chunks.answered", 0)
    changes = [
        lambda: hms.add_partitions([partition(t, [DAYS[1], "2"]), partition(t, ["0000", "0"]), partition(t, ["zzz", "9"])]),
        lambda: hms.drop_partition(db, "kept", [DAYS[0], "1"], False),
        lambda: hms.drop_partitions_req(ttypes.DropPartitionsRequest(
            db, "kept", ttypes.RequestPartsSpec(names=[pname(DAYS[2], 1), pname(DAYS[2], 3)]), deleteData=False)),
        lambda: hms.add_partitions([partition(t, [d, "7"]) for d in DAYS]),
        lambda: hms.drop_partitions_req(ttypes.DropPartitionsRequest(
            db, "kept", ttypes.RequestPartsSpec(names=[pname(d, 7) for d in DAYS[:60]]), deleteData=False)),
    ]  # fmt: skip
    for change in [None, *changes]:
        if change is not None:
            change()
        kept, names = hms.get_partitions(db, "kept", -1), hms.get_partition_names(db, "kept", -1)
        with hmsclient.HMSClient(host=metastore.host, port=metastore.port) as other:  # not a whole listing
            stored = other.get_partitions_ps(db, "kept", [], -1)
        assert kept == stored
        assert names == [pname(*p.values) for p in stored] == sorted(names)
    assert hms.getCounters().get("chunks.answered", 0) > before  # answered from the chunks
