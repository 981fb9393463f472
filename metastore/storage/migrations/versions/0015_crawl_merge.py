"""crawl scale-out (issue 15): what the merge of a split crawl needs

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:00:00
"""

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
