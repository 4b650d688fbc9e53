"""Shared pytest setup: make the browser sources (src_py) and the test helpers importable."""
import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.join(os.path.dirname(_TESTS), 'src_py')
for _p in (_SRC, _TESTS):
    if _p not in sys.path:
        sys.path.insert(0, _p)
