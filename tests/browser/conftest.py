"""Browser fixtures: the real server over HTTP and Debian's Chromium driven by Playwright."""
from tests.support.browser import app_page, browser, page, server  # noqa: F401  (fixtures)
