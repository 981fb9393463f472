"""security: server-side web sessions, login failures, job drivers' credentials

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_sessions',
        sa.Column('id_hash', sa.String(length=64), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('web_users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('last_seen_at', sa.BigInteger(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=True),
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_table(
        'login_failures',
        sa.Column('key', sa.String(length=256), primary_key=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('first_at', sa.BigInteger(), nullable=False),
        sa.Column('locked_until', sa.BigInteger(), nullable=True),
    )
    op.create_table(
        'run_credentials',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_hash', sa.String(length=64), nullable=False, unique=True),
        sa.Column('run_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    )
    op.create_index('ix_run_credentials_run_id', 'run_credentials', ['run_id'])


def downgrade() -> None:
    op.drop_table('run_credentials')
    op.drop_table('login_failures')
    op.drop_table('web_sessions')
