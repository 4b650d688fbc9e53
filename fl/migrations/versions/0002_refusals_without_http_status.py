"""Refusals keep their reason, not an HTTP status: the status is the API's reading of the
reason (``fl.http_errors``), so storing it beside the reason only repeated it.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# SQLite drops a column by rebuilding the table, which must keep AUTOINCREMENT (ids are
# never reused); PostgreSQL alters it in place.
KEEP = {"sqlite_autoincrement": True}


def upgrade():
    with op.batch_alter_table("refusals", table_kwargs=KEEP) as batch:
        batch.drop_column("status")


def downgrade():
    # Rows refused before the downgrade get 0: their status is no longer known here.
    with op.batch_alter_table("refusals", table_kwargs=KEEP) as batch:
        batch.add_column(sa.Column("status", sa.Integer(), nullable=False,
                                   server_default="0"))
