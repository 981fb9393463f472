"""Databases and tables through the HMS Thrift protocol, driven by hmsclient against a running server."""

from __future__ import annotations

import pytest
from hmsclient.genthrift.hive_metastore import ttypes

from metastore.catalog import CatalogService
from metastore.storage.engine import make_engine
from tests.conftest import unique
from tests.hms_objects import cols, database, local_path, partition, table


@pytest.fixture(scope="module")
def catalog(metastore):
    """The catalog service opened on the running server's storage (to read versions and audit)."""
    engine = make_engine(metastore.database_url, pool_size=2)
    yield CatalogService(engine, str(metastore.warehouse))
    engine.dispose()


@pytest.fixture
def db(hms):
    """A fresh database, dropped (cascade) afterwards."""
    name = unique("db")
    hms.create_database(database(name, description="test database"))
    yield name
    try:
        hms.drop_database(name, True, True)
    except ttypes.NoSuchObjectException:
        pass


def wh(metastore, *parts: str) -> str:
    """The `file:` location of a path in the warehouse."""
    return "file:" + "/".join([str(metastore.warehouse), *parts])


# --- databases --------------------------------------------------------------------------------------


def test_create_and_get_database(hms, metastore):
    name = unique("db")
    hms.create_database(database(name, description="sales data", parameters={"team": "blue"}, owner="bob"))
    got = hms.get_database(name)
    assert got.name == name
    assert got.description == "sales data"
    assert got.parameters == {"team": "blue"}
    assert got.ownerName == "bob"
    assert got.ownerType == ttypes.PrincipalType.USER
    assert got.locationUri == wh(metastore, f"{name}.db")
    assert local_path(got.locationUri).is_dir()


def test_database_names_are_case_insensitive(hms):
    name = unique("DbMixed")
    hms.create_database(database(name))
    assert hms.get_database(name.upper()).name == name.lower()
    assert name.lower() in hms.get_all_databases()


def test_create_existing_database_fails(hms, db):
    with pytest.raises(ttypes.AlreadyExistsException, match=db):
        hms.create_database(database(db))


def test_get_missing_database(hms):
    name = unique("nodb")
    with pytest.raises(ttypes.NoSuchObjectException, match=name):
        hms.get_database(name)


def test_create_database_at_explicit_location(hms, tmp_path):
    name = unique("db")
    where = tmp_path / "elsewhere"
    hms.create_database(database(name, location=f"file:{where}"))
    assert hms.get_database(name).locationUri == f"file:{where}"
    assert where.is_dir()


def test_list_databases_with_patterns(hms):
    prefix = unique("lst")
    names = [f"{prefix}_a1", f"{prefix}_a2", f"{prefix}_b1"]
    for n in names:
        hms.create_database(database(n))
    assert hms.get_databases(f"{prefix}_*") == names
    assert hms.get_databases(f"{prefix}_a*") == names[:2]
    assert hms.get_databases(f"{prefix}_a1|{prefix}_b*") == [names[0], names[2]]
    assert hms.get_databases(f"{prefix}_zz*") == []
    everything = hms.get_all_databases()
    assert "default" in everything
    assert set(names) <= set(everything)
    assert everything == sorted(everything)


def test_default_database_exists(hms, metastore):
    got = hms.get_database("default")
    assert got.name == "default"
    assert got.locationUri == wh(metastore)


def test_alter_database(hms, db):
    before = hms.get_database(db)
    changed = database(db, description="new description", parameters={"k": "v", "k2": "v2"}, owner="carol")
    hms.alter_database(db, changed)
    got = hms.get_database(db)
    assert got.description == "new description"
    assert got.parameters == {"k": "v", "k2": "v2"}
    assert got.ownerName == "carol"
    assert got.locationUri == before.locationUri  # not given: unchanged


def test_alter_missing_database(hms):
    name = unique("nodb")
    with pytest.raises(ttypes.NoSuchObjectException, match=name):
        hms.alter_database(name, database(name))


def test_drop_database(hms):
    name = unique("db")
    hms.create_database(database(name))
    location = local_path(hms.get_database(name).locationUri)
    assert location.is_dir()
    hms.drop_database(name, True, False)
    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_database(name)
    assert name not in hms.get_all_databases()
    assert not location.exists()


def test_drop_database_keep_data(hms):
    name = unique("db")
    hms.create_database(database(name))
    location = local_path(hms.get_database(name).locationUri)
    hms.drop_database(name, False, False)
    assert name not in hms.get_all_databases()
    assert location.is_dir()


