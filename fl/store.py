"""Persistence of federations, clients, head versions, rounds, updates and refusals.

SQLAlchemy Core over ``fl.tables``, the same statements on SQLite and PostgreSQL. Functions
take a Connection; those that write expect the caller's transaction
(``fl.database.Database.writing``). Rows come back as plain dicts; a federation's
``labels`` as a list. Heads are stored as little-endian float32 bytes. Statements are built
once, with bound parameters, so SQLAlchemy compiles each one once per process.
"""
import json

import numpy as np
from sqlalchemy import (
    BigInteger,
    Double,
    Integer,
    LargeBinary,
    Text,
    bindparam,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from fl.tables import LIVE_SQL, clients, federations, heads, refusals, rounds, updates


def _by_dialect(build):
    return {"postgresql": build(postgresql.insert), "sqlite": build(sqlite.insert)}


def _federation_by(column, lock):
    statement = select(federations).where(federations.c[column] == bindparam("key"))
    return statement.with_for_update() if lock else statement


_FEDERATION_BY = {(column, lock): _federation_by(column, lock)
                  for column in ("name", "id") for lock in (False, True)}
# ON CONFLICT DO NOTHING ... RETURNING: a row exactly when one was inserted (the driver's
# rowcount is not reliable for it).
_INSERT_FEDERATION = _by_dialect(lambda dialect_insert: dialect_insert(federations)
                                 .on_conflict_do_nothing(index_elements=["name"])
                                 .returning(federations.c.id))
_SET_HEAD_VERSION = (update(federations).where(federations.c.id == bindparam("fid"))
                     .values(head_version=bindparam("version")))
_INSERT_HEAD = insert(heads)
_HEAD = select(heads.c.weights, heads.c.bias).where(
    heads.c.federation_id == bindparam("fid"), heads.c.version == bindparam("version"))
_INSERT_CLIENT = insert(clients).returning(clients.c.id)
_live_of = (rounds.c.federation_id == bindparam("fid")) & rounds.c.status.in_(LIVE_SQL)
_SENDER = (select(clients.c.id, clients.c.federation_id, clients.c.invite_id,
                  clients.c.revoked_at, federations.c.labels, federations.c.dim)
           .join(federations, federations.c.id == clients.c.federation_id)
           .where(clients.c.token_hash == bindparam("token_hash")))
_LIVE_ROUND = select(rounds).where(_live_of)
_ACCEPTED = (select(func.count()).select_from(updates)
             .where(updates.c.round_id == rounds.c.id).scalar_subquery())
_LIVE_ROUND_AND_HEAD = (select(rounds, federations.c.head_version, _ACCEPTED.label("accepted"))
                        .join(federations, federations.c.id == rounds.c.federation_id)
                        .where(_live_of))
_LIVE_ROUND_AND_COUNT = select(rounds, _ACCEPTED.label("accepted")).where(_live_of)
# SQLite's write transaction already excludes every other writer: one statement reads what
# PostgreSQL must read in two (the round only after the federation's lock was granted).
_LOCKED_STATE = (select(*[c.label("f_" + c.name) for c in federations.c],
                        *[c.label("r_" + c.name) for c in rounds.c], _ACCEPTED.label("accepted"))
                 .select_from(federations).join(rounds, (rounds.c.federation_id == federations.c.id)
                       & rounds.c.status.in_(LIVE_SQL))
                 .where(federations.c.id == bindparam("fid")))
_ROUND_BY_ID = select(rounds).where(rounds.c.id == bindparam("rid"))
_OPEN_ROUND = insert(rounds).values(status="open").returning(rounds.c.id)
# An update is stored only while its client is not revoked (fl.enrollment): checked by the
# INSERT itself, whatever a process's cache of tokens still holds.
_NOT_REVOKED = exists(select(clients.c.id).where(
    clients.c.id == bindparam("client_id", type_=BigInteger), clients.c.revoked_at.is_(None)))
_UPDATE_VALUES = select(
    bindparam("round_id", type_=BigInteger), bindparam("client_id", type_=BigInteger),
    bindparam("num_examples", type_=Integer), bindparam("norm", type_=Double),
    bindparam("payload", type_=LargeBinary), bindparam("received_at", type_=Double),
).where(_NOT_REVOKED)
_INSERT_UPDATE = _by_dialect(lambda dialect_insert: dialect_insert(updates)
                             .from_select(["round_id", "client_id", "num_examples", "norm",
                                           "payload", "received_at"], _UPDATE_VALUES)
                             .on_conflict_do_nothing(index_elements=["round_id", "client_id"])
                             .returning(updates.c.id))
_REVOKED = select(clients.c.revoked_at.is_not(None)).where(clients.c.id == bindparam("cid"))
_UPDATES_OF = (select(updates.c.client_id, updates.c.num_examples, updates.c.payload)
               .join(clients, clients.c.id == updates.c.client_id)
               .where(updates.c.round_id == bindparam("rid"), clients.c.revoked_at.is_(None))
               .order_by(updates.c.id))
_COUNT_UPDATES = (select(func.count()).select_from(updates)
                  .where(updates.c.round_id == bindparam("rid")))
# The round a refusal counts in: the one the update named if it is the federation's, else
# the federation's live round; resolved by the INSERT itself.
_NAMED_ROUND = (select(rounds.c.id).where(rounds.c.id == bindparam("named", type_=BigInteger),
                                          rounds.c.federation_id == bindparam("fid"))
                .scalar_subquery())
_LIVE_ROUND_ID = select(rounds.c.id).where(_live_of).scalar_subquery()
_INSERT_REFUSAL = (insert(refusals).from_select(
    ["round_id", "client_id", "reason", "detail", "at"],
    select(func.coalesce(_NAMED_ROUND, _LIVE_ROUND_ID),
           bindparam("client_id", type_=BigInteger), bindparam("reason", type_=Text),
           bindparam("detail", type_=Text), bindparam("at", type_=Double)))
    .returning(refusals.c.round_id))
_REFUSAL_COUNTS = (select(refusals.c.reason, func.count().label("n"))
                   .where(refusals.c.round_id == bindparam("rid"))
                   .group_by(refusals.c.reason).order_by(refusals.c.reason))

DETAIL_LIMIT = 500   # characters of a refusal's detail that are kept


def _one(conn, statement, **params):
    row = conn.execute(statement, params).first()
    return None if row is None else row._asdict()


def _federation(row):
    if row is not None:
        row["labels"] = json.loads(row["labels"])
    return row


def federation_by_name(conn, name, lock=False):
    """The federation called ``name`` or None; ``lock``: hold its row until the transaction
    ends (PostgreSQL; SQLite's write transaction excludes other writers anyway)."""
    return _federation(_one(conn, _FEDERATION_BY["name", lock], key=name))


def federation_by_id(conn, federation_id, lock=False):
    return _federation(_one(conn, _FEDERATION_BY["id", lock], key=federation_id))


def insert_federation(conn, spec, now):
    """Insert a federation unless one of that name exists; return whether it was inserted."""
    result = conn.execute(_INSERT_FEDERATION[conn.dialect.name], {
        "name": spec["name"], "labels": json.dumps(list(spec["labels"])),
        "dim": int(spec["dim"]), "encoder": spec["encoder"],
        "hidden_size": int(spec["hidden_size"]), "created_at": now,
        "mode": spec.get("mode", "plain"), "privacy": spec.get("privacy"),
        "enrollment": spec.get("enrollment", "open")})
    return result.first() is not None


def set_mode(conn, federation_id, mode, privacy=None, enrollment="open"):
    """A federation's mode, privacy settings (JSON text, None for none) and enrollment."""
    conn.execute(update(federations).where(federations.c.id == federation_id)
                 .values(mode=mode, privacy=privacy, enrollment=enrollment))


def set_head_version(conn, federation_id, version):
    conn.execute(_SET_HEAD_VERSION, {"fid": federation_id, "version": version})


def insert_head(conn, federation_id, version, weights, bias, round_id, now):
    conn.execute(_INSERT_HEAD, {
        "federation_id": federation_id, "version": version,
        "weights": np.asarray(weights, "<f4").tobytes(),
        "bias": np.asarray(bias, "<f4").tobytes(), "round_id": round_id, "created_at": now})


def head(conn, federation_id, version):
    """(weights, bias) of one head version as float32 arrays, or None."""
    row = conn.execute(_HEAD, {"fid": federation_id, "version": version}).first()
    if row is None:
        return None
    return np.frombuffer(bytes(row.weights), "<f4"), np.frombuffer(bytes(row.bias), "<f4")


def insert_client(conn, federation_id, token_hash, now, invite_id=None):
    """The id of a new client of the federation (``invite_id``: the invite it came with)."""
    return conn.execute(_INSERT_CLIENT, {"federation_id": federation_id,
                                         "token_hash": token_hash, "created_at": now,
                                         "invite_id": invite_id}).scalar()


def is_revoked(conn, client_id):
    """Whether the client was revoked (fl.enrollment)."""
    return bool(conn.execute(_REVOKED, {"cid": client_id}).scalar())


def sender_by_token_hash(conn, token_hash):
    """The client with this token hash, or None: its ``id``, ``federation_id``,
    ``invite_id`` and ``revoked_at`` with what checking its update needs, its federation's
    ``labels`` and ``dim``."""
    row = _one(conn, _SENDER, token_hash=token_hash)
    if row is not None:
        row["labels"] = json.loads(row["labels"])
    return row


def live_round(conn, federation_id):
    return _one(conn, _LIVE_ROUND, fid=federation_id)


def live_round_and_head(conn, federation_id):
    """The federation's live round with its ``head_version`` and the updates the round holds
    (``accepted``), all from one statement: one snapshot, so they always belong together."""
    return _one(conn, _LIVE_ROUND_AND_HEAD, fid=federation_id)


def locked_state(conn, federation_id):
    """``(federation, live round)`` read under the federation's row lock (inside a write
    transaction), the round with the number of updates it holds (``accepted``)."""
    if conn.dialect.name == "sqlite":
        row = _one(conn, _LOCKED_STATE, fid=federation_id)
        fed = {key[2:]: value for key, value in row.items() if key.startswith("f_")}
        live = {key[2:]: value for key, value in row.items() if key.startswith("r_")}
        live["accepted"] = row["accepted"]
        return _federation(fed), live
    fed = federation_by_id(conn, federation_id, lock=True)
    return fed, _one(conn, _LIVE_ROUND_AND_COUNT, fid=federation_id)


def round_by_id(conn, round_id):
    return _one(conn, _ROUND_BY_ID, rid=round_id)


def open_round(conn, federation_id, base_version, now, seconds):
    """The id of a new open round of the federation, ``seconds`` long."""
    return conn.execute(_OPEN_ROUND, {"federation_id": federation_id,
                                      "base_version": base_version, "opened_at": now,
                                      "deadline": now + seconds}).scalar()


def set_round(conn, round_id, status, **fields):
    """Set a round's status and any of closed_at, result_version, detail, deadline."""
    conn.execute(update(rounds).where(rounds.c.id == round_id).values(status=status, **fields))


def insert_update(conn, round_id, client_id, num_examples, norm, payload, now):
    """Store an update unless the client already sent one in that round or is revoked;
    return whether it was stored."""
    result = conn.execute(_INSERT_UPDATE[conn.dialect.name], {
        "round_id": round_id, "client_id": client_id, "num_examples": num_examples,
        "norm": norm, "payload": payload, "received_at": now})
    return result.first() is not None


def updates_of(conn, round_id):
    """The round's updates in arrival order (none of a revoked client): dicts of client_id,
    num_examples, payload."""
    return [{"client_id": row.client_id, "num_examples": row.num_examples,
             "payload": bytes(row.payload)}
            for row in conn.execute(_UPDATES_OF, {"rid": round_id})]


def count_updates(conn, round_id):
    return int(conn.execute(_COUNT_UPDATES, {"rid": round_id}).scalar())


def insert_refusal(conn, federation_id, named_round, client_id, reason, detail, now):
    """Count a refusal in round ``named_round`` if that is one of the federation's, else in
    its live round; return the id of the round that counted it."""
    return conn.execute(_INSERT_REFUSAL, {
        "fid": federation_id, "named": named_round, "client_id": client_id, "reason": reason,
        "detail": detail[:DETAIL_LIMIT], "at": now}).scalar()


def refusal_counts(conn, round_id):
    """{reason: how many refusals of that reason the round counted}."""
    return {row.reason: int(row.n) for row in conn.execute(_REFUSAL_COUNTS, {"rid": round_id})}
