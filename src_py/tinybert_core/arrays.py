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
