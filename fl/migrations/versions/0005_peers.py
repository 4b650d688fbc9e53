"""Peer-to-peer federation: the ``peers`` table of clients connected to the signalling
WebSocket (membership, public key, the server process holding the socket).

Revision ID: 0005
Revises: 0004
Create Date: 2025-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOUBLE = sa.Double().with_variant(sqlite.REAL(), "sqlite")


def upgrade():
    op.create_table(
        "peers",
        sa.Column("client_id", BIGINT, sa.ForeignKey("clients.id"), primary_key=True),
        sa.Column("federation_id", BIGINT, sa.ForeignKey("federations.id"), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("hub", sa.Text(), nullable=False),
        sa.Column("session", sa.Text(), nullable=False),
        sa.Column("joined_at", DOUBLE, nullable=False))
    op.create_index("peers_by_federation", "peers", ["federation_id"])


def downgrade():
    op.drop_index("peers_by_federation", table_name="peers")
    op.drop_table("peers")
