# __pragma__ ('ecom')
"""Random numbers for differential privacy: uniforms, normals and Poisson batches drawn from a
source of random bytes (pure, apart from the runtime's generator in ``SystemRandomBytes``).

A *random source* is any object whose ``bytes(n)`` returns ``n`` random bytes (``bytes`` in
CPython, a ``Uint8Array`` in the browser). The privacy of the noise and of the sampling rests
on it being a cryptographic generator: ``SystemRandomBytes`` (``os.urandom`` in CPython,
``crypto.getRandomValues`` in the browser) or an equivalent the caller wraps.
``tinybert_core.rng.InsecureSeededBytes`` is predictable and only for tests.

The same bytes give the same numbers, bit for bit, in CPython and in the browser: only +, -,
*, /, sqrt and comparisons are used, which IEEE doubles round correctly in both. ``Math.log``
and ``Math.cos`` are not correctly rounded, and V8's differ from glibc's: measured on 200,000
uniforms in (0, 1), Node 20's ``Math.log`` differed from CPython's ``math.log`` in the last
bit for 7.2 % of them (``Math.cos(2 pi u)``: 3.3 %). So the normals use Marsaglia's polar
form of the Box-Muller transform, which needs no cosine, and ``tinybert_core.exact_math.ln``.

Like any floating-point Gaussian sampler this one is not exactly Gaussian: uniforms are
multiples of 2**-53, so the normals lie on a fine irregular grid and end near 12 standard
deviations; the accounting assumes the ideal distribution.
"""
# Imported by name: in the transpiled code ``math.f`` goes through a property getter.
from math import sqrt

from tinybert_core.binary import as_bytes, new_bytes
from tinybert_core.exact_math import ln

# Bytes asked of the source at a time: a multiple of 7 (one uniform), and far below the 65,536
# that one crypto.getRandomValues call may fill.
CHUNK = 4095
TWO53 = 9007199254740992.0


class SystemRandomBytes:
    """The runtime's cryptographic generator as a random source: ``os.urandom`` in CPython,
    ``crypto.getRandomValues`` in the browser (at most 65,536 bytes a call there)."""

    def bytes(self, n):
        out = None
        # __pragma__ ('skip')
        import os
        out = os.urandom(n)
        # __pragma__ ('noskip')
        #?out = __new__ (Uint8Array (n))
        #?crypto.getRandomValues (out)
        return out


class RandomStream:
    """Uniform and standard normal numbers from a random source (see the module notes).

    Draw them with the module functions ``next_uniform(stream)`` and ``next_normal(stream)``
    (a method looked up on an object in transpiled code builds a bound function per call).
    The source is asked for ``CHUNK`` bytes at a time. Raises ValueError if ``source`` is None
    or has no ``bytes`` method.
    """

    def __init__(self, source):
        if source is None or not hasattr(source, 'bytes'):
            raise ValueError("Differentially private training needs a source of random "
                             + "bytes: an object whose bytes(n) returns n random bytes, such "
                             + "as SystemRandomBytes.")
        self.source = source
        self.buffer = new_bytes(0)
        self.pos = 0
        self.spare = 0.0
        self.has_spare = False


def _refill(stream):
    data = as_bytes(stream.source.bytes(CHUNK))
    if len(data) != CHUNK:
        raise ValueError("The random source returned " + str(len(data)) + " bytes when asked "
                         + "for " + str(CHUNK) + ".")
    stream.buffer = data
    stream.pos = 0
    return None


def next_uniform(stream):
    """A uniform number in [0, 1): one of the 2**53 multiples of 2**-53, from 7 bytes."""
    if stream.pos + 7 > len(stream.buffer):
        _refill(stream)
    b = stream.buffer
    p = stream.pos
    stream.pos = p + 7
    high = (b[p] % 32) * 65536 + b[p + 1] * 256 + b[p + 2]                      # 21 bits
    low = b[p + 3] * 16777216 + b[p + 4] * 65536 + b[p + 5] * 256 + b[p + 6]    # 32 bits
    return (high * 4294967296.0 + low) / TWO53


def next_normal(stream):
    """A standard normal number (Marsaglia's polar method; pairs, the second kept)."""
    if stream.has_spare:
        stream.has_spare = False
        return stream.spare
    v1 = 0.0
    v2 = 0.0
    s = 0.0
    while s >= 1.0 or s == 0.0:
        v1 = 2.0 * next_uniform(stream) - 1.0    # exact: multiples of 2**-52 in [-1, 1)
        v2 = 2.0 * next_uniform(stream) - 1.0
        s = v1 * v1 + v2 * v2
    factor = sqrt(-2.0 * ln(s) / s)
    stream.spare = v2 * factor
    stream.has_spare = True
    return v1 * factor


def poisson_batch(stream, n, q):
    """Indices of ``0 .. n-1``, each included independently with probability ``q``.

    Index i is included when its uniform is below q; exactly n uniforms are drawn, in index
    order, whatever is chosen.
    """
    out = []
    for i in range(n):
        if next_uniform(stream) < q:
            out.append(i)
    return out


def draws(source, kind, count):
    """``count`` numbers of ``kind`` ('uniform' or 'normal') from a new stream on ``source``
    (for tests and parity checks)."""
    stream = RandomStream(source)
    out = []
    for _ in range(count):
        out.append(next_uniform(stream) if kind == 'uniform' else next_normal(stream))
    return out
