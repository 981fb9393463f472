"""profiles and previews (issue 18): profile runs, partitions' profiles

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 13:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'profile_runs',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('catalog_name', sa.String(length=256), nullable=False),
        sa.Column('db_name', sa.String(length=256), nullable=False),
        sa.Column('table_name', sa.String(length=256), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('partitions', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('requested_by', sa.String(length=256), nullable=False),
        sa.Column('worker', sa.String(length=256), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('started_at', sa.BigInteger(), nullable=True),
        sa.Column('ended_at', sa.BigInteger(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('result', sa.Text(), nullable=True),
    )
    op.create_index('ix_profile_runs_table', 'profile_runs', ['db_name', 'table_name', 'id'])
    op.create_table(
        'partition_profiles',
        sa.Column('partition_id', sa.Integer(), sa.ForeignKey('partitions.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('table_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('profile', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
    )
    op.create_index('ix_partition_profiles_table', 'partition_profiles', ['table_id'])


def downgrade() -> None:
    op.drop_index('ix_partition_profiles_table', 'partition_profiles')
    op.drop_table('partition_profiles')
    op.drop_index('ix_profile_runs_table', 'profile_runs')
    op.drop_table('profile_runs')
