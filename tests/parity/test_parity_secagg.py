"""Secure aggregation's pure parts give the same bytes, words and errors in CPython and
transpiled in Node: Shamir shares and reconstruction, fixed-point inputs, mask arithmetic
mod 2^32 (typed-array wrap-around against Python integers), the graph and the messages."""
import os
import random

import numpy as np

from tests.support.parity import run_js_many, run_py_many

RNG = random.Random(5)


def both(module, target, cases):
    py = run_py_many(module, target, cases)
    assert py == run_js_many(module, target, cases)
    return py


def test_shamir_shares_and_reconstruction_are_identical():
    cases = []
    for n, t in [(1, 1), (5, 4), (17, 12), (255, 170)]:
        xs = RNG.sample(range(1, 256), n)
        cases.append([os.urandom(32), xs, t, os.urandom(32 * (t - 1))])
    shares = both("tinybert_core.shamir", "split", cases)
    rebuild = [[case[1][:case[2]], [bytes(s) for s in got[:case[2]]]]
               for case, got in zip(cases, shares)]
    secrets = both("tinybert_core.shamir", "reconstruct", rebuild)
    assert secrets == [list(case[0]) for case in cases]


def test_shamir_errors_are_identical():
    cases = [[b"ab", [0, 1], 1, b""], [b"ab", [3, 3], 1, b""], [b"ab", [1, 2], 3, b"12345678"],
             [b"abcd", [1, 2, 3], 3, b"1"]]
    results = both("tinybert_core.shamir", "split", cases)
    assert all("__error__" in r for r in results)


def test_fixed_point_inputs_are_identical():
    cases = []
    for _ in range(20):
        n = RNG.randint(1, 40)
        x = np.random.default_rng(RNG.randint(0, 10 ** 6)).normal(size=n)
        x *= RNG.uniform(0, 1) * 30 / np.linalg.norm(x)
        split = RNG.randint(0, n)
        weight = RNG.randint(1, 1000)
        scale = 2.0 ** RNG.randint(0, 12)
        cases.append([x[:split].tolist(), x[split:].tolist(), weight, scale, 30.0, 1000,
                      os.urandom(4 * n)])
    cases.append([[0.5, -0.5, 1e-12, -1e-12], [0.0], 1, 1.0, 30.0, 1, bytes(20)])
    cases.append([[float(2 ** 20)], [], 1, 1.0, 2.0 ** 21, 1, os.urandom(4)])
    cases.append([[31.0], [], 1, 1.0, 30.0, 1, os.urandom(4)])   # above the clip: refused
    words = both("tinybert_core.secagg", "encode_input", cases)
    assert all(isinstance(w, list) for w in words[:-1]) and "__error__" in words[-1]


def test_word_arithmetic_wraps_identically():
    cases = []
    for sign in (1, -1):
        for _ in range(5):
            n = RNG.randint(1, 50)
            cases.append([[RNG.randrange(2 ** 32) for _ in range(n)],
                          [RNG.randrange(2 ** 32) for _ in range(n)], sign])
    got = both("tinybert_core.secagg", "mask_sum", cases)
    for (acc, words, sign), result in zip(cases, got):
        assert result == [(a + sign * w) % 2 ** 32 for a, w in zip(acc, words)]


def test_mask_bytes_words_and_sums_decode_identically():
    data = [os.urandom(4 * 28) for _ in range(3)]
    words = both("tinybert_core.secagg", "words_from_bytes", [[d, 28] for d in data])
    both("tinybert_core.secagg", "words_to_bytes", [[w] for w in words])
    both("tinybert_core.secagg", "decode_sum", [[w, 64.0, 3, 8] for w in words])


def test_graph_scale_and_messages_are_identical():
    members = RNG.sample(range(1, 10 ** 6), 300)
    both("tinybert_core.secagg", "neighbourhoods", [[members[:5], 1], [members[:200], 77],
                                                   [members, 123456789]])
    both("tinybert_core.secagg", "fixed_point_scale", [[5, 1, 30.0], [100, 1000, 30.0],
                                                       [500, 1000, 0.7], [10 ** 5, 10 ** 6, 1e6]])
    both("tinybert_core.secagg", "threshold", [[n] for n in range(1, 40)])
    both("tinybert_core.secagg", "share_plaintext", [[4000000000, 2, os.urandom(32),
                                                      os.urandom(32)]])
    text = bytes(run_py_many("tinybert_core.secagg", "share_plaintext",
                             [[5, 6, os.urandom(32), os.urandom(32)]])[0])
    both("tinybert_core.secagg", "read_share_plaintext", [[text, 5, 6], [text, 6, 5],
                                                         [text[:10], 5, 6]])
    both("tinybert_core.secagg", "associated_data", [[1, 2, 4294967295]])
