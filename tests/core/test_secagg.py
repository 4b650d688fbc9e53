"""Secure aggregation's arithmetic under CPython, against numpy references: fixed point,
stochastic rounding, mask cancellation mod 2^32, the neighbour graph and the share messages."""
import os

import numpy as np
import pytest

from tinybert_core import secagg
from tinybert_core.secagg import SecAggError

ROWS, COLS = 3, 8


def random_update(rng, clip):
    x = rng.normal(size=ROWS * COLS + ROWS)
    x *= rng.uniform(0.1, 1.0) * clip / np.linalg.norm(x)
    return x[:ROWS * COLS].tolist(), x[ROWS * COLS:].tolist()


def as_u32(words):
    return np.array(words, dtype=np.uint32)


def test_the_scale_keeps_the_worst_sum_inside_32_bits():
    for n, cap, clip in [(5, 1, 30.0), (100, 1000, 30.0), (500, 1000, 30.0), (3, 7, 0.5)]:
        scale = secagg.fixed_point_scale(n, cap, clip)
        assert scale == 2 ** round(np.log2(scale))
        assert n * (cap * clip * scale + 1) < 2 ** 31
        assert n * (cap * clip * 2 * scale + 1) >= 2 ** 31 - n   # the next power would not fit
    with pytest.raises(SecAggError, match="32-bit"):
        secagg.fixed_point_scale(100000, 1000000, 1e6)


def test_encoding_rounds_within_one_unit_and_carries_the_weight():
    rng = np.random.default_rng(1)
    weights, bias = random_update(rng, 30.0)
    scale = secagg.fixed_point_scale(10, 100, 30.0)
    words = secagg.encode_input(weights, bias, 37, scale, 30.0, 100, os.urandom(4 * 27))
    values = np.array([secagg.signed(w) for w in words[:-1]], dtype=np.float64)
    exact = np.array(weights + bias) * 37 * scale
    assert np.all(np.abs(values - exact) < 1) and words[-1] == 37


def test_stochastic_rounding_is_unbiased():
    scale = 1.0
    total = 0
    trials = 4000
    for _ in range(trials):
        words = secagg.encode_input([0.3], [], 1, scale, 1.0, 1, os.urandom(4))
        total += secagg.signed(words[0])
    assert abs(total / trials - 0.3) < 0.03   # 4.4 standard errors of a Bernoulli(0.3) mean


@pytest.mark.parametrize("bad,message", [([float("nan")], "not finite"), ([40.0], "exceeds"),
                                         ([1.0], "weight")])
def test_bad_inputs_are_refused(bad, message):
    weight = 0 if message == "weight" else 1
    with pytest.raises(SecAggError, match=message):
        secagg.encode_input(bad, [], weight, 1.0, 30.0, 10, os.urandom(4))


def test_masks_cancel_and_the_sum_decodes_to_weighted_fedavg():
    rng = np.random.default_rng(2)
    n, clip, cap = 7, 30.0, 50
    scale = secagg.fixed_point_scale(n, cap, clip)
    length = secagg.input_length(ROWS, COLS)
    ids = [3, 11, 12, 40, 41, 90, 91]
    pair = {(u, v): os.urandom(4 * length) for u in ids for v in ids if u < v}
    updates, counts, masked, own = [], [], [], []
    for u in ids:
        weights, bias = random_update(rng, clip)
        count = int(rng.integers(1, cap + 1))
        updates.append(np.array(weights + bias))
        counts.append(count)
        words = secagg.encode_input(weights, bias, count, scale, clip, cap,
                                    os.urandom(4 * (length - 1)))
        self_mask = secagg.words_from_bytes(os.urandom(4 * length), length)
        own.append(self_mask)
        secagg.add_words(words, self_mask, 1)
        for v in ids:
            if v != u:
                key = (min(u, v), max(u, v))
                secagg.add_words(words, secagg.words_from_bytes(pair[key], length),
                                 secagg.mask_sign(u, v))
        masked.append(as_u32(words))
    total = np.sum(masked, axis=0, dtype=np.uint32) - np.sum(own, axis=0, dtype=np.uint32)
    sums = secagg.decode_sum(total.tolist(), scale, ROWS, COLS)
    expected = np.sum([c * x for c, x in zip(counts, updates)], axis=0)
    got = np.array(sums["weights"] + sums["bias"])
    assert sums["weight"] == sum(counts)
    assert np.max(np.abs(got - expected)) <= n / scale
    # One masked input alone says nothing of its update: it is indistinguishable from noise.
    assert abs(np.corrcoef(masked[0][:-1].astype(np.float64), updates[0])[0, 1]) < 0.5


def test_word_helpers_wrap_mod_2_32():
    words = secagg.new_words(3)
    secagg.add_words(words, [1, 2 ** 32 - 1, 5], -1)
    assert words == [2 ** 32 - 1, 1, 2 ** 32 - 5]
    assert secagg.words_from_bytes(secagg.words_to_bytes(words), 3) == words
    with pytest.raises(SecAggError, match="lengths differ"):
        secagg.add_words(words, [1], 1)


@pytest.mark.parametrize("n", [5, 6, 128, 129, 500])
def test_neighbourhoods_are_symmetric_and_regular(n):
    ids = [10 * i + 1 for i in range(n)]
    graph = secagg.neighbourhoods(ids, 1234)
    degree = secagg.graph_degree(n)
    assert sorted(graph) == sorted(str(u) for u in ids)
    for u in ids:
        near = graph[str(u)]
        assert u in near and len(near) == degree + 1 and near == sorted(near)
        assert len(near) <= 255   # Shamir points over GF(2^8)
        for v in near:
            assert u in graph[str(v)]
    assert graph == secagg.neighbourhoods(list(reversed(ids)), 1234)
    if n > secagg.FULL_GRAPH_MAX:
        assert graph != secagg.neighbourhoods(ids, 1235) and degree < n - 1


def test_threshold_is_two_thirds_rounded_up():
    assert [secagg.threshold(n) for n in (1, 3, 5, 9, 10, 100)] == [1, 2, 4, 6, 7, 67]


def test_share_messages_round_trip_and_name_their_ends():
    seed, key = os.urandom(32), os.urandom(32)
    text = secagg.share_plaintext(7, 9, seed, key)
    assert secagg.read_share_plaintext(text, 7, 9) == {"seed_share": seed, "key_share": key}
    with pytest.raises(SecAggError, match="another sender"):
        secagg.read_share_plaintext(text, 9, 7)
    with pytest.raises(SecAggError, match="bytes"):
        secagg.read_share_plaintext(text[:-1], 7, 9)
    assert secagg.associated_data(1, 2, 3) == bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])
