"""Persistence of federations, clients, head versions, rounds, updates and refusals.

Plain SQL over ``fl.db`` (SQLite or PostgreSQL). Functions take an open Connection; those
that write expect the caller's transaction. Heads are stored as little-endian float32 bytes.
"""
import json

import numpy as np

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS federations (
        id {id}, name TEXT NOT NULL UNIQUE, labels TEXT NOT NULL, dim INTEGER NOT NULL,
        encoder TEXT NOT NULL, hidden_size INTEGER NOT NULL,
        head_version INTEGER NOT NULL DEFAULT 0, created_at {float} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS clients (
        id {id}, federation_id {bigint} NOT NULL REFERENCES federations(id),
        token_hash TEXT NOT NULL UNIQUE, created_at {float} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS heads (
        federation_id {bigint} NOT NULL REFERENCES federations(id), version INTEGER NOT NULL,
        weights {blob} NOT NULL, bias {blob} NOT NULL, round_id {bigint},
        created_at {float} NOT NULL, PRIMARY KEY (federation_id, version))""",
    """CREATE TABLE IF NOT EXISTS rounds (
        id {id}, federation_id {bigint} NOT NULL REFERENCES federations(id),
        base_version INTEGER NOT NULL, status TEXT NOT NULL, opened_at {float} NOT NULL,
        deadline {float} NOT NULL, closed_at {float}, result_version INTEGER, detail TEXT)""",
    # At most one live round per federation, whatever the number of server processes.
    """CREATE UNIQUE INDEX IF NOT EXISTS one_live_round ON rounds (federation_id)
        WHERE status IN ('open', 'collecting')""",
    """CREATE TABLE IF NOT EXISTS updates (
        id {id}, round_id {bigint} NOT NULL REFERENCES rounds(id),
        client_id {bigint} NOT NULL REFERENCES clients(id), num_examples INTEGER NOT NULL,
        norm {float} NOT NULL, payload {blob} NOT NULL, received_at {float} NOT NULL,
        UNIQUE (round_id, client_id))""",
    """CREATE TABLE IF NOT EXISTS refusals (
        id {id}, round_id {bigint} NOT NULL REFERENCES rounds(id), client_id {bigint},
        reason TEXT NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL,
        at {float} NOT NULL)""",
]

LIVE = ("open", "collecting")


def create_schema(db, conn):
    """Create the tables if missing (inside the caller's transaction)."""
    if db.dialect == "postgresql":
        # Several workers may start at once; DDL is serialised by one advisory lock.
        conn.execute("SELECT pg_advisory_xact_lock(742031)")
    for statement in SCHEMA:
        conn.execute(db.ddl(statement))


def _federation(row):
    if row is not None:
        row["labels"] = json.loads(row["labels"])
    return row


def federation_by_name(conn, name, lock=False):
    sql = "SELECT * FROM federations WHERE name = ?" + (" FOR UPDATE" if lock else "")
    return _federation(conn.one(sql, (name,)))


def federation_by_id(conn, federation_id, lock=False):
    sql = "SELECT * FROM federations WHERE id = ?" + (" FOR UPDATE" if lock else "")
    return _federation(conn.one(sql, (federation_id,)))


def insert_federation(conn, spec, now):
    """Insert a federation unless one of that name exists; return whether it was inserted."""
    cursor = conn.execute(
        "INSERT INTO federations (name, labels, dim, encoder, hidden_size, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        (spec["name"], json.dumps(list(spec["labels"])), int(spec["dim"]), spec["encoder"],
         int(spec["hidden_size"]), now))
    return cursor.rowcount == 1


def set_head_version(conn, federation_id, version):
    conn.execute("UPDATE federations SET head_version = ? WHERE id = ?", (version, federation_id))


def insert_head(conn, federation_id, version, weights, bias, round_id, now):
    conn.execute(
        "INSERT INTO heads (federation_id, version, weights, bias, round_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (federation_id, version, np.asarray(weights, "<f4").tobytes(),
         np.asarray(bias, "<f4").tobytes(), round_id, now))


def head(conn, federation_id, version):
    """(weights, bias) of one head version as float32 arrays, or None."""
    row = conn.one("SELECT weights, bias FROM heads WHERE federation_id = ? AND version = ?",
                   (federation_id, version))
    if row is None:
        return None
    return (np.frombuffer(bytes(row["weights"]), "<f4"), np.frombuffer(bytes(row["bias"]), "<f4"))


def insert_client(conn, federation_id, token_hash, now):
    return conn.scalar("INSERT INTO clients (federation_id, token_hash, created_at)"
                       " VALUES (?, ?, ?) RETURNING id", (federation_id, token_hash, now))


def sender_by_token_hash(conn, token_hash):
    """The client with this token hash, or None, with what checking its update needs in the
    same round trip: its federation's ``labels`` and ``dim`` and the deadline of the
    federation's live round (``live_deadline``)."""
    row = conn.one("SELECT c.*, f.labels, f.dim, r.deadline AS live_deadline FROM clients c"
                   " JOIN federations f ON f.id = c.federation_id"
                   " LEFT JOIN rounds r ON r.federation_id = c.federation_id"
                   " AND r.status IN ('open', 'collecting') WHERE c.token_hash = ?",
                   (token_hash,))
    if row is not None:
        row["labels"] = json.loads(row["labels"])
    return row


def live_round(conn, federation_id):
    return conn.one("SELECT * FROM rounds WHERE federation_id = ? AND status IN ('open',"
                    " 'collecting')", (federation_id,))


def live_round_and_head(conn, federation_id):
    """The federation's live round with its ``head_version`` and the updates the round holds
    (``accepted``), all from one statement: one snapshot, so they always belong together."""
    return conn.one("SELECT r.*, f.head_version,"
                    " (SELECT COUNT(*) FROM updates u WHERE u.round_id = r.id) AS accepted"
                    " FROM federations f JOIN rounds r ON r.federation_id = f.id"
                    " AND r.status IN ('open', 'collecting') WHERE f.id = ?", (federation_id,))


def round_by_id(conn, round_id):
    return conn.one("SELECT * FROM rounds WHERE id = ?", (round_id,))


def open_round(conn, federation_id, base_version, now, seconds):
    return conn.scalar("INSERT INTO rounds (federation_id, base_version, status, opened_at,"
                       " deadline) VALUES (?, ?, 'open', ?, ?) RETURNING id",
                       (federation_id, base_version, now, now + seconds))


def set_round(conn, round_id, status, **fields):
    """Set a round's status and any of closed_at, result_version, detail, deadline."""
    names = ["status"] + sorted(fields)
    values = [status] + [fields[name] for name in sorted(fields)]
    conn.execute("UPDATE rounds SET " + ", ".join(n + " = ?" for n in names) + " WHERE id = ?",
                 values + [round_id])


def insert_update(conn, round_id, client_id, num_examples, norm, payload, now):
    """Store an update unless the client already sent one in that round; return whether it
    was stored."""
    cursor = conn.execute(
        "INSERT INTO updates (round_id, client_id, num_examples, norm, payload, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (round_id, client_id) DO NOTHING",
        (round_id, client_id, num_examples, norm, payload, now))
    return cursor.rowcount == 1


def updates_of(conn, round_id):
    rows = conn.all("SELECT client_id, num_examples, payload FROM updates WHERE round_id = ?"
                    " ORDER BY id", (round_id,))
    for row in rows:
        row["payload"] = bytes(row["payload"])
    return rows


def count_updates(conn, round_id):
    return int(conn.scalar("SELECT COUNT(*) FROM updates WHERE round_id = ?", (round_id,)))


def insert_refusal(conn, round_id, client_id, reason, status, detail, now):
    conn.execute("INSERT INTO refusals (round_id, client_id, reason, status, detail, at)"
                 " VALUES (?, ?, ?, ?, ?, ?)",
                 (round_id, client_id, reason, status, detail[:500], now))


def refusal_counts(conn, round_id):
    rows = conn.all("SELECT reason, COUNT(*) AS n FROM refusals WHERE round_id = ?"
                    " GROUP BY reason ORDER BY reason", (round_id,))
    return {row["reason"]: int(row["n"]) for row in rows}
