"""The SQLAlchemy engine of the server: SQLite (default) or PostgreSQL, and its transactions.

``database_url(text)`` accepts ``postgresql://``, ``postgres://`` and
``postgresql+psycopg://`` URLs (psycopg 3), ``sqlite:///path`` and plain file paths.
``Database(url)`` owns the engine and its pool of connections: requests reuse them, a
PostgreSQL connection is pinged before it is handed out (``pool_pre_ping``: one that the
server closed while idle, e.g. by a restart, is replaced; a SQLite connection is an open
file that nothing closes from outside, so it is not pinged), none is used by a process other
than the one that opened it (a worker forked after the pool filled opens its own), and one
given back inside a transaction is rolled back first.

Transactions: the drivers run in autocommit mode and the engine's ``begin`` event emits the
``BEGIN`` itself (SQLAlchemy's recipe for pysqlite, whose own transaction handling would
start transactions late). So:

- ``Database.connect()``: a connection whose statements outside ``writing()`` run on their
  own, each on a fresh snapshot (no BEGIN, no COMMIT: one round trip for a read);
- ``writing(conn)``: one write transaction, committed when the block ends (nothing
  is acknowledged before), rolled back if it raises. On SQLite it starts with
  ``BEGIN IMMEDIATE`` (the write lock is taken at once, so two writers never both read and
  then fail to upgrade), after queueing for ``fl.write_lock.WriteLock``;
- any other use of the engine (``engine.begin()``, migrations) gets an ordinary transaction
  (``BEGIN IMMEDIATE`` on SQLite as well).

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged commit survives a power
cut) and foreign keys on. ``select(...).with_for_update()`` locks rows on PostgreSQL;
SQLite has one writer at a time anyway and ignores it.
"""
import os
import weakref
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import make_url

from fl.write_lock import WriteLock

# The option of connections whose statements outside ``writing()`` run on their own, and
# the mark ``writing()`` leaves on the connection while it runs.
_STANDALONE = "fl_standalone_statements"
_WRITING = "fl_writing"
# PostgreSQL: room for every thread of a gthread worker (16) and a burst beyond.
POOL_SIZE = 16
MAX_OVERFLOW = 32


def database_url(text):
    """``text`` (a URL or a SQLite file path) as a SQLAlchemy URL with the psycopg driver."""
    text = str(text)
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return make_url("postgresql+psycopg://" + text[len(prefix):])
    if "://" in text:
        return make_url(text)
    return make_url("sqlite:///" + str(Path(text).resolve()))


class Database:
    """The engine for ``url`` with the events above; no connection is opened yet.

    write_lock: whether SQLite's write transactions queue on ``fl.write_lock.WriteLock``;
    engine_options: more ``create_engine`` arguments."""

    def __init__(self, url, write_lock=True, **engine_options):
        self.url = database_url(url)
        self.dialect = self.url.get_backend_name()
        options = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW, "pool_use_lifo": True}
        if self.dialect == "sqlite":
            path = self.url.database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
            self.begin_statement = "BEGIN IMMEDIATE"
            self.lock_path = path if write_lock else None
        elif self.dialect == "postgresql":
            options["isolation_level"] = "AUTOCOMMIT"   # the begin event emits BEGIN
            options["pool_pre_ping"] = True
            self.begin_statement = "BEGIN"
            self.lock_path = None
        else:
            raise ValueError("unsupported database %r; allowed: sqlite, postgresql"
                             % self.dialect)
        self.engine = create_engine(self.url, **{**options, **engine_options})
        _listen(self)

    def connect(self):
        """A pooled connection whose statements run on their own outside ``writing()``;
        close it (or use ``with``) to give it back."""
        return self.engine.connect().execution_options(**{_STANDALONE: True})

    def dispose(self):
        """Close every pooled connection (those in use close when given back)."""
        self.engine.dispose()


@contextmanager
def writing(conn):
    """One write transaction on ``conn`` (from ``Database.connect()``): yields ``conn``;
    commits when the block ends, rolls back if it raises. Transactions do not nest."""
    if conn.in_transaction():
        conn.rollback()   # the no-op transaction SQLAlchemy began for earlier reads
    info = conn.info   # the pooled connection's: read by the begin event below
    lock = info.get("write_lock")
    if lock is not None:
        lock.acquire()
    try:
        info[_WRITING] = True
        try:
            with conn.begin():
                yield conn
        finally:
            info[_WRITING] = False
    finally:
        if lock is not None:
            lock.release()


def _listen(database):
    engine = database.engine
    sqlite = database.dialect == "sqlite"
    begin_statement = database.begin_statement
    lock_path = database.lock_path

    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection, record):
        record.info["pid"] = os.getpid()
        if sqlite:
            dbapi_connection.isolation_level = None   # the begin event emits BEGIN
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            if lock_path and lock_path != ":memory:":   # None: SQLite's own retries only
                record.info["write_lock"] = WriteLock(lock_path)

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy):
        # A forked child shares its parent's sockets and files: it must not use them.
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            lock = record.info.pop("write_lock", None)
            if lock is not None:
                lock.close()   # this process's copy of the file; the parent keeps its own
            raise exc.DisconnectionError("connection opened by process %s, not this one"
                                         % record.info.get("pid"))

    @event.listens_for(engine, "close")
    def _closed(dbapi_connection, record):
        lock = record.info.pop("write_lock", None)
        if lock is not None:
            lock.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if conn.info.get(_WRITING) or not conn.get_execution_options().get(_STANDALONE):
            conn.exec_driver_sql(begin_statement)

    weakref.finalize(database, engine.dispose)
