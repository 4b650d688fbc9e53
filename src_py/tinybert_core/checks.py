# __pragma__ ('ecom')
"""Type checks that mean the same in CPython and in the browser (pure).

In transpiled code ``==`` is JavaScript's loose equality, so ``"5" == 5`` holds and a number
that arrives as a string would pass a range check and then concatenate instead of add. Values
from the page or from storage are therefore checked to be real numbers first.
"""


def is_number(value):
    """True for an int or float (also numpy's), False for bool, str, None and the rest."""
    out = False
    # __pragma__ ('skip')
    import numbers
    out = isinstance(value, numbers.Real) and not isinstance(value, bool)
    # __pragma__ ('noskip')
    #?out = typeof(value) == 'number'
    return out


def is_whole(value, lowest, highest):
    """True if ``value`` is a number with no fractional part in ``[lowest, highest]``."""
    return is_number(value) and value >= lowest and value <= highest and value % 1 == 0


def is_finite(value):
    """True unless ``value`` (a number) is NaN or an infinity; the same test in both runtimes."""
    return value - value == 0
