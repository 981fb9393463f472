"""Glue ETL scripts run unchanged (`awsglue`, runner/jobs/glue): the corpus of tests/glue_scripts.py through a
real `mortar worker` with a warm pool (Spark local[1]) on a real metastore, outputs checked row by row;
bookmarks over several runs; a script missing an option; JDBC from the local PostgreSQL (a cold driver given
the JDBC driver's jar)."""

from __future__ import annotations

import glob
import json
import os
import sys
from pathlib import Path
from unittest import mock

import pytest

from metastore.catalog import CatalogService
from metastore.catalog.connections import Connection
from metastore.catalog.crawlers import Crawler, CrawlerTarget
from metastore.catalog.encryption import Secrets
from metastore.catalog.jobs import Job
from metastore.config import Settings
from tests import glue_scripts as G
from tests.conftest import PG_ADMIN_URL, redis_url, start_metastore, stop_metastore
from tests.test_jobs import Env, Worker, _worker_env

GLUE_LIBS = str(Path(__file__).resolve().parents[1] / "runner" / "jobs" / "glue")
ONE_PARTITION = {"spark.sql.shuffle.partitions": "1"}


# --- without Spark -----------------------------------------------------------------------------------------


def test_get_resolved_options_follows_glue_rules():
    sys.path.insert(0, GLUE_LIBS)
    try:
        from awsglue.types import split_path
        from awsglue.utils import GlueArgumentError, getResolvedOptions
    finally:
        sys.path.remove(GLUE_LIBS)
    argv = ["script.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "7", "--target=s3://b/k", "--extra", "x",
            "--job-bookmark-option", "job-bookmark-pause"]  # fmt: skip
    args = getResolvedOptions(argv, ["JOB_NAME", "target"])
    assert (args["JOB_NAME"], args["target"], args["JOB_RUN_ID"]) == ("j", "s3://b/k", "7")
    assert args["job_bookmark_option"] == "job-bookmark-pause" and args["TempDir"] is None
    assert "extra" not in args
    with pytest.raises(GlueArgumentError, match="the following arguments are required: --source"):
        getResolvedOptions(argv, ["JOB_NAME", "source"])
    with pytest.raises(GlueArgumentError, match="job-bookmark-sometimes"):
        getResolvedOptions(["s", "--job-bookmark-option", "job-bookmark-sometimes"], [])
    assert split_path("a.b.c") == ["a", "b", "c"] and split_path("`a.b`.c") == ["a.b", "c"]


# --- through a worker --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    """A metastore (SQLite) and a worker (Redis broker, warm pool of 2), the catalog's connections
    encrypted with a key of this module's."""
    from cryptography.fernet import Fernet

    tmp = tmp_path_factory.mktemp("glue")
    (tmp / "data").mkdir()
    with mock.patch.dict(os.environ, {"MORTAR_SECRET_KEY": Fernet.generate_key().decode()}):
        ms = start_metastore("sqlite", tmp, f"sqlite:///{tmp / 'catalog.db'}")
        broker = redis_url(11)
        env = _worker_env(tmp / "data", broker, ms.database_url, str(ms.warehouse), MORTAR_METASTORE_URI=ms.uri,
                          MORTAR_JOB_WARM_POOL="2")  # fmt: skip
        worker = Worker(tmp, env)
        secrets = Secrets.from_settings(Settings.load(data_dir=str(tmp / "data")))
        service = CatalogService.open(ms.database_url, str(ms.warehouse), secrets=secrets)
        cluster = Env(service, tmp / "data", broker, worker)
        cluster.tmp = tmp
        _source_tables(service, tmp / "src")
        yield cluster
        worker.stop()
        service.ctx.engine.dispose()
        stop_metastore(ms)



