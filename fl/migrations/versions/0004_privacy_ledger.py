"""Client-level differential privacy: a federation's privacy settings and its ledger of
noised releases (one row per published round).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOUBLE = sa.Double().with_variant(sqlite.REAL(), "sqlite")


def upgrade():
    op.add_column("federations", sa.Column("privacy", sa.Text()))
    op.create_table(
        "privacy_ledger",
        sa.Column("federation_id", BIGINT, sa.ForeignKey("federations.id"), primary_key=True),
        sa.Column("round_id", BIGINT, sa.ForeignKey("rounds.id"), primary_key=True),
        sa.Column("mechanism", sa.Text(), nullable=False),
        sa.Column("noise_multiplier", DOUBLE, nullable=False),
        sa.Column("clip", DOUBLE, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("published_at", DOUBLE, nullable=False))


def downgrade():
    op.drop_table("privacy_ledger")
    op.drop_column("federations", "privacy")
