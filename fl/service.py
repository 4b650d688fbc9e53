"""The federated-learning service of one app: its database, round rules and federations.

``init_service(app)`` resolves the config once (raising on a bad value) and stores a
``Service`` in ``app.extensions["fl"]``. The schema and the configured federations are
created on first use (or by ``Service.ensure_ready()`` at start), so an app that only
serves the page never touches a database. Each request gets a connection of its own for its
whole life, taken from the process's ``fl.pool.ConnectionPool`` and given back at teardown.
"""
import threading

from flask import current_app, g

from fl import rounds, store
from fl.config import DEFAULTS, database_url, settings_from
from fl.db import Database
from fl.group_commit import GroupCommit
from fl.pool import ConnectionPool


class Service:
    """Database + Settings + federation specs; hands out per-request connections and
    batches the updates that its threads store at the same time (``group``)."""

    def __init__(self, db, settings, federations):
        self.db = db
        self.pool = ConnectionPool(db)
        self.group = GroupCommit()
        self.settings = settings
        self.federations = federations
        self._ready = False
        self._lock = threading.Lock()

    def ensure_ready(self):
        """Create the schema and the configured federations if missing (once a process)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            conn = self.db.connect()
            try:
                with conn.transaction():
                    store.create_schema(self.db, conn)
                for spec in self.federations:
                    rounds.ensure_federation(conn, spec, self.settings)
            finally:
                conn.close()
            self._ready = True

    def connection(self):
        """This request's connection (taken from the pool on first use, given back at
        teardown)."""
        if "fl_conn" not in g:
            self.ensure_ready()
            g.fl_conn = self.pool.acquire()
        return g.fl_conn


def init_service(app):
    """Fill in FL defaults missing from ``app.config`` and attach the Service."""
    for key, value in DEFAULTS.items():
        if app.config.get(key) is None:   # Flask itself sets MAX_CONTENT_LENGTH to None
            app.config[key] = value
    service = Service(Database(database_url(app.config, app.instance_path)),
                      settings_from(app.config), list(app.config["FEDERATIONS"]))
    app.extensions["fl"] = service

    @app.teardown_appcontext
    def _release_connection(exc):
        conn = g.pop("fl_conn", None)
        if conn is not None:
            service.pool.release(conn)

    return service


def service():
    """The current app's Service."""
    return current_app.extensions["fl"]