def test_drop_missing_database(hms):
    name = unique("nodb")
    with pytest.raises(ttypes.NoSuchObjectException, match=name):
        hms.drop_database(name, True, False)


def test_drop_default_database_refused(hms):
    with pytest.raises(ttypes.InvalidOperationException, match="default"):
        hms.drop_database("default", False, False)
    assert hms.get_database("default").name == "default"


def test_drop_non_empty_database_needs_cascade(hms, db):
    hms.create_table(table(db, "t1"))
    with pytest.raises(ttypes.InvalidOperationException, match=db):
        hms.drop_database(db, True, False)
    assert hms.get_all_tables(db) == ["t1"]


def test_drop_database_cascade(hms, db):
    t1 = table(db, "t1")
    hms.create_table(t1)
    hms.create_table(table(db, "t2", partition_keys=cols("dt string")))
    t2 = hms.get_table(db, "t2")
    hms.add_partitions([partition(t2, ["2024-01-01"])])
    db_dir = local_path(hms.get_database(db).locationUri)
    t1_dir = local_path(hms.get_table(db, "t1").sd.location)
    assert t1_dir.is_dir()
    hms.drop_database(db, True, True)
    assert db not in hms.get_all_databases()
    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_table(db, "t1")
    assert not t1_dir.exists()
    assert not db_dir.exists()


# --- create and read tables --------------------------------------------------------------------------


def test_create_managed_table(hms, db, metastore):
    hms.create_table(table(db, "plain", cols("id bigint", "name string", "price decimal(10,2)"),
                           parameters={"comment": "a table"}))  # fmt: skip
    got = hms.get_table(db, "plain")
    assert (got.dbName, got.tableName, got.tableType, got.owner) == (db, "plain", "MANAGED_TABLE", "tester")
    assert [(c.name, c.type) for c in got.sd.cols] == [
        ("id", "bigint"),
        ("name", "string"),
        ("price", "decimal(10,2)"),
    ]
    assert got.partitionKeys == []
    assert got.sd.inputFormat == "org.apache.hadoop.mapred.TextInputFormat"
    assert got.sd.outputFormat == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert got.sd.serdeInfo.serializationLib == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert got.sd.serdeInfo.parameters == {"field.delim": ","}
    assert got.parameters["comment"] == "a table"
    assert int(got.parameters["transient_lastDdlTime"]) > 0
    assert got.createTime > 0
    assert got.sd.location == wh(metastore, f"{db}.db", "plain")
    assert local_path(got.sd.location).is_dir()


def test_create_table_name_is_lower_cased(hms, db):
    hms.create_table(table(db, "MixedCase"))
    assert hms.get_table(db, "MIXEDCASE").tableName == "mixedcase"
    assert hms.get_all_tables(db) == ["mixedcase"]


def test_create_table_in_default_database(hms, metastore):
    name = unique("t")
    hms.create_table(table("default", name))
    try:
        got = hms.get_table("default", name)
        assert got.sd.location == wh(metastore, name)
        assert local_path(got.sd.location).is_dir()
    finally:
        hms.drop_table("default", name, True)


def test_create_partitioned_table(hms, db):
    hms.create_table(table(db, "parted", partition_keys=cols("dt string", "hr int")))
    got = hms.get_table(db, "parted")
    assert [(c.name, c.type) for c in got.partitionKeys] == [("dt", "string"), ("hr", "int")]
    assert [c.name for c in got.sd.cols] == ["id", "name"]
    assert hms.get_partition_names(db, "parted", -1) == []


def test_create_external_table(hms, db, tmp_path):
    where = tmp_path / "ext_data"
    hms.create_table(table(db, "ext", table_type="EXTERNAL_TABLE", location=f"file:{where}"))
    got = hms.get_table(db, "ext")
    assert got.tableType == "EXTERNAL_TABLE"
    assert got.parameters["EXTERNAL"] == "TRUE"
    assert got.sd.location == f"file:{where}"
    assert where.is_dir()


def test_create_view(hms, db, metastore):
    hms.create_table(table(db, "base"))
    text = f"SELECT id FROM {db}.base"
    hms.create_table(table(db, "v", cols("id bigint"), table_type="VIRTUAL_VIEW", view_text=text))
    got = hms.get_table(db, "v")
    assert got.tableType == "VIRTUAL_VIEW"
    assert got.viewOriginalText == text
    assert got.viewExpandedText == text
    assert not got.sd.location
    assert not (metastore.warehouse / f"{db}.db" / "v").exists()
    assert hms.get_tables_by_type(db, "*", "VIRTUAL_VIEW") == ["v"]


