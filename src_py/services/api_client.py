"""Requests to the federation server's API: retries on network failures and server errors,
the server's refusals as ``ServerRefusal`` in its own words.

Network failures and 5xx answers are tried again (``settings.RETRIES`` tries, pauses growing
by ``settings.RETRY_PAUSE_MS``); a 4xx is final.
"""
from services.errors import AppError, describe
from settings import API_BASE, RETRIES, RETRY_PAUSE_MS


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
