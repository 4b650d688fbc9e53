"""Peer-to-peer federation end to end: four Chromium pages (contexts of their own, WebRTC on
loopback) with label-skewed examples join the server's signalling socket, open data channels
to each other, and gossip signed int8 heads for a few rounds. Their heads converge and do
better on a held-out set than each page's own training; one page closing does not stop the
others; a page that joins late catches up; the server relays only signalling messages, and
no head goes through it.

The examples are synthetic embeddings given to the pages with ``primeEmbeddings`` (the encoder
is not run for them), so that four pages fit on two cores.
"""
import json
import os
import time
import urllib.request
from itertools import combinations

import numpy as np
import pytest

from tests.support.browser import Server, launch_other
from tests.support.page_js import show_tab
from tests.support.peer_pages import PeerPage, accuracy, synthetic_set, wait_all, wait_connected

PAGES = int(os.environ.get("PEER_PAGES", "4"))
LABELS = ["north", "east", "south", "west"]
DIM = 384
FEDERATION = [{"name": "default", "labels": LABELS, "dim": DIM,
               "encoder": "sentence-transformers/all-MiniLM-L6-v2", "hidden_size": DIM}]
MANY, FEW = 20, 3          # a page's examples of its two own labels, of the two others
SPREAD = 3.0               # noise per example: few examples of a label make a poor mean
ROUNDS = 4
LATE_ROUNDS = 4
CHURN_ROUNDS = 12       # all gossip again; one page closes after its second round
SIGNALLING = {"hello", "peers", "offer", "answer", "candidate", "bye"}
RESULTS = os.environ.get("PEER_RESULTS")   # where to write the measured numbers (optional)


