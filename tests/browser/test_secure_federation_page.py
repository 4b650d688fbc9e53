"""Secure aggregation end to end: five browsers with separate profiles federate through the real
server in secure mode. Round 1 (class statistics) publishes exactly the prototype head of all
their examples, computed here from the pages' own embeddings; in round 2 (trained deltas) one
page is closed before its masked input leaves, and the four others still publish a head. No
page ever sends a plain update, the requests they make are only those of the protocol, and no
request body holds a text, its token ids or a vector near one of the examples' embeddings."""
import json
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from fl.first_round import prototype_head
from tests.support.browser import Server, open_page
from tests.support.page_js import ADD_ALL, EMBED_ALL, HEAD_TENSORS
from tinybert_core import codec
from tinybert_core.fl_local import class_statistics

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "domain_sentences.json").read_text())
LABELS = FIXTURE["labels"]
FEDERATION = [{"name": "default", "labels": LABELS, "dim": 384,
               "encoder": "sentence-transformers/all-MiniLM-L6-v2", "hidden_size": 384}]
MEMBERS = 5
# Random bytes of a few kB, read at every offset in four ways, come within |cosine| 0.25-0.3
# of one of 120 embeddings by chance (millions of comparisons); a leaked vector is far above.
LEAK_COSINE = 0.4
START = """() => { window.__secure = null; window.tinybert.sendDelta({epochs: 5}).then(
  sent => { window.__secure = {sent}; }, error => { window.__secure = {error: String(error)}; });
}"""
PROTOCOL = {("GET", "/api/federation"), ("GET", "/api/head"), ("POST", "/api/register"),
            ("GET", "/api/secure/state"), ("POST", "/api/secure/join"),
            ("POST", "/api/secure/shares"), ("GET", "/api/secure/shares"),
            ("POST", "/api/secure/masked"), ("POST", "/api/secure/reveal")}


def _head_of(page):
    flat = np.array(page.evaluate(HEAD_TENSORS))
    k = len(LABELS)
    return flat[k:].reshape(k, -1), flat[:k]


def _accuracy(weights, bias, embeddings, truth):
    return float(np.mean(np.argmax(embeddings @ weights.T + bias, axis=1) == truth))


def _vectors(body, dim):
    """Every run of ``dim`` values in ``body`` read as float32, int8, uint8 or uint32 at each
    byte offset, as rows (all as float64). Float32 runs count only where every value is finite
    and at most 1e4 in size, as an embedding or an update written as float32 would be: random
    bytes read as float32 span 1e-38..1e38, and a run dominated by one huge value points along
    one axis, whatever was sent. Unsigned runs are centred (less their mean): an unsigned
    encoding of a vector has a zero point, and uncentred positive values point along the
    all-ones direction, whatever was sent."""
    out = []
    for dtype in (np.float32, np.int8, np.uint8, np.uint32):
        size = np.dtype(dtype).itemsize
        for offset in range(size):
            usable = (len(body) - offset) // size
            if usable < dim:
                continue
            values = np.frombuffer(body, dtype=dtype, count=usable, offset=offset)
            with np.errstate(invalid="ignore", over="ignore"):
                values = values.astype(np.float64)
            windows = np.lib.stride_tricks.sliding_window_view(values, dim)
            if dtype is np.float32:
                plausible = np.isfinite(values) & (np.abs(values) <= 1e4)
                windows = windows[np.lib.stride_tricks.sliding_window_view(plausible, dim)
                                  .all(axis=1)]
            elif dtype in (np.uint8, np.uint32):
                windows = windows - windows.mean(axis=1, keepdims=True)
            out.append(windows)
    return out


def _closest_cosine(body, embeddings):
    """The largest |cosine| between any vector read from ``body`` and any embedding."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    best = 0.0
    for windows in _vectors(body, unit.shape[1]):
        norms = np.linalg.norm(windows, axis=1)
        keep = norms > 0
        if keep.any():
            best = max(best, float(np.max(np.abs(windows[keep] @ unit.T) / norms[keep, None])))
    return best


def _finish(pages, timeout_ms=120000):
    """Wait for every page's sendDelta to settle; returns what each resolved to."""
    out = []
    for page in pages:
        page.wait_for_function("() => window.__secure !== null", timeout=timeout_ms,
                               polling=200)
        out.append(page.evaluate("() => window.__secure"))
    return out


