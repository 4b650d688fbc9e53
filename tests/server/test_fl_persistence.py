"""The real server over HTTP: acknowledged updates survive SIGKILL, and several gunicorn
workers on one database close every round exactly once (SQLite and PostgreSQL)."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from tinybert_core import codec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a free port: ``start()``, ``call(...)``, ``kill()``."""

    def __init__(self, cmd, env, log_path):
        self.port = _free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.env = dict(os.environ, HOST="127.0.0.1", PORT=str(self.port), **env)
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
                if self.call("GET", "/api/federation")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start: " + open(self.log_path).read()[-3000:])

    def call(self, method, path, body=None, token=None, content_type="application/json"):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method, path, body=None, token=None):
        status, raw = self.call(method, path, body, token)
        return status, json.loads(raw)

    def kill(self):
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.log.close()


@pytest.fixture()
def servers():
    """Collects the servers a test starts; whatever is still running is killed at the end."""
    started = []
    yield started
    for server in started:
        server.kill()


def _register(server):
    status, body = server.json("POST", "/api/register", {})
    assert status == 201, body
    return body


def _send(server, client, rng, examples=5):
    _, state = server.json("GET", "/api/federation")
    update = codec.Update(client["client_id"], state["round"]["id"], state["head_version"],
                          examples, 3, 384, rng.normal(scale=0.01, size=3 * 384).tolist(),
                          rng.normal(scale=0.01, size=3).tolist())
    return server.call("POST", "/api/update", codec.encode_update(update, 10.0),
                       client["token"], "application/octet-stream")


def test_acknowledged_updates_survive_sigkill(tmp_path, servers):
    env = {"DATABASE_PATH": str(tmp_path / "fl.sqlite3"), "MIN_UPDATES": "3",
           "DIST_DIR": str(tmp_path / "dist")}
    server = Server([sys.executable, "-m", "fl"], env, tmp_path / "server.log")
    servers.append(server)
    server.start()
    rng = np.random.default_rng(1)
    clients = [_register(server) for _ in range(7)]
    acks = [_send(server, c, rng) for c in clients]
    assert [a[0] for a in acks] == [202] * 7
    head_before = server.call("GET", "/api/head")[1]
    server.kill()   # right after the last acknowledgement

    server = Server([sys.executable, "-m", "fl"], env, tmp_path / "server.log")
    servers.append(server)
    server.start()
    _, state = server.json("GET", "/api/federation")
    assert state["head_version"] == 2
    assert state["round"]["status"] == "collecting" and state["round"]["accepted"] == 1
    for round_id in (1, 2):
        _, report = server.json("GET", "/api/rounds/%d" % round_id)
        assert report["status"] == "aggregated" and report["accepted"] == 3
    assert server.call("GET", "/api/head")[1] == head_before
    assert _send(server, clients[6], rng)[0] == 409   # its update is still there: replay
    assert _send(server, clients[0], rng)[0] == 202   # tokens survived too


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request, tmp_path):
    if request.param == "sqlite":
        return {"DATABASE_PATH": str(tmp_path / "fl.sqlite3")}
    return {"DATABASE_URL": request.getfixturevalue("postgres_url")}


@pytest.mark.parametrize("worker_args", [[], ["-c", "python:fl.gunicorn_conf"]],
                         ids=["sync", "gthread"])
def test_several_workers_close_each_round_exactly_once(tmp_path, database_env, servers,
                                                       worker_args):
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    if not os.path.exists(gunicorn):
        pytest.skip("gunicorn is not installed: pip install gunicorn")
    env = dict(database_env, MIN_UPDATES="4")
    cmd = [gunicorn] + worker_args + ["-w", "3", "-b", "127.0.0.1:{port}", "--timeout", "60",
                                      "fl.wsgi:app"]
    server = Server(cmd, env, tmp_path / "gunicorn.log")
    servers.append(server)
    server.start()
    target = 5
    clients = [_register(server) for _ in range(12)]
    statuses = []

    def work(client, seed):
        rng = np.random.default_rng(seed)
        while server.json("GET", "/api/federation")[1]["head_version"] < target:
            status, body = _send(server, client, rng)
            statuses.append(status)
            if status != 202:
                assert status == 409, body
                time.sleep(0.02)

    threads = [threading.Thread(target=work, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    _, state = server.json("GET", "/api/federation")
    live = state["round"]["id"]
    reports = [server.json("GET", "/api/rounds/%d" % r)[1] for r in range(1, live + 1)]
    closed = [r for r in reports if r["status"] == "aggregated"]
    assert [r["accepted"] for r in closed] == [4] * len(closed)
    assert [r["result_version"] for r in closed] == list(range(1, len(closed) + 1))
    assert [r["base_version"] for r in closed] == list(range(len(closed)))
    assert state["head_version"] == len(closed) >= target
    assert reports[-1]["status"] in ("open", "collecting") and reports[-1]["accepted"] < 4
    assert statuses.count(202) == sum(r["accepted"] for r in reports)
    assert codec.decode_head(server.call("GET", "/api/head")[1]).version == len(closed)
