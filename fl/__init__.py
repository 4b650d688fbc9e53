"""Flask application: serves the built page (``dist/``) and the API under ``/api/``.

``create_app(config)`` is the only entry point; ``python -m fl`` runs it.
"""
from pathlib import Path

from flask import Flask

from fl.api import api
from fl.errors import register_error_handlers
from fl.service import init_service
from fl.static import add_isolation_headers, register_static

REPO_ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None):
    """Build the Flask app.

    config: optional mapping that overrides the defaults, e.g. ``{"DIST_DIR": path}``; the
    federated-learning keys are listed in ``fl.config``. Returns a configured ``Flask``
    instance; nothing is started and no database is opened until the API needs it.
    Raises ValueError on a bad FL setting (e.g. an unknown AGGREGATOR, naming the allowed).
    """
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(DIST_DIR=str(REPO_ROOT / "dist"))
    if config is not None:
        app.config.from_mapping(config)
    init_service(app)
    app.register_blueprint(api, url_prefix="/api")
    register_static(app)
    register_error_handlers(app)
    app.after_request(add_isolation_headers)
    return app