def test_create_existing_table_fails(hms, db):
    hms.create_table(table(db, "t"))
    with pytest.raises(ttypes.AlreadyExistsException, match=f"{db}.t"):
        hms.create_table(table(db, "t", cols("other int")))
    assert [c.name for c in hms.get_table(db, "t").sd.cols] == ["id", "name"]


def test_create_table_in_missing_database(hms):
    name = unique("nodb")
    with pytest.raises(ttypes.NoSuchObjectException, match=name):
        hms.create_table(table(name, "t"))


def test_get_missing_table(hms, db):
    with pytest.raises(ttypes.NoSuchObjectException, match=f"{db}.nope"):
        hms.get_table(db, "nope")


def test_get_table_objects_by_name(hms, db):
    for n in ("a", "b", "c"):
        hms.create_table(table(db, n))
    got = hms.get_table_objects_by_name(db, ["c", "missing", "A"])
    assert sorted(t.tableName for t in got) == ["a", "c"]
    assert all(t.dbName == db for t in got)
    assert hms.get_table_objects_by_name(db, []) == []


def test_list_tables_with_patterns(hms, db):
    for n in ("sales_2023", "sales_2024", "users", "v_sales"):
        hms.create_table(table(db, n))
    assert hms.get_all_tables(db) == ["sales_2023", "sales_2024", "users", "v_sales"]
    assert hms.get_tables(db, "sales_*") == ["sales_2023", "sales_2024"]
    assert hms.get_tables(db, "*sales*") == ["sales_2023", "sales_2024", "v_sales"]
    assert hms.get_tables(db, "users|v_*") == ["users", "v_sales"]
    assert hms.get_tables(db, "SALES_2023") == ["sales_2023"]
    assert hms.get_tables(db, "nothing*") == []


def test_list_tables_of_missing_database(hms):
    name = unique("nodb")
    with pytest.raises(ttypes.MetaException, match=name):
        hms.get_all_tables(name)


def test_get_table_meta(hms, db, tmp_path):
    hms.create_table(table(db, "m1", parameters={"comment": "first"}))
    hms.create_table(table(db, "e1", table_type="EXTERNAL_TABLE", location=f"file:{tmp_path}/e1"))
    hms.create_table(table(db, "v1", table_type="VIRTUAL_VIEW", view_text="select 1"))
    metas = hms.get_table_meta(db, "*", [])
    assert [(m.dbName, m.tableName, m.tableType) for m in metas] == [
        (db, "e1", "EXTERNAL_TABLE"), (db, "m1", "MANAGED_TABLE"), (db, "v1", "VIRTUAL_VIEW")]  # fmt: skip
    assert next(m for m in metas if m.tableName == "m1").comments == "first"
    assert [m.tableName for m in hms.get_table_meta(db, "*1", ["MANAGED_TABLE", "VIRTUAL_VIEW"])] == [
        "m1",
        "v1",
    ]
    assert [m.tableName for m in hms.get_table_meta(db, "e*", [])] == ["e1"]
    assert hms.get_table_meta(unique("nodb"), "*", []) == []


def test_get_fields_and_schema(hms, db):
    hms.create_table(table(db, "t", cols("a int", "b map<string,array<int>>"), cols("dt string")))
    fields = hms.get_fields(db, "t")
    assert [(f.name, f.type) for f in fields] == [("a", "int"), ("b", "map<string,array<int>>")]
    schema = hms.get_schema(db, "t")
    assert [(f.name, f.type) for f in schema] == [
        ("a", "int"),
        ("b", "map<string,array<int>>"),
        ("dt", "string"),
    ]
    with pytest.raises(ttypes.UnknownTableException, match="nope"):
        hms.get_fields(db, "nope")


# --- alter -------------------------------------------------------------------------------------------


