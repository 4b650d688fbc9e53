"""The server's log: standard ``logging`` under the logger ``fl`` (``fl.rounds``, ...).

``configure_logging(app)`` sets the level from ``LOG_LEVEL`` and prints the lines to stderr,
unless the app is ``TESTING`` or a handler of the host already takes them (as Flask decides
for its own logger): pytest's capture, or a logging set-up of gunicorn or the operator's.
Tests therefore print them only when asked (``caplog``, ``--log-cli-level``). Lines name
federations, rounds, reasons and client ids; never a token.
"""
import logging

from flask.logging import has_level_handler

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(app):
    """Configure the ``fl`` logger for ``app`` (idempotent); return it."""
    logger = logging.getLogger("fl")
    logger.setLevel(app.config["LOG_LEVEL"])
    if not app.config.get("TESTING") and not has_level_handler(logger):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    return logger
