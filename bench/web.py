"""Console and API benchmark: server-side time of every page with 10,000 tables and 1,000,000 partitions (and
300 jobs with 15,000 runs, one run's log of 2,000 chunks, 80 triggers, 20 workflows with runs, 50 connections).

    python -m bench.web                          # SQLite
    python -m bench.web --backend postgresql     # PostgreSQL (MORTAR_TEST_PG admin URL; a throw-away database)
    python -m bench.web --tables 1000 --partitions 100000 --runs 5

Rows are loaded straight into storage with SQLAlchemy bulk inserts (as bench/metastore.py's `million`);
each page is then requested through the WSGI app (routing, queries, template rendering, no network) by a
logged-in admin, and the median time of `--runs` requests is printed against the 200 ms budget.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET_MS = 200.0
PASSWORD = "bench password"


def progress(msg: str) -> None:
    print(f"  … {msg}", file=sys.stderr, flush=True)


def load(service, tables: int, partitions: int, runs: int) -> None:
    from sqlalchemy import insert, select

    from metastore.catalog.crawlers import Crawler
    from metastore.catalog.types import Column, Database, Partition, StorageDescriptor, Table
    from metastore.storage.models import (
        CrawlerRow,
        CrawlerRunRow,
        PartitionKeyValueRow,
        PartitionRow,
        TableRow,
        TableVersionRow,
    )

    sd = StorageDescriptor(
        cols=[Column(f"c{i}", "string") for i in range(8)],
        input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    )
    service.databases.create(Database("bench", description="benchmark"))
    for i in range(20):
        service.databases.create(Database(f"other_{i:02d}"))
    keys = [Column("dt", "string"), Column("hr", "int")]
    service.tables.create(
        Table("huge", "bench", sd=sd, partition_keys=keys, parameters={"classification": "parquet"})
    )
    t = service.tables.get("bench", "huge")
    t.sd.cols = [*t.sd.cols, Column("extra", "bigint")]
    service.tables.alter("bench", "huge", t)  # a second schema version to diff
    service.partitions.add("bench", "huge", [Partition(["d0000", "0"], "bench", "huge", sd=sd)])
    engine = service.ctx.engine
    with engine.begin() as conn:
        template = conn.execute(select(TableRow).where(TableRow.name == "huge")).one()
        part = conn.execute(select(PartitionRow).where(PartitionRow.table_id == template.id)).one()
    progress(f"loading {tables:,} tables")
    with engine.begin() as conn:
        rows = [{"database_id": template.database_id, "name": f"t{i:05d}", "owner": "bench", "table_type": "MANAGED_TABLE",
                 "create_time": template.create_time, "last_access_time": 0, "retention": 0, "sd": template.sd,
                 "partition_keys": "[]", "parameters": template.parameters, "temporary": False, "rewrite_enabled": False,
                 "version": 1} for i in range(1, tables)]  # fmt: skip
        ids = (
            conn.execute(insert(TableRow).returning(TableRow.id, sort_by_parameter_order=True), rows)
            .scalars()
            .all()
        )
        conn.execute(insert(TableVersionRow), [{"table_id": i, "version": 1, "columns": "[]", "partition_keys": "[]",
                                                "created_at": 0, "created_by": "bench"} for i in ids])  # fmt: skip
    progress(f"loading {partitions:,} partitions")
    batch = 20_000
    for start in range(0, partitions, batch):
        with engine.begin() as conn:
            rows = []
            for i in range(max(start, 1), min(start + batch, partitions)):
                d, h = divmod(i, 100)
                rows.append({"table_id": template.id, "name": f"dt=d{d:04d}/hr={h}", "values": f'["d{d:04d}","{h}"]',
                             "create_time": 0, "last_access_time": 0, "location": f"{part.location[:-13]}dt=d{d:04d}/hr={h}",
                             "sd": part.sd, "parameters": part.parameters})  # fmt: skip
            if not rows:
                continue
            ids = (
                conn.execute(
                    insert(PartitionRow).returning(PartitionRow.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            kv = []
            for pid, r in zip(ids, rows, strict=True):
                d, h = r["name"][3:8], int(r["name"].split("hr=")[1])
                kv.append(
                    {
                        "partition_id": pid,
                        "key_index": 0,
                        "table_id": template.id,
                        "value": d,
                        "int_value": None,
                    }
                )
                kv.append(
                    {
                        "partition_id": pid,
                        "key_index": 1,
                        "table_id": template.id,
                        "value": str(h),
                        "int_value": h,
                    }
                )
            conn.execute(insert(PartitionKeyValueRow), kv)
        if start % 200_000 == 0:
            progress(f"{start:,}")
    service.crawlers.create(Crawler("nightly", ["/data/landing"], "bench", schedule="0 2 * * *"))
    with engine.begin() as conn:
        cid = conn.execute(select(CrawlerRow.id).where(CrawlerRow.name == "nightly")).scalar()
        conn.execute(insert(CrawlerRunRow), [{"crawler_id": cid, "state": "SUCCEEDED" if i % 7 else "FAILED",
                                              "started_at": 1_700_000_000_000 + i * 86_400_000,
                                              "ended_at": 1_700_000_000_000 + i * 86_400_000 + 30_000 + i * 100,
                                              "heartbeat_at": 0, "error": None if i % 7 else "boom",
                                              "metrics": '{"tables_created":1,"files_scanned":100}'}
                                             for i in range(runs)])  # fmt: skip
    load_etl(service)
    with engine.begin() as conn:
        if engine.dialect.name in ("postgresql", "sqlite"):
            conn.exec_driver_sql("ANALYZE")


JOBS, RUNS_PER_JOB, LOG_CHUNKS = 300, 50, 2000
STATES = ["SUCCEEDED"] * 6 + ["FAILED", "TIMEOUT", "STOPPED", "ERROR"]


def load_etl(service) -> None:
    """Jobs with runs (15,000), one run's long log, triggers, workflows with runs, connections."""
    from sqlalchemy import insert, select

    from metastore.catalog.connections import Connection
    from metastore.catalog.jobs import Job
    from metastore.catalog.triggers import Action, Condition, Trigger
    from metastore.catalog.workflows import Workflow
    from metastore.storage.models import JobRow, JobRunLogRow, JobRunRow, WorkflowRow, WorkflowRunRow

    progress(f"loading {JOBS} jobs, {JOBS * RUNS_PER_JOB:,} runs, triggers, workflows, connections")
    script = "import sys\n\n\ndef main(argv):\n    # a typical job\n    for i in range(10):\n        print(i)\n\n\nmain(sys.argv)\n"
    for i in range(JOBS):
        service.jobs.create(Job(f"job_{i:04d}", script * 5, job_type="pythonshell" if i % 3 else "spark",
                                default_arguments={"--day": "monday"}, description=f"job number {i}"))  # fmt: skip
    for i in range(20):
        service.workflows.create(Workflow(f"flow_{i:02d}", default_run_properties={"region": "eu"}))
        a, b, c = (f"job_{(i * 3 + k) % JOBS:04d}" for k in range(3))
        service.triggers.create(
            Trigger(f"flow_{i:02d}_start", "ON_DEMAND", [Action(job=a)], workflow=f"flow_{i:02d}")
        )
        service.triggers.create(Trigger(f"flow_{i:02d}_then", "CONDITIONAL", [Action(job=b), Action(job=c)],
                                        conditions=[Condition("SUCCEEDED", job=a)], workflow=f"flow_{i:02d}"))  # fmt: skip
    for i in range(40):
        service.triggers.create(Trigger(f"trig_{i:03d}", "SCHEDULED", [Action(job=f"job_{i:04d}", arguments={"--x": "1"})],
                                        schedule=f"{i % 60} 2 * * *"), activate=True)  # fmt: skip
    for i in range(50):
        service.connections.create(Connection(f"conn_{i:03d}", "JDBC", {"JDBC_CONNECTION_URL": f"jdbc:postgresql://db{i}/dwh",
                                                                       "USERNAME": "etl", "PASSWORD": "secret"}))  # fmt: skip
    engine = service.ctx.engine
    t0 = 1_700_000_000_000
    with engine.begin() as conn:
        jobs = dict(conn.execute(select(JobRow.name, JobRow.id)).all())
        flows = dict(conn.execute(select(WorkflowRow.name, WorkflowRow.id)).all())
        wf_runs = []
        for fid in sorted(flows.values()):
            for k in range(10):
                wf_runs.append({"workflow_id": fid, "state": "COMPLETED", "run_properties": '{"region":"eu"}',
                                "started_at": t0 + k * 86_400_000, "ended_at": t0 + k * 86_400_000 + 90_000})  # fmt: skip
        wf_ids = conn.execute(insert(WorkflowRunRow).returning(WorkflowRunRow.id, sort_by_parameter_order=True),
                              wf_runs).scalars().all()  # fmt: skip
        rows = []
        for jid in sorted(jobs.values()):
            for k in range(RUNS_PER_JOB):
                start = t0 + k * 3_600_000
                state = STATES[(jid + k) % len(STATES)]
                rows.append({"job_id": jid, "state": state, "attempt": 0, "script_version": 1, "arguments": '{"--day":"monday"}',
                             "trigger_name": None, "worker": "bench:1", "error": None if state == "SUCCEEDED" else "boom",
                             "created_at": start, "started_at": start, "ended_at": start + 20_000 + (k * 997 % 40_000),
                             "heartbeat_at": start, "workflow_run_id": wf_ids[jid % len(wf_ids)] if k == 0 else None})  # fmt: skip
        ids = (
            conn.execute(insert(JobRunRow).returning(JobRunRow.id, sort_by_parameter_order=True), rows)
            .scalars()
            .all()
        )
        line = "2024-01-01 00:00:00 INFO some driver output of a realistic length, with numbers 12345\n"
        conn.execute(insert(JobRunLogRow), [{"run_id": ids[-1], "seq": i, "position": i * len(line) * 10,
                                             "data": line * 10, "created_at": t0} for i in range(LOG_CHUNKS)])  # fmt: skip


