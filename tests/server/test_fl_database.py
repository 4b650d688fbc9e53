"""The server's engine (fl.database): requests reuse pooled connections (SQLite and
PostgreSQL), a dead or broken connection is replaced rather than handed out again, a fork
never inherits one, reads hold no transaction, a write transaction commits all or nothing,
SQLite's writers queue on one lock, and the clients looked up by token are kept a while."""
import threading
import time

import pytest
from sqlalchemy import event, exc, func, select, text

from fl import create_app
from fl.database import Database, database_url, writing
from fl.senders import SenderCache
from fl.tables import clients
from tests.support.fl_client import Participant
from tests.support.postgres import migrated


def _app(database, **config):
    return create_app({"TESTING": True, "MIN_UPDATES": 3, "FEDERATION_MODE": "plain",
                       **database, **config})


def _url(database):
    return database.get("DATABASE_URL") or database["DATABASE_PATH"]


def _count_connects(engine):
    opened = []
    event.listen(engine, "connect", lambda dbapi_connection, record: opened.append(1))
    return opened


def test_urls_are_normalised_to_psycopg_and_sqlite_files(tmp_path):
    for text_url in ("postgresql://u@h:5/db", "postgres://u@h:5/db",
                     "postgresql+psycopg://u@h:5/db"):
        url = database_url(text_url)
        assert (url.drivername, url.host, url.port, url.database) == (
            "postgresql+psycopg", "h", 5, "db")
    path = tmp_path / "a" / "fl.sqlite3"
    assert database_url(path).database == str(path)
    assert database_url("sqlite:///" + str(path)).database == str(path)
    with pytest.raises(ValueError, match="allowed: sqlite, postgresql"):
        Database("mysql://u@h/db")


def test_requests_reuse_pooled_connections(database):
    app = _app(database)
    http = app.test_client()
    engine = app.extensions["fl"].database.engine
    # The first update opens the two connections a request may hold at once: its own (the
    # reads) and the one its write transaction takes.
    assert Participant(http).send_update().status_code == 202
    opened = _count_connects(engine)
    for _ in range(7):   # 28 requests, two rounds closed
        assert Participant(http).send_update().status_code == 202
    assert opened == [] and engine.pool.checkedout() == 0
    assert http.get("/api/federation").get_json()["head_version"] == 2


def _in_transaction(conn):
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        return raw.in_transaction
    from psycopg.pq import TransactionStatus
    return raw.info.transaction_status != TransactionStatus.IDLE


def test_reads_hold_no_transaction_and_writes_commit_all_or_nothing(database):
    app = _app(database)
    Participant(app.test_client())   # schema, federation and one client
    db = app.extensions["fl"].database
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(clients)).scalar() == 1
        assert not _in_transaction(conn)   # no snapshot held between a request's reads
        with pytest.raises(RuntimeError), writing(conn):
            conn.execute(clients.insert().values(federation_id=1, token_hash="t",
                                                 created_at=0.0))
            assert _in_transaction(conn)
            raise RuntimeError("the request failed")
        assert not _in_transaction(conn)
        with writing(conn):
            conn.execute(clients.insert().values(federation_id=1, token_hash="u",
                                                 created_at=0.0))
    with db.connect() as other:
        hashes = other.execute(select(clients.c.token_hash)).scalars().all()
    assert "t" not in hashes and "u" in hashes


def test_a_connection_given_back_inside_a_transaction_is_rolled_back(database):
    db = Database(_url(database))
    with db.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    conn = db.connect()
    conn.execute(text("BEGIN"))   # as a request that died half-way through its writes
    conn.execute(text("INSERT INTO t VALUES (1)"))
    conn.close()
    with db.connect() as again:
        assert not _in_transaction(again)
        assert again.execute(text("SELECT COUNT(*) FROM t")).scalar() == 0
    db.dispose()


def _kill_other_sessions(url):
    import psycopg
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_a_connection_the_server_closed_while_idle_is_replaced(postgres_url):
    app = _app({"DATABASE_URL": migrated(postgres_url)})
    http = app.test_client()
    assert http.get("/api/federation").status_code == 200
    opened = _count_connects(app.extensions["fl"].database.engine)
    _kill_other_sessions(postgres_url)   # as a PostgreSQL restart would
    assert http.get("/api/federation").status_code == 200   # pinged, found dead, replaced
    assert opened == [1]


def test_a_connection_that_broke_during_a_request_is_not_reused(postgres_url):
    db = Database(postgres_url)
    opened = _count_connects(db.engine)
    conn = db.connect()
    conn.execute(text("SELECT 1"))
    _kill_other_sessions(postgres_url)
    with pytest.raises(exc.OperationalError) as broken:
        conn.execute(text("SELECT 1"))
    assert broken.value.connection_invalidated
    conn.close()
    with db.connect() as fresh:
        assert fresh.execute(text("SELECT 1")).scalar() == 1
    assert len(opened) == 2 and db.engine.pool.checkedin() == 1
    db.dispose()


def test_a_forked_process_opens_its_own_connections(tmp_path, monkeypatch):
    import fl.database
    db = Database(tmp_path / "fl.sqlite3")
    opened = _count_connects(db.engine)
    with db.connect() as conn:
        conn.execute(text("SELECT 1"))
    monkeypatch.setattr(fl.database.os, "getpid", lambda: -1)   # as in a child after fork
    with db.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert len(opened) == 2


def test_the_pool_keeps_at_most_pool_size_idle_connections(tmp_path):
    db = Database(tmp_path / "fl.sqlite3", pool_size=2)
    opened = _count_connects(db.engine)
    taken = [db.connect() for _ in range(4)]
    for conn in taken:
        conn.execute(text("SELECT 1"))
    for conn in taken:
        conn.close()
    assert len(opened) == 4 and db.engine.pool.checkedin() == 2


def test_sqlite_writers_queue_on_the_write_lock(tmp_path):
    db = Database(tmp_path / "fl.sqlite3")
    first, second = db.connect(), db.connect()
    first.execute(text("CREATE TABLE t (x INTEGER)"))
    order = []

    def later():
        with writing(second):
            order.append("second")
            second.execute(text("INSERT INTO t VALUES (2)"))

    with writing(first):
        waiter = threading.Thread(target=later)
        waiter.start()
        time.sleep(0.2)
        order.append("first")
        first.execute(text("INSERT INTO t VALUES (1)"))
    waiter.join(timeout=10)
    assert order == ["first", "second"]
    assert first.execute(text("SELECT x FROM t ORDER BY rowid")).scalars().all() == [1, 2]
    assert (tmp_path / "fl.sqlite3-writer").exists()
    first.close()
    second.close()
    db.dispose()


def test_the_sender_cache_keeps_clients_for_a_while():
    now = [0.0]
    cache = SenderCache(size=2, ttl=10.0, clock=lambda: now[0])
    cache.put("a", {"id": 1})
    cache.put("b", {"id": 2})
    assert cache.get("a") == {"id": 1}
    cache.put("c", {"id": 3})   # "b" was used least recently
    assert cache.get("b") is None and cache.get("c") == {"id": 3}
    now[0] = 10.0
    assert cache.get("a") is None and (cache.hits, cache.misses) == (2, 2)
