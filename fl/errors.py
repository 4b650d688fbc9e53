"""One error format for the whole server: JSON ``{"error": code, "detail": text}``, plus
the fields an error may add for its client to act on (e.g. a 409's current round)."""
from flask import jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error the API reports to its client.

    status: HTTP status code; error: short machine-readable code; detail: what is wrong and
    what to do about it, in words a person can act on; extra: more fields of the answer.
    """

    def __init__(self, status, error, detail, extra=None):
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = dict(extra or {})


def _render(status, error, detail, extra=None):
    response = jsonify({**(extra or {}), "error": error, "detail": detail})
    response.status_code = status
    return response


def register_error_handlers(app):
    """Render ``ApiError`` and every HTTP error as JSON."""

    @app.errorhandler(ApiError)
    def _api_error(exc):
        return _render(exc.status, exc.error, exc.detail, exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        return _render(exc.code, exc.name.lower().replace(" ", "_"), exc.description)
