"""Fetching the model's files from the server, with errors that say which file and what to do."""
from services.errors import AppError, describe
from settings import MODEL_BASE

BUILD_HINT = "Build the model with `make model` (`make run` builds it first)."


async def fetch_model_file(name, options):
    """The Response for ``model/<name>`` (fetch ``options`` or None); raise AppError saying
    which file is missing and how to build it, or that the server is unreachable."""
    url = MODEL_BASE + name
    try:
        response = await fetch(url, options if options is not None else {})
    except:  # noqa: E722 - a JS TypeError for network failures
        raise AppError("Could not fetch " + url + ": " + describe(__except0__)
                       + ". Is the server running?")
    if not response.ok:
        raise AppError("Model file " + url + " is missing (HTTP " + str(response.status)
                       + "). " + BUILD_HINT)
    return response


async def fetch_json(name):
    """Return the parsed JSON file ``model/<name>``; raise AppError if missing or malformed."""
    response = await fetch_model_file(name, None)
    try:
        return await response.json()
    except:  # noqa: E722
        raise AppError("Model file " + MODEL_BASE + name + " is not valid JSON. " + BUILD_HINT)


async def fetch_bytes(name):
    """Return the bytes of ``model/<name>`` as a Uint8Array; raise AppError if missing."""
    response = await fetch_model_file(name, None)
    kind = response.headers.js_get("content-type")
    if kind is not None and kind.startswith("text/html"):
        raise AppError("Model file " + MODEL_BASE + name + " was answered with a web page, not "
                       + "the file. " + BUILD_HINT)
    buffer = await response.arrayBuffer()
    return __new__(Uint8Array(buffer))
