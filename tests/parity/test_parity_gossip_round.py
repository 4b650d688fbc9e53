"""A gossip round's pure steps are the same in CPython and transpiled in Node, and the
prototype head built from mixed statistics is the server's first-round head."""
import numpy as np

from fl.first_round import prototype_head
from tests.support.parity import run_js_many, run_py_many
from tinybert_core import gossip
from tinybert_core.gossip_round import prototype_from_statistics

MODULE = "tinybert_core.gossip_round"
RNG = np.random.default_rng(11)


def both(target, cases):
    py = run_py_many(MODULE, target, cases)
    assert py == run_js_many(MODULE, target, cases)
    return py


def test_prototype_from_statistics_is_the_servers_first_head():
    rows, cols = 4, 16
    stats = RNG.normal(scale=0.2, size=rows * cols + rows)
    stats[rows * cols:] = [0.5, 0.3, 0.0, 0.2]
    stats[3 * cols:4 * cols] *= 30   # a mean longer than 1 is shortened
    cases = [[stats[:rows * cols].tolist(), stats[rows * cols:].tolist(), rows, cols, 40.0]]
    out = both("prototype_from_statistics", cases)[0]
    ours = np.array(out["weights"] + out["bias"])
    np.testing.assert_allclose(ours, prototype_head(stats, rows, cols), atol=1e-12)
    assert prototype_from_statistics([float("nan")] * 2, [0.5], 1, 2, 40.0)["bias"] == [-80.0]


def test_split_accuracy_and_screening_are_identical():
    ys = RNG.integers(0, 3, size=40).tolist()
    both("holdout_split", [[ys, 3, 0.2, 0], [ys, 3, 0.2, 7], [[0, 1], 2, 0.2, 0]])
    xs = RNG.normal(size=(10, 5)).tolist()
    w, b = RNG.normal(size=15).tolist(), RNG.normal(size=3).tolist()
    both("accuracy", [[w, b, 3, 5, xs, RNG.integers(0, 3, size=10).tolist()],
                      [w, b, 3, 5, [], []]])
    both("worse_on_held_out", [[0.8, 0.6, 5], [0.8, 0.6, 20], [None, 0.1, 4], [0.5, 0.1, 0]])
    own_w = (40 * RNG.normal(size=15) / 4).tolist()
    frames = []
    for scale in (1.0, 10.0):
        data = gossip.encode_frame(3, 2, 1, 5.0, 3, 5, [scale * v + 0.5 for v in own_w], b)
        frame = gossip.decode_frame(gossip.append_signature(data, bytes(64)))
        frame = {k: v for k, v in frame.items() if k not in ("signed", "signature")}
        frames.append(frame)
    out = both("screen", [[own_w, b, frames[0], 3, 5, 3, False, False],
                          [own_w, b, frames[1], 3, 5, 3, False, False],   # too long
                          [own_w, b, frames[1], 3, 5, 3, True, False],    # statistics
                          [own_w, b, frames[0], 3, 5, 4, False, True]])   # wrong sender
    assert "__error__" in out[1] and "__error__" in out[3] and "__error__" not in out[2]
