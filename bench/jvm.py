"""Metastore reads timed by a JVM client: the Thrift client Spark's Hive client runs.

    python -m bench.jvm --port 9083 --db bench --table big

`jvm_timings` compiles bench/JvmListings.java (once per process, into a temporary directory) against the jars
shipped in pyspark (hive-metastore, libthrift, libfb303, slf4j-api, commons-lang), runs it against a running
metastore and returns {operation: (median seconds, check)}. The client is the generated
ThriftHiveMetastore.Client over an unframed TSocket with TBinaryProtocol, as HiveMetaStoreClient uses it; its
decoding costs far less than the Python client's (~65 ms for 10,000 partitions), so these figures show the
difference between servers as a JVM engine sees it. Operations (see JvmListings.java):
- get_table: the total of `get_table_calls` sequential get_table(db, small) calls; check: calls answered;
- get_partitions, get_partitions_by_filter (`dt = "d0007"`), get_partition_names on `table`, each the median of
  `repeat` calls after 5 untimed ones; check: partitions (names) returned.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "JvmListings.java"
DEFAULT_FILTER = 'dt = "d0007"'
# the jars the client needs, as name prefixes in pyspark's jars folder
JAR_PREFIXES = ("hive-metastore-", "libthrift-", "libfb303-", "slf4j-api-", "commons-lang-")


def _tool(name: str) -> str:
    """Path of a JDK tool: $JAVA_HOME/bin first, then PATH; a clear error when missing."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / name).is_file():
        return str(Path(home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"bench.jvm needs `{name}` (a JDK, 11 or later): not found in $JAVA_HOME/bin or on PATH"
        )
    return found


@cache
def class_path() -> str:
    """The jars of the Hive Metastore Thrift client, from pyspark's jars folder."""
    try:
        import pyspark
    except ImportError as e:
        raise RuntimeError(
            "bench.jvm needs pyspark installed (its jars hold the Hive Metastore client)"
        ) from e
    jars_dir = Path(pyspark.__file__).parent / "jars"
    jars = []
    for prefix in JAR_PREFIXES:
        found = sorted(jars_dir.glob(f"{prefix}[0-9]*.jar"))
        if not found:
            raise RuntimeError(f"bench.jvm: no {prefix}*.jar in {jars_dir}")
        jars.append(str(found[-1]))
    return os.pathsep.join(jars)


@cache
def compiled() -> Path:
    """The directory holding JvmListings.class, compiled once per process; removed at exit."""
    javac = _tool("javac")
    out = Path(tempfile.mkdtemp(prefix="mortar-jvm-"))
    atexit.register(shutil.rmtree, out, True)
    done = subprocess.run([javac, "-nowarn", "-cp", class_path(), "-d", str(out), str(SOURCE)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"javac failed on {SOURCE}:\n{done.stdout}{done.stderr}")
    return out


def jvm_timings(
    port: int,
    db: str,
    table: str,
    repeat: int = 5,
    get_table_calls: int = 2000,
    small: str = "small",
    flt: str = DEFAULT_FILTER,
) -> dict[str, tuple[float, int]]:
    """{operation: (seconds, check)} measured by the JVM client against the metastore on 127.0.0.1:`port`:
    get_table (total of `get_table_calls` calls of get_table(db, small); check: calls answered),
    get_partitions, get_partitions_by_filter (`flt`), get_partition_names on `table` (median of `repeat`
    calls; check: how many returned)."""
    java = _tool("java")
    cmd = [java, "-cp", os.pathsep.join([class_path(), str(compiled())]), "JvmListings",
           str(port), db, table, str(repeat), str(get_table_calls), small, flt]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"JvmListings failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    out: dict[str, tuple[float, int]] = {}
    for line in done.stdout.splitlines():
        name, seconds, check = line.split("\t")
        out[name] = (float(seconds), int(check))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description="Time Hive Metastore reads with the JVM Thrift client (the one Spark's Hive client runs)."
    )
    ap.add_argument("--port", type=int, required=True, help="the metastore's port on 127.0.0.1")
    ap.add_argument("--db", required=True, help="database")
    ap.add_argument("--table", required=True, help="partitioned table whose partitions are listed")
    ap.add_argument("--small", default="small", help="table read by get_table (default: small)")
    ap.add_argument("--filter", default=DEFAULT_FILTER, help=f"get_partitions_by_filter's filter (default: {DEFAULT_FILTER})")  # fmt: skip
    ap.add_argument(
        "--repeat", type=int, default=5, help="timed calls per listing, median printed (default 5)"
    )
    ap.add_argument(
        "--get-table", type=int, default=2000, help="get_table calls timed together (default 2000)"
    )
    args = ap.parse_args()
    timings = jvm_timings(
        args.port, args.db, args.table, args.repeat, args.get_table, args.small, args.filter
    )
    for name, (seconds, check) in timings.items():
        print(f"{name}\t{seconds * 1000:,.2f} ms\t{check}")


if __name__ == "__main__":
    main()
