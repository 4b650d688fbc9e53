"""A throw-away PostgreSQL server for tests: ``initdb`` into a temporary folder, ``pg_ctl
start`` on a free port, stopped and deleted at the end of the session.

Fixtures (import them into a test module to use them):

- ``postgres_server`` (session): the running server's base URL (``postgresql://...``).
- ``postgres_url``: the URL of an empty database for one test.

``migrated(url)`` brings a database to the server's newest schema, as an operator's
``python -m fl db upgrade`` does.

initdb refuses to run as root, so as root the server runs as the ``postgres`` user (Debian's
package creates it) through ``runuser``. Tests are skipped, with the reason, only when the
server binaries are not installed (Debian package ``postgresql``).
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import pytest


def _bin_dir():
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(candidates[-1]) if candidates else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd, user):
    if user is None:
        return cmd
    return ["runuser", "-u", user, "--"] + cmd


class PostgresServer:
    """One server process: ``start()``, ``url(dbname)``, ``create_database(name)``,
    ``reset_database(name)``, ``stop()``."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.root = tempfile.mkdtemp(prefix="fl-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres").pw_name
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run the"
                            " PostgreSQL server as")
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args):
        cmd = _as_server_user([os.path.join(self.bin_dir, args[0])] + list(args[1:]),
                              self.user)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError("%s failed:\n%s\n%s" % (" ".join(cmd), proc.stdout, proc.stderr))

    def start(self):
        self._run("initdb", "-D", self.data, "-U", "fl", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        options = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                   % (self.port, self.root))
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l",
                  os.path.join(self.root, "server.log"), "-w", "-t", "60", "start")
        return self

    def url(self, dbname="postgres"):
        return "postgresql://fl@127.0.0.1:%d/%s" % (self.port, dbname)

    def create_database(self, name):
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE " + name)
        return self.url(name)

    def reset_database(self, name):
        """Empty database ``name``: end its other sessions, recreate its public schema."""
        import psycopg
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return self.url(name)

    def stop(self):
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A running PostgreSQL server for the session (skipped if it is not installed)."""
    bin_dir = _bin_dir()
    if bin_dir is None or not os.path.exists(os.path.join(bin_dir, "pg_ctl")):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed:"
                    " apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install psycopg[binary]")
    server = PostgresServer(bin_dir).start()
    server.create_database("fl_test")
    yield server
    server.stop()


@pytest.fixture()
def postgres_url(postgres_server):
    """The URL of an empty database on the session's server (emptied for each test, which is
    much cheaper than a new database each time)."""
    return postgres_server.reset_database("fl_test")


def migrated(url):
    """Migrate the database at ``url`` to the server's newest schema; return ``url``."""
    from fl import migrate
    from fl.database import Database
    database = Database(url)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    return url
