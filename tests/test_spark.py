"""Spark SQL with its built-in Hive client (HMS 2.3 client in pyspark 4) against Mortar, and the same
scenario against the reference Hive Metastore: the answers must be the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hmsclient import hmsclient

from tests.conftest import free_port
from tests.reference import DELIBERATE_DIFFERENCES, start_reference, stop_reference

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(900)

EXPECTED_ERRORS = {
    "ALTER TABLE hv ADD PARTITION (ds='2024-02-01', hr=1)": "PARTITIONS_ALREADY_EXIST",
    "SELECT * FROM no_such_table": "TABLE_OR_VIEW_NOT_FOUND",
    "CREATE TABLE pq2 (x INT) USING parquet": "TABLE_OR_VIEW_ALREADY_EXISTS",
    "DROP DATABASE spark_scn": "SCHEMA_NOT_EMPTY",
}


def run_scenario(uri: str, warehouse: Path, data_dir: Path, out: Path) -> list[dict]:
    cmd = [sys.executable, "-m", "tests.spark_scenario", "--uri", uri, "--warehouse", str(warehouse),
           "--data-dir", str(data_dir), "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=800, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads(out.read_text())


def counters(host: str, port: int) -> dict[str, int]:
    with hmsclient.HMSClient(host=host, port=port) as client:
        return client.getCounters()


@pytest.fixture(scope="module")
def mortar_run(metastore, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spark")
    before = counters(metastore.host, metastore.port)
    answers = run_scenario(metastore.uri, metastore.warehouse, tmp / "data", tmp / "answers.json")
    after = counters(metastore.host, metastore.port)
    return answers, {k: after.get(k, 0) - before.get(k, 0) for k in after}


def by_sql(answers: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for a in answers:
        out.setdefault(a["sql"], a)  # first occurrence
    return out


def test_every_statement_succeeds_but_the_expected_errors(mortar_run):
    answers, _ = mortar_run
    errors = {a["sql"]: a["error"] for a in answers if "error" in a}
    assert errors == EXPECTED_ERRORS


def test_query_results(mortar_run):
    answers, _ = mortar_run
    a = by_sql(answers)
    assert a["SELECT * FROM js"]["rows"] == ["1 | a", "2 | b", "3 | c"]
    assert a["SELECT * FROM oc"]["rows"] == ["1 | a", "2 | b", "3 | c"]
    assert a["SHOW PARTITIONS events"]["rows"] == ["dt=2024-01-01", "dt=2024-01-02", "dt=2024-01-03"]
    assert a["SELECT id, kind, dt FROM events WHERE dt = '2024-01-03'"]["rows"] == ["4 | buy | 2024-01-03",
                                                                                  "5 | view | 2024-01-03"]  # fmt: skip
    assert a["SELECT count(*) FROM events"]["rows"] == ["5"]
    assert a["SELECT * FROM hv WHERE hr > 2"]["rows"] == ["2 | y | 2024-02-01 | 12", "3 | z | 2024-02-02 | 3"]
    assert a["SELECT * FROM ctas"]["rows"] == ["buy | 11.0", "click | 1.5", "view | 8.0"]
    assert a["SELECT * FROM v_events"]["rows"] == ["buy | 2", "click | 1", "view | 2"]
    assert a["SELECT * FROM pq2"]["rows"] == ["1 | a | NULL", "2 | b | NULL", "3 | c | NULL", "4 | d | 0.5"]
    assert a["DESCRIBE pq"]["rows"] == ["id | int | NULL", "name | string | NULL", "score | double | new"]
    assert a["SHOW PARTITIONS hv"]["rows"] == ["ds=2024-02-01/hr=1", "ds=2024-02-01/hr=12",
                                               "ds=2024-02-02/hr=3", "ds=2024-03-09/hr=5"]  # fmt: skip
    assert a["SHOW PARTITIONS ext"]["rows"] == ["p=a", "p=b"]
    assert a["SELECT my_upper(name) FROM pq2 WHERE id = 1"]["rows"] == ["A"]
    assert "distinct_count | 4" in a["DESCRIBE EXTENDED pq2 id"]["rows"]
    assert a["DESCRIBE DATABASE spark_scn_loc"]["rows"][2] == "Location | <DATA>/loc_db"
    assert answers[-1] == {"sql": "SHOW DATABASES LIKE 'spark_scn*'", "rows": []}


def test_partition_predicates_are_pushed_down(mortar_run):
    """Spark sends partition predicates as get_partitions_by_filter (one query) instead of listing all."""
    _, calls = mortar_run
    assert calls.get("calls.get_partitions_by_filter", 0) >= 4
    assert calls.get("calls.add_partitions_req", 0) + calls.get("calls.add_partitions", 0) >= 3


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference-spark")
    port = free_port()
    pid = start_reference(tmp / "hms", port)
    try:
        return run_scenario(f"thrift://127.0.0.1:{port}", tmp / "hms" / "warehouse", tmp / "data", tmp / "ref.json")
    finally:
        stop_reference(pid)


@pytest.mark.reference
def test_same_answers_as_reference_hms(mortar_run, reference_run):
    answers, _ = mortar_run
    assert len(answers) == len(reference_run)
    differences = []
    for ours, theirs in zip(answers, reference_run, strict=True):
        known = ("spark", ours["sql"]) in DELIBERATE_DIFFERENCES
        if (ours != theirs) != known:
            differences.append({"sql": ours["sql"], "mortar": ours, "reference": theirs, "listed": known})
    assert differences == []
