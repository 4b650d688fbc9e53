"""Fixtures for end-to-end tests: the real Flask server over HTTP and Debian's Chromium.

The server is started as ``python -m fl`` (what ``make run`` starts) on a free port; Chromium
is driven by Playwright with a fresh profile per browser context.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE_READY_MS = 120_000


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``python -m fl`` process serving ``dist_dir`` on a free loopback port."""

    def __init__(self, dist_dir=DIST, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = tempfile.mkdtemp(prefix="fl-db-")
        env = dict(dict(os.environ, PORT=str(self.port), DIST_DIR=str(dist_dir),
                        DATABASE_PATH=os.path.join(self.database, "fl.sqlite3")), **(env or {}))
        # The server's log (a line per request and per round) goes to a file: a pipe that
        # nobody reads fills up after ~64 kB and then blocks the server.
        self.log_path = os.path.join(self.database, "server.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fl"], cwd=REPO, env=env,
            stdout=subprocess.DEVNULL, stderr=self.log,
        )
        self._wait_ready()

    def log_text(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    def _wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited: " + self.log_text())
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not answer /api/health in time")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.database, ignore_errors=True)


def dist_without(tmp_path, relative):
    """A copy of ``dist/`` (symlinks, so it is cheap) with one file left out."""
    target = tmp_path / "dist"
    for source in DIST.rglob("*"):
        if source.is_dir() or source.relative_to(DIST).as_posix() == relative:
            continue
        link = target / source.relative_to(DIST)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source)
    return target


@pytest.fixture(scope="session")
def server():
    if not (DIST / "index.html").is_file():
        pytest.fail("dist/ is not built: run `make build` (make test does it first)")
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def launch_other(browser, extra_args, drop_args=()):
    """Another Chromium from the same Playwright, with other flags (e.g. WebGPU on)."""
    args = [a for a in CHROMIUM_ARGS if a not in drop_args] + list(extra_args)
    return browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)


def open_page(browser, url, **context_options):
    """Open ``url`` in a fresh context (``context_options``: Playwright's, e.g.
    ``bypass_csp``) and wait until the page is ready or shows an error."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.goto(url)
    wait_ready(page)
    return page


def wait_ready(page):
    """Wait until the page exposes ``window.tinybert`` or reports why it could not start, and
    until a downloaded model file is in the cache (written in the background after start-up),
    so that a reload finds it there."""
    page.wait_for_function(
        "() => window.tinybert !== undefined || window.tinybertError !== undefined",
        timeout=PAGE_READY_MS,
    )
    deadline = time.monotonic() + PAGE_READY_MS / 1000
    while not page.evaluate("""async () => window.tinybertError !== undefined
            || (await window.tinybert.stats()).timings.stages.model_cached !== undefined"""):
        if time.monotonic() > deadline:
            raise TimeoutError("the model file was not cached within the page-ready timeout")
        time.sleep(0.05)


@pytest.fixture()
def page(browser, server):
    """A fresh page (a context of its own) on the shared server, closed after the test."""
    page = open_page(browser, server.url + "/")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def app_page(browser, server):
    """One ready page shared by a module's tests (loading the model takes seconds)."""
    page = open_page(browser, server.url + "/")
    error = page.evaluate("() => window.tinybertError || null")
    assert error is None, error
    yield page
    page.context.close()
