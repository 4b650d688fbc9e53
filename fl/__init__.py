"""Flask application: serves the built page (``dist/``) and the API under ``/api/``.

``create_app(config)`` is the only entry point; ``python -m fl`` runs it (and ``python -m fl
db upgrade`` migrates the database).
"""
from pathlib import Path

from apiflask import APIFlask

from fl.api import api
from fl.http_errors import ERROR_SCHEMA, VALIDATION_STATUS, register_error_handlers
from fl.logs import configure_logging
from fl.openapi_document import finish
from fl.secure_api import secure_api
from fl.service import init_service
from fl.signalling import init_signalling
from fl.static import add_isolation_headers, register_static

REPO_ROOT = Path(__file__).resolve().parent.parent

OPENAPI = {
    "DESCRIPTION": "Federated learning of a text-classification head. Updates and heads use"
                   " the binary format of src_py/tinybert_core/codec.py.",
    "SECURITY_SCHEMES": {"bearer": {"type": "http", "scheme": "bearer"}},
    "VALIDATION_ERROR_STATUS_CODE": VALIDATION_STATUS,
    "VALIDATION_ERROR_DESCRIPTION": "the request does not match its schema",
    "VALIDATION_ERROR_SCHEMA": ERROR_SCHEMA,
    "HTTP_ERROR_SCHEMA": ERROR_SCHEMA,
    "AUTO_SERVERS": False,
}


def create_app(config=None):
    """Build the Flask app.

    config: optional mapping that overrides the defaults, e.g. ``{"DIST_DIR": path}``; the
    federated-learning keys are listed in ``fl.config``. Returns a configured ``Flask``
    (APIFlask) instance; nothing is started and no database is opened until the API needs
    it. Raises ValueError on a bad FL setting (e.g. an unknown AGGREGATOR, naming the
    allowed).
    """
    app = APIFlask(__name__, title="TinyBERT FL", version="1", spec_path="/api/openapi.json",
                   docs_path=None, static_folder=None)
    app.config.from_mapping(DIST_DIR=str(REPO_ROOT / "dist"), **OPENAPI)
    if config is not None:
        app.config.from_mapping(config)
    init_service(app)
    configure_logging(app)
    app.register_blueprint(api, url_prefix="/api")
    app.register_blueprint(secure_api, url_prefix="/api/secure")
    init_signalling(app)
    register_static(app)
    register_error_handlers(app)
    app.spec_processor(lambda document: finish(app, document))
    app.after_request(add_isolation_headers)
    return app
