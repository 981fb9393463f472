"""The storage schema: migrations create exactly the models' schema, on every supported database."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from metastore.catalog import CatalogService
from metastore.storage.engine import MIGRATIONS, current_revision, head_revision, make_engine, upgrade_schema
from metastore.storage.models import Base
from tests.conftest import unique

MYSQL_ADMIN = os.environ.get("MORTAR_TEST_MYSQL", "mysql://root@127.0.0.1:3306/")


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def storage_url(request, tmp_path, pg_databases):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
    elif request.param == "postgresql":
        yield pg_databases.create()
    else:
        admin = make_engine(MYSQL_ADMIN + "mysql")
        name = unique("mortar_test")
        try:
            with admin.begin() as conn:
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        except Exception as e:  # noqa: BLE001
            if os.environ.get("CI"):
                pytest.fail(f"MariaDB/MySQL is not reachable at {MYSQL_ADMIN}: {e}")
            pytest.skip(f"MariaDB/MySQL is not reachable at {MYSQL_ADMIN}: {e}")
        yield MYSQL_ADMIN + name
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE `{name}`"))
        admin.dispose()


def test_migrations_create_the_models_schema(storage_url):
    engine = make_engine(storage_url)
    upgrade_schema(engine)
    upgrade_schema(engine)  # a second start finds the schema current and changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert "alembic_version" in inspect(engine).get_table_names()
    assert current_revision(engine) == head_revision() == ScriptDirectory.from_config(_alembic_config()).get_current_head()
    engine.dispose()


def test_open_creates_default_catalog_and_database(storage_url, tmp_path):
    service = CatalogService.open(storage_url, str(tmp_path / "wh"))
    assert service.catalogs.list() == ["hive"]
    assert service.databases.list() == ["default"]
    assert service.databases.get("default").location_uri == f"file:{tmp_path / 'wh'}"
    again = CatalogService.open(storage_url, str(tmp_path / "wh"))  # idempotent
    assert again.databases.list() == ["default"]
    service.ctx.engine.dispose()
    again.ctx.engine.dispose()
