"""the Glue control plane (issue 12): schedules of crawlers stopped by StopCrawlerSchedule, Glue-only fields
of jobs, crawlers and connections

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 13:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'glue_paused_schedules',
        sa.Column('crawler_id', sa.Integer(), sa.ForeignKey('crawlers.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('schedule', sa.String(length=256), nullable=False),
    )
    op.create_table(
        'glue_attributes',
        sa.Column('kind', sa.String(length=32), primary_key=True),
        sa.Column('name', sa.String(length=256), primary_key=True),
        sa.Column('attributes', sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('glue_attributes')
    op.drop_table('glue_paused_schedules')
