"""Server fixtures: a throw-away PostgreSQL server for the tests that run on it."""
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)
