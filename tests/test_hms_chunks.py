"""Partitions and tables kept encoded in storage (issue 17, catalog/chunks.py): whole listings from chunks,
filters from each row's stored bytes, get_table from the table row's. Two server processes on one database
(SQLite file, PostgreSQL): whatever server made a change, every answer through the other one is exact, i.e.
the same as the compact protocol's, which builds Thrift objects from the partition rows and never reads the
stored encodings."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import insert, select, update

from metastore.catalog import CatalogService
from metastore.catalog.base import new_partitions_version
from metastore.hms.gen.hive import ttypes as tt
from metastore.storage.models import PartitionKeyValueRow, PartitionRow, TableRow
from tests.conftest import unique
from tests.test_hms_wire import _Client, _sd, two_servers  # noqa: F401 - the fixture

FILTERS = ('dt = "d03"', "hr = 7", 'dt >= "d05" and hr < 4', 'hr > 100')


def test_answers_through_another_server_are_exact(two_servers, tmp_path):  # noqa: F811 - the fixture
    a, b = two_servers
    db = unique("cdb")
    cols = [tt.FieldSchema("id", "bigint", None), tt.FieldSchema("v", "string", None)]
    keys = [tt.FieldSchema("dt", "string", None), tt.FieldSchema("hr", "int", None)]

    def part(d: str, h: int, table: str = "t") -> tt.Partition:
        return tt.Partition(values=[d, str(h)], dbName=db, tableName=table, sd=_sd(cols, f"file:/c/{d}/{h}"),
                            parameters={"n": f"{d}{h}"})  # fmt: skip

    with _Client(a.port) as ca, _Client(b.port) as cb, _Client(b.port, compact=True) as cc:

        def check(table: str = "t") -> int:
            """Every listing through b (binary: stored encodings) is the objects' (compact) and a's."""
            whole = cc.get_partitions(db, table, -1)
            assert cb.get_partitions(db, table, -1) == whole == ca.get_partitions(db, table, -1)
            names = cc.get_partition_names(db, table, -1)
            assert cb.get_partition_names(db, table, -1) == names == ca.get_partition_names(db, table, -1)
            assert names == sorted(names) and len(names) == len(whole)
            for f in FILTERS:
                expected = cc.get_partitions_by_filter(db, table, f, -1)
                assert cb.get_partitions_by_filter(db, table, f, -1) == expected, f
                assert ca.get_partitions_by_filter(db, table, f, -1) == expected, f
            assert cb.get_table(db, table) == cc.get_table(db, table)
            return len(names)

        ca.create_database(tt.Database(db, "", None, {}))
        ca.create_table(tt.Table(tableName="t", dbName=db, sd=_sd(cols), partitionKeys=keys, parameters={},
                                 tableType="EXTERNAL_TABLE"))  # fmt: skip
        parts = [part(f"d{d:02d}", h) for d in range(12) for h in range(120)]  # 1,440: chunks of 512 split
        random.Random(17).shuffle(parts)
        for i in range(0, len(parts), 500):
            (ca if i % 1000 else cb).add_partitions(parts[i : i + 500])
        answered = cb.getCounters()["chunks.answered"]
        assert check() == 1440
        assert cb.getCounters()["chunks.answered"] > answered  # whole listings came from the chunks

        ca.drop_partition(db, "t", ["d03", "7"], False)
        assert check() == 1439
        p = cb.get_partition(db, "t", ["d05", "2"])
        p.parameters["n"] = "altered"
        p.sd.location = "file:/elsewhere"
        ca.alter_partition(db, "t", p)
        assert check() == 1439
        assert cb.get_partitions_by_filter(db, "t", 'dt = "d05" and hr = 2', -1)[0].parameters["n"] == "altered"
        q = cb.get_partition(db, "t", ["d06", "1"])
        q.values = ["d00", "999"]
        cb.rename_partition(db, "t", ["d06", "1"], q)
        assert check() == 1439
        ca.drop_partitions_req(tt.DropPartitionsRequest(dbName=db, tblName="t", deleteData=False,
                                                        parts=tt.RequestPartsSpec(names=[f"dt=d08/hr={h}" for h in range(120)])))  # fmt: skip
        assert check() == 1319
        cb.add_partitions([part("a", 1), part("zz", 5)])  # before the first chunk, after the last
        assert check() == 1321

        # renamed (the encodings name the table) and back: the stored bytes are not used until made again
        t = ca.get_table(db, "t")
        t.tableName = "t2"
        ca.alter_table(db, "t", t)
        assert check("t2") == 1321
        cb.add_partitions([part("d11", 500, "t2")])
        assert check("t2") == 1322
        t = cb.get_table(db, "t2")
        t.tableName = "t"
        t.parameters["k"] = "v"
        cb.alter_table(db, "t2", t)
        assert check() == 1322
        # new columns cascaded to the partitions
        t = ca.get_table(db, "t")
        t.sd.cols = [*cols, tt.FieldSchema("w", "double", None)]
        ca.alter_table_with_cascade(db, "t", t, True)
        assert check() == 1322
        assert cb.get_partitions(db, "t", -1)[0].sd.cols[-1].name == "w"
        ca.drop_partition(db, "t", ["a", "1"], False)
        assert check() == 1321

        # another process writing rows straight into storage, without encodings (a bulk load): the rows are
        # read; after refresh_encodings the stored bytes are used again
        other = CatalogService.open(a.database_url, str(tmp_path / "warehouse"))
        try:
            engine = other.ctx.engine
            with engine.begin() as conn:
                tid = conn.execute(select(TableRow.id).where(TableRow.name == "t")).scalar_one()
                one = conn.execute(select(PartitionRow).where(PartitionRow.table_id == tid)).first()
                pid = conn.execute(insert(PartitionRow).values(
                    table_id=tid, name="dt=d99/hr=1", values='["d99","1"]', create_time=1, last_access_time=0,
                    location="file:/c/d99/1", sd=one.sd, parameters="{}").returning(PartitionRow.id)).scalar_one()  # fmt: skip
                conn.execute(insert(PartitionKeyValueRow), [
                    {"partition_id": pid, "key_index": 0, "table_id": tid, "value": "d99", "int_value": None},
                    {"partition_id": pid, "key_index": 1, "table_id": tid, "value": "1", "int_value": 1}])  # fmt: skip
                conn.execute(update(TableRow).where(TableRow.id == tid).values(partitions_version=new_partitions_version()))
            assert check() == 1322
            assert 'd99' in [v for p in cb.get_partitions_by_filter(db, "t", "hr = 1", -1) for v in p.values]
            other.partitions.refresh_encodings(db, "t")
            assert check() == 1322
            with engine.begin() as conn:
                assert conn.execute(select(PartitionRow.id).where(PartitionRow.table_id == tid,
                                                                  PartitionRow.encoded.is_(None))).first() is None  # fmt: skip
            other.partitions.drop(db, "t", ["d99", "1"], delete_data=False)
            assert check() == 1321
        finally:
            other.ctx.engine.dispose()

        # get_table through b right after an alter through a: the stored encoding, exact
        for i in range(3):
            t = ca.get_table(db, "t")
            t.parameters["round"] = str(i)
            ca.alter_table(db, "t", t)
            assert cb.get_table(db, "t") == cc.get_table(db, "t") == ca.get_table(db, "t")
            assert cb.get_table(db, "t").parameters["round"] == str(i)

        # dropped with its partitions, made again empty
        ca.drop_table(db, "t", False)
        ca.create_table(tt.Table(tableName="t", dbName=db, sd=_sd(cols), partitionKeys=keys, parameters={},
                                 tableType="EXTERNAL_TABLE"))  # fmt: skip
        assert check() == 0
        cb.add_partitions([part("d01", 1)])
        assert check() == 1
        ca.drop_database(db, True, True)


def test_filter_answers_kept_per_chunk_are_exact_after_changes(two_servers):  # noqa: F811 - the fixture
    """A filter's whole answer is kept per chunk (catalog/filtered_chunks.py): after a change through either
    server, each server filters only the chunks changed and reuses the rest, and the answer is the compact
    protocol's (made from the rows). 6,000 partitions: 12 chunks, a change touches one or a few."""
    a, b = two_servers
    db = unique("fdb")
    cols = [tt.FieldSchema("id", "bigint", None)]
    keys = [tt.FieldSchema("dt", "string", None), tt.FieldSchema("hr", "int", None)]
    filters = ('hr = 42', 'dt >= "d020" and dt < "d030"', 'dt like "d01%" or hr > 97', 'not (hr < 99)')

    def part(d: str, h: int, **params) -> tt.Partition:
        return tt.Partition(values=[d, str(h)], dbName=db, tableName="t", sd=_sd(cols, f"file:/f/{d}/{h}"),
                            parameters={"n": f"{d}{h}", **params})  # fmt: skip

    with _Client(a.port) as ca, _Client(b.port) as cb, _Client(b.port, compact=True) as cc:

        def check() -> None:
            for f in filters:
                expected = cc.get_partitions_by_filter(db, "t", f, -1)
                assert [p.values for p in cb.get_partitions_by_filter(db, "t", f, -1)] == [p.values for p in expected], f
                assert cb.get_partitions_by_filter(db, "t", f, -1) == expected, f
                assert ca.get_partitions_by_filter(db, "t", f, -1) == expected, f

        def reused() -> int:
            return sum(c.getCounters()["listing_cache.filter_chunks_reused"] for c in (ca, cb))

        ca.create_database(tt.Database(db, "", None, {}))
        ca.create_table(tt.Table(tableName="t", dbName=db, sd=_sd(cols), partitionKeys=keys, parameters={},
                                 tableType="EXTERNAL_TABLE"))  # fmt: skip
        for d in range(0, 60, 10):
            cb.add_partitions([part(f"d{x:03d}", h) for x in range(d, d + 10) for h in range(100)])
        check()
        before = reused()
        ca.add_partitions([part("d025", 100)])  # one chunk
        check()
        assert reused() > before  # the other chunks' parts of each answer were reused
        cb.drop_partition(db, "t", ["d031", "42"], False)
        check()
        p = ca.get_partition(db, "t", ["d012", "98"])
        p.parameters["n"] = "altered"
        cb.alter_partition(db, "t", p)
        check()
        assert [q.parameters["n"] for q in ca.get_partitions_by_filter(db, "t", 'dt = "d012" and hr = 98', -1)] == ["altered"]
        q = cb.get_partition(db, "t", ["d040", "42"])
        q.values = ["d000", "142"]
        ca.rename_partition(db, "t", ["d040", "42"], q)
        check()
        ca.drop_partitions_req(tt.DropPartitionsRequest(dbName=db, tblName="t", deleteData=False,
                                                        parts=tt.RequestPartsSpec(names=[f"dt=d05{x}/hr=42" for x in range(10)])))  # fmt: skip
        check()
        cb.add_partitions([part("a", 42), part("zz", 99), *(part("d0205", h) for h in range(600))])  # both ends; a split
        check()
        assert len(cb.get_partitions_by_filter(db, "t", "hr = 42", -1)) == 60 - 1 - 1 - 10 + 2
        # a filter that does not parse, or names no key, is refused the same way, kept answers or not
        for bad in ("hr = ", "nokey = 1"):
            for c in (ca, cb):
                with pytest.raises(tt.MetaException):
                    c.get_partitions_by_filter(db, "t", bad, -1)
        ca.drop_database(db, True, True)