PAGES = [
    "/",
    "/databases",
    "/databases?q=other",
    "/databases/bench",
    "/databases/bench?page=150",
    "/databases/bench?q=t0999",
    "/databases/bench/tables/huge",
    "/databases/bench/tables/huge?tab=partitions",
    "/databases/bench/tables/huge?tab=partitions&after=dt%3Dd5000%2Fhr%3D0",
    '/databases/bench/tables/huge?tab=partitions&filter=dt %3D "d4321"',
    "/databases/bench/tables/huge?tab=partitions&filter=hr %3D 42",
    "/databases/bench/tables/huge?tab=parameters",
    "/databases/bench/tables/huge?tab=versions&a=1&b=2",
    "/databases/bench/tables/huge?tab=audit",
    "/databases/bench/tables/{mid}",
    "/search?q=t05",
    "/search?q=huge",
    "/crawlers",
    "/crawlers/nightly",
    "/crawlers/new",
    "/crawlers/nightly/edit",
    "/classifiers",
    "/jobs",
    "/jobs?q=job_01",
    "/jobs?state=FAILED&type=spark",
    "/jobs/job_0150",
    "/jobs/job_0150?state=FAILED&page=2",
    "/jobs/job_0150?version=1",
    "/jobs/new",
    "/jobs/job_0150/edit",
    "/jobs/{last_job}/runs/{last_run}",
    "/job-runs",
    "/job-runs?state=TIMEOUT&page=20",
    "/triggers",
    "/triggers?type=SCHEDULED&state=ACTIVATED",
    "/triggers/trig_010",
    "/triggers/new",
    "/triggers/trig_010/edit",
    "/workflows",
    "/workflows/flow_05",
    "/workflows/new",
    "/connections",
    "/connections/conn_010",
    "/connections/conn_010/edit",
    "/users",
    "/tokens",
    "/api/v1/databases",
    "/api/v1/databases/bench/tables?offset=9000",
    "/api/v1/databases/bench/tables?q=t05",
    "/api/v1/databases/bench/tables/huge",
    "/api/v1/databases/bench/tables/huge/partitions?limit=1000&after=dt%3Dd9000%2Fhr%3D0",
    "/api/v1/databases/bench/tables/huge/partitions?filter=hr %3D 42&limit=1000",
    "/api/v1/tables?q=t0999",
    "/api/v1/crawlers",
    "/api/v1/crawlers/nightly/runs?limit=200",
    "/api/v1/jobs",
    "/api/v1/jobs/job_0150",
    "/api/v1/jobs/job_0150/runs?limit=200",
    "/api/v1/job-runs?state=FAILED&limit=200",
    "/api/v1/jobs/{last_job}/runs/{last_run}/log",
    "/api/v1/jobs/{last_job}/runs/{last_run}/log?offset=1000000",
    "/api/v1/triggers",
    "/api/v1/workflows",
    "/api/v1/workflows/flow_05/runs",
    "/api/v1/connections",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--tables", type=int, default=10_000)
    ap.add_argument("--partitions", type=int, default=1_000_000)
    ap.add_argument("--crawler-runs", type=int, default=500)
    ap.add_argument("--runs", type=int, default=7, help="requests per page (the median is printed)")
    args = ap.parse_args()

    from metastore.catalog import CatalogService
    from metastore.config import Settings
    from metastore.web import create_app

    tmp = Path(tempfile.mkdtemp(prefix="mortar-bench-web-"))
    pg = None
    if args.backend == "postgresql":
        from tests.conftest import PostgresDatabases

        pg = PostgresDatabases()
        url = pg.create()
    else:
        url = f"sqlite:///{tmp / 'catalog.db'}"
    try:
        settings = Settings(data_dir=str(tmp), database_url=url)
        service = CatalogService.open(url, str(tmp / "warehouse"))
        load(service, args.tables, args.partitions, args.crawler_runs)
        service.users.create("admin", PASSWORD, "admin")
        app = create_app(service, settings, send_task=lambda name, a: None)
        client = app.test_client()
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/auth/login").get_data(as_text=True)
        ).group(1)
        client.post("/auth/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
        print(
            f"{args.backend}: {args.tables:,} tables, {args.partitions:,} partitions; median of {args.runs} requests"
        )
        worst = 0.0
        last_run = service.jobs.runs(limit=1)[0]
        fill = {
            "{mid}": f"t{args.tables // 2:05d}",
            "{last_job}": last_run.job,
            "{last_run}": str(last_run.id),
        }
        for url_ in PAGES:
            for k, v in fill.items():
                url_ = url_.replace(k, v)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                r = client.get(url_)
                times.append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200, (url_, r.status_code, r.get_data(as_text=True)[:300])
            ms = statistics.median(times)
            worst = max(worst, ms)
            print(f"  {ms:8.1f} ms  {'ok  ' if ms <= BUDGET_MS else 'SLOW'}  {url_}")
        print(f"slowest page: {worst:.1f} ms (budget {BUDGET_MS:.0f} ms)")
        service.ctx.engine.dispose()
    finally:
        if pg is not None:
            pg.drop_all()


if __name__ == "__main__":
    main()