def test_five_browsers_aggregate_securely_and_survive_one_leaving(browser):
    server = Server(env={"FEDERATIONS": json.dumps(FEDERATION), "FEDERATION_MODE": "secure",
                         "MIN_UPDATES": str(MEMBERS), "SECURE_MIN_COHORT": str(MEMBERS),
                         "ROUND_SECONDS": "24"})
    examples = FIXTURE["client_a"] + FIXTURE["client_b"]
    order = np.random.default_rng(3).permutation(len(examples))
    parts = [[examples[i] for i in order[j::MEMBERS]] for j in range(MEMBERS)]
    requests = []
    pages = []
    try:
        for part in parts:
            page = open_page(browser, server.url + "/")   # a context (profile) of its own
            page.context.on("request", lambda r: requests.append(
                (r.method, urlparse(r.url).path, r.post_data_buffer or b"")))
            page.evaluate("labels => window.tinybert.setLabels(labels)", LABELS)
            page.evaluate(ADD_ALL, part)
            pages.append(page)
        assert "Secure aggregation" in pages[0].text_content("#fl-privacy")

        # Round 1: every page sends its class statistics, masked.
        for page in pages:
            page.evaluate(START)
        results = _finish(pages)
        assert all("sent" in r for r in results), results
        assert {r["sent"]["outcome"] for r in results} == {"aggregated"}
        assert {r["sent"]["version"] for r in results} == {1}
        assert {r["sent"]["round"] for r in results} == {results[0]["sent"]["round"]}

        # The published head is the prototype head of all 120 examples, as if one browser
        # had held them (fixed-point rounding aside).
        texts = [t for t, _ in examples]
        embedded = np.array(pages[0].evaluate(EMBED_ALL, texts))
        ys = [LABELS.index(label) for _, label in examples]
        stats = class_statistics(embedded.tolist(), ys, len(LABELS), 384)
        statistics = np.concatenate([np.array(stats["weights"]), np.array(stats["bias"])])
        expected = prototype_head(statistics, len(LABELS), 384)
        pages[0].evaluate("() => window.tinybert.applyAggregate()")
        weights, bias = _head_of(pages[0])
        published = np.concatenate([weights.ravel(), bias])
        assert np.max(np.abs(published - expected)) < 1e-3, np.max(np.abs(published - expected))
        held_out = FIXTURE["held_out"]
        held_embedded = np.array(pages[0].evaluate(EMBED_ALL, [t for t, _ in held_out]))
        truth = np.array([LABELS.index(label) for _, label in held_out])
        first = _accuracy(weights, bias, held_embedded, truth)
        assert "sent" in pages[1].text_content("#fl-sent")

        # Round 2: trained deltas; the last page is closed before its masked input leaves.
        leaving = pages[-1]
        held = []
        leaving.context.route("**/api/secure/masked**", lambda route: held.append(route))
        for page in pages:
            page.evaluate(START)
        while not held:
            pages[0].wait_for_timeout(200)
        leaving.context.close()
        staying = pages[:-1]
        results = _finish(staying)
        assert all("sent" in r for r in results), results
        assert {r["sent"]["outcome"] for r in results} == {"aggregated"}, results
        assert {r["sent"]["version"] for r in results} == {2}
        staying[0].evaluate("() => window.tinybert.applyAggregate()")
        weights, bias = _head_of(staying[0])
        second = _accuracy(weights, bias, held_embedded, truth)
        print("held-out accuracy: secure round 1 %.3f, round 2 %.3f; bytes sent per page in "
              "round 2: %s" % (first, second, [r["sent"]["bytes"] for r in results]))
        assert second >= first - 0.02, (first, second)
        status = staying[0].text_content("#fl-sent")
        assert "Secure round" in status and "No text was sent" in status, status

        # The network audit: only the protocol's requests, never a plain update, and no body
        # holds a text, its token ids or a vector near an example's embedding.
        api = [(m, p) for m, p, _ in requests if p.startswith("/api/")]
        assert set(api) <= PROTOCOL, set(api) - PROTOCOL
        masked = {len(b) for m, p, b in requests if p == "/api/secure/masked"}
        assert len(masked) == 1   # one fixed-length vector of masked words per page and round
        bodies = [b for _, _, b in requests if b]
        assert bodies
        # The detector finds what plain mode would send: page 1's class statistics as an
        # int8 update (rows are class means of its examples).
        part = [examples.index(pair) for pair in parts[0]]
        plain_stats = class_statistics(embedded[part].tolist(), [ys[i] for i in part],
                                       len(LABELS), 384)
        control = codec.encode_update(codec.Update(1, 1, 0, len(part), len(LABELS), 384,
                                                   plain_stats["weights"], plain_stats["bias"]),
                                      30.0)
        assert _closest_cosine(control, embedded) > 1.5 * LEAK_COSINE   # measured 0.72
        token_ids = [np.array(pages[0].evaluate("t => window.tinybert.tokenize(t)", text),
                              dtype=np.int64) for text in texts[:20]]
        for body in bodies:
            for text in texts:
                assert text.encode("utf-8") not in body
            for ids in token_ids:
                for dtype in ("<i4", "<i8", "<u2"):
                    assert ids[1:-1].astype(dtype).tobytes() not in body
            assert _closest_cosine(body, embedded) < LEAK_COSINE
    finally:
        for page in pages:
            if not page.is_closed():
                page.context.close()
        server.stop()
