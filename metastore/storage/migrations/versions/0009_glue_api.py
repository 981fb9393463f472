"""the AWS Glue API: access keys, tags, partition indexes, table versions (issue 12)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 13:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'glue_access_keys',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('access_key_id', sa.String(length=32), nullable=False, unique=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('web_users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('last_used_at', sa.BigInteger(), nullable=True),
    )
    op.create_index('ix_glue_access_keys_user_id', 'glue_access_keys', ['user_id'])
    op.create_table(
        'glue_table_state',
        sa.Column('table_id', sa.Integer(), sa.ForeignKey('tables.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('version_id', sa.BigInteger(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
    )
    op.create_table(
        'glue_table_versions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('table_id', sa.Integer(), sa.ForeignKey('tables.id', ondelete='CASCADE'), nullable=False),
        sa.Column('version_id', sa.BigInteger(), nullable=False),
        sa.Column('snapshot', sa.Text(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.UniqueConstraint('table_id', 'version_id', name='uq_glue_table_versions_table_id_version_id'),
    )
    op.create_table(
        'glue_partition_indexes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('table_id', sa.Integer(), sa.ForeignKey('tables.id', ondelete='CASCADE'), nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('keys', sa.Text(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.UniqueConstraint('table_id', 'name', name='uq_glue_partition_indexes_table_id_name'),
    )
    op.create_table(
        'glue_tags',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('arn', sa.String(length=1024), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.UniqueConstraint('arn', 'key', name='uq_glue_tags_arn_key'),
    )
    op.create_index('ix_glue_tags_arn', 'glue_tags', ['arn'])


def downgrade() -> None:
    for name in ('glue_tags', 'glue_partition_indexes', 'glue_table_versions', 'glue_table_state',
                 'glue_access_keys'):
        op.drop_table(name)
