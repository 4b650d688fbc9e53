"""Peer-to-peer signalling on the real server (``python -m fl`` and gunicorn's gthread workers):
the WebSocket introduces registered clients to each other, relays only the messages WebRTC
needs, counts them, keeps no token in its logs, and peers held by different server
processes still meet."""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from simple_websocket import Client, ConnectionClosed

from tests.support.browser import REPO, Server, free_port

KEY = base64.b64encode(b"\x04" + bytes(range(64))).decode()


def register(url, federation="default"):
    request = urllib.request.Request(url + "/api/register", method="POST",
                                     data=json.dumps({"federation": federation}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def stats(url):
    with urllib.request.urlopen(url + "/api/peers/stats") as response:
        return json.loads(response.read())


class Peer:
    """A registered client on the signalling socket."""

    def __init__(self, url, federation="default", hello=True, socket_federation=None):
        self.identity = register(url, federation)
        self.id = self.identity["client_id"]
        self.ws = Client.connect(url.replace("http", "ws") + "/api/peers/socket?federation="
                                 + (socket_federation or federation))
        self.peers = {}
        if hello:
            self.send({"type": "hello", "token": self.identity["token"], "key": KEY})
            welcome = self.receive()
            assert welcome["type"] == "peers" and welcome["you"] == self.id
            self.apply(welcome)

    def send(self, message):
        self.ws.send(json.dumps(message))

    def receive(self, timeout=5):
        text = self.ws.receive(timeout=timeout)
        assert text is not None, "nothing arrived in %s s" % timeout
        return json.loads(text)

    def apply(self, message):
        for entry in message["add"]:
            self.peers[entry["id"]] = entry["key"]
        for gone in message["drop"]:
            self.peers.pop(gone, None)

    def drain_peers(self, count, timeout=5):
        """Take ``peers`` messages until ``count`` neighbours are known."""
        deadline = time.monotonic() + timeout
        while len(self.peers) < count:
            message = self.receive(max(0.1, deadline - time.monotonic()))
            if message["type"] == "peers":
                self.apply(message)
        return set(self.peers)

    def closed_with(self):
        """(code, reason) once the server closed the socket."""
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):
                self.ws.receive(timeout=5)
        return closed.value.reason, closed.value.message

    def close(self):
        self.ws.close()


@pytest.fixture(scope="module")
def server():
    srv = Server()
    yield srv
    srv.stop()


def test_peers_meet_and_only_signalling_is_relayed(server):
    a, b = Peer(server.url), Peer(server.url)
    assert set(b.peers) >= {a.id} and b.peers[a.id] == KEY
    assert a.drain_peers(1) >= {b.id}
    offer = {"type": "offer", "to": b.id, "sdp": "v=0 fake", "attempt": 1,
             "secret": "dropped"}
    a.send(offer)
    got = b.receive()
    assert got == {"type": "offer", "from": a.id, "sdp": "v=0 fake", "attempt": 1}
    b.send({"type": "candidate", "to": a.id, "attempt": 1,
            "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                          "sdpMid": "0", "sdpMLineIndex": 0}})
    assert a.receive()["candidate"]["sdpMid"] == "0"
    counts = stats(server.url)
    assert counts["received"]["offer"]["messages"] >= 1
    assert counts["sent"]["candidate"]["bytes"] > 0 and counts["online"] >= 2
    b.send({"type": "bye"})
    assert a.receive() == {"type": "bye", "from": b.id}
    a.close()


@pytest.mark.parametrize("message, code", [
    ({"type": "offer", "to": 1, "sdp": "x"}, 4400),            # no hello first
    ({"type": "hello", "token": "nope", "key": KEY}, 4401),    # unknown token
    ({"type": "hello", "token": "x", "key": "AAAA"}, 4400),    # not a public key
    ({"type": "model", "weights": [1, 2]}, 4400),              # not a signalling type
    ("x" * 9000, 4400),                                        # too large
])
def test_refused_messages_close_the_socket(server, message, code):
    peer = Peer(server.url, hello=False)
    peer.ws.send(message if isinstance(message, str) else json.dumps(message))
    reason = peer.closed_with()
    assert reason[0] in (code, 1009), reason   # 1009: simple-websocket's own size limit


def test_a_token_of_another_federation_or_an_unknown_federation(tmp_path):
    two = [{"name": name, "labels": ["a", "b"], "dim": 384, "hidden_size": 384,
            "encoder": "sentence-transformers/all-MiniLM-L6-v2"} for name in ("one", "two")]
    srv = Server(env={"FEDERATIONS": json.dumps(two)})
    try:
        for socket_federation, code in (("nowhere", 4404), ("two", 4403)):
            peer = Peer(srv.url, "one", hello=False, socket_federation=socket_federation)
            try:   # an unknown federation is refused before any message
                peer.send({"type": "hello", "token": peer.identity["token"], "key": KEY})
            except ConnectionClosed as closed:
                assert closed.reason == code
                continue
            assert peer.closed_with()[0] == code
    finally:
        srv.stop()


def test_tokens_never_reach_the_logs(tmp_path):
    srv = Server(env={"LOG_LEVEL": "DEBUG"})
    try:
        a = Peer(srv.url)
        bad = Peer(srv.url, hello=False)
        bad.send({"type": "hello", "token": "wrong-token-value", "key": KEY})
        bad.closed_with()
        a.close()
        time.sleep(0.3)
        log = srv.log_text()   # the server's log file goes with srv.stop()
    finally:
        srv.stop()
    assert "joined federation default" in log
    assert a.identity["token"] not in log and "wrong-token-value" not in log


def _gunicorn(tmp_path, workers):
    port = free_port()
    env = dict(os.environ, DATABASE_PATH=str(tmp_path / "fl.sqlite3"), DIST_DIR=str(tmp_path))
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    process = subprocess.Popen([gunicorn, "-c", "python:fl.gunicorn_conf", "-w", str(workers),
                                "-b", "127.0.0.1:%d" % port, "fl.wsgi:app"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/api/health", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def test_peers_on_different_processes_meet(tmp_path):
    """Two servers on one database are two processes, like gunicorn's workers: members of
    one relay through the other's hub address."""
    first = Server(env={"DATABASE_PATH": str(tmp_path / "shared.sqlite3")})
    second = Server(env={"DATABASE_PATH": str(tmp_path / "shared.sqlite3")})
    try:
        a, b = Peer(first.url), Peer(second.url)
        assert a.id in b.peers and a.drain_peers(1) == {b.id}
        a.send({"type": "offer", "to": b.id, "sdp": "v=0 across", "attempt": 0})
        assert b.receive()["sdp"] == "v=0 across"
        b.send({"type": "answer", "to": a.id, "sdp": "v=0 back", "attempt": 0})
        assert a.receive()["from"] == b.id
        b.close()
        assert a.receive() == {"type": "bye", "from": b.id}
        a.close()
    finally:
        first.stop()
        second.stop()


def test_a_gone_process_takes_its_members_along(tmp_path):
    first = Server(env={"DATABASE_PATH": str(tmp_path / "shared.sqlite3")})
    second = Server(env={"DATABASE_PATH": str(tmp_path / "shared.sqlite3")})
    try:
        a = Peer(first.url)
        Peer(second.url)
        second.process.kill()
        second.process.wait()
        b = Peer(first.url)
        assert set(b.peers) == {a.id}   # not the members of the killed process
    finally:
        first.stop()
        second.stop()


def test_under_gunicorn_gthread_workers_everyone_meets(tmp_path):
    process, url = _gunicorn(tmp_path, 2)
    try:
        peers = []
        for _ in range(6):
            peers.append(Peer(url))
        ids = {p.id for p in peers}
        for p in peers:   # full mesh: every peer learns every other, whichever worker
            assert p.drain_peers(5) == ids - {p.id}
        last = peers[-1]
        for p in peers[:-1]:
            p.send({"type": "offer", "to": last.id, "sdp": "from %d" % p.id})
        got = {last.receive()["from"] for _ in peers[:-1]}
        assert got == ids - {last.id}
        for p in peers:
            p.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_beyond_a_full_mesh_newcomers_get_four_neighbours_and_can_swap_one(server):
    fed = "default"
    peers = [Peer(server.url, fed) for _ in range(9)]
    newest = peers[-1]
    assert len(newest.peers) == 4 and len(peers[7].peers) == 7
    drop = next(iter(newest.peers))
    newest.send({"type": "peers", "have": list(newest.peers), "drop": drop})
    swap = newest.receive()
    assert swap["type"] == "peers" and swap["drop"] == [drop] and len(swap["add"]) == 1
    assert swap["add"][0]["id"] not in newest.peers
    for p in peers:
        p.close()
