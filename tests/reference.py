"""The reference Hive Metastore (HMS 2.3.10 from pyspark's jars, see ../shared/reference-hms/), and the
differences from it that Mortar makes on purpose, in one place."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference-hms"
START_SCRIPT = REFERENCE_DIR / "start_reference_hms.sh"

# Deliberate differences: (scenario, step) → why Mortar answers differently. A comparison test fails on
# any difference not listed here, and on a listed one that no longer differs.
DELIBERATE_DIFFERENCES: dict[tuple[str, str], str] = {
    ("thrift", "drop_database missing"): "HMS 2.3.10 answers MetaException (a NullPointerException inside); "
    "Mortar answers NoSuchObjectException, which later HMS versions and every client expect.",
}


def start_reference(base: Path, port: int) -> int:
    """Start the reference HMS (Derby) and return its pid; skips when Java or the script is missing,
    except under CI=true."""
    if not START_SCRIPT.exists() or shutil.which("java") is None:
        reason = f"reference HMS needs {START_SCRIPT} and java"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    env = {**os.environ, "PORT": str(port), "BASE": str(base), "VENV": sys.prefix, "BACKEND": "derby"}
    out = subprocess.run(["bash", str(START_SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"reference HMS did not start:\n{out.stdout}\n{out.stderr}")
    (base / "start.out").write_text(out.stdout)  # says how long the JVM took to accept
    return int((base / "hms_derby.pid").read_text())


def stop_reference(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
