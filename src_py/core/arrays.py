# __pragma__ ('ecom')
"""Numeric arrays that mean the same in CPython and in the browser.

In CPython these are lists of floats; transpiled, typed arrays (``Float64Array`` keeps the
same double precision as CPython, so results match bit for bit).
"""


def zeros(n):
    """Return ``n`` zeros: a list of floats in CPython, a ``Float64Array`` in the browser."""
    out = None
    # __pragma__ ('skip')
    out = [0.0] * n
    # __pragma__ ('noskip')
    #?out = __new__ (Float64Array (n))
    return out


def to_float32(values):
    """Return ``values`` as 32-bit floats: a ``Float32Array`` in the browser.

    In CPython each value is rounded to the nearest float32, so both runtimes hold the same
    numbers.
    """
    out = None
    # __pragma__ ('skip')
    import struct
    out = [struct.unpack("f", struct.pack("f", v))[0] for v in values]
    # __pragma__ ('noskip')
    #?out = __new__ (Float32Array (values))
    return out
