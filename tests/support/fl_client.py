"""A federation client for the server tests: one browser's side of the API (register, read
the federation, encode and post updates), over Flask's test client or a real server.

``Participant(http)`` registers at once; ``http`` is a Flask test client or an
``HttpClient`` (the same calls over HTTP, for a server in another process). ``Clock`` is a
settable clock for the server's ``CLOCK`` setting.
"""
import json
import urllib.error
import urllib.request

import numpy as np

from tinybert_core import codec

K, D = 3, 384   # the default federation's head: 3 labels x 384


class Clock:
    """A settable clock for the CLOCK setting."""

    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


class Participant:
    """One browser: registers (unless given its ``identity``, the answer of a registration),
    reads the federation, sends encoded updates. ``id`` and ``token`` are its credentials;
    ``rng`` makes its deltas (default: seeded with its id)."""

    def __init__(self, http, federation=None, identity=None, rng=None):
        self.http = http
        self.federation = federation
        if identity is None:
            body = {} if federation is None else {"federation": federation}
            answer = http.post("/api/register", json=body)
            assert answer.status_code == 201, answer.get_json()
            identity = answer.get_json()
        self.identity = identity
        self.id = identity["client_id"]
        self.token = identity["token"]
        self.rng = rng if rng is not None else np.random.default_rng(self.id)

    def _query(self):
        return "" if self.federation is None else "?federation=" + self.federation

    def state(self):
        """The federation as ``GET /api/federation`` describes it."""
        return self.http.get("/api/federation" + self._query()).get_json()

    def encode(self, weights=None, bias=None, examples=10, round_id=None, base=None,
               client_id=None, rows=K, cols=D, bound=10.0, state=None):
        """Update bytes for the live round and head (or those given); random small deltas
        unless ``weights``/``bias`` are given."""
        state = self.state() if state is None else state
        weights = self.rng.normal(scale=0.01, size=rows * cols) if weights is None else weights
        bias = self.rng.normal(scale=0.01, size=rows) if bias is None else bias
        update = codec.Update(self.id if client_id is None else client_id,
                              state["round"]["id"] if round_id is None else round_id,
                              state["head_version"] if base is None else base, examples,
                              rows, cols, list(weights), list(bias))
        return codec.encode_update(update, bound)

    def send(self, data, token=None, content_type="application/octet-stream"):
        """POST ``data`` to /api/update with this client's token (or ``token``)."""
        headers = {"Authorization": "Bearer " + (self.token if token is None else token)}
        return self.http.post("/api/update" + self._query(), data=data, headers=headers,
                              content_type=content_type)

    def send_update(self, **encode_options):
        """Encode an update for the current round and head and send it."""
        return self.send(self.encode(**encode_options))


class Answer:
    """The parts of a Flask test response the tests read, from an HTTP answer."""

    def __init__(self, status_code, data, headers):
        self.status_code = status_code
        self.data = data
        self.headers = headers

    def get_json(self):
        return json.loads(self.data)


class HttpClient:
    """``get`` and ``post`` like Flask's test client, to a server at ``base``
    (``http://host:port``)."""

    def __init__(self, base, timeout=30):
        self.base = base
        self.timeout = timeout

    def open(self, method, path, data=None, headers=None, content_type=None):
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=dict(headers or {}))
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Answer(answer.status, answer.read(), answer.headers)
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read(), error.headers)

    def get(self, path, headers=None):
        return self.open("GET", path, headers=headers)

    def post(self, path, json=None, data=None, headers=None, content_type=None):
        if json is not None:
            data, content_type = _dumps(json), "application/json"
        return self.open("POST", path, data, headers, content_type)


def _dumps(value):
    return json.dumps(value).encode("utf-8")
