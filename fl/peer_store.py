"""Persistence of peer-to-peer membership: which clients of a federation are online, the
public key each registered at join, and the server process (``hub``) holding its socket.

SQLAlchemy Core over ``fl.tables.peers``, the same statements on SQLite and PostgreSQL.
Writers run in the caller's ``fl.database.writing`` transaction. Nothing a peer sends
another (SDP, candidates, models) is stored: only who is online.
"""
from sqlalchemy import bindparam, delete, insert, select

from fl.tables import peers

_DELETE_CLIENT = delete(peers).where(peers.c.client_id == bindparam("cid"))
_DELETE_SESSION = delete(peers).where(peers.c.client_id == bindparam("cid"),
                                      peers.c.session == bindparam("sid"))
_DELETE_HUB = delete(peers).where(peers.c.hub == bindparam("hub_address"))
_INSERT = insert(peers)
_ONLINE = (select(peers.c.client_id, peers.c.public_key, peers.c.hub, peers.c.session)
           .where(peers.c.federation_id == bindparam("fid")).order_by(peers.c.client_id))
_MEMBER = (select(peers.c.client_id, peers.c.public_key, peers.c.hub, peers.c.session)
           .where(peers.c.client_id == bindparam("cid"), peers.c.federation_id == bindparam("fid")))


def _rows(result):
    return [row._asdict() for row in result]


def join(conn, federation_id, client_id, public_key, hub, session, now):
    """Make ``client_id`` online with this key, replacing an earlier socket of its own."""
    conn.execute(_DELETE_CLIENT, {"cid": client_id})
    conn.execute(_INSERT, {"client_id": client_id, "federation_id": federation_id,
                           "public_key": bytes(public_key), "hub": hub, "session": session,
                           "joined_at": now})


def leave(conn, client_id, session):
    """Take ``client_id`` offline unless a newer socket (another session) replaced this one.
    Returns whether a row was removed."""
    return conn.execute(_DELETE_SESSION, {"cid": client_id, "sid": session}).rowcount > 0


def drop_hub(conn, hub):
    """Forget every member held by a server process that is gone; returns how many."""
    return conn.execute(_DELETE_HUB, {"hub_address": hub}).rowcount


def online(conn, federation_id):
    """The online members of a federation: ``{client_id, public_key, hub, session}``, by id."""
    return _rows(conn.execute(_ONLINE, {"fid": federation_id}))


def member(conn, federation_id, client_id):
    """One online member of the federation, or None."""
    row = conn.execute(_MEMBER, {"cid": client_id, "fid": federation_id}).first()
    return None if row is None else row._asdict()
