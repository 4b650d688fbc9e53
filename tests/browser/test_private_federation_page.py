"""A private federation end to end: five browsers with separate profiles publish the private
prototype head through the real server, in each differential-privacy mode.

Example level with distributed noise (the default): each of the n pages adds N(0, z^2 / t),
t = n - floor(n / 3), to its class sums before masking; with local noise, N(0, z^2); client
level: each page scales its sums to norm 1 and the server adds the noise. Either way the
published row of each label must point along the sum of all the pages' examples of that
label, off by the angle
that noise of that size gives (tan(angle) = noise orthogonal to the row / row length), which
checks both the sum and that the noise was added once with the right scale. The panel says
how many members joined while the round waits for its cohort, which mode, what left the page
and the epsilon spent; the example mode refuses a second round in words."""
import json
from pathlib import Path

import numpy as np
import pytest

from fl import create_app, privacy
from tests.support.browser import Server, open_page
from tests.support.page_js import ADD_ALL, EMBED_ALL, HEAD_TENSORS
from tests.support.secure_member import SecureMember, random_inputs, run_secure_round

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "domain_sentences.json").read_text())
LABELS = FIXTURE["labels"]
FEDERATION = [{"name": "default", "labels": LABELS, "dim": 384,
               "encoder": "sentence-transformers/all-MiniLM-L6-v2", "hidden_size": 384}]
MEMBERS = 5
Z = 0.1              # small enough that the rows are far from random, large enough to measure
TARGET = 100.0       # epsilon of one release at z = 0.1 is 96.1
START = """() => { window.__sent = null; window.tinybert.sendDelta({epochs: 5}).then(
  sent => { window.__sent = {sent}; }, error => { window.__sent = {error: String(error)}; });
}"""


def _finish(pages, timeout_ms=120000):
    out = []
    for page in pages:
        page.wait_for_function("() => window.__sent !== null", timeout=timeout_ms, polling=200)
        out.append(page.evaluate("() => window.__sent"))
    return out


def _rows(page):
    flat = np.array(page.evaluate(HEAD_TENSORS))
    k = len(LABELS)
    return flat[k:].reshape(k, -1), flat[:k]


def _private_server(**env):
    """A secure federation of MEMBERS browsers with privacy ``env`` (strings) on top."""
    return Server(env=dict({"FEDERATIONS": json.dumps(FEDERATION), "FEDERATION_MODE": "secure",
                            "MIN_UPDATES": str(MEMBERS), "SECURE_MIN_COHORT": str(MEMBERS),
                            "ROUND_SECONDS": "24", "TARGET_EPSILON": str(TARGET),
                            "DP_NOISE_MULTIPLIER": str(Z)}, **env))


def _split_examples(seed):
    """The fixture's 120 examples dealt to MEMBERS parts in a seeded order."""
    examples = FIXTURE["client_a"] + FIXTURE["client_b"]
    order = np.random.default_rng(seed).permutation(len(examples))
    return examples, [[examples[i] for i in order[j::MEMBERS]] for j in range(MEMBERS)]


def _open_members(browser, server, parts, pages):
    """One page (a profile of its own) per part, with the federation's labels and its
    examples; appended to ``pages`` as they open, so that the caller closes them all."""
    for part in parts:
        page = open_page(browser, server.url + "/")
        page.evaluate("labels => window.tinybert.setLabels(labels)", LABELS)
        page.evaluate(ADD_ALL, part)
        pages.append(page)


def _check_rows(pages, parts, examples, noise):
    """Each published row against the sum of all 120 examples of its label: the angle that
    noise of the mode's size gives, within x0.6-1.5."""
    embedded = np.array(pages[0].evaluate(EMBED_ALL, [t for t, _ in examples]))
    sums = np.zeros((len(LABELS), 384))
    for (_, label), x in zip(examples, embedded):
        sums[LABELS.index(label)] += x
    pages[0].evaluate("() => window.tinybert.applyAggregate()")
    weights, bias = _rows(pages[0])
    assert np.all(bias == 0) and np.allclose(np.linalg.norm(weights, axis=1), 40, rtol=1e-4)
    for k in range(len(LABELS)):
        cosine = weights[k] @ sums[k] / np.linalg.norm(weights[k]) / np.linalg.norm(sums[k])
        measured = np.tan(np.arccos(min(cosine, 1.0)))
        if noise == "local":           # five pages' noise, on sums of examples
            expected = Z * np.sqrt(MEMBERS * 383) / np.linalg.norm(sums[k])
        elif noise == "distributed":   # five shares of z^2 / 4 each
            expected = Z * np.sqrt(MEMBERS / 4 * 383) / np.linalg.norm(sums[k])
        else:                          # the server's noise, on sums of norm-1 members
            member_rows = []
            for part in parts:
                own = np.zeros((len(LABELS), 384))
                for pair in part:
                    i = examples.index(pair)
                    own[LABELS.index(examples[i][1])] += embedded[i]
                member_rows.append(own[k] / np.linalg.norm(own))
            expected = Z * np.sqrt(383) / np.linalg.norm(np.sum(member_rows, axis=0))
        assert 0.6 * expected < measured < 1.5 * expected, (k, measured, expected)


