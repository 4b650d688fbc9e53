"""The schema the server created before migrations existed, exactly.

A database made by that code (no ``alembic_version`` table) is stamped with this revision
instead of running it (``fl.migrate``); a new database gets these tables from here. Types
are spelt out here rather than taken from ``fl.tables``, which moves on with later revisions.

Revision ID: 0001
Revises:
Create Date: 2025-12-06
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOUBLE = sa.Double().with_variant(sqlite.REAL(), "sqlite")


def _id():
    return sa.Column("id", BIGINT, sa.Identity(), primary_key=True)


def upgrade():
    op.create_table(
        "federations", _id(),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("encoder", sa.Text(), nullable=False),
        sa.Column("hidden_size", sa.Integer(), nullable=False),
        sa.Column("head_version", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", DOUBLE, nullable=False),
        sqlite_autoincrement=True)
    op.create_table(
        "clients", _id(),
        sa.Column("federation_id", BIGINT, sa.ForeignKey("federations.id"), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", DOUBLE, nullable=False),
        sqlite_autoincrement=True)
    op.create_table(
        "heads",
        sa.Column("federation_id", BIGINT, sa.ForeignKey("federations.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("weights", sa.LargeBinary(), nullable=False),
        sa.Column("bias", sa.LargeBinary(), nullable=False),
        sa.Column("round_id", BIGINT),
        sa.Column("created_at", DOUBLE, nullable=False))
    op.create_table(
        "rounds", _id(),
        sa.Column("federation_id", BIGINT, sa.ForeignKey("federations.id"), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("opened_at", DOUBLE, nullable=False),
        sa.Column("deadline", DOUBLE, nullable=False),
        sa.Column("closed_at", DOUBLE),
        sa.Column("result_version", sa.Integer()),
        sa.Column("detail", sa.Text()),
        sqlite_autoincrement=True)
    live = sa.text("status IN ('open', 'collecting')")
    op.create_index("one_live_round", "rounds", ["federation_id"], unique=True,
                    sqlite_where=live, postgresql_where=live)
    op.create_table(
        "updates", _id(),
        sa.Column("round_id", BIGINT, sa.ForeignKey("rounds.id"), nullable=False),
        sa.Column("client_id", BIGINT, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("num_examples", sa.Integer(), nullable=False),
        sa.Column("norm", DOUBLE, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", DOUBLE, nullable=False),
        sa.UniqueConstraint("round_id", "client_id"),
        sqlite_autoincrement=True)
    op.create_table(
        "refusals", _id(),
        sa.Column("round_id", BIGINT, sa.ForeignKey("rounds.id"), nullable=False),
        sa.Column("client_id", BIGINT),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", DOUBLE, nullable=False),
        sqlite_autoincrement=True)


def downgrade():
    for table in ("refusals", "updates", "rounds", "heads", "clients", "federations"):
        op.drop_table(table)
