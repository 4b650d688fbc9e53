"""Persistence of secure rounds: their members and public keys, the sealed shares the server
relays, the masked inputs and the revealed shares (``fl.tables``). Everything a round holds
here is deleted when it ends (``forget``); the round row keeps only counts.

Functions take a Connection; those that write expect the caller's transaction.
"""
from sqlalchemy import delete, func, insert, select, update

from fl.tables import clients, rounds, secure_inputs, secure_members, secure_reveals, secure_shares


def _rows(conn, statement):
    return [row._asdict() for row in conn.execute(statement)]


def members(conn, round_id):
    """The round's members in id order: client_id, both public keys, when each step came."""
    return _rows(conn, select(secure_members).where(secure_members.c.round_id == round_id)
                 .order_by(secure_members.c.client_id))


def member(conn, round_id, client_id):
    row = conn.execute(select(secure_members).where(
        secure_members.c.round_id == round_id,
        secure_members.c.client_id == client_id)).first()
    return None if row is None else row._asdict()


def add_member(conn, round_id, client_id, encryption_key, mask_key, now):
    conn.execute(insert(secure_members).values(
        round_id=round_id, client_id=client_id, encryption_key=encryption_key,
        mask_key=mask_key, joined_at=now))


def count_members(conn, round_id):
    return int(conn.execute(select(func.count()).select_from(secure_members)
                            .where(secure_members.c.round_id == round_id)).scalar())


def count_members_by_invite(conn, round_id, invite_id):
    """How many of the round's members registered with invite ``invite_id``."""
    return int(conn.execute(
        select(func.count()).select_from(secure_members)
        .join(clients, clients.c.id == secure_members.c.client_id)
        .where(secure_members.c.round_id == round_id, clients.c.invite_id == invite_id))
        .scalar())


def mark(conn, round_id, client_id, step, now):
    """Note that the member did ``step`` (``shared``, ``masked`` or ``revealed``)."""
    conn.execute(update(secure_members).where(
        secure_members.c.round_id == round_id, secure_members.c.client_id == client_id)
        .values({step + "_at": now}))


def add_shares(conn, round_id, sender, sealed_by_receiver):
    conn.execute(insert(secure_shares), [
        {"round_id": round_id, "sender": sender, "receiver": receiver, "sealed": sealed}
        for receiver, sealed in sealed_by_receiver.items()])


def shares_for(conn, round_id, receiver):
    """{sender: sealed bytes} addressed to ``receiver``."""
    return {row.sender: bytes(row.sealed) for row in conn.execute(
        select(secure_shares.c.sender, secure_shares.c.sealed).where(
            secure_shares.c.round_id == round_id, secure_shares.c.receiver == receiver))}


def add_input(conn, round_id, client_id, words):
    conn.execute(insert(secure_inputs).values(round_id=round_id, client_id=client_id,
                                              words=words))


def inputs(conn, round_id):
    """{client_id: words bytes} of the round's masked inputs."""
    return {row.client_id: bytes(row.words) for row in conn.execute(
        select(secure_inputs.c.client_id, secure_inputs.c.words)
        .where(secure_inputs.c.round_id == round_id))}


def add_reveals(conn, round_id, revealer, kind, shares):
    if shares:
        conn.execute(insert(secure_reveals), [
            {"round_id": round_id, "revealer": revealer, "owner": owner, "kind": kind,
             "share": share} for owner, share in shares.items()])


def reveals(conn, round_id):
    """{revealer: {"seed": {owner: share}, "key": {owner: share}}}."""
    out = {}
    for row in conn.execute(select(secure_reveals).where(
            secure_reveals.c.round_id == round_id)):
        out.setdefault(row.revealer, {"seed": {}, "key": {}})[row.kind][row.owner] = \
            bytes(row.share)
    return out


def set_phase(conn, round_id, **fields):
    """Set any of the round's secure columns (phase, phase_deadline, cohort, ...)."""
    conn.execute(update(rounds).where(rounds.c.id == round_id).values(**fields))


def forget(conn, round_id):
    """Delete everything the round held: keys, sealed shares, masked inputs, reveals."""
    for table in (secure_reveals, secure_inputs, secure_shares, secure_members):
        conn.execute(delete(table).where(table.c.round_id == round_id))
