"""schedule fires

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:09:30.321368
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('schedule_fires',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('fire_time', sa.BigInteger(), nullable=False),
    sa.Column('claimed_at', sa.BigInteger(), nullable=False),
    sa.Column('claimed_by', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_fires')),
    sa.UniqueConstraint('kind', 'name', 'fire_time', name=op.f('uq_schedule_fires_kind_name_fire_time'))
    )


def downgrade() -> None:
    op.drop_table('schedule_fires')