def _parquet(path: Path, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


EVENTS = {
    "2024-05-01": [("u1", "Ann", 5), ("u2", "Bob", 7)],
    "2024-05-02": [("u1", "Ann", 0), ("u3", "Cid", 12)],
}


def _source_tables(svc: CatalogService, root: Path) -> None:
    """raw.events (partitioned by dt, a struct column user), raw.persons and raw.memberships, crawled."""
    import pyarrow as pa

    from runner.crawler.crawl import run_crawler

    user = pa.struct([("id", pa.string()), ("name", pa.string())])
    for day, rows in EVENTS.items():
        _parquet(root / "events" / f"dt={day}" / "part-0.parquet", {
            "user": pa.array([{"id": u, "name": n} for u, n, _ in rows], user),
            "amount": pa.array([a for *_, a in rows], pa.int64())})  # fmt: skip
    _parquet(root / "persons" / "p.parquet", {"id": [1, 2, 3], "name": ["Ann", "Bob", "Cid"]})
    _parquet(root / "memberships" / "m.parquet",
             {"person_id": [1, 1, 2, 9], "org": ["senate", "house", "house", "house"], "year": [2001, 2005, 2003, 1999]})  # fmt: skip
    for name in ("events", "persons", "memberships"):
        svc.crawlers.create(Crawler(name=name, targets=[CrawlerTarget(str(root / name))], database="raw"))
        assert run_crawler(svc, name).state == "SUCCEEDED"
    assert [c.name for c in svc.tables.get("raw", "events").partition_keys] == ["dt"]


def _run(cluster: Env, job: str, arguments: dict | None = None, state: str = "SUCCEEDED") -> str:
    run = cluster.service.jobs.start_run(job, arguments=arguments)
    cluster.send("runner.job_run", [run.id])
    done = cluster.wait_run(run.id, timeout=1200)
    log = cluster.log(run.id)
    assert done.state == state, (done.error, log[-6000:])
    return log if state == "SUCCEEDED" else f"{done.error}\n{log}"


def _parquet_rows(path: Path, partitioning: str | None = "hive") -> list[dict]:
    """The rows of the parquet files under `path` (file by file: their schemas may differ), with the values
    of k=v folders when `partitioning` is "hive"."""
    import pyarrow.parquet as pq

    rows = []
    for f in sorted(path.rglob("*.parquet")):
        if any(x[:1] in "._" for x in f.relative_to(path).parts):
            continue
        part = {kv.split("=", 1)[0]: kv.split("=", 1)[1] for kv in f.relative_to(path).parts[:-1] if "=" in kv}
        rows += [{**r, **(part if partitioning else {})} for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def _json_rows(path: Path) -> list[dict]:
    rows = []
    for f in sorted(path.rglob("*.json")):
        part = {kv.split("=", 1)[0]: kv.split("=", 1)[1] for kv in f.relative_to(path).parts[:-1] if "=" in kv}
        rows += [{**json.loads(line), **part} for line in f.read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.timeout(2400)
def test_the_glue_script_corpus_runs_unchanged_on_a_worker(glue):
    """Fifteen Glue-style scripts, each unchanged with its own arguments, run one after another in one warm
    run (tests/glue_scripts.py BATCH); each one's output checked row by row."""
    tmp, svc = glue.tmp, glue.service
    inp, out = tmp / "in", tmp / "out"
    _write(inp / "prices" / "a.csv", "id,price,name\n1,10,x\n2,abc,y\n3,2.5,z\n")
    _write(inp / "prices" / "b.csv", "id,price,name\n4,7,w\n5,6,v,extra\n")
    people = [
        {"id": 1, "name": {"first": "Ann", "last": "Lee"}, "contact_details": [{"type": "tel", "value": "1"},
                                                                                {"type": "fax", "value": "2"}]},
        {"id": 2, "name": {"first": "Bob"}, "contact_details": [{"type": "email", "value": "b@x"}]},
        {"id": 3, "name": {"first": "Cid", "last": "Ray"}, "contact_details": []},
    ]  # fmt: skip
    _write(inp / "people" / "p.json", "\n".join(json.dumps(p) for p in people))
    _write(inp / "boxed" / "b.csv", 'id|payload\n1|{"a": 1, "b": {"c": "x"}}\n2|{"a": 2}\n')
    _write(inp / "union_a" / "a.json", '{"k": 1, "v": "one", "gone": null}\n{"k": 2, "v": "two"}\n')
    _write(inp / "union_b" / "b.json", '{"k": 3, "extra": true}\n')
    _parquet(inp / "mixed" / "a.parquet", {"id": [1, 2], "code": [10, 20]})
    _parquet(inp / "mixed" / "b.parquet", {"id": [3], "code": ["x3"]})
    args = {
        "catalog_to_parquet": {"target": out / "events"},
        "csv_choice_cast": {"source": inp / "prices", "target": out / "cast"},
        "csv_choice_make_cols": {"source": inp / "prices", "target": out / "cols"},
        "csv_choice_make_struct_project": {"source": inp / "prices", "target": out / "struct",
                                           "target2": out / "project"},
        "json_relationalize": {"source": inp / "people", "target": out / "rel"},
        "join_catalog_tables": {},
        "filter_map_errors": {"target": out / "mapped"},
        "select_rename_unnest_csv": {"target": out / "csv"},
        "split_rows_fields": {"target": out / "split"},
        "unbox_unnest": {"source": inp / "boxed", "target": out / "unboxed"},
        "union_dropnull": {"source": inp / "union_a", "source2": inp / "union_b", "target": out / "union"},
        "sink_update_catalog": {"target": out / "sunk"},
        "purge_table": {},
        "parquet_choice_make_cols": {"source": inp / "mixed", "target": out / "mixed"},
        "dataframe_roundtrip_spigot": {"target": out / "totals", "sample": out / "sample"},
    }  # fmt: skip
    manifest = []
    for name, (options, body) in G.CORPUS.items():
        path = _write(tmp / "scripts" / f"{name}.py", G.script(options, body))
        argv = [x for k, v in args[name].items() for x in (f"--{k}", str(v))]
        manifest.append({"name": name, "path": str(path), "args": argv})
    assert len(manifest) >= 15
    _write(tmp / "manifest.json", json.dumps(manifest))
    svc.jobs.create(Job("corpus", G.BATCH, spark_conf=ONE_PARTITION))
    log = _run(glue, "corpus", {"--MANIFEST": str(tmp / "manifest.json")})
    for item in manifest:
        assert f"== done {item['name']}\n" in log, log[-4000:]

    # catalog -> ApplyMapping -> partitioned parquet
    assert _parquet_rows(out / "events") == sorted(
        [{"user_id": u, "user_name": n, "amount": float(a), "dt": d} for d, rows in EVENTS.items() for u, n, a in rows],
        key=lambda r: json.dumps(r, sort_keys=True))  # fmt: skip
    # the CSV's price is a choice of double and string; the malformed line is an error record
    assert "|-- price: choice\n|    |-- double\n|    |-- string" in log
    assert "csv errors: 1\n" in log
    assert [(r["id"], r["price"], r["name"]) for r in _parquet_rows(out / "cast", None)] == [
        (1, 10.0, "x"), (2, None, "y"), (3, 2.5, "z"), (4, 7.0, "w")]  # fmt: skip
    assert _json_rows(out / "cols") == [
        {"id": 1, "name": "x", "price_double": 10.0}, {"id": 2, "name": "y", "price_string": "abc"},
        {"id": 3, "name": "z", "price_double": 2.5}, {"id": 4, "name": "w", "price_double": 7.0}]  # fmt: skip
    assert [(r["id"], r["price"]) for r in _json_rows(out / "struct")] == [
        (1, {"double": 10.0}), (2, {"string": "abc"}), (3, {"double": 2.5}), (4, {"double": 7.0})]  # fmt: skip
    assert [(r["id"], r.get("price")) for r in _json_rows(out / "project")] == [(1, None), (2, "abc"), (3, None), (4, None)]

    # Relationalize: the root table, and the array's table linked by id, with its index
    root = _parquet_rows(out / "rel" / "hist_root", None)
    assert [(r["id"], r["name.first"], r["name.last"]) for r in sorted(root, key=lambda r: r["id"])] == [
        (1, "Ann", "Lee"), (2, "Bob", None), (3, "Cid", "Ray")]  # fmt: skip
    link = {r["id"]: r["contact_details"] for r in root}
    details = _parquet_rows(out / "rel" / "hist_root_contact_details", None)
    by_person = sorted((next(p for p, i in link.items() if i == d["id"]), d["index"], d["contact_details.val.type"],
                        d["contact_details.val.value"]) for d in details)  # fmt: skip
    assert by_person == [(1, 0, "tel", "1"), (1, 1, "fax", "2"), (2, 0, "email", "b@x")]
    assert "table hist_root 3\n" in log and "table hist_root_contact_details 3\n" in log

    # Join of two catalog tables -> a new catalog table partitioned by org
    history = svc.tables.get("mart", "history")
    assert [c.name for c in history.partition_keys] == ["org"]
    assert svc.partitions.names("mart", "history") == ["org=house", "org=senate"]
    rows = _parquet_rows(Path(history.sd.location.removeprefix("file:")))
    assert [(r["id"], r["person"], r["org"], r["year"]) for r in sorted(rows, key=lambda r: (r["id"], r["year"]))] == [
        (1, "Ann", "senate", 2001), (1, "Ann", "house", 2005), (2, "Bob", "house", 2003)]  # fmt: skip

    # Filter + Map: amount 0 raises in the map function: one error record, the run goes on
    assert "map errors: 1 total: 1\n" in log
    assert _json_rows(out / "mapped") == [
        {"amount": 12, "per_unit": 8, "tag": "U3", "uid": "u3"}, {"amount": 5, "per_unit": 20, "tag": "U1", "uid": "u1"},
        {"amount": 7, "per_unit": 14, "tag": "U2", "uid": "u2"}]  # fmt: skip

    # SelectFields + RenameField (nested) + UnnestFrame + DropFields -> one CSV file with a header
    (csv_file,) = list((out / "csv").glob("*.csv"))
    lines = csv_file.read_text().splitlines()
    assert lines[0] == "user.uid,amount" and sorted(lines[1:]) == ["u1,0", "u1,5", "u2,7", "u3,12"]

    # SplitRows then SplitFields
    assert sorted((r["uid"], r["amount"]) for r in _json_rows(out / "split" / "big")) == [("u2", 7), ("u3", 12)]
    assert sorted((r["uid"], r["amount"]) for r in _json_rows(out / "split" / "small")) == [("u1", 0), ("u1", 5)]
    assert "big rest fields: ['dt']\n" in log

    # Unbox (JSON text -> struct) + UnnestFrame
    assert _json_rows(out / "unboxed") == [{"id": 1, "payload.a": 1, "payload.b.c": "x"}, {"id": 2, "payload.a": 2}]

    # Union + DropNullFields (gone is null everywhere) + coalesce(1)
    assert "union count: 3 partitions: 1\n" in log
    union_rows = _parquet_rows(out / "union", None)
    assert [(r["k"], r["v"], r["extra"]) for r in union_rows] == [(1, "one", None), (2, "two", None), (3, None, True)]
    assert "gone" not in union_rows[0]

    # getSink with catalog updates: table created over the path, then a partition and a column added
    sunk = svc.tables.get("mart", "sunk")
    assert svc.partitions.names("mart", "sunk") == ["dt=2024-05-01", "dt=2024-05-02"]
    assert "note" in [c.name for c in sunk.sd.cols]
    assert sorted((r["uid"], r["dt"], r.get("note")) for r in _parquet_rows(out / "sunk")) == [
        ("u1", "2024-05-01", None), ("u1", "2024-05-02", "late"), ("u2", "2024-05-01", None), ("u3", "2024-05-02", "late")]  # fmt: skip

    # purge_table: rows gone, table kept
    assert "scratch before purge: 3\n" in log and "scratch after purge: 0\n" in log
    assert svc.tables.get("mart", "scratch") is not None

    # parquet files disagreeing on a column's type: a choice, made into a column per type
    assert "|-- code: choice" in log
    assert _json_rows(out / "mixed") == [{"code_long": 10, "id": 1}, {"code_long": 20, "id": 2}, {"code_string": "x3", "id": 3}]

    # DataFrame round trip + spigot
    assert sorted((r["uid"], r["total"]) for r in _json_rows(out / "totals")) == [("u1", 5), ("u2", 7), ("u3", 12)]
    assert len(_json_rows(out / "sample")) == 1
    assert "INFO GlueLogger: totals written" in log


@pytest.mark.timeout(2400)
def test_bookmarks_by_transformation_ctx_over_runs(glue):
    """Run 1 reads everything; run 2 only the partition and file added; run 3 reads what was added, commits,
    then fails: nothing committed; run 4 (pause) reads that same window and commits nothing; run 5 (enable)
    reads it again and commits it."""
    from runner.crawler.crawl import run_crawler

    tmp, svc = glue.tmp, glue.service
    daily, files = tmp / "bm" / "daily", tmp / "bm" / "files"

    def add_day(day: str, ids: list[int]) -> None:
        _parquet(daily / f"dt={day}" / "part-0.parquet", {"id": ids})
        _write(files / f"{day}.json", "".join(json.dumps({"id": i}) + "\n" for i in ids))

    add_day("d1", [1, 2])
    add_day("d2", [3])
    svc.crawlers.create(Crawler(name="daily", targets=[CrawlerTarget(str(daily))], database="raw"))
    assert run_crawler(svc, "daily").state == "SUCCEEDED"
    svc.jobs.create(Job("bm", G.BOOKMARKED, bookmark="enable", spark_conf=ONE_PARTITION))

    def run(n: int, state: str = "SUCCEEDED", fail: str = "no", **extra) -> str:
        return _run(glue, "bm", {"--target": str(tmp / "bm" / f"out{n}"), "--files": str(files), "--fail": fail,
                                 **extra}, state)  # fmt: skip

    log = run(1)
    assert "days: d1,d2\n" in log and "file ids: 1,2,3\n" in log
    assert _json_rows(tmp / "bm" / "out1") == [{"dt": "d1", "id": 1}, {"dt": "d1", "id": 2}, {"dt": "d2", "id": 3}]
    add_day("d3", [4])
    assert run_crawler(svc, "daily").state == "SUCCEEDED"
    log = run(2)
    assert "days: d3\n" in log and "file ids: 4\n" in log
    assert _json_rows(tmp / "bm" / "out2") == [{"dt": "d3", "id": 4}]
    add_day("d4", [5, 6])
    assert run_crawler(svc, "daily").state == "SUCCEEDED"
    log = run(3, "FAILED", fail="yes")
    assert "RuntimeError: failing after commit" in log and "days: d4\n" in log
    log = run(4, **{"--job-bookmark-option": "job-bookmark-pause"})
    assert "days: d4\n" in log and "file ids: 5,6\n" in log
    log = run(5)
    assert "days: d4\n" in log and "file ids: 5,6\n" in log
    assert _json_rows(tmp / "bm" / "out5") == [{"dt": "d4", "id": 5}, {"dt": "d4", "id": 6}]
    assert svc.jobs.bookmark("bm", "raw.daily@src") == ["dt=d1", "dt=d2", "dt=d3", "dt=d4"]


def test_a_script_missing_an_option_fails_with_glues_error(glue):
    svc = glue.service
    svc.jobs.create(Job("missing", G.MISSING_OPTION, job_type="pythonshell"))
    text = _run(glue, "missing", state="FAILED")
    assert text.startswith("GlueArgumentError: the following arguments are required: --target"), text
    assert "not reached" not in text


def _jdbc_jar() -> str | None:
    jars = sorted(glob.glob(os.path.expanduser("~/.m2/repository/org/postgresql/postgresql/*/postgresql-*.jar")))
    return jars[-1] if jars else None


@pytest.mark.timeout(2400)
def test_jdbc_through_a_mortar_connection_to_the_catalog(glue, pg_databases):
    """PostgreSQL table -> ApplyMapping -> a new catalog table, and the big orders back to PostgreSQL. The JDBC
    driver is not on Spark's classpath: the job names its jar (spark.jars), so it runs in a cold driver."""
    import psycopg

    jar = _jdbc_jar()
    if jar is None:
        pytest.skip("no PostgreSQL JDBC driver jar in ~/.m2 (none can be downloaded offline)")
    url = pg_databases.create()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(10,2))")
        conn.execute("INSERT INTO orders VALUES (1, 'ann', 9.50), (2, 'bob', 20.25), (3, 'cid', 12.00)")
    user = PG_ADMIN_URL.split("://", 1)[1].split("@", 1)[0]
    jdbc_url = "jdbc:postgresql://" + url.split("@", 1)[1]
    glue.service.connections.create(Connection("shop", "JDBC", {"JDBC_CONNECTION_URL": jdbc_url, "USERNAME": user}))
    glue.service.jobs.create(Job("jdbc", G.JDBC, connections=["shop"], spark_conf={**ONE_PARTITION, "spark.jars": jar}))
    log = _run(glue, "jdbc")
    assert "orders copied: 3\n" in log
    table = glue.service.tables.get("mart", "orders")
    assert [(c.name, c.type) for c in table.sd.cols] == [("order_id", "bigint"), ("customer", "string"), ("total", "double")]
    rows = _parquet_rows(Path(table.sd.location.removeprefix("file:")), None)
    assert [(r["order_id"], r["customer"], r["total"]) for r in rows] == [(1, "ann", 9.5), (2, "bob", 20.25), (3, "cid", 12.0)]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT order_id, customer, total FROM big_orders ORDER BY 1").fetchall() == [
            (2, "bob", 20.25), (3, "cid", 12.0)]  # fmt: skip


def test_a_generated_glue_script_runs_on_a_worker_with_bookmarks(glue):
    """`mortar job generate --style glue` (issue 13): the generated AWS Glue script, nested source fields and
    a cast included, creates its partitioned target on the first run and appends through the catalog on
    the second, which reads only the partition added since (the job's bookmark)."""
    import pyarrow as pa

    from metastore.catalog.mapping import ColumnMapping, Mapping, mapping_script
    from metastore.catalog.types import Database
    from runner.crawler.crawl import run_crawler

    svc, root = glue.service, glue.tmp / "generated"
    customer = pa.struct([("id", pa.string()), ("country", pa.string())])

    def day(dt: str, rows: list) -> None:
        _parquet(root / "orders" / f"dt={dt}" / "part-0.parquet", {
            "customer": pa.array([{"id": i, "country": c} for i, c, _ in rows], customer),
            "amount": pa.array([a for *_, a in rows], pa.int64())})  # fmt: skip

    day("2024-06-01", [("c1", "fr", 10), ("c2", "de", 20)])
    svc.crawlers.create(Crawler(name="gen_orders", targets=[CrawlerTarget(str(root / "orders"))], database="gen_raw"))
    assert run_crawler(svc, "gen_orders").state == "SUCCEEDED"
    svc.databases.create(Database("gen_mart", location_uri=str(root / "mart")))
    script = mapping_script(svc, Mapping("gen_raw.orders", "gen_mart.spend", [
        ColumnMapping("customer.id", "customer_id"), ColumnMapping("customer.country", "country"),
        ColumnMapping("amount", "amount_eur", "double"), ColumnMapping("dt")], ["dt"], style="glue"))  # fmt: skip
    svc.jobs.create(Job(name="gen_spend", script=script, bookmark="enable"))

    def spend() -> list[dict]:
        return _parquet_rows(root / "mart" / "spend")

    _run(glue, "gen_spend")
    table = svc.tables.get("gen_mart", "spend")
    assert [c.name for c in table.partition_keys] == ["dt"]
    first = [{"customer_id": "c1", "country": "fr", "amount_eur": 10.0, "dt": "2024-06-01"},
             {"customer_id": "c2", "country": "de", "amount_eur": 20.0, "dt": "2024-06-01"}]  # fmt: skip
    assert spend() == first
    day("2024-06-02", [("c3", "it", 5)])
    assert run_crawler(svc, "gen_orders").state == "SUCCEEDED"
    _run(glue, "gen_spend")
    assert spend() == [*first, {"customer_id": "c3", "country": "it", "amount_eur": 5.0, "dt": "2024-06-02"}]
    assert svc.partitions.names("gen_mart", "spend") == ["dt=2024-06-01", "dt=2024-06-02"]
