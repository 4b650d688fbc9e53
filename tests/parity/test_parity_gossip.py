"""Gossip frames, checks and mixing are the same in CPython and transpiled in Node."""
import os

import numpy as np

from tests.support.parity import run_js_many, run_py_many

MODULE = "tinybert_core.gossip"
RNG = np.random.default_rng(8)


def both(target, cases, setup=None):
    py = run_py_many(MODULE, target, cases, setup)
    assert py == run_js_many(MODULE, target, cases, setup)
    return py


def test_frames_encode_and_decode_identically():
    cases = []
    for rows, cols in ((3, 384), (1, 1), (5, 7)):
        w = RNG.normal(scale=5, size=rows * cols).tolist()
        b = RNG.normal(size=rows).tolist()
        cases.append([4000000000, 9, 2, float(RNG.uniform(0.01, 1e6)), rows, cols, w, b])
    cases.append([1, 1, 1, 0.0, 1, 1, [1.0], [0.0]])   # refused: mass 0
    frames = both("encode_frame", cases)
    signed = [[bytes(f) + os.urandom(64)] for f in frames[:-1]]
    signed.append([b"FLGS" + bytes(100)])
    decoded = both("decode_frame", signed)
    assert "__error__" in decoded[-1] and decoded[0]["mass"] == cases[0][3]


def test_mixing_pulling_and_picking_are_identical():
    own_w, own_b = RNG.normal(size=12).tolist(), RNG.normal(size=3).tolist()
    received = [{"weights": RNG.normal(size=12).tolist(), "bias": RNG.normal(size=3).tolist(),
                 "mass": m} for m in (0.5, 3.0, 1e3)]
    both("mix", [[own_w, own_b, 2.0, received, None], [own_w, own_b, 1.0, [], None],
                 [own_w, own_b, 2.0, received, 8.0]])
    far = [10 * v for v in own_w]
    both("pull_toward", [[own_w, own_b, far, own_b, 1.5], [own_w, own_b, own_w, own_b, 1.0]])
    both("pick_neighbours", [[list(range(20)), 3, 7], [[5, 9], 4, 2 ** 32 - 1]])
    both("share_of", [[10.0, 2], [7.0, 0]])
