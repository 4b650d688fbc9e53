"""Shamir sharing over GF(2^8) under CPython, against a bitwise field reference."""
import itertools
import os
import random

import pytest

from tinybert_core.shamir import ShamirError, gf_div, gf_mul, lagrange_at_zero, reconstruct, split


def slow_mul(a, b):
    """Carry-less multiplication reduced by x^8 + x^4 + x^3 + x + 1 (the AES field)."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return out


def test_field_multiplication_matches_the_bitwise_reference():
    for a, b in itertools.product(range(256), repeat=2):
        assert gf_mul(a, b) == slow_mul(a, b)


def test_division_inverts_multiplication():
    for a in range(256):
        for b in range(1, 256):
            assert gf_mul(gf_div(a, b), b) == a
    with pytest.raises(ShamirError):
        gf_div(1, 0)


def evaluate(coefficients, x):
    y = 0
    for c in reversed(coefficients):
        y = slow_mul(y, x) ^ c
    return y


def test_shares_are_the_polynomial_values_at_the_points():
    secret, randomness = os.urandom(4), os.urandom(4 * 2)
    xs = [1, 7, 200, 255]
    shares = split(secret, xs, 3, randomness)
    for j in range(4):
        coefficients = [secret[j], randomness[2 * j], randomness[2 * j + 1]]
        assert [share[j] for share in shares] == [evaluate(coefficients, x) for x in xs]


@pytest.mark.parametrize("n,t", [(1, 1), (5, 4), (10, 7), (100, 67), (255, 170)])
def test_any_threshold_of_shares_rebuilds_the_secret(n, t):
    rng = random.Random(n)
    secret = os.urandom(32)
    xs = rng.sample(range(1, 256), n)
    shares = split(secret, xs, t, os.urandom(32 * (t - 1)))
    for _ in range(3):
        chosen = rng.sample(range(n), t)
        assert reconstruct([xs[i] for i in chosen], [shares[i] for i in chosen]) == secret
    assert reconstruct(xs, shares) == secret   # more than t shares interpolate the same


def test_fewer_shares_than_the_threshold_leave_the_secret_uniform():
    # For t-1 fixed shares, every secret byte is equally consistent: count, over all values
    # of the unknown top coefficient, which secrets the t-1 shares point to.
    xs = [3, 9, 27]
    secret = bytes([42])
    seen = set()
    for top in range(256):
        shares = split(secret, xs, 3, bytes([5, top]))
        seen.add(reconstruct(xs[:2], shares[:2]))
    assert len(seen) == 256


def test_lagrange_coefficients_sum_to_one():
    # The constant polynomial 1 is rebuilt as the XOR of the coefficients.
    coefficients = lagrange_at_zero([1, 2, 3, 200])
    total = 0
    for c in coefficients:
        total ^= c
    assert total == 1


@pytest.mark.parametrize("xs,t,message", [([0, 1], 1, "1..255"), ([1, 256], 1, "1..255"),
                                          ([2, 2], 1, "twice"), ([1, 2], 3, "threshold")])
def test_bad_points_and_thresholds_are_refused(xs, t, message):
    with pytest.raises(ShamirError, match=message):
        split(b"ab", xs, t, os.urandom(8))


def test_too_little_randomness_is_refused():
    with pytest.raises(ShamirError, match="random bytes"):
        split(b"abcd", [1, 2, 3], 3, b"123")


def test_the_servers_numpy_version_gives_the_same_shares_and_secrets():
    from fl import gf256
    rng = random.Random(3)
    for n, t in [(1, 1), (2, 2), (9, 6), (100, 67), (255, 170)]:
        xs = rng.sample(range(1, 256), n)
        secret, randomness = os.urandom(32), os.urandom(32 * (t - 1))
        shares = split(secret, xs, t, randomness)
        assert gf256.split(secret, xs, t, randomness) == shares
        chosen = rng.sample(range(n), t)
        points = [xs[i] for i in chosen]
        assert gf256.reconstruct(points, [shares[i] for i in chosen]) == secret
        assert gf256.reconstruct(points, [shares[i] for i in chosen]) == \
            reconstruct(points, [shares[i] for i in chosen])
