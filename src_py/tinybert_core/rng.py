"""A small seeded PRNG (mulberry32) that gives the same numbers in CPython and in the browser.

JavaScript bit operators work on signed 32-bit integers and ``>>`` sign-extends, while Python
integers are unbounded. So every step here is written with arithmetic that is exact for
doubles below 2**53 and means the same in both: XOR/OR are brought back to ``[0, 2**32)``
with ``% 2**32`` (Python-style modulo in both runtimes), right shifts are floor divisions,
and the 32-bit multiply is split into 16-bit halves. The sequence equals the widely used
JavaScript mulberry32 (``Math.imul`` version) for the same seed.
"""

# Imported by name: in the transpiled code ``math.f`` goes through a property getter.
from math import floor

from tinybert_core.binary import frozen, new_bytes

TWO32 = 4294967296
TWO16 = 65536


def _mul32(a, b):
    """``(a * b) mod 2**32`` for a, b in [0, 2**32), exact in doubles (intermediates < 2**49)."""
    high = a // TWO16
    low = a % TWO16
    return (((high * b) % TWO16) * TWO16 + low * b) % TWO32


def _xor(a, b):
    return (a ^ b) % TWO32


def _next_u32(rng):
    rng.state = (rng.state + 0x6D2B79F5) % TWO32
    a = rng.state
    t = _mul32(_xor(a, a // 32768), (a | 1) % TWO32)
    t = _xor((t + _mul32(_xor(t, t // 128), (t | 61) % TWO32)) % TWO32, t)
    return _xor(t, t // 16384)


def _below(rng, n):
    return floor(_next_u32(rng) / TWO32 * n)


class Rng:
    """mulberry32 generator. seed: any integer (taken modulo 2**32).

    ``next_u32()`` gives integers in [0, 2**32), ``random()`` floats in [0, 1) with 32 random
    bits, ``below(n)`` integers in [0, n), ``shuffle(items)`` shuffles a list in place.
    (The work is in module functions: a method call on ``self`` in transpiled code creates a
    bound function each time.)
    """

    def __init__(self, seed):
        self.state = seed % TWO32

    def next_u32(self):
        return _next_u32(self)

    def random(self):
        return _next_u32(self) / TWO32

    def below(self, n):
        """An integer in [0, n) (n >= 1): a 32-bit draw scaled and floored."""
        return _below(self, n)

    def shuffle(self, items):
        """Fisher-Yates shuffle of the list ``items`` in place; returns None."""
        for i in range(len(items) - 1, 0, -1):
            j = _below(self, i + 1)
            swap = items[i]
            items[i] = items[j]
            items[j] = swap
        return None


class InsecureSeededBytes:
    """NOT PRIVATE: predictable bytes from a seed, for tests and parity checks only.

    A random source for ``tinybert_core.dp_random`` (``bytes(n)`` returns ``n`` bytes: the
    mulberry32 outputs for ``seed``, each little-endian), so that differentially private
    training can be repeated exactly in CPython and in the browser. Anyone who knows or guesses
    the seed can undo the noise: real use needs ``tinybert_core.dp_random.SystemRandomBytes``
    or another cryptographic source.
    """

    def __init__(self, seed):
        self.rng = Rng(seed)

    def bytes(self, n):
        out = new_bytes(n)
        word = 0
        for i in range(n):
            if i % 4 == 0:
                word = _next_u32(self.rng)
            out[i] = word % 256
            word = word // 256
        return frozen(out)


def u32_sequence(seed, n):
    """The first ``n`` 32-bit outputs for ``seed`` (for tests and parity)."""
    rng = Rng(seed)
    return [rng.next_u32() for _ in range(n)]


def permutation(seed, n):
    """A seeded shuffle of ``0 .. n-1`` (for tests and parity)."""
    rng = Rng(seed)
    items = [i for i in range(n)]
    rng.shuffle(items)
    return items
