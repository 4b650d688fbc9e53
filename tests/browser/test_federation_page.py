"""Federated learning end to end: two browsers with separate profiles train on different parts
of a real data set, send quantised updates to the real server (round 1: class statistics,
round 2: trained deltas), the rounds aggregate, both apply the aggregate, and the global head
does at least as well as either browser alone."""
import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.browser import Server, open_page
from tests.support.page_js import ADD_ALL, EMBED_ALL, HEAD_TENSORS, show_tab, status_after

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "domain_sentences.json").read_text())
LABELS = FIXTURE["labels"]
FEDERATION = [{"name": "default", "labels": LABELS, "dim": 384,
               "encoder": "sentence-transformers/all-MiniLM-L6-v2", "hidden_size": 384}]


def accuracy(page, embeddings, truth):
    flat = np.array(page.evaluate(HEAD_TENSORS))
    k = len(LABELS)
    bias, weights = flat[:k], flat[k:].reshape(k, -1)
    predicted = np.argmax(embeddings @ weights.T + bias, axis=1)
    return float(np.mean(predicted == truth))


@pytest.fixture(scope="module")
def fl_server():
    server = Server(env={"FEDERATIONS": json.dumps(FEDERATION), "MIN_UPDATES": "2",
                         "FEDERATION_MODE": "plain"})
    yield server
    server.stop()


def join(browser, server, examples):
    page = open_page(browser, server.url + "/")   # a context of its own: a separate profile
    page.evaluate("labels => window.tinybert.setLabels(labels)", LABELS)
    page.evaluate(ADD_ALL, examples)
    return page


def test_two_browsers_federate_and_the_aggregate_is_at_least_as_good(browser, fl_server):
    a = join(browser, fl_server, FIXTURE["client_a"])
    b = join(browser, fl_server, FIXTURE["client_b"])
    held_out = FIXTURE["held_out"]
    embeddings = np.array(a.evaluate(EMBED_ALL, [t for t, _ in held_out]))
    truth = np.array([LABELS.index(label) for _, label in held_out])
    alone = []
    for page in (a, b):
        page.evaluate("() => window.tinybert.train({epochs: 5})")
        alone.append(accuracy(page, embeddings, truth))

    sent = a.evaluate("() => window.tinybert.sendDelta({epochs: 5})")
    assert sent["bytes"] < 0.3 * 4 * (len(LABELS) * 384 + len(LABELS))
    assert sent["round"] == 1 and sent["base_version"] == 0 and not sent["round_closed"]
    assert sent["examples"] == len(FIXTURE["client_a"])
    with pytest.raises(Exception, match="already sent an update in round 1"):
        a.evaluate("() => window.tinybert.sendDelta({epochs: 5})")
    # The second browser clicks, as a person would.
    show_tab(b, "federation")
    message, kind = status_after(b, "#send-delta")
    assert "ready" in kind and "Sent a delta of" in message, message
    sent = b.text_content("#fl-sent")
    assert "round 1" in sent and "No text was sent" in sent

    a.evaluate("() => window.tinybert.applyAggregate()")
    message, kind = status_after(b, "#apply-aggregate")
    assert "head v1" in message, message
    assert "global head v1" in b.text_content("#fl-status")
    first = accuracy(a, embeddings, truth)
    assert first == accuracy(b, embeddings, truth)
    # Round 1 gathered class statistics (the prototype head of both browsers' examples);
    # from round 2 on, each browser trains from the global head and sends its delta.
    for page in (a, b):
        sent = page.evaluate("() => window.tinybert.sendDelta({epochs: 5})")
        assert sent["round"] == 2 and sent["base_version"] == 1
    for page in (a, b):
        page.evaluate("() => window.tinybert.applyAggregate()")
    assert "global head v2" in b.text_content("#fl-status")
    global_a = accuracy(a, embeddings, truth)
    global_b = accuracy(b, embeddings, truth)
    assert global_a == global_b
    print(f"held-out accuracy: alone {alone}, federated round 1 {first}, round 2 {global_a}")
    assert global_a >= max(alone), (global_a, alone)
    # Only head deltas left the pages: the examples are still only local.
    assert len(a.evaluate("() => window.tinybert.examples()")) == len(FIXTURE["client_a"])
    for page in (a, b):
        page.context.close()


def test_label_sets_must_agree_with_the_federation(browser, fl_server):
    page = open_page(browser, fl_server.url + "/")
    page.evaluate("() => window.tinybert.addExample('standup at ten', 'Meeting')")
    with pytest.raises(Exception, match="This federation classifies amazon, imdb, yelp"):
        page.evaluate("() => window.tinybert.sendDelta({epochs: 1})")
    with pytest.raises(Exception, match="nothing was sent"):
        page.evaluate("() => window.tinybert.sendDelta({epochs: 1})")
    page.context.close()


def test_an_unreachable_server_is_reported_and_nothing_is_lost(browser, fl_server):
    page = open_page(browser, fl_server.url + "/")
    page.evaluate("labels => window.tinybert.setLabels(labels)", LABELS)
    page.evaluate(ADD_ALL, FIXTURE["client_a"][:6])
    page.context.route("**/api/**", lambda route: route.abort("connectionrefused"))
    with pytest.raises(Exception, match="Cannot reach the federation server"):
        page.evaluate("() => window.tinybert.sendDelta({epochs: 1})")
    assert len(page.evaluate("() => window.tinybert.examples()")) == 6
    page.context.close()


def test_examples_of_one_label_count_in_the_first_round_only(browser):
    """Round 1 takes class statistics, so a browser with one label helps build the first
    head; training from a head needs two labels, and the page says so before sending."""
    server = Server(env={"FEDERATIONS": json.dumps(FEDERATION), "MIN_UPDATES": "2",
                         "FEDERATION_MODE": "plain"})
    try:
        one_label = [pair for pair in FIXTURE["client_a"] if pair[1] == LABELS[0]][:8]
        single = join(browser, server, one_label)
        sent = single.evaluate("() => window.tinybert.sendDelta({epochs: 5})")
        assert sent["round"] == 1 and sent["base_version"] == 0 and sent["examples"] == 8
        other = join(browser, server, FIXTURE["client_b"][:20])
        assert other.evaluate("() => window.tinybert.sendDelta({epochs: 5})")["round_closed"]
        with pytest.raises(Exception, match="at least two labels.*Nothing was sent"):
            single.evaluate("() => window.tinybert.sendDelta({epochs: 5})")
        assert single.evaluate("() => window.tinybert.federation()")["last_sent"]["round"] == 1
        for page in (single, other):
            page.context.close()
    finally:
        server.stop()
