"""Governance benchmark: tag search over 10,000 annotated tables (budget 50 ms) and the lineage graph of a
table written by 1,000 runs (budget 100 ms), through the JSON API's WSGI app (routing, queries, JSON).

    python -m bench.governance                        # SQLite
    python -m bench.governance --backend postgresql   # PostgreSQL (MORTAR_TEST_PG admin URL)
    python -m bench.governance --tables 1000 --runs 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TAG_BUDGET_MS, LINEAGE_BUDGET_MS = 50.0, 100.0


def load(service, tables: int, runs: int) -> None:
    """`tables` tables in 10 databases, every 100th tagged `gold` (all tagged `t<i % 50>`, owned, described);
    mart.target written by `runs` job runs, each reading two of 20 source tables."""
    from sqlalchemy import insert, select

    from metastore.catalog.lineage import table_key
    from metastore.catalog.types import Column, Database, StorageDescriptor, Table
    from metastore.storage.engine import write_transaction
    from metastore.storage.models import (
        AnnotationLabelRow,
        AnnotationRow,
        DatabaseRow,
        JobRow,
        JobRunRow,
        LineageEdgeRow,
        TableRow,
    )

    sd = StorageDescriptor(cols=[Column("a", "string")])
    for d in range(10):
        service.databases.create(Database(f"db{d}"))
    service.databases.create(Database("mart"))
    service.tables.create(Table("target", "mart", sd=sd))
    for i in range(20):
        service.tables.create(Table(f"src{i}", "mart", sd=sd))
    template = service.tables.get("mart", "target")
    with write_transaction(service.ctx.engine) as conn:
        ids = dict(conn.execute(select(DatabaseRow.name, DatabaseRow.id)).all())
        row = conn.execute(select(TableRow).where(TableRow.name == "target")).one()
        base = {c.key: getattr(row, c.key) for c in TableRow.__table__.columns if c.key not in ("id", "name", "database_id")}
        conn.execute(insert(TableRow), [{**base, "name": f"t{i:05d}", "database_id": ids[f"db{i % 10}"]}
                                        for i in range(tables)])  # fmt: skip
        notes = [dict(db_name=f"db{i % 10}", table_name=f"t{i:05d}", column_name="", owner=f"owner{i % 7}",
                      description=f"table number {i}", tags="[]", classifications="[]", updated_at=0, updated_by="b")
                 for i in range(tables)]  # fmt: skip
        conn.execute(insert(AnnotationRow), notes)
        aids = conn.execute(select(AnnotationRow.id, AnnotationRow.db_name, AnnotationRow.table_name)).all()
        labels = [dict(annotation_id=a.id, label=f"tag:t{int(a.table_name[1:]) % 50}", db_name=a.db_name,
                       table_name=a.table_name) for a in aids]  # fmt: skip
        labels += [dict(annotation_id=a.id, label="tag:gold", db_name=a.db_name, table_name=a.table_name)
                   for a in aids if int(a.table_name[1:]) % 100 == 0]  # fmt: skip
        conn.execute(insert(AnnotationLabelRow), labels)
        conn.execute(insert(JobRow).values(id=1, name="load", job_type="spark", script_version=1, bookmark="disable",
                                           created_at=0, updated_at=0))  # fmt: skip
        conn.execute(insert(JobRunRow), [dict(id=r + 1, job_id=1, state="SUCCEEDED", script_version=1, created_at=r,
                                              heartbeat_at=r) for r in range(runs)])  # fmt: skip
        edges = []
        for r in range(runs):
            common = dict(run_kind="job", run_id=str(r + 1), process="load", namespace="hive://bench:9083",
                          partitions="[]", columns="{}", at=r)  # fmt: skip
            edges.append(dict(common, direction="out", dataset_key=table_key("mart", "target"), name="mart.target",
                              db_name="mart", table_name="target"))  # fmt: skip
            for s in (r % 20, (r + 7) % 20):
                edges.append(dict(common, direction="in", dataset_key=table_key("mart", f"src{s}"),
                                  name=f"mart.src{s}", db_name="mart", table_name=f"src{s}"))  # fmt: skip
        conn.execute(insert(LineageEdgeRow), edges)
    del template


def timed(client, url: str, headers: dict, n: int) -> tuple[float, dict]:
    out, body = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.get_data(as_text=True)
        body = r.get_json()
    return statistics.median(out), body


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--tables", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=1_000)
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    from metastore.catalog import CatalogService
    from metastore.config import Settings
    from metastore.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            url = f"sqlite:///{tmp}/bench.db"
        else:
            from tests.conftest import PostgresDatabases

            url = PostgresDatabases().create()
        settings = Settings(data_dir=tmp, database_url=url, warehouse=f"{tmp}/wh")
        service = CatalogService.open(url, settings.warehouse)
        print(f"loading {args.tables} annotated tables and {args.runs} runs…", file=sys.stderr)
        load(service, args.tables, args.runs)
        service.users.create("bench", "bench password", "admin")
        headers = {"Authorization": f"Bearer {service.users.create_token('bench', 'b')[1]}"}
        client = create_app(service, settings, send_task=lambda n, a: None).test_client()
        ms, body = timed(client, "/api/v1/tables?q=tag:gold", headers, args.repeat)
        print(f"tag search, {args.tables} tables ({body['total']} found): {ms:.1f} ms "
              f"(budget {TAG_BUDGET_MS:.0f} ms: {'ok' if ms < TAG_BUDGET_MS else 'OVER'})")  # fmt: skip
        ms, body = timed(client, "/api/v1/tables?q=owner:owner3", headers, args.repeat)
        print(f"owner search ({body['total']} found): {ms:.1f} ms")
        ms, body = timed(client, "/api/v1/tables/mart/target/lineage?direction=up&depth=3", headers, args.repeat)
        runs = max(e["run_count"] for e in body["edges"])
        print(f"lineage of a table with {runs} upstream runs ({len(body['nodes'])} nodes): {ms:.1f} ms "
              f"(budget {LINEAGE_BUDGET_MS:.0f} ms: {'ok' if ms < LINEAGE_BUDGET_MS else 'OVER'})")  # fmt: skip
        service.ctx.engine.dispose()


if __name__ == "__main__":
    main()
