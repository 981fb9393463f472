"""crawlers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:52:31.282044
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('classifiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('classification', sa.String(length=256), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_classifiers')),
    sa.UniqueConstraint('name', name=op.f('uq_classifiers_name'))
    )
    op.create_table('crawlers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('database_name', sa.String(length=256), nullable=False),
    sa.Column('table_prefix', sa.String(length=256), nullable=False),
    sa.Column('targets', sa.Text(), nullable=False),
    sa.Column('classifiers', sa.Text(), nullable=False),
    sa.Column('update_behavior', sa.String(length=32), nullable=False),
    sa.Column('delete_behavior', sa.String(length=32), nullable=False),
    sa.Column('recrawl_behavior', sa.String(length=32), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=True),
    sa.Column('combine_compatible_schemas', sa.Boolean(), nullable=False),
    sa.Column('table_level', sa.Integer(), nullable=True),
    sa.Column('schedule', sa.String(length=256), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('storage_options', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawlers')),
    sa.UniqueConstraint('name', name=op.f('uq_crawlers_name'))
    )
    op.create_table('crawler_files',
    sa.Column('crawler_id', sa.Integer(), nullable=False),
    sa.Column('path_hash', sa.String(length=40), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.String(length=256), nullable=False),
    sa.Column('table_name', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['crawler_id'], ['crawlers.id'], name=op.f('fk_crawler_files_crawler_id_crawlers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('crawler_id', 'path_hash', name=op.f('pk_crawler_files'))
    )
    op.create_table('crawler_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('crawler_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.BigInteger(), nullable=False),
    sa.Column('ended_at', sa.BigInteger(), nullable=True),
    sa.Column('heartbeat_at', sa.BigInteger(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('metrics', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.ForeignKeyConstraint(['crawler_id'], ['crawlers.id'], name=op.f('fk_crawler_runs_crawler_id_crawlers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawler_runs'))
    )
    with op.batch_alter_table('crawler_runs', schema=None) as batch_op:
        batch_op.create_index('ix_crawler_runs_crawler', ['crawler_id', 'id'], unique=False)
        batch_op.create_index('ix_crawler_runs_state', ['state', 'heartbeat_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crawler_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_crawler_runs_state')
        batch_op.drop_index('ix_crawler_runs_crawler')

    op.drop_table('crawler_runs')
    op.drop_table('crawler_files')
    op.drop_table('crawlers')
    op.drop_table('classifiers')
