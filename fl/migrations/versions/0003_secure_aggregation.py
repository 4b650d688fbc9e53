"""Secure aggregation: a federation's mode, the phases of a secure round, and the tables that
hold a round's keys, sealed shares, masked inputs and revealed shares until it ends.

Federations that existed before keep the plain mode they had; new ones take the configured
mode (``FEDERATION_MODE``, secure by default).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOUBLE = sa.Double().with_variant(sqlite.REAL(), "sqlite")
ROUND_COLUMNS = [("phase", sa.Text()), ("phase_deadline", DOUBLE), ("cohort", sa.Integer()),
                 ("graph_seed", BIGINT), ("scale", DOUBLE), ("shared", sa.Integer()),
                 ("survivors", sa.Integer()), ("revealed", sa.Integer())]


def upgrade():
    # Plain ADD COLUMNs: SQLite adds them in place (a batch would copy and drop tables that
    # other tables' foreign keys name).
    op.add_column("federations", sa.Column("mode", sa.Text(), nullable=False,
                                           server_default=sa.text("'plain'")))
    op.add_column("rounds", sa.Column("kind", sa.Text(), nullable=False,
                                      server_default=sa.text("'plain'")))
    for name, column_type in ROUND_COLUMNS:
        op.add_column("rounds", sa.Column(name, column_type))
    op.create_table(
        "secure_members",
        sa.Column("round_id", BIGINT, sa.ForeignKey("rounds.id"), primary_key=True),
        sa.Column("client_id", BIGINT, sa.ForeignKey("clients.id"), primary_key=True),
        sa.Column("encryption_key", sa.LargeBinary(), nullable=False),
        sa.Column("mask_key", sa.LargeBinary(), nullable=False),
        sa.Column("joined_at", DOUBLE, nullable=False),
        sa.Column("shared_at", DOUBLE),
        sa.Column("masked_at", DOUBLE),
        sa.Column("revealed_at", DOUBLE))
    op.create_table(
        "secure_shares",
        sa.Column("round_id", BIGINT, sa.ForeignKey("rounds.id"), primary_key=True),
        sa.Column("sender", BIGINT, primary_key=True),
        sa.Column("receiver", BIGINT, primary_key=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False))
    op.create_table(
        "secure_inputs",
        sa.Column("round_id", BIGINT, sa.ForeignKey("rounds.id"), primary_key=True),
        sa.Column("client_id", BIGINT, primary_key=True),
        sa.Column("words", sa.LargeBinary(), nullable=False))
    op.create_table(
        "secure_reveals",
        sa.Column("round_id", BIGINT, sa.ForeignKey("rounds.id"), primary_key=True),
        sa.Column("revealer", BIGINT, primary_key=True),
        sa.Column("owner", BIGINT, primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("share", sa.LargeBinary(), nullable=False))


def downgrade():
    for table in ("secure_reveals", "secure_inputs", "secure_shares", "secure_members"):
        op.drop_table(table)
    for name, _ in reversed(ROUND_COLUMNS):
        op.drop_column("rounds", name)
    op.drop_column("rounds", "kind")
    op.drop_column("federations", "mode")
