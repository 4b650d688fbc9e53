# __pragma__ ('ecom')
"""Shamir secret sharing of byte strings, byte by byte over GF(2^8) (pure).

Each byte of the secret is the constant term of its own random polynomial of degree
``threshold - 1`` over GF(2^8) (the AES field: x^8 + x^4 + x^3 + x + 1); a share is the
polynomial values at one non-zero point ``x`` in 1..255. Any ``threshold`` shares give the
secret back (Lagrange interpolation at 0); fewer give no information about it. So at most 255
shares per secret: secure aggregation shares a browser's secrets with at most 255 others.

Randomness comes in as bytes (``crypto.getRandomValues`` in the browser, ``os.urandom`` in
CPython), so the functions themselves are deterministic and parity-tested.
"""
from tinybert_core.binary import as_bytes, frozen, new_bytes

_TABLES = {"exp": None, "log": None}


class ShamirError(ValueError):
    """Shares or points that cannot be used: the message says which and why."""


def _tables():
    """exp and log tables of GF(2^8) for the generator 3, built on first use."""
    if _TABLES["exp"] is None:
        exp = []
        log = []
        for i in range(256):
            log.append(0)
        value = 1
        for i in range(255):
            exp.append(value)
            log[value] = i
            # value * 3 = value * 2 XOR value; doubling reduces by the field polynomial.
            doubled = value * 2
            if doubled >= 256:
                doubled = doubled ^ 0x11B
            value = doubled ^ value
        _TABLES["exp"] = exp
        _TABLES["log"] = log
    return _TABLES


def gf_mul(a, b):
    """The product of two field elements (integers in 0..255)."""
    if a == 0 or b == 0:
        return 0
    tables = _tables()
    return tables["exp"][(tables["log"][a] + tables["log"][b]) % 255]


def gf_div(a, b):
    """``a / b`` in the field; ``b`` must not be 0."""
    if b == 0:
        raise ShamirError("division by zero in GF(2^8)")
    if a == 0:
        return 0
    tables = _tables()
    return tables["exp"][(tables["log"][a] - tables["log"][b] + 255) % 255]


def _check_points(xs):
    seen = {}
    for x in xs:
        if not (x >= 1 and x <= 255 and x % 1 == 0):
            raise ShamirError("share points must be whole numbers in 1..255, got " + str(x))
        key = str(x)
        if key in seen:
            raise ShamirError("share point " + key + " appears twice")
        seen[key] = True
    return None


def split(secret, xs, threshold, randomness):
    """Shares of ``secret`` (bytes) at the points ``xs`` (distinct integers in 1..255).

    threshold: how many shares rebuild the secret (1 <= threshold <= len(xs));
    randomness: at least ``len(secret) * (threshold - 1)`` uniformly random bytes.
    Returns one bytes object per point, each as long as the secret. Raises ShamirError.
    """
    secret = as_bytes(secret)
    randomness = as_bytes(randomness)
    _check_points(xs)
    if not (threshold >= 1 and threshold <= len(xs)):
        raise ShamirError("threshold " + str(threshold) + " is not between 1 and the "
                          + str(len(xs)) + " shares")
    degree = threshold - 1
    if len(randomness) < len(secret) * degree:
        raise ShamirError("need " + str(len(secret) * degree) + " random bytes, got "
                          + str(len(randomness)))
    shares = []
    for x in xs:
        share = new_bytes(len(secret))
        for j in range(len(secret)):
            # Horner from the highest coefficient down to the secret byte.
            y = 0
            for c in range(degree, 0, -1):
                y = gf_mul(y, x) ^ randomness[j * degree + c - 1]
            share[j] = gf_mul(y, x) ^ secret[j]
        shares.append(frozen(share))
    return shares


def lagrange_at_zero(xs):
    """The coefficients ``l_i(0)`` that rebuild a value at 0 from the values at ``xs``."""
    _check_points(xs)
    out = []
    for i in range(len(xs)):
        numerator = 1
        denominator = 1
        for j in range(len(xs)):
            if j != i:
                numerator = gf_mul(numerator, xs[j])
                denominator = gf_mul(denominator, xs[i] ^ xs[j])
        out.append(gf_div(numerator, denominator))
    return out


def reconstruct(xs, shares):
    """The secret from ``shares`` (bytes) taken at the points ``xs``.

    Give at least the threshold's number of shares: fewer give a wrong value, which nothing
    here can detect. Raises ShamirError on bad points or shares of different lengths.
    """
    if len(xs) != len(shares) or len(xs) == 0:
        raise ShamirError("give one share per point, at least one")
    coefficients = lagrange_at_zero(xs)
    size = len(as_bytes(shares[0]))
    secret = new_bytes(size)
    for i in range(len(shares)):
        share = as_bytes(shares[i])
        if len(share) != size:
            raise ShamirError("shares differ in length")
        c = coefficients[i]
        for j in range(size):
            secret[j] = secret[j] ^ gf_mul(c, share[j])
    return frozen(secret)
