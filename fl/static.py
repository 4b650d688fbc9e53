"""Serving the built page from ``dist/`` with the headers the page needs.

A missing file is a 404, never ``index.html``: the page must be able to tell a missing model
file from a real one (a 200 HTML answer makes onnxruntime report "protobuf parsing failed").
"""
from pathlib import Path

from flask import current_app, send_from_directory

from fl.errors import ApiError

# Types the standard mimetypes table may not know.
CONTENT_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".onnx": "application/octet-stream",
    ".map": "application/json",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


def add_isolation_headers(response):
    """Cross-origin isolation, so that onnxruntime-web may use WASM threads."""
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _serve(path):
    dist = Path(current_app.config["DIST_DIR"])
    if not (dist / "index.html").is_file():
        raise ApiError(
            503, "not_built", f"The page is not built ({dist}/index.html is missing): run `make build`."
        )
    target = dist / path
    if not target.is_file():
        raise ApiError(404, "not_found", f"No file {path!r} in the built page.")
    mimetype = CONTENT_TYPES.get(target.suffix)
    response = send_from_directory(dist, path, mimetype=mimetype, conditional=True)
    # Hashed assets never change; the page shell and the model folder are revalidated.
    if path.startswith("assets/"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response


def register_static(app):
    """Route ``/`` and every non-API path to files in ``DIST_DIR``."""

    @app.get("/")
    def index():
        return _serve("index.html")

    @app.get("/<path:path>")
    def static_file(path):
        return _serve(path)
