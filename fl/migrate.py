"""Schema migrations: bring a database to the schema this code needs (Alembic, ``fl/migrations``).

``upgrade(database)`` runs every migration the database lacks, in one transaction that holds
the upgrade lock (PostgreSQL: an advisory lock; SQLite: its write lock), so that several
processes starting at once upgrade it once and the others find it done. A database created
before migrations existed (the server's tables, no ``alembic_version``) is adopted: stamped
with the first revision, which is exactly the schema it has, then upgraded like any other.
``check_current(database)`` raises ``SchemaNotCurrent`` unless the schema is at the newest
revision. The migrations ship inside the package (``fl:migrations``), so this works from an
installed copy as well as from the repository.

Operators: ``python -m fl db upgrade`` (the configured ``DATABASE_URL``);
``python -m fl db current`` says where a database stands.
"""
import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select

from fl.database import writing

log = logging.getLogger("fl.migrate")

SCRIPT_LOCATION = "fl:migrations"
BASELINE = "0001"   # the schema of the server before migrations existed
UPGRADE_LOCK = 742031   # PostgreSQL advisory lock key: one upgrade at a time
UPGRADE_COMMAND = "python -m fl db upgrade"


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not the one this code needs; the message says what to run."""


def alembic_config(connection=None):
    """Alembic's configuration for the packaged migrations, on ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision():
    """The newest revision of the packaged migrations."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn):
    """The revision the database on ``conn`` is at; None when it has no ``alembic_version``
    (new, or created before migrations existed)."""
    heads = MigrationContext.configure(conn).get_current_heads()
    return heads[0] if heads else None


def _unversioned_tables(conn):
    """Whether the server's tables exist without migration records (the old server made them)."""
    names = set(inspect(conn).get_table_names())
    return "alembic_version" not in names and "federations" in names


def upgrade(database, revision="head"):
    """Migrate ``database`` (an ``fl.database.Database``) to ``revision``.

    Returns ``(revision before, revision after)``; before is None for a new database and
    ``"adopted"`` for one the old server created. Raises whatever a migration raises, after
    rolling everything of this upgrade back.
    """
    with database.connect() as conn, writing(conn):
        if database.dialect == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(UPGRADE_LOCK)))
        before = current_revision(conn)
        config = alembic_config(conn)
        if before is None and _unversioned_tables(conn):
            command.stamp(config, BASELINE)
            before = "adopted"
        command.upgrade(config, revision)
        after = current_revision(conn)
    if after != before:
        log.info("database schema upgraded: %s -> %s", before or "empty", after)
    return before, after


def check_current(database):
    """Raise SchemaNotCurrent unless the database is at the newest revision."""
    with database.connect() as conn:
        current = current_revision(conn)
    wanted = head_revision()
    if current != wanted:
        raise SchemaNotCurrent(
            "the database schema is at revision %s, this server needs %s: run `%s` with the"
            " same DATABASE_URL" % (current or "none (empty or made before migrations)",
                                    wanted, UPGRADE_COMMAND))
