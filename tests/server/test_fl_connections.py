"""Database connections of the FL server: requests reuse them (SQLite and PostgreSQL), a
broken or dead one is replaced rather than handed out again, a fork never inherits one, and
SQLite's writers queue on one lock."""
import threading
import time

import numpy as np
import pytest

from fl import create_app
from fl.db import Database
from fl.pool import ConnectionPool
from tinybert_core import codec


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return {"DATABASE_PATH": str(tmp_path / "fl.sqlite3")}
    return {"DATABASE_URL": request.getfixturevalue("postgres_url")}


def _app(database, **config):
    return create_app({"TESTING": True, "MIN_UPDATES": 3, **database, **config})


def _send(http, rng):
    client = http.post("/api/register", json={}).get_json()
    state = http.get("/api/federation").get_json()
    update = codec.Update(client["client_id"], state["round"]["id"], state["head_version"], 4,
                          3, 384, rng.normal(scale=0.01, size=1152).tolist(), [0.0] * 3)
    return http.post("/api/update", data=codec.encode_update(update, 10.0),
                     content_type="application/octet-stream",
                     headers={"Authorization": "Bearer " + client["token"]})


def test_requests_reuse_one_connection(database):
    app = _app(database)
    http = app.test_client()
    rng = np.random.default_rng(0)
    for _ in range(7):   # 28 requests, two rounds closed
        assert _send(http, rng).status_code == 202
    pool = app.extensions["fl"].pool
    assert pool.opened == 1 and pool.idle_count() == 1
    assert http.get("/api/federation").get_json()["head_version"] == 2


def test_a_connection_left_in_a_transaction_is_not_reused(database):
    pool = ConnectionPool(Database(database.get("DATABASE_URL")
                                   or database["DATABASE_PATH"]))
    conn = pool.acquire()
    conn.raw.execute("BEGIN")
    pool.release(conn)
    assert pool.idle_count() == 0
    fresh = pool.acquire()
    assert fresh is not conn and pool.opened == 2
    pool.release(fresh)
    assert pool.idle_count() == 1


def _kill_other_sessions(url):
    import psycopg
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_a_connection_the_server_closed_while_idle_is_replaced(postgres_url):
    app = _app({"DATABASE_URL": postgres_url})
    http = app.test_client()
    pool = app.extensions["fl"].pool
    pool.check_after = 0.0   # every idle connection is checked before reuse
    assert http.get("/api/federation").status_code == 200
    _kill_other_sessions(postgres_url)   # as a PostgreSQL restart would
    assert http.get("/api/federation").status_code == 200
    assert pool.opened == 2 and pool.idle_count() == 1


def test_a_connection_that_broke_during_a_request_is_dropped(postgres_url):
    import psycopg
    app = _app({"DATABASE_URL": postgres_url})
    http = app.test_client()
    pool = app.extensions["fl"].pool
    pool.check_after = 600.0   # reused at once: not checked, so the request fails
    assert http.get("/api/federation").status_code == 200
    _kill_other_sessions(postgres_url)
    with pytest.raises(psycopg.OperationalError):
        http.get("/api/federation")
    assert pool.idle_count() == 0   # the broken connection was closed, not kept
    assert http.get("/api/federation").status_code == 200
    assert pool.opened == 2


def test_a_forked_process_opens_its_own_connections(tmp_path, monkeypatch):
    import fl.pool
    pool = ConnectionPool(Database(tmp_path / "fl.sqlite3"))
    conn = pool.acquire()
    pool.release(conn)
    monkeypatch.setattr(fl.pool.os, "getpid", lambda: -1)   # as in a child after fork
    assert pool.acquire() is not conn and pool.opened == 2


def test_pool_keeps_at_most_keep_idle_connections(tmp_path):
    pool = ConnectionPool(Database(tmp_path / "fl.sqlite3"), keep=2)
    taken = [pool.acquire() for _ in range(4)]
    for conn in taken:
        pool.release(conn)
    assert pool.opened == 4 and pool.idle_count() == 2


def test_sqlite_writers_queue_on_the_write_lock(tmp_path):
    db = Database(tmp_path / "fl.sqlite3")
    first, second = db.connect(), db.connect()
    first.execute("CREATE TABLE t (x INTEGER)")
    order = []

    def later():
        with second.transaction():
            order.append("second")
            second.execute("INSERT INTO t VALUES (2)")

    with first.transaction():
        waiter = threading.Thread(target=later)
        waiter.start()
        time.sleep(0.2)
        order.append("first")
        first.execute("INSERT INTO t VALUES (1)")
    waiter.join(timeout=10)
    assert order == ["first", "second"]
    assert [r["x"] for r in first.all("SELECT x FROM t ORDER BY rowid")] == [1, 2]
    assert (tmp_path / "fl.sqlite3-writer").exists()
    first.close()
    second.close()
