"""Run the server in the foreground: ``python -m fl``.

Environment: ``PORT`` (default 8000), ``HOST`` (default 127.0.0.1), ``DIST_DIR`` (the built
page to serve, default ``dist/``).
"""
import os

from fl import create_app


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    config = {"DIST_DIR": os.environ["DIST_DIR"]} if os.environ.get("DIST_DIR") else None
    app = create_app(config)
    print(f"Serving the page and the API on http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
