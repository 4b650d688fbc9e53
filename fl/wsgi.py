"""WSGI entry for several worker processes: ``gunicorn -c python:fl.gunicorn_conf fl.wsgi:app``
(settings in ``fl.gunicorn_conf``) or ``gunicorn -w 4 fl.wsgi:app``.

Configured from the environment like ``python -m fl``; every worker creates the schema and
the configured federations if missing (serialised by the database, so safe to race).
"""
from fl import create_app
from fl.config import config_from_env

app = create_app(config_from_env())
app.extensions["fl"].ensure_ready()