def test_alter_table_add_columns_makes_versions(hms, db, catalog):
    hms.create_table(table(db, "t"))
    assert [v.version for v in catalog.tables.versions(db, "t")] == [1]
    tbl = hms.get_table(db, "t")
    tbl.sd.cols.append(ttypes.FieldSchema(name="email", type="string", comment="new"))
    hms.alter_table(db, "t", tbl)
    got = hms.get_table(db, "t")
    assert [(c.name, c.type, c.comment) for c in got.sd.cols][-1] == ("email", "string", "new")
    versions = catalog.tables.versions(db, "t")
    assert [v.version for v in versions] == [1, 2]
    assert [c.name for c in versions[0].columns] == ["id", "name"]
    assert [c.name for c in versions[1].columns] == ["id", "name", "email"]
    # a change that leaves the columns alone makes no version
    got.parameters["owner_note"] = "x"
    hms.alter_table(db, "t", got)
    assert hms.get_table(db, "t").parameters["owner_note"] == "x"
    assert [v.version for v in catalog.tables.versions(db, "t")] == [1, 2]


def test_alter_missing_table(hms, db):
    with pytest.raises(ttypes.InvalidOperationException, match="nope"):
        hms.alter_table(db, "nope", table(db, "nope"))


def test_alter_table_cannot_change_partition_keys(hms, db):
    hms.create_table(table(db, "p", partition_keys=cols("dt string")))
    tbl = hms.get_table(db, "p")
    tbl.partitionKeys = cols("dt string", "hr int")
    with pytest.raises(ttypes.InvalidOperationException, match="partition keys"):
        hms.alter_table(db, "p", tbl)
    assert [k.name for k in hms.get_table(db, "p").partitionKeys] == ["dt"]


def test_rename_managed_table_moves_directory_and_partitions(hms, db, metastore):
    hms.create_table(table(db, "old", partition_keys=cols("dt string")))
    tbl = hms.get_table(db, "old")
    hms.add_partitions([partition(tbl, ["2024-01-01"]), partition(tbl, ["2024-01-02"])])
    old_dir = local_path(tbl.sd.location)
    (old_dir / "dt=2024-01-01" / "data.txt").write_text("1,a\n")
    tbl.tableName = "renamed"
    hms.alter_table(db, "old", tbl)

    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_table(db, "old")
    got = hms.get_table(db, "renamed")
    assert got.sd.location == wh(metastore, f"{db}.db", "renamed")
    new_dir = local_path(got.sd.location)
    assert new_dir.is_dir() and not old_dir.exists()
    assert (new_dir / "dt=2024-01-01" / "data.txt").read_text() == "1,a\n"
    parts = hms.get_partitions(db, "renamed", -1)
    assert [p.sd.location for p in parts] == [
        wh(metastore, f"{db}.db", "renamed", "dt=2024-01-01"), wh(metastore, f"{db}.db", "renamed", "dt=2024-01-02")]  # fmt: skip
    assert all(p.tableName == "renamed" for p in parts)
    assert hms.get_all_tables(db) == ["renamed"]


def test_rename_table_to_existing_name_fails(hms, db):
    hms.create_table(table(db, "a"))
    hms.create_table(table(db, "b"))
    tbl = hms.get_table(db, "a")
    tbl.tableName = "b"
    with pytest.raises(ttypes.InvalidOperationException, match=f"{db}.b"):
        hms.alter_table(db, "a", tbl)
    assert hms.get_all_tables(db) == ["a", "b"]


def test_rename_external_table_keeps_location(hms, db, tmp_path):
    where = tmp_path / "ext"
    hms.create_table(table(db, "e", table_type="EXTERNAL_TABLE", location=f"file:{where}"))
    tbl = hms.get_table(db, "e")
    tbl.tableName = "e2"
    hms.alter_table(db, "e", tbl)
    assert hms.get_table(db, "e2").sd.location == f"file:{where}"
    assert where.is_dir()


def test_move_table_to_another_database(hms, db, metastore):
    other = unique("db")
    hms.create_database(database(other))
    try:
        hms.create_table(table(db, "mover"))
        tbl = hms.get_table(db, "mover")
        tbl.dbName = other
        hms.alter_table(db, "mover", tbl)
        got = hms.get_table(other, "mover")
        assert got.sd.location == wh(metastore, f"{other}.db", "mover")
        assert local_path(got.sd.location).is_dir()
        assert hms.get_all_tables(db) == []
    finally:
        hms.drop_database(other, True, True)


def _partitioned_with_parts(hms, db, name):
    hms.create_table(table(db, name, partition_keys=cols("dt string")))
    tbl = hms.get_table(db, name)
    hms.add_partitions([partition(tbl, ["a"]), partition(tbl, ["b"])])
    tbl.sd.cols.append(ttypes.FieldSchema(name="extra", type="int"))
    return tbl


