"""WSGI entry for several worker processes: ``gunicorn -c python:fl.gunicorn_conf fl.wsgi:app``
(settings in ``fl.gunicorn_conf``) or ``gunicorn -w 4 fl.wsgi:app``.

Configured from the environment like ``python -m fl``. Every worker makes the database ready
at start: a SQLite one is migrated (one worker does it, the others find it done), a
PostgreSQL one must have been migrated by ``python -m fl db upgrade`` (else the worker stops
with that advice); then the configured federations are created if missing.
"""
from fl import create_app
from fl.config import config_from_env

app = create_app(config_from_env())
app.extensions["fl"].ensure_ready()
