"""Imports every module of Glue operations, so that each registers its operations (registry.OPERATIONS).

A module that is missing (not written yet) is skipped; one that fails to import is logged and skipped, so
that the other operations still answer.
"""

from __future__ import annotations

import importlib
import logging

from metastore.glue.registry import OPERATIONS

log = logging.getLogger(__name__)

MODULES = (
    "ops_databases", "ops_tables", "ops_partitions", "ops_statistics", "ops_functions", "ops_tags",
    "ops_crawlers", "ops_jobs", "ops_workflows", "ops_connections", "ops_scripts",
)  # fmt: skip
_loaded = False


def load() -> dict:
    """Import the operation modules (once); returns the registry."""
    global _loaded
    if not _loaded:
        _loaded = True
        for name in MODULES:
            full = f"metastore.glue.{name}"
            try:
                importlib.import_module(full)
            except ModuleNotFoundError as e:
                if e.name != full:
                    log.exception("Glue operations of %s not loaded", full)
            except Exception:  # noqa: BLE001 - one broken module must not take the others down
                log.exception("Glue operations of %s not loaded", full)
    return OPERATIONS
