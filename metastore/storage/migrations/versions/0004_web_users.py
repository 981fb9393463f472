"""web users

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 14:24:26.172482
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_web_secrets'))
    )
    op.create_table('web_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('all_databases', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_users')),
    sa.UniqueConstraint('name', name=op.f('uq_web_users_name'))
    )
    op.create_table('web_grants',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('db_name', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['web_users.id'], name=op.f('fk_web_grants_user_id_web_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'db_name', name=op.f('pk_web_grants'))
    )
    op.create_table('web_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('last_used_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['web_users.id'], name=op.f('fk_web_tokens_user_id_web_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_tokens_token_hash'))
    )
    with op.batch_alter_table('web_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_tokens_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_tokens_user_id'))

    op.drop_table('web_tokens')
    op.drop_table('web_grants')
    op.drop_table('web_users')
    op.drop_table('web_secrets')