def test_alter_table_with_cascade_updates_partitions(hms, db):
    tbl = _partitioned_with_parts(hms, db, "c")
    ctx = ttypes.EnvironmentContext(properties={"CASCADE": "true"})
    hms.alter_table_with_environment_context(db, "c", tbl, ctx)
    assert [c.name for c in hms.get_table(db, "c").sd.cols] == ["id", "name", "extra"]
    for p in hms.get_partitions(db, "c", -1):
        assert [(c.name, c.type) for c in p.sd.cols] == [
            ("id", "bigint"),
            ("name", "string"),
            ("extra", "int"),
        ]


def test_alter_table_without_cascade_leaves_partitions(hms, db):
    tbl = _partitioned_with_parts(hms, db, "nc")
    hms.alter_table_with_environment_context(db, "nc", tbl, ttypes.EnvironmentContext(properties={}))
    assert [c.name for c in hms.get_table(db, "nc").sd.cols] == ["id", "name", "extra"]
    for p in hms.get_partitions(db, "nc", -1):
        assert [c.name for c in p.sd.cols] == ["id", "name"]


def test_alter_table_with_cascade_flag(hms, db):
    tbl = _partitioned_with_parts(hms, db, "cf")
    hms.alter_table_with_cascade(db, "cf", tbl, True)
    for p in hms.get_partitions(db, "cf", -1):
        assert [c.name for c in p.sd.cols] == ["id", "name", "extra"]


# --- drop --------------------------------------------------------------------------------------------


def test_drop_managed_table_with_data(hms, db):
    hms.create_table(table(db, "m", partition_keys=cols("dt string")))
    tbl = hms.get_table(db, "m")
    hms.add_partitions([partition(tbl, ["x"])])
    where = local_path(tbl.sd.location)
    (where / "dt=x" / "f.txt").write_text("data")
    hms.drop_table(db, "m", True)
    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_table(db, "m")
    assert not where.exists()


def test_drop_managed_table_keep_data(hms, db):
    hms.create_table(table(db, "keep"))
    where = local_path(hms.get_table(db, "keep").sd.location)
    hms.drop_table(db, "keep", False)
    assert hms.get_all_tables(db) == []
    assert where.is_dir()


def test_drop_external_table_keeps_data(hms, db, tmp_path):
    where = tmp_path / "ext_keep"
    hms.create_table(table(db, "e", table_type="EXTERNAL_TABLE", location=f"file:{where}"))
    (where / "f.txt").write_text("data")
    hms.drop_table(db, "e", True)
    assert hms.get_all_tables(db) == []
    assert (where / "f.txt").read_text() == "data"


def test_drop_missing_table(hms, db):
    with pytest.raises(ttypes.NoSuchObjectException, match=f"{db}.nope"):
        hms.drop_table(db, "nope", True)


def test_recreate_after_drop(hms, db):
    hms.create_table(table(db, "again", cols("a int")))
    hms.drop_table(db, "again", True)
    hms.create_table(table(db, "again", cols("b string")))
    assert [c.name for c in hms.get_table(db, "again").sd.cols] == ["b"]


# --- invalid input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["bad name!", "", "a-b", "x" * 129])
def test_invalid_table_name(hms, db, bad):
    with pytest.raises(ttypes.InvalidObjectException, match="not a valid object name"):
        hms.create_table(table(db, bad))
    assert hms.get_all_tables(db) == []


@pytest.mark.parametrize("bad", ["bad name!", "", "semi;colon"])
def test_invalid_database_name(hms, bad):
    before = hms.get_all_databases()
    with pytest.raises(ttypes.InvalidObjectException, match="not a valid object name"):
        hms.create_database(database(bad))
    assert hms.get_all_databases() == before


@pytest.mark.parametrize(
    "bad", ["foo", "array<", "map<string>", "struct<a int>", "decimal(1,2,3)", "varchar"]
)
def test_invalid_column_type(hms, db, bad):
    with pytest.raises(ttypes.InvalidObjectException, match="not a valid Hive type"):
        hms.create_table(table(db, "badtype", cols("id bigint", ("c", bad))))
    with pytest.raises(ttypes.NoSuchObjectException):
        hms.get_table(db, "badtype")
    assert hms.get_all_tables(db) == []


def test_invalid_partition_key_type(hms, db):
    with pytest.raises(ttypes.InvalidObjectException, match="'strin'"):
        hms.create_table(table(db, "badkey", partition_keys=cols("dt strin")))
    assert hms.get_all_tables(db) == []


