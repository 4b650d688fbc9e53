"""Pages that federate peer to peer, for the browser tests and the benchmark: Chromium with
WebRTC on loopback, examples brought as precomputed embeddings, gossip run in the
background of each page, every byte a page sends to the server recorded.

Loopback-only Chromium gives no ICE candidates unless it runs with
``--allow-loopback-in-peer-connection`` and the context has the ``microphone`` permission.
"""
import json
import time

import numpy as np

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, wait_ready
from tests.support.page_js import HEAD_TENSORS

WEBRTC_ARGS = CHROMIUM_ARGS + ["--allow-loopback-in-peer-connection"]

LOAD = """async ([labels, texts, vectors, names]) => {
  await window.tinybert.setLabels(labels);
  await window.tinybert.primeEmbeddings(texts, vectors);
  for (let i = 0; i < texts.length; i++) await window.tinybert.addExample(texts[i], names[i]);
  return (await window.tinybert.examples()).length;
}"""
START = """([rounds, heads]) => {
  window.__gossip = {done: false};
  window.tinybert.gossip({rounds, heads}).then(
    r => { window.__gossip = {done: true, result: r}; },
    e => { window.__gossip = {done: true, error: String(e && e.message || e)}; });
  return true;
}"""


def launch(playwright):
    """Chromium that may connect pages over loopback WebRTC."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=WEBRTC_ARGS)


class PeerPage:
    """One page in a context of its own, with everything it sends to the server recorded:
    HTTP request bodies (``requests``: method, path, bytes) and WebSocket frames
    (``frames``: the text of each)."""

    def __init__(self, browser, url):
        self.context = browser.new_context(permissions=["microphone"])
        self.page = self.context.new_page()
        self.requests = []
        self.frames = []
        self.page.on("request", self._request)
        self.page.on("websocket", self._websocket)
        self.page.goto(url + "/")
        wait_ready(self.page)
        error = self.page.evaluate("() => window.tinybertError || null")
        assert error is None, error

    def _request(self, request):
        body = request.post_data_buffer
        self.requests.append((request.method, request.url.split("/", 3)[-1],
                              len(body) if body else 0))

    def _websocket(self, ws):
        ws.on("framesent", lambda payload: self.frames.append(payload))

    def load(self, labels, texts, vectors, label_names):
        return self.page.evaluate(LOAD, [labels, texts, [list(map(float, v)) for v in vectors],
                                         label_names])

    def join(self, federation="default"):
        return self.page.evaluate("f => window.tinybert.joinPeers({federation: f})", federation)

    def peers(self):
        return self.page.evaluate("() => window.tinybert.peers()")

    def start(self, rounds, heads=False):
        self.page.evaluate(START, [rounds, heads])

    def done(self):
        return self.page.evaluate("() => window.__gossip && window.__gossip.done")

    def result(self):
        state = self.page.evaluate("() => window.__gossip")
        assert "error" not in state, state["error"]
        return state["result"]

    def head(self, n_labels):
        flat = np.array(self.page.evaluate(HEAD_TENSORS))
        return flat[n_labels:].reshape(n_labels, -1), flat[:n_labels]

    def close(self):
        self.context.close()


def wait_all(pages, timeout):
    """Wait until every page's gossip finished; returns their results."""
    deadline = time.monotonic() + timeout
    while not all(p.done() for p in pages):
        if time.monotonic() > deadline:
            raise AssertionError("gossip did not finish in %d s: %s" % (
                timeout, [p.peers()["round"] for p in pages]))
        time.sleep(0.25)
    return [p.result() for p in pages]


def wait_connected(pages, timeout):
    """Seconds until every page has every neighbour's channel open (raises after timeout)."""
    started = time.monotonic()
    while True:
        states = [p.peers() for p in pages]
        if all(len(s["peers"]) == len(pages) - 1 and all(x["state"] == "open" for x in s["peers"])
               for s in states):
            return time.monotonic() - started, states
        if time.monotonic() - started > timeout:
            raise AssertionError("channels not open after %d s: %s" % (timeout, json.dumps(
                [[(x["id"], x["state"], x["attempts"]) for x in s["peers"]] for s in states])))
        time.sleep(0.05)


def accuracy(weights, bias, X, y):
    return float(np.mean(np.argmax(X @ weights.T + bias, axis=1) == y))


def synthetic_set(labels, dim, per_label, seed, spread=1.2):
    """Unit-length vectors around one random direction per label (the encoder's embeddings
    are unit length too): ``(X, y)``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(labels), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X, y = [], []
    for k in range(len(labels)):
        points = centres[k] + spread * rng.normal(size=(per_label, dim)) / np.sqrt(dim)
        X.append(points / np.linalg.norm(points, axis=1, keepdims=True))
        y += [k] * per_label
    return np.concatenate(X), np.array(y)
