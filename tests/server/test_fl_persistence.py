"""The real server over HTTP: acknowledged updates survive SIGKILL, several gunicorn
workers on one database close every round exactly once (SQLite and PostgreSQL), and a
PostgreSQL database is served once ``python -m fl db upgrade`` migrated it."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from fl import migrate
from tests.support.fl_client import HttpClient, Participant
from tinybert_core import codec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a free port: ``start()``, ``kill()``; ``http`` calls it like
    Flask's test client."""

    def __init__(self, cmd, env, log_path):
        self.port = _free_port()
        self.http = HttpClient("http://127.0.0.1:%d" % self.port)
        self.cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.env = dict(os.environ, HOST="127.0.0.1", PORT=str(self.port),
                        FEDERATION_MODE="plain", **env)
        self.log_path = log_path
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + open(self.log_path).read()[-3000:])
            try:
                if self.http.get("/api/federation").status_code == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start: " + open(self.log_path).read()[-3000:])

    def kill(self):
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.log.close()


def test_acknowledged_updates_survive_sigkill(tmp_path, servers):
    env = {"DATABASE_PATH": str(tmp_path / "fl.sqlite3"), "MIN_UPDATES": "3",
           "DIST_DIR": str(tmp_path / "dist")}
    server = Server([sys.executable, "-m", "fl"], env, tmp_path / "server.log")
    servers.append(server)
    server.start()
    clients = [Participant(server.http) for _ in range(7)]
    acks = [c.send_update(examples=5) for c in clients]
    assert [a.status_code for a in acks] == [202] * 7
    head_before = server.http.get("/api/head").data
    server.kill()   # right after the last acknowledgement

    server = Server([sys.executable, "-m", "fl"], env, tmp_path / "server.log")
    servers.append(server)
    server.start()
    http = server.http
    state = http.get("/api/federation").get_json()
    assert state["head_version"] == 2
    assert state["round"]["status"] == "collecting" and state["round"]["accepted"] == 1
    for round_id in (1, 2):
        report = http.get("/api/rounds/%d" % round_id).get_json()
        assert report["status"] == "aggregated" and report["accepted"] == 3
    assert http.get("/api/head").data == head_before
    for client in clients:
        client.http = http
    assert clients[6].send_update().status_code == 409   # its update is still there: replay
    assert clients[0].send_update().status_code == 202   # tokens survived too


@pytest.mark.parametrize("worker_args", [[], ["-c", "python:fl.gunicorn_conf"]],
                         ids=["sync", "gthread"])
def test_several_workers_close_each_round_exactly_once(tmp_path, database, servers,
                                                       worker_args):
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    if not os.path.exists(gunicorn):
        pytest.skip("gunicorn is not installed: pip install gunicorn")
    env = dict(database, MIN_UPDATES="4")
    cmd = [gunicorn] + worker_args + ["-w", "3", "-b", "127.0.0.1:{port}", "--timeout", "60",
                                      "fl.wsgi:app"]
    server = Server(cmd, env, tmp_path / "gunicorn.log")
    servers.append(server)
    server.start()
    http = server.http
    target = 5
    clients = [Participant(http) for _ in range(12)]
    statuses = []

    def work(client):
        while client.state()["head_version"] < target:
            answer = client.send_update(examples=5)
            statuses.append(answer.status_code)
            if answer.status_code != 202:
                assert answer.status_code == 409, answer.get_json()
                time.sleep(0.02)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    state = http.get("/api/federation").get_json()
    live = state["round"]["id"]
    reports = [http.get("/api/rounds/%d" % r).get_json() for r in range(1, live + 1)]
    closed = [r for r in reports if r["status"] == "aggregated"]
    assert [r["accepted"] for r in closed] == [4] * len(closed)
    assert [r["result_version"] for r in closed] == list(range(1, len(closed) + 1))
    assert [r["base_version"] for r in closed] == list(range(len(closed)))
    assert state["head_version"] == len(closed) >= target
    assert reports[-1]["status"] in ("open", "collecting") and reports[-1]["accepted"] < 4
    assert statuses.count(202) == sum(r["accepted"] for r in reports)
    assert codec.decode_head(http.get("/api/head").data).version == len(closed)


def test_a_postgresql_database_must_be_migrated_before_workers_start(tmp_path, postgres_url,
                                                                    servers):
    fl = [sys.executable, "-m", "fl"]
    env = dict(os.environ, DATABASE_URL=postgres_url)
    refused = subprocess.run(fl, env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1 and "python -m fl db upgrade" in refused.stderr
    upgraded = subprocess.run(fl + ["db", "upgrade"], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    assert upgraded.returncode == 0, upgraded.stderr
    current = subprocess.run(fl + ["db", "current"], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    assert "revision %s; newest %s" % ((migrate.head_revision(),) * 2) in current.stdout
    server = Server(fl, {"DATABASE_URL": postgres_url}, tmp_path / "server.log")
    servers.append(server)
    server.start()
    assert Participant(server.http).send_update().status_code == 202
