"""The privacy ledger (``fl.tables.privacy_ledger``): the noised releases of a federation.

Functions take a Connection; ``record`` expects the caller's transaction.
"""
from sqlalchemy import insert, select

from fl.tables import privacy_ledger


def record(conn, federation_id, round_id, noise_multiplier, clip, members, now):
    """One published round: Gaussian noise of ``noise_multiplier`` x ``clip`` on the sum of
    ``members`` clipped updates."""
    conn.execute(insert(privacy_ledger).values(
        federation_id=federation_id, round_id=round_id, mechanism="gaussian",
        noise_multiplier=float(noise_multiplier), clip=float(clip), members=int(members),
        published_at=now))


def multipliers(conn, federation_id):
    """The noise multipliers of the federation's releases, oldest first."""
    return [row[0] for row in conn.execute(
        select(privacy_ledger.c.noise_multiplier)
        .where(privacy_ledger.c.federation_id == federation_id)
        .order_by(privacy_ledger.c.round_id))]


def releases(conn, federation_id):
    """Every row of the federation's ledger, oldest first (for operators and tests)."""
    return [row._asdict() for row in conn.execute(
        select(privacy_ledger).where(privacy_ledger.c.federation_id == federation_id)
        .order_by(privacy_ledger.c.round_id))]
