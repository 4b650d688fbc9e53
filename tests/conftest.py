"""Shared pytest setup: make the browser sources (src_py) and the test helpers importable."""
import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.join(os.path.dirname(_TESTS), 'src_py')
for _p in (_SRC, _TESTS):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# Browser end-to-end fixtures (real server over HTTP, Debian's Chromium), shared by all modules.
from e2e_support import app_page, browser, page, server  # noqa: E402,F401
