"""Module Web Worker that tokenises off the main thread.

Messages in: ``{"id": n, "op": "init", "config": tokenizer.json object, "max_length": m}`` and
``{"id": n, "op": "encode", "text": str}``. Messages out: ``{"id": n, "ids": [...]}`` or
``{"id": n, "error": message}``. Requests are answered in order.
"""
from services.errors import describe
from tinybert_core.tokenizer import Tokenizer, config_from_tokenizer_json

state = {"tokenizer": None}


def handle(request):
    """Answer one request; return the reply message (never raises)."""
    try:
        if request["op"] == "init":
            config = config_from_tokenizer_json(request["config"], request["max_length"])
            state["tokenizer"] = Tokenizer(config)
            return {"id": request["id"], "ids": []}
        if request["op"] == "encode":
            if state["tokenizer"] is None:
                return {"id": request["id"], "error": "The tokenizer is not initialised yet."}
            return {"id": request["id"], "ids": state["tokenizer"].encode(request["text"])}
        return {"id": request["id"], "error": "Unknown request: " + str(request["op"])}
    except:  # noqa: E722 - report JS and Python errors alike
        return {"id": request["id"], "error": describe(__except0__)}


def on_message(event):
    globalThis.postMessage(handle(event.data))


globalThis.onmessage = on_message
