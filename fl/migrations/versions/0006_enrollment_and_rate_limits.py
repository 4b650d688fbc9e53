"""Enrollment and rate limits: a federation's enrollment (open or invite), invite codes,
clients' invite and revocation, and the fixed-window counters of the rate limits.

Federations that existed before stay open (anyone may register, as before); their clients
have no invite and are not revoked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOUBLE = sa.Double().with_variant(sqlite.REAL(), "sqlite")


def upgrade():
    op.add_column("federations", sa.Column("enrollment", sa.Text(), nullable=False,
                                           server_default=sa.text("'open'")))
    op.create_table(
        "invites",
        sa.Column("id", BIGINT, sa.Identity(), primary_key=True),
        sa.Column("federation_id", BIGINT, sa.ForeignKey("federations.id"), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False, unique=True),
        sa.Column("max_uses", sa.Integer()),
        sa.Column("uses", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("expires_at", DOUBLE),
        sa.Column("revoked_at", DOUBLE),
        sa.Column("note", sa.Text()),
        sa.Column("created_at", DOUBLE, nullable=False),
        sqlite_autoincrement=True)
    # Plain ADD COLUMNs: SQLite adds them in place (a batch would copy and drop a table that
    # other tables' foreign keys name); its ALTER takes the reference only inline, unnamed.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE clients ADD COLUMN invite_id INTEGER REFERENCES invites (id)")
    else:
        op.add_column("clients", sa.Column("invite_id", BIGINT,
                                           sa.ForeignKey("invites.id",
                                                         name="clients_invite_id_fkey")))
    op.add_column("clients", sa.Column("revoked_at", DOUBLE))
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("window", BIGINT, primary_key=True),
        sa.Column("hits", sa.Integer(), nullable=False))


def downgrade():
    op.drop_table("rate_counters")
    op.drop_column("clients", "revoked_at")
    op.drop_column("clients", "invite_id")
    op.drop_table("invites")
    op.drop_column("federations", "enrollment")
