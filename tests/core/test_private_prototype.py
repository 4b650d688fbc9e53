"""The private prototype head's pieces (``tinybert_core.private_prototype``) against numpy:
class sums with every embedding at most length 1, a member's sums scaled to norm 1, the
example level's noise of standard deviation z from the random source (the head of directions
is checked against the server's in tests/server/test_client_privacy.py)."""
import numpy as np
import pytest

from tinybert_core.dp_random import SystemRandomBytes
from tinybert_core.private_prototype import (
    class_sums,
    example_sums,
    member_sums,
)
from tinybert_core.rng import InsecureSeededBytes

LABELS = ['Dev', 'Meeting', 'Email']
DIM = 16
RNG = np.random.default_rng(11)
XS = RNG.normal(size=(12, DIM))
XS /= np.linalg.norm(XS, axis=1, keepdims=True)
YS = [0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0]      # no example of Email


def reference_sums(xs, ys):
    sums = np.zeros((len(LABELS), DIM))
    for x, y in zip(xs, ys):
        x = np.asarray(x, dtype=float)
        sums[y] += x / max(1.0, np.linalg.norm(x))
    return sums


def test_class_sums_shorten_long_embeddings_to_length_1():
    xs = XS.tolist()
    xs[3] = (XS[3] * 5).tolist()             # too long: counts as its unit direction
    got = np.array(class_sums(xs, YS, len(LABELS), DIM)).reshape(len(LABELS), DIM)
    np.testing.assert_allclose(got, reference_sums(XS, YS), rtol=1e-12, atol=1e-15)


def test_a_members_sums_have_norm_1_and_no_counts():
    got = member_sums(LABELS, DIM, XS.tolist(), YS)
    ref = reference_sums(XS, YS)
    np.testing.assert_allclose(got['weights'], (ref / np.linalg.norm(ref)).ravel(), rtol=1e-12)
    assert np.linalg.norm(got['weights']) == pytest.approx(1.0, abs=1e-12)
    assert list(got['bias']) == [0.0, 0.0, 0.0] and got['examples'] == 12


def test_example_noise_has_standard_deviation_z_and_follows_the_random_source():
    z = 1.7
    draws = []
    for seed in range(40):                  # 40 x 48 weights = 1,920 normals
        got = example_sums(LABELS, DIM, XS.tolist(), YS, z, InsecureSeededBytes(seed))
        draws.append(np.array(got['weights']) - reference_sums(XS, YS).ravel())
    noise = np.concatenate(draws)
    assert abs(noise.std(ddof=1) - z) < 0.15 * z and abs(noise.mean()) < 4 * z / np.sqrt(1920)
    same = example_sums(LABELS, DIM, XS.tolist(), YS, z, InsecureSeededBytes(3))
    again = example_sums(LABELS, DIM, XS.tolist(), YS, z, InsecureSeededBytes(3))
    assert list(same['weights']) == list(again['weights'])
    fresh = [example_sums(LABELS, DIM, XS.tolist(), YS, z, SystemRandomBytes())['weights']
             for _ in range(2)]
    assert list(fresh[0]) != list(fresh[1])
    # z = 0 is the sums themselves (no random source needed).
    plain = example_sums(LABELS, DIM, XS.tolist(), YS, 0.0, None)
    np.testing.assert_allclose(plain['weights'], reference_sums(XS, YS).ravel(), rtol=1e-12)


def test_refusals_name_the_problem():
    with pytest.raises(ValueError, match='standard deviation'):
        example_sums(LABELS, DIM, XS.tolist(), YS, -1.0, SystemRandomBytes())
    with pytest.raises(ValueError, match='source of random'):
        example_sums(LABELS, DIM, XS.tolist(), YS, 1.0, None)
    with pytest.raises(ValueError, match='label index 3'):
        member_sums(LABELS, DIM, XS[:2].tolist(), [0, 3])


def test_a_members_share_of_distributed_noise_sums_to_the_full_noise():
    from tinybert_core.private_prototype import member_noise_std, with_member_noise
    from tinybert_core.secagg import threshold
    z = 2.0
    assert member_noise_std(z, 5) == z / np.sqrt(threshold(5)) == 1.0   # t = 4 of 5
    assert member_noise_std(z, 100) == pytest.approx(z / np.sqrt(67))
    update = {'weights': [0.0] * 600, 'bias': [0.0, 0.0], 'weight': 1}
    # Four members' shares (the fewest whose sum the server can unmask) add up to std z.
    total = sum(np.array(with_member_noise(update, z, 5, 1e6, InsecureSeededBytes(s))['weights'])
                for s in range(4))
    assert abs(total.std(ddof=1) - z) < 0.15 * z
    noisy = with_member_noise(update, z, 5, 3.0, InsecureSeededBytes(9))
    assert np.linalg.norm(noisy['weights']) == pytest.approx(3.0)      # clipped to the bound
    assert noisy['weight'] == 1 and list(noisy['bias']) == [0.0, 0.0]
