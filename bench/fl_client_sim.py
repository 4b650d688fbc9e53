"""Simulated federation clients under CPython, and the real server they talk to.

``SimClient`` follows the page's ``src_py/services/federation_client.py`` step for step, with
the same core modules (``tinybert_core.train``, ``tinybert_core.delta``, ``tinybert_core.codec``):
register, ``GET /api/federation``, ``GET /api/head``, the local update
(``tinybert_core.fl_local``: class statistics while the global head is version 0, else the
head trained locally), delta, clip to the announced bound, encode, ``POST /api/update`` with
the bearer token; network failures and 5xx are retried three times, a 409
stale_round/stale_base makes it train again from the new head once, an unknown token makes it
register again once.
Only the transport differs: ``http.client`` instead of ``fetch``.

``ServerProcess`` starts ``python -m fl`` or gunicorn on a free loopback port with a given
environment (a PostgreSQL database migrated first by ``python -m fl db upgrade``) and stops
it (its own process group only).
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

from bench import REPO
from tinybert_core.codec import Update, decode_head, encode_update
from tinybert_core.delta import clip_delta, delta_norm, delta_of
from tinybert_core.fl_local import local_update

HOST = "127.0.0.1"
RETRIES = 3
TIMEOUT = 60


class ServerRefusal(Exception):
    """The server answered with an error status: ``status``, ``code``, ``detail``."""

    def __init__(self, status, code, detail):
        super().__init__("%d %s: %s" % (status, code, detail))
        self.status = status
        self.code = code
        self.detail = detail


class CannotTrain(Exception):
    """The page would refuse to train on these examples (e.g. only one label): nothing sent."""


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Http:
    """One keep-alive connection to the server; ``call`` retries like the page's _request."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def _once(self, method, path, body, headers):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            answer = self.conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if answer.will_close:
            self.close()
        return answer.status, data

    def call(self, method, path, body=None, headers=None):
        """``(status, body bytes)`` of a 2xx answer. Raises ServerRefusal or ConnectionError."""
        last = ""
        for attempt in range(RETRIES):
            try:
                status, data = self._once(method, path, body, headers or {})
            except (OSError, http.client.HTTPException) as exc:
                last = repr(exc)
                time.sleep(0.3 * (attempt + 1))
                continue
            if 200 <= status < 300:
                return status, data
            code, detail = "http_%d" % status, ""
            try:
                parsed = json.loads(data)
                code, detail = parsed["error"], parsed["detail"]
            except (ValueError, KeyError, TypeError):
                pass
            if status >= 500 and attempt < RETRIES - 1:
                time.sleep(0.3 * (attempt + 1))
                continue
            raise ServerRefusal(status, code, detail)
        raise ConnectionError("cannot reach the federation server: " + last)

    def json(self, method, path, body=None, headers=None):
        return json.loads(self.call(method, path, body, headers)[1])

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def train_local(labels, dim, xs, ys, head, options):
    """The page's ``Classifier.train_local``: ``tinybert_core.fl_local.local_update`` from the
    global ``head`` (a codec Head). Returns ``{weights, bias, examples}``. Raises CannotTrain."""
    try:
        return local_update(labels, dim, xs, ys, head.weights, head.bias, head.version, options)
    except ValueError as error:
        raise CannotTrain(str(error)) from None


def clipped_delta(local, head, bound):
    """``(clipped delta, norm before clipping)`` of a local head against the global one."""
    delta = delta_of(local["weights"], local["bias"], head.weights, head.bias)
    return clip_delta(delta, bound), delta_norm(delta)


