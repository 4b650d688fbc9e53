"""Module Web Worker that tokenises off the main thread.

Messages in: ``{"id": n, "op": "init", "url": absolute URL of tokenizer.json, "max_length":
m}`` and ``{"id": n, "op": "encode", "text": str}``. Messages out: ``{"id": n, "ids": [...]}``
or ``{"id": n, "error": message}``. Requests are answered in order (an encode sent before the
init has finished waits for it).

The worker fetches and parses tokenizer.json itself: the page's thread never holds the parsed
file (about 5 MB of JS objects) nor copies it into the worker.
"""
from services.errors import describe
from tinybert_core.tokenizer import Tokenizer, config_from_tokenizer_json

state = {"tokenizer": None, "tail": Promise.resolve(None)}


async def _init(url, max_length):
    try:
        response = await fetch(url)
    except:  # noqa: E722 - a JS TypeError for network failures
        raise Exception("Could not fetch " + url + ": " + describe(__except0__)
                        + ". Is the server running?")
    if not response.ok:
        raise Exception("Model file " + url + " is missing (HTTP " + str(response.status)
                        + "). Build the model with `make model` (`make run` builds it first).")
    config = config_from_tokenizer_json(await response.json(), max_length)
    state["tokenizer"] = Tokenizer(config)
    return None


async def handle(request):
    """Answer one request; return the reply message (never raises)."""
    try:
        if request["op"] == "init":
            await _init(request["url"], request["max_length"])
            return {"id": request["id"], "ids": []}
        if request["op"] == "encode":
            if state["tokenizer"] is None:
                return {"id": request["id"], "error": "The tokenizer is not initialised yet."}
            return {"id": request["id"], "ids": state["tokenizer"].encode(request["text"])}
        return {"id": request["id"], "error": "Unknown request: " + str(request["op"])}
    except:  # noqa: E722 - report JS and Python errors alike
        return {"id": request["id"], "error": describe(__except0__)}


def on_message(event):
    request = event.data
    # One request at a time, in order: an encode waits for a running init.
    state["tail"] = state["tail"].then(lambda ignored: handle(request)).then(
        lambda reply: globalThis.postMessage(reply))


globalThis.onmessage = on_message
