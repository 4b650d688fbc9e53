"""Requests to the federation server's API: retries on network failures and server errors,
the server's refusals as ``ServerRefusal`` in its own words.

Network failures and 5xx answers are tried again (``settings.RETRIES`` tries, pauses growing
by ``settings.RETRY_PAUSE_MS``). A 429 (the server's rate limit) is tried again after the
seconds its ``Retry-After`` asks for, when that is at most ``settings.RATE_LIMIT_WAIT_S``;
the page is told first (``set_wait_listener``), so that it can say why nothing happens.
Any other 4xx is final.
"""
from services.errors import AppError, describe
from settings import API_BASE, RATE_LIMIT_WAIT_S, RETRIES, RETRY_PAUSE_MS

_listeners = {"wait": None}


def set_wait_listener(listener):
    """``listener(message)`` is called before the page waits out a rate limit."""
    _listeners["wait"] = listener


def retry_after_seconds(value):
    """Seconds of a Retry-After header (a number of seconds; a date or nothing: 1)."""
    if not value:
        return 1
    seconds = Number(value)
    if not Number.isFinite(seconds) or seconds < 0:
        return 1
    return Math.ceil(seconds)


def headers(pairs):
    """A fetch Headers object (a Python dict is not one: fetch would iterate it)."""
    out = __new__(Headers())
    for pair in pairs:
        out.append(pair[0], pair[1])
    return out


def sleep(millis):
    return __new__(Promise(lambda resolve: setTimeout(resolve, millis)))


class ServerRefusal(AppError):
    """The server answered with an error: ``status``, ``code`` and its ``detail``."""

    def __init__(self, status, code, detail):
        AppError.__init__(self, "The federation server refused: " + detail + " (" + code + ").")
        self.status = status
        self.code = code


async def request(path, options):
    """fetch() with retries on network failure; returns the Response, raises on an error status."""
    last = ""
    for attempt in range(RETRIES):
        try:
            response = await fetch(API_BASE + path, options)
        except:  # noqa: E722 - a JS TypeError when the server is unreachable
            last = describe(__except0__)
            await sleep(RETRY_PAUSE_MS * (attempt + 1))
            continue
        if response.ok:
            return response
        code = "http_" + str(response.status)
        detail = response.statusText
        try:
            body = await response.json()
            code = body.error
            detail = body.detail
        except:  # noqa: E722 - not a JSON error body
            pass
        if response.status >= 500 and attempt < RETRIES - 1:
            await sleep(RETRY_PAUSE_MS * (attempt + 1))
            continue
        if response.status == 429 and attempt < RETRIES - 1:
            wait = retry_after_seconds(response.headers.js_get("Retry-After"))
            if wait <= RATE_LIMIT_WAIT_S:
                if _listeners["wait"] is not None:
                    _listeners["wait"]("The federation server asks this page to slow down "
                                       + "(too many requests): trying again in " + str(wait)
                                       + " s.")
                await sleep(wait * 1000)
                continue
        raise ServerRefusal(response.status, code, detail)
    raise AppError("Cannot reach the federation server (" + last + "). Check that it runs and "
                   + "try again; your examples and models are safe in this browser.")


async def json_request(path, options):
    response = await request(path, options)
    return await response.json()


def auth_headers(token, content_type):
    """Headers of an authenticated request (``content_type`` None for none)."""
    pairs = [["Authorization", "Bearer " + token]]
    if content_type is not None:
        pairs.append(["Content-Type", content_type])
    return headers(pairs)