class SimClient:
    """One simulated browser in ``federation`` on the server at ``port``.

    ``identity``: a saved ``{client_id, token}`` (the page keeps it in IndexedDB), or None
    to register on first use.
    """

    def __init__(self, port, federation, identity=None):
        self.http = Http(port)
        self.federation = federation
        self.identity = identity

    def _query(self):
        return "?federation=" + self.federation

    def register(self, fresh=False):
        if self.identity is None or fresh:
            body = json.dumps({"federation": self.federation}).encode("utf-8")
            self.identity = self.http.json("POST", "/api/register", body,
                                           {"Content-Type": "application/json"})
        return self.identity

    def state(self):
        return self.http.json("GET", "/api/federation" + self._query())

    def global_head(self):
        return decode_head(self.http.call("GET", "/api/head" + self._query())[1])

    def send_delta(self, labels, xs, ys, options):
        """Train from the global head and send the clipped, quantised delta.

        Returns ``{bytes, norm, clipped, round, examples, base_version, accepted_in_round,
        round_closed, payload, delta}`` (the last two for the benchmark's own checks).
        Raises CannotTrain, ServerRefusal or ConnectionError.
        """
        identity = self.register()
        for attempt in range(2):
            state = self.state()
            if list(state["labels"]) != list(labels):
                raise CannotTrain("labels differ from the federation's")
            head = self.global_head()
            local = train_local(labels, state["dim"], xs, ys, head, options)
            clipped, norm = clipped_delta(local, head, state["clip_bound"])
            data = encode_update(Update(identity["client_id"], state["round"]["id"],
                                        head.version, local["examples"], head.rows, head.cols,
                                        clipped["weights"], clipped["bias"]),
                                 state["clip_bound"])
            try:
                answer = self.http.json("POST", "/api/update" + self._query(), data, {
                    "Content-Type": "application/octet-stream",
                    "Authorization": "Bearer " + identity["token"]})
            except ServerRefusal as refusal:
                if refusal.code == "unauthorized" and attempt == 0:
                    identity = self.register(True)
                    continue
                if refusal.code in ("stale_round", "stale_base") and attempt == 0:
                    continue
                raise
            return {"bytes": len(data), "norm": norm, "clipped": norm > state["clip_bound"],
                    "round": state["round"]["id"], "examples": local["examples"],
                    "base_version": head.version,
                    "accepted_in_round": answer["accepted_in_round"],
                    "round_closed": answer["round_closed"], "payload": data,
                    "delta": clipped}
        raise ConnectionError("the federation kept changing while sending")

    def apply_aggregate(self):
        """The global head (a codec Head), as the page's Apply Aggregate fetches it."""
        return self.global_head()

    def close(self):
        self.http.close()


class ServerProcess:
    """The FL server as a subprocess: ``start()`` waits until it answers, ``stop()`` ends it.

    cmd: None for ``python -m fl``, or ``("gunicorn", workers, extra args...)``.
    env: the FL settings (MIN_UPDATES, DATABASE_PATH or DATABASE_URL, FEDERATIONS ...).
    """

    def __init__(self, env, log_path, cmd=None):
        self.port = free_port()
        self.env = dict(os.environ, HOST=HOST, PORT=str(self.port),
                        **{k: str(v) for k, v in env.items()})
        if cmd is None:
            self.cmd = [sys.executable, "-m", "fl"]
        else:
            gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
            self.cmd = [gunicorn, "-w", str(cmd[1]), "-b", "%s:%d" % (HOST, self.port),
                        "--log-level", "warning"] + list(cmd[2:]) + ["fl.wsgi:app"]
        self.log_path = log_path
        self.proc = None

    def start(self, timeout=60):
        if "DATABASE_URL" in self.env:   # PostgreSQL: migrated first, as an operator does
            subprocess.run([sys.executable, "-m", "fl", "db", "upgrade"], cwd=REPO,
                           env=self.env, check=True, capture_output=True, timeout=120)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        probe = Http(self.port)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited:\n" + self.log_tail())
            try:
                probe.call("GET", "/api/health")
                probe.close()
                return self
            except (ConnectionError, ServerRefusal):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not answer within %d s:\n%s"
                           % (timeout, self.log_tail()))

    def log_tail(self, chars=3000):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-chars:]

    def stop(self):
        """SIGTERM this server's process group (it was started in a new session), then wait."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.log.close()
            self.proc = None
