"""Run the server in the foreground: ``python -m fl``.

Environment: ``PORT`` (default 8000), ``HOST`` (default 127.0.0.1), ``DIST_DIR`` (the built
page to serve, default ``dist/``), and the federated-learning settings listed in
``fl.config`` (``DATABASE_URL``, ``MIN_UPDATES``, ``ROUND_SECONDS``, ``AGGREGATOR`` ...).
Several processes: ``gunicorn -c python:fl.gunicorn_conf fl.wsgi:app`` with the same
environment.
"""
import os

from fl import create_app
from fl.config import config_from_env


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    app = create_app(config_from_env())
    app.extensions["fl"].ensure_ready()   # the default federation exists before serving
    print(f"Serving the page and the API on http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
