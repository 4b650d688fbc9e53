"""The database schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

Federations, their registered clients, every head version, rounds, the updates a round
accepted and the refusals it counted; and which clients are online for peer-to-peer
federation (``peers``: membership and public keys only, never what peers send each
other). Ids are 64-bit identities on PostgreSQL and ``INTEGER PRIMARY KEY AUTOINCREMENT``
on SQLite (ids are never reused, even after a rollback); times are seconds since the epoch
as doubles; heads and updates are bytes.

Constraint names follow PostgreSQL's own defaults (``<table>_pkey``, ``<table>_<cols>_key``,
``<table>_<col>_fkey``), so that a database created before migrations existed, whose
constraints PostgreSQL named, matches this schema exactly. ``fl/migrations`` creates and
changes the tables; this module is what the code and the migrations' checks compare with.
"""
from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.dialects import sqlite

NAMING = {"pk": "%(table_name)s_pkey", "uq": "%(table_name)s_%(column_0_N_name)s_key",
          "fk": "%(table_name)s_%(column_0_name)s_fkey"}

metadata = MetaData(naming_convention=NAMING)

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
BIGINT = BigInteger().with_variant(Integer(), "sqlite")
DOUBLE = Double().with_variant(sqlite.REAL(), "sqlite")

# The statuses of a round that still takes updates; at most one per federation.
LIVE = ("open", "collecting")
# ``status IN ('open', 'collecting')`` written into the statements' SQL: a list of bound
# values would be expanded again at every execution.
LIVE_SQL = [literal_column("'%s'" % status) for status in LIVE]


def _id():
    return Column("id", BIGINT, Identity(), primary_key=True)


federations = Table(
    "federations", metadata, _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("labels", Text, nullable=False),   # JSON list of label names
    Column("dim", Integer, nullable=False),
    Column("encoder", Text, nullable=False),
    Column("hidden_size", Integer, nullable=False),
    Column("head_version", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DOUBLE, nullable=False),
    # secure: rounds by secure aggregation (fl.secure_rounds); plain: updates in the clear,
    # for the robust aggregators (fl.rounds).
    Column("mode", Text, nullable=False, server_default=text("'plain'")),
    # Client-level differential privacy (fl.client_privacy): JSON settings, NULL for none.
    Column("privacy", Text),
    # open: anyone may register; invite: registering needs an invite code (fl.enrollment).
    Column("enrollment", Text, nullable=False, server_default=text("'open'")),
    sqlite_autoincrement=True)

# Invite codes of invite-only federations (fl.enrollment), kept as their sha256.
invites = Table(
    "invites", metadata, _id(),
    Column("federation_id", BIGINT, ForeignKey("federations.id"), nullable=False),
    Column("code_hash", Text, nullable=False, unique=True),
    Column("max_uses", Integer),   # None: any number of registrations
    Column("uses", Integer, nullable=False, server_default=text("0")),
    Column("expires_at", DOUBLE),   # None: never
    Column("revoked_at", DOUBLE),
    Column("note", Text),
    Column("created_at", DOUBLE, nullable=False),
    sqlite_autoincrement=True)

clients = Table(
    "clients", metadata, _id(),
    Column("federation_id", BIGINT, ForeignKey("federations.id"), nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),   # sha256 of the bearer token
    Column("created_at", DOUBLE, nullable=False),
    # The invite the client registered with (None: an open federation's client).
    Column("invite_id", BIGINT, ForeignKey("invites.id")),
    Column("revoked_at", DOUBLE),   # set: the token is refused, its live update discarded
    sqlite_autoincrement=True)

