"""Shamir sharing over GF(2^8) with numpy: byte for byte what ``tinybert_core.shamir`` gives
(tested), vectorised over the bytes and the points, for the server's reconstructions and
for Python clients in large simulated cohorts."""
import numpy as np

from tinybert_core import shamir


def _tables():
    exp = np.zeros(512, dtype=np.int64)
    log = np.zeros(256, dtype=np.int64)
    tables = shamir._tables()   # the core's tables: one definition of the field
    exp[:255] = tables["exp"]
    exp[255:510] = tables["exp"]
    log[:] = tables["log"]
    return exp, log


EXP, LOG = _tables()


def mul(a, b):
    """Element-wise product of two arrays of field elements."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    return np.where((a == 0) | (b == 0), 0, EXP[LOG[a] + LOG[b]])


def split(secret, xs, threshold, randomness):
    """``tinybert_core.shamir.split`` (same arguments, same shares)."""
    shamir._check_points(xs)
    secret = np.frombuffer(bytes(secret), dtype=np.uint8).astype(np.int64)
    degree = threshold - 1
    if not 1 <= threshold <= len(xs):
        raise shamir.ShamirError("threshold %d is not between 1 and the %d shares"
                                 % (threshold, len(xs)))
    if len(randomness) < secret.size * degree:
        raise shamir.ShamirError("need %d random bytes, got %d"
                                 % (secret.size * degree, len(randomness)))
    coefficients = np.frombuffer(bytes(randomness), dtype=np.uint8)[:secret.size * degree]
    coefficients = coefficients.astype(np.int64).reshape(secret.size, degree).T
    points = np.asarray(xs, dtype=np.int64)[:, None]
    values = np.zeros((len(xs), secret.size), dtype=np.int64)
    for c in range(degree - 1, -1, -1):
        values = mul(values, points) ^ coefficients[c]
    values = mul(values, points) ^ secret
    return [row.astype(np.uint8).tobytes() for row in values]


def reconstruct(xs, shares):
    """``tinybert_core.shamir.reconstruct`` (same arguments, same secret)."""
    if len(xs) != len(shares) or len(xs) == 0:
        raise shamir.ShamirError("give one share per point, at least one")
    coefficients = np.asarray(shamir.lagrange_at_zero(xs), dtype=np.int64)[:, None]
    rows = np.stack([np.frombuffer(bytes(s), dtype=np.uint8) for s in shares]).astype(np.int64)
    return np.bitwise_xor.reduce(mul(coefficients, rows), axis=0).astype(np.uint8).tobytes()
