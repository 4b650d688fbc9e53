"""Alembic's entry point: runs the migrations on the connection ``fl.migrate`` hands over.

``fl.migrate`` passes an open connection inside the transaction that holds the upgrade lock
(``config.attributes["connection"]``), so the migrations join that transaction. Run by the
``alembic`` command from the repository (``alembic.ini``), it connects to the configured
database itself (``DATABASE_URL``, else ``DATABASE_PATH``, else ``instance/fl.sqlite3``).
"""
import os

from alembic import context

from fl.tables import metadata


def _run(connection):
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=True,   # SQLite alters a table by rebuilding it
                      # SQLite has no identity columns: comparing defaults there would
                      # find one on every id.
                      compare_server_default=connection.dialect.name != "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def main():
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from fl.database import Database
    url = (os.environ.get("DATABASE_URL") or os.environ.get("DATABASE_PATH")
           or os.path.join("instance", "fl.sqlite3"))
    database = Database(url)
    try:
        with database.engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        database.dispose()


main()
