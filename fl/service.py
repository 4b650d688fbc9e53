"""The federated-learning service of one app: its database, round rules and federations.

``init_service(app)`` resolves the config once (raising on a bad value) and stores a
``Service`` in ``app.extensions["fl"]``. The schema and the configured federations are made
ready on first use (or by ``Service.ensure_ready()`` at start), so an app that only serves
the page never touches a database: a SQLite database is migrated to the schema this code
needs (``fl.migrate``); a PostgreSQL one must already be (``python -m fl db upgrade``), else
``SchemaNotCurrent`` says so. Each request gets one pooled connection for its whole life
(``Service.connection``), given back at teardown.
"""
import threading

from flask import current_app, g

from fl import migrate, rounds
from fl.config import DEFAULTS, database_location, limits_from, settings_from
from fl.database import Database
from fl.group_commit import GroupCommit
from fl.rate_limits import RateLimiter
from fl.senders import SenderCache


class Service:
    """Database + Settings + federation specs; hands out per-request connections, batches
    the updates that its threads store at the same time (``group``, None when
    ``GROUP_COMMIT`` is off), keeps the clients it has looked up (``senders``) and counts
    requests against the rate limits (``limiter``, ``fl.rate_limits``)."""

    def __init__(self, database, settings, federations, group_commit=True, limits=None):
        self.database = database
        self.limiter = RateLimiter(limits or limits_from(DEFAULTS), settings.clock)
        self.group = GroupCommit() if group_commit else None
        self.senders = SenderCache()
        self.settings = settings
        self.federations = federations
        self._ready = False
        self._lock = threading.Lock()

    def ensure_ready(self):
        """Bring the schema up to date (SQLite) or check it (PostgreSQL), then create the
        configured federations if missing (once a process)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            if self.database.dialect == "sqlite":
                migrate.upgrade(self.database)
            else:
                migrate.check_current(self.database)
            with self.database.connect() as conn:
                for spec in self.federations:
                    rounds.ensure_federation(conn, spec, self.settings)
            self._ready = True

    def connection(self):
        """This request's connection (taken from the pool on first use, given back at
        teardown)."""
        if "fl_conn" not in g:
            self.ensure_ready()
            g.fl_conn = self.database.connect()
        return g.fl_conn


def init_service(app):
    """Fill in FL defaults missing from ``app.config`` and attach the Service."""
    for key, value in DEFAULTS.items():
        if app.config.get(key) is None:   # Flask itself sets MAX_CONTENT_LENGTH to None
            app.config[key] = value
    database = Database(database_location(app.config, app.instance_path),
                        write_lock=app.config["SQLITE_WRITE_LOCK"])
    service = Service(database,
                      settings_from(app.config), list(app.config["FEDERATIONS"]),
                      group_commit=app.config["GROUP_COMMIT"], limits=limits_from(app.config))
    app.extensions["fl"] = service

    @app.teardown_appcontext
    def _release_connection(exc):
        conn = g.pop("fl_conn", None)
        if conn is not None:
            conn.close()

    return service


def service():
    """The current app's Service."""
    return current_app.extensions["fl"]