heads = Table(
    "heads", metadata,
    Column("federation_id", BIGINT, ForeignKey("federations.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("weights", LargeBinary, nullable=False),   # little-endian float32, row-major
    Column("bias", LargeBinary, nullable=False),
    Column("round_id", BIGINT),   # the round that produced it (None: the zero head)
    Column("created_at", DOUBLE, nullable=False))

rounds = Table(
    "rounds", metadata, _id(),
    Column("federation_id", BIGINT, ForeignKey("federations.id"), nullable=False),
    Column("base_version", Integer, nullable=False),
    Column("status", Text, nullable=False),   # open, collecting, aggregated, failed
    Column("opened_at", DOUBLE, nullable=False),
    Column("deadline", DOUBLE, nullable=False),
    Column("closed_at", DOUBLE),
    Column("result_version", Integer),
    Column("detail", Text),
    # Secure rounds only (kind 'secure'): the protocol's phase (advertise, share, mask,
    # reveal) and its deadline, the cohort's size, the public seed of its graph, the
    # fixed-point scale, and what is left of it once its data is deleted: how many shared,
    # sent a masked input and revealed.
    Column("kind", Text, nullable=False, server_default=text("'plain'")),
    Column("phase", Text),
    Column("phase_deadline", DOUBLE),
    Column("cohort", Integer),
    Column("graph_seed", BIGINT),
    Column("scale", DOUBLE),
    Column("shared", Integer),
    Column("survivors", Integer),
    Column("revealed", Integer),
    sqlite_autoincrement=True)

# At most one live round per federation, whatever the number of server processes.
_live = rounds.c.status.in_(LIVE_SQL)
Index("one_live_round", rounds.c.federation_id, unique=True,
      sqlite_where=_live, postgresql_where=_live)

updates = Table(
    "updates", metadata, _id(),
    Column("round_id", BIGINT, ForeignKey("rounds.id"), nullable=False),
    Column("client_id", BIGINT, ForeignKey("clients.id"), nullable=False),
    Column("num_examples", Integer, nullable=False),
    Column("norm", DOUBLE, nullable=False),
    Column("payload", LargeBinary, nullable=False),   # the update as the client sent it
    Column("received_at", DOUBLE, nullable=False),
    UniqueConstraint("round_id", "client_id"),
    sqlite_autoincrement=True)

refusals = Table(
    "refusals", metadata, _id(),
    Column("round_id", BIGINT, ForeignKey("rounds.id"), nullable=False),
    Column("client_id", BIGINT),   # None: the sender had no valid token
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", DOUBLE, nullable=False),
    sqlite_autoincrement=True)


# Secure aggregation: what a round holds until it is aggregated or aborted, then deleted.
secure_members = Table(
    "secure_members", metadata,
    Column("round_id", BIGINT, ForeignKey("rounds.id"), primary_key=True),
    Column("client_id", BIGINT, ForeignKey("clients.id"), primary_key=True),
    Column("encryption_key", LargeBinary, nullable=False),   # P-256 public points, 65 bytes
    Column("mask_key", LargeBinary, nullable=False),
    Column("joined_at", DOUBLE, nullable=False),
    Column("shared_at", DOUBLE),
    Column("masked_at", DOUBLE),
    Column("revealed_at", DOUBLE))

secure_shares = Table(   # sealed (AES-GCM) Shamir shares, relayed sender -> receiver
    "secure_shares", metadata,
    Column("round_id", BIGINT, ForeignKey("rounds.id"), primary_key=True),
    Column("sender", BIGINT, primary_key=True),
    Column("receiver", BIGINT, primary_key=True),
    Column("sealed", LargeBinary, nullable=False))

secure_inputs = Table(   # masked inputs: words mod 2^32, little-endian
    "secure_inputs", metadata,
    Column("round_id", BIGINT, ForeignKey("rounds.id"), primary_key=True),
    Column("client_id", BIGINT, primary_key=True),
    Column("words", LargeBinary, nullable=False))

secure_reveals = Table(   # a survivor's share of a neighbour's seed (survived) or key (dropped)
    "secure_reveals", metadata,
    Column("round_id", BIGINT, ForeignKey("rounds.id"), primary_key=True),
    Column("revealer", BIGINT, primary_key=True),
    Column("owner", BIGINT, primary_key=True),
    Column("kind", Text, nullable=False),   # seed or key
    Column("share", LargeBinary, nullable=False))


# The privacy ledger: one row per round published with client-level DP noise; epsilon is
# what dp-accounting makes of these rows (fl.client_privacy). Kept for the federation's life.
privacy_ledger = Table(
    "privacy_ledger", metadata,
    Column("federation_id", BIGINT, ForeignKey("federations.id"), primary_key=True),
    Column("round_id", BIGINT, ForeignKey("rounds.id"), primary_key=True),
    Column("mechanism", Text, nullable=False),   # "gaussian": one release, every member
    Column("noise_multiplier", DOUBLE, nullable=False),
    Column("clip", DOUBLE, nullable=False),
    Column("members", Integer, nullable=False),
    Column("published_at", DOUBLE, nullable=False))

# Clients connected to the peer-to-peer signalling (``fl.signalling``): one row while a
# client's WebSocket is open, with the ECDSA P-256 public key it registered at join (65-byte
# uncompressed point) and the address of the server process that holds its socket (``hub``),
# so that processes relay to each other; ``session`` tells a reconnection from the socket it
# replaced.
peers = Table(
    "peers", metadata,
    Column("client_id", BIGINT, ForeignKey("clients.id"), primary_key=True),
    Column("federation_id", BIGINT, ForeignKey("federations.id"), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("hub", Text, nullable=False),
    Column("session", Text, nullable=False),
    Column("joined_at", DOUBLE, nullable=False))
Index("peers_by_federation", peers.c.federation_id)

# Rate limits (fl.rate_limits): requests counted per key (a token's or an address's) in
# fixed windows; rows of past windows are deleted.
rate_counters = Table(
    "rate_counters", metadata,
    Column("key", Text, primary_key=True),
    Column("window", BIGINT, primary_key=True),   # window start // window length
    Column("hits", Integer, nullable=False))
