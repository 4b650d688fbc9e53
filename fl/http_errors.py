"""Errors over HTTP: one JSON format for every error, and the status each refusal gets.

Every error answer is ``{"error": code, "detail": text, ...extra}``: ``ApiError`` raised by
a view, a ``fl.refusals.Refusal`` (``error`` is its reason, the status comes from
``REFUSAL_STATUS``; one with ``retry_after`` in its extra fields also sends that many
seconds as ``Retry-After``), a request that fails its schema (400 ``bad_request``, with ``invalid``:
the failing fields by location) and every HTTP error Flask raises itself (404, 405, 413...).
"""
from flask import jsonify
from werkzeug.exceptions import default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from fl import enrollment, refusals, secure_rounds
from tinybert_core import codec

# Reasons the codec gives for bytes that are an update the head cannot take (422); its other
# reasons mean the bytes are not an update at all (400).
_UNPROCESSABLE = ("bad_scheme", "bad_shape", "non_finite")

REFUSAL_STATUS = {
    **{reason: (422 if reason in _UNPROCESSABLE else 400) for reason in codec.REASONS},
    refusals.UNAUTHORIZED: 401,
    refusals.WRONG_CLIENT: 403,
    refusals.STALE_ROUND: 409,
    refusals.STALE_BASE: 409,
    refusals.REPLAY: 409,
    refusals.TOO_LARGE: 413,   # the codec's too_large only happens when encoding
    refusals.WRONG_CONTENT_TYPE: 415,
    refusals.NORM_EXCEEDED: 422,
    refusals.RATE_LIMITED: 429,
    secure_rounds.NOT_SECURE: 409,
    secure_rounds.PLAIN_ONLY: 409,
    secure_rounds.WRONG_PHASE: 409,
    secure_rounds.ALREADY_SENT: 409,
    secure_rounds.NOT_MEMBER: 403,
    secure_rounds.BAD_KEYS: 422,
    secure_rounds.BAD_SHARES: 422,
    secure_rounds.BAD_INPUT: 422,
    secure_rounds.BAD_REVEAL: 422,
    secure_rounds.BUDGET_SPENT: 403,
    secure_rounds.INVITE_SHARE: 403,
    **{reason: 403 for reason in enrollment.REASONS},
}

VALIDATION_STATUS = 400

ERROR_SCHEMA = {
    "type": "object", "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code; for a refused"
                  " update, the reason counted in the round"},
        "detail": {"type": "string", "description": "what is wrong, in words"},
        "invalid": {"type": "object", "description": "the fields that failed the request's"
                    " schema, by location (json, query)"}}}


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


def error_response(status, error, detail, extra=None):
    """The JSON answer of an error (``extra`` cannot override ``error`` or ``detail``)."""
    response = jsonify({**(extra or {}), "error": error, "detail": detail})
    response.status_code = status
    return response


def refusal_status(reason):
    """The HTTP status of a refusal with this reason (400 for a reason not in the table)."""
    return REFUSAL_STATUS.get(reason, 400)


def _code(status):
    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")


def _validation_text(invalid):
    parts = []
    for location, fields in invalid.items():
        for field, messages in fields.items():
            parts.append("%s %s: %s" % (location, field, "; ".join(map(str, messages))))
    return "; ".join(parts) or "the request does not match its schema"


def register_error_handlers(app):
    """Render ApiError, Refusal, schema failures and every HTTP error as JSON (``app`` is
    an APIFlask, whose error processor sees the last two)."""

    @app.errorhandler(ApiError)
    def _api_error(exc):
        return error_response(exc.status, exc.error, exc.detail, exc.extra)

    @app.errorhandler(refusals.Refusal)
    def _refusal(exc):
        response = error_response(refusal_status(exc.reason), exc.reason, exc.detail,
                                  exc.extra)
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(int(exc.extra["retry_after"]))
        return response

    @app.error_processor
    def _http_error(error):
        status = error.status_code
        if status == VALIDATION_STATUS and isinstance(error.detail, dict) and error.detail:
            response = error_response(status, "bad_request", _validation_text(error.detail),
                                      {"invalid": error.detail})
        else:
            exception = default_exceptions.get(status)
            detail = exception.description if exception is not None else str(error.message)
            response = error_response(status, _code(status), detail)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response