@pytest.mark.parametrize(
    "good",
    [
        "array<struct<a:int,b:map<string,decimal(10,2)>>>",
        "varchar(20)",
        "uniontype<int,string>",
        "timestamp",
        "char(3)",
        "double precision",
    ],
)
def test_valid_complex_types(hms, db, good):
    hms.create_table(table(db, "ok", cols(("c", good))))
    assert hms.get_fields(db, "ok")[0].type == good


def test_duplicate_column(hms, db):
    with pytest.raises(ttypes.InvalidObjectException, match="duplicate column 'ID'"):
        hms.create_table(table(db, "dup", cols("id bigint", "ID string")))
    with pytest.raises(ttypes.InvalidObjectException, match="duplicate partition key 'id'"):
        hms.create_table(table(db, "dup", cols("id bigint"), cols("id string")))
    assert hms.get_all_tables(db) == []


def test_alter_to_invalid_column_type_is_refused(hms, db, catalog):
    hms.create_table(table(db, "t"))
    tbl = hms.get_table(db, "t")
    tbl.sd.cols.append(ttypes.FieldSchema(name="bad", type="array<"))
    with pytest.raises(ttypes.InvalidOperationException, match="not a valid Hive type"):
        hms.alter_table(db, "t", tbl)
    assert [c.name for c in hms.get_table(db, "t").sd.cols] == ["id", "name"]
    assert [v.version for v in catalog.tables.versions(db, "t")] == [1]


def test_unknown_table_type(hms, db):
    with pytest.raises(ttypes.InvalidObjectException, match="unknown table type 'NOT_A_TYPE'"):
        hms.create_table(table(db, "t", table_type="NOT_A_TYPE"))


# --- audit -------------------------------------------------------------------------------------------


def test_audit_records_who_really_called_not_an_untrusted_set_ugi_name(hms, db, catalog):
    """set_ugi from a host not in trusted_ugi_hosts proves nothing: the audit names the anonymous caller
    (tests/test_thrift_security.py: a trusted host's set_ugi name is believed)."""
    assert hms.set_ugi("alice", []) == []
    hms.create_table(table(db, "audited"))
    tbl = hms.get_table(db, "audited")
    tbl.sd.cols.append(ttypes.FieldSchema(name="x", type="int"))
    hms.alter_table(db, "audited", tbl)
    hms.drop_table(db, "audited", True)
    records = catalog.audit.records(db, "audited")
    assert [(r.action, r.user, r.db_name, r.object_name) for r in records] == [
        ("CREATE_TABLE", "anonymous", db, "audited"),
        ("ALTER_TABLE", "anonymous", db, "audited"),
        ("DROP_TABLE", "anonymous", db, "audited"),
    ]
    assert records[1].details == {"version": 2}
    assert records[0].id < records[1].id < records[2].id


def test_audit_user_defaults_to_anonymous(hms, db, catalog):
    hms.create_table(table(db, "anon"))
    assert [(r.action, r.user) for r in catalog.audit.records(db, "anon")] == [("CREATE_TABLE", "anonymous")]
    db_records = catalog.audit.records(db)
    assert db_records[0].action == "CREATE_DATABASE"


def test_request_methods_without_a_catalog_field_take_it_in_the_database_name(hms, db, metastore, tmp_path):
    """truncate_table_req and get_partitions_by_names_req take `@cat#db` (their structs have no catName:
    both used to fail with an internal error)."""
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.transport import TSocket, TTransport

    from metastore.hms.gen.hive import ThriftHiveMetastore as T
    from metastore.hms.gen.hive import ttypes as gt

    p = table(db, "p", partition_keys=cols(("dt", "string")))
    hms.create_table(p)
    hms.add_partitions([partition(hms.get_table(db, "p"), ["d1"])])
    hms.create_table(table(db, "t", location=str(tmp_path / "t")))
    (tmp_path / "t").mkdir(exist_ok=True)
    (tmp_path / "t" / "part-0").write_text("x\n")
    trans = TTransport.TBufferedTransport(TSocket.TSocket(metastore.host, metastore.port))
    trans.open()
    client = T.Client(TBinaryProtocol(trans))
    try:
        for name in (db, f"@hive#{db}"):
            got = client.get_partitions_by_names_req(gt.GetPartitionsByNamesRequest(name, "p", ["dt=d1"]))
            assert [p.values for p in got.partitions] == [["d1"]]
        client.truncate_table_req(gt.TruncateTableRequest(dbName=f"@hive#{db}", tableName="t"))
        assert not (tmp_path / "t" / "part-0").exists()
    finally:
        trans.close()
