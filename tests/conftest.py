"""Markers by layer, so that ``-m`` can pick what a run needs.

- ``browser``: every test under ``tests/browser`` (headless Chromium against the real server
  and the built page);
- ``postgres``: every test that starts a PostgreSQL server (the ``postgres_url`` fixture);
- ``model``: tests that need the built encoder in ``public/model`` (``tests/model``,
  ``tests/twin`` — the ``python -m tinybert`` command line — and the browser tests).

``make test-fast`` runs ``-m "not browser and not model"``: no browser, no model build.
"""
import pytest

_LAYER_MARKS = {"browser": ("browser", "model"), "model": ("model",), "twin": ("model",)}


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = item.path.parts
        layer = parts[parts.index("tests") + 1] if "tests" in parts else ""
        for mark in _LAYER_MARKS.get(layer, ()):
            item.add_marker(getattr(pytest.mark, mark))
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