@pytest.fixture(scope="module")
def p2p_server():
    server = Server(env={"FEDERATIONS": json.dumps(FEDERATION), "FEDERATION_MODE": "plain"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def webrtc_browser(browser):
    other = launch_other(browser, ["--allow-loopback-in-peer-connection"])
    yield other
    other.close()


def skewed_split(y, pages):
    """Page p gets MANY examples of labels p and p+1, FEW of the others; the rest is held out."""
    taken = set()
    parts = []
    for p in range(pages):
        own = {p % len(LABELS), (p + 1) % len(LABELS)}
        chosen = []
        for k in range(len(LABELS)):
            members = [i for i in range(len(y)) if y[i] == k and i not in taken]
            chosen += members[:MANY if k in own else FEW]
        taken |= set(chosen)
        parts.append(chosen)
    held = [i for i in range(len(y)) if i not in taken]
    return parts, held


def stats(server):
    with urllib.request.urlopen(server.url + "/api/peers/stats?federation=default") as reply:
        return json.loads(reply.read())


def head_of(entry):
    return (np.array(entry["weights"]).reshape(len(LABELS), DIM), np.array(entry["bias"]))


def spread_of(heads):
    """The largest distance between two pages' heads, relative to their mean length."""
    flat = [np.concatenate([w.ravel(), b]) for w, b in heads]
    scale = np.mean([np.linalg.norm(f) for f in flat])
    return max(np.linalg.norm(a - b) for a, b in combinations(flat, 2)) / scale


def test_pages_gossip_heads_peer_to_peer(webrtc_browser, p2p_server):
    X, y = synthetic_set(LABELS, DIM, 120, seed=5, spread=SPREAD)
    parts, held = skewed_split(y, PAGES)
    X_held, y_held = X[held], y[held]
    pages = [PeerPage(webrtc_browser, p2p_server.url) for _ in range(PAGES)]
    numbers = {"pages": PAGES}
    try:
        alone, own_heads = [], []
        for p, page in enumerate(pages):
            texts = ["page %d example %d" % (p, i) for i in parts[p]]
            names = [LABELS[y[i]] for i in parts[p]]
            assert page.load(LABELS, texts, X[parts[p]], names) == len(texts)
            page.page.evaluate("() => window.tinybert.train({epochs: 5})")
            own_heads.append(page.head(len(LABELS)))
            alone.append(accuracy(*own_heads[-1], X_held, y_held))

        joined = [page.join() for page in pages]
        assert sorted(j["id"] for j in joined) == sorted(set(j["id"] for j in joined))
        seconds, states = wait_connected(pages, timeout=20)
        connect_ms = [p["connect_ms"] for s in states for p in s["peers"]
                      if p["connect_ms"] is not None]
        numbers["all_open_s"] = round(seconds, 2)
        numbers["channel_open_ms"] = [round(min(connect_ms)), round(max(connect_ms))]
        numbers["attempts_max"] = max(p["attempts"] for s in states for p in s["peers"])

        started = time.monotonic()
        for page in pages:
            page.start(ROUNDS, True)
        results = wait_all(pages, timeout=120)
        numbers["gossip_s"] = round(time.monotonic() - started, 1)
        assert all(len(r) == ROUNDS for r in results)
        assert all(e["peers"] == PAGES - 1 for r in results for e in r), results
        for r in results:   # every round carried frames to neighbours
            sent = [e["sent_bytes"] for e in r]
            assert all(b > a for a, b in zip(sent, sent[1:]))
        numbers["sent_bytes_per_round"] = [
            round((r[-1]["sent_bytes"] - r[0]["sent_bytes"]) / (ROUNDS - 1)) for r in results]
        numbers["refused"] = [r[-1]["refused"] for r in results]
        assert sum(numbers["refused"]) == 0, numbers   # honest pages: every signature checks

        first = [head_of(r[0]) for r in results]
        last = [head_of(r[-1]) for r in results]
        numbers["head_spread_alone"] = round(spread_of(own_heads), 4)
        numbers["head_spread_round_1"] = round(spread_of(first), 4)
        numbers["head_spread_last"] = round(spread_of(last), 4)
        together = [accuracy(w, b, X_held, y_held) for w, b in last]
        numbers["accuracy_alone"] = [round(a, 3) for a in alone]
        numbers["accuracy_gossip"] = [round(a, 3) for a in together]
        # The heads, far apart when each page trained alone, agree closely after gossip
        # (push-sum mixing after each page's local epoch) ...
        assert numbers["head_spread_alone"] > 0.5, numbers
        assert numbers["head_spread_last"] < 0.1 * numbers["head_spread_alone"], numbers
        # ... and every page does better than on its own examples alone.
        assert min(together) > max(alone) + 0.1, numbers
        assert min(together) >= 0.85, numbers
        # What the page keeps is the last round's head.
        w, b = pages[0].head(len(LABELS))
        np.testing.assert_allclose(w, last[0][0], atol=1e-4)

        # The page shows it: one control chooses peer to peer, the panel the state.
        shown = pages[0].page
        show_tab(shown, "federation")
        shown.select_option("#fl-mode", "peers")
        assert shown.is_visible("#p2p-panel") and not shown.is_visible("#send-delta")
        status = shown.text_content("#p2p-status")
        assert "%d of %d neighbours connected" % (PAGES - 1, PAGES - 1) in status, status
        assert "round %d" % ROUNDS in status and "held-out examples" in status, status
        assert shown.locator("#p2p-peers li").count() == PAGES - 1

        # One page closes while all gossip: the others finish their rounds without it.
        for page in pages:
            page.start(CHURN_ROUNDS, True)
        gone = pages.pop()
        gone_id = gone.peers()["me"]
        deadline = time.monotonic() + 30
        while gone.peers()["round"] < ROUNDS + 2:
            assert time.monotonic() < deadline, "gossip did not go on"
            time.sleep(0.05)
        gone.close()
        closed = time.monotonic()
        after = wait_all(pages, timeout=90)
        numbers["rounds_after_close_s"] = round(time.monotonic() - closed, 1)
        for r in after:
            assert len(r) == CHURN_ROUNDS
            assert r[-1]["peers"] == PAGES - 2, r[-1]   # the closed page was dropped
        assert all(gone_id not in [p["id"] for p in page.peers()["peers"]] for page in pages)
        rest = [accuracy(*head_of(r[-1]), X_held, y_held) for r in after]
        numbers["accuracy_after_close"] = [round(a, 3) for a in rest]
        numbers["head_spread_after_close"] = round(spread_of([head_of(r[-1]) for r in after]), 4)
        assert min(rest) >= min(together) - 0.05, numbers
        assert numbers["head_spread_after_close"] < 0.1 * numbers["head_spread_alone"], numbers

        # A page that comes late (the closed page's examples, in a new browser context) takes
        # its neighbours' heads first, then gossips like the others.
        late = PeerPage(webrtc_browser, p2p_server.url)
        pages.append(late)
        texts = ["late page example %d" % i for i in parts[PAGES - 1]]
        late.load(LABELS, texts, X[parts[PAGES - 1]], [LABELS[y[i]] for i in parts[PAGES - 1]])
        late.page.evaluate("() => window.tinybert.train({epochs: 5})")
        late_alone = accuracy(*late.head(len(LABELS)), X_held, y_held)
        late.join()
        wait_connected(pages, timeout=20)
        for page in pages:
            page.start(LATE_ROUNDS, True)
        joined_in = wait_all(pages, timeout=90)
        mine = joined_in[-1]
        numbers["late_catching_up"] = [e["catching_up"] for e in mine]
        numbers["late_accuracy"] = [round(late_alone, 3)] + [
            round(accuracy(*head_of(e), X_held, y_held), 3) for e in mine]
        assert mine[0]["round"] > ROUNDS + CHURN_ROUNDS and not mine[-1]["catching_up"]
        assert numbers["late_accuracy"][-1] >= min(rest) - 0.02, numbers
        numbers["head_spread_with_late"] = round(spread_of([head_of(r[-1]) for r in joined_in]),
                                                 4)
        assert numbers["head_spread_with_late"] < 0.1 * numbers["head_spread_alone"], numbers

        # The server saw signalling only: no head, no update, no message type of its own.
        seen = stats(p2p_server)
        assert set(seen["received"]) <= SIGNALLING and set(seen["sent"]) <= SIGNALLING, seen
        numbers["server_received"] = seen["received"]
        for page in pages + [gone]:
            assert not [r for r in page.requests if r[1].startswith("api/update")]
            assert all(body < 4096 for method, path, body in page.requests
                       if path.startswith("api/")), page.requests
            for frame in page.frames:
                assert isinstance(frame, str) and len(frame.encode()) <= 8192
                assert json.loads(frame)["type"] in SIGNALLING
        numbers["ws_bytes_per_page"] = [sum(len(f.encode()) for f in page.frames)
                                        for page in pages + [gone]]
        assert max(numbers["ws_bytes_per_page"]) < 64 * 1024, numbers
    finally:
        print("peer federation:", json.dumps(numbers))
        if RESULTS:
            with open(RESULTS, "w") as out:
                json.dump(numbers, out, indent=1)
        for page in pages:
            page.close()
