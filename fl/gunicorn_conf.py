"""gunicorn settings that suit this server: ``gunicorn -c python:fl.gunicorn_conf fl.wsgi:app``.

One process a CPU core, each with threads: the threads of a process that store updates at
the same time share one transaction and its commit (``fl.group_commit``), which sync
workers, one request at a time, never can. Keep-alive spares a TCP connection per request.
Options given on the command line win (e.g. ``-w 4``); ``WEB_CONCURRENCY`` sets the number of
processes as it does for gunicorn itself.
"""
import os

workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
worker_class = "gthread"
threads = 16
keepalive = 5
