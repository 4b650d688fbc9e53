"""The ``/api/`` blueprint."""
from flask import Blueprint, jsonify

api = Blueprint("api", __name__)


@api.get("/health")
def health():
    """Liveness probe: answers while the process serves requests."""
    return jsonify({"status": "ok"})
