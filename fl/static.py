"""Serving the built page from ``dist/`` with the headers the page needs.

A missing file is a 404, never ``index.html``: the page must be able to tell a missing model
file from a real one (a 200 HTML answer makes onnxruntime report "protobuf parsing failed").

Every answer (page and API) carries ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: no-referrer`` besides cross-origin isolation; the page's files also carry a
Content-Security-Policy (``content_security_policy``): scripts only from this origin (the
built page has no inline script) plus ``'wasm-unsafe-eval'``, which onnxruntime-web needs to
compile its WebAssembly; workers from this origin (the tokenizer worker, onnxruntime's
threads); requests only to this origin plus the origins in ``CSP_CONNECT_SRC``; no plugins,
frames, forms or ``<base>``. The browser test ``tests/browser/test_csp.py`` runs the page's
whole workflow under it and finds no violation.
"""
from pathlib import Path

from flask import Blueprint, current_app, send_from_directory
from werkzeug.wsgi import FileWrapper

from fl.http_errors import ApiError

# Files go out in blocks this big when the WSGI server has no file_wrapper of its own.
FILE_BLOCK = 1 << 20

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


def content_security_policy(connect_sources=()):
    """The page's Content-Security-Policy; ``connect_sources``: origins it may also fetch
    from (signalling or STUN servers), besides its own."""
    connect = " ".join(["'self'", *connect_sources])
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        "connect-src " + connect,
        "img-src 'self' data: blob:",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


def add_isolation_headers(response):
    """Cross-origin isolation, so that onnxruntime-web may use WASM threads; no content-type
    sniffing and no Referer sent from the page."""
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _serve(path):
    dist = Path(current_app.config["DIST_DIR"])
    if not (dist / "index.html").is_file():
        raise ApiError(503, "not_built",
                       f"The page is not built ({dist}/index.html is missing): run `make build`.")
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


def _large_blocks(wsgi_app):
    """Let files be sent in FILE_BLOCK pieces when the server offers no ``wsgi.file_wrapper``.

    Werkzeug's development server (``python -m fl``) has none, so files would go out 8 kB at a
    time: a 23 MB model is then thousands of turns of the interpreter shared by every request
    thread, and the page's small requests made meanwhile wait for it. gunicorn brings its own
    wrapper, which is kept.
    """
    def app(environ, start_response):
        environ.setdefault("wsgi.file_wrapper",
                           lambda file, block_size=FILE_BLOCK: FileWrapper(file, FILE_BLOCK))
        return wsgi_app(environ, start_response)

    return app


def register_static(app):
    """Route ``/`` and every non-API path to files in ``DIST_DIR`` (a plain blueprint: the
    page's files are not part of the API's OpenAPI document)."""
    app.wsgi_app = _large_blocks(app.wsgi_app)
    page = Blueprint("page", __name__)
    policy = content_security_policy(app.config.get("CSP_CONNECT_SRC") or ())

    @page.after_request
    def _policy(response):
        response.headers["Content-Security-Policy"] = policy
        return response

    @page.get("/")
    def index():
        return _serve("index.html")

    @page.get("/<path:path>")
    def static_file(path):
        return _serve(path)

    @page.get("/api/<path:path>")
    def unknown_api_route(path):
        # Not a file of the page: whether it is built or not, the API has no such route.
        raise ApiError(404, "not_found", "no API route /api/%s; see /api/openapi.json" % path)

    app.register_blueprint(page)
