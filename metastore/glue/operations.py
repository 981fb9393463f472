"""Imports every module of Glue operations (`metastore/glue/ops_*.py`), so that each registers its operations
(registry.OPERATIONS).

The modules are found in the package (a new `ops_*` module needs no list); `MODULES` come first. One that
fails to import is logged and skipped, so that the other operations still answer.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

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
        import metastore.glue as package

        found = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("ops_"))
        for name in dict.fromkeys([*MODULES, *found]):
            full = f"metastore.glue.{name}"
            try:
                importlib.import_module(full)
            except ModuleNotFoundError as e:
                if e.name != full:
                    log.exception("Glue operations of %s not loaded", full)
            except Exception:  # noqa: BLE001 - one broken module must not take the others down
                log.exception("Glue operations of %s not loaded", full)
    return OPERATIONS
