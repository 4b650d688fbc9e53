"""Benchmarks: ``python -m bench [name ...]`` (see ``bench/__main__.py``)."""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, 'bench', 'results')


def src_py_on_path():
    """Make the browser sources importable under CPython, as the tests do."""
    src = os.path.join(REPO, 'src_py')
    if src not in sys.path:
        sys.path.insert(0, src)
