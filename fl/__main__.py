"""The server's command line: ``python -m fl [command]``.

- ``python -m fl`` (or ``python -m fl serve``): serve the page and the API in the foreground;
  a SQLite database is brought up to date first, a PostgreSQL one must already be;
- ``python -m fl db upgrade [REVISION]``: migrate the configured database to REVISION (default:
  the newest); run it before starting workers on a new PostgreSQL database or a new release;
- ``python -m fl db current``: the database's revision and the newest one;
- the operator's commands (``fl.admin``): ``python -m fl federation create|list``,
  ``invite create|list|revoke``, ``clients list|revoke``, ``rounds list``, ``head export``,
  ``ledger show`` (``python -m fl <command> --help`` for each one's options).

Environment: ``PORT`` (default 8000), ``HOST`` (default 127.0.0.1), ``DIST_DIR`` (the built
page to serve, default ``dist/``), and the federated-learning settings listed in
``fl.config`` (``DATABASE_URL``, ``MIN_UPDATES``, ``ROUND_SECONDS``, ``AGGREGATOR`` ...).
Several processes: ``gunicorn -c python:fl.gunicorn_conf fl.wsgi:app`` with the same
environment.
"""
import argparse
import os
import sys

from fl import admin, create_app, migrate
from fl.config import config_from_env


def serve(app):
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    app.extensions["fl"].ensure_ready()   # the schema and default federation exist first
    print(f"Serving the page and the API on http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


def db_upgrade(app, revision):
    database = app.extensions["fl"].database
    before, after = migrate.upgrade(database, revision)
    print("database %s: %s -> %s" % (database.url.render_as_string(hide_password=True),
                                     before or "empty", after))


def db_current(app):
    database = app.extensions["fl"].database
    with database.connect() as conn:
        current = migrate.current_revision(conn)
    print("database %s: revision %s; newest %s" % (
        database.url.render_as_string(hide_password=True), current or "none",
        migrate.head_revision()))


def parser():
    commands = argparse.ArgumentParser(prog="python -m fl", description="TinyBERT FL server")
    sub = commands.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve the page and the API (the default)")
    db = sub.add_parser("db", help="the database's schema").add_subparsers(
        dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="migrate the configured database")
    upgrade.add_argument("revision", nargs="?", default="head")
    db.add_parser("current", help="the database's revision and the newest one")
    admin.add_parsers(sub)
    return commands


def main(argv=None):
    args = parser().parse_args(argv)
    app = create_app(config_from_env())
    try:
        if args.command == "db" and args.db_command == "upgrade":
            db_upgrade(app, args.revision)
        elif args.command == "db":
            db_current(app)
        elif args.command in admin.GROUPS:
            return admin.run(app, args)
        else:
            serve(app)
    except migrate.SchemaNotCurrent as exc:
        print("fl: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
