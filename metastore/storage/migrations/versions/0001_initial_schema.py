"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:40:34.118674
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('user', sa.String(length=256), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('catalog_name', sa.String(length=256), nullable=False),
    sa.Column('db_name', sa.String(length=256), nullable=True),
    sa.Column('object_name', sa.String(length=256), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_object', ['db_name', 'object_name'], unique=False)

    op.create_table('catalogs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('location_uri', sa.Text(), nullable=False),
    sa.Column('create_time', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogs')),
    sa.UniqueConstraint('name', name=op.f('uq_catalogs_name'))
    )
    op.create_table('config',
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_config'))
    )
    op.create_table('locks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('txn_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('user', sa.String(length=256), nullable=False),
    sa.Column('hostname', sa.String(length=256), nullable=False),
    sa.Column('agent_info', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('acquired_at', sa.BigInteger(), nullable=True),
    sa.Column('last_heartbeat', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locks'))
    )
    op.create_table('transactions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('user', sa.String(length=256), nullable=False),
    sa.Column('hostname', sa.String(length=256), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('last_heartbeat', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions'))
    )
    op.create_table('write_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('db_name', sa.String(length=256), nullable=False),
    sa.Column('table_name', sa.String(length=256), nullable=False),
    sa.Column('txn_id', sa.BigInteger(), nullable=False),
    sa.Column('write_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_write_ids')),
    sa.UniqueConstraint('db_name', 'table_name', 'txn_id', name=op.f('uq_write_ids_db_name_table_name_txn_id'))
    )
    op.create_table('databases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('catalog_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('location_uri', sa.Text(), nullable=True),
    sa.Column('managed_location_uri', sa.Text(), nullable=True),
    sa.Column('owner_name', sa.String(length=256), nullable=True),
    sa.Column('owner_type', sa.Integer(), nullable=True),
    sa.Column('parameters', sa.Text(), nullable=False),
    sa.Column('create_time', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['catalog_id'], ['catalogs.id'], name=op.f('fk_databases_catalog_id_catalogs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_databases')),
    sa.UniqueConstraint('catalog_id', 'name', name=op.f('uq_databases_catalog_id_name'))
    )
    op.create_table('lock_components',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lock_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lock_type', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('db_name', sa.String(length=256), nullable=False),
    sa.Column('table_name', sa.String(length=256), nullable=True),
    sa.Column('partition_name', sa.String(length=750), nullable=True),
    sa.Column('operation', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['lock_id'], ['locks.id'], name=op.f('fk_lock_components_lock_id_locks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lock_components'))
    )
    with op.batch_alter_table('lock_components', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lock_components_lock_id'), ['lock_id'], unique=False)
        batch_op.create_index('ix_lock_components_object', ['db_name', 'table_name'], unique=False)

    op.create_table('functions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('database_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('class_name', sa.Text(), nullable=False),
    sa.Column('owner_name', sa.String(length=256), nullable=True),
    sa.Column('owner_type', sa.Integer(), nullable=True),
    sa.Column('function_type', sa.Integer(), nullable=False),
    sa.Column('resource_uris', sa.Text(), nullable=False),
    sa.Column('create_time', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['database_id'], ['databases.id'], name=op.f('fk_functions_database_id_databases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_functions')),
    sa.UniqueConstraint('database_id', 'name', name=op.f('uq_functions_database_id_name'))
    )
    op.create_table('tables',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('database_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('owner', sa.String(length=256), nullable=True),
    sa.Column('owner_type', sa.Integer(), nullable=True),
    sa.Column('table_type', sa.String(length=64), nullable=False),
    sa.Column('create_time', sa.Integer(), nullable=False),
    sa.Column('last_access_time', sa.Integer(), nullable=False),
    sa.Column('retention', sa.Integer(), nullable=False),
    sa.Column('view_original_text', sa.Text(), nullable=True),
    sa.Column('view_expanded_text', sa.Text(), nullable=True),
    sa.Column('sd', sa.Text(), nullable=False),
    sa.Column('partition_keys', sa.Text(), nullable=False),
    sa.Column('parameters', sa.Text(), nullable=False),
    sa.Column('temporary', sa.Boolean(), nullable=False),
    sa.Column('rewrite_enabled', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['database_id'], ['databases.id'], name=op.f('fk_tables_database_id_databases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tables')),
    sa.UniqueConstraint('database_id', 'name', name=op.f('uq_tables_database_id_name'))
    )
    op.create_table('partitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=750).with_variant(sa.String(length=750, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=750, collation='utf8mb4_bin'), 'mysql').with_variant(sa.String(length=750, collation='C'), 'postgresql'), nullable=False),
    sa.Column('values', sa.Text(), nullable=False),
    sa.Column('create_time', sa.Integer(), nullable=False),
    sa.Column('last_access_time', sa.Integer(), nullable=False),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('sd', sa.Text(), nullable=False),
    sa.Column('parameters', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_partitions_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partitions')),
    sa.UniqueConstraint('table_id', 'name', name=op.f('uq_partitions_table_id_name'))
    )
    op.create_table('table_column_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('column_name', sa.String(length=256), nullable=False),
    sa.Column('column_type', sa.String(length=1024), nullable=False),
    sa.Column('engine', sa.String(length=64), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('last_analyzed', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_table_column_stats_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_table_column_stats')),
    sa.UniqueConstraint('table_id', 'column_name', 'engine', name=op.f('uq_table_column_stats_table_id_column_name_engine'))
    )
    op.create_table('table_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('columns', sa.Text(), nullable=False),
    sa.Column('partition_keys', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_table_versions_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_table_versions')),
    sa.UniqueConstraint('table_id', 'version', name=op.f('uq_table_versions_table_id_version'))
    )
    op.create_table('partition_column_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partition_id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('column_name', sa.String(length=256), nullable=False),
    sa.Column('column_type', sa.String(length=1024), nullable=False),
    sa.Column('engine', sa.String(length=64), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('last_analyzed', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['partition_id'], ['partitions.id'], name=op.f('fk_partition_column_stats_partition_id_partitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partition_column_stats')),
    sa.UniqueConstraint('partition_id', 'column_name', 'engine', name=op.f('uq_partition_column_stats_partition_id_column_name_engine'))
    )
    with op.batch_alter_table('partition_column_stats', schema=None) as batch_op:
        batch_op.create_index('ix_pcs_table', ['table_id'], unique=False)

    op.create_table('partition_key_values',
    sa.Column('partition_id', sa.Integer(), nullable=False),
    sa.Column('key_index', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=700).with_variant(sa.String(length=700, collation='utf8mb4_bin'), 'mariadb').with_variant(sa.String(length=700, collation='utf8mb4_bin'), 'mysql').with_variant(sa.String(length=700, collation='C'), 'postgresql'), nullable=False),
    sa.Column('int_value', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['partition_id'], ['partitions.id'], name=op.f('fk_partition_key_values_partition_id_partitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partition_id', 'key_index', name=op.f('pk_partition_key_values'))
    )
    with op.batch_alter_table('partition_key_values', schema=None) as batch_op:
        batch_op.create_index('ix_pkv_int_lookup', ['table_id', 'key_index', 'int_value'], unique=False)
        batch_op.create_index('ix_pkv_lookup', ['table_id', 'key_index', 'value'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('partition_key_values', schema=None) as batch_op:
        batch_op.drop_index('ix_pkv_lookup')
        batch_op.drop_index('ix_pkv_int_lookup')

    op.drop_table('partition_key_values')
    with op.batch_alter_table('partition_column_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_pcs_table')

    op.drop_table('partition_column_stats')
    op.drop_table('table_versions')
    op.drop_table('table_column_stats')
    op.drop_table('partitions')
    op.drop_table('tables')
    op.drop_table('functions')
    with op.batch_alter_table('lock_components', schema=None) as batch_op:
        batch_op.drop_index('ix_lock_components_object')
        batch_op.drop_index(batch_op.f('ix_lock_components_lock_id'))

    op.drop_table('lock_components')
    op.drop_table('databases')
    op.drop_table('write_ids')
    op.drop_table('transactions')
    op.drop_table('locks')
    op.drop_table('config')
    op.drop_table('catalogs')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_object')

    op.drop_table('audit_log')
