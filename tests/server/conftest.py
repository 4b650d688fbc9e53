"""Server fixtures: ``database``, the settings of an empty database on SQLite and on
PostgreSQL (a throw-away server, tests/support/postgres.py), for the tests that must hold on
both; ``postgres_url`` for the ones about PostgreSQL alone.

``database`` is a dict to merge into the app's config or a server's environment
(``DATABASE_PATH`` or ``DATABASE_URL``). The PostgreSQL one is already migrated, as an
operator's ``python -m fl db upgrade`` would have done; its tests carry the ``postgres``
marker.

``servers``: a list a test appends the server processes it starts to (objects with
``kill()``); whatever is still running is killed at the end.
"""
import pytest

from tests.support.postgres import migrated, postgres_server, postgres_url  # noqa: F401


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    if request.param == "sqlite":
        return {"DATABASE_PATH": str(tmp_path / "fl.sqlite3")}
    return {"DATABASE_URL": migrated(request.getfixturevalue("postgres_url"))}


@pytest.fixture()
def servers():
    started = []
    yield started
    for server in started:
        server.kill()
