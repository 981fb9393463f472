"""job logs, connections, crawler runs in workflows

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 16:18:32.506595
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('connection_type', sa.String(length=16), nullable=False),
    sa.Column('properties', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connections')),
    sa.UniqueConstraint('name', name=op.f('uq_connections_name'))
    )
    op.create_table('job_run_logs',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mariadb').with_variant(mysql.MEDIUMTEXT(), 'mysql'), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['job_runs.id'], name=op.f('fk_job_run_logs_run_id_job_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'seq', name=op.f('pk_job_run_logs'))
    )
    with op.batch_alter_table('crawler_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trigger_name', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('workflow_run_id', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_crawler_runs_workflow_run_id'), ['workflow_run_id'], unique=False)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connections', sa.Text(), nullable=False, server_default='[]'))



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('connections')

    with op.batch_alter_table('crawler_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawler_runs_workflow_run_id'))
        batch_op.drop_column('workflow_run_id')
        batch_op.drop_column('trigger_name')

    op.drop_table('job_run_logs')
    op.drop_table('connections')
