"""One error format for the whole server: JSON ``{"error": code, "detail": text}``."""
from flask import jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error the API reports to its client.

    status: HTTP status code; error: short machine-readable code; detail: what is wrong and
    what to do about it, in words a person can act on.
    """

    def __init__(self, status, error, detail):
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


def _render(status, error, detail):
    response = jsonify({"error": error, "detail": detail})
    response.status_code = status
    return response


def register_error_handlers(app):
    """Render ``ApiError`` and every HTTP error as JSON."""

    @app.errorhandler(ApiError)
    def _api_error(exc):
        return _render(exc.status, exc.error, exc.detail)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        return _render(exc.code, exc.name.lower().replace(" ", "_"), exc.description)
