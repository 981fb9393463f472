"""uncached catalog reads (issue 17): partitions kept encoded in chunks (whole listings), tables kept encoded

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: no chunks yet; the table's next partition change makes them (see metastore/catalog/chunks.py)
    with op.batch_alter_table('tables') as batch:
        batch.add_column(sa.Column('chunks_version', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('encoded', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('partitions') as batch:
        batch.add_column(sa.Column('encoded', sa.LargeBinary(), nullable=True))
    op.create_table(
        'partition_chunks',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('table_id', sa.Integer(), sa.ForeignKey('tables.id', ondelete='CASCADE'), nullable=False),
        sa.Column('first_name', sa.String(length=750).with_variant(sa.String(length=750, collation='C'), 'postgresql')
                  .with_variant(sa.String(length=750, collation='utf8mb4_bin'), 'mysql', 'mariadb'), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('names', sa.LargeBinary(), nullable=False),
        sa.Column('ends', sa.LargeBinary(), nullable=False),
        sa.Column('parts', sa.LargeBinary(), nullable=False),
    )
    op.create_index('ix_partition_chunks_table', 'partition_chunks', ['table_id', 'first_name', 'id', 'version', 'count'])
    if op.get_bind().dialect.name == 'postgresql':
        # read whole on every listing: stored out of line but uncompressed (no decompression per read)
        for column in ('names', 'ends', 'parts'):
            op.execute(f'ALTER TABLE partition_chunks ALTER COLUMN {column} SET STORAGE EXTERNAL')


def downgrade() -> None:
    op.drop_index('ix_partition_chunks_table', table_name='partition_chunks')
    op.drop_table('partition_chunks')
    with op.batch_alter_table('partitions') as batch:
        batch.drop_column('encoded')
    with op.batch_alter_table('tables') as batch:
        batch.drop_column('encoded')
        batch.drop_column('chunks_version')
