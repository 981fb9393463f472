"""Alembic environment: runs on the connection handed over by `metastore.storage.engine.upgrade_schema`."""

from alembic import context

from metastore.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line: use the URL from the ini / -x url=...
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
