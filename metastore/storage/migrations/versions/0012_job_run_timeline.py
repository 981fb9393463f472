"""job runs' timeline, warm pool, crawl pieces (issue 15)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 13:10:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # --- jobs: when the script started (after queue and start-up), and whether its driver was warm ---
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("running_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("warm", sa.Boolean(), nullable=True))

    # crawl pieces (issue 15, crawls)
    from sqlalchemy.dialects import mysql

    long_text = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mariadb").with_variant(mysql.MEDIUMTEXT(), "mysql")
    op.create_table(
        "crawl_pieces",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("spec", long_text, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=256), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("result", long_text, nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["crawler_runs.id"], name=op.f("fk_crawl_pieces_run_id_crawler_runs"),
                                ondelete="CASCADE"),  # fmt: skip
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_crawl_pieces")),
    )
    # end of crawl pieces (issue 15, crawls)


def downgrade() -> None:
    op.drop_table("crawl_pieces")  # crawl pieces (issue 15, crawls)
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("warm")
        batch.drop_column("running_at")
