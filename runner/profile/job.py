"""The Spark side of a profile run, in its own process: `python -m runner.profile.job REQUEST OUT`.

REQUEST (JSON): {"master", "format", "options", "columns": [[name, type]], "exact": bool,
"targets": [{"partition": name or null, "location": url}]}; OUT gets {"profiles": [profile per target]}.
It reads files only (no catalog access): the worker that started it checked the locations and stores the
result."""

from __future__ import annotations

import json
import sys


def session(master: str):
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(master).appName("mortar-profile")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())  # fmt: skip
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def compute(spark, request: dict) -> list[dict]:
    """The profile of each target of `request`, with `spark`."""
    from runner.profile.compute import profile_dataframe, read_data

    columns = [tuple(c) for c in request["columns"]]
    out = []
    for target in request["targets"]:
        df = read_data(spark, request["format"], target["location"], columns, request.get("options") or {})
        out.append(profile_dataframe(df, columns, bool(target.get("exact", request.get("exact")))))
    return out


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        request = json.load(f)
    spark = session(request.get("master") or "local[1]")
    try:
        profiles = compute(spark, request)
    finally:
        spark.stop()
    with open(argv[1], "w") as f:
        json.dump({"profiles": profiles}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