@pytest.mark.parametrize("mode, noise", [("example", "distributed"), ("example", "local"),
                                         ("client", "server")])
def test_five_browsers_publish_the_private_prototype_head(browser, mode, noise):
    server = _private_server(PRIVACY=mode, DP_EXAMPLE_NOISE="local" if noise == "local"
                             else "distributed")
    examples, parts = _split_examples(5)
    pages = []
    try:
        _open_members(browser, server, parts, pages)
        before = pages[0].text_content("#fl-privacy")
        assert ("Differential privacy (%s level)" % mode) in before, before
        assert "epsilon spent 0.00 of 100.00" in before, before

        # Alone in the round, the first page says how far the cohort is.
        pages[0].evaluate(START)
        pages[0].wait_for_function(
            "() => document.getElementById('fl-sent').textContent.includes("
            "'1 of 5 members have joined')", timeout=30000, polling=200)
        for page in pages[1:]:
            page.evaluate(START)
        results = _finish(pages)
        assert all("sent" in r for r in results), results
        assert {r["sent"]["outcome"] for r in results} == {"aggregated"}, results
        assert {r["sent"]["contribution"] for r in results} == {mode + "_sums"}

        _check_rows(pages, parts, examples, noise)

        spent = privacy.epsilon_after_rounds([(Z, 1.0)], 1e-5)
        after = pages[1].text_content("#fl-privacy")
        assert ("epsilon spent %.2f of 100.00" % spent) in after, after
        sent = pages[1].text_content("#fl-sent")
        assert ("noise added here" if mode == "example" else "scaled to length 1") in sent, sent
        if noise == "distributed":        # what one page's input would carry on its own
            alone = privacy.epsilon_after_rounds([(Z / 2, 1.0)], 1e-5)
            assert ("would be at epsilon %.1f on its own" % alone) in after, after

        if mode == "example":   # one release: the next round is refused in words
            pages[0].evaluate(START)
            refused = _finish(pages[:1])[0]
            assert "covers that one release" in refused.get("error", ""), refused
            assert "no further rounds" in pages[0].text_content("#fl-privacy")
    finally:
        for page in pages:
            if not page.is_closed():
                page.context.close()
        server.stop()


def test_example_privacy_turned_on_later_sends_class_sums_not_deltas(browser, tmp_path):
    """A federation whose head was made without privacy (version 1, from a secure round of
    five members in this process) is served again with example-level privacy: the pages send
    their class sums as they are (not their difference from that head), and the head they
    publish replaces it."""
    path = tmp_path / "fl.sqlite3"
    http = create_app({"TESTING": True, "FEDERATIONS": FEDERATION, "MIN_UPDATES": MEMBERS,
                       "FEDERATION_MODE": "secure", "PRIVACY": "none",
                       "DATABASE_PATH": str(path)}).test_client()
    members = [SecureMember(http) for _ in range(MEMBERS)]
    inputs = random_inputs(MEMBERS, len(LABELS), 384, 30.0, np.random.default_rng(1))
    assert run_secure_round(members, inputs)["result_version"] == 1
    server = _private_server(PRIVACY="example", DATABASE_PATH=str(path))
    examples, parts = _split_examples(7)
    pages = []
    try:
        _open_members(browser, server, parts, pages)
        for page in pages:
            page.evaluate(START)
        results = _finish(pages)
        assert {r["sent"]["outcome"] for r in results} == {"aggregated"}, results
        assert {r["sent"]["version"] for r in results} == {2}
        assert {r["sent"]["contribution"] for r in results} == {"example_sums"}
        _check_rows(pages, parts, examples, "distributed")
    finally:
        for page in pages:
            page.context.close()
        server.stop()
