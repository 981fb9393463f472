"""lineage, annotations, notifications (issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 13:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'lineage_edges',
        sa.Column('id', _ID, primary_key=True),
        sa.Column('run_kind', sa.String(length=16), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=False),
        sa.Column('process', sa.String(length=256), nullable=False),
        sa.Column('direction', sa.String(length=3), nullable=False),
        sa.Column('dataset_key', sa.String(length=40), nullable=False),
        sa.Column('namespace', sa.String(length=256), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('db_name', sa.String(length=256), nullable=True),
        sa.Column('table_name', sa.String(length=256), nullable=True),
        sa.Column('partitions', sa.Text(), nullable=False),
        sa.Column('columns', sa.Text(), nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.UniqueConstraint('run_kind', 'run_id', 'direction', 'dataset_key',
                            name='uq_lineage_edges_run_kind_run_id_direction_dataset_key'),
    )
    op.create_index('ix_lineage_edges_table', 'lineage_edges', ['db_name', 'table_name', 'direction'])
    op.create_index('ix_lineage_edges_dataset', 'lineage_edges', ['dataset_key', 'direction'])
    op.create_index('ix_lineage_edges_process', 'lineage_edges', ['run_kind', 'process'])
    op.create_table(
        'annotations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('db_name', sa.String(length=256), nullable=False),
        sa.Column('table_name', sa.String(length=256), nullable=False),
        sa.Column('column_name', sa.String(length=256), nullable=False),
        sa.Column('owner', sa.String(length=256), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('tags', sa.Text(), nullable=False),
        sa.Column('classifications', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_by', sa.String(length=256), nullable=False),
        sa.UniqueConstraint('db_name', 'table_name', 'column_name',
                            name='uq_annotations_db_name_table_name_column_name'),
    )
    op.create_index('ix_annotations_owner', 'annotations', ['owner'])
    op.create_table(
        'annotation_labels',
        sa.Column('annotation_id', sa.Integer(), sa.ForeignKey('annotations.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('label', sa.String(length=256), primary_key=True),
        sa.Column('db_name', sa.String(length=256), nullable=False),
        sa.Column('table_name', sa.String(length=256), nullable=False),
    )
    op.create_index('ix_annotation_labels_label', 'annotation_labels', ['label', 'db_name', 'table_name'])
    op.create_table(
        'annotation_history',
        sa.Column('id', _ID, primary_key=True),
        sa.Column('db_name', sa.String(length=256), nullable=False),
        sa.Column('table_name', sa.String(length=256), nullable=False),
        sa.Column('column_name', sa.String(length=256), nullable=False),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.Column('user', sa.String(length=256), nullable=False),
        sa.Column('changes', sa.Text(), nullable=False),
    )
    op.create_index('ix_annotation_history_object', 'annotation_history', ['db_name', 'table_name', 'id'])
    op.create_table(
        'subscriptions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(length=256), nullable=False, unique=True),
        sa.Column('owner', sa.String(length=256), nullable=False),
        sa.Column('events', sa.Text(), nullable=False),
        sa.Column('db_name', sa.String(length=256), nullable=True),
        sa.Column('object_name', sa.String(length=256), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('secret', sa.Text(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
    )
    op.create_table(
        'deliveries',
        sa.Column('id', _ID, primary_key=True),
        sa.Column('subscription_id', sa.Integer(), sa.ForeignKey('subscriptions.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('event_id', sa.BigInteger(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_at', sa.BigInteger(), nullable=False),
        sa.Column('claimed_by', sa.String(length=256), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('sent_at', sa.BigInteger(), nullable=True),
        sa.UniqueConstraint('subscription_id', 'event_id', name='uq_deliveries_subscription_id_event_id'),
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['state', 'next_at'])
    op.create_table(
        'feed_cursors',
        sa.Column('name', sa.String(length=64), primary_key=True),
        sa.Column('position', sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for name in ('feed_cursors', 'deliveries', 'subscriptions', 'annotation_history', 'annotation_labels',
                 'annotations', 'lineage_edges'):
        op.drop_table(name)
