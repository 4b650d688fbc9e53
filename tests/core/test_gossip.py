"""Gossip frames and push-sum mixing under CPython, against numpy references."""
import os

import numpy as np
import pytest

from tinybert_core import gossip
from tinybert_core.gossip import GossipError

ROWS, COLS = 3, 16
RNG = np.random.default_rng(4)


def head():
    return RNG.normal(scale=3, size=ROWS * COLS).tolist(), RNG.normal(size=ROWS).tolist()


def signed(frame):
    return gossip.append_signature(frame, os.urandom(64))


def test_a_frame_round_trips_within_int8_rounding():
    weights, bias = head()
    frame = signed(gossip.encode_frame(7, 12, 2, 37.5, ROWS, COLS, weights, bias))
    got = gossip.decode_frame(frame)
    assert (got["sender"], got["round"], got["step"], got["mass"]) == (7, 12, 2, 37.5)
    for row in range(ROWS):
        values = np.array(weights[row * COLS:(row + 1) * COLS])
        error = np.abs(np.array(got["weights"][row * COLS:(row + 1) * COLS]) - values)
        assert error.max() <= np.abs(values).max() / 127 / 2 * 1.0001
    assert got["signed"] == frame[:-64] and got["signature"] == frame[-64:]
    head_bytes = 32 + 4 * ROWS + ROWS * COLS + 4 + ROWS + 4   # the codec's update
    assert len(frame) == 20 + head_bytes + 64 and len(frame) < 16 * 1024


@pytest.mark.parametrize("mangle,reason", [
    (lambda f: f[:30], "truncated"), (lambda f: b"XXXX" + f[4:], "bad_magic"),
    (lambda f: f[:4] + b"\x02" + f[5:], "bad_version"),
    (lambda f: f[:8] + np.float64(-1).tobytes() + f[16:], "bad_mass"),
    (lambda f: f[:8] + np.float64(np.nan).tobytes() + f[16:], "bad_mass"),
    (lambda f: f[:-65] + f[-64:], "bad_length"),
    (lambda f: f[:40] + bytes([f[40] ^ 1]) + f[41:], "bad_checksum"),
])
def test_malformed_frames_are_refused_with_a_reason(mangle, reason):
    weights, bias = head()
    frame = signed(gossip.encode_frame(1, 1, 0, 10.0, ROWS, COLS, weights, bias))
    with pytest.raises(GossipError) as refused:
        gossip.decode_frame(mangle(frame))
    assert refused.value.reason == reason


def test_frames_of_another_shape_or_sender_are_refused():
    weights, bias = head()
    frame = gossip.decode_frame(signed(gossip.encode_frame(5, 1, 0, 1.0, ROWS, COLS,
                                                           weights, bias)))
    gossip.check_frame(frame, ROWS, COLS, 5, None)
    with pytest.raises(GossipError, match="this federation's"):
        gossip.check_frame(frame, ROWS, COLS + 1, 5, None)
    with pytest.raises(GossipError, match="another sender"):
        gossip.check_frame(frame, ROWS, COLS, 6, None)
    length = gossip.head_norm(frame["weights"], frame["bias"])
    assert np.isclose(length, np.linalg.norm(frame["weights"] + frame["bias"]))
    with pytest.raises(GossipError, match="longer"):
        gossip.check_frame(frame, ROWS, COLS, 5, length * 0.99)
    with pytest.raises(GossipError, match="NaN|finite"):
        gossip.encode_frame(5, 1, 0, 1.0, ROWS, COLS, [float("nan")] * (ROWS * COLS), bias)


def test_mixing_is_the_mass_weighted_mean():
    own_w, own_b = head()
    others = [dict(zip(("weights", "bias"), head()), mass=m) for m in (2.0, 5.0)]
    got = gossip.mix(own_w, own_b, 3.0, others, None)
    thetas = np.array([own_w + own_b] + [o["weights"] + o["bias"] for o in others])
    expected = np.average(thetas, axis=0, weights=[3.0, 2.0, 5.0])
    assert np.allclose(got["weights"] + got["bias"], expected, rtol=0, atol=1e-12)
    assert got["mass"] == 10.0
    capped = gossip.mix(own_w, own_b, 1.0, [dict(others[1], mass=1e6)], 4.0)
    assert capped["mass"] == 5.0


def test_push_sum_keeps_the_weighted_mean_and_converges_to_it():
    n = 8
    thetas = [np.array(head()[0]) for _ in range(n)]
    masses = [float(m) for m in RNG.integers(20, 61, size=n)]
    target = np.average(thetas, axis=0, weights=masses)
    for _ in range(30):
        inbox = [[] for _ in range(n)]
        for i in range(n):
            targets = gossip.pick_neighbours([j for j in range(n) if j != i], 2,
                                             int(RNG.integers(2 ** 32)))
            share = gossip.share_of(masses[i], len(targets))
            masses[i] = share
            for j in targets:
                inbox[j].append({"weights": thetas[i].tolist(), "bias": [], "mass": share})
        for i in range(n):
            mixed = gossip.mix(thetas[i].tolist(), [], masses[i], inbox[i], None)
            thetas[i], masses[i] = np.array(mixed["weights"]), mixed["mass"]
        assert np.allclose(np.average(thetas, axis=0, weights=masses), target, atol=1e-9)
    assert max(np.abs(t - target).max() for t in thetas) < 1e-3


def test_pulling_toward_bounds_the_step():
    own_w, own_b = head()
    far_w = [10 * v for v in own_w]
    got = gossip.pull_toward(own_w, own_b, far_w, own_b, 2.5)
    step = np.array(got["weights"]) - np.array(own_w)
    assert np.isclose(np.linalg.norm(step), 2.5)
    direction = np.array(far_w) - np.array(own_w)
    assert np.allclose(step / np.linalg.norm(step), direction / np.linalg.norm(direction))
    assert gossip.pull_toward(own_w, own_b, own_w, own_b, 1.0)["weights"] == own_w


def test_neighbours_are_distinct_and_at_most_the_count():
    picked = gossip.pick_neighbours([4, 5, 6], 2, 1)
    assert len(picked) == 2 and len(set(picked)) == 2 and set(picked) <= {4, 5, 6}
    assert sorted(gossip.pick_neighbours([4, 5], 3, 1)) == [4, 5]
